"""Bad input: a clear exception, nothing partially sent, the channel still usable.

test_api.py checks the documented refusals (capacity, timeout, max_items)
value by value; here the items arguments of the ``*_many`` sends get the same
treatment (non-iterables, iterables and sequences that fail part way, a
sequence that uses the channel while it is read), and a hypothesis fuzz
target throws objects of every kind, including hostile ones, at every
argument of every method.  Only ``TypeError``, ``ValueError``,
``OverflowError``, a ringchan error or the input's own exception may come
out: never a crash, a hang or any other error.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import numbers
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, assume, given, settings
from support import WAIT

from ringchan._args import MAX_CAPACITY
from ringchan._errors import ChannelError


class Boom(Exception):
    """The error a hostile input raises itself."""


def raising_midway(good: int) -> Iterator[int]:
    """A generator that yields *good* items, then raises."""
    yield from range(good)
    raise Boom(f"after {good} items")


class FailingSequence(Sequence):  # type: ignore[type-arg]
    """A sequence of *length* items whose item *bad* cannot be read."""

    def __init__(self, length: int, bad: int) -> None:
        self.length, self.bad = length, bad

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.length))]
        if not 0 <= index < self.length:
            raise IndexError(index)
        if index == self.bad:
            raise Boom(f"item {index}")
        return index


class UnsizedSequence(FailingSequence):
    """A sequence whose length cannot be taken."""

    def __len__(self) -> int:
        raise Boom("no length")


def sends(tx: Any, items: Any, run: Callable[[Any], Any]) -> list[Callable[[], Any]]:
    """Every way to send *items* at once, each as a call."""
    return [
        lambda: tx.try_send_many(items),
        lambda: tx.blocking_send_many(items, timeout=WAIT),
        lambda: run(tx.send_many(items)),
    ]


SEND_MANY_WAYS = ["try_send_many", "blocking_send_many", "send_many"]


@pytest.mark.parametrize("way", range(3), ids=SEND_MANY_WAYS)
@pytest.mark.parametrize(
    "items",
    [3, None, 1.5, object(), len, Ellipsis],
    ids=["int", "None", "float", "object", "function", "Ellipsis"],
)
def test_non_iterable_items_are_a_type_error(
    chan_module: Any, run: Any, tally: Callable[[str, int], None], way: int, items: Any
) -> None:
    tx, rx = chan_module.channel(8)
    with pytest.raises(TypeError):
        sends(tx, items, run)[way]()
    tally("bad input: cases tried", 1)
    assert len(rx) == 0
    tx.try_send("still usable")
    assert rx.try_recv() == "still usable"


@pytest.mark.parametrize("good", [0, 1, 5])
@pytest.mark.parametrize("way", [1, 2], ids=SEND_MANY_WAYS[1:])
def test_iterable_failing_part_way_sends_nothing(
    chan_module: Any, run: Any, tally: Callable[[str, int], None], way: int, good: int
) -> None:
    tx, rx = chan_module.channel(3)  # smaller than what the iterable yields
    tx.try_send("before")
    with pytest.raises(Boom):
        sends(tx, raising_midway(good), run)[way]()
    tally("bad input: cases tried", 1)
    assert rx.try_recv_many(8) == ["before"]  # the iterable is read before anything is sent


def test_try_send_many_refuses_an_iterator(chan_module: Any) -> None:
    tx, rx = chan_module.channel(3)
    with pytest.raises(TypeError, match="sequence"):
        tx.try_send_many(raising_midway(2))
    assert len(rx) == 0


@pytest.mark.parametrize("bad", [0, 1, 4])
@pytest.mark.parametrize("way", range(3), ids=SEND_MANY_WAYS)
def test_sequence_failing_part_way_sends_nothing(
    chan_module: Any, run: Any, tally: Callable[[str, int], None], way: int, bad: int
) -> None:
    tx, rx = chan_module.channel(8)
    for items in (FailingSequence(6, bad), UnsizedSequence(6, bad)):
        with pytest.raises(Boom):
            sends(tx, items, run)[way]()
        tally("bad input: cases tried", 1)
        assert len(rx) == 0
    assert sends(tx, FailingSequence(6, 6), run)[way]() in (None, 6)  # all readable
    assert rx.try_recv_many(8) == list(range(6))


def meddling_send(tx: Any, rx: Any, way: int, run: Callable[[Any], Any], spawn: Any) -> None:
    """Send a sequence whose reading uses the channel; bounded, in a thread."""

    class Meddling(FailingSequence):
        def __len__(self) -> int:
            rx.try_recv_many(8)
            return super().__len__()

        def __getitem__(self, index: Any) -> Any:
            tx.clone().close()
            return super().__getitem__(index)

    # A channel lock held while reading the items would deadlock here.
    spawn(lambda: sends(tx, Meddling(3, 3), run)[way]()).join()
    assert rx.try_recv_many(8) == [0, 1, 2]


@pytest.mark.parametrize("way", range(2), ids=SEND_MANY_WAYS[:2])
def test_sequence_using_the_channel_while_read_does_not_hang(
    chan_module: Any, spawn: Any, way: int
) -> None:
    """Reading the items runs arbitrary code, which may use the channel."""
    tx, rx = chan_module.channel(8)
    meddling_send(tx, rx, way, lambda aw: None, spawn)


def test_sequence_using_the_channel_while_read_does_not_hang_send_many(
    chan_module: Any, run: Any, spawn: Any
) -> None:
    tx, rx = chan_module.channel(8)
    meddling_send(tx, rx, 2, run, spawn)


# --- fuzzing the whole argument surface ------------------------------------------


class HostileIndex:
    """An int-like whose ``__index__`` raises."""

    def __index__(self) -> int:
        raise Boom("__index__")


class WrongIndex:
    """An int-like whose ``__index__`` returns a float."""

    def __index__(self) -> Any:
        return 1.5


class HostileIterable:
    """An iterable whose ``__iter__`` raises."""

    def __iter__(self) -> Iterator[Any]:
        raise Boom("__iter__")


class HostileReal(numbers.Real):
    """A real number every operation of which raises."""

    def _boom(self, *args: Any) -> Any:
        raise Boom("HostileReal")

    __float__ = __trunc__ = __floor__ = __ceil__ = __round__ = _boom  # type: ignore[assignment]
    __add__ = __radd__ = __neg__ = __pos__ = __abs__ = _boom  # type: ignore[assignment]
    __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _boom  # type: ignore[assignment]
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _boom  # type: ignore[assignment]
    __pow__ = __rpow__ = __lt__ = __le__ = __eq__ = _boom  # type: ignore[assignment]
    __hash__ = object.__hash__


class SlowFloat(float):
    """A float subclass (accepted where a float is) with odd comparisons."""

    def __lt__(self, other: Any) -> bool:
        return float(self) < other


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(1 << 80), 1 << 80),
    st.floats(),
    st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 1e-320, 1e308, 2.0**63]),
    st.fractions(),
    st.just(fractions.Fraction(10**400, 3)),
    st.decimals(),
    st.complex_numbers(),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=6),
    st.tuples(st.integers(), st.text(max_size=2)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=3),
    st.sets(st.integers(), max_size=4),
    st.iterables(st.integers(), max_size=6),
    st.builds(range, st.integers(-3, 6)),
    st.builds(raising_midway, st.integers(0, 4)),
    st.builds(FailingSequence, st.integers(0, 6), st.integers(0, 6)),
    st.builds(SlowFloat, st.floats(0, 1)),
    st.sampled_from(
        [
            object(),
            int,
            float,
            type,
            Ellipsis,
            NotImplemented,
            len,
            HostileIndex(),
            WrongIndex(),
            HostileIterable(),
            HostileReal(),
        ]
    ),
    st.from_type(type).flatmap(st.from_type).filter(lambda v: not isinstance(v, type)),
)

METHODS = [
    "try_send",
    "try_send_many",
    "send",
    "send_many",
    "blocking_send",
    "blocking_send_many",
    "try_recv_many",
    "recv_many",
    "blocking_recv",
    "blocking_recv_many",
    "blocking_peek",
    "blocking_transaction",
    "batches",
    # reserve_many checks its count as try_reserve_many does; fuzzed, a
    # count of exactly the free room plus one would wait for room.
    "try_reserve_many",
    "blocking_reserve",
]

ALLOWED = (TypeError, ValueError, OverflowError, ChannelError, Boom)


def _too_big(value: Any) -> bool:
    """Whether a sized input would not fit in the fuzzed channel at once.

    A sequence too long for ``len()`` (a ``range`` past ``sys.maxsize``)
    counts too: the ``*_many`` methods read their items into a list, as
    ``list()`` would, and that only ends when memory runs out.
    """
    try:
        return len(value) > 32
    except OverflowError:
        return True
    except Exception:
        return False


def _huge_capacity(value: Any) -> bool:
    """A valid capacity that would allocate more than a test should."""
    try:
        number = operator.index(value)
    except Exception:
        return False
    return 4096 < number <= MAX_CAPACITY


@pytest.mark.timeout(300)
def test_fuzzed_arguments_give_clear_errors(
    chan_module: Any,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    tally: Callable[[str, int], None],
) -> None:
    loop = loop_factory()
    tried = [0, 0]  # calls, refused with an error

    def run(awaitable: Any) -> Any:
        return loop.run_until_complete(asyncio.wait_for(awaitable, WAIT))

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(
        capacity=ANYTHING,
        method=st.sampled_from(METHODS),
        first=ANYTHING,
        timeout=ANYTHING,
        keyword=st.booleans(),
    )
    def fuzz(capacity: Any, method: str, first: Any, timeout: Any, keyword: bool) -> None:
        assume(not _huge_capacity(capacity) and not _too_big(first))
        tried[0] += 1
        try:
            chan_module.channel(capacity)
        except ALLOWED:
            tried[1] += 1
        tx, rx = chan_module.channel(64)
        tx.try_send("kept")  # so a receive never has to wait
        handle = tx if "send" in method or "reserve" in method else rx
        takes_first = method not in (
            "blocking_recv",
            "blocking_peek",
            "blocking_transaction",
            "blocking_reserve",
        )
        args: list[Any] = [first] if takes_first else []
        kwargs = {}
        if method == "batches":
            args.append(timeout)  # max_wait: the same surface as a timeout
        elif method.startswith("blocking"):
            if keyword:
                kwargs["timeout"] = timeout
            else:
                args.append(timeout)
        tried[0] += 1
        try:
            result = getattr(handle, method)(*args, **kwargs)
            if method in ("send", "send_many", "recv_many"):
                result = run(result)
            if "reserve" in method:
                assert len(result) >= 1
                result.release()
            elif method == "blocking_transaction":
                with result as item:
                    result = item
            elif method == "batches":
                result = next(iter(type(result)(rx, 1, 0)))  # made: it must work
        except ALLOWED:
            tried[1] += 1
            refused = True
        else:
            refused = False
        if refused and "send" in method:
            assert len(rx) == 1  # nothing partially sent
        if ("recv" in method or method in ("blocking_transaction", "batches")) and not refused:
            assert result == "kept" or result == ["kept"]
        if method == "blocking_peek" and not refused:
            assert result == "kept" and rx.commit() == "kept"
        # Still usable afterwards.
        tx.try_send("last")
        assert rx.try_recv_many(100)[-1] == "last"

    try:
        fuzz()
    finally:
        loop.close()
    # Random arguments are sometimes valid: those calls must simply work.
    tally("bad input: fuzzed calls carried out (valid as drawn)", tried[0] - tried[1])
    tally("bad input: fuzzed calls refused with a typed exception", tried[1])
