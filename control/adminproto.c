/*
 * adminproto.c -- the director-doveadm v1 admin protocol: line framing,
 * handshake, command decoding and reply lines, with Dovecot 2.3.19.1's
 * exact acceptance rules (see adminproto.h for the wire format).
 *
 * "Dovecot" below means the 2.3 sources: src/director/doveadm-connection.c
 * (the command handlers), lib/strescape.c (tab escaping), lib/net.c
 * (net_addr2ip, net_str2port), lib/strnum.c (str_to_uint), lib/istream.c
 * (line reading) and lib-master/master-service.c (version check). "Lab"
 * means a behaviour checked against a real 2.3.19.1 director with
 * tests/integration/dovecot_lab.py.
 */
#include "adminproto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ctlmsg.h"
#include "director/userhash.h"

_Static_assert(PM_ADMINPROTO_LINE_MAX <= UINT16_MAX, "line length must fit pm_adminproto.len");
_Static_assert(PM_ADMINPROTO_FIELD_SIZE > PM_ADMINPROTO_LINE_MAX,
	       "a decoded field is never longer than its line");

/* Dovecot's own command table, in enum pm_adminproto_kind order. */
static const struct {
	const char *name;
	const char *bad;	/* close reason when the arguments do not parse */
} pm_adminproto_cmds[PM_ADMINPROTO_KIND__COUNT] = {
	[PM_ADMINPROTO_NONE] = { "", "doveadm sent unknown command" },
	[PM_ADMINPROTO_HOST_LIST] = { "HOST-LIST", NULL },
	[PM_ADMINPROTO_HOST_LIST_REMOVED] = { "HOST-LIST-REMOVED", NULL },
	[PM_ADMINPROTO_HOST_SET] = { "HOST-SET", "doveadm sent invalid HOST-SET parameters" },
	[PM_ADMINPROTO_HOST_UPDATE] = { "HOST-UPDATE",
					"doveadm sent invalid HOST-UPDATE parameters" },
	[PM_ADMINPROTO_HOST_UP] = { "HOST-UP", "doveadm sent invalid HOST-UP parameters" },
	[PM_ADMINPROTO_HOST_DOWN] = { "HOST-DOWN", "doveadm sent invalid HOST-DOWN parameters" },
	[PM_ADMINPROTO_HOST_REMOVE] = { "HOST-REMOVE",
					"doveadm sent invalid HOST-REMOVE parameters" },
	[PM_ADMINPROTO_HOST_FLUSH] = { "HOST-FLUSH", "doveadm sent invalid HOST-FLUSH parameters" },
	[PM_ADMINPROTO_HOST_RESET_USERS] = { "HOST-RESET-USERS",
					     "doveadm sent invalid HOST-RESET-USERS parameters" },
	[PM_ADMINPROTO_USER_LOOKUP] = { "USER-LOOKUP", NULL },
	[PM_ADMINPROTO_USER_LIST] = { "USER-LIST", "doveadm sent invalid USER-LIST parameters" },
	[PM_ADMINPROTO_USER_MOVE] = { "USER-MOVE", "doveadm sent invalid USER-MOVE parameters" },
	[PM_ADMINPROTO_USER_KICK] = { "USER-KICK", "doveadm sent invalid USER-KICK parameters" },
	[PM_ADMINPROTO_USER_KICK_ALT] = { "USER-KICK-ALT",
					  "doveadm sent invalid USER-KICK-ALT parameters" },
	[PM_ADMINPROTO_DIRECTOR_LIST] = { "DIRECTOR-LIST", NULL },
	[PM_ADMINPROTO_DIRECTOR_ADD] = { "DIRECTOR-ADD",
					 "doveadm sent invalid DIRECTOR-ADD parameters" },
	[PM_ADMINPROTO_DIRECTOR_REMOVE] = { "DIRECTOR-REMOVE",
					    "doveadm sent invalid DIRECTOR-REMOVE parameters" },
	[PM_ADMINPROTO_USER_ASSIGN] = { "USER-ASSIGN",
					"doveadm sent invalid USER-ASSIGN parameters" },
	[PM_ADMINPROTO_POSTMUX_COUNTERS] = { "POSTMUX-COUNTERS",
					     "doveadm sent invalid POSTMUX-COUNTERS parameters" },
};

_Static_assert(PM_ADMINPROTO_PREFIX_MAX == PM_CTLMSG_COUNTER_NAME_MAX,
	       "a prefix is at most a counter name");

static const char pm_adminproto_version_prefix[] = "VERSION\tdirector-doveadm\t";
static const char pm_adminproto_bad_version[] =
	"doveadm not compatible with this server (mixed old and new binaries?)";
static const char pm_adminproto_empty_line[] = "doveadm sent empty command line";
static const char pm_adminproto_long_line[] = "doveadm sent a line longer than 1023 bytes";
static const char pm_adminproto_bad_reset_ip[] = "doveadm sent invalid HOST-RESET-USERS ip";

