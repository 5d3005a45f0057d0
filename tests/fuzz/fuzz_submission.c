/*
 * fuzz_submission.c -- libFuzzer target for the client-facing Submission
 * machine (proto/submission.h).
 *
 * Input: 4 bytes of seed, 1 byte choosing the out buffer's size, then the
 * client's bytes. The client bytes go through two fresh machines:
 *   A. in random chunks of 1..64 bytes into a small out buffer (280..535
 *      bytes) that the harness drains when the machine says
 *      PM_SUBMISSION_FULL and, partly, at random after other calls;
 *   B. all at once into a large buffer.
 * At each PM_SUBMISSION_LOGIN the harness checks the login against the
 * header's contract and answers with login_failed() (any kind, Dovecot-like
 * and odd reply lines, 421 and 5xx included) or login_ok() (then stops),
 * drawing the choice from a generator seeded the same way in both runs.
 * Both runs must write the same bytes and report the same events at the
 * same offsets; every line written must be an SMTP reply line (three
 * digits, SP or '-', printable text, CRLF); the HELO domain must be
 * printable without SP and at most 255 bytes. Any violation aborts.
 *
 * Seed corpus: tests/fuzz/corpus/submission/ (realistic client sessions,
 * each behind a 5-byte header).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/submission.h"

#include "fuzzsplit.h"

#define BIG (1u << 16)

static void
check_login(const struct pm_submission_login *lg)
{
	CHECK(lg->mech == PM_SUBMISSION_MECH_PLAIN || lg->mech == PM_SUBMISSION_MECH_LOGIN);
	CHECK(lg->user_len > 0 && lg->user_len <= PM_SUBMISSION_USER_MAX);
	CHECK(strlen(lg->user) == lg->user_len);
	CHECK(lg->authzid_len <= PM_SUBMISSION_USER_MAX && strlen(lg->authzid) == lg->authzid_len);
	CHECK(lg->pass_len <= PM_SUBMISSION_PASS_MAX && strlen(lg->pass) == lg->pass_len);
	if (lg->mech == PM_SUBMISSION_MECH_LOGIN)
		CHECK(lg->authzid_len == 0);
	if (lg->authzid_len > 0)
		CHECK(lg->authzid_len != lg->user_len ||
		      memcmp(lg->authzid, lg->user, lg->user_len) != 0);
}

static void
check_helo(const struct pm_submission *m)
{
	const char *h = pm_submission_helo(m);
	size_t i, n;

	if (h == NULL)
		return;
	n = strlen(h);
	CHECK(n > 0 && n <= PM_SUBMISSION_DOMAIN_MAX);
	for (i = 0; i < n; i++)
		CHECK(h[i] > 0x20 && h[i] < 0x7f);
	CHECK(pm_submission_greeting(m) != PM_SUBMISSION_GREETING_NONE);
}

static void
event(struct trace *ev, const char *what, size_t off, const struct pm_submission *m)
{
	const struct pm_submission_login *lg = pm_submission_login(m);
	const char *h = pm_submission_helo(m);

	trace_put(ev, what, strlen(what));
	trace_put(ev, &off, sizeof(off));
	trace_put(ev, h != NULL ? h : "-", h != NULL ? strlen(h) + 1 : 2);
	if (what[0] == 'L') {
		trace_put(ev, &lg->mech, sizeof(lg->mech));
		trace_put(ev, &lg->sasl_ir, sizeof(lg->sasl_ir));
		trace_put(ev, lg->user, lg->user_len + 1u);
		trace_put(ev, lg->authzid, lg->authzid_len + 1u);
		trace_put(ev, lg->pass, lg->pass_len + 1u);
	}
}

/* Answer a login; returns true when the session is over (login_ok, or a
 * reply that closes). */
static bool
answer(struct pm_submission *m, uint32_t *act, struct pm_buf *out, struct trace *t)
{
	static const char *const verbatim[] = {
		"535 5.7.8 Authentication failed.", "454 4.7.0 Temporary authentication failure",
		"421 4.3.0 go away", "500 5.5.1 odd", "550 x", "451",
	};
	static const char *const unavail[] = { NULL, "Account is temporarily unavailable.",
					       "x" };
	uint32_t r = rnd(act);
	int rc = 0, tries;
	bool ok = r % 4 == 0;

	for (tries = 0; tries < 2; tries++) {
		switch (r % 4) {
		case 0:
			rc = pm_submission_login_ok(m, (r >> 4) & 1 ? "235 2.7.0 Welcome" : NULL,
						    out);
			break;
		case 1:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_AUTHFAILED, NULL,
							out);
			break;
		case 2:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_UNAVAILABLE,
							unavail[(r >> 8) % 3], out);
			break;
		default:
			rc = pm_submission_login_failed(m, PM_SUBMISSION_FAIL_VERBATIM,
							verbatim[(r >> 8) % 6], out);
			break;
		}
		if (rc != -ENOSPC)
			break;
		CHECK(pm_submission_phase(m) == PM_SUBMISSION_PHASE_LOGIN);
		drain(t, out, out->len);
	}
	CHECK(rc == 0);
	if (ok) {
		CHECK(pm_submission_phase(m) == PM_SUBMISSION_PHASE_DONE);
		CHECK(pm_submission_login(m)->pass_len == 0);
		CHECK(pm_submission_login(m)->pass[0] == '\0');
		return true;
	}
	CHECK(pm_submission_phase(m) == PM_SUBMISSION_PHASE_COMMANDS ||
	      pm_submission_phase(m) == PM_SUBMISSION_PHASE_CLOSED);
	return pm_submission_phase(m) == PM_SUBMISSION_PHASE_CLOSED;
}

