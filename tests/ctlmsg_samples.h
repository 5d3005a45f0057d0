/*
 * ctlmsg_samples.h -- valid control-channel datagrams for tests and corpora.
 *
 * Test code only. pm_ctlmsgtest_samples_build() encodes a fixed list of
 * messages that covers every message type at least once, with boundary
 * values: empty and maximum-length strings, IPv4, IPv6 and "all" addresses,
 * zero and maximum integers, empty chunks and chunks filled until the
 * datagram is full (with the longest and the shortest entries). Each
 * sample keeps the struct (or the chunk entries) it was encoded from, so
 * tests can compare a decode against the source.
 * Deterministic: no randomness, no clock. Allocates (freed by
 * pm_ctlmsgtest_samples_free()).
 */
#ifndef PM_CTLMSG_SAMPLES_H
#define PM_CTLMSG_SAMPLES_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"
#include "net/addr.h"

struct pm_ctlmsgtest_sample {
	char name[64];
	uint16_t type;
	uint8_t *buf;			/* the encoding, len bytes */
	size_t len;
	struct pm_ctlmsg msg;		/* the source (chunk types: header only) */
	struct pm_ctlmsg_host *hosts;	/* STATE_HOSTS, HOST_LIST_PART source */
	struct pm_ctlmsg_user *users;	/* USER_LIST_PART source */
	struct pm_ctlmsg_counter *counters;	/* COUNTERS_PART source */
	size_t nentries;
};

struct pm_ctlmsgtest_samples {
	struct pm_ctlmsgtest_sample *v;
	size_t n;
	size_t cap;
};

static inline struct pm_addr
pm_ctlmsgtest_addr(const char *s)
{
	struct pm_addr a;

	if (pm_addr_parse(&a, s, strlen(s)) != 0)
		abort();
	return a;
}

/* An IPv4 address made from @i, distinct for every i < 2^24. */
static inline struct pm_addr
pm_ctlmsgtest_addr_n(uint32_t i)
{
	struct pm_addr a;

	memset(&a, 0, sizeof(a));
	a.family = PM_AF_INET;
	a.bytes[0] = 10;
	a.bytes[1] = (uint8_t)(i >> 16);
	a.bytes[2] = (uint8_t)(i >> 8);
	a.bytes[3] = (uint8_t)i;
	return a;
}

/* Fill @dst with @n bytes cycling through 1..255 from @seed, then a NUL. */
static inline void
pm_ctlmsgtest_fill(char *dst, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (char)(uint8_t)(1 + (seed + i) % 255);
	dst[n] = '\0';
}

static inline struct pm_ctlmsgtest_sample *
pm_ctlmsgtest_push(struct pm_ctlmsgtest_samples *s, const char *name, uint16_t type)
{
	struct pm_ctlmsgtest_sample *x;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *v = realloc(s->v, cap * sizeof(*s->v));

		if (v == NULL)
			abort();
		s->v = v;
		s->cap = cap;
	}
	x = &s->v[s->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->type = type;
	x->buf = malloc(PM_CTLMSG_MAX);
	if (x->buf == NULL)
		abort();
	return x;
}

/* Encode @m as a new sample; -1 if the encoder refused it. */
static inline int
pm_ctlmsgtest_add(struct pm_ctlmsgtest_samples *s, const char *name, const struct pm_ctlmsg *m)
{
	struct pm_ctlmsgtest_sample *x = pm_ctlmsgtest_push(s, name, m->type);
	int len = pm_ctlmsg_encode(m, x->buf, PM_CTLMSG_MAX);

	if (len < 0) {
		fprintf(stderr, "sample %s: encode: %d\n", name, len);
		return -1;
	}
	x->len = (size_t)len;
	x->msg = *m;
	return 0;
}

/*
 * A chunk sample from @n entries (@hosts or @users), or, with @fill, as
 * many entries from @gen_host / @gen_user as fit in one datagram. The
 * entries used are copied into the sample.
 */
