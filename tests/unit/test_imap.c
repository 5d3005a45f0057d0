/*
 * test_imap.c -- the client-facing IMAP pre-login machine (proto/imap.h).
 *
 * Every session test goes through expect_session(): the same client bytes
 * are fed at every chunk size from 1 to n (for inputs over LONG_INPUT bytes:
 * 1..256, every 97th size and n), each time with a large out buffer and with
 * two small ones that the harness drains whenever the machine answers
 * PM_IMAP_FULL; the transcript (every byte written to the client, in order)
 * and the event log (LOGIN with its fields and offset, CLOSE, the final
 * phase) must equal the golden ones, byte for byte. Logins are answered from
 * a per-test script (login_failed kinds or login_ok).
 *
 * The golden texts are Dovecot 2.3.19.1 imap-login's, captured from a real
 * instance (see the header comment of proto/imap.h), except where that header
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

#include "proto/imap.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x1a4c0de5u

#define CAPS "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"
#define GREET "* OK [CAPABILITY " CAPS "] postmux ready.\r\n"
#define BADCMD " BAD Error in IMAP command received by server.\r\n"
#define AUTHFAIL " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
#define BACKEND_CAPS "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+"

/* ---- the harness ------------------------------------------------------------ */

enum act_kind { A_END, A_FAIL_AUTH, A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK };

struct act {
	enum act_kind kind;
	const char *caps;	/* A_OK */
	const char *text;	/* A_FAIL_UNAVAIL, A_FAIL_VERBATIM, A_OK */
};

static void
apply(struct pm_imap *m, const struct act *a, struct tout *o, struct result *r)
{
	int rc;
	int tries;

	squeeze(o);
	for (tries = 0; tries < 2; tries++) {
		switch (a->kind) {
		case A_FAIL_AUTH:
			rc = pm_imap_login_failed(m, PM_IMAP_FAIL_AUTHFAILED, NULL, &o->b);
			break;
		case A_FAIL_UNAVAIL:
			rc = pm_imap_login_failed(m, PM_IMAP_FAIL_UNAVAILABLE, a->text, &o->b);
			break;
		case A_FAIL_VERBATIM:
			rc = pm_imap_login_failed(m, PM_IMAP_FAIL_VERBATIM, a->text, &o->b);
			break;
		case A_OK:
			rc = pm_imap_login_ok(m, a->caps, a->text, &o->b);
			break;
		default:
			fail_msg("login without a scripted answer");
			return;
		}
		if (rc != -ENOSPC)
			break;
		assert_int_equal(pm_imap_phase(m), PM_IMAP_PHASE_LOGIN);
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
run(const struct pm_imap_params *p, const void *input, size_t n, size_t chunk, size_t outcap,
    const struct act *acts, struct result *r, uint32_t *rng)
{
	const uint8_t *in = input;
	struct pm_imap m;
	struct tout o;
	uint8_t *mem;
	const struct pm_imap_login *lg;
	size_t off = 0, end, used, k = 0, len;
	enum pm_imap_status st;
	bool retry = false;

	o.stingy = outcap == 0;
	o.memsize = o.stingy ? 1u << 16 : outcap;
	o.base = o.stingy ? 1 : 0;
	mem = malloc(o.memsize);	/* exact size: ASan sees overruns */
	assert_non_null(mem);
	r->out_len = 0;
	r->ev_len = 0;
	assert_int_equal(pm_imap_init(&m, p), 0);
	pm_buf_init(&o.b, mem, o.memsize);
	if (o.stingy)
		mem[o.b.len++] = '#';
	assert_int_equal(pm_imap_greet(&m, &o.b), 0);
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
			st = pm_imap_feed(&m, in + off, len, &used, &o.b);
			assert_true(used <= len);
			off += used;
			if (st == PM_IMAP_AGAIN) {
				assert_int_equal(used, len);
				drain(r, &o);
				continue;
			}
			if (st == PM_IMAP_FULL) {
				assert_true(o.b.len > 0);
				drain(r, &o);
				retry = o.stingy;
				continue;
			}
			drain(r, &o);
			if (st == PM_IMAP_LOGIN) {
				assert_true(used > 0);
				lg = pm_imap_login(&m);
				ev_printf(r, "LOGIN@%zu tag=%s mech=%s ir=%d", off, lg->tag,
					  lg->mech == PM_IMAP_MECH_LOGIN ? "LOGIN" : "PLAIN",
					  lg->sasl_ir);
				ev_field(r, "user", lg->user, lg->user_len);
				ev_field(r, "authzid", lg->authzid, lg->authzid_len);
				ev_field(r, "pass", lg->pass, lg->pass_len);
				ev_printf(r, "\n");
				apply(&m, &acts[k], &o, r);
				drain(r, &o);
				if (acts[k++].kind == A_OK) {
					ev_printf(r, "DONE rest=%zu\n", n - off);
					assert_int_equal(pm_imap_feed(&m, in, n, &used, &o.b),
							 PM_IMAP_ERROR);
					assert_int_equal(used, 0);
					goto out;
				}
				continue;
			}
			if (st == PM_IMAP_CLOSE) {
				ev_printf(r, "CLOSE@%zu\n", off);
				assert_int_equal(pm_imap_phase(&m), PM_IMAP_PHASE_CLOSED);
				assert_int_equal(pm_imap_feed(&m, in, n, &used, &o.b),
						 PM_IMAP_ERROR);
				assert_int_equal(used, 0);
				goto out;
			}
			ev_printf(r, "ERROR@%zu\n", off);
			goto out;
		}
	}
	ev_printf(r, "END phase=%d bad=%u\n", (int)pm_imap_phase(&m), pm_imap_bad_count(&m));
out:
	free(mem);
	return k;
}

static void
expect_session_p(const struct pm_imap_params *p, const void *in, size_t n,
		 const char *want_out, const char *want_ev, const struct act *acts)
{
	static const size_t caps[] = { 1u << 16, 512, 200, 0 };
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

static const struct act no_acts[] = { { A_END, NULL, NULL } };
static const struct act fail_once[] = { { A_FAIL_AUTH, NULL, NULL }, { A_END, NULL, NULL } };
static const struct act ok_once[] = { { A_OK, BACKEND_CAPS, "Logged in" },
				      { A_END, NULL, NULL } };

static void
expect_session(const char *in, const char *want_out, const char *want_ev,
	       const struct act *acts)
{
	struct pm_imap_params p;

	pm_imap_params_defaults(&p);
	expect_session_p(&p, in, strlen(in), want_out, want_ev, acts);
}

/* Same, for input with NUL bytes. */
static void
expect_session_n(const void *in, size_t n, const char *want_out, const char *want_ev,
		 const struct act *acts)
{
	struct pm_imap_params p;

	pm_imap_params_defaults(&p);
	expect_session_p(&p, in, n, want_out, want_ev, acts);
}

/* ---- params and greeting ----------------------------------------------------- */

static void
test_imap_params_defaults_are_valid(void **state)
{
	struct pm_imap_params p;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_params_check(&p), 0);
	assert_string_equal(p.capability, CAPS);
	assert_string_equal(p.greeting, "postmux ready.");
	assert_string_equal(p.id_reply, "(\"name\" \"postmux\")");
	assert_int_equal(p.max_bad, 3);
}

