/*
 * test_sasl.c -- SASL PLAIN in strict base64 (proto/sasl.h).
 *
 * The decoder is always fed one character at a time, as the machines feed
 * it. Vectors: RFC 4648 section 10 and RFC 4616 section 4; every way to
 * misplace '=' in a quad, checked against a reference that judges the whole
 * string at once (all strings of up to 8 characters over A Q = and '*');
 * the PLAIN splitter with 0 to 3 NULs, fields at and over their bounds, an
 * authzid equal to the authcid; and encoder/decoder round trips of random
 * messages (seed printed; PM_SEED replays another run).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sasl.h"
#include "testrand.h"

#define TEST_SEED 0x5a51b64du

/* ---- helpers ------------------------------------------------------------------ */

/* Decode @s one character at a time into @out; returns the byte count and
 * sets *@ok to pm_sasl_b64_complete() at the end. */
static size_t
decode(const char *s, size_t n, uint8_t *out, bool *ok)
{
	struct pm_sasl_b64 d;
	size_t i, w = 0;
	uint8_t b[3];
	unsigned int k, j;

	pm_sasl_b64_reset(&d);
	for (i = 0; i < n; i++) {
		k = pm_sasl_b64_feed(&d, (uint8_t)s[i], b);
		assert_true(k <= 3);
		/* bytes come only at the end of a quad, which is a multiple
		 * of four characters into the input */
		if (k > 0)
			assert_int_equal((i + 1) % 4, 0);
		for (j = 0; j < k; j++)
			out[w++] = b[j];
	}
	*ok = pm_sasl_b64_complete(&d);
	return w;
}

static int
ref_value(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(a, c) : NULL;

	return p != NULL ? (int)(p - a) : -1;
}

/* The reference: the whole string is strict padded base64 (quads; '=' only
 * as "xx==" or "xxx=" in the last one). Returns the decoded length or -1. */
static long
ref_decode(const char *s, size_t n, uint8_t *out)
{
	size_t i, q, w = 0, pad;
	uint32_t v;

	if (n % 4 != 0)
		return -1;
	for (q = 0; q < n; q += 4) {
		pad = 0;
		v = 0;
		for (i = 0; i < 4; i++) {
			char c = s[q + i];

			if (c == '=') {
				if (i < 2 || q + 4 != n)
					return -1;
				pad++;
				v <<= 6;
				continue;
			}
			if (ref_value(c) < 0 || pad > 0)
				return -1;
			v = v << 6 | (uint32_t)ref_value(c);
		}
		for (i = 0; i < 3 - pad; i++)
			out[w++] = (uint8_t)(v >> (16 - 8 * i));
	}
	return (long)w;
}

/* Caller fields for a PLAIN message, with bounds @zmax, @umax, @pmax. */
struct fields {
	char authzid[300], user[300], pass[1100];
	uint16_t zlen, ulen, plen;
	struct pm_sasl_plain_fields f;
	struct pm_sasl_plain sp;
	struct pm_sasl_b64 d;
};

static void
fields_init(struct fields *x, size_t zmax, size_t umax, size_t pmax)
{
	memset(x, 0x5a, sizeof(*x));	/* nothing relies on zeroed memory */
	x->zlen = x->ulen = x->plen = 0;
	x->f.authzid = (struct pm_sasl_field){ x->authzid, &x->zlen, zmax };
	x->f.authcid = (struct pm_sasl_field){ x->user, &x->ulen, umax };
	x->f.pass = (struct pm_sasl_field){ x->pass, &x->plen, pmax };
	pm_sasl_plain_reset(&x->sp);
	pm_sasl_b64_reset(&x->d);
}

/* Split the decoded message @m (@n bytes, NULs included). */
static int
split(struct fields *x, const void *m, size_t n)
{
	const uint8_t *p = m;
	size_t i;

	for (i = 0; i < n; i++)
		pm_sasl_plain_put(&x->sp, &x->f, p[i]);
	return pm_sasl_plain_finish(&x->sp, &x->f);
}

#define SPLIT(x, lit) split((x), (lit), sizeof(lit) - 1)

/* ---- the decoder ------------------------------------------------------------------ */

