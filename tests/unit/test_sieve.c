/*
 * test_sieve.c -- the client-facing ManageSieve pre-login machine
 * (proto/sieve.h).
 *
 * Every session test goes through expect_session(): the same client bytes
 * are fed at every chunk size from 1 to n (for inputs over LONG_INPUT bytes:
 * 1..256, every 97th size and n), each time with a large out buffer and with
 * two small ones that the harness drains whenever the machine answers
 * PM_SIEVE_FULL; the transcript (every byte written to the client, in order)
 * and the event log (LOGIN with its fields and offset, CLOSE, the final
 * phase) must equal the golden ones, byte for byte. Logins are answered from
 * a per-test script (login_failed kinds or login_ok).
 *
 * The golden texts are Pigeonhole 0.5.19's managesieve-login (Debian 12,
 * Dovecot 2.3.19.1), captured from a real instance on 127.0.0.1 (see the
 * header comment of proto/sieve.h), except where that header says ours
 * differ. The random test builds sessions from realistic fragments with a
 * printed seed (PM_SEED replays another run).
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

#include "proto/sieve.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x51e7e5u

#define CAPS                                                                      \
	"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n"                           \
	"\"SIEVE\" \"" PM_SIEVE_DEFAULT_SIEVE "\"\r\n"                            \
	"\"NOTIFY\" \"mailto\"\r\n"                                               \
	"\"SASL\" \"PLAIN\"\r\n"                                                  \
	"\"VERSION\" \"1.0\"\r\n"
#define GREET CAPS "OK \"postmux ready.\"\r\n"
#define BADCMD "NO \"Error in MANAGESIEVE command received by server.\"\r\n"
#define AUTHFAIL "NO \"Authentication failed.\"\r\n"
#define NOOP_OK "OK \"NOOP Completed\"\r\n"
#define TOO_MANY "BYE \"Too many invalid MANAGESIEVE commands.\"\r\n"

/* base64("\0user1\0pass") and base64("\0user1\0wrong") */
#define B64_PASS "AHVzZXIxAHBhc3M="
#define B64_WRONG "AHVzZXIxAHdyb25n"
#define LOGIN_IR(ir) "mech=PLAIN ir=" #ir " user=user1 authzid= pass="

/* ---- the harness ------------------------------------------------------------ */

enum act_kind { A_END, A_FAIL_AUTH, A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK };

struct act {
	enum act_kind kind;
	const char *text;	/* UNAVAIL, VERBATIM: the text; OK: the line */
};

static void
apply(struct pm_sieve *m, const struct act *a, struct tout *o, struct result *r)
{
	int rc;
	int tries;

	squeeze(o);
	for (tries = 0; tries < 2; tries++) {
		switch (a->kind) {
		case A_FAIL_AUTH:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_AUTHFAILED, NULL, &o->b);
			break;
		case A_FAIL_UNAVAIL:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_UNAVAILABLE, a->text, &o->b);
			break;
		case A_FAIL_VERBATIM:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_VERBATIM, a->text, &o->b);
			break;
		case A_OK:
			rc = pm_sieve_login_ok(m, a->text, &o->b);
			break;
		default:
			fail_msg("login without a scripted answer");
			return;
		}
		if (rc != -ENOSPC)
			break;
		assert_int_equal(pm_sieve_phase(m), PM_SIEVE_PHASE_LOGIN);
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
run(const struct pm_sieve_params *p, const void *input, size_t n, size_t chunk, size_t outcap,
    const struct act *acts, struct result *r, uint32_t *rng)
{
	const uint8_t *in = input;
	struct pm_sieve m;
	struct tout o;
	uint8_t *mem;
	const struct pm_sieve_login *lg;
	size_t off = 0, end, used, k = 0, len;
	enum pm_sieve_status st;
	bool retry = false;

	o.stingy = outcap == 0;
	o.memsize = o.stingy ? 1u << 16 : outcap;
	o.base = o.stingy ? 1 : 0;
	mem = malloc(o.memsize);	/* exact size: ASan sees overruns */
	assert_non_null(mem);
	r->out_len = 0;
	r->ev_len = 0;
	assert_int_equal(pm_sieve_init(&m, p), 0);
	pm_buf_init(&o.b, mem, o.memsize);
	if (o.stingy)
		mem[o.b.len++] = '#';
	assert_int_equal(pm_sieve_greet(&m, &o.b), 0);
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
			st = pm_sieve_feed(&m, in + off, len, &used, &o.b);
			assert_true(used <= len);
			off += used;
			if (st == PM_SIEVE_AGAIN) {
				assert_int_equal(used, len);
				drain(r, &o);
				continue;
			}
			if (st == PM_SIEVE_FULL) {
				assert_true(o.b.len > 0);
				drain(r, &o);
				retry = o.stingy;
				continue;
			}
			drain(r, &o);
			if (st == PM_SIEVE_LOGIN) {
				assert_true(used > 0);
				lg = pm_sieve_login(&m);
				assert_int_equal(lg->mech, PM_SIEVE_MECH_PLAIN);
				ev_printf(r, "LOGIN@%zu mech=PLAIN ir=%d", off, lg->sasl_ir);
				ev_field(r, "user", lg->user, lg->user_len);
				ev_field(r, "authzid", lg->authzid, lg->authzid_len);
				ev_field(r, "pass", lg->pass, lg->pass_len);
				ev_printf(r, "\n");
				apply(&m, &acts[k], &o, r);
				drain(r, &o);
				if (acts[k++].kind == A_OK) {
					ev_printf(r, "DONE rest=%zu\n", n - off);
					assert_int_equal(pm_sieve_feed(&m, in, n, &used, &o.b),
							 PM_SIEVE_ERROR);
					assert_int_equal(used, 0);
					goto out;
				}
				continue;
			}
			if (st == PM_SIEVE_CLOSE) {
				ev_printf(r, "CLOSE@%zu\n", off);
				assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_CLOSED);
				assert_int_equal(pm_sieve_feed(&m, in, n, &used, &o.b),
						 PM_SIEVE_ERROR);
				assert_int_equal(used, 0);
				goto out;
			}
			ev_printf(r, "ERROR@%zu\n", off);
			goto out;
		}
	}
	ev_printf(r, "END phase=%d bad=%u\n", (int)pm_sieve_phase(&m), pm_sieve_bad_count(&m));
out:
	free(mem);
	return k;
}

static void
expect_session_p(const struct pm_sieve_params *p, const void *in, size_t n,
		 const char *want_out, const char *want_ev, const struct act *acts)
{
	static const size_t caps[] = { 1u << 16, PM_SIEVE_OUT_MIN, 1100, 0 };
	struct result r;
	size_t k, c, wo = strlen(want_out), we = strlen(want_ev);

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
	struct pm_sieve_params p;

	pm_sieve_params_defaults(&p);
	expect_session_p(&p, in, strlen(in), want_out, want_ev, acts);
}

