/*
 * controller.c -- postmux-control's command logic and control-channel
 * server, sans-IO (see controller.h for the calling contract).
 *
 * Admin commands (Dovecot 2.3 director-doveadm v1, shared/spec/director.md
 * section 3). "dp" is the data plane, "ready" means its HELLO_ACK arrived
 * and the full state was sent. A command that needs the data plane while
 * none is ready waits for one, like Dovecot's ring-sync wait, for at most
 * PM_CONTROLLER_WAIT_MS, then gets "Ring sync timed out" (a list command
 * gets that line and then the empty line that ends a list, so doveadm does
 * not hang reading the list).
 *
 *   HOST-LIST           pm_state; user counts from dp HOST_LIST when ready,
 *                       else 0 (never waits)
 *   HOST-LIST-REMOVED   configured servers absent from pm_state (local)
 *   HOST-SET/-UPDATE    applied to pm_state, saved, then OK; then HOST_SET
 *   HOST-UP/-DOWN       to the dp if ready (else the next full state has
 *   HOST-REMOVE         it). Never waits. NOTFOUND, "vhost count too
 *                       large", "host tag can't be changed" as Dovecot. A
 *                       failed save undoes the change and answers
 *                       "failed to save state: <reason>".
 *   HOST-FLUSH [ip]     NOTFOUND for an unknown ip (pm_state); else dp
 *                       HOST_FLUSH, OK on its REPLY
 *   HOST-RESET-USERS    NOTFOUND for an unknown ip; else dp RESET_USERS, OK
 *                       on its deferred REPLY (every user dispatched)
 *   USER-LOOKUP         dp USER_LOOKUP (current pin, hashed ip); initial ip
 *                       from the configured servers' ring, computed here
 *   USER-LIST [ip]      dp USER_LIST, parts streamed as Dovecot's lines
 *   USER-MOVE           NOTFOUND for an unknown host; else dp USER_MOVE
 *                       (OK / TRYAGAIN while the user is being moved)
 *   USER-KICK(-ALT)     dp USER_KICK / USER_KICK_ALT, OK on its REPLY
 *   USER-ASSIGN         dp USER_ASSIGN: "<ip>"; a user being moved is
 *                       retried every kick delay for up to
 *                       PM_CONTROLLER_WAIT_MS (as a login is held), then
 *                       TRYAGAIN; NOTFOUND when the tag's ring is empty
 *   DIRECTOR-LIST       the one "self" line of a standalone director:
 *                       127.0.0.1, port 0 (postmux has no ring port)
 *   DIRECTOR-ADD        OK, as a standalone Dovecot director answers: self
 *                       (127.0.0.1 without a port) changes nothing, any
 *                       other director is listed as unreachable (postmux
 *                       has no ring protocol to connect with; logged)
 *   DIRECTOR-REMOVE     a listed director, or self: OK; others: NOTFOUND
 *   POSTMUX-COUNTERS [prefix]  (postmux only) dp COUNTERS: one "name\tvalue"
 *                       line per counter whose name starts with prefix, in
 *                       the data plane's order, then the end line. Never
 *                       waits: without a ready dp it answers "data plane not
 *                       connected" and the end line at once (counters are
 *                       diagnostics; an operator wants to know now, not in
 *                       30 s); a dp lost meanwhile gives "data plane
 *                       disconnected" and the end line, and the request is
 *                       not sent again
 *
 * User names given to USER-LOOKUP and USER-MOVE are hashed with
 * director_username_hash but without the master-user separator, as
 * Dovecot's admin commands do (director_get_username_hash()); a decimal
 * number is the hash itself.
 *
 * Data plane loss: requests in flight that only read (USER-LOOKUP,
 * USER-LIST before its first part, USER-ASSIGN) go back to waiting and are
 * sent again to the next data plane; HOST-LIST is answered from pm_state;
 * flushes, resets, moves and kicks are answered "data plane disconnected -
 * result unknown" (control-channel.md: they are not repeated automatically,
 * because repeating a kick or a move is not harmless).
 */
#include "controller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminproto.h"
#include "director/ring.h"
#include "director/userhash.h"

/* Error lines of postmux's own (doveadm prints them after "Error: "). */
#define R_TOO_MANY_PEERS "too many directors\n"
#define MAX_PEERS 64
#define R_DP_LOST "data plane disconnected - result unknown\n"
#define R_TOO_LONG "argument too long\n"
#define R_NOMEM "out of memory\n"
#define R_NO_DP "data plane not connected\n"
#define R_DP_GONE "data plane disconnected\n"

/* USER-ASSIGN: shortest pause between retries of a user being moved. */
#define ASSIGN_RETRY_MIN_MS 100u

enum client_wait {
	W_NONE,		/* parsing and running commands */
	W_DP,		/* the command waits for a ready data plane */
	W_REPLY,	/* a request is in flight (req_id) */
	W_RETRY,	/* USER-ASSIGN: retry at retry_at */
};

struct iobuf {
	uint8_t *p;
	size_t off;	/* consumed (input) or written (output) */
	size_t len;
	size_t cap;
};

struct host_users {
	struct pm_addr addr;
	uint32_t users;
};

struct client {
	uint64_t id;
	struct pm_adminproto parser;
	struct pm_adminproto_cmd cmd;	/* the command running or waiting */
	struct iobuf in, out;
	enum client_wait wait;
	uint64_t req_id;		/* W_REPLY */
	uint64_t deadline;		/* W_DP, W_RETRY, USER-ASSIGN; 0: none */
	uint64_t retry_at;		/* W_RETRY */
	uint64_t stall_since;		/* output over SOFT without progress */
	uint32_t hash;			/* USER-LOOKUP, USER-MOVE */
	bool list_started;		/* USER-LIST: a part was written */
	struct host_users *hu;		/* HOST-LIST: counts from the parts */
	size_t nhu, caphu;
	bool eof;			/* the client sent EOF */
	bool deaf;			/* the peer is gone: output dropped */
	bool closing;			/* close once the output is written */
	bool abort;			/* close now, output dropped */
};

struct pending {
	uint64_t id;
	uint16_t type;			/* the request's enum pm_ctlmsg_type */
	uint64_t client;		/* 0: nobody waits for the answer */
};

struct dgram {
	struct dgram *next;
	size_t len;
	uint8_t data[];
};

enum dp_phase {
	DP_NONE,	/* no data plane connection */
	DP_HELLO,	/* HELLO sent, waiting for HELLO_ACK */
	DP_READY,	/* full state sent; requests flow */
};

struct pm_controller {
	const struct pm_config *cfg;
	struct pm_state st;
	struct pm_controller_ops ops;
	void *arg;
	uint32_t pid;
	uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN];
	struct pm_userhash_fmt admin_fmt;	/* template without the separator */
	struct pm_ring *initial;		/* the configured servers' ring */
	uint64_t now;				/* monotonic ms */
	int64_t unix_s;

	struct client **cl;
	size_t ncl, capcl;
	uint64_t next_client;

	/* Directors added with DIRECTOR-ADD: listed, never connected. */
	struct {
		struct pm_addr ip;
		uint16_t port;
	} peer[MAX_PEERS];
	size_t npeers;

	struct {
		enum dp_phase phase;
		bool close_req;
		uint64_t next_id;
		uint64_t hello_id;
		uint64_t hello_at;
		uint64_t last_rx;
		uint64_t ping_at;	/* 0: no PING outstanding */
		struct dgram *head, *tail;
		size_t qbytes;
		struct pending *pend;
		size_t npend, cappend;
	} dp;

	uint8_t scratch[PM_CTLMSG_MAX];
};

static void client_run(struct pm_controller *c, struct client *cl);
static void client_exec(struct pm_controller *c, struct client *cl);

/* ---- small helpers ------------------------------------------------------------ */

static void __attribute__((format(printf, 3, 4)))
ctl_log(struct pm_controller *c, enum pm_controller_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->ops.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->ops.log(c->arg, level, msg);
}

static const char *
ipstr(const struct pm_addr *a, char buf[PM_ADDR_STRLEN])
{
	if (a->family == PM_AF_NONE || pm_addr_format(a, buf, PM_ADDR_STRLEN) < 0)
		strcpy(buf, "all");
	return buf;
}

/* A printable copy of @s for a log or a reply line: control bytes and
 * DEL become '?', at most @size - 1 bytes. */