static void
test_sasl_rfc4648_vectors_decode(void **state)
{
	static const struct {
		const char *b64, *raw;
	} v[] = {
		/* RFC 4648 section 10 */
		{ "", "" },
		{ "Zg==", "f" },
		{ "Zm8=", "fo" },
		{ "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" },
		{ "Zm9vYmE=", "fooba" },
		{ "Zm9vYmFy", "foobar" },
		/* every sextet value, and '+' '/' */
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4"
		  "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx"
		  "cnN0dXZ3eHl6e3x9fn8=",
		  NULL },
		{ "+/+/", "\xfb\xff\xbf" },
	};
	uint8_t out[256];
	size_t i, n, k;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = decode(v[i].b64, strlen(v[i].b64), out, &ok);
		assert_true(ok);
		if (v[i].raw != NULL) {
			assert_int_equal(n, strlen(v[i].raw));
			assert_memory_equal(out, v[i].raw, n);
		} else {
			assert_int_equal(n, 128);
			for (k = 0; k < n; k++)
				assert_int_equal(out[k], k);
		}
	}
}

static void
test_sasl_every_invalid_padding_is_invalid(void **state)
{
	static const char *const bad[] = {
		/* '=' as the first or second character of a quad */
		"=", "==", "===", "====", "=AAA", "==AA", "A===", "A=AA", "A==A", "A=",
		"AAAA=", "AAAA==", "AAAAA===", "AAAA=AAA",
		/* data after '=' in the same quad */
		"AA=A", "AA=AAAAA",
		/* anything after a padded quad, '=' too */
		"AA==A", "AA===", "AA==AA==", "AAA=A", "AAA==", "AAA=AAAA", "Zg==Zg==", "Zm8==",
		/* a quad cut short, padded or not */
		"A", "AA", "AAA", "AA=", "AAAAA", "AAAAAA=", "Zm9vYg=",
		/* bytes outside the alphabet, white space included */
		" ", "Zm9v ", " Zm9v", "Zm 9v", "Zm9v\r", "Zm9v\n", "Zm9v\t", "Zm-9", "Zm_9",
		"Zm.9", "Zm*9", "*", "Zg=\x01",
	};
	uint8_t out[64];
	size_t i;
	bool ok;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		decode(bad[i], strlen(bad[i]), out, &ok);
		if (ok)
			fail_msg("\"%s\" was taken as valid base64", bad[i]);
	}
	/* a NUL and 8-bit bytes */
	decode("Zm\0v", 4, out, &ok);
	assert_false(ok);
	decode("Zm\x80v", 4, out, &ok);
	assert_false(ok);
	decode("Zm\xffv", 4, out, &ok);
	assert_false(ok);
}

/* All strings of 0..8 characters over A Q = * agree with the reference,
 * bytes included. (Q has low bits set: the decoder, like the machines
 * always did, does not insist on zero bits under the padding.) */
static void
test_sasl_short_strings_match_the_reference(void **state)
{
	static const char set[] = "AQ=*";
	char s[8];
	uint8_t a[8], b[8];
	size_t len, i, n;
	unsigned long idx, total, k;
	long want;
	bool ok;

	(void)state;
	for (len = 0; len <= 8; len++) {
		total = 1ul << (2 * len);
		for (idx = 0; idx < total; idx++) {
			for (i = 0, k = idx; i < len; i++, k >>= 2)
				s[i] = set[k & 3];
			want = ref_decode(s, len, a);
			n = decode(s, len, b, &ok);
			if (ok != (want >= 0))
				fail_msg("\"%.*s\": decoder %d, reference %ld", (int)len, s, ok,
					 want);
			if (ok) {
				assert_int_equal(n, (size_t)want);
				assert_memory_equal(a, b, n);
			}
		}
	}
}

static void
test_sasl_char_is_the_alphabet_and_padding(void **state)
{
	unsigned int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		bool want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';

		assert_int_equal(pm_sasl_b64_char((uint8_t)c), want);
	}
}

