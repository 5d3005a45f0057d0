/*
 * test_tcpopt.c -- TCP header/option parsing, building and checksums
 * (tcp/tcpopt.h).
 *
 * The golden frames were written by hand from the RFC 9293 3.1 and option
 * layouts (Linux's option order) and their IPv4 and TCP checksums computed
 * by a separate RFC 1071 implementation in Python, not by net/cksum.c.
 * Frames under test are copied into heap buffers of exactly their length,
 * so a read past the end is caught when the suite runs under ASan. Random
 * cases use a printed seed; set PM_SEED to replay another run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/cksum.h"
#include "net/l3.h"
#include "tcp/tcpopt.h"
#include "testaddr.h"
#include "testrand.h"

#define TEST_SEED 0x7c90b7e5u
#define L4 (PM_ETH_HLEN + PM_IPV4_HLEN)	/* 34: where TCP starts */

/* 10.0.0.2:40000 -> 10.0.0.1:143, SYN, seq 0x01020304, wnd 64240, ID 0x1234:
 * MSS 1460 | SACK-permitted, TS 0x11223344/0 | NOP, WS 7. */
static const uint8_t golden_syn[74] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
	0x14, 0x86, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x9c, 0x40,
	0x00, 0x8f, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
	0xfa, 0xf0, 0x53, 0xd1, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
	0x08, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
	0x03, 0x07,
};

/* 10.0.0.1:143 -> 10.0.0.2:40000, SYN-ACK, seq 0xcafe0000, ack 0x01020305,
 * wnd 65535, ID 0: MSS 1460 | SACK-permitted, TS 0x55667788/0x11223344 |
 * NOP, WS 9. */
static const uint8_t golden_synack[74] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
	0x26, 0xba, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x8f,
	0x9c, 0x40, 0xca, 0xfe, 0x00, 0x00, 0x01, 0x02, 0x03, 0x05, 0xa0, 0x12,
	0xff, 0xff, 0xb6, 0xc1, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
	0x08, 0x0a, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x44, 0x01, 0x03,
	0x03, 0x09,
};

/* 10.0.0.2:40000 -> 10.0.0.1:143, ACK, seq 0x01020369, ack 0xcafe0001,
 * wnd 501, ID 0x1236: NOP, NOP, TS 0x11223400/0x55667788 | NOP, NOP, SACK
 * [0xcafe0100, 0xcafe0200) [0xcafe0300, 0xcafe0400); payload "hello" (odd
 * length, for the checksum's padding byte). */
static const uint8_t golden_ack_sack[91] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x4d, 0x12, 0x36, 0x40, 0x00, 0x40, 0x06,
	0x14, 0x73, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x9c, 0x40,
	0x00, 0x8f, 0x01, 0x02, 0x03, 0x69, 0xca, 0xfe, 0x00, 0x01, 0xd0, 0x10,
	0x01, 0xf5, 0x12, 0x81, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x11, 0x22,
	0x34, 0x00, 0x55, 0x66, 0x77, 0x88, 0x01, 0x01, 0x05, 0x12, 0xca, 0xfe,
	0x01, 0x00, 0xca, 0xfe, 0x02, 0x00, 0xca, 0xfe, 0x03, 0x00, 0xca, 0xfe,
	0x04, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
};

struct golden {
	const char *name;
	const uint8_t *f;
	size_t len;
	const char *src, *dst;
	uint16_t ip_id;
	struct pm_tcp_hdr h;
	const char *payload;
};

static const struct golden goldens[] = {
	{ "syn", golden_syn, sizeof(golden_syn), "10.0.0.2", "10.0.0.1", 0x1234,
	  { .sport = 40000, .dport = 143, .seq = 0x01020304, .ack = 0, .doff = 40,
	    .flags = PM_TCP_SYN, .wnd = 64240, .csum = 0x53d1, .urp = 0,
	    .has_mss = true, .mss = 1460, .has_ws = true, .ws = 7, .sack_ok = true,
	    .has_ts = true, .tsval = 0x11223344, .tsecr = 0,
	    .payload_off = 74, .payload_len = 0 }, "" },
	{ "synack", golden_synack, sizeof(golden_synack), "10.0.0.1", "10.0.0.2", 0,
	  { .sport = 143, .dport = 40000, .seq = 0xcafe0000, .ack = 0x01020305, .doff = 40,
	    .flags = PM_TCP_SYN | PM_TCP_ACK, .wnd = 65535, .csum = 0xb6c1, .urp = 0,
	    .has_mss = true, .mss = 1460, .has_ws = true, .ws = 9, .sack_ok = true,
	    .has_ts = true, .tsval = 0x55667788, .tsecr = 0x11223344,
	    .payload_off = 74, .payload_len = 0 }, "" },
	{ "ack_sack", golden_ack_sack, sizeof(golden_ack_sack), "10.0.0.2", "10.0.0.1", 0x1236,
	  { .sport = 40000, .dport = 143, .seq = 0x01020369, .ack = 0xcafe0001, .doff = 52,
	    .flags = PM_TCP_ACK, .wnd = 501, .csum = 0x1281, .urp = 0,
	    .nsack = 2, .sack = { { 0xcafe0100, 0xcafe0200 }, { 0xcafe0300, 0xcafe0400 } },
	    .has_ts = true, .tsval = 0x11223400, .tsecr = 0x55667788,
	    .payload_off = 86, .payload_len = 5 }, "hello" },
};

