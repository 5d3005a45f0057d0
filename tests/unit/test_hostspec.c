/*
 * test_hostspec.c -- backend lists in director_mail_servers syntax
 * (control/hostspec.h).
 *
 * Success cases check every field of every host; error cases check the
 * return value, that nothing is handed back, and that the one-line message
 * names the offending token (or the limit).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostspec.h"

struct expect_host {
	const char *ip;		/* canonical text */
	const char *tag;
	uint16_t vhosts;
	bool down;
};

static void
parse_ok(const char *text, const struct expect_host *want, size_t nwant)
{
	struct pm_hostspec *hs = NULL;
	char err[512], ip[PM_ADDR_STRLEN];
	size_t n = 12345, i;
	int rc;

	err[0] = '\0';
	rc = pm_hostspec_parse(text, &hs, &n, err, sizeof(err));
	if (rc != 0)
		fail_msg("'%s' rejected: %s", text, err);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++) {
		assert_true(pm_addr_format(&hs[i].addr, ip, sizeof(ip)) > 0);
		if (strcmp(ip, want[i].ip) != 0)
			print_error("'%s' host %zu\n", text, i);
		assert_string_equal(ip, want[i].ip);
		assert_string_equal(hs[i].tag, want[i].tag);
		assert_int_equal(hs[i].vhosts, want[i].vhosts);
		assert_int_equal(hs[i].down, want[i].down);
	}
	free(hs);
}

/* The error must name @needle (the bad token, or the limit). */
static void
parse_bad(const char *text, const char *needle)
{
	struct pm_hostspec *hs = (struct pm_hostspec *)&hs;
	char err[512];
	size_t n = 12345;
	int rc;

	err[0] = '\0';
	rc = pm_hostspec_parse(text, &hs, &n, err, sizeof(err));
	if (rc != -EINVAL)
		fail_msg("'%s': expected -EINVAL, got %d", text, rc);
	if (strstr(err, needle) == NULL)
		fail_msg("'%s': message does not mention '%s': %s", text, needle, err);
	assert_null(strchr(err, '\n'));
	/* A NULL message buffer is allowed. */
	assert_int_equal(pm_hostspec_parse(text, &hs, &n, NULL, 0), -EINVAL);
}

#define OK(text, ...)                                                                  \
	do {                                                                           \
		static const struct expect_host want_[] = { __VA_ARGS__ };             \
		parse_ok(text, want_, sizeof(want_) / sizeof(want_[0]));               \
	} while (0)

static void
test_hostspec_single_hosts_get_defaults(void **state)
{
	(void)state;
	OK("10.0.0.1", { "10.0.0.1", "", 100, false });
	OK("2001:DB8:0:0::1", { "2001:db8::1", "", 100, false });
	OK("::ffff:10.0.0.1", { "::ffff:10.0.0.1", "", 100, false });
}

static void
test_hostspec_empty_text_gives_no_hosts(void **state)
{
	static const char *const empty[] = { "", " ", "\t\n", ",", " , ,\r\n", "\n\n\n" };
	struct pm_hostspec *hs;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		hs = (struct pm_hostspec *)&hs;
		n = 12345;
		assert_int_equal(pm_hostspec_parse(empty[i], &hs, &n, NULL, 0), 0);
		assert_int_equal(n, 0);
		free(hs);
	}
}

static void
test_hostspec_ipv4_range_expands(void **state)
{
	(void)state;
	OK("10.0.0.1-10.0.0.5", { "10.0.0.1", "", 100, false }, { "10.0.0.2", "", 100, false },
	   { "10.0.0.3", "", 100, false }, { "10.0.0.4", "", 100, false },
	   { "10.0.0.5", "", 100, false });
	OK("10.0.0.7-10.0.0.7", { "10.0.0.7", "", 100, false });
	OK("10.0.0.254-10.0.0.255", { "10.0.0.254", "", 100, false },
	   { "10.0.0.255", "", 100, false });
	{
		struct pm_hostspec *hs = NULL;
		size_t n = 0;

		assert_int_equal(pm_hostspec_parse("10.9.9.0-10.9.9.255", &hs, &n, NULL, 0), 0);
		assert_int_equal(n, 256);
		assert_int_equal(hs[0].addr.bytes[3], 0);
		assert_int_equal(hs[255].addr.bytes[3], 255);
		assert_int_equal(hs[255].addr.bytes[2], 9);
		free(hs);
	}
}

