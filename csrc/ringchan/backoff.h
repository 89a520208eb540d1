/* Waiting a moment for another thread without sleeping on a lock.
 *
 * rc_snooze is one step of an exponential backoff: a few rounds of the
 * processor's spin-wait hint, doubling each time, then a yield of the
 * time slice, in case the thread waited on is preempted.  The list waits
 * this way for a producer installing the next block (three stores), and a
 * parked thread of the channel for its wake-up before it sleeps (park.h).
 */
#ifndef RINGCHAN_BACKOFF_H
#define RINGCHAN_BACKOFF_H

#if defined(_WIN32)
/* The SDK's declaration, made here so as not to bring <windows.h> and its
   macros into every file that includes this one. */
__declspec(dllimport) int __stdcall SwitchToThread(void);
#else
#include <sched.h>
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

/* Rounds of spin-wait hints before each step yields instead. */
#define RC_SNOOZE_PAUSES 6

/* One step of the wait; *spins counts the steps, from 0. */
static inline void
rc_snooze(unsigned *spins)
{
    if (*spins < RC_SNOOZE_PAUSES) {
        unsigned i;
        for (i = 0; i < (1u << *spins); i++) {
#if defined(_MSC_VER) && !defined(__clang__)
#if defined(_M_ARM64) || defined(_M_ARM64EC)
            __yield();
#else
            _mm_pause();
#endif
#elif defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
            __asm__ __volatile__("yield");
#endif
        }
        (*spins)++;
    }
    else {
#if defined(_WIN32)
        SwitchToThread();
#else
        sched_yield();
#endif
    }
}

#endif /* RINGCHAN_BACKOFF_H */
