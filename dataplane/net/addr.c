/*
 * addr.c -- parsing, formatting and ordering of struct pm_addr.
 */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int
pm_addr_parse(struct pm_addr *a, const char *s, size_t len)
{
	char tmp[PM_ADDR_STRLEN];

	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len) != NULL)
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(a, 0, sizeof(*a));
	/* inet_pton() for AF_INET accepts only the strict dotted quad, unlike
	 * inet_aton(), so "10.1" or "010.0.0.1" are rejected here. */
	if (inet_pton(AF_INET, tmp, a->bytes) == 1) {
		a->family = PM_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a->bytes) == 1) {
		a->family = PM_AF_INET6;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -EINVAL;
}

int
pm_addr_format(const struct pm_addr *a, char *buf, size_t size)
{
	int af;

	switch (a->family) {
	case PM_AF_INET:
		af = AF_INET;
		break;
	case PM_AF_INET6:
		af = AF_INET6;
		break;
	default:
		return -EINVAL;
	}
	if (inet_ntop(af, a->bytes, buf, size) == NULL)
		return -ENOSPC;
	return (int)strlen(buf);
}

int
pm_addr_cmp(const struct pm_addr *a, const struct pm_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, pm_addr_len(a));
}
