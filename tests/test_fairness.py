"""Parked senders are woken in the order they parked, whatever else happens
to the channel meanwhile: other sender handles opening and closing, senders
on the closed handle failing, wake-ups passed on by cancelled senders."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import WAIT
from traffic import wait_parked, wait_parked_blocking

from ringchan._errors import Closed


def test_closing_another_sender_keeps_the_parking_order(chan_module: Any, run: Any) -> None:
    async def main() -> list[str]:
        tx, rx = chan_module.channel(1)
        extra = tx.clone()
        tx.try_send("x")
        tasks = []
        for name in "ABCD":
            tasks.append(asyncio.ensure_future(tx.send(name)))
            await wait_parked(rx, len(tasks))
        extra.close()
        got = [await rx.recv() for _ in range(5)]
        await asyncio.gather(*tasks)
        return got

    assert run(main()) == ["x", "A", "B", "C", "D"]


def test_closing_a_sender_fails_only_its_own_parked_sends(chan_module: Any, run: Any) -> None:
    async def main() -> list[Any]:
        tx, rx = chan_module.channel(1)
        doomed = tx.clone()
        tx.try_send("x")
        a = asyncio.ensure_future(tx.send("A"))
        await wait_parked(rx, 1)
        d = asyncio.ensure_future(doomed.send("D"))
        await wait_parked(rx, 2)
        b = asyncio.ensure_future(tx.send("B"))
        await wait_parked(rx, 3)
        doomed.close()
        with pytest.raises(Closed) as caught:
            await d
        assert caught.value.item == "D"
        assert rx._parked()[0] == 2
        got = [await rx.recv() for _ in range(3)]
        await asyncio.gather(a, b)
        return got

    assert run(main()) == ["x", "A", "B"]


def test_threads_keep_the_parking_order_across_closes(chan_module: Any, spawn: Any) -> None:
    tx, rx = chan_module.channel(1)
    tx.try_send("x")
    workers = []
    for name in "ABCD":
        workers.append(spawn(tx.blocking_send, name, WAIT))
        wait_parked_blocking(rx, len(workers))
        tx.clone().close()  # a handle opened and closed while others wait
    got = [rx.blocking_recv(timeout=WAIT) for _ in range(5)]
    for worker in workers:
        worker.join()
    assert got == ["x", "A", "B", "C", "D"]
