/*
 * config.c -- parse the postmux configuration file.
 *
 * One setting a line: "key = value". Leading and trailing blanks are
 * ignored, '#' starts a comment (outside double quotes), a value may be
 * double-quoted. Unknown keys, repeated keys (except postmux_port,
 * postmux_route and postmux_vip, one item a line) and sections are errors: a
 * typo must not silently leave a default in force.
 *
 * Checks that need the whole file (a vip's port, a route's gateway on a
 * port's subnet) run after the last line and report the line they concern.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE 65536

struct setting {
	const char *key;
	int (*apply)(struct pm_config *c, const char *value, char *why, size_t whylen);
};

static int
why_fmt(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static uint32_t
v4_get(const struct pm_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static uint32_t
v4_mask(uint32_t len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

int
pm_config_parse_time_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 }, { "msec", 1 }, { "msecs", 1 }, { "millisecond", 1 },
		{ "milliseconds", 1 }, { "s", 1000 }, { "sec", 1000 }, { "secs", 1000 },
		{ "second", 1000 }, { "seconds", 1000 }, { "m", 60000 }, { "min", 60000 },
		{ "mins", 60000 }, { "minute", 60000 }, { "minutes", 60000 },
		{ "h", 3600000 }, { "hour", 3600000 }, { "hours", 3600000 },
		{ "d", 86400000 }, { "day", 86400000 }, { "days", 86400000 },
		{ "w", 604800000 }, { "week", 604800000 }, { "weeks", 604800000 },
	};
	uint64_t v = 0;
	const char *p = s;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*ms = v * 1000;	/* a bare number is seconds, as in Dovecot */
		return 0;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

static int
parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static int
set_servers(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	struct pm_hostspec *hs;
	size_t n;

	if (pm_hostspec_parse(v, &hs, &n, why, whylen) < 0)
		return -EINVAL;
	free(c->servers);
	c->servers = hs;
	c->nservers = n;
	return 0;
}

static int
set_expire(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	uint64_t ms;

	if (pm_config_parse_time_ms(v, &ms) < 0)
		return why_fmt(why, whylen, "'%s' is not a time (e.g. \"15 min\")", v);
	/* Dovecot refuses anything under 10 s: pins would expire between a
	 * login and its first refresh. */
	if (ms < 10000)
		return why_fmt(why, whylen, "must be at least 10 s");
	if (ms / 1000 > UINT32_MAX)
		return why_fmt(why, whylen, "'%s' is too long", v);
	c->director.user_expire_s = (uint32_t)(ms / 1000);
	return 0;
}

static int
set_kick_delay(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	uint64_t ms;

	if (pm_config_parse_time_ms(v, &ms) < 0)
		return why_fmt(why, whylen, "'%s' is not a time (e.g. \"2 s\")", v);
	if (ms > 3600000)
		return why_fmt(why, whylen, "'%s' is over an hour", v);
	c->director.kick_delay_ms = (uint32_t)ms;
	return 0;
}

static int
set_count(uint32_t *dst, const char *v, char *why, size_t whylen)
{
	int ret = parse_uint(v, 1, 1000000, dst);

	if (ret < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to 1000000", v);
	return 0;
}

static int
set_max_moves(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_count(&c->director.max_parallel_moves, v, why, whylen);
}

static int
set_max_kicks(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_count(&c->director.max_parallel_kicks, v, why, whylen);
}

static int
set_expected_users(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 1, 1u << 30, &c->director.expected_users) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to 1073741824", v);
	return 0;
}

static int
set_hash(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (strlen(v) >= sizeof(c->hash_format))
		return why_fmt(why, whylen, "template longer than %zu bytes",
			       sizeof(c->hash_format) - 1);
	strcpy(c->hash_format, v);
	return 0;
}

static int
set_master_sep(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (strlen(v) > 1)
		return why_fmt(why, whylen, "must be a single character or empty");
	c->master_sep = v[0];
	return 0;
}

/* A host name as SMTP puts it in a greeting: letters, digits, '-', '.'. */
static int
set_hostname(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	const char *s;

	if (v[0] == '\0' || strlen(v) >= sizeof(c->hostname))
		return why_fmt(why, whylen, "must be 1 to %zu bytes", sizeof(c->hostname) - 1);
	for (s = v; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return why_fmt(why, whylen, "'%s' is not a host name", v);
	}
	snprintf(c->hostname, sizeof(c->hostname), "%s", v);
	return 0;
}

