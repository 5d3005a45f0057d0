/*
 * test_submission.c -- the client-facing Submission pre-login machine
 * (proto/submission.h).
 *
 * Every session test goes through expect_session(): the same client bytes
 * are fed at every chunk size from 1 to n (for inputs over LONG_INPUT bytes:
 * 1..256, every 97th size and n), each time with a large out buffer and with
 * two small ones that the harness drains whenever the machine answers
 * PM_SUBMISSION_FULL, plus a stingy one that has no room before every call;
 * the transcript (every byte written to the client, in order) and the event
 * log (LOGIN with its fields and offset, CLOSE, the final phase, the HELO
 * domain) must equal the golden ones, byte for byte. Logins are answered
 * from a per-test script (login_failed kinds or login_ok).
 *
 * The machine runs with the params of the Dovecot 2.3.19.1 instance the
 * texts were recorded from (hostname lab-a.example, Debian's greeting), so
 * the golden transcripts are the real ones, byte for byte, except where
 * proto/submission.h says ours differ. The random test builds sessions from
 * realistic fragments with a printed seed (PM_SEED replays another run).
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

#include "proto/submission.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x5b3150c0u

#define HOST "lab-a.example"
#define GREET "220 " HOST " Dovecot (Debian) ready.\r\n"
#define EHLO_REPLY                                                                  \
	"250-" HOST "\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-BURL imap\r\n" \
	"250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n250 PIPELINING\r\n"
#define OK "250 2.0.0 OK\r\n"
#define UNKNOWN "500 5.5.1 Unknown command\r\n"
#define SYNTAX "500 5.5.2 Invalid command syntax\r\n"
#define TOO_LONG "500 5.5.2 Line too long\r\n"
#define AUTHFAIL "535 5.7.8 Authentication failed.\r\n"
#define NEED_AUTH "530 5.7.0 Authentication required.\r\n"
#define LOGGED_IN "235 2.7.0 Logged in.\r\n"
#define TOO_MANY "421 4.7.0 " HOST " Too many invalid commands.\r\n"

/* base64 of PLAIN messages */
#define B64_U_PASS "AHUAcGFzcw=="		/* "\0u\0pass" */
#define B64_U_WRONG "AHUAd3Jvbmc="		/* "\0u\0wrong" */
#define B64_Z_U_PASS "egB1AHBhc3M="		/* "z\0u\0pass" */
#define B64_U_U_PASS "dQB1AHBhc3M="		/* "u\0u\0pass" */
#define B64_U "dQ=="				/* "u" */
#define B64_PASS "cGFzcw=="			/* "pass" */

/* ---- the harness ------------------------------------------------------------ */

enum act_kind { A_END, A_FAIL_AUTH, A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK };

struct act {
	enum act_kind kind;
	const char *text;	/* A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK */
};

static void
apply(struct pm_submission *m, const struct act *a, struct tout *o, struct result *r)
{
	int rc = -EINVAL;
	int tries;

	squeeze(o);
	for (tries = 0; tries < 2; tries++) {
		switch (a->kind) {
		case A_FAIL_AUTH:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_AUTHFAILED, NULL,
							&o->b);
			break;
		case A_FAIL_UNAVAIL:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_UNAVAILABLE, a->text,
							&o->b);
			break;
		case A_FAIL_VERBATIM:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_VERBATIM, a->text,
							&o->b);
			break;
		case A_OK:
			rc = pm_submission_login_ok(m, a->text, &o->b);
			break;
		default:
			fail_msg("login without a scripted answer");
			return;
		}
		if (rc != -ENOSPC)
			break;
		assert_int_equal(pm_submission_phase(m), PM_SUBMISSION_PHASE_LOGIN);
		drain(r, o);		/* make room and try again */
	}
	assert_int_equal(rc, 0);
}

static void
ev_end(struct result *r, const struct pm_submission *m, const char *what, size_t off)
{
	const char *h = pm_submission_helo(m);

	ev_printf(r, "%s@%zu phase=%d bad=%u greeting=%d helo=%s\n", what, off,
		  (int)pm_submission_phase(m), pm_submission_bad_count(m),
		  (int)pm_submission_greeting(m), h != NULL ? h : "(none)");
}

/*
 * One session: greet, then feed @in in pieces of @chunk bytes (@chunk 0:
 * sizes 1..17 drawn from *@rng) through an out buffer of @outcap bytes
 * (drained on FULL and after every call; 0: stingy mode, above). Logins are
 * answered from @acts in order (running out of them fails). Returns how many
 * answers were used.
 */
static size_t
run(const struct pm_submission_params *p, const void *input, size_t n, size_t chunk,
    size_t outcap, const struct act *acts, struct result *r, uint32_t *rng)
{
	const uint8_t *in = input;
	struct pm_submission *m = malloc(sizeof(*m));
	struct tout o;
	uint8_t *mem;
	const struct pm_submission_login *lg;
	size_t off = 0, end, used, k = 0, len;
	enum pm_submission_status st;
	bool retry = false, done = false;

	assert_non_null(m);
	o.stingy = outcap == 0;
	o.memsize = o.stingy ? 1u << 16 : outcap;
	o.base = o.stingy ? 1 : 0;
	mem = malloc(o.memsize);	/* exact size: ASan sees overruns */
	assert_non_null(mem);
	r->out_len = 0;
	r->ev_len = 0;
	assert_int_equal(pm_submission_init(m, p), 0);
	pm_buf_init(&o.b, mem, o.memsize);
	if (o.stingy)
		mem[o.b.len++] = '#';
	assert_int_equal(pm_submission_greet(m, &o.b), 0);
	drain(r, &o);
	while (off < n && !done) {
		size_t piece = chunk != 0 ? chunk : 1 + xorshift32(rng) % 17;

		end = off + piece < n ? off + piece : n;
		while (off < end) {
			/* after a FULL in stingy mode: the failed byte alone */
			len = retry ? 1 : end - off;
			if (!retry)
				squeeze(&o);
			retry = false;
			st = pm_submission_feed(m, in + off, len, &used, &o.b);
			assert_true(used <= len);
			off += used;
			if (st == PM_SUBMISSION_AGAIN) {
				assert_int_equal(used, len);
				drain(r, &o);
				continue;
			}
			if (st == PM_SUBMISSION_FULL) {
				assert_true(o.b.len > 0);
				drain(r, &o);
				retry = o.stingy;
				continue;
			}
			drain(r, &o);
			if (st == PM_SUBMISSION_LOGIN) {
				assert_true(used > 0);
				lg = pm_submission_login(m);
				ev_printf(r, "LOGIN@%zu mech=%s ir=%d", off,
					  lg->mech == PM_SUBMISSION_MECH_PLAIN ? "PLAIN" : "LOGIN",
					  lg->sasl_ir);
				ev_field(r, "user", lg->user, lg->user_len);
				ev_field(r, "authzid", lg->authzid, lg->authzid_len);
				ev_field(r, "pass", lg->pass, lg->pass_len);
				ev_printf(r, "\n");
				/* feeding while the backend decides is a misuse */
				assert_int_equal(pm_submission_feed(m, in, n, &used, &o.b),
						 PM_SUBMISSION_ERROR);
				assert_int_equal(used, 0);
				apply(m, &acts[k], &o, r);
				drain(r, &o);
				if (acts[k++].kind == A_OK) {
					assert_int_equal(lg->pass_len, 0);
					ev_end(r, m, "DONE", off);
					ev_printf(r, "rest=%zu\n", n - off);
					done = true;
					break;
				}
				if (pm_submission_phase(m) == PM_SUBMISSION_PHASE_CLOSED) {
					ev_end(r, m, "CLOSED", off);
					done = true;
					break;
				}
				continue;
			}
			if (st == PM_SUBMISSION_CLOSE) {
				ev_end(r, m, "CLOSE", off);
				assert_int_equal(pm_submission_phase(m),
						 PM_SUBMISSION_PHASE_CLOSED);
				assert_int_equal(pm_submission_feed(m, in, n, &used, &o.b),
						 PM_SUBMISSION_ERROR);
				assert_int_equal(used, 0);
				done = true;
				break;
			}
			ev_printf(r, "ERROR@%zu\n", off);
			done = true;
			break;
		}
	}
	if (!done)
		ev_end(r, m, "END", off);
	pm_submission_wipe(m);
	assert_int_equal(m->lg.pass_len, 0);
	free(mem);
	free(m);
	return k;
}

