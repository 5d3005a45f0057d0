/*
 * ctl.c -- apply control-channel messages to the director and answer them.
 *
 * One datagram in, zero or more datagrams out through the send callback.
 * The connection's protocol state is c->state (see ctl.h for the
 * transitions); everything that outlives a connection is the director and
 * the applied generation. A state transfer is collected in c->rx and
 * applied as a whole on STATE_COMMIT: settings and hosts are checked first,
 * then pm_director_set_hosts() publishes one ring image and
 * pm_director_set_config() replaces the settings.
 *
 * List answers (USER_LIST, HOST_LIST, COUNTERS) are snapshots taken when
 * the request is handled and sent in parts as the caller's queue allows, so
 * a list of millions of pins never has to sit in the socket queue at once.
 */
#include "ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The protocol versions this build speaks. */
#define CTL_PROTO_MIN 1
#define CTL_PROTO_MAX 1

struct pending_reset {
	uint64_t job_id;
	uint64_t request_id;
};

/* A list answer being sent: a snapshot and a cursor. */
struct list_out {
	uint16_t type;			/* 0: none; USER_LIST_PART, HOST_LIST_PART,
					 * COUNTERS_PART */
	uint64_t request_id;
	struct pm_ctlmsg_user *users;
	struct pm_ctlmsg_host *hosts;
	struct pm_ctlmsg_counter *counters;
	size_t n, pos, cap;
	bool nomem;
	size_t bad_names;		/* COUNTERS: names left out */
	char bad_name[PM_CTLMSG_COUNTER_NAME_MAX + 1];	/* the first, printable */
};

/*
 * The counters COUNTERS lists before the network's: every field of struct
 * pm_director_stats and struct pm_ctl_stats, in declaration order, named
 * "director.<field>" and "ctl.<field>". The assertions below catch a field
 * added to either struct but not here.
 */
#define DIRECTOR_COUNTERS(X)							\
	X(pins) X(moving) X(jobs) X(rings_published) X(pins_expired)		\
	X(moves_started) X(kicks) X(pin_buckets)
#define CTL_COUNTERS(X)								\
	X(received) X(sent) X(restarts) X(states_applied) X(states_refused)	\
	X(requests_failed) X(errors_sent) X(kicks)
#define ONE(f) +1
_Static_assert(sizeof(struct pm_director_stats) == (0 DIRECTOR_COUNTERS(ONE)) * sizeof(uint64_t),
	       "every pm_director_stats field is listed in DIRECTOR_COUNTERS");
_Static_assert(sizeof(struct pm_ctl_stats) == (0 CTL_COUNTERS(ONE)) * sizeof(uint64_t),
	       "every pm_ctl_stats field is listed in CTL_COUNTERS");
#undef ONE

/* A state being received (STATE_BEGIN .. STATE_COMMIT). */
struct state_rx {
	uint64_t generation;
	struct pm_ctlmsg_state_begin begin;
	struct pm_director_host_state *hosts;	/* tag pointers set at commit */
	size_t *tag_off;			/* each host's tag in arena */
	size_t n, cap;
	uint64_t received;			/* entries received, stored or not */
	char *arena;
	size_t arena_len, arena_cap;
	bool nomem;
};

struct pm_ctl {
	struct pm_director *d;
	pm_ctl_send_fn send;
	void *send_arg;
	uint32_t pid;
	uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN];
	pm_ctl_counters_fn counters;
	void *counters_arg;
	pm_kick_cb kick;
	void *kick_arg;

	enum pm_ctl_state state;
	uint64_t applied;		/* outlives connections */
	bool held;			/* the send callback said FULL */
	struct state_rx rx;
	struct list_out list;

	struct pending_reset *resets;	/* RESET_USERS waiting for their job */
	size_t nresets, cap_resets;
	bool in_reset;			/* inside pm_director_reset_users() */
	uint64_t reset_done_now;	/* a job that finished inside it */

	struct pm_ctl_stats st;
	uint8_t tx[PM_CTLMSG_MAX];
};

/* ---- helpers -------------------------------------------------------------------- */

static const char *
addr_str(const struct pm_addr *a, char *buf, size_t size)
{
	if (a->family == PM_AF_NONE)
		snprintf(buf, size, "all");
	else if (pm_addr_format(a, buf, size) < 0)
		snprintf(buf, size, "?");
	return buf;
}

static const char *
type_name(uint16_t type, char *buf, size_t size)
{
	const char *n = pm_ctlmsg_type_name(type);

	if (n != NULL)
		return n;
	snprintf(buf, size, "type %u", type);
	return buf;
}

static const char *
err_code_name(uint16_t code)
{
	switch (code) {
	case PM_CTLMSG_ERR_BUSY:
		return "BUSY";
	case PM_CTLMSG_ERR_VERSION:
		return "VERSION";
	case PM_CTLMSG_ERR_MALFORMED:
		return "MALFORMED";
	case PM_CTLMSG_ERR_UNEXPECTED:
		return "UNEXPECTED";
	case PM_CTLMSG_ERR_INTERNAL:
		return "INTERNAL";
	default:
		return NULL;
	}
}

/* Hand one datagram to the caller. A failure ends the connection. */
static void
emit(struct pm_ctl *c, const void *buf, size_t len)
{
	int rc;

	if (c->state == PM_CTL_CLOSED)
		return;
	rc = c->send(c->send_arg, buf, len);
	if (rc < 0) {
		/* The callback's owner knows why and logs it. */
		pm_log(PM_LOG_DEBUG, "control channel: a datagram was refused (%s); closing",
		       strerror(-rc));
		c->state = PM_CTL_CLOSED;
		return;
	}
	c->st.sent++;
	if (rc == PM_CTL_SEND_FULL)
		c->held = true;
}

