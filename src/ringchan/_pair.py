"""The metaclass of ``channel``, ``unbounded_channel`` and ``oneshot``;
shared by both channels.

Each is a class only so that it takes the item type in brackets
(``channel[int](16)``), as anyio's ``create_memory_object_stream`` does, and
returns a plain (sender, receiver) tuple, never an instance.  Their
metaclass makes the brackets and the call, so the classes hold nothing but
their docstring and a private ``_make``: ``help(ringchan.channel)`` then
reads as the help of the call, with its signature, and lists no
``__new__`` or ``__class_getitem__``.  Type checkers never see this module:
to them the classes derive from ``tuple`` (see ``_channel_py``).
"""

from __future__ import annotations

import inspect
from types import GenericAlias
from typing import Any

__all__ = ("NO_BASE", "PairMaker")


class PairMaker(type):
    """Calls a pair's ``_make``, takes brackets, and gives ``_make``'s signature."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> PairMaker:
        # Left by a base that added none (NO_BASE): nothing for help() to list.
        namespace.pop("__orig_bases__", None)
        return super().__new__(mcs, name, bases, namespace)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._make(*args, **kwargs)  # type: ignore[attr-defined]

    def __getitem__(cls, item: Any) -> GenericAlias:
        return GenericAlias(cls, item)

    @property
    def __signature__(cls) -> inspect.Signature:
        # The call's result is the tuple the docstring names.
        made = inspect.signature(cls._make)  # type: ignore[attr-defined]
        return made.replace(return_annotation=inspect.Signature.empty)


class _NoBase:
    """Subscripted among a class statement's bases, it adds none: where
    type checkers see ``tuple[...]``, the class derives from nothing."""

    def __getitem__(self, item: Any) -> _NoBase:
        return self

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[()]:
        return ()


NO_BASE = _NoBase()
