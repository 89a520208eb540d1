/* Unbounded lock-free multi-producer, single-consumer queue of non-NULL
 * pointers: a linked list of fixed-size blocks.
 *
 * The design of crossbeam-channel's list flavour.  Positions count up from
 * 0 in laps of RC_LIST_LAP; a block holds one lap, RC_LIST_SLOTS = LAP - 1
 * slots, and the lap's last position is no slot but a marker: `tail` rests
 * on it while the producer that claimed the block's last slot installs the
 * next block.  A producer claims a run of positions in the tail block with
 * one CAS on `tail`, writes the items and publishes each with a release
 * store; a slot's item is its "written" state, since items are never NULL.
 * The consumer reads the slot at `head` with acquire and moves on; it owns
 * `head` and its block alone.
 *
 * The producer whose run takes a block's last slot gets the next block
 * before its CAS (the spare, or a new allocation), so no one waits on an
 * allocation, and a failed one leaves the list unchanged.  After its CAS it
 * links the block, points `tail_block` at it and moves `tail` past the
 * marker.  Producers that find `tail` on the marker wait for those three
 * stores: the one wait in a push, and the price of the reclamation below,
 * since a producer that helped install would touch a block it holds no
 * slot of.
 *
 * Blocks are freed by the consumer once it has taken their last slot, and
 * then no producer can touch them: a producer dereferences a block only
 * after its CAS won positions in it, a block's positions are all claimed
 * before the consumer passes it (tail only grows, so no later CAS can win
 * one), each winner's last access to the block is the release store of its
 * item, which the consumer has read, and the winner of the last slot links
 * the next block before that store.  One passed block is kept as a spare
 * for the producers, so that a steady stream allocates nothing.
 *
 * The close.  The top bit of `tail` refuses every push for good:
 * rc_list_close sets it by CAS, so a push either claimed its positions
 * before the close or is refused.  It waits while `tail` rests on a marker,
 * so that the installer's plain store of `tail` never drops the bit.
 *
 * Producers may run on any number of threads at once, with or without a
 * GIL.  Pops must be serialized by the caller: there is one consumer at a
 * time.  Positions are 64-bit and never wrap in practice.
 */
#ifndef RINGCHAN_LIST_H
#define RINGCHAN_LIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "backoff.h"

/* Blocks go through these so that an embedder's allocator (Python's, which
   tracemalloc traces) serves them.  Any alignment that suits a pointer
   will do: the list pads instead of aligning. */
#if defined(RC_LIST_MALLOC) != defined(RC_LIST_FREE)
#error "define both RC_LIST_MALLOC and RC_LIST_FREE, or neither"
#endif
#ifndef RC_LIST_MALLOC
#define RC_LIST_MALLOC(size) malloc(size)
#define RC_LIST_FREE(p) free(p)
#endif

/* 64 keeps a block, the link and 63 slots, at 512 bytes on 64-bit targets. */
#ifndef RC_LIST_LAP
#define RC_LIST_LAP 64
#endif
#if RC_LIST_LAP < 2 || (RC_LIST_LAP & (RC_LIST_LAP - 1)) != 0
#error "RC_LIST_LAP must be a power of two, at least 2"
#endif
#define RC_LIST_SLOTS (RC_LIST_LAP - 1)

/* The closed bit of tail; positions stay below it. */
#define RC_LIST_CLOSED (UINT64_C(1) << 63)

#ifndef RC_CACHELINE
#define RC_CACHELINE 64
#endif

typedef struct rc_list_block {
    rc_atomic_ptr next;
    rc_atomic_ptr slots[RC_LIST_SLOTS];
} rc_list_block;

/* Padding rather than alignment keeps the producers' line, the consumer's
   and the spare's apart, whatever alignment RC_LIST_MALLOC gives. */
typedef struct {
    char pad_before[RC_CACHELINE];
    rc_atomic_u64 tail;
    rc_atomic_ptr tail_block;
    char pad_tail[RC_CACHELINE - sizeof(rc_atomic_u64) - sizeof(rc_atomic_ptr)];
    /* Atomic only for rc_list_len and rc_list_popped on other threads. */
    rc_atomic_u64 head;
    rc_list_block *head_block;
    char pad_head[RC_CACHELINE - sizeof(rc_atomic_u64) - sizeof(rc_list_block *)];
    rc_atomic_ptr spare;
    char pad_after[RC_CACHELINE - sizeof(rc_atomic_ptr)];
} rc_list;

/* Items before position pos (the closed bit ignored): one position in each
   lap is the marker. */
