/*
 * fuzz_imapback.c -- libFuzzer target for the backend-side IMAP login
 * machine (proto/imapback.h).
 *
 * Input: byte 0 picks the login (bit 0: the client sent CAPABILITY; bit 1: a
 * password with CR LF; bit 2: an authzid; bit 3: a user with '"' and '\'),
 * byte 1 seeds the chunking; the rest is what the backend sends.
 *
 * The input is fed twice: whole, with roomy buffers; and in pseudo-random
 * chunks with small output buffers that are drained or enlarged whenever
 * PM_IMAPBACK_ERROR asks for room. Both runs must agree on the status, the
 * consumed count and every output byte. Then the oracle that would catch a
 * false success: PM_IMAPBACK_OK is allowed only if
 *   1. the consumed bytes end with CRLF and their last line starts "L OK "
 *      and holds no CR, LF or NUL;
 *   2. that line starts a response according to an independent framer
 *      (ref_is_response_start(): RFC 3501 lines and the literals of untagged
 *      data responses, as proto/imapback.h documents), so it is not inside a
 *      literal or the middle of a line, and the first response is "* OK ";
 *   3. the machine had sent a whole login command (L LOGIN or
 *      L AUTHENTICATE, ending in CRLF) before.
 * Always: the client never sees the password; after any result the
 * machine's credential fields are zero; the client reply for a result can
 * be built and is CRLF-terminated lines without NUL or bare CR/LF; what the
 * client gets starts with "* ".
 *
 * Seed corpus: tests/fuzz/corpus/imapback/ (dialogues from the unit tests).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imapback.h"
#include "fuzzsplit.h"

#define BIG (1u << 18)

struct result {
	enum pm_imapback_status st;
	size_t consumed;
	uint8_t tb[BIG], tc[BIG];
	size_t tbl, tcl;
};

static struct result ra, rb;
static struct pm_imapback ma, mb;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_imapback: %s\n", what);
	abort();
}

static void
make_params(struct pm_imapback_params *p, uint8_t flags)
{
	memset(p, 0, sizeof(*p));
	p->session_id = "ugbLxVth9OJ/AAAB";
	p->client_ip = "127.0.0.1";
	p->local_ip = "127.0.0.1";
	p->client_port = 58100;
	p->local_port = 12143;
	p->ttl = 5;
	p->user = (flags & 8) ? "us\"e\\r" : "user1";
	p->authzid = (flags & 4) ? "target" : NULL;
	p->password = (flags & 2) ? "Pw\r\nSecret9" : "PwSecret9";
	p->client_sent_capability = (flags & 1) != 0;
}

/* The whole input at once, roomy buffers. */
static void
run_whole(struct pm_imapback *m, const uint8_t *in, size_t n, struct result *r)
{
	struct pm_imapback_buf tb = { r->tb, 0, BIG }, tc = { r->tc, 0, BIG };

	r->st = pm_imapback_feed(m, in, n, &r->consumed, &tb, &tc);
	if (r->st == PM_IMAPBACK_ERROR)
		die("ERROR with roomy buffers");
	if (r->st == PM_IMAPBACK_AGAIN && r->consumed != n)
		die("AGAIN without consuming everything");
	r->tbl = tb.len;
	r->tcl = tc.len;
}

