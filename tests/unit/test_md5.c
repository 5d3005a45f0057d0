/*
 * test_md5.c -- MD5 (director/md5.h) against RFC 1321 and against itself.
 *
 * The RFC 1321 appendix A.5 suite pins the algorithm. The padding boundaries
 * (55/56/63/64/65 bytes and one block later) are checked against digests
 * computed once, offline, with Python's hashlib; they are constants here, so
 * the test needs no crypto library. Every length from 0 to 200 is then fed to
 * the incremental interface at every chunk size from 1 to n (STYLE.md 10),
 * and the result must equal the one-shot digest and the 32-bit prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "director/md5.h"

#define MAX_LEN 200

struct md5_vector {
	const char *msg;
	const char *hex;
};

/* RFC 1321, appendix A.5 ("test suite"). */
static const struct md5_vector rfc1321_vectors[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ "a", "0cc175b9c0f1b6a831c399e269772661" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  "d174ab98d277d9f5a5611c2c9f419d9f" },
	{ "1234567890123456789012345678901234567890"
	  "1234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a" },
};

struct md5_len_vector {
	size_t len;
	const char *hex;
};

/* MD5 of the first len bytes of pattern() below, from Python's hashlib. */
static const struct md5_len_vector boundary_vectors[] = {
	{ 55, "d872aa0473a24da995ce4ac518ade767" },
	{ 56, "e23567645846677c205de80f9779081b" },
	{ 57, "1fe5e4a27e12484d7203d0b60c21c51f" },
	{ 63, "4775b66278a8fc132ff80923378216cd" },
	{ 64, "71e123b70c7aa64826fcfe472694cd1c" },
	{ 65, "5949948f26e35203661075214faa3966" },
	{ 119, "87f72c7241c5fe218bb4df8c0aba3232" },
	{ 120, "bf240b8b7407fba3805adeec63a03b77" },
	{ 121, "c51004ed1ef4271c82106468a13fe8cf" },
	{ 127, "520bdc2dbab7c25d64263ffb242d9e98" },
	{ 128, "3e93b378458b77da96b2357c3bda8cc2" },
	{ 129, "d1ae06bbf9128955a34bedb6231eee62" },
	{ 200, "f9914cd8b67085ceb02d1eba3ff2dc0c" },
};

/* Deterministic bytes covering 0x00 and the high half. */
static void
pattern(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 37 + 11);
}

static void
hex_of(const uint8_t d[PM_MD5_LEN], char out[2 * PM_MD5_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < PM_MD5_LEN; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * PM_MD5_LEN] = '\0';
}

static void
incremental(const void *data, size_t len, size_t chunk, uint8_t out[PM_MD5_LEN])
{
	const uint8_t *p = data;
	struct pm_md5_ctx c;
	size_t off, take;

	pm_md5_init(&c);
	for (off = 0; off < len; off += take) {
		take = len - off < chunk ? len - off : chunk;
		pm_md5_update(&c, p + off, take);
	}
	pm_md5_final(&c, out);
}

static void
test_md5_rfc1321_suite_matches(void **state)
{
	uint8_t d[PM_MD5_LEN];
	char hex[2 * PM_MD5_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc1321_vectors) / sizeof(rfc1321_vectors[0]); i++) {
		const struct md5_vector *v = &rfc1321_vectors[i];

		pm_md5(v->msg, strlen(v->msg), d);
		hex_of(d, hex);
		assert_string_equal(hex, v->hex);

		incremental(v->msg, strlen(v->msg), 1, d);
		hex_of(d, hex);
		assert_string_equal(hex, v->hex);
	}
}

static void
test_md5_padding_boundaries_match_reference(void **state)
{
	uint8_t buf[MAX_LEN], d[PM_MD5_LEN];
	char hex[2 * PM_MD5_LEN + 1];
	size_t i;

	(void)state;
	pattern(buf, sizeof(buf));
	for (i = 0; i < sizeof(boundary_vectors) / sizeof(boundary_vectors[0]); i++) {
		const struct md5_len_vector *v = &boundary_vectors[i];

		pm_md5(buf, v->len, d);
		hex_of(d, hex);
		if (strcmp(hex, v->hex) != 0)
			print_error("one-shot length %zu\n", v->len);
		assert_string_equal(hex, v->hex);
	}
}

/* The 64-bit bit count and many full blocks: RFC 1321's "a" x 10^6. */
static void
test_md5_million_a_matches(void **state)
{
	static const char want[] = "7707d6ae4e027c70eea2a935c2296f21";
	size_t n = 1000000;
	uint8_t d[PM_MD5_LEN];
	char hex[2 * PM_MD5_LEN + 1];
	char *a = malloc(n);

	(void)state;
	assert_non_null(a);
	memset(a, 'a', n);
	pm_md5(a, n, d);
	hex_of(d, hex);
	assert_string_equal(hex, want);
	/* 1000 is not a multiple of 64, so most updates straddle blocks. */
	incremental(a, n, 1000, d);
	hex_of(d, hex);
	assert_string_equal(hex, want);
	free(a);
}

