"""The C ring and the C list alone, without Python or a GIL:
csrc/tests/test_ring.c and csrc/tests/test_list.c.

Several producer threads and one consumer; each program checks that every
item arrives once, in order per producer (test_list.c also runs its
single-threaded edge cases).  Built and run plain, under ThreadSanitizer,
and under AddressSanitizer + UndefinedBehaviorSanitizer.  A sanitizer
flavour is skipped only when the compiler cannot build even an empty
program with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support import ROOT

CSRC = ROOT / "csrc"
SOURCE = CSRC / "tests" / "test_ring.c"
LIST_SOURCE = CSRC / "tests" / "test_list.c"
# Enough for many laps of every ring; sanitizers and a busy machine slow the
# spinning producers a lot, hence the small count and the larger time limit.
ITEMS_PER_PRODUCER = "5000"
# The list's producers never wait for room, so more items cost less: enough
# for hundreds of blocks, or thousands with the small ones.
LIST_ITEMS_PER_PRODUCER = "20000"
# The tests in test_list.c: each prints a line ending in ": ok" once passed.
LIST_TESTS = 11

# A sanitizer runtime preloaded into this interpreter (as in a sanitized build
# of the extension) must not leak into the compiler or the test program.
ENV = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}

pytestmark = [
    pytest.mark.c_extension,
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform == "win32", reason="the C test uses pthreads"),
    pytest.mark.skipif(not SOURCE.exists(), reason="needs a source checkout (csrc/)"),
]


def _compiler() -> str:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) on PATH")
    return cc


def _build(cc: str, flags: list[str], source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            cc,
            "-O1",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pthread",
            *flags,
            f"-I{CSRC}",
            str(source),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )


def _build_and_run(
    flags: list[str], source: Path, items: str, tmp_path: Path
) -> subprocess.CompletedProcess:
    cc = _compiler()
    sanitizers = [f for f in flags if f.startswith("-fsanitize")]
    if sanitizers:
        probe = tmp_path / "probe.c"
        probe.write_text("int main(void) { return 0; }\n")
        if _build(cc, sanitizers, probe, tmp_path / "probe").returncode != 0:
            pytest.skip(f"{cc} cannot build with {' '.join(sanitizers)} here")
    binary = tmp_path / source.stem
    build = _build(cc, flags, source, binary)
    assert build.returncode == 0, build.stderr
    result = subprocess.run(
        [str(binary), items],
        capture_output=True,
        text=True,
        timeout=150,
        env=ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: ThreadSanitizer" not in result.stderr, result.stderr
    return result


SANITIZERS = [
    pytest.param([], id="plain"),
    pytest.param(["-fsanitize=thread"], id="tsan"),
    pytest.param(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"], id="asan-ubsan"),
]


@pytest.mark.parametrize("flags", SANITIZERS)
def test_ring_threads(flags: list[str], tmp_path: Path) -> None:
    result = _build_and_run(flags, SOURCE, ITEMS_PER_PRODUCER, tmp_path)
    assert result.stdout.count("none lost") == 5, result.stdout


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param([], id="blocks63"),
        # Blocks of 3 slots: producers race for a block's last slot, wait on
        # its installation and hand back unused blocks all the time.
        pytest.param(["-DRC_LIST_LAP=4"], id="blocks3"),
    ],
)
@pytest.mark.parametrize("flags", SANITIZERS)
def test_list_threads(flags: list[str], blocks: list[str], tmp_path: Path) -> None:
    result = _build_and_run([*flags, *blocks], LIST_SOURCE, LIST_ITEMS_PER_PRODUCER, tmp_path)
    assert result.stdout.count(": ok") == LIST_TESTS, result.stdout
