/*
 * testrand.h -- seeded randomness for cmocka tests (STYLE.md 10: no
 * randomness without a printed seed).
 *
 * Test code only. Each test file passes its own default seed; PM_SEED in
 * the environment replays another run.
 */
#ifndef PM_TESTRAND_H
#define PM_TESTRAND_H

#include <stdint.h>
#include <stdlib.h>

/* The seed for test @name: PM_SEED if set (and not 0), else @def. Printed
 * as a TAP comment so a failure can be replayed. */
static inline uint32_t
pm_test_seed(const char *name, uint32_t def)
{
	const char *s = getenv("PM_SEED");
	uint32_t seed = s != NULL ? (uint32_t)strtoul(s, NULL, 0) : def;

	if (seed == 0)
		seed = def;	/* xorshift32 is stuck at 0 */
	print_message("# %s seed 0x%08x\n", name, seed);
	return seed;
}

static inline uint32_t
xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif
