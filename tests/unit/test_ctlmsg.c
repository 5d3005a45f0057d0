/*
 * test_ctlmsg.c -- the control-channel codec (dataplane/ctlmsg.h).
 *
 * The samples (tests/ctlmsg_samples.h) cover every message type with
 * boundary values. Every sample must round-trip (struct -> bytes -> struct
 * -> the same bytes), and every corruption the decoder is specified to catch
 * must be refused with its documented error: all proper prefixes, with and
 * without a patched length field, bad magic, other versions, length
 * mismatches, oversize strings, NUL bytes, bad address families, unknown
 * types and each header and body rule. A few golden vectors pin the byte
 * layout of docs/control-channel.md.
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

#include "ctlmsg.h"

#include "ctlmsg_diff.h"
#include "ctlmsg_samples.h"

static struct pm_ctlmsgtest_samples samples;

static int
group_setup(void **state)
{
	(void)state;
	return pm_ctlmsgtest_samples_build(&samples);
}

static int
group_teardown(void **state)
{
	(void)state;
	pm_ctlmsgtest_samples_free(&samples);
	return 0;
}

static const struct pm_ctlmsgtest_sample *
sample(const char *name)
{
	size_t i;

	for (i = 0; i < samples.n; i++) {
		if (strcmp(samples.v[i].name, name) == 0)
			return &samples.v[i];
	}
	fail_msg("no sample %s", name);
	return NULL;
}

static void
put_le(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A private copy of sample @name with @extra spare bytes after it. */
static uint8_t *
copy_of(const char *name, size_t extra, size_t *len)
{
	const struct pm_ctlmsgtest_sample *s = sample(name);
	uint8_t *b = calloc(1, s->len + extra);

	assert_non_null(b);
	memcpy(b, s->buf, s->len);
	*len = s->len;
	return b;
}

/* Decode @b (@len bytes) and require @expect. */
static void
expect_decode(const uint8_t *b, size_t len, int expect, const char *what)
{
	struct pm_ctlmsg m;
	int rc = pm_ctlmsg_decode(&m, b, len);

	if (rc != expect)
		fail_msg("%s: decode gave %d (%s), expected %d (%s)", what, rc,
			 pm_ctlmsg_strerror(rc), expect, pm_ctlmsg_strerror(expect));
}

/* Patch byte @off of sample @name to @v and require @expect. */
static void
expect_patched(const char *name, size_t off, uint8_t v, int expect)
{
	size_t len;
	uint8_t *b = copy_of(name, 0, &len);
	char what[128];

	assert_true(off < len);
	b[off] = v;
	snprintf(what, sizeof(what), "%s with byte %zu = 0x%02x", name, off, v);
	expect_decode(b, len, expect, what);
	free(b);
}

static bool
is_chunk_type(uint16_t t)
{
	return t == PM_CTLMSG_STATE_HOSTS || t == PM_CTLMSG_USER_LIST_PART ||
	       t == PM_CTLMSG_HOST_LIST_PART || t == PM_CTLMSG_COUNTERS_PART;
}

/* ---- layout --------------------------------------------------------------- */

static void
expect_bytes(const char *name, const uint8_t *want, size_t n)
{
	const struct pm_ctlmsgtest_sample *s = sample(name);
	size_t i;

	if (s->len != n)
		fail_msg("%s: %zu bytes, the layout says %zu", name, s->len, n);
	for (i = 0; i < n; i++) {
		if (s->buf[i] != want[i])
			fail_msg("%s: byte %zu is 0x%02x, the layout says 0x%02x", name, i,
				 s->buf[i], want[i]);
	}
}

static void
test_ctlmsg_golden_vectors_match_documented_layout(void **state)
{
	/* docs/control-channel.md, "Header" and the body tables. */
	static const uint8_t host_set[] = {
		'P', 'M', 'X', 'C', 1, 0, 5, 0, 0, 0, 0, 0, 54, 0, 0, 0,	/* hdr */
		3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,		/* id, gen */
		4, 198, 51, 100, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* addr */
		100, 0, 1, 0, 0,					/* vhosts, create, tag */
	};
	static const uint8_t user_list_part[] = {
		'P', 'M', 'X', 'C', 1, 0, 67, 0, 0, 0, 0, 0, 92, 0, 0, 0,
		25, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		2, 0, 0, 0,						/* count */
		0x5e, 0xe1, 0xc9, 0x24, 0x84, 0xf4, 0x53, 0x65,		/* hash, expire */
		4, 198, 51, 100, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0,						/* tag index, flags */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
		0xff, 0xff, 3,
	};
	static const uint8_t reply_assign[] = {
		'P', 'M', 'X', 'C', 1, 0, 66, 0, 0, 0, 0, 0, 60, 0, 0, 0,
		21, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		13, 0, 0, 0, 0, 0,					/* USER_ASSIGN, 0 */
		0,							/* PINNED */
		4, 198, 51, 100, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* addr */
		0x84, 0xf4, 0x53, 0x65,					/* expire */
	};
	static const uint8_t reply_error[] = {
		'P', 'M', 'X', 'C', 1, 0, 66, 0, 0, 0, 0, 0, 61, 0, 0, 0,
		3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		5, 0, 0xf9, 0xff, 0xff, 0xff,				/* HOST_SET, -7 */
		21, 0, 'v', 'h', 'o', 's', 't', ' ', 'c', 'o', 'u', 'n', 't', ' ',
		't', 'o', 'o', ' ', 'l', 'a', 'r', 'g', 'e',
	};
	static const uint8_t hello[] = {
		'P', 'M', 'X', 'C', 1, 0, 1, 0, 0, 0, 0, 0, 56, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x92, 0x10, 0, 0, 1, 0, 1, 0,				/* pid, min, max */
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	};
	static const uint8_t ping[] = {
		'P', 'M', 'X', 'C', 1, 0, 18, 0, 0, 0, 0, 0, 32, 0, 0, 0,
		29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t counters[] = {
		'P', 'M', 'X', 'C', 1, 0, 19, 0, 0, 0, 0, 0, 32, 0, 0, 0,
		30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t counters_part[] = {
		'P', 'M', 'X', 'C', 1, 0, 71, 0, 0, 0, 0, 0, 121, 0, 0, 0,
		30, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		3, 0, 0, 0,						/* count */
		13, 0, 'd', 'i', 'r', 'e', 'c', 't', 'o', 'r', '.', 'p', 'i', 'n', 's',
		1, 0, 0, 0, 0, 0, 0, 0,					/* value 1 */
		22, 0, 'p', 'o', 'r', 't', '.', 'c', 'l', 'i', 'e', 'n', 't', '.',
		'r', 'x', '_', 'p', 'a', 'c', 'k', 'e', 't', 's',
		8, 7, 6, 5, 4, 3, 2, 1,					/* 0x0102...08 */
		20, 0, 'l', 'c', 'o', 'r', 'e', '.', '0', '.', 'd', 'r', 'o', 'p', '.',
		'I', 'P', '_', 'C', 'S', 'U', 'M',
		0, 0, 0, 0, 0, 0, 0, 0,
	};

	(void)state;
	assert_int_equal(E2BIG, 7);	/* the vector spells -E2BIG as -7 */
	expect_bytes("host-set", host_set, sizeof(host_set));
	expect_bytes("user-list-part", user_list_part, sizeof(user_list_part));
	expect_bytes("reply-user-assign-pinned", reply_assign, sizeof(reply_assign));
	expect_bytes("reply-host-set-error", reply_error, sizeof(reply_error));
	expect_bytes("hello", hello, sizeof(hello));
	expect_bytes("ping", ping, sizeof(ping));
	expect_bytes("counters", counters, sizeof(counters));
	expect_bytes("counters-part", counters_part, sizeof(counters_part));
}

/* ---- round trips ------------------------------------------------------------ */

static void
test_ctlmsg_samples_cover_every_type(void **state)
{
	unsigned int t, covered = 0, known = 0;
	size_t i;

	(void)state;
	for (t = 0; t <= UINT16_MAX; t++) {
		bool seen = false;

		if (pm_ctlmsg_type_name((uint16_t)t) == NULL)
			continue;
		known++;
		for (i = 0; i < samples.n; i++)
			seen = seen || samples.v[i].type == t;
		if (!seen)
			fail_msg("no sample of type %s", pm_ctlmsg_type_name((uint16_t)t));
		covered++;
	}
	assert_int_equal(known, 27);
	assert_int_equal(covered, known);
}

static void
test_ctlmsg_every_sample_round_trips_byte_exact(void **state)
{
	uint8_t *again = malloc(PM_CTLMSG_MAX);
	size_t i;

	(void)state;
	assert_non_null(again);
	for (i = 0; i < samples.n; i++) {
		const struct pm_ctlmsgtest_sample *s = &samples.v[i];
		struct pm_ctlmsg m;
		const char *d;
		int rc, len;

		rc = pm_ctlmsg_decode(&m, s->buf, s->len);
		if (rc != 0)
			fail_msg("%s: decode %d (%s)", s->name, rc, pm_ctlmsg_strerror(rc));
		if (is_chunk_type(s->type)) {
			struct pm_ctlmsg_writer w;
			struct pm_ctlmsg_iter it;
			struct pm_ctlmsg_host h;
			struct pm_ctlmsg_user u;
			struct pm_ctlmsg_counter kc;
			size_t k = 0;

			/* Header fields, then each entry against its source. */
			assert_int_equal(m.type, s->msg.type);
			assert_int_equal(m.flags, s->msg.flags);
			assert_true(m.request_id == s->msg.request_id);
			assert_true(m.generation == s->msg.generation);
			assert_int_equal(m.u.chunk.count, s->nentries);
			assert_int_equal(pm_ctlmsg_chunk_begin(&w, again, PM_CTLMSG_MAX, m.type,
							       m.request_id, m.generation), 0);
			pm_ctlmsg_iter_init(&it, &m);
			if (s->type == PM_CTLMSG_USER_LIST_PART) {
				while (pm_ctlmsg_iter_user(&it, &u)) {
					assert_true(k < s->nentries);
					d = pm_ctlmsgtest_user_diff(&u, &s->users[k++]);
					if (d != NULL)
						fail_msg("%s: entry %zu: %s", s->name, k - 1, d);
					assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), 0);
				}
			} else if (s->type == PM_CTLMSG_COUNTERS_PART) {
				while (pm_ctlmsg_iter_counter(&it, &kc)) {
					assert_true(k < s->nentries);
					d = pm_ctlmsgtest_counter_diff(&kc, &s->counters[k++]);
					if (d != NULL)
						fail_msg("%s: entry %zu: %s", s->name, k - 1, d);
					assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &kc), 0);
				}
			} else {
				while (pm_ctlmsg_iter_host(&it, &h)) {
					assert_true(k < s->nentries);
					d = pm_ctlmsgtest_host_diff(&h, &s->hosts[k++]);
					if (d != NULL)
						fail_msg("%s: entry %zu: %s", s->name, k - 1, d);
					assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), 0);
				}
			}
			assert_int_equal(k, s->nentries);
			len = pm_ctlmsg_chunk_finish(&w, (m.flags & PM_CTLMSG_F_LAST) != 0);
		} else {
			d = pm_ctlmsgtest_diff(&m, &s->msg);
			if (d != NULL)
				fail_msg("%s: decoded %s differs from the source", s->name, d);
			len = pm_ctlmsg_encode(&m, again, PM_CTLMSG_MAX);
		}
		if (len < 0 || (size_t)len != s->len || memcmp(again, s->buf, s->len) != 0)
			fail_msg("%s: re-encoding is not byte-identical (%d vs %zu)", s->name,
				 len, s->len);
		assert_true(s->len <= PM_CTLMSG_MAX);
	}
	free(again);
}

