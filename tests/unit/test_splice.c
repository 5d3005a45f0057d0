/*
 * test_splice.c -- the spliced-session header rewrite, classification and
 * trimming (tcp/splice.h).
 *
 * Expected packets are built from scratch by a reference builder whose
 * checksums come from a bytewise RFC 1071 implementation written here (not
 * net/cksum.c), so comparing a rewritten frame with the expected one byte
 * for byte checks every field, that the payload, link header and padding
 * are untouched, and that the incrementally updated checksums equal a full
 * recomputation. The two golden frames were computed by an independent
 * Python script. Frames under test live in heap buffers of exactly their
 * length, so ASan catches a write outside the frame. The random cases use a
 * fixed, printed seed; set PM_SEED to replay another run.
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

#include "net/l3.h"
#include "tcp/splice.h"
#include "testrand.h"

#define TEST_SEED	0x5b11ce01u
#define PAYLOAD_MAX	1460
#define FRAME_MAX	(24 + 20 + 60 + PAYLOAD_MAX + 8)
#define NRANDOM		4000

#define F_FIN	0x01
#define F_SYN	0x02
#define F_RST	0x04
#define F_PSH	0x08
#define F_ACK	0x10
#define F_URG	0x20

/* The golden pair: client 192.0.2.10:51234 -> VIP 198.51.100.1:143, local
 * 10.1.0.2:40001 -> backend 10.1.0.20:143. client_nxt 0x11223344,
 * to_client_nxt 0xaabbccdd, backend_nxt 0xfffffff0, to_backend_nxt 0x100;
 * scales client 7, to_backend 7, backend 9, to_client 7. */

/* Client -> backend: ACK|PSH, NOP NOP SACK(2 blocks), "a2 NOOP\r\n"
 * (9 bytes), TTL 57. */
static const uint8_t golden_c2b_in[83] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x45, 0x1c, 0x46, 0x40, 0x00, 0x39, 0x06,
	0x39, 0x2e, 0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x33, 0x64, 0x01, 0xc8, 0x22,
	0x00, 0x8f, 0x11, 0x22, 0x33, 0x4d, 0xaa, 0xbb, 0xcc, 0xfb, 0xa0, 0x18,
	0x01, 0xf5, 0xd9, 0x64, 0x00, 0x00, 0x01, 0x01, 0x05, 0x12, 0xaa, 0xbb,
	0xcd, 0x41, 0xaa, 0xbb, 0xcd, 0xa5, 0xaa, 0xbb, 0xce, 0x09, 0xaa, 0xbb,
	0xce, 0x6d, 0x61, 0x32, 0x20, 0x4e, 0x4f, 0x4f, 0x50, 0x0d, 0x0a,
};

static const uint8_t golden_c2b_out[83] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x45, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06,
	0x0a, 0x56, 0x0a, 0x01, 0x00, 0x02, 0x0a, 0x01, 0x00, 0x14, 0x9c, 0x41,
	0x00, 0x8f, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x0e, 0xa0, 0x18,
	0x01, 0xf5, 0x77, 0x23, 0x00, 0x00, 0x01, 0x01, 0x05, 0x12, 0x00, 0x00,
	0x00, 0x54, 0x00, 0x00, 0x00, 0xb8, 0x00, 0x00, 0x01, 0x1c, 0x00, 0x00,
	0x01, 0x80, 0x61, 0x32, 0x20, 0x4e, 0x4f, 0x4f, 0x50, 0x0d, 0x0a,
};

/* Backend -> client: ACK|FIN, window 0x123 at scale 9 (0x48c at 7), NOP
 * SACK(1 block, edges at odd offsets) NOP NOP NOP TS, "* OK odd!\r\n"
 * (11 bytes), TTL 63. */
static const uint8_t golden_b2c_in[89] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x4b, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06,
	0x27, 0x96, 0x0a, 0x01, 0x00, 0x14, 0x0a, 0x01, 0x00, 0x02, 0x00, 0x8f,
	0x9c, 0x41, 0xff, 0xff, 0xff, 0xf5, 0x00, 0x00, 0x01, 0x09, 0xb0, 0x11,
	0x01, 0x23, 0x1e, 0x33, 0x00, 0x00, 0x01, 0x05, 0x0a, 0x00, 0x00, 0x01,
	0x14, 0x00, 0x00, 0x01, 0x1d, 0x01, 0x01, 0x01, 0x08, 0x0a, 0x01, 0x02,
	0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x2a, 0x20, 0x4f, 0x4b, 0x20, 0x6f,
	0x64, 0x64, 0x21, 0x0d, 0x0a,
};

static const uint8_t golden_b2c_out[89] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x4b, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	0x4e, 0x6e, 0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x0a, 0x00, 0x8f,
	0xc8, 0x22, 0xaa, 0xbb, 0xcc, 0xe2, 0x11, 0x22, 0x33, 0x4d, 0xb0, 0x11,
	0x04, 0x8c, 0x8f, 0x2b, 0x00, 0x00, 0x01, 0x05, 0x0a, 0x11, 0x22, 0x33,
	0x58, 0x11, 0x22, 0x33, 0x61, 0x01, 0x01, 0x01, 0x08, 0x0a, 0x01, 0x02,
	0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x2a, 0x20, 0x4f, 0x4b, 0x20, 0x6f,
	0x64, 0x64, 0x21, 0x0d, 0x0a,
};

static void
golden_params(struct pm_splice_params *p)
{
	static const uint8_t client[4] = { 192, 0, 2, 10 }, vip[4] = { 198, 51, 100, 1 };
	static const uint8_t local[4] = { 10, 1, 0, 2 }, backend[4] = { 10, 1, 0, 20 };

	memset(p, 0, sizeof(*p));
	memcpy(p->client_addr, client, 4);
	memcpy(p->vip_addr, vip, 4);
	memcpy(p->local_addr, local, 4);
	memcpy(p->backend_addr, backend, 4);
	p->client_port = 51234;
	p->vip_port = 143;
	p->local_port = 40001;
	p->backend_port = 143;
	p->client_nxt = 0x11223344;
	p->to_client_nxt = 0xaabbccdd;
	p->backend_nxt = 0xfffffff0;
	p->to_backend_nxt = 0x100;
	p->client_wscale = 7;
	p->to_backend_wscale = 7;
	p->backend_wscale = 9;
	p->to_client_wscale = 7;
}

/* ---- reference packet builder and checksums (independent of cksum.c) ---- */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 as written: big-endian words, odd byte padded, folded. */
static uint16_t
ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n % 2 != 0)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16 != 0)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The folded sum of pseudo-header + segment of the IPv4 packet at @ip;
 * with @zero_cksum, as if the TCP checksum field were 0. */
static uint16_t
ref_tcp_sum2(const uint8_t *ip, bool zero_cksum)
{
	static uint8_t buf[12 + 60 + PAYLOAD_MAX];
	size_t seg = get16(ip + 2) - 20u;

	memcpy(buf, ip + 12, 8);
	buf[8] = 0;
	buf[9] = ip[9];
	put16(buf + 10, (uint16_t)seg);
	memcpy(buf + 12, ip + 20, seg);
	if (zero_cksum)
		put16(buf + 12 + 16, 0);
	return ref_sum(buf, 12 + seg);
}

static uint16_t
ref_tcp_sum(const uint8_t *ip)
{
	return ref_tcp_sum2(ip, false);
}

