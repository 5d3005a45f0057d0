/*
 * neigh.c -- the per-lcore neighbour table: an open-addressing index with
 * backward-shift deletion over a fixed array of entries, and the ARP state
 * machine of neigh.h.
 *
 * Layout of the caller's block: struct pm_neigh, then the index (2 *
 * capacity uint32_t slots), then the entries, then capacity * qlen held
 * packet pointers (entry i owns held[i * qlen .. i * qlen + qlen)). Only
 * INCOMPLETE entries hold packets; a held queue is only ever appended to and
 * then emptied at once, so a count is enough (no ring).
 */
#include "net/neigh.h"

#include <errno.h>
#include <string.h>

#define NONE UINT32_MAX

struct pm_neigh_entry {
	uint64_t confirmed;	/* last confirmation, or creation */
	uint64_t deadline;	/* the state's next timer (see advance()) */
	struct pm_addr addr;	/* bytes past pm_addr_len() are zero */
	uint8_t state;		/* enum pm_neigh_state; 0 = free */
	uint8_t mac[6];		/* valid in REACHABLE, STALE, PROBE */
	uint8_t probes_sent;	/* in this INCOMPLETE or PROBE round */
	uint8_t nheld;		/* INCOMPLETE only */
	uint16_t port;
	uint32_t hash;
	uint32_t next_free;	/* free list: next free entry + 1, 0 = end */
};

void
pm_neigh_params_defaults(struct pm_neigh_params *p)
{
	memset(p, 0, sizeof(*p));
	p->capacity = 1024;
	p->qlen = 16;
	p->reachable_ms = 30000;
	p->retrans_ms = 1000;
	p->probes = 3;
	p->failed_ms = 3000;
	p->gc_ms = 600000;
	p->seed = 0;
}

static bool
time_ok(uint64_t ms)
{
	return ms > 0 && ms <= PM_NEIGH_TIME_MAX;
}

static bool
params_ok(const struct pm_neigh_params *p)
{
	return p->capacity >= PM_NEIGH_CAPACITY_MIN && p->capacity <= PM_NEIGH_CAPACITY_MAX &&
	       (p->capacity & (p->capacity - 1)) == 0 && p->qlen >= 1 &&
	       p->qlen <= PM_NEIGH_QLEN_MAX && p->probes >= 1 && p->probes <= PM_NEIGH_PROBES_MAX &&
	       time_ok(p->reachable_ms) && time_ok(p->retrans_ms) && time_ok(p->failed_ms) &&
	       time_ok(p->gc_ms);
}

static size_t
align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* Offsets of the three arrays after struct pm_neigh, and the total. With
 * capacity <= 2^20 and qlen <= 64 nothing here can overflow a size_t. */
static size_t
layout(const struct pm_neigh_params *p, size_t *off_index, size_t *off_ent, size_t *off_held)
{
	size_t off = align_up(sizeof(struct pm_neigh), _Alignof(uint32_t));

	*off_index = off;
	off += (size_t)p->capacity * 2 * sizeof(uint32_t);
	off = align_up(off, _Alignof(struct pm_neigh_entry));
	*off_ent = off;
	off += (size_t)p->capacity * sizeof(struct pm_neigh_entry);
	off = align_up(off, _Alignof(void *));
	*off_held = off;
	off += (size_t)p->capacity * p->qlen * sizeof(void *);
	return off;
}

size_t
pm_neigh_memsize(const struct pm_neigh_params *p)
{
	size_t a, b, c;

	if (p == NULL || !params_ok(p))
		return 0;
	return layout(p, &a, &b, &c);
}

static void
reset(struct pm_neigh *t)
{
	uint32_t i;

	memset(t->index, 0, (size_t)(t->mask + 1) * sizeof(uint32_t));
	memset(t->ent, 0, (size_t)t->p.capacity * sizeof(struct pm_neigh_entry));
	for (i = 0; i + 1 < t->p.capacity; i++)
		t->ent[i].next_free = i + 2;
	t->free_head = 1;
	t->live = 0;
}

