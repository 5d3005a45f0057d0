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

#include "config.h"

struct pm_ports;

/*
 * rte_eal_init() with cfg->dpdk_args, a --vdev=<devargs> per port and, if
 * the arguments name no lcores, an -l list of 1 + cfg->lcores CPUs from the
 * process's affinity; then the mbuf pool, every port with one RX and one TX
 * queue per worker, started; then the workers, launched. Returns NULL with
 * a message in @err on failure (after EAL init, what was set up is undone
 * and rte_eal_cleanup() has run; EAL cannot be initialised twice).
 * Allocates.
 */
struct pm_ports *pm_ports_start(const struct pm_config *cfg, const char *argv0, char *err,
				size_t errlen);

/* Stop the workers and wait for them, log each port's counters, stop and
 * close the ports, free everything and call rte_eal_cleanup(). */
void pm_ports_stop(struct pm_ports *pp);

#endif
