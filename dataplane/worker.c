/*
 * worker.c -- the worker lcore's poll loop (worker.h).
 */
#include "worker.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <urcu/urcu-qsbr.h>

#include "director/director.h"
#include "director/ring.h"
#include "tcp/tcpopt.h"

#define ETH_MIN_FRAME	60	/* without the FCS: pad what we originate */
#define BACKEND_REFRESH_MS 1000	/* re-resolve backend next hops this often */

static atomic_bool quit;

void
pm_worker_quit(void)
{
	atomic_store_explicit(&quit, true, memory_order_relaxed);
}

/* Single writer: a relaxed load and store, no lock prefix (STYLE.md B4). */
static inline void
add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void
count(_Atomic uint64_t *c)
{
	add(c, 1);
}

static inline void
set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline void
drop(struct pm_worker *w, struct rte_mbuf *m, enum pm_drop reason)
{
	count(&w->stats.drop[reason]);
	rte_pktmbuf_free(m);
}

static inline uint64_t
now_ms(const struct pm_worker *w)
{
	return rte_rdtsc() / w->tsc_per_ms;
}

static void
flush_port(struct pm_worker *w, struct pm_worker_port *p)
{
	uint16_t sent, i;
	uint64_t bytes = 0;

	if (p->ntx == 0)
		return;
	for (i = 0; i < p->ntx; i++)
		bytes += rte_pktmbuf_pkt_len(p->tx[i]);
	sent = rte_eth_tx_burst(p->port_id, p->queue, p->tx, p->ntx);
	/* The unsent ones are still ours (STYLE.md 6). */
	for (i = sent; i < p->ntx; i++) {
		bytes -= rte_pktmbuf_pkt_len(p->tx[i]);
		count(&w->stats.tx_full);
		rte_pktmbuf_free(p->tx[i]);
	}
	add(&w->stats.tx, sent);
	add(&p->stats.tx_packets, sent);
	add(&p->stats.tx_bytes, bytes);
	p->ntx = 0;
}

/* Queue @m (a complete frame) for TX on @p; consumes it. */
static void
xmit(struct pm_worker *w, struct pm_worker_port *p, struct rte_mbuf *m)
{
	p->tx[p->ntx++] = m;
	if (p->ntx == PM_WORKER_BURST)
		flush_port(w, p);
}

/* Make @m a single-segment frame of @len bytes (its first segment already
 * holds them), padded to the Ethernet minimum when it has the room. */
static void
set_frame_len(struct rte_mbuf *m, size_t len)
{
	if (m->next != NULL) {
		rte_pktmbuf_free(m->next);
		m->next = NULL;
		m->nb_segs = 1;
	}
	if (len < ETH_MIN_FRAME && rte_pktmbuf_tailroom(m) + m->data_len >= ETH_MIN_FRAME) {
		memset(rte_pktmbuf_mtod_offset(m, uint8_t *, len), 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->ol_flags = 0;
}

static struct pm_worker_port *
port_by_id(struct pm_worker *w, uint16_t port_id)
{
	unsigned int i;

	for (i = 0; i < w->nports; i++)
		if (w->ports[i].port_id == port_id)
			return &w->ports[i];
	return NULL;
}

/* ---- neighbour table callbacks ------------------------------------------ */

static void
send_arp_request(struct pm_worker *w, struct pm_worker_port *p, const struct pm_addr *target,
		 const uint8_t *dst)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	int len;

	if (m == NULL) {
		count(&w->stats.drop[PM_DROP_NO_MBUF]);
		return;
	}
	len = pm_l3_arp_request(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m),
				p->ifc.mac, &p->addrs[0], target, dst);
	if (len < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	set_frame_len(m, (size_t)len);
	count(&w->stats.arp_requests);
	xmit(w, p, m);
}

static void
neigh_probe(void *arg, uint16_t port, const struct pm_addr *addr, const uint8_t *mac)
{
	struct pm_worker *w = arg;

	if (port < w->nports)
		send_arp_request(w, &w->ports[port], addr, mac);
}

/* A held packet is an IPv4 datagram behind an Ethernet header whose
 * destination is not yet known. */
static void
neigh_send(void *arg, void *pkt, uint16_t port, const uint8_t mac[6])
{
	struct pm_worker *w = arg;
	struct rte_mbuf *m = pkt;
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);

	memcpy(eth, mac, PM_ETH_ALEN);
	memcpy(eth + PM_ETH_ALEN, w->ports[port].ifc.mac, PM_ETH_ALEN);
	xmit(w, &w->ports[port], m);
}