#define NGOLDEN (sizeof(goldens) / sizeof(goldens[0]))

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Compare everything but the fields that differ by design. */
static void
assert_hdr_equal(const struct pm_tcp_hdr *a, const struct pm_tcp_hdr *b, bool layout)
{
	int i;

	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ack, b->ack);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->wnd, b->wnd);
	assert_int_equal(a->urp, b->urp);
	assert_int_equal(a->has_mss, b->has_mss);
	if (a->has_mss)
		assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->has_ws, b->has_ws);
	if (a->has_ws)
		assert_int_equal(a->ws, b->ws);
	assert_int_equal(a->sack_ok, b->sack_ok);
	assert_int_equal(a->nsack, b->nsack);
	for (i = 0; i < a->nsack; i++) {
		assert_int_equal(a->sack[i][0], b->sack[i][0]);
		assert_int_equal(a->sack[i][1], b->sack[i][1]);
	}
	assert_int_equal(a->has_ts, b->has_ts);
	if (a->has_ts) {
		assert_int_equal(a->tsval, b->tsval);
		assert_int_equal(a->tsecr, b->tsecr);
	}
	if (layout) {
		assert_int_equal(a->doff, b->doff);
		assert_int_equal(a->csum, b->csum);
		assert_int_equal(a->payload_off, b->payload_off);
		assert_int_equal(a->payload_len, b->payload_len);
	}
}

/* pm_tcpopt_parse() on an exact-size heap copy of @f[0..n). */
static enum pm_tcpopt_status
parse(const uint8_t *f, size_t n, size_t off, size_t seg_len, struct pm_tcp_hdr *h)
{
	uint8_t *copy = malloc(n == 0 ? 1 : n);
	enum pm_tcpopt_status r;

	assert_non_null(copy);
	memcpy(copy, f, n);
	r = pm_tcpopt_parse(n == 0 ? copy + 1 : copy, n, off, seg_len, h);
	free(copy);
	return r;
}

/* A TCP header with @opt (@olen bytes, padded by the caller) as its options,
 * at offset 0, followed by @plen payload bytes. Returns the segment length. */
static size_t
seg_with_options(uint8_t *s, const uint8_t *opt, size_t olen, size_t plen)
{
	size_t i;

	memset(s, 0, PM_TCP_HLEN);
	put16(s, 1234);
	put16(s + 2, 143);
	s[12] = (uint8_t)(((PM_TCP_HLEN + olen) / 4) << 4);
	s[13] = PM_TCP_ACK;
	if (olen > 0)
		memmove(s + PM_TCP_HLEN, opt, olen);	/* opt may already be there */
	for (i = 0; i < plen; i++)
		s[PM_TCP_HLEN + olen + i] = (uint8_t)i;
	return PM_TCP_HLEN + olen + plen;
}

static void
test_tcpopt_golden_segments_are_parsed(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		struct pm_l3_pkt pkt;
		struct pm_addr us[2] = { ip("10.0.0.1"), ip("10.0.0.2") };
		struct pm_l3_if ifc = { .addrs = us, .naddrs = 2 };
		struct pm_tcp_hdr h;

		/* The frames are valid IPv4 for net/l3.c too. */
		assert_int_equal(pm_l3_rx(g->f, g->len, &ifc, &pkt), PM_DROP_NONE);
		assert_int_equal(pkt.kind, PM_L3_TCP);
		assert_int_equal(pkt.ip.payload_off, L4);
		assert_int_equal(parse(g->f, g->len, L4, pkt.ip.payload_len, &h), PM_TCPOPT_OK);
		assert_hdr_equal(&h, &g->h, true);
		assert_memory_equal(g->f + h.payload_off, g->payload, h.payload_len);
		assert_true(pm_tcpopt_csum_ok(g->f + L4, pkt.ip.payload_len, &pkt.ip.src,
					      &pkt.ip.dst));
		assert_int_equal(pm_tcpopt_csum(g->f + L4, pkt.ip.payload_len, &pkt.ip.src,
						&pkt.ip.dst), g->h.csum);
	}
}

