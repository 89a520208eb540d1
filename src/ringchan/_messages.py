"""What a channel says when it refuses or fails: one text for both
implementations, so they cannot drift apart."""

from __future__ import annotations

SENDER_CLOSED = "this Sender was closed; send through an open clone"
CLONE_CLOSED = "this Sender was closed; clone it before closing it"
WAIT_CLOSED_CLOSED = "this Sender was closed; wait_closed() needs an open handle"
RECEIVER_CLOSED = (
    "the receiver is closed, so nothing more can be sent: stop producing "
    "(.item holds what was not sent)"
)
ENDED_BY_RECEIVER = (
    "the receiver was closed and every buffered item has been received: the stream has ended"
)
ENDED_BY_SENDERS = (
    "every sender is closed and every buffered item has been received: the stream has ended"
)
EMPTY = "the channel is empty; use recv() or blocking_recv() to wait"
BUSY = "another task or thread is already waiting on this Receiver; a channel has a single consumer"
RECV_TIMEOUT = "timed out waiting for an item"
NOT_PEEKED = (
    "nothing to commit: peek() first; commit() takes the item the last peek "
    "returned, unless a receive has taken it since"
)
REUSED = "this awaitable was already awaited; call the method again for a new one"


ONE_PROCESS = (
    "a ringchan channel lives in one process, so its handles cannot be pickled "
    "or copied: clone() a Sender to share it among threads and event loops; "
    "between processes, use a multiprocessing queue"
)
RESERVE_TIMEOUT = "timed out waiting for room to reserve; nothing was reserved"
PERMIT_USED = "this permit has no slot left: it was used or released"


def _held(capacity: object, reserved: int) -> str:
    """The capacity, and the slots permits hold, as Full's messages give them."""
    if not reserved:
        return f"capacity {capacity}"
    return f"capacity {capacity}, {_slots(reserved)} held by permits"


def _slots(count: int) -> str:
    return "a slot" if count == 1 else f"{count} slots"


def no_room(count: int, capacity: object, reserved: int = 0) -> str:
    """The message of :class:`Full` from ``try_reserve_many``."""
    return (
        f"no room to reserve {_slots(count)} in the channel ({_held(capacity, reserved)}); "
        "use reserve() or blocking_reserve() to wait"
    )


def too_many_slots(count: int, capacity: int) -> str:
    """The message for reserving more slots than the channel has."""
    return (
        f"cannot reserve {count} slots in a channel of {capacity}: "
        "count must be at most the capacity"
    )


def full(capacity: object, reserved: int = 0) -> str:
    """The message of :class:`Full` for a channel of *capacity* items, of
    which permits hold *reserved*."""
    return (
        f"the channel is full ({_held(capacity, reserved)}); the item was not sent: "
        "use send() or blocking_send() to wait for room"
    )


def blocks_loop(what: str, instead: str) -> str:
    """The message for a blocking call made where an event loop is running."""
    return f"{what} would block the event loop running in this thread; use {instead} there instead"


ONESHOT_USED = "this oneshot sender was already used (sent or closed): a oneshot carries one value"
ONESHOT_NO_VALUE = "the oneshot sender was closed without sending a value"
ONESHOT_EMPTY = (
    "the oneshot's value has not been sent yet; await the receiver or use blocking_recv() to wait"
)
ONESHOT_TAKEN = "the oneshot's value was already received"
