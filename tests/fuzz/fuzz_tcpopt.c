/*
 * fuzz_tcpopt.c -- libFuzzer target for the TCP header parser and builder
 * (dataplane/tcp/tcpopt.h).
 *
 * The input is one TCP segment. pm_tcpopt_parse() must never read outside
 * it (ASan) and, when it accepts the segment, the parsed fields must
 * survive a rebuild:
 *   1. pm_tcpopt_build() of the parsed header succeeds (every option set
 *      the parser returns fits, tcpopt.h), and parsing the rebuilt header
 *      followed by the original payload gives the same fields and payload;
 *   2. pm_tcpopt_segment() with the same header and payload gives a frame
 *      that net/l3.c accepts as TCP, whose checksum verifies, and which
 *      parses to the same fields again.
 * The same bytes are also parsed at a few other offsets and lengths, and
 * the checksum helpers run over them, for crashes only. Any violation
 * aborts, which libFuzzer reports as a crash.
 *
 * Seed corpus: tests/fuzz/corpus/tcpopt/, the TCP segments of the golden
 * frames in tests/unit/test_tcpopt.c plus hand-made option edge cases.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/l3.h"
#include "tcp/tcpopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEG_MAX (PM_TCP_HLEN_MAX + 65535)

static uint8_t seg[SEG_MAX];
static uint8_t frame[PM_ETH_HLEN + PM_IPV4_HLEN + SEG_MAX];

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_tcpopt: %s\n", what);
	abort();
}

static void
same(const struct pm_tcp_hdr *a, const struct pm_tcp_hdr *b)
{
	int i;

	if (a->sport != b->sport || a->dport != b->dport || a->seq != b->seq ||
	    a->ack != b->ack || a->flags != b->flags || a->wnd != b->wnd || a->urp != b->urp)
		die("fixed header fields differ");
	if (a->has_mss != b->has_mss || (a->has_mss && a->mss != b->mss))
		die("MSS differs");
	if (a->has_ws != b->has_ws || (a->has_ws && a->ws != b->ws))
		die("window scale differs");
	if (a->sack_ok != b->sack_ok)
		die("SACK-permitted differs");
	if (a->has_ts != b->has_ts || (a->has_ts && (a->tsval != b->tsval ||
						      a->tsecr != b->tsecr)))
		die("timestamps differ");
	if (a->nsack != b->nsack)
		die("SACK block count differs");
	for (i = 0; i < a->nsack; i++)
		if (a->sack[i][0] != b->sack[i][0] || a->sack[i][1] != b->sack[i][1])
			die("SACK block differs");
	if (a->payload_len != b->payload_len)
		die("payload length differs");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pm_addr src = { PM_AF_INET, { 192, 0, 2, 7 } };
	static const struct pm_addr dst = { PM_AF_INET, { 10, 0, 0, 1 } };
	struct pm_l3_if ifc = { .addrs = &dst, .naddrs = 1 };
	struct pm_tcp_hdr h1, h2, h3;
	struct pm_l3_pkt pkt;
	size_t off;
	int hlen, flen;

	/* Other windows on the same bytes: crashes only. */
	for (off = 0; off <= 3 && off <= size; off++) {
		(void)pm_tcpopt_parse(data, size, off, size - off, &h2);
		(void)pm_tcpopt_parse(data, size, off, size, &h2);
		(void)pm_tcpopt_parse(data, size, off, (size - off) / 2, &h2);
	}
	(void)pm_tcpopt_csum_ok(data, size, &src, &dst);
	if (size >= PM_TCP_HLEN)
		(void)pm_tcpopt_csum(data, size, &src, &dst);

	if (pm_tcpopt_parse(data, size, 0, size, &h1) != PM_TCPOPT_OK)
		return 0;
	if (h1.doff < PM_TCP_HLEN || h1.doff > size || h1.payload_off != h1.doff ||
	    h1.payload_len != size - h1.doff || h1.nsack > PM_TCP_SACK_MAX)
		die("accepted header has inconsistent lengths");
	if (h1.payload_len > 65535 - PM_IPV4_HLEN - PM_TCP_HLEN_MAX)
		return 0;	/* would not fit an IPv4 datagram */

	/* 1. Header rebuilt, original payload appended. */
	hlen = pm_tcpopt_build(seg, sizeof(seg), &h1);
	if (hlen < PM_TCP_HLEN || hlen > PM_TCP_HLEN_MAX || hlen % 4 != 0)
		die("an accepted header does not rebuild");
	if (hlen != pm_tcpopt_hdr_len(&h1))
		die("pm_tcpopt_hdr_len disagrees with pm_tcpopt_build");
	memcpy(seg + hlen, data + h1.payload_off, h1.payload_len);
	if (pm_tcpopt_parse(seg, (size_t)hlen + h1.payload_len, 0,
			    (size_t)hlen + h1.payload_len, &h2) != PM_TCPOPT_OK)
		die("the rebuilt header does not parse");
	same(&h1, &h2);
	if (h2.doff != hlen || memcmp(seg + h2.payload_off, data + h1.payload_off,
				      h1.payload_len) != 0)
		die("rebuilt payload differs");

	/* 2. As a whole IPv4 frame. */
	flen = pm_tcpopt_segment(frame, sizeof(frame), &src, &dst, 0x4242, &h1,
				 data + h1.payload_off, h1.payload_len);
	if (flen < 0)
		die("an accepted header does not build into a segment");
	if (pm_l3_rx(frame, (size_t)flen, &ifc, &pkt) != PM_DROP_NONE || pkt.kind != PM_L3_TCP)
		die("net/l3.c refuses the built frame");
	if (!pm_tcpopt_csum_ok(frame + pkt.ip.payload_off, pkt.ip.payload_len, &src, &dst))
		die("the built frame's TCP checksum is wrong");
	if (pm_tcpopt_parse(frame, (size_t)flen, pkt.ip.payload_off, pkt.ip.payload_len,
			    &h3) != PM_TCPOPT_OK)
		die("the built frame does not parse");
	same(&h1, &h3);
	if (memcmp(frame + h3.payload_off, data + h1.payload_off, h1.payload_len) != 0)
		die("built frame payload differs");
	return 0;
}
