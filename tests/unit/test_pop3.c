/*
 * test_pop3.c -- the client-facing POP3 pre-login machine (proto/pop3.h).
 *
 * Every session test goes through expect_session(): the same client bytes
 * are fed at every chunk size from 1 to n (for inputs over LONG_INPUT bytes,
 * the budget tests: 1..256, every 97th size and n), each time with a large
 * out buffer, and at the short chunk sizes with a PM_POP3_OUT_MIN one and
 * two small ones that the harness drains whenever the machine answers
 * PM_POP3_FULL; the transcript (every byte written to the client, in order)
 * and the event log (LOGIN with its fields and offset, CLOSE, the final
 * phase) must equal the golden ones, byte for byte. Logins are answered from
 * a per-test script (login_failed kinds or login_ok).
 *
 * The golden texts are Dovecot 2.3.19.1 pop3-login's, captured from a real
 * instance (see the header comment of proto/pop3.h), except where that header
 * says ours differ. The random test builds sessions from realistic fragments
 * with a printed seed (PM_SEED replays another run).
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

#include "proto/pop3.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x90b3c0deu

#define GREET "+OK postmux ready.\r\n"
#define CAPA_REPLY                                                                               \
	"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n" \
	"SASL PLAIN\r\n.\r\n"
#define UNKNOWN "-ERR Unknown command.\r\n"
#define TOO_MANY "-ERR Too many invalid bad commands.\r\n"
#define AUTHFAIL "-ERR [AUTH] Authentication failed.\r\n"
#define NOUSER "-ERR No username given.\r\n"
#define FULLBUF "-ERR Input buffer full, aborting\r\n"
#define LISTING "+OK\r\nPLAIN\r\n.\r\n"
#define UNSUPPORTED "-ERR [AUTH] Unsupported authentication mechanism.\r\n"
#define B64_IR_BAD "-ERR [AUTH] Invalid base64 data in initial response\r\n"
#define B64_RESP_CHAR "-ERR [AUTH] Invalid base64 in response\r\n"
#define B64_RESP_BAD "-ERR [AUTH] Invalid base64 data in continued response\r\n"

#define B64_BOB_PASS "AGJvYgBwYXNz"		/* "\0bob\0pass" */
#define B64_BOB_WRONG "AGJvYgB3cm9uZw=="	/* "\0bob\0wrong" */
#define B64_JOE_BOB_PASS "am9lAGJvYgBwYXNz"	/* "joe\0bob\0pass" */
#define B64_BOB_BOB_PASS "Ym9iAGJvYgBwYXNz"	/* "bob\0bob\0pass" */

/* ---- the harness ------------------------------------------------------------ */

enum act_kind { A_END, A_FAIL_AUTH, A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK };

struct act {
	enum act_kind kind;
	const char *text;	/* A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK */
};

static void
apply(struct pm_pop3 *m, const struct act *a, struct tout *o, struct result *r)
{
	int rc;
	int tries;

	squeeze(o);
	for (tries = 0; tries < 2; tries++) {
		switch (a->kind) {
		case A_FAIL_AUTH:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_AUTHFAILED, NULL, &o->b);
			break;
		case A_FAIL_UNAVAIL:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_UNAVAILABLE, a->text, &o->b);
			break;
		case A_FAIL_VERBATIM:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_VERBATIM, a->text, &o->b);
			break;
		case A_OK:
			rc = pm_pop3_login_ok(m, a->text, &o->b);
			break;
		default:
			fail_msg("login without a scripted answer");
			return;
		}
		if (rc != -ENOSPC)
			break;
		assert_int_equal(pm_pop3_phase(m), PM_POP3_PHASE_LOGIN);
		drain(r, o);		/* make room and try again */
	}
	assert_int_equal(rc, 0);
}

/*
 * One session: greet, then feed @in in pieces of @chunk bytes (@chunk 0:
 * sizes 1..17 drawn from *@rng) through an out buffer of @outcap bytes
 * (drained on FULL and after every call; 0: stingy mode, above). Logins are
 * answered from @acts in order (running out of them fails). Returns how many
 * answers were used.
 */
static size_t
run(const struct pm_pop3_params *p, const void *input, size_t n, size_t chunk, size_t outcap,
    const struct act *acts, struct result *r, uint32_t *rng)
{
	const uint8_t *in = input;
	struct pm_pop3 m;
	struct tout o;
	uint8_t *mem;
	const struct pm_pop3_login *lg;
	size_t off = 0, end, used, k = 0, len;
	enum pm_pop3_status st;
	bool retry = false;

	o.stingy = outcap == 0;
	o.memsize = o.stingy ? 1u << 16 : outcap;
	o.base = o.stingy ? 1 : 0;
	mem = malloc(o.memsize);	/* exact size: ASan sees overruns */
	assert_non_null(mem);
	r->out_len = 0;
	r->ev_len = 0;
	assert_int_equal(pm_pop3_init(&m, p), 0);
	pm_buf_init(&o.b, mem, o.memsize);
	if (o.stingy)
		mem[o.b.len++] = '#';
	assert_int_equal(pm_pop3_greet(&m, &o.b), 0);
	drain(r, &o);
	while (off < n) {
		size_t piece = chunk != 0 ? chunk : 1 + xorshift32(rng) % 17;

		end = off + piece < n ? off + piece : n;
		while (off < end) {
			/* after a FULL in stingy mode: the failed byte alone */
			len = retry ? 1 : end - off;
			if (!retry)
				squeeze(&o);
			retry = false;
			st = pm_pop3_feed(&m, in + off, len, &used, &o.b);
			assert_true(used <= len);
			off += used;
			if (st == PM_POP3_AGAIN) {
				assert_int_equal(used, len);
				drain(r, &o);
				continue;
			}
			if (st == PM_POP3_FULL) {
				assert_true(o.b.len > 0);
				drain(r, &o);
				retry = o.stingy;
				continue;
			}
			drain(r, &o);
			if (st == PM_POP3_LOGIN) {
				assert_true(used > 0);
				lg = pm_pop3_login(&m);
				ev_printf(r, "LOGIN@%zu mech=%s ir=%d", off,
					  lg->mech == PM_POP3_MECH_USER ? "USER" : "PLAIN",
					  lg->sasl_ir);
				ev_field(r, "user", lg->user, lg->user_len);
				ev_field(r, "authzid", lg->authzid, lg->authzid_len);
				ev_field(r, "pass", lg->pass, lg->pass_len);
				ev_printf(r, "\n");
				apply(&m, &acts[k], &o, r);
				drain(r, &o);
				if (acts[k++].kind == A_OK) {
					ev_printf(r, "DONE rest=%zu\n", n - off);
					assert_int_equal(pm_pop3_feed(&m, in, n, &used, &o.b),
							 PM_POP3_ERROR);
					assert_int_equal(used, 0);
					goto out;
				}
				continue;
			}
			if (st == PM_POP3_CLOSE) {
				ev_printf(r, "CLOSE@%zu\n", off);
				assert_int_equal(pm_pop3_phase(&m), PM_POP3_PHASE_CLOSED);
				assert_int_equal(pm_pop3_feed(&m, in, n, &used, &o.b),
						 PM_POP3_ERROR);
				assert_int_equal(used, 0);
				goto out;
			}
			ev_printf(r, "ERROR@%zu\n", off);
			goto out;
		}
	}
	ev_printf(r, "END phase=%d bad=%u\n", (int)pm_pop3_phase(&m), pm_pop3_bad_count(&m));
out:
	free(mem);
	return k;
}

