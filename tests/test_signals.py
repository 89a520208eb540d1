"""Ctrl-C: a main thread parked in a blocking call is interrupted by SIGINT
(KeyboardInterrupt) promptly, and the channel stays usable afterwards.

Each case runs in a subprocess, whose main thread blocks; the parent sends
it SIGINT once it is asleep.  Every wait is bounded.  POSIX only.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT delivery to a child process is POSIX only"
)

WAIT = 10.0

CHILD = textwrap.dedent(
    """
    import importlib
    import sys

    mod = importlib.import_module(sys.argv[1])
    case = sys.argv[2]
    tx, rx = mod.channel(1)
    sending = "send" in case
    if sending:
        tx.try_send("fill")
    print("ready", flush=True)
    try:
        if case == "blocking_recv":
            rx.blocking_recv()
        elif case == "blocking_recv_timeout":
            rx.blocking_recv(timeout=300)
        elif case == "blocking_recv_many":
            rx.blocking_recv_many(4)
        elif case == "for_loop":
            for _ in rx:
                pass
        elif case == "blocking_send":
            tx.blocking_send("x")
        elif case == "blocking_send_timeout":
            tx.blocking_send("x", timeout=300)
        elif case == "blocking_send_many":
            tx.blocking_send_many(["x", "y"])
        else:
            raise SystemExit("unknown case " + case)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    else:
        print("returned without interruption", flush=True)
        sys.exit(3)

    # The interrupted call left no stale waiter behind.
    if sending:
        assert len(rx) == 1, len(rx)
        assert rx.try_recv() == "fill"
        tx.blocking_send("after", timeout=5)
        assert rx.blocking_recv(timeout=5) == "after"
    else:
        tx.try_send("after")
        assert rx.blocking_recv(timeout=5) == "after"
    tx.close()
    assert list(rx) == []
    print("usable", flush=True)
    """
)


def _src_dir(module) -> str:
    # .../src/ringchan/_channel_x.py -> .../src
    return os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))


def _sleeping(pid: int) -> bool:
    """True when the process is asleep in the kernel (Linux); True elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("S", "D")


@pytest.mark.parametrize(
    "case",
    [
        "blocking_recv",
        "blocking_recv_timeout",
        "blocking_recv_many",
        "for_loop",
        "blocking_send",
        "blocking_send_timeout",
        "blocking_send_many",
    ],
)
def test_sigint_interrupts_blocking_call_in_main_thread(chan_module, case):
    name = chan_module.__name__
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_src_dir(chan_module), env.get("PYTHONPATH")) if p
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, name, case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        readable, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert readable, "child did not start in time"
        first = proc.stdout.readline().strip()
        assert first == "ready", (first, proc.stderr.read() if proc.poll() is not None else "")
        # Let it enter the blocking call and fall asleep there.
        time.sleep(0.1)
        deadline = time.monotonic() + WAIT
        while not _sleeping(proc.pid):
            assert time.monotonic() < deadline, "child never went to sleep"
            time.sleep(0.01)
        assert proc.poll() is None, "child exited before the signal"
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case} was not interrupted by SIGINT within {WAIT}s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = out.split()
    assert "interrupted" in lines, (out, err)
    assert "usable" in lines, (out, err)
    assert proc.returncode == 0, (proc.returncode, out, err)
