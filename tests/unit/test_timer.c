/*
 * test_timer.c -- the hashed timer wheel (tcp/timer.h).
 *
 * The random test runs the wheel against a reference model kept in the test
 * (each timer's deadline and expected expiry tick) with a printed seed; set
 * PM_SEED to replay another run. No clock: time is a variable.
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

#include "tcp/timer.h"
#include "testrand.h"

#define TEST_SEED 0x71e3e7a1u

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* A caller's object with an embedded timer. */
struct obj {
	int id;
	struct pm_timer timer;
	/* Reference model. */
	bool armed;
	uint64_t deadline;
	uint64_t expect_tick;
	int fired;
	uint64_t fired_at;
};

/* What the callbacks of the simple tests record. */
struct log {
	int ids[256];
	uint64_t at[256];
	int n;
	uint64_t now;
};

static void
record(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct log *lg = arg;
	struct obj *o = container_of(t, struct obj, timer);

	(void)w;
	assert_false(pm_timer_armed(t));
	assert_true(lg->n < 256);
	lg->ids[lg->n] = o->id;
	lg->at[lg->n] = lg->now;
	lg->n++;
	o->fired++;
}

static void
objs_init(struct obj *o, int n)
{
	int i;

	memset(o, 0, sizeof(*o) * (size_t)n);
	for (i = 0; i < n; i++) {
		o[i].id = i;
		pm_timer_init(&o[i].timer);
	}
}

static size_t
advance(struct pm_timer_wheel *w, struct log *lg, uint64_t now)
{
	lg->now = now;
	return pm_timer_wheel_advance(w, now, record, lg);
}

static void
test_timer_init_rejects_bad_parameters(void **state)
{
	struct pm_timer_link slots[8];
	struct pm_timer_wheel w;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 0, 1, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 3, 1, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 6, 1, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 0, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 60001, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, NULL, 8, 1, 0), -EINVAL);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 60000, 0), 0);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 1, 1, 0), 0);
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 10, 12345), 0);
	assert_int_equal(pm_timer_wheel_count(&w), 0);
}

/* With 10 ms ticks, a deadline fires at the first tick boundary at or after
 * it, never before, and advance() calls before that fire nothing. */
static void
test_timer_fires_at_tick_boundary_never_early(void **state)
{
	static const struct {
		uint64_t deadline, fire;
	} cases[] = {
		{ 1001, 1010 }, { 1009, 1010 }, { 1010, 1010 }, { 1011, 1020 }, { 1100, 1100 },
	};
	struct pm_timer_link slots[16];
	struct pm_timer_wheel w;
	struct obj o[1];
	struct log lg = { 0 };
	size_t i;
	uint64_t now;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pm_timer_wheel_init(&w, slots, 16, 10, 1000), 0);
		objs_init(o, 1);
		lg.n = 0;
		pm_timer_arm(&w, &o[0].timer, cases[i].deadline);
		assert_true(pm_timer_armed(&o[0].timer));
		assert_int_equal(pm_timer_due_ms(&w, &o[0].timer), cases[i].fire);
		for (now = 1000; now < cases[i].fire; now++)
			assert_int_equal(advance(&w, &lg, now), 0);
		assert_int_equal(advance(&w, &lg, cases[i].fire), 1);
		assert_int_equal(lg.n, 1);
		assert_false(pm_timer_armed(&o[0].timer));
		assert_int_equal(pm_timer_wheel_count(&w), 0);
		assert_int_equal(advance(&w, &lg, cases[i].fire + 1000), 0);
	}
}

/* A deadline at or before the last processed tick fires at the next tick. */
static void
test_timer_past_deadline_fires_next_tick(void **state)
{
	struct pm_timer_link slots[8];
	struct pm_timer_wheel w;
	struct obj o[2];
	struct log lg = { 0 };

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 1, 500), 0);
	objs_init(o, 2);
	pm_timer_arm(&w, &o[0].timer, 0);
	pm_timer_arm(&w, &o[1].timer, 500);
	assert_int_equal(pm_timer_due_ms(&w, &o[0].timer), 501);
	assert_int_equal(pm_timer_due_ms(&w, &o[1].timer), 501);
	assert_int_equal(advance(&w, &lg, 500), 0);
	assert_int_equal(advance(&w, &lg, 501), 2);
	assert_int_equal(lg.ids[0], 0);	/* same tick: in the order armed */
	assert_int_equal(lg.ids[1], 1);
}

