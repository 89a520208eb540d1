/* Stress test of the ring alone: several producer threads, one consumer.
 *
 * Each producer pushes a run of tagged items, alternating single pushes with
 * runs of up to BATCH; the consumer, alternating single and bulk pops, checks
 * that every item arrives exactly once and in order per producer, and that
 * the ring never reports more than its capacity.  Run it under ThreadSanitizer and under
 * AddressSanitizer + UndefinedBehaviorSanitizer (tests/test_ring_c.py does).
 *
 * usage: test_ring [items-per-producer]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ringchan/ring.h"

#define PRODUCERS 4
#define BATCH 7
#define TAG_SHIFT 40

typedef struct {
    rc_ring *ring;
    uintptr_t id;
    uint64_t items;
    atomic_int *finished;
} producer_args;

static void *
produce(void *arg)
{
    producer_args *p = (producer_args *)arg;
    void *batch[BATCH];
    uint64_t seq = 0;
    while (seq < p->items) {
        /* Runs of 1 to BATCH items, every third one a single push. */
        size_t n = seq % 3 == 0 ? 1 : 1 + (size_t)(seq % BATCH);
        size_t i, sent = 0;
        if (n > p->items - seq) {
            n = (size_t)(p->items - seq);
        }
        for (i = 0; i < n; i++) {
            /* seq + 1 keeps every item non-NULL. */
            batch[i] = (void *)((p->id << TAG_SHIFT) | (uintptr_t)(seq + i + 1));
        }
        while (sent < n) {
            size_t k = n == 1 ? (size_t)rc_ring_push(p->ring, batch[0])
                              : rc_ring_push_many(p->ring, batch + sent, n - sent);
            if (k == 0) {
                sched_yield();
            }
            sent += k;
        }
        seq += n;
    }
    atomic_fetch_add(p->finished, 1);
    return NULL;
}

/* Pops one item, or up to BATCH by turns; returns how many landed in out. */
static size_t
take(rc_ring *ring, void **out, uint64_t turn)
{
    if (turn % 4 == 0) {
        /* A peek sees the item the next pop takes, while producers push. */
        void *peeked = rc_ring_peek(ring);
        out[0] = rc_ring_pop(ring);
        if (peeked != NULL && out[0] != peeked) {
            fprintf(stderr, "peek saw %p, pop took %p\n", peeked, out[0]);
            abort();
        }
        return out[0] != NULL;
    }
    if (turn % 2 == 0) {
        out[0] = rc_ring_pop(ring);
        return out[0] != NULL;
    }
    return rc_ring_pop_many(ring, out, 1 + (size_t)(turn % BATCH));
}

static int
run(uint64_t capacity, uint64_t items)
{
    rc_ring ring;
    pthread_t threads[PRODUCERS];
    producer_args args[PRODUCERS];
    uint64_t next[PRODUCERS] = {0};
    uint64_t received = 0, total = items * PRODUCERS, turn = 0;
    void *out[BATCH];
    size_t got = 0, next_out = 0;
    atomic_int finished = 0;
    int i, failures = 0;

    if (rc_ring_init(&ring, capacity) != 0) {
        fprintf(stderr, "capacity %llu: cannot allocate\n", (unsigned long long)capacity);
        return 1;
    }
    for (i = 0; i < PRODUCERS; i++) {
        args[i].ring = &ring;
        args[i].id = (uintptr_t)i;
        args[i].items = items;
        args[i].finished = &finished;
        if (pthread_create(&threads[i], NULL, produce, &args[i]) != 0) {
            fprintf(stderr, "cannot start a producer thread\n");
            return 1;
        }
    }
    while (received < total) {
        uintptr_t item = 0;
        uintptr_t id;
        uint64_t seq;
        if (rc_ring_len(&ring) > capacity) {
            fprintf(stderr, "capacity %llu: length over capacity\n",
                    (unsigned long long)capacity);
            failures++;
        }
        if (next_out == got) {
            got = take(&ring, out, turn++);
            next_out = 0;
        }
        if (next_out < got) {
            item = (uintptr_t)out[next_out++];
        }
        else {
            if (atomic_load(&finished) < PRODUCERS) {
                sched_yield();
                continue;
            }
            /* Every push is visible now: an empty ring means lost items. */
            item = (uintptr_t)rc_ring_pop(&ring);
            if (item == 0) {
                fprintf(stderr, "capacity %llu: %llu of %llu items lost\n",
                        (unsigned long long)capacity,
                        (unsigned long long)(total - received),
                        (unsigned long long)total);
                return 1;
            }
        }
        id = item >> TAG_SHIFT;
        seq = (uint64_t)(item & (((uintptr_t)1 << TAG_SHIFT) - 1)) - 1;
        if (id >= PRODUCERS || seq != next[id]) {
            fprintf(stderr, "capacity %llu: producer %llu item %llu, expected %llu\n",
                    (unsigned long long)capacity, (unsigned long long)id,
                    (unsigned long long)seq,
                    (unsigned long long)(id < PRODUCERS ? next[id] : 0));
            return 1;
        }
        next[id]++;
        received++;
    }
    for (i = 0; i < PRODUCERS; i++) {
        pthread_join(threads[i], NULL);
    }
    if (rc_ring_pop(&ring) != NULL || rc_ring_len(&ring) != 0) {
        fprintf(stderr, "capacity %llu: items left after the last one\n",
                (unsigned long long)capacity);
        failures++;
    }
    if (rc_ring_pushed(&ring) != total || rc_ring_popped(&ring) != total) {
        fprintf(stderr, "capacity %llu: positions count %llu pushed, %llu popped\n",
                (unsigned long long)capacity,
                (unsigned long long)rc_ring_pushed(&ring),
                (unsigned long long)rc_ring_popped(&ring));
        failures++;
    }
    rc_ring_free(&ring);
    printf("capacity %llu: %llu items from %d producers, in order, none lost\n",
           (unsigned long long)capacity, (unsigned long long)total, PRODUCERS);
    return failures != 0;
}

