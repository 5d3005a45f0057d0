/*
 * test_engine.c -- the TCP engine (tcp/engine.h) end to end on a simulated
 * network: a client and a backend, each a real TCP endpoint (tcp/tcb.h),
 * exchange frames with the engine through the harness below, which also
 * loses frames on demand. The backend speaks enough IMAP to greet, answer
 * ID and LOGIN, and echo tagged commands; after the login it checks every
 * byte of a stream the client sends.
 *
 * Randomness (loss) uses a fixed seed that is printed; PM_SEED replays.
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

#include "net/l3.h"
#include "tcp/engine.h"
#include "tcp/tcb.h"
#include "tcp/tcpopt.h"
#include "testrand.h"

#define TEST_SEED	0xe4619e01u
#define FRAME_MAX	2048
#define QMAX		4096
#define BUFSZ		(1u << 16)

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	struct pm_addr dst;
};

/* One TCP endpoint of the harness (the client or the backend). */
struct peer {
	struct pm_tcb t;
	bool up;
	struct pm_addr addr;
	struct pm_addr remote;
	uint16_t port, rport;
	uint8_t sbuf[BUFSZ], rbuf[BUFSZ];
	uint8_t got[1 << 22];		/* everything received, in order */
	size_t ngot;
	uint32_t backend_iss;		/* backend: the ISN of its SYN-ACK */
	struct pm_tcb_opts syn;		/* backend: the options of the SYN */
	bool no_ws;
	size_t served;			/* backend: bytes of got[] handled */
};

static struct harness {
	struct pm_engine *e;
	void *mem;
	struct frame *q;		/* frames in flight */
	size_t nq;
	struct peer *client, *backend;
	uint64_t now;
	uint32_t seed;
	unsigned int loss;		/* percent */
	unsigned int drop_engine_nth;	/* drop the n-th next frame to the engine */
	unsigned int to_nowhere;	/* frames to addresses nobody has */
	bool backend_dead;		/* drops SYNs to the backend */
	bool backend_tempfail;
	size_t backend_logins;
	char want_pass[32];
	unsigned int lookups;
	bool lookup_wait;
	size_t stream_checked;		/* backend: bytes of the client's stream verified */
	size_t streaming_len;
	uint32_t refreshed;
	unsigned int refreshes;
	bool streaming;
	struct pm_addr vip, local;
} H;

static const char vip_s[] = "192.0.2.10", client_s[] = "192.0.2.2";
static const char backend_s[] = "198.51.100.1", local_s[] = "198.51.100.254";

static struct pm_addr
ip(const char *s)
{
	struct pm_addr a;

	assert_int_equal(pm_addr_parse(&a, s, strlen(s)), 0);
	return a;
}

/* ---- engine callbacks ---- */

static void *
h_tx_alloc(void *arg, uint8_t **buf, size_t *room)
{
	struct frame *f;

	(void)arg;
	if (H.nq == QMAX)
		return NULL;
	f = &H.q[H.nq];
	*buf = f->b;
	*room = sizeof(f->b);
	return f;
}

static void
h_tx_send(void *arg, void *h, size_t len, const struct pm_addr *dst)
{
	struct frame *f = h;

	(void)arg;
	assert_ptr_equal(f, &H.q[H.nq]);
	f->len = len;
	f->dst = *dst;
	H.nq++;
}

static void
h_tx_free(void *arg, void *h)
{
	(void)arg;
	(void)h;
}

static enum pm_engine_lookup
h_lookup(void *arg, const char *user, size_t len, struct pm_addr *host, uint32_t *user_hash,
	 uint64_t now)
{
	uint32_t h = 2166136261u;
	size_t i;

	(void)arg;
	(void)now;
	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)user[i]) * 16777619u;
	*user_hash = h;
	H.lookups++;
	if (H.lookup_wait) {
		H.lookup_wait = false;
		return PM_ENGINE_LOOKUP_WAIT;
	}
	*host = ip(backend_s);
	return PM_ENGINE_LOOKUP_HOST;
}

static void
h_refresh(void *arg, uint32_t user_hash)
{
	(void)arg;
	H.refreshed = user_hash;
	H.refreshes++;
}

static int
h_source(void *arg, const struct pm_addr *dst, struct pm_addr *src)
{
	(void)arg;
	(void)dst;
	*src = ip(local_s);
	return 0;
}

static bool
h_owns(void *arg, const struct pm_addr *r, const struct pm_addr *l, uint16_t rp, uint16_t lp)
{
	(void)arg;
	(void)r;
	(void)l;
	(void)rp;
	return lp % 2 == 0;	/* pretend half the ports steer elsewhere */
}

/* ---- the harness network ---- */

static void
peer_init(struct peer *p, const char *addr, uint16_t port, const char *remote, uint16_t rport)
{
	memset(p, 0, offsetof(struct peer, got));
	p->ngot = 0;
	p->served = 0;
	p->addr = ip(addr);
	p->remote = ip(remote);
	p->port = port;
	p->rport = rport;
}

