/*
 * test_userhash.c -- director_username_hash templates (director/userhash.h).
 *
 * Expected values come from three places, named at each table: Dovecot's own
 * unit-test vectors and the worked examples of shared/spec/director.md
 * (sections 1.1, 1.7 and 7.1); `doveadm director map -u` of Debian's Dovecot
 * 2.3.19.1, run once by hand with `-o director_username_hash=<template>`; and
 * the hash column of tests/data/ring-vectors.tsv, which a real director
 * produced with %Lu. Everything else is checked through identities that hold
 * by the template semantics (e.g. %Lu of a name equals %u of its lowercased
 * copy).
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

#include "testdata.h"

#include "director/md5.h"
#include "director/userhash.h"

struct uh_vector {
	const char *name;
	const char *tmpl;
	char sep;
	uint32_t hash;
};

/* Dovecot's test-mail-user-hash.c values and spec sections 1.1, 1.7, 7.1. */
static const struct uh_vector spec_vectors[] = {
	{ "testuser", "%u", 0, 1570531526u },
	{ "testuser@domain", "%u", 0, 3813799143u },
	{ "testuser@domain", "%d", 0, 2908717800u },
	{ "testuser@domain", "%Lu", 0, 3813799143u },
	{ "", "%u", 0, 3558706393u },
	{ "", "%Lu", 0, 3558706393u },
	{ "", "%n", 0, 3558706393u },
	{ "", "%d", 0, 3558706393u },
	{ "", "%Ld", 0, 3558706393u },
	{ "user1", "%Lu", 0, 617210206u },
	{ "User1", "%Lu", 0, 617210206u },
	{ "user2", "%Lu", 0, 2119751227u },
	{ "user3", "%Lu", 0, 2458352375u },
	{ "user4", "%Lu", 0, 1057156067u },
	{ "user5", "%Lu", 0, 175708226u },
	{ "user620", "%Lu", 0, 4294407931u },
	{ "USER620", "%Lu", 0, 4294407931u },
	{ "\xc3\x84\xc3\x96\xc3\x9c@Example.COM", "%Lu", 0, 1376666198u },
	{ "Foo@Bar.COM", "%Ld", 0, 179742195u },
};

/* doveadm 2.3.19.1: doveadm -o director_username_hash=T director map -u -- N */
static const struct uh_vector doveadm_vectors[] = {
	{ "Ab@Cd", "%u", 0, 2264227170u },
	{ "Ab@Cd", "%Lu", 0, 1947103684u },
	{ "Ab@Cd", "%Uu", 0, 1904484374u },
	{ "Ab@Cd", "%n", 0, 239879903u },
	{ "Ab@Cd", "%Ln", 0, 410973251u },
	{ "Ab@Cd", "%d", 0, 308397062u },
	{ "Ab@Cd", "%Ld", 0, 1751494323u },
	{ "Ab@Cd", "%{user}", 0, 2264227170u },
	{ "Ab@Cd", "%{username}", 0, 239879903u },
	{ "Ab@Cd", "%{domain}", 0, 308397062u },
	{ "Ab@Cd", "%L{domain}", 0, 1751494323u },
	{ "Ab@Cd", "x%u", 0, 1888798548u },
	{ "Ab@Cd", "%%%u", 0, 2311499125u },
	{ "Ab@Cd", "%Ln-%Ud", 0, 1597555690u },
	{ "Ab@Cd", "%u%u", 0, 387631245u },
	{ "plain", "%Uu", 0, 4130255039u },
	{ "plain", "%d", 0, 3558706393u },
	{ "plain", "%n@%d", 0, 3358909959u },
	{ "plain", "x%u", 0, 1889631099u },
	{ "plain", "%Ln-%Ud", 0, 1683766241u },
	{ "a@b@C", "%u", 0, 863298252u },
	{ "a@b@C", "%Lu", 0, 3100774512u },
	{ "a@b@C", "%n", 0, 214005177u },
	{ "a@b@C", "%d", 0, 1170475199u },
	{ "a@b@C", "%Ld", 0, 2764514565u },
	{ "a@b@C", "%Uu", 0, 3387147717u },
	{ "", "%n@%d", 0, 1368314517u },
	{ "", "x%u", 0, 2647975009u },
	{ "", "%%%u", 0, 198113732u },
	{ "", "%Ln-%Ud", 0, 862805692u },
	{ "@Dom", "%u", 0, 2263446075u },
	{ "@Dom", "%Lu", 0, 1671376201u },
	{ "@Dom", "%n", 0, 3558706393u },
	{ "@Dom", "%d", 0, 2230280191u },
	{ "@Dom", "%Ld", 0, 3717762301u },
	{ "@Dom", "%Ln-%Ud", 0, 3199601317u },
	{ "Foo@Bar.COM", "%u", 0, 582885991u },
	{ "Foo@Bar.COM", "%Lu", 0, 4088243205u },
	{ "Foo@Bar.COM", "%Ln", 0, 2898073819u },
	{ "Foo@Bar.COM", "%%%u", 0, 4202149415u },
};

