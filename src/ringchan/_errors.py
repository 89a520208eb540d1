"""The exceptions ringchan raises; shared by the C and pure-Python channels."""

from __future__ import annotations

from typing import Any

__all__ = ("ChannelError", "Closed", "Empty", "Full", "send_timeout")


class ChannelError(Exception):
    """Root of every error a channel raises about its own state."""


class Closed(ChannelError):
    """The channel, or the handle used, is closed.

    Raised by a send when the receiver (or the sending handle itself) is
    closed, and by a receive once the channel is closed and drained.  For a
    failed send, :attr:`item` holds what was not sent, so nothing is lost:
    the item itself, or for ``*_many`` sends the list of unsent items in
    order.  For a receive it is ``None``.
    """

    item: Any

    def __init__(self, message: str, item: Any = None) -> None:
        super().__init__(message)
        self.item = item


class Full(ChannelError):
    """``try_send`` found no room; :attr:`item` holds the unsent item."""

    item: Any

    def __init__(self, message: str, item: Any = None) -> None:
        super().__init__(message)
        self.item = item


class Empty(ChannelError):
    """``try_recv`` found nothing buffered while senders are still open."""


def send_timeout(unsent: Any, single: bool) -> TimeoutError:
    """The TimeoutError of a blocking send, carrying what was not sent in ``.item``."""
    error = TimeoutError(
        "timed out waiting for room in the channel; "
        + ("the item was not sent" if single else ".item lists the unsent items")
    )
    error.item = unsent  # type: ignore[attr-defined]
    return error
