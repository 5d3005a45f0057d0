/*
 * test_adminclient.c -- the admin-protocol client (control/adminclient.h):
 * reply parsing, doveadm's table formatter, postmuxctl's status table and
 * the line reader, over a socketpair.
 *
 * Expected texts marked "lab" were printed by the real doveadm 2.3.19.1
 * (`doveadm director map|status -a <socket>`, stdout not a terminal, so 80
 * columns) against a real director; tests/integration/
 * test_postmuxctl_admin.py compares the two programs end to end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "adminclient.h"

/* ---- helpers ------------------------------------------------------------------ */

struct capture {
	FILE *fp;
	char *buf;
	size_t len;
};

static void
cap_open(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->buf, &c->len);
	assert_non_null(c->fp);
}

/* Close the stream and return its text (the caller frees it). */
static char *
cap_close(struct capture *c)
{
	assert_int_equal(fclose(c->fp), 0);
	return c->buf;
}

static void
set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

static int
parse_host(const char *line, struct pm_adminclient_host *h)
{
	return pm_adminclient_parse_host(line, strlen(line), h);
}

/* A table of @ncols columns (titles[], flags[]) with @nrows rows of cells. */
static char *
table(size_t columns, size_t ncols, const char *const *titles, const unsigned int *flags,
      size_t nrows, const char *const *cells)
{
	struct pm_adminclient_table t;
	struct capture c;
	size_t i;

	cap_open(&c);
	pm_adminclient_table_init(&t, c.fp, columns);
	for (i = 0; i < ncols; i++)
		assert_int_equal(pm_adminclient_table_header(&t, titles[i], flags[i]), 0);
	for (i = 0; i < nrows * ncols; i++)
		assert_int_equal(pm_adminclient_table_print(&t, cells[i]), 0);
	assert_int_equal(pm_adminclient_table_flush(&t), 0);
	pm_adminclient_table_free(&t);
	return cap_close(&c);
}

static const char *const map_titles[] = { "user", "hash", "mail server ip", "expire time" };
static const unsigned int map_flags[] = { PM_ADMINCLIENT_TABLE_EXPAND, 0, 0, 0 };

/* ---- split and numbers ---------------------------------------------------------- */

static void
test_adminclient_split_unescapes_each_field(void **state)
{
	const char line[] = "a\x01tb\t\tc\x01" "1\x01nd\te\x01";
	const char *f[8];
	char out[64];

	(void)state;
	assert_int_equal(pm_adminclient_split(line, strlen(line), out, sizeof(out), f, 8), 4);
	assert_string_equal(f[0], "a\tb");
	assert_string_equal(f[1], "");
	assert_string_equal(f[2], "c\x01\nd");
	assert_string_equal(f[3], "e");	/* a lone final escape is dropped */
	/* An empty line is one empty field, as t_strsplit_tabescaped(). */
	assert_int_equal(pm_adminclient_split("", 0, out, sizeof(out), f, 8), 1);
	assert_string_equal(f[0], "");
	/* A NUL produced by \x01 0 ends the field (Dovecot's C strings). */
	assert_int_equal(pm_adminclient_split("ab\x01" "0cd\tx", 8, out, sizeof(out), f, 8), 2);
	assert_string_equal(f[0], "ab");
	assert_string_equal(f[1], "x");
}

static void
test_adminclient_split_limits_are_errors(void **state)
{
	const char *f[2];
	char out[4];

	(void)state;
	assert_int_equal(pm_adminclient_split("a\tb\tc", 5, out, sizeof(out), f, 2), -E2BIG);
	assert_int_equal(pm_adminclient_split("abcdef", 6, out, sizeof(out), f, 2), -ENOSPC);
}