static void
neigh_drop(void *arg, void *pkt)
{
	struct pm_worker *w = arg;

	drop(w, pkt, PM_DROP_NEIGH_UNRESOLVED);
}

const struct pm_neigh_ops pm_worker_neigh_ops = {
	.probe = neigh_probe,
	.send = neigh_send,
	.drop = neigh_drop,
};

static int route_and_send(struct pm_worker *w, struct rte_mbuf *m, const struct pm_addr *dst);

/* ---- the TCP engine's callbacks --------------------------------------------- */

static void *
eng_tx_alloc(void *arg, uint8_t **buf, size_t *room)
{
	struct pm_worker *w = arg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);

	if (m == NULL) {
		count(&w->stats.drop[PM_DROP_NO_MBUF]);
		return NULL;
	}
	*buf = rte_pktmbuf_mtod(m, uint8_t *);
	*room = rte_pktmbuf_tailroom(m);
	return m;
}

static void
eng_tx_send(void *arg, void *h, size_t len, const struct pm_addr *dst)
{
	struct pm_worker *w = arg;

	set_frame_len(h, len);
	(void)route_and_send(w, h, dst);
}

static void
eng_tx_free(void *arg, void *h)
{
	(void)arg;
	rte_pktmbuf_free(h);
}

/*
 * The director's answer for @user, read lock-free from the published ring
 * and pins. Only the ctl thread writes pins: the login is handed to it
 * through the worker's pin ring, and pm_director_login() there creates the
 * pin (on the host chosen here, if it still exists) or refreshes it.
 */
static enum pm_engine_lookup
eng_lookup(void *arg, const char *user, size_t len, struct pm_addr *host, uint32_t *user_hash,
	   uint64_t now)
{
	struct pm_worker *w = arg;
	struct pm_dir_answer ans;
	uint32_t h;

	if (w->director == NULL)
		return PM_ENGINE_LOOKUP_NONE;
	h = pm_director_hash(w->director, user, len);
	*user_hash = h;
	switch (pm_director_lookup(w->director, 0, h,
				   (uint32_t)(((int64_t)now + w->unix_offset_ms) / 1000), &ans)) {
	case PM_DIR_PINNED:
	case PM_DIR_HASHED:
		*host = ans.host;
		if (w->pins != NULL) {
			if (rte_ring_sp_enqueue(w->pins, PM_WORKER_PIN(h, ans.host_id)) == 0)
				count(&w->stats.pin_requests);
			else
				count(&w->stats.pin_ring_full);
		}
		return PM_ENGINE_LOOKUP_HOST;
	case PM_DIR_WAIT:
		return PM_ENGINE_LOOKUP_WAIT;
	case PM_DIR_NOHOST:
		break;
	}
	return PM_ENGINE_LOOKUP_NONE;
}

/* A live spliced session keeps its user's pin fresh (only an existing,
 * live pin is refreshed: pm_director_refresh() on the ctl thread). */
static void
eng_refresh(void *arg, uint32_t user_hash)
{
	struct pm_worker *w = arg;

	if (w->pins == NULL)
		return;
	if (rte_ring_sp_enqueue(w->pins, PM_WORKER_PIN(user_hash, PM_WORKER_PIN_REFRESH)) == 0)
		count(&w->stats.pin_requests);
	else
		count(&w->stats.pin_ring_full);
}

static int
eng_source(void *arg, const struct pm_addr *dst, struct pm_addr *src)
{
	struct pm_worker *w = arg;
	struct pm_addr nh;
	uint16_t port;

	if (w->routes == NULL || pm_route_lookup(w->routes, dst, &port, &nh) != 0 ||
	    port >= w->nports)
		return -ENETUNREACH;
	*src = w->ports[port].addrs[0];
	return 0;
}

