"""Model-based tests: hypothesis drives random sequences of operations on a
channel and checks each result against a plain model (a deque, a count of
open senders, a closed flag).  Both implementations are checked against the
same model, so they behave alike.

The operations are those that do not wait, plus ``send``, ``send_many``,
``recv`` and ``recv_many`` run on an event loop and cancelled if they wait:
the model knows exactly what such an operation does before it parks.
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ringchan import _messages
from ringchan._errors import Closed, Empty, Full

items_st = st.integers(-5, 1000)
picks = st.integers(0, 1 << 16)


def outcome(func: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """("ok", result) or ("raised", type, message, .item) for comparison."""
    try:
        result = func(*args)
    except Exception as exc:
        return ("raised", type(exc), str(exc), getattr(exc, "item", None))
    return ("ok", result)


def closed(message: str, item: Any = None) -> tuple[Any, ...]:
    return ("raised", Closed, message, item)


def machine_for(
    module: Any, make_loop: Callable[[], asyncio.AbstractEventLoop], steps: list[int]
) -> type:
    """A state machine class driving *module*'s channel on loops from *make_loop*.

    ``steps`` counts the sequences run and the operations checked.
    """

    class ChannelMachine(RuleBasedStateMachine):
        """One channel, its sender handles and receiver, and the model of them."""

        def __init__(self) -> None:
            super().__init__()
            self.loop = make_loop()
            self.tx: list[Any] = []
            self.tx_closed: list[bool] = []
            self.rx: Any = None
            self.capacity = 0
            self.buf: deque[int] = deque()
            self.rx_closed = False

        @initialize(capacity=st.integers(1, 6))
        def create(self, capacity: int) -> None:
            tx, self.rx = module.channel(capacity)
            self.tx, self.tx_closed = [tx], [False]
            self.capacity = capacity

        def teardown(self) -> None:
            self.loop.close()
            steps[0] += 1

        # --- the model ---------------------------------------------------

        @property
        def senders(self) -> int:
            return self.tx_closed.count(False)

        def refusal(self, i: int) -> str | None:
            if self.tx_closed[i]:
                return _messages.SENDER_CLOSED
            if self.rx_closed:
                return _messages.RECEIVER_CLOSED
            return None

        def ended(self) -> str | None:
            if self.buf:
                return None
            if self.rx_closed:
                return _messages.ENDED_BY_RECEIVER
            if self.senders == 0:
                return _messages.ENDED_BY_SENDERS
            return None

        def room(self) -> int:
            return self.capacity - len(self.buf)

        def take(self, count: int) -> list[int]:
            return [self.buf.popleft() for _ in range(min(count, len(self.buf)))]

        def run(self, make: Callable[[], Any]) -> tuple[Any, ...]:
            """Run an awaitable until it finishes or parks; a parked one is cancelled."""

            async def attempt() -> Any:
                task = asyncio.ensure_future(make())
                for _ in range(3):
                    await asyncio.sleep(0)
                if not task.done():
                    task.cancel()
                await asyncio.wait({task})
                if task.cancelled():
                    return "parked"
                return task.result()

            return outcome(self.loop.run_until_complete, attempt())

        # --- sends ---------------------------------------------------------

        @rule(pick=picks, item=items_st)
        def try_send(self, pick: int, item: int) -> None:
            i = pick % len(self.tx)
            refusal = self.refusal(i)
            if refusal:
                expected = closed(refusal, item)
            elif not self.room():
                expected = ("raised", Full, _messages.full(self.capacity), item)
            else:
                self.buf.append(item)
                expected = ("ok", None)
            assert outcome(self.tx[i].try_send, item) == expected

        @rule(pick=picks, items=st.lists(items_st, max_size=8), kind=st.sampled_from([list, tuple]))
        def try_send_many(self, pick: int, items: list[int], kind: type) -> None:
            i = pick % len(self.tx)
            refusal = self.refusal(i)
            if refusal:
                expected = closed(refusal, list(items))
            else:
                count = min(self.room(), len(items))
                self.buf.extend(items[:count])
                expected = ("ok", count)
            assert outcome(self.tx[i].try_send_many, kind(items)) == expected

        @rule(pick=picks, item=items_st)
        def send(self, pick: int, item: int) -> None:
            i = pick % len(self.tx)
            refusal = self.refusal(i)
            if refusal:
                expected = closed(refusal, item)
            elif self.room():
                self.buf.append(item)
                expected = ("ok", None)
            else:
                expected = ("ok", "parked")  # cancelled while waiting: not sent
            assert self.run(lambda: self.tx[i].send(item)) == expected

        @rule(pick=picks, items=st.lists(items_st, max_size=8))
        def send_many(self, pick: int, items: list[int]) -> None:
            i = pick % len(self.tx)
            refusal = self.refusal(i)
            op = self.tx[i].send_many(iter(items))
            if refusal:
                expected = closed(refusal, list(items))
                sent = 0
            else:
                sent = min(self.room(), len(items))
                self.buf.extend(items[:sent])
                expected = ("ok", None if sent == len(items) else "parked")
            assert self.run(lambda: op) == expected
            assert op.sent == sent

        @rule(pick=picks, item=items_st, timeout=st.sampled_from([0, 0.0, 1e-9]))
        def blocking_send(self, pick: int, item: int, timeout: float) -> None:
            i = pick % len(self.tx)
            refusal = self.refusal(i)
            got = outcome(self.tx[i].blocking_send, item, timeout)
            if refusal:
                assert got == closed(refusal, item)
            elif self.room():
                self.buf.append(item)
                assert got == ("ok", None)
            else:
                assert got[:2] == ("raised", TimeoutError) and got[3] == item, got

        # --- receives ------------------------------------------------------

        @rule()
        def try_recv(self) -> None:
            end = self.ended()
            if self.buf:
                expected = ("ok", self.buf.popleft())
            elif end:
                expected = closed(end)
            else:
                expected = ("raised", Empty, _messages.EMPTY, None)
            assert outcome(self.rx.try_recv) == expected

        @rule(max_items=st.integers(1, 8))
        def try_recv_many(self, max_items: int) -> None:
            end = self.ended()
            expected = closed(end) if end else ("ok", self.take(max_items))
            assert outcome(self.rx.try_recv_many, max_items) == expected

        @rule()
        def recv(self) -> None:
            end = self.ended()
            if self.buf:
                expected = ("ok", self.buf.popleft())
            elif end:
                expected = closed(end)
            else:
                expected = ("ok", "parked")  # cancelled while waiting: took nothing
            assert self.run(self.rx.recv) == expected

        @rule(max_items=st.integers(1, 8))
        def recv_many(self, max_items: int) -> None:
            end = self.ended()
            if self.buf:
                expected = ("ok", self.take(max_items))
            elif end:
                expected = closed(end)
            else:
                expected = ("ok", "parked")
            assert self.run(lambda: self.rx.recv_many(max_items)) == expected

        @rule(max_items=st.integers(1, 8))
        def blocking_recv_many(self, max_items: int) -> None:
            end = self.ended()
            got = outcome(self.rx.blocking_recv_many, max_items, 0)
            if self.buf:
                assert got == ("ok", self.take(max_items))
            elif end:
                assert got == closed(end)
            else:
                assert got[:2] == ("raised", TimeoutError), got

        # --- handles -------------------------------------------------------

        @rule(pick=picks)
        def clone(self, pick: int) -> None:
            i = pick % len(self.tx)
            got = outcome(self.tx[i].clone)
            if self.tx_closed[i]:
                assert got == ("raised", Closed, _messages.CLONE_CLOSED, None)
                return
            assert got[0] == "ok" and isinstance(got[1], module.Sender)
            self.tx.append(got[1])
            self.tx_closed.append(False)

        @rule(pick=picks)
        def close_sender(self, pick: int) -> None:
            i = pick % len(self.tx)
            self.tx[i].close()
            self.tx_closed[i] = True

        @precondition(lambda self: len(self.tx) > 1)
        @rule(pick=picks)
        def drop_sender(self, pick: int) -> None:
            i = pick % len(self.tx)
            del self.tx[i]
            del self.tx_closed[i]  # an open handle closes as it is freed

        @rule()
        def close_receiver(self) -> None:
            self.rx.close()
            self.rx_closed = True

        # --- what must always hold -----------------------------------------

        @invariant()
        def state_matches(self) -> None:
            if self.rx is None:
                return
            steps[1] += 1
            gc.collect(0)  # a dropped handle is closed once it is freed
            assert len(self.rx) == len(self.buf)
            assert self.rx.capacity == self.capacity
            assert self.rx.is_closed == (self.rx_closed or self.senders == 0)
            for tx, was_closed in zip(self.tx, self.tx_closed, strict=True):
                assert len(tx) == len(self.buf)
                assert tx.is_closed == (was_closed or self.rx_closed)

    return ChannelMachine


# The free-threaded 3.13 interpreter runs Python code without specialization,
# several times slower: hypothesis' examples take half a minute there.
@pytest.mark.timeout(240)
def test_channel_matches_the_model(
    chan_module: Any,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    tally: Callable[[str, int], None],
) -> None:
    counts = [0, 0]  # sequences, steps
    machine = machine_for(chan_module, loop_factory, counts)
    run_state_machine_as_test(machine, settings=settings(settings.default, stateful_step_count=40))
    tally("model: operation sequences checked", counts[0])
    tally("model: operations checked", counts[1])