static void
test_ctlmsg_full_chunks_hold_the_computed_maximum(void **state)
{
	const struct pm_ctlmsgtest_sample *users = sample("user-list-part-full-last");
	const struct pm_ctlmsgtest_sample *hosts = sample("state-hosts-full");
	const struct pm_ctlmsgtest_sample *big = sample("host-list-part-full");
	const struct pm_ctlmsgtest_sample *klong = sample("counters-part-full-last");
	const struct pm_ctlmsgtest_sample *kshort = sample("counters-part-full-short");
	size_t room = PM_CTLMSG_MAX - PM_CTLMSG_HDR_LEN - 4;

	(void)state;
	/* Fixed-size user entries: exactly floor(room / 28) of them. */
	assert_int_equal(users->nentries, room / PM_CTLMSG_USER_ENTRY_LEN);
	assert_int_equal(users->len,
			 PM_CTLMSG_HDR_LEN + 4 + users->nentries * PM_CTLMSG_USER_ENTRY_LEN);
	/* Tagless host entries: floor(room / 30). */
	assert_int_equal(hosts->nentries, room / PM_CTLMSG_STATE_HOST_MIN);
	/* Largest host-list entries: 36 + 255 bytes each. */
	assert_int_equal(big->nentries, room / (PM_CTLMSG_HOST_INFO_MIN + PM_CTLMSG_TAG_MAX));
	assert_true(PM_CTLMSG_MAX - big->len < PM_CTLMSG_HOST_INFO_MIN + PM_CTLMSG_TAG_MAX);
	/* Counters: 2 + 63 + 8 bytes at the longest (897 a part), 11 at the
	 * shortest (5954 a part). */
	assert_int_equal(klong->nentries, room / (2 + PM_CTLMSG_COUNTER_NAME_MAX + 8));
	assert_int_equal(klong->nentries, 897);
	assert_int_equal(kshort->nentries, room / PM_CTLMSG_COUNTER_MIN);
	assert_int_equal(kshort->nentries, 5954);
	assert_int_equal(kshort->len,
			 PM_CTLMSG_HDR_LEN + 4 + kshort->nentries * PM_CTLMSG_COUNTER_MIN);
}

static void
test_ctlmsg_writer_full_refuses_entry_without_change(void **state)
{
	uint8_t *buf = malloc(PM_CTLMSG_MAX);
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_user u;
	struct pm_ctlmsg m;
	uint32_t i = 0;
	size_t before;
	int len;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, PM_CTLMSG_MAX,
					       PM_CTLMSG_USER_LIST_PART, 9, 0), 0);
	for (;;) {
		pm_ctlmsgtest_gen_user(i, &u);
		if (pm_ctlmsg_chunk_add_user(&w, &u) != 0)
			break;
		i++;
	}
	before = w.len;
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -ENOSPC);
	assert_int_equal(w.len, before);
	assert_int_equal(w.count, i);
	/* An invalid entry is -EINVAL even when there is no room. */
	u.addr.family = 5;
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -EINVAL);
	len = pm_ctlmsg_chunk_finish(&w, true);
	assert_int_equal(len, (int)before);
	assert_int_equal(pm_ctlmsg_decode(&m, buf, (size_t)len), 0);
	assert_int_equal(m.u.chunk.count, i);
	assert_int_equal(m.flags, PM_CTLMSG_F_LAST);

	/* A small buffer caps the chunk; begin needs header + count. */
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, PM_CTLMSG_HDR_LEN + 3,
					       PM_CTLMSG_USER_LIST_PART, 9, 0), -ENOSPC);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, PM_CTLMSG_HDR_LEN + 4 + 27,
					       PM_CTLMSG_USER_LIST_PART, 9, 0), 0);
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &(struct pm_ctlmsg_user){
		.addr = pm_ctlmsgtest_addr("198.51.100.1") }), -ENOSPC);
	len = pm_ctlmsg_chunk_finish(&w, false);
	assert_int_equal(len, PM_CTLMSG_HDR_LEN + 4);
	assert_int_equal(pm_ctlmsg_decode(&m, buf, (size_t)len), 0);
	assert_int_equal(m.u.chunk.count, 0);
	free(buf);
}

static void
test_ctlmsg_decode_copies_strings_out_of_the_buffer(void **state)
{
	size_t len;
	uint8_t *b = copy_of("user-assign-max", 0, &len);
	char want_user[PM_CTLMSG_USER_MAX + 1];
	struct pm_ctlmsg m;

	(void)state;
	assert_int_equal(pm_ctlmsg_decode(&m, b, len), 0);
	memset(b, 0xee, len);
	free(b);
	pm_ctlmsgtest_fill(want_user, PM_CTLMSG_USER_MAX, 5);
	assert_string_equal(m.u.user_assign.user, want_user);
	assert_int_equal(strlen(m.u.user_assign.tag), PM_CTLMSG_TAG_MAX);
}

/* ---- truncation and length ------------------------------------------------------ */

static void
test_ctlmsg_every_prefix_is_truncated(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < samples.n; i++) {
		const struct pm_ctlmsgtest_sample *s = &samples.v[i];
		uint8_t *b = malloc(s->len);

		assert_non_null(b);
		for (n = 0; n < s->len; n++) {
			char what[128];

			/* As received: the length field still says s->len. */
			snprintf(what, sizeof(what), "%s cut to %zu", s->name, n);
			expect_decode(s->buf, n, -EBADMSG, what);
			if (n < PM_CTLMSG_HDR_LEN)
				continue;
			/* The length field patched to the prefix: the body
			 * walk itself must notice the missing bytes. */
			memcpy(b, s->buf, n);
			put_le(b + 12, n, 4);
			snprintf(what, sizeof(what), "%s cut to %zu, length patched", s->name, n);
			expect_decode(b, n, -EBADMSG, what);
		}
		free(b);
	}
}

static void
test_ctlmsg_length_field_mismatch_is_refused(void **state)
{
	static const uint64_t bad[] = { 0, 1, 31, 32, UINT32_MAX };
	size_t i, k;

	(void)state;
	for (i = 0; i < samples.n; i++) {
		const struct pm_ctlmsgtest_sample *s = &samples.v[i];
		uint8_t *b = calloc(1, s->len + 1);

		assert_non_null(b);
		memcpy(b, s->buf, s->len);
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			if (bad[k] == s->len)
				continue;
			put_le(b + 12, bad[k], 4);
			expect_decode(b, s->len, -EBADMSG, s->name);
		}
		put_le(b + 12, s->len - 1, 4);
		expect_decode(b, s->len, -EBADMSG, s->name);
		put_le(b + 12, s->len + 1, 4);
		expect_decode(b, s->len, -EBADMSG, s->name);
		/* One trailing byte, whether or not the length admits it. */
		expect_decode(b, s->len + 1, -EBADMSG, s->name);
		put_le(b + 12, s->len, 4);
		expect_decode(b, s->len + 1, -EBADMSG, s->name);
		free(b);
	}
}