static void
lab_params(struct pm_submission_params *p)
{
	pm_submission_params_defaults(p);
	p->hostname = HOST;
	p->greeting = "Dovecot (Debian) ready.";
}

static void
expect_session_p(const struct pm_submission_params *p, const void *in, size_t n,
		 const char *want_out, const char *want_ev, const struct act *acts)
{
	static const size_t caps[] = { 1u << 16, 512, 300, 0 };
	static char ev[EVLOG_MAX];
	const char *at;
	struct result r;
	size_t k, c, wo = strlen(want_out), we;

	/* "@ALL" in the events stands for the input's length */
	at = strstr(want_ev, "@ALL");
	if (at != NULL) {
		snprintf(ev, sizeof(ev), "%.*s@%zu%s", (int)(at - want_ev), want_ev, n, at + 4);
		want_ev = ev;
	}
	we = strlen(want_ev);
	res_init(&r);
	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (k = 1; k <= (n > 0 ? n : 1); k = next_chunk(k, n)) {
			size_t used = run(p, in, n, k, caps[c], acts, &r, NULL);

			assert_int_equal(acts[used].kind, A_END);	/* all answers used */
			assert_same("transcript", k, caps[c], r.out, r.out_len, want_out, wo);
			assert_same("events", k, caps[c], r.ev, r.ev_len, want_ev, we);
			if (c > 0 && k > 64 && n <= LONG_INPUT)
				break;	/* small buffers: the short chunkings suffice */
		}
	}
	res_free(&r);
}

static const struct act no_acts[] = { { A_END, NULL } };
static const struct act fail_once[] = { { A_FAIL_AUTH, NULL }, { A_END, NULL } };
static const struct act ok_once[] = { { A_OK, NULL }, { A_END, NULL } };

static void
expect_session(const char *in, const char *want_out, const char *want_ev,
	       const struct act *acts)
{
	struct pm_submission_params p;

	lab_params(&p);
	expect_session_p(&p, in, strlen(in), want_out, want_ev, acts);
}

/* Same, for input with NUL bytes. */
static void
expect_session_n(const void *in, size_t n, const char *want_out, const char *want_ev,
		 const struct act *acts)
{
	struct pm_submission_params p;

	lab_params(&p);
	expect_session_p(&p, in, n, want_out, want_ev, acts);
}

/* The END event of a session that read everything, with no greeting. */
#define END0(bad) "END@ALL phase=0 bad=" #bad " greeting=0 helo=(none)\n"

/* ---- params and greeting ----------------------------------------------------- */

static void
test_submission_params_defaults_are_valid(void **state)
{
	struct pm_submission_params p;
	size_t i;

	(void)state;
	pm_submission_params_defaults(&p);
	assert_int_equal(pm_submission_params_check(&p), 0);
	assert_string_equal(p.hostname, "postmux");
	assert_string_equal(p.greeting, "postmux ready.");
	assert_int_equal(p.max_bad, 10);
	for (i = 0; p.ehlo[i] != NULL; i++)
		;
	assert_int_equal(i, 7);
	assert_string_equal(p.ehlo[1], "AUTH PLAIN LOGIN");
}

static void
test_submission_params_bad_values_are_rejected(void **state)
{
	static char big[PM_SUBMISSION_TEXT_MAX + 2];
	static char host[PM_SUBMISSION_DOMAIN_MAX + 2];
	static const char *const too_many[PM_SUBMISSION_EHLO_MAX + 2] = {
		"A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A", "A",
	};
	static const char *const bad_kw[] = { "-X", NULL };
	static const char *const crlf_kw[] = { "X\r\n250 Y", NULL };
	static const char *const none[] = { NULL };
	struct pm_submission_params p;
	struct pm_submission m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	memset(host, 'h', sizeof(host) - 1);
	lab_params(&p);
	p.greeting = "a\r\nb";
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	assert_int_equal(pm_submission_init(&m, &p), -EINVAL);
	lab_params(&p);
	p.greeting = big;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	big[PM_SUBMISSION_TEXT_MAX] = '\0';	/* exactly the maximum */
	assert_int_equal(pm_submission_params_check(&p), 0);
	lab_params(&p);
	p.hostname = "a b";
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.hostname = "";
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.hostname = NULL;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.hostname = host;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	host[PM_SUBMISSION_DOMAIN_MAX] = '\0';
	assert_int_equal(pm_submission_params_check(&p), 0);
	lab_params(&p);
	p.ehlo = too_many;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.ehlo = too_many + 1;	/* exactly 16 */
	assert_int_equal(pm_submission_params_check(&p), 0);
	p.ehlo = bad_kw;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.ehlo = crlf_kw;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.ehlo = none;
	assert_int_equal(pm_submission_params_check(&p), 0);
	p.ehlo = NULL;		/* the default */
	assert_int_equal(pm_submission_params_check(&p), 0);
	lab_params(&p);
	p.max_bad = 0;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	p.max_bad = PM_SUBMISSION_MAX_BAD_MAX + 1;
	assert_int_equal(pm_submission_params_check(&p), -EINVAL);
	assert_int_equal(pm_submission_params_check(NULL), -EINVAL);
}

