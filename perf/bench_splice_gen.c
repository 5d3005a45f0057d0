/*
 * bench_splice_gen.c -- the load generator of perf/bench-splice
 * (docs/PERFORMANCE.md, "Spliced forwarding and logins over memif").
 *
 *   bench-splice-gen <EAL arguments, one --vdev port> -- [options]
 *
 * One DPDK port (in the benchmark a net_memif client facing the device
 * under test, zero-copy when the EAL memory allows it) and one lcore, the
 * main one. The generator plays both ends of every session the DUT
 * (postmux-dataplane) proxies:
 *
 *   - the IMAP clients: addresses --clients A N (192.0.2.10 on), a new
 *     source port for every connection, towards the listener --vip:--port;
 *   - the Dovecot backends: --backends A N (198.51.100.1 on), port
 *     --backend-port; postmux reaches them through a gateway, --gw, for
 *     which the generator answers ARP, as it does for the client addresses.
 *
 * It needs no general TCP: memif loses nothing unless a ring is full, so
 * each connection is a script with exact sequence numbers, and anything
 * else that arrives is counted (unexpected segments, RSTs, duplicates,
 * timeouts) rather than handled. A connection that goes wrong is reset
 * and counted; the next one starts on a new source port.
 *
 * A login, client side: SYN (MSS 1460, window scale 7, SACK-permitted) ->
 * the cookie SYN-ACK -> ACK -> the greeting -> "a LOGIN <user> pw" -> "a OK"
 * -> ACK. Backend side, meanwhile: postmux's SYN -> SYN-ACK (the same
 * options) -> its ACK -> the banner "* OK [CAPABILITY IMAP4rev1 ID
 * AUTH=PLAIN] ready." -> its ID and LOGIN lines -> "I OK ID completed." and
 * "L OK Logged in". The backend checks that the login replayed is the
 * client's (user and password) and finds the client by the ID line's
 * x-originating-port, as a Dovecot backend would log it. Once the client
 * has acknowledged "a OK", postmux splices the two connections.
 *
 * --mode logins: --inflight K connections at once; each ends right after
 * its "a OK" with a bare RST from the client, which postmux must forward
 * through the splice: a login counts once that RST reaches the backend
 * with the client's sequence number translated (a RST|ACK instead means
 * postmux aborted the session itself: counted as aborted). The slot then
 * starts the next connection. Users are user<i>@bench.example, i cycling
 * over --users, so that they spread over the backends by the director's
 * hash.
 *
 * --mode forward: --sessions N sessions are logged in and spliced first
 * (user<i>@bench.example, one per session). Then the generator sends data
 * segments of --payload bytes into them as fast as the port takes them,
 * round robin over the sessions, from the client side (--dir c2b), the
 * backend side (b2c) or both, with advancing sequence numbers and the
 * acknowledgement of what each side received at the splice. The splice
 * forwards whatever lies at or after the splice point and enforces no
 * window, so no ACKs flow back. Every --verify-every'th data frame that
 * comes out of the DUT is checked against the exact rewrite: MACs, IPv4
 * header and checksum, TTL 64, the other connection's addresses and
 * ports, the sequence number moved into the receiver's space, the
 * acknowledgement likewise, flags, window, TCP checksum and payload.
 * Stream offsets cycle below 2^30 so that no sequence number ever lies
 * 2^31 or more after its splice point (which the DUT would take for
 * "before").
 *
 * --expect mirror (with --mode forward): the reference run against
 * dpdk-testpmd's io forwarding, which sends every frame back unchanged.
 * Nothing is logged in: the sessions are made up, the data frames are the
 * same, and a frame that comes back counts as forwarded when it is exactly
 * one the generator sent.
 *
 * The data frames live in a pool of their own with the payload written
 * once; sending one is writing its 54 header bytes from the session's
 * template, the sequence number and the TCP checksum (a precomputed sum
 * plus the sequence number's two words). Control segments are built with
 * the data plane's own pure builders (tcp/tcpopt.h) and their checksums
 * verified on receipt with pm_tcpopt_csum_ok(); the data path's checks use
 * this file's own arithmetic.
 *
 * Phases: link up; ARP requests to the DUT from the gateway and every
 * client address (so its neighbour table knows them before the first
 * packet: the DUT's own requests, sent before this peer existed, went
 * nowhere); for forward mode the setup (--setup-timeout); --warmup; the
 * measured window of --seconds; --drain (no new data or connections).
 * perf/bench-splice samples the DUT's CPU time at the lines "measuring"
 * and "window closed".
 *
 * Output: human-readable lines, then exactly one JSON line
 * ({"bench":"splice-gen",...}). Exit status 0 when the run worked (forward:
 * every session spliced, data came back in the window, none invalid;
 * logins: logins completed in the window, no invalid frame), 1 otherwise
 * (the JSON line is still printed once the port is up), 2 for bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_memcpy.h>
#include <rte_version.h>

#include "net/addr.h"
#include "net/bytes.h"
#include "net/cksum.h"
#include "net/l3.h"
#include "tcp/tcpopt.h"

#define GEN_BURST_MAX	64
#define GEN_DATA_MBUFS	4095	/* prebuilt data frames: more than the memif
				 * ring, a burst and the pool cache hold */
#define GEN_RX_MBUFS	8191
#define GEN_CTL_MBUFS	4095
#define GEN_POOL_CACHE	256
#define GEN_NB_DESC	1024
#define CTLQ_SIZE	4096	/* control frames waiting for TX (power of 2) */
#define FCS_LEN		4
#define ETH_HLEN	14
#define IP_HLEN		20
#define TCP_HLEN	20
#define HDRS_LEN	(ETH_HLEN + IP_HLEN + TCP_HLEN)	/* a data frame's headers */
#define PAYLOAD_MAX	1460
#define SLOTS_MAX	4096
#define BACKENDS_MAX	16
#define CLIENTS_MAX	256
#define PORT_FIRST	1024	/* client source ports */
#define LINE_MAX_	384	/* a backend line we keep (the ID line is ~170) */
#define PREFIX_MAX	8	/* a client line's first bytes we keep */
#define OFF_SPAN	(1u << 30)	/* stream offsets stay below this */
#define WSCALE		7
#define WINDOW		65535
#define MSS		1460
#define NONE		UINT32_MAX

static const char banner[] = "* OK [CAPABILITY IMAP4rev1 ID AUTH=PLAIN] ready.\r\n";
static const char reply_id_login[] = "I OK ID completed.\r\nL OK Logged in\r\n";
static const char reply_login[] = "L OK Logged in\r\n";
static const char password[] = "pw";

enum gen_mode { MODE_FORWARD, MODE_LOGINS };
enum gen_expect { EXPECT_SPLICE, EXPECT_MIRROR };

#define DIR_C2B	1
#define DIR_B2C	2

struct gen_opts {
	enum gen_mode mode;
	enum gen_expect expect;
	unsigned int sessions;		/* forward */
	unsigned int inflight;		/* logins */
	unsigned int payload;		/* forward: TCP payload bytes */
	unsigned int dirs;		/* DIR_* bits */
	unsigned int users;
	double seconds, warmup, drain, link_timeout, linger, setup_timeout, conn_timeout;
	unsigned int burst;
	unsigned int verify_every;
	struct rte_ether_addr dut_mac;
	uint32_t dut_ip, vip, gw;	/* host order */
	uint32_t client0, backend0;	/* host order */
	unsigned int nclients, nbackends;
	uint16_t port, backend_port;
	const char *label;
};

/* Client connection states (a slot runs one connection at a time). */
enum slot_state {
	C_IDLE = 0,
	C_SYN_SENT,	/* our SYN out, waiting for the cookie SYN-ACK */
	C_GREETING,	/* ACK out, waiting for the greeting line */
	C_LOGIN,	/* LOGIN out, waiting for "a OK" */
	C_SPLICED,	/* forward: "a OK" acknowledged, data may flow */
	C_CLOSED,	/* logins: our RST out, waiting for it at the backend */
};

/* Backend connection states. */
enum bconn_state {
	B_FREE = 0,
	B_SYN_RCVD,	/* SYN-ACK out, waiting for postmux's ACK */
	B_LOGIN,	/* banner out, reading ID and LOGIN */
	B_LOGGED_IN,	/* L OK out */
};

struct slot {
	uint8_t state;
	uint8_t plen;			/* bytes in prefix */
	bool line_start;
	char prefix[PREFIX_MAX];	/* the current line's first bytes */
	uint32_t caddr;			/* host order */
	uint16_t cport;
	uint32_t snd_nxt, rcv_nxt;	/* the client's */
	uint32_t bconn;			/* linked backend connection, or NONE */
	uint64_t deadline;		/* TSC */
	uint64_t started;		/* TSC */
	char user[40];
	uint8_t ulen;
};

struct bconn {
	uint8_t state;
	uint8_t bidx;
	bool had_id;
	uint16_t lport;			/* postmux's port */
	uint16_t llen;			/* bytes in line */
	uint32_t irs;			/* postmux's ISN */
	uint32_t snd_nxt, rcv_nxt;	/* the backend's */
	uint32_t slot;			/* NONE until the ID line names the client */
	uint32_t next_free;
	char line[LINE_MAX_];
};

/* A data frame's headers for one session and direction, and what the
 * receiving side must see. */
struct flow {
	uint8_t hdr[HDRS_LEN];		/* seq and TCP checksum 0 */
	uint32_t sum;			/* TCP sum without the seq words */
	uint32_t seq0;			/* first sequence number sent */
	uint32_t off;			/* next stream offset */
	/* The frame the other side receives: */
	uint32_t rsrc, rdst;		/* host order */
	uint16_t rsport, rdport;
	uint32_t rseq0, rack;
	uint8_t rflags;
};

