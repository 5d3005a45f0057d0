/*
 * engine.c -- a worker lcore's TCP engine (engine.h).
 *
 * Sessions live in one array, pre-login state (the two pm_tcbs, the login
 * machines and their buffers: about 81 KiB) in a second, smaller one, so a
 * spliced session costs only its struct sess. Flows map (remote, local)
 * 4-tuples to (session << 1 | side), side 0 the client's connection, 1 the
 * backend's. Each session has one timer, armed at the earliest of its
 * deadlines.
 */
#include "tcp/engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/buf.h"
#include "net/bytes.h"
#include "proto/login.h"
#include "tcp/cookie.h"
#include "tcp/flowtab.h"
#include "tcp/seq.h"
#include "tcp/siphash.h"
#include "tcp/splice.h"
#include "tcp/tcb.h"
#include "tcp/timer.h"

#define NONE		UINT32_MAX
#define TIMER_SLOTS	4096		/* x 10 ms: 41 s a revolution */
#define TIMER_TICK_MS	10
#define OUT_BURST	16
#define CS_SIZE		16384		/* to the client: responses, backend lines */
#define CR_SIZE		8192		/* from the client: commands */
#define BS_SIZE		16384		/* to the backend: login, pipelined bytes */
#define BR_SIZE		16384		/* from the backend */
#define SCRATCH_SIZE	(PM_LOGINBACK_BACKEND_ROOM + PM_LOGINBACK_CLIENT_ROOM + 2 * PM_LOGIN_OUT_MIN)
#define LOOKUP_RETRY_MS	100		/* a user being moved: ask again */
#define PORT_LO		10000		/* local ports towards backends */
#define PORT_HI		65535
#define PORT_TRIES	4096
#define SYN_SLOTS	1024		/* x 100 ms: 102 s a revolution */
#define SYN_TICK_MS	100
#define SYN_RTO_MS	1000		/* RFC 6298's initial RTO */
#define SYN_RETRIES	5		/* Linux's tcp_synack_retries */

enum sess_state {
	S_FREE = 0,
	S_PRELOGIN,	/* reading the client's commands */
	S_LOOKUP_WAIT,	/* the user is being moved */
	S_CONNECTING,	/* SYN to the backend sent */
	S_BLOGIN,	/* backend connected, the backend login running */
	S_RETRY_WAIT,	/* an attempt failed; the next one at retry_at */
	S_QUIESCE,	/* logged in, proxying until quiet */
	S_CLOSING_PRE,	/* pre-login, the client's connection closing */
	S_SPLICED,
	S_CLOSING,	/* spliced, a FIN seen: ends after closing_timeout */
	S_KICKED,	/* kicked: RSTs to whatever still arrives, then gone */
};

#define KICKED_MS	5000	/* how long a kicked session answers with RSTs */
#define FINISHED_MS	5000	/* how long a session lingers after both FINs */

#define F_CFIN		0x01	/* spliced: the client sent FIN */
#define F_BFIN		0x02	/* spliced: the backend sent FIN */
#define F_BFLOW		0x04	/* the backend flow is in the table */
#define F_ULINK		0x08	/* in its user-hash bucket's list (kicks find it) */

struct sess {
	struct pm_timer timer;
	struct pm_flow cf;		/* raddr client, laddr VIP */
	struct pm_flow bf;		/* raddr backend, laddr ours */
	uint32_t pre;			/* index into pres, or NONE */
	uint32_t next_free;
	uint8_t state;
	uint8_t flags;
	uint8_t listener;
	uint8_t attempts;
	uint32_t cp, bp;		/* splice points: first client / backend
					 * sequence number of the spliced streams */
	struct pm_splice_dir c2b, b2c;
	uint64_t last_ms;		/* spliced: last packet either way */
	uint64_t refresh_at;		/* spliced: next pin refresh */
	uint32_t user_hash;
	uint32_t unext, uprev;		/* with a backend: the user-hash bucket's list */
	uint32_t nxt_c, nxt_b;		/* spliced: next sequence number the
					 * client / backend expects from us */
	uint32_t ack_c, ack_b;		/* spliced: last ack we sent on */
	uint16_t wnd_c, wnd_b;		/* spliced: last window field we sent on */
	uint32_t name_check;		/* pm_engine_name_check() of the user */
};

/* The budget: a spliced session in at most 256 bytes (its two
 * flow-table slots come on top: 2 x 16 bytes at load <= 1/2). */
_Static_assert(sizeof(struct sess) <= 256, "a spliced session must fit in 256 bytes");

/* A SYN we answered while the backlog had room: enough to send the same
 * SYN-ACK again. The cookie stays the authority; this only makes up for a
 * lost SYN-ACK or a lost final ACK, which a server-speaks-first protocol
 * cannot recover from otherwise (the client waits for the greeting). */
struct syn {
	struct pm_timer timer;
	struct pm_flow f;
	uint32_t iss;			/* our cookie ISN */
	uint32_t irs;			/* the client's ISN */
	uint32_t next_free;
	uint8_t tries;			/* SYN-ACKs sent again */
	uint8_t ws;			/* announce window scale */
	uint8_t sack;			/* announce SACK-permitted */
};

struct pre {
	struct pm_tcb ct, bt;
	struct pm_login lg;		/* the client side */
	struct pm_loginback lb;		/* the backend side */
	uint64_t login_deadline;
	uint64_t attempt_deadline;	/* CONNECTING, BLOGIN */
	uint64_t retry_at;		/* LOOKUP_WAIT, RETRY_WAIT */
	enum pm_loginback_status last;	/* of the failed attempt */
	struct pm_addr host;
	uint32_t next_free;
	uint8_t scratch[SCRATCH_SIZE];
	uint8_t cs[CS_SIZE], cr[CR_SIZE], bs[BS_SIZE], br[BR_SIZE];
};

struct pm_engine {
	struct pm_engine_params p;
	struct pm_engine_listener listeners[PM_ENGINE_LISTENERS_MAX];
	struct pm_engine_ops ops;
	struct pm_engine_stats stats;
	struct pm_cookie_secret cookie;
	struct pm_siphash_key idkey;
	uint8_t name_key[16];
	struct pm_timer_wheel wheel;
	struct pm_timer_link *slots;
	struct pm_timer_wheel syn_wheel;
	struct pm_timer_link *syn_slots;
	struct syn *syns;
	uint32_t free_syn, nsyn;
	struct sess *sess;
	struct pre *pres;
	struct pm_flowtab *flows;
	struct pm_flowtab *synflows;	/* SYN backlog entries, or NULL */
	uint32_t *ubucket;		/* user hash -> first session with a backend */
	uint32_t umask;
	uint32_t free_sess, free_pre;
	uint32_t nsess, npre;
	uint32_t next_port;
	uint16_t ip_id;
	uint64_t counter;		/* session ids, ISNs */
	uint64_t now_ms;
};

static size_t
align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

void
pm_engine_params_defaults(struct pm_engine_params *p)
{
	memset(p, 0, sizeof(*p));
	p->sessions = 65536;
	p->prelogin = 1024;
	p->syn_backlog = 4096;
	p->mss = 1460;
	p->wscale = 7;
	p->login_timeout_ms = 60000;
	p->connect_timeout_ms = 30000;
	p->idle_timeout_ms = 3600000;
	p->closing_timeout_ms = 60000;
	p->refresh_ms = 450000;
	p->proxy_ttl = 5;
	pm_login_params_defaults(&p->login);
}

static bool
listeners_ok(const struct pm_engine_params *p)
{
	size_t i;

	for (i = 0; i < p->nlisteners; i++)
		if (p->listeners[i].proto >= PM_LOGIN__COUNT)
			return false;
	return true;
}

