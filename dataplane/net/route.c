/*
 * route.c -- building and searching the static route table.
 */
#include "net/route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint32_t
v4_get(const struct pm_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static struct pm_addr
v4_make(uint32_t v)
{
	struct pm_addr a;

	memset(&a, 0, sizeof(a));
	a.family = PM_AF_INET;
	a.bytes[0] = (uint8_t)(v >> 24);
	a.bytes[1] = (uint8_t)(v >> 16);
	a.bytes[2] = (uint8_t)(v >> 8);
	a.bytes[3] = (uint8_t)v;
	return a;
}

static uint32_t
v4_mask(unsigned int len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

static int
fail(struct pm_route_table *t, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	t->n = 0;
	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* "a.b.c.d/len" or "default" for messages; @buf holds 64 bytes. */
static const char *
prefix_str(const struct pm_addr *a, unsigned int len, char *buf)
{
	char ip[PM_ADDR_STRLEN];

	if (a->family == PM_AF_INET && len == 0 && v4_get(a) == 0)
		return "default";
	if (pm_addr_format(a, ip, sizeof(ip)) < 0)
		strcpy(ip, "?");
	snprintf(buf, 64, "%s/%u", ip, len);
	return buf;
}

static const char *
addr_str(const struct pm_addr *a, char *buf)
{
	if (pm_addr_format(a, buf, PM_ADDR_STRLEN) < 0)
		strcpy(buf, "?");
	return buf;
}

/* Insert @r keeping the order: longer prefixes first, equal lengths in the
 * order they were added. */
static void
insert(struct pm_route_table *t, const struct pm_route *r)
{
	size_t i = t->n;

	while (i > 0 && t->r[i - 1].len < r->len) {
		t->r[i] = t->r[i - 1];
		t->net[i] = t->net[i - 1];
		t->mask[i] = t->mask[i - 1];
		i--;
	}
	t->r[i] = *r;
	t->mask[i] = v4_mask(r->len);
	t->net[i] = v4_get(&r->prefix);
	t->n++;
}

/* The index of the route with exactly this prefix/len, or -1. */
static long
find_exact(const struct pm_route_table *t, uint32_t net, uint8_t len)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (t->r[i].len == len && t->net[i] == net)
			return (long)i;
	}
	return -1;
}

int
pm_route_build(struct pm_route_table *t, const struct pm_route_if *ifs, size_t nifs,
	       const struct pm_route_spec *routes, size_t nroutes, char *err, size_t errlen)
{
	char pb[64], pb2[64], ab[PM_ADDR_STRLEN];
	struct pm_route r;
	size_t i, j;
	long k;

	memset(t, 0, sizeof(*t));
	if (nifs > PM_ROUTE_IFS_MAX)
		return fail(t, err, errlen, "more than %d ports", PM_ROUTE_IFS_MAX);
	if (nroutes > PM_ROUTE_MAX)
		return fail(t, err, errlen, "more than %d routes", PM_ROUTE_MAX);

	/* Connected routes: port i reaches its own subnet directly. */
	for (i = 0; i < nifs; i++) {
		if (ifs[i].addr.family != PM_AF_INET)
			return fail(t, err, errlen, "port %zu: only IPv4 addresses are supported",
				    i);
		if (ifs[i].prefixlen > 32)
			return fail(t, err, errlen, "port %zu: prefix length %u is over 32", i,
				    ifs[i].prefixlen);
		memset(&r, 0, sizeof(r));
		r.prefix = v4_make(v4_get(&ifs[i].addr) & v4_mask(ifs[i].prefixlen));
		r.len = ifs[i].prefixlen;
		r.port = (uint16_t)i;
		k = find_exact(t, v4_get(&r.prefix), r.len);
		if (k >= 0)
			return fail(t, err, errlen, "port %zu: subnet %s is port %u's too", i,
				    prefix_str(&r.prefix, r.len, pb), t->r[k].port);
		insert(t, &r);
	}

	/* Static routes: the gateway must be reachable on a connected subnet. */
	for (i = 0; i < nroutes; i++) {
		const struct pm_route_spec *s = &routes[i];
		uint32_t net, gw, m;
		long via = -1;

		if (s->prefix.family != PM_AF_INET || s->gw.family != PM_AF_INET)
			return fail(t, err, errlen, "route %zu: only IPv4 routes are supported", i);
		if (s->len > 32)
			return fail(t, err, errlen, "route %s: prefix length %u is over 32",
				    addr_str(&s->prefix, ab), s->len);
		net = v4_get(&s->prefix);
		m = v4_mask(s->len);
		if ((net & ~m) != 0) {
			struct pm_addr n = v4_make(net & m);

			return fail(t, err, errlen,
				    "route %s: host bits set (the network is %s/%u)",
				    prefix_str(&s->prefix, s->len, pb), addr_str(&n, ab), s->len);
		}
		gw = v4_get(&s->gw);
		/* The longest connected subnet holding the gateway: routes are
		 * sorted, so the first connected match wins. */
		for (j = 0; j < t->n; j++) {
			if (t->r[j].gw.family == PM_AF_NONE && (gw & t->mask[j]) == t->net[j]) {
				via = (long)j;
				break;
			}
		}
		if (via < 0)
			return fail(t, err, errlen, "route %s: gateway %s is on no port's subnet",
				    prefix_str(&s->prefix, s->len, pb), addr_str(&s->gw, ab));
		for (j = 0; j < nifs; j++) {
			if (v4_get(&ifs[j].addr) == gw)
				return fail(t, err, errlen,
					    "route %s: gateway %s is port %zu's own address",
					    prefix_str(&s->prefix, s->len, pb),
					    addr_str(&s->gw, ab), j);
		}
		if (t->r[via].len <= 30 &&
		    ((gw & ~t->mask[via]) == 0 || (gw | t->mask[via]) == UINT32_MAX))
			return fail(t, err, errlen,
				    "route %s: gateway %s is the network or broadcast address "
				    "of %s", prefix_str(&s->prefix, s->len, pb),
				    addr_str(&s->gw, ab),
				    prefix_str(&t->r[via].prefix, t->r[via].len, pb2));
		k = find_exact(t, net, s->len);
		if (k >= 0 && t->r[k].gw.family == PM_AF_NONE)
			return fail(t, err, errlen,
				    "route %s: the same prefix as port %u's subnet",
				    prefix_str(&s->prefix, s->len, pb), t->r[k].port);
		if (k >= 0)
			return fail(t, err, errlen, "route %s is given twice",
				    prefix_str(&s->prefix, s->len, pb));
		memset(&r, 0, sizeof(r));
		r.prefix = v4_make(net);
		r.len = s->len;
		r.port = t->r[via].port;
		r.gw = v4_make(gw);
		insert(t, &r);
	}
	return 0;
}

int
pm_route_lookup(const struct pm_route_table *t, const struct pm_addr *dst, uint16_t *port,
		struct pm_addr *nexthop)
{
	uint32_t d;
	size_t i;

	if (dst->family != PM_AF_INET)
		return -EAFNOSUPPORT;
	d = v4_get(dst);
	for (i = 0; i < t->n; i++) {
		if ((d & t->mask[i]) == t->net[i]) {
			*port = t->r[i].port;
			*nexthop = t->r[i].gw.family == PM_AF_NONE ? v4_make(d) : t->r[i].gw;
			return 0;
		}
	}
	return -ENETUNREACH;
}

size_t
pm_route_count(const struct pm_route_table *t)
{
	return t->n;
}

const struct pm_route *
pm_route_get(const struct pm_route_table *t, size_t i)
{
	return i < t->n ? &t->r[i] : NULL;
}

int
pm_route_format(const struct pm_route *r, char *buf, size_t size)
{
	char pb[64], gb[PM_ADDR_STRLEN];
	int n;

	if (r->gw.family == PM_AF_NONE)
		n = snprintf(buf, size, "%s port %u", prefix_str(&r->prefix, r->len, pb), r->port);
	else
		n = snprintf(buf, size, "%s via %s port %u", prefix_str(&r->prefix, r->len, pb),
			     addr_str(&r->gw, gb), r->port);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