static bool
eng_owns(void *arg, const struct pm_addr *raddr, const struct pm_addr *laddr, uint16_t rport,
	 uint16_t lport)
{
	struct pm_worker *w = arg;
	struct pm_addr nh;
	uint16_t port;
	const struct pm_steer *st;

	if (w->routes == NULL || pm_route_lookup(w->routes, raddr, &port, &nh) != 0 ||
	    port >= w->nports)
		return false;
	st = w->ports[port].steer;
	return pm_steer_queue(st, pm_steer_hash_v4_l4(st, raddr->bytes, laddr->bytes, rport,
						      lport)) == w->index;
}

const struct pm_engine_ops pm_worker_engine_ops = {
	.tx_alloc = eng_tx_alloc,
	.tx_send = eng_tx_send,
	.tx_free = eng_tx_free,
	.lookup = eng_lookup,
	.refresh = eng_refresh,
	.source = eng_source,
	.owns = eng_owns,
};

/* A TCP segment owned by this lcore: to the engine. Consumes @m. */
static void
handle_tcp(struct pm_worker *w, struct rte_mbuf *m, const struct pm_l3_pkt *pkt)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	enum pm_engine_verdict v;
	enum pm_tcpopt_status ts;
	struct pm_tcp_hdr th;
	struct pm_addr dst;
	enum pm_drop why;
	size_t adj;

	if (w->engine == NULL) {
		count(&w->stats.ignored);
		rte_pktmbuf_free(m);
		return;
	}
	ts = pm_tcpopt_parse(frame, len, pkt->ip.payload_off, pkt->ip.payload_len, &th);
	if (ts != PM_TCPOPT_OK) {
		drop(w, m, ts == PM_TCPOPT_SHORT ? PM_DROP_TCP_SHORT :
		     ts == PM_TCPOPT_HDR_LEN ? PM_DROP_TCP_HDR_LEN : PM_DROP_TCP_OPTION);
		return;
	}
	if (!pm_tcpopt_csum_ok(frame + pkt->ip.payload_off, pkt->ip.payload_len, &pkt->ip.src,
			       &pkt->ip.dst)) {
		drop(w, m, PM_DROP_TCP_CSUM);
		return;
	}
	v = pm_engine_input(w->engine, frame, len, &pkt->ip, &th, now_ms(w), &dst, &adj, &why);
	switch (v) {
	case PM_ENGINE_CONSUMED:
		rte_pktmbuf_free(m);
		return;
	case PM_ENGINE_DROP:
		drop(w, m, why);
		return;
	case PM_ENGINE_FORWARD:
		if (adj > 0)
			rte_pktmbuf_adj(m, (uint16_t)adj);
		/* The Ethernet header is rewritten for the next hop. */
		(void)route_and_send(w, m, &dst);
		return;
	}
}

/* ---- receive -------------------------------------------------------------- */

/* Give other workers a reference to the ARP packet @m so that their
 * neighbour tables learn from it. The frame is read-only from now on. */
static void
share_arp(struct pm_worker *w, struct rte_mbuf *m)
{
	unsigned int i;

	for (i = 0; i < w->nworkers; i++) {
		if (i == w->index)
			continue;
		rte_mbuf_refcnt_update(m, 1);
		if (rte_ring_mp_enqueue(w->inboxes[i], m) != 0) {
			rte_mbuf_refcnt_update(m, -1);
			count(&w->stats.drop[PM_DROP_WRONG_LCORE_RING_FULL]);
		}
	}
}