/* Same, for input with NUL bytes. */
static void
expect_session_n(const void *in, size_t n, const char *want_out, const char *want_ev,
		 const struct act *acts)
{
	struct pm_sieve_params p;

	pm_sieve_params_defaults(&p);
	expect_session_p(&p, in, n, want_out, want_ev, acts);
}

/* ---- params and greeting ----------------------------------------------------- */

static void
test_sieve_params_defaults_are_valid(void **state)
{
	struct pm_sieve_params p;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_params_check(&p), 0);
	assert_string_equal(p.implementation, "Dovecot Pigeonhole");
	assert_string_equal(p.notify, "mailto");
	assert_string_equal(p.greeting, "postmux ready.");
	assert_int_equal(p.max_bad, 3);
}

static void
test_sieve_params_bad_values_are_rejected(void **state)
{
	static char big[PM_SIEVE_TEXT_MAX + 2];
	static const char *const bad_strings[] = {
		"a\r\nb", "a\"b", "a\\b", "a\tb", "a\x7f", "a\xff", "\xc3", "\xed\xa0\x80",
	};
	struct pm_sieve_params p;
	struct pm_sieve m;
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	for (i = 0; i < sizeof(bad_strings) / sizeof(bad_strings[0]); i++) {
		pm_sieve_params_defaults(&p);
		p.sieve = bad_strings[i];
		assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
		assert_int_equal(pm_sieve_init(&m, &p), -EINVAL);
		pm_sieve_params_defaults(&p);
		p.greeting = bad_strings[i];
		assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
		pm_sieve_params_defaults(&p);
		p.notify = bad_strings[i];
		assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
		pm_sieve_params_defaults(&p);
		p.implementation = bad_strings[i];
		assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	}
	pm_sieve_params_defaults(&p);
	p.implementation = "";
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	pm_sieve_params_defaults(&p);
	p.sieve = NULL;
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	pm_sieve_params_defaults(&p);
	p.greeting = " ready";		/* Dovecot would drop the space */
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	p.greeting = "ready  now";
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	p.greeting = "";
	assert_int_equal(pm_sieve_params_check(&p), 0);
	p.greeting = "j\xc3\xb6rg's server";
	assert_int_equal(pm_sieve_params_check(&p), 0);
	p.notify = NULL;
	assert_int_equal(pm_sieve_params_check(&p), 0);
	p.notify = "";
	assert_int_equal(pm_sieve_params_check(&p), 0);
	pm_sieve_params_defaults(&p);
	p.sieve = big;
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	big[PM_SIEVE_TEXT_MAX] = '\0';	/* exactly the maximum */
	assert_int_equal(pm_sieve_params_check(&p), 0);
	big[PM_SIEVE_TEXT_MAX] = 'x';
	pm_sieve_params_defaults(&p);
	p.max_bad = 0;
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	p.max_bad = PM_SIEVE_MAX_BAD_MAX + 1;
	assert_int_equal(pm_sieve_params_check(&p), -EINVAL);
	p.max_bad = PM_SIEVE_MAX_BAD_MAX;
	assert_int_equal(pm_sieve_params_check(&p), 0);
	assert_int_equal(pm_sieve_params_check(NULL), -EINVAL);
	assert_int_equal(pm_sieve_init(NULL, &p), -EINVAL);
}

static void
test_sieve_greeting_matches_pigeonhole(void **state)
{
	/* Debian 12's managesieve-login with auth_mechanisms = plain, byte for
	 * byte (verified) */
	static const char debian[] =
		"\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n"
		"\"SIEVE\" \"fileinto reject envelope encoded-character vacation subaddress "
		"comparator-i;ascii-numeric relational regex imap4flags copy include variables "
		"body enotify environment mailbox date index ihave duplicate mime foreverypart "
		"extracttext\"\r\n"
		"\"NOTIFY\" \"mailto\"\r\n"
		"\"SASL\" \"PLAIN\"\r\n"
		"\"VERSION\" \"1.0\"\r\n"
		"OK \"Dovecot (Debian) ready.\"\r\n";
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_sieve_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	assert_memory_equal(mem, GREET, out.len);

	p.implementation = "Dovecot (Debian) Pigeonhole";
	p.greeting = "Dovecot (Debian) ready.";
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_sieve_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(debian));
	assert_memory_equal(mem, debian, out.len);

	/* no NOTIFY line without methods */
	p.notify = NULL;
	p.sieve = "fileinto";
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_sieve_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen("\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n"
					 "\"SIEVE\" \"fileinto\"\r\n\"SASL\" \"PLAIN\"\r\n"
					 "\"VERSION\" \"1.0\"\r\nOK \"Dovecot (Debian) ready.\"\r\n"));
	assert_memory_equal(mem,
			    "\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"\r\n"
			    "\"SIEVE\" \"fileinto\"\r\n\"SASL\" \"PLAIN\"\r\n"
			    "\"VERSION\" \"1.0\"\r\nOK \"Dovecot (Debian) ready.\"\r\n",
			    out.len);
}

static void
test_sieve_greeting_without_room_is_enospc(void **state)
{
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, strlen(GREET) - 1);
	assert_int_equal(pm_sieve_greet(&m, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	out.cap = strlen(GREET);
	assert_int_equal(pm_sieve_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	out.len = out.cap + 1;
	assert_int_equal(pm_sieve_greet(&m, &out), -EINVAL);
}

static void
test_sieve_largest_answers_fit_out_min(void **state)
{
	static char big[PM_SIEVE_TEXT_MAX + 1];
	struct pm_sieve_params p;
	struct pm_sieve m;
	static uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;
	size_t used;
	static const char cap[] = "CAPABILITY\r\n";

	(void)state;
	memset(big, 'x', PM_SIEVE_TEXT_MAX);
	pm_sieve_params_defaults(&p);
	p.implementation = p.sieve = p.notify = p.greeting = big;
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_sieve_greet(&m, &out), 0);
	out.len = 0;
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)cap, strlen(cap), &used, &out),
			 PM_SIEVE_AGAIN);
	assert_true(out.len > 3 * PM_SIEVE_TEXT_MAX);
}

/* ---- simple commands ---------------------------------------------------------- */

