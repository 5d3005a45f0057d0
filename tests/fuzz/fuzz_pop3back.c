/*
 * fuzz_pop3back.c -- libFuzzer target for the backend-side POP3 login
 * machine (proto/pop3back.h).
 *
 * Input: byte 0 picks the login (bit 0: an authzid, so AUTH PLAIN; bit 1: a
 * password with CR LF, so AUTH PLAIN too; bit 2: a user with spaces and
 * 8-bit bytes), byte 1 seeds the chunking; the rest is what the backend
 * sends.
 *
 * The input is fed twice: whole, with a roomy buffer; and in pseudo-random
 * chunks with a tight to_backend buffer that is drained whenever
 * PM_POP3BACK_ERROR asks for room. Both runs must agree on the status, the
 * consumed count, the text and every output byte. Then an independent
 * reference model of the dialogue as proto/pop3back.h documents it (CRLF
 * lines of at most 4096 bytes without NUL; banner, [XCLIENT reply], USER
 * and PASS replies or the AUTH reply; +OK is "+OK" then a space or the
 * end; the -ERR mapping) computes the expected status, consumed count,
 * bytes sent and text, and the machine must match it exactly. That is the
 * oracle that catches a false success: OK only at the reply that answers
 * the whole login, never in the middle of a line. Always: nothing goes to
 * the client; after any result the machine's credential fields are zero;
 * the text has no CR, LF or NUL.
 *
 * Seed corpus: tests/fuzz/corpus/pop3back/ (dialogues from the unit tests).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3back.h"
#include "fuzzsplit.h"

#define BIG (1u << 18)

struct result {
	enum pm_pop3back_status st;
	size_t consumed;
	uint8_t tb[BIG];
	size_t tbl;
	char text[PM_POP3BACK_TEXT_MAX + 1];
};

static struct result ra, rb, rr;
static struct pm_pop3back ma, mb;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_pop3back: %s\n", what);
	abort();
}

static void
make_params(struct pm_pop3back_params *p, uint8_t flags)
{
	memset(p, 0, sizeof(*p));
	p->session_id = "TMa8zVthSpd/AAAB";
	p->client_ip = "127.0.0.1";
	p->local_ip = "127.0.0.1";
	p->client_port = 38730;
	p->local_port = 12110;
	p->ttl = 5;
	p->user = (flags & 4) ? " us er\xc3\xa4" : "user1";
	p->authzid = (flags & 1) ? "target" : NULL;
	p->password = (flags & 2) ? "Pw\r\nSecret9" : "PwSecret9";
}

/* The whole input at once, a roomy buffer. */
static void
run_whole(struct pm_pop3back *m, const uint8_t *in, size_t n, struct result *r)
{
	struct pm_buf tb;

	pm_buf_init(&tb, r->tb, BIG);
	r->st = pm_pop3back_feed(m, in, n, &r->consumed, &tb, NULL);
	if (r->st == PM_POP3BACK_ERROR)
		die("ERROR with a roomy buffer");
	if (r->st == PM_POP3BACK_AGAIN && r->consumed != n)
		die("AGAIN without consuming everything");
	r->tbl = tb.len;
}

/* Random chunks and a tight buffer, made room in only when asked. */
static void
run_chunked(struct pm_pop3back *m, const uint8_t *in, size_t n, uint32_t seed, struct result *r)
{
	static uint8_t mem[PM_POP3BACK_BACKEND_ROOM];
	struct pm_buf tb;
	struct pm_buf tc;
	uint8_t never[1];
	size_t off = 0, c, chunk;
	uint32_t s = seed * 2654435761u + 1;
	unsigned int errors = 0;

	pm_buf_init(&tb, mem, sizeof(mem));
	pm_buf_init(&tc, never, 0);
	r->tbl = 0;
	r->st = PM_POP3BACK_AGAIN;
	while (off < n) {
		chunk = 1 + rnd(&s) % 17;
		if (chunk > n - off)
			chunk = n - off;
		r->st = pm_pop3back_feed(m, in + off, chunk, &c, &tb, (s & 1) ? &tc : NULL);
		off += c;
		if (tc.len != 0)
			die("something went to the client");
		if (r->st == PM_POP3BACK_ERROR) {
			/* Room is asked for before a line's final LF only. */
			if (off >= n || in[off] != '\n')
				die("ERROR not at a line's LF");
			if (tb.len == 0 || ++errors > 2 * n + 2)
				die("ERROR with an empty buffer");
			/* "send" what is pending */
			memcpy(r->tb + r->tbl, tb.p, tb.len);
			r->tbl += tb.len;
			tb.len = 0;
			continue;
		}
		if (r->st != PM_POP3BACK_AGAIN)
			break;
		if (c != chunk)
			die("AGAIN without consuming the chunk");
		/* the caller sends now and then */
		if ((s & 6) == 0) {
			memcpy(r->tb + r->tbl, tb.p, tb.len);
			r->tbl += tb.len;
			tb.len = 0;
		}
	}
	memcpy(r->tb + r->tbl, tb.p, tb.len);
	r->tbl += tb.len;
	r->consumed = off;
}

