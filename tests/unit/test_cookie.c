/*
 * test_cookie.c -- SYN cookies (tcp/cookie.h).
 *
 * Random tuples, keys and cookies come from a printed seed; set PM_SEED to
 * replay another run. The rejection tests count acceptances rather than
 * demanding none where the cookie.h argument allows a tiny chance (about
 * 2^-23 per try for the other period): with the default seed the counts are
 * 0, and the asserted bounds are far above the expected values.
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

#include "tcp/cookie.h"
#include "testrand.h"

#define TEST_SEED 0xc00c1e5au
#define P 64u	/* PM_COOKIE_PERIOD_S */

static struct pm_cookie_secret secret;

static int
setup(void **state)
{
	uint8_t key[16];
	int i;

	(void)state;
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)(0xa5 ^ (i * 37));
	pm_cookie_secret_init(&secret, key);
	return 0;
}

static struct pm_cookie_tuple
fixed_tuple(void)
{
	struct pm_cookie_tuple t = {
		.saddr = { 198, 51, 100, 23 },
		.daddr = { 192, 0, 2, 10 },
		.sport = 49152,
		.dport = 143,
		.isn = 0x12345678u,
	};

	return t;
}

static struct pm_cookie_tuple
random_tuple(uint32_t *seed)
{
	struct pm_cookie_tuple t;
	uint32_t x = xorshift32(seed), y = xorshift32(seed);

	memcpy(t.saddr, &x, 4);
	memcpy(t.daddr, &y, 4);
	t.sport = (uint16_t)xorshift32(seed);
	t.dport = (uint16_t)xorshift32(seed);
	t.isn = xorshift32(seed);
	return t;
}

static struct pm_cookie_opts
random_opts(uint32_t *seed)
{
	struct pm_cookie_opts o;

	o.mss = pm_cookie_mss_table[xorshift32(seed) % PM_COOKIE_NMSS];
	o.wscale = (int8_t)((int)(xorshift32(seed) % 16) - 1);
	o.sack = xorshift32(seed) & 1;
	return o;
}

static void
assert_opts_equal(const struct pm_cookie_opts *a, const struct pm_cookie_opts *b)
{
	assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->wscale, b->wscale);
	assert_int_equal(a->sack, b->sack);
}

static void
test_cookie_table_is_ascending_and_sane(void **state)
{
	int i;

	(void)state;
	assert_int_equal(pm_cookie_mss_table[0], 536);
	assert_int_equal(pm_cookie_mss_table[PM_COOKIE_NMSS - 1], 1460);
	for (i = 1; i < PM_COOKIE_NMSS; i++)
		assert_true(pm_cookie_mss_table[i - 1] < pm_cookie_mss_table[i]);
}

/* Every table entry x every window scale (and none) x SACK on/off. */
static void
test_cookie_every_option_combination_round_trips(void **state)
{
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req, enc, out;
	uint32_t now = 1000000, c;
	int i, ws, sack, n = 0;

	(void)state;
	for (i = 0; i < PM_COOKIE_NMSS; i++) {
		for (ws = -1; ws <= 14; ws++) {
			for (sack = 0; sack <= 1; sack++) {
				req.mss = pm_cookie_mss_table[i];
				req.wscale = (int8_t)ws;
				req.sack = sack;
				c = pm_cookie_make(&secret, &t, now, &req, &enc);
				assert_opts_equal(&enc, &req);
				memset(&out, 0x5a, sizeof(out));
				assert_int_equal(pm_cookie_check(&secret, &t, c, now, &out), 0);
				assert_opts_equal(&out, &req);
				/* Also in the next period. */
				assert_int_equal(pm_cookie_check(&secret, &t, c, now + P, &out), 0);
				assert_opts_equal(&out, &req);
				n++;
			}
		}
	}
	assert_int_equal(n, 8 * 16 * 2);
}

