/*
 * test_director.c -- every host and user operation of the director core
 * (shared/spec/director.md section 2.4), on simulated time.
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
#include <urcu/urcu-qsbr.h>

#include "director/director.h"
#include "testaddr.h"

#define T0_MS 1800000000000ull	/* some time in 2027, in unix ms */
#define MAX_KICKS 4096

struct fx {
	struct pm_director *d;
	struct pm_director_config cfg;
	uint64_t now;
	struct pm_kick kicks[MAX_KICKS];
	char kick_user[MAX_KICKS][64];
	unsigned int nkicks;
	uint64_t done_jobs[64];
	uint64_t done_at[64];
	unsigned int ndone;
};

static void
on_kick(void *arg, const struct pm_kick *k)
{
	struct fx *f = arg;

	assert_true(f->nkicks < MAX_KICKS);
	f->kicks[f->nkicks] = *k;
	f->kick_user[f->nkicks][0] = '\0';
	if (k->user != NULL)
		snprintf(f->kick_user[f->nkicks], sizeof(f->kick_user[0]), "%s", k->user);
	if (k->field != NULL)
		snprintf(f->kick_user[f->nkicks], sizeof(f->kick_user[0]), "%s=%s", k->field,
			 k->value);
	f->nkicks++;
}

static void
on_done(void *arg, uint64_t job)
{
	struct fx *f = arg;

	assert_true(f->ndone < 64);
	f->done_jobs[f->ndone] = job;
	f->done_at[f->ndone] = f->now;
	f->ndone++;
}

static int
setup_cfg(void **state, uint32_t expire_s, uint32_t kick_delay_ms)
{
	struct fx *f = calloc(1, sizeof(*f));
	char a[32];
	int i;

	assert_non_null(f);
	pm_director_config_defaults(&f->cfg);
	f->cfg.user_expire_s = expire_s;
	f->cfg.kick_delay_ms = kick_delay_ms;
	f->d = pm_director_new(&f->cfg, on_kick, on_done, f);
	assert_non_null(f->d);
	f->now = T0_MS;
	for (i = 1; i <= 5; i++) {
		struct pm_addr h;

		snprintf(a, sizeof(a), "10.0.0.%d", i);
		h = ip(a);
		assert_int_equal(pm_director_host_set(f->d, &h, "", 100, true, f->now), 0);
	}
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_cfg(state, 15 * 60, 2000);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pm_director_free(f->d);
	free(f);
	return 0;
}

static uint32_t
uh(struct fx *f, const char *user)
{
	return pm_director_hash(f->d, user, strlen(user));
}

/* Log @user in (tag 0) and return the backend as text, "" if none. */
static const char *
login(struct fx *f, const char *user, enum pm_dir_status *st)
{
	struct pm_dir_answer ans;
	enum pm_dir_status s;

	memset(&ans, 0, sizeof(ans));
	s = pm_director_login(f->d, 0, uh(f, user), 0, f->now, &ans);
	if (st != NULL)
		*st = s;
	if (s == PM_DIR_WAIT || s == PM_DIR_NOHOST)
		return "";
	return ipstr(&ans.host);
}

static enum pm_dir_status
lookup(struct fx *f, uint16_t tag, const char *user, const char **host)
{
	struct pm_dir_answer ans;
	enum pm_dir_status s;

	memset(&ans, 0, sizeof(ans));
	s = pm_director_lookup(f->d, tag, uh(f, user), (uint32_t)(f->now / 1000), &ans);
	*host = (s == PM_DIR_PINNED || s == PM_DIR_HASHED) ? ipstr(&ans.host) : "";
	return s;
}

static uint32_t
users_on(struct fx *f, const char *host)
{
	struct pm_host_info hi;
	struct pm_addr a = ip(host);

	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), 0);
	return hi.user_count;
}

/* Advance simulated time in steps, ticking the director. */
static void
advance(struct fx *f, uint64_t ms)
{
	uint64_t end = f->now + ms;

	while (f->now < end) {
		uint64_t next = pm_director_tick(f->d, f->now);

		f->now = next < end && next > f->now ? next : end;
	}
	pm_director_tick(f->d, f->now);
}

/* Five names whose %Lu hashes spec 1.7 places: user1 .3, user3 .5, user4 .5,
 * testuser@domain .4, user620 .5 (wrap-around). */