static void
test_timer_cancel_and_rearm_outside_callbacks(void **state)
{
	struct pm_timer_link slots[8];
	struct pm_timer_wheel w;
	struct obj o[3];
	struct log lg = { 0 };

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 1, 0), 0);
	objs_init(o, 3);
	assert_false(pm_timer_cancel(&w, &o[0].timer));
	pm_timer_arm(&w, &o[0].timer, 5);
	pm_timer_arm(&w, &o[1].timer, 5);
	pm_timer_arm(&w, &o[2].timer, 6);
	assert_int_equal(pm_timer_wheel_count(&w), 3);
	assert_true(pm_timer_cancel(&w, &o[1].timer));
	assert_false(pm_timer_cancel(&w, &o[1].timer));
	assert_int_equal(pm_timer_wheel_count(&w), 2);
	/* Re-arming an armed timer moves it; it still fires once. */
	pm_timer_arm(&w, &o[0].timer, 20);
	pm_timer_arm(&w, &o[0].timer, 7);
	assert_int_equal(pm_timer_wheel_count(&w), 2);
	assert_int_equal(advance(&w, &lg, 6), 1);
	assert_int_equal(lg.ids[0], 2);
	assert_int_equal(advance(&w, &lg, 100), 1);
	assert_int_equal(lg.ids[1], 0);
	assert_int_equal(lg.at[1], 100);
	assert_int_equal(o[0].fired, 1);
	assert_int_equal(o[1].fired, 0);
	/* now going backwards does nothing. */
	pm_timer_arm(&w, &o[1].timer, 150);
	assert_int_equal(advance(&w, &lg, 50), 0);
	assert_int_equal(pm_timer_due_ms(&w, &o[1].timer), 150);
	assert_int_equal(advance(&w, &lg, 150), 1);
}

/* A timer several revolutions away is skipped on the earlier ones. */
static void
test_timer_far_future_fires_once_on_time(void **state)
{
	struct pm_timer_link slots[16];
	struct pm_timer_wheel w;
	struct obj o[3];
	struct log lg = { 0 };
	uint64_t now;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 16, 1, 0), 0);
	objs_init(o, 3);
	pm_timer_arm(&w, &o[0].timer, 16 * 10 + 3);	/* slot 3, round 10 */
	pm_timer_arm(&w, &o[1].timer, 3);		/* slot 3, round 0 */
	pm_timer_arm(&w, &o[2].timer, 16 * 1000 + 3);	/* slot 3, round 1000 */
	for (now = 1; now <= 16 * 10 + 3; now++)
		advance(&w, &lg, now);
	assert_int_equal(lg.n, 2);
	assert_int_equal(lg.ids[0], 1);
	assert_int_equal(lg.at[0], 3);
	assert_int_equal(lg.ids[1], 0);
	assert_int_equal(lg.at[1], 163);
	assert_true(pm_timer_armed(&o[2].timer));
	/* A jump to just before it, then to it. */
	assert_int_equal(advance(&w, &lg, 16 * 1000 + 2), 0);
	assert_int_equal(advance(&w, &lg, 16 * 1000 + 3), 1);
	assert_int_equal(o[2].fired, 1);
}

/* Callbacks that cancel and re-arm: A cancels B (same tick) and C (later);
 * D re-arms itself every 7 ms three times; E re-arms F, which is due in
 * the same tick, to later. */
struct script {
	struct obj *o;
	int rearms;
	uint64_t now;
};

