"""The scripts in ``examples/`` run to the end, on both implementations.

Each script is run as a child process, with ``PYTHONPATH`` pointing at the
ringchan package these tests import, once on the C channel (id ``cext``)
and once on the pure-Python twin (id ``pure``, ``RINGCHAN_NO_EXTENSIONS=1``).
It must exit with 0, print the line that says its own checks passed, and
leave on stderr no traceback, no forgotten ``await`` and no task destroyed
while pending.  The scripts are also read (not run) to check what makes
them examples: a docstring, a ``main()`` behind ``if __name__ ==
"__main__"``, and imports of the standard library and ringchan only.

``examples/`` is part of the checkout, not of the sdist or of a wheel's
test run: where it is absent, the tests are skipped with that reason.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, child_env

#: Bound on one example's run; each finishes in about a second.
EXAMPLE_WAIT = 60.0

EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py")) if EXAMPLES.is_dir() else []
IN_CHECKOUT = (ROOT / ".git").exists()

#: Lines each script prints once its own assertions have passed (regular
#: expressions, matched against whole lines of its output).
EXPECTED: dict[str, tuple[str, ...]] = {
    "graceful_shutdown.py": (
        r"stop requested by timer with \d+ items buffered",
        r"3 producers sent (\d+) items; drained \1: none lost",
    ),
    "legacy_bridge.py": (
        r"bridged 500 sensor readings and 300 queued events",
        r"legacy error after 120 readings: ConnectionError: sensor link lost at record 120",
        r"closing the receiver early released the sensor: True",
    ),
    "loop_per_core.py": (r"received (\d+) items from (\d+) event loops in \2 threads",),
    "retrying_consumer.py": (
        r"stored 200 items in order after \d+ failed writes and [1-9]\d* consumer "
        r"restart\(s\): nothing lost",
    ),
    "telemetry_sqlite.py": (r"wrote 5000 rows in \d+ batches: \d+ full \(200 rows\), .*",),
    "thread_producer.py": (r"received 10000 items from a producer thread, sum 49995000",),
}

#: What must never appear on an example's stderr.
STDERR_FORBIDDEN = (
    "Traceback",
    "never awaited",
    "Task was destroyed",
    "Exception ignored",
    "Warning:",
)

IMPLEMENTATIONS = [
    pytest.param(False, id="cext", marks=pytest.mark.c_extension),
    pytest.param(True, id="pure"),
]

no_examples = pytest.mark.skipif(
    not EXAMPLES.is_dir(),
    reason="examples/ is in the checkout only, not in the sdist or a wheel's test run",
)


def _child_env(no_extensions: bool) -> dict[str, str]:
    """The environment of an example's run, on the C channel or the pure twin."""
    env = child_env(no_extensions)
    # Warnings shown once each, so a stray one lands on stderr and fails the
    # run; but not the free-threaded interpreter's notice that the C module,
    # not yet declared free-threading safe, turned the GIL on (as in
    # pyproject.toml's filterwarnings).  The later filter takes precedence.
    env["PYTHONWARNINGS"] = "default,ignore:The global interpreter lock:RuntimeWarning"
    env.pop("PYTHONASYNCIODEBUG", None)
    return env


@no_examples
def test_there_are_examples() -> None:
    assert SCRIPTS, f"no examples in {EXAMPLES}"
    names = {script.name for script in SCRIPTS}
    assert names == set(EXPECTED), (
        "every example needs the lines it prints listed in EXPECTED, and only those: "
        f"without an entry {sorted(names - set(EXPECTED))}, "
        f"without a script {sorted(set(EXPECTED) - names)}"
    )


def test_examples_are_in_the_checkout() -> None:
    if not IN_CHECKOUT:
        pytest.skip("not a checkout: examples/ ships with the repository only")
    assert EXAMPLES.is_dir(), f"{EXAMPLES} is missing"


def _imported_modules(tree: ast.Module) -> list[str]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module.split(".")[0])
    return modules


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_is_a_self_contained_script(script: Path) -> None:
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    assert ast.get_docstring(tree), f"{script.name}: a module docstring says what it shows"
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "main" in functions, f"{script.name}: no main()"
    guard = tree.body[-1]
    assert (
        isinstance(guard, ast.If)
        and ast.unparse(guard.test) in ("__name__ == '__main__'", '__name__ == "__main__"')
        and ast.unparse(guard.body[0]) == "main()"
    ), f"{script.name}: does not end with if __name__ == '__main__': main()"
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is not None:  # Python 3.10+
        foreign = sorted(set(_imported_modules(tree)) - set(stdlib) - {"ringchan"})
        assert not foreign, f"{script.name}: imports beyond the stdlib and ringchan: {foreign}"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("no_extensions", IMPLEMENTATIONS)
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_runs(script: Path, no_extensions: bool, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_child_env(no_extensions),
        capture_output=True,
        text=True,
        timeout=EXAMPLE_WAIT,
    )
    report = f"exit code {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, report
    for pattern in EXPECTED.get(script.name, ()):
        assert re.search(f"^{pattern}$", proc.stdout, re.MULTILINE), (
            f"no line matching {pattern!r}\n{report}"
        )
    found = [word for word in STDERR_FORBIDDEN if word in proc.stderr]
    assert not found, f"{found} on stderr\n{report}"