static void
test_tcpopt_golden_segments_are_built_exactly(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		struct pm_addr src = ip(g->src), dst = ip(g->dst);
		uint8_t buf[128];
		int n;

		memset(buf, 0xee, sizeof(buf));
		n = pm_tcpopt_segment(buf, sizeof(buf), &src, &dst, g->ip_id, &g->h,
				      (const uint8_t *)g->payload, strlen(g->payload));
		assert_int_equal(n, (int)g->len);
		if (memcmp(buf, g->f, g->len) != 0) {
			size_t k;

			for (k = 0; k < g->len && buf[k] == g->f[k]; k++)
				;
			fail_msg("%s: byte %zu is 0x%02x, want 0x%02x", g->name, k, buf[k],
				 g->f[k]);
		}
		assert_int_equal(buf[g->len], 0xee);	/* nothing past the frame */
		assert_int_equal(pm_tcpopt_hdr_len(&g->h), g->h.doff);
		/* And exactly that size is enough, one byte less is not. */
		assert_int_equal(pm_tcpopt_segment(buf, g->len, &src, &dst, g->ip_id, &g->h,
						   (const uint8_t *)g->payload,
						   strlen(g->payload)), (int)g->len);
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(pm_tcpopt_segment(buf, g->len - 1, &src, &dst, g->ip_id, &g->h,
						   (const uint8_t *)g->payload,
						   strlen(g->payload)), -ENOSPC);
		for (n = 0; n < (int)sizeof(buf); n++)
			assert_int_equal(buf[n], 0xee);
	}
}

/*
 * Every truncation of every golden frame: (a) the frame cut short while the
 * IP length still claims the whole segment is refused as SHORT; (b) the
 * segment cut short consistently (the IP length says k bytes) is SHORT under
 * 20 bytes, HDR_LEN under the data offset, and parsed with the same options
 * from there on; (c) the data offset lowered word by word cuts the options:
 * refused as OPTION where an option is split, parsed otherwise.
 */
static void
test_tcpopt_every_truncation_is_refused_or_bounded(void **state)
{
	size_t i, n, k, w;

	(void)state;
	for (i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		size_t seg_len = g->len - L4;
		struct pm_tcp_hdr h;

		for (n = 0; n < g->len; n++)
			assert_int_equal(parse(g->f, n, L4, seg_len, &h), PM_TCPOPT_SHORT);
		for (k = 0; k <= seg_len; k++) {
			enum pm_tcpopt_status r = parse(g->f, L4 + k, L4, k, &h);

			if (k < PM_TCP_HLEN) {
				assert_int_equal(r, PM_TCPOPT_SHORT);
			} else if (k < g->h.doff) {
				assert_int_equal(r, PM_TCPOPT_HDR_LEN);
			} else {
				assert_int_equal(r, PM_TCPOPT_OK);
				assert_hdr_equal(&h, &g->h, false);
				assert_int_equal(h.payload_len, k - g->h.doff);
			}
		}
		for (w = 5; w <= g->h.doff / 4u; w++) {
			uint8_t f[128];
			enum pm_tcpopt_status r;

			memcpy(f, g->f, L4 + w * 4);
			f[L4 + 12] = (uint8_t)((w << 4) | (f[L4 + 12] & 0x0f));
			r = parse(f, L4 + w * 4, L4, w * 4, &h);
			assert_true(r == PM_TCPOPT_OK || r == PM_TCPOPT_OPTION);
			if (r == PM_TCPOPT_OK) {
				assert_int_equal(h.doff, w * 4);
				assert_int_equal(h.payload_len, 0);
			}
		}
	}
}

static void
test_tcpopt_syn_cut_at_each_word_keeps_whole_options(void **state)
{
	/* golden_syn's options: [MSS][SACKP TS...][...TS][...TS][NOP WS]: the
	 * cut after 1 word keeps MSS; after 2 and 3 words TS is split; after 4
	 * it is whole and only NOP, WS are cut off. */
	static const enum pm_tcpopt_status want[6] = {
		PM_TCPOPT_OK, PM_TCPOPT_OK, PM_TCPOPT_OPTION, PM_TCPOPT_OPTION,
		PM_TCPOPT_OK, PM_TCPOPT_OK,
	};
	uint8_t f[74];
	struct pm_tcp_hdr h;
	size_t w;

	(void)state;
	for (w = 0; w <= 5; w++) {
		memcpy(f, golden_syn, sizeof(f));
		f[L4 + 12] = (uint8_t)((5 + w) << 4);
		assert_int_equal(parse(f, L4 + 20 + 4 * w, L4, 20 + 4 * w, &h), want[w]);
		if (want[w] == PM_TCPOPT_OK) {
			assert_int_equal(h.has_mss, w >= 1);
			assert_int_equal(h.sack_ok, w >= 4);
			assert_int_equal(h.has_ts, w >= 4);
			assert_int_equal(h.has_ws, w == 5);
		}
	}
}