static const char *
printable(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < size && s[i] != '\0'; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static bool
addr_is_self(const struct pm_addr *a)
{
	static const uint8_t lo[4] = { 127, 0, 0, 1 };

	return a->family == PM_AF_INET && memcmp(a->bytes, lo, 4) == 0;
}

/* ---- buffers ------------------------------------------------------------------ */

static size_t
iobuf_pending(const struct iobuf *b)
{
	return b->len - b->off;
}

static int
iobuf_append(struct iobuf *b, const void *data, size_t n)
{
	if (b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	if (n > b->cap - b->len && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (n > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *np;

		while (ncap - b->len < n)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static void
iobuf_free(struct iobuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- admin clients: lookup and output ------------------------------------------ */

static struct client *
client_find(struct pm_controller *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->ncl; i++) {
		if (c->cl[i]->id == id)
			return c->cl[i];
	}
	return NULL;
}

static void
client_abort(struct pm_controller *c, struct client *cl, const char *why)
{
	if (!cl->abort)
		ctl_log(c, PM_CONTROLLER_ERROR, "admin client %llu: %s; closing",
			(unsigned long long)cl->id, why);
	cl->abort = true;
	cl->closing = true;
	iobuf_free(&cl->out);
}

static void
out_put(struct pm_controller *c, struct client *cl, const void *data, size_t n)
{
	if (cl->abort || cl->deaf)
		return;
	if (iobuf_pending(&cl->out) + n > PM_CONTROLLER_OUT_HARD) {
		client_abort(c, cl, "output buffer over 256 MiB");
		return;
	}
	if (iobuf_append(&cl->out, data, n) < 0) {
		client_abort(c, cl, "out of memory for its output");
		return;
	}
	if (cl->stall_since == 0 && iobuf_pending(&cl->out) > PM_CONTROLLER_OUT_SOFT)
		cl->stall_since = c->now ? c->now : 1;
}

static void
out_str(struct pm_controller *c, struct client *cl, const char *s)
{
	out_put(c, cl, s, strlen(s));
}

/* A line from one of adminproto's builders (@n < 0: a bug, logged). */
static void
out_built(struct pm_controller *c, struct client *cl, const char *buf, int n)
{
	if (n < 0) {
		ctl_log(c, PM_CONTROLLER_ERROR,
			"admin client %llu: cannot format a reply line (%s)",
			(unsigned long long)cl->id, strerror(-n));
		return;
	}
	out_put(c, cl, buf, (size_t)n);
}

/* ---- replies ------------------------------------------------------------------ */

/* The answer line for a negative errno from pm_state or a REPLY. */
static void
reply_status(struct pm_controller *c, struct client *cl, int status, const char *reason)
{
	char line[PM_CTLMSG_REASON_MAX + 2];

	switch (status) {
	case -ENOENT:
		out_str(c, cl, PM_ADMINPROTO_R_NOTFOUND);
		return;
	case -EAGAIN:
		out_str(c, cl, PM_ADMINPROTO_R_TRYAGAIN);
		return;
	case -E2BIG:
		out_str(c, cl, PM_ADMINPROTO_R_VHOST_TOO_LARGE);
		return;
	case -EEXIST:
		out_str(c, cl, PM_ADMINPROTO_R_TAG_CHANGE);
		return;
	case -ENOMEM:
		out_str(c, cl, R_NOMEM);
		return;
	case -ECONNRESET:
		out_str(c, cl, R_DP_LOST);
		return;
	default:
		break;
	}
	if (reason == NULL || reason[0] == '\0')
		reason = strerror(-status);
	printable(line, sizeof(line) - 1, reason);
	strcat(line, "\n");
	out_str(c, cl, line);
}

static void
reply_host_list(struct pm_controller *c, struct client *cl, const struct host_users *hu,
		size_t nhu)
{
	char line[PM_ADDR_STRLEN + 2 * PM_TAG_MAX + 64];
	size_t i, j;

	for (i = 0; i < c->st.n; i++) {
		const struct pm_state_host *h = &c->st.hosts[i];
		uint32_t users = 0;

		for (j = 0; j < nhu; j++) {
			if (pm_addr_eq(&hu[j].addr, &h->addr)) {
				users = hu[j].users;
				break;
			}
		}
		out_built(c, cl, line,
			  pm_adminproto_fmt_host(line, sizeof(line), &h->addr, h->vhosts, users,
						 h->tag, h->down, h->last_updown_s));
	}
	out_str(c, cl, PM_ADMINPROTO_R_END);
}

static void
reply_host_list_removed(struct pm_controller *c, struct client *cl)
{
	char line[PM_ADDR_STRLEN + 2];
	size_t i;

	for (i = 0; i < c->cfg->nservers; i++) {
		const struct pm_addr *a = &c->cfg->servers[i].addr;

		if (pm_state_find(&c->st, a) == NULL)
			out_built(c, cl, line, pm_adminproto_fmt_addr(line, sizeof(line), a));
	}
	out_str(c, cl, PM_ADMINPROTO_R_END);
}

/* The "Initial config" host of USER-LOOKUP: the ring of the configured
 * servers, as Dovecot's orig_config_hosts. */
static void
initial_host(const struct pm_controller *c, const char *tag, uint32_t hash,
	     struct pm_addr *out)
{
	int t, i;

	memset(out, 0, sizeof(*out));
	if (c->initial == NULL)
		return;
	t = pm_ring_find_tag(c->initial, tag);
	if (t < 0)
		return;
	i = pm_ring_lookup(c->initial, (uint32_t)t, hash);
	if (i != PM_RING_NO_HOST)
		*out = c->initial->hosts[i].addr;
}

static void
reply_lookup(struct pm_controller *c, struct client *cl, const struct pm_addr *cur,
	     uint32_t expire_s, const struct pm_addr *hashed)
{
	char line[3 * PM_ADDR_STRLEN + 32];
	struct pm_addr init;

	initial_host(c, cl->cmd.tag, cl->hash, &init);
	out_built(c, cl, line,
		  pm_adminproto_fmt_lookup(line, sizeof(line), cur, expire_s, hashed, &init));
}

/* Dovecot's answer when the ring did not sync in 30 s; a list command also
 * gets its end line so that a list reader (doveadm director map) stops. */
static void
reply_wait_timeout(struct pm_controller *c, struct client *cl)
{
	char ip[PM_ADDR_STRLEN];

	ctl_log(c, PM_CONTROLLER_WARNING,
		"admin client %llu: %s%s%s: no data plane for %u s: \"Ring sync timed out\"",
		(unsigned long long)cl->id, pm_adminproto_kind_name(cl->cmd.kind),
		cl->cmd.has_ip ? " " : "", cl->cmd.has_ip ? ipstr(&cl->cmd.ip, ip) : "",
		PM_CONTROLLER_WAIT_MS / 1000);
	out_str(c, cl, PM_ADMINPROTO_R_RING_SYNC_TIMEOUT);
	if (cl->cmd.kind == PM_ADMINPROTO_USER_LIST ||
	    cl->cmd.kind == PM_ADMINPROTO_POSTMUX_COUNTERS)
		out_str(c, cl, PM_ADMINPROTO_R_END);
}

/* The command finished asynchronously: go on with the client's input. */
static void
client_resume(struct pm_controller *c, struct client *cl)
{
	cl->wait = W_NONE;
	cl->req_id = 0;
	client_run(c, cl);
}

/* ---- the control channel: sending --------------------------------------------- */

static void
dp_close(struct pm_controller *c, const char *why)
{
	if (c->dp.phase == DP_NONE || c->dp.close_req)
		return;
	ctl_log(c, PM_CONTROLLER_ERROR, "data plane: %s; closing the control channel", why);
	c->dp.close_req = true;
}

static int
dp_queue(struct pm_controller *c, const void *buf, size_t len)
{
	struct dgram *d;

	if (c->dp.phase == DP_NONE || c->dp.close_req)
		return -ENOTCONN;
	if (c->dp.qbytes + len > PM_CONTROLLER_DP_QUEUE_MAX) {
		dp_close(c, "it does not read its socket (64 MiB queued)");
		return -ENOBUFS;
	}
	d = malloc(sizeof(*d) + len);
	if (d == NULL) {
		dp_close(c, "out of memory for its queue");
		return -ENOMEM;
	}
	d->next = NULL;
	d->len = len;
	memcpy(d->data, buf, len);
	if (c->dp.tail != NULL)
		c->dp.tail->next = d;
	else
		c->dp.head = d;
	c->dp.tail = d;
	c->dp.qbytes += len;
	return 0;
}

/* Encode and queue @m; a failure to encode is a bug and is logged. */
static int
dp_send_msg(struct pm_controller *c, const struct pm_ctlmsg *m)
{
	int n = pm_ctlmsg_encode(m, c->scratch, sizeof(c->scratch));

	if (n < 0) {
		ctl_log(c, PM_CONTROLLER_ERROR, "cannot encode %s: %s",
			pm_ctlmsg_type_name(m->type), strerror(-n));
		return n;
	}
	return dp_queue(c, c->scratch, (size_t)n);
}

static int
pending_add(struct pm_controller *c, uint64_t id, uint16_t type, uint64_t client)
{
	if (c->dp.npend == c->dp.cappend) {
		size_t ncap = c->dp.cappend ? 2 * c->dp.cappend : 16;
		struct pending *np = realloc(c->dp.pend, ncap * sizeof(*np));

		if (np == NULL)
			return -ENOMEM;
		c->dp.pend = np;
		c->dp.cappend = ncap;
	}
	c->dp.pend[c->dp.npend].id = id;
	c->dp.pend[c->dp.npend].type = type;
	c->dp.pend[c->dp.npend].client = client;
	c->dp.npend++;
	return 0;
}

static struct pending *
pending_find(struct pm_controller *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->dp.npend; i++) {
		if (c->dp.pend[i].id == id)
			return &c->dp.pend[i];
	}
	return NULL;
}

static void
pending_del(struct pm_controller *c, struct pending *p)
{
	size_t i = (size_t)(p - c->dp.pend);

	memmove(&c->dp.pend[i], &c->dp.pend[i + 1], (c->dp.npend - i - 1) * sizeof(*p));
	c->dp.npend--;
}

/* Send request @m (its request id is assigned here) and remember who waits
 * for the answer. */
static int
dp_request(struct pm_controller *c, struct pm_ctlmsg *m, uint64_t client)
{
	int rc;

	m->request_id = c->dp.next_id++;
	rc = pending_add(c, m->request_id, m->type, client);
	if (rc < 0) {
		dp_close(c, "out of memory for its pending requests");
		return rc;
	}
	rc = dp_send_msg(c, m);
	if (rc < 0) {
		c->dp.npend--;
		return rc;
	}
	return 0;
}

static void
dp_error(struct pm_controller *c, uint16_t code, uint64_t offending, const char *why)
{
	struct pm_ctlmsg m;
	size_t n;

	pm_ctlmsg_init(&m, PM_CTLMSG_ERROR, offending, 0);
	m.u.error.code = code;
	/* Cut to the field's bound (255 bytes), as the wire allows no more. */
	n = strnlen(why, sizeof(m.u.error.reason) - 1);
	memcpy(m.u.error.reason, why, n);
	m.u.error.reason[n] = '\0';
	dp_send_msg(c, &m);
	dp_close(c, why);
}

/* The complete desired state (control-channel.md, "Full state, every
 * time"): STATE_BEGIN, STATE_HOSTS chunks, STATE_COMMIT, generation G. */
static void
dp_send_state(struct pm_controller *c)
{
	const struct pm_config *cfg = c->cfg;
	uint64_t g = c->st.generation;
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg m;
	size_t i, inchunk = 0;
	int rc;

	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_BEGIN, 0, g);
	m.u.state_begin.user_expire_s = cfg->director.user_expire_s;
	m.u.state_begin.kick_delay_ms = cfg->director.kick_delay_ms;
	m.u.state_begin.max_parallel_moves = cfg->director.max_parallel_moves;
	m.u.state_begin.max_parallel_kicks = cfg->director.max_parallel_kicks;
	m.u.state_begin.nhosts = (uint32_t)c->st.n;
	m.u.state_begin.master_sep = cfg->master_sep;
	snprintf(m.u.state_begin.hash_template, sizeof(m.u.state_begin.hash_template), "%s",
		 cfg->hash_format);
	if (dp_send_msg(c, &m) < 0)
		return;
	pm_ctlmsg_chunk_begin(&w, c->scratch, sizeof(c->scratch), PM_CTLMSG_STATE_HOSTS, 0, g);
	for (i = 0; i < c->st.n; i++) {
		const struct pm_state_host *h = &c->st.hosts[i];
		struct pm_ctlmsg_host e;

		memset(&e, 0, sizeof(e));
		e.addr = h->addr;
		e.vhosts = h->vhosts;
		e.down = h->down;
		e.last_updown_s = h->last_updown_s;
		snprintf(e.tag, sizeof(e.tag), "%s", h->tag);
		rc = pm_ctlmsg_chunk_add_host(&w, &e);
		if (rc == -ENOSPC) {
			if (dp_queue(c, c->scratch, (size_t)pm_ctlmsg_chunk_finish(&w, false)) < 0)
				return;
			pm_ctlmsg_chunk_begin(&w, c->scratch, sizeof(c->scratch),
					      PM_CTLMSG_STATE_HOSTS, 0, g);
			inchunk = 0;
			rc = pm_ctlmsg_chunk_add_host(&w, &e);
		}
		if (rc < 0) {
			ctl_log(c, PM_CONTROLLER_ERROR, "cannot encode host %zu of the state: %s",
				i, strerror(-rc));
			dp_close(c, "cannot encode the state");
			return;
		}
		inchunk++;
	}
	if (inchunk > 0 &&
	    dp_queue(c, c->scratch, (size_t)pm_ctlmsg_chunk_finish(&w, false)) < 0)
		return;
	pm_ctlmsg_init(&m, PM_CTLMSG_STATE_COMMIT, 0, g);
	if (dp_request(c, &m, 0) == 0)
		ctl_log(c, PM_CONTROLLER_INFO,
			"data plane: sent the full state, generation %llu, %zu hosts",
			(unsigned long long)g, c->st.n);
}

/* A host change that was saved: tell a ready data plane. Otherwise the next
 * full state carries it. */
static void
dp_send_host_change(struct pm_controller *c, enum pm_adminproto_kind kind,
		    const struct pm_addr *a)
{
	const struct pm_state_host *h;
	struct pm_ctlmsg m;

	if (c->dp.phase != DP_READY || c->dp.close_req)
		return;
	switch (kind) {
	case PM_ADMINPROTO_HOST_SET:
	case PM_ADMINPROTO_HOST_UPDATE:
		h = pm_state_find(&c->st, a);
		if (h == NULL)
			return;
		/* The host as the state now has it, explicitly: idempotent, and
		 * create = 1 so a data plane that somehow lacks it converges. */
		pm_ctlmsg_init(&m, PM_CTLMSG_HOST_SET, 0, c->st.generation);
		m.u.host_set.addr = h->addr;
		m.u.host_set.vhosts = h->vhosts;
		m.u.host_set.create = true;
		snprintf(m.u.host_set.tag, sizeof(m.u.host_set.tag), "%s", h->tag);
		break;
	case PM_ADMINPROTO_HOST_UP:
	case PM_ADMINPROTO_HOST_DOWN:
		pm_ctlmsg_init(&m, PM_CTLMSG_HOST_UPDOWN, 0, c->st.generation);
		m.u.host_updown.addr = *a;
		m.u.host_updown.down = kind == PM_ADMINPROTO_HOST_DOWN;
		break;
	case PM_ADMINPROTO_HOST_REMOVE:
		pm_ctlmsg_init(&m, PM_CTLMSG_HOST_REMOVE, 0, c->st.generation);
		m.u.host_remove.addr = *a;
		break;
	default:
		return;
	}
	dp_request(c, &m, 0);
}

/* ---- host commands: pm_state, persisted before the answer --------------------- */

static int
state_copy(struct pm_state *dst, const struct pm_state *src)
{
	*dst = *src;
	dst->hosts = NULL;
	dst->cap = 0;
	if (src->n == 0)
		return 0;
	dst->hosts = malloc(src->n * sizeof(*dst->hosts));
	if (dst->hosts == NULL)
		return -ENOMEM;
	memcpy(dst->hosts, src->hosts, src->n * sizeof(*dst->hosts));
	dst->cap = src->n;
	return 0;
}

static void
host_change(struct pm_controller *c, struct client *cl)
{
	struct pm_adminproto_cmd *cmd = &cl->cmd;
	const char *name = pm_adminproto_kind_name(cmd->kind);
	uint64_t gen0 = c->st.generation;
	char ip[PM_ADDR_STRLEN], err[512], tag[64];
	struct pm_state snap;
	int rc;

	ipstr(&cmd->ip, ip);
	printable(tag, sizeof(tag), cmd->tag);
	if (state_copy(&snap, &c->st) < 0) {
		ctl_log(c, PM_CONTROLLER_ERROR, "%s %s: out of memory", name, ip);
		out_str(c, cl, R_NOMEM);
		return;
	}
	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_SET:
	case PM_ADMINPROTO_HOST_UPDATE:
		rc = pm_state_host_set(&c->st, &cmd->ip, cmd->tag, cmd->vhosts,
				       cmd->kind == PM_ADMINPROTO_HOST_SET);
		break;
	case PM_ADMINPROTO_HOST_UP:
	case PM_ADMINPROTO_HOST_DOWN:
		rc = pm_state_host_updown(&c->st, &cmd->ip, cmd->kind == PM_ADMINPROTO_HOST_DOWN,
					  c->unix_s);
		break;
	default:
		rc = pm_state_host_remove(&c->st, &cmd->ip);
		break;
	}
	if (rc < 0) {
		pm_state_free(&snap);
		/* pm_state refuses a tag of PM_TAG_MAX bytes or more (Dovecot
		 * has no limit): say so rather than "Invalid argument". */
		if (rc == -EINVAL)
			out_str(c, cl, "host tag too long\n");
		else
			reply_status(c, cl, rc, NULL);
		ctl_log(c, PM_CONTROLLER_INFO, "%s %s%s%s: %s", name, ip, tag[0] ? "@" : "", tag,
			rc == -ENOENT ? "NOTFOUND" : rc == -EEXIST ? "host tag can't be changed"
			: rc == -EINVAL ? "host tag too long" : strerror(-rc));
		return;
	}
	if (c->st.generation == gen0) {
		/* Nothing changed (same count, already up, ...): OK, as Dovecot. */
		pm_state_free(&snap);
		out_str(c, cl, PM_ADMINPROTO_R_OK);
		ctl_log(c, PM_CONTROLLER_DEBUG, "%s %s: no change", name, ip);
		return;
	}
	err[0] = '\0';
	rc = c->ops.save_state != NULL ? c->ops.save_state(c->arg, &c->st, err, sizeof(err)) : 0;
	if (rc < 0) {
		/* Never answer OK for a change that would not survive a
		 * restart: undo it and say why. */
		pm_state_free(&c->st);
		c->st = snap;
		ctl_log(c, PM_CONTROLLER_ERROR, "%s %s: state file not written (%s); change undone",
			name, ip, err[0] ? err : strerror(-rc));
		snprintf(err, sizeof(err), "failed to save state: %s", strerror(-rc));
		strcat(err, "\n");
		out_str(c, cl, err);
		return;
	}
	pm_state_free(&snap);
	out_str(c, cl, PM_ADMINPROTO_R_OK);
	if (cmd->kind == PM_ADMINPROTO_HOST_SET || cmd->kind == PM_ADMINPROTO_HOST_UPDATE) {
		const struct pm_state_host *h = pm_state_find(&c->st, &cmd->ip);

		ctl_log(c, PM_CONTROLLER_INFO, "%s %s: vhosts %u%s%s, generation %llu", name, ip,
			h != NULL ? h->vhosts : 0, h != NULL && h->tag[0] ? ", tag " : "",
			h != NULL && h->tag[0] ? printable(tag, sizeof(tag), h->tag) : "",
			(unsigned long long)c->st.generation);
	} else {
		ctl_log(c, PM_CONTROLLER_INFO, "%s %s: done, generation %llu", name, ip,
			(unsigned long long)c->st.generation);
	}
	dp_send_host_change(c, cmd->kind, &cmd->ip);
}

/* ---- commands for the data plane ---------------------------------------------- */

/* Build the request of the client's command into @m; false if the command
 * was answered here instead (an argument the channel cannot carry). */
static bool
build_request(struct pm_controller *c, struct client *cl, struct pm_ctlmsg *m)
{
	struct pm_adminproto_cmd *cmd = &cl->cmd;

	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_LIST:
		pm_ctlmsg_init(m, PM_CTLMSG_HOST_LIST, 0, 0);
		return true;
	case PM_ADMINPROTO_HOST_FLUSH:
		pm_ctlmsg_init(m, PM_CTLMSG_HOST_FLUSH, 0, 0);
		if (cmd->has_ip)
			m->u.host_flush.addr = cmd->ip;
		return true;
	case PM_ADMINPROTO_HOST_RESET_USERS:
		pm_ctlmsg_init(m, PM_CTLMSG_RESET_USERS, 0, 0);
		if (cmd->has_ip)
			m->u.reset_users.addr = cmd->ip;
		m->u.reset_users.max_parallel = cmd->max_parallel;
		return true;
	case PM_ADMINPROTO_USER_LIST:
		pm_ctlmsg_init(m, PM_CTLMSG_USER_LIST, 0, 0);
		if (cmd->has_ip)
			m->u.user_list.addr = cmd->ip;
		return true;
	case PM_ADMINPROTO_USER_MOVE:
		pm_ctlmsg_init(m, PM_CTLMSG_USER_MOVE, 0, 0);
		m->u.user_move.user_hash = cl->hash;
		m->u.user_move.addr = cmd->ip;
		return true;
	case PM_ADMINPROTO_USER_LOOKUP:
		pm_ctlmsg_init(m, PM_CTLMSG_USER_LOOKUP, 0, 0);
		m->u.user_lookup.user_hash = cl->hash;
		memcpy(m->u.user_lookup.tag, cmd->tag, cmd->tag_len + 1);
		return true;
	case PM_ADMINPROTO_USER_KICK:
		pm_ctlmsg_init(m, PM_CTLMSG_USER_KICK, 0, 0);
		memcpy(m->u.user_kick.user, cmd->user, cmd->user_len + 1);
		return true;
	case PM_ADMINPROTO_USER_KICK_ALT:
		if (cmd->field_len > PM_CTLMSG_FIELD_MAX || cmd->value_len > PM_CTLMSG_FIELD_MAX) {
			out_str(c, cl, R_TOO_LONG);
			return false;
		}
		pm_ctlmsg_init(m, PM_CTLMSG_USER_KICK_ALT, 0, 0);
		memcpy(m->u.user_kick_alt.field, cmd->field, cmd->field_len + 1);
		memcpy(m->u.user_kick_alt.value, cmd->value, cmd->value_len + 1);
		return true;
	case PM_ADMINPROTO_USER_ASSIGN:
		pm_ctlmsg_init(m, PM_CTLMSG_USER_ASSIGN, 0, 0);
		memcpy(m->u.user_assign.user, cmd->user, cmd->user_len + 1);
		memcpy(m->u.user_assign.tag, cmd->tag, cmd->tag_len + 1);
		return true;
	case PM_ADMINPROTO_POSTMUX_COUNTERS:
		pm_ctlmsg_init(m, PM_CTLMSG_COUNTERS, 0, 0);
		return true;
	default:
		return false;
	}
}

/* POSTMUX-COUNTERS without a data plane to ask: an error line (no TAB, so
 * never taken for a counter) and the end of the list, at once. */
static void
reply_counters_error(struct pm_controller *c, struct client *cl, const char *line)
{
	ctl_log(c, PM_CONTROLLER_INFO, "admin client %llu: POSTMUX-COUNTERS: %.*s",
		(unsigned long long)cl->id, (int)strlen(line) - 1, line);
	out_str(c, cl, line);
	out_str(c, cl, PM_ADMINPROTO_R_END);
}

/* Send the client's command to the data plane, or wait for one. */
static void
dp_command(struct pm_controller *c, struct client *cl)
{
	struct pm_ctlmsg m;

	if (c->dp.phase != DP_READY || c->dp.close_req) {
		cl->wait = W_DP;
		if (cl->deadline == 0)
			cl->deadline = c->now + PM_CONTROLLER_WAIT_MS;
		return;
	}
	if (!build_request(c, cl, &m))
		return;
	if (dp_request(c, &m, cl->id) < 0) {
		/* HOST-LIST never waits: the state, without user counts. */
		if (cl->cmd.kind == PM_ADMINPROTO_HOST_LIST) {
			reply_host_list(c, cl, NULL, 0);
			return;
		}
		/* Nor do counters. */
		if (cl->cmd.kind == PM_ADMINPROTO_POSTMUX_COUNTERS) {
			reply_counters_error(c, cl, R_NO_DP);
			return;
		}
		/* The channel is being closed: wait for the next data plane. */
		cl->wait = W_DP;
		if (cl->deadline == 0)
			cl->deadline = c->now + PM_CONTROLLER_WAIT_MS;
		return;
	}
	cl->wait = W_REPLY;
	cl->req_id = m.request_id;
}

/* The user argument of USER-LOOKUP / USER-MOVE as a hash. */
static uint32_t
admin_hash(const struct pm_controller *c, const struct pm_adminproto_cmd *cmd)
{
	if (cmd->user_is_hash)
		return cmd->user_hash;
	return pm_userhash(&c->admin_fmt, cmd->user, cmd->user_len);
}

static void
local_director_cmd(struct pm_controller *c, struct client *cl)
{
	struct pm_adminproto_cmd *cmd = &cl->cmd;
	struct pm_addr self;
	char line[128], ip[PM_ADDR_STRLEN];
	size_t i;

	switch (cmd->kind) {
	case PM_ADMINPROTO_DIRECTOR_LIST:
		memset(&self, 0, sizeof(self));
		self.family = PM_AF_INET;
		self.bytes[0] = 127;
		self.bytes[3] = 1;
		out_built(c, cl, line,
			  pm_adminproto_fmt_director_self(line, sizeof(line), &self, 0, 0, 0));
		/* A director without a connection: "ip\tport\t\tlast_failed\t",
		 * as Dovecot lists one it could not reach (spec 7.23). */
		for (i = 0; i < c->npeers; i++) {
			pm_addr_format(&c->peer[i].ip, ip, sizeof(ip));
			snprintf(line, sizeof(line), "%s\t%u\t\t0\t\n", ip, c->peer[i].port);
			out_str(c, cl, line);
		}
		out_str(c, cl, PM_ADMINPROTO_R_END);
		break;
	case PM_ADMINPROTO_DIRECTOR_ADD:
		/* Without a port the director means itself (its own port), which
		 * is already in the ring: Dovecot answers OK and adds nothing. A
		 * standalone Dovecot director answers OK to any other director
		 * too and lists it as unreachable; postmux does the same (it has
		 * no ring protocol to connect with) and says so in its log. */
		if (addr_is_self(&cmd->ip) && !cmd->has_port) {
			out_str(c, cl, PM_ADMINPROTO_R_OK);
			break;
		}
		for (i = 0; i < c->npeers; i++) {
			if (pm_addr_eq(&c->peer[i].ip, &cmd->ip) &&
			    c->peer[i].port == (cmd->has_port ? cmd->port : 0))
				break;
		}
		if (i == c->npeers) {
			if (c->npeers == MAX_PEERS) {
				out_str(c, cl, R_TOO_MANY_PEERS);
				break;
			}
			c->peer[c->npeers].ip = cmd->ip;
			c->peer[c->npeers].port = cmd->has_port ? cmd->port : 0;
			c->npeers++;
			ctl_log(c, PM_CONTROLLER_WARNING,
				"DIRECTOR-ADD: listed, but postmux has no director ring "
				"and will not connect to it");
		}
		out_str(c, cl, PM_ADMINPROTO_R_OK);
		break;
	default:	/* DIRECTOR-REMOVE: the first match on ip (and port if given) */
		for (i = 0; i < c->npeers; i++) {
			if (pm_addr_eq(&c->peer[i].ip, &cmd->ip) &&
			    (!cmd->has_port || c->peer[i].port == cmd->port))
				break;
		}
		if (i < c->npeers) {
			memmove(&c->peer[i], &c->peer[i + 1], (c->npeers - i - 1) * sizeof(c->peer[0]));
			c->npeers--;
			out_str(c, cl, PM_ADMINPROTO_R_OK);
		} else {
			out_str(c, cl, addr_is_self(&cmd->ip) && !cmd->has_port ?
					       PM_ADMINPROTO_R_OK : PM_ADMINPROTO_R_NOTFOUND);
		}
		break;
	}
}

/* Run (or re-run, after a wait) the client's current command. Either it is
 * answered at once, or cl->wait says what it waits for. */
static void
client_exec(struct pm_controller *c, struct client *cl)
{
	struct pm_adminproto_cmd *cmd = &cl->cmd;

	cl->wait = W_NONE;
	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_LIST:
		if (c->dp.phase == DP_READY && !c->dp.close_req) {
			cl->nhu = 0;
			dp_command(c, cl);
		} else {
			reply_host_list(c, cl, NULL, 0);
		}
		return;
	case PM_ADMINPROTO_HOST_LIST_REMOVED:
		reply_host_list_removed(c, cl);
		return;
	case PM_ADMINPROTO_HOST_SET:
	case PM_ADMINPROTO_HOST_UPDATE:
	case PM_ADMINPROTO_HOST_UP:
	case PM_ADMINPROTO_HOST_DOWN:
	case PM_ADMINPROTO_HOST_REMOVE:
		host_change(c, cl);
		return;
	case PM_ADMINPROTO_HOST_FLUSH:
	case PM_ADMINPROTO_HOST_RESET_USERS:
		/* Dovecot checks its host table first: NOTFOUND at once. */
		if (cmd->has_ip && pm_state_find(&c->st, &cmd->ip) == NULL) {
			out_str(c, cl, PM_ADMINPROTO_R_NOTFOUND);
			return;
		}
		dp_command(c, cl);
		return;
	case PM_ADMINPROTO_USER_MOVE:
		if (pm_state_find(&c->st, &cmd->ip) == NULL) {
			out_str(c, cl, PM_ADMINPROTO_R_NOTFOUND);
			return;
		}
		cl->hash = admin_hash(c, cmd);
		dp_command(c, cl);
		return;
	case PM_ADMINPROTO_USER_LOOKUP:
		cl->hash = admin_hash(c, cmd);
		/* No host can carry a tag the channel cannot: no pin, no ring. */
		if (cmd->tag_len > PM_CTLMSG_TAG_MAX) {
			reply_lookup(c, cl, NULL, 0, NULL);
			return;
		}
		dp_command(c, cl);
		return;
	case PM_ADMINPROTO_USER_ASSIGN:
		if (cmd->tag_len > PM_CTLMSG_TAG_MAX) {
			out_str(c, cl, PM_ADMINPROTO_R_NOTFOUND);
			return;
		}
		/* A login is held at most this long (director-request.c). */
		if (cl->deadline == 0)
			cl->deadline = c->now + PM_CONTROLLER_WAIT_MS;
		dp_command(c, cl);
		return;
	case PM_ADMINPROTO_USER_LIST:
	case PM_ADMINPROTO_USER_KICK:
	case PM_ADMINPROTO_USER_KICK_ALT:
		dp_command(c, cl);
		return;
	case PM_ADMINPROTO_DIRECTOR_LIST:
	case PM_ADMINPROTO_DIRECTOR_ADD:
	case PM_ADMINPROTO_DIRECTOR_REMOVE:
		local_director_cmd(c, cl);
		return;
	case PM_ADMINPROTO_POSTMUX_COUNTERS:
		if (c->dp.phase != DP_READY || c->dp.close_req) {
			reply_counters_error(c, cl, R_NO_DP);
			return;
		}
		dp_command(c, cl);
		return;
	default:
		/* adminproto returns RUN only for the kinds above. */
		ctl_log(c, PM_CONTROLLER_ERROR, "admin client %llu: unhandled command %s",
			(unsigned long long)cl->id, cmd->name);
		client_abort(c, cl, "internal error");
		return;
	}
}

