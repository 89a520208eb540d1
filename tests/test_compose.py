"""The receiver composes with the async toolboxes users already have:
ringchan writes no map/filter/merge of its own."""

from __future__ import annotations

import asyncio

import pytest

aiostream = pytest.importorskip("aiostream")
asyncstdlib = pytest.importorskip("asyncstdlib")
anyio = pytest.importorskip("anyio")

pytestmark = pytest.mark.timeout(60)


async def fill(tx, items):
    await tx.send_many(items)
    tx.close()


def test_aiostream_pipes(chan_module, run):
    from aiostream import pipe, stream

    tx, rx = chan_module.channel(4)

    async def main():
        producer = asyncio.ensure_future(fill(tx, range(20)))
        chunks = (
            stream.iterate(rx)
            | pipe.map(lambda item: item * 10)
            | pipe.filter(lambda item: item % 20 == 0)
            | pipe.chunks(3)
        )
        result = await stream.list(chunks)
        await producer
        return result

    assert run(main()) == [[0, 20, 40], [60, 80, 100], [120, 140, 160], [180]]


def test_aiostream_stops_early_without_closing(chan_module, run):
    from aiostream import stream

    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many(range(6))
        first = await stream.list(stream.take(stream.iterate(rx), 2))
        assert not rx.is_closed
        return first, rx.try_recv_many(10)

    assert run(main()) == ([0, 1], [2, 3, 4, 5])


def test_asyncstdlib(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        producer = asyncio.ensure_future(fill(tx, "abcdef"))
        pairs = [pair async for pair in asyncstdlib.enumerate(asyncstdlib.islice(rx, 4))]
        rest = [item async for item in rx]
        await producer
        return pairs, rest

    assert run(main()) == ([(0, "a"), (1, "b"), (2, "c"), (3, "d")], ["e", "f"])


def test_asyncstdlib_over_batches(chan_module, run):
    tx, rx = chan_module.channel(16)

    async def main():
        producer = asyncio.ensure_future(fill(tx, range(10)))
        sizes = await asyncstdlib.list(asyncstdlib.map(len, rx.batches(4, 1.0)))
        await producer
        return sizes

    assert run(main()) == [4, 4, 2]


def test_anyio_task_group(chan_module):
    tx, rx = chan_module.channel(2)
    received = []

    async def produce(sender, start):
        with sender:
            for item in range(start, start + 50):
                await sender.send(item)

    async def consume():
        async for item in rx:
            received.append(item)

    async def main():
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            for start in (0, 100, 200):
                group.start_soon(produce, tx.clone(), start)
            tx.close()

    anyio.run(main, backend="asyncio")
    assert sorted(received) == [*range(50), *range(100, 150), *range(200, 250)]


def test_anyio_cancel_scope_loses_nothing(chan_module):
    tx, rx = chan_module.channel(4)

    async def main():
        with anyio.move_on_after(0.01):
            await rx.recv()  # nothing comes: cancelled by the scope
        await tx.send("after")
        return await rx.recv()

    assert anyio.run(main, backend="asyncio") == "after"
