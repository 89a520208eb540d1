"""What ringchan ships: which interpreter gets which channel, metadata, builds.

- Which interpreter gets which channel: CPython the C one (never a silent
  fallback), any other (PyPy, GraalPy) the pure twin, both in setup.py (what
  is built) and in ``ringchan/__init__.py`` (what is imported).  Checked in
  subprocesses that present CPython as another implementation.
- The installed metadata: one version, the same as the newest CHANGELOG
  entry; a classifier for every CPython with wheels; ``Requires-Python``.
- The wheels cibuildwheel builds, per platform, against the intended list
  (``cibuildwheel --print-build-identifiers``), so that a new cibuildwheel
  cannot add or drop one unnoticed; and the release workflow runs that same
  cibuildwheel on a runner for every configured architecture.

Tests that need the source tree, or the ``dev`` extra (cibuildwheel),
are skipped where those are absent, as when the suite runs against an
installed wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Set

import pytest

import ringchan

#: Bound on one quick subprocess (an import, a dry run of setup.py, a listing).
WAIT = 60.0

ROOT = Path(__file__).resolve().parents[1]
HAS_SETUP = (ROOT / "setup.py").is_file()

# --- the intended builds ------------------------------------------------------

#: Every CPython with wheels, and those that also get a free-threaded one.
CPYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
FREE_THREADED = ["3.14", "3.15"]

#: The platform part of cibuildwheel's identifiers, per platform.  64-bit
#: only: the ring's positions are 64-bit atomics.
PLATFORM_TAGS = {
    "linux": [
        "manylinux_x86_64",
        "manylinux_aarch64",
        "musllinux_x86_64",
        "musllinux_aarch64",
    ],
    "macos": ["macosx_x86_64", "macosx_arm64"],
    "windows": ["win_amd64", "win_arm64"],
}

#: cibuildwheel's architecture names, per platform, as in the release workflow.
ARCHS = {
    "linux": {"x86_64", "aarch64"},
    "macos": {"x86_64", "arm64"},
    "windows": {"AMD64", "ARM64"},
}


def intended_identifiers(platform: str) -> Set[str]:
    """cp310-manylinux_x86_64 and the like: every build meant for *platform*."""
    pythons = ["cp" + v.replace(".", "") for v in CPYTHONS]
    pythons += ["cp" + v.replace(".", "") + "t" for v in FREE_THREADED]
    return {f"{py}-{tag}" for py in pythons for tag in PLATFORM_TAGS[platform]}


# --- which interpreter gets which channel -------------------------------------

#: Runs setup.py with stand-ins for setuptools and Cython, under a given
#: sys.implementation.name, and prints the names of the extensions it asks for.
SETUP_DRY_RUN = textwrap.dedent(
    """
    import runpy, sys, types

    sys.implementation = types.SimpleNamespace(
        **{**vars(sys.implementation), "name": sys.argv[1]}
    )
    captured = {}
    setuptools = types.ModuleType("setuptools")
    setuptools.Extension = lambda name, sources, **kw: name
    setuptools.setup = lambda **kw: captured.update(kw)
    build = types.ModuleType("Cython.Build")
    build.cythonize = lambda extensions, **kw: list(extensions)
    sys.modules.update(
        {"setuptools": setuptools, "Cython": types.ModuleType("Cython"),
         "Cython.Build": build}
    )
    runpy.run_path("setup.py", run_name="__main__")
    print(",".join(captured["ext_modules"]) or "none")
    """
)

#: Imports ringchan under a given sys.implementation.name; prints COMPILED and
#: the module the channel comes from.
IMPORT_AS = textwrap.dedent(
    """
    import sys, types

    sys.implementation = types.SimpleNamespace(
        **{**vars(sys.implementation), "name": sys.argv[1]}
    )
    if sys.argv[2] == "broken":
        sys.modules["ringchan._channel_c"] = None  # import fails
    import ringchan

    tx, rx = ringchan.channel(1)
    tx.try_send("ok")
    assert rx.try_recv() == "ok"
    print(ringchan.COMPILED, ringchan.channel.__module__)
    """
)


def _env(no_extensions: bool = False) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RINGCHAN_NO_EXTENSIONS"}
    if no_extensions:
        env["RINGCHAN_NO_EXTENSIONS"] = "1"
    return env


@pytest.mark.skipif(not HAS_SETUP, reason="needs setup.py (a source tree or sdist)")
@pytest.mark.parametrize(
    "implementation, no_extensions, expected",
    [
        ("cpython", False, "ringchan._channel_c"),
        ("cpython", True, "none"),
        ("pypy", False, "none"),
        ("graalpy", False, "none"),
    ],
)
def test_setup_builds_the_extension_for_cpython_only(
    implementation: str, no_extensions: bool, expected: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SETUP_DRY_RUN, implementation],
        cwd=ROOT,
        env=_env(no_extensions),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


@pytest.mark.parametrize("implementation", ["pypy", "graalpy"])
def test_other_interpreters_import_the_pure_twin(implementation: str) -> None:
    # The C module, even where it is installed, is not imported there.
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_AS, implementation, "broken"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "ringchan._channel_py"]


def test_cpython_without_its_extension_fails_to_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_AS, "cpython", "broken"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode != 0, proc.stdout
    assert "ringchan._channel_c" in proc.stderr, proc.stderr


# --- metadata ----------------------------------------------------------------


def test_one_version_everywhere() -> None:
    assert importlib.metadata.version("ringchan") == ringchan.__version__
    changelog = ROOT / "CHANGELOG.md"
    if not changelog.is_file():
        pytest.skip("needs CHANGELOG.md (a source tree or sdist)")
    entries = re.findall(r"^## (\S+)", changelog.read_text(encoding="utf-8"), re.M)
    assert entries, "CHANGELOG.md has no '## <version>' entry"
    assert entries[0] == ringchan.__version__, "newest CHANGELOG entry is not this version"
    assert len(entries) == len(set(entries)), "a version has two CHANGELOG entries"


def test_metadata_names_every_supported_python() -> None:
    meta = importlib.metadata.metadata("ringchan")
    classifiers = set(meta.get_all("Classifier") or [])
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == set(CPYTHONS)
    assert any(c.startswith("Programming Language :: Python :: Free Threading ::") for c in classifiers)
    assert "Programming Language :: Python :: Implementation :: CPython" in classifiers
    assert meta["Requires-Python"] == ">=" + CPYTHONS[0]
    urls = {u.split(",", 1)[0] for u in meta.get_all("Project-URL") or []}
    assert {"Homepage", "Source", "Issues", "Changelog"} <= urls


# --- cibuildwheel's builds ---------------------------------------------------

needs_cibuildwheel = pytest.mark.skipif(
    importlib.util.find_spec("cibuildwheel") is None or not HAS_SETUP,
    reason="needs the dev extra (cibuildwheel) and the project's pyproject.toml",
)


@needs_cibuildwheel
@pytest.mark.parametrize("platform", sorted(PLATFORM_TAGS))
def test_cibuildwheel_builds_exactly_the_intended_wheels(platform: str) -> None:
    # CIBW_* variables of the caller would change the answer.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--platform", platform,
         "--print-build-identifiers", "."],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    printed = set(proc.stdout.split())
    intended = intended_identifiers(platform)
    assert printed == intended, (
        f"added: {sorted(printed - intended)}; dropped: {sorted(intended - printed)}"
    )


@needs_cibuildwheel
def test_release_workflow_runs_that_cibuildwheel_on_every_architecture() -> None:
    workflow = ROOT / ".github" / "workflows" / "release.yml"
    if not workflow.is_file():
        pytest.skip("needs the checkout's .github/workflows")
    text = workflow.read_text(encoding="utf-8")
    # The action's version is the one whose identifiers were checked above.
    pinned = importlib.metadata.version("cibuildwheel")
    assert re.findall(r"uses: pypa/cibuildwheel@(\S+)", text) == [f"v{pinned}"]
    # One matrix row per runner: "- { os: <runner>, archs: <arch> }".
    rows = re.findall(r"-\s*\{\s*os:\s*([\w.-]+),\s*archs:\s*(\w+)\s*\}", text)
    platform_of = {"ubuntu": "linux", "macos": "macos", "windows": "windows"}
    found: Dict[str, Set[str]] = {p: set() for p in ARCHS}
    for runner, arch in rows:
        found[platform_of[runner.split("-")[0]]].add(arch)
    assert found == ARCHS