static void
handle_arp(struct pm_worker *w, struct pm_worker_port *p, struct rte_mbuf *m,
	   const struct pm_l3_pkt *pkt, bool from_inbox)
{
	uint16_t pidx = (uint16_t)(p - w->ports);
	struct rte_mbuf *r;
	int len;

	if (!from_inbox && w->nworkers > 1)
		share_arp(w, m);
	/* A request for one of our addresses or a reply (to us: the target
	 * is ours, pm_l3_rx checked) creates the entry; RFC 826's "merge"
	 * step. A zero sender (an RFC 5227 probe) teaches nothing. */
	(void)pm_neigh_learn(w->neigh, pidx, &pkt->arp.spa, pkt->arp.sha, true, now_ms(w));
	if (from_inbox || pkt->arp.op != PM_ARP_OP_REQUEST) {
		rte_pktmbuf_free(m);
		return;
	}
	if (rte_mbuf_refcnt_read(m) == 1) {
		/* Not shared: answer in place. */
		len = pm_l3_arp_reply(rte_pktmbuf_mtod(m, uint8_t *),
				      rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m), &pkt->arp,
				      p->ifc.mac);
		r = m;
	} else {
		r = rte_pktmbuf_alloc(w->pool);
		if (r == NULL) {
			drop(w, m, PM_DROP_NO_MBUF);
			return;
		}
		len = pm_l3_arp_reply(rte_pktmbuf_mtod(r, uint8_t *), rte_pktmbuf_tailroom(r),
				      &pkt->arp, p->ifc.mac);
		rte_pktmbuf_free(m);
	}
	if (len < 0) {
		count(&w->stats.ignored);
		rte_pktmbuf_free(r);
		return;
	}
	set_frame_len(r, (size_t)len);
	count(&w->stats.arp_replies);
	xmit(w, p, r);
}

/* The lcore that owns the IPv4 packet @pkt received on @p. */
static unsigned int
owner_of(const struct pm_worker_port *p, const struct pm_l3_pkt *pkt, const uint8_t *frame,
	 size_t len)
{
	uint32_t h;

	if (pkt->kind == PM_L3_TCP && pkt->ip.payload_len >= 4 &&
	    pkt->ip.payload_off + 4 <= len) {
		const uint8_t *l4 = frame + pkt->ip.payload_off;

		h = pm_steer_hash_v4_l4(p->steer, pkt->ip.src.bytes, pkt->ip.dst.bytes,
					(uint16_t)(l4[0] << 8 | l4[1]),
					(uint16_t)(l4[2] << 8 | l4[3]));
	} else {
		h = pm_steer_hash_v4(p->steer, pkt->ip.src.bytes, pkt->ip.dst.bytes);
	}
	return pm_steer_queue(p->steer, h);
}

/* Consume @m, received on @p (or handed over by another worker). */
static void
handle(struct pm_worker *w, struct pm_worker_port *p, struct rte_mbuf *m, bool from_inbox)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	struct pm_l3_pkt pkt;
	enum pm_drop reason;
	unsigned int owner;
	int ret;

	if (m->nb_segs != 1) {
		/* The RX queues are set up without scatter, so a chain is a
		 * jumbo frame some driver split anyway: nothing below TCP
		 * needs one, and TCP will not accept segments above its MSS. */
		drop(w, m, PM_DROP_MBUF_CHAIN);
		return;
	}
	reason = pm_l3_rx(frame, len, &p->ifc, &pkt);
	if (reason != PM_DROP_NONE) {
		if (reason == PM_DROP_ARP_NOT_US)
			/* A gratuitous ARP or a request between two other
			 * hosts: refresh a neighbour we know, never create. */
			(void)pm_neigh_learn(w->neigh, (uint16_t)(p - w->ports), &pkt.arp.spa,
					     pkt.arp.sha, false, now_ms(w));
		drop(w, m, reason);
		return;
	}
	if (pkt.kind == PM_L3_ARP) {
		handle_arp(w, p, m, &pkt, from_inbox);
		return;
	}
	/* With one worker every flow is ours: no hash. */
	owner = w->nworkers > 1 && !from_inbox ? owner_of(p, &pkt, frame, len) : w->index;
	if (owner != w->index && owner < w->nworkers) {
		/* The owner handles it and answers on its own TX queue. */
		if (rte_ring_mp_enqueue(w->inboxes[owner], m) != 0) {
			drop(w, m, PM_DROP_WRONG_LCORE_RING_FULL);
			return;
		}
		count(&w->stats.redirected);
		return;
	}
	switch (pkt.kind) {
	case PM_L3_ICMP:
		if (pkt.icmp.type == PM_ICMP_ECHO_REPLY && pkt.icmp.id == PM_WORKER_PING_ID) {
			count(&w->stats.ping_replies);
			rte_pktmbuf_free(m);
			return;
		}
		if (pkt.icmp.type != PM_ICMP_ECHO_REQUEST || pkt.icmp.code != 0)
			break;
		ret = pm_l3_icmp_echo_reply(frame, len + rte_pktmbuf_tailroom(m), frame, len,
					    &pkt);
		if (ret < 0)
			break;
		set_frame_len(m, (size_t)ret);
		count(&w->stats.echo_replies);
		xmit(w, p, m);
		return;
	case PM_L3_TCP:
		handle_tcp(w, m, &pkt);
		return;
	case PM_L3_ARP:
		break;
	}
	count(&w->stats.ignored);
	rte_pktmbuf_free(m);
}

