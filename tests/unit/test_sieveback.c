/*
 * test_sieveback.c -- the backend-side ManageSieve login machine
 * (proto/sieveback.h).
 *
 * Every dialogue is fed at every chunk size from 1 byte to all of it, and
 * once more at random split points (seeded, printed; PM_SEED replays), and
 * must give identical status, *consumed, output bytes, text and reason each
 * time (STYLE.md 10). The golden bytes are what Pigeonhole 0.5.19's
 * managesieve-login proxy (Debian 12, Dovecot 2.3.19.1) sent to a scripted
 * fake backend, and the greetings and answers of a real Dovecot 2.3.19.1
 * ManageSieve backend (see proto/sieveback.h).
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

#include "proto/sieveback.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x5eb5c0deu
#define OUT_CAP (1u << 17)

/* A real Debian 12 backend's greeting to a trusted proxy (verified). */
#define CAPS_DEBIAN                                                                      \
	"\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n"                         \
	"\"SIEVE\" \"fileinto reject envelope encoded-character vacation subaddress "    \
	"comparator-i;ascii-numeric relational regex imap4flags copy include variables " \
	"body enotify environment mailbox date index ihave duplicate mime foreverypart " \
	"extracttext\"\r\n"                                                              \
	"\"NOTIFY\" \"mailto\"\r\n"                                                      \
	"\"SASL\" \"PLAIN LOGIN\"\r\n"                                                   \
	"\"VERSION\" \"1.0\"\r\n"
#define GREET_TRUSTED CAPS_DEBIAN "\"XCLIENT\"\r\nOK \"Dovecot (Debian) ready.\"\r\n"
#define GREET CAPS_DEBIAN "OK \"Dovecot (Debian) ready.\"\r\n"
/* The fake backend's short greeting */
#define GREET_FAKE "\"IMPLEMENTATION\" \"Fake\"\r\n\"SASL\" \"PLAIN\"\r\n\"VERSION\" \"1.0\"\r\n"

/* What Pigeonhole sent for these params (verified, byte for byte). */
#define VERIFIED_XCLIENT "XCLIENT ADDR=127.0.188.163 PORT=37473 SESSION=ltCAXmFhYZJ/ALyj TTL=4\r\n"
#define VERIFIED_AUTH "AUTHENTICATE \"PLAIN\" \"dXNlcjEAdXNlcjEAcGFzcw==\"\r\n"
#define LOGGED_IN "OK \"Logged in.\"\r\n"

static struct pm_sieveback_params
params(void)
{
	struct pm_sieveback_params p = {
		.session_id = "ltCAXmFhYZJ/ALyj",
		.client_ip = "127.0.188.163",
		.local_ip = "127.0.0.1",
		.client_port = 37473,
		.local_port = 23418,
		.ttl = 5,
		.user = "user1",
		.authzid = NULL,
		.password = "pass",
	};
	return p;
}

/* ---- running a dialogue ---- */

struct run {
	enum pm_sieveback_status st;
	size_t consumed;	/* bytes of the input the machine took */
	uint8_t *tb;		/* to backend */
	size_t tbl;
	char text[PM_SIEVEBACK_TEXT_MAX + 1];
	char reason[128];
	enum pm_sieveback_phase phase;
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
 * then report the end of input with pm_sieveback_closed() if @close. The
 * client buffer is a guard: nothing may ever be written to it.
 */
static void
run_cuts(const struct pm_sieveback_params *p, const uint8_t *in, size_t n, const size_t *cuts,
	 size_t ncuts, bool close, struct run *r)
{
	struct pm_sieveback *b = malloc(sizeof(*b));
	uint8_t guard[8];
	struct pm_buf tb, tc;
	enum pm_sieveback_status st = PM_SIEVEBACK_AGAIN;
	size_t off = 0, k, c;

	assert_non_null(b);
	pm_buf_init(&tb, r->tb, OUT_CAP);
	pm_buf_init(&tc, guard, sizeof(guard));
	assert_int_equal(pm_sieveback_init(b, p), 0);
	for (k = 0; k <= ncuts && st == PM_SIEVEBACK_AGAIN; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		st = pm_sieveback_feed(b, in + off, end - off, &c, &tb, &tc);
		assert_int_not_equal(st, PM_SIEVEBACK_ERROR);
		off += c;
		if (st == PM_SIEVEBACK_AGAIN)
			assert_int_equal(off, end);
	}
	assert_int_equal(tc.len, 0);
	if (st == PM_SIEVEBACK_AGAIN && close)
		st = pm_sieveback_closed(b);
	r->st = st;
	r->consumed = off;
	r->tbl = tb.len;
	r->phase = pm_sieveback_phase(b);
	snprintf(r->text, sizeof(r->text), "%s", pm_sieveback_text(b));
	snprintf(r->reason, sizeof(r->reason), "%s", pm_sieveback_reason(b));
	r->wiped = all_zero(b->password, sizeof(b->password));
	if (st != PM_SIEVEBACK_AGAIN)
		r->wiped = r->wiped && all_zero(b->user, sizeof(b->user)) &&
			   all_zero(b->authzid, sizeof(b->authzid));
	free(b);
}

static void
run_chunk(const struct pm_sieveback_params *p, const uint8_t *in, size_t n, size_t chunk,
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
	    strcmp(a->reason, b->reason) != 0 || a->wiped != b->wiped || a->phase != b->phase)
		fail_msg("chunk size %zu differs: status %d/%d consumed %zu/%zu", chunk,
			 (int)a->st, (int)b->st, a->consumed, b->consumed);
}

