/*
 * adminclient.c -- the client side of the director-doveadm v1 admin
 * protocol and the doveadm-compatible rendering of its replies.
 *
 * "doveadm" below means Dovecot 2.3's src/doveadm/doveadm-director.c,
 * doveadm-print-table.c and doveadm-util.c; "lab" means a behaviour checked
 * against the real 2.3.19.1 doveadm and director through
 * tests/integration/dovecot_lab.py.
 */
#include "adminclient.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlmsg.h"
#include "director/userhash.h"

#define PM_ADMINCLIENT_HOST_FIELDS 6

struct pm_adminclient_span {
	const char *p;
	size_t n;
};

static void
pm_adminclient_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
pm_adminclient_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- connecting ------------------------------------------------------------ */

static int
pm_adminclient_connect_unix(struct pm_adminclient *c, const char *path, char *err,
			    size_t errlen)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);
	int ret;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (len >= sizeof(sun.sun_path)) {
		pm_adminclient_err(err, errlen, "connect(%s) failed: the path is longer than %zu "
				   "bytes", path, sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, len);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		ret = -errno;
		pm_adminclient_err(err, errlen, "socket() failed: %s", strerror(-ret));
		return ret;
	}
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		pm_adminclient_err(err, errlen, "connect(%s) failed: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

/* doveadm_tcp_connect(): "host:port", the port after the last ':'. */
static int
pm_adminclient_connect_tcp(struct pm_adminclient *c, const char *target, char *err,
			   size_t errlen)
{
	char host[256], port[8];
	const char *colon = strrchr(target, ':');
	struct addrinfo hints, *ai = NULL;
	size_t hlen;
	uint32_t pnum;
	int ret;

	if (colon == NULL || pm_userhash_parse_number(colon + 1, strlen(colon + 1), &pnum) < 0 ||
	    pnum == 0 || pnum > 65535) {
		pm_adminclient_err(err, errlen, "%s is neither a socket path (with a '/') nor "
				   "host:port", target);
		return -EINVAL;
	}
	hlen = (size_t)(colon - target);
	if (hlen >= 2 && target[0] == '[' && target[hlen - 1] == ']') {
		target++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		pm_adminclient_err(err, errlen, "%s: bad host name", c->target);
		return -EINVAL;
	}
	memcpy(host, target, hlen);
	host[hlen] = '\0';
	snprintf(port, sizeof(port), "%u", pnum);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret != 0) {
		pm_adminclient_err(err, errlen, "Lookup of host %s failed: %s", host,
				   gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	/* As doveadm: the first address only. */
	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (c->fd < 0) {
		ret = -errno;
		pm_adminclient_err(err, errlen, "socket() failed: %s", strerror(-ret));
		freeaddrinfo(ai);
		return ret;
	}
	while (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		pm_adminclient_err(err, errlen, "connect(%s) failed: %s", c->target,
				   strerror(-ret));
		freeaddrinfo(ai);
		return ret;
	}
	freeaddrinfo(ai);
	return 0;
}

int
pm_adminclient_connect(struct pm_adminclient *c, const char *target, char *err, size_t errlen)
{
	const char *line;
	size_t len;
	int ret;

	c->fd = -1;
	c->timeout_ms = PM_ADMINCLIENT_HANDSHAKE_MS;
	c->target = target;
	c->start = c->end = 0;
	if (strchr(target, '/') != NULL)
		ret = pm_adminclient_connect_unix(c, target, err, errlen);
	else
		ret = pm_adminclient_connect_tcp(c, target, err, errlen);
	if (ret < 0)
		goto fail;

	/* The server greets first; answer only a director-doveadm v1 server. */
	ret = pm_adminclient_read_line(c, &line, &len, err, errlen);
	if (ret == -ETIMEDOUT) {
		pm_adminclient_err(err, errlen, "read(%s) timed out: no banner within %d s "
				   "(is it a director admin socket?)", target,
				   PM_ADMINCLIENT_HANDSHAKE_MS / 1000);
		goto fail;
	}
	if (ret == -ECONNRESET) {
		pm_adminclient_err(err, errlen, "%s disconnected", target);
		goto fail;
	}
	if (ret < 0)
		goto fail;
	if (strncmp(line, PM_ADMINCLIENT_BANNER_PREFIX,
		    sizeof(PM_ADMINCLIENT_BANNER_PREFIX) - 1) != 0) {
		pm_adminclient_err(err, errlen, "%s not a compatible director-doveadm socket",
				   target);
		ret = -EPROTONOSUPPORT;
		goto fail;
	}
	ret = pm_adminclient_send(c, NULL, 0, err, errlen);
	if (ret < 0)
		goto fail;
	c->timeout_ms = -1;
	return 0;
fail:
	pm_adminclient_close(c);
	return ret;
}

void
pm_adminclient_close(struct pm_adminclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->start = c->end = 0;
}

/* ---- sending ----------------------------------------------------------------- */

static int
pm_adminclient_write(struct pm_adminclient *c, const char *p, size_t n, char *err,
		     size_t errlen)
{
	ssize_t w;
	int ret;

	while (n > 0) {
		/* MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE. */
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			pm_adminclient_err(err, errlen, "write(%s) failed: %s", c->target,
					   strerror(-ret));
			return ret;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * With @fields NULL, sends the handshake line. A command line is built in
 * a PM_ADMINPROTO_LINE_MAX + 1 byte buffer: the server closes on anything
 * longer, so a longer command is refused before a byte is sent.
 */
int
pm_adminclient_send(struct pm_adminclient *c, const char *const *fields, size_t n, char *err,
		    size_t errlen)
{
	char line[PM_ADMINPROTO_LINE_MAX + 2];
	size_t used = 0, i;
	int w;

	if (fields == NULL)
		return pm_adminclient_write(c, PM_ADMINCLIENT_HANDSHAKE,
					    sizeof(PM_ADMINCLIENT_HANDSHAKE) - 1, err, errlen);
	for (i = 0; i < n; i++) {
		if (i > 0) {
			if (used + 1 > PM_ADMINPROTO_LINE_MAX)
				goto too_long;
			line[used++] = '\t';
		}
		/* escape() needs room for its NUL: the line may use all LINE_MAX. */
		w = pm_adminproto_escape(line + used, PM_ADMINPROTO_LINE_MAX + 1 - used,
					 fields[i], strlen(fields[i]));
		if (w < 0)
			goto too_long;
		used += (size_t)w;
	}
	line[used++] = '\n';
	return pm_adminclient_write(c, line, used, err, errlen);
too_long:
	pm_adminclient_err(err, errlen, "the %s command would be longer than the %d bytes a "
			   "director accepts", n > 0 ? fields[0] : "", PM_ADMINPROTO_LINE_MAX);
	return -EMSGSIZE;
}

/* ---- receiving ------------------------------------------------------------- */

int
pm_adminclient_read_line(struct pm_adminclient *c, const char **line, size_t *len, char *err,
			 size_t errlen)
{
	struct pollfd pfd;
	char *lf;
	size_t n;
	ssize_t got;
	int ret;

	for (;;) {
		lf = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (lf != NULL) {
			n = (size_t)(lf - (c->buf + c->start));
			*line = c->buf + c->start;
			c->start += n + 1;
			if (n > 0 && (*line)[n - 1] == '\r')
				n--;
			((char *)*line)[n] = '\0';
			*len = n;
			return 0;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end >= PM_ADMINCLIENT_REPLY_MAX + 1) {
			pm_adminclient_err(err, errlen, "%s sent a reply line longer than %d bytes",
					   c->target, PM_ADMINCLIENT_REPLY_MAX);
			return -EPROTO;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ret = poll(&pfd, 1, c->timeout_ms);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			pm_adminclient_err(err, errlen, "poll(%s) failed: %s", c->target,
					   strerror(-ret));
			return ret;
		}
		if (ret == 0) {
			pm_adminclient_err(err, errlen, "read(%s) timed out", c->target);
			return -ETIMEDOUT;
		}
		got = recv(c->fd, c->buf + c->end, PM_ADMINCLIENT_REPLY_MAX + 1 - c->end, 0);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			ret = -errno;
			pm_adminclient_err(err, errlen, "read(%s) failed: %s", c->target,
					   strerror(-ret));
			return ret;
		}
		if (got == 0) {
			pm_adminclient_err(err, errlen, "%s unexpectedly disconnected", c->target);
			return -ECONNRESET;
		}
		c->end += (size_t)got;
	}
}

int
pm_adminclient_request(struct pm_adminclient *c, const char *const *fields, size_t n,
		       char *reply, size_t size, char *err, size_t errlen)
{
	const char *line;
	size_t len;
	int ret;

	ret = pm_adminclient_send(c, fields, n, err, errlen);
	if (ret < 0)
		return ret;
	ret = pm_adminclient_read_line(c, &line, &len, err, errlen);
	if (ret < 0)
		return ret;
	if (len >= size) {
		pm_adminclient_err(err, errlen, "%s: reply to %s too long (%zu bytes)", c->target,
				   fields[0], len);
		return -EPROTO;
	}
	memcpy(reply, line, len + 1);
	return 0;
}

int
pm_adminclient_request_list(struct pm_adminclient *c, const char *const *fields, size_t n,
			    pm_adminclient_row_fn fn, void *arg, char *err, size_t errlen)
{
	const char *line;
	size_t len;
	int ret;

	ret = pm_adminclient_send(c, fields, n, err, errlen);
	if (ret < 0)
		return ret;
	for (;;) {
		ret = pm_adminclient_read_line(c, &line, &len, err, errlen);
		if (ret < 0)
			return ret;
		if (len == 0)
			return 0;
		ret = fn(line, len, arg);
		if (ret < 0) {
			pm_adminclient_err(err, errlen, "%s: %s", fields[0], strerror(-ret));
			return ret;
		}
	}
}

/* ---- reply parsing ------------------------------------------------------------ */

/* The TAB-separated spans of a line; returns how many fields it has (all
 * of them, even past @max, of which only the first @max are stored). */
static size_t
pm_adminclient_spans(const char *line, size_t len, struct pm_adminclient_span *sp, size_t max)
{
	size_t i, start = 0, nf = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (nf < max) {
			sp[nf].p = line + start;
			sp[nf].n = i - start;
		}
		nf++;
		start = i + 1;
	}
	return nf;
}

/* Unescape one field into @dst as a C string (cut at a NUL, as Dovecot). */
static int
pm_adminclient_unesc(const struct pm_adminclient_span *sp, char *dst, size_t size)
{
	int ret = pm_adminproto_unescape(dst, size, sp->p, sp->n);

	return ret < 0 ? ret : (int)strlen(dst);
}

int
pm_adminclient_split(const char *line, size_t len, char *out, size_t size, const char **fields,
		     size_t max)
{
	struct pm_adminclient_span sp;
	size_t i, start = 0, nf = 0, used = 0;
	int w;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (nf == max)
			return -E2BIG;
		sp.p = line + start;
		sp.n = i - start;
		if (used >= size)
			return -ENOSPC;
		w = pm_adminclient_unesc(&sp, out + used, size - used);
		if (w < 0)
			return w;
		fields[nf++] = out + used;
		used += (size_t)w + 1;
		start = i + 1;
	}
	return (int)nf;
}

int
pm_adminclient_parse_time(const char *s, int64_t *t)
{
	bool neg = false;
	uint64_t v = 0, lim;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (*s == '\0')
		return -EINVAL;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (lim - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*t = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int
pm_adminclient_span_u32(const struct pm_adminclient_span *sp, uint32_t *v)
{
	char tmp[16];

	if (pm_adminclient_unesc(sp, tmp, sizeof(tmp)) < 0)
		return -EINVAL;
	return pm_userhash_parse_number(tmp, strlen(tmp), v) < 0 ? -EINVAL : 0;
}

static int
pm_adminclient_span_time(const struct pm_adminclient_span *sp, int64_t *t)
{
	char tmp[32];

	if (pm_adminclient_unesc(sp, tmp, sizeof(tmp)) < 0)
		return -EINVAL;
	return pm_adminclient_parse_time(tmp, t);
}

int
pm_adminclient_parse_host(const char *line, size_t len, struct pm_adminclient_host *h)
{
	struct pm_adminclient_span sp[PM_ADMINCLIENT_HOST_FIELDS];
	char state[8];
	int n;

	memset(h, 0, sizeof(*h));
	if (pm_adminclient_spans(line, len, sp, PM_ADMINCLIENT_HOST_FIELDS) <
	    PM_ADMINCLIENT_HOST_FIELDS)
		return -EINVAL;
	n = pm_adminclient_unesc(&sp[0], h->ip, sizeof(h->ip));
	if (n <= 0 || pm_adminproto_parse_ip(&h->addr, h->ip, (size_t)n) < 0)
		return -EINVAL;
	if (pm_adminclient_span_u32(&sp[1], &h->vhosts) < 0 ||
	    pm_adminclient_span_u32(&sp[2], &h->users) < 0 ||
	    pm_adminclient_unesc(&sp[3], h->tag, sizeof(h->tag)) < 0 ||
	    pm_adminclient_unesc(&sp[4], state, sizeof(state)) < 0 ||
	    pm_adminclient_span_time(&sp[5], &h->updown_ts) < 0)
		return -EINVAL;
	/* doveadm: args[4][0] == 'D' ? "down" : "up"; the server sends U or D. */
	if (strcmp(state, "U") != 0 && strcmp(state, "D") != 0)
		return -EINVAL;
	h->down = state[0] == 'D';
	return 0;
}

int
pm_adminclient_parse_lookup(const char *line, size_t len, struct pm_adminclient_lookup *l)
{
	struct pm_adminclient_span sp[4];

	memset(l, 0, sizeof(*l));
	if (pm_adminclient_spans(line, len, sp, 4) != 4)
		return -EINVAL;
	if (pm_adminclient_unesc(&sp[0], l->current, sizeof(l->current)) < 0 ||
	    pm_adminclient_span_time(&sp[1], &l->expires) < 0 ||
	    pm_adminclient_unesc(&sp[2], l->hashed, sizeof(l->hashed)) < 0 ||
	    pm_adminclient_unesc(&sp[3], l->initial, sizeof(l->initial)) < 0)
		return -EINVAL;
	return 0;
}

int
pm_adminclient_parse_user(const char *line, size_t len, struct pm_adminclient_user *u)
{
	struct pm_adminclient_span sp[3];
	int n;

	memset(u, 0, sizeof(*u));
	if (pm_adminclient_spans(line, len, sp, 3) < 3)
		return -EINVAL;
	if (pm_adminclient_unesc(&sp[0], u->hash_text, sizeof(u->hash_text)) < 0 ||
	    pm_userhash_parse_number(u->hash_text, strlen(u->hash_text), &u->hash) < 0 ||
	    pm_adminclient_span_time(&sp[1], &u->expires) < 0)
		return -EINVAL;
	n = pm_adminclient_unesc(&sp[2], u->ip, sizeof(u->ip));
	if (n <= 0 || pm_adminproto_parse_ip(&u->addr, u->ip, (size_t)n) < 0)
		return -EINVAL;
	return 0;
}

int
pm_adminclient_parse_counter(const char *line, size_t len, struct pm_adminclient_counter *k)
{
	struct pm_adminclient_span sp[2];
	uint64_t v = 0;
	size_t i;

	memset(k, 0, sizeof(*k));
	if (pm_adminclient_spans(line, len, sp, 2) != 2)
		return -EINVAL;
	/* A name is never escaped: take its bytes as they are. */
	if (sp[0].n == 0 || sp[0].n > PM_ADMINPROTO_PREFIX_MAX)
		return -EINVAL;
	memcpy(k->name, sp[0].p, sp[0].n);
	k->name[sp[0].n] = '\0';
	if (!pm_ctlmsg_counter_name_ok(k->name))
		return -EINVAL;
	if (sp[1].n == 0 || sp[1].n > 20)
		return -EINVAL;
	for (i = 0; i < sp[1].n; i++) {
		unsigned int d = (unsigned char)sp[1].p[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	k->value = v;
	return 0;
}

/* ---- output -------------------------------------------------------------------- */

int
pm_adminclient_fmt_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;
	size_t n;

	if ((int64_t)tt != t || localtime_r(&tt, &tm) == NULL)
		return -EINVAL;
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		return -ENOSPC;
	return (int)n;
}

int
pm_adminclient_print_lookup(FILE *out, const struct pm_adminclient_lookup *l)
{
	char when[64];

	if (l->current[0] != '\0') {
		if (pm_adminclient_fmt_time(l->expires, when, sizeof(when)) < 0)
			snprintf(when, sizeof(when), "%lld", (long long)l->expires);
		fprintf(out, "Current: %s (expires %s)\n", l->current, when);
	} else {
		fputs("Current: n/a (expires -1)\n", out);
	}
	fprintf(out, "Hashed: %s\nInitial config: %s\n", l->hashed, l->initial);
	return ferror(out) ? -EIO : 0;
}

/*
 * uni_utf8_strlen(): characters by lead byte (0xc2..0xdf: 2 bytes, 0xe0..
 * 0xef: 3, 0xf0..0xf7: 4, 0xf8..0xfb: 5, 0xfc/0xfd: 6, anything else 1), a
 * character cut short by the end of the string not counted.
 */
static size_t
pm_adminclient_utf8_strlen(const char *s)
{
	static const uint8_t non1[256 - 194] = {
		2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
		2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4,
		4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 1, 1,
	};
	size_t size = strlen(s), i = 0, n = 0;
	uint8_t c;

	while (i < size) {
		c = (uint8_t)s[i];
		i += c < 194 ? 1 : non1[c - 194];
		if (i > size)
			break;
		n++;
	}
	return n;
}

/* doveadm's utf8_correction(): the continuation bytes of @s. */
static size_t
pm_adminclient_utf8_extra(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((uint8_t)*s & 0xc0) == 0x80)
			n++;
	}
	return n;
}

static void
pm_adminclient_pad(FILE *out, const char *s, size_t width, bool right, bool last)
{
	size_t n = pm_adminclient_utf8_strlen(s);

	if (right) {
		for (; n < width; n++)
			fputc(' ', out);
		fputs(s, out);
		return;
	}
	fputs(s, out);
	if (last)
		return;
	for (; n < width; n++)
		fputc(' ', out);
}

#define PM_STATUS_COLS 6

int
pm_adminclient_print_status(FILE *out, const struct pm_adminclient_host *hosts, size_t n)
{
	static const char *const titles[PM_STATUS_COLS] = {
		"backend", "vhosts", "users", "state", "tag", "state changed",
	};
	static const bool right[PM_STATUS_COLS] = { false, true, true, false, false, false };
	size_t width[PM_STATUS_COLS], i, j, w;
	char **tags = NULL, num[2][16], when[64];
	const char *cell[PM_STATUS_COLS];
	int ret = 0;

	if (n > 0) {
		tags = calloc(n, sizeof(*tags));
		if (tags == NULL)
			return -ENOMEM;
	}
	for (j = 0; j < PM_STATUS_COLS; j++)
		width[j] = strlen(titles[j]);
	for (i = 0; i < n; i++) {
		const char *t = hosts[i].tag[0] != '\0' ? hosts[i].tag : "-";

		tags[i] = strdup(t);
		if (tags[i] == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		/* One line per host: no control byte may break it. */
		for (char *p = tags[i]; *p != '\0'; p++) {
			if ((uint8_t)*p < 0x20 || *p == 0x7f)
				*p = '?';
		}
		w = strlen(hosts[i].ip);
		width[0] = w > width[0] ? w : width[0];
		w = (size_t)snprintf(num[0], sizeof(num[0]), "%u", hosts[i].vhosts);
		width[1] = w > width[1] ? w : width[1];
		w = (size_t)snprintf(num[1], sizeof(num[1]), "%u", hosts[i].users);
		width[2] = w > width[2] ? w : width[2];
		w = pm_adminclient_utf8_strlen(tags[i]);
		width[4] = w > width[4] ? w : width[4];
	}
	for (i = 0; i <= n; i++) {
		if (i == 0) {
			memcpy(cell, titles, sizeof(cell));
		} else {
			const struct pm_adminclient_host *h = &hosts[i - 1];

			snprintf(num[0], sizeof(num[0]), "%u", h->vhosts);
			snprintf(num[1], sizeof(num[1]), "%u", h->users);
			if (h->updown_ts <= 0 ||
			    pm_adminclient_fmt_time(h->updown_ts, when, sizeof(when)) < 0)
				strcpy(when, "-");
			cell[0] = h->ip;
			cell[1] = num[0];
			cell[2] = num[1];
			cell[3] = h->down ? "down" : "up";
			cell[4] = tags[i - 1];
			cell[5] = when;
		}
		for (j = 0; j < PM_STATUS_COLS; j++) {
			if (j > 0)
				fputs("  ", out);
			pm_adminclient_pad(out, cell[j], width[j], right[j],
					   j == PM_STATUS_COLS - 1);
		}
		fputc('\n', out);
	}
	if (ferror(out))
		ret = -EIO;
out:
	for (i = 0; tags != NULL && i < n; i++)
		free(tags[i]);
	free(tags);
	return ret;
}

int
pm_adminclient_print_counters(FILE *out, const struct pm_adminclient_counter *k, size_t n)
{
	size_t i, wn = 0, wv = 0, w;
	char num[24];

	for (i = 0; i < n; i++) {
		w = strlen(k[i].name);
		wn = w > wn ? w : wn;
		w = (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)k[i].value);
		wv = w > wv ? w : wv;
	}
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)k[i].value);
		fprintf(out, "%-*s  %*s\n", (int)wn, k[i].name, (int)wv, num);
	}
	return ferror(out) ? -EIO : 0;
}

