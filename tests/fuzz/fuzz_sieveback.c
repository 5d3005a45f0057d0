/*
 * fuzz_sieveback.c -- libFuzzer target for the backend-side ManageSieve
 * login machine (proto/sieveback.h).
 *
 * Input: byte 0 picks the login (bit 0: an authzid; bit 1: a password with
 * CR LF and 8-bit bytes; bit 2: TTL 2 instead of 5), byte 1 seeds the
 * chunking; the rest is what the backend sends.
 *
 * The input is fed twice: whole, with a roomy buffer; and in pseudo-random
 * chunks with a backend buffer that has just the room
 * PM_SIEVEBACK_BACKEND_ROOM promises, or less, made bigger whenever
 * PM_SIEVEBACK_ERROR asks for room. Both runs must agree on the status, the
 * consumed count, the text and every output byte. Then the oracle that would
 * catch a false success: PM_SIEVEBACK_OK is allowed only if
 *   1. the consumed bytes end with LF, their last line starts "OK" (any
 *      case) followed by a space or its end, holds no CR (but the one before
 *      the LF) or NUL, and equals pm_sieveback_text();
 *   2. the machine had sent one whole AUTHENTICATE line last, ending in
 *      CRLF, and an XCLIENT line before it only if the backend advertised
 *      "XCLIENT";
 *   3. an earlier line of the input was an OK (the end of the greeting;
 *      spaces may come first, Pigeonhole's parser skips them).
 * TEMPFAIL needs a last line starting "NO (TRYLATER) " (any case).
 * Always: nothing is written to the client buffer; after any result the
 * machine's credential fields are zero; the text never holds CR, LF or NUL;
 * the password appears in no output but base64-encoded in AUTHENTICATE.
 *
 * Seed corpus: tests/fuzz/corpus/sieveback/ (dialogues from the unit tests).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sieveback.h"
#include "fuzzsplit.h"

#define BIG (1u << 18)

struct result {
	enum pm_sieveback_status st;
	size_t consumed;
	uint8_t tb[BIG];
	size_t tbl;
	char text[PM_SIEVEBACK_TEXT_MAX + 1];
};

static struct result ra, rb;
static struct pm_sieveback ma, mb;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_sieveback: %s\n", what);
	abort();
}

static void
make_params(struct pm_sieveback_params *p, uint8_t flags)
{
	memset(p, 0, sizeof(*p));
	p->session_id = "ltCAXmFhYZJ/ALyj";
	p->client_ip = "127.0.0.1";
	p->local_ip = "127.0.0.1";
	p->client_port = 58100;
	p->local_port = 4190;
	p->ttl = (flags & 4) ? 2 : 5;
	p->user = "user1";
	p->authzid = (flags & 1) ? "target" : NULL;
	p->password = (flags & 2) ? "Pw\r\n\xffSecret9" : "PwSecret9";
}

/* The whole input at once, a roomy buffer; the client buffer is a guard. */
static void
run_whole(struct pm_sieveback *m, const uint8_t *in, size_t n, struct result *r)
{
	uint8_t guard[4];
	struct pm_buf tb, tc;

	pm_buf_init(&tb, r->tb, BIG);
	pm_buf_init(&tc, guard, sizeof(guard));
	r->st = pm_sieveback_feed(m, in, n, &r->consumed, &tb, &tc);
	if (r->st == PM_SIEVEBACK_ERROR)
		die("ERROR with a roomy buffer");
	if (r->st == PM_SIEVEBACK_AGAIN && r->consumed != n)
		die("AGAIN without consuming everything");
	if (tc.len != 0)
		die("something was written for the client");
	r->tbl = tb.len;
	snprintf(r->text, sizeof(r->text), "%s", pm_sieveback_text(m));
}

/* Random chunks and a tight buffer, making room only when asked. */
static void
run_chunked(struct pm_sieveback *m, const uint8_t *in, size_t n, uint32_t seed, struct result *r)
{
	struct pm_buf tb;
	size_t off = 0, c, chunk;
	uint32_t s = seed * 2654435761u + 1;
	unsigned int errors = 0;

	pm_buf_init(&tb, r->tb, (seed & 1) ? PM_SIEVEBACK_BACKEND_ROOM : 16);
	r->st = PM_SIEVEBACK_AGAIN;
	while (off < n) {
		chunk = 1 + rnd(&s) % 17;
		if (chunk > n - off)
			chunk = n - off;
		r->st = pm_sieveback_feed(m, in + off, chunk, &c, &tb, NULL);
		off += c;
		if (r->st == PM_SIEVEBACK_ERROR) {
			/* room is asked for before a line's LF only */
			if (off >= n || in[off] != '\n')
				die("ERROR not at a line's LF");
			if (++errors > 2 * n + 2)
				die("ERROR does not go away with room");
			if (tb.cap - tb.len >= PM_SIEVEBACK_BACKEND_ROOM)
				die("ERROR with the promised room");
			tb.cap = tb.len + PM_SIEVEBACK_BACKEND_ROOM;
			continue;
		}
		if (r->st != PM_SIEVEBACK_AGAIN)
			break;
		if (c != chunk)
			die("AGAIN without consuming the chunk");
	}
	r->consumed = off;
	r->tbl = tb.len;
	snprintf(r->text, sizeof(r->text), "%s", pm_sieveback_text(m));
}