static bool
params_ok(const struct pm_engine_params *p)
{
	return p->sessions > 0 && p->sessions <= PM_FLOWTAB_MAX / 2 && p->prelogin > 0 &&
	       p->prelogin <= p->sessions && p->syn_backlog <= PM_ENGINE_SYN_BACKLOG_MAX &&
	       p->nlisteners <= PM_ENGINE_LISTENERS_MAX &&
	       (p->nlisteners == 0 || p->listeners != NULL) && p->mss >= 536 &&
	       p->wscale >= 0 && p->wscale <= 14 && p->login_timeout_ms > 0 &&
	       p->connect_timeout_ms > 0 && p->idle_timeout_ms > 0 &&
	       p->closing_timeout_ms > 0 && p->refresh_ms > 0 && p->proxy_ttl >= 2 &&
	       pm_login_params_check(&p->login) == 0 && listeners_ok(p);
}

/* Offsets of the parts in the engine's block. */
struct layout {
	size_t slots, syn_slots, syns, sess, pres, ubucket, flows, synflows, total;
	uint32_t nbuckets;
};

static bool
layout(const struct pm_engine_params *p, struct layout *l)
{
	size_t fsize, ssize = 0;

	if (!params_ok(p))
		return false;
	/* The SYN backlog has a table of its own: sharing the sessions' would
	 * double that (power-of-two) table for a few more entries. Only
	 * segments of no session look there, never the spliced fast path. */
	fsize = pm_flowtab_memsize(2 * p->sessions);
	if (p->syn_backlog > 0)
		ssize = pm_flowtab_memsize(p->syn_backlog);
	if (fsize == 0 || (p->syn_backlog > 0 && ssize == 0))
		return false;
	l->slots = align64(sizeof(struct pm_engine));
	l->syn_slots = align64(l->slots + TIMER_SLOTS * sizeof(struct pm_timer_link));
	l->syns = align64(l->syn_slots + SYN_SLOTS * sizeof(struct pm_timer_link));
	l->sess = align64(l->syns + (size_t)p->syn_backlog * sizeof(struct syn));
	l->pres = align64(l->sess + (size_t)p->sessions * sizeof(struct sess));
	l->ubucket = align64(l->pres + (size_t)p->prelogin * sizeof(struct pre));
	for (l->nbuckets = 1; l->nbuckets < p->sessions; l->nbuckets <<= 1)
		;
	l->flows = align64(l->ubucket + (size_t)l->nbuckets * sizeof(uint32_t));
	l->synflows = align64(l->flows + fsize);
	l->total = l->synflows + ssize;
	return true;
}

size_t
pm_engine_memsize(const struct pm_engine_params *p)
{
	struct layout l;

	return layout(p, &l) ? l.total : 0;
}

struct pm_engine *
pm_engine_init(void *mem, size_t size, const struct pm_engine_params *p,
	       const struct pm_engine_ops *ops, uint64_t now_ms)
{
	struct pm_engine *e = mem;
	uint8_t *base = mem;
	struct layout l;
	uint32_t i;

	if (!layout(p, &l) || size < l.total || ((uintptr_t)mem & 63) != 0 || ops == NULL ||
	    ops->tx_alloc == NULL || ops->tx_send == NULL || ops->tx_free == NULL ||
	    ops->lookup == NULL || ops->source == NULL || ops->owns == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->p = *p;
	memcpy(e->listeners, p->listeners, p->nlisteners * sizeof(e->listeners[0]));
	e->p.listeners = e->listeners;
	e->ops = *ops;
	pm_cookie_secret_init(&e->cookie, p->cookie_key);
	pm_siphash_key_load(&e->idkey, p->flow_key);
	memcpy(e->name_key, p->name_key, sizeof(e->name_key));
	e->slots = (struct pm_timer_link *)(base + l.slots);
	if (pm_timer_wheel_init(&e->wheel, e->slots, TIMER_SLOTS, TIMER_TICK_MS, now_ms) != 0)
		return NULL;
	e->syn_slots = (struct pm_timer_link *)(base + l.syn_slots);
	if (pm_timer_wheel_init(&e->syn_wheel, e->syn_slots, SYN_SLOTS, SYN_TICK_MS, now_ms) != 0)
		return NULL;
	e->syns = (struct syn *)(base + l.syns);
	for (i = 0; i < p->syn_backlog; i++) {
		pm_timer_init(&e->syns[i].timer);
		e->syns[i].next_free = i + 1 < p->syn_backlog ? i + 1 : NONE;
	}
	e->free_syn = p->syn_backlog > 0 ? 0 : NONE;
	e->sess = (struct sess *)(base + l.sess);
	e->pres = (struct pre *)(base + l.pres);
	e->flows = (struct pm_flowtab *)(base + l.flows);
	e->ubucket = (uint32_t *)(base + l.ubucket);
	e->umask = l.nbuckets - 1;
	for (i = 0; i < l.nbuckets; i++)
		e->ubucket[i] = NONE;
	if (pm_flowtab_init(e->flows, l.synflows - l.flows, 2 * p->sessions, p->flow_key) != 0)
		return NULL;
	if (p->syn_backlog > 0) {
		e->synflows = (struct pm_flowtab *)(base + l.synflows);
		if (pm_flowtab_init(e->synflows, size - l.synflows, p->syn_backlog,
				    p->flow_key) != 0)
			return NULL;
	}
	for (i = 0; i < p->sessions; i++) {
		memset(&e->sess[i], 0, sizeof(e->sess[i]));
		pm_timer_init(&e->sess[i].timer);
		e->sess[i].pre = NONE;
		e->sess[i].next_free = i + 1 < p->sessions ? i + 1 : NONE;
	}
	for (i = 0; i < p->prelogin; i++)
		e->pres[i].next_free = i + 1 < p->prelogin ? i + 1 : NONE;
	e->free_sess = 0;
	e->free_pre = 0;
	e->next_port = PORT_LO + (uint32_t)(pm_siphash_u32x4(&e->idkey, 1, 2, 3, 4) %
					    (PORT_HI - PORT_LO));
	e->now_ms = now_ms;
	return e;
}

/* ---- small helpers --------------------------------------------------------- */

/* Count @name in the engine's totals and in those of @s's protocol. */
#define PCOUNT(e, s, name) do {							\
		(e)->stats.name++;						\
		(e)->stats.proto[(e)->listeners[(s)->listener].proto].name++;	\
	} while (0)

static inline void
addr4(struct pm_addr *a, const uint8_t b[4])
{
	memset(a, 0, sizeof(*a));
	a->family = PM_AF_INET;
	memcpy(a->bytes, b, 4);
}

static int
find_listener(const struct pm_engine *e, const struct pm_addr *a, uint16_t port)
{
	size_t i;

	for (i = 0; i < e->p.nlisteners; i++)
		if (e->listeners[i].port == port && pm_addr_eq(&e->listeners[i].addr, a))
			return (int)i;
	return -1;
}

bool
pm_engine_is_listener(const struct pm_engine *e, const struct pm_addr *addr, uint16_t port)
{
	return find_listener(e, addr, port) >= 0;
}

static inline uint32_t
sess_idx(const struct pm_engine *e, const struct sess *s)
{
	return (uint32_t)(s - e->sess);
}

static inline struct pre *
pre_of(struct pm_engine *e, const struct sess *s)
{
	return s->pre == NONE ? NULL : &e->pres[s->pre];
}

/* Build and send one TCP segment on the flow @f (raddr is the peer). */
static void
send_segment(struct pm_engine *e, const struct pm_flow *f, const struct pm_tcp_hdr *h,
	     const uint8_t *payload, size_t plen)
{
	struct pm_addr src, dst;
	uint8_t *buf;
	size_t room;
	void *hd;
	int n;

	hd = e->ops.tx_alloc(e->ops.arg, &buf, &room);
	if (hd == NULL) {
		e->stats.tx_nobuf++;
		return;
	}
	addr4(&src, f->laddr);
	addr4(&dst, f->raddr);
	n = pm_tcpopt_segment(buf, room, &src, &dst, e->ip_id++, h, payload, plen);
	if (n < 0) {
		e->ops.tx_free(e->ops.arg, hd);
		e->stats.tx_nobuf++;
		return;
	}
	e->ops.tx_send(e->ops.arg, hd, (size_t)n, &dst);
}

/* A RST on flow @f with sequence number @seq; with @has_ack, also ACK
 * @ack. */