static uint32_t
hash_str(const char *tmpl, char sep, const char *name, size_t len)
{
	struct pm_userhash_fmt f;
	char err[256];
	int rc;

	rc = pm_userhash_compile(&f, tmpl, sep, err, sizeof(err));
	if (rc != 0)
		print_error("compile '%s': %s\n", tmpl, err);
	assert_int_equal(rc, 0);
	return pm_userhash(&f, name, len);
}

static void
check_table(const struct uh_vector *v, size_t n)
{
	size_t i;
	uint32_t got;

	for (i = 0; i < n; i++) {
		got = hash_str(v[i].tmpl, v[i].sep, v[i].name, strlen(v[i].name));
		if (got != v[i].hash)
			print_error("'%s' with '%s': got %u want %u\n", v[i].name, v[i].tmpl,
				    got, v[i].hash);
		assert_int_equal(got, v[i].hash);
	}
}

static void
test_userhash_spec_vectors_match(void **state)
{
	(void)state;
	check_table(spec_vectors, sizeof(spec_vectors) / sizeof(spec_vectors[0]));
}

static void
test_userhash_doveadm_vectors_match(void **state)
{
	(void)state;
	check_table(doveadm_vectors, sizeof(doveadm_vectors) / sizeof(doveadm_vectors[0]));
}

/* Every hash column of ring-vectors.tsv (3000 names, made by a real director
 * with %Lu), and no name may hash to 0 (the "0 becomes 1" rule's output
 * domain). */
static void
test_userhash_ring_vector_names_match_and_are_nonzero(void **state)
{
	struct pm_userhash_fmt lu, u, ld;
	char line[4096];
	unsigned long rows = 0;
	FILE *fp;

	(void)state;
	fp = pm_testdata_open("ring-vectors.tsv");
	assert_int_equal(pm_userhash_compile(&lu, "%Lu", '\0', NULL, 0), 0);
	assert_int_equal(pm_userhash_compile(&u, "%u", '\0', NULL, 0), 0);
	assert_int_equal(pm_userhash_compile(&ld, "%Ld", '\0', NULL, 0), 0);
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t len = strcspn(line, "\n");
		char *tab1, *end;
		unsigned long want;

		line[len] = '\0';
		if (line[0] == '#' || strncmp(line, "@scenario ", 10) == 0 || len == 0)
			continue;
		tab1 = strchr(line, '\t');
		assert_non_null(tab1);
		want = strtoul(tab1 + 1, &end, 10);
		assert_int_equal(*end, '\t');
		if (pm_userhash(&lu, line, (size_t)(tab1 - line)) != want)
			print_error("row %lu: '%.*s'\n", rows + 1, (int)(tab1 - line), line);
		assert_int_equal(pm_userhash(&lu, line, (size_t)(tab1 - line)), want);
		assert_int_not_equal(pm_userhash(&u, line, (size_t)(tab1 - line)), 0);
		assert_int_not_equal(pm_userhash(&ld, line, (size_t)(tab1 - line)), 0);
		rows++;
	}
	fclose(fp);
	assert_int_equal(rows, 3000);
}

/* %u is the MD5 prefix of the bytes; names are length-delimited, so an
 * embedded NUL or a missing terminator changes nothing. */
static void
test_userhash_plain_u_equals_md5_prefix(void **state)
{
	static const char bytes[] = "ab\0cd@EF\xff";
	struct pm_userhash_fmt f;
	size_t len;

	(void)state;
	assert_int_equal(pm_userhash_compile(&f, "%u", '\0', NULL, 0), 0);
	for (len = 1; len < sizeof(bytes); len++)
		assert_int_equal(pm_userhash(&f, bytes, len), pm_md5_prefix32(bytes, len));
	/* Only the first 5 bytes of "user1xyz" count. */
	assert_int_equal(pm_userhash(&f, "user1xyz", 5), 617210206u);
}

