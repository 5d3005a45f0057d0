/*
 * worker.h -- a worker lcore's poll loop: RX, the first step of the packet
 * path (DESIGN.md "Data plane flow" 1: ARP, the neighbour table, ICMP echo
 * for our addresses), steering to the owner lcore, buffered TX.
 *
 * Owner: port.c allocates one struct pm_worker per worker lcore (cache
 * aligned, on that lcore's NUMA socket), with its neighbour table and its
 * inbox ring, fills it before the launch and frees it after
 * rte_eal_mp_wait_lcore(). While the loop runs, the worker is the only
 * writer of everything in it except the request slot (struct
 * pm_worker_req), which other threads post to.
 * Threads: pm_worker_main() runs on its worker lcore; pm_worker_quit() and
 * pm_worker_request() on any non-worker thread; the counters are read by
 * other threads with relaxed loads (single writer, STYLE.md 7).
 *
 * Ownership of packets: every IPv4 flow has one owner lcore, the queue its
 * RSS hash selects (net/steer.h). A packet received by another worker is
 * handed to the owner through the owner's inbox, a multi-producer /
 * single-consumer rte_ring; the owner handles it as if it had received it
 * and transmits on its own queue. ARP packets are answered by whoever
 * receives them and copied (by reference count) to every other worker's
 * inbox so that all neighbour tables learn from them.
 *
 * Fast path (STYLE.md 8): no allocation (except mbufs from the pool made at
 * start), locks, syscalls or logging. A received mbuf is consumed: turned
 * into a reply and queued for TX, handed to its owner, held by the
 * neighbour table, or freed and counted (stats.drop[reason] for a packet
 * that failed a check, stats.ignored for a valid one postmux does not
 * answer yet). TX is buffered per port and drained when a burst is full or
 * at the latest PM_WORKER_DRAIN_US after the first queued packet.
 */
#ifndef PM_WORKER_H
#define PM_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "net/addr.h"
#include "net/drop.h"
#include "net/l3.h"
#include "net/neigh.h"
#include "net/route.h"
#include "net/steer.h"
#include "tcp/engine.h"

#define PM_WORKER_PORTS_MAX	16
#define PM_WORKER_ADDRS_MAX	17	/* the port's address and up to 16 VIPs */
#define PM_WORKER_BURST		32
#define PM_WORKER_DRAIN_US	100	/* longest a queued TX packet waits */
#define PM_WORKER_TICK_MS	100	/* neighbour timers, backend refresh */
#define PM_WORKER_INBOX_SIZE	1024	/* packets handed over by other workers */
#define PM_WORKER_PINS_SIZE	4096	/* pin requests waiting for the ctl thread */
#define PM_WORKER_KICKS_SIZE	16384	/* kicks waiting for the worker */

/* A kick for the worker's sessions (ring element, 16 bytes). */
struct pm_worker_kick {
	uint32_t user_hash;
	uint8_t except[4];		/* IPv4, valid if has_except */
	uint32_t name_check;		/* pm_engine_name_check(), valid if has_name */
	uint8_t has_except;
	uint8_t has_name;		/* a kick by name (USER-KICK) */
	uint8_t pad[2];
};
_Static_assert(sizeof(struct pm_worker_kick) == 16, "a kick is one 16-byte ring element");

/* A pin request: what pm_director_login() needs, packed in a ring slot
 * (tag 0 for now: listeners have no tags yet). */
#define PM_WORKER_PIN(hash, host_id)	((void *)(uintptr_t)((uint64_t)(host_id) << 32 | (hash)))
#define PM_WORKER_PIN_HASH(v)		((uint32_t)(uintptr_t)(v))
#define PM_WORKER_PIN_HOST(v)		((uint32_t)((uint64_t)(uintptr_t)(v) >> 32))
#define PM_WORKER_PIN_REFRESH		UINT32_MAX	/* host id of a refresh-only request */

/* The TCP engine's counters the worker publishes, in the order of struct
 * pm_engine_stats (names for the counters: "lcore.<n>.tcp.<name>"). */
