/*
 * test_imapback.c -- the backend-side IMAP login machine (proto/imapback.h).
 *
 * Every dialogue is fed at every chunk size from 1 byte to all of it, and
 * once more at random split points (seeded, printed; PM_SEED replays), and
 * must give identical status, *consumed and output bytes each time
 * (STYLE.md 10). The golden bytes come from shared/spec/director.md section
 * 5 (the verified ID line) and from what the Debian 12 Dovecot 2.3.19.1
 * imap-login proxy did against a scripted backend (see proto/imapback.h).
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

#include "proto/imapback.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x1ab3c0deu
#define OUT_CAP (1u << 17)

/* The verified ID line (director.md section 5) and the params that give it. */
#define VERIFIED_ID \
	"I ID (\"x-session-id\" \"ugbLxVth9OJ/AAAB\" \"x-originating-ip\" \"127.0.0.1\" " \
	"\"x-originating-port\" \"58100\" \"x-connected-ip\" \"127.0.0.1\" " \
	"\"x-connected-port\" \"12143\" \"x-proxy-ttl\" \"4\")\r\n"

#define DOVECOT_CAPS \
	"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"
#define BANNER "* OK [CAPABILITY " DOVECOT_CAPS "] Dovecot (Debian) ready.\r\n"
#define LOGGED_IN_CAPS "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+"

static struct pm_imapback_params
params(void)
{
	struct pm_imapback_params p = {
		.session_id = "ugbLxVth9OJ/AAAB",
		.client_ip = "127.0.0.1",
		.local_ip = "127.0.0.1",
		.client_port = 58100,
		.local_port = 12143,
		.ttl = 5,
		.user = "user1",
		.authzid = NULL,
		.password = "pass",
		.client_sent_capability = false,
	};
	return p;
}

/* ---- running a dialogue ---- */

struct run {
	enum pm_imapback_status st;
	size_t consumed;	/* bytes of the input the machine took */
	uint8_t *tb, *tc;	/* to backend, to client */
	size_t tbl, tcl;
	char caps[PM_IMAPBACK_CAPS_MAX + 1];
	bool has_caps;
	char text[PM_IMAPBACK_TEXT_MAX + 1];
	char reply[PM_IMAPBACK_REPLY_MAX + 1];	/* client_reply("a1") */
	bool wiped;		/* every credential byte was zero at the end */
};

static void
run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->tb = calloc(1, OUT_CAP);
	r->tc = calloc(1, OUT_CAP);
	assert_non_null(r->tb);
	assert_non_null(r->tc);
}

static void
run_free(struct run *r)
{
	free(r->tb);
	free(r->tc);
}

/*
 * Feed @in split at the offsets @cuts (sorted, 0 < cut < n; ncuts of them),
 * then report the end of input with pm_imapback_closed() if @close.
 */
static void
run_cuts(const struct pm_imapback_params *p, const uint8_t *in, size_t n, const size_t *cuts,
	 size_t ncuts, bool close, struct run *r)
{
	struct pm_imapback *b = malloc(sizeof(*b));
	struct pm_imapback_buf tb = { r->tb, 0, OUT_CAP }, tc = { r->tc, 0, OUT_CAP };
	enum pm_imapback_status st = PM_IMAPBACK_AGAIN;
	size_t off = 0, k, c;
	struct pm_imapback_buf rb;
	const char *caps;

	assert_non_null(b);
	assert_int_equal(pm_imapback_init(b, p), 0);
	for (k = 0; k <= ncuts && st == PM_IMAPBACK_AGAIN; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		st = pm_imapback_feed(b, in + off, end - off, &c, &tb, &tc);
		assert_int_not_equal(st, PM_IMAPBACK_ERROR);
		off += c;
		if (st == PM_IMAPBACK_AGAIN)
			assert_int_equal(off, end);
	}
	if (st == PM_IMAPBACK_AGAIN && close)
		st = pm_imapback_closed(b);
	r->st = st;
	r->consumed = off;
	r->tbl = tb.len;
	r->tcl = tc.len;
	caps = pm_imapback_caps(b);
	r->has_caps = caps != NULL;
	snprintf(r->caps, sizeof(r->caps), "%s", caps != NULL ? caps : "");
	snprintf(r->text, sizeof(r->text), "%s", pm_imapback_text(b));
	r->reply[0] = '\0';
	if (st != PM_IMAPBACK_AGAIN) {
		rb.p = (uint8_t *)r->reply;
		rb.len = 0;
		rb.cap = sizeof(r->reply) - 1;
		assert_int_equal(pm_imapback_client_reply(b, st, "a1", &rb), 0);
		r->reply[rb.len] = '\0';
	}
	r->wiped = all_zero(b->password, sizeof(b->password));
	if (st != PM_IMAPBACK_AGAIN)
		r->wiped = r->wiped && all_zero(b->user, sizeof(b->user)) &&
			   all_zero(b->authzid, sizeof(b->authzid));
	free(b);
}

static void
run_chunk(const struct pm_imapback_params *p, const uint8_t *in, size_t n, size_t chunk,
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
	    a->tcl != b->tcl || memcmp(a->tb, b->tb, a->tbl) != 0 ||
	    memcmp(a->tc, b->tc, a->tcl) != 0 || strcmp(a->caps, b->caps) != 0 ||
	    strcmp(a->text, b->text) != 0 || strcmp(a->reply, b->reply) != 0 ||
	    a->wiped != b->wiped)
		fail_msg("chunk size %zu differs: status %d/%d consumed %zu/%zu", chunk,
			 (int)a->st, (int)b->st, a->consumed, b->consumed);
}

