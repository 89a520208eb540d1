/* What the CPython side needs from a ring of owned PyObject references:
 * cycle-GC traversal and clearing of the buffered items.
 *
 * The ring lives inside the extension's channel core object at a fixed
 * offset.  rcpy_install_gc() wraps the type's tp_traverse/tp_clear so the
 * collector also sees the items: a channel holding an object that references
 * the channel is then collectable.
 */
#ifndef RINGCHAN_PYRING_H
#define RINGCHAN_PYRING_H

#include <Python.h>

#include "ring.h"

static traverseproc rcpy_base_traverse = NULL;
static inquiry rcpy_base_clear = NULL;
static Py_ssize_t rcpy_ring_offset = 0;

static inline rc_ring *
rcpy_ring_of(PyObject *self)
{
    return (rc_ring *)((char *)self + rcpy_ring_offset);
}

/* Drops every buffered item; returns how many were dropped.  The pops happen
   before the decrefs so that a finalizer run by a decref sees a ring that is
   already consistent. */
static inline Py_ssize_t
rcpy_ring_clear(rc_ring *r)
{
    Py_ssize_t n = 0;
    PyObject *item;
    if (r->cells == NULL) {
        return 0;
    }
    while ((item = (PyObject *)rc_ring_pop(r)) != NULL) {
        Py_DECREF(item);
        n++;
    }
    return n;
}

static int
rcpy_traverse(PyObject *self, visitproc visit, void *arg)
{
    rc_ring *r = rcpy_ring_of(self);
    if (rcpy_base_traverse != NULL) {
        int err = rcpy_base_traverse(self, visit, arg);
        if (err) {
            return err;
        }
    }
    if (r->cells != NULL) {
        /* The collector runs with the world stopped, so the ring is still. */
        uint64_t pos = rc_load_relaxed(&r->tail);
        uint64_t head = rc_load_relaxed(&r->head);
        for (; pos != head; pos++) {
            rc_cell *cell = rc_ring_cell(r, pos);
            if (rc_load_acquire(&cell->seq) == rc_seq_published(pos)) {
                Py_VISIT((PyObject *)cell->item);
            }
        }
    }
    return 0;
}

static int
rcpy_clear(PyObject *self)
{
    rcpy_ring_clear(rcpy_ring_of(self));
    return rcpy_base_clear != NULL ? rcpy_base_clear(self) : 0;
}

static inline void
rcpy_install_gc(PyTypeObject *type, Py_ssize_t ring_offset)
{
    rcpy_ring_offset = ring_offset;
    rcpy_base_traverse = type->tp_traverse;
    rcpy_base_clear = type->tp_clear;
    type->tp_traverse = rcpy_traverse;
    type->tp_clear = rcpy_clear;
}

#endif /* RINGCHAN_PYRING_H */