static void
test_cookie_mss_rounds_down_to_table(void **state)
{
	static const struct {
		uint16_t in, want;
	} cases[] = {
		{ 0, 536 }, { 1, 536 }, { 200, 536 }, { 535, 536 }, { 536, 536 },
		{ 537, 536 }, { 1219, 536 }, { 1220, 1220 }, { 1299, 1220 },
		{ 1300, 1300 }, { 1359, 1300 }, { 1360, 1360 }, { 1399, 1360 },
		{ 1400, 1400 }, { 1439, 1400 }, { 1440, 1440 }, { 1451, 1440 },
		{ 1452, 1452 }, { 1459, 1452 }, { 1460, 1460 }, { 1461, 1460 },
		{ 8960, 1460 }, { 65535, 1460 },
	};
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req = { 0, 7, true }, enc, out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t c;

		req.mss = cases[i].in;
		c = pm_cookie_make(&secret, &t, 5000, &req, &enc);
		assert_int_equal(enc.mss, cases[i].want);
		assert_int_equal(pm_cookie_check(&secret, &t, c, 5000, &out), 0);
		assert_int_equal(out.mss, cases[i].want);
	}
	/* @enc is optional. */
	req.mss = 1460;
	assert_int_equal(pm_cookie_check(&secret, &t, pm_cookie_make(&secret, &t, 5000, &req, NULL),
					 5000, &out), 0);
	assert_int_equal(out.mss, 1460);
}

static void
test_cookie_wscale_is_clamped_or_none(void **state)
{
	static const struct {
		int in, want;
	} cases[] = {
		{ -1, -1 }, { -2, -1 }, { -128, -1 }, { 0, 0 }, { 14, 14 }, { 15, 14 },
		{ 100, 14 }, { 127, 14 },
	};
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req = { 1460, 0, false }, enc, out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t c;

		req.wscale = (int8_t)cases[i].in;
		c = pm_cookie_make(&secret, &t, 77, &req, &enc);
		assert_int_equal(enc.wscale, cases[i].want);
		assert_int_equal(pm_cookie_check(&secret, &t, c, 77, &out), 0);
		assert_int_equal(out.wscale, cases[i].want);
	}
}

/*
 * Validity over time, for a cookie made at every second of one period:
 * accepted through the end of the next period, rejected from the period
 * after, and rejected in every earlier period.
 */
static void
test_cookie_accepted_in_current_and_previous_period_only(void **state)
{
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req = { 1460, 7, true }, out;
	uint32_t base = 640000, made, c;

	(void)state;
	assert_int_equal(base % P, 0);
	for (made = base; made < base + P; made++) {
		c = pm_cookie_make(&secret, &t, made, &req, NULL);
		/* The same period, to its last second. */
		assert_int_equal(pm_cookie_check(&secret, &t, c, made, &out), 0);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + P - 1, &out), 0);
		/* The next period, first and last second. */
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + P, &out), 0);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + 2 * P - 1, &out), 0);
		/* Two periods later: expired. */
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + 2 * P, &out), -EINVAL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + 3 * P - 1, &out),
				 -EINVAL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base + 1000 * P, &out),
				 -EINVAL);
		/* Earlier periods: a cookie from the future. */
		assert_int_equal(pm_cookie_check(&secret, &t, c, base - 1, &out), -EINVAL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base - P, &out), -EINVAL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, base - 2 * P, &out), -EINVAL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, 0, &out), -EINVAL);
	}
}

/* now_s wraps at 2^32 and the counter with it: the last period before the
 * wrap is the previous period of the first one after it. */