static void
test_sasl_wipe_keeps_the_verdict_reset_clears_it(void **state)
{
	struct pm_sasl_b64 d;
	uint8_t b[3];

	(void)state;
	pm_sasl_b64_reset(&d);
	assert_int_equal(pm_sasl_b64_feed(&d, 'Z', b), 0);
	assert_int_equal(pm_sasl_b64_feed(&d, 'm', b), 0);
	assert_int_not_equal(d.acc, 0);
	pm_sasl_b64_wipe(&d);
	assert_int_equal(d.acc, 0);
	assert_true(pm_sasl_b64_complete(&d));	/* no partial quad left */
	/* the quad starts afresh: "Zm9v" decodes to "foo" */
	assert_int_equal(pm_sasl_b64_feed(&d, 'Z', b), 0);
	assert_int_equal(pm_sasl_b64_feed(&d, 'm', b), 0);
	assert_int_equal(pm_sasl_b64_feed(&d, '9', b), 0);
	assert_int_equal(pm_sasl_b64_feed(&d, 'v', b), 3);
	assert_memory_equal(b, "foo", 3);
	assert_int_equal(d.acc, 0);		/* cleared after every quad */

	assert_int_equal(pm_sasl_b64_feed(&d, '=', b), 0);
	assert_false(pm_sasl_b64_complete(&d));
	pm_sasl_b64_wipe(&d);
	assert_false(pm_sasl_b64_complete(&d));	/* still invalid */
	assert_int_equal(pm_sasl_b64_feed(&d, 'Z', b), 0);
	pm_sasl_b64_reset(&d);
	assert_true(pm_sasl_b64_complete(&d));
	assert_int_equal(d.acc, 0);
}

/* ---- the PLAIN splitter -------------------------------------------------------- */

static void
test_sasl_plain_needs_exactly_two_nuls(void **state)
{
	struct fields x;

	(void)state;
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, ""), -EINVAL);		/* 0 NULs */
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "user"), -EINVAL);
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "\0user"), -EINVAL);	/* 1 NUL */
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "user\0pass"), -EINVAL);

	fields_init(&x, 255, 255, 1024);			/* 2 NULs */
	assert_int_equal(SPLIT(&x, "\0user\0pass"), 0);
	assert_string_equal(x.authzid, "");
	assert_string_equal(x.user, "user");
	assert_string_equal(x.pass, "pass");
	assert_int_equal(x.zlen, 0);
	assert_int_equal(x.ulen, 4);
	assert_int_equal(x.plen, 4);

	fields_init(&x, 255, 255, 1024);			/* 3 NULs */
	assert_int_equal(SPLIT(&x, "\0user\0pass\0"), -EINVAL);
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "\0user\0pass\0extra"), -EINVAL);
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "\0\0\0\0user"), -EINVAL);	/* 4 */
	/* a failed finish leaves the fields unterminated and untouched */
	assert_int_equal(x.ulen, 0);
	assert_int_equal(x.user[0], 0x5a);
}

static void
test_sasl_plain_empty_fields(void **state)
{
	struct fields x;

	(void)state;
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "\0\0pass"), -EINVAL);	/* no authcid */
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "zid\0\0pass"), -EINVAL);
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "\0u\0"), 0);		/* an empty password */
	assert_string_equal(x.user, "u");
	assert_string_equal(x.pass, "");
}

static void
test_sasl_plain_authzid_equal_to_authcid_is_dropped(void **state)
{
	struct fields x;

	(void)state;
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "bob\0bob\0pass"), 0);
	assert_int_equal(x.zlen, 0);
	assert_string_equal(x.authzid, "");
	assert_string_equal(x.user, "bob");

	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "joe\0bob\0pass"), 0);
	assert_string_equal(x.authzid, "joe");
	assert_string_equal(x.user, "bob");

	/* a prefix or a case variant is another user */
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "bo\0bob\0pass"), 0);
	assert_string_equal(x.authzid, "bo");
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "bobby\0bob\0pass"), 0);
	assert_string_equal(x.authzid, "bobby");
	fields_init(&x, 255, 255, 1024);
	assert_int_equal(SPLIT(&x, "Bob\0bob\0pass"), 0);
	assert_string_equal(x.authzid, "Bob");
}

