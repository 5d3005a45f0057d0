/*
 * test_stress.c -- readers against a busy writer.
 *
 * Two reader threads (QSBR readers, as worker lcores are) look users up
 * without pause while the writer publishes more than 10,000 ring images and
 * moves, creates, flushes and expires pins. Every answer is recorded with
 * the ring generations seen just before and after it, and checked
 * afterwards: a hashed answer must be exactly what the ring of the
 * generation it names says, a pinned answer must name a host the writer
 * could have pinned that user to and that exists in that generation, a
 * "no host" answer needs an empty ring in the window, and only users that
 * are being moved may wait. Run under ASan in CI, this is also the
 * use-after-free test for call_rcu reclamation.
 *
 * The PRNG seed is printed; set PM_SEED to replay a run.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu/urcu-qsbr.h>

#include "director/director.h"

#define T0_MS 1800000000000ull
#define NHOSTS 5
#define NUSERS 1000		/* per class */
#define READERS 2
#define MIN_PUBLISHES 10000
#define SAMPLES_PER_READER 300000

enum user_class { CLASS_R, CLASS_P, CLASS_L };	/* ring-only, moved, logged in */

struct host_cfg {
	uint16_t vhosts[NHOSTS];
	bool present[NHOSTS];
};

struct sample {
	uint64_t gen_before, gen_after, gen_used;
	uint32_t user;		/* class * NUSERS + index */
	uint8_t status;
	uint8_t host;		/* 1..5, 0 if none */
};

struct reader {
	pthread_t thread;
	uint64_t seed;
	struct sample *samples;
	size_t nsamples;
	_Atomic uint64_t lookups;
	bool gen_went_back;
};

static struct pm_director *g_dir;
static uint32_t g_hash[3 * NUSERS];
static atomic_bool g_stop;
static _Atomic uint32_t g_now_s;
static struct host_cfg *g_cfg;		/* indexed by generation */
static size_t g_cfg_cap;

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static struct pm_addr
host_addr(int i)
{
	struct pm_addr a;
	char s[32];

	snprintf(s, sizeof(s), "10.0.0.%d", i);
	assert_int_equal(pm_addr_parse(&a, s, strlen(s)), 0);
	return a;
}

static int
host_index(const struct pm_addr *a)
{
	int i;

	for (i = 1; i <= NHOSTS; i++) {
		struct pm_addr h = host_addr(i);

		if (pm_addr_eq(a, &h))
			return i;
	}
	return 0;
}

/* The two hosts a moved (class P) user alternates between; never host 5,
 * which the writer removes and re-adds. */