static void
scripted(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct script *s = arg;
	struct obj *x = container_of(t, struct obj, timer);

	x->fired++;
	x->fired_at = s->now;
	switch (x->id) {
	case 0:		/* A */
		assert_true(pm_timer_cancel(w, &s->o[1].timer));
		assert_true(pm_timer_cancel(w, &s->o[2].timer));
		assert_false(pm_timer_cancel(w, t));	/* already disarmed */
		break;
	case 3:		/* D */
		if (s->rearms < 3) {
			s->rearms++;
			pm_timer_arm(w, t, x->deadline += 7);
		}
		break;
	case 4:		/* E */
		pm_timer_arm(w, &s->o[5].timer, 1000);
		break;
	default:
		break;
	}
}

static void
test_timer_callbacks_may_cancel_and_rearm(void **state)
{
	struct pm_timer_link slots[64];
	struct pm_timer_wheel w;
	struct obj o[6];
	struct script s = { o, 0, 0 };
	uint64_t now;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 64, 1, 0), 0);
	objs_init(o, 6);
	pm_timer_arm(&w, &o[0].timer, 10);	/* A */
	pm_timer_arm(&w, &o[1].timer, 10);	/* B, same tick, after A */
	pm_timer_arm(&w, &o[2].timer, 30);	/* C */
	o[3].deadline = 5;
	pm_timer_arm(&w, &o[3].timer, 5);	/* D: 5, 12, 19, 26 */
	pm_timer_arm(&w, &o[4].timer, 40);	/* E */
	pm_timer_arm(&w, &o[5].timer, 40);	/* F, same tick, after E */
	for (now = 1; now <= 100; now++) {
		s.now = now;
		pm_timer_wheel_advance(&w, now, scripted, &s);
	}
	assert_int_equal(o[0].fired, 1);
	assert_int_equal(o[1].fired, 0);
	assert_int_equal(o[2].fired, 0);
	assert_int_equal(o[3].fired, 4);
	assert_int_equal(o[3].fired_at, 26);
	assert_int_equal(o[4].fired, 1);
	assert_int_equal(o[5].fired, 0);
	assert_true(pm_timer_armed(&o[5].timer));
	assert_int_equal(pm_timer_wheel_count(&w), 1);
	s.now = 1000;
	assert_int_equal(pm_timer_wheel_advance(&w, 1000, scripted, &s), 1);
	assert_int_equal(o[5].fired, 1);

	/* The same within one big step: D's re-arms land in the same call. */
	assert_int_equal(pm_timer_wheel_init(&w, slots, 64, 1, 0), 0);
	objs_init(o, 6);
	s.rearms = 0;
	o[3].deadline = 5;
	pm_timer_arm(&w, &o[3].timer, 5);
	s.now = 50;
	assert_int_equal(pm_timer_wheel_advance(&w, 50, scripted, &s), 4);
	/* And within a jump of more than a revolution (the sorted batch). */
	assert_int_equal(pm_timer_wheel_init(&w, slots, 64, 1, 0), 0);
	objs_init(o, 6);
	s.rearms = 0;
	o[3].deadline = 5;
	pm_timer_arm(&w, &o[3].timer, 5);
	s.now = 5000;
	assert_int_equal(pm_timer_wheel_advance(&w, 5000, scripted, &s), 4);
}

/* A callback re-arming itself for "now" fires once per tick, not forever. */
static void
again(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	int *n = arg;

	(*n)++;
	pm_timer_arm(w, t, 0);
}

static void
test_timer_rearm_for_now_in_callback_does_not_loop(void **state)
{
	struct pm_timer_link slots[8];
	struct pm_timer_wheel w;
	struct pm_timer t;
	int n = 0;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 1, 0), 0);
	pm_timer_init(&t);
	pm_timer_arm(&w, &t, 1);
	assert_int_equal(pm_timer_wheel_advance(&w, 1, again, &n), 1);
	assert_int_equal(pm_timer_wheel_advance(&w, 1, again, &n), 0);
	assert_int_equal(pm_timer_wheel_advance(&w, 4, again, &n), 3);
	assert_int_equal(n, 4);
	assert_true(pm_timer_cancel(&w, &t));
}

static void
nested(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	int *n = arg;

	(void)t;
	(*n)++;
	assert_int_equal(pm_timer_wheel_advance(w, 1000000, nested, arg), 0);
}