static void
test_submission_greeting_is_dovecots(void **state)
{
	struct pm_submission_params p;
	struct pm_submission m;
	uint8_t mem[256];
	struct pm_buf out;

	(void)state;
	lab_params(&p);
	assert_int_equal(pm_submission_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_submission_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	assert_memory_equal(mem, GREET, out.len);
	/* the defaults, and no greeting text at all */
	pm_submission_params_defaults(&p);
	assert_int_equal(pm_submission_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_submission_greet(&m, &out), 0);
	assert_memory_equal(mem, "220 postmux postmux ready.\r\n", out.len);
	p.greeting = "";
	assert_int_equal(pm_submission_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_submission_greet(&m, &out), 0);
	assert_memory_equal(mem, "220 postmux\r\n", out.len);
	/* no room: nothing written */
	pm_buf_init(&out, mem, 10);
	assert_int_equal(pm_submission_greet(&m, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
}

/* ---- commands before AUTH (all texts verified) ---------------------------------- */

static void
test_submission_ehlo_lists_dovecot_capabilities(void **state)
{
	(void)state;
	expect_session("EHLO client.example\r\n", GREET EHLO_REPLY,
		       "END@ALL phase=0 bad=0 greeting=2 helo=client.example\n", no_acts);
	expect_session("ehlo lower.example\r\nHELO c.example\r\n",
		       GREET EHLO_REPLY "250 " HOST "\r\n",
		       "END@ALL phase=0 bad=0 greeting=1 helo=c.example\n", no_acts);
}

static void
test_submission_ehlo_keywords_come_from_params(void **state)
{
	static const char *const kw[] = { "SIZE 1000", "X-Y", NULL };
	static const char *const none[] = { NULL };
	struct pm_submission_params p;

	(void)state;
	lab_params(&p);
	p.ehlo = kw;
	expect_session_p(&p, "EHLO x\r\n", 8, GREET "250-" HOST "\r\n250-SIZE 1000\r\n250 X-Y\r\n",
			 "END@ALL phase=0 bad=0 greeting=2 helo=x\n", no_acts);
	p.ehlo = none;
	expect_session_p(&p, "EHLO x\r\n", 8, GREET "250 " HOST "\r\n",
			 "END@ALL phase=0 bad=0 greeting=2 helo=x\n", no_acts);
}

static void
test_submission_helo_without_domain_is_501(void **state)
{
	(void)state;
	expect_session("EHLO\r\nHELO\r\nEHLO \r\nEHLO  \t\r\n",
		       GREET "501 Missing hostname\r\n501 Missing hostname\r\n"
		       "501 Missing hostname\r\n501 Missing hostname\r\n",
		       END0(4), no_acts);
	/* a failed EHLO leaves the domain of an earlier one */
	expect_session("EHLO a.b\r\nEHLO\r\n", GREET EHLO_REPLY "501 Missing hostname\r\n",
		       "END@ALL phase=0 bad=1 greeting=2 helo=a.b\n", no_acts);
}

static void
test_submission_noop_rset_quit(void **state)
{
	static const char in[] =
		"NOOP\r\nnoop x\r\nNOOP \"x y\"\r\nNOOP x\t\r\nNOOP \"a\\\"b\\\\\"\r\n"
		"NOOP !#$%&'*+-/=?^_`{|}~\r\nNOOP \"\"\r\nRSET\r\nRSET \r\nQUIT \r\nNOOP\r\n";
	char ev[128];

	(void)state;
	/* QUIT closes right after its LF: the NOOP after it is not read */
	snprintf(ev, sizeof(ev), "CLOSE@%zu phase=3 bad=0 greeting=0 helo=(none)\n",
		 sizeof(in) - 1 - strlen("NOOP\r\n"));
	expect_session(in, GREET OK OK OK OK OK OK OK OK OK "221 2.0.0 Bye\r\n", ev, no_acts);
	expect_session("RSET x\r\nQUIT x\r\nQUIT\r\n",
		       GREET "501 5.5.4 Invalid parameters\r\n501 5.5.4 Invalid parameters\r\n"
		       "221 2.0.0 Bye\r\n",
		       "CLOSE@ALL phase=3 bad=2 greeting=0 helo=(none)\n", no_acts);
}

static void
test_submission_noop_bad_strings_are_501(void **state)
{
	(void)state;
	expect_session("NOOP x y\r\nNOOP \"x\r\nNOOP \"a\tb\"\r\nNOOP \"a\"b\r\nNOOP a.b\r\n"
		       "NOOP \"a\\\r\nNOOP \xc3\xa4\r\nNOOP \"a\\\t\"\r\nNOOP \"a\t\r\n",
		       GREET
		       "501 5.5.4 Invalid string parameter: Invalid character in string\r\n"
		       "501 5.5.4 Invalid string parameter: Premature end of quoted string\r\n"
		       "501 5.5.4 Invalid string parameter: Invalid character in quoted string\r\n"
		       "501 5.5.4 Invalid string parameter: Invalid character in string\r\n"
		       "501 5.5.4 Invalid string parameter: Invalid character in string\r\n"
		       "501 5.5.4 Invalid string parameter: "
		       "Invalid character after '\\' in quoted string\r\n"
		       "501 5.5.4 Invalid string parameter: Invalid character in string\r\n"
		       "501 5.5.4 Invalid string parameter: "
		       "Invalid character after '\\' in quoted string\r\n"
		       /* a trailing HT is dropped before the string is read */
		       "501 5.5.4 Invalid string parameter: Premature end of quoted string\r\n",
		       END0(9), no_acts);
}

static void
test_submission_mail_and_friends_need_auth(void **state)
{
	(void)state;
	expect_session("MAIL FROM:<a@b>\r\nMAIL\r\nMAIL garbage\r\nRCPT TO:<c@d>\r\nDATA x\r\n"
		       "BDAT 3 LAST\r\nVRFY\r\n",
		       GREET NEED_AUTH NEED_AUTH NEED_AUTH NEED_AUTH NEED_AUTH NEED_AUTH NEED_AUTH,
		       END0(0), no_acts);
}

static void
test_submission_starttls_xclient_and_unknown(void **state)
{
	(void)state;
	expect_session("STARTTLS\r\nSTARTTLS x\r\nXCLIENT ADDR=1.2.3.4\r\nHELP\r\nEXPN x\r\n"
		       "ETRN x\r\nTURN\r\nBURL imap://x LAST\r\n\r\n \r\n",
		       GREET "502 5.5.1 TLS support is not enabled.\r\n"
		       "502 5.5.1 TLS support is not enabled.\r\n"
		       "550 5.7.14 You are not from trusted IP\r\n" UNKNOWN UNKNOWN UNKNOWN
		       UNKNOWN UNKNOWN UNKNOWN UNKNOWN,
		       END0(7), no_acts);
}

static void
test_submission_syntax_errors_answered_at_once(void **state)
{
	static const char in[] =
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"	/* 33 letters */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"	/* 32: a name */
		"NOOP1\r\nNOOP:\r\nNOOP\t\r\nNO\0OP\r\n\xffNOOP\r\nNOOP\r\r\n"
		"NOOP \xff\r\nNOOP \xc3\r\nNOOP \xed\xa0\x80\r\nNOOP \xc0\x80\r\n"
		"NOOP \"a\\\x01\"\r\nNOOP \x7f\r\nEHLO  x\r\nEHLO\t\r\nNOOP \xf4\x90\x80\x80\r\n";
	struct pm_submission_params p;

	(void)state;
	lab_params(&p);
	p.max_bad = 100;	/* every one answered */
	expect_session_p(&p, in, sizeof(in) - 1,
			 GREET SYNTAX UNKNOWN SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX
			 SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX,
			 END0(17), no_acts);
	/* Dovecot's own limit: the 11th is the 421 */
	expect_session_n(in, sizeof(in) - 1,
			 GREET SYNTAX UNKNOWN SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX SYNTAX
			 SYNTAX TOO_MANY,
			 "CLOSE@134 phase=3 bad=11 greeting=0 helo=(none)\n", no_acts);
}

static void
test_submission_utf8_and_bare_lf_are_accepted(void **state)
{
	(void)state;
	/* UTF-8 parameters pass the lexer (EHLO gets 250, the domain is
	 * invalid); an LF alone ends a line */
	expect_session("EHLO \xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\r\nEHLO c\nNOOP\n",
		       GREET EHLO_REPLY EHLO_REPLY OK,
		       "END@ALL phase=0 bad=0 greeting=2 helo=c\n", no_acts);
}

static void
test_submission_too_many_bad_commands_close(void **state)
{
	char in[256];
	size_t n = 0;
	int i;

	(void)state;
	/* Dovecot: 10 answered, the 11th gets the 421 (verified) */
	for (i = 0; i < 11; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "FOO\r\n");
	expect_session(in,
		       GREET UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN
		       UNKNOWN UNKNOWN TOO_MANY,
		       "CLOSE@55 phase=3 bad=11 greeting=0 helo=(none)\n", no_acts);
	/* consecutive only: a good reply resets the count (verified) */
	n = 0;
	for (i = 0; i < 10; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "FOO\r\n");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "MAIL\r\n");
	for (i = 0; i < 10; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "EHLO\r\n");
	expect_session(in,
		       GREET UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN
		       UNKNOWN UNKNOWN NEED_AUTH "501 Missing hostname\r\n501 Missing hostname\r\n"
		       "501 Missing hostname\r\n501 Missing hostname\r\n501 Missing hostname\r\n"
		       "501 Missing hostname\r\n501 Missing hostname\r\n501 Missing hostname\r\n"
		       "501 Missing hostname\r\n501 Missing hostname\r\n",
		       END0(10), no_acts);
	/* 504 does not count, 501 from AUTH does */
	expect_session("AUTH X\r\nAUTH\r\n",
		       GREET "504 5.5.4 Unsupported authentication mechanism.\r\n"
		       "501 5.5.4 Missing SASL mechanism parameter\r\n",
		       END0(1), no_acts);
}

static void
test_submission_max_bad_param_is_honoured(void **state)
{
	struct pm_submission_params p;

	(void)state;
	lab_params(&p);
	p.max_bad = 1;
	expect_session_p(&p, "FOO\r\nFOO\r\nFOO\r\n", 15, GREET UNKNOWN TOO_MANY,
			 "CLOSE@10 phase=3 bad=2 greeting=0 helo=(none)\n", no_acts);
}

static void
test_submission_long_line_is_answered_and_skipped(void **state)
{
	static char in[3 * PM_SUBMISSION_LINE_MAX];
	char ev[128];
	size_t n = 0;

	(void)state;
	/* exactly the bound: a line of PM_SUBMISSION_LINE_MAX bytes with CRLF */
	memcpy(in, "NOOP ", 5);
	n = 5;
	memset(in + n, 'x', PM_SUBMISSION_LINE_MAX - 7);
	n += PM_SUBMISSION_LINE_MAX - 7;
	memcpy(in + n, "\r\n", 2);
	n += 2;
	/* one byte more: answered at that byte, the rest skipped */
	memcpy(in + n, "NOOP ", 5);
	n += 5;
	memset(in + n, 'x', PM_SUBMISSION_LINE_MAX - 6);
	n += PM_SUBMISSION_LINE_MAX - 6;
	memcpy(in + n, "yyy\r\nNOOP\r\n", 11);
	n += 11;
	in[n] = '\0';
	snprintf(ev, sizeof(ev), "END@%zu phase=0 bad=0 greeting=0 helo=(none)\n", n);
	expect_session(in, GREET OK TOO_LONG OK, ev, no_acts);
	/* a bare-LF line may have one content byte more */
	n = 0;
	memcpy(in, "NOOP ", 5);
	n = 5;
	memset(in + n, 'x', PM_SUBMISSION_LINE_MAX - 6);
	n += PM_SUBMISSION_LINE_MAX - 6;
	in[n++] = '\n';
	in[n] = '\0';
	snprintf(ev, sizeof(ev), "END@%zu phase=0 bad=0 greeting=0 helo=(none)\n", n);
	expect_session(in, GREET OK, ev, no_acts);
}

/* ---- AUTH ---------------------------------------------------------------------- */

static void
test_submission_auth_plain_initial_response(void **state)
{
	(void)state;
	expect_session("EHLO c\r\nAUTH PLAIN " B64_U_PASS "\r\n", GREET EHLO_REPLY LOGGED_IN,
		       "LOGIN@33 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "DONE@33 phase=2 bad=0 greeting=2 helo=c\nrest=0\n",
		       ok_once);
	/* lower case, no EHLO first (Dovecot accepts it, verified), trailing blanks */
	expect_session("auth plain " B64_U_PASS " \t\r\n", GREET AUTHFAIL,
		       "LOGIN@27 mech=PLAIN ir=1 user=u authzid= pass=pass\n" END0(0),
		       fail_once);
}

static void
test_submission_auth_plain_continuation(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN\r\n" B64_U_PASS "\r\n", GREET "334 \r\n" LOGGED_IN,
		       "LOGIN@26 mech=PLAIN ir=0 user=u authzid= pass=pass\n"
		       "DONE@26 phase=2 bad=0 greeting=0 helo=(none)\nrest=0\n",
		       ok_once);
	/* a bare LF ends the response line too (verified) */
	expect_session("AUTH PLAIN\r\n" B64_U_PASS "\n", GREET "334 \r\n" AUTHFAIL,
		       "LOGIN@25 mech=PLAIN ir=0 user=u authzid= pass=pass\n" END0(0),
		       fail_once);
}

static void
test_submission_auth_login_mechanism(void **state)
{
	(void)state;
	expect_session("AUTH LOGIN\r\n" B64_U "\r\n" B64_PASS "\r\n",
		       GREET "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n" LOGGED_IN,
		       "LOGIN@28 mech=LOGIN ir=0 user=u authzid= pass=pass\n"
		       "DONE@28 phase=2 bad=0 greeting=0 helo=(none)\nrest=0\n",
		       ok_once);
	expect_session("AUTH LOGIN " B64_U "\r\n" B64_PASS "\r\n",
		       GREET "334 UGFzc3dvcmQ6\r\n" AUTHFAIL,
		       "LOGIN@27 mech=LOGIN ir=1 user=u authzid= pass=pass\n" END0(0),
		       fail_once);
	/* "=": no user yet (verified); an empty password is the backend's to judge */
	expect_session("auth login =\r\n" B64_U "\r\n\r\n",
		       GREET "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n" AUTHFAIL,
		       "LOGIN@22 mech=LOGIN ir=0 user=u authzid= pass=\n" END0(0), fail_once);
}

static void
test_submission_auth_login_bad_user_fails_at_once(void **state)
{
	(void)state;
	/* an empty user, a user with a NUL (then the password line is a
	 * command, verified), a password with a NUL (ours) */
	expect_session("AUTH LOGIN\r\n\r\nAUTH LOGIN\r\ndQB4\r\n" B64_PASS "\r\n"
		       "AUTH LOGIN " B64_U "\r\ncGEAc3M=\r\n",
		       GREET "334 VXNlcm5hbWU6\r\n" AUTHFAIL "334 VXNlcm5hbWU6\r\n" AUTHFAIL SYNTAX
		       "334 UGFzc3dvcmQ6\r\n" AUTHFAIL,
		       END0(0), no_acts);
}

static void
test_submission_auth_cancelled_with_star(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n* \r\nAUTH LOGIN\r\n" B64_U
		       "\r\n*\r\nNOOP\r\n",
		       GREET "334 \r\n501 5.5.2 Authentication aborted by client.\r\n"
		       "334 VXNlcm5hbWU6\r\n501 5.5.2 Authentication aborted by client.\r\n"
		       "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
		       "501 5.5.2 Authentication aborted by client.\r\n" OK,
		       END0(0), no_acts);
	/* "*" as an initial response is just bad base64 */
	expect_session("AUTH PLAIN *\r\n",
		       GREET "501 5.5.2 Invalid base64 data in initial response\r\n", END0(1),
		       no_acts);
}

