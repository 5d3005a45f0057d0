/*
 * worker.h -- a worker lcore's poll loop: RX, the first step of the packet
 * path (DESIGN.md "Data plane flow" 1: ARP and ICMP echo for our addresses),
 * TX of the replies.
 *
 * Owner: port.c allocates one struct pm_worker per worker lcore (cache
 * aligned, on that lcore's NUMA socket), fills it before the launch and
 * frees it after rte_eal_mp_wait_lcore(). While the loop runs, the worker
 * is the only writer of everything in it.
 * Threads: pm_worker_main() runs on its worker lcore; pm_worker_quit() on
 * any thread; the counters are read by the main (ctl) thread with relaxed
 * loads (single writer, STYLE.md 7).
 *
 * Fast path (STYLE.md 8): no allocation, locks, syscalls or logging. A
 * received mbuf is consumed: turned into a reply in place and queued for
 * TX, or freed and counted (stats.drop[reason] for a packet that failed a
 * check, stats.ignored for a valid one postmux does not answer yet).
 */
#ifndef PM_WORKER_H
#define PM_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include <rte_common.h>

#include "net/addr.h"
#include "net/drop.h"
#include "net/l3.h"

#define PM_WORKER_PORTS_MAX	16
#define PM_WORKER_BURST		32

/* One port as one worker sees it: its own RX/TX queue pair. */
struct pm_worker_port {
	uint16_t port_id;
	uint16_t queue;			/* the worker's index */
	struct pm_addr addr;		/* PM_AF_INET; ifc.addrs points here */
	struct pm_l3_if ifc;
};

/* Single-writer counters (the worker); read with relaxed loads. */
struct pm_worker_stats {
	_Atomic uint64_t rx;
	_Atomic uint64_t tx;
	_Atomic uint64_t tx_full;	/* replies the TX queue did not take (freed) */
	_Atomic uint64_t arp_replies;
	_Atomic uint64_t echo_replies;
	_Atomic uint64_t ignored;	/* valid but not answered: ARP replies,
					 * other ICMP, TCP (not handled yet) */
	_Atomic uint64_t drop[PM_DROP__COUNT];
};

struct pm_worker {
	unsigned int lcore;
	unsigned int index;		/* 0..workers-1: the queue on every port */
	unsigned int nports;
	struct pm_worker_port ports[PM_WORKER_PORTS_MAX];
	struct pm_worker_stats stats;
} __rte_cache_aligned;		/* 22.11 placement (STYLE.md B5) */

/*
 * The lcore function (rte_eal_remote_launch): @arg is the struct pm_worker.
 * Registers the lcore as a liburcu QSBR reader, polls its queue of every
 * port until pm_worker_quit(), unregisters and returns 0.
 */
int pm_worker_main(void *arg);

/* Ask every worker to return; they notice within one loop iteration. */
void pm_worker_quit(void);

#endif