static void
send_rst_seq(struct pm_engine *e, const struct pm_flow *f, uint32_t seq, bool has_ack,
	     uint32_t ack)
{
	struct pm_tcp_hdr h;

	memset(&h, 0, sizeof(h));
	h.sport = f->lport;
	h.dport = f->rport;
	h.seq = seq;
	h.ack = has_ack ? ack : 0;
	h.flags = PM_TCP_RST | (has_ack ? PM_TCP_ACK : 0);
	e->stats.rst_sent++;
	send_segment(e, f, &h, NULL, 0);
}

/* A RST answering the segment @th of flow @f (RFC 9293 3.10.7.1). */
static void
send_rst(struct pm_engine *e, const struct pm_flow *f, const struct pm_tcp_hdr *th,
	 size_t plen)
{
	if (th->flags & PM_TCP_ACK)
		send_rst_seq(e, f, th->ack, false, 0);
	else
		send_rst_seq(e, f, 0, true, th->seq + (uint32_t)plen +
			     !!(th->flags & PM_TCP_SYN) + !!(th->flags & PM_TCP_FIN));
}

/* Send what @t has to send on flow @f. */
static void
flush_tcb(struct pm_engine *e, struct pm_tcb *t, const struct pm_flow *f, uint64_t now)
{
	struct pm_tcb_out out[OUT_BURST];
	size_t n, i;

	do {
		n = pm_tcb_output(t, now, out, OUT_BURST);
		for (i = 0; i < n; i++) {
			struct pm_tcp_hdr h;

			memset(&h, 0, sizeof(h));
			h.sport = f->lport;
			h.dport = f->rport;
			h.seq = out[i].seq;
			h.ack = out[i].ack;
			h.flags = out[i].flags;
			h.wnd = out[i].wnd;
			if (out[i].flags & PM_TCB_F_SYN) {
				h.has_mss = out[i].mss != 0;
				h.mss = out[i].mss;
				h.has_ws = out[i].wscale >= 0;
				h.ws = out[i].wscale >= 0 ? (uint8_t)out[i].wscale : 0;
				h.sack_ok = out[i].sack_ok;
			}
			send_segment(e, f, &h, out[i].payload, out[i].len);
		}
	} while (n == OUT_BURST);
}

static void
seg_of(const struct pm_tcp_hdr *th, struct pm_tcb_seg *s)
{
	uint8_t i;

	memset(s, 0, sizeof(*s));
	s->seq = th->seq;
	s->ack = th->ack;
	s->flags = th->flags & 0x3f;
	s->wnd = th->wnd;
	s->has_mss = th->has_mss;
	s->mss = th->mss;
	s->wscale = th->has_ws ? (int8_t)(th->ws > 14 ? 14 : th->ws) : -1;
	s->sack_ok = th->sack_ok;
	s->nsack = th->nsack;
	for (i = 0; i < th->nsack && i < 4; i++) {
		s->sack[i][0] = th->sack[i][0];
		s->sack[i][1] = th->sack[i][1];
	}
}

/* ---- sessions ---------------------------------------------------------------- */

static struct sess *
sess_alloc(struct pm_engine *e, bool with_pre)
{
	struct sess *s;
	uint32_t i = e->free_sess;

	if (i == NONE || (with_pre && e->free_pre == NONE))
		return NULL;
	s = &e->sess[i];
	e->free_sess = s->next_free;
	s->next_free = NONE;
	s->flags = 0;
	s->attempts = 0;
	s->pre = NONE;
	if (with_pre) {
		s->pre = e->free_pre;
		e->free_pre = e->pres[s->pre].next_free;
		e->npre++;
	}
	e->nsess++;
	return s;
}

static void
pre_free(struct pm_engine *e, struct sess *s)
{
	struct pre *pr = pre_of(e, s);

	if (pr == NULL)
		return;
	/* Credentials may sit in the machines and the buffers. */
	pm_login_wipe(&pr->lg);
	pm_loginback_wipe(&pr->lb);
	explicit_bzero(pr->bs, sizeof(pr->bs));
	explicit_bzero(pr->cr, sizeof(pr->cr));
	explicit_bzero(pr->scratch, sizeof(pr->scratch));
	pr->next_free = e->free_pre;
	e->free_pre = s->pre;
	s->pre = NONE;
	e->npre--;
}

static void
backend_flow_remove(struct pm_engine *e, struct sess *s)
{
	if (s->flags & F_BFLOW) {
		(void)pm_flowtab_remove(e->flows, &s->bf);
		s->flags &= (uint8_t)~F_BFLOW;
	}
}

static void
user_link(struct pm_engine *e, struct sess *s)
{
	uint32_t *head = &e->ubucket[s->user_hash & e->umask], i = sess_idx(e, s);

	if (s->flags & F_ULINK)
		return;
	s->uprev = NONE;
	s->unext = *head;
	if (*head != NONE)
		e->sess[*head].uprev = i;
	*head = i;
	s->flags |= F_ULINK;
}

static void
user_unlink(struct pm_engine *e, struct sess *s)
{
	if (!(s->flags & F_ULINK))
		return;
	if (s->unext != NONE)
		e->sess[s->unext].uprev = s->uprev;
	if (s->uprev != NONE)
		e->sess[s->uprev].unext = s->unext;
	else
		e->ubucket[s->user_hash & e->umask] = s->unext;
	s->unext = s->uprev = NONE;
	s->flags &= (uint8_t)~F_ULINK;
}

static void
sess_free(struct pm_engine *e, struct sess *s)
{
	if (s->flags & F_ULINK)
		user_unlink(e, s);
	pm_timer_cancel(&e->wheel, &s->timer);
	(void)pm_flowtab_remove(e->flows, &s->cf);
	backend_flow_remove(e, s);
	pre_free(e, s);
	s->state = S_FREE;
	s->next_free = e->free_sess;
	e->free_sess = sess_idx(e, s);
	e->nsess--;
	e->stats.closed++;
}

/* Abort both connections of a pre-login session (RSTs go out) and free it. */
static void
pre_abort(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);

	if (pr != NULL) {
		if (pm_tcb_state(&pr->ct) != PM_TCB_CLOSED) {
			pm_tcb_abort(&pr->ct);
			flush_tcb(e, &pr->ct, &s->cf, now);
		}
		if ((s->flags & F_BFLOW) && pm_tcb_state(&pr->bt) != PM_TCB_CLOSED) {
			pm_tcb_abort(&pr->bt);
			flush_tcb(e, &pr->bt, &s->bf, now);
		}
	}
	sess_free(e, s);
}

/* Queue @out's bytes on the client connection. False if they do not fit
 * (cannot happen while the buffers are sized as above; the session is
 * then aborted by the caller). */
static bool
to_client(struct pre *pr, struct pm_buf *out)
{
	if (out->len == 0)
		return true;
	if (pm_tcb_send(&pr->ct, out->p, out->len) != 0)
		return false;
	out->len = 0;
	return true;
}

/* ---- the backend connection ------------------------------------------------- */

static void
backend_close(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);

	if (pr != NULL && (s->flags & F_BFLOW) && pm_tcb_state(&pr->bt) != PM_TCB_CLOSED) {
		pm_tcb_abort(&pr->bt);
		flush_tcb(e, &pr->bt, &s->bf, now);
	}
	backend_flow_remove(e, s);
}

/* The client's login is answered with @kind (and @text), and the session
 * goes back to reading commands. */
static bool
login_failed(struct pm_engine *e, struct sess *s, enum pm_login_fail kind, const char *text,
	     uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	struct pm_buf out;

	backend_close(e, s, now);
	pm_loginback_wipe(&pr->lb);
	user_unlink(e, s);	/* reading commands again: no user yet */
	pm_buf_init(&out, pr->scratch, sizeof(pr->scratch));
	if (pm_login_failed(&pr->lg, kind, text, &out) != 0)
		return false;
	s->state = S_PRELOGIN;
	s->attempts = 0;
	if (!to_client(pr, &out))
		return false;
	if (pm_login_closed(&pr->lg)) {
		/* The answer ends the connection (Submission: a 421). */
		pm_tcb_close(&pr->ct);
		s->state = S_CLOSING_PRE;
	}
	return true;
}