/*
 * Run the dialogue @in whole, then at every chunk size and at random split
 * points; all runs must agree. Fills @r with the whole-input run.
 */
static void
dialogue(const struct pm_imapback_params *p, const void *in, size_t n, bool close, struct run *r)
{
	static uint32_t rs;
	struct run o;
	size_t chunk, t, cuts[8], ncuts;

	if (rs == 0)
		rs = pm_test_seed("imapback random splits", TEST_SEED);
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
test_imapback_banner_with_id_sends_verified_id_and_login(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] =
		BANNER
		"I OK ID completed.\r\n"
		"L OK [CAPABILITY " LOGGED_IN_CAPS "] Logged in\r\n"
		"* 1 EXISTS\r\n";	/* the spliced session's */
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_int_equal(r.consumed, sizeof(in) - 1 - strlen("* 1 EXISTS\r\n"));
	assert_bytes(r.tb, r.tbl, VERIFIED_ID "L LOGIN \"user1\" \"pass\"\r\n");
	assert_int_equal(r.tcl, 0);
	assert_string_equal(r.caps, LOGGED_IN_CAPS);
	assert_string_equal(r.text, "Logged in");
	assert_string_equal(r.reply, "a1 OK [CAPABILITY " LOGGED_IN_CAPS "] Logged in\r\n");
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_imapback_ok_is_the_exact_split_point(void **state)
{
	struct pm_imapback_params p = params();
	/* Everything after the L OK line is the session's, even bytes that
	 * look like more login replies. */
	static const char in[] =
		BANNER
		"L OK Logged in\r\n"
		"L NO [AUTHENTICATIONFAILED] not ours\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_int_equal(r.consumed, strlen(BANNER "L OK Logged in\r\n"));
	/* No [CAPABILITY] on the line: the banner's are shown (Dovecot). */
	assert_string_equal(r.caps, DOVECOT_CAPS);
	assert_string_equal(r.reply, "a1 OK [CAPABILITY " DOVECOT_CAPS "] Logged in\r\n");
	run_free(&r);
}

static void
test_imapback_banner_without_caps_asks_capability_first(void **state)
{
	struct pm_imapback_params p = params();
	struct pm_imapback b;
	uint8_t tbm[8192], tcm[8192];
	struct pm_imapback_buf tb = { tbm, 0, sizeof(tbm) }, tc = { tcm, 0, sizeof(tcm) };
	static const char banner[] = "* OK ready\r\n";
	static const char capa[] = "* CAPABILITY IMAP4rev1 ID XYZ\r\nC OK done\r\n";
	static const char in[] = "* OK ready\r\n"
				 "* CAPABILITY IMAP4rev1 ID XYZ\r\nC OK done\r\n"
				 "I OK\r\nL OK Logged in\r\n";
	struct run r;
	size_t c;

	(void)state;
	/* Step by step: only C CAPABILITY goes out until its tagged reply. */
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)banner, sizeof(banner) - 1, &c,
					  &tb, &tc), PM_IMAPBACK_AGAIN);
	assert_bytes(tb.p, tb.len, "C CAPABILITY\r\n");
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_CAPA);
	tb.len = 0;
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)capa, sizeof(capa) - 1, &c,
					  &tb, &tc), PM_IMAPBACK_AGAIN);
	assert_bytes(tb.p, tb.len, VERIFIED_ID "L LOGIN \"user1\" \"pass\"\r\n");
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_LOGIN);

	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "C CAPABILITY\r\n" VERIFIED_ID "L LOGIN \"user1\" \"pass\"\r\n");
	assert_string_equal(r.reply, "a1 OK [CAPABILITY IMAP4rev1 ID XYZ] Logged in\r\n");
	run_free(&r);
}

static void
test_imapback_capability_reply_failing_still_logs_in_without_id(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] = "* OK ready\r\nC BAD unknown command\r\nL OK in\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "C CAPABILITY\r\nL LOGIN \"user1\" \"pass\"\r\n");
	assert_false(r.has_caps);
	assert_string_equal(r.reply, "a1 OK in\r\n");
	run_free(&r);
}

static void
test_imapback_no_id_capability_sends_no_id(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\nL OK in\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "L LOGIN \"user1\" \"pass\"\r\n");
	run_free(&r);
}

static void
test_imapback_ttl_and_ports_are_in_the_id_line(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] = "* OK [CAPABILITY IMAP4rev1 ID] hi\r\nL OK in\r\n";
	struct run r;

	(void)state;
	p.ttl = 0;		/* the default, 5: x-proxy-ttl 4 */
	p.session_id = "s1";
	p.client_ip = "2001:db8::1";
	p.client_port = 1;
	p.local_ip = "192.0.2.10";
	p.local_port = 65535;
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl,
		     "I ID (\"x-session-id\" \"s1\" \"x-originating-ip\" \"2001:db8::1\" "
		     "\"x-originating-port\" \"1\" \"x-connected-ip\" \"192.0.2.10\" "
		     "\"x-connected-port\" \"65535\" \"x-proxy-ttl\" \"4\")\r\n"
		     "L LOGIN \"user1\" \"pass\"\r\n");
	run_free(&r);
	p.ttl = 2;
	DIALOGUE(&p, in, false, &r);
	assert_non_null(strstr((const char *)r.tb, "\"x-proxy-ttl\" \"1\")"));
	run_free(&r);
}

