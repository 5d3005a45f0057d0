/*
 * tcpopt.h -- TCP header and option parsing, building, and the TCP checksum
 * over the pseudo-header (RFC 9293 3.1, RFC 7323, RFC 2018, RFC 6691).
 *
 * Owner: nothing. The parser reads a frame (const uint8_t *, length) the
 * caller owns and fills a caller-provided struct pm_tcp_hdr that holds
 * copied values and offsets, never pointers into the frame. Builders write
 * into a caller buffer. Threads: any. Pure: no DPDK, no allocation, no
 * logging, never blocks.
 *
 * Parsing (pm_tcpopt_parse()) checks, in order:
 *   SHORT     the segment does not lie inside the frame, or is shorter than
 *             the 20-byte fixed header;
 *   HDR_LEN   the data offset is below 5 words or beyond the segment
 *             (RFC 9293 3.1: "Data Offset");
 *   OPTION    an option whose length byte is missing (a kind other than EOL
 *             or NOP in the last byte of the header), below 2, or reaching
 *             past the header (RFC 9293 3.1 requires handling an illegal
 *             option length; we refuse the segment rather than guess where
 *             the next option starts).
 * Option rules:
 * - EOL (kind 0) ends the list; the bytes after it are padding and are not
 *   looked at. NOP (kind 1) is one byte.
 * - Unknown kinds are skipped by their length (RFC 9293 3.1 "MUST ignore
 *   without error any TCP option it does not implement").
 * - A known kind with the wrong length is ignored like an unknown one, as
 *   Linux does: MSS not 4 bytes, Window Scale not 3, SACK-permitted not 2,
 *   Timestamps not 10, SACK not 2 + 8n with n = 1..4.
 * - Duplicates: the last valid occurrence wins (as in Linux's parser).
 * - The parser is neutral about segment types: it reports MSS, Window Scale
 *   and SACK-permitted wherever they appear. The caller applies RFC 9293 3.7.1
 *   / RFC 7323 2.2 / RFC 2018 2 and ignores them unless SYN is set. ws is
 *   the raw shift; the caller clamps it to 14 (RFC 7323 2.3).
 * - The checksum is not verified by the parser (the NIC may have done it):
 *   call pm_tcpopt_csum_ok(). Reserved header bits are ignored.
 *
 * Building (pm_tcpopt_build()) emits the options selected in the struct in
 * Linux's conventional 4-byte-aligned layout, e.g. a SYN or SYN-ACK with
 * everything is MSS | SACK-permitted, Timestamps | NOP, Window Scale (20
 * bytes), and a data segment NOP, NOP, Timestamps | NOP, NOP, SACK. When
 * that layout does not fit in 40 bytes (SACK-permitted + Window Scale + four
 * SACK blocks, say), the options are packed back to back instead, in the
 * same order, and the header is padded with zeros (EOL) to a 4-byte
 * boundary. Every option set the parser can return is therefore buildable.
 *
 * Byte order: multi-byte fields in struct pm_tcp_hdr are in host order;
 * checksum values follow net/cksum.h (the numeric value of the big-endian
 * word).
 */
#ifndef PM_TCPOPT_H
#define PM_TCPOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define PM_TCP_HLEN		20	/* fixed header, no options */
#define PM_TCP_HLEN_MAX		60	/* data offset 15 words */
#define PM_TCP_OPT_MAX		40	/* option space */
#define PM_TCP_SACK_MAX		4	/* SACK blocks that fit in 40 bytes */

/* Control bits (the header's byte 13). */
#define PM_TCP_FIN		0x01
#define PM_TCP_SYN		0x02
#define PM_TCP_RST		0x04
#define PM_TCP_PSH		0x08
#define PM_TCP_ACK		0x10
#define PM_TCP_URG		0x20
#define PM_TCP_ECE		0x40
#define PM_TCP_CWR		0x80

/* Option kinds. */
#define PM_TCPOPT_EOL		0
#define PM_TCPOPT_NOP		1
#define PM_TCPOPT_MSS		2	/* RFC 9293 3.2, length 4 */
#define PM_TCPOPT_WS		3	/* RFC 7323 2.2, length 3 */
#define PM_TCPOPT_SACK_PERM	4	/* RFC 2018 2, length 2 */
#define PM_TCPOPT_SACK		5	/* RFC 2018 3, length 2 + 8n */
#define PM_TCPOPT_TS		8	/* RFC 7323 3.2, length 10 */

/*
 * Why a segment is refused. Each value is meant to become one drop reason
 * the worker counts (TCP_SHORT, TCP_HDR_LEN, TCP_OPTION, and TCP_CSUM for a
 * failed pm_tcpopt_csum_ok()); net/drop.h does not list them yet.
 */
enum pm_tcpopt_status {
	PM_TCPOPT_OK = 0,
	PM_TCPOPT_SHORT,	/* outside the frame, or under 20 bytes */
	PM_TCPOPT_HDR_LEN,	/* data offset < 5 words or past the segment */
	PM_TCPOPT_OPTION,	/* malformed option length */
};