/* The gate, one thread: it turns lock-free pushes away, gated pushes go in
   while the count allows, and opening it restores the lock-free path. */
static int
gate(void)
{
    rc_ring ring;
    int x = 1, failures = 0;
    void *items[2] = {&x, &x};
    if (rc_ring_init(&ring, 3) != 0) {
        return 1;
    }
    failures += !rc_ring_push(&ring, &x);
    failures += rc_ring_gate(&ring) != 1 || !rc_ring_gated(&ring);
    failures += rc_ring_push(&ring, &x) != 0 || rc_ring_push_many(&ring, items, 2) != 0;
    failures += rc_ring_gated_len(&ring) != 1 || rc_ring_len(&ring) != 1;
    failures += !rc_ring_push_gated(&ring, &x) || !rc_ring_push_gated(&ring, &x);
    failures += rc_ring_push_gated(&ring, &x) != 0; /* full: the count was wrong */
    failures += rc_ring_pop(&ring) != &x || rc_ring_gated_len(&ring) != 2;
    failures += rc_ring_pushed(&ring) != 3 || rc_ring_popped(&ring) != 1;
    rc_ring_ungate(&ring);
    failures += rc_ring_gated(&ring) || !rc_ring_push(&ring, &x) || rc_ring_len(&ring) != 3;
    while (rc_ring_pop(&ring) != NULL) {
    }
    rc_ring_free(&ring);
    if (failures) {
        fprintf(stderr, "gate: %d checks failed\n", failures);
    }
    else {
        printf("gate: lock-free pushes refused while gated, gated pushes counted\n");
    }
    return failures != 0;
}

/* The close, one thread: every kind of push is refused from then on,
   gated or not, and the positions and the items already in are kept. */
static int
close_(void)
{
    rc_ring ring;
    int x = 1, failures = 0;
    void *items[2] = {&x, &x};
    if (rc_ring_init(&ring, 4) != 0) {
        return 1;
    }
    failures += !rc_ring_push(&ring, &x) || rc_ring_closed(&ring);
    failures += rc_ring_gate(&ring) != 1;
    rc_ring_close(&ring);
    failures += !rc_ring_closed(&ring) || !rc_ring_gated(&ring);
    failures += rc_ring_push_gated(&ring, &x) != 0;
    rc_ring_ungate(&ring);
    failures += !rc_ring_closed(&ring) || rc_ring_gated(&ring);
    failures += rc_ring_push(&ring, &x) != 0 || rc_ring_push_many(&ring, items, 2) != 0;
    failures += rc_ring_len(&ring) != 1 || rc_ring_pushed(&ring) != 1 || rc_ring_room(&ring) != 3;
    rc_ring_close(&ring); /* idempotent */
    failures += rc_ring_pop(&ring) != &x || rc_ring_pop(&ring) != NULL;
    failures += rc_ring_push(&ring, &x) != 0 || rc_ring_popped(&ring) != 1;
    rc_ring_free(&ring);
    if (failures) {
        fprintf(stderr, "close: %d checks failed\n", failures);
    }
    else {
        printf("close: every push refused once closed, what was in kept\n");
    }
    return failures != 0;
}

int
main(int argc, char **argv)
{
    static const uint64_t capacities[] = {1, 2, 3, 1000, 1024};
    uint64_t items = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    size_t i;
    int failures = 0;
    failures += gate();
    failures += close_();
    for (i = 0; i < sizeof(capacities) / sizeof(capacities[0]); i++) {
        failures += run(capacities[i], items);
    }
    return failures != 0;
}
