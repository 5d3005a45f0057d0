/*
 * test_submissionback.c -- the backend-side Submission login machine
 * (proto/submissionback.h).
 *
 * Every dialogue is fed at every chunk size from 1 byte to all of it, and
 * once more at random split points (seeded, printed; PM_SEED replays), and
 * must give identical status, *consumed, output bytes and text each time
 * (STYLE.md 10). The golden bytes are what the Debian 12 Dovecot 2.3.19.1
 * submission-login proxy sent to a scripted fake backend, and what a real
 * Dovecot 2.3.19.1 submission backend answered (see proto/submissionback.h).
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

#include "proto/submissionback.h"
#include "testrand.h"
#include "prototest.h"

#define TEST_SEED 0x5ba3c0deu
#define OUT_CAP (1u << 17)

/* The fake backend's banner and EHLO reply as scripted in the lab. */
#define FAKE_BANNER "220 fake.example ESMTP ready\r\n"
#define FAKE_EHLO                                                               \
	"250-fake.example\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"             \
	"250-ENHANCEDSTATUSCODES\r\n"                                             \
	"250-XCLIENT ADDR PORT PROTO HELO LOGIN TTL TIMEOUT SESSION FORWARD DESTADDR DESTPORT\r\n" \
	"250 PIPELINING\r\n"
/* A real Dovecot 2.3.19.1 submission backend with the proxy trusted. */
#define DOVECOT_BANNER "220 lab-c.example Dovecot (Debian) ready.\r\n"
#define DOVECOT_EHLO                                                              \
	"250-lab-c.example\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-BURL imap\r\n" \
	"250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n250-PIPELINING\r\n"  \
	"250 XCLIENT ADDR PORT PROTO HELO LOGIN SESSION TTL TIMEOUT FORWARD\r\n"
#define NOX_EHLO "250-fake\r\n250-AUTH PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n"

/* What Dovecot's proxy sent for the params() login (verified). */
#define EHLO_OUT "EHLO lab-b.example\r\n"
#define XCLIENT_OUT                                                                \
	"XCLIENT HELO=client.example PROTO=ESMTP TTL=4 PORT=52785 ADDR=127.16.150.42 " \
	"SESSION=phHHUmFhMc5/EJYq\r\n"
#define AUTH_OUT "AUTH PLAIN dXNlcjEAdXNlcjEAcGFzcw==\r\n"

static struct pm_submissionback_params
params(void)
{
	struct pm_submissionback_params p = {
		.session_id = "phHHUmFhMc5/EJYq",
		.client_ip = "127.16.150.42",
		.local_ip = "127.0.0.1",
		.client_port = 52785,
		.local_port = 22589,
		.ttl = 5,
		.user = "user1",
		.authzid = NULL,
		.password = "pass",
		.helo = "client.example",
		.helo_smtp = false,
		.ehlo_name = "lab-b.example",
	};
	return p;
}

/* ---- running a dialogue ---- */

struct run {
	enum pm_submissionback_status st;
	size_t consumed;	/* bytes of the input the machine took */
	uint8_t *tb;		/* to backend */
	size_t tbl;
	char text[PM_SUBMISSIONBACK_TEXT_MAX + 1];
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
 * then report the end of input with pm_submissionback_closed() if @close.
 */
static void
run_cuts(const struct pm_submissionback_params *p, const uint8_t *in, size_t n,
	 const size_t *cuts, size_t ncuts, bool close, struct run *r)
{
	struct pm_submissionback *b = malloc(sizeof(*b));
	struct pm_buf tb;
	enum pm_submissionback_status st = PM_SUBMISSIONBACK_AGAIN;
	size_t off = 0, k, c;

	assert_non_null(b);
	pm_buf_init(&tb, r->tb, OUT_CAP);
	assert_int_equal(pm_submissionback_init(b, p), 0);
	for (k = 0; k <= ncuts && st == PM_SUBMISSIONBACK_AGAIN; k++) {
		size_t end = k < ncuts ? cuts[k] : n;

		st = pm_submissionback_feed(b, in + off, end - off, &c, &tb, NULL);
		assert_int_not_equal(st, PM_SUBMISSIONBACK_ERROR);
		off += c;
		if (st == PM_SUBMISSIONBACK_AGAIN)
			assert_int_equal(off, end);
	}
	if (st == PM_SUBMISSIONBACK_AGAIN && close)
		st = pm_submissionback_closed(b);
	r->st = st;
	r->consumed = off;
	r->tbl = tb.len;
	snprintf(r->text, sizeof(r->text), "%s", pm_submissionback_text(b));
	r->wiped = all_zero(b->password, sizeof(b->password));
	if (st != PM_SUBMISSIONBACK_AGAIN)
		r->wiped = r->wiped && all_zero(b->user, sizeof(b->user)) &&
			   all_zero(b->authzid, sizeof(b->authzid));
	free(b);
}

static void
run_chunk(const struct pm_submissionback_params *p, const uint8_t *in, size_t n, size_t chunk,
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
	    a->wiped != b->wiped)
		fail_msg("chunk size %zu differs: status %d/%d consumed %zu/%zu", chunk,
			 (int)a->st, (int)b->st, a->consumed, b->consumed);
}