static inline int
pm_ctlmsgtest_add_chunk(struct pm_ctlmsgtest_samples *s, const char *name, uint16_t type,
			uint64_t reqid, uint64_t gen, bool last,
			const struct pm_ctlmsg_host *hosts, const struct pm_ctlmsg_user *users,
			size_t n, void (*gen_host)(uint32_t, struct pm_ctlmsg_host *),
			void (*gen_user)(uint32_t, struct pm_ctlmsg_user *))
{
	struct pm_ctlmsgtest_sample *x = pm_ctlmsgtest_push(s, name, type);
	struct pm_ctlmsg_writer w;
	bool fill = gen_host != NULL || gen_user != NULL;
	size_t cap = fill ? PM_CTLMSG_MAX / PM_CTLMSG_USER_ENTRY_LEN : n;
	size_t i;
	int rc;

	pm_ctlmsg_init(&x->msg, type, reqid, gen);
	x->msg.flags = last ? PM_CTLMSG_F_LAST : 0;
	if (type == PM_CTLMSG_USER_LIST_PART)
		x->users = calloc(cap + 1, sizeof(*x->users));
	else
		x->hosts = calloc(cap + 1, sizeof(*x->hosts));
	if (x->users == NULL && x->hosts == NULL)
		abort();
	if (pm_ctlmsg_chunk_begin(&w, x->buf, PM_CTLMSG_MAX, type, reqid, gen) != 0)
		return -1;
	for (i = 0; i < cap; i++) {
		if (x->users != NULL) {
			if (fill)
				gen_user((uint32_t)i, &x->users[i]);
			else
				x->users[i] = users[i];
			rc = pm_ctlmsg_chunk_add_user(&w, &x->users[i]);
		} else {
			if (fill)
				gen_host((uint32_t)i, &x->hosts[i]);
			else
				x->hosts[i] = hosts[i];
			rc = pm_ctlmsg_chunk_add_host(&w, &x->hosts[i]);
		}
		if (rc == -ENOSPC && fill)
			break;
		if (rc != 0) {
			fprintf(stderr, "sample %s: entry %zu: %d\n", name, i, rc);
			return -1;
		}
	}
	x->nentries = i;
	rc = pm_ctlmsg_chunk_finish(&w, last);
	if (rc < 0)
		return -1;
	x->len = (size_t)rc;
	return 0;
}

/*
 * A COUNTERS_PART sample from @n entries of @k, or, with @gen, as many
 * entries from @gen as fit in one datagram. The entries used are copied
 * into the sample.
 */
static inline int
pm_ctlmsgtest_add_counters(struct pm_ctlmsgtest_samples *s, const char *name, uint64_t reqid,
			   uint64_t gen, bool last, const struct pm_ctlmsg_counter *k, size_t n,
			   void (*gen_counter)(uint32_t, struct pm_ctlmsg_counter *))
{
	struct pm_ctlmsgtest_sample *x = pm_ctlmsgtest_push(s, name, PM_CTLMSG_COUNTERS_PART);
	struct pm_ctlmsg_writer w;
	size_t cap = gen_counter != NULL ? PM_CTLMSG_MAX / PM_CTLMSG_COUNTER_MIN : n;
	size_t i;
	int rc;

	pm_ctlmsg_init(&x->msg, PM_CTLMSG_COUNTERS_PART, reqid, gen);
	x->msg.flags = last ? PM_CTLMSG_F_LAST : 0;
	x->counters = calloc(cap + 1, sizeof(*x->counters));
	if (x->counters == NULL)
		abort();
	if (pm_ctlmsg_chunk_begin(&w, x->buf, PM_CTLMSG_MAX, PM_CTLMSG_COUNTERS_PART, reqid,
				  gen) != 0)
		return -1;
	for (i = 0; i < cap; i++) {
		if (gen_counter != NULL)
			gen_counter((uint32_t)i, &x->counters[i]);
		else
			x->counters[i] = k[i];
		rc = pm_ctlmsg_chunk_add_counter(&w, &x->counters[i]);
		if (rc == -ENOSPC && gen_counter != NULL)
			break;
		if (rc != 0) {
			fprintf(stderr, "sample %s: entry %zu: %d\n", name, i, rc);
			return -1;
		}
	}
	x->nentries = i;
	rc = pm_ctlmsg_chunk_finish(&w, last);
	if (rc < 0)
		return -1;
	x->len = (size_t)rc;
	return 0;
}

/* Longest counter entries: 63-byte names of the whole charset, maximum
 * values. */
