/*
 * test_utf8.c -- strict UTF-8 (proto/utf8.h).
 *
 * Known valid characters at every boundary of RFC 3629's table; overlong
 * forms, surrogates, values over U+10FFFF and stray continuation bytes;
 * every valid character truncated at every position; the byte-at-a-time
 * validator, the sequence reader and the whole-text check agreeing with an
 * independent arithmetic reference on every string of 1 to 3 bytes and on
 * all 4-byte strings over the boundary bytes; and the cut at a character
 * boundary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/utf8.h"

/* ---- helpers ------------------------------------------------------------------ */

struct seq {
	const char *s;
	size_t n;
};

#define SEQ(lit) { lit, sizeof(lit) - 1 }

/* One of each length at the bounds of each range (RFC 3629 section 4). */
static const struct seq valid[] = {
	SEQ("\x00"), SEQ("A"), SEQ("\x7f"),
	SEQ("\xc2\x80"), SEQ("\xdf\xbf"),				/* U+0080, U+07FF */
	SEQ("\xe0\xa0\x80"), SEQ("\xec\xbf\xbf"),			/* U+0800, U+CFFF */
	SEQ("\xed\x80\x80"), SEQ("\xed\x9f\xbf"),			/* U+D000, U+D7FF */
	SEQ("\xee\x80\x80"), SEQ("\xef\xbf\xbf"),			/* U+E000, U+FFFF */
	SEQ("\xf0\x90\x80\x80"), SEQ("\xf3\xbf\xbf\xbf"),		/* U+10000, U+FFFFF */
	SEQ("\xf4\x80\x80\x80"), SEQ("\xf4\x8f\xbf\xbf"),		/* U+100000, U+10FFFF */
};

static const struct seq invalid[] = {
	SEQ("\x80"), SEQ("\xbf"),				/* stray continuation */
	SEQ("\xc0\x80"), SEQ("\xc1\xbf"),			/* overlong 2 */
	SEQ("\xe0\x80\x80"), SEQ("\xe0\x9f\xbf"),		/* overlong 3 */
	SEQ("\xf0\x80\x80\x80"), SEQ("\xf0\x8f\xbf\xbf"),	/* overlong 4 */
	SEQ("\xed\xa0\x80"), SEQ("\xed\xbf\xbf"),		/* surrogates */
	SEQ("\xf4\x90\x80\x80"), SEQ("\xf4\xbf\xbf\xbf"),	/* over U+10FFFF */
	SEQ("\xf5\x80\x80\x80"), SEQ("\xf7\xbf\xbf\xbf"),
	SEQ("\xf8\x88\x80\x80\x80"), SEQ("\xfe"), SEQ("\xff"),
	SEQ("\xc2\x41"), SEQ("\xe2\x82\x41"), SEQ("\xc2\xc2\x80"),
};

/* Feed @s byte by byte: valid if no byte is refused and nothing is due. */
static bool
feed_valid(const char *s, size_t n)
{
	struct pm_utf8 u;
	bool ok = true;
	size_t i;

	pm_utf8_reset(&u);
	for (i = 0; i < n; i++) {
		if (!pm_utf8_byte(&u, (uint8_t)s[i]))
			ok = false;
	}
	return ok && u.need == 0;
}

/* The reference: decode the code point and judge it by its value. */
static bool
ref_valid(const uint8_t *s, size_t n)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1fu;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0fu;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07u;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (cp < min[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

static void
check_agree(const uint8_t *s, size_t n)
{
	bool ref = ref_valid(s, n);

	if (pm_utf8_valid((const char *)s, n) != ref || feed_valid((const char *)s, n) != ref)
		fail_msg("disagree on %zu bytes %02x %02x %02x %02x: reference %d", n, s[0],
			 n > 1 ? s[1] : 0, n > 2 ? s[2] : 0, n > 3 ? s[3] : 0, ref);
	if (ref && pm_utf8_seq(s, n) == 0)
		fail_msg("pm_utf8_seq refuses a valid start %02x", s[0]);
}

/* ---- tests -------------------------------------------------------------------- */

static void
test_utf8_valid_characters_are_accepted(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		assert_true(pm_utf8_valid(valid[i].s, valid[i].n));
		assert_true(feed_valid(valid[i].s, valid[i].n));
		assert_int_equal(pm_utf8_seq((const uint8_t *)valid[i].s, valid[i].n), valid[i].n);
		/* followed by more text, the sequence is still just itself */
		assert_int_equal(pm_utf8_seq((const uint8_t *)valid[i].s, 8), valid[i].n);
	}
	assert_true(pm_utf8_valid("", 0));
	assert_true(pm_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
}

static void
test_utf8_overlongs_surrogates_and_over_max_are_rejected(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		assert_false(pm_utf8_valid(invalid[i].s, invalid[i].n));
		assert_false(feed_valid(invalid[i].s, invalid[i].n));
		assert_int_equal(pm_utf8_seq((const uint8_t *)invalid[i].s, invalid[i].n), 0);
	}
}

static void
test_utf8_truncated_at_every_position_is_invalid(void **state)
{
	char buf[8];
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		for (k = 1; k < valid[i].n; k++) {
			struct pm_utf8 u;
			size_t j;

			assert_false(pm_utf8_valid(valid[i].s, k));
			assert_int_equal(pm_utf8_seq((const uint8_t *)valid[i].s, k), 0);
			/* byte by byte: nothing refused, but a byte still due */
			pm_utf8_reset(&u);
			for (j = 0; j < k; j++)
				assert_true(pm_utf8_byte(&u, (uint8_t)valid[i].s[j]));
			assert_int_equal(u.need, valid[i].n - k);
			/* cut after "ab": the half character goes, "ab" stays */
			memcpy(buf, "ab", 2);
			memcpy(buf + 2, valid[i].s, k);
			assert_int_equal(pm_utf8_cut(buf, 2 + k), 2);
		}
		memcpy(buf, "ab", 2);
		memcpy(buf + 2, valid[i].s, valid[i].n);
		assert_int_equal(pm_utf8_cut(buf, 2 + valid[i].n), 2 + valid[i].n);
	}
}