static void
test_imapback_quote_and_backslash_are_escaped(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] = "* OK [CAPABILITY IMAP4rev1] hi\r\nL OK in\r\n";
	struct run r;

	(void)state;
	p.user = "a\"b\\c";
	p.password = "\\\"p\xc3\xa4ss word\"";	/* 8-bit bytes stay quoted */
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl, "L LOGIN \"a\\\"b\\\\c\" \"\\\\\\\"p\xc3\xa4ss word\\\"\"\r\n");
	run_free(&r);
	p.user = "u";
	p.password = "";
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl, "L LOGIN \"u\" \"\"\r\n");
	run_free(&r);
}

static void
test_imapback_user_with_cr_uses_plain_with_sasl_ir(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] =
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"
		"L OK [CAPABILITY IMAP4rev1] in\r\n";
	struct run r;

	(void)state;
	p.user = "us\rer";
	p.password = "pass";
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	/* base64("\0us\rer\0pass") */
	assert_bytes(r.tb, r.tbl, "L AUTHENTICATE PLAIN AHVzDWVyAHBhc3M=\r\n");
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_imapback_crlf_without_sasl_ir_uses_literals_after_continuations(void **state)
{
	struct pm_imapback_params p = params();
	struct pm_imapback b;
	uint8_t tbm[8192], tcm[8192];
	struct pm_imapback_buf tb = { tbm, 0, sizeof(tbm) }, tc = { tcm, 0, sizeof(tcm) };
	static const char banner[] = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n";
	static const char cont[] = "+ OK\r\n";
	static const char in[] = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"
				 "+ OK\r\n+ OK\r\nL OK in\r\n";
	struct run r;
	size_t c;

	(void)state;
	p.user = "us\rer";
	p.password = "pa\nss";
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)banner, sizeof(banner) - 1, &c,
					  &tb, &tc), PM_IMAPBACK_AGAIN);
	assert_bytes(tb.p, tb.len, "L LOGIN {5}\r\n");
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_CONT);
	tb.len = 0;
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)cont, sizeof(cont) - 1, &c, &tb,
					  &tc), PM_IMAPBACK_AGAIN);
	assert_bytes(tb.p, tb.len, "us\rer {5}\r\n");
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_CONT);
	assert_false(all_zero(b.password, sizeof(b.password)));	/* still needed */
	tb.len = 0;
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)cont, sizeof(cont) - 1, &c, &tb,
					  &tc), PM_IMAPBACK_AGAIN);
	assert_bytes(tb.p, tb.len, "pa\nss\r\n");
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_LOGIN);
	assert_true(all_zero(b.password, sizeof(b.password)));

	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "L LOGIN {5}\r\nus\rer {5}\r\npa\nss\r\n");
	run_free(&r);

	/* Only the password needs a literal: the user stays quoted. */
	p.user = "user1";
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1] hi\r\n+ go\r\nL OK in\r\n", false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "L LOGIN \"user1\" {5}\r\npa\nss\r\n");
	run_free(&r);
}

static void
test_imapback_literal_refused_is_the_result(void **state)
{
	struct pm_imapback_params p = params();
	struct run r;

	(void)state;
	p.password = "pa\nss";
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1] hi\r\nL NO [ALERT] no literals\r\n", false,
		 &r);
	assert_int_equal(r.st, PM_IMAPBACK_VERBATIM);
	assert_bytes(r.tb, r.tbl, "L LOGIN \"user1\" {5}\r\n");
	assert_true(r.wiped);
	run_free(&r);
	/* An OK while our command is incomplete answers nothing of ours. */
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1] hi\r\nL OK sure\r\n", false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_FAIL);
	run_free(&r);
}

static void
test_imapback_authzid_uses_plain(void **state)
{
	struct pm_imapback_params p = params();
	struct run r;

	(void)state;
	p.user = "master";
	p.authzid = "user1";
	p.password = "secret";
	/* base64("user1\0master\0secret") */
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1 ID SASL-IR AUTH=PLAIN] hi\r\nL OK in\r\n",
		 false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, VERIFIED_ID "L AUTHENTICATE PLAIN dXNlcjEAbWFzdGVyAHNlY3JldA==\r\n");
	run_free(&r);
	/* Without SASL-IR: the response follows the "+". */
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n+ \r\nL OK in\r\n", false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl,
		     "L AUTHENTICATE PLAIN\r\ndXNlcjEAbWFzdGVyAHNlY3JldA==\r\n");
	run_free(&r);
	/* Without AUTH=PLAIN it cannot be done: SERVERBUG, nothing sent. */
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1 ID SASL-IR] hi\r\n", false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_SERVERBUG);
	assert_int_equal(r.tbl, 0);
	assert_string_equal(r.reply, "a1 NO [SERVERBUG] Account is temporarily unavailable.\r\n");
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_imapback_logindisabled_is_serverbug_unless_plain(void **state)
{
	struct pm_imapback_params p = params();
	struct run r;

	(void)state;
	/* Dovecot writes nothing, not even the ID (verified). */
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1 ID LOGINDISABLED] ready\r\n", false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_SERVERBUG);
	assert_int_equal(r.tbl, 0);
	assert_int_equal(r.consumed, strlen("* OK [CAPABILITY IMAP4rev1 ID LOGINDISABLED] ready\r\n"));
	run_free(&r);
	DIALOGUE(&p, "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] r\r\nL OK in\r\n",
		 false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, "L AUTHENTICATE PLAIN AHVzZXIxAHBhc3M=\r\n");
	run_free(&r);
}

