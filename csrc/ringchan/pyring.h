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

/* Pushes items of a list from start on while there is room, in order, the
   ring taking a reference to each; returns how many went in.  The GIL keeps
   the list still.  References are taken before the positions are claimed,
   so nothing runs between claiming and publishing; at most the room seen
   up front is tried, so a nearly full ring costs little. */
static inline Py_ssize_t
rcpy_ring_push_list(rc_ring *r, PyObject *list, Py_ssize_t start)
{
    PyObject **items = PySequence_Fast_ITEMS(list) + start;
    Py_ssize_t n = PyList_GET_SIZE(list) - start;
    Py_ssize_t room = (Py_ssize_t)rc_ring_room(r);
    Py_ssize_t pushed = 0, i;
    size_t k;
    if (n > room) {
        /* The room may have grown since: one more item is always worth a try. */
        n = room > 0 ? room : 1;
    }
    for (i = 0; i < n; i++) {
        Py_INCREF(items[i]);
    }
    while (pushed < n
           && (k = rc_ring_push_many(r, (void *const *)(items + pushed),
                                     (size_t)(n - pushed))) > 0) {
        pushed += (Py_ssize_t)k;
    }
    for (i = pushed; i < n; i++) {
        Py_DECREF(items[i]);
    }
    return pushed;
}

/* A new list of up to n of the oldest items, maybe empty; NULL on error. */
static inline PyObject *
rcpy_ring_pop_list(rc_ring *r, Py_ssize_t n)
{
    Py_ssize_t ready = (Py_ssize_t)rc_ring_len(r), got, i;
    PyObject *list;
    if (ready > n) {
        ready = n;
    }
    /* Counted before the allocation: a collection it triggers may run a
       finalizer that receives, and a claimed item may not be published yet,
       so fewer may come out than were counted. */
    list = PyList_New(ready);
    if (list == NULL || ready == 0) {
        return list;
    }
    got = (Py_ssize_t)rc_ring_pop_many(r, (void **)PySequence_Fast_ITEMS(list),
                                       (size_t)ready);
    if (got < ready) {
        for (i = got; i < ready; i++) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(list, i, Py_None);
        }
        /* Shrinking a list does not allocate, so cannot fail and lose items. */
        (void)PyList_SetSlice(list, got, ready, NULL);
    }
    return list;
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