/*
 * Run the dialogue @in whole, then at every chunk size and at random split
 * points; all runs must agree. Fills @r with the whole-input run.
 */
static void
dialogue(const struct pm_submissionback_params *p, const void *in, size_t n, bool close,
	 struct run *r)
{
	static uint32_t rs;
	struct run o;
	size_t chunk, t, cuts[8], ncuts;

	if (rs == 0)
		rs = pm_test_seed("submissionback random splits", TEST_SEED);
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
test_submissionback_xclient_dialogue_is_dovecots(void **state)
{
	struct pm_submissionback_params p = params();
	static const char in[] =
		FAKE_BANNER FAKE_EHLO
		"220 fake.example ESMTP ready\r\n"	/* XCLIENT's */
		FAKE_EHLO
		"235 2.7.0 Logged in.\r\n"
		"250 2.0.0 OK\r\n";			/* the spliced session's */
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_int_equal(r.consumed, sizeof(in) - 1 - strlen("250 2.0.0 OK\r\n"));
	assert_bytes(r.tb, r.tbl, EHLO_OUT XCLIENT_OUT EHLO_OUT AUTH_OUT);
	assert_string_equal(r.text, "235 2.7.0 Logged in.");
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_submissionback_real_dovecot_backend(void **state)
{
	struct pm_submissionback_params p = params();
	static const char in[] =
		DOVECOT_BANNER DOVECOT_EHLO DOVECOT_BANNER DOVECOT_EHLO "235 2.7.0 Logged in.\r\n";
	struct run r;

	(void)state;
	DIALOGUE(&p, in, false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	/* Dovecot's order whatever the backend's list says */
	assert_bytes(r.tb, r.tbl, EHLO_OUT XCLIENT_OUT EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* and its wrong-password answer (verified) */
	DIALOGUE(&p, DOVECOT_BANNER DOVECOT_EHLO DOVECOT_BANNER DOVECOT_EHLO
		 "535 5.7.8 Authentication failed.\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_AUTHFAILED);
	assert_string_equal(r.text, "535 5.7.8 Authentication failed.");
	assert_true(r.wiped);
	run_free(&r);
}

static void
test_submissionback_step_by_step_pipelines_xclient_and_ehlo(void **state)
{
	struct pm_submissionback_params p = params();
	struct pm_submissionback b;
	uint8_t mem[8192];
	struct pm_buf tb;
	size_t c;

	(void)state;
	pm_buf_init(&tb, mem, sizeof(mem));
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_BANNER);
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)FAKE_BANNER,
						strlen(FAKE_BANNER), &c, &tb, NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	assert_bytes(tb.p, tb.len, EHLO_OUT);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_EHLO);
	tb.len = 0;
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)FAKE_EHLO, strlen(FAKE_EHLO),
						&c, &tb, NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	/* one write: XCLIENT and the second EHLO (verified pipelined) */
	assert_bytes(tb.p, tb.len, XCLIENT_OUT EHLO_OUT);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_XCLIENT);
	assert_false(all_zero(b.password, sizeof(b.password)));
	tb.len = 0;
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)"220 x\r\n", 7, &c, &tb, NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	assert_int_equal(tb.len, 0);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_XCLIENT_EHLO);
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)FAKE_EHLO, strlen(FAKE_EHLO),
						&c, &tb, NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	assert_bytes(tb.p, tb.len, AUTH_OUT);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_AUTH);
	assert_true(all_zero(b.password, sizeof(b.password)));	/* written: wiped */
}