static int
set_path(char *dst, size_t size, const char *v, char *why, size_t whylen)
{
	if (v[0] != '/')
		return why_fmt(why, whylen, "'%s' is not an absolute path", v);
	if (strlen(v) >= size)
		return why_fmt(why, whylen, "path longer than %zu bytes", size - 1);
	strcpy(dst, v);
	return 0;
}

static int
set_admin_socket(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_path(c->admin_socket, sizeof(c->admin_socket), v, why, whylen);
}

static int
set_control_socket(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_path(c->control_socket, sizeof(c->control_socket), v, why, whylen);
}

static int
set_state_file(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_path(c->state_file, sizeof(c->state_file), v, why, whylen);
}

static int
set_admin_mode(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	unsigned long mode = 0;
	const char *p;

	if (*v == '\0' || strlen(v) > 4)
		return why_fmt(why, whylen, "'%s' is not an octal mode such as 0600", v);
	for (p = v; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return why_fmt(why, whylen, "'%s' is not an octal mode such as 0600", v);
		mode = mode * 8 + (unsigned long)(*p - '0');
	}
	if (mode > 0777)
		return why_fmt(why, whylen, "'%s': only permission bits are allowed", v);
	c->admin_socket_mode = (mode_t)mode;
	return 0;
}

static int
set_dpdk_args(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (strlen(v) >= sizeof(c->dpdk_args))
		return why_fmt(why, whylen, "longer than %zu bytes", sizeof(c->dpdk_args) - 1);
	strcpy(c->dpdk_args, v);
	return 0;
}

static int
set_lcores(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 1, PM_CONFIG_LCORES_MAX, &c->lcores) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to %d", v,
			       PM_CONFIG_LCORES_MAX);
	return 0;
}

static int
set_sessions(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 16, 1u << 25, &c->sessions) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 16 to %u", v, 1u << 25);
	return 0;
}

static int
set_prelogin(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 1, 1u << 20, &c->prelogin) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to %u", v, 1u << 20);
	return 0;
}

static int
set_syn_backlog(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 0, 1u << 20, &c->syn_backlog) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 0 to %u", v, 1u << 20);
	return 0;
}

/* Copy the next blank-separated word of *@p into @dst (@size bytes).
 * Returns its length, 0 at the end, or -ENOSPC (too long). */
static int
next_word(const char **p, char *dst, size_t size)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s; *e != '\0' && *e != ' ' && *e != '\t'; e++)
		;
	*p = e;
	if ((size_t)(e - s) >= size)
		return -ENOSPC;
	memcpy(dst, s, (size_t)(e - s));
	dst[e - s] = '\0';
	return (int)(e - s);
}

/* The length of a PCI address at the start of @s ("0000:03:00.0" or, with
 * the domain left out, "03:00.0"), up to a ',' or the end; 0 if there is
 * none. */