static void
test_submission_auth_bad_base64_texts_are_dovecots(void **state)
{
	(void)state;
	/* every case verified against Dovecot 2.3.19.1 */
	expect_session("AUTH PLAIN !!!!\r\nAUTH PLAIN AHU\r\nAUTH LOGIN !!!!\r\n"
		       "AUTH PLAIN " B64_U_PASS "x\r\n",
		       GREET "501 5.5.2 Invalid base64 data in initial response\r\n"
		       "501 5.5.2 Invalid base64 data in initial response\r\n"
		       "501 5.5.2 Invalid base64 data in initial response\r\n"
		       "501 5.5.2 Invalid base64 data in initial response\r\n",
		       END0(4), no_acts);
	expect_session("AUTH PLAIN\r\n!!!\r\nAUTH PLAIN\r\n=\r\nAUTH PLAIN\r\nAHU\r\n"
		       "AUTH PLAIN\r\nA===\r\nAUTH PLAIN\r\nAHUA cGFzcw==\r\nAUTH PLAIN\r\n"
		       "AHUAcGFzcw\r\nAUTH PLAIN\r\n**\r\nAUTH PLAIN\r\n *\r\nAUTH PLAIN\r\n"
		       "AHUAcGFz\tcw==\r\nAUTH LOGIN\r\n@@\r\nAUTH PLAIN\r\nAHUAcGFzcw==x\r\n",
		       GREET "334 \r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 \r\n501 5.5.2 Invalid base64 data in continued response\r\n"
		       "334 \r\n501 5.5.2 Invalid base64 data in continued response\r\n"
		       "334 \r\n501 5.5.2 Invalid base64 data in continued response\r\n"
		       "334 \r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 \r\n501 5.5.2 Invalid base64 data in continued response\r\n"
		       "334 \r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 \r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 \r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 VXNlcm5hbWU6\r\n535 5.7.8 Invalid base64 in response\r\n"
		       "334 \r\n501 5.5.2 Invalid base64 data in continued response\r\n",
		       END0(1), no_acts);
}

