/*
 * seed_scenario.c -- replay the seed scenario on the director core.
 */
#include "seed_scenario.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const pm_seed_step_title[PM_SEED_STEPS] = {
	"start: users placed with USER-MOVE",
	"update 10.0.0.2 0; update 10.0.0.3 0",
	"flush 10.0.0.1",
	"update 10.0.0.2 100; flush 10.0.0.2",
	"update 10.0.0.3 100; flush 10.0.0.3",
	"flush 10.0.0.4",
	"flush 10.0.0.5",
	"flush 10.0.0.2 (again)",
	"flush 10.0.0.1; flush 10.0.0.3; flush 10.0.0.4; flush 10.0.0.5",
};

static int
parse_addr(const char *s, struct pm_addr *a)
{
	return pm_addr_parse(a, s, strlen(s));
}

int
pm_seed_load(const char *path, struct pm_seed_user **users, size_t *n, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	struct pm_seed_user *arr = NULL;
	size_t cnt = 0, cap = 0, lineno = 0;
	char line[512];

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *f[6], *save = NULL, *p;
		int k = 0;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (p = strtok_r(line, "\t", &save); p != NULL && k < 6;
		     p = strtok_r(NULL, "\t", &save))
			f[k++] = p;
		if (k != 6)
			goto bad;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct pm_seed_user *na = realloc(arr, ncap * sizeof(*na));

			if (na == NULL)
				goto bad;
			arr = na;
			cap = ncap;
		}
		struct pm_seed_user *u = &arr[cnt];

		memset(u, 0, sizeof(*u));
		if (strlen(f[0]) >= sizeof(u->name) || parse_addr(f[1], &u->initial) < 0 ||
		    pm_userhash_parse_number(f[2], strlen(f[2]), &u->hash) < 0 ||
		    parse_addr(f[3], &u->target[0]) < 0 || parse_addr(f[4], &u->target[1]) < 0 ||
		    parse_addr(f[5], &u->target[2]) < 0)
			goto bad;
		strcpy(u->name, f[0]);
		cnt++;
	}
	fclose(fp);
	*users = arr;
	*n = cnt;
	return 0;
bad:
	snprintf(err, errlen, "%s:%zu: malformed fixture line", path, lineno);
	fclose(fp);
	free(arr);
	return -EINVAL;
}

static struct pm_addr
host_n(int i)
{
	struct pm_addr a;
	char s[16];

	snprintf(s, sizeof(s), "10.0.0.%d", i);
	parse_addr(s, &a);
	return a;
}

void
pm_seed_counts(struct pm_director *d, uint64_t now_ms, uint32_t counts[PM_SEED_HOSTS])
{
	struct pm_host_info hi;
	int i;

	for (i = 0; i < PM_SEED_HOSTS; i++) {
		struct pm_addr a = host_n(i + 1);

		counts[i] = pm_director_host_get(d, &a, now_ms, &hi) == 0 ? hi.user_count : 0;
	}
}

/* Run ticks until no move or flush job is left, as an operator waits for
 * "doveadm director flush" to return and the kick delay to pass. */
static uint64_t
settle(struct pm_director *d, uint64_t now)
{
	struct pm_director_stats st;

	for (;;) {
		uint64_t next = pm_director_tick(d, now);

		pm_director_stats(d, &st);
		if (st.moving == 0 && st.jobs == 0)
			return now;
		if (next == UINT64_MAX || next <= now)
			next = now + 100;
		now = next;
	}
}

static int
update(struct pm_director *d, int host, int vhosts, uint64_t now)
{
	struct pm_addr a = host_n(host);

	return pm_director_host_set(d, &a, "", vhosts, false, now);
}

static int
flush(struct pm_director *d, int host, uint64_t *now)
{
	struct pm_addr a = host_n(host);
	int64_t job = pm_director_reset_users(d, &a, 0, *now);

	if (job < 0)
		return (int)job;
	*now = settle(d, *now);
	return 0;
}

int
pm_seed_run(struct pm_director *d, const struct pm_seed_user *users, size_t n, uint64_t start_ms,
	    pm_seed_step_cb cb, void *arg, uint64_t *end_ms)
{
	uint64_t now = start_ms;
	size_t i;
	int ret = 0, h;

	for (h = 1; h <= PM_SEED_HOSTS; h++) {
		struct pm_addr a = host_n(h);

		ret = pm_director_host_set(d, &a, "", 100, true, now);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < n; i++) {
		ret = pm_director_user_move(d, users[i].hash, &users[i].initial, now);
		if (ret < 0)
			return ret;
	}
	now = settle(d, now + 1);
	cb(arg, 0, d, now);

	if ((ret = update(d, 2, 0, now)) < 0 || (ret = update(d, 3, 0, now)) < 0)
		return ret;
	cb(arg, 1, d, now);
	if ((ret = flush(d, 1, &now)) < 0)
		return ret;
	cb(arg, 2, d, now);
	if ((ret = update(d, 2, 100, now)) < 0 || (ret = flush(d, 2, &now)) < 0)
		return ret;
	cb(arg, 3, d, now);
	if ((ret = update(d, 3, 100, now)) < 0 || (ret = flush(d, 3, &now)) < 0)
		return ret;
	cb(arg, 4, d, now);
	if ((ret = flush(d, 4, &now)) < 0)
		return ret;
	cb(arg, 5, d, now);
	if ((ret = flush(d, 5, &now)) < 0)
		return ret;
	cb(arg, 6, d, now);
	if ((ret = flush(d, 2, &now)) < 0)
		return ret;
	cb(arg, 7, d, now);
	if ((ret = flush(d, 1, &now)) < 0 || (ret = flush(d, 3, &now)) < 0 ||
	    (ret = flush(d, 4, &now)) < 0 || (ret = flush(d, 5, &now)) < 0)
		return ret;
	cb(arg, 8, d, now);
	*end_ms = now;
	return 0;
}