/* Next chunk size after @k for an input of @n bytes: every size up to 300,
 * then every 61st; for inputs over 4 KiB (the bounds tests) every size up to
 * 32, then every 997th, to stay fast under ASan at -O0. */
static size_t
dialogue_next_chunk(size_t k, size_t n)
{
	if (n > 4096)
		return k < 32 ? k + 1 : k + 997;
	return k < 300 ? k + 1 : k + 61;
}

/*
 * Run the dialogue @in whole, then at every chunk size (see next_chunk())
 * and at random split points; all runs must agree. Fills @r with the
 * whole-input run.
 */
static void
dialogue(const struct pm_sieveback_params *p, const void *in, size_t n, bool close, struct run *r)
{
	static uint32_t rs;
	struct run o;
	size_t chunk, t, cuts[8], ncuts;

	if (rs == 0)
		rs = pm_test_seed("sieveback random splits", TEST_SEED);
	run_init(r);
	run_chunk(p, in, n, n > 0 ? n : 1, close, r);
	for (chunk = 1; chunk < n; chunk = dialogue_next_chunk(chunk, n)) {
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

/* Run @in and check the status and, for a result, that nothing but the
 * login went out and every credential is gone. */
static void
expect_result(const char *in, enum pm_sieveback_status st, const char *text, const char *tb)
{
	struct pm_sieveback_params p = params();
	struct run r;

	dialogue(&p, in, strlen(in), false, &r);
	if (r.st != st)
		fail_msg("\"%s\": status %d, want %d (%s)", in, (int)r.st, (int)st, r.reason);
	assert_string_equal(r.text, text);
	assert_bytes(r.tb, r.tbl, tb);
	if (st != PM_SIEVEBACK_AGAIN)
		assert_true(r.wiped);
	run_free(&r);
}

/* ---- golden dialogues ---- */

static void
test_sieveback_trusted_greeting_sends_verified_xclient_then_plain(void **state)
{
	struct pm_sieveback_params p = params();
	static const char in[] = GREET_TRUSTED
		"OK \"Updated\"\r\n"
		LOGGED_IN
		"OK \"NOOP Completed\"\r\n";	/* the spliced session's */
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_OK);
	assert_int_equal(r.consumed, sizeof(in) - 1 - strlen("OK \"NOOP Completed\"\r\n"));
	assert_bytes(r.tb, r.tbl, VERIFIED_XCLIENT VERIFIED_AUTH);
	assert_string_equal(r.text, "OK \"Logged in.\"");
	assert_int_equal(r.phase, PM_SIEVEBACK_PH_DONE);
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_sieveback_xclient_waits_for_its_answer(void **state)
{
	struct pm_sieveback_params p = params();
	struct pm_sieveback b;
	uint8_t tbm[8192];
	struct pm_buf tb;
	size_t c;
	static const char greet[] = GREET_TRUSTED;
	static const char updated[] = "OK \"Updated\"\r\n";

	(void)state;
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_GREETING);
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)greet, sizeof(greet) - 1, &c, &tb,
					   NULL),
			 PM_SIEVEBACK_AGAIN);
	/* only XCLIENT, and the password still here for the login */
	assert_bytes(tb.p, tb.len, VERIFIED_XCLIENT);
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_XCLIENT);
	assert_false(all_zero(b.password, sizeof(b.password)));
	tb.len = 0;
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)updated, sizeof(updated) - 1, &c,
					   &tb, NULL),
			 PM_SIEVEBACK_AGAIN);
	assert_bytes(tb.p, tb.len, VERIFIED_AUTH);
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_AUTH);
	/* wiped as soon as it was written */
	assert_true(all_zero(b.password, sizeof(b.password)));
	explicit_bzero(tbm, sizeof(tbm));
	assert_int_equal(pm_sieveback_closed(&b), PM_SIEVEBACK_FAIL);
	assert_true(all_zero(b.user, sizeof(b.user)));
}

