"""Peek-and-commit receiving as a context manager; shared by both channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._args import check_timeout

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ("Transaction",)

_T = TypeVar("_T")


class Transaction(Generic[_T]):
    """What :meth:`Receiver.transaction` (``async with``) and
    :meth:`Receiver.blocking_transaction` (``with``) return.

    Entering peeks at the next item and gives it to the block; leaving
    without an exception takes it (:meth:`Receiver.commit`); leaving with one
    leaves it next in line, for the next receive or transaction to retry.
    Entering raises :class:`Closed` at the end of the stream, as ``recv``.
    """

    __slots__ = ("_blocking", "_rx", "_timeout")

    def __init__(self, rx: Any, timeout: float | None, blocking: bool) -> None:
        self._rx = rx
        self._timeout = check_timeout(timeout)
        self._blocking = blocking

    async def __aenter__(self) -> _T:
        if self._blocking:
            raise TypeError("blocking_transaction() is entered with 'with', not 'async with'")
        return await self._rx.peek()  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._rx.commit()

    def __enter__(self) -> _T:
        if not self._blocking:
            raise TypeError("transaction() is entered with 'async with', not 'with'")
        return self._rx.blocking_peek(self._timeout)  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._rx.commit()
