/*
 * fuzz_ctlmsg.c -- libFuzzer target for the control-channel codec.
 *
 * Feeds arbitrary bytes to pm_ctlmsg_decode(), the entry point the data
 * plane and postmux-control call on every datagram they receive. For input
 * that decodes, it checks the codec's two promises (dataplane/ctlmsg.h):
 *   1. re-encoding the decoded message (pm_ctlmsg_encode(), or the chunk
 *      writer fed from the entry iterator) reproduces the input byte for
 *      byte, because the decoder accepts only canonical encodings;
 *   2. decoding that re-encoding gives a structurally equal message
 *      (tests/ctlmsg_diff.h).
 * Any violation aborts, which libFuzzer reports as a crash.
 *
 * Build (docs/control-channel.md, "Testing"):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -Idataplane tests/fuzz/fuzz_ctlmsg.c dataplane/ctlmsg.c dataplane/net/addr.c
 * Seed corpus: tests/fuzz/corpus/ctlmsg/ (tests/fuzz/gen_ctlmsg_corpus.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"

#include "../ctlmsg_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[PM_CTLMSG_MAX];

static void
die(const char *what, const struct pm_ctlmsg *m, int rc)
{
	const char *name = pm_ctlmsg_type_name(m->type);

	fprintf(stderr, "fuzz_ctlmsg: %s (type %s, rc %d)\n", what, name ? name : "?", rc);
	abort();
}

/* Re-encode a decoded chunk through the writer, entry by entry. */
static int
reencode_chunk(const struct pm_ctlmsg *m)
{
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host h;
	struct pm_ctlmsg_user u;
	struct pm_ctlmsg_counter k;
	uint32_t n = 0;
	int rc;

	rc = pm_ctlmsg_chunk_begin(&w, out, sizeof(out), m->type, m->request_id, m->generation);
	if (rc != 0)
		return rc;
	pm_ctlmsg_iter_init(&it, m);
	if (m->type == PM_CTLMSG_USER_LIST_PART) {
		while (pm_ctlmsg_iter_user(&it, &u)) {
			if ((rc = pm_ctlmsg_chunk_add_user(&w, &u)) != 0)
				return rc;
			n++;
		}
	} else if (m->type == PM_CTLMSG_COUNTERS_PART) {
		while (pm_ctlmsg_iter_counter(&it, &k)) {
			if ((rc = pm_ctlmsg_chunk_add_counter(&w, &k)) != 0)
				return rc;
			n++;
		}
	} else {
		while (pm_ctlmsg_iter_host(&it, &h)) {
			if ((rc = pm_ctlmsg_chunk_add_host(&w, &h)) != 0)
				return rc;
			n++;
		}
	}
	if (n != m->u.chunk.count)
		die("iterator yielded a different count", m, (int)n);
	return pm_ctlmsg_chunk_finish(&w, (m->flags & PM_CTLMSG_F_LAST) != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_ctlmsg m1, m2;
	struct pm_ctlmsg_hdr h;
	const char *diff;
	int rc, len;

	rc = pm_ctlmsg_decode(&m1, data, size);
	if (rc != 0) {
		/* The logging helpers must cope with anything, too. */
		(void)pm_ctlmsg_peek(data, size, &h);
		if (pm_ctlmsg_strerror(rc) == NULL)
			abort();
		return 0;
	}
	if (m1.type == PM_CTLMSG_STATE_HOSTS || m1.type == PM_CTLMSG_USER_LIST_PART ||
	    m1.type == PM_CTLMSG_HOST_LIST_PART || m1.type == PM_CTLMSG_COUNTERS_PART)
		len = reencode_chunk(&m1);
	else
		len = pm_ctlmsg_encode(&m1, out, sizeof(out));
	if (len < 0)
		die("a decoded message does not re-encode", &m1, len);
	if ((size_t)len != size || memcmp(out, data, size) != 0)
		die("re-encoding differs from the input", &m1, len);
	rc = pm_ctlmsg_decode(&m2, out, (size_t)len);
	if (rc != 0)
		die("the re-encoding does not decode", &m1, rc);
	diff = pm_ctlmsgtest_diff(&m1, &m2);
	if (diff != NULL)
		die(diff, &m1, 0);
	return 0;
}
