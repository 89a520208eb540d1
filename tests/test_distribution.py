"""What ringchan ships: interpreters, builds, metadata, sdist and wheel contents.

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
- The sdist holds everything needed to build and test, nothing generated;
  the wheel holds no C or Cython sources.  ``RINGCHAN_DIST_DIR`` names a
  folder of built artifacts to check (as ``scripts/dev wheels`` does);
  otherwise, in a source tree, the test builds the sdist and a wheel from it.

Tests that need the source tree, or the ``dev`` extra (cibuildwheel, build),
are skipped where those are absent, as when the suite runs against an
installed wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from support import ROOT

import ringchan

#: Bound on one quick subprocess (an import, a dry run of setup.py, a listing).
SUBPROCESS_WAIT = 60.0

#: Bound on building the sdist and a wheel from it (compiles the extension).
BUILD_WAIT = 600.0

HAS_SETUP = (ROOT / "setup.py").is_file()
HAS_SOURCES = HAS_SETUP and (ROOT / "src" / "ringchan" / "_channel_c.pyx").is_file()

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


def intended_identifiers(platform: str) -> set[str]:
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
    # Every public name says "ringchan": ask which module holds the channel.
    (origin,) = [
        name for name in ("ringchan._channel_c", "ringchan._channel_py")
        if getattr(sys.modules.get(name), "channel", None) is ringchan.channel
    ]
    print(ringchan.COMPILED, origin)
    """
)