static int
backend_connect(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	const struct pm_engine_listener *l = &e->listeners[s->listener];
	struct pm_loginback_params bp;
	struct pm_login_cred cred;
	struct pm_tcb_params tp;
	struct pm_tcb_info ci;
	struct pm_addr src, raddr;
	char cip[PM_ADDR_STRLEN], lip[PM_ADDR_STRLEN], sid[24];
	uint32_t tries, port;
	uint64_t id;

	if (e->ops.source(e->ops.arg, &pr->host, &src) != 0 || src.family != PM_AF_INET)
		return -ENETUNREACH;
	/* A local port whose replies steer to this lcore and that no other
	 * session of ours uses towards that backend. */
	memcpy(s->bf.raddr, pr->host.bytes, 4);
	memcpy(s->bf.laddr, src.bytes, 4);
	s->bf.rport = l->backend_port;
	for (tries = 0; tries < PORT_TRIES; tries++) {
		port = e->next_port++;
		if (e->next_port > PORT_HI)
			e->next_port = PORT_LO;
		s->bf.lport = (uint16_t)port;
		if (!e->ops.owns(e->ops.arg, &pr->host, &src, l->backend_port, (uint16_t)port))
			continue;
		if (pm_flowtab_insert(e->flows, &s->bf, sess_idx(e, s) << 1 | 1) == 0)
			break;
	}
	if (tries == PORT_TRIES)
		return -EADDRNOTAVAIL;
	s->flags |= F_BFLOW;
	pm_tcb_info(&pr->ct, &ci);
	pm_tcb_params_defaults(&tp);
	tp.sbuf = pr->bs;
	tp.sbuf_size = BS_SIZE;
	tp.rbuf = pr->br;
	tp.rbuf_size = BR_SIZE;
	/* Options derived from the client's: MSS no larger, SACK only if the
	 * client offered it. */
	tp.local.mss = ci.peer_mss < e->p.mss ? ci.peer_mss : e->p.mss;
	tp.local.wscale = e->p.wscale;
	tp.local.sack_ok = ci.sack_ok;
	id = pm_siphash_u32x4(&e->idkey, (uint32_t)e->counter, (uint32_t)(e->counter >> 32),
			      sess_idx(e, s), 0x5e55);
	e->counter++;
	if (pm_tcb_init_active(&pr->bt, &tp, (uint32_t)id, now) != 0) {
		backend_flow_remove(e, s);
		return -EINVAL;
	}
	memset(&bp, 0, sizeof(bp));
	addr4(&raddr, s->cf.raddr);
	pm_addr_format(&raddr, cip, sizeof(cip));
	pm_addr_format(&l->addr, lip, sizeof(lip));
	snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)(id ^ id >> 29));
	bp.session_id = sid;
	bp.client_ip = cip;
	bp.local_ip = lip;
	bp.client_port = s->cf.rport;
	bp.local_port = l->port;
	bp.ttl = e->p.proxy_ttl;
	pm_login_cred(&pr->lg, &cred);
	bp.cred = &cred;
	bp.login = &e->p.login;
	if (pm_loginback_init(&pr->lb, (enum pm_login_proto)l->proto, &bp) != 0) {
		backend_close(e, s, now);
		return -EINVAL;
	}
	s->state = S_CONNECTING;
	pr->attempt_deadline = now + e->p.connect_timeout_ms;
	e->stats.backend_connects++;
	flush_tcb(e, &pr->bt, &s->bf, now);
	return 0;
}

/* Look the user up and connect, or wait, or answer. */
static bool
start_attempt(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	struct pm_login_cred c;
	const char *user;
	size_t ulen;

	pm_login_cred(&pr->lg, &c);
	user = c.authzid_len > 0 ? c.authzid : c.user;
	ulen = c.authzid_len > 0 ? c.authzid_len : c.user_len;
	user_unlink(e, s);	/* the lookup sets user_hash anew */

	switch (e->ops.lookup(e->ops.arg, user, ulen, &pr->host, &s->user_hash, now)) {
	case PM_ENGINE_LOOKUP_HOST:
		s->name_check = pm_engine_name_check(e->name_key, user, ulen);
		/* From here until it ends, a kick of the user must find the
		 * session: Dovecot kills pending proxies too
		 * (login_proxies_pending), lest a login in flight land on the
		 * old backend after a move. */
		user_link(e, s);
		break;
	case PM_ENGINE_LOOKUP_WAIT:
		/* Dovecot holds a login for a user being moved. */
		s->state = S_LOOKUP_WAIT;
		pr->retry_at = now + LOOKUP_RETRY_MS;
		return true;
	case PM_ENGINE_LOOKUP_NONE:
		PCOUNT(e, s, login_unavailable);
		return login_failed(e, s, PM_LOGIN_FAIL_UNAVAILABLE, NULL, now);
	}
	if (backend_connect(e, s, now) != 0) {
		PCOUNT(e, s, login_unavailable);
		return login_failed(e, s, PM_LOGIN_FAIL_UNAVAILABLE, NULL, now);
	}
	return true;
}

/* An attempt failed (connect refused or timed out, TEMPFAIL, FAIL): try
 * again, as Dovecot does, while attempts and time remain; else answer
 * NO [UNAVAILABLE]. */
static bool
attempt_failed(struct pm_engine *e, struct sess *s, enum pm_loginback_status why, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	char text[PM_LOGIN_TEXT_MAX + 1];

	text[0] = '\0';
	if (why == PM_LOGINBACK_TEMPFAIL)
		snprintf(text, sizeof(text), "%s", pm_loginback_text(&pr->lb));
	pr->last = why;
	backend_close(e, s, now);
	s->attempts++;
	if (s->attempts <= PM_ENGINE_RETRIES &&
	    now + PM_ENGINE_RETRY_MS + 1100 < pr->login_deadline) {
		s->state = S_RETRY_WAIT;
		pr->retry_at = now + PM_ENGINE_RETRY_MS;
		return true;
	}
	PCOUNT(e, s, login_unavailable);
	return login_failed(e, s, PM_LOGIN_FAIL_UNAVAILABLE, text[0] != '\0' ? text : NULL, now);
}

/* ---- driving a pre-login session ------------------------------------------- */

/* Feed the client's bytes to the login machine while reading commands. */
static bool
run_client(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	struct pm_buf out;

	while (s->state == S_PRELOGIN) {
		const uint8_t *p;
		size_t n = pm_tcb_recv_peek(&pr->ct, &p), used = 0;
		enum pm_login_status st;

		if (n == 0)
			return true;
		if (pm_tcb_send_space(&pr->ct) < PM_LOGIN_OUT_MIN)
			return true;	/* resumed on EV_ACKED */
		pm_buf_init(&out, pr->scratch, PM_LOGIN_OUT_MIN);
		st = pm_login_feed(&pr->lg, p, n, &used, &out);
		pm_tcb_recv_consume(&pr->ct, used);
		if (!to_client(pr, &out))
			return false;
		switch (st) {
		case PM_LOGIN_AGAIN:
		case PM_LOGIN_FULL:
			break;
		case PM_LOGIN_LOGIN:
			PCOUNT(e, s, logins);
			s->attempts = 0;
			pr->login_deadline = now + e->p.login_timeout_ms;
			if (!start_attempt(e, s, now))
				return false;
			break;
		case PM_LOGIN_CLOSE:
			pm_tcb_close(&pr->ct);
			s->state = S_CLOSING_PRE;
			return true;
		case PM_LOGIN_ERROR:
			return false;
		}
	}
	return true;
}