static void
send_msg(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	int len = pm_ctlmsg_encode(m, c->tx, sizeof(c->tx));

	if (len < 0) {
		/* Every message built here is valid; this is a bug. */
		pm_log(PM_LOG_ERR, "control channel: internal error: cannot encode %s (%s); "
		       "closing", pm_ctlmsg_type_name(m->type), pm_ctlmsg_strerror(len));
		c->state = PM_CTL_CLOSED;
		return;
	}
	emit(c, c->tx, (size_t)len);
}

static enum pm_ctl_rc
result(const struct pm_ctl *c)
{
	return c->state == PM_CTL_CLOSED ? PM_CTL_CLOSE : PM_CTL_OK;
}

/* Send ERROR @code with a reason, log it once, and end the connection. */
static enum pm_ctl_rc __attribute__((format(printf, 4, 5)))
refuse(struct pm_ctl *c, uint16_t code, uint64_t request_id, const char *fmt, ...)
{
	struct pm_ctlmsg e;
	va_list ap;

	pm_ctlmsg_init(&e, PM_CTLMSG_ERROR, request_id, c->applied);
	e.u.error.code = code;
	va_start(ap, fmt);
	vsnprintf(e.u.error.reason, sizeof(e.u.error.reason), fmt, ap);
	va_end(ap);
	pm_log(PM_LOG_ERR, "control channel: %s; sending ERROR %s and closing", e.u.error.reason,
	       err_code_name(code));
	send_msg(c, &e);
	c->st.errors_sent++;
	c->state = PM_CTL_CLOSED;
	return PM_CTL_CLOSE;
}

/* REPLY to @req with status 0 and the body in @r (req_type and status are
 * set here). */
static void
reply_ok(struct pm_ctl *c, const struct pm_ctlmsg *req, struct pm_ctlmsg *r)
{
	r->type = PM_CTLMSG_REPLY;
	r->flags = 0;
	r->request_id = req->request_id;
	r->generation = c->applied;
	r->u.reply.req_type = req->type;
	r->u.reply.status = 0;
	send_msg(c, r);
}

static void
reply_ok_empty(struct pm_ctl *c, const struct pm_ctlmsg *req)
{
	struct pm_ctlmsg r;

	memset(&r, 0, sizeof(r));
	reply_ok(c, req, &r);
}

/* REPLY to @req with @status < 0 and a reason; the connection stays up. */
static void __attribute__((format(printf, 4, 5)))
reply_err(struct pm_ctl *c, const struct pm_ctlmsg *req, int status, const char *fmt, ...)
{
	struct pm_ctlmsg r;
	va_list ap;

	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, req->request_id, c->applied);
	r.u.reply.req_type = req->type;
	r.u.reply.status = status;
	va_start(ap, fmt);
	vsnprintf(r.u.reply.reason, sizeof(r.u.reply.reason), fmt, ap);
	va_end(ap);
	c->st.requests_failed++;
	pm_log(PM_LOG_DEBUG, "%s (request %llu) failed: %s", pm_ctlmsg_type_name(req->type),
	       (unsigned long long)req->request_id, r.u.reply.reason);
	send_msg(c, &r);
}

/* The reason text of a host operation's failure, Dovecot's where it has one. */
static void
reply_host_err(struct pm_ctl *c, const struct pm_ctlmsg *req, int status,
	       const struct pm_addr *a)
{
	char ab[PM_ADDR_STRLEN];

	addr_str(a, ab, sizeof(ab));
	switch (status) {
	case -ENOENT:
		reply_err(c, req, status, "host %s doesn't exist", ab);
		break;
	case -E2BIG:
		reply_err(c, req, status, "vhost count too large");
		break;
	case -EEXIST:
		reply_err(c, req, status, "host tag can't be changed");
		break;
	case -EAGAIN:
		reply_err(c, req, status, "user is already being moved");
		break;
	case -ENOSPC:
		reply_err(c, req, status, "host %s: too many hosts or tags", ab);
		break;
	default:
		reply_err(c, req, status, "host %s: %s", ab, strerror(-status));
		break;
	}
}

/* ---- per-connection state -------------------------------------------------------- */

static void
rx_clear(struct state_rx *rx)
{
	free(rx->hosts);
	free(rx->tag_off);
	free(rx->arena);
	memset(rx, 0, sizeof(*rx));
}

static void
list_clear(struct list_out *l)
{
	free(l->users);
	free(l->hosts);
	free(l->counters);
	memset(l, 0, sizeof(*l));
}

void
pm_ctl_restart(struct pm_ctl *c)
{
	rx_clear(&c->rx);
	list_clear(&c->list);
	c->nresets = 0;
	c->held = false;
	c->state = PM_CTL_HELLO;
	c->st.restarts++;
}

/* ---- director callbacks ---------------------------------------------------------- */

static void
on_kick(void *arg, const struct pm_kick *k)
{
	struct pm_ctl *c = arg;
	char ab[PM_ADDR_STRLEN];

	c->st.kicks++;
	if (c->kick != NULL)
		c->kick(c->kick_arg, k);
	if (!pm_log_enabled(PM_LOG_DEBUG))
		return;
	switch (k->kind) {
	case PM_KICK_HASH:
		pm_log(PM_LOG_DEBUG, "kick: user hash %u, tag %u%s%s", k->user_hash, k->tag,
		       k->has_except ? ", except on " : "",
		       k->has_except ? addr_str(&k->except_host, ab, sizeof(ab)) : "");
		break;
	case PM_KICK_USER:
		pm_log(PM_LOG_DEBUG, "kick: user %s", k->user);
		break;
	case PM_KICK_ALT:
		pm_log(PM_LOG_DEBUG, "kick: sessions with %s=%s", k->field, k->value);
		break;
	}
}

