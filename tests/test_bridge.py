"""from_iterable: a blocking iterable run on a worker thread, with backpressure."""

from __future__ import annotations

import gc
import queue
import threading
import time

import pytest
from support import WAIT, wait_until

from ringchan._errors import Closed

pytestmark = pytest.mark.timeout(60)


class Source:
    """A generator's bookkeeping: how far it got, on which thread, and
    whether it was closed."""

    def __init__(self, count, fail_at=None):
        self.count = count
        self.fail_at = fail_at
        self.produced = 0
        self.closed = threading.Event()
        self.thread = None

    def __iter__(self):
        self.thread = threading.current_thread()
        try:
            for item in range(self.count):
                if item == self.fail_at:
                    raise ValueError(f"source failed at {item}")
                self.produced += 1
                yield item
        finally:
            self.closed.set()

    def join(self):
        assert self.closed.wait(WAIT), "the iterable was never closed"
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the worker outlived its work"


def test_items_in_order_then_the_end(chan_module, run):
    source = Source(1000)
    rx = chan_module.from_iterable(iter(source), capacity=8)

    async def main():
        return [item async for item in rx]

    assert run(main()) == list(range(1000))
    source.join()
    with pytest.raises(Closed):
        rx.try_recv()


def test_thread_consumer(chan_module):
    source = Source(300)
    rx = chan_module.from_iterable(iter(source), capacity=4)
    assert list(rx) == list(range(300))
    source.join()


def test_backpressure_holds_the_worker(chan_module):
    source = Source(10_000)
    rx = chan_module.from_iterable(iter(source), capacity=4)
    wait_until(lambda: len(rx) == 4)
    time.sleep(0.05)
    # The ring is full and the worker waits in one send with the next item.
    assert source.produced <= 5
    assert rx.try_recv_many(4) == [0, 1, 2, 3]
    rx.close()
    source.join()


def test_error_reaches_the_consumer_after_the_items_before_it(chan_module, run):
    source = Source(10, fail_at=6)
    rx = chan_module.from_iterable(iter(source), capacity=2)
    received = []

    async def main():
        async for item in rx:
            received.append(item)

    with pytest.raises(ValueError, match="source failed at 6"):
        run(main())
    assert received == [0, 1, 2, 3, 4, 5]
    source.join()
    # The stream stays ended with that error.
    with pytest.raises(ValueError, match="source failed at 6"):
        rx.try_recv()


def test_error_in_a_thread_consumer(chan_module):
    source = Source(10, fail_at=3)
    rx = chan_module.from_iterable(iter(source), capacity=8)
    received = []
    with pytest.raises(ValueError, match="source failed"):
        for item in rx:
            received.append(item)
    assert received == [0, 1, 2]


def test_iterable_raising_closed_is_its_error(chan_module):
    def source():
        yield 1
        raise Closed("a Closed of the source's own")

    rx = chan_module.from_iterable(source(), capacity=4)
    assert rx.blocking_recv(timeout=WAIT) == 1
    with pytest.raises(Closed, match="source's own"):
        rx.blocking_recv(timeout=WAIT)


def test_closing_the_receiver_stops_the_worker_and_closes_the_iterable(chan_module):
    source = Source(1_000_000)
    rx = chan_module.from_iterable(iter(source), capacity=2)
    assert rx.blocking_recv(timeout=WAIT) == 0
    rx.close()
    source.join()
    assert source.produced < 10


def test_dropping_the_receiver_stops_the_worker(chan_module):
    source = Source(1_000_000)
    rx = chan_module.from_iterable(iter(source), capacity=2)
    wait_until(lambda: source.produced == 3)  # two buffered, one in a waiting send
    del rx
    gc.collect()
    source.join()


def test_queue_bridge(chan_module, run):
    q: queue.Queue[object] = queue.Queue()
    sentinel = object()
    rx = chan_module.from_iterable(iter(q.get, sentinel), capacity=16)

    def legacy_producer():
        for item in range(200):
            q.put(item)
        q.put(sentinel)

    async def main():
        thread = threading.Thread(target=legacy_producer)
        thread.start()
        items = [item async for item in rx]
        thread.join(WAIT)
        return items

    assert run(main()) == list(range(200))


@pytest.mark.parametrize("daemon", [False, True])
def test_daemon_only_if_asked(chan_module, daemon):
    source = Source(3)
    rx = chan_module.from_iterable(iter(source), capacity=4, daemon=daemon)
    assert list(rx) == [0, 1, 2]
    source.join()
    assert source.thread.daemon is daemon
    assert source.thread is not threading.main_thread()


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((42,), {}, TypeError),
        ((None,), {}, TypeError),
        (([1],), {"capacity": 0}, ValueError),
        (([1],), {"capacity": "8"}, TypeError),
        (([1],), {"daemon": "yes"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(chan_module, args, kwargs, error):
    before = threading.active_count()
    with pytest.raises(error):
        chan_module.from_iterable(*args, **kwargs)
    assert threading.active_count() == before  # no worker was started


def test_lists_and_files(chan_module, tmp_path):
    assert list(chan_module.from_iterable([3, 1, 2])) == [3, 1, 2]
    path = tmp_path / "lines.txt"
    path.write_text("a\nb\nc\n")
    file = open(path)  # noqa: SIM115 - the worker closes it, as the test checks
    assert list(chan_module.from_iterable(file)) == ["a\n", "b\n", "c\n"]
    wait_until(lambda: file.closed)  # the worker closes the iterator it ran
