/*
 * ctlmsg_diff.h -- structural comparison of two decoded control messages.
 *
 * Test code only (tests/unit/test_ctlmsg.c and tests/fuzz/fuzz_ctlmsg.c).
 * It compares what a message means, field by field, and walks chunk entries
 * through the iterators, so it also holds for two messages decoded from
 * different buffers. Fields a type does not use are not compared (REPLY's
 * reason on success, its body on failure). Addresses compare all 17 bytes,
 * so a codec that leaked padding would show up.
 */
#ifndef PM_CTLMSG_DIFF_H
#define PM_CTLMSG_DIFF_H

#include <string.h>

#include "ctlmsg.h"

static inline bool
pm_ctlmsgtest_addr_same(const struct pm_addr *a, const struct pm_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

static inline const char *
pm_ctlmsgtest_host_diff(const struct pm_ctlmsg_host *a, const struct pm_ctlmsg_host *b)
{
	if (!pm_ctlmsgtest_addr_same(&a->addr, &b->addr))
		return "host entry addr";
	if (a->vhosts != b->vhosts || a->down != b->down)
		return "host entry vhosts/down";
	if (a->last_updown_s != b->last_updown_s)
		return "host entry last_updown_s";
	if (a->user_count != b->user_count || a->tag_index != b->tag_index)
		return "host entry user_count/tag_index";
	if (strcmp(a->tag, b->tag) != 0)
		return "host entry tag";
	return NULL;
}

static inline const char *
pm_ctlmsgtest_user_diff(const struct pm_ctlmsg_user *a, const struct pm_ctlmsg_user *b)
{
	if (a->user_hash != b->user_hash || a->expire_s != b->expire_s)
		return "user entry hash/expire";
	if (!pm_ctlmsgtest_addr_same(&a->addr, &b->addr))
		return "user entry addr";
	if (a->tag_index != b->tag_index || a->pin_flags != b->pin_flags)
		return "user entry tag_index/flags";
	return NULL;
}

static inline const char *
pm_ctlmsgtest_counter_diff(const struct pm_ctlmsg_counter *a, const struct pm_ctlmsg_counter *b)
{
	if (strcmp(a->name, b->name) != 0)
		return "counter entry name";
	if (a->value != b->value)
		return "counter entry value";
	return NULL;
}

static inline const char *
pm_ctlmsgtest_chunk_diff(const struct pm_ctlmsg *a, const struct pm_ctlmsg *b)
{
	struct pm_ctlmsg_iter ia, ib;
	struct pm_ctlmsg_host ha, hb;
	struct pm_ctlmsg_user ua, ub;
	struct pm_ctlmsg_counter ka, kb;
	const char *d;
	uint32_t n = 0;

	if (a->u.chunk.count != b->u.chunk.count)
		return "chunk count";
	pm_ctlmsg_iter_init(&ia, a);
	pm_ctlmsg_iter_init(&ib, b);
	if (a->type == PM_CTLMSG_USER_LIST_PART) {
		for (;;) {
			bool more_a = pm_ctlmsg_iter_user(&ia, &ua);
			bool more_b = pm_ctlmsg_iter_user(&ib, &ub);

			if (more_a != more_b)
				return "chunk entry count";
			if (!more_a)
				break;
			n++;
			if ((d = pm_ctlmsgtest_user_diff(&ua, &ub)) != NULL)
				return d;
		}
	} else if (a->type == PM_CTLMSG_COUNTERS_PART) {
		for (;;) {
			bool more_a = pm_ctlmsg_iter_counter(&ia, &ka);
			bool more_b = pm_ctlmsg_iter_counter(&ib, &kb);

			if (more_a != more_b)
				return "chunk entry count";
			if (!more_a)
				break;
			n++;
			if ((d = pm_ctlmsgtest_counter_diff(&ka, &kb)) != NULL)
				return d;
		}
	} else {
		for (;;) {
			bool more_a = pm_ctlmsg_iter_host(&ia, &ha);
			bool more_b = pm_ctlmsg_iter_host(&ib, &hb);

			if (more_a != more_b)
				return "chunk entry count";
			if (!more_a)
				break;
			n++;
			if ((d = pm_ctlmsgtest_host_diff(&ha, &hb)) != NULL)
				return d;
		}
	}
	return n == a->u.chunk.count ? NULL : "chunk iterated count";
}

static inline const char *
pm_ctlmsgtest_reply_diff(const struct pm_ctlmsg_reply *a, const struct pm_ctlmsg_reply *b)
{
	if (a->req_type != b->req_type || a->status != b->status)
		return "reply req_type/status";
	if (a->status < 0)
		return strcmp(a->reason, b->reason) == 0 ? NULL : "reply reason";
	switch (a->req_type) {
	case PM_CTLMSG_USER_ASSIGN:
		if (a->body.user_assign.result != b->body.user_assign.result ||
		    a->body.user_assign.expire_s != b->body.user_assign.expire_s ||
		    !pm_ctlmsgtest_addr_same(&a->body.user_assign.addr, &b->body.user_assign.addr))
			return "reply user_assign";
		break;
	case PM_CTLMSG_USER_LOOKUP:
		if (!pm_ctlmsgtest_addr_same(&a->body.user_lookup.cur, &b->body.user_lookup.cur) ||
		    a->body.user_lookup.expire_s != b->body.user_lookup.expire_s ||
		    a->body.user_lookup.pin_flags != b->body.user_lookup.pin_flags ||
		    !pm_ctlmsgtest_addr_same(&a->body.user_lookup.hashed,
					     &b->body.user_lookup.hashed))
			return "reply user_lookup";
		break;
	case PM_CTLMSG_HOST_FLUSH:
		if (a->body.host_flush.forgotten != b->body.host_flush.forgotten)
			return "reply host_flush";
		break;
	default:
		break;
	}
	return NULL;
}

/* NULL if @a and @b mean the same message, else the first field that differs. */
static inline const char *
pm_ctlmsgtest_diff(const struct pm_ctlmsg *a, const struct pm_ctlmsg *b)
{
	if (a->type != b->type)
		return "type";
	if (a->flags != b->flags)
		return "flags";
	if (a->request_id != b->request_id)
		return "request_id";
	if (a->generation != b->generation)
		return "generation";
	switch (a->type) {
	case PM_CTLMSG_HELLO:
		if (a->u.hello.pid != b->u.hello.pid ||
		    a->u.hello.proto_min != b->u.hello.proto_min ||
		    a->u.hello.proto_max != b->u.hello.proto_max ||
		    memcmp(a->u.hello.boot_id, b->u.hello.boot_id, PM_CTLMSG_BOOT_ID_LEN) != 0)
			return "hello";
		return NULL;
	case PM_CTLMSG_HELLO_ACK:
		if (a->u.hello_ack.pid != b->u.hello_ack.pid ||
		    a->u.hello_ack.version != b->u.hello_ack.version ||
		    a->u.hello_ack.has_pins != b->u.hello_ack.has_pins ||
		    memcmp(a->u.hello_ack.boot_id, b->u.hello_ack.boot_id,
			   PM_CTLMSG_BOOT_ID_LEN) != 0)
			return "hello_ack";
		return NULL;
	case PM_CTLMSG_STATE_BEGIN: {
		const struct pm_ctlmsg_state_begin *x = &a->u.state_begin, *y = &b->u.state_begin;

		if (x->user_expire_s != y->user_expire_s || x->kick_delay_ms != y->kick_delay_ms ||
		    x->max_parallel_moves != y->max_parallel_moves ||
		    x->max_parallel_kicks != y->max_parallel_kicks || x->nhosts != y->nhosts ||
		    x->master_sep != y->master_sep ||
		    strcmp(x->hash_template, y->hash_template) != 0)
			return "state_begin";
		return NULL;
	}
	case PM_CTLMSG_STATE_HOSTS:
	case PM_CTLMSG_USER_LIST_PART:
	case PM_CTLMSG_HOST_LIST_PART:
	case PM_CTLMSG_COUNTERS_PART:
		return pm_ctlmsgtest_chunk_diff(a, b);
	case PM_CTLMSG_HOST_SET:
		if (!pm_ctlmsgtest_addr_same(&a->u.host_set.addr, &b->u.host_set.addr) ||
		    a->u.host_set.vhosts != b->u.host_set.vhosts ||
		    a->u.host_set.create != b->u.host_set.create ||
		    strcmp(a->u.host_set.tag, b->u.host_set.tag) != 0)
			return "host_set";
		return NULL;
	case PM_CTLMSG_HOST_UPDOWN:
		if (!pm_ctlmsgtest_addr_same(&a->u.host_updown.addr, &b->u.host_updown.addr) ||
		    a->u.host_updown.down != b->u.host_updown.down)
			return "host_updown";
		return NULL;
	case PM_CTLMSG_HOST_REMOVE:
	case PM_CTLMSG_HOST_FLUSH:
	case PM_CTLMSG_USER_LIST:
		/* The three share struct pm_ctlmsg_hostref at the same place. */
		return pm_ctlmsgtest_addr_same(&a->u.host_remove.addr, &b->u.host_remove.addr)
			       ? NULL : "host address";
	case PM_CTLMSG_RESET_USERS:
		if (!pm_ctlmsgtest_addr_same(&a->u.reset_users.addr, &b->u.reset_users.addr) ||
		    a->u.reset_users.max_parallel != b->u.reset_users.max_parallel)
			return "reset_users";
		return NULL;
	case PM_CTLMSG_USER_MOVE:
		if (a->u.user_move.user_hash != b->u.user_move.user_hash ||
		    !pm_ctlmsgtest_addr_same(&a->u.user_move.addr, &b->u.user_move.addr))
			return "user_move";
		return NULL;
	case PM_CTLMSG_USER_KICK:
		return strcmp(a->u.user_kick.user, b->u.user_kick.user) == 0 ? NULL : "user_kick";
	case PM_CTLMSG_USER_KICK_ALT:
		if (strcmp(a->u.user_kick_alt.field, b->u.user_kick_alt.field) != 0 ||
		    strcmp(a->u.user_kick_alt.value, b->u.user_kick_alt.value) != 0)
			return "user_kick_alt";
		return NULL;
	case PM_CTLMSG_USER_ASSIGN:
		if (strcmp(a->u.user_assign.user, b->u.user_assign.user) != 0 ||
		    strcmp(a->u.user_assign.tag, b->u.user_assign.tag) != 0)
			return "user_assign";
		return NULL;
	case PM_CTLMSG_USER_LOOKUP:
		if (a->u.user_lookup.user_hash != b->u.user_lookup.user_hash ||
		    strcmp(a->u.user_lookup.tag, b->u.user_lookup.tag) != 0)
			return "user_lookup";
		return NULL;
	case PM_CTLMSG_REPLY:
		return pm_ctlmsgtest_reply_diff(&a->u.reply, &b->u.reply);
	case PM_CTLMSG_STATS_REPLY:
		return memcmp(&a->u.stats, &b->u.stats, sizeof(a->u.stats)) == 0 ? NULL
										  : "stats";
	case PM_CTLMSG_ERROR:
		if (a->u.error.code != b->u.error.code ||
		    strcmp(a->u.error.reason, b->u.error.reason) != 0)
			return "error";
		return NULL;
	default:
		return NULL;	/* header only */
	}
}

#endif