static void
test_cookie_period_counter_wrap_is_handled(void **state)
{
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req = { 1440, 2, false }, out;
	uint32_t last = UINT32_MAX - 5;	/* in the last period, 2^26 - 1 */
	uint32_t c;

	(void)state;
	c = pm_cookie_make(&secret, &t, last, &req, NULL);
	assert_int_equal(pm_cookie_check(&secret, &t, c, last, &out), 0);
	assert_int_equal(pm_cookie_check(&secret, &t, c, UINT32_MAX, &out), 0);
	/* now_s wrapped: period 0 accepts a cookie of period 2^26 - 1. */
	assert_int_equal(pm_cookie_check(&secret, &t, c, 0, &out), 0);
	assert_opts_equal(&out, &req);
	assert_int_equal(pm_cookie_check(&secret, &t, c, P - 1, &out), 0);
	/* Period 1 is two periods later. */
	assert_int_equal(pm_cookie_check(&secret, &t, c, P, &out), -EINVAL);
	/* A cookie of period 0 is from the future in period 2^26 - 1. */
	c = pm_cookie_make(&secret, &t, 3, &req, NULL);
	assert_int_equal(pm_cookie_check(&secret, &t, c, last, &out), -EINVAL);
	assert_int_equal(pm_cookie_check(&secret, &t, c, 3, &out), 0);
	/* And the cookie of period 2^26 - 2 is expired in period 0. */
	c = pm_cookie_make(&secret, &t, last - P, &req, NULL);
	assert_int_equal(pm_cookie_check(&secret, &t, c, last, &out), 0);
	assert_int_equal(pm_cookie_check(&secret, &t, c, 0, &out), -EINVAL);
}

/* Flip every bit of the cookie, and every bit of the tuple, for many random
 * connections: count how many flips are still accepted. */
static void
test_cookie_every_bit_flip_is_rejected(void **state)
{
	uint32_t seed = pm_test_seed("cookie flips", TEST_SEED);
	long tries = 0, accepted = 0;
	int n, bit;

	(void)state;
	for (n = 0; n < 2000; n++) {
		struct pm_cookie_tuple t = random_tuple(&seed), u;
		struct pm_cookie_opts req = random_opts(&seed), out;
		uint32_t now = xorshift32(&seed), c;

		c = pm_cookie_make(&secret, &t, now, &req, NULL);
		assert_int_equal(pm_cookie_check(&secret, &t, c, now, &out), 0);
		for (bit = 0; bit < 32; bit++) {
			tries++;
			if (pm_cookie_check(&secret, &t, c ^ (1u << bit), now, &out) == 0)
				accepted++;
		}
		/* saddr, daddr (64 bits), ports (32), isn (32). */
		for (bit = 0; bit < 128; bit++) {
			u = t;
			if (bit < 32)
				u.saddr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			else if (bit < 64)
				u.daddr[(bit - 32) / 8] ^= (uint8_t)(1u << (bit % 8));
			else if (bit < 80)
				u.sport ^= (uint16_t)(1u << (bit - 64));
			else if (bit < 96)
				u.dport ^= (uint16_t)(1u << (bit - 80));
			else
				u.isn ^= 1u << (bit - 96);
			tries++;
			if (pm_cookie_check(&secret, &u, c, now, &out) == 0)
				accepted++;
		}
	}
	print_message("# %ld of %ld single-bit flips accepted (expected about %.3f)\n",
		      accepted, tries, (double)tries * 2 / 16777213.0);
	assert_int_equal(tries, 2000L * 160);
	assert_true(accepted <= 2);
}

/* A flip of the cookie's options or MAC bits is rejected in its own period
 * with certainty (the one-time MAC); only the other period could accept it. */
static void
test_cookie_flip_within_period_is_always_rejected(void **state)
{
	struct pm_cookie_tuple t = fixed_tuple();
	struct pm_cookie_opts req = { 1452, 9, true }, out;
	uint32_t base = 64 * 1000, c;
	int bit;

	(void)state;
	c = pm_cookie_make(&secret, &t, base, &req, NULL);
	/* At "base" only the cookie's own period and the one before (in which
	 * it was not made) are tried; all 32 flips must fail. */
	for (bit = 0; bit < 32; bit++)
		assert_int_equal(pm_cookie_check(&secret, &t, c ^ (1u << bit), base, &out),
				 -EINVAL);
}

static void
test_cookie_other_secret_is_rejected(void **state)
{
	uint32_t seed = pm_test_seed("cookie other secret", TEST_SEED ^ 1);
	struct pm_cookie_secret other;
	uint8_t key[16];
	long accepted = 0;
	int n, i;

	(void)state;
	for (n = 0; n < 20000; n++) {
		struct pm_cookie_tuple t = random_tuple(&seed);
		struct pm_cookie_opts req = random_opts(&seed), out;
		uint32_t now = xorshift32(&seed), c;

		for (i = 0; i < 16; i++)
			key[i] = (uint8_t)xorshift32(&seed);
		pm_cookie_secret_init(&other, key);
		c = pm_cookie_make(&other, &t, now, &req, NULL);
		assert_int_equal(pm_cookie_check(&other, &t, c, now, &out), 0);
		if (pm_cookie_check(&secret, &t, c, now, &out) == 0)
			accepted++;
	}
	print_message("# %ld of 20000 cookies under another secret accepted\n", accepted);
	assert_true(accepted <= 2);
}