/* A RESET_USERS job has dispatched every user: answer its request now. */
static void
on_job_done(void *arg, uint64_t job_id)
{
	struct pm_ctl *c = arg;
	struct pm_ctlmsg req, r;
	size_t i;

	for (i = 0; i < c->nresets; i++) {
		if (c->resets[i].job_id == job_id)
			break;
	}
	if (i == c->nresets) {
		/* Inside pm_director_reset_users(): the job is not filed yet.
		 * Otherwise its connection is gone and nobody waits. */
		if (c->in_reset)
			c->reset_done_now = job_id;
		return;
	}
	pm_ctlmsg_init(&req, PM_CTLMSG_RESET_USERS, c->resets[i].request_id, 0);
	c->resets[i] = c->resets[--c->nresets];
	memset(&r, 0, sizeof(r));
	reply_ok(c, &req, &r);
}

/* ---- lists ------------------------------------------------------------------------ */

/* Send parts of the pending list until it is done or (unless @force) the
 * caller's queue is full. */
static void
list_pump(struct pm_ctl *c, bool force)
{
	struct list_out *l = &c->list;

	while (l->type != 0 && c->state != PM_CTL_CLOSED && (force || !c->held)) {
		struct pm_ctlmsg_writer w;
		bool last;
		int len, rc;

		if (pm_ctlmsg_chunk_begin(&w, c->tx, sizeof(c->tx), l->type, l->request_id,
					  c->applied) < 0) {
			/* Cannot happen (a valid type and request id); never
			 * leave the caller waiting for parts that will not come. */
			pm_log(PM_LOG_ERR, "internal error: cannot start a list part; closing");
			list_clear(l);
			c->state = PM_CTL_CLOSED;
			break;
		}
		while (l->pos < l->n) {
			if (l->type == PM_CTLMSG_USER_LIST_PART)
				rc = pm_ctlmsg_chunk_add_user(&w, &l->users[l->pos]);
			else if (l->type == PM_CTLMSG_COUNTERS_PART)
				rc = pm_ctlmsg_chunk_add_counter(&w, &l->counters[l->pos]);
			else
				rc = pm_ctlmsg_chunk_add_host(&w, &l->hosts[l->pos]);
			if (rc == -ENOSPC)
				break;	/* an empty chunk has room for any entry */
			if (rc < 0)
				pm_log(PM_LOG_ERR, "internal error: list entry %zu refused (%s)",
				       l->pos, pm_ctlmsg_strerror(rc));
			l->pos++;
		}
		last = l->pos == l->n;
		len = pm_ctlmsg_chunk_finish(&w, last);
		if (last)
			list_clear(l);
		if (len > 0)
			emit(c, c->tx, (size_t)len);
	}
}

static bool
list_grow(struct list_out *l)
{
	size_t ncap = l->cap ? l->cap * 2 : 256;
	void *p;

	if (l->type == PM_CTLMSG_USER_LIST_PART)
		p = realloc(l->users, ncap * sizeof(*l->users));
	else if (l->type == PM_CTLMSG_COUNTERS_PART)
		p = realloc(l->counters, ncap * sizeof(*l->counters));
	else
		p = realloc(l->hosts, ncap * sizeof(*l->hosts));
	if (p == NULL) {
		l->nomem = true;
		return false;
	}
	if (l->type == PM_CTLMSG_USER_LIST_PART)
		l->users = p;
	else if (l->type == PM_CTLMSG_COUNTERS_PART)
		l->counters = p;
	else
		l->hosts = p;
	l->cap = ncap;
	return true;
}

static void
collect_user(void *arg, const struct pm_user_info *u)
{
	struct list_out *l = arg;
	struct pm_ctlmsg_user *e;

	if (l->nomem || (l->n == l->cap && !list_grow(l)))
		return;
	e = &l->users[l->n++];
	memset(e, 0, sizeof(*e));
	e->user_hash = u->user_hash;
	e->expire_s = u->expire_s;
	e->addr = u->host;
	e->tag_index = u->tag;
	e->pin_flags = (uint8_t)((u->weak ? PM_CTLMSG_PIN_WEAK : 0) |
				 (u->moving ? PM_CTLMSG_PIN_MOVING : 0));
}

static void
collect_host(void *arg, const struct pm_host_info *h)
{
	struct list_out *l = arg;
	struct pm_ctlmsg_host *e;

	if (l->nomem || (l->n == l->cap && !list_grow(l)))
		return;
	e = &l->hosts[l->n++];
	memset(e, 0, sizeof(*e));
	e->addr = h->addr;
	e->vhosts = h->vhosts;
	e->down = h->down;
	e->last_updown_s = h->last_updown_s > 0 ? h->last_updown_s : 0;
	e->user_count = h->user_count;
	e->tag_index = h->tag_index;
	snprintf(e->tag, sizeof(e->tag), "%s", h->tag);
}

static void
on_list(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	struct list_out *l = &c->list;

	l->request_id = m->request_id;
	if (m->type == PM_CTLMSG_USER_LIST) {
		const struct pm_addr *a = &m->u.user_list.addr;

		l->type = PM_CTLMSG_USER_LIST_PART;
		if (pm_director_user_list(c->d, a->family == PM_AF_NONE ? NULL : a, now_ms,
					  collect_user, l) < 0)
			l->nomem = true;
	} else {
		l->type = PM_CTLMSG_HOST_LIST_PART;
		pm_director_host_list(c->d, now_ms, collect_host, l);
	}
	if (l->nomem) {
		list_clear(l);
		reply_err(c, m, -ENOMEM, "out of memory listing");
		return;
	}
	list_pump(c, false);
}

