/*
 * seed_replay.c -- print the seed scenario, step by step (the demo).
 *
 * usage: seed-replay <fixture.tsv>
 *
 * Replays the guide's commands on the director core with simulated time and
 * prints a "backend vhosts users" table after every step, then whether the
 * final spread equals the pure hash spread of the fixture's users.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-qsbr.h>

#include "director/director.h"
#include "seed_scenario.h"

#define T0_MS 1800000000000ull

static void
print_host(void *arg, const struct pm_host_info *h)
{
	char ip[PM_ADDR_STRLEN];

	(void)arg;
	pm_addr_format(&h->addr, ip, sizeof(ip));
	printf("  %-15s %6u %6u   %s\n", ip, h->vhosts, h->user_count, h->down ? "down" : "up");
}

static void
on_step(void *arg, int step, struct pm_director *d, uint64_t now)
{
	uint64_t *moves_before = arg;
	struct pm_director_stats st;

	pm_director_stats(d, &st);
	printf("\nstep %d: %s  (%llu users moved and kicked)\n", step, pm_seed_step_title[step],
	       (unsigned long long)(st.moves_started - *moves_before));
	*moves_before = st.moves_started;
	printf("  %-15s %6s %6s   %s\n", "backend", "vhosts", "users", "state");
	pm_director_host_list(d, now, print_host, NULL);
}

int
main(int argc, char **argv)
{
	struct pm_director_config cfg;
	struct pm_director *d;
	struct pm_seed_user *users;
	uint32_t counts[PM_SEED_HOSTS], pure[PM_SEED_HOSTS] = { 0 };
	char err[256];
	uint64_t end, moves = 0;
	size_t n, u;
	int i, ret, same = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-replay <fixture.tsv>\n");
		return 2;
	}
	if (pm_seed_load(argv[1], &users, &n, err, sizeof(err)) < 0) {
		fprintf(stderr, "seed-replay: %s\n", err);
		return 2;
	}
	urcu_qsbr_register_thread();
	pm_director_config_defaults(&cfg);
	d = pm_director_new(&cfg, NULL, NULL, NULL);
	if (d == NULL) {
		fprintf(stderr, "seed-replay: cannot create the director\n");
		return 1;
	}
	printf("seed scenario %s: %zu users on 10.0.0.1-5\n", argv[1], n);
	ret = pm_seed_run(d, users, n, T0_MS, on_step, &moves, &end);
	if (ret < 0) {
		fprintf(stderr, "seed-replay: replay failed: %s\n", strerror(-ret));
		return 1;
	}
	/* The pure hash spread: every user on its ring target. */
	for (u = 0; u < n; u++) {
		const struct pm_ring *r = pm_director_ring(d);
		int idx = pm_ring_lookup(r, 0, users[u].hash);

		for (i = 0; i < PM_SEED_HOSTS && idx >= 0; i++) {
			char want[16];
			char got[PM_ADDR_STRLEN];

			snprintf(want, sizeof(want), "10.0.0.%d", i + 1);
			pm_addr_format(&r->hosts[idx].addr, got, sizeof(got));
			if (strcmp(want, got) == 0)
				pure[i]++;
		}
	}
	pm_seed_counts(d, end, counts);
	for (i = 0; i < PM_SEED_HOSTS; i++)
		same &= counts[i] == pure[i];
	printf("\nfinal spread %u/%u/%u/%u/%u %s the pure hash spread %u/%u/%u/%u/%u\n",
	       counts[0], counts[1], counts[2], counts[3], counts[4], same ? "is" : "is NOT",
	       pure[0], pure[1], pure[2], pure[3], pure[4]);
	pm_director_free(d);
	urcu_qsbr_unregister_thread();
	free(users);
	return 0;
}
