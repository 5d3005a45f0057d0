/*
 * port.c -- EAL, mbuf pool, ports and worker launch (port.h).
 */
#include "port.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "director/director.h"
#include "log.h"
#include "worker.h"

#define NB_RXD		1024	/* descriptors per RX queue */
#define NB_TXD		1024	/* descriptors per TX queue */
#define POOL_CACHE	256	/* per-lcore mempool cache */
#define POOL_MIN	8192
#define EAL_ARGS_MAX	128
#define POOL_UNRESOLVED	64	/* next hops whose held packets the pool covers */

struct pm_ports {
	struct rte_mempool *pool;
	struct pm_route_table routes;		/* read-only once built */
	struct pm_steer steer[PM_CONFIG_PORTS_MAX];	/* read-only once set */
	bool rss[PM_CONFIG_PORTS_MAX];
	struct rte_ring *inboxes[RTE_MAX_LCORE];	/* per worker index */
	pthread_mutex_t req_lock;		/* one worker request at a time */
	uint16_t ping_seq;			/* under req_lock */
	uint64_t kicks_lost;			/* ctl thread only: ring full */
	uint64_t kicks_unmatched;		/* ctl thread only: KICK-ALT */
	struct pm_engine_params engine_params;
	struct pm_engine_listener listeners[PM_CONFIG_LISTENERS_MAX];
	char hostname[256];			/* the engine's params point here */
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

/*
 * Check that every CPU a CPU list names is one this process may use, so
 * that a list the machine lacks gets a clear message rather than EAL's
 * usage text. @list is "-l"'s "1,3-5" or, with @lcores_form, "--lcores"'s
 * "0@0,(1-2)@(1,3),4" (the CPUs are after '@', else the lcore numbers).
 * Returns 0, or -1 with the message in @err.
 */
static int
check_cpu_list(const char *opt, const char *list, bool lcores_form, const cpu_set_t *set,
	       char *err, size_t errlen)
{
	const char *p = list;

	while (*p != '\0') {
		const char *elem = p, *cpus, *e;
		int depth = 0;

		/* One top-level element: up to a comma outside parentheses. */
		for (e = p; *e != '\0' && !(*e == ',' && depth == 0); e++)
			depth += *e == '(' ? 1 : *e == ')' ? -1 : 0;
		cpus = elem;
		if (lcores_form) {
			const char *at = memchr(elem, '@', (size_t)(e - elem));

			if (at != NULL)
				cpus = at + 1;
		}
		while (cpus < e) {
			char *q;
			unsigned long a, b;

			if (*cpus < '0' || *cpus > '9') {
				cpus++;
				continue;
			}
			a = strtoul(cpus, &q, 10);
			b = a;
			if (*q == '-' && q[1] >= '0' && q[1] <= '9')
				b = strtoul(q + 1, &q, 10);
			for (; a <= b && a < CPU_SETSIZE + 1UL; a++) {
				if (a >= CPU_SETSIZE || !CPU_ISSET(a, set)) {
					errf(err, errlen, "postmux_dpdk_args: %s %s names CPU %lu, which "
					     "this process may not use (%d CPUs available)", opt, list,
					     a, CPU_COUNT(set));
					return -1;
				}
			}
			cpus = q;
		}
		p = *e == ',' ? e + 1 : e;
	}
	return 0;
}

static int
check_lcores(char **argv, int argc, char *err, size_t errlen)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;	/* EAL will say */
	for (i = 1; i < argc; i++) {
		const char *v = NULL;
		bool lf = false;

		if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			v = argv[i + 1];
		else if (strncmp(argv[i], "-l", 2) == 0 && argv[i][2] != '\0')
			v = argv[i] + 2;
		else if (strcmp(argv[i], "--lcores") == 0 && i + 1 < argc)
			v = argv[i + 1], lf = true;
		else if (strncmp(argv[i], "--lcores=", 9) == 0)
			v = argv[i] + 9, lf = true;
		if (v != NULL &&
		    check_cpu_list(lf ? "--lcores" : "-l", v, lf, &set, err, errlen) < 0)
			return -1;
	}
	return 0;
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
		/* A NIC by its PCI address goes on the allow list. */
		n = snprintf(p, (size_t)(end - p), "%s%s",
			     strncmp(cfg->ports[i].devargs, "net_", 4) == 0 ? "--vdev=" : "--allow=",
			     cfg->ports[i].devargs);
		if (n < 0 || n >= end - p)
			goto toolong;
		argv[argc++] = p;
		p += n + 1;
	}
	if (names_lcores(argv, argc)) {
		if (check_lcores(argv, argc, err, errlen) < 0)
			return -1;
	} else {
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

/* ---- DPDK telemetry (dpdk-telemetry.py) ------------------------------------
 *
 * The callbacks run on DPDK's telemetry thread. tel_lock keeps the ports
 * alive while one runs: pm_ports_stop() clears tel_ports under it first.
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pm_ports *tel_ports;

/* Telemetry names allow only [A-Za-z0-9_/]: counter names are given with
 * '/' for '.' and '_' for '-' ("lcore/0/drop/IP_CSUM"). */
static void
tel_name(char *out, size_t size, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < size; i++)
		out[i] = name[i] == '.' ? '/' : name[i] == '-' ? '_' : name[i];
	out[i] = '\0';
}