static void
test_imapback_client_capability_pipelines_c_and_untagged_reply(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] =
		BANNER
		"I OK\r\n* CAPABILITY " LOGGED_IN_CAPS "\r\nC OK done\r\nL OK Logged in\r\n";
	struct run r;

	(void)state;
	p.client_sent_capability = true;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_bytes(r.tb, r.tbl, VERIFIED_ID "C CAPABILITY\r\nL LOGIN \"user1\" \"pass\"\r\n");
	assert_int_equal(r.tcl, 0);	/* "* CAPABILITY" is swallowed */
	assert_string_equal(r.reply,
			    "* CAPABILITY " LOGGED_IN_CAPS "\r\na1 OK Logged in\r\n");
	run_free(&r);
}

/* ---- every result ---- */

static void
test_imapback_no_results_map_like_dovecot(void **state)
{
	static const struct {
		const char *line;
		enum pm_imapback_status st;
		const char *text, *reply;
	} v[] = {
		{ "L NO [AUTHENTICATIONFAILED] Unknown user\r\n", PM_IMAPBACK_AUTHFAILED, "",
		  "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" },
		{ "L NO [authenticationfailed] x\r\n", PM_IMAPBACK_AUTHFAILED, "",
		  "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" },
		{ "L NO bad password\r\n", PM_IMAPBACK_AUTHFAILED, "",
		  "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" },
		{ "L no bad\r\n", PM_IMAPBACK_AUTHFAILED, "",
		  "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" },
		{ "L NO \r\n", PM_IMAPBACK_AUTHFAILED, "",
		  "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" },
		{ "L NO [UNAVAILABLE] Maintenance, try later\r\n", PM_IMAPBACK_TEMPFAIL,
		  "Maintenance, try later", "a1 NO [UNAVAILABLE] Maintenance, try later\r\n" },
		{ "L NO [UNAVAILABLE]\r\n", PM_IMAPBACK_TEMPFAIL,
		  "Account is temporarily unavailable.",
		  "a1 NO [UNAVAILABLE] Account is temporarily unavailable.\r\n" },
		{ "L NO [ALERT] go away\r\n", PM_IMAPBACK_VERBATIM, "[ALERT] go away",
		  "a1 NO [ALERT] go away\r\n" },
		{ "L NO [AUTHENTICATIONFAILEDX] y\r\n", PM_IMAPBACK_VERBATIM,
		  "[AUTHENTICATIONFAILEDX] y", "a1 NO [AUTHENTICATIONFAILEDX] y\r\n" },
		{ "L NO [REFERRAL imap://u@[::1]/] elsewhere\r\n", PM_IMAPBACK_VERBATIM,
		  "[REFERRAL imap://u@[::1]/] elsewhere",
		  "a1 NO [REFERRAL imap://u@[::1]/] elsewhere\r\n" },
		{ "L BAD syntax\r\n", PM_IMAPBACK_FAIL, "",
		  "a1 NO [UNAVAILABLE] Account is temporarily unavailable.\r\n" },
		{ "L NO [ALERT unterminated\r\n", PM_IMAPBACK_FAIL, "",
		  "a1 NO [UNAVAILABLE] Account is temporarily unavailable.\r\n" },
	};
	struct pm_imapback_params p = params();
	char in[512];
	size_t i;
	struct run r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = snprintf(in, sizeof(in), "%sI OK\r\n%s", BANNER, v[i].line);

		dialogue(&p, in, (size_t)n, false, &r);
		if (r.st != v[i].st)
			fail_msg("%s: status %d, want %d", v[i].line, (int)r.st, (int)v[i].st);
		assert_string_equal(r.text, v[i].text);
		assert_string_equal(r.reply, v[i].reply);
		/* A result ends its line; a failure may stop earlier. */
		if (r.st != PM_IMAPBACK_FAIL)
			assert_int_equal(r.consumed, (size_t)n);
		assert_true(r.wiped);
		run_free(&r);
	}
}

static void
test_imapback_bad_banners_fail(void **state)
{
	static const char *const v[] = {
		"* BYE Server shutting down.\r\n",	/* verified: 3 retries */
		"* PREAUTH hi\r\n",
		"* ok hi\r\n",
		"* OK\r\n",
		"*  OK hi\r\n",
		"+ OK\r\n",
		"L OK [CAPABILITY IMAP4rev1] hi\r\n",
		"\r\n",
		"* OK hi\n",
		"* OK [CAPABILITY IMAP4rev1 ID hi\r\n",
	};
	struct pm_imapback_params p = params();
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		dialogue(&p, v[i], strlen(v[i]), true, &r);
		if (r.st != PM_IMAPBACK_FAIL)
			fail_msg("banner \"%s\": status %d", v[i], (int)r.st);
		assert_int_equal(r.tbl, 0);
		assert_string_equal(r.reply,
				    "a1 NO [UNAVAILABLE] Account is temporarily unavailable.\r\n");
		assert_true(r.wiped);
		run_free(&r);
	}
}

