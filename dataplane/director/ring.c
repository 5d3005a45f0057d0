/*
 * ring.c -- build ring images.
 *
 * A build sorts the hosts by IP, gathers each tag's points as 64-bit keys
 * (hash << 16 | host index), radix-sorts them, and lays everything out in a
 * single allocation so that freeing an image is one free() and a reader
 * touches few cache lines.
 */
#include "director/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "director/md5.h"

/* Write "-<v>" as snprintf("-%u") would, without the NUL, at @p (room for
 * 11 bytes). Returns the length. A cold build of 100,000 points formats
 * 100,000 labels; with snprintf that took about a sixth of the build. */
static size_t
format_dash_u32(char *p, uint32_t v)
{
	char digits[10];
	size_t n = 0, i;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	p[0] = '-';
	for (i = 0; i < n; i++)
		p[1 + i] = digits[n - 1 - i];
	return n + 1;
}

int
pm_ring_vhost_hashes(const struct pm_addr *a, uint32_t from, uint32_t to, uint32_t *out)
{
	char label[PM_ADDR_STRLEN + 16];
	int iplen;
	uint32_t i;

	iplen = pm_addr_format(a, label, PM_ADDR_STRLEN);
	if (iplen < 0)
		return -EINVAL;
	for (i = from; i < to; i++) {
		size_t n = format_dash_u32(label + iplen, i);

		out[i - from] = pm_md5_prefix32(label, (size_t)iplen + n);
	}
	return 0;
}

/* LSD radix sort of 48-bit keys in 11-bit digits; @tmp holds @n keys. */
static void
radix_sort48(uint64_t *keys, uint64_t *tmp, size_t n)
{
	enum { BITS = 11, BUCKETS = 1 << BITS };
	static const unsigned int passes = (48 + BITS - 1) / BITS;
	size_t count[BUCKETS];
	unsigned int pass;
	uint64_t *src = keys, *dst = tmp, *sw;
	size_t i, sum, c;

	for (pass = 0; pass < passes; pass++) {
		unsigned int shift = pass * BITS;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & (BUCKETS - 1)]++;
		for (i = 0, sum = 0; i < BUCKETS; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & (BUCKETS - 1)]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != keys)
		memcpy(keys, src, n * sizeof(*keys));
}

static int
cmp_input_addr(const void *a, const void *b)
{
	const struct pm_ring_input *const *x = a, *const *y = b;

	return pm_addr_cmp(&(*x)->addr, &(*y)->addr);
}

