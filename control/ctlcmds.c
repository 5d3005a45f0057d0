/*
 * ctlcmds.c -- postmuxctl's operator verbs over the admin socket.
 *
 * Each verb mirrors its doveadm counterpart (Dovecot 2.3.19.1,
 * src/doveadm/doveadm-director.c): the same wire commands, the same
 * messages on stderr and the same exit statuses, so that scripts written
 * for `doveadm director` keep working. The differences are deliberate:
 *
 *   - one command at a time: doveadm writes all of a host name's commands
 *     before reading any reply, which a director ring can lose (spec 3.1);
 *   - the fields are tab-escaped (doveadm sends the user and tag of
 *     `status`, and the tag of `add`, raw);
 *   - a host name's addresses are de-duplicated before use (a name listed
 *     twice would make `remove` fail on the second copy);
 *   - `status` without a user prints postmux's backend table, `dump` prints
 *     postmuxctl command lines (with `down` lines, so that a replay keeps
 *     the host states), `map -f` also reads a last line without a newline,
 *     and an unreadable -f file is an error (doveadm prints nothing for it);
 *   - `map -h` needs no connection;
 *   - `status <user>` answered TRYAGAIN (the server could not hash the
 *     name) is "failed: TRYAGAIN" and 75, not "Invalid reply" and 76;
 *   - --max-parallel must be a number from 0 to 2^32-1 (doveadm takes
 *     anything and sends nothing for what does not parse).
 *
 * `stats` has no doveadm counterpart: it sends postmux's own
 * POSTMUX-COUNTERS, which a Dovecot director does not know (it closes the
 * connection, reported as such).
 */
#include "ctlcmds.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "adminclient.h"
#include "ctlmsg.h"
#include "director/userhash.h"

/* A bad --hash-format: postmuxctl's own usage status (as `ring`). */
#define PM_CTLCMDS_EX_BADFMT 2

/* At most this many HOST-LIST rows are kept (a ring holds fewer). */
#define PM_CTLCMDS_HOSTS_MAX 65536

/* doveadm-print-table.c: DEFAULT_COLUMNS and MIN_COLUMNS. */
#define PM_CTLCMDS_COLUMNS 80
#define PM_CTLCMDS_MIN_COLUMNS 30

enum {
	OPT_HASH_FORMAT = 0x100,
	OPT_MAX_PARALLEL,
	OPT_HELP,
};

struct ctl {
	const char *socket;
	const char *verb;
	const char *usage;
	int status;			/* the exit status so far */
	struct pm_adminclient *c;	/* NULL until connected */
	char err[512];
	/* options */
	const char *tag;
	const char *field;		/* kick -f, map -f */
	const char *hash_format;
	bool force;			/* flush -F */
	bool hash_map, user_map;	/* map -h, -u */
	bool has_max;
	uint32_t max_parallel;
};

struct ctl_verb {
	const char *name;
	const char *opts;		/* getopt short options, "a:" added */
	int (*run)(struct ctl *x, int argc, char **argv);
	const char *usage;
};

/* ---- status bookkeeping, as doveadm's doveadm_exit_code ----------------------- */

/* NOTFOUND only sets the status if nothing worse happened; the rest always
 * do (cmd_director_ipcmd()). */
static void
ctl_fail(struct ctl *x, int status)
{
	if (status == EX_NOHOST && x->status != 0)
		return;
	x->status = status;
}

static int
ctl_usage(struct ctl *x)
{
	fprintf(stderr, "usage: postmuxctl [-a <socket>] %s\n", x->usage);
	return EX_USAGE;
}

/* An adminclient error: the message, and 76 for protocol trouble, else 75. */
static int
ctl_io_error(struct ctl *x, int ret)
{
	fprintf(stderr, "Error: %s", x->err);
	if (ret == -ENOENT || ret == -ECONNREFUSED)
		fputs(" (is postmux-control running? -a <socket> or POSTMUX_ADMIN_SOCKET "
		      "selects another socket)", stderr);
	fputc('\n', stderr);
	ctl_fail(x, ret == -EPROTONOSUPPORT || ret == -EPROTO ? EX_PROTOCOL : EX_TEMPFAIL);
	return x->status;
}

static int
ctl_connect(struct ctl *x)
{
	int ret;

	x->c = malloc(sizeof(*x->c));
	if (x->c == NULL) {
		fputs("Error: out of memory\n", stderr);
		ctl_fail(x, EX_TEMPFAIL);
		return -ENOMEM;
	}
	ret = pm_adminclient_connect(x->c, x->socket, x->err, sizeof(x->err));
	if (ret < 0) {
		free(x->c);
		x->c = NULL;
		ctl_io_error(x, ret);
	}
	return ret;
}

/* One command, one reply line (in @reply); I/O errors are reported here. */
static int
ctl_request(struct ctl *x, const char *const *fields, size_t n, char *reply, size_t size)
{
	int ret = pm_adminclient_request(x->c, fields, n, reply, size, x->err, sizeof(x->err));

	if (ret < 0)
		ctl_io_error(x, ret);
	return ret;
}

