/*
 * test_l3.c -- Ethernet/ARP/IPv4/ICMP parsing and replies (net/l3.h), and
 * the drop-reason tables (net/drop.h).
 *
 * Frames under test are copied into heap buffers of exactly their length, so
 * a read past the end is caught when the suite runs under ASan
 * (-Db_sanitize=address,undefined). The random cases use a fixed, printed
 * seed; set PM_SEED to replay another run.
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
#include "net/drop.h"
#include "net/l3.h"
#include "testaddr.h"
#include "testrand.h"

#define TEST_SEED 0x13f00d5eu
#define FRAME_MAX 1600

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t our_ip[4] = { 10, 0, 0, 1 };
static const uint8_t peer_ip[4] = { 10, 0, 0, 2 };

static struct pm_addr local_addrs[2];
static struct pm_l3_if ifc;

static int
setup(void **state)
{
	(void)state;
	local_addrs[0] = ip("10.0.0.1");
	local_addrs[1] = ip("192.0.2.7");
	memcpy(ifc.mac, our_mac, 6);
	ifc.addrs = local_addrs;
	ifc.naddrs = 2;
	return 0;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recompute the IPv4 header checksum of frame @f after editing it. */
static void
ip_fix(uint8_t *f)
{
	uint8_t *h = f + PM_ETH_HLEN;

	put16(h + 10, 0);
	put16(h + 10, pm_cksum(h, (size_t)(h[0] & 0x0f) * 4));
}

static void
icmp_fix(uint8_t *f, size_t icmp_len)
{
	uint8_t *c = f + PM_ETH_HLEN + PM_IPV4_HLEN;

	put16(c + 2, 0);
	put16(c + 2, pm_cksum(c, icmp_len));
}

/* An IPv4 frame peer -> us with @plen payload bytes of protocol @proto; the
 * payload is a byte pattern. Returns the frame length (no padding). */
static size_t
ip_frame(uint8_t *f, uint8_t proto, size_t plen)
{
	uint8_t *h = f + PM_ETH_HLEN;
	size_t i;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, PM_ETHERTYPE_IPV4);
	h[0] = 0x45;
	h[1] = 0x10;
	put16(h + 2, (uint16_t)(PM_IPV4_HLEN + plen));
	put16(h + 4, 0x1c46);
	put16(h + 6, 0x4000);	/* DF */
	h[8] = 57;
	h[9] = proto;
	memcpy(h + 12, peer_ip, 4);
	memcpy(h + 16, our_ip, 4);
	for (i = 0; i < plen; i++)
		h[PM_IPV4_HLEN + i] = (uint8_t)(0x30 + i);
	ip_fix(f);
	return PM_ETH_HLEN + PM_IPV4_HLEN + plen;
}

/* An ICMP echo request with @dlen data bytes. */
static size_t
echo_frame(uint8_t *f, size_t dlen)
{
	size_t n = ip_frame(f, PM_IPPROTO_ICMP, PM_ICMP_HLEN + dlen);
	uint8_t *c = f + PM_ETH_HLEN + PM_IPV4_HLEN;

	c[0] = PM_ICMP_ECHO_REQUEST;
	c[1] = 0;
	put16(c + 4, 0xbeef);
	put16(c + 6, 7);
	icmp_fix(f, PM_ICMP_HLEN + dlen);
	return n;
}

/* An ARP request from the peer for 10.0.0.1. */
static size_t
arp_frame(uint8_t *f)
{
	static const uint8_t b[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 1,
	};

	memcpy(f, b, sizeof(b));
	return sizeof(b);
}

/* pm_l3_rx() on an exact-size heap copy of @f[0..n), so ASan sees overreads. */
static enum pm_drop
rx(const uint8_t *f, size_t n, struct pm_l3_pkt *pkt)
{
	uint8_t *copy = malloc(n == 0 ? 1 : n);
	enum pm_drop r;

	assert_non_null(copy);
	memcpy(copy, f, n);
	r = pm_l3_rx(n == 0 ? copy + 1 : copy, n, &ifc, pkt);
	free(copy);
	return r;
}