static size_t
pci_addr_len(const char *s)
{
	static const char full[] = "xxxx:xx:xx.x", brief[] = "xx:xx.x";
	const char *pat = strlen(s) >= 12 && s[4] == ':' ? full : brief;
	size_t i, n = strlen(pat);

	for (i = 0; i < n; i++) {
		if (pat[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	}
	if (s[n - 1] > '7' || (s[n] != '\0' && s[n] != ','))
		return 0;	/* function 0..7 */
	return n;
}

/* "<name> <devargs> <ipv4>/<len>" */
static int
set_port(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	static const char usage[] = "expected \"<name> <devargs> <ipv4 address>/<prefix length>\"";
	struct pm_config_port *pt;
	char addr[64], extra[2], *slash;
	const char *p = v, *s;
	uint32_t plen;
	size_t i;
	int n;

	if (c->nports == PM_CONFIG_PORTS_MAX)
		return why_fmt(why, whylen, "more than %d ports", PM_CONFIG_PORTS_MAX);
	pt = &c->ports[c->nports];
	memset(pt, 0, sizeof(*pt));
	n = next_word(&p, pt->name, sizeof(pt->name));
	if (n < 0)
		return why_fmt(why, whylen, "port name longer than %d bytes",
			       PM_CONFIG_PORT_NAME_MAX - 1);
	if (n == 0)
		return why_fmt(why, whylen, "%s", usage);
	for (s = pt->name; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return why_fmt(why, whylen, "port name '%s': only [A-Za-z0-9_-]",
				       pt->name);
	}
	for (i = 0; i < c->nports; i++) {
		if (strcmp(c->ports[i].name, pt->name) == 0)
			return why_fmt(why, whylen, "port '%s' is defined twice", pt->name);
	}
	n = next_word(&p, pt->devargs, sizeof(pt->devargs));
	if (n < 0)
		return why_fmt(why, whylen, "devargs longer than %d bytes",
			       PM_CONFIG_DEVARGS_MAX - 1);
	if (n == 0)
		return why_fmt(why, whylen, "%s", usage);
	/* The device name is the part before the first comma: net_<driver><n>
	 * (a virtual device) or a PCI address (a NIC bound to a DPDK driver),
	 * stored with its domain, as DPDK names the port. */
	if (pci_addr_len(pt->devargs) == 7) {
		if (strlen(pt->devargs) + 5 >= sizeof(pt->devargs))
			return why_fmt(why, whylen, "devargs longer than %d bytes",
				       PM_CONFIG_DEVARGS_MAX - 1);
		memmove(pt->devargs + 5, pt->devargs, strlen(pt->devargs) + 1);
		memcpy(pt->devargs, "0000:", 5);
	}
	if (pci_addr_len(pt->devargs) == 0 &&
	    (strncmp(pt->devargs, "net_", 4) != 0 || pt->devargs[4] == '\0' ||
	     pt->devargs[4] == ','))
		return why_fmt(why, whylen, "devargs '%s' must start with a virtual device "
			       "name such as net_af_packet0 or a PCI address such as "
			       "0000:03:00.0", pt->devargs);
	for (i = 0; i < c->nports; i++) {
		size_t la = strcspn(pt->devargs, ","), lb = strcspn(c->ports[i].devargs, ",");

		if (la == lb && memcmp(pt->devargs, c->ports[i].devargs, la) == 0)
			return why_fmt(why, whylen, "device %.*s is used by port '%s' too",
				       (int)la, pt->devargs, c->ports[i].name);
	}
	if ((n = next_word(&p, addr, sizeof(addr))) <= 0)
		return why_fmt(why, whylen, "%s", usage);
	if (next_word(&p, extra, sizeof(extra)) != 0)
		return why_fmt(why, whylen, "%s (trailing text)", usage);
	slash = strchr(addr, '/');
	if (slash == NULL)
		return why_fmt(why, whylen, "'%s' has no /prefix length", addr);
	if (pm_addr_parse(&pt->addr, addr, (size_t)(slash - addr)) < 0 ||
	    pt->addr.family != PM_AF_INET)
		return why_fmt(why, whylen, "'%.*s' is not an IPv4 address", (int)(slash - addr),
			       addr);
	if (parse_uint(slash + 1, 0, 32, &plen) < 0)
		return why_fmt(why, whylen, "'%s' is not a prefix length from 0 to 32", slash + 1);
	pt->prefixlen = (uint8_t)plen;
	/* The connected routes must tell the ports apart (net/route.h). */
	for (i = 0; i < c->nports; i++) {
		if (c->ports[i].prefixlen == pt->prefixlen &&
		    (v4_get(&c->ports[i].addr) & v4_mask(plen)) ==
		    (v4_get(&pt->addr) & v4_mask(plen)))
			return why_fmt(why, whylen, "port '%s' is on the subnet of port '%s'",
				       pt->name, c->ports[i].name);
	}
	c->nports++;
	return 0;
}

/* Parse "<ipv4>" from @s into @a; false if it is not an IPv4 address. */
static bool
parse_v4(const char *s, size_t len, struct pm_addr *a)
{
	return pm_addr_parse(a, s, len) == 0 && a->family == PM_AF_INET;
}

/* "<prefix>/<len> via <gateway>" or "default via <gateway>" */
static int
set_route(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	static const char usage[] =
		"expected \"<prefix>/<length> via <gateway>\" or \"default via <gateway>\"";
	struct pm_route_spec *r;
	char dst[64], via[8], gw[64], extra[2], *slash;
	const char *p = v;
	uint32_t plen;

	if (c->nroutes == PM_ROUTE_MAX)
		return why_fmt(why, whylen, "more than %d routes", PM_ROUTE_MAX);
	if (next_word(&p, dst, sizeof(dst)) <= 0 || next_word(&p, via, sizeof(via)) <= 0 ||
	    strcmp(via, "via") != 0 || next_word(&p, gw, sizeof(gw)) <= 0)
		return why_fmt(why, whylen, "%s", usage);
	if (next_word(&p, extra, sizeof(extra)) != 0)
		return why_fmt(why, whylen, "%s (trailing text)", usage);
	r = &c->routes[c->nroutes];
	memset(r, 0, sizeof(*r));
	if (strcmp(dst, "default") == 0) {
		parse_v4("0.0.0.0", 7, &r->prefix);
		r->len = 0;
	} else {
		slash = strchr(dst, '/');
		if (slash == NULL)
			return why_fmt(why, whylen, "'%s' has no /prefix length", dst);
		if (!parse_v4(dst, (size_t)(slash - dst), &r->prefix))
			return why_fmt(why, whylen, "'%.*s' is not an IPv4 address",
				       (int)(slash - dst), dst);
		if (parse_uint(slash + 1, 0, 32, &plen) < 0)
			return why_fmt(why, whylen, "'%s' is not a prefix length from 0 to 32",
				       slash + 1);
		r->len = (uint8_t)plen;
	}
	if (!parse_v4(gw, strlen(gw), &r->gw))
		return why_fmt(why, whylen, "gateway '%s' is not an IPv4 address", gw);
	c->nroutes++;
	return 0;
}

/* "<port name> <ipv4 address>"; the port is looked up at the end. */
static int
set_vip(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	static const char usage[] = "expected \"<port name> <ipv4 address>\"";
	struct pm_config_vip *vip;
	char addr[64], extra[2];
	const char *p = v;
	uint32_t a;
	int n;

	if (c->nvips == PM_CONFIG_VIPS_MAX)
		return why_fmt(why, whylen, "more than %d VIPs", PM_CONFIG_VIPS_MAX);
	vip = &c->vips[c->nvips];
	memset(vip, 0, sizeof(*vip));
	n = next_word(&p, vip->port_name, sizeof(vip->port_name));
	if (n < 0)
		return why_fmt(why, whylen, "port name longer than %d bytes",
			       PM_CONFIG_PORT_NAME_MAX - 1);
	if (n == 0 || next_word(&p, addr, sizeof(addr)) <= 0)
		return why_fmt(why, whylen, "%s", usage);
	if (next_word(&p, extra, sizeof(extra)) != 0)
		return why_fmt(why, whylen, "%s (trailing text)", usage);
	if (!parse_v4(addr, strlen(addr), &vip->addr))
		return why_fmt(why, whylen, "'%s' is not an IPv4 address", addr);
	/* 0/8 "this network", 127/8 loopback, 224/4 multicast and everything
	 * above (240/4 reserved, the limited broadcast) never name us on a link. */
	a = v4_get(&vip->addr);
	if (a >> 24 == 0 || a >> 24 == 127 || a >> 28 >= 14)
		return why_fmt(why, whylen, "'%s' is not a unicast address", addr);
	c->nvips++;
	return 0;
}

static const struct {
	const char *name;
	enum pm_config_proto proto;
	uint16_t backend_port;
} protos[] = {
	{ "imap", PM_PROTO_IMAP, 143 },
	{ "pop3", PM_PROTO_POP3, 110 },
	{ "submission", PM_PROTO_SUBMISSION, 587 },
	{ "sieve", PM_PROTO_SIEVE, 4190 },
};

const char *
pm_config_proto_name(enum pm_config_proto p)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == p)
			return protos[i].name;
	return "?";
}

