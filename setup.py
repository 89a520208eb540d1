"""Build of the C channel: src/ringchan/_channel_c.pyx over the ring in csrc/.

RINGCHAN_NO_EXTENSIONS=1 builds a pure-Python install, and so does any
interpreter other than CPython (PyPy, GraalPy), for which the extension,
written against CPython's C API, is not meant.  On CPython a failed compile
fails the install: never a silent fallback to the far slower pure twin.

RINGCHAN_SANITIZE takes a comma-separated list of sanitizers (e.g.
``address,undefined`` or ``thread``) and builds the extension with them and
with debug info, for local runs only.  Other builds leave debug info out
(the interpreter's own flags would put it in), unless RINGCHAN_DEBUG=1.
"""

import os
import sys

from setuptools import Extension, setup

NO_EXTENSIONS = (
    bool(os.environ.get("RINGCHAN_NO_EXTENSIONS"))
    # Same test as ringchan/__init__.py, which then picks the pure twin.
    or sys.implementation.name != "cpython"
)
SANITIZE = os.environ.get("RINGCHAN_SANITIZE", "").strip()
DEBUG = bool(os.environ.get("RINGCHAN_DEBUG"))


def extensions():
    from Cython.Build import cythonize

    if sys.platform == "win32":
        compile_args = ["/O2"]
    else:
        compile_args = ["-O2", "-Wall", "-Wno-unused-function"]
    link_args = []
    if SANITIZE:
        # Findings abort the run instead of scrolling past in the output.
        flags = [f"-fsanitize={SANITIZE}", "-fno-sanitize-recover=all"]
        compile_args += [*flags, "-g", "-O1", "-fno-omit-frame-pointer"]
        link_args += flags
    elif DEBUG:
        compile_args += ["-g"] if sys.platform != "win32" else ["/Zi"]
    elif sys.platform != "win32":
        compile_args += ["-g0"]
    ext = Extension(
        "ringchan._channel_c",
        ["src/ringchan/_channel_c.pyx"],
        include_dirs=["csrc"],
        depends=[
            "csrc/ringchan/atomic.h",
            "csrc/ringchan/backoff.h",
            "csrc/ringchan/list.h",
            "csrc/ringchan/park.h",
            "csrc/ringchan/ring.h",
            "csrc/ringchan/pyawait.h",
            "csrc/ringchan/pyloop.h",
            "csrc/ringchan/pyring.h",
        ],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    return cythonize(
        [ext],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "embedsignature": True,
            # As argument clinic writes it, so that inspect.signature reads it.
            "embedsignature.format": "clinic",
        },
    )


setup(ext_modules=[] if NO_EXTENSIONS else extensions())