/* Blind forgery: random cookies for random tuples. The rate should be about
 * 2 / P per try; 2^20 tries expect 0.125 acceptances. */
static void
test_cookie_random_cookies_are_rejected(void **state)
{
	uint32_t seed = pm_test_seed("cookie blind", TEST_SEED ^ 2);
	struct pm_cookie_opts out;
	long accepted = 0, n;

	(void)state;
	for (n = 0; n < (1L << 20); n++) {
		struct pm_cookie_tuple t = random_tuple(&seed);

		if (pm_cookie_check(&secret, &t, xorshift32(&seed), xorshift32(&seed), &out) == 0)
			accepted++;
	}
	print_message("# %ld of %ld random cookies accepted (expected about 0.125)\n",
		      accepted, n);
	assert_true(accepted <= 3);
}

/* Random tuples and options round-trip; and the cookie does not reveal the
 * options: for one fixed option set, the top byte (which holds them, masked)
 * and the low bits spread over their whole range. */
static void
test_cookie_random_tuples_round_trip_and_look_random(void **state)
{
	uint32_t seed = pm_test_seed("cookie random", TEST_SEED ^ 3);
	struct pm_cookie_opts fixed = { 1460, 7, true };
	unsigned int top[256] = { 0 }, low[256] = { 0 };
	int n, distinct_top = 0, distinct_low = 0, i;

	(void)state;
	for (n = 0; n < 100000; n++) {
		struct pm_cookie_tuple t = random_tuple(&seed);
		struct pm_cookie_opts req = random_opts(&seed), enc, out;
		uint32_t now = xorshift32(&seed);
		uint32_t c = pm_cookie_make(&secret, &t, now, &req, &enc);

		assert_opts_equal(&enc, &req);
		assert_int_equal(pm_cookie_check(&secret, &t, c, now, &out), 0);
		assert_opts_equal(&out, &req);
		/* Made in the previous period: still good. */
		assert_int_equal(pm_cookie_check(&secret, &t, c, now + P, &out), 0);
		assert_opts_equal(&out, &req);
		if (n < 8192) {
			c = pm_cookie_make(&secret, &t, now, &fixed, NULL);
			top[c >> 24]++;
			low[c & 0xff]++;
		}
	}
	for (i = 0; i < 256; i++) {
		distinct_top += top[i] > 0;
		distinct_low += low[i] > 0;
		/* 8192 / 256 = 32 expected per value; 80 would be absurd. */
		assert_true(top[i] < 80 && low[i] < 80);
	}
	print_message("# fixed options: %d distinct top bytes, %d distinct low bytes\n",
		      distinct_top, distinct_low);
	assert_true(distinct_top >= 250 && distinct_low >= 250);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_table_is_ascending_and_sane),
		cmocka_unit_test(test_cookie_every_option_combination_round_trips),
		cmocka_unit_test(test_cookie_mss_rounds_down_to_table),
		cmocka_unit_test(test_cookie_wscale_is_clamped_or_none),
		cmocka_unit_test(test_cookie_accepted_in_current_and_previous_period_only),
		cmocka_unit_test(test_cookie_period_counter_wrap_is_handled),
		cmocka_unit_test(test_cookie_every_bit_flip_is_rejected),
		cmocka_unit_test(test_cookie_flip_within_period_is_always_rejected),
		cmocka_unit_test(test_cookie_other_secret_is_rejected),
		cmocka_unit_test(test_cookie_random_cookies_are_rejected),
		cmocka_unit_test(test_cookie_random_tuples_round_trip_and_look_random),
	};

	return cmocka_run_group_tests_name("cookie", tests, setup, NULL);
}