static void
test_adminclient_parse_time_is_str_to_time(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(pm_adminclient_parse_time("0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(pm_adminclient_parse_time("1795896423", &t), 0);
	assert_int_equal(t, 1795896423);
	assert_int_equal(pm_adminclient_parse_time("-1", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(pm_adminclient_parse_time("9223372036854775807", &t), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(pm_adminclient_parse_time("-9223372036854775808", &t), 0);
	assert_true(t == INT64_MIN);
	assert_int_equal(pm_adminclient_parse_time("9223372036854775808", &t), -EINVAL);
	assert_int_equal(pm_adminclient_parse_time("", &t), -EINVAL);
	assert_int_equal(pm_adminclient_parse_time("-", &t), -EINVAL);
	assert_int_equal(pm_adminclient_parse_time("1a", &t), -EINVAL);
	assert_int_equal(pm_adminclient_parse_time(" 1", &t), -EINVAL);
	assert_int_equal(pm_adminclient_parse_time("+1", &t), -EINVAL);
}

/* ---- reply lines ------------------------------------------------------------------- */

static void
test_adminclient_host_line_is_parsed(void **state)
{
	struct pm_adminclient_host h;

	(void)state;
	/* Spec 7.7 and 3.2's examples. */
	assert_int_equal(parse_host("10.0.0.1\t100\t0\t\tU\t0", &h), 0);
	assert_string_equal(h.ip, "10.0.0.1");
	assert_int_equal(h.addr.family, PM_AF_INET);
	assert_int_equal(h.vhosts, 100);
	assert_int_equal(h.users, 0);
	assert_string_equal(h.tag, "");
	assert_false(h.down);
	assert_int_equal(h.updown_ts, 0);
	assert_int_equal(parse_host("10.0.0.4\t100\t0\t\tD\t1795896423", &h), 0);
	assert_true(h.down);
	assert_int_equal(h.updown_ts, 1795896423);
	/* An escaped tag; fields after the sixth are ignored (doveadm). */
	assert_int_equal(parse_host("2001:db8::1\t0\t4294967295\ta\x01tb c\tU\t5\tmore\tx", &h), 0);
	assert_string_equal(h.ip, "2001:db8::1");
	assert_int_equal(h.addr.family, PM_AF_INET6);
	assert_int_equal(h.users, 4294967295u);
	assert_string_equal(h.tag, "a\tb c");
}

static void
test_adminclient_bad_host_lines_are_einval(void **state)
{
	static const char *const bad[] = {
		"", "10.0.0.1\t100\t0\t\tU", "x\t100\t0\t\tU\t0", "\t100\t0\t\tU\t0",
		"10.0.0.1\t-1\t0\t\tU\t0", "10.0.0.1\t100\t4294967296\t\tU\t0",
		"10.0.0.1\t100\t0\t\tX\t0", "10.0.0.1\t100\t0\t\tUP\t0",
		"10.0.0.1\t100\t0\t\tU\tsoon", "10.0.0.1\t\t0\t\tU\t0",
	};
	struct pm_adminclient_host h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_host(bad[i], &h), -EINVAL);
}

static void
test_adminclient_lookup_reply_needs_four_fields(void **state)
{
	struct pm_adminclient_lookup l;
	const char *s;

	(void)state;
	s = "\t0\t10.0.0.3\t10.0.0.3";	/* spec 7.8: no entry */
	assert_int_equal(pm_adminclient_parse_lookup(s, strlen(s), &l), 0);
	assert_string_equal(l.current, "");
	assert_int_equal(l.expires, 0);
	assert_string_equal(l.hashed, "10.0.0.3");
	assert_string_equal(l.initial, "10.0.0.3");
	s = "10.0.0.1\t1795906540\t\t";
	assert_int_equal(pm_adminclient_parse_lookup(s, strlen(s), &l), 0);
	assert_string_equal(l.current, "10.0.0.1");
	assert_int_equal(l.expires, 1795906540);
	assert_string_equal(l.hashed, "");
	s = "TRYAGAIN";
	assert_int_equal(pm_adminclient_parse_lookup(s, strlen(s), &l), -EINVAL);
	s = "\t0\t10.0.0.3\t10.0.0.3\t";
	assert_int_equal(pm_adminclient_parse_lookup(s, strlen(s), &l), -EINVAL);
	s = "\tnever\t10.0.0.3\t10.0.0.3";
	assert_int_equal(pm_adminclient_parse_lookup(s, strlen(s), &l), -EINVAL);
}

static void
test_adminclient_user_line_keeps_the_texts(void **state)
{
	struct pm_adminclient_user u;
	const char *s;

	(void)state;
	s = "617210206\t1795906540\t10.0.0.1";
	assert_int_equal(pm_adminclient_parse_user(s, strlen(s), &u), 0);
	assert_int_equal(u.hash, 617210206);
	assert_int_equal(u.expires, 1795906540);
	assert_string_equal(u.ip, "10.0.0.1");
	/* net_addr2ip() rules: the text is what doveadm prints. */
	s = "007\t1\t010.0.0.1\textra";
	assert_int_equal(pm_adminclient_parse_user(s, strlen(s), &u), 0);
	assert_int_equal(u.hash, 7);
	assert_string_equal(u.hash_text, "007");
	assert_string_equal(u.ip, "010.0.0.1");
	assert_int_equal(u.addr.bytes[0], 10);
	s = "x\t1\t10.0.0.1";
	assert_int_equal(pm_adminclient_parse_user(s, strlen(s), &u), -EINVAL);
	s = "1\t1\tnot-an-ip";
	assert_int_equal(pm_adminclient_parse_user(s, strlen(s), &u), -EINVAL);
	s = "1\t1";
	assert_int_equal(pm_adminclient_parse_user(s, strlen(s), &u), -EINVAL);
}

/* ---- stats ------------------------------------------------------------------------------ */

static int
parse_counter(const char *line, struct pm_adminclient_counter *k)
{
	return pm_adminclient_parse_counter(line, strlen(line), k);
}

static void
test_adminclient_counter_line_is_name_tab_number(void **state)
{
	static const char *const bad[] = {
		"", "director.pins", "director.pins\t", "\t1", "director.pins\t1\t2",
		"data plane not connected", "out of memory", "a b\t1", "a\x01tb\t1",
		"a\t-1", "a\t+1", "a\t 1", "a\t1 ", "a\t0x1", "a\t18446744073709551616",
		"a\t99999999999999999999", "a\t000000000000000000001",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-\t1",
	};
	struct pm_adminclient_counter k;
	size_t i;

	(void)state;
	assert_int_equal(parse_counter("director.pins\t1", &k), 0);
	assert_string_equal(k.name, "director.pins");
	assert_true(k.value == 1);
	assert_int_equal(parse_counter("lcore.0.drop.IP_CSUM\t18446744073709551615", &k), 0);
	assert_string_equal(k.name, "lcore.0.drop.IP_CSUM");
	assert_true(k.value == UINT64_MAX);
	assert_int_equal(parse_counter("x\t00", &k), 0);
	assert_true(k.value == 0);
	/* 63 bytes is the longest name. */
	assert_int_equal(parse_counter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_\t7", &k), 0);
	assert_int_equal(strlen(k.name), 63);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_counter(bad[i], &k) != -EINVAL)
			fail_msg("accepted as a counter line: \"%s\"", bad[i]);
	}
}

static void
test_adminclient_counters_values_line_up_right_aligned(void **state)
{
	struct pm_adminclient_counter k[4];
	struct capture c;
	char *s;

	(void)state;
	assert_int_equal(parse_counter("director.pins\t1", &k[0]), 0);
	assert_int_equal(parse_counter("director.rings_published\t12", &k[1]), 0);
	assert_int_equal(parse_counter("ctl.received\t18446744073709551615", &k[2]), 0);
	assert_int_equal(parse_counter("x\t0", &k[3]), 0);
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_counters(c.fp, k, 4), 0);
	s = cap_close(&c);
	assert_string_equal(s,
		"director.pins                                1\n"
		"director.rings_published                    12\n"
		"ctl.received              18446744073709551615\n"
		"x                                            0\n");
	free(s);
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_counters(c.fp, k, 2), 0);
	s = cap_close(&c);
	assert_string_equal(s,
		"director.pins              1\n"
		"director.rings_published  12\n");
	free(s);
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_counters(c.fp, NULL, 0), 0);
	s = cap_close(&c);
	assert_string_equal(s, "");
	free(s);
}