static void
test_sieveback_untrusted_greeting_sends_plain_at_once(void **state)
{
	(void)state;
	expect_result(GREET LOGGED_IN, PM_SIEVEBACK_OK, "OK \"Logged in.\"", VERIFIED_AUTH);
	/* the fake backend's greeting (verified) */
	expect_result(GREET_FAKE "OK \"fake ready\"\r\n" LOGGED_IN, PM_SIEVEBACK_OK,
		      "OK \"Logged in.\"", VERIFIED_AUTH);
}

static void
test_sieveback_master_user_sends_authzid(void **state)
{
	struct pm_sieveback_params p = params();
	struct run r;

	(void)state;
	/* base64("user1\0boss\0masterpass"): a real backend with a master
	 * passdb logged user1 in with it (verified) */
	p.user = "boss";
	p.authzid = "user1";
	p.password = "masterpass";
	DIALOGUE(&p, GREET LOGGED_IN, false, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_OK);
	assert_bytes(r.tb, r.tbl, "AUTHENTICATE \"PLAIN\" \"dXNlcjEAYm9zcwBtYXN0ZXJwYXNz\"\r\n");
	run_free(&r);
	/* an empty authzid is none */
	p = params();
	p.authzid = "";
	DIALOGUE(&p, GREET LOGGED_IN, false, &r);
	assert_bytes(r.tb, r.tbl, VERIFIED_AUTH);
	run_free(&r);
}

static void
test_sieveback_ok_line_is_forwarded_verbatim(void **state)
{
	struct pm_sieveback_params p = params();
	static const char in[] = GREET_FAKE "OK \"fake ready\"\r\n"
				 "OK (SASL \"abc\") \"Logged in, welcome.\"\r\nextra-bytes\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_OK);
	assert_int_equal(r.consumed, sizeof(in) - 1 - strlen("extra-bytes\r\n"));
	assert_string_equal(r.text, "OK (SASL \"abc\") \"Logged in, welcome.\"");
	run_free(&r);
	/* any case (verified 'ok "lower ok"'), alone, a bare LF */
	expect_result(GREET "ok \"lower ok\"\r\n", PM_SIEVEBACK_OK, "ok \"lower ok\"", VERIFIED_AUTH);
	expect_result(GREET "OK\r\n", PM_SIEVEBACK_OK, "OK", VERIFIED_AUTH);
	expect_result(GREET "Ok \"x\"\n", PM_SIEVEBACK_OK, "Ok \"x\"", VERIFIED_AUTH);
	/* a literal announced on the OK line is the session's, as in
	 * Pigeonhole, which forwards the line and then proxies */
	expect_result(GREET "OK {5}\r\nhello\r\n", PM_SIEVEBACK_OK, "OK {5}", VERIFIED_AUTH);
}

