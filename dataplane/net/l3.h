/*
 * l3.h -- sans-IO Ethernet II, ARP, IPv4 and ICMP echo handling: the first
 * step of the data plane's packet path (DESIGN.md "Data plane flow" 1).
 *
 * Owner: nothing. Parsers read a frame (const uint8_t *, length) the caller
 * owns and fill a caller-provided struct; builders write into a caller buffer.
 * No parsed struct points into the frame: offsets and copied values only.
 * Threads: any. Pure: no DPDK, no allocation, no logging, never blocks.
 *
 * Every parser checks the bounds before each read and returns an enum
 * pm_drop: PM_DROP_NONE when the packet is accepted, otherwise the check that
 * failed (net/drop.h). Multi-byte fields in the structs are in host order.
 *
 * Decisions:
 * - TTL: postmux is the final destination and never forwards, so a datagram
 *   addressed to us is delivered whatever its TTL, including 0 (RFC 1122
 *   3.2.1.7: a host MUST NOT discard a datagram just because it was received
 *   with TTL less than 2). PM_DROP_IP_TTL is reserved for forwarding and is
 *   never returned here.
 * - Padding: a frame may be longer than the packet it carries (Ethernet pads
 *   to 60 bytes). IPv4 uses the total length and ARP its fixed 28 bytes; the
 *   trailing bytes are ignored, never checksummed and never echoed.
 * - Not handled yet, deliberately: VLAN tags (PM_DROP_ETH_TYPE), IPv4
 *   fragments and options (dropped with their own counters), martian source
 *   addresses (RFC 1812 5.3.7), the destination MAC (the NIC filters it).
 */
#ifndef PM_L3_H
#define PM_L3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/drop.h"

#define PM_ETH_ALEN		6
#define PM_ETH_HLEN		14	/* dst, src, ethertype; no VLAN tag */
#define PM_ETHERTYPE_IPV4	0x0800
#define PM_ETHERTYPE_ARP	0x0806
#define PM_ETHERTYPE_VLAN	0x8100
#define PM_ARP_LEN		28	/* Ethernet/IPv4 ARP body */
#define PM_ARP_OP_REQUEST	1
#define PM_ARP_OP_REPLY		2
#define PM_IPV4_HLEN		20	/* without options */
#define PM_IPPROTO_ICMP		1
#define PM_IPPROTO_TCP		6
#define PM_ICMP_HLEN		8	/* type, code, checksum, id, sequence */
#define PM_ICMP_ECHO_REPLY	0
#define PM_ICMP_ECHO_REQUEST	8
#define PM_L3_REPLY_TTL		64	/* TTL of the packets we originate */

/* An Ethernet II header; the L3 header starts at PM_ETH_HLEN. */
struct pm_l3_eth {
	uint8_t dst[PM_ETH_ALEN];
	uint8_t src[PM_ETH_ALEN];
	uint16_t type;		/* ethertype, host order */
};

/* An Ethernet/IPv4 ARP packet. */
struct pm_l3_arp {
	uint16_t op;		/* PM_ARP_OP_REQUEST or PM_ARP_OP_REPLY */
	uint8_t sha[PM_ETH_ALEN];	/* sender hardware address */
	uint8_t tha[PM_ETH_ALEN];	/* target hardware address */
	struct pm_addr spa;	/* sender protocol address (PM_AF_INET) */
	struct pm_addr tpa;	/* target protocol address (PM_AF_INET) */
};

/* A validated IPv4 header. Offsets are from the start of the frame. */
struct pm_l3_ipv4 {
	size_t off;		/* the IPv4 header */
	size_t hlen;		/* IHL * 4; always PM_IPV4_HLEN (options are dropped) */
	size_t payload_off;	/* off + hlen */
	size_t payload_len;	/* total length - hlen; excludes Ethernet padding */
	uint16_t tot_len;
	uint16_t id;
	uint8_t tos;
	uint8_t ttl;
	uint8_t proto;		/* PM_IPPROTO_* */
	struct pm_addr src;	/* PM_AF_INET */
	struct pm_addr dst;	/* PM_AF_INET */
};

/* A checksummed ICMP message. id and seq are meaningful for echo only. */
struct pm_l3_icmp {
	size_t off;		/* the ICMP header, from the start of the frame */
	size_t len;		/* header + data, as bounded by the IPv4 total length */
	uint8_t type;
	uint8_t code;
	uint16_t id;
	uint16_t seq;
};

/* Our side of a port: its MAC and the IPv4 addresses we answer for. */
struct pm_l3_if {
	uint8_t mac[PM_ETH_ALEN];
	const struct pm_addr *addrs;	/* borrowed; PM_AF_INET entries count */
	size_t naddrs;
};

enum pm_l3_kind {
	PM_L3_ARP = 1,		/* arp is valid */
	PM_L3_ICMP,		/* ip and icmp are valid */
	PM_L3_TCP,		/* ip is valid; the TCP header is not yet checked */
};

/* The result of pm_l3_rx(): eth always, then the members named by kind. */
struct pm_l3_pkt {
	enum pm_l3_kind kind;
	struct pm_l3_eth eth;
	struct pm_l3_arp arp;
	struct pm_l3_ipv4 ip;
	struct pm_l3_icmp icmp;
};

/*
 * Parse the Ethernet II header of @frame (@len bytes) into @eth. Returns
 * PM_DROP_NONE, PM_DROP_ETH_SHORT, or PM_DROP_ETH_TYPE for an ethertype other
 * than IPv4 or ARP (VLAN-tagged frames included). No allocation; thread-safe.
 */
enum pm_drop pm_l3_eth_parse(const uint8_t *frame, size_t len, struct pm_l3_eth *eth);

