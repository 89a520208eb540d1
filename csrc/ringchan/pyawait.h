/* The iterator slot of the channel's awaitables, in C.
 *
 * `await op` drives op's tp_iternext: it returns the future to wait on while
 * the operation is parked, and finishes with StopIteration(result).  Raising
 * that from Cython costs more than the whole channel operation: Cython
 * instantiates the exception and adds a traceback frame to it.  The slot
 * below raises no exception at all for a result of None; on 3.10/3.11 it
 * raises the bare value, which the interpreter unpacks without creating the
 * exception object, and on 3.12+ it builds the instance directly.
 *
 * On 3.10 and 3.11 the interpreter drives awaitables through am_send when
 * a type has it, which hands the result back without any exception; 3.12
 * and later call tp_iternext.  Both slots are installed.
 *
 * The operation itself stays in Cython: rcpy_install_step() puts slots that
 * call `step` on the type.  step returns 0 with the result in *out (a new
 * reference) when the operation finished, 1 with the future to yield in *out
 * when it parked, and -1 with an exception set.
 */
#ifndef RINGCHAN_PYAWAIT_H
#define RINGCHAN_PYAWAIT_H

#include <Python.h>

typedef int (*rcpy_step_fn)(PyObject *self, PyObject **out);

static rcpy_step_fn rcpy_step = NULL;

/* Ends an iteration with StopIteration(value); steals value, returns NULL. */
static PyObject *
rcpy_stop_iteration(PyObject *value)
{
    if (value == Py_None) {
        /* NULL with no exception set is StopIteration(None) to every caller. */
        Py_DECREF(value);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    {
        /* 3.12 instantiates every exception it raises.  Built here directly,
           the instance skips the type call, __new__ and __init__ argument
           parsing, which cost several times the channel operation. */
        PyTypeObject *type = (PyTypeObject *)PyExc_StopIteration;
        PyStopIterationObject *exc = (PyStopIterationObject *)type->tp_alloc(type, 0);
        if (exc == NULL) {
            Py_DECREF(value);
            return NULL;
        }
        exc->args = PyTuple_Pack(1, value);
        exc->value = value;
        if (exc->args == NULL) {
            Py_DECREF(exc);
            return NULL;
        }
        PyErr_SetRaisedException((PyObject *)exc);
    }
#else
    if (!PyTuple_Check(value) && !PyExceptionInstance_Check(value)) {
        /* Left unnormalized, as the interpreter's own generators leave it: a
           tuple or an exception would be taken for the exception's arguments. */
        PyErr_SetObject(PyExc_StopIteration, value);
        Py_DECREF(value);
    }
    else {
        PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
        Py_DECREF(value);
        if (exc != NULL) {
            PyErr_SetObject(PyExc_StopIteration, exc);
            Py_DECREF(exc);
        }
    }
#endif
    return NULL;
}

static PyObject *
rcpy_step_iternext(PyObject *self)
{
    PyObject *out = NULL;
    switch (rcpy_step(self, &out)) {
    case 0:
        return rcpy_stop_iteration(out);
    case 1:
        return out;
    default:
        return NULL;
    }
}

#if PY_VERSION_HEX < 0x030C0000
static PySendResult
rcpy_step_send(PyObject *self, PyObject *Py_UNUSED(value), PyObject **result)
{
    /* Like the awaitables' send(): the value a task sends in is always None. */
    switch (rcpy_step(self, result)) {
    case 0:
        return PYGEN_RETURN;
    case 1:
        return PYGEN_NEXT;
    default:
        *result = NULL;
        return PYGEN_ERROR;
    }
}
#endif

/* Makes `step` drive type, a final type already made ready with __await__. */
static inline void
rcpy_install_step(PyTypeObject *type, rcpy_step_fn step)
{
    rcpy_step = step;
    type->tp_iternext = rcpy_step_iternext;
#if PY_VERSION_HEX < 0x030C0000
    type->tp_as_async->am_send = rcpy_step_send;
#endif
}

#endif /* RINGCHAN_PYAWAIT_H */
