/*
 * test_ctl.c -- the data plane's control-channel handler (dataplane/ctl.c)
 * driven with encoded datagrams on simulated time, as postmux-control would
 * drive it (docs/control-channel.md): the handshake, full states (and again
 * after a reconnect), every request and its answer, deferred RESET_USERS
 * answers, chunked lists (pins, hosts, counters), back-pressure, and every
 * refusal.
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
#include <urcu/urcu-qsbr.h>

#include "ctl.h"
#include "ctlmsg.h"
#include "log.h"
#include "testaddr.h"

#define T0_MS 1800000000000ull	/* some time in 2027, in unix ms */

struct dgram {
	uint8_t *buf;
	size_t len;
};

struct fx {
	struct pm_ctl *c;
	uint64_t now;
	uint64_t next_id;
	int send_rc;			/* what the send callback answers */
	struct dgram *out;
	size_t nout, cap;
};

/* Error records logged, to check that each close is logged exactly once. */
static unsigned int log_errors;
static char log_last[1024];
static char log_warn_last[1024];

static void
log_sink(void *arg, enum pm_log_level level, const char *text)
{
	(void)arg;
	if (level == PM_LOG_ERR) {
		log_errors++;
		snprintf(log_last, sizeof(log_last), "%s", text);
	}
	if (level == PM_LOG_WARN)
		snprintf(log_warn_last, sizeof(log_warn_last), "%s", text);
}

static int
on_send(void *arg, const void *buf, size_t len)
{
	struct fx *f = arg;
	struct pm_ctlmsg m;

	if (f->send_rc < 0)
		return f->send_rc;
	/* Everything the data plane sends decodes and goes to control. */
	assert_int_equal(pm_ctlmsg_decode(&m, buf, len), 0);
	assert_true(pm_ctlmsg_direction(m.type) & PM_CTLMSG_TO_CONTROL);
	if (f->nout == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->out = realloc(f->out, f->cap * sizeof(*f->out));
		assert_non_null(f->out);
	}
	f->out[f->nout].buf = malloc(len);
	assert_non_null(f->out[f->nout].buf);
	memcpy(f->out[f->nout].buf, buf, len);
	f->out[f->nout].len = len;
	f->nout++;
	return f->send_rc;
}

static void
out_clear(struct fx *f)
{
	size_t i;

	for (i = 0; i < f->nout; i++)
		free(f->out[i].buf);
	f->nout = 0;
}

/* Decode output datagram @i (it stays valid until out_clear()). */
static void
out_msg(struct fx *f, size_t i, struct pm_ctlmsg *m)
{
	assert_true(i < f->nout);
	assert_int_equal(pm_ctlmsg_decode(m, f->out[i].buf, f->out[i].len), 0);
}

/* A fresh module for @f, with the counters callback @fn (NULL: none). */
static struct pm_ctl *
new_ctl(struct fx *f, pm_ctl_counters_fn fn, void *arg)
{
	struct pm_ctl_params p;

	memset(&p, 0, sizeof(p));
	pm_director_config_defaults(&p.director);
	p.pid = 4242;
	memset(p.boot_id, 0xb0, sizeof(p.boot_id));
	p.send = on_send;
	p.send_arg = f;
	p.counters = fn;
	p.counters_arg = arg;
	return pm_ctl_new(&p);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->c = new_ctl(f, NULL, NULL);
	assert_non_null(f->c);
	f->now = T0_MS;
	f->next_id = 1;
	log_errors = 0;
	log_last[0] = '\0';
	log_warn_last[0] = '\0';
	pm_log_set_sink(log_sink, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pm_ctl_free(f->c);
	out_clear(f);
	free(f->out);
	free(f);
	pm_log_set_sink(NULL, NULL);
	return 0;
}

/* ---- feeding -------------------------------------------------------------------- */

static enum pm_ctl_rc
feed_raw(struct fx *f, const void *buf, size_t len)
{
	return pm_ctl_input(f->c, buf, len, f->now);
}

static enum pm_ctl_rc
feed(struct fx *f, const struct pm_ctlmsg *m)
{
	uint8_t buf[PM_CTLMSG_MAX];
	int len = pm_ctlmsg_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	return feed_raw(f, buf, (size_t)len);
}

/* A request of @type with a fresh id (generation @gen), body zeroed. */
static struct pm_ctlmsg
req(struct fx *f, uint16_t type, uint64_t gen)
{
	struct pm_ctlmsg m;

	pm_ctlmsg_init(&m, type, f->next_id++, gen);
	return m;
}

/* Feed @m, expect exactly one answer, decode it into @a. */
static void
call(struct fx *f, const struct pm_ctlmsg *m, struct pm_ctlmsg *a)
{
	out_clear(f);
	assert_int_equal(feed(f, m), PM_CTL_OK);
	assert_int_equal(f->nout, 1);
	out_msg(f, 0, a);
	assert_int_equal(a->request_id, m->request_id);
}

/* A REPLY to @m with @status expected. */
static void
call_reply(struct fx *f, const struct pm_ctlmsg *m, int status, struct pm_ctlmsg *a)
{
	call(f, m, a);
	assert_int_equal(a->type, PM_CTLMSG_REPLY);
	assert_int_equal(a->u.reply.req_type, m->type);
	assert_int_equal(a->u.reply.status, status);
}

/* The ERROR the last input produced, after which the handler wants out. */
static void
expect_error(struct fx *f, enum pm_ctl_rc rc, uint16_t code, uint64_t reqid, const char *reason)
{
	struct pm_ctlmsg a;

	assert_int_equal(rc, PM_CTL_CLOSE);
	assert_int_equal(f->nout, 1);
	out_msg(f, 0, &a);
	assert_int_equal(a.type, PM_CTLMSG_ERROR);
	assert_int_equal(a.u.error.code, code);
	assert_int_equal(a.request_id, reqid);
	if (reason != NULL && strstr(a.u.error.reason, reason) == NULL)
		fail_msg("ERROR reason '%s' lacks '%s'", a.u.error.reason, reason);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_CLOSED);
	/* Logged once; afterwards nothing more is sent or logged. */
	assert_int_equal(log_errors, 1);
	out_clear(f);
	assert_int_equal(feed(f, &(struct pm_ctlmsg){ .type = PM_CTLMSG_PING,
						     .request_id = 99 }), PM_CTL_CLOSE);
	assert_int_equal(f->nout, 0);
	assert_int_equal(log_errors, 1);
}

static void
hello(struct fx *f, bool has_pins, uint64_t applied)
{
	struct pm_ctlmsg m = req(f, PM_CTLMSG_HELLO, 0), a;

	m.u.hello.pid = 77;
	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = 1;
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_HELLO_ACK);
	assert_int_equal(a.u.hello_ack.version, 1);
	assert_int_equal(a.u.hello_ack.pid, 4242);
	assert_int_equal(a.u.hello_ack.has_pins, has_pins);
	assert_int_equal(a.generation, applied);
	assert_int_equal(a.u.hello_ack.boot_id[0], 0xb0);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_READY);
}

struct host_spec {
	const char *addr;
	const char *tag;
	uint16_t vhosts;
	bool down;
	int64_t last_updown_s;
};

static struct pm_ctlmsg
state_begin(uint64_t gen, uint32_t nhosts, const char *tmpl)
{
	struct pm_ctlmsg m;

	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_BEGIN, 0, gen);
	m.u.state_begin.user_expire_s = 900;
	m.u.state_begin.kick_delay_ms = 2000;
	m.u.state_begin.max_parallel_moves = 100;
	m.u.state_begin.max_parallel_kicks = 100;
	m.u.state_begin.nhosts = nhosts;
	snprintf(m.u.state_begin.hash_template, sizeof(m.u.state_begin.hash_template), "%s",
		 tmpl);
	return m;
}