/* "<address> <port> <protocol> [backend_port=<n>]"; the address is checked
 * against the ports and VIPs at the end. */
static int
set_listener(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	static const char usage[] = "expected \"<address> <port> imap|pop3|submission|sieve "
				    "[backend_port=<port>]\"";
	struct pm_config_listener *l;
	char addr[64], port[16], proto[16], opt[32], extra[2];
	const char *p = v;
	uint32_t n;
	size_t i;

	if (c->nlisteners == PM_CONFIG_LISTENERS_MAX)
		return why_fmt(why, whylen, "more than %d listeners", PM_CONFIG_LISTENERS_MAX);
	l = &c->listeners[c->nlisteners];
	memset(l, 0, sizeof(*l));
	if (next_word(&p, addr, sizeof(addr)) <= 0 || next_word(&p, port, sizeof(port)) <= 0 ||
	    next_word(&p, proto, sizeof(proto)) <= 0)
		return why_fmt(why, whylen, "%s", usage);
	if (!parse_v4(addr, strlen(addr), &l->addr))
		return why_fmt(why, whylen, "'%s' is not an IPv4 address", addr);
	if (parse_uint(port, 1, 65535, &n) < 0)
		return why_fmt(why, whylen, "'%s' is not a port from 1 to 65535", port);
	l->port = (uint16_t)n;
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(proto, protos[i].name) == 0)
			break;
	if (i == sizeof(protos) / sizeof(protos[0]))
		return why_fmt(why, whylen, "unknown protocol '%s' (imap, pop3, submission, sieve)",
			       proto);
	l->proto = protos[i].proto;
	l->backend_port = protos[i].backend_port;
	n = 0;
	switch (next_word(&p, opt, sizeof(opt))) {
	case 0:
		break;
	case -ENOSPC:
		return why_fmt(why, whylen, "%s (trailing text)", usage);
	default:
		if (strncmp(opt, "backend_port=", 13) != 0 ||
		    parse_uint(opt + 13, 1, 65535, &n) < 0)
			return why_fmt(why, whylen, "'%s' is not backend_port=<1..65535>", opt);
		l->backend_port = (uint16_t)n;
		if (next_word(&p, extra, sizeof(extra)) != 0)
			return why_fmt(why, whylen, "%s (trailing text)", usage);
	}
	c->nlisteners++;
	return 0;
}

