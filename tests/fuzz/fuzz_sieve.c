/*
 * fuzz_sieve.c -- libFuzzer target for the client-facing ManageSieve machine
 * (proto/sieve.h).
 *
 * Input: 4 bytes of seed, 1 byte choosing the out buffer's size, then the
 * client's bytes. The client bytes go through two fresh machines:
 *   A. in random chunks of 1..64 bytes into a small out buffer (2100..2355
 *      bytes: the largest answer here is a NOOP echo of 1024 escaped bytes)
 *      that the harness drains when the machine says PM_SIEVE_FULL and,
 *      partly, at random after other calls;
 *   B. all at once into a large buffer.
 * At each PM_SIEVE_LOGIN the harness checks the login against the header's
 * contract and answers with login_failed() (any kind, texts with quotes,
 * tabs and bad UTF-8) or login_ok() (then stops), drawing the choice from a
 * generator seeded the same way in both runs. Both runs must write the same
 * bytes and report the same events at the same offsets; every response
 * written must be CRLF-terminated lines (a literal's data aside) starting
 * with '"', "OK" (any case: the backend's line), "NO" or "BYE"; the password
 * is gone after every answer. Any violation aborts.
 *
 * Seed corpus: tests/fuzz/corpus/sieve/ (realistic client sessions, each
 * behind a 5-byte header).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/sieve.h"

#include "fuzzsplit.h"

#define BIG (1u << 16)

static void
check_login(const struct pm_sieve_login *lg)
{
	CHECK(lg->mech == PM_SIEVE_MECH_PLAIN);
	CHECK(lg->user_len > 0 && lg->user_len <= PM_SIEVE_USER_MAX);
	CHECK(strlen(lg->user) == lg->user_len);
	CHECK(lg->authzid_len <= PM_SIEVE_USER_MAX && strlen(lg->authzid) == lg->authzid_len);
	CHECK(lg->pass_len <= PM_SIEVE_PASS_MAX && strlen(lg->pass) == lg->pass_len);
	if (lg->authzid_len > 0)
		CHECK(lg->authzid_len != lg->user_len ||
		      memcmp(lg->authzid, lg->user, lg->user_len) != 0);
}

static void
event(struct trace *ev, const char *what, size_t off, const struct pm_sieve_login *lg)
{
	trace_put(ev, what, strlen(what));
	trace_put(ev, &off, sizeof(off));
	if (lg != NULL) {
		trace_put(ev, &lg->sasl_ir, sizeof(lg->sasl_ir));
		trace_put(ev, lg->user, lg->user_len + 1u);
		trace_put(ev, lg->authzid, lg->authzid_len + 1u);
		trace_put(ev, lg->pass, lg->pass_len + 1u);
	}
}

/* Answer a login; returns true when the session is over (login_ok). */
static bool
answer(struct pm_sieve *m, uint32_t *act, struct pm_buf *out, struct trace *t)
{
	static const char *const texts[] = { NULL, "Account is temporarily unavailable.",
					     "a \"q\"\tb\\", "x\xff\xffy\xe2\x82z", "" };
	static const char *const oks[] = { NULL, "OK", "ok \"x\"", "OK (SASL \"a\") \"in\"" };
	uint32_t r = rnd(act);
	const char *text = texts[(r >> 8) % 5];
	int rc = 0, tries;
	bool ok = r % 4 == 0;

	for (tries = 0; tries < 2; tries++) {
		switch (r % 4) {
		case 0:
			rc = pm_sieve_login_ok(m, oks[(r >> 4) % 4], out);
			break;
		case 1:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_AUTHFAILED, text, out);
			break;
		case 2:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_UNAVAILABLE, text, out);
			break;
		default:
			rc = pm_sieve_login_failed(m, PM_SIEVE_FAIL_VERBATIM,
						   text != NULL && *text ? text : "(X) \"y\"", out);
			break;
		}
		if (rc != -ENOSPC)
			break;
		CHECK(pm_sieve_phase(m) == PM_SIEVE_PHASE_LOGIN);
		drain(t, out, out->len);
	}
	CHECK(rc == 0);
	CHECK(pm_sieve_phase(m) == (ok ? PM_SIEVE_PHASE_DONE : PM_SIEVE_PHASE_COMMANDS));
	CHECK(pm_sieve_login(m)->pass_len == 0);
	CHECK(pm_sieve_login(m)->pass[0] == '\0');
	return ok;
}

/* One run; @chunky selects run A (else B). */
static void
run(const uint8_t *in, size_t n, uint32_t seed, size_t cap, bool chunky, struct trace *t,
    struct trace *ev)
{
	static uint8_t mem[BIG];
	struct pm_sieve_params p;
	struct pm_sieve m;
	struct pm_buf out;
	uint32_t chunks = seed | 1, act = seed ^ 0x9e3779b9u;
	size_t off = 0, end, used;
	enum pm_sieve_status st;