struct gen_counts {
	uint64_t tx_data, rx_data;	/* data frames */
	uint64_t rx_c2b, rx_b2c;	/* data frames by direction received */
	uint64_t rx_payload;		/* payload bytes of rx_data */
	uint64_t tx_calls, tx_short;	/* data TX bursts, not taken whole */
	uint64_t rx_calls, rx_empty;
	uint64_t tx_ctl, rx_ctl;	/* control frames (TCP without data, ARP) */
	uint64_t verified, invalid;
	uint64_t started;		/* connections begun */
	uint64_t logins;		/* logins mode: spliced and closed */
	uint64_t spliced;		/* forward: sessions spliced */
	uint64_t latency_tsc;		/* logins: SYN to RST at the backend, summed */
	uint64_t login_failed;		/* a NO or BAD */
	uint64_t timeouts;
	uint64_t unexpected;		/* segments outside the script */
	uint64_t rst_unexpected;
	uint64_t aborted;		/* RST|ACK at the backend: not through the splice */
	uint64_t dups;			/* retransmissions received */
	uint64_t arp_replies;		/* ARP requests we answered */
	uint64_t nobuf;			/* mbuf allocation failures */
	uint64_t ctl_overflow;		/* control frames dropped, queue full */
	uint64_t per_backend[BACKENDS_MAX];
};

struct gen {
	struct gen_opts o;
	uint16_t port;
	struct rte_mempool *rx_pool, *ctl_pool, *data_pool;
	struct rte_ether_addr mac;
	struct slot *slots;
	unsigned int nslots;
	struct bconn *bconns;
	unsigned int nbconns;
	uint32_t bfree;
	uint32_t *cmap;			/* client port -> slot + 1 */
	uint32_t *bmap;			/* backend index * 65536 + port -> bconn + 1 */
	struct flow *flows;		/* [slot * 2 + (dir == B2C)] */
	struct rte_mbuf *ctlq[CTLQ_SIZE];
	unsigned int ctl_head, ctl_len;
	uint16_t next_port;
	uint64_t serial;		/* connections so far: client address, user */
	uint64_t rng;
	uint16_t ip_id;
	bool counting;			/* in the measured window */
	bool starting;			/* logins: slots start new connections */
	bool blasting;
	unsigned int next_flow;		/* blast round robin */
	unsigned int verify_in;
	uint32_t span;			/* stream offsets cycle below this */
	uint64_t hz;
	struct gen_counts c;
	unsigned int arp_acks;		/* DUT replies to our announcements */
	char first_invalid[200];
	char first_unexpected[200];
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- options ------------------------------------------------------------ */

static const char usage_text[] =
	"usage: bench-splice-gen <EAL arguments> -- [options]\n"
	"  --mode forward|logins  spliced data, or whole logins (default forward)\n"
	"  --expect splice|mirror the DUT splices (postmux) or reflects frames (io fwd)\n"
	"  --sessions N       forward: spliced sessions, 1..%u (default 64)\n"
	"  --payload N        forward: TCP payload bytes, 1..%u (default 64)\n"
	"  --dir c2b|b2c|both forward: who sends the data (default c2b)\n"
	"  --inflight K       logins: connections at once, 1..%u (default 64)\n"
	"  --users N          logins: distinct user names (default 10000)\n"
	"  --seconds S        measured time (default 5)\n"
	"  --warmup S         time before measuring (default 1)\n"
	"  --drain S          time after it, nothing new sent (default 0.2)\n"
	"  --setup-timeout S  forward: time to splice every session (default 20)\n"
	"  --conn-timeout S   a connection that takes longer is reset (default 3)\n"
	"  --link-timeout S   time to wait for the peer (default 30)\n"
	"  --linger S         time to wait for the peer to leave at the end (default 15)\n"
	"  --burst N          frames per data TX and RX burst, 1..%u (default 32)\n"
	"  --verify-every N   check every N-th data frame received (default 16)\n"
	"  --dut-mac M        the DUT's MAC (default 02:00:00:00:00:02)\n"
	"  --dut-ip A         the DUT port's address (default 192.0.2.1)\n"
	"  --vip A            the IMAP listener's address (default 192.0.2.143)\n"
	"  --port N           the listener's port (default 143)\n"
	"  --gw A             the gateway to the backends (default 192.0.2.254)\n"
	"  --clients A N      client addresses from A (default 192.0.2.10 16)\n"
	"  --backends A N     backends from A (default 198.51.100.1 5)\n"
	"  --backend-port N   (default 143)\n"
	"  --label L          a name for the output (default dut)\n";

static void
usage(FILE *fp)
{
	fprintf(fp, usage_text, SLOTS_MAX, PAYLOAD_MAX, SLOTS_MAX, GEN_BURST_MAX);
}

static bool
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static bool
parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *out)
{
	double v;

	if (!parse_double(s, lo, hi, &v) || v != (double)(unsigned int)v)
		return false;
	*out = (unsigned int)v;
	return true;
}

static bool
parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

