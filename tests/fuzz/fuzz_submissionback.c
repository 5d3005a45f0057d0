/*
 * fuzz_submissionback.c -- libFuzzer target for the backend-side Submission
 * login machine (proto/submissionback.h).
 *
 * Input: byte 0 picks the login (bit 0: no HELO domain; bit 1: the client
 * said HELO; bit 2: an authzid; bit 3: a password long enough to defer the
 * initial response; bit 4: a user with CR LF; bit 5: a HELO domain of 255
 * bytes that xtext triples), byte 1 seeds the chunking; the rest is what the
 * backend sends.
 *
 * The input is fed twice: whole, with a roomy buffer; and in pseudo-random
 * chunks with a buffer that is only enlarged when PM_SUBMISSIONBACK_ERROR
 * asks for room. Both runs must agree on the status, the consumed count and
 * every byte written. Then the oracles:
 *   - SMTP is lockstep: when the machine has a result (not FAIL) the
 *     consumed bytes must be exactly one reply per line it wrote, plus the
 *     banner, by an independent reply framer (ref_replies()); so a result
 *     never comes from a reply to a command of ours that is still open, nor
 *     from the middle of a reply;
 *   - OK only after a whole AUTH (the base64 sent, the line ended), from a
 *     reply whose last line starts "235";
 *   - what we write is CRLF lines without NUL or bare CR/LF (nothing in the
 *     params or the input can inject a command), and never the password in
 *     the clear;
 *   - after any result the credential fields are zero, and a result's text
 *     is accepted by the client machine (pm_submission_login_ok() for OK,
 *     pm_submission_login_failed(VERBATIM) for the others that have one).
 *
 * Seed corpus: tests/fuzz/corpus/submissionback/ (dialogues from the unit
 * tests, each behind a 2-byte header).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/submission.h"
#include "proto/submissionback.h"
#include "fuzzsplit.h"

#define BIG (1u << 18)

struct result {
	enum pm_submissionback_status st;
	size_t consumed;
	uint8_t tb[BIG];
	size_t tbl;
};

static struct result ra, rb;
static struct pm_submissionback ma, mb;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_submissionback: %s\n", what);
	abort();
}

static void
make_params(struct pm_submissionback_params *p, uint8_t flags)
{
	static char pass[600], helo[256];

	memset(p, 0, sizeof(*p));
	p->session_id = "phHHUmFhMc5/EJ+q";
	p->client_ip = "127.16.150.42";
	p->local_ip = "127.0.0.1";
	p->client_port = 52785;
	p->local_port = 587;
	p->ttl = 5;
	p->user = (flags & 16) ? "us\r\ner" : "user1";
	p->authzid = (flags & 4) ? "target" : NULL;
	if (flags & 8) {
		memset(pass, 'q', sizeof(pass) - 1);
		memcpy(pass, "PwSecret9", 9);
		pass[sizeof(pass) - 1] = '\0';
		p->password = pass;
	} else {
		p->password = "PwSecret9";
	}
	if (flags & 32) {
		memset(helo, '+', sizeof(helo) - 1);
		helo[sizeof(helo) - 1] = '\0';
		p->helo = helo;
	} else {
		p->helo = (flags & 1) ? NULL : "client.example";
	}
	p->helo_smtp = (flags & 2) != 0;
	p->ehlo_name = "lab-b.example";
}

/* The whole input at once, a roomy buffer. */
static void
run_whole(struct pm_submissionback *m, const uint8_t *in, size_t n, struct result *r)
{
	struct pm_buf tb;

	pm_buf_init(&tb, r->tb, BIG);
	r->st = pm_submissionback_feed(m, in, n, &r->consumed, &tb, NULL);
	if (r->st == PM_SUBMISSIONBACK_ERROR)
		die("ERROR with a roomy buffer");
	if (r->st == PM_SUBMISSIONBACK_AGAIN && r->consumed != n)
		die("AGAIN without consuming everything");
	r->tbl = tb.len;
}

