/* Tests of the unbounded list alone: edge cases on one thread, then several
 * producer threads and one consumer.
 *
 * The list's allocations go through counting functions, so the tests can
 * tell how many blocks it holds and make an allocation fail.  Threaded, the
 * producers push tagged items, alternating single pushes with runs that
 * span blocks; the consumer, alternating pops, bulk pops and peeks, checks
 * that every item arrives exactly once and in order per producer, while an
 * observer thread reads the counters.  Run it under ThreadSanitizer and
 * under AddressSanitizer + UndefinedBehaviorSanitizer (tests/test_ring_c.py
 * does): LeakSanitizer then also checks that delete frees every block.
 *
 * usage: test_list [items-per-producer]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Relaxed throughout: counters that synchronized threads would hide a
   missing order in the list from ThreadSanitizer.  The counts are read
   once the threads are joined, or on the thread that allocated. */
static atomic_long live_allocations;
static atomic_long allocations;
/* Allocations still allowed before they fail; negative for no limit.  Set
   only while no other thread runs. */
static atomic_long allowed = -1;

static void *
counting_malloc(size_t size)
{
    long left = atomic_load_explicit(&allowed, memory_order_relaxed);
    void *p;
    if (left == 0) {
        return NULL;
    }
    if (left > 0) {
        atomic_store_explicit(&allowed, left - 1, memory_order_relaxed);
    }
    p = malloc(size);
    if (p != NULL) {
        atomic_fetch_add_explicit(&live_allocations, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    }
    return p;
}

static void
counting_free(void *p)
{
    if (p != NULL) {
        atomic_fetch_sub_explicit(&live_allocations, 1, memory_order_relaxed);
    }
    free(p);
}

#define RC_LIST_MALLOC(size) counting_malloc(size)
#define RC_LIST_FREE(p) counting_free(p)
#include "ringchan/list.h"

#define PRODUCERS 4
/* Runs up to two blocks and a bit long, so that one push_many spans three. */
#define BATCH (2 * RC_LIST_SLOTS + 5)
#define TAG_SHIFT 40
#define BURST 3000000

static int failures = 0;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

/* What a test prints last: "ok" only if no check failed since before. */
static const char *
verdict(int before)
{
    return failures == before ? "ok" : "FAILED";
}

/* Blocks held by lists alive now (each list is one allocation more). */
static long
blocks_held(int lists)
{
    return atomic_load(&live_allocations) - lists;
}

/* seq + 1 keeps every item non-NULL. */
static void *
item_of(uint64_t seq)
{
    return (void *)(uintptr_t)(seq + 1);
}

static int
count_visit(void *item, void *arg)
{
    (void)item;
    (*(uint64_t *)arg)++;
    return 0;
}

static void
test_empty(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    void *out[4];
    uint64_t visited = 0;
    CHECK(l != NULL);
    CHECK(rc_list_pop(l) == NULL);
    CHECK(rc_list_peek(l) == NULL);
    CHECK(rc_list_pop_many(l, out, 4) == 0);
    CHECK(rc_list_pop_many(l, out, 0) == 0);
    CHECK(rc_list_push_many(l, out, 0) == 0);
    CHECK(rc_list_len(l) == 0 && rc_list_pushed(l) == 0 && rc_list_popped(l) == 0);
    CHECK(rc_list_visit(l, count_visit, &visited) == 0 && visited == 0);
    CHECK(rc_list_push(l, item_of(0)) == 1);
    CHECK(rc_list_peek(l) == item_of(0));
    CHECK(rc_list_pop(l) == item_of(0));
    CHECK(rc_list_pop(l) == NULL && rc_list_peek(l) == NULL);
    CHECK(rc_list_len(l) == 0 && rc_list_pushed(l) == 1 && rc_list_popped(l) == 1);
    rc_list_delete(l);
    rc_list_delete(NULL);
    CHECK(blocks_held(0) == 0);
    printf("empty: %s\n", verdict(before));
}

/* Runs of every length up to three blocks and more, pushed one by one and
   popped one by one, so that runs start and end at every offset. */
static void
test_boundaries(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    uint64_t pushed = 0, popped = 0, run, i;
    for (run = 1; run <= 3 * RC_LIST_SLOTS + 2; run++) {
        for (i = 0; i < run; i++) {
            CHECK(rc_list_push(l, item_of(pushed++)) == 1);
            CHECK(rc_list_len(l) == i + 1);
            CHECK(rc_list_peek(l) == item_of(popped));
        }
        for (i = 0; i < run; i++) {
            void *peeked = rc_list_peek(l);
            void *item = rc_list_pop(l);
            CHECK(item == item_of(popped) && peeked == item);
            popped++;
            CHECK(rc_list_len(l) == run - i - 1);
        }
        CHECK(rc_list_pop(l) == NULL && rc_list_peek(l) == NULL);
        CHECK(rc_list_pushed(l) == pushed && rc_list_popped(l) == popped);
        CHECK(blocks_held(1) <= 2);
    }
    /* One at a time over many boundaries: the spare alone serves them. */
    {
        long allocated = atomic_load(&allocations);
        for (i = 0; i < 20 * RC_LIST_LAP; i++) {
            CHECK(rc_list_push(l, item_of(pushed++)) == 1);
            CHECK(rc_list_pop(l) == item_of(popped++));
        }
        CHECK(atomic_load(&allocations) == allocated);
        CHECK(blocks_held(1) <= 2);
    }
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("boundaries: %s\n", verdict(before));
}

/* push_many and pop_many in runs shorter and longer than a block. */
static void
test_many(void)
{
    int before = failures;
    static const size_t push_runs[] = {
        1, RC_LIST_SLOTS - 1, RC_LIST_SLOTS, RC_LIST_SLOTS + 1, 3 * RC_LIST_SLOTS + 4, 1000, 2, 7};
    static const size_t pop_runs[] = {
        1, 2, RC_LIST_SLOTS, RC_LIST_SLOTS + 2, 2 * RC_LIST_SLOTS + 3, 5000, 3};
    rc_list *l = rc_list_new();
    void *items[1000], *out[5000];
    uint64_t pushed = 0, popped = 0;
    size_t round, i, j;
    for (round = 0; round < 4; round++) {
        for (i = 0; i < sizeof(push_runs) / sizeof(push_runs[0]); i++) {
            size_t n = push_runs[i];
            for (j = 0; j < n; j++) {
                items[j] = item_of(pushed + j);
            }
            CHECK(rc_list_push_many(l, items, n) == n);
            pushed += n;
            CHECK(rc_list_len(l) == pushed - popped);
            /* Pop a little between pushes, so that the runs start anywhere. */
            {
                size_t want = i < pushed - popped ? i : (size_t)(pushed - popped);
                size_t got = rc_list_pop_many(l, out, i);
                CHECK(got == want);
                for (j = 0; j < got; j++) {
                    CHECK(out[j] == item_of(popped++));
                }
            }
        }
        for (i = 0; rc_list_len(l) > 0; i++) {
            size_t n = pop_runs[i % (sizeof(pop_runs) / sizeof(pop_runs[0]))];
            size_t want = n < pushed - popped ? n : (size_t)(pushed - popped);
            size_t got = rc_list_pop_many(l, out, n);
            CHECK(got == want);
            for (j = 0; j < got; j++) {
                CHECK(out[j] == item_of(popped++));
            }
        }
        CHECK(rc_list_pop_many(l, out, 5000) == 0);
        CHECK(rc_list_pushed(l) == pushed && rc_list_popped(l) == popped);
        CHECK(blocks_held(1) <= 2);
    }
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("many: %s\n", verdict(before));
}

typedef struct {
    uint64_t next;
    uint64_t calls;
    uint64_t stop_after;
} visit_state;

static int
ordered_visit(void *item, void *arg)
{
    visit_state *s = (visit_state *)arg;
    CHECK(item == item_of(s->next));
    s->next++;
    return ++s->calls == s->stop_after ? 7 : 0;
}

static void
test_visit(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    uint64_t i, popped = 0, total = 3 * RC_LIST_SLOTS + 5;
    visit_state s;
    for (i = 0; i < total; i++) {
        CHECK(rc_list_push(l, item_of(i)) == 1);
    }
    for (; popped < RC_LIST_SLOTS + 2; popped++) {
        CHECK(rc_list_pop(l) == item_of(popped));
    }
    s.next = popped;
    s.calls = 0;
    s.stop_after = 0;
    CHECK(rc_list_visit(l, ordered_visit, &s) == 0);
    CHECK(s.calls == total - popped && s.calls == rc_list_len(l));
    s.next = popped;
    s.calls = 0;
    s.stop_after = 3;
    CHECK(rc_list_visit(l, ordered_visit, &s) == 7 && s.calls == 3);
    /* Visiting leaves the items in place. */
    for (; popped < total; popped++) {
        CHECK(rc_list_pop(l) == item_of(popped));
    }
    CHECK(rc_list_pop(l) == NULL);
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("visit: %s\n", verdict(before));
}

static int
free_visit(void *item, void *arg)
{
    (void)arg;
    free(item);
    return 0;
}

/* Items still buffered at delete: a visit frees them (as the channel drops
   its references), delete frees the blocks; LeakSanitizer sees either leak. */
static void
test_delete_buffered(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    uint64_t i;
    for (i = 0; i < 5 * RC_LIST_SLOTS + 3; i++) {
        uint64_t *item = (uint64_t *)malloc(sizeof(uint64_t));
        CHECK(item != NULL);
        *item = i;
        CHECK(rc_list_push(l, item) == 1);
    }
    for (i = 0; i < RC_LIST_SLOTS + 1; i++) {
        uint64_t *item = (uint64_t *)rc_list_pop(l);
        CHECK(item != NULL && *item == i);
        free(item);
    }
    CHECK(blocks_held(1) >= 4);
    CHECK(rc_list_visit(l, free_visit, NULL) == 0);
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("delete buffered: %s\n", verdict(before));
}

/* A few million items, then a drain: the blocks go back as the consumer
   passes them, all but the current one and the spare. */
static void
test_burst(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    void *out[1000];
    uint64_t i, popped = 0, turn;
    size_t j, got;
    for (i = 0; i < BURST; i++) {
        CHECK(rc_list_push(l, item_of(i)) == 1);
    }
    CHECK(rc_list_len(l) == BURST);
    /* A block for each full one, and the one being filled. */
    CHECK(blocks_held(1) == 1 + BURST / RC_LIST_SLOTS);
    for (turn = 0;; turn++) {
        /* Single pops and bulk pops by turns. */
        if (turn % 2 == 0) {
            out[0] = rc_list_pop(l);
            got = out[0] != NULL;
        }
        else {
            got = rc_list_pop_many(l, out, 1000);
        }
        if (got == 0) {
            break;
        }
        for (j = 0; j < got; j++) {
            if (out[j] != item_of(popped)) {
                CHECK(out[j] == item_of(popped));
                break;
            }
            popped++;
        }
    }
    CHECK(popped == BURST && rc_list_len(l) == 0);
    CHECK(blocks_held(1) <= 2);
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("burst: %s\n", verdict(before));
}

/* A push that needs a new block fails when it cannot have one, and leaves
   the list as it was; push_many pushes what fits before that block. */
static void
test_allocation_failure(void)
{
    int before = failures;
    rc_list *l;
    uint64_t i, pushed = 0, popped = 0;
    void *items[5];

    atomic_store(&allowed, 0);
    CHECK(rc_list_new() == NULL);
    atomic_store(&allowed, 1);
    CHECK(rc_list_new() == NULL);
    CHECK(blocks_held(0) == 0);
    atomic_store(&allowed, -1);

    l = rc_list_new();
    /* To three slots before the end of the first block, or its start. */
    for (; pushed + 3 < (uint64_t)RC_LIST_SLOTS; pushed++) {
        CHECK(rc_list_push(l, item_of(pushed)) == 1);
    }
    atomic_store(&allowed, 0);
    for (i = 0; i < 5; i++) {
        items[i] = item_of(pushed + i);
    }
    /* Every slot but the last. */
    CHECK(rc_list_push_many(l, items, 5) == RC_LIST_SLOTS - 1 - pushed);
    pushed = RC_LIST_SLOTS - 1;
    CHECK(rc_list_push(l, item_of(pushed)) == 0);
    CHECK(rc_list_push_many(l, items, 5) == 0);
    CHECK(rc_list_len(l) == pushed && rc_list_pushed(l) == pushed);
    atomic_store(&allowed, -1);
    for (i = 0; i < 5; i++) {
        items[i] = item_of(pushed + i);
    }
    CHECK(rc_list_push_many(l, items, 5) == 5);
    pushed += 5;
    for (; popped < pushed; popped++) {
        CHECK(rc_list_pop(l) == item_of(popped));
    }
    /* The consumer has passed a block, now the spare: a push over the next
       boundary needs no allocation. */
    for (; pushed % RC_LIST_SLOTS != RC_LIST_SLOTS - 1; pushed++) {
        CHECK(rc_list_push(l, item_of(pushed)) == 1);
    }
    atomic_store(&allowed, 0);
    CHECK(rc_list_push(l, item_of(pushed++)) == 1);
    atomic_store(&allowed, -1);
    for (; popped < pushed; popped++) {
        CHECK(rc_list_pop(l) == item_of(popped));
    }
    CHECK(rc_list_pop(l) == NULL);
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("allocation failure: %s\n", verdict(before));
}

/* Each item points to a record its producer wrote just before pushing it,
   as a Python object is initialized before it is sent: the consumer reads
   the record, so a missing acquire or release is a data race that
   ThreadSanitizer reports. */
typedef struct {
    rc_list *list;
    uintptr_t id;
    uint64_t items;
    uint64_t *records;
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
        size_t n = seq % 3 == 0 ? 1 : 1 + (size_t)(seq * 7 % BATCH);
        size_t i;
        if (n > p->items - seq) {
            n = (size_t)(p->items - seq);
        }
        for (i = 0; i < n; i++) {
            p->records[seq + i] = ((uint64_t)p->id << TAG_SHIFT) | (seq + i + 1);
            batch[i] = &p->records[seq + i];
        }
        if ((n == 1 ? (size_t)rc_list_push(p->list, batch[0])
                    : rc_list_push_many(p->list, batch, n)) != n) {
            fprintf(stderr, "producer %d: a push failed\n", (int)p->id);
            abort();
        }
        seq += n;
    }
    atomic_fetch_add(p->finished, 1);
    return NULL;
}