/* The checksum a full computation puts in the TCP header of @ip. */
static uint16_t
ref_tcp_cksum(const uint8_t *ip)
{
	return (uint16_t)~ref_tcp_sum2(ip, true);
}

static uint16_t
ref_ip_cksum(const uint8_t *ip)
{
	uint8_t h[20];

	memcpy(h, ip, 20);
	h[10] = h[11] = 0;
	return (uint16_t)~ref_sum(h, 20);
}

/* 0 and 0xffff are both zero in one's complement. */
static uint16_t
norm(uint16_t s)
{
	return s == 0xffff ? 0 : s;
}

struct spec {
	size_t link;		/* bytes before the IPv4 header */
	size_t pad;		/* bytes after the packet */
	uint8_t src[4], dst[4];
	uint8_t ttl, tos;
	uint16_t id, frag;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, urp;
	uint8_t opt[40];
	size_t optlen;		/* multiple of 4 */
	uint8_t payload[PAYLOAD_MAX];
	size_t plen;
};

/* Build @s into @f with full checksums; returns the frame length. */
static size_t
build(uint8_t *f, const struct spec *s)
{
	uint8_t *ip = f + s->link, *th = ip + 20;
	size_t hl = 20 + s->optlen, seg = hl + s->plen, i;

	for (i = 0; i < s->link; i++)
		f[i] = (uint8_t)(0xe0 + i);
	ip[0] = 0x45;
	ip[1] = s->tos;
	put16(ip + 2, (uint16_t)(20 + seg));
	put16(ip + 4, s->id);
	put16(ip + 6, s->frag);
	ip[8] = s->ttl;
	ip[9] = 6;
	memcpy(ip + 12, s->src, 4);
	memcpy(ip + 16, s->dst, 4);
	put16(ip + 10, ref_ip_cksum(ip));
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = s->flags;
	put16(th + 14, s->wnd);
	put16(th + 18, s->urp);
	memcpy(th + 20, s->opt, s->optlen);
	memcpy(th + hl, s->payload, s->plen);
	put16(th + 16, ref_tcp_cksum(ip));
	for (i = 0; i < s->pad; i++)
		th[seg + i] = (uint8_t)(0xd0 + i);
	return s->link + 20 + seg + s->pad;
}

static uint8_t *
dup_frame(const uint8_t *f, size_t len)
{
	uint8_t *c = malloc(len > 0 ? len : 1);

	assert_non_null(c);
	memcpy(c, f, len);
	return c;
}

/* An independent statement of pm_splice_wnd(). */
static uint16_t
ref_wnd(uint16_t w, unsigned in, unsigned out)
{
	uint64_t bytes = (uint64_t)w << in;
	uint64_t v = bytes / ((uint64_t)1 << out);

	if (v == 0 && w != 0)
		v = 1;
	return v > 65535 ? 65535 : (uint16_t)v;
}

/* A spec of the golden client segment without options. */
static void
plain_spec(struct spec *s, size_t plen)
{
	static const uint8_t src[4] = { 192, 0, 2, 10 }, dst[4] = { 198, 51, 100, 1 };
	size_t i;

	memset(s, 0, sizeof(*s));
	s->link = PM_ETH_HLEN;
	memcpy(s->src, src, 4);
	memcpy(s->dst, dst, 4);
	s->ttl = 57;
	s->id = 0x1c46;
	s->frag = 0x4000;
	s->sport = 51234;
	s->dport = 143;
	s->seq = 0x11223344;
	s->ack = 0xaabbccdd;
	s->flags = F_ACK | F_PSH;
	s->wnd = 0x01f5;
	for (i = 0; i < plen; i++)
		s->payload[i] = (uint8_t)(0x41 + i * 7);
	s->plen = plen;
}

/* The spec @s after rewrite by @d; @edges lists the TCP-header offsets of
 * the SACK edges in it. */
static void
expect_spec(struct spec *e, const struct spec *s, const struct pm_splice_dir *d,
	    const size_t *edges, size_t nedges)
{
	size_t i;

	*e = *s;
	memcpy(e->src, d->saddr, 4);
	memcpy(e->dst, d->daddr, 4);
	e->sport = d->sport;
	e->dport = d->dport;
	e->ttl = d->ttl;
	e->seq = s->seq + d->seq_delta;
	if ((s->flags & F_ACK) != 0)
		e->ack = s->ack + d->ack_delta;
	e->wnd = ref_wnd(s->wnd, d->wnd_shift_in, d->wnd_shift_out);
	for (i = 0; i < nedges; i++) {
		uint8_t *p = e->opt + edges[i] - 20;

		put32(p, get32(p) + d->ack_delta);
	}
}

/* Rewrite a copy of @s's frame with @d and compare it with the frame of
 * @e; returns the rewrite's result. */
static int
rewrite_and_compare(const struct spec *s, const struct spec *e, const struct pm_splice_dir *d)
{
	static uint8_t f[FRAME_MAX], want[FRAME_MAX];
	size_t len = build(f, s), wlen = build(want, e);
	uint8_t *c = dup_frame(f, len);
	int rc;

	assert_int_equal(len, wlen);
	rc = pm_splice_rewrite(c, len, s->link, s->link + 20, d);
	if (rc < 0) {
		size_t i;

		for (i = 0; i < s->optlen; i++)
			print_message("# opt[%zu] = %u\n", i, s->opt[i]);
		fail_msg("rewrite refused a valid packet: %d", rc);
	}
	if (memcmp(c, want, len) != 0) {
		size_t i;

		for (i = 0; i < len; i++)
			if (c[i] != want[i])
				print_message("# byte %zu: got 0x%02x want 0x%02x\n", i, c[i],
					      want[i]);
		fail_msg("rewritten frame differs from the reference");
	}
	free(c);
	return rc;
}

/* ---- golden frames ---- */

static void
test_splice_golden_client_to_backend_is_exact(void **state)
{
	struct pm_splice_params p;
	struct pm_splice_dir cb, bc;
	uint8_t *f = dup_frame(golden_c2b_in, sizeof(golden_c2b_in));

	(void)state;
	golden_params(&p);
	assert_int_equal(pm_splice_init(&p, &cb, &bc), 0);
	assert_int_equal(pm_splice_rewrite(f, sizeof(golden_c2b_in), 14, 34, &cb), 0);
	assert_memory_equal(f, golden_c2b_out, sizeof(golden_c2b_out));
	free(f);
}

static void
test_splice_golden_backend_to_client_is_exact_and_flags_ts(void **state)
{
	struct pm_splice_params p;
	struct pm_splice_dir cb, bc;
	uint8_t *f = dup_frame(golden_b2c_in, sizeof(golden_b2c_in));

	(void)state;
	golden_params(&p);
	assert_int_equal(pm_splice_init(&p, &cb, &bc), 0);
	assert_int_equal(pm_splice_rewrite(f, sizeof(golden_b2c_in), 14, 34, &bc),
			 PM_SPLICE_F_TSOPT);
	assert_memory_equal(f, golden_b2c_out, sizeof(golden_b2c_out));
	free(f);
}

/* The golden frames' checksums are what the reference computes, so the
 * Python script and this file's reference agree. */
static void
test_splice_golden_frames_have_reference_checksums(void **state)
{
	const uint8_t *frames[4] = { golden_c2b_in, golden_c2b_out, golden_b2c_in,
				     golden_b2c_out };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		const uint8_t *ip = frames[i] + 14;

		assert_int_equal(get16(ip + 10), ref_ip_cksum(ip));
		assert_int_equal(get16(ip + 36), ref_tcp_cksum(ip));
	}
}

