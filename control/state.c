/*
 * state.c -- desired backend state, its operations and its state file.
 *
 * State file format (text, one record a line, fields separated by TABs):
 *
 *	postmux-state	1
 *	generation	<n>
 *	config	<ip>	<tag>			(one per configured server)
 *	host	<ip>	<tag>	<vhosts>	<U|D>	<last_updown>
 *
 * Tags are written with the admin protocol's tab escaping (0x01 escapes),
 * so any byte but NUL survives. Unknown record types are an error: the file
 * is ours, and a mangled one must not be half-applied.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adminproto.h"

#define STATE_MAGIC "postmux-state"
#define STATE_VERSION 1

static int
cmp_host(const void *a, const void *b)
{
	const struct pm_state_host *x = a, *y = b;

	return pm_addr_cmp(&x->addr, &y->addr);
}

void
pm_state_free(struct pm_state *s)
{
	free(s->hosts);
	memset(s, 0, sizeof(*s));
}

struct pm_state_host *
pm_state_find(struct pm_state *s, const struct pm_addr *a)
{
	struct pm_state_host key = { .addr = *a };

	if (s->n == 0)
		return NULL;
	return bsearch(&key, s->hosts, s->n, sizeof(*s->hosts), cmp_host);
}

static int
state_insert(struct pm_state *s, const struct pm_state_host *h)
{
	size_t i;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct pm_state_host *nh = realloc(s->hosts, ncap * sizeof(*nh));

		if (nh == NULL)
			return -ENOMEM;
		s->hosts = nh;
		s->cap = ncap;
	}
	for (i = s->n; i > 0 && pm_addr_cmp(&s->hosts[i - 1].addr, &h->addr) > 0; i--)
		s->hosts[i] = s->hosts[i - 1];
	s->hosts[i] = *h;
	s->n++;
	return 0;
}

static void
state_delete(struct pm_state *s, struct pm_state_host *h)
{
	size_t i = (size_t)(h - s->hosts);

	memmove(&s->hosts[i], &s->hosts[i + 1], (s->n - i - 1) * sizeof(*h));
	s->n--;
}

static struct pm_state_host
host_from_spec(const struct pm_hostspec *hs)
{
	struct pm_state_host h;

	memset(&h, 0, sizeof(h));
	h.addr = hs->addr;
	memcpy(h.tag, hs->tag, sizeof(h.tag));
	h.vhosts = hs->vhosts;
	h.down = hs->down;
	return h;
}

int
pm_state_from_config(struct pm_state *s, const struct pm_config *c)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->generation = 1;
	for (i = 0; i < c->nservers; i++) {
		struct pm_state_host h = host_from_spec(&c->servers[i]);

		if (state_insert(s, &h) < 0) {
			pm_state_free(s);
			return -ENOMEM;
		}
	}
	return 0;
}

int
pm_state_host_set(struct pm_state *s, const struct pm_addr *a, const char *tag, int vhosts,
		  bool create)
{
	struct pm_state_host *h;

	if (vhosts > PM_RING_MAX_VHOSTS)
		return -E2BIG;
	if (a->family != PM_AF_INET && a->family != PM_AF_INET6)
		return -EINVAL;
	if (tag == NULL)
		tag = "";
	if (strlen(tag) >= PM_TAG_MAX)
		return -EINVAL;
	h = pm_state_find(s, a);
	if (h == NULL) {
		struct pm_state_host nh;

		if (!create)
			return -ENOENT;
		memset(&nh, 0, sizeof(nh));
		nh.addr = *a;
		strcpy(nh.tag, tag);
		nh.vhosts = vhosts < 0 ? PM_RING_DEFAULT_VHOSTS : (uint16_t)vhosts;
		if (state_insert(s, &nh) < 0)
			return -ENOMEM;
		s->generation++;
		return 0;
	}
	if (tag[0] != '\0' && strcmp(h->tag, tag) != 0)
		return -EEXIST;
	if (vhosts < 0 || h->vhosts == vhosts)
		return 0;
	h->vhosts = (uint16_t)vhosts;
	s->generation++;
	return 0;
}

int
pm_state_host_updown(struct pm_state *s, const struct pm_addr *a, bool down, int64_t now_s)
{
	struct pm_state_host *h = pm_state_find(s, a);

	if (h == NULL)
		return -ENOENT;
	if (h->down == down)
		return 0;
	h->down = down;
	h->last_updown_s = now_s;
	s->generation++;
	return 0;
}

int
pm_state_host_remove(struct pm_state *s, const struct pm_addr *a)
{
	struct pm_state_host *h = pm_state_find(s, a);

	if (h == NULL)
		return -ENOENT;
	state_delete(s, h);
	s->generation++;
	return 0;
}

/* ---- the file ------------------------------------------------------------- */

