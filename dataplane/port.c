/*
 * port.c -- EAL, mbuf pool, ports and worker launch (port.h).
 */
#include "port.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "log.h"
#include "worker.h"

#define NB_RXD		1024	/* descriptors per RX queue */
#define NB_TXD		1024	/* descriptors per TX queue */
#define POOL_CACHE	256	/* per-lcore mempool cache */
#define POOL_MIN	8192
#define EAL_ARGS_MAX	128

struct pm_ports {
	struct rte_mempool *pool;
	uint16_t port_ids[PM_CONFIG_PORTS_MAX];
	char names[PM_CONFIG_PORTS_MAX][PM_CONFIG_PORT_NAME_MAX];
	unsigned int nports;	/* configured and started */
	unsigned int nconfigured;	/* configured (to close) */
	struct pm_worker *workers[RTE_MAX_LCORE];
	unsigned int nworkers;
	bool launched;
};

static void
errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool
names_lcores(char **argv, int argc)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0 || strncmp(argv[i], "-l", 2) == 0 ||
		    strcmp(argv[i], "-c") == 0 || strncmp(argv[i], "--lcores", 8) == 0)
			return true;
	}
	return false;
}

/* Build the EAL argument vector in @buf (pointers into @store). */
static int
eal_args(const struct pm_config *cfg, const char *argv0, char *store, size_t storelen,
	 char **argv, char *err, size_t errlen)
{
	char *p = store, *end = store + storelen, *tok, *save = NULL;
	int argc = 0;
	size_t i;
	int n;

	argv[argc++] = (char *)argv0;
	n = snprintf(p, (size_t)(end - p), "%s", cfg->dpdk_args);
	if (n < 0 || n >= end - p)
		goto toolong;
	for (tok = strtok_r(p, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		if (argc >= EAL_ARGS_MAX - 4 - (int)cfg->nports)
			goto toolong;
		argv[argc++] = tok;
	}
	p += n + 1;
	for (i = 0; i < cfg->nports; i++) {
		n = snprintf(p, (size_t)(end - p), "--vdev=%s", cfg->ports[i].devargs);
		if (n < 0 || n >= end - p)
			goto toolong;
		argv[argc++] = p;
		p += n + 1;
	}
	if (!names_lcores(argv, argc)) {
		/* The main lcore (the ctl thread) plus one per worker, from
		 * the CPUs this process may run on. */
		cpu_set_t set;
		unsigned int cpu, want = cfg->lcores + 1, got = 0;

		if (sched_getaffinity(0, sizeof(set), &set) < 0) {
			errf(err, errlen, "sched_getaffinity: %s", strerror(errno));
			return -1;
		}
		n = snprintf(p, (size_t)(end - p), "-l");
		argv[argc++] = p;
		p += n + 1;
		argv[argc] = p;
		*p = '\0';
		for (cpu = 0; cpu < CPU_SETSIZE && got < want; cpu++) {
			if (!CPU_ISSET(cpu, &set))
				continue;
			n = snprintf(p, (size_t)(end - p), "%s%u", got ? "," : "", cpu);
			if (n < 0 || n >= end - p)
				goto toolong;
			p += n;
			got++;
		}
		if (got < want) {
			errf(err, errlen, "postmux_lcores = %u needs %u CPUs, this process may use %u",
			     cfg->lcores, want, got);
			return -1;
		}
		argc++;
	}
	argv[argc] = NULL;
	return argc;
toolong:
	errf(err, errlen, "postmux_dpdk_args and the ports make too long an EAL command line");
	return -1;
}

static int
port_setup(struct pm_ports *pp, const struct pm_config_port *cp, unsigned int nq,
	   char *err, size_t errlen)
{
	char dev[PM_CONFIG_DEVARGS_MAX];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t pid, nb_rxd = NB_RXD, nb_txd = NB_TXD;
	unsigned int q;
	int ret, socket;

	snprintf(dev, sizeof(dev), "%.*s", (int)strcspn(cp->devargs, ","), cp->devargs);
	if (rte_eth_dev_get_port_by_name(dev, &pid) != 0) {
		errf(err, errlen, "port %s: no device %s (did the driver probe fail?)", cp->name,
		     dev);
		return -1;
	}
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0) {
		errf(err, errlen, "port %s: rte_eth_dev_info_get: %s", cp->name, rte_strerror(-ret));
		return -1;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		errf(err, errlen, "port %s: %s offers %u RX / %u TX queues, postmux_lcores = %u needs "
		     "%u (net_af_packet: add qpairs=%u to the devargs)", cp->name, dev,
		     info.max_rx_queues, info.max_tx_queues, nq, nq, nq);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
	conf.txmode.mq_mode = RTE_ETH_MQ_TX_NONE;
	ret = rte_eth_dev_configure(pid, (uint16_t)nq, (uint16_t)nq, &conf);
	if (ret != 0) {
		errf(err, errlen, "port %s: rte_eth_dev_configure: %s", cp->name, rte_strerror(-ret));
		return -1;
	}
	pp->port_ids[pp->nconfigured] = pid;
	snprintf(pp->names[pp->nconfigured], sizeof(pp->names[0]), "%s", cp->name);
	pp->nconfigured++;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
	if (ret != 0) {
		errf(err, errlen, "port %s: descriptor counts: %s", cp->name, rte_strerror(-ret));
		return -1;
	}
	socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (q = 0; q < nq; q++) {
		ret = rte_eth_rx_queue_setup(pid, (uint16_t)q, nb_rxd, (unsigned int)socket, NULL,
					     pp->pool);
		if (ret == 0)
			ret = rte_eth_tx_queue_setup(pid, (uint16_t)q, nb_txd,
						     (unsigned int)socket, NULL);
		if (ret != 0) {
			errf(err, errlen, "port %s: queue %u setup: %s", cp->name, q,
			     rte_strerror(-ret));
			return -1;
		}
	}
	ret = rte_eth_dev_start(pid);
	if (ret != 0) {
		errf(err, errlen, "port %s: rte_eth_dev_start: %s", cp->name, rte_strerror(-ret));
		return -1;
	}
	pp->nports++;
	return 0;
}

static void
teardown(struct pm_ports *pp)
{
	unsigned int i;

	if (pp->launched) {
		pm_worker_quit();
		rte_eal_mp_wait_lcore();
	}
	for (i = 0; i < pp->nconfigured; i++) {
		if (i < pp->nports)
			rte_eth_dev_stop(pp->port_ids[i]);
		rte_eth_dev_close(pp->port_ids[i]);
	}
	for (i = 0; i < pp->nworkers; i++)
		rte_free(pp->workers[i]);
	rte_mempool_free(pp->pool);
	rte_eal_cleanup();
	free(pp);
}

struct pm_ports *
pm_ports_start(const struct pm_config *cfg, const char *argv0, char *err, size_t errlen)
{
	static char store[PM_CONFIG_DPDK_ARGS_MAX + PM_CONFIG_PORTS_MAX *
			  (PM_CONFIG_DEVARGS_MAX + 8) + 1024];
	char *argv[EAL_ARGS_MAX + 1];
	struct pm_ports *pp;
	unsigned int nworkers = cfg->lcores, lcore, i, w;
	unsigned int nmbuf;
	int argc, ret;

	argc = eal_args(cfg, argv0, store, sizeof(store), argv, err, errlen);
	if (argc < 0)
		return NULL;
	pp = calloc(1, sizeof(*pp));
	if (pp == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		errf(err, errlen, "DPDK EAL initialisation failed: %s (postmux_dpdk_args = %s)",
		     rte_strerror(rte_errno), cfg->dpdk_args);
		free(pp);
		return NULL;
	}
	if (rte_lcore_count() < nworkers + 1) {
		errf(err, errlen, "postmux_lcores = %u needs %u EAL lcores, the EAL arguments give %u",
		     nworkers, nworkers + 1, rte_lcore_count());
		goto fail;
	}
	/*
	 * Pool size: every descriptor of every queue may hold an mbuf (RX
	 * rings are refilled, TX rings hold mbufs until completion), each
	 * worker holds at most a burst in flight and the per-lcore caches
	 * may hide POOL_CACHE each:
	 *   ports * queues * (NB_RXD + NB_TXD + BURST) + lcores * POOL_CACHE,
	 * at least POOL_MIN. One queue pair per worker on every port.
	 */
	nmbuf = (unsigned int)cfg->nports * nworkers * (NB_RXD + NB_TXD + PM_WORKER_BURST) +
		(nworkers + 1) * POOL_CACHE;
	if (nmbuf < POOL_MIN)
		nmbuf = POOL_MIN;
	pp->pool = rte_pktmbuf_pool_create("pm_mbuf", nmbuf, POOL_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pp->pool == NULL) {
		errf(err, errlen, "cannot create the mbuf pool (%u mbufs): %s (more -m?)", nmbuf,
		     rte_strerror(rte_errno));
		goto fail;
	}
	for (i = 0; i < cfg->nports; i++) {
		if (port_setup(pp, &cfg->ports[i], nworkers, err, errlen) < 0)
			goto fail;
	}
	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct pm_worker *wk;

		if (w == nworkers)
			break;
		wk = rte_zmalloc_socket("pm_worker", sizeof(*wk), RTE_CACHE_LINE_SIZE,
					(int)rte_lcore_to_socket_id(lcore));
		if (wk == NULL) {
			errf(err, errlen, "out of memory for the worker of lcore %u", lcore);
			goto fail;
		}
		pp->workers[pp->nworkers++] = wk;
		wk->lcore = lcore;
		wk->index = w;
		wk->nports = pp->nports;
		for (i = 0; i < pp->nports; i++) {
			struct pm_worker_port *p = &wk->ports[i];
			struct rte_ether_addr mac;

			p->port_id = pp->port_ids[i];
			p->queue = (uint16_t)w;
			p->addr = cfg->ports[i].addr;
			rte_eth_macaddr_get(p->port_id, &mac);
			memcpy(p->ifc.mac, mac.addr_bytes, PM_ETH_ALEN);
			p->ifc.addrs = &p->addr;
			p->ifc.naddrs = 1;
		}
		w++;
	}
	for (w = 0; w < pp->nworkers; w++) {
		ret = rte_eal_remote_launch(pm_worker_main, pp->workers[w], pp->workers[w]->lcore);
		if (ret != 0) {
			errf(err, errlen, "cannot launch the worker on lcore %u: %s",
			     pp->workers[w]->lcore, rte_strerror(-ret));
			pp->launched = w > 0;
			goto fail;
		}
	}
	pp->launched = true;
	for (i = 0; i < pp->nports; i++) {
		struct rte_ether_addr mac;
		char a[PM_ADDR_STRLEN];

		rte_eth_macaddr_get(pp->port_ids[i], &mac);
		pm_addr_format(&cfg->ports[i].addr, a, sizeof(a));
		pm_log(PM_LOG_INFO, "port %s (%s, DPDK port %u): MAC " RTE_ETHER_ADDR_PRT_FMT
		       ", address %s/%u, %u queue pair(s)", cfg->ports[i].name, cfg->ports[i].devargs,
		       pp->port_ids[i], RTE_ETHER_ADDR_BYTES(&mac), a, cfg->ports[i].prefixlen,
		       nworkers);
	}
	return pp;
fail:
	teardown(pp);
	return NULL;
}

