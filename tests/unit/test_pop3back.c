/*
 * test_pop3back.c -- the backend-side POP3 login machine (proto/pop3back.h).
 *
 * Every dialogue is fed at every chunk size from 1 byte to all of it, and
 * once more at random split points (seeded, printed; PM_SEED replays), and
 * must give identical status, *consumed, output bytes and text each time
 * (STYLE.md 10). The golden bytes come from shared/spec/director.md section
 * 5 (the verified XCLIENT line) and from what the Debian 12 Dovecot
 * 2.3.19.1 pop3-login proxy sent to a scripted backend and what a real
 * Dovecot 2.3.19.1 pop3-login answered (see proto/pop3back.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/pop3back.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x90b3bac4u
#define OUT_CAP (1u << 16)

/* The verified XCLIENT line (director.md section 5) and the params that
 * give it. */
#define VERIFIED_XCLIENT "XCLIENT ADDR=127.0.0.1 PORT=38730 SESSION=TMa8zVthSpd/AAAB TTL=4\r\n"

/* What a real Dovecot 2.3.19.1 pop3-login that trusts us sends (captured). */
#define BANNER_X "+OK [XCLIENT] Dovecot (Debian) ready.\r\n"
#define BANNER "+OK Dovecot (Debian) ready.\r\n"
#define UPDATED "+OK Updated\r\n"
#define LOGGED_IN "+OK Logged in.\r\n"

static struct pm_pop3back_params
params(void)
{
	struct pm_pop3back_params p = {
		.session_id = "TMa8zVthSpd/AAAB",
		.client_ip = "127.0.0.1",
		.local_ip = "127.0.0.1",
		.client_port = 38730,
		.local_port = 12110,
		.ttl = 5,
		.user = "user1",
		.authzid = NULL,
		.password = "pass",
	};
	return p;
}

/* ---- running a dialogue ---- */

struct run {
	enum pm_pop3back_status st;
	size_t consumed;	/* bytes of the input the machine took */
	uint8_t *tb;		/* to backend */
	size_t tbl;
	char text[PM_POP3BACK_TEXT_MAX + 1];
	char reason[128];
	int phase;
	bool wiped;		/* every credential byte was zero at the end */
};

static void
run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->tb = calloc(1, OUT_CAP);
	assert_non_null(r->tb);
}

static void
run_free(struct run *r)
{
	free(r->tb);
}

/*
 * Feed @in split at the offsets @cuts (sorted, 0 < cut < n; ncuts of them),
 * then report the end of input with pm_pop3back_closed() if @close.
 */
static void
run_cuts(const struct pm_pop3back_params *p, const uint8_t *in, size_t n, const size_t *cuts,
	 size_t ncuts, bool close, struct run *r)
{
	struct pm_pop3back *b = malloc(sizeof(*b));
	struct pm_buf tb, tc;
	uint8_t never[1];
	enum pm_pop3back_status st = PM_POP3BACK_AGAIN;
	size_t off = 0, k, c;

	assert_non_null(b);
	pm_buf_init(&tb, r->tb, OUT_CAP);
	pm_buf_init(&tc, never, 0);	/* nothing ever goes to the client */
	assert_int_equal(pm_pop3back_init(b, p), 0);
	for (k = 0; k <= ncuts && st == PM_POP3BACK_AGAIN; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		st = pm_pop3back_feed(b, in + off, end - off, &c, &tb, (k & 1) ? &tc : NULL);
		assert_int_not_equal(st, PM_POP3BACK_ERROR);
		off += c;
		if (st == PM_POP3BACK_AGAIN)
			assert_int_equal(off, end);
	}
	if (st == PM_POP3BACK_AGAIN && close)
		st = pm_pop3back_closed(b);
	assert_int_equal(tc.len, 0);
	r->st = st;
	r->consumed = off;
	r->tbl = tb.len;
	r->phase = (int)pm_pop3back_phase(b);
	snprintf(r->text, sizeof(r->text), "%s", pm_pop3back_text(b));
	snprintf(r->reason, sizeof(r->reason), "%s", pm_pop3back_reason(b));
	r->wiped = all_zero(b->password, sizeof(b->password));
	if (st != PM_POP3BACK_AGAIN)
		r->wiped = r->wiped && all_zero(b->user, sizeof(b->user)) &&
			   all_zero(b->authzid, sizeof(b->authzid));
	free(b);
}