static void
test_tcpopt_data_offset_out_of_range_is_refused(void **state)
{
	uint8_t s[80];
	struct pm_tcp_hdr h;
	unsigned int doff;

	(void)state;
	seg_with_options(s, NULL, 0, 0);
	for (doff = 0; doff < 5; doff++) {
		s[12] = (uint8_t)(doff << 4);
		assert_int_equal(parse(s, 20, 0, 20, &h), PM_TCPOPT_HDR_LEN);
		assert_int_equal(parse(s, 80, 0, 80, &h), PM_TCPOPT_HDR_LEN);
	}
	/* Data offset 15 (60 bytes) in a 59-byte segment, in a longer frame. */
	memset(s + 20, PM_TCPOPT_NOP, 60);
	s[12] = 0xf0;
	assert_int_equal(parse(s, 80, 0, 59, &h), PM_TCPOPT_HDR_LEN);
	assert_int_equal(parse(s, 80, 0, 60, &h), PM_TCPOPT_OK);
	assert_int_equal(h.doff, 60);
	assert_int_equal(h.payload_off, 60);
	assert_int_equal(h.payload_len, 0);
	/* Reserved bits are ignored. */
	s[12] = 0xff;
	assert_int_equal(parse(s, 80, 0, 60, &h), PM_TCPOPT_OK);
	/* Segment outside the frame. */
	assert_int_equal(parse(s, 80, 21, 60, &h), PM_TCPOPT_SHORT);
	assert_int_equal(parse(s, 80, 81, 0, &h), PM_TCPOPT_SHORT);
	assert_int_equal(parse(s, 80, 80, 0, &h), PM_TCPOPT_SHORT);
}

static void
test_tcpopt_malformed_option_lengths_are_refused(void **state)
{
	static const struct {
		const char *what;
		uint8_t opt[8];
		size_t olen;	/* multiple of 4 */
		enum pm_tcpopt_status want;
	} cases[] = {
		{ "length 0", { 0x02, 0x00, 0x05, 0xb4 }, 4, PM_TCPOPT_OPTION },
		{ "length 1", { 0x02, 0x01, 0x05, 0xb4 }, 4, PM_TCPOPT_OPTION },
		{ "unknown length 0", { 0xfe, 0x00, 0x00, 0x00 }, 4, PM_TCPOPT_OPTION },
		{ "unknown length 1", { 0x1e, 0x01, 0x01, 0x01 }, 4, PM_TCPOPT_OPTION },
		{ "past the header", { 0x02, 0x05, 0x05, 0xb4 }, 4, PM_TCPOPT_OPTION },
		{ "way past", { 0x08, 0xff, 0, 0, 0, 0, 0, 0 }, 8, PM_TCPOPT_OPTION },
		{ "no length byte", { 0x01, 0x01, 0x01, 0x02 }, 4, PM_TCPOPT_OPTION },
		{ "SACK past", { 0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 0 }, 8, PM_TCPOPT_OPTION },
		{ "exactly fits", { 0x02, 0x04, 0x05, 0xb4 }, 4, PM_TCPOPT_OK },
		{ "unknown fits", { 0x1e, 0x04, 0xaa, 0xbb }, 4, PM_TCPOPT_OK },
		{ "NOPs only", { 1, 1, 1, 1 }, 4, PM_TCPOPT_OK },
		{ "EOL then junk", { 0x00, 0x02, 0x00, 0xff }, 4, PM_TCPOPT_OK },
		{ "NOP then EOL then junk", { 0x01, 0x00, 0x08, 0x01 }, 4, PM_TCPOPT_OK },
		{ "length 2 unknown", { 0x22, 0x02, 0x01, 0x00 }, 4, PM_TCPOPT_OK },
	};
	struct pm_tcp_hdr h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t s[64];
		size_t n = seg_with_options(s, cases[i].opt, cases[i].olen, 3);
		enum pm_tcpopt_status r = parse(s, n, 0, n, &h);

		if (r != cases[i].want)
			fail_msg("%s: status %d, want %d", cases[i].what, r, cases[i].want);
	}
}