/* ---- the reference model ---- */

static void
ref_put(struct result *r, const char *s, size_t len)
{
	memcpy(r->tb + r->tbl, s, len);
	r->tbl += len;
}

static void
ref_puts(struct result *r, const char *s)
{
	ref_put(r, s, strlen(s));
}

static void
ref_b64(struct result *r, const uint8_t *msg, size_t len)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k;

	for (k = 0; k < len; k += 3) {
		uint32_t v = (uint32_t)msg[k] << 16;
		char q[4];

		if (k + 1 < len)
			v |= (uint32_t)msg[k + 1] << 8;
		if (k + 2 < len)
			v |= msg[k + 2];
		q[0] = a[(v >> 18) & 63];
		q[1] = a[(v >> 12) & 63];
		q[2] = k + 1 < len ? a[(v >> 6) & 63] : '=';
		q[3] = k + 2 < len ? a[v & 63] : '=';
		ref_put(r, q, 4);
	}
}

/* The next line at *pos: its length without CRLF in *len. Returns 1, 0 if
 * the input ends first, or -1 with *bad = the offset of the byte that makes
 * it malformed. */
static int
ref_line(const uint8_t *in, size_t n, size_t pos, size_t *len, size_t *bad)
{
	size_t i;

	for (i = pos; i < n; i++) {
		if (in[i] == '\r') {
			if (i + 1 == n)
				return 0;
			if (in[i + 1] != '\n') {
				*bad = i + 1;
				return -1;
			}
			*len = i - pos;
			return 1;
		}
		if (in[i] == '\n' || in[i] == '\0') {
			*bad = i;
			return -1;
		}
		if (i - pos >= PM_POP3BACK_LINE_MAX - 2) {
			*bad = i;
			return -1;
		}
	}
	return 0;
}

static bool
ref_begins(const uint8_t *l, size_t len, const char *s)
{
	return len >= strlen(s) && memcmp(l, s, strlen(s)) == 0;
}

static bool
ref_ok(const uint8_t *l, size_t len)
{
	return ref_begins(l, len, "+OK") && (len == 3 || l[3] == ' ');
}

static void
ref_text(struct result *r, const uint8_t *l, size_t len)
{
	memcpy(r->text, l, len);
	r->text[len] = '\0';
}

/* -ERR mapping for a reply to USER, PASS or AUTH. */
static void
ref_failed(struct result *r, const uint8_t *l, size_t len)
{
	size_t off;

	r->text[0] = '\0';
	if (!ref_begins(l, len, "-ERR ")) {
		r->st = PM_POP3BACK_AUTHFAILED;
		return;
	}
	if (!ref_begins(l, len, "-ERR [SYS/TEMP]")) {
		r->st = PM_POP3BACK_VERBATIM;
		ref_text(r, l + 5, len - 5);
		return;
	}
	r->st = PM_POP3BACK_TEMPFAIL;
	off = 15;
	if (off < len && l[off] == ' ')
		off++;
	if (off == len)
		strcpy(r->text, "Account is temporarily unavailable.");
	else
		ref_text(r, l + off, len - off);
}