static void
test_submissionback_only_listed_attributes_in_dovecots_order(void **state)
{
	struct pm_submissionback_params p = params();
	struct run r;

	(void)state;
	/* "XCLIENT addr port" (verified "XCLIENT PORT=51193 ADDR=127.39.169.7") */
	p.client_port = 51193;
	p.client_ip = "127.39.169.7";
	DIALOGUE(&p, FAKE_BANNER "250-fake\r\n250-AUTH PLAIN\r\n250-ENHANCEDSTATUSCODES\r\n"
		 "250 XCLIENT addr port\r\n220 ok\r\n250 AUTH PLAIN\r\n235 2.7.0 Logged in.\r\n",
		 false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_bytes(r.tb, r.tbl,
		     EHLO_OUT "XCLIENT PORT=51193 ADDR=127.39.169.7\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* "XCLIENT SESSION FORWARD LOGIN": LOGIN and FORWARD are never sent
	 * (verified "XCLIENT SESSION=Fa2JV2FhA59/uPVO") */
	p.session_id = "Fa2JV2FhA59/uPVO";
	DIALOGUE(&p, FAKE_BANNER "250-fake\r\n250-XCLIENT SESSION FORWARD LOGIN\r\n"
		 "250 AUTH PLAIN\r\n220 ok\r\n250 AUTH PLAIN\r\n235 2.7.0 Logged in.\r\n",
		 false, &r);
	assert_bytes(r.tb, r.tbl,
		     EHLO_OUT "XCLIENT SESSION=Fa2JV2FhA59/uPVO\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* the last XCLIENT line counts; tokens are split on SP only */
	DIALOGUE(&p, FAKE_BANNER "250-XCLIENT ADDR\r\n250-XCLIENT  TTL\tPORT HELO \r\n"
		 "250 AUTH PLAIN\r\n220 ok\r\n250 AUTH PLAIN\r\n235 ok\r\n", false, &r);
	assert_bytes(r.tb, r.tbl, EHLO_OUT "XCLIENT HELO=client.example\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* listed, but none we know: a bare XCLIENT (as Dovecot) */
	DIALOGUE(&p, FAKE_BANNER "250-XCLIENT NAME\r\n250 AUTH PLAIN\r\n220 ok\r\n"
		 "250 AUTH PLAIN\r\n235 ok\r\n", false, &r);
	assert_bytes(r.tb, r.tbl, EHLO_OUT "XCLIENT\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* "XCLIENT" without a space lists nothing: no XCLIENT */
	DIALOGUE(&p, FAKE_BANNER "250-XCLIENT\r\n250 auth plain\r\n235 ok\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_bytes(r.tb, r.tbl, EHLO_OUT AUTH_OUT);
	run_free(&r);
}

static void
test_submissionback_without_xclient_goes_straight_to_auth(void **state)
{
	struct pm_submissionback_params p = params();
	struct run r;

	(void)state;
	/* verified: EHLO, then AUTH, no second EHLO */
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "235 2.7.0 Logged in.\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_bytes(r.tb, r.tbl, EHLO_OUT AUTH_OUT);
	run_free(&r);
}

static void
test_submissionback_helo_proto_and_addresses(void **state)
{
	struct pm_submissionback_params p = params();
	static const char in[] = FAKE_BANNER FAKE_EHLO "220 ok\r\n" FAKE_EHLO "235 ok\r\n";
	struct run r;

	(void)state;
	/* no (valid) HELO/EHLO: [UNAVAILABLE] and ESMTP (verified) */
	p.helo = NULL;
	p.client_ip = "127.34.22.133";
	p.client_port = 53793;
	p.session_id = "6XdeU2FhIdJ/IhaF";
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl,
		     EHLO_OUT "XCLIENT HELO=[UNAVAILABLE] PROTO=ESMTP TTL=4 PORT=53793 "
		     "ADDR=127.34.22.133 SESSION=6XdeU2FhIdJ/IhaF\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* HELO: PROTO=SMTP; a '+' in the session id is xtext (both verified) */
	p.helo = "c.example";
	p.helo_smtp = true;
	p.session_id = "P/meU2Fhw+t/P2rg";
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl,
		     EHLO_OUT "XCLIENT HELO=c.example PROTO=SMTP TTL=4 PORT=53793 "
		     "ADDR=127.34.22.133 SESSION=P/meU2Fhw+2Bt/P2rg\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* an IPv6 client as is (verified "ADDR=::1"); a literal with '+' and
	 * '=' in it; TTL from the params */
	p.helo = "[x:a+b=c]";
	p.helo_smtp = false;
	p.client_ip = "::1";
	p.client_port = 48914;
	p.session_id = "zflNYGFhEr8AAAAAAAAAAAAAAAAAAAAB";
	p.ttl = 3;
	DIALOGUE(&p, in, false, &r);
	assert_bytes(r.tb, r.tbl,
		     EHLO_OUT "XCLIENT HELO=[x:a+2Bb+3Dc] PROTO=ESMTP TTL=2 PORT=48914 ADDR=::1 "
		     "SESSION=zflNYGFhEr8AAAAAAAAAAAAAAAAAAAAB\r\n" EHLO_OUT AUTH_OUT);
	run_free(&r);
	/* ttl 0 is the default 5 */
	p.ttl = 0;
	DIALOGUE(&p, in, false, &r);
	assert_non_null(strstr((const char *)r.tb, " TTL=4 "));
	run_free(&r);
}

static void
test_submissionback_long_xclient_is_split_like_dovecot(void **state)
{
	/*
	 * Verified through Dovecot with 487 and 488-byte HELO domains: a line
	 * may have 512 bytes ("XCLIENT HELO=<487> PROTO=ESMTP"), and the
	 * attribute that would pass them starts the next XCLIENT. Our domains
	 * stop at 255 bytes, so the same lengths come from xtext: 162 '+'
	 * (3 bytes each) and one or two more bytes. 255 '+' (765 bytes) do not
	 * fit a line alone: that attribute is sent on its own.
	 */
	static const struct {
		size_t plus, extra;
		const char *tail;
	} v[] = {
		{ 162, 1, " PROTO=ESMTP\r\nXCLIENT TTL=4 PORT=1 ADDR=10.0.0.1 SESSION=S\r\n" },
		{ 162, 2, "\r\nXCLIENT PROTO=ESMTP TTL=4 PORT=1 ADDR=10.0.0.1 SESSION=S\r\n" },
		{ 255, 0, "\r\nXCLIENT PROTO=ESMTP TTL=4 PORT=1 ADDR=10.0.0.1 SESSION=S\r\n" },
	};
	struct pm_submissionback_params p = params();
	static char helo[PM_SUBMISSIONBACK_DOMAIN_MAX + 1];
	char in[1024], want[2048];
	size_t n, i, k, w, first;
	struct run r;

	(void)state;
	p.client_port = 1;
	p.client_ip = "10.0.0.1";
	p.session_id = "S";
	/* two XCLIENT replies are due: one per line */
	n = (size_t)snprintf(in, sizeof(in), "%s%s220 a\r\n220 b\r\n%s235 ok\r\n", FAKE_BANNER,
			     FAKE_EHLO, FAKE_EHLO);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(helo, '+', v[i].plus);
		memset(helo + v[i].plus, 'a', v[i].extra);
		helo[v[i].plus + v[i].extra] = '\0';
		p.helo = helo;
		w = (size_t)snprintf(want, sizeof(want), EHLO_OUT "XCLIENT HELO=");
		for (k = 0; k < v[i].plus; k++)
			w += (size_t)snprintf(want + w, sizeof(want) - w, "+2B");
		for (k = 0; k < v[i].extra; k++)
			want[w++] = 'a';
		want[w] = '\0';
		first = w - strlen(EHLO_OUT) + (i == 0 ? strlen(" PROTO=ESMTP") : 0);
		assert_true(i == 0 ? first == 512 : first > 512 - strlen(" PROTO=ESMTP"));
		snprintf(want + w, sizeof(want) - w, "%s" EHLO_OUT AUTH_OUT, v[i].tail);
		dialogue(&p, in, n, false, &r);
		assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
		assert_bytes(r.tb, r.tbl, want);
		run_free(&r);
	}
	/* with one line, one reply: "220 b" is then the second EHLO's reply,
	 * which lists no AUTH */
	p.helo = "h";
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_SERVERBUG);
	run_free(&r);
}

static void
test_submissionback_long_plain_waits_for_334(void **state)
{
	struct pm_submissionback_params p = params();
	struct pm_submissionback b;
	static char pass[400];
	uint8_t mem[8192];
	struct pm_buf tb;
	size_t c;
	struct run r;
	static const char pre[] = FAKE_BANNER NOX_EHLO;

	(void)state;
	/* verified: "user1\0user1\0" + 360 bytes (496 base64, a 507-byte
	 * line) go with the AUTH line, 361 bytes (500, 511) do not */
	memset(pass, 'p', 360);
	pass[360] = '\0';
	p.password = pass;
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "235 ok\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_int_equal(r.tbl, strlen(EHLO_OUT) + 11 + 496 + 2);
	run_free(&r);
	pass[361] = '\0';
	pass[360] = 'p';
	pm_buf_init(&tb, mem, sizeof(mem));
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)pre, sizeof(pre) - 1, &c, &tb,
						NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	assert_bytes(tb.p, tb.len, EHLO_OUT "AUTH PLAIN\r\n");
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_AUTH_CONT);
	assert_false(all_zero(b.password, sizeof(b.password)));
	tb.len = 0;
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)"334 \r\n", 6, &c, &tb, NULL),
			 PM_SUBMISSIONBACK_AGAIN);
	assert_int_equal(tb.len, 500 + 2);
	assert_memory_equal(tb.p, "dXNlcjEAdXNlcjEAcHBw", 20);
	assert_memory_equal(tb.p + 500, "\r\n", 2);
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_AUTH);
	assert_true(all_zero(b.password, sizeof(b.password)));
	/* the whole dialogue, and "334" without the space */
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "334 \r\n235 2.7.0 Logged in.\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	run_free(&r);
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "334\r\n235 2.7.0 Logged in.\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	run_free(&r);
	/* a server-first challenge, a multi-line one, or an early 235: FAIL */
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "334 abc\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_FAIL);
	assert_true(r.wiped);
	run_free(&r);
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "334-\r\n334 \r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_FAIL);
	run_free(&r);
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "235 2.7.0 Logged in.\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_FAIL);
	run_free(&r);
	/* a refusal is still a result */
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "504 5.5.4 no PLAIN\r\n", false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_VERBATIM);
	assert_string_equal(r.text, "504 5.5.4 no PLAIN");
	run_free(&r);
}

