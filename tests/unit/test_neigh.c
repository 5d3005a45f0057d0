/*
 * test_neigh.c -- the neighbour (ARP) table (net/neigh.h): the state machine
 * step by step with fake callbacks that record every call, the open-addressing
 * index under many deletions, and a randomized run against a reference model
 * (a plain array searched linearly). The random cases print their seed; set
 * PM_SEED to replay another run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/neigh.h"
#include "testaddr.h"
#include "testrand.h"

#define TEST_SEED 0x4e31a7c5u
#define EV_MAX (1u << 16)

/* ---- fake callbacks: one ordered log of what the table asked for ---- */

enum ev_type { EV_PROBE = 1, EV_SEND, EV_DROP };

struct ev {
	int type;
	uint16_t port;		/* PROBE, SEND */
	struct pm_addr addr;	/* PROBE */
	bool unicast;		/* PROBE: a MAC was given */
	uint8_t mac[6];		/* PROBE (unicast), SEND */
	uintptr_t pkt;		/* SEND, DROP */
	uint32_t seq;		/* position in the log, for stable sorting */
};

struct evlog {
	struct ev *ev;
	size_t n;
};

static struct ev *
ev_add(struct evlog *l, int type)
{
	struct ev *e;

	if (l->n == EV_MAX)
		fail_msg("event log full");
	e = &l->ev[l->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->seq = (uint32_t)l->n++;
	return e;
}

static void
fake_probe(void *arg, uint16_t port, const struct pm_addr *addr, const uint8_t *mac)
{
	struct ev *e = ev_add(arg, EV_PROBE);

	e->port = port;
	e->addr = *addr;
	e->unicast = mac != NULL;
	if (mac != NULL)
		memcpy(e->mac, mac, 6);
}

static void
fake_send(void *arg, void *pkt, uint16_t port, const uint8_t mac[6])
{
	struct ev *e = ev_add(arg, EV_SEND);

	e->pkt = (uintptr_t)pkt;
	e->port = port;
	memcpy(e->mac, mac, 6);
}

static void
fake_drop(void *arg, void *pkt)
{
	ev_add(arg, EV_DROP)->pkt = (uintptr_t)pkt;
}

static const struct pm_neigh_ops fake_ops = { fake_probe, fake_send, fake_drop };

/* ---- fixture ---- */

struct fx {
	struct pm_neigh *t;
	struct evlog log;
};

static struct fx *F;

static struct pm_neigh *
table(const struct pm_neigh_params *p)
{
	size_t size = pm_neigh_memsize(p);

	assert_true(size > 0);
	free(F->t);
	F->t = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(F->t);
	assert_int_equal(pm_neigh_init(F->t, size, p, &fake_ops, &F->log), 0);
	F->log.n = 0;
	return F->t;
}

static struct pm_neigh *
table_defaults(void)
{
	struct pm_neigh_params p;

	pm_neigh_params_defaults(&p);
	p.seed = 0x5eed;
	return table(&p);
}

static int
setup(void **state)
{
	(void)state;
	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	F->log.ev = calloc(EV_MAX, sizeof(struct ev));
	assert_non_null(F->log.ev);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(F->t);
	free(F->log.ev);
	free(F);
	F = NULL;
	return 0;
}

#define PKT(n) ((void *)(uintptr_t)(n))

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xbb };

static struct pm_addr
v4(uint32_t host)
{
	struct pm_addr a;

	memset(&a, 0, sizeof(a));
	a.family = PM_AF_INET;
	a.bytes[0] = (uint8_t)(host >> 24);
	a.bytes[1] = (uint8_t)(host >> 16);
	a.bytes[2] = (uint8_t)(host >> 8);
	a.bytes[3] = (uint8_t)host;
	return a;
}

static void
assert_probe(const struct ev *e, uint16_t port, const char *addr, const uint8_t *mac)
{
	struct pm_addr a = ip(addr);

	assert_int_equal(e->type, EV_PROBE);
	assert_int_equal(e->port, port);
	assert_true(pm_addr_eq(&e->addr, &a));
	assert_int_equal(e->unicast, mac != NULL);
	if (mac != NULL)
		assert_memory_equal(e->mac, mac, 6);
}

/* The state of (port, addr) as pm_neigh_dump() shows it, or 0 if absent. */
static int
state_of(uint16_t port, const char *addr, uint64_t now, struct pm_neigh_info *out)
{
	static struct pm_neigh_info info[1024];
	struct pm_addr a = ip(addr);
	size_t n = pm_neigh_dump(F->t, info, 1024, now), i;

	assert_true(n <= 1024);
	for (i = 0; i < n; i++) {
		if (info[i].port == port && pm_addr_eq(&info[i].addr, &a)) {
			if (out != NULL)
				*out = info[i];
			return info[i].state;
		}
	}
	return 0;
}

static enum pm_neigh_rc
resolve(uint16_t port, const char *addr, uintptr_t pkt, uint64_t now, uint8_t *mac)
{
	struct pm_addr a = ip(addr);

	return pm_neigh_resolve(F->t, port, &a, PKT(pkt), now, mac);
}

static int
learn(uint16_t port, const char *addr, const uint8_t *mac, bool create, uint64_t now)
{
	struct pm_addr a = ip(addr);

	return pm_neigh_learn(F->t, port, &a, mac, create, now);
}

/* ---- parameters ---- */

static void
test_neigh_params_invalid_are_rejected(void **state)
{
	struct pm_neigh_params d, p;
	struct pm_neigh_ops ops = fake_ops;
	struct pm_neigh *t;
	size_t size, i;

	(void)state;
	pm_neigh_params_defaults(&d);
	assert_int_equal(d.capacity, 1024);
	assert_int_equal(d.qlen, 16);
	assert_int_equal(d.reachable_ms, 30000);
	assert_int_equal(d.retrans_ms, 1000);
	assert_int_equal(d.probes, 3);
	assert_int_equal(d.failed_ms, 3000);
	assert_int_equal(d.gc_ms, 600000);
	size = pm_neigh_memsize(&d);
	assert_true(size >= sizeof(struct pm_neigh) + 1024 * (8 + 16 * sizeof(void *)));
	t = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(t);

	for (i = 0; i < 17; i++) {
		p = d;
		switch (i) {
		case 0: p.capacity = 0; break;
		case 1: p.capacity = 4; break;
		case 2: p.capacity = 12; break;
		case 3: p.capacity = PM_NEIGH_CAPACITY_MAX * 2; break;
		case 4: p.qlen = 0; break;
		case 5: p.qlen = 65; break;
		case 6: p.probes = 0; break;
		case 7: p.probes = 17; break;
		case 8: p.reachable_ms = 0; break;
		case 9: p.retrans_ms = 0; break;
		case 10: p.failed_ms = 0; break;
		case 11: p.gc_ms = 0; break;
		case 12: p.gc_ms = PM_NEIGH_TIME_MAX + 1; break;
		case 13: p.capacity = 1025; break;
		case 14: p.capacity = 0x80000000u; break;
		case 15: p.reachable_ms = UINT64_MAX; break;
		case 16: p.retrans_ms = PM_NEIGH_TIME_MAX + 1; break;
		}
		if (pm_neigh_memsize(&p) != 0)
			fail_msg("case %zu: memsize accepted bad params", i);
		if (pm_neigh_init(t, size, &p, &ops, NULL) != -EINVAL)
			fail_msg("case %zu: init accepted bad params", i);
	}
	/* Every callback is required. */
	ops.drop = NULL;
	assert_int_equal(pm_neigh_init(t, size, &d, &ops, NULL), -EINVAL);
	ops = fake_ops;
	ops.probe = NULL;
	assert_int_equal(pm_neigh_init(t, size, &d, &ops, NULL), -EINVAL);
	/* Size: one byte short is -ENOSPC, exact is fine. */
	assert_int_equal(pm_neigh_init(t, size - 1, &d, &fake_ops, NULL), -ENOSPC);
	assert_int_equal(pm_neigh_init(t, size, &d, &fake_ops, NULL), 0);
	assert_int_equal(pm_neigh_count(t), 0);
	/* The limits themselves are valid. */
	p = d;
	p.capacity = PM_NEIGH_CAPACITY_MIN;
	p.qlen = PM_NEIGH_QLEN_MAX;
	p.probes = PM_NEIGH_PROBES_MAX;
	p.gc_ms = PM_NEIGH_TIME_MAX;
	p.retrans_ms = 1;
	assert_true(pm_neigh_memsize(&p) > 0);
	p.capacity = PM_NEIGH_CAPACITY_MAX;
	p.qlen = 1;
	assert_true(pm_neigh_memsize(&p) > 0);
	free(t);
}