static void
test_tcpopt_eol_nop_unknown_and_duplicates(void **state)
{
	struct pm_tcp_hdr h;
	uint8_t s[80];
	size_t n;

	(void)state;
	/* EOL ends the list: the MSS after it is padding, not an option. */
	{
		static const uint8_t o[8] = { 0x03, 0x03, 0x05, 0x00, 0x02, 0x04, 0x05, 0xb4 };

		n = seg_with_options(s, o, 8, 0);
		assert_int_equal(parse(s, n, 0, n, &h), PM_TCPOPT_OK);
		assert_true(h.has_ws);
		assert_int_equal(h.ws, 5);
		assert_false(h.has_mss);
	}
	/* Unknown kinds (TFO 34, MPTCP 30, experimental 254) are skipped. */
	{
		static const uint8_t o[24] = {
			0x22, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8,	/* TFO cookie */
			0x1e, 0x04, 0x00, 0x81,			/* MPTCP */
			0xfe, 0x04, 0xf9, 0x89,			/* RFC 6994 ExID */
			0x02, 0x04, 0x02, 0x18,			/* MSS 536 */
			0x01, 0x00,
		};

		n = seg_with_options(s, o, 24, 1);
		assert_int_equal(parse(s, n, 0, n, &h), PM_TCPOPT_OK);
		assert_true(h.has_mss);
		assert_int_equal(h.mss, 536);
		assert_false(h.has_ws || h.sack_ok || h.has_ts || h.nsack);
		assert_int_equal(h.payload_len, 1);
	}
	/* Known kinds with the wrong length are ignored, not fatal. */
	{
		static const uint8_t o[24] = {
			0x02, 0x03, 0x05,		/* MSS length 3 */
			0x03, 0x04, 0x07, 0x00,		/* WS length 4 */
			0x04, 0x03, 0x00,		/* SACK-permitted length 3 */
			0x05, 0x06, 0, 0, 0, 1,		/* SACK, not 2 + 8n */
			0x08, 0x08, 0, 0, 0, 1, 0, 0,	/* TS length 8 */
		};

		n = seg_with_options(s, o, 24, 0);
		assert_int_equal(parse(s, n, 0, n, &h), PM_TCPOPT_OK);
		assert_false(h.has_mss || h.has_ws || h.sack_ok || h.has_ts || h.nsack);
	}
	/* Duplicates: the last valid occurrence wins; an invalid later one does
	 * not erase an earlier valid one. */
	{
		static const uint8_t o[40] = {
			0x02, 0x04, 0x05, 0xb4,			/* MSS 1460 */
			0x03, 0x03, 0x02,			/* WS 2 */
			0x02, 0x04, 0x02, 0x18,			/* MSS 536 */
			0x03, 0x03, 0x0e,			/* WS 14 */
			0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2,	/* SACK [1, 2) */
			0x05, 0x0a, 0, 0, 0, 3, 0, 0, 0, 4,	/* SACK [3, 4) */
			0x02, 0x03, 0x00,			/* MSS length 3: ignored */
			0x01, 0x01, 0x00,
		};

		n = seg_with_options(s, o, 40, 0);
		assert_int_equal(parse(s, n, 0, n, &h), PM_TCPOPT_OK);
		assert_int_equal(h.mss, 536);
		assert_int_equal(h.ws, 14);
		assert_int_equal(h.nsack, 1);
		assert_int_equal(h.sack[0][0], 3);
		assert_int_equal(h.sack[0][1], 4);
	}
	/* Four SACK blocks (34 bytes) and a 40-byte option space. */
	{
		uint8_t o[40];
		int b;

		o[0] = 1;
		o[1] = 1;
		o[2] = 0x05;
		o[3] = 34;
		for (b = 0; b < 8; b++) {
			o[4 + 4 * b] = 0;
			o[5 + 4 * b] = 0;
			o[6 + 4 * b] = 0;
			o[7 + 4 * b] = (uint8_t)(b + 1);
		}
		o[36] = o[37] = 1;
		o[38] = 0;
		o[39] = 0;
		n = seg_with_options(s, o, 40, 0);
		assert_int_equal(parse(s, n, 0, n, &h), PM_TCPOPT_OK);
		assert_int_equal(h.nsack, 4);
		assert_int_equal(h.sack[3][0], 7);
		assert_int_equal(h.sack[3][1], 8);
	}
}