/* ---- init ---- */

static void
test_splice_init_maps_splice_points_both_ways(void **state)
{
	struct pm_splice_params p;
	struct pm_splice_dir cb, bc;

	(void)state;
	golden_params(&p);
	assert_int_equal(pm_splice_init(&p, &cb, &bc), 0);
	/* The client's first spliced byte is postmux's next byte to the
	 * backend; the backend's first spliced byte is postmux's next byte to
	 * the client. */
	assert_int_equal((uint32_t)(p.client_nxt + cb.seq_delta), p.to_backend_nxt);
	assert_int_equal((uint32_t)(p.backend_nxt + bc.seq_delta), p.to_client_nxt);
	/* An ack of everything postmux sent before the splice maps to an ack
	 * of everything the other side sent before it. */
	assert_int_equal((uint32_t)(p.to_client_nxt + cb.ack_delta), p.backend_nxt);
	assert_int_equal((uint32_t)(p.to_backend_nxt + bc.ack_delta), p.client_nxt);
	/* Each ack delta undoes the other direction's seq delta. */
	assert_int_equal((uint32_t)(cb.ack_delta + bc.seq_delta), 0);
	assert_int_equal((uint32_t)(bc.ack_delta + cb.seq_delta), 0);
	assert_memory_equal(cb.saddr, p.local_addr, 4);
	assert_memory_equal(cb.daddr, p.backend_addr, 4);
	assert_int_equal(cb.sport, 40001);
	assert_int_equal(cb.dport, 143);
	assert_memory_equal(bc.saddr, p.vip_addr, 4);
	assert_memory_equal(bc.daddr, p.client_addr, 4);
	assert_int_equal(bc.sport, 143);
	assert_int_equal(bc.dport, 51234);
	assert_int_equal(cb.wnd_shift_in, 7);
	assert_int_equal(cb.wnd_shift_out, 7);
	assert_int_equal(bc.wnd_shift_in, 9);
	assert_int_equal(bc.wnd_shift_out, 7);
	assert_int_equal(cb.ttl, PM_L3_REPLY_TTL);
	assert_int_equal(bc.ttl, PM_L3_REPLY_TTL);
}

static void
test_splice_init_shift_over_14_is_rejected(void **state)
{
	struct pm_splice_params p;
	struct pm_splice_dir cb, bc, cb0, bc0;
	uint8_t *fields[4];
	size_t i;

	(void)state;
	golden_params(&p);
	fields[0] = &p.client_wscale;
	fields[1] = &p.to_client_wscale;
	fields[2] = &p.backend_wscale;
	fields[3] = &p.to_backend_wscale;
	for (i = 0; i < 4; i++) {
		golden_params(&p);
		*fields[i] = 14;
		assert_int_equal(pm_splice_init(&p, &cb, &bc), 0);
		*fields[i] = 15;
		memset(&cb, 0xa5, sizeof(cb));
		memset(&bc, 0xa5, sizeof(bc));
		cb0 = cb;
		bc0 = bc;
		assert_int_equal(pm_splice_init(&p, &cb, &bc), -EINVAL);
		assert_memory_equal(&cb, &cb0, sizeof(cb));
		assert_memory_equal(&bc, &bc0, sizeof(bc));
	}
}

/* ---- random packets ---- */

/* Random options into @s (up to 40 bytes, padded to 4): NOPs, SACK with
 * 1-4 blocks at any alignment, timestamps, MSS, unknown kinds, and an EOL
 * followed by junk. Records the SACK edge offsets; returns true if a
 * timestamp option was placed. */
static bool
rand_options(uint32_t *r, struct spec *s, size_t *edges, size_t *nedges)
{
	size_t n = 0, k, j, items = xorshift32(r) % 7;
	bool ts = false;

	*nedges = 0;
	while (items-- > 0) {
		switch (xorshift32(r) % 5) {
		case 0:
			if (n < 40)
				s->opt[n++] = 1;
			break;
		case 1:
			k = 1 + xorshift32(r) % 4;
			while (k > 0 && 2 + 8 * k > 40 - n)
				k--;
			if (k == 0)
				break;
			s->opt[n] = 5;
			s->opt[n + 1] = (uint8_t)(2 + 8 * k);
			for (j = 0; j < 2 * k; j++) {
				put32(s->opt + n + 2 + 4 * j, xorshift32(r));
				edges[(*nedges)++] = 20 + n + 2 + 4 * j;
			}
			n += 2 + 8 * k;
			break;
		case 2:
			if (40 - n < 10)
				break;
			s->opt[n] = 8;
			s->opt[n + 1] = 10;
			put32(s->opt + n + 2, xorshift32(r));
			put32(s->opt + n + 6, xorshift32(r));
			n += 10;
			ts = true;
			break;
		case 3:
			if (40 - n < 4)
				break;
			s->opt[n] = 2;
			s->opt[n + 1] = 4;
			put16(s->opt + n + 2, (uint16_t)xorshift32(r));
			n += 4;
			break;
		default:
			k = 2 + xorshift32(r) % 7;
			if (40 - n < k)
				break;
			s->opt[n] = (uint8_t)(200 + xorshift32(r) % 56);
			s->opt[n + 1] = (uint8_t)k;
			for (j = 2; j < k; j++)
				s->opt[n + j] = (uint8_t)xorshift32(r);
			n += k;
			break;
		}
	}
	if (n % 4 != 0 || xorshift32(r) % 4 == 0) {
		/* Pad with EOL then junk, or with NOPs. */
		bool eol = xorshift32(r) % 2 == 0 && n < 40;

		if (eol) {
			s->opt[n++] = 0;
			while (n % 4 != 0)
				s->opt[n++] = (uint8_t)xorshift32(r);
		} else {
			while (n % 4 != 0)
				s->opt[n++] = 1;
		}
	}
	s->optlen = n;
	return ts;
}

static void
rand_spec(uint32_t *r, struct spec *s, size_t *edges, size_t *nedges, bool *ts)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->link = xorshift32(r) % 24;
	s->pad = xorshift32(r) % 2 == 0 ? 0 : xorshift32(r) % 8;
	put32(s->src, xorshift32(r));
	put32(s->dst, xorshift32(r));
	s->ttl = (uint8_t)xorshift32(r);
	s->tos = (uint8_t)xorshift32(r);
	s->id = (uint16_t)xorshift32(r);
	s->frag = xorshift32(r) % 2 == 0 ? 0x4000 : 0;
	s->sport = (uint16_t)xorshift32(r);
	s->dport = (uint16_t)xorshift32(r);
	s->seq = xorshift32(r);
	s->ack = xorshift32(r);
	s->flags = (uint8_t)(xorshift32(r) & ~F_SYN);
	if (xorshift32(r) % 5 != 0)
		s->flags |= F_ACK;
	s->wnd = (uint16_t)xorshift32(r);
	if (xorshift32(r) % 8 == 0)
		s->wnd = (uint16_t)(xorshift32(r) % 8);
	s->urp = (uint16_t)xorshift32(r);
	*ts = rand_options(r, s, edges, nedges);
	switch (xorshift32(r) % 4) {
	case 0:
		s->plen = 0;
		break;
	case 1:
		s->plen = 1 + xorshift32(r) % 16;
		break;
	default:
		s->plen = xorshift32(r) % (PAYLOAD_MAX + 1);
		break;
	}
	for (i = 0; i < s->plen; i++)
		s->payload[i] = (uint8_t)xorshift32(r);
}