#define PM_WORKER_TCP_NAMES(X) \
	X(syn_cookies) X(syn_ack_retrans) X(syn_backlog_full) X(accepted) X(refused_full) X(rst_sent) X(logins) \
	X(backend_connects) X(login_ok) X(login_failed) X(login_unavailable) \
	X(splices) X(forwarded) X(stale) X(stale_acked) X(timeouts) X(closed) X(tx_nobuf) X(kicked) \
	X(refreshes)
/* And each protocol's share (struct pm_engine_proto_stats):
 * "lcore.<n>.<protocol>.<name>". */
#define PM_WORKER_PROTO_NAMES(X) \
	X(logins) X(login_ok) X(login_failed) X(login_unavailable) X(splices) X(kicked)
#define PM_WORKER_TCP_COUNT_(n) + 1
#define PM_WORKER_TCP_COUNTERS (0 PM_WORKER_TCP_NAMES(PM_WORKER_TCP_COUNT_))
#define PM_WORKER_PROTO_COUNTERS (0 PM_WORKER_PROTO_NAMES(PM_WORKER_TCP_COUNT_))

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct pm_director;

/* Single-writer counters (the worker); read with relaxed loads. */
struct pm_worker_port_stats {
	_Atomic uint64_t rx_packets;
	_Atomic uint64_t rx_bytes;
	_Atomic uint64_t tx_packets;
	_Atomic uint64_t tx_bytes;
};

/* One port as one worker sees it: its own RX/TX queue pair. */
struct pm_worker_port {
	uint16_t port_id;
	uint16_t queue;			/* the worker's index */
	uint16_t ntx;			/* packets in tx[] */
	struct pm_addr addrs[PM_WORKER_ADDRS_MAX];	/* [0] the port's own */
	struct pm_l3_if ifc;		/* ifc.addrs points at addrs */
	const struct pm_steer *steer;	/* shared, read-only */
	struct rte_mbuf *tx[PM_WORKER_BURST];
	struct pm_worker_port_stats stats;
};

/* Single-writer counters (the worker); read with relaxed loads. */
struct pm_worker_stats {
	_Atomic uint64_t rx;
	_Atomic uint64_t tx;
	_Atomic uint64_t tx_full;	/* packets the TX queue did not take (freed) */
	_Atomic uint64_t arp_replies;	/* answers to ARP requests for us */
	_Atomic uint64_t arp_requests;	/* requests we sent (probes, GARP) */
	_Atomic uint64_t echo_replies;
	_Atomic uint64_t pings;		/* echo requests we sent (PING) */
	_Atomic uint64_t ping_replies;	/* echo replies to them */
	_Atomic uint64_t ignored;	/* valid but not answered: other ICMP,
					 * TCP (not handled yet) */
	_Atomic uint64_t redirected;	/* handed to their owner lcore */
	_Atomic uint64_t inbox;		/* received from other lcores */
	_Atomic uint64_t neigh_entries;	/* live neighbour entries (a gauge) */
	_Atomic uint64_t neigh_probes;	/* the table's counters, copied */
	_Atomic uint64_t neigh_resolved;
	_Atomic uint64_t neigh_failed;
	_Atomic uint64_t neigh_held;
	_Atomic uint64_t neigh_released;
	_Atomic uint64_t backends;	/* backends whose next hop is kept resolved */
	_Atomic uint64_t pin_requests;	/* logins handed to the ctl thread to pin */
	_Atomic uint64_t pin_ring_full;	/* of them lost: the ring was full */
	_Atomic uint64_t kicks;		/* kicks received */
	_Atomic uint64_t sessions;	/* TCP sessions in use (a gauge) */
	_Atomic uint64_t prelogin;	/* of them in pre-login (a gauge) */
	_Atomic uint64_t syn_backlog;	/* SYN-ACKs remembered (a gauge) */
	/* The engine's counters (struct pm_engine_stats), copied every tick. */
	_Atomic uint64_t tcp[PM_WORKER_TCP_COUNTERS];
	_Atomic uint64_t proto[PM_LOGIN__COUNT][PM_WORKER_PROTO_COUNTERS];
	_Atomic uint64_t drop[PM_DROP__COUNT];
};