/* Send @n hosts as STATE_HOSTS chunks of generation @gen, each as full as
 * the datagram allows. */
static void
state_hosts(struct fx *f, uint64_t gen, const struct pm_ctlmsg_host *h, size_t n)
{
	uint8_t buf[PM_CTLMSG_MAX];
	struct pm_ctlmsg_writer w;
	size_t i = 0;
	int len;

	while (i < n) {
		assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf),
						       PM_CTLMSG_STATE_HOSTS, 0, gen), 0);
		while (i < n && pm_ctlmsg_chunk_add_host(&w, &h[i]) == 0)
			i++;
		len = pm_ctlmsg_chunk_finish(&w, false);
		assert_true(len > 0);
		assert_int_equal(feed_raw(f, buf, (size_t)len), PM_CTL_OK);
	}
}

static struct pm_ctlmsg_host
host_entry(const struct host_spec *s)
{
	struct pm_ctlmsg_host h;

	memset(&h, 0, sizeof(h));
	h.addr = ip(s->addr);
	h.vhosts = s->vhosts;
	h.down = s->down;
	h.last_updown_s = s->last_updown_s;
	snprintf(h.tag, sizeof(h.tag), "%s", s->tag != NULL ? s->tag : "");
	return h;
}

/* A whole state; returns the REPLY to its commit. */
static struct pm_ctlmsg
send_state(struct fx *f, uint64_t gen, const struct host_spec *spec, size_t n, const char *tmpl)
{
	struct pm_ctlmsg_host h[16];
	struct pm_ctlmsg m = state_begin(gen, (uint32_t)n, tmpl), a;
	size_t i;

	assert_true(n <= 16);
	for (i = 0; i < n; i++)
		h[i] = host_entry(&spec[i]);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_STATE);
	state_hosts(f, gen, h, n);
	assert_int_equal(f->nout, 0);	/* nothing is answered before the commit */
	m = req(f, PM_CTLMSG_STATE_COMMIT, gen);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_REPLY);
	assert_int_equal(a.u.reply.req_type, PM_CTLMSG_STATE_COMMIT);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_READY);
	return a;
}

static const struct host_spec five[] = {
	{ "10.0.0.1", "", 100, false, 0 },
	{ "10.0.0.2", "", 100, false, 0 },
	{ "10.0.0.3", "", 100, false, 0 },
	{ "10.0.0.4", "", 100, false, 0 },
	{ "10.0.0.5", "", 100, false, 0 },
};

/* HELLO and the five-host state of generation 1. */
static void
ready(struct fx *f)
{
	struct pm_ctlmsg a;

	hello(f, false, 0);
	a = send_state(f, 1, five, 5, "%Lu");
	assert_int_equal(a.u.reply.status, 0);
	assert_int_equal(a.generation, 1);
	out_clear(f);
}

/* USER_ASSIGN @user in @tag; returns the result, the host in @host. */
static uint8_t
assign(struct fx *f, const char *user, const char *tag, const char **host, uint32_t *expire)
{
	struct pm_ctlmsg m = req(f, PM_CTLMSG_USER_ASSIGN, 0), a;

	snprintf(m.u.user_assign.user, sizeof(m.u.user_assign.user), "%s", user);
	snprintf(m.u.user_assign.tag, sizeof(m.u.user_assign.tag), "%s", tag);
	call_reply(f, &m, 0, &a);
	*host = ipstr(&a.u.reply.body.user_assign.addr);
	if (expire != NULL)
		*expire = a.u.reply.body.user_assign.expire_s;
	return a.u.reply.body.user_assign.result;
}

static uint32_t
uh(struct fx *f, const char *user)
{
	return pm_director_hash(pm_ctl_director(f->c), user, strlen(user));
}

/* USER_LOOKUP: the pinned host ("" if none) and the ring's choice. */
static const char *
lookup(struct fx *f, const char *user, const char *tag, const char **hashed, uint8_t *flags)
{
	struct pm_ctlmsg m = req(f, PM_CTLMSG_USER_LOOKUP, 0), a;

	m.u.user_lookup.user_hash = uh(f, user);
	snprintf(m.u.user_lookup.tag, sizeof(m.u.user_lookup.tag), "%s", tag);
	call_reply(f, &m, 0, &a);
	if (hashed != NULL)
		*hashed = ipstr(&a.u.reply.body.user_lookup.hashed);
	if (flags != NULL)
		*flags = a.u.reply.body.user_lookup.pin_flags;
	return ipstr(&a.u.reply.body.user_lookup.cur);
}

/* Advance simulated time in steps, ticking as the data plane's loop does. */
static void
advance(struct fx *f, uint64_t ms)
{
	uint64_t end = f->now + ms;
	enum pm_ctl_rc rc;

	while (f->now < end) {
		uint64_t next = pm_ctl_tick(f->c, f->now, &rc);

		assert_int_equal(rc, PM_CTL_OK);
		f->now = next < end && next > f->now ? next : end;
	}
	pm_ctl_tick(f->c, f->now, &rc);
	assert_int_equal(rc, PM_CTL_OK);
}

/* ---- handshake ------------------------------------------------------------------- */

static void
test_ctl_hello_is_answered_with_ack(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = req(f, PM_CTLMSG_HELLO, 0), a;

	assert_int_equal(pm_ctl_state(f->c), PM_CTL_HELLO);
	/* Control offering 1..3: the data plane picks the highest it speaks. */
	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = 3;
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_HELLO_ACK);
	assert_int_equal(a.u.hello_ack.version, 1);
	assert_false(a.u.hello_ack.has_pins);
	assert_int_equal(a.generation, 0);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_READY);
	/* Requests may come before any state: PING works. */
	m = req(f, PM_CTLMSG_PING, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	assert_int_equal(log_errors, 0);
}

static void
test_ctl_hello_without_common_version_is_error_version(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = req(f, PM_CTLMSG_HELLO, 0);

	m.u.hello.proto_min = 2;
	m.u.hello.proto_max = 3;
	expect_error(f, feed(f, &m), PM_CTLMSG_ERR_VERSION, m.request_id,
		     "control speaks 2..3, data plane 1..1");
}

static void
test_ctl_other_header_version_is_error_version(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = req(f, PM_CTLMSG_PING, 0);
	uint8_t buf[64];
	int len = pm_ctlmsg_encode(&m, buf, sizeof(buf));

	hello(f, false, 0);
	out_clear(f);
	buf[4] = 2;	/* header version 2 */
	expect_error(f, feed_raw(f, buf, (size_t)len), PM_CTLMSG_ERR_VERSION, m.request_id,
		     "unsupported protocol version 2 (PING, request");
}

static void
test_ctl_truncated_datagram_is_malformed(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = req(f, PM_CTLMSG_HOST_SET, 1);
	uint8_t buf[128];
	char want[64];
	int len;

	hello(f, false, 0);
	out_clear(f);
	m.u.host_set.addr = ip("10.0.0.1");
	m.u.host_set.vhosts = 10;
	len = pm_ctlmsg_encode(&m, buf, sizeof(buf));
	assert_true(len > 40);
	/* Cut the body short and patch the length field to match. */
	buf[12] = (uint8_t)(len - 5);
	snprintf(want, sizeof(want), "truncated or length mismatch (HOST_SET, request %llu)",
		 (unsigned long long)m.request_id);
	expect_error(f, feed_raw(f, buf, (size_t)len - 5), PM_CTLMSG_ERR_MALFORMED,
		     m.request_id, want);
}