static void
test_timer_nested_advance_does_nothing(void **state)
{
	struct pm_timer_link slots[8];
	struct pm_timer_wheel w;
	struct pm_timer t[2];
	int n = 0;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 8, 1, 0), 0);
	pm_timer_init(&t[0]);
	pm_timer_init(&t[1]);
	pm_timer_arm(&w, &t[0], 2);
	pm_timer_arm(&w, &t[1], 100);
	assert_int_equal(pm_timer_wheel_advance(&w, 2, nested, &n), 1);
	assert_int_equal(n, 1);
	assert_true(pm_timer_armed(&t[1]));
	assert_int_equal(pm_timer_wheel_advance(&w, 100, nested, &n), 1);
}

/* now jumps forward by hours: everything due fires once, in expiry order,
 * and what is not due stays. Also cheap when nothing is armed. */
struct order {
	uint64_t last_due;
	uint64_t now;
	long fired;
	const struct pm_timer_wheel *w;
};

static void
in_order(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct order *ord = arg;
	struct obj *o = container_of(t, struct obj, timer);

	(void)w;
	assert_true(o->deadline <= ord->now);
	assert_true(o->expect_tick * ord->w->tick_ms >= ord->last_due);
	ord->last_due = o->expect_tick * ord->w->tick_ms;
	o->fired++;
	ord->fired++;
}

