"""Ctrl-C: a main thread parked in a blocking call is interrupted by SIGINT
(KeyboardInterrupt) promptly, and the channel stays usable afterwards.

Each case runs in a subprocess, whose main thread blocks; the parent sends
it SIGINT once it is asleep.  Every wait is bounded.  POSIX only.
"""

from __future__ import annotations

import textwrap

import pytest
from support import interrupt_child, posix_only

pytestmark = posix_only

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
    code, out, err = interrupt_child(CHILD, chan_module.__name__, case)
    lines = out.split()
    assert "interrupted" in lines, (out, err)
    assert "usable" in lines, (out, err)
    assert code == 0, (code, out, err)