static void
run_chunk(const struct pm_pop3back_params *p, const uint8_t *in, size_t n, size_t chunk,
	  bool close, struct run *r)
{
	size_t *cuts = malloc((n / chunk + 1) * sizeof(*cuts));
	size_t ncuts = 0, o;

	assert_non_null(cuts);
	for (o = chunk; o < n; o += chunk)
		cuts[ncuts++] = o;
	run_cuts(p, in, n, cuts, ncuts, close, r);
	free(cuts);
}

static void
assert_same_run(const struct run *a, const struct run *b, size_t chunk)
{
	if (a->st != b->st || a->consumed != b->consumed || a->tbl != b->tbl ||
	    memcmp(a->tb, b->tb, a->tbl) != 0 || strcmp(a->text, b->text) != 0 ||
	    strcmp(a->reason, b->reason) != 0 || a->phase != b->phase || a->wiped != b->wiped)
		fail_msg("chunk size %zu differs: status %d/%d consumed %zu/%zu", chunk,
			 (int)a->st, (int)b->st, a->consumed, b->consumed);
}

/*
 * Run the dialogue @in whole, then at every chunk size and at random split
 * points; all runs must agree. Fills @r with the whole-input run.
 */
static void
dialogue(const struct pm_pop3back_params *p, const void *in, size_t n, bool close, struct run *r)
{
	static uint32_t rs;
	struct run o;
	size_t chunk, t, cuts[8], ncuts;

	if (rs == 0)
		rs = pm_test_seed("pop3back random splits", TEST_SEED);
	run_init(r);
	run_chunk(p, in, n, n > 0 ? n : 1, close, r);
	for (chunk = 1; chunk < n; chunk++) {
		run_init(&o);
		run_chunk(p, in, n, chunk, close, &o);
		assert_same_run(r, &o, chunk);
		run_free(&o);
	}
	for (t = 0; n > 1 && t < 64; t++) {
		ncuts = random_cuts(&rs, n, cuts);
		run_init(&o);
		run_cuts(p, in, n, cuts, ncuts, close, &o);
		assert_same_run(r, &o, 0);
		run_free(&o);
	}
}

#define DIALOGUE(p, s, close, r) dialogue((p), (s), sizeof(s) - 1, (close), (r))

/* ---- golden dialogues ---- */

static void
test_pop3back_xclient_banner_sends_verified_xclient_and_user(void **state)
{
	struct pm_pop3back_params p = params();
	/* a real trusted Dovecot's replies, then the spliced session's */
	static const char in[] = BANNER_X UPDATED "+OK\r\n" LOGGED_IN "+OK 0 0\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_int_equal(r.consumed, sizeof(in) - 1 - strlen("+OK 0 0\r\n"));
	assert_bytes(r.tb, r.tbl, VERIFIED_XCLIENT "USER user1\r\nPASS pass\r\n");
	assert_string_equal(r.text, "Logged in.");
	assert_int_equal(r.phase, PM_POP3BACK_PH_DONE);
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_pop3back_plain_banner_sends_user_then_pass(void **state)
{
	struct pm_pop3back_params p = params();
	struct pm_pop3back b;
	uint8_t tbm[8192];
	struct pm_buf tb;
	size_t c;
	static const char in[] = BANNER "+OK\r\n" LOGGED_IN;
	struct run r;

	(void)state;
	/* Step by step: PASS only after USER's +OK. */
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	assert_int_equal(pm_pop3back_phase(&b), PM_POP3BACK_PH_BANNER);
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)BANNER, strlen(BANNER), &c, &tb,
					  NULL),
			 PM_POP3BACK_AGAIN);
	assert_bytes(tb.p, tb.len, "USER user1\r\n");
	assert_int_equal(pm_pop3back_phase(&b), PM_POP3BACK_PH_USER);
	assert_string_equal(b.password, "pass");
	tb.len = 0;
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)"+OK\r\n", 5, &c, &tb, NULL),
			 PM_POP3BACK_AGAIN);
	assert_bytes(tb.p, tb.len, "PASS pass\r\n");
	assert_int_equal(pm_pop3back_phase(&b), PM_POP3BACK_PH_LOGIN);
	assert_true(all_zero(b.password, sizeof(b.password)));	/* wiped once written */
	tb.len = 0;
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)LOGGED_IN, strlen(LOGGED_IN), &c,
					  &tb, NULL),
			 PM_POP3BACK_OK);
	assert_int_equal(tb.len, 0);

	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_bytes(r.tb, r.tbl, "USER user1\r\nPASS pass\r\n");
	assert_string_equal(r.text, "Logged in.");
	run_free(&r);
}