static void
fold_ascii(char *dst, const char *src, size_t len, int upper)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = src[i];

		if (!upper && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (upper && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		dst[i] = c;
	}
}

/* Deterministic mixed-case names with '@', digits and UTF-8 bytes. */
static void
make_name(char *out, size_t len, unsigned int salt)
{
	static const char alphabet[] = "aZbYcXdW09@._-+\xc3\x84\xc3\xb6";
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = alphabet[(i * 7 + salt * 13 + i / 5) % (sizeof(alphabet) - 1)];
}

/*
 * %Lu of a name equals %u of its ASCII-lowercased copy at every length from
 * 0 to 600 and at 5000: that covers the fast path (names up to 256 bytes),
 * the general path that folds through 256-byte chunks, and both sides of
 * each boundary. %Uu likewise against the uppercased copy.
 */
static void
test_userhash_lower_and_upper_equal_folded_copy(void **state)
{
	static const size_t extra[] = { 5000, 4096, 1024, 1023 };
	struct pm_userhash_fmt lu, uu, u;
	char *name = malloc(5000), *fold = malloc(5000);
	size_t len, k;
	uint32_t want;

	(void)state;
	assert_non_null(name);
	assert_non_null(fold);
	assert_int_equal(pm_userhash_compile(&lu, "%Lu", '\0', NULL, 0), 0);
	assert_int_equal(pm_userhash_compile(&uu, "%Uu", '\0', NULL, 0), 0);
	assert_int_equal(pm_userhash_compile(&u, "%u", '\0', NULL, 0), 0);
	for (k = 0; k <= 600 + sizeof(extra) / sizeof(extra[0]); k++) {
		len = k <= 600 ? k : extra[k - 601];
		make_name(name, len, (unsigned int)k);
		fold_ascii(fold, name, len, 0);
		if (pm_userhash(&lu, name, len) != pm_userhash(&u, fold, len))
			print_error("%%Lu length %zu\n", len);
		assert_int_equal(pm_userhash(&lu, name, len), pm_userhash(&u, fold, len));
		want = pm_md5_prefix32(fold, len);
		assert_int_equal(pm_userhash(&lu, name, len), want != 0 ? want : 1);
		fold_ascii(fold, name, len, 1);
		assert_int_equal(pm_userhash(&uu, name, len), pm_userhash(&u, fold, len));
	}
	free(name);
	free(fold);
}

/* The long names and the short ones agree: %{user} = %u, %{username} = %n,
 * %{domain} = %d, with and without modifiers; and "%n@%d" rebuilds %u for
 * every name that has an '@'. */
static void
test_userhash_long_forms_equal_short_forms(void **state)
{
	static const char *const pairs[][2] = {
		{ "%{user}", "%u" },
		{ "%{username}", "%n" },
		{ "%{domain}", "%d" },
		{ "%L{user}", "%Lu" },
		{ "%U{username}", "%Un" },
		{ "%L{domain}", "%Ld" },
		{ "<%{username}|%{domain}>", "<%n|%d>" },
	};
	static const char *const names[] = {
		"", "a", "A@B", "@", "@x", "x@", "a@b@c", "Foo@Bar.COM",
		"\xc3\x84\xc3\x96\xc3\x9c@Example.COM", "no-domain",
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			size_t len = strlen(names[j]);

			assert_int_equal(hash_str(pairs[i][0], 0, names[j], len),
					 hash_str(pairs[i][1], 0, names[j], len));
		}
	}
	for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
		size_t len = strlen(names[j]);

		if (memchr(names[j], '@', len) == NULL)
			continue;
		assert_int_equal(hash_str("%n@%d", 0, names[j], len),
				 hash_str("%u", 0, names[j], len));
		assert_int_equal(hash_str("%Ln@%Ld", 0, names[j], len),
				 hash_str("%Lu", 0, names[j], len));
	}
}

/* %n is the part before the first '@', %d the part after it ("" without
 * one); literal text and "%%" go in verbatim. */
