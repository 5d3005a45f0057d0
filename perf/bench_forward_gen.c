/*
 * bench_forward_gen.c -- the load generator of perf/bench-forward
 * (docs/PERFORMANCE.md, "Packet path over memif").
 *
 *   bench-forward-gen <EAL arguments, one --vdev port> -- [options]
 *
 * One DPDK port (in the benchmark a net_memif client, zero-copy when the
 * EAL memory allows it) and one lcore, the main one. The generator sends
 * ICMP echo requests from --src-ip to --dst-ip and --dst-mac as fast as the
 * port takes them, and receives what comes back on the same port. Nothing
 * paces it: a TX burst the port does not take whole is kept and offered
 * again on the next loop, so the device under test (DUT) sets the rate.
 * After --link-timeout for the peer to connect and --warmup seconds, it
 * counts for --seconds, then stops sending and drains the replies still on
 * their way for --drain seconds. It then prints its figures and, before it
 * closes the port, waits up to --linger seconds for the peer to disconnect
 * first (see wait_peer_gone()).
 *
 * The generator must be cheaper per frame than any DUT, or it measures
 * itself. It therefore writes no packet data in its loop: the requests
 * live in a pool of their own, GEN_REQUESTS mbufs each built once with its
 * own sequence number. Sending one is taking it from that pool (an
 * allocation resets the mbuf header, never the data) and setting its
 * length; the PMD frees it back once it is copied (memif copy mode) or the
 * peer has consumed it (zero-copy). The DUT thus reads the same few
 * thousand frames again and again, which mostly stay in its cache: the
 * figures are for cache-warm frames (docs/PERFORMANCE.md). With --fresh
 * the generator writes every request again just before it sends it, as a
 * sender filling new buffers would; the DUT then reads lines this CPU has
 * just written, at the price of a slower generator.
 *
 * Every --verify-every'th received frame (1 = all) is checked against what
 * the DUT must have sent back: with --expect reply, an ICMP echo reply with
 * the MAC and IPv4 addresses swapped (postmux, testpmd icmpecho); with
 * --expect mirror, the request itself (testpmd io forwarding). Both modes
 * check the length, the IPv4 header checksum, the ICMP checksum, the
 * identifier and the echo data. A frame that fails is counted as invalid.
 *
 * Frame sizes count the 4-byte FCS, as RFC 2544 does: a 64-byte frame is
 * 60 bytes in the mbuf (memif carries no FCS).
 *
 * Output: human-readable lines, then exactly one JSON line
 * ({"bench":"forward-gen",...}). Exit status 0 when replies arrived in the
 * measured window and none was invalid, 1 otherwise (the JSON line is still
 * printed once the port is up), 2 for bad usage.
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
#include <rte_version.h>

#define GEN_BURST_MAX	64
#define GEN_REQUESTS	4095	/* prebuilt requests: more than the memif ring, a
				 * burst and the pool's per-lcore cache hold */
#define GEN_POOL_MBUFS	8191	/* RX: the ring (zero-copy), bursts, cache */
#define GEN_POOL_CACHE	256
#define GEN_NB_DESC	1024	/* memif sizes its rings from rsize= instead */
#define GEN_ICMP_ID	0x5043	/* "PC" */
#define FCS_LEN		4
#define ETH_HLEN	14
#define IP_HLEN		20
#define ICMP_HLEN	8
#define FRAME_MIN	64	/* with FCS */
#define FRAME_MAX	1518	/* with FCS; one memif buffer (bsize 2048) */

enum gen_expect {
	GEN_EXPECT_REPLY,	/* echo reply, addresses swapped */
	GEN_EXPECT_MIRROR,	/* the request, unchanged */
};

struct gen_opts {
	unsigned int frame_bytes;	/* with FCS */
	double seconds;
	double warmup;
	double drain;
	double link_timeout;
	double linger;
	unsigned int burst;
	unsigned int verify_every;
	enum gen_expect expect;
	bool fresh;			/* write every request before sending it */
	struct rte_ether_addr dst_mac;
	uint32_t src_ip;		/* network order */
	uint32_t dst_ip;		/* network order */
	const char *label;
};