/* ---- dates and status <user> ---------------------------------------------------------- */

static void
test_adminclient_time_is_local(void **state)
{
	char buf[32];

	(void)state;
	set_tz("UTC0");
	/* lab: doveadm's state-changed column for 1795896423 with TZ=UTC. */
	assert_int_equal(pm_adminclient_fmt_time(1795896423, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "2026-11-28 20:07:03");
	set_tz("PMT-3");
	assert_int_equal(pm_adminclient_fmt_time(1795896423, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "2026-11-28 23:07:03");
	assert_int_equal(pm_adminclient_fmt_time(0, buf, 5), -ENOSPC);
}

static void
test_adminclient_lookup_prints_doveadms_three_lines(void **state)
{
	struct pm_adminclient_lookup l = { .current = "", .hashed = "10.0.0.3",
					   .initial = "10.0.0.3" };
	struct capture c;
	char *s;

	(void)state;
	set_tz("UTC0");
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_lookup(c.fp, &l), 0);
	s = cap_close(&c);
	assert_string_equal(s, "Current: n/a (expires -1)\nHashed: 10.0.0.3\n"
			       "Initial config: 10.0.0.3\n");
	free(s);
	strcpy(l.current, "10.0.0.1");
	l.expires = 1795906540;
	l.hashed[0] = '\0';
	l.initial[0] = '\0';
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_lookup(c.fp, &l), 0);
	s = cap_close(&c);
	/* lab (with TZ=UTC): "Hashed: " keeps its space for an unknown tag. */
	assert_string_equal(s, "Current: 10.0.0.1 (expires 2026-11-28 22:55:40)\nHashed: \n"
			       "Initial config: \n");
	free(s);
}

