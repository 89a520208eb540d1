"""The types users see: tests/typecheck/channel_types.py, checked in strict
mode by mypy and by pyright (each where it is installed: the dev extra
brings both), must reveal what its comments say and refuse exactly the
lines marked ``# error``; and ``channel[int]`` works at run time."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ringchan

#: Bound on one type checker's run over the file.
CHECK_WAIT = 300.0

SAMPLE = Path(__file__).parent / "typecheck" / "channel_types.py"
#: The folder ringchan is imported from: a checkout's src/, or site-packages.
PACKAGE_ROOT = Path(ringchan.__file__).resolve().parents[1]


def _expected() -> tuple[dict[int, str], set[int]]:
    revealed: dict[int, str] = {}
    errors: set[int] = set()
    for number, line in enumerate(SAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        if match := re.search(r"# revealed: (.+)$", line):
            revealed[number] = match.group(1).strip()
        elif line.rstrip().endswith("# error"):
            errors.add(number)
    return revealed, errors


def _unqualified(type_text: str) -> str:
    """``ringchan._channel_py.Sender[builtins.int]`` as ``Sender[int]``."""
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", type_text)


def _check(revealed: dict[int, str], errors: dict[int, list[str]]) -> None:
    want_revealed, want_errors = _expected()
    assert want_revealed and want_errors, "the sample lost its expectations"
    assert revealed == want_revealed
    assert set(errors) == want_errors, {n: errors.get(n) for n in set(errors) ^ want_errors}


@pytest.mark.timeout(CHECK_WAIT + 30)
def test_mypy_sees_the_item_type(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="needs mypy (the dev extra)")
    args = ["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(SAMPLE)]
    # A checkout's src/ must be on mypy's path; an installed ringchan is
    # found in site-packages, which mypy refuses on its path.
    if PACKAGE_ROOT.name != "site-packages":
        args = ["--python-executable", sys.executable, *args]
        config = tmp_path / "mypy.ini"
        config.write_text(f"[mypy]\nmypy_path = {PACKAGE_ROOT}\n")
        args = ["--config-file", str(config), *args]
    stdout, stderr, _ = api.run(args)
    revealed: dict[int, str] = {}
    errors: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        match = re.match(r".*channel_types\.py:(\d+): (note|error): (.*)$", line)
        if not match:
            continue
        number, kind, text = int(match.group(1)), match.group(2), match.group(3)
        if kind == "error":
            errors.setdefault(number, []).append(text)
        elif reveal := re.fullmatch(r'Revealed type is "(.*)"', text):
            revealed[number] = _unqualified(reveal.group(1))
    assert "channel_types.py" in stdout, stdout + stderr
    _check(revealed, errors)


@pytest.mark.timeout(CHECK_WAIT + 30)
def test_pyright_sees_the_item_type(tmp_path: Path) -> None:
    if importlib.util.find_spec("pyright") is None:
        pytest.skip("needs pyright (the dev extra)")
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "strict", "extraPaths": [str(PACKAGE_ROOT)]}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--outputjson",
            "-p",
            str(config),
            "--pythonpath",
            sys.executable,
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=CHECK_WAIT,
    )
    report: dict[str, Any] = json.loads(proc.stdout)
    revealed: dict[int, str] = {}
    errors: dict[int, list[str]] = {}
    for diagnostic in report["generalDiagnostics"]:
        number = diagnostic["range"]["start"]["line"] + 1
        if diagnostic["severity"] == "error":
            errors.setdefault(number, []).append(diagnostic["message"])
        elif reveal := re.match(r'Type of ".*" is "(.*)"$', diagnostic["message"]):
            revealed[number] = _unqualified(reveal.group(1))
    assert report["summary"]["filesAnalyzed"] == 1, proc.stdout + proc.stderr
    _check(revealed, errors)


@pytest.mark.parametrize("factory", ["channel", "unbounded_channel", "oneshot"])
def test_brackets_work_at_run_time(chan_module: Any, factory: str) -> None:
    make = getattr(chan_module, factory)
    args = (4,) if factory == "channel" else ()
    tx, rx = make[int](*args)
    plain = make(*args)
    assert type(plain) is tuple and len(plain) == 2
    assert type(tx) is type(plain[0]) and type(rx) is type(plain[1])
    tx.send(1) if factory == "oneshot" else tx.try_send(1)
    assert rx.try_recv() == 1
    assert make[int] == make[int] and make[int] != make[str]
    with pytest.raises(TypeError):
        make(*args, 1)