/* Everything counted by the loop; the measured window is a difference of
 * two snapshots. */
struct gen_counts {
	uint64_t tx;		/* frames the port took */
	uint64_t rx;		/* frames received */
	uint64_t tx_calls;	/* rte_eth_tx_burst calls */
	uint64_t tx_short;	/* ... that took less than offered */
	uint64_t rx_calls;	/* rte_eth_rx_burst calls */
	uint64_t rx_empty;	/* ... that returned nothing */
	uint64_t verified;	/* received frames checked */
	uint64_t invalid;	/* ... that failed a check */
};

struct gen {
	struct gen_opts o;
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;	/* ours */
	uint8_t tmpl[FRAME_MAX];	/* the request with sequence number 0 */
	unsigned int len;		/* bytes in the mbuf: frame_bytes - FCS */
	uint16_t icmp_sum0;		/* ones' complement sum of tmpl's ICMP
					 * message, host order, checksum field 0 */
	struct rte_mempool *req_pool;	/* the requests, built once */
	uint16_t seq;			/* --fresh: the next sequence number */
	unsigned int verify_in;		/* frames until the next check */
	struct gen_counts c;
	char first_invalid[160];	/* why the first invalid frame failed */
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

/* CPU time of this thread: what share of the window the scheduler gave us. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char usage_text[] =
	"usage: bench-forward-gen <EAL arguments> -- [options]\n"
	"  --frame-size N     Ethernet frame size with FCS, %u..%u (default 64)\n"
	"  --seconds S        measured time (default 5)\n"
	"  --warmup S         time before measuring (default 1)\n"
	"  --drain S          time to collect late replies after sending stops (default 0.2)\n"
	"  --link-timeout S   time to wait for the peer to connect (default 30)\n"
	"  --linger S         time to wait for the peer to leave at the end (default 15)\n"
	"  --burst N          frames per TX and RX burst, 1..%u (default 32)\n"
	"  --verify-every N   check every N-th received frame (default 16; 1 = all)\n"
	"  --expect reply|mirror  echo replies (postmux) or the requests unchanged (io fwd)\n"
	"  --fresh            write every request just before sending it (default: reuse)\n"
	"  --src-ip A         our IPv4 address (default 192.0.2.2)\n"
	"  --dst-ip A         the DUT's IPv4 address (default 192.0.2.1)\n"
	"  --dst-mac M        the DUT's MAC (default 02:00:00:00:00:02)\n"
	"  --label L          a name for the output (default dut)\n";

static void
usage(FILE *fp)
{
	fprintf(fp, usage_text, FRAME_MIN, FRAME_MAX, GEN_BURST_MAX);
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

static int
parse_args(int argc, char **argv, struct gen_opts *o)
{
	int i;

	*o = (struct gen_opts){
		.frame_bytes = 64, .seconds = 5, .warmup = 1, .drain = 0.2,
		.link_timeout = 30, .linger = 15, .burst = 32, .verify_every = 16,
		.expect = GEN_EXPECT_REPLY, .label = "dut",
		.dst_mac = { .addr_bytes = { 0x02, 0, 0, 0, 0, 0x02 } },
	};
	inet_pton(AF_INET, "192.0.2.2", &o->src_ip);
	inet_pton(AF_INET, "192.0.2.1", &o->dst_ip);
	/* Options come in pairs: the loop steps over the value itself. */
	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--fresh") == 0) {
			o->fresh = true;
			continue;
		}
		if (v == NULL)
			goto bad;
		if (strcmp(a, "--frame-size") == 0)
			ok = parse_uint(v, FRAME_MIN, FRAME_MAX, &o->frame_bytes);
		else if (strcmp(a, "--seconds") == 0)
			ok = parse_double(v, 0.1, 3600, &o->seconds);
		else if (strcmp(a, "--warmup") == 0)
			ok = parse_double(v, 0, 3600, &o->warmup);
		else if (strcmp(a, "--drain") == 0)
			ok = parse_double(v, 0, 60, &o->drain);
		else if (strcmp(a, "--link-timeout") == 0)
			ok = parse_double(v, 0.1, 3600, &o->link_timeout);
		else if (strcmp(a, "--linger") == 0)
			ok = parse_double(v, 0, 3600, &o->linger);
		else if (strcmp(a, "--burst") == 0)
			ok = parse_uint(v, 1, GEN_BURST_MAX, &o->burst);
		else if (strcmp(a, "--verify-every") == 0)
			ok = parse_uint(v, 1, 1u << 30, &o->verify_every);
		else if (strcmp(a, "--expect") == 0) {
			ok = strcmp(v, "reply") == 0 || strcmp(v, "mirror") == 0;
			o->expect = strcmp(v, "mirror") == 0 ? GEN_EXPECT_MIRROR
							      : GEN_EXPECT_REPLY;
		} else if (strcmp(a, "--src-ip") == 0)
			ok = inet_pton(AF_INET, v, &o->src_ip) == 1;
		else if (strcmp(a, "--dst-ip") == 0)
			ok = inet_pton(AF_INET, v, &o->dst_ip) == 1;
		else if (strcmp(a, "--dst-mac") == 0)
			ok = rte_ether_unformat_addr(v, &o->dst_mac) == 0;
		else if (strcmp(a, "--label") == 0)
			ok = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(v);
		else
			goto bad;
		if (!ok)
			goto bad;
		if (strcmp(a, "--label") == 0)
			o->label = v;
	}
	return 0;