/* Feed the client's buffered input to its parser and run the commands, in
 * order, until one has to wait, the input is used up, or the client is
 * closing. */
static void
client_run(struct pm_controller *c, struct client *cl)
{
	enum pm_adminproto_status st;
	char name[64];
	size_t used;

	while (!cl->closing && cl->wait == W_NONE && iobuf_pending(&cl->in) > 0) {
		/* A client that does not read gets no further answers. */
		if (iobuf_pending(&cl->out) > PM_CONTROLLER_OUT_SOFT)
			return;
		st = pm_adminproto_feed(&cl->parser, cl->in.p + cl->in.off,
					iobuf_pending(&cl->in), &used, &cl->cmd);
		cl->in.off += used;
		switch (st) {
		case PM_ADMINPROTO_AGAIN:
			break;
		case PM_ADMINPROTO_REPLY:
			out_str(c, cl, cl->cmd.reply);
			break;
		case PM_ADMINPROTO_CLOSE:
			/* Dovecot logs these as errors: "doveadm sent ...". */
			ctl_log(c, PM_CONTROLLER_ERROR, "admin client %llu: %s%s%s%s",
				(unsigned long long)cl->id,
				cl->cmd.reason ? cl->cmd.reason : "closed",
				cl->cmd.name[0] ? " (" : "",
				cl->cmd.name[0] ? printable(name, sizeof(name), cl->cmd.name) : "",
				cl->cmd.name[0] ? ")" : "");
			cl->closing = true;
			break;
		case PM_ADMINPROTO_RUN:
			cl->deadline = 0;
			cl->req_id = 0;
			cl->list_started = false;
			cl->nhu = 0;
			ctl_log(c, PM_CONTROLLER_DEBUG, "admin client %llu: %s",
				(unsigned long long)cl->id, pm_adminproto_kind_name(cl->cmd.kind));
			client_exec(c, cl);
			break;
		}
	}
	if (cl->in.off == cl->in.len)
		cl->in.off = cl->in.len = 0;
	if (cl->eof && !cl->closing && cl->wait == W_NONE && iobuf_pending(&cl->in) == 0)
		cl->closing = true;
}

