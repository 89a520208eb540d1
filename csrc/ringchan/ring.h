/* Bounded lock-free multi-producer, single-consumer ring of non-NULL pointers.
 *
 * Dmitry Vyukov's bounded queue: every cell carries a sequence number that
 * says whose turn it is.  Cell i is free for the producer claiming position p
 * (p % capacity == i) when seq == 2p, and holds a published item for the
 * consumer at position p when seq == 2p + 1.  A producer claims a position
 * with a CAS on `head`, writes the item, then publishes it with a release
 * store of seq; the consumer reads seq with acquire, takes the item and hands
 * the cell to the next lap with a release store of seq = 2(p + capacity).
 * Vyukov's original counts in steps of one, which makes "published for p" and
 * "free for p + 1" the same number when the capacity is 1; steps of two keep
 * every capacity exact.  Positions are 64-bit and never wrap in practice, so
 * any capacity works, not only powers of two (those just index with a mask
 * instead of a division).
 *
 * Producers may run on any number of threads at once, with or without a GIL.
 * Pops must be serialized by the caller: there is one consumer at a time.
 *
 * The gate.  A channel with permits outstanding must count them against the
 * capacity, which the cells alone cannot do.  The top bit of `head` closes
 * the lock-free path: while it is set, rc_ring_push and rc_ring_push_many
 * refuse (return 0) and the caller takes its slow path, where pushes are
 * serialized by the channel's mutex and made with rc_ring_push_gated after
 * an exact count of the room.  Setting the bit is a CAS on `head`, so every
 * lock-free push either claimed its position before it (and is counted) or
 * sees it.  Without permits the bit is clear and the fast path pays one test
 * of a value it loads anyway.
 *
 * The close.  The next bit of `head` refuses every push, lock-free or
 * gated, for good: rc_ring_close sets it by CAS, as the gate is set, so a
 * push either claimed its position before the close or is refused.  A
 * channel closes its ring when the receiver goes, before it drops what is
 * buffered, so that no push can land in the ring after that drop.
 */
#ifndef RINGCHAN_RING_H
#define RINGCHAN_RING_H

#include <stdint.h>
#include <stdlib.h>

#include "atomic.h"

#define RC_CACHELINE 64

/* The gate and closed bits of head; positions stay below both. */
#define RC_GATE (UINT64_C(1) << 63)
#define RC_CLOSED (UINT64_C(1) << 62)
#define RC_FLAGS (RC_GATE | RC_CLOSED)

#if defined(_WIN32)
#include <malloc.h> /* _aligned_malloc */
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#define RC_ALIGNED(n) __declspec(align(n))
#else
#define RC_ALIGNED(n) __attribute__((aligned(n)))
#endif

typedef struct {
    rc_atomic_u64 seq;
    void *item;
} rc_cell;

typedef struct {
    /* Producers contend on head, the consumer owns tail: each sits alone on
       its cache line, so pushes do not evict the consumer's line and
       neither shares a line with whatever precedes or follows the ring. */
    RC_ALIGNED(RC_CACHELINE) rc_atomic_u64 head;
    RC_ALIGNED(RC_CACHELINE) rc_atomic_u64 tail;
    RC_ALIGNED(RC_CACHELINE) rc_cell *cells;
    uint64_t capacity;
    uint64_t mask; /* capacity - 1 for a power of two, else 0 */
} rc_ring;

/* Memory aligned to a cache line: the alignment of rc_ring is only honoured
   by an allocator that is asked for it. */
static inline void *
rc_aligned_alloc(size_t size)
{
    size = (size + RC_CACHELINE - 1) / RC_CACHELINE * RC_CACHELINE;
#if defined(_WIN32)
    return _aligned_malloc(size, RC_CACHELINE);
#else
    {
        void *p = NULL;
        return posix_memalign(&p, RC_CACHELINE, size) == 0 ? p : NULL;
    }
#endif
}

static inline void
rc_aligned_free(void *p)
{
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* 0 on success, -1 when the cells cannot be allocated. */
static inline int
rc_ring_init(rc_ring *r, uint64_t capacity)
{
    uint64_t i;
    r->cells = NULL;
    r->capacity = 0;
    r->mask = 0;
    rc_atomic_init(&r->head, 0);
    rc_atomic_init(&r->tail, 0);
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(rc_cell)) {
        return -1;
    }
    r->cells = (rc_cell *)rc_aligned_alloc((size_t)capacity * sizeof(rc_cell));
    if (r->cells == NULL) {
        return -1;
    }
    for (i = 0; i < capacity; i++) {
        rc_atomic_init(&r->cells[i].seq, 2 * i);
        r->cells[i].item = NULL;
    }
    r->capacity = capacity;
    r->mask = (capacity & (capacity - 1)) == 0 ? capacity - 1 : 0;
    return 0;
}

/* Frees the cells, not the items: drain the ring first. */
static inline void
rc_ring_free(rc_ring *r)
{
    rc_aligned_free(r->cells);
    r->cells = NULL;
    r->capacity = 0;
}