bad:
	fprintf(stderr, "bench-forward-gen: bad option '%s'\n", argv[i]);
	usage(stderr);
	return -1;
}

/* Ones' complement sum of @n bytes as big-endian 16-bit words, folded to
 * 16 bits, host order. */
static uint16_t
sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The echo data: a pattern the checks can recompute. */
static uint8_t
data_byte(size_t i)
{
	return (uint8_t)(i * 7 + 1);
}

/* Build the request template with sequence number 0. */
static void
build_template(struct gen *g)
{
	uint8_t *f = g->tmpl, *ip = f + ETH_HLEN, *icmp = ip + IP_HLEN;
	size_t ip_len = g->len - ETH_HLEN, icmp_len = ip_len - IP_HLEN, i;

	memset(f, 0, sizeof(g->tmpl));
	memcpy(f, g->o.dst_mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	memcpy(f + RTE_ETHER_ADDR_LEN, g->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	put16(f + 12, RTE_ETHER_TYPE_IPV4);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)ip_len);
	put16(ip + 4, 1);		/* identification */
	ip[8] = 64;			/* TTL */
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &g->o.src_ip, 4);
	memcpy(ip + 16, &g->o.dst_ip, 4);
	put16(ip + 10, (uint16_t)~sum16(ip, IP_HLEN));
	icmp[0] = 8;			/* echo request */
	put16(icmp + 4, GEN_ICMP_ID);
	for (i = ICMP_HLEN; i < icmp_len; i++)
		icmp[i] = data_byte(i - ICMP_HLEN);
	g->icmp_sum0 = sum16(icmp, icmp_len);
	put16(icmp + 2, (uint16_t)~g->icmp_sum0);
}

/* Write into @m the request numbered @seq: the template, the sequence
 * number, and the checksum updated for it (RFC 1624: the template's sum
 * plus the new word). */
static void
write_request(const struct gen *g, struct rte_mbuf *m, uint16_t seq)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *icmp = f + ETH_HLEN + IP_HLEN;
	uint32_t s = (uint32_t)g->icmp_sum0 + seq;

	rte_memcpy(f, g->tmpl, g->len);
	s = (s & 0xffff) + (s >> 16);
	put16(icmp + 6, seq);
	put16(icmp + 2, (uint16_t)~s);
}

/* Write a request into every mbuf of a new req_pool (sequence numbers
 * 0..GEN_REQUESTS-1), then put them back. Returns -ENOMEM if the pool
 * cannot be created or emptied. */