static struct pm_tcb_params
peer_params(struct peer *p)
{
	struct pm_tcb_params tp;

	pm_tcb_params_defaults(&tp);
	tp.sbuf = p->sbuf;
	tp.sbuf_size = BUFSZ;
	tp.rbuf = p->rbuf;
	tp.rbuf_size = BUFSZ;
	tp.local.wscale = 2;
	return tp;
}

/* Send what the peer's tcb has to send, as frames to the engine. */
static void
peer_flush(struct peer *p)
{
	struct pm_tcb_out out[16];
	size_t n, i;

	do {
		n = pm_tcb_output(&p->t, H.now, out, 16);
		for (i = 0; i < n; i++) {
			struct pm_tcp_hdr h;
			struct frame *f;
			int len;

			assert_true(H.nq < QMAX);
			f = &H.q[H.nq];
			memset(&h, 0, sizeof(h));
			h.sport = p->port;
			h.dport = p->rport;
			h.seq = out[i].seq;
			h.ack = out[i].ack;
			h.flags = out[i].flags;
			h.wnd = out[i].wnd;
			if (out[i].flags & PM_TCP_SYN) {
				h.has_mss = out[i].mss != 0;
				h.mss = out[i].mss;
				h.has_ws = out[i].wscale >= 0;
				h.ws = (uint8_t)(out[i].wscale >= 0 ? out[i].wscale : 0);
				h.sack_ok = out[i].sack_ok;
			}
			len = pm_tcpopt_segment(f->b, sizeof(f->b), &p->addr, &p->remote, 1, &h,
						out[i].payload, out[i].len);
			assert_true(len > 0);
			f->len = (size_t)len;
			f->dst = p->remote;
			H.nq++;
		}
	} while (n == 16);
}

static void
parse(const uint8_t *b, size_t len, struct pm_l3_ipv4 *iph, struct pm_tcp_hdr *th)
{
	assert_int_equal(pm_l3_ipv4_parse(b, len, PM_ETH_HLEN, iph), PM_DROP_NONE);
	assert_int_equal(iph->proto, PM_IPPROTO_TCP);
	assert_int_equal(pm_tcpopt_parse(b, len, iph->payload_off, iph->payload_len, th),
			 PM_TCPOPT_OK);
	assert_true(pm_tcpopt_csum_ok(b + iph->payload_off, iph->payload_len, &iph->src,
				      &iph->dst));
}

static void backend_serve(void);