static void
test_submission_auth_response_syntax_and_length(void **state)
{
	static char in[PM_SUBMISSION_AUTH_LINE_MAX + 64];
	char ev[128];
	size_t n;
	static const char syn[] = "AUTH PLAIN\r\nAHUA\xc3\xa4\r\nAUTH PLAIN\r\nAH\0U\r\n"
				  "AUTH PLAIN\r\nAHU\rx\r\nAUTH PLAIN\r\nAHU\r\r\nNOOP\r\n";

	(void)state;
	expect_session_n(syn, sizeof(syn) - 1,
			 GREET "334 \r\n500 5.5.2 Invalid AUTH response syntax\r\n"
			 "334 \r\n500 5.5.2 Invalid AUTH response syntax\r\n"
			 "334 \r\n500 5.5.2 Invalid AUTH response syntax\r\n"
			 "334 \r\n500 5.5.2 Invalid AUTH response syntax\r\n" OK,
			 END0(0), no_acts);
	/* 8192 bytes before the CRLF are allowed (verified), 8193 are not */
	n = (size_t)snprintf(in, sizeof(in), "AUTH PLAIN\r\n");
	memset(in + n, 'A', PM_SUBMISSION_AUTH_LINE_MAX);
	n += PM_SUBMISSION_AUTH_LINE_MAX;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
	snprintf(ev, sizeof(ev), "END@%zu phase=0 bad=0 greeting=0 helo=(none)\n", n);
	expect_session(in, GREET "334 \r\n" AUTHFAIL, ev, no_acts);
	n = (size_t)snprintf(in, sizeof(in), "AUTH PLAIN\r\n");
	memset(in + n, 'A', PM_SUBMISSION_AUTH_LINE_MAX + 1);
	n += PM_SUBMISSION_AUTH_LINE_MAX + 1;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "yyy\r\nNOOP\r\n");
	snprintf(ev, sizeof(ev), "END@%zu phase=0 bad=0 greeting=0 helo=(none)\n", n);
	expect_session(in, GREET "334 \r\n" TOO_LONG OK, ev, no_acts);
}

static void
test_submission_auth_parameter_errors(void **state)
{
	(void)state;
	/* all verified; the mechanism is checked after the parameter count */
	expect_session("AUTH\r\nAUTH PLAIN AHUA cGFzcw==\r\nAUTH PLAIN " B64_U_PASS " x\r\n"
		       "AUTH CRAM-MD5\r\nAUTH X !!!!\r\nAUTH  PLAIN\r\nAUTH PLAIN  x\r\n"
		       "AUTH PLAINX\r\nAUTH PLAIN\t" B64_U_PASS "\r\n",
		       GREET "501 5.5.4 Missing SASL mechanism parameter\r\n"
		       "501 5.5.4 Invalid parameters\r\n501 5.5.4 Invalid parameters\r\n"
		       "504 5.5.4 Unsupported authentication mechanism.\r\n"
		       "504 5.5.4 Unsupported authentication mechanism.\r\n" SYNTAX
		       "501 5.5.4 Invalid parameters\r\n"
		       "504 5.5.4 Unsupported authentication mechanism.\r\n"
		       "504 5.5.4 Unsupported authentication mechanism.\r\n",
		       END0(0), no_acts);
	/* an HT inside the initial response: Dovecot skips it, we do not */
	expect_session("AUTH PLAIN AHUA\tcGFzcw==\r\n",
		       GREET "501 5.5.2 Invalid base64 data in initial response\r\n", END0(1),
		       no_acts);
}

static void
test_submission_auth_plain_unusable_messages_fail(void **state)
{
	(void)state;
	/* "u\0pass" (one NUL), "\0\0pass" (no user), "=" (empty), "AHU="
	 * ("\0u": one NUL), an empty response: 535 (verified) */
	expect_session("AUTH PLAIN dQBwYXNz\r\nAUTH PLAIN AABwYXNz\r\nAUTH PLAIN =\r\n"
		       "AUTH PLAIN\r\nAHU=\r\nAUTH PLAIN\r\n\r\n",
		       GREET AUTHFAIL AUTHFAIL AUTHFAIL "334 \r\n" AUTHFAIL "334 \r\n" AUTHFAIL,
		       END0(0), no_acts);
}

static void
test_submission_auth_plain_authzid_kept_or_dropped(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN " B64_Z_U_PASS "\r\nAUTH PLAIN " B64_U_U_PASS "\r\n",
		       GREET AUTHFAIL LOGGED_IN,
		       "LOGIN@25 mech=PLAIN ir=1 user=u authzid=z pass=pass\n"
		       "LOGIN@50 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "DONE@50 phase=2 bad=0 greeting=0 helo=(none)\nrest=0\n",
		       (const struct act[]){
			       { A_FAIL_AUTH, NULL }, { A_OK, NULL }, { A_END, NULL } });
	/* a third NUL makes it invalid (mech-plain.c counts every NUL):
	 * "\0u\0pa\0ss" fails here, never reaches a backend */
	expect_session("AUTH PLAIN AHUAcGEAc3M=\r\n", GREET AUTHFAIL, END0(0), no_acts);
}

/* base64 (RFC 4648, padded) of @n bytes at @msg into @dst; returns its length. */
static size_t
b64(char *dst, const uint8_t *msg, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, k = 0;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)msg[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)msg[i + 1] << 8;
		if (i + 2 < n)
			v |= msg[i + 2];
		dst[k++] = tab[v >> 18 & 63];
		dst[k++] = tab[v >> 12 & 63];
		dst[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		dst[k++] = i + 2 < n ? tab[v & 63] : '=';
	}
	dst[k] = '\0';
	return k;
}