int
pm_adminclient_shell_quote(char *buf, size_t size, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	size_t o = 0, len = strlen(s);
	bool plain = len > 0 && strspn(s, safe) == len;

	if (plain) {
		if (len + 1 > size)
			return -ENOSPC;
		memcpy(buf, s, len + 1);
		return (int)len;
	}
#define PUT(ch) do { if (o + 1 >= size) return -ENOSPC; buf[o++] = (ch); } while (0)
	PUT('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
			PUT('\'');
		} else {
			PUT(*s);
		}
	}
	PUT('\'');
#undef PUT
	buf[o] = '\0';
	return (int)o;
}

/* ---- doveadm's table formatter ------------------------------------------------ */

void
pm_adminclient_table_init(struct pm_adminclient_table *t, FILE *out, size_t columns)
{
	memset(t, 0, sizeof(*t));
	t->out = out;
	t->columns = columns;
}

int
pm_adminclient_table_header(struct pm_adminclient_table *t, const char *title,
			    unsigned int flags)
{
	if (t->ncols == PM_ADMINCLIENT_TABLE_COLS)
		return -E2BIG;
	t->col[t->ncols].title = title;
	t->col[t->ncols].flags = flags;
	t->col[t->ncols].min_len = t->col[t->ncols].max_len = t->col[t->ncols].len = strlen(title);
	t->ncols++;
	return 0;
}