#define assert_drop(got, want)							\
	do {									\
		enum pm_drop g_ = (got), w_ = (want);				\
		if (g_ != w_)							\
			fail_msg("drop %s, want %s", pm_drop_name(g_), pm_drop_name(w_)); \
	} while (0)

static void
test_drop_every_reason_has_unique_name_and_text(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < PM_DROP__COUNT; i++) {
		assert_non_null(pm_drop_name(i));
		assert_non_null(pm_drop_text(i));
		assert_true(strlen(pm_drop_name(i)) > 0);
		assert_true(strlen(pm_drop_text(i)) > 0);
		assert_string_not_equal(pm_drop_name(i), "?");
		for (j = 0; j < i; j++)
			assert_string_not_equal(pm_drop_name(i), pm_drop_name(j));
	}
	assert_int_equal(PM_DROP_NONE, 0);
	assert_string_equal(pm_drop_name(PM_DROP_NONE), "NONE");
	assert_string_equal(pm_drop_name(PM_DROP_IP_CSUM), "IP_CSUM");
	assert_string_equal(pm_drop_name(PM_DROP_WRONG_LCORE_RING_FULL),
			    "WRONG_LCORE_RING_FULL");
	assert_string_equal(pm_drop_text(PM_DROP_IP_CSUM), "bad IPv4 header checksum");
	assert_string_equal(pm_drop_name(PM_DROP__COUNT), "?");
	assert_string_equal(pm_drop_text((enum pm_drop)-1), "?");
	assert_int_equal(PM_DROP__COUNT, 30);	/* NONE + 29 reasons */
}

static void
test_l3_echo_request_is_parsed(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = echo_frame(f, 56);

	(void)state;
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.kind, PM_L3_ICMP);
	assert_memory_equal(pkt.eth.dst, our_mac, 6);
	assert_memory_equal(pkt.eth.src, peer_mac, 6);
	assert_int_equal(pkt.eth.type, PM_ETHERTYPE_IPV4);
	assert_int_equal(pkt.ip.off, 14);
	assert_int_equal(pkt.ip.hlen, 20);
	assert_int_equal(pkt.ip.payload_off, 34);
	assert_int_equal(pkt.ip.payload_len, 64);
	assert_int_equal(pkt.ip.tot_len, 84);
	assert_int_equal(pkt.ip.id, 0x1c46);
	assert_int_equal(pkt.ip.tos, 0x10);
	assert_int_equal(pkt.ip.ttl, 57);
	assert_int_equal(pkt.ip.proto, PM_IPPROTO_ICMP);
	assert_string_equal(ipstr(&pkt.ip.src), "10.0.0.2");
	assert_string_equal(ipstr(&pkt.ip.dst), "10.0.0.1");
	assert_int_equal(pkt.icmp.off, 34);
	assert_int_equal(pkt.icmp.len, 64);
	assert_int_equal(pkt.icmp.type, PM_ICMP_ECHO_REQUEST);
	assert_int_equal(pkt.icmp.code, 0);
	assert_int_equal(pkt.icmp.id, 0xbeef);
	assert_int_equal(pkt.icmp.seq, 7);
}

static void
test_l3_tcp_to_second_address_is_accepted(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = ip_frame(f, PM_IPPROTO_TCP, 20);

	(void)state;
	memcpy(f + PM_ETH_HLEN + 16, (uint8_t[]){ 192, 0, 2, 7 }, 4);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.kind, PM_L3_TCP);
	assert_string_equal(ipstr(&pkt.ip.dst), "192.0.2.7");
	assert_int_equal(pkt.ip.payload_len, 20);
}