static void
test_pop3back_ok_is_the_exact_split_point(void **state)
{
	struct pm_pop3back_params p = params();
	/* Everything after the success line is the session's, even bytes
	 * that look like more login replies. */
	static const char in[] = BANNER "+OK\r\n" LOGGED_IN "-ERR not ours\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_int_equal(r.consumed, strlen(BANNER "+OK\r\n" LOGGED_IN));
	run_free(&r);
}

static void
test_pop3back_success_line_text_is_kept_whole(void **state)
{
	struct pm_pop3back_params p = params();
	static char in[8192];
	struct run r;
	size_t n;

	(void)state;
	/* verified: Dovecot forwards "+OK" alone and a 3000-byte text */
	DIALOGUE(&p, BANNER "+OK\r\n+OK\r\n", false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_string_equal(r.text, "");
	run_free(&r);
	DIALOGUE(&p, BANNER "+OK\r\n+OK \r\n", false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_string_equal(r.text, "");
	run_free(&r);
	n = (size_t)snprintf(in, sizeof(in), BANNER "+OK\r\n+OK ");
	memset(in + n, 'y', PM_POP3BACK_TEXT_MAX);	/* a 4096-byte line */
	n += PM_POP3BACK_TEXT_MAX;
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_int_equal(strlen(r.text), PM_POP3BACK_TEXT_MAX);
	assert_int_equal(r.text[0], 'y');
	run_free(&r);
}

static void
test_pop3back_master_login_uses_auth_plain(void **state)
{
	struct pm_pop3back_params p = params();
	static const char in_x[] = BANNER_X UPDATED LOGGED_IN;
	static const char in[] = BANNER LOGGED_IN;
	struct run r;

	(void)state;
	/* verified: Dovecot's AUTH PLAIN for user bob, master mu */
	p.user = "mu";
	p.authzid = "bob";
	DIALOGUE(&p, in_x, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_bytes(r.tb, r.tbl, VERIFIED_XCLIENT "AUTH PLAIN Ym9iAG11AHBhc3M=\r\n");
	assert_true(r.wiped);
	run_free(&r);
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_bytes(r.tb, r.tbl, "AUTH PLAIN Ym9iAG11AHBhc3M=\r\n");
	run_free(&r);
	/* an empty authzid is none */
	p.authzid = "";
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_AGAIN);	/* "+OK Logged in." answers USER */
	assert_bytes(r.tb, r.tbl, "USER mu\r\nPASS pass\r\n");
	run_free(&r);
}

static void
test_pop3back_crlf_in_credentials_uses_auth_plain(void **state)
{
	struct pm_pop3back_params p = params();
	static const char in[] = BANNER LOGGED_IN;
	struct run r;

	(void)state;
	p.user = "us\rer";
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_OK);
	assert_bytes(r.tb, r.tbl, "AUTH PLAIN AHVzDWVyAHBhc3M=\r\n");	/* "\0us\rer\0pass" */
	run_free(&r);
	p.user = "user1";
	p.password = "pw\r\nx";
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl, "AUTH PLAIN AHVzZXIxAHB3DQp4\r\n");
	assert_true(r.wiped);
	run_free(&r);
	/* spaces and 8-bit bytes go on the USER/PASS lines as they are */
	p.user = " a b";
	p.password = " p\xc3\xa4ss ";
	DIALOGUE(&p, BANNER "+OK\r\n" LOGGED_IN, false, &r);
	assert_bytes(r.tb, r.tbl, "USER  a b\r\nPASS  p\xc3\xa4ss \r\n");
	run_free(&r);
	p.password = "";
	DIALOGUE(&p, BANNER "+OK\r\n" LOGGED_IN, false, &r);
	assert_bytes(r.tb, r.tbl, "USER  a b\r\nPASS \r\n");
	run_free(&r);
}

