/*
 * timer.h -- a per-lcore hashed timer wheel for connection timers
 * (retransmission, idle and keepalive, login timeout; DESIGN.md "Data plane
 * flow" 3 and 8).
 *
 * Owner: one worker lcore owns one wheel; nothing is shared, so there are no
 * atomics and no locks. The caller provides the slot array (nslots entries
 * of struct pm_timer_link) and embeds a struct pm_timer in each object that
 * needs a timer (intrusive: the wheel never allocates, and a callback finds
 * its object with container_of()). The wheel only links and unlinks timers;
 * it never frees anything. Threads: the owning lcore only. Pure: no DPDK, no
 * clock (time is the @now_ms / @deadline_ms argument, a monotonic
 * millisecond count), no allocation, no logging.
 *
 * Time is cut into ticks of tick_ms. A timer armed for deadline D expires at
 * tick e = ceil(D / tick_ms), or at the next tick to be processed if that is
 * already past, and fires in the first pm_timer_wheel_advance() whose
 * now_ms reaches e * tick_ms. So a timer never fires early (now_ms >= D),
 * and when advance() runs at least once per tick it fires less than one
 * tick late. Within one advance() call timers fire in order of expiry
 * tick; timers of the same tick fire in the order they were armed.
 *
 * Structure: slot = e mod nslots, each slot a circular doubly linked list,
 * so arm and cancel are O(1). A timer more than one revolution (nslots
 * ticks) away waits in its slot and is skipped, by comparing its stored
 * tick, on the revolutions before its own (the "hashed wheel with rounds";
 * Varghese and Lauck's scheme 6). advance() visits each tick between the
 * last one processed and now, one slot per tick, and jumps straight to now
 * when no timer is armed. If now is more than one revolution ahead (a
 * stalled loop, a first call after hours), everything due before the last
 * revolution is collected in one pass over all slots, sorted by expiry
 * tick (a stable merge sort of the linked list, no memory), and fired;
 * then the last revolution is walked tick by tick. The cost of a call is
 * therefore O(min(elapsed ticks, nslots) + timers in the visited slots),
 * plus O(nslots + armed + k log k) for such a jump that fires k timers.
 * Choose nslots * tick_ms above the common timeouts: with timers far beyond
 * one revolution (a 30-minute idle timeout on a 4-second wheel) each slot
 * visit also steps over those waiting for a later round.
 *
 * Callbacks run synchronously inside advance(). A callback may arm, re-arm
 * or cancel any timer of the wheel, including the one firing (which is
 * already disarmed when its callback starts) and others due in the same
 * call: a cancelled timer does not fire, a re-armed one fires at its new
 * deadline. A timer armed from a callback for a deadline that is already
 * due fires in the same call if the wheel is still catching up, else in
 * the next (so a callback that keeps re-arming itself for "now" cannot loop
 * forever). A callback must not call advance() on the same wheel (the
 * inner call returns 0 and does nothing) and must not free an object whose
 * timer is armed: cancel it first.
 */
#ifndef PM_TIMER_H
#define PM_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A list link, for the slot array and inside struct pm_timer. Private. */
struct pm_timer_link {
	struct pm_timer_link *next;
	struct pm_timer_link *prev;
};

/* A timer, embedded in the caller's object. Initialise with
 * pm_timer_init(); all fields are private. 24 bytes. */
struct pm_timer {
	struct pm_timer_link link;	/* next == NULL when not armed */
	uint64_t expire;		/* expiry tick while armed */
};

/* The wheel. Initialise with pm_timer_wheel_init(); all fields are private. */
struct pm_timer_wheel {
	struct pm_timer_link *slots;
	uint64_t mask;		/* nslots - 1 */
	uint64_t nslots;
	uint64_t tick_ms;
	uint64_t cur;		/* the last tick processed */
	size_t count;		/* armed timers */
	bool running;		/* inside advance() */
};

/*
 * Called by advance() for each expired timer @t, which is no longer armed.
 * @arg is advance()'s argument.
 */
typedef void (*pm_timer_fn)(struct pm_timer_wheel *w, struct pm_timer *t, void *arg);

/*
 * Set up @w over the caller's @slots array of @nslots entries (a power of
 * two, 1 .. 2^30) with ticks of @tick_ms (1 .. 60000) milliseconds, at time
 * @now_ms: ticks up to now_ms / tick_ms count as processed. Returns 0 or
 * -EINVAL. The wheel and the slots must not move while the wheel is in use.
 * Does not allocate.
 */
int pm_timer_wheel_init(struct pm_timer_wheel *w, struct pm_timer_link *slots,
			uint32_t nslots, uint32_t tick_ms, uint64_t now_ms);

/* Mark @t as not armed. Call once before its first use. Cannot fail. */
void pm_timer_init(struct pm_timer *t);

/* True if @t is armed (waiting, or due and about to fire in this call). */
static inline bool
pm_timer_armed(const struct pm_timer *t)
{
	return t->link.next != NULL;
}

/*
 * Arm @t to fire at @deadline_ms (absolute, in the @now_ms clock), or move
 * it there if it is already armed. O(1); cannot fail; does not allocate.
 */
void pm_timer_arm(struct pm_timer_wheel *w, struct pm_timer *t, uint64_t deadline_ms);

/*
 * Disarm @t. Returns true if it was armed (it will not fire), false if it
 * was not (nothing happens). O(1).
 */
bool pm_timer_cancel(struct pm_timer_wheel *w, struct pm_timer *t);

/*
 * The time at which the armed timer @t fires: the smallest now_ms for which
 * advance() fires it (its expiry tick times tick_ms; never before its
 * deadline). Meaningless if @t is not armed.
 */
uint64_t pm_timer_due_ms(const struct pm_timer_wheel *w, const struct pm_timer *t);

/* The number of armed timers. */
size_t pm_timer_wheel_count(const struct pm_timer_wheel *w);

/*
 * Process every tick up to @now_ms / tick_ms: fire each expired timer
 * through @fn(w, timer, @arg), in expiry order (see above). @now_ms below
 * the last value passed does nothing. Returns the number of timers fired
 * (0 when called from one of its own callbacks). Does not allocate.
 */
size_t pm_timer_wheel_advance(struct pm_timer_wheel *w, uint64_t now_ms, pm_timer_fn fn,
			      void *arg);

#endif
