/*
 * worker.c -- the worker lcore's poll loop (worker.h).
 */
#include "worker.h"

#include <stdbool.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <urcu/urcu-qsbr.h>

#define ETH_MIN_FRAME	60	/* without the FCS: pad what we originate */

static atomic_bool quit;

void
pm_worker_quit(void)
{
	atomic_store_explicit(&quit, true, memory_order_relaxed);
}

/* Single writer: a relaxed load and store, no lock prefix (STYLE.md B4). */
static inline void
count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static inline void
drop(struct pm_worker *w, struct rte_mbuf *m, enum pm_drop reason)
{
	count(&w->stats.drop[reason]);
	rte_pktmbuf_free(m);
}

/* Make @m a single-segment frame of @len bytes (its first segment already
 * holds them) for TX. */
static void
set_reply_len(struct rte_mbuf *m, size_t len)
{
	if (m->next != NULL) {
		rte_pktmbuf_free(m->next);
		m->next = NULL;
		m->nb_segs = 1;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->ol_flags = 0;
}

/*
 * Consume @m, received on @p: returns true if it became a reply (to be
 * sent on the same queue), false if it was freed.
 */
static bool
handle(struct pm_worker *w, const struct pm_worker_port *p, struct rte_mbuf *m)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	size_t room = len + rte_pktmbuf_tailroom(m);	/* first segment */
	struct pm_l3_pkt pkt;
	enum pm_drop reason;
	int ret;

	reason = pm_l3_rx(frame, len, &p->ifc, &pkt);
	if (reason != PM_DROP_NONE) {
		drop(w, m, reason);
		return false;
	}
	switch (pkt.kind) {
	case PM_L3_ARP:
		if (pkt.arp.op != PM_ARP_OP_REQUEST)
			break;
		/* pkt.arp holds copies, so the reply may overwrite the frame. */
		ret = pm_l3_arp_reply(frame, room, &pkt.arp, p->ifc.mac);
		if (ret < 0)
			break;
		if ((size_t)ret < ETH_MIN_FRAME && room >= ETH_MIN_FRAME) {
			memset(frame + ret, 0, ETH_MIN_FRAME - (size_t)ret);
			ret = ETH_MIN_FRAME;
		}
		set_reply_len(m, (size_t)ret);
		count(&w->stats.arp_replies);
		return true;
	case PM_L3_ICMP:
		if (pkt.icmp.type != PM_ICMP_ECHO_REQUEST || pkt.icmp.code != 0)
			break;
		ret = pm_l3_icmp_echo_reply(frame, room, frame, len, &pkt);
		if (ret < 0)
			break;
		set_reply_len(m, (size_t)ret);
		count(&w->stats.echo_replies);
		return true;
	case PM_L3_TCP:
		break;
	}
	count(&w->stats.ignored);
	rte_pktmbuf_free(m);
	return false;
}

static void
poll_port(struct pm_worker *w, const struct pm_worker_port *p)
{
	struct rte_mbuf *rx[PM_WORKER_BURST], *tx[PM_WORKER_BURST];
	uint16_t n, i, ntx = 0, sent;

	n = rte_eth_rx_burst(p->port_id, p->queue, rx, PM_WORKER_BURST);
	if (n == 0)
		return;
	atomic_store_explicit(&w->stats.rx,
			      atomic_load_explicit(&w->stats.rx, memory_order_relaxed) + n,
			      memory_order_relaxed);
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void *));
		if (handle(w, p, rx[i]))
			tx[ntx++] = rx[i];
	}
	if (ntx == 0)
		return;
	sent = rte_eth_tx_burst(p->port_id, p->queue, tx, ntx);
	atomic_store_explicit(&w->stats.tx,
			      atomic_load_explicit(&w->stats.tx, memory_order_relaxed) + sent,
			      memory_order_relaxed);
	/* The unsent ones are still ours (STYLE.md 6). */
	for (i = sent; i < ntx; i++) {
		count(&w->stats.tx_full);
		rte_pktmbuf_free(tx[i]);
	}
}

int
pm_worker_main(void *arg)
{
	struct pm_worker *w = arg;
	unsigned int i;

	urcu_qsbr_register_thread();
	while (!atomic_load_explicit(&quit, memory_order_relaxed)) {
		for (i = 0; i < w->nports; i++)
			poll_port(w, &w->ports[i]);
		urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	return 0;
}