static void
test_director_lookup_unpinned_follows_ring(void **state)
{
	struct fx *f = *state;
	const char *h;

	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(lookup(f, 0, "User1", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(lookup(f, 0, "user3", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.5");
	assert_int_equal(lookup(f, 0, "testuser@domain", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.4");
	assert_int_equal(lookup(f, 0, "user620", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.5");
}

static void
test_director_login_pins_and_counts(void **state)
{
	struct fx *f = *state;
	enum pm_dir_status st;
	const char *h;

	assert_string_equal(login(f, "user1", &st), "10.0.0.3");
	assert_int_equal(st, PM_DIR_HASHED);
	assert_int_equal(users_on(f, "10.0.0.3"), 1);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.3");
	/* A second login refreshes and follows the pin, without a new count. */
	assert_string_equal(login(f, "USER1", &st), "10.0.0.3");
	assert_int_equal(st, PM_DIR_PINNED);
	assert_int_equal(users_on(f, "10.0.0.3"), 1);
}

static void
test_director_host_update_moves_no_pin(void **state)
{
	struct fx *f = *state;
	struct pm_addr h3 = ip("10.0.0.3");
	const char *h;

	login(f, "user1", NULL);
	assert_int_equal(pm_director_host_set(f->d, &h3, "", 0, false, f->now), 0);
	/* The pin stays on .3 although .3 has no ring points any more. */
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(users_on(f, "10.0.0.3"), 1);
	/* A new user whose hash pointed at .3 now goes elsewhere. */
	assert_int_equal(lookup(f, 0, "user2", &h), PM_DIR_HASHED);
	assert_string_not_equal(h, "10.0.0.3");
	assert_int_equal(f->nkicks, 0);
}

static void
test_director_host_set_errors_match_dovecot(void **state)
{
	struct fx *f = *state;
	struct pm_addr h2 = ip("10.0.0.2"), h9 = ip("10.0.0.9");
	struct pm_host_info hi;

	assert_int_equal(pm_director_host_set(f->d, &h2, "", 1001, true, f->now), -E2BIG);
	assert_int_equal(pm_director_host_set(f->d, &h2, "foo", 50, true, f->now), -EEXIST);
	assert_int_equal(pm_director_host_set(f->d, &h9, "", 50, false, f->now), -ENOENT);
	/* HOST-SET without a count creates the host with 100 vhosts. */
	assert_int_equal(pm_director_host_set(f->d, &h9, "", -1, true, f->now), 0);
	assert_int_equal(pm_director_host_get(f->d, &h9, f->now, &hi), 0);
	assert_int_equal(hi.vhosts, 100);
	/* An untagged argument on an existing host leaves its tag alone. */
	assert_int_equal(pm_director_host_set(f->d, &h2, "", 1000, true, f->now), 0);
	assert_int_equal(pm_director_host_get(f->d, &h2, f->now, &hi), 0);
	assert_int_equal(hi.vhosts, 1000);
}

static void
test_director_down_host_keeps_its_users(void **state)
{
	struct fx *f = *state;
	struct pm_addr h3 = ip("10.0.0.3");
	struct pm_host_info hi;
	const char *h;

	login(f, "user1", NULL);
	f->now += 5000;
	assert_int_equal(pm_director_host_updown(f->d, &h3, true, f->now), 0);
	assert_int_equal(pm_director_host_get(f->d, &h3, f->now, &hi), 0);
	assert_true(hi.down);
	assert_int_equal(hi.last_updown_s, (int64_t)(f->now / 1000));
	/* Dovecot: the re-login of a pinned user still goes to the down host. */
	assert_string_equal(login(f, "user1", NULL), "10.0.0.3");
	assert_int_equal(lookup(f, 0, "user2", &h), PM_DIR_HASHED);
	assert_string_not_equal(h, "10.0.0.3");
	/* Setting the same state again changes nothing, not even the time. */
	f->now += 5000;
	assert_int_equal(pm_director_host_updown(f->d, &h3, true, f->now), 0);
	assert_int_equal(pm_director_host_get(f->d, &h3, f->now, &hi), 0);
	assert_int_equal(hi.last_updown_s, (int64_t)((f->now - 5000) / 1000));
	assert_int_equal(pm_director_host_updown(f->d, &h3, false, f->now), 0);
	assert_int_equal(lookup(f, 0, "user2", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(f->nkicks, 0);
}

static void
test_director_remove_forgets_pins_without_kick(void **state)
{
	struct fx *f = *state;
	struct pm_addr h3 = ip("10.0.0.3");
	struct pm_host_info hi;
	const char *h;

	login(f, "user1", NULL);
	login(f, "user2", NULL);
	assert_int_equal(pm_director_host_remove(f->d, &h3, f->now), 0);
	assert_int_equal(pm_director_host_get(f->d, &h3, f->now, &hi), -ENOENT);
	assert_int_equal(pm_director_host_remove(f->d, &h3, f->now), -ENOENT);
	assert_int_equal(f->nkicks, 0);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_string_not_equal(h, "10.0.0.3");
	/* Re-adding the address starts from zero users. */
	assert_int_equal(pm_director_host_set(f->d, &h3, "", 100, true, f->now), 0);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.3");
}

static void
test_director_flush_forgets_without_kick(void **state)
{
	struct fx *f = *state;
	struct pm_addr h3 = ip("10.0.0.3"), h8 = ip("10.0.0.8");

	login(f, "user1", NULL);	/* .3 */
	login(f, "user2", NULL);	/* .3 */
	login(f, "user3", NULL);	/* .5 */
	assert_int_equal(pm_director_host_flush(f->d, &h8, f->now), -ENOENT);
	assert_int_equal(pm_director_host_flush(f->d, &h3, f->now), 2);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
	assert_int_equal(users_on(f, "10.0.0.5"), 1);
	assert_int_equal(pm_director_host_flush(f->d, NULL, f->now), 1);
	assert_int_equal(users_on(f, "10.0.0.5"), 0);
	assert_int_equal(f->nkicks, 0);
}

static void
test_director_reset_users_moves_to_hash_target(void **state)
{
	struct fx *f = *state;
	struct pm_addr h1 = ip("10.0.0.1"), h3 = ip("10.0.0.3");
	enum pm_dir_status st;
	const char *h;
	int64_t job;

	/* Pin user1 (hash target .3) and user3 (.5) on .1. */
	assert_int_equal(pm_director_user_move(f->d, uh(f, "user1"), &h1, f->now), 0);
	assert_int_equal(pm_director_user_move(f->d, uh(f, "user3"), &h1, f->now), 0);
	advance(f, 2000);
	f->nkicks = 0;
	/* user5 is pinned on .3, its own target: it must stay. */
	assert_string_equal(login(f, "user5", NULL), "10.0.0.3");
	assert_int_equal(users_on(f, "10.0.0.1"), 2);

	job = pm_director_reset_users(f->d, &h1, 0, f->now);
	assert_true(job > 0);
	assert_int_equal(f->ndone, 1);	/* all dispatched at once */
	assert_int_equal(users_on(f, "10.0.0.1"), 0);
	assert_int_equal(users_on(f, "10.0.0.3"), 2);
	assert_int_equal(users_on(f, "10.0.0.5"), 1);
	assert_int_equal(f->nkicks, 2);
	assert_int_equal(f->kicks[0].kind, PM_KICK_HASH);
	assert_true(f->kicks[0].has_except);
	/* A login while the user is moving is held ... */
	login(f, "user1", &st);
	assert_int_equal(st, PM_DIR_WAIT);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_WAIT);
	/* ... until the kick delay has passed, then it lands on the target. */
	advance(f, 1999);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_WAIT);
	advance(f, 1);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.3");
	assert_string_equal(login(f, "user1", &st), "10.0.0.3");
	assert_int_equal(st, PM_DIR_PINNED);
	assert_int_equal(pm_director_reset_users(f->d, &h3, 0, f->now) > 0, 1);
	assert_int_equal(users_on(f, "10.0.0.3"), 2);	/* already on target */
	assert_int_equal(pm_director_reset_users(f->d, &(struct pm_addr){ 0 }, 0, f->now),
			 -ENOENT);
}

/* Spec 7.14: 187 moves with max-parallel 50 are dispatched in 4 batches
 * one kick delay apart, so the job reports done after 3 x 2 s. */
static void
test_director_reset_users_paced_by_max_parallel(void **state)
{
	struct fx *f = *state;
	struct pm_addr h1 = ip("10.0.0.1"), h;
	struct pm_dir_answer ans;
	char name[32];
	unsigned int placed = 0, i;
	uint64_t start;
	int64_t job;

	/* Pin 187 users that hash elsewhere onto .1. */
	for (i = 0; placed < 187; i++) {
		uint32_t hash;

		snprintf(name, sizeof(name), "pace%u", i);
		hash = uh(f, name);
		assert_int_equal(pm_director_lookup(f->d, 0, hash, 0, &ans), PM_DIR_HASHED);
		if (pm_addr_eq(&ans.host, &h1))
			continue;
		assert_int_equal(pm_director_user_move(f->d, hash, &h1, f->now), 0);
		placed++;
	}
	advance(f, 2000);
	assert_int_equal(users_on(f, "10.0.0.1"), 187);
	h = h1;
	f->ndone = 0;
	start = f->now;
	job = pm_director_reset_users(f->d, &h, 50, f->now);
	assert_true(job > 0);
	assert_int_equal(users_on(f, "10.0.0.1"), 187 - 50);
	assert_int_equal(f->ndone, 0);
	advance(f, 2000);
	assert_int_equal(users_on(f, "10.0.0.1"), 187 - 100);
	advance(f, 2000);
	assert_int_equal(users_on(f, "10.0.0.1"), 187 - 150);
	assert_int_equal(f->ndone, 0);
	advance(f, 2000);
	assert_int_equal(users_on(f, "10.0.0.1"), 0);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->done_jobs[0], (uint64_t)job);
	assert_int_equal(f->done_at[0], start + 6000);
}

/* Spec 7.13: when the tag's ring is empty the users are kicked and the
 * host's pins forgotten. */
static void
test_director_reset_users_empty_ring_kicks_and_forgets(void **state)
{
	struct fx *f = *state;
	struct pm_addr a;
	char s[32];
	int i;

	login(f, "user1", NULL);
	login(f, "user2", NULL);
	for (i = 1; i <= 5; i++) {
		snprintf(s, sizeof(s), "10.0.0.%d", i);
		a = ip(s);
		assert_int_equal(pm_director_host_set(f->d, &a, "", 0, false, f->now), 0);
	}
	a = ip("10.0.0.3");
	f->nkicks = 0;
	assert_true(pm_director_reset_users(f->d, &a, 0, f->now) > 0);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->nkicks, 2);
	assert_false(f->kicks[0].has_except);
	assert_false(f->kicks[1].has_except);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
}

static void
test_director_user_move_kicks_and_holds(void **state)
{
	struct fx *f = *state;
	struct pm_addr h1 = ip("10.0.0.1"), h2 = ip("10.0.0.2"), h9 = ip("10.0.0.9");
	uint32_t u = uh(f, "user1");
	enum pm_dir_status st;
	const char *h;

	login(f, "user1", NULL);	/* .3 */
	assert_int_equal(pm_director_user_move(f->d, u, &h9, f->now), -ENOENT);
	assert_int_equal(pm_director_user_move(f->d, u, &h1, f->now), 0);
	assert_int_equal(f->nkicks, 1);
	assert_int_equal(f->kicks[0].kind, PM_KICK_HASH);
	assert_int_equal(f->kicks[0].user_hash, u);
	assert_true(f->kicks[0].has_except);
	assert_string_equal(ipstr(&f->kicks[0].except_host), "10.0.0.1");
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
	assert_int_equal(users_on(f, "10.0.0.1"), 1);
	/* TRYAGAIN while moving, and the login waits. */
	assert_int_equal(pm_director_user_move(f->d, u, &h2, f->now + 1000), -EAGAIN);
	login(f, "user1", &st);
	assert_int_equal(st, PM_DIR_WAIT);
	advance(f, 2000);
	assert_string_equal(login(f, "user1", &st), "10.0.0.1");
	assert_int_equal(st, PM_DIR_PINNED);
	/* Moving to the host it is on only refreshes: no kick. */
	assert_int_equal(pm_director_user_move(f->d, u, &h1, f->now), 0);
	assert_int_equal(f->nkicks, 1);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	/* A move of an unpinned user pins it and kicks it everywhere else. */
	assert_int_equal(pm_director_user_move(f->d, uh(f, "user4"), &h2, f->now), 0);
	assert_int_equal(f->nkicks, 2);
	assert_int_equal(users_on(f, "10.0.0.2"), 1);
}

static void
test_director_user_kick_leaves_pin(void **state)
{
	struct fx *f = *state;
	const char *h;

	login(f, "user1", NULL);
	pm_director_user_kick(f->d, "user1");
	pm_director_user_kick_alt(f->d, "user_group", "staff");
	assert_int_equal(f->nkicks, 2);
	assert_int_equal(f->kicks[0].kind, PM_KICK_USER);
	assert_string_equal(f->kick_user[0], "user1");
	assert_int_equal(f->kicks[1].kind, PM_KICK_ALT);
	assert_string_equal(f->kick_user[1], "user_group=staff");
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.3");
}

static void
test_director_pin_expires_after_user_expire(void **state)
{
	struct fx *f = *state;
	struct pm_user_info ui;
	struct pm_addr hashed;
	const char *h;

	login(f, "user1", NULL);
	advance(f, 899 * 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_int_equal(pm_director_user_lookup(f->d, 0, uh(f, "user1"), f->now, &ui, &hashed),
			 0);
	assert_int_equal(ui.expire_s, (uint32_t)(T0_MS / 1000 + 900));
	advance(f, 1000);
	/* Dead at timestamp + expire, lookups treat it as absent at once and
	 * the tick has forgotten it (its count is gone). */
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
	assert_int_equal(pm_director_user_lookup(f->d, 0, uh(f, "user1"), f->now, &ui, &hashed),
			 0);
	assert_int_equal(ui.host.family, PM_AF_NONE);
	assert_int_equal(ui.expire_s, 0);
	assert_string_equal(ipstr(&hashed), "10.0.0.3");
}

static void
test_director_refresh_extends_only_existing_pins(void **state)
{
	struct fx *f = *state;
	const char *h;

	login(f, "user1", NULL);
	advance(f, 450 * 1000);
	assert_int_equal(pm_director_refresh(f->d, uh(f, "user1"), f->now), 0);
	assert_int_equal(pm_director_refresh(f->d, uh(f, "user2"), f->now), -ENOENT);
	assert_int_equal(lookup(f, 0, "user2", &h), PM_DIR_HASHED);
	advance(f, 800 * 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	advance(f, 100 * 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
}

static void
test_director_weak_pin_lives_30s_longer(void **state)
{
	struct fx *f = *state;
	const char *h;

	login(f, "user1", NULL);
	assert_int_equal(pm_director_user_set_weak(f->d, 0, uh(f, "user1"), true, f->now), 0);
	assert_int_equal(pm_director_user_set_weak(f->d, 0, uh(f, "user2"), true, f->now),
			 -ENOENT);
	advance(f, 929 * 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	advance(f, 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
}

static void
test_director_moving_pin_outlives_expiry(void **state)
{
	struct fx *f;
	struct pm_addr h1;
	const char *h;

	/* The shortest expiry Dovecot allows, and a kick delay longer than it. */
	teardown(state);
	setup_cfg(state, 10, 15000);
	f = *state;
	h1 = ip("10.0.0.1");
	assert_int_equal(pm_director_user_move(f->d, uh(f, "user1"), &h1, f->now), 0);
	/* Past its expiry the pin is kept while the move is in progress ... */
	advance(f, 12000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_WAIT);
	assert_int_equal(users_on(f, "10.0.0.1"), 1);
	/* ... and forgotten once the move has ended. */
	advance(f, 3000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(users_on(f, "10.0.0.1"), 0);
}

static void
test_director_tags_have_own_rings_and_pins(void **state)
{
	struct fx *f = *state;
	struct pm_addr a1 = ip("10.0.1.1"), a2 = ip("10.0.1.2");
	struct pm_host_info hi;
	const char *h;
	int tag;

	assert_int_equal(pm_director_host_set(f->d, &a1, "tagA", 100, true, f->now), 0);
	assert_int_equal(pm_director_host_set(f->d, &a2, "tagA", 20, true, f->now), 0);
	tag = pm_director_tag(f->d, "tagA", false);
	assert_int_equal(tag, 1);
	assert_int_equal(pm_director_tag(f->d, "nope", false), -ENOENT);
	assert_int_equal(pm_director_host_get(f->d, &a1, f->now, &hi), 0);
	assert_string_equal(hi.tag, "tagA");
	/* Vectors: "@Osh5Oz1YkY" -> 10.0.1.2, "@p" -> 10.0.1.1 in ring tagA. */
	assert_int_equal(lookup(f, (uint16_t)tag, "@Osh5Oz1YkY", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.1.2");
	assert_int_equal(lookup(f, (uint16_t)tag, "@p", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.1.1");
	/* The untagged ring never offers tagged hosts. */
	assert_int_equal(lookup(f, 0, "@p", &h), PM_DIR_HASHED);
	assert_memory_equal(h, "10.0.0.", 7);
	/* One user, two tags, two independent pins. */
	assert_int_equal(pm_director_user_move(f->d, uh(f, "@p"), &a2, f->now), 0);
	advance(f, 2000);
	assert_int_equal(lookup(f, (uint16_t)tag, "@p", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.1.2");
	assert_int_equal(lookup(f, 0, "@p", &h), PM_DIR_HASHED);
	/* A tag cannot be changed. */
	assert_int_equal(pm_director_host_set(f->d, &a1, "tagB", 100, true, f->now), -EEXIST);
	/* Unknown tag index: no host. */
	assert_int_equal(lookup(f, 9, "@p", &h), PM_DIR_NOHOST);
}

struct listed {
	uint32_t hash[16];
	char host[16][PM_ADDR_STRLEN];
	uint32_t expire[16];
	unsigned int n;
};

static void
collect(void *arg, const struct pm_user_info *u)
{
	struct listed *l = arg;

	assert_true(l->n < 16);
	l->hash[l->n] = u->user_hash;
	snprintf(l->host[l->n], PM_ADDR_STRLEN, "%s", ipstr(&u->host));
	l->expire[l->n] = u->expire_s;
	l->n++;
}

static void
test_director_user_list_oldest_first(void **state)
{
	struct fx *f = *state;
	struct pm_addr h3 = ip("10.0.0.3");
	struct listed l = { 0 };

	login(f, "user2", NULL);	/* .3 */
	f->now += 3000;
	login(f, "user3", NULL);	/* .5 */
	f->now += 3000;
	login(f, "user1", NULL);	/* .3 */
	assert_int_equal(pm_director_user_list(f->d, NULL, f->now, collect, &l), 3);
	assert_int_equal(l.hash[0], uh(f, "user2"));
	assert_int_equal(l.hash[1], uh(f, "user3"));
	assert_int_equal(l.hash[2], uh(f, "user1"));
	assert_int_equal(l.expire[0], (uint32_t)(T0_MS / 1000 + 900));
	assert_string_equal(l.host[1], "10.0.0.5");
	/* A refresh moves a user to the end. */
	f->now += 1000;
	login(f, "user2", NULL);
	memset(&l, 0, sizeof(l));
	assert_int_equal(pm_director_user_list(f->d, &h3, f->now, collect, &l), 2);
	assert_int_equal(l.hash[0], uh(f, "user1"));
	assert_int_equal(l.hash[1], uh(f, "user2"));
}

static void
test_director_login_empty_ring_is_nohost(void **state)
{
	struct fx *f = *state;
	struct pm_addr a;
	enum pm_dir_status st;
	char s[32];
	int i;

	for (i = 1; i <= 5; i++) {
		snprintf(s, sizeof(s), "10.0.0.%d", i);
		a = ip(s);
		assert_int_equal(pm_director_host_updown(f->d, &a, true, f->now), 0);
	}
	login(f, "user1", &st);
	assert_int_equal(st, PM_DIR_NOHOST);
	a = ip("10.0.0.4");
	assert_int_equal(pm_director_host_updown(f->d, &a, false, f->now), 0);
	assert_string_equal(login(f, "user1", &st), "10.0.0.4");
	assert_int_equal(st, PM_DIR_HASHED);
}

static void
test_director_login_hint_is_used_when_valid(void **state)
{
	struct fx *f = *state;
	struct pm_dir_answer a1, ans;
	struct pm_addr h2 = ip("10.0.0.2");
	const struct pm_ring *r = pm_director_ring(f->d);
	int idx = pm_ring_host_by_addr(r, &h2);

	assert_true(idx >= 0);
	/* The worker chose .2 (e.g. from an image one update older). */
	assert_int_equal(pm_director_login(f->d, 0, uh(f, "user1"), r->hosts[idx].id, f->now,
					   &ans),
			 PM_DIR_HASHED);
	assert_string_equal(ipstr(&ans.host), "10.0.0.2");
	/* A hint naming a removed host falls back to the ring. */
	assert_int_equal(pm_director_host_remove(f->d, &h2, f->now), 0);
	assert_int_equal(pm_director_login(f->d, 0, uh(f, "user2"), ans.host_id, f->now, &a1),
			 PM_DIR_HASHED);
	assert_string_equal(ipstr(&a1.host), "10.0.0.3");
}

static void
test_director_ring_generation_increases_per_change(void **state)
{
	struct fx *f = *state;
	struct pm_addr h2 = ip("10.0.0.2");
	struct pm_director_stats st;
	uint64_t g0 = pm_director_ring(f->d)->generation;

	assert_int_equal(pm_director_host_set(f->d, &h2, "", 50, false, f->now), 0);
	assert_int_equal(pm_director_ring(f->d)->generation, g0 + 1);
	/* No change, no new image. */
	assert_int_equal(pm_director_host_set(f->d, &h2, "", 50, false, f->now), 0);
	assert_int_equal(pm_director_ring(f->d)->generation, g0 + 1);
	pm_director_stats(f->d, &st);
	assert_int_equal(st.rings_published, g0 + 1);
}

/* The pin table grows from its smallest size without losing a pin. */
static void
test_director_pin_table_grows_keeping_pins(void **state)
{
	struct fx *f = *state;
	struct pm_director_config cfg;
	struct pm_director *d;
	struct pm_dir_answer ans;
	struct pm_director_stats st;
	uint32_t i;

	pm_director_config_defaults(&cfg);
	cfg.expected_users = 1;
	d = pm_director_new(&cfg, NULL, NULL, NULL);
	assert_non_null(d);
	for (i = 1; i <= 5; i++) {
		struct pm_addr h = { .family = PM_AF_INET, .bytes = { 10, 0, 0, (uint8_t)i } };

		assert_int_equal(pm_director_host_set(d, &h, "", 100, true, f->now), 0);
	}
	for (i = 0; i < 20000; i++)
		assert_int_equal(pm_director_login(d, 0, i * 2654435761u + 1, 0, f->now, &ans),
				 PM_DIR_HASHED);
	pm_director_stats(d, &st);
	assert_int_equal(st.pins, 20000);
	for (i = 0; i < 20000; i++)
		assert_int_equal(pm_director_lookup(d, 0, i * 2654435761u + 1,
						    (uint32_t)(f->now / 1000), &ans),
				 PM_DIR_PINNED);
	pm_director_free(d);
}

/* ---- whole states and settings (the control channel's STATE_*) ---------------- */

static struct pm_director_host_state
hs(const char *addr, const char *tag, uint16_t vhosts, bool down, int64_t last_updown_s)
{
	struct pm_director_host_state h = {
		.addr = ip(addr),
		.tag = tag,
		.vhosts = vhosts,
		.down = down,
		.last_updown_s = last_updown_s,
	};

	return h;
}

/* One state changing five things at once publishes one image; pins of
 * removed and retagged hosts go, every other pin stays. */
static void
test_director_set_hosts_applies_all_in_one_publish(void **state)
{
	struct fx *f = *state;
	struct pm_director_host_state st[5];
	struct pm_director_apply_result res;
	struct pm_director_stats s0, s1;
	struct pm_host_info hi;
	struct pm_addr a;
	uint64_t g0 = pm_director_ring(f->d)->generation;
	const char *h;

	assert_string_equal(login(f, "user1", NULL), "10.0.0.3");
	assert_string_equal(login(f, "user2", NULL), "10.0.0.3");
	assert_string_equal(login(f, "user3", NULL), "10.0.0.5");
	assert_string_equal(login(f, "testuser@domain", NULL), "10.0.0.4");
	pm_director_stats(f->d, &s0);
	st[0] = hs("10.0.0.6", "", 100, false, 0);		/* new */
	st[1] = hs("10.0.0.3", "", 100, false, 0);		/* unchanged */
	st[2] = hs("10.0.0.2", NULL, 100, true, 1700000000);	/* down, with its time */
	st[3] = hs("10.0.0.1", "", 50, false, 0);		/* vhosts */
	st[4] = hs("10.0.0.4", "tagA", 100, false, 0);		/* retagged */
	/* 10.0.0.5 is absent: removed. */
	assert_int_equal(pm_director_set_hosts(f->d, st, 5, f->now, &res), 0);
	assert_int_equal(res.created, 1);
	assert_int_equal(res.updated, 2);
	assert_int_equal(res.removed, 1);
	assert_int_equal(res.retagged, 1);
	assert_int_equal(res.pins_forgotten, 2);
	assert_int_equal(pm_director_ring(f->d)->generation, g0 + 1);
	pm_director_stats(f->d, &s1);
	assert_int_equal(s1.rings_published, s0.rings_published + 1);
	assert_int_equal(s1.pins, 2);

	/* Pins on .3 stay; the users of .5 and .4 follow the new ring. */
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.3");
	assert_int_equal(users_on(f, "10.0.0.3"), 2);
	assert_int_equal(lookup(f, 0, "user3", &h), PM_DIR_HASHED);
	assert_string_not_equal(h, "10.0.0.5");
	assert_int_equal(lookup(f, 0, "testuser@domain", &h), PM_DIR_HASHED);
	assert_string_not_equal(h, "10.0.0.4");
	assert_int_equal(users_on(f, "10.0.0.4"), 0);
	a = ip("10.0.0.5");
	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), -ENOENT);

	/* Fields come from the state as given, the time included. */
	a = ip("10.0.0.2");
	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), 0);
	assert_true(hi.down);
	assert_int_equal(hi.last_updown_s, 1700000000);
	a = ip("10.0.0.1");
	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), 0);
	assert_int_equal(hi.vhosts, 50);
	a = ip("10.0.0.4");
	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), 0);
	assert_string_equal(hi.tag, "tagA");
	assert_int_equal(hi.tag_index, pm_director_tag(f->d, "tagA", false));
	assert_int_equal(lookup(f, hi.tag_index, "user1", &h), PM_DIR_HASHED);
	assert_string_equal(h, "10.0.0.4");
	assert_int_equal(f->nkicks, 0);
}

static void
test_director_set_hosts_bad_state_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct pm_director_host_state st[3];
	struct pm_director_apply_result res;
	uint64_t g0 = pm_director_ring(f->d)->generation;
	const char *h;

	login(f, "user1", NULL);
	st[0] = hs("10.0.0.3", "", 100, false, 0);
	st[1] = hs("10.0.0.9", "", 100, false, 0);
	st[2] = hs("10.0.0.3", "", 100, false, 0);
	assert_int_equal(pm_director_set_hosts(f->d, st, 3, f->now, &res), -EEXIST);
	assert_int_equal(res.bad, 2);
	st[2] = hs("10.0.0.8", "", 100, false, 0);
	st[1].vhosts = PM_RING_MAX_VHOSTS + 1;
	assert_int_equal(pm_director_set_hosts(f->d, st, 3, f->now, &res), -E2BIG);
	assert_int_equal(res.bad, 1);
	st[1].vhosts = 100;
	st[2].addr.family = PM_AF_NONE;
	assert_int_equal(pm_director_set_hosts(f->d, st, 3, f->now, &res), -EINVAL);
	assert_int_equal(res.bad, 2);
	/* Nothing changed: the same image, the pin, every host. */
	assert_int_equal(pm_director_ring(f->d)->generation, g0);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_int_equal(users_on(f, "10.0.0.5"), 0);
}

/* Re-sending the state a director already has (a reconnect) publishes no
 * image and keeps every pin; a time-only change publishes none either. */
static void
test_director_set_hosts_same_state_is_a_no_op(void **state)
{
	struct fx *f = *state;
	struct pm_director_host_state st[5];
	struct pm_director_apply_result res;
	struct pm_host_info hi;
	struct pm_addr a = ip("10.0.0.2");
	uint64_t g0 = pm_director_ring(f->d)->generation;
	char s[32];
	const char *h;
	int i;

	login(f, "user1", NULL);
	for (i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "10.0.0.%d", 5 - i);
		st[i] = hs(s, "", 100, false, 0);
	}
	assert_int_equal(pm_director_set_hosts(f->d, st, 5, f->now, &res), 0);
	assert_int_equal(res.created + res.updated + res.removed + res.retagged, 0);
	assert_int_equal(pm_director_ring(f->d)->generation, g0);
	st[3].last_updown_s = 42;	/* 10.0.0.2 */
	assert_int_equal(pm_director_set_hosts(f->d, st, 5, f->now, &res), 0);
	assert_int_equal(res.updated, 1);
	assert_int_equal(pm_director_ring(f->d)->generation, g0);
	assert_int_equal(pm_director_host_get(f->d, &a, f->now, &hi), 0);
	assert_int_equal(hi.last_updown_s, 42);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	/* An empty state removes every host and forgets every pin. */
	assert_int_equal(pm_director_set_hosts(f->d, NULL, 0, f->now, &res), 0);
	assert_int_equal(res.removed, 5);
	assert_int_equal(res.pins_forgotten, 1);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_NOHOST);
}

static void
test_director_set_config_new_template_forgets_pins(void **state)
{
	struct fx *f = *state;
	struct pm_director_config cfg = *pm_director_config(f->d);
	struct pm_director_stats st;
	uint32_t before = uh(f, "user1@example.com");

	login(f, "user1", NULL);
	login(f, "user2", NULL);
	/* The same template (and other changed settings) keep the pins. */
	cfg.max_parallel_moves = 7;
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), 0);
	assert_int_equal(pm_director_config(f->d)->max_parallel_moves, 7);
	pm_director_stats(f->d, &st);
	assert_int_equal(st.pins, 2);
	assert_int_equal(pm_userhash_compile(&cfg.hash_fmt, "%Ln", '\0', NULL, 0), 0);
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), 2);
	pm_director_stats(f->d, &st);
	assert_int_equal(st.pins, 0);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
	assert_int_not_equal(uh(f, "user1@example.com"), before);
	assert_int_equal(uh(f, "user1@example.com"), uh(f, "USER1"));
	/* So does a new master separator. */
	login(f, "user1", NULL);
	assert_int_equal(pm_userhash_compile(&cfg.hash_fmt, "%Ln", '*', NULL, 0), 0);
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), 1);
	assert_int_equal(uh(f, "user1*master"), uh(f, "user1"));
	assert_int_equal(f->nkicks, 0);
	/* Out of Dovecot's limits: refused, nothing changed. */
	cfg.user_expire_s = 9;
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), -EINVAL);
	assert_int_equal(pm_director_config(f->d)->user_expire_s, 15 * 60);
	cfg.user_expire_s = 10;
	cfg.max_parallel_kicks = 0;
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), -EINVAL);
}

