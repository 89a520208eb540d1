"""Fixtures and hooks shared by the whole suite; the constants and helpers
test modules import are in support.py.

Every behavioural test takes ``chan_module`` and so runs twice: against the
C channel (id ``cext``) and the pure-Python twin (id ``pure``), in the manner
of multidict's conftest.  ``-k pure`` or ``-k cext`` selects one.

Tests of the C channel alone carry the ``c_extension`` marker, and so does
the ``cext`` run of every ``chan_module`` test: ``-m c_extension`` runs only
those, ``-m "not c_extension"`` everything else, so the pure-Python twin
alone.  They are skipped where ringchan does not build the C channel
(``RINGCHAN_NO_EXTENSIONS`` set, or an interpreter other than CPython).
Elsewhere a C module that does not import makes them FAIL, never skip.

Every async test runs its coroutine through ``run``, which is parametrized
over the event loop (ids ``asyncio`` and ``uvloop``; uvloop is skipped only
where it cannot be imported).

The reliability tests (stress, chaos, model, memory) size their work by
``load``: a CI flavour by default, a much longer soak flavour with ``--soak``
(or ``RINGCHAN_SOAK=1``).  They record what they did with ``tally``, and the
totals are printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from support import (
    C_EXTENSION_SKIP,
    C_MODULE,
    FREE_THREADED,
    PY_MODULE,
    RUN_TIMEOUT,
    WAIT,
    Worker,
    run_on_new_loop,
)


class _UnimportableModule:
    """Stands in for a C module that failed to import.

    Any use of it inside a test calls ``pytest.fail``, so every test that
    needs the C channel is reported as FAILED (not skipped, not a setup error)
    with the import error in the message.
    """

    def __init__(self, name: str, error: BaseException) -> None:
        self._name = name
        self._error = error

    def __getattr__(self, attr: str) -> Any:
        pytest.fail(
            f"cannot import {self._name}: {self._error!r}. Build the extension "
            "(pip install -e . or python setup.py build_ext --inplace), or set "
            "RINGCHAN_NO_EXTENSIONS=1 (or pass -m 'not c_extension') to test only "
            "the pure-Python channel.",
            pytrace=False,
        )


@pytest.fixture(
    params=[
        pytest.param(C_MODULE, id="cext", marks=pytest.mark.c_extension),
        pytest.param(PY_MODULE, id="pure"),
    ]
)
def chan_module(request: pytest.FixtureRequest) -> ModuleType:
    """The channel implementation under test: ``channel``, ``Sender``, ``Receiver``."""
    name = request.param
    try:
        return importlib.import_module(name)
    except Exception as exc:
        if name == PY_MODULE:
            raise
        return _UnimportableModule(name, exc)  # type: ignore[return-value]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``c_extension`` tests where ringchan does not build the C channel."""
    if C_EXTENSION_SKIP is None:
        return
    skip = pytest.mark.skip(reason=C_EXTENSION_SKIP)
    for item in items:
        if item.get_closest_marker("c_extension"):
            item.add_marker(skip)


def _new_uvloop() -> asyncio.AbstractEventLoop:
    import uvloop

    return uvloop.new_event_loop()


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """A callable creating a fresh event loop of the kind under test."""
    if request.param == "uvloop":
        if FREE_THREADED:
            pytest.skip(
                "uvloop is not used without a GIL: its call_soon_threadsafe was "
                "not thread-safe on free-threaded builds (uvloop issue #720)"
            )
        pytest.importorskip("uvloop", reason="uvloop is not importable here")
        return _new_uvloop
    return asyncio.new_event_loop


