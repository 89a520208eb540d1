"""An awaitable dropped without ever being awaited warns, as a forgotten
``await`` on a coroutine does: ``tx.send(item)`` without ``await`` sends
nothing, and must not do so silently."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

METHODS = [
    pytest.param(lambda tx, rx: tx.send(1), "Sender.send()", id="send"),
    pytest.param(lambda tx, rx: tx.send_many([1, 2]), "Sender.send_many()", id="send_many"),
    pytest.param(lambda tx, rx: rx.recv(), "Receiver.recv()", id="recv"),
    pytest.param(lambda tx, rx: rx.recv_many(4), "Receiver.recv_many()", id="recv_many"),
    pytest.param(lambda tx, rx: rx.__anext__(), "Receiver.__anext__()", id="anext"),
]


@pytest.mark.parametrize(("make", "name"), METHODS)
def test_dropped_unawaited_warns_with_the_method_and_the_line(
    chan_module: Any, make: Callable[[Any, Any], Any], name: str
) -> None:
    tx, rx = chan_module.channel(4)
    with pytest.warns(
        RuntimeWarning, match=rf"{name.replace('(', '[(]').replace(')', '[)]')} was never awaited"
    ) as caught:
        make(tx, rx)  # dropped at once, like a forgotten await
        gc.collect()
    assert caught[0].filename == __file__
    assert len(tx) == 0, "an unawaited send must not send"


@pytest.mark.parametrize(("make", "name"), METHODS)
def test_awaited_closed_or_thrown_into_does_not_warn(
    chan_module: Any, run: Any, make: Callable[[Any, Any], Any], name: str
) -> None:
    tx, rx = chan_module.channel(4)
    tx.try_send(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(tx, rx).close()
        with pytest.raises(ValueError, match="dropped"):
            make(tx, rx).throw(ValueError("dropped"))

        async def main() -> None:
            await make(tx, rx)

        run(main())
        gc.collect()


def test_a_task_made_from_an_awaitable_does_not_warn(chan_module: Any, run: Any) -> None:
    tx, rx = chan_module.channel(4)

    async def main() -> Any:
        sending = asyncio.ensure_future(tx.send("x"))
        got = await asyncio.ensure_future(rx.recv())
        await sending
        return got

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(main()) == "x"
        gc.collect()


def test_parked_awaitable_dropped_unfinished_gives_its_place_up(chan_module: Any, run: Any) -> None:
    """A send stepped by hand until it parks, then dropped, leaves the queue
    of parked senders, so the sender behind it is woken instead."""
    tx, rx = chan_module.channel(1)
    tx.try_send(0)

    async def main() -> Any:
        op = tx.send("dropped")
        fut = op.send(None)
        assert isinstance(fut, asyncio.Future)
        assert rx._parked()[0] == 1
        behind = asyncio.ensure_future(tx.send("behind"))
        while rx._parked()[0] < 2:
            await asyncio.sleep(0)
        del op, fut
        gc.collect()
        assert rx._parked()[0] == 1
        assert rx.try_recv() == 0
        await asyncio.wait_for(behind, 10)
        return rx.try_recv()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(main()) == "behind"