/* A ring on the heap, aligned to a cache line; NULL when out of memory. */
static inline rc_ring *
rc_ring_new(uint64_t capacity)
{
    rc_ring *r = (rc_ring *)rc_aligned_alloc(sizeof(rc_ring));
    if (r != NULL && rc_ring_init(r, capacity) < 0) {
        rc_aligned_free(r);
        r = NULL;
    }
    return r;
}

/* Frees a ring of rc_ring_new (NULL is fine); drain it first. */
static inline void
rc_ring_delete(rc_ring *r)
{
    if (r != NULL) {
        rc_ring_free(r);
        rc_aligned_free(r);
    }
}

static inline rc_cell *
rc_ring_cell(const rc_ring *r, uint64_t pos)
{
    return &r->cells[r->mask ? (pos & r->mask) : (pos % r->capacity)];
}

/* The sequence number of a cell holding the published item of position pos. */
static inline uint64_t
rc_seq_published(uint64_t pos)
{
    return 2 * pos + 1;
}

/* Appends item (non-NULL).  Returns 1, or 0 when the ring is full, gated
   or closed. */
static inline int
rc_ring_push(rc_ring *r, void *item)
{
    uint64_t pos = rc_load_relaxed(&r->head);
    for (;;) {
        rc_cell *cell;
        if (pos & RC_FLAGS) {
            return 0;
        }
        cell = rc_ring_cell(r, pos);
        int64_t dif = (int64_t)(rc_load_acquire(&cell->seq) - 2 * pos);
        if (dif == 0) {
            /* Relaxed is enough: the cell's seq, not head, orders the item. */
            if (rc_cas_relaxed(&r->head, &pos, pos + 1)) {
                cell->item = item;
                rc_store_release(&cell->seq, rc_seq_published(pos));
                return 1;
            }
        }
        else if (dif < 0) {
            /* The consumer has not yet freed this cell from the last lap. */
            return 0;
        }
        else {
            /* Another producer took pos; start again from the new head. */
            pos = rc_load_relaxed(&r->head);
        }
    }
}

/* Removes and returns the oldest published item, or NULL when there is none.
   Single consumer: calls must not overlap. */
static inline void *
rc_ring_pop(rc_ring *r)
{
    uint64_t pos = rc_load_relaxed(&r->tail);
    rc_cell *cell = rc_ring_cell(r, pos);
    void *item;
    if (rc_load_acquire(&cell->seq) != rc_seq_published(pos)) {
        return NULL;
    }
    item = cell->item;
    cell->item = NULL;
    /* The cell is freed before tail moves past it (release): a gated push
       that has read tail (acquire) finds every cell below it free. */
    rc_store_release(&cell->seq, 2 * (pos + r->capacity));
    rc_store_release(&r->tail, pos + 1);
    return item;
}

/* The oldest published item, left in place, or NULL when there is none.
   Single consumer, as rc_ring_pop: the item stays valid until it pops it. */
static inline void *
rc_ring_peek(const rc_ring *r)
{
    uint64_t pos = rc_load_relaxed(&r->tail);
    rc_cell *cell = rc_ring_cell(r, pos);
    if (rc_load_acquire(&cell->seq) != rc_seq_published(pos)) {
        return NULL;
    }
    return cell->item;
}

/* Appends up to n items (each non-NULL) in order, claiming their positions
   with one CAS.  Returns how many went in: 0 when the ring is full, gated
   or closed.

   The consumer frees cells in position order, so when the last cell of a
   run is free for this lap, every cell before it is too; and the acquire
   load of that cell's seq orders after the consumer's reads of them all. */
static inline size_t
rc_ring_push_many(rc_ring *r, void *const *items, size_t n)
{
    uint64_t pos = rc_load_relaxed(&r->head);
    if (n == 0) {
        return 0;
    }
    for (;;) {
        rc_cell *cell;
        int64_t dif;
        if (pos & RC_FLAGS) {
            return 0;
        }
        cell = rc_ring_cell(r, pos);
        dif = (int64_t)(rc_load_acquire(&cell->seq) - 2 * pos);
        if (dif < 0) {
            return 0;
        }
        if (dif > 0) {
            pos = rc_load_relaxed(&r->head);
            continue;
        }
        {
            /* A stale tail only underestimates the room; a stale pos makes
               the CAS below fail. */
            uint64_t used = pos - rc_load_relaxed(&r->tail);
            uint64_t k = used < r->capacity ? r->capacity - used : 1;
            uint64_t i;
            if (k > n) {
                k = n;
            }
            if (k > 1 && rc_load_acquire(&rc_ring_cell(r, pos + k - 1)->seq)
                             != 2 * (pos + k - 1)) {
                k = 1;
            }
            if (!rc_cas_relaxed(&r->head, &pos, pos + k)) {
                continue;
            }
            for (i = 0; i < k; i++) {
                cell = rc_ring_cell(r, pos + i);
                cell->item = items[i];
                rc_store_release(&cell->seq, rc_seq_published(pos + i));
            }
            return (size_t)k;
        }
    }
}

