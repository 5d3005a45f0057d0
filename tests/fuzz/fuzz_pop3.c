/*
 * fuzz_pop3.c -- libFuzzer target for the client-facing POP3 machine
 * (proto/pop3.h).
 *
 * Input: 4 bytes of seed, 1 byte choosing the out buffer's size, then the
 * client's bytes. The client bytes go through two fresh machines:
 *   A. in random chunks of 1..64 bytes into a small out buffer (the largest
 *      possible response plus 0..255 bytes) that the harness drains when the
 *      machine says PM_POP3_FULL and, partly, at random after other calls;
 *   B. all at once into a large buffer.
 * At each PM_POP3_LOGIN the harness checks the login against the header's
 * contract and answers with login_failed() (any kind, random texts) or
 * login_ok() (then stops), drawing the choice from a generator seeded the
 * same way in both runs. Both runs must write the same bytes and report the
 * same events at the same offsets; a login ends at a LF and obeys the
 * header's contract; the transcript starts with the greeting and is CRLF
 * lines without a bare CR or LF. Any violation aborts.
 *
 * Seed corpus: tests/fuzz/corpus/pop3/ (realistic client sessions, each
 * behind a 5-byte header).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pop3.h"

#include "fuzzsplit.h"

#define BIG (1u << 16)

static void
check_login(const struct pm_pop3_login *lg)
{
	CHECK(lg->mech == PM_POP3_MECH_USER || lg->mech == PM_POP3_MECH_PLAIN);
	CHECK(lg->user_len > 0 && lg->user_len <= PM_POP3_USER_MAX);
	CHECK(strlen(lg->user) == lg->user_len);
	CHECK(lg->authzid_len <= PM_POP3_USER_MAX && strlen(lg->authzid) == lg->authzid_len);
	CHECK(lg->pass_len <= PM_POP3_PASS_MAX && strlen(lg->pass) == lg->pass_len);
	if (lg->mech == PM_POP3_MECH_USER) {
		CHECK(lg->authzid_len == 0 && !lg->sasl_ir);
		CHECK(memchr(lg->user, '\n', lg->user_len) == NULL);
		CHECK(memchr(lg->pass, '\n', lg->pass_len) == NULL);
	}
	if (lg->authzid_len > 0)
		CHECK(lg->authzid_len != lg->user_len ||
		      memcmp(lg->authzid, lg->user, lg->user_len) != 0);
}

static void
event(struct trace *ev, const char *what, size_t off, const struct pm_pop3_login *lg)
{
	trace_put(ev, what, strlen(what));
	trace_put(ev, &off, sizeof(off));
	if (lg != NULL) {
		trace_put(ev, &lg->mech, sizeof(lg->mech));
		trace_put(ev, &lg->sasl_ir, sizeof(lg->sasl_ir));
		trace_put(ev, lg->user, lg->user_len + 1u);
		trace_put(ev, lg->authzid, lg->authzid_len + 1u);
		trace_put(ev, lg->pass, lg->pass_len + 1u);
	}
}

/* Answer a login; returns true when the session is over (login_ok). */
static bool
answer(struct pm_pop3 *m, uint32_t *act, struct pm_buf *out, struct trace *t)
{
	static const char *const texts[] = { NULL, "Account is temporarily unavailable.",
					     "[IN-USE] Mailbox locked", "" };
	uint32_t r = rnd(act);
	const char *text = texts[(r >> 8) % 4];
	int rc = 0, tries;
	bool ok = r % 4 == 0;

	for (tries = 0; tries < 2; tries++) {
		switch (r % 4) {
		case 0:
			rc = pm_pop3_login_ok(m, text, out);
			break;
		case 1:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_AUTHFAILED, text, out);
			break;
		case 2:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_UNAVAILABLE,
						  text != NULL && text[0] != '\0' ? text : NULL,
						  out);
			break;
		default:
			rc = pm_pop3_login_failed(m, PM_POP3_FAIL_VERBATIM,
						  text != NULL ? text : "[X] y", out);
			break;
		}
		if (rc != -ENOSPC)
			break;
		CHECK(pm_pop3_phase(m) == PM_POP3_PHASE_LOGIN);
		drain(t, out, out->len);
	}
	CHECK(rc == 0);
	CHECK(pm_pop3_phase(m) == (ok ? PM_POP3_PHASE_DONE : PM_POP3_PHASE_COMMANDS));
	if (ok) {
		CHECK(pm_pop3_login(m)->pass_len == 0);
		CHECK(pm_pop3_login(m)->pass[0] == '\0');
	}
	return ok;
}

