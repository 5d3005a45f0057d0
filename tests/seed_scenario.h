/*
 * seed_scenario.h -- the "Rebalancing Backends" seed scenario (spec 2.5).
 *
 * Owner: test code and the demo tool. Threads: the director's writer.
 * Loads a seed fixture and replays the guide's steps on a director core with
 * simulated time, reporting the per-backend user counts after every step.
 */
#ifndef PM_SEED_SCENARIO_H
#define PM_SEED_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "director/director.h"

#define PM_SEED_HOSTS 5
#define PM_SEED_STEPS 9

struct pm_seed_user {
	char name[64];
	uint32_t hash;				/* the fixture's user_hash column */
	struct pm_addr initial;
	struct pm_addr target[3];		/* rings {01,04,05}, {01,02,04,05}, all */
};

/* Step titles, in the order of the guide (and of the expected tables). */
extern const char *const pm_seed_step_title[PM_SEED_STEPS];

/* Load @path; returns 0 and a malloc'd array, or -errno with @err set. */
int pm_seed_load(const char *path, struct pm_seed_user **users, size_t *n, char *err,
		 size_t errlen);

/* Called after every step with the step index and the current director. */
typedef void (*pm_seed_step_cb)(void *arg, int step, struct pm_director *d, uint64_t now_ms);

/*
 * Add backends 10.0.0.1-5 (100 vhosts), place @users with USER-MOVE on their
 * initial hosts, wait the kick delay, then run the guide's commands, calling
 * @cb after each step. Every flush runs to completion (all moves past their
 * kick delay) before the next command. Stores the simulated time at the end
 * in *@end_ms. Returns 0 or a negative errno.
 */
int pm_seed_run(struct pm_director *d, const struct pm_seed_user *users, size_t n,
		uint64_t start_ms, pm_seed_step_cb cb, void *arg, uint64_t *end_ms);

/* User counts of 10.0.0.1..5 into @counts. */
void pm_seed_counts(struct pm_director *d, uint64_t now_ms, uint32_t counts[PM_SEED_HOSTS]);

#endif