static void
test_l3_ethernet_padding_is_ignored(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = echo_frame(f, 0);	/* 42 bytes */

	(void)state;
	assert_int_equal(n, 42);
	memset(f + n, 0xa5, 60 - n);	/* non-zero padding: must not be summed */
	assert_drop(rx(f, 60, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.ip.payload_len, 8);
	assert_int_equal(pkt.icmp.len, 8);
	n = arp_frame(f);
	memset(f + n, 0xa5, 60 - n);
	assert_drop(rx(f, 60, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.kind, PM_L3_ARP);
}

static void
test_l3_ttl_zero_to_us_is_delivered(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = echo_frame(f, 8);

	(void)state;
	f[PM_ETH_HLEN + 8] = 0;
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);	/* RFC 1122 3.2.1.7 */
	assert_int_equal(pkt.ip.ttl, 0);
}

/* Every prefix of a valid frame, each in an exact-size heap buffer. */
static void
check_truncations(const uint8_t *f, size_t n, size_t l3_need, enum pm_drop l3_short,
		  size_t full_need, enum pm_drop full_short, enum pm_drop full)
{
	struct pm_l3_pkt pkt;
	size_t len;

	for (len = 0; len <= n; len++) {
		enum pm_drop want = len < PM_ETH_HLEN ? PM_DROP_ETH_SHORT :
				    len < l3_need     ? l3_short :
				    len < full_need   ? full_short : full;
		enum pm_drop got = rx(f, len, &pkt);

		if (got != want)
			fail_msg("prefix %zu of %zu: %s, want %s", len, n, pm_drop_name(got),
				 pm_drop_name(want));
	}
}

static void
test_l3_every_truncation_gives_the_right_reason(void **state)
{
	uint8_t f[FRAME_MAX];
	size_t n;

	(void)state;
	n = echo_frame(f, 100);
	check_truncations(f, n, 34, PM_DROP_IP_SHORT, n, PM_DROP_IP_TOTAL_LEN, PM_DROP_NONE);
	n = ip_frame(f, PM_IPPROTO_TCP, 40);
	check_truncations(f, n, 34, PM_DROP_IP_SHORT, n, PM_DROP_IP_TOTAL_LEN, PM_DROP_NONE);
	n = arp_frame(f);
	check_truncations(f, n, 42, PM_DROP_ARP_SHORT, 42, PM_DROP_NONE, PM_DROP_NONE);
	/* With 4 bytes of options the header needs 24 bytes: IP_SHORT up to 37. */
	n = ip_frame(f, PM_IPPROTO_TCP, 24);
	f[PM_ETH_HLEN] = 0x46;
	ip_fix(f);
	check_truncations(f, n, 38, PM_DROP_IP_SHORT, n, PM_DROP_IP_TOTAL_LEN,
			  PM_DROP_IP_OPTIONS);
}

static void
test_l3_bad_checksums_are_dropped(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n, i;

	(void)state;
	/* Any single corrupted header byte that keeps the header otherwise
	 * plausible is caught by the checksum. */
	n = echo_frame(f, 16);
	f[PM_ETH_HLEN + 11] ^= 0x01;
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_CSUM);
	f[PM_ETH_HLEN + 11] ^= 0x01;
	for (i = 12; i < 20; i++) {
		f[PM_ETH_HLEN + i] ^= 0x80;
		assert_drop(rx(f, n, &pkt), PM_DROP_IP_CSUM);
		f[PM_ETH_HLEN + i] ^= 0x80;
	}
	f[PM_ETH_HLEN + 8]++;		/* TTL without a checksum fix */
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_CSUM);
	f[PM_ETH_HLEN + 8]--;
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	/* ICMP: one data byte changed. */
	f[n - 1] ^= 0x04;
	assert_drop(rx(f, n, &pkt), PM_DROP_ICMP_CSUM);
}