static void
rand_dir(uint32_t *r, struct pm_splice_dir *d)
{
	put32(d->saddr, xorshift32(r));
	put32(d->daddr, xorshift32(r));
	d->sport = (uint16_t)xorshift32(r);
	d->dport = (uint16_t)xorshift32(r);
	d->seq_delta = xorshift32(r);
	d->ack_delta = xorshift32(r);
	d->wnd_shift_in = (uint8_t)(xorshift32(r) % 15);
	d->wnd_shift_out = xorshift32(r) % 3 == 0 ? d->wnd_shift_in :
						     (uint8_t)(xorshift32(r) % 15);
	d->ttl = xorshift32(r) % 2 == 0 ? PM_L3_REPLY_TTL : (uint8_t)xorshift32(r);
}

static void
test_splice_random_packets_match_full_recomputation(void **state)
{
	uint32_t r = pm_test_seed("splice random packets", TEST_SEED);
	static struct spec s, e;
	struct pm_splice_dir d;
	size_t edges[16], nedges, odd_sack = 0, odd_len = 0, i;
	bool ts;

	(void)state;
	for (i = 0; i < NRANDOM; i++) {
		rand_spec(&r, &s, edges, &nedges, &ts);
		rand_dir(&r, &d);
		expect_spec(&e, &s, &d, edges, nedges);
		assert_int_equal(rewrite_and_compare(&s, &e, &d), ts ? PM_SPLICE_F_TSOPT : 0);
		odd_sack += nedges > 0 && edges[0] % 2 != 0;
		odd_len += s.plen % 2 != 0;
	}
	print_message("# %zu packets, %zu with odd-aligned SACK, %zu of odd length\n",
		      (size_t)NRANDOM, odd_sack, odd_len);
	assert_true(odd_sack > 50);
	assert_true(odd_len > 500);
}

static void
test_splice_deltas_across_the_wrap_are_modular(void **state)
{
	static struct spec s, e;
	struct pm_splice_dir d;
	size_t edges[4] = { 24, 28, 32, 36 };

	(void)state;
	plain_spec(&s, 7);
	s.seq = 0xfffffffe;
	s.ack = 0xffffffff;
	s.opt[0] = 1;
	s.opt[1] = 1;
	s.opt[2] = 5;
	s.opt[3] = 18;
	put32(s.opt + 4, 0xfffffff0);	/* a block straddling the wrap */
	put32(s.opt + 8, 0x00000010);
	put32(s.opt + 12, 0x7fffffff);
	put32(s.opt + 16, 0x80000001);
	s.optlen = 20;
	memset(&d, 0, sizeof(d));
	d.seq_delta = 5;
	d.ack_delta = 0x80000001;
	d.ttl = 64;
	expect_spec(&e, &s, &d, edges, 4);
	assert_int_equal(e.seq, 3);
	assert_int_equal(e.ack, 0x80000000);
	assert_int_equal(get32(e.opt + 4), 0x7ffffff1);
	assert_int_equal(get32(e.opt + 8), 0x80000011);
	assert_int_equal(get32(e.opt + 12), 0);
	assert_int_equal(get32(e.opt + 16), 2);
	rewrite_and_compare(&s, &e, &d);
	/* And a delta that is "negative". */
	d.seq_delta = (uint32_t)-0x10;
	d.ack_delta = 0xffffffff;
	s.seq = 0x8;
	s.ack = 0;
	expect_spec(&e, &s, &d, edges, 4);
	assert_int_equal(e.seq, 0xfffffff8);
	assert_int_equal(e.ack, 0xffffffff);
	rewrite_and_compare(&s, &e, &d);
}

static void
test_splice_ack_field_kept_without_ack_flag(void **state)
{
	static struct spec s, e;
	struct pm_splice_dir d;

	(void)state;
	plain_spec(&s, 0);
	s.flags = F_RST;
	s.ack = 0;
	memset(&d, 0, sizeof(d));
	d.seq_delta = 1000;
	d.ack_delta = 2000;
	d.ttl = 64;
	expect_spec(&e, &s, &d, NULL, 0);
	assert_int_equal(e.ack, 0);
	rewrite_and_compare(&s, &e, &d);
	s.flags = F_RST | F_ACK;
	expect_spec(&e, &s, &d, NULL, 0);
	assert_int_equal(e.ack, 2000);
	rewrite_and_compare(&s, &e, &d);
}

/* Unknown options, MSS in a non-SYN, and junk after EOL pass untouched;
 * a TS option is flagged. */
static void
test_splice_other_options_pass_untouched(void **state)
{
	static const uint8_t opts[20] = {
		2, 4, 0x05, 0xb4,		/* MSS (ignored outside SYN) */
		3, 3, 7, 1,			/* window scale, NOP */
		254, 6, 0xde, 0xad, 0xbe, 0xef,	/* experimental */
		0, 5, 10, 0xff, 0xff, 1,	/* EOL, then junk that looks like SACK */
	};
	static struct spec s, e;
	struct pm_splice_dir d;

	(void)state;
	plain_spec(&s, 33);
	memcpy(s.opt, opts, sizeof(opts));
	s.optlen = sizeof(opts);
	memset(&d, 0x37, sizeof(d));
	d.wnd_shift_in = 3;
	d.wnd_shift_out = 5;
	expect_spec(&e, &s, &d, NULL, 0);
	assert_int_equal(rewrite_and_compare(&s, &e, &d), 0);
	s.opt[14] = 8;	/* the EOL becomes a timestamp option (kind 8, len 5) */
	expect_spec(&e, &s, &d, NULL, 0);
	assert_int_equal(rewrite_and_compare(&s, &e, &d), PM_SPLICE_F_TSOPT);
}

/* ---- window ---- */

static void
test_splice_wnd_rescales_saturates_and_never_zeroes(void **state)
{
	static const struct {
		uint16_t w;
		unsigned in, out;
		uint16_t want;
	} v[] = {
		{ 0, 0, 0, 0 },		{ 0, 14, 0, 0 },	{ 0, 0, 14, 0 },
		{ 5, 7, 7, 5 },		{ 0xffff, 7, 7, 0xffff },
		{ 0x100, 2, 0, 0x400 },	{ 0x3fff, 2, 0, 0xfffc }, { 0x4000, 2, 0, 0xffff },
		{ 0xffff, 14, 0, 0xffff }, { 0xffff, 14, 13, 0xffff },
		{ 0x8000, 14, 13, 0xffff }, { 0x7fff, 14, 13, 0xfffe },
		{ 0x123, 9, 7, 0x48c },	{ 0x48c, 7, 9, 0x123 },	{ 0x48f, 7, 9, 0x123 },
		{ 8, 0, 2, 2 },		{ 7, 0, 2, 1 },		{ 4, 0, 2, 1 },
		{ 3, 0, 2, 1 },		{ 1, 0, 2, 1 },		{ 1, 0, 14, 1 },
		{ 0xffff, 0, 14, 3 },	{ 0x3fff, 0, 14, 1 },	{ 1, 14, 0, 0x4000 },
	};
	size_t i;
	unsigned in, out;
	uint32_t w;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(pm_splice_wnd(v[i].w, v[i].in, v[i].out), v[i].want);
		assert_int_equal(ref_wnd(v[i].w, v[i].in, v[i].out), v[i].want);
	}
	/* Exhaustive against the reference for a few shift pairs. */
	for (in = 0; in <= 14; in += 7)
		for (out = 0; out <= 14; out += 2)
			for (w = 0; w <= 0xffff; w++)
				if (pm_splice_wnd((uint16_t)w, in, out) !=
				    ref_wnd((uint16_t)w, in, out))
					fail_msg("wnd %u << %u >> %u", w, in, out);
}