/* A frame reached the backend's address. */
static void
to_backend(uint8_t *b, size_t len)
{
	struct peer *p = H.backend;
	struct pm_l3_ipv4 iph;
	struct pm_tcp_hdr th;
	struct pm_tcb_seg s;

	parse(b, len, &iph, &th);
	if ((th.flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_SYN) {
		struct pm_tcp_hdr h;
		struct frame *f = &H.q[H.nq];
		int n;

		if (H.backend_dead)
			return;
		/* A new connection (a retry replaces the old one). */
		peer_init(p, backend_s, 143, local_s, th.sport);
		p->backend_iss = 0xfffff000u + (uint32_t)H.backend_logins * 7919;
		memset(&h, 0, sizeof(h));
		h.sport = 143;
		h.dport = th.sport;
		h.seq = p->backend_iss;
		h.ack = th.seq + 1;
		h.flags = PM_TCP_SYN | PM_TCP_ACK;
		h.wnd = 65535;
		h.has_mss = true;
		h.mss = 1460;
		h.has_ws = th.has_ws;
		h.ws = 2;
		h.sack_ok = th.sack_ok;
		n = pm_tcpopt_segment(f->b, sizeof(f->b), &p->addr, &iph.src, 1, &h, NULL, 0);
		assert_true(n > 0);
		f->len = (size_t)n;
		f->dst = iph.src;
		H.nq++;
		p->rport = th.sport;
		p->remote = iph.src;
		/* Remember the engine's options for the handshake's ACK. */
		p->syn.mss = th.has_mss ? th.mss : 536;
		p->syn.wscale = th.has_ws ? (int8_t)th.ws : -1;
		p->syn.sack_ok = th.sack_ok;
		if (!th.has_ws)
			p->no_ws = true;
		return;
	}
	if (!p->up) {
		struct pm_tcb_params tp = peer_params(p);

		if (!(th.flags & PM_TCP_ACK) || th.ack != p->backend_iss + 1)
			return;
		tp.local.wscale = p->syn.wscale >= 0 ? 2 : -1;
		tp.local.sack_ok = p->syn.sack_ok;
		assert_int_equal(pm_tcb_init_passive(&p->t, &tp, p->backend_iss, th.seq - 1, &p->syn,
						     H.now), 0);
		p->up = true;
		/* The banner. */
		{
			static const char banner[] =
				"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
				"IDLE LITERAL+ AUTH=PLAIN] backend-1 ready\r\n";

			assert_int_equal(pm_tcb_send(&p->t, banner, sizeof(banner) - 1), 0);
		}
	}
	memset(&s, 0, sizeof(s));
	s.seq = th.seq;
	s.ack = th.ack;
	s.flags = th.flags & 0x3f;
	s.wnd = th.wnd;
	s.wscale = -1;
	(void)pm_tcb_input(&p->t, &s, b + th.payload_off, th.payload_len, H.now);
	backend_serve();
	peer_flush(p);
}

/* Move what a peer's tcb received into got[]. */
static void
peer_read(struct peer *p)
{
	const uint8_t *d;
	size_t n;

	while ((n = pm_tcb_recv_peek(&p->t, &d)) > 0) {
		assert_true(p->ngot + n <= sizeof(p->got));
		memcpy(p->got + p->ngot, d, n);
		p->ngot += n;
		pm_tcb_recv_consume(&p->t, n);
	}
}

static uint8_t
stream_byte(size_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void
backend_reply(const char *s)
{
	assert_int_equal(pm_tcb_send(&H.backend->t, s, strlen(s)), 0);
}

/* The backend's IMAP: line by line until the login; then tagged commands
 * are echoed, and after "s STREAM <n>" n bytes of the client's stream are
 * checked byte by byte. */
static void
backend_serve(void)
{
	struct peer *p = H.backend;

	peer_read(p);
	for (;;) {
		uint8_t *line = p->got + p->served, *lf;
		size_t left = p->ngot - p->served;
		char tag[32], cmd[64], rest[200];

		if (H.streaming) {
			for (; left > 0 && H.stream_checked < H.streaming_len; left--) {
				assert_int_equal(*line, stream_byte(H.stream_checked));
				line++;
				H.stream_checked++;
				p->served++;
			}
			if (H.stream_checked < H.streaming_len)
				return;
			H.streaming = false;
			backend_reply("s OK stream received\r\n");
			continue;
		}
		lf = memchr(line, '\n', left);
		if (lf == NULL)
			return;
		*lf = '\0';
		p->served += (size_t)(lf - line) + 1;
		rest[0] = '\0';
		if (sscanf((char *)line, "%31s %63s %199[^\r]", tag, cmd, rest) < 2)
			continue;
		if (strcmp(cmd, "ID") == 0) {
			backend_reply("* ID (\"name\" \"fake\")\r\nI OK ID completed.\r\n");
		} else if (strcmp(cmd, "LOGIN") == 0) {
			char want[80];

			H.backend_logins++;
			if (H.backend_tempfail) {
				backend_reply("L NO [UNAVAILABLE] Maintenance.\r\n");
				continue;
			}
			snprintf(want, sizeof(want), "\"alice\" \"%s\"", H.want_pass);
			if (strcmp(rest, want) == 0)
				backend_reply("L OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\r\n");
			else
				backend_reply("L NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
		} else if (strcmp(cmd, "LOGOUT") == 0) {
			char r[128];

			snprintf(r, sizeof(r), "* BYE Logging out\r\n%s OK Logout completed.\r\n",
				 tag);
			backend_reply(r);
			pm_tcb_close(&p->t);
		} else if (strcmp(cmd, "STREAM") == 0) {
			H.streaming = true;
			H.streaming_len = strtoul(rest, NULL, 10);
			H.stream_checked = 0;
			backend_reply("+ go ahead\r\n");
		} else {
			char r[128];

			snprintf(r, sizeof(r), "%s OK %s done\r\n", tag, cmd);
			backend_reply(r);
		}
	}
}

static void
to_client(uint8_t *b, size_t len)
{
	struct peer *p = H.client;
	struct pm_l3_ipv4 iph;
	struct pm_tcp_hdr th;
	struct pm_tcb_seg s;

	parse(b, len, &iph, &th);
	memset(&s, 0, sizeof(s));
	s.seq = th.seq;
	s.ack = th.ack;
	s.flags = th.flags & 0x3f;
	s.wnd = th.wnd;
	s.has_mss = th.has_mss;
	s.mss = th.mss;
	s.wscale = th.has_ws ? (int8_t)th.ws : -1;
	s.sack_ok = th.sack_ok;
	(void)pm_tcb_input(&p->t, &s, b + th.payload_off, th.payload_len, H.now);
	peer_read(p);
	peer_flush(p);
}

/* Deliver frames until the network is quiet; then advance time by @ms. */
static void
run(unsigned int ms)
{
	unsigned int step;

	for (step = 0; step <= ms; step++) {
		size_t guard = 0;

		while (H.nq > 0) {
			struct frame f = H.q[0];

			memmove(H.q, H.q + 1, (H.nq - 1) * sizeof(H.q[0]));
			H.nq--;
			assert_true(++guard < 1000000);
			if (H.loss > 0 && xorshift32(&H.seed) % 100 < H.loss)
				continue;
			if (pm_addr_eq(&f.dst, &H.client->addr)) {
				to_client(f.b, f.len);
			} else if (pm_addr_eq(&f.dst, &H.backend->addr)) {
				to_backend(f.b, f.len);
			} else if (!pm_addr_eq(&f.dst, &H.vip) && !pm_addr_eq(&f.dst, &H.local)) {
				H.to_nowhere++;
			} else if (H.drop_engine_nth > 0 && --H.drop_engine_nth == 0) {
				continue;
			} else {
				/* To the engine. */
				struct pm_l3_ipv4 iph;
				struct pm_tcp_hdr th;
				struct pm_addr dst;
				enum pm_drop why;
				size_t adj;
				enum pm_engine_verdict v;

				parse(f.b, f.len, &iph, &th);
				v = pm_engine_input(H.e, f.b, f.len, &iph, &th, H.now, &dst, &adj, &why);
				if (v == PM_ENGINE_FORWARD) {
					struct frame g;

					g.len = f.len - adj;
					memcpy(g.b, f.b + adj, g.len);
					g.dst = dst;
					assert_true(H.nq < QMAX);
					H.q[H.nq++] = g;
				}
			}
		}
		if (step == ms)
			break;
		H.now++;
		pm_engine_tick(H.e, H.now);
		if (pm_tcb_deadline(&H.client->t) <= H.now) {
			pm_tcb_timeout(&H.client->t, H.now);
			peer_flush(H.client);
		}
		if (H.backend->up && pm_tcb_deadline(&H.backend->t) <= H.now) {
			pm_tcb_timeout(&H.backend->t, H.now);
			peer_flush(H.backend);
		}
	}
}

static void
client_send(const char *s)
{
	assert_int_equal(pm_tcb_send(&H.client->t, s, strlen(s)), 0);
	peer_flush(H.client);
}

/* Everything the client received so far, as a string. */
static const char *
client_text(void)
{
	static char buf[1 << 16];
	size_t n = H.client->ngot < sizeof(buf) - 1 ? H.client->ngot : sizeof(buf) - 1;

	memcpy(buf, H.client->got, n);
	buf[n] = '\0';
	return buf;
}

static int
setup(void **state)
{
	static const struct pm_engine_ops ops = {
		.tx_alloc = h_tx_alloc, .tx_send = h_tx_send, .tx_free = h_tx_free,
		.lookup = h_lookup, .refresh = h_refresh, .source = h_source, .owns = h_owns,
	};
	struct pm_engine_params p;
	struct pm_engine_listener l;
	struct pm_tcb_params tp;
	size_t size;

	(void)state;
	memset(&H, 0, sizeof(H));
	H.seed = pm_test_seed("engine", TEST_SEED);
	H.q = calloc(QMAX, sizeof(H.q[0]));
	H.client = calloc(1, sizeof(*H.client));
	H.backend = calloc(1, sizeof(*H.backend));
	assert_non_null(H.q);
	strcpy(H.want_pass, "pass");
	H.vip = ip(vip_s);
	H.local = ip(local_s);
	pm_engine_params_defaults(&p);
	p.sessions = 64;
	p.prelogin = 8;
	p.connect_timeout_ms = 3000;
	p.refresh_ms = 2000;
	p.idle_timeout_ms = 30000;
	memset(p.cookie_key, 7, sizeof(p.cookie_key));
	memset(p.flow_key, 9, sizeof(p.flow_key));
	memset(p.name_key, 5, sizeof(p.name_key));
	l.addr = ip(vip_s);
	l.port = 143;
	l.backend_port = 143;
	l.proto = PM_LOGIN_IMAP;
	p.listeners = &l;
	p.nlisteners = 1;
	size = pm_engine_memsize(&p);
	assert_true(size > 0);
	H.mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(H.mem);
	H.now = 1000000;
	H.e = pm_engine_init(H.mem, size, &p, &ops, H.now);
	assert_non_null(H.e);
	/* The client connects. */
	peer_init(H.client, client_s, 40000, vip_s, 143);
	peer_init(H.backend, backend_s, 143, local_s, 0);
	tp = peer_params(H.client);
	assert_int_equal(pm_tcb_init_active(&H.client->t, &tp, 0x7ffffff0u, H.now), 0);
	H.client->up = true;
	peer_flush(H.client);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(H.q);
	free(H.client);
	free(H.backend);
	free(H.mem);
	return 0;
}

static void
login(const char *pass)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "a LOGIN alice %s\r\n", pass);
	client_send(cmd);
	run(50);
}

static void
test_engine_login_splices_and_forwards(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	run(20);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_ESTABLISHED);
	assert_non_null(strstr(client_text(), "* OK [CAPABILITY IMAP4rev1"));
	assert_int_equal(pm_engine_sessions(H.e), 1);
	login("pass");
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in"));
	run(50);
	assert_int_equal(st->splices, 1);
	assert_int_equal(pm_engine_prelogin(H.e), 0);	/* pre-login memory back */
	/* Through the splice: a command and its answer. */
	client_send("b NOOP\r\n");
	run(20);
	assert_non_null(strstr(client_text(), "b OK NOOP done"));
	assert_true(st->forwarded >= 2);
	assert_int_equal(H.backend_logins, 1);
}

