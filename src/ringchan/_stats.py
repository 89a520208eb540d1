"""The record of :meth:`Receiver.stats`; shared by both channels."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("ChannelStats",)


@dataclass(frozen=True)
class ChannelStats:
    """A snapshot of a channel's counters, to tell where a pipeline stalls.

    Taken without stopping the channel, so fields read a moment apart may
    disagree by the items that moved meanwhile.
    """

    __slots__ = (
        "buffered",
        "capacity",
        "parked_senders",
        "received",
        "receiver_parked",
        "reserved",
        "senders",
        "sent",
        "wakeups",
    )

    #: Items sent so far.
    sent: int
    #: Items received so far.
    received: int
    #: Items buffered now: sent but not yet received.
    buffered: int
    #: The channel's capacity; None for an unbounded channel.
    capacity: int | None
    #: Open sender handles.
    senders: int
    #: Tasks and threads waiting for room.
    parked_senders: int
    #: Whether the receiver is waiting for an item.
    receiver_parked: bool
    #: Slots held by permits, not yet sent into: room taken, though empty.
    reserved: int
    #: Wake-ups sent to a task or thread parked on another thread.
    wakeups: int