static void
expect_session_p(const struct pm_pop3_params *p, const void *in, size_t n,
		 const char *want_out, const char *want_ev, const struct act *acts)
{
	static const size_t caps[] = { 1u << 16, PM_POP3_OUT_MIN, 200, 0 };
	struct result r;
	size_t k, c, wo = strlen(want_out), we = strlen(want_ev);

	res_init(&r);
	for (c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (k = 1; k <= (n > 0 ? n : 1); k = next_chunk(k, n)) {
			size_t used = run(p, in, n, k, caps[c], acts, &r, NULL);

			assert_int_equal(acts[used].kind, A_END);	/* all answers used */
			assert_same("transcript", k, caps[c], r.out, r.out_len, want_out, wo);
			assert_same("events", k, caps[c], r.ev, r.ev_len, want_ev, we);
			/* small buffers: the short chunkings suffice */
			if (c > 0 && k > (n <= LONG_INPUT ? 64u : 16u))
				break;
		}
	}
	res_free(&r);
}

static const struct act no_acts[] = { { A_END, NULL } };
static const struct act fail_once[] = { { A_FAIL_AUTH, NULL }, { A_END, NULL } };
static const struct act ok_once[] = { { A_OK, "Logged in." }, { A_END, NULL } };

static void
expect_session(const char *in, const char *want_out, const char *want_ev,
	       const struct act *acts)
{
	struct pm_pop3_params p;

	pm_pop3_params_defaults(&p);
	expect_session_p(&p, in, strlen(in), want_out, want_ev, acts);
}

/* Same, for input with NUL bytes. */
static void
expect_session_n(const void *in, size_t n, const char *want_out, const char *want_ev,
		 const struct act *acts)
{
	struct pm_pop3_params p;

	pm_pop3_params_defaults(&p);
	expect_session_p(&p, in, n, want_out, want_ev, acts);
}

#define EXPECT_N(in, out, ev, acts) expect_session_n((in), sizeof(in) - 1, (out), (ev), (acts))

/* ---- params and greeting ----------------------------------------------------- */

static void
test_pop3_params_defaults_are_valid(void **state)
{
	struct pm_pop3_params p;

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_params_check(&p), 0);
	assert_string_equal(p.capability, "CAPA TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE");
	assert_string_equal(p.greeting, "postmux ready.");
	assert_int_equal(p.max_bad, 3);
}

static void
test_pop3_params_bad_values_are_rejected(void **state)
{
	static char big[PM_POP3_TEXT_MAX + 2];
	static const char *const bad_caps[] = { " CAPA", "CAPA ", "CAPA  TOP", "A\r\nB", " " };
	struct pm_pop3_params p;
	struct pm_pop3 m;
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	pm_pop3_params_defaults(&p);
	p.greeting = "a\r\nb";
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	assert_int_equal(pm_pop3_init(&m, &p), -EINVAL);
	for (i = 0; i < sizeof(bad_caps) / sizeof(bad_caps[0]); i++) {
		pm_pop3_params_defaults(&p);
		p.capability = bad_caps[i];
		assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	}
	pm_pop3_params_defaults(&p);
	p.capability = NULL;
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	pm_pop3_params_defaults(&p);
	p.greeting = NULL;
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	pm_pop3_params_defaults(&p);
	p.greeting = big;
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	big[PM_POP3_TEXT_MAX] = '\0';	/* exactly the maximum */
	assert_int_equal(pm_pop3_params_check(&p), 0);
	pm_pop3_params_defaults(&p);
	p.capability = "";	/* only USER and SASL PLAIN */
	assert_int_equal(pm_pop3_params_check(&p), 0);
	p.max_bad = 0;
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	p.max_bad = PM_POP3_MAX_BAD_MAX + 1;
	assert_int_equal(pm_pop3_params_check(&p), -EINVAL);
	assert_int_equal(pm_pop3_params_check(NULL), -EINVAL);
	assert_int_equal(pm_pop3_init(NULL, &p), -EINVAL);
}

static void
test_pop3_greeting_has_text(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[256];
	struct pm_buf out;

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_pop3_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	assert_memory_equal(mem, GREET, out.len);

	/* Dovecot's own text through the params (verified line) */
	p.greeting = "Dovecot (Debian) ready.";
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_pop3_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen("+OK Dovecot (Debian) ready.\r\n"));
	assert_memory_equal(mem, "+OK Dovecot (Debian) ready.\r\n", out.len);

	p.greeting = "";
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_pop3_greet(&m, &out), 0);
	assert_int_equal(out.len, 5);
	assert_memory_equal(mem, "+OK\r\n", 5);
}

