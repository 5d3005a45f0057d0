/*
 * neigh.h -- a worker lcore's neighbour (ARP) table, sans-IO.
 *
 * Owner: one worker lcore owns one table; nothing is shared, so there are no
 * atomics and no locks. The caller provides the table's memory
 * (pm_neigh_memsize()) and frees it after pm_neigh_flush(). Held packets are
 * opaque `void *` the table borrows: each one leaves through exactly one of
 * ops->send or ops->drop, and the table never frees or transmits anything
 * itself. Threads: the owning lcore only (the stats may be read elsewhere
 * with the usual single-writer caveat). Pure: no DPDK, no clock (time is the
 * @now_ms argument, a monotonic millisecond count that never goes back), no
 * allocation after pm_neigh_init(), no logging.
 *
 * Keys are (port, struct pm_addr). Only PM_AF_INET is accepted for now; the
 * family tag keeps room for IPv6 (NDP has the same states, RFC 4861 7.3.2).
 *
 * States and transitions (times are the params fields):
 *
 *   (none) --resolve--> INCOMPLETE   a broadcast probe at once; packets held
 *                                    (up to qlen, FIFO)
 *   INCOMPLETE --learn--> REACHABLE  held packets go to ops->send in order
 *   INCOMPLETE --retrans_ms--> INCOMPLETE   one more broadcast probe, while
 *                                    fewer than `probes` were sent
 *   INCOMPLETE --retrans_ms after the last probe--> FAILED   held packets go
 *                                    to ops->drop
 *   FAILED --failed_ms--> (none)     until then resolve() answers UNREACH
 *   REACHABLE --reachable_ms after the last confirmation--> STALE
 *   STALE --first use (resolve)--> PROBE    a unicast probe to the known MAC
 *                                    at once; the packet is sent anyway
 *   STALE --gc_ms unused--> (none)   (a use would have moved it to PROBE, so
 *                                    "gc_ms after it became STALE")
 *   PROBE --retrans_ms--> PROBE      one more unicast probe, while fewer than
 *                                    `probes` were sent; packets still go
 *   PROBE --retrans_ms after the last probe--> (none)   the next use starts
 *                                    INCOMPLETE again
 *   any --learn--> REACHABLE         the MAC is taken from the ARP packet
 *
 * Timers run in pm_neigh_tick() and also, for the one entry they touch, in
 * pm_neigh_resolve() and pm_neigh_learn(): an entry whose deadline passed is
 * brought up to date before it is used, so what resolve() answers does not
 * depend on how often tick() runs (only when probes leave and memory is
 * reclaimed does).
 *
 * Hash table: open addressing with linear probing over an index of
 * 2 * capacity slots (load at most 1/2, so a probe sequence always ends at an
 * empty slot); each slot holds an entry number, and entries live in a separate
 * array of `capacity` with a free list, so an entry never moves while it
 * lives. Deletion is by backward shift (Knuth 6.4 Algorithm R): no tombstones,
 * no rebuilds, and every remaining key stays reachable from its home slot.
 * The hash mixes (seed, port, family, address) with the murmur3 64-bit
 * finaliser. It is not a keyed PRF such as SipHash: the keys are addresses of
 * the local configuration and ARP senders on directly attached links, the
 * seed is per table and unknown to them, and the damage an attacker could do
 * is limited anyway: a lookup never walks more than the 2 * capacity slots,
 * and with unpredictable hashes a load of 1/2 keeps the expected walk to a
 * few slots. Give params.seed a random value (from rte_rand() in the worker).
 *
 * Learning cannot fill the table: pm_neigh_learn(create = true) stops
 * creating entries at capacity - capacity / 8 live entries, so a host on the
 * link that sends ARP requests from many spoofed senders cannot take the
 * last eighth that pm_neigh_resolve() (our own traffic) needs. There is no
 * eviction otherwise: entries go when their timers say so.
 *
 * Callbacks are called synchronously from resolve(), learn(), tick() and
 * flush() and must not call back into the same table.
 */
#ifndef PM_NEIGH_H
#define PM_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define PM_NEIGH_CAPACITY_MIN	8u
#define PM_NEIGH_CAPACITY_MAX	(1u << 20)
#define PM_NEIGH_QLEN_MAX	64u
#define PM_NEIGH_PROBES_MAX	16u
/* Every time parameter is 1..PM_NEIGH_TIME_MAX ms (about 49 days), so
 * deadlines never overflow. */