void
pm_ports_stop(struct pm_ports *pp)
{
	unsigned int w;
	int r;

	pm_worker_quit();
	rte_eal_mp_wait_lcore();
	pp->launched = false;
	for (w = 0; w < pp->nworkers; w++) {
		const struct pm_worker_stats *s = &pp->workers[w]->stats;
		char drops[1024];
		size_t off = 0;

		drops[0] = '\0';
		for (r = 1; r < PM_DROP__COUNT; r++) {
			uint64_t v = atomic_load_explicit(&s->drop[r], memory_order_relaxed);

			if (v != 0 && off < sizeof(drops))
				off += (size_t)snprintf(drops + off, sizeof(drops) - off, " %s=%" PRIu64,
							pm_drop_name((enum pm_drop)r), v);
		}
		pm_log(PM_LOG_INFO, "worker %u (lcore %u): rx %" PRIu64 " tx %" PRIu64
		       " tx_full %" PRIu64 " arp_replies %" PRIu64 " echo_replies %" PRIu64
		       " ignored %" PRIu64 "; drops:%s", w, pp->workers[w]->lcore,
		       atomic_load_explicit(&s->rx, memory_order_relaxed),
		       atomic_load_explicit(&s->tx, memory_order_relaxed),
		       atomic_load_explicit(&s->tx_full, memory_order_relaxed),
		       atomic_load_explicit(&s->arp_replies, memory_order_relaxed),
		       atomic_load_explicit(&s->echo_replies, memory_order_relaxed),
		       atomic_load_explicit(&s->ignored, memory_order_relaxed),
		       drops[0] != '\0' ? drops : " none");
	}
	teardown(pp);
}