static void
test_submission_auth_field_bounds(void **state)
{
	static char in[8192], enc[4096], ev[2048];
	static uint8_t msg[2048];
	size_t n, m;
	int over;

	(void)state;
	/* authzid 255, user 255, password 1024: the largest login, a
	 * 2061-byte AUTH line; one password byte more fails */
	for (over = 0; over < 2; over++) {
		m = 0;
		memset(msg + m, 'z', 255);
		m += 255;
		msg[m++] = 0;
		memset(msg + m, 'u', 255);
		m += 255;
		msg[m++] = 0;
		memset(msg + m, 'p', 1024u + (size_t)over);
		m += 1024u + (size_t)over;
		b64(enc, msg, m);
		n = (size_t)snprintf(in, sizeof(in), "AUTH PLAIN %s\r\n", enc);
		if (over) {
			expect_session(in, GREET AUTHFAIL, END0(0), no_acts);
			continue;
		}
		assert_int_equal(n, 2061);
		snprintf(ev, sizeof(ev),
			 "LOGIN@%zu mech=PLAIN ir=1 user=%.255s authzid=%.255s pass=%.1024s\n"
			 "END@%zu phase=0 bad=0 greeting=0 helo=(none)\n",
			 n, (const char *)msg + 256, (const char *)msg, (const char *)msg + 512, n);
		expect_session(in, GREET AUTHFAIL, ev, fail_once);
	}
}

/* ---- login results ------------------------------------------------------------- */

static void
test_submission_pipelined_commands_stay_for_the_backend(void **state)
{
	(void)state;
	/* RFC 2920: the commands after the AUTH line are the backend's */
	expect_session("EHLO c\r\nNOOP\r\nAUTH PLAIN " B64_U_PASS
		       "\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n",
		       GREET EHLO_REPLY OK LOGGED_IN,
		       "LOGIN@39 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "DONE@39 phase=2 bad=0 greeting=2 helo=c\nrest=32\n",
		       ok_once);
	expect_session("AUTH LOGIN\r\n" B64_U "\r\n" B64_PASS "\r\nQUIT\r\n",
		       GREET "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n" LOGGED_IN,
		       "LOGIN@28 mech=LOGIN ir=0 user=u authzid= pass=pass\n"
		       "DONE@28 phase=2 bad=0 greeting=0 helo=(none)\nrest=6\n",
		       ok_once);
}

static void
test_submission_wrong_password_then_retry(void **state)
{
	(void)state;
	/* the caller feeds the kept bytes again after login_failed() */
	expect_session("EHLO me.example\r\nAUTH PLAIN " B64_U_WRONG "\r\nNOOP\r\n"
		       "AUTH PLAIN " B64_U_PASS "\r\nMAIL FROM:<a@b>\r\n",
		       GREET EHLO_REPLY AUTHFAIL OK LOGGED_IN,
		       "LOGIN@42 mech=PLAIN ir=1 user=u authzid= pass=wrong\n"
		       "LOGIN@73 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "DONE@73 phase=2 bad=0 greeting=2 helo=me.example\nrest=17\n",
		       (const struct act[]){
			       { A_FAIL_VERBATIM, "535 5.7.8 Authentication failed." },
			       { A_OK, NULL },
			       { A_END, NULL } });
}

static void
test_submission_login_results_have_dovecot_texts(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN " B64_U_PASS "\r\nAUTH PLAIN " B64_U_PASS "\r\n"
		       "AUTH PLAIN " B64_U_PASS "\r\nAUTH PLAIN " B64_U_PASS "\r\n",
		       GREET "454 4.7.0 Account is temporarily unavailable.\r\n"
		       "451 4.3.0 local error\r\n"
		       "535 5.7.8 Authentication credentials invalid\r\n"
		       "235 2.7.0 Welcome aboard, friend\r\n",
		       "LOGIN@25 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "LOGIN@50 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "LOGIN@75 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "LOGIN@100 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "DONE@100 phase=2 bad=0 greeting=0 helo=(none)\nrest=0\n",
		       (const struct act[]){
			       { A_FAIL_UNAVAIL, NULL },
			       { A_FAIL_VERBATIM, "451 4.3.0 local error" },
			       { A_FAIL_VERBATIM, "535 5.7.8 Authentication credentials invalid" },
			       { A_OK, "235 2.7.0 Welcome aboard, friend" },
			       { A_END, NULL } });
}

static void
test_submission_verbatim_421_closes(void **state)
{
	(void)state;
	/* lib-smtp closes after a 421 (verified with a backend answering 421) */
	expect_session("AUTH PLAIN " B64_U_PASS "\r\nNOOP\r\n", GREET "421 4.3.0 go away\r\n",
		       "LOGIN@25 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "CLOSED@25 phase=3 bad=0 greeting=0 helo=(none)\n",
		       (const struct act[]){ { A_FAIL_VERBATIM, "421 4.3.0 go away" },
					     { A_END, NULL } });
}

static void
test_submission_verbatim_bad_codes_count(void **state)
{
	struct pm_submission_params p;

	(void)state;
	lab_params(&p);
	p.max_bad = 2;
	expect_session_p(&p, "FOO\r\nAUTH PLAIN " B64_U_PASS "\r\nFOO\r\nAUTH PLAIN " B64_U_PASS
			 "\r\n", 60, GREET UNKNOWN "501 5.5.4 backend says bad\r\n" TOO_MANY,
			 "LOGIN@30 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
			 "CLOSE@35 phase=3 bad=3 greeting=0 helo=(none)\n",
			 (const struct act[]){ { A_FAIL_VERBATIM, "501 5.5.4 backend says bad" },
					       { A_END, NULL } });
	/* and the one too many is replaced by the 421 */
	expect_session_p(&p, "FOO\r\nFOO\r\nAUTH PLAIN " B64_U_PASS "\r\n", 35,
			 GREET UNKNOWN UNKNOWN TOO_MANY,
			 "LOGIN@35 mech=PLAIN ir=1 user=u authzid= pass=pass\n"
			 "CLOSED@35 phase=3 bad=3 greeting=0 helo=(none)\n",
			 (const struct act[]){
				 { A_FAIL_VERBATIM, "500 5.5.1 x" }, { A_END, NULL } });
}

static void
test_submission_login_result_misuse_is_einval(void **state)
{
	struct pm_submission_params p;
	struct pm_submission m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used;
	static const char auth[] = "AUTH PLAIN " B64_U_PASS "\r\n";

	(void)state;
	lab_params(&p);
	assert_int_equal(pm_submission_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	/* no login pending */
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_AUTHFAILED, NULL, &out),
			 -EINVAL);
	assert_int_equal(pm_submission_login_ok(&m, NULL, &out), -EINVAL);
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)auth, sizeof(auth) - 1, &used,
					    &out),
			 PM_SUBMISSION_LOGIN);
	assert_int_equal(used, sizeof(auth) - 1);
	/* texts that would inject a line, are missing or are no reply line */
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM,
						    "535 x\r\n250 ok", &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM, NULL, &out),
			 -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM, "235 ok",
						    &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM, "53x no",
						    &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM, "535-no",
						    &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_VERBATIM, "53",
						    &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_UNAVAILABLE, "a\nb",
						    &out), -EINVAL);
	assert_int_equal(pm_submission_login_failed(&m, (enum pm_submission_fail)99, NULL, &out),
			 -EINVAL);
	assert_int_equal(pm_submission_login_ok(&m, "535 no", &out), -EINVAL);
	assert_int_equal(pm_submission_login_ok(&m, "2355 no", &out), -EINVAL);
	assert_int_equal(pm_submission_login_ok(&m, "235 a\rb", &out), -EINVAL);
	assert_int_equal(out.len, 0);
	/* no room: -ENOSPC, still waiting */
	out.cap = 5;
	assert_int_equal(pm_submission_login_ok(&m, NULL, &out), -ENOSPC);
	assert_int_equal(pm_submission_login_failed(&m, PM_SUBMISSION_FAIL_AUTHFAILED, NULL, &out),
			 -ENOSPC);
	assert_int_equal(pm_submission_phase(&m), PM_SUBMISSION_PHASE_LOGIN);
	assert_string_equal(pm_submission_login(&m)->pass, "pass");
	out.cap = sizeof(mem);
	assert_int_equal(pm_submission_login_ok(&m, "235", &out), 0);
	assert_memory_equal(mem, "235\r\n", out.len);
	assert_int_equal(pm_submission_phase(&m), PM_SUBMISSION_PHASE_DONE);
	assert_int_equal(pm_submission_login(&m)->pass_len, 0);
	assert_int_equal(pm_submission_login_ok(&m, NULL, &out), -EINVAL);
}