static bool
ci_prefix(const uint8_t *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; w[i] != '\0'; i++) {
		int a = i < n ? s[i] : -1, b = (unsigned char)w[i];

		if (a >= 'a' && a <= 'z')
			a -= 32;
		if (b >= 'a' && b <= 'z')
			b -= 32;
		if (a != b)
			return false;
	}
	return true;
}

/* The last line of in[0..c) (c just after its LF): [*s, *e) without the
 * line end. */
static void
last_line(const uint8_t *in, size_t c, size_t *s, size_t *e)
{
	if (c == 0 || in[c - 1] != '\n')
		die("a result not at a LF");
	*e = c - 1;
	if (*e > 0 && in[*e - 1] == '\r')
		(*e)--;
	*s = *e;
	while (*s > 0 && in[*s - 1] != '\n')
		(*s)--;
}

/* Does a line of in[0..c) begin with @w, after spaces if @spaces (the
 * greeting's lines are parsed, and the parser skips them)? */
static bool
has_line(const uint8_t *in, size_t c, const char *w, bool spaces)
{
	size_t i, k;

	for (i = 0; i < c; i++) {
		if (i > 0 && in[i - 1] != '\n')
			continue;
		for (k = i; spaces && k < c && in[k] == ' '; k++)
			;
		if (ci_prefix(in + k, c - k, w))
			return true;
	}
	return false;
}

static void
check_ok(const uint8_t *in, const struct result *r)
{
	size_t s, e, k, a;

	last_line(in, r->consumed, &s, &e);
	if (e - s < 2 || !ci_prefix(in + s, e - s, "OK") || (e - s > 2 && in[s + 2] != ' '))
		die("OK but the last line is no OK");
	for (k = s; k < e; k++) {
		if (in[k] == '\r' || in[k] == '\n' || in[k] == '\0')
			die("the OK line holds CR, LF or NUL");
	}
	if (strlen(r->text) != e - s || memcmp(r->text, in + s, e - s) != 0)
		die("the text is not the OK line");
	/* the AUTHENTICATE line, whole and last */
	if (r->tbl < 2 || memcmp(r->tb + r->tbl - 2, "\r\n", 2) != 0)
		die("OK before a whole login was sent");
	a = r->tbl - 2;
	while (a > 0 && r->tb[a - 1] != '\n')
		a--;
	if (r->tbl - a < 22 || memcmp(r->tb + a, "AUTHENTICATE \"PLAIN\" \"", 22) != 0)
		die("OK but the last thing sent is no AUTHENTICATE");
	if (a > 0 && !(memcmp(r->tb, "XCLIENT ", 8) == 0 && has_line(in, s, "\"XCLIENT\"", true)))
		die("something else sent before AUTHENTICATE");
	if (!has_line(in, s, "OK", true))
		die("OK without the greeting's OK");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_sieveback_params p;
	const uint8_t *in;
	size_t n, s, e;

	if (size < 2)
		return 0;
	make_params(&p, data[0]);
	in = data + 2;
	n = size - 2;
	if (pm_sieveback_init(&ma, &p) != 0 || pm_sieveback_init(&mb, &p) != 0)
		die("init failed");
	run_whole(&ma, in, n, &ra);
	run_chunked(&mb, in, n, data[1] + 256u * (uint32_t)n, &rb);
	if (ra.st != rb.st || ra.consumed != rb.consumed || ra.tbl != rb.tbl ||
	    memcmp(ra.tb, rb.tb, ra.tbl) != 0 || strcmp(ra.text, rb.text) != 0)
		die("chunked run differs from the whole run");
	if (ra.st == PM_SIEVEBACK_OK)
		check_ok(in, &ra);
	if (ra.st == PM_SIEVEBACK_TEMPFAIL) {
		last_line(in, ra.consumed, &s, &e);
		if (!ci_prefix(in + s, e - s, "NO (TRYLATER) "))
			die("TEMPFAIL without NO (TRYLATER)");
	}
	if (ra.st == PM_SIEVEBACK_VERBATIM)
		die("VERBATIM is never returned");
	/* the password only ever leaves in base64 */
	if (memmem(ra.tb, ra.tbl, "Secret9", 7) != NULL)
		die("the password was sent in clear");
	if (ra.st == PM_SIEVEBACK_AGAIN)
		ra.st = pm_sieveback_closed(&ma);
	if (ra.st == PM_SIEVEBACK_AGAIN || ra.st == PM_SIEVEBACK_ERROR)
		die("no result after closed()");
	if (!all_zero(ma.password, sizeof(ma.password)) || !all_zero(ma.user, sizeof(ma.user)) ||
	    !all_zero(ma.authzid, sizeof(ma.authzid)))
		die("credentials left after a result");
	if (strpbrk(pm_sieveback_text(&ma), "\r\n") != NULL)
		die("result text with CR or LF");
	if ((ra.st == PM_SIEVEBACK_FAIL || ra.st == PM_SIEVEBACK_SERVERBUG) ==
	    (pm_sieveback_reason(&ma)[0] == '\0'))
		die("a reason without FAIL or SERVERBUG, or none with them");
	return 0;
}
