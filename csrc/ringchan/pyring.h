/* What the CPython side needs from a channel's buffer of owned PyObject
 * references: cycle-GC traversal and clearing of the buffered items, runs of
 * items moved to and from lists, and the one barrier the wake-up protocol
 * needs.
 *
 * A channel's buffer is a bounded ring (ring.h) or, for an unbounded
 * channel, a list of blocks (list.h): rcpy_buf holds one of the two, and
 * each rcpy_buf_* operation tests which, a branch that always goes the same
 * way for a given channel.
 *
 * The extension's channel core object holds its rcpy_buf at a fixed offset.
 * rcpy_install_gc() wraps the type's tp_traverse/tp_clear so the collector
 * also sees the items: a channel holding an object that references the
 * channel is then collectable.
 */
#ifndef RINGCHAN_PYRING_H
#define RINGCHAN_PYRING_H

#include <Python.h>

#include "ring.h"

/* An unbounded channel's blocks come from Python's object allocator.  A
   block is 512 bytes, pymalloc's largest small size, so blocks fill arenas
   that go back to the system once empty: the memory of a drained burst is
   returned even while the channel stays open, which blocks from malloc are
   not (glibc gives back only the top of its heap, where the channel's last
   block sits).  tracemalloc traces it too.  It needs the thread attached
   (the GIL held, on a GIL build), as every push and pop has it. */
#define RC_LIST_MALLOC(size) PyMem_Malloc(size)
#define RC_LIST_FREE(p) PyMem_Free(p)
#include "list.h"

typedef struct {
    rc_ring *ring; /* a bounded channel's, else NULL */
    rc_list *list; /* an unbounded channel's, else NULL */
} rcpy_buf;

/* Whether the channel is unbounded: its buffer is a list, not a ring.  Every
   operation below goes one way or the other on it. */
static inline int
rcpy_buf_unbounded(const rcpy_buf *b)
{
    return b->list != NULL;
}

static traverseproc rcpy_base_traverse = NULL;
static inquiry rcpy_base_clear = NULL;
static Py_ssize_t rcpy_buf_offset = 0;

static inline rcpy_buf *
rcpy_buf_of(PyObject *self)
{
    return (rcpy_buf *)((char *)self + rcpy_buf_offset);
}

/* A bounded buffer (capacity >= 1) or an unbounded one (capacity 0);
   0, or -1 when out of memory. */
static inline int
rcpy_buf_init(rcpy_buf *b, uint64_t capacity)
{
    b->ring = NULL;
    b->list = NULL;
    if (capacity) {
        b->ring = rc_ring_new(capacity);
        return b->ring != NULL ? 0 : -1;
    }
    b->list = rc_list_new();
    return b->list != NULL ? 0 : -1;
}

/* Frees the buffer itself, not the items: clear it first. */
static inline void
rcpy_buf_free(rcpy_buf *b)
{
    if (b->ring != NULL) {
        rc_ring_delete(b->ring);
        b->ring = NULL;
    }
    if (b->list != NULL) {
        rc_list_delete(b->list);
        b->list = NULL;
    }
}

static inline int
rcpy_buf_push(rcpy_buf *b, void *item)
{
    return rcpy_buf_unbounded(b) ? rc_list_push(b->list, item) : rc_ring_push(b->ring, item);
}

static inline size_t
rcpy_buf_push_many(rcpy_buf *b, void *const *items, size_t n)
{
    return rcpy_buf_unbounded(b) ? rc_list_push_many(b->list, items, n)
                                 : rc_ring_push_many(b->ring, items, n);
}

static inline void *
rcpy_buf_pop(rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_pop(b->list) : rc_ring_pop(b->ring);
}

static inline size_t
rcpy_buf_pop_many(rcpy_buf *b, void **out, size_t n)
{
    return rcpy_buf_unbounded(b) ? rc_list_pop_many(b->list, out, n)
                                 : rc_ring_pop_many(b->ring, out, n);
}