/* ---- status table -------------------------------------------------------------------- */

static void
test_adminclient_status_table_layout(void **state)
{
	struct pm_adminclient_host h[4];
	struct capture c;
	char *s;

	(void)state;
	set_tz("UTC0");
	assert_int_equal(parse_host("10.0.0.1\t100\t80\t\tU\t0", &h[0]), 0);
	assert_int_equal(parse_host("10.0.0.4\t0\t10\t\tD\t1795896423", &h[1]), 0);
	assert_int_equal(parse_host("10.0.1.1\t1000\t1234567\ttägß\tU\t0", &h[2]), 0);
	assert_int_equal(parse_host("2001:db8::1\t5\t0\tx\x01ty\tU\t-3", &h[3]), 0);
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_status(c.fp, h, 4), 0);
	s = cap_close(&c);
	assert_string_equal(s,
		"backend      vhosts    users  state  tag   state changed\n"
		"10.0.0.1        100       80  up     -     -\n"
		"10.0.0.4          0       10  down   -     2026-11-28 20:07:03\n"
		"10.0.1.1       1000  1234567  up     tägß  -\n"
		"2001:db8::1       5        0  up     x?y   -\n");
	free(s);
	cap_open(&c);
	assert_int_equal(pm_adminclient_print_status(c.fp, NULL, 0), 0);
	s = cap_close(&c);
	assert_string_equal(s, "backend  vhosts  users  state  tag  state changed\n");
	free(s);
}

/* ---- doveadm's table formatter ---------------------------------------------------------- */

static void
test_adminclient_table_matches_doveadm_map(void **state)
{
	static const char *const cells[] = {
		"User1", "617210206", "10.0.0.1", "2026-11-28 22:55:40",
		"user1", "617210206", "10.0.0.1", "2026-11-28 22:55:40",
		"user2", "2119751227", "10.0.0.2", "2026-11-28 22:55:40",
		"<unknown>", "1628496070", "10.0.0.2", "2026-11-28 22:55:40",
	};
	char *s;

	(void)state;
	/* lab: doveadm director map -f users.txt, piped. */
	s = table(80, 4, map_titles, map_flags, 4, cells);
	assert_string_equal(s,
		"user                  hash       mail server ip expire time        \n"
		"User1                 617210206  10.0.0.1       2026-11-28 22:55:40\n"
		"user1                 617210206  10.0.0.1       2026-11-28 22:55:40\n"
		"user2                 2119751227 10.0.0.2       2026-11-28 22:55:40\n"
		"<unknown>             1628496070 10.0.0.2       2026-11-28 22:55:40\n");
	free(s);
	/* lab: an empty map prints the titles only. */
	s = table(80, 4, map_titles, map_flags, 0, NULL);
	assert_string_equal(s, "user                       hash mail server ip expire time\n");
	free(s);
}