static int
set_neigh_entries(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	uint32_t n;

	if (parse_uint(v, PM_NEIGH_CAPACITY_MIN, PM_NEIGH_CAPACITY_MAX, &n) < 0 ||
	    (n & (n - 1)) != 0)
		return why_fmt(why, whylen, "'%s' is not a power of two from %u to %u", v,
			       PM_NEIGH_CAPACITY_MIN, PM_NEIGH_CAPACITY_MAX);
	c->neigh.capacity = n;
	return 0;
}

static int
set_neigh_queue(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 1, PM_NEIGH_QLEN_MAX, &c->neigh.qlen) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to %u", v,
			       PM_NEIGH_QLEN_MAX);
	return 0;
}

static int
set_arp_probes(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	if (parse_uint(v, 1, PM_NEIGH_PROBES_MAX, &c->neigh.probes) < 0)
		return why_fmt(why, whylen, "'%s' is not a number from 1 to %u", v,
			       PM_NEIGH_PROBES_MAX);
	return 0;
}

/* A time from @min to @max ms, both named in the message as @range. */
static int
set_time_range(uint64_t *dst, const char *v, uint64_t min, uint64_t max, const char *range,
	       char *why, size_t whylen)
{
	uint64_t ms;

	if (pm_config_parse_time_ms(v, &ms) < 0)
		return why_fmt(why, whylen, "'%s' is not a time (e.g. \"30 s\")", v);
	if (ms < min || ms > max)
		return why_fmt(why, whylen, "'%s' is not from %s", v, range);
	*dst = ms;
	return 0;
}

static int
set_arp_reachable(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	return set_time_range(&c->neigh.reachable_ms, v, 1000, 3600000, "1 s to 1 hour", why,
			      whylen);
}

static int
set_arp_retrans(struct pm_config *c, const char *v, char *why, size_t whylen)
{
	/* The worker runs the ARP timers every 100 ms: less is not honoured. */
	return set_time_range(&c->neigh.retrans_ms, v, 100, 60000, "100 ms to 1 min", why,
			      whylen);
}

