/* Portable 64-bit and pointer atomics for the ring buffer, the unbounded
 * list and the channel's flags.
 *
 * Only the operations and memory orders the channel needs are exposed, so
 * every call site states its ordering.  C11 <stdatomic.h> on GCC and Clang;
 * an MSVC branch built on the Interlocked intrinsics and ldar/stlr on ARM64.
 * Both must be lock-free: a lock-based fallback would put a hidden lock on
 * the hot path, so its absence is checked at compile time.
 */
#ifndef RINGCHAN_ATOMIC_H
#define RINGCHAN_ATOMIC_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)

#if !defined(_WIN64)
#error "ringchan needs a 64-bit target: ring positions are 64-bit atomics"
#endif
#include <intrin.h>

typedef struct { volatile int64_t v; } rc_atomic_u64;

/* Aligned 64-bit loads and stores, and the Interlocked intrinsics, are
   single instructions on both 64-bit targets. */
static_assert(sizeof(void *) == 8, "ringchan needs lock-free 64-bit atomics");

static __forceinline uint64_t
rc_load_relaxed(const rc_atomic_u64 *a)
{
    return (uint64_t)__iso_volatile_load64(&a->v);
}

static __forceinline uint64_t
rc_load_acquire(const rc_atomic_u64 *a)
{
#if defined(_M_ARM64) || defined(_M_ARM64EC)
    return (uint64_t)__ldar64((volatile unsigned __int64 *)&a->v);
#else
    /* x64 loads are acquire in hardware; only the compiler must not reorder. */
    uint64_t v = (uint64_t)__iso_volatile_load64(&a->v);
    _ReadWriteBarrier();
    return v;
#endif
}

static __forceinline void
rc_store_relaxed(rc_atomic_u64 *a, uint64_t v)
{
    __iso_volatile_store64(&a->v, (int64_t)v);
}

static __forceinline void
rc_store_release(rc_atomic_u64 *a, uint64_t v)
{
#if defined(_M_ARM64) || defined(_M_ARM64EC)
    __stlr64((volatile unsigned __int64 *)&a->v, v);
#else
    _ReadWriteBarrier();
    __iso_volatile_store64(&a->v, (int64_t)v);
#endif
}

/* On failure *expected receives the current value, as in C11. */
static __forceinline int
rc_cas_relaxed(rc_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    int64_t prev = _InterlockedCompareExchange64(&a->v, (int64_t)desired,
                                                 (int64_t)*expected);
    if ((uint64_t)prev == *expected) {
        return 1;
    }
    *expected = (uint64_t)prev;
    return 0;
}

/* The Interlocked intrinsics are full barriers on both targets, so the
   relaxed CAS already orders as acquire. */
static __forceinline int
rc_cas_acquire(rc_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    return rc_cas_relaxed(a, expected, desired);
}

/* Returns the value before the addition. */
static __forceinline uint64_t
rc_fetch_add_relaxed(rc_atomic_u64 *a, uint64_t v)
{
    return (uint64_t)_InterlockedExchangeAdd64(&a->v, (int64_t)v);
}

/* Pointers are 64-bit here (_WIN64 is required above), so a pointer
   atomic is a 64-bit one and reuses its loads and stores. */
typedef struct { rc_atomic_u64 u; } rc_atomic_ptr;

static __forceinline void *
rc_ptr_load_relaxed(const rc_atomic_ptr *a)
{
    return (void *)(uintptr_t)rc_load_relaxed(&a->u);
}

static __forceinline void *
rc_ptr_load_acquire(const rc_atomic_ptr *a)
{
    return (void *)(uintptr_t)rc_load_acquire(&a->u);
}

static __forceinline void
rc_ptr_store_relaxed(rc_atomic_ptr *a, void *v)
{
    rc_store_relaxed(&a->u, (uint64_t)(uintptr_t)v);
}

static __forceinline void
rc_ptr_store_release(rc_atomic_ptr *a, void *v)
{
    rc_store_release(&a->u, (uint64_t)(uintptr_t)v);
}

/* Returns the value before the exchange.  A full barrier, as every
   Interlocked intrinsic: both orders below come with it. */