typedef struct {
    rc_list *list;
    uint64_t total;
    atomic_int *done;
    int failures;
} observer_args;

/* Reads the counters from a thread of its own, as len() on another thread
   than the consumer's does. */
static void *
observe(void *arg)
{
    observer_args *o = (observer_args *)arg;
    uint64_t last_pushed = 0, last_popped = 0;
    while (!atomic_load(o->done)) {
        uint64_t len = rc_list_len(o->list);
        uint64_t pushed = rc_list_pushed(o->list);
        uint64_t popped = rc_list_popped(o->list);
        if (len > o->total || pushed > o->total || popped > o->total
            || pushed < last_pushed || popped < last_popped) {
            fprintf(stderr, "observer: len %llu, pushed %llu, popped %llu\n",
                    (unsigned long long)len, (unsigned long long)pushed,
                    (unsigned long long)popped);
            o->failures++;
            break;
        }
        last_pushed = pushed;
        last_popped = popped;
        sched_yield();
    }
    return NULL;
}

/* Pops one item, or a run, by turns; returns how many landed in out. */
static size_t
take(rc_list *list, void **out, uint64_t turn)
{
    if (turn % 4 == 0) {
        /* A peek sees the item the next pop takes, while producers push,
           and the record behind it, read before that pop. */
        void *peeked = rc_list_peek(list);
        uint64_t record = peeked != NULL ? *(const uint64_t *)peeked : 0;
        out[0] = rc_list_pop(list);
        if (peeked != NULL && (out[0] != peeked || record == 0)) {
            fprintf(stderr, "peek saw %p, pop took %p\n", peeked, out[0]);
            abort();
        }
        return out[0] != NULL;
    }
    if (turn % 2 == 0) {
        out[0] = rc_list_pop(list);
        return out[0] != NULL;
    }
    return rc_list_pop_many(list, out, 1 + (size_t)(turn * 13 % BATCH));
}