static int
build_requests(struct gen *g)
{
	static struct rte_mbuf *all[GEN_REQUESTS];
	unsigned int i;

	g->req_pool = rte_pktmbuf_pool_create("gen_req", GEN_REQUESTS, GEN_POOL_CACHE, 0,
					      RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (g->req_pool == NULL || rte_pktmbuf_alloc_bulk(g->req_pool, all, GEN_REQUESTS) != 0)
		return -ENOMEM;
	for (i = 0; i < GEN_REQUESTS; i++)
		write_request(g, all[i], (uint16_t)i);
	rte_pktmbuf_free_bulk(all, GEN_REQUESTS);
	return 0;
}

static bool
fail(struct gen *g, const char *why, const uint8_t *f, size_t len)
{
	if (g->c.invalid == 0) {
		size_t i, off;

		off = (size_t)snprintf(g->first_invalid, sizeof(g->first_invalid), "%s; bytes:",
				       why);
		for (i = 0; i < len && i < 42 && off + 3 < sizeof(g->first_invalid); i++)
			off += (size_t)snprintf(g->first_invalid + off,
						sizeof(g->first_invalid) - off, "%s%02x",
						i % 2 ? "" : " ", f[i]);
	}
	return false;
}

/* Is @m what the DUT must send back for one of our requests? */
static bool
check_frame(struct gen *g, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP_HLEN;
	size_t len = rte_pktmbuf_data_len(m), icmp_len = g->len - ETH_HLEN - IP_HLEN, i;
	bool reply = g->o.expect == GEN_EXPECT_REPLY;
	const uint8_t *eth_dst = reply ? g->mac.addr_bytes : g->o.dst_mac.addr_bytes;
	const uint8_t *eth_src = reply ? g->o.dst_mac.addr_bytes : g->mac.addr_bytes;
	const void *ip_src = reply ? &g->o.dst_ip : &g->o.src_ip;
	const void *ip_dst = reply ? &g->o.src_ip : &g->o.dst_ip;

	if (m->nb_segs != 1 || m->pkt_len != len || len != g->len)
		return fail(g, "length or segments", f, len);
	if (memcmp(f, eth_dst, RTE_ETHER_ADDR_LEN) != 0 ||
	    memcmp(f + RTE_ETHER_ADDR_LEN, eth_src, RTE_ETHER_ADDR_LEN) != 0 ||
	    get16(f + 12) != RTE_ETHER_TYPE_IPV4)
		return fail(g, "Ethernet header", f, len);
	if (ip[0] != 0x45 || get16(ip + 2) != g->len - ETH_HLEN || ip[9] != IPPROTO_ICMP ||
	    (get16(ip + 6) & 0x3fff) != 0)
		return fail(g, "IPv4 header fields", f, len);
	if (sum16(ip, IP_HLEN) != 0xffff)
		return fail(g, "IPv4 header checksum", f, len);
	if (memcmp(ip + 12, ip_src, 4) != 0 || memcmp(ip + 16, ip_dst, 4) != 0)
		return fail(g, "IPv4 addresses", f, len);
	if (icmp[0] != (reply ? 0 : 8) || icmp[1] != 0 || get16(icmp + 4) != GEN_ICMP_ID)
		return fail(g, "ICMP type, code or identifier", f, len);
	if (sum16(icmp, icmp_len) != 0xffff)
		return fail(g, "ICMP checksum", f, len);
	for (i = ICMP_HLEN; i < icmp_len; i++)
		if (icmp[i] != data_byte(i - ICMP_HLEN))
			return fail(g, "echo data", f, len);
	return true;
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
		if (--g->verify_in != 0)
			continue;
		g->verify_in = g->o.verify_every;
		g->c.verified++;
		if (!check_frame(g, rx[i]))
			g->c.invalid++;
	}
	g->c.rx += n;
	rte_pktmbuf_free_bulk(rx, n);
}

/*
 * The loop: receive, then offer the burst in hand (refilled from req_pool
 * when it is empty) until @until (TSC); with @send false only receive.
 * @txb, @held and @off carry the burst in hand, which is ours, from one
 * call to the next.
 */