_Static_assert(PM_ADMINPROTO_LINE_MAX == 1023, "pm_adminproto_long_line names the limit");

/* ---- small helpers ------------------------------------------------------ */

static bool
pm_adminproto_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* isspace() in the C locale, which is what glibc's inet_aton() sees. */
static bool
pm_adminproto_is_space(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
pm_adminproto_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Dovecot's str_to_uint(): digits only, at least one, no sign, < 2^32. */
static bool
pm_adminproto_to_uint(const char *s, size_t len, uint32_t *v)
{
	return pm_userhash_parse_number(s, len, v) == 0;
}

/*
 * The byte after an escape character, as Dovecot's str_tabunescape() maps
 * it. '0' (NUL) exists since 2.3: lab, "HOST-SET\tip\t5\x0100" set 5 vhosts.
 */
static uint8_t
pm_adminproto_unescape_byte(uint8_t c)
{
	switch (c) {
	case '0':
		return '\0';
	case '1':
		return 0x01;
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'n':
		return '\n';
	default:
		return c;	/* str_tabunescape(): any other byte stands for itself */
	}
}

/*
 * Unescape @n bytes of @src into @dst (@cap bytes, NUL added). With @cut,
 * stop at the first NUL produced, as Dovecot, which then sees a C string.
 * Returns the length; sets *@full if @dst was too small.
 */
static size_t
pm_adminproto_unesc(char *dst, size_t cap, const uint8_t *src, size_t n, bool cut, bool *full)
{
	size_t i, o = 0;
	uint8_t c;

	*full = false;
	for (i = 0; i < n; i++) {
		c = src[i];
		if (c == 0x01) {
			if (i + 1 == n)
				break;	/* a lone final escape is dropped (strescape.c) */
			c = pm_adminproto_unescape_byte(src[++i]);
		}
		if (c == '\0' && cut)
			break;
		if (o + 1 >= cap) {
			*full = true;
			break;
		}
		dst[o++] = (char)c;
	}
	if (cap > 0)
		dst[o] = '\0';
	return o;
}

/* ---- addresses: Dovecot's net_addr2ip() ---------------------------------- */

/* str_parse_uint() at s[*i]: at least one digit; false if >= 2^32. */
static bool
pm_adminproto_dec(const char *s, size_t len, size_t *i, uint32_t *v)
{
	uint64_t n = 0;
	size_t k = *i;

	if (k >= len || !pm_adminproto_is_digit((uint8_t)s[k]))
		return false;
	for (; k < len && pm_adminproto_is_digit((uint8_t)s[k]); k++) {
		n = n * 10 + (uint64_t)(s[k] - '0');
		if (n > UINT32_MAX)
			return false;
	}
	*i = k;
	*v = (uint32_t)n;
	return true;
}

static void
pm_adminproto_put_ip4(struct pm_addr *a, uint32_t host_order)
{
	a->family = PM_AF_INET;
	a->bytes[0] = (uint8_t)(host_order >> 24);
	a->bytes[1] = (uint8_t)(host_order >> 16);
	a->bytes[2] = (uint8_t)(host_order >> 8);
	a->bytes[3] = (uint8_t)host_order;
}

/*
 * net_addr2ip_inet4_fast() (Dovecot 2.3 lib/net.c): decimal only, either a
 * single number (the whole address) or exactly a.b.c.d with every part
 * below 256. Lab: "010.0.0.9" became 10.0.0.9 and "167772167" 10.0.0.7.
 */
static bool
pm_adminproto_ip4_fast(struct pm_addr *a, const char *s, size_t len)
{
	uint32_t num, word = 0;
	size_t i = 0;
	int part;

	if (!pm_adminproto_dec(s, len, &i, &num))
		return false;
	if (i == len) {
		pm_adminproto_put_ip4(a, num);
		return true;
	}
	for (part = 0;; part++) {
		if (num >= 256)
			return false;
		word |= num << (24 - 8 * part);
		if (part == 3)
			break;
		if (i >= len || s[i] != '.')
			return false;
		i++;
		if (!pm_adminproto_dec(s, len, &i, &num))
			return false;
	}
	if (i != len)
		return false;
	pm_adminproto_put_ip4(a, word);
	return true;
}

/*
 * One strtoul(s, &end, 0) at s[*i], which the caller has checked is a
 * digit: "0x" + a hex digit is hex, another leading '0' octal, else decimal.
 * False if the value does not fit 32 bits (glibc's inet_aton() rejects
 * those); *i moves past every digit of the base either way.
 */
static bool
pm_adminproto_strtoul0(const char *s, size_t len, size_t *i, uint32_t *v)
{
	unsigned base = 10;
	uint64_t n = 0;
	bool big = false;
	size_t k = *i;
	int d;

	if (s[k] == '0') {
		if (k + 2 < len && (s[k + 1] == 'x' || s[k + 1] == 'X') &&
		    pm_adminproto_hexval((uint8_t)s[k + 2]) >= 0) {
			base = 16;
			k += 2;
		} else {
			base = 8;	/* "0x" alone parses as 0, leaving "x..." */
		}
	}
	for (; k < len; k++) {
		d = pm_adminproto_hexval((uint8_t)s[k]);
		if (d < 0 || (unsigned)d >= base)
			break;
		if (!big) {
			n = n * base + (unsigned)d;
			big = n > UINT32_MAX;
		}
	}
	*i = k;
	*v = (uint32_t)n;
	return !big;
}

/*
 * glibc's inet_aton(): 1 to 4 parts separated by '.', the last one filling
 * the remaining bytes ("10.1.2" is 10.1.0.2, "1.65536" is 1.1.0.0), each in
 * C notation; after the last part an ASCII space ends the address and
 * whatever follows is ignored. Lab: "10.0.0.1 x" was 10.0.0.1, "010.0.0.19
 * x" was 8.0.0.19 (octal, since the fast path failed), "10.0.0.1\xa0"
 * closed the connection.
 */
static bool
pm_adminproto_ip4_aton(struct pm_addr *a, const char *s, size_t len)
{
	static const uint32_t max[4] = { 0xffffffffu, 0xffffffu, 0xffffu, 0xffu };
	uint32_t val, word = 0;
	size_t i = 0, np = 0;

	for (;;) {
		if (i >= len || !pm_adminproto_is_digit((uint8_t)s[i]))
			return false;
		if (!pm_adminproto_strtoul0(s, len, &i, &val))
			return false;
		if (i < len && s[i] == '.') {
			if (np > 2 || val > 0xff)
				return false;
			word |= val << (24 - 8 * np);
			np++;
			i++;
		} else {
			break;
		}
	}
	if (i < len && !pm_adminproto_is_space((uint8_t)s[i]))
		return false;
	if (val > max[np])
		return false;
	pm_adminproto_put_ip4(a, word | val);
	return true;
}

int
pm_adminproto_parse_ip(struct pm_addr *a, const char *s, size_t len)
{
	memset(a, 0, sizeof(*a));
	if (len == 0)
		return -EINVAL;
	len = strnlen(s, len);	/* Dovecot parses a C string */
	if (pm_adminproto_ip4_fast(a, s, len))
		return 0;
	if (memchr(s, ':', len) != NULL) {
		/* net_addr2ip() allows "[ipv6]"; lab: "[::1]" accepted,
		 * "[::1" closed the connection. */
		if (s[0] == '[' && s[len - 1] == ']') {
			s++;
			len -= 2;
		}
		/* With a ':' only AF_INET6 can match: inet_pton(AF_INET6). */
		if (pm_addr_parse(a, s, len) == 0 && a->family == PM_AF_INET6)
			return 0;
		memset(a, 0, sizeof(*a));
		return -EINVAL;
	}
	if (pm_adminproto_ip4_aton(a, s, len))
		return 0;
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

/* ---- escaping --------------------------------------------------------------- */

int
pm_adminproto_escape(char *buf, size_t size, const void *s, size_t len)
{
	const uint8_t *src = s;
	size_t i, o = 0;
	char e;

	if (size > INT_MAX)
		size = INT_MAX;
	for (i = 0; i < len; i++) {
		switch (src[i]) {
		case '\0':
			e = '0';
			break;
		case 0x01:
			e = '1';
			break;
		case '\t':
			e = 't';
			break;
		case '\r':
			e = 'r';
			break;
		case '\n':
			e = 'n';
			break;
		default:
			e = 0;
			break;
		}
		if (o + (e != 0 ? 2 : 1) >= size)
			goto nospace;
		if (e != 0) {
			buf[o++] = 0x01;
			buf[o++] = e;
		} else {
			buf[o++] = (char)src[i];
		}
	}
	if (size == 0)
		return -ENOSPC;
	buf[o] = '\0';
	return (int)o;
nospace:
	if (size > 0)
		buf[o] = '\0';
	return -ENOSPC;
}

int
pm_adminproto_unescape(char *buf, size_t size, const void *s, size_t len)
{
	bool full;
	size_t n;

	if (size == 0)
		return -ENOSPC;
	if (size > INT_MAX)
		size = INT_MAX;
	n = pm_adminproto_unesc(buf, size, s, len, false, &full);
	return full ? -ENOSPC : (int)n;
}

/* ---- command decoding --------------------------------------------------------- */

/* Command word + the first three arguments; later ones never matter. */
#define PM_ADMINPROTO_MAX_FIELDS 4

struct pm_adminproto_span {
	const uint8_t *p;
	size_t n;
};

static void
pm_adminproto_cmd_reset(struct pm_adminproto_cmd *cmd)
{
	cmd->kind = PM_ADMINPROTO_NONE;
	cmd->has_ip = false;
	memset(&cmd->ip, 0, sizeof(cmd->ip));
	cmd->vhosts = -1;
	cmd->max_parallel = 0;
	cmd->has_port = false;
	cmd->port = 0;
	cmd->nowait = false;
	cmd->user_is_hash = false;
	cmd->user_hash = 0;
	cmd->reply = NULL;
	cmd->reason = NULL;
	cmd->user_len = cmd->tag_len = cmd->field_len = cmd->value_len = 0;
	cmd->name[0] = cmd->user[0] = cmd->tag[0] = cmd->field[0] = cmd->value[0] = '\0';
}

static enum pm_adminproto_status
pm_adminproto_close(struct pm_adminproto_cmd *cmd, const char *reason)
{
	cmd->reason = reason;
	return PM_ADMINPROTO_CLOSE;
}

/* A field as Dovecot's handler sees it: unescaped, cut at a NUL. */
static size_t
pm_adminproto_field(const struct pm_adminproto_span *f, char *dst)
{
	bool full;

	return pm_adminproto_unesc(dst, PM_ADMINPROTO_FIELD_SIZE, f->p, f->n, true, &full);
}

/* net_addr2ip() on a field; false if it does not parse. */
static bool
pm_adminproto_field_ip(const struct pm_adminproto_span *f, struct pm_adminproto_cmd *cmd)
{
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	size_t n = pm_adminproto_field(f, tmp);

	if (pm_adminproto_parse_ip(&cmd->ip, tmp, n) < 0)
		return false;
	cmd->has_ip = true;
	return true;
}

/* str_to_uint() on a field. */
static bool
pm_adminproto_field_uint(const struct pm_adminproto_span *f, uint32_t *v)
{
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	size_t n = pm_adminproto_field(f, tmp);

	return pm_adminproto_to_uint(tmp, n, v);
}

/* The user argument: its name, and the hash if it is a number. */
static void
pm_adminproto_field_user(const struct pm_adminproto_span *f, struct pm_adminproto_cmd *cmd,
			 bool maybe_hash)
{
	cmd->user_len = pm_adminproto_field(f, cmd->user);
	/* doveadm_cmd_user_lookup()/_move(): str_to_uint() succeeds, so the
	 * argument is the hash (lab: "0617210206" looked up user1's hash). */
	if (maybe_hash)
		cmd->user_is_hash = pm_adminproto_to_uint(cmd->user, cmd->user_len,
							  &cmd->user_hash);
}

/* null_strcmp(arg, "nowait") == 0: exactly "nowait" (lab: "NOWAIT" waits). */
static bool
pm_adminproto_field_nowait(const struct pm_adminproto_span *f)
{
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	size_t n = pm_adminproto_field(f, tmp);

	return n == 6 && memcmp(tmp, "nowait", 6) == 0;
}

/* doveadm_cmd_host_set_or_update(). */
static enum pm_adminproto_status
pm_adminproto_host_set(struct pm_adminproto_cmd *cmd, const struct pm_adminproto_span *args,
		       size_t nargs, const char *bad)
{
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	bool update = cmd->kind == PM_ADMINPROTO_HOST_UPDATE;
	uint32_t count = UINT32_MAX;
	size_t n, iplen;
	char *at;

	if (nargs < 1)
		return pm_adminproto_close(cmd, bad);
	/* "ip@tag": the tag is everything after the first '@' (strchr), so
	 * "10.0.2.1@foo@bar" has tag "foo@bar" and "10.0.0.3@" no tag (lab). */
	n = pm_adminproto_field(&args[0], tmp);
	at = memchr(tmp, '@', n);
	iplen = at != NULL ? (size_t)(at - tmp) : n;
	if (at != NULL) {
		cmd->tag_len = n - iplen - 1;
		memcpy(cmd->tag, at + 1, cmd->tag_len + 1);
	}
	if (pm_adminproto_parse_ip(&cmd->ip, tmp, iplen) < 0)
		return pm_adminproto_close(cmd, bad);
	cmd->has_ip = true;
	/* A count that is not str_to_uint() closes ("", "+5", 2^32: lab), and
	 * HOST-UPDATE without one closes too. */
	if (nargs >= 2 && !pm_adminproto_field_uint(&args[1], &count))
		return pm_adminproto_close(cmd, bad);
	if (nargs < 2 && update)
		return pm_adminproto_close(cmd, bad);
	/* Dovecot uses UINT_MAX for "no count", so an explicit 4294967295 is
	 * no count either (lab: HOST-SET kept 100, HOST-UPDATE answered OK). */
	if (count == UINT32_MAX)
		return PM_ADMINPROTO_RUN;
	/* Checked after the arguments but before the host lookup: even an
	 * unknown host gets this reply to HOST-UPDATE (lab). */
	if (count > PM_ADMINPROTO_VHOST_MAX) {
		cmd->reply = PM_ADMINPROTO_R_VHOST_TOO_LARGE;
		return PM_ADMINPROTO_REPLY;
	}
	cmd->vhosts = (int)count;
	return PM_ADMINPROTO_RUN;
}

/* doveadm_cmd_host_reset_users(). */
static enum pm_adminproto_status
pm_adminproto_reset_users(struct pm_adminproto_cmd *cmd, const struct pm_adminproto_span *args,
			  size_t nargs, const char *bad)
{
	char tmp[PM_ADMINPROTO_FIELD_SIZE];

	/* The max is checked first, and only when an IP field precedes it;
	 * 0 or non-numeric closes (lab: "bogus\t0" closed as "parameters"). */
	if (nargs >= 2 && (!pm_adminproto_field_uint(&args[1], &cmd->max_parallel) ||
			   cmd->max_parallel == 0))
		return pm_adminproto_close(cmd, bad);
	/* An empty IP field means every host: "HOST-RESET-USERS\t\t50". */
	if (nargs >= 1 && pm_adminproto_field(&args[0], tmp) > 0 &&
	    !pm_adminproto_field_ip(&args[0], cmd))
		return pm_adminproto_close(cmd, pm_adminproto_bad_reset_ip);
	return PM_ADMINPROTO_RUN;
}

/* The handlers of doveadm-connection.c, argument parsing only. */
static enum pm_adminproto_status
pm_adminproto_args(struct pm_adminproto_cmd *cmd, const struct pm_adminproto_span *args,
		   size_t nargs)
{
	const char *bad = pm_adminproto_cmds[cmd->kind].bad;
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	uint32_t port;

	switch (cmd->kind) {
	case PM_ADMINPROTO_HOST_LIST:
	case PM_ADMINPROTO_HOST_LIST_REMOVED:
	case PM_ADMINPROTO_DIRECTOR_LIST:
		return PM_ADMINPROTO_RUN;	/* arguments ignored (lab) */
	case PM_ADMINPROTO_HOST_SET:
	case PM_ADMINPROTO_HOST_UPDATE:
		return pm_adminproto_host_set(cmd, args, nargs, bad);
	case PM_ADMINPROTO_HOST_UP:
	case PM_ADMINPROTO_HOST_DOWN:
	case PM_ADMINPROTO_HOST_REMOVE:
		/* args[0] == NULL || net_addr2ip() < 0: close; extra args ignored */
		if (nargs < 1 || !pm_adminproto_field_ip(&args[0], cmd))
			return pm_adminproto_close(cmd, bad);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_HOST_FLUSH:
	case PM_ADMINPROTO_USER_LIST:
		/* A missing or empty IP field means all ("HOST-FLUSH\t": lab). */
		if (nargs >= 1 && pm_adminproto_field(&args[0], tmp) > 0 &&
		    !pm_adminproto_field_ip(&args[0], cmd))
			return pm_adminproto_close(cmd, bad);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_HOST_RESET_USERS:
		return pm_adminproto_reset_users(cmd, args, nargs, bad);
	case PM_ADMINPROTO_USER_LOOKUP:
		/* No argument at all looks up "" (lab: same answer as "\t"). */
		if (nargs >= 1)
			pm_adminproto_field_user(&args[0], cmd, true);
		if (nargs >= 2)
			cmd->tag_len = pm_adminproto_field(&args[1], cmd->tag);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_USER_MOVE:
		/* The user may be "" (hashed; lab); the host must parse. */
		if (nargs < 2 || !pm_adminproto_field_ip(&args[1], cmd))
			return pm_adminproto_close(cmd, bad);
		pm_adminproto_field_user(&args[0], cmd, true);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_USER_KICK:
		/* Only a missing user closes; "" is kicked (lab: OK). */
		if (nargs < 1)
			return pm_adminproto_close(cmd, bad);
		pm_adminproto_field_user(&args[0], cmd, false);
		cmd->nowait = nargs >= 2 && pm_adminproto_field_nowait(&args[1]);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_USER_KICK_ALT:
		/* str_array_length(args) < 2 closes; empty strings are fine. */
		if (nargs < 2)
			return pm_adminproto_close(cmd, bad);
		cmd->field_len = pm_adminproto_field(&args[0], cmd->field);
		cmd->value_len = pm_adminproto_field(&args[1], cmd->value);
		cmd->nowait = nargs >= 3 && pm_adminproto_field_nowait(&args[2]);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_DIRECTOR_ADD:
	case PM_ADMINPROTO_DIRECTOR_REMOVE:
		/* net_str2port(): 1..65535; "", 0 and 65536 close (lab). */
		if (nargs < 1 || !pm_adminproto_field_ip(&args[0], cmd))
			return pm_adminproto_close(cmd, bad);
		if (nargs >= 2) {
			if (!pm_adminproto_field_uint(&args[1], &port) || port == 0 ||
			    port > UINT16_MAX)
				return pm_adminproto_close(cmd, bad);
			cmd->has_port = true;
			cmd->port = (uint16_t)port;
		}
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_USER_ASSIGN:
		/* postmux's own: a login needs a name; it is never a hash. */
		if (nargs < 1)
			return pm_adminproto_close(cmd, bad);
		pm_adminproto_field_user(&args[0], cmd, false);
		if (cmd->user_len == 0)
			return pm_adminproto_close(cmd, bad);
		if (nargs >= 2)
			cmd->tag_len = pm_adminproto_field(&args[1], cmd->tag);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_POSTMUX_COUNTERS:
		/* postmux's own, so strict: at most one argument, and a prefix
		 * only of the bytes a counter name can have. */
		if (nargs > 1)
			return pm_adminproto_close(cmd, bad);
		if (nargs == 1)
			cmd->field_len = pm_adminproto_field(&args[0], cmd->field);
		if (cmd->field_len > 0 && !pm_ctlmsg_counter_name_ok(cmd->field))
			return pm_adminproto_close(cmd, bad);
		return PM_ADMINPROTO_RUN;
	case PM_ADMINPROTO_NONE:
	case PM_ADMINPROTO_KIND__COUNT:
		break;
	}
	return pm_adminproto_close(cmd, pm_adminproto_cmds[PM_ADMINPROTO_NONE].bad);
}

/* The line as Dovecot's handler sees it: one final CR dropped
 * (i_stream_next_line(); lab: "HOST-LIST\r\r\n" closed), cut at a NUL. */
static size_t
pm_adminproto_line_len(const char *line, size_t len)
{
	const char *nul;

	if (len == 0)
		return 0;
	if (line[len - 1] == '\r')
		len--;
	nul = memchr(line, '\0', len);
	return nul != NULL ? (size_t)(nul - line) : len;
}

enum pm_adminproto_status
pm_adminproto_decode_line(const char *line, size_t len, struct pm_adminproto_cmd *cmd)
{
	struct pm_adminproto_span f[PM_ADMINPROTO_MAX_FIELDS];
	char tmp[PM_ADMINPROTO_FIELD_SIZE];
	const uint8_t *p = (const uint8_t *)line;
	size_t nf = 0, i, start = 0, n;
	int k;

	pm_adminproto_cmd_reset(cmd);
	if (len > PM_ADMINPROTO_LINE_MAX)
		return pm_adminproto_close(cmd, pm_adminproto_long_line);
	len = pm_adminproto_line_len(line, len);
	/* t_strsplit_tabescaped("") has no fields (lab: "\n" closed). */
	if (len == 0)
		return pm_adminproto_close(cmd, pm_adminproto_empty_line);
	/* Split at every TAB first, then unescape each field: an escape can
	 * never hide a TAB (strescape.c splits on raw TABs). */
	for (i = 0; i <= len && nf < PM_ADMINPROTO_MAX_FIELDS; i++) {
		if (i == len || p[i] == '\t') {
			f[nf].p = p + start;
			f[nf].n = i - start;
			nf++;
			start = i + 1;
		}
	}
	/* The command word is unescaped too ("HOST\x01-LIST" works: lab) and
	 * matched exactly, case included (lab: "host-list" closed). */
	n = pm_adminproto_field(&f[0], tmp);
	memcpy(cmd->name, tmp, n < PM_ADMINPROTO_NAME_SIZE ? n + 1 : PM_ADMINPROTO_NAME_SIZE - 1);
	cmd->name[PM_ADMINPROTO_NAME_SIZE - 1] = '\0';
	for (k = 1; k < PM_ADMINPROTO_KIND__COUNT; k++) {
		if (strlen(pm_adminproto_cmds[k].name) == n &&
		    memcmp(pm_adminproto_cmds[k].name, tmp, n) == 0)
			break;
	}
	if (k == PM_ADMINPROTO_KIND__COUNT)
		return pm_adminproto_close(cmd, pm_adminproto_cmds[PM_ADMINPROTO_NONE].bad);
	cmd->kind = (enum pm_adminproto_kind)k;
	return pm_adminproto_args(cmd, f + 1, nf - 1);
}

const char *
pm_adminproto_kind_name(enum pm_adminproto_kind kind)
{
	if ((unsigned)kind >= PM_ADMINPROTO_KIND__COUNT)
		return "";
	return pm_adminproto_cmds[kind].name;
}

/* ---- framing ------------------------------------------------------------------ */

/*
 * version_string_verify_full(): "VERSION\tdirector-doveadm\t", then the
 * major up to the next TAB, which must be a number equal to 1 (so "01" is
 * fine), then the minor, the rest of the line, which must be str_to_uint()
 * (lab: "x", "", "0\t", "0 ", "+0" and 4294967296 all closed). No
 * unescaping: "director\x01-doveadm" closed (lab).
 */
static bool
pm_adminproto_version_ok(const char *line, size_t len, uint32_t *minor)
{
	const size_t plen = sizeof(pm_adminproto_version_prefix) - 1;
	const char *maj, *tab;
	uint32_t major;

	len = pm_adminproto_line_len(line, len);
	if (len < plen || memcmp(line, pm_adminproto_version_prefix, plen) != 0)
		return false;
	maj = line + plen;
	tab = memchr(maj, '\t', len - plen);
	if (tab == NULL)
		return false;
	/* str_uint_equals(major, 1): a number too large for 32 bits is not 1
	 * either, so the 32-bit parser decides the same way. */
	if (!pm_adminproto_to_uint(maj, (size_t)(tab - maj), &major) || major != 1)
		return false;
	return pm_adminproto_to_uint(tab + 1, (size_t)(line + len - tab - 1), minor);
}

void
pm_adminproto_init(struct pm_adminproto *p)
{
	p->state = PM_ADMINPROTO_ST_HANDSHAKE;
	p->len = 0;
	p->minor = 0;
	p->reason = NULL;
}

bool
pm_adminproto_handshaked(const struct pm_adminproto *p, uint32_t *minor)
{
	if (p->state != PM_ADMINPROTO_ST_COMMANDS)
		return false;
	if (minor != NULL)
		*minor = p->minor;
	return true;
}

static enum pm_adminproto_status
pm_adminproto_fail(struct pm_adminproto *p, struct pm_adminproto_cmd *cmd, const char *reason)
{
	p->state = PM_ADMINPROTO_ST_CLOSED;
	p->reason = reason;
	p->len = 0;
	return pm_adminproto_close(cmd, reason);
}

enum pm_adminproto_status
pm_adminproto_feed(struct pm_adminproto *p, const void *data, size_t len, size_t *consumed,
		   struct pm_adminproto_cmd *cmd)
{
	const uint8_t *b = data;
	enum pm_adminproto_status st;
	size_t i, n;

	*consumed = 0;
	if (p->state == PM_ADMINPROTO_ST_CLOSED) {
		pm_adminproto_cmd_reset(cmd);
		return pm_adminproto_close(cmd, p->reason);
	}
	for (i = 0; i < len; i++) {
		if (b[i] != '\n') {
			/* Dovecot's 1024-byte buffer is full with no LF in it:
			 * i_stream_read_next_line() fails with ENOBUFS and the
			 * connection closes, lines before it already handled. */
			if (p->len == PM_ADMINPROTO_LINE_MAX) {
				*consumed = i + 1;
				pm_adminproto_cmd_reset(cmd);
				return pm_adminproto_fail(p, cmd, pm_adminproto_long_line);
			}
			p->line[p->len++] = (char)b[i];
			continue;
		}
		n = p->len;
		p->len = 0;
		if (p->state == PM_ADMINPROTO_ST_HANDSHAKE) {
			if (!pm_adminproto_version_ok(p->line, n, &p->minor)) {
				*consumed = i + 1;
				pm_adminproto_cmd_reset(cmd);
				return pm_adminproto_fail(p, cmd, pm_adminproto_bad_version);
			}
			p->state = PM_ADMINPROTO_ST_COMMANDS;	/* no reply */
			continue;
		}
		*consumed = i + 1;
		st = pm_adminproto_decode_line(p->line, n, cmd);
		if (st == PM_ADMINPROTO_CLOSE)
			return pm_adminproto_fail(p, cmd, cmd->reason);
		return st;
	}
	*consumed = len;
	return PM_ADMINPROTO_AGAIN;
}

/* ---- reply lines ------------------------------------------------------------------ */

/* A bounded writer: keeps a NUL after what it wrote; remembers overflow. */
struct pm_adminproto_out {
	char *buf;
	size_t size;
	size_t len;
	int err;
};

static void
pm_adminproto_out_init(struct pm_adminproto_out *o, char *buf, size_t size)
{
	o->buf = buf;
	o->size = size > INT_MAX ? INT_MAX : size;
	o->len = 0;
	o->err = size == 0 ? -ENOSPC : 0;
	if (size > 0)
		buf[0] = '\0';
}

static void
pm_adminproto_put(struct pm_adminproto_out *o, const void *s, size_t n)
{
	if (o->err != 0)
		return;
	if (n >= o->size - o->len) {
		o->err = -ENOSPC;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
pm_adminproto_put_str(struct pm_adminproto_out *o, const char *s)
{
	pm_adminproto_put(o, s, strlen(s));
}

static void
pm_adminproto_put_u64(struct pm_adminproto_out *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	pm_adminproto_put(o, tmp + i, sizeof(tmp) - i);
}

static void
pm_adminproto_put_i64(struct pm_adminproto_out *o, int64_t v)
{
	if (v < 0) {
		pm_adminproto_put(o, "-", 1);
		pm_adminproto_put_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		pm_adminproto_put_u64(o, (uint64_t)v);
	}
}

/* An address (or nothing for NULL / PM_AF_NONE when @optional). */
static void
pm_adminproto_put_addr(struct pm_adminproto_out *o, const struct pm_addr *a, bool optional)
{
	char tmp[PM_ADDR_STRLEN];
	int n;

	if (o->err != 0)
		return;
	if (a == NULL || a->family == PM_AF_NONE) {
		if (!optional)
			o->err = -EINVAL;
		return;
	}
	n = pm_addr_format(a, tmp, sizeof(tmp));
	if (n < 0) {
		o->err = n == -ENOSPC ? -EINVAL : n;	/* not a valid address */
		return;
	}
	pm_adminproto_put(o, tmp, (size_t)n);
}

static void
pm_adminproto_put_esc(struct pm_adminproto_out *o, const char *s)
{
	int n;

	if (o->err != 0)
		return;
	n = pm_adminproto_escape(o->buf + o->len, o->size - o->len, s, strlen(s));
	if (n < 0) {
		o->buf[o->len] = '\0';
		o->err = n;
		return;
	}
	o->len += (size_t)n;
}

static int
pm_adminproto_out_end(struct pm_adminproto_out *o)
{
	pm_adminproto_put(o, "\n", 1);
	if (o->err != 0) {
		if (o->size > 0)
			o->buf[0] = '\0';
		return o->err;
	}
	return (int)o->len;
}

int
pm_adminproto_fmt_host(char *buf, size_t size, const struct pm_addr *ip, uint32_t vhosts,
		       uint32_t users, const char *tag, bool down, int64_t last_updown_s)
{
	struct pm_adminproto_out o;

	/* doveadm_cmd_host_list(): "%s\t%u\t%u\t" tag "\t%c\t%ld" */
	pm_adminproto_out_init(&o, buf, size);
	pm_adminproto_put_addr(&o, ip, false);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, vhosts);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, users);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_esc(&o, tag != NULL ? tag : "");
	pm_adminproto_put_str(&o, down ? "\tD\t" : "\tU\t");
	pm_adminproto_put_i64(&o, last_updown_s);
	return pm_adminproto_out_end(&o);
}

int
pm_adminproto_fmt_addr(char *buf, size_t size, const struct pm_addr *ip)
{
	struct pm_adminproto_out o;

	pm_adminproto_out_init(&o, buf, size);
	pm_adminproto_put_addr(&o, ip, false);
	return pm_adminproto_out_end(&o);
}

int
pm_adminproto_fmt_user(char *buf, size_t size, uint32_t user_hash, uint32_t expire_s,
		       const struct pm_addr *ip)
{
	struct pm_adminproto_out o;

	/* doveadm_cmd_user_list(): "%u\t%u\t%s\n" */
	pm_adminproto_out_init(&o, buf, size);
	pm_adminproto_put_u64(&o, user_hash);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, expire_s);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_addr(&o, ip, false);
	return pm_adminproto_out_end(&o);
}

int
pm_adminproto_fmt_lookup(char *buf, size_t size, const struct pm_addr *cur, uint32_t expire_s,
			 const struct pm_addr *hashed, const struct pm_addr *initial)
{
	struct pm_adminproto_out o;
	bool has_cur = cur != NULL && cur->family != PM_AF_NONE;

	/* doveadm_cmd_user_lookup(): "\t0" without an entry, else "%s\t%u";
	 * then "\t" + hashed host and "\t" + initial host, empty if none. */
	pm_adminproto_out_init(&o, buf, size);
	pm_adminproto_put_addr(&o, cur, true);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, has_cur ? expire_s : 0);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_addr(&o, hashed, true);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_addr(&o, initial, true);
	return pm_adminproto_out_end(&o);
}