/* One run; @chunky selects run A (else B). */
static void
run(const uint8_t *in, size_t n, uint32_t seed, size_t cap, bool chunky, struct trace *t,
    struct trace *ev)
{
	static uint8_t mem[BIG];
	static const char *const kw[] = { "8BITMIME", "AUTH PLAIN LOGIN", "SIZE 10240000", NULL };
	struct pm_submission_params p;
	struct pm_submission m;
	struct pm_buf out;
	uint32_t chunks = seed | 1, act = seed ^ 0x9e3779b9u;
	size_t off = 0, end, used;
	enum pm_submission_status st;

	if (act == 0)
		act = 1;
	t->len = 0;
	ev->len = 0;
	pm_submission_params_defaults(&p);
	p.hostname = "lab-a.example";
	if (seed & 0x100)
		p.ehlo = kw;
	p.max_bad = 1 + seed % 12;
	CHECK(pm_submission_init(&m, &p) == 0);
	pm_buf_init(&out, mem, chunky ? cap : BIG);
	CHECK(pm_submission_greet(&m, &out) == 0);
	while (off < n) {
		end = chunky ? off + 1 + rnd(&chunks) % 64 : n;
		if (end > n)
			end = n;
		while (off < end) {
			st = pm_submission_feed(&m, in + off, end - off, &used, &out);
			CHECK(used <= end - off);
			off += used;
			check_helo(&m);
			switch (st) {
			case PM_SUBMISSION_AGAIN:
				CHECK(off == end);
				break;
			case PM_SUBMISSION_FULL:
				CHECK(out.len > 0 &&
				      pm_submission_phase(&m) == PM_SUBMISSION_PHASE_COMMANDS);
				drain(t, &out, out.len);
				continue;
			case PM_SUBMISSION_LOGIN:
				CHECK(used > 0 &&
				      pm_submission_phase(&m) == PM_SUBMISSION_PHASE_LOGIN);
				check_login(pm_submission_login(&m));
				event(ev, "L", off, &m);
				/* feeding now is a misuse that changes nothing */
				CHECK(pm_submission_feed(&m, in, n, &used, &out) ==
					      PM_SUBMISSION_ERROR &&
				      used == 0);
				if (answer(&m, &act, &out, t)) {
					event(ev, "D", off, &m);
					drain(t, &out, out.len);
					return;
				}
				continue;
			case PM_SUBMISSION_CLOSE:
				CHECK(pm_submission_phase(&m) == PM_SUBMISSION_PHASE_CLOSED);
				CHECK(pm_submission_feed(&m, in, n, &used, &out) ==
					      PM_SUBMISSION_ERROR &&
				      used == 0);
				event(ev, "C", off, &m);
				drain(t, &out, out.len);
				return;
			case PM_SUBMISSION_ERROR:
				/* only an empty buffer too small for one reply */
				CHECK(out.len == 0);
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
	event(ev, "E", off, &m);
	pm_submission_wipe(&m);
	CHECK(m.lg.pass_len == 0);
}

/* Every line is an SMTP reply line: "ddd" SP/'-' printable text CRLF (or
 * "334 " with nothing after it). */
static void
check_lines(const struct trace *t)
{
	size_t i = 0, j;

	while (i < t->len) {
		for (j = i; j < t->len && t->p[j] != '\n'; j++)
			CHECK(t->p[j] != '\r' || (j + 1 < t->len && t->p[j + 1] == '\n'));
		CHECK(j < t->len && j > i && t->p[j - 1] == '\r');
		CHECK(j - i >= 4);	/* "235" CRLF is the shortest */
		CHECK(t->p[i] >= '2' && t->p[i] <= '5');
		CHECK(t->p[i + 1] >= '0' && t->p[i + 1] <= '9');
		CHECK(t->p[i + 2] >= '0' && t->p[i + 2] <= '9');
		CHECK(t->p[i + 3] == ' ' || t->p[i + 3] == '-' || t->p[i + 3] == '\r');
		for (i += 3; i < j - 1; i++)
			CHECK(t->p[i] >= 0x20 && t->p[i] < 0x7f);
		i = j + 1;
	}
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
	/* The largest single reply here is the default EHLO one, 150 bytes,
	 * or a login answer with the 421 line, about 100; every cap must hold
	 * one, or FULL could never end. */
	cap = 280 + data[4];
	run(data + 5, size - 5, seed, cap, true, &ta, &ea);
	run(data + 5, size - 5, seed, cap, false, &tb, &eb);
	CHECK(ta.len == tb.len && (ta.len == 0 || memcmp(ta.p, tb.p, ta.len) == 0));
	CHECK(ea.len == eb.len && (ea.len == 0 || memcmp(ea.p, eb.p, ea.len) == 0));
	check_lines(&ta);
	return 0;
}