/* Random chunks, a tight buffer, made larger only when asked. */
static void
run_chunked(struct pm_submissionback *m, const uint8_t *in, size_t n, uint32_t seed,
	    struct result *r)
{
	struct pm_buf tb;
	size_t off = 0, c, chunk;
	uint32_t s = seed * 2654435761u + 1;
	unsigned int errors = 0;

	pm_buf_init(&tb, r->tb, 0);
	r->st = PM_SUBMISSIONBACK_AGAIN;
	while (off < n) {
		chunk = 1 + rnd(&s) % 17;
		if (chunk > n - off)
			chunk = n - off;
		r->st = pm_submissionback_feed(m, in + off, chunk, &c, &tb, NULL);
		off += c;
		if (r->st == PM_SUBMISSIONBACK_ERROR) {
			/* Room is asked for before a reply's final LF only. */
			if (off >= n || in[off] != '\n')
				die("ERROR not at a reply's LF");
			if (++errors > 2 * n + 2)
				die("ERROR does not go away with room");
			tb.cap = tb.len + PM_SUBMISSIONBACK_BACKEND_ROOM;
			continue;
		}
		if (r->st != PM_SUBMISSIONBACK_AGAIN)
			break;
		if (c != chunk)
			die("AGAIN without consuming the chunk");
	}
	r->consumed = off;
	r->tbl = tb.len;
}

/*
 * An independent reading of the framing: how many whole replies are in
 * in[0..n)? A line ends with CRLF; a reply ends with a line whose fourth
 * byte is not '-'. Returns -1 if n does not end at a reply's end.
 */
static long
ref_replies(const uint8_t *in, size_t n)
{
	size_t i = 0, ls;
	long count = 0;
	bool last = false;

	while (i < n) {
		ls = i;
		while (i + 1 < n && !(in[i] == '\r' && in[i + 1] == '\n'))
			i++;
		if (i + 1 >= n)
			return -1;	/* no complete line */
		last = i - ls < 4 || in[ls + 3] != '-';
		i += 2;
		if (last)
			count++;
	}
	return last || n == 0 ? count : -1;
}

/* The lines of what we wrote; checks their framing. */
static long
our_lines(const uint8_t *tb, size_t n)
{
	size_t i;
	long lines = 0;

	if (n > 0 && (n < 2 || tb[n - 2] != '\r' || tb[n - 1] != '\n'))
		die("a write that does not end in CRLF");
	for (i = 0; i < n; i++) {
		if (tb[i] == '\0')
			die("a NUL in what we wrote");
		if (tb[i] == '\r' && (i + 1 == n || tb[i + 1] != '\n'))
			die("a bare CR in what we wrote");
		if (tb[i] == '\n') {
			if (i == 0 || tb[i - 1] != '\r')
				die("a bare LF in what we wrote");
			lines++;
		}
	}
	return lines;
}

/*
 * Where the AUTH line starts in what we wrote, and how many lines follow
 * it; false if there is none.
 */
static bool
find_auth(const uint8_t *tb, size_t n, bool *deferred, long *after)
{
	size_t i, at = n;

	for (i = 0; i + 10 <= n; i++) {
		if ((i == 0 || tb[i - 1] == '\n') && memcmp(tb + i, "AUTH PLAIN", 10) == 0)
			at = i;
	}
	if (at == n)
		return false;
	*deferred = tb[at + 10] == '\r';
	*after = 0;
	for (i = at; i < n; i++) {
		if (tb[i] == '\n')
			(*after)++;
	}
	(*after)--;	/* the AUTH line's own */
	return true;
}