static const struct setting settings[] = {
	{ "director_mail_servers", set_servers },
	{ "director_user_expire", set_expire },
	{ "director_user_kick_delay", set_kick_delay },
	{ "director_max_parallel_moves", set_max_moves },
	{ "director_max_parallel_kicks", set_max_kicks },
	{ "director_username_hash", set_hash },
	{ "auth_master_user_separator", set_master_sep },
	{ "master_user_separator", set_master_sep },
	{ "hostname", set_hostname },
	{ "postmux_expected_users", set_expected_users },
	{ "postmux_admin_socket", set_admin_socket },
	{ "postmux_admin_socket_mode", set_admin_mode },
	{ "postmux_control_socket", set_control_socket },
	{ "postmux_state_file", set_state_file },
	{ "postmux_dpdk_args", set_dpdk_args },
	{ "postmux_port", set_port },	/* repeatable: one port a line */
	{ "postmux_lcores", set_lcores },
	{ "postmux_sessions", set_sessions },
	{ "postmux_prelogin_sessions", set_prelogin },
	{ "postmux_syn_backlog", set_syn_backlog },
	{ "postmux_route", set_route },	/* repeatable */
	{ "postmux_vip", set_vip },	/* repeatable */
	{ "postmux_listener", set_listener },	/* repeatable */
	{ "postmux_neigh_entries", set_neigh_entries },
	{ "postmux_neigh_queue", set_neigh_queue },
	{ "postmux_arp_reachable_time", set_arp_reachable },
	{ "postmux_arp_retrans_time", set_arp_retrans },
	{ "postmux_arp_probes", set_arp_probes },
};

static bool
repeatable(const struct setting *st)
{
	return st->apply == set_port || st->apply == set_route || st->apply == set_vip ||
	       st->apply == set_listener;
}

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void
pm_config_defaults(struct pm_config *c)
{
	memset(c, 0, sizeof(*c));
	pm_director_config_defaults(&c->director);
	strcpy(c->hash_format, PM_USERHASH_DEFAULT);
	strcpy(c->admin_socket, "/run/postmux/director-admin");
	c->admin_socket_mode = 0600;
	strcpy(c->control_socket, "/run/postmux/control");
	strcpy(c->state_file, "/var/lib/postmux/state");
	strcpy(c->dpdk_args, "--in-memory");
	c->lcores = 1;
	c->sessions = 1u << 20;
	c->prelogin = 1024;
	c->syn_backlog = 4096;
	/* Dovecot's default: the system's name. */
	if (gethostname(c->hostname, sizeof(c->hostname)) != 0 || c->hostname[0] == '\0')
		snprintf(c->hostname, sizeof(c->hostname), "postmux");
	c->hostname[sizeof(c->hostname) - 1] = '\0';
	pm_neigh_params_defaults(&c->neigh);
}

void
pm_config_free(struct pm_config *c)
{
	free(c->servers);
	c->servers = NULL;
	c->nservers = 0;
}

/* The first @nroutes routes of @c over its ports. */
static int
build_routes(const struct pm_config *c, size_t nroutes, struct pm_route_table *t, char *err,
	     size_t errlen)
{
	struct pm_route_if ifs[PM_CONFIG_PORTS_MAX];
	size_t i;

	for (i = 0; i < c->nports; i++) {
		ifs[i].addr = c->ports[i].addr;
		ifs[i].prefixlen = c->ports[i].prefixlen;
	}
	return pm_route_build(t, ifs, c->nports, c->routes, nroutes, err, errlen);
}

int
pm_config_routes(const struct pm_config *c, struct pm_route_table *t, char *err, size_t errlen)
{
	return build_routes(c, c->nroutes, t, err, errlen);
}

/* After the last line: every vip names a port, and no address is used
 * twice. @line[i] is the line of vips[i]. */