static void
test_imap_params_bad_values_are_rejected(void **state)
{
	static char big[PM_IMAP_TEXT_MAX + 2];
	struct pm_imap_params p;
	struct pm_imap m;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	pm_imap_params_defaults(&p);
	p.greeting = "a\r\nb";
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	assert_int_equal(pm_imap_init(&m, &p), -EINVAL);
	pm_imap_params_defaults(&p);
	p.capability = "";
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	pm_imap_params_defaults(&p);
	p.capability = NULL;
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	pm_imap_params_defaults(&p);
	p.id_reply = big;
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	big[PM_IMAP_TEXT_MAX] = '\0';	/* exactly the maximum */
	assert_int_equal(pm_imap_params_check(&p), 0);
	pm_imap_params_defaults(&p);
	p.max_bad = 0;
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	p.max_bad = PM_IMAP_MAX_BAD_MAX + 1;
	assert_int_equal(pm_imap_params_check(&p), -EINVAL);
	assert_int_equal(pm_imap_params_check(NULL), -EINVAL);
}

static void
test_imap_greeting_has_caps_and_text(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[256];
	struct pm_buf out;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_imap_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
	assert_memory_equal(mem, GREET, out.len);

	/* Dovecot's own texts through the params */
	p.greeting = "Dovecot ready.";
	p.capability = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
		       "AUTH=PLAIN";
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_imap_greet(&m, &out), 0);
	assert_memory_equal(mem,
			    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
			    "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
			    out.len);
}

