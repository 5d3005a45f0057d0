/*
 * test_ring.c -- ring images (director/ring.h) and addresses (net/addr.h).
 *
 * The placement vectors in tests/data/ring-vectors.tsv come from a real
 * Dovecot 2.3.19.1 director; every row must match bit for bit. This binary
 * links only the pure library, so it parses the vector file's backend specs
 * with its own small parser instead of control/hostspec.h. Equal-hash ties
 * cannot be found with MD5 in a test, so they are built with precomputed
 * point arrays and checked against a reference model of spec section 1.3.
 * The pseudo-random cases use a fixed, printed seed.
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

#include "testdata.h"

#include "director/md5.h"
#include "director/ring.h"
#include "director/userhash.h"
#include "net/addr.h"

#define MAX_SPEC_HOSTS 16
#define MAX_SPEC_TAGS 8
#define TEST_SEED 0x5eed2023u

static struct pm_addr
addr_of(const char *s)
{
	struct pm_addr a;

	if (pm_addr_parse(&a, s, strlen(s)) != 0)
		fail_msg("cannot parse address '%s'", s);
	return a;
}

static const char *
fmt_addr(const struct pm_addr *a, char buf[PM_ADDR_STRLEN])
{
	assert_true(pm_addr_format(a, buf, PM_ADDR_STRLEN) > 0);
	return buf;
}

/* A parsed "@scenario" backend list: ip[@tag][=vhosts][:down] tokens. */
struct spec {
	struct pm_ring_input in[MAX_SPEC_HOSTS];
	uint32_t n;
	char tagbuf[MAX_SPEC_TAGS][32];
	const char *tags[MAX_SPEC_TAGS];
	uint32_t ntags;
};