/* Feed the backend's bytes to the backend login. */
static bool
run_backend(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	enum pm_loginback_status st = PM_LOGINBACK_AGAIN;
	struct pm_buf tb, tc, out;

	while (s->state == S_BLOGIN) {
		const uint8_t *p;
		size_t n = pm_tcb_recv_peek(&pr->bt, &p), used = 0;

		if (n == 0)
			return true;
		if (pm_tcb_send_space(&pr->bt) < PM_LOGINBACK_BACKEND_ROOM ||
		    pm_tcb_send_space(&pr->ct) < PM_LOGINBACK_CLIENT_ROOM + PM_LOGIN_OUT_MIN)
			return true;	/* resumed on EV_ACKED */
		pm_buf_init(&tb, pr->scratch, PM_LOGINBACK_BACKEND_ROOM);
		pm_buf_init(&tc, pr->scratch + PM_LOGINBACK_BACKEND_ROOM, PM_LOGINBACK_CLIENT_ROOM);
		st = pm_loginback_feed(&pr->lb, p, n, &used, &tb, &tc);
		pm_tcb_recv_consume(&pr->bt, used);
		if (tb.len > 0 && pm_tcb_send(&pr->bt, tb.p, tb.len) != 0)
			return false;
		if (tc.len > 0 && pm_tcb_send(&pr->ct, tc.p, tc.len) != 0)
			return false;
		explicit_bzero(tb.p, tb.len);	/* the login line */
		if (st != PM_LOGINBACK_AGAIN)
			break;
	}
	if (s->state != S_BLOGIN)
		return true;
	pm_buf_init(&out, pr->scratch, sizeof(pr->scratch));
	switch (st) {
	case PM_LOGINBACK_AGAIN:
		return true;
	case PM_LOGINBACK_OK:
		if (pm_login_ok(&pr->lg, &pr->lb, &out) != 0 || !to_client(pr, &out))
			return false;
		PCOUNT(e, s, login_ok);
		s->state = S_QUIESCE;
		return true;
	case PM_LOGINBACK_AUTHFAILED:
		PCOUNT(e, s, login_failed);
		return login_failed(e, s, PM_LOGIN_FAIL_AUTHFAILED, pm_loginback_text(&pr->lb),
				    now);
	case PM_LOGINBACK_VERBATIM:
		PCOUNT(e, s, login_failed);
		return login_failed(e, s, PM_LOGIN_FAIL_VERBATIM, pm_loginback_text(&pr->lb), now);
	case PM_LOGINBACK_SERVERBUG:
		PCOUNT(e, s, login_failed);
		return login_failed(e, s, PM_LOGIN_FAIL_SERVERBUG, NULL, now);
	case PM_LOGINBACK_TEMPFAIL:
	case PM_LOGINBACK_FAIL:
		return attempt_failed(e, s, st, now);
	case PM_LOGINBACK_ERROR:
		return false;
	}
	return true;
}

/* Copy what one connection received into the other's send buffer. */
static void
pump(struct pm_tcb *from, struct pm_tcb *to)
{
	for (;;) {
		const uint8_t *p;
		size_t n = pm_tcb_recv_peek(from, &p), room = pm_tcb_send_space(to);

		if (n > room)
			n = room;
		if (n == 0 || pm_tcb_send(to, p, n) != 0)
			return;
		pm_tcb_recv_consume(from, n);
	}
}

/* The window field that announces @wnd bytes at shift @ws (-1: none). */
static uint16_t
wnd_field(uint32_t wnd, int8_t ws)
{
	wnd >>= ws > 0 ? ws : 0;
	return (uint16_t)(wnd > 0xffff ? 0xffff : wnd);
}

static void
do_splice(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	struct pm_tcb_info ci, bi;
	struct pm_splice_params sp;

	pm_tcb_info(&pr->ct, &ci);
	pm_tcb_info(&pr->bt, &bi);
	memset(&sp, 0, sizeof(sp));
	memcpy(sp.client_addr, s->cf.raddr, 4);
	memcpy(sp.vip_addr, s->cf.laddr, 4);
	sp.client_port = s->cf.rport;
	sp.vip_port = s->cf.lport;
	sp.client_nxt = ci.rcv_nxt;
	sp.to_client_nxt = ci.snd_nxt;
	sp.client_wscale = (uint8_t)(ci.snd_wscale < 0 ? 0 : ci.snd_wscale);
	sp.to_client_wscale = (uint8_t)(ci.rcv_wscale < 0 ? 0 : ci.rcv_wscale);
	memcpy(sp.local_addr, s->bf.laddr, 4);
	memcpy(sp.backend_addr, s->bf.raddr, 4);
	sp.local_port = s->bf.lport;
	sp.backend_port = s->bf.rport;
	sp.backend_nxt = bi.rcv_nxt;
	sp.to_backend_nxt = bi.snd_nxt;
	sp.backend_wscale = (uint8_t)(bi.snd_wscale < 0 ? 0 : bi.snd_wscale);
	sp.to_backend_wscale = (uint8_t)(bi.rcv_wscale < 0 ? 0 : bi.rcv_wscale);
	if (pm_splice_init(&sp, &s->c2b, &s->b2c) != 0) {
		pre_abort(e, s, now);
		return;
	}
	s->cp = ci.rcv_nxt;
	s->bp = bi.rcv_nxt;
	s->nxt_c = ci.snd_nxt;
	s->nxt_b = bi.snd_nxt;
	s->ack_c = ci.rcv_nxt;
	s->ack_b = bi.rcv_nxt;
	s->wnd_c = wnd_field(ci.rcv_wnd, ci.rcv_wscale);
	s->wnd_b = wnd_field(bi.rcv_wnd, bi.rcv_wscale);
	pre_free(e, s);
	s->state = S_SPLICED;
	s->refresh_at = now + e->p.refresh_ms;
	s->last_ms = now;
	PCOUNT(e, s, splices);
}

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A spliced session after a FIN: half-closed, it may go on for
 * closing_timeout; with both FINs seen only the last ACKs are left. */
static uint64_t
closing_ms(const struct pm_engine *e, const struct sess *s)
{
	if ((s->flags & (F_CFIN | F_BFIN)) == (F_CFIN | F_BFIN))
		return e->p.closing_timeout_ms < FINISHED_MS ? e->p.closing_timeout_ms : FINISHED_MS;
	return e->p.closing_timeout_ms;
}

static void
rearm(struct pm_engine *e, struct sess *s)
{
	struct pre *pr = pre_of(e, s);
	uint64_t d = UINT64_MAX;

	if (s->state == S_SPLICED)
		d = min64(s->last_ms + e->p.idle_timeout_ms, s->refresh_at);
	else if (s->state == S_CLOSING)
		d = s->last_ms + closing_ms(e, s);
	else if (s->state == S_KICKED)
		d = s->last_ms + KICKED_MS;
	if (pr != NULL) {
		d = min64(d, pm_tcb_deadline(&pr->ct));
		if (s->flags & F_BFLOW)
			d = min64(d, pm_tcb_deadline(&pr->bt));
		if (s->state != S_QUIESCE && s->state != S_CLOSING_PRE)
			d = min64(d, pr->login_deadline);
		if (s->state == S_CONNECTING || s->state == S_BLOGIN)
			d = min64(d, pr->attempt_deadline);
		if (s->state == S_LOOKUP_WAIT || s->state == S_RETRY_WAIT)
			d = min64(d, pr->retry_at);
	}
	pm_timer_cancel(&e->wheel, &s->timer);
	if (d != UINT64_MAX)
		pm_timer_arm(&e->wheel, &s->timer, d);
}

/*
 * React to whatever changed in a pre-login session: the connections'
 * events, the machines, the outputs, the timer. Frees the session when it
 * ends (the caller must not touch @s afterwards).
 */
