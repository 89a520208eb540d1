"""Micro-benchmarks: the cost of each channel operation, C and pure-Python.

Each benchmark times one operation (or a balanced pair, so the channel's
state is the same before and after every round) and belongs to a group named
for it, so that pytest-benchmark shows the two implementations side by side.
Awaitables are driven by hand, ``awaitable.send(None)``, inside a running
loop: on a channel that has room (or an item) they complete at once, and the
figure is the operation's own cost, with no event-loop scheduling around it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

CAPACITY = 1024
BATCH = 256


def finish(awaitable: Any) -> Any:
    """Run *awaitable* to the end; it must complete without waiting."""
    try:
        awaitable.send(None)
    except StopIteration as done:
        return done.value
    awaitable.close()
    raise AssertionError("the operation waited: the benchmark's channel state is wrong")


def test_try_send_try_recv(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = "try_send + try_recv"
    tx, rx = chan_module.channel(CAPACITY)
    send, recv = tx.try_send, rx.try_recv

    def pair() -> Any:
        send(1)
        return recv()

    assert benchmark(pair) == 1
    assert len(rx) == 0


def test_send_recv_awaited(
    benchmark: Any, chan_module: ModuleType, on_loop: Callable[..., Any]
) -> None:
    benchmark.group = "await send + await recv"
    tx, rx = chan_module.channel(CAPACITY)
    send, recv = tx.send, rx.recv

    def pair() -> Any:
        finish(send(1))
        return finish(recv())

    assert on_loop(lambda: benchmark(pair)) == 1
    assert len(rx) == 0


def test_anext(benchmark: Any, chan_module: ModuleType, on_loop: Callable[..., Any]) -> None:
    benchmark.group = "try_send + async for step"
    tx, rx = chan_module.channel(CAPACITY)
    send, step = tx.try_send, rx.__anext__

    def pair() -> Any:
        send(1)
        return finish(step())

    assert on_loop(lambda: benchmark(pair)) == 1


def test_send_many_recv_many(
    benchmark: Any, chan_module: ModuleType, on_loop: Callable[..., Any]
) -> None:
    benchmark.group = f"await send_many + await recv_many, {BATCH} items"
    benchmark.extra_info["items"] = BATCH
    tx, rx = chan_module.channel(CAPACITY)
    items = list(range(BATCH))
    send_many, recv_many = tx.send_many, rx.recv_many

    def pair() -> Any:
        finish(send_many(items))
        return finish(recv_many(BATCH))

    assert on_loop(lambda: benchmark(pair)) == items


def test_try_send_many_try_recv_many(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = f"try_send_many + try_recv_many, {BATCH} items"
    benchmark.extra_info["items"] = BATCH
    tx, rx = chan_module.channel(CAPACITY)
    items = list(range(BATCH))
    send_many, recv_many = tx.try_send_many, rx.try_recv_many

    def pair() -> Any:
        send_many(items)
        return recv_many(BATCH)

    assert benchmark(pair) == items


def test_blocking_send_blocking_recv(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = "blocking_send + blocking_recv"
    tx, rx = chan_module.channel(CAPACITY)
    send, recv = tx.blocking_send, rx.blocking_recv

    def pair() -> Any:
        send(1)
        return recv()

    assert benchmark(pair) == 1


def test_blocking_send_many_recv_many(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = f"blocking_send_many + blocking_recv_many, {BATCH} items"
    benchmark.extra_info["items"] = BATCH
    tx, rx = chan_module.channel(CAPACITY)
    items = list(range(BATCH))
    send_many, recv_many = tx.blocking_send_many, rx.blocking_recv_many

    def pair() -> Any:
        send_many(items)
        return recv_many(BATCH)

    assert benchmark(pair) == items


def test_clone_close(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = "tx.clone() + close()"
    tx, rx = chan_module.channel(CAPACITY)

    def clone_close() -> None:
        tx.clone().close()

    benchmark(clone_close)
    assert not rx.is_closed  # the original sender still holds the channel open


@pytest.mark.parametrize("capacity", [1, CAPACITY])
def test_channel(benchmark: Any, chan_module: ModuleType, capacity: int) -> None:
    benchmark.group = f"channel({capacity})"
    tx, rx = benchmark(chan_module.channel, capacity)
    assert tx.capacity == rx.capacity == capacity


def test_len(benchmark: Any, chan_module: ModuleType) -> None:
    benchmark.group = "len(tx)"
    tx, _rx = chan_module.channel(CAPACITY)
    tx.try_send_many(list(range(10)))
    assert benchmark(len, tx) == 10