static uint64_t
rd(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
pm_ports_counters(struct pm_ports *pp, pm_ports_counter_fn emit, void *arg)
{
	uint64_t total[PM_DROP__COUNT];
	struct rte_eth_stats es;
	char name[64];
	unsigned int i, w;
	int r;

	for (i = 0; i < pp->nports; i++) {
		if (rte_eth_stats_get(pp->port_ids[i], &es) != 0)
			memset(&es, 0, sizeof(es));
#define PORT_COUNTER(field, value)						\
		do {								\
			snprintf(name, sizeof(name), "port.%s." field, pp->names[i]); \
			emit(arg, name, (value));				\
		} while (0)
		PORT_COUNTER("rx_packets", es.ipackets);
		PORT_COUNTER("rx_bytes", es.ibytes);
		PORT_COUNTER("rx_missed", es.imissed);
		PORT_COUNTER("rx_errors", es.ierrors);
		PORT_COUNTER("rx_nombuf", es.rx_nombuf);
		PORT_COUNTER("tx_packets", es.opackets);
		PORT_COUNTER("tx_bytes", es.obytes);
		PORT_COUNTER("tx_errors", es.oerrors);
#undef PORT_COUNTER
	}
	memset(total, 0, sizeof(total));
	for (w = 0; w < pp->nworkers; w++) {
		const struct pm_worker_stats *s = &pp->workers[w]->stats;

#define LCORE_COUNTER(field)							\
		do {								\
			snprintf(name, sizeof(name), "lcore.%u." #field, w);	\
			emit(arg, name, rd(&s->field));				\
		} while (0)
		LCORE_COUNTER(rx);
		LCORE_COUNTER(tx);
		LCORE_COUNTER(tx_full);
		LCORE_COUNTER(arp_replies);
		LCORE_COUNTER(echo_replies);
		LCORE_COUNTER(ignored);
#undef LCORE_COUNTER
		for (r = 1; r < PM_DROP__COUNT; r++) {
			uint64_t v = rd(&s->drop[r]);

			snprintf(name, sizeof(name), "lcore.%u.drop.%s", w,
				 pm_drop_name((enum pm_drop)r));
			emit(arg, name, v);
			total[r] += v;
		}
	}
	for (r = 1; r < PM_DROP__COUNT; r++) {
		snprintf(name, sizeof(name), "drop.%s", pm_drop_name((enum pm_drop)r));
		emit(arg, name, total[r]);
	}
}