static void
test_sieve_capability_lists_caps(void **state)
{
	(void)state;
	expect_session("CAPABILITY\r\ncapability\n",
		       GREET CAPS "OK \"Capability completed.\"\r\n" CAPS
				  "OK \"Capability completed.\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_noop_answers_and_echoes_tag(void **state)
{
	static const char quirks[] =
		"NOOP \"a\\\\b\tc\"\r\nNOOP \"a\tb\"\r\nNOOP {3+}\r\na\rb\r\n"
		"NOOP {1+}\r\n\n\r\nNOOP {3}\r\na\0c\r\nNOOP \"\xc3\xa9\x01\x7f\"\r\n";

	(void)state;
	expect_session("NOOP\r\nnoop\nNoOp  \r\nNOOP \"tag\"\r\nNOOP \"a\\\"b\"\r\n"
		       "NOOP {3+}\r\nabc\r\nNOOP \"\"\r\nNOOP {3}\r\nabc\r\nNOOP \"a\" \r\n",
		       GREET NOOP_OK NOOP_OK NOOP_OK "OK (TAG \"tag\") \"Done\"\r\n"
		       "OK (TAG \"a\\\"b\") \"Done\"\r\n"
		       "OK (TAG \"abc\") \"Done\"\r\n"
		       "OK (TAG \"\") \"Done\"\r\n"
		       "OK (TAG \"abc\") \"Done\"\r\n"
		       "OK (TAG \"a\") \"Done\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
	/* Pigeonhole's quoting quirks (all verified): with an escape a tab
	 * becomes a space, without one it stays; CR or LF make a literal; a
	 * NUL (only a literal carries one) ends the echo */
	expect_session_n(quirks, sizeof(quirks) - 1,
			 GREET "OK (TAG \"a\\\\b c\") \"Done\"\r\n"
			 "OK (TAG \"a\tb\") \"Done\"\r\n"
			 "OK (TAG {3}\r\na\rb) \"Done\"\r\n"
			 "OK (TAG {1}\r\n\n) \"Done\"\r\n"
			 "OK (TAG \"a\") \"Done\"\r\n"
			 "OK (TAG \"\xc3\xa9\x01\x7f\") \"Done\"\r\n",
			 "END phase=0 bad=0\n", no_acts);
	/* an atom is no echo tag (not counted); two arguments are bad */
	expect_session("NOOP foo\r\nNOOP foo\r\nNOOP foo\r\nNOOP \"x\" \"y\"\r\nNOOP a b\r\n",
		       GREET "NO \"Invalid echo tag.\"\r\nNO \"Invalid echo tag.\"\r\n"
			     "NO \"Invalid echo tag.\"\r\n" BADCMD BADCMD,
		       "END phase=0 bad=2\n", no_acts);
}

static void
test_sieve_noop_echo_over_limit_closes(void **state)
{
	static char buf[PM_SIEVE_ECHO_MAX + 64];
	size_t n;

	(void)state;
	/* 1024 bytes between the quotes pass (verified), 1025 do not */
	static char want[PM_SIEVE_ECHO_MAX + 1024];

	n = (size_t)snprintf(buf, sizeof(buf), "NOOP \"%0*d\"\r\n", (int)PM_SIEVE_ECHO_MAX, 0);
	snprintf(want, sizeof(want), GREET "OK (TAG \"%0*d\") \"Done\"\r\n",
		 (int)PM_SIEVE_ECHO_MAX, 0);
	expect_session_n(buf, n, want, "END phase=0 bad=0\n", no_acts);
	n = (size_t)snprintf(buf, sizeof(buf), "NOOP \"%0*d\"\r\n", (int)PM_SIEVE_ECHO_MAX + 1,
			     0);
	expect_session_n(buf, n, GREET "BYE \"Input buffer full, aborting\"\r\n", "CLOSE@1031\n",
			 no_acts);
	/* a literal likewise; a NUL ends the echo, so what follows it is free */
	n = (size_t)snprintf(buf, sizeof(buf), "NOOP {%u+}\r\n%0*d", PM_SIEVE_ECHO_MAX + 1,
			     (int)PM_SIEVE_ECHO_MAX + 1, 0);
	expect_session_n(buf, n, GREET "BYE \"Input buffer full, aborting\"\r\n", "CLOSE@1039\n",
			 no_acts);
}

static void
test_sieve_logout_closes(void **state)
{
	(void)state;
	expect_session("LOGOUT\r\nNOOP\r\n", GREET "OK \"Logout completed.\"\r\n", "CLOSE@8\n",
		       no_acts);
	expect_session("logout \r\n", GREET "OK \"Logout completed.\"\r\n", "CLOSE@9\n",
		       no_acts);
}

static void
test_sieve_starttls_is_no_not_counted(void **state)
{
	(void)state;
	expect_session("STARTTLS\r\nSTARTTLS\r\nstarttls\r\nSTARTTLS\r\nNOOP\r\n",
		       GREET "NO \"TLS support isn't enabled.\"\r\n"
			     "NO \"TLS support isn't enabled.\"\r\n"
			     "NO \"TLS support isn't enabled.\"\r\n"
			     "NO \"TLS support isn't enabled.\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_xclient_is_refused_not_counted(void **state)
{
	(void)state;
	expect_session("XCLIENT ADDR=1.2.3.4\r\nXCLIENT\r\nXCLIENT \"x\r\nxclient a b c\r\n",
		       GREET "NO \"You are not from trusted IP\"\r\n"
			     "NO \"You are not from trusted IP\"\r\n"
			     "NO \"String contains invalid character.\"\r\n"
			     "NO \"You are not from trusted IP\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

/* ---- bad commands --------------------------------------------------------------- */

static void
test_sieve_too_many_bad_commands_closes(void **state)
{
	(void)state;
	expect_session("FOO\r\nBAR x y\r\nBAZ\r\nNOOP\r\n", GREET BADCMD BADCMD TOO_MANY,
		       "CLOSE@19\n", no_acts);
	/* arguments where none belong are bad too (verified) */
	expect_session("CAPABILITY x\r\nLOGOUT x\r\nSTARTTLS x\r\n", GREET BADCMD BADCMD TOO_MANY,
		       "CLOSE@36\n", no_acts);
}

static void
test_sieve_bad_limit_is_a_parameter(void **state)
{
	struct pm_sieve_params p;
	static const char in[] = "A\r\nB\r\nC\r\nD\r\nE\r\n";

	(void)state;
	pm_sieve_params_defaults(&p);
	p.max_bad = 5;
	expect_session_p(&p, in, strlen(in), GREET BADCMD BADCMD BADCMD BADCMD TOO_MANY,
			 "CLOSE@15\n", no_acts);
	p.max_bad = 1;
	expect_session_p(&p, in, strlen(in), GREET TOO_MANY, "CLOSE@3\n", no_acts);
}

static void
test_sieve_unknown_and_empty_commands_are_bad(void **state)
{
	struct pm_sieve_params p;
	static const char in[] = " NOOP\r\n\r\n\"NOOP\"\r\nnoop\t\r\nNO\0OP\r\nLISTSCRIPTS\r\n"
				 "AUTHENTICATEX\r\nNOOPNOOPNOOPNOOP\r\nFOO\rb\r\nNOOP\r\n";

	(void)state;
	pm_sieve_params_defaults(&p);
	p.max_bad = 100;
	expect_session_p(&p, in, sizeof(in) - 1,
			 GREET BADCMD BADCMD BADCMD BADCMD BADCMD BADCMD BADCMD BADCMD BADCMD
				 NOOP_OK,
			 "END phase=0 bad=9\n", no_acts);
}

/* ---- syntax --------------------------------------------------------------------- */

static void
test_sieve_syntax_errors_are_no_not_counted(void **state)
{
	static const char nul[] = "NOOP \"a\0b\"\r\nNOOP\r\n";

	(void)state;
	/* every text verified against Pigeonhole 0.5.19 */
	expect_session("NOOP \"a\rb\"\r\nNOOP \"a\\xb\"\r\nNOOP \"unterminated\r\n"
		       "NOOP {x}\r\nNOOP {3+x\r\nNOOP {3+}x\r\nNOOP (a)\r\nNOOP a\"b\r\n"
		       "NOOP\rX\r\nNOOP \"a\"\rb\r\nCAPABILITY\rb\r\nNOOP \xc3\xa9\r\n"
		       "NOOP {3++}\r\nNOOP a)\r\nNOOP\r\n",
		       GREET "NO \"String contains invalid character.\"\r\n"
			     "NO \"Escaped quoted-string character is not a QUOTED-SPECIAL.\"\r\n"
			     "NO \"String contains invalid character.\"\r\n"
			     "NO \"Invalid literal size\"\r\n"
			     "NO \"Expecting '}' after '+'\"\r\n"
			     "NO \"Missing LF after literal size\"\r\n"
			     "NO \"Invalid characters in atom\"\r\n"
			     "NO \"Invalid characters in atom\"\r\n"
			     "NO \"CR sent without LF\"\r\n"
			     "NO \"CR sent without LF\"\r\n"
			     "NO \"CR sent without LF\"\r\n"
			     "NO \"8bit data in atom\"\r\n"
			     "NO \"Expecting '}' after '+'\"\r\n"
			     "NO \"Invalid characters in atom\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
	expect_session_n(nul, sizeof(nul) - 1,
			 GREET "NO \"NULs not allowed in strings\"\r\n" NOOP_OK,
			 "END phase=0 bad=0\n", no_acts);
	/* a parse error wins over the argument count (Pigeonhole parses first) */
	expect_session("CAPABILITY \"\xff\"\r\nLOGOUT {1+}\r\n\xff\r\nNOOP\r\n",
		       GREET "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in literal string.\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_utf8_strings_are_checked(void **state)
{
	(void)state;
	/* overlong, surrogate, over U+10FFFF, 5 bytes, overlong 3, cut short:
	 * refused; a 4-byte character and U+FFFF: fine (all verified) */
	expect_session("NOOP \"\xc0\x80\"\r\nNOOP \"\xed\xa0\x80\"\r\nNOOP \"\xf4\x90\x80\x80\"\r\n"
		       "NOOP \"\xf8\x88\x80\x80\x80\"\r\nNOOP \"\xe0\x80\xaf\"\r\nNOOP \"\xc3\"\r\n"
		       "NOOP \"\xf0\x9f\x98\x80\"\r\nNOOP \"\xef\xbf\xbf\"\r\n"
		       "NOOP {3+}\r\n\xff\xfe\xfd\r\n",
		       GREET "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n"
			     "OK (TAG \"\xf0\x9f\x98\x80\") \"Done\"\r\n"
			     "OK (TAG \"\xef\xbf\xbf\") \"Done\"\r\n"
			     "NO \"Invalid UTF-8 character in literal string.\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_literals_need_no_continuation(void **state)
{
	(void)state;
	/* ManageSieve servers send nothing for {n} (verified); "{}" and
	 * "{+}" are empty literals to Pigeonhole's parser */
	expect_session("NOOP {3}\r\nabc\r\nNOOP {0+}\r\n\r\nNOOP {}\r\n\r\nNOOP {+}\n\n",
		       GREET "OK (TAG \"abc\") \"Done\"\r\nOK (TAG \"\") \"Done\"\r\n"
			     "OK (TAG \"\") \"Done\"\r\nOK (TAG \"\") \"Done\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_literal_too_large_closes(void **state)
{
	(void)state;
	expect_session("NOOP {99999999999+}\r\nNOOP\r\n", GREET "BYE \"Literal size too large\"\r\n",
		       "CLOSE@10\n", no_acts);
	expect_session("NOOP {9000+}\r\n", GREET "BYE \"Literal size too large\"\r\n",
		       "CLOSE@10\n", no_acts);
	/* at the end of a rejected line too */
	expect_session("PUTSCRIPT \"x\" {9000+}\r\n", GREET "BYE \"Literal size too large\"\r\n",
		       "CLOSE@23\n", no_acts);
	/* the budget counts the line so far: after "X {8183}\r\n" (10 bytes)
	 * 8182 remain */
	expect_session("X {8183}\r\n", GREET "BYE \"Literal size too large\"\r\n", "CLOSE@10\n",
		       no_acts);
	expect_session("X {8182}\r\n", GREET, "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_line_too_long_closes(void **state)
{
	static char buf[PM_SIEVE_LINE_MAX + 64];
	char ev[64];
	size_t n;

	(void)state;
	/* a line of exactly the budget is fine */
	memset(buf, 'X', PM_SIEVE_LINE_MAX - 2);
	memcpy(buf + PM_SIEVE_LINE_MAX - 2, "\r\nNOOP\r\n", 8);
	n = PM_SIEVE_LINE_MAX + 6;
	expect_session_n(buf, n, GREET BADCMD NOOP_OK, "END phase=0 bad=1\n", no_acts);
	/* one more byte is not */
	memset(buf, 'X', PM_SIEVE_LINE_MAX - 1);
	memcpy(buf + PM_SIEVE_LINE_MAX - 1, "\r\n", 2);
	n = PM_SIEVE_LINE_MAX + 1;
	snprintf(ev, sizeof(ev), "CLOSE@%u\n", PM_SIEVE_LINE_MAX + 1);
	expect_session_n(buf, n, GREET "BYE \"Input buffer full, aborting\"\r\n", ev, no_acts);
}

static void
test_sieve_bad_line_literals_are_skipped_as_data(void **state)
{
	(void)state;
	/* deliberate: the literal's bytes are data, not commands (Pigeonhole
	 * would run the two NOOPs) */
	expect_session("PUTSCRIPT \"foo\" {12+}\r\nNOOP\r\nNOOP\r\n\r\nNOOP\r\n",
		       GREET BADCMD NOOP_OK, "END phase=0 bad=1\n", no_acts);
	expect_session("PUTSCRIPT \"foo\" {12}\r\nNOOP\r\nNOOP\r\n\r\nNOOP\r\n",
		       GREET BADCMD NOOP_OK, "END phase=0 bad=1\n", no_acts);
	/* after a syntax error too */
	expect_session("NOOP ( {6+}\r\nNOOP\r\n\r\nNOOP\r\n",
		       GREET "NO \"Invalid characters in atom\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
	/* a marker not at the line's end is nothing */
	expect_session("FOO {3+} x\r\nNOOP\r\n", GREET BADCMD NOOP_OK, "END phase=0 bad=1\n",
		       no_acts);
}

/* ---- AUTHENTICATE --------------------------------------------------------------- */

static void
test_sieve_authenticate_with_initial_response_logs_in(void **state)
{
	(void)state;
	expect_session("AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n", GREET "OK \"Logged in.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nDONE rest=0\n", ok_once);
	/* lower case, literals (both kinds, no continuation), a literal
	 * mechanism (verified) */
	expect_session("AUTHENTICATE \"plain\" {16+}\r\n" B64_PASS "\r\n", GREET AUTHFAIL,
		       "LOGIN@46 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n", fail_once);
	expect_session("AUTHENTICATE \"PLAIN\" {16}\r\n" B64_PASS "\r\n", GREET AUTHFAIL,
		       "LOGIN@45 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n", fail_once);
	expect_session("AUTHENTICATE {5+}\r\nPLAIN \"" B64_PASS "\"\r\n", GREET AUTHFAIL,
		       "LOGIN@45 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n", fail_once);
}

static void
test_sieve_authenticate_with_challenge_logs_in(void **state)
{
	(void)state;
	expect_session("AUTHENTICATE \"PLAIN\"\r\n\"" B64_PASS "\"\r\n",
		       GREET "\"\"\r\nOK \"Logged in.\"\r\n",
		       "LOGIN@42 " LOGIN_IR(0) "pass\nDONE rest=0\n", ok_once);
	/* a literal response, bare LFs, a space after the mechanism */
	expect_session("AUTHENTICATE \"PLAIN\" \r\n{16+}\r\n" B64_PASS "\r\n",
		       GREET "\"\"\r\n" AUTHFAIL,
		       "LOGIN@48 " LOGIN_IR(0) "pass\nEND phase=0 bad=0\n", fail_once);
	expect_session("AUTHENTICATE \"PLAIN\"\n\"" B64_PASS "\"\n", GREET "\"\"\r\n" AUTHFAIL,
		       "LOGIN@40 " LOGIN_IR(0) "pass\nEND phase=0 bad=0\n", fail_once);
}

static void
test_sieve_authenticate_rest_of_line_is_ignored(void **state)
{
	(void)state;
	/* Pigeonhole skips to the LF after the SASL string (verified) */
	expect_session("AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"junk {5}\r\nNOOP\r\n",
		       GREET AUTHFAIL NOOP_OK,
		       "LOGIN@49 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n", fail_once);
	expect_session("AUTHENTICATE \"PLAIN\" \"" B64_PASS "\" \"x\"\rx\n", GREET AUTHFAIL,
		       "LOGIN@46 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n", fail_once);
	expect_session("AUTHENTICATE \"PLAIN\"\r\n\"" B64_PASS "\"  (\r\n",
		       GREET "\"\"\r\n" AUTHFAIL,
		       "LOGIN@45 " LOGIN_IR(0) "pass\nEND phase=0 bad=0\n", fail_once);
}

static void
test_sieve_authenticate_empty_response_fails(void **state)
{
	(void)state;
	/* all verified: "Authentication failed." */
	expect_session("AUTHENTICATE \"PLAIN\" \"\"\r\nAUTHENTICATE \"PLAIN\" {0+}\r\n\r\n"
		       "AUTHENTICATE \"PLAIN\" \"=\"\r\nAUTHENTICATE \"PLAIN\"\r\n\"\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n{0+}\r\n\r\n",
		       GREET AUTHFAIL AUTHFAIL AUTHFAIL "\"\"\r\n" AUTHFAIL "\"\"\r\n" AUTHFAIL,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_authenticate_star_aborts(void **state)
{
	(void)state;
	expect_session("AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\nAUTHENTICATE \"PLAIN\"\r\n{1+}\r\n*\r\n"
		       "AUTHENTICATE \"PLAIN\" \"*\"\r\nNOOP\r\n",
		       GREET "\"\"\r\nNO \"Authentication aborted by client.\"\r\n"
			     "\"\"\r\nNO \"Authentication aborted by client.\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_authenticate_bad_base64_has_pigeonhole_texts(void **state)
{
	(void)state;
	/* initial response: one text for all (verified); white space is
	 * refused here, Dovecot would skip it (deliberate) */
	expect_session("AUTHENTICATE \"PLAIN\" \"not base64!\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3M\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"==\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AB=C\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3M=x\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"\xff\xfe\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVz ZXIxAHBhc3M=\"\r\n",
		       GREET "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n"
			     "NO \"Invalid base64 data in initial response\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
	/* response: a byte outside the alphabet is the login process's text,
	 * a bad structure the auth process's (verified) */
	expect_session("AUTHENTICATE \"PLAIN\"\r\n\"not base64\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"!!!!\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"AHVzZXIxAHBhc3M\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"=\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"A===\"\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"AHVzZXIxAHBhc3M==\"\r\n",
		       GREET "\"\"\r\nNO \"Invalid base64 in response\"\r\n"
			     "\"\"\r\nNO \"Invalid base64 in response\"\r\n"
			     "\"\"\r\nNO \"Invalid base64 data in continued response\"\r\n"
			     "\"\"\r\nNO \"Invalid base64 data in continued response\"\r\n"
			     "\"\"\r\nNO \"Invalid base64 data in continued response\"\r\n"
			     "\"\"\r\nNO \"Invalid base64 data in continued response\"\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_authenticate_invalid_responses_are_no(void **state)
{
	(void)state;
	expect_session("AUTHENTICATE \"PLAIN\" " B64_PASS "\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\nabc\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n*\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n  \r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n(x)\r\n"
		       "AUTHENTICATE \"PLAIN\" (x)\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVz\\ZXIxAHBhc3M=\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3M=\r\n"
		       "AUTHENTICATE \"\xff\"\r\n"
		       "NOOP\r\n",
		       GREET "NO \"Invalid AUTHENTICATE initial response.\"\r\n"
			     "\"\"\r\nNO \"Invalid AUTHENTICATE client response.\"\r\n"
			     "\"\"\r\nNO \"Invalid AUTHENTICATE client response.\"\r\n"
			     "\"\"\r\nNO \"Received empty AUTHENTICATE client response line.\"\r\n"
			     "\"\"\r\nNO \"Received empty AUTHENTICATE client response line.\"\r\n"
			     "\"\"\r\nNO \"Invalid characters in atom\"\r\n"
			     "NO \"Invalid characters in atom\"\r\n"
			     "NO \"Error in AUTHENTICATE response string: Escaped quoted-string "
			     "character is not a QUOTED-SPECIAL\"\r\n"
			     "NO \"Error in AUTHENTICATE response string: Quoted string contains "
			     "an invalid character\"\r\n"
			     "NO \"Invalid UTF-8 character in quoted-string.\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_authenticate_other_mechanisms_unsupported(void **state)
{
	(void)state;
	/* not counted (verified); an invalid initial response is reported
	 * before the mechanism is looked up (verified) */
	expect_session("AUTHENTICATE \"FOO\"\r\nAUTHENTICATE \"ANONYMOUS\"\r\n"
		       "AUTHENTICATE \"LOGIN\"\r\nAUTHENTICATE \"CRAM-MD5\" \"abc\"\r\n"
		       "AUTHENTICATE \"PLAINPLAINPLAINPLAIN\"\r\nAUTHENTICATE \"FOO\" abc\r\n"
		       "NOOP\r\n",
		       GREET "NO \"Unsupported authentication mechanism.\"\r\n"
			     "NO \"Unsupported authentication mechanism.\"\r\n"
			     "NO \"Unsupported authentication mechanism.\"\r\n"
			     "NO \"Unsupported authentication mechanism.\"\r\n"
			     "NO \"Unsupported authentication mechanism.\"\r\n"
			     "NO \"Invalid AUTHENTICATE initial response.\"\r\n" NOOP_OK,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_sieve_authenticate_without_mechanism_is_bad(void **state)
{
	(void)state;
	expect_session("AUTHENTICATE\r\nAUTHENTICATE \"\"\r\nAUTHENTICATE PLAIN " B64_PASS "\r\n",
		       GREET BADCMD BADCMD TOO_MANY, "CLOSE@68\n", no_acts);
}

static void
test_sieve_authenticate_plain_authzid(void **state)
{
	(void)state;
	/* base64("admin\0user1\0pass"): an authzid is kept; base64("user1\0
	 * user1\0pass"): the same login (verified to log in) */
	expect_session("AUTHENTICATE \"PLAIN\" \"YWRtaW4AdXNlcjEAcGFzcw==\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"dXNlcjEAdXNlcjEAcGFzcw==\"\r\n",
		       GREET AUTHFAIL AUTHFAIL,
		       "LOGIN@49 mech=PLAIN ir=1 user=user1 authzid=admin pass=pass\n"
		       "LOGIN@98 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_AUTH, NULL },
					     { A_FAIL_AUTH, NULL },
					     { A_END, NULL } });
}

static void
test_sieve_authenticate_malformed_plain_fails_locally(void **state)
{
	(void)state;
	/* "abc", "\0\0pass", "\0user1\0pass\0", "\0user1", "\0user1\0pass\0extra"
	 * (verified "Authentication failed." from Dovecot for all) */
	expect_session("AUTHENTICATE \"PLAIN\" \"YWJj\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AABwYXNz\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3MA\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIx\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3MAZXh0cmE=\"\r\n",
		       GREET AUTHFAIL AUTHFAIL AUTHFAIL AUTHFAIL AUTHFAIL, "END phase=0 bad=0\n",
		       no_acts);
}

/* "AUTHENTICATE "PLAIN" "<base64(\0<u>\0<p>)>"" with a user of @ulen and a
 * password of @plen bytes. */
static size_t
plain_line(char *buf, size_t cap, size_t ulen, size_t plen)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t msg[2 + PM_SIEVE_USER_MAX + PM_SIEVE_PASS_MAX + 8];
	size_t mlen = 0, i, n;

	assert_true(ulen + plen + 2 <= sizeof(msg));
	msg[mlen++] = 0;
	for (i = 0; i < ulen; i++)
		msg[mlen++] = 'u';
	msg[mlen++] = 0;
	for (i = 0; i < plen; i++)
		msg[mlen++] = 'p';
	n = (size_t)snprintf(buf, cap, "AUTHENTICATE \"PLAIN\" \"");
	for (i = 0; i < mlen; i += 3) {
		uint32_t v = (uint32_t)msg[i] << 16;

		if (i + 1 < mlen)
			v |= (uint32_t)msg[i + 1] << 8;
		if (i + 2 < mlen)
			v |= msg[i + 2];
		buf[n++] = abc[(v >> 18) & 63];
		buf[n++] = abc[(v >> 12) & 63];
		buf[n++] = i + 1 < mlen ? abc[(v >> 6) & 63] : '=';
		buf[n++] = i + 2 < mlen ? abc[v & 63] : '=';
	}
	n += (size_t)snprintf(buf + n, cap - n, "\"\r\n");
	assert_true(n < cap);
	return n;
}

static void
test_sieve_authenticate_field_bounds(void **state)
{
	static char buf[4096], ev[2048];
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;
	size_t n, used;

	(void)state;
	/* one over: "Authentication failed." locally (deliberate), no close */
	n = plain_line(buf, sizeof(buf), PM_SIEVE_USER_MAX + 1, 4);
	expect_session_n(buf, n, GREET AUTHFAIL, "END phase=0 bad=0\n", no_acts);
	n = plain_line(buf, sizeof(buf), 5, PM_SIEVE_PASS_MAX + 1);
	expect_session_n(buf, n, GREET AUTHFAIL, "END phase=0 bad=0\n", no_acts);
	/* exactly at the bounds: a login */
	n = plain_line(buf, sizeof(buf), PM_SIEVE_USER_MAX, PM_SIEVE_PASS_MAX);
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)buf, n, &used, &out), PM_SIEVE_LOGIN);
	assert_int_equal(used, n);
	assert_int_equal(pm_sieve_login(&m)->user_len, PM_SIEVE_USER_MAX);
	assert_int_equal(pm_sieve_login(&m)->pass_len, PM_SIEVE_PASS_MAX);
	assert_int_equal(strlen(pm_sieve_login(&m)->pass), PM_SIEVE_PASS_MAX);
	(void)ev;
}

static void
test_sieve_pipelined_login_stops_after_lf(void **state)
{
	(void)state;
	/* the NOOPs are the backend's (verified: forwarded after the login) */
	expect_session("NOOP\r\nAUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\nNOOP\r\nLOGOUT\r\n",
		       GREET NOOP_OK "OK \"Logged in.\"\r\n",
		       "LOGIN@47 " LOGIN_IR(1) "pass\nDONE rest=14\n", ok_once);
}

static void
test_sieve_failed_login_then_retry_on_same_connection(void **state)
{
	(void)state;
	/* verified: a wrong password, then the right one */
	expect_session("AUTHENTICATE \"PLAIN\" \"" B64_WRONG "\"\r\n"
		       "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\nNOOP\r\n",
		       GREET AUTHFAIL "OK \"Logged in.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "wrong\nLOGIN@82 " LOGIN_IR(1) "pass\n"
		       "DONE rest=6\n",
		       (const struct act[]){ { A_FAIL_AUTH, NULL }, { A_OK, NULL }, { A_END, NULL } });
	/* a backend that is unavailable, then a login that works */
	expect_session("AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\nNOOP\r\n"
		       "AUTHENTICATE \"PLAIN\"\r\n\"" B64_PASS "\"\r\n",
		       GREET "NO (TRYLATER) \"Account is temporarily unavailable.\"\r\n" NOOP_OK
			     "\"\"\r\nOK \"Logged in.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nLOGIN@89 " LOGIN_IR(0) "pass\n"
		       "DONE rest=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, NULL }, { A_OK, NULL },
					     { A_END, NULL } });
}

/* ---- login results ------------------------------------------------------------- */

static void
test_sieve_login_failed_kinds_have_pigeonhole_texts(void **state)
{
	static const char in[] = "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n";

	(void)state;
	expect_session(in, GREET AUTHFAIL, "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       fail_once);
	expect_session(in, GREET "NO (TRYLATER) \"Account is temporarily unavailable.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, NULL }, { A_END, NULL } });
	/* the backend's reason, quoted as Pigeonhole quotes it (verified:
	 * escapes, tab to space with escapes, runs of bad UTF-8 to one U+FFFD) */
	expect_session(in, GREET "NO (TRYLATER) \"later please\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, "later please" }, { A_END, NULL } });
	expect_session(in, GREET "NO (TRYLATER) \"a \\\"q\\\" b\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, "a \"q\" b" }, { A_END, NULL } });
	expect_session(in, GREET "NO (TRYLATER) \"t\\\\a b\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, "t\\a\tb" }, { A_END, NULL } });
	expect_session(in, GREET "NO (TRYLATER) \"t\tb\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, "t\tb" }, { A_END, NULL } });
	expect_session(in,
		       GREET "NO (TRYLATER) \"(TRYLATER) x\xef\xbf\xbdy\xef\xbf\xbdz\xc3\xa9\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_UNAVAIL, "(TRYLATER) x\xff\xffy\xe2\x82z\xc3\xa9" },
					     { A_END, NULL } });
	/* what Pigeonhole says for a backend without SASL (verified) */
	expect_session(in, GREET "NO \"Account is temporarily unavailable.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nEND phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_VERBATIM, "\"Account is temporarily unavailable.\"" },
					     { A_END, NULL } });
}

static void
test_sieve_login_ok_writes_the_backend_line(void **state)
{
	static const char in[] = "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n";

	(void)state;
	/* verbatim, as Pigeonhole's proxy forwards it (verified) */
	expect_session(in, GREET "OK (SASL \"abc\") \"Logged in, welcome.\"\r\n",
		       "LOGIN@41 " LOGIN_IR(1) "pass\nDONE rest=0\n",
		       (const struct act[]){ { A_OK, "OK (SASL \"abc\") \"Logged in, welcome.\"" },
					     { A_END, NULL } });
	expect_session(in, GREET "ok \"lower ok\"\r\n", "LOGIN@41 " LOGIN_IR(1) "pass\nDONE rest=0\n",
		       (const struct act[]){ { A_OK, "ok \"lower ok\"" }, { A_END, NULL } });
	expect_session(in, GREET "OK\r\n", "LOGIN@41 " LOGIN_IR(1) "pass\nDONE rest=0\n",
		       (const struct act[]){ { A_OK, "OK" }, { A_END, NULL } });
}

static void
test_sieve_login_result_misuse_is_einval(void **state)
{
	static char big[PM_SIEVE_TEXT_MAX + 2];
	static const char in[] = "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n";
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;
	size_t used;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	/* not in the LOGIN phase */
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_AUTHFAILED, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_SIEVE_LOGIN);
	out.len = 0;
	/* feeding in the LOGIN phase is a misuse */
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, 1, &used, &out), PM_SIEVE_ERROR);
	assert_int_equal(used, 0);
	/* bad kinds and texts change nothing */
	assert_int_equal(pm_sieve_login_failed(&m, (enum pm_sieve_fail)0, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, (enum pm_sieve_fail)9, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_VERBATIM, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_VERBATIM, "", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_VERBATIM, "a\r\nb", &out),
			 -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_UNAVAILABLE, big, &out), -EINVAL);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_UNAVAILABLE, "a\nb", &out),
			 -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, "NO \"x\"", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, "OKAY", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, "O", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, "", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, "OK \"a\r\nOK\"", &out), -EINVAL);
	assert_int_equal(pm_sieve_login_ok(&m, big, &out), -EINVAL);
	out.len = out.cap + 1;
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), -EINVAL);
	out.len = 0;
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_LOGIN);
	/* no room: -ENOSPC, nothing changed */
	out.cap = 10;
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_AUTHFAILED, NULL, &out),
			 -ENOSPC);
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_UNAVAILABLE, NULL, &out),
			 -ENOSPC);
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_LOGIN);
	assert_int_equal(pm_sieve_login(&m)->pass_len, 4);
	out.cap = sizeof(mem);
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), 0);
	assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_DONE);
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), -EINVAL);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, 1, &used, &out), PM_SIEVE_ERROR);
}

