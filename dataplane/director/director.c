/*
 * director.c -- backends, ring publication, user pins, moves and flushes.
 *
 * Writer-side state (the host table, tags, moves, jobs) is private to the
 * writer thread and needs no synchronisation. What readers see is exactly
 * two things: the ring image behind d->ring (published with
 * rcu_xchg_pointer, reclaimed with call_rcu) and the pin table d->pins (a
 * cds_lfht; a pin's mutable fields are single 32-bit atomics written only by
 * the writer).
 *
 * A pin's state word packs the host id (low 24 bits) with the MOVING and
 * WEAK flags, so a reader can never see a moved user's new host without
 * also seeing that the move is still in progress.
 */
#include "director/director.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#define PIN_HOST_MASK 0x00ffffffu
#define PIN_MOVING (1u << 24)
#define PIN_WEAK (1u << 25)

/* A weak pin lives this much longer than director_user_expire (Dovecot's
 * USER_NEAR_EXPIRING_MAX). */
#define WEAK_EXTRA_S 30

#define PIN_BATCH 1022
#define HOST_SLOTS_MAX 65535u

struct pm_pin {
	struct cds_lfht_node node;	/* in d->pins; 16 bytes */
	uint32_t user_hash;		/* key, immutable */
	uint16_t tag;			/* key, immutable */
	uint16_t pad;
	_Atomic uint32_t state;		/* host id | PIN_MOVING | PIN_WEAK */
	_Atomic uint32_t ts;		/* last refresh, unix seconds */
};

/* A pin may cost 64 bytes including its share of the table's buckets
 * (docs/PERFORMANCE.md); the pin itself is one 32-byte allocation. */
_Static_assert(sizeof(struct pm_pin) == 32, "pin grew beyond 32 bytes");

struct pin_key {
	uint32_t user_hash;
	uint16_t tag;
};

/* Deleted pins wait here for one grace period, then call_rcu frees them. */
struct pin_batch {
	struct rcu_head rcu;
	uint32_t n;
	struct pm_pin *pin[PIN_BATCH];
};

struct dir_host {
	struct pm_addr addr;
	uint32_t id;		/* slot | gen << 16; never 0 */
	uint16_t tag;
	uint16_t vhosts;
	bool in_use;
	bool down;
	uint8_t gen;		/* 1..255, bumped each time the slot is reused */
	int64_t last_updown_s;
	uint32_t user_count;
	uint32_t *points;	/* cached vhost point hashes */
	uint32_t npoints;
};

struct dir_move {
	struct pm_pin *pin;	/* NULL once the pin was forgotten */
	uint64_t done_ms;
};

struct job_user {
	uint32_t user_hash;
	uint32_t host_id;
	uint16_t tag;
};

struct dir_job {
	struct dir_job *next;
	uint64_t id;
	uint32_t max_parallel;
	struct job_user *users;
	size_t n, pos, cap;
	uint32_t *killed_hosts;	/* hosts whose tag ring was empty */
	size_t nkilled;
};

/* The username hash format as readers see it: immutable once published,
 * replaced as a whole, reclaimed after a grace period. */
struct hash_box {
	struct rcu_head rcu;
	struct pm_userhash_fmt fmt;
};

struct pm_director {
	/* Read by every thread. */
	struct pm_ring *ring;		/* RCU pointer */
	struct hash_box *hash;		/* RCU pointer: pm_director_hash() */
	struct cds_lfht *pins;
	_Atomic uint32_t expire_s;	/* cfg.user_expire_s, for readers */

	/* Writer only below. pm_director_set_config() replaces cfg while
	 * readers run, so readers never look at it: the one setting they
	 * need is the atomic copy above. */
	struct pm_director_config cfg;

	struct dir_host *hosts;
	uint32_t nslots, slot_cap;
	char **tags;
	uint32_t ntags;
	uint64_t generation;
	bool ring_dirty;

	struct dir_move *moves;		/* FIFO; every move lasts kick_delay_ms */
	size_t move_head, move_len, move_cap;

	struct dir_job *jobs, **jobs_tail;
	uint64_t next_job_id;

	struct pin_batch *batch;
	uint64_t next_expire_ms;
	unsigned long buckets;		/* current size of the pin table */

	pm_kick_cb kick;
	pm_job_done_cb job_done;
	void *cb_arg;

	struct pm_director_stats st;
};

/* ---- small helpers -------------------------------------------------------- */

void
pm_director_config_defaults(struct pm_director_config *c)
{
	memset(c, 0, sizeof(*c));
	pm_userhash_compile(&c->hash_fmt, PM_USERHASH_DEFAULT, '\0', NULL, 0);
	c->user_expire_s = 15 * 60;
	c->kick_delay_ms = 2000;
	c->max_parallel_moves = 100;
	c->max_parallel_kicks = 100;
	c->expected_users = 65536;
}

int
pm_director_config_check(const struct pm_director_config *c)
{
	if (c->user_expire_s < 10 || c->max_parallel_moves == 0 || c->max_parallel_kicks == 0)
		return -EINVAL;
	return 0;
}

const struct pm_director_config *
pm_director_config(const struct pm_director *d)
{
	return &d->cfg;
}

static inline unsigned long
pin_lfht_hash(uint16_t tag, uint32_t user_hash)
{
	uint64_t x = ((uint64_t)tag << 32 | user_hash) * 0x9e3779b97f4a7c15ull;

	return (unsigned long)(x ^ x >> 29);
}

static int
pin_match(struct cds_lfht_node *node, const void *key)
{
	const struct pm_pin *p = caa_container_of(node, struct pm_pin, node);
	const struct pin_key *k = key;

	return p->user_hash == k->user_hash && p->tag == k->tag;
}

static struct pm_pin *
pin_find(struct pm_director *d, uint16_t tag, uint32_t user_hash)
{
	struct pin_key k = { .user_hash = user_hash, .tag = tag };
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(d->pins, pin_lfht_hash(tag, user_hash), pin_match, &k, &it);
	n = cds_lfht_iter_get_node(&it);
	return n != NULL ? caa_container_of(n, struct pm_pin, node) : NULL;
}

static inline uint64_t
pin_expire_s(const struct pm_director *d, uint32_t state, uint32_t ts)
{
	/* Relaxed: the setting is an independent value; a reader that sees a
	 * changed expiry a little late judges one lookup by the old one.
	 * Pairs with the relaxed store in pm_director_set_config(). */
	uint32_t expire = atomic_load_explicit(&d->expire_s, memory_order_relaxed);

	return (uint64_t)ts + expire + ((state & PIN_WEAK) ? WEAK_EXTRA_S : 0);
}

/* Dovecot: an entry is dead once timestamp + expire <= now. Entries with a
 * move or kill in progress are kept until it ends. */
static inline bool
pin_dead(const struct pm_director *d, uint32_t state, uint32_t ts, uint64_t now_s)
{
	return !(state & PIN_MOVING) && pin_expire_s(d, state, ts) <= now_s;
}

