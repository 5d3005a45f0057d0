/*
 * route.h -- static IPv4 routing: each port's connected subnet plus the
 * configured static routes, looked up by longest prefix match.
 *
 * Owner: the caller provides a struct pm_route_table (plain, fixed size, no
 * pointers) and fills it once with pm_route_build(). After that the table is
 * immutable and every worker lcore reads it without synchronisation.
 * Threads: build before the readers start (or publish it afterwards); lookups
 * from any thread. Pure: no DPDK, no allocation, no logging.
 *
 * Routes are kept sorted by prefix length, longest first, and a lookup is a
 * linear scan (at most PM_ROUTE_IFS_MAX + PM_ROUTE_MAX masked compares):
 * the table is small and is consulted per new connection, not per packet.
 * Only PM_AF_INET for now; the addresses are family-tagged so that IPv6 can
 * join later.
 */
#ifndef PM_ROUTE_H
#define PM_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define PM_ROUTE_MAX		64	/* static routes */
#define PM_ROUTE_IFS_MAX	16	/* ports, one connected route each */

/* A port's own address/prefix (its connected route); index = port index. */
struct pm_route_if {
	struct pm_addr addr;
	uint8_t prefixlen;
};

/* A static route; len 0 with prefix 0.0.0.0 is the default route. */
struct pm_route_spec {
	struct pm_addr prefix;
	uint8_t len;
	struct pm_addr gw;
};

/* One route of a built table. */
struct pm_route {
	struct pm_addr prefix;	/* host bits zero */
	uint8_t len;
	uint16_t port;		/* the port packets leave by */
	struct pm_addr gw;	/* PM_AF_NONE for a connected route (next hop = destination) */
};

struct pm_route_table {
	/* Private: use the functions below. */
	size_t n;
	struct pm_route r[PM_ROUTE_IFS_MAX + PM_ROUTE_MAX];	/* longest prefix first */
	uint32_t net[PM_ROUTE_IFS_MAX + PM_ROUTE_MAX];		/* host order */
	uint32_t mask[PM_ROUTE_IFS_MAX + PM_ROUTE_MAX];		/* host order */
};

/*
 * Build @t: a connected route for each of the @nifs interfaces (port i =
 * @ifs[i]), then each of the @nroutes static routes. Rules: at most
 * PM_ROUTE_IFS_MAX interfaces and PM_ROUTE_MAX routes; IPv4 only; no two
 * ports on the same subnet; a route's prefix has no host bits; its gateway is
 * a host address (not a port's own address, not the network or broadcast
 * address) inside a connected subnet, and the longest such subnet picks the
 * port; no prefix/len appears twice (a connected subnet counts). Returns 0, or
 * -EINVAL with a message in @err (@errlen bytes), e.g. "route
 * 203.0.113.0/24: gateway 10.0.0.1 is on no port's subnet"; @t is then
 * empty. Does not allocate.
 */
int pm_route_build(struct pm_route_table *t, const struct pm_route_if *ifs, size_t nifs,
		   const struct pm_route_spec *routes, size_t nroutes, char *err, size_t errlen);

/*
 * Longest prefix match for @dst: fills @port and @nexthop (the destination
 * itself on a connected subnet, the gateway otherwise). Returns 0,
 * -ENETUNREACH if no route matches, or -EAFNOSUPPORT if @dst is not IPv4.
 * Read-only: thread-safe; does not allocate.
 */
int pm_route_lookup(const struct pm_route_table *t, const struct pm_addr *dst, uint16_t *port,
		    struct pm_addr *nexthop);

/* Number of routes, connected ones included. */
size_t pm_route_count(const struct pm_route_table *t);

/* Route @i (0 .. count - 1, longest prefix first), or NULL. For logging and
 * telemetry; the pointer is valid as long as @t. */
const struct pm_route *pm_route_get(const struct pm_route_table *t, size_t i);

/*
 * Write @r as text into @buf (@size bytes): "10.0.0.0/24 port 0" for a
 * connected route, "203.0.113.0/24 via 10.0.0.254 port 0" or "default via
 * 10.0.0.254 port 0" for a static one. Returns the length (excluding the NUL)
 * or -ENOSPC (@buf then holds a truncated string if @size > 0).
 */
int pm_route_format(const struct pm_route *r, char *buf, size_t size);

#endif