static void
test_submissionback_authzid_goes_in_plain(void **state)
{
	struct pm_submissionback_params p = params();
	struct run r;

	(void)state;
	/* from the source (dsasl PLAIN with authid = master, authzid = user):
	 * base64("target\0user1\0pass") */
	p.authzid = "target";
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "235 ok\r\n", false, &r);
	assert_bytes(r.tb, r.tbl, EHLO_OUT "AUTH PLAIN dGFyZ2V0AHVzZXIxAHBhc3M=\r\n");
	run_free(&r);
	/* bytes a quoted string could not carry are just base64 here */
	p.authzid = "";
	p.user = "u\"\r\n";
	p.password = "p\xc3\xa4ss";
	DIALOGUE(&p, FAKE_BANNER NOX_EHLO "235 ok\r\n", false, &r);
	assert_bytes(r.tb, r.tbl, EHLO_OUT "AUTH PLAIN dSINCgB1Ig0KAHDDpHNz\r\n");
	run_free(&r);
}

/* ---- results ---- */

static void
test_submissionback_results_map_like_dovecot(void **state)
{
	static const struct {
		const char *reply;
		enum pm_submissionback_status st;
		const char *text;
	} v[] = {
		/* all seen from Dovecot's proxy (forwarded as they came) */
		{ "235 2.7.0 Welcome aboard, friend\r\n", PM_SUBMISSIONBACK_OK,
		  "235 2.7.0 Welcome aboard, friend" },
		{ "235 Authentication successful\r\n", PM_SUBMISSIONBACK_OK,
		  "235 Authentication successful" },
		{ "535 5.7.8 Authentication credentials invalid\r\n", PM_SUBMISSIONBACK_AUTHFAILED,
		  "535 5.7.8 Authentication credentials invalid" },
		{ "535 bad creds\r\n", PM_SUBMISSIONBACK_AUTHFAILED, "535 bad creds" },
		{ "454 4.7.0 Temporary authentication failure\r\n", PM_SUBMISSIONBACK_TEMPFAIL,
		  "454 4.7.0 Temporary authentication failure" },
		{ "451 4.3.0 local error\r\n", PM_SUBMISSIONBACK_TEMPFAIL,
		  "451 4.3.0 local error" },
		{ "450 try later\r\n", PM_SUBMISSIONBACK_TEMPFAIL, "450 try later" },
		{ "421 4.3.0 go away\r\n", PM_SUBMISSIONBACK_VERBATIM, "421 4.3.0 go away" },
		{ "554 5.7.0 no way\r\n", PM_SUBMISSIONBACK_VERBATIM, "554 5.7.0 no way" },
		/* ours: Dovecot crashes on these (verified) */
		{ "235-2.7.0 line one\r\n235 2.7.0 line two\r\n", PM_SUBMISSIONBACK_OK,
		  "235 2.7.0 line two" },
		{ "550-5.7.1 first line\r\n550 5.7.1 second line\r\n", PM_SUBMISSIONBACK_VERBATIM,
		  "550 5.7.1 second line" },
		{ "235\r\n", PM_SUBMISSIONBACK_OK, "235" },
		{ "250 2.0.0 ok?\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "hello there\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "600 weird\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "199 x\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "354 go ahead\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "334 \r\n", PM_SUBMISSIONBACK_FAIL, "" },	/* verified: retried */
		{ "334 Zm9v\r\n", PM_SUBMISSIONBACK_FAIL, "" },	/* verified: retried */
		{ "535-5.7.8 a\r\n550 5.7.8 b\r\n", PM_SUBMISSIONBACK_FAIL, "" }, /* verified */
	};
	struct pm_submissionback_params p = params();
	char in[512];
	size_t i, n;
	struct run r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = (size_t)snprintf(in, sizeof(in), "%s%s%s", FAKE_BANNER, NOX_EHLO, v[i].reply);
		dialogue(&p, in, n, false, &r);
		if (r.st != v[i].st || strcmp(r.text, v[i].text) != 0)
			fail_msg("%s: status %d text \"%s\"", v[i].reply, (int)r.st, r.text);
		if (r.st != PM_SUBMISSIONBACK_FAIL)
			assert_int_equal(r.consumed, n);	/* a result ends its reply */
		assert_true(r.wiped);
		run_free(&r);
	}
}