static void
put_escaped(FILE *fp, const char *s)
{
	char buf[2 * PM_TAG_MAX + 1];

	/* Tags are < PM_TAG_MAX bytes, so the escaped form always fits. */
	if (pm_adminproto_escape(buf, sizeof(buf), s, strlen(s)) >= 0)
		fputs(buf, fp);
}

/* Unescape the tag field @s into @out (PM_TAG_MAX bytes). The file is
 * ours, so only the canonical escaping we write is accepted: the result
 * must escape back to exactly @s, and carry no NUL. */
static int
parse_tag(const char *s, char *out)
{
	char again[2 * PM_TAG_MAX + 1];
	int n = pm_adminproto_unescape(out, PM_TAG_MAX, s, strlen(s));

	if (n < 0 || memchr(out, '\0', (size_t)n) != NULL)
		return -EINVAL;
	if (pm_adminproto_escape(again, sizeof(again), out, (size_t)n) < 0 ||
	    strcmp(again, s) != 0)
		return -EINVAL;
	return 0;
}

int
pm_state_save(const struct pm_state *s, const struct pm_config *c, const char *path, char *err,
	      size_t errlen)
{
	char tmp[4096 + 16], dirbuf[4096], ip[PM_ADDR_STRLEN];
	FILE *fp;
	size_t i;
	int fd, dfd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	fprintf(fp, "%s\t%d\n", STATE_MAGIC, STATE_VERSION);
	fprintf(fp, "generation\t%llu\n", (unsigned long long)s->generation);
	for (i = 0; i < c->nservers; i++) {
		pm_addr_format(&c->servers[i].addr, ip, sizeof(ip));
		fprintf(fp, "config\t%s\t", ip);
		put_escaped(fp, c->servers[i].tag);
		fputc('\n', fp);
	}
	for (i = 0; i < s->n; i++) {
		const struct pm_state_host *h = &s->hosts[i];

		pm_addr_format(&h->addr, ip, sizeof(ip));
		fprintf(fp, "host\t%s\t", ip);
		put_escaped(fp, h->tag);
		fprintf(fp, "\t%u\t%c\t%lld\n", h->vhosts, h->down ? 'D' : 'U',
			(long long)h->last_updown_s);
	}
	if (fflush(fp) != 0 || fsync(fd) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		fclose(fp);
		unlink(tmp);
		return ret;
	}
	if (fclose(fp) != 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return ret;
	}
	if (rename(tmp, path) != 0) {
		ret = -errno;
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return ret;
	}
	/* The rename is durable only once the directory is. */
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0) {
			ret = -errno;
			snprintf(err, errlen, "fsync of %s's directory: %s", path, strerror(errno));
		}
		close(dfd);
	}
	return ret;
}

static int
load_error(char *err, size_t errlen, const char *path, unsigned int lineno, const char *why)
{
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	return -EINVAL;
}

static bool
in_list(const struct pm_addr *a, const struct pm_addr *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (pm_addr_eq(a, &list[i]))
			return true;
	}
	return false;
}