static void
test_ctlmsg_oversize_datagram_is_refused(void **state)
{
	uint8_t *b = calloc(1, PM_CTLMSG_MAX + 1);
	const struct pm_ctlmsgtest_sample *s = sample("ping");

	(void)state;
	assert_non_null(b);
	memcpy(b, s->buf, s->len);
	put_le(b + 12, PM_CTLMSG_MAX + 1, 4);
	expect_decode(b, PM_CTLMSG_MAX + 1, -EMSGSIZE, "65537-byte PING");
	free(b);
}

/* ---- header --------------------------------------------------------------------- */

static void
test_ctlmsg_bad_magic_is_refused(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < samples.n; i++) {
		for (k = 0; k < 4; k++)
			expect_patched(samples.v[i].name, k, samples.v[i].buf[k] ^ 0x20, -EPROTO);
	}
	/* Magic is judged as soon as its 4 bytes are there. */
	expect_decode((const uint8_t *)"PMXD", 4, -EPROTO, "4-byte bad magic");
	expect_decode((const uint8_t *)"PMXC", 4, -EBADMSG, "4-byte good magic");
}

static void
test_ctlmsg_wrong_version_is_refused(void **state)
{
	static const uint16_t bad[] = { 0, 2, 0x100, UINT16_MAX };
	size_t i, k;

	(void)state;
	for (i = 0; i < samples.n; i++) {
		size_t len;
		uint8_t *b = copy_of(samples.v[i].name, 0, &len);

		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			put_le(b + 4, bad[k], 2);
			expect_decode(b, len, -EPROTONOSUPPORT, samples.v[i].name);
			/* Even a bare 6-byte prefix says which version it is. */
			expect_decode(b, 6, -EPROTONOSUPPORT, samples.v[i].name);
		}
		free(b);
	}
}

static void
test_ctlmsg_unknown_type_is_refused(void **state)
{
	static const uint16_t bad[] = { 0, 20, 63, 64, 72, 127, 129, 255, 256, 0x8000,
					UINT16_MAX };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		size_t len;
		uint8_t *b = copy_of("ping", 0, &len);
		struct pm_ctlmsg m;

		put_le(b + 6, bad[k], 2);
		expect_decode(b, len, -ENOTSUP, "unknown type");
		assert_null(pm_ctlmsg_type_name(bad[k]));
		assert_int_equal(pm_ctlmsg_direction(bad[k]), 0);
		pm_ctlmsg_init(&m, bad[k], 1, 0);
		assert_int_equal(pm_ctlmsg_encode(&m, b, len), -EINVAL);
		free(b);
	}
}

static void
test_ctlmsg_header_rules_are_enforced(void **state)
{
	size_t i;
	uint8_t buf[PM_CTLMSG_HDR_LEN + 64];
	struct pm_ctlmsg m;
	struct pm_ctlmsg_writer w;

	(void)state;
	/* The reserved field and unknown flag bits, on every sample. */
	for (i = 0; i < samples.n; i++) {
		expect_patched(samples.v[i].name, 10, 1, -EINVAL);
		expect_patched(samples.v[i].name, 11, 0x80, -EINVAL);
		expect_patched(samples.v[i].name, 8, 0x02, -EINVAL);
		expect_patched(samples.v[i].name, 9, 0x80, -EINVAL);
		if (samples.v[i].type != PM_CTLMSG_USER_LIST_PART &&
		    samples.v[i].type != PM_CTLMSG_HOST_LIST_PART &&
		    samples.v[i].type != PM_CTLMSG_COUNTERS_PART)
			expect_patched(samples.v[i].name, 8, PM_CTLMSG_F_LAST, -EINVAL);
	}
	/* Request id 0 on a request or an answer; non-zero where none is due. */
	expect_patched("ping", 16, 0, -EINVAL);
	expect_patched("hello", 16, 0, -EINVAL);
	expect_patched("pong", 16, 0, -EINVAL);
	expect_patched("reply-state-commit", 16, 0, -EINVAL);
	expect_patched("user-list-part", 16, 0, -EINVAL);
	expect_patched("counters", 16, 0, -EINVAL);
	expect_patched("counters-part", 16, 0, -EINVAL);
	expect_patched("state-begin", 16, 1, -EINVAL);
	expect_patched("state-hosts", 23, 1, -EINVAL);
	expect_patched("error", 16, 1, 0);
	/* Generation 0 on a state or host change; non-zero where unused. */
	expect_patched("state-begin", 24, 0, -EINVAL);
	expect_patched("state-hosts", 24, 0, -EINVAL);
	expect_patched("state-commit", 24, 0, -EINVAL);
	expect_patched("host-set", 24, 0, -EINVAL);
	expect_patched("host-updown", 24, 0, -EINVAL);
	expect_patched("host-remove", 24, 0, -EINVAL);
	expect_patched("ping", 31, 1, -EINVAL);
	expect_patched("hello", 24, 1, -EINVAL);
	expect_patched("host-flush-all", 24, 1, -EINVAL);
	expect_patched("counters", 24, 1, -EINVAL);
	expect_patched("pong", 24, 0, 0);
	expect_patched("counters-part", 24, 0, 0);

	/* The encoder refuses the same. */
	pm_ctlmsg_init(&m, PM_CTLMSG_PING, 0, 0);
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	pm_ctlmsg_init(&m, PM_CTLMSG_PING, 1, 1);
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_REMOVE, 1, 0);
	m.u.host_remove.addr = pm_ctlmsgtest_addr("198.51.100.1");
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	pm_ctlmsg_init(&m, PM_CTLMSG_PING, 1, 0);
	m.flags = PM_CTLMSG_F_LAST;
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_STATE_HOSTS, 1, 1),
			 -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_STATE_HOSTS, 0, 0),
			 -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART,
					       0, 0), -EINVAL);
}

/* ---- body fields ---------------------------------------------------------------- */