static void
test_l3_bogus_lengths_are_dropped(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n;

	(void)state;
	n = ip_frame(f, PM_IPPROTO_TCP, 20);
	/* Total length shorter than the header. */
	put16(f + PM_ETH_HLEN + 2, 19);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_TOTAL_LEN);
	put16(f + PM_ETH_HLEN + 2, 0);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_TOTAL_LEN);
	/* Total length one past the frame, and far past it. */
	put16(f + PM_ETH_HLEN + 2, (uint16_t)(n - PM_ETH_HLEN + 1));
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_TOTAL_LEN);
	put16(f + PM_ETH_HLEN + 2, 0xffff);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_TOTAL_LEN);
	/* Exactly the header: a TCP packet with no payload is still valid L3. */
	put16(f + PM_ETH_HLEN + 2, 20);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.ip.payload_len, 0);
	/* IHL below 5. */
	f[PM_ETH_HLEN] = 0x44;
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_HDR_LEN);
	f[PM_ETH_HLEN] = 0x40;
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_HDR_LEN);
	/* IHL 15 (60 bytes) but only 40 bytes of IP in the frame. */
	f[PM_ETH_HLEN] = 0x4f;
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_SHORT);
	/* ICMP shorter than its header. */
	n = ip_frame(f, PM_IPPROTO_ICMP, 7);
	assert_drop(rx(f, n, &pkt), PM_DROP_ICMP_SHORT);
	n = ip_frame(f, PM_IPPROTO_ICMP, 0);
	assert_drop(rx(f, n, &pkt), PM_DROP_ICMP_SHORT);
}

static void
test_l3_fragments_options_version_are_dropped(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = ip_frame(f, PM_IPPROTO_TCP, 20);
	static const uint16_t frag[] = { 0x2000, 0x0001, 0x1fff, 0x6000, 0x20b9, 0x4001 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		put16(f + PM_ETH_HLEN + 6, frag[i]);
		ip_fix(f);
		assert_drop(rx(f, n, &pkt), PM_DROP_IP_FRAG);
	}
	/* DF alone, the reserved bit alone, and nothing: not fragments. */
	put16(f + PM_ETH_HLEN + 6, 0x4000);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	put16(f + PM_ETH_HLEN + 6, 0x8000);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	put16(f + PM_ETH_HLEN + 6, 0);
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	/* Options: IHL 6 with a NOP/EOL word, and IHL 15. */
	f[PM_ETH_HLEN] = 0x46;
	memset(f + PM_ETH_HLEN + 20, 0, 4);
	f[PM_ETH_HLEN + 20] = 1;
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_OPTIONS);
	n = ip_frame(f, PM_IPPROTO_TCP, 60);
	f[PM_ETH_HLEN] = 0x4f;
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_OPTIONS);
	/* Versions other than 4, even with a valid checksum. */
	for (i = 0; i < 16; i++) {
		if (i == 4)
			continue;
		f[PM_ETH_HLEN] = (uint8_t)(i << 4 | 5);
		ip_fix(f);
		assert_drop(rx(f, n, &pkt), PM_DROP_IP_VERSION);
	}
}

static void
test_l3_foreign_types_protocols_and_targets_are_dropped(void **state)
{
	uint8_t f[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n;

	(void)state;
	n = ip_frame(f, 17, 20);	/* UDP */
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_PROTO);
	n = ip_frame(f, PM_IPPROTO_TCP, 20);
	f[PM_ETH_HLEN + 19] = 9;	/* 10.0.0.9 */
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_NOT_US);
	memset(f + PM_ETH_HLEN + 16, 0xff, 4);	/* limited broadcast */
	ip_fix(f);
	assert_drop(rx(f, n, &pkt), PM_DROP_IP_NOT_US);
	put16(f + 12, 0x86dd);		/* IPv6 */
	assert_drop(rx(f, n, &pkt), PM_DROP_ETH_TYPE);
	put16(f + 12, PM_ETHERTYPE_VLAN);
	assert_drop(rx(f, n, &pkt), PM_DROP_ETH_TYPE);
	n = arp_frame(f);
	f[41] = 3;			/* who-has 10.0.0.3 */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_NOT_US);
	n = arp_frame(f);
	f[15] = 6;			/* hardware type IEEE 802 */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
	n = arp_frame(f);
	f[17] = 0xdd;			/* protocol 0x08dd */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
	n = arp_frame(f);
	f[18] = 8;			/* hardware length */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
	n = arp_frame(f);
	f[19] = 16;			/* protocol length */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
	n = arp_frame(f);
	f[21] = 3;			/* RARP request */
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
	f[21] = 0;
	assert_drop(rx(f, n, &pkt), PM_DROP_ARP_BAD);
}