static void
test_pop3back_ttl_and_address_are_in_the_xclient_line(void **state)
{
	struct pm_pop3back_params p = params();
	static const char in[] = BANNER_X UPDATED;
	struct run r;

	(void)state;
	p.ttl = 0;		/* the default, 5: TTL=4 */
	p.session_id = "s1";
	p.client_ip = "2001:db8::1";
	p.client_port = 1;
	p.local_ip = NULL;	/* not sent; not needed */
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_AGAIN);
	assert_int_equal(r.phase, PM_POP3BACK_PH_USER);
	assert_bytes(r.tb, r.tbl,
		     "XCLIENT ADDR=2001:db8::1 PORT=1 SESSION=s1 TTL=4\r\nUSER user1\r\n");
	run_free(&r);
	p.ttl = 2;
	p.client_port = 65535;
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl,
		     "XCLIENT ADDR=2001:db8::1 PORT=65535 SESSION=s1 TTL=1\r\nUSER user1\r\n");
	run_free(&r);
	/* Dovecot: str_begins(line + 3, " [XCLIENT]") */
	DIALOGUE(&p, "+OK [XCLIENT]x\r\n", false, &r);
	assert_int_equal(r.phase, PM_POP3BACK_PH_XCLIENT);
	run_free(&r);
	DIALOGUE(&p, "+OK [xclient] hi\r\n", false, &r);
	assert_int_equal(r.phase, PM_POP3BACK_PH_USER);	/* case-sensitive: no XCLIENT */
	assert_bytes(r.tb, r.tbl, "USER user1\r\n");
	run_free(&r);
}

/* ---- results ---- */

struct result_case {
	const char *in;
	enum pm_pop3back_status st;
	const char *text;
};

static void
check_results(const struct pm_pop3back_params *p, const struct result_case *cases, size_t n)
{
	struct run r;
	size_t i;

	for (i = 0; i < n; i++) {
		dialogue(p, cases[i].in, strlen(cases[i].in), false, &r);
		if (r.st != cases[i].st || strcmp(r.text, cases[i].text) != 0)
			fail_msg("case %zu: status %d text \"%s\", want %d \"%s\"", i, (int)r.st,
				 r.text, (int)cases[i].st, cases[i].text);
		assert_int_equal(r.consumed, strlen(cases[i].in));
		assert_true(r.wiped);
		assert_int_equal(r.phase, PM_POP3BACK_PH_DONE);
		run_free(&r);
	}
}