/*
 * Sample @name with its string at body offset @str_off (the u16 length)
 * grown to @max + 1 bytes: length field, datagram and header length all
 * consistent, so only the bound can refuse it.
 */
static void
expect_oversize_string(const char *name, size_t str_off, size_t max)
{
	const struct pm_ctlmsgtest_sample *s = sample(name);
	size_t off = PM_CTLMSG_HDR_LEN + str_off;
	size_t old = (size_t)s->buf[off] | (size_t)s->buf[off + 1] << 8;
	size_t len = s->len + (max + 1 - old);
	uint8_t *b = calloc(1, len);

	assert_non_null(b);
	assert_int_equal(old, max);	/* the sample holds a maximal string */
	memcpy(b, s->buf, off + 2 + old);
	memset(b + off + 2 + old, 'x', max + 1 - old);
	memcpy(b + off + 2 + max + 1, s->buf + off + 2 + old, s->len - (off + 2 + old));
	put_le(b + off, max + 1, 2);
	put_le(b + 12, len, 4);
	expect_decode(b, len, -EINVAL, name);
	/* And the largest length a u16 can say, with the bytes missing. */
	put_le(b + off, UINT16_MAX, 2);
	expect_decode(b, len, -EINVAL, name);
	free(b);
}

static void
test_ctlmsg_oversize_strings_are_refused(void **state)
{
	struct pm_ctlmsg m;
	uint8_t *buf = malloc(PM_CTLMSG_MAX);

	(void)state;
	assert_non_null(buf);
	expect_oversize_string("user-kick-max", 0, PM_CTLMSG_USER_MAX);
	expect_oversize_string("user-kick-alt-max", 0, PM_CTLMSG_FIELD_MAX);
	expect_oversize_string("user-kick-alt-max", 2 + PM_CTLMSG_FIELD_MAX, PM_CTLMSG_FIELD_MAX);
	expect_oversize_string("user-assign-max", 0, PM_CTLMSG_USER_MAX);
	expect_oversize_string("user-assign-max", 2 + PM_CTLMSG_USER_MAX, PM_CTLMSG_TAG_MAX);
	expect_oversize_string("user-lookup-max", 4, PM_CTLMSG_TAG_MAX);
	expect_oversize_string("host-set-max", 20, PM_CTLMSG_TAG_MAX);
	expect_oversize_string("state-begin-max", 21, PM_CTLMSG_TEMPLATE_MAX);
	expect_oversize_string("reply-error-max", 6, PM_CTLMSG_REASON_MAX);
	expect_oversize_string("error-max", 2, PM_CTLMSG_REASON_MAX);
	/* The state-hosts sample's second entry has a 255-byte tag. */
	expect_oversize_string("state-hosts", 4 + PM_CTLMSG_STATE_HOST_MIN + 28,
			       PM_CTLMSG_TAG_MAX);
	/* Every counter name of this sample has 63 bytes: the first one. */
	expect_oversize_string("counters-part-full-last", 4, PM_CTLMSG_COUNTER_NAME_MAX);

	/* The encoder measures at most max + 1 bytes of an unterminated field. */
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK, 1, 0);
	memset(m.u.user_kick.user, 'a', sizeof(m.u.user_kick.user));
	assert_int_equal(pm_ctlmsg_encode(&m, buf, PM_CTLMSG_MAX), -EINVAL);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 1, 1);
	m.u.host_set.addr = pm_ctlmsgtest_addr("198.51.100.1");
	memset(m.u.host_set.tag, 't', sizeof(m.u.host_set.tag));
	assert_int_equal(pm_ctlmsg_encode(&m, buf, PM_CTLMSG_MAX), -EINVAL);
	free(buf);
}

static void
test_ctlmsg_nul_inside_string_is_refused(void **state)
{
	(void)state;
	/* "user1@example.com" starts at body offset 2. */
	expect_patched("user-kick", PM_CTLMSG_HDR_LEN + 2, 0, -EINVAL);
	expect_patched("user-kick", PM_CTLMSG_HDR_LEN + 2 + 16, 0, -EINVAL);
	expect_patched("error", PM_CTLMSG_HDR_LEN + 4, 0, -EINVAL);
	expect_patched("state-begin", PM_CTLMSG_HDR_LEN + 23, 0, -EINVAL);
}