static void
parse_spec(struct spec *sp, const char *text)
{
	char buf[512], *tok, *save = NULL;

	memset(sp, 0, sizeof(*sp));
	sp->tags[0] = "";
	sp->ntags = 1;
	assert_true(strlen(text) < sizeof(buf));
	strcpy(buf, text);
	for (tok = strtok_r(buf, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		struct pm_ring_input *h = &sp->in[sp->n];
		char *p;
		size_t len = strlen(tok);
		uint32_t t;

		assert_true(sp->n < MAX_SPEC_HOSTS);
		h->id = sp->n + 1;
		h->vhosts = PM_RING_DEFAULT_VHOSTS;
		if (len > 5 && strcmp(tok + len - 5, ":down") == 0) {
			h->down = true;
			tok[len - 5] = '\0';
		}
		p = strchr(tok, '=');
		if (p != NULL) {
			*p = '\0';
			h->vhosts = (uint16_t)strtoul(p + 1, NULL, 10);
		}
		p = strchr(tok, '@');
		if (p != NULL) {
			*p++ = '\0';
			for (t = 0; t < sp->ntags; t++) {
				if (strcmp(sp->tags[t], p) == 0)
					break;
			}
			if (t == sp->ntags) {
				assert_true(t < MAX_SPEC_TAGS && strlen(p) < sizeof(sp->tagbuf[t]));
				strcpy(sp->tagbuf[t], p);
				sp->tags[t] = sp->tagbuf[t];
				sp->ntags++;
			}
			h->tag = (uint16_t)t;
		}
		h->addr = addr_of(tok);
		sp->n++;
	}
}

static struct pm_ring *
build_spec(const char *text, struct spec *sp)
{
	struct pm_ring *r = NULL;

	parse_spec(sp, text);
	assert_int_equal(pm_ring_build(sp->in, sp->n, sp->tags, sp->ntags, 7, &r), 0);
	assert_non_null(r);
	return r;
}

/* Structural invariants every image must satisfy. */
static void
check_image(const struct pm_ring *r)
{
	uint32_t t, i, total = 0, expect = 0;

	for (i = 0; i < r->nhosts; i++) {
		if (i > 0)
			assert_true(pm_addr_cmp(&r->hosts[i - 1].addr, &r->hosts[i].addr) < 0);
		assert_int_equal(pm_ring_host_by_id(r, r->hosts[i].id), (int)i);
		assert_int_equal(pm_ring_host_by_addr(r, &r->hosts[i].addr), (int)i);
		if (!r->hosts[i].down)
			expect += r->hosts[i].vhosts;
	}
	for (t = 0; t < r->ntags; t++) {
		const struct pm_ring_tag *tg = &r->tags[t];

		assert_int_equal(pm_ring_find_tag(r, tg->name), (int)t);
		for (i = 0; i < tg->npoints; i++) {
			const struct pm_ring_host *h = &r->hosts[tg->owner[i]];

			assert_true(tg->owner[i] < r->nhosts);
			assert_int_equal(h->tag, t);
			assert_false(h->down);
			assert_true(h->vhosts > 0);
			if (i > 0) {
				assert_true(tg->hash[i - 1] <= tg->hash[i]);
				if (tg->hash[i - 1] == tg->hash[i])
					assert_true(tg->owner[i - 1] <= tg->owner[i]);
			}
		}
		total += tg->npoints;
	}
	assert_int_equal(total, expect);
}

static void
test_ring_vhost_points_match_spec(void **state)
{
	struct pm_addr a1 = addr_of("10.0.0.1"), a5 = addr_of("10.0.0.5");
	uint32_t pts[100], one;
	char label[64];
	int i;

	(void)state;
	assert_int_equal(pm_ring_vhost_hashes(&a1, 0, 100, pts), 0);
	assert_int_equal(pts[0], 1014535201u);
	assert_int_equal(pts[1], 3096594127u);
	assert_int_equal(pts[99], 3544998699u);
	assert_int_equal(pm_ring_vhost_hashes(&a5, 0, 1, &one), 0);
	assert_int_equal(one, 1333214019u);
	/* Spec 1.7: the lowest and highest points of the 5-host ring. */
	assert_int_equal(pm_ring_vhost_hashes(&a5, 33, 34, &one), 0);
	assert_int_equal(one, 2013097u);
	assert_int_equal(pm_ring_vhost_hashes(&a5, 63, 64, &one), 0);
	assert_int_equal(one, 4286350954u);
	/* A sub-range is the same as the slice of the full range. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(pm_ring_vhost_hashes(&a1, (uint32_t)i, (uint32_t)i + 1, &one), 0);
		assert_int_equal(one, pts[i]);
		snprintf(label, sizeof(label), "10.0.0.1-%d", i);
		assert_int_equal(pts[i], pm_md5_prefix32(label, strlen(label)));
	}
	/* Indexes up to 999 use up to three digits. */
	assert_int_equal(pm_ring_vhost_hashes(&a1, 999, 1000, &one), 0);
	assert_int_equal(one, pm_md5_prefix32("10.0.0.1-999", 12));
}

/* Points hash the canonical (inet_ntop) form: lowercase, compressed. */
static void
test_ring_ipv6_points_use_canonical_text(void **state)
{
	struct pm_addr a = addr_of("2001:DB8:0:0::1"), b = addr_of("2001:db8::1");
	uint32_t pa[50], pb[50];
	char buf[PM_ADDR_STRLEN], label[64];
	int i;

	(void)state;
	assert_string_equal(fmt_addr(&a, buf), "2001:db8::1");
	assert_true(pm_addr_eq(&a, &b));
	assert_int_equal(pm_ring_vhost_hashes(&a, 0, 50, pa), 0);
	assert_int_equal(pm_ring_vhost_hashes(&b, 0, 50, pb), 0);
	assert_memory_equal(pa, pb, sizeof(pa));
	for (i = 0; i < 50; i++) {
		snprintf(label, sizeof(label), "2001:db8::1-%d", i);
		assert_int_equal(pa[i], pm_md5_prefix32(label, strlen(label)));
	}
	/* A long IPv6 form and an IPv4-mapped one. */
	a = addr_of("fe80:0000:0000:0000:0204:61FF:FE9D:F156");
	assert_int_equal(pm_ring_vhost_hashes(&a, 7, 8, pa), 0);
	assert_int_equal(pa[0], pm_md5_prefix32("fe80::204:61ff:fe9d:f156-7", 26));
	a = addr_of("::FFFF:10.0.0.1");
	assert_string_equal(fmt_addr(&a, buf), "::ffff:10.0.0.1");
	assert_int_equal(pm_ring_vhost_hashes(&a, 0, 1, pa), 0);
	assert_int_equal(pa[0], pm_md5_prefix32("::ffff:10.0.0.1-0", 17));
}

/* Spec 1.7: five hosts at 100 vhosts. */
static void
test_ring_five_hosts_match_worked_example(void **state)
{
	static const struct {
		const char *user;
		uint32_t hash;
		uint32_t idx;
		uint32_t point;
		const char *backend;
	} ex[] = {
		{ "user1", 617210206u, 84, 619628603u, "10.0.0.3" },
		{ "user2", 2119751227u, 262, 2129017031u, "10.0.0.3" },
		{ "user3", 2458352375u, 294, 2462659665u, "10.0.0.5" },
		{ "user4", 1057156067u, 138, 1059592145u, "10.0.0.5" },
		{ "user5", 175708226u, 27, 187964174u, "10.0.0.3" },
		{ "User1", 617210206u, 84, 619628603u, "10.0.0.3" },
		{ "user620", 4294407931u, 0, 2013097u, "10.0.0.5" },
	};
	/* Arc share per host in hundredths of a percent (spec 1.7). */
	static const uint32_t share[5] = { 2001, 2174, 1884, 1896, 2045 };
	uint64_t arc[5] = { 0 };
	struct pm_userhash_fmt f;
	struct spec sp;
	struct pm_ring *r;
	const struct pm_ring_tag *t;
	char buf[PM_ADDR_STRLEN];
	uint32_t i, per_host[5] = { 0 };

	(void)state;
	r = build_spec("10.0.0.5 10.0.0.3 10.0.0.1 10.0.0.4 10.0.0.2", &sp);
	check_image(r);
	assert_int_equal(r->generation, 7);
	assert_int_equal(r->nhosts, 5);
	assert_int_equal(r->ntags, 1);
	for (i = 0; i < 5; i++) {
		char want[PM_ADDR_STRLEN];

		snprintf(want, sizeof(want), "10.0.0.%u", i + 1);
		assert_string_equal(fmt_addr(&r->hosts[i].addr, buf), want);
		assert_int_equal(r->hosts[i].vhosts, 100);
		assert_false(r->hosts[i].down);
	}
	t = &r->tags[0];
	assert_string_equal(t->name, "");
	assert_int_equal(t->npoints, 500);
	assert_int_equal(t->hash[0], 2013097u);
	assert_int_equal(t->hash[499], 4286350954u);
	assert_string_equal(fmt_addr(&r->hosts[t->owner[0]].addr, buf), "10.0.0.5");
	assert_string_equal(fmt_addr(&r->hosts[t->owner[499]].addr, buf), "10.0.0.5");
	for (i = 0; i < 500; i++) {
		uint32_t prev = i == 0 ? t->hash[499] : t->hash[i - 1];

		per_host[t->owner[i]]++;
		arc[t->owner[i]] += (uint32_t)(t->hash[i] - prev);
	}
	for (i = 0; i < 5; i++) {
		assert_int_equal(per_host[i], 100);
		/* Round to hundredths of a percent. */
		assert_int_equal((arc[i] * 100000 / 4294967296u + 5) / 10, share[i]);
	}

	assert_int_equal(pm_userhash_compile(&f, "%Lu", '\0', NULL, 0), 0);
	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		uint32_t h = pm_userhash(&f, ex[i].user, strlen(ex[i].user));
		int idx = pm_ring_lookup(r, 0, h);

		assert_int_equal(h, ex[i].hash);
		assert_int_equal(t->hash[ex[i].idx], ex[i].point);
		assert_int_equal(t->owner[ex[i].idx], idx);
		assert_string_equal(fmt_addr(&r->hosts[idx].addr, buf), ex[i].backend);
	}
	/* The wrap: anything above the highest point goes to index 0. */
	assert_int_equal(pm_ring_lookup(r, 0, 4286350955u), t->owner[0]);
	assert_int_equal(pm_ring_lookup(r, 0, UINT32_MAX), t->owner[0]);
	assert_int_equal(pm_ring_lookup(r, 0, 0), t->owner[0]);
	assert_int_equal(pm_ring_lookup(r, 0, 4286350954u), t->owner[499]);
	/* An unknown tag index has no host. */
	assert_int_equal(pm_ring_lookup(r, 1, 617210206u), PM_RING_NO_HOST);
	pm_ring_free(r);
}