static void
test_sasl_plain_fields_at_and_over_their_bounds(void **state)
{
	char m[3 + 2 * 8 + 16];
	struct fields x;
	size_t zl, ul, pl, n, i;

	(void)state;
	/* bounds 5, 6, 7: each field at its bound, then one byte over */
	for (i = 0; i < 4; i++) {
		zl = 5 + (i == 1);
		ul = 6 + (i == 2);
		pl = 7 + (i == 3);
		n = 0;
		memset(m + n, 'z', zl);
		n += zl;
		m[n++] = '\0';
		memset(m + n, 'u', ul);
		n += ul;
		m[n++] = '\0';
		memset(m + n, 'p', pl);
		n += pl;
		fields_init(&x, 5, 6, 7);
		if (i == 0) {
			assert_int_equal(split(&x, m, n), 0);
			assert_int_equal(x.zlen, 5);
			assert_int_equal(x.ulen, 6);
			assert_int_equal(x.plen, 7);
			assert_string_equal(x.pass, "ppppppp");
		} else {
			assert_int_equal(split(&x, m, n), -EINVAL);
			/* nothing is written past a bound */
			assert_true(x.zlen <= 5 && x.ulen <= 6 && x.plen <= 7);
			assert_int_equal(x.authzid[5], 0x5a);
			assert_int_equal(x.user[6], 0x5a);
			assert_int_equal(x.pass[7], 0x5a);
		}
	}
}

static void
test_sasl_field_put_is_bounded(void **state)
{
	char f[4] = { 0 };
	uint16_t len = 0;

	(void)state;
	assert_int_equal(pm_sasl_field_put(f, &len, 2, 'a'), 0);
	assert_int_equal(pm_sasl_field_put(f, &len, 2, 'b'), 0);
	assert_int_equal(pm_sasl_field_put(f, &len, 2, 'c'), -ENOSPC);
	assert_int_equal(len, 2);
	assert_memory_equal(f, "ab\0", 4);
	len = 0;
	assert_int_equal(pm_sasl_field_put(f, &len, 0, 'a'), -ENOSPC);
	assert_int_equal(len, 0);
}

/* RFC 4616 section 4's examples, base64 through the splitter. */
static void
test_sasl_plain_feed_rfc4616_examples(void **state)
{
	static const char tim[] = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";	/* "\0tim\0tanstaaf..." */
	static const char kurt[] = "VXJzZWwAS3VydAB4aXBqM3BsbXE="; /* "Ursel\0Kurt\0xipj3plmq" */
	struct fields x;
	size_t i;

	(void)state;
	fields_init(&x, 255, 255, 1024);
	for (i = 0; i < sizeof(tim) - 1; i++)
		pm_sasl_plain_feed(&x.d, &x.sp, &x.f, (uint8_t)tim[i]);
	assert_true(pm_sasl_b64_complete(&x.d));
	assert_int_equal(pm_sasl_plain_finish(&x.sp, &x.f), 0);
	assert_string_equal(x.authzid, "");
	assert_string_equal(x.user, "tim");
	assert_string_equal(x.pass, "tanstaaftanstaaf");

	fields_init(&x, 255, 255, 1024);
	for (i = 0; i < sizeof(kurt) - 1; i++)
		pm_sasl_plain_feed(&x.d, &x.sp, &x.f, (uint8_t)kurt[i]);
	assert_true(pm_sasl_b64_complete(&x.d));
	assert_int_equal(pm_sasl_plain_finish(&x.sp, &x.f), 0);
	assert_string_equal(x.authzid, "Ursel");
	assert_string_equal(x.user, "Kurt");
	assert_string_equal(x.pass, "xipj3plmq");
}

/* ---- the encoder ----------------------------------------------------------------- */

static void
test_sasl_plain_encode_known_messages(void **state)
{
	static const struct {
		const char *z, *u, *p, *b64;
	} v[] = {
		{ "", "tim", "tanstaaftanstaaf", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm" },
		{ "Ursel", "Kurt", "xipj3plmq", "VXJzZWwAS3VydAB4aXBqM3BsbXE=" },
		{ "Kurt", "test", "test", "S3VydAB0ZXN0AHRlc3Q=" },
		{ "", "bob", "pass", "AGJvYgBwYXNz" },
		{ "", "bob", "wrong", "AGJvYgB3cm9uZw==" },
		{ "", "u", "", "AHUA" },
		{ "", "", "", "AAA=" },
		{ "a", "", "", "YQAA" },
	};
	struct pm_sasl_plain_msg m;
	uint8_t out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		m = (struct pm_sasl_plain_msg){ v[i].z, strlen(v[i].z), v[i].u, strlen(v[i].u),
						v[i].p, strlen(v[i].p) };
		memset(out, '#', sizeof(out));
		n = pm_sasl_plain_encode(out, &m);
		assert_int_equal(n, strlen(v[i].b64));
		assert_int_equal(pm_sasl_plain_encode_len(&m), n);
		assert_memory_equal(out, v[i].b64, n);
		assert_int_equal(out[n], '#');	/* nothing more, no NUL */
	}
	/* the length macro is a constant expression */
	_Static_assert(PM_SASL_B64_LEN(0u) == 0 && PM_SASL_B64_LEN(1u) == 4 &&
			       PM_SASL_B64_LEN(3u) == 4 && PM_SASL_B64_LEN(4u) == 8,
		       "PM_SASL_B64_LEN");
}