static void
test_imapback_backend_closing_is_fail(void **state)
{
	struct pm_imapback_params p = params();
	struct pm_imapback b;
	struct run r;

	(void)state;
	/* "* BYE" then the close: Dovecot reconnects (verified). */
	DIALOGUE(&p, BANNER "I OK\r\n* BYE Internal error\r\n", true, &r);
	assert_int_equal(r.st, PM_IMAPBACK_FAIL);
	assert_int_equal(r.tcl, 0);
	assert_true(r.wiped);
	run_free(&r);
	/* Closed mid-line, and before any byte. */
	DIALOGUE(&p, BANNER "L OK in", true, &r);
	assert_int_equal(r.st, PM_IMAPBACK_FAIL);
	run_free(&r);
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_closed(&b), PM_IMAPBACK_FAIL);
	assert_string_equal(pm_imapback_reason(&b), "the backend closed the connection");
	assert_true(all_zero(b.password, sizeof(b.password)));
}

static void
test_imapback_result_is_sticky(void **state)
{
	struct pm_imapback_params p = params();
	struct pm_imapback b;
	uint8_t tbm[8192], tcm[8192];
	struct pm_imapback_buf tb = { tbm, 0, sizeof(tbm) }, tc = { tcm, 0, sizeof(tcm) };
	static const char in[] = BANNER "L NO [ALERT] x\r\nL OK y\r\n";
	size_t c;

	(void)state;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)in, sizeof(in) - 1, &c, &tb, &tc),
			 PM_IMAPBACK_VERBATIM);
	assert_int_equal(c, strlen(BANNER "L NO [ALERT] x\r\n"));
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)in + c, sizeof(in) - 1 - c, &c,
					  &tb, &tc), PM_IMAPBACK_VERBATIM);
	assert_int_equal(c, 0);
	assert_int_equal(pm_imapback_closed(&b), PM_IMAPBACK_VERBATIM);
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_DONE);
}

/* ---- untagged responses ---- */

static void
test_imapback_untagged_are_forwarded_or_swallowed(void **state)
{
	struct pm_imapback_params p = params();
	/* The dialogue run against Dovecot's proxy; the client got exactly the
	 * "* OK [ALERT]" and "* 3 EXISTS" lines (verified). */
	static const char in[] =
		BANNER
		"I OK x\r\n"
		"* OK [ALERT] hello\r\n"
		"* 3 EXISTS\r\n"
		"* ID (\"a\" \"b\")\r\n"
		"* BYE no\r\n"
		"* capability IMAP4rev1 NEWCAP\r\n"
		"l OK bad\r\n"
		"LL OK nope\r\n"
		"X1 OK other\r\n"
		"+ ignored\r\n"
		"L NO [ALERT] go away\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_VERBATIM);
	assert_bytes(r.tc, r.tcl, "* OK [ALERT] hello\r\n* 3 EXISTS\r\n");
	assert_string_equal(r.caps, "IMAP4rev1 NEWCAP");
	assert_string_equal(r.reply, "a1 NO [ALERT] go away\r\n");
	run_free(&r);
}

static void
test_imapback_untagged_literals_are_skipped_not_parsed(void **state)
{
	struct pm_imapback_params p = params();
	/* A forwarded data response whose literal holds an "L OK" line. */
	static const char fetch[] =
		"* 1 FETCH (BODY[] {22}\r\n\r\nL OK [x] gotcha\r\n\r\n BODY[1] {0}\r\n)\r\n";
	static const char in1[] =
		BANNER
		"* 1 FETCH (BODY[] {22}\r\n\r\nL OK [x] gotcha\r\n\r\n BODY[1] {0}\r\n)\r\n"
		"L NO [AUTHENTICATIONFAILED] no\r\n";
	/* A swallowed ID response with two literals. */
	static const char in2[] =
		BANNER
		"* ID (\"name\" {10}\r\n\r\nL OK x\r\n \"v\" {3}\r\n{1})\r\n"
		"L NO [ALERT] z\r\n";
	/* Status responses carry text, not literals: "{5}" is just text. */
	static const char in3[] =
		BANNER
		"* OK text {5}\r\n"
		"L NO [ALERT] q\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in1, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_AUTHFAILED);
	assert_bytes(r.tc, r.tcl, fetch);
	run_free(&r);
	DIALOGUE(&p, in2, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_VERBATIM);
	assert_int_equal(r.tcl, 0);
	assert_string_equal(r.text, "[ALERT] z");
	run_free(&r);
	DIALOGUE(&p, in3, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_VERBATIM);
	assert_bytes(r.tc, r.tcl, "* OK text {5}\r\n");
	run_free(&r);
}

/* ---- inputs that try to pass for a successful login ---- */

#define T(s) { (s), sizeof(s) - 1 }