static struct dir_host *
host_by_id(struct pm_director *d, uint32_t id)
{
	uint32_t slot = id & 0xffffu;

	if (slot >= d->nslots || !d->hosts[slot].in_use || d->hosts[slot].id != id)
		return NULL;
	return &d->hosts[slot];
}

static struct dir_host *
host_by_addr(struct pm_director *d, const struct pm_addr *a)
{
	uint32_t i;

	for (i = 0; i < d->nslots; i++) {
		if (d->hosts[i].in_use && pm_addr_eq(&d->hosts[i].addr, a))
			return &d->hosts[i];
	}
	return NULL;
}

static void
note_expiry(struct pm_director *d, uint32_t state, uint32_t ts)
{
	uint64_t ms = pin_expire_s(d, state, ts) * 1000;

	if (ms < d->next_expire_ms)
		d->next_expire_ms = ms;
}

/* ---- reclamation ---------------------------------------------------------- */

static void
pin_batch_free_cb(struct rcu_head *head)
{
	struct pin_batch *b = caa_container_of(head, struct pin_batch, rcu);
	uint32_t i;

	for (i = 0; i < b->n; i++)
		free(b->pin[i]);
	free(b);
}

/* Hand the pending batch to call_rcu. The writer is online, as QSBR's
 * call_rcu requires. */
static void
pin_batch_submit(struct pm_director *d)
{
	if (d->batch == NULL || d->batch->n == 0)
		return;
	urcu_qsbr_call_rcu(&d->batch->rcu, pin_batch_free_cb);
	d->batch = NULL;
}

static void
pin_retire(struct pm_director *d, struct pm_pin *p)
{
	if (d->batch == NULL) {
		d->batch = malloc(sizeof(*d->batch));
		if (d->batch == NULL) {
			/* Without memory for a batch, wait for readers here
			 * instead: slow but correct. */
			urcu_qsbr_synchronize_rcu();
			free(p);
			return;
		}
		d->batch->n = 0;
	}
	d->batch->pin[d->batch->n++] = p;
	if (d->batch->n == PIN_BATCH)
		pin_batch_submit(d);
}

static void
ring_free_cb(struct rcu_head *head)
{
	/* The rcu_head lives in pm_ring's first field, reclaim[]. */
	pm_ring_free((struct pm_ring *)(void *)head);
}

_Static_assert(sizeof(struct rcu_head) <= sizeof(((struct pm_ring *)0)->reclaim),
	       "pm_ring.reclaim cannot hold an rcu_head");

static void
hash_free_cb(struct rcu_head *head)
{
	free((struct hash_box *)(void *)head);	/* rcu is the first field */
}

/* ---- ring publication ----------------------------------------------------- */