static void
test_pop3back_results_map_like_dovecot(void **state)
{
	struct pm_pop3back_params p = params();
	static const struct result_case cases[] = {
		/* verified through Dovecot's proxy, to PASS */
		{ BANNER "+OK\r\n-ERR [AUTH] Authentication failed.\r\n", PM_POP3BACK_VERBATIM,
		  "[AUTH] Authentication failed." },
		{ BANNER "+OK\r\n-ERR [SYS/TEMP] try later please\r\n", PM_POP3BACK_TEMPFAIL,
		  "try later please" },
		{ BANNER "+OK\r\nwhat?\r\n", PM_POP3BACK_AUTHFAILED, "" },
		{ BANNER "+OK\r\n-ERR\r\n", PM_POP3BACK_AUTHFAILED, "" },
		/* verified, to USER */
		{ BANNER "-ERR [AUTH] no such user here\r\n", PM_POP3BACK_VERBATIM,
		  "[AUTH] no such user here" },
		{ BANNER "* hi\r\n", PM_POP3BACK_AUTHFAILED, "" },
		{ BANNER "-ERR [SYS/TEMP]x\r\n", PM_POP3BACK_TEMPFAIL, "x" },
		/* ours: the generic text for none; an empty -ERR text is kept */
		{ BANNER "+OK\r\n-ERR [SYS/TEMP]\r\n", PM_POP3BACK_TEMPFAIL,
		  "Account is temporarily unavailable." },
		{ BANNER "+OK\r\n-ERR [SYS/TEMP] \r\n", PM_POP3BACK_TEMPFAIL,
		  "Account is temporarily unavailable." },
		{ BANNER "+OK\r\n-ERR \r\n", PM_POP3BACK_VERBATIM, "" },
		{ BANNER "+OK\r\n-ERR [sys/temp] lower\r\n", PM_POP3BACK_VERBATIM,
		  "[sys/temp] lower" },
		{ BANNER "+OK\r\n-ERR [IN-USE] Mailbox locked\r\n", PM_POP3BACK_VERBATIM,
		  "[IN-USE] Mailbox locked" },
		/* ours: "+OKAY" is not positive (Dovecot splices on it) */
		{ BANNER "+OK\r\n+OKAY whatever\r\n", PM_POP3BACK_AUTHFAILED, "" },
		{ BANNER "+OKAY\r\n", PM_POP3BACK_AUTHFAILED, "" },
		{ BANNER "+ok\r\n", PM_POP3BACK_AUTHFAILED, "" },
		/* a continuation to PASS is just not +OK */
		{ BANNER "+OK\r\n+ x\r\n", PM_POP3BACK_AUTHFAILED, "" },
	};

	(void)state;
	check_results(&p, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_pop3back_auth_plain_results(void **state)
{
	struct pm_pop3back_params p = params();
	static const struct result_case cases[] = {
		{ BANNER "+OK Logged in.\r\n", PM_POP3BACK_OK, "Logged in." },
		{ BANNER "-ERR [AUTH] Authentication failed.\r\n", PM_POP3BACK_VERBATIM,
		  "[AUTH] Authentication failed." },
		{ BANNER "-ERR [SYS/TEMP] later\r\n", PM_POP3BACK_TEMPFAIL, "later" },
		{ BANNER "junk\r\n", PM_POP3BACK_AUTHFAILED, "" },
		/* the whole PLAIN message was sent: a challenge is a protocol
		 * error (Dovecot's SASL client fails it) */
		{ BANNER "+ \r\n", PM_POP3BACK_FAIL, "" },
		{ BANNER "+ eA==\r\n", PM_POP3BACK_FAIL, "" },
		{ BANNER_X UPDATED "+ \r\n", PM_POP3BACK_FAIL, "" },
	};

	(void)state;
	p.authzid = "bob";
	check_results(&p, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_pop3back_bad_banners_and_xclient_replies_fail(void **state)
{
	struct pm_pop3back_params p = params();
	static const struct result_case cases[] = {
		{ "-ERR busy\r\n", PM_POP3BACK_FAIL, "" },	/* verified: retried */
		{ "\r\n", PM_POP3BACK_FAIL, "" },
		{ "+OKAY ready\r\n", PM_POP3BACK_FAIL, "" },
		{ "+ok ready\r\n", PM_POP3BACK_FAIL, "" },
		{ "* OK IMAP ready\r\n", PM_POP3BACK_FAIL, "" },
		{ BANNER_X "-ERR no\r\n", PM_POP3BACK_FAIL, "" },	/* verified: retried */
		{ BANNER_X "-ERR Invalid parameters\r\n", PM_POP3BACK_FAIL, "" },
		{ BANNER_X "+OKx\r\n", PM_POP3BACK_FAIL, "" },
	};
	struct run r;

	(void)state;
	check_results(&p, cases, sizeof(cases) / sizeof(cases[0]));
	DIALOGUE(&p, "-ERR busy\r\n", false, &r);
	assert_string_equal(r.reason, "invalid banner");
	assert_int_equal(r.tbl, 0);
	run_free(&r);
	DIALOGUE(&p, BANNER_X "-ERR no\r\n", false, &r);
	assert_string_equal(r.reason, "XCLIENT failed");
	run_free(&r);
}

static void
test_pop3back_framing_errors_fail(void **state)
{
	struct pm_pop3back_params p = params();
	static const char *const ins[] = {
		"+OK ready\n",		/* bare LF */
		"+OK re\rady\r\n",	/* CR without LF */
		"+OK ready\r\r\n",
		BANNER "+OK\r\n+OK Logged\n in.\r\n",
	};
	static const char nul[] = BANNER "+OK\r\n+OK Log\0ged in.\r\n";
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		dialogue(&p, ins[i], strlen(ins[i]), false, &r);
		assert_int_equal(r.st, PM_POP3BACK_FAIL);
		assert_true(r.wiped);
		run_free(&r);
	}
	DIALOGUE(&p, nul, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_FAIL);
	assert_int_equal(r.consumed, strlen(BANNER "+OK\r\n+OK Log") + 1);
	assert_string_equal(r.reason, "a NUL in a line");
	run_free(&r);
}

static void
test_pop3back_line_bound_is_dovecots(void **state)
{
	struct pm_pop3back_params p = params();
	static char in[2 * PM_POP3BACK_LINE_MAX];
	struct run r;
	size_t n;

	(void)state;
	/* verified: a 4096-byte banner (CRLF included) is read ... */
	n = (size_t)snprintf(in, sizeof(in), "+OK ");
	memset(in + n, 'x', PM_POP3BACK_LINE_MAX - 6);
	n += PM_POP3BACK_LINE_MAX - 6;
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_AGAIN);
	assert_bytes(r.tb, r.tbl, "USER user1\r\n");
	run_free(&r);
	/* ... 4097 is not: FAIL at the byte that does not fit */
	memcpy(in + n - 2, "x\r\n", 3);
	dialogue(&p, in, n + 1, false, &r);
	assert_int_equal(r.st, PM_POP3BACK_FAIL);
	assert_int_equal(r.consumed, n - 1);
	assert_string_equal(r.reason, "a line over 4 KiB");
	assert_int_equal(r.tbl, 0);
	run_free(&r);
}

static void
test_pop3back_backend_closing_is_fail(void **state)
{
	struct pm_pop3back_params p = params();
	struct pm_pop3back b;
	static uint8_t tbm[PM_POP3BACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t c;
	struct run r;

	(void)state;
	DIALOGUE(&p, "", true, &r);
	assert_int_equal(r.st, PM_POP3BACK_FAIL);
	assert_string_equal(r.reason, "the backend closed the connection");
	assert_true(r.wiped);
	run_free(&r);
	/* verified: a close after USER was sent is retried */
	DIALOGUE(&p, BANNER, true, &r);
	assert_int_equal(r.st, PM_POP3BACK_FAIL);
	assert_bytes(r.tb, r.tbl, "USER user1\r\n");
	run_free(&r);
	DIALOGUE(&p, BANNER "+OK\r\n+OK Logg", true, &r);
	assert_int_equal(r.st, PM_POP3BACK_FAIL);
	run_free(&r);
	/* a result stays what it was */
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)"+OK\r\n-ERR x\r\n", 13, &c, &tb,
					  NULL),
			 PM_POP3BACK_VERBATIM);
	assert_int_equal(pm_pop3back_closed(&b), PM_POP3BACK_VERBATIM);
	assert_string_equal(pm_pop3back_text(&b), "x");
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)"+OK\r\n", 5, &c, &tb, NULL),
			 PM_POP3BACK_VERBATIM);
	assert_int_equal(c, 0);
}

