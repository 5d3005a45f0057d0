/*
 * config.c -- parse the postmux configuration file.
 *
 * One setting a line: "key = value". Leading and trailing blanks are
 * ignored, '#' starts a comment (outside double quotes), a value may be
 * double-quoted. Unknown keys, repeated keys (except postmux_port, one port a
 * line) and sections are errors: a typo must not silently leave a default in
 * force.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* The device name is the part before the first comma: net_<driver><n>. */
	if (strncmp(pt->devargs, "net_", 4) != 0 || pt->devargs[4] == '\0' ||
	    pt->devargs[4] == ',')
		return why_fmt(why, whylen, "devargs '%s' must start with a virtual device "
			       "name such as net_af_packet0", pt->devargs);
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
	c->nports++;
	return 0;
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
	{ "postmux_expected_users", set_expected_users },
	{ "postmux_admin_socket", set_admin_socket },
	{ "postmux_admin_socket_mode", set_admin_mode },
	{ "postmux_control_socket", set_control_socket },
	{ "postmux_state_file", set_state_file },
	{ "postmux_dpdk_args", set_dpdk_args },
	{ "postmux_port", set_port },	/* repeatable: one port a line */
	{ "postmux_lcores", set_lcores },
};

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
}

void
pm_config_free(struct pm_config *c)
{
	free(c->servers);
	c->servers = NULL;
	c->nservers = 0;
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
		if (seen[i] && settings[i].apply != set_port) {
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
	}
	free(line);
	if (ret == 0 &&
	    pm_userhash_compile(&c->director.hash_fmt, c->hash_format, c->master_sep, why,
				sizeof(why)) < 0) {
		/* Compiled only now: the master separator may come later. */
		snprintf(err, errlen, "%s:%u: %s", name, hash_line, why);
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