static void
test_userhash_parts_and_literals_hash_expected_strings(void **state)
{
	static const struct {
		const char *tmpl;
		const char *name;
		const char *expanded;
	} cases[] = {
		{ "%n", "a@b@c", "a" },
		{ "%d", "a@b@c", "b@c" },
		{ "%d", "nodomain", "" },
		{ "%n", "nodomain", "nodomain" },
		{ "%n", "@lead", "" },
		{ "%d", "@lead", "lead" },
		{ "%d", "trail@", "" },
		{ "%Un", "mIx@dOm", "MIX" },
		{ "%Ld", "mIx@dOm", "dom" },
		{ "%%", "x", "%" },
		{ "%%u", "x", "%u" },
		{ "100%%%Lu", "AbC", "100%abc" },
		{ "pre-%u-post", "U", "pre-U-post" },
		{ "{%u}", "U", "{U}" },
		{ "%u%u", "ab", "abab" },
		{ "literal only", "ignored", "literal only" },
		{ "", "ignored", "" },
		{ "%LUu", "aB", "AB" },
		{ "%ULu", "aB", "ab" },
		{ "\xc3\x84%Uu", "\xc3\xa4x", "\xc3\x84\xc3\xa4X" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t want = pm_md5_prefix32(cases[i].expanded, strlen(cases[i].expanded));
		uint32_t got = hash_str(cases[i].tmpl, 0, cases[i].name, strlen(cases[i].name));

		if (want == 0)
			want = 1;
		if (got != want)
			print_error("'%s' on '%s' should hash '%s'\n", cases[i].tmpl,
				    cases[i].name, cases[i].expanded);
		assert_int_equal(got, want);
	}
}

/* The name is cut at the first master separator before anything else. */
static void
test_userhash_master_separator_cuts_name(void **state)
{
	(void)state;
	assert_int_equal(hash_str("%Lu", '*', "User1*master", 12), 617210206u);
	assert_int_equal(hash_str("%u", '*', "user1*m*n", 9), 617210206u);
	assert_int_equal(hash_str("%Lu", '*', "user1", 5), 617210206u);
	assert_int_equal(hash_str("%Lu", '*', "*master", 7), 3558706393u);
	/* The cut happens before %d looks for '@'. */
	assert_int_equal(hash_str("%Ld", '*', "Foo@Bar.COM*admin@x", 19), 179742195u);
	assert_int_equal(hash_str("%d", '*', "foo*a@b", 7), 3558706393u);
	/* A long name takes the general path; the cut must apply there too. */
	{
		char name[700], low[300];

		memset(name, 'A', sizeof(name));
		name[300] = '*';
		memset(low, 'a', sizeof(low));
		assert_int_equal(hash_str("%Lu", '*', name, sizeof(name)),
				 pm_md5_prefix32(low, sizeof(low)));
		assert_int_equal(hash_str("%Ln", '*', name, sizeof(name)),
				 pm_md5_prefix32(low, sizeof(low)));
	}
	/* No separator configured: '*' is an ordinary byte. */
	assert_int_not_equal(hash_str("%Lu", '\0', "User1*master", 12), 617210206u);
}

static void
expect_compile_error(const char *tmpl)
{
	struct pm_userhash_fmt f;
	char err[512];

	err[0] = '\0';
	if (pm_userhash_compile(&f, tmpl, '\0', err, sizeof(err)) != -EINVAL)
		fail_msg("template '%s' was accepted", tmpl);
	if (strstr(err, tmpl) == NULL)
		fail_msg("message for '%s' does not name it: %s", tmpl, err);
	assert_null(strchr(err, '\n'));
	/* A NULL message buffer is allowed. */
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), -EINVAL);
}