static void
test_director_set_config_expire_applies_to_live_pins(void **state)
{
	struct fx *f = *state;
	struct pm_director_config cfg = *pm_director_config(f->d);
	struct pm_user_info ui;
	struct pm_addr hashed;
	const char *h;

	login(f, "user1", NULL);
	advance(f, 30 * 1000);
	cfg.user_expire_s = 60;
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), 0);
	assert_int_equal(pm_director_user_lookup(f->d, 0, uh(f, "user1"), f->now, &ui, &hashed),
			 0);
	assert_int_equal(ui.expire_s, (uint32_t)(T0_MS / 1000 + 60));
	advance(f, 29 * 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	advance(f, 1000);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_HASHED);
	assert_int_equal(users_on(f, "10.0.0.3"), 0);
}

static void
test_director_set_config_shorter_kick_delay_ends_moves_sooner(void **state)
{
	struct fx *f = *state;
	struct pm_director_config cfg = *pm_director_config(f->d);
	struct pm_addr h1 = ip("10.0.0.1");
	const char *h;

	assert_int_equal(pm_director_user_move(f->d, uh(f, "user1"), &h1, f->now), 0);
	advance(f, 100);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_WAIT);
	cfg.kick_delay_ms = 500;
	assert_int_equal(pm_director_set_config(f->d, &cfg, f->now), 0);
	advance(f, 499);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_WAIT);
	advance(f, 1);
	assert_int_equal(lookup(f, 0, "user1", &h), PM_DIR_PINNED);
	assert_string_equal(h, "10.0.0.1");
	/* New moves take the new delay. */
	assert_int_equal(pm_director_user_move(f->d, uh(f, "user2"), &h1, f->now), 0);
	advance(f, 500);
	assert_int_equal(lookup(f, 0, "user2", &h), PM_DIR_PINNED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_director_lookup_unpinned_follows_ring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_login_pins_and_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_host_update_moves_no_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_host_set_errors_match_dovecot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_down_host_keeps_its_users, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_remove_forgets_pins_without_kick,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_flush_forgets_without_kick, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_reset_users_moves_to_hash_target,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_reset_users_paced_by_max_parallel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_director_reset_users_empty_ring_kicks_and_forgets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_user_move_kicks_and_holds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_user_kick_leaves_pin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_pin_expires_after_user_expire, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_refresh_extends_only_existing_pins,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_weak_pin_lives_30s_longer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_moving_pin_outlives_expiry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_tags_have_own_rings_and_pins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_user_list_oldest_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_login_empty_ring_is_nohost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_login_hint_is_used_when_valid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_ring_generation_increases_per_change,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_pin_table_grows_keeping_pins, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_director_set_hosts_applies_all_in_one_publish,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_director_set_hosts_bad_state_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_director_set_hosts_same_state_is_a_no_op, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_director_set_config_new_template_forgets_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_director_set_config_expire_applies_to_live_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_director_set_config_shorter_kick_delay_ends_moves_sooner, setup,
			teardown),
	};
	int ret;

	/* The test thread is the director's writer: a registered, online
	 * QSBR thread. */
	urcu_qsbr_register_thread();
	ret = cmocka_run_group_tests_name("director", tests, NULL, NULL);
	urcu_qsbr_unregister_thread();
	return ret;
}
