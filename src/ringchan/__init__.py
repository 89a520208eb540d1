"""ringchan: a bounded multi-producer, single-consumer channel for asyncio and threads.

``tx, rx = ringchan.channel(capacity)``: senders are asyncio tasks on any
loop (``await tx.send(item)``) or plain threads (``tx.blocking_send(item)``);
the receiver is a stream (``async for item in rx``).  The buffer is a
lock-free ring in C; ``RINGCHAN_NO_EXTENSIONS=1`` selects the pure-Python
twin instead, as does any interpreter other than CPython (PyPy, GraalPy), and
:data:`COMPILED` tells which one is active.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ._args import MAX_CAPACITY
from ._batches import Batches
from ._errors import ChannelError, Closed, Empty, Full
from ._oneshot import OneshotReceiver, OneshotSender
from ._stats import ChannelStats
from ._transaction import Transaction

__all__ = (
    "COMPILED",
    "MAX_CAPACITY",
    "Batches",
    "ChannelError",
    "ChannelStats",
    "Closed",
    "Empty",
    "Full",
    "OneshotReceiver",
    "OneshotSender",
    "Permit",
    "Receiver",
    "Sender",
    "Transaction",
    "WeakSender",
    "channel",
    "from_iterable",
    "oneshot",
    "unbounded_channel",
)

__version__ = "0.1.0"

#: True when the C channel is in use, False for the pure-Python twin.
COMPILED: bool

# The C channel is built for CPython only: setup.py installs other
# interpreters (PyPy, GraalPy) without it, so they use the pure twin.
if (
    TYPE_CHECKING
    or os.environ.get("RINGCHAN_NO_EXTENSIONS")
    or sys.implementation.name != "cpython"
):
    from ._channel_py import (
        Permit,
        Receiver,
        Sender,
        WeakSender,
        channel,
        from_iterable,
        oneshot,
        unbounded_channel,
    )

    COMPILED = False
else:
    # On CPython a missing or broken build is an error, never a silent
    # fallback: the pure-Python channel is far slower.  Set
    # RINGCHAN_NO_EXTENSIONS=1 to use it.
    from ._channel_c import (
        Permit,
        Receiver,
        Sender,
        WeakSender,
        channel,
        from_iterable,
        oneshot,
        unbounded_channel,
    )

    COMPILED = True

# Users meet every public name as ringchan.<name>: say so in reprs, help()
# and tracebacks (each channel module does the same for its own names).
for _name in __all__:
    _public = globals()[_name]
    if getattr(_public, "__module__", __name__) != __name__:
        _public.__module__ = __name__
del _name, _public
