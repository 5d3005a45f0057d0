/*
 * addr.h -- family-tagged IP addresses (IPv4 now, IPv6 ready).
 *
 * Owner: nobody; a struct pm_addr is a plain value that callers copy.
 * Threads: any. Pure: no DPDK, no allocation, no locale.
 *
 * Ordering follows Dovecot's net_ip_cmp(): the address family first (so every
 * IPv4 address sorts before every IPv6 one), then the network-order bytes.
 * The director's ring depends on this order for its tie-breaks.
 */
#ifndef PM_ADDR_H
#define PM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pm_af {
	PM_AF_NONE = 0,	/* "no address"; sorts before everything */
	PM_AF_INET = 4,
	PM_AF_INET6 = 6,
};

/* Longest canonical text form: an IPv4-mapped IPv6 address plus the NUL. */
#define PM_ADDR_STRLEN 46

struct pm_addr {
	uint8_t family;		/* enum pm_af */
	uint8_t bytes[16];	/* network order; IPv4 uses bytes[0..3], rest 0 */
};

/*
 * Parse @s (exactly @len bytes, no NUL needed) as an IPv4 dotted quad or an
 * IPv6 address, as inet_pton() accepts them. Returns 0 and fills @a, or
 * -EINVAL. Does not allocate; thread-safe.
 */
int pm_addr_parse(struct pm_addr *a, const char *s, size_t len);

/*
 * Write the canonical text form (inet_ntop: IPv6 lowercase and compressed) of
 * @a into @buf, which holds @size bytes (PM_ADDR_STRLEN is always enough).
 * Returns the length written, excluding the NUL, or -ENOSPC / -EINVAL.
 */
int pm_addr_format(const struct pm_addr *a, char *buf, size_t size);

/* Dovecot's net_ip_cmp() order: <0, 0, >0. */
int pm_addr_cmp(const struct pm_addr *a, const struct pm_addr *b);

static inline bool
pm_addr_eq(const struct pm_addr *a, const struct pm_addr *b)
{
	return pm_addr_cmp(a, b) == 0;
}

/* Number of address bytes of @a's family: 4, 16, or 0 for PM_AF_NONE. */
static inline size_t
pm_addr_len(const struct pm_addr *a)
{
	return a->family == PM_AF_INET ? 4 : a->family == PM_AF_INET6 ? 16 : 0;
}

#endif
