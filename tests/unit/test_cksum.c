/*
 * test_cksum.c -- the Internet checksum (net/cksum.h) against RFC 1071 and
 * RFC 1624 and against a naive bytewise reference.
 *
 * The random cases use a fixed seed that is printed; set PM_SEED (decimal or
 * 0x-hex) to replay another run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/cksum.h"
#include "testrand.h"

#define TEST_SEED 0xc5c51071u
#define MAX_LEN 300
#define MAX_OFF 3

/* RFC 1071 as written: big-endian 16-bit words, odd byte padded, folded. */
static uint16_t
ref_cksum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n % 2 != 0)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16 != 0)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
test_cksum_rfc1071_example_matches(void **state)
{
	/* RFC 1071 3: the sum of these bytes is ddf2, so the checksum is 220d. */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(pm_cksum_partial(0, b, sizeof(b)), 0xddf2);
	assert_int_equal(pm_cksum(b, sizeof(b)), 0x220d);
	/* Byte order independence (RFC 1071 2(B)): any start offset agrees. */
	assert_int_equal(pm_cksum_partial(0, b, 4), 0xf204);
	assert_int_equal(pm_cksum_partial(pm_cksum_partial(0, b, 4), b + 4, 4), 0xddf2);
}

static void
test_cksum_ipv4_header_verifies_to_zero(void **state)
{
	/* A classic IPv4 header: 192.168.0.1 -> 192.168.0.199, checksum b861. */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	(void)state;
	assert_int_equal(pm_cksum(h, sizeof(h)), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(pm_cksum(h, sizeof(h)), 0);
}

static void
test_cksum_empty_and_zero_buffers_are_ffff(void **state)
{
	static const uint8_t z[7];

	(void)state;
	assert_int_equal(pm_cksum(z, 0), 0xffff);
	assert_int_equal(pm_cksum(z, sizeof(z)), 0xffff);
	assert_int_equal(pm_cksum_finish(0), 0xffff);
	/* Folding: 0x1fffe -> 0xffff, 0xffffffff -> 0xffff. */
	assert_int_equal(pm_cksum_finish(0x1fffeu), 0);
	assert_int_equal(pm_cksum_finish(0xffffffffu), 0);
}

static void
test_cksum_every_length_and_offset_matches_reference(void **state)
{
	uint32_t seed = pm_test_seed("test_cksum_every_length_and_offset_matches_reference", TEST_SEED);
	uint8_t buf[MAX_LEN + MAX_OFF + 8];
	size_t len, off, i;
	int pass;

	(void)state;
	for (pass = 0; pass < 3; pass++) {
		for (len = 0; len <= MAX_LEN; len++) {
			for (off = 0; off <= MAX_OFF; off++) {
				for (i = 0; i < sizeof(buf); i++)
					buf[i] = pass == 0 ? (uint8_t)xorshift32(&seed) :
						 pass == 1 ? 0xff : (uint8_t)(i * 37);
				if (pm_cksum(buf + off, len) != ref_cksum(buf + off, len))
					fail_msg("pass %d len %zu off %zu: got 0x%04x want 0x%04x",
						 pass, len, off, pm_cksum(buf + off, len),
						 ref_cksum(buf + off, len));
			}
		}
	}
}

static void
test_cksum_chained_even_chunks_match_oneshot(void **state)
{
	uint32_t seed = pm_test_seed("test_cksum_chained_even_chunks_match_oneshot", TEST_SEED);
	uint8_t buf[MAX_LEN + 1];
	size_t len, cut;

	(void)state;
	for (len = 0; len <= MAX_LEN; len++) {
		uint16_t whole;

		for (cut = 0; cut < sizeof(buf); cut++)
			buf[cut] = (uint8_t)xorshift32(&seed);
		whole = pm_cksum(buf + 1, len);
		for (cut = 0; cut <= len; cut += 2) {
			uint16_t s = pm_cksum_partial(0, buf + 1, cut);

			s = pm_cksum_partial(s, buf + 1 + cut, len - cut);
			assert_int_equal(pm_cksum_finish(s), whole);
		}
	}
}

static void
test_cksum_rfc1624_example_gives_zero_not_ffff(void **state)
{
	/* RFC 1624 4: other words sum to cd7a, m = 5555 becomes 3285. The new
	 * sum is ffff, so the checksum must be 0000 (eqn. 2 gives ffff). */
	(void)state;
	assert_int_equal(pm_cksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
	/* No change at all leaves the checksum alone, including 0 and ffff. */
	assert_int_equal(pm_cksum_update16(0x1234, 0xabcd, 0xabcd), 0x1234);
	assert_int_equal(pm_cksum_update16(0x0000, 0x0000, 0x0000), 0x0000);
	assert_int_equal(pm_cksum_update32(0xb861, 0xc0a80001u, 0xc0a80001u), 0xb861);
}

/* A 20-byte IPv4-like header as ten words; word 5 is the checksum. Word 0
 * stays 0x45xx so the data is never all zero (the one case where RFC 1624
 * and a full recomputation differ: 0000 vs ffff, see cksum.h). */
#define NW 10
#define CK 5

static uint16_t
words_cksum(const uint16_t *w)
{
	uint8_t b[2 * NW];
	int i;

	for (i = 0; i < NW; i++) {
		b[2 * i] = (uint8_t)(w[i] >> 8);
		b[2 * i + 1] = (uint8_t)w[i];
	}
	return pm_cksum(b, sizeof(b));
}

/* The one's-complement sum of all words but the checksum and word @skip. */
static uint16_t
others_sum(const uint16_t *w, int skip)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i < NW; i++)
		if (i != CK && i != skip)
			s += w[i];
	while (s >> 16 != 0)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t
pick16(uint32_t *seed, const uint16_t *w, int j)
{
	switch (xorshift32(seed) % 5) {
	case 0:
		return 0x0000;
	case 1:
		return 0xffff;
	case 2:
		/* Makes the new sum ffff, so the new checksum is 0000. */
		return (uint16_t)~others_sum(w, j);
	default:
		return (uint16_t)xorshift32(seed);
	}
}

static void
test_cksum_incremental_updates_match_recomputation(void **state)
{
	uint32_t seed = pm_test_seed("test_cksum_incremental_updates_match_recomputation", TEST_SEED);
	uint16_t w[NW];
	int round, i, zeros = 0;

	(void)state;
	for (round = 0; round < 200000; round++) {
		uint16_t hc, want;
		int j;

		for (i = 0; i < NW; i++)
			w[i] = xorshift32(&seed) % 4 == 0 ? (xorshift32(&seed) % 2 ? 0xffff : 0) :
								(uint16_t)xorshift32(&seed);
		w[0] = (uint16_t)(0x4500 | (w[0] & 0xff));
		w[CK] = 0;
		hc = words_cksum(w);
		if (round % 2 == 0) {
			uint16_t old, new;

			do
				j = 1 + (int)(xorshift32(&seed) % (NW - 1));
			while (j == CK);
			old = w[j];
			new = pick16(&seed, w, j);
			w[j] = new;
			hc = pm_cksum_update16(hc, old, new);
		} else {
			/* A 32-bit field at words 6-7 or 8-9 (the addresses). */
			uint32_t old, new;

			j = xorshift32(&seed) % 2 ? 6 : 8;
			old = (uint32_t)w[j] << 16 | w[j + 1];
			switch (xorshift32(&seed) % 4) {
			case 0:
				new = 0;
				break;
			case 1:
				new = 0xffffffffu;
				break;
			case 2:
				w[j + 1] = (uint16_t)xorshift32(&seed);
				new = (uint32_t)(uint16_t)~others_sum(w, j) << 16 | w[j + 1];
				break;
			default:
				new = xorshift32(&seed);
				break;
			}
			w[j] = (uint16_t)(new >> 16);
			w[j + 1] = (uint16_t)new;
			hc = pm_cksum_update32(hc, old, new);
		}
		want = words_cksum(w);
		if (hc != want)
			fail_msg("round %d word %d: incremental 0x%04x, full 0x%04x", round, j,
				 hc, want);
		zeros += want == 0;
		/* And the packet with the updated checksum verifies. */
		w[CK] = hc;
		assert_int_equal(words_cksum(w), 0);
	}
	/* The 0x0000 corner of RFC 1624 3 was actually exercised. */
	assert_true(zeros > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cksum_rfc1071_example_matches),
		cmocka_unit_test(test_cksum_ipv4_header_verifies_to_zero),
		cmocka_unit_test(test_cksum_empty_and_zero_buffers_are_ffff),
		cmocka_unit_test(test_cksum_every_length_and_offset_matches_reference),
		cmocka_unit_test(test_cksum_chained_even_chunks_match_oneshot),
		cmocka_unit_test(test_cksum_rfc1624_example_gives_zero_not_ffff),
		cmocka_unit_test(test_cksum_incremental_updates_match_recomputation),
	};

	return cmocka_run_group_tests_name("cksum", tests, NULL, NULL);
}
