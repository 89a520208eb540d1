"""The C ring alone, without Python or a GIL: csrc/tests/test_ring.c.

Several producer threads and one consumer; the program checks that every
item arrives once, in order per producer.  Built and run plain, under
ThreadSanitizer, and under AddressSanitizer + UndefinedBehaviorSanitizer.  A
sanitizer flavour is skipped only when the compiler cannot build even an
empty program with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import List

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
SOURCE = CSRC / "tests" / "test_ring.c"
# Enough for many laps of every ring; sanitizers and a busy machine slow the
# spinning producers a lot, hence the small count and the larger time limit.
ITEMS_PER_PRODUCER = "5000"

# A sanitizer runtime preloaded into this interpreter (as in a sanitized build
# of the extension) must not leak into the compiler or the test program.
ENV = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(sys.platform == "win32", reason="the C test uses pthreads"),
    pytest.mark.skipif(not SOURCE.exists(), reason="needs a source checkout (csrc/)"),
]


def _compiler() -> str:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) on PATH")
    return cc


def _build(cc: str, flags: List[str], source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [cc, "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", *flags,
         f"-I{CSRC}", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="plain"),
        pytest.param(["-fsanitize=thread"], id="tsan"),
        pytest.param(
            ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"], id="asan-ubsan"
        ),
    ],
)
def test_ring_threads(flags: List[str], tmp_path: Path) -> None:
    cc = _compiler()
    if flags:
        probe = tmp_path / "probe.c"
        probe.write_text("int main(void) { return 0; }\n")
        if _build(cc, flags, probe, tmp_path / "probe").returncode != 0:
            pytest.skip(f"{cc} cannot build with {' '.join(flags)} here")
    binary = tmp_path / "test_ring"
    build = _build(cc, flags, SOURCE, binary)
    assert build.returncode == 0, build.stderr
    result = subprocess.run(
        [str(binary), ITEMS_PER_PRODUCER],
        capture_output=True,
        text=True,
        timeout=150,
        env=ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: ThreadSanitizer" not in result.stderr, result.stderr
    assert result.stdout.count("none lost") == 5, result.stdout