/* Every row of tests/data/ring-vectors.tsv, built from its @scenario line. */
static void
test_ring_dovecot_vectors_match(void **state)
{
	struct pm_userhash_fmt f;
	struct pm_ring *r = NULL;
	struct spec sp;
	char line[4096], name[64], buf[PM_ADDR_STRLEN];
	unsigned long rows = 0, scen_rows = 0, scenarios = 0;
	int tag = 0;
	FILE *fp;

	(void)state;
	fp = pm_testdata_open("ring-vectors.tsv");
	assert_int_equal(pm_userhash_compile(&f, "%Lu", '\0', NULL, 0), 0);
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t len = strcspn(line, "\n");
		char *tab1, *tab2, *end;
		unsigned long want;
		uint32_t h;
		int idx;

		line[len] = '\0';
		if (line[0] == '#')
			continue;
		if (strncmp(line, "@scenario ", 10) == 0) {
			char *sp_text = strchr(line + 10, ' ');

			if (r != NULL) {
				assert_int_equal(scen_rows, 1000);
				pm_ring_free(r);
			}
			assert_non_null(sp_text);
			snprintf(name, sizeof(name), "%.*s", (int)(sp_text - line - 10), line + 10);
			r = build_spec(sp_text + 1, &sp);
			check_image(r);
			/* A scenario named after a tag uses that tag's ring, like
			 * postmuxctl ring --tag. */
			tag = pm_ring_find_tag(r, name);
			if (tag < 0)
				tag = 0;
			scenarios++;
			scen_rows = 0;
			continue;
		}
		assert_non_null(r);
		tab1 = strchr(line, '\t');
		assert_non_null(tab1);
		tab2 = strchr(tab1 + 1, '\t');
		assert_non_null(tab2);
		want = strtoul(tab1 + 1, &end, 10);
		assert_ptr_equal(end, tab2);
		h = pm_userhash(&f, line, (size_t)(tab1 - line));
		idx = pm_ring_lookup(r, (uint32_t)tag, h);
		buf[0] = '\0';
		if (idx != PM_RING_NO_HOST)
			fmt_addr(&r->hosts[idx].addr, buf);
		if (h != want || strcmp(buf, tab2 + 1) != 0)
			print_error("scenario %s row %lu '%.*s': got %u %s want %lu %s\n", name,
				    scen_rows + 1, (int)(tab1 - line), line, h, buf, want,
				    tab2 + 1);
		assert_int_equal(h, want);
		assert_string_equal(buf, tab2 + 1);
		rows++;
		scen_rows++;
	}
	fclose(fp);
	assert_int_equal(scen_rows, 1000);
	pm_ring_free(r);
	assert_int_equal(scenarios, 3);
	assert_int_equal(rows, 3000);
}