static void
test_splice_window_field_is_rescaled_in_the_packet(void **state)
{
	static struct spec s, e;
	struct pm_splice_dir d;
	static const uint16_t wins[] = { 0, 1, 3, 0x123, 0x4000, 0xffff };
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.ttl = 64;
	for (i = 0; i < sizeof(wins) / sizeof(wins[0]); i++) {
		plain_spec(&s, 5);
		s.wnd = wins[i];
		d.wnd_shift_in = 9;	/* up */
		d.wnd_shift_out = 7;
		expect_spec(&e, &s, &d, NULL, 0);
		rewrite_and_compare(&s, &e, &d);
		d.wnd_shift_in = 0;	/* down: 1 and 3 must stay non-zero */
		d.wnd_shift_out = 2;
		expect_spec(&e, &s, &d, NULL, 0);
		assert_true(s.wnd == 0 || e.wnd != 0);
		rewrite_and_compare(&s, &e, &d);
		d.wnd_shift_in = 14;	/* saturating */
		d.wnd_shift_out = 0;
		expect_spec(&e, &s, &d, NULL, 0);
		rewrite_and_compare(&s, &e, &d);
	}
}

/* ---- checksum corner cases (RFC 1624) ---- */

/* One's complement addition of @x to a 16-bit word. */
static uint16_t
ones_add(uint16_t w, uint16_t x)
{
	uint32_t s = (uint32_t)w + x;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* A packet whose rewritten checksums are both exactly 0x0000: the sum
 * becomes 0xffff, where eqn. 2 of RFC 1624 would give 0xffff. */
static void
test_splice_cksum_result_zero_is_0000_not_ffff(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s, e;
	struct pm_splice_dir d;
	uint32_t r = pm_test_seed("splice cksum zero", TEST_SEED ^ 0x1624);
	size_t i, edges[16], nedges;
	bool ts;

	(void)state;
	for (i = 0; i < 200; i++) {
		const uint8_t *ip;
		uint16_t c_ip, c_tcp;

		rand_spec(&r, &s, edges, &nedges, &ts);
		if (s.plen < 2)
			s.plen = 2;
		rand_dir(&r, &d);
		expect_spec(&e, &s, &d, edges, nedges);
		build(f, &e);
		ip = f + e.link;
		c_ip = get16(ip + 10);
		c_tcp = get16(ip + 36);
		/* Adding the checksum to a covered word makes the sum 0xffff. */
		s.id = ones_add(s.id, c_ip);
		put16(s.payload, ones_add(get16(s.payload), c_tcp));
		expect_spec(&e, &s, &d, edges, nedges);
		build(f, &e);
		assert_int_equal(get16(ip + 10), 0);
		assert_int_equal(get16(ip + 36), 0);
		rewrite_and_compare(&s, &e, &d);
	}
}

/* An input checksum written as 0xffff where the canonical form is 0x0000
 * verifies; the output is the canonical full computation, even when the
 * rewrite changes nothing. */
static void
test_splice_cksum_ffff_input_gives_canonical_output(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s, e;
	struct pm_splice_dir d;
	size_t len;
	uint8_t *c, *ip;
	uint16_t id_fix, pl_fix;

	(void)state;
	plain_spec(&s, 10);
	len = build(f, &s);
	ip = f + s.link;
	/* Make both input checksums canonically 0x0000. */
	id_fix = get16(ip + 10);
	pl_fix = get16(ip + 36);
	s.id = ones_add(s.id, id_fix);
	put16(s.payload, ones_add(get16(s.payload), pl_fix));
	len = build(f, &s);
	assert_int_equal(get16(ip + 10), 0);
	assert_int_equal(get16(ip + 36), 0);
	/* Identity rewrite with 0xffff in both fields. */
	put16(ip + 10, 0xffff);
	put16(ip + 36, 0xffff);
	assert_int_equal(ref_sum(ip, 20), 0xffff);
	assert_int_equal(ref_tcp_sum(ip), 0xffff);
	memset(&d, 0, sizeof(d));
	memcpy(d.saddr, s.src, 4);
	memcpy(d.daddr, s.dst, 4);
	d.sport = s.sport;
	d.dport = s.dport;
	d.ttl = s.ttl;
	c = dup_frame(f, len);
	assert_int_equal(pm_splice_rewrite(c, len, s.link, s.link + 20, &d), 0);
	assert_int_equal(get16(c + s.link + 10), 0);
	assert_int_equal(get16(c + s.link + 36), 0);
	free(c);
	/* A real rewrite from 0xffff input equals the full computation. */
	d.seq_delta = 12345;
	d.ttl = 64;
	d.saddr[3] ^= 0x5a;
	expect_spec(&e, &s, &d, NULL, 0);
	build(f, &e);
	c = dup_frame(f, len);
	build(c, &s);
	put16(c + s.link + 10, 0xffff);
	put16(c + s.link + 36, 0xffff);
	assert_int_equal(pm_splice_rewrite(c, len, s.link, s.link + 20, &d), 0);
	assert_memory_equal(c, f, len);
	free(c);

	/* The degenerate case: 0xffff input, the old changed words summing to
	 * 0xffff, the new ones all zero. Plain eqn. 3 gives ~(0 + 0 + 0) =
	 * 0xffff here; the module must still give the canonical 0x0000. */
	plain_spec(&s, 10);
	memset(s.src, 0, 4);
	memset(s.dst, 0, 4);
	s.src[0] = s.src[1] = 0xff;
	s.sport = s.dport = 0;
	s.seq = 0;
	s.flags = F_PSH;
	len = build(f, &s);
	ip = f + s.link;
	put16(s.payload, ones_add(get16(s.payload), get16(ip + 36)));
	len = build(f, &s);
	assert_int_equal(get16(ip + 36), 0);
	put16(ip + 36, 0xffff);
	memset(&d, 0, sizeof(d));
	d.ttl = s.ttl;
	c = dup_frame(f, len);
	assert_int_equal(pm_splice_rewrite(c, len, s.link, s.link + 20, &d), 0);
	assert_int_equal(get16(c + s.link + 12), 0);	/* source now 0.0.0.0 */
	assert_int_equal(get16(c + s.link + 36), 0);
	assert_int_equal(ref_tcp_cksum(c + s.link), 0);
	free(c);
}

/* A corrupted segment stays exactly as corrupted: the one's complement
 * residue of the IPv4 header and of the TCP segment is unchanged. */
static void
test_splice_bad_checksum_stays_bad(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	struct pm_splice_dir d;
	uint32_t r = pm_test_seed("splice bad checksum", TEST_SEED ^ 0xbad);
	size_t i, len, edges[16], nedges, pos;
	bool ts;

	(void)state;
	for (i = 0; i < 500; i++) {
		uint16_t ip_res, tcp_res;
		uint8_t *ip;

		rand_spec(&r, &s, edges, &nedges, &ts);
		rand_dir(&r, &d);
		len = build(f, &s);
		ip = f + s.link;
		/* Corrupt a payload byte, the TCP checksum, or the IP ID. */
		pos = xorshift32(&r) % 3;
		if (pos == 0 && s.plen > 0)
			ip[20 + 20 + s.optlen + xorshift32(&r) % s.plen] ^= 0x10;
		else if (pos == 1)
			ip[36] ^= 0x01;
		else
			ip[4] ^= 0x80;
		ip_res = norm(ref_sum(ip, 20));
		tcp_res = norm(ref_tcp_sum(ip));
		assert_true(pm_splice_rewrite(f, len, s.link, s.link + 20, &d) >= 0);
		assert_int_equal(norm(ref_sum(ip, 20)), ip_res);
		assert_int_equal(norm(ref_tcp_sum(ip)), tcp_res);
		assert_true(ip_res != 0 || tcp_res != 0);
	}
}

/* ---- refusals ---- */

/* @trim_too: the layout is bad, so pm_splice_trim() refuses it as well
 * (it ignores options and shifts). */
static void
expect_refused(uint8_t *f, size_t len, size_t ip_off, size_t tcp_off,
	       const struct pm_splice_dir *d, bool trim_too, const char *what)
{
	uint8_t *c = dup_frame(f, len);
	int rc = pm_splice_rewrite(c, len, ip_off, tcp_off, d);

	if (rc != -EINVAL)
		fail_msg("%s: rewrite returned %d", what, rc);
	if (memcmp(c, f, len) != 0)
		fail_msg("%s: refused frame was modified", what);
	if (!trim_too)
		goto out;
	rc = pm_splice_trim(c, len, ip_off, tcp_off, 1);
	if (rc != -EINVAL || memcmp(c, f, len) != 0)
		fail_msg("%s: trim returned %d or modified the frame", what, rc);
out:
	free(c);
}

static void
test_splice_malformed_packets_are_refused_unchanged(void **state)
{
	static const struct {
		const char *what;
		uint8_t opt[8];
	} badopts[] = {
		{ "SACK of 9", { 5, 9, 0, 0, 0, 0, 0, 0 } },
		{ "SACK of 2", { 5, 2, 1, 1, 1, 1, 1, 1 } },
		{ "SACK of 11", { 1, 5, 11, 0, 0, 0, 0, 0 } },
		{ "option length 1", { 1, 1, 254, 1, 0, 0, 0, 0 } },
		{ "option length 0", { 254, 0, 0, 0, 0, 0, 0, 0 } },
		{ "option past the header", { 1, 1, 254, 7, 0, 0, 0, 0 } },
		{ "SACK past the header", { 1, 1, 5, 10, 0, 0, 0, 0 } },
		{ "kind without length", { 1, 1, 1, 1, 1, 1, 1, 254 } },
	};
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	struct pm_splice_dir d;
	size_t len, i;
	uint8_t *ip;

	(void)state;
	memset(&d, 0x11, sizeof(d));
	d.wnd_shift_in = 1;
	d.wnd_shift_out = 2;
	plain_spec(&s, 9);
	len = build(f, &s);
	ip = f + s.link;

	/* Every truncation of the frame. */
	for (i = 0; i < len; i++)
		expect_refused(f, i, s.link, s.link + 20, &d, true, "truncated");
	expect_refused(f, len, len + 1, len + 21, &d, true, "ip_off past the frame");
	expect_refused(f, len, s.link, s.link + 24, &d, true, "tcp_off not ip_off + 20");
	expect_refused(f, len, s.link + 1, s.link + 21, &d, true, "wrong ip_off");

	ip[0] = 0x65;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "version 6");
	ip[0] = 0x46;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "IHL 6");
	expect_refused(f, len, s.link, s.link + 24, &d, true, "IHL 6 with matching tcp_off");
	ip[0] = 0x45;
	put16(ip + 2, 39);
	expect_refused(f, len, s.link, s.link + 20, &d, true, "total length below 40");
	put16(ip + 2, (uint16_t)(len - s.link + 1));
	expect_refused(f, len, s.link, s.link + 20, &d, true, "total length past the frame");
	put16(ip + 2, (uint16_t)(len - s.link));
	put16(ip + 6, 0x2000);
	expect_refused(f, len, s.link, s.link + 20, &d, true, "MF");
	put16(ip + 6, 0x4001);
	expect_refused(f, len, s.link, s.link + 20, &d, true, "fragment offset");
	put16(ip + 6, 0x4000);
	ip[9] = 17;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "UDP");
	ip[9] = 6;
	ip[32] = 0x40;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "data offset 4");
	ip[32] = 0x80;	/* 32 bytes of a 29-byte segment */
	expect_refused(f, len, s.link, s.link + 20, &d, true, "data offset past the packet");
	ip[32] = 0xf0;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "data offset 15");
	ip[32] = 0x50;
	ip[33] = F_SYN;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "SYN");
	ip[33] = F_SYN | F_ACK;
	expect_refused(f, len, s.link, s.link + 20, &d, true, "SYN-ACK");
	ip[33] = F_ACK;
	d.wnd_shift_in = 15;
	expect_refused(f, len, s.link, s.link + 20, &d, false, "shift in 15");
	d.wnd_shift_in = 1;
	d.wnd_shift_out = 15;
	expect_refused(f, len, s.link, s.link + 20, &d, false, "shift out 15");
	d.wnd_shift_out = 2;
	/* Sanity: the restored frame is accepted. */
	{
		uint8_t *c = dup_frame(f, len);

		assert_int_equal(pm_splice_rewrite(c, len, s.link, s.link + 20, &d), 0);
		free(c);
	}

	for (i = 0; i < sizeof(badopts) / sizeof(badopts[0]); i++) {
		plain_spec(&s, 9);
		memcpy(s.opt, badopts[i].opt, 8);
		s.optlen = 8;
		len = build(f, &s);
		expect_refused(f, len, s.link, s.link + 20, &d, false, badopts[i].what);
	}
	/* Five SACK options cannot fit; four minimal ones do, and are all
	 * translated. */
	{
		static struct spec e;
		size_t edges[8];

		plain_spec(&s, 3);
		for (i = 0; i < 4; i++) {
			s.opt[10 * i] = 5;
			s.opt[10 * i + 1] = 10;
			put32(s.opt + 10 * i + 2, (uint32_t)i);
			put32(s.opt + 10 * i + 6, (uint32_t)i + 100);
			edges[2 * i] = 20 + 10 * i + 2;
			edges[2 * i + 1] = 20 + 10 * i + 6;
		}
		s.optlen = 40;
		expect_spec(&e, &s, &d, edges, 8);
		rewrite_and_compare(&s, &e, &d);
	}
}