static void
test_engine_wrong_password_then_right_one(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	run(20);
	login("wrong");
	assert_non_null(strstr(client_text(),
			       "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
	assert_int_equal(st->splices, 0);
	assert_int_equal(st->login_failed, 1);
	login("pass");
	run(50);
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY"));
	assert_int_equal(st->splices, 1);
	assert_int_equal(H.backend_logins, 2);
}

static void
test_engine_pipelined_command_reaches_backend(void **state)
{
	(void)state;
	run(20);
	client_send("a LOGIN alice pass\r\nb SELECT INBOX\r\n");
	run(100);
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY"));
	assert_non_null(strstr(client_text(), "b OK SELECT done"));
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
}

/* The backend closes before the splice (LOGOUT pipelined behind LOGIN):
 * the client still gets every answer, then the end of the stream. */
static void
test_engine_pipelined_logout_before_splice(void **state)
{
	(void)state;
	run(20);
	client_send("a LOGIN alice pass\r\nb LOGOUT\r\n");
	run(2000);
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY"));
	assert_non_null(strstr(client_text(), "* BYE Logging out\r\nb OK Logout completed.\r\n"));
	{
		struct pm_tcb_info ci;

		pm_tcb_info(&H.client->t, &ci);
		assert_true(ci.peer_fin);	/* postmux closed the client's side */
	}
	pm_tcb_close(&H.client->t);
	peer_flush(H.client);
	run(5000);
	assert_int_equal(pm_engine_sessions(H.e), 0);
}

/* After a spliced session ended with both FINs, the client may reuse its
 * port at once (it closed second: no TIME_WAIT on its side): the new SYN
 * starts a new session instead of being dropped. */
static void
test_engine_reused_tuple_after_close_is_accepted(void **state)
{
	struct pm_tcb_params tp;

	(void)state;
	run(20);
	login("pass");
	run(50);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	client_send("b LOGOUT\r\n");
	run(50);
	pm_tcb_close(&H.client->t);
	peer_flush(H.client);
	run(100);
	assert_int_equal(pm_engine_sessions(H.e), 1);	/* lingering */
	/* The same port again, a new ISN. */
	peer_init(H.client, client_s, 40000, vip_s, 143);
	tp = peer_params(H.client);
	assert_int_equal(pm_tcb_init_active(&H.client->t, &tp, 0x12345678u, H.now), 0);
	peer_flush(H.client);
	run(50);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_ESTABLISHED);
	assert_non_null(strstr(client_text(), "* OK [CAPABILITY"));
	run(6000);
	assert_int_equal(pm_engine_sessions(H.e), 1);	/* the old one is gone */
}

/* After the splice the client sends its LOGIN again (our ACK of it was
 * lost): postmux answers with its own ACK, and the backend sees nothing. */
static void
test_engine_retransmission_below_splice_point_is_acked_locally(void **state)
{
	static const char cmd[] = "a LOGIN alice pass\r\n";
	struct pm_tcb_info ci;
	struct pm_l3_ipv4 iph;
	struct pm_tcp_hdr h, th;
	struct pm_addr dst, cl = ip(client_s), vip = ip(vip_s);
	enum pm_drop why;
	size_t adj, backend_had;
	struct frame f;
	int n;

	(void)state;
	run(20);
	login("pass");
	run(100);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	pm_tcb_info(&H.client->t, &ci);
	backend_had = H.backend->ngot;
	memset(&h, 0, sizeof(h));
	h.sport = 40000;
	h.dport = 143;
	h.seq = ci.snd_nxt - (uint32_t)(sizeof(cmd) - 1);
	h.ack = ci.rcv_nxt;
	h.flags = PM_TCP_ACK | PM_TCP_PSH;
	h.wnd = 1000;
	n = pm_tcpopt_segment(f.b, sizeof(f.b), &cl, &vip, 1, &h, (const uint8_t *)cmd,
			      sizeof(cmd) - 1);
	assert_true(n > 0);
	parse(f.b, (size_t)n, &iph, &th);
	H.nq = 0;
	assert_int_equal(pm_engine_input(H.e, f.b, (size_t)n, &iph, &th, H.now, &dst, &adj, &why),
			 PM_ENGINE_CONSUMED);
	assert_int_equal(pm_engine_stats(H.e)->stale_acked, 1);
	assert_int_equal(H.nq, 1);
	assert_true(pm_addr_eq(&H.q[0].dst, &cl));
	parse(H.q[0].b, H.q[0].len, &iph, &th);
	assert_int_equal(th.flags, PM_TCP_ACK);
	assert_int_equal(th.payload_len, 0);
	assert_int_equal(th.ack, ci.snd_nxt);
	assert_int_equal(th.seq, ci.rcv_nxt);
	assert_true(th.wnd > 0);
	run(50);
	assert_int_equal(H.backend->ngot, backend_had);
	/* The session goes on. */
	client_send("b NOOP\r\n");
	run(20);
	assert_non_null(strstr(client_text(), "b OK NOOP done"));
}

static uint32_t
fnv(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* A kick closes the spliced session on both sides at once; one that spares
 * the user's backend (a move's "except") closes nothing. */
/* A login under way at a backend that does not answer (CONNECTING): a
 * kick (a move of the user) ends it, as Dovecot destroys pending proxies,
 * instead of letting it land on the old backend later. */
static void
test_engine_kick_during_backend_login_aborts_it(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	run(20);
	H.backend_dead = true;
	client_send("a LOGIN alice pass\r\n");
	run(200);
	assert_int_equal(st->backend_connects, 1);
	assert_int_equal(st->login_ok, 0);
	assert_int_equal(pm_engine_kick(H.e, fnv("bob"), NULL, NULL, H.now), 0);
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), NULL, NULL, H.now), 1);
	run(10);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&H.client->t), -ECONNRESET);
	H.backend_dead = false;
	run(5000);
	assert_int_equal(st->backend_connects, 1);	/* no retry after the kick */
	assert_int_equal(pm_engine_sessions(H.e), 0);
}