static void
test_submissionback_refusals_before_auth(void **state)
{
	static const struct {
		const char *in;
		enum pm_submissionback_status st;
		const char *tb;
	} v[] = {
		/* verified: retried, then 454 */
		{ "554 5.3.2 no service\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "* OK imap\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ "220-fake first\r\n554 no\r\n", PM_SUBMISSIONBACK_FAIL, "" },
		{ FAKE_BANNER "550 5.0.0 go away\r\n", PM_SUBMISSIONBACK_FAIL, EHLO_OUT },
		{ FAKE_BANNER FAKE_EHLO "550 5.7.0 Insufficient authorization\r\n",
		  PM_SUBMISSIONBACK_FAIL, EHLO_OUT XCLIENT_OUT EHLO_OUT },
		{ FAKE_BANNER FAKE_EHLO "220 ok\r\n550 5.0.0 second go away\r\n",
		  PM_SUBMISSIONBACK_FAIL, EHLO_OUT XCLIENT_OUT EHLO_OUT },
		/* verified: no retry, 454; XCLIENT was sent */
		{ FAKE_BANNER "250-fake\r\n250-XCLIENT ADDR\r\n250 ENHANCEDSTATUSCODES\r\n"
		  "220 ok\r\n250-fake\r\n250-XCLIENT ADDR\r\n250 ENHANCEDSTATUSCODES\r\n",
		  PM_SUBMISSIONBACK_SERVERBUG,
		  EHLO_OUT "XCLIENT ADDR=127.16.150.42\r\n" EHLO_OUT },
		{ FAKE_BANNER "250-fake\r\n250 AUTH\r\n", PM_SUBMISSIONBACK_SERVERBUG, EHLO_OUT },
		/* accepted: multi-line banner and XCLIENT replies, 250 to XCLIENT */
		{ "220-fake first\r\n220 fake second\r\n" NOX_EHLO "235 ok\r\n",
		  PM_SUBMISSIONBACK_OK, EHLO_OUT AUTH_OUT },
		{ FAKE_BANNER FAKE_EHLO "220-a\r\n220 b\r\n" FAKE_EHLO "235 ok\r\n",
		  PM_SUBMISSIONBACK_OK, EHLO_OUT XCLIENT_OUT EHLO_OUT AUTH_OUT },
		{ FAKE_BANNER FAKE_EHLO "250 2.0.0 OK\r\n" FAKE_EHLO "235 ok\r\n",
		  PM_SUBMISSIONBACK_OK, EHLO_OUT XCLIENT_OUT EHLO_OUT AUTH_OUT },
	};
	struct pm_submissionback_params p = params();
	size_t i;
	struct run r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		dialogue(&p, v[i].in, strlen(v[i].in), false, &r);
		if (r.st != v[i].st)
			fail_msg("case %zu: status %d, want %d", i, (int)r.st, (int)v[i].st);
		assert_bytes(r.tb, r.tbl, v[i].tb);
		assert_true(r.wiped);
		run_free(&r);
	}
}