static void
test_sieveback_no_answers_map_like_pigeonhole(void **state)
{
	static const struct {
		const char *line;
		enum pm_sieveback_status st;
		const char *text;
	} tab[] = {
		/* all verified with the fake backend */
		{ "NO \"Bad password\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (AUTH-TOO-WEAK) \"weak\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "no \"lower\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (TRYLATER/NORETRY) \"no retry\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (TRYLATER)", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (TRYLATER foo) \"x\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO  (TRYLATER) \"x\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (REFERRAL sieve://u@h) \"y\"", PM_SIEVEBACK_AUTHFAILED, "" },
		{ "NO (TRYLATER) \"later please\"", PM_SIEVEBACK_TEMPFAIL, "later please" },
		{ "no (trylater) \"lower\"", PM_SIEVEBACK_TEMPFAIL, "lower" },
		{ "NO (TRYLATER) atomtext", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) atomtext" },
		{ "NO (TRYLATER) \"a \\\"q\\\" b\"", PM_SIEVEBACK_TEMPFAIL, "a \"q\" b" },
		{ "NO (TRYLATER) \"t\\\\a\tb\"", PM_SIEVEBACK_TEMPFAIL, "t\\a\tb" },
		{ "NO (TRYLATER) \"t\tb\"  ", PM_SIEVEBACK_TEMPFAIL, "t\tb" },
		{ "NO (TRYLATER) \"x\" junk", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) \"x\" junk" },
		{ "NO (TRYLATER) {5}", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) {5}" },
		{ "NO (TRYLATER) \"a\xff" "b\xc3\xa9\"", PM_SIEVEBACK_TEMPFAIL,
		  "(TRYLATER) \"a\xff" "b\xc3\xa9\"" },
		{ "NO (TRYLATER) x\xff\xffy\xe2\x82z", PM_SIEVEBACK_TEMPFAIL,
		  "(TRYLATER) x\xff\xffy\xe2\x82z" },
		/* from the parser's rules, not seen: spaces before the string
		 * are skipped, an empty string is a reason, nothing is not */
		{ "NO (TRYLATER)  \"x\"", PM_SIEVEBACK_TEMPFAIL, "x" },
		{ "NO (TRYLATER) \"\"", PM_SIEVEBACK_TEMPFAIL, "" },
		{ "NO (TRYLATER) ", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) " },
		{ "NO (TRYLATER) \"x", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) \"x" },
		{ "NO (TRYLATER) \"x\\y\"", PM_SIEVEBACK_TEMPFAIL, "(TRYLATER) \"x\\y\"" },
	};
	char in[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(in, sizeof(in), GREET_FAKE "OK \"hi\"\r\n%s\r\nOK \"more\"\r\n", tab[i].line);
		expect_result(in, tab[i].st, tab[i].text, VERIFIED_AUTH);
	}
}

static void
test_sieveback_other_answers_fail(void **state)
{
	static const char *const lines[] = {
		"BYE \"go away\"",	/* deliberate: Pigeonhole says AUTHFAILED */
		"OKAY",			/* likewise (verified AUTHFAILED there) */
		"\"\"",			/* a challenge: verified retried */
		"\"abc\" \"def\"",
		"{5}",
		"",
		"NOPE",
		"NO\tx",
		"XYZ \"Logged in.\"",
	};
	char in[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(in, sizeof(in), GREET "%s\r\n" LOGGED_IN, lines[i]);
		expect_result(in, PM_SIEVEBACK_FAIL, "", VERIFIED_AUTH);
	}
}

