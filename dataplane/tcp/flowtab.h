/*
 * flowtab.h -- a worker lcore's table of TCP flows: 4-tuple -> 32-bit value
 * (the TCP engine stores a session number and which of its two connections
 * the flow is).
 *
 * Owner: one worker lcore owns one table; nothing is shared (no atomics, no
 * locks). The caller provides the memory (pm_flowtab_memsize()). Threads:
 * the owning lcore only. Pure: no DPDK, no allocation, no clock.
 *
 * Keys are IPv4 4-tuples as seen from postmux: the remote address and port
 * (the client, or the backend) and the local address and port (the VIP and
 * listener port, or postmux's address and port towards the backend). The
 * family is implied (IPv4); IPv6 will get its own key type.
 *
 * Remote hosts choose their addresses and ports, so the hash is SipHash-2-4
 * keyed with a per-table secret (tcp/siphash.h): nobody outside can aim
 * flows at one slot. Open addressing with linear probing over
 * 2 * capacity slots (load at most 1/2), entries stored in the slots
 * themselves (16 bytes: key, value), deletion by backward shift (Knuth 6.4
 * Algorithm R): no tombstones, no rebuilds. A slot is empty when its value
 * is PM_FLOWTAB_EMPTY, which callers may therefore not store.
 */
#ifndef PM_FLOWTAB_H
#define PM_FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp/siphash.h"

#define PM_FLOWTAB_EMPTY	UINT32_MAX
#define PM_FLOWTAB_MAX		(1u << 26)	/* entries */

/* A flow: addresses in network byte order, ports in host order. */
struct pm_flow {
	uint8_t raddr[4];
	uint8_t laddr[4];
	uint16_t rport;
	uint16_t lport;
};

struct pm_flowtab_slot {
	struct pm_flow key;
	uint32_t value;
};

struct pm_flowtab {
	/* Private. */
	struct pm_siphash_key key;
	uint32_t mask;			/* slots - 1 */
	uint32_t capacity;
	uint32_t count;
	struct pm_flowtab_slot *slots;	/* follows the struct */
};

/* Bytes for a table of @capacity flows (1..PM_FLOWTAB_MAX), or 0. */
size_t pm_flowtab_memsize(uint32_t capacity);

/*
 * Set up the table in @t (@size bytes, aligned for struct pm_flowtab) for
 * @capacity flows, hashing with the 16-byte @secret (random, per table).
 * Returns 0, -EINVAL (capacity) or -ENOSPC (size). Does not allocate.
 */
int pm_flowtab_init(struct pm_flowtab *t, size_t size, uint32_t capacity,
		    const uint8_t secret[PM_SIPHASH_KEY_LEN]);

/* The hash of @f; pass it to the _h functions to hash a flow once. */
uint32_t pm_flowtab_hash(const struct pm_flowtab *t, const struct pm_flow *f);

/* The value stored for @f, or PM_FLOWTAB_EMPTY. O(1) expected. */
uint32_t pm_flowtab_lookup_h(const struct pm_flowtab *t, const struct pm_flow *f, uint32_t h);

static inline uint32_t
pm_flowtab_lookup(const struct pm_flowtab *t, const struct pm_flow *f)
{
	return pm_flowtab_lookup_h(t, f, pm_flowtab_hash(t, f));
}

/*
 * Store @value (not PM_FLOWTAB_EMPTY) for @f. Returns 0, -EEXIST (the flow
 * is in the table: nothing changed), -ENOSPC (capacity flows stored
 * already) or -EINVAL (value).
 */
int pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flow *f, uint32_t value);

/* Remove @f. Returns 0 or -ENOENT. */
int pm_flowtab_remove(struct pm_flowtab *t, const struct pm_flow *f);

/* Flows stored. */
static inline uint32_t
pm_flowtab_count(const struct pm_flowtab *t)
{
	return t->count;
}

#endif