static inline uint64_t
rc_list_items(uint64_t pos)
{
    pos &= ~RC_LIST_CLOSED;
    return pos - pos / RC_LIST_LAP;
}

/* Empties a block that no other thread can reach.  Zero bytes are NULL
   pointers on every target, as CPython's zeroed objects assume too; and a
   plain write lets ThreadSanitizer check that the block reaches the other
   threads only through the orders below, and leaves the consumer only
   once they are done with it. */
static inline void
rc_list_block_clear(rc_list_block *b)
{
    memset(b, 0, sizeof(*b));
}

static inline rc_list_block *
rc_list_block_new(void)
{
    rc_list_block *b = (rc_list_block *)RC_LIST_MALLOC(sizeof(rc_list_block));
    if (b != NULL) {
        rc_list_block_clear(b);
    }
    return b;
}

/* A block for a producer to install: the spare, else a new one; NULL when
   out of memory.  Acquire: whoever put the spare there emptied it first,
   and those stores must come before the producers' items. */
static inline rc_list_block *
rc_list_block_get(rc_list *l)
{
    rc_list_block *b = (rc_list_block *)rc_ptr_exchange_acquire(&l->spare, NULL);
    return b != NULL ? b : rc_list_block_new();
}

/* Makes b, an empty block no one else can reach, the spare, and frees the
   one it displaces.  Release publishes b's empty slots to the producer that
   takes it; acquire orders the displaced block's last stores, made by
   whoever put it there, before its free. */
static inline void
rc_list_block_put(rc_list *l, rc_list_block *b)
{
    rc_list_block *old = (rc_list_block *)rc_ptr_exchange_acq_rel(&l->spare, b);
    if (old != NULL) {
        RC_LIST_FREE(old);
    }
}

/* The consumer has taken the last slot of b: frees it, or empties it into
   the spare when there is none.  Relaxed peeks at the spare: either answer
   is correct, the wrong one only costs a free, or a malloc later. */
static inline void
rc_list_block_retire(rc_list *l, rc_list_block *b)
{
    if (rc_ptr_load_relaxed(&l->spare) != NULL) {
        RC_LIST_FREE(b);
        return;
    }
    rc_list_block_clear(b);
    rc_list_block_put(l, b);
}

/* An empty list on the heap, its first block allocated; NULL when out of
   memory. */
static inline rc_list *
rc_list_new(void)
{
    rc_list *l = (rc_list *)RC_LIST_MALLOC(sizeof(rc_list));
    rc_list_block *b = rc_list_block_new();
    if (l == NULL || b == NULL) {
        if (l != NULL) {
            RC_LIST_FREE(l);
        }
        if (b != NULL) {
            RC_LIST_FREE(b);
        }
        return NULL;
    }
    /* Threads that will use the list are handed it after these, through
       something that orders them (a thread's start, a lock, a release). */
    rc_atomic_init(&l->tail, 0);
    rc_ptr_store_relaxed(&l->tail_block, b);
    rc_atomic_init(&l->head, 0);
    l->head_block = b;
    rc_ptr_store_relaxed(&l->spare, NULL);
    return l;
}

/* Frees a list of rc_list_new (NULL is fine) with its blocks, not the
   items: drain the list first, or free them through rc_list_visit.  No
   other thread may use the list any more. */
static inline void
rc_list_delete(rc_list *l)
{
    rc_list_block *b, *next;
    if (l == NULL) {
        return;
    }
    /* The tail block's link is NULL: a new block's is, and a spare's is
       reset when the consumer retires it. */
    for (b = l->head_block; b != NULL; b = next) {
        next = (rc_list_block *)rc_ptr_load_relaxed(&b->next);
        RC_LIST_FREE(b);
    }
    b = (rc_list_block *)rc_ptr_load_relaxed(&l->spare);
    if (b != NULL) {
        RC_LIST_FREE(b);
    }
    RC_LIST_FREE(l);
}

/* Claims a run of up to n (at least 1) positions in the tail block with one
   CAS.  Returns how many, with their block and the slot of the first, or 0
   when the run needs a next block and none can be allocated.

   Only tail is read with acquire; tail_block and the block's empty slots
   come with it.  The producer that moved tail into a block emptied the
   block and stored tail_block before its release store of tail, and the
   CASes that moved tail on since continue that release sequence.  So
   tail_block, read after tail, is tail's block or a later one, and a later
   one means tail has moved on and the CAS fails.  A successful CAS read
   the tail already acquired and orders nothing more; a failed one hands
   back a new tail, hence acquire. */