	if (act == 0)
		act = 1;
	t->len = 0;
	ev->len = 0;
	pm_sieve_params_defaults(&p);
	p.max_bad = 1 + seed % 8;
	CHECK(pm_sieve_init(&m, &p) == 0);
	pm_buf_init(&out, mem, chunky ? cap : BIG);
	CHECK(pm_sieve_greet(&m, &out) == 0);
	while (off < n) {
		end = chunky ? off + 1 + rnd(&chunks) % 64 : n;
		if (end > n)
			end = n;
		while (off < end) {
			st = pm_sieve_feed(&m, in + off, end - off, &used, &out);
			CHECK(used <= end - off);
			off += used;
			switch (st) {
			case PM_SIEVE_AGAIN:
				CHECK(off == end);
				break;
			case PM_SIEVE_FULL:
				CHECK(out.len > 0 && pm_sieve_phase(&m) == PM_SIEVE_PHASE_COMMANDS);
				drain(t, &out, out.len);
				continue;
			case PM_SIEVE_LOGIN:
				CHECK(used > 0 && pm_sieve_phase(&m) == PM_SIEVE_PHASE_LOGIN);
				check_login(pm_sieve_login(&m));
				event(ev, "L", off, pm_sieve_login(&m));
				/* feeding now is a misuse that changes nothing */
				CHECK(pm_sieve_feed(&m, in, n, &used, &out) == PM_SIEVE_ERROR &&
				      used == 0);
				if (answer(&m, &act, &out, t)) {
					event(ev, "D", off, NULL);
					drain(t, &out, out.len);
					return;
				}
				continue;
			case PM_SIEVE_CLOSE:
				CHECK(pm_sieve_phase(&m) == PM_SIEVE_PHASE_CLOSED);
				CHECK(pm_sieve_feed(&m, in, n, &used, &out) == PM_SIEVE_ERROR &&
				      used == 0);
				event(ev, "C", off, NULL);
				drain(t, &out, out.len);
				return;
			case PM_SIEVE_ERROR:
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
	pm_sieve_wipe(&m);
	CHECK(m.lg.pass_len == 0);
}

/* Is the line t[s..e) (e at its CR) ending in "{digits}"? Its value. */
static bool
ends_in_literal(const uint8_t *t, size_t s, size_t e, size_t *len)
{
	size_t k = e, v = 0, mul = 1;

	if (k == s || t[k - 1] != '}')
		return false;
	k--;
	if (k == s || t[k - 1] < '0' || t[k - 1] > '9')
		return false;
	while (k > s && t[k - 1] >= '0' && t[k - 1] <= '9') {
		CHECK(mul <= 100000);
		v += (size_t)(t[k - 1] - '0') * mul;
		mul *= 10;
		k--;
	}
	if (k == s || t[k - 1] != '{')
		return false;
	*len = v;
	return true;
}

/* Every response: CRLF lines (a literal's data aside) starting with '"',
 * "OK", "NO" or "BYE". */
static void
check_lines(const struct trace *t)
{
	size_t i = 0, j, lit;
	bool start = true;

	while (i < t->len) {
		/* "ok": login_ok() writes the backend's OK line as it came */
		if (start)
			CHECK(t->p[i] == '"' ||
			      (t->len - i >= 2 &&
			       strncasecmp((const char *)t->p + i, "OK", 2) == 0) ||
			      (t->len - i >= 2 && memcmp(t->p + i, "NO", 2) == 0) ||
			      (t->len - i >= 3 && memcmp(t->p + i, "BYE", 3) == 0));
		for (j = i; j < t->len && t->p[j] != '\n'; j++)
			CHECK(t->p[j] != '\r' || (j + 1 < t->len && t->p[j + 1] == '\n'));
		CHECK(j < t->len && j > i && t->p[j - 1] == '\r');
		if (ends_in_literal(t->p, i, j - 1, &lit)) {
			CHECK(j + 1 + lit <= t->len);
			i = j + 1 + lit;	/* the response goes on after the data */
			start = false;
			continue;
		}
		i = j + 1;
		start = true;
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
	cap = 2100 + data[4];
	run(data + 5, size - 5, seed, cap, true, &ta, &ea);
	run(data + 5, size - 5, seed, cap, false, &tb, &eb);
	CHECK(ta.len == tb.len && (ta.len == 0 || memcmp(ta.p, tb.p, ta.len) == 0));
	CHECK(ea.len == eb.len && (ea.len == 0 || memcmp(ea.p, eb.p, ea.len) == 0));
	check_lines(&ta);
	return 0;
}