static inline void
pm_ctlmsgtest_gen_long_counter(uint32_t i, struct pm_ctlmsg_counter *k)
{
	static const char cs[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789_.-";
	size_t j;

	memset(k, 0, sizeof(*k));
	for (j = 0; j < PM_CTLMSG_COUNTER_NAME_MAX; j++)
		k->name[j] = cs[(i + j) % (sizeof(cs) - 1)];
	k->value = UINT64_MAX - i;
}

/* Shortest counter entries: one-byte names. */
static inline void
pm_ctlmsgtest_gen_short_counter(uint32_t i, struct pm_ctlmsg_counter *k)
{
	memset(k, 0, sizeof(*k));
	k->name[0] = (char)('a' + i % 26);
	k->value = i;
}

/* Smallest host entries: no tag. */
static inline void
pm_ctlmsgtest_gen_small_host(uint32_t i, struct pm_ctlmsg_host *h)
{
	memset(h, 0, sizeof(*h));
	h->addr = pm_ctlmsgtest_addr_n(i);
	h->vhosts = (uint16_t)(i % 1001);
	h->down = i % 3 == 0;
	h->last_updown_s = i;
}

/* Largest host-list entries: IPv6, 255-byte tags, maximum numbers. */
static inline void
pm_ctlmsgtest_gen_big_host_info(uint32_t i, struct pm_ctlmsg_host *h)
{
	memset(h, 0, sizeof(*h));
	h->addr = pm_ctlmsgtest_addr("2001:db8:ffff:ffff:ffff:ffff:ffff:0");
	h->addr.bytes[14] = (uint8_t)(i >> 8);
	h->addr.bytes[15] = (uint8_t)i;
	h->vhosts = UINT16_MAX;
	h->down = true;
	h->last_updown_s = INT64_MAX;
	h->user_count = UINT32_MAX;
	h->tag_index = UINT16_MAX;
	pm_ctlmsgtest_fill(h->tag, PM_CTLMSG_TAG_MAX, i);
}

static inline void
pm_ctlmsgtest_gen_user(uint32_t i, struct pm_ctlmsg_user *u)
{
	memset(u, 0, sizeof(*u));
	u->user_hash = UINT32_MAX - i;
	u->expire_s = 1700000000u + i;
	u->addr = pm_ctlmsgtest_addr_n(i);
	u->tag_index = (uint16_t)(i % 7);
	u->pin_flags = (uint8_t)(i % 4);
}

static inline void
pm_ctlmsgtest_samples_free(struct pm_ctlmsgtest_samples *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].buf);
		free(s->v[i].hosts);
		free(s->v[i].users);
		free(s->v[i].counters);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static inline int