static void
test_ctlmsg_bad_address_is_refused(void **state)
{
	static const uint8_t bad_family[] = { 1, 2, 3, 5, 10, 0x80, 0xff };
	size_t k, j;
	uint8_t buf[256];
	struct pm_ctlmsg m;

	(void)state;
	for (k = 0; k < sizeof(bad_family); k++) {
		size_t body = PM_CTLMSG_HDR_LEN;

		expect_patched("host-set", body, bad_family[k], -EINVAL);
		expect_patched("host-flush-all", body, bad_family[k], -EINVAL);
		expect_patched("user-move", body + 4, bad_family[k], -EINVAL);
		expect_patched("user-list-part", body + 4 + 8, bad_family[k], -EINVAL);
		expect_patched("state-hosts", body + 4, bad_family[k], -EINVAL);
		expect_patched("reply-user-lookup", body + 6, bad_family[k], -EINVAL);
	}
	/* IPv4 with bytes past the fourth set; "all" with any byte set. */
	for (j = 5; j <= 16; j++) {
		expect_patched("host-set", PM_CTLMSG_HDR_LEN + j, 1, -EINVAL);
		expect_patched("host-flush-all", PM_CTLMSG_HDR_LEN + j, 1, -EINVAL);
	}
	expect_patched("host-flush-all", PM_CTLMSG_HDR_LEN + 1, 1, -EINVAL);
	/* "No address" where an address is required. */
	expect_patched("host-set", PM_CTLMSG_HDR_LEN, 0, -EINVAL);
	expect_patched("host-remove", PM_CTLMSG_HDR_LEN, 0, -EINVAL);
	expect_patched("host-updown", PM_CTLMSG_HDR_LEN, 0, -EINVAL);
	expect_patched("user-move", PM_CTLMSG_HDR_LEN + 4, 0, -EINVAL);
	/* IPv4 family on an IPv6 sample: its high bytes are not zero. */
	expect_patched("host-set-max", PM_CTLMSG_HDR_LEN, PM_AF_INET, -EINVAL);
	/* IPv6 family on an IPv4 sample is simply another valid address. */
	expect_patched("host-set", PM_CTLMSG_HDR_LEN, PM_AF_INET6, 0);

	/* The encoder refuses the same. */
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 1, 1);
	m.u.host_set.addr.family = 2;	/* AF_INET, not PM_AF_INET */
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.u.host_set.addr = pm_ctlmsgtest_addr("198.51.100.1");
	m.u.host_set.addr.bytes[15] = 1;
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
	memset(&m.u.host_set.addr, 0, sizeof(m.u.host_set.addr));
	assert_int_equal(pm_ctlmsg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void
test_ctlmsg_bad_body_values_are_refused(void **state)
{
	const size_t b = PM_CTLMSG_HDR_LEN;

	(void)state;
	/* Booleans are 0 or 1. */
	expect_patched("host-set", b + 19, 2, -EINVAL);
	expect_patched("host-updown", b + 17, 0xff, -EINVAL);
	expect_patched("hello-ack", b + 6, 2, -EINVAL);
	expect_patched("state-hosts", b + 4 + 19, 2, -EINVAL);
	/* HELLO: 1 <= min <= max; HELLO_ACK: version >= 1. */
	expect_patched("hello", b + 4, 0, -EINVAL);
	expect_patched("hello", b + 4, 2, -EINVAL);
	expect_patched("hello-ack", b + 4, 0, -EINVAL);
	/* STATE_HOSTS: last_updown_s >= 0 (sign bit of the i64). */
	expect_patched("state-hosts", b + 4 + 27, 0x80, -EINVAL);
	/* REPLY: positive status, status below -4095, non-REPLY request types,
	 * success for a list request. */
	expect_patched("reply-state-commit", b + 2, 1, -EINVAL);
	expect_patched("reply-host-set-error", b + 3, 0xef, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_PING, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_STATE_HOSTS, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_REPLY, -EINVAL);
	expect_patched("reply-state-commit", b, 99, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_USER_LIST, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_HOST_LIST, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_COUNTERS, -EINVAL);
	expect_patched("reply-state-commit", b, PM_CTLMSG_COUNTERS_PART, -EINVAL);
	/* USER_ASSIGN: result <= NOHOST; placed <=> address; waiting: no expiry. */
	expect_patched("reply-user-assign-pinned", b + 6, 4, -EINVAL);
	expect_patched("reply-user-assign-pinned", b + 6, PM_CTLMSG_ASSIGN_WAIT, -EINVAL);
	expect_patched("reply-user-assign-wait", b + 6, PM_CTLMSG_ASSIGN_PINNED, -EINVAL);
	expect_patched("reply-user-assign-wait", b + 7 + 17, 1, -EINVAL);
	/* USER_LOOKUP: flags known; no pin means no expiry and no flags. */
	expect_patched("reply-user-lookup", b + 6 + 17 + 4, 4, -EINVAL);
	expect_patched("reply-user-lookup-none", b + 6 + 17, 1, -EINVAL);
	expect_patched("reply-user-lookup-none", b + 6 + 17 + 4, PM_CTLMSG_PIN_WEAK, -EINVAL);
	/* USER_LIST_PART: unknown pin flags. */
	expect_patched("user-list-part", b + 4 + 27, 4, -EINVAL);
	/* A count the bytes cannot hold is a truncation. */
	expect_patched("user-list-part", b + 0, 3, -EBADMSG);
	expect_patched("user-list-part", b + 3, 0x80, -EBADMSG);
	expect_patched("state-hosts-empty", b + 0, 1, -EBADMSG);
	expect_patched("state-hosts", b + 0, 2, -EBADMSG);
	expect_patched("counters-part-empty-last", b + 0, 1, -EBADMSG);
	expect_patched("counters-part", b + 0, 4, -EBADMSG);
	/* ERROR accepts any code: it is frozen across versions. */
	expect_patched("error", b + 0, 0, 0);
	expect_patched("error", b + 1, 0x7f, 0);
}

/*
 * Counter names are 1 to 63 bytes of [A-Za-z0-9_.-]: the decoder refuses
 * anything else as malformed, and the writer refuses to add it.
 */
static void
test_ctlmsg_counter_name_outside_charset_is_refused(void **state)
{
	static const char bad[] = { ' ', '\t', '\n', '/', ':', '@', '+', ',', '=', '"', '\'',
				    '\\', 0x01, 0x7f, (char)0x80, (char)0xc3, (char)0xff, 0 };
	static const char *const good[] = { "a", "Z", "0", "_", ".", "-", "director.pins",
					    "lcore.12.drop.IP_CSUM", "port.a-b_c.rx" };
	/* "counters-part": count at body 0, the first name's length at 4, its
	 * 13 bytes ("director.pins") at 6, its value at 19. */
	const size_t name = PM_CTLMSG_HDR_LEN + 6;
	uint8_t buf[PM_CTLMSG_HDR_LEN + 64];
	struct pm_ctlmsg_counter k;
	struct pm_ctlmsg_writer w;
	char what[64];
	size_t i, len;
	uint8_t *b;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		expect_patched("counters-part", name, (uint8_t)bad[i], -EINVAL);
		expect_patched("counters-part", name + 12, (uint8_t)bad[i], -EINVAL);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(pm_ctlmsg_counter_name_ok(good[i]));
	for (i = 0; i < sizeof(bad); i++) {
		snprintf(what, sizeof(what), "ab%cc", bad[i]);
		assert_false(pm_ctlmsg_counter_name_ok(what) && bad[i] != 0);
	}
	assert_false(pm_ctlmsg_counter_name_ok(""));
	memset(what, 'x', sizeof(what));
	what[PM_CTLMSG_COUNTER_NAME_MAX] = '\0';
	assert_true(pm_ctlmsg_counter_name_ok(what));
	what[PM_CTLMSG_COUNTER_NAME_MAX] = 'x';	/* 64 bytes, unterminated */
	assert_false(pm_ctlmsg_counter_name_ok(what));

	/* An empty name: count 1, length 0, the value, and one byte more so
	 * that the count passes the 11-byte minimum; lengths consistent. The
	 * name is judged before the trailing byte. Without that byte the
	 * count alone is impossible. */
	b = copy_of("counters-part-empty-last", 2 + 8 + 1, &len);
	put_le(b + PM_CTLMSG_HDR_LEN, 1, 4);
	memset(b + len, 0, 2 + 8 + 1);
	put_le(b + 12, len + 2 + 8 + 1, 4);
	expect_decode(b, len + 2 + 8 + 1, -EINVAL, "empty counter name");
	put_le(b + 12, len + 2 + 8, 4);
	expect_decode(b, len + 2 + 8, -EBADMSG, "empty counter name, no spare byte");
	free(b);

	/* The writer refuses the same and appends nothing. */
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_COUNTERS_PART, 1,
					       0), 0);
	memset(&k, 0, sizeof(k));
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), -EINVAL);
	strcpy(k.name, "bad name");
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), -EINVAL);
	memset(k.name, 'n', sizeof(k.name));	/* 64 bytes, no NUL */
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), -EINVAL);
	assert_int_equal(w.count, 0);
	strcpy(k.name, "ok");
	k.value = 5;
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), 0);
	assert_int_equal(pm_ctlmsg_chunk_finish(&w, true), PM_CTLMSG_HDR_LEN + 4 + 2 + 2 + 8);
}