static int
check_item(uint64_t *next, void *item)
{
    uint64_t record = *(const uint64_t *)item;
    uint64_t id = record >> TAG_SHIFT;
    uint64_t seq = (record & (((uint64_t)1 << TAG_SHIFT) - 1)) - 1;
    if (id >= PRODUCERS || seq != next[id]) {
        fprintf(stderr, "producer %llu item %llu, expected %llu\n",
                (unsigned long long)id, (unsigned long long)seq,
                (unsigned long long)(id < PRODUCERS ? next[id] : 0));
        return 0;
    }
    next[id]++;
    return 1;
}

static void
start_producers(pthread_t *threads, producer_args *args, rc_list *list, uint64_t items,
                atomic_int *finished)
{
    int i;
    for (i = 0; i < PRODUCERS; i++) {
        args[i].list = list;
        args[i].id = (uintptr_t)i;
        args[i].items = items;
        args[i].finished = finished;
        args[i].records = (uint64_t *)malloc(items * sizeof(uint64_t) + 1);
        if (args[i].records == NULL) {
            fprintf(stderr, "cannot allocate the records\n");
            exit(1);
        }
        if (pthread_create(&threads[i], NULL, produce, &args[i]) != 0) {
            fprintf(stderr, "cannot start a producer thread\n");
            exit(1);
        }
    }
}