static void
poll_port(struct pm_worker *w, struct pm_worker_port *p)
{
	struct rte_mbuf *rx[PM_WORKER_BURST];
	uint64_t bytes = 0;
	uint16_t n, i;

	n = rte_eth_rx_burst(p->port_id, p->queue, rx, PM_WORKER_BURST);
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(rx[i]);
	add(&w->stats.rx, n);
	add(&p->stats.rx_packets, n);
	add(&p->stats.rx_bytes, bytes);
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void *));
		handle(w, p, rx[i], false);
	}
}

static void
poll_inbox(struct pm_worker *w)
{
	struct rte_mbuf *in[PM_WORKER_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(w->inbox, (void **)in, PM_WORKER_BURST, NULL);
	if (n == 0)
		return;
	add(&w->stats.inbox, n);
	for (i = 0; i < n; i++) {
		struct pm_worker_port *p = port_by_id(w, in[i]->port);

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(in[i + 1], void *));
		if (p == NULL) {
			/* Cannot happen: every worker serves every port. */
			count(&w->stats.ignored);
			rte_pktmbuf_free(in[i]);
			continue;
		}
		handle(w, p, in[i], true);
	}
}

/* ---- timers --------------------------------------------------------------- */

/*
 * Keep the next hop of every backend resolved, so that the first login to a
 * backend does not wait for ARP: when the director publishes a new ring,
 * and every BACKEND_REFRESH_MS (which also refreshes stale entries).
 */
static void
refresh_backends(struct pm_worker *w, uint64_t now)
{
	const struct pm_ring *r;
	uint64_t resolved = 0;
	uint32_t i;

	if (w->director == NULL || w->routes == NULL)
		return;
	r = pm_director_ring(w->director);
	if (r == NULL || (r->generation == w->ring_generation && now < w->next_backend_ms))
		return;
	w->ring_generation = r->generation;
	w->next_backend_ms = now + BACKEND_REFRESH_MS;
	for (i = 0; i < r->nhosts; i++) {
		struct pm_addr nh;
		uint16_t port;
		uint8_t mac[PM_ETH_ALEN];

		if (r->hosts[i].addr.family != PM_AF_INET ||
		    pm_route_lookup(w->routes, &r->hosts[i].addr, &port, &nh) != 0 ||
		    port >= w->nports)
			continue;
		(void)pm_neigh_resolve(w->neigh, port, &nh, NULL, now, mac);
		resolved++;
	}
	set(&w->stats.backends, resolved);
}

static void
tick(struct pm_worker *w)
{
	uint64_t now = now_ms(w);
	const struct pm_neigh_stats *ns = &w->neigh->stats;

	(void)pm_neigh_tick(w->neigh, now);
	refresh_backends(w, now);
	set(&w->stats.neigh_entries, pm_neigh_count(w->neigh));
	set(&w->stats.neigh_probes, ns->probes);
	set(&w->stats.neigh_resolved, ns->resolved);
	set(&w->stats.neigh_failed, ns->failed);
	set(&w->stats.neigh_held, ns->held);
	set(&w->stats.neigh_released, ns->released);
	if (w->engine != NULL) {
		const struct pm_engine_stats *es = pm_engine_stats(w->engine);
		unsigned int i = 0;

		set(&w->stats.sessions, pm_engine_sessions(w->engine));
		set(&w->stats.prelogin, pm_engine_prelogin(w->engine));
		set(&w->stats.syn_backlog, pm_engine_syn_backlog(w->engine));
#define TCP_COPY(name) set(&w->stats.tcp[i++], es->name);
		PM_WORKER_TCP_NAMES(TCP_COPY)
#undef TCP_COPY
		for (unsigned int pr = 0; pr < PM_LOGIN__COUNT; pr++) {
			i = 0;
#define PROTO_COPY(name) set(&w->stats.proto[pr][i++], es->proto[pr].name);
			PM_WORKER_PROTO_NAMES(PROTO_COPY)
#undef PROTO_COPY
		}
	}
}