/* Logged in but not spliced yet (the client's ACK of the OK was lost, so
 * the session is still quiescing): a kick must close it, or it would
 * splice later and stay on the old backend. */
static void
test_engine_kick_before_splice_closes_both_sides(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	run(20);
	H.drop_engine_nth = 6;		/* the client's ACK of "a OK" */
	client_send("a LOGIN alice pass\r\n");
	run(0);
	assert_int_equal(st->login_ok, 1);
	assert_int_equal(st->splices, 0);
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), NULL, NULL, H.now), 1);
	run(10);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&H.client->t), -ECONNRESET);
	assert_int_equal(pm_tcb_state(&H.backend->t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&H.backend->t), -ECONNRESET);
	run(3000);
	assert_int_equal(st->splices, 0);
	assert_int_equal(pm_engine_sessions(H.e), 0);
	assert_int_equal(st->proto[PM_LOGIN_IMAP].kicked, 1);
}

static void
test_engine_kick_resets_both_sides(void **state)
{
	struct pm_addr b = ip(backend_s);
	uint8_t name_key[16];
	uint32_t wrong, right;

	(void)state;
	run(20);
	login("pass");
	client_send("b NOOP\r\n");
	run(50);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	memset(name_key, 5, sizeof(name_key));
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), NULL, &b, H.now), 0);
	assert_int_equal(pm_engine_kick(H.e, fnv("bob"), NULL, NULL, H.now), 0);
	/* By name: another name with alice's hash closes nothing. */
	wrong = pm_engine_name_check(name_key, "alicf", 5);
	right = pm_engine_name_check(name_key, "alice", 5);
	assert_int_not_equal(wrong, right);
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), &wrong, NULL, H.now), 0);
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), &right, NULL, H.now), 1);
	run(10);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&H.client->t), -ECONNRESET);
	assert_int_equal(pm_tcb_state(&H.backend->t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&H.backend->t), -ECONNRESET);
	assert_int_equal(pm_engine_stats(H.e)->kicked, 1);
	run(6000);
	assert_int_equal(pm_engine_sessions(H.e), 0);
}