static void
test_hostspec_ipv6_range_expands_last_16_bits(void **state)
{
	(void)state;
	OK("2001:db8::fe-2001:db8::101", { "2001:db8::fe", "", 100, false },
	   { "2001:db8::ff", "", 100, false }, { "2001:db8::100", "", 100, false },
	   { "2001:db8::101", "", 100, false });
	OK("2001:db8::1:fffe-2001:db8::1:ffff", { "2001:db8::1:fffe", "", 100, false },
	   { "2001:db8::1:ffff", "", 100, false });
	{
		struct pm_hostspec *hs = NULL;
		size_t n = 0;

		assert_int_equal(pm_hostspec_parse("fd00::1000-fd00::1fff", &hs, &n, NULL, 0), 0);
		assert_int_equal(n, 4096);
		assert_int_equal(hs[4095].addr.bytes[14], 0x1f);
		assert_int_equal(hs[4095].addr.bytes[15], 0xff);
		free(hs);
	}
}

static void
test_hostspec_bad_ranges_are_rejected(void **state)
{
	(void)state;
	/* Differs above the last 8 (IPv4) / 16 (IPv6) bits. */
	parse_bad("10.0.0.1-10.0.1.5", "10.0.0.1-10.0.1.5");
	parse_bad("10.0.0.1-10.0.1.5", "8 bits");
	parse_bad("10.0.0.1-11.0.0.1", "10.0.0.1-11.0.0.1");
	parse_bad("2001:db8::1:1-2001:db8::2:1", "16 bits");
	/* Reversed. */
	parse_bad("10.0.0.5-10.0.0.1", "10.0.0.5-10.0.0.1");
	parse_bad("2001:db8::9-2001:db8::1", "2001:db8::9-2001:db8::1");
	parse_bad("10.0.0.2-10.0.0.1", "10.0.0.2-10.0.0.1");
	parse_bad("2001:db8::100-2001:db8::ff", "2001:db8::100-2001:db8::ff");
	/* Mixed families, missing ends, bad ends. */
	parse_bad("10.0.0.1-::1", "10.0.0.1-::1");
	parse_bad("10.0.0.1-", "10.0.0.1-");
	parse_bad("-10.0.0.1", "-10.0.0.1");
	parse_bad("10.0.0.1-10.0.0.300", "10.0.0.1-10.0.0.300");
	parse_bad("10.0.0.1-10.0.0.2-10.0.0.3", "10.0.0.1-10.0.0.2-10.0.0.3");
}

static void
test_hostspec_tag_vhosts_and_state_apply(void **state)
{
	(void)state;
	OK("10.0.1.1@tagA=100", { "10.0.1.1", "tagA", 100, false });
	OK("10.0.1.2@tagA=20", { "10.0.1.2", "tagA", 20, false });
	OK("10.0.0.4=100:down", { "10.0.0.4", "", 100, true });
	OK("10.0.0.4:down", { "10.0.0.4", "", 100, true });
	OK("10.0.0.4:up", { "10.0.0.4", "", 100, false });
	OK("10.0.0.4=7:up", { "10.0.0.4", "", 7, false });
	OK("2001:db8::1=50", { "2001:db8::1", "", 50, false });
	OK("2001:db8::1:down", { "2001:db8::1", "", 100, true });
	OK("2001:db8::1@v6=0:down", { "2001:db8::1", "v6", 0, true });
	OK("10.0.0.5=0", { "10.0.0.5", "", 0, false });
	OK("10.0.0.5=1000", { "10.0.0.5", "", 1000, false });
	OK("10.0.0.5=0007", { "10.0.0.5", "", 7, false });
	OK("10.0.0.1@a-b.c_d", { "10.0.0.1", "a-b.c_d", 100, false });
	/* Attributes on a range apply to every host in it. */
	OK("10.0.0.1-10.0.0.3@t=7:down", { "10.0.0.1", "t", 7, true },
	   { "10.0.0.2", "t", 7, true }, { "10.0.0.3", "t", 7, true });
}

