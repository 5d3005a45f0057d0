/*
 * test_route.c -- static routes (net/route.h): connected, static and default
 * routes, longest prefix match, and every refusal of pm_route_build(). The
 * random case prints its seed; set PM_SEED to replay another run.
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

#include "net/route.h"
#include "testaddr.h"
#include "testrand.h"

#define TEST_SEED 0x7047e5u

/* Two ports: 0 = 10.0.0.1/24 (backends' gateway side), 1 = 192.0.2.1/24. */
static struct pm_route_if ifs[2];

static int
setup(void **state)
{
	(void)state;
	ifs[0].addr = ip("10.0.0.1");
	ifs[0].prefixlen = 24;
	ifs[1].addr = ip("192.0.2.1");
	ifs[1].prefixlen = 24;
	return 0;
}

/* A route from "prefix/len via gw" or "default via gw". */
static struct pm_route_spec
rt(const char *prefix, unsigned int len, const char *gw)
{
	struct pm_route_spec s;

	memset(&s, 0, sizeof(s));
	s.prefix = ip(prefix);
	s.len = (uint8_t)len;
	s.gw = ip(gw);
	return s;
}

/* Look up @dst and check the port and next hop. */
static void
assert_route(const struct pm_route_table *t, const char *dst, uint16_t port, const char *nh)
{
	struct pm_addr d = ip(dst), got, want = ip(nh);
	uint16_t p = 0xffff;

	if (pm_route_lookup(t, &d, &p, &got) != 0)
		fail_msg("%s: no route", dst);
	if (p != port || !pm_addr_eq(&got, &want))
		fail_msg("%s: port %u via %s, want port %u via %s", dst, p, ipstr(&got), port, nh);
}

static void
assert_unreach(const struct pm_route_table *t, const char *dst)
{
	struct pm_addr d = ip(dst), nh;
	uint16_t p;

	assert_int_equal(pm_route_lookup(t, &d, &p, &nh), -ENETUNREACH);
}