static bool
parse_port(const char *s, uint16_t *out)
{
	unsigned int v;

	if (!parse_uint(s, 1, 65535, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

static int
parse_args(int argc, char **argv, struct gen_opts *o)
{
	int i;

	*o = (struct gen_opts){
		.mode = MODE_FORWARD, .expect = EXPECT_SPLICE, .sessions = 64, .inflight = 64,
		.payload = 64, .dirs = DIR_C2B, .users = 10000, .seconds = 5, .warmup = 1,
		.drain = 0.2, .link_timeout = 30, .linger = 15, .setup_timeout = 20,
		.conn_timeout = 3, .burst = 32, .verify_every = 16,
		.dut_mac = { .addr_bytes = { 0x02, 0, 0, 0, 0, 0x02 } },
		.nclients = 16, .nbackends = 5, .port = 143, .backend_port = 143,
		.label = "dut",
	};
	parse_ip("192.0.2.1", &o->dut_ip);
	parse_ip("192.0.2.143", &o->vip);
	parse_ip("192.0.2.254", &o->gw);
	parse_ip("192.0.2.10", &o->client0);
	parse_ip("198.51.100.1", &o->backend0);
	/* Options come with one value, --clients and --backends with two:
	 * the loop header steps over the option and its first value. */
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (v == NULL)
			goto bad;
		if (strcmp(a, "--mode") == 0) {
			ok = strcmp(v, "forward") == 0 || strcmp(v, "logins") == 0;
			o->mode = strcmp(v, "logins") == 0 ? MODE_LOGINS : MODE_FORWARD;
		} else if (strcmp(a, "--expect") == 0) {
			ok = strcmp(v, "splice") == 0 || strcmp(v, "mirror") == 0;
			o->expect = strcmp(v, "mirror") == 0 ? EXPECT_MIRROR : EXPECT_SPLICE;
		} else if (strcmp(a, "--dir") == 0) {
			ok = true;
			if (strcmp(v, "c2b") == 0)
				o->dirs = DIR_C2B;
			else if (strcmp(v, "b2c") == 0)
				o->dirs = DIR_B2C;
			else if (strcmp(v, "both") == 0)
				o->dirs = DIR_C2B | DIR_B2C;
			else
				ok = false;
		} else if (strcmp(a, "--sessions") == 0)
			ok = parse_uint(v, 1, SLOTS_MAX, &o->sessions);
		else if (strcmp(a, "--inflight") == 0)
			ok = parse_uint(v, 1, SLOTS_MAX, &o->inflight);
		else if (strcmp(a, "--payload") == 0)
			ok = parse_uint(v, 1, PAYLOAD_MAX, &o->payload);
		else if (strcmp(a, "--users") == 0)
			ok = parse_uint(v, 1, 100000000, &o->users);
		else if (strcmp(a, "--seconds") == 0)
			ok = parse_double(v, 0.1, 3600, &o->seconds);
		else if (strcmp(a, "--warmup") == 0)
			ok = parse_double(v, 0, 3600, &o->warmup);
		else if (strcmp(a, "--drain") == 0)
			ok = parse_double(v, 0, 60, &o->drain);
		else if (strcmp(a, "--setup-timeout") == 0)
			ok = parse_double(v, 0.1, 3600, &o->setup_timeout);
		else if (strcmp(a, "--conn-timeout") == 0)
			ok = parse_double(v, 0.01, 3600, &o->conn_timeout);
		else if (strcmp(a, "--link-timeout") == 0)
			ok = parse_double(v, 0.1, 3600, &o->link_timeout);
		else if (strcmp(a, "--linger") == 0)
			ok = parse_double(v, 0, 3600, &o->linger);
		else if (strcmp(a, "--burst") == 0)
			ok = parse_uint(v, 1, GEN_BURST_MAX, &o->burst);
		else if (strcmp(a, "--verify-every") == 0)
			ok = parse_uint(v, 1, 1u << 30, &o->verify_every);
		else if (strcmp(a, "--dut-mac") == 0)
			ok = rte_ether_unformat_addr(v, &o->dut_mac) == 0;
		else if (strcmp(a, "--dut-ip") == 0)
			ok = parse_ip(v, &o->dut_ip);
		else if (strcmp(a, "--vip") == 0)
			ok = parse_ip(v, &o->vip);
		else if (strcmp(a, "--gw") == 0)
			ok = parse_ip(v, &o->gw);
		else if (strcmp(a, "--port") == 0)
			ok = parse_port(v, &o->port);
		else if (strcmp(a, "--backend-port") == 0)
			ok = parse_port(v, &o->backend_port);
		else if (strcmp(a, "--clients") == 0 || strcmp(a, "--backends") == 0) {
			bool cl = strcmp(a, "--clients") == 0;

			ok = i + 2 < argc &&
			     parse_ip(v, cl ? &o->client0 : &o->backend0) &&
			     parse_uint(argv[i + 2], 1, cl ? CLIENTS_MAX : BACKENDS_MAX,
					cl ? &o->nclients : &o->nbackends);
			i++;
		} else if (strcmp(a, "--label") == 0) {
			ok = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(v);
			o->label = v;
		} else
			goto bad;
		if (!ok)
			goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "bench-splice-gen: bad option '%s'\n", argv[i < argc ? i : argc - 1]);
	usage(stderr);
	return -1;
}

/* ---- small helpers ------------------------------------------------------- */

static struct pm_addr
addr4(uint32_t a)
{
	struct pm_addr r;

	memset(&r, 0, sizeof(r));
	r.family = PM_AF_INET;
	pm_put32(r.bytes, a);
	return r;
}

static uint64_t
rnd(struct gen *g)
{
	/* xorshift64: ISNs, nothing that needs to be unpredictable. */
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static bool
is_client(const struct gen *g, uint32_t a)
{
	return a - g->o.client0 < g->o.nclients;
}

static bool
is_backend(const struct gen *g, uint32_t a)
{
	return a - g->o.backend0 < g->o.nbackends;
}

static uint8_t
data_byte(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

static uint16_t
fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void
note(char *buf, size_t size, const char *why, const uint8_t *f, size_t len)
{
	size_t i, off;

	off = (size_t)snprintf(buf, size, "%s; bytes:", why);
	for (i = 0; i < len && i < 54 && off + 3 < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%02x", i % 2 ? "" : " ", f[i]);
}

static bool
invalid(struct gen *g, const char *why, const uint8_t *f, size_t len)
{
	if (g->c.invalid == 0)
		note(g->first_invalid, sizeof(g->first_invalid), why, f, len);
	g->c.invalid++;
	return false;
}

static void
unexpected(struct gen *g, const char *why, const uint8_t *f, size_t len)
{
	if (g->c.unexpected == 0)
		note(g->first_unexpected, sizeof(g->first_unexpected), why, f, len);
	g->c.unexpected++;
}

/* ---- control TX ----------------------------------------------------------- */

/* Queue @m for TX; never dropped unless the queue is full (counted). */
static void
ctl_queue(struct gen *g, struct rte_mbuf *m)
{
	if (g->ctl_len == CTLQ_SIZE) {
		g->c.ctl_overflow++;
		rte_pktmbuf_free(m);
		return;
	}
	g->ctlq[(g->ctl_head + g->ctl_len) & (CTLQ_SIZE - 1)] = m;
	g->ctl_len++;
}

/* Offer the queued control frames to the port; what it does not take stays
 * queued, in order. */
static void
ctl_flush(struct gen *g)
{
	while (g->ctl_len > 0) {
		unsigned int n = g->ctl_len, room = CTLQ_SIZE - g->ctl_head;
		uint16_t sent;

		if (n > room)
			n = room;
		if (n > GEN_BURST_MAX)
			n = GEN_BURST_MAX;
		sent = rte_eth_tx_burst(g->port, 0, &g->ctlq[g->ctl_head], (uint16_t)n);
		g->c.tx_ctl += sent;
		g->ctl_head = (g->ctl_head + sent) & (CTLQ_SIZE - 1);
		g->ctl_len -= sent;
		if (sent < n)
			return;
	}
}

static void
set_len(struct rte_mbuf *m, size_t len)
{
	if (len < 60) {
		memset(rte_pktmbuf_mtod_offset(m, uint8_t *, len), 0, 60 - len);
		len = 60;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
}

/* Build and queue a TCP segment from @src to @dst. */
static void
send_seg(struct gen *g, uint32_t src, uint32_t dst, const struct pm_tcp_hdr *h,
	 const void *payload, size_t plen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->ctl_pool);
	struct pm_addr s = addr4(src), d = addr4(dst);
	uint8_t *f;
	int n;

	if (m == NULL) {
		g->c.nobuf++;
		return;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	n = pm_tcpopt_segment(f, rte_pktmbuf_tailroom(m), &s, &d, g->ip_id++, h, payload, plen);
	if (n < 0) {
		rte_pktmbuf_free(m);
		g->c.nobuf++;
		return;
	}
	memcpy(f, g->o.dut_mac.addr_bytes, 6);
	memcpy(f + 6, g->mac.addr_bytes, 6);
	set_len(m, (size_t)n);
	ctl_queue(g, m);
}

static void
tcp_hdr(struct pm_tcp_hdr *h, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
	uint8_t flags)
{
	memset(h, 0, sizeof(*h));
	h->sport = sport;
	h->dport = dport;
	h->seq = seq;
	h->ack = ack;
	h->flags = flags;
	h->wnd = WINDOW;
}

/* An ARP request to the DUT from @spa (one of ours): the DUT learns us. */
static void
send_arp_request(struct gen *g, uint32_t spa)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(g->ctl_pool);
	struct pm_addr s = addr4(spa), t = addr4(g->o.dut_ip);
	int n;

	if (m == NULL) {
		g->c.nobuf++;
		return;
	}
	n = pm_l3_arp_request(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m),
			      g->mac.addr_bytes, &s, &t, NULL);
	if (n < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	set_len(m, (size_t)n);
	ctl_queue(g, m);
}

static void
handle_arp(struct gen *g, const uint8_t *f, size_t len)
{
	struct pm_l3_arp arp;
	struct rte_mbuf *m;
	uint32_t tpa, spa;
	int n;

	g->c.rx_ctl++;
	if (pm_l3_arp_parse(f, len, ETH_HLEN, &arp) != PM_DROP_NONE) {
		unexpected(g, "bad ARP", f, len);
		return;
	}
	tpa = pm_get32(arp.tpa.bytes);
	spa = pm_get32(arp.spa.bytes);
	if (arp.op == PM_ARP_OP_REPLY) {
		if (spa == g->o.dut_ip)
			g->arp_acks++;
		return;
	}
	/* Answer for everything but the DUT's own addresses (its gratuitous
	 * announcements too). */
	if (tpa == g->o.dut_ip || tpa == g->o.vip || tpa == spa)
		return;
	m = rte_pktmbuf_alloc(g->ctl_pool);
	if (m == NULL) {
		g->c.nobuf++;
		return;
	}
	n = pm_l3_arp_reply(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), &arp,
			    g->mac.addr_bytes);
	if (n < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	set_len(m, (size_t)n);
	g->c.arp_replies++;
	ctl_queue(g, m);
}

/* ---- data frames ----------------------------------------------------------- */

/*
 * The template of session @i's data frames in direction @dir, from the
 * numbers at the splice point: the sender's next sequence number @seq and
 * the acknowledgement it sends @ack; and what the receiver must see
 * (@rseq0, @rack: the same two in the receiver's connection).
 */
static void
flow_init(struct gen *g, unsigned int i, unsigned int dir, uint32_t src, uint32_t dst,
	  uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint32_t rsrc,
	  uint32_t rdst, uint16_t rsport, uint16_t rdport, uint32_t rseq0, uint32_t rack)
{
	struct flow *fl = &g->flows[i * 2 + (dir == DIR_B2C)];
	uint8_t buf[HDRS_LEN + PAYLOAD_MAX];
	struct pm_addr s = addr4(src), d = addr4(dst);
	uint8_t payload[PAYLOAD_MAX];
	struct pm_tcp_hdr h;
	size_t k;
	int n;

	for (k = 0; k < g->o.payload; k++)
		payload[k] = data_byte(k);
	tcp_hdr(&h, sport, dport, 0, ack, PM_TCP_ACK | PM_TCP_PSH);
	n = pm_tcpopt_segment(buf, sizeof(buf), &s, &d, 0, &h, payload, g->o.payload);
	if (n != (int)(HDRS_LEN + g->o.payload))
		rte_exit(1, "bench-splice-gen: cannot build a data frame (%d)\n", n);
	memcpy(buf, g->o.dut_mac.addr_bytes, 6);
	memcpy(buf + 6, g->mac.addr_bytes, 6);
	memcpy(fl->hdr, buf, HDRS_LEN);
	/* The checksum with seq 0 is ~sum: keep the sum, add the seq later. */
	fl->sum = (uint16_t)~pm_get16(buf + ETH_HLEN + IP_HLEN + 16);
	fl->seq0 = seq;
	fl->off = 0;
	fl->rsrc = rsrc;
	fl->rdst = rdst;
	fl->rsport = rsport;
	fl->rdport = rdport;
	fl->rseq0 = rseq0;
	fl->rack = rack;
	fl->rflags = PM_TCP_ACK | PM_TCP_PSH;
}

/* Write the next data frame of flow @fl into @m. */
static inline void
flow_fill(struct gen *g, struct flow *fl, struct rte_mbuf *m)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *th = f + ETH_HLEN + IP_HLEN;
	uint32_t seq = fl->seq0 + fl->off;

	rte_memcpy(f, fl->hdr, HDRS_LEN);
	pm_put32(th + 4, seq);
	pm_put16(th + 16, (uint16_t)~fold(fl->sum + (seq >> 16) + (seq & 0xffff)));
	fl->off += g->o.payload;
	if (fl->off >= g->span)
		fl->off -= g->span;
	m->data_len = (uint16_t)(HDRS_LEN + g->o.payload);
	m->pkt_len = HDRS_LEN + g->o.payload;
}

/* Write the payload into every mbuf of a new data pool, once. */
static int
build_data_pool(struct gen *g)
{
	static struct rte_mbuf *all[GEN_DATA_MBUFS];
	unsigned int i;
	size_t k;

	g->data_pool = rte_pktmbuf_pool_create("gen_data", GEN_DATA_MBUFS, GEN_POOL_CACHE, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (g->data_pool == NULL ||
	    rte_pktmbuf_alloc_bulk(g->data_pool, all, GEN_DATA_MBUFS) != 0)
		return -ENOMEM;
	for (i = 0; i < GEN_DATA_MBUFS; i++) {
		uint8_t *p = rte_pktmbuf_mtod_offset(all[i], uint8_t *, HDRS_LEN);

		for (k = 0; k < g->o.payload; k++)
			p[k] = data_byte(k);
	}
	rte_pktmbuf_free_bulk(all, GEN_DATA_MBUFS);
	return 0;
}

/*
 * Check a data frame that came out of the DUT for flow @fl (its receiver's
 * view): everything the rewrite sets, both checksums, the payload.
 */
static bool
verify_data(struct gen *g, const struct flow *fl, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN, *th = ip + IP_HLEN;
	bool mirror = g->o.expect == EXPECT_MIRROR;
	uint32_t off, plen = g->o.payload;
	struct pm_addr a, b;
	size_t k;

	g->c.verified++;
	if (len != HDRS_LEN + plen)
		return invalid(g, "data frame length", f, len);
	if (memcmp(f, mirror ? g->o.dut_mac.addr_bytes : g->mac.addr_bytes, 6) != 0 ||
	    memcmp(f + 6, mirror ? g->mac.addr_bytes : g->o.dut_mac.addr_bytes, 6) != 0)
		return invalid(g, "Ethernet addresses", f, len);
	if (ip[0] != 0x45 || pm_get16(ip + 2) != IP_HLEN + TCP_HLEN + plen ||
	    (pm_get16(ip + 6) & 0x3fff) != 0 || ip[8] != PM_L3_REPLY_TTL ||
	    ip[9] != PM_IPPROTO_TCP)
		return invalid(g, "IPv4 header fields", f, len);
	if (pm_cksum(ip, IP_HLEN) != 0)
		return invalid(g, "IPv4 header checksum", f, len);
	if (pm_get32(ip + 12) != fl->rsrc || pm_get32(ip + 16) != fl->rdst)
		return invalid(g, "IPv4 addresses", f, len);
	if (pm_get16(th) != fl->rsport || pm_get16(th + 2) != fl->rdport)
		return invalid(g, "TCP ports", f, len);
	off = pm_get32(th + 4) - fl->rseq0;
	if (off >= g->span || off % plen != 0)
		return invalid(g, "sequence number not translated", f, len);
	if (pm_get32(th + 8) != fl->rack)
		return invalid(g, "acknowledgement not translated", f, len);
	if (th[12] != (TCP_HLEN / 4) << 4 || th[13] != fl->rflags || pm_get16(th + 14) != WINDOW ||
	    pm_get16(th + 18) != 0)
		return invalid(g, "TCP header fields", f, len);
	a = addr4(fl->rsrc);
	b = addr4(fl->rdst);
	if (!pm_tcpopt_csum_ok(th, TCP_HLEN + plen, &a, &b))
		return invalid(g, "TCP checksum", f, len);
	for (k = 0; k < plen; k++)
		if (th[TCP_HLEN + k] != data_byte(k))
			return invalid(g, "payload", f, len);
	return true;
}

/* One TX attempt of the data burst in hand (refilled when empty). */
static void
blast(struct gen *g, struct rte_mbuf **txb, unsigned int *held, unsigned int *off)
{
	unsigned int nflows = g->nslots * 2, i;
	uint16_t sent;

	if (*held == 0) {
		if (rte_pktmbuf_alloc_bulk(g->data_pool, txb, g->o.burst) != 0) {
			g->c.nobuf++;
			return;
		}
		for (i = 0; i < g->o.burst; i++) {
			unsigned int f;

			/* Flows 2s (c2b) and 2s+1 (b2c): skip the unused direction. */
			do {
				f = g->next_flow++;
				if (g->next_flow == nflows)
					g->next_flow = 0;
			} while (!(g->o.dirs & (f & 1 ? DIR_B2C : DIR_C2B)));
			flow_fill(g, &g->flows[f], txb[i]);
		}
		*held = g->o.burst;
		*off = 0;
	}
	sent = rte_eth_tx_burst(g->port, 0, txb + *off, (uint16_t)*held);
	g->c.tx_calls++;
	g->c.tx_data += sent;
	if (sent < *held)
		g->c.tx_short++;
	*off += sent;
	*held -= sent;
}

/* ---- the client side ------------------------------------------------------- */

/* True if the @n bytes at @seq all lie before @rcv_nxt: bytes we have. */
static bool
old_data(uint32_t seq, size_t n, uint32_t rcv_nxt)
{
	uint32_t back = rcv_nxt - seq;

	return back >= n && back < 1u << 31;
}

static void slot_start(struct gen *g, struct slot *s);

static void
bconn_free(struct gen *g, uint32_t bi)
{
	struct bconn *b = &g->bconns[bi];

	if (b->state == B_FREE)
		return;
	g->bmap[(uint32_t)b->bidx << 16 | b->lport] = 0;
	if (b->slot != NONE && g->slots[b->slot].bconn == bi)
		g->slots[b->slot].bconn = NONE;
	b->state = B_FREE;
	b->next_free = g->bfree;
	g->bfree = bi;
}

static void
client_send(struct gen *g, struct slot *s, uint8_t flags, const void *p, size_t n)
{
	struct pm_tcp_hdr h;

	tcp_hdr(&h, s->cport, g->o.port, s->snd_nxt, flags & PM_TCP_ACK ? s->rcv_nxt : 0, flags);
	if (flags & PM_TCP_SYN) {
		h.has_mss = true;
		h.mss = MSS;
		h.has_ws = true;
		h.ws = WSCALE;
		h.sack_ok = true;
	}
	send_seg(g, s->caddr, g->o.vip, &h, p, n);
	s->snd_nxt += (uint32_t)n + !!(flags & (PM_TCP_SYN | PM_TCP_FIN));
}

/* End the slot's connection: a RST to postmux unless it is already over,
 * forget the backend side, and start the next connection if new ones are
 * still being started. */
static void
slot_end(struct gen *g, struct slot *s, bool rst)
{
	if (rst && s->state != C_IDLE)
		client_send(g, s, PM_TCP_RST, NULL, 0);
	if (s->bconn != NONE)
		bconn_free(g, s->bconn);
	if (s->state != C_IDLE && g->cmap[s->cport] == (uint32_t)(s - g->slots) + 1)
		g->cmap[s->cport] = 0;
	s->state = C_IDLE;
	if (g->starting)
		slot_start(g, s);
}

static void
slot_start(struct gen *g, struct slot *s)
{
	uint32_t idx = (uint32_t)(s - g->slots);
	uint64_t k;
	unsigned int tries;

	for (tries = 0; tries < 65536; tries++) {
		uint16_t p = g->next_port++;

		if (g->next_port == 0)
			g->next_port = PORT_FIRST;
		if (p >= PORT_FIRST && g->cmap[p] == 0) {
			s->cport = p;
			break;
		}
	}
	k = g->serial++;
	s->caddr = g->o.client0 + (uint32_t)(k % g->o.nclients);
	if (g->o.mode == MODE_LOGINS)
		k %= g->o.users;
	else
		k = idx;
	s->ulen = (uint8_t)snprintf(s->user, sizeof(s->user), "user%" PRIu64 "@bench.example", k);
	g->cmap[s->cport] = idx + 1;
	s->snd_nxt = (uint32_t)rnd(g);
	s->rcv_nxt = 0;
	s->bconn = NONE;
	s->plen = 0;
	s->line_start = true;
	s->started = rte_rdtsc();
	s->deadline = s->started + (uint64_t)(g->o.conn_timeout * (double)g->hz);
	s->state = C_SYN_SENT;
	g->c.started++;
	client_send(g, s, PM_TCP_SYN, NULL, 0);
}

/* A line from postmux ended (its first bytes in s->prefix): act on it.
 * Returns true if a segment acknowledging everything went out. */
static bool
client_line(struct gen *g, struct slot *s, const uint8_t *f, size_t len)
{
	char line[64];
	int n;

	if (s->state == C_GREETING) {
		if (s->plen >= 4 && memcmp(s->prefix, "* OK", 4) == 0) {
			n = snprintf(line, sizeof(line), "a LOGIN %s %s\r\n", s->user, password);
			client_send(g, s, PM_TCP_ACK | PM_TCP_PSH, line, (size_t)n);
			s->state = C_LOGIN;
			return true;
		}
	} else if (s->state == C_LOGIN) {
		if (s->plen >= 5 && memcmp(s->prefix, "a OK ", 5) == 0) {
			client_send(g, s, PM_TCP_ACK, NULL, 0);
			if (g->o.mode == MODE_LOGINS) {
				/* A bare RST: postmux forwards it as it is. */
				client_send(g, s, PM_TCP_RST, NULL, 0);
				s->state = C_CLOSED;
			} else {
				s->state = C_SPLICED;
			}
			return true;
		}
		if (s->plen >= 2 && s->prefix[0] == 'a' && s->prefix[1] == ' ') {
			g->c.login_failed++;
			unexpected(g, "login refused", f, len);
			slot_end(g, s, true);
			return true;
		}
		if (s->plen >= 2 && s->prefix[0] == '*')
			return false;	/* an untagged line: skip it */
	}
	unexpected(g, "unexpected line from postmux", f, len);
	slot_end(g, s, true);
	return true;
}

static void
client_input(struct gen *g, struct slot *s, const struct pm_tcp_hdr *th, const uint8_t *f,
	     size_t len)
{
	const uint8_t *p = f + th->payload_off;
	size_t n = th->payload_len, i;
	bool acked = false;

	if (th->flags & PM_TCP_RST) {
		g->c.rst_unexpected++;
		unexpected(g, "RST to a client", f, len);
		slot_end(g, s, false);
		return;
	}
	if (s->state == C_SYN_SENT) {
		if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) != (PM_TCP_SYN | PM_TCP_ACK) ||
		    th->ack != s->snd_nxt || n != 0) {
			unexpected(g, "not the SYN-ACK", f, len);
			slot_end(g, s, true);
			return;
		}
		s->rcv_nxt = th->seq + 1;
		client_send(g, s, PM_TCP_ACK, NULL, 0);
		s->state = C_GREETING;
		return;
	}
	if (n > 0 && !(th->flags & (PM_TCP_SYN | PM_TCP_FIN)) && (s->state == C_CLOSED ||
	    s->state == C_SPLICED) && old_data(th->seq, n, s->rcv_nxt)) {
		/* postmux resent bytes we had (we were slow to ACK them): a
		 * retransmission, not a script error. After our RST, no ACK. */
		g->c.dups++;
		if (s->state == C_SPLICED)
			client_send(g, s, PM_TCP_ACK, NULL, 0);
		return;
	}
	if ((th->flags & (PM_TCP_SYN | PM_TCP_FIN)) || s->state == C_CLOSED ||
	    s->state == C_SPLICED) {
		unexpected(g, "segment to a client outside the script", f, len);
		if (s->state != C_SPLICED)
			slot_end(g, s, true);
		return;
	}
	if (n == 0)
		return;		/* postmux's ACK of our data */
	if (th->seq != s->rcv_nxt) {
		uint32_t skip = s->rcv_nxt - th->seq;

		if (skip >= n && skip < 1u << 31) {
			/* A retransmission (postmux timed out on us): ACK again. */
			g->c.dups++;
			client_send(g, s, PM_TCP_ACK, NULL, 0);
			return;
		}
		if (skip >= 1u << 31) {
			unexpected(g, "data beyond RCV.NXT", f, len);
			slot_end(g, s, true);
			return;
		}
		g->c.dups++;
		p += skip;
		n -= skip;
	}
	s->rcv_nxt += (uint32_t)n;
	for (i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (s->line_start) {
			s->plen = 0;
			s->line_start = false;
		}
		if (ch == '\n') {
			s->line_start = true;
			acked = client_line(g, s, f, len);
			if (s->state == C_IDLE || s->state == C_SYN_SENT)
				return;		/* ended (and maybe restarted) */
			continue;
		}
		if (s->plen < PREFIX_MAX)
			s->prefix[s->plen++] = (char)ch;
	}
	if (!acked)
		client_send(g, s, PM_TCP_ACK, NULL, 0);
}

/* ---- the backend side ------------------------------------------------------ */

static void
backend_send(struct gen *g, struct bconn *b, uint8_t flags, const void *p, size_t n,
	     const struct pm_tcp_hdr *syn)
{
	struct pm_tcp_hdr h;

	tcp_hdr(&h, g->o.backend_port, b->lport, b->snd_nxt, b->rcv_nxt, flags);
	if (flags & PM_TCP_SYN) {
		h.has_mss = true;
		h.mss = MSS;
		h.has_ws = syn->has_ws;
		h.ws = WSCALE;
		h.sack_ok = syn->sack_ok;
	}
	send_seg(g, g->o.backend0 + b->bidx, g->o.dut_ip, &h, p, n);
	b->snd_nxt += (uint32_t)n + !!(flags & (PM_TCP_SYN | PM_TCP_FIN));
}

/* The value of "@key" "<value>" in an ID line, or NULL. */
static const char *
id_value(const char *line, const char *key, size_t *vlen)
{
	const char *p = strstr(line, key), *e;

	if (p == NULL)
		return NULL;
	p += strlen(key);
	if (strncmp(p, " \"", 2) != 0)
		return NULL;
	p += 2;
	e = strchr(p, '"');
	if (e == NULL)
		return NULL;
	*vlen = (size_t)(e - p);
	return p;
}

/* A whole line from postmux in b->line (NUL-terminated, without CRLF). */
static void
backend_line(struct gen *g, struct bconn *b, const uint8_t *f, size_t len)
{
	struct slot *s;
	char want[96];
	size_t vl;
	const char *v;

	if (strncmp(b->line, "I ID (", 6) == 0) {
		char port[8];
		unsigned long cp;

		v = id_value(b->line, "\"x-originating-port\"", &vl);
		if (v == NULL || vl == 0 || vl >= sizeof(port)) {
			invalid(g, "ID line without x-originating-port", f, len);
			return;
		}
		memcpy(port, v, vl);
		port[vl] = '\0';
		cp = strtoul(port, NULL, 10);
		if (cp > 65535 || g->cmap[cp] == 0) {
			unexpected(g, "ID line names no client of ours", f, len);
			return;
		}
		b->slot = g->cmap[cp] - 1;
		b->had_id = true;
		s = &g->slots[b->slot];
		if (s->bconn != NONE && s->bconn != (uint32_t)(b - g->bconns))
			bconn_free(g, s->bconn);
		s->bconn = (uint32_t)(b - g->bconns);
		return;
	}
	if (strncmp(b->line, "L LOGIN ", 8) == 0) {
		if (b->slot == NONE) {
			unexpected(g, "LOGIN without an ID line", f, len);
			return;
		}
		s = &g->slots[b->slot];
		snprintf(want, sizeof(want), "L LOGIN \"%s\" \"%s\"", s->user, password);
		if (strcmp(b->line, want) != 0)
			invalid(g, "the login replayed is not the client's", f, len);
		if (b->had_id)
			backend_send(g, b, PM_TCP_ACK | PM_TCP_PSH, reply_id_login,
				     sizeof(reply_id_login) - 1, NULL);
		else
			backend_send(g, b, PM_TCP_ACK | PM_TCP_PSH, reply_login,
				     sizeof(reply_login) - 1, NULL);
		b->state = B_LOGGED_IN;
		return;
	}
	unexpected(g, "unexpected line at a backend", f, len);
	return;
}

static void
backend_input(struct gen *g, unsigned int bidx, const struct pm_tcp_hdr *th, const uint8_t *f,
	      size_t len)
{
	uint32_t key = (uint32_t)bidx << 16 | th->sport, bi = g->bmap[key];
	const uint8_t *p = f + th->payload_off;
	size_t n = th->payload_len, i;
	struct bconn *b;
	bool replied = false;

	if ((th->flags & (PM_TCP_SYN | PM_TCP_ACK)) == PM_TCP_SYN) {
		if (bi != 0) {
			b = &g->bconns[bi - 1];
			if (b->state == B_SYN_RCVD && b->irs == th->seq) {
				/* postmux retransmitted its SYN: our SYN-ACK again. */
				g->c.dups++;
				b->snd_nxt--;
				backend_send(g, b, PM_TCP_SYN | PM_TCP_ACK, NULL, 0, th);
				return;
			}
			unexpected(g, "SYN on a backend connection in use", f, len);
			bconn_free(g, bi - 1);
		}
		if (g->bfree == NONE) {
			unexpected(g, "no backend connection left", f, len);
			return;
		}
		bi = g->bfree;
		b = &g->bconns[bi];
		g->bfree = b->next_free;
		b->state = B_SYN_RCVD;
		b->bidx = (uint8_t)bidx;
		b->lport = th->sport;
		b->irs = th->seq;
		b->rcv_nxt = th->seq + 1;
		b->snd_nxt = (uint32_t)rnd(g);
		b->slot = NONE;
		b->llen = 0;
		b->had_id = false;
		g->bmap[key] = bi + 1;
		backend_send(g, b, PM_TCP_SYN | PM_TCP_ACK, NULL, 0, th);
		return;
	}
	if (bi == 0) {
		if (!(th->flags & PM_TCP_RST))
			unexpected(g, "segment for no backend connection", f, len);
		return;
	}
	b = &g->bconns[bi - 1];
	if (th->flags & PM_TCP_RST) {
		struct slot *s = b->slot != NONE ? &g->slots[b->slot] : NULL;

		if (s != NULL && s->state == C_CLOSED && s->bconn == bi - 1 &&
		    th->flags == PM_TCP_RST && th->seq == b->rcv_nxt) {
			/* Our client's RST, through the splice: a login done. */
			if (g->counting) {
				g->c.logins++;
				g->c.latency_tsc += rte_rdtsc() - s->started;
				g->c.per_backend[b->bidx]++;
			}
			slot_end(g, s, false);
			return;
		}
		if (s != NULL && s->state == C_CLOSED && s->bconn == bi - 1) {
			/* postmux reset the backend itself: the session was
			 * aborted, not spliced. */
			g->c.aborted++;
			unexpected(g, "RST at a backend not from the client", f, len);
			slot_end(g, s, false);
			return;
		}
		g->c.rst_unexpected++;
		unexpected(g, "RST at a backend", f, len);
		if (s != NULL && s->bconn == bi - 1)
			slot_end(g, s, true);
		else
			bconn_free(g, bi - 1);
		return;
	}
	if (th->flags & (PM_TCP_SYN | PM_TCP_FIN) || !(th->flags & PM_TCP_ACK)) {
		unexpected(g, "segment at a backend outside the script", f, len);
		return;
	}
	if (b->state == B_SYN_RCVD) {
		if (th->ack != b->snd_nxt || n != 0 || th->seq != b->rcv_nxt) {
			unexpected(g, "not the ACK of our SYN-ACK", f, len);
			return;
		}
		backend_send(g, b, PM_TCP_ACK | PM_TCP_PSH, banner, sizeof(banner) - 1, NULL);
		b->state = B_LOGIN;
		return;
	}
	if (n == 0)
		return;		/* postmux's ACK */
	if (b->state != B_LOGIN && old_data(th->seq, n, b->rcv_nxt)) {
		/* A retransmission of the login after our reply left. */
		g->c.dups++;
		backend_send(g, b, PM_TCP_ACK, NULL, 0, NULL);
		return;
	}
	if (b->state != B_LOGIN) {
		unexpected(g, "data at a logged-in backend outside the script", f, len);
		return;
	}
	if (th->seq != b->rcv_nxt) {
		uint32_t skip = b->rcv_nxt - th->seq;

		if (skip >= n && skip < 1u << 31) {
			g->c.dups++;
			backend_send(g, b, PM_TCP_ACK, NULL, 0, NULL);
			return;
		}
		if (skip >= 1u << 31) {
			unexpected(g, "backend data beyond RCV.NXT", f, len);
			return;
		}
		g->c.dups++;
		p += skip;
		n -= skip;
	}
	b->rcv_nxt += (uint32_t)n;
	for (i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch == '\n') {
			if (b->llen > 0 && b->line[b->llen - 1] == '\r')
				b->llen--;
			b->line[b->llen] = '\0';
			b->llen = 0;
			if (b->state == B_LOGIN) {
				backend_line(g, b, f, len);
				replied |= b->state == B_LOGGED_IN;
			} else {
				unexpected(g, "a line after the login", f, len);
			}
			continue;
		}
		if (b->llen < LINE_MAX_ - 1)
			b->line[b->llen++] = (char)ch;
	}
	if (!replied)
		backend_send(g, b, PM_TCP_ACK, NULL, 0, NULL);
}

/* ---- receive ---------------------------------------------------------------- */

/* A TCP segment outside the data path: verify it whole, then the script. */
static void
control_segment(struct gen *g, const uint8_t *f, size_t len, uint32_t src, uint32_t dst,
		size_t tot)
{
	struct pm_tcp_hdr th;
	struct pm_addr a = addr4(src), b = addr4(dst);
	const uint8_t *ip = f + ETH_HLEN;

	g->c.rx_ctl++;
	g->c.verified++;
	if (memcmp(f, g->mac.addr_bytes, 6) != 0 ||
	    memcmp(f + 6, g->o.dut_mac.addr_bytes, 6) != 0) {
		invalid(g, "Ethernet addresses of a control segment", f, len);
		return;
	}
	if (pm_cksum(ip, IP_HLEN) != 0 || ip[8] != PM_L3_REPLY_TTL) {
		invalid(g, "IPv4 checksum or TTL of a control segment", f, len);
		return;
	}
	if (pm_tcpopt_parse(f, len, ETH_HLEN + IP_HLEN, tot - IP_HLEN, &th) != PM_TCPOPT_OK ||
	    !pm_tcpopt_csum_ok(f + ETH_HLEN + IP_HLEN, tot - IP_HLEN, &a, &b)) {
		invalid(g, "TCP header or checksum of a control segment", f, len);
		return;
	}
	if (th.has_ts) {
		invalid(g, "a timestamp option (postmux never negotiates one)", f, len);
		return;
	}
	if (is_backend(g, dst) && th.dport == g->o.backend_port && src == g->o.dut_ip) {
		backend_input(g, dst - g->o.backend0, &th, f, len);
		return;
	}
	if (is_client(g, dst) && src == g->o.vip && th.sport == g->o.port &&
	    g->cmap[th.dport] != 0) {
		struct slot *s = &g->slots[g->cmap[th.dport] - 1];

		if (s->caddr == dst) {
			client_input(g, s, &th, f, len);
			return;
		}
	}
	unexpected(g, "segment for nobody", f, len);
}

/* The flow whose data frame this is, as its receiver sees it, or NULL. */
static struct flow *
data_flow(struct gen *g, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	uint32_t v;

	if (g->o.expect == EXPECT_MIRROR) {
		/* Our own frames, back unchanged. */
		if (dst == g->o.vip && dport == g->o.port) {
			v = g->cmap[sport];
			return v != 0 ? &g->flows[(v - 1) * 2] : NULL;
		}
		if (dst == g->o.dut_ip && sport == g->o.backend_port && is_backend(g, src)) {
			v = g->bmap[(src - g->o.backend0) << 16 | dport];
			if (v == 0 || g->bconns[v - 1].slot == NONE)
				return NULL;
			return &g->flows[g->bconns[v - 1].slot * 2 + 1];
		}
		return NULL;
	}
	if (src == g->o.dut_ip && dport == g->o.backend_port && is_backend(g, dst)) {
		v = g->bmap[(dst - g->o.backend0) << 16 | sport];
		if (v == 0 || g->bconns[v - 1].slot == NONE ||
		    g->slots[g->bconns[v - 1].slot].state != C_SPLICED)
			return NULL;
		return &g->flows[g->bconns[v - 1].slot * 2];	/* c2b */
	}
	if (src == g->o.vip && sport == g->o.port && is_client(g, dst)) {
		v = g->cmap[dport];
		if (v == 0 || g->slots[v - 1].state != C_SPLICED)
			return NULL;
		return &g->flows[(v - 1) * 2 + 1];		/* b2c */
	}
	return NULL;
}

static void
handle_frame(struct gen *g, struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip, *th;
	size_t len = rte_pktmbuf_data_len(m), tot, doff;
	uint32_t src, dst;
	uint16_t type;

	if (len < ETH_HLEN || m->nb_segs != 1) {
		unexpected(g, "short or chained frame", f, len);
		return;
	}
	type = pm_get16(f + 12);
	if (type == PM_ETHERTYPE_ARP) {
		handle_arp(g, f, len);
		return;
	}
	ip = f + ETH_HLEN;
	if (type != PM_ETHERTYPE_IPV4 || len < HDRS_LEN || ip[0] != 0x45 ||
	    ip[9] != PM_IPPROTO_TCP) {
		unexpected(g, "not IPv4/TCP", f, len);
		return;
	}
	tot = pm_get16(ip + 2);
	th = ip + IP_HLEN;
	doff = (size_t)(th[12] >> 4) * 4;
	if (tot > len - ETH_HLEN || tot < IP_HLEN + TCP_HLEN || doff < TCP_HLEN ||
	    doff > tot - IP_HLEN) {
		unexpected(g, "malformed IPv4/TCP", f, len);
		return;
	}
	src = pm_get32(ip + 12);
	dst = pm_get32(ip + 16);
	if (g->blasting && tot - IP_HLEN - doff > 0 &&
	    !(th[13] & (PM_TCP_SYN | PM_TCP_RST | PM_TCP_FIN))) {
		struct flow *fl = data_flow(g, src, dst, pm_get16(th), pm_get16(th + 2));

		if (fl != NULL) {
			g->c.rx_data++;
			if (((fl - g->flows) & 1) == 0)
				g->c.rx_c2b++;
			else
				g->c.rx_b2c++;
			g->c.rx_payload += tot - IP_HLEN - doff;
			if (--g->verify_in == 0) {
				g->verify_in = g->o.verify_every;
				verify_data(g, fl, f, len);
			}
			return;
		}
	}
	if (g->o.expect == EXPECT_MIRROR) {
		unexpected(g, "not a frame of ours (mirror)", f, len);
		return;
	}
	control_segment(g, f, len, src, dst, tot);
}

static void
receive(struct gen *g)
{
	struct rte_mbuf *rx[GEN_BURST_MAX];
	uint16_t n, i;

	n = rte_eth_rx_burst(g->port, 0, rx, (uint16_t)g->o.burst);
	g->c.rx_calls++;
	if (n == 0) {
		g->c.rx_empty++;
		return;
	}
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void *));
		handle_frame(g, rx[i]);
	}
	rte_pktmbuf_free_bulk(rx, n);
}