/* ---- host names ------------------------------------------------------------------ */

struct ctl_ips {
	size_t n;
	struct pm_addr *a;
	char (*text)[PM_ADDR_STRLEN];
};

static void
ctl_ips_free(struct ctl_ips *ips)
{
	free(ips->a);
	free(ips->text);
	memset(ips, 0, sizeof(*ips));
}

static int
ctl_ips_add(struct ctl_ips *ips, const struct pm_addr *a, size_t cap)
{
	size_t i;

	for (i = 0; i < ips->n; i++) {
		if (pm_addr_eq(&ips->a[i], a))
			return 0;
	}
	if (ips->n == cap)
		return -ENOSPC;
	ips->a[ips->n] = *a;
	if (pm_addr_format(a, ips->text[ips->n], PM_ADDR_STRLEN) < 0)
		return -EINVAL;
	ips->n++;
	return 0;
}

/*
 * doveadm's director_get_host(): an address net_addr2ip() accepts is used
 * as is (then printed canonically, net_ip2addr); anything else goes through
 * getaddrinfo (SOCK_STREAM, any family), every address in its order. Errors
 * print doveadm's message and set 75.
 */
static int
ctl_resolve(struct ctl *x, const char *host, struct ctl_ips *ips)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct pm_addr a;
	size_t cap = 0;
	int ret;

	memset(ips, 0, sizeof(*ips));
	if (pm_adminproto_parse_ip(&a, host, strlen(host)) == 0) {
		cap = 1;
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		ret = getaddrinfo(host, NULL, &hints, &res);
		if (ret != 0) {
			fprintf(stderr, "Error: gethostname(%s) failed: %s\n", host,
				ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
			ctl_fail(x, EX_TEMPFAIL);
			return -EHOSTUNREACH;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next)
			cap++;
	}
	ips->a = calloc(cap ? cap : 1, sizeof(*ips->a));
	ips->text = calloc(cap ? cap : 1, sizeof(*ips->text));
	if (ips->a == NULL || ips->text == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	if (res == NULL) {
		ret = ctl_ips_add(ips, &a, cap);
		if (ret < 0)
			goto fail;
		return 0;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		memset(&a, 0, sizeof(a));
		if (ai->ai_family == AF_INET) {
			a.family = PM_AF_INET;
			memcpy(a.bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.family = PM_AF_INET6;
			memcpy(a.bytes, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		ret = ctl_ips_add(ips, &a, cap);
		if (ret < 0)
			goto fail;
	}
	freeaddrinfo(res);
	if (ips->n == 0) {
		fprintf(stderr, "Error: gethostname(%s) failed: no IPv4 or IPv6 address\n", host);
		ctl_ips_free(ips);
		ctl_fail(x, EX_TEMPFAIL);
		return -EHOSTUNREACH;
	}
	return 0;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	ctl_ips_free(ips);
	fprintf(stderr, "Error: %s: %s\n", host, strerror(-ret));
	ctl_fail(x, EX_TEMPFAIL);
	return ret;
}

/* ---- numbers ----------------------------------------------------------------------- */

/* Dovecot's str_to_uint(): decimal digits only, fitting 32 bits. */
static bool
ctl_uint(const char *s, uint32_t *v)
{
	return pm_userhash_parse_number(s, strlen(s), v) == 0;
}

static int
ctl_hash_format(struct pm_userhash_fmt *hf, const char *fmt)
{
	char err[256];

	if (pm_userhash_compile(hf, fmt != NULL ? fmt : PM_USERHASH_DEFAULT, '\0', err,
				sizeof(err)) < 0) {
		fprintf(stderr, "postmuxctl: --hash-format: %s\n", err);
		return PM_CTLCMDS_EX_BADFMT;
	}
	return 0;
}

/* ---- status -------------------------------------------------------------------------- */

struct ctl_hosts {
	struct ctl *x;
	struct pm_adminclient_host *h;
	size_t n, cap;
	char (*removed)[PM_ADDR_STRLEN];
	size_t nremoved, capremoved;
	bool truncated;			/* over PM_CTLCMDS_HOSTS_MAX: said once */
};

/* A reply with more hosts than any ring holds: keep reading (the connection
 * stays in step), keep the first ones, say so once. */
static int
ctl_too_many(struct ctl_hosts *hs, const char *what)
{
	if (!hs->truncated) {
		fprintf(stderr, "Error: %s lists more than %d hosts; the rest are left out\n",
			what, PM_CTLCMDS_HOSTS_MAX);
		ctl_fail(hs->x, EX_PROTOCOL);
		hs->truncated = true;
	}
	return 0;
}

static int
ctl_host_row(const char *line, size_t len, void *arg)
{
	struct ctl_hosts *hs = arg;

	if (hs->n == hs->cap) {
		size_t ncap = hs->cap ? hs->cap * 2 : 16;
		struct pm_adminclient_host *nh;

		if (ncap > PM_CTLCMDS_HOSTS_MAX)
			return ctl_too_many(hs, "HOST-LIST");
		nh = realloc(hs->h, ncap * sizeof(*nh));
		if (nh == NULL)
			return -ENOMEM;
		hs->h = nh;
		hs->cap = ncap;
	}
	if (pm_adminclient_parse_host(line, len, &hs->h[hs->n]) < 0) {
		fprintf(stderr, "Error: Invalid HOST-LIST reply: %s\n", line);
		ctl_fail(hs->x, EX_PROTOCOL);
		return 0;
	}
	hs->n++;
	return 0;
}

static int
ctl_removed_row(const char *line, size_t len, void *arg)
{
	struct ctl_hosts *hs = arg;
	const char *f[1];
	char buf[PM_ADDR_STRLEN];
	struct pm_addr a;
	int n;

	n = pm_adminclient_split(line, len, buf, sizeof(buf), f, 1);
	if (n != 1 || pm_adminproto_parse_ip(&a, f[0], strlen(f[0])) < 0) {
		fprintf(stderr, "Error: Invalid HOST-LIST-REMOVED reply: %s\n", line);
		ctl_fail(hs->x, EX_PROTOCOL);
		return 0;
	}
	if (hs->nremoved == hs->capremoved) {
		size_t ncap = hs->capremoved ? hs->capremoved * 2 : 16;
		char (*nr)[PM_ADDR_STRLEN];

		if (ncap > PM_CTLCMDS_HOSTS_MAX)
			return ctl_too_many(hs, "HOST-LIST-REMOVED");
		nr = realloc(hs->removed, ncap * sizeof(*nr));
		if (nr == NULL)
			return -ENOMEM;
		hs->removed = nr;
		hs->capremoved = ncap;
	}
	strcpy(hs->removed[hs->nremoved++], f[0]);
	return 0;
}

static int
ctl_host_list(struct ctl *x, struct ctl_hosts *hs, bool removed)
{
	static const char *const list[] = { "HOST-LIST" };
	static const char *const rlist[] = { "HOST-LIST-REMOVED" };
	int ret;

	ret = pm_adminclient_request_list(x->c, removed ? rlist : list, 1,
					  removed ? ctl_removed_row : ctl_host_row, hs, x->err,
					  sizeof(x->err));
	if (ret < 0)
		ctl_io_error(x, ret);
	return ret;
}

static int
ctl_status_user(struct ctl *x, const char *user, const char *tag)
{
	const char *cmd[] = { "USER-LOOKUP", user, tag != NULL ? tag : "" };
	struct pm_adminclient_lookup l;
	char reply[1024];

	/* doveadm always sends the tag field, empty without a tag. */
	if (ctl_request(x, cmd, 3, reply, sizeof(reply)) < 0)
		return x->status;
	if (pm_adminclient_parse_lookup(reply, strlen(reply), &l) < 0) {
		if (strcmp(reply, "TRYAGAIN") == 0) {
			/* The server could not hash the name (spec 3.2). */
			fprintf(stderr, "Error: failed: %s\n", reply);
			ctl_fail(x, EX_TEMPFAIL);
		} else {
			fputs("Error: Invalid reply from director\n", stderr);
			ctl_fail(x, EX_PROTOCOL);
		}
		return x->status;
	}
	if (pm_adminclient_print_lookup(stdout, &l) < 0)
		ctl_fail(x, EX_TEMPFAIL);
	return x->status;
}

static int
ctl_status(struct ctl *x, int argc, char **argv)
{
	struct ctl_hosts hs = { .x = x };

	if (argc > 2) {
		fprintf(stderr, "Error: Extraneous arguments found: %s\n", argv[2]);
		return ctl_usage(x);
	}
	if (ctl_connect(x) < 0)
		return x->status;
	if (argc >= 1)
		return ctl_status_user(x, argv[0], argc == 2 ? argv[1] : NULL);
	if (ctl_host_list(x, &hs, false) == 0 &&
	    pm_adminclient_print_status(stdout, hs.h, hs.n) < 0)
		ctl_fail(x, EX_TEMPFAIL);
	free(hs.h);
	return x->status;
}

/* ---- add, update ---------------------------------------------------------------------- */

static int
ctl_add_update(struct ctl *x, int argc, char **argv, bool update)
{
	const char *cmd[3], *host, *tag = x->tag;
	char field[PM_ADMINPROTO_LINE_MAX + 1], reply[1024], count[16], *hostbuf = NULL;
	struct ctl_ips ips = { 0 };
	uint32_t vhosts = 0, dummy;
	size_t i;
	int n;

	if (argc < 1 || argc > 2 || (update && argc != 2))
		return ctl_usage(x);
	if (argc == 2 && !ctl_uint(argv[1], &vhosts))
		return ctl_usage(x);
	/* Sent as doveadm prints it: "%u" of the parsed number. */
	snprintf(count, sizeof(count), "%u", argc == 2 ? vhosts : 0);
	host = argv[0];
	/* doveadm: a plain number would be taken as an IPv4 address. */
	if (ctl_uint(host, &dummy)) {
		fprintf(stderr, "Error: Invalid host '%s'\n", host);
		return ctl_usage(x);
	}
	if (tag != NULL && tag[0] == '\0')
		tag = NULL;
	if (tag == NULL && strchr(host, '@') != NULL) {
		hostbuf = strdup(host);
		if (hostbuf == NULL) {
			fputs("Error: out of memory\n", stderr);
			return EX_TEMPFAIL;
		}
		*strchr(hostbuf, '@') = '\0';
		tag = hostbuf + strlen(hostbuf) + 1;
		host = hostbuf;
	}
	if (ctl_resolve(x, host, &ips) < 0 || ctl_connect(x) < 0)
		goto out;
	for (i = 0; i < ips.n; i++) {
		n = snprintf(field, sizeof(field), "%s%s%s", ips.text[i], tag != NULL ? "@" : "",
			     tag != NULL ? tag : "");
		if (n < 0 || (size_t)n >= sizeof(field)) {
			fprintf(stderr, "Error: %s: the tag is too long\n", ips.text[i]);
			ctl_fail(x, EX_TEMPFAIL);
			break;
		}
		cmd[0] = update ? "HOST-UPDATE" : "HOST-SET";
		cmd[1] = field;
		cmd[2] = count;
		if (ctl_request(x, cmd, argc == 2 ? 3 : 2, reply, sizeof(reply)) < 0)
			break;
		if (strcmp(reply, "OK") != 0) {
			/* doveadm: any failure of add/update is 75, NOTFOUND too. */
			fprintf(stderr, "Error: %s: %s\n", ips.text[i],
				strcmp(reply, "NOTFOUND") == 0 ? "doesn't exist" : reply);
			ctl_fail(x, EX_TEMPFAIL);
		}
	}
out:
	ctl_ips_free(&ips);
	free(hostbuf);
	return x->status;
}

static int
ctl_add(struct ctl *x, int argc, char **argv)
{
	return ctl_add_update(x, argc, argv, false);
}

static int
ctl_update(struct ctl *x, int argc, char **argv)
{
	return ctl_add_update(x, argc, argv, true);
}

/* ---- up, down, remove, flush <host> ---------------------------------------------------- */

/*
 * One command per address of @host; NOTFOUND is "<ip>: doesn't exist" and
 * 68, anything else but OK "<ip>: <reply>" and 75 (cmd_director_ipcmd();
 * flush says "Warning:" where the others say "Error:").
 */
static int
ctl_per_ip(struct ctl *x, const char *host, const char *name, const char *extra,
	   const char *prefix)
{
	const char *cmd[3] = { name, NULL, extra };
	char reply[1024];
	struct ctl_ips ips;
	size_t i;

	if (ctl_resolve(x, host, &ips) < 0)
		return x->status;
	if (ctl_connect(x) < 0)
		goto out;
	for (i = 0; i < ips.n; i++) {
		cmd[1] = ips.text[i];
		if (ctl_request(x, cmd, extra != NULL ? 3 : 2, reply, sizeof(reply)) < 0)
			break;
		if (strcmp(reply, "NOTFOUND") == 0) {
			fprintf(stderr, "%s: %s: doesn't exist\n", prefix, ips.text[i]);
			ctl_fail(x, EX_NOHOST);
		} else if (strcmp(reply, "OK") != 0) {
			fprintf(stderr, "%s: %s: %s\n", prefix, ips.text[i], reply);
			ctl_fail(x, EX_TEMPFAIL);
		}
	}
out:
	ctl_ips_free(&ips);
	return x->status;
}

static int
ctl_updown(struct ctl *x, int argc, char **argv)
{
	const char *name = strcmp(x->verb, "up") == 0 ? "HOST-UP" :
			   strcmp(x->verb, "down") == 0 ? "HOST-DOWN" : "HOST-REMOVE";

	if (argc != 1)
		return ctl_usage(x);
	return ctl_per_ip(x, argv[0], name, NULL, "Error");
}

static int
ctl_flush(struct ctl *x, int argc, char **argv)
{
	char max[16], reply[1024];
	const char *cmd[3];
	size_t n;

	if (argc != 1)
		return ctl_usage(x);
	snprintf(max, sizeof(max), "%u", x->max_parallel);
	/* doveadm sends max-parallel only when > 0; 0 means the server's default. */
	if (strcmp(argv[0], "all") != 0) {
		return ctl_per_ip(x, argv[0], x->force ? "HOST-FLUSH" : "HOST-RESET-USERS",
				  !x->force && x->max_parallel > 0 ? max : NULL, "Warning");
	}
	/* "all": HOST-FLUSH, or HOST-RESET-USERS with an empty IP field before
	 * max-parallel (spec 3.2). */
	cmd[0] = x->force ? "HOST-FLUSH" : "HOST-RESET-USERS";
	cmd[1] = "";
	cmd[2] = max;
	n = !x->force && x->max_parallel > 0 ? 3 : 1;
	if (ctl_connect(x) < 0 || ctl_request(x, cmd, n, reply, sizeof(reply)) < 0)
		return x->status;
	if (strcmp(reply, "OK") != 0) {
		fprintf(stderr, "Error: failed: %s\n", reply);
		ctl_fail(x, EX_TEMPFAIL);
	}
	return x->status;
}

/* ---- move, kick --------------------------------------------------------------------- */

static int
ctl_move(struct ctl *x, int argc, char **argv)
{
	struct pm_userhash_fmt hf;
	struct ctl_ips ips;
	const char *cmd[3];
	char hash[16], reply[1024];
	int ret;

	if (argc != 2)
		return ctl_usage(x);
	ret = ctl_hash_format(&hf, x->hash_format);
	if (ret != 0)
		return ret;
	/* doveadm hashes the name itself, so a numeric name is hashed too. */
	snprintf(hash, sizeof(hash), "%u", pm_userhash(&hf, argv[0], strlen(argv[0])));
	if (ctl_resolve(x, argv[1], &ips) < 0)
		return x->status;
	if (ctl_connect(x) < 0)
		goto out;
	/* As doveadm: a name's first address. */
	cmd[0] = "USER-MOVE";
	cmd[1] = hash;
	cmd[2] = ips.text[0];
	if (ctl_request(x, cmd, 3, reply, sizeof(reply)) < 0)
		goto out;
	if (strcmp(reply, "NOTFOUND") == 0) {
		fprintf(stderr, "Error: Host '%s' doesn't exist\n", ips.text[0]);
		ctl_fail(x, EX_NOHOST);
	} else if (strcmp(reply, "TRYAGAIN") == 0) {
		fputs("Error: User is already being moved, wait a while for it to be finished\n",
		      stderr);
		ctl_fail(x, EX_TEMPFAIL);
	} else if (strcmp(reply, "OK") != 0) {
		fprintf(stderr, "Error: failed: %s\n", reply);
		ctl_fail(x, EX_TEMPFAIL);
	}
out:
	ctl_ips_free(&ips);
	return x->status;
}

static int
ctl_kick(struct ctl *x, int argc, char **argv)
{
	const char *cmd[3];
	char reply[1024];
	size_t n;

	if (argc != 1)
		return ctl_usage(x);
	if (x->field == NULL) {
		cmd[0] = "USER-KICK";
		cmd[1] = argv[0];
		n = 2;
	} else {
		cmd[0] = "USER-KICK-ALT";
		cmd[1] = x->field;
		cmd[2] = argv[0];
		n = 3;
	}
	if (ctl_connect(x) < 0 || ctl_request(x, cmd, n, reply, sizeof(reply)) < 0)
		return x->status;
	if (strcmp(reply, "OK") != 0) {
		fprintf(stderr, "Error: failed: %s\n", reply);
		ctl_fail(x, EX_TEMPFAIL);
	}
	return x->status;
}

/* ---- map ---------------------------------------------------------------------------- */

struct ctl_name {
	uint32_t hash;
	size_t seq;			/* line number: later lines print first */
	char *name;
};

struct ctl_map {
	struct ctl *x;
	struct ctl_name *names;
	size_t n, cap;
	struct ctl_ips ips;		/* the host filter; n == 0: every user */
	struct pm_adminclient_table t;
	int err;
};

static int
ctl_name_cmp(const void *a, const void *b)
{
	const struct ctl_name *p = a, *q = b;

	if (p->hash != q->hash)
		return p->hash < q->hash ? -1 : 1;
	return p->seq < q->seq ? 1 : p->seq > q->seq ? -1 : 0;
}

/* The first name with @hash, or NULL; the others follow it in the array. */
static const struct ctl_name *
ctl_name_find(const struct ctl_map *m, uint32_t hash)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->names[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->names[lo].hash == hash ? &m->names[lo] : NULL;
}

/*
 * The -f file: one name a line, a CR before the LF dropped (as Dovecot's
 * i_stream_next_line()), a name ending at a NUL (Dovecot's C strings).
 * Each name is hashed as doveadm does, with director_username_hash
 * (--hash-format).
 */
static int
ctl_map_load(struct ctl_map *m, const char *path, const struct pm_userhash_fmt *hf)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t linecap = 0, len;
	ssize_t got;
	int ret = 0;

	if (fp == NULL) {
		fprintf(stderr, "Error: open(%s) failed: %s\n", path, strerror(errno));
		return -errno;
	}
	while ((got = getline(&line, &linecap, fp)) >= 0) {
		len = (size_t)got;
		if (len > 0 && line[len - 1] == '\n') {
			len--;
			if (len > 0 && line[len - 1] == '\r')
				len--;
		}
		line[len] = '\0';
		len = strlen(line);
		if (m->n == m->cap) {
			size_t ncap = m->cap ? m->cap * 2 : 256;
			struct ctl_name *nn = realloc(m->names, ncap * sizeof(*nn));

			if (nn == NULL) {
				ret = -ENOMEM;
				break;
			}
			m->names = nn;
			m->cap = ncap;
		}
		m->names[m->n].name = strdup(line);
		if (m->names[m->n].name == NULL) {
			ret = -ENOMEM;
			break;
		}
		m->names[m->n].hash = pm_userhash(hf, line, len);
		m->names[m->n].seq = m->n;
		m->n++;
	}
	if (ret == 0 && ferror(fp))
		ret = -EIO;
	if (ret < 0)
		fprintf(stderr, "Error: %s: %s\n", path, strerror(-ret));
	free(line);
	fclose(fp);
	if (m->n > 1)
		qsort(m->names, m->n, sizeof(*m->names), ctl_name_cmp);
	return ret;
}

static void
ctl_map_cell(struct ctl_map *m, const char *value)
{
	int ret = pm_adminclient_table_print(&m->t, value);

	if (ret < 0 && m->err == 0)
		m->err = ret;
}

static int
ctl_map_row(const char *line, size_t len, void *arg)
{
	struct ctl_map *m = arg;
	struct pm_adminclient_user u;
	const struct ctl_name *nm;
	char when[64];
	size_t i;

	if (pm_adminclient_parse_user(line, len, &u) < 0) {
		fprintf(stderr, "Error: Invalid USER-LIST reply: %s\n", line);
		ctl_fail(m->x, EX_PROTOCOL);
		return 0;
	}
	if (m->ips.n > 0) {
		for (i = 0; i < m->ips.n; i++) {
			if (pm_addr_eq(&m->ips.a[i], &u.addr))
				break;
		}
		if (i == m->ips.n)
			return 0;
	}
	if (pm_adminclient_fmt_time(u.expires, when, sizeof(when)) < 0)
		snprintf(when, sizeof(when), "%lld", (long long)u.expires);
	nm = ctl_name_find(m, u.hash);
	if (nm == NULL) {
		ctl_map_cell(m, "<unknown>");
		ctl_map_cell(m, u.hash_text);
		ctl_map_cell(m, u.ip);
		ctl_map_cell(m, when);
	}
	for (; nm != NULL && nm < m->names + m->n && nm->hash == u.hash; nm++) {
		ctl_map_cell(m, nm->name);
		ctl_map_cell(m, u.hash_text);
		ctl_map_cell(m, u.ip);
		ctl_map_cell(m, when);
	}
	return m->err;
}

/* doveadm_print_table_init(): the terminal's width, at least 30, else 80. */
static size_t
ctl_columns(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		return ws.ws_col < PM_CTLCMDS_MIN_COLUMNS ? PM_CTLCMDS_MIN_COLUMNS : ws.ws_col;
	return PM_CTLCMDS_COLUMNS;
}

static int
ctl_map(struct ctl *x, int argc, char **argv)
{
	struct ctl_map m = { .x = x };
	struct pm_userhash_fmt hf;
	const char *list[2] = { "USER-LIST", NULL };
	char hash[16];
	uint32_t h;
	int ret;

	if (argc > 1 || ((x->hash_map || x->user_map) && argc == 0))
		return ctl_usage(x);
	ret = ctl_hash_format(&hf, x->hash_format);
	if (ret != 0)
		return ret;
	pm_adminclient_table_init(&m.t, stdout, ctl_columns());
	if (x->user_map) {
		/* user -> hash, offline. */
		snprintf(hash, sizeof(hash), "%u", pm_userhash(&hf, argv[0], strlen(argv[0])));
		pm_adminclient_table_header(&m.t, "hash", PM_ADMINCLIENT_TABLE_HIDE_TITLE);
		ctl_map_cell(&m, hash);
		goto out;
	}
	if (x->field != NULL && ctl_map_load(&m, x->field, &hf) < 0) {
		ctl_fail(x, EX_TEMPFAIL);
		goto out;
	}
	if (x->hash_map) {
		/* hash -> names from the file, offline. */
		const struct ctl_name *nm;

		if (!ctl_uint(argv[0], &h)) {
			fprintf(stderr, "Error: Invalid username hash: %s\n", argv[0]);
			ctl_fail(x, EX_TEMPFAIL);
			goto out;
		}
		pm_adminclient_table_header(&m.t, "user", PM_ADMINCLIENT_TABLE_HIDE_TITLE);
		for (nm = ctl_name_find(&m, h); nm != NULL && nm < m.names + m.n && nm->hash == h;
		     nm++)
			ctl_map_cell(&m, nm->name);
		goto out;
	}
	if (argc == 1 && ctl_resolve(x, argv[0], &m.ips) < 0)
		goto out;
	if (ctl_connect(x) < 0)
		goto out;
	pm_adminclient_table_header(&m.t, "user", PM_ADMINCLIENT_TABLE_EXPAND);
	pm_adminclient_table_header(&m.t, "hash", 0);
	pm_adminclient_table_header(&m.t, "mail server ip", 0);
	pm_adminclient_table_header(&m.t, "expire time", 0);
	/* One address: the server filters; several: every user, filtered here. */
	list[1] = m.ips.n == 1 ? m.ips.text[0] : NULL;
	ret = pm_adminclient_request_list(x->c, list, m.ips.n == 1 ? 2 : 1, ctl_map_row, &m,
					  x->err, sizeof(x->err));
	if (ret < 0 && ret != m.err)
		ctl_io_error(x, ret);
out:
	if (pm_adminclient_table_flush(&m.t) < 0 || m.err < 0) {
		if (m.err == -ENOMEM)
			fputs("Error: out of memory\n", stderr);
		ctl_fail(x, EX_TEMPFAIL);
	}
	pm_adminclient_table_free(&m.t);
	ctl_ips_free(&m.ips);
	for (size_t i = 0; i < m.n; i++)
		free(m.names[i].name);
	free(m.names);
	return x->status;
}

/* ---- dump ---------------------------------------------------------------------------- */

static int
ctl_dump(struct ctl *x, int argc, char **argv)
{
	struct ctl_hosts hs = { .x = x };
	char sock[4 * PATH_MAX], arg[4 * PM_ADMINPROTO_FIELD_SIZE];
	char field[PM_ADMINPROTO_LINE_MAX + 64];
	size_t i;

	(void)argv;
	if (argc != 0)
		return ctl_usage(x);
	if (pm_adminclient_shell_quote(sock, sizeof(sock), x->socket) < 0) {
		fputs("Error: the socket path is too long\n", stderr);
		return EX_USAGE;
	}
	if (ctl_connect(x) < 0)
		return x->status;
	/* Both lists first, one command at a time; then print. */
	if (ctl_host_list(x, &hs, false) < 0 || ctl_host_list(x, &hs, true) < 0)
		goto out;
	for (i = 0; i < hs.n; i++) {
		snprintf(field, sizeof(field), "%s%s%s", hs.h[i].ip, hs.h[i].tag[0] ? "@" : "",
			 hs.h[i].tag);
		pm_adminclient_shell_quote(arg, sizeof(arg), field);
		printf("postmuxctl -a %s add %s %u\n", sock, arg, hs.h[i].vhosts);
	}
	for (i = 0; i < hs.n; i++) {
		if (!hs.h[i].down)
			continue;
		pm_adminclient_shell_quote(arg, sizeof(arg), hs.h[i].ip);
		printf("postmuxctl -a %s down %s\n", sock, arg);
	}
	for (i = 0; i < hs.nremoved; i++) {
		pm_adminclient_shell_quote(arg, sizeof(arg), hs.removed[i]);
		printf("postmuxctl -a %s remove %s\n", sock, arg);
	}
out:
	free(hs.h);
	free(hs.removed);
	return x->status;
}

/* ---- stats ---------------------------------------------------------------------------- */

/* Above this many counter lines the reply is not believed (a data plane
 * with a thousand lcores and ports has a few hundred thousand). */
#define PM_CTLCMDS_COUNTERS_MAX (1u << 22)

struct ctl_counters {
	struct ctl *x;
	struct pm_adminclient_counter *k;
	size_t n, cap;
	bool failed;			/* an error line or a bad line arrived */
};

static int
ctl_counter_row(const char *line, size_t len, void *arg)
{
	struct ctl_counters *cs = arg;
	struct pm_adminclient_counter k;
	char text[256];
	size_t i;

	if (pm_adminclient_parse_counter(line, len, &k) < 0) {
		/* The server's error line ("data plane not connected"); keep
		 * reading to the end line so the connection stays in step. */
		for (i = 0; i < len && i + 1 < sizeof(text); i++)
			text[i] = (unsigned char)line[i] < 0x20 || line[i] == 0x7f ? '?' : line[i];
		text[i] = '\0';
		fprintf(stderr, "Error: %s\n", text);
		ctl_fail(cs->x, EX_TEMPFAIL);
		cs->failed = true;
		return 0;
	}
	if (cs->n == cs->cap) {
		size_t ncap = cs->cap ? cs->cap * 2 : 256;
		struct pm_adminclient_counter *nk;

		if (ncap > PM_CTLCMDS_COUNTERS_MAX)
			return -E2BIG;
		nk = realloc(cs->k, ncap * sizeof(*nk));
		if (nk == NULL)
			return -ENOMEM;
		cs->k = nk;
		cs->cap = ncap;
	}
	cs->k[cs->n++] = k;
	return 0;
}

static int
ctl_stats(struct ctl *x, int argc, char **argv)
{
	struct ctl_counters cs = { .x = x };
	const char *cmd[2] = { "POSTMUX-COUNTERS", NULL };
	int ret;

	if (argc > 1)
		return ctl_usage(x);
	if (argc == 1 && argv[0][0] != '\0') {
		if (!pm_ctlmsg_counter_name_ok(argv[0])) {
			fprintf(stderr, "Error: '%s' is not a counter name prefix: at most 63 "
				"bytes of A-Z a-z 0-9 _ . -\n", argv[0]);
			return ctl_usage(x);
		}
		cmd[1] = argv[0];
	}
	if (ctl_connect(x) < 0)
		return x->status;
	ret = pm_adminclient_request_list(x->c, cmd, cmd[1] != NULL ? 2 : 1, ctl_counter_row, &cs,
					  x->err, sizeof(x->err));
	if (ret == -ECONNRESET) {
		/* An unknown command closes without a reply. */
		fprintf(stderr, "Error: %s (a Dovecot director, or a postmux-control "
			"without POSTMUX-COUNTERS, closes on it)\n", x->err);
		ctl_fail(x, EX_TEMPFAIL);
	} else if (ret < 0) {
		ctl_io_error(x, ret);
	} else if (!cs.failed && pm_adminclient_print_counters(stdout, cs.k, cs.n) < 0) {
		ctl_fail(x, EX_TEMPFAIL);
	}
	free(cs.k);
	return x->status;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct ctl_verb ctl_verbs[] = {
	{ "status", "", ctl_status, "status [<user> [<tag>]]" },
	{ "add", "t:", ctl_add, "add [-t <tag>] <host>[@<tag>] [<vhosts>]" },
	{ "update", "", ctl_update, "update <host>[@<tag>] <vhosts>" },
	{ "up", "", ctl_updown, "up <host>" },
	{ "down", "", ctl_updown, "down <host>" },
	{ "remove", "", ctl_updown, "remove <host>" },
	{ "flush", "F", ctl_flush, "flush [-F] [--max-parallel <n>] <host>|all" },
	{ "move", "", ctl_move, "move [--hash-format <fmt>] <user> <host>" },
	{ "kick", "f:", ctl_kick, "kick [-f <passdb field>] <user>" },
	{ "map", "f:hu", ctl_map,
	  "map [-f <users file>] [--hash-format <fmt>] [-h | -u] [<host>]" },
	{ "dump", "", ctl_dump, "dump" },
	{ "stats", "", ctl_stats, "stats [<prefix>]" },
};

static const struct ctl_verb *
ctl_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++) {
		if (strcmp(ctl_verbs[i].name, name) == 0)
			return &ctl_verbs[i];
	}
	return NULL;
}

bool
pm_ctlcmds_is_verb(const char *name)
{
	return ctl_find(name) != NULL;
}

/* Long options, each only where its verb takes it. */
static bool
ctl_long_ok(const struct ctl_verb *v, int opt)
{
	switch (opt) {
	case OPT_HASH_FORMAT:
		return v->run == ctl_move || v->run == ctl_map;
	case OPT_MAX_PARALLEL:
		return v->run == ctl_flush;
	default:
		return true;
	}
}

int
pm_ctlcmds_main(int argc, char **argv, const char *socket)
{
	static const struct option longopts[] = {
		{ "hash-format", required_argument, NULL, OPT_HASH_FORMAT },
		{ "max-parallel", required_argument, NULL, OPT_MAX_PARALLEL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_verb *v = ctl_find(argv[0]);
	struct ctl x;
	char shortopts[16];
	int c, status;

	memset(&x, 0, sizeof(x));
	x.socket = socket;
	x.verb = argv[0];
	if (v == NULL) {
		fprintf(stderr, "postmuxctl: unknown command '%s'\n", argv[0]);
		return EX_USAGE;
	}
	x.usage = v->usage;
	/* Options may follow the arguments, as with doveadm (GNU getopt
	 * permutes); a user name that starts with '-' goes after "--". */
	snprintf(shortopts, sizeof(shortopts), ":a:%s", v->opts);
	optind = 0;	/* glibc: a full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (!ctl_long_ok(v, c)) {
			fprintf(stderr, "%s: unrecognized option '%s'\n", v->name,
				argv[optind - 1]);
			return ctl_usage(&x);
		}
		switch (c) {
		case 'a':
			x.socket = optarg;
			break;
		case 't':
			x.tag = optarg;
			break;
		case 'f':
			x.field = optarg;
			break;
		case 'F':
			x.force = true;
			break;
		case 'h':
			x.hash_map = true;
			break;
		case 'u':
			x.user_map = true;
			break;
		case OPT_HASH_FORMAT:
			x.hash_format = optarg;
			break;
		case OPT_MAX_PARALLEL:
			/* The server takes max-parallel with str_to_uint(); 0 means
			 * its default (doveadm sends nothing for 0). */
			if (!ctl_uint(optarg, &x.max_parallel)) {
				fprintf(stderr, "%s: --max-parallel takes a number from 0 to "
					"4294967295\n", v->name);
				return ctl_usage(&x);
			}
			break;
		case OPT_HELP:
			printf("usage: postmuxctl [-a <socket>] %s\n"
			       "(postmuxctl --help describes every command)\n", v->usage);
			return 0;
		case ':':
			fprintf(stderr, "%s: option requires an argument -- '%s'\n", v->name,
				argv[optind - 1]);
			return ctl_usage(&x);
		default:
			if (optopt != 0)
				fprintf(stderr, "%s: invalid option -- '%c'\n", v->name, optopt);
			else
				fprintf(stderr, "%s: unrecognized option '%s'\n", v->name,
					argv[optind - 1]);
			return ctl_usage(&x);
		}
	}
	status = v->run(&x, argc - optind, argv + optind);
	if (x.c != NULL) {
		pm_adminclient_close(x.c);
		free(x.c);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "Error: writing the output failed\n");
		status = status != 0 ? status : EX_TEMPFAIL;
	}
	return status;
}
