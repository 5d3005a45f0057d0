/*
 * test_flowtab.c -- the flow table (tcp/flowtab.h) against a plain array
 * model, with its limits.
 *
 * The random cases use a fixed seed that is printed; set PM_SEED to replay.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/flowtab.h"
#include "testrand.h"

#define TEST_SEED 0xf10a7ab1u

static const uint8_t secret[PM_SIPHASH_KEY_LEN] = "postmux-flowtab";

static struct pm_flowtab *
make(uint32_t capacity)
{
	size_t size = pm_flowtab_memsize(capacity);
	struct pm_flowtab *t;

	assert_true(size > 0);
	t = malloc(size);
	assert_non_null(t);
	assert_int_equal(pm_flowtab_init(t, size, capacity, secret), 0);
	return t;
}

static struct pm_flow
flow(uint32_t r, uint32_t l, uint16_t rp, uint16_t lp)
{
	struct pm_flow f;

	f.raddr[0] = (uint8_t)(r >> 24);
	f.raddr[1] = (uint8_t)(r >> 16);
	f.raddr[2] = (uint8_t)(r >> 8);
	f.raddr[3] = (uint8_t)r;
	f.laddr[0] = (uint8_t)(l >> 24);
	f.laddr[1] = (uint8_t)(l >> 16);
	f.laddr[2] = (uint8_t)(l >> 8);
	f.laddr[3] = (uint8_t)l;
	f.rport = rp;
	f.lport = lp;
	return f;
}

static void
test_flowtab_basic_operations_work(void **state)
{
	struct pm_flowtab *t = make(4);
	struct pm_flow a = flow(0xc0000202, 0xc000020a, 40000, 143);
	struct pm_flow b = a, c = a, d = a;

	(void)state;
	b.rport = 40001;		/* each field alone makes another flow */
	c.lport = 110;
	d.laddr[3] = 11;
	assert_int_equal(pm_flowtab_lookup(t, &a), PM_FLOWTAB_EMPTY);
	assert_int_equal(pm_flowtab_insert(t, &a, 7), 0);
	assert_int_equal(pm_flowtab_insert(t, &a, 8), -EEXIST);
	assert_int_equal(pm_flowtab_insert(t, &b, PM_FLOWTAB_EMPTY), -EINVAL);
	assert_int_equal(pm_flowtab_insert(t, &b, 0), 0);
	assert_int_equal(pm_flowtab_insert(t, &c, 1), 0);
	assert_int_equal(pm_flowtab_insert(t, &d, 2), 0);
	assert_int_equal(pm_flowtab_count(t), 4);
	{
		struct pm_flow e = flow(1, 2, 3, 4);

		assert_int_equal(pm_flowtab_insert(t, &e, 9), -ENOSPC);
		assert_int_equal(pm_flowtab_remove(t, &e), -ENOENT);
	}
	assert_int_equal(pm_flowtab_lookup(t, &a), 7);
	assert_int_equal(pm_flowtab_lookup(t, &b), 0);
	assert_int_equal(pm_flowtab_lookup(t, &c), 1);
	assert_int_equal(pm_flowtab_lookup(t, &d), 2);
	assert_int_equal(pm_flowtab_lookup_h(t, &d, pm_flowtab_hash(t, &d)), 2);
	assert_int_equal(pm_flowtab_remove(t, &a), 0);
	assert_int_equal(pm_flowtab_remove(t, &a), -ENOENT);
	assert_int_equal(pm_flowtab_lookup(t, &a), PM_FLOWTAB_EMPTY);
	assert_int_equal(pm_flowtab_lookup(t, &d), 2);
	assert_int_equal(pm_flowtab_count(t), 3);
	free(t);
}

static void
test_flowtab_bad_init_is_refused(void **state)
{
	struct pm_flowtab *t = malloc(pm_flowtab_memsize(8));

	(void)state;
	assert_int_equal(pm_flowtab_memsize(0), 0);
	assert_int_equal(pm_flowtab_memsize(PM_FLOWTAB_MAX + 1), 0);
	assert_int_equal(pm_flowtab_init(t, pm_flowtab_memsize(8), 0, secret), -EINVAL);
	assert_int_equal(pm_flowtab_init(t, pm_flowtab_memsize(8) - 1, 8, secret), -ENOSPC);
	assert_int_equal(pm_flowtab_init(t, pm_flowtab_memsize(8), 8, secret), 0);
	free(t);
}

/* Random inserts and removes against an array; many flows share addresses
 * (one client, many ports), the case clustering would hurt most. */
static void
test_flowtab_random_ops_match_model(void **state)
{
	enum { CAP = 512, UNIVERSE = 2048, OPS = 200000 };
	uint32_t seed = pm_test_seed("flowtab", TEST_SEED);
	static uint32_t model[UNIVERSE];
	struct pm_flowtab *t = make(CAP);
	uint32_t count = 0, i;
	int op;

	(void)state;
	for (i = 0; i < UNIVERSE; i++)
		model[i] = PM_FLOWTAB_EMPTY;
	for (op = 0; op < OPS; op++) {
		uint32_t k = xorshift32(&seed) % UNIVERSE;
		struct pm_flow f = flow(0xc0000200 + (k & 7), 0xc000020a, (uint16_t)(1024 + k),
					143);
		uint32_t v = xorshift32(&seed) % 1000000;

		if (xorshift32(&seed) % 2 == 0) {
			int r = pm_flowtab_insert(t, &f, v);

			if (model[k] != PM_FLOWTAB_EMPTY) {
				assert_int_equal(r, -EEXIST);
			} else if (count == CAP) {
				assert_int_equal(r, -ENOSPC);
			} else {
				assert_int_equal(r, 0);
				model[k] = v;
				count++;
			}
		} else {
			int r = pm_flowtab_remove(t, &f);

			assert_int_equal(r, model[k] != PM_FLOWTAB_EMPTY ? 0 : -ENOENT);
			if (r == 0) {
				model[k] = PM_FLOWTAB_EMPTY;
				count--;
			}
		}
		assert_int_equal(pm_flowtab_count(t), count);
		if (op % 997 == 0) {
			/* Every key findable, every absent key absent. */
			for (i = 0; i < UNIVERSE; i++) {
				struct pm_flow g = flow(0xc0000200 + (i & 7), 0xc000020a,
							(uint16_t)(1024 + i), 143);

				assert_int_equal(pm_flowtab_lookup(t, &g), model[i]);
			}
		}
	}
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flowtab_basic_operations_work),
		cmocka_unit_test(test_flowtab_bad_init_is_refused),
		cmocka_unit_test(test_flowtab_random_ops_match_model),
	};

	return cmocka_run_group_tests_name("flowtab", tests, NULL, NULL);
}