static void
test_pop3_greeting_without_room_is_enospc(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[256];
	struct pm_buf out;

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, strlen(GREET) - 1);
	assert_int_equal(pm_pop3_greet(&m, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	out.cap = strlen(GREET);
	assert_int_equal(pm_pop3_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	out.len = out.cap + 1;
	assert_int_equal(pm_pop3_greet(&m, &out), -EINVAL);
}

/* ---- simple commands ---------------------------------------------------------- */

static void
test_pop3_capa_lists_capabilities(void **state)
{
	struct pm_pop3_params p;
	static const char in[] = "CAPA\r\ncapa\r\nCaPa with args\n";

	(void)state;
	expect_session(in, GREET CAPA_REPLY CAPA_REPLY CAPA_REPLY, "END phase=0 bad=0\n",
		       no_acts);
	pm_pop3_params_defaults(&p);
	p.capability = "";
	expect_session_p(&p, in, 6, GREET "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
			 "END phase=0 bad=0\n", no_acts);
	p.capability = "TOP";
	expect_session_p(&p, in, 6, GREET "+OK\r\nTOP\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
			 "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_apop_stls_xclient_have_dovecot_answers(void **state)
{
	(void)state;
	/* none is a bad command: six do not close */
	expect_session("APOP u 0123456789abcdef0123456789abcdef\r\n"
		       "STLS\r\n"
		       "stls\r\n"
		       "XCLIENT ADDR=1.2.3.4\r\n"
		       "XOIP 1.2.3.4\r\n"
		       "xclient\r\n",
		       GREET "-ERR APOP not enabled.\r\n"
		       "-ERR TLS support isn't enabled.\r\n"
		       "-ERR TLS support isn't enabled.\r\n"
		       "+OK You are not from trusted IP - ignoring\r\n"
		       "+OK You are not from trusted IP - ignoring\r\n"
		       "+OK You are not from trusted IP - ignoring\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_quit_closes(void **state)
{
	(void)state;
	expect_session("QUIT\r\nCAPA\r\n", GREET "+OK Logging out\r\n", "CLOSE@6\n", no_acts);
	expect_session("quit extra\nCAPA\r\n", GREET "+OK Logging out\r\n", "CLOSE@11\n",
		       no_acts);
	/* a NUL ends the name: still QUIT (verified "QUIT\0x") */
	EXPECT_N("QUIT\0x\r\n", GREET "+OK Logging out\r\n", "CLOSE@8\n", no_acts);
}

static void
test_pop3_unknown_commands_close_after_three_in_a_row(void **state)
{
	(void)state;
	/* verified: NOOP and the empty line are unknown before login */
	expect_session("NOOP\r\n\r\nFOO\r\nCAPA\r\n",
		       GREET UNKNOWN UNKNOWN UNKNOWN TOO_MANY, "CLOSE@13\n", no_acts);
	/* verified: any command but AUTH starts the count again */
	expect_session("FOO\r\nBAR\r\nUSER x\r\nFOO\r\nBAR\r\nNOOP\r\n",
		       GREET UNKNOWN UNKNOWN "+OK\r\n" UNKNOWN UNKNOWN UNKNOWN TOO_MANY,
		       "CLOSE@34\n", no_acts);
	expect_session("FOO\r\nFOO\r\nPASS x\r\nFOO\r\nAPOP x\r\nFOO\r\nSTLS\r\nFOO\r\n"
		       "XOIP\r\nFOO\r\nFOO\r\n",
		       GREET UNKNOWN UNKNOWN NOUSER UNKNOWN "-ERR APOP not enabled.\r\n" UNKNOWN
		       "-ERR TLS support isn't enabled.\r\n" UNKNOWN
		       "+OK You are not from trusted IP - ignoring\r\n" UNKNOWN UNKNOWN,
		       "END phase=0 bad=2\n", no_acts);
}

static void
test_pop3_auth_does_not_touch_bad_count(void **state)
{
	(void)state;
	/* verified: AUTH FOO, the AUTH list, a failed AUTH and a cancelled
	 * one neither count nor reset */
	expect_session("FOO\r\nFOO\r\nAUTH FOO\r\nFOO\r\n",
		       GREET UNKNOWN UNKNOWN UNSUPPORTED UNKNOWN TOO_MANY, "CLOSE@25\n", no_acts);
	expect_session("FOO\r\nFOO\r\nAUTH\r\nAUTH PLAIN =\r\nAUTH PLAIN\r\n*\r\nFOO\r\n",
		       GREET UNKNOWN UNKNOWN LISTING AUTHFAIL
		       "+ \r\n-ERR Authentication aborted by client.\r\n" UNKNOWN TOO_MANY,
		       "CLOSE@50\n", no_acts);
}

static void
test_pop3_bad_limit_is_a_parameter(void **state)
{
	struct pm_pop3_params p;
	static const char in[] = "A\r\nB\r\nC\r\nD\r\nE\r\n";

	(void)state;
	pm_pop3_params_defaults(&p);
	p.max_bad = 1;
	expect_session_p(&p, in, strlen(in), GREET UNKNOWN TOO_MANY, "CLOSE@3\n", no_acts);
	p.max_bad = 5;
	expect_session_p(&p, in, strlen(in), GREET UNKNOWN UNKNOWN UNKNOWN UNKNOWN UNKNOWN TOO_MANY,
			 "CLOSE@15\n", no_acts);
}

static void
test_pop3_command_names_are_read_like_dovecot(void **state)
{
	(void)state;
	/* verified one by one on 2.3.19.1: CRs in the name are skipped but
	 * count toward its 8 raw bytes; a bare LF ends a line; names of more
	 * than 8 bytes are unknown */
	expect_session("US\rER x\r\nCA\rPA\r\n\rCAPA\r\nCAPA\r\r\nCAPA\r\r\r\rX\r\n"
		       "CAPABILITY\r\nFOO\rCAPA\r\n",
		       GREET "+OK\r\n" CAPA_REPLY CAPA_REPLY CAPA_REPLY CAPA_REPLY UNKNOWN UNKNOWN,
		       "END phase=0 bad=2\n", no_acts);
	expect_session("\r\r\r\r\r\r\r\rCAPA\r\nCAPA\nCAPAXXXXY\r\n",
		       GREET UNKNOWN CAPA_REPLY UNKNOWN, "END phase=0 bad=1\n", no_acts);
	expect_session("CAPA\tx\r\nCAPA\r\n", GREET UNKNOWN CAPA_REPLY, "END phase=0 bad=0\n",
		       no_acts);
	/* NUL ends the name and starts the arguments (verified "CA\0PA") */
	EXPECT_N("CA\0PA\r\nCAPA\0\r\n", GREET UNKNOWN CAPA_REPLY, "END phase=0 bad=0\n",
		 no_acts);
}

/* ---- USER and PASS ------------------------------------------------------------ */

static void
test_pop3_user_pass_reports_login(void **state)
{
	(void)state;
	expect_session("USER bob\r\nPASS pass\r\n", GREET "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@21 mech=USER ir=0 user=bob authzid= pass=pass\n"
		       "DONE rest=0\n",
		       ok_once);
	expect_session("user bob\nPass pass\n", GREET "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@19 mech=USER ir=0 user=bob authzid= pass=pass\n"
		       "DONE rest=0\n",
		       ok_once);
	/* the last USER counts; an empty password is a password */
	expect_session("USER a\r\nUSER bob\r\nPASS\r\n", GREET "+OK\r\n+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@24 mech=USER ir=0 user=bob authzid= pass=\n"
		       "DONE rest=0\n",
		       ok_once);
}

static void
test_pop3_user_and_pass_arguments_keep_spaces_and_inner_crs(void **state)
{
	(void)state;
	/* verified: "user  bob" logs in " bob", "USER\r\r\r\r\rbob" logs in
	 * "bob"; one CR before the LF is dropped, others are data */
	expect_session("user  bob\r\nPASS  my pass\r\n", GREET "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@26 mech=USER ir=0 user=\\x20bob authzid= "
		       "pass=\\x20my\\x20pass\n"
		       "DONE rest=0\n",
		       ok_once);
	expect_session("USER\r\r\r\r\rbob\r\nPASS a\rb\r\r\n", GREET "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@25 mech=USER ir=0 user=bob authzid= pass=a\\x0db\\x0d\n"
		       "DONE rest=0\n",
		       ok_once);
}

static void
test_pop3_nul_ends_user_and_password(void **state)
{
	(void)state;
	/* verified: "USER bo\0xyz" + "PASS pass\0zzz" logs in "bo" */
	EXPECT_N("USER bo\0xyz\r\nPASS pass\0zzz\r\n", GREET "+OK\r\n+OK Logged in.\r\n",
		 "LOGIN@28 mech=USER ir=0 user=bo authzid= pass=pass\n"
		 "DONE rest=0\n",
		 ok_once);
	/* a CR before the NUL is kept */
	EXPECT_N("USER bo\r\0\r\nPASS \0\r\n", GREET "+OK\r\n+OK Logged in.\r\n",
		 "LOGIN@19 mech=USER ir=0 user=bo\\x0d authzid= pass=\n"
		 "DONE rest=0\n",
		 ok_once);
}

static void
test_pop3_pass_without_user_is_refused(void **state)
{
	(void)state;
	expect_session("PASS x\r\npass\r\n", GREET NOUSER NOUSER, "END phase=0 bad=0\n",
		       no_acts);
}

static void
test_pop3_failed_login_uses_up_the_user(void **state)
{
	static const struct act acts[] = { { A_FAIL_VERBATIM,
					     "[AUTH] Authentication failed." },
					   { A_OK, "Logged in." },
					   { A_END, NULL } };

	(void)state;
	/* verified: after a failed PASS, PASS again gets "No username given." */
	expect_session("USER bob\r\nPASS wrong\r\nPASS pass\r\nUSER bob\r\nPASS pass\r\nSTAT\r\n",
		       GREET "+OK\r\n-ERR [AUTH] Authentication failed.\r\n" NOUSER
		       "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@22 mech=USER ir=0 user=bob authzid= pass=wrong\n"
		       "LOGIN@54 mech=USER ir=0 user=bob authzid= pass=pass\n"
		       "DONE rest=6\n",
		       acts);
}

static void
test_pop3_failed_login_then_another_user(void **state)
{
	static const struct act acts[] = { { A_FAIL_AUTH, NULL },
					   { A_FAIL_UNAVAIL, NULL },
					   { A_OK, NULL },
					   { A_END, NULL } };

	(void)state;
	expect_session("USER alice\r\nPASS a\r\n"
		       "AUTH PLAIN " B64_BOB_WRONG "\r\n"
		       "CAPA\r\nUSER carol\r\nPASS c\r\nLIST\r\n",
		       GREET "+OK\r\n-ERR Authentication failed.\r\n"
		       "-ERR [SYS/TEMP] Account is temporarily unavailable.\r\n" CAPA_REPLY
		       "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@20 mech=USER ir=0 user=alice authzid= pass=a\n"
		       "LOGIN@49 mech=PLAIN ir=1 user=bob authzid= pass=wrong\n"
		       "LOGIN@75 mech=USER ir=0 user=carol authzid= pass=c\n"
		       "DONE rest=6\n",
		       acts);
}

static void
test_pop3_auth_keeps_the_pending_user(void **state)
{
	static const struct act acts[] = { { A_FAIL_VERBATIM,
					     "[AUTH] Authentication failed." },
					   { A_OK, NULL },
					   { A_END, NULL } };

	(void)state;
	/* verified: USER, a failed AUTH, then PASS logs in the USER name */
	expect_session("USER bob\r\nAUTH PLAIN " B64_JOE_BOB_PASS "\r\nPASS pass\r\n",
		       GREET "+OK\r\n-ERR [AUTH] Authentication failed.\r\n+OK Logged in.\r\n",
		       "LOGIN@39 mech=PLAIN ir=1 user=bob authzid=joe pass=pass\n"
		       "LOGIN@50 mech=USER ir=0 user=bob authzid= pass=pass\n"
		       "DONE rest=0\n",
		       acts);
}

/* The event line of a USER login with @plen copies of @pch as the password,
 * then @tail. */
static void
user_login_ev(char *ev, size_t cap, size_t off, const char *user, char pch, size_t plen,
	      const char *tail)
{
	size_t n = (size_t)snprintf(ev, cap, "LOGIN@%zu mech=USER ir=0 user=%s authzid= pass=",
				    off, user);

	assert_true(n + plen + strlen(tail) + 2 < cap);
	memset(ev + n, pch, plen);
	snprintf(ev + n + plen, cap - n - plen, "\n%s", tail);
}

static void
test_pop3_unusable_user_pass_fail_locally(void **state)
{
	static char in[4096], ev[4096], user[PM_POP3_USER_MAX + 1];
	size_t n;

	(void)state;
	/* verified: an empty USER name fails (auth: "Empty username") */
	expect_session("USER\r\nPASS pass\r\nUSER \r\nPASS x\r\nPASS x\r\n",
		       GREET "+OK\r\n" AUTHFAIL "+OK\r\n" AUTHFAIL NOUSER, "END phase=0 bad=0\n",
		       no_acts);
	/* ours: a USER name over 255 bytes, a password over 1024 (only a
	 * bare LF leaves room for 1025 bytes), then both at their bound */
	n = (size_t)snprintf(in, sizeof(in), "USER ");
	memset(in + n, 'u', PM_POP3_USER_MAX + 1);
	n += PM_POP3_USER_MAX + 1;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nPASS p\r\nUSER ");
	memset(in + n, 'u', PM_POP3_USER_MAX);
	n += PM_POP3_USER_MAX;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nPASS ");
	memset(in + n, 'p', PM_POP3_PASS_MAX + 1);
	n += PM_POP3_PASS_MAX + 1;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\nUSER ");
	memset(in + n, 'u', PM_POP3_USER_MAX);
	n += PM_POP3_USER_MAX;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nPASS ");
	memset(in + n, 'p', PM_POP3_PASS_MAX);
	n += PM_POP3_PASS_MAX;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
	memset(user, 'u', PM_POP3_USER_MAX);
	user_login_ev(ev, sizeof(ev), n, user, 'p', PM_POP3_PASS_MAX, "DONE rest=0\n");
	expect_session_n(in, n,
			 GREET "+OK\r\n" AUTHFAIL "+OK\r\n" AUTHFAIL "+OK\r\n"
			 "+OK Logged in.\r\n",
			 ev, ok_once);
}

/* ---- AUTH ---------------------------------------------------------------------- */

static void
test_pop3_auth_plain_with_initial_response(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN " B64_BOB_PASS "\r\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@25 mech=PLAIN ir=1 user=bob authzid= pass=pass\nDONE rest=0\n",
		       ok_once);
	/* verified: the mechanism is case-insensitive; a bare LF ends it */
	expect_session("auth plain " B64_BOB_PASS "\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@24 mech=PLAIN ir=1 user=bob authzid= pass=pass\nDONE rest=0\n",
		       ok_once);
	/* an authzid equal to the authcid is dropped (verified: logs in) */
	expect_session("AUTH PLAIN " B64_BOB_BOB_PASS "\r\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@29 mech=PLAIN ir=1 user=bob authzid= pass=pass\nDONE rest=0\n",
		       ok_once);
}

static void
test_pop3_auth_plain_continuation(void **state)
{
	(void)state;
	/* verified: "+ " then the response; a space after the mechanism and
	 * nothing else is no initial response either */
	expect_session("AUTH PLAIN\r\n" B64_BOB_PASS "\r\n", GREET "+ \r\n+OK Logged in.\r\n",
		       "LOGIN@26 mech=PLAIN ir=0 user=bob authzid= pass=pass\nDONE rest=0\n",
		       ok_once);
	expect_session("AUTH PLAIN \r\n" B64_BOB_PASS "\n", GREET "+ \r\n+OK Logged in.\r\n",
		       "LOGIN@26 mech=PLAIN ir=0 user=bob authzid= pass=pass\nDONE rest=0\n",
		       ok_once);
}

static void
test_pop3_auth_plain_authzid(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN " B64_JOE_BOB_PASS "\r\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@29 mech=PLAIN ir=1 user=bob authzid=joe pass=pass\nDONE rest=0\n",
		       ok_once);
	/* CR and LF survive in PLAIN fields: base64("\0us\rer\0p\nw") */
	expect_session("AUTH PLAIN AHVzDWVyAHAKdw==\r\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@29 mech=PLAIN ir=1 user=us\\x0der authzid= pass=p\\x0aw\n"
		       "DONE rest=0\n",
		       ok_once);
	/* verified: a third NUL is "invalid input" in Dovecot 2.3.19.1:
	 * base64("\0bob\0pa\0ss") and base64("\0bob\0pass\0") */
	expect_session("AUTH PLAIN AGJvYgBwYQBzcw==\r\nAUTH PLAIN AGJvYgBwYXNzAA==\r\n",
		       GREET AUTHFAIL AUTHFAIL, "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_auth_empty_mechanism_lists(void **state)
{
	(void)state;
	/* verified: "AUTH", "AUTH ", "AUTH  PLAIN" (the rest is skipped) */
	expect_session("AUTH\r\nAUTH \r\nAUTH  PLAIN\r\nAUTH\nCAPA\r\n",
		       GREET LISTING LISTING LISTING LISTING CAPA_REPLY, "END phase=0 bad=0\n",
		       no_acts);
}

static void
test_pop3_auth_other_mechanisms_unsupported(void **state)
{
	(void)state;
	/* verified "AUTH FOO"; AUTH LOGIN is ours (Dovecot offers LOGIN) */
	expect_session("AUTH FOO\r\nAUTH LOGIN dXNlcg==\r\nAUTH PLAINX " B64_BOB_PASS "\r\n"
		       "AUTH PLAI\r\nAUTH VERYLONGMECHANISM\r\n",
		       GREET UNSUPPORTED UNSUPPORTED UNSUPPORTED UNSUPPORTED UNSUPPORTED,
		       "END phase=0 bad=0\n", no_acts);
	EXPECT_N("AUTH PL\0AIN " B64_BOB_PASS "\r\nAUTH PLAIN\0\r\n",
		 GREET UNSUPPORTED UNSUPPORTED, "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_auth_star_cancels(void **state)
{
	(void)state;
	expect_session("AUTH PLAIN\r\n*\r\n",
		       GREET "+ \r\n-ERR Authentication aborted by client.\r\n",
		       "END phase=0 bad=0\n", no_acts);
	/* in the initial response "*" is just invalid base64 (verified) */
	expect_session("AUTH PLAIN *\r\n", GREET B64_IR_BAD, "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_auth_bad_base64_has_dovecot_texts(void **state)
{
	(void)state;
	/* verified, initial response: all the same text */
	expect_session("AUTH PLAIN AAA\r\nAUTH PLAIN !!!!\r\nAUTH PLAIN A===\r\n"
		       "AUTH PLAIN AA==AA==\r\nAUTH PLAIN ==\r\nAUTH PLAIN " B64_BOB_WRONG "!\r\n"
		       "AUTH PLAIN  " B64_BOB_PASS "\r\n",
		       GREET B64_IR_BAD B64_IR_BAD B64_IR_BAD B64_IR_BAD B64_IR_BAD B64_IR_BAD
		       B64_IR_BAD,
		       "END phase=0 bad=0\n", no_acts);
	/* verified, response: a byte outside the alphabet vs bad structure */
	expect_session("AUTH PLAIN\r\n!!!!\r\n"
		       "AUTH PLAIN\r\nAGJvYgB3cm9uZw== \r\n"
		       "AUTH PLAIN\r\nAGJv YgB3cm9uZw==\r\n"
		       "AUTH PLAIN\r\n*x\r\n"
		       "AUTH PLAIN\r\n \r\n"
		       "AUTH PLAIN\r\nA=!\r\n"
		       "AUTH PLAIN\r\n=\r\n"
		       "AUTH PLAIN\r\nA\r\n"
		       "AUTH PLAIN\r\nAAA\r\n"
		       "AUTH PLAIN\r\nA===\r\n"
		       "AUTH PLAIN\r\n====\r\n"
		       "AUTH PLAIN\r\nAA=A\r\n"
		       "AUTH PLAIN\r\nAA==AA==\r\n",
		       GREET "+ \r\n" B64_RESP_CHAR "+ \r\n" B64_RESP_CHAR "+ \r\n" B64_RESP_CHAR
		       "+ \r\n" B64_RESP_CHAR "+ \r\n" B64_RESP_CHAR "+ \r\n" B64_RESP_CHAR
		       "+ \r\n" B64_RESP_BAD "+ \r\n" B64_RESP_BAD "+ \r\n" B64_RESP_BAD
		       "+ \r\n" B64_RESP_BAD "+ \r\n" B64_RESP_BAD "+ \r\n" B64_RESP_BAD
		       "+ \r\n" B64_RESP_BAD,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_auth_empty_and_malformed_plain_fail(void **state)
{
	(void)state;
	/* verified: "=", an empty response line, "AAAA" (three NULs),
	 * "AA==" (one NUL), no NUL at all, an empty authcid */
	expect_session("AUTH PLAIN =\r\nAUTH PLAIN\r\n\r\nAUTH PLAIN AAAA\r\n"
		       "AUTH PLAIN\r\nAA==\r\nAUTH PLAIN Ym9icGFzcw==\r\nAUTH PLAIN AABwYXNz\r\n"
		       "AUTH PLAIN eABib2I=\r\n",
		       GREET AUTHFAIL "+ \r\n" AUTHFAIL AUTHFAIL "+ \r\n" AUTHFAIL AUTHFAIL
		       AUTHFAIL AUTHFAIL,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_pop3_auth_plain_fields_over_bounds_fail(void **state)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char in[8192];
	uint8_t msg[2048];
	size_t n, len, k, i;
	int which;

	(void)state;
	for (which = 0; which < 3; which++) {
		/* authzid 256, authcid 256 or password 1025 bytes */
		len = 0;
		for (i = 0; i < (which == 0 ? 256u : 1u); i++)
			msg[len++] = 'z';
		msg[len++] = 0;
		for (i = 0; i < (which == 1 ? 256u : 3u); i++)
			msg[len++] = 'u';
		msg[len++] = 0;
		for (i = 0; i < (which == 2 ? 1025u : 4u); i++)
			msg[len++] = 'p';
		n = (size_t)snprintf(in, sizeof(in), "AUTH PLAIN ");
		for (k = 0; k < len; k += 3) {
			uint32_t v = (uint32_t)msg[k] << 16;

			if (k + 1 < len)
				v |= (uint32_t)msg[k + 1] << 8;
			if (k + 2 < len)
				v |= msg[k + 2];
			in[n++] = b64[(v >> 18) & 63];
			in[n++] = b64[(v >> 12) & 63];
			in[n++] = k + 1 < len ? b64[(v >> 6) & 63] : '=';
			in[n++] = k + 2 < len ? b64[v & 63] : '=';
		}
		memcpy(in + n, "\r\n", 3);
		expect_session(in, GREET AUTHFAIL, "END phase=0 bad=0\n", no_acts);
	}
}

/* ---- pipelining ------------------------------------------------------------------ */

static void
test_pop3_pipelined_login_stops_after_lf(void **state)
{
	(void)state;
	/* verified through Dovecot's proxy: STAT after PASS in one segment
	 * goes to the backend */
	expect_session("USER bob\r\nPASS pass\r\nSTAT\r\nQUIT\r\n",
		       GREET "+OK\r\n+OK Logged in.\r\n",
		       "LOGIN@21 mech=USER ir=0 user=bob authzid= pass=pass\nDONE rest=12\n",
		       ok_once);
	expect_session("AUTH PLAIN " B64_BOB_PASS "\r\nLIST\r\n", GREET "+OK Logged in.\r\n",
		       "LOGIN@25 mech=PLAIN ir=1 user=bob authzid= pass=pass\nDONE rest=6\n",
		       ok_once);
	expect_session("AUTH PLAIN\r\n" B64_BOB_PASS "\r\nUIDL\r\n",
		       GREET "+ \r\n+OK Logged in.\r\n",
		       "LOGIN@26 mech=PLAIN ir=0 user=bob authzid= pass=pass\nDONE rest=6\n",
		       ok_once);
	/* after a failure the rest is read here again */
	expect_session("USER bob\r\nPASS x\r\nCAPA\r\nQUIT\r\n",
		       GREET "+OK\r\n-ERR Authentication failed.\r\n" CAPA_REPLY
		       "+OK Logging out\r\n",
		       "LOGIN@18 mech=USER ir=0 user=bob authzid= pass=x\nCLOSE@30\n", fail_once);
}

/* ---- login results ------------------------------------------------------------- */

static void
test_pop3_login_results_have_dovecot_texts(void **state)
{
	static const struct act acts[] = {
		{ A_FAIL_AUTH, "ignored" },
		{ A_FAIL_UNAVAIL, "try later please" },
		{ A_FAIL_VERBATIM, "[AUTH] no such user here" },
		{ A_FAIL_VERBATIM, "" },
		{ A_FAIL_UNAVAIL, NULL },
		{ A_OK, "" },
		{ A_END, NULL },
	};
	static const char one[] = "USER u\r\nPASS p\r\n";
	static char in[6 * sizeof(one)];
	size_t i;

	(void)state;
	in[0] = '\0';
	for (i = 0; i < 6; i++)
		strcat(in, one);
	/* verified through Dovecot's proxy, one by one */
	expect_session(in,
		       GREET "+OK\r\n-ERR Authentication failed.\r\n"
		       "+OK\r\n-ERR [SYS/TEMP] try later please\r\n"
		       "+OK\r\n-ERR [AUTH] no such user here\r\n"
		       "+OK\r\n-ERR \r\n"
		       "+OK\r\n-ERR [SYS/TEMP] Account is temporarily unavailable.\r\n"
		       "+OK\r\n+OK\r\n",
		       "LOGIN@16 mech=USER ir=0 user=u authzid= pass=p\n"
		       "LOGIN@32 mech=USER ir=0 user=u authzid= pass=p\n"
		       "LOGIN@48 mech=USER ir=0 user=u authzid= pass=p\n"
		       "LOGIN@64 mech=USER ir=0 user=u authzid= pass=p\n"
		       "LOGIN@80 mech=USER ir=0 user=u authzid= pass=p\n"
		       "LOGIN@96 mech=USER ir=0 user=u authzid= pass=p\n"
		       "DONE rest=0\n",
		       acts);
}

static void
test_pop3_login_ok_forwards_long_texts(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	static char text[PM_POP3_REPLY_MAX + 2];
	static uint8_t mem[PM_POP3_OUT_MIN];
	struct pm_buf out;
	size_t used;
	static const char in[] = "USER u\r\nPASS p\r\n";

	(void)state;
	memset(text, 'y', sizeof(text) - 1);
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_LOGIN);
	out.len = 0;
	assert_int_equal(pm_pop3_login_ok(&m, text, &out), -EINVAL);	/* one byte over */
	text[PM_POP3_REPLY_MAX] = '\0';
	assert_int_equal(pm_pop3_login_ok(&m, text, &out), 0);
	assert_int_equal(out.len, 4 + PM_POP3_REPLY_MAX + 2);
	assert_memory_equal(mem, "+OK yyy", 7);
	assert_memory_equal(mem + out.len - 3, "y\r\n", 3);
	assert_int_equal(pm_pop3_phase(&m), PM_POP3_PHASE_DONE);

	/* the longest failure fits PM_POP3_OUT_MIN too */
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_LOGIN);
	out.len = 0;
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_UNAVAILABLE, text, &out), 0);
	assert_int_equal(out.len, 16 + PM_POP3_REPLY_MAX + 2);
}

static void
test_pop3_login_result_misuse_is_einval(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used;
	static const char in[] = "USER u\r\nPASS p\r\n";

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	/* not in the LOGIN phase */
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_AUTHFAILED, NULL, &out), -EINVAL);
	assert_int_equal(pm_pop3_login_ok(&m, NULL, &out), -EINVAL);
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_LOGIN);
	out.len = 0;
	assert_int_equal(pm_pop3_login_failed(&m, (enum pm_pop3_fail)0, NULL, &out), -EINVAL);
	assert_int_equal(pm_pop3_login_failed(&m, (enum pm_pop3_fail)9, NULL, &out), -EINVAL);
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_VERBATIM, NULL, &out), -EINVAL);
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_VERBATIM, "a\r\nb", &out),
			 -EINVAL);
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_UNAVAILABLE, "", &out), -EINVAL);
	assert_int_equal(pm_pop3_login_ok(&m, "x\ny", &out), -EINVAL);
	out.len = out.cap + 1;
	assert_int_equal(pm_pop3_login_ok(&m, NULL, &out), -EINVAL);
	out.len = 0;
	out.cap = 10;	/* too small: nothing written, nothing changed */
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_AUTHFAILED, NULL, &out), -ENOSPC);
	assert_int_equal(pm_pop3_login_ok(&m, NULL, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_pop3_phase(&m), PM_POP3_PHASE_LOGIN);
	assert_string_equal(pm_pop3_login(&m)->pass, "p");
	out.cap = sizeof(mem);
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_AUTHFAILED, NULL, &out), 0);
	assert_int_equal(pm_pop3_phase(&m), PM_POP3_PHASE_COMMANDS);
}