int
pm_adminproto_fmt_director_self(char *buf, size_t size, const struct pm_addr *ip,
				uint16_t port, int64_t last_failed_s, uint32_t last_sync_ms)
{
	struct pm_adminproto_out o;

	/* doveadm_director_host_append_status() "%s\t%u\t%s\t%ld\t", then
	 * doveadm_director_append_status() "ring synced" "\t%u". */
	pm_adminproto_out_init(&o, buf, size);
	pm_adminproto_put_addr(&o, ip, false);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, port);
	pm_adminproto_put_str(&o, "\tself\t");
	pm_adminproto_put_i64(&o, last_failed_s);
	pm_adminproto_put_str(&o, "\tring synced\t");
	pm_adminproto_put_u64(&o, last_sync_ms);
	return pm_adminproto_out_end(&o);
}

int
pm_adminproto_fmt_counter(char *buf, size_t size, const char *name, uint64_t value)
{
	struct pm_adminproto_out o;

	pm_adminproto_out_init(&o, buf, size);
	if (!pm_ctlmsg_counter_name_ok(name)) {
		if (size > 0)
			buf[0] = '\0';
		return -EINVAL;
	}
	pm_adminproto_put_str(&o, name);
	pm_adminproto_put(&o, "\t", 1);
	pm_adminproto_put_u64(&o, value);
	return pm_adminproto_out_end(&o);
}
