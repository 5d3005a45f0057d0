/*
 * prototest.h -- what the unit tests of the protocol machines share
 * (test_imap.c, test_pop3.c, test_sieve.c, test_submission.c and the *back
 * tests). Test code only; include it after <cmocka.h> and "testrand.h".
 *
 * For the client-side session harnesses: the transcript and event log of
 * one session (struct result), the out buffer that is drained after every
 * call and may be made stingy (struct tout), the comparison with the golden
 * texts (assert_same()) and the chunk sizes to try (next_chunk()). What
 * calls a machine (apply(), run(), expect_session()) stays in each test:
 * it is typed by the machine's API and logs its own login fields.
 *
 * For all of them: all_zero() (a wiped secret), and for the backend ones
 * assert_bytes() (what was sent) and random_cuts() (split points).
 */
#ifndef PM_PROTOTEST_H
#define PM_PROTOTEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"

#define TRANSCRIPT_MAX (1u << 20)
#define EVLOG_MAX (1u << 16)
#define LONG_INPUT 2048u

struct result {
	char *out;		/* transcript */
	size_t out_len;
	char *ev;		/* event log */
	size_t ev_len;
};

static inline void
res_init(struct result *r)
{
	r->out = malloc(TRANSCRIPT_MAX);
	r->ev = malloc(EVLOG_MAX);
	assert_non_null(r->out);
	assert_non_null(r->ev);
	r->out_len = 0;
	r->ev_len = 0;
}

static inline void
res_free(struct result *r)
{
	free(r->out);
	free(r->ev);
}

static inline void
ev_printf(struct result *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(r->ev + r->ev_len, EVLOG_MAX - r->ev_len, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < EVLOG_MAX - r->ev_len);
	r->ev_len += (size_t)k;
}

/* Bytes of a login field, escaped so the log is one line per event. */
static inline void
ev_field(struct result *r, const char *name, const char *s, size_t n)
{
	size_t i;

	assert_int_equal(strlen(s), n);
	ev_printf(r, " %s=", name);
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c >= 0x21 && c < 0x7f && c != '\\')
			ev_printf(r, "%c", c);
		else
			ev_printf(r, "\\x%02x", c);
	}
}

/*
 * The out buffer as the tests use it. In stingy mode (outcap 0) a sentinel
 * byte stays at its front, so it is never empty, and it is given no room
 * before each call: every response first fails (the machine's FULL,
 * -ENOSPC), then the harness drains, gives room and retries that one byte,
 * which checks that a failed response leaves the machine as if the byte had
 * never come.
 */
struct tout {
	struct pm_buf b;
	size_t base;		/* 1 in stingy mode: the sentinel */
	size_t memsize;
	bool stingy;
};

/* "Send" what out holds: move it to the transcript. */
static inline void
drain(struct result *r, struct tout *o)
{
	size_t n = o->b.len - o->base;

	assert_true(r->out_len + n <= TRANSCRIPT_MAX);
	memcpy(r->out + r->out_len, o->b.p + o->base, n);
	r->out_len += n;
	o->b.len = o->base;
	o->b.cap = o->memsize;
}

/* Before a call: in stingy mode, no room at all. */
static inline void
squeeze(struct tout *o)
{
	if (o->stingy)
		o->b.cap = o->b.len;
}

static inline void
assert_same(const char *what, size_t chunk, size_t outcap, const char *got, size_t got_len,
	    const char *want, size_t want_len)
{
	if (got_len == want_len && memcmp(got, want, want_len) == 0)
		return;
	print_error("%s differs (chunk %zu, out %zu)\n--- want (%zu bytes)\n%.*s\n--- got (%zu "
		    "bytes)\n%.*s\n",
		    what, chunk, outcap, want_len, (int)want_len, want, got_len, (int)got_len, got);
	fail();
}

/* Next chunk size to try after @k for an input of @n bytes. */
static inline size_t
next_chunk(size_t k, size_t n)
{
	if (n <= LONG_INPUT || k < 256)
		return k + 1;
	if (k + 97 < n)
		return k + 97;
	return k < n ? n : n + 1;
}

static inline bool
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0)
			return false;
	}
	return true;
}

static inline void
assert_bytes(const uint8_t *got, size_t len, const char *want)
{
	if (len != strlen(want) || memcmp(got, want, len) != 0)
		fail_msg("got %zu bytes \"%.*s\"\nwant %zu bytes \"%s\"", len, (int)len,
			 (const char *)got, strlen(want), want);
}

/* Up to 7 split points of an input of @n > 1 bytes, each in 1..n-1, drawn
 * from *@rs into @cuts and sorted (repeats allowed). Returns how many. */
static inline size_t
random_cuts(uint32_t *rs, size_t n, size_t cuts[8])
{
	size_t ncuts = xorshift32(rs) % 8, k;

	for (k = 0; k < ncuts; k++)
		cuts[k] = 1 + xorshift32(rs) % (n - 1);
	/* sort the few cuts */
	for (k = 1; k < ncuts; k++) {
		size_t v = cuts[k], j = k;

		while (j > 0 && cuts[j - 1] > v) {
			cuts[j] = cuts[j - 1];
			j--;
		}
		cuts[j] = v;
	}
	return ncuts;
}

#endif