/* ---- buffers, params, bounds ---- */

static void
test_pop3back_short_output_room_is_error_and_resumable(void **state)
{
	struct pm_pop3back_params p = params();
	struct pm_pop3back b;
	static uint8_t tbm[2 * PM_POP3BACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t c, off = 0;
	static const char in[] = BANNER_X UPDATED "+OK\r\n" LOGGED_IN;
	enum pm_pop3back_status st;

	(void)state;
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, PM_POP3BACK_BACKEND_ROOM - 1);
	st = pm_pop3back_feed(&b, (const uint8_t *)in, strlen(in), &c, &tb, NULL);
	assert_int_equal(st, PM_POP3BACK_ERROR);
	assert_int_equal(c, strlen(BANNER_X) - 1);	/* the banner's LF is not consumed */
	assert_int_equal(tb.len, 0);
	assert_int_equal(pm_pop3back_phase(&b), PM_POP3BACK_PH_BANNER);
	off += c;
	tb.cap = PM_POP3BACK_BACKEND_ROOM;
	st = pm_pop3back_feed(&b, (const uint8_t *)in + off, strlen(in) - off, &c, &tb, NULL);
	/* the USER reply's LF wants room again: the buffer holds XCLIENT+USER */
	assert_int_equal(st, PM_POP3BACK_ERROR);
	off += c;
	assert_int_equal(off, strlen(BANNER_X UPDATED "+OK\r\n") - 1);
	assert_bytes(tb.p, tb.len, VERIFIED_XCLIENT "USER user1\r\n");
	pm_buf_consume(&tb, tb.len);
	st = pm_pop3back_feed(&b, (const uint8_t *)in + off, strlen(in) - off, &c, &tb, NULL);
	assert_int_equal(st, PM_POP3BACK_OK);
	assert_bytes(tb.p, tb.len, "PASS pass\r\n");
	assert_int_equal(off + c, strlen(in));
	/* an invalid buffer is a misuse */
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	tb.len = tb.cap + 1;
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)in, 1, &c, &tb, NULL),
			 PM_POP3BACK_ERROR);
	assert_int_equal(c, 0);
	tb.len = 0;
	assert_int_equal(pm_pop3back_feed(&b, NULL, 1, &c, &tb, NULL), PM_POP3BACK_ERROR);
	assert_int_equal(pm_pop3back_feed(&b, NULL, 0, &c, &tb, NULL), PM_POP3BACK_AGAIN);
}