static void
test_l3_arp_request_gets_exact_reply(void **state)
{
	static const uint8_t want[42] = {
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2,
	};
	uint8_t f[FRAME_MAX], out[64];
	struct pm_l3_pkt pkt, back;
	size_t n = arp_frame(f);

	(void)state;
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.kind, PM_L3_ARP);
	assert_int_equal(pkt.arp.op, PM_ARP_OP_REQUEST);
	assert_memory_equal(pkt.arp.sha, peer_mac, 6);
	assert_string_equal(ipstr(&pkt.arp.spa), "10.0.0.2");
	assert_string_equal(ipstr(&pkt.arp.tpa), "10.0.0.1");
	memset(out, 0xee, sizeof(out));
	assert_int_equal(pm_l3_arp_reply(out, sizeof(out), &pkt.arp, our_mac), 42);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[42], 0xee);	/* nothing written past the frame */
	/* Too small: nothing written. */
	{
		uint8_t small[41];

		memset(small, 0xee, sizeof(small));
		assert_int_equal(pm_l3_arp_reply(small, sizeof(small), &pkt.arp, our_mac),
				 -ENOSPC);
		assert_int_equal(small[0], 0xee);
	}
	/* The reply parses as a reply from us (seen from the peer's side). */
	{
		struct pm_addr peer = ip("10.0.0.2");
		struct pm_l3_if pif = { .addrs = &peer, .naddrs = 1 };

		memcpy(pif.mac, peer_mac, 6);
		assert_drop(pm_l3_rx(out, 42, &pif, &back), PM_DROP_NONE);
		assert_int_equal(back.arp.op, PM_ARP_OP_REPLY);
		/* A reply is not answered. */
		assert_int_equal(pm_l3_arp_reply(out, sizeof(out), &back.arp, our_mac),
				 -EINVAL);
	}
}

static void
test_l3_arp_request_is_exact_and_parses(void **state)
{
	static const uint8_t want[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
	};
	struct pm_addr us = ip("10.0.0.1"), peer = ip("10.0.0.2"), v6;
	struct pm_l3_if pif = { .addrs = &peer, .naddrs = 1 };
	uint8_t out[64], small[41];
	struct pm_l3_pkt pkt;

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(pm_l3_arp_request(out, sizeof(out), our_mac, &us, &peer, NULL), 42);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[42], 0xee);
	/* The peer sees a request for itself and can answer it. */
	memcpy(pif.mac, peer_mac, 6);
	assert_drop(pm_l3_rx(out, 42, &pif, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.arp.op, PM_ARP_OP_REQUEST);
	assert_memory_equal(pkt.arp.sha, our_mac, 6);
	assert_int_equal(pm_l3_arp_reply(small, sizeof(small), &pkt.arp, peer_mac), -ENOSPC);
	/* Unicast probe: only the destination MAC differs. */
	assert_int_equal(pm_l3_arp_request(out, sizeof(out), our_mac, &us, &peer, peer_mac), 42);
	assert_memory_equal(out, peer_mac, 6);
	assert_memory_equal(out + 6, want + 6, sizeof(want) - 6);
	/* Gratuitous: sender and target are both ours; nobody else keeps it,
	 * but the ARP fields stay readable for a neighbour refresh. */
	assert_int_equal(pm_l3_arp_request(out, sizeof(out), our_mac, &us, &us, NULL), 42);
	assert_drop(pm_l3_rx(out, 42, &pif, &pkt), PM_DROP_ARP_NOT_US);
	assert_string_equal(ipstr(&pkt.arp.spa), "10.0.0.1");
	assert_memory_equal(pkt.arp.sha, our_mac, 6);
	/* Refusals write nothing. */
	memset(small, 0xee, sizeof(small));
	assert_int_equal(pm_l3_arp_request(small, sizeof(small), our_mac, &us, &peer, NULL),
			 -ENOSPC);
	assert_int_equal(small[0], 0xee);
	assert_int_equal(pm_addr_parse(&v6, "2001:db8::1", 11), 0);
	assert_int_equal(pm_l3_arp_request(out, sizeof(out), our_mac, &us, &v6, NULL), -EINVAL);
}

