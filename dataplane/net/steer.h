/*
 * steer.h -- which worker lcore owns a packet: the Toeplitz hash that NICs
 * use for receive-side scaling (RSS), computed in software, and the
 * redirection table (RETA) that maps a hash to a queue.
 *
 * Owner: a struct pm_steer is a plain value (key + table) built at start-up
 * by the port code and then only read, by every worker (shared read-only).
 * Threads: any. Pure: no DPDK, no allocation.
 *
 * Every worker lcore owns queue number <worker index> on every port, so "the
 * queue a flow hashes to" is "the worker that owns the flow". Where the NIC
 * does RSS with the same key and table, a packet arrives on its owner's queue
 * and pm_steer_*() only confirms it; where it cannot (net_af_packet spreads
 * packets by the kernel's own flow hash, a single-queue port, a NIC with
 * another key), the receiving worker hands the packet to its owner through a
 * lock-free ring (worker.c). The owner of a flow is therefore the same on
 * every port type.
 *
 * The default key is the 40-byte symmetric key (0x6d5a repeated): with it the
 * hash of (a, b, pa, pb) equals that of (b, a, pb, pa), so both directions of
 * a conversation land on one lcore. Hash inputs are in network byte order, as
 * Microsoft's RSS specification defines them: source address, destination
 * address, then source port and destination port.
 */
#ifndef PM_STEER_H
#define PM_STEER_H

#include <stddef.h>
#include <stdint.h>

#define PM_STEER_KEY_LEN	40	/* enough for IPv6 + ports (36 bytes) */
#define PM_STEER_RETA_MAX	512

struct pm_steer {
	uint8_t key[PM_STEER_KEY_LEN];
	uint16_t reta_size;		/* a power of two, 1..PM_STEER_RETA_MAX */
	uint16_t reta[PM_STEER_RETA_MAX];	/* hash % reta_size -> queue */
};

/* The symmetric key (0x6d, 0x5a repeated). */
extern const uint8_t pm_steer_symmetric_key[PM_STEER_KEY_LEN];

/*
 * Fill @s with @key (PM_STEER_KEY_LEN bytes) and a RETA of @reta_size entries
 * spreading over @nqueues queues round-robin (entry i -> i % nqueues), the
 * layout NIC drivers default to. Returns 0, or -EINVAL if @nqueues is 0 or
 * @reta_size is not a power of two in 1..PM_STEER_RETA_MAX.
 */
int pm_steer_init(struct pm_steer *s, const uint8_t *key, unsigned int reta_size,
		  unsigned int nqueues);

/* The Toeplitz hash of @len input bytes (@len <= PM_STEER_KEY_LEN - 4). */
uint32_t pm_steer_toeplitz(const uint8_t *key, const uint8_t *in, size_t len);

/*
 * The RSS hash of an IPv4 packet: addresses only (@src, @dst as 4 bytes in
 * network order), or addresses and TCP/UDP ports (host order) for _l4.
 */
uint32_t pm_steer_hash_v4(const struct pm_steer *s, const uint8_t src[4], const uint8_t dst[4]);
uint32_t pm_steer_hash_v4_l4(const struct pm_steer *s, const uint8_t src[4], const uint8_t dst[4],
			     uint16_t sport, uint16_t dport);

/* The queue (= worker index) that @hash selects. */
static inline unsigned int
pm_steer_queue(const struct pm_steer *s, uint32_t hash)
{
	return s->reta[hash & (uint32_t)(s->reta_size - 1)];
}

#endif