static void
test_sieveback_greeting_problems_fail_or_are_serverbug(void **state)
{
	static const char I[] = "\"IMPLEMENTATION\" \"Fake\"\r\n";
	static const struct {
		const char *greet;
		enum pm_sieveback_status st;
	} tab[] = {
		/* verified: no retry, NO "Account is temporarily unavailable." */
		{ "\"VERSION\" \"1.0\"\r\nOK \"hi\"\r\n", PM_SIEVEBACK_SERVERBUG },
		{ "\"SASL\" \"\"\r\nOK \"hi\"\r\n", PM_SIEVEBACK_SERVERBUG },
		/* verified: retried */
		{ "\"SASL\"\r\nOK \"hi\"\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" PLAIN\r\nOK \"hi\"\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nNO \"not now\"\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nBYE \"bye\"\r\n", PM_SIEVEBACK_FAIL },
		{ "FOO BAR\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nOKAY\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nOK (X) \"hi\"\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n\"FOO\" {3}\r\nabc\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		/* by the parser's rules */
		{ "\"SASL\" \"PLAIN\"\r\n\"FOO\" \"\xff\"\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n\"FOO\" \"a\\b\"\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n\"FOO\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nOK)\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\nOK \xc3\xa9\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n{2}\r\nOK\r\n", PM_SIEVEBACK_FAIL },
		{ "\"SASL\" \"PLAIN\"\r\n(OK)\r\n", PM_SIEVEBACK_FAIL },
		/* fine (verified): case, SASL without PLAIN, other lines, a
		 * third argument, bare LF, atoms after OK */
		{ "\"sasl\" \"plain\"\r\n\"VERSION\" \"1.0\"\r\nok\r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"LOGIN\"\r\nOK \"hi\"\r\n", PM_SIEVEBACK_OK },
		{ "\"SIEVE\" \"fileinto\"\r\n\"NOTIFY\" \"mailto\"\r\n\"STARTTLS\"\r\n"
		  "\"UNAUTHENTICATE\"\r\n\"FOO\" \"a \\\"b\\\"\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n",
		  PM_SIEVEBACK_OK },
		{ "\"SASL\" \"PLAIN\" \"extra\"\r\nOK\r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"PLAIN\"\n\"VERSION\" \"1.0\"\nOK\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"PLAIN\"\r\nOK hi there\r\n", PM_SIEVEBACK_OK },
		/* not seen, by the parser's rules: only two arguments are read */
		{ "\"SASL\" \"PLAIN\" (x {5}\r\nOK \"hi\" (x\r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \" \"\r\nOK\r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"PLAIN\"\r\n  OK  \r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n", PM_SIEVEBACK_OK },
		{ "\"SASL\" \"PLAIN\"\r\n\"SASL\" \"\"\r\nOK\r\n", PM_SIEVEBACK_OK },
		{ "\"IMPLEMENTATIONIMPLEMENTATION\" \"x\"\r\n\"SASL\" {5}\r\nOK\r\n",
		  PM_SIEVEBACK_FAIL },
	};
	char in[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(in, sizeof(in), "%s%s" LOGGED_IN, I, tab[i].greet);
		expect_result(in, tab[i].st, tab[i].st == PM_SIEVEBACK_OK ? "OK \"Logged in.\"" : "",
			      tab[i].st == PM_SIEVEBACK_OK ? VERIFIED_AUTH : "");
	}
}

static void
test_sieveback_xclient_answers(void **state)
{
	static const char X[] = GREET_FAKE "\"XCLIENT\"\r\nOK\r\n";

	(void)state;
	/* verified: NO and junk are retried; "ok" goes on */
	expect_result(GREET_FAKE "\"XCLIENT\"\r\nOK\r\nNO \"nope\"\r\n" LOGGED_IN, PM_SIEVEBACK_FAIL,
		      "", VERIFIED_XCLIENT);
	expect_result(GREET_FAKE "\"XCLIENT\"\r\nOK\r\n\"x\"\r\n" LOGGED_IN, PM_SIEVEBACK_FAIL, "",
		      VERIFIED_XCLIENT);
	expect_result(GREET_FAKE "\"XCLIENT\"\r\nOK\r\nok\r\n" LOGGED_IN, PM_SIEVEBACK_OK,
		      "OK \"Logged in.\"", VERIFIED_XCLIENT VERIFIED_AUTH);
	expect_result(GREET_FAKE "\"xclient\"\r\nOK\r\nOK junk (\r\n" LOGGED_IN, PM_SIEVEBACK_OK,
		      "OK \"Logged in.\"", VERIFIED_XCLIENT VERIFIED_AUTH);
	expect_result(GREET_FAKE "\"XCLIENT\"\r\nOK\r\nOKAY\r\n" LOGGED_IN, PM_SIEVEBACK_FAIL, "",
		      VERIFIED_XCLIENT);
	(void)X;
}

static void
test_sieveback_ttl_and_session_are_in_xclient(void **state)
{
	struct pm_sieveback_params p = params();
	struct run r;

	(void)state;
	p.ttl = 0;	/* the default, 5 */
	p.client_ip = "2001:db8::7";
	p.client_port = 1;
	p.session_id = "abc+/=";
	DIALOGUE(&p, GREET_TRUSTED, false, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_AGAIN);
	assert_bytes(r.tb, r.tbl, "XCLIENT ADDR=2001:db8::7 PORT=1 SESSION=abc+/= TTL=4\r\n");
	run_free(&r);
	p.ttl = 2;
	DIALOGUE(&p, GREET_TRUSTED, false, &r);
	assert_bytes(r.tb, r.tbl, "XCLIENT ADDR=2001:db8::7 PORT=1 SESSION=abc+/= TTL=1\r\n");
	run_free(&r);
}

static void
test_sieveback_framing_is_strict(void **state)
{
	static char big[3 * PM_SIEVEBACK_LINE_MAX];
	static char greet[PM_SIEVEBACK_GREETING_MAX + 256];
	size_t n;

	(void)state;
	expect_result(GREET "OK \"a\rb\"\r\n", PM_SIEVEBACK_FAIL, "", VERIFIED_AUTH);
	expect_result("\"SASL\" \"PLAIN\"\rOK\r\n", PM_SIEVEBACK_FAIL, "", "");
	/* a line of exactly the bound (line end included) is fine, one more
	 * byte is not */
	n = (size_t)snprintf(big, sizeof(big), "\"X\" \"%0*d\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n",
			     (int)(PM_SIEVEBACK_LINE_MAX - 8), 0);
	expect_result(big, PM_SIEVEBACK_AGAIN, "", VERIFIED_AUTH);
	(void)n;
	snprintf(big, sizeof(big), "\"X\" \"%0*d\"\r\n\"SASL\" \"PLAIN\"\r\nOK\r\n",
		 (int)(PM_SIEVEBACK_LINE_MAX - 7), 0);
	expect_result(big, PM_SIEVEBACK_FAIL, "", "");
	snprintf(big, sizeof(big), GREET "NO \"%0*d\"\r\n", (int)(PM_SIEVEBACK_LINE_MAX + 10), 0);
	expect_result(big, PM_SIEVEBACK_FAIL, "", VERIFIED_AUTH);
	/* the whole greeting is bounded too */
	n = 0;
	while (n + 16 < PM_SIEVEBACK_GREETING_MAX)
		n += (size_t)snprintf(greet + n, sizeof(greet) - n, "\"X%09zu\"\r\n", n);
	snprintf(greet + n, sizeof(greet) - n, "\"SASL\" \"PLAIN\"\r\nOK\r\n");
	expect_result(greet, PM_SIEVEBACK_FAIL, "", "");
}

static void
test_sieveback_nul_is_fail(void **state)
{
	struct pm_sieveback_params p = params();
	static const char in[] = GREET "OK \"a\0b\"\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_FAIL);
	assert_string_equal(r.reason, "a NUL from the backend");
	run_free(&r);
}

static void
test_sieveback_long_texts_are_bounded(void **state)
{
	static char in[PM_SIEVEBACK_LINE_MAX], want[PM_SIEVEBACK_TEXT_MAX + 1];
	size_t k;

	(void)state;
	/* an OK line that cannot be forwarded whole is FAIL */
	snprintf(in, sizeof(in), GREET "OK \"%0*d\"\r\n", (int)PM_SIEVEBACK_TEXT_MAX - 5, 0);
	snprintf(want, sizeof(want), "OK \"%0*d\"", (int)PM_SIEVEBACK_TEXT_MAX - 5, 0);
	expect_result(in, PM_SIEVEBACK_OK, want, VERIFIED_AUTH);
	snprintf(in, sizeof(in), GREET "OK \"%0*d\"\r\n", (int)PM_SIEVEBACK_TEXT_MAX - 4, 0);
	expect_result(in, PM_SIEVEBACK_FAIL, "", VERIFIED_AUTH);
	/* a long reason is cut, never inside a UTF-8 character */
	k = (size_t)snprintf(in, sizeof(in), GREET "NO (TRYLATER) \"");
	memset(want, 0, sizeof(want));
	while (k + 4 < sizeof(in) - 8)
		k += (size_t)snprintf(in + k, sizeof(in) - k, "\xe2\x82\xac");
	snprintf(in + k, sizeof(in) - k, "\"\r\n");
	/* kept: 1024 bytes of the line, 1009 after the prefix and the quote:
	 * 336 euro signs and a third of one, which goes */
	for (k = 0; k < 336; k++)
		memcpy(want + 3 * k, "\xe2\x82\xac", 3);
	expect_result(in, PM_SIEVEBACK_TEMPFAIL, want, VERIFIED_AUTH);
}

static void
test_sieveback_backend_closing_is_fail(void **state)
{
	struct pm_sieveback_params p = params();
	struct run r;

	(void)state;
	/* verified: retried like a connect failure */
	DIALOGUE(&p, GREET, true, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_FAIL);
	assert_string_equal(r.reason, "the backend closed the connection");
	assert_true(r.wiped);
	run_free(&r);
	DIALOGUE(&p, "", true, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_FAIL);
	run_free(&r);
	DIALOGUE(&p, "\"SASL\" \"PL", true, &r);
	assert_int_equal(r.st, PM_SIEVEBACK_FAIL);
	run_free(&r);
}

static void
test_sieveback_result_is_sticky(void **state)
{
	struct pm_sieveback_params p = params();
	struct pm_sieveback b;
	uint8_t tbm[8192];
	struct pm_buf tb;
	size_t c;
	static const char in[] = GREET "NO \"x\"\r\n";

	(void)state;
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)in, sizeof(in) - 1, &c, &tb, NULL),
			 PM_SIEVEBACK_AUTHFAILED);
	assert_int_equal(c, sizeof(in) - 1);
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)LOGGED_IN, 17, &c, &tb, NULL),
			 PM_SIEVEBACK_AUTHFAILED);
	assert_int_equal(c, 0);
	assert_int_equal(pm_sieveback_closed(&b), PM_SIEVEBACK_AUTHFAILED);
	assert_string_equal(pm_sieveback_reason(&b), "");
	assert_string_equal(pm_sieveback_text(&b), "");
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_DONE);
}

