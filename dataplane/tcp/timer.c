/*
 * timer.c -- hashed timer wheel with rounds; the design is in timer.h.
 *
 * Invariants:
 * - an armed timer is on exactly one list: its slot (expire & mask), or the
 *   local "due" list of the advance() call that is about to fire it;
 * - every timer in the slots has expire > cur, except while advance() is
 *   processing tick cur and has not yet moved cur's due timers out;
 * - count is the number of armed timers, on either kind of list.
 * Arming always picks expire >= cur + 1, and advance() processes the ticks
 * in increasing order, so no timer is ever passed over.
 */
#include "tcp/timer.h"

#include <errno.h>

#define TIMER_SLOTS_MAX		(1u << 30)
#define TIMER_TICK_MS_MAX	60000u

static inline struct pm_timer *
timer_of(struct pm_timer_link *l)
{
	/* link is the first member of struct pm_timer */
	return (struct pm_timer *)(void *)l;
}

static inline void
list_init(struct pm_timer_link *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool
list_empty(const struct pm_timer_link *head)
{
	return head->next == head;
}

static inline void
list_append(struct pm_timer_link *head, struct pm_timer_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static inline void
list_unlink(struct pm_timer_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

int
pm_timer_wheel_init(struct pm_timer_wheel *w, struct pm_timer_link *slots, uint32_t nslots,
		    uint32_t tick_ms, uint64_t now_ms)
{
	uint32_t i;

	if (slots == NULL || nslots == 0 || nslots > TIMER_SLOTS_MAX ||
	    (nslots & (nslots - 1)) != 0 || tick_ms == 0 || tick_ms > TIMER_TICK_MS_MAX)
		return -EINVAL;
	for (i = 0; i < nslots; i++)
		list_init(&slots[i]);
	w->slots = slots;
	w->nslots = nslots;
	w->mask = nslots - 1;
	w->tick_ms = tick_ms;
	w->cur = now_ms / tick_ms;
	w->count = 0;
	w->running = false;
	return 0;
}

void
pm_timer_init(struct pm_timer *t)
{
	t->link.next = NULL;
	t->link.prev = NULL;
	t->expire = 0;
}

void
pm_timer_arm(struct pm_timer_wheel *w, struct pm_timer *t, uint64_t deadline_ms)
{
	/* ceil(deadline / tick) without overflow: never early. */
	uint64_t e = deadline_ms / w->tick_ms + (deadline_ms % w->tick_ms != 0);

	if (pm_timer_armed(t))
		list_unlink(&t->link);
	else
		w->count++;
	/* Ticks up to cur are processed (or being processed): the earliest
	 * tick still to come is cur + 1. */
	if (e <= w->cur)
		e = w->cur + 1;
	t->expire = e;
	list_append(&w->slots[e & w->mask], &t->link);
}

bool
pm_timer_cancel(struct pm_timer_wheel *w, struct pm_timer *t)
{
	if (!pm_timer_armed(t))
		return false;
	list_unlink(&t->link);
	t->link.next = NULL;
	t->link.prev = NULL;
	w->count--;
	return true;
}

uint64_t
pm_timer_due_ms(const struct pm_timer_wheel *w, const struct pm_timer *t)
{
	return t->expire * w->tick_ms;
}

size_t
pm_timer_wheel_count(const struct pm_timer_wheel *w)
{
	return w->count;
}

/* Move the timers of @slot that expire at or before @tick to the end of
 * @due, keeping their order. */
static void
collect(struct pm_timer_link *slot, uint64_t tick, struct pm_timer_link *due)
{
	struct pm_timer_link *l = slot->next, *next;

	while (l != slot) {
		next = l->next;
		if (timer_of(l)->expire <= tick) {
			list_unlink(l);
			list_append(due, l);
		}
		l = next;
	}
}

/* Fire every timer on @due, front to back. A callback may unlink any of
 * them (cancel or re-arm), so take the first one afresh each time. */
static size_t
fire(struct pm_timer_wheel *w, struct pm_timer_link *due, pm_timer_fn fn, void *arg)
{
	size_t n = 0;

	while (!list_empty(due)) {
		struct pm_timer *t = timer_of(due->next);

		list_unlink(&t->link);
		t->link.next = NULL;
		t->link.prev = NULL;
		w->count--;
		fn(w, t, arg);
		n++;
	}
	return n;
}

/* Stable merge sort, by expiry tick, of the @n-link list at @head linked
 * through next and ended by NULL. Recursion depth is log2(n) < 64. */
static struct pm_timer_link *
sort(struct pm_timer_link *head, size_t n)
{
	struct pm_timer_link *a, *b, *mid, *out = NULL, **tail = &out;
	size_t i, half;

	if (n < 2)
		return head;
	half = n / 2;
	mid = head;
	for (i = 1; i < half; i++)
		mid = mid->next;
	b = mid->next;
	mid->next = NULL;
	a = sort(head, half);
	b = sort(b, n - half);
	while (a != NULL && b != NULL) {
		/* Ties take from a: stable. */
		if (timer_of(b)->expire < timer_of(a)->expire) {
			*tail = b;
			b = b->next;
		} else {
			*tail = a;
			a = a->next;
		}
		tail = &(*tail)->next;
	}
	*tail = a != NULL ? a : b;
	return out;
}

/* Sort the circular list @due in place. */
static void
sort_due(struct pm_timer_link *due)
{
	struct pm_timer_link *l, *first;
	size_t n = 0;

	if (list_empty(due))
		return;
	for (l = due->next; l != due; l = l->next)
		n++;
	due->prev->next = NULL;
	first = sort(due->next, n);
	list_init(due);
	while (first != NULL) {
		l = first;
		first = first->next;
		list_append(due, l);
	}
}

size_t
pm_timer_wheel_advance(struct pm_timer_wheel *w, uint64_t now_ms, pm_timer_fn fn, void *arg)
{
	uint64_t now = now_ms / w->tick_ms, i;
	struct pm_timer_link due;
	size_t fired = 0;

	if (w->running)
		return 0;
	w->running = true;
	list_init(&due);
	if (now > w->cur && now - w->cur > w->nslots && w->count > 0) {
		/* More than one revolution behind: fire everything due up to
		 * one revolution before now in one sorted batch. The timers
		 * the batch's callbacks arm expire after target and are left
		 * to the walk below. */
		uint64_t target = now - w->nslots;

		for (i = 0; i < w->nslots; i++)
			collect(&w->slots[i], target, &due);
		sort_due(&due);
		w->cur = target;
		fired += fire(w, &due, fn, arg);
	}
	while (w->cur < now) {
		if (w->count == 0) {
			w->cur = now;
			break;
		}
		/* cur is advanced before the callbacks run, so that what they
		 * arm lands at cur + 1 or later. */
		w->cur++;
		collect(&w->slots[w->cur & w->mask], w->cur, &due);
		fired += fire(w, &due, fn, arg);
	}
	w->running = false;
	return fired;
}