static void
drive(struct pm_engine *e, struct sess *s, uint64_t now)
{
	struct pre *pr = pre_of(e, s);
	unsigned int cev, bev = 0;
	bool ok = true;

	cev = pm_tcb_events(&pr->ct);
	if (s->flags & F_BFLOW)
		bev = pm_tcb_events(&pr->bt);
	/* The client went away: nothing left to do for it. */
	if (cev & (PM_TCB_EV_RESET | PM_TCB_EV_TIMEOUT)) {
		pre_abort(e, s, now);
		return;
	}
	if (cev & PM_TCB_EV_CLOSED ||
	    (s->state == S_CLOSING_PRE && pm_tcb_state(&pr->ct) == PM_TCB_CLOSED)) {
		flush_tcb(e, &pr->ct, &s->cf, now);
		backend_close(e, s, now);
		sess_free(e, s);
		return;
	}
	if ((cev & PM_TCB_EV_PEER_FIN) && s->state != S_CLOSING_PRE) {
		/* The client closed before the splice: close our side too. */
		backend_close(e, s, now);
		pm_tcb_close(&pr->ct);
		s->state = S_CLOSING_PRE;
	}
	/* The backend connection. */
	if (s->flags & F_BFLOW) {
		if (s->state == S_CONNECTING && (bev & PM_TCB_EV_ESTABLISHED))
			s->state = S_BLOGIN;
		if (bev & (PM_TCB_EV_CONNECT_FAILED | PM_TCB_EV_RESET | PM_TCB_EV_TIMEOUT |
			   PM_TCB_EV_PEER_FIN | PM_TCB_EV_CLOSED)) {
			if (s->state == S_CONNECTING) {
				ok = attempt_failed(e, s, PM_LOGINBACK_FAIL, now);
			} else if (s->state == S_BLOGIN) {
				/* What it sent before closing may still decide. */
				ok = run_backend(e, s, now);
				if (ok && s->state == S_BLOGIN)
					ok = attempt_failed(e, s, pm_loginback_closed(&pr->lb), now);
			} else if (s->state == S_QUIESCE) {
				/* The backend ended the session before the splice (a
				 * pipelined LOGOUT): what it sent goes to the client,
				 * then the client's connection is closed too. */
				if (bev & (PM_TCB_EV_RESET | PM_TCB_EV_TIMEOUT)) {
					pre_abort(e, s, now);
					return;
				}
				pump(&pr->bt, &pr->ct);
				backend_close(e, s, now);
				pm_tcb_close(&pr->ct);
				s->state = S_CLOSING_PRE;
			}
		}
	}
	if (ok && s->state == S_BLOGIN)
		ok = run_backend(e, s, now);
	if (ok && s->state == S_PRELOGIN)
		ok = run_client(e, s, now);
	if (ok && s->state == S_QUIESCE) {
		pump(&pr->ct, &pr->bt);
		pump(&pr->bt, &pr->ct);
	}
	if (!ok) {
		pre_abort(e, s, now);
		return;
	}
	flush_tcb(e, &pr->ct, &s->cf, now);
	if (s->flags & F_BFLOW)
		flush_tcb(e, &pr->bt, &s->bf, now);
	if (s->state == S_QUIESCE && pm_tcb_quiescent(&pr->ct) && pm_tcb_quiescent(&pr->bt))
		do_splice(e, s, now);
	if (s->state != S_FREE)
		rearm(e, s);
}

/* ---- input ------------------------------------------------------------------ */

static enum pm_engine_verdict no_session(struct pm_engine *e, const struct pm_flow *f,
					const struct pm_l3_ipv4 *ip, const struct pm_tcp_hdr *th,
					const uint8_t *payload, uint64_t now, enum pm_drop *reason);

/* Our SYN-ACK on flow @f: ISN @iss, acknowledging the client's ISN @irs;
 * window scale and SACK-permitted only if the client offered them, never
 * timestamps (the splice does not translate them). */
static void
send_syn_ack(struct pm_engine *e, const struct pm_flow *f, uint32_t iss, uint32_t irs,
	     bool ws, bool sack)
{
	struct pm_tcp_hdr h;

	memset(&h, 0, sizeof(h));
	h.seq = iss;
	h.sport = f->lport;
	h.dport = f->rport;
	h.ack = irs + 1;
	h.flags = PM_TCP_SYN | PM_TCP_ACK;
	h.wnd = CR_SIZE;
	h.has_mss = true;
	h.mss = e->p.mss;
	h.has_ws = ws;
	h.ws = (uint8_t)e->p.wscale;
	h.sack_ok = sack;
	send_segment(e, f, &h, NULL, 0);
}

/* Take @f's SYN backlog entry @i out of the table. */
static void
syn_forget(struct pm_engine *e, uint32_t i)
{
	struct syn *y = &e->syns[i];

	pm_timer_cancel(&e->syn_wheel, &y->timer);
	(void)pm_flowtab_remove(e->synflows, &y->f);
	y->next_free = e->free_syn;
	e->free_syn = i;
	e->nsyn--;
}

static void
syn_ack(struct pm_engine *e, const struct pm_flow *f, const struct pm_tcp_hdr *th,
	uint64_t now)
{
	struct pm_cookie_tuple t;
	struct pm_cookie_opts req, enc;
	uint32_t iss, i = e->free_syn;

	memcpy(t.saddr, f->raddr, 4);
	memcpy(t.daddr, f->laddr, 4);
	t.sport = f->rport;
	t.dport = f->lport;
	t.isn = th->seq;
	req.mss = th->has_mss ? th->mss : PM_TCB_MSS_DEFAULT;
	req.wscale = th->has_ws ? (int8_t)(th->ws > 14 ? 14 : th->ws) : -1;
	req.sack = th->sack_ok;
	iss = pm_cookie_make(&e->cookie, &t, (uint32_t)(now / 1000), &req, &enc);
	e->stats.syn_cookies++;
	send_syn_ack(e, f, iss, th->seq, enc.wscale >= 0, enc.sack);
	/* Remember it while the backlog has room, to send it again (RFC 6298
	 * start values, doubling): a full backlog (a flood) leaves the plain
	 * cookie. */
	if (i == NONE) {
		e->stats.syn_backlog_full++;
		return;
	}
	if (pm_flowtab_insert(e->synflows, f, i) != 0)
		return;
	e->free_syn = e->syns[i].next_free;
	e->nsyn++;
	e->syns[i].f = *f;
	e->syns[i].iss = iss;
	e->syns[i].irs = th->seq;
	e->syns[i].tries = 0;
	e->syns[i].ws = enc.wscale >= 0;
	e->syns[i].sack = enc.sack;
	pm_timer_arm(&e->syn_wheel, &e->syns[i].timer, now + SYN_RTO_MS);
}

/* A segment for the flow of SYN backlog entry @i (no session yet). */
static enum pm_engine_verdict
syn_entry(struct pm_engine *e, uint32_t i, const struct pm_flow *f, const struct pm_l3_ipv4 *ip,
	  const struct pm_tcp_hdr *th, const uint8_t *payload, uint64_t now,
	  enum pm_drop *reason)
{
	const struct syn *y = &e->syns[i];

	if (th->flags & PM_TCP_RST) {
		/* RFC 5961 3.2 in SYN-RECEIVED: only an exact RST counts. */
		if (th->seq == y->irs + 1)
			syn_forget(e, i);
		return PM_ENGINE_CONSUMED;
	}
	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_SYN) {
		/* The client's SYN again (our SYN-ACK lost), or a new one. */
		syn_forget(e, i);
		return no_session(e, f, ip, th, payload, now, reason);
	}
	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_ACK && th->ack == y->iss + 1) {
		syn_forget(e, i);
		return no_session(e, f, ip, th, payload, now, reason);
	}
	*reason = PM_DROP_TCP_COOKIE;
	return PM_ENGINE_DROP;
}

static void
on_syn_timer(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct pm_engine *e = arg;
	struct syn *y = (struct syn *)((uint8_t *)t - offsetof(struct syn, timer));

	if (y->tries >= SYN_RETRIES) {
		syn_forget(e, (uint32_t)(y - e->syns));
		return;
	}
	y->tries++;
	e->stats.syn_ack_retrans++;
	send_syn_ack(e, &y->f, y->iss, y->irs, y->ws, y->sack);
	/* After the last one, wait as long again for its answer. */
	pm_timer_arm(w, t, e->now_ms + ((uint64_t)SYN_RTO_MS << y->tries));
}