/* Reset the connections that ran out of time. */
static void
check_timeouts(struct gen *g, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < g->nslots; i++) {
		struct slot *s = &g->slots[i];

		if (s->state == C_IDLE || s->state == C_SPLICED || now < s->deadline)
			continue;
		g->c.timeouts++;
		if (g->c.timeouts == 1 && g->first_unexpected[0] == '\0')
			snprintf(g->first_unexpected, sizeof(g->first_unexpected),
				 "a connection timed out in state %u", s->state);
		slot_end(g, s, s->state != C_CLOSED);
	}
}

/*
 * The loop until @until (TSC) or, with @stop_when_spliced, until every
 * session is spliced: receive, send the control frames, check the timers
 * every millisecond, and with @send (forward, blasting) offer data.
 */
static void
run(struct gen *g, uint64_t until, bool send, bool stop_when_spliced, struct rte_mbuf **txb,
    unsigned int *held, unsigned int *off)
{
	uint64_t next_check = 0, ms = g->hz / 1000;

	while (!quit) {
		uint64_t now = rte_rdtsc();

		if (now >= until)
			break;
		receive(g);
		ctl_flush(g);
		if (send && g->ctl_len == 0)
			blast(g, txb, held, off);
		if (now >= next_check) {
			next_check = now + ms;
			check_timeouts(g, now);
			if (stop_when_spliced) {
				unsigned int i, n = 0;

				for (i = 0; i < g->nslots; i++)
					n += g->slots[i].state == C_SPLICED &&
					     g->slots[i].bconn != NONE &&
					     g->bconns[g->slots[i].bconn].state == B_LOGGED_IN;
				if (n == g->nslots && g->ctl_len == 0)
					return;
			}
		}
	}
}