static void
test_pop3back_init_rejects_bad_params(void **state)
{
	struct pm_pop3back_params p;
	struct pm_pop3back b;
	static char big[PM_POP3BACK_PASS_MAX + 2];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	p = params();
	p.ttl = 1;
	assert_int_equal(pm_pop3back_init(&b, &p), -ELOOP);
	assert_int_equal(pm_pop3back_closed(&b), PM_POP3BACK_FAIL);
	p = params();
	p.user = NULL;
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p.user = "";
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	big[PM_POP3BACK_USER_MAX + 1] = '\0';
	p.user = big;
	assert_int_equal(pm_pop3back_init(&b, &p), -ENAMETOOLONG);
	p = params();
	p.authzid = big;
	assert_int_equal(pm_pop3back_init(&b, &p), -ENAMETOOLONG);
	big[PM_POP3BACK_USER_MAX + 1] = 'x';
	p = params();
	p.password = big;
	assert_int_equal(pm_pop3back_init(&b, &p), -ENAMETOOLONG);
	assert_true(all_zero(b.password, sizeof(b.password)));
	p.password = NULL;
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p = params();
	p.session_id = "has space";
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p.session_id = "";
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p.session_id = NULL;
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	big[PM_POP3BACK_SID_MAX + 1] = '\0';
	p.session_id = big;
	assert_int_equal(pm_pop3back_init(&b, &p), -ENAMETOOLONG);
	p = params();
	p.client_ip = "1.2.3.4 x";
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p.client_ip = NULL;
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	p = params();
	p.local_ip = "evil\r\n";
	assert_int_equal(pm_pop3back_init(&b, &p), -EINVAL);
	assert_int_equal(pm_pop3back_init(NULL, &p), -EINVAL);
	assert_int_equal(pm_pop3back_init(&b, NULL), -EINVAL);
	/* a failed init leaves a machine that only fails */
	assert_int_equal(pm_pop3back_phase(&b), PM_POP3BACK_PH_DONE);
	p = params();
	p.password = "";
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
}

