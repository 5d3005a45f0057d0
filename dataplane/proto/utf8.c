/*
 * utf8.c -- strict UTF-8 checks and the character-boundary cut of the login
 * machines. See utf8.h.
 */
#include "proto/utf8.h"

void
pm_utf8_reset(struct pm_utf8 *u)
{
	u->need = 0;
	u->lo = 0x80;
	u->hi = 0xbf;
}

unsigned
pm_utf8_lead(struct pm_utf8 *u, uint8_t c)
{
	u->lo = 0x80;
	u->hi = 0xbf;
	u->need = 0;
	if (c >= 0xc2 && c <= 0xdf) {
		u->need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		u->need = 2;
		if (c == 0xe0)
			u->lo = 0xa0;	/* no overlongs */
		else if (c == 0xed)
			u->hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		u->need = 3;
		if (c == 0xf0)
			u->lo = 0x90;	/* no overlongs */
		else if (c == 0xf4)
			u->hi = 0x8f;	/* nothing over U+10FFFF */
	}
	return u->need;
}

bool
pm_utf8_cont_ok(const struct pm_utf8 *u, uint8_t c)
{
	return c >= u->lo && c <= u->hi;
}

bool
pm_utf8_byte(struct pm_utf8 *u, uint8_t c)
{
	if (u->need > 0) {
		if (!pm_utf8_cont_ok(u, c)) {
			u->need = 0;
			return false;
		}
		u->need--;
		u->lo = 0x80;
		u->hi = 0xbf;
		return true;
	}
	if (c < 0x80)
		return true;
	return pm_utf8_lead(u, c) > 0;
}

size_t
pm_utf8_seq(const uint8_t *s, size_t n)
{
	struct pm_utf8 u;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	need = pm_utf8_lead(&u, s[0]);
	if (need == 0 || n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if (!pm_utf8_byte(&u, s[i]))
			return 0;
	}
	return need + 1;
}

bool
pm_utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = pm_utf8_seq((const uint8_t *)s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

size_t
pm_utf8_cut(const char *s, size_t len)
{
	size_t lead = len, need;
	unsigned char c;

	while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return len;
	c = (unsigned char)s[lead - 1];
	if (c < 0xc0)
		return len;	/* ASCII (or stray continuation bytes): keep */
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return len - (lead - 1) < need ? lead - 1 : len;
}
