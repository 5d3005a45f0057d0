/*
 * test_adminproto.c -- the director-doveadm v1 admin protocol
 * (control/adminproto.h).
 *
 * Every expectation below is Dovecot 2.3.19.1's behaviour: read in
 * src/director/doveadm-connection.c and lib/, and, where marked "lab",
 * observed on a real director (tests/integration/dovecot_lab.py). Events are
 * compared as one-line descriptions ("RUN HOST-SET ip=10.0.0.1 vhosts=5"),
 * and every session is fed at every chunk size from 1 byte to all of it,
 * which must give the same events (shared/STYLE.md section 10).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adminproto.h"

#define HS "VERSION\tdirector-doveadm\t1\t0\n"

/* ---- event descriptions --------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	sb_put(b, tmp, (size_t)n);
}

/* Bytes as C-ish text: printable ASCII as is, the rest \xNN. */
static void
sb_bytes(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			sb_printf(b, "\\x%02x", c);
		else
			sb_put(b, (const char *)&c, 1);
	}
}

static bool
has_user(enum pm_adminproto_kind k)
{
	return k == PM_ADMINPROTO_USER_LOOKUP || k == PM_ADMINPROTO_USER_MOVE ||
	       k == PM_ADMINPROTO_USER_KICK || k == PM_ADMINPROTO_USER_ASSIGN;
}

static void
describe(struct sbuf *b, enum pm_adminproto_status st, const struct pm_adminproto_cmd *c)
{
	char ip[PM_ADDR_STRLEN];

	switch (st) {
	case PM_ADMINPROTO_AGAIN:
		sb_printf(b, "AGAIN");
		return;
	case PM_ADMINPROTO_CLOSE:
		assert_non_null(c->reason);
		sb_printf(b, "CLOSE %s", c->reason);
		return;
	case PM_ADMINPROTO_REPLY:
		assert_non_null(c->reply);
		sb_printf(b, "REPLY %s ", pm_adminproto_kind_name(c->kind));
		sb_bytes(b, c->reply, strlen(c->reply));
		return;
	case PM_ADMINPROTO_RUN:
		break;
	}
	assert_int_not_equal(c->kind, PM_ADMINPROTO_NONE);
	sb_printf(b, "RUN %s", pm_adminproto_kind_name(c->kind));
	/* Strings must be NUL-terminated at their length, without NULs. */
	assert_int_equal(strlen(c->user), c->user_len);
	assert_int_equal(strlen(c->tag), c->tag_len);
	assert_int_equal(strlen(c->field), c->field_len);
	assert_int_equal(strlen(c->value), c->value_len);
	if (c->has_ip) {
		assert_true(pm_addr_format(&c->ip, ip, sizeof(ip)) > 0);
		sb_printf(b, " ip=%s", ip);
	} else {
		assert_int_equal(c->ip.family, PM_AF_NONE);
	}
	if (c->tag_len > 0) {
		sb_printf(b, " tag=");
		sb_bytes(b, c->tag, c->tag_len);
	}
	if (c->vhosts >= 0)
		sb_printf(b, " vhosts=%d", c->vhosts);
	if (c->max_parallel != 0)
		sb_printf(b, " max=%u", c->max_parallel);
	if (c->has_port)
		sb_printf(b, " port=%u", c->port);
	else
		assert_int_equal(c->port, 0);
	if (c->nowait)
		sb_printf(b, " nowait");
	if (has_user(c->kind)) {
		sb_printf(b, " user=");
		sb_bytes(b, c->user, c->user_len);
		if (c->user_is_hash)
			sb_printf(b, " hash=%u", c->user_hash);
	} else {
		assert_int_equal(c->user_len, 0);
	}
	if (c->kind == PM_ADMINPROTO_USER_KICK_ALT) {
		sb_printf(b, " field=");
		sb_bytes(b, c->field, c->field_len);
		sb_printf(b, " value=");
		sb_bytes(b, c->value, c->value_len);
	}
	if (c->kind == PM_ADMINPROTO_POSTMUX_COUNTERS) {
		sb_printf(b, " prefix=");
		sb_bytes(b, c->field, c->field_len);
	}
}

/*
 * Feed @in (@n bytes) to a fresh parser @chunk bytes at a time and return
 * every event, one per line (malloc'd). Stops at CLOSE.
 */
static char *
run_chunked(const char *in, size_t n, size_t chunk, struct pm_adminproto *pout)
{
	static struct pm_adminproto_cmd cmd;
	struct pm_adminproto p;
	struct sbuf b = { 0 };
	size_t off = 0, end, used;
	enum pm_adminproto_status st;

	sb_put(&b, "", 0);
	pm_adminproto_init(&p);
	while (off < n) {
		end = off + chunk < n ? off + chunk : n;
		while (off < end) {
			st = pm_adminproto_feed(&p, in + off, end - off, &used, &cmd);
			assert_true(used <= end - off);
			off += used;
			if (st == PM_ADMINPROTO_AGAIN) {
				assert_int_equal(off, end);
				break;
			}
			assert_true(used > 0);
			describe(&b, st, &cmd);
			sb_put(&b, "\n", 1);
			if (st == PM_ADMINPROTO_CLOSE)
				goto out;
		}
	}
out:
	if (pout != NULL)
		*pout = p;
	return b.p;
}

/* The events of @in, checked to be the same at every chunk size. */
static char *
run_all_chunks(const char *in, size_t n, struct pm_adminproto *pout)
{
	char *whole = run_chunked(in, n, n > 0 ? n : 1, pout);
	size_t k;

	for (k = 1; k < n; k++) {
		char *other = run_chunked(in, n, k, NULL);

		if (strcmp(other, whole) != 0)
			fail_msg("chunk size %zu gave\n%s\ninstead of\n%s", k, other, whole);
		free(other);
	}
	return whole;
}

static void
expect_session(const char *in, size_t n, const char *want)
{
	char *got = run_all_chunks(in, n, NULL);

	if (strcmp(got, want) != 0) {
		struct sbuf b = { 0 };

		sb_bytes(&b, in, n);
		fail_msg("input \"%s\"\ngave\n%s\nwant\n%s", b.p, got, want);
	}
	free(got);
}

struct vec {
	const char *line;	/* without the LF */
	size_t len;
	const char *want;	/* one event, without the newline */
};

#define V(s, w) { s, sizeof(s) - 1, w }

/* Each line after a handshake, alone, then all of them pipelined at once. */
static void
expect_vectors(const struct vec *v, size_t nv)
{
	struct sbuf all_in = { 0 }, all_want = { 0 }, one = { 0 }, want = { 0 };
	size_t i;

	sb_put(&all_in, HS, strlen(HS));
	sb_put(&all_want, "", 0);
	for (i = 0; i < nv; i++) {
		one.len = 0;
		want.len = 0;
		sb_put(&one, HS, strlen(HS));
		sb_put(&one, v[i].line, v[i].len);
		sb_put(&one, "\n", 1);
		sb_printf(&want, "%s\n", v[i].want);
		expect_session(one.p, one.len, want.p);
		if (strncmp(v[i].want, "CLOSE", 5) != 0) {
			sb_put(&all_in, v[i].line, v[i].len);
			sb_put(&all_in, "\n", 1);
			sb_put(&all_want, want.p, want.len);
		}
	}
	expect_session(all_in.p, all_in.len, all_want.p);
	free(all_in.p);
	free(all_want.p);
	free(one.p);
	free(want.p);
}

/* ---- handshake ----------------------------------------------------------------- */

static void
test_adminproto_handshake_variants_are_accepted(void **state)
{
	/* Lab: each of these got the HOST-LIST-REMOVED answer. */
	static const struct vec ok[] = {
		V("VERSION\tdirector-doveadm\t1\t0", "0"),
		V("VERSION\tdirector-doveadm\t01\t0", "0"),
		V("VERSION\tdirector-doveadm\t1\t99", "99"),
		V("VERSION\tdirector-doveadm\t1\t4294967295", "4294967295"),
		V("VERSION\tdirector-doveadm\t1\t0\r", "0"),
		V("VERSION\tdirector-doveadm\t1\t7\0junk", "7"),
		V("VERSION\tdirector-doveadm\t000000000000000000000001\t0", "0"),
	};
	struct pm_adminproto p;
	struct sbuf in = { 0 };
	uint32_t minor;
	char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		in.len = 0;
		sb_put(&in, ok[i].line, ok[i].len);
		sb_put(&in, "\nHOST-LIST-REMOVED\n", 19);
		got = run_all_chunks(in.p, in.len, &p);
		assert_string_equal(got, "RUN HOST-LIST-REMOVED\n");
		free(got);
		assert_true(pm_adminproto_handshaked(&p, &minor));
		assert_int_equal(minor, strtoul(ok[i].want, NULL, 10));
	}
	free(in.p);
}

