/*
 * testaddr.h -- address helpers for cmocka tests.
 *
 * Test code only: ip() fails the current test on a bad literal.
 */
#ifndef PM_TESTADDR_H
#define PM_TESTADDR_H

#include <string.h>

#include "net/addr.h"

/* The address @s, which must parse. */
static inline struct pm_addr
ip(const char *s)
{
	struct pm_addr a;

	assert_int_equal(pm_addr_parse(&a, s, strlen(s)), 0);
	return a;
}

/* @a as text ("" for no address); four rotating static buffers, so up to
 * four results may be used in one expression. */
static inline const char *
ipstr(const struct pm_addr *a)
{
	static char buf[4][PM_ADDR_STRLEN];
	static int n;
	char *b = buf[n++ % 4];

	if (a->family == PM_AF_NONE)
		return "";
	pm_addr_format(a, b, PM_ADDR_STRLEN);
	return b;
}

#endif