/* Random bytes, and valid frames with random bytes flipped, in buffers of
 * exactly their size: never a crash, never a write on refusal. */
static void
test_splice_random_frames_are_refused_or_valid(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	struct pm_splice_dir d;
	uint32_t r = pm_test_seed("splice random frames", TEST_SEED ^ 0xf00);
	size_t i, j, len, edges[16], nedges, ip_off;
	long ok = 0;
	bool ts;

	(void)state;
	for (i = 0; i < 20000; i++) {
		uint8_t *c, *keep;
		int rc;

		rand_dir(&r, &d);
		if (i % 2 == 0) {
			len = xorshift32(&r) % 120;
			for (j = 0; j < len; j++)
				f[j] = (uint8_t)xorshift32(&r);
			ip_off = xorshift32(&r) % 20;
			if (len > ip_off && i % 4 == 0)
				f[ip_off] = 0x45;
		} else {
			rand_spec(&r, &s, edges, &nedges, &ts);
			len = build(f, &s);
			ip_off = s.link;
			for (j = xorshift32(&r) % 4; j > 0; j--) {
				size_t at = ip_off + xorshift32(&r) % (len - ip_off);

				f[at] = (uint8_t)xorshift32(&r);
			}
		}
		c = dup_frame(f, len);
		keep = dup_frame(f, len);
		rc = pm_splice_rewrite(c, len, ip_off, ip_off + 20, &d);
		if (rc < 0) {
			assert_int_equal(rc, -EINVAL);
			assert_memory_equal(c, keep, len);
		} else {
			ok++;
			assert_true(rc == 0 || rc == PM_SPLICE_F_TSOPT);
			/* Nothing before the IPv4 header changed. */
			assert_memory_equal(c, keep, ip_off);
		}
		memcpy(c, keep, len);
		rc = pm_splice_trim(c, len, ip_off, ip_off + 20, xorshift32(&r) % 64);
		if (rc < 0) {
			assert_int_equal(rc, -EINVAL);
			assert_memory_equal(c, keep, len);
		}
		free(c);
		free(keep);
	}
	print_message("# %ld of 20000 frames rewritten\n", ok);
	assert_true(ok > 1000);
}

