"""Which implementation ``import ringchan`` selects, and what it exports.

Run in subprocesses so that the environment variable is read afresh.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from support import child_env

#: Bound on one child interpreter importing ringchan.
SUBPROCESS_WAIT = 30.0

CHECK = textwrap.dedent(
    """
    import sys
    import ringchan
    from ringchan import _errors

    expected = sys.argv[1]
    impl = __import__("ringchan." + expected, fromlist=["channel"])
    assert ringchan.COMPILED is (expected == "_channel_c"), ringchan.COMPILED
    assert ringchan.channel is impl.channel
    assert ringchan.Sender is impl.Sender
    assert ringchan.Receiver is impl.Receiver
    assert ringchan.oneshot is impl.oneshot
    assert ringchan.from_iterable is impl.from_iterable
    assert ringchan.unbounded_channel is impl.unbounded_channel
    assert ringchan.Permit is impl.Permit
    assert ringchan.WeakSender is impl.WeakSender
    for name in ("ChannelError", "Closed", "Empty", "Full"):
        assert getattr(ringchan, name) is getattr(_errors, name), name
    assert ringchan.MAX_CAPACITY == 1 << 26
    assert set(ringchan.__all__) >= {
        "COMPILED", "MAX_CAPACITY", "ChannelError", "Closed", "Empty", "Full",
        "Receiver", "Sender", "channel", "oneshot", "from_iterable", "Batches",
        "Transaction", "ChannelStats", "OneshotSender", "OneshotReceiver",
        "unbounded_channel", "Permit", "WeakSender",
    }
    tx, rx = ringchan.channel(1)
    tx.try_send("ok")
    print(rx.try_recv())
    """
)


def _run(no_extensions: bool, expected: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHECK, expected],
        env=child_env(no_extensions),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_WAIT,
    )


def test_no_extensions_selects_the_pure_channel():
    proc = _run(True, "_channel_py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.mark.c_extension
def test_default_is_the_c_channel_and_never_a_silent_fallback():
    proc = _run(False, "_channel_c")
    assert proc.returncode == 0, (
        "import ringchan did not give the C channel (a failed build must be a "
        f"visible error, and it is):\n{proc.stderr}"
    )
    assert proc.stdout.strip() == "ok"


def test_command_line_version(capsys):
    import ringchan
    import ringchan.__main__

    with pytest.raises(SystemExit) as info:
        ringchan.__main__.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"ringchan {ringchan.__version__}\n"