static int
host_points(struct dir_host *h)
{
	uint32_t *p;

	if (h->npoints >= h->vhosts)
		return 0;
	p = realloc(h->points, h->vhosts * sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	pm_ring_vhost_hashes(&h->addr, h->npoints, h->vhosts, p + h->npoints);
	h->points = p;
	h->npoints = h->vhosts;
	return 0;
}

/* Build a new image from the host table and publish it. On failure the old
 * image stays and the next tick retries. */
static int
publish(struct pm_director *d)
{
	struct pm_ring_input *in;
	struct pm_ring *fresh, *old;
	uint32_t i, n = 0;
	int ret;

	in = calloc(d->nslots ? d->nslots : 1, sizeof(*in));
	if (in == NULL)
		goto fail;
	for (i = 0; i < d->nslots; i++) {
		struct dir_host *h = &d->hosts[i];

		if (!h->in_use)
			continue;
		in[n].addr = h->addr;
		in[n].id = h->id;
		in[n].tag = h->tag;
		in[n].vhosts = h->vhosts;
		in[n].down = h->down;
		in[n].points = host_points(h) == 0 ? h->points : NULL;
		n++;
	}
	ret = pm_ring_build(in, n, (const char *const *)d->tags, d->ntags, d->generation + 1,
			    &fresh);
	free(in);
	if (ret < 0)
		goto fail;
	d->generation++;
	/* Release: the image is fully written before readers can see it;
	 * pairs with rcu_dereference() in the readers. */
	old = rcu_xchg_pointer(&d->ring, fresh);
	if (old != NULL)
		urcu_qsbr_call_rcu((struct rcu_head *)(void *)old->reclaim, ring_free_cb);
	d->ring_dirty = false;
	d->st.rings_published++;
	return 0;
fail:
	d->ring_dirty = true;
	return -ENOMEM;
}

/* ---- pins ------------------------------------------------------------------ */

static inline void
pin_set_state(struct pm_pin *p, uint32_t state)
{
	/* Release: a reader that sees the new host also sees the flags
	 * written with it; pairs with the acquire load in lookups. */
	atomic_store_explicit(&p->state, state, memory_order_release);
}

static inline uint32_t
pin_state(const struct pm_pin *p)
{
	return atomic_load_explicit(&p->state, memory_order_acquire);
}

static inline uint32_t
pin_ts(const struct pm_pin *p)
{
	/* Relaxed: the timestamp is an independent value; a reader may see
	 * the refresh a little late, which only delays its expiry. */
	return atomic_load_explicit(&p->ts, memory_order_relaxed);
}

static inline void
pin_set_ts(struct pm_pin *p, uint32_t ts)
{
	atomic_store_explicit(&p->ts, ts, memory_order_relaxed);
}

/*
 * Double the pin table once it holds two pins per bucket. The writer sizes
 * the table itself instead of using CDS_LFHT_AUTO_RESIZE: with liburcu
 * 0.13.2 the automatic resize was seen to stop growing (1M pins left in 2048
 * buckets, 10 s logins), and its timing depends on the writer's quiescent
 * states. cds_lfht_resize() waits for grace periods, so the writer goes
 * offline for it; it holds no RCU-protected pointer it did not allocate
 * itself across this call. Readers are never blocked.
 */
static void
pins_grow(struct pm_director *d)
{
	unsigned long want = d->buckets * 2;

	urcu_qsbr_thread_offline();
	cds_lfht_resize(d->pins, want);
	urcu_qsbr_thread_online();
	d->buckets = want;
}

static struct pm_pin *
pin_create(struct pm_director *d, uint16_t tag, uint32_t user_hash, struct dir_host *h,
	   uint32_t now_s)
{
	struct pm_pin *p = malloc(sizeof(*p));
	struct cds_lfht_node *ret;

	if (p == NULL)
		return NULL;
	cds_lfht_node_init(&p->node);
	p->user_hash = user_hash;
	p->tag = tag;
	p->pad = 0;
	atomic_init(&p->state, h->id);
	atomic_init(&p->ts, now_s);
	/* The writer is the only inserter and checked for an existing pin
	 * first, so this always adds; add_unique keeps that an invariant. */
	ret = cds_lfht_add_unique(d->pins, pin_lfht_hash(tag, user_hash), pin_match,
				  &(struct pin_key){ .user_hash = user_hash, .tag = tag },
				  &p->node);
	if (ret != &p->node) {
		free(p);
		return caa_container_of(ret, struct pm_pin, node);
	}
	h->user_count++;
	d->st.pins++;
	note_expiry(d, h->id, now_s);
	if (d->st.pins > (uint64_t)d->buckets)
		pins_grow(d);
	return p;
}

static void
moves_forget_pin(struct pm_director *d, struct pm_pin *p)
{
	size_t i;

	for (i = 0; i < d->move_len; i++) {
		struct dir_move *m = &d->moves[(d->move_head + i) % d->move_cap];

		if (m->pin == p)
			m->pin = NULL;
	}
}

static void
pin_delete(struct pm_director *d, struct pm_pin *p)
{
	uint32_t state = pin_state(p);
	struct dir_host *h;

	if (cds_lfht_del(d->pins, &p->node) != 0)
		return;
	h = host_by_id(d, state & PIN_HOST_MASK);
	if (h != NULL)
		h->user_count--;
	if (state & PIN_MOVING)
		moves_forget_pin(d, p);
	d->st.pins--;
	pin_retire(d, p);
}

/* Delete every pin on @h (NULL: every pin). Returns how many. */
static long
pins_delete_host(struct pm_director *d, struct dir_host *h)
{
	struct cds_lfht_iter it;
	struct pm_pin *p;
	long n = 0;

	cds_lfht_for_each_entry(d->pins, &it, p, node) {
		if (h == NULL || (pin_state(p) & PIN_HOST_MASK) == h->id) {
			pin_delete(d, p);
			n++;
		}
	}
	pin_batch_submit(d);
	return n;
}

/* Forget dead pins and compute when the next one dies. */
static void
expire_sweep(struct pm_director *d, uint64_t now_ms)
{
	uint64_t now_s = now_ms / 1000, next = UINT64_MAX;
	struct cds_lfht_iter it;
	struct pm_pin *p;

	cds_lfht_for_each_entry(d->pins, &it, p, node) {
		uint32_t state = pin_state(p), ts = pin_ts(p);
		uint64_t exp_ms = pin_expire_s(d, state, ts) * 1000;

		if (pin_dead(d, state, ts, now_s)) {
			pin_delete(d, p);
			d->st.pins_expired++;
		} else if (exp_ms > now_ms && exp_ms < next) {
			/* A moving pin past its time is noted again when its
			 * move ends (finish_moves). */
			next = exp_ms;
		}
	}
	pin_batch_submit(d);
	d->next_expire_ms = next;
}

/* ---- kicks and moves ------------------------------------------------------- */

static void
emit_kick(struct pm_director *d, const struct pm_kick *k)
{
	d->st.kicks++;
	if (d->kick != NULL)
		d->kick(d->cb_arg, k);
}

static int
moves_push(struct pm_director *d, struct pm_pin *p, uint64_t done_ms)
{
	if (d->move_len == d->move_cap) {
		size_t ncap = d->move_cap ? d->move_cap * 2 : 64, i;
		struct dir_move *nm = malloc(ncap * sizeof(*nm));

		if (nm == NULL)
			return -ENOMEM;
		for (i = 0; i < d->move_len; i++)
			nm[i] = d->moves[(d->move_head + i) % d->move_cap];
		free(d->moves);
		d->moves = nm;
		d->move_cap = ncap;
		d->move_head = 0;
	}
	d->moves[(d->move_head + d->move_len) % d->move_cap] =
		(struct dir_move){ .pin = p, .done_ms = done_ms };
	d->move_len++;
	return 0;
}

/*
 * Dovecot's director_kill_user() for a director that is alone: kick the
 * user's sessions (except those on @except, when given), mark the pin as
 * moving so logins wait, and end the move after the kick delay.
 */
static void
kill_user(struct pm_director *d, struct pm_pin *p, const struct dir_host *except,
	  uint64_t now_ms)
{
	struct pm_kick k = {
		.kind = PM_KICK_HASH,
		.tag = p->tag,
		.user_hash = p->user_hash,
		.has_except = except != NULL,
	};

	if (except != NULL)
		k.except_host = except->addr;
	pin_set_state(p, pin_state(p) | PIN_MOVING);
	if (moves_push(d, p, now_ms + d->cfg.kick_delay_ms) < 0) {
		/* No memory to remember the move: end it at once rather than
		 * leave the user waiting forever. */
		pin_set_state(p, pin_state(p) & ~PIN_MOVING);
	} else {
		d->st.moving++;
	}
	d->st.moves_started++;
	emit_kick(d, &k);
}

/* Point @p at @to (it was elsewhere), refresh it, and run the kill. */
static void
move_pin(struct pm_director *d, struct pm_pin *p, struct dir_host *to, uint64_t now_ms)
{
	uint32_t state = pin_state(p);
	struct dir_host *from = host_by_id(d, state & PIN_HOST_MASK);

	if (from != NULL)
		from->user_count--;
	to->user_count++;
	pin_set_state(p, (state & ~PIN_HOST_MASK) | to->id);
	pin_set_ts(p, (uint32_t)(now_ms / 1000));
	note_expiry(d, to->id, (uint32_t)(now_ms / 1000));
	kill_user(d, p, to, now_ms);
}

static void run_jobs(struct pm_director *d, uint64_t now_ms);

static void
finish_moves(struct pm_director *d, uint64_t now_ms)
{
	bool finished = false;

	while (d->move_len > 0) {
		struct dir_move *m = &d->moves[d->move_head];

		if (m->done_ms > now_ms)
			break;
		if (m->pin != NULL) {
			uint32_t state = pin_state(m->pin) & ~PIN_MOVING;

			pin_set_state(m->pin, state);
			note_expiry(d, state, pin_ts(m->pin));
		}
		d->move_head = (d->move_head + 1) % d->move_cap;
		d->move_len--;
		d->st.moving--;
		finished = true;
	}
	if (finished)
		run_jobs(d, now_ms);
}

/* ---- construction --------------------------------------------------------- */

struct pm_director *
pm_director_new(const struct pm_director_config *cfg, pm_kick_cb kick, pm_job_done_cb job_done,
		void *cb_arg)
{
	struct pm_director *d;

	if (pm_director_config_check(cfg) < 0)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->cfg = *cfg;
	atomic_init(&d->expire_s, cfg->user_expire_s);
	d->kick = kick;
	d->job_done = job_done;
	d->cb_arg = cb_arg;
	d->jobs_tail = &d->jobs;
	d->next_expire_ms = UINT64_MAX;
	d->tags = calloc(1, sizeof(*d->tags));
	if (d->tags == NULL || (d->tags[0] = strdup("")) == NULL)
		goto fail;
	d->ntags = 1;
	/* Between one and two pins per bucket (pins_grow()): a bucket is a
	 * 16-byte node, so 8 to 16 bytes per pin on top of the pin itself. */
	d->buckets = 16;
	while (d->buckets < cfg->expected_users && d->buckets < (1ul << 30))
		d->buckets *= 2;
	d->pins = cds_lfht_new_flavor(d->buckets, d->buckets, 0, 0, &urcu_qsbr_flavor, NULL);
	if (d->pins == NULL)
		goto fail;
	d->hash = malloc(sizeof(*d->hash));
	if (d->hash == NULL)
		goto fail;
	d->hash->fmt = cfg->hash_fmt;
	if (publish(d) < 0)
		goto fail;
	return d;
fail:
	free(d->hash);
	if (d->pins != NULL)
		cds_lfht_destroy(d->pins, NULL);
	if (d->tags != NULL)
		free(d->tags[0]);
	free(d->tags);
	free(d);
	return NULL;
}

void
pm_director_free(struct pm_director *d)
{
	struct dir_job *j, *jn;
	uint32_t i;

	if (d == NULL)
		return;
	pins_delete_host(d, NULL);
	pin_batch_submit(d);
	/* The table's teardown may wait for grace periods: not while online. */
	urcu_qsbr_thread_offline();
	cds_lfht_destroy(d->pins, NULL);
	urcu_qsbr_thread_online();
	if (d->ring != NULL)
		urcu_qsbr_call_rcu((struct rcu_head *)(void *)d->ring->reclaim, ring_free_cb);
	/* Wait for readers, then for every pending free. */
	urcu_qsbr_synchronize_rcu();
	urcu_qsbr_barrier();
	free(d->hash);
	for (j = d->jobs; j != NULL; j = jn) {
		jn = j->next;
		free(j->users);
		free(j->killed_hosts);
		free(j);
	}
	for (i = 0; i < d->nslots; i++)
		free(d->hosts[i].points);
	for (i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	free(d->hosts);
	free(d->moves);
	free(d);
}

/* ---- readers ---------------------------------------------------------------- */

static void
fill_answer(struct pm_dir_answer *ans, const struct pm_ring *r, int idx)
{
	ans->host = r->hosts[idx].addr;
	ans->host_id = r->hosts[idx].id;
	ans->generation = r->generation;
	ans->expire_s = 0;
}

enum pm_dir_status
pm_director_lookup(struct pm_director *d, uint16_t tag, uint32_t user_hash, uint32_t now_s,
		   struct pm_dir_answer *ans)
{
	const struct pm_ring *r = rcu_dereference(d->ring);
	struct pm_pin *p = pin_find(d, tag, user_hash);
	int idx;

	if (p != NULL) {
		uint32_t state = pin_state(p), ts = pin_ts(p);

		if (state & PIN_MOVING)
			return PM_DIR_WAIT;
		if (!pin_dead(d, state, ts, now_s)) {
			idx = pm_ring_host_by_id(r, state & PIN_HOST_MASK);
			if (idx != PM_RING_NO_HOST) {
				fill_answer(ans, r, idx);
				ans->expire_s = (uint32_t)pin_expire_s(d, state, ts);
				return PM_DIR_PINNED;
			}
		}
	}
	idx = pm_ring_lookup(r, tag, user_hash);
	if (idx == PM_RING_NO_HOST)
		return PM_DIR_NOHOST;
	fill_answer(ans, r, idx);
	return PM_DIR_HASHED;
}

const struct pm_ring *
pm_director_ring(struct pm_director *d)
{
	return rcu_dereference(d->ring);
}

/* ---- writer: tags, logins ---------------------------------------------------- */

int
pm_director_tag(struct pm_director *d, const char *name, bool create)
{
	char **nt, *copy;
	uint32_t i;

	if (name == NULL)
		name = "";
	for (i = 0; i < d->ntags; i++) {
		if (strcmp(d->tags[i], name) == 0)
			return (int)i;
	}
	if (!create)
		return -ENOENT;
	if (d->ntags >= PM_RING_MAX_TAGS)
		return -ENOSPC;
	copy = strdup(name);
	nt = realloc(d->tags, (d->ntags + 1) * sizeof(*nt));
	if (copy == NULL || nt == NULL) {
		free(copy);
		if (nt != NULL)
			d->tags = nt;
		return -ENOMEM;
	}
	d->tags = nt;
	d->tags[d->ntags] = copy;
	return (int)d->ntags++;
}

uint32_t
pm_director_hash(const struct pm_director *d, const char *user, size_t len)
{
	/* Readers must not look at d->cfg, which the writer replaces. */
	return pm_userhash(&rcu_dereference(d->hash)->fmt, user, len);
}

static void
fill_host_answer(const struct pm_director *d, struct pm_dir_answer *ans,
		 const struct dir_host *h)
{
	ans->host = h->addr;
	ans->host_id = h->id;
	ans->generation = d->generation;
	ans->expire_s = 0;
}

enum pm_dir_status
pm_director_login(struct pm_director *d, uint16_t tag, uint32_t user_hash, uint32_t hint_host_id,
		  uint64_t now_ms, struct pm_dir_answer *ans)
{
	uint32_t now_s = (uint32_t)(now_ms / 1000);
	struct pm_pin *p;
	struct dir_host *h = NULL;
	int idx;

	if (tag >= d->ntags)
		return PM_DIR_NOHOST;
	p = pin_find(d, tag, user_hash);
	if (p != NULL) {
		uint32_t state = pin_state(p);

		if (state & PIN_MOVING)
			return PM_DIR_WAIT;
		h = host_by_id(d, state & PIN_HOST_MASK);
		if (!pin_dead(d, state, pin_ts(p), now_s) && h != NULL) {
			pin_set_ts(p, now_s);
			note_expiry(d, state, now_s);
			fill_host_answer(d, ans, h);
			ans->expire_s = (uint32_t)pin_expire_s(d, state, now_s);
			return PM_DIR_PINNED;
		}
		pin_delete(d, p);
		pin_batch_submit(d);
	}
	h = hint_host_id != 0 ? host_by_id(d, hint_host_id) : NULL;
	if (h == NULL || h->tag != tag) {
		idx = pm_ring_lookup(d->ring, tag, user_hash);
		if (idx == PM_RING_NO_HOST)
			return PM_DIR_NOHOST;
		h = host_by_id(d, d->ring->hosts[idx].id);
		if (h == NULL)
			return PM_DIR_NOHOST;
	}
	p = pin_create(d, tag, user_hash, h, now_s);
	fill_host_answer(d, ans, h);
	if (p == NULL)
		return PM_DIR_HASHED;	/* placed, but could not remember it */
	ans->expire_s = (uint32_t)pin_expire_s(d, pin_state(p), now_s);
	return PM_DIR_HASHED;
}

int
pm_director_refresh(struct pm_director *d, uint32_t user_hash, uint64_t now_ms)
{
	uint32_t now_s = (uint32_t)(now_ms / 1000);
	int found = -ENOENT;
	uint32_t t;

	for (t = 0; t < d->ntags; t++) {
		struct pm_pin *p = pin_find(d, (uint16_t)t, user_hash);

		if (p == NULL || pin_dead(d, pin_state(p), pin_ts(p), now_s))
			continue;
		pin_set_ts(p, now_s);
		note_expiry(d, pin_state(p), now_s);
		found = 0;
	}
	return found;
}

/* ---- writer: hosts ----------------------------------------------------------- */

/* Take the first free slot at or after *@from (and advance *@from past it),
 * or append one. Returns NULL when the table is full or out of memory. */
static struct dir_host *
host_alloc(struct pm_director *d, uint32_t *from)
{
	struct dir_host *h;
	uint32_t i;

	for (i = *from; i < d->nslots; i++) {
		if (!d->hosts[i].in_use)
			break;
	}
	if (i == d->nslots) {
		if (d->nslots == HOST_SLOTS_MAX || d->nslots == PM_RING_MAX_HOSTS)
			return NULL;
		if (d->nslots == d->slot_cap) {
			uint32_t ncap = d->slot_cap ? d->slot_cap * 2 : 16;
			struct dir_host *nh = realloc(d->hosts, ncap * sizeof(*nh));

			if (nh == NULL)
				return NULL;
			d->hosts = nh;
			d->slot_cap = ncap;
		}
		memset(&d->hosts[d->nslots], 0, sizeof(d->hosts[0]));
		d->nslots++;
	}
	*from = i + 1;
	h = &d->hosts[i];
	/* A new generation per reuse: a reader holding an old pin and a new
	 * image then sees an id mismatch instead of the wrong host. */
	h->gen = (uint8_t)(h->gen % 255 + 1);
	h->id = i | (uint32_t)h->gen << 16;
	return h;
}

int
pm_director_host_set(struct pm_director *d, const struct pm_addr *addr, const char *tag,
		     int vhosts, bool create, uint64_t now_ms)
{
	struct dir_host *h;
	int t;

	(void)now_ms;
	if (vhosts > PM_RING_MAX_VHOSTS)
		return -E2BIG;
	if (addr->family != PM_AF_INET && addr->family != PM_AF_INET6)
		return -EINVAL;
	if (tag == NULL)
		tag = "";
	h = host_by_addr(d, addr);
	if (h == NULL) {
		if (!create)
			return -ENOENT;
		t = pm_director_tag(d, tag, true);
		if (t < 0)
			return t;
		h = host_alloc(d, &(uint32_t){ 0 });
		if (h == NULL)
			return -ENOSPC;
		h->addr = *addr;
		h->tag = (uint16_t)t;
		h->vhosts = vhosts < 0 ? PM_RING_DEFAULT_VHOSTS : (uint16_t)vhosts;
		h->down = false;
		h->last_updown_s = 0;
		h->user_count = 0;
		h->points = NULL;
		h->npoints = 0;
		h->in_use = true;
	} else {
		if (tag[0] != '\0' && strcmp(d->tags[h->tag], tag) != 0)
			return -EEXIST;
		if (vhosts < 0 || h->vhosts == vhosts)
			return 0;
		h->vhosts = (uint16_t)vhosts;
	}
	publish(d);
	return 0;
}

int
pm_director_host_updown(struct pm_director *d, const struct pm_addr *addr, bool down,
			uint64_t now_ms)
{
	struct dir_host *h = host_by_addr(d, addr);

	if (h == NULL)
		return -ENOENT;
	if (h->down == down)
		return 0;
	h->down = down;
	h->last_updown_s = (int64_t)(now_ms / 1000);
	publish(d);
	return 0;
}

int
pm_director_host_remove(struct pm_director *d, const struct pm_addr *addr, uint64_t now_ms)
{
	struct dir_host *h = host_by_addr(d, addr);

	(void)now_ms;
	if (h == NULL)
		return -ENOENT;
	pins_delete_host(d, h);
	free(h->points);
	h->points = NULL;
	h->npoints = 0;
	h->in_use = false;
	publish(d);
	return 0;
}

long
pm_director_host_flush(struct pm_director *d, const struct pm_addr *addr, uint64_t now_ms)
{
	struct dir_host *h = NULL;

	(void)now_ms;
	if (addr != NULL) {
		h = host_by_addr(d, addr);
		if (h == NULL)
			return -ENOENT;
	}
	return pins_delete_host(d, h);
}

/* ---- writer: a whole desired state -------------------------------------------- */

struct state_ref {
	const struct pm_addr *addr;
	size_t idx;
};

static int
cmp_state_ref(const void *a, const void *b)
{
	const struct state_ref *x = a, *y = b;
	int c = pm_addr_cmp(x->addr, y->addr);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
cmp_slot_addr(const void *a, const void *b, void *arg)
{
	const struct dir_host *hosts = arg;

	return pm_addr_cmp(&hosts[*(const uint32_t *)a].addr, &hosts[*(const uint32_t *)b].addr);
}

/* Per input host: what pm_director_set_hosts() does with it. */
#define SET_CREATE UINT32_MAX	/* no existing host of that address and tag */

/*
 * Check @hosts in full; on success fill @slot_of (per input: the existing
 * slot to update, or SET_CREATE), @tag_of and @doomed (per slot: remove it)
 * and @retagged, and return how many hosts must be created (retagged ones
 * included). Changes nothing, except that tags named by @hosts are created
 * (an unused tag is harmless: its ring is empty).
 */
static long
set_hosts_plan(struct pm_director *d, const struct pm_director_host_state *hosts, size_t n,
	       uint32_t *slot_of, uint16_t *tag_of, bool *doomed, uint32_t *retagged,
	       size_t *bad)
{
	struct state_ref *ref = NULL;
	uint32_t *live = NULL, nlive = 0, i;
	size_t k, dup = SIZE_MAX;
	long ncreate = 0;
	int ret = 0, t;

	for (k = 0; k < n; k++) {
		if (hosts[k].addr.family != PM_AF_INET && hosts[k].addr.family != PM_AF_INET6) {
			*bad = k;
			return -EINVAL;
		}
		if (hosts[k].vhosts > PM_RING_MAX_VHOSTS) {
			*bad = k;
			return -E2BIG;
		}
	}
	if (n > PM_RING_MAX_HOSTS || n > HOST_SLOTS_MAX)
		return -ENOSPC;
	ref = malloc((n ? n : 1) * sizeof(*ref));
	live = malloc((d->nslots ? d->nslots : 1) * sizeof(*live));
	if (ref == NULL || live == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* Duplicates: sort by address; report the earliest later copy. */
	for (k = 0; k < n; k++)
		ref[k] = (struct state_ref){ .addr = &hosts[k].addr, .idx = k };
	qsort(ref, n, sizeof(*ref), cmp_state_ref);
	for (k = 1; k < n; k++) {
		if (pm_addr_eq(ref[k - 1].addr, ref[k].addr) && ref[k].idx < dup)
			dup = ref[k].idx;
	}
	if (dup != SIZE_MAX) {
		*bad = dup;
		ret = -EEXIST;
		goto out;
	}
	for (k = 0; k < n; k++) {
		t = pm_director_tag(d, hosts[k].tag, true);
		if (t < 0) {
			*bad = k;
			ret = t;
			goto out;
		}
		tag_of[k] = (uint16_t)t;
	}
	/* Match the input against the live hosts, both in address order. */
	for (i = 0; i < d->nslots; i++) {
		doomed[i] = false;
		if (d->hosts[i].in_use)
			live[nlive++] = i;
	}
	qsort_r(live, nlive, sizeof(*live), cmp_slot_addr, d->hosts);
	i = 0;
	for (k = 0; k < n; k++) {
		size_t in = ref[k].idx;
		int c = -1;

		while (i < nlive && (c = pm_addr_cmp(&d->hosts[live[i]].addr, ref[k].addr)) < 0)
			doomed[live[i++]] = true;	/* absent from the state */
		if (i < nlive && c == 0) {
			if (d->hosts[live[i]].tag == tag_of[in]) {
				slot_of[in] = live[i];
			} else {
				doomed[live[i]] = true;	/* retagged */
				slot_of[in] = SET_CREATE;
				ncreate++;
				(*retagged)++;
			}
			i++;
		} else {
			slot_of[in] = SET_CREATE;
			ncreate++;
		}
	}
	while (i < nlive)
		doomed[live[i++]] = true;
	ret = 0;
out:
	free(ref);
	free(live);
	return ret < 0 ? ret : ncreate;
}

/* Make room so that @ncreate hosts can be created once the doomed slots
 * are free: host_alloc() then cannot fail. */
static int
set_hosts_reserve(struct pm_director *d, const bool *doomed, long ncreate)
{
	uint32_t free_after = 0, want, ncap, i;
	struct dir_host *nh;

	for (i = 0; i < d->nslots; i++)
		free_after += !d->hosts[i].in_use || doomed[i];
	if ((uint32_t)ncreate <= free_after)
		return 0;
	want = d->nslots + ((uint32_t)ncreate - free_after);
	if (want > HOST_SLOTS_MAX || want > PM_RING_MAX_HOSTS)
		return -ENOSPC;
	if (want <= d->slot_cap)
		return 0;
	ncap = d->slot_cap ? d->slot_cap : 16;
	while (ncap < want)
		ncap *= 2;
	nh = realloc(d->hosts, ncap * sizeof(*nh));
	if (nh == NULL)
		return -ENOMEM;
	d->hosts = nh;
	d->slot_cap = ncap;
	return 0;
}

int
pm_director_set_hosts(struct pm_director *d, const struct pm_director_host_state *hosts,
		      size_t n, uint64_t now_ms, struct pm_director_apply_result *res)
{
	struct pm_director_apply_result local;
	uint32_t *slot_of = NULL, cursor = 0, i;
	uint16_t *tag_of = NULL;
	bool *doomed = NULL, ring_changed = false, any_doomed = false;
	struct cds_lfht_iter it;
	struct pm_pin *p;
	long ncreate;
	size_t k;
	int ret;

	(void)now_ms;
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	slot_of = malloc((n ? n : 1) * sizeof(*slot_of));
	tag_of = malloc((n ? n : 1) * sizeof(*tag_of));
	doomed = malloc((d->nslots ? d->nslots : 1) * sizeof(*doomed));
	if (slot_of == NULL || tag_of == NULL || doomed == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ncreate = set_hosts_plan(d, hosts, n, slot_of, tag_of, doomed, &res->retagged, &res->bad);
	if (ncreate < 0) {
		ret = (int)ncreate;
		goto out;
	}
	ret = set_hosts_reserve(d, doomed, ncreate);
	if (ret < 0)
		goto out;

	/* Nothing fails from here on. Forget the pins of every doomed host
	 * in one pass over the table, then free the slots. */
	for (i = 0; i < d->nslots; i++)
		any_doomed |= doomed[i];
	if (any_doomed) {
		cds_lfht_for_each_entry(d->pins, &it, p, node) {
			struct dir_host *h = host_by_id(d, pin_state(p) & PIN_HOST_MASK);

			if (h != NULL && doomed[h - d->hosts]) {
				pin_delete(d, p);
				res->pins_forgotten++;
			}
		}
		pin_batch_submit(d);
	}
	for (i = 0; i < d->nslots; i++) {
		if (!doomed[i])
			continue;
		free(d->hosts[i].points);
		d->hosts[i].points = NULL;
		d->hosts[i].npoints = 0;
		d->hosts[i].in_use = false;
		res->removed++;
		ring_changed = true;
	}
	for (k = 0; k < n; k++) {
		const struct pm_director_host_state *s = &hosts[k];
		struct dir_host *h;

		if (slot_of[k] != SET_CREATE) {
			h = &d->hosts[slot_of[k]];
			if (h->vhosts != s->vhosts || h->down != s->down)
				ring_changed = true;
			else if (h->last_updown_s == s->last_updown_s)
				continue;
			h->vhosts = s->vhosts;
			h->down = s->down;
			h->last_updown_s = s->last_updown_s;
			res->updated++;
			continue;
		}
		h = host_alloc(d, &cursor);	/* room was reserved */
		h->addr = s->addr;
		h->tag = tag_of[k];
		h->vhosts = s->vhosts;
		h->down = s->down;
		h->last_updown_s = s->last_updown_s;
		h->user_count = 0;
		h->points = NULL;
		h->npoints = 0;
		h->in_use = true;
		res->created++;
		ring_changed = true;
	}
	/* A retagged host was counted as removed and as created. */
	res->removed -= res->retagged;
	res->created -= res->retagged;
	if (ring_changed)
		publish(d);
	ret = 0;
out:
	free(slot_of);
	free(tag_of);
	free(doomed);
	return ret;
}

/* ---- writer: settings ----------------------------------------------------------- */

long
pm_director_set_config(struct pm_director *d, const struct pm_director_config *cfg,
		       uint64_t now_ms)
{
	uint32_t expected = d->cfg.expected_users;
	bool rehash;
	size_t i;

	if (pm_director_config_check(cfg) < 0)
		return -EINVAL;
	rehash = strcmp(d->cfg.hash_fmt.text, cfg->hash_fmt.text) != 0 ||
		 d->cfg.hash_fmt.master_sep != cfg->hash_fmt.master_sep;
	if (cfg->kick_delay_ms < d->cfg.kick_delay_ms) {
		/* Moves end in FIFO order; capping every end time at the same
		 * bound keeps the queue sorted, and later moves end later. */
		uint64_t cap = now_ms + cfg->kick_delay_ms;

		for (i = 0; i < d->move_len; i++) {
			struct dir_move *m = &d->moves[(d->move_head + i) % d->move_cap];

			if (m->done_ms > cap)
				m->done_ms = cap;
		}
	}
	if (cfg->user_expire_s != d->cfg.user_expire_s) {
		/* Relaxed: see pin_expire_s(). The next tick sweeps pins that
		 * the new setting has killed and finds the next expiry. */
		atomic_store_explicit(&d->expire_s, cfg->user_expire_s, memory_order_relaxed);
		d->next_expire_ms = 0;
	}
	if (rehash) {
		struct hash_box *fresh = malloc(sizeof(*fresh)), *old;

		if (fresh == NULL)
			return -ENOMEM;
		fresh->fmt = cfg->hash_fmt;
		old = rcu_xchg_pointer(&d->hash, fresh);
		urcu_qsbr_call_rcu(&old->rcu, hash_free_cb);
	}
	d->cfg = *cfg;
	d->cfg.expected_users = expected;
	if (!rehash)
		return 0;
	return pins_delete_host(d, NULL);
}

/* ---- writer: HOST-RESET-USERS ------------------------------------------------- */

struct snap_user {
	struct job_user u;
	uint32_t ts;
	int host_rank;		/* host position in IP order */
};

static int
cmp_snap(const void *a, const void *b)
{
	const struct snap_user *x = a, *y = b;

	if (x->host_rank != y->host_rank)
		return x->host_rank < y->host_rank ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->u.user_hash != y->u.user_hash)
		return x->u.user_hash < y->u.user_hash ? -1 : 1;
	return 0;
}

static void
job_note_killed(struct dir_job *j, uint32_t host_id)
{
	size_t i;
	uint32_t *nk;

	for (i = 0; i < j->nkilled; i++) {
		if (j->killed_hosts[i] == host_id)
			return;
	}
	nk = realloc(j->killed_hosts, (j->nkilled + 1) * sizeof(*nk));
	if (nk == NULL)
		return;
	j->killed_hosts = nk;
	j->killed_hosts[j->nkilled++] = host_id;
}

/* Dispatch as many of @j's users as the parallelism allows. Returns true
 * once every user has been dispatched. */
static bool
job_step(struct pm_director *d, struct dir_job *j, uint64_t now_ms)
{
	uint64_t now_s = now_ms / 1000;

	while (j->pos < j->n) {
		struct job_user *u = &j->users[j->pos];
		struct pm_pin *p;
		struct dir_host *from;
		uint32_t state;
		int idx;

		if (d->st.moving >= j->max_parallel)
			return false;
		p = pin_find(d, u->tag, u->user_hash);
		if (p == NULL) {
			j->pos++;
			continue;
		}
		state = pin_state(p);
		if ((state & PIN_HOST_MASK) != u->host_id ||
		    pin_dead(d, state, pin_ts(p), now_s)) {
			j->pos++;
			continue;
		}
		if (state & PIN_MOVING) {
			/* Still in an earlier move's kick delay: come back
			 * to it once some move has ended. */
			return false;
		}
		j->pos++;
		from = host_by_id(d, u->host_id);
		idx = pm_ring_lookup(d->ring, u->tag, u->user_hash);
		if (idx != PM_RING_NO_HOST) {
			struct dir_host *to = host_by_id(d, d->ring->hosts[idx].id);

			if (to == NULL || to == from)
				continue;
			move_pin(d, p, to, now_ms);
		} else {
			/* No backend left in the tag: kick the user and,
			 * once all are dispatched, forget the host's pins. */
			kill_user(d, p, NULL, now_ms);
			job_note_killed(j, u->host_id);
		}
	}
	return true;
}

static void
run_jobs(struct pm_director *d, uint64_t now_ms)
{
	struct dir_job *j;

	while ((j = d->jobs) != NULL) {
		size_t i;

		if (!job_step(d, j, now_ms))
			return;
		for (i = 0; i < j->nkilled; i++) {
			struct dir_host *h = host_by_id(d, j->killed_hosts[i]);

			if (h != NULL)
				pins_delete_host(d, h);
		}
		d->jobs = j->next;
		if (d->jobs == NULL)
			d->jobs_tail = &d->jobs;
		d->st.jobs--;
		if (d->job_done != NULL)
			d->job_done(d->cb_arg, j->id);
		free(j->users);
		free(j->killed_hosts);
		free(j);
	}
}

static int
host_rank(struct pm_director *d, const struct dir_host *h)
{
	int rank = 0;
	uint32_t i;

	for (i = 0; i < d->nslots; i++) {
		if (d->hosts[i].in_use && pm_addr_cmp(&d->hosts[i].addr, &h->addr) < 0)
			rank++;
	}
	return rank;
}

int64_t
pm_director_reset_users(struct pm_director *d, const struct pm_addr *addr, uint32_t max_parallel,
			uint64_t now_ms)
{
	struct dir_host *only = NULL;
	struct snap_user *snap = NULL;
	size_t n = 0, cap = 0, i;
	struct cds_lfht_iter it;
	struct dir_job *j;
	struct pm_pin *p;
	uint64_t id;
	int *rank;

	if (addr != NULL) {
		only = host_by_addr(d, addr);
		if (only == NULL)
			return -ENOENT;
	}
	j = calloc(1, sizeof(*j));
	rank = calloc(d->nslots ? d->nslots : 1, sizeof(*rank));
	if (j == NULL || rank == NULL) {
		free(j);
		free(rank);
		return -ENOMEM;
	}
	for (i = 0; i < d->nslots; i++) {
		if (d->hosts[i].in_use)
			rank[i] = host_rank(d, &d->hosts[i]);
	}
	/* Snapshot the candidates in Dovecot's order (host by host, oldest
	 * first) so the job never holds a table iterator across grace periods. */
	cds_lfht_for_each_entry(d->pins, &it, p, node) {
		uint32_t state = pin_state(p);
		struct dir_host *h = host_by_id(d, state & PIN_HOST_MASK);

		if (h == NULL || (only != NULL && h != only))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct snap_user *ns = realloc(snap, ncap * sizeof(*ns));

			if (ns == NULL) {
				free(snap);
				free(rank);
				free(j);
				return -ENOMEM;
			}
			snap = ns;
			cap = ncap;
		}
		snap[n].u = (struct job_user){ .user_hash = p->user_hash, .host_id = h->id,
					       .tag = p->tag };
		snap[n].ts = pin_ts(p);
		snap[n].host_rank = rank[h->id & 0xffffu];
		n++;
	}
	free(rank);
	if (n > 0)	/* qsort(NULL, 0) is undefined */
		qsort(snap, n, sizeof(*snap), cmp_snap);
	j->users = calloc(n ? n : 1, sizeof(*j->users));
	if (j->users == NULL) {
		free(snap);
		free(j);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		j->users[i] = snap[i].u;
	free(snap);
	j->n = n;
	j->id = id = ++d->next_job_id;
	j->max_parallel = max_parallel ? max_parallel : d->cfg.max_parallel_moves;
	*d->jobs_tail = j;
	d->jobs_tail = &j->next;
	d->st.jobs++;
	/* The job may finish, and be freed, right here. */
	run_jobs(d, now_ms);
	pin_batch_submit(d);
	return (int64_t)id;
}

/* ---- writer: users ------------------------------------------------------------ */

int
pm_director_user_move(struct pm_director *d, uint32_t user_hash, const struct pm_addr *addr,
		      uint64_t now_ms)
{
	uint32_t now_s = (uint32_t)(now_ms / 1000);
	struct dir_host *h = host_by_addr(d, addr);
	struct pm_pin *p;

	if (h == NULL)
		return -ENOENT;
	p = pin_find(d, h->tag, user_hash);
	if (p != NULL) {
		uint32_t state = pin_state(p);

		if (state & PIN_MOVING)
			return -EAGAIN;
		if (pin_dead(d, state, pin_ts(p), now_s)) {
			pin_delete(d, p);
			pin_batch_submit(d);
			p = NULL;
		} else if ((state & PIN_HOST_MASK) == h->id) {
			/* Already there: only refresh, as Dovecot does. */
			pin_set_ts(p, now_s);
			note_expiry(d, state, now_s);
			return 0;
		}
	}
	if (p == NULL) {
		p = pin_create(d, h->tag, user_hash, h, now_s);
		if (p == NULL)
			return -ENOMEM;
		kill_user(d, p, h, now_ms);
		return 0;
	}
	move_pin(d, p, h, now_ms);
	return 0;
}

void
pm_director_user_kick(struct pm_director *d, const char *user)
{
	struct pm_kick k = { .kind = PM_KICK_USER, .user = user };

	emit_kick(d, &k);
}

void
pm_director_user_kick_alt(struct pm_director *d, const char *field, const char *value)
{
	struct pm_kick k = { .kind = PM_KICK_ALT, .field = field, .value = value };

	emit_kick(d, &k);
}

int
pm_director_user_set_weak(struct pm_director *d, uint16_t tag, uint32_t user_hash, bool weak,
			  uint64_t now_ms)
{
	struct pm_pin *p = pin_find(d, tag, user_hash);
	uint32_t state;

	if (p == NULL || pin_dead(d, pin_state(p), pin_ts(p), now_ms / 1000))
		return -ENOENT;
	state = pin_state(p);
	state = weak ? state | PIN_WEAK : state & ~PIN_WEAK;
	pin_set_state(p, state);
	note_expiry(d, state, pin_ts(p));
	return 0;
}

uint64_t
pm_director_tick(struct pm_director *d, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;

	finish_moves(d, now_ms);
	run_jobs(d, now_ms);
	if (d->next_expire_ms <= now_ms)
		expire_sweep(d, now_ms);
	if (d->ring_dirty)
		publish(d);
	pin_batch_submit(d);

	if (d->move_len > 0)
		next = d->moves[d->move_head].done_ms;
	if (d->next_expire_ms < next)
		next = d->next_expire_ms;
	if (d->ring_dirty && now_ms + 1000 < next)
		next = now_ms + 1000;
	return next;
}

/* ---- writer: queries ----------------------------------------------------------- */

static void
host_info(const struct pm_director *d, const struct dir_host *h, struct pm_host_info *out)
{
	out->addr = h->addr;
	out->tag = d->tags[h->tag];
	out->tag_index = h->tag;
	out->vhosts = h->vhosts;
	out->down = h->down;
	out->last_updown_s = h->last_updown_s;
	out->user_count = h->user_count;
}

static int
cmp_host_ptr(const void *a, const void *b)
{
	const struct dir_host *const *x = a, *const *y = b;

	return pm_addr_cmp(&(*x)->addr, &(*y)->addr);
}

void
pm_director_host_list(struct pm_director *d, uint64_t now_ms,
		      void (*fn)(void *arg, const struct pm_host_info *h), void *arg)
{
	struct dir_host **order;
	struct pm_host_info info;
	uint32_t i, n = 0;

	if (d->next_expire_ms <= now_ms)
		expire_sweep(d, now_ms);
	order = malloc((d->nslots ? d->nslots : 1) * sizeof(*order));
	if (order == NULL)
		return;
	for (i = 0; i < d->nslots; i++) {
		if (d->hosts[i].in_use)
			order[n++] = &d->hosts[i];
	}
	qsort(order, n, sizeof(*order), cmp_host_ptr);
	for (i = 0; i < n; i++) {
		host_info(d, order[i], &info);
		fn(arg, &info);
	}
	free(order);
}

int
pm_director_host_get(struct pm_director *d, const struct pm_addr *addr, uint64_t now_ms,
		     struct pm_host_info *out)
{
	struct dir_host *h;

	if (d->next_expire_ms <= now_ms)
		expire_sweep(d, now_ms);
	h = host_by_addr(d, addr);
	if (h == NULL)
		return -ENOENT;
	host_info(d, h, out);
	return 0;
}

static bool
user_info(struct pm_director *d, struct pm_pin *p, uint64_t now_s, struct pm_user_info *u)
{
	uint32_t state = pin_state(p), ts = pin_ts(p);
	struct dir_host *h = host_by_id(d, state & PIN_HOST_MASK);

	if (h == NULL || pin_dead(d, state, ts, now_s))
		return false;
	u->user_hash = p->user_hash;
	u->tag = p->tag;
	u->host = h->addr;
	u->expire_s = (uint32_t)((uint64_t)ts + d->cfg.user_expire_s);
	u->weak = (state & PIN_WEAK) != 0;
	u->moving = (state & PIN_MOVING) != 0;
	return true;
}

int
pm_director_user_lookup(struct pm_director *d, uint16_t tag, uint32_t user_hash, uint64_t now_ms,
			struct pm_user_info *pin, struct pm_addr *hashed)
{
	struct pm_pin *p;
	int idx;

	if (tag >= d->ntags)
		return -ENOENT;
	memset(pin, 0, sizeof(*pin));
	memset(hashed, 0, sizeof(*hashed));
	pin->user_hash = user_hash;
	pin->tag = tag;
	p = pin_find(d, tag, user_hash);
	if (p != NULL && !user_info(d, p, now_ms / 1000, pin)) {
		memset(pin, 0, sizeof(*pin));
		pin->user_hash = user_hash;
		pin->tag = tag;
	}
	idx = pm_ring_lookup(d->ring, tag, user_hash);
	if (idx != PM_RING_NO_HOST)
		*hashed = d->ring->hosts[idx].addr;
	return 0;
}

struct list_entry {
	struct pm_user_info u;
	uint32_t ts;
};

static int
cmp_list(const void *a, const void *b)
{
	const struct list_entry *x = a, *y = b;

	if (x->u.tag != y->u.tag)
		return x->u.tag < y->u.tag ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->u.user_hash != y->u.user_hash)
		return x->u.user_hash < y->u.user_hash ? -1 : 1;
	return 0;
}

long
pm_director_user_list(struct pm_director *d, const struct pm_addr *host, uint64_t now_ms,
		      void (*fn)(void *arg, const struct pm_user_info *u), void *arg)
{
	struct list_entry *arr = NULL;
	size_t n = 0, cap = 0, i;
	struct cds_lfht_iter it;
	struct pm_pin *p;

	cds_lfht_for_each_entry(d->pins, &it, p, node) {
		struct list_entry e;

		if (!user_info(d, p, now_ms / 1000, &e.u))
			continue;
		if (host != NULL && !pm_addr_eq(host, &e.u.host))
			continue;
		e.ts = pin_ts(p);
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct list_entry *na = realloc(arr, ncap * sizeof(*na));

			if (na == NULL) {
				free(arr);
				return -ENOMEM;
			}
			arr = na;
			cap = ncap;
		}
		arr[n++] = e;
	}
	if (n > 0)	/* qsort(NULL, 0) is undefined */
		qsort(arr, n, sizeof(*arr), cmp_list);
	for (i = 0; i < n; i++)
		fn(arg, &arr[i].u);
	free(arr);
	return (long)n;
}

void
pm_director_stats(const struct pm_director *d, struct pm_director_stats *s)
{
	*s = d->st;
	s->pin_buckets = d->buckets;
}