static void
test_timer_jump_by_hours_fires_all_due_in_order(void **state)
{
	uint32_t seed = pm_test_seed("timer hours", TEST_SEED ^ 1);
	enum { N = 5000 };
	static struct pm_timer_link slots[256];
	static struct obj o[N];
	struct pm_timer_wheel w;
	struct order ord = { 0, 0, 0, &w };
	const uint64_t hour = 3600u * 1000u, start = 7 * hour;
	long due = 0;
	int i;

	(void)state;
	assert_int_equal(pm_timer_wheel_init(&w, slots, 256, 10, start), 0);
	objs_init(o, N);
	for (i = 0; i < N; i++) {
		o[i].deadline = start + xorshift32(&seed) % (4 * hour);
		pm_timer_arm(&w, &o[i].timer, o[i].deadline);
		o[i].expect_tick = (o[i].deadline + 9) / 10;
		if (o[i].expect_tick <= start / 10)
			o[i].expect_tick = start / 10 + 1;
		assert_int_equal(pm_timer_due_ms(&w, &o[i].timer), o[i].expect_tick * 10);
		if (o[i].expect_tick * 10 <= start + 3 * hour)
			due++;
	}
	ord.now = start + 3 * hour;
	assert_int_equal(pm_timer_wheel_advance(&w, ord.now, in_order, &ord), (size_t)due);
	for (i = 0; i < N; i++) {
		assert_int_equal(o[i].fired, o[i].expect_tick * 10 <= ord.now);
		assert_int_equal(pm_timer_armed(&o[i].timer), o[i].expect_tick * 10 > ord.now);
	}
	assert_int_equal(pm_timer_wheel_count(&w), (size_t)(N - due));
	print_message("# %ld of %d fired in one 3-hour jump\n", due, N);
	/* The rest, another hour later, step by step across a revolution. */
	ord.now = start + 4 * hour;
	assert_int_equal(pm_timer_wheel_advance(&w, ord.now, in_order, &ord), (size_t)(N - due));
	assert_int_equal(pm_timer_wheel_count(&w), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(o[i].fired, 1);
	/* Empty wheel: a jump of 1000 hours is immediate. */
	assert_int_equal(pm_timer_wheel_advance(&w, start + 1000 * hour, in_order, &ord), 0);
}

/*
 * The random schedule against the reference model. Each step either arms
 * (or re-arms) a random timer, cancels one, or advances time by a small
 * step, a jump of a few revolutions, or hours. Callbacks randomly re-arm
 * themselves, arm or re-arm others, and cancel others. Checked:
 * - a timer fires only while armed in the model, exactly once per arming;
 * - never early: now_ms >= its deadline;
 * - in the first advance() whose now reaches its expected tick, i.e. at
 *   most one tick late when advance() runs every tick;
 * - within one call, in non-decreasing expiry tick;
 * - after each call no armed timer is overdue, and the counts agree.
 */
struct sim {
	struct pm_timer_wheel *w;
	struct obj *o;
	int n;
	uint32_t seed;
	uint64_t now;		/* this advance() call's now_ms */
	uint64_t prev_tick;	/* ticks up to this were processed before the call */
	uint64_t last_tick;	/* expiry tick of the last timer fired in this call */
	size_t armed;
	long fired, cb_arms, cb_cancels;
};

static uint64_t
ceil_tick(uint64_t ms, uint64_t tick)
{
	return ms / tick + (ms % tick != 0);
}

/* Arm @x for @deadline in the model and the wheel. @cb: from a callback,
 * where the wheel's current tick is not visible to the model: the expected
 * tick is then bounded, and taken from the wheel. */
static void
sim_arm(struct sim *s, struct obj *x, uint64_t deadline, bool cb)
{
	uint64_t tick = s->w->tick_ms, e = ceil_tick(deadline, tick);

	if (!x->armed)
		s->armed++;
	x->armed = true;
	x->deadline = deadline;
	pm_timer_arm(s->w, &x->timer, deadline);
	if (!cb) {
		if (e <= s->prev_tick)
			e = s->prev_tick + 1;
		assert_int_equal(pm_timer_due_ms(s->w, &x->timer), e * tick);
	} else {
		uint64_t got = pm_timer_due_ms(s->w, &x->timer) / tick;

		/* Not early; not after the next tick to be processed. */
		assert_true(got >= e);
		assert_true(got >= s->last_tick);
		assert_true(got <= (e > s->now / tick + 1 ? e : s->now / tick + 1));
		e = got;
	}
	x->expect_tick = e;
}

static void
sim_cancel(struct sim *s, struct obj *x)
{
	assert_int_equal(pm_timer_cancel(s->w, &x->timer), x->armed);
	if (x->armed)
		s->armed--;
	x->armed = false;
}

static uint64_t
sim_delay(struct sim *s)
{
	uint64_t rev = s->w->nslots * s->w->tick_ms;

	switch (xorshift32(&s->seed) % 8) {
	case 0:
		return 0;
	case 1:
		return xorshift32(&s->seed) % 3;
	case 2:
	case 3:
		return xorshift32(&s->seed) % rev;
	case 4:
	case 5:
		return xorshift32(&s->seed) % (4 * rev);
	case 6:
		return xorshift32(&s->seed) % (64 * rev);
	default:
		return xorshift32(&s->seed) % (3600u * 1000u);
	}
}

static void
sim_fire(struct pm_timer_wheel *w, struct pm_timer *t, void *arg)
{
	struct sim *s = arg;
	struct obj *x = container_of(t, struct obj, timer);
	uint64_t tick = w->tick_ms;
	int k, m;

	assert_true(x->armed);
	assert_false(pm_timer_armed(t));
	assert_true(s->now >= x->deadline);			/* never early */
	assert_true(x->expect_tick > s->prev_tick);		/* not before it was due */
	assert_true(x->expect_tick * tick <= s->now);		/* due in this call */
	assert_true(x->expect_tick >= s->last_tick);		/* in order */
	s->last_tick = x->expect_tick;
	x->armed = false;
	x->fired++;
	s->armed--;
	s->fired++;
	m = (int)(xorshift32(&s->seed) % 4);
	for (k = 0; k < m; k++) {
		struct obj *y = &s->o[xorshift32(&s->seed) % (uint32_t)s->n];

		switch (xorshift32(&s->seed) % 4) {
		case 0:	/* re-arm myself, possibly for a time already due */
			y = x;
			/* fall through */
		case 1:	/* arm or re-arm another */
			if (xorshift32(&s->seed) % 4 == 0)
				sim_arm(s, y, s->now - xorshift32(&s->seed) % (s->now + 1), true);
			else
				sim_arm(s, y, s->now + sim_delay(s), true);
			s->cb_arms++;
			break;
		default: /* cancel another (perhaps due in this very call) */
			sim_cancel(s, y);
			s->cb_cancels++;
			break;
		}
	}
}

static void
sim_run(uint32_t seed, uint32_t nslots, uint32_t tick_ms, int ntimers, int steps)
{
	struct pm_timer_link *slots = calloc(nslots, sizeof(*slots));
	struct obj *o = calloc((size_t)ntimers, sizeof(*o));
	struct pm_timer_wheel w;
	struct sim s = { &w, o, ntimers, seed, 0, 0, 0, 0, 0, 0, 0 };
	uint64_t now = 1000000;
	long advances = 0;
	int step, i;

	assert_non_null(slots);
	assert_non_null(o);
	objs_init(o, ntimers);
	assert_int_equal(pm_timer_wheel_init(&w, slots, nslots, tick_ms, now), 0);
	s.prev_tick = now / tick_ms;
	s.now = now;
	for (step = 0; step < steps; step++) {
		struct obj *x = &o[xorshift32(&s.seed) % (uint32_t)ntimers];
		uint32_t r = xorshift32(&s.seed) % 16;

		if (r < 7) {
			sim_arm(&s, x, now + sim_delay(&s), false);
		} else if (r < 8) {
			sim_arm(&s, x, now - xorshift32(&s.seed) % 100, false);
		} else if (r < 10) {
			sim_cancel(&s, x);
		} else {
			switch (xorshift32(&s.seed) % 16) {
			case 0:
				now += 3600u * 1000u * (1 + xorshift32(&s.seed) % 3);
				break;
			case 1:
			case 2:
				now += xorshift32(&s.seed) % (8 * nslots * tick_ms);
				break;
			default:
				now += xorshift32(&s.seed) % (2 * tick_ms + 1);
				break;
			}
			s.now = now;
			s.last_tick = 0;
			pm_timer_wheel_advance(&w, now, sim_fire, &s);
			advances++;
			s.prev_tick = now / tick_ms;
			/* Nothing overdue is left armed. */
			for (i = 0; i < ntimers; i++) {
				assert_int_equal(pm_timer_armed(&o[i].timer), o[i].armed);
				if (o[i].armed)
					assert_true(o[i].expect_tick > s.prev_tick);
			}
			assert_int_equal(pm_timer_wheel_count(&w), s.armed);
		}
	}
	print_message("# %u slots x %u ms: %d steps, %ld advances, %ld fired, "
		      "%ld armed and %ld cancelled by callbacks, %zu left\n",
		      nslots, tick_ms, steps, advances, s.fired, s.cb_arms, s.cb_cancels, s.armed);
	assert_true(s.fired > 0 && s.cb_arms > 0 && s.cb_cancels > 0);
	free(slots);
	free(o);
}

static void
test_timer_random_schedule_matches_reference(void **state)
{
	uint32_t seed = pm_test_seed("timer random", TEST_SEED);

	(void)state;
	sim_run(seed, 64, 1, 300, 40000);
	sim_run(xorshift32(&seed), 16, 10, 300, 40000);
	sim_run(xorshift32(&seed), 1, 1, 50, 10000);
	sim_run(xorshift32(&seed), 4096, 1, 2000, 20000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_init_rejects_bad_parameters),
		cmocka_unit_test(test_timer_fires_at_tick_boundary_never_early),
		cmocka_unit_test(test_timer_past_deadline_fires_next_tick),
		cmocka_unit_test(test_timer_cancel_and_rearm_outside_callbacks),
		cmocka_unit_test(test_timer_far_future_fires_once_on_time),
		cmocka_unit_test(test_timer_callbacks_may_cancel_and_rearm),
		cmocka_unit_test(test_timer_rearm_for_now_in_callback_does_not_loop),
		cmocka_unit_test(test_timer_nested_advance_does_nothing),
		cmocka_unit_test(test_timer_jump_by_hours_fires_all_due_in_order),
		cmocka_unit_test(test_timer_random_schedule_matches_reference),
	};

	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
