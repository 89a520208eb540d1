/* The asyncio event loop running in the calling thread: asked on every
 * blocking call, so that one made from a coroutine fails instead of freezing
 * its loop, and whenever a task parks.
 *
 * asyncio._get_running_loop is a METH_NOARGS builtin of the _asyncio
 * accelerator: calling its C function directly skips the generic call
 * machinery, which costs more than the question itself.  Any other callable
 * (an interpreter without the accelerator) is called the ordinary way.
 */
#ifndef RINGCHAN_PYLOOP_H
#define RINGCHAN_PYLOOP_H

#include <Python.h>

static PyObject *rcpy_running_loop_getter = NULL;
static PyCFunction rcpy_running_loop_fn = NULL;
static PyObject *rcpy_running_loop_self = NULL;

#if PY_VERSION_HEX < 0x030D0000
/* Up to 3.12, the accelerator keeps each thread's running loop under this
   key of the thread-state dict, from the first time a loop runs in the
   thread on: a thread whose dict lacks the key has never run one.  Blocking
   calls come from such threads, so they are answered without the call. */
#define RCPY_LOOP_KEY "__asyncio_running_event_loop__"
static PyObject *rcpy_loop_key = NULL;

/* The last answer in this thread, and the state of the thread-state dict
   it was read from: setting or clearing the running loop stores a new
   value under the key, which changes the dict's version tag, and every
   dict gets a tag of its own from a global counter, so an unchanged
   (dict, tag) pair means an unchanged answer.  A thread calling in a loop
   then pays a compare, not a dict lookup, per call. */
#if defined(_MSC_VER) && !defined(__clang__)
#define RCPY_THREAD_LOCAL __declspec(thread)
#else
#define RCPY_THREAD_LOCAL _Thread_local
#endif
static RCPY_THREAD_LOCAL PyObject *rcpy_loop_dict = NULL;
static RCPY_THREAD_LOCAL uint64_t rcpy_loop_dict_tag = 0;
static RCPY_THREAD_LOCAL int rcpy_loop_answer = 0;

/* ma_version_tag is deprecated in 3.12, not gone. */
static inline uint64_t
rcpy_dict_tag(PyObject *dict)
{
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    return ((PyDictObject *)dict)->ma_version_tag;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
}
#endif

/* getter: asyncio._get_running_loop; a reference is kept for good. */
static inline void
rcpy_set_running_loop_getter(PyObject *getter)
{
    Py_INCREF(getter);
    rcpy_running_loop_getter = getter;
    if (PyCFunction_Check(getter)
        && (PyCFunction_GET_FLAGS(getter) & ~METH_COEXIST) == METH_NOARGS) {
        rcpy_running_loop_fn = PyCFunction_GET_FUNCTION(getter);
        rcpy_running_loop_self = PyCFunction_GET_SELF(getter);
#if PY_VERSION_HEX < 0x030D0000
        /* Without the key, the question is only ever asked of asyncio. */
        rcpy_loop_key = PyUnicode_InternFromString(RCPY_LOOP_KEY);
        if (rcpy_loop_key == NULL) {
            PyErr_Clear();
        }
#endif
    }
}

/* The event loop running in this thread (a new reference), or None. */
static inline PyObject *
rcpy_running_loop(void)
{
    if (rcpy_running_loop_fn != NULL) {
        return rcpy_running_loop_fn(rcpy_running_loop_self, NULL);
    }
    return PyObject_CallNoArgs(rcpy_running_loop_getter);
}

/* 1 when an event loop runs in this thread, 0 when none does, -1 on error. */
static inline int
rcpy_loop_running(void)
{
    PyObject *loop;
    int running;
#if PY_VERSION_HEX < 0x030D0000
    PyObject *dict = NULL;
    uint64_t tag = 0;
    if (rcpy_loop_key != NULL) {
        dict = PyThreadState_GetDict();
        if (dict == NULL) {
            return 0;
        }
        tag = rcpy_dict_tag(dict);
        if (dict == rcpy_loop_dict && tag == rcpy_loop_dict_tag) {
            return rcpy_loop_answer;
        }
        if (PyDict_GetItemWithError(dict, rcpy_loop_key) == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            running = 0;
            goto answer;
        }
    }
#endif
    loop = rcpy_running_loop();
    if (loop == NULL) {
        return -1;
    }
    running = loop != Py_None;
    Py_DECREF(loop);
#if PY_VERSION_HEX < 0x030D0000
answer:
    if (dict != NULL) {
        rcpy_loop_dict = dict;
        rcpy_loop_dict_tag = tag;
        rcpy_loop_answer = running;
    }
#endif
    return running;
}

/* Hands exc to sys.unraisablehook: an error that cannot be raised where it
   happened, because the operation it interrupted has already succeeded. */
static inline void
rcpy_write_unraisable(PyObject *exc, PyObject *context)
{
    PyObject *type = (PyObject *)Py_TYPE(exc);
    Py_INCREF(type);
    Py_INCREF(exc);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
    PyErr_WriteUnraisable(context);
}

#endif /* RINGCHAN_PYLOOP_H */