/* ---- answers from the data plane ---------------------------------------------- */

static int
hu_add(struct client *cl, const struct pm_addr *a, uint32_t users)
{
	if (cl->nhu == cl->caphu) {
		size_t ncap = cl->caphu ? 2 * cl->caphu : 64;
		struct host_users *n = realloc(cl->hu, ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		cl->hu = n;
		cl->caphu = ncap;
	}
	cl->hu[cl->nhu].addr = *a;
	cl->hu[cl->nhu].users = users;
	cl->nhu++;
	return 0;
}

/* Log a user or flush command the data plane carried out. */
static void
log_done(struct pm_controller *c, const struct client *cl)
{
	const struct pm_adminproto_cmd *cmd = &cl->cmd;
	char ip[PM_ADDR_STRLEN], a[64], b[64];

	ipstr(&cmd->ip, ip);
	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_RESET_USERS:
		ctl_log(c, PM_CONTROLLER_INFO, "HOST-RESET-USERS %s: every user dispatched", ip);
		break;
	case PM_ADMINPROTO_USER_MOVE:
		ctl_log(c, PM_CONTROLLER_INFO, "USER-MOVE %u (%s) to %s: OK", cl->hash,
			printable(a, sizeof(a), cmd->user), ip);
		break;
	case PM_ADMINPROTO_USER_KICK:
		ctl_log(c, PM_CONTROLLER_INFO, "USER-KICK %s: OK",
			printable(a, sizeof(a), cmd->user));
		break;
	case PM_ADMINPROTO_USER_KICK_ALT:
		ctl_log(c, PM_CONTROLLER_INFO, "USER-KICK-ALT %s=%s: OK",
			printable(a, sizeof(a), cmd->field), printable(b, sizeof(b), cmd->value));
		break;
	default:
		break;
	}
}