/* ---- the state machine, step by step ---- */

static void
test_neigh_resolve_miss_probes_and_holds(void **state)
{
	struct pm_neigh *t = table_defaults();
	struct pm_neigh_info info;

	(void)state;
	assert_int_equal(resolve(0, "10.0.0.2", 1, 1000, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 1);
	assert_probe(&F->log.ev[0], 0, "10.0.0.2", NULL);
	/* More packets and a pre-resolution join the same entry: no new probe. */
	assert_int_equal(resolve(0, "10.0.0.2", 2, 1100, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(0, "10.0.0.2", 0, 1200, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 1);
	assert_int_equal(state_of(0, "10.0.0.2", 1300, &info), PM_NEIGH_INCOMPLETE);
	assert_int_equal(info.held, 2);
	assert_int_equal(info.probes_sent, 1);
	assert_int_equal(info.age_ms, 300);
	assert_int_equal(t->stats.probes, 1);
	assert_int_equal(t->stats.held, 2);
	assert_int_equal(pm_neigh_count(t), 1);
	/* A NULL packet on a missing entry starts a resolution too. */
	assert_int_equal(resolve(0, "10.0.0.3", 0, 1400, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 2);
	assert_probe(&F->log.ev[1], 0, "10.0.0.3", NULL);
	assert_int_equal(t->stats.held, 2);
}

static void
test_neigh_learn_releases_held_in_order(void **state)
{
	struct pm_neigh *t = table_defaults();
	uint8_t mac[6];
	uintptr_t k;

	(void)state;
	for (k = 1; k <= 5; k++)
		assert_int_equal(resolve(3, "10.0.0.2", k, 1000 + k, NULL), PM_NEIGH_HELD);
	F->log.n = 0;
	assert_int_equal(learn(3, "10.0.0.2", mac_a, false, 1500), 0);
	assert_int_equal(F->log.n, 5);
	for (k = 0; k < 5; k++) {
		assert_int_equal(F->log.ev[k].type, EV_SEND);
		assert_int_equal(F->log.ev[k].pkt, k + 1);
		assert_int_equal(F->log.ev[k].port, 3);
		assert_memory_equal(F->log.ev[k].mac, mac_a, 6);
	}
	assert_int_equal(t->stats.resolved, 1);
	assert_int_equal(t->stats.released, 5);
	assert_int_equal(t->stats.learned, 1);
	assert_int_equal(state_of(3, "10.0.0.2", 1500, NULL), PM_NEIGH_REACHABLE);
	/* Now packets go at once, and nothing else happens. */
	F->log.n = 0;
	memset(mac, 0, 6);
	assert_int_equal(resolve(3, "10.0.0.2", 6, 1600, mac), PM_NEIGH_SEND);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(resolve(3, "10.0.0.2", 0, 1600, NULL), PM_NEIGH_SEND);
	assert_int_equal(F->log.n, 0);
	/* A later learn of the same entry releases nothing more. */
	assert_int_equal(learn(3, "10.0.0.2", mac_b, false, 1700), 0);
	assert_int_equal(F->log.n, 0);
	assert_int_equal(resolve(3, "10.0.0.2", 7, 1800, mac), PM_NEIGH_SEND);
	assert_memory_equal(mac, mac_b, 6);
}

static void
test_neigh_queue_over_qlen_is_qfull(void **state)
{
	struct pm_neigh_params p;
	struct pm_neigh *t;
	uintptr_t k;

	(void)state;
	pm_neigh_params_defaults(&p);
	p.qlen = 4;
	t = table(&p);
	for (k = 1; k <= 4; k++)
		assert_int_equal(resolve(0, "10.0.0.2", k, 10, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(0, "10.0.0.2", 5, 10, NULL), PM_NEIGH_QFULL);
	assert_int_equal(resolve(0, "10.0.0.2", 6, 10, NULL), PM_NEIGH_QFULL);
	/* A pre-resolution is not a packet: never QFULL. */
	assert_int_equal(resolve(0, "10.0.0.2", 0, 10, NULL), PM_NEIGH_HELD);
	assert_int_equal(t->stats.qfull, 2);
	assert_int_equal(t->stats.held, 4);
	F->log.n = 0;
	assert_int_equal(learn(0, "10.0.0.2", mac_a, true, 20), 0);
	assert_int_equal(F->log.n, 4);
	for (k = 0; k < 4; k++)
		assert_int_equal(F->log.ev[k].pkt, k + 1);
}

static void
test_neigh_probes_exhausted_fail_drop_held_and_refuse(void **state)
{
	struct pm_neigh *t = table_defaults();	/* retrans 1 s, 3 probes, failed 3 s */
	struct pm_neigh_info info;

	(void)state;
	assert_int_equal(resolve(0, "10.0.0.9", 1, 1000, NULL), PM_NEIGH_HELD);
	assert_int_equal(pm_neigh_tick(t, 1999), 2000);
	assert_int_equal(F->log.n, 1);
	assert_int_equal(pm_neigh_tick(t, 2000), 3000);
	assert_int_equal(F->log.n, 2);
	assert_probe(&F->log.ev[1], 0, "10.0.0.9", NULL);
	assert_int_equal(resolve(0, "10.0.0.9", 2, 2500, NULL), PM_NEIGH_HELD);
	assert_int_equal(pm_neigh_tick(t, 3000), 4000);
	assert_int_equal(F->log.n, 3);
	assert_probe(&F->log.ev[2], 0, "10.0.0.9", NULL);
	assert_int_equal(state_of(0, "10.0.0.9", 3000, &info), PM_NEIGH_INCOMPLETE);
	assert_int_equal(info.probes_sent, 3);
	/* The third probe's retrans time passes: FAILED, held packets dropped
	 * in order, no further probe. */
	assert_int_equal(pm_neigh_tick(t, 3999), 4000);
	assert_int_equal(F->log.n, 3);
	assert_int_equal(pm_neigh_tick(t, 4000), 7000);
	assert_int_equal(F->log.n, 5);
	assert_int_equal(F->log.ev[3].type, EV_DROP);
	assert_int_equal(F->log.ev[3].pkt, 1);
	assert_int_equal(F->log.ev[4].type, EV_DROP);
	assert_int_equal(F->log.ev[4].pkt, 2);
	assert_int_equal(t->stats.failed, 1);
	assert_int_equal(t->stats.dropped, 2);
	assert_int_equal(state_of(0, "10.0.0.9", 4000, &info), PM_NEIGH_FAILED);
	assert_int_equal(info.held, 0);
	/* Refused until failed_ms has passed, packet or not. */
	assert_int_equal(resolve(0, "10.0.0.9", 3, 4001, NULL), PM_NEIGH_UNREACH);
	assert_int_equal(resolve(0, "10.0.0.9", 0, 6999, NULL), PM_NEIGH_UNREACH);
	assert_int_equal(t->stats.unreach, 2);
	assert_int_equal(F->log.n, 5);
	/* Then a new resolution, even before tick() freed the entry. */
	assert_int_equal(resolve(0, "10.0.0.9", 4, 7000, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 6);
	assert_probe(&F->log.ev[5], 0, "10.0.0.9", NULL);
	assert_int_equal(state_of(0, "10.0.0.9", 7000, &info), PM_NEIGH_INCOMPLETE);
	assert_int_equal(info.probes_sent, 1);
	assert_int_equal(info.held, 1);
	assert_int_equal(pm_neigh_count(t), 1);
}

static void
test_neigh_failed_entry_is_freed_by_tick(void **state)
{
	struct pm_neigh_params p;
	struct pm_neigh *t;

	(void)state;
	pm_neigh_params_defaults(&p);
	p.probes = 1;
	t = table(&p);
	assert_int_equal(resolve(1, "10.0.0.9", 1, 0, NULL), PM_NEIGH_HELD);
	/* One late tick runs every step: FAILED at 1000, freed at 4000. */
	assert_int_equal(pm_neigh_tick(t, 10000), UINT64_MAX);
	assert_int_equal(F->log.n, 2);
	assert_int_equal(F->log.ev[1].type, EV_DROP);
	assert_int_equal(pm_neigh_count(t), 0);
	assert_int_equal(t->stats.failed, 1);
}

static void
test_neigh_stale_use_probes_unicast_and_answer_confirms(void **state)
{
	struct pm_neigh *t = table_defaults();	/* reachable 30 s, retrans 1 s */
	struct pm_neigh_info info;
	uint8_t mac[6];

	(void)state;
	assert_int_equal(learn(0, "10.0.0.5", mac_a, true, 0), 0);
	assert_int_equal(pm_neigh_count(t), 1);
	assert_int_equal(pm_neigh_tick(t, 0), 30000);
	assert_int_equal(resolve(0, "10.0.0.5", 1, 29999, mac), PM_NEIGH_SEND);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(pm_neigh_tick(t, 30000), 630000);	/* STALE, gc at 630 s */
	assert_int_equal(F->log.n, 0);
	assert_int_equal(state_of(0, "10.0.0.5", 30000, &info), PM_NEIGH_STALE);
	assert_int_equal(info.age_ms, 30000);
	/* First use: the packet goes at once with the known MAC, and a unicast
	 * probe checks the neighbour. */
	memset(mac, 0, 6);
	assert_int_equal(resolve(0, "10.0.0.5", 2, 30500, mac), PM_NEIGH_SEND);
	assert_memory_equal(mac, mac_a, 6);
	assert_int_equal(F->log.n, 1);
	assert_probe(&F->log.ev[0], 0, "10.0.0.5", mac_a);
	assert_int_equal(state_of(0, "10.0.0.5", 30500, NULL), PM_NEIGH_PROBE);
	/* Further uses send, without more probes. */
	assert_int_equal(resolve(0, "10.0.0.5", 3, 30600, mac), PM_NEIGH_SEND);
	assert_int_equal(F->log.n, 1);
	assert_int_equal(pm_neigh_tick(t, 31499), 31500);
	assert_int_equal(pm_neigh_tick(t, 31500), 32500);
	assert_int_equal(F->log.n, 2);
	assert_probe(&F->log.ev[1], 0, "10.0.0.5", mac_a);
	/* The answer: REACHABLE again, no more probes. */
	assert_int_equal(learn(0, "10.0.0.5", mac_a, false, 31600), 0);
	assert_int_equal(state_of(0, "10.0.0.5", 31600, &info), PM_NEIGH_REACHABLE);
	assert_int_equal(info.age_ms, 0);
	assert_int_equal(info.probes_sent, 0);
	assert_int_equal(pm_neigh_tick(t, 40000), 61600);
	assert_int_equal(F->log.n, 2);
	assert_int_equal(resolve(0, "10.0.0.5", 4, 40000, mac), PM_NEIGH_SEND);
	assert_int_equal(F->log.n, 2);
	assert_int_equal(t->stats.resolved, 0);	/* never was INCOMPLETE */
	assert_int_equal(t->stats.learned, 2);
}

/* Without any tick(), an expired REACHABLE entry acts as STALE on its
 * next use; a NULL packet counts as a use. */
static void
test_neigh_expired_reachable_without_tick_probes_on_use(void **state)
{
	struct pm_neigh *t = table_defaults();
	struct pm_neigh_info info;

	(void)state;
	assert_int_equal(learn(2, "10.0.0.5", mac_b, true, 100), 0);
	/* dump() already shows it as STALE. */
	assert_int_equal(state_of(2, "10.0.0.5", 30100, &info), PM_NEIGH_STALE);
	assert_int_equal(resolve(2, "10.0.0.5", 0, 30100, NULL), PM_NEIGH_SEND);
	assert_int_equal(F->log.n, 1);
	assert_probe(&F->log.ev[0], 2, "10.0.0.5", mac_b);
	assert_int_equal(state_of(2, "10.0.0.5", 30100, NULL), PM_NEIGH_PROBE);
	assert_int_equal(t->stats.probes, 1);
}

static void
test_neigh_unanswered_probe_frees_entry(void **state)
{
	struct pm_neigh *t = table_defaults();

	(void)state;
	assert_int_equal(learn(0, "10.0.0.5", mac_a, true, 0), 0);
	assert_int_equal(resolve(0, "10.0.0.5", 1, 30000, NULL), PM_NEIGH_SEND);
	assert_int_equal(pm_neigh_tick(t, 31000), 32000);
	assert_int_equal(pm_neigh_tick(t, 32000), 33000);
	assert_int_equal(F->log.n, 3);
	assert_probe(&F->log.ev[2], 0, "10.0.0.5", mac_a);
	/* Packets still go while probing. */
	assert_int_equal(resolve(0, "10.0.0.5", 2, 32999, NULL), PM_NEIGH_SEND);
	/* The third probe is unanswered: the entry goes, quietly. */
	assert_int_equal(pm_neigh_tick(t, 33000), UINT64_MAX);
	assert_int_equal(F->log.n, 3);
	assert_int_equal(pm_neigh_count(t), 0);
	/* The next use starts INCOMPLETE again, with a broadcast probe. */
	assert_int_equal(resolve(0, "10.0.0.5", 3, 33001, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 4);
	assert_probe(&F->log.ev[3], 0, "10.0.0.5", NULL);
	assert_int_equal(state_of(0, "10.0.0.5", 33001, NULL), PM_NEIGH_INCOMPLETE);
}

static void
test_neigh_stale_unused_is_garbage_collected(void **state)
{
	struct pm_neigh *t = table_defaults();	/* gc 600 s */

	(void)state;
	assert_int_equal(learn(0, "10.0.0.5", mac_a, true, 0), 0);
	assert_int_equal(pm_neigh_tick(t, 629999), 630000);
	assert_int_equal(pm_neigh_count(t), 1);
	assert_int_equal(pm_neigh_tick(t, 630000), UINT64_MAX);
	assert_int_equal(pm_neigh_count(t), 0);
	assert_int_equal(F->log.n, 0);
}

static void
test_neigh_learn_without_create_does_not_create(void **state)
{
	struct pm_neigh *t = table_defaults();

	(void)state;
	assert_int_equal(learn(0, "10.0.0.7", mac_a, false, 0), 0);
	assert_int_equal(pm_neigh_count(t), 0);
	assert_int_equal(t->stats.learned, 0);
	assert_int_equal(state_of(0, "10.0.0.7", 0, NULL), 0);
	assert_int_equal(learn(0, "10.0.0.7", mac_a, true, 0), 0);
	assert_int_equal(pm_neigh_count(t), 1);
	assert_int_equal(t->stats.learned, 1);
	assert_int_equal(state_of(0, "10.0.0.7", 0, NULL), PM_NEIGH_REACHABLE);
	assert_int_equal(F->log.n, 0);
}

static void
test_neigh_broadcast_multicast_zero_mac_are_refused(void **state)
{
	static const uint8_t bad[][6] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
		{ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 },
		{ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 },
	};
	struct pm_neigh *t = table_defaults();
	size_t i;

	(void)state;
	assert_int_equal(resolve(0, "10.0.0.7", 1, 0, NULL), PM_NEIGH_HELD);
	F->log.n = 0;
	for (i = 0; i < 4; i++) {
		assert_int_equal(learn(0, "10.0.0.7", bad[i], true, 10), -EINVAL);
		assert_int_equal(learn(0, "10.0.0.8", bad[i], true, 10), -EINVAL);
	}
	/* Nothing learned, nothing released, nothing created. */
	assert_int_equal(F->log.n, 0);
	assert_int_equal(pm_neigh_count(t), 1);
	assert_int_equal(state_of(0, "10.0.0.7", 10, NULL), PM_NEIGH_INCOMPLETE);
	assert_int_equal(t->stats.learned, 0);
	/* A locally administered unicast MAC (0x02) is fine. */
	assert_int_equal(learn(0, "10.0.0.7", mac_a, false, 10), 0);
	assert_int_equal(F->log.n, 1);
}

static void
test_neigh_non_ipv4_is_refused(void **state)
{
	struct pm_neigh *t = table_defaults();
	struct pm_addr a6 = ip("2001:db8::1"), none;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(pm_neigh_resolve(t, 0, &a6, PKT(1), 0, NULL), PM_NEIGH_UNREACH);
	assert_int_equal(pm_neigh_resolve(t, 0, &none, NULL, 0, NULL), PM_NEIGH_UNREACH);
	assert_int_equal(pm_neigh_learn(t, 0, &a6, mac_a, true, 0), -EAFNOSUPPORT);
	assert_int_equal(pm_neigh_learn(t, 0, &none, mac_a, true, 0), -EAFNOSUPPORT);
	assert_int_equal(pm_neigh_count(t), 0);
	assert_int_equal(F->log.n, 0);
	assert_int_equal(t->stats.unreach, 2);
}

static void
test_neigh_table_full_is_tfull_and_learn_enospc(void **state)
{
	struct pm_neigh_params p;
	struct pm_neigh *t;
	uint64_t now;
	char a[32];
	int i;

	(void)state;
	pm_neigh_params_defaults(&p);
	p.capacity = 8;
	t = table(&p);
	/* Learning stops at capacity - capacity / 8 = 7 entries ... */
	for (i = 0; i < 7; i++) {
		snprintf(a, sizeof(a), "10.0.0.%d", i + 1);
		assert_int_equal(learn(0, a, mac_a, true, 0), 0);
	}
	assert_int_equal(learn(0, "10.0.1.1", mac_a, true, 0), -ENOSPC);
	assert_int_equal(pm_neigh_count(t), 7);
	/* ... but updates still work, and resolve() may use the reserve. */
	assert_int_equal(learn(0, "10.0.0.1", mac_b, true, 1), 0);
	assert_int_equal(learn(0, "10.0.0.2", mac_b, false, 1), 0);
	assert_int_equal(resolve(0, "10.0.1.2", 1, 2, NULL), PM_NEIGH_HELD);
	assert_int_equal(pm_neigh_count(t), 8);
	F->log.n = 0;
	assert_int_equal(resolve(0, "10.0.1.3", 2, 3, NULL), PM_NEIGH_TFULL);
	assert_int_equal(resolve(0, "10.0.1.3", 0, 3, NULL), PM_NEIGH_TFULL);
	assert_int_equal(t->stats.tfull, 2);
	assert_int_equal(F->log.n, 0);	/* no probe for an entry that does not exist */
	assert_int_equal(learn(0, "10.0.1.4", mac_a, true, 3), -ENOSPC);
	/* Existing entries keep working. */
	assert_int_equal(resolve(0, "10.0.0.3", 3, 4, NULL), PM_NEIGH_SEND);
	/* Once the learned entries expire (reachable + gc), there is room; the
	 * worker ticks every 100 ms. */
	for (now = 100; now <= 700000; now += 100)
		pm_neigh_tick(t, now);
	assert_int_equal(pm_neigh_count(t), 0);	/* 10.0.1.2 failed and went too */
	assert_int_equal(t->stats.failed, 1);
	assert_int_equal(t->stats.dropped, 1);
	assert_int_equal(resolve(0, "10.0.1.3", 4, 700001, NULL), PM_NEIGH_HELD);
}

static void
test_neigh_same_addr_on_two_ports_is_two_entries(void **state)
{
	struct pm_neigh *t = table_defaults();
	uint8_t mac[6];

	(void)state;
	assert_int_equal(resolve(0, "10.0.0.2", 1, 0, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(1, "10.0.0.2", 2, 0, NULL), PM_NEIGH_HELD);
	assert_int_equal(pm_neigh_count(t), 2);
	assert_int_equal(F->log.n, 2);
	assert_probe(&F->log.ev[0], 0, "10.0.0.2", NULL);
	assert_probe(&F->log.ev[1], 1, "10.0.0.2", NULL);
	F->log.n = 0;
	assert_int_equal(learn(1, "10.0.0.2", mac_b, false, 5), 0);
	assert_int_equal(F->log.n, 1);
	assert_int_equal(F->log.ev[0].pkt, 2);
	assert_int_equal(F->log.ev[0].port, 1);
	assert_memory_equal(F->log.ev[0].mac, mac_b, 6);
	/* Port 0's entry is untouched. */
	assert_int_equal(resolve(0, "10.0.0.2", 3, 6, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(1, "10.0.0.2", 4, 6, mac), PM_NEIGH_SEND);
	assert_memory_equal(mac, mac_b, 6);
	F->log.n = 0;
	assert_int_equal(learn(0, "10.0.0.2", mac_a, false, 7), 0);
	assert_int_equal(F->log.n, 2);
	assert_int_equal(F->log.ev[0].pkt, 1);
	assert_int_equal(F->log.ev[1].pkt, 3);
	assert_int_equal(F->log.ev[1].port, 0);
	assert_memory_equal(F->log.ev[1].mac, mac_a, 6);
}

static void
test_neigh_flush_drops_every_held_packet(void **state)
{
	struct pm_neigh *t = table_defaults();
	uintptr_t seen = 0;
	size_t i;

	(void)state;
	assert_int_equal(resolve(0, "10.0.0.2", 1, 0, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(0, "10.0.0.2", 2, 0, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(1, "10.0.0.3", 4, 0, NULL), PM_NEIGH_HELD);
	assert_int_equal(learn(0, "10.0.0.4", mac_a, true, 0), 0);
	F->log.n = 0;
	pm_neigh_flush(t);
	assert_int_equal(F->log.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(F->log.ev[i].type, EV_DROP);
		seen |= F->log.ev[i].pkt;
	}
	assert_int_equal(seen, 7);
	assert_int_equal(t->stats.dropped, 3);
	assert_int_equal(pm_neigh_count(t), 0);
	assert_int_equal(pm_neigh_tick(t, 100000), UINT64_MAX);
	/* The table is usable afterwards. */
	assert_int_equal(resolve(0, "10.0.0.4", 5, 1, NULL), PM_NEIGH_HELD);
	assert_int_equal(F->log.n, 4);
	assert_probe(&F->log.ev[3], 0, "10.0.0.4", NULL);
}

static void
test_neigh_tick_returns_next_deadline(void **state)
{
	struct pm_neigh *t = table_defaults();

	(void)state;
	assert_int_equal(pm_neigh_tick(t, 0), UINT64_MAX);
	assert_int_equal(learn(0, "10.0.0.2", mac_a, true, 100), 0);
	assert_int_equal(pm_neigh_tick(t, 100), 30100);
	assert_int_equal(resolve(0, "10.0.0.3", 1, 200, NULL), PM_NEIGH_HELD);
	assert_int_equal(pm_neigh_tick(t, 200), 1200);
}

static void
test_neigh_dump_and_state_names(void **state)
{
	struct pm_neigh *t = table_defaults();
	struct pm_neigh_info info[2];
	struct pm_addr a = ip("10.0.0.2");

	(void)state;
	assert_string_equal(pm_neigh_state_name(PM_NEIGH_INCOMPLETE), "incomplete");
	assert_string_equal(pm_neigh_state_name(PM_NEIGH_REACHABLE), "reachable");
	assert_string_equal(pm_neigh_state_name(PM_NEIGH_STALE), "stale");
	assert_string_equal(pm_neigh_state_name(PM_NEIGH_PROBE), "probe");
	assert_string_equal(pm_neigh_state_name(PM_NEIGH_FAILED), "failed");
	assert_string_equal(pm_neigh_state_name((enum pm_neigh_state)0), "?");
	assert_string_equal(pm_neigh_state_name((enum pm_neigh_state)99), "?");
	assert_int_equal(pm_neigh_dump(t, info, 2, 0), 0);
	assert_int_equal(learn(7, "10.0.0.2", mac_a, true, 1000), 0);
	assert_int_equal(resolve(0, "10.0.0.3", 1, 1000, NULL), PM_NEIGH_HELD);
	assert_int_equal(resolve(0, "10.0.0.4", 2, 1000, NULL), PM_NEIGH_HELD);
	/* More live entries than room: the count says so. */
	assert_int_equal(pm_neigh_dump(t, info, 1, 1500), 3);
	assert_int_equal(pm_neigh_dump(t, NULL, 0, 1500), 3);
	assert_int_equal(state_of(7, "10.0.0.2", 1500, &info[0]), PM_NEIGH_REACHABLE);
	assert_int_equal(info[0].port, 7);
	assert_true(pm_addr_eq(&info[0].addr, &a));
	assert_memory_equal(info[0].mac, mac_a, 6);
	assert_int_equal(info[0].age_ms, 500);
	assert_int_equal(info[0].held, 0);
	/* A clock behind the entry's time gives age 0, not a wrap. */
	assert_int_equal(state_of(7, "10.0.0.2", 10, &info[0]), PM_NEIGH_REACHABLE);
	assert_int_equal(info[0].age_ms, 0);
}

/* ---- the index under deletions (the classic open-addressing bug) ---- */

struct key {
	uint16_t port;
	struct pm_addr addr;
	uint8_t mac[6];
	bool keep;
};

static void
fill_and_delete_rounds(uint32_t capacity, int rounds, uint32_t *rs)
{
	struct pm_neigh_params p;
	struct pm_neigh *t;
	struct key *k;
	uint64_t now = 1000;
	uint8_t mac[6];
	uint32_t i, j, kept;
	int r;

	pm_neigh_params_defaults(&p);
	p.capacity = capacity;
	p.reachable_ms = 1000;
	p.gc_ms = 1000;
	p.seed = (uint64_t)xorshift32(rs) << 32 | xorshift32(rs);
	t = table(&p);
	k = calloc(capacity, sizeof(*k));
	assert_non_null(k);
	/* Distinct random keys on four ports. */
	for (i = 0; i < capacity; i++) {
		do {
			k[i].port = (uint16_t)(xorshift32(rs) % 4);
			k[i].addr = v4(0x0a000000u | (xorshift32(rs) & 0xffffff));
			for (j = 0; j < i; j++) {
				if (k[j].port == k[i].port && pm_addr_eq(&k[j].addr, &k[i].addr))
					break;
			}
		} while (j < i);
		k[i].mac[0] = 0x02;
		k[i].mac[2] = (uint8_t)(i >> 16);
		k[i].mac[3] = (uint8_t)(i >> 8);
		k[i].mac[4] = (uint8_t)i;
		k[i].mac[5] = 0x01;
	}
	/* Fill every entry: resolve() may use the last eighth, learn() not. */
	for (i = 0; i < capacity; i++) {
		assert_int_equal(pm_neigh_resolve(t, k[i].port, &k[i].addr, NULL, now, NULL),
				 PM_NEIGH_HELD);
		assert_int_equal(pm_neigh_learn(t, k[i].port, &k[i].addr, k[i].mac, false, now), 0);
	}
	assert_int_equal(pm_neigh_count(t), capacity);
	for (r = 0; r < rounds; r++) {
		/* Every entry confirmed at now; refresh a random subset just before
		 * the others are collected (reachable + gc), then collect. */
		for (i = 0; i < capacity; i++)
			assert_int_equal(pm_neigh_learn(t, k[i].port, &k[i].addr, k[i].mac, false,
							now), 0);
		kept = 0;
		for (i = 0; i < capacity; i++) {
			/* Alternate between deleting most and deleting few. */
			k[i].keep = xorshift32(rs) % 8 < (r % 2 ? 1u : 6u);
			if (k[i].keep) {
				kept++;
				assert_int_equal(pm_neigh_learn(t, k[i].port, &k[i].addr, k[i].mac,
								false, now + 1999), 0);
			}
		}
		pm_neigh_tick(t, now + 2000);
		assert_int_equal(pm_neigh_count(t), kept);
		now += 2000;
		/* Every survivor is still found: SEND with its MAC, no new probe. */
		F->log.n = 0;
		for (i = 0; i < capacity; i++) {
			if (!k[i].keep)
				continue;
			if (pm_neigh_resolve(t, k[i].port, &k[i].addr, NULL, now, mac) !=
			    PM_NEIGH_SEND)
				fail_msg("round %d: key %u lost after deletions", r, i);
			assert_memory_equal(mac, k[i].mac, 6);
		}
		assert_int_equal(F->log.n, 0);
		/* Every deleted key is gone: a new resolution; then refill. */
		for (i = 0; i < capacity; i++) {
			if (k[i].keep)
				continue;
			F->log.n = 0;
			assert_int_equal(pm_neigh_resolve(t, k[i].port, &k[i].addr, NULL, now,
							  NULL), PM_NEIGH_HELD);
			assert_int_equal(F->log.n, 1);
			assert_int_equal(pm_neigh_learn(t, k[i].port, &k[i].addr, k[i].mac,
							false, now), 0);
		}
		assert_int_equal(pm_neigh_count(t), capacity);
	}
	free(k);
}

static void
test_neigh_deletions_keep_other_entries_findable(void **state)
{
	uint32_t rs = pm_test_seed("neigh_deletions", TEST_SEED);

	(void)state;
	fill_and_delete_rounds(8, 400, &rs);
	fill_and_delete_rounds(64, 100, &rs);
	fill_and_delete_rounds(1024, 20, &rs);
}

/* ---- randomized run against a reference model ---- */

/*
 * The model keeps the same entries in a plain array and finds them by a
 * linear search, so it shares no code with the hash index, the free list or
 * the backward shift. Its timer rules restate neigh.h's transitions. The run
 * compares every return value, every callback (in order for resolve and
 * learn; as a multiset per entry for tick and flush, which walk entries in
 * storage order), the counters, the count and, now and then, the dump.
 */
#define M_PORTS 3
#define M_ADDRS 12
#define M_KEYS (M_PORTS * M_ADDRS)
#define M_CAP_MAX 64

struct m_ent {
	bool used;
	uint16_t port;
	struct pm_addr addr;
	uint8_t state;
	uint8_t mac[6];
	uint32_t probes_sent;
	uint64_t confirmed;
	uint64_t deadline;
	uintptr_t held[PM_NEIGH_QLEN_MAX];
	uint32_t nheld;
};

struct model {
	struct pm_neigh_params p;
	struct m_ent e[M_CAP_MAX];
	uint32_t live;
	struct pm_neigh_stats st;
	struct evlog log;
};

static struct m_ent *
m_find(struct model *m, uint16_t port, const struct pm_addr *a)
{
	uint32_t i;

	for (i = 0; i < m->p.capacity; i++) {
		if (m->e[i].used && m->e[i].port == port && pm_addr_eq(&m->e[i].addr, a))
			return &m->e[i];
	}
	return NULL;
}

static struct m_ent *
m_new(struct model *m, uint16_t port, const struct pm_addr *a)
{
	uint32_t i;

	for (i = 0; i < m->p.capacity; i++) {
		if (!m->e[i].used) {
			memset(&m->e[i], 0, sizeof(m->e[i]));
			m->e[i].used = true;
			m->e[i].port = port;
			m->e[i].addr = *a;
			m->live++;
			return &m->e[i];
		}
	}
	return NULL;
}

static void
m_probe(struct model *m, struct m_ent *e, bool unicast)
{
	m->st.probes++;
	fake_probe(&m->log, e->port, &e->addr, unicast ? e->mac : NULL);
}

/* Run @e's timers; false if it was freed. */
static bool
m_advance(struct model *m, struct m_ent *e, uint64_t now)
{
	uint32_t k;

	while (e->used && now >= e->deadline) {
		switch (e->state) {
		case PM_NEIGH_INCOMPLETE:
			if (e->probes_sent < m->p.probes) {
				e->probes_sent++;
				e->deadline = now + m->p.retrans_ms;
				m_probe(m, e, false);
			} else {
				e->state = PM_NEIGH_FAILED;
				e->deadline += m->p.failed_ms;
				m->st.failed++;
				for (k = 0; k < e->nheld; k++) {
					m->st.dropped++;
					fake_drop(&m->log, (void *)e->held[k]);
				}
				e->nheld = 0;
			}
			break;
		case PM_NEIGH_REACHABLE:
			e->state = PM_NEIGH_STALE;
			e->deadline = e->confirmed + m->p.reachable_ms + m->p.gc_ms;
			break;
		case PM_NEIGH_PROBE:
			if (e->probes_sent < m->p.probes) {
				e->probes_sent++;
				e->deadline = now + m->p.retrans_ms;
				m_probe(m, e, true);
			} else {
				e->used = false;
				m->live--;
			}
			break;
		default:
			e->used = false;
			m->live--;
			break;
		}
	}
	return e->used;
}

static enum pm_neigh_rc
m_resolve(struct model *m, uint16_t port, const struct pm_addr *a, uintptr_t pkt, uint64_t now,
	  uint8_t mac[6])
{
	struct m_ent *e;

	if (a->family != PM_AF_INET) {
		m->st.unreach++;
		return PM_NEIGH_UNREACH;
	}
	e = m_find(m, port, a);
	if (e != NULL && !m_advance(m, e, now))
		e = NULL;
	if (e == NULL) {
		e = m_new(m, port, a);
		if (e == NULL) {
			m->st.tfull++;
			return PM_NEIGH_TFULL;
		}
		e->state = PM_NEIGH_INCOMPLETE;
		e->confirmed = now;
		e->probes_sent = 1;
		e->deadline = now + m->p.retrans_ms;
		m_probe(m, e, false);
	}
	switch (e->state) {
	case PM_NEIGH_INCOMPLETE:
		if (pkt == 0)
			return PM_NEIGH_HELD;
		if (e->nheld == m->p.qlen) {
			m->st.qfull++;
			return PM_NEIGH_QFULL;
		}
		e->held[e->nheld++] = pkt;
		m->st.held++;
		return PM_NEIGH_HELD;
	case PM_NEIGH_FAILED:
		m->st.unreach++;
		return PM_NEIGH_UNREACH;
	case PM_NEIGH_STALE:
		e->state = PM_NEIGH_PROBE;
		e->probes_sent = 1;
		e->deadline = now + m->p.retrans_ms;
		m_probe(m, e, true);
		break;
	default:
		break;
	}
	memcpy(mac, e->mac, 6);
	return PM_NEIGH_SEND;
}

static int
m_learn(struct model *m, uint16_t port, const struct pm_addr *a, const uint8_t mac[6],
	bool create, uint64_t now)
{
	static const uint8_t zero[6];
	struct m_ent *e;
	uint32_t k;

	if (a->family != PM_AF_INET)
		return -EAFNOSUPPORT;
	if ((mac[0] & 1) != 0 || memcmp(mac, zero, 6) == 0)
		return -EINVAL;
	e = m_find(m, port, a);
	if (e != NULL && !m_advance(m, e, now))
		e = NULL;
	if (e == NULL) {
		if (!create)
			return 0;
		if (m->live >= m->p.capacity - m->p.capacity / 8)
			return -ENOSPC;
		e = m_new(m, port, a);
	}
	m->st.learned++;
	memcpy(e->mac, mac, 6);
	e->confirmed = now;
	e->deadline = now + m->p.reachable_ms;
	e->probes_sent = 0;
	if (e->state == PM_NEIGH_INCOMPLETE) {
		m->st.resolved++;
		for (k = 0; k < e->nheld; k++) {
			m->st.released++;
			fake_send(&m->log, (void *)e->held[k], e->port, e->mac);
		}
		e->nheld = 0;
	}
	e->state = PM_NEIGH_REACHABLE;
	return 0;
}

static uint64_t
m_tick(struct model *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < m->p.capacity; i++) {
		if (m->e[i].used && m_advance(m, &m->e[i], now) && m->e[i].deadline < next)
			next = m->e[i].deadline;
	}
	return next;
}

static void
m_flush(struct model *m)
{
	uint32_t i, k;

	for (i = 0; i < m->p.capacity; i++) {
		for (k = 0; m->e[i].used && k < m->e[i].nheld; k++) {
			m->st.dropped++;
			fake_drop(&m->log, (void *)m->e[i].held[k]);
		}
		m->e[i].used = false;
	}
	m->live = 0;
}

/* Which key a packet id was resolved for (to sort drops by entry). */
static uint16_t *pkt_key;

static int
key_index(uint16_t port, const struct pm_addr *a)
{
	return port * M_ADDRS + (a->bytes[3] - 1);
}

static int
ev_key(const struct ev *e)
{
	return e->type == EV_PROBE ? key_index(e->port, &e->addr) : pkt_key[e->pkt];
}

static int
ev_cmp(const void *x, const void *y)
{
	const struct ev *a = x, *b = y;
	int ka = ev_key(a), kb = ev_key(b);

	if (ka != kb)
		return ka < kb ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
ev_assert_equal(const struct ev *a, const struct ev *b, uint32_t step)
{
	if (a->type != b->type || a->pkt != b->pkt ||
	    (a->type != EV_DROP && a->port != b->port) ||
	    (a->type == EV_PROBE &&
	     (!pm_addr_eq(&a->addr, &b->addr) || a->unicast != b->unicast)) ||
	    ((a->type == EV_SEND || a->unicast) && memcmp(a->mac, b->mac, 6) != 0))
		fail_msg("step %u: table event type %d port %u pkt %lu, model type %d port %u "
			 "pkt %lu", step, a->type, a->port, (unsigned long)a->pkt, b->type, b->port,
			 (unsigned long)b->pkt);
}

/* Compare the events of one operation; @sorted for tick() and flush(). */
static void
logs_assert_equal(struct evlog *t, struct evlog *m, bool sorted, uint32_t step)
{
	size_t i;

	if (t->n != m->n)
		fail_msg("step %u: table made %zu calls, model %zu", step, t->n, m->n);
	if (sorted) {
		qsort(t->ev, t->n, sizeof(struct ev), ev_cmp);
		qsort(m->ev, m->n, sizeof(struct ev), ev_cmp);
	}
	for (i = 0; i < t->n; i++)
		ev_assert_equal(&t->ev[i], &m->ev[i], step);
}

static int
info_cmp(const void *x, const void *y)
{
	const struct pm_neigh_info *a = x, *b = y;

	return key_index(a->port, &a->addr) - key_index(b->port, &b->addr);
}

static void
dumps_assert_equal(struct pm_neigh *t, struct model *m, uint64_t now, uint32_t step)
{
	struct pm_neigh_info ti[M_CAP_MAX], mi[M_CAP_MAX];
	size_t n = pm_neigh_dump(t, ti, M_CAP_MAX, now), mn = 0, i;

	for (i = 0; i < m->p.capacity; i++) {
		const struct m_ent *e = &m->e[i];
		struct pm_neigh_info *o;

		if (!e->used)
			continue;
		o = &mi[mn++];
		memset(o, 0, sizeof(*o));
		o->port = e->port;
		o->addr = e->addr;
		memcpy(o->mac, e->mac, 6);
		o->state = e->state;
		if (e->state == PM_NEIGH_REACHABLE && now >= e->confirmed + m->p.reachable_ms)
			o->state = PM_NEIGH_STALE;
		o->held = e->nheld;
		o->probes_sent = e->probes_sent;
		o->age_ms = now - e->confirmed;
	}
	if (n != mn)
		fail_msg("step %u: dump has %zu entries, model %zu", step, n, mn);
	qsort(ti, n, sizeof(ti[0]), info_cmp);
	qsort(mi, n, sizeof(mi[0]), info_cmp);
	for (i = 0; i < n; i++) {
		if (ti[i].port != mi[i].port || !pm_addr_eq(&ti[i].addr, &mi[i].addr) ||
		    ti[i].state != mi[i].state || ti[i].held != mi[i].held ||
		    ti[i].probes_sent != mi[i].probes_sent || ti[i].age_ms != mi[i].age_ms ||
		    (ti[i].state != PM_NEIGH_INCOMPLETE && ti[i].state != PM_NEIGH_FAILED &&
		     memcmp(ti[i].mac, mi[i].mac, 6) != 0))
			fail_msg("step %u: dump entry %s port %u: state %s/%s held %u/%u",
				 step, ipstr(&ti[i].addr), ti[i].port,
				 pm_neigh_state_name(ti[i].state), pm_neigh_state_name(mi[i].state),
				 ti[i].held, mi[i].held);
	}
}

static void
model_run(const struct pm_neigh_params *p, uint32_t steps, uint32_t *rs)
{
	/* pkt_state: 0 never held, 1 held, 2 sent, 3 dropped */
	uint8_t *pkt_state = calloc(steps + 1, 1);
	struct model *m = calloc(1, sizeof(*m));
	struct pm_neigh *t = table(p);
	uint64_t now = 1;
	uintptr_t next_pkt = 1;
	uint32_t step, key = 0;
	size_t i;

	assert_non_null(pkt_state);
	assert_non_null(m);
	assert_true(p->capacity <= M_CAP_MAX);
	pkt_key = calloc(steps + 1, sizeof(*pkt_key));
	assert_non_null(pkt_key);
	m->p = *p;
	m->log.ev = calloc(EV_MAX, sizeof(struct ev));
	assert_non_null(m->log.ev);

	for (step = 0; step < steps; step++) {
		uint32_t r = xorshift32(rs) % 100;
		uint16_t port;
		struct pm_addr a;
		bool sorted = false;

		/* Half the operations go to the previous key: traffic comes in
		 * bursts to one neighbour, which is what fills a queue. */
		if (xorshift32(rs) % 2 == 0)
			key = xorshift32(rs) % M_KEYS;
		port = (uint16_t)(key / M_ADDRS);
		a = v4(0x0a000001u + key % M_ADDRS);

		now += xorshift32(rs) % (xorshift32(rs) % 64 == 0 ? 8000 : 300);
		if (xorshift32(rs) % 100 == 0)
			a = xorshift32(rs) % 2 ? ip("2001:db8::1") : (struct pm_addr){ 0 };
		F->log.n = 0;
		m->log.n = 0;
		if (r < 45) {
			uintptr_t pkt = xorshift32(rs) % 4 == 0 ? 0 : next_pkt++;
			uint8_t tmac[6] = { 0 }, mmac[6] = { 0 };
			enum pm_neigh_rc tr, mr;

			if (pkt != 0)
				pkt_key[pkt] = (uint16_t)key;
			tr = pm_neigh_resolve(t, port, &a, PKT(pkt), now, tmac);
			mr = m_resolve(m, port, &a, pkt, now, mmac);
			if (tr != mr)
				fail_msg("step %u: resolve %s port %u: table %d, model %d", step,
					 ipstr(&a), port, tr, mr);
			if (tr == PM_NEIGH_SEND)
				assert_memory_equal(tmac, mmac, 6);
			if (tr == PM_NEIGH_HELD && pkt != 0)
				pkt_state[pkt] = 1;
		} else if (r < 75) {
			uint8_t mac[6] = { 0x02, 0, 0, 0, (uint8_t)key, 0 };
			bool create = xorshift32(rs) % 2;
			int tr, mr;

			mac[5] = (uint8_t)(xorshift32(rs) % 3);	/* the MAC may change */
			if (xorshift32(rs) % 30 == 0)
				mac[0] = xorshift32(rs) % 2 ? 0xff : 0x01;
			tr = pm_neigh_learn(t, port, &a, mac, create, now);
			mr = m_learn(m, port, &a, mac, create, now);
			if (tr != mr)
				fail_msg("step %u: learn %s port %u: table %d, model %d", step,
					 ipstr(&a), port, tr, mr);
		} else if (r < 94) {
			uint64_t tn = pm_neigh_tick(t, now), mn = m_tick(m, now);

			if (tn != mn)
				fail_msg("step %u: tick: next %lu, model %lu", step,
					 (unsigned long)tn, (unsigned long)mn);
			sorted = true;
		} else if (r < 99) {
			dumps_assert_equal(t, m, now, step);
		} else {
			pm_neigh_flush(t);
			m_flush(m);
			sorted = true;
		}
		logs_assert_equal(&F->log, &m->log, sorted, step);
		/* Each packet leaves once, and only after it was held. */
		for (i = 0; i < F->log.n; i++) {
			const struct ev *e = &F->log.ev[i];

			if (e->type == EV_PROBE)
				continue;
			if (pkt_state[e->pkt] != 1)
				fail_msg("step %u: packet %lu released twice or never held", step,
					 (unsigned long)e->pkt);
			pkt_state[e->pkt] = e->type == EV_SEND ? 2 : 3;
		}
		if (memcmp(&t->stats, &m->st, sizeof(m->st)) != 0)
			fail_msg("step %u: counters differ from the model", step);
		if (pm_neigh_count(t) != m->live)
			fail_msg("step %u: %zu entries, model %u", step, pm_neigh_count(t),
				 m->live);
	}
	/* At the end nothing may be left held. */
	F->log.n = 0;
	pm_neigh_flush(t);
	for (i = 0; i < F->log.n; i++)
		pkt_state[F->log.ev[i].pkt] = 3;
	for (i = 1; i < next_pkt; i++)
		assert_true(pkt_state[i] != 1);
	assert_int_equal(t->stats.held, t->stats.released + t->stats.dropped);
	/* The run must have visited every outcome, or it proves little. */
	assert_true(t->stats.resolved > 0 && t->stats.failed > 0 && t->stats.qfull > 0 &&
		    t->stats.tfull > 0 && t->stats.unreach > 0 && t->stats.released > 0);
	free(m->log.ev);
	free(m);
	free(pkt_key);
	pkt_key = NULL;
	free(pkt_state);
}

static void
test_neigh_random_operations_match_reference_model(void **state)
{
	uint32_t rs = pm_test_seed("neigh_model", TEST_SEED ^ 0x9e3779b9u);
	struct pm_neigh_params p;

	(void)state;
	pm_neigh_params_defaults(&p);
	p.capacity = 16;
	p.qlen = 3;
	p.reachable_ms = 3000;
	p.retrans_ms = 500;
	p.probes = 2;
	p.failed_ms = 1500;
	p.gc_ms = 4000;
	p.seed = xorshift32(&rs);
	model_run(&p, 200000, &rs);
	/* The smallest table, one packet, one probe. */
	p.capacity = 8;
	p.qlen = 1;
	p.probes = 1;
	p.seed = xorshift32(&rs);
	model_run(&p, 100000, &rs);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_neigh_params_invalid_are_rejected),
		T(test_neigh_resolve_miss_probes_and_holds),
		T(test_neigh_learn_releases_held_in_order),
		T(test_neigh_queue_over_qlen_is_qfull),
		T(test_neigh_probes_exhausted_fail_drop_held_and_refuse),
		T(test_neigh_failed_entry_is_freed_by_tick),
		T(test_neigh_stale_use_probes_unicast_and_answer_confirms),
		T(test_neigh_expired_reachable_without_tick_probes_on_use),
		T(test_neigh_unanswered_probe_frees_entry),
		T(test_neigh_stale_unused_is_garbage_collected),
		T(test_neigh_learn_without_create_does_not_create),
		T(test_neigh_broadcast_multicast_zero_mac_are_refused),
		T(test_neigh_non_ipv4_is_refused),
		T(test_neigh_table_full_is_tfull_and_learn_enospc),
		T(test_neigh_same_addr_on_two_ports_is_two_entries),
		T(test_neigh_flush_drops_every_held_packet),
		T(test_neigh_tick_returns_next_deadline),
		T(test_neigh_dump_and_state_names),
		T(test_neigh_deletions_keep_other_entries_findable),
		T(test_neigh_random_operations_match_reference_model),
	};
#undef T

	return cmocka_run_group_tests_name("neigh", tests, NULL, NULL);
}