static void
test_pop3_password_is_wiped(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used, i;
	static const char in[] = "USER u\r\nPASS secret\r\n";
	static const char auth[] = "AUTH PLAIN\r\nAGJvYgBwYX";	/* half a response */

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_LOGIN);
	assert_string_equal(pm_pop3_login(&m)->pass, "secret");
	assert_int_equal(pm_pop3_login_ok(&m, NULL, &out), 0);
	for (i = 0; i < sizeof(m.lg.pass); i++)
		assert_int_equal(m.lg.pass[i], 0);
	assert_int_equal(m.lg.pass_len, 0);
	assert_string_equal(pm_pop3_login(&m)->user, "u");	/* still there */

	assert_int_equal(pm_pop3_init(&m, &p), 0);
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_LOGIN);
	assert_int_equal(pm_pop3_login_failed(&m, PM_POP3_FAIL_AUTHFAILED, NULL, &out), 0);
	for (i = 0; i < sizeof(m.lg.pass); i++)
		assert_int_equal(m.lg.pass[i], 0);

	/* in the middle of a response: pm_pop3_wipe() */
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)auth, strlen(auth), &used, &out),
			 PM_POP3_AGAIN);
	assert_int_not_equal(m.lg.user_len, 0);		/* "bob" decoded */
	pm_pop3_wipe(&m);
	for (i = 0; i < sizeof(m.lg.pass); i++)
		assert_int_equal(m.lg.pass[i], 0);
	assert_int_equal(m.b64_acc, 0);
}