static enum pm_engine_verdict
accept_cookie(struct pm_engine *e, const struct pm_flow *f, int li, const struct pm_tcp_hdr *th,
	      const uint8_t *payload, size_t plen, uint64_t now, enum pm_drop *reason)
{
	struct pm_cookie_tuple t;
	struct pm_cookie_opts o;
	struct pm_tcb_params tp;
	struct pm_tcb_opts peer;
	struct pm_tcb_seg seg;
	struct pm_buf out;
	struct sess *s;
	struct pre *pr;

	memcpy(t.saddr, f->raddr, 4);
	memcpy(t.daddr, f->laddr, 4);
	t.sport = f->rport;
	t.dport = f->lport;
	t.isn = th->seq - 1;
	if (pm_cookie_check(&e->cookie, &t, th->ack - 1, (uint32_t)(now / 1000), &o) != 0) {
		*reason = PM_DROP_TCP_COOKIE;
		return PM_ENGINE_DROP;
	}
	s = sess_alloc(e, true);
	if (s == NULL) {
		e->stats.refused_full++;
		send_rst(e, f, th, plen);
		return PM_ENGINE_CONSUMED;
	}
	pr = pre_of(e, s);
	s->cf = *f;
	s->listener = (uint8_t)li;
	s->state = S_PRELOGIN;
	pm_tcb_params_defaults(&tp);
	tp.sbuf = pr->cs;
	tp.sbuf_size = CS_SIZE;
	tp.rbuf = pr->cr;
	tp.rbuf_size = CR_SIZE;
	/* What syn_ack() announced. */
	tp.local.mss = e->p.mss;
	tp.local.wscale = o.wscale >= 0 ? e->p.wscale : -1;
	tp.local.sack_ok = o.sack;
	peer.mss = o.mss;
	peer.wscale = o.wscale;
	peer.sack_ok = o.sack;
	if (pm_tcb_init_passive(&pr->ct, &tp, th->ack - 1, th->seq - 1, &peer, now) != 0 ||
	    pm_flowtab_insert(e->flows, f, sess_idx(e, s) << 1) != 0 ||
	    pm_login_init(&pr->lg, (enum pm_login_proto)e->listeners[li].proto,
			  &e->p.login) != 0) {
		(void)pm_flowtab_remove(e->flows, f);
		sess_free(e, s);
		e->stats.closed--;
		*reason = PM_DROP_TCP_COOKIE;
		return PM_ENGINE_DROP;
	}
	e->stats.accepted++;
	pr->login_deadline = now + e->p.login_timeout_ms;
	seg_of(th, &seg);
	(void)pm_tcb_input(&pr->ct, &seg, payload, plen, now);
	pm_buf_init(&out, pr->scratch, PM_LOGIN_OUT_MIN);
	if (pm_login_greet(&pr->lg, &out) != 0 || !to_client(pr, &out)) {
		pre_abort(e, s, now);
		return PM_ENGINE_CONSUMED;
	}
	drive(e, s, now);
	return PM_ENGINE_CONSUMED;
}

static enum pm_engine_verdict
no_session(struct pm_engine *e, const struct pm_flow *f, const struct pm_l3_ipv4 *ip,
	   const struct pm_tcp_hdr *th, const uint8_t *payload, uint64_t now,
	   enum pm_drop *reason)
{
	int li = find_listener(e, &ip->dst, th->dport);

	if (th->flags & PM_TCP_RST)
		return PM_ENGINE_CONSUMED;	/* never answer a RST (RFC 9293) */
	if (li < 0) {
		send_rst(e, f, th, th->payload_len);
		return PM_ENGINE_CONSUMED;
	}
	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_SYN) {
		syn_ack(e, f, th, now);
		return PM_ENGINE_CONSUMED;
	}
	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_ACK)
		return accept_cookie(e, f, li, th, payload, th->payload_len, now, reason);
	/* No RST to unsolicited segments on a listener: a flood of them must
	 * not make postmux send a flood back. */
	*reason = PM_DROP_TCP_COOKIE;
	return PM_ENGINE_DROP;
}

/* Acknowledge on @side (0 the client) what it sent again below the splice
 * point: the sequence number it expects from us, the larger of the ack we
 * last passed on and the splice point, the window we last passed on. */
static void
ack_stale(struct pm_engine *e, const struct sess *s, int side)
{
	uint32_t p = side == 0 ? s->cp : s->bp, ack = side == 0 ? s->ack_c : s->ack_b;
	struct pm_tcp_hdr h;

	memset(&h, 0, sizeof(h));
	h.sport = side == 0 ? s->cf.lport : s->bf.lport;
	h.dport = side == 0 ? s->cf.rport : s->bf.rport;
	h.seq = side == 0 ? s->nxt_c : s->nxt_b;
	h.ack = pm_seq_gt(ack, p) ? ack : p;
	h.flags = PM_TCP_ACK;
	h.wnd = side == 0 ? s->wnd_c : s->wnd_b;
	e->stats.stale_acked++;
	send_segment(e, side == 0 ? &s->cf : &s->bf, &h, NULL, 0);
}

static enum pm_engine_verdict
spliced(struct pm_engine *e, struct sess *s, int side, uint8_t *frame, size_t len,
	const struct pm_l3_ipv4 *ip, const struct pm_tcp_hdr *th, uint64_t now,
	struct pm_addr *dst, size_t *adj, enum pm_drop *reason)
{
	const struct pm_splice_dir *d = side == 0 ? &s->c2b : &s->b2c;
	uint32_t p = side == 0 ? s->cp : s->bp, trim = 0;
	uint32_t seglen = (uint32_t)th->payload_len + !!(th->flags & PM_TCP_FIN);
	enum pm_splice_class cls;
	bool rst = th->flags & PM_TCP_RST;

	if (s->state == S_KICKED) {
		/* In flight when we kicked: the sender learns at once. */
		if (!rst)
			send_rst(e, side == 0 ? &s->cf : &s->bf, th, th->payload_len);
		return PM_ENGINE_CONSUMED;
	}
	if (th->flags & PM_TCP_SYN) {
		*reason = PM_DROP_TCP_COOKIE;
		return PM_ENGINE_DROP;
	}
	cls = pm_splice_classify(th->seq, seglen, p, &trim);
	if (cls == PM_SPLICE_STALE) {
		/* Bytes (or a FIN) postmux itself acknowledged before the
		 * splice, sent again because that ACK was lost: the other
		 * side never saw them, so the answer must come from here. */
		e->stats.stale++;
		if (seglen > 0 && !rst)
			ack_stale(e, s, side);
		return PM_ENGINE_CONSUMED;
	}
	*adj = 0;
	if (cls == PM_SPLICE_TRIM) {
		if (pm_splice_trim(frame, len, ip->off, ip->payload_off, trim) != 0) {
			*reason = PM_DROP_TCP_HDR_LEN;
			return PM_ENGINE_DROP;
		}
		frame += trim;
		len -= trim;
		*adj = trim;
	}
	if (pm_splice_rewrite(frame, len, ip->off, ip->payload_off, d) < 0) {
		*reason = PM_DROP_TCP_OPTION;
		return PM_ENGINE_DROP;
	}
	e->stats.forwarded++;
	{
		/* What the receiver will expect from us next, and the ack we
		 * passed on: a kick's RSTs need both. */
		uint32_t end = th->seq + trim + d->seq_delta + (seglen - trim);
		uint32_t *nxt = side == 0 ? &s->nxt_b : &s->nxt_c;

		if (pm_seq_gt(end, *nxt))
			*nxt = end;
		if (th->flags & PM_TCP_ACK) {
			*(side == 0 ? &s->ack_b : &s->ack_c) = th->ack + d->ack_delta;
			/* The window field as pm_splice_rewrite() left it
			 * (rescaled already): offset 14 of the TCP header. */
			*(side == 0 ? &s->wnd_b : &s->wnd_c) =
				pm_get16(frame + ip->payload_off + 14);
		}
	}
	addr4(dst, side == 0 ? s->bf.raddr : s->cf.raddr);
	s->last_ms = now;
	if (th->flags & PM_TCP_FIN)
		s->flags |= side == 0 ? F_CFIN : F_BFIN;
	if (rst) {
		sess_free(e, s);
	} else if (th->flags & PM_TCP_FIN) {
		s->state = S_CLOSING;
		rearm(e, s);
	}
	return PM_ENGINE_FORWARD;
}