/* ---- classify ---- */

static void
test_splice_classify_boundaries(void **state)
{
	static const struct {
		uint32_t seq, len, p;
		enum pm_splice_class want;
		uint32_t trim;
	} v[] = {
		/* Pure ACK at the splice point, and after it. */
		{ 1000, 0, 1000, PM_SPLICE_FORWARD, 0 },
		{ 1001, 0, 1000, PM_SPLICE_FORWARD, 0 },
		{ 1000, 10, 1000, PM_SPLICE_FORWARD, 0 },
		/* Zero-length segment before P (keepalive at P - 1). */
		{ 999, 0, 1000, PM_SPLICE_STALE, 0 },
		/* One byte (or a keepalive byte, or a FIN-only) at P - 1. */
		{ 999, 1, 1000, PM_SPLICE_STALE, 0 },
		/* FIN-only at P: forwarded. */
		{ 1000, 1, 1000, PM_SPLICE_FORWARD, 0 },
		{ 990, 10, 1000, PM_SPLICE_STALE, 0 },
		{ 990, 11, 1000, PM_SPLICE_TRIM, 10 },
		{ 999, 2, 1000, PM_SPLICE_TRIM, 1 },
		/* Three bytes and a FIN starting at P - 3: only the FIN is new. */
		{ 997, 4, 1000, PM_SPLICE_TRIM, 3 },
		/* Across the wrap. */
		{ 0xfffffff6, 10, 0, PM_SPLICE_STALE, 0 },
		{ 0xfffffff6, 11, 0, PM_SPLICE_TRIM, 10 },
		{ 0xfffffffb, 20, 5, PM_SPLICE_TRIM, 10 },
		{ 0xfffffffb, 10, 5, PM_SPLICE_STALE, 0 },
		{ 0, 0, 0xffffffff, PM_SPLICE_FORWARD, 0 },
		{ 0xffffffff, 0, 0, PM_SPLICE_STALE, 0 },
		{ 0xffffffff, 1, 0, PM_SPLICE_STALE, 0 },
		{ 0xffffffff, 2, 0, PM_SPLICE_TRIM, 1 },
		/* Far after P (up to 2^31 - 1) is forwarded. */
		{ 1000 + 0x7fffffffu, 0, 1000, PM_SPLICE_FORWARD, 0 },
		/* Exactly 2^31 away is undefined; documented as before P. */
		{ 1000 + 0x80000000u, 0, 1000, PM_SPLICE_STALE, 0 },
		{ 1000 - 0x7fffffffu, 0, 1000, PM_SPLICE_STALE, 0 },
		{ 1000 - 0x7fffffffu, 0x7fffffffu, 1000, PM_SPLICE_STALE, 0 },
		{ 1000 - 0x7ffffffeu, 0x7fffffffu, 1000, PM_SPLICE_TRIM, 0x7ffffffeu },
	};
	size_t i;
	uint32_t trim;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		trim = 0xdeadbeef;
		if (pm_splice_classify(v[i].seq, v[i].len, v[i].p, &trim) != v[i].want ||
		    trim != v[i].trim)
			fail_msg("case %zu: seq 0x%08x len %u p 0x%08x -> trim %u", i, v[i].seq,
				 v[i].len, v[i].p, trim);
	}
}

/* The verdict depends only on the distances from P: shifting everything
 * by a constant (across the wrap) changes nothing. */
static void
test_splice_classify_is_translation_invariant(void **state)
{
	uint32_t r = pm_test_seed("splice classify", TEST_SEED ^ 0xc1a5);
	size_t i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		uint32_t p = xorshift32(&r), k = xorshift32(&r);
		uint32_t seq = p + (xorshift32(&r) % 4000) - 2000, len = xorshift32(&r) % 3000;
		uint32_t t1, t2;
		enum pm_splice_class c1 = pm_splice_classify(seq, len, p, &t1);
		enum pm_splice_class c2 = pm_splice_classify(seq + k, len, p + k, &t2);
		int64_t d = (int64_t)(int32_t)(seq - p);

		assert_int_equal(c1, c2);
		assert_int_equal(t1, t2);
		if (d >= 0)
			assert_int_equal(c1, PM_SPLICE_FORWARD);
		else if (d + (int64_t)len <= 0)
			assert_int_equal(c1, PM_SPLICE_STALE);
		else {
			assert_int_equal(c1, PM_SPLICE_TRIM);
			assert_int_equal(t1, (uint32_t)-d);
			assert_true(t1 > 0 && t1 < len);
		}
	}
}

/* ---- trim ---- */

/* Trim a copy of @s's frame by @trim and compare with @e's frame. */
static void
trim_and_compare(const struct spec *s, const struct spec *e, uint32_t trim)
{
	static uint8_t f[FRAME_MAX], want[FRAME_MAX];
	size_t len = build(f, s), wlen = build(want, e);
	uint8_t *c = dup_frame(f, len);

	assert_int_equal(len - trim, wlen);
	assert_int_equal(pm_splice_trim(c, len, s->link, s->link + 20, trim), 0);
	if (memcmp(c + trim, want, wlen) != 0)
		fail_msg("trim %u of a %zu-byte payload differs from the reference", trim,
			 s->plen);
	free(c);
}

static void
trimmed_spec(struct spec *e, const struct spec *s, uint32_t trim)
{
	*e = *s;
	e->seq = s->seq + trim;
	e->plen = s->plen - trim;
	memmove(e->payload, s->payload + trim, e->plen);
	if ((s->flags & F_URG) != 0) {
		if (s->urp <= trim) {
			e->flags = (uint8_t)(s->flags & ~F_URG);
			e->urp = 0;
		} else {
			e->urp = (uint16_t)(s->urp - trim);
		}
	}
}