static void
run(struct gen *g, uint64_t until, bool send, struct rte_mbuf **txb, unsigned int *held,
    unsigned int *off)
{
	while (!quit && rte_rdtsc() < until) {
		uint16_t sent;
		unsigned int i;

		receive(g);
		if (!send)
			continue;
		if (*held == 0) {
			/* Cannot fail while the DUT consumes: the pool holds more
			 * requests than can be in flight (GEN_REQUESTS). */
			if (rte_pktmbuf_alloc_bulk(g->req_pool, txb, g->o.burst) != 0)
				continue;
			for (i = 0; i < g->o.burst; i++) {
				if (g->o.fresh)
					write_request(g, txb[i], g->seq++);
				txb[i]->data_len = (uint16_t)g->len;
				txb[i]->pkt_len = g->len;
			}
			*held = g->o.burst;
			*off = 0;
		}
		sent = rte_eth_tx_burst(g->port, 0, txb + *off, (uint16_t)*held);
		g->c.tx_calls++;
		g->c.tx += sent;
		if (sent < *held)
			g->c.tx_short++;
		*off += sent;
		*held -= sent;
	}
}

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
	g->pool = rte_pktmbuf_pool_create("gen_mbuf", GEN_POOL_MBUFS, GEN_POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (g->pool == NULL) {
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
					     g->pool);
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

/* Wait for the peer to connect (memif: link up). Returns the seconds
 * waited, or a negative value on timeout or signal. */
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

/*
 * Wait up to --linger seconds for the peer to disconnect, without touching
 * the queues. In DPDK 22.11's memif, when one side leaves, the other side's
 * interrupt thread unmaps the shared regions while that side's lcore may
 * still be inside rx/tx_burst on them (seen as a SIGSEGV in a DUT's
 * eth_memif_rx when this generator left first). So the DUT leaves first:
 * perf/bench-forward stops it once the results are printed, and this side
 * no longer polls.
 */
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

int
main(int argc, char **argv)
{
	static struct gen g;
	struct rte_mbuf *txb[GEN_BURST_MAX];
	struct gen_counts c0, w;
	unsigned int held = 0, off = 0, i;
	uint64_t hz;
	double link_s, t0, t1, secs, cpu0, cpu1;
	char err[256], mac[RTE_ETHER_ADDR_FMT_SIZE];
	int ret, status = 0;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bench-forward-gen: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	if (parse_args(argc, argv, &g.o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	g.len = g.o.frame_bytes - FCS_LEN;
	if (port_init(&g, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-forward-gen: %s\n", err);
		rte_eal_cleanup();
		return 1;
	}
	build_template(&g);
	if (build_requests(&g) < 0) {
		fprintf(stderr, "bench-forward-gen: mbuf pool too small for the requests\n");
		rte_eal_cleanup();
		return 1;
	}
	g.verify_in = 1;	/* the first frame is checked */
	rte_ether_format_addr(mac, sizeof(mac), &g.mac);
	printf("gen %s: %s, port %u MAC %s, lcore %u, %u-byte frames (%u in the mbuf, %s), "
	       "burst %u, expect %s\n", g.o.label, rte_version(), g.port, mac, rte_lcore_id(),
	       g.o.frame_bytes, g.len, g.o.fresh ? "written for every send" : "reused",
	       g.o.burst,
	       g.o.expect == GEN_EXPECT_REPLY ? "echo replies" : "the requests mirrored");
	fflush(stdout);

	link_s = wait_link(&g);
	if (link_s < 0) {
		fprintf(stderr, "bench-forward-gen: %s: no peer within %.1f s\n", g.o.label,
			g.o.link_timeout);
		rte_eth_dev_stop(g.port);
		rte_eth_dev_close(g.port);
		rte_eal_cleanup();
		return 1;
	}
	printf("gen %s: link up after %.3f s\n", g.o.label, link_s);
	fflush(stdout);

	hz = rte_get_tsc_hz();
	run(&g, rte_rdtsc() + (uint64_t)(g.o.warmup * (double)hz), true, txb, &held, &off);
	/* perf/bench-forward samples the DUT's CPU time at these two lines. */
	printf("gen %s: measuring\n", g.o.label);
	fflush(stdout);
	c0 = g.c;
	cpu0 = cpu_s();
	t0 = now_s();
	run(&g, rte_rdtsc() + (uint64_t)(g.o.seconds * (double)hz), true, txb, &held, &off);
	t1 = now_s();
	cpu1 = cpu_s();
	w = g.c;
	printf("gen %s: window closed\n", g.o.label);
	fflush(stdout);
	secs = t1 - t0;
	/* Late replies count for the totals (loss), not for the rate. */
	run(&g, rte_rdtsc() + (uint64_t)(g.o.drain * (double)hz), false, txb, &held, &off);
	for (i = 0; i < held; i++)
		rte_pktmbuf_free(txb[off + i]);

	w.tx -= c0.tx;
	w.rx -= c0.rx;
	w.tx_calls -= c0.tx_calls;
	w.tx_short -= c0.tx_short;
	w.rx_calls -= c0.rx_calls;
	w.rx_empty -= c0.rx_empty;
	printf("gen %s: measured %.3f s after %.1f s warm-up\n", g.o.label, secs, g.o.warmup);
	printf("gen %s: sent     %12" PRIu64 "  %8.3f Mpps\n", g.o.label, w.tx,
	       (double)w.tx / secs / 1e6);
	printf("gen %s: received %12" PRIu64 "  %8.3f Mpps\n", g.o.label, w.rx,
	       (double)w.rx / secs / 1e6);
	printf("gen %s: TX bursts not taken whole %.1f%%, empty RX polls %.1f%%, "
	       "on CPU %.1f%% of the time\n", g.o.label, pct(w.tx_short, w.tx_calls),
	       pct(w.rx_empty, w.rx_calls), 100 * (cpu1 - cpu0) / secs);
	printf("gen %s: whole run: sent %" PRIu64 ", received %" PRIu64 ", not returned %" PRId64
	       "; checked %" PRIu64 ", invalid %" PRIu64 "\n", g.o.label, g.c.tx, g.c.rx,
	       (int64_t)(g.c.tx - g.c.rx), g.c.verified, g.c.invalid);
	if (g.c.invalid != 0)
		printf("gen %s: first invalid frame: %s\n", g.o.label, g.first_invalid);
	if (quit) {
		fprintf(stderr, "bench-forward-gen: %s: interrupted\n", g.o.label);
		status = 1;
	}
	if (w.rx == 0 || g.c.invalid != 0)
		status = 1;
	printf("{\"bench\":\"forward-gen\",\"label\":\"%s\",\"frame_bytes\":%u,\"seconds\":%.3f,"
	       "\"tx_mpps\":%.4f,\"rx_mpps\":%.4f,\"tx_short_pct\":%.2f,\"rx_empty_pct\":%.2f,"
	       "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"not_returned\":%" PRId64 ","
	       "\"verified\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"link_s\":%.3f,"
	       "\"cpu_pct\":%.1f,\"fresh\":%s,\"ok\":%s}\n",
	       g.o.label, g.o.frame_bytes, secs, (double)w.tx / secs / 1e6,
	       (double)w.rx / secs / 1e6, pct(w.tx_short, w.tx_calls), pct(w.rx_empty, w.rx_calls),
	       g.c.tx, g.c.rx, (int64_t)(g.c.tx - g.c.rx), g.c.verified, g.c.invalid, link_s,
	       100 * (cpu1 - cpu0) / secs, g.o.fresh ? "true" : "false",
	       status == 0 ? "true" : "false");
	fflush(stdout);
	wait_peer_gone(&g);
	rte_eth_dev_stop(g.port);
	rte_eth_dev_close(g.port);
	rte_mempool_free(g.req_pool);
	rte_mempool_free(g.pool);
	rte_eal_cleanup();
	return status;
}
