/*
 * ring.h -- immutable consistent-hash ring images, Dovecot 2.3 compatible.
 *
 * Owner: a struct pm_ring is built by one thread (the ctl thread, or a tool)
 * and never changes afterwards; it may then be read by any number of threads
 * without synchronisation. Publication and reclamation (RCU) belong to the
 * caller: see director.h.
 *
 * An image holds every backend (sorted by IP in Dovecot's net_ip_cmp order)
 * and one sorted point array per tag. A host that is up and has vhosts > 0
 * contributes the points MD5("<canonical ip>-<i>") for i in [0, vhosts) to
 * the ring of its tag. Points sort by (hash, host IP). A lookup returns the
 * first point >= the user hash, wrapping, and always the point that the
 * binary search of Dovecot's mail_host_get_by_hash() returns, so even
 * equal-hash ties agree (see pm_ring_lookup()).
 */
#ifndef PM_RING_H
#define PM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define PM_RING_MAX_VHOSTS 1000		/* Dovecot's MAX_VHOST_COUNT */
#define PM_RING_DEFAULT_VHOSTS 100
#define PM_RING_MAX_HOSTS 65535		/* point owners are uint16_t */
#define PM_RING_MAX_TAGS 65535
#define PM_RING_NO_HOST (-1)

/* One backend as the image publishes it. Public, read-only. */
struct pm_ring_host {
	struct pm_addr addr;
	uint32_t id;		/* the builder's stable host id */
	uint16_t tag;		/* index into the image's tags */
	uint16_t vhosts;
	bool down;
};

/* The ring of one tag. Public, read-only. */
struct pm_ring_tag {
	const char *name;	/* "" for the untagged ring */
	uint32_t npoints;
	const uint32_t *hash;	/* npoints, ascending */
	const uint16_t *owner;	/* npoints, index into hosts[] */
};

struct pm_ring {
	void *reclaim[2];	/* free for the publisher (an rcu_head); not
				 * touched by this module */
	uint64_t generation;	/* the builder's counter, for tests and stats */
	uint32_t nhosts;
	uint32_t ntags;
	const struct pm_ring_host *hosts;	/* nhosts, IP order */
	const struct pm_ring_tag *tags;		/* ntags */
	uint32_t id_slots;			/* size of id_index */
	const uint16_t *id_index;		/* (id & 0xffff) -> hosts[] index,
						 * UINT16_MAX when absent */
};

/* What the builder knows about one backend. */
struct pm_ring_input {
	struct pm_addr addr;
	uint32_t id;		/* any value unique within the input; its low
				 * 16 bits must be unique too */
	uint16_t tag;		/* < ntags */
	uint16_t vhosts;	/* 0..PM_RING_MAX_VHOSTS */
	bool down;
	/* Optional: precomputed point hashes (pm_ring_vhost_hashes()) for at
	 * least @vhosts points, so a rebuild need not run MD5 again. */
	const uint32_t *points;
};

/*
 * Build an image from @n hosts and @ntags tag names (tag 0 should be "").
 * Returns 0 and sets *@out, or -EINVAL (bad tag, vhosts, family, too many
 * hosts), -EEXIST (duplicate IP or id), -ENOMEM. Allocates one block;
 * release it with pm_ring_free(). Any thread; not on the fast path.
 */
int pm_ring_build(const struct pm_ring_input *in, uint32_t n, const char *const *tag_names,
		  uint32_t ntags, uint64_t generation, struct pm_ring **out);

void pm_ring_free(struct pm_ring *r);

/*
 * Point hashes of @a for vhost indexes [@from, @to): MD5("<ip>-<i>") prefix.
 * Writes @to - @from values to @out. Returns 0 or -EINVAL.
 */
int pm_ring_vhost_hashes(const struct pm_addr *a, uint32_t from, uint32_t to, uint32_t *out);

/* Index of the tag called @name (NUL-terminated), or -ENOENT. */
int pm_ring_find_tag(const struct pm_ring *r, const char *name);

/* Index in hosts[] of the host with id @id, or PM_RING_NO_HOST. */
static inline int
pm_ring_host_by_id(const struct pm_ring *r, uint32_t id)
{
	uint32_t slot = id & 0xffffu;
	uint16_t idx;

	if (slot >= r->id_slots)
		return PM_RING_NO_HOST;
	idx = r->id_index[slot];
	if (idx == UINT16_MAX || r->hosts[idx].id != id)
		return PM_RING_NO_HOST;
	return idx;
}

/* Index in hosts[] of the host with address @a, or PM_RING_NO_HOST. */
int pm_ring_host_by_addr(const struct pm_ring *r, const struct pm_addr *a);

/*
 * Dovecot's array_bsearch_insert_pos() over @t's points: stop on the first
 * midpoint equal to @hash, else end at the insert position (npoints when
 * every point is smaller). Part of pm_ring_lookup(); not for other callers.
 */
static inline uint32_t
pm_ring_bsearch_dovecot(const struct pm_ring_tag *t, uint32_t hash)
{
	uint32_t lo = 0, hi = t->npoints, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->hash[mid] < hash) {
			lo = mid + 1;
		} else if (t->hash[mid] > hash) {
			hi = mid;
		} else {
			lo = mid;
			break;
		}
	}
	return lo;
}

/*
 * The user @hash's backend in the ring of @tag: an index into hosts[], or
 * PM_RING_NO_HOST when the tag is unknown or its ring has no points.
 * Any thread; no allocation; O(log points).
 *
 * The answer is exactly Dovecot's (pm_ring_bsearch_dovecot(), then past the
 * end wraps to 0), computed faster. When no point equals @hash, Dovecot's
 * search ends at the insert position, which is the lower bound (the first
 * point >= @hash); when exactly one point equals it, the search stops on
 * that point, which is the lower bound too. Only when two or more points
 * equal @hash can it stop on a later one of them, so that rare case runs
 * Dovecot's search itself. The lower bound is found without branches: the
 * trip count depends only on npoints and the select is a conditional move,
 * so there are no mispredictions and successive lookups overlap.
 */
static inline int
pm_ring_lookup(const struct pm_ring *r, uint32_t tag, uint32_t hash)
{
	const struct pm_ring_tag *t;
	const uint32_t *base;
	uint32_t n, half, i;

	if (tag >= r->ntags)
		return PM_RING_NO_HOST;
	t = &r->tags[tag];
	n = t->npoints;
	if (n == 0)
		return PM_RING_NO_HOST;
	/* Invariant: the lower bound is in [base, base + n]. */
	base = t->hash;
	while (n > 1) {
		half = n / 2;
		base = base[half] < hash ? base + half : base;
		n -= half;
	}
	i = (uint32_t)(base - t->hash) + (*base < hash);
	if (i + 1 < t->npoints && t->hash[i] == hash && t->hash[i + 1] == hash)
		i = pm_ring_bsearch_dovecot(t, hash);
	if (i == t->npoints)
		i = 0;
	return t->owner[i];
}

#endif