/* One run; @chunky selects run A (else B). */
static void
run(const uint8_t *in, size_t n, uint32_t seed, size_t cap, bool chunky, struct trace *t,
    struct trace *ev)
{
	static uint8_t mem[BIG];
	struct pm_pop3_params p;
	struct pm_pop3 m;
	struct pm_buf out;
	uint32_t chunks = seed | 1, act = seed ^ 0x9e3779b9u;
	size_t off = 0, end, used;
	enum pm_pop3_status st;

	if (act == 0)
		act = 1;
	t->len = 0;
	ev->len = 0;
	pm_pop3_params_defaults(&p);
	CHECK(pm_pop3_init(&m, &p) == 0);
	pm_buf_init(&out, mem, chunky ? cap : BIG);
	CHECK(pm_pop3_greet(&m, &out) == 0);
	while (off < n) {
		end = chunky ? off + 1 + rnd(&chunks) % 64 : n;
		if (end > n)
			end = n;
		while (off < end) {
			st = pm_pop3_feed(&m, in + off, end - off, &used, &out);
			CHECK(used <= end - off);
			off += used;
			switch (st) {
			case PM_POP3_AGAIN:
				CHECK(off == end);
				break;
			case PM_POP3_FULL:
				CHECK(out.len > 0 && pm_pop3_phase(&m) == PM_POP3_PHASE_COMMANDS);
				drain(t, &out, out.len);
				continue;
			case PM_POP3_LOGIN:
				CHECK(used > 0 && pm_pop3_phase(&m) == PM_POP3_PHASE_LOGIN);
				CHECK(in[off - 1] == '\n');
				check_login(pm_pop3_login(&m));
				event(ev, "L", off, pm_pop3_login(&m));
				/* feeding now is a misuse that changes nothing */
				CHECK(pm_pop3_feed(&m, in, n, &used, &out) == PM_POP3_ERROR &&
				      used == 0);
				if (answer(&m, &act, &out, t)) {
					event(ev, "D", off, NULL);
					drain(t, &out, out.len);
					return;
				}
				continue;
			case PM_POP3_CLOSE:
				CHECK(pm_pop3_phase(&m) == PM_POP3_PHASE_CLOSED);
				CHECK(pm_pop3_feed(&m, in, n, &used, &out) == PM_POP3_ERROR &&
				      used == 0);
				event(ev, "C", off, NULL);
				drain(t, &out, out.len);
				return;
			case PM_POP3_ERROR:
				/* only an empty buffer too small for one answer */
				CHECK(0);
				break;
			}
			break;
		}
		/* the caller sent part of what is pending */
		if (chunky)
			drain(t, &out, rnd(&chunks) % (out.len + 1));
		else
			drain(t, &out, out.len);
	}
	drain(t, &out, out.len);
	event(ev, "E", off, NULL);
	pm_pop3_wipe(&m);
	CHECK(m.lg.pass_len == 0);
}

/* The greeting first; every line ends in CRLF, no bare CR or LF. */
static void
check_lines(const struct trace *t)
{
	size_t i = 0, j;

	while (i < t->len) {
		for (j = i; j < t->len && t->p[j] != '\n'; j++)
			CHECK(t->p[j] != '\r' || (j + 1 < t->len && t->p[j + 1] == '\n'));
		CHECK(j < t->len && j > i && t->p[j - 1] == '\r');
		CHECK(j - i >= 2);	/* "." CRLF is the shortest */
		i = j + 1;
	}
	CHECK(t->len >= 5 && memcmp(t->p, "+OK ", 4) == 0);	/* the greeting */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace ta, tb, ea, eb;
	uint32_t seed;
	size_t cap;

	if (size < 5)
		return 0;
	seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	       (uint32_t)data[3] << 24;
	if (seed == 0)
		seed = 1;
	/* The largest single answer here: the two-line bad command close or
	 * a login_failed() with a short text, well under 100 bytes; CAPA is
	 * 96. Every cap must hold it, or FULL could never end. */
	cap = 100 + data[4];
	run(data + 5, size - 5, seed, cap, true, &ta, &ea);
	run(data + 5, size - 5, seed, cap, false, &tb, &eb);
	CHECK(ta.len == tb.len && (ta.len == 0 || memcmp(ta.p, tb.p, ta.len) == 0));
	CHECK(ea.len == eb.len && (ea.len == 0 || memcmp(ea.p, eb.p, ea.len) == 0));
	check_lines(&ta);
	return 0;
}