/* The final REPLY to the client's request. */
static void
client_reply(struct pm_controller *c, struct client *cl, const struct pm_ctlmsg_reply *r)
{
	struct pm_adminproto_cmd *cmd = &cl->cmd;
	const char *name = pm_adminproto_kind_name(cmd->kind);
	char ip[PM_ADDR_STRLEN], why[PM_CTLMSG_REASON_MAX + 1], line[PM_ADDR_STRLEN + 2];
	uint32_t delay;

	ipstr(&cmd->ip, ip);
	if (r->status < 0 && r->status != -ENOENT && r->status != -EAGAIN)
		ctl_log(c, PM_CONTROLLER_WARNING, "%s %s: the data plane answered %s (%s)",
			name, ip, strerror(-r->status), printable(why, sizeof(why), r->reason));
	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_LIST:
		/* Only a failure comes as a REPLY: answer from the state. */
		reply_host_list(c, cl, NULL, 0);
		break;
	case PM_ADMINPROTO_USER_LIST:
		if (r->status != -ENOENT)
			reply_status(c, cl, r->status, r->reason);
		out_str(c, cl, PM_ADMINPROTO_R_END);
		break;
	case PM_ADMINPROTO_POSTMUX_COUNTERS:
		/* Only a failure comes as a REPLY, instead of any part: the
		 * error line, then the end line. */
		reply_status(c, cl, r->status, r->reason);
		out_str(c, cl, PM_ADMINPROTO_R_END);
		break;
	case PM_ADMINPROTO_USER_LOOKUP:
		if (r->status == 0)
			reply_lookup(c, cl, &r->body.user_lookup.cur, r->body.user_lookup.expire_s,
				     &r->body.user_lookup.hashed);
		else if (r->status == -ENOENT)	/* unknown tag: no pin, no ring */
			reply_lookup(c, cl, NULL, 0, NULL);
		else
			reply_status(c, cl, r->status, r->reason);
		break;
	case PM_ADMINPROTO_USER_ASSIGN:
		if (r->status == 0 && r->body.user_assign.result == PM_CTLMSG_ASSIGN_WAIT) {
			if (c->now >= cl->deadline) {
				out_str(c, cl, PM_ADMINPROTO_R_TRYAGAIN);
				break;
			}
			/* Held as a login is: retry after the kick delay. */
			cl->wait = W_RETRY;
			cl->req_id = 0;
			delay = c->cfg->director.kick_delay_ms;
			if (delay < ASSIGN_RETRY_MIN_MS)
				delay = ASSIGN_RETRY_MIN_MS;
			cl->retry_at = c->now + delay;
			if (cl->retry_at > cl->deadline)
				cl->retry_at = cl->deadline;
			return;
		}
		if (r->status == 0 && r->body.user_assign.result == PM_CTLMSG_ASSIGN_NOHOST)
			out_str(c, cl, PM_ADMINPROTO_R_NOTFOUND);
		else if (r->status == 0)
			out_built(c, cl, line,
				  pm_adminproto_fmt_addr(line, sizeof(line),
							 &r->body.user_assign.addr));
		else
			reply_status(c, cl, r->status, r->reason);
		break;
	case PM_ADMINPROTO_HOST_FLUSH:
		if (r->status == 0 && !cmd->has_ip)
			ctl_log(c, PM_CONTROLLER_WARNING,
				"Flushed all backend hosts with %llu users. This is an unsafe "
				"operation and may cause the same users to end up in multiple "
				"backends.",
				(unsigned long long)r->body.host_flush.forgotten);
		else if (r->status == 0)
			ctl_log(c, PM_CONTROLLER_INFO, "HOST-FLUSH %s: %llu users forgotten", ip,
				(unsigned long long)r->body.host_flush.forgotten);
		/* fall through */
	default:
		if (r->status == 0) {
			out_str(c, cl, PM_ADMINPROTO_R_OK);
			log_done(c, cl);
		} else {
			reply_status(c, cl, r->status, r->reason);
		}
		break;
	}
	client_resume(c, cl);
}