/* Tell the DUT where the gateway and the clients are (ARP requests to it,
 * which it learns from and answers); wait up to 5 s for the answers. */
static bool
announce(struct gen *g)
{
	uint64_t end = rte_rdtsc() + 5 * g->hz, again = 0;
	unsigned int want = 1 + g->o.nclients, i;

	while (!quit && rte_rdtsc() < end) {
		if (rte_rdtsc() >= again) {
			g->arp_acks = 0;
			send_arp_request(g, g->o.gw);
			for (i = 0; i < g->o.nclients; i++)
				send_arp_request(g, g->o.client0 + i);
			again = rte_rdtsc() + g->hz / 5;
		}
		receive(g);
		ctl_flush(g);
		if (g->arp_acks >= want)
			return true;
	}
	return false;
}

/* Forward mode against a mirror: made-up sessions, as if spliced. */
static void
fake_sessions(struct gen *g)
{
	unsigned int i;

	for (i = 0; i < g->nslots; i++) {
		struct slot *s = &g->slots[i];
		struct bconn *b = &g->bconns[i];

		s->cport = (uint16_t)(20000 + i);
		s->caddr = g->o.client0 + i % g->o.nclients;
		s->snd_nxt = (uint32_t)rnd(g);
		s->rcv_nxt = (uint32_t)rnd(g);
		s->state = C_SPLICED;
		s->bconn = i;
		g->cmap[s->cport] = i + 1;
		b->state = B_LOGGED_IN;
		b->bidx = (uint8_t)(i % g->o.nbackends);
		b->lport = (uint16_t)(40000 + i);
		b->snd_nxt = (uint32_t)rnd(g);
		b->rcv_nxt = (uint32_t)rnd(g);
		b->slot = i;
		g->bmap[(uint32_t)b->bidx << 16 | b->lport] = i + 1;
	}
	g->bfree = NONE;
}