/* ---- output room (PM_SIEVEBACK_ERROR) ---- */

static void
test_sieveback_short_output_room_is_error_and_resumable(void **state)
{
	struct pm_sieveback_params p = params();
	static const char in[] = GREET_TRUSTED "OK \"Updated\"\r\n" LOGGED_IN;
	struct pm_sieveback b;
	uint8_t tbm[2 * PM_SIEVEBACK_BACKEND_ROOM], all[8192];
	struct pm_buf tb;
	size_t off = 0, c, alll = 0, errors = 0;
	enum pm_sieveback_status st;

	(void)state;
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, 100);
	for (;;) {
		st = pm_sieveback_feed(&b, (const uint8_t *)in + off, sizeof(in) - 1 - off, &c, &tb,
				       NULL);
		off += c;
		if (st != PM_SIEVEBACK_ERROR)
			break;
		errors++;
		assert_int_equal(in[off], '\n');	/* stopped before a line's LF */
		assert_true(errors < 10);
		/* drain what was written, then give room */
		memcpy(all + alll, tb.p, tb.len);
		alll += tb.len;
		tb.len = 0;
		tb.cap = sizeof(tbm);
	}
	memcpy(all + alll, tb.p, tb.len);
	alll += tb.len;
	assert_int_equal(st, PM_SIEVEBACK_OK);
	assert_int_equal(errors, 1);	/* the greeting's OK; XCLIENT's OK had room */
	assert_int_equal(off, sizeof(in) - 1);
	assert_bytes(all, alll, VERIFIED_XCLIENT VERIFIED_AUTH);
	/* an unusable buffer is ERROR too, before anything is read */
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	tb.len = tb.cap + 1;
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)in, 1, &c, &tb, NULL),
			 PM_SIEVEBACK_ERROR);
	assert_int_equal(c, 0);
	tb.len = 0;
	assert_int_equal(pm_sieveback_feed(&b, NULL, 1, &c, &tb, NULL), PM_SIEVEBACK_ERROR);
	assert_int_equal(pm_sieveback_feed(&b, NULL, 0, &c, &tb, NULL), PM_SIEVEBACK_AGAIN);
}