static void
test_sieve_password_is_wiped(void **state)
{
	static const char in[] = "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n";
	static const char half[] = "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBh";
	static const char bad[] = "AUTHENTICATE \"PLAIN\" \"AHVzZXIxAHBhc3M=x\"\r\n";
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;
	size_t used;

	(void)state;
	pm_sieve_params_defaults(&p);
	pm_buf_init(&out, mem, sizeof(mem));
	/* after a failed login */
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_SIEVE_LOGIN);
	assert_string_equal(pm_sieve_login(&m)->pass, "pass");
	assert_int_equal(pm_sieve_login_failed(&m, PM_SIEVE_FAIL_AUTHFAILED, NULL, &out), 0);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	/* after a good one */
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_SIEVE_LOGIN);
	assert_int_equal(pm_sieve_login_ok(&m, NULL, &out), 0);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	assert_int_equal(pm_sieve_login(&m)->pass_len, 0);
	/* in the middle of a SASL string, and while waiting for the backend */
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)half, strlen(half), &used, &out),
			 PM_SIEVE_AGAIN);
	assert_false(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	pm_sieve_wipe(&m);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	assert_int_equal(m.b64_acc, 0);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_SIEVE_LOGIN);
	pm_sieve_wipe(&m);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_LOGIN);
	/* a failed SASL line leaves nothing behind either */
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)bad, strlen(bad), &used, &out),
			 PM_SIEVE_AGAIN);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
}

