/*
 * fuzz_adminproto.c -- libFuzzer target for control/adminproto.h.
 *
 * The input is fed, as is and after a valid handshake, through fresh
 * parsers in three chunkings (all at once, byte by byte, and in pieces whose
 * sizes come from the input), which must produce the same events; every
 * event must satisfy the header's contract. The input also goes through the
 * escaping round trip, the address parser (checked against an independent
 * reading of Dovecot's net_addr2ip() over the C library's inet_aton() and
 * inet_pton()) and every reply-line builder at every buffer size up to the
 * one that fits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adminproto.h"
#include "ctlmsg.h"

#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
				__LINE__, #c);                                   \
			abort();                                                 \
		}                                                                \
	} while (0)

static const char hs[] = PM_ADMINPROTO_BANNER;	/* the client sends the same line */

struct trace {
	char *p;
	size_t len, cap;
};

static void
trace_put(struct trace *t, const void *s, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 64;
		t->p = realloc(t->p, t->cap);
		CHECK(t->p != NULL);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
}

static void
trace_str(struct trace *t, const char *s, size_t n)
{
	trace_put(t, &n, sizeof(n));
	trace_put(t, s, n);
}

/* Check @cmd against the header's contract and append it to @t. */
static void
record(struct trace *t, enum pm_adminproto_status st, const struct pm_adminproto_cmd *c)
{
	trace_put(t, &st, sizeof(st));
	switch (st) {
	case PM_ADMINPROTO_AGAIN:
		CHECK(0);	/* never recorded */
		break;
	case PM_ADMINPROTO_CLOSE:
		CHECK(c->reason != NULL && strncmp(c->reason, "doveadm ", 8) == 0);
		trace_str(t, c->reason, strlen(c->reason));
		return;
	case PM_ADMINPROTO_REPLY:
		CHECK(c->reply != NULL && strcmp(c->reply, PM_ADMINPROTO_R_VHOST_TOO_LARGE) == 0);
		CHECK(c->kind == PM_ADMINPROTO_HOST_SET || c->kind == PM_ADMINPROTO_HOST_UPDATE);
		break;
	case PM_ADMINPROTO_RUN:
		break;
	}
	CHECK(c->kind > PM_ADMINPROTO_NONE && c->kind < PM_ADMINPROTO_KIND__COUNT);
	CHECK(c->user_len <= PM_ADMINPROTO_LINE_MAX && strlen(c->user) == c->user_len);
	CHECK(c->tag_len <= PM_ADMINPROTO_LINE_MAX && strlen(c->tag) == c->tag_len);
	CHECK(c->field_len <= PM_ADMINPROTO_LINE_MAX && strlen(c->field) == c->field_len);
	CHECK(c->value_len <= PM_ADMINPROTO_LINE_MAX && strlen(c->value) == c->value_len);
	CHECK(c->vhosts >= -1 && c->vhosts <= PM_ADMINPROTO_VHOST_MAX);
	CHECK(!c->has_port || c->port >= 1);
	CHECK(c->has_ip ? c->ip.family != PM_AF_NONE : c->ip.family == PM_AF_NONE);
	CHECK(c->kind != PM_ADMINPROTO_USER_ASSIGN || c->user_len > 0);
	CHECK(c->kind != PM_ADMINPROTO_POSTMUX_COUNTERS || c->field_len == 0 ||
	      (c->field_len <= PM_ADMINPROTO_PREFIX_MAX && pm_ctlmsg_counter_name_ok(c->field)));
	CHECK(strcmp(c->name, pm_adminproto_kind_name(c->kind)) == 0);
	trace_put(t, &c->kind, sizeof(c->kind));
	trace_put(t, &c->has_ip, sizeof(c->has_ip));
	trace_put(t, &c->ip, sizeof(c->ip));
	trace_put(t, &c->vhosts, sizeof(c->vhosts));
	trace_put(t, &c->max_parallel, sizeof(c->max_parallel));
	trace_put(t, &c->has_port, sizeof(c->has_port));
	trace_put(t, &c->port, sizeof(c->port));
	trace_put(t, &c->nowait, sizeof(c->nowait));
	trace_put(t, &c->user_is_hash, sizeof(c->user_is_hash));
	trace_put(t, &c->user_hash, sizeof(c->user_hash));
	trace_str(t, c->user, c->user_len);
	trace_str(t, c->tag, c->tag_len);
	trace_str(t, c->field, c->field_len);
	trace_str(t, c->value, c->value_len);
}