static void
test_pop3back_longest_login_fits_backend_room(void **state)
{
	struct pm_pop3back_params p = params();
	static char user[PM_POP3BACK_USER_MAX + 1], authzid[PM_POP3BACK_USER_MAX + 1];
	static char pass[PM_POP3BACK_PASS_MAX + 1], sid[PM_POP3BACK_SID_MAX + 1];
	static const char in[] = BANNER_X UPDATED LOGGED_IN;
	struct pm_pop3back b;
	static uint8_t tbm[PM_POP3BACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t c;

	(void)state;
	memset(user, 'u', PM_POP3BACK_USER_MAX);
	memset(authzid, 'z', PM_POP3BACK_USER_MAX);
	memset(pass, 'p', PM_POP3BACK_PASS_MAX);
	memset(sid, 's', PM_POP3BACK_SID_MAX);
	p.user = user;
	p.authzid = authzid;
	p.password = pass;
	p.session_id = sid;
	p.client_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	p.client_port = 65535;
	p.ttl = 4000000000u;
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, sizeof(tbm));	/* exactly the room promised */
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)in, strlen(in), &c, &tb, NULL),
			 PM_POP3BACK_OK);
	/* XCLIENT line + "AUTH PLAIN " + base64 of 1536 bytes + CRLF */
	assert_int_equal(tb.len, strlen("XCLIENT ADDR=ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
					" PORT=65535 SESSION= TTL=3999999999\r\n") +
					 PM_POP3BACK_SID_MAX + 11 + 2048 + 2);
	assert_memory_equal(tb.p + tb.len - 6, "cHBw\r\n", 6);
	/* USER/PASS at their bounds fit too */
	p.authzid = NULL;
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)BANNER_X UPDATED "+OK\r\n",
					  strlen(BANNER_X UPDATED "+OK\r\n"), &c, &tb, NULL),
			 PM_POP3BACK_ERROR);	/* PASS wants the full room again */
	pm_buf_consume(&tb, tb.len);
	assert_int_equal(pm_pop3back_feed(&b, (const uint8_t *)"\n", 1, &c, &tb, NULL),
			 PM_POP3BACK_AGAIN);
	assert_int_equal(tb.len, 5 + PM_POP3BACK_PASS_MAX + 2);
}

static void
test_pop3back_getters_before_a_result_are_empty(void **state)
{
	struct pm_pop3back_params p = params();
	struct pm_pop3back b;

	(void)state;
	assert_int_equal(pm_pop3back_init(&b, &p), 0);
	assert_string_equal(pm_pop3back_text(&b), "");
	assert_string_equal(pm_pop3back_reason(&b), "");
	pm_pop3back_wipe(&b);
	assert_true(all_zero(b.password, sizeof(b.password)));
	assert_true(all_zero(b.user, sizeof(b.user)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop3back_xclient_banner_sends_verified_xclient_and_user),
		cmocka_unit_test(test_pop3back_plain_banner_sends_user_then_pass),
		cmocka_unit_test(test_pop3back_ok_is_the_exact_split_point),
		cmocka_unit_test(test_pop3back_success_line_text_is_kept_whole),
		cmocka_unit_test(test_pop3back_master_login_uses_auth_plain),
		cmocka_unit_test(test_pop3back_crlf_in_credentials_uses_auth_plain),
		cmocka_unit_test(test_pop3back_ttl_and_address_are_in_the_xclient_line),
		cmocka_unit_test(test_pop3back_results_map_like_dovecot),
		cmocka_unit_test(test_pop3back_auth_plain_results),
		cmocka_unit_test(test_pop3back_bad_banners_and_xclient_replies_fail),
		cmocka_unit_test(test_pop3back_framing_errors_fail),
		cmocka_unit_test(test_pop3back_line_bound_is_dovecots),
		cmocka_unit_test(test_pop3back_backend_closing_is_fail),
		cmocka_unit_test(test_pop3back_short_output_room_is_error_and_resumable),
		cmocka_unit_test(test_pop3back_init_rejects_bad_params),
		cmocka_unit_test(test_pop3back_longest_login_fits_backend_room),
		cmocka_unit_test(test_pop3back_getters_before_a_result_are_empty),
	};

	return cmocka_run_group_tests_name("pop3back", tests, NULL, NULL);
}
