"""The non-waiting operations: try_send, try_recv and their *_many forms."""

from __future__ import annotations

import pytest

from ringchan._errors import ChannelError, Closed, Empty, Full


def test_try_send_then_try_recv_in_order(chan_module):
    tx, rx = chan_module.channel(3)
    for item in ("a", "b", "c"):
        assert tx.try_send(item) is None
    assert [rx.try_recv() for _ in range(3)] == ["a", "b", "c"]


def test_try_send_on_full_raises_full_with_the_item(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(1)
    tx.try_send(2)
    item = object()
    with pytest.raises(Full) as info:
        tx.try_send(item)
    assert info.value.item is item
    assert isinstance(info.value, ChannelError)
    assert "full" in str(info.value)
    assert len(rx) == 2
    assert rx.try_recv_many(10) == [1, 2]


def test_try_send_fits_again_after_a_receive(chan_module):
    tx, rx = chan_module.channel(1)
    for i in range(100):
        tx.try_send(i)
        with pytest.raises(Full):
            tx.try_send(-1)
        assert rx.try_recv() == i


def test_try_recv_on_open_empty_channel_raises_empty(chan_module):
    tx, rx = chan_module.channel(2)
    with pytest.raises(Empty) as info:
        rx.try_recv()
    assert isinstance(info.value, ChannelError)
    assert "empty" in str(info.value)
    tx.try_send(1)
    assert rx.try_recv() == 1
    with pytest.raises(Empty):
        rx.try_recv()


def test_try_recv_drains_after_senders_close_then_raises_closed(chan_module):
    tx, rx = chan_module.channel(3)
    tx.try_send_many([1, 2])
    tx.close()
    assert rx.try_recv() == 1
    assert rx.try_recv() == 2
    with pytest.raises(Closed) as info:
        rx.try_recv()
    assert info.value.item is None
    assert "sender" in str(info.value)
    with pytest.raises(Closed):
        rx.try_recv()  # and it stays that way


def test_try_recv_drains_after_receiver_close_then_raises_closed(chan_module):
    tx, rx = chan_module.channel(3)
    tx.try_send_many([1, 2])
    rx.close()
    assert rx.try_recv() == 1
    assert rx.try_recv_many(5) == [2]
    with pytest.raises(Closed) as info:
        rx.try_recv()
    assert "receiver" in str(info.value)
    with pytest.raises(Closed):
        rx.try_recv_many(5)


def test_try_send_to_closed_receiver_raises_closed_with_the_item(chan_module):
    tx, rx = chan_module.channel(3)
    rx.close()
    item = object()
    with pytest.raises(Closed) as info:
        tx.try_send(item)
    assert info.value.item is item
    assert "receiver" in str(info.value)
    assert len(rx) == 0


def test_try_send_through_closed_handle_raises_closed(chan_module):
    tx, rx = chan_module.channel(3)
    tx2 = tx.clone()
    tx.close()
    with pytest.raises(Closed) as info:
        tx.try_send("x")
    assert info.value.item == "x"
    message = str(info.value).lower()
    assert "sender" in message and "closed" in message
    tx2.try_send("y")  # the clone is unaffected
    assert rx.try_recv() == "y"


def test_closed_wins_over_full(chan_module):
    tx, rx = chan_module.channel(1)
    tx.try_send(1)
    rx.close()
    with pytest.raises(Closed) as info:
        tx.try_send(2)
    assert info.value.item == 2


# --- try_send_many ----------------------------------------------------------


def test_try_send_many_returns_how_many_fitted(chan_module):
    tx, rx = chan_module.channel(5)
    assert tx.try_send_many([1, 2, 3]) == 3
    assert tx.try_send_many([4, 5, 6, 7]) == 2
    assert tx.try_send_many([8]) == 0  # full: no error, nothing sent
    assert tx.try_send_many([]) == 0
    assert rx.try_recv_many(10) == [1, 2, 3, 4, 5]
    assert tx.try_send_many([]) == 0
    assert len(rx) == 0


@pytest.mark.parametrize("kind", [list, tuple, range])
def test_try_send_many_accepts_sequences(chan_module, kind):
    tx, rx = chan_module.channel(4)
    items = kind(range(6)) if kind is not range else range(6)
    assert tx.try_send_many(items) == 4
    assert rx.try_recv_many(10) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(lambda: (i for i in range(3)), id="generator"),
        pytest.param(lambda: iter([1, 2, 3]), id="iterator"),
        pytest.param(lambda: {1, 2, 3}, id="set"),
        pytest.param(lambda: 3, id="int"),
    ],
)
def test_try_send_many_needs_a_sequence(chan_module, items):
    tx, rx = chan_module.channel(4)
    with pytest.raises(TypeError, match="sequence"):
        tx.try_send_many(items())
    assert len(rx) == 0


def test_try_send_many_to_closed_receiver_lists_all_items(chan_module):
    tx, rx = chan_module.channel(4)
    rx.close()
    with pytest.raises(Closed) as info:
        tx.try_send_many((1, 2, 3))
    assert info.value.item == [1, 2, 3]


def test_try_send_many_through_closed_handle(chan_module):
    tx, rx = chan_module.channel(4)
    tx.close()
    with pytest.raises(Closed) as info:
        tx.try_send_many([1, 2])
    assert info.value.item == [1, 2]
    assert len(rx) == 0


# --- try_recv_many ----------------------------------------------------------


def test_try_recv_many_returns_what_is_there(chan_module):
    tx, rx = chan_module.channel(8)
    assert rx.try_recv_many(3) == []
    tx.try_send_many(list(range(8)))
    assert rx.try_recv_many(3) == [0, 1, 2]
    assert rx.try_recv_many(1) == [3]
    assert rx.try_recv_many(100) == [4, 5, 6, 7]
    assert rx.try_recv_many(100) == []


def test_try_recv_many_on_closed_drained_raises_closed(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send(1)
    tx.close()
    assert rx.try_recv_many(4) == [1]
    with pytest.raises(Closed):
        rx.try_recv_many(4)


def test_try_ops_wrap_around_the_ring(chan_module):
    tx, rx = chan_module.channel(3)
    expected = []
    got = []
    n = 0
    for round_ in range(50):
        fitted = tx.try_send_many(list(range(n, n + 2 + round_ % 3)))
        expected.extend(range(n, n + fitted))
        n += fitted
        got.extend(rx.try_recv_many(1 + round_ % 2))
    got.extend(rx.try_recv_many(10))
    assert got == expected


def test_try_ops_work_inside_a_running_loop(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        tx.try_send(1)
        assert tx.try_send_many([2, 3]) == 1
        with pytest.raises(Full):
            tx.try_send(4)
        assert rx.try_recv() == 1
        assert rx.try_recv_many(5) == [2]
        with pytest.raises(Empty):
            rx.try_recv()

    run(main())