static inline void *
rcpy_buf_peek(const rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_peek(b->list) : rc_ring_peek(b->ring);
}

static inline uint64_t
rcpy_buf_len(const rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_len(b->list) : rc_ring_len(b->ring);
}

static inline uint64_t
rcpy_buf_pushed(const rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_pushed(b->list) : rc_ring_pushed(b->ring);
}

static inline uint64_t
rcpy_buf_popped(const rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_popped(b->list) : rc_ring_popped(b->ring);
}

/* Refuses every push from now on, lock-free or gated (ring.h, list.h): the
   point after which no send can succeed. */
static inline void
rcpy_buf_close(rcpy_buf *b)
{
    if (rcpy_buf_unbounded(b)) {
        rc_list_close(b->list);
    }
    else {
        rc_ring_close(b->ring);
    }
}

/* Whether rcpy_buf_close has run: a refused push was refused for good. */
static inline int
rcpy_buf_closed(const rcpy_buf *b)
{
    return rcpy_buf_unbounded(b) ? rc_list_closed(b->list) : rc_ring_closed(b->ring);
}

/* Whether permits have shut a bounded ring's lock-free path (ring.h). */
static inline int
rcpy_buf_gated(const rcpy_buf *b)
{
    return !rcpy_buf_unbounded(b) && rc_ring_gated(b->ring);
}

#ifdef Py_GIL_DISABLED
#define RCPY_FREE_THREADED 1
#else
#define RCPY_FREE_THREADED 0
#endif

/* The channel's mutex.  It guards sections that run no Python code (no call,
   no allocation, no reference dropped that could be the last).  Without a
   GIL it is a PyMutex.  With one, the GIL alone makes such a section atomic,
   since only running Python code lets the GIL go: no lock is needed, and a
   park, which takes the mutex three times, costs nothing more for it. */
#if RCPY_FREE_THREADED
typedef PyMutex rcpy_mutex;
#define rcpy_mutex_lock(m) PyMutex_Lock(m)
#define rcpy_mutex_unlock(m) PyMutex_Unlock(m)
#else
typedef struct { char unused; } rcpy_mutex;
#define rcpy_mutex_lock(m) ((void)(m))
#define rcpy_mutex_unlock(m) ((void)(m))
#endif

/* Makes op's reference count shared by every thread, as CPython does for
   the objects of a thread that has exited; a no-op with a GIL.  Without a
   GIL, an object is owned by the thread that made it, and a last reference
   dropped on another thread only queues it for the owner to free, when the
   owner next runs Python code: a handle dropped there would close only
   then, and an owner blocked in select() may not run for a long time.
   Shared, the object is freed, and the handle closed, by whichever thread
   drops the last reference.  Call it on a new object that no other thread
   can see yet. */
static inline void
rcpy_share_refcount(PyObject *op)
{
#if RCPY_FREE_THREADED
    Py_ssize_t local = (Py_ssize_t)op->ob_ref_local;
    op->ob_ref_local = 0;
    op->ob_tid = 0;
    _Py_atomic_store_ssize_relaxed(&op->ob_ref_shared,
                                   _Py_REF_SHARED(local, _Py_REF_MERGED));
#else
    (void)op;
#endif
}

/* Between a side's store that makes its state visible (an item published,
   a waiter registered) and its load of the other side's state.  Without a
   GIL both sides run at once, and a store followed by a load may be
   reordered: each could then miss the other, and a wake-up would be lost.
   With a GIL the two sequences never overlap, so no barrier is needed. */
static inline void
rcpy_fence(void)
{
#if RCPY_FREE_THREADED
    rc_fence_seq_cst();
#endif
}

/* Drops every buffered item; returns how many were dropped.  The pops happen
   before the decrefs so that a finalizer run by a decref sees a ring that is
   already consistent. */