static void
reference(const struct pm_pop3back_params *p, const uint8_t *in, size_t n, struct result *r)
{
	uint8_t msg[2048];
	size_t pos = 0, len, bad, ml = 0;
	bool plain = p->authzid != NULL || strpbrk(p->password, "\r\n") != NULL ||
		     strpbrk(p->user, "\r\n") != NULL;
	int step = 0, rc;	/* 0 banner, 1 xclient, 2 user, 3 login */
	const uint8_t *l;
	char num[32];

	r->tbl = 0;
	r->text[0] = '\0';
	for (;;) {
		rc = ref_line(in, n, pos, &len, &bad);
		if (rc == 0) {
			r->st = PM_POP3BACK_AGAIN;
			r->consumed = n;
			return;
		}
		if (rc < 0) {
			r->st = PM_POP3BACK_FAIL;
			r->consumed = bad + 1;
			return;
		}
		l = in + pos;
		pos += len + 2;
		r->consumed = pos;
		switch (step) {
		case 0:
			if (!ref_ok(l, len)) {
				r->st = PM_POP3BACK_FAIL;
				return;
			}
			step = plain ? 3 : 2;
			if (ref_begins(l, len, "+OK [XCLIENT]")) {
				ref_puts(r, "XCLIENT ADDR=");
				ref_puts(r, p->client_ip);
				snprintf(num, sizeof(num), " PORT=%u SESSION=", p->client_port);
				ref_puts(r, num);
				ref_puts(r, p->session_id);
				snprintf(num, sizeof(num), " TTL=%u\r\n", p->ttl - 1);
				ref_puts(r, num);
				step = 1;
			}
			if (plain) {
				ml = 0;
				if (p->authzid != NULL) {
					memcpy(msg, p->authzid, strlen(p->authzid));
					ml += strlen(p->authzid);
				}
				msg[ml++] = 0;
				memcpy(msg + ml, p->user, strlen(p->user));
				ml += strlen(p->user);
				msg[ml++] = 0;
				memcpy(msg + ml, p->password, strlen(p->password));
				ml += strlen(p->password);
				ref_puts(r, "AUTH PLAIN ");
				ref_b64(r, msg, ml);
				ref_puts(r, "\r\n");
			} else {
				ref_puts(r, "USER ");
				ref_puts(r, p->user);
				ref_puts(r, "\r\n");
			}
			break;
		case 1:
			if (!ref_ok(l, len)) {
				r->st = PM_POP3BACK_FAIL;
				return;
			}
			step = plain ? 3 : 2;
			break;
		case 2:
			if (!ref_ok(l, len)) {
				ref_failed(r, l, len);
				return;
			}
			ref_puts(r, "PASS ");
			ref_puts(r, p->password);
			ref_puts(r, "\r\n");
			step = 3;
			break;
		default:
			if (ref_ok(l, len)) {
				r->st = PM_POP3BACK_OK;
				ref_text(r, l + (len > 3 ? 4 : 3), len - (len > 3 ? 4 : 3));
				return;
			}
			if (plain && ref_begins(l, len, "+ ")) {
				r->st = PM_POP3BACK_FAIL;
				return;
			}
			ref_failed(r, l, len);
			return;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_pop3back_params p;
	const uint8_t *in;
	size_t n;

	if (size < 2)
		return 0;
	make_params(&p, data[0]);
	in = data + 2;
	n = size - 2;
	if (pm_pop3back_init(&ma, &p) != 0 || pm_pop3back_init(&mb, &p) != 0)
		die("init failed");
	run_whole(&ma, in, n, &ra);
	run_chunked(&mb, in, n, data[1] + 256u * (uint32_t)n, &rb);
	snprintf(ra.text, sizeof(ra.text), "%s", pm_pop3back_text(&ma));
	snprintf(rb.text, sizeof(rb.text), "%s", pm_pop3back_text(&mb));
	if (ra.st != rb.st || ra.consumed != rb.consumed || ra.tbl != rb.tbl ||
	    memcmp(ra.tb, rb.tb, ra.tbl) != 0 || strcmp(ra.text, rb.text) != 0)
		die("chunked run differs from the whole run");
	reference(&p, in, n, &rr);
	if (ra.st != rr.st || ra.consumed != rr.consumed)
		die("status or consumed differs from the reference model");
	if (ra.tbl != rr.tbl || memcmp(ra.tb, rr.tb, ra.tbl) != 0)
		die("bytes sent differ from the reference model");
	if (strcmp(ra.text, rr.text) != 0)
		die("text differs from the reference model");
	if (ra.st == PM_POP3BACK_AGAIN)
		ra.st = pm_pop3back_closed(&ma);
	if (ra.st == PM_POP3BACK_AGAIN || ra.st == PM_POP3BACK_ERROR ||
	    ra.st == PM_POP3BACK_SERVERBUG)
		die("no result (or SERVERBUG) after closed()");
	if (!all_zero(ma.password, sizeof(ma.password)) || !all_zero(ma.user, sizeof(ma.user)) ||
	    !all_zero(ma.authzid, sizeof(ma.authzid)))
		die("credentials left after a result");
	if (strpbrk(pm_pop3back_text(&ma), "\r\n") != NULL ||
	    strlen(pm_pop3back_text(&ma)) > PM_POP3BACK_TEXT_MAX)
		die("result text with CR or LF, or too long");
	if ((ra.st == PM_POP3BACK_FAIL) != (pm_pop3back_reason(&ma)[0] != '\0'))
		die("a reason without FAIL or FAIL without a reason");
	return 0;
}