/* Every session's two flows, from the numbers at its splice point. */
static void
make_flows(struct gen *g)
{
	bool mirror = g->o.expect == EXPECT_MIRROR;
	unsigned int i;

	for (i = 0; i < g->nslots; i++) {
		const struct slot *s = &g->slots[i];
		const struct bconn *b = &g->bconns[s->bconn];
		uint32_t baddr = g->o.backend0 + b->bidx;

		/* Client to backend: postmux moves the client's stream to its
		 * own on the backend connection, and the client's ack to the
		 * backend's stream. */
		if (mirror)
			flow_init(g, i, DIR_C2B, s->caddr, g->o.vip, s->cport, g->o.port,
				  s->snd_nxt, s->rcv_nxt, s->caddr, g->o.vip, s->cport,
				  g->o.port, s->snd_nxt, s->rcv_nxt);
		else
			flow_init(g, i, DIR_C2B, s->caddr, g->o.vip, s->cport, g->o.port,
				  s->snd_nxt, s->rcv_nxt, g->o.dut_ip, baddr, b->lport,
				  g->o.backend_port, b->rcv_nxt, b->snd_nxt);
		if (mirror)
			flow_init(g, i, DIR_B2C, baddr, g->o.dut_ip, g->o.backend_port, b->lport,
				  b->snd_nxt, b->rcv_nxt, baddr, g->o.dut_ip,
				  g->o.backend_port, b->lport, b->snd_nxt, b->rcv_nxt);
		else
			flow_init(g, i, DIR_B2C, baddr, g->o.dut_ip, g->o.backend_port, b->lport,
				  b->snd_nxt, b->rcv_nxt, g->o.vip, s->caddr, g->o.port,
				  s->cport, s->rcv_nxt, s->snd_nxt);
	}
}