/* ---- init ---- */

static void
test_sieveback_init_rejects_bad_params(void **state)
{
	struct pm_sieveback_params p;
	struct pm_sieveback b;
	static char big[2048];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	p = params();
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	assert_int_equal(pm_sieveback_init(&b, NULL), -EINVAL);
	assert_int_equal(pm_sieveback_init(NULL, &p), -EINVAL);
#define BAD(field, value, err)                                                  \
	do {                                                                    \
		p = params();                                                   \
		p.field = value;                                                \
		assert_int_equal(pm_sieveback_init(&b, &p), err);               \
		assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_DONE); \
		assert_true(all_zero(b.password, sizeof(b.password)));          \
		assert_true(all_zero(b.user, sizeof(b.user)));                  \
	} while (0)
	BAD(ttl, 1, -ELOOP);
	BAD(session_id, NULL, -EINVAL);
	BAD(session_id, "", -EINVAL);
	BAD(session_id, "a\"b", -EINVAL);
	BAD(session_id, "a b", -EINVAL);
	BAD(session_id, "a(b", -EINVAL);
	BAD(session_id, "a{b", -EINVAL);
	BAD(session_id, "a\\b", -EINVAL);
	BAD(session_id, "\xc3\xa9", -EINVAL);
	BAD(session_id, big + sizeof(big) - 1 - 65, -ENAMETOOLONG);
	BAD(client_ip, "1.2.3.4\r\n", -EINVAL);
	BAD(client_ip, "", -EINVAL);
	BAD(client_ip, NULL, -EINVAL);
	BAD(client_ip, "1.2.3.4 X", -EINVAL);
	BAD(local_ip, NULL, -EINVAL);
	BAD(local_ip, "a\"", -EINVAL);
	BAD(user, NULL, -EINVAL);
	BAD(user, "", -EINVAL);
	BAD(user, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(authzid, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(password, NULL, -EINVAL);
	BAD(password, big + sizeof(big) - 1 - 1025, -ENAMETOOLONG);
#undef BAD
	/* the bounds themselves are fine */
	p = params();
	p.user = big + sizeof(big) - 1 - 255;
	p.authzid = big + sizeof(big) - 1 - 255;
	p.password = big + sizeof(big) - 1 - 1024;
	p.session_id = big + sizeof(big) - 1 - 64;
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	assert_int_equal(b.pass_len, 1024);
	p.password = "";
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_GREETING);
}