static int
check_vips(struct pm_config *c, const char *name, const unsigned int *line, char *err,
	   size_t errlen)
{
	size_t i, j, per;

	for (i = 0; i < c->nvips; i++) {
		struct pm_config_vip *v = &c->vips[i];
		char a[PM_ADDR_STRLEN];

		pm_addr_format(&v->addr, a, sizeof(a));
		for (j = 0; j < c->nports; j++) {
			if (strcmp(c->ports[j].name, v->port_name) == 0)
				break;
		}
		if (j == c->nports) {
			snprintf(err, errlen, "%s:%u: postmux_vip: no postmux_port named '%s'",
				 name, line[i], v->port_name);
			return -EINVAL;
		}
		v->port = (uint16_t)j;
		for (j = 0; j < c->nports; j++) {
			if (pm_addr_eq(&v->addr, &c->ports[j].addr)) {
				snprintf(err, errlen, "%s:%u: postmux_vip: %s is the address of "
					 "port '%s'", name, line[i], a, c->ports[j].name);
				return -EINVAL;
			}
		}
		for (j = 0, per = 0; j < i; j++) {
			if (pm_addr_eq(&v->addr, &c->vips[j].addr)) {
				snprintf(err, errlen, "%s:%u: postmux_vip: %s is a VIP of port "
					 "'%s' already (line %u)", name, line[i], a,
					 c->ports[c->vips[j].port].name, line[j]);
				return -EINVAL;
			}
			per += c->vips[j].port == v->port;
		}
		if (per == PM_CONFIG_VIPS_PER_PORT) {
			snprintf(err, errlen, "%s:%u: postmux_vip: port '%s' has more than %d VIPs",
				 name, line[i], v->port_name, PM_CONFIG_VIPS_PER_PORT);
			return -EINVAL;
		}
	}
	return 0;
}

/* After the last line: every listener's address is a port's or a VIP, and
 * no address and TCP port is used twice. @line[i] is the line of
 * listeners[i]. */