static void
test_route_connected_static_and_default_are_chosen(void **state)
{
	struct pm_route_spec r[2];
	struct pm_route_table t;
	char err[256];

	(void)state;
	r[0] = rt("198.51.100.0", 24, "10.0.0.254");
	r[1] = rt("0.0.0.0", 0, "192.0.2.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 2, err, sizeof(err)), 0);
	assert_int_equal(pm_route_count(&t), 4);
	/* On a connected subnet the destination is its own next hop. */
	assert_route(&t, "10.0.0.7", 0, "10.0.0.7");
	assert_route(&t, "192.0.2.99", 1, "192.0.2.99");
	/* Behind a gateway: the gateway's port and the gateway. */
	assert_route(&t, "198.51.100.10", 0, "10.0.0.254");
	/* Anything else takes the default route. */
	assert_route(&t, "8.8.8.8", 1, "192.0.2.254");
	assert_route(&t, "10.0.1.1", 1, "192.0.2.254");
}

static void
test_route_unreachable_without_default(void **state)
{
	struct pm_route_spec r = rt("198.51.100.0", 24, "10.0.0.254");
	struct pm_route_table t;
	struct pm_addr a6 = ip("2001:db8::1"), nh;
	char err[256];
	uint16_t p;

	(void)state;
	assert_int_equal(pm_route_build(&t, ifs, 2, &r, 1, err, sizeof(err)), 0);
	assert_unreach(&t, "8.8.8.8");
	assert_unreach(&t, "198.51.101.1");
	assert_unreach(&t, "10.0.1.0");
	assert_int_equal(pm_route_lookup(&t, &a6, &p, &nh), -EAFNOSUPPORT);
	/* No ports, no routes: nothing is reachable. */
	assert_int_equal(pm_route_build(&t, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(pm_route_count(&t), 0);
	assert_unreach(&t, "10.0.0.1");
}

static void
test_route_longest_prefix_wins(void **state)
{
	struct pm_route_spec r[4];
	struct pm_route_table t;
	char err[256];

	(void)state;
	/* Given shortest first, so the order of the lines does not matter. */
	r[0] = rt("0.0.0.0", 0, "192.0.2.254");
	r[1] = rt("198.51.0.0", 16, "10.0.0.250");
	r[2] = rt("198.51.100.0", 24, "10.0.0.251");
	r[3] = rt("198.51.100.128", 25, "192.0.2.252");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 4, err, sizeof(err)), 0);
	assert_route(&t, "198.51.100.200", 1, "192.0.2.252");
	assert_route(&t, "198.51.100.128", 1, "192.0.2.252");
	assert_route(&t, "198.51.100.127", 0, "10.0.0.251");
	assert_route(&t, "198.51.7.7", 0, "10.0.0.250");
	assert_route(&t, "198.52.0.1", 1, "192.0.2.254");
}

static void
test_route_host_route_32_beats_its_subnet(void **state)
{
	struct pm_route_spec r[2];
	struct pm_route_table t;
	char err[256];

	(void)state;
	r[0] = rt("198.51.100.0", 24, "10.0.0.254");
	r[1] = rt("198.51.100.7", 32, "192.0.2.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 2, err, sizeof(err)), 0);
	assert_route(&t, "198.51.100.7", 1, "192.0.2.254");
	assert_route(&t, "198.51.100.6", 0, "10.0.0.254");
	assert_route(&t, "198.51.100.8", 0, "10.0.0.254");
	/* A host route inside a connected subnet overrides it too. */
	r[0] = rt("10.0.0.9", 32, "192.0.2.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 1, err, sizeof(err)), 0);
	assert_route(&t, "10.0.0.9", 1, "192.0.2.254");
	assert_route(&t, "10.0.0.10", 0, "10.0.0.10");
}

/* Overlapping port subnets: the gateway's longest connected match picks the
 * port. */
static void
test_route_gateway_picks_longest_connected_subnet(void **state)
{
	struct pm_route_if two[2];
	struct pm_route_spec r = rt("203.0.113.0", 24, "10.0.5.9");
	struct pm_route_table t;
	char err[256];

	(void)state;
	two[0].addr = ip("10.0.0.1");
	two[0].prefixlen = 16;
	two[1].addr = ip("10.0.5.1");
	two[1].prefixlen = 24;
	assert_int_equal(pm_route_build(&t, two, 2, &r, 1, err, sizeof(err)), 0);
	assert_route(&t, "203.0.113.1", 1, "10.0.5.9");
	assert_route(&t, "10.0.5.200", 1, "10.0.5.200");
	assert_route(&t, "10.0.6.200", 0, "10.0.6.200");
}

/* Every refusal, with its message. */
static void
test_route_bad_routes_are_refused_with_a_message(void **state)
{
	static const struct {
		const char *prefix;
		unsigned int len;
		const char *gw;
		const char *want;
	} cases[] = {
		{ "203.0.113.0", 24, "10.0.1.1",
		  "route 203.0.113.0/24: gateway 10.0.1.1 is on no port's subnet" },
		{ "0.0.0.0", 0, "172.16.0.1",
		  "route default: gateway 172.16.0.1 is on no port's subnet" },
		{ "203.0.113.1", 24, "10.0.0.254",
		  "route 203.0.113.1/24: host bits set (the network is 203.0.113.0/24)" },
		{ "10.0.0.0", 0, "10.0.0.254",
		  "route 10.0.0.0/0: host bits set (the network is 0.0.0.0/0)" },
		{ "203.0.113.0", 33, "10.0.0.254",
		  "route 203.0.113.0: prefix length 33 is over 32" },
		{ "203.0.113.0", 24, "10.0.0.1",
		  "route 203.0.113.0/24: gateway 10.0.0.1 is port 0's own address" },
		{ "203.0.113.0", 24, "10.0.0.0",
		  "route 203.0.113.0/24: gateway 10.0.0.0 is the network or broadcast address "
		  "of 10.0.0.0/24" },
		{ "203.0.113.0", 24, "10.0.0.255", "is the network or broadcast address" },
		{ "10.0.0.0", 24, "192.0.2.254",
		  "route 10.0.0.0/24: the same prefix as port 0's subnet" },
		{ "203.0.113.0", 24, "2001:db8::1", "route 0: only IPv4 routes are supported" },
		{ "2001:db8::", 32, "10.0.0.254", "route 0: only IPv4 routes are supported" },
	};
	struct pm_route_table t;
	struct pm_route_spec r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = rt(cases[i].prefix, cases[i].len, cases[i].gw);
		err[0] = '\0';
		assert_int_equal(pm_route_build(&t, ifs, 2, &r, 1, err, sizeof(err)), -EINVAL);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].want);
		/* A failed build leaves an empty table. */
		assert_int_equal(pm_route_count(&t), 0);
	}
}