/* The "mixed" scenario: down and 0-vhost hosts own no points, IPv4 sorts
 * before IPv6, and a weight counts points exactly. */
static void
test_ring_down_and_zero_vhost_hosts_own_no_points(void **state)
{
	struct spec sp;
	struct pm_ring *r;
	char buf[PM_ADDR_STRLEN];
	uint32_t i, count[6] = { 0 };

	(void)state;
	r = build_spec("2001:db8::1=50 10.0.0.5=0 10.0.0.4=100:down 10.0.0.3=100 "
		       "10.0.0.2=37 10.0.0.1=100", &sp);
	check_image(r);
	assert_int_equal(r->nhosts, 6);
	for (i = 0; i < 5; i++) {
		char want[PM_ADDR_STRLEN];

		snprintf(want, sizeof(want), "10.0.0.%u", i + 1);
		assert_string_equal(fmt_addr(&r->hosts[i].addr, buf), want);
	}
	assert_string_equal(fmt_addr(&r->hosts[5].addr, buf), "2001:db8::1");
	assert_true(r->hosts[3].down);
	assert_int_equal(r->hosts[3].vhosts, 100);
	assert_int_equal(r->hosts[4].vhosts, 0);
	assert_int_equal(r->tags[0].npoints, 100 + 37 + 100 + 50);
	for (i = 0; i < r->tags[0].npoints; i++)
		count[r->tags[0].owner[i]]++;
	assert_int_equal(count[0], 100);
	assert_int_equal(count[1], 37);
	assert_int_equal(count[2], 100);
	assert_int_equal(count[3], 0);
	assert_int_equal(count[4], 0);
	assert_int_equal(count[5], 50);
	/* The ids stay attached to their hosts after the sort. */
	assert_int_equal(r->hosts[pm_ring_host_by_id(r, 1)].vhosts, 50);
	assert_int_equal(r->hosts[pm_ring_host_by_id(r, 6)].vhosts, 100);
	assert_int_equal(pm_ring_host_by_id(r, 6), 0);
	pm_ring_free(r);
}

static void
test_ring_empty_ring_has_no_host(void **state)
{
	static const char *const untagged[] = { "" };
	static const char *const two[] = { "", "t" };
	struct pm_addr some = addr_of("10.0.0.1");
	struct pm_ring *r = NULL;
	struct spec sp;
	uint32_t h;

	(void)state;
	/* No hosts at all. */
	assert_int_equal(pm_ring_build(NULL, 0, untagged, 1, 1, &r), 0);
	assert_non_null(r);
	assert_int_equal(r->nhosts, 0);
	assert_int_equal(r->tags[0].npoints, 0);
	assert_int_equal(pm_ring_lookup(r, 0, 12345), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_id(r, 1), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_addr(r, &some), PM_RING_NO_HOST);
	pm_ring_free(r);
	/* Every host down or at 0 vhosts. */
	r = build_spec("10.0.0.1:down 10.0.0.2=0 10.0.0.3=50:down", &sp);
	check_image(r);
	for (h = 0; h < 4000000000u; h += 99999989u)
		assert_int_equal(pm_ring_lookup(r, 0, h), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_lookup(r, 0, UINT32_MAX), PM_RING_NO_HOST);
	pm_ring_free(r);
	/* A tag whose ring is empty while the untagged one is not. */
	memset(&sp, 0, sizeof(sp));
	sp.in[0].addr = addr_of("10.0.0.1");
	sp.in[0].id = 1;
	sp.in[0].vhosts = 10;
	sp.in[1].addr = addr_of("10.0.0.2");
	sp.in[1].id = 2;
	sp.in[1].vhosts = 10;
	sp.in[1].tag = 1;
	sp.in[1].down = true;
	assert_int_equal(pm_ring_build(sp.in, 2, two, 2, 1, &r), 0);
	check_image(r);
	assert_int_equal(pm_ring_lookup(r, 1, 5), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_lookup(r, 0, 5), 0);
	assert_int_equal(pm_ring_find_tag(r, "t"), 1);
	assert_int_equal(pm_ring_find_tag(r, "T"), -ENOENT);
	assert_int_equal(pm_ring_find_tag(r, "nope"), -ENOENT);
	pm_ring_free(r);
}