/* ---- budgets --------------------------------------------------------------------- */

static void
test_pop3_arguments_over_budget_close(void **state)
{
	static char buf[4096], ev2[2048];
	char ev[64];
	size_t n;

	(void)state;
	/* verified: "CAPA " + 1025 bytes + LF is read, 1026 is not */
	n = (size_t)snprintf(buf, sizeof(buf), "CAPA ");
	memset(buf + n, 'x', PM_POP3_LINE_MAX);
	n += PM_POP3_LINE_MAX;
	buf[n++] = '\n';
	expect_session_n(buf, n, GREET CAPA_REPLY, "END phase=0 bad=0\n", no_acts);
	n = 5 + PM_POP3_LINE_MAX;
	memcpy(buf + n, "x\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 1);
	expect_session_n(buf, n + 2, GREET FULLBUF, ev, no_acts);
	/* verified: "PASS " + 1024 + CRLF is read ... */
	n = (size_t)snprintf(buf, sizeof(buf), "USER u\r\nPASS ");
	memset(buf + n, 'p', PM_POP3_PASS_MAX);
	n += PM_POP3_PASS_MAX;
	memcpy(buf + n, "\r\n", 2);
	user_login_ev(ev2, sizeof(ev2), n + 2, "u", 'p', PM_POP3_PASS_MAX, "END phase=0 bad=0\n");
	expect_session_n(buf, n + 2, GREET "+OK\r\n" "-ERR Authentication failed.\r\n", ev2,
			 fail_once);
	/* ... and one byte more (a second CR) is not (verified "\r\r\n") */
	memcpy(buf + n, "\r\r\n", 3);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 2);
	expect_session_n(buf, n + 3, GREET "+OK\r\n" FULLBUF, ev, no_acts);
	/* verified: "FOO " + 1024 + CRLF is read, "NOOPNOOPNOOP " + 1019 +
	 * CRLF too (the name stops after 8 bytes), one more byte is not */
	n = (size_t)snprintf(buf, sizeof(buf), "FOO ");
	memset(buf + n, 'x', 1024);
	memcpy(buf + n + 1024, "\r\n", 2);
	expect_session_n(buf, n + 1026, GREET UNKNOWN, "END phase=0 bad=1\n", no_acts);
	buf[n + 1024] = 'x';
	memcpy(buf + n + 1025, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 1026);
	expect_session_n(buf, n + 1027, GREET FULLBUF, ev, no_acts);
	n = (size_t)snprintf(buf, sizeof(buf), "NOOPNOOPNOOP ");
	memset(buf + n, 'x', 1019);
	memcpy(buf + n + 1019, "\r\n", 2);
	expect_session_n(buf, n + 1021, GREET UNKNOWN, "END phase=0 bad=1\n", no_acts);
	buf[n + 1019] = 'x';
	memcpy(buf + n + 1020, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 1021);
	expect_session_n(buf, n + 1022, GREET FULLBUF, ev, no_acts);
	/* a run of CRs in the name is held to the same budget */
	memset(buf, '\r', PM_POP3_LINE_MAX + 1);
	snprintf(ev, sizeof(ev), "CLOSE@%u\n", PM_POP3_LINE_MAX + 1);
	expect_session_n(buf, PM_POP3_LINE_MAX + 1, GREET FULLBUF, ev, no_acts);
	/* verified: AUTH's mechanism word of 1025 bytes is read, 1026 not */
	n = (size_t)snprintf(buf, sizeof(buf), "AUTH ");
	memset(buf + n, 'M', 1025);
	memcpy(buf + n + 1025, "\r\n", 2);
	expect_session_n(buf, n + 1027, GREET UNSUPPORTED, "END phase=0 bad=0\n", no_acts);
	buf[n + 1025] = 'M';
	memcpy(buf + n + 1026, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 1026);
	expect_session_n(buf, n + 1028, GREET FULLBUF, ev, no_acts);
	/* the skipped rest of "AUTH  ..." has the same budget */
	n = (size_t)snprintf(buf, sizeof(buf), "AUTH ");
	memset(buf + n, ' ', 1026);
	memcpy(buf + n + 1026, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + 1026);
	expect_session_n(buf, n + 1028, GREET FULLBUF, ev, no_acts);
}

