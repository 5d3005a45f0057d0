/*
 * gen_ctlmsg_corpus.c -- write the seed corpus of fuzz_ctlmsg.
 *
 * Writes one valid datagram per message type into the directory given as
 * the only argument, named after the type in lower case ("host_set"), and
 * for REPLY one per body layout: per request type answered, with success
 * and error bodies ("reply_user_assign", "reply_host_set_error"), because
 * a fuzzer rarely invents a whole valid body from another one. The
 * datagrams are the first matching samples of tests/ctlmsg_samples.h, the
 * same ones the unit test round-trips. Deterministic; rerun it after a
 * wire-format change:
 *   cc -std=c11 -D_GNU_SOURCE -Idataplane tests/fuzz/gen_ctlmsg_corpus.c \
 *     dataplane/ctlmsg.c dataplane/net/addr.c -o /tmp/gen_ctlmsg_corpus
 *   /tmp/gen_ctlmsg_corpus tests/fuzz/corpus/ctlmsg
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"

#include "../ctlmsg_samples.h"

/* Same message type and, for REPLY, the same body layout. */
static bool
same_kind(const struct pm_ctlmsgtest_sample *a, const struct pm_ctlmsgtest_sample *b)
{
	if (a->type != b->type)
		return false;
	if (a->type != PM_CTLMSG_REPLY)
		return true;
	return a->msg.u.reply.req_type == b->msg.u.reply.req_type &&
	       (a->msg.u.reply.status < 0) == (b->msg.u.reply.status < 0);
}

static void
lower(char *dst, size_t size, const char *src)
{
	size_t k;

	for (k = 0; src[k] != '\0' && k + 1 < size; k++)
		dst[k] = (char)tolower((unsigned char)src[k]);
	dst[k] = '\0';
}

int
main(int argc, char **argv)
{
	struct pm_ctlmsgtest_samples s;
	unsigned int written = 0;
	size_t i, k;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
		return 2;
	}
	if (pm_ctlmsgtest_samples_build(&s) != 0) {
		fprintf(stderr, "building the samples failed\n");
		return 1;
	}
	for (i = 0; i < s.n; i++) {
		const char *type = pm_ctlmsg_type_name(s.v[i].type);
		char path[4096], name[32], req[32];
		bool first = true;
		FILE *fp;

		for (k = 0; k < i; k++)
			first = first && !same_kind(&s.v[k], &s.v[i]);
		if (!first)
			continue;
		lower(name, sizeof(name), type);
		if (s.v[i].type == PM_CTLMSG_REPLY) {
			lower(req, sizeof(req), pm_ctlmsg_type_name(s.v[i].msg.u.reply.req_type));
			snprintf(path, sizeof(path), "%s/%s_%s%s", argv[1], name, req,
				 s.v[i].msg.u.reply.status < 0 ? "_error" : "");
		} else {
			snprintf(path, sizeof(path), "%s/%s", argv[1], name);
		}
		fp = fopen(path, "wb");
		if (fp == NULL || fwrite(s.v[i].buf, 1, s.v[i].len, fp) != s.v[i].len ||
		    fclose(fp) != 0) {
			perror(path);
			return 1;
		}
		written++;
	}
	pm_ctlmsgtest_samples_free(&s);
	printf("%u seeds written to %s\n", written, argv[1]);
	return 0;
}