static void
test_adminclient_table_hidden_title_pads_the_last_column(void **state)
{
	static const char *const titles[] = { "hash" };
	static const unsigned int flags[] = { PM_ADMINCLIENT_TABLE_HIDE_TITLE };
	static const char *const cells[] = { "617210206" };
	char *s;

	(void)state;
	/* lab: doveadm director map -u user1 (no EXPAND column: the last one
	 * takes half of the 80 - 9 unused columns). */
	s = table(80, 1, titles, flags, 1, cells);
	assert_string_equal(s, "617210206                                   \n");
	free(s);
}

static void
test_adminclient_table_utf8_pads_by_characters(void **state)
{
	static const char *const titles[] = { "user", "x" };
	static const unsigned int flags[] = { PM_ADMINCLIENT_TABLE_EXPAND, 0 };
	static const char *const cells[] = { "ÄÖÜ", "1", "ab", "2" };
	char want[256], *s;

	(void)state;
	/* widths: user 4 + (80 - 6) / 2 = 41, x 1; "ÄÖÜ" is 3 characters. */
	snprintf(want, sizeof(want), "%-41s %-1s\n%s%38s %s\n%-41s %s\n", "user", "x",
		 "ÄÖÜ", "", "1", "ab", "2");
	s = table(80, 2, titles, flags, 2, cells);
	assert_string_equal(s, want);
	free(s);
}

static void
test_adminclient_table_shrinks_like_doveadm(void **state)
{
	static const char *const titles[] = { "a", "b" };
	static const unsigned int flags[] = { 0, 0 };
	char x40[41], y10[11], want[256], *s;
	const char *cells[2] = { x40, y10 };

	(void)state;
	memset(x40, 'x', 40);
	x40[40] = '\0';
	memset(y10, 'y', 10);
	y10[10] = '\0';
	/* 40 + 1 + 10 = 51 > 30: b loses half its slack (10 -> 6), then a
	 * takes the whole excess 51 - 30 = 21 (40 -> 19). Cells are never cut. */
	snprintf(want, sizeof(want), "%-19s %-6s\n%s %s\n", "a", "b", x40, y10);
	s = table(30, 2, titles, flags, 1, cells);
	assert_string_equal(s, want);
	free(s);
}

static void
test_adminclient_table_widths_come_from_the_first_100_rows(void **state)
{
	static const char *const titles[] = { "user", "n" };
	static const unsigned int flags[] = { PM_ADMINCLIENT_TABLE_EXPAND, 0 };
	const char *cells[2 * 101];
	char *s, *line101;
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++) {
		cells[2 * i] = "u";
		cells[2 * i + 1] = "1";
	}
	cells[200] = "a-much-longer-user-name-than-the-others";
	cells[201] = "22";
	s = table(80, 2, titles, flags, 101, cells);
	/* widths from rows 1..100: user 4 + (80 - 6) / 2 = 41, n 1. */
	line101 = strstr(s, "a-much");
	assert_non_null(line101);
	assert_string_equal(line101, "a-much-longer-user-name-than-the-others   22\n");
	assert_int_equal(strncmp(s, "user", 4), 0);
	assert_int_equal(strchr(s, '\n') - s, 43);
	free(s);
}