static void
test_submissionback_closed_and_sticky(void **state)
{
	struct pm_submissionback_params p = params();
	struct pm_submissionback b;
	uint8_t mem[8192];
	struct pm_buf tb;
	size_t c;
	struct run r;

	(void)state;
	/* a close at any point before the result is FAIL (verified: a
	 * backend closing after AUTH is retried, then 454) */
	DIALOGUE(&p, FAKE_BANNER FAKE_EHLO "220 ok\r\n" FAKE_EHLO, true, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_FAIL);
	assert_true(r.wiped);
	run_free(&r);
	DIALOGUE(&p, "", true, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_FAIL);
	run_free(&r);
	/* a result stays; nothing more is consumed */
	pm_buf_init(&tb, mem, sizeof(mem));
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)FAKE_BANNER NOX_EHLO
						"535 no\r\n235 ok\r\n",
						strlen(FAKE_BANNER NOX_EHLO) + 16, &c, &tb, NULL),
			 PM_SUBMISSIONBACK_AUTHFAILED);
	assert_int_equal(c, strlen(FAKE_BANNER NOX_EHLO) + 8);
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)"235 ok\r\n", 8, &c, &tb,
						NULL),
			 PM_SUBMISSIONBACK_AUTHFAILED);
	assert_int_equal(c, 0);
	assert_int_equal(pm_submissionback_closed(&b), PM_SUBMISSIONBACK_AUTHFAILED);
	assert_string_equal(pm_submissionback_text(&b), "535 no");
	assert_string_equal(pm_submissionback_reason(&b), "");
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_DONE);
	/* reasons are static texts for FAIL and SERVERBUG */
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	assert_int_equal(pm_submissionback_closed(&b), PM_SUBMISSIONBACK_FAIL);
	assert_string_equal(pm_submissionback_reason(&b), "the backend closed the connection");
	assert_string_equal(pm_submissionback_text(&b), "");
}

/* ---- inputs that try to pass for a successful login ---- */

#define T(s) { (s), sizeof(s) - 1 }

static void
test_submissionback_tricks_never_yield_ok(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} v[] = {
		T("235 2.7.0 Logged in.\r\n"),
		T(FAKE_BANNER "235 2.7.0 Logged in.\r\n"),
		T(FAKE_BANNER FAKE_EHLO "235 ok\r\n"),
		T(FAKE_BANNER FAKE_EHLO "220 ok\r\n235 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "2350 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO " 235 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "235x ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "23 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "235 ok\n"),
		T(FAKE_BANNER NOX_EHLO "235 ok\rx\r\n"),
		T(FAKE_BANNER NOX_EHLO "235 o\0k\r\n"),
		T(FAKE_BANNER NOX_EHLO "235 ok\r\0\n"),
		T(FAKE_BANNER NOX_EHLO "535-no\r\n235 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "235-ok\r\n535 no\r\n"),
		T(FAKE_BANNER NOX_EHLO "235-ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "235 ok"),
		T(FAKE_BANNER NOX_EHLO "334 \r\n235 ok\r\n"),
		T(FAKE_BANNER NOX_EHLO "250 ok\r\n235 ok\r\n"),
		T(FAKE_BANNER "250-fake\r\n250 STARTTLS\r\n235 ok\r\n"),
		T(FAKE_BANNER "250-AUTH\r\n235 ok\r\n"),
		T("220-x\r\n235 ok\r\n"),
		T("220 x\n250 AUTH PLAIN\r\n235 ok\r\n"),
	};
	struct pm_submissionback_params p = params();
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		dialogue(&p, v[i].s, v[i].n, true, &r);
		if (r.st == PM_SUBMISSIONBACK_OK)
			fail_msg("trick %zu was taken for a login: \"%s\"", i, v[i].s);
		assert_true(r.wiped);
		run_free(&r);
	}
}

/* ---- bounds ---- */

static void
test_submissionback_bounds_are_enforced(void **state)
{
	/* head + count x c + tail, fed whole: the status each must give. */
	static const struct {
		const char *head;
		char c;
		size_t count;
		const char *tail;
		enum pm_submissionback_status st;
	} v[] = {
		/* a line of 4 KiB with its CRLF, not one byte more */
		{ "220 ", 'x', PM_SUBMISSIONBACK_LINE_MAX - 6, "\r\n" NOX_EHLO "235 ok\r\n",
		  PM_SUBMISSIONBACK_OK },
		{ "220 ", 'x', PM_SUBMISSIONBACK_LINE_MAX - 5, "\r\n" NOX_EHLO "235 ok\r\n",
		  PM_SUBMISSIONBACK_FAIL },
		{ FAKE_BANNER NOX_EHLO "535 ", 'x', PM_SUBMISSIONBACK_LINE_MAX - 6, "\r\n",
		  PM_SUBMISSIONBACK_AUTHFAILED },
	};
	struct pm_submissionback_params p = params();
	struct run r;
	size_t i, h, t, n, k, j;
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
			assert_int_equal(strlen(r.text), PM_SUBMISSIONBACK_TEXT_MAX);
		run_free(&r);
		free(s);
	}
	/* one EHLO reply: 16 lines of 4096 bytes are exactly 64 KiB; one more
	 * line is over */
	for (k = 0; k < 2; k++) {
		size_t lines = 16 + k;

		n = 0;
		s = malloc(lines * PM_SUBMISSIONBACK_LINE_MAX + 256);
		assert_non_null(s);
		n += (size_t)sprintf(s, "%s", FAKE_BANNER);
		for (j = 0; j < lines; j++) {
			size_t len = j < 16 ? PM_SUBMISSIONBACK_LINE_MAX : 8;

			memcpy(s + n, j + 1 < lines ? "250-" : "250 ", 4);
			memset(s + n + 4, 'k', len - 6);
			memcpy(s + n + len - 2, "\r\n", 2);
			n += len;
		}
		run_init(&r);
		run_chunk(&p, (const uint8_t *)s, n, n, false, &r);
		/* no AUTH in it: SERVERBUG when read whole, FAIL when too big */
		assert_int_equal(r.st,
				 k == 0 ? PM_SUBMISSIONBACK_SERVERBUG : PM_SUBMISSIONBACK_FAIL);
		run_free(&r);
		free(s);
	}
}