#define PM_NEIGH_TIME_MAX	((uint64_t)UINT32_MAX)

struct pm_neigh_params {
	uint32_t capacity;	/* entries (power of two, 8..2^20) */
	uint32_t qlen;		/* packets held per unresolved entry (1..64) */
	uint64_t reachable_ms;	/* an entry stays REACHABLE this long after a confirmation */
	uint64_t retrans_ms;	/* between two probes */
	uint32_t probes;	/* probes before giving up (1..16) */
	uint64_t failed_ms;	/* a FAILED entry refuses packets this long, then is freed */
	uint64_t gc_ms;		/* a STALE entry unused this long is freed */
	uint64_t seed;		/* hash seed; any value, random is best */
};

/* 1024, 16, 30000, 1000, 3, 3000, 600000, seed 0. */
void pm_neigh_params_defaults(struct pm_neigh_params *p);

/*
 * Callbacks; the table never frees or sends anything itself. A held packet is
 * an opaque void *. Pointers passed to a callback are valid during the call
 * only.
 */
struct pm_neigh_ops {
	/* Send an ARP request for @addr on @port: broadcast if @mac is NULL, else
	 * unicast to @mac (a refresh probe). */
	void (*probe)(void *arg, uint16_t port, const struct pm_addr *addr, const uint8_t *mac);
	/* A held packet can go now, to @mac (the entry was resolved). The
	 * callee owns @pkt from now on. */
	void (*send)(void *arg, void *pkt, uint16_t port, const uint8_t mac[6]);
	/* A held packet must be dropped (resolution failed, or the table is
	 * being flushed). The callee owns @pkt from now on. */
	void (*drop)(void *arg, void *pkt);
};

enum pm_neigh_state {
	PM_NEIGH_INCOMPLETE = 1,	/* probing by broadcast, packets held */
	PM_NEIGH_REACHABLE,		/* confirmed less than reachable_ms ago */
	PM_NEIGH_STALE,			/* older; still used, the first use probes */
	PM_NEIGH_PROBE,			/* probing by unicast, packets still go */
	PM_NEIGH_FAILED,		/* no answer; packets refused until failed_ms */
};

enum pm_neigh_rc {
	PM_NEIGH_SEND,		/* out_mac filled: send the packet now (the caller keeps it) */
	PM_NEIGH_HELD,		/* the table holds @pkt (or @pkt was NULL: resolution
				 * started/ongoing) */
	PM_NEIGH_QFULL,		/* not held: this entry already holds qlen packets
				 * (caller drops: ARP_QUEUE_FULL) */
	PM_NEIGH_TFULL,		/* not held: no free entry */
	PM_NEIGH_UNREACH,	/* not held: the entry is FAILED (or the family is
				 * not supported) */
};

/* Counters; plain uint64_t, written by the owning lcore only. */
struct pm_neigh_stats {
	uint64_t probes;	/* ARP requests asked of ops->probe */
	uint64_t resolved;	/* INCOMPLETE -> REACHABLE */
	uint64_t failed;	/* INCOMPLETE -> FAILED */
	uint64_t learned;	/* learn() calls that created or refreshed an entry */
	uint64_t held;		/* packets taken into a queue */
	uint64_t released;	/* held packets given to ops->send */
	uint64_t dropped;	/* held packets given to ops->drop */
	uint64_t qfull;		/* resolve() answers PM_NEIGH_QFULL */
	uint64_t tfull;		/* resolve() answers PM_NEIGH_TFULL */
	uint64_t unreach;	/* resolve() answers PM_NEIGH_UNREACH */
};

struct pm_neigh_entry;	/* private to neigh.c */

/*
 * The table. Initialise with pm_neigh_init() in pm_neigh_memsize() bytes;
 * the entries follow the struct in the same block.
 */
struct pm_neigh {
	struct pm_neigh_stats stats;	/* public, read-only for the caller */

	/* Private to neigh.c. */
	struct pm_neigh_params p;
	struct pm_neigh_ops ops;
	void *ops_arg;
	uint32_t mask;			/* index slots - 1 (2 * capacity - 1) */
	uint32_t live;			/* entries in use */
	uint32_t learn_max;		/* learn() creates entries only below this */
	uint32_t free_head;		/* first free entry + 1, 0 if none */
	uint32_t *index;		/* 2 * capacity slots: entry + 1, 0 = empty */
	struct pm_neigh_entry *ent;	/* capacity entries */
	void **held;			/* capacity * qlen packet slots */
};