static int
p_host(uint32_t idx, int which)
{
	return 1 + (int)((idx + (uint32_t)which) % 4);
}

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t prev_gen = 0, kept_gen = UINT64_MAX;
	unsigned int kept = 0;

	urcu_qsbr_register_thread();
	while (!atomic_load_explicit(&g_stop, memory_order_acquire)) {
		uint32_t u = (uint32_t)(xorshift(&r->seed) % (3 * NUSERS));
		uint32_t now_s = atomic_load_explicit(&g_now_s, memory_order_relaxed);
		struct pm_dir_answer ans;
		struct sample s;

		memset(&ans, 0, sizeof(ans));
		s.gen_before = pm_director_ring(g_dir)->generation;
		s.status = (uint8_t)pm_director_lookup(g_dir, 0, g_hash[u], now_s, &ans);
		s.gen_after = pm_director_ring(g_dir)->generation;
		s.gen_used = ans.generation;
		s.user = u;
		s.host = (uint8_t)((s.status == PM_DIR_PINNED || s.status == PM_DIR_HASHED) ?
					   host_index(&ans.host) : 0);
		if (s.gen_before < prev_gen)
			r->gen_went_back = true;
		prev_gen = s.gen_after;
		/* Keep at most a few answers per generation so the samples
		 * span the whole run. */
		if (s.gen_before != kept_gen) {
			kept_gen = s.gen_before;
			kept = 0;
		}
		if (kept < 16 && r->nsamples < SAMPLES_PER_READER) {
			r->samples[r->nsamples++] = s;
			kept++;
		}
		/* A worker lcore reports a quiescent state once per poll loop;
		 * here, once per 32 lookups. */
		if (atomic_fetch_add_explicit(&r->lookups, 1, memory_order_relaxed) % 32 == 31)
			urcu_qsbr_quiescent_state();
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

static void
record_config(const struct host_cfg *c)
{
	uint64_t gen = pm_director_ring(g_dir)->generation;

	assert_true(gen < g_cfg_cap);
	g_cfg[gen] = *c;
}

/* On two shared cores the scheduler may let the writer run through all of
 * its publishes while the readers sleep; wait for each reader to do a few
 * lookups between publishes so the two really interleave. */
static void
wait_for_readers(struct reader *rd, uint64_t *seen)
{
	int i;

	for (i = 0; i < READERS; i++) {
		while (atomic_load_explicit(&rd[i].lookups, memory_order_relaxed) <= seen[i])
			sched_yield();
		seen[i] = atomic_load_explicit(&rd[i].lookups, memory_order_relaxed);
	}
}

static void
writer_run(uint64_t *seed, struct host_cfg *c, struct reader *rd)
{
	uint64_t seen[READERS] = { 0 };
	struct pm_director_stats st;
	uint64_t now = T0_MS, it = 0;
	int i;

	for (;;) {
		int h = 1 + (int)(xorshift(seed) % NHOSTS);
		uint16_t v = (uint16_t)(xorshift(seed) % 101);
		struct pm_addr a = host_addr(h);
		struct pm_dir_answer ans;
		uint32_t k;

		pm_director_stats(g_dir, &st);
		if (st.rings_published >= MIN_PUBLISHES + 10)
			break;
		it++;
		/* One ring change per iteration; every 97th, host 5 leaves
		 * or comes back instead (new id generation on return). */
		if (it % 97 == 0) {
			a = host_addr(5);
			if (c->present[4]) {
				assert_int_equal(pm_director_host_remove(g_dir, &a, now), 0);
				c->present[4] = false;
			} else {
				assert_int_equal(pm_director_host_set(g_dir, &a, "", v, true, now), 0);
				c->present[4] = true;
				c->vhosts[4] = v;
			}
		} else if (c->present[h - 1]) {
			if (c->vhosts[h - 1] == v)
				v = (uint16_t)((v + 1) % 101);
			assert_int_equal(pm_director_host_set(g_dir, &a, "", v, false, now), 0);
			c->vhosts[h - 1] = v;
		} else {
			continue;
		}
		record_config(c);

		/* Pin traffic: a move, a few logins, sometimes a flush. */
		k = (uint32_t)(it % NUSERS);
		a = host_addr(p_host(k, (int)(it / NUSERS) % 2));
		i = pm_director_user_move(g_dir, g_hash[NUSERS + k], &a, now);
		assert_true(i == 0 || i == -EAGAIN);
		for (i = 0; i < 3; i++) {
			k = (uint32_t)(xorshift(seed) % NUSERS);
			pm_director_login(g_dir, 0, g_hash[2 * NUSERS + k], 0, now, &ans);
		}
		if (it % 50 == 0) {
			a = host_addr(1 + (int)(it / 50) % 4);
			assert_true(pm_director_host_flush(g_dir, &a, now) >= 0);
		}
		now += 50;
		pm_director_tick(g_dir, now);
		if (it % 4 == 0)
			wait_for_readers(rd, seen);
		atomic_store_explicit(&g_now_s, (uint32_t)(now / 1000), memory_order_relaxed);
		/* The writer is a QSBR thread too: let grace periods end. */
		urcu_qsbr_quiescent_state();
	}
}

static int
cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	return x->gen_used < y->gen_used ? -1 : x->gen_used > y->gen_used;
}

static struct pm_ring *
build_ring(const struct host_cfg *c)
{
	struct pm_ring_input in[NHOSTS];
	const char *tags[] = { "" };
	struct pm_ring *r;
	uint32_t n = 0;
	int i;

	memset(in, 0, sizeof(in));
	for (i = 0; i < NHOSTS; i++) {
		if (!c->present[i])
			continue;
		in[n].addr = host_addr(i + 1);
		in[n].id = (uint32_t)i + 1;
		in[n].vhosts = c->vhosts[i];
		n++;
	}
	assert_int_equal(pm_ring_build(in, n, tags, 1, 0, &r), 0);
	return r;
}

static bool
config_empty(const struct host_cfg *c)
{
	int i;

	for (i = 0; i < NHOSTS; i++) {
		if (c->present[i] && c->vhosts[i] > 0)
			return false;
	}
	return true;
}

static void
check_sample(const struct sample *s, const struct pm_ring *ring)
{
	enum user_class cls = (enum user_class)(s->user / NUSERS);
	uint32_t idx = s->user % NUSERS;
	uint64_t g;
	int want;

	switch (s->status) {
	case PM_DIR_HASHED:
		assert_true(s->gen_used >= s->gen_before && s->gen_used <= s->gen_after);
		want = pm_ring_lookup(ring, 0, g_hash[s->user]);
		assert_true(want != PM_RING_NO_HOST);
		assert_int_equal(host_index(&ring->hosts[want].addr), s->host);
		break;
	case PM_DIR_PINNED:
		assert_true(s->gen_used >= s->gen_before && s->gen_used <= s->gen_after);
		assert_true(s->host >= 1 && g_cfg[s->gen_used].present[s->host - 1]);
		assert_true(cls != CLASS_R);
		if (cls == CLASS_P)
			assert_true(s->host == p_host(idx, 0) || s->host == p_host(idx, 1));
		break;
	case PM_DIR_WAIT:
		assert_int_equal(cls, CLASS_P);
		break;
	case PM_DIR_NOHOST:
		for (g = s->gen_before; g <= s->gen_after; g++) {
			if (config_empty(&g_cfg[g]))
				break;
		}
		assert_true(g <= s->gen_after);
		break;
	default:
		fail_msg("unknown status %u", s->status);
	}
}