/* The emit callback of COUNTERS (pm_ctl_counter_emit_fn): one counter into
 * the snapshot, unless its name cannot go on the wire. */
static void
collect_counter(void *arg, const char *name, uint64_t value)
{
	struct list_out *l = arg;
	struct pm_ctlmsg_counter *e;
	size_t i;

	if (!pm_ctlmsg_counter_name_ok(name)) {
		if (l->bad_names++ == 0) {
			for (i = 0; i < sizeof(l->bad_name) - 1 && name[i] != '\0'; i++)
				l->bad_name[i] = (unsigned char)name[i] < 0x20 ||
							 (unsigned char)name[i] >= 0x7f
							 ? '?' : name[i];
			l->bad_name[i] = '\0';
		}
		return;
	}
	if (l->nomem || (l->n == l->cap && !list_grow(l)))
		return;
	e = &l->counters[l->n++];
	memset(e, 0, sizeof(*e));
	/* Checked above: 1..PM_CTLMSG_COUNTER_NAME_MAX bytes. */
	memcpy(e->name, name, strnlen(name, PM_CTLMSG_COUNTER_NAME_MAX));
	e->value = value;
}

static void
on_counters(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	struct list_out *l = &c->list;
	struct pm_director_stats ds;
	struct pm_ctl_stats cs = c->st;

	l->request_id = m->request_id;
	l->type = PM_CTLMSG_COUNTERS_PART;
	pm_director_stats(c->d, &ds);
#define X(f) collect_counter(l, "director." #f, ds.f);
	DIRECTOR_COUNTERS(X)
#undef X
#define X(f) collect_counter(l, "ctl." #f, cs.f);
	CTL_COUNTERS(X)
#undef X
	if (c->counters != NULL)
		c->counters(c->counters_arg, collect_counter, l);
	if (l->bad_names > 0)
		pm_log(PM_LOG_WARN, "COUNTERS (request %llu): %zu counter(s) with a name that "
		       "is not 1-%u bytes of [A-Za-z0-9_.-] left out, the first \"%s\"",
		       (unsigned long long)m->request_id, l->bad_names,
		       PM_CTLMSG_COUNTER_NAME_MAX, l->bad_name);
	if (l->nomem) {
		list_clear(l);
		reply_err(c, m, -ENOMEM, "out of memory listing counters");
		return;
	}
	list_pump(c, false);
}

/* ---- handshake and state transfer -------------------------------------------------- */

static enum pm_ctl_rc
on_hello(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	const struct pm_ctlmsg_hello *h = &m->u.hello;
	struct pm_director_stats ds;
	struct pm_ctlmsg ack;

	if (h->proto_min > CTL_PROTO_MAX || h->proto_max < CTL_PROTO_MIN)
		return refuse(c, PM_CTLMSG_ERR_VERSION, m->request_id,
			      "control speaks %u..%u, data plane %u..%u", h->proto_min,
			      h->proto_max, CTL_PROTO_MIN, CTL_PROTO_MAX);
	pm_director_stats(c->d, &ds);
	pm_ctlmsg_init(&ack, PM_CTLMSG_HELLO_ACK, m->request_id, c->applied);
	ack.u.hello_ack.pid = c->pid;
	ack.u.hello_ack.version = h->proto_max < CTL_PROTO_MAX ? h->proto_max : CTL_PROTO_MAX;
	ack.u.hello_ack.has_pins = ds.pins > 0;
	memcpy(ack.u.hello_ack.boot_id, c->boot_id, sizeof(c->boot_id));
	send_msg(c, &ack);
	if (c->state == PM_CTL_CLOSED)
		return PM_CTL_CLOSE;
	c->state = PM_CTL_READY;
	pm_log(PM_LOG_INFO, "control channel: HELLO from postmux-control pid %u; protocol %u, "
	       "applied generation %llu, %llu pins", h->pid, ack.u.hello_ack.version,
	       (unsigned long long)c->applied, (unsigned long long)ds.pins);
	return PM_CTL_OK;
}

static void
on_state_begin(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	rx_clear(&c->rx);
	c->rx.generation = m->generation;
	c->rx.begin = m->u.state_begin;
	c->state = PM_CTL_STATE;
}

static bool
rx_store(struct state_rx *rx, const struct pm_ctlmsg_host *h)
{
	size_t tl = strlen(h->tag);

	if (rx->n == rx->cap) {
		size_t ncap = rx->cap ? rx->cap * 2 : 64;
		void *nh = realloc(rx->hosts, ncap * sizeof(*rx->hosts));

		if (nh == NULL)
			return false;
		rx->hosts = nh;
		nh = realloc(rx->tag_off, ncap * sizeof(*rx->tag_off));
		if (nh == NULL)
			return false;
		rx->tag_off = nh;
		rx->cap = ncap;
	}
	if (rx->arena_cap - rx->arena_len < tl + 1) {
		size_t ncap = rx->arena_cap ? rx->arena_cap * 2 : 4096;
		char *na;

		while (ncap - rx->arena_len < tl + 1)
			ncap *= 2;
		na = realloc(rx->arena, ncap);
		if (na == NULL)
			return false;
		rx->arena = na;
		rx->arena_cap = ncap;
	}
	memcpy(rx->arena + rx->arena_len, h->tag, tl + 1);
	rx->tag_off[rx->n] = rx->arena_len;
	rx->arena_len += tl + 1;
	rx->hosts[rx->n] = (struct pm_director_host_state){
		.addr = h->addr,
		.vhosts = h->vhosts,
		.down = h->down,
		.last_updown_s = h->last_updown_s,
	};
	rx->n++;
	return true;
}