/*
 * Bytes needed for a table with @p, or 0 if @p is invalid (see
 * pm_neigh_init()). Roughly 2 * 4 + 56 + 8 * qlen bytes per entry.
 */
size_t pm_neigh_memsize(const struct pm_neigh_params *p);

/*
 * Set up the table in @t, which points at @size bytes aligned for struct
 * pm_neigh. @ops (copied) must have all three callbacks; @ops_arg is passed to
 * them. Returns 0, -EINVAL for bad params or ops (capacity a power of two
 * 8..2^20, qlen 1..64, probes 1..16, times 1..PM_NEIGH_TIME_MAX), or -ENOSPC
 * if @size is too small. Does not allocate.
 */
int pm_neigh_init(struct pm_neigh *t, size_t size, const struct pm_neigh_params *p,
		  const struct pm_neigh_ops *ops, void *ops_arg);

/*
 * Look up (@port, @nh); create it INCOMPLETE (and call ops->probe at once,
 * broadcast) when missing. @pkt may be NULL: "resolve this address and keep it
 * fresh" (used to pre-resolve backends: a NULL pkt on a REACHABLE/STALE entry
 * counts as a use). Returns PM_NEIGH_SEND with @out_mac filled (@out_mac may
 * be NULL if the caller does not need it), or one of the other codes; on
 * anything but PM_NEIGH_HELD the caller still owns @pkt. An address family
 * other than PM_AF_INET answers PM_NEIGH_UNREACH. O(1) expected; may call any
 * callback (timers of the entry that is touched); does not allocate.
 */
enum pm_neigh_rc pm_neigh_resolve(struct pm_neigh *t, uint16_t port, const struct pm_addr *nh,
				  void *pkt, uint64_t now_ms, uint8_t out_mac[6]);

/*
 * An ARP packet from (@port, @addr, @mac) was seen. @create: make a REACHABLE
 * entry if there is none (the ARP was a request for one of our addresses, or
 * a reply to us); otherwise only existing entries are updated (gratuitous
 * ARP, requests for others). Any update makes the entry REACHABLE with @mac.
 * Updating an INCOMPLETE entry releases its held packets through ops->send in
 * the order they were held. Returns 0 (also when nothing was created because
 * !@create), -ENOSPC if an entry was wanted but the table is full (or at its
 * learning limit, see the top of this file), -EAFNOSUPPORT for a family other
 * than PM_AF_INET, -EINVAL for a broadcast, multicast or all-zero @mac (never
 * learned). O(1) expected; does not allocate.
 */
int pm_neigh_learn(struct pm_neigh *t, uint16_t port, const struct pm_addr *addr,
		   const uint8_t mac[6], bool create, uint64_t now_ms);

/*
 * Run the timers up to @now_ms: probes (ops->probe), FAILED transitions
 * (ops->drop for held packets), frees. Walks every entry: O(capacity), so the
 * worker calls it every ~100 ms rather than per packet (probe intervals are
 * then accurate to that period). Returns the time (ms) of the next deadline,
 * or UINT64_MAX if the table is empty. Does not allocate.
 */
uint64_t pm_neigh_tick(struct pm_neigh *t, uint64_t now_ms);

/* Drop every held packet (ops->drop) and forget all entries (shutdown). The
 * table stays usable. O(capacity). */
void pm_neigh_flush(struct pm_neigh *t);

struct pm_neigh_info {
	uint16_t port;
	struct pm_addr addr;
	uint8_t mac[6];		/* zero while INCOMPLETE or FAILED */
	uint8_t state;		/* enum pm_neigh_state */
	uint32_t held;		/* packets held */
	uint32_t probes_sent;	/* in the current INCOMPLETE or PROBE round */
	uint64_t age_ms;	/* since last confirmation or creation */
};

/*
 * Copy up to @max entries into @out (any order); returns the number of live
 * entries (may exceed @max). A REACHABLE entry whose time ran out but that
 * tick() has not visited yet is shown as STALE. O(capacity); read-only.
 */
size_t pm_neigh_dump(const struct pm_neigh *t, struct pm_neigh_info *out, size_t max,
		     uint64_t now_ms);

/* Number of live entries. O(1). */
size_t pm_neigh_count(const struct pm_neigh *t);

/* "incomplete", "reachable", "stale", "probe", "failed", or "?" for anything
 * else. Static strings; thread-safe. */
const char *pm_neigh_state_name(enum pm_neigh_state s);

#endif