/* A session that is over (both FINs seen, lingering for its last ACKs) is
 * not kicked: nothing is left to close, and it is not counted; one that is
 * only half closed still is. */
static void
test_engine_kick_spares_finished_session(void **state)
{
	(void)state;
	run(20);
	login("pass");
	run(50);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	client_send("b LOGOUT\r\n");
	run(50);
	/* The backend closed: half closed, still the user's session. */
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), NULL, NULL, H.now), 1);
	assert_int_equal(pm_engine_stats(H.e)->kicked, 1);
	run(6000);
	assert_int_equal(pm_engine_sessions(H.e), 0);

	/* Again, and this time the client closes too before the kick. */
	peer_init(H.client, client_s, 40002, vip_s, 143);
	{
		struct pm_tcb_params tp = peer_params(H.client);

		assert_int_equal(pm_tcb_init_active(&H.client->t, &tp, 0x2468ace0u, H.now), 0);
	}
	H.client->up = true;
	peer_flush(H.client);
	run(50);
	login("pass");
	run(50);
	assert_int_equal(pm_engine_stats(H.e)->splices, 2);
	client_send("b LOGOUT\r\n");
	run(50);
	pm_tcb_close(&H.client->t);
	peer_flush(H.client);
	run(100);
	assert_int_equal(pm_engine_sessions(H.e), 1);	/* lingering */
	assert_int_equal(pm_engine_kick(H.e, fnv("alice"), NULL, NULL, H.now), 0);
	assert_int_equal(pm_engine_stats(H.e)->kicked, 1);
	run(6000);
	assert_int_equal(pm_engine_sessions(H.e), 0);
}