static void
test_imapback_tricks_never_yield_ok(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} v[] = {
		T(BANNER "L OKAY in\r\n"),
		T(BANNER "* L OK in\r\n"),
		T(BANNER "LL OK in\r\n"),
		T(BANNER "l ok in\r\n"),
		T(BANNER "l OK in\r\n"),
		T(BANNER "L ok in\r\n"),
		T(BANNER "L Ok in\r\n"),
		T(BANNER "L OK\r\n"),
		T(BANNER "L OK\tin\r\n"),
		T(BANNER "L  OK in\r\n"),
		T(BANNER " L OK in\r\n"),
		T(BANNER "L OK in\n"),
		T(BANNER "L OK in\rL OK x\r\n"),
		T(BANNER "L OK i\0n\r\n"),
		T(BANNER "\0L OK in\r\n"),
		T(BANNER "L OK in\r\0\n"),
		T(BANNER "* OK fine\r\nL NO [ALERT] x\r\nL OK in\r\n"),
		T(BANNER "* OK L OK in\r\n"),
		T(BANNER "* 1 FETCH (BODY[] {12}\r\nL OK gotcha\r\n)\r\n"),
		T(BANNER "* 1 FETCH (BODY[] {13}\r\nL OK gotcha\r\n"),
		T(BANNER "* 1 FETCH (BODY[] {13}\r\nL OK gotcha\r\n)\r\n"),
		T(BANNER "* ID (\"x\" {11}\r\n\r\nL OK ha\r\n"),
		T(BANNER "+ L OK in\r\n"),
		T(BANNER "I OK\r\nI L OK in\r\n"),
		T(BANNER "L OK [CAPABILITY IMAP4rev1 in\r\n"),
		T(BANNER "L OK in"),
		T("L OK in\r\n"),
		T("* OK [CAPABILITY IMAP4rev1 L OK] hi\r\n"),
		T("* OK hi\r\nL OK before our login\r\n"),
		T("* OK hi\r\n* CAPABILITY IMAP4rev1\r\nL OK early\r\nC OK\r\nL OK in\r\n"),
	};
	struct pm_imapback_params p = params();
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		dialogue(&p, v[i].s, v[i].n, true, &r);
		if (r.st == PM_IMAPBACK_OK)
			fail_msg("trick %zu was taken for a login: \"%s\"", i, v[i].s);
		run_free(&r);
	}
}

/* ---- bounds ---- */

static void
test_imapback_bounds_are_enforced(void **state)
{
	/* head + count x c + tail, fed whole: the status each must give. */
	static const struct {
		const char *head;
		char c;
		size_t count;
		const char *tail;
		enum pm_imapback_status st;
	} v[] = {
		/* A swallowed response may be 64 KiB, not one byte more. */
		{ BANNER "* BYE ", 'x', PM_IMAPBACK_LINE_MAX - 8, "\r\nL OK in\r\n",
		  PM_IMAPBACK_OK },
		{ BANNER "* BYE ", 'x', PM_IMAPBACK_LINE_MAX - 7, "\r\nL OK in\r\n",
		  PM_IMAPBACK_FAIL },
		/* A forwarded one 4 KiB with its CRLF, not one byte more. */
		{ BANNER "* X ", 'x', PM_IMAPBACK_FWD_MAX - 6, "\r\nL OK in\r\n", PM_IMAPBACK_OK },
		{ BANNER "* X ", 'x', PM_IMAPBACK_FWD_MAX - 5, "\r\nL OK in\r\n", PM_IMAPBACK_FAIL },
		/* Capabilities: 4 KiB. */
		{ "* OK [CAPABILITY ", 'C', PM_IMAPBACK_CAPS_MAX, "] hi\r\nL OK in\r\n",
		  PM_IMAPBACK_OK },
		{ "* OK [CAPABILITY ", 'C', PM_IMAPBACK_CAPS_MAX + 1, "] hi\r\n", PM_IMAPBACK_FAIL },
		/* Literals over the bounds fail when announced, and absurd sizes
		 * fail before they are multiplied. */
		{ BANNER "* 1 FETCH {65536}\r\n", 'x', 10, "", PM_IMAPBACK_FAIL },
		{ BANNER "* 1 FETCH {4095}\r\n", 'x', 10, "", PM_IMAPBACK_FAIL },
		{ BANNER "* ID {4095}\r\n", 'x', 10, "", PM_IMAPBACK_AGAIN },
		{ BANNER "* 1 FETCH {99999999999999999999999}\r\n", 'x', 10, "", PM_IMAPBACK_FAIL },
		/* A response code longer than the text bound cannot be forwarded. */
		{ BANNER "L NO [ALERT ", 'y', PM_IMAPBACK_TEXT_MAX, "] z\r\n", PM_IMAPBACK_FAIL },
	};
	struct pm_imapback_params p = params();
	struct run r;
	size_t i, h, t, n;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		h = strlen(v[i].head);
		t = strlen(v[i].tail);
		n = h + v[i].count + t;
		s = malloc(n + 1);
		assert_non_null(s);
		memcpy(s, v[i].head, h);
		memset(s + h, v[i].c, v[i].count);
		memcpy(s + h + v[i].count, v[i].tail, t + 1);
		run_init(&r);
		run_chunk(&p, (const uint8_t *)s, n, n, false, &r);
		if (r.st != v[i].st)
			fail_msg("bound case %zu: status %d, want %d", i, (int)r.st, (int)v[i].st);
		if (i == 2)
			assert_int_equal(r.tcl, PM_IMAPBACK_FWD_MAX);
		if (i == 4)
			assert_int_equal(strlen(r.caps), PM_IMAPBACK_CAPS_MAX);
		run_free(&r);
		free(s);
	}
}