static void
test_sieveback_longest_login_fits_backend_room(void **state)
{
	static char user[PM_SIEVEBACK_USER_MAX + 1], authz[PM_SIEVEBACK_USER_MAX + 1],
		pass[PM_SIEVEBACK_PASS_MAX + 1], sid[PM_SIEVEBACK_SID_MAX + 1];
	struct pm_sieveback_params p = params();
	struct pm_sieveback b;
	uint8_t tbm[PM_SIEVEBACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t c;
	static const char greet[] = GREET_TRUSTED;
	static const char updated[] = "OK \"Updated\"\r\n";

	(void)state;
	memset(user, 0xff, sizeof(user) - 1);
	memset(authz, '\n', sizeof(authz) - 1);
	memset(pass, 0x80, sizeof(pass) - 1);
	memset(sid, 'S', sizeof(sid) - 1);
	p.user = user;
	p.authzid = authz;
	p.password = pass;
	p.session_id = sid;
	p.client_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	p.client_port = 65535;
	p.ttl = 4000000000u;
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, sizeof(tbm));
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)greet, sizeof(greet) - 1, &c, &tb,
					   NULL),
			 PM_SIEVEBACK_AGAIN);
	assert_int_equal(c, sizeof(greet) - 1);
	assert_bytes(tb.p, tb.len,
		     "XCLIENT ADDR=ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 PORT=65535 "
		     "SESSION=SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS "
		     "TTL=3999999999\r\n");
	tb.len = 0;
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)updated, sizeof(updated) - 1, &c,
					   &tb, NULL),
			 PM_SIEVEBACK_AGAIN);
	assert_int_equal(pm_sieveback_phase(&b), PM_SIEVEBACK_PH_AUTH);
	/* 4 * ceil((255 + 1 + 255 + 1 + 1024) / 3) base64 bytes */
	assert_true(tb.len > 2048);
	assert_memory_equal(tb.p + tb.len - 3, "\"\r\n", 3);
}

static void
test_sieveback_to_client_is_never_written(void **state)
{
	struct pm_sieveback_params p = params();
	struct pm_sieveback b;
	uint8_t tbm[8192], tcm[1];
	struct pm_buf tb, tc;
	size_t c;
	static const char in[] = GREET_TRUSTED "OK\r\nOK \"x\"\r\n";

	(void)state;
	assert_int_equal(pm_sieveback_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, sizeof(tbm));
	pm_buf_init(&tc, tcm, 0);	/* no room at all */
	assert_int_equal(pm_sieveback_feed(&b, (const uint8_t *)in, sizeof(in) - 1, &c, &tb, &tc),
			 PM_SIEVEBACK_OK);
	assert_int_equal(tc.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sieveback_trusted_greeting_sends_verified_xclient_then_plain),
		cmocka_unit_test(test_sieveback_xclient_waits_for_its_answer),
		cmocka_unit_test(test_sieveback_untrusted_greeting_sends_plain_at_once),
		cmocka_unit_test(test_sieveback_master_user_sends_authzid),
		cmocka_unit_test(test_sieveback_ok_line_is_forwarded_verbatim),
		cmocka_unit_test(test_sieveback_no_answers_map_like_pigeonhole),
		cmocka_unit_test(test_sieveback_other_answers_fail),
		cmocka_unit_test(test_sieveback_greeting_problems_fail_or_are_serverbug),
		cmocka_unit_test(test_sieveback_xclient_answers),
		cmocka_unit_test(test_sieveback_ttl_and_session_are_in_xclient),
		cmocka_unit_test(test_sieveback_framing_is_strict),
		cmocka_unit_test(test_sieveback_nul_is_fail),
		cmocka_unit_test(test_sieveback_long_texts_are_bounded),
		cmocka_unit_test(test_sieveback_backend_closing_is_fail),
		cmocka_unit_test(test_sieveback_result_is_sticky),
		cmocka_unit_test(test_sieveback_short_output_room_is_error_and_resumable),
		cmocka_unit_test(test_sieveback_init_rejects_bad_params),
		cmocka_unit_test(test_sieveback_longest_login_fits_backend_room),
		cmocka_unit_test(test_sieveback_to_client_is_never_written),
	};

	return cmocka_run_group_tests_name("sieveback", tests, NULL, NULL);
}
