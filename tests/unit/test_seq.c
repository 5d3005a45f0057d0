/*
 * test_seq.c -- sequence-number arithmetic (tcp/seq.h): the wrap point,
 * distance exactly 2^31 (undefined, asserted as documented), half-open
 * ranges across the wrap, and random pairs against a 64-bit reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tcp/seq.h"
#include "testrand.h"

#define TEST_SEED 0x5e9a11c3u

static void
test_seq_wrap_orders_across_zero(void **state)
{
	(void)state;
	assert_true(pm_seq_lt(0xffffffffu, 0));
	assert_true(pm_seq_lt(0xffffff00u, 0x100));
	assert_true(pm_seq_gt(0, 0xffffffffu));
	assert_true(pm_seq_gt(0x10, 0xfffffff0u));
	assert_true(pm_seq_le(0xffffffffu, 0));
	assert_true(pm_seq_ge(0, 0xffffffffu));
	assert_false(pm_seq_lt(0, 0xffffffffu));
	assert_false(pm_seq_gt(0xffffffffu, 0));
	assert_int_equal(pm_seq_max(0xfffffff0u, 5), 5);
	assert_int_equal(pm_seq_max(5, 0xfffffff0u), 5);
}

static void
test_seq_equal_is_le_and_ge_not_lt_or_gt(void **state)
{
	uint32_t v[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_false(pm_seq_lt(v[i], v[i]));
		assert_false(pm_seq_gt(v[i], v[i]));
		assert_true(pm_seq_le(v[i], v[i]));
		assert_true(pm_seq_ge(v[i], v[i]));
		assert_int_equal(pm_seq_max(v[i], v[i]), v[i]);
	}
}

static void
test_seq_largest_defined_distance_orders(void **state)
{
	uint32_t a = 0xfffffff0u, b = a + 0x7fffffffu;	/* 2^31 - 1 apart */

	(void)state;
	assert_true(pm_seq_lt(a, b));
	assert_true(pm_seq_gt(b, a));
	assert_false(pm_seq_lt(b, a));
	assert_true(pm_seq_le(a, b));
	assert_false(pm_seq_le(b, a));
}

static void
test_seq_distance_2_pow_31_is_undefined_as_documented(void **state)
{
	uint32_t pairs[][2] = { { 0, 0x80000000u }, { 0xffffff00u, 0x7fffff00u },
				{ 0x12345678u, 0x92345678u } };

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		uint32_t a = pairs[i][0], b = pairs[i][1];

		/* Both "less than" each other, neither <= nor >= (seq.h). */
		assert_true(pm_seq_lt(a, b));
		assert_true(pm_seq_lt(b, a));
		assert_true(pm_seq_gt(a, b));
		assert_true(pm_seq_gt(b, a));
		assert_false(pm_seq_le(a, b));
		assert_false(pm_seq_le(b, a));
		assert_false(pm_seq_ge(a, b));
		assert_false(pm_seq_ge(b, a));
	}
}

static void
test_seq_in_half_open_across_wrap(void **state)
{
	uint32_t lo = 0xfffffff8u, hi = 8;	/* 16 numbers: ...f8 .. 7 */

	(void)state;
	assert_true(pm_seq_in(lo, lo, hi));
	assert_true(pm_seq_in(0xffffffffu, lo, hi));
	assert_true(pm_seq_in(0, lo, hi));
	assert_true(pm_seq_in(7, lo, hi));
	assert_false(pm_seq_in(8, lo, hi));		/* hi excluded */
	assert_false(pm_seq_in(lo - 1, lo, hi));
	assert_false(pm_seq_in(0x80000000u, lo, hi));
	/* Empty range holds nothing; a range of 2^32 - 1 all but hi. */
	assert_false(pm_seq_in(5, 5, 5));
	assert_false(pm_seq_in(0, 5, 5));
	assert_true(pm_seq_in(4, 5, 4) == false);
	assert_true(pm_seq_in(3, 5, 4));
	assert_true(pm_seq_in(5, 5, 4));
}

static void
test_seq_random_pairs_match_64bit_reference(void **state)
{
	uint32_t rs = pm_test_seed("seq_random", TEST_SEED);

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint32_t a = xorshift32(&rs);
		uint32_t d = xorshift32(&rs) & 0x7fffffffu;	/* 0 .. 2^31 - 1 */
		/* b = a + d with the true (unwrapped) order a <= b. */
		uint32_t b = a + d;
		uint32_t lo = a - (xorshift32(&rs) & 0xffff), len = xorshift32(&rs) & 0x3fffffffu;
		uint64_t off = (uint64_t)(uint32_t)(a - lo);

		assert_true(pm_seq_le(a, b));
		assert_true(pm_seq_ge(b, a));
		assert_int_equal(pm_seq_lt(a, b), d != 0);
		assert_int_equal(pm_seq_gt(b, a), d != 0);
		assert_int_equal(pm_seq_lt(b, a), false);
		assert_int_equal(pm_seq_max(a, b), b);
		assert_int_equal(pm_seq_in(a, lo, lo + len), off < len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_wrap_orders_across_zero),
		cmocka_unit_test(test_seq_equal_is_le_and_ge_not_lt_or_gt),
		cmocka_unit_test(test_seq_largest_defined_distance_orders),
		cmocka_unit_test(test_seq_distance_2_pow_31_is_undefined_as_documented),
		cmocka_unit_test(test_seq_in_half_open_across_wrap),
		cmocka_unit_test(test_seq_random_pairs_match_64bit_reference),
	};

	return cmocka_run_group_tests_name("seq", tests, NULL, NULL);
}