/* Producers and the consumer at once. */
static void
test_threads(uint64_t items)
{
    int before = failures;
    rc_list *list = rc_list_new();
    pthread_t threads[PRODUCERS], observer;
    producer_args args[PRODUCERS];
    observer_args obs;
    uint64_t next[PRODUCERS] = {0};
    uint64_t received = 0, taken = 0, total = items * PRODUCERS, turn = 0;
    void *out[BATCH];
    size_t got = 0, next_out = 0;
    atomic_int finished = 0, done = 0;
    int i;

    obs.list = list;
    obs.total = total;
    obs.done = &done;
    obs.failures = 0;
    if (pthread_create(&observer, NULL, observe, &obs) != 0) {
        fprintf(stderr, "cannot start the observer thread\n");
        exit(1);
    }
    start_producers(threads, args, list, items, &finished);
    while (received < total) {
        void *item;
        if (next_out == got) {
            got = take(list, out, turn++);
            next_out = 0;
            taken += got;
            /* On the consumer's thread the counters are exact: each item
               taken was claimed before it was written. */
            if (rc_list_popped(list) != taken || rc_list_pushed(list) < taken) {
                fprintf(stderr, "threads: popped %llu, pushed %llu, taken %llu\n",
                        (unsigned long long)rc_list_popped(list),
                        (unsigned long long)rc_list_pushed(list),
                        (unsigned long long)taken);
                failures++;
                break;
            }
        }
        if (next_out < got) {
            item = out[next_out++];
        }
        else {
            if (atomic_load(&finished) < PRODUCERS) {
                sched_yield();
                continue;
            }
            /* Every push is visible now: an empty list means lost items. */
            item = rc_list_pop(list);
            if (item == NULL) {
                fprintf(stderr, "threads: %llu of %llu items lost\n",
                        (unsigned long long)(total - received), (unsigned long long)total);
                failures++;
                break;
            }
            taken++;
        }
        if (!check_item(next, item)) {
            failures++;
            break;
        }
        received++;
    }
    for (i = 0; i < PRODUCERS; i++) {
        pthread_join(threads[i], NULL);
    }
    atomic_store(&done, 1);
    pthread_join(observer, NULL);
    failures += obs.failures;
    CHECK(rc_list_pop(list) == NULL && rc_list_peek(list) == NULL && rc_list_len(list) == 0);
    CHECK(rc_list_pushed(list) == total && rc_list_popped(list) == total);
    CHECK(blocks_held(1) <= 2);
    rc_list_delete(list);
    CHECK(blocks_held(0) == 0);
    for (i = 0; i < PRODUCERS; i++) {
        free(args[i].records);
    }
    printf("threads: %llu items from %d producers, each once and in order: %s\n",
           (unsigned long long)total, PRODUCERS, verdict(before));
}