static void
test_stress_readers_see_only_published_rings(void **state)
{
	struct reader rd[READERS];
	struct pm_director_config cfg;
	struct host_cfg c;
	struct pm_director_stats st;
	struct sample *all;
	struct pm_ring *ring = NULL;
	uint64_t seed, ring_gen = UINT64_MAX, gens_seen = 0, last = UINT64_MAX;
	const char *env = getenv("PM_SEED");
	size_t total = 0, i, by_status[4] = { 0 };
	char name[32];
	int h;

	(void)state;
	seed = env != NULL ? strtoull(env, NULL, 0) : 0x9e3779b97f4a7c15ull;
	printf("# stress seed PM_SEED=0x%llx\n", (unsigned long long)seed);

	pm_director_config_defaults(&cfg);
	cfg.user_expire_s = 10;	/* pins expire during the run */
	cfg.expected_users = 16;	/* the pin table grows under the readers */
	g_dir = pm_director_new(&cfg, NULL, NULL, NULL);
	assert_non_null(g_dir);
	g_cfg_cap = MIN_PUBLISHES + 4096;
	g_cfg = calloc(g_cfg_cap, sizeof(*g_cfg));
	assert_non_null(g_cfg);
	record_config(&(struct host_cfg){ 0 });
	memset(&c, 0, sizeof(c));
	for (h = 1; h <= NHOSTS; h++) {
		struct pm_addr a = host_addr(h);

		assert_int_equal(pm_director_host_set(g_dir, &a, "", 100, true, T0_MS), 0);
		c.vhosts[h - 1] = 100;
		c.present[h - 1] = true;
		record_config(&c);
	}
	for (i = 0; i < 3 * NUSERS; i++) {
		snprintf(name, sizeof(name), "%c%zu", "rpl"[i / NUSERS], i % NUSERS);
		g_hash[i] = pm_director_hash(g_dir, name, strlen(name));
	}
	atomic_store(&g_now_s, (uint32_t)(T0_MS / 1000));

	for (i = 0; i < READERS; i++) {
		memset(&rd[i], 0, sizeof(rd[i]));
		rd[i].seed = seed + 0x1000 * (i + 1);
		rd[i].samples = malloc(SAMPLES_PER_READER * sizeof(struct sample));
		assert_non_null(rd[i].samples);
		assert_int_equal(pthread_create(&rd[i].thread, NULL, reader_main, &rd[i]), 0);
	}
	writer_run(&seed, &c, rd);
	atomic_store_explicit(&g_stop, true, memory_order_release);
	/* Readers need grace periods to end while we wait for them. */
	urcu_qsbr_thread_offline();
	for (i = 0; i < READERS; i++)
		pthread_join(rd[i].thread, NULL);
	urcu_qsbr_thread_online();

	pm_director_stats(g_dir, &st);
	assert_true(st.rings_published >= MIN_PUBLISHES);
	assert_true(st.moves_started > 1000);
	assert_true(st.pins_expired > 0);

	all = malloc(READERS * SAMPLES_PER_READER * sizeof(*all));
	assert_non_null(all);
	for (i = 0; i < READERS; i++) {
		assert_false(rd[i].gen_went_back);
		assert_true(atomic_load(&rd[i].lookups) >= 10000);
		memcpy(all + total, rd[i].samples, rd[i].nsamples * sizeof(*all));
		total += rd[i].nsamples;
		free(rd[i].samples);
	}
	printf("# %zu answers checked, %llu publishes, %llu moves, %llu pins expired\n", total,
	       (unsigned long long)st.rings_published, (unsigned long long)st.moves_started,
	       (unsigned long long)st.pins_expired);
	qsort(all, total, sizeof(*all), cmp_sample);
	for (i = 0; i < total; i++) {
		if (all[i].status == PM_DIR_HASHED && all[i].gen_used != ring_gen) {
			pm_ring_free(ring);
			ring = build_ring(&g_cfg[all[i].gen_used]);
			ring_gen = all[i].gen_used;
		}
		if (all[i].gen_used != last) {
			gens_seen++;
			last = all[i].gen_used;
		}
		check_sample(&all[i], ring);
		by_status[all[i].status]++;
	}
	printf("# pinned %zu, hashed %zu, wait %zu, nohost %zu, generations %llu\n",
	       by_status[PM_DIR_PINNED], by_status[PM_DIR_HASHED], by_status[PM_DIR_WAIT],
	       by_status[PM_DIR_NOHOST], (unsigned long long)gens_seen);
	assert_true(by_status[PM_DIR_PINNED] > 1000);
	assert_true(by_status[PM_DIR_HASHED] > 1000);
	assert_true(by_status[PM_DIR_WAIT] > 0);
	/* The readers really ran concurrently with the publishing. */
	assert_true(gens_seen > 1000);
	pm_ring_free(ring);
	free(all);
	pm_director_free(g_dir);
	free(g_cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_readers_see_only_published_rings),
	};
	int ret;

	urcu_qsbr_register_thread();
	ret = cmocka_run_group_tests_name("stress", tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return ret;
}