/* doveadm_calc_header_length(), step for step (its quirks included: the
 * halving pass does not lower the running total). */
static void
pm_adminclient_table_lengths(struct pm_adminclient_table *t)
{
	size_t i, row, len, max_length, orig_length, diff, nrows;

	t->lengths_set = true;
	nrows = t->ncols > 0 ? t->ncells / t->ncols : 0;
	for (row = 0; row < nrows; row++) {
		for (i = 0; i < t->ncols; i++) {
			len = pm_adminclient_utf8_strlen(t->cells[row * t->ncols + i]);
			if (t->col[i].min_len > len)
				t->col[i].min_len = len;
			if (t->col[i].max_len < len) {
				t->col[i].max_len = len;
				t->col[i].len = len;
			}
		}
	}
	max_length = 0;
	for (i = 0; i < t->ncols; i++)
		max_length += t->col[i].max_len + 1;
	max_length--;

	while (max_length > t->columns) {
		orig_length = max_length;
		for (i = t->ncols - 1;; i--) {
			diff = t->col[i].len - t->col[i].min_len;
			if (max_length - diff <= t->columns) {
				diff = max_length - t->columns;
				t->col[i].len -= diff;
				max_length -= diff;
				break;
			}
			if (diff > 0)
				t->col[i].len -= diff == 1 ? 1 : diff / 2;
			if (i == 0)
				break;
		}
		if (max_length == orig_length)
			break;
	}
	if (max_length < t->columns) {
		for (i = 0; i < t->ncols; i++) {
			if ((t->col[i].flags & PM_ADMINCLIENT_TABLE_EXPAND) != 0) {
				i++;
				break;
			}
		}
		t->col[i - 1].len += (t->columns - max_length) / 2;
	}
}