static void
client_user_part(struct pm_controller *c, struct client *cl, const struct pm_ctlmsg *m)
{
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_user u;
	char line[PM_ADDR_STRLEN + 32];

	cl->list_started = true;
	pm_ctlmsg_iter_init(&it, m);
	while (pm_ctlmsg_iter_user(&it, &u))
		out_built(c, cl, line,
			  pm_adminproto_fmt_user(line, sizeof(line), u.user_hash, u.expire_s,
						 &u.addr));
	if (m->flags & PM_CTLMSG_F_LAST) {
		out_str(c, cl, PM_ADMINPROTO_R_END);
		client_resume(c, cl);
	}
}

/* Counter lines of a COUNTERS_PART, those whose name starts with the
 * command's prefix (cmd.field; "" takes all). */
static void
client_counters_part(struct pm_controller *c, struct client *cl, const struct pm_ctlmsg *m)
{
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_counter k;
	char line[PM_CTLMSG_COUNTER_NAME_MAX + 32];

	cl->list_started = true;
	pm_ctlmsg_iter_init(&it, m);
	while (pm_ctlmsg_iter_counter(&it, &k)) {
		if (strncmp(k.name, cl->cmd.field, cl->cmd.field_len) != 0)
			continue;
		out_built(c, cl, line,
			  pm_adminproto_fmt_counter(line, sizeof(line), k.name, k.value));
	}
	if (m->flags & PM_CTLMSG_F_LAST) {
		out_str(c, cl, PM_ADMINPROTO_R_END);
		client_resume(c, cl);
	}
}

static void
client_host_part(struct pm_controller *c, struct client *cl, const struct pm_ctlmsg *m)
{
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host h;

	pm_ctlmsg_iter_init(&it, m);
	while (pm_ctlmsg_iter_host(&it, &h)) {
		if (hu_add(cl, &h.addr, h.user_count) < 0) {
			client_abort(c, cl, "out of memory for HOST-LIST");
			return;
		}
	}
	if (m->flags & PM_CTLMSG_F_LAST) {
		reply_host_list(c, cl, cl->hu, cl->nhu);
		client_resume(c, cl);
	}
}

/* The data plane went away while @cl's request was in flight. */
static void
client_dp_lost(struct pm_controller *c, struct client *cl)
{
	switch (cl->cmd.kind) {
	case PM_ADMINPROTO_HOST_LIST:
		reply_host_list(c, cl, NULL, 0);
		break;
	case PM_ADMINPROTO_USER_LIST:
		if (cl->list_started) {
			out_str(c, cl, R_DP_LOST);
			out_str(c, cl, PM_ADMINPROTO_R_END);
			break;
		}
		/* Nothing written yet: ask the next data plane. */
		/* fall through */
	case PM_ADMINPROTO_USER_LOOKUP:
	case PM_ADMINPROTO_USER_ASSIGN:
		cl->wait = W_DP;
		cl->req_id = 0;
		if (cl->deadline == 0)
			cl->deadline = c->now + PM_CONTROLLER_WAIT_MS;
		return;
	case PM_ADMINPROTO_POSTMUX_COUNTERS:
		/* Never waits for the next data plane (see the table above). */
		out_str(c, cl, R_DP_GONE);
		out_str(c, cl, PM_ADMINPROTO_R_END);
		break;
	default:
		out_str(c, cl, R_DP_LOST);
		break;
	}
	client_resume(c, cl);
}

/* Answers nobody waits for: the state, host changes, PONG, orphans. */
static void
internal_answer(struct pm_controller *c, const struct pending *p, const struct pm_ctlmsg *m)
{
	char why[PM_CTLMSG_REASON_MAX + 1];

	if (m->type != PM_CTLMSG_REPLY)
		return;
	printable(why, sizeof(why), m->u.reply.reason);
	switch (p->type) {
	case PM_CTLMSG_STATE_COMMIT:
		if (m->u.reply.status < 0)
			ctl_log(c, PM_CONTROLLER_ERROR,
				"data plane refused the state: %s (%s); it keeps generation %llu",
				why, strerror(-m->u.reply.status),
				(unsigned long long)m->generation);
		else
			ctl_log(c, PM_CONTROLLER_INFO,
				"data plane applied the state, generation %llu",
				(unsigned long long)m->generation);
		break;
	case PM_CTLMSG_HOST_SET:
	case PM_CTLMSG_HOST_UPDOWN:
	case PM_CTLMSG_HOST_REMOVE:
		if (m->u.reply.status < 0)
			ctl_log(c, PM_CONTROLLER_ERROR,
				"data plane refused %s (request %llu): %s (%s)",
				pm_ctlmsg_type_name(p->type), (unsigned long long)p->id, why,
				strerror(-m->u.reply.status));
		break;
	default:
		if (m->u.reply.status < 0)
			ctl_log(c, PM_CONTROLLER_WARNING, "%s (request %llu, client gone): %s",
				pm_ctlmsg_type_name(p->type), (unsigned long long)p->id, why);
		else
			ctl_log(c, PM_CONTROLLER_INFO, "%s (request %llu, client gone): done",
				pm_ctlmsg_type_name(p->type), (unsigned long long)p->id);
		break;
	}
}

/* ---- the control channel: receiving ------------------------------------------- */

static void
dp_unexpected(struct pm_controller *c, const struct pm_ctlmsg *m, const char *what)
{
	char why[PM_CTLMSG_REASON_MAX + 1];

	snprintf(why, sizeof(why), "unexpected %s (request %llu)%s%s",
		 pm_ctlmsg_type_name(m->type), (unsigned long long)m->request_id,
		 what ? ": " : "", what ? what : "");
	dp_error(c, PM_CTLMSG_ERR_UNEXPECTED, m->request_id, why);
}

static void
dp_hello_ack(struct pm_controller *c, const struct pm_ctlmsg *m)
{
	const struct pm_ctlmsg_hello_ack *a = &m->u.hello_ack;
	char err[512];
	size_t i;

	if (m->request_id != c->dp.hello_id) {
		dp_unexpected(c, m, "not the answer to HELLO");
		return;
	}
	if (a->version != PM_CTLMSG_VERSION) {
		snprintf(err, sizeof(err), "control speaks %u..%u, data plane chose %u",
			 PM_CTLMSG_VERSION, PM_CTLMSG_VERSION, a->version);
		dp_error(c, PM_CTLMSG_ERR_VERSION, m->request_id, err);
		return;
	}
	if (pending_find(c, m->request_id) != NULL)
		pending_del(c, pending_find(c, m->request_id));
	ctl_log(c, PM_CONTROLLER_INFO,
		"data plane pid %u: protocol %u, %s pins, applied generation %llu", a->pid,
		a->version, a->has_pins ? "holds" : "no", (unsigned long long)m->generation);
	/* Our state file was lost or is older: never let generations go
	 * backwards as the data plane sees them (control-channel.md). */
	if (m->generation > c->st.generation && m->generation < UINT64_MAX) {
		c->st.generation = m->generation + 1;
		err[0] = '\0';
		if (c->ops.save_state != NULL &&
		    c->ops.save_state(c->arg, &c->st, err, sizeof(err)) < 0)
			ctl_log(c, PM_CONTROLLER_ERROR, "state file not written: %s", err);
		ctl_log(c, PM_CONTROLLER_WARNING,
			"the data plane had applied a newer generation; continuing at %llu",
			(unsigned long long)c->st.generation);
	}
	dp_send_state(c);
	if (c->dp.close_req)
		return;
	c->dp.phase = DP_READY;
	/* Commands waiting for a data plane run now, oldest client first. */
	for (i = 0; i < c->ncl; i++) {
		struct client *cl = c->cl[i];

		if (cl->wait != W_DP)
			continue;
		client_exec(c, cl);
		if (cl->wait == W_NONE)
			client_resume(c, cl);
	}
}