/* Removes up to n of the oldest published items into out, in order;
   returns how many.  Single consumer, as rc_ring_pop. */
static inline size_t
rc_ring_pop_many(rc_ring *r, void **out, size_t n)
{
    uint64_t pos = rc_load_relaxed(&r->tail);
    size_t i;
    for (i = 0; i < n; i++, pos++) {
        rc_cell *cell = rc_ring_cell(r, pos);
        if (rc_load_acquire(&cell->seq) != rc_seq_published(pos)) {
            break;
        }
        out[i] = cell->item;
        cell->item = NULL;
        rc_store_release(&cell->seq, 2 * (pos + r->capacity));
        rc_store_release(&r->tail, pos + 1);
    }
    return i;
}

/* Items buffered now: claimed positions not yet consumed.  A snapshot that
   may be stale by the time it is read, clamped to [0, capacity]. */
static inline uint64_t
rc_ring_len(const rc_ring *r)
{
    uint64_t tail = rc_load_relaxed(&r->tail);
    uint64_t head = rc_load_relaxed(&r->head) & ~RC_FLAGS;
    int64_t n = (int64_t)(head - tail);
    if (n < 0) {
        return 0;
    }
    return (uint64_t)n > r->capacity ? r->capacity : (uint64_t)n;
}

/* Positions claimed by producers so far: every item ever pushed.  Read
   from the positions themselves, so counting costs the hot path nothing. */
static inline uint64_t
rc_ring_pushed(const rc_ring *r)
{
    return rc_load_relaxed(&r->head) & ~RC_FLAGS;
}

/* Items popped so far. */
static inline uint64_t
rc_ring_popped(const rc_ring *r)
{
    return rc_load_relaxed(&r->tail);
}

/* Whether the gate is set (see the top of this file). */
static inline int
rc_ring_gated(const rc_ring *r)
{
    return (rc_load_relaxed(&r->head) & RC_GATE) != 0;
}

/* Sets the gate; returns the position it shut at.  From then on only
   rc_ring_push_gated appends, so the count below stays exact while the
   caller's lock is held. */
static inline uint64_t
rc_ring_gate(rc_ring *r)
{
    uint64_t head = rc_load_relaxed(&r->head);
    while (!(head & RC_GATE) && !rc_cas_relaxed(&r->head, &head, head | RC_GATE)) {
    }
    return head & ~RC_FLAGS;
}

/* Clears the gate: lock-free pushes resume. */
static inline void
rc_ring_ungate(rc_ring *r)
{
    uint64_t head = rc_load_relaxed(&r->head);
    while ((head & RC_GATE) && !rc_cas_relaxed(&r->head, &head, head & ~RC_GATE)) {
    }
}

/* Items buffered, counted for the gated path: exact in head, which only the
   lock holder moves, and an upper bound in tail, read with acquire so that
   every cell below it is seen free. */
static inline uint64_t
rc_ring_gated_len(const rc_ring *r)
{
    uint64_t tail = rc_load_acquire(&r->tail);
    return (rc_load_relaxed(&r->head) & ~RC_FLAGS) - tail;
}

/* Appends item through the closed gate.  The caller holds the lock that
   serializes gated pushes and has counted room (rc_ring_gated_len): the
   cell is then free.  Returns 0 if the ring is closed, or if that count
   was wrong. */
static inline int
rc_ring_push_gated(rc_ring *r, void *item)
{
    uint64_t head = rc_load_relaxed(&r->head);
    uint64_t pos = head & ~RC_FLAGS;
    rc_cell *cell = rc_ring_cell(r, pos);
    if ((head & RC_FLAGS) != RC_GATE || rc_load_acquire(&cell->seq) != 2 * pos) {
        return 0;
    }
    /* No lock-free push claims while the gate is set, and the lock holder
       is the only gated pusher: a plain store of head would do, but the
       CAS keeps every write to head one kind. */
    if (!rc_cas_relaxed(&r->head, &head, (pos + 1) | RC_GATE)) {
        return 0;
    }
    cell->item = item;
    rc_store_release(&cell->seq, rc_seq_published(pos));
    return 1;
}

/* Refuses every push from now on (see the top of this file). */
static inline void
rc_ring_close(rc_ring *r)
{
    uint64_t head = rc_load_relaxed(&r->head);
    while (!(head & RC_CLOSED) && !rc_cas_relaxed(&r->head, &head, head | RC_CLOSED)) {
    }
}

/* Whether rc_ring_close has run. */
static inline int
rc_ring_closed(const rc_ring *r)
{
    return (rc_load_relaxed(&r->head) & RC_CLOSED) != 0;
}

/* Free cells now, as seen by a producer; same caveats as rc_ring_len. */
static inline uint64_t
rc_ring_room(const rc_ring *r)
{
    return r->capacity - rc_ring_len(r);
}

#endif /* RINGCHAN_RING_H */