/* doveadm_print_next(): "%-*s" with the width widened by the value's UTF-8
 * continuation bytes, then a space or, after the last column, a newline. */
static void
pm_adminclient_table_cell(struct pm_adminclient_table *t, const char *value)
{
	size_t width = t->col[t->next].len + pm_adminclient_utf8_extra(value);

	if (fprintf(t->out, "%-*s", (int)(width > INT_MAX ? INT_MAX : width), value) < 0)
		t->failed = true;
	if (++t->next == t->ncols) {
		t->next = 0;
		fputc('\n', t->out);
	} else {
		fputc(' ', t->out);
	}
}

static void
pm_adminclient_table_titles(struct pm_adminclient_table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		if ((t->col[i].flags & PM_ADMINCLIENT_TABLE_HIDE_TITLE) == 0)
			break;
	}
	if (i == t->ncols)
		return;
	for (i = 0; i < t->ncols; i++) {
		if (i > 0)
			fputc(' ', t->out);
		fprintf(t->out, "%-*s", (int)t->col[i].len, t->col[i].title);
	}
	fputc('\n', t->out);
}

static void
pm_adminclient_table_drain(struct pm_adminclient_table *t)
{
	size_t i;

	pm_adminclient_table_lengths(t);
	pm_adminclient_table_titles(t);
	for (i = 0; i < t->ncells; i++) {
		pm_adminclient_table_cell(t, t->cells[i]);
		free(t->cells[i]);
	}
	t->ncells = 0;
}

int
pm_adminclient_table_print(struct pm_adminclient_table *t, const char *value)
{
	if (t->ncols == 0)
		return -EINVAL;
	if (!t->lengths_set) {
		if (t->ncells / t->ncols < PM_ADMINCLIENT_TABLE_BUFFER) {
			if (t->ncells == t->cap) {
				size_t ncap = t->cap ? t->cap * 2 : 64;
				char **nc = realloc(t->cells, ncap * sizeof(*nc));

				if (nc == NULL)
					return -ENOMEM;
				t->cells = nc;
				t->cap = ncap;
			}
			t->cells[t->ncells] = strdup(value);
			if (t->cells[t->ncells] == NULL)
				return -ENOMEM;
			t->ncells++;
			return 0;
		}
		pm_adminclient_table_drain(t);
	}
	pm_adminclient_table_cell(t, value);
	return t->failed || ferror(t->out) ? -EIO : 0;
}

int
pm_adminclient_table_flush(struct pm_adminclient_table *t)
{
	if (!t->lengths_set && t->ncols > 0)
		pm_adminclient_table_drain(t);
	return t->failed || ferror(t->out) ? -EIO : 0;
}

void
pm_adminclient_table_free(struct pm_adminclient_table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
}