static void
test_l3_echo_request_parses_and_is_answered(void **state)
{
	static const uint8_t data[] = "postmux";
	struct pm_addr us = ip("10.0.0.1"), peer = ip("10.0.0.2"), v6;
	struct pm_l3_if pif = { .addrs = &peer, .naddrs = 1 };
	uint8_t out[128], rep[128], small[40];
	struct pm_l3_pkt pkt;
	int n;

	(void)state;
	memset(out, 0xee, sizeof(out));
	n = pm_l3_icmp_echo_request(out, sizeof(out), &us, &peer, 7, 0x504d, 3, data, 7);
	assert_int_equal(n, 14 + 20 + 8 + 7);
	assert_int_equal(out[n], 0xee);
	/* The Ethernet addresses are left zero for the caller. */
	memcpy(out, peer_mac, 6);
	memcpy(out + 6, our_mac, 6);
	assert_drop(pm_l3_rx(out, (size_t)n, &pif, &pkt), PM_DROP_NONE);
	assert_int_equal(pkt.kind, PM_L3_ICMP);
	assert_int_equal(pkt.icmp.type, PM_ICMP_ECHO_REQUEST);
	assert_int_equal(pkt.icmp.id, 0x504d);
	assert_int_equal(pkt.icmp.seq, 3);
	assert_int_equal(pkt.ip.ttl, PM_L3_REPLY_TTL);
	assert_int_equal(pkt.ip.id, 7);
	assert_string_equal(ipstr(&pkt.ip.src), "10.0.0.1");
	/* The peer's answer carries the same data back. */
	assert_int_equal(pm_l3_icmp_echo_reply(rep, sizeof(rep), out, (size_t)n, &pkt), n);
	assert_memory_equal(rep + n - 7, data, 7);
	memset(small, 0xee, sizeof(small));
	assert_int_equal(pm_l3_icmp_echo_request(small, sizeof(small), &us, &peer, 7, 1, 1, data,
						 7), -ENOSPC);
	assert_int_equal(small[0], 0xee);
	assert_int_equal(pm_addr_parse(&v6, "2001:db8::1", 11), 0);
	assert_int_equal(pm_l3_icmp_echo_request(out, sizeof(out), &us, &v6, 7, 1, 1, NULL, 0),
			 -EINVAL);
}

static void
check_echo_reply(const uint8_t *req, const uint8_t *out, size_t dlen)
{
	const uint8_t *h = out + PM_ETH_HLEN, *c = h + PM_IPV4_HLEN;
	size_t icmp_len = PM_ICMP_HLEN + dlen;

	assert_memory_equal(out, peer_mac, 6);
	assert_memory_equal(out + 6, our_mac, 6);
	assert_int_equal(out[12] << 8 | out[13], PM_ETHERTYPE_IPV4);
	assert_int_equal(h[0], 0x45);
	assert_int_equal(h[1], 0x10);
	assert_int_equal(h[2] << 8 | h[3], PM_IPV4_HLEN + icmp_len);
	assert_int_equal(h[8], PM_L3_REPLY_TTL);
	assert_int_equal(h[9], PM_IPPROTO_ICMP);
	assert_memory_equal(h + 12, our_ip, 4);
	assert_memory_equal(h + 16, peer_ip, 4);
	assert_int_equal(pm_cksum(h, PM_IPV4_HLEN), 0);
	assert_int_equal(c[0], PM_ICMP_ECHO_REPLY);
	assert_int_equal(c[1], 0);
	assert_memory_equal(c + 4, req + 34 + 4, 4 + dlen);	/* id, seq, data */
	assert_int_equal(pm_cksum(c, icmp_len), 0);
}