/* A parsed TCP header, or the header to build. */
struct pm_tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t doff;		/* header length in bytes, 20..60 (parse output) */
	uint8_t flags;		/* PM_TCP_* */
	uint16_t wnd;		/* raw, unscaled */
	uint16_t csum;		/* as received (parse output) */
	uint16_t urp;
	/* Options: the has_ flag says whether the value is meaningful. */
	bool has_mss;
	uint16_t mss;
	bool has_ws;
	uint8_t ws;		/* raw shift count, not clamped */
	bool sack_ok;		/* SACK-permitted */
	uint8_t nsack;		/* SACK blocks, 0..4 */
	uint32_t sack[PM_TCP_SACK_MAX][2];	/* [i][0] left edge, [i][1] right edge */
	bool has_ts;
	uint32_t tsval;
	uint32_t tsecr;
	/* Parse output: the data, as offsets from the start of the frame. */
	size_t payload_off;
	size_t payload_len;
};

/*
 * Parse the TCP segment of @seg_len bytes at offset @off of @frame (@len
 * bytes) into @h; for a packet from pm_l3_rx(), off = ip.payload_off and
 * seg_len = ip.payload_len. Returns PM_TCPOPT_OK or the check that failed
 * (see the header comment); on failure @h is partly written and must not be
 * used. Reads only frame[off .. off + seg_len). No allocation; thread-safe.
 */
enum pm_tcpopt_status pm_tcpopt_parse(const uint8_t *frame, size_t len, size_t off,
				      size_t seg_len, struct pm_tcp_hdr *h);

/*
 * The one's-complement sum (folded, not complemented; net/cksum.h) of the
 * TCP pseudo-header for @src -> @dst and a segment of @seg_len bytes: IPv4
 * (RFC 9293 3.1) or IPv6 (RFC 8200 8.1) by the addresses' family, which must
 * be the same for both. Chain it into pm_cksum_partial() over the segment.
 */
uint16_t pm_tcpopt_pseudo_sum(const struct pm_addr *src, const struct pm_addr *dst,
			      size_t seg_len);

/*
 * True if the checksum of the @seg_len-byte segment @seg from @src to @dst
 * is correct (the sum over pseudo-header and segment, checksum included, is
 * 0xffff). No allocation; thread-safe.
 */
bool pm_tcpopt_csum_ok(const uint8_t *seg, size_t seg_len, const struct pm_addr *src,
		       const struct pm_addr *dst);

/*
 * The value for the checksum field of @seg (@seg_len >= 20 bytes) from @src
 * to @dst, computed as if the field held zero, whatever it holds. Store it
 * high byte first at seg[16]. No allocation; thread-safe.
 */
uint16_t pm_tcpopt_csum(const uint8_t *seg, size_t seg_len, const struct pm_addr *src,
			const struct pm_addr *dst);

/*
 * The header length pm_tcpopt_build() would produce for @h: 20..60, or
 * -EINVAL if h->nsack > 4 or the selected options do not fit in 40 bytes
 * even packed.
 */
int pm_tcpopt_hdr_len(const struct pm_tcp_hdr *h);

/*
 * Write the TCP header described by @h into @buf (@size bytes): ports, seq,
 * ack, flags, wnd, urp, and the options whose has_mss / has_ws / sack_ok /
 * nsack / has_ts are set (layout in the header comment). h->doff, h->csum
 * and the payload fields are ignored; the data offset is computed and the
 * checksum field written as zero (pm_tcpopt_csum() fills it once the
 * payload is in place). Returns the header length, -EINVAL as for
 * pm_tcpopt_hdr_len(), or -ENOSPC if @size is too small; writes nothing on
 * error. No allocation; thread-safe.
 */
int pm_tcpopt_build(uint8_t *buf, size_t size, const struct pm_tcp_hdr *h);

/*
 * Build a whole IPv4 TCP segment from @src to @dst into @buf (@size bytes),
 * leaving the first PM_ETH_HLEN bytes for the Ethernet header, whose type
 * alone is written (the caller fills the addresses once the next hop is
 * resolved), as pm_l3_icmp_echo_request() does: IPv4 header (TOS 0, ID
 * @ip_id, DF set, TTL PM_L3_REPLY_TTL, no options), the TCP header of @h
 * (pm_tcpopt_build()), then @plen bytes of @payload; both checksums
 * computed. Returns the frame length, -EINVAL unless both addresses are
 * IPv4 or if @h's options are invalid, -ENOSPC if @size is too small or the
 * datagram would exceed 65535 bytes; writes nothing on error. No
 * allocation; thread-safe.
 */
int pm_tcpopt_segment(uint8_t *buf, size_t size, const struct pm_addr *src,
		      const struct pm_addr *dst, uint16_t ip_id, const struct pm_tcp_hdr *h,
		      const uint8_t *payload, size_t plen);

#endif