static inline size_t
rc_list_claim(rc_list *l, size_t n, rc_list_block **block, unsigned *slot)
{
    rc_list_block *next = NULL;
    uint64_t tail = rc_load_acquire(&l->tail);
    unsigned spins = 0;
    for (;;) {
        unsigned offset = (unsigned)(tail % RC_LIST_LAP);
        uint64_t k = RC_LIST_SLOTS - offset;
        rc_list_block *b;
        if (tail & RC_LIST_CLOSED) {
            if (next != NULL) {
                rc_list_block_put(l, next);
            }
            return 0;
        }
        if (offset == RC_LIST_SLOTS) {
            rc_snooze(&spins);
            tail = rc_load_acquire(&l->tail);
            continue;
        }
        b = (rc_list_block *)rc_ptr_load_relaxed(&l->tail_block);
        if (k > n) {
            k = n;
        }
        if (offset + k == RC_LIST_SLOTS && next == NULL) {
            next = rc_list_block_get(l);
            if (next == NULL && --k == 0) {
                return 0;
            }
        }
        if (!rc_cas_acquire(&l->tail, &tail, tail + k)) {
            continue;
        }
        if (offset + k == RC_LIST_SLOTS) {
            /* Relaxed, both: the release store of tail publishes them, and
               the new block's empty slots, to the producers (see above) and
               to rc_list_visit; the consumer follows the link only once it
               has acquired the item of the last slot, stored later still. */
            rc_ptr_store_relaxed(&b->next, next);
            rc_ptr_store_relaxed(&l->tail_block, next);
            /* A plain store: no one else moves tail off the marker. */
            rc_store_release(&l->tail, tail + k + 1);
            next = NULL;
        }
        if (next != NULL) {
            /* Got for a last slot another producer took: someone may use it. */
            rc_list_block_put(l, next);
        }
        *block = b;
        *slot = offset;
        return (size_t)k;
    }
}

/* Appends up to n items (each non-NULL) in order, a run per block, each
   with one CAS.  Returns how many went in: fewer than n only when the list
   is closed or a block could not be allocated. */
static inline size_t
rc_list_push_many(rc_list *l, void *const *items, size_t n)
{
    size_t done = 0;
    while (done < n) {
        rc_list_block *b;
        unsigned slot;
        size_t k = rc_list_claim(l, n - done, &b, &slot), i;
        if (k == 0) {
            break;
        }
        /* Release: the consumer reads each item with acquire, and may free
           b once it has read the last one; nothing here touches b after. */
        for (i = 0; i < k; i++) {
            rc_ptr_store_release(&b->slots[slot + i], items[done + i]);
        }
        done += k;
    }
    return done;
}

/* Appends item (non-NULL).  Returns 1, or 0 when the list is closed or a
   block could not be allocated: the list is then unchanged. */
static inline int
rc_list_push(rc_list *l, void *item)
{
    /* Any slot but a block's last one, on a path short enough to keep in
       registers; the same orders as rc_list_claim and rc_list_push_many. */
    uint64_t tail = rc_load_acquire(&l->tail);
    unsigned offset;
    while (!(tail & RC_LIST_CLOSED)
           && (offset = (unsigned)(tail % RC_LIST_LAP)) + 1 < RC_LIST_SLOTS) {
        rc_list_block *b = (rc_list_block *)rc_ptr_load_relaxed(&l->tail_block);
        if (rc_cas_acquire(&l->tail, &tail, tail + 1)) {
            rc_ptr_store_release(&b->slots[offset], item);
            return 1;
        }
    }
    return rc_list_push_many(l, &item, 1) == 1;
}

/* Removes up to n of the oldest published items into out, in order;
   returns how many.  Stops at a claimed slot whose item is not written
   yet, as rc_ring_pop_many does.  Single consumer: calls must not overlap. */
static inline size_t
rc_list_pop_many(rc_list *l, void **out, size_t n)
{
    uint64_t head = rc_load_relaxed(&l->head);
    rc_list_block *b = l->head_block;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned offset = (unsigned)(head % RC_LIST_LAP);
        /* Acquire: the item's referent was written before it was pushed. */
        void *item = rc_ptr_load_acquire(&b->slots[offset]);
        if (item == NULL) {
            break;
        }
        out[i] = item;
        if (offset + 1 == RC_LIST_SLOTS) {
            /* Relaxed: the link was stored before the item just acquired,
               so it is there, with the new block's empty slots. */
            rc_list_block *next = (rc_list_block *)rc_ptr_load_relaxed(&b->next);
            l->head_block = next;
            rc_list_block_retire(l, b);
            b = next;
            head += 2;
        }
        else {
            head++;
        }
    }
    if (i > 0) {
        /* Relaxed: head orders nothing, producers never read it. */
        rc_store_relaxed(&l->head, head);
    }
    return i;
}