/* Feed @in in pieces of @fixed bytes, or (@fixed 0) of sizes taken from @sizes. */
static void
run(struct trace *t, const uint8_t *in, size_t n, const uint8_t *sizes, size_t nsizes,
    size_t fixed)
{
	static struct pm_adminproto_cmd cmd;
	struct pm_adminproto p;
	enum pm_adminproto_status st;
	size_t off = 0, end, used, k = 0, piece;

	t->len = 0;
	pm_adminproto_init(&p);
	while (off < n) {
		piece = fixed != 0 ? fixed : (size_t)(sizes[k++ % nsizes] % 17) + 1;
		end = off + piece < n ? off + piece : n;
		while (off < end) {
			st = pm_adminproto_feed(&p, in + off, end - off, &used, &cmd);
			CHECK(used <= end - off);
			off += used;
			if (st == PM_ADMINPROTO_AGAIN) {
				CHECK(off == end);
				break;
			}
			CHECK(used > 0);
			record(t, st, &cmd);
			if (st == PM_ADMINPROTO_CLOSE) {
				/* sticky: nothing more is consumed */
				CHECK(pm_adminproto_feed(&p, "x\n", 2, &used, &cmd) ==
				      PM_ADMINPROTO_CLOSE && used == 0);
				CHECK(!pm_adminproto_handshaked(&p, NULL));
				return;
			}
		}
	}
}

static void
chunkings_agree(const uint8_t *in, size_t n)
{
	static struct trace a, b, c;
	static const uint8_t one = 0;

	run(&a, in, n, NULL, 0, n > 0 ? n : 1);
	run(&b, in, n, NULL, 0, 1);
	run(&c, in, n, n > 0 ? in : &one, n > 0 ? n : 1, 0);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
	CHECK(a.len == c.len && (a.len == 0 || memcmp(a.p, c.p, a.len) == 0));
}

/* ---- addresses: an independent reading of net_addr2ip() ------------------ */

static int
ref_addr2ip(const char *s, uint8_t out[16], int *family)
{
	size_t n = strlen(s), i, part, digits;
	uint64_t v, parts[4];
	const char *p;
	char tmp[80];

	memset(out, 0, 16);
	/* fast path: all digits (one number < 2^32) or d.d.d.d (each < 256) */
	if (n > 0 && strspn(s, "0123456789.") == n) {
		for (p = s, part = 0; part < 4; part++) {
			for (v = 0, digits = 0; *p >= '0' && *p <= '9'; p++, digits++)
				v = v > UINT32_MAX ? v : v * 10 + (uint64_t)(*p - '0');
			if (digits == 0)
				break;
			parts[part] = v;
			if (*p != '.')
				break;
			p++;
		}
		/* here *p is the first byte not used: '\0' when all of s was */
		if (part == 0 && digits > 0 && *p == '\0' && parts[0] <= UINT32_MAX) {
			for (i = 0; i < 4; i++)
				out[i] = (uint8_t)(parts[0] >> (24 - 8 * i));
			*family = 4;
			return 0;
		}
		if (part == 3 && digits > 0 && *p == '\0' && parts[0] < 256 && parts[1] < 256 &&
		    parts[2] < 256 && parts[3] < 256) {
			for (i = 0; i < 4; i++)
				out[i] = (uint8_t)parts[i];
			*family = 4;
			return 0;
		}
	}
	if (strchr(s, ':') != NULL) {
		if (n >= sizeof(tmp))
			return -1;	/* far longer than any IPv6 text */
		memcpy(tmp, s, n + 1);
		if (tmp[0] == '[' && tmp[n - 1] == ']') {
			memmove(tmp, tmp + 1, n - 2);
			tmp[n - 2] = '\0';
		}
		*family = 6;
		return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
	}
	{
		struct in_addr a;

		*family = 4;
		if (inet_aton(s, &a) == 0)
			return -1;
		memcpy(out, &a, 4);
		return 0;
	}
}

static void
check_ip(const uint8_t *in, size_t n)
{
	char s[64];
	struct pm_addr a;
	uint8_t want[16];
	int fam = 0, rc, wrc;

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, in, n);
	s[n] = '\0';
	rc = pm_adminproto_parse_ip(&a, s, n);
	CHECK(rc == 0 || rc == -EINVAL);
	wrc = ref_addr2ip(s, want, &fam);
	CHECK((rc == 0) == (wrc == 0));
	if (rc == 0) {
		CHECK(a.family == (fam == 4 ? PM_AF_INET : PM_AF_INET6));
		CHECK(memcmp(a.bytes, want, fam == 4 ? 4 : 16) == 0);
	} else {
		CHECK(a.family == PM_AF_NONE);
	}
}

/* ---- escaping and reply lines ------------------------------------------------ */

