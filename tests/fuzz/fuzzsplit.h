/*
 * fuzzsplit.h -- the machine-independent part of the proto fuzz targets
 * (fuzz_imap.c, fuzz_pop3.c, ... and their *back.c peers), which feed the
 * same input whole and in random splits and compare the two runs: the
 * check macro, the transcript a run appends to, the seeded xorshift32 that
 * draws the splits, draining a machine's out buffer into a transcript, and
 * the all-zero test of wiped credentials.
 *
 * Test code only, single-threaded; the transcript grows with realloc() and
 * is the caller's to free. Everything here is static inline so that a
 * target uses what it needs.
 */
#ifndef PM_FUZZSPLIT_H
#define PM_FUZZSPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/buf.h"

#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
				__LINE__, #c);                                   \
			abort();                                                 \
		}                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint8_t *p;
	size_t len, cap;
};

static inline void
trace_put(struct trace *t, const void *s, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 256;
		t->p = realloc(t->p, t->cap);
		CHECK(t->p != NULL);
	}
	if (n > 0)
		memcpy(t->p + t->len, s, n);
	t->len += n;
}

static inline uint32_t
rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Move @n bytes from the front of @out to the transcript. */
static inline void
drain(struct trace *t, struct pm_buf *out, size_t n)
{
	if (n > out->len)
		n = out->len;
	trace_put(t, out->p, n);
	pm_buf_consume(out, n);
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

#endif
