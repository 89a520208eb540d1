"""Argument checks shared by both channel implementations.

Kept in one place so the C and pure-Python channels reject exactly the same
inputs with exactly the same messages.
"""

from __future__ import annotations

import numbers
import operator
import threading
from typing import Any

__all__ = (
    "MAX_CAPACITY",
    "check_capacity",
    "check_max_items",
    "check_max_wait",
    "check_timeout",
)

#: Largest capacity a channel accepts.  The C ring allocates its cells up
#: front (16 bytes each), so the bound keeps a typo from taking gigabytes.
MAX_CAPACITY = 1 << 26


def _check_int(value: Any, name: str) -> int:
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{name} must be an int, not {type(value).__name__}")


def check_capacity(capacity: Any) -> int:
    """Return *capacity* as an int, or raise if it is not in 1..MAX_CAPACITY."""
    value = _check_int(capacity, "capacity")
    if value < 1:
        raise ValueError(
            f"capacity must be at least 1, got {value}: a channel needs room for one item"
        )
    if value > MAX_CAPACITY:
        raise ValueError(
            f"capacity must be at most {MAX_CAPACITY} (ringchan.MAX_CAPACITY), "
            f"got {value}: the buffer is allocated up front"
        )
    return value


def check_max_items(max_items: Any, name: str = "max_items") -> int:
    """Return *max_items* as an int, or raise if it is not at least 1."""
    value = _check_int(max_items, name)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _check_seconds(value: Any, name: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, not {type(value).__name__}")
    if value != value:
        raise ValueError(f"{name} must be {what}, not NaN")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")


def check_timeout(timeout: Any) -> float | None:
    """Return *timeout* in seconds, or None to wait without limit.

    ``None``, ``inf`` and anything past ``threading.TIMEOUT_MAX`` mean no
    limit; negative values and NaN are refused.
    """
    if timeout is None:
        return None
    _check_seconds(timeout, "timeout", "a number of seconds or None")
    try:
        seconds = float(timeout)
    except OverflowError:
        return None
    return None if seconds >= threading.TIMEOUT_MAX else seconds


def check_max_wait(max_wait: Any) -> float:
    """Return *max_wait* in seconds (``inf``: no time limit), or raise if it
    is not a number, negative or NaN."""
    _check_seconds(max_wait, "max_wait", "a number of seconds")
    try:
        return float(max_wait)
    except OverflowError:
        return float("inf")