static void
test_tcpopt_single_bit_errors_fail_the_checksum(void **state)
{
	size_t i, bit;

	(void)state;
	for (i = 0; i < NGOLDEN; i++) {
		const struct golden *g = &goldens[i];
		size_t seg_len = g->len - L4;
		struct pm_addr src = ip(g->src), dst = ip(g->dst);
		uint8_t s[128];

		memcpy(s, g->f + L4, seg_len);
		assert_true(pm_tcpopt_csum_ok(s, seg_len, &src, &dst));
		for (bit = 0; bit < seg_len * 8; bit++) {
			s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_false(pm_tcpopt_csum_ok(s, seg_len, &src, &dst));
			s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* The pseudo-header counts: addresses, and the length. */
		for (bit = 0; bit < 32; bit++) {
			struct pm_addr a = src;

			a.bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_false(pm_tcpopt_csum_ok(s, seg_len, &a, &dst));
			assert_false(pm_tcpopt_csum_ok(s, seg_len, &dst, &a));
		}
		s[seg_len] = 0;
		assert_false(pm_tcpopt_csum_ok(s, seg_len + 1, &src, &dst));
	}
}

/* The IPv6 pseudo-header (RFC 8200 8.1); expected value from a separate
 * Python implementation over golden_syn's TCP segment. */
static void
test_tcpopt_ipv6_pseudo_header_checksum(void **state)
{
	struct pm_addr src = ip("2001:db8::1"), dst = ip("2001:db8::2");
	uint8_t s[40];

	(void)state;
	memcpy(s, golden_syn + L4, 40);
	s[16] = s[17] = 0xaa;	/* ignored by pm_tcpopt_csum() */
	assert_int_equal(pm_tcpopt_csum(s, 40, &src, &dst), 0x0c5f);
	put16(s + 16, 0x0c5f);
	assert_true(pm_tcpopt_csum_ok(s, 40, &src, &dst));
}

static void
test_tcpopt_build_errors_write_nothing(void **state)
{
	struct pm_tcp_hdr h = goldens[0].h;
	struct pm_addr a4 = ip("10.0.0.1"), a6 = ip("2001:db8::1");
	uint8_t buf[128];
	size_t size, k;

	(void)state;
	for (size = 0; size < 40; size++) {
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(pm_tcpopt_build(buf, size, &h), -ENOSPC);
		for (k = 0; k < sizeof(buf); k++)
			assert_int_equal(buf[k], 0xee);
	}
	assert_int_equal(pm_tcpopt_build(buf, 40, &h), 40);
	h.nsack = 5;
	assert_int_equal(pm_tcpopt_hdr_len(&h), -EINVAL);
	assert_int_equal(pm_tcpopt_build(buf, sizeof(buf), &h), -EINVAL);
	/* MSS + WS + SACK-permitted + TS + 3 SACK blocks: 45 bytes packed. */
	h.nsack = 3;
	assert_int_equal(pm_tcpopt_hdr_len(&h), -EINVAL);
	h.nsack = 2;	/* 37 packed, 40 conventional */
	assert_int_equal(pm_tcpopt_hdr_len(&h), 60);
	h.nsack = 0;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pm_tcpopt_segment(buf, sizeof(buf), &a6, &a4, 1, &h, NULL, 0), -EINVAL);
	assert_int_equal(pm_tcpopt_segment(buf, sizeof(buf), &a4, &a6, 1, &h, NULL, 0), -EINVAL);
	assert_int_equal(pm_tcpopt_segment(buf, 0, &a4, &a4, 1, &h, NULL, 0), -ENOSPC);
	assert_int_equal(pm_tcpopt_segment(buf, sizeof(buf), &a4, &a4, 1, &h, buf, 70000),
			 -ENOSPC);
	/* The IP datagram may not exceed 65535: 20 + 40 + 65475 = 65535. */
	{
		size_t big = L4 + 40 + 65476;
		uint8_t *f = malloc(big), *pl = calloc(1, 65476);

		assert_non_null(f);
		assert_non_null(pl);
		assert_int_equal(pm_tcpopt_segment(f, big, &a4, &a4, 1, &h, pl, 65476), -ENOSPC);
		assert_int_equal(pm_tcpopt_segment(f, big, &a4, &a4, 1, &h, pl, 65475),
				 (int)big - 1);
		assert_true(pm_tcpopt_csum_ok(f + L4, 40 + 65475, &a4, &a4));
		free(f);
		free(pl);
	}
	for (k = 0; k < sizeof(buf); k++)
		assert_int_equal(buf[k], 0xee);
}