static void
test_route_duplicates_are_refused(void **state)
{
	struct pm_route_if same[2];
	struct pm_route_spec r[3];
	struct pm_route_table t;
	char err[256];

	(void)state;
	r[0] = rt("203.0.113.0", 24, "10.0.0.254");
	r[1] = rt("198.51.100.0", 24, "10.0.0.254");
	r[2] = rt("203.0.113.0", 24, "192.0.2.254");	/* other gateway, same prefix */
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 3, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "route 203.0.113.0/24 is given twice");
	r[0] = rt("0.0.0.0", 0, "10.0.0.254");
	r[1] = rt("0.0.0.0", 0, "192.0.2.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "route default is given twice");
	/* Same prefix, different lengths: not a duplicate. */
	r[0] = rt("203.0.113.0", 24, "10.0.0.254");
	r[1] = rt("203.0.113.0", 25, "10.0.0.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 2, err, sizeof(err)), 0);
	/* Two ports on one subnet would make the port ambiguous. */
	same[0].addr = ip("10.0.0.1");
	same[0].prefixlen = 24;
	same[1].addr = ip("10.0.0.2");
	same[1].prefixlen = 24;
	assert_int_equal(pm_route_build(&t, same, 2, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port 1: subnet 10.0.0.0/24 is port 0's too");
}

static void
test_route_limits_and_bad_ports_are_refused(void **state)
{
	struct pm_route_if many[PM_ROUTE_IFS_MAX + 1], bad;
	struct pm_route_spec r[PM_ROUTE_MAX + 1];
	struct pm_route_table t;
	char err[256], a[32];
	size_t i;

	(void)state;
	for (i = 0; i <= PM_ROUTE_IFS_MAX; i++) {
		snprintf(a, sizeof(a), "10.%zu.0.1", i);
		many[i].addr = ip(a);
		many[i].prefixlen = 24;
	}
	assert_int_equal(pm_route_build(&t, many, PM_ROUTE_IFS_MAX, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(pm_route_build(&t, many, PM_ROUTE_IFS_MAX + 1, NULL, 0, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "more than 16 ports");
	for (i = 0; i <= PM_ROUTE_MAX; i++) {
		snprintf(a, sizeof(a), "172.16.%zu.0", i);
		r[i] = rt(a, 24, "10.0.0.254");
	}
	assert_int_equal(pm_route_build(&t, ifs, 2, r, PM_ROUTE_MAX, err, sizeof(err)), 0);
	assert_int_equal(pm_route_count(&t), 2 + PM_ROUTE_MAX);
	assert_route(&t, "172.16.63.1", 0, "10.0.0.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, PM_ROUTE_MAX + 1, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "more than 64 routes");
	bad.addr = ip("2001:db8::1");
	bad.prefixlen = 64;
	assert_int_equal(pm_route_build(&t, &bad, 1, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port 0: only IPv4 addresses are supported");
	bad.addr = ip("10.0.0.1");
	bad.prefixlen = 33;
	assert_int_equal(pm_route_build(&t, &bad, 1, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port 0: prefix length 33 is over 32");
	/* A /32 port has only itself on-link; a /0 port has everything. */
	bad.prefixlen = 32;
	assert_int_equal(pm_route_build(&t, &bad, 1, NULL, 0, err, sizeof(err)), 0);
	assert_route(&t, "10.0.0.1", 0, "10.0.0.1");
	assert_unreach(&t, "10.0.0.2");
	bad.prefixlen = 0;
	assert_int_equal(pm_route_build(&t, &bad, 1, NULL, 0, err, sizeof(err)), 0);
	assert_route(&t, "203.0.113.5", 0, "203.0.113.5");
	/* A /31 (RFC 3021) has no network or broadcast address. */
	bad.prefixlen = 31;
	r[0] = rt("0.0.0.0", 0, "10.0.0.0");
	assert_int_equal(pm_route_build(&t, &bad, 1, r, 1, err, sizeof(err)), 0);
	assert_route(&t, "8.8.8.8", 0, "10.0.0.0");
}

static void
test_route_listing_is_longest_first_and_formats(void **state)
{
	struct pm_route_spec r[3];
	struct pm_route_table t;
	char err[256], buf[128];
	const struct pm_route *x;
	size_t i;
	int n;

	(void)state;
	r[0] = rt("0.0.0.0", 0, "192.0.2.254");
	r[1] = rt("198.51.100.7", 32, "10.0.0.254");
	r[2] = rt("198.51.0.0", 16, "10.0.0.254");
	assert_int_equal(pm_route_build(&t, ifs, 2, r, 3, err, sizeof(err)), 0);
	assert_int_equal(pm_route_count(&t), 5);
	for (i = 1; i < pm_route_count(&t); i++)
		assert_true(pm_route_get(&t, i - 1)->len >= pm_route_get(&t, i)->len);
	assert_null(pm_route_get(&t, 5));
	x = pm_route_get(&t, 0);
	n = pm_route_format(x, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "198.51.100.7/32 via 10.0.0.254 port 0");
	/* Connected routes in port order, both /24. */
	pm_route_format(pm_route_get(&t, 1), buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/24 port 0");
	pm_route_format(pm_route_get(&t, 2), buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24 port 1");
	assert_int_equal(pm_route_get(&t, 2)->gw.family, PM_AF_NONE);
	pm_route_format(pm_route_get(&t, 3), buf, sizeof(buf));
	assert_string_equal(buf, "198.51.0.0/16 via 10.0.0.254 port 0");
	pm_route_format(pm_route_get(&t, 4), buf, sizeof(buf));
	assert_string_equal(buf, "default via 192.0.2.254 port 1");
	assert_int_equal(pm_route_format(pm_route_get(&t, 4), buf, 8), -ENOSPC);
	assert_int_equal(strlen(buf), 7);
}

static uint32_t
v4(const struct pm_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

/* Random tables (198.0.0.0/8 and wider, every length) against a brute-force
 * longest match. */
static void
test_route_random_lookups_match_brute_force(void **state)
{
	uint32_t rs = pm_test_seed("route_lpm", TEST_SEED);
	struct pm_route_spec r[PM_ROUTE_MAX];
	struct pm_route_table t;
	char err[256];
	int round, i, n, q;

	(void)state;
	for (round = 0; round < 200; round++) {
		n = 0;
		while (n < (int)(xorshift32(&rs) % PM_ROUTE_MAX)) {
			unsigned int len = xorshift32(&rs) % 33;
			uint32_t net = (0xc6000000u | (xorshift32(&rs) & 0x00ffffffu)) &
				       (len == 0 ? 0 : UINT32_MAX << (32 - len));
			struct pm_route_spec s;
			char a[32];

			snprintf(a, sizeof(a), "%u.%u.%u.%u", net >> 24, (net >> 16) & 255,
				 (net >> 8) & 255, net & 255);
			s = rt(a, len, xorshift32(&rs) % 2 ? "10.0.0.254" : "192.0.2.254");
			for (i = 0; i < n; i++) {
				if (r[i].len == s.len && pm_addr_eq(&r[i].prefix, &s.prefix))
					break;
			}
			if (i == n)
				r[n++] = s;
		}
		assert_int_equal(pm_route_build(&t, ifs, 2, r, (size_t)n, err, sizeof(err)), 0);
		for (q = 0; q < 200; q++) {
			uint32_t d = 0xc6000000u | (xorshift32(&rs) & 0x00ffffffu);
			struct pm_addr dst, nh;
			int best = -1, got;
			uint16_t port;
			char a[32];

			if (q % 4 == 0 && n > 0) {	/* inside a route, often */
				const struct pm_route_spec *in = &r[xorshift32(&rs) % n];
				uint32_t m = in->len == 0 ? 0 : UINT32_MAX << (32 - in->len);

				d = (v4(&in->prefix) & m) | (d & ~m);
			}
			snprintf(a, sizeof(a), "%u.%u.%u.%u", d >> 24, (d >> 16) & 255,
				 (d >> 8) & 255, d & 255);
			dst = ip(a);
			for (i = 0; i < n; i++) {
				uint32_t m = r[i].len == 0 ? 0 : UINT32_MAX << (32 - r[i].len);

				if ((d & m) == v4(&r[i].prefix) &&
				    (best < 0 || r[i].len > r[best].len))
					best = i;
			}
			got = pm_route_lookup(&t, &dst, &port, &nh);
			if (best < 0) {
				assert_int_equal(got, -ENETUNREACH);
				continue;
			}
			assert_int_equal(got, 0);
			if (!pm_addr_eq(&nh, &r[best].gw))
				fail_msg("round %d: %s via %s, want %s", round, a, ipstr(&nh),
					 ipstr(&r[best].gw));
			assert_int_equal(port, r[best].gw.bytes[0] == 10 ? 0 : 1);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_connected_static_and_default_are_chosen),
		cmocka_unit_test(test_route_unreachable_without_default),
		cmocka_unit_test(test_route_longest_prefix_wins),
		cmocka_unit_test(test_route_host_route_32_beats_its_subnet),
		cmocka_unit_test(test_route_gateway_picks_longest_connected_subnet),
		cmocka_unit_test(test_route_bad_routes_are_refused_with_a_message),
		cmocka_unit_test(test_route_duplicates_are_refused),
		cmocka_unit_test(test_route_limits_and_bad_ports_are_refused),
		cmocka_unit_test(test_route_listing_is_longest_first_and_formats),
		cmocka_unit_test(test_route_random_lookups_match_brute_force),
	};

	return cmocka_run_group_tests_name("route", tests, setup, NULL);
}