/*
 * Send the IPv4 frame @m (Ethernet addresses still to fill) towards @dst:
 * the route picks the port and the next hop, the neighbour table sends it
 * at once, holds it until ARP answers, or refuses it. Consumes @m. Returns
 * 0 or the ping()-style error.
 */
static int
route_and_send(struct pm_worker *w, struct rte_mbuf *m, const struct pm_addr *dst)
{
	struct pm_addr nh;
	uint8_t mac[PM_ETH_ALEN];
	uint16_t port;

	if (w->routes == NULL || pm_route_lookup(w->routes, dst, &port, &nh) != 0 ||
	    port >= w->nports) {
		drop(w, m, PM_DROP_NO_ROUTE);
		return -ENETUNREACH;
	}
	switch (pm_neigh_resolve(w->neigh, port, &nh, m, now_ms(w), mac)) {
	case PM_NEIGH_SEND:
		neigh_send(w, m, port, mac);
		return 0;
	case PM_NEIGH_HELD:
		return 0;
	case PM_NEIGH_QFULL:
		drop(w, m, PM_DROP_ARP_QUEUE_FULL);
		return -ENOBUFS;
	case PM_NEIGH_TFULL:
		drop(w, m, PM_DROP_NEIGH_TABLE_FULL);
		return -ENOSPC;
	case PM_NEIGH_UNREACH:
		break;
	}
	drop(w, m, PM_DROP_NEIGH_UNRESOLVED);
	return -EHOSTUNREACH;
}

/*
 * Originate an echo request to @dst: route, then the neighbour table, which
 * sends it at once, holds it until ARP answers, or refuses it. The packet
 * path every packet postmux originates towards a backend will take.
 */
static int
ping(struct pm_worker *w, const struct pm_addr *dst, uint16_t seq)
{
	static const uint8_t data[] = "postmux data plane ping";
	struct pm_worker_port *p;
	struct rte_mbuf *m;
	struct pm_addr nh;
	uint16_t port;
	int len;

	if (w->routes == NULL || pm_route_lookup(w->routes, dst, &port, &nh) != 0 ||
	    port >= w->nports) {
		count(&w->stats.drop[PM_DROP_NO_ROUTE]);
		return -ENETUNREACH;
	}
	p = &w->ports[port];
	m = rte_pktmbuf_alloc(w->pool);
	if (m == NULL) {
		count(&w->stats.drop[PM_DROP_NO_MBUF]);
		return -ENOBUFS;
	}
	len = pm_l3_icmp_echo_request(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m),
				      &p->addrs[0], dst, seq, PM_WORKER_PING_ID, seq, data,
				      sizeof(data) - 1);
	if (len < 0) {
		rte_pktmbuf_free(m);
		return len;
	}
	set_frame_len(m, (size_t)len);
	count(&w->stats.pings);
	return route_and_send(w, m, dst);
}

/* The director's kicks: close the sessions they name. */
static void
poll_kicks(struct pm_worker *w)
{
	struct pm_worker_kick k[16];
	unsigned int n, i;

	if (w->kicks == NULL || w->engine == NULL)
		return;
	n = rte_ring_sc_dequeue_burst_elem(w->kicks, k, sizeof(k[0]), RTE_DIM(k), NULL);
	for (i = 0; i < n; i++) {
		struct pm_addr ex;

		memset(&ex, 0, sizeof(ex));
		if (k[i].has_except) {
			ex.family = PM_AF_INET;
			memcpy(ex.bytes, k[i].except, 4);
		}
		(void)pm_engine_kick(w->engine, k[i].user_hash,
				     k[i].has_name ? &k[i].name_check : NULL,
				     k[i].has_except ? &ex : NULL, now_ms(w));
	}
	add(&w->stats.kicks, n);
}