/* ---- the out buffer ----------------------------------------------------------------- */

static void
test_sieve_out_too_small_is_error_without_corruption(void **state)
{
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[PM_SIEVE_OUT_MIN];
	struct pm_buf out;
	size_t used;
	static const char in[] = "CAPABILITY\r\nNOOP\r\n";
	static const char want[] = CAPS "OK \"Capability completed.\"\r\n" NOOP_OK;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, 40);	/* fits no CAPABILITY answer */
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_SIEVE_ERROR);
	assert_int_equal(used, 11);	/* stopped at the LF, which is not consumed */
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_sieve_phase(&m), PM_SIEVE_PHASE_COMMANDS);
	/* the same byte again, with room: as if nothing happened */
	out.cap = sizeof(mem);
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)in + used, strlen(in) - used, &used,
				       &out),
			 PM_SIEVE_AGAIN);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(mem, want, out.len);
}

static void
test_sieve_out_full_then_drained_continues(void **state)
{
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used, off = 0;
	char got[256];
	size_t got_len = 0;
	static const char in[] = "NOOP\r\nNOOP\r\nNOOP\r\n";
	enum pm_sieve_status st;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, 50);	/* two answers fit, not three */
	st = pm_sieve_feed(&m, (const uint8_t *)in, strlen(in), &used, &out);
	assert_int_equal(st, PM_SIEVE_FULL);
	assert_int_equal(used, strlen(in) - 1);
	off += used;
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	pm_buf_consume(&out, out.len);
	st = pm_sieve_feed(&m, (const uint8_t *)in + off, strlen(in) - off, &used, &out);
	assert_int_equal(st, PM_SIEVE_AGAIN);
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	assert_int_equal(got_len, 3 * strlen(NOOP_OK));
	assert_memory_equal(got, NOOP_OK NOOP_OK NOOP_OK, got_len);
}