/* Random messages (any byte but NUL, fields 0..max) encode to what the
 * decoder and the splitter give back. */
static void
test_sasl_encode_decode_round_trips(void **state)
{
	uint32_t seed = pm_test_seed("sasl round trips", TEST_SEED);
	static const size_t edge[] = { 0, 1, 2, 3, 4, 254, 255 };
	char z[256], u[256], p[1025];
	uint8_t b64[PM_SASL_B64_LEN(255u + 1u + 255u + 1u + 1024u)];
	struct pm_sasl_plain_msg m;
	struct fields x;
	size_t zl, ul, pl, n, i;
	int iter;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		zl = xorshift32(&seed) % 4 == 0 ? edge[xorshift32(&seed) % 7]
						  : xorshift32(&seed) % 256;
		ul = 1 + xorshift32(&seed) % 255;
		pl = xorshift32(&seed) % 8 == 0 ? 1024 : xorshift32(&seed) % 1025;
		for (i = 0; i < zl; i++)
			z[i] = (char)(1 + xorshift32(&seed) % 255);
		for (i = 0; i < ul; i++)
			u[i] = (char)(1 + xorshift32(&seed) % 255);
		for (i = 0; i < pl; i++)
			p[i] = (char)(1 + xorshift32(&seed) % 255);
		if (iter % 10 == 0) {
			zl = ul;	/* authzid == authcid */
			memcpy(z, u, ul);
		}
		m = (struct pm_sasl_plain_msg){ z, zl, u, ul, p, pl };
		n = pm_sasl_plain_encode(b64, &m);
		assert_int_equal(n, pm_sasl_plain_encode_len(&m));
		assert_int_equal(n, PM_SASL_B64_LEN(zl + ul + pl + 2));

		fields_init(&x, 255, 255, 1024);
		for (i = 0; i < n; i++) {
			assert_true(pm_sasl_b64_char(b64[i]));
			pm_sasl_plain_feed(&x.d, &x.sp, &x.f, b64[i]);
		}
		assert_true(pm_sasl_b64_complete(&x.d));
		assert_int_equal(x.d.acc, 0);
		assert_int_equal(pm_sasl_plain_finish(&x.sp, &x.f), 0);
		assert_int_equal(x.ulen, ul);
		assert_memory_equal(x.user, u, ul);
		assert_int_equal(x.plen, pl);
		assert_memory_equal(x.pass, p, pl);
		if (zl == ul && memcmp(z, u, ul) == 0) {
			assert_int_equal(x.zlen, 0);
		} else {
			assert_int_equal(x.zlen, zl);
			assert_memory_equal(x.authzid, z, zl);
		}
		assert_int_equal(x.user[ul], '\0');
		assert_int_equal(x.pass[pl], '\0');
		assert_int_equal(x.authzid[x.zlen], '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_rfc4648_vectors_decode),
		cmocka_unit_test(test_sasl_every_invalid_padding_is_invalid),
		cmocka_unit_test(test_sasl_short_strings_match_the_reference),
		cmocka_unit_test(test_sasl_char_is_the_alphabet_and_padding),
		cmocka_unit_test(test_sasl_wipe_keeps_the_verdict_reset_clears_it),
		cmocka_unit_test(test_sasl_plain_needs_exactly_two_nuls),
		cmocka_unit_test(test_sasl_plain_empty_fields),
		cmocka_unit_test(test_sasl_plain_authzid_equal_to_authcid_is_dropped),
		cmocka_unit_test(test_sasl_plain_fields_at_and_over_their_bounds),
		cmocka_unit_test(test_sasl_field_put_is_bounded),
		cmocka_unit_test(test_sasl_plain_feed_rfc4616_examples),
		cmocka_unit_test(test_sasl_plain_encode_known_messages),
		cmocka_unit_test(test_sasl_encode_decode_round_trips),
	};

	return cmocka_run_group_tests_name("sasl", tests, NULL, NULL);
}