static void
dp_answer(struct pm_controller *c, const struct pm_ctlmsg *m)
{
	struct pending *p = pending_find(c, m->request_id);
	struct pending copy;
	struct client *cl;
	bool final;

	if (p == NULL) {
		dp_unexpected(c, m, "nobody waits for that request id");
		return;
	}
	switch (m->type) {
	case PM_CTLMSG_REPLY:
		if (m->u.reply.req_type != p->type) {
			dp_unexpected(c, m, "answers another request type");
			return;
		}
		final = true;
		break;
	case PM_CTLMSG_USER_LIST_PART:
		if (p->type != PM_CTLMSG_USER_LIST) {
			dp_unexpected(c, m, "not a USER_LIST request");
			return;
		}
		final = (m->flags & PM_CTLMSG_F_LAST) != 0;
		break;
	case PM_CTLMSG_HOST_LIST_PART:
		if (p->type != PM_CTLMSG_HOST_LIST) {
			dp_unexpected(c, m, "not a HOST_LIST request");
			return;
		}
		final = (m->flags & PM_CTLMSG_F_LAST) != 0;
		break;
	case PM_CTLMSG_COUNTERS_PART:
		if (p->type != PM_CTLMSG_COUNTERS) {
			dp_unexpected(c, m, "not a COUNTERS request");
			return;
		}
		final = (m->flags & PM_CTLMSG_F_LAST) != 0;
		break;
	case PM_CTLMSG_PONG:
		if (p->type != PM_CTLMSG_PING) {
			dp_unexpected(c, m, "not a PING");
			return;
		}
		final = true;
		break;
	default:
		dp_unexpected(c, m, NULL);
		return;
	}
	copy = *p;
	if (final)
		pending_del(c, p);
	cl = copy.client != 0 ? client_find(c, copy.client) : NULL;
	if (cl == NULL || cl->wait != W_REPLY || cl->req_id != copy.id) {
		if (final)
			internal_answer(c, &copy, m);
		return;
	}
	if (m->type == PM_CTLMSG_USER_LIST_PART)
		client_user_part(c, cl, m);
	else if (m->type == PM_CTLMSG_HOST_LIST_PART)
		client_host_part(c, cl, m);
	else if (m->type == PM_CTLMSG_COUNTERS_PART)
		client_counters_part(c, cl, m);
	else if (m->type == PM_CTLMSG_REPLY)
		client_reply(c, cl, &m->u.reply);
}

void
pm_controller_dp_input(struct pm_controller *c, const void *buf, size_t len)
{
	struct pm_ctlmsg m;
	struct pm_ctlmsg_hdr h;
	char why[2 * PM_CTLMSG_REASON_MAX];
	int rc;

	if (c->dp.phase == DP_NONE || c->dp.close_req)
		return;
	c->dp.last_rx = c->now;
	c->dp.ping_at = 0;
	rc = pm_ctlmsg_decode(&m, buf, len);
	if (rc < 0) {
		if (pm_ctlmsg_peek(buf, len, &h) == 0)
			snprintf(why, sizeof(why), "%s (%s, request %llu)", pm_ctlmsg_strerror(rc),
				 pm_ctlmsg_type_name(h.type) ? pm_ctlmsg_type_name(h.type)
							     : "unknown type",
				 (unsigned long long)h.request_id);
		else
			snprintf(why, sizeof(why), "%s", pm_ctlmsg_strerror(rc));
		dp_error(c, rc == -EPROTONOSUPPORT ? PM_CTLMSG_ERR_VERSION
						   : PM_CTLMSG_ERR_MALFORMED,
			 0, why);
		return;
	}
	if (!(pm_ctlmsg_direction(m.type) & PM_CTLMSG_TO_CONTROL)) {
		dp_unexpected(c, &m, "wrong direction");
		return;
	}
	if (m.type == PM_CTLMSG_ERROR) {
		snprintf(why, sizeof(why), "it sent ERROR %u: %s", m.u.error.code,
			 m.u.error.reason);
		dp_close(c, printable(why, sizeof(why), why));
		return;
	}
	if (c->dp.phase == DP_HELLO) {
		if (m.type != PM_CTLMSG_HELLO_ACK)
			dp_unexpected(c, &m, "before HELLO_ACK");
		else
			dp_hello_ack(c, &m);
		return;
	}
	if (m.type == PM_CTLMSG_HELLO_ACK) {
		dp_unexpected(c, &m, "a second HELLO_ACK");
		return;
	}
	dp_answer(c, &m);
}

int
pm_controller_dp_open(struct pm_controller *c, void *refuse, size_t size, size_t *refuse_len)
{
	struct pm_ctlmsg m;
	int n;

	*refuse_len = 0;
	if (c->dp.phase != DP_NONE) {
		pm_ctlmsg_init(&m, PM_CTLMSG_ERROR, 0, 0);
		m.u.error.code = PM_CTLMSG_ERR_BUSY;
		strcpy(m.u.error.reason, "another data plane is connected");
		n = pm_ctlmsg_encode(&m, refuse, size);
		if (n > 0)
			*refuse_len = (size_t)n;
		ctl_log(c, PM_CONTROLLER_WARNING,
			"a second data plane connected; refused (another data plane is connected)");
		return -EBUSY;
	}
	c->dp.phase = DP_HELLO;
	c->dp.close_req = false;
	c->dp.next_id = 1;
	c->dp.hello_at = c->now;
	c->dp.last_rx = c->now;
	c->dp.ping_at = 0;
	pm_ctlmsg_init(&m, PM_CTLMSG_HELLO, 0, 0);
	m.u.hello.pid = c->pid;
	m.u.hello.proto_min = PM_CTLMSG_VERSION;
	m.u.hello.proto_max = PM_CTLMSG_VERSION;
	memcpy(m.u.hello.boot_id, c->boot_id, sizeof(c->boot_id));
	if (dp_request(c, &m, 0) == 0)
		c->dp.hello_id = m.request_id;
	ctl_log(c, PM_CONTROLLER_INFO, "data plane connected; HELLO sent");
	return 0;
}

static void
dp_queue_free(struct pm_controller *c)
{
	struct dgram *d, *next;

	for (d = c->dp.head; d != NULL; d = next) {
		next = d->next;
		free(d);
	}
	c->dp.head = c->dp.tail = NULL;
	c->dp.qbytes = 0;
}

void
pm_controller_dp_closed(struct pm_controller *c, const char *why)
{
	struct pending *pend;
	size_t i, n;

	if (c->dp.phase == DP_NONE)
		return;
	ctl_log(c, PM_CONTROLLER_INFO, "data plane disconnected%s%s", why ? ": " : "",
		why ? why : "");
	c->dp.phase = DP_NONE;
	c->dp.close_req = false;
	dp_queue_free(c);
	/* Take the table first: the clients may queue new work (which waits
	 * for the next data plane). */
	pend = c->dp.pend;
	n = c->dp.npend;
	c->dp.pend = NULL;
	c->dp.npend = c->dp.cappend = 0;
	for (i = 0; i < n; i++) {
		struct client *cl;

		if (pend[i].client == 0)
			continue;
		cl = client_find(c, pend[i].client);
		if (cl != NULL && cl->wait == W_REPLY && cl->req_id == pend[i].id)
			client_dp_lost(c, cl);
	}
	free(pend);
}

bool
pm_controller_dp_output(struct pm_controller *c, const void **buf, size_t *len)
{
	if (c->dp.head == NULL)
		return false;
	*buf = c->dp.head->data;
	*len = c->dp.head->len;
	return true;
}

void
pm_controller_dp_sent(struct pm_controller *c)
{
	struct dgram *d = c->dp.head;

	if (d == NULL)
		return;
	c->dp.head = d->next;
	if (c->dp.head == NULL)
		c->dp.tail = NULL;
	c->dp.qbytes -= d->len;
	free(d);
}

bool
pm_controller_dp_should_close(const struct pm_controller *c)
{
	return c->dp.phase != DP_NONE && c->dp.close_req;
}

bool
pm_controller_dp_connected(const struct pm_controller *c)
{
	return c->dp.phase != DP_NONE;
}

bool
pm_controller_dp_ready(const struct pm_controller *c)
{
	return c->dp.phase == DP_READY && !c->dp.close_req;
}

/* ---- admin client API ---------------------------------------------------------- */