static void
test_imap_greeting_without_room_is_enospc(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[256];
	struct pm_buf out;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, strlen(GREET) - 1);
	assert_int_equal(pm_imap_greet(&m, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	out.cap = strlen(GREET);
	assert_int_equal(pm_imap_greet(&m, &out), 0);
	assert_int_equal(out.len, strlen(GREET));
}

/* ---- simple commands ---------------------------------------------------------- */

static void
test_imap_capability_lists_caps(void **state)
{
	(void)state;
	expect_session("a CAPABILITY\r\nB capability extra \"args\" (x)\r\n",
		       GREET "* CAPABILITY " CAPS "\r\n"
		       "a OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
		       "* CAPABILITY " CAPS "\r\n"
		       "B OK Pre-login capabilities listed, post-login capabilities have more.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_noop_and_enable_are_ok(void **state)
{
	(void)state;
	expect_session("a noop\r\nb NoOp\nc ENABLE CONDSTORE\r\nd NOOP\rjunk\n",
		       GREET "a OK NOOP completed.\r\n"
		       "b OK NOOP completed.\r\n"
		       "* ENABLED\r\n"
		       "c OK ENABLE ignored in non-authenticated state.\r\n"
		       "d OK NOOP completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_logout_closes(void **state)
{
	(void)state;
	expect_session("a LOGOUT\r\nb NOOP\r\n",
		       GREET "* BYE Logging out\r\na OK Logout completed.\r\n", "CLOSE@10\n",
		       no_acts);
}

static void
test_imap_starttls_is_no(void **state)
{
	(void)state;
	/* not counted: four of them do not close */
	expect_session("a STARTTLS\r\nb STARTTLS\r\nc starttls\r\nd STARTTLS\r\n",
		       GREET "a NO TLS support isn't enabled.\r\n"
		       "b NO TLS support isn't enabled.\r\n"
		       "c NO TLS support isn't enabled.\r\n"
		       "d NO TLS support isn't enabled.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_id_answers_server_id(void **state)
{
	(void)state;
	expect_session("a ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n"
		       "b ID NIL\r\n"
		       "c ID\r\n"
		       "d ID (\"name\")\r\n"
		       "e ID ({4}\r\nname {3+}\r\nx y \"os\" NIL)\r\n"
		       "f id (\"x\" \"y\") trailing\r\n"
		       "g ID nil\r\n"
		       "h ID (\"k\" nil)\r\n",
		       GREET "* ID (\"name\" \"postmux\")\r\na OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\nb OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\nc OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\nd OK ID completed.\r\n"
		       "+ OK\r\n"
		       "* ID (\"name\" \"postmux\")\r\ne OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\nf OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\ng OK ID completed.\r\n"
		       "* ID (\"name\" \"postmux\")\r\nh OK ID completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_id_custom_reply(void **state)
{
	struct pm_imap_params p;
	static const char in[] = "a ID NIL\r\n";

	(void)state;
	pm_imap_params_defaults(&p);
	p.id_reply = "NIL";
	expect_session_p(&p, in, strlen(in), GREET "* ID NIL\r\na OK ID completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_id_bad_params_are_bad_not_counted(void **state)
{
	(void)state;
	expect_session("a ID (name x)\r\n"
		       "b ID \"x\"\r\n"
		       "c ID (\"a\" (\"b\"))\r\n"
		       "d ID (\"a\" atom)\r\n"
		       "e ID NILS\r\n"
		       "f NOOP\r\n",
		       GREET "a BAD Invalid ID parameters\r\n"
		       "b BAD Invalid ID parameters\r\n"
		       "c BAD Invalid ID parameters\r\n"
		       "d BAD Invalid ID parameters\r\n"
		       "e BAD Invalid ID parameters\r\n"
		       "f OK NOOP completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

/* Build "t ID (" + pairs + ")" with @pairs pairs, key length @klen, value
 * length @vlen. */
static size_t
id_line(char *buf, size_t cap, unsigned pairs, size_t klen, size_t vlen)
{
	size_t n = 0, i;
	unsigned j;

	n += (size_t)snprintf(buf + n, cap - n, "t ID (");
	for (j = 0; j < pairs; j++) {
		buf[n++] = '"';
		for (i = 0; i < klen; i++)
			buf[n++] = (char)('a' + (j + i) % 26);
		buf[n++] = '"';
		buf[n++] = ' ';
		buf[n++] = '"';
		for (i = 0; i < vlen; i++)
			buf[n++] = 'v';
		buf[n++] = '"';
		if (j + 1 < pairs)
			buf[n++] = ' ';
	}
	n += (size_t)snprintf(buf + n, cap - n, ")\r\n");
	assert_true(n < cap);
	return n;
}

static void
test_imap_id_limits_are_enforced(void **state)
{
	static char buf[8192];
	size_t n;

	(void)state;
	n = id_line(buf, sizeof(buf), PM_IMAP_ID_PAIRS_MAX, 5, 5);
	expect_session_n(buf, n, GREET "* ID (\"name\" \"postmux\")\r\nt OK ID completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
	n = id_line(buf, sizeof(buf), PM_IMAP_ID_PAIRS_MAX + 1, 5, 5);
	expect_session_n(buf, n, GREET "t BAD Invalid ID parameters\r\n", "END phase=0 bad=0\n",
			 no_acts);
	n = id_line(buf, sizeof(buf), 1, PM_IMAP_ID_KEY_MAX, PM_IMAP_ID_VALUE_MAX);
	expect_session_n(buf, n, GREET "* ID (\"name\" \"postmux\")\r\nt OK ID completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
	n = id_line(buf, sizeof(buf), 1, PM_IMAP_ID_KEY_MAX + 1, 1);
	expect_session_n(buf, n, GREET "t BAD Invalid ID parameters\r\n", "END phase=0 bad=0\n",
			 no_acts);
	n = id_line(buf, sizeof(buf), 1, 4, PM_IMAP_ID_VALUE_MAX + 1);
	expect_session_n(buf, n, GREET "t BAD Invalid ID parameters\r\n", "END phase=0 bad=0\n",
			 no_acts);
}

/* ---- LOGIN ------------------------------------------------------------------------ */

static void
test_imap_login_atoms_report_login(void **state)
{
	(void)state;
	expect_session("a LOGIN user@example.com secret\r\n",
		       GREET "a" AUTHFAIL,
		       "LOGIN@33 tag=a mech=LOGIN ir=0 user=user@example.com authzid= pass=secret\n"
		       "END phase=0 bad=0\n",
		       fail_once);
}

static void
test_imap_login_quoted_with_escapes(void **state)
{
	(void)state;
	expect_session("x1 login \"us er\" \"p\\\"w\\\\d\"\r\n",
		       GREET "x1" AUTHFAIL,
		       "LOGIN@28 tag=x1 mech=LOGIN ir=0 user=us\\x20er authzid= "
		       "pass=p\"w\\x5cd\nEND phase=0 bad=0\n",
		       fail_once);
}

static void
test_imap_login_utf8_quoted_user(void **state)
{
	(void)state;
	expect_session("a LOGIN \"j\xc3\xb6rg\" \"\xe2\x82\xac\"\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@23 tag=a mech=LOGIN ir=0 user=j\\xc3\\xb6rg authzid= "
		       "pass=\\xe2\\x82\\xac\nEND phase=0 bad=0\n",
		       fail_once);
}

static void
test_imap_login_sync_literal_gets_continuation(void **state)
{
	(void)state;
	/* Dovecot: "+ OK" after each {n} line */
	expect_session("a LOGIN {4}\r\nuser {6}\r\np\"a\\ s\r\n",
		       GREET "+ OK\r\n+ OK\r\na" AUTHFAIL,
		       "LOGIN@31 tag=a mech=LOGIN ir=0 user=user authzid= pass=p\"a\\x5c\\x20s\n"
		       "END phase=0 bad=0\n",
		       fail_once);
}

static void
test_imap_login_nonsync_literal_has_no_continuation(void **state)
{
	(void)state;
	expect_session("a LOGIN {4+}\r\nuser {4+}\npass\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@30 tag=a mech=LOGIN ir=0 user=user authzid= pass=pass\n"
		       "END phase=0 bad=0\n",
		       fail_once);
}

static void
test_imap_login_mixed_forms_and_crlf_in_literal(void **state)
{
	(void)state;
	/* a literal can carry CR and LF; an empty literal is an empty string */
	expect_session("a LOGIN \"u\" {3+}\r\na\r\n\r\nb LOGIN u {0}\r\n\r\n",
		       GREET "a" AUTHFAIL "+ OK\r\nb" AUTHFAIL,
		       "LOGIN@23 tag=a mech=LOGIN ir=0 user=u authzid= pass=a\\x0d\\x0a\n"
		       "LOGIN@40 tag=b mech=LOGIN ir=0 user=u authzid= pass=\n"
		       "END phase=0 bad=0\n",
		       (const struct act[]){ { A_FAIL_AUTH, NULL, NULL },
					     { A_FAIL_AUTH, NULL, NULL },
					     { A_END, NULL, NULL } });
}

static void
test_imap_login_wrong_arguments_are_bad(void **state)
{
	(void)state;
	expect_session("a LOGIN u\r\nb LOGIN u p x\r\n",
		       GREET "a" BADCMD "b" BADCMD, "END phase=0 bad=2\n", no_acts);
	expect_session("a LOGIN u (p)\r\nb LOGIN (u) p\r\n",
		       GREET "a" BADCMD "b" BADCMD, "END phase=0 bad=2\n", no_acts);
	/* but an atom NIL is just the name "NIL" (Dovecot 2.3.19.1) */
	expect_session("a LOGIN NIL nil\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@17 tag=a mech=LOGIN ir=0 user=NIL authzid= pass=nil\n"
		       "END phase=0 bad=0\n",
		       fail_once);
	expect_session("a LOGIN\r\n", GREET "a" BADCMD, "END phase=0 bad=1\n", no_acts);
}

static void
test_imap_login_unusable_credentials_fail_locally(void **state)
{
	static char buf[2048];
	size_t n;

	(void)state;
	expect_session("a LOGIN \"\" p\r\n", GREET "a" AUTHFAIL, "END phase=0 bad=0\n",
		       no_acts);
	/* a user one byte over the bound, quoted: no login, no close */
	n = (size_t)snprintf(buf, sizeof(buf), "a LOGIN \"%0*d\" p\r\nb NOOP\r\n",
			     (int)PM_IMAP_USER_MAX + 1, 0);
	expect_session_n(buf, n, GREET "a" AUTHFAIL "b OK NOOP completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
	/* exactly at the bound: a login */
	n = (size_t)snprintf(buf, sizeof(buf), "a LOGIN u %0*d\r\n", (int)PM_IMAP_PASS_MAX, 0);
	{
		struct pm_imap_params p;
		struct pm_imap m;
		uint8_t mem[512];
		struct pm_buf out;
		size_t used;

		pm_imap_params_defaults(&p);
		assert_int_equal(pm_imap_init(&m, &p), 0);
		pm_buf_init(&out, mem, sizeof(mem));
		assert_int_equal(pm_imap_feed(&m, (const uint8_t *)buf, n, &used, &out),
				 PM_IMAP_LOGIN);
		assert_int_equal(used, n);
		assert_int_equal(pm_imap_login(&m)->pass_len, PM_IMAP_PASS_MAX);
		assert_int_equal(strlen(pm_imap_login(&m)->pass), PM_IMAP_PASS_MAX);
	}
}

static void
test_imap_literal_over_field_closes(void **state)
{
	(void)state;
	/* a user literal may hold PM_IMAP_USER_MAX bytes, a password 1024 */
	expect_session("a LOGIN {256}\r\n", GREET "* BYE Literal size too large\r\n",
		       "CLOSE@12\n", no_acts);
	expect_session("a LOGIN u {1025+}\r\n", GREET "* BYE Literal size too large\r\n",
		       "CLOSE@15\n", no_acts);
	expect_session("a LOGIN {255}\r\n", GREET "+ OK\r\n", "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_literal_size_overflow_closes(void **state)
{
	(void)state;
	/* checked before multiplying: never wraps (Dovecot: same BYE) */
	expect_session("a NOOP {99999999999999999999}\r\n",
		       GREET "* BYE Literal size too large\r\n", "CLOSE@12\n", no_acts);
	expect_session("a NOOP {18446744073709551617+}\r\n",
		       GREET "* BYE Literal size too large\r\n", "CLOSE@13\n", no_acts);
	/* over what is left of the line budget */
	expect_session("a NOOP {8190}\r\n", GREET "* BYE Literal size too large\r\n",
		       "CLOSE@15\n", no_acts);
}

static void
test_imap_literal_nul_is_bad(void **state)
{
	static const char in[] = "a LOGIN {3}\r\nu\0x p\r\nb NOOP\r\n";

	(void)state;
	expect_session_n(in, sizeof(in) - 1,
			 GREET "+ OK\r\na BAD NULs not allowed in strings\r\n"
			 "b OK NOOP completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_syntax_errors_are_bad_not_counted(void **state)
{
	static const char in[] = "a NOOP \"x\r\n"
				 "b NOOP )\r\n"
				 "c NOOP (x\r\n"
				 "d NOOP x{3}\r\n"
				 "e LOGIN \xc3\xa4 p\r\n"
				 "f NOOP {3\r\n"
				 "g NOOP {+3}\r\n"
				 "h NOOP {3}x\r\n"
				 "i NOOP \"a\0b\"\r\n"
				 "j LOGIN \"u\\x\" p\r\n"
				 "k NOOP\r\n";

	(void)state;
	expect_session_n(in, sizeof(in) - 1,
			 GREET "a BAD Missing '\"'\r\n"
			 "b BAD Unexpected ')'\r\n"
			 "c BAD Missing ')'\r\n"
			 "d BAD Invalid characters in atom\r\n"
			 "e BAD 8bit data in atom\r\n"
			 "f BAD Invalid literal size\r\n"
			 "g BAD Invalid literal size\r\n"
			 "h BAD Missing LF after literal size\r\n"
			 "i BAD NULs not allowed in strings\r\n"
			 "j BAD Invalid escape in quoted string\r\n"
			 "k OK NOOP completed.\r\n",
			 "END phase=0 bad=0\n", no_acts);
}

/* ---- AUTHENTICATE ------------------------------------------------------------------ */

/* base64 of "\0u\0pass", of "v\0u\0pass", of "u\0u\0pass" */
#define B64_U_PASS "AHUAcGFzcw=="
#define B64_V_U_PASS "dgB1AHBhc3M="
#define B64_U_U_PASS "dQB1AHBhc3M="

static void
test_imap_authenticate_plain_with_sasl_ir(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE PLAIN " B64_U_PASS "\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@35 tag=a mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
	expect_session("a authenticate plain " B64_U_PASS "\n", GREET "a" AUTHFAIL,
		       "LOGIN@34 tag=a mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
}

static void
test_imap_authenticate_plain_continuation(void **state)
{
	(void)state;
	/* Dovecot's empty challenge is "+ " */
	expect_session("a AUTHENTICATE PLAIN\r\n" B64_U_PASS "\r\n", GREET "+ \r\na" AUTHFAIL,
		       "LOGIN@36 tag=a mech=PLAIN ir=0 user=u authzid= pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
	expect_session("a AUTHENTICATE PLAIN \r\n" B64_U_PASS "\r\n", GREET "+ \r\na" AUTHFAIL,
		       "LOGIN@37 tag=a mech=PLAIN ir=0 user=u authzid= pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
}

static void
test_imap_authenticate_empty_response_fails(void **state)
{
	(void)state;
	/* "=" is an empty initial response (RFC 4959); empty PLAIN fails */
	expect_session("a AUTHENTICATE PLAIN =\r\n", GREET "a" AUTHFAIL, "END phase=0 bad=0\n",
		       no_acts);
	expect_session("a AUTHENTICATE PLAIN\r\n\r\n", GREET "+ \r\na" AUTHFAIL,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_authenticate_star_cancels(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE PLAIN\r\n*\r\nb NOOP\r\n",
		       GREET "+ \r\na BAD Authentication aborted by client.\r\n"
		       "b OK NOOP completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_authenticate_bad_base64(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE PLAIN ####\r\n"
		       "b AUTHENTICATE PLAIN AHUAcGFzcw\r\n"
		       "c AUTHENTICATE PLAIN AHUAcGFzcw==AAAA\r\n"
		       "d AUTHENTICATE PLAIN AHUA cGFzcw==\r\n"
		       "e AUTHENTICATE PLAIN *\r\n"
		       "f AUTHENTICATE PLAIN\r\n####\r\n"
		       "g AUTHENTICATE PLAIN\r\nAHUAcGFzcw=\r\n",
		       GREET "a BAD Invalid base64 data in initial response\r\n"
		       "b BAD Invalid base64 data in initial response\r\n"
		       "c BAD Invalid base64 data in initial response\r\n"
		       "d BAD Invalid base64 data in initial response\r\n"
		       "e BAD Invalid base64 data in initial response\r\n"
		       "+ \r\nf NO [ALERT] Invalid base64 in response\r\n"
		       "+ \r\ng NO [ALERT] Invalid base64 in response\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_authenticate_plain_authzid(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE PLAIN " B64_V_U_PASS "\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@35 tag=a mech=PLAIN ir=1 user=u authzid=v pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
	/* an authzid equal to the authcid is dropped (mech-plain.c) */
	expect_session("a AUTHENTICATE PLAIN " B64_U_U_PASS "\r\n", GREET "a" AUTHFAIL,
		       "LOGIN@35 tag=a mech=PLAIN ir=1 user=u authzid= pass=pass\n"
		       "END phase=0 bad=0\n", fail_once);
}

static void
test_imap_authenticate_malformed_plain_fails(void **state)
{
	(void)state;
	/* "abc" (no NUL), "\0\0pass" (empty authcid), "\0u" (one NUL) */
	expect_session("a AUTHENTICATE PLAIN YWJj\r\n"
		       "b AUTHENTICATE PLAIN AABwYXNz\r\n"
		       "c AUTHENTICATE PLAIN AHU=\r\n",
		       GREET "a" AUTHFAIL "b" AUTHFAIL "c" AUTHFAIL, "END phase=0 bad=0\n",
		       no_acts);
	/* "\0u\0pa\0ss": a third NUL makes it invalid (mech-plain.c counts
	 * every NUL; Dovecot 2.3.19.1 answers AUTHENTICATIONFAILED) */
	expect_session("a AUTHENTICATE PLAIN AHUAcGEAc3M=\r\n", GREET "a" AUTHFAIL,
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_authenticate_other_mechanisms_unsupported(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE CRAM-MD5\r\n"
		       "b AUTHENTICATE LOGIN dXNlcg==\r\n"
		       "c AUTHENTICATE \"PLAIN\"\r\n"
		       "d AUTHENTICATE XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n",
		       GREET "a NO [ALERT] Unsupported authentication mechanism.\r\n"
		       "b NO [ALERT] Unsupported authentication mechanism.\r\n"
		       "c NO [ALERT] Unsupported authentication mechanism.\r\n"
		       "d NO [ALERT] Unsupported authentication mechanism.\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_authenticate_without_mechanism_is_bad(void **state)
{
	(void)state;
	expect_session("a AUTHENTICATE\r\nb AUTHENTICATE \r\n",
		       GREET "a" BADCMD "b" BADCMD, "END phase=0 bad=2\n", no_acts);
}

/* ---- login results and pipelining -------------------------------------------------- */

static void
test_imap_pipelined_login_stops_after_crlf(void **state)
{
	(void)state;
	expect_session("a LOGIN u p\r\nb SELECT INBOX\r\n",
		       GREET "a OK [CAPABILITY " BACKEND_CAPS "] Logged in\r\n",
		       "LOGIN@13 tag=a mech=LOGIN ir=0 user=u authzid= pass=p\nDONE rest=16\n",
		       ok_once);
	expect_session("a AUTHENTICATE PLAIN\r\n" B64_U_PASS "\r\nb SELECT INBOX\r\n",
		       GREET "+ \r\na OK [CAPABILITY " BACKEND_CAPS "] Logged in\r\n",
		       "LOGIN@36 tag=a mech=PLAIN ir=0 user=u authzid= pass=pass\nDONE rest=16\n",
		       ok_once);
}

static void
test_imap_failed_login_then_another_user(void **state)
{
	(void)state;
	/* the caller feeds the kept bytes again after login_failed() */
	expect_session("a LOGIN alice wrong\r\nb LOGIN bob right\r\nc NOOP\r\n",
		       GREET "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
		       "b OK Logged in\r\n",
		       "LOGIN@21 tag=a mech=LOGIN ir=0 user=alice authzid= pass=wrong\n"
		       "LOGIN@40 tag=b mech=LOGIN ir=0 user=bob authzid= pass=right\n"
		       "DONE rest=8\n",
		       (const struct act[]){ { A_FAIL_AUTH, NULL, NULL },
					     { A_OK, NULL, NULL },
					     { A_END, NULL, NULL } });
}

static void
test_imap_login_failed_kinds_have_dovecot_texts(void **state)
{
	(void)state;
	expect_session("a LOGIN u p\r\nb LOGIN u p\r\nc LOGIN u p\r\nd LOGIN u p\r\n",
		       GREET "a NO [UNAVAILABLE] Account is temporarily unavailable.\r\n"
		       "b NO [UNAVAILABLE] Temporary authentication failure. [h:1]\r\n"
		       "c NO [SERVERBUG] Account is temporarily unavailable.\r\n"
		       "d OK [CAPABILITY IMAP4rev1] Welcome\r\n",
		       "LOGIN@13 tag=a mech=LOGIN ir=0 user=u authzid= pass=p\n"
		       "LOGIN@26 tag=b mech=LOGIN ir=0 user=u authzid= pass=p\n"
		       "LOGIN@39 tag=c mech=LOGIN ir=0 user=u authzid= pass=p\n"
		       "LOGIN@52 tag=d mech=LOGIN ir=0 user=u authzid= pass=p\n"
		       "DONE rest=0\n",
		       (const struct act[]){
			       { A_FAIL_UNAVAIL, NULL, NULL },
			       { A_FAIL_UNAVAIL, NULL, "Temporary authentication failure. [h:1]" },
			       { A_FAIL_VERBATIM, NULL,
				 "[SERVERBUG] Account is temporarily unavailable." },
			       { A_OK, "IMAP4rev1", "Welcome" },
			       { A_END, NULL, NULL } });
}

static void
test_imap_login_result_misuse_is_einval(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	/* no login pending */
	assert_int_equal(pm_imap_login_failed(&m, PM_IMAP_FAIL_AUTHFAILED, NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_login_ok(&m, NULL, NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"a LOGIN u p\r\n", 13, &used, &out),
			 PM_IMAP_LOGIN);
	/* feeding while the backend decides is a misuse */
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"b NOOP\r\n", 8, &used, &out),
			 PM_IMAP_ERROR);
	assert_int_equal(used, 0);
	/* texts that would inject a line, or are missing */
	assert_int_equal(pm_imap_login_failed(&m, PM_IMAP_FAIL_VERBATIM, "x\r\n* BYE", &out),
			 -EINVAL);
	assert_int_equal(pm_imap_login_failed(&m, PM_IMAP_FAIL_VERBATIM, NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_login_failed(&m, PM_IMAP_FAIL_UNAVAILABLE, "a\nb", &out),
			 -EINVAL);
	assert_int_equal(pm_imap_login_failed(&m, (enum pm_imap_fail)99, NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_login_ok(&m, "", NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_login_ok(&m, "X\rY", NULL, &out), -EINVAL);
	assert_int_equal(pm_imap_login_ok(&m, NULL, "", &out), -EINVAL);
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_imap_phase(&m), PM_IMAP_PHASE_LOGIN);
	/* no room: nothing written, still pending */
	out.cap = 5;
	assert_int_equal(pm_imap_login_ok(&m, NULL, NULL, &out), -ENOSPC);
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_imap_phase(&m), PM_IMAP_PHASE_LOGIN);
	out.cap = sizeof(mem);
	assert_int_equal(pm_imap_login_ok(&m, NULL, NULL, &out), 0);
	assert_memory_equal(mem, "a OK Logged in\r\n", out.len);
	assert_int_equal(pm_imap_phase(&m), PM_IMAP_PHASE_DONE);
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"b NOOP\r\n", 8, &used, &out),
			 PM_IMAP_ERROR);
	assert_int_equal(pm_imap_greet(&m, &out), -EINVAL);
}

static void
test_imap_password_is_wiped(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[256];
	struct pm_buf out;
	size_t used;
	static const char plain[] = "a AUTHENTICATE PLAIN " B64_U_PASS "\r\n";

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"a LOGIN u secret\r\n", 18, &used,
				      &out),
			 PM_IMAP_LOGIN);
	assert_string_equal(pm_imap_login(&m)->pass, "secret");
	assert_int_equal(pm_imap_login_failed(&m, PM_IMAP_FAIL_AUTHFAILED, NULL, &out), 0);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	assert_int_equal(m.lg.pass_len, 0);

	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)plain, strlen(plain), &used, &out),
			 PM_IMAP_LOGIN);
	assert_string_equal(pm_imap_login(&m)->pass, "pass");
	assert_int_equal(pm_imap_login_ok(&m, NULL, NULL, &out), 0);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	assert_string_equal(pm_imap_login(&m)->user, "u");	/* kept for the caller */

	/* a password half read when the connection goes away */
	assert_int_equal(pm_imap_init(&m, &p), 0);
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"a LOGIN u {6}\r\nsec", 18, &used,
				      &out),
			 PM_IMAP_AGAIN);
	assert_false(all_zero(m.lg.pass, sizeof(m.lg.pass)));
	pm_imap_wipe(&m);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));

	/* a LOGIN line rejected as bad leaves no password behind */
	assert_int_equal(pm_imap_init(&m, &p), 0);
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"a LOGIN u secret x\r\n", 20, &used,
				      &out),
			 PM_IMAP_AGAIN);
	assert_true(all_zero(m.lg.pass, sizeof(m.lg.pass)));
}

/* ---- bad commands and limits --------------------------------------------------------- */

static void
test_imap_too_many_bad_commands_closes(void **state)
{
	(void)state;
	/* Dovecot 2.3.19.1: two BADs, then the BYE instead of the third */
	expect_session("a FOO\r\nb BAR\r\nc BAZ\r\nd NOOP\r\n",
		       GREET "a" BADCMD "b" BADCMD "* BYE Too many invalid IMAP commands.\r\n",
		       "CLOSE@21\n", no_acts);
	/* empty lines count, with "*" for the tag */
	expect_session("\r\n\r\n\r\n", GREET "*" BADCMD "*" BADCMD
		       "* BYE Too many invalid IMAP commands.\r\n", "CLOSE@6\n", no_acts);
}

static void
test_imap_bad_limit_is_a_parameter(void **state)
{
	struct pm_imap_params p;
	static const char in[] = "a X\r\nb X\r\nc X\r\nd X\r\ne X\r\n";

	(void)state;
	pm_imap_params_defaults(&p);
	p.max_bad = 1;
	expect_session_p(&p, in, strlen(in), GREET "* BYE Too many invalid IMAP commands.\r\n",
			 "CLOSE@5\n", no_acts);
	p.max_bad = 5;
	expect_session_p(&p, in, strlen(in),
			 GREET "a" BADCMD "b" BADCMD "c" BADCMD "d" BADCMD
			 "* BYE Too many invalid IMAP commands.\r\n",
			 "CLOSE@25\n", no_acts);
}

static void
test_imap_bad_tags_get_star(void **state)
{
	static char buf[256];
	size_t n;

	(void)state;
	expect_session("a+b NOOP\r\na] NOOP\r\n", GREET "*" BADCMD "*" BADCMD,
		       "END phase=0 bad=2\n", no_acts);
	expect_session(" NOOP\r\n", GREET "*" BADCMD, "END phase=0 bad=1\n", no_acts);
	expect_session("a\xc3\xa4 NOOP\r\n", GREET "*" BADCMD, "END phase=0 bad=1\n", no_acts);
	/* PM_IMAP_TAG_MAX bytes are fine, one more is not */
	n = (size_t)snprintf(buf, sizeof(buf), "%0*d NOOP\r\n%0*d NOOP\r\n",
			     (int)PM_IMAP_TAG_MAX, 7, (int)PM_IMAP_TAG_MAX + 1, 7);
	{
		char want[512];

		snprintf(want, sizeof(want), GREET "%0*d OK NOOP completed.\r\n*" BADCMD,
			 (int)PM_IMAP_TAG_MAX, 7);
		expect_session_n(buf, n, want, "END phase=0 bad=1\n", no_acts);
	}
}

static void
test_imap_unknown_and_empty_commands_are_bad(void **state)
{
	(void)state;
	expect_session("a\r\nb \r\n", GREET "a" BADCMD "b" BADCMD, "END phase=0 bad=2\n",
		       no_acts);
	expect_session("a  NOOP\r\n", GREET "a" BADCMD, "END phase=0 bad=1\n", no_acts);
	expect_session("a SELECT INBOX\r\n", GREET "a" BADCMD, "END phase=0 bad=1\n", no_acts);
}

static void
test_imap_login_as_tag_gets_hint_not_counted(void **state)
{
	(void)state;
	expect_session("LOGIN u p\r\nLOGIN u p\r\nLOGIN u p\r\n",
		       GREET "LOGIN BAD First parameter in line is IMAP's command tag, not the "
		       "command name. Add that before the command, like: a login user pass\r\n"
		       "LOGIN BAD First parameter in line is IMAP's command tag, not the "
		       "command name. Add that before the command, like: a login user pass\r\n"
		       "LOGIN BAD First parameter in line is IMAP's command tag, not the "
		       "command name. Add that before the command, like: a login user pass\r\n",
		       "END phase=0 bad=0\n", no_acts);
}

static void
test_imap_bad_line_literals_are_skipped(void **state)
{
	(void)state;
	/* an unknown command's arguments are still read, as Dovecot parses the
	 * whole line first: a non-synchronising literal's bytes are data, even
	 * a fake command in them, and a synchronising one gets "+ OK" */
	expect_session("a FOO {13+}\r\nb LOGOUT\r\nx y\r\nc NOOP\r\n",
		       GREET "a" BADCMD "c OK NOOP completed.\r\n", "END phase=0 bad=1\n", no_acts);
	expect_session("a FOO {5}\r\nabcde\r\nb NOOP\r\n",
		       GREET "+ OK\r\na" BADCMD "b OK NOOP completed.\r\n",
		       "END phase=0 bad=1\n", no_acts);
	/* after a syntax error the line is skipped: a synchronising literal is
	 * answered at once, without "+ OK" (the client then does not send it) */
	expect_session("a NOOP ) {5}\r\nb NOOP\r\n",
		       GREET "a BAD Unexpected ')'\r\nb OK NOOP completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
	/* and a non-synchronising one is skipped as data */
	expect_session("a NOOP ) {3+}\r\nabc\r\nb NOOP\r\n",
		       GREET "a BAD Unexpected ')'\r\nb OK NOOP completed.\r\n",
		       "END phase=0 bad=0\n", no_acts);
	/* an LF inside a quoted string ends the line there */
	expect_session("a NOOP \"x\ny FOO\r\nb NOOP\r\n",
		       GREET "a BAD Missing '\"'\r\ny" BADCMD "b OK NOOP completed.\r\n",
		       "END phase=0 bad=1\n", no_acts);
	/* a literal larger than the line budget closes, read or skipped */
	expect_session("a FOO {9000+}\r\n", GREET "* BYE Literal size too large\r\n",
		       "CLOSE@11\n", no_acts);
	expect_session("a NOOP ) {9000+}\r\n", GREET "* BYE Literal size too large\r\n",
		       "CLOSE@18\n", no_acts);
	expect_session("a NOOP ) {99999999999999999999+}\r\n",
		       GREET "* BYE Literal size too large\r\n", "CLOSE@34\n", no_acts);
}

static void
test_imap_line_too_long_closes(void **state)
{
	static char buf[PM_IMAP_LINE_MAX + 64];
	size_t n;

	(void)state;
	/* exactly PM_IMAP_LINE_MAX bytes with the CRLF: accepted */
	n = (size_t)snprintf(buf, sizeof(buf), "a NOOP ");
	memset(buf + n, 'x', PM_IMAP_LINE_MAX - n - 2);
	n = PM_IMAP_LINE_MAX - 2;
	memcpy(buf + n, "\r\n", 2);
	n += 2;
	expect_session_n(buf, n, GREET "a OK NOOP completed.\r\n", "END phase=0 bad=0\n",
			 no_acts);
	/* one more byte: the BYE comes with byte PM_IMAP_LINE_MAX + 1 */
	memset(buf + PM_IMAP_LINE_MAX - 2, 'x', 1);
	memcpy(buf + PM_IMAP_LINE_MAX - 1, "\r\n", 2);
	n = PM_IMAP_LINE_MAX + 1;
	{
		char ev[64];

		snprintf(ev, sizeof(ev), "CLOSE@%u\n", PM_IMAP_LINE_MAX + 1);
		expect_session_n(buf, n, GREET "* BYE Input buffer full, aborting\r\n", ev,
				 no_acts);
	}
	/* a SASL response line has the same budget */
	n = (size_t)snprintf(buf, sizeof(buf), "a AUTHENTICATE PLAIN\r\n");
	memset(buf + n, 'A', PM_IMAP_LINE_MAX + 8);
	{
		char ev[64];

		snprintf(ev, sizeof(ev), "CLOSE@%zu\n", n + PM_IMAP_LINE_MAX + 1);
		n += PM_IMAP_LINE_MAX + 8;
		expect_session_n(buf, n, GREET "+ \r\n* BYE Input buffer full, aborting\r\n",
				 ev, no_acts);
	}
}

/* ---- the out buffer ----------------------------------------------------------------- */

static void
test_imap_out_too_small_is_error_without_corruption(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[512];
	struct pm_buf out;
	size_t used;
	static const char in[] = "a CAPABILITY\r\nb NOOP\r\n";
	static const char want[] =
		"* CAPABILITY " CAPS "\r\n"
		"a OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
		"b OK NOOP completed.\r\n";

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, 40);	/* fits no CAPABILITY answer */
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)in, strlen(in), &used, &out),
			 PM_IMAP_ERROR);
	assert_int_equal(used, 13);	/* stopped at the LF, which is not consumed */
	assert_int_equal(out.len, 0);
	assert_int_equal(pm_imap_phase(&m), PM_IMAP_PHASE_COMMANDS);
	/* the same byte again, with room: as if nothing happened */
	out.cap = sizeof(mem);
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)in + used, strlen(in) - used, &used,
				      &out),
			 PM_IMAP_AGAIN);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(mem, want, out.len);
}

static void
test_imap_out_full_then_drained_continues(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used, off = 0;
	char got[256];
	size_t got_len = 0;
	static const char in[] = "a NOOP\r\nb NOOP\r\nc NOOP\r\n";
	enum pm_imap_status st;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, 50);	/* two answers fit, not three */
	st = pm_imap_feed(&m, (const uint8_t *)in, strlen(in), &used, &out);
	assert_int_equal(st, PM_IMAP_FULL);
	assert_int_equal(used, strlen(in) - 1);
	off += used;
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	pm_buf_consume(&out, out.len);
	st = pm_imap_feed(&m, (const uint8_t *)in + off, strlen(in) - off, &used, &out);
	assert_int_equal(st, PM_IMAP_AGAIN);
	memcpy(got + got_len, mem, out.len);
	got_len += out.len;
	assert_int_equal(got_len, 3 * strlen("a OK NOOP completed.\r\n"));
	assert_memory_equal(got,
			    "a OK NOOP completed.\r\nb OK NOOP completed.\r\n"
			    "c OK NOOP completed.\r\n",
			    got_len);
}

static void
test_imap_feed_misuse_is_error(void **state)
{
	struct pm_imap_params p;
	struct pm_imap m;
	uint8_t mem[64];
	struct pm_buf out;
	size_t used = 99;

	(void)state;
	pm_imap_params_defaults(&p);
	assert_int_equal(pm_imap_init(&m, &p), 0);
	pm_buf_init(&out, mem, sizeof(mem));
	out.len = out.cap + 1;	/* invalid */
	assert_int_equal(pm_imap_feed(&m, (const uint8_t *)"a", 1, &used, &out), PM_IMAP_ERROR);
	assert_int_equal(used, 0);
	out.len = 0;
	assert_int_equal(pm_imap_feed(&m, NULL, 0, &used, &out), PM_IMAP_AGAIN);
	assert_int_equal(pm_imap_feed(&m, NULL, 1, &used, &out), PM_IMAP_ERROR);
}

/* ---- random sessions ---------------------------------------------------------------- */

static const char *const fragments[] = {
	"a CAPABILITY\r\n", "b NOOP\r\n", "c ID (\"name\" \"x\")\r\n", "d ID NIL\r\n",
	"e STARTTLS\r\n", "f ENABLE X\r\n", "g LOGIN u p\r\n", "h LOGIN {1}\r\nu {1+}\r\np\r\n",
	"i AUTHENTICATE PLAIN " B64_U_PASS "\r\n", "j AUTHENTICATE PLAIN\r\n" B64_V_U_PASS "\r\n",
	"k AUTHENTICATE PLAIN\r\n*\r\n", "l AUTHENTICATE PLAIN =\r\n", "m FOO\r\n", "\r\n",
	"n NOOP \"x\r\n", "o NOOP {3+}\r\nabc\r\n", "p AUTHENTICATE X\r\n", "q LOGIN \"\" p\r\n",
	"r LOGOUT\r\n", "s LOGIN u\r\n", "t ID (a b)\r\n", "u NOOP {2}\r\nxy\r\n",
	"LOGIN u p\r\n", "v NOOP (a (b \"c\") {1+}\r\nd)\r\n",
};

static void
test_imap_random_sessions_are_chunking_invariant(void **state)
{
	uint32_t seed = pm_test_seed("imap random sessions", TEST_SEED);
	static const size_t caps[] = { 300, 180, 0 };
	struct pm_imap_params p;
	static char in[4096];
	struct result ref, r;
	struct act acts[64];
	size_t n, k, i, c, nf = sizeof(fragments) / sizeof(fragments[0]);
	uint32_t rng;
	int round;

	(void)state;
	pm_imap_params_defaults(&p);
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
			acts[i].caps = x == 0 && (xorshift32(&seed) & 1) ? "IMAP4rev1" : NULL;
			acts[i].text = NULL;
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
		cmocka_unit_test(test_imap_params_defaults_are_valid),
		cmocka_unit_test(test_imap_params_bad_values_are_rejected),
		cmocka_unit_test(test_imap_greeting_has_caps_and_text),
		cmocka_unit_test(test_imap_greeting_without_room_is_enospc),
		cmocka_unit_test(test_imap_capability_lists_caps),
		cmocka_unit_test(test_imap_noop_and_enable_are_ok),
		cmocka_unit_test(test_imap_logout_closes),
		cmocka_unit_test(test_imap_starttls_is_no),
		cmocka_unit_test(test_imap_id_answers_server_id),
		cmocka_unit_test(test_imap_id_custom_reply),
		cmocka_unit_test(test_imap_id_bad_params_are_bad_not_counted),
		cmocka_unit_test(test_imap_id_limits_are_enforced),
		cmocka_unit_test(test_imap_login_atoms_report_login),
		cmocka_unit_test(test_imap_login_quoted_with_escapes),
		cmocka_unit_test(test_imap_login_utf8_quoted_user),
		cmocka_unit_test(test_imap_login_sync_literal_gets_continuation),
		cmocka_unit_test(test_imap_login_nonsync_literal_has_no_continuation),
		cmocka_unit_test(test_imap_login_mixed_forms_and_crlf_in_literal),
		cmocka_unit_test(test_imap_login_wrong_arguments_are_bad),
		cmocka_unit_test(test_imap_login_unusable_credentials_fail_locally),
		cmocka_unit_test(test_imap_literal_over_field_closes),
		cmocka_unit_test(test_imap_literal_size_overflow_closes),
		cmocka_unit_test(test_imap_literal_nul_is_bad),
		cmocka_unit_test(test_imap_syntax_errors_are_bad_not_counted),
		cmocka_unit_test(test_imap_authenticate_plain_with_sasl_ir),
		cmocka_unit_test(test_imap_authenticate_plain_continuation),
		cmocka_unit_test(test_imap_authenticate_empty_response_fails),
		cmocka_unit_test(test_imap_authenticate_star_cancels),
		cmocka_unit_test(test_imap_authenticate_bad_base64),
		cmocka_unit_test(test_imap_authenticate_plain_authzid),
		cmocka_unit_test(test_imap_authenticate_malformed_plain_fails),
		cmocka_unit_test(test_imap_authenticate_other_mechanisms_unsupported),
		cmocka_unit_test(test_imap_authenticate_without_mechanism_is_bad),
		cmocka_unit_test(test_imap_pipelined_login_stops_after_crlf),
		cmocka_unit_test(test_imap_failed_login_then_another_user),
		cmocka_unit_test(test_imap_login_failed_kinds_have_dovecot_texts),
		cmocka_unit_test(test_imap_login_result_misuse_is_einval),
		cmocka_unit_test(test_imap_password_is_wiped),
		cmocka_unit_test(test_imap_too_many_bad_commands_closes),
		cmocka_unit_test(test_imap_bad_limit_is_a_parameter),
		cmocka_unit_test(test_imap_bad_tags_get_star),
		cmocka_unit_test(test_imap_unknown_and_empty_commands_are_bad),
		cmocka_unit_test(test_imap_login_as_tag_gets_hint_not_counted),
		cmocka_unit_test(test_imap_bad_line_literals_are_skipped),
		cmocka_unit_test(test_imap_line_too_long_closes),
		cmocka_unit_test(test_imap_out_too_small_is_error_without_corruption),
		cmocka_unit_test(test_imap_out_full_then_drained_continues),
		cmocka_unit_test(test_imap_feed_misuse_is_error),
		cmocka_unit_test(test_imap_random_sessions_are_chunking_invariant),
	};

	return cmocka_run_group_tests_name("imap", tests, NULL, NULL);
}