int
pm_state_load(struct pm_state *s, const char *path, const struct pm_config *c, char *err,
	      size_t errlen)
{
	FILE *fp = fopen(path, "r");
	struct pm_addr *base = NULL;
	size_t nbase = 0, i;
	unsigned int lineno = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t got;
	bool header = false;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (fp == NULL) {
		ret = -errno;
		if (ret != -ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	while ((got = getline(&line, &linecap, fp)) >= 0) {
		char *f[7], *p;
		int k = 0;

		lineno++;
		if (got > 0 && line[got - 1] == '\n')
			line[--got] = '\0';
		if ((size_t)got != strlen(line)) {
			ret = load_error(err, errlen, path, lineno, "NUL byte");
			break;
		}
		/* strtok_r would merge empty fields (an empty tag). */
		for (p = line; k < 7; k++) {
			f[k] = p;
			p = strchr(p, '\t');
			if (p == NULL) {
				k++;
				break;
			}
			*p++ = '\0';
		}
		if (!header) {
			if (k != 2 || strcmp(f[0], STATE_MAGIC) != 0) {
				ret = load_error(err, errlen, path, lineno, "not a postmux state file");
				break;
			}
			if (strcmp(f[1], "1") != 0) {
				ret = load_error(err, errlen, path, lineno,
						 "unsupported state file version");
				break;
			}
			header = true;
			continue;
		}
		if (strcmp(f[0], "generation") == 0 && k == 2) {
			char *end;

			errno = 0;
			s->generation = strtoull(f[1], &end, 10);
			if (errno != 0 || *end != '\0' || end == f[1]) {
				ret = load_error(err, errlen, path, lineno, "bad generation");
				break;
			}
		} else if (strcmp(f[0], "config") == 0 && k == 3) {
			struct pm_addr *nb = realloc(base, (nbase + 1) * sizeof(*nb));

			if (nb == NULL) {
				ret = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				break;
			}
			base = nb;
			if (pm_addr_parse(&base[nbase], f[1], strlen(f[1])) < 0) {
				ret = load_error(err, errlen, path, lineno, "bad address");
				break;
			}
			nbase++;
		} else if (strcmp(f[0], "host") == 0 && k == 6) {
			struct pm_state_host h;
			char *end;
			unsigned long v;
			long long ts;

			memset(&h, 0, sizeof(h));
			if (pm_addr_parse(&h.addr, f[1], strlen(f[1])) < 0) {
				ret = load_error(err, errlen, path, lineno, "bad address");
				break;
			}
			if (parse_tag(f[2], h.tag) < 0) {
				ret = load_error(err, errlen, path, lineno, "bad tag");
				break;
			}
			errno = 0;
			v = strtoul(f[3], &end, 10);
			if (errno != 0 || *end != '\0' || end == f[3] || v > PM_RING_MAX_VHOSTS) {
				ret = load_error(err, errlen, path, lineno, "bad vhost count");
				break;
			}
			h.vhosts = (uint16_t)v;
			if (strcmp(f[4], "U") != 0 && strcmp(f[4], "D") != 0) {
				ret = load_error(err, errlen, path, lineno, "bad up/down flag");
				break;
			}
			h.down = f[4][0] == 'D';
			errno = 0;
			ts = strtoll(f[5], &end, 10);
			if (errno != 0 || *end != '\0' || end == f[5] || ts < 0) {
				ret = load_error(err, errlen, path, lineno, "bad time");
				break;
			}
			h.last_updown_s = ts;
			if (pm_state_find(s, &h.addr) != NULL) {
				ret = load_error(err, errlen, path, lineno, "host listed twice");
				break;
			}
			if (state_insert(s, &h) < 0) {
				ret = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory", path);
				break;
			}
		} else {
			ret = load_error(err, errlen, path, lineno, "unknown record");
			break;
		}
	}
	free(line);
	fclose(fp);
	if (ret == 0 && !header)
		ret = load_error(err, errlen, path, lineno, "empty state file");
	if (ret < 0) {
		free(base);
		pm_state_free(s);
		return ret;
	}

	/* Merge the configuration's changes since the file was written. */
	for (i = 0; i < nbase; i++) {
		bool still = false;
		size_t j;

		for (j = 0; j < c->nservers && !still; j++)
			still = pm_addr_eq(&base[i], &c->servers[j].addr);
		if (!still) {
			struct pm_state_host *h = pm_state_find(s, &base[i]);

			if (h != NULL) {
				state_delete(s, h);
				s->generation++;
			}
		}
	}
	for (i = 0; i < c->nservers; i++) {
		struct pm_state_host h;

		if (in_list(&c->servers[i].addr, base, nbase) ||
		    pm_state_find(s, &c->servers[i].addr) != NULL)
			continue;
		h = host_from_spec(&c->servers[i]);
		if (state_insert(s, &h) < 0) {
			free(base);
			pm_state_free(s);
			snprintf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		s->generation++;
	}
	free(base);
	return 0;
}