static void
test_md5_every_chunk_size_matches_oneshot(void **state)
{
	uint8_t buf[MAX_LEN + 1], want[PM_MD5_LEN], got[PM_MD5_LEN];
	size_t len, chunk;

	(void)state;
	pattern(buf, sizeof(buf));
	for (len = 0; len <= MAX_LEN; len++) {
		pm_md5(buf, len, want);
		assert_int_equal(pm_md5_prefix32(buf, len), pm_md5_digest32(want));
		/* len 0: a context that only sees init and final. */
		incremental(buf, len, len ? len : 1, got);
		assert_memory_equal(got, want, PM_MD5_LEN);
		for (chunk = 1; chunk <= len; chunk++) {
			incremental(buf, len, chunk, got);
			if (memcmp(got, want, PM_MD5_LEN) != 0)
				print_error("length %zu, chunk %zu\n", len, chunk);
			assert_memory_equal(got, want, PM_MD5_LEN);
		}
		/* The same bytes from an odd address (the code must not
		 * depend on alignment). */
		memmove(buf + 1, buf, len);
		pm_md5(buf + 1, len, got);
		assert_memory_equal(got, want, PM_MD5_LEN);
		pattern(buf, sizeof(buf));
	}
}

/* Zero-length updates between pieces are no-ops wherever they fall. */
static void
test_md5_empty_updates_change_nothing(void **state)
{
	uint8_t buf[MAX_LEN], want[PM_MD5_LEN], got[PM_MD5_LEN];
	struct pm_md5_ctx c;
	size_t len, off;

	(void)state;
	pattern(buf, sizeof(buf));
	for (len = 0; len <= 130; len++) {
		pm_md5(buf, len, want);
		pm_md5_init(&c);
		pm_md5_update(&c, buf, 0);
		for (off = 0; off < len; off++) {
			pm_md5_update(&c, buf + off, 1);
			pm_md5_update(&c, buf + off + 1, 0);
		}
		pm_md5_final(&c, got);
		assert_memory_equal(got, want, PM_MD5_LEN);
	}
}

/* Uneven splits: a short head, then a piece over a whole block. */
static void
test_md5_split_across_blocks_matches_oneshot(void **state)
{
	uint8_t buf[MAX_LEN], want[PM_MD5_LEN], got[PM_MD5_LEN];
	struct pm_md5_ctx c;
	size_t len, cut1, cut2;

	(void)state;
	pattern(buf, sizeof(buf));
	for (len = 0; len <= 160; len += 7) {
		pm_md5(buf, len, want);
		for (cut1 = 0; cut1 <= len; cut1++) {
			for (cut2 = cut1; cut2 <= len; cut2 += 5) {
				pm_md5_init(&c);
				pm_md5_update(&c, buf, cut1);
				pm_md5_update(&c, buf + cut1, cut2 - cut1);
				pm_md5_update(&c, buf + cut2, len - cut2);
				pm_md5_final(&c, got);
				if (memcmp(got, want, PM_MD5_LEN) != 0)
					print_error("length %zu cuts %zu %zu\n", len, cut1, cut2);
				assert_memory_equal(got, want, PM_MD5_LEN);
			}
		}
	}
}

/* A context can be initialised again after final and used afresh. */
static void
test_md5_reinit_after_final_starts_over(void **state)
{
	uint8_t d1[PM_MD5_LEN], d2[PM_MD5_LEN];
	struct pm_md5_ctx c;

	(void)state;
	pm_md5_init(&c);
	pm_md5_update(&c, "something else entirely, longer than one block of sixty-four bytes",
		      66);
	pm_md5_final(&c, d1);
	pm_md5_init(&c);
	pm_md5_update(&c, "abc", 3);
	pm_md5_final(&c, d2);
	pm_md5("abc", 3, d1);
	assert_memory_equal(d1, d2, PM_MD5_LEN);
}

/* The director's "hash" is the big-endian prefix of the digest. */
static void
test_md5_prefix32_is_big_endian_digest_prefix(void **state)
{
	static const uint8_t d[PM_MD5_LEN] = { 0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
					      0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e };
	static const uint8_t hi[PM_MD5_LEN] = { 0xff, 0xf7, 0x76, 0xfb };

	(void)state;
	assert_int_equal(pm_md5_digest32(d), 0xd41d8cd9u);
	assert_int_equal(pm_md5_digest32(hi), 0xfff776fbu);
	assert_int_equal(pm_md5_prefix32("", 0), 3558706393u);
	/* Spec 1.7: md5("user1") = 24c9e15e..., md5("user620") = fff776fb... */
	assert_int_equal(pm_md5_prefix32("user1", 5), 0x24c9e15eu);
	assert_int_equal(pm_md5_prefix32("user1", 5), 617210206u);
	assert_int_equal(pm_md5_prefix32("user620", 7), 4294407931u);
	/* Spec 1.2: the first vhost point of 10.0.0.1 is md5 3c789421... */
	assert_int_equal(pm_md5_prefix32("10.0.0.1-0", 10), 0x3c789421u);
	assert_int_equal(pm_md5_prefix32("10.0.0.1-0", 10), 1014535201u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321_suite_matches),
		cmocka_unit_test(test_md5_padding_boundaries_match_reference),
		cmocka_unit_test(test_md5_million_a_matches),
		cmocka_unit_test(test_md5_every_chunk_size_matches_oneshot),
		cmocka_unit_test(test_md5_empty_updates_change_nothing),
		cmocka_unit_test(test_md5_split_across_blocks_matches_oneshot),
		cmocka_unit_test(test_md5_reinit_after_final_starts_over),
		cmocka_unit_test(test_md5_prefix32_is_big_endian_digest_prefix),
	};

	return cmocka_run_group_tests_name("md5", tests, NULL, NULL);
}