/* Tags each get their own ring; a user can land on different hosts. */
static void
test_ring_tags_have_separate_rings(void **state)
{
	struct spec sp;
	struct pm_ring *r;
	int ta, tb;
	uint32_t i;

	(void)state;
	r = build_spec("10.0.1.2@tagA=20 10.0.0.1=100 10.0.1.1@tagA=100 10.0.2.1@b=3", &sp);
	check_image(r);
	assert_int_equal(r->ntags, 3);
	ta = pm_ring_find_tag(r, "tagA");
	tb = pm_ring_find_tag(r, "b");
	assert_true(ta > 0 && tb > 0 && ta != tb);
	assert_int_equal(pm_ring_find_tag(r, ""), 0);
	assert_int_equal(r->tags[0].npoints, 100);
	assert_int_equal(r->tags[ta].npoints, 120);
	assert_int_equal(r->tags[tb].npoints, 3);
	for (i = 0; i < 1000; i++) {
		uint32_t h = i * 4294967u;

		assert_int_equal(r->hosts[pm_ring_lookup(r, 0, h)].tag, 0);
		assert_int_equal(r->hosts[pm_ring_lookup(r, (uint32_t)ta, h)].tag, ta);
		assert_int_equal(r->hosts[pm_ring_lookup(r, (uint32_t)tb, h)].tag, tb);
	}
	pm_ring_free(r);
}

/* Reference model of spec 1.2/1.3: sort (hash, IP) pairs, then Dovecot's
 * binary search with mid = (lo + hi) / 2 and a stop on equality. */
struct ref_point {
	uint32_t hash;
	struct pm_addr addr;
};

static int
cmp_ref(const void *a, const void *b)
{
	const struct ref_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return pm_addr_cmp(&x->addr, &y->addr);
}

static const struct pm_addr *
ref_lookup(const struct ref_point *p, uint32_t n, uint32_t h)
{
	uint32_t lo = 0, hi = n, mid, idx;

	if (n == 0)
		return NULL;
	for (;;) {
		if (lo >= hi) {
			idx = lo;
			break;
		}
		mid = (lo + hi) / 2;
		if (p[mid].hash < h) {
			lo = mid + 1;
		} else if (p[mid].hash > h) {
			hi = mid;
		} else {
			idx = mid;
			break;
		}
	}
	if (idx == n)
		idx = 0;
	return &p[idx].addr;
}

/* A hand-worked tie case: 7 points, three of them equal at 200. */
static void
test_ring_equal_hashes_follow_ip_order_and_dovecot_search(void **state)
{
	static const char *const untagged[] = { "" };
	static const uint32_t pa[] = { 100, 200, 300 };	/* 10.0.0.2 */
	static const uint32_t pb[] = { 200, 300, 400 };	/* 10.0.0.1 */
	static const uint32_t pc[] = { 200 };			/* 2001:db8::1 */
	/* Sorted: 100 A | 200 B | 200 A | 200 C | 300 B | 300 A | 400 B. */
	static const struct {
		uint32_t hash;
		const char *backend;
	} q[] = {
		{ 0, "10.0.0.2" },	/* 0 -> index 0 */
		{ 100, "10.0.0.2" },	/* mid 3, 1, then 0 equal */
		{ 150, "10.0.0.1" },	/* insert position 1 */
		{ 200, "2001:db8::1" },	/* first midpoint, 3, is equal */
		{ 250, "10.0.0.1" },	/* index 4 */
		{ 300, "10.0.0.2" },	/* mid 3 <, then mid 5 equal */
		{ 301, "10.0.0.1" },	/* index 6 */
		{ 400, "10.0.0.1" },
		{ 401, "10.0.0.2" },	/* past the end: wraps to 0 */
		{ UINT32_MAX, "10.0.0.2" },
	};
	struct pm_ring_input in[3];
	struct pm_ring *r = NULL;
	char buf[PM_ADDR_STRLEN];
	size_t i;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].addr = addr_of("10.0.0.2");
	in[0].id = 10;
	in[0].vhosts = 3;
	in[0].points = pa;
	in[1].addr = addr_of("2001:db8::1");
	in[1].id = 11;
	in[1].vhosts = 1;
	in[1].points = pc;
	in[2].addr = addr_of("10.0.0.1");
	in[2].id = 12;
	in[2].vhosts = 3;
	in[2].points = pb;
	assert_int_equal(pm_ring_build(in, 3, untagged, 1, 1, &r), 0);
	check_image(r);
	assert_int_equal(r->tags[0].npoints, 7);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		int idx = pm_ring_lookup(r, 0, q[i].hash);

		assert_true(idx >= 0);
		if (strcmp(fmt_addr(&r->hosts[idx].addr, buf), q[i].backend) != 0)
			print_error("hash %u\n", q[i].hash);
		assert_string_equal(buf, q[i].backend);
	}
	pm_ring_free(r);
}

static uint32_t
xorshift32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Many small rings with heavy hash collisions between hosts, compared with
 * the reference model at, next to and between every point. */