static void
test_adminclient_shell_quote(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(pm_adminclient_shell_quote(buf, sizeof(buf), "10.0.0.1@tag-A_1"), 16);
	assert_string_equal(buf, "10.0.0.1@tag-A_1");
	assert_int_equal(pm_adminclient_shell_quote(buf, sizeof(buf), ""), 2);
	assert_string_equal(buf, "''");
	pm_adminclient_shell_quote(buf, sizeof(buf), "10.0.1.2@it's x");
	assert_string_equal(buf, "'10.0.1.2@it'\\''s x'");
	pm_adminclient_shell_quote(buf, sizeof(buf), "$(rm)\t`x`");
	assert_string_equal(buf, "'$(rm)\t`x`'");
	assert_int_equal(pm_adminclient_shell_quote(buf, 4, "abcd"), -ENOSPC);
	assert_int_equal(pm_adminclient_shell_quote(buf, 4, "a b"), -ENOSPC);
}

/* ---- the line reader and sender, over a socketpair ---------------------------------------- */

struct pair {
	struct pm_adminclient *c;
	int peer;
};

static void
pair_open(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->c = calloc(1, sizeof(*p->c));
	assert_non_null(p->c);
	p->c->fd = sv[0];
	p->c->timeout_ms = 0;
	p->c->target = "pair";
	p->peer = sv[1];
}

static void
pair_close(struct pair *p)
{
	pm_adminclient_close(p->c);
	free(p->c);
	close(p->peer);
}

static void
peer_write(struct pair *p, const char *s, size_t n)
{
	assert_int_equal(write(p->peer, s, n), (ssize_t)n);
}

static void
test_adminclient_read_line_strips_lf_and_one_cr(void **state)
{
	const char *line;
	char err[128];
	struct pair p;
	size_t len;

	(void)state;
	pair_open(&p);
	peer_write(&p, "OK\r\nNOT", 7);
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), 0);
	assert_string_equal(line, "OK");
	assert_int_equal(len, 2);
	/* Half a line: wait (here: time out at once). */
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), -ETIMEDOUT);
	peer_write(&p, "FOUND\r\r\n\n", 9);
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), 0);
	assert_string_equal(line, "NOTFOUND\r");
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 0);
	shutdown(p.peer, SHUT_WR);
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), -ECONNRESET);
	assert_non_null(strstr(err, "unexpectedly disconnected"));
	pair_close(&p);
}

static void
test_adminclient_read_line_is_bounded(void **state)
{
	const char *line;
	char err[128], *big;
	struct pair p;
	size_t len, n = PM_ADMINCLIENT_REPLY_MAX;

	(void)state;
	big = malloc(n + 2);
	assert_non_null(big);
	memset(big, 'x', n + 1);
	/* Exactly the limit, then one byte more. */
	pair_open(&p);
	p.c->timeout_ms = 1000;
	big[n] = '\n';
	peer_write(&p, big, n + 1);
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), 0);
	assert_int_equal(len, n);
	big[n] = 'x';
	big[n + 1] = '\n';
	peer_write(&p, big, n + 2);
	assert_int_equal(pm_adminclient_read_line(p.c, &line, &len, err, sizeof(err)), -EPROTO);
	pair_close(&p);
	free(big);
}

static int
collect(const char *line, size_t len, void *arg)
{
	char *acc = arg;

	assert_int_equal(strlen(line), len);
	strcat(acc, line);
	strcat(acc, "|");
	return 0;
}

static void
test_adminclient_request_list_reads_to_the_empty_line(void **state)
{
	char err[128], acc[256] = "", sent[256];
	const char *cmd[] = { "USER-LIST", "10.0.0.1" };
	struct pair p;
	ssize_t n;

	(void)state;
	pair_open(&p);
	peer_write(&p, "1\t2\t10.0.0.1\n3\t4\t10.0.0.1\n\nNEXT\n", 32);
	assert_int_equal(pm_adminclient_request_list(p.c, cmd, 2, collect, acc, err, sizeof(err)),
			 0);
	assert_string_equal(acc, "1\t2\t10.0.0.1|3\t4\t10.0.0.1|");
	n = read(p.peer, sent, sizeof(sent));
	assert_int_equal(n, 19);
	assert_memory_equal(sent, "USER-LIST\t10.0.0.1\n", 19);
	pair_close(&p);
}

