/*
 * test_steer.c -- the software Toeplitz hash and RETA (net/steer.h) against
 * the verification vectors of Microsoft's RSS specification and a bitwise
 * reference written from the specification's pseudo-code.
 *
 * The random cases use a fixed seed that is printed; set PM_SEED to replay.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/steer.h"
#include "testrand.h"

#define TEST_SEED 0x7e0b1172u

/* The key of Microsoft's "Verifying the RSS Hash Calculation" page. */
static const uint8_t ms_key[PM_STEER_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct ms_vector {
	uint8_t dst[4], src[4];
	uint16_t dport, sport;
	uint32_t ipv4, ipv4_tcp;
};

/* Destination, source, and the IPv4-only and IPv4+TCP hashes. */
static const struct ms_vector ms_vectors[] = {
	{ { 161, 142, 100, 80 }, { 66, 9, 149, 187 }, 1766, 2794, 0x323e8fc2, 0x51ccc178 },
	{ { 65, 69, 140, 83 }, { 199, 92, 111, 2 }, 4739, 14230, 0xd718262a, 0xc626b0ea },
	{ { 12, 22, 207, 184 }, { 24, 19, 198, 95 }, 38024, 12898, 0xd2d0a5de, 0x5c2b394a },
	{ { 209, 142, 163, 6 }, { 38, 27, 205, 30 }, 2217, 48228, 0x82989176, 0xafc7327f },
	{ { 202, 188, 127, 2 }, { 153, 39, 163, 191 }, 1303, 44251, 0x5d1809c5, 0x10e828a2 },
};

/* The specification's loop: for each input bit, left to right, XOR the
 * leftmost 32 bits of the key, then shift the key left by one bit. */
static uint32_t
ref_toeplitz(const uint8_t *key, const uint8_t *in, size_t len)
{
	uint32_t hash = 0;
	size_t bit;

	for (bit = 0; bit < len * 8; bit++) {
		uint32_t k = 0;
		size_t j;

		if (!(in[bit / 8] >> (7 - bit % 8) & 1))
			continue;
		for (j = 0; j < 32; j++) {
			size_t kb = bit + j;

			k = k << 1 | (uint32_t)(key[kb / 8] >> (7 - kb % 8) & 1);
		}
		hash ^= k;
	}
	return hash;
}

static void
test_steer_microsoft_vectors_match(void **state)
{
	struct pm_steer s;
	size_t i;

	(void)state;
	assert_int_equal(pm_steer_init(&s, ms_key, 128, 4), 0);
	for (i = 0; i < sizeof(ms_vectors) / sizeof(ms_vectors[0]); i++) {
		const struct ms_vector *v = &ms_vectors[i];

		assert_int_equal(pm_steer_hash_v4(&s, v->src, v->dst), v->ipv4);
		assert_int_equal(pm_steer_hash_v4_l4(&s, v->src, v->dst, v->sport, v->dport),
				 v->ipv4_tcp);
	}
}

static void
test_steer_random_inputs_match_reference(void **state)
{
	uint32_t seed = pm_test_seed("steer", TEST_SEED);
	uint8_t key[PM_STEER_KEY_LEN], in[36];
	int round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		size_t len = xorshift32(&seed) % (sizeof(in) + 1), i;

		for (i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)xorshift32(&seed);
		for (i = 0; i < len; i++)
			in[i] = (uint8_t)xorshift32(&seed);
		assert_int_equal(pm_steer_toeplitz(key, in, len), ref_toeplitz(key, in, len));
	}
}

static void
test_steer_symmetric_key_is_symmetric(void **state)
{
	uint32_t seed = pm_test_seed("steer", TEST_SEED + 1);
	struct pm_steer s;
	int round;

	(void)state;
	assert_int_equal(pm_steer_init(&s, pm_steer_symmetric_key, 128, 2), 0);
	for (round = 0; round < 1000; round++) {
		uint32_t a = xorshift32(&seed), b = xorshift32(&seed);
		uint16_t pa = (uint16_t)xorshift32(&seed), pb = (uint16_t)xorshift32(&seed);
		uint8_t x[4], y[4];

		memcpy(x, &a, 4);
		memcpy(y, &b, 4);
		assert_int_equal(pm_steer_hash_v4(&s, x, y), pm_steer_hash_v4(&s, y, x));
		assert_int_equal(pm_steer_hash_v4_l4(&s, x, y, pa, pb),
				 pm_steer_hash_v4_l4(&s, y, x, pb, pa));
	}
}

static void
test_steer_reta_spreads_round_robin(void **state)
{
	struct pm_steer s;
	unsigned int i, count[3] = { 0, 0, 0 };

	(void)state;
	assert_int_equal(pm_steer_init(&s, ms_key, 64, 3), 0);
	for (i = 0; i < 64; i++) {
		assert_int_equal(pm_steer_queue(&s, i), i % 3);
		/* Only the low bits index the table, as in NICs. */
		assert_int_equal(pm_steer_queue(&s, i | 0xabcd0000u), i % 3);
		count[pm_steer_queue(&s, i)]++;
	}
	assert_int_equal(count[0], 22);
	assert_int_equal(count[1], 21);
	assert_int_equal(count[2], 21);
}

static void
test_steer_bad_table_is_rejected(void **state)
{
	struct pm_steer s;

	(void)state;
	assert_int_equal(pm_steer_init(&s, ms_key, 128, 0), -EINVAL);
	assert_int_equal(pm_steer_init(&s, ms_key, 0, 1), -EINVAL);
	assert_int_equal(pm_steer_init(&s, ms_key, 100, 1), -EINVAL);
	assert_int_equal(pm_steer_init(&s, ms_key, 1024, 1), -EINVAL);
	assert_int_equal(pm_steer_init(&s, ms_key, 1, 1), 0);
	assert_int_equal(pm_steer_queue(&s, 0xffffffffu), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steer_microsoft_vectors_match),
		cmocka_unit_test(test_steer_random_inputs_match_reference),
		cmocka_unit_test(test_steer_symmetric_key_is_symmetric),
		cmocka_unit_test(test_steer_reta_spreads_round_robin),
		cmocka_unit_test(test_steer_bad_table_is_rejected),
	};

	return cmocka_run_group_tests_name("steer", tests, NULL, NULL);
}