static void
test_submissionback_long_text_is_cut_at_a_utf8_boundary(void **state)
{
	struct pm_submissionback_params p = params();
	struct run r;
	char in[4096];
	size_t n, i;

	(void)state;
	/* "535 " (4) + 1019 'a' leaves 1 byte: the 2-byte 'ä' is dropped */
	n = (size_t)snprintf(in, sizeof(in), "%s%s535 ", FAKE_BANNER, NOX_EHLO);
	for (i = 0; i < 1019; i++)
		in[n++] = 'a';
	for (i = 0; i < 10; i++) {
		in[n++] = (char)0xc3;
		in[n++] = (char)0xa4;
	}
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_AUTHFAILED);
	assert_int_equal(strlen(r.text), 4 + 1019);
	run_free(&r);
	/* one byte less of 'a': one 'ä' fits whole */
	n = (size_t)snprintf(in, sizeof(in), "%s%s235 ", FAKE_BANNER, NOX_EHLO);
	for (i = 0; i < 1018; i++)
		in[n++] = 'a';
	for (i = 0; i < 10; i++) {
		in[n++] = (char)0xc3;
		in[n++] = (char)0xa4;
	}
	memcpy(in + n, "\r\n", 2);
	n += 2;
	dialogue(&p, in, n, false, &r);
	assert_int_equal(r.st, PM_SUBMISSIONBACK_OK);
	assert_int_equal(strlen(r.text), 1024);
	assert_memory_equal(r.text + 1022, "\xc3\xa4", 2);
	run_free(&r);
}

/* ---- output room (PM_SUBMISSIONBACK_ERROR) ---- */

static void
test_submissionback_short_output_room_is_error_and_resumable(void **state)
{
	struct pm_submissionback_params p = params();
	static const char in[] = FAKE_BANNER FAKE_EHLO "220 ok\r\n" FAKE_EHLO "235 ok\r\n";
	struct pm_submissionback b;
	static uint8_t tbm[2 * PM_SUBMISSIONBACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t off = 0, c, errors = 0;
	enum pm_submissionback_status st;

	(void)state;
	pm_buf_init(&tb, tbm, 100);
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	for (;;) {
		st = pm_submissionback_feed(&b, (const uint8_t *)in + off, sizeof(in) - 1 - off, &c,
					    &tb, NULL);
		off += c;
		if (st != PM_SUBMISSIONBACK_ERROR)
			break;
		errors++;
		assert_int_equal(in[off], '\n');	/* stopped before a reply's last LF */
		tb.cap = tb.len + PM_SUBMISSIONBACK_BACKEND_ROOM;
	}
	assert_int_equal(st, PM_SUBMISSIONBACK_OK);
	/* each write wants PM_SUBMISSIONBACK_BACKEND_ROOM free: the banner's,
	 * the first EHLO's and the second EHLO's replies asked for it */
	assert_int_equal(errors, 3);
	assert_int_equal(off, sizeof(in) - 1);
	assert_bytes(tb.p, tb.len, EHLO_OUT XCLIENT_OUT EHLO_OUT AUTH_OUT);
	/* a bad buffer */
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	tb.len = tb.cap + 1;
	assert_int_equal(pm_submissionback_feed(&b, (const uint8_t *)"2", 1, &c, &tb, NULL),
			 PM_SUBMISSIONBACK_ERROR);
	assert_int_equal(c, 0);
}

static void
test_submissionback_longest_writes_fit_backend_room(void **state)
{
	struct pm_submissionback_params p = params();
	static char user[256], pass[1025], helo[256];
	struct pm_submissionback b;
	static uint8_t tbm[PM_SUBMISSIONBACK_BACKEND_ROOM];
	struct pm_buf tb;
	size_t c;
	static const char in[] = FAKE_BANNER FAKE_EHLO "220 a\r\n220 b\r\n" FAKE_EHLO "334 \r\n";

	(void)state;
	memset(user, 'u', 255);
	memset(pass, '\xff', 1024);
	memset(helo, '=', 255);
	p.user = user;
	p.authzid = user;
	p.password = pass;
	p.helo = helo;
	p.session_id = "0123456789012345678901234567890123456789012345678901234567890123";
	p.client_ip = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	p.ttl = 4000000000u;
	p.ehlo_name = helo;
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	pm_buf_init(&tb, tbm, sizeof(tbm));
	/* each write alone into an empty buffer of BACKEND_ROOM bytes */
	for (size_t off = 0; off < sizeof(in) - 1;) {
		enum pm_submissionback_status st =
			pm_submissionback_feed(&b, (const uint8_t *)in + off, sizeof(in) - 1 - off,
					       &c, &tb, NULL);

		off += c;
		if (st == PM_SUBMISSIONBACK_ERROR) {
			tb.len = 0;
			continue;
		}
		assert_int_equal(st, PM_SUBMISSIONBACK_AGAIN);
	}
	assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_AUTH);
	/* the last write: the deferred base64 of a 1536-byte message */
	assert_int_equal(tb.len, 2048 + 2);
}

