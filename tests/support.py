"""Constants and helpers shared by the test modules.

Test modules import them by name: ``from support import WAIT, settle``.
pytest puts this folder on ``sys.path`` for the test modules in it (none is
in a package), so the import works alike in a checkout, in an unpacked sdist
and in the copy of the suite cibuildwheel runs against an installed wheel.
They live in a plain module rather than in conftest.py because pytest
imports every folder's conftest.py under the one name ``conftest``: with
``pytest tests benchmarks``, ``from conftest import WAIT`` found the
benchmarks' conftest.  conftest.py keeps the fixtures and hooks, and takes
its constants from here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import select
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

# --- bounds ------------------------------------------------------------------

#: Bound on any single wait inside a test (thread join, awaited result).  A
#: deadlock fails with a clear message this quickly instead of running into
#: the global pytest-timeout.
WAIT = 10.0

#: Bound on a whole coroutine run by the ``run`` fixture.
RUN_TIMEOUT = 30.0

# --- the build under test ----------------------------------------------------

C_MODULE = "ringchan._channel_c"
PY_MODULE = "ringchan._channel_py"

NO_EXTENSIONS = bool(os.environ.get("RINGCHAN_NO_EXTENSIONS"))

#: A free-threaded CPython build (the GIL off unless asked for).
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

#: Why the tests marked ``c_extension`` are skipped in this run, or None when
#: they run.  ringchan builds and selects the C channel on CPython unless
#: RINGCHAN_NO_EXTENSIONS is set (the rule of setup.py and
#: ringchan/__init__.py).  Where it is expected, a build that does not import
#: fails those tests instead: a broken build must never pass as skipped.
C_EXTENSION_SKIP: str | None
if NO_EXTENSIONS:
    C_EXTENSION_SKIP = "RINGCHAN_NO_EXTENSIONS is set: the C channel is not tested"
elif sys.implementation.name != "cpython":
    C_EXTENSION_SKIP = f"the C channel is built for CPython only, not {sys.implementation.name}"
else:
    C_EXTENSION_SKIP = None

#: The top of the source tree: a checkout, an unpacked sdist, or the folder
#: cibuildwheel copies pyproject.toml's test-sources into.
ROOT = Path(__file__).resolve().parents[1]


def _package_parent() -> str:
    # Found, not imported: where the C build is broken, importing ringchan
    # raises, and that must fail the tests that need it, not this module.
    spec = importlib.util.find_spec("ringchan")
    assert spec is not None and spec.origin is not None, "ringchan is not installed"
    return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))


#: The folder holding the ringchan package under test (a checkout's src/, or
#: site-packages), for child interpreters.
PACKAGE_PARENT = _package_parent()


def child_env(no_extensions: bool | None = None) -> dict[str, str]:
    """The environment for a child interpreter that imports ringchan.

    ``PYTHONPATH`` leads with :data:`PACKAGE_PARENT`, so the child imports
    the package under test.  *no_extensions* True sets
    RINGCHAN_NO_EXTENSIONS, False clears it, None leaves it as it is.
    """
    env = dict(os.environ)
    if no_extensions is not None:
        env.pop("RINGCHAN_NO_EXTENSIONS", None)
        if no_extensions:
            env["RINGCHAN_NO_EXTENSIONS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    return env


# --- event loops -------------------------------------------------------------


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(
            asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), WAIT)
        )


def run_on_new_loop(
    factory: Callable[[], asyncio.AbstractEventLoop],
    coro: Coroutine[Any, Any, Any],
    timeout: float | None = RUN_TIMEOUT,
) -> Any:
    """Run *coro* to completion on a fresh loop, then tear the loop down."""
    loop = factory()
    try:
        if timeout is not None:
            coro = asyncio.wait_for(coro, timeout)
        return loop.run_until_complete(coro)
    finally:
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def settle(rounds: int = 5) -> None:
    """Let every ready task on this loop run a few steps."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def park_on_closed_loop(
    make_loop: Callable[[], asyncio.AbstractEventLoop], make: Callable[[], Any]
) -> None:
    """Start ``make()`` as a task on a fresh loop, let it park, close the loop.

    The task is left pending, as when a program stops a loop it ran with
    run_until_complete without cancelling its other tasks.
    """
    loop = make_loop()

    async def park() -> Any:
        task = asyncio.ensure_future(make())
        await settle()
        assert not task.done()
        return task

    task = loop.run_until_complete(park())
    loop.close()
    # The loop can never run it again: skip its "Task was destroyed" report.
    task._log_destroy_pending = False  # type: ignore[attr-defined]


# --- threads -----------------------------------------------------------------


class Worker:
    """A daemon thread whose result or exception is handed back on join."""

    def __init__(self, func: Callable[..., Any], args: tuple, name: str) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, args=(func, args), name=name, daemon=True)

    def _main(self, func: Callable[..., Any], args: tuple) -> None:
        try:
            self.result = func(*args)
        except BaseException as exc:
            self.error = exc

    def start(self) -> Worker:
        self.thread.start()
        return self

    def join(self, timeout: float = WAIT) -> Any:
        """Wait for the thread (bounded); re-raise its exception, return its result."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), (
            f"thread {self.thread.name} still running after {timeout}s: deadlock?"
        )
        if self.error is not None:
            raise self.error
        return self.result

    def is_alive(self) -> bool:
        return self.thread.is_alive()


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT) -> None:
    """Poll *predicate* (bounded) until it holds: that a thread parked, that
    items arrived."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def park_briefly() -> None:
    """Give a thread that is about to block time to actually park.

    Only ever makes a test stronger: the assertions hold whether or not the
    other thread had parked yet.
    """
    time.sleep(0.02)


# --- child processes and SIGINT ----------------------------------------------

#: For the tests that send SIGINT to a child process.
posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT delivery to a child process is POSIX only"
)


def sleeping(pid: int) -> bool:
    """True when the process is asleep in the kernel (Linux); True elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("S", "D")


def interrupt_child(script: str, *args: str) -> tuple[int, str, str]:
    """Run *script* with *args*; once it prints "ready" and sleeps, send SIGINT.

    Returns the exit code, everything printed (the "ready" line first) and
    the standard error.  Every wait is bounded.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        text=True,
    )
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert readable, "child did not start in time"
        first = proc.stdout.readline().strip()
        assert first == "ready", (first, proc.stderr.read() if proc.poll() is not None else "")
        # Let it enter the blocking call and fall asleep there.
        time.sleep(0.1)
        deadline = time.monotonic() + WAIT
        while not sleeping(proc.pid):
            assert time.monotonic() < deadline, "child never went to sleep"
            time.sleep(0.01)
        assert proc.poll() is None, "child exited before the signal"
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"child was not interrupted by SIGINT within {WAIT}s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, first + "\n" + out, err
