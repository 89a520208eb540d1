"""Construction, argument validation and the plain attributes of both handles."""

from __future__ import annotations

import inspect
import math
import pydoc
import threading
import types

import pytest
from support import WAIT

from ringchan._args import MAX_CAPACITY
from ringchan._errors import ChannelError, Closed, Empty, Full

# --- construction -----------------------------------------------------------


@pytest.mark.parametrize("capacity", [1, 2, 3, 1024, 100_000])
def test_channel_returns_a_sender_and_a_receiver(chan_module, capacity):
    tx, rx = chan_module.channel(capacity)
    assert isinstance(tx, chan_module.Sender)
    assert isinstance(rx, chan_module.Receiver)
    assert tx.capacity == rx.capacity == capacity
    assert len(tx) == len(rx) == 0
    assert not tx.is_closed
    assert not rx.is_closed


def test_capacity_is_an_exact_bound(chan_module):
    tx, rx = chan_module.channel(3)
    for i in range(3):
        tx.try_send(i)
    with pytest.raises(Full):
        tx.try_send(3)
    assert len(rx) == 3


@pytest.mark.parametrize("capacity", [0, -1, -(1 << 70), MAX_CAPACITY + 1, 1 << 64, 10**30])
def test_capacity_out_of_range_is_a_value_error(chan_module, capacity):
    with pytest.raises(ValueError, match="capacity"):
        chan_module.channel(capacity)


@pytest.mark.parametrize(
    "capacity", [1.5, 2.0, math.inf, math.nan, True, False, "3", b"3", None, [3], 3j]
)
def test_capacity_of_wrong_type_is_a_type_error(chan_module, capacity):
    with pytest.raises(TypeError, match="capacity"):
        chan_module.channel(capacity)


def test_capacity_is_required(chan_module):
    with pytest.raises(TypeError):
        chan_module.channel()


def test_int_subclass_capacity_is_accepted(chan_module):
    class MyInt(int):
        pass

    tx, rx = chan_module.channel(MyInt(2))
    assert tx.capacity == 2
    assert type(rx.capacity) is int


def test_channel_is_created_in_a_thread_and_used_on_a_loop(chan_module, run):
    made = []
    thread = threading.Thread(target=lambda: made.append(chan_module.channel(2)))
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive()
    tx, rx = made[0]

    async def main():
        await tx.send("a")
        return await rx.recv()

    assert run(main()) == "a"