enum pm_engine_verdict
pm_engine_input(struct pm_engine *e, uint8_t *frame, size_t len, const struct pm_l3_ipv4 *ip,
		const struct pm_tcp_hdr *th, uint64_t now_ms, struct pm_addr *dst, size_t *adj,
		enum pm_drop *reason)
{
	const uint8_t *payload = frame + th->payload_off;
	struct pm_tcb_seg seg;
	struct pm_flow f;
	struct sess *s;
	struct pre *pr;
	uint32_t v;

	*adj = 0;
	*reason = PM_DROP_NONE;
	e->now_ms = now_ms;
	memcpy(f.raddr, ip->src.bytes, 4);
	memcpy(f.laddr, ip->dst.bytes, 4);
	f.rport = th->sport;
	f.lport = th->dport;
	v = pm_flowtab_lookup(e->flows, &f);
	if (v == PM_FLOWTAB_EMPTY) {
		if (e->synflows != NULL &&
		    (v = pm_flowtab_lookup(e->synflows, &f)) != PM_FLOWTAB_EMPTY)
			return syn_entry(e, v, &f, ip, th, payload, now_ms, reason);
		return no_session(e, &f, ip, th, payload, now_ms, reason);
	}
	s = &e->sess[v >> 1];
	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_SYN && (v & 1) == 0 &&
	    (s->state == S_KICKED ||
	     (s->state == S_CLOSING && (s->flags & (F_CFIN | F_BFIN)) == (F_CFIN | F_BFIN)))) {
		/* The client reuses the 4-tuple of a session that is over
		 * (its side needs no TIME_WAIT when the server closed first):
		 * forget the old one, as a TCP in TIME_WAIT accepts a new SYN
		 * (RFC 1122 4.2.2.13). */
		sess_free(e, s);
		return no_session(e, &f, ip, th, payload, now_ms, reason);
	}
	if (s->state == S_SPLICED || s->state == S_CLOSING || s->state == S_KICKED)
		return spliced(e, s, (int)(v & 1), frame, len, ip, th, now_ms, dst, adj, reason);
	pr = pre_of(e, s);
	seg_of(th, &seg);
	(void)pm_tcb_input((v & 1) ? &pr->bt : &pr->ct, &seg, payload, th->payload_len, now_ms);
	drive(e, s, now_ms);
	return PM_ENGINE_CONSUMED;
}


uint32_t
pm_engine_name_check(const uint8_t key[16], const char *user, size_t len)
{
	return (uint32_t)pm_siphash(key, user, len);
}

size_t
pm_engine_kick(struct pm_engine *e, uint32_t user_hash, const uint32_t *name_check,
	       const struct pm_addr *except, uint64_t now_ms)
{
	uint32_t i = e->ubucket[user_hash & e->umask];
	size_t n = 0;

	e->now_ms = now_ms;
	while (i != NONE) {
		struct sess *s = &e->sess[i];

		i = s->unext;
		if (s->user_hash != user_hash || s->state == S_KICKED ||
		    (name_check != NULL && s->name_check != *name_check))
			continue;
		/* Over (both FINs seen, only lingering for the last ACKs):
		 * nothing is left to close, and a RST would only reach a
		 * client in TIME_WAIT. A half-closed session is still live. */
		if (s->state == S_CLOSING && (s->flags & (F_CFIN | F_BFIN)) == (F_CFIN | F_BFIN))
			continue;
		if (except != NULL && except->family == PM_AF_INET &&
		    memcmp(except->bytes, s->bf.raddr, 4) == 0)
			continue;
		if (s->state != S_SPLICED && s->state != S_CLOSING) {
			/* Its login under way at the backend, or accepted and
			 * not spliced yet (QUIESCE), or closing before the
			 * splice: still TCP endpoints of ours, which abort with
			 * the RSTs they owe (Dovecot destroys a pending proxy). */
			PCOUNT(e, s, kicked);
			n++;
			pre_abort(e, s, now_ms);
			continue;
		}
		/* Both sides at once (Dovecot closes abruptly, no BYE). */
		send_rst_seq(e, &s->cf, s->nxt_c, true, s->ack_c);
		send_rst_seq(e, &s->bf, s->nxt_b, true, s->ack_b);
		s->state = S_KICKED;
		s->last_ms = now_ms;
		rearm(e, s);
		PCOUNT(e, s, kicked);
		n++;
	}
	return n;
}

/* ---- timers ----------------------------------------------------------------- */

static void
on_timer(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct pm_engine *e = arg;
	struct sess *s = (struct sess *)((uint8_t *)t - offsetof(struct sess, timer));
	uint64_t now = e->now_ms;
	struct pre *pr = pre_of(e, s);

	(void)w;
	if (s->state == S_SPLICED || s->state == S_CLOSING || s->state == S_KICKED) {
		uint64_t limit = s->state == S_SPLICED ? e->p.idle_timeout_ms :
			s->state == S_KICKED ? KICKED_MS : closing_ms(e, s);

		if (now >= s->last_ms + limit) {
			e->stats.timeouts++;
			sess_free(e, s);
			return;
		}
		if (s->state == S_SPLICED && now >= s->refresh_at) {
			s->refresh_at = now + e->p.refresh_ms;
			if (e->ops.refresh != NULL) {
				e->ops.refresh(e->ops.arg, s->user_hash);
				e->stats.refreshes++;
			}
		}
		rearm(e, s);
		return;
	}
	if (pm_tcb_deadline(&pr->ct) <= now)
		(void)pm_tcb_timeout(&pr->ct, now);
	if ((s->flags & F_BFLOW) && pm_tcb_deadline(&pr->bt) <= now)
		(void)pm_tcb_timeout(&pr->bt, now);
	if (s->state != S_QUIESCE && s->state != S_CLOSING_PRE && now >= pr->login_deadline) {
		/* Dovecot: "Disconnected for inactivity" / login timeout. */
		struct pm_buf out;

		e->stats.timeouts++;
		backend_close(e, s, now);
		pm_login_wipe(&pr->lg);
		pm_buf_init(&out, pr->scratch, PM_LOGIN_OUT_MIN);
		if (pm_login_timeout(&pr->lg, &out) == 0)
			(void)pm_tcb_send(&pr->ct, out.p, out.len);
		pm_tcb_close(&pr->ct);
		s->state = S_CLOSING_PRE;
	} else if ((s->state == S_CONNECTING || s->state == S_BLOGIN) &&
		   now >= pr->attempt_deadline) {
		e->stats.timeouts++;
		if (!attempt_failed(e, s, PM_LOGINBACK_FAIL, now)) {
			pre_abort(e, s, now);
			return;
		}
	} else if (s->state == S_LOOKUP_WAIT && now >= pr->retry_at) {
		s->state = S_PRELOGIN;
		if (!start_attempt(e, s, now)) {
			pre_abort(e, s, now);
			return;
		}
	} else if (s->state == S_RETRY_WAIT && now >= pr->retry_at) {
		if (backend_connect(e, s, now) != 0 &&
		    !attempt_failed(e, s, PM_LOGINBACK_FAIL, now)) {
			pre_abort(e, s, now);
			return;
		}
	}
	drive(e, s, now);
}

void
pm_engine_tick(struct pm_engine *e, uint64_t now_ms)
{
	e->now_ms = now_ms;
	(void)pm_timer_wheel_advance(&e->wheel, now_ms, on_timer, e);
	(void)pm_timer_wheel_advance(&e->syn_wheel, now_ms, on_syn_timer, e);
}

uint32_t
pm_engine_sessions(const struct pm_engine *e)
{
	return e->nsess;
}

uint32_t
pm_engine_syn_backlog(const struct pm_engine *e)
{
	return e->nsyn;
}

uint32_t
pm_engine_prelogin(const struct pm_engine *e)
{
	return e->npre;
}

const struct pm_engine_stats *
pm_engine_stats(const struct pm_engine *e)
{
	return &e->stats;
}