/* Random chunks and tight buffers, making room only when asked. */
static void
run_chunked(struct pm_imapback *m, const uint8_t *in, size_t n, uint32_t seed, struct result *r)
{
	struct pm_imapback_buf tb = { r->tb, 0, PM_IMAPBACK_BACKEND_ROOM };
	struct pm_imapback_buf tc = { r->tc, 0, 0 };
	size_t off = 0, c, chunk;
	uint32_t s = seed * 2654435761u + 1;
	unsigned int errors = 0;

	r->st = PM_IMAPBACK_AGAIN;
	while (off < n) {
		chunk = 1 + rnd(&s) % 17;
		if (chunk > n - off)
			chunk = n - off;
		r->st = pm_imapback_feed(m, in + off, chunk, &c, &tb, &tc);
		off += c;
		if (r->st == PM_IMAPBACK_ERROR) {
			/* Room is asked for before a line's final LF only. */
			if (off >= n || in[off] != '\n')
				die("ERROR not at a line's LF");
			if (++errors > 2 * n + 2)
				die("ERROR does not go away with room");
			if (tb.cap - tb.len < PM_IMAPBACK_BACKEND_ROOM)
				tb.cap = tb.len + PM_IMAPBACK_BACKEND_ROOM;
			else
				tc.cap = tc.len + PM_IMAPBACK_CLIENT_ROOM;
			continue;
		}
		if (r->st != PM_IMAPBACK_AGAIN)
			break;
		if (c != chunk)
			die("AGAIN without consuming the chunk");
		/* Grow the client buffer a little now and then. */
		if (tc.cap < BIG - 64 && (s & 3) == 0)
			tc.cap += s % 8;
	}
	r->consumed = off;
	r->tbl = tb.len;
	r->tcl = tc.len;
}

static bool
ci_word(const uint8_t *s, size_t len, const char *w)
{
	size_t i;

	if (strlen(w) != len)
		return false;
	for (i = 0; i < len; i++) {
		int a = s[i], b = (unsigned char)w[i];

		if (a >= 'a' && a <= 'z')
			a -= 32;
		if (a != b)
			return false;
	}
	return true;
}

/* Does the line in[ls..le) (le at its CR) end in "{digits}"? */
static bool
ends_in_literal(const uint8_t *in, size_t ls, size_t le, uint64_t *len)
{
	size_t k = le;
	uint64_t v = 0, mul = 1;

	if (k == ls || in[k - 1] != '}')
		return false;
	k--;
	if (k == ls || in[k - 1] < '0' || in[k - 1] > '9')
		return false;
	while (k > ls && in[k - 1] >= '0' && in[k - 1] <= '9') {
		if (mul > 1000000000000ull)
			return false;	/* too long to matter: the machine failed */
		v += (uint64_t)(in[k - 1] - '0') * mul;
		mul *= 10;
		k--;
	}
	if (k == ls || in[k - 1] != '{')
		return false;
	*len = v;
	return true;
}

/*
 * An independent reading of the framing: responses are CRLF lines, and an
 * untagged response whose first word is not a status or CAPABILITY may hold
 * literals "{n}" at the end of its lines. Is @pos the start of a response?
 */
static bool
ref_is_response_start(const uint8_t *in, size_t n, size_t pos)
{
	size_t i = 0;

	while (i < n && i <= pos) {
		size_t rs = i, ls = i, le, w, we;
		bool data;

		if (rs == pos)
			return true;
		/* the response's kind, from its first line */
		data = false;
		if (n - rs >= 2 && in[rs] == '*' && in[rs + 1] == ' ') {
			w = rs + 2;
			we = w;
			while (we < n && in[we] != ' ' && in[we] != '\r')
				we++;
			data = !(ci_word(in + w, we - w, "OK") || ci_word(in + w, we - w, "NO") ||
				 ci_word(in + w, we - w, "BAD") || ci_word(in + w, we - w, "BYE") ||
				 ci_word(in + w, we - w, "PREAUTH") ||
				 ci_word(in + w, we - w, "CAPABILITY"));
		}
		for (;;) {
			uint64_t lit;

			le = ls;
			while (le + 1 < n && !(in[le] == '\r' && in[le + 1] == '\n'))
				le++;
			if (le + 1 >= n)
				return false;	/* no complete line */
			if (data && ends_in_literal(in, ls, le, &lit)) {
				if (lit > n)
					return false;
				ls = le + 2 + (size_t)lit;
				if (ls > pos && le + 2 <= pos)
					return false;	/* pos is inside the literal */
				continue;
			}
			i = le + 2;
			break;
		}
	}
	return false;
}

static bool
has_at_line_start(const uint8_t *s, size_t n, const char *w)
{
	size_t wl = strlen(w), i;

	for (i = 0; i + wl <= n; i++) {
		if ((i == 0 || (s[i - 1] == '\n' && i >= 2 && s[i - 2] == '\r')) &&
		    memcmp(s + i, w, wl) == 0)
			return true;
	}
	return false;
}