static void
test_l3_echo_request_gets_valid_reply(void **state)
{
	uint8_t f[FRAME_MAX], req[FRAME_MAX], out[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t dlen;

	(void)state;
	for (dlen = 0; dlen <= 1472; dlen += (dlen < 70 ? 1 : 97)) {
		size_t n = echo_frame(f, dlen), padded = n < 60 ? 60 : n;

		memset(f + n, 0x5a, padded - n);
		memcpy(req, f, padded);
		assert_drop(rx(f, padded, &pkt), PM_DROP_NONE);
		/* Into a separate buffer... */
		assert_int_equal(pm_l3_icmp_echo_reply(out, n - 1, f, padded, &pkt), -ENOSPC);
		assert_int_equal(pm_l3_icmp_echo_reply(out, sizeof(out), f, padded, &pkt),
				 (int)n);
		check_echo_reply(req, out, dlen);
		/* ...and in place. */
		assert_int_equal(pm_l3_icmp_echo_reply(f, padded, f, padded, &pkt), (int)n);
		assert_memory_equal(f, out, n);
	}
	/* TTL 0 request (delivered) still gets a TTL 64 reply. */
	{
		size_t n = echo_frame(f, 4);

		f[PM_ETH_HLEN + 8] = 0;
		ip_fix(f);
		memcpy(req, f, n);
		assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
		assert_int_equal(pm_l3_icmp_echo_reply(out, sizeof(out), f, n, &pkt), (int)n);
		check_echo_reply(req, out, 4);
	}
}

static void
test_l3_non_echo_requests_get_no_echo_reply(void **state)
{
	uint8_t f[FRAME_MAX], out[FRAME_MAX];
	struct pm_l3_pkt pkt;
	size_t n = echo_frame(f, 8);

	(void)state;
	f[34] = PM_ICMP_ECHO_REPLY;
	icmp_fix(f, 16);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pm_l3_icmp_echo_reply(out, sizeof(out), f, n, &pkt), -EINVAL);
	f[34] = PM_ICMP_ECHO_REQUEST;
	f[35] = 1;			/* code 1 is not an echo request */
	icmp_fix(f, 16);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pm_l3_icmp_echo_reply(out, sizeof(out), f, n, &pkt), -EINVAL);
	n = ip_frame(f, PM_IPPROTO_TCP, 20);
	assert_drop(rx(f, n, &pkt), PM_DROP_NONE);
	assert_int_equal(pm_l3_icmp_echo_reply(out, sizeof(out), f, n, &pkt), -EINVAL);
}

/* An accepted packet's offsets must lie inside the frame. */
static void
check_accepted(const struct pm_l3_pkt *pkt, size_t len)
{
	if (pkt->kind == PM_L3_ARP) {
		assert_true(len >= PM_ETH_HLEN + PM_ARP_LEN);
		return;
	}
	assert_true(pkt->ip.payload_off <= len);
	assert_true(pkt->ip.payload_len <= len - pkt->ip.payload_off);
	assert_true(pm_l3_is_local(&ifc, &pkt->ip.dst));
}