static void
test_ctlmsg_encoder_reports_enospc_and_einval_wins(void **state)
{
	uint8_t *buf = malloc(PM_CTLMSG_MAX);
	struct pm_ctlmsg m;
	size_t i, size;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < samples.n; i++) {
		const struct pm_ctlmsgtest_sample *s = &samples.v[i];

		if (is_chunk_type(s->type)) {
			assert_int_equal(pm_ctlmsg_encode(&s->msg, buf, PM_CTLMSG_MAX), -EINVAL);
			continue;
		}
		for (size = 0; size < s->len; size++) {
			int rc = pm_ctlmsg_encode(&s->msg, buf, size);

			if (rc != -ENOSPC)
				fail_msg("%s into %zu bytes: %d", s->name, size, rc);
		}
		assert_int_equal(pm_ctlmsg_encode(&s->msg, buf, s->len), (int)s->len);
	}
	/* Invalid and too big: the bug is reported, not the buffer. */
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK_ALT, 1, 0);
	pm_ctlmsgtest_fill(m.u.user_kick_alt.field, PM_CTLMSG_FIELD_MAX, 0);
	memset(m.u.user_kick_alt.value, 'v', sizeof(m.u.user_kick_alt.value));
	assert_int_equal(pm_ctlmsg_encode(&m, buf, 40), -EINVAL);
	assert_int_equal(pm_ctlmsg_encode(&m, buf, 0), -EINVAL);
	free(buf);
}

static void
test_ctlmsg_writer_misuse_is_refused(void **state)
{
	uint8_t buf[512];
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_host h;
	struct pm_ctlmsg_user u;
	struct pm_ctlmsg_counter k;
	struct pm_ctlmsg m;
	int len;

	(void)state;
	memset(&h, 0, sizeof(h));
	memset(&u, 0, sizeof(u));
	h.addr = pm_ctlmsgtest_addr("198.51.100.1");
	u.addr = h.addr;
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_PING, 1, 0),
			 -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_finish(&w, false), -EINVAL);

	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_STATE_HOSTS, 0, 1),
			 0);
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -EINVAL);
	h.user_count = 1;	/* a HOST_LIST_PART field */
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), -EINVAL);
	h.user_count = 0;
	h.tag_index = 1;
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), -EINVAL);
	h.tag_index = 0;
	h.last_updown_s = -1;
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), -EINVAL);
	h.last_updown_s = 0;
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), 0);
	assert_int_equal(pm_ctlmsg_chunk_finish(&w, true), -EINVAL);
	len = pm_ctlmsg_chunk_finish(&w, false);
	assert_int_equal(len, PM_CTLMSG_HDR_LEN + 4 + PM_CTLMSG_STATE_HOST_MIN);
	assert_int_equal(pm_ctlmsg_decode(&m, buf, (size_t)len), 0);
	assert_int_equal(m.u.chunk.count, 1);

	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART, 1,
					       0), 0);
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), -EINVAL);
	u.pin_flags = 4;
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -EINVAL);
	u.pin_flags = 0;
	u.addr.family = PM_AF_NONE;
	memset(u.addr.bytes, 0, sizeof(u.addr.bytes));
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -EINVAL);

	/* COUNTERS_PART takes only counters; other writers refuse them. */
	memset(&k, 0, sizeof(k));
	strcpy(k.name, "x");
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_COUNTERS_PART, 1,
					       0), 0);
	u.addr = h.addr;
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), -EINVAL);
	assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), 0);
	len = pm_ctlmsg_chunk_finish(&w, true);
	assert_int_equal(len, PM_CTLMSG_HDR_LEN + 4 + PM_CTLMSG_COUNTER_MIN);
	assert_int_equal(pm_ctlmsg_decode(&m, buf, (size_t)len), 0);
	assert_int_equal(m.flags, PM_CTLMSG_F_LAST);
	/* A COUNTERS_PART needs a request id. */
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_COUNTERS_PART, 0,
					       0), -EINVAL);
}