/* The layouts, byte for byte, for the option sets the proxy sends. */
static void
test_tcpopt_build_layouts_are_conventional(void **state)
{
	static const uint8_t syn_nots[12] = {
		0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07,
	};
	static const uint8_t ts_only[12] = {
		0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2,
	};
	static const uint8_t sack_nots[12] = {
		0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 5, 0, 0, 0, 6,
	};
	/* SACK-permitted + WS + 4 SACK blocks: 44 conventional, 39 packed. */
	static const uint8_t packed[40] = {
		0x03, 0x03, 0x08, 0x04, 0x02, 0x05, 0x22,
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
		0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, 0x00,
	};
	struct pm_tcp_hdr h;
	uint8_t buf[64];
	int n, b;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.has_mss = true;
	h.mss = 1460;
	h.sack_ok = true;
	h.has_ws = true;
	h.ws = 7;
	n = pm_tcpopt_build(buf, sizeof(buf), &h);
	assert_int_equal(n, 32);
	assert_int_equal(buf[12], 0x80);
	assert_memory_equal(buf + 20, syn_nots, 12);

	memset(&h, 0, sizeof(h));
	h.has_ts = true;
	h.tsval = 1;
	h.tsecr = 2;
	assert_int_equal(pm_tcpopt_build(buf, sizeof(buf), &h), 32);
	assert_memory_equal(buf + 20, ts_only, 12);

	memset(&h, 0, sizeof(h));
	h.nsack = 1;
	h.sack[0][0] = 5;
	h.sack[0][1] = 6;
	assert_int_equal(pm_tcpopt_build(buf, sizeof(buf), &h), 32);
	assert_memory_equal(buf + 20, sack_nots, 12);

	memset(&h, 0, sizeof(h));
	h.sack_ok = true;
	h.has_ws = true;
	h.ws = 8;
	h.nsack = 4;
	for (b = 0; b < 4; b++) {
		h.sack[b][0] = (uint32_t)(2 * b + 1);
		h.sack[b][1] = (uint32_t)(2 * b + 2);
	}
	assert_int_equal(pm_tcpopt_build(buf, sizeof(buf), &h), 60);
	assert_int_equal(buf[12], 0xf0);
	assert_memory_equal(buf + 20, packed, 40);

	/* No options at all: a bare 20-byte header. */
	memset(&h, 0, sizeof(h));
	h.flags = PM_TCP_RST | PM_TCP_ACK;
	assert_int_equal(pm_tcpopt_build(buf, 20, &h), 20);
	assert_int_equal(buf[12], 0x50);
	assert_int_equal(buf[13], 0x14);
}

static void
random_hdr(struct pm_tcp_hdr *h, uint32_t *seed)
{
	int b;

	memset(h, 0, sizeof(*h));
	h->sport = (uint16_t)xorshift32(seed);
	h->dport = (uint16_t)xorshift32(seed);
	h->seq = xorshift32(seed);
	h->ack = xorshift32(seed);
	h->flags = (uint8_t)xorshift32(seed);
	h->wnd = (uint16_t)xorshift32(seed);
	h->urp = (uint16_t)xorshift32(seed);
	h->has_mss = xorshift32(seed) & 1;
	h->mss = h->has_mss ? (uint16_t)xorshift32(seed) : 0;
	h->has_ws = xorshift32(seed) & 1;
	h->ws = h->has_ws ? (uint8_t)xorshift32(seed) : 0;
	h->sack_ok = xorshift32(seed) & 1;
	h->has_ts = xorshift32(seed) & 1;
	if (h->has_ts) {
		h->tsval = xorshift32(seed);
		h->tsecr = xorshift32(seed);
	}
	h->nsack = (uint8_t)(xorshift32(seed) % 5);
	for (b = 0; b < h->nsack; b++) {
		h->sack[b][0] = xorshift32(seed);
		h->sack[b][1] = xorshift32(seed);
	}
}

/* Random headers: build (alone and as a full segment that net/l3.c accepts),
 * parse back, compare. Option sets that do not fit are refused. */
