/*
 * fuzz_sasl.c -- libFuzzer target for SASL PLAIN in strict base64
 * (proto/sasl.h).
 *
 * Input: 3 bytes of field bounds (authzid, authcid, password: 0..255 each,
 * the password's times 4 plus 3), then data used twice:
 *   A. decoded: the data, one byte at a time, through pm_sasl_b64_feed()
 *      and, separately, through pm_sasl_plain_feed() into fields of those
 *      bounds. The verdict and the bytes must equal a reference that judges
 *      the whole string at once; the split must equal a reference split of
 *      those bytes (NUL count, bounds, authzid == authcid dropped); no field
 *      is ever written past its bound.
 *   B. encoded: the data without its NULs, cut into authzid, user and
 *      password (lengths from the bounds' bytes), encoded with
 *      pm_sasl_plain_encode(); the text must be pm_sasl_plain_encode_len()
 *      bytes of the alphabet, and decode and split back to the same fields
 *      (an authzid equal to the user comes back empty).
 * Any violation aborts.
 *
 * Seed corpus: tests/fuzz/corpus/sasl/ (valid and invalid PLAIN messages).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sasl.h"
#include "fuzzsplit.h"

#define GUARD 0xa5

static int
ref_value(uint8_t c)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != 0 ? memchr(a, c, sizeof(a) - 1) : NULL;

	return p != NULL ? (int)(p - a) : -1;
}

/* Strict padded base64 of the whole string: the decoded length, or -1. */
static long
ref_decode(const uint8_t *s, size_t n, uint8_t *out)
{
	size_t q, i, w = 0, pad;
	uint32_t v;

	if (n % 4 != 0)
		return -1;
	for (q = 0; q < n; q += 4) {
		pad = 0;
		v = 0;
		for (i = 0; i < 4; i++) {
			if (s[q + i] == '=') {
				if (i < 2 || q + 4 != n)
					return -1;
				pad++;
				v <<= 6;
			} else if (ref_value(s[q + i]) < 0 || pad > 0) {
				return -1;
			} else {
				v = v << 6 | (uint32_t)ref_value(s[q + i]);
			}
		}
		for (i = 0; i < 3 - pad; i++)
			out[w++] = (uint8_t)(v >> (16 - 8 * i));
	}
	return (long)w;
}

struct fields {
	char z[256 + 1 + 16], u[256 + 1 + 16], p[1024 + 1 + 16];
	uint16_t zl, ul, pl;
	struct pm_sasl_plain_fields f;
	struct pm_sasl_plain sp;
	struct pm_sasl_b64 d;
};

static void
fields_init(struct fields *x, size_t zmax, size_t umax, size_t pmax)
{
	memset(x, GUARD, sizeof(*x));
	x->zl = x->ul = x->pl = 0;
	x->f.authzid = (struct pm_sasl_field){ x->z, &x->zl, zmax };
	x->f.authcid = (struct pm_sasl_field){ x->u, &x->ul, umax };
	x->f.pass = (struct pm_sasl_field){ x->p, &x->pl, pmax };
	pm_sasl_plain_reset(&x->sp);
	pm_sasl_b64_reset(&x->d);
}

/* Nothing past max + 1 (the NUL finish() may write) was touched. */
static void
check_guards(const struct fields *x, size_t zmax, size_t umax, size_t pmax)
{
	size_t i;

	for (i = zmax + 1; i < sizeof(x->z); i++)
		CHECK((uint8_t)x->z[i] == GUARD);
	for (i = umax + 1; i < sizeof(x->u); i++)
		CHECK((uint8_t)x->u[i] == GUARD);
	for (i = pmax + 1; i < sizeof(x->p); i++)
		CHECK((uint8_t)x->p[i] == GUARD);
}