static void
test_ctl_garbage_and_oversize_are_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t *big = calloc(1, PM_CTLMSG_MAX + 1);
	struct pm_ctlmsg m = req(f, PM_CTLMSG_PING, 0);

	/* Shorter than a header: no request id to echo. */
	expect_error(f, feed_raw(f, "PMXC", 4), PM_CTLMSG_ERR_MALFORMED, 0, "truncated");
	/* A datagram the socket saw longer than 64 KiB (MSG_TRUNC). */
	pm_ctl_restart(f->c);
	log_errors = 0;
	assert_non_null(big);
	assert_int_equal(pm_ctlmsg_encode(&m, big, PM_CTLMSG_MAX), PM_CTLMSG_HDR_LEN);
	expect_error(f, feed_raw(f, big, PM_CTLMSG_MAX + 1), PM_CTLMSG_ERR_MALFORMED,
		     m.request_id, "datagram too large");
	free(big);
}

static void
test_ctl_request_before_hello_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = req(f, PM_CTLMSG_PING, 0);

	expect_error(f, feed(f, &m), PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
		     "PING before HELLO");
}

static void
test_ctl_second_hello_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m;

	hello(f, false, 0);
	out_clear(f);
	m = req(f, PM_CTLMSG_HELLO, 0);
	m.u.hello.proto_min = m.u.hello.proto_max = 1;
	expect_error(f, feed(f, &m), PM_CTLMSG_ERR_UNEXPECTED, m.request_id, "a second HELLO");
}

static void
test_ctl_message_for_control_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m;

	hello(f, false, 0);
	out_clear(f);
	m = req(f, PM_CTLMSG_REPLY, 0);
	m.u.reply.req_type = PM_CTLMSG_USER_KICK;
	expect_error(f, feed(f, &m), PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
		     "REPLY is sent by the data plane");
}

static void
test_ctl_error_received_closes_silently(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m;

	hello(f, false, 0);
	out_clear(f);
	pm_ctlmsg_init(&m, PM_CTLMSG_ERROR, 0, 0);
	m.u.error.code = PM_CTLMSG_ERR_BUSY;
	snprintf(m.u.error.reason, sizeof(m.u.error.reason), "another data plane is connected");
	assert_int_equal(feed(f, &m), PM_CTL_CLOSE);
	assert_int_equal(f->nout, 0);
	assert_int_equal(log_errors, 1);
	assert_non_null(strstr(log_last, "ERROR BUSY: another data plane is connected"));
	/* A new connection starts over with HELLO. */
	pm_ctl_restart(f->c);
	hello(f, false, 0);
	/* An unknown code is logged as a number; the peer's text cannot
	 * break the record into two lines. */
	m.u.error.code = 99;
	snprintf(m.u.error.reason, sizeof(m.u.error.reason), "first\nsecond");
	assert_int_equal(feed(f, &m), PM_CTL_CLOSE);
	assert_non_null(strstr(log_last, "ERROR 99: first?second"));
}

static void
test_ctl_failed_send_closes(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m;

	hello(f, false, 0);
	out_clear(f);
	f->send_rc = -ENOBUFS;
	m = req(f, PM_CTLMSG_PING, 0);
	assert_int_equal(feed(f, &m), PM_CTL_CLOSE);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_CLOSED);
	/* The send callback's owner knows why, and logs it. */
	assert_int_equal(log_errors, 0);
	assert_int_equal(feed(f, &m), PM_CTL_CLOSE);
}

/* ---- states ------------------------------------------------------------------------ */

static void
test_ctl_state_hosts_without_begin_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg_host h = host_entry(&five[0]);
	struct pm_ctlmsg_writer w;
	uint8_t buf[256];
	int len;

	hello(f, false, 0);
	out_clear(f);
	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_STATE_HOSTS, 0, 3),
			 0);
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &h), 0);
	len = pm_ctlmsg_chunk_finish(&w, false);
	expect_error(f, feed_raw(f, buf, (size_t)len), PM_CTLMSG_ERR_UNEXPECTED, 0,
		     "STATE_HOSTS of generation 3 without STATE_BEGIN");
}

static void
test_ctl_state_commit_without_begin_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m;

	hello(f, false, 0);
	out_clear(f);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 4);
	expect_error(f, feed(f, &m), PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
		     "STATE_COMMIT of generation 4 without STATE_BEGIN");
}

static void
test_ctl_other_message_inside_state_is_unexpected(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m = state_begin(5, 1, "%Lu");
	struct pm_ctlmsg c;

	hello(f, false, 0);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	out_clear(f);
	c = req(f, PM_CTLMSG_PING, 0);
	expect_error(f, feed(f, &c), PM_CTLMSG_ERR_UNEXPECTED, c.request_id,
		     "PING of generation 0 inside the transfer of state 5");
	/* A commit of another generation is refused the same way. */
	pm_ctl_restart(f->c);
	log_errors = 0;
	hello(f, false, 0);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	out_clear(f);
	c = req(f, PM_CTLMSG_STATE_COMMIT, 6);
	expect_error(f, feed(f, &c), PM_CTLMSG_ERR_UNEXPECTED, c.request_id,
		     "STATE_COMMIT of generation 6 inside the transfer of state 5");
}

static void
test_ctl_commit_with_wrong_count_is_refused(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg_host h[2] = { host_entry(&five[0]), host_entry(&five[1]) };
	struct pm_ctlmsg m = state_begin(2, 3, "%Lu"), a;

	ready(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	state_hosts(f, 2, h, 2);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 2);
	call_reply(f, &m, -EINVAL, &a);
	assert_non_null(strstr(a.u.reply.reason, "2 hosts received, STATE_BEGIN announced 3"));
	/* Nothing changed, the generation stays, the connection stays up. */
	assert_int_equal(a.generation, 1);
	assert_int_equal(pm_ctl_applied_generation(f->c), 1);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_READY);
	assert_int_equal(pm_director_ring(pm_ctl_director(f->c))->nhosts, 5);
	m = req(f, PM_CTLMSG_PING, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	/* Too many hosts is refused the same way. */
	m = state_begin(3, 1, "%Lu");
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	state_hosts(f, 3, h, 2);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 3);
	call_reply(f, &m, -EINVAL, &a);
	assert_int_equal(pm_ctl_applied_generation(f->c), 1);
}