def _env(no_extensions: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RINGCHAN_NO_EXTENSIONS"}
    if no_extensions:
        env["RINGCHAN_NO_EXTENSIONS"] = "1"
    return env


@pytest.mark.skipif(not HAS_SETUP, reason="needs setup.py (a source tree or sdist)")
@pytest.mark.parametrize(
    ("implementation", "no_extensions", "expected"),
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
        timeout=SUBPROCESS_WAIT,
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
        timeout=SUBPROCESS_WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "ringchan._channel_py"]


def test_cpython_without_its_extension_fails_to_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_AS, "cpython", "broken"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_WAIT,
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
    assert any(
        c.startswith("Programming Language :: Python :: Free Threading ::") for c in classifiers
    )
    assert "Programming Language :: Python :: Implementation :: CPython" in classifiers
    assert meta["Requires-Python"] == ">=" + CPYTHONS[0]
    urls = {u.split(",", 1)[0] for u in meta.get_all("Project-URL") or []}
    assert {"Homepage", "Source", "Issues", "Changelog"} <= urls


@pytest.mark.skipif(not HAS_SOURCES, reason="needs the Cython sources")
def test_each_c_header_has_one_cython_declaration_file_named_after_it() -> None:
    package = ROOT / "src" / "ringchan"
    declared: dict[str, set[str]] = {}
    for path in [*package.glob("*.pyx"), *package.glob("*.pxd")]:
        text = path.read_text(encoding="utf-8")
        for header in re.findall(r'^cdef extern from "ringchan/(\w+)\.h"', text, re.M):
            declared.setdefault(header, set()).add(path.name)
    assert declared, "no C header is declared"
    for header, files in declared.items():
        assert (ROOT / "csrc" / "ringchan" / f"{header}.h").is_file(), header
        assert files == {f"_{header}.pxd"}, (header, files)
    assert {p.name for p in package.glob("*.pxd")} == {f"_{h}.pxd" for h in declared}


def test_pre_commit_pins_the_linters_as_the_dev_extra_does() -> None:
    config = ROOT / ".pre-commit-config.yaml"
    if not config.is_file():
        pytest.skip("needs .pre-commit-config.yaml (a checkout)")
    hooks = set(re.findall(r'"([A-Za-z0-9_.-]+==[^"]+)"', config.read_text(encoding="utf-8")))
    dev = {
        r.split(";", 1)[0].strip()
        for r in importlib.metadata.requires("ringchan") or []
        if re.search(r"extra\s*==\s*.dev.", r)
    }
    assert hooks, "no pinned tool in .pre-commit-config.yaml"
    assert hooks <= dev, f"pinned differently from the dev extra: {sorted(hooks - dev)}"


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
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--platform",
            platform,
            "--print-build-identifiers",
            ".",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_WAIT,
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
    found: dict[str, set[str]] = {p: set() for p in ARCHS}
    for runner, arch in rows:
        found[platform_of[runner.split("-")[0]]].add(arch)
    assert found == ARCHS


# --- sdist and wheel contents ------------------------------------------------

#: Files the sdist must hold (more are required below: every tracked source).
SDIST_REQUIRED = {
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "MANIFEST.in",
    "pyproject.toml",
    "setup.py",
    "csrc/ringchan/atomic.h",
    "csrc/ringchan/backoff.h",
    "csrc/ringchan/list.h",
    "csrc/ringchan/park.h",
    "csrc/ringchan/ring.h",
    "csrc/ringchan/pyawait.h",
    "csrc/ringchan/pyloop.h",
    "csrc/ringchan/pyring.h",
    "csrc/tests/test_list.c",
    "csrc/tests/test_ring.c",
    "src/ringchan/__init__.py",
    "src/ringchan/_channel_c.pyx",
    "src/ringchan/_channel_py.py",
    # One Cython declaration file per C header it declares.
    "src/ringchan/_atomic.pxd",
    "src/ringchan/_park.pxd",
    "src/ringchan/_pyawait.pxd",
    "src/ringchan/_pyloop.pxd",
    "src/ringchan/_pyring.pxd",
    "src/ringchan/_ring.pxd",
    "src/ringchan/py.typed",
    "tests/conftest.py",
    "tests/test_distribution.py",
    "benchmarks/compare.py",
    # The examples the README points to, which tests/test_examples.py runs.
    "examples/thread_producer.py",
}

#: What setuptools adds to every sdist: metadata, not project files.
SDIST_METADATA = re.compile(r"PKG-INFO|setup\.cfg|src/ringchan\.egg-info/[^/]+")

#: Generated files, build output and local state: never in the sdist.
SDIST_FORBIDDEN = re.compile(
    r"(^|/)(__pycache__|build|dist|wheelhouse|\.venv[^/]*|\.hypothesis)/"
    r"|\.(pyc|pyo|so|pyd|o|obj)$"
    r"|^src/.*\.(c|html)$"
    r"|^benchmarks/results/"
)

#: Build output and local state of a checkout, left out of the copy the
#: sdist is built from (the files Cython generates stay, as in a checkout).
LOCAL_STATE = (
    ".git",
    ".venv*",
    "build",
    "dist",
    "wheelhouse",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
)

#: Sources: never in a wheel.
WHEEL_FORBIDDEN = re.compile(r"\.(c|h|pyx|pxd)$")


def _sdist_members(path: Path) -> set[str]:
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1, f"sdist has several top folders: {top}"
    return {n.split("/", 1)[1] for n in names}


def _wheel_members(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as whl:
        return {n for n in whl.namelist() if not n.endswith("/")}


def _tracked_sources() -> set[str]:
    """The files git tracks in the folders the sdist carries whole, if git can tell."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return set()
    proc = subprocess.run(
        ["git", "ls-files", "csrc", "src", "tests", "benchmarks", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_WAIT,
    )
    if proc.returncode != 0:
        return set()
    return {n for n in proc.stdout.splitlines() if not n.startswith("benchmarks/results/")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one sdist and the wheels built from it."""
    given = os.environ.get("RINGCHAN_DIST_DIR")
    if given:
        return Path(given)
    if not HAS_SOURCES:
        pytest.skip("needs a source tree, or RINGCHAN_DIST_DIR naming built artifacts")
    missing = [m for m in ("build", "setuptools", "Cython") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs the dev extra to build an sdist and a wheel: {missing}")
    # A copy without build output: setuptools would add to the sdist every
    # file a stale src/ringchan.egg-info lists, hiding a gap in MANIFEST.in.
    tree = tmp_path_factory.mktemp("tree") / "ringchan"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*LOCAL_STATE))
    out = tmp_path_factory.mktemp("dist")
    # No isolation: the dev extra holds the build requirements, and the build
    # needs no download.  python -m build builds the wheel from the sdist.
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=BUILD_WAIT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.mark.timeout(BUILD_WAIT + 60)
def test_sdist_holds_the_sources_and_nothing_generated(dist: Path) -> None:
    (sdist,) = dist.glob("ringchan-*.tar.gz")
    members = _sdist_members(sdist)
    assert not SDIST_REQUIRED - members, f"missing: {sorted(SDIST_REQUIRED - members)}"
    # This very test suite, whatever files it has grown.
    suite = {f"tests/{p.name}" for p in Path(__file__).parent.glob("*.py")}
    assert not suite - members, f"tests missing: {sorted(suite - members)}"
    forbidden = sorted(m for m in members if SDIST_FORBIDDEN.search(m))
    assert not forbidden, f"generated or local files in the sdist: {forbidden}"
    tracked = _tracked_sources()
    if tracked:
        assert not tracked - members, f"tracked but missing: {sorted(tracked - members)}"
        untracked = {
            m
            for m in members - tracked
            if not SDIST_METADATA.fullmatch(m) and m not in SDIST_REQUIRED
        }
        assert not untracked, f"files git does not track: {sorted(untracked)}"


@pytest.mark.timeout(BUILD_WAIT + 60)
def test_wheels_hold_no_sources(dist: Path) -> None:
    (sdist,) = dist.glob("ringchan-*.tar.gz")
    modules = {
        m[len("src/") :]
        for m in _sdist_members(sdist)
        if re.fullmatch(r"src/ringchan/(bench/)?[^/]+\.py", m)
    }
    wheels = sorted(dist.glob("ringchan-*.whl"))
    assert wheels, f"no wheel in {dist}"
    for wheel in wheels:
        members = _wheel_members(wheel)
        compiled = not wheel.name.endswith("-none-any.whl")
        assert not [m for m in members if WHEEL_FORBIDDEN.search(m)], wheel.name
        package = {m for m in members if not re.match(r"ringchan-[^/]+\.dist-info/", m)}
        extensions = {
            m for m in package if re.fullmatch(r"ringchan/_channel_c\.[^/]+\.(so|pyd)", m)
        }
        assert len(extensions) == (1 if compiled else 0), (wheel.name, extensions)
        assert package - extensions == modules | {"ringchan/py.typed"}, wheel.name