static void
test_sieve_feed_misuse_is_error(void **state)
{
	struct pm_sieve_params p;
	struct pm_sieve m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used = 99;

	(void)state;
	pm_sieve_params_defaults(&p);
	assert_int_equal(pm_sieve_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	out.len = out.cap + 1;	/* invalid */
	assert_int_equal(pm_sieve_feed(&m, (const uint8_t *)"a", 1, &used, &out), PM_SIEVE_ERROR);
	assert_int_equal(used, 0);
	out.len = 0;
	assert_int_equal(pm_sieve_feed(&m, NULL, 0, &used, &out), PM_SIEVE_AGAIN);
	assert_int_equal(pm_sieve_feed(&m, NULL, 1, &used, &out), PM_SIEVE_ERROR);
}

/* ---- random sessions ---------------------------------------------------------------- */

static const char *const fragments[] = {
	"CAPABILITY\r\n", "NOOP\r\n", "NOOP \"x\\\"y\"\r\n", "NOOP {3+}\r\na\rb\r\n",
	"STARTTLS\r\n", "XCLIENT ADDR=x\r\n", "AUTHENTICATE \"PLAIN\" \"" B64_PASS "\"\r\n",
	"AUTHENTICATE \"PLAIN\"\r\n\"" B64_PASS "\"\r\n", "AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\n",
	"AUTHENTICATE \"PLAIN\" {16+}\r\n" B64_PASS "\r\n", "AUTHENTICATE \"PLAIN\" \"=\"\r\n",
	"FOO\r\n", "\r\n", "NOOP \"x\r\n", "AUTHENTICATE \"X\"\r\n", "NOOP a\r\n", "LOGOUT\r\n",
	"PUTSCRIPT \"s\" {4+}\r\nNOOP\r\n", "NOOP {2}\r\nxy\r\n", "AUTHENTICATE PLAIN\r\n",
	"AUTHENTICATE \"PLAIN\"\r\nabc\r\n", "NOOP \"\xc3\xa9\"\r\n",
};

static void
test_sieve_random_sessions_are_chunking_invariant(void **state)
{
	uint32_t seed = pm_test_seed("sieve random sessions", TEST_SEED);
	static const size_t caps[] = { PM_SIEVE_OUT_MIN, 400, 0 };
	struct pm_sieve_params p;
	static char in[4096];
	struct result ref, r;
	struct act acts[64];
	size_t n, k, i, c, nf = sizeof(fragments) / sizeof(fragments[0]);
	uint32_t rng;
	int round;

	(void)state;
	pm_sieve_params_defaults(&p);
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
			acts[i].text = x == 0 && (xorshift32(&seed) & 1) ? "OK \"hi\"" : NULL;
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
		cmocka_unit_test(test_sieve_params_defaults_are_valid),
		cmocka_unit_test(test_sieve_params_bad_values_are_rejected),
		cmocka_unit_test(test_sieve_greeting_matches_pigeonhole),
		cmocka_unit_test(test_sieve_greeting_without_room_is_enospc),
		cmocka_unit_test(test_sieve_largest_answers_fit_out_min),
		cmocka_unit_test(test_sieve_capability_lists_caps),
		cmocka_unit_test(test_sieve_noop_answers_and_echoes_tag),
		cmocka_unit_test(test_sieve_noop_echo_over_limit_closes),
		cmocka_unit_test(test_sieve_logout_closes),
		cmocka_unit_test(test_sieve_starttls_is_no_not_counted),
		cmocka_unit_test(test_sieve_xclient_is_refused_not_counted),
		cmocka_unit_test(test_sieve_too_many_bad_commands_closes),
		cmocka_unit_test(test_sieve_bad_limit_is_a_parameter),
		cmocka_unit_test(test_sieve_unknown_and_empty_commands_are_bad),
		cmocka_unit_test(test_sieve_syntax_errors_are_no_not_counted),
		cmocka_unit_test(test_sieve_utf8_strings_are_checked),
		cmocka_unit_test(test_sieve_literals_need_no_continuation),
		cmocka_unit_test(test_sieve_literal_too_large_closes),
		cmocka_unit_test(test_sieve_line_too_long_closes),
		cmocka_unit_test(test_sieve_bad_line_literals_are_skipped_as_data),
		cmocka_unit_test(test_sieve_authenticate_with_initial_response_logs_in),
		cmocka_unit_test(test_sieve_authenticate_with_challenge_logs_in),
		cmocka_unit_test(test_sieve_authenticate_rest_of_line_is_ignored),
		cmocka_unit_test(test_sieve_authenticate_empty_response_fails),
		cmocka_unit_test(test_sieve_authenticate_star_aborts),
		cmocka_unit_test(test_sieve_authenticate_bad_base64_has_pigeonhole_texts),
		cmocka_unit_test(test_sieve_authenticate_invalid_responses_are_no),
		cmocka_unit_test(test_sieve_authenticate_other_mechanisms_unsupported),
		cmocka_unit_test(test_sieve_authenticate_without_mechanism_is_bad),
		cmocka_unit_test(test_sieve_authenticate_plain_authzid),
		cmocka_unit_test(test_sieve_authenticate_malformed_plain_fails_locally),
		cmocka_unit_test(test_sieve_authenticate_field_bounds),
		cmocka_unit_test(test_sieve_pipelined_login_stops_after_lf),
		cmocka_unit_test(test_sieve_failed_login_then_retry_on_same_connection),
		cmocka_unit_test(test_sieve_login_failed_kinds_have_pigeonhole_texts),
		cmocka_unit_test(test_sieve_login_ok_writes_the_backend_line),
		cmocka_unit_test(test_sieve_login_result_misuse_is_einval),
		cmocka_unit_test(test_sieve_password_is_wiped),
		cmocka_unit_test(test_sieve_out_too_small_is_error_without_corruption),
		cmocka_unit_test(test_sieve_out_full_then_drained_continues),
		cmocka_unit_test(test_sieve_feed_misuse_is_error),
		cmocka_unit_test(test_sieve_random_sessions_are_chunking_invariant),
	};

	return cmocka_run_group_tests_name("sieve", tests, NULL, NULL);
}