static void
test_ctlmsg_iterator_matches_only_its_kind(void **state)
{
	struct pm_ctlmsg m;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host h;
	struct pm_ctlmsg_user u;
	struct pm_ctlmsg_counter k;
	const struct pm_ctlmsgtest_sample *s = sample("user-list-part");

	(void)state;
	assert_int_equal(pm_ctlmsg_decode(&m, s->buf, s->len), 0);
	pm_ctlmsg_iter_init(&it, &m);
	assert_false(pm_ctlmsg_iter_host(&it, &h));
	assert_false(pm_ctlmsg_iter_counter(&it, &k));
	assert_true(pm_ctlmsg_iter_user(&it, &u));
	assert_true(pm_ctlmsg_iter_user(&it, &u));
	assert_false(pm_ctlmsg_iter_user(&it, &u));
	assert_false(pm_ctlmsg_iter_user(&it, &u));

	s = sample("counters-part");
	assert_int_equal(pm_ctlmsg_decode(&m, s->buf, s->len), 0);
	pm_ctlmsg_iter_init(&it, &m);
	assert_false(pm_ctlmsg_iter_host(&it, &h));
	assert_false(pm_ctlmsg_iter_user(&it, &u));
	assert_true(pm_ctlmsg_iter_counter(&it, &k));
	assert_string_equal(k.name, "director.pins");
	assert_true(k.value == 1);
	assert_true(pm_ctlmsg_iter_counter(&it, &k));
	assert_string_equal(k.name, "port.client.rx_packets");
	assert_true(k.value == 0x0102030405060708ull);
	assert_true(pm_ctlmsg_iter_counter(&it, &k));
	assert_string_equal(k.name, "lcore.0.drop.IP_CSUM");
	assert_true(k.value == 0);
	assert_false(pm_ctlmsg_iter_counter(&it, &k));

	s = sample("ping");
	assert_int_equal(pm_ctlmsg_decode(&m, s->buf, s->len), 0);
	pm_ctlmsg_iter_init(&it, &m);
	assert_false(pm_ctlmsg_iter_host(&it, &h));
	assert_false(pm_ctlmsg_iter_user(&it, &u));
	assert_false(pm_ctlmsg_iter_counter(&it, &k));
}

/* ---- metadata ------------------------------------------------------------------- */

static void
test_ctlmsg_peek_reads_header_of_malformed_datagram(void **state)
{
	struct pm_ctlmsg_hdr h;
	size_t len;
	uint8_t *b = copy_of("user-kick", 0, &len);

	(void)state;
	b[len - 1] = 0;	/* NUL in the user name: decode refuses */
	expect_decode(b, len, -EINVAL, "NUL user");
	assert_int_equal(pm_ctlmsg_peek(b, len, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.type, PM_CTLMSG_USER_KICK);
	assert_int_equal(h.request_id, 16);
	assert_int_equal(h.length, len);
	assert_int_equal(pm_ctlmsg_peek(b, PM_CTLMSG_HDR_LEN - 1, &h), -EBADMSG);
	b[0] = 'X';
	assert_int_equal(pm_ctlmsg_peek(b, len, &h), -EPROTO);
	free(b);
}

static void
test_ctlmsg_names_directions_and_reasons_are_defined(void **state)
{
	static const int errs[] = { -EPROTO, -EPROTONOSUPPORT, -EBADMSG, -EMSGSIZE, -ENOTSUP,
				    -EINVAL };
	size_t i, j;

	(void)state;
	assert_string_equal(pm_ctlmsg_type_name(PM_CTLMSG_HOST_SET), "HOST_SET");
	assert_string_equal(pm_ctlmsg_type_name(PM_CTLMSG_ERROR), "ERROR");
	assert_int_equal(pm_ctlmsg_direction(PM_CTLMSG_HELLO), PM_CTLMSG_TO_DP);
	assert_int_equal(pm_ctlmsg_direction(PM_CTLMSG_REPLY), PM_CTLMSG_TO_CONTROL);
	assert_int_equal(pm_ctlmsg_direction(PM_CTLMSG_ERROR),
			 PM_CTLMSG_TO_DP | PM_CTLMSG_TO_CONTROL);
	for (i = 1; i < 64; i++) {
		if (pm_ctlmsg_type_name((uint16_t)i) != NULL)
			assert_int_equal(pm_ctlmsg_direction((uint16_t)i), PM_CTLMSG_TO_DP);
	}
	for (i = 64; i < 128; i++) {
		if (pm_ctlmsg_type_name((uint16_t)i) != NULL)
			assert_int_equal(pm_ctlmsg_direction((uint16_t)i), PM_CTLMSG_TO_CONTROL);
	}
	/* Each decode error has its own reason text. */
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_string_not_equal(pm_ctlmsg_strerror(errs[i]), "unknown error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(pm_ctlmsg_strerror(errs[i]),
						pm_ctlmsg_strerror(errs[j]));
	}
	assert_string_equal(pm_ctlmsg_strerror(-E2BIG), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctlmsg_golden_vectors_match_documented_layout),
		cmocka_unit_test(test_ctlmsg_samples_cover_every_type),
		cmocka_unit_test(test_ctlmsg_every_sample_round_trips_byte_exact),
		cmocka_unit_test(test_ctlmsg_full_chunks_hold_the_computed_maximum),
		cmocka_unit_test(test_ctlmsg_writer_full_refuses_entry_without_change),
		cmocka_unit_test(test_ctlmsg_decode_copies_strings_out_of_the_buffer),
		cmocka_unit_test(test_ctlmsg_every_prefix_is_truncated),
		cmocka_unit_test(test_ctlmsg_length_field_mismatch_is_refused),
		cmocka_unit_test(test_ctlmsg_oversize_datagram_is_refused),
		cmocka_unit_test(test_ctlmsg_bad_magic_is_refused),
		cmocka_unit_test(test_ctlmsg_wrong_version_is_refused),
		cmocka_unit_test(test_ctlmsg_unknown_type_is_refused),
		cmocka_unit_test(test_ctlmsg_header_rules_are_enforced),
		cmocka_unit_test(test_ctlmsg_oversize_strings_are_refused),
		cmocka_unit_test(test_ctlmsg_nul_inside_string_is_refused),
		cmocka_unit_test(test_ctlmsg_bad_address_is_refused),
		cmocka_unit_test(test_ctlmsg_bad_body_values_are_refused),
		cmocka_unit_test(test_ctlmsg_counter_name_outside_charset_is_refused),
		cmocka_unit_test(test_ctlmsg_encoder_reports_enospc_and_einval_wins),
		cmocka_unit_test(test_ctlmsg_writer_misuse_is_refused),
		cmocka_unit_test(test_ctlmsg_iterator_matches_only_its_kind),
		cmocka_unit_test(test_ctlmsg_peek_reads_header_of_malformed_datagram),
		cmocka_unit_test(test_ctlmsg_names_directions_and_reasons_are_defined),
	};

	return cmocka_run_group_tests_name("ctlmsg", tests, group_setup, group_teardown);
}