/*
 * Parse the ARP packet at offset @off of @frame into @arp. Accepts only
 * Ethernet/IPv4 requests and replies. Returns PM_DROP_NONE, PM_DROP_ARP_SHORT
 * or PM_DROP_ARP_BAD. Does not look at the target address (see pm_l3_rx()).
 */
enum pm_drop pm_l3_arp_parse(const uint8_t *frame, size_t len, size_t off,
			     struct pm_l3_arp *arp);

/*
 * Validate the IPv4 header at offset @off of @frame (RFC 791, RFC 1812
 * 5.2.2) and fill @ip. Checks, in order: IP_SHORT (fewer than 20 bytes, or
 * fewer than IHL * 4), IP_VERSION, IP_HDR_LEN (IHL < 5), IP_TOTAL_LEN (below
 * IHL * 4 or beyond the frame), IP_CSUM, IP_FRAG, IP_OPTIONS. Never checks
 * TTL, the destination or the protocol (see the header comment, pm_l3_rx()).
 */
enum pm_drop pm_l3_ipv4_parse(const uint8_t *frame, size_t len, size_t off,
			      struct pm_l3_ipv4 *ip);

/*
 * Validate the ICMP message carried by @ip (already parsed from @frame) and
 * fill @icmp. Returns PM_DROP_NONE, PM_DROP_ICMP_SHORT or PM_DROP_ICMP_CSUM.
 */
enum pm_drop pm_l3_icmp_parse(const uint8_t *frame, size_t len,
			      const struct pm_l3_ipv4 *ip, struct pm_l3_icmp *icmp);

/*
 * The whole receive-side classification of one frame for interface @ifc:
 * Ethernet, then ARP (target must be one of ifc's addresses: ARP_NOT_US) or
 * IPv4 (destination must be ours: IP_NOT_US; protocol ICMP or TCP, else
 * IP_PROTO; ICMP is checksummed). Fills @pkt and returns PM_DROP_NONE, or
 * returns the reason to drop. On PM_DROP_ARP_NOT_US, pkt->eth and pkt->arp
 * are still valid, so that the caller may refresh a neighbour it already
 * knows from an ARP packet meant for another host (a gratuitous ARP). No
 * allocation; thread-safe.
 */
enum pm_drop pm_l3_rx(const uint8_t *frame, size_t len, const struct pm_l3_if *ifc,
		      struct pm_l3_pkt *pkt);

/* True if @a is one of @ifc's IPv4 addresses. */
bool pm_l3_is_local(const struct pm_l3_if *ifc, const struct pm_addr *a);

/*
 * Build the ARP reply to request @req for an interface with MAC @mac into
 * @buf (@size bytes): Ethernet header to the requester, sender = (@mac,
 * req->tpa), target = (req->sha, req->spa). Returns the frame length
 * (PM_ETH_HLEN + PM_ARP_LEN = 42; padding to 60 is left to the NIC), -EINVAL
 * if @req is not a request or not for an IPv4 address, -ENOSPC if @size is
 * too small. Writes nothing on error. No allocation; thread-safe.
 */
int pm_l3_arp_reply(uint8_t *buf, size_t size, const struct pm_l3_arp *req,
		    const uint8_t mac[PM_ETH_ALEN]);

/*
 * Build an ARP request into @buf (@size bytes): who has @tpa, tell @spa (our
 * address) at @mac. Broadcast when @dst is NULL (resolution, and the
 * gratuitous ARP announcing @spa when @tpa equals @spa, RFC 5227 3), else
 * sent to @dst (a unicast refresh probe, RFC 1122 2.3.2.1); the target
 * hardware address is zero either way. Returns 42 (padding is left to the
 * caller), -EINVAL unless both addresses are IPv4, -ENOSPC if @size is too
 * small (nothing written then). No allocation; thread-safe.
 */
int pm_l3_arp_request(uint8_t *buf, size_t size, const uint8_t mac[PM_ETH_ALEN],
		      const struct pm_addr *spa, const struct pm_addr *tpa,
		      const uint8_t *dst);

/*
 * Build an IPv4 ICMP echo request from @src to @dst (identifier @id,
 * sequence @seq, @dlen bytes of @data) into @buf (@size bytes), leaving the
 * first PM_ETH_HLEN bytes for the Ethernet header, whose type alone is
 * written (the caller fills the addresses once the next hop is resolved).
 * TTL PM_L3_REPLY_TTL, IP ID @ip_id, DF clear; both checksums computed.
 * Returns the frame length, -EINVAL unless both addresses are IPv4,
 * -ENOSPC if @size is too small (nothing written then). No allocation;
 * thread-safe.
 */
int pm_l3_icmp_echo_request(uint8_t *buf, size_t size, const struct pm_addr *src,
			    const struct pm_addr *dst, uint16_t ip_id, uint16_t id, uint16_t seq,
			    const uint8_t *data, size_t dlen);

/*
 * Build the echo reply to the echo request in @frame, parsed by pm_l3_rx()
 * into @pkt (kind PM_L3_ICMP, type PM_ICMP_ECHO_REQUEST, code 0), into @buf
 * (@size bytes). @buf may be @frame itself (in-place reply) or disjoint from
 * it; partial overlap is not allowed. The reply swaps the MAC and IP
 * addresses, keeps TOS, ID and the echo data, sets TTL PM_L3_REPLY_TTL and
 * ICMP type 0, and recomputes both checksums. Ethernet padding is dropped.
 * Returns the frame length, -EINVAL if @pkt is not an echo request, -ENOSPC
 * if @size is too small (nothing written then). No allocation; thread-safe.
 */
int pm_l3_icmp_echo_reply(uint8_t *buf, size_t size, const uint8_t *frame, size_t len,
			  const struct pm_l3_pkt *pkt);

#endif