@pytest.fixture
def run(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> Callable[..., Any]:
    """``run(coro)`` runs *coro* on a fresh loop of the kind under test.

    The whole run is bounded by ``asyncio.wait_for`` (``RUN_TIMEOUT``).
    """

    def run(coro: Coroutine[Any, Any, Any], timeout: float | None = RUN_TIMEOUT) -> Any:
        return run_on_new_loop(loop_factory, coro, timeout)

    return run


@pytest.fixture
def spawn() -> Any:
    """``spawn(func, *args)`` starts *func* in a daemon thread, returns a Worker.

    At teardown every worker is joined (bounded); a thread still running
    fails the test.
    """
    workers: list[Worker] = []

    def spawn(func: Callable[..., Any], *args: Any, name: str | None = None) -> Worker:
        worker = Worker(func, args, name or f"worker-{len(workers)}")
        workers.append(worker)
        return worker.start()

    yield spawn
    stuck = []
    for worker in workers:
        worker.thread.join(WAIT)
        if worker.thread.is_alive():
            stuck.append(worker.thread.name)
    assert not stuck, f"threads still running at teardown: {stuck}"


def pytest_report_header(config: pytest.Config) -> str:
    try:
        importlib.import_module(C_MODULE)
        c_state = "importable"
    except Exception as exc:
        c_state = f"NOT importable ({exc!r})"
    try:
        import uvloop

        uv_state = uvloop.__version__
    except ImportError:
        uv_state = "not importable"
    return (
        f"ringchan: {C_MODULE} {c_state}; RINGCHAN_NO_EXTENSIONS="
        f"{os.environ.get('RINGCHAN_NO_EXTENSIONS', '')!r}; uvloop {uv_state}; "
        f"python {sys.version.split()[0]}"
    )


# --- load: the CI flavour and the soak flavour -------------------------------


@dataclass(frozen=True)
class Load:
    """How much work the reliability tests do in one run."""

    name: str
    #: Seconds each stress or chaos run keeps its producers going.
    seconds: float
    #: Items each producer sends at least, however slow the machine.
    min_items: int
    #: Items moved through a channel in the RSS check (in a subprocess).
    rss_items: int
    #: Round trips in the tracemalloc check.
    rounds: int
    #: Hypothesis examples for the model and fuzz tests.
    examples: int


CI_LOAD = Load("ci", seconds=0.4, min_items=50, rss_items=300_000, rounds=12, examples=60)
SOAK_LOAD = Load(
    "soak", seconds=15.0, min_items=2_000, rss_items=5_000_000, rounds=300, examples=2_000
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        action="store_true",
        default=bool(os.environ.get("RINGCHAN_SOAK")),
        help="run the long flavour of the stress, chaos, model and memory tests "
        "(also RINGCHAN_SOAK=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    load = SOAK_LOAD if config.getoption("--soak") else CI_LOAD
    config.stash[_LOAD] = load
    # No example database: a failure prints the steps that reproduce it, and a
    # checkout stays clean.  No deadline: a loaded CI machine is slow at times.
    settings.register_profile(
        "ringchan",
        max_examples=load.examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("ringchan")


_LOAD = pytest.StashKey[Load]()


@pytest.fixture
def load(request: pytest.FixtureRequest) -> Load:
    """The work the reliability tests do: ``CI_LOAD`` or, with --soak, ``SOAK_LOAD``."""
    return request.config.stash[_LOAD]


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A random seed for a test's choices; RINGCHAN_SEED fixes it.

    It is attached to the test's report, so a failure shows how to replay
    the same choices (thread timing still varies from run to run).
    """
    value = int(os.environ.get("RINGCHAN_SEED") or random.randrange(1 << 32))
    request.node.add_report_section("setup", "seed", f"RINGCHAN_SEED={value}")
    return value


# --- tally: the figures printed at the end of the run ------------------------


_FIGURES = pytest.StashKey[dict[tuple[str, str], int]]()
_FIGURES_LOCK = threading.Lock()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Callable[[str, int], None]:
    """``tally(what, count)`` adds *count* to the run's figure *what*.

    Figures are kept per implementation (``cext``/``pure``) and printed in the
    terminal summary.  Safe to call from any thread.
    """
    figures = request.config.stash.setdefault(_FIGURES, {})
    callspec = getattr(request.node, "callspec", None)
    module = callspec.params.get("chan_module", "") if callspec else ""
    impl = {C_MODULE: "cext", PY_MODULE: "pure"}.get(module, "both")

    def tally(what: str, count: int = 1) -> None:
        with _FIGURES_LOCK:
            figures[what, impl] = figures.get((what, impl), 0) + count

    return tally


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    figures = config.stash.get(_FIGURES, None)
    if not figures:
        return
    impls = sorted({impl for _, impl in figures})
    whats = sorted({what for what, _ in figures})
    width = max(len(what) for what in whats)
    write = terminalreporter.write_line
    load = config.stash[_LOAD]
    how_long = "the long runs" if load is SOAK_LOAD else "the short runs; --soak for the long ones"
    terminalreporter.section(f"ringchan reliability figures ({how_long})")
    write(f"{'':{width}}  " + "  ".join(f"{impl:>12}" for impl in impls))
    for what in whats:
        cells = "  ".join(f"{figures.get((what, impl), 0):>12,}" for impl in impls)
        write(f"{what:{width}}  {cells}")