typedef struct {
    uint64_t next[PRODUCERS];
    int failed;
} fill_state;

static int
fill_visit(void *item, void *arg)
{
    fill_state *s = (fill_state *)arg;
    if (!check_item(s->next, item)) {
        s->failed = 1;
        return 1;
    }
    return 0;
}

/* Producers alone race on every boundary; then the buffered items are
   visited and drained in order. */
static void
test_fill(uint64_t items)
{
    int before = failures;
    rc_list *list = rc_list_new();
    pthread_t threads[PRODUCERS];
    producer_args args[PRODUCERS];
    fill_state s = {{0}, 0};
    uint64_t next[PRODUCERS] = {0};
    uint64_t total = items * PRODUCERS, received = 0;
    void *out[BATCH];
    size_t got, j;
    atomic_int finished = 0;
    int i;

    start_producers(threads, args, list, items, &finished);
    for (i = 0; i < PRODUCERS; i++) {
        pthread_join(threads[i], NULL);
    }
    CHECK(rc_list_len(list) == total && rc_list_pushed(list) == total);
    CHECK(rc_list_visit(list, fill_visit, &s) == 0 && !s.failed);
    for (i = 0; i < PRODUCERS; i++) {
        CHECK(s.next[i] == items);
    }
    while ((got = rc_list_pop_many(list, out, BATCH)) > 0) {
        for (j = 0; j < got; j++) {
            if (!check_item(next, out[j])) {
                failures++;
                break;
            }
        }
        received += got;
    }
    CHECK(received == total && rc_list_popped(list) == total);
    CHECK(blocks_held(1) <= 2);
    rc_list_delete(list);
    CHECK(blocks_held(0) == 0);
    for (i = 0; i < PRODUCERS; i++) {
        free(args[i].records);
    }
    printf("fill: %llu items from %d producers, visited and drained in order: %s\n",
           (unsigned long long)total, PRODUCERS, verdict(before));
}