/* A live spliced session refreshes its user's pin every refresh_ms; an idle
 * one ends after idle_timeout_ms. */
static void
test_engine_spliced_session_refreshes_pin_then_idles_out(void **state)
{
	(void)state;
	run(20);
	login("pass");
	run(50);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	run(7000);
	assert_int_equal(H.refreshes, 3);
	assert_int_equal(H.refreshed, fnv("alice"));
	assert_int_equal(pm_engine_sessions(H.e), 1);
	run(24000);
	assert_int_equal(pm_engine_sessions(H.e), 0);	/* idle 30 s after the login */
	assert_int_equal(pm_engine_stats(H.e)->timeouts, 1);
}

static void
test_engine_dead_backend_gives_unavailable(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	H.backend_dead = true;
	run(20);
	client_send("a LOGIN alice pass\r\n");
	run(20000);
	assert_non_null(strstr(client_text(),
			       "a NO [UNAVAILABLE] Account is temporarily unavailable.\r\n"));
	assert_int_equal(st->backend_connects, 1 + PM_ENGINE_RETRIES);
	assert_int_equal(st->splices, 0);
	assert_int_equal(pm_engine_sessions(H.e), 1);	/* the client may try again */
}

static void
test_engine_tempfail_is_retried_then_forwarded(void **state)
{
	(void)state;
	H.backend_tempfail = true;
	run(20);
	client_send("a LOGIN alice pass\r\n");
	run(20000);
	assert_non_null(strstr(client_text(), "a NO [UNAVAILABLE] Maintenance.\r\n"));
	assert_int_equal(H.backend_logins, 1 + PM_ENGINE_RETRIES);
}

static void
test_engine_moving_user_waits(void **state)
{
	(void)state;
	H.lookup_wait = true;
	run(20);
	login("pass");
	run(300);
	assert_true(H.lookups >= 2);
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY"));
}

static void
test_engine_stream_survives_loss(void **state)
{
	const size_t total = 1u << 20;
	size_t sent = 0;
	int rounds = 0;

	(void)state;
	run(20);
	login("pass");
	run(100);
	assert_int_equal(pm_engine_stats(H.e)->splices, 1);
	H.loss = 3;
	client_send("s STREAM 1048576\r\n");
	run(200);
	while (sent < total && rounds++ < 200000) {
		size_t room = pm_tcb_send_space(&H.client->t), n = total - sent, i;
		uint8_t chunk[4096];

		if (n > room)
			n = room;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = stream_byte(sent + i);
		if (n > 0) {
			assert_int_equal(pm_tcb_send(&H.client->t, chunk, n), 0);
			sent += n;
			peer_flush(H.client);
		}
		run(5);
	}
	H.loss = 0;
	run(5000);
	assert_int_equal(H.stream_checked, total);
	assert_non_null(strstr(client_text(), "s OK stream received"));
}

/* The client's final ACK of the handshake is lost: it is established and
 * waits for the greeting, which only our SYN-ACK sent again (from the SYN
 * backlog) can bring about. */
static void
test_engine_lost_final_ack_is_recovered_by_syn_ack_again(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	H.drop_engine_nth = 2;		/* the SYN passes, the ACK is lost */
	run(20);
	assert_int_equal(pm_tcb_state(&H.client->t), PM_TCB_ESTABLISHED);
	assert_int_equal(H.client->ngot, 0);
	assert_int_equal(pm_engine_sessions(H.e), 0);
	assert_int_equal(pm_engine_syn_backlog(H.e), 1);
	run(1100);
	assert_int_equal(st->syn_ack_retrans, 1);
	assert_non_null(strstr(client_text(), "* OK [CAPABILITY IMAP4rev1"));
	assert_int_equal(pm_engine_sessions(H.e), 1);
	assert_int_equal(pm_engine_syn_backlog(H.e), 0);
	login("pass");
	assert_non_null(strstr(client_text(), "a OK [CAPABILITY"));
}

