"""What type checkers see of ringchan: checked by tests/test_typing.py with
mypy and pyright, never run.

A "revealed" comment closing a line gives the type its ``reveal_type``
shows, module paths left out; an "error" comment marks a line that must be
refused.  Every other line must pass, in strict mode.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ringchan


async def typed_channels() -> None:
    tx, rx = ringchan.channel[int](16)
    reveal_type(tx)  # revealed: Sender[int]
    reveal_type(rx)  # revealed: Receiver[int]
    reveal_type(await rx.recv())  # revealed: int
    reveal_type(rx.try_recv())  # revealed: int
    reveal_type(await rx.recv_many(8))  # revealed: list[int]
    async for item in rx:
        reveal_type(item)  # revealed: int
    async for batch in rx.batches(64, 0.01):
        reveal_type(batch)  # revealed: list[int]
    await tx.send(1)
    tx.try_send(2)
    tx.blocking_send(3)
    await tx.send("text")  # error
    tx.try_send(b"bytes")  # error
    tx.clone().try_send(None)  # error
    # Each operation is a coroutine to asyncio: a task can run it directly.
    sending = asyncio.create_task(tx.send(4))
    reveal_type(await sending)  # revealed: None
    receiving = asyncio.create_task(rx.recv())
    reveal_type(await receiving)  # revealed: int
    permit = await tx.reserve()
    reveal_type(permit)  # revealed: Permit[int]
    for one in await tx.reserve_many(2):
        reveal_type(one)  # revealed: Permit[int]
    permit.send("text")  # error


async def other_flavours() -> None:
    utx, urx = ringchan.unbounded_channel[str]()
    reveal_type(urx.try_recv())  # revealed: str
    utx.try_send(1)  # error
    otx, orx = ringchan.oneshot[bytes]()
    reveal_type(await otx.closed())  # revealed: None
    reveal_type(await orx)  # revealed: bytes
    otx.send("text")  # error
    reveal_type(ringchan.from_iterable([1.5, 2.5]))  # revealed: Receiver[float]


def untyped_channels_carry_anything() -> None:
    tx, rx = ringchan.channel(4)
    reveal_type(tx)  # revealed: Sender[Any]
    tx.try_send("text")
    tx.try_send(1)
    value: Any = rx.try_recv()
    del value