static void
test_userhash_bad_templates_are_rejected(void **state)
{
	static const char *const bad[] = {
		"%x", "%", "abc%", "%{foo}", "%{user", "%L", "%Lx", "%LU", "x%u%", "%{}",
		"%{User}", "%{domain", "%E", "%Xu", "%Nu", "%H", "%u %x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_compile_error(bad[i]);
}

static void
test_userhash_template_limits_are_enforced(void **state)
{
	struct pm_userhash_fmt f;
	char tmpl[200];
	size_t i;

	(void)state;
	/* 16 parts fit, 17 do not. */
	tmpl[0] = '\0';
	for (i = 0; i < PM_USERHASH_MAX_PARTS; i++)
		strcat(tmpl, "%u");
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), 0);
	assert_int_equal(f.nparts, PM_USERHASH_MAX_PARTS);
	strcat(tmpl, "%u");
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), -EINVAL);
	/* A multi-byte literal as the 16th part is still one part. */
	tmpl[0] = '\0';
	for (i = 0; i < PM_USERHASH_MAX_PARTS - 1; i++)
		strcat(tmpl, "%u");
	strcat(tmpl, "ab");
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), 0);
	assert_int_equal(f.nparts, PM_USERHASH_MAX_PARTS);
	/* Literal text: 128 bytes fit, 129 do not. */
	memset(tmpl, 'x', PM_USERHASH_MAX_LITERAL);
	strcpy(tmpl + PM_USERHASH_MAX_LITERAL, "%u");
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), 0);
	memset(tmpl, 'x', PM_USERHASH_MAX_LITERAL + 1);
	strcpy(tmpl + PM_USERHASH_MAX_LITERAL + 1, "%u");
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), -EINVAL);
	/* Too long for the message copy: still -EINVAL, never an overflow. */
	memset(tmpl, 'y', sizeof(tmpl) - 1);
	tmpl[sizeof(tmpl) - 1] = '\0';
	assert_int_equal(pm_userhash_compile(&f, tmpl, '\0', NULL, 0), -EINVAL);
}

/* The compiled value keeps the template text for messages. */
static void
test_userhash_compiled_format_keeps_template(void **state)
{
	struct pm_userhash_fmt f;

	(void)state;
	assert_int_equal(pm_userhash_compile(&f, "%Ln@%{domain}", '+', NULL, 0), 0);
	assert_string_equal(f.text, "%Ln@%{domain}");
	assert_int_equal(f.master_sep, '+');
	assert_int_equal(pm_userhash_compile(&f, PM_USERHASH_DEFAULT, '\0', NULL, 0), 0);
	assert_int_equal(pm_userhash(&f, "user1", 5), 617210206u);
}

static void
test_userhash_parse_number_accepts_uint32(void **state)
{
	static const struct {
		const char *s;
		uint32_t v;
	} ok[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "617210206", 617210206u },
		{ "4294407931", 4294407931u },
		{ "4294967295", UINT32_MAX },
		{ "007", 7 },
		{ "00000000004294967295", UINT32_MAX },
	};
	uint32_t h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		h = 12345;
		assert_int_equal(pm_userhash_parse_number(ok[i].s, strlen(ok[i].s), &h), 0);
		assert_int_equal(h, ok[i].v);
	}
	/* Only @len bytes are read: "123" of "123abc". */
	assert_int_equal(pm_userhash_parse_number("123abc", 3, &h), 0);
	assert_int_equal(h, 123);
}

static void
test_userhash_parse_number_rejects_non_uint32(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "12a", "a12", "4294967296", "4294967300",
		"18446744073709551616", "99999999999999999999999", "0x10", "1.0", "１",
	};
	uint32_t h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pm_userhash_parse_number(bad[i], strlen(bad[i]), &h) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	/* An embedded NUL inside @len is a bad byte, not a terminator. */
	assert_int_equal(pm_userhash_parse_number("42\0", 3, &h), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_userhash_spec_vectors_match),
		cmocka_unit_test(test_userhash_doveadm_vectors_match),
		cmocka_unit_test(test_userhash_ring_vector_names_match_and_are_nonzero),
		cmocka_unit_test(test_userhash_plain_u_equals_md5_prefix),
		cmocka_unit_test(test_userhash_lower_and_upper_equal_folded_copy),
		cmocka_unit_test(test_userhash_long_forms_equal_short_forms),
		cmocka_unit_test(test_userhash_parts_and_literals_hash_expected_strings),
		cmocka_unit_test(test_userhash_master_separator_cuts_name),
		cmocka_unit_test(test_userhash_bad_templates_are_rejected),
		cmocka_unit_test(test_userhash_template_limits_are_enforced),
		cmocka_unit_test(test_userhash_compiled_format_keeps_template),
		cmocka_unit_test(test_userhash_parse_number_accepts_uint32),
		cmocka_unit_test(test_userhash_parse_number_rejects_non_uint32),
	};

	return cmocka_run_group_tests_name("userhash", tests, NULL, NULL);
}