static void
test_pop3_sasl_line_over_budget_closes_silently(void **state)
{
	static char buf[3 * PM_POP3_SASL_MAX];
	char ev[64];
	size_t n, h;

	(void)state;
	/* verified: 8188 'A's decode to NULs only: Authentication failed;
	 * 8191 + CRLF and 8192 + LF are read (bad base64, failed) */
	h = (size_t)snprintf(buf, sizeof(buf), "AUTH PLAIN ");
	memset(buf + h, 'A', 8188);
	memcpy(buf + h + 8188, "\r\n", 2);
	expect_session_n(buf, h + 8190, GREET AUTHFAIL, "END phase=0 bad=0\n", no_acts);
	memset(buf + h, 'A', 8191);
	memcpy(buf + h + 8191, "\r\n", 2);
	expect_session_n(buf, h + 8193, GREET B64_IR_BAD, "END phase=0 bad=0\n", no_acts);
	memset(buf + h, 'A', 8192);
	buf[h + 8192] = '\n';
	expect_session_n(buf, h + 8193, GREET AUTHFAIL, "END phase=0 bad=0\n", no_acts);
	/* ... 8192 + CRLF is not: closed without a word (verified) */
	memcpy(buf + h + 8192, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", h + 8193);
	expect_session_n(buf, h + 8194, GREET, ev, no_acts);
	/* the response line, likewise */
	h = (size_t)snprintf(buf, sizeof(buf), "AUTH PLAIN\r\n");
	memset(buf + h, 'A', 8192);
	memcpy(buf + h + 8192, "\r\n", 2);
	snprintf(ev, sizeof(ev), "CLOSE@%zu\n", h + 8193);
	expect_session_n(buf, h + 8194, GREET "+ \r\n", ev, no_acts);
	n = h + 8191;
	memcpy(buf + n, "\r\n", 2);
	expect_session_n(buf, n + 2, GREET "+ \r\n" B64_RESP_BAD, "END phase=0 bad=0\n", no_acts);
}

/* ---- the out buffer ----------------------------------------------------------------- */

static void
test_pop3_out_too_small_is_error_without_corruption(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[512];
	struct pm_buf out;
	size_t used;
	static const char in[] = "CAPA\r\nSTLS\r\n";
	static const char want[] = CAPA_REPLY "-ERR TLS support isn't enabled.\r\n";

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, 40);	/* fits no CAPA answer */
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_POP3_ERROR);
	assert_int_equal(used, 5);	/* stopped at the LF, which is not consumed */
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_pop3_phase(&m), PM_POP3_PHASE_COMMANDS);
	/* the same byte again, with room: as if nothing happened */
	out.cap = sizeof(mem);
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)in + used, strlen(in) - used, &used,
				      &out),
			 PM_POP3_AGAIN);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(mem, want, out.len);
}