static void
test_imapback_long_text_is_cut_at_a_utf8_boundary(void **state)
{
	struct pm_imapback_params p = params();
	struct run r;
	char in[4096];
	size_t n, i;

	(void)state;
	/* "[ALERT] " (8) + 1015 'a' leaves 1 byte: the 2-byte 'ä' is dropped. */
	n = (size_t)snprintf(in, sizeof(in), "%sL NO [ALERT] ", BANNER);
	for (i = 0; i < 1015; i++)
		in[n++] = 'a';
	for (i = 0; i < 10; i++) {
		in[n++] = (char)0xc3;
		in[n++] = (char)0xa4;
	}
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_VERBATIM);
	assert_int_equal(strlen(r.text), 8 + 1015);
	run_free(&r);
	/* One byte less of 'a': one 'ä' fits whole. */
	n = (size_t)snprintf(in, sizeof(in), "%sL OK ", BANNER);
	for (i = 0; i < 1022; i++)
		in[n++] = 'a';
	for (i = 0; i < 10; i++) {
		in[n++] = (char)0xc3;
		in[n++] = (char)0xa4;
	}
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_IMAPBACK_OK);
	assert_int_equal(strlen(r.text), 1024);
	assert_memory_equal(r.text + 1022, "\xc3\xa4", 2);
	run_free(&r);
}

/* ---- output room (PM_IMAPBACK_ERROR) ---- */

static void
test_imapback_short_output_room_is_error_and_resumable(void **state)
{
	struct pm_imapback_params p = params();
	static const char in[] = BANNER "* 3 EXISTS\r\n* 4 RECENT\r\nL OK in\r\n";
	struct pm_imapback b;
	uint8_t tbm[8192], tcm[64];
	struct pm_imapback_buf tb = { tbm, 0, 100 }, tc = { tcm, 0, 4 };
	uint8_t allc[64];
	size_t off = 0, c, allcl = 0, errors = 0;
	enum pm_imapback_status st;

	(void)state;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	for (;;) {
		st = pm_imapback_feed(&b, (const uint8_t *)in + off, sizeof(in) - 1 - off, &c, &tb,
				      &tc);
		off += c;
		if (st != PM_IMAPBACK_ERROR)
			break;
		errors++;
		assert_int_equal(in[off], '\n');	/* stopped before a line's LF */
		/* Make room where it lacked: a bigger backend buffer, or a
		 * drained and bigger client one. */
		if (tb.cap - tb.len < PM_IMAPBACK_BACKEND_ROOM) {
			tb.cap = sizeof(tbm);
			continue;
		}
		memcpy(allc + allcl, tc.p, tc.len);
		allcl += tc.len;
		tc.len = 0;
		tc.cap = sizeof(tcm);
	}
	memcpy(allc + allcl, tc.p, tc.len);
	allcl += tc.len;
	assert_int_equal(st, PM_IMAPBACK_OK);
	assert_int_equal(errors, 2);	/* the banner's write, the first forward */
	assert_int_equal(off, sizeof(in) - 1);
	assert_bytes(tb.p, tb.len, VERIFIED_ID "L LOGIN \"user1\" \"pass\"\r\n");
	assert_bytes(allc, allcl, "* 3 EXISTS\r\n* 4 RECENT\r\n");
}

/* ---- init and client_reply ---- */

static void
test_imapback_init_rejects_bad_params(void **state)
{
	struct pm_imapback_params p;
	struct pm_imapback b;
	char big[2048];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p = params();
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_init(&b, NULL), -EINVAL);
#define BAD(field, value, err)					\
	do {							\
		p = params();					\
		p.field = value;				\
		assert_int_equal(pm_imapback_init(&b, &p), err);	\
		assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_DONE); \
		assert_true(all_zero(b.password, sizeof(b.password))); \
	} while (0)
	BAD(ttl, 1, -ELOOP);
	BAD(session_id, NULL, -EINVAL);
	BAD(session_id, "", -EINVAL);
	BAD(session_id, "a\"b", -EINVAL);
	BAD(session_id, "a b", -EINVAL);
	BAD(session_id, big, -ENAMETOOLONG);
	BAD(client_ip, "1.2.3.4\r\n", -EINVAL);
	BAD(client_ip, "", -EINVAL);
	BAD(local_ip, NULL, -EINVAL);
	BAD(local_ip, "a\"", -EINVAL);
	BAD(user, NULL, -EINVAL);
	BAD(user, "", -EINVAL);
	BAD(user, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(authzid, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(password, NULL, -EINVAL);
	BAD(password, big + sizeof(big) - 1 - 1025, -ENAMETOOLONG);
#undef BAD
	p = params();
	p.user = big + sizeof(big) - 1 - 255;
	p.password = big + sizeof(big) - 1 - 1024;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
}

static void
test_imapback_longest_login_fits_backend_room(void **state)
{
	struct pm_imapback_params p = params();
	char user[256], pass[1025];
	struct pm_imapback b;
	static uint8_t tbm[PM_IMAPBACK_BACKEND_ROOM], tcm[16];
	struct pm_imapback_buf tb = { tbm, 0, sizeof(tbm) }, tc = { tcm, 0, sizeof(tcm) };
	static const char banner[] = "* OK [CAPABILITY IMAP4rev1 ID AUTH=PLAIN SASL-IR] hi\r\n";
	size_t c;

	(void)state;
	memset(user, '"', 255);
	user[255] = '\0';
	memset(pass, '\\', 1024);
	pass[1024] = '\0';
	p.user = user;
	p.password = pass;
	p.session_id = "0123456789012345678901234567890123456789012345678901234567890123";
	p.client_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	p.local_ip = p.client_ip;
	p.client_sent_capability = true;
	p.ttl = 4000000000u;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)banner, sizeof(banner) - 1, &c,
					  &tb, &tc), PM_IMAPBACK_AGAIN);
	assert_true(tb.len <= PM_IMAPBACK_BACKEND_ROOM);
	assert_int_equal(memcmp(tb.p + tb.len - 2, "\r\n", 2), 0);
	/* With an authzid: the longest PLAIN message. */
	p.authzid = user;
	tb.len = 0;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_feed(&b, (const uint8_t *)banner, sizeof(banner) - 1, &c,
					  &tb, &tc), PM_IMAPBACK_AGAIN);
	assert_int_equal(pm_imapback_phase(&b), PM_IMAPBACK_PH_LOGIN);
}