static void
test_utf8_lead_sets_the_first_range(void **state)
{
	struct pm_utf8 u;

	(void)state;
	assert_int_equal(pm_utf8_lead(&u, 'A'), 0);
	assert_int_equal(pm_utf8_lead(&u, 0x80), 0);
	assert_int_equal(pm_utf8_lead(&u, 0xc1), 0);
	assert_int_equal(u.need, 0);
	assert_int_equal(pm_utf8_lead(&u, 0xc2), 1);
	assert_int_equal(u.lo, 0x80);
	assert_int_equal(u.hi, 0xbf);
	assert_int_equal(pm_utf8_lead(&u, 0xe0), 2);
	assert_int_equal(u.lo, 0xa0);
	assert_int_equal(pm_utf8_lead(&u, 0xed), 2);
	assert_int_equal(u.hi, 0x9f);
	assert_int_equal(pm_utf8_lead(&u, 0xf0), 3);
	assert_int_equal(u.lo, 0x90);
	assert_int_equal(pm_utf8_lead(&u, 0xf4), 3);
	assert_int_equal(u.hi, 0x8f);
	assert_int_equal(pm_utf8_lead(&u, 0xf5), 0);
	assert_int_equal(u.need, 0);
}

static void
test_utf8_cont_ok_changes_nothing(void **state)
{
	struct pm_utf8 u;

	(void)state;
	pm_utf8_lead(&u, 0xe0);
	assert_false(pm_utf8_cont_ok(&u, 0x9f));
	assert_false(pm_utf8_cont_ok(&u, 0x9f));
	assert_true(pm_utf8_cont_ok(&u, 0xa0));
	assert_int_equal(u.need, 2);
	assert_true(pm_utf8_byte(&u, 0xa0));
	assert_true(pm_utf8_cont_ok(&u, 0x80));
	assert_false(pm_utf8_cont_ok(&u, 0xc0));
	/* a refused continuation byte drops the sequence */
	assert_false(pm_utf8_byte(&u, 0xc0));
	assert_int_equal(u.need, 0);
}

static void
test_utf8_short_strings_match_the_reference(void **state)
{
	static const uint8_t edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
					0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
					0xf5, 0xff };
	uint8_t s[4];
	uint32_t v;
	size_t a, b, c, d, ne = sizeof(edge);

	(void)state;
	for (v = 0; v < 0x100; v++) {
		s[0] = (uint8_t)v;
		check_agree(s, 1);
	}
	for (v = 0; v < 0x10000; v++) {
		s[0] = (uint8_t)(v >> 8);
		s[1] = (uint8_t)v;
		check_agree(s, 2);
	}
	for (v = 0; v < 0x1000000; v++) {
		s[0] = (uint8_t)(v >> 16);
		if (s[0] < 0xc2 || s[0] > 0xf4)
			continue;	/* judged by the 1-byte pass; keeps it short */
		s[1] = (uint8_t)(v >> 8);
		s[2] = (uint8_t)v;
		check_agree(s, 3);
	}
	for (a = 0; a < ne; a++)
		for (b = 0; b < ne; b++)
			for (c = 0; c < ne; c++)
				for (d = 0; d < ne; d++) {
					s[0] = edge[a];
					s[1] = edge[b];
					s[2] = edge[c];
					s[3] = edge[d];
					check_agree(s, 4);
				}
}

static void
test_utf8_cut_keeps_what_is_not_a_half_character(void **state)
{
	(void)state;
	assert_int_equal(pm_utf8_cut("", 0), 0);
	assert_int_equal(pm_utf8_cut("abc", 3), 3);
	assert_int_equal(pm_utf8_cut("\xc3", 1), 0);
	assert_int_equal(pm_utf8_cut("a\xe2\x82", 3), 1);
	assert_int_equal(pm_utf8_cut("a\xf0\x9f\x98", 4), 1);
	/* stray continuation bytes are the caller's: kept */
	assert_int_equal(pm_utf8_cut("a\x80\x80", 3), 3);
	/* every byte from C0 up counts as a lead by its high bits, valid or not */
	assert_int_equal(pm_utf8_cut("a\xff", 2), 1);
	assert_int_equal(pm_utf8_cut("a\xc0", 2), 1);
	assert_int_equal(pm_utf8_cut("a\xf8\x80\x80\x80", 5), 5);
	/* more continuation bytes than any lead announces: kept */
	assert_int_equal(pm_utf8_cut("a\xf0\x80\x80\x80\x80", 6), 6);
	/* a 2-byte lead with two continuations is complete (and invalid): kept */
	assert_int_equal(pm_utf8_cut("a\xc3\xa9\xa9", 4), 4);
	/* the cut reads nothing past @len */
	assert_int_equal(pm_utf8_cut("a\xc3\xa9", 2), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid_characters_are_accepted),
		cmocka_unit_test(test_utf8_overlongs_surrogates_and_over_max_are_rejected),
		cmocka_unit_test(test_utf8_truncated_at_every_position_is_invalid),
		cmocka_unit_test(test_utf8_lead_sets_the_first_range),
		cmocka_unit_test(test_utf8_cont_ok_changes_nothing),
		cmocka_unit_test(test_utf8_short_strings_match_the_reference),
		cmocka_unit_test(test_utf8_cut_keeps_what_is_not_a_half_character),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