def test_channel_is_bound_to_no_loop(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def one(value):
        await tx.send(value)
        return await rx.recv()

    # Used on one loop, then on another one: nothing remembers the first.
    assert run(one(1)) == 1
    assert run(one(2)) == 2


# --- timeouts ---------------------------------------------------------------


BAD_TIMEOUTS = [
    pytest.param(math.nan, ValueError, id="nan"),
    pytest.param(-1, ValueError, id="negative-int"),
    pytest.param(-0.001, ValueError, id="negative-float"),
    pytest.param(-math.inf, ValueError, id="minus-inf"),
    pytest.param("x", TypeError, id="str"),
    pytest.param("1", TypeError, id="numeric-str"),
    pytest.param(True, TypeError, id="True"),
    pytest.param(False, TypeError, id="False"),
    pytest.param([1], TypeError, id="list"),
    pytest.param(1j, TypeError, id="complex"),
]


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_bad_timeout_on_blocking_recv_keeps_the_item(chan_module, timeout, error):
    tx, rx = chan_module.channel(2)
    tx.try_send("kept")
    with pytest.raises(error, match="timeout"):
        rx.blocking_recv(timeout=timeout)
    with pytest.raises(error, match="timeout"):
        rx.blocking_recv_many(2, timeout=timeout)
    assert len(rx) == 1
    assert rx.try_recv() == "kept"


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_bad_timeout_on_blocking_send_sends_nothing(chan_module, timeout, error):
    tx, rx = chan_module.channel(4)
    with pytest.raises(error, match="timeout"):
        tx.blocking_send("no", timeout=timeout)
    with pytest.raises(error, match="timeout"):
        tx.blocking_send_many(["no", "no"], timeout=timeout)
    assert len(rx) == 0
    assert rx.try_recv_many(4) == []


@pytest.mark.parametrize("timeout", [None, math.inf, 1e300, 10**100, 1 << 80, 3600])
def test_infinite_or_huge_timeout_means_no_limit(chan_module, spawn, timeout):
    tx, rx = chan_module.channel(1)
    # Item already there: returned at once, no overflow from the deadline.
    tx.blocking_send("first", timeout=timeout)
    assert rx.blocking_recv(timeout=timeout) == "first"
    tx.blocking_send_many(["second"], timeout=timeout)
    assert rx.blocking_recv_many(5, timeout=timeout) == ["second"]

    # Nothing there yet: the call waits, and returns when an item comes.
    ready = threading.Event()

    def produce():
        ready.wait(WAIT)
        tx.blocking_send("late", timeout=WAIT)

    worker = spawn(produce)
    ready.set()
    assert rx.blocking_recv(timeout=timeout) == "late"
    worker.join()

    # Full channel: a blocking send waits for room, without a limit.
    tx.try_send("fill")
    worker = spawn(lambda: tx.blocking_send("after", timeout=timeout))
    assert rx.blocking_recv(timeout=WAIT) == "fill"
    worker.join()
    assert rx.try_recv() == "after"


@pytest.mark.parametrize("timeout", [0, 0.0, 1e-9])
def test_zero_timeout_does_not_wait(chan_module, timeout):
    tx, rx = chan_module.channel(1)
    with pytest.raises(TimeoutError):
        rx.blocking_recv(timeout=timeout)
    tx.blocking_send(1, timeout=timeout)
    with pytest.raises(TimeoutError):
        tx.blocking_send(2, timeout=timeout)
    assert rx.blocking_recv(timeout=timeout) == 1


def test_timeout_accepts_int_and_float_subclasses(chan_module):
    class Seconds(float):
        pass

    tx, rx = chan_module.channel(1)
    tx.blocking_send(1, timeout=Seconds(1.0))
    assert rx.blocking_recv(timeout=1) == 1


# --- max_items --------------------------------------------------------------


BAD_MAX_ITEMS = [
    pytest.param(0, ValueError, id="zero"),
    pytest.param(-1, ValueError, id="negative"),
    pytest.param(1.5, TypeError, id="float"),
    pytest.param(2.0, TypeError, id="integral-float"),
    pytest.param(True, TypeError, id="True"),
    pytest.param("2", TypeError, id="str"),
    pytest.param(None, TypeError, id="None"),
]


@pytest.mark.parametrize(("max_items", "error"), BAD_MAX_ITEMS)
def test_bad_max_items_is_refused_and_keeps_items(chan_module, run, max_items, error):
    tx, rx = chan_module.channel(4)
    tx.try_send("kept")
    with pytest.raises(error, match="max_items"):
        rx.try_recv_many(max_items)
    with pytest.raises(error, match="max_items"):
        rx.blocking_recv_many(max_items, timeout=0)

    async def main():
        with pytest.raises(error, match="max_items"):
            await rx.recv_many(max_items)

    run(main())
    assert rx.try_recv_many(4) == ["kept"]


def test_huge_max_items_is_fine(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send_many([1, 2, 3])
    assert rx.try_recv_many(1 << 62) == [1, 2, 3]
    tx.try_send(4)
    assert rx.blocking_recv_many(10**30, timeout=0) == [4]


# --- attributes -------------------------------------------------------------


def test_len_counts_buffered_items(chan_module):
    tx, rx = chan_module.channel(5)
    tx2 = tx.clone()
    assert len(tx) == len(tx2) == len(rx) == 0
    tx.try_send(1)
    tx2.try_send(2)
    assert len(tx) == len(tx2) == len(rx) == 2
    rx.try_recv()
    assert len(tx) == len(rx) == 1
    tx2.try_send_many([3, 4, 5, 6, 7])
    assert len(rx) == 5


def test_capacity_is_read_only(chan_module):
    tx, rx = chan_module.channel(3)
    with pytest.raises(AttributeError):
        tx.capacity = 4
    with pytest.raises(AttributeError):
        rx.capacity = 4
    with pytest.raises(AttributeError):
        rx.is_closed = True
    assert tx.capacity == rx.capacity == 3


def test_repr_shows_state(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send("x")
    for handle, name in ((tx, "Sender"), (rx, "Receiver")):
        text = repr(handle)
        assert name in text
        assert "capacity=4" in text
        assert "len=1" in text
        assert "open" in text
        assert "closed" not in text
    tx.close()
    assert "closed" in repr(tx)
    assert "closed" in repr(rx)  # every sender closed: nothing more can arrive
    assert "len=1" in repr(rx)


def test_repr_of_receiver_after_receiver_close(chan_module):
    tx, rx = chan_module.channel(2)
    rx.close()
    assert "closed" in repr(rx)
    assert "closed" in repr(tx)


def test_generic_alias(chan_module):
    alias = chan_module.Sender[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is chan_module.Sender
    assert alias.__args__ == (int,)
    ralias = chan_module.Receiver[str]
    assert isinstance(ralias, types.GenericAlias)
    assert ralias.__origin__ is chan_module.Receiver
    assert ralias.__args__ == (str,)


def test_errors_form_one_hierarchy():
    for error in (Closed, Full, Empty):
        assert issubclass(error, ChannelError)
    assert issubclass(ChannelError, Exception)
    assert Closed("m", item=1).item == 1
    assert Full("m", 2).item == 2
    assert Closed("m").item is None


# --- async methods are plain awaitables --------------------------------------


def test_async_methods_return_plain_awaitables(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        made = {
            "send": tx.send(1),
            "send_many": tx.send_many([2, 3]),
            "recv": rx.recv(),
            "recv_many": rx.recv_many(2),
            "anext": rx.__aiter__().__anext__(),
        }
        for name, awaitable in made.items():
            assert inspect.isawaitable(awaitable), name
            assert not inspect.iscoroutine(awaitable), name
        made["wait_closed"] = tx.wait_closed()
        assert inspect.isawaitable(made["wait_closed"])
        assert await made["send"] is None
        assert await made["send_many"] is None
        assert await made["recv"] == 1
        assert await made["recv_many"] == [2, 3]
        tx.try_send(4)
        assert await made["anext"] == 4
        rx.close()
        assert await made["wait_closed"] is None

    run(main())


def test_unawaited_awaitables_do_nothing(chan_module, run):
    tx, rx = chan_module.channel(4)
    with pytest.warns(RuntimeWarning, match="never awaited"):
        tx.send("never")
        tx.send_many(["never", "never"])
    tx.try_send("real")
    with pytest.warns(RuntimeWarning, match="never awaited"):
        rx.recv()
        rx.recv_many(3)

    async def main():
        assert len(rx) == 1
        assert await rx.recv() == "real"

    run(main())
    assert len(rx) == 0


def test_awaiting_the_same_awaitable_twice_is_refused(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        send = tx.send("once")
        await send
        with pytest.raises(RuntimeError):
            await send
        sending = tx.send_many(["a", "b"])
        await sending
        with pytest.raises(RuntimeError):
            await sending
        assert sending.sent == 2
        receiving = rx.recv()
        assert await receiving == "once"
        with pytest.raises(RuntimeError):
            await receiving
        assert rx.try_recv_many(4) == ["a", "b"]

    run(main())


# --- per-item methods take their argument positionally ------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda tx, rx: tx.send(item=1), id="send"),
        pytest.param(lambda tx, rx: tx.try_send(item=1), id="try_send"),
        pytest.param(lambda tx, rx: tx.send_many(items=[1]), id="send_many"),
        pytest.param(lambda tx, rx: tx.try_send_many(items=[1]), id="try_send_many"),
        pytest.param(lambda tx, rx: rx.recv_many(max_items=1), id="recv_many"),
        pytest.param(lambda tx, rx: rx.try_recv_many(max_items=1), id="try_recv_many"),
    ],
)
def test_per_item_methods_refuse_keywords(chan_module, call):
    tx, rx = chan_module.channel(2)
    with pytest.raises(TypeError):
        call(tx, rx)
    # Nothing was enqueued or taken by the refused call.
    assert len(tx) == 0
    tx.try_send(1)
    assert rx.try_recv_many(2) == [1]


def test_handles_cannot_be_pickled_or_copied(chan_module):
    import copy
    import pickle

    tx, rx = chan_module.channel(2)
    permit = tx.try_reserve()
    for handle in (tx, rx, tx.downgrade(), permit, *chan_module.oneshot()):
        for how in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match="lives in one process"):
                how(handle)
    tx.try_send("still usable")
    assert rx.try_recv() == "still usable"


@pytest.mark.parametrize("name", ["channel", "unbounded_channel", "oneshot"])
def test_help_reads_as_the_call(chan_module, name):
    """help(ringchan.channel) gives the call's signature and docstring, not a
    class's machinery (the brackets and the call come from a metaclass)."""
    factory = getattr(chan_module, name)
    text = pydoc.render_doc(factory, renderer=pydoc.plaintext)
    parameters = list(inspect.signature(factory).parameters)
    assert parameters == (["capacity"] if name == "channel" else [])
    if name == "channel":
        assert "channel(capacity" in text
    assert factory.__doc__.splitlines()[0] in text
    for machinery in (
        "__new__",
        "__class_getitem__",
        "_make",
        "__orig_bases__",
        "Method resolution",
    ):
        assert machinery not in text, machinery