static inline Py_ssize_t
rcpy_buf_clear(rcpy_buf *b)
{
    Py_ssize_t n = 0;
    PyObject *item;
    if (b->ring == NULL && b->list == NULL) {
        return 0;
    }
    while ((item = (PyObject *)rcpy_buf_pop(b)) != NULL) {
        Py_DECREF(item);
        n++;
    }
    return n;
}

/* Pushes items of a list from start on while there is room, in order, the
   ring taking a reference to each; returns how many went in.  The GIL keeps
   the list still (a free-threaded caller holds the list's critical
   section).  References are taken before the positions are claimed,
   so nothing runs between claiming and publishing; at most the room seen
   up front is tried, so a nearly full ring costs little. */
static inline Py_ssize_t
rcpy_buf_push_list(rcpy_buf *b, PyObject *list, Py_ssize_t start)
{
    PyObject **items = PySequence_Fast_ITEMS(list) + start;
    Py_ssize_t n = PyList_GET_SIZE(list) - start;
    Py_ssize_t room = rcpy_buf_unbounded(b) ? n : (Py_ssize_t)rc_ring_room(b->ring);
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
           && (k = rcpy_buf_push_many(b, (void *const *)(items + pushed),
                                      (size_t)(n - pushed))) > 0) {
        pushed += (Py_ssize_t)k;
    }
    for (i = pushed; i < n; i++) {
        Py_DECREF(items[i]);
    }
    return pushed;
}

/* Fills out, a new list from PyList_New(n), with up to n of the oldest items
   and returns how many.  The list is made by the caller beforehand: making
   it may run a collection, and with it finalizers, which must not run in
   the middle of a receive.  A claimed item may not be published yet, so
   fewer may come out than the caller counted; the list is then shortened. */
static inline Py_ssize_t
rcpy_buf_pop_into(rcpy_buf *b, PyObject *out)
{
    Py_ssize_t n = PyList_GET_SIZE(out), got;
    if (n == 0) {
        return 0;
    }
    got = (Py_ssize_t)rcpy_buf_pop_many(b, (void **)PySequence_Fast_ITEMS(out), (size_t)n);
    if (got < n) {
        /* The slots past got are still NULL from PyList_New, so the size can
           simply be lowered: resizing the list could allocate, and fail. */
        Py_SET_SIZE(out, got);
    }
    return got;
}

/* rc_list_visit's callback: (visit, arg) of the collector. */
typedef struct {
    visitproc visit;
    void *arg;
} rcpy_visit_args;

static int
rcpy_visit_item(void *item, void *arg)
{
    rcpy_visit_args *v = (rcpy_visit_args *)arg;
    return v->visit((PyObject *)item, v->arg);
}

static int
rcpy_traverse(PyObject *self, visitproc visit, void *arg)
{
    rcpy_buf *b = rcpy_buf_of(self);
    rc_ring *r = b->ring;
    if (rcpy_base_traverse != NULL) {
        int err = rcpy_base_traverse(self, visit, arg);
        if (err) {
            return err;
        }
    }
    /* The collector runs with the world stopped, so the buffer is still. */
    if (rcpy_buf_unbounded(b)) {
        rcpy_visit_args v = {visit, arg};
        return rc_list_visit(b->list, rcpy_visit_item, &v);
    }
    if (r != NULL && r->cells != NULL) {
        uint64_t pos = rc_load_relaxed(&r->tail);
        uint64_t head = rc_ring_pushed(r);
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
    rcpy_buf_clear(rcpy_buf_of(self));
    return rcpy_base_clear != NULL ? rcpy_base_clear(self) : 0;
}

static inline void
rcpy_install_gc(PyTypeObject *type, Py_ssize_t buf_offset)
{
    rcpy_buf_offset = buf_offset;
    rcpy_base_traverse = type->tp_traverse;
    rcpy_base_clear = type->tp_clear;
    type->tp_traverse = rcpy_traverse;
    type->tp_clear = rcpy_clear;
}

#endif /* RINGCHAN_PYRING_H */