/* ---- the HELO/EHLO domain --------------------------------------------------------- */

static void
test_submission_helo_domain_as_dovecot_parses_it(void **state)
{
	/* What Dovecot's proxy sent as XCLIENT HELO= for each (all verified;
	 * NULL: [UNAVAILABLE]). */
	static const struct {
		const char *line;
		const char *helo;
		int greeting;
	} v[] = {
		{ "EHLO client.example", "client.example", 2 },
		{ "EHLO a..b", NULL, 2 },
		{ "EHLO -x", "-x", 2 },
		{ "EHLO a b", "a", 2 },
		{ "EHLO _x_.y", "_x_.y", 2 },
		{ "EHLO x.", NULL, 2 },
		{ "EHLO .x", NULL, 2 },
		{ "EHLO [bad]", NULL, 2 },
		{ "EHLO [IPv6:::1]", "[IPv6:::1]", 2 },
		{ "EHLO [tag:abc]", "[tag:abc]", 2 },
		{ "EHLO [1.2.3]", NULL, 2 },
		{ "EHLO [1.2.3.4.5]", NULL, 2 },
		{ "EHLO [256.1.1.1]", NULL, 2 },
		{ "EHLO [IPv6:zz]", NULL, 2 },
		{ "EHLO [1.2.3.4]x", NULL, 2 },
		{ "EHLO x\xc3\xa4", NULL, 2 },
		{ "EHLO a+b", NULL, 2 },
		{ "EHLO A.B-C", "A.B-C", 2 },
		{ "HELO [1.2.3.4]", NULL, 1 },
		{ "EHLO x\r\nEHLO y", "y", 2 },
		{ "EHLO a\tb", NULL, 2 },
		{ "EHLO 1", "1", 2 },
		{ "EHLO [1.2.3.4] junk", "[1.2.3.4]", 2 },
		{ "EHLO [a-:x]", NULL, 2 },
		{ "EHLO [x:a\\b]", NULL, 2 },
		{ "HELO c.example", "c.example", 1 },
		{ "EHLO [127.0.0.1]", "[127.0.0.1]", 2 },
		/* from the source (smtp-parser.c), not seen */
		{ "EHLO [001.02.3.0]", "[001.02.3.0]", 2 },
		{ "EHLO [iPV6:1::2]", "[iPV6:1::2]", 2 },
		{ "EHLO [x:a+b=c]", "[x:a+b=c]", 2 },
		{ "EHLO a\t", "a", 2 },
		{ "EHLO x\r\nEHLO a..b", NULL, 2 },
	};
	struct pm_submission_params p;
	struct pm_submission m;
	uint8_t mem[PM_SUBMISSION_OUT_MIN];
	struct pm_buf out;
	char in[128];
	size_t i, used, n;
	const char *h;

	(void)state;
	lab_params(&p);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(pm_submission_init(&m, &p), 0);
		assert_int_equal(pm_submission_greeting(&m), PM_SUBMISSION_GREETING_NONE);
		assert_null(pm_submission_helo(&m));
		pm_buf_init(&out, mem, sizeof(mem));
		n = (size_t)snprintf(in, sizeof(in), "%s\r\n", v[i].line);
		assert_int_equal(pm_submission_feed(&m, (const uint8_t *)in, n, &used, &out),
				 PM_SUBMISSION_AGAIN);
		h = pm_submission_helo(&m);
		if ((h == NULL) != (v[i].helo == NULL) ||
		    (h != NULL && strcmp(h, v[i].helo) != 0))
			fail_msg("\"%s\": helo %s, want %s", v[i].line, h ? h : "(none)",
				 v[i].helo ? v[i].helo : "(none)");
		assert_int_equal(pm_submission_greeting(&m), v[i].greeting);
	}
}

static void
test_submission_helo_domain_bound(void **state)
{
	struct pm_submission_params p;
	struct pm_submission m;
	static uint8_t mem[PM_SUBMISSION_OUT_MIN];
	struct pm_buf out;
	static char in[1024];
	size_t used, n, len;

	(void)state;
	lab_params(&p);
	/* 255 bytes, alone or followed by SP and more: kept; 256: none */
	for (len = 254; len <= 257; len++) {
		for (int tail = 0; tail < 3; tail++) {
			n = (size_t)snprintf(in, sizeof(in), "EHLO ");
			memset(in + n, 'd', len);
			n += len;
			n += (size_t)snprintf(in + n, sizeof(in) - n, "%s\r\n",
					      tail == 0 ? "" : tail == 1 ? " more" : " \t ");
			assert_int_equal(pm_submission_init(&m, &p), 0);
			pm_buf_init(&out, mem, sizeof(mem));
			assert_int_equal(pm_submission_feed(&m, (const uint8_t *)in, n, &used,
							    &out),
					 PM_SUBMISSION_AGAIN);
			if (len <= PM_SUBMISSION_DOMAIN_MAX) {
				assert_non_null(pm_submission_helo(&m));
				assert_int_equal(strlen(pm_submission_helo(&m)), len);
			} else {
				assert_null(pm_submission_helo(&m));
			}
		}
	}
}

/* ---- buffers, misuse, wipe ---------------------------------------------------------- */

static void
test_submission_out_too_small_is_error(void **state)
{
	struct pm_submission_params p;
	struct pm_submission m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used;

	(void)state;
	lab_params(&p);
	assert_int_equal(pm_submission_init(&m, &p), 0);
	/* the EHLO reply cannot fit an empty 64-byte buffer: ERROR */
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)"EHLO x\r\n", 8, &used, &out),
			 PM_SUBMISSION_ERROR);
	assert_int_equal(used, 7);	/* up to the LF */
	/* with something in it: FULL */
	out.len = 1;
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)"\n", 1, &used, &out),
			 PM_SUBMISSION_FULL);
	assert_int_equal(used, 0);
	/* a bad out */
	out.len = out.cap + 1;
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)"\n", 1, &used, &out),
			 PM_SUBMISSION_ERROR);
	assert_int_equal(pm_submission_greet(&m, &out), -EINVAL);
	assert_int_equal(pm_submission_init(&m, NULL), -EINVAL);
}

