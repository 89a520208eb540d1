"""Wake-ups that raise: event loops whose ``call_soon_threadsafe`` fails.

Waking a task parked on another thread's loop is a Python call, and it can
raise (a ``MemoryError``, a ``KeyboardInterrupt`` landing inside asyncio's
pure-Python ``call_soon_threadsafe``).  Whatever it raises, the channel
stays consistent:

- an operation that has moved its item has succeeded: a send whose item is
  in the channel returns normally, a receive returns the items it took;
- the failed wake-up is tried once more; if that fails too, the waiter
  stays registered (parked senders keep their place), the next operation
  on the channel wakes it, and neither side parks while the other is
  parked with work it could do;
- the error is reported through ``sys.unraisablehook``, since raising it
  would make a moved item look unmoved;
- nothing is lost or duplicated, and nothing hangs.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import WAIT
from test_stress import run_traffic
from traffic import Noise

from ringchan import Closed


class Faults:
    """Makes loops whose ``call_soon_threadsafe`` raises *error* on every
    *every*-th call (counted across all of them), and counts what it did."""

    def __init__(self, error: type[BaseException], every: int) -> None:
        self.error = error
        self.every = every
        self.calls = 0
        self.raised = 0
        self._lock = threading.Lock()

    def _fail_now(self) -> bool:
        with self._lock:
            self.calls += 1
            if self.calls % self.every:
                return False
            self.raised += 1
            return True

    def loop(self, make: Callable[[], asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
        loop = make()
        real = loop.call_soon_threadsafe

        def call_soon_threadsafe(*args: Any, **kwargs: Any) -> Any:
            if self._fail_now():
                raise self.error("injected by the test")
            return real(*args, **kwargs)

        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
        return loop


def interrupts_fail(test: Callable[..., None]) -> Callable[..., None]:
    """An injected KeyboardInterrupt that escapes the channel fails the test
    instead of stopping the whole run."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            test(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise AssertionError("an injected KeyboardInterrupt escaped the channel") from exc

    return run


@pytest.fixture
def unraisable() -> Iterator[list[BaseException]]:
    """What ``sys.unraisablehook`` was given during the test."""
    seen: list[BaseException] = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda args: seen.append(args.exc_value)
    try:
        yield seen
    finally:
        sys.unraisablehook = old


ERRORS = [
    pytest.param(MemoryError, id="MemoryError"),
    pytest.param(KeyboardInterrupt, id="KeyboardInterrupt"),
]


# --- single steps ------------------------------------------------------------


@pytest.mark.parametrize("error", ERRORS)
@interrupts_fail
def test_send_whose_wake_fails_once_still_delivers(
    chan_module: Any, loop_factory: Any, spawn: Any, unraisable: list[BaseException], error: Any
) -> None:
    faults = Faults(error, every=1)
    loop = faults.loop(loop_factory)
    tx, rx = chan_module.channel(4)

    async def consume() -> Any:
        faults.every = 1 << 30
        item = rx.recv()
        got = asyncio.ensure_future(item)
        while not rx._parked()[1]:
            await asyncio.sleep(0)
        faults.every, faults.calls = 2, 1  # the next wake-up fails, the retry gets through
        spawn(tx.blocking_send, "v").join()
        return await asyncio.wait_for(got, WAIT)

    try:
        assert loop.run_until_complete(consume()) == "v"
    finally:
        loop.close()
    assert faults.raised >= 1
    assert [type(e) for e in unraisable] == [error]