static void
check_escape(const uint8_t *in, size_t n)
{
	char *esc = malloc(2 * n + 1), *back = malloc(n + 1), *small;
	int e, u;
	size_t size;

	CHECK(esc != NULL && back != NULL);
	e = pm_adminproto_escape(esc, 2 * n + 1, in, n);
	CHECK(e >= (int)n && e <= 2 * (int)n && esc[e] == '\0');
	CHECK(memchr(esc, '\t', (size_t)e) == NULL && memchr(esc, '\n', (size_t)e) == NULL &&
	      memchr(esc, '\r', (size_t)e) == NULL && memchr(esc, '\0', (size_t)e) == NULL);
	u = pm_adminproto_unescape(back, n + 1, esc, (size_t)e);
	CHECK(u == (int)n && memcmp(back, in, n) == 0);
	/* Too small by one (exact-size heap block: ASan sees any overrun). */
	size = (size_t)e;
	small = malloc(size > 0 ? size : 1);
	CHECK(small != NULL);
	CHECK(pm_adminproto_escape(small, size, in, n) == -ENOSPC);
	/* Unescaping arbitrary bytes never grows them. */
	u = pm_adminproto_unescape(back, n + 1, in, n);
	CHECK(u >= 0 && (size_t)u <= n);
	free(small);
	free(esc);
	free(back);
}

/* Call @fmt at every size up to the one that fits; check the contract. */
#define CHECK_FMT(call_with_buf_size)                                                  \
	do {                                                                           \
		char *buf;                                                             \
		size_t size;                                                           \
		int r, full;                                                           \
		buf = malloc(4096);                                                    \
		CHECK(buf != NULL);                                                    \
		size = 4096;                                                           \
		full = call_with_buf_size;                                             \
		free(buf);                                                             \
		CHECK(full > 0 || full == -EINVAL);                                    \
		if (full > 0) {                                                        \
			for (size = 0; size <= (size_t)full + 1; size++) {              \
				buf = malloc(size > 0 ? size : 1);                      \
				CHECK(buf != NULL);                                     \
				r = call_with_buf_size;                                 \
				if (size <= (size_t)full) {                             \
					CHECK(r == -ENOSPC);                            \
				} else {                                                \
					CHECK(r == full && buf[r] == '\0');             \
					CHECK(buf[r - 1] == '\n');                      \
					CHECK(memchr(buf, '\n', (size_t)r - 1) == NULL); \
				}                                                       \
				free(buf);                                              \
			}                                                               \
		}                                                                      \
	} while (0)

static void
check_fmt(const uint8_t *in, size_t n)
{
	struct pm_addr a = { 0 }, b = { 0 };
	char tag[65];	/* short: every buffer size below the line's is tried */
	uint32_t u32 = 0;
	int64_t i64 = 0;

	if (n > sizeof(tag) - 1)
		n = sizeof(tag) - 1;
	memcpy(tag, in, n);
	tag[n] = '\0';
	(void)pm_adminproto_parse_ip(&a, tag, n < 46 ? n : 46);
	if (n >= 8) {
		memcpy(&u32, in, 4);
		memcpy(&i64, in, 8);
	}
	if (n >= 20) {
		b.family = in[0] & 1 ? PM_AF_INET : PM_AF_INET6;
		memcpy(b.bytes, in + 4, 16);
		if (b.family == PM_AF_INET)
			memset(b.bytes + 4, 0, 12);
	}
	CHECK_FMT(pm_adminproto_fmt_host(buf, size, &b, u32, ~u32, tag, n & 1, i64));
	CHECK_FMT(pm_adminproto_fmt_addr(buf, size, &a));
	CHECK_FMT(pm_adminproto_fmt_user(buf, size, u32, ~u32, &b));
	CHECK_FMT(pm_adminproto_fmt_lookup(buf, size, &a, u32, &b, n & 2 ? &a : NULL));
	CHECK_FMT(pm_adminproto_fmt_director_self(buf, size, &b, (uint16_t)u32, i64, ~u32));
	CHECK_FMT(pm_adminproto_fmt_counter(buf, size, tag, (uint64_t)i64));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm_adminproto_cmd cmd;
	static const uint8_t empty[1];
	uint8_t *with_hs;

	if (size == 0)
		data = empty;	/* never hand NULL to mem*() */
	chunkings_agree(data, size);
	with_hs = malloc(sizeof(hs) - 1 + size);
	CHECK(with_hs != NULL);
	memcpy(with_hs, hs, sizeof(hs) - 1);
	if (size > 0)
		memcpy(with_hs + sizeof(hs) - 1, data, size);
	chunkings_agree(with_hs, sizeof(hs) - 1 + size);
	free(with_hs);

	/* The whole input as one line, as the decoder alone sees it. */
	(void)pm_adminproto_decode_line((const char *)data, size, &cmd);
	CHECK(size <= PM_ADMINPROTO_LINE_MAX || cmd.reason != NULL);

	check_ip(data, size);
	check_escape(data, size);
	check_fmt(data, size);
	return 0;
}