static void
test_tcpopt_random_headers_round_trip(void **state)
{
	uint32_t seed = pm_test_seed("tcpopt round trip", TEST_SEED);
	struct pm_addr src = ip("192.0.2.7"), dst = ip("10.0.0.1");
	struct pm_l3_if ifc = { .addrs = &dst, .naddrs = 1 };
	long built = 0, refused = 0;
	int n;

	(void)state;
	for (n = 0; n < 50000; n++) {
		struct pm_tcp_hdr h, p;
		struct pm_l3_pkt pkt;
		uint8_t payload[64], f[256];
		size_t plen = xorshift32(&seed) % sizeof(payload), i;
		int hlen, flen;

		random_hdr(&h, &seed);
		for (i = 0; i < plen; i++)
			payload[i] = (uint8_t)xorshift32(&seed);
		hlen = pm_tcpopt_hdr_len(&h);
		flen = pm_tcpopt_segment(f, sizeof(f), &src, &dst, (uint16_t)n, &h, payload, plen);
		if (hlen < 0) {
			/* Refused only if even the packed layout exceeds 40. */
			assert_int_equal(flen, -EINVAL);
			assert_true(4 * h.has_mss + 3 * h.has_ws + 2 * h.sack_ok + 10 * h.has_ts +
				    (h.nsack ? 2 + 8 * h.nsack : 0) > 40);
			refused++;
			continue;
		}
		/* Conversely, whatever fits packed is built. */
		assert_true(4 * h.has_mss + 3 * h.has_ws + 2 * h.sack_ok + 10 * h.has_ts +
			    (h.nsack ? 2 + 8 * h.nsack : 0) <= 40);
		built++;
		assert_int_equal(flen, L4 + hlen + (int)plen);
		assert_int_equal(hlen % 4, 0);
		assert_int_equal(pm_l3_rx(f, (size_t)flen, &ifc, &pkt), PM_DROP_NONE);
		assert_int_equal(pkt.kind, PM_L3_TCP);
		assert_true(pm_tcpopt_csum_ok(f + L4, pkt.ip.payload_len, &src, &dst));
		assert_int_equal(parse(f, (size_t)flen, L4, pkt.ip.payload_len, &p), PM_TCPOPT_OK);
		assert_hdr_equal(&p, &h, false);
		assert_int_equal(p.doff, hlen);
		assert_int_equal(p.payload_off, L4 + (size_t)hlen);
		assert_int_equal(p.payload_len, plen);
		assert_memory_equal(f + p.payload_off, payload, plen);
	}
	print_message("# %ld built, %ld refused as too long\n", built, refused);
	assert_true(built > 40000);
}

/* Random bytes after a valid fixed header: never a crash, never a read past
 * the segment (ASan), and whatever parses rebuilds to the same fields. */
static void
test_tcpopt_random_options_never_crash(void **state)
{
	uint32_t seed = pm_test_seed("tcpopt random options", TEST_SEED ^ 1);
	long ok = 0, bad = 0;
	int n;

	(void)state;
	for (n = 0; n < 200000; n++) {
		uint8_t s[80], out[80];
		size_t olen = 4 * (xorshift32(&seed) % 11), len, i;
		struct pm_tcp_hdr h, p;
		enum pm_tcpopt_status r;
		int m;

		for (i = 0; i < olen; i++) {
			uint32_t x = xorshift32(&seed) % 16;

			/* Bias towards the interesting kinds and small lengths. */
			s[PM_TCP_HLEN + i] = x < 8 ? (uint8_t)x : (uint8_t)xorshift32(&seed);
		}
		len = seg_with_options(s, s + PM_TCP_HLEN, olen, xorshift32(&seed) % 8);
		r = parse(s, len, 0, len, &h);
		assert_true(r == PM_TCPOPT_OK || r == PM_TCPOPT_OPTION);
		if (r != PM_TCPOPT_OK) {
			bad++;
			continue;
		}
		ok++;
		m = pm_tcpopt_build(out, sizeof(out), &h);
		assert_true(m >= PM_TCP_HLEN);
		assert_int_equal(parse(out, (size_t)m, 0, (size_t)m, &p), PM_TCPOPT_OK);
		assert_hdr_equal(&p, &h, false);
	}
	print_message("# %ld parsed, %ld refused\n", ok, bad);
	assert_true(ok > 0 && bad > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcpopt_golden_segments_are_parsed),
		cmocka_unit_test(test_tcpopt_golden_segments_are_built_exactly),
		cmocka_unit_test(test_tcpopt_every_truncation_is_refused_or_bounded),
		cmocka_unit_test(test_tcpopt_syn_cut_at_each_word_keeps_whole_options),
		cmocka_unit_test(test_tcpopt_data_offset_out_of_range_is_refused),
		cmocka_unit_test(test_tcpopt_malformed_option_lengths_are_refused),
		cmocka_unit_test(test_tcpopt_eol_nop_unknown_and_duplicates),
		cmocka_unit_test(test_tcpopt_single_bit_errors_fail_the_checksum),
		cmocka_unit_test(test_tcpopt_ipv6_pseudo_header_checksum),
		cmocka_unit_test(test_tcpopt_build_errors_write_nothing),
		cmocka_unit_test(test_tcpopt_build_layouts_are_conventional),
		cmocka_unit_test(test_tcpopt_random_headers_round_trip),
		cmocka_unit_test(test_tcpopt_random_options_never_crash),
	};

	return cmocka_run_group_tests_name("tcpopt", tests, NULL, NULL);
}