/* ---- init ---- */

static void
test_submissionback_init_rejects_bad_params(void **state)
{
	struct pm_submissionback_params p;
	struct pm_submissionback b;
	char big[2048];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p = params();
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
	assert_int_equal(pm_submissionback_init(&b, NULL), -EINVAL);
#define BAD(field, value, err)						\
	do {								\
		p = params();						\
		p.field = value;					\
		assert_int_equal(pm_submissionback_init(&b, &p), err);	\
		assert_int_equal(pm_submissionback_phase(&b), PM_SUBMISSIONBACK_PH_DONE); \
		assert_true(all_zero(b.password, sizeof(b.password)));	\
	} while (0)
	BAD(ttl, 1, -ELOOP);
	BAD(session_id, NULL, -EINVAL);
	BAD(session_id, "", -EINVAL);
	BAD(session_id, "a\"b", -EINVAL);
	BAD(session_id, "a b", -EINVAL);
	BAD(session_id, big, -ENAMETOOLONG);
	BAD(client_ip, "1.2.3.4\r\n", -EINVAL);
	BAD(client_ip, "", -EINVAL);
	BAD(local_ip, "a\"", -EINVAL);
	BAD(helo, "a b", -EINVAL);
	BAD(helo, "a\xc3\xa4", -EINVAL);
	BAD(helo, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(ehlo_name, NULL, -EINVAL);
	BAD(ehlo_name, "", -EINVAL);
	BAD(ehlo_name, "x\r\nQUIT", -EINVAL);
	BAD(user, NULL, -EINVAL);
	BAD(user, "", -EINVAL);
	BAD(user, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(authzid, big + sizeof(big) - 1 - 256, -ENAMETOOLONG);
	BAD(password, NULL, -EINVAL);
	BAD(password, big + sizeof(big) - 1 - 1025, -ENAMETOOLONG);
#undef BAD
	p = params();
	p.local_ip = NULL;
	p.helo = "";
	p.user = big + sizeof(big) - 1 - 255;
	p.password = big + sizeof(big) - 1 - 1024;
	assert_int_equal(pm_submissionback_init(&b, &p), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submissionback_xclient_dialogue_is_dovecots),
		cmocka_unit_test(test_submissionback_real_dovecot_backend),
		cmocka_unit_test(test_submissionback_step_by_step_pipelines_xclient_and_ehlo),
		cmocka_unit_test(test_submissionback_only_listed_attributes_in_dovecots_order),
		cmocka_unit_test(test_submissionback_without_xclient_goes_straight_to_auth),
		cmocka_unit_test(test_submissionback_helo_proto_and_addresses),
		cmocka_unit_test(test_submissionback_long_xclient_is_split_like_dovecot),
		cmocka_unit_test(test_submissionback_long_plain_waits_for_334),
		cmocka_unit_test(test_submissionback_authzid_goes_in_plain),
		cmocka_unit_test(test_submissionback_results_map_like_dovecot),
		cmocka_unit_test(test_submissionback_refusals_before_auth),
		cmocka_unit_test(test_submissionback_closed_and_sticky),
		cmocka_unit_test(test_submissionback_tricks_never_yield_ok),
		cmocka_unit_test(test_submissionback_bounds_are_enforced),
		cmocka_unit_test(test_submissionback_long_text_is_cut_at_a_utf8_boundary),
		cmocka_unit_test(test_submissionback_short_output_room_is_error_and_resumable),
		cmocka_unit_test(test_submissionback_longest_writes_fit_backend_room),
		cmocka_unit_test(test_submissionback_init_rejects_bad_params),
	};

	return cmocka_run_group_tests_name("submissionback", tests, NULL, NULL);
}