static void
check_result(const uint8_t *in, const struct result *r)
{
	long sent = our_lines(r->tb, r->tbl), got, after = 0;
	size_t c = r->consumed, s;
	bool deferred = false;

	if (memmem(r->tb, r->tbl, "PwSecret9", 9) != NULL)
		die("the password went out in the clear");
	if (r->st == PM_SUBMISSIONBACK_FAIL || r->st == PM_SUBMISSIONBACK_AGAIN)
		return;
	got = ref_replies(in, c);
	if (got < 0)
		die("a result that does not end a reply");
	/* the banner, then one reply per line we wrote */
	if (got != sent + 1)
		die("a result out of lockstep");
	if (r->st == PM_SUBMISSIONBACK_SERVERBUG)
		return;
	if (!find_auth(r->tb, r->tbl, &deferred, &after) || after > (deferred ? 1 : 0))
		die("a result before AUTH was sent, or lines after it");
	if (r->st == PM_SUBMISSIONBACK_OK) {
		if (deferred && after != 1)
			die("OK while the initial response was still ours");
		s = c - 2;
		while (s > 0 && in[s - 1] != '\n')
			s--;
		if (c - s < 5 || memcmp(in + s, "235", 3) != 0 ||
		    (in[s + 3] != ' ' && in[s + 3] != '\r'))
			die("OK from a reply that is not 235");
	}
}

/* The client machine takes the result's text as its reply. */
static void
check_text_for_client(enum pm_submissionback_status st, const char *text)
{
	static struct pm_submission c;
	static uint8_t mem[PM_SUBMISSION_OUT_MIN];
	static const uint8_t auth[] = "AUTH PLAIN AHUAcA==\r\n";
	struct pm_submission_params p;
	struct pm_buf out;
	size_t used;
	int rc;

	if (strpbrk(text, "\r\n") != NULL)
		die("result text with CR or LF");
	if (st != PM_SUBMISSIONBACK_OK && st != PM_SUBMISSIONBACK_AUTHFAILED &&
	    st != PM_SUBMISSIONBACK_TEMPFAIL && st != PM_SUBMISSIONBACK_VERBATIM) {
		if (text[0] != '\0')
			die("a text without a result that has one");
		return;
	}
	pm_submission_params_defaults(&p);
	if (pm_submission_init(&c, &p) != 0)
		die("client init");
	pm_buf_init(&out, mem, sizeof(mem));
	if (pm_submission_feed(&c, auth, sizeof(auth) - 1, &used, &out) != PM_SUBMISSION_LOGIN)
		die("client login");
	if (st == PM_SUBMISSIONBACK_OK)
		rc = pm_submission_login_ok(&c, text, &out);
	else
		rc = pm_submission_login_failed(&c, PM_SUBMISSION_FAIL_VERBATIM, text, &out);
	if (rc != 0)
		die("the client machine refused the result's text");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_submissionback_params p;
	const uint8_t *in;
	size_t n;

	if (size < 2)
		return 0;
	make_params(&p, data[0]);
	in = data + 2;
	n = size - 2;
	if (pm_submissionback_init(&ma, &p) != 0 || pm_submissionback_init(&mb, &p) != 0)
		die("init failed");
	run_whole(&ma, in, n, &ra);
	run_chunked(&mb, in, n, data[1] + 256u * (uint32_t)n, &rb);
	if (ra.st != rb.st || ra.consumed != rb.consumed || ra.tbl != rb.tbl ||
	    memcmp(ra.tb, rb.tb, ra.tbl) != 0)
		die("chunked run differs from the whole run");
	if (strcmp(pm_submissionback_text(&ma), pm_submissionback_text(&mb)) != 0)
		die("chunked run's text differs");
	check_result(in, &ra);
	if (ra.st == PM_SUBMISSIONBACK_AGAIN)
		ra.st = pm_submissionback_closed(&ma);
	if (ra.st == PM_SUBMISSIONBACK_AGAIN || ra.st == PM_SUBMISSIONBACK_ERROR)
		die("no result after closed()");
	if (!all_zero(ma.password, sizeof(ma.password)) || !all_zero(ma.user, sizeof(ma.user)) ||
	    !all_zero(ma.authzid, sizeof(ma.authzid)))
		die("credentials left after a result");
	check_text_for_client(ra.st, pm_submissionback_text(&ma));
	return 0;
}