static void
test_l3_random_bytes_never_crash(void **state)
{
	uint32_t seed = pm_test_seed("test_l3_random_bytes_never_crash", TEST_SEED);
	uint8_t f[256], valid[FRAME_MAX];
	struct pm_l3_pkt pkt;
	long accepted = 0, round;

	(void)state;
	for (round = 0; round < 200000; round++) {
		size_t len = xorshift32(&seed) % sizeof(f), i;
		uint8_t *copy;
		enum pm_drop r;

		switch (round % 4) {
		case 0:		/* pure noise */
			for (i = 0; i < len; i++)
				f[i] = (uint8_t)xorshift32(&seed);
			break;
		case 1:		/* noise behind a plausible IPv4 start */
			for (i = 0; i < len; i++)
				f[i] = (uint8_t)xorshift32(&seed);
			if (len >= 15) {
				put16(f + 12, xorshift32(&seed) % 2 ? PM_ETHERTYPE_IPV4 :
								      PM_ETHERTYPE_ARP);
				f[14] = (uint8_t)(0x40 | (f[14] & 0x0f));
			}
			if (len >= 34) {
				memcpy(f + 30, our_ip, 4);
				ip_fix(f);
			}
			break;
		default:	/* a valid frame with a few bytes flipped, cut short */
		{
			size_t n = (round % 4 == 2) ? echo_frame(valid, xorshift32(&seed) % 150) :
						      arp_frame(valid);
			int k, flips = 1 + (int)(xorshift32(&seed) % 3);

			len = n - (xorshift32(&seed) % 4 == 0 ? xorshift32(&seed) % n : 0);
			if (len > sizeof(f))
				len = sizeof(f);
			memcpy(f, valid, len);
			for (k = 0; k < flips && len > 0; k++) {
				size_t at = xorshift32(&seed) % len;

				f[at] ^= (uint8_t)(1 + xorshift32(&seed) % 255);
			}
			if (xorshift32(&seed) % 2 && len >= 34)
				ip_fix(f);
			break;
		}
		}
		copy = malloc(len == 0 ? 1 : len);
		assert_non_null(copy);
		memcpy(copy, f, len);
		r = pm_l3_rx(copy, len, &ifc, &pkt);
		assert_true((unsigned int)r < PM_DROP__COUNT);
		if (r == PM_DROP_NONE) {
			uint8_t out[FRAME_MAX];

			accepted++;
			check_accepted(&pkt, len);
			if (pkt.kind == PM_L3_ICMP) {
				int m = pm_l3_icmp_echo_reply(out, sizeof(out), copy, len, &pkt);

				assert_true(m == -EINVAL || (m > 0 && (size_t)m <= len));
			}
			if (pkt.kind == PM_L3_ARP)
				(void)pm_l3_arp_reply(out, sizeof(out), &pkt.arp, our_mac);
		}
		free(copy);
	}
	print_message("# %ld of 200000 random frames accepted\n", accepted);
	assert_true(accepted > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_every_reason_has_unique_name_and_text),
		cmocka_unit_test(test_l3_echo_request_is_parsed),
		cmocka_unit_test(test_l3_tcp_to_second_address_is_accepted),
		cmocka_unit_test(test_l3_ethernet_padding_is_ignored),
		cmocka_unit_test(test_l3_ttl_zero_to_us_is_delivered),
		cmocka_unit_test(test_l3_every_truncation_gives_the_right_reason),
		cmocka_unit_test(test_l3_bad_checksums_are_dropped),
		cmocka_unit_test(test_l3_bogus_lengths_are_dropped),
		cmocka_unit_test(test_l3_fragments_options_version_are_dropped),
		cmocka_unit_test(test_l3_foreign_types_protocols_and_targets_are_dropped),
		cmocka_unit_test(test_l3_arp_request_gets_exact_reply),
		cmocka_unit_test(test_l3_arp_request_is_exact_and_parses),
		cmocka_unit_test(test_l3_echo_request_parses_and_is_answered),
		cmocka_unit_test(test_l3_echo_request_gets_valid_reply),
		cmocka_unit_test(test_l3_non_echo_requests_get_no_echo_reply),
		cmocka_unit_test(test_l3_random_bytes_never_crash),
	};

	return cmocka_run_group_tests_name("l3", tests, setup, NULL);
}