static void
serve_request(struct pm_worker *w)
{
	/* acquire: pairs with the poster's release store of 1, so the
	 * request's fields are visible. */
	if (atomic_load_explicit(&w->req.state, memory_order_acquire) != 1)
		return;
	switch (w->req.kind) {
	case PM_WORKER_REQ_NEIGH_DUMP:
		w->req.now_ms = now_ms(w);
		w->req.result = pm_neigh_dump(w->neigh, w->req.out, w->req.max, w->req.now_ms);
		break;
	case PM_WORKER_REQ_PING:
		w->req.rc = ping(w, &w->req.dst, w->req.seq);
		break;
	}
	/* release: the results are written before the poster sees 2. */
	atomic_store_explicit(&w->req.state, 2, memory_order_release);
}

int
pm_worker_ping(struct pm_worker *w, const struct pm_addr *dst, uint16_t seq)
{
	w->req.dst = *dst;
	w->req.seq = seq;
	pm_worker_request(w, PM_WORKER_REQ_PING, NULL, 0);
	return w->req.rc;
}

void
pm_worker_request(struct pm_worker *w, enum pm_worker_req_kind kind, struct pm_neigh_info *out,
		  size_t max)
{
	const struct timespec ts = { 0, 100 * 1000 };

	w->req.kind = kind;
	w->req.out = out;
	w->req.max = max;
	/* release: pairs with the worker's acquire in serve_request(). */
	atomic_store_explicit(&w->req.state, 1, memory_order_release);
	/* acquire: pairs with the worker's release of 2. */
	while (atomic_load_explicit(&w->req.state, memory_order_acquire) != 2)
		nanosleep(&ts, NULL);
	atomic_store_explicit(&w->req.state, 0, memory_order_relaxed);
}

/* Announce every address of every port (RFC 5227 3: a gratuitous ARP
 * request), so that neighbours replace a stale MAC for a VIP that moved. */
static void
announce(struct pm_worker *w)
{
	unsigned int i;
	size_t a;

	for (i = 0; i < w->nports; i++) {
		struct pm_worker_port *p = &w->ports[i];

		for (a = 0; a < p->ifc.naddrs; a++)
			send_arp_request(w, p, &p->addrs[a], NULL);
		flush_port(w, p);
	}
}

int
pm_worker_main(void *arg)
{
	struct pm_worker *w = arg;
	uint64_t drain = rte_get_tsc_hz() / 1000000 * PM_WORKER_DRAIN_US;
	uint64_t tick_cycles = w->tsc_per_ms * PM_WORKER_TICK_MS;
	uint64_t now, next_drain, next_tick;
	unsigned int i;

	urcu_qsbr_register_thread();
	if (w->index == 0)
		announce(w);
	now = rte_rdtsc();
	next_drain = now + drain;
	next_tick = now;
	while (!atomic_load_explicit(&quit, memory_order_relaxed)) {
		for (i = 0; i < w->nports; i++)
			poll_port(w, &w->ports[i]);
		poll_inbox(w);
		now = rte_rdtsc();
		if (now >= next_drain) {
			for (i = 0; i < w->nports; i++)
				flush_port(w, &w->ports[i]);
			next_drain = now + drain;
		}
		if (now >= next_tick) {
			tick(w);
			next_tick = now + tick_cycles;
		}
		if (w->engine != NULL) {
			uint64_t ms = now / w->tsc_per_ms;

			if (ms != w->engine_ms) {
				w->engine_ms = ms;
				pm_engine_tick(w->engine, ms);
			}
		}
		poll_kicks(w);
		serve_request(w);
		urcu_qsbr_quiescent_state();
	}
	/* Whatever is still held or queued goes back to the pool. */
	pm_neigh_flush(w->neigh);
	for (i = 0; i < w->nports; i++)
		flush_port(w, &w->ports[i]);
	urcu_qsbr_unregister_thread();
	return 0;
}