static int
check_listeners(struct pm_config *c, const char *name, const unsigned int *line, char *err,
		size_t errlen)
{
	size_t i, j;

	for (i = 0; i < c->nlisteners; i++) {
		struct pm_config_listener *l = &c->listeners[i];
		char a[PM_ADDR_STRLEN];
		bool found = false;

		pm_addr_format(&l->addr, a, sizeof(a));
		for (j = 0; j < c->nports && !found; j++) {
			if (pm_addr_eq(&l->addr, &c->ports[j].addr)) {
				l->port_idx = (uint16_t)j;
				found = true;
			}
		}
		for (j = 0; j < c->nvips && !found; j++) {
			if (pm_addr_eq(&l->addr, &c->vips[j].addr)) {
				l->port_idx = c->vips[j].port;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen, "%s:%u: postmux_listener: %s is neither a "
				 "postmux_port address nor a postmux_vip", name, line[i], a);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (pm_addr_eq(&l->addr, &c->listeners[j].addr) &&
			    l->port == c->listeners[j].port) {
				snprintf(err, errlen, "%s:%u: postmux_listener: %s port %u is "
					 "taken already (line %u)", name, line[i], a, l->port,
					 line[j]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* After the last line: the routes against the ports. Builds the table
 * with one route more each time, so that the message names the line of
 * the first route that fails. @line[i] is the line of routes[i]. */
static int
check_routes(const struct pm_config *c, const char *name, const unsigned int *line, char *err,
	     size_t errlen)
{
	struct pm_route_table t;
	char why[256];
	size_t k;

	if (c->nroutes == 0)
		return 0;
	if (c->nports == 0) {
		snprintf(err, errlen, "%s:%u: postmux_route needs a postmux_port", name, line[0]);
		return -EINVAL;
	}
	for (k = 1; k <= c->nroutes; k++) {
		const struct pm_route_spec *r = &c->routes[k - 1];
		size_t j;

		if (build_routes(c, k, &t, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: postmux_route: %s", name, line[k - 1], why);
			return -EINVAL;
		}
		/* pm_route_build() knows the ports' addresses, not the VIPs. */
		for (j = 0; j < c->nvips; j++) {
			if (pm_addr_eq(&r->gw, &c->vips[j].addr)) {
				char a[PM_ADDR_STRLEN];

				pm_addr_format(&r->gw, a, sizeof(a));
				snprintf(err, errlen, "%s:%u: postmux_route: gateway %s is a VIP "
					 "of port '%s'", name, line[k - 1], a,
					 c->vips[j].port_name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Cut a '#' comment that is not inside double quotes; then unquote a value
 * written as "...". Returns -EINVAL on an unterminated quote. */
static int
clean_value(char *v, char **out)
{
	bool quoted = false;
	char *p, *s;

	for (p = v; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted) {
			*p = '\0';
			break;
		}
	}
	if (quoted)
		return -EINVAL;
	s = trim(v);
	if (s[0] == '"') {
		size_t n = strlen(s);

		if (n < 2 || s[n - 1] != '"' || memchr(s + 1, '"', n - 2) != NULL)
			return -EINVAL;
		s[n - 1] = '\0';
		s++;
	}
	*out = s;
	return 0;
}

int
pm_config_parse(struct pm_config *c, const char *text, const char *name, char *err,
		size_t errlen)
{
	bool seen[NSETTINGS] = { false };
	const char *p = text;
	unsigned int lineno = 0, hash_line = 0;
	unsigned int route_line[PM_ROUTE_MAX], vip_line[PM_CONFIG_VIPS_MAX];
	unsigned int listener_line[PM_CONFIG_LISTENERS_MAX];
	char *line = malloc(MAX_LINE + 1);
	char why[512];
	int ret = 0;

	if (line == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *s, *eq, *key, *value;
		size_t i;

		lineno++;
		if (len > MAX_LINE) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
				 MAX_LINE);
			ret = -EINVAL;
			break;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl != NULL);
		s = trim(line);
		if (s[0] == '\0' || s[0] == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%u: expected \"key = value\"%s", name, lineno,
				 strchr(s, '{') != NULL ? " (sections are not supported)" : "");
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		key = trim(s);
		if (clean_value(eq + 1, &value) < 0) {
			snprintf(err, errlen, "%s:%u: %s: unbalanced double quote", name, lineno,
				 key);
			ret = -EINVAL;
			break;
		}
		for (i = 0; i < NSETTINGS; i++) {
			if (strcmp(settings[i].key, key) == 0)
				break;
		}
		if (i == NSETTINGS) {
			snprintf(err, errlen, "%s:%u: unknown setting '%.100s'", name, lineno, key);
			ret = -EINVAL;
			break;
		}
		if (seen[i] && !repeatable(&settings[i])) {
			snprintf(err, errlen, "%s:%u: %s is set twice", name, lineno, key);
			ret = -EINVAL;
			break;
		}
		seen[i] = true;
		if (settings[i].apply == set_hash)
			hash_line = lineno;
		why[0] = '\0';
		if (settings[i].apply(c, value, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s: %s", name, lineno, key, why);
			ret = -EINVAL;
			break;
		}
		if (settings[i].apply == set_route)
			route_line[c->nroutes - 1] = lineno;
		else if (settings[i].apply == set_vip)
			vip_line[c->nvips - 1] = lineno;
		else if (settings[i].apply == set_listener)
			listener_line[c->nlisteners - 1] = lineno;
	}
	free(line);
	if (ret == 0 &&
	    pm_userhash_compile(&c->director.hash_fmt, c->hash_format, c->master_sep, why,
				sizeof(why)) < 0) {
		/* Compiled only now: the master separator may come later. */
		snprintf(err, errlen, "%s:%u: %s", name, hash_line, why);
		ret = -EINVAL;
	}
	if (ret == 0)
		ret = check_vips(c, name, vip_line, err, errlen);
	if (ret == 0)
		ret = check_routes(c, name, route_line, err, errlen);
	if (ret == 0)
		ret = check_listeners(c, name, listener_line, err, errlen);
	if (ret == 0 && c->prelogin > c->sessions) {
		snprintf(err, errlen, "%s: postmux_prelogin_sessions (%u) is more than "
			 "postmux_sessions (%u)", name, c->prelogin, c->sessions);
		ret = -EINVAL;
	}
	return ret;
}

int
pm_config_load(struct pm_config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0, got;
	int ret;

	if (fp == NULL) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nt;

			if (cap >= (64u << 20)) {
				snprintf(err, errlen, "%s: larger than 64 MiB", path);
				free(text);
				fclose(fp);
				return -EFBIG;
			}
			nt = realloc(text, cap ? cap * 2 : 8192);
			if (nt == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				free(text);
				fclose(fp);
				return -ENOMEM;
			}
			text = nt;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(text + len, 1, cap - len - 1, fp);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		free(text);
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		/* Find the line for the message. */
		size_t nul = (size_t)((char *)memchr(text, '\0', len) - text), i;
		unsigned int lineno = 1;

		for (i = 0; i < nul; i++)
			lineno += text[i] == '\n';
		snprintf(err, errlen, "%s:%u: NUL byte in the line", path, lineno);
		free(text);
		return -EINVAL;
	}
	ret = pm_config_parse(c, text, path, err, errlen);
	free(text);
	return ret;
}