static void
test_pop3_out_full_then_drained_continues(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used, off = 0;
	char got[256];
	size_t got_len = 0;
	static const char in[] = "FOO\r\nAPOP\r\nSTLS\r\n";
	static const char want[] = UNKNOWN "-ERR APOP not enabled.\r\n"
				   "-ERR TLS support isn't enabled.\r\n";
	enum pm_pop3_status st;

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, 50);	/* two answers fit, not three */
	st = pm_pop3_feed(&m, (const uint8_t *)in, strlen(in), &used, &out);
	assert_int_equal(st, PM_POP3_FULL);
	assert_int_equal(used, strlen(in) - 1);
	off += used;
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	pm_buf_consume(&out, out.len);
	st = pm_pop3_feed(&m, (const uint8_t *)in + off, strlen(in) - off, &used, &out);
	assert_int_equal(st, PM_POP3_AGAIN);
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	assert_int_equal(got_len, strlen(want));
	assert_memory_equal(got, want, got_len);
}

static void
test_pop3_feed_misuse_is_error(void **state)
{
	struct pm_pop3_params p;
	struct pm_pop3 m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used = 99;

	(void)state;
	pm_pop3_params_defaults(&p);
	assert_int_equal(pm_pop3_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	out.len = out.cap + 1;	/* invalid */
	assert_int_equal(pm_pop3_feed(&m, (const uint8_t *)"a", 1, &used, &out), PM_POP3_ERROR);
	assert_int_equal(used, 0);
	out.len = 0;
	assert_int_equal(pm_pop3_feed(&m, NULL, 0, &used, &out), PM_POP3_AGAIN);
	assert_int_equal(pm_pop3_feed(&m, NULL, 1, &used, &out), PM_POP3_ERROR);
}

/* ---- random sessions ---------------------------------------------------------------- */

static const char *const fragments[] = {
	"CAPA\r\n", "NOOP\r\n", "USER bob\r\n", "PASS pass\r\n", "USER\r\n", "PASS\r\n",
	"AUTH PLAIN " B64_BOB_PASS "\r\n", "AUTH PLAIN\r\n" B64_JOE_BOB_PASS "\r\n",
	"AUTH PLAIN\r\n*\r\n", "AUTH PLAIN =\r\n", "AUTH\r\n", "AUTH FOO\r\n", "FOO\r\n", "\r\n",
	"STLS\r\n", "APOP x y\r\n", "XCLIENT ADDR=1.2.3.4\r\n", "QUIT\r\n", "user  a b\n",
	"US\rER c\r\n", "PASS p\rq\r\r\n", "AUTH PLAIN\r\n!!!!\r\n", "AUTH PLAIN AAA\r\n",
	"CAPABILITY\r\n",
};

static void
test_pop3_random_sessions_are_chunking_invariant(void **state)
{
	uint32_t seed = pm_test_seed("pop3 random sessions", TEST_SEED);
	static const size_t caps[] = { PM_POP3_OUT_MIN, 180, 0 };
	struct pm_pop3_params p;
	static char in[4096];
	struct result ref, r;
	struct act acts[64];
	size_t n, k, i, c, nf = sizeof(fragments) / sizeof(fragments[0]);
	uint32_t rng;
	int round;

	(void)state;
	pm_pop3_params_defaults(&p);
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
			uint32_t x = xorshift32(&seed) % 4;

			acts[i].kind = x == 0 ? A_OK : x == 1 ? A_FAIL_UNAVAIL : A_FAIL_AUTH;
			acts[i].text = x == 0 && (xorshift32(&seed) & 1) ? "Logged in." : NULL;
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
		cmocka_unit_test(test_pop3_params_defaults_are_valid),
		cmocka_unit_test(test_pop3_params_bad_values_are_rejected),
		cmocka_unit_test(test_pop3_greeting_has_text),
		cmocka_unit_test(test_pop3_greeting_without_room_is_enospc),
		cmocka_unit_test(test_pop3_capa_lists_capabilities),
		cmocka_unit_test(test_pop3_apop_stls_xclient_have_dovecot_answers),
		cmocka_unit_test(test_pop3_quit_closes),
		cmocka_unit_test(test_pop3_unknown_commands_close_after_three_in_a_row),
		cmocka_unit_test(test_pop3_auth_does_not_touch_bad_count),
		cmocka_unit_test(test_pop3_bad_limit_is_a_parameter),
		cmocka_unit_test(test_pop3_command_names_are_read_like_dovecot),
		cmocka_unit_test(test_pop3_user_pass_reports_login),
		cmocka_unit_test(test_pop3_user_and_pass_arguments_keep_spaces_and_inner_crs),
		cmocka_unit_test(test_pop3_nul_ends_user_and_password),
		cmocka_unit_test(test_pop3_pass_without_user_is_refused),
		cmocka_unit_test(test_pop3_failed_login_uses_up_the_user),
		cmocka_unit_test(test_pop3_failed_login_then_another_user),
		cmocka_unit_test(test_pop3_auth_keeps_the_pending_user),
		cmocka_unit_test(test_pop3_unusable_user_pass_fail_locally),
		cmocka_unit_test(test_pop3_auth_plain_with_initial_response),
		cmocka_unit_test(test_pop3_auth_plain_continuation),
		cmocka_unit_test(test_pop3_auth_plain_authzid),
		cmocka_unit_test(test_pop3_auth_empty_mechanism_lists),
		cmocka_unit_test(test_pop3_auth_other_mechanisms_unsupported),
		cmocka_unit_test(test_pop3_auth_star_cancels),
		cmocka_unit_test(test_pop3_auth_bad_base64_has_dovecot_texts),
		cmocka_unit_test(test_pop3_auth_empty_and_malformed_plain_fail),
		cmocka_unit_test(test_pop3_auth_plain_fields_over_bounds_fail),
		cmocka_unit_test(test_pop3_pipelined_login_stops_after_lf),
		cmocka_unit_test(test_pop3_login_results_have_dovecot_texts),
		cmocka_unit_test(test_pop3_login_ok_forwards_long_texts),
		cmocka_unit_test(test_pop3_login_result_misuse_is_einval),
		cmocka_unit_test(test_pop3_password_is_wiped),
		cmocka_unit_test(test_pop3_arguments_over_budget_close),
		cmocka_unit_test(test_pop3_sasl_line_over_budget_closes_silently),
		cmocka_unit_test(test_pop3_out_too_small_is_error_without_corruption),
		cmocka_unit_test(test_pop3_out_full_then_drained_continues),
		cmocka_unit_test(test_pop3_feed_misuse_is_error),
		cmocka_unit_test(test_pop3_random_sessions_are_chunking_invariant),
	};

	return cmocka_run_group_tests_name("pop3", tests, NULL, NULL);
}