static void
test_ctl_bad_state_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct host_spec bad[3] = {
		{ "10.0.0.1", "", 100, false, 0 },
		{ "10.0.0.7", "", 1001, false, 0 },
		{ "10.0.0.1", "", 100, false, 0 },
	};
	struct pm_ctlmsg a, m;
	struct pm_ctl_stats st;
	const char *h;

	ready(f);
	assert_int_equal(assign(f, "user1", "", &h, NULL), PM_CTLMSG_ASSIGN_HASHED);
	a = send_state(f, 2, bad, 3, "%Lu");
	assert_int_equal(a.u.reply.status, -EINVAL);
	assert_non_null(strstr(a.u.reply.reason, "host 10.0.0.7: vhost count 1001 too large"));
	bad[1].vhosts = 1000;
	a = send_state(f, 2, bad, 3, "%Lu");
	assert_int_equal(a.u.reply.status, -EINVAL);
	assert_non_null(strstr(a.u.reply.reason, "host 10.0.0.1: given twice"));
	a = send_state(f, 2, bad, 2, "%Lx");
	assert_int_equal(a.u.reply.status, -EINVAL);
	assert_non_null(strstr(a.u.reply.reason, "director_username_hash"));
	m = state_begin(2, 0, "%Lu");
	m.u.state_begin.user_expire_s = 9;
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 2);
	call_reply(f, &m, -EINVAL, &a);
	assert_non_null(strstr(a.u.reply.reason, "director_user_expire 9 s is below 10 s"));
	m = state_begin(2, 0, "%Lu");
	m.u.state_begin.max_parallel_kicks = 0;
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 2);
	call_reply(f, &m, -EINVAL, &a);
	assert_non_null(strstr(a.u.reply.reason, "director_max_parallel_kicks"));
	/* The state of generation 1 and the pin are intact. */
	assert_int_equal(pm_ctl_applied_generation(f->c), 1);
	assert_int_equal(pm_director_ring(pm_ctl_director(f->c))->nhosts, 5);
	assert_string_equal(lookup(f, "user1", "", NULL, NULL), "10.0.0.3");
	pm_ctl_stats(f->c, &st);
	assert_int_equal(st.states_refused, 5);
	assert_int_equal(st.states_applied, 1);
	/* A refusal is logged, one line each. */
	assert_int_equal(log_errors, 5);
}

/*
 * The full state again after a reconnect keeps the pins on hosts that
 * remain; a host absent from the new state, and one whose tag changed, lose
 * theirs. HOST_LIST shows the times the control side sent.
 */
static void
test_ctl_state_after_reconnect_keeps_pins(void **state)
{
	struct fx *f = *state;
	static const struct host_spec next[] = {
		{ "10.0.0.1", "", 100, false, 0 },
		{ "10.0.0.2", "", 100, true, 1800000123 },
		{ "10.0.0.3", "", 100, false, 0 },
		{ "10.0.0.4", "tagA", 100, false, 17 },
	};
	struct pm_ctlmsg a, m;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host hh;
	struct pm_director_stats ds;
	const char *h;
	uint32_t exp;

	ready(f);
	assert_int_equal(assign(f, "user1", "", &h, &exp), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(exp, (uint32_t)(T0_MS / 1000 + 900));
	assert_int_equal(assign(f, "user3", "", &h, NULL), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_equal(h, "10.0.0.5");
	assert_int_equal(assign(f, "testuser@domain", "", &h, NULL), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_equal(h, "10.0.0.4");

	/* postmux-control restarts: the data plane sees EOF, reconnects. */
	pm_ctl_restart(f->c);
	f->now += 5000;
	hello(f, true, 1);
	a = send_state(f, 2, five, 5, "%Lu");
	assert_int_equal(a.u.reply.status, 0);
	assert_int_equal(a.generation, 2);
	assert_string_equal(lookup(f, "user1", "", NULL, NULL), "10.0.0.3");
	assert_string_equal(lookup(f, "user3", "", NULL, NULL), "10.0.0.5");

	/* Then a state without .5 and with .4 retagged. */
	a = send_state(f, 3, next, 4, "%Lu");
	assert_int_equal(a.u.reply.status, 0);
	assert_int_equal(pm_ctl_applied_generation(f->c), 3);
	assert_string_equal(lookup(f, "user1", "", NULL, NULL), "10.0.0.3");
	assert_string_equal(lookup(f, "user3", "", NULL, NULL), "");
	assert_string_equal(lookup(f, "testuser@domain", "", NULL, NULL), "");
	pm_director_stats(pm_ctl_director(f->c), &ds);
	assert_int_equal(ds.pins, 1);
	/* A pinned user goes on to its pin, a new one to the new ring. */
	assert_int_equal(assign(f, "user1", "", &h, NULL), PM_CTLMSG_ASSIGN_PINNED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(assign(f, "user3", "", &h, NULL), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_not_equal(h, "10.0.0.5");

	m = req(f, PM_CTLMSG_HOST_LIST, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_HOST_LIST_PART);
	assert_int_equal(a.flags, PM_CTLMSG_F_LAST);
	assert_int_equal(a.generation, 3);
	assert_int_equal(a.u.chunk.count, 4);
	pm_ctlmsg_iter_init(&it, &a);
	assert_true(pm_ctlmsg_iter_host(&it, &hh));
	assert_string_equal(ipstr(&hh.addr), "10.0.0.1");
	assert_true(pm_ctlmsg_iter_host(&it, &hh));
	assert_string_equal(ipstr(&hh.addr), "10.0.0.2");
	assert_true(hh.down);
	assert_int_equal(hh.last_updown_s, 1800000123);
	assert_true(pm_ctlmsg_iter_host(&it, &hh));
	assert_string_equal(ipstr(&hh.addr), "10.0.0.3");
	assert_int_equal(hh.user_count, 1);
	assert_string_equal(hh.tag, "");
	assert_int_equal(hh.tag_index, 0);
	assert_true(pm_ctlmsg_iter_host(&it, &hh));
	assert_string_equal(ipstr(&hh.addr), "10.0.0.4");
	assert_string_equal(hh.tag, "tagA");
	assert_int_equal(hh.tag_index, 1);
	assert_int_equal(hh.last_updown_s, 17);
	assert_false(pm_ctlmsg_iter_host(&it, &hh));
	assert_int_equal(log_errors, 0);
}

static void
test_ctl_state_with_new_template_forgets_pins(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg a;
	struct pm_director_stats ds;
	const char *h;

	ready(f);
	assign(f, "user1", "", &h, NULL);
	assign(f, "user2", "", &h, NULL);
	a = send_state(f, 2, five, 5, "%Ln");
	assert_int_equal(a.u.reply.status, 0);
	pm_director_stats(pm_ctl_director(f->c), &ds);
	assert_int_equal(ds.pins, 0);
	assert_int_equal(uh(f, "USER1@example.com"), uh(f, "user1"));
	assert_int_equal(pm_director_config(pm_ctl_director(f->c))->user_expire_s, 900);
}

/* A state of more hosts than one STATE_HOSTS datagram holds. */
static void
test_ctl_state_in_several_chunks(void **state)
{
	struct fx *f = *state;
	size_t n = 3000, i;
	struct pm_ctlmsg_host *h = calloc(n, sizeof(*h));
	struct pm_ctlmsg m = state_begin(7, (uint32_t)n, "%Lu"), a;

	assert_non_null(h);
	hello(f, false, 0);
	for (i = 0; i < n; i++) {
		h[i].addr.family = PM_AF_INET;
		h[i].addr.bytes[0] = 10;
		h[i].addr.bytes[1] = 1;
		h[i].addr.bytes[2] = (uint8_t)(i >> 8);
		h[i].addr.bytes[3] = (uint8_t)i;
		h[i].vhosts = 10;
	}
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	state_hosts(f, 7, h, n);
	m = req(f, PM_CTLMSG_STATE_COMMIT, 7);
	call_reply(f, &m, 0, &a);
	assert_int_equal(pm_director_ring(pm_ctl_director(f->c))->nhosts, n);
	free(h);
}

/* ---- requests ------------------------------------------------------------------------- */

static void
test_ctl_host_requests_answer_and_set_generation(void **state)
{
	struct fx *f = *state;
	struct pm_host_info hi;
	struct pm_addr a9 = ip("10.0.0.9");
	struct pm_ctlmsg m, a;

	ready(f);
	m = req(f, PM_CTLMSG_HOST_SET, 2);
	m.u.host_set.addr = a9;
	m.u.host_set.vhosts = PM_CTLMSG_VHOSTS_KEEP;
	m.u.host_set.create = true;
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.generation, 2);
	assert_int_equal(pm_director_host_get(pm_ctl_director(f->c), &a9, f->now, &hi), 0);
	assert_int_equal(hi.vhosts, 100);
	/* HOST-UPDATE of an unknown host, too many vhosts, a tag change:
	 * refused, and the generation stays. */
	m = req(f, PM_CTLMSG_HOST_SET, 3);
	m.u.host_set.addr = ip("10.0.0.10");
	m.u.host_set.vhosts = 5;
	call_reply(f, &m, -ENOENT, &a);
	assert_string_equal(a.u.reply.reason, "host 10.0.0.10 doesn't exist");
	assert_int_equal(a.generation, 2);
	m = req(f, PM_CTLMSG_HOST_SET, 3);
	m.u.host_set.addr = a9;
	m.u.host_set.vhosts = 1001;
	call_reply(f, &m, -E2BIG, &a);
	assert_string_equal(a.u.reply.reason, "vhost count too large");
	m = req(f, PM_CTLMSG_HOST_SET, 3);
	m.u.host_set.addr = a9;
	m.u.host_set.vhosts = 5;
	m.u.host_set.create = true;
	snprintf(m.u.host_set.tag, sizeof(m.u.host_set.tag), "other");
	call_reply(f, &m, -EEXIST, &a);
	assert_string_equal(a.u.reply.reason, "host tag can't be changed");
	assert_int_equal(pm_ctl_applied_generation(f->c), 2);
	/* HOST-UPDATE with a count. */
	m = req(f, PM_CTLMSG_HOST_SET, 3);
	m.u.host_set.addr = a9;
	m.u.host_set.vhosts = 5;
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.generation, 3);
	assert_int_equal(pm_director_host_get(pm_ctl_director(f->c), &a9, f->now, &hi), 0);
	assert_int_equal(hi.vhosts, 5);

	m = req(f, PM_CTLMSG_HOST_UPDOWN, 4);
	m.u.host_updown.addr = a9;
	m.u.host_updown.down = true;
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.generation, 4);
	assert_int_equal(pm_director_host_get(pm_ctl_director(f->c), &a9, f->now, &hi), 0);
	assert_true(hi.down);
	/* The data plane's own clock: HOST_UPDOWN carries no time. */
	assert_int_equal(hi.last_updown_s, (int64_t)(f->now / 1000));
	m = req(f, PM_CTLMSG_HOST_UPDOWN, 5);
	m.u.host_updown.addr = ip("10.0.0.10");
	call_reply(f, &m, -ENOENT, &a);

	m = req(f, PM_CTLMSG_HOST_REMOVE, 5);
	m.u.host_remove.addr = a9;
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.generation, 5);
	assert_int_equal(pm_director_host_get(pm_ctl_director(f->c), &a9, f->now, &hi),
			 -ENOENT);
	m = req(f, PM_CTLMSG_HOST_REMOVE, 6);
	m.u.host_remove.addr = a9;
	call_reply(f, &m, -ENOENT, &a);
	assert_int_equal(pm_ctl_applied_generation(f->c), 5);
	assert_int_equal(log_errors, 0);
}

static void
test_ctl_host_flush_answers_the_count(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;
	const char *h;

	ready(f);
	assign(f, "user1", "", &h, NULL);	/* .3 */
	assign(f, "user2", "", &h, NULL);	/* .3 */
	assign(f, "user3", "", &h, NULL);	/* .5 */
	m = req(f, PM_CTLMSG_HOST_FLUSH, 0);
	m.u.host_flush.addr = ip("10.0.0.3");
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.u.reply.body.host_flush.forgotten, 2);
	m = req(f, PM_CTLMSG_HOST_FLUSH, 0);	/* family 0: every host */
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.u.reply.body.host_flush.forgotten, 1);
	m = req(f, PM_CTLMSG_HOST_FLUSH, 0);
	m.u.host_flush.addr = ip("10.0.0.8");
	call_reply(f, &m, -ENOENT, &a);
	assert_int_equal(pm_ctl_applied_generation(f->c), 1);	/* pins are not state */
}