static void
test_hostspec_tag_length_is_bounded(void **state)
{
	char text[PM_TAG_MAX + 64], want[PM_TAG_MAX];
	struct pm_hostspec *hs = NULL;
	size_t n = 0;

	(void)state;
	/* 255 bytes fit (with the NUL). */
	memset(want, 'x', PM_TAG_MAX - 1);
	want[PM_TAG_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "10.0.0.1@%s=5", want);
	assert_int_equal(pm_hostspec_parse(text, &hs, &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hs[0].tag, want);
	assert_int_equal(hs[0].vhosts, 5);
	free(hs);
	/* 256 do not. */
	snprintf(text, sizeof(text), "10.0.0.1@%sx=5", want);
	parse_bad(text, "tag");
	parse_bad("10.0.0.1@", "10.0.0.1@");
	parse_bad("10.0.0.1@=5", "10.0.0.1@=5");
}

static void
test_hostspec_bad_vhosts_are_rejected(void **state)
{
	(void)state;
	parse_bad("10.0.0.1=1001", "1000");
	parse_bad("10.0.0.1=1001", "10.0.0.1=1001");
	parse_bad("10.0.0.1=5000", "1000");
	parse_bad("10.0.0.1=65536", "1000");
	parse_bad("10.0.0.1=99999999999999999999999", "1000");
	parse_bad("10.0.0.1=abc", "10.0.0.1=abc");
	parse_bad("10.0.0.1=", "10.0.0.1=");
	parse_bad("10.0.0.1=-1", "10.0.0.1=-1");
	parse_bad("10.0.0.1=+5", "10.0.0.1=+5");
	parse_bad("10.0.0.1=5x", "10.0.0.1=5x");
	parse_bad("10.0.0.1=5=6", "10.0.0.1=5=6");
	parse_bad("10.0.0.1=5:sideways", "10.0.0.1=5:sideways");
}

static void
test_hostspec_invalid_ip_names_token(void **state)
{
	(void)state;
	parse_bad("10.0.0.300", "10.0.0.300");
	parse_bad("10.0.0.1 bogus 10.0.0.2", "bogus");
	parse_bad("mail.example.com", "mail.example.com");
	parse_bad("10.1", "10.1");
	parse_bad("010.0.0.1", "010.0.0.1");
	parse_bad("10.0.0.1/24", "10.0.0.1/24");
	parse_bad("[::1]", "[::1]");
	parse_bad(":down", ":down");
	parse_bad("=5", "=5");
	parse_bad("@tag", "@tag");
	parse_bad("10.0.0.1;10.0.0.2", "10.0.0.1;10.0.0.2");
	/* The first bad token is the one reported. */
	parse_bad("10.0.0.1 10.0.0.999 nothost", "10.0.0.999");
}

static void
test_hostspec_duplicates_are_rejected(void **state)
{
	(void)state;
	parse_bad("10.0.0.1 10.0.0.1", "10.0.0.1");
	parse_bad("10.0.0.1-10.0.0.3 10.0.0.2", "10.0.0.2");
	parse_bad("10.0.0.2 10.0.0.1-10.0.0.3", "10.0.0.2");
	parse_bad("2001:db8::1 2001:DB8:0::1", "2001:db8::1");
	/* A different tag or state does not make it another backend. */
	parse_bad("10.0.0.1@a 10.0.0.1@b", "10.0.0.1");
	parse_bad("10.0.0.1=5 10.0.0.1:down", "10.0.0.1");
	parse_bad("10.0.0.1-10.0.0.5 10.0.0.5-10.0.0.9", "10.0.0.5");
}

static void
test_hostspec_separators_are_interchangeable(void **state)
{
	static const char *const texts[] = {
		"10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4",
		"10.0.0.1\t10.0.0.2\t10.0.0.3\t10.0.0.4",
		"10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4",
		"10.0.0.1\n10.0.0.2\n10.0.0.3\n10.0.0.4\n",
		"10.0.0.1\r\n10.0.0.2\r\n10.0.0.3\r\n10.0.0.4\r\n",
		"  10.0.0.1 ,\t10.0.0.2\n\n,,10.0.0.3 \t 10.0.0.4,  ",
		"10.0.0.4 10.0.0.3, 10.0.0.2\t10.0.0.1",
	};
	static const struct expect_host want[] = {
		{ "10.0.0.1", "", 100, false },
		{ "10.0.0.2", "", 100, false },
		{ "10.0.0.3", "", 100, false },
		{ "10.0.0.4", "", 100, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		parse_ok(texts[i], want, 4);
}

/* The result is in address order (IPv4 first), attributes attached. */
static void
test_hostspec_result_is_sorted_by_address(void **state)
{
	(void)state;
	OK("2001:db8::1=50 10.0.0.3@x 10.0.0.1=1:down ::1 10.0.0.2-10.0.0.2=9",
	   { "10.0.0.1", "", 1, true }, { "10.0.0.2", "", 9, false },
	   { "10.0.0.3", "x", 100, false }, { "::1", "", 100, false },
	   { "2001:db8::1", "", 50, false });
	/* The vector file's "mixed" scenario. */
	OK("10.0.0.1=100 10.0.0.2=37 10.0.0.3=100 10.0.0.4=100:down 10.0.0.5=0 2001:db8::1=50",
	   { "10.0.0.1", "", 100, false }, { "10.0.0.2", "", 37, false },
	   { "10.0.0.3", "", 100, false }, { "10.0.0.4", "", 100, true },
	   { "10.0.0.5", "", 0, false }, { "2001:db8::1", "", 50, false });
}

/* A short message buffer is truncated, never overrun. */
static void
test_hostspec_short_error_buffer_is_truncated(void **state)
{
	struct pm_hostspec *hs = NULL;
	char err[16];
	size_t n = 0;

	(void)state;
	memset(err, 'Z', sizeof(err));
	assert_int_equal(pm_hostspec_parse("10.0.0.1 definitely-not-an-ip", &hs, &n, err, 8),
			 -EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'Z');
	memset(err, 'Z', sizeof(err));
	assert_int_equal(pm_hostspec_parse("10.0.0.1 10.0.0.1", &hs, &n, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'Z');
}

/* A long list: 40 ranges of 250 hosts each. */
static void
test_hostspec_long_list_parses(void **state)
{
	char *text = malloc(40 * 64);
	struct pm_hostspec *hs = NULL;
	size_t n = 0, off = 0, i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < 40; i++)
		off += (size_t)sprintf(text + off, "10.%zu.0.1-10.%zu.0.250=%zu ", 39 - i, 39 - i,
				       i);
	assert_int_equal(pm_hostspec_parse(text, &hs, &n, NULL, 0), 0);
	assert_int_equal(n, 40 * 250);
	for (i = 0; i < n; i++) {
		assert_int_equal(hs[i].addr.bytes[1], i / 250);
		assert_int_equal(hs[i].addr.bytes[3], i % 250 + 1);
		assert_int_equal(hs[i].vhosts, 39 - i / 250);
		if (i > 0)
			assert_true(pm_addr_cmp(&hs[i - 1].addr, &hs[i].addr) < 0);
	}
	free(hs);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostspec_single_hosts_get_defaults),
		cmocka_unit_test(test_hostspec_empty_text_gives_no_hosts),
		cmocka_unit_test(test_hostspec_ipv4_range_expands),
		cmocka_unit_test(test_hostspec_ipv6_range_expands_last_16_bits),
		cmocka_unit_test(test_hostspec_bad_ranges_are_rejected),
		cmocka_unit_test(test_hostspec_tag_vhosts_and_state_apply),
		cmocka_unit_test(test_hostspec_tag_length_is_bounded),
		cmocka_unit_test(test_hostspec_bad_vhosts_are_rejected),
		cmocka_unit_test(test_hostspec_invalid_ip_names_token),
		cmocka_unit_test(test_hostspec_duplicates_are_rejected),
		cmocka_unit_test(test_hostspec_separators_are_interchangeable),
		cmocka_unit_test(test_hostspec_result_is_sorted_by_address),
		cmocka_unit_test(test_hostspec_short_error_buffer_is_truncated),
		cmocka_unit_test(test_hostspec_long_list_parses),
	};

	return cmocka_run_group_tests_name("hostspec", tests, NULL, NULL);
}