static void
test_adminclient_send_escapes_and_refuses_long_lines(void **state)
{
	const char *cmd[] = { "USER-KICK-ALT", "user\tx", "a\x01" "b\r\n" };
	char err[128], sent[2048], *big;
	struct pair p;
	ssize_t n;

	(void)state;
	pair_open(&p);
	assert_int_equal(pm_adminclient_send(p.c, cmd, 3, err, sizeof(err)), 0);
	n = read(p.peer, sent, sizeof(sent));
	assert_int_equal(n, 31);
	assert_memory_equal(sent, "USER-KICK-ALT\tuser\x01tx\ta\x01" "1b\x01r\x01n\n", 31);
	/* 1023 bytes before the LF is the most a director reads (spec 3.1). */
	big = malloc(PM_ADMINPROTO_LINE_MAX + 1);
	assert_non_null(big);
	memset(big, 'u', PM_ADMINPROTO_LINE_MAX);
	big[PM_ADMINPROTO_LINE_MAX - 10] = '\0';	/* "USER-KICK\t" is 10 bytes */
	cmd[0] = "USER-KICK";
	cmd[1] = big;
	assert_int_equal(pm_adminclient_send(p.c, cmd, 2, err, sizeof(err)), 0);
	n = read(p.peer, sent, sizeof(sent));
	assert_int_equal(n, PM_ADMINPROTO_LINE_MAX + 1);
	big[PM_ADMINPROTO_LINE_MAX - 10] = 'u';
	big[PM_ADMINPROTO_LINE_MAX - 9] = '\0';
	assert_int_equal(pm_adminclient_send(p.c, cmd, 2, err, sizeof(err)), -EMSGSIZE);
	/* An escape that would cross the limit counts both bytes. */
	big[PM_ADMINPROTO_LINE_MAX - 11] = '\t';
	big[PM_ADMINPROTO_LINE_MAX - 10] = '\0';
	assert_int_equal(pm_adminclient_send(p.c, cmd, 2, err, sizeof(err)), -EMSGSIZE);
	free(big);
	pair_close(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adminclient_split_unescapes_each_field),
		cmocka_unit_test(test_adminclient_split_limits_are_errors),
		cmocka_unit_test(test_adminclient_parse_time_is_str_to_time),
		cmocka_unit_test(test_adminclient_host_line_is_parsed),
		cmocka_unit_test(test_adminclient_bad_host_lines_are_einval),
		cmocka_unit_test(test_adminclient_lookup_reply_needs_four_fields),
		cmocka_unit_test(test_adminclient_user_line_keeps_the_texts),
		cmocka_unit_test(test_adminclient_counter_line_is_name_tab_number),
		cmocka_unit_test(test_adminclient_counters_values_line_up_right_aligned),
		cmocka_unit_test(test_adminclient_time_is_local),
		cmocka_unit_test(test_adminclient_lookup_prints_doveadms_three_lines),
		cmocka_unit_test(test_adminclient_status_table_layout),
		cmocka_unit_test(test_adminclient_table_matches_doveadm_map),
		cmocka_unit_test(test_adminclient_table_hidden_title_pads_the_last_column),
		cmocka_unit_test(test_adminclient_table_utf8_pads_by_characters),
		cmocka_unit_test(test_adminclient_table_shrinks_like_doveadm),
		cmocka_unit_test(test_adminclient_table_widths_come_from_the_first_100_rows),
		cmocka_unit_test(test_adminclient_shell_quote),
		cmocka_unit_test(test_adminclient_read_line_strips_lf_and_one_cr),
		cmocka_unit_test(test_adminclient_read_line_is_bounded),
		cmocka_unit_test(test_adminclient_request_list_reads_to_the_empty_line),
		cmocka_unit_test(test_adminclient_send_escapes_and_refuses_long_lines),
	};

	return cmocka_run_group_tests_name("adminclient", tests, NULL, NULL);
}