static void
test_submission_wipe_clears_partial_secrets(void **state)
{
	struct pm_submission_params p;
	struct pm_submission m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used, i;
	static const char in[] = "AUTH PLAIN\r\nAHUAcGFzcw";	/* "\0u\0pas" decoded so far */

	(void)state;
	lab_params(&p);
	assert_int_equal(pm_submission_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)in, sizeof(in) - 1, &used, &out),
			 PM_SUBMISSION_AGAIN);
	assert_int_equal(memcmp(m.lg.pass, "pas", 3), 0);
	pm_submission_wipe(&m);
	for (i = 0; i < sizeof(m.lg.pass); i++)
		assert_int_equal(m.lg.pass[i], 0);
	assert_int_equal(m.a.b64_acc, 0);
	/* and an AUTH line answered with an error leaves no password behind */
	assert_int_equal(pm_submission_init(&m, &p), 0);
	assert_int_equal(pm_submission_feed(&m, (const uint8_t *)"AUTH PLAIN " B64_U_PASS " x\r\n",
					    28, &used, &out),
			 PM_SUBMISSION_AGAIN);
	for (i = 0; i < sizeof(m.lg.pass); i++)
		assert_int_equal(m.lg.pass[i], 0);
}

/* ---- random sessions ---------------------------------------------------------------- */

static const char *const fragments[] = {
	"EHLO c.example\r\n", "HELO x\r\n", "NOOP\r\n", "NOOP \"a b\"\r\n", "RSET\r\n",
	"MAIL FROM:<a@b>\r\n", "STARTTLS\r\n", "XCLIENT A=B\r\n", "FOO\r\n", "\r\n",
	"AUTH PLAIN " B64_U_PASS "\r\n", "AUTH PLAIN\r\n" B64_U_PASS "\r\n", "AUTH PLAIN\r\n*\r\n",
	"AUTH LOGIN\r\n" B64_U "\r\n" B64_PASS "\r\n", "AUTH LOGIN " B64_U "\r\n*\r\n",
	"AUTH PLAIN =\r\n", "AUTH X\r\n", "AUTH\r\n", "AUTH PLAIN AHU\r\n", "AUTH PLAIN\r\n!!\r\n",
	"EHLO  x\r\n", "NOOP \xc3\xa4\r\n", "NOOP\r\r\n", "QUIT\r\n", "EHLO [1.2.3.4] x\n",
	"NOOP x \t \r\n", "auth login =\r\n\r\n",
};

static void
test_submission_random_sessions_are_chunking_invariant(void **state)
{
	uint32_t seed = pm_test_seed("submission random sessions", TEST_SEED);
	static const size_t caps[] = { 600, 300, 0 };
	struct pm_submission_params p;
	static char in[4096];
	struct result ref, r;
	struct act acts[64];
	size_t n, k, i, c, nf = sizeof(fragments) / sizeof(fragments[0]);
	uint32_t rng;
	int round;

	(void)state;
	lab_params(&p);
	p.max_bad = 6;
	res_init(&ref);
	res_init(&r);
	for (round = 0; round < 60; round++) {
		n = 0;
		for (i = 0; i < 20; i++) {
			const char *f = fragments[xorshift32(&seed) % nf];

			memcpy(in + n, f, strlen(f));
			n += strlen(f);
			/* now and then a random byte near the end of the fragment */
			if (xorshift32(&seed) % 8 == 0)
				in[n - 1 - xorshift32(&seed) % 4] = (char)xorshift32(&seed);
		}
		/* more answers than logins (20 fragments, one login each at most) */
		for (i = 0; i < 63; i++) {
			uint32_t x = xorshift32(&seed) % 5;

			acts[i].kind = x == 0 ? A_OK : x == 1 ? A_FAIL_UNAVAIL
					: x == 2 ? A_FAIL_VERBATIM : A_FAIL_AUTH;
			acts[i].text = x == 2 ? ((xorshift32(&seed) & 1) ? "500 x" : "451 4.3.0 y")
				       : NULL;
		}
		acts[63].kind = A_END;

		/* reference: all at once into a large buffer */
		run(&p, in, n, n, 1u << 16, acts, &ref, NULL);
		for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
			for (k = 1; k <= n; k += k < 24 ? 1 : 37) {
				run(&p, in, n, k, caps[c], acts, &r, NULL);
				assert_same("transcript", k, caps[c], r.out, r.out_len, ref.out,
					    ref.out_len);
				assert_same("events", k, caps[c], r.ev, r.ev_len, ref.ev,
					    ref.ev_len);
			}
			for (i = 0; i < 8; i++) {
				rng = xorshift32(&seed) | 1;
				run(&p, in, n, 0, caps[c], acts, &r, &rng);
				assert_same("transcript", 0, caps[c], r.out, r.out_len, ref.out,
					    ref.out_len);
				assert_same("events", 0, caps[c], r.ev, r.ev_len, ref.ev,
					    ref.ev_len);
			}
		}
	}
	res_free(&ref);
	res_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submission_params_defaults_are_valid),
		cmocka_unit_test(test_submission_params_bad_values_are_rejected),
		cmocka_unit_test(test_submission_greeting_is_dovecots),
		cmocka_unit_test(test_submission_ehlo_lists_dovecot_capabilities),
		cmocka_unit_test(test_submission_ehlo_keywords_come_from_params),
		cmocka_unit_test(test_submission_helo_without_domain_is_501),
		cmocka_unit_test(test_submission_noop_rset_quit),
		cmocka_unit_test(test_submission_noop_bad_strings_are_501),
		cmocka_unit_test(test_submission_mail_and_friends_need_auth),
		cmocka_unit_test(test_submission_starttls_xclient_and_unknown),
		cmocka_unit_test(test_submission_syntax_errors_answered_at_once),
		cmocka_unit_test(test_submission_utf8_and_bare_lf_are_accepted),
		cmocka_unit_test(test_submission_too_many_bad_commands_close),
		cmocka_unit_test(test_submission_max_bad_param_is_honoured),
		cmocka_unit_test(test_submission_long_line_is_answered_and_skipped),
		cmocka_unit_test(test_submission_auth_plain_initial_response),
		cmocka_unit_test(test_submission_auth_plain_continuation),
		cmocka_unit_test(test_submission_auth_login_mechanism),
		cmocka_unit_test(test_submission_auth_login_bad_user_fails_at_once),
		cmocka_unit_test(test_submission_auth_cancelled_with_star),
		cmocka_unit_test(test_submission_auth_bad_base64_texts_are_dovecots),
		cmocka_unit_test(test_submission_auth_response_syntax_and_length),
		cmocka_unit_test(test_submission_auth_parameter_errors),
		cmocka_unit_test(test_submission_auth_plain_unusable_messages_fail),
		cmocka_unit_test(test_submission_auth_plain_authzid_kept_or_dropped),
		cmocka_unit_test(test_submission_auth_field_bounds),
		cmocka_unit_test(test_submission_pipelined_commands_stay_for_the_backend),
		cmocka_unit_test(test_submission_wrong_password_then_retry),
		cmocka_unit_test(test_submission_login_results_have_dovecot_texts),
		cmocka_unit_test(test_submission_verbatim_421_closes),
		cmocka_unit_test(test_submission_verbatim_bad_codes_count),
		cmocka_unit_test(test_submission_login_result_misuse_is_einval),
		cmocka_unit_test(test_submission_helo_domain_as_dovecot_parses_it),
		cmocka_unit_test(test_submission_helo_domain_bound),
		cmocka_unit_test(test_submission_out_too_small_is_error),
		cmocka_unit_test(test_submission_wipe_clears_partial_secrets),
		cmocka_unit_test(test_submission_random_sessions_are_chunking_invariant),
	};

	return cmocka_run_group_tests_name("submission", tests, NULL, NULL);
}