static void
test_adminproto_handshake_mismatch_closes(void **state)
{
	/* Lab: each of these closed the connection without a reply. */
	static const struct vec bad[] = {
		V("VERSION\tdirector-doveadm\t1\t4294967296", ""),
		V("VERSION\tdirector-doveadm\t1\tx", ""),
		V("VERSION\tdirector-doveadm\t1\t", ""),
		V("VERSION\tdirector-doveadm\t1\t0\t", ""),
		V("VERSION\tdirector-doveadm\t1", ""),
		V("VERSION\tdirector-doveadm\t2\t0", ""),
		V("VERSION\tdirector-doveadm\t\t0", ""),
		V("VERSION\tdirector-doveadm\t+1\t0", ""),
		V("VERSION\tdirector\x01-doveadm\t1\t0", ""),
		V("version\tdirector-doveadm\t1\t0", ""),
		V("VERSION\tdirector-doveadmX\t1\t0", ""),
		V("VERSION\tdirector-doveadm\t1\t0 ", ""),
		V("VERSION\tdirector-doveadm\t1\t+0", ""),
		V("VERSION\tdirector-doveadm\t1\t0\r\r", ""),
		V("VERSION\tdirector-doveadm\t99999999999999999999999\t0", ""),
		V("VERSION\tdirector-doveadm", ""),
		V("VERSION\t", ""),
		V("", ""),
		V("HOST-LIST", ""),
	};
	struct pm_adminproto p;
	struct sbuf in = { 0 };
	char *got;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.len = 0;
		sb_put(&in, bad[i].line, bad[i].len);
		sb_put(&in, "\nHOST-LIST\n", 11);
		got = run_all_chunks(in.p, in.len, &p);
		assert_string_equal(got, "CLOSE doveadm not compatible with this server "
					 "(mixed old and new binaries?)\n");
		free(got);
		assert_false(pm_adminproto_handshaked(&p, NULL));
	}
	free(in.p);
}

static void
test_adminproto_no_event_before_a_complete_line(void **state)
{
	struct pm_adminproto_cmd cmd;
	struct pm_adminproto p;
	size_t used;

	(void)state;
	pm_adminproto_init(&p);
	assert_false(pm_adminproto_handshaked(&p, NULL));
	assert_int_equal(pm_adminproto_feed(&p, HS, strlen(HS), &used, &cmd),
			 PM_ADMINPROTO_AGAIN);
	assert_int_equal(used, strlen(HS));
	assert_true(pm_adminproto_handshaked(&p, NULL));
	/* A final line without its LF is never run (lab: no answer). */
	assert_int_equal(pm_adminproto_feed(&p, "USER-LOOKUP\tuser1", 17, &used, &cmd),
			 PM_ADMINPROTO_AGAIN);
	assert_int_equal(used, 17);
	assert_int_equal(pm_adminproto_feed(&p, "", 0, &used, &cmd), PM_ADMINPROTO_AGAIN);
	assert_int_equal(used, 0);
}

/* ---- commands --------------------------------------------------------------------- */