static void
test_splice_trim_odd_and_even_match_reference(void **state)
{
	static struct spec s, e;
	uint32_t r = pm_test_seed("splice trim", TEST_SEED ^ 0x7e1);
	size_t i, edges[16], nedges;
	uint32_t trim;
	bool ts;

	(void)state;
	/* Every trim of a short odd and even payload. */
	for (i = 1; i <= 2; i++) {
		plain_spec(&s, 20 + i);
		for (trim = 0; trim <= s.plen; trim++) {
			trimmed_spec(&e, &s, trim);
			trim_and_compare(&s, &e, trim);
		}
	}
	for (i = 0; i < 2000; i++) {
		rand_spec(&r, &s, edges, &nedges, &ts);
		if (s.plen == 0)
			continue;
		trim = 1 + xorshift32(&r) % (uint32_t)s.plen;
		if (i % 3 == 0)
			trim |= 1;
		if (trim > s.plen)
			trim = (uint32_t)s.plen;
		trimmed_spec(&e, &s, trim);
		trim_and_compare(&s, &e, trim);
	}
}

static void
test_splice_trim_to_fin_only_and_urgent_pointer(void **state)
{
	static struct spec s, e;

	(void)state;
	/* Three bytes + FIN starting at P - 3 (classify: TRIM 3). */
	plain_spec(&s, 3);
	s.flags = F_ACK | F_FIN;
	trimmed_spec(&e, &s, 3);
	assert_int_equal(e.plen, 0);
	trim_and_compare(&s, &e, 3);
	/* Urgent pointer beyond the trim: moved back. */
	plain_spec(&s, 10);
	s.flags |= F_URG;
	s.urp = 5;
	trimmed_spec(&e, &s, 3);
	assert_int_equal(e.urp, 2);
	assert_true((e.flags & F_URG) != 0);
	trim_and_compare(&s, &e, 3);
	/* Urgent data wholly trimmed: URG cleared. */
	s.urp = 3;
	trimmed_spec(&e, &s, 3);
	assert_int_equal(e.urp, 0);
	assert_true((e.flags & F_URG) == 0);
	trim_and_compare(&s, &e, 3);
	/* Without URG the pointer is left alone. */
	s.flags = F_ACK;
	s.urp = 1;
	trimmed_spec(&e, &s, 3);
	assert_int_equal(e.urp, 1);
	trim_and_compare(&s, &e, 3);
}

static void
test_splice_trim_then_rewrite_equals_rewrite_then_trim(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	struct pm_splice_dir d;
	uint32_t r = pm_test_seed("splice trim commute", TEST_SEED ^ 0xc0);
	size_t i, len, edges[16], nedges;
	bool ts;

	(void)state;
	for (i = 0; i < 500; i++) {
		uint8_t *a, *b;
		uint32_t trim;

		rand_spec(&r, &s, edges, &nedges, &ts);
		if (s.plen == 0)
			continue;
		rand_dir(&r, &d);
		trim = 1 + xorshift32(&r) % (uint32_t)s.plen;
		len = build(f, &s);
		a = dup_frame(f, len);
		b = dup_frame(f, len);
		assert_int_equal(pm_splice_trim(a, len, s.link, s.link + 20, trim), 0);
		assert_true(pm_splice_rewrite(a + trim, len - trim, s.link, s.link + 20, &d) >= 0);
		assert_true(pm_splice_rewrite(b, len, s.link, s.link + 20, &d) >= 0);
		assert_int_equal(pm_splice_trim(b, len, s.link, s.link + 20, trim), 0);
		assert_memory_equal(a + trim, b + trim, len - trim);
		free(a);
		free(b);
	}
}

static void
test_splice_trim_refusals_leave_frame_unchanged(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	size_t len;
	uint8_t *c;

	(void)state;
	plain_spec(&s, 9);
	len = build(f, &s);
	c = dup_frame(f, len);
	assert_int_equal(pm_splice_trim(c, len, s.link, s.link + 20, 10), -EINVAL);
	assert_int_equal(pm_splice_trim(c, len, s.link, s.link + 20, 0xffffffffu), -EINVAL);
	assert_memory_equal(c, f, len);
	assert_int_equal(pm_splice_trim(c, len, s.link, s.link + 20, 0), 0);
	assert_memory_equal(c, f, len);
	c[s.link + 33] = F_SYN;
	assert_int_equal(pm_splice_trim(c, len, s.link, s.link + 20, 1), -EINVAL);
	free(c);
	/* Ethernet padding does not count as payload. */
	s.pad = 6;
	len = build(f, &s);
	c = dup_frame(f, len);
	assert_int_equal(pm_splice_trim(c, len, s.link, s.link + 20, 10), -EINVAL);
	assert_memory_equal(c, f, len);
	free(c);
}

static void
test_splice_trim_bad_checksum_stays_bad(void **state)
{
	static uint8_t f[FRAME_MAX];
	static struct spec s;
	uint32_t r = pm_test_seed("splice trim bad", TEST_SEED ^ 0x7bad);
	size_t i, len, edges[16], nedges;
	bool ts;

	(void)state;
	for (i = 0; i < 500; i++) {
		uint32_t trim;
		size_t pos;
		uint8_t *ip;

		rand_spec(&r, &s, edges, &nedges, &ts);
		if (s.plen < 2)
			continue;
		len = build(f, &s);
		trim = 1 + xorshift32(&r) % (uint32_t)(s.plen - 1);
		/* Corrupt a kept byte, or a dropped one. */
		pos = xorshift32(&r) % 2 == 0 ? trim + xorshift32(&r) % (s.plen - trim) :
						xorshift32(&r) % trim;
		f[s.link + 40 + s.optlen + pos] ^= 0x04;
		assert_int_equal(pm_splice_trim(f, len, s.link, s.link + 20, trim), 0);
		ip = f + trim + s.link;
		assert_int_equal(ref_sum(ip, 20), 0xffff);
		assert_true(norm(ref_tcp_sum(ip)) != 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_splice_golden_client_to_backend_is_exact),
		cmocka_unit_test(test_splice_golden_backend_to_client_is_exact_and_flags_ts),
		cmocka_unit_test(test_splice_golden_frames_have_reference_checksums),
		cmocka_unit_test(test_splice_init_maps_splice_points_both_ways),
		cmocka_unit_test(test_splice_init_shift_over_14_is_rejected),
		cmocka_unit_test(test_splice_random_packets_match_full_recomputation),
		cmocka_unit_test(test_splice_deltas_across_the_wrap_are_modular),
		cmocka_unit_test(test_splice_ack_field_kept_without_ack_flag),
		cmocka_unit_test(test_splice_other_options_pass_untouched),
		cmocka_unit_test(test_splice_wnd_rescales_saturates_and_never_zeroes),
		cmocka_unit_test(test_splice_window_field_is_rescaled_in_the_packet),
		cmocka_unit_test(test_splice_cksum_result_zero_is_0000_not_ffff),
		cmocka_unit_test(test_splice_cksum_ffff_input_gives_canonical_output),
		cmocka_unit_test(test_splice_bad_checksum_stays_bad),
		cmocka_unit_test(test_splice_malformed_packets_are_refused_unchanged),
		cmocka_unit_test(test_splice_random_frames_are_refused_or_valid),
		cmocka_unit_test(test_splice_classify_boundaries),
		cmocka_unit_test(test_splice_classify_is_translation_invariant),
		cmocka_unit_test(test_splice_trim_odd_and_even_match_reference),
		cmocka_unit_test(test_splice_trim_to_fin_only_and_urgent_pointer),
		cmocka_unit_test(test_splice_trim_then_rewrite_equals_rewrite_then_trim),
		cmocka_unit_test(test_splice_trim_refusals_leave_frame_unchanged),
		cmocka_unit_test(test_splice_trim_bad_checksum_stays_bad),
	};

	return cmocka_run_group_tests_name("splice", tests, NULL, NULL);
}
