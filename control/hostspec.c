/*
 * hostspec.c -- the backend list parser.
 */
#include "hostspec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RANGE 65536

static int
spec_error(char *err, size_t errlen, const char *tok, size_t toklen, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "backend '%.*s': %s", (int)(toklen > 200 ? 200 : toklen),
			 tok, why);
	return -EINVAL;
}

static bool
is_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

static int
cmp_spec(const void *a, const void *b)
{
	const struct pm_hostspec *x = a, *y = b;

	return pm_addr_cmp(&x->addr, &y->addr);
}

/* Append [first, last] (same family, differing only in the last 8 or 16
 * bits) to the array. */
static int
push_range(struct pm_hostspec **arr, size_t *n, size_t *cap, const struct pm_addr *first,
	   const struct pm_addr *last, const struct pm_hostspec *proto)
{
	uint32_t lo, hi, v;

	if (first->family == PM_AF_INET) {
		lo = first->bytes[3];
		hi = last->bytes[3];
	} else {
		lo = (uint32_t)first->bytes[14] << 8 | first->bytes[15];
		hi = (uint32_t)last->bytes[14] << 8 | last->bytes[15];
	}
	for (v = lo; v <= hi; v++) {
		struct pm_hostspec *h;

		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			struct pm_hostspec *na = realloc(*arr, ncap * sizeof(*na));

			if (na == NULL)
				return -ENOMEM;
			*arr = na;
			*cap = ncap;
		}
		h = &(*arr)[(*n)++];
		*h = *proto;
		h->addr = *first;
		if (first->family == PM_AF_INET) {
			h->addr.bytes[3] = (uint8_t)v;
		} else {
			h->addr.bytes[14] = (uint8_t)(v >> 8);
			h->addr.bytes[15] = (uint8_t)v;
		}
	}
	return 0;
}

static int
parse_token(const char *tok, size_t len, struct pm_hostspec **arr, size_t *n, size_t *cap,
	    char *err, size_t errlen)
{
	struct pm_hostspec proto;
	struct pm_addr first, last;
	const char *end = tok + len, *p, *at, *eq, *dash;
	size_t iplen;

	memset(&proto, 0, sizeof(proto));
	proto.vhosts = 100;

	/* ":down" / ":up" suffix: neither word is hex, so it never eats part
	 * of an IPv6 address. */
	if (len > 5 && memcmp(end - 5, ":down", 5) == 0) {
		proto.down = true;
		end -= 5;
	} else if (len > 3 && memcmp(end - 3, ":up", 3) == 0) {
		end -= 3;
	}
	eq = memchr(tok, '=', (size_t)(end - tok));
	if (eq != NULL) {
		unsigned long v = 0;

		if (eq + 1 == end)
			return spec_error(err, errlen, tok, len, "missing vhost count after '='");
		for (p = eq + 1; p < end; p++) {
			if (*p < '0' || *p > '9')
				return spec_error(err, errlen, tok, len,
						  "vhost count '%.*s' is not a number",
						  (int)(end - eq - 1), eq + 1);
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 1000)
				return spec_error(err, errlen, tok, len,
						  "vhost count %.*s is over the maximum of 1000",
						  (int)(end - eq - 1), eq + 1);
		}
		proto.vhosts = (uint16_t)v;
		end = eq;
	}
	at = memchr(tok, '@', (size_t)(end - tok));
	if (at != NULL) {
		size_t taglen = (size_t)(end - at - 1);

		if (taglen == 0)
			return spec_error(err, errlen, tok, len, "empty tag after '@'");
		if (taglen >= sizeof(proto.tag))
			return spec_error(err, errlen, tok, len, "tag longer than %d bytes",
					  PM_TAG_MAX - 1);
		memcpy(proto.tag, at + 1, taglen);
		end = at;
	}
	iplen = (size_t)(end - tok);
	dash = memchr(tok, '-', iplen);
	if (dash == NULL) {
		if (pm_addr_parse(&first, tok, iplen) < 0)
			return spec_error(err, errlen, tok, len, "'%.*s' is not an IP address",
					  (int)iplen, tok);
		last = first;
	} else {
		size_t cmp;

		if (pm_addr_parse(&first, tok, (size_t)(dash - tok)) < 0 ||
		    pm_addr_parse(&last, dash + 1, (size_t)(end - dash - 1)) < 0)
			return spec_error(err, errlen, tok, len,
					  "'%.*s' is not an IP range (ip1-ip2)", (int)iplen, tok);
		if (first.family != last.family)
			return spec_error(err, errlen, tok, len,
					  "range mixes IPv4 and IPv6");
		cmp = first.family == PM_AF_INET ? 3 : 14;
		if (memcmp(first.bytes, last.bytes, cmp) != 0)
			return spec_error(err, errlen, tok, len,
					  "a range may differ only in the last %s bits",
					  first.family == PM_AF_INET ? "8" : "16");
		if (pm_addr_cmp(&first, &last) > 0)
			return spec_error(err, errlen, tok, len,
					  "range start is above its end");
	}
	if (push_range(arr, n, cap, &first, &last, &proto) < 0)
		return -ENOMEM;
	return 0;
}

int
pm_hostspec_parse(const char *text, struct pm_hostspec **out, size_t *n, char *err,
		  size_t errlen)
{
	struct pm_hostspec *arr = NULL;
	size_t cnt = 0, cap = 0, i;
	const char *p = text, *tok;
	char ip[PM_ADDR_STRLEN];
	int ret;

	while (*p != '\0') {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p != '\0' && !is_sep(*p))
			p++;
		ret = parse_token(tok, (size_t)(p - tok), &arr, &cnt, &cap, err, errlen);
		if (ret < 0) {
			if (ret == -ENOMEM && err != NULL && errlen > 0)
				snprintf(err, errlen, "out of memory");
			free(arr);
			return ret;
		}
	}
	if (cnt > 1) {
		qsort(arr, cnt, sizeof(*arr), cmp_spec);
		for (i = 1; i < cnt; i++) {
			if (pm_addr_eq(&arr[i - 1].addr, &arr[i].addr)) {
				pm_addr_format(&arr[i].addr, ip, sizeof(ip));
				if (err != NULL && errlen > 0)
					snprintf(err, errlen, "backend %s is listed twice", ip);
				free(arr);
				return -EINVAL;
			}
		}
	}
	*out = arr;
	*n = cnt;
	return 0;
}