/* Our SYN-ACK is lost: the client sends its SYN again and is answered. */
static void
test_engine_lost_syn_ack_is_answered_again(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);
	struct frame f;

	(void)state;
	assert_int_equal(H.nq, 1);	/* the SYN */
	f = H.q[0];
	H.nq = 0;
	{
		struct pm_l3_ipv4 iph;
		struct pm_tcp_hdr th;
		struct pm_addr dst;
		enum pm_drop why;
		size_t adj;

		parse(f.b, f.len, &iph, &th);
		assert_int_equal(pm_engine_input(H.e, f.b, f.len, &iph, &th, H.now, &dst, &adj,
						 &why), PM_ENGINE_CONSUMED);
	}
	H.nq = 0;			/* the SYN-ACK is lost */
	assert_int_equal(pm_engine_syn_backlog(H.e), 1);
	run(5000);			/* the client's SYN again at 1 s, or ours */
	assert_non_null(strstr(client_text(), "* OK [CAPABILITY IMAP4rev1"));
	assert_int_equal(pm_engine_syn_backlog(H.e), 0);
	assert_int_equal(pm_engine_sessions(H.e), 1);
	assert_true(st->syn_cookies + st->syn_ack_retrans >= 2);
}

/* An entry nobody answers is sent 5 times more, then forgotten. */
static void
test_engine_unanswered_syn_ack_is_forgotten_after_63_s(void **state)
{
	const struct pm_engine_stats *st = pm_engine_stats(H.e);

	(void)state;
	H.drop_engine_nth = 2;		/* the SYN passes, the ACK is lost */
	run(20);
	H.loss = 100;			/* and from now on everything */
	assert_int_equal(pm_engine_syn_backlog(H.e), 1);
	run(62000);
	assert_int_equal(pm_engine_syn_backlog(H.e), 1);
	run(1100);
	assert_int_equal(pm_engine_syn_backlog(H.e), 0);
	assert_int_equal(st->syn_ack_retrans, 5);
	assert_int_equal(pm_engine_sessions(H.e), 0);
}

static void
test_engine_syn_flood_allocates_nothing(void **state)
{
	struct pm_tcp_hdr h;
	struct pm_addr src, vip = ip(vip_s);
	int i;

	(void)state;
	H.nq = 0;		/* forget the client's SYN */
	for (i = 0; i < 10000; i++) {
		struct frame *f = &H.q[0];
		struct pm_l3_ipv4 iph;
		struct pm_tcp_hdr th;
		struct pm_addr dst;
		enum pm_drop why;
		size_t adj;
		char s[32];
		int n;

		snprintf(s, sizeof(s), "203.0.113.%d", i % 250 + 1);
		src = ip(s);
		memset(&h, 0, sizeof(h));
		h.sport = (uint16_t)(1024 + i);
		h.dport = 143;
		h.seq = (uint32_t)i * 7777;
		h.flags = PM_TCP_SYN;
		h.wnd = 1024;
		n = pm_tcpopt_segment(f->b, sizeof(f->b), &src, &vip, 1, &h, NULL, 0);
		assert_true(n > 0);
		parse(f->b, (size_t)n, &iph, &th);
		assert_int_equal(pm_engine_input(H.e, f->b, (size_t)n, &iph, &th, H.now, &dst,
						 &adj, &why), PM_ENGINE_CONSUMED);
		H.nq = 0;	/* the SYN-ACKs go nowhere */
		/* A forged ACK without the cookie is dropped. */
		h.flags = PM_TCP_ACK;
		h.seq++;
		h.ack = 12345;
		n = pm_tcpopt_segment(f->b, sizeof(f->b), &src, &vip, 1, &h, NULL, 0);
		parse(f->b, (size_t)n, &iph, &th);
		assert_int_equal(pm_engine_input(H.e, f->b, (size_t)n, &iph, &th, H.now, &dst,
						 &adj, &why), PM_ENGINE_DROP);
		assert_int_equal(why, PM_DROP_TCP_COOKIE);
	}
	assert_int_equal(pm_engine_sessions(H.e), 0);
	assert_int_equal(pm_engine_stats(H.e)->syn_cookies, 10000);
	/* The backlog filled up and stayed at its size. */
	assert_int_equal(pm_engine_syn_backlog(H.e), 4096);
	assert_int_equal(pm_engine_stats(H.e)->syn_backlog_full, 10000 - 4096);
	/* A real client still gets in. */
	peer_flush(H.client);
	pm_tcb_timeout(&H.client->t, H.now + 1000);	/* its SYN was forgotten */
	peer_flush(H.client);
	run(50);
	assert_non_null(strstr(client_text(), "* OK [CAPABILITY"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_login_splices_and_forwards, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine_wrong_password_then_right_one, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine_pipelined_command_reaches_backend,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_pipelined_logout_before_splice, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine_kick_resets_both_sides, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine_kick_before_splice_closes_both_sides,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_kick_during_backend_login_aborts_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_kick_spares_finished_session, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_retransmission_below_splice_point_is_acked_locally, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_engine_reused_tuple_after_close_is_accepted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_spliced_session_refreshes_pin_then_idles_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_dead_backend_gives_unavailable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_engine_tempfail_is_retried_then_forwarded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_moving_user_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_stream_survives_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_syn_flood_allocates_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_lost_final_ack_is_recovered_by_syn_ack_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_lost_syn_ack_is_answered_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_engine_unanswered_syn_ack_is_forgotten_after_63_s, setup, teardown),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