/* Removes and returns the oldest published item, or NULL when there is
   none.  Single consumer, as rc_list_pop_many. */
static inline void *
rc_list_pop(rc_list *l)
{
    /* Any slot but a block's last one, as in rc_list_push. */
    uint64_t head = rc_load_relaxed(&l->head);
    unsigned offset = (unsigned)(head % RC_LIST_LAP);
    void *item;
    if (offset + 1 < RC_LIST_SLOTS) {
        item = rc_ptr_load_acquire(&l->head_block->slots[offset]);
        if (item != NULL) {
            rc_store_relaxed(&l->head, head + 1);
        }
        return item;
    }
    return rc_list_pop_many(l, &item, 1) == 1 ? item : NULL;
}

/* The oldest published item, left in place, or NULL when there is none.
   Single consumer, as rc_list_pop: the item stays valid until it pops it. */
static inline void *
rc_list_peek(const rc_list *l)
{
    uint64_t head = rc_load_relaxed(&l->head);
    return rc_ptr_load_acquire(&l->head_block->slots[head % RC_LIST_LAP]);
}

/* Items buffered now: claimed positions not yet consumed.  A snapshot that
   may be stale by the time it is read; on another thread than the
   consumer's, head may be read newer than tail, hence the clamp at 0. */
static inline uint64_t
rc_list_len(const rc_list *l)
{
    uint64_t head = rc_load_relaxed(&l->head);
    uint64_t tail = rc_load_relaxed(&l->tail);
    int64_t n = (int64_t)(rc_list_items(tail) - rc_list_items(head));
    return n < 0 ? 0 : (uint64_t)n;
}

/* Items claimed by producers so far: every item ever pushed. */
static inline uint64_t
rc_list_pushed(const rc_list *l)
{
    return rc_list_items(rc_load_relaxed(&l->tail));
}

/* Items popped so far. */
static inline uint64_t
rc_list_popped(const rc_list *l)
{
    return rc_list_items(rc_load_relaxed(&l->head));
}

/* Refuses every push from now on (see the top of this file). */
static inline void
rc_list_close(rc_list *l)
{
    uint64_t tail = rc_load_relaxed(&l->tail);
    unsigned spins = 0;
    while (!(tail & RC_LIST_CLOSED)) {
        if (tail % RC_LIST_LAP == RC_LIST_SLOTS) {
            /* A producer is installing the next block. */
            rc_snooze(&spins);
            tail = rc_load_relaxed(&l->tail);
        }
        else if (rc_cas_relaxed(&l->tail, &tail, tail | RC_LIST_CLOSED)) {
            break;
        }
    }
}

/* Whether rc_list_close has run. */
static inline int
rc_list_closed(const rc_list *l)
{
    return (rc_load_relaxed(&l->tail) & RC_LIST_CLOSED) != 0;
}

/* Calls visit on every published item, oldest first, and stops at the
   first nonzero result, which it returns; 0 otherwise.  No pop may run
   meanwhile.  Pushes may, memory-wise: items claimed before the call and
   not yet written are skipped, as are all pushed after it, so a caller that
   must see every item (the cycle collector's traverse) runs it while no
   push is under way either.

   tail is read with acquire, so that every block link up to it is
   visible: each installer stored its link before its release store of
   tail, and the later ones read tail, with acquire, after the earlier
   ones' stores. */
static inline int
rc_list_visit(const rc_list *l, int (*visit)(void *item, void *arg), void *arg)
{
    uint64_t pos = rc_load_relaxed(&l->head);
    uint64_t tail = rc_load_acquire(&l->tail) & ~RC_LIST_CLOSED;
    const rc_list_block *b = l->head_block;
    for (; pos < tail; pos++) {
        unsigned offset = (unsigned)(pos % RC_LIST_LAP);
        void *item;
        if (offset == RC_LIST_SLOTS) {
            b = (const rc_list_block *)rc_ptr_load_relaxed(&b->next);
            continue;
        }
        item = rc_ptr_load_acquire(&b->slots[offset]);
        if (item != NULL) {
            int err = visit(item, arg);
            if (err) {
                return err;
            }
        }
    }
    return 0;
}

#endif /* RINGCHAN_LIST_H */