/* ---- port ----------------------------------------------------------------- */

static int
port_init(struct gen *g, char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	uint16_t nb_rxd = GEN_NB_DESC, nb_txd = GEN_NB_DESC;
	int ret;

	if (rte_eth_dev_count_avail() != 1) {
		snprintf(err, errlen, "want exactly one port (a --vdev), have %u",
			 rte_eth_dev_count_avail());
		return -1;
	}
	g->port = 0;
	RTE_ETH_FOREACH_DEV(g->port)
		break;
	g->rx_pool = rte_pktmbuf_pool_create("gen_rx", GEN_RX_MBUFS, GEN_POOL_CACHE, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	g->ctl_pool = rte_pktmbuf_pool_create("gen_ctl", GEN_CTL_MBUFS, GEN_POOL_CACHE, 0,
					      RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (g->rx_pool == NULL || g->ctl_pool == NULL) {
		snprintf(err, errlen, "mbuf pool: %s", rte_strerror(rte_errno));
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(g->port, 1, 1, &conf);
	if (ret == 0)
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(g->port, &nb_rxd, &nb_txd);
	if (ret == 0)
		ret = rte_eth_rx_queue_setup(g->port, 0, nb_rxd,
					     (unsigned int)rte_eth_dev_socket_id(g->port), NULL,
					     g->rx_pool);
	if (ret == 0)
		ret = rte_eth_tx_queue_setup(g->port, 0, nb_txd,
					     (unsigned int)rte_eth_dev_socket_id(g->port), NULL);
	if (ret == 0)
		ret = rte_eth_dev_start(g->port);
	if (ret != 0) {
		snprintf(err, errlen, "port setup: %s", rte_strerror(-ret));
		return -1;
	}
	return rte_eth_macaddr_get(g->port, &g->mac);
}

static double
wait_link(struct gen *g)
{
	double t0 = now_s();
	struct rte_eth_link link;

	while (!quit && now_s() - t0 < g->o.link_timeout) {
		if (rte_eth_link_get_nowait(g->port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return now_s() - t0;
		rte_delay_us_sleep(10 * 1000);
	}
	return -1;
}

/* Wait up to --linger seconds for the peer to disconnect, without polling
 * the queues (see wait_peer_gone() in bench_forward_gen.c: in DPDK 22.11's
 * memif the side that stays may crash if it polls while the other leaves). */
static void
wait_peer_gone(struct gen *g)
{
	double t0 = now_s();
	struct rte_eth_link link;

	while (!quit && now_s() - t0 < g->o.linger) {
		if (rte_eth_link_get_nowait(g->port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_DOWN)
			return;
		rte_delay_us_sleep(10 * 1000);
	}
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static int
alloc_tables(struct gen *g)
{
	unsigned int i;

	g->nslots = g->o.mode == MODE_FORWARD ? g->o.sessions : g->o.inflight;
	g->nbconns = 2 * g->nslots + 64;
	g->slots = calloc(g->nslots, sizeof(*g->slots));
	g->bconns = calloc(g->nbconns, sizeof(*g->bconns));
	g->cmap = calloc(65536, sizeof(*g->cmap));
	g->bmap = calloc((size_t)g->o.nbackends << 16, sizeof(*g->bmap));
	g->flows = calloc((size_t)g->nslots * 2, sizeof(*g->flows));
	if (!g->slots || !g->bconns || !g->cmap || !g->bmap || !g->flows)
		return -ENOMEM;
	for (i = 0; i < g->nbconns; i++)
		g->bconns[i].next_free = i + 1 < g->nbconns ? i + 1 : NONE;
	for (i = 0; i < g->nslots; i++)
		g->slots[i].bconn = NONE;
	g->bfree = 0;
	g->next_port = PORT_FIRST;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct gen g;
	struct rte_mbuf *txb[GEN_BURST_MAX];
	struct gen_counts c0, w;
	unsigned int held = 0, off = 0, i, spliced = 0;
	double link_s, setup_s = 0, t0, t1, secs, cpu0, cpu1, frame_bits;
	char err[256], mac[RTE_ETHER_ADDR_FMT_SIZE];
	bool forward, ok_setup = true;
	int ret, status = 0;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bench-splice-gen: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	if (parse_args(argc, argv, &g.o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	forward = g.o.mode == MODE_FORWARD;
	if (!forward && g.o.expect == EXPECT_MIRROR) {
		fprintf(stderr, "bench-splice-gen: --expect mirror needs --mode forward\n");
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	g.hz = rte_get_tsc_hz();
	g.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ rte_rdtsc();
	g.span = OFF_SPAN / g.o.payload * g.o.payload;
	g.verify_in = 1;	/* the first data frame is checked */
	if (alloc_tables(&g) != 0 || port_init(&g, err, sizeof(err)) < 0 ||
	    (forward && build_data_pool(&g) != 0)) {
		fprintf(stderr, "bench-splice-gen: %s\n", g.slots ? err : "out of memory");
		rte_eal_cleanup();
		return 1;
	}
	rte_ether_format_addr(mac, sizeof(mac), &g.mac);
	if (forward)
		printf("gen %s: %s, port %u MAC %s, lcore %u; forward: %u sessions, %u-byte "
		       "payloads (%u-byte frames with FCS), %s, expect %s, burst %u\n", g.o.label,
		       rte_version(), g.port, mac, rte_lcore_id(), g.nslots, g.o.payload,
		       HDRS_LEN + g.o.payload + FCS_LEN,
		       g.o.dirs == (DIR_C2B | DIR_B2C) ? "both directions" :
		       g.o.dirs == DIR_C2B ? "client to backend" : "backend to client",
		       g.o.expect == EXPECT_MIRROR ? "the frames mirrored" : "the splice",
		       g.o.burst);
	else
		printf("gen %s: %s, port %u MAC %s, lcore %u; logins: %u at once, %u users, "
		       "%u backends\n", g.o.label, rte_version(), g.port, mac, rte_lcore_id(),
		       g.nslots, g.o.users, g.o.nbackends);
	fflush(stdout);

	link_s = wait_link(&g);
	if (link_s < 0) {
		fprintf(stderr, "bench-splice-gen: %s: no peer within %.1f s\n", g.o.label,
			g.o.link_timeout);
		rte_eth_dev_stop(g.port);
		rte_eth_dev_close(g.port);
		rte_eal_cleanup();
		return 1;
	}
	printf("gen %s: link up after %.3f s\n", g.o.label, link_s);
	fflush(stdout);

	if (g.o.expect == EXPECT_SPLICE && !announce(&g)) {
		fprintf(stderr, "bench-splice-gen: %s: the DUT did not answer our ARP requests "
			"(%u of %u)\n", g.o.label, g.arp_acks, 1 + g.o.nclients);
		ok_setup = false;
	}
	if (forward && ok_setup) {
		double ts = now_s();

		if (g.o.expect == EXPECT_MIRROR) {
			fake_sessions(&g);
		} else {
			/* A session that fails is reset and begun again. */
			g.starting = true;
			for (i = 0; i < g.nslots; i++)
				slot_start(&g, &g.slots[i]);
			run(&g, rte_rdtsc() + (uint64_t)(g.o.setup_timeout * (double)g.hz), false,
			    true, txb, &held, &off);
			g.starting = false;
		}
		setup_s = now_s() - ts;
		for (i = 0; i < g.nslots; i++)
			spliced += g.slots[i].state == C_SPLICED && g.slots[i].bconn != NONE &&
				   g.bconns[g.slots[i].bconn].state == B_LOGGED_IN;
		g.c.spliced = spliced;
		printf("gen %s: %u of %u sessions %s in %.3f s (%" PRIu64 " connections, "
		       "%" PRIu64 " timeouts, %" PRIu64 " unexpected segments)\n", g.o.label,
		       spliced, g.nslots, g.o.expect == EXPECT_MIRROR ? "made up" : "spliced",
		       setup_s, g.c.started, g.c.timeouts, g.c.unexpected);
		fflush(stdout);
		if (spliced != g.nslots)
			ok_setup = false;
		else
			make_flows(&g);
	} else if (ok_setup) {
		g.starting = true;
		for (i = 0; i < g.nslots; i++)
			slot_start(&g, &g.slots[i]);
	}

	if (ok_setup) {
		g.blasting = forward;
		run(&g, rte_rdtsc() + (uint64_t)(g.o.warmup * (double)g.hz), forward, false, txb,
		    &held, &off);
	}
	/* perf/bench-splice samples the DUT's CPU time at these two lines. */
	printf("gen %s: measuring\n", g.o.label);
	fflush(stdout);
	c0 = g.c;
	cpu0 = cpu_s();
	t0 = now_s();
	g.counting = true;
	if (ok_setup)
		run(&g, rte_rdtsc() + (uint64_t)(g.o.seconds * (double)g.hz), forward, false, txb,
		    &held, &off);
	g.counting = false;
	t1 = now_s();
	cpu1 = cpu_s();
	w = g.c;
	printf("gen %s: window closed\n", g.o.label);
	fflush(stdout);
	secs = t1 - t0;
	/* Late frames count for the totals, not for the rate; no new
	 * connections and no new data. */
	g.starting = false;
	if (ok_setup)
		run(&g, rte_rdtsc() + (uint64_t)(g.o.drain * (double)g.hz), false, false, txb,
		    &held, &off);
	for (i = 0; i < held; i++)
		rte_pktmbuf_free(txb[off + i]);

#define DIFF(f) w.f -= c0.f
	DIFF(tx_data); DIFF(rx_data); DIFF(rx_c2b); DIFF(rx_b2c); DIFF(rx_payload);
	DIFF(tx_calls); DIFF(tx_short); DIFF(rx_calls); DIFF(rx_empty); DIFF(tx_ctl);
	DIFF(rx_ctl); DIFF(started); DIFF(timeouts);
#undef DIFF
	for (i = 0; i < BACKENDS_MAX; i++)
		w.per_backend[i] -= c0.per_backend[i];
	/* Ethernet frames with the FCS, without preamble and gap. */
	frame_bits = 8.0 * (HDRS_LEN + g.o.payload + FCS_LEN);
	printf("gen %s: measured %.3f s after %.1f s warm-up\n", g.o.label, secs, g.o.warmup);
	if (forward) {
		printf("gen %s: data sent     %12" PRIu64 "  %8.3f Mpps\n", g.o.label, w.tx_data,
		       (double)w.tx_data / secs / 1e6);
		printf("gen %s: data received %12" PRIu64 "  %8.3f Mpps  %7.3f Gbit/s of frames, "
		       "%7.3f Gbit/s of payload (c2b %" PRIu64 ", b2c %" PRIu64 ")\n", g.o.label,
		       w.rx_data, (double)w.rx_data / secs / 1e6,
		       (double)w.rx_data * frame_bits / secs / 1e9,
		       (double)w.rx_payload * 8 / secs / 1e9, w.rx_c2b, w.rx_b2c);
		printf("gen %s: data TX bursts not taken whole %.1f%%, empty RX polls %.1f%%\n",
		       g.o.label, pct(w.tx_short, w.tx_calls), pct(w.rx_empty, w.rx_calls));
	} else {
		printf("gen %s: logins %" PRIu64 "  %.0f per second, mean %.0f us from SYN to "
		       "the RST at the backend; %" PRIu64 " connections started\n", g.o.label,
		       w.logins, (double)w.logins / secs,
		       w.logins ? (double)w.latency_tsc / (double)w.logins * 1e6 / (double)g.hz : 0,
		       w.started);
		printf("gen %s: per backend:", g.o.label);
		for (i = 0; i < g.o.nbackends; i++)
			printf(" %" PRIu64, w.per_backend[i]);
		printf("; control frames sent %" PRIu64 ", received %" PRIu64 ", empty RX polls "
		       "%.1f%%\n", w.tx_ctl, w.rx_ctl, pct(w.rx_empty, w.rx_calls));
	}
	printf("gen %s: on CPU %.1f%% of the window\n", g.o.label, 100 * (cpu1 - cpu0) / secs);
	printf("gen %s: whole run: data sent %" PRIu64 ", received %" PRIu64 "; checked %" PRIu64
	       ", invalid %" PRIu64 "; unexpected %" PRIu64 " (RSTs %" PRIu64 ", aborted %" PRIu64
	       "), timeouts %" PRIu64 ", login failures %" PRIu64 ", retransmissions seen %" PRIu64
	       ", ARP answered %" PRIu64 ", no mbuf %" PRIu64 ", control queue overflow %" PRIu64
	       "\n", g.o.label, g.c.tx_data, g.c.rx_data, g.c.verified, g.c.invalid,
	       g.c.unexpected, g.c.rst_unexpected, g.c.aborted, g.c.timeouts, g.c.login_failed,
	       g.c.dups, g.c.arp_replies, g.c.nobuf, g.c.ctl_overflow);
	if (g.c.invalid != 0)
		printf("gen %s: first invalid frame: %s\n", g.o.label, g.first_invalid);
	if (g.c.unexpected != 0 || g.c.timeouts != 0)
		printf("gen %s: first unexpected: %s\n", g.o.label, g.first_unexpected);
	if (quit) {
		fprintf(stderr, "bench-splice-gen: %s: interrupted\n", g.o.label);
		status = 1;
	}
	if (!ok_setup || g.c.invalid != 0 || (forward ? w.rx_data == 0 : w.logins == 0))
		status = 1;
	printf("{\"bench\":\"splice-gen\",\"label\":\"%s\",\"mode\":\"%s\",\"expect\":\"%s\","
	       "\"seconds\":%.3f,\"cpu_pct\":%.1f,\"link_s\":%.3f,\"setup_s\":%.3f,"
	       "\"sessions\":%u,\"spliced\":%u,\"payload\":%u,\"frame_bytes\":%u,\"dirs\":\"%s\","
	       "\"tx_mpps\":%.4f,\"rx_mpps\":%.4f,\"rx_gbps\":%.4f,\"payload_gbps\":%.4f,"
	       "\"tx_short_pct\":%.2f,\"rx_empty_pct\":%.2f,\"sent\":%" PRIu64 ","
	       "\"received\":%" PRIu64 ",\"logins\":%" PRIu64 ",\"logins_per_s\":%.1f,"
	       "\"latency_us\":%.1f,\"started\":%" PRIu64 ",\"verified\":%" PRIu64 ","
	       "\"invalid\":%" PRIu64 ",\"unexpected\":%" PRIu64 ",\"rst_unexpected\":%" PRIu64 ","
	       "\"aborted\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"login_failed\":%" PRIu64 ","
	       "\"dups\":%" PRIu64 ",\"per_backend\":[",
	       g.o.label, forward ? "forward" : "logins",
	       g.o.expect == EXPECT_MIRROR ? "mirror" : "splice", secs,
	       100 * (cpu1 - cpu0) / secs, link_s, setup_s, g.nslots, spliced, g.o.payload,
	       HDRS_LEN + g.o.payload + FCS_LEN,
	       g.o.dirs == (DIR_C2B | DIR_B2C) ? "both" : g.o.dirs == DIR_C2B ? "c2b" : "b2c",
	       (double)w.tx_data / secs / 1e6, (double)w.rx_data / secs / 1e6,
	       (double)w.rx_data * frame_bits / secs / 1e9, (double)w.rx_payload * 8 / secs / 1e9,
	       pct(w.tx_short, w.tx_calls), pct(w.rx_empty, w.rx_calls), g.c.tx_data, g.c.rx_data,
	       w.logins, (double)w.logins / secs,
	       w.logins ? (double)w.latency_tsc / (double)w.logins * 1e6 / (double)g.hz : 0,
	       w.started, g.c.verified, g.c.invalid, g.c.unexpected, g.c.rst_unexpected,
	       g.c.aborted, g.c.timeouts, g.c.login_failed, g.c.dups);
	for (i = 0; i < g.o.nbackends; i++)
		printf("%s%" PRIu64, i ? "," : "", w.per_backend[i]);
	printf("],\"ok\":%s}\n", status == 0 ? "true" : "false");
	fflush(stdout);
	wait_peer_gone(&g);
	rte_eth_dev_stop(g.port);
	rte_eth_dev_close(g.port);
	rte_eal_cleanup();
	return status;
}
