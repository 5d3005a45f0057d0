/*
 * port.h -- the data plane's DPDK side: EAL, the mbuf pool, the ports and
 * the worker lcores.
 *
 * Owner: a struct pm_ports, created by pm_ports_start() and released by
 * pm_ports_stop(), which owns the mempool, the ports and the struct
 * pm_worker of every worker lcore.
 * Threads: the main thread only (the EAL main lcore, which is also the ctl
 * thread). The workers run on the other lcores (worker.h).
 *
 * Used only when the configuration names at least one postmux_port; without
 * ports the data plane never initialises EAL.
 */
#ifndef PM_PORT_H
#define PM_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "net/addr.h"
#include "net/neigh.h"

struct pm_ports;
struct pm_director;

/*
 * rte_eal_init() with cfg->dpdk_args, a --vdev=<devargs> per port and, if
 * the arguments name no lcores, an -l list of 1 + cfg->lcores CPUs from the
 * process's affinity; then the routing table, the mbuf pool, every port with
 * one RX and one TX queue per worker (RSS with our key where the port has
 * it), started; then the workers (each with its neighbour table and inbox),
 * launched; then the telemetry commands /postmux/counters, /postmux/neigh
 * and /postmux/routes. The workers keep the next hops of @director's
 * backends resolved (@director may be NULL; it must outlive the ports).
 * Returns NULL with
 * a message in @err on failure (after EAL init, what was set up is undone
 * and rte_eal_cleanup() has run; EAL cannot be initialised twice).
 * Allocates.
 */
struct pm_ports *pm_ports_start(const struct pm_config *cfg, const char *argv0,
				struct pm_director *director, char *err, size_t errlen);

/* Receives one counter: @name (e.g. "port.client.rx_packets",
 * "lcore.0.drop.IP_CSUM"; [a-z0-9_.A-Z-]+, at most 63 bytes) and its
 * value. */
typedef void (*pm_ports_counter_fn)(void *arg, const char *name, uint64_t value);

/*
 * Report every counter of the ports and the workers through @emit: per port
 * (the ethdev's own statistics), per worker lcore, and the drop reasons
 * summed over the workers. Counters are monotonic; a reason that never
 * happened is reported as 0 so that the set of names is fixed for a given
 * configuration. Main (ctl) thread or any non-worker thread; reads the
 * workers' single-writer counters with relaxed loads; does not allocate.
 */
void pm_ports_counters(struct pm_ports *pp, pm_ports_counter_fn emit, void *arg);

/*
 * Copy worker @worker's neighbour table (at most @max entries) into @out;
 * returns the number of live entries, which may exceed @max, and the
 * worker's clock in *@now_ms (may be NULL). 0 for an unknown worker. Waits
 * for the worker (one poll loop); any non-worker thread; serialised.
 */
size_t pm_ports_neigh_dump(struct pm_ports *pp, unsigned int worker, struct pm_neigh_info *out,
			   size_t max, uint64_t *now_ms);

/*
 * Send one ICMP echo request to @dst from worker 0 (from the address of the
 * port its route picks, through the neighbour table) and wait up to
 * @timeout_ms for an answer on any worker. Returns 1 answered (*@rtt_us
 * set, may be NULL), 0 no answer, or the worker's error (-ENETUNREACH no
 * route, -EHOSTUNREACH next hop failed ARP, -ENOBUFS, -ENOSPC; -ENODEV no
 * worker). Any non-worker thread; blocks; one ping at a time per process is
 * enough for a diagnostic (concurrent ones may see each other's answers).
 */
int pm_ports_ping(struct pm_ports *pp, const struct pm_addr *dst, unsigned int timeout_ms,
		  uint64_t *rtt_us);

struct pm_kick;

/*
 * Hand a director kick to every worker (through its kick ring): the
 * spliced sessions of that user hash (except on the named backend) are
 * closed. A kick by user name kicks by the name's hash (@d hashes it); a
 * kick by passdb field matches nothing (counted). The ctl thread only.
 */
void pm_ports_kick(struct pm_ports *pp, struct pm_director *d, const struct pm_kick *k);

/*
 * Apply the workers' pin requests to @d (pm_director_login() for every
 * login a worker sent to a backend): the ctl thread, which is the
 * director's writer, calls it from its loop. Does not block.
 */
void pm_ports_pins(struct pm_ports *pp, struct pm_director *d, uint64_t now_ms);

/* Stop the workers and wait for them, log each port's counters, stop and
 * close the ports, free everything and call rte_eal_cleanup(). */
void pm_ports_stop(struct pm_ports *pp);

#endif