static void
decode_part(const uint8_t *s, size_t n, size_t zmax, size_t umax, size_t pmax)
{
	static uint8_t want[1 << 16], got[1 << 16];
	static struct fields x;
	struct pm_sasl_b64 d;
	size_t i, w = 0, nul = 0, part[3] = { 0, 0, 0 }, start[3] = { 0, 0, 0 }, max[3];
	bool over = false, ok;
	long wl;
	uint8_t b[3];
	unsigned int k, j;
	int rc;

	if (n > sizeof(want))
		n = sizeof(want);
	wl = ref_decode(s, n, want);
	pm_sasl_b64_reset(&d);
	fields_init(&x, zmax, umax, pmax);
	for (i = 0; i < n; i++) {
		k = pm_sasl_b64_feed(&d, s[i], b);
		CHECK(k <= 3);
		for (j = 0; j < k; j++)
			got[w++] = b[j];
		pm_sasl_plain_feed(&x.d, &x.sp, &x.f, s[i]);
		CHECK(x.zl <= zmax && x.ul <= umax && x.pl <= pmax);
	}
	ok = pm_sasl_b64_complete(&d);
	CHECK(ok == (wl >= 0));
	CHECK(pm_sasl_b64_complete(&x.d) == ok);
	if (!ok) {
		check_guards(&x, zmax, umax, pmax);
		return;
	}
	CHECK(w == (size_t)wl && memcmp(got, want, w) == 0);
	CHECK(d.acc == 0 && x.d.acc == 0);

	/* the reference split */
	max[0] = zmax;
	max[1] = umax;
	max[2] = pmax;
	for (i = 0; i < w; i++) {
		if (want[i] == 0) {
			if (++nul < 3)
				start[nul] = i + 1;
			continue;
		}
		if (nul < 3 && part[nul]++ >= max[nul])
			over = true;
	}
	rc = pm_sasl_plain_finish(&x.sp, &x.f);
	check_guards(&x, zmax, umax, pmax);
	if (nul != 2 || over || part[1] == 0) {
		CHECK(rc != 0);
		return;
	}
	CHECK(rc == 0);
	CHECK(x.ul == part[1] && memcmp(x.u, want + start[1], part[1]) == 0 && x.u[x.ul] == 0);
	CHECK(x.pl == part[2] && memcmp(x.p, want + start[2], part[2]) == 0 && x.p[x.pl] == 0);
	if (part[0] == part[1] && memcmp(want, want + start[1], part[1]) == 0)
		CHECK(x.zl == 0);
	else
		CHECK(x.zl == part[0] && memcmp(x.z, want, part[0]) == 0);
	CHECK(x.z[x.zl] == 0);
}

static void
encode_part(const uint8_t *s, size_t n, size_t zl, size_t ul, size_t pl)
{
	static char buf[256 + 256 + 1024];
	static uint8_t b64[PM_SASL_B64_LEN(256u + 256u + 1024u + 2u) + 1];
	static struct fields x;
	struct pm_sasl_plain_msg m;
	size_t i, k = 0, len;

	for (i = 0; i < n && k < sizeof(buf); i++)
		if (s[i] != 0)
			buf[k++] = (char)s[i];
	if (zl > k)
		zl = k;
	if (ul > k - zl)
		ul = k - zl;
	if (pl > k - zl - ul)
		pl = k - zl - ul;
	m = (struct pm_sasl_plain_msg){ buf, zl, buf + zl, ul, buf + zl + ul, pl };
	len = pm_sasl_plain_encode_len(&m);
	CHECK(len == PM_SASL_B64_LEN(zl + ul + pl + 2));
	b64[len] = GUARD;
	CHECK(pm_sasl_plain_encode(b64, &m) == len);
	CHECK(b64[len] == GUARD);
	fields_init(&x, 256, 256, 1024);
	for (i = 0; i < len; i++) {
		CHECK(pm_sasl_b64_char(b64[i]));
		pm_sasl_plain_feed(&x.d, &x.sp, &x.f, b64[i]);
	}
	CHECK(pm_sasl_b64_complete(&x.d));
	if (ul == 0) {
		CHECK(pm_sasl_plain_finish(&x.sp, &x.f) != 0);
		return;
	}
	CHECK(pm_sasl_plain_finish(&x.sp, &x.f) == 0);
	CHECK(x.ul == ul && memcmp(x.u, m.user, ul) == 0);
	CHECK(x.pl == pl && memcmp(x.p, m.pass, pl) == 0);
	if (zl == ul && memcmp(m.authzid, m.user, ul) == 0)
		CHECK(x.zl == 0);
	else
		CHECK(x.zl == zl && memcmp(x.z, m.authzid, zl) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t zmax, umax, pmax;

	if (size < 3)
		return 0;
	zmax = data[0];
	umax = data[1];
	pmax = (size_t)data[2] * 4 + 3;
	decode_part(data + 3, size - 3, zmax, umax, pmax);
	encode_part(data + 3, size - 3, zmax, umax, pmax);
	return 0;
}