static void
test_adminproto_list_commands_ignore_arguments(void **state)
{
	static const struct vec v[] = {
		V("HOST-LIST", "RUN HOST-LIST"),
		V("HOST-LIST\tignored\textra", "RUN HOST-LIST"),	/* lab */
		V("HOST-LIST-REMOVED", "RUN HOST-LIST-REMOVED"),
		V("HOST-LIST-REMOVED\t10.0.0.1", "RUN HOST-LIST-REMOVED"),
		V("DIRECTOR-LIST", "RUN DIRECTOR-LIST"),
		V("DIRECTOR-LIST\tx", "RUN DIRECTOR-LIST"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_host_set_matches_dovecot(void **state)
{
	static const struct vec v[] = {
		V("HOST-SET\t10.0.0.1", "RUN HOST-SET ip=10.0.0.1"),
		V("HOST-SET\t10.0.0.1\t5", "RUN HOST-SET ip=10.0.0.1 vhosts=5"),
		V("HOST-SET\t10.0.0.1\t0", "RUN HOST-SET ip=10.0.0.1 vhosts=0"),
		V("HOST-SET\t10.0.0.1\t1000", "RUN HOST-SET ip=10.0.0.1 vhosts=1000"),
		V("HOST-SET\t10.0.0.1\t0050", "RUN HOST-SET ip=10.0.0.1 vhosts=50"),
		V("HOST-SET\t10.0.0.1\t5\textra", "RUN HOST-SET ip=10.0.0.1 vhosts=5"),
		/* lab: "5\x0100" set 5 vhosts: \x01 0 is a NUL, which ends it */
		V("HOST-SET\t10.0.0.1\t5\x01" "00", "RUN HOST-SET ip=10.0.0.1 vhosts=5"),
		/* lab: UINT_MAX is Dovecot's "no count" */
		V("HOST-SET\t10.0.0.2\t4294967295", "RUN HOST-SET ip=10.0.0.2"),
		/* lab: a reply, not a close */
		V("HOST-SET\t10.0.0.2\t1001", "REPLY HOST-SET vhost count too large\\x0a"),
		V("HOST-SET\t10.0.0.2\t5000", "REPLY HOST-SET vhost count too large\\x0a"),
		V("HOST-SET\t10.0.0.2\t4294967294", "REPLY HOST-SET vhost count too large\\x0a"),
		/* tags: after the first '@' (lab) */
		V("HOST-SET\t10.0.0.1@foo", "RUN HOST-SET ip=10.0.0.1 tag=foo"),
		V("HOST-SET\t10.0.2.1@foo@bar\t7", "RUN HOST-SET ip=10.0.2.1 tag=foo@bar vhosts=7"),
		V("HOST-SET\t10.0.0.3@", "RUN HOST-SET ip=10.0.0.3"),
		V("HOST-SET\t10.0.2.2@a\x01tb", "RUN HOST-SET ip=10.0.2.2 tag=a\\x09b"),
		V("HOST-SET\t10.0.0.1\x01@x", "RUN HOST-SET ip=10.0.0.1 tag=x"),
		V("HOST-SET\t::1@t", "RUN HOST-SET ip=::1 tag=t"),
		/* addresses as net_addr2ip() parses them (lab) */
		V("HOST-SET\t010.0.0.9", "RUN HOST-SET ip=10.0.0.9"),
		V("HOST-SET\t0x0a000008", "RUN HOST-SET ip=10.0.0.8"),
		V("HOST-SET\t167772167", "RUN HOST-SET ip=10.0.0.7"),
		V("HOST-SET\t10.0.0.1 x", "RUN HOST-SET ip=10.0.0.1"),
		V("HOST-SET\t10.0.0.1\x01t", "RUN HOST-SET ip=10.0.0.1"),
		V("HOST-SET\t10.0.0.1\x01r", "RUN HOST-SET ip=10.0.0.1"),
		V("HOST-SET\t10.1.2", "RUN HOST-SET ip=10.1.0.2"),
		V("HOST-SET\t010.0.0.19 x", "RUN HOST-SET ip=8.0.0.19"),
		V("HOST-SET\t09.1.1.1", "RUN HOST-SET ip=9.1.1.1"),
		V("HOST-SET\t1.65536", "RUN HOST-SET ip=1.1.0.0"),
		V("HOST-SET\t10 x", "RUN HOST-SET ip=0.0.0.10"),
		V("HOST-SET\t[::1]", "RUN HOST-SET ip=::1"),
		V("HOST-SET\t::ffff:10.0.0.1", "RUN HOST-SET ip=::ffff:10.0.0.1"),
		/* closes (lab) */
		V("HOST-SET", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t 10.0.0.1", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.1\x01" "1", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t1.2.3.4.", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t[::1", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.1\xa0", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.2\t", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.2\t+5", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.2\t4294967296",
		  "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t10.0.0.2\t5x", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\tbogus\t5000", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\t@foo", "CLOSE doveadm sent invalid HOST-SET parameters"),
		V("HOST-SET\thost.example.com", "CLOSE doveadm sent invalid HOST-SET parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_host_update_needs_a_count(void **state)
{
	static const struct vec v[] = {
		V("HOST-UPDATE\t10.0.0.1\t5", "RUN HOST-UPDATE ip=10.0.0.1 vhosts=5"),
		V("HOST-UPDATE\t10.0.0.1@t\t0", "RUN HOST-UPDATE ip=10.0.0.1 tag=t vhosts=0"),
		/* lab: OK, nothing changed */
		V("HOST-UPDATE\t10.0.0.1\t4294967295", "RUN HOST-UPDATE ip=10.0.0.1"),
		/* lab: even for an unknown host */
		V("HOST-UPDATE\t10.9.9.9\t5000", "REPLY HOST-UPDATE vhost count too large\\x0a"),
		/* lab: no count closes; a bad ip closes before "too large" */
		V("HOST-UPDATE\t10.0.0.1", "CLOSE doveadm sent invalid HOST-UPDATE parameters"),
		V("HOST-UPDATE", "CLOSE doveadm sent invalid HOST-UPDATE parameters"),
		V("HOST-UPDATE\tbogus\t5000", "CLOSE doveadm sent invalid HOST-UPDATE parameters"),
		V("HOST-UPDATE\t10.0.0.1\t", "CLOSE doveadm sent invalid HOST-UPDATE parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_host_up_down_remove_need_an_ip(void **state)
{
	static const struct vec v[] = {
		V("HOST-UP\t10.0.0.1", "RUN HOST-UP ip=10.0.0.1"),
		V("HOST-UP\t10.0.0.1\textra", "RUN HOST-UP ip=10.0.0.1"),	/* lab */
		V("HOST-DOWN\t10.0.0.5", "RUN HOST-DOWN ip=10.0.0.5"),
		V("HOST-DOWN\t2001:db8::1", "RUN HOST-DOWN ip=2001:db8::1"),
		V("HOST-REMOVE\t10.0.2.1", "RUN HOST-REMOVE ip=10.0.2.1"),
		V("HOST-UP", "CLOSE doveadm sent invalid HOST-UP parameters"),	/* lab */
		V("HOST-UP\t", "CLOSE doveadm sent invalid HOST-UP parameters"),
		V("HOST-DOWN\tx", "CLOSE doveadm sent invalid HOST-DOWN parameters"),
		V("HOST-REMOVE", "CLOSE doveadm sent invalid HOST-REMOVE parameters"), /* lab */
		V("HOST-REMOVE\t10.0.0.1@tag",
		  "CLOSE doveadm sent invalid HOST-REMOVE parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_host_flush_empty_ip_means_all(void **state)
{
	static const struct vec v[] = {
		V("HOST-FLUSH", "RUN HOST-FLUSH"),			/* lab */
		V("HOST-FLUSH\t", "RUN HOST-FLUSH"),			/* lab */
		V("HOST-FLUSH\t\x01", "RUN HOST-FLUSH"),		/* "" after unescaping */
		V("HOST-FLUSH\t\x01" "0x", "RUN HOST-FLUSH"),		/* "" before its NUL */
		V("HOST-FLUSH\t10.9.9.9", "RUN HOST-FLUSH ip=10.9.9.9"),
		V("HOST-FLUSH\tbogus", "CLOSE doveadm sent invalid HOST-FLUSH parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_host_reset_users_max_zero_closes(void **state)
{
	static const struct vec v[] = {
		V("HOST-RESET-USERS", "RUN HOST-RESET-USERS"),			/* lab */
		V("HOST-RESET-USERS\t", "RUN HOST-RESET-USERS"),
		V("HOST-RESET-USERS\t\t50", "RUN HOST-RESET-USERS max=50"),	/* lab */
		V("HOST-RESET-USERS\t10.0.0.1", "RUN HOST-RESET-USERS ip=10.0.0.1"),
		V("HOST-RESET-USERS\t10.9.9.9\t5", "RUN HOST-RESET-USERS ip=10.9.9.9 max=5"),
		V("HOST-RESET-USERS\t10.0.0.1\t4294967295",
		  "RUN HOST-RESET-USERS ip=10.0.0.1 max=4294967295"),
		/* lab */
		V("HOST-RESET-USERS\t\t0",
		  "CLOSE doveadm sent invalid HOST-RESET-USERS parameters"),
		V("HOST-RESET-USERS\t10.0.0.1\t",
		  "CLOSE doveadm sent invalid HOST-RESET-USERS parameters"),
		V("HOST-RESET-USERS\t10.0.0.1\tx",
		  "CLOSE doveadm sent invalid HOST-RESET-USERS parameters"),
		V("HOST-RESET-USERS\tbogus\t0",
		  "CLOSE doveadm sent invalid HOST-RESET-USERS parameters"),
		V("HOST-RESET-USERS\tbogus", "CLOSE doveadm sent invalid HOST-RESET-USERS ip"),
		V("HOST-RESET-USERS\tbogus\t5", "CLOSE doveadm sent invalid HOST-RESET-USERS ip"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_user_lookup_number_is_a_hash(void **state)
{
	static const struct vec v[] = {
		V("USER-LOOKUP\tuser1", "RUN USER-LOOKUP user=user1"),
		V("USER-LOOKUP\tuser1\ttagA", "RUN USER-LOOKUP tag=tagA user=user1"),
		V("USER-LOOKUP\tuser1\t", "RUN USER-LOOKUP user=user1"),
		V("USER-LOOKUP\tuser1\ttagA\textra", "RUN USER-LOOKUP tag=tagA user=user1"),
		/* lab: no argument and "" are the same lookup */
		V("USER-LOOKUP", "RUN USER-LOOKUP user="),
		V("USER-LOOKUP\t", "RUN USER-LOOKUP user="),
		/* lab: a number is the hash, leading zeros and all */
		V("USER-LOOKUP\t617210206", "RUN USER-LOOKUP user=617210206 hash=617210206"),
		V("USER-LOOKUP\t0617210206", "RUN USER-LOOKUP user=0617210206 hash=617210206"),
		V("USER-LOOKUP\t0", "RUN USER-LOOKUP user=0 hash=0"),
		V("USER-LOOKUP\t4294967295", "RUN USER-LOOKUP user=4294967295 hash=4294967295"),
		V("USER-LOOKUP\t4294967296", "RUN USER-LOOKUP user=4294967296"),
		V("USER-LOOKUP\t-1", "RUN USER-LOOKUP user=-1"),
		V("USER-LOOKUP\t12 ", "RUN USER-LOOKUP user=12 "),
		/* escapes (lab: these hashed as "user1", "user1", "user\x01") */
		V("USER-LOOKUP\tuser1\x01", "RUN USER-LOOKUP user=user1"),
		V("USER-LOOKUP\tuser1\x01" "0xyz", "RUN USER-LOOKUP user=user1"),
		V("USER-LOOKUP\tuser\x01" "1", "RUN USER-LOOKUP user=user\\x01"),
		V("USER-LOOKUP\tuser1\0\tfoo", "RUN USER-LOOKUP user=user1"),
		V("USER-LOOKUP\ta\x01tb\x01rc\x01nd\x01qe",
		  "RUN USER-LOOKUP user=a\\x09b\\x0dc\\x0adqe"),
		V("USER-LOOKUP\tuser1\t\x01" "1\x01t", "RUN USER-LOOKUP tag=\\x01\\x09 user=user1"),
		V("USER-LOOKUP\t\xc3\x84\xc3\x96@Example.COM",
		  "RUN USER-LOOKUP user=\\xc3\\x84\\xc3\\x96@Example.COM"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_user_list_empty_ip_means_all(void **state)
{
	static const struct vec v[] = {
		V("USER-LIST", "RUN USER-LIST"),			/* lab */
		V("USER-LIST\t", "RUN USER-LIST"),			/* lab */
		V("USER-LIST\t10.0.0.2", "RUN USER-LIST ip=10.0.0.2"),
		V("USER-LIST\tbogus", "CLOSE doveadm sent invalid USER-LIST parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_user_move_needs_user_and_ip(void **state)
{
	static const struct vec v[] = {
		V("USER-MOVE\tuser1\t10.0.0.1", "RUN USER-MOVE ip=10.0.0.1 user=user1"),
		V("USER-MOVE\t\t10.0.0.2", "RUN USER-MOVE ip=10.0.0.2 user="),	/* lab */
		V("USER-MOVE\t12345\t10.0.0.2",
		  "RUN USER-MOVE ip=10.0.0.2 user=12345 hash=12345"),		/* lab */
		V("USER-MOVE\tuser1\t10.0.0.1\textra", "RUN USER-MOVE ip=10.0.0.1 user=user1"),
		V("USER-MOVE\tuser1", "CLOSE doveadm sent invalid USER-MOVE parameters"),
		V("USER-MOVE", "CLOSE doveadm sent invalid USER-MOVE parameters"),
		V("USER-MOVE\tuser1\t", "CLOSE doveadm sent invalid USER-MOVE parameters"),
		V("USER-MOVE\tuser1\tbogus", "CLOSE doveadm sent invalid USER-MOVE parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_user_kick_nowait_is_exact(void **state)
{
	static const struct vec v[] = {
		V("USER-KICK\tuser1", "RUN USER-KICK user=user1"),
		V("USER-KICK\t", "RUN USER-KICK user="),			/* lab: OK */
		V("USER-KICK\tuser1\tnowait", "RUN USER-KICK nowait user=user1"),
		V("USER-KICK\tuser1\tNOWAIT", "RUN USER-KICK user=user1"),	/* waits */
		V("USER-KICK\tuser1\tnowait\x01" "0x", "RUN USER-KICK nowait user=user1"),
		V("USER-KICK\tuser1\tnowaitx", "RUN USER-KICK user=user1"),
		V("USER-KICK\tuser1\t\tnowait", "RUN USER-KICK user=user1"),
		/* a kick is by name, never by hash */
		V("USER-KICK\t123", "RUN USER-KICK user=123"),
		V("USER-KICK", "CLOSE doveadm sent invalid USER-KICK parameters"),	/* lab */
		V("USER-KICK-ALT\tuser_group\tsales",
		  "RUN USER-KICK-ALT field=user_group value=sales"),
		V("USER-KICK-ALT\tf\tv\tnowait", "RUN USER-KICK-ALT nowait field=f value=v"),
		V("USER-KICK-ALT\tf\tv\twait", "RUN USER-KICK-ALT field=f value=v"),
		V("USER-KICK-ALT\t\t\tnowait", "RUN USER-KICK-ALT nowait field= value="), /* lab */
		V("USER-KICK-ALT\tf\t", "RUN USER-KICK-ALT field=f value="),
		V("USER-KICK-ALT\tfield", "CLOSE doveadm sent invalid USER-KICK-ALT parameters"),
		V("USER-KICK-ALT", "CLOSE doveadm sent invalid USER-KICK-ALT parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_director_add_remove_port_is_optional(void **state)
{
	static const struct vec v[] = {
		V("DIRECTOR-ADD\t127.0.0.1", "RUN DIRECTOR-ADD ip=127.0.0.1"),
		V("DIRECTOR-ADD\t127.0.0.1\t9090", "RUN DIRECTOR-ADD ip=127.0.0.1 port=9090"),
		V("DIRECTOR-ADD\t127.0.0.1\t65535", "RUN DIRECTOR-ADD ip=127.0.0.1 port=65535"),
		V("DIRECTOR-ADD\t127.0.0.1\t1\tx", "RUN DIRECTOR-ADD ip=127.0.0.1 port=1"),
		V("DIRECTOR-REMOVE\t127.0.0.9", "RUN DIRECTOR-REMOVE ip=127.0.0.9"),
		V("DIRECTOR-REMOVE\t::1\t9091", "RUN DIRECTOR-REMOVE ip=::1 port=9091"),
		/* lab */
		V("DIRECTOR-ADD", "CLOSE doveadm sent invalid DIRECTOR-ADD parameters"),
		V("DIRECTOR-ADD\t127.0.0.1\t0",
		  "CLOSE doveadm sent invalid DIRECTOR-ADD parameters"),
		V("DIRECTOR-ADD\t127.0.0.1\t65536",
		  "CLOSE doveadm sent invalid DIRECTOR-ADD parameters"),
		V("DIRECTOR-ADD\t127.0.0.1\t",
		  "CLOSE doveadm sent invalid DIRECTOR-ADD parameters"),
		V("DIRECTOR-ADD\t\t9090", "CLOSE doveadm sent invalid DIRECTOR-ADD parameters"),
		V("DIRECTOR-REMOVE", "CLOSE doveadm sent invalid DIRECTOR-REMOVE parameters"),
		V("DIRECTOR-REMOVE\t127.0.0.1\t0",
		  "CLOSE doveadm sent invalid DIRECTOR-REMOVE parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_user_assign_needs_a_name(void **state)
{
	static const struct vec v[] = {
		V("USER-ASSIGN\tuser1", "RUN USER-ASSIGN user=user1"),
		V("USER-ASSIGN\tuser1\ttagA", "RUN USER-ASSIGN tag=tagA user=user1"),
		V("USER-ASSIGN\t12345", "RUN USER-ASSIGN user=12345"),	/* a name */
		V("USER-ASSIGN\tu\x01tv", "RUN USER-ASSIGN user=u\\x09v"),
		V("USER-ASSIGN", "CLOSE doveadm sent invalid USER-ASSIGN parameters"),
		V("USER-ASSIGN\t", "CLOSE doveadm sent invalid USER-ASSIGN parameters"),
		V("USER-ASSIGN\t\x01" "0a", "CLOSE doveadm sent invalid USER-ASSIGN parameters"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

#define P63 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX0123456789_.-"

/* postmux's own command: no argument or one prefix of counter-name bytes
 * (at most 63); anything else closes like a bad Dovecot command. */
static void
test_adminproto_postmux_counters_takes_only_a_valid_prefix(void **state)
{
	static const struct vec v[] = {
		V("POSTMUX-COUNTERS", "RUN POSTMUX-COUNTERS prefix="),
		V("POSTMUX-COUNTERS	", "RUN POSTMUX-COUNTERS prefix="),
		V("POSTMUX-COUNTERS	director.", "RUN POSTMUX-COUNTERS prefix=director."),
		V("POSTMUX-COUNTERS	port.client-1_x.rx",
		  "RUN POSTMUX-COUNTERS prefix=port.client-1_x.rx"),
		V("POSTMUX-COUNTERS	" P63, "RUN POSTMUX-COUNTERS prefix=" P63),
		V("POSTMUX-COUNTERS	d\x01" "2ir", "RUN POSTMUX-COUNTERS prefix=d2ir"),
		/* as every field: cut at an escaped NUL */
		V("POSTMUX-COUNTERS	dir\x01" "0x", "RUN POSTMUX-COUNTERS prefix=dir"),
		V("POSTMUX-COUNTERS	director.\r", "RUN POSTMUX-COUNTERS prefix=director."),
		V("POSTMUX-COUNTERS	" P63 "x",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	a\tb",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	\t",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	director pins",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	dir/x",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	dir\x01tx",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	dir\x80",
		  "CLOSE doveadm sent invalid POSTMUX-COUNTERS parameters"),
		V("POSTMUX-COUNTERS	\x01" "0",
		  "RUN POSTMUX-COUNTERS prefix="),
		V("postmux-counters", "CLOSE doveadm sent unknown command"),
		V("POSTMUX-COUNTER", "CLOSE doveadm sent unknown command"),
	};

	(void)state;
	assert_int_equal(sizeof(P63) - 1, PM_ADMINPROTO_PREFIX_MAX);
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

static void
test_adminproto_unknown_or_empty_line_closes(void **state)
{
	static const struct vec v[] = {
		V("", "CLOSE doveadm sent empty command line"),			/* lab */
		V("\r", "CLOSE doveadm sent empty command line"),
		V("\0HOST-LIST", "CLOSE doveadm sent empty command line"),
		V("\t", "CLOSE doveadm sent unknown command"),			/* lab */
		V("host-list", "CLOSE doveadm sent unknown command"),		/* lab */
		V("HOST-LIST\r\r", "CLOSE doveadm sent unknown command"),	/* lab */
		V("BOGUS", "CLOSE doveadm sent unknown command"),		/* lab */
		V("HOST-LIS", "CLOSE doveadm sent unknown command"),
		V("HOST-LISTX", "CLOSE doveadm sent unknown command"),
		V(" HOST-LIST", "CLOSE doveadm sent unknown command"),
		V("VERSION\tdirector-doveadm\t1\t0", "CLOSE doveadm sent unknown command"),
		/* the command word is unescaped (lab), a NUL ends the line (lab) */
		V("HOST\x01-LIST", "RUN HOST-LIST"),
		V("HOST-LIST\0junk", "RUN HOST-LIST"),
		V("HOST-LIST\r", "RUN HOST-LIST"),				/* lab */
	};
	struct pm_adminproto_cmd cmd;
	char longname[200];

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
	/* The command word is kept, cut, for the log. */
	assert_int_equal(pm_adminproto_decode_line("BOGUS\targ", 9, &cmd), PM_ADMINPROTO_CLOSE);
	assert_string_equal(cmd.name, "BOGUS");
	assert_int_equal(cmd.kind, PM_ADMINPROTO_NONE);
	memset(longname, 'A', sizeof(longname));
	assert_int_equal(pm_adminproto_decode_line(longname, sizeof(longname), &cmd),
			 PM_ADMINPROTO_CLOSE);
	assert_int_equal(strlen(cmd.name), PM_ADMINPROTO_NAME_SIZE - 1);
	assert_int_equal(pm_adminproto_decode_line("HOST-UP\tx", 9, &cmd), PM_ADMINPROTO_CLOSE);
	assert_string_equal(cmd.name, "HOST-UP");
	assert_int_equal(cmd.kind, PM_ADMINPROTO_HOST_UP);
}

static void
test_adminproto_kind_names_round_trip(void **state)
{
	struct pm_adminproto_cmd cmd;
	const char *name;
	int k;

	(void)state;
	assert_string_equal(pm_adminproto_kind_name(PM_ADMINPROTO_NONE), "");
	assert_string_equal(pm_adminproto_kind_name(PM_ADMINPROTO_KIND__COUNT), "");
	assert_string_equal(pm_adminproto_kind_name((enum pm_adminproto_kind)-1), "");
	for (k = 1; k < PM_ADMINPROTO_KIND__COUNT; k++) {
		name = pm_adminproto_kind_name((enum pm_adminproto_kind)k);
		assert_true(strlen(name) > 0 && strlen(name) < PM_ADMINPROTO_NAME_SIZE);
		pm_adminproto_decode_line(name, strlen(name), &cmd);
		assert_int_equal(cmd.kind, k);
	}
}

/* ---- framing ------------------------------------------------------------------------ */

static void
test_adminproto_pipelined_commands_all_returned_in_order(void **state)
{
	/* The spec's lost-command example, plus more, in one write. */
	static const char in[] = HS "HOST-LIST-REMOVED\nHOST-DOWN\t10.0.0.4\n"
				 "HOST-FLUSH\t10.0.0.4\nUSER-LOOKUP\tuser1\n"
				 "HOST-SET\t10.0.0.9\t2000\nUSER-KICK\tu\tnowait\r\n"
				 "BOGUS\nHOST-LIST-REMOVED\n";

	(void)state;
	expect_session(in, sizeof(in) - 1,
		       "RUN HOST-LIST-REMOVED\n"
		       "RUN HOST-DOWN ip=10.0.0.4\n"
		       "RUN HOST-FLUSH ip=10.0.0.4\n"
		       "RUN USER-LOOKUP user=user1\n"
		       "REPLY HOST-SET vhost count too large\\x0a\n"
		       "RUN USER-KICK nowait user=u\n"
		       "CLOSE doveadm sent unknown command\n");
}

static void
test_adminproto_line_limit_is_dovecots_1024_byte_buffer(void **state)
{
	struct sbuf in = { 0 };
	char *got;
	size_t n;

	(void)state;
	/* lab: 1023 bytes + LF answered */
	sb_put(&in, HS "USER-LOOKUP\t", strlen(HS) + 12);
	for (n = 12; n < PM_ADMINPROTO_LINE_MAX; n++)
		sb_put(&in, "u", 1);
	sb_put(&in, "\n", 1);
	got = run_chunked(in.p, in.len, in.len, NULL);
	assert_int_equal(strncmp(got, "RUN USER-LOOKUP user=uuu", 24), 0);
	assert_int_equal(strlen(got), strlen("RUN USER-LOOKUP user=") + 1023 - 12 + 1);
	free(got);
	/* lab: 1022 bytes + CRLF answered, 1023 + CRLF closed */
	in.len -= 2;
	sb_put(&in, "\r\n", 2);
	got = run_all_chunks(in.p, in.len, NULL);
	assert_int_equal(strncmp(got, "RUN USER-LOOKUP user=uuu", 24), 0);
	free(got);
	in.len -= 2;
	sb_put(&in, "u\r\n", 3);
	got = run_all_chunks(in.p, in.len, NULL);
	assert_string_equal(got, "CLOSE doveadm sent a line longer than 1023 bytes\n");
	free(got);
	/* lab: 1024 + LF closed */
	in.len -= 2;
	sb_put(&in, "u\n", 2);
	got = run_all_chunks(in.p, in.len, NULL);
	assert_string_equal(got, "CLOSE doveadm sent a line longer than 1023 bytes\n");
	free(got);
	/* lab: lines before it are answered first; the close comes without
	 * waiting for an LF that never comes */
	in.len = 0;
	sb_put(&in, HS "USER-LOOKUP\tuser1\nUSER-LOOKUP\t", strlen(HS) + 30);
	for (n = 0; n < 2000; n++)
		sb_put(&in, "u", 1);
	got = run_all_chunks(in.p, in.len, NULL);
	assert_string_equal(got, "RUN USER-LOOKUP user=user1\n"
				 "CLOSE doveadm sent a line longer than 1023 bytes\n");
	free(got);
	/* the handshake line has the same limit */
	in.len = 0;
	sb_put(&in, "VERSION\tdirector-doveadm\t1\t", 27);
	for (n = 0; n < 1000; n++)
		sb_put(&in, "0", 1);
	sb_put(&in, "\n", 1);
	got = run_all_chunks(in.p, in.len, NULL);
	assert_string_equal(got, "CLOSE doveadm sent a line longer than 1023 bytes\n");
	free(got);
	free(in.p);
}

static void
test_adminproto_close_is_sticky(void **state)
{
	struct pm_adminproto_cmd cmd;
	struct pm_adminproto p;
	size_t used;

	(void)state;
	pm_adminproto_init(&p);
	assert_int_equal(pm_adminproto_feed(&p, HS "HOST-UP\nHOST-LIST\n", strlen(HS) + 18,
					    &used, &cmd), PM_ADMINPROTO_CLOSE);
	assert_int_equal(used, strlen(HS) + 8);
	assert_string_equal(cmd.reason, "doveadm sent invalid HOST-UP parameters");
	assert_false(pm_adminproto_handshaked(&p, NULL));
	assert_int_equal(pm_adminproto_feed(&p, "HOST-LIST\n", 10, &used, &cmd),
			 PM_ADMINPROTO_CLOSE);
	assert_int_equal(used, 0);
	assert_string_equal(cmd.reason, "doveadm sent invalid HOST-UP parameters");
}

static void
test_adminproto_crlf_only_before_lf_is_stripped(void **state)
{
	static const struct vec v[] = {
		V("HOST-UP\t10.0.0.1\r", "RUN HOST-UP ip=10.0.0.1"),
		V("USER-KICK\ta\rb", "RUN USER-KICK user=a\\x0db"),
		V("USER-KICK\tab\r\r", "RUN USER-KICK user=ab\\x0d"),
		V("USER-KICK\tab\r\0\r", "RUN USER-KICK user=ab\\x0d"),
		V("USER-KICK\tab\x01\r", "RUN USER-KICK user=ab"),
		V("USER-KICK\r\tab", "CLOSE doveadm sent unknown command"),
	};

	(void)state;
	expect_vectors(v, sizeof(v) / sizeof(v[0]));
}

/* A long session of everything, fed at every chunk size. */
static void
test_adminproto_every_chunk_size_gives_same_events(void **state)
{
	static const char in[] = "VERSION\tdirector-doveadm\t1\t3\r\n"
				 "HOST-LIST\nHOST-SET\t10.0.0.1@t\x01tx\t5\r\n"
				 "HOST-UPDATE\t10.0.0.1\t7\nHOST-UP\t10.0.0.1\n"
				 "HOST-DOWN\t[2001:db8::1]\nHOST-REMOVE\t010.0.0.1\n"
				 "HOST-FLUSH\nHOST-FLUSH\t10.0.0.2\nHOST-RESET-USERS\t\t9\n"
				 "USER-LOOKUP\tu\x01" "1ser\ttag\nUSER-LIST\t10.0.0.3\n"
				 "USER-MOVE\t42\t10.0.0.4\nUSER-KICK\tx\tnowait\n"
				 "USER-KICK-ALT\tf\tv\nDIRECTOR-LIST\nDIRECTOR-ADD\t::1\t9\n"
				 "DIRECTOR-REMOVE\t127.0.0.1\nUSER-ASSIGN\tbob\tt\n"
				 "HOST-SET\t10.0.0.1\t1001\nHOST-LIST-REMOVED\r\n"
				 "POSTMUX-COUNTERS\tctl.\nHOST-UPDATE\t10.0.0.1\nHOST-LIST\n";
	struct pm_adminproto p;
	uint32_t minor;
	char *got;

	(void)state;
	got = run_all_chunks(in, sizeof(in) - 1, &p);
	assert_string_equal(got,
			    "RUN HOST-LIST\n"
			    "RUN HOST-SET ip=10.0.0.1 tag=t\\x09x vhosts=5\n"
			    "RUN HOST-UPDATE ip=10.0.0.1 vhosts=7\n"
			    "RUN HOST-UP ip=10.0.0.1\n"
			    "RUN HOST-DOWN ip=2001:db8::1\n"
			    "RUN HOST-REMOVE ip=10.0.0.1\n"
			    "RUN HOST-FLUSH\n"
			    "RUN HOST-FLUSH ip=10.0.0.2\n"
			    "RUN HOST-RESET-USERS max=9\n"
			    "RUN USER-LOOKUP tag=tag user=u\\x01ser\n"
			    "RUN USER-LIST ip=10.0.0.3\n"
			    "RUN USER-MOVE ip=10.0.0.4 user=42 hash=42\n"
			    "RUN USER-KICK nowait user=x\n"
			    "RUN USER-KICK-ALT field=f value=v\n"
			    "RUN DIRECTOR-LIST\n"
			    "RUN DIRECTOR-ADD ip=::1 port=9\n"
			    "RUN DIRECTOR-REMOVE ip=127.0.0.1\n"
			    "RUN USER-ASSIGN tag=t user=bob\n"
			    "REPLY HOST-SET vhost count too large\\x0a\n"
			    "RUN HOST-LIST-REMOVED\n"
			    "RUN POSTMUX-COUNTERS prefix=ctl.\n"
			    "CLOSE doveadm sent invalid HOST-UPDATE parameters\n");
	free(got);
	/* it closed, so it is no longer handshaked; check the minor on a
	 * session that stays open */
	got = run_all_chunks(in, 30, &p);
	assert_string_equal(got, "");
	free(got);
	assert_true(pm_adminproto_handshaked(&p, &minor));
	assert_int_equal(minor, 3);
}

/* ---- addresses ------------------------------------------------------------------------ */

/*
 * A second, independent reading of net_addr2ip(): the decimal fast path
 * written as "all digits" / "four digit groups below 256", then the C
 * library's own inet_pton() and inet_aton(), which Dovecot calls.
 */
static bool
ref_digits(const char *s, size_t n, unsigned long long *v)
{
	size_t i;

	if (n == 0 || n > 19)
		return false;	/* 20+ digits may exceed 64 bits; never < 2^32 */
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned long long)(s[i] - '0');
	}
	return true;
}

static bool
ref_digits_any(const char *s, size_t n, unsigned long long *v)
{
	size_t i = 0;

	/* leading zeros do not count towards the 19-digit guard */
	while (n - i > 1 && s[i] == '0')
		i++;
	return ref_digits(s + i, n - i, v);
}

static int
ref_addr2ip(const char *s, uint8_t out[16], int *family)
{
	unsigned long long v[4];
	const char *p, *dot;
	size_t n = strlen(s), k;
	char tmp[256];

	memset(out, 0, 16);
	if (strspn(s, "0123456789") == n && n > 0) {
		if (ref_digits_any(s, n, &v[0]) && v[0] <= 0xffffffffull) {
			out[0] = (uint8_t)(v[0] >> 24);
			out[1] = (uint8_t)(v[0] >> 16);
			out[2] = (uint8_t)(v[0] >> 8);
			out[3] = (uint8_t)v[0];
			*family = 4;
			return 0;
		}
	} else if (strspn(s, "0123456789.") == n) {
		for (p = s, k = 0; k < 4; k++) {
			dot = strchr(p, '.');
			if ((k < 3) != (dot != NULL))
				break;
			size_t plen = dot != NULL ? (size_t)(dot - p) : strlen(p);

			if (!ref_digits_any(p, plen, &v[k]) || v[k] > 255)
				break;
			p = dot != NULL ? dot + 1 : p;
		}
		if (k == 4) {
			for (k = 0; k < 4; k++)
				out[k] = (uint8_t)v[k];
			*family = 4;
			return 0;
		}
	}
	if (strchr(s, ':') != NULL) {
		snprintf(tmp, sizeof(tmp), "%s", s);
		if (tmp[0] == '[' && tmp[n - 1] == ']') {
			memmove(tmp, tmp + 1, n - 2);
			tmp[n - 2] = '\0';
		}
		*family = 6;
		return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
	}
	*family = 4;
	{
		struct in_addr in;

		if (inet_aton(s, &in) == 0)
			return -1;
		memcpy(out, &in, 4);
		return 0;
	}
}

static void
check_ip_against_reference(const char *s)
{
	struct pm_addr a;
	uint8_t want[16];
	int fam = 0, rc, wrc;

	rc = pm_adminproto_parse_ip(&a, s, strlen(s));
	wrc = ref_addr2ip(s, want, &fam);
	if ((rc == 0) != (wrc == 0))
		fail_msg("\"%s\": parse_ip %d, reference %d", s, rc, wrc);
	if (rc != 0) {
		assert_int_equal(a.family, PM_AF_NONE);
		return;
	}
	assert_int_equal(a.family, fam == 4 ? PM_AF_INET : PM_AF_INET6);
	if (memcmp(a.bytes, want, fam == 4 ? 4 : 16) != 0)
		fail_msg("\"%s\": parsed to a different address", s);
}

static void
test_adminproto_parse_ip_matches_net_addr2ip(void **state)
{
	static const struct {
		const char *in;
		const char *want;	/* NULL: rejected */
	} v[] = {
		{ "10.0.0.1", "10.0.0.1" },
		{ "010.0.0.9", "10.0.0.9" },		/* fast path: decimal */
		{ "0x0a000008", "10.0.0.8" },		/* inet_aton: hex */
		{ "0X0A.0.0.1", "10.0.0.1" },
		{ "167772167", "10.0.0.7" },
		{ "4294967295", "255.255.255.255" },
		{ "4294967296", NULL },
		{ "0", "0.0.0.0" },
		{ "00000000000000000000000000010", "0.0.0.10" },
		{ "10.1.2", "10.1.0.2" },
		{ "10.65535", "10.0.255.255" },
		{ "10.16777215", "10.255.255.255" },
		{ "10.16777216", NULL },
		{ "1.2.65536", NULL },
		{ "010.0.0.19 x", "8.0.0.19" },		/* inet_aton: octal */
		{ "08.0.0.1", "8.0.0.1" },		/* fast path */
		{ "08.0.0.1 ", NULL },			/* inet_aton: "08" is bad octal */
		{ "0x.1.1.1", NULL },
		{ "0x", NULL },
		{ "0x1g", NULL },
		{ "1.2.3.4.", NULL },
		{ "1.2.3.4.5", NULL },
		{ "1..2", NULL },
		{ ".1.2.3", NULL },
		{ "256.1.1.1", NULL },
		{ "1.2.3.256", NULL },
		{ "10.0.0.1\t", "10.0.0.1" },
		{ "10.0.0.1\n", "10.0.0.1" },
		{ "10.0.0.1\v", "10.0.0.1" },
		{ "10.0.0.1\f", "10.0.0.1" },
		{ "10.0.0.1\r", "10.0.0.1" },
		{ "10.0.0.1 anything at all", "10.0.0.1" },
		{ "10.0.0.1\x01", NULL },
		{ " 10.0.0.1", NULL },
		{ "+10.0.0.1", NULL },
		{ "-1", NULL },
		{ "", NULL },
		{ "::1", "::1" },
		{ "[::1]", "::1" },
		{ "[::1", NULL },
		{ "::1]", NULL },
		{ "[[::1]]", NULL },
		{ "::ffff:10.0.0.1", "::ffff:10.0.0.1" },
		{ "2001:DB8::1", "2001:db8::1" },
		{ "2001:db8::1 ", NULL },
		{ "fe80::1%eth0", NULL },
		{ "1:2:3:4:5:6:7:8:9", NULL },
		{ "localhost", NULL },
	};
	char ip[PM_ADDR_STRLEN];
	struct pm_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = pm_adminproto_parse_ip(&a, v[i].in, strlen(v[i].in));

		if (v[i].want == NULL) {
			if (rc != -EINVAL)
				fail_msg("\"%s\" was accepted", v[i].in);
			continue;
		}
		if (rc != 0)
			fail_msg("\"%s\" was rejected", v[i].in);
		assert_true(pm_addr_format(&a, ip, sizeof(ip)) > 0);
		if (strcmp(ip, v[i].want) != 0)
			fail_msg("\"%s\" gave %s, want %s", v[i].in, ip, v[i].want);
		check_ip_against_reference(v[i].in);
	}
	/* A NUL ends the string, as in Dovecot. */
	assert_int_equal(pm_adminproto_parse_ip(&a, "10.0.0.1\0junk", 13), 0);
	assert_int_equal(a.bytes[3], 1);
}

static void
test_adminproto_parse_ip_agrees_with_libc_on_random_strings(void **state)
{
	static const char alpha[] = "0123456789.....xX \t:[]abcdefABCDEFz";
	unsigned seed = 20240611, i, j, len;
	char s[24];

	(void)state;
	print_message("# seed %u\n", seed);
	srand(seed);
	for (i = 0; i < 200000; i++) {
		len = (unsigned)rand() % 20;
		for (j = 0; j < len; j++)
			s[j] = alpha[(unsigned)rand() % (sizeof(alpha) - 1)];
		s[len] = '\0';
		check_ip_against_reference(s);
	}
}

/* ---- escaping -------------------------------------------------------------------------- */

static void
test_adminproto_escape_round_trips_every_byte(void **state)
{
	char raw[256], esc[600], back[300];
	unsigned seed = 7, i, r, len;
	int n, m;

	(void)state;
	for (i = 0; i < 256; i++)
		raw[i] = (char)i;
	n = pm_adminproto_escape(esc, sizeof(esc), raw, 256);
	assert_int_equal(n, 256 + 5);	/* NUL, 0x01, TAB, CR, LF doubled */
	assert_null(memchr(esc, '\t', (size_t)n));
	assert_null(memchr(esc, '\r', (size_t)n));
	assert_null(memchr(esc, '\n', (size_t)n));
	assert_null(memchr(esc, '\0', (size_t)n));
	assert_int_equal(esc[n], '\0');
	m = pm_adminproto_unescape(back, sizeof(back), esc, (size_t)n);
	assert_int_equal(m, 256);
	assert_memory_equal(back, raw, 256);
	/* random strings over the special bytes */
	print_message("# seed %u\n", seed);
	srand(seed);
	for (r = 0; r < 20000; r++) {
		len = (unsigned)rand() % 40;
		for (i = 0; i < len; i++)
			raw[i] = "\x00\x01\t\r\nab01tn"[rand() % 11];
		n = pm_adminproto_escape(esc, sizeof(esc), raw, len);
		assert_true(n >= (int)len && n <= 2 * (int)len);
		m = pm_adminproto_unescape(back, sizeof(back), esc, (size_t)n);
		assert_int_equal(m, len);
		assert_memory_equal(back, raw, len);
	}
}

static void
test_adminproto_escape_matches_dovecot(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(pm_adminproto_escape(buf, sizeof(buf), "a\tb\x01" "c\rd\ne\0f", 11), 16);
	assert_memory_equal(buf, "a\x01tb\x01" "1c\x01rd\x01ne\x01" "0f", 17);
	assert_int_equal(pm_adminproto_escape(buf, sizeof(buf), "", 0), 0);
	assert_string_equal(buf, "");
	/* unescape: any other byte stands for itself; a final 0x01 is dropped */
	assert_int_equal(pm_adminproto_unescape(buf, sizeof(buf), "a\x01qb\x01", 5), 2 + 1);
	assert_string_equal(buf, "aqb");
	assert_int_equal(pm_adminproto_unescape(buf, sizeof(buf), "\x01\x01\x01", 3), 1);
	assert_string_equal(buf, "\x01");
	assert_int_equal(pm_adminproto_unescape(buf, sizeof(buf), "x\x01" "0y", 4), 3);
	assert_memory_equal(buf, "x\0y", 4);
}

static void
test_adminproto_escape_too_small_is_enospc(void **state)
{
	char big[16], *b;
	size_t size;
	int want;

	(void)state;
	want = pm_adminproto_escape(big, sizeof(big), "ab\tc", 4);
	assert_int_equal(want, 5);
	/* Exact-size heap buffers, so ASan sees any overrun. */
	for (size = 0; size <= (size_t)want + 1; size++) {
		b = malloc(size > 0 ? size : 1);
		assert_non_null(b);
		if (size <= (size_t)want) {
			assert_int_equal(pm_adminproto_escape(b, size, "ab\tc", 4), -ENOSPC);
			if (size > 0)
				assert_true(strlen(b) < size);
			assert_int_equal(pm_adminproto_unescape(b, size, "ab\x01tcd", 6),
					 -ENOSPC);
		} else {
			assert_int_equal(pm_adminproto_escape(b, size, "ab\tc", 4), want);
			assert_memory_equal(b, "ab\x01tc", 6);
			assert_int_equal(pm_adminproto_unescape(b, size, "ab\x01tcd", 6), 5);
			assert_memory_equal(b, "ab\tcd", 6);
		}
		free(b);
	}
}

/* ---- reply lines ----------------------------------------------------------------------- */

static struct pm_addr
addr(const char *s)
{
	struct pm_addr a;

	assert_int_equal(pm_addr_parse(&a, s, strlen(s)), 0);
	return a;
}

/* Every builder must refuse every too-small buffer without overrunning it. */
#define CHECK_SIZES(want, call)                                                        \
	do {                                                                           \
		size_t size_;                                                          \
		for (size_ = 0; size_ <= strlen(want); size_++) {                      \
			char *mb = malloc(size_ > 0 ? size_ : 1);                       \
			assert_non_null(mb);                                            \
			assert_int_equal(call, -ENOSPC);                                \
			free(mb);                                                       \
		}                                                                      \
		{                                                                      \
			size_ = strlen(want) + 1;                                       \
			char *mb = malloc(size_);                                       \
			assert_non_null(mb);                                            \
			assert_int_equal(call, (int)strlen(want));                      \
			assert_string_equal(mb, want);                                  \
			free(mb);                                                       \
		}                                                                      \
	} while (0)

static void
test_adminproto_host_line_matches_dovecot(void **state)
{
	struct pm_addr a4 = addr("10.0.0.4"), a6 = addr("2001:db8::1"), none = { 0 };
	struct pm_addr a22 = addr("10.0.2.2");
	char buf[128];

	(void)state;
	/* spec 3.2 / lab: "10.0.0.4\t100\t0\t\tD\t1795896423" */
	CHECK_SIZES("10.0.0.4\t100\t0\t\tD\t1795896423\n",
		    pm_adminproto_fmt_host(mb, size_, &a4, 100, 0, NULL, true, 1795896423));
	CHECK_SIZES("10.0.2.2\t100\t3\ta\x01tb\tU\t0\n",
		    pm_adminproto_fmt_host(mb, size_, &a22, 100, 3, "a\tb", false, 0));
	CHECK_SIZES("2001:db8::1\t4294967295\t4294967295\tt\tU\t-1\n",
		    pm_adminproto_fmt_host(mb, size_, &a6, UINT32_MAX, UINT32_MAX, "t", false,
					   -1));
	assert_int_equal(pm_adminproto_fmt_host(buf, sizeof(buf), &none, 1, 1, "", false, 0),
			 -EINVAL);
	assert_int_equal(pm_adminproto_fmt_host(buf, sizeof(buf), NULL, 1, 1, "", false, 0),
			 -EINVAL);
	CHECK_SIZES("2001:db8::1\n", pm_adminproto_fmt_addr(mb, size_, &a6));
	assert_int_equal(pm_adminproto_fmt_addr(buf, sizeof(buf), &none), -EINVAL);
}

static void
test_adminproto_user_lines_match_dovecot(void **state)
{
	struct pm_addr a1 = addr("10.0.0.1"), a3 = addr("10.0.0.3"), none = { 0 };
	char buf[128];

	(void)state;
	/* lab: "617210206\t1795905665\t10.0.0.1" */
	CHECK_SIZES("617210206\t1795905665\t10.0.0.1\n",
		    pm_adminproto_fmt_user(mb, size_, 617210206, 1795905665, &a1));
	assert_int_equal(pm_adminproto_fmt_user(buf, sizeof(buf), 1, 1, &none), -EINVAL);
	/* lab: no entry: "\t0\t10.0.0.3\t10.0.0.3" */
	CHECK_SIZES("\t0\t10.0.0.3\t10.0.0.3\n",
		    pm_adminproto_fmt_lookup(mb, size_, NULL, 12345, &a3, &a3));
	CHECK_SIZES("\t0\t10.0.0.3\t10.0.0.3\n",
		    pm_adminproto_fmt_lookup(mb, size_, &none, 12345, &a3, &a3));
	/* lab: an entry: "10.0.0.1\t1795905665\t10.0.0.3\t10.0.0.3" */
	CHECK_SIZES("10.0.0.1\t1795905665\t10.0.0.3\t10.0.0.3\n",
		    pm_adminproto_fmt_lookup(mb, size_, &a1, 1795905665, &a3, &a3));
	/* empty rings: empty fields */
	CHECK_SIZES("10.0.0.1\t5\t\t\n",
		    pm_adminproto_fmt_lookup(mb, size_, &a1, 5, NULL, &none));
}

static void
test_adminproto_director_self_line_matches_standalone(void **state)
{
	struct pm_addr lo = addr("127.0.0.1");

	(void)state;
	/* lab: a standalone 2.3.19.1 director's whole DIRECTOR-LIST answer
	 * was "127.0.0.1\t33753\tself\t0\tring synced\t0\n\n" */
	CHECK_SIZES("127.0.0.1\t33753\tself\t0\tring synced\t0\n",
		    pm_adminproto_fmt_director_self(mb, size_, &lo, 33753, 0, 0));
	CHECK_SIZES("127.0.0.1\t9090\tself\t1795896907\tring synced\t4294967295\n",
		    pm_adminproto_fmt_director_self(mb, size_, &lo, 9090, 1795896907,
						    UINT32_MAX));
	assert_string_equal(PM_ADMINPROTO_BANNER, "VERSION\tdirector-doveadm\t1\t0\n");
}

static void
test_adminproto_counter_line_is_name_tab_value(void **state)
{
	char buf[128], name[80];

	(void)state;
	CHECK_SIZES("director.pins\t1\n", pm_adminproto_fmt_counter(mb, size_, "director.pins", 1));
	CHECK_SIZES("x\t0\n", pm_adminproto_fmt_counter(mb, size_, "x", 0));
	CHECK_SIZES(P63 "\t18446744073709551615\n",
		    pm_adminproto_fmt_counter(mb, size_, P63, UINT64_MAX));
	/* Names that would need escaping, or are not names, are refused. */
	assert_int_equal(pm_adminproto_fmt_counter(buf, sizeof(buf), "", 1), -EINVAL);
	assert_int_equal(pm_adminproto_fmt_counter(buf, sizeof(buf), "a\tb", 1), -EINVAL);
	assert_int_equal(pm_adminproto_fmt_counter(buf, sizeof(buf), "a b", 1), -EINVAL);
	assert_int_equal(pm_adminproto_fmt_counter(buf, 0, "a\nb", 1), -EINVAL);
	snprintf(name, sizeof(name), "%sx", P63);
	assert_int_equal(pm_adminproto_fmt_counter(buf, sizeof(buf), name, 1), -EINVAL);
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adminproto_handshake_variants_are_accepted),
		cmocka_unit_test(test_adminproto_handshake_mismatch_closes),
		cmocka_unit_test(test_adminproto_no_event_before_a_complete_line),
		cmocka_unit_test(test_adminproto_list_commands_ignore_arguments),
		cmocka_unit_test(test_adminproto_host_set_matches_dovecot),
		cmocka_unit_test(test_adminproto_host_update_needs_a_count),
		cmocka_unit_test(test_adminproto_host_up_down_remove_need_an_ip),
		cmocka_unit_test(test_adminproto_host_flush_empty_ip_means_all),
		cmocka_unit_test(test_adminproto_host_reset_users_max_zero_closes),
		cmocka_unit_test(test_adminproto_user_lookup_number_is_a_hash),
		cmocka_unit_test(test_adminproto_user_list_empty_ip_means_all),
		cmocka_unit_test(test_adminproto_user_move_needs_user_and_ip),
		cmocka_unit_test(test_adminproto_user_kick_nowait_is_exact),
		cmocka_unit_test(test_adminproto_director_add_remove_port_is_optional),
		cmocka_unit_test(test_adminproto_user_assign_needs_a_name),
		cmocka_unit_test(test_adminproto_postmux_counters_takes_only_a_valid_prefix),
		cmocka_unit_test(test_adminproto_unknown_or_empty_line_closes),
		cmocka_unit_test(test_adminproto_kind_names_round_trip),
		cmocka_unit_test(test_adminproto_pipelined_commands_all_returned_in_order),
		cmocka_unit_test(test_adminproto_line_limit_is_dovecots_1024_byte_buffer),
		cmocka_unit_test(test_adminproto_close_is_sticky),
		cmocka_unit_test(test_adminproto_crlf_only_before_lf_is_stripped),
		cmocka_unit_test(test_adminproto_every_chunk_size_gives_same_events),
		cmocka_unit_test(test_adminproto_parse_ip_matches_net_addr2ip),
		cmocka_unit_test(test_adminproto_parse_ip_agrees_with_libc_on_random_strings),
		cmocka_unit_test(test_adminproto_escape_round_trips_every_byte),
		cmocka_unit_test(test_adminproto_escape_matches_dovecot),
		cmocka_unit_test(test_adminproto_escape_too_small_is_enospc),
		cmocka_unit_test(test_adminproto_host_line_matches_dovecot),
		cmocka_unit_test(test_adminproto_user_lines_match_dovecot),
		cmocka_unit_test(test_adminproto_director_self_line_matches_standalone),
		cmocka_unit_test(test_adminproto_counter_line_is_name_tab_value),
	};

	return cmocka_run_group_tests_name("adminproto", tests, NULL, NULL);
}
