/*
 * flowtab.c -- a worker lcore's flow table (flowtab.h).
 */
#include "tcp/flowtab.h"

#include <errno.h>
#include <string.h>

size_t
pm_flowtab_memsize(uint32_t capacity)
{
	uint64_t slots = 2;

	if (capacity == 0 || capacity > PM_FLOWTAB_MAX)
		return 0;
	while (slots < 2 * (uint64_t)capacity)
		slots <<= 1;
	return sizeof(struct pm_flowtab) + slots * sizeof(struct pm_flowtab_slot);
}

int
pm_flowtab_init(struct pm_flowtab *t, size_t size, uint32_t capacity,
		const uint8_t secret[PM_SIPHASH_KEY_LEN])
{
	size_t need = pm_flowtab_memsize(capacity), nslots, i;

	if (need == 0)
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	nslots = (need - sizeof(*t)) / sizeof(struct pm_flowtab_slot);
	memset(t, 0, sizeof(*t));
	pm_siphash_key_load(&t->key, secret);
	t->mask = (uint32_t)(nslots - 1);
	t->capacity = capacity;
	t->slots = (struct pm_flowtab_slot *)(t + 1);
	for (i = 0; i < nslots; i++)
		t->slots[i].value = PM_FLOWTAB_EMPTY;
	return 0;
}

static inline uint32_t
u32_of(const uint8_t b[4])
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint32_t
pm_flowtab_hash(const struct pm_flowtab *t, const struct pm_flow *f)
{
	uint64_t h = pm_siphash_u32x4(&t->key, u32_of(f->raddr), u32_of(f->laddr),
				      (uint32_t)f->rport << 16 | f->lport, 0);

	return (uint32_t)(h ^ h >> 32);
}

static inline bool
flow_eq(const struct pm_flow *a, const struct pm_flow *b)
{
	return memcmp(a->raddr, b->raddr, 4) == 0 && memcmp(a->laddr, b->laddr, 4) == 0 &&
	       a->rport == b->rport && a->lport == b->lport;
}

/* The slot holding @f, or the empty slot that ends its probe sequence. */
static uint32_t
find(const struct pm_flowtab *t, const struct pm_flow *f, uint32_t h)
{
	uint32_t i = h & t->mask;

	/* Load <= 1/2: the walk always meets an empty slot. */
	while (t->slots[i].value != PM_FLOWTAB_EMPTY && !flow_eq(&t->slots[i].key, f))
		i = (i + 1) & t->mask;
	return i;
}

uint32_t
pm_flowtab_lookup_h(const struct pm_flowtab *t, const struct pm_flow *f, uint32_t h)
{
	return t->slots[find(t, f, h)].value;
}

int
pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flow *f, uint32_t value)
{
	uint32_t i;

	if (value == PM_FLOWTAB_EMPTY)
		return -EINVAL;
	i = find(t, f, pm_flowtab_hash(t, f));
	if (t->slots[i].value != PM_FLOWTAB_EMPTY)
		return -EEXIST;
	if (t->count == t->capacity)
		return -ENOSPC;
	t->slots[i].key = *f;
	t->slots[i].value = value;
	t->count++;
	return 0;
}

int
pm_flowtab_remove(struct pm_flowtab *t, const struct pm_flow *f)
{
	uint32_t i = find(t, f, pm_flowtab_hash(t, f)), j, home;

	if (t->slots[i].value == PM_FLOWTAB_EMPTY)
		return -ENOENT;
	/* Backward shift: move later members of the cluster into the hole
	 * when the hole lies on their probe path (between home and j). */
	j = i;
	for (;;) {
		t->slots[i].value = PM_FLOWTAB_EMPTY;
		for (;;) {
			j = (j + 1) & t->mask;
			if (t->slots[j].value == PM_FLOWTAB_EMPTY) {
				t->count--;
				return 0;
			}
			home = pm_flowtab_hash(t, &t->slots[j].key) & t->mask;
			/* Leave j where it is if its home lies cyclically in
			 * (i, j]: the hole is not on its path. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}
