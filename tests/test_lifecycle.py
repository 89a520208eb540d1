"""Lifecycle: event loops that close under a channel, Ctrl-C, interpreter exit.

- A receiver's loop closes (not through ``asyncio.run``, so its parked task
  is never cancelled) while a sender thread is blocked, or before a thread
  sends: no crash, no hang; blocked senders finish when room comes or the
  receiver goes, with the item handed back; the receiver stays usable.
- A sender's loop closes while its send is parked: the senders queued
  behind it are still woken.
- SIGINT from a parent process, beyond the single calls of test_signals.py:
  a main thread interrupted part way through ``blocking_send_many`` or while
  other threads wait on the same channel, and ``asyncio.run`` interrupted
  with tasks parked on a channel.
- Interpreter exit with producer threads (and tasks on a loop in a thread)
  still blocked exits cleanly: exit code 0 and nothing on stderr.

Subprocess cases are POSIX only (signals) or portable (exit); every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from support import (
    WAIT,
    child_env,
    interrupt_child,
    park_briefly,
    park_on_closed_loop,
    posix_only,
)

from ringchan._errors import Closed

# --- the receiver's loop closes ----------------------------------------------


def test_blocked_sender_thread_outlives_the_receivers_closed_loop(
    chan_module: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop], spawn: Any
) -> None:
    tx, rx = chan_module.channel(2)
    loop = loop_factory()

    async def consume_one() -> Any:
        return await rx.recv()

    blocked = spawn(lambda: tx.blocking_send_many(range(5), timeout=WAIT))
    assert loop.run_until_complete(asyncio.wait_for(consume_one(), WAIT)) == 0
    loop.close()  # the receiver's loop is gone; the sender thread is still blocked
    park_briefly()
    # The sender waits for room, not for a loop: a thread receiver gives it.
    got = [1, 2, 3, 4][: len(rx)]
    assert rx.blocking_recv_many(4, timeout=WAIT) == got
    while len(got) < 4:
        got += rx.blocking_recv_many(4, timeout=WAIT)
    blocked.join()
    assert got == [1, 2, 3, 4]


def test_blocked_sender_thread_fails_when_the_receiver_goes_with_its_loop(
    chan_module: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop], spawn: Any
) -> None:
    tx, rx = chan_module.channel(1)
    receivers = [rx]
    del rx
    tx.try_send("fill")
    first = spawn(lambda: tx.blocking_send("first", timeout=WAIT))
    park_briefly()
    loop = loop_factory()

    async def consume_one() -> Any:
        return await receivers[0].recv()

    assert loop.run_until_complete(asyncio.wait_for(consume_one(), WAIT)) == "fill"
    first.join()  # the room went to the blocked thread
    blocked = spawn(lambda: tx.blocking_send("parked", timeout=WAIT))
    timed_out = spawn(lambda: tx.clone().blocking_send("timed", timeout=0.05))
    with pytest.raises(TimeoutError) as info:
        timed_out.join()
    assert info.value.item == "timed"  # type: ignore[attr-defined]
    loop.close()
    receivers.clear()  # the program drops the receiver with its loop
    gc.collect()
    with pytest.raises(Closed) as closed:
        blocked.join()
    assert closed.value.item == "parked"


def test_thread_sends_after_the_receivers_loop_closed_with_recv_parked(
    chan_module: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop], spawn: Any
) -> None:
    tx, rx = chan_module.channel(3)
    park_on_closed_loop(loop_factory, rx.recv)

    def produce() -> None:
        tx.blocking_send_many(range(3), timeout=WAIT)
        with pytest.raises(TimeoutError) as info:
            tx.blocking_send(3, timeout=0.02)  # full, and nobody receiving
        assert info.value.item == 3  # type: ignore[attr-defined]

    spawn(produce).join()
    assert len(rx) == 3

    async def receive_all() -> list[Any]:
        got = [await rx.recv()]
        got += await rx.recv_many(5)
        tx.close()
        return got + [item async for item in rx]

    new_loop = loop_factory()
    try:
        assert new_loop.run_until_complete(asyncio.wait_for(receive_all(), WAIT)) == [0, 1, 2]
    finally:
        new_loop.close()


def test_receiver_parked_on_a_closed_loop_can_wait_again_on_a_new_one(
    chan_module: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop], spawn: Any
) -> None:
    """The task parked on the closed loop can never run again, so it must not
    keep the single-consumer slot: a new loop's receive waits and gets the
    next item."""
    tx, rx = chan_module.channel(2)
    park_on_closed_loop(loop_factory, rx.recv)
    gc.collect()

    async def receive_later() -> Any:
        task = asyncio.ensure_future(rx.recv())
        for _ in range(5):
            await asyncio.sleep(0)
        spawn(lambda: tx.blocking_send("next", timeout=WAIT))
        return await asyncio.wait_for(task, WAIT)

    new_loop = loop_factory()
    try:
        assert new_loop.run_until_complete(receive_later()) == "next"
    finally:
        new_loop.close()


# --- a sender's loop closes --------------------------------------------------


def test_senders_behind_a_send_parked_on_a_closed_loop_are_woken(
    chan_module: Any, loop_factory: Callable[[], asyncio.AbstractEventLoop], spawn: Any
) -> None:
    """Room freed by the receiver must reach a sender that can use it, not be
    spent waking a send whose loop can never run again."""
    tx, rx = chan_module.channel(1)
    tx.try_send("fill")
    park_on_closed_loop(loop_factory, lambda: tx.send("on closed loop"))
    gc.collect()
    # Its own time limit is well past the join's: a lost wake-up shows.
    behind = spawn(lambda: tx.blocking_send("behind", timeout=3 * WAIT))
    park_briefly()
    try:
        assert rx.blocking_recv(timeout=WAIT) == "fill"
        behind.join(WAIT)
    finally:
        rx.close()  # releases a sender left blocked
    assert rx.try_recv_many(5) == ["behind"]


# --- SIGINT ----------------------------------------------------------------------

SEND_MANY_CHILD = textwrap.dedent(
    """
    import importlib, sys

    mod = importlib.import_module(sys.argv[1])
    tx, rx = mod.channel(3)
    tx.try_send("fill")
    print("ready", flush=True)
    try:
        tx.blocking_send_many(["a", "b", "c", "d"])
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    # What went in is a prefix of the items, after what was there; no more.
    assert rx.try_recv_many(10) == ["fill", "a", "b"], "buffer"
    tx.blocking_send_many(["c", "d"], timeout=5)
    assert rx.blocking_recv_many(10, timeout=5) == ["c", "d"]
    print("usable", flush=True)
    """
)


@posix_only
def test_sigint_part_way_through_blocking_send_many(chan_module: Any) -> None:
    code, out, err = interrupt_child(SEND_MANY_CHILD, chan_module.__name__)
    assert out.split() == ["ready", "interrupted", "usable"], (out, err)
    assert code == 0 and err == "", (code, err)


OTHERS_WAITING_CHILD = textwrap.dedent(
    """
    import importlib, sys, threading

    mod = importlib.import_module(sys.argv[1])
    tx, rx = mod.channel(1)
    tx.try_send("fill")
    done = []
    other = threading.Thread(
        target=lambda: done.append(tx.clone().blocking_send("other", timeout=30)),
        daemon=True,
    )
    other.start()
    print("ready", flush=True)
    try:
        tx.blocking_send("main")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    # The room freed now must go to the thread still waiting.
    assert rx.blocking_recv(timeout=5) == "fill"
    other.join(5)
    assert done == [None], "the other sender was not woken"
    assert rx.blocking_recv(timeout=5) == "other"
    print("usable", flush=True)
    """
)


@posix_only
def test_sigint_in_main_thread_while_another_thread_waits(chan_module: Any) -> None:
    code, out, err = interrupt_child(OTHERS_WAITING_CHILD, chan_module.__name__)
    assert out.split() == ["ready", "interrupted", "usable"], (out, err)
    assert code == 0 and err == "", (code, err)


ASYNCIO_RUN_CHILD = textwrap.dedent(
    """
    import asyncio, importlib, sys

    mod = importlib.import_module(sys.argv[1])
    loop_kind = sys.argv[2]
    tx, rx = mod.channel(1)
    other_tx, other_rx = mod.channel(1)

    def new_loop():
        if loop_kind == "uvloop":
            import uvloop
            return uvloop.new_event_loop()
        return asyncio.new_event_loop()

    async def main():
        await tx.send("fill")
        parked = [
            asyncio.ensure_future(tx.send("parked")),
            asyncio.ensure_future(other_rx.recv()),
        ]
        await asyncio.sleep(0)
        print("ready", flush=True)
        await asyncio.gather(*parked)

    loop = new_loop()
    try:
        loop.run_until_complete(main())
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        # What asyncio.run does: cancel what is left, then close.
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()

    async def after():
        assert rx.try_recv_many(5) == ["fill"]
        await tx.send("after")
        other_tx.try_send("other")
        return [await rx.recv(), await other_rx.recv()]

    loop = new_loop()
    assert loop.run_until_complete(after()) == ["after", "other"]
    loop.close()
    print("usable", flush=True)
    """
)


@posix_only
def test_sigint_while_tasks_are_parked_on_a_loop(chan_module: Any, loop_factory: Any) -> None:
    kind = "uvloop" if "uvloop" in loop_factory.__module__ + loop_factory.__name__ else "asyncio"
    code, out, err = interrupt_child(ASYNCIO_RUN_CHILD, chan_module.__name__, kind)
    assert out.split() == ["ready", "interrupted", "usable"], (out, err)
    assert code == 0 and err == "", (code, err)


# --- interpreter exit ------------------------------------------------------------

EXIT_CHILD = textwrap.dedent(
    """
    import asyncio, importlib, sys, threading, time

    mod = importlib.import_module(sys.argv[1])
    case = sys.argv[2]

    full_tx, full_rx = mod.channel(1)
    full_tx.try_send("fill")
    empty_tx, empty_rx = mod.channel(1)
    threads = []

    def start(target, daemon=True):
        t = threading.Thread(target=target, daemon=daemon)
        t.start()
        threads.append(t)

    def closed_ends(call):
        def run():
            try:
                call()
            except mod_closed:
                pass
        return run

    from ringchan._errors import Closed as mod_closed

    if case == "daemon-producers":
        for _ in range(4):
            start(lambda: full_tx.clone().blocking_send("x"))
        start(lambda: full_tx.clone().blocking_send_many(["y", "z"], timeout=3600))
        start(lambda: empty_rx.blocking_recv())
    elif case == "daemon-loop-tasks":
        async def parked():
            await asyncio.gather(full_tx.clone().send("x"), empty_rx.recv())
        start(lambda: asyncio.run(parked()))
    elif case == "receiver-dropped-at-exit":
        # Only module globals hold the receivers: they go at interpreter exit,
        # failing the blocked threads there.
        for _ in range(3):
            start(closed_ends(lambda: full_tx.clone().blocking_send("x")))
    elif case == "closed-before-exit":
        for _ in range(3):
            start(closed_ends(lambda: full_tx.clone().blocking_send("x")), daemon=False)
        start(closed_ends(lambda: empty_rx.blocking_recv()), daemon=False)
    else:
        raise SystemExit("unknown case " + case)

    deadline = time.monotonic() + 5
    while len(full_tx.clone()) != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # let them park
    if case == "closed-before-exit":
        full_rx.close()
        empty_tx.close()
    print("exiting", flush=True)
    """
)


@pytest.mark.parametrize(
    "case",
    ["daemon-producers", "daemon-loop-tasks", "receiver-dropped-at-exit", "closed-before-exit"],
)
def test_interpreter_exits_cleanly_with_threads_blocked(chan_module: Any, case: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD, chan_module.__name__, case],
        capture_output=True,
        text=True,
        timeout=3 * WAIT,
        env=child_env(),
    )
    assert result.stdout.split() == ["exiting"], (result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