@pytest.mark.parametrize("error", ERRORS)
@interrupts_fail
def test_receiver_stays_registered_when_every_wake_fails(
    chan_module: Any, loop_factory: Any, spawn: Any, unraisable: list[BaseException], error: Any
) -> None:
    """Both tries fail: the send still succeeded, and the receiver, still
    registered, is woken by the next send."""
    faults = Faults(error, every=1 << 30)
    loop = faults.loop(loop_factory)
    tx, rx = chan_module.channel(4)

    async def consume() -> Any:
        got = asyncio.ensure_future(rx.recv_many(10))
        while not rx._parked()[1]:
            await asyncio.sleep(0)
        faults.every, faults.calls = 1, 0
        spawn(tx.blocking_send, "first").join()
        assert rx._parked()[1], "the receiver must still be registered"
        assert len(rx) == 1
        faults.every = 1 << 30
        spawn(tx.blocking_send, "second").join()
        return await asyncio.wait_for(got, WAIT)

    try:
        assert loop.run_until_complete(consume()) == ["first", "second"]
    finally:
        loop.close()
    assert faults.raised == 2
    assert [type(e) for e in unraisable] == [error]


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize(
    "way", ["try_recv", "try_recv_many", "blocking_recv", "blocking_recv_many"]
)
@interrupts_fail
def test_receive_whose_wakes_fail_still_returns_its_items(
    chan_module: Any,
    loop_factory: Any,
    spawn: Any,
    unraisable: list[BaseException],
    error: Any,
    way: str,
) -> None:
    """Both tries to wake the parked senders fail: the receive returns what
    it took all the same, the senders stay parked in order, and the next
    receive wakes them."""
    faults = Faults(error, every=1 << 30)
    loop = faults.loop(loop_factory)
    tx, rx = chan_module.channel(2)
    tx.try_send(0)
    tx.try_send(1)
    started = threading.Event()

    async def produce() -> None:
        started.set()
        await asyncio.gather(tx.send(2), tx.send(3))

    producer = spawn(loop.run_until_complete, produce())
    try:
        started.wait(WAIT)
        deadline = 0
        while rx._parked()[0] < 2:
            deadline += 1
            assert deadline < 100_000, "senders did not park"
            threading.Event().wait(0.0001)
        faults.every, faults.calls = 1, 0
        receive = {
            "try_recv": lambda: rx.try_recv(),
            "try_recv_many": lambda: rx.try_recv_many(2),
            "blocking_recv": lambda: rx.blocking_recv(timeout=WAIT),
            "blocking_recv_many": lambda: rx.blocking_recv_many(2, timeout=WAIT),
        }[way]
        first = receive()
        got = list(first) if isinstance(first, list) else [first]
        assert rx._parked()[0] == 2
        faults.every = 1 << 30
        while len(got) < 4:
            got.append(rx.blocking_recv(timeout=WAIT))
        producer.join()
    finally:
        rx.close()
        producer.thread.join(WAIT)
        loop.close()
    assert got == [0, 1, 2, 3]
    assert unraisable and all(type(e) is error for e in unraisable)


@pytest.mark.parametrize("error", ERRORS)
@interrupts_fail
def test_awaited_receive_whose_wakes_fail_still_returns_its_item(
    chan_module: Any, loop_factory: Any, spawn: Any, unraisable: list[BaseException], error: Any
) -> None:
    faults = Faults(error, every=1 << 30)
    sender_loop = faults.loop(loop_factory)
    tx, rx = chan_module.channel(1)
    tx.try_send("a")
    started = threading.Event()

    async def produce() -> None:
        started.set()
        await tx.send("b")

    producer = spawn(sender_loop.run_until_complete, produce())

    async def consume() -> list[Any]:
        started.wait(WAIT)
        while rx._parked()[0] < 1:
            await asyncio.sleep(0.0001)
        faults.every, faults.calls = 1, 0
        first = await rx.recv()
        assert rx._parked()[0] == 1
        faults.every = 1 << 30
        return [first, await rx.recv()]

    loop = loop_factory()
    try:
        assert loop.run_until_complete(asyncio.wait_for(consume(), WAIT)) == ["a", "b"]
        producer.join()
    finally:
        rx.close()
        producer.thread.join(WAIT)
        loop.close()
        sender_loop.close()
    assert [type(e) for e in unraisable] == [error]


@pytest.mark.parametrize("way", ["blocking_send", "blocking_send_many"])
def test_blocking_send_that_gets_in_after_parking_is_not_failed_by_a_close(
    chan_module: Any, loop_factory: Any, spawn: Any, unraisable: list[BaseException], way: str
) -> None:
    """A blocking send that parks, then finds room on its second look, has
    succeeded: its handle closed right after must not turn it into Closed.

    The wake-ups use the loop's Python code to order things: a receiver
    whose wake-ups fail stays registered and owed, so the send's park wakes
    it (room is made there), then the send's push wakes it again (the
    handle is closed there), all on the sending thread."""
    tx, rx = chan_module.channel(1)
    loop = loop_factory()
    real = loop.call_soon_threadsafe
    drained: list[Any] = []
    phase = ["fill"]

    def call_soon_threadsafe(*args: Any, **kwargs: Any) -> Any:
        if phase[0] == "send":
            if not drained:
                drained.append(rx.try_recv())  # room for the send's second look
            elif len(rx):
                phase[0] = "sent"
                tx.close()  # the send's item is in
                return real(*args, **kwargs)
        elif phase[0] == "sent":
            return real(*args, **kwargs)
        raise MemoryError("injected by the test")

    loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]

    def send() -> None:
        tx.try_send("filler")  # both wake-ups fail: the receiver stays owed
        phase[0] = "send"
        if way == "blocking_send":
            tx.blocking_send("item", timeout=WAIT)
        else:
            tx.blocking_send_many(["item"], timeout=WAIT)

    async def consume() -> Any:
        got = asyncio.ensure_future(rx.recv())
        while not rx._parked()[1]:
            await asyncio.sleep(0)
        sender = spawn(send)
        while sender.is_alive():
            await asyncio.sleep(0.001)
        sender.join()
        return await got

    try:
        assert loop.run_until_complete(asyncio.wait_for(consume(), WAIT)) == "item"
    finally:
        phase[0] = "sent"
        rx.close()
        loop.close()
    assert drained == ["filler"]
    assert tx.is_closed
    assert unraisable and all(type(e) is MemoryError for e in unraisable)


