/*
 * seq.h -- TCP sequence-number arithmetic (RFC 9293 3.4), modulo 2^32.
 *
 * Owner: nothing; pure inline functions. Threads: any. No allocation.
 *
 * Every seq/ack comparison in postmux goes through these helpers; never
 * compare sequence numbers with `<` (STYLE.md 9). All of them take their
 * arguments in the same order and read like the operator between them:
 * pm_seq_lt(a, b) is "a < b", pm_seq_in(s, lo, hi) is "lo <= s < hi".
 *
 * The comparisons use unsigned differences (`a - b > 0x7fffffff`), which C11
 * defines for every input; the cast to int32_t that Linux uses is
 * implementation-defined (C11 6.3.1.3p3).
 *
 * Undefined: two numbers exactly 2^31 apart have no order (RFC 1982 3.2).
 * There pm_seq_lt(a, b) and pm_seq_lt(b, a) are both true, pm_seq_le() and
 * pm_seq_ge() both false in either order; callers never get near it, since
 * TCP windows are at most 2^30 (RFC 7323 2.3) and postmux's buffers far
 * smaller. pm_seq_in() has no such hole: it is exact for any range up to
 * 2^32 - 1 long.
 */
#ifndef PM_SEQ_H
#define PM_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* a < b in sequence space. */
static inline bool
pm_seq_lt(uint32_t a, uint32_t b)
{
	return (uint32_t)(a - b) > 0x7fffffffu;
}

/* a <= b in sequence space. */
static inline bool
pm_seq_le(uint32_t a, uint32_t b)
{
	return !pm_seq_lt(b, a);
}

/* a > b in sequence space. */
static inline bool
pm_seq_gt(uint32_t a, uint32_t b)
{
	return pm_seq_lt(b, a);
}

/* a >= b in sequence space. */
static inline bool
pm_seq_ge(uint32_t a, uint32_t b)
{
	return !pm_seq_lt(a, b);
}

/*
 * lo <= s < hi in sequence space: s lies in the half-open range that starts
 * at lo and is (hi - lo) mod 2^32 long. An empty range (lo == hi) holds
 * nothing.
 */
static inline bool
pm_seq_in(uint32_t s, uint32_t lo, uint32_t hi)
{
	return (uint32_t)(s - lo) < (uint32_t)(hi - lo);
}

/* The later of a and b (b when they are exactly 2^31 apart: undefined). */
static inline uint32_t
pm_seq_max(uint32_t a, uint32_t b)
{
	return pm_seq_lt(a, b) ? b : a;
}

#endif