static void
test_ctl_user_assign_places_and_pins(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;
	const char *h;
	uint32_t exp;

	ready(f);
	/* Spec 1.7's placements: user1 .3, testuser@domain .4. */
	assert_int_equal(assign(f, "user1", "", &h, &exp), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_equal(h, "10.0.0.3");
	f->now += 10000;
	assert_int_equal(assign(f, "User1", "", &h, &exp), PM_CTLMSG_ASSIGN_PINNED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(exp, (uint32_t)(f->now / 1000 + 900));
	assert_int_equal(assign(f, "testuser@domain", "", &h, NULL), PM_CTLMSG_ASSIGN_HASHED);
	assert_string_equal(h, "10.0.0.4");
	/* An unknown tag has no hosts, and asking does not create it. */
	assert_int_equal(assign(f, "user1", "nosuchtag", &h, &exp), PM_CTLMSG_ASSIGN_NOHOST);
	assert_string_equal(h, "");
	assert_int_equal(exp, 0);
	assert_int_equal(pm_director_tag(pm_ctl_director(f->c), "nosuchtag", false), -ENOENT);
	/* A user being moved waits. */
	m = req(f, PM_CTLMSG_USER_MOVE, 0);
	m.u.user_move.user_hash = uh(f, "user1");
	m.u.user_move.addr = ip("10.0.0.1");
	call_reply(f, &m, 0, &a);
	assert_int_equal(assign(f, "user1", "", &h, &exp), PM_CTLMSG_ASSIGN_WAIT);
	assert_string_equal(h, "");
	advance(f, 2000);
	assert_int_equal(assign(f, "user1", "", &h, NULL), PM_CTLMSG_ASSIGN_PINNED);
	assert_string_equal(h, "10.0.0.1");
}

static void
test_ctl_user_lookup_shows_pin_and_ring(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;
	const char *hashed;
	uint8_t flags;

	ready(f);
	assert_string_equal(lookup(f, "user1", "", &hashed, &flags), "");
	assert_string_equal(hashed, "10.0.0.3");
	assert_int_equal(flags, 0);
	m = req(f, PM_CTLMSG_USER_MOVE, 0);
	m.u.user_move.user_hash = uh(f, "user1");
	m.u.user_move.addr = ip("10.0.0.2");
	call_reply(f, &m, 0, &a);
	assert_string_equal(lookup(f, "user1", "", &hashed, &flags), "10.0.0.2");
	assert_string_equal(hashed, "10.0.0.3");
	assert_int_equal(flags, PM_CTLMSG_PIN_MOVING);
	m = req(f, PM_CTLMSG_USER_LOOKUP, 0);
	m.u.user_lookup.user_hash = uh(f, "user1");
	call_reply(f, &m, 0, &a);
	assert_int_equal(a.u.reply.body.user_lookup.expire_s, (uint32_t)(f->now / 1000 + 900));
	snprintf(m.u.user_lookup.tag, sizeof(m.u.user_lookup.tag), "nosuchtag");
	m.request_id = f->next_id++;
	call_reply(f, &m, -ENOENT, &a);
	assert_string_equal(a.u.reply.reason, "unknown tag 'nosuchtag'");
}

static void
test_ctl_user_move_and_kicks(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;
	struct pm_ctl_stats st;

	ready(f);
	m = req(f, PM_CTLMSG_USER_MOVE, 0);
	m.u.user_move.user_hash = 12345;
	m.u.user_move.addr = ip("10.0.0.1");
	call_reply(f, &m, 0, &a);
	m.request_id = f->next_id++;
	m.u.user_move.addr = ip("10.0.0.2");
	call_reply(f, &m, -EAGAIN, &a);
	assert_string_equal(a.u.reply.reason, "user is already being moved");
	m.request_id = f->next_id++;
	m.u.user_move.addr = ip("10.0.0.9");
	call_reply(f, &m, -ENOENT, &a);

	m = req(f, PM_CTLMSG_USER_KICK, 0);
	snprintf(m.u.user_kick.user, sizeof(m.u.user_kick.user), "user1");
	call_reply(f, &m, 0, &a);
	m = req(f, PM_CTLMSG_USER_KICK_ALT, 0);
	snprintf(m.u.user_kick_alt.field, sizeof(m.u.user_kick_alt.field), "user_group");
	snprintf(m.u.user_kick_alt.value, sizeof(m.u.user_kick_alt.value), "staff");
	call_reply(f, &m, 0, &a);
	/* No sessions yet: the move's kick and the two kicks are counted. */
	pm_ctl_stats(f->c, &st);
	assert_int_equal(st.kicks, 3);
	assert_int_equal(st.requests_failed, 2);
}

/* Spec 7.14: 187 moves at max-parallel 50 are dispatched in 4 batches one
 * kick delay apart; RESET_USERS is answered only then, and other requests
 * are answered meanwhile. */
static void
test_ctl_reset_users_answer_waits_for_the_job(void **state)
{
	struct fx *f = *state;
	struct pm_director *d;
	struct pm_ctlmsg m, ping, a;
	struct pm_dir_answer ans;
	struct pm_addr h1 = ip("10.0.0.1");
	unsigned int placed = 0, i;
	uint64_t start, reset_id;
	char name[32];

	ready(f);
	d = pm_ctl_director(f->c);
	for (i = 0; placed < 187; i++) {
		snprintf(name, sizeof(name), "pace%u", i);
		assert_int_equal(pm_director_lookup(d, 0, uh(f, name), 0, &ans), PM_DIR_HASHED);
		if (pm_addr_eq(&ans.host, &h1))
			continue;
		m = req(f, PM_CTLMSG_USER_MOVE, 0);
		m.u.user_move.user_hash = uh(f, name);
		m.u.user_move.addr = h1;
		call_reply(f, &m, 0, &a);
		placed++;
	}
	advance(f, 2000);
	start = f->now;

	m = req(f, PM_CTLMSG_RESET_USERS, 0);
	m.u.reset_users.addr = h1;
	m.u.reset_users.max_parallel = 50;
	reset_id = m.request_id;
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(f->nout, 0);
	ping = req(f, PM_CTLMSG_PING, 0);
	call(f, &ping, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	out_clear(f);
	advance(f, 5999);
	assert_int_equal(f->nout, 0);
	advance(f, 1);
	assert_int_equal(f->now, start + 6000);
	assert_int_equal(f->nout, 1);
	out_msg(f, 0, &a);
	assert_int_equal(a.type, PM_CTLMSG_REPLY);
	assert_int_equal(a.request_id, reset_id);
	assert_int_equal(a.u.reply.req_type, PM_CTLMSG_RESET_USERS);
	assert_int_equal(a.u.reply.status, 0);
	out_clear(f);
	advance(f, 10000);
	assert_int_equal(f->nout, 0);	/* answered exactly once */

	/* With nothing to move the answer comes at once. */
	m = req(f, PM_CTLMSG_RESET_USERS, 0);
	m.u.reset_users.addr = h1;
	call_reply(f, &m, 0, &a);
	/* An unknown host: -ENOENT at once. */
	m = req(f, PM_CTLMSG_RESET_USERS, 0);
	m.u.reset_users.addr = ip("10.0.0.9");
	call_reply(f, &m, -ENOENT, &a);
}

/* A connection lost while a RESET_USERS job runs: the job goes on, its
 * answer goes nowhere, and the next connection is not answered for it. */
static void
test_ctl_reset_users_answer_dropped_on_reconnect(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;

	ready(f);
	m = req(f, PM_CTLMSG_USER_MOVE, 0);
	m.u.user_move.user_hash = uh(f, "user1");
	m.u.user_move.addr = ip("10.0.0.1");
	call_reply(f, &m, 0, &a);
	m = req(f, PM_CTLMSG_USER_MOVE, 0);
	m.u.user_move.user_hash = uh(f, "user2");
	m.u.user_move.addr = ip("10.0.0.1");
	call_reply(f, &m, 0, &a);
	advance(f, 2000);
	m = req(f, PM_CTLMSG_RESET_USERS, 0);
	m.u.reset_users.addr = ip("10.0.0.1");
	m.u.reset_users.max_parallel = 1;
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(f->nout, 0);
	pm_ctl_restart(f->c);
	hello(f, true, 1);
	out_clear(f);
	advance(f, 5000);
	assert_int_equal(f->nout, 0);
	assert_string_equal(lookup(f, "user1", "", NULL, NULL), "10.0.0.3");
	assert_string_equal(lookup(f, "user2", "", NULL, NULL), "10.0.0.3");
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Collect the USER_LIST_PART answer in f->out: every part has the request
 * id, only the last is flagged LAST; returns the hashes in @hashes. */
static size_t
collect_user_parts(struct fx *f, uint64_t reqid, uint32_t *hashes, size_t max)
{
	struct pm_ctlmsg a;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_user u;
	size_t i, n = 0;

	for (i = 0; i < f->nout; i++) {
		out_msg(f, i, &a);
		assert_int_equal(a.type, PM_CTLMSG_USER_LIST_PART);
		assert_int_equal(a.request_id, reqid);
		assert_int_equal(a.flags, i + 1 == f->nout ? PM_CTLMSG_F_LAST : 0);
		assert_true(f->out[i].len <= PM_CTLMSG_MAX);
		pm_ctlmsg_iter_init(&it, &a);
		while (pm_ctlmsg_iter_user(&it, &u)) {
			assert_true(n < max);
			hashes[n++] = u.user_hash;
		}
	}
	return n;
}

static void
test_ctl_user_list_is_chunked(void **state)
{
	struct fx *f = *state;
	enum { NUSERS = 5000 };
	uint32_t *want = calloc(NUSERS, sizeof(*want)), *got = calloc(NUSERS + 1, sizeof(*got));
	struct pm_director *d;
	struct pm_dir_answer ans;
	struct pm_ctlmsg m, a;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_user u;
	size_t i, n;

	assert_non_null(want);
	assert_non_null(got);
	ready(f);
	d = pm_ctl_director(f->c);
	for (i = 0; i < NUSERS; i++) {
		want[i] = (uint32_t)(i * 2654435761u + 1);
		assert_int_equal(pm_director_login(d, 0, want[i], 0, f->now, &ans), PM_DIR_HASHED);
	}
	m = req(f, PM_CTLMSG_USER_LIST, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_false(pm_ctl_busy(f->c));
	/* 2339 entries fill a datagram: 5000 need three parts. */
	assert_int_equal(f->nout, 3);
	n = collect_user_parts(f, m.request_id, got, NUSERS + 1);
	assert_int_equal(n, NUSERS);
	qsort(want, NUSERS, sizeof(*want), cmp_u32);
	qsort(got, n, sizeof(*got), cmp_u32);
	assert_memory_equal(want, got, NUSERS * sizeof(*want));
	out_msg(f, 0, &a);
	pm_ctlmsg_iter_init(&it, &a);
	assert_true(pm_ctlmsg_iter_user(&it, &u));
	assert_int_equal(u.expire_s, (uint32_t)(f->now / 1000 + 900));
	assert_int_equal(u.tag_index, 0);
	assert_int_equal(u.pin_flags, 0);
	assert_int_equal(a.generation, 1);

	/* One host only; an empty list is one empty part flagged LAST. */
	m = req(f, PM_CTLMSG_USER_LIST, 0);
	m.u.user_list.addr = ip("10.0.0.3");
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	n = collect_user_parts(f, m.request_id, got, NUSERS + 1);
	assert_true(n > 0 && n < NUSERS);
	m = req(f, PM_CTLMSG_USER_LIST, 0);
	m.u.user_list.addr = ip("10.0.0.99");
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_USER_LIST_PART);
	assert_int_equal(a.flags, PM_CTLMSG_F_LAST);
	assert_int_equal(a.u.chunk.count, 0);
	free(want);
	free(got);
}

/* When the caller's queue is full, list parts wait for pm_ctl_pump(); a
 * request that arrives meanwhile first gets the rest of the list out. */
static void
test_ctl_user_list_waits_for_room(void **state)
{
	struct fx *f = *state;
	enum { NUSERS = 6000 };
	uint32_t *got = calloc(NUSERS + 1, sizeof(*got));
	struct pm_director *d;
	struct pm_dir_answer ans;
	struct pm_ctlmsg m, a, ping;
	size_t i;

	assert_non_null(got);
	ready(f);
	d = pm_ctl_director(f->c);
	for (i = 0; i < NUSERS; i++)
		pm_director_login(d, 0, (uint32_t)(i * 2654435761u + 7), 0, f->now, &ans);
	f->send_rc = PM_CTL_SEND_FULL;
	m = req(f, PM_CTLMSG_USER_LIST, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(f->nout, 1);
	assert_true(pm_ctl_busy(f->c));
	assert_int_equal(pm_ctl_pump(f->c), PM_CTL_OK);
	assert_int_equal(f->nout, 2);
	assert_true(pm_ctl_busy(f->c));
	f->send_rc = 0;
	assert_int_equal(pm_ctl_pump(f->c), PM_CTL_OK);
	assert_false(pm_ctl_busy(f->c));
	assert_int_equal(collect_user_parts(f, m.request_id, got, NUSERS + 1), NUSERS);

	/* Input while parts are held: they go out first, then the answer. */
	f->send_rc = PM_CTL_SEND_FULL;
	m = req(f, PM_CTLMSG_USER_LIST, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_true(pm_ctl_busy(f->c));
	ping = req(f, PM_CTLMSG_PING, 0);
	assert_int_equal(feed(f, &ping), PM_CTL_OK);
	assert_false(pm_ctl_busy(f->c));
	assert_int_equal(f->nout, 4);
	out_msg(f, 3, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	f->nout--;
	free(f->out[3].buf);
	assert_int_equal(collect_user_parts(f, m.request_id, got, NUSERS + 1), NUSERS);
	free(got);
}

static void
test_ctl_host_list_of_no_hosts_is_one_empty_part(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;

	hello(f, false, 0);
	m = req(f, PM_CTLMSG_HOST_LIST, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_HOST_LIST_PART);
	assert_int_equal(a.flags, PM_CTLMSG_F_LAST);
	assert_int_equal(a.u.chunk.count, 0);
	assert_int_equal(a.generation, 0);
}

static void
test_ctl_stats_and_ping(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg m, a;
	const char *h;

	ready(f);
	assign(f, "user1", "", &h, NULL);
	m = req(f, PM_CTLMSG_STATS, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_STATS_REPLY);
	assert_int_equal(a.generation, 1);
	assert_int_equal(a.u.stats.pins, 1);
	assert_true(a.u.stats.rings_published >= 2);
	assert_true(a.u.stats.pin_buckets > 0);
	m = req(f, PM_CTLMSG_PING, 0);
	call(f, &m, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	assert_int_equal(a.generation, 1);
}

/* ---- counters -------------------------------------------------------------------- */

#define NDIRCTL 16	/* director.* (8) and ctl.* (8) */

static const char *const fixed_names[NDIRCTL] = {
	"director.pins", "director.moving", "director.jobs", "director.rings_published",
	"director.pins_expired", "director.moves_started", "director.kicks",
	"director.pin_buckets",
	"ctl.received", "ctl.sent", "ctl.restarts", "ctl.states_applied", "ctl.states_refused",
	"ctl.requests_failed", "ctl.errors_sent", "ctl.kicks",
};

/* Collect the COUNTERS_PART answer in f->out: every part has the request id,
 * only the last is flagged LAST; the entries, in order, go to @k. */
static size_t
collect_counter_parts(struct fx *f, uint64_t reqid, struct pm_ctlmsg_counter *k, size_t max)
{
	struct pm_ctlmsg a;
	struct pm_ctlmsg_iter it;
	size_t i, n = 0;

	for (i = 0; i < f->nout; i++) {
		out_msg(f, i, &a);
		assert_int_equal(a.type, PM_CTLMSG_COUNTERS_PART);
		assert_int_equal(a.request_id, reqid);
		assert_int_equal(a.flags, i + 1 == f->nout ? PM_CTLMSG_F_LAST : 0);
		assert_true(f->out[i].len <= PM_CTLMSG_MAX);
		pm_ctlmsg_iter_init(&it, &a);
		while (n < max && pm_ctlmsg_iter_counter(&it, &k[n]))
			n++;
		assert_false(pm_ctlmsg_iter_counter(&it, &(struct pm_ctlmsg_counter){ 0 }));
	}
	return n;
}

static void
test_ctl_counters_without_callback_are_director_and_ctl(void **state)
{
	struct fx *f = *state;
	struct pm_ctlmsg_counter k[NDIRCTL + 1];
	struct pm_director_stats ds;
	struct pm_ctl_stats cs;
	struct pm_ctlmsg m;
	const char *h;
	size_t i;

	ready(f);
	assign(f, "user1", "", &h, NULL);
	pm_director_stats(pm_ctl_director(f->c), &ds);
	pm_ctl_stats(f->c, &cs);
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_false(pm_ctl_busy(f->c));
	assert_int_equal(f->nout, 1);
	assert_int_equal(collect_counter_parts(f, m.request_id, k, NDIRCTL + 1), NDIRCTL);
	for (i = 0; i < NDIRCTL; i++)
		assert_string_equal(k[i].name, fixed_names[i]);
	/* The values are the structs' when the request was handled: the
	 * request itself is received, its answer not yet sent. */
	assert_true(k[0].value == 1 && ds.pins == 1);
	assert_true(k[1].value == ds.moving && k[2].value == ds.jobs);
	assert_true(k[3].value == ds.rings_published && k[3].value >= 2);
	assert_true(k[4].value == ds.pins_expired && k[5].value == ds.moves_started);
	assert_true(k[6].value == ds.kicks && k[7].value == ds.pin_buckets && k[7].value > 0);
	/* HELLO, STATE_BEGIN, STATE_HOSTS, STATE_COMMIT, USER_ASSIGN, COUNTERS. */
	assert_true(k[8].value == cs.received + 1 && k[8].value == 6);
	/* HELLO_ACK, the commit's REPLY, the assign's REPLY. */
	assert_true(k[9].value == cs.sent && k[9].value == 3);
	assert_true(k[10].value == 0 && k[11].value == 1 && k[12].value == 0);
	assert_true(k[13].value == 0 && k[14].value == 0 && k[15].value == 0);
	pm_ctl_stats(f->c, &cs);
	assert_true(cs.sent == 4 && cs.received == 6);
	out_msg(f, 0, &m);
	assert_int_equal(m.generation, 1);

	/* Before any state: the applied generation is 0 in the answer. */
	pm_ctl_restart(f->c);
	hello(f, true, 1);
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(collect_counter_parts(f, m.request_id, k, NDIRCTL + 1), NDIRCTL);
	assert_true(k[10].value == 1);	/* ctl.restarts */
}

struct emitter {
	size_t n;		/* counters to emit */
	unsigned int calls;
	bool bad;		/* also emit names that cannot go on the wire */
};

static void
emit_many(void *arg, pm_ctl_counter_emit_fn emit, void *emit_arg)
{
	struct emitter *e = arg;
	char name[PM_CTLMSG_COUNTER_NAME_MAX + 8];
	size_t i;

	e->calls++;
	for (i = 0; i < e->n; i++) {
		snprintf(name, sizeof(name), "test.counter.%05zu", i);
		emit(emit_arg, name, (uint64_t)i * 3 + UINT64_C(0x100000000));
		if (!e->bad || i != 1)
			continue;
		emit(emit_arg, "bad name", 1);
		emit(emit_arg, "", 2);
		emit(emit_arg, "x\ty", 3);
		memset(name, 'n', sizeof(name) - 1);
		name[PM_CTLMSG_COUNTER_NAME_MAX + 1] = '\0';	/* 64 bytes */
		emit(emit_arg, name, 4);
	}
}

/* 5000 counters from the callback: after the 16 fixed ones, in emission
 * order, split over parts that each fit a datagram, the last flagged LAST;
 * held back while the caller's queue is full. */
static void
test_ctl_counters_callback_is_chunked_in_order(void **state)
{
	struct fx *f = *state;
	struct emitter e = { .n = 5000 };
	enum { MAXK = NDIRCTL + 5000 + 1 };
	struct pm_ctlmsg_counter *k = calloc(MAXK, sizeof(*k));
	struct pm_ctlmsg m, a, ping;
	char want[32];
	size_t i, n;

	assert_non_null(k);
	pm_ctl_free(f->c);
	f->c = new_ctl(f, emit_many, &e);
	assert_non_null(f->c);
	ready(f);
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(e.calls, 1);
	assert_false(pm_ctl_busy(f->c));
	/* 28-byte entries ("test.counter.NNNNN", 18 bytes): 2339 a part. */
	assert_int_equal(f->nout, 3);
	n = collect_counter_parts(f, m.request_id, k, MAXK);
	assert_int_equal(n, NDIRCTL + 5000);
	for (i = 0; i < NDIRCTL; i++)
		assert_string_equal(k[i].name, fixed_names[i]);
	for (i = 0; i < 5000; i++) {
		snprintf(want, sizeof(want), "test.counter.%05zu", i);
		assert_string_equal(k[NDIRCTL + i].name, want);
		assert_true(k[NDIRCTL + i].value == (uint64_t)i * 3 + UINT64_C(0x100000000));
	}
	out_msg(f, 0, &a);
	assert_int_equal(a.generation, 1);

	/* Back-pressure: one part per pump while the queue says FULL; a
	 * request meanwhile first gets the rest out. */
	f->send_rc = PM_CTL_SEND_FULL;
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(f->nout, 1);
	assert_true(pm_ctl_busy(f->c));
	assert_int_equal(pm_ctl_pump(f->c), PM_CTL_OK);
	assert_int_equal(f->nout, 2);
	assert_true(pm_ctl_busy(f->c));
	ping = req(f, PM_CTLMSG_PING, 0);
	assert_int_equal(feed(f, &ping), PM_CTL_OK);
	assert_false(pm_ctl_busy(f->c));
	assert_int_equal(f->nout, 4);
	out_msg(f, 3, &a);
	assert_int_equal(a.type, PM_CTLMSG_PONG);
	f->nout--;
	free(f->out[3].buf);
	assert_int_equal(collect_counter_parts(f, m.request_id, k, MAXK), NDIRCTL + 5000);
	assert_int_equal(e.calls, 2);

	/* A restart drops a list still being sent. */
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_true(pm_ctl_busy(f->c));
	pm_ctl_restart(f->c);
	assert_false(pm_ctl_busy(f->c));
	free(k);
}

static void
test_ctl_counters_with_bad_names_are_left_out_and_logged(void **state)
{
	struct fx *f = *state;
	struct emitter e = { .n = 3, .bad = true };
	struct pm_ctlmsg_counter k[NDIRCTL + 8];
	struct pm_ctlmsg m;

	pm_ctl_free(f->c);
	f->c = new_ctl(f, emit_many, &e);
	assert_non_null(f->c);
	ready(f);
	m = req(f, PM_CTLMSG_COUNTERS, 0);
	out_clear(f);
	assert_int_equal(feed(f, &m), PM_CTL_OK);
	assert_int_equal(f->nout, 1);
	assert_int_equal(collect_counter_parts(f, m.request_id, k, NDIRCTL + 8), NDIRCTL + 3);
	assert_string_equal(k[NDIRCTL + 1].name, "test.counter.00001");
	assert_string_equal(k[NDIRCTL + 2].name, "test.counter.00002");
	if (strstr(log_warn_last, "4 counter(s)") == NULL ||
	    strstr(log_warn_last, "\"bad name\"") == NULL)
		fail_msg("warning: %s", log_warn_last);
	assert_int_equal(log_errors, 0);
	assert_int_equal(pm_ctl_state(f->c), PM_CTL_READY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_ctl_hello_is_answered_with_ack),
		T(test_ctl_hello_without_common_version_is_error_version),
		T(test_ctl_other_header_version_is_error_version),
		T(test_ctl_truncated_datagram_is_malformed),
		T(test_ctl_garbage_and_oversize_are_malformed),
		T(test_ctl_request_before_hello_is_unexpected),
		T(test_ctl_second_hello_is_unexpected),
		T(test_ctl_message_for_control_is_unexpected),
		T(test_ctl_error_received_closes_silently),
		T(test_ctl_failed_send_closes),
		T(test_ctl_state_hosts_without_begin_is_unexpected),
		T(test_ctl_state_commit_without_begin_is_unexpected),
		T(test_ctl_other_message_inside_state_is_unexpected),
		T(test_ctl_commit_with_wrong_count_is_refused),
		T(test_ctl_bad_state_changes_nothing),
		T(test_ctl_state_after_reconnect_keeps_pins),
		T(test_ctl_state_with_new_template_forgets_pins),
		T(test_ctl_state_in_several_chunks),
		T(test_ctl_host_requests_answer_and_set_generation),
		T(test_ctl_host_flush_answers_the_count),
		T(test_ctl_user_assign_places_and_pins),
		T(test_ctl_user_lookup_shows_pin_and_ring),
		T(test_ctl_user_move_and_kicks),
		T(test_ctl_reset_users_answer_waits_for_the_job),
		T(test_ctl_reset_users_answer_dropped_on_reconnect),
		T(test_ctl_user_list_is_chunked),
		T(test_ctl_user_list_waits_for_room),
		T(test_ctl_host_list_of_no_hosts_is_one_empty_part),
		T(test_ctl_stats_and_ping),
		T(test_ctl_counters_without_callback_are_director_and_ctl),
		T(test_ctl_counters_callback_is_chunked_in_order),
		T(test_ctl_counters_with_bad_names_are_left_out_and_logged),
#undef T
	};
	int ret;

	/* The test thread is the director's writer: a registered, online
	 * QSBR thread. */
	/* Debug records too, so that every log format runs (into the sink). */
	pm_log_set_level(PM_LOG_DEBUG);
	urcu_qsbr_register_thread();
	ret = cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return ret;
}