/* A request from another thread, carried out by the worker between two
 * polls. state: 0 idle, 1 posted (release by the poster, acquire by the
 * worker), 2 done (release by the worker, acquire by the poster). */
enum pm_worker_req_kind {
	PM_WORKER_REQ_NEIGH_DUMP = 1,	/* copy the neighbour table into out */
	PM_WORKER_REQ_PING,		/* send an echo request to dst */
};

/* The ICMP identifier of the data plane's own echo requests; replies with
 * it are counted in stats.ping_replies. */
#define PM_WORKER_PING_ID	0x504d

struct pm_worker_req {
	_Atomic int state;
	enum pm_worker_req_kind kind;
	struct pm_neigh_info *out;
	size_t max;
	size_t result;			/* NEIGH_DUMP: live entries */
	uint64_t now_ms;		/* the worker's clock at the dump */
	struct pm_addr dst;		/* PING: the destination */
	uint16_t seq;			/* PING: the sequence number */
	int rc;				/* PING: 0 sent or held for ARP, else
					 * -ENETUNREACH (no route), -ENOBUFS
					 * (no mbuf or ARP queue full),
					 * -EHOSTUNREACH (next hop failed),
					 * -ENOSPC (neighbour table full) */
};

struct pm_worker {
	unsigned int lcore;
	unsigned int index;		/* 0..workers-1: the queue on every port */
	unsigned int nworkers;
	unsigned int nports;
	struct pm_worker_port ports[PM_WORKER_PORTS_MAX];
	struct rte_ring *inbox;		/* ours: MP/SC */
	struct rte_ring *pins;		/* pin requests to the ctl thread: SP/SC */
	struct rte_ring *kicks;		/* kicks from the ctl thread: SP/SC,
					 * struct pm_worker_kick elements */
	struct rte_ring *const *inboxes;	/* every worker's, shared read-only */
	struct rte_mempool *pool;	/* mbufs for the packets we originate */
	const struct pm_route_table *routes;	/* shared, read-only */
	struct pm_director *director;	/* backends to keep resolved; may be NULL */
	struct pm_neigh *neigh;		/* ours, on our socket */
	struct pm_engine *engine;	/* ours; NULL without listeners */
	void *engine_mem;
	uint64_t engine_ms;		/* the engine's clock at its last tick */
	int64_t unix_offset_ms;		/* unix time = TSC ms + this */
	uint64_t tsc_per_ms;
	uint64_t ring_generation;	/* of the director ring last resolved */
	uint64_t next_backend_ms;
	struct pm_worker_req req;
	struct pm_worker_stats stats;
} __rte_cache_aligned;		/* 22.11 placement (STYLE.md B5) */

/* The neighbour table's callbacks; their argument is the struct pm_worker. */
extern const struct pm_neigh_ops pm_worker_neigh_ops;

/* The TCP engine's callbacks; .arg must be set to the struct pm_worker. */
extern const struct pm_engine_ops pm_worker_engine_ops;

/*
 * The lcore function (rte_eal_remote_launch): @arg is the struct pm_worker.
 * Registers the lcore as a liburcu QSBR reader, announces the port
 * addresses (gratuitous ARP; worker 0 only), polls its queue of every port
 * and its inbox until pm_worker_quit(), drops what the neighbour table
 * holds, unregisters and returns 0.
 */
int pm_worker_main(void *arg);

/* Ask every worker to return; they notice within one loop iteration. */
void pm_worker_quit(void);

/*
 * Post @kind to @w and wait until the worker has carried it out (one loop
 * iteration, well under a millisecond while it runs). The caller serialises
 * requests to one worker (port.c holds a lock) and must not call this for a
 * worker that is not running. Fills the request's result fields in @w->req.
 * Blocks (sleeps); never call it from a worker.
 */
void pm_worker_request(struct pm_worker *w, enum pm_worker_req_kind kind,
		       struct pm_neigh_info *out, size_t max);

/* PING: as pm_worker_request(), for an echo request to @dst (from the
 * address of the port the route picks). Returns the request's rc. */
int pm_worker_ping(struct pm_worker *w, const struct pm_addr *dst, uint16_t seq);

#endif