struct tel_emit {
	struct rte_tel_data *d;
	char prefix[RTE_TEL_MAX_STRING_LEN];
	size_t plen;
	int full;
};

static void
tel_counter(void *arg, const char *name, uint64_t value)
{
	struct tel_emit *te = arg;
	char tn[RTE_TEL_MAX_STRING_LEN];

	tel_name(tn, sizeof(tn), name);
	if (strncmp(tn, te->prefix, te->plen) != 0 || te->full)
		return;
	if (rte_tel_data_add_dict_u64(te->d, tn, value) != 0)
		te->full = 1;
}

/* /postmux/counters[,<prefix>]: every counter whose name starts with the
 * prefix, '.' or '/' separated (a telemetry dict holds at most 256: ask for
 * lcore/0/ and so on). */
static int
tel_counters(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct tel_emit te;

	(void)cmd;
	memset(&te, 0, sizeof(te));
	te.d = d;
	tel_name(te.prefix, sizeof(te.prefix), params != NULL ? params : "");
	te.plen = strlen(te.prefix);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	if (tel_ports != NULL)
		pm_ports_counters(tel_ports, tel_counter, &te);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

/* /postmux/neigh[,<lcore index>]: one worker's neighbour table, a list of
 * "<port> <address> <mac> <state> age_ms=<n> held=<n>". */
static int
tel_neigh(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static struct pm_neigh_info info[RTE_TEL_MAX_ARRAY_ENTRIES];
	unsigned int worker = params != NULL ? (unsigned int)strtoul(params, NULL, 10) : 0;
	size_t n, i;

	(void)cmd;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&tel_lock);
	if (tel_ports == NULL || worker >= tel_ports->nworkers) {
		pthread_mutex_unlock(&tel_lock);
		return -EINVAL;
	}
	n = pm_ports_neigh_dump(tel_ports, worker, info, RTE_DIM(info), NULL);
	if (n > RTE_DIM(info))
		n = RTE_DIM(info);
	for (i = 0; i < n; i++) {
		char a[PM_ADDR_STRLEN], val[RTE_TEL_MAX_STRING_LEN];
		const uint8_t *m = info[i].mac;

		pm_addr_format(&info[i].addr, a, sizeof(a));
		snprintf(val, sizeof(val), "%s %s %02x:%02x:%02x:%02x:%02x:%02x %s age_ms=%" PRIu64
			 " held=%u",
			 info[i].port < tel_ports->nports ? tel_ports->names[info[i].port] : "?", a,
			 m[0], m[1], m[2], m[3], m[4], m[5],
			 pm_neigh_state_name((enum pm_neigh_state)info[i].state), info[i].age_ms,
			 (unsigned int)info[i].held);
		rte_tel_data_add_array_string(d, val);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

/* /postmux/routes: a list of "<prefix>/<len> <port> connected|via <gw>". */
static int
tel_routes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	size_t i;

	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	pthread_mutex_lock(&tel_lock);
	for (i = 0; tel_ports != NULL && i < pm_route_count(&tel_ports->routes); i++) {
		const struct pm_route *r = pm_route_get(&tel_ports->routes, i);
		const char *port = r->port < tel_ports->nports ? tel_ports->names[r->port] : "?";
		char p[PM_ADDR_STRLEN], g[PM_ADDR_STRLEN], val[2 * RTE_TEL_MAX_STRING_LEN];

		pm_addr_format(&r->prefix, p, sizeof(p));
		if (r->gw.family == PM_AF_NONE) {
			snprintf(val, sizeof(val), "%s/%u %s connected", p, r->len, port);
		} else {
			pm_addr_format(&r->gw, g, sizeof(g));
			snprintf(val, sizeof(val), "%s/%u %s via %s", p, r->len, port, g);
		}
		rte_tel_data_add_array_string(d, val);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

/* /postmux/ping,<IPv4 address>: one echo request from worker 0 through the
 * routes and the neighbour table; waits up to 2 s for the answer. */
static int
tel_ping(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct pm_addr dst;
	uint64_t rtt_us = 0;
	int rc;

	(void)cmd;
	if (params == NULL || pm_addr_parse(&dst, params, strlen(params)) != 0 ||
	    dst.family != PM_AF_INET)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "dst", params);
	pthread_mutex_lock(&tel_lock);
	rc = tel_ports != NULL ? pm_ports_ping(tel_ports, &dst, 2000, &rtt_us) : -ENODEV;
	pthread_mutex_unlock(&tel_lock);
	rte_tel_data_add_dict_string(d, "result", rc > 0 ? "answered" : rc == 0 ? "no answer" :
				     strerror(-rc));
	if (rc > 0)
		rte_tel_data_add_dict_u64(d, "rtt_us", rtt_us);
	return 0;
}

static void
telemetry_register(struct pm_ports *pp)
{
	static bool registered;

	pthread_mutex_lock(&tel_lock);
	tel_ports = pp;
	pthread_mutex_unlock(&tel_lock);
	if (registered)
		return;
	registered = true;
	rte_telemetry_register_cmd("/postmux/counters", tel_counters,
				   "postmux counters whose names start with the parameter. "
				   "Parameters: string prefix (e.g. port. or lcore.0.)");
	rte_telemetry_register_cmd("/postmux/neigh", tel_neigh,
				   "A worker's neighbour (ARP) table. Parameters: int lcore index");
	rte_telemetry_register_cmd("/postmux/routes", tel_routes,
				   "The routing table. Takes no parameters");
	rte_telemetry_register_cmd("/postmux/ping", tel_ping,
				   "Send one ICMP echo request from the data plane and wait up to "
				   "2 s for the answer. Parameters: string IPv4 address");
}

/*
 * RSS where the port has it and several queues are used: our symmetric key
 * on IPv4 and IPv4/TCP, and the software copy of the RETA that the workers
 * check ownership against (net/steer.h). Otherwise the software RETA spreads
 * over the queues as a NIC would and the workers redirect every packet that
 * arrives elsewhere.
 */
static void
rss_conf(const struct rte_eth_dev_info *info, unsigned int nq, struct rte_eth_conf *conf,
	 uint8_t *key)
{
	uint64_t hf = (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP) &
		      info->flow_type_rss_offloads;

	if (nq < 2 || hf == 0 || info->hash_key_size != PM_STEER_KEY_LEN)
		return;
	memcpy(key, pm_steer_symmetric_key, PM_STEER_KEY_LEN);
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = key;
	conf->rx_adv_conf.rss_conf.rss_key_len = PM_STEER_KEY_LEN;
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
}

/* After the start: read the RETA the NIC uses into @st (queried, because
 * drivers differ in their defaults). False if the port does not do RSS. */
static bool
rss_reta(uint16_t pid, const struct rte_eth_dev_info *info, unsigned int nq,
	 struct pm_steer *st)
{
	struct rte_eth_rss_reta_entry64 reta[PM_STEER_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	unsigned int size = info->reta_size, i;

	if (size == 0 || size > PM_STEER_RETA_MAX || (size & (size - 1)) != 0 ||
	    size < RTE_ETH_RETA_GROUP_SIZE)
		return false;
	memset(reta, 0, sizeof(reta));
	for (i = 0; i < size / RTE_ETH_RETA_GROUP_SIZE; i++)
		reta[i].mask = UINT64_MAX;
	if (rte_eth_dev_rss_reta_query(pid, reta, (uint16_t)size) != 0)
		return false;
	if (pm_steer_init(st, pm_steer_symmetric_key, size, nq) != 0)
		return false;
	for (i = 0; i < size; i++) {
		uint16_t q = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];

		if (q >= nq)
			return false;
		st->reta[i] = q;
	}
	return true;
}

static int
port_setup(struct pm_ports *pp, const struct pm_config_port *cp, unsigned int nq,
	   char *err, size_t errlen)
{
	char dev[PM_CONFIG_DEVARGS_MAX];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint8_t key[PM_STEER_KEY_LEN];
	uint16_t pid, nb_rxd = NB_RXD, nb_txd = NB_TXD;
	unsigned int q, idx = pp->nconfigured;
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
	rss_conf(&info, nq, &conf, key);
	ret = rte_eth_dev_configure(pid, (uint16_t)nq, (uint16_t)nq, &conf);
	if (ret != 0 && conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {
		/* Some drivers advertise RSS but refuse our key: without. */
		memset(&conf, 0, sizeof(conf));
		ret = rte_eth_dev_configure(pid, (uint16_t)nq, (uint16_t)nq, &conf);
	}
	if (ret != 0) {
		errf(err, errlen, "port %s: rte_eth_dev_configure: %s", cp->name, rte_strerror(-ret));
		return -1;
	}
	pp->port_ids[idx] = pid;
	snprintf(pp->names[idx], sizeof(pp->names[0]), "%s", cp->name);
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
	pp->rss[idx] = conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS &&
		       rss_reta(pid, &info, nq, &pp->steer[idx]);
	if (!pp->rss[idx])
		(void)pm_steer_init(&pp->steer[idx], pm_steer_symmetric_key, 128, nq);
	return 0;
}

static void
free_inbox(struct rte_ring *r)
{
	void *m;

	if (r == NULL)
		return;
	/* Handed-over packets nobody took (the workers have stopped). */
	while (rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

static void
teardown(struct pm_ports *pp)
{
	unsigned int i;

	pthread_mutex_lock(&tel_lock);
	tel_ports = NULL;
	pthread_mutex_unlock(&tel_lock);
	if (pp->launched) {
		pm_worker_quit();
		rte_eal_mp_wait_lcore();
		pp->launched = false;
	}
	for (i = 0; i < pp->nconfigured; i++) {
		if (i < pp->nports)
			rte_eth_dev_stop(pp->port_ids[i]);
		rte_eth_dev_close(pp->port_ids[i]);
	}
	for (i = 0; i < pp->nworkers; i++) {
		free_inbox(pp->inboxes[i]);
		rte_ring_free(pp->workers[i]->pins);
		rte_ring_free(pp->workers[i]->kicks);
		rte_free(pp->workers[i]->neigh);
		rte_free(pp->workers[i]->engine_mem);
		rte_free(pp->workers[i]);
	}
	rte_mempool_free(pp->pool);
	rte_eal_cleanup();
	free(pp);
}

static int
worker_setup(struct pm_ports *pp, const struct pm_config *cfg, struct pm_director *director,
	     unsigned int lcore, unsigned int w, char *err, size_t errlen)
{
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct pm_worker *wk;
	char name[RTE_RING_NAMESIZE];
	struct pm_neigh_params np = cfg->neigh;
	size_t nsize = pm_neigh_memsize(&np), v;
	unsigned int i;
	int ret;

	/* A seed per table: neighbours' addresses come from the wire. */
	np.seed = rte_rand();

	wk = rte_zmalloc_socket("pm_worker", sizeof(*wk), RTE_CACHE_LINE_SIZE, socket);
	if (wk == NULL) {
		errf(err, errlen, "out of memory for the worker of lcore %u", lcore);
		return -1;
	}
	pp->workers[pp->nworkers++] = wk;
	wk->lcore = lcore;
	wk->index = w;
	wk->nworkers = cfg->lcores;
	wk->nports = pp->nports;
	wk->inboxes = pp->inboxes;
	wk->pool = pp->pool;
	wk->routes = &pp->routes;
	wk->director = director;
	wk->tsc_per_ms = rte_get_tsc_hz() / 1000;
	if (wk->tsc_per_ms == 0)
		wk->tsc_per_ms = 1;
	snprintf(name, sizeof(name), "pm_inbox_%u", w);
	pp->inboxes[w] = rte_ring_create(name, PM_WORKER_INBOX_SIZE, socket, RING_F_SC_DEQ);
	if (pp->inboxes[w] == NULL) {
		errf(err, errlen, "cannot create the inbox ring of lcore %u: %s", lcore,
		     rte_strerror(rte_errno));
		return -1;
	}
	wk->inbox = pp->inboxes[w];
	snprintf(name, sizeof(name), "pm_kicks_%u", w);
	wk->kicks = rte_ring_create_elem(name, sizeof(struct pm_worker_kick),
					 PM_WORKER_KICKS_SIZE, socket,
					 RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (wk->kicks == NULL) {
		errf(err, errlen, "cannot create the kick ring of lcore %u: %s", lcore,
		     rte_strerror(rte_errno));
		return -1;
	}
	snprintf(name, sizeof(name), "pm_pins_%u", w);
	wk->pins = rte_ring_create(name, PM_WORKER_PINS_SIZE, socket,
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (wk->pins == NULL) {
		errf(err, errlen, "cannot create the pin ring of lcore %u: %s", lcore,
		     rte_strerror(rte_errno));
		return -1;
	}
	wk->neigh = rte_zmalloc_socket("pm_neigh", nsize, RTE_CACHE_LINE_SIZE, socket);
	if (wk->neigh == NULL) {
		errf(err, errlen, "out of memory for the neighbour table of lcore %u (%zu bytes)",
		     lcore, nsize);
		return -1;
	}
	ret = pm_neigh_init(wk->neigh, nsize, &np, &pm_worker_neigh_ops, wk);
	if (ret != 0) {
		errf(err, errlen, "neighbour table: %s", strerror(-ret));
		return -1;
	}
	if (pp->engine_params.nlisteners > 0) {
		struct pm_engine_params ep = pp->engine_params;
		struct pm_engine_ops ops = pm_worker_engine_ops;
		size_t esize = pm_engine_memsize(&ep);
		uint64_t r1 = rte_rand(), r2 = rte_rand();
		struct timespec ts;

		memcpy(ep.flow_key, &r1, 8);
		memcpy(ep.flow_key + 8, &r2, 8);
		ops.arg = wk;
		wk->engine_mem = rte_zmalloc_socket("pm_engine", esize, 64, socket);
		if (wk->engine_mem == NULL) {
			errf(err, errlen, "out of memory for the TCP engine of lcore %u (%zu MB: "
			     "postmux_sessions %u, postmux_prelogin_sessions %u; give EAL more "
			     "memory or lower them)", lcore, esize >> 20, ep.sessions, ep.prelogin);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		wk->unix_offset_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
				     (int64_t)(rte_rdtsc() / wk->tsc_per_ms);
		wk->engine = pm_engine_init(wk->engine_mem, esize, &ep, &ops,
					    rte_rdtsc() / wk->tsc_per_ms);
		if (wk->engine == NULL) {
			errf(err, errlen, "cannot set up the TCP engine of lcore %u", lcore);
			return -1;
		}
	}
	for (i = 0; i < pp->nports; i++) {
		struct pm_worker_port *p = &wk->ports[i];
		struct rte_ether_addr mac;

		p->port_id = pp->port_ids[i];
		p->queue = (uint16_t)w;
		p->steer = &pp->steer[i];
		p->addrs[0] = cfg->ports[i].addr;
		p->ifc.naddrs = 1;
		for (v = 0; v < cfg->nvips; v++) {
			if (cfg->vips[v].port != i || p->ifc.naddrs == PM_WORKER_ADDRS_MAX)
				continue;
			p->addrs[p->ifc.naddrs++] = cfg->vips[v].addr;
		}
		rte_eth_macaddr_get(p->port_id, &mac);
		memcpy(p->ifc.mac, mac.addr_bytes, PM_ETH_ALEN);
		p->ifc.addrs = p->addrs;
	}
	return 0;
}

/* The login machine of a listener's protocol, or -1 if none is served. */
static int
login_proto(enum pm_config_proto p)
{
	switch (p) {
	case PM_PROTO_IMAP:
		return PM_LOGIN_IMAP;
	case PM_PROTO_SUBMISSION:
		return PM_LOGIN_SUBMISSION;
	case PM_PROTO_POP3:
		return PM_LOGIN_POP3;
	case PM_PROTO_SIEVE:
		return PM_LOGIN_SIEVE;
	default:
		return -1;
	}
}

/* The TCP engine's settings, shared by every worker but for the flow key:
 * the listeners (IMAP only, so far) and one cookie key for all lcores (the
 * ACK that completes a handshake may reach another lcore than the SYN). */
static int
engine_params(struct pm_ports *pp, const struct pm_config *cfg, char *err, size_t errlen)
{
	struct pm_engine_params *ep = &pp->engine_params;
	uint64_t r1 = rte_rand(), r2 = rte_rand(), r3 = rte_rand(), r4 = rte_rand();
	size_t i;

	pm_engine_params_defaults(ep);
	ep->sessions = cfg->sessions;
	ep->prelogin = cfg->prelogin;
	ep->syn_backlog = cfg->syn_backlog;
	/* As Dovecot's proxies: refresh live users' pins every
	 * director_user_expire / 2. */
	ep->refresh_ms = cfg->director.user_expire_s * 1000u / 2;
	memcpy(ep->cookie_key, &r1, 8);
	memcpy(ep->cookie_key + 8, &r2, 8);
	memcpy(ep->name_key, &r3, 8);
	memcpy(ep->name_key + 8, &r4, 8);
	for (i = 0; i < cfg->nlisteners; i++) {
		const struct pm_config_listener *l = &cfg->listeners[i];
		char a[PM_ADDR_STRLEN];

		int proto = login_proto(l->proto);

		if (proto < 0) {
			pm_addr_format(&l->addr, a, sizeof(a));
			errf(err, errlen, "postmux_listener %s %u %s: not served yet", a, l->port,
			     pm_config_proto_name(l->proto));
			return -1;
		}
		pp->listeners[i].addr = l->addr;
		pp->listeners[i].port = l->port;
		pp->listeners[i].backend_port = l->backend_port;
		pp->listeners[i].proto = (uint8_t)proto;
	}
	ep->listeners = pp->listeners;
	ep->nlisteners = cfg->nlisteners;
	snprintf(pp->hostname, sizeof(pp->hostname), "%s", cfg->hostname);
	ep->login.submission.hostname = pp->hostname;
	if (ep->nlisteners > 0 && pm_engine_memsize(ep) == 0) {
		errf(err, errlen, "the TCP engine refuses postmux_sessions %u / "
		     "postmux_prelogin_sessions %u", ep->sessions, ep->prelogin);
		return -1;
	}
	return 0;
}

struct pm_ports *
pm_ports_start(const struct pm_config *cfg, const char *argv0, struct pm_director *director,
	       char *err, size_t errlen)
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
	pthread_mutex_init(&pp->req_lock, NULL);
	if (pm_config_routes(cfg, &pp->routes, err, errlen) != 0) {
		free(pp);
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
	 * Pool size (docs/configuration.md, "The mbuf pool"): every descriptor
	 * of every queue may hold an mbuf (RX rings are refilled, TX rings
	 * hold mbufs until completion); each worker may hold a TX burst per
	 * port, an RX burst, a full inbox, and the packets its neighbour
	 * table holds for PM_POOL_UNRESOLVED next hops at once; the per-lcore
	 * caches may hide POOL_CACHE each:
	 *   ports * workers * (NB_RXD + NB_TXD + BURST)
	 *   + workers * (BURST + INBOX + neigh_queue * POOL_UNRESOLVED)
	 *   + (workers + 1) * POOL_CACHE,
	 * at least POOL_MIN. Beyond that, RX counts rx_nombuf instead.
	 */
	nmbuf = (unsigned int)cfg->nports * nworkers * (NB_RXD + NB_TXD + PM_WORKER_BURST) +
		nworkers * (PM_WORKER_BURST + PM_WORKER_INBOX_SIZE +
			    cfg->neigh.qlen * POOL_UNRESOLVED) +
		(nworkers + 1) * POOL_CACHE;
	if (nmbuf < POOL_MIN)
		nmbuf = POOL_MIN;
	pp->pool = rte_pktmbuf_pool_create("pm_mbuf", nmbuf, POOL_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pp->pool == NULL) {
		errf(err, errlen, "cannot create the mbuf pool (%u mbufs of %u bytes): %s "
		     "(give EAL more memory: -m, or hugepages)", nmbuf,
		     (unsigned int)RTE_MBUF_DEFAULT_BUF_SIZE, rte_strerror(rte_errno));
		goto fail;
	}
	for (i = 0; i < cfg->nports; i++) {
		if (port_setup(pp, &cfg->ports[i], nworkers, err, errlen) < 0)
			goto fail;
	}
	if (engine_params(pp, cfg, err, errlen) < 0)
		goto fail;
	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (w == nworkers)
			break;
		if (worker_setup(pp, cfg, director, lcore, w, err, errlen) < 0)
			goto fail;
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
		       ", address %s/%u (+%zu VIPs), %u queue pair(s), %s", cfg->ports[i].name,
		       cfg->ports[i].devargs, pp->port_ids[i], RTE_ETHER_ADDR_BYTES(&mac), a,
		       cfg->ports[i].prefixlen, pp->workers[0]->ports[i].ifc.naddrs - 1,
		       nworkers, pp->rss[i] ? "RSS" : nworkers > 1 ?
		       "no RSS: software steering" : "one queue");
	}
	pm_log(PM_LOG_INFO, "%zu route(s); mbuf pool %u; neighbour table %u entries per lcore",
	       pm_route_count(&pp->routes), nmbuf, cfg->neigh.capacity);
	telemetry_register(pp);
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

	/* Telemetry first: its callbacks may wait for a worker. */
	pthread_mutex_lock(&tel_lock);
	tel_ports = NULL;
	pthread_mutex_unlock(&tel_lock);
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
		       " redirected %" PRIu64 " inbox %" PRIu64 " ignored %" PRIu64 "; drops:%s",
		       w, pp->workers[w]->lcore,
		       atomic_load_explicit(&s->rx, memory_order_relaxed),
		       atomic_load_explicit(&s->tx, memory_order_relaxed),
		       atomic_load_explicit(&s->tx_full, memory_order_relaxed),
		       atomic_load_explicit(&s->arp_replies, memory_order_relaxed),
		       atomic_load_explicit(&s->echo_replies, memory_order_relaxed),
		       atomic_load_explicit(&s->redirected, memory_order_relaxed),
		       atomic_load_explicit(&s->inbox, memory_order_relaxed),
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
	char name[128];	/* at most 63 used: port names < 32, lcores < 64 */
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
		const struct pm_worker *wk = pp->workers[w];
		const struct pm_worker_stats *s = &wk->stats;

#define LCORE_COUNTER(field)							\
		do {								\
			snprintf(name, sizeof(name), "lcore.%u." #field, w);	\
			emit(arg, name, rd(&s->field));				\
		} while (0)
		LCORE_COUNTER(rx);
		LCORE_COUNTER(tx);
		LCORE_COUNTER(tx_full);
		LCORE_COUNTER(arp_replies);
		LCORE_COUNTER(arp_requests);
		LCORE_COUNTER(echo_replies);
		LCORE_COUNTER(pings);
		LCORE_COUNTER(ping_replies);
		LCORE_COUNTER(ignored);
		LCORE_COUNTER(redirected);
		LCORE_COUNTER(inbox);
		LCORE_COUNTER(neigh_entries);
		LCORE_COUNTER(neigh_probes);
		LCORE_COUNTER(neigh_resolved);
		LCORE_COUNTER(neigh_failed);
		LCORE_COUNTER(neigh_held);
		LCORE_COUNTER(neigh_released);
		LCORE_COUNTER(backends);
		LCORE_COUNTER(pin_requests);
		LCORE_COUNTER(pin_ring_full);
		LCORE_COUNTER(kicks);
		LCORE_COUNTER(sessions);
		LCORE_COUNTER(prelogin);
		LCORE_COUNTER(syn_backlog);
		if (wk->engine != NULL) {
			static const char *const tcp_names[] = {
#define TCP_NAME(name) #name,
				PM_WORKER_TCP_NAMES(TCP_NAME)
#undef TCP_NAME
			};

			static const char *const proto_names[] = {
#define PROTO_NAME(name) #name,
				PM_WORKER_PROTO_NAMES(PROTO_NAME)
#undef PROTO_NAME
			};
			unsigned int pr;

			for (i = 0; i < PM_WORKER_TCP_COUNTERS; i++) {
				snprintf(name, sizeof(name), "lcore.%u.tcp.%s", w, tcp_names[i]);
				emit(arg, name, rd(&s->tcp[i]));
			}
			for (pr = 0; pr < PM_LOGIN__COUNT; pr++)
				for (i = 0; i < PM_WORKER_PROTO_COUNTERS; i++) {
					snprintf(name, sizeof(name), "lcore.%u.%s.%s", w,
						 pm_login_proto_name((enum pm_login_proto)pr),
						 proto_names[i]);
					emit(arg, name, rd(&s->proto[pr][i]));
				}
		}
#undef LCORE_COUNTER
		for (i = 0; i < pp->nports; i++) {
			const struct pm_worker_port_stats *ps = &wk->ports[i].stats;

#define LPORT_COUNTER(field)							\
			do {							\
				snprintf(name, sizeof(name), "lcore.%u.port.%s." #field, w, \
					 pp->names[i]);				\
				emit(arg, name, rd(&ps->field));		\
			} while (0)
			LPORT_COUNTER(rx_packets);
			LPORT_COUNTER(rx_bytes);
			LPORT_COUNTER(tx_packets);
			LPORT_COUNTER(tx_bytes);
#undef LPORT_COUNTER
		}
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
	/* Written by the ctl thread, which is the thread that calls this for
	 * postmuxctl stats (telemetry reads them racily: monotonic counters). */
	emit(arg, "kicks.lost", pp->kicks_lost);
	emit(arg, "kicks.unmatched", pp->kicks_unmatched);
}

void
pm_ports_kick(struct pm_ports *pp, struct pm_director *d, const struct pm_kick *k)
{
	struct pm_worker_kick wk;
	unsigned int w;

	memset(&wk, 0, sizeof(wk));
	switch (k->kind) {
	case PM_KICK_HASH:
		wk.user_hash = k->user_hash;
		if (k->has_except && k->except_host.family == PM_AF_INET) {
			wk.has_except = 1;
			memcpy(wk.except, k->except_host.bytes, 4);
		}
		break;
	case PM_KICK_USER:
		/* Sessions of that name only, as Dovecot compares names. */
		wk.user_hash = pm_director_hash(d, k->user, strlen(k->user));
		wk.name_check = pm_engine_name_check(pp->engine_params.name_key, k->user,
						     strlen(k->user));
		wk.has_name = 1;
		break;
	case PM_KICK_ALT:
		/* No passdb fields are known for sessions: nothing matches. */
		pp->kicks_unmatched++;
		return;
	}
	for (w = 0; w < pp->nworkers; w++) {
		/* The ring holds 16384: a flush paces its kicks far below. */
		if (rte_ring_sp_enqueue_elem(pp->workers[w]->kicks, &wk, sizeof(wk)) != 0)
			pp->kicks_lost++;
	}
}

void
pm_ports_pins(struct pm_ports *pp, struct pm_director *d, uint64_t now_ms)
{
	void *req[64];
	unsigned int w, n, i;

	for (w = 0; w < pp->nworkers; w++) {
		struct rte_ring *r = pp->workers[w]->pins;

		if (r == NULL)
			continue;
		while ((n = rte_ring_sc_dequeue_burst(r, req, RTE_DIM(req), NULL)) > 0) {
			for (i = 0; i < n; i++) {
				struct pm_dir_answer ans;

				if (PM_WORKER_PIN_HOST(req[i]) == PM_WORKER_PIN_REFRESH)
					(void)pm_director_refresh(d, PM_WORKER_PIN_HASH(req[i]),
								  now_ms);
				else
					(void)pm_director_login(d, 0, PM_WORKER_PIN_HASH(req[i]),
								PM_WORKER_PIN_HOST(req[i]), now_ms,
								&ans);
			}
		}
	}
}

static uint64_t
ping_replies(struct pm_ports *pp)
{
	uint64_t n = 0;
	unsigned int w;

	for (w = 0; w < pp->nworkers; w++)
		n += rd(&pp->workers[w]->stats.ping_replies);
	return n;
}

int
pm_ports_ping(struct pm_ports *pp, const struct pm_addr *dst, unsigned int timeout_ms,
	      uint64_t *rtt_us)
{
	const struct timespec ts = { 0, 200 * 1000 };
	uint64_t before, start, hz = rte_get_timer_hz();
	int rc;

	if (pp->nworkers == 0 || !pp->launched)
		return -ENODEV;
	pthread_mutex_lock(&pp->req_lock);
	before = ping_replies(pp);
	start = rte_get_timer_cycles();
	rc = pm_worker_ping(pp->workers[0], dst, ++pp->ping_seq);
	pthread_mutex_unlock(&pp->req_lock);
	if (rc < 0)
		return rc;
	/* The answer may reach any worker (its owner): watch them all. */
	while (ping_replies(pp) == before) {
		if (rte_get_timer_cycles() - start > hz / 1000 * timeout_ms)
			return 0;
		nanosleep(&ts, NULL);
	}
	if (rtt_us != NULL)
		*rtt_us = (rte_get_timer_cycles() - start) * 1000000 / hz;
	return 1;
}

size_t
pm_ports_neigh_dump(struct pm_ports *pp, unsigned int worker, struct pm_neigh_info *out,
		    size_t max, uint64_t *now_ms)
{
	struct pm_worker *w;
	size_t n;

	if (worker >= pp->nworkers || !pp->launched)
		return 0;
	w = pp->workers[worker];
	pthread_mutex_lock(&pp->req_lock);
	pm_worker_request(w, PM_WORKER_REQ_NEIGH_DUMP, out, max);
	n = w->req.result;
	if (now_ms != NULL)
		*now_ms = w->req.now_ms;
	pthread_mutex_unlock(&pp->req_lock);
	return n;
}
