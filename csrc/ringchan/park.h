/* How a parked thread waits for its wake-up: a short spin, then sleep.
 *
 * A thread parked on the channel (a blocking send, receive or reserve, or
 * `for item in rx`) is woken by the other side releasing the lock it
 * blocks on.  Sleeping on that lock costs the waker a system call and the
 * sleeper a trip through the scheduler, tens of microseconds each on a
 * busy machine, which is most of what a handoff between two threads costs
 * when the other side answers within microseconds.  So before it sleeps,
 * the thread polls the lock for a moment (backoff.h: spin-wait hints, then
 * yields of its time slice), with the GIL released: a release that comes
 * meanwhile is then an atomic store, taken up at the next poll.  The wake-
 * up itself is never delayed: only how the sleeper notices it changes.
 *
 * How long to poll adapts, per channel, to whether polling paid off: the
 * estimate moves toward the polls a wake-up took when it came in time, and
 * decays when none came, so a channel whose other side is idle soon polls
 * only RCPY_SPIN_MIN times before each sleep.  The poll count is bounded
 * (RCPY_SPIN_MAX), so a parked thread never spins for long.
 */
#ifndef RINGCHAN_PARK_H
#define RINGCHAN_PARK_H

#include <Python.h>
#include <pythread.h>

#include "atomic.h"
#include "backoff.h"

/* Polls before every sleep, and at most.  A poll is a round of spin-wait
   hints (the first few) or a yield, about a microsecond when no other
   thread wants the core. */
#define RCPY_SPIN_MIN 16
#define RCPY_SPIN_MAX 256

/* The polls to make, from an estimate in eighths of a poll (see above). */
static inline uint64_t
rcpy_spin_limit(uint64_t estimate)
{
    uint64_t limit = estimate / 4 + RCPY_SPIN_MIN;
    return limit < RCPY_SPIN_MAX ? limit : RCPY_SPIN_MAX;
}

/* The estimate after a spin: toward the polls it took (an average in
   eighths: avg += (8 * polls - avg) / 8), or down by a quarter when what
   it waited for did not come (polls == 0). */
static inline void
rcpy_spin_learn(rc_atomic_u64 *estimate, uint64_t avg, uint64_t polls)
{
    rc_store_relaxed(estimate, polls ? avg - avg / 8 + polls : avg - avg / 4);
}

/* Polls lock, held by the parked thread until a wake-up releases it, for
   as long as *estimate suggests; 1 once acquired, else 0 (then sleep on
   it).  Called with the GIL released.  *estimate is the channel's, shared
   by its parked threads; updated without ordering, as a hint. */
static inline int
rcpy_spin_acquire(PyThread_type_lock lock, rc_atomic_u64 *estimate)
{
    uint64_t avg = rc_load_relaxed(estimate);
    uint64_t limit = rcpy_spin_limit(avg), polls;
    unsigned spins = 0;
    for (polls = 1; polls <= limit; polls++) {
        rc_snooze(&spins);
        if (PyThread_acquire_lock(lock, NOWAIT_LOCK)) {
            rcpy_spin_learn(estimate, avg, polls);
            return 1;
        }
    }
    rcpy_spin_learn(estimate, avg, 0);
    return 0;
}

/* With a GIL, a thread just woken cannot run before its waker lets the
   GIL go, which a waker about to park does at once; asked for meanwhile,
   the GIL puts the woken thread to sleep a second time, and waking it from
   there is a second system call and scheduler trip.  So it polls the
   waker's parked flag first, with the GIL still released, for as long as
   *estimate suggests (adapted as above: a waker that goes on running
   instead of parking soon costs only RCPY_SPIN_MIN polls), then a few
   spin-wait hints more, for the waker to get from its flag to releasing
   the GIL.  The wake-up was already taken: this only picks the moment to
   ask for the GIL, and a waker that never parks gets asked after the
   bounded spin, as it would have been. */
static inline void
rcpy_spin_until_parked(const rc_atomic_u64 *parked, rc_atomic_u64 *estimate)
{
    uint64_t avg = rc_load_relaxed(estimate);
    uint64_t limit = rcpy_spin_limit(avg), polls;
    unsigned spins = 0;
    for (polls = 1; polls <= limit; polls++) {
        rc_snooze(&spins);
        if (rc_load_relaxed(parked)) {
            unsigned i;
            rcpy_spin_learn(estimate, avg, polls);
            for (spins = 0, i = 0; i < RC_SNOOZE_PAUSES; i++) {
                rc_snooze(&spins);
            }
            return;
        }
    }
    rcpy_spin_learn(estimate, avg, 0);
}

#endif /* RINGCHAN_PARK_H */