typedef struct {
    rc_list *list;
    uint64_t rounds;
} spare_args;

/* What a producer does with the spare when it loses the race for a block's
   last slot: takes it (or a new block), and puts it back unused, freeing
   any spare that came in meanwhile.  Writing the block in between makes
   ThreadSanitizer check that it changes hands in order. */
static void *
churn_spare(void *arg)
{
    spare_args *a = (spare_args *)arg;
    uint64_t i;
    for (i = 0; i < a->rounds; i++) {
        rc_list_block *b = rc_list_block_get(a->list);
        if (b == NULL) {
            fprintf(stderr, "spare: out of memory\n");
            abort();
        }
        rc_ptr_store_relaxed(&b->slots[i % RC_LIST_SLOTS], item_of(i));
        rc_list_block_clear(b);
        rc_list_block_put(a->list, b);
    }
    return NULL;
}

/* Those races are rare between real producers, so threads run them all
   the time here, while the consumer retires blocks into the spare. */
static void
test_spare(uint64_t rounds)
{
    int before = failures;
    rc_list *list = rc_list_new();
    pthread_t threads[2];
    spare_args args;
    uint64_t pushed = 0, popped = 0, i;
    int t;
    args.list = list;
    args.rounds = rounds;
    for (t = 0; t < 2; t++) {
        if (pthread_create(&threads[t], NULL, churn_spare, &args) != 0) {
            fprintf(stderr, "cannot start a spare thread\n");
            exit(1);
        }
    }
    for (i = 0; i < rounds; i++) {
        for (; pushed % RC_LIST_SLOTS != 0 || pushed == popped; pushed++) {
            CHECK(rc_list_push(list, item_of(pushed)) == 1);
        }
        for (; popped < pushed; popped++) {
            CHECK(rc_list_pop(list) == item_of(popped));
        }
    }
    for (t = 0; t < 2; t++) {
        pthread_join(threads[t], NULL);
    }
    CHECK(rc_list_pop(list) == NULL && rc_list_popped(list) == pushed);
    CHECK(blocks_held(1) <= 2);
    rc_list_delete(list);
    CHECK(blocks_held(0) == 0);
    printf("spare: %llu blocks retired while 2 threads take and return it: %s\n",
           (unsigned long long)rounds, verdict(before));
}

/* The close: every push is refused from then on, also at a block's last
   slot (where the run would allocate), and what was in stays poppable. */
static void
test_close(void)
{
    int before = failures;
    rc_list *l = rc_list_new();
    void *out[RC_LIST_SLOTS + 1];
    uint64_t i;
    CHECK(l != NULL);
    for (i = 0; i + 1 < RC_LIST_SLOTS; i++) {
        CHECK(rc_list_push(l, item_of(i)) == 1);
    }
    CHECK(!rc_list_closed(l));
    rc_list_close(l);
    rc_list_close(l); /* idempotent */
    CHECK(rc_list_closed(l));
    CHECK(rc_list_push(l, item_of(i)) == 0);
    CHECK(rc_list_push_many(l, out, 3) == 0);
    CHECK(rc_list_len(l) == RC_LIST_SLOTS - 1 && rc_list_pushed(l) == RC_LIST_SLOTS - 1);
    CHECK(rc_list_pop_many(l, out, RC_LIST_SLOTS + 1) == RC_LIST_SLOTS - 1);
    CHECK(out[0] == item_of(0) && out[RC_LIST_SLOTS - 2] == item_of(RC_LIST_SLOTS - 2));
    CHECK(rc_list_pop(l) == NULL && rc_list_push(l, item_of(0)) == 0);
    rc_list_delete(l);
    CHECK(blocks_held(0) == 0);
    printf("close: every push refused once closed, what was in kept: %s\n", verdict(before));
}

int
main(int argc, char **argv)
{
    uint64_t items = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
    test_empty();
    test_boundaries();
    test_many();
    test_visit();
    test_delete_buffered();
    test_burst();
    test_allocation_failure();
    test_close();
    test_threads(items);
    test_fill(items);
    test_spare(items);
    return failures != 0;
}