static void
test_ring_random_ties_match_reference_model(void **state)
{
	static const char *const untagged[] = { "" };
	static uint32_t pts[8][40];
	struct pm_ring_input in[8];
	struct ref_point ref[8 * 40];
	uint32_t seed = TEST_SEED, round, nref;

	(void)state;
	print_message("# test_ring_random_ties_match_reference_model seed 0x%08x\n", seed);
	for (round = 0; round < 300; round++) {
		uint32_t n = 1 + xorshift32(&seed) % 8, i, v, k;
		/* Few distinct values so that equal hashes are common; the
		 * extremes 0 and UINT32_MAX take part too. */
		uint32_t span = 1 + xorshift32(&seed) % 30;
		struct pm_ring *r = NULL;

		memset(in, 0, sizeof(in));
		nref = 0;
		for (i = 0; i < n; i++) {
			char ip[64];

			if (xorshift32(&seed) % 3 == 0)
				snprintf(ip, sizeof(ip), "2001:db8::%x", i * 7 + 1);
			else
				snprintf(ip, sizeof(ip), "10.0.%u.%u", xorshift32(&seed) % 3,
					 i * 10 + 1);
			in[i].addr = addr_of(ip);
			in[i].id = 100 + i;
			in[i].vhosts = (uint16_t)(xorshift32(&seed) % 41);
			in[i].down = xorshift32(&seed) % 5 == 0;
			for (v = 0; v < in[i].vhosts; v++) {
				uint32_t x = xorshift32(&seed) % (span + 2);

				pts[i][v] = x == span ? 0 : x == span + 1 ? UINT32_MAX :
					    x * 1000u + 1;
			}
			in[i].points = pts[i];
			if (in[i].down)
				continue;
			for (v = 0; v < in[i].vhosts; v++) {
				ref[nref].hash = pts[i][v];
				ref[nref].addr = in[i].addr;
				nref++;
			}
		}
		assert_int_equal(pm_ring_build(in, n, untagged, 1, round, &r), 0);
		check_image(r);
		qsort(ref, nref, sizeof(ref[0]), cmp_ref);
		assert_int_equal(r->tags[0].npoints, nref);
		for (k = 0; k < nref; k++)
			assert_int_equal(r->tags[0].hash[k], ref[k].hash);
		for (k = 0; k <= span + 1; k++) {
			uint32_t probes[5] = { k * 1000u, k * 1000u + 1, k * 1000u + 2, 0,
					       UINT32_MAX };

			for (v = 0; v < 5; v++) {
				const struct pm_addr *want = ref_lookup(ref, nref, probes[v]);
				int idx = pm_ring_lookup(r, 0, probes[v]);

				if (want == NULL) {
					assert_int_equal(idx, PM_RING_NO_HOST);
					continue;
				}
				assert_true(idx >= 0);
				if (!pm_addr_eq(&r->hosts[idx].addr, want))
					print_error("seed 0x%08x round %u hash %u\n", TEST_SEED,
						    round, probes[v]);
				assert_true(pm_addr_eq(&r->hosts[idx].addr, want));
			}
		}
		pm_ring_free(r);
	}
}

/* Precomputed points give the same image as points the builder hashes. */
static void
test_ring_precomputed_points_equal_computed(void **state)
{
	static const char *const untagged[] = { "" };
	static uint32_t pts[3][1000];
	struct pm_ring_input in[3];
	struct pm_ring *a = NULL, *b = NULL;
	uint32_t i;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].addr = addr_of("10.0.0.9");
	in[0].vhosts = 1000;
	in[1].addr = addr_of("fd00::9");
	in[1].vhosts = 333;
	in[2].addr = addr_of("10.0.0.8");
	in[2].vhosts = 1;
	for (i = 0; i < 3; i++) {
		in[i].id = i + 1;
		assert_int_equal(pm_ring_vhost_hashes(&in[i].addr, 0, in[i].vhosts, pts[i]), 0);
	}
	assert_int_equal(pm_ring_build(in, 3, untagged, 1, 1, &a), 0);
	for (i = 0; i < 3; i++)
		in[i].points = pts[i];
	assert_int_equal(pm_ring_build(in, 3, untagged, 1, 2, &b), 0);
	check_image(a);
	check_image(b);
	assert_int_equal(a->tags[0].npoints, 1334);
	assert_int_equal(b->tags[0].npoints, 1334);
	assert_memory_equal(a->tags[0].hash, b->tags[0].hash, 1334 * sizeof(uint32_t));
	assert_memory_equal(a->tags[0].owner, b->tags[0].owner, 1334 * sizeof(uint16_t));
	assert_int_equal(a->generation, 1);
	assert_int_equal(b->generation, 2);
	pm_ring_free(a);
	pm_ring_free(b);
}

static void
test_ring_bad_input_is_rejected(void **state)
{
	static const char *const untagged[] = { "" };
	static const char *const two[] = { "", "x" };
	struct pm_ring_input in[2];
	struct pm_ring *r = NULL;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].addr = addr_of("10.0.0.1");
	in[0].id = 1;
	in[0].vhosts = 100;
	in[1].addr = addr_of("10.0.0.1");
	in[1].id = 2;
	in[1].vhosts = 100;
	/* Duplicate IP, also in another tag and in another spelling. */
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EEXIST);
	in[1].tag = 1;
	assert_int_equal(pm_ring_build(in, 2, two, 2, 1, &r), -EEXIST);
	in[1].tag = 0;
	in[0].addr = addr_of("2001:db8::1");
	in[1].addr = addr_of("2001:DB8:0::0:1");
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EEXIST);
	/* Duplicate id, and ids equal in their low 16 bits. */
	in[1].addr = addr_of("10.0.0.2");
	in[1].id = 1;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EEXIST);
	in[1].id = 0x10001;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EEXIST);
	in[1].id = 2;
	/* vhosts: 1000 is the maximum, 1001 is rejected, even when down. */
	in[1].vhosts = PM_RING_MAX_VHOSTS;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), 0);
	assert_int_equal(r->tags[0].npoints, 1100);
	pm_ring_free(r);
	in[1].vhosts = PM_RING_MAX_VHOSTS + 1;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EINVAL);
	in[1].down = true;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EINVAL);
	in[1].down = false;
	in[1].vhosts = 5;
	/* A tag index out of range, no tags at all, no address family. */
	in[1].tag = 1;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EINVAL);
	in[1].tag = 0;
	assert_int_equal(pm_ring_build(in, 2, untagged, 0, 1, &r), -EINVAL);
	in[1].addr.family = PM_AF_NONE;
	assert_int_equal(pm_ring_build(in, 2, untagged, 1, 1, &r), -EINVAL);
}