int
pm_controller_client_open(struct pm_controller *c, uint64_t *id)
{
	struct client *cl;

	if (c->ncl == c->capcl) {
		size_t ncap = c->capcl ? 2 * c->capcl : 16;
		struct client **n = realloc(c->cl, ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		c->cl = n;
		c->capcl = ncap;
	}
	cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return -ENOMEM;
	cl->id = ++c->next_client;
	pm_adminproto_init(&cl->parser);
	c->cl[c->ncl++] = cl;
	out_str(c, cl, PM_ADMINPROTO_BANNER);
	ctl_log(c, PM_CONTROLLER_DEBUG, "admin client %llu connected", (unsigned long long)cl->id);
	*id = cl->id;
	return 0;
}

void
pm_controller_client_input(struct pm_controller *c, uint64_t id, const void *data, size_t len)
{
	struct client *cl = client_find(c, id);

	if (cl == NULL || cl->closing || len == 0)
		return;
	if (iobuf_append(&cl->in, data, len) < 0) {
		client_abort(c, cl, "out of memory for its input");
		return;
	}
	client_run(c, cl);
}

void
pm_controller_client_eof(struct pm_controller *c, uint64_t id)
{
	struct client *cl = client_find(c, id);

	if (cl == NULL)
		return;
	cl->eof = true;
	client_run(c, cl);
}

void
pm_controller_client_hangup(struct pm_controller *c, uint64_t id)
{
	struct client *cl = client_find(c, id);

	if (cl == NULL)
		return;
	cl->eof = true;
	cl->deaf = true;
	cl->stall_since = 0;
	iobuf_free(&cl->out);
	client_run(c, cl);
}

void
pm_controller_client_gone(struct pm_controller *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->ncl; i++) {
		struct client *cl = c->cl[i];

		if (cl->id != id)
			continue;
		ctl_log(c, PM_CONTROLLER_DEBUG, "admin client %llu disconnected",
			(unsigned long long)id);
		iobuf_free(&cl->in);
		iobuf_free(&cl->out);
		free(cl->hu);
		free(cl);
		memmove(&c->cl[i], &c->cl[i + 1], (c->ncl - i - 1) * sizeof(*c->cl));
		c->ncl--;
		/* An answer still owed to it is matched by id and dropped. */
		return;
	}
}

size_t
pm_controller_client_output(struct pm_controller *c, uint64_t id, const void **data)
{
	struct client *cl = client_find(c, id);

	if (cl == NULL || cl->abort || iobuf_pending(&cl->out) == 0) {
		*data = NULL;
		return 0;
	}
	*data = cl->out.p + cl->out.off;
	return iobuf_pending(&cl->out);
}

void
pm_controller_client_sent(struct pm_controller *c, uint64_t id, size_t n)
{
	struct client *cl = client_find(c, id);
	bool was_full;

	if (cl == NULL || cl->abort || n == 0)
		return;
	if (n > iobuf_pending(&cl->out))
		n = iobuf_pending(&cl->out);
	was_full = iobuf_pending(&cl->out) > PM_CONTROLLER_OUT_SOFT;
	cl->out.off += n;
	/* Progress: a client still over the limit gets a fresh stall timer. */
	cl->stall_since = iobuf_pending(&cl->out) > PM_CONTROLLER_OUT_SOFT ? (c->now ? c->now : 1)
									  : 0;
	/* Commands held back while the output was full run now. */
	if (was_full && iobuf_pending(&cl->out) <= PM_CONTROLLER_OUT_SOFT)
		client_run(c, cl);
}

bool
pm_controller_client_wants_input(struct pm_controller *c, uint64_t id)
{
	struct client *cl = client_find(c, id);

	return cl != NULL && !cl->closing && iobuf_pending(&cl->in) < PM_CONTROLLER_IN_MAX;
}

bool
pm_controller_client_should_close(struct pm_controller *c, uint64_t id)
{
	struct client *cl = client_find(c, id);

	/* A deaf client has no output, so it closes once it is idle. */
	return cl == NULL || cl->abort || (cl->closing && iobuf_pending(&cl->out) == 0);
}

size_t
pm_controller_client_count(const struct pm_controller *c)
{
	return c->ncl;
}

/* ---- timers -------------------------------------------------------------------- */

static void
deadline_min(uint64_t *next, uint64_t t)
{
	if (t < *next)
		*next = t;
}

uint64_t
pm_controller_tick(struct pm_controller *c)
{
	uint64_t next = UINT64_MAX;
	struct pm_ctlmsg m;
	size_t i;

	/* The data plane's liveness. */
	if (c->dp.phase == DP_HELLO && !c->dp.close_req) {
		if (c->now - c->dp.hello_at >= PM_CONTROLLER_HELLO_TIMEOUT_MS)
			dp_close(c, "no HELLO_ACK within 5 s");
		else
			deadline_min(&next, c->dp.hello_at + PM_CONTROLLER_HELLO_TIMEOUT_MS);
	} else if (c->dp.phase == DP_READY && !c->dp.close_req) {
		if (c->dp.ping_at != 0 && c->now - c->dp.ping_at >= PM_CONTROLLER_PING_TIMEOUT_MS) {
			dp_close(c,
				 "nothing received for 30 s after PING: its ctl thread is stuck");
		} else if (c->dp.ping_at == 0 &&
			   c->now - c->dp.last_rx >= PM_CONTROLLER_PING_IDLE_MS) {
			pm_ctlmsg_init(&m, PM_CTLMSG_PING, 0, 0);
			if (dp_request(c, &m, 0) == 0)
				c->dp.ping_at = c->now;
		}
		if (c->dp.ping_at != 0)
			deadline_min(&next, c->dp.ping_at + PM_CONTROLLER_PING_TIMEOUT_MS);
		else if (!c->dp.close_req)
			deadline_min(&next, c->dp.last_rx + PM_CONTROLLER_PING_IDLE_MS);
	}

	/* Admin clients: ring-sync waits, USER-ASSIGN retries, stalls. */
	for (i = 0; i < c->ncl; i++) {
		struct client *cl = c->cl[i];

		if (cl->abort)
			continue;
		if (cl->stall_since != 0) {
			if (c->now - cl->stall_since >= PM_CONTROLLER_OUT_STALL_MS) {
				client_abort(c, cl, "does not read its output (over 16 MiB)");
				continue;
			}
			deadline_min(&next, cl->stall_since + PM_CONTROLLER_OUT_STALL_MS);
		}
		if (cl->wait == W_DP) {
			if (c->now >= cl->deadline) {
				reply_wait_timeout(c, cl);
				client_resume(c, cl);
			}
		} else if (cl->wait == W_RETRY) {
			if (c->now >= cl->retry_at) {
				client_exec(c, cl);
				if (cl->wait == W_NONE)
					client_resume(c, cl);
			}
		}
		if (cl->wait == W_DP)
			deadline_min(&next, cl->deadline);
		else if (cl->wait == W_RETRY)
			deadline_min(&next, cl->retry_at);
	}
	return next;
}

/* ---- life cycle ------------------------------------------------------------------ */

static int
build_initial_ring(struct pm_controller *c, char *err, size_t errlen)
{
	const struct pm_config *cfg = c->cfg;
	struct pm_ring_input *in = NULL;
	const char **tags = NULL;
	uint32_t ntags = 1, t;
	size_t i;
	int rc = -ENOMEM;

	if (cfg->nservers > PM_RING_MAX_HOSTS) {
		snprintf(err, errlen, "more than %u servers", PM_RING_MAX_HOSTS);
		return -EINVAL;
	}
	in = calloc(cfg->nservers + 1, sizeof(*in));
	tags = calloc(cfg->nservers + 1, sizeof(*tags));
	if (in == NULL || tags == NULL)
		goto out;
	tags[0] = "";
	for (i = 0; i < cfg->nservers; i++) {
		const struct pm_hostspec *s = &cfg->servers[i];

		for (t = 0; t < ntags && strcmp(tags[t], s->tag) != 0; t++)
			;
		if (t == ntags)
			tags[ntags++] = s->tag;
		in[i].addr = s->addr;
		in[i].id = (uint32_t)i;
		in[i].tag = (uint16_t)t;
		in[i].vhosts = s->vhosts;
		in[i].down = s->down;
	}
	rc = pm_ring_build(in, (uint32_t)cfg->nservers, tags, ntags, 1, &c->initial);
	if (rc < 0)
		snprintf(err, errlen, "cannot build the configured servers' ring: %s",
			 strerror(-rc));
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(in);
	free(tags);
	return rc;
}

int
pm_controller_new(struct pm_controller **out, const struct pm_config *cfg,
		  struct pm_state *state, const struct pm_controller_ops *ops, void *arg,
		  uint32_t pid, const uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN], char *err,
		  size_t errlen)
{
	struct pm_controller *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->cfg = cfg;
	c->ops = *ops;
	c->arg = arg;
	c->pid = pid;
	memcpy(c->boot_id, boot_id, sizeof(c->boot_id));
	/* Dovecot's admin commands hash with director_username_hash alone;
	 * only logins cut at the master-user separator. */
	rc = pm_userhash_compile(&c->admin_fmt, cfg->hash_format, '\0', err, errlen);
	if (rc == 0)
		rc = build_initial_ring(c, err, errlen);
	if (rc < 0) {
		pm_ring_free(c->initial);
		free(c);
		return rc;
	}
	c->st = *state;
	memset(state, 0, sizeof(*state));
	/* Messages that carry desired state need a generation >= 1. */
	if (c->st.generation == 0)
		c->st.generation = 1;
	*out = c;
	return 0;
}

void
pm_controller_free(struct pm_controller *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncl; i++) {
		iobuf_free(&c->cl[i]->in);
		iobuf_free(&c->cl[i]->out);
		free(c->cl[i]->hu);
		free(c->cl[i]);
	}
	free(c->cl);
	dp_queue_free(c);
	free(c->dp.pend);
	pm_ring_free(c->initial);
	pm_state_free(&c->st);
	free(c);
}

void
pm_controller_set_time(struct pm_controller *c, uint64_t mono_ms, int64_t unix_s)
{
	c->now = mono_ms;
	c->unix_s = unix_s;
}

const struct pm_state *
pm_controller_state(const struct pm_controller *c)
{
	return &c->st;
}