static void
on_state_hosts(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	struct state_rx *rx = &c->rx;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host h;

	pm_ctlmsg_iter_init(&it, m);
	while (pm_ctlmsg_iter_host(&it, &h)) {
		rx->received++;
		/* More than the ring can hold is refused at commit; storing
		 * stops there so a hostile count cannot exhaust memory. */
		if (rx->nomem || rx->n >= PM_RING_MAX_HOSTS)
			continue;
		if (!rx_store(rx, &h))
			rx->nomem = true;
	}
}

/* Refuse the state being committed: REPLY < 0, nothing changed. */
static void __attribute__((format(printf, 4, 5)))
state_refuse(struct pm_ctl *c, const struct pm_ctlmsg *m, int status, const char *fmt, ...)
{
	char why[PM_CTLMSG_REASON_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->st.states_refused++;
	pm_log(PM_LOG_ERR, "state %llu refused: %s; keeping generation %llu",
	       (unsigned long long)m->generation, why, (unsigned long long)c->applied);
	reply_err(c, m, status, "%s", why);
}

static void
on_state_commit(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	struct state_rx *rx = &c->rx;
	const struct pm_ctlmsg_state_begin *b = &rx->begin;
	struct pm_director_config cfg = *pm_director_config(c->d);
	struct pm_director_apply_result res;
	struct pm_director_stats ds;
	char why[256], ab[PM_ADDR_STRLEN];
	long forgotten;
	size_t i;
	int rc;

	c->state = PM_CTL_READY;
	if (rx->received != b->nhosts) {
		state_refuse(c, m, -EINVAL, "%llu hosts received, STATE_BEGIN announced %u",
			     (unsigned long long)rx->received, b->nhosts);
		goto out;
	}
	if (rx->received > PM_RING_MAX_HOSTS) {
		state_refuse(c, m, -EINVAL, "%u hosts, at most %u are allowed", b->nhosts,
			     PM_RING_MAX_HOSTS);
		goto out;
	}
	if (rx->nomem) {
		state_refuse(c, m, -ENOMEM, "out of memory receiving the state");
		goto out;
	}
	for (i = 0; i < rx->n; i++) {
		if (rx->hosts[i].vhosts > PM_RING_MAX_VHOSTS) {
			state_refuse(c, m, -EINVAL, "host %s: vhost count %u too large (max %u)",
				     addr_str(&rx->hosts[i].addr, ab, sizeof(ab)),
				     rx->hosts[i].vhosts, PM_RING_MAX_VHOSTS);
			goto out;
		}
		rx->hosts[i].tag = rx->arena + rx->tag_off[i];
	}
	if (pm_userhash_compile(&cfg.hash_fmt, b->hash_template, b->master_sep, why,
				sizeof(why)) < 0) {
		state_refuse(c, m, -EINVAL, "director_username_hash: %s", why);
		goto out;
	}
	cfg.user_expire_s = b->user_expire_s;
	cfg.kick_delay_ms = b->kick_delay_ms;
	cfg.max_parallel_moves = b->max_parallel_moves;
	cfg.max_parallel_kicks = b->max_parallel_kicks;
	if (b->user_expire_s < 10) {
		state_refuse(c, m, -EINVAL, "director_user_expire %u s is below 10 s",
			     b->user_expire_s);
		goto out;
	}
	if (b->max_parallel_moves == 0 || b->max_parallel_kicks == 0) {
		state_refuse(c, m, -EINVAL, "director_max_parallel_%s must be at least 1",
			     b->max_parallel_moves == 0 ? "moves" : "kicks");
		goto out;
	}
	rc = pm_director_set_hosts(c->d, rx->hosts, rx->n, now_ms, &res);
	if (rc < 0) {
		if (rc == -EEXIST || rc == -EINVAL || rc == -E2BIG)
			state_refuse(c, m, -EINVAL, "host %s: %s",
				     addr_str(&rx->hosts[res.bad].addr, ab, sizeof(ab)),
				     rc == -EEXIST ? "given twice" :
				     rc == -E2BIG ? "vhost count too large" : "bad address");
		else if (rc == -ENOSPC)
			state_refuse(c, m, -EINVAL, "too many hosts or tags");
		else
			state_refuse(c, m, rc, "%s", strerror(-rc));
		goto out;
	}
	/* Checked above: only memory can refuse it now (the hosts are set:
	 * the next state sets the config again). */
	forgotten = pm_director_set_config(c->d, &cfg, now_ms);
	if (forgotten < 0) {
		state_refuse(c, m, (int)forgotten, "director settings: %s",
			     strerror((int)-forgotten));
		goto out;
	}
	if (forgotten > 0)
		pm_log(PM_LOG_WARN, "state %llu: director_username_hash or the master user "
		       "separator changed: all %ld pins forgotten",
		       (unsigned long long)m->generation, forgotten);
	c->applied = m->generation;
	c->st.states_applied++;
	if (forgotten > 0)
		res.pins_forgotten += (uint64_t)forgotten;
	pm_director_stats(c->d, &ds);
	pm_log(PM_LOG_INFO, "state %llu applied: %zu hosts (%u new, %u changed, %u removed, "
	       "%u retagged), %llu pins forgotten, %llu pins kept",
	       (unsigned long long)m->generation, rx->n, res.created, res.updated, res.removed,
	       res.retagged, (unsigned long long)res.pins_forgotten, (unsigned long long)ds.pins);
	reply_ok_empty(c, m);
out:
	rx_clear(rx);
}

/* ---- requests ---------------------------------------------------------------------- */

static const struct pm_addr *
addr_or_all(const struct pm_addr *a)
{
	return a->family == PM_AF_NONE ? NULL : a;
}

static void
on_host_set(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_host_set *h = &m->u.host_set;
	int vhosts = h->vhosts == PM_CTLMSG_VHOSTS_KEEP ? -1 : h->vhosts;
	char ab[PM_ADDR_STRLEN];
	struct pm_host_info hi;
	int rc;

	rc = pm_director_host_set(c->d, &h->addr, h->tag, vhosts, h->create, now_ms);
	if (rc < 0) {
		reply_host_err(c, m, rc, &h->addr);
		return;
	}
	c->applied = m->generation;
	if (pm_director_host_get(c->d, &h->addr, now_ms, &hi) == 0)
		pm_log(PM_LOG_INFO, "host %s%s%s: %s, %u vhosts (generation %llu)",
		       addr_str(&h->addr, ab, sizeof(ab)), hi.tag[0] ? "@" : "", hi.tag,
		       h->create ? "set" : "updated", hi.vhosts,
		       (unsigned long long)m->generation);
	reply_ok_empty(c, m);
}

static void
on_host_updown(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_host_updown *h = &m->u.host_updown;
	char ab[PM_ADDR_STRLEN];
	int rc;

	rc = pm_director_host_updown(c->d, &h->addr, h->down, now_ms);
	if (rc < 0) {
		reply_host_err(c, m, rc, &h->addr);
		return;
	}
	c->applied = m->generation;
	pm_log(PM_LOG_INFO, "host %s: %s (generation %llu)", addr_str(&h->addr, ab, sizeof(ab)),
	       h->down ? "down" : "up", (unsigned long long)m->generation);
	reply_ok_empty(c, m);
}

static void
on_host_remove(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_addr *a = &m->u.host_remove.addr;
	char ab[PM_ADDR_STRLEN];
	int rc;

	rc = pm_director_host_remove(c->d, a, now_ms);
	if (rc < 0) {
		reply_host_err(c, m, rc, a);
		return;
	}
	c->applied = m->generation;
	pm_log(PM_LOG_INFO, "host %s: removed (generation %llu)", addr_str(a, ab, sizeof(ab)),
	       (unsigned long long)m->generation);
	reply_ok_empty(c, m);
}

static void
on_host_flush(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_addr *a = &m->u.host_flush.addr;
	char ab[PM_ADDR_STRLEN];
	struct pm_ctlmsg r;
	long n;

	n = pm_director_host_flush(c->d, addr_or_all(a), now_ms);
	if (n < 0) {
		reply_host_err(c, m, (int)n, a);
		return;
	}
	pm_log(PM_LOG_INFO, "host %s: flushed, %ld pins forgotten", addr_str(a, ab, sizeof(ab)),
	       n);
	memset(&r, 0, sizeof(r));
	r.u.reply.body.host_flush.forgotten = (uint64_t)n;
	reply_ok(c, m, &r);
}

static void
on_reset_users(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_reset_users *ru = &m->u.reset_users;
	char ab[PM_ADDR_STRLEN];
	int64_t job;

	c->in_reset = true;
	c->reset_done_now = 0;
	job = pm_director_reset_users(c->d, addr_or_all(&ru->addr), ru->max_parallel, now_ms);
	c->in_reset = false;
	if (job < 0) {
		reply_host_err(c, m, (int)job, &ru->addr);
		return;
	}
	pm_log(PM_LOG_INFO, "host %s: resetting users (job %lld, max parallel %u)",
	       addr_str(&ru->addr, ab, sizeof(ab)), (long long)job,
	       ru->max_parallel ? ru->max_parallel : pm_director_config(c->d)->max_parallel_moves);
	if (c->reset_done_now == (uint64_t)job) {
		reply_ok_empty(c, m);
		return;
	}
	if (c->nresets == c->cap_resets) {
		size_t ncap = c->cap_resets ? c->cap_resets * 2 : 8;
		struct pending_reset *nr = realloc(c->resets, ncap * sizeof(*nr));

		if (nr == NULL) {
			/* The job runs anyway; only the wait for it is lost. */
			pm_log(PM_LOG_WARN, "out of memory: RESET_USERS request %llu answered "
			       "before job %lld has finished",
			       (unsigned long long)m->request_id, (long long)job);
			reply_ok_empty(c, m);
			return;
		}
		c->resets = nr;
		c->cap_resets = ncap;
	}
	c->resets[c->nresets++] = (struct pending_reset){ .job_id = (uint64_t)job,
							  .request_id = m->request_id };
}

static void
on_user_move(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_user_move *um = &m->u.user_move;
	char ab[PM_ADDR_STRLEN];
	int rc;

	rc = pm_director_user_move(c->d, um->user_hash, &um->addr, now_ms);
	if (rc < 0) {
		reply_host_err(c, m, rc, &um->addr);
		return;
	}
	pm_log(PM_LOG_INFO, "user hash %u moved to %s", um->user_hash,
	       addr_str(&um->addr, ab, sizeof(ab)));
	reply_ok_empty(c, m);
}

static void
on_user_assign(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_user_assign *ua = &m->u.user_assign;
	struct pm_dir_answer ans;
	enum pm_dir_status st = PM_DIR_NOHOST;
	struct pm_ctlmsg r;
	uint32_t hash;
	int tag;

	/* An unknown tag has no hosts: the login cannot be placed, as in
	 * Dovecot (spec 1.4), and asking creates no tag. */
	memset(&ans, 0, sizeof(ans));
	tag = pm_director_tag(c->d, ua->tag, false);
	if (tag >= 0) {
		hash = pm_director_hash(c->d, ua->user, strlen(ua->user));
		st = pm_director_login(c->d, (uint16_t)tag, hash, 0, now_ms, &ans);
	}
	memset(&r, 0, sizeof(r));
	switch (st) {
	case PM_DIR_PINNED:
	case PM_DIR_HASHED:
		r.u.reply.body.user_assign.result = st == PM_DIR_PINNED ? PM_CTLMSG_ASSIGN_PINNED :
									  PM_CTLMSG_ASSIGN_HASHED;
		r.u.reply.body.user_assign.addr = ans.host;
		r.u.reply.body.user_assign.expire_s = ans.expire_s;
		break;
	case PM_DIR_WAIT:
		r.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_WAIT;
		break;
	case PM_DIR_NOHOST:
		r.u.reply.body.user_assign.result = PM_CTLMSG_ASSIGN_NOHOST;
		break;
	}
	reply_ok(c, m, &r);
}

static void
on_user_lookup(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	const struct pm_ctlmsg_user_lookup *ul = &m->u.user_lookup;
	struct pm_user_info pin;
	struct pm_addr hashed;
	struct pm_ctlmsg r;
	int tag;

	tag = pm_director_tag(c->d, ul->tag, false);
	if (tag < 0 || pm_director_user_lookup(c->d, (uint16_t)tag, ul->user_hash, now_ms, &pin,
					       &hashed) < 0) {
		reply_err(c, m, -ENOENT, "unknown tag '%s'", ul->tag);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.u.reply.body.user_lookup.cur = pin.host;
	if (pin.host.family != PM_AF_NONE) {
		r.u.reply.body.user_lookup.expire_s = pin.expire_s;
		r.u.reply.body.user_lookup.pin_flags =
			(uint8_t)((pin.weak ? PM_CTLMSG_PIN_WEAK : 0) |
				  (pin.moving ? PM_CTLMSG_PIN_MOVING : 0));
	}
	r.u.reply.body.user_lookup.hashed = hashed;
	reply_ok(c, m, &r);
}

static void
on_stats(struct pm_ctl *c, const struct pm_ctlmsg *m)
{
	struct pm_director_stats ds;
	struct pm_ctlmsg r;

	pm_director_stats(c->d, &ds);
	pm_ctlmsg_init(&r, PM_CTLMSG_STATS_REPLY, m->request_id, c->applied);
	r.u.stats.pins = ds.pins;
	r.u.stats.moving = ds.moving;
	r.u.stats.jobs = ds.jobs;
	r.u.stats.rings_published = ds.rings_published;
	r.u.stats.pins_expired = ds.pins_expired;
	r.u.stats.moves_started = ds.moves_started;
	r.u.stats.kicks = ds.kicks;
	r.u.stats.pin_buckets = ds.pin_buckets;
	send_msg(c, &r);
}

/* A request in state READY. */
static enum pm_ctl_rc
on_request(struct pm_ctl *c, const struct pm_ctlmsg *m, uint64_t now_ms)
{
	struct pm_ctlmsg r;
	char tn[16];

	switch (m->type) {
	case PM_CTLMSG_HELLO:
		return refuse(c, PM_CTLMSG_ERR_UNEXPECTED, m->request_id,
			      "a second HELLO (request %llu)", (unsigned long long)m->request_id);
	case PM_CTLMSG_STATE_HOSTS:
	case PM_CTLMSG_STATE_COMMIT:
		return refuse(c, PM_CTLMSG_ERR_UNEXPECTED, m->request_id,
			      "%s of generation %llu without STATE_BEGIN",
			      pm_ctlmsg_type_name(m->type), (unsigned long long)m->generation);
	case PM_CTLMSG_STATE_BEGIN:
		on_state_begin(c, m);
		break;
	case PM_CTLMSG_HOST_SET:
		on_host_set(c, m, now_ms);
		break;
	case PM_CTLMSG_HOST_UPDOWN:
		on_host_updown(c, m, now_ms);
		break;
	case PM_CTLMSG_HOST_REMOVE:
		on_host_remove(c, m, now_ms);
		break;
	case PM_CTLMSG_HOST_FLUSH:
		on_host_flush(c, m, now_ms);
		break;
	case PM_CTLMSG_RESET_USERS:
		on_reset_users(c, m, now_ms);
		break;
	case PM_CTLMSG_USER_MOVE:
		on_user_move(c, m, now_ms);
		break;
	case PM_CTLMSG_USER_KICK:
		pm_director_user_kick(c->d, m->u.user_kick.user);
		reply_ok_empty(c, m);
		break;
	case PM_CTLMSG_USER_KICK_ALT:
		pm_director_user_kick_alt(c->d, m->u.user_kick_alt.field, m->u.user_kick_alt.value);
		reply_ok_empty(c, m);
		break;
	case PM_CTLMSG_USER_ASSIGN:
		on_user_assign(c, m, now_ms);
		break;
	case PM_CTLMSG_USER_LOOKUP:
		on_user_lookup(c, m, now_ms);
		break;
	case PM_CTLMSG_USER_LIST:
	case PM_CTLMSG_HOST_LIST:
		on_list(c, m, now_ms);
		break;
	case PM_CTLMSG_STATS:
		on_stats(c, m);
		break;
	case PM_CTLMSG_COUNTERS:
		on_counters(c, m);
		break;
	case PM_CTLMSG_PING:
		pm_ctlmsg_init(&r, PM_CTLMSG_PONG, m->request_id, c->applied);
		send_msg(c, &r);
		break;
	default:
		/* Every type the decoder accepts towards the data plane is
		 * handled above. */
		return refuse(c, PM_CTLMSG_ERR_INTERNAL, m->request_id, "%s is not implemented",
			      type_name(m->type, tn, sizeof(tn)));
	}
	return result(c);
}

/* ---- entry points ------------------------------------------------------------------ */

static enum pm_ctl_rc
refuse_undecodable(struct pm_ctl *c, const void *buf, size_t len, int err)
{
	uint16_t code = err == -EPROTONOSUPPORT ? PM_CTLMSG_ERR_VERSION : PM_CTLMSG_ERR_MALFORMED;
	struct pm_ctlmsg_hdr h;
	char tn[16];

	if (pm_ctlmsg_peek(buf, len, &h) < 0)
		return refuse(c, code, 0, "%s (%zu bytes)", pm_ctlmsg_strerror(err), len);
	if (err == -EPROTONOSUPPORT)
		return refuse(c, code, h.request_id, "%s %u (%s, request %llu; data plane speaks "
			      "%u)", pm_ctlmsg_strerror(err), h.version,
			      type_name(h.type, tn, sizeof(tn)),
			      (unsigned long long)h.request_id, PM_CTLMSG_VERSION);
	return refuse(c, code, h.request_id, "%s (%s, request %llu)", pm_ctlmsg_strerror(err),
		      type_name(h.type, tn, sizeof(tn)), (unsigned long long)h.request_id);
}

enum pm_ctl_rc
pm_ctl_input(struct pm_ctl *c, const void *buf, size_t len, uint64_t now_ms)
{
	struct pm_ctlmsg m;
	const char *code;
	int rc;

	if (c->state == PM_CTL_CLOSED)
		return PM_CTL_CLOSE;
	c->st.received++;
	/* Requests are handled one at a time: finish the previous answer. */
	list_pump(c, true);
	if (c->state == PM_CTL_CLOSED)
		return PM_CTL_CLOSE;
	rc = pm_ctlmsg_decode(&m, buf, len);
	if (rc < 0)
		return refuse_undecodable(c, buf, len, rc);
	if (m.type == PM_CTLMSG_ERROR) {
		code = err_code_name(m.u.error.code);
		if (code != NULL)
			pm_log(PM_LOG_ERR, "control channel: postmux-control sent ERROR %s: %s; "
			       "closing", code, m.u.error.reason);
		else
			pm_log(PM_LOG_ERR, "control channel: postmux-control sent ERROR %u: %s; "
			       "closing", m.u.error.code, m.u.error.reason);
		c->state = PM_CTL_CLOSED;
		return PM_CTL_CLOSE;
	}
	if (!(pm_ctlmsg_direction(m.type) & PM_CTLMSG_TO_DP))
		return refuse(c, PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
			      "%s is sent by the data plane, not to it (request %llu)",
			      pm_ctlmsg_type_name(m.type), (unsigned long long)m.request_id);
	switch (c->state) {
	case PM_CTL_HELLO:
		if (m.type != PM_CTLMSG_HELLO)
			return refuse(c, PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
				      "%s before HELLO (request %llu)", pm_ctlmsg_type_name(m.type),
				      (unsigned long long)m.request_id);
		return on_hello(c, &m);
	case PM_CTL_STATE:
		if (m.type == PM_CTLMSG_STATE_HOSTS && m.generation == c->rx.generation) {
			on_state_hosts(c, &m);
			return PM_CTL_OK;
		}
		if (m.type == PM_CTLMSG_STATE_COMMIT && m.generation == c->rx.generation) {
			on_state_commit(c, &m, now_ms);
			return result(c);
		}
		return refuse(c, PM_CTLMSG_ERR_UNEXPECTED, m.request_id,
			      "%s of generation %llu inside the transfer of state %llu",
			      pm_ctlmsg_type_name(m.type), (unsigned long long)m.generation,
			      (unsigned long long)c->rx.generation);
	case PM_CTL_READY:
		return on_request(c, &m, now_ms);
	case PM_CTL_CLOSED:
		break;
	}
	return PM_CTL_CLOSE;
}

uint64_t
pm_ctl_tick(struct pm_ctl *c, uint64_t now_ms, enum pm_ctl_rc *rc)
{
	uint64_t next = pm_director_tick(c->d, now_ms);

	*rc = result(c);
	return next;
}

enum pm_ctl_rc
pm_ctl_pump(struct pm_ctl *c)
{
	c->held = false;
	list_pump(c, false);
	return result(c);
}

bool
pm_ctl_busy(const struct pm_ctl *c)
{
	return c->list.type != 0;
}

enum pm_ctl_state
pm_ctl_state(const struct pm_ctl *c)
{
	return c->state;
}

uint64_t
pm_ctl_applied_generation(const struct pm_ctl *c)
{
	return c->applied;
}

struct pm_director *
pm_ctl_director(struct pm_ctl *c)
{
	return c->d;
}

void
pm_ctl_stats(const struct pm_ctl *c, struct pm_ctl_stats *s)
{
	*s = c->st;
}

struct pm_ctl *
pm_ctl_new(const struct pm_ctl_params *p)
{
	struct pm_ctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->send = p->send;
	c->send_arg = p->send_arg;
	c->counters = p->counters;
	c->counters_arg = p->counters_arg;
	c->kick = p->kick;
	c->kick_arg = p->kick_arg;
	c->pid = p->pid;
	memcpy(c->boot_id, p->boot_id, sizeof(c->boot_id));
	c->state = PM_CTL_HELLO;
	c->d = pm_director_new(&p->director, on_kick, on_job_done, c);
	if (c->d == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
pm_ctl_free(struct pm_ctl *c)
{
	if (c == NULL)
		return;
	/* No answer can be sent any more; the director's teardown must not
	 * call back into a half-freed module. */
	c->state = PM_CTL_CLOSED;
	c->nresets = 0;
	pm_director_free(c->d);
	rx_clear(&c->rx);
	list_clear(&c->list);
	free(c->resets);
	free(c);
}