static __forceinline void *
rc_ptr_exchange_acquire(rc_atomic_ptr *a, void *v)
{
    return (void *)(uintptr_t)_InterlockedExchange64(&a->u.v, (int64_t)(uintptr_t)v);
}

static __forceinline void *
rc_ptr_exchange_acq_rel(rc_atomic_ptr *a, void *v)
{
    return rc_ptr_exchange_acquire(a, v);
}

/* A full barrier: orders an earlier store before a later load. */
static __forceinline void
rc_fence_seq_cst(void)
{
#if defined(_M_ARM64) || defined(_M_ARM64EC)
    __dmb(_ARM64_BARRIER_ISH);
#else
    __faststorefence();
#endif
}

#else /* C11 atomics: GCC, Clang */

#include <stdatomic.h>

typedef struct { _Atomic uint64_t v; } rc_atomic_u64;

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
               "ringchan needs lock-free 64-bit atomics");

static inline uint64_t
rc_load_relaxed(const rc_atomic_u64 *a)
{
    return atomic_load_explicit((_Atomic uint64_t *)&a->v, memory_order_relaxed);
}

static inline uint64_t
rc_load_acquire(const rc_atomic_u64 *a)
{
    return atomic_load_explicit((_Atomic uint64_t *)&a->v, memory_order_acquire);
}

static inline void
rc_store_relaxed(rc_atomic_u64 *a, uint64_t v)
{
    atomic_store_explicit(&a->v, v, memory_order_relaxed);
}

static inline void
rc_store_release(rc_atomic_u64 *a, uint64_t v)
{
    atomic_store_explicit(&a->v, v, memory_order_release);
}

/* On failure *expected receives the current value. */
static inline int
rc_cas_relaxed(rc_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(
        &a->v, expected, desired, memory_order_relaxed, memory_order_relaxed);
}

/* Acquire on failure too: the value it then returns is read like an
   acquire load.  On failure *expected receives the current value. */
static inline int
rc_cas_acquire(rc_atomic_u64 *a, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(
        &a->v, expected, desired, memory_order_acquire, memory_order_acquire);
}

/* Returns the value before the addition. */
static inline uint64_t
rc_fetch_add_relaxed(rc_atomic_u64 *a, uint64_t v)
{
    return atomic_fetch_add_explicit(&a->v, v, memory_order_relaxed);
}

typedef struct { _Atomic(void *) v; } rc_atomic_ptr;

_Static_assert(__atomic_always_lock_free(sizeof(void *), 0),
               "ringchan needs lock-free pointer atomics");

static inline void *
rc_ptr_load_relaxed(const rc_atomic_ptr *a)
{
    return atomic_load_explicit((_Atomic(void *) *)&a->v, memory_order_relaxed);
}

static inline void *
rc_ptr_load_acquire(const rc_atomic_ptr *a)
{
    return atomic_load_explicit((_Atomic(void *) *)&a->v, memory_order_acquire);
}

static inline void
rc_ptr_store_relaxed(rc_atomic_ptr *a, void *v)
{
    atomic_store_explicit(&a->v, v, memory_order_relaxed);
}

static inline void
rc_ptr_store_release(rc_atomic_ptr *a, void *v)
{
    atomic_store_explicit(&a->v, v, memory_order_release);
}

/* Returns the value before the exchange. */
static inline void *
rc_ptr_exchange_acquire(rc_atomic_ptr *a, void *v)
{
    return atomic_exchange_explicit(&a->v, v, memory_order_acquire);
}

static inline void *
rc_ptr_exchange_acq_rel(rc_atomic_ptr *a, void *v)
{
    return atomic_exchange_explicit(&a->v, v, memory_order_acq_rel);
}

/* A full barrier: orders an earlier store before a later load. */
static inline void
rc_fence_seq_cst(void)
{
    atomic_thread_fence(memory_order_seq_cst);
}

#endif

static inline void
rc_atomic_init(rc_atomic_u64 *a, uint64_t v)
{
    rc_store_relaxed(a, v);
}

#endif /* RINGCHAN_ATOMIC_H */