@pytest.mark.parametrize("way", ["blocking_send", "blocking_send_many"])
def test_receiver_closed_while_a_send_registers_fails_the_send(
    chan_module: Any, loop_factory: Any, spawn: Any, unraisable: list[BaseException], way: str
) -> None:
    """A receiver closed and drained between a blocking send's registration
    and its second look: the send fails with Closed and its item never
    enters the channel, although its second look finds room.

    The push itself refuses after the close (no flag checked beforehand can
    be stale), so this is the linearization of a close and a push, with the
    steps ordered by the loop's Python code: the receiver's wake-ups fail, so
    it stays registered and owed, and the send, once queued, wakes it; that
    wake-up closes and drains the channel, on the sending thread."""
    tx, rx = chan_module.channel(1)
    loop = loop_factory()
    real = loop.call_soon_threadsafe
    drained: list[Any] = []
    phase = ["fill"]

    def call_soon_threadsafe(*args: Any, **kwargs: Any) -> Any:
        if phase[0] == "send":
            phase[0] = "closed"
            rx.close()
            drained.append(rx.try_recv())  # room for the send's second look
        if phase[0] == "closed":
            return real(*args, **kwargs)
        raise MemoryError("injected by the test")

    loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]

    def send() -> Any:
        tx.try_send("filler")  # both wake-ups fail: the receiver stays owed
        phase[0] = "send"
        with pytest.raises(Closed) as refused:
            if way == "blocking_send":
                tx.blocking_send("late", timeout=WAIT)
            else:
                tx.blocking_send_many(["late"], timeout=WAIT)
        return refused.value

    async def consume() -> Any:
        got = asyncio.ensure_future(rx.recv())
        while not rx._parked()[1]:
            await asyncio.sleep(0)
        sender = spawn(send)
        while sender.is_alive():
            await asyncio.sleep(0.001)
        with pytest.raises(Closed):
            await got
        return sender.join()

    try:
        refused = loop.run_until_complete(asyncio.wait_for(consume(), WAIT))
    finally:
        phase[0] = "closed"
        rx.close()
        loop.close()
    assert drained == ["filler"]
    assert refused.item == ("late" if way == "blocking_send" else ["late"])
    assert len(rx) == 0 and rx.stats().sent == 1
    assert unraisable and all(type(e) is MemoryError for e in unraisable)


# --- the stress traffic, with faults -------------------------------------------


@pytest.mark.parametrize("error", ERRORS)
@pytest.mark.parametrize("every", [2, 5])
@pytest.mark.parametrize("consumer", ["task", "thread"])
@pytest.mark.parametrize("capacity", [1, 64])
@interrupts_fail
def test_stress_traffic_with_failing_wakeups(
    chan_module: Any,
    loop_factory: Any,
    spawn: Any,
    load: Any,
    seed: int,
    tally: Callable[[str, int], None],
    unraisable: list[BaseException],
    error: Any,
    every: int,
    consumer: str,
    capacity: int,
) -> None:
    faults = Faults(error, every)
    noise = Noise()
    new_loop = noise.factory(lambda: faults.loop(loop_factory), debug=False)
    ledger = run_traffic(chan_module, new_loop, spawn, load, seed, capacity, consumer, 1)

    totals = ledger.totals()
    problems = ledger.problems()
    tally("faults: runs", 1)
    tally("faults: items moved", totals["items received"])
    tally("faults: wake-ups that raised", faults.raised)
    tally("items lost, duplicated or reordered", sum(problems.values()))
    assert not any(problems.values()), problems
    assert totals["items received"] == totals["items sent"] > 0
    assert faults.raised > 0
    assert all(type(e) is error for e in unraisable), unraisable
    assert noise.reports == []