static void
test_ring_host_lookups_by_id_and_addr(void **state)
{
	static const char *const untagged[] = { "" };
	struct pm_ring_input in[3];
	struct pm_ring *r = NULL;
	struct pm_addr absent = addr_of("10.0.0.7"), absent6 = addr_of("::1");
	int i;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].addr = addr_of("10.0.0.9");
	in[0].id = 0x20005;
	in[1].addr = addr_of("10.0.0.3");
	in[1].id = 77;
	in[2].addr = addr_of("::2");
	in[2].id = 0;
	assert_int_equal(pm_ring_build(in, 3, untagged, 1, 1, &r), 0);
	check_image(r);
	assert_int_equal(pm_ring_host_by_id(r, 77), 0);
	assert_int_equal(pm_ring_host_by_id(r, 0x20005), 1);
	assert_int_equal(pm_ring_host_by_id(r, 0), 2);
	/* Same low 16 bits, different id; and ids past the index. */
	assert_int_equal(pm_ring_host_by_id(r, 5), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_id(r, 0x10000), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_id(r, 78), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_id(r, 0xffff), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_id(r, UINT32_MAX), PM_RING_NO_HOST);
	for (i = 0; i < 3; i++)
		assert_true(pm_addr_eq(&r->hosts[pm_ring_host_by_addr(r, &in[i].addr)].addr,
				       &in[i].addr));
	assert_int_equal(pm_ring_host_by_addr(r, &absent), PM_RING_NO_HOST);
	assert_int_equal(pm_ring_host_by_addr(r, &absent6), PM_RING_NO_HOST);
	/* No points: every host has 0 vhosts. */
	assert_int_equal(r->tags[0].npoints, 0);
	assert_int_equal(pm_ring_lookup(r, 0, 1), PM_RING_NO_HOST);
	pm_ring_free(r);
}

static void
test_ring_addr_parse_format_round_trips(void **state)
{
	static const char *const cases[][2] = {
		{ "10.0.0.1", "10.0.0.1" },
		{ "0.0.0.0", "0.0.0.0" },
		{ "255.255.255.255", "255.255.255.255" },
		{ "2001:DB8:0:0::1", "2001:db8::1" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "::", "::" },
		{ "::1", "::1" },
		{ "::ffff:10.0.0.1", "::ffff:10.0.0.1" },
		{ "0000:0000:0000:0000:0000:ffff:255.255.255.255", "::ffff:255.255.255.255" },
	};
	struct pm_addr a;
	char buf[PM_ADDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pm_addr_parse(&a, cases[i][0], strlen(cases[i][0])), 0);
		assert_int_equal(pm_addr_format(&a, buf, sizeof(buf)), strlen(cases[i][1]));
		assert_string_equal(buf, cases[i][1]);
	}
	/* Only @len bytes are parsed. */
	assert_int_equal(pm_addr_parse(&a, "10.0.0.1xyz", 8), 0);
	assert_int_equal(a.family, PM_AF_INET);
	assert_int_equal(a.bytes[3], 1);
	assert_int_equal(a.bytes[4], 0);
	a = addr_of("2001:db8::1");
	assert_int_equal(a.family, PM_AF_INET6);
	assert_int_equal(pm_addr_len(&a), 16);
	assert_int_equal(a.bytes[0], 0x20);
	assert_int_equal(a.bytes[15], 1);
}