static void
check_ok(const uint8_t *in, size_t n, const struct result *r)
{
	size_t c = r->consumed, s, k;

	if (c < 2 || in[c - 2] != '\r' || in[c - 1] != '\n')
		die("OK not at a CRLF");
	s = c - 2;
	while (s > 0 && in[s - 1] != '\n')
		s--;
	if (s == 0 || c - s < 7 || memcmp(in + s, "L OK ", 5) != 0)
		die("OK but the last line is not \"L OK \"");
	for (k = s; k < c - 2; k++) {
		if (in[k] == '\r' || in[k] == '\n' || in[k] == '\0')
			die("OK line holds CR, LF or NUL");
	}
	if (n < 5 || memcmp(in, "* OK ", 5) != 0)
		die("OK without a \"* OK \" banner");
	if (!ref_is_response_start(in, n, s))
		die("OK from a line the reference framer does not see as a response");
	if (!(has_at_line_start(r->tb, r->tbl, "L LOGIN ") ||
	      has_at_line_start(r->tb, r->tbl, "L AUTHENTICATE PLAIN")) ||
	    r->tbl < 2 || memcmp(r->tb + r->tbl - 2, "\r\n", 2) != 0)
		die("OK before a whole login was sent");
}

static void
check_reply(const struct pm_imapback *m, enum pm_imapback_status st)
{
	static uint8_t buf[PM_IMAPBACK_REPLY_MAX];
	struct pm_imapback_buf out = { buf, 0, sizeof(buf) };
	size_t i;

	if (pm_imapback_client_reply(m, st, "a1", &out) != 0)
		die("client_reply failed for a result");
	if (out.len < 2 || memcmp(buf + out.len - 2, "\r\n", 2) != 0)
		die("client reply not CRLF-terminated");
	for (i = 0; i < out.len; i++) {
		if (buf[i] == '\0' || (buf[i] == '\r' && (i + 1 == out.len || buf[i + 1] != '\n')) ||
		    (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
			die("client reply with NUL or bare CR/LF");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_imapback_params p;
	const uint8_t *in;
	size_t n;

	if (size < 2)
		return 0;
	make_params(&p, data[0]);
	in = data + 2;
	n = size - 2;
	if (pm_imapback_init(&ma, &p) != 0 || pm_imapback_init(&mb, &p) != 0)
		die("init failed");
	run_whole(&ma, in, n, &ra);
	run_chunked(&mb, in, n, data[1] + 256u * (uint32_t)n, &rb);
	if (ra.st != rb.st || ra.consumed != rb.consumed || ra.tbl != rb.tbl ||
	    ra.tcl != rb.tcl || memcmp(ra.tb, rb.tb, ra.tbl) != 0 ||
	    memcmp(ra.tc, rb.tc, ra.tcl) != 0)
		die("chunked run differs from the whole run");
	if (ra.st == PM_IMAPBACK_OK)
		check_ok(in, n, &ra);
	if (ra.tcl > 0 && (ra.tcl < 2 || ra.tc[0] != '*' || ra.tc[1] != ' '))
		die("the client got something that is not an untagged response");
	/* The backend may echo anything; we must not add the password. */
	if (memmem(ra.tc, ra.tcl, "Secret9", 7) != NULL && memmem(in, n, "Secret9", 7) == NULL)
		die("the password reached the client");
	if (ra.st == PM_IMAPBACK_AGAIN)
		ra.st = pm_imapback_closed(&ma);
	if (ra.st == PM_IMAPBACK_AGAIN || ra.st == PM_IMAPBACK_ERROR)
		die("no result after closed()");
	if (!all_zero(ma.password, sizeof(ma.password)) || !all_zero(ma.user, sizeof(ma.user)) ||
	    !all_zero(ma.authzid, sizeof(ma.authzid)))
		die("credentials left after a result");
	check_reply(&ma, ra.st);
	if (pm_imapback_text(&ma) == NULL || strpbrk(pm_imapback_text(&ma), "\r\n") != NULL)
		die("result text with CR or LF");
	return 0;
}
