# csrc/ringchan/pyawait.h: the C iterator slot of the channel's awaitables.

from cpython.object cimport PyObject, PyTypeObject


cdef extern from "ringchan/pyawait.h":
    ctypedef int (*rcpy_step_fn)(object self, PyObject **out) except -1
    void rcpy_install_step(PyTypeObject *type, rcpy_step_fn step)