static void
test_ring_addr_bad_text_is_rejected(void **state)
{
	static const char *const bad[] = {
		"", "10.0.0.300", "10.0.0", "10.1", "010.0.0.1", "10.0.0.1 ", " 10.0.0.1",
		"10.0.0.1/24", "host.example", "2001:db8::1::2", "2001:db8:::1",
		"1:2:3:4:5:6:7:8:9",
		"[::1]", "10.0.0.-1", "0x0a.0.0.1", "::ffff:10.0.0.256",
		/* 46 bytes: longer than any address text. */
		"0000:0000:0000:0000:0000:ffff:255.255.255.2555",
	};
	struct pm_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pm_addr_parse(&a, bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	/* An embedded NUL is not a terminator. */
	assert_int_equal(pm_addr_parse(&a, "10.0.0.1\0", 9), -EINVAL);
	assert_int_equal(pm_addr_parse(&a, "10.0\0.0.1", 9), -EINVAL);
}

static void
test_ring_addr_format_small_buffer_fails(void **state)
{
	struct pm_addr a = addr_of("10.0.0.1"), six = addr_of("2001:db8::1"), none;
	char buf[PM_ADDR_STRLEN];

	(void)state;
	assert_int_equal(pm_addr_format(&a, buf, 9), 8);
	assert_int_equal(pm_addr_format(&a, buf, 8), -ENOSPC);
	assert_int_equal(pm_addr_format(&six, buf, 11), -ENOSPC);
	assert_int_equal(pm_addr_format(&six, buf, 12), 11);
	memset(&none, 0, sizeof(none));
	assert_int_equal(pm_addr_format(&none, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pm_addr_len(&none), 0);
}

/* net_ip_cmp order: family first (every IPv4 before every IPv6), then
 * network-order bytes. */
static void
test_ring_addr_cmp_orders_family_then_bytes(void **state)
{
	static const char *const sorted[] = {
		"0.0.0.0", "9.255.255.255", "10.0.0.1", "10.0.0.2", "10.0.0.10", "10.0.1.0",
		"255.255.255.255", "::", "::1", "::ffff:0.0.0.1", "2001:db8::1", "fe80::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	struct pm_addr a, b, none;
	size_t n = sizeof(sorted) / sizeof(sorted[0]), i, j;

	(void)state;
	memset(&none, 0, sizeof(none));
	for (i = 0; i < n; i++) {
		a = addr_of(sorted[i]);
		assert_true(pm_addr_cmp(&none, &a) < 0);
		assert_true(pm_addr_cmp(&a, &none) > 0);
		for (j = 0; j < n; j++) {
			int c;

			b = addr_of(sorted[j]);
			c = pm_addr_cmp(&a, &b);
			if (i < j)
				assert_true(c < 0);
			else if (i > j)
				assert_true(c > 0);
			else
				assert_int_equal(c, 0);
			assert_true(pm_addr_eq(&a, &b) == (i == j));
		}
	}
	assert_int_equal(pm_addr_cmp(&none, &none), 0);
}

/* hosts[] is in address order whatever the input order. */
static void
test_ring_hosts_sorted_ipv4_before_ipv6(void **state)
{
	static const char *const untagged[] = { "" };
	static const char *const ips[] = { "2001:db8::1", "10.0.0.2", "::1", "255.255.255.255",
					   "10.0.0.1", "::ffff:1.1.1.1", "9.0.0.0" };
	static const char *const want[] = { "9.0.0.0", "10.0.0.1", "10.0.0.2",
					    "255.255.255.255", "::1", "::ffff:1.1.1.1",
					    "2001:db8::1" };
	struct pm_ring_input in[7];
	struct pm_ring *r = NULL;
	char buf[PM_ADDR_STRLEN];
	uint32_t i;

	(void)state;
	memset(in, 0, sizeof(in));
	for (i = 0; i < 7; i++) {
		in[i].addr = addr_of(ips[i]);
		in[i].id = 1000 + i;
		in[i].vhosts = (uint16_t)(i + 1);
	}
	assert_int_equal(pm_ring_build(in, 7, untagged, 1, 1, &r), 0);
	check_image(r);
	for (i = 0; i < 7; i++) {
		assert_string_equal(fmt_addr(&r->hosts[i].addr, buf), want[i]);
		/* The host's attributes moved with it. */
		assert_int_equal(r->hosts[i].vhosts, r->hosts[i].id - 1000 + 1);
		assert_string_equal(ips[r->hosts[i].id - 1000], want[i]);
	}
	assert_int_equal(r->tags[0].npoints, 28);
	pm_ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_vhost_points_match_spec),
		cmocka_unit_test(test_ring_ipv6_points_use_canonical_text),
		cmocka_unit_test(test_ring_five_hosts_match_worked_example),
		cmocka_unit_test(test_ring_dovecot_vectors_match),
		cmocka_unit_test(test_ring_down_and_zero_vhost_hosts_own_no_points),
		cmocka_unit_test(test_ring_empty_ring_has_no_host),
		cmocka_unit_test(test_ring_tags_have_separate_rings),
		cmocka_unit_test(test_ring_equal_hashes_follow_ip_order_and_dovecot_search),
		cmocka_unit_test(test_ring_random_ties_match_reference_model),
		cmocka_unit_test(test_ring_precomputed_points_equal_computed),
		cmocka_unit_test(test_ring_bad_input_is_rejected),
		cmocka_unit_test(test_ring_host_lookups_by_id_and_addr),
		cmocka_unit_test(test_ring_addr_parse_format_round_trips),
		cmocka_unit_test(test_ring_addr_bad_text_is_rejected),
		cmocka_unit_test(test_ring_addr_format_small_buffer_fails),
		cmocka_unit_test(test_ring_addr_cmp_orders_family_then_bytes),
		cmocka_unit_test(test_ring_hosts_sorted_ipv4_before_ipv6),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
