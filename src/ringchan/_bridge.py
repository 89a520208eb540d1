"""from_iterable: a blocking iterable fed into a channel by a worker thread;
shared by both channels."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._errors import Closed

__all__ = ("start",)


def _pump(iterator: Iterator[Any], tx: Any) -> None:
    """The worker: send every item, then close; hand an error of the
    iterable to the receiver, after the items before it."""
    send = tx.blocking_send
    try:
        for item in iterator:
            send(item)
    except BaseException as error:
        # A Closed from the send means the receiver is gone: stop quietly.
        # One raised by the iterable itself, receiver still open, is its error.
        if not (isinstance(error, Closed) and tx.is_closed):
            tx._close_with_error(error)
    finally:
        try:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        finally:
            tx.close()


def start(
    channel: Callable[[int], tuple[Any, Any]],
    iterable: Iterable[Any],
    capacity: int,
    daemon: bool,
) -> Any:
    """Start the worker of :func:`ringchan.from_iterable`; return the receiver."""
    if not isinstance(daemon, bool):
        raise TypeError(f"daemon must be a bool, not {type(daemon).__name__}")
    try:
        iterator = iter(iterable)
    except TypeError:
        raise TypeError(
            f"from_iterable() needs an iterable, got {type(iterable).__name__}"
        ) from None
    tx, rx = channel(capacity)
    # The worker holds the sender only: dropping the receiver closes the
    # channel, and its next send ends it.
    worker = threading.Thread(
        target=_pump, args=(iterator, tx), name="ringchan.from_iterable", daemon=daemon
    )
    del tx
    try:
        worker.start()
    except BaseException:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        raise
    return rx