static inline size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int
pm_ring_build(const struct pm_ring_input *in, uint32_t n, const char *const *tag_names,
	      uint32_t ntags, uint64_t generation, struct pm_ring **out)
{
	const struct pm_ring_input **order = NULL;
	uint64_t *keys = NULL, *tmp = NULL;
	uint32_t *scratch = NULL;
	uint32_t i, t, total = 0, id_slots = 0, max_vhosts = 0;
	size_t size, names_size = 0, off;
	struct pm_ring *r = NULL;
	struct pm_ring_host *hosts;
	struct pm_ring_tag *tags;
	uint16_t *id_index;
	char *names;
	int ret = -ENOMEM;

	*out = NULL;
	if (n > PM_RING_MAX_HOSTS || ntags == 0 || ntags > PM_RING_MAX_TAGS)
		return -EINVAL;
	for (t = 0; t < ntags; t++)
		names_size += strlen(tag_names[t]) + 1;

	order = calloc(n ? n : 1, sizeof(*order));
	if (order == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct pm_ring_input *h = &in[i];

		if (h->tag >= ntags || h->vhosts > PM_RING_MAX_VHOSTS ||
		    (h->addr.family != PM_AF_INET && h->addr.family != PM_AF_INET6)) {
			ret = -EINVAL;
			goto out;
		}
		order[i] = h;
		if ((h->id & 0xffffu) + 1 > id_slots)
			id_slots = (h->id & 0xffffu) + 1;
		if (!h->down)
			total += h->vhosts;
		if (h->vhosts > max_vhosts)
			max_vhosts = h->vhosts;
	}
	qsort(order, n, sizeof(*order), cmp_input_addr);
	for (i = 1; i < n; i++) {
		if (pm_addr_eq(&order[i - 1]->addr, &order[i]->addr)) {
			ret = -EEXIST;
			goto out;
		}
	}

	size = align8(sizeof(*r));
	size += align8(n * sizeof(*hosts));
	size += align8(ntags * sizeof(*tags));
	size += align8(id_slots * sizeof(*id_index));
	size += align8((size_t)total * sizeof(uint32_t));
	size += align8((size_t)total * sizeof(uint16_t));
	size += names_size;
	r = calloc(1, size);
	keys = malloc((total ? total : 1) * sizeof(*keys));
	tmp = malloc((total ? total : 1) * sizeof(*tmp));
	scratch = malloc((max_vhosts ? max_vhosts : 1) * sizeof(*scratch));
	if (r == NULL || keys == NULL || tmp == NULL || scratch == NULL)
		goto out;

	off = align8(sizeof(*r));
	hosts = (struct pm_ring_host *)((char *)r + off);
	off += align8(n * sizeof(*hosts));
	tags = (struct pm_ring_tag *)((char *)r + off);
	off += align8(ntags * sizeof(*tags));
	id_index = (uint16_t *)((char *)r + off);
	off += align8(id_slots * sizeof(*id_index));
	uint32_t *hash_area = (uint32_t *)((char *)r + off);
	off += align8((size_t)total * sizeof(uint32_t));
	uint16_t *owner_area = (uint16_t *)((char *)r + off);
	off += align8((size_t)total * sizeof(uint16_t));
	names = (char *)r + off;

	memset(id_index, 0xff, id_slots * sizeof(*id_index));
	for (i = 0; i < n; i++) {
		uint32_t slot = order[i]->id & 0xffffu;

		if (id_index[slot] != UINT16_MAX) {
			ret = -EEXIST;
			goto out;
		}
		id_index[slot] = (uint16_t)i;
		hosts[i].addr = order[i]->addr;
		hosts[i].id = order[i]->id;
		hosts[i].tag = order[i]->tag;
		hosts[i].vhosts = order[i]->vhosts;
		hosts[i].down = order[i]->down;
	}

	/* Per tag: gather keys, sort, split into hash and owner arrays. The
	 * tie-break on equal hashes is the host index, which is IP order. */
	for (t = 0; t < ntags; t++) {
		uint32_t k = 0;

		for (i = 0; i < n; i++) {
			const struct pm_ring_input *h = order[i];
			const uint32_t *pts = h->points;
			uint32_t v;

			if (h->tag != t || h->down || h->vhosts == 0)
				continue;
			if (pts == NULL) {
				pm_ring_vhost_hashes(&h->addr, 0, h->vhosts, scratch);
				pts = scratch;
			}
			for (v = 0; v < h->vhosts; v++)
				keys[k++] = (uint64_t)pts[v] << 16 | i;
		}
		radix_sort48(keys, tmp, k);
		for (i = 0; i < k; i++) {
			hash_area[i] = (uint32_t)(keys[i] >> 16);
			owner_area[i] = (uint16_t)(keys[i] & 0xffffu);
		}
		tags[t].npoints = k;
		tags[t].hash = hash_area;
		tags[t].owner = owner_area;
		hash_area += k;
		owner_area += k;
		tags[t].name = names;
		strcpy(names, tag_names[t]);
		names += strlen(tag_names[t]) + 1;
	}

	r->generation = generation;
	r->nhosts = n;
	r->ntags = ntags;
	r->hosts = hosts;
	r->tags = tags;
	r->id_slots = id_slots;
	r->id_index = id_index;
	*out = r;
	r = NULL;
	ret = 0;
out:
	free(r);
	free(order);
	free(keys);
	free(tmp);
	free(scratch);
	return ret;
}

void
pm_ring_free(struct pm_ring *r)
{
	free(r);
}

int
pm_ring_find_tag(const struct pm_ring *r, const char *name)
{
	uint32_t t;

	for (t = 0; t < r->ntags; t++) {
		if (strcmp(r->tags[t].name, name) == 0)
			return (int)t;
	}
	return -ENOENT;
}

int
pm_ring_host_by_addr(const struct pm_ring *r, const struct pm_addr *a)
{
	uint32_t lo = 0, hi = r->nhosts, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = pm_addr_cmp(&r->hosts[mid].addr, a);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return PM_RING_NO_HOST;
}
