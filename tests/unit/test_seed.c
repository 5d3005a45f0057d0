/*
 * test_seed.c -- the seed scenario of spec 2.5 on the director core: the
 * per-backend counts after every step of the "Rebalancing Backends" guide
 * must equal what a real Dovecot director produced with the same fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testdata.h"
#include <urcu/urcu-qsbr.h>

#include "director/director.h"
#include "seed_scenario.h"

#define T0_MS 1800000000000ull

/* spec 2.5, table "Fixture A / Fixture B", one row per step. */
static const uint32_t expect_a[PM_SEED_STEPS][PM_SEED_HOSTS] = {
	{ 80, 70, 60, 10, 10 }, { 80, 70, 60, 10, 10 }, { 34, 70, 60, 33, 33 },
	{ 38, 55, 60, 38, 39 }, { 42, 58, 43, 43, 44 }, { 43, 59, 43, 40, 45 },
	{ 44, 60, 44, 41, 41 }, { 44, 48, 56, 41, 41 }, { 44, 48, 56, 41, 41 },
};

static const uint32_t expect_b[PM_SEED_STEPS][PM_SEED_HOSTS] = {
	{ 80, 70, 60, 10, 10 }, { 80, 70, 60, 10, 10 }, { 34, 70, 60, 33, 33 },
	{ 38, 58, 60, 37, 37 }, { 46, 58, 34, 46, 46 }, { 46, 58, 34, 46, 46 },
	{ 46, 58, 34, 46, 46 }, { 46, 46, 46, 46, 46 }, { 46, 46, 46, 46, 46 },
};

struct run {
	const struct pm_seed_user *users;
	size_t n;
	const uint32_t (*expect)[PM_SEED_HOSTS];
	int steps_seen;
	unsigned int targets_checked;
};

static void
load(const char *file, struct pm_seed_user **users, size_t *n)
{
	char path[4096], err[256];

	pm_testdata_path(file, path, sizeof(path));
	if (pm_seed_load(path, users, n, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(*n, 230);
}

/* Which fixture target column the current ring corresponds to. */
static int
ring_column(int step)
{
	switch (step) {
	case 1:
	case 2:
		return 0;	/* 02 and 03 at 0: ring {01,04,05} */
	case 3:
		return 1;	/* 02 back: ring {01,02,04,05} */
	case 0:
	case 4:
	case 5:
	case 6:
	case 7:
	case 8:
		return 2;	/* all five */
	}
	return -1;
}

static void
on_step(void *arg, int step, struct pm_director *d, uint64_t now)
{
	struct run *r = arg;
	const struct pm_ring *ring = pm_director_ring(d);
	uint32_t counts[PM_SEED_HOSTS];
	int col = ring_column(step), i;
	size_t u;

	assert_int_equal(step, r->steps_seen);
	r->steps_seen++;
	pm_seed_counts(d, now, counts);
	for (i = 0; i < PM_SEED_HOSTS; i++) {
		if (counts[i] != r->expect[step][i])
			fail_msg("step %d (%s): 10.0.0.%d has %u users, expected %u", step,
				 pm_seed_step_title[step], i + 1, counts[i], r->expect[step][i]);
	}
	/* Every user's ring target equals the fixture's column for this ring. */
	for (u = 0; u < r->n; u++) {
		int idx = pm_ring_lookup(ring, 0, r->users[u].hash);

		assert_true(idx >= 0);
		assert_true(pm_addr_eq(&ring->hosts[idx].addr, &r->users[u].target[col]));
		r->targets_checked++;
	}
}

static void
replay(const char *file, const uint32_t (*expect)[PM_SEED_HOSTS])
{
	struct pm_director_config cfg;
	struct pm_director *d;
	struct pm_seed_user *users;
	struct run r = { 0 };
	uint64_t end;
	size_t n, u;

	load(file, &users, &n);
	pm_director_config_defaults(&cfg);
	d = pm_director_new(&cfg, NULL, NULL, NULL);
	assert_non_null(d);
	r.users = users;
	r.n = n;
	r.expect = expect;
	assert_int_equal(pm_seed_run(d, users, n, T0_MS, on_step, &r, &end), 0);
	assert_int_equal(r.steps_seen, PM_SEED_STEPS);
	assert_int_equal(r.targets_checked, PM_SEED_STEPS * n);
	/* Both fixtures converge: after the last step (every host flushed
	 * since the last ring change) every pin sits on its full-ring target,
	 * so the final counts are the pure hash spread (spec 2.5, item 5). */
	for (u = 0; u < n; u++) {
		struct pm_user_info pin;
		struct pm_addr hashed;

		assert_int_equal(pm_director_user_lookup(d, 0, users[u].hash,
							 end, &pin, &hashed),
				 0);
		assert_int_equal(pin.host.family, PM_AF_INET);
		assert_true(pm_addr_eq(&pin.host, &users[u].target[2]));
	}
	pm_director_free(d);
	free(users);
}

static void
test_seed_fixture_a_counts_match_every_step(void **state)
{
	(void)state;
	replay("seed-fixture-A.tsv", expect_a);
}

static void
test_seed_fixture_b_counts_match_every_step(void **state)
{
	(void)state;
	replay("seed-fixture-B.tsv", expect_b);
}

static void
test_seed_fixture_hashes_match_userhash(void **state)
{
	static const char *const files[] = { "seed-fixture-A.tsv", "seed-fixture-B.tsv" };
	struct pm_userhash_fmt f;
	struct pm_seed_user *users;
	size_t n, u, i;

	(void)state;
	assert_int_equal(pm_userhash_compile(&f, "%Lu", '\0', NULL, 0), 0);
	for (i = 0; i < 2; i++) {
		load(files[i], &users, &n);
		for (u = 0; u < n; u++)
			assert_int_equal(pm_userhash(&f, users[u].name, strlen(users[u].name)),
					 users[u].hash);
		free(users);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_fixture_hashes_match_userhash),
		cmocka_unit_test(test_seed_fixture_a_counts_match_every_step),
		cmocka_unit_test(test_seed_fixture_b_counts_match_every_step),
	};
	int ret;

	urcu_qsbr_register_thread();
	ret = cmocka_run_group_tests_name("seed", tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return ret;
}
