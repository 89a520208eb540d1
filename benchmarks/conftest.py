"""Fixtures of the micro-benchmarks (``bash scripts/dev micro``).

They live outside ``tests/`` so that the test suite never runs them; run
them with ``python -m pytest benchmarks`` once the ``bench`` extra is
installed.  Like the test suite, every benchmark runs on both
implementations: ids ``cext`` and ``pure``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

NO_EXTENSIONS = bool(os.environ.get("RINGCHAN_NO_EXTENSIONS"))


@pytest.fixture(
    params=[
        pytest.param("ringchan._channel_c", id="cext"),
        pytest.param("ringchan._channel_py", id="pure"),
    ]
)
def chan_module(request: pytest.FixtureRequest) -> ModuleType:
    """The implementation measured; a C build that does not import fails."""
    if request.param == "ringchan._channel_c" and NO_EXTENSIONS:
        pytest.skip("RINGCHAN_NO_EXTENSIONS is set: the C channel is not measured")
    return importlib.import_module(request.param)


@pytest.fixture
def on_loop() -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """``on_loop(call)`` runs *call* inside a task of a fresh asyncio loop.

    The awaitables of both implementations look up the running loop, so the
    benchmarks that drive them by hand need one running around them.
    """
    loop = asyncio.new_event_loop()

    async def inside(call: Callable[[], Any]) -> Any:
        return call()

    def run(call: Callable[[], Any]) -> Any:
        return loop.run_until_complete(inside(call))

    try:
        yield run
    finally:
        loop.close()