int
pm_neigh_init(struct pm_neigh *t, size_t size, const struct pm_neigh_params *p,
	      const struct pm_neigh_ops *ops, void *ops_arg)
{
	size_t off_index, off_ent, off_held, need;

	if (t == NULL || p == NULL || ops == NULL || !params_ok(p) || ops->probe == NULL ||
	    ops->send == NULL || ops->drop == NULL ||
	    (uintptr_t)t % _Alignof(struct pm_neigh) != 0)
		return -EINVAL;
	need = layout(p, &off_index, &off_ent, &off_held);
	if (size < need)
		return -ENOSPC;
	memset(t, 0, sizeof(*t));
	t->p = *p;
	t->ops = *ops;
	t->ops_arg = ops_arg;
	t->mask = p->capacity * 2 - 1;
	t->learn_max = p->capacity - p->capacity / 8;
	t->index = (uint32_t *)((char *)t + off_index);
	t->ent = (struct pm_neigh_entry *)((char *)t + off_ent);
	t->held = (void **)((char *)t + off_held);
	reset(t);
	return 0;
}

/* a + b, saturating: deadlines past the end of time never fire. */
static uint64_t
later(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The murmur3 64-bit finaliser: every input bit affects every output bit. */
static uint64_t
fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static uint32_t
key_hash(const struct pm_neigh *t, uint16_t port, const struct pm_addr *a)
{
	uint64_t h = fmix64(t->p.seed ^ ((uint64_t)port << 8 | a->family));
	size_t n = pm_addr_len(a), i;

	for (i = 0; i < n; i += 8) {
		uint64_t w = 0;

		memcpy(&w, a->bytes + i, n - i < 8 ? n - i : 8);
		h = fmix64(h ^ w);
	}
	return (uint32_t)(h ^ (h >> 32));
}

static bool
key_eq(const struct pm_neigh_entry *e, uint16_t port, const struct pm_addr *a)
{
	return e->port == port && e->addr.family == a->family &&
	       memcmp(e->addr.bytes, a->bytes, pm_addr_len(a)) == 0;
}

/* The entry for the key, or NONE. The load is at most 1/2, so the walk
 * always meets an empty slot. */
static uint32_t
find(const struct pm_neigh *t, uint32_t h, uint16_t port, const struct pm_addr *a)
{
	uint32_t s = h & t->mask, v;

	while ((v = t->index[s]) != 0) {
		const struct pm_neigh_entry *e = &t->ent[v - 1];

		if (e->hash == h && key_eq(e, port, a))
			return v - 1;
		s = (s + 1) & t->mask;
	}
	return NONE;
}

/* Take a free entry for the key and index it (the caller checked that the
 * key is absent). Returns NONE when every entry is in use. */
static uint32_t
entry_new(struct pm_neigh *t, uint32_t h, uint16_t port, const struct pm_addr *a)
{
	struct pm_neigh_entry *e;
	uint32_t i, s;

	if (t->free_head == 0)
		return NONE;
	i = t->free_head - 1;
	e = &t->ent[i];
	t->free_head = e->next_free;
	memset(e, 0, sizeof(*e));
	e->addr.family = a->family;
	memcpy(e->addr.bytes, a->bytes, pm_addr_len(a));
	e->port = port;
	e->hash = h;
	for (s = h & t->mask; t->index[s] != 0; s = (s + 1) & t->mask)
		;
	t->index[s] = i + 1;
	t->live++;
	return i;
}

/*
 * Unindex entry @i and put it back on the free list. Backward-shift deletion
 * (Knuth 6.4 Algorithm R): after emptying slot s, walk the cluster that
 * follows; an entry at j whose home slot lies cyclically in (s, j] must stay
 * (moving it before its home would hide it), any other one moves into s, and
 * its old slot becomes the hole. The walk ends at an empty slot. The
 * entry must hold no packets.
 */
static void
entry_free(struct pm_neigh *t, uint32_t i)
{
	struct pm_neigh_entry *e = &t->ent[i];
	uint32_t s = e->hash & t->mask, j, home;

	while (t->index[s] != i + 1)
		s = (s + 1) & t->mask;
	for (;;) {
		t->index[s] = 0;
		j = s;
		for (;;) {
			j = (j + 1) & t->mask;
			if (t->index[j] == 0)
				goto done;
			home = t->ent[t->index[j] - 1].hash & t->mask;
			if (((j - home) & t->mask) >= ((j - s) & t->mask))
				break;	/* home not in (s, j]: movable */
		}
		t->index[s] = t->index[j];
		s = j;
	}
done:
	e->state = 0;
	e->nheld = 0;
	e->next_free = t->free_head;
	t->free_head = i + 1;
	t->live--;
}

static void
probe(struct pm_neigh *t, struct pm_neigh_entry *e, const uint8_t *mac)
{
	t->stats.probes++;
	t->ops.probe(t->ops_arg, e->port, &e->addr, mac);
}

/* Hand every packet held by entry @i to ops->drop, oldest first. */
static void
drop_held(struct pm_neigh *t, uint32_t i)
{
	struct pm_neigh_entry *e = &t->ent[i];
	void **q = &t->held[(size_t)i * t->p.qlen];
	uint32_t n = e->nheld, k;

	e->nheld = 0;
	for (k = 0; k < n; k++) {
		t->stats.dropped++;
		t->ops.drop(t->ops_arg, q[k]);
	}
}

/*
 * Run entry @i's timers up to @now. Returns false if the entry was freed.
 * The deadline means, by state:
 *   INCOMPLETE, PROBE: the next probe, or giving up once `probes` were sent
 *     (probes are re-armed from @now, so a late tick never sends a burst);
 *   REACHABLE: confirmed + reachable_ms (then STALE);
 *   STALE: confirmed + reachable_ms + gc_ms (then freed);
 *   FAILED: failure time + failed_ms (then freed).
 */
static bool
advance(struct pm_neigh *t, uint32_t i, uint64_t now)
{
	struct pm_neigh_entry *e = &t->ent[i];

	while (now >= e->deadline) {
		switch (e->state) {
		case PM_NEIGH_INCOMPLETE:
			if (e->probes_sent < t->p.probes) {
				e->probes_sent++;
				e->deadline = later(now, t->p.retrans_ms);
				probe(t, e, NULL);
				break;
			}
			e->state = PM_NEIGH_FAILED;
			e->deadline = later(e->deadline, t->p.failed_ms);
			t->stats.failed++;
			drop_held(t, i);
			break;
		case PM_NEIGH_REACHABLE:
			e->state = PM_NEIGH_STALE;
			e->deadline = later(e->deadline, t->p.gc_ms);
			break;
		case PM_NEIGH_PROBE:
			if (e->probes_sent < t->p.probes) {
				e->probes_sent++;
				e->deadline = later(now, t->p.retrans_ms);
				probe(t, e, e->mac);
				break;
			}
			entry_free(t, i);
			return false;
		default:	/* STALE, FAILED */
			entry_free(t, i);
			return false;
		}
	}
	return true;
}

enum pm_neigh_rc
pm_neigh_resolve(struct pm_neigh *t, uint16_t port, const struct pm_addr *nh, void *pkt,
		 uint64_t now_ms, uint8_t out_mac[6])
{
	struct pm_neigh_entry *e;
	uint32_t h, i;

	if (nh->family != PM_AF_INET) {
		t->stats.unreach++;
		return PM_NEIGH_UNREACH;
	}
	h = key_hash(t, port, nh);
	i = find(t, h, port, nh);
	if (i != NONE && !advance(t, i, now_ms))
		i = NONE;
	if (i == NONE) {
		i = entry_new(t, h, port, nh);
		if (i == NONE) {
			t->stats.tfull++;
			return PM_NEIGH_TFULL;
		}
		e = &t->ent[i];
		e->state = PM_NEIGH_INCOMPLETE;
		e->confirmed = now_ms;
		e->probes_sent = 1;
		e->deadline = later(now_ms, t->p.retrans_ms);
		probe(t, e, NULL);
	}
	e = &t->ent[i];
	switch (e->state) {
	case PM_NEIGH_INCOMPLETE:
		if (pkt == NULL)
			return PM_NEIGH_HELD;
		if (e->nheld == t->p.qlen) {
			t->stats.qfull++;
			return PM_NEIGH_QFULL;
		}
		t->held[(size_t)i * t->p.qlen + e->nheld++] = pkt;
		t->stats.held++;
		return PM_NEIGH_HELD;
	case PM_NEIGH_STALE:
		/* The first use of a stale entry: check it by unicast, but do
		 * not hold the packet meanwhile (RFC 4861 7.3.3 sends too). */
		e->state = PM_NEIGH_PROBE;
		e->probes_sent = 1;
		e->deadline = later(now_ms, t->p.retrans_ms);
		probe(t, e, e->mac);
		/* fall through */
	case PM_NEIGH_REACHABLE:
	case PM_NEIGH_PROBE:
		if (out_mac != NULL)
			memcpy(out_mac, e->mac, 6);
		return PM_NEIGH_SEND;
	default:	/* FAILED */
		t->stats.unreach++;
		return PM_NEIGH_UNREACH;
	}
}

/* Broadcast and multicast MACs have the I/G bit (bit 0 of the first octet)
 * set; all-zero is the "unknown" of ARP requests. Neither names a host. */
static bool
mac_ok(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return (mac[0] & 1) == 0 && memcmp(mac, zero, 6) != 0;
}

int
pm_neigh_learn(struct pm_neigh *t, uint16_t port, const struct pm_addr *addr,
	       const uint8_t mac[6], bool create, uint64_t now_ms)
{
	struct pm_neigh_entry *e;
	uint32_t h, i, n, k;
	uint8_t was;
	void **q;

	if (addr->family != PM_AF_INET)
		return -EAFNOSUPPORT;
	if (!mac_ok(mac))
		return -EINVAL;
	h = key_hash(t, port, addr);
	i = find(t, h, port, addr);
	if (i != NONE && !advance(t, i, now_ms))
		i = NONE;
	if (i == NONE) {
		if (!create)
			return 0;
		if (t->live >= t->learn_max)
			return -ENOSPC;
		i = entry_new(t, h, port, addr);	/* learn_max <= capacity */
	}
	e = &t->ent[i];
	was = e->state;
	e->state = PM_NEIGH_REACHABLE;
	memcpy(e->mac, mac, 6);
	e->confirmed = now_ms;
	e->deadline = later(now_ms, t->p.reachable_ms);
	e->probes_sent = 0;
	t->stats.learned++;
	if (was == PM_NEIGH_INCOMPLETE) {
		t->stats.resolved++;
		q = &t->held[(size_t)i * t->p.qlen];
		n = e->nheld;
		e->nheld = 0;
		for (k = 0; k < n; k++) {
			t->stats.released++;
			t->ops.send(t->ops_arg, q[k], e->port, e->mac);
		}
	}
	return 0;
}

uint64_t
pm_neigh_tick(struct pm_neigh *t, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;
	uint32_t i;

	/* entry_free() never moves an entry, so walking the array while
	 * advance() frees entries is safe. */
	for (i = 0; i < t->p.capacity; i++) {
		if (t->ent[i].state == 0 || !advance(t, i, now_ms))
			continue;
		if (t->ent[i].deadline < next)
			next = t->ent[i].deadline;
	}
	return next;
}

void
pm_neigh_flush(struct pm_neigh *t)
{
	uint32_t i;

	for (i = 0; i < t->p.capacity; i++) {
		if (t->ent[i].state != 0)
			drop_held(t, i);
	}
	reset(t);
}

size_t
pm_neigh_dump(const struct pm_neigh *t, struct pm_neigh_info *out, size_t max,
	      uint64_t now_ms)
{
	size_t n = 0;
	uint32_t i;

	for (i = 0; i < t->p.capacity && n < max; i++) {
		const struct pm_neigh_entry *e = &t->ent[i];
		struct pm_neigh_info *o;

		if (e->state == 0)
			continue;
		o = &out[n++];
		memset(o, 0, sizeof(*o));
		o->port = e->port;
		o->addr = e->addr;
		memcpy(o->mac, e->mac, 6);
		o->state = e->state;
		if (e->state == PM_NEIGH_REACHABLE && now_ms >= e->deadline)
			o->state = PM_NEIGH_STALE;
		o->held = e->nheld;
		o->probes_sent = e->probes_sent;
		o->age_ms = now_ms > e->confirmed ? now_ms - e->confirmed : 0;
	}
	return t->live;
}

size_t
pm_neigh_count(const struct pm_neigh *t)
{
	return t->live;
}

const char *
pm_neigh_state_name(enum pm_neigh_state s)
{
	switch (s) {
	case PM_NEIGH_INCOMPLETE:
		return "incomplete";
	case PM_NEIGH_REACHABLE:
		return "reachable";
	case PM_NEIGH_STALE:
		return "stale";
	case PM_NEIGH_PROBE:
		return "probe";
	case PM_NEIGH_FAILED:
		return "failed";
	}
	return "?";
}