static void
test_imapback_client_reply_checks_tag_room_and_status(void **state)
{
	struct pm_imapback_params p = params();
	struct pm_imapback b;
	uint8_t m[256];
	struct pm_imapback_buf out = { m, 0, sizeof(m) };
	struct run r;

	(void)state;
	assert_int_equal(pm_imapback_init(&b, &p), 0);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "a1", &out), 0);
	assert_bytes(out.p, out.len, "a1 NO [UNAVAILABLE] Account is temporarily unavailable.\r\n");
	out.len = 0;
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_AGAIN, "a1", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_ERROR, "a1", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "a 1", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "a1\r\n", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "a+", &out), -EINVAL);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, NULL, &out), -EINVAL);
	out.cap = 20;
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_FAIL, "a1", &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	out.cap = sizeof(m);
	assert_int_equal(pm_imapback_client_reply(&b, PM_IMAPBACK_SERVERBUG, "x.y]", &out), 0);
	assert_bytes(out.p, out.len,
		     "x.y] NO [SERVERBUG] Account is temporarily unavailable.\r\n");
	/* OK without any capabilities: no code at all. */
	DIALOGUE(&p, "* OK hi\r\nC OK\r\nL OK [ALERT] in\r\n", false, &r);
	assert_string_equal(r.reply, "a1 OK [ALERT] in\r\n");
	run_free(&r);
	/* OK with another code and known caps: the code gives way (Dovecot). */
	DIALOGUE(&p, BANNER "L OK [ALERT] in\r\n", false, &r);
	assert_string_equal(r.reply, "a1 OK [CAPABILITY " DOVECOT_CAPS "] in\r\n");
	assert_string_equal(r.text, "[ALERT] in");
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imapback_banner_with_id_sends_verified_id_and_login),
		cmocka_unit_test(test_imapback_ok_is_the_exact_split_point),
		cmocka_unit_test(test_imapback_banner_without_caps_asks_capability_first),
		cmocka_unit_test(test_imapback_capability_reply_failing_still_logs_in_without_id),
		cmocka_unit_test(test_imapback_no_id_capability_sends_no_id),
		cmocka_unit_test(test_imapback_ttl_and_ports_are_in_the_id_line),
		cmocka_unit_test(test_imapback_quote_and_backslash_are_escaped),
		cmocka_unit_test(test_imapback_user_with_cr_uses_plain_with_sasl_ir),
		cmocka_unit_test(test_imapback_crlf_without_sasl_ir_uses_literals_after_continuations),
		cmocka_unit_test(test_imapback_literal_refused_is_the_result),
		cmocka_unit_test(test_imapback_authzid_uses_plain),
		cmocka_unit_test(test_imapback_logindisabled_is_serverbug_unless_plain),
		cmocka_unit_test(test_imapback_client_capability_pipelines_c_and_untagged_reply),
		cmocka_unit_test(test_imapback_no_results_map_like_dovecot),
		cmocka_unit_test(test_imapback_bad_banners_fail),
		cmocka_unit_test(test_imapback_backend_closing_is_fail),
		cmocka_unit_test(test_imapback_result_is_sticky),
		cmocka_unit_test(test_imapback_untagged_are_forwarded_or_swallowed),
		cmocka_unit_test(test_imapback_untagged_literals_are_skipped_not_parsed),
		cmocka_unit_test(test_imapback_tricks_never_yield_ok),
		cmocka_unit_test(test_imapback_bounds_are_enforced),
		cmocka_unit_test(test_imapback_long_text_is_cut_at_a_utf8_boundary),
		cmocka_unit_test(test_imapback_short_output_room_is_error_and_resumable),
		cmocka_unit_test(test_imapback_init_rejects_bad_params),
		cmocka_unit_test(test_imapback_longest_login_fits_backend_room),
		cmocka_unit_test(test_imapback_client_reply_checks_tag_room_and_status),
	};

	return cmocka_run_group_tests_name("imapback", tests, NULL, NULL);
}