pm_ctlmsgtest_samples_build(struct pm_ctlmsgtest_samples *s)
{
	struct pm_ctlmsg m;
	struct pm_ctlmsg_host hosts[3];
	struct pm_ctlmsg_user users[2];
	struct pm_ctlmsg_counter counters[3];
	int rc = 0;
	size_t i;

	memset(s, 0, sizeof(*s));

	/* Types in numeric order; the first sample of each type is small and
	 * typical (the fuzz corpus takes those), the others probe bounds. */
	pm_ctlmsg_init(&m, PM_CTLMSG_HELLO, 1, 0);
	m.u.hello.pid = 4242;
	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = 1;
	for (i = 0; i < PM_CTLMSG_BOOT_ID_LEN; i++)
		m.u.hello.boot_id[i] = (uint8_t)i;
	rc |= pm_ctlmsgtest_add(s, "hello", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HELLO, UINT64_MAX, 0);
	m.u.hello.pid = UINT32_MAX;
	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = UINT16_MAX;
	memset(m.u.hello.boot_id, 0xff, PM_CTLMSG_BOOT_ID_LEN);
	rc |= pm_ctlmsgtest_add(s, "hello-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_BEGIN, 0, 1);
	m.u.state_begin.user_expire_s = 900;
	m.u.state_begin.kick_delay_ms = 2000;
	m.u.state_begin.max_parallel_moves = 100;
	m.u.state_begin.max_parallel_kicks = 100;
	m.u.state_begin.nhosts = 3;
	strcpy(m.u.state_begin.hash_template, "%Lu");
	rc |= pm_ctlmsgtest_add(s, "state-begin", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_BEGIN, 0, UINT64_MAX);
	m.u.state_begin.user_expire_s = UINT32_MAX;
	m.u.state_begin.kick_delay_ms = UINT32_MAX;
	m.u.state_begin.max_parallel_moves = UINT32_MAX;
	m.u.state_begin.max_parallel_kicks = UINT32_MAX;
	m.u.state_begin.nhosts = UINT32_MAX;
	m.u.state_begin.master_sep = (char)0xff;
	pm_ctlmsgtest_fill(m.u.state_begin.hash_template, PM_CTLMSG_TEMPLATE_MAX, 7);
	rc |= pm_ctlmsgtest_add(s, "state-begin-max", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_BEGIN, 0, 2);
	m.u.state_begin.master_sep = '*';
	rc |= pm_ctlmsgtest_add(s, "state-begin-zero", &m);

	memset(hosts, 0, sizeof(hosts));
	hosts[0].addr = pm_ctlmsgtest_addr("198.51.100.1");
	hosts[0].vhosts = 100;
	hosts[1].addr = pm_ctlmsgtest_addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	hosts[1].vhosts = UINT16_MAX;
	hosts[1].down = true;
	hosts[1].last_updown_s = INT64_MAX;
	pm_ctlmsgtest_fill(hosts[1].tag, PM_CTLMSG_TAG_MAX, 0);
	hosts[2].addr = pm_ctlmsgtest_addr("0.0.0.0");
	strcpy(hosts[2].tag, "t");
	rc |= pm_ctlmsgtest_add_chunk(s, "state-hosts", PM_CTLMSG_STATE_HOSTS, 0, 1, false,
				      hosts, NULL, 3, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "state-hosts-empty", PM_CTLMSG_STATE_HOSTS, 0,
				      UINT64_MAX, false, NULL, NULL, 0, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "state-hosts-full", PM_CTLMSG_STATE_HOSTS, 0, 7, false,
				      NULL, NULL, 0, pm_ctlmsgtest_gen_small_host, NULL);

	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_COMMIT, 2, 1);
	rc |= pm_ctlmsgtest_add(s, "state-commit", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_COMMIT, UINT64_MAX, UINT64_MAX);
	rc |= pm_ctlmsgtest_add(s, "state-commit-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 3, 2);
	m.u.host_set.addr = pm_ctlmsgtest_addr("198.51.100.2");
	m.u.host_set.vhosts = 100;
	m.u.host_set.create = true;
	rc |= pm_ctlmsgtest_add(s, "host-set", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 4, UINT64_MAX);
	m.u.host_set.addr = pm_ctlmsgtest_addr("2001:db8::ffff");
	m.u.host_set.vhosts = PM_CTLMSG_VHOSTS_KEEP;
	pm_ctlmsgtest_fill(m.u.host_set.tag, PM_CTLMSG_TAG_MAX, 3);
	rc |= pm_ctlmsgtest_add(s, "host-set-max", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 5, 1);
	m.u.host_set.addr = pm_ctlmsgtest_addr("255.255.255.255");
	strcpy(m.u.host_set.tag, "imap");
	rc |= pm_ctlmsgtest_add(s, "host-set-zero-vhosts", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_UPDOWN, 6, 3);
	m.u.host_updown.addr = pm_ctlmsgtest_addr("198.51.100.3");
	m.u.host_updown.down = true;
	rc |= pm_ctlmsgtest_add(s, "host-updown", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_UPDOWN, 7, 4);
	m.u.host_updown.addr = pm_ctlmsgtest_addr("::1");
	rc |= pm_ctlmsgtest_add(s, "host-updown-up6", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_REMOVE, 8, 5);
	m.u.host_remove.addr = pm_ctlmsgtest_addr("198.51.100.4");
	rc |= pm_ctlmsgtest_add(s, "host-remove", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_REMOVE, 9, 6);
	m.u.host_remove.addr = pm_ctlmsgtest_addr("::ffff:198.51.100.4");
	rc |= pm_ctlmsgtest_add(s, "host-remove-mapped", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_FLUSH, 10, 0);
	rc |= pm_ctlmsgtest_add(s, "host-flush-all", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_FLUSH, 11, 0);
	m.u.host_flush.addr = pm_ctlmsgtest_addr("2001:db8::5");
	rc |= pm_ctlmsgtest_add(s, "host-flush-one", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_RESET_USERS, 12, 0);
	rc |= pm_ctlmsgtest_add(s, "reset-users-all", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_RESET_USERS, 13, 0);
	m.u.reset_users.addr = pm_ctlmsgtest_addr("198.51.100.6");
	m.u.reset_users.max_parallel = UINT32_MAX;
	rc |= pm_ctlmsgtest_add(s, "reset-users-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_MOVE, 14, 0);
	m.u.user_move.user_hash = 617210206u;
	m.u.user_move.addr = pm_ctlmsgtest_addr("198.51.100.7");
	rc |= pm_ctlmsgtest_add(s, "user-move", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_MOVE, 15, 0);
	m.u.user_move.user_hash = UINT32_MAX;
	m.u.user_move.addr = pm_ctlmsgtest_addr("2001:db8::7");
	rc |= pm_ctlmsgtest_add(s, "user-move-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK, 16, 0);
	strcpy(m.u.user_kick.user, "user1@example.com");
	rc |= pm_ctlmsgtest_add(s, "user-kick", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK, 17, 0);
	pm_ctlmsgtest_fill(m.u.user_kick.user, PM_CTLMSG_USER_MAX, 11);
	rc |= pm_ctlmsgtest_add(s, "user-kick-max", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK, 18, 0);
	rc |= pm_ctlmsgtest_add(s, "user-kick-empty", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK_ALT, 19, 0);
	strcpy(m.u.user_kick_alt.field, "user_tenant");
	strcpy(m.u.user_kick_alt.value, "acme");
	rc |= pm_ctlmsgtest_add(s, "user-kick-alt", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_KICK_ALT, 20, 0);
	pm_ctlmsgtest_fill(m.u.user_kick_alt.field, PM_CTLMSG_FIELD_MAX, 1);
	pm_ctlmsgtest_fill(m.u.user_kick_alt.value, PM_CTLMSG_FIELD_MAX, 2);
	rc |= pm_ctlmsgtest_add(s, "user-kick-alt-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_ASSIGN, 21, 0);
	strcpy(m.u.user_assign.user, "User1");
	rc |= pm_ctlmsgtest_add(s, "user-assign", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_ASSIGN, 22, 0);
	pm_ctlmsgtest_fill(m.u.user_assign.user, PM_CTLMSG_USER_MAX, 5);
	pm_ctlmsgtest_fill(m.u.user_assign.tag, PM_CTLMSG_TAG_MAX, 6);
	rc |= pm_ctlmsgtest_add(s, "user-assign-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_LOOKUP, 23, 0);
	m.u.user_lookup.user_hash = 1;
	rc |= pm_ctlmsgtest_add(s, "user-lookup", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_LOOKUP, 24, 0);
	m.u.user_lookup.user_hash = UINT32_MAX;
	pm_ctlmsgtest_fill(m.u.user_lookup.tag, PM_CTLMSG_TAG_MAX, 9);
	rc |= pm_ctlmsgtest_add(s, "user-lookup-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_USER_LIST, 25, 0);
	rc |= pm_ctlmsgtest_add(s, "user-list-all", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_USER_LIST, 26, 0);
	m.u.user_list.addr = pm_ctlmsgtest_addr("198.51.100.8");
	rc |= pm_ctlmsgtest_add(s, "user-list-one", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HOST_LIST, 27, 0);
	rc |= pm_ctlmsgtest_add(s, "host-list", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_STATS, 28, 0);
	rc |= pm_ctlmsgtest_add(s, "stats", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_PING, 29, 0);
	rc |= pm_ctlmsgtest_add(s, "ping", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_COUNTERS, 30, 0);
	rc |= pm_ctlmsgtest_add(s, "counters", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_HELLO_ACK, 1, 0);
	m.u.hello_ack.pid = 4343;
	m.u.hello_ack.version = 1;
	for (i = 0; i < PM_CTLMSG_BOOT_ID_LEN; i++)
		m.u.hello_ack.boot_id[i] = (uint8_t)(0xa0 + i);
	rc |= pm_ctlmsgtest_add(s, "hello-ack", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_HELLO_ACK, UINT64_MAX, UINT64_MAX);
	m.u.hello_ack.pid = UINT32_MAX;
	m.u.hello_ack.version = UINT16_MAX;
	m.u.hello_ack.has_pins = true;
	memset(m.u.hello_ack.boot_id, 0xff, PM_CTLMSG_BOOT_ID_LEN);
	rc |= pm_ctlmsgtest_add(s, "hello-ack-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 2, 1);
	m.u.reply.req_type = PM_CTLMSG_STATE_COMMIT;
	rc |= pm_ctlmsgtest_add(s, "reply-state-commit", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 3, 1);
	m.u.reply.req_type = PM_CTLMSG_HOST_SET;
	m.u.reply.status = -E2BIG;
	strcpy(m.u.reply.reason, "vhost count too large");
	rc |= pm_ctlmsgtest_add(s, "reply-host-set-error", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, UINT64_MAX, UINT64_MAX);
	m.u.reply.req_type = PM_CTLMSG_STATE_COMMIT;
	m.u.reply.status = -4095;
	pm_ctlmsgtest_fill(m.u.reply.reason, PM_CTLMSG_REASON_MAX, 4);
	rc |= pm_ctlmsgtest_add(s, "reply-error-max", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 21, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_ASSIGN;
	m.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_PINNED;
	m.u.reply.body.user_assign.addr = pm_ctlmsgtest_addr("198.51.100.9");
	m.u.reply.body.user_assign.expire_s = 1700000900u;
	rc |= pm_ctlmsgtest_add(s, "reply-user-assign-pinned", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 21, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_ASSIGN;
	m.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_HASHED;
	m.u.reply.body.user_assign.addr = pm_ctlmsgtest_addr("2001:db8::9");
	m.u.reply.body.user_assign.expire_s = UINT32_MAX;
	rc |= pm_ctlmsgtest_add(s, "reply-user-assign-hashed6", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 21, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_ASSIGN;
	m.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_WAIT;
	rc |= pm_ctlmsgtest_add(s, "reply-user-assign-wait", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 21, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_ASSIGN;
	m.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_NOHOST;
	rc |= pm_ctlmsgtest_add(s, "reply-user-assign-nohost", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 23, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_LOOKUP;
	m.u.reply.body.user_lookup.cur = pm_ctlmsgtest_addr("2001:db8::a");
	m.u.reply.body.user_lookup.expire_s = UINT32_MAX;
	m.u.reply.body.user_lookup.pin_flags = PM_CTLMSG_PIN_WEAK | PM_CTLMSG_PIN_MOVING;
	m.u.reply.body.user_lookup.hashed = pm_ctlmsgtest_addr("198.51.100.10");
	rc |= pm_ctlmsgtest_add(s, "reply-user-lookup", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 24, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_LOOKUP;
	rc |= pm_ctlmsgtest_add(s, "reply-user-lookup-none", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 10, 1);
	m.u.reply.req_type = PM_CTLMSG_HOST_FLUSH;
	m.u.reply.body.host_flush.forgotten = UINT64_MAX;
	rc |= pm_ctlmsgtest_add(s, "reply-host-flush", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 12, 1);
	m.u.reply.req_type = PM_CTLMSG_RESET_USERS;
	rc |= pm_ctlmsgtest_add(s, "reply-reset-users", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 14, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_MOVE;
	m.u.reply.status = -EAGAIN;
	rc |= pm_ctlmsgtest_add(s, "reply-user-move-tryagain", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 26, 1);
	m.u.reply.req_type = PM_CTLMSG_USER_LIST;
	m.u.reply.status = -ENOENT;
	strcpy(m.u.reply.reason, "host not found");
	rc |= pm_ctlmsgtest_add(s, "reply-user-list-error", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 27, 1);
	m.u.reply.req_type = PM_CTLMSG_HOST_LIST;
	m.u.reply.status = -ENOMEM;
	rc |= pm_ctlmsgtest_add(s, "reply-host-list-error", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_REPLY, 30, 1);
	m.u.reply.req_type = PM_CTLMSG_COUNTERS;
	m.u.reply.status = -ENOMEM;
	strcpy(m.u.reply.reason, "out of memory listing counters");
	rc |= pm_ctlmsgtest_add(s, "reply-counters-error", &m);

	memset(users, 0, sizeof(users));
	users[0].user_hash = 617210206u;
	users[0].expire_s = 1700000900u;
	users[0].addr = pm_ctlmsgtest_addr("198.51.100.11");
	users[1].user_hash = UINT32_MAX;
	users[1].expire_s = UINT32_MAX;
	users[1].addr = pm_ctlmsgtest_addr("2001:db8::b");
	users[1].tag_index = UINT16_MAX;
	users[1].pin_flags = PM_CTLMSG_PIN_WEAK | PM_CTLMSG_PIN_MOVING;
	rc |= pm_ctlmsgtest_add_chunk(s, "user-list-part", PM_CTLMSG_USER_LIST_PART, 25, 1,
				      false, NULL, users, 2, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "user-list-part-empty-last", PM_CTLMSG_USER_LIST_PART,
				      25, 1, true, NULL, NULL, 0, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "user-list-part-full-last", PM_CTLMSG_USER_LIST_PART,
				      UINT64_MAX, UINT64_MAX, true, NULL, NULL, 0, NULL,
				      pm_ctlmsgtest_gen_user);

	memset(hosts, 0, sizeof(hosts));
	hosts[0].addr = pm_ctlmsgtest_addr("198.51.100.12");
	hosts[0].vhosts = 100;
	hosts[0].user_count = 187;
	hosts[1].addr = pm_ctlmsgtest_addr("2001:db8::c");
	hosts[1].down = true;
	hosts[1].last_updown_s = 1795896423;
	hosts[1].tag_index = 1;
	strcpy(hosts[1].tag, "pop");
	rc |= pm_ctlmsgtest_add_chunk(s, "host-list-part-last", PM_CTLMSG_HOST_LIST_PART, 27, 1,
				      true, hosts, NULL, 2, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "host-list-part-empty", PM_CTLMSG_HOST_LIST_PART, 27, 0,
				      false, NULL, NULL, 0, NULL, NULL);
	rc |= pm_ctlmsgtest_add_chunk(s, "host-list-part-full", PM_CTLMSG_HOST_LIST_PART, 27, 1,
				      false, NULL, NULL, 0, pm_ctlmsgtest_gen_big_host_info,
				      NULL);

	pm_ctlmsg_init(&m, PM_CTLMSG_STATS_REPLY, 28, 1);
	m.u.stats.pins = 65536;
	m.u.stats.moving = 3;
	m.u.stats.jobs = 1;
	m.u.stats.rings_published = 42;
	m.u.stats.pins_expired = 7;
	m.u.stats.moves_started = 187;
	m.u.stats.kicks = 9;
	m.u.stats.pin_buckets = 131072;
	rc |= pm_ctlmsgtest_add(s, "stats-reply", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_STATS_REPLY, 28, 0);
	memset(&m.u.stats, 0xff, sizeof(m.u.stats));
	rc |= pm_ctlmsgtest_add(s, "stats-reply-max", &m);

	pm_ctlmsg_init(&m, PM_CTLMSG_PONG, 29, 5);
	rc |= pm_ctlmsgtest_add(s, "pong", &m);

	memset(counters, 0, sizeof(counters));
	strcpy(counters[0].name, "director.pins");
	counters[0].value = 1;
	strcpy(counters[1].name, "port.client.rx_packets");
	counters[1].value = 0x0102030405060708ull;
	strcpy(counters[2].name, "lcore.0.drop.IP_CSUM");
	rc |= pm_ctlmsgtest_add_counters(s, "counters-part", 30, 1, false, counters, 3, NULL);
	rc |= pm_ctlmsgtest_add_counters(s, "counters-part-empty-last", 30, 0, true, NULL, 0,
					 NULL);
	rc |= pm_ctlmsgtest_add_counters(s, "counters-part-full-last", UINT64_MAX, UINT64_MAX,
					 true, NULL, 0, pm_ctlmsgtest_gen_long_counter);
	rc |= pm_ctlmsgtest_add_counters(s, "counters-part-full-short", 31, 2, false, NULL, 0,
					 pm_ctlmsgtest_gen_short_counter);

	pm_ctlmsg_init(&m, PM_CTLMSG_ERROR, 0, 0);
	m.u.error.code = PM_CTLMSG_ERR_BUSY;
	strcpy(m.u.error.reason, "another data plane is connected");
	rc |= pm_ctlmsgtest_add(s, "error", &m);
	pm_ctlmsg_init(&m, PM_CTLMSG_ERROR, UINT64_MAX, UINT64_MAX);
	m.u.error.code = UINT16_MAX;
	pm_ctlmsgtest_fill(m.u.error.reason, PM_CTLMSG_REASON_MAX, 8);
	rc |= pm_ctlmsgtest_add(s, "error-max", &m);

	return rc == 0 ? 0 : -1;
}

#endif
