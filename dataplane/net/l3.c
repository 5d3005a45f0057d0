/*
 * l3.c -- Ethernet II, ARP, IPv4 and ICMP echo parsing and reply building.
 *
 * Each parser checks that the bytes it is about to read lie inside the frame
 * before reading them; fields are read bytewise in network order, so no
 * alignment is assumed.
 */
#include "net/l3.h"
#include "net/bytes.h"

#include <errno.h>
#include <string.h>

#include "net/cksum.h"

static inline void
ipv4_addr(struct pm_addr *a, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->family = PM_AF_INET;
	memcpy(a->bytes, p, 4);
}

enum pm_drop
pm_l3_eth_parse(const uint8_t *frame, size_t len, struct pm_l3_eth *eth)
{
	if (len < PM_ETH_HLEN)
		return PM_DROP_ETH_SHORT;
	memcpy(eth->dst, frame, PM_ETH_ALEN);
	memcpy(eth->src, frame + PM_ETH_ALEN, PM_ETH_ALEN);
	eth->type = pm_get16(frame + 2 * PM_ETH_ALEN);
	/* 802.1Q (0x8100) and QinQ land here too: no VLAN support yet. */
	if (eth->type != PM_ETHERTYPE_IPV4 && eth->type != PM_ETHERTYPE_ARP)
		return PM_DROP_ETH_TYPE;
	return PM_DROP_NONE;
}

enum pm_drop
pm_l3_arp_parse(const uint8_t *frame, size_t len, size_t off, struct pm_l3_arp *arp)
{
	const uint8_t *p;

	if (off > len || len - off < PM_ARP_LEN)
		return PM_DROP_ARP_SHORT;
	p = frame + off;
	/* RFC 826: hardware type 1 (Ethernet), protocol 0x0800, lengths 6/4. */
	if (pm_get16(p) != 1 || pm_get16(p + 2) != PM_ETHERTYPE_IPV4 || p[4] != PM_ETH_ALEN ||
	    p[5] != 4)
		return PM_DROP_ARP_BAD;
	arp->op = pm_get16(p + 6);
	if (arp->op != PM_ARP_OP_REQUEST && arp->op != PM_ARP_OP_REPLY)
		return PM_DROP_ARP_BAD;
	memcpy(arp->sha, p + 8, PM_ETH_ALEN);
	ipv4_addr(&arp->spa, p + 14);
	memcpy(arp->tha, p + 18, PM_ETH_ALEN);
	ipv4_addr(&arp->tpa, p + 24);
	return PM_DROP_NONE;
}

enum pm_drop
pm_l3_ipv4_parse(const uint8_t *frame, size_t len, size_t off, struct pm_l3_ipv4 *ip)
{
	const uint8_t *p;
	size_t avail, hlen;
	uint16_t tot, frag;

	/* RFC 1812 5.2.2 (1): the link layer must hold a minimal header. */
	if (off > len || len - off < PM_IPV4_HLEN)
		return PM_DROP_IP_SHORT;
	avail = len - off;
	p = frame + off;
	/* (3) version 4; (4) IHL of at least 5 words. */
	if (p[0] >> 4 != 4)
		return PM_DROP_IP_VERSION;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	if (hlen < PM_IPV4_HLEN)
		return PM_DROP_IP_HDR_LEN;
	if (hlen > avail)
		return PM_DROP_IP_SHORT;
	/* (5) total length covers the header; RFC 791 also bounds it by what
	 * arrived. Bytes past it are Ethernet padding. */
	tot = pm_get16(p + 2);
	if (tot < hlen || tot > avail)
		return PM_DROP_IP_TOTAL_LEN;
	/* (2) header checksum, over the whole header including options. */
	if (pm_cksum(p, hlen) != 0)
		return PM_DROP_IP_CSUM;
	/* Reassembly is not implemented: MF or a non-zero offset is dropped.
	 * DF and the reserved bit are ignored. */
	frag = pm_get16(p + 6);
	if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0)
		return PM_DROP_IP_FRAG;
	/* Options (source routes, record route, ...) are not honoured. */
	if (hlen != PM_IPV4_HLEN)
		return PM_DROP_IP_OPTIONS;
	/* TTL is deliberately not checked: see l3.h (RFC 1122 3.2.1.7). */
	ip->off = off;
	ip->hlen = hlen;
	ip->payload_off = off + hlen;
	ip->payload_len = tot - hlen;
	ip->tot_len = tot;
	ip->id = pm_get16(p + 4);
	ip->tos = p[1];
	ip->ttl = p[8];
	ip->proto = p[9];
	ipv4_addr(&ip->src, p + 12);
	ipv4_addr(&ip->dst, p + 16);
	return PM_DROP_NONE;
}

enum pm_drop
pm_l3_icmp_parse(const uint8_t *frame, size_t len, const struct pm_l3_ipv4 *ip,
		 struct pm_l3_icmp *icmp)
{
	const uint8_t *p;

	/* ip came from pm_l3_ipv4_parse() on this frame, so the payload lies
	 * inside it; recheck anyway so a mismatched ip cannot read past len. */
	if (ip->payload_off > len || len - ip->payload_off < ip->payload_len)
		return PM_DROP_ICMP_SHORT;
	if (ip->payload_len < PM_ICMP_HLEN)
		return PM_DROP_ICMP_SHORT;
	p = frame + ip->payload_off;
	/* RFC 792: the checksum covers the ICMP header and data. */
	if (pm_cksum(p, ip->payload_len) != 0)
		return PM_DROP_ICMP_CSUM;
	icmp->off = ip->payload_off;
	icmp->len = ip->payload_len;
	icmp->type = p[0];
	icmp->code = p[1];
	icmp->id = pm_get16(p + 4);
	icmp->seq = pm_get16(p + 6);
	return PM_DROP_NONE;
}

bool
pm_l3_is_local(const struct pm_l3_if *ifc, const struct pm_addr *a)
{
	size_t i;

	for (i = 0; i < ifc->naddrs; i++)
		if (ifc->addrs[i].family == PM_AF_INET && pm_addr_eq(&ifc->addrs[i], a))
			return true;
	return false;
}

enum pm_drop
pm_l3_rx(const uint8_t *frame, size_t len, const struct pm_l3_if *ifc,
	 struct pm_l3_pkt *pkt)
{
	enum pm_drop r;

	r = pm_l3_eth_parse(frame, len, &pkt->eth);
	if (r != PM_DROP_NONE)
		return r;
	if (pkt->eth.type == PM_ETHERTYPE_ARP) {
		r = pm_l3_arp_parse(frame, len, PM_ETH_HLEN, &pkt->arp);
		if (r != PM_DROP_NONE)
			return r;
		/* Requests and replies both teach us the sender; only those
		 * aimed at our addresses are kept (no gratuitous ARP yet). */
		if (!pm_l3_is_local(ifc, &pkt->arp.tpa))
			return PM_DROP_ARP_NOT_US;
		pkt->kind = PM_L3_ARP;
		return PM_DROP_NONE;
	}
	r = pm_l3_ipv4_parse(frame, len, PM_ETH_HLEN, &pkt->ip);
	if (r != PM_DROP_NONE)
		return r;
	/* Broadcast and multicast destinations are never in ifc->addrs. */
	if (!pm_l3_is_local(ifc, &pkt->ip.dst))
		return PM_DROP_IP_NOT_US;
	switch (pkt->ip.proto) {
	case PM_IPPROTO_TCP:
		pkt->kind = PM_L3_TCP;
		return PM_DROP_NONE;
	case PM_IPPROTO_ICMP:
		r = pm_l3_icmp_parse(frame, len, &pkt->ip, &pkt->icmp);
		if (r != PM_DROP_NONE)
			return r;
		pkt->kind = PM_L3_ICMP;
		return PM_DROP_NONE;
	default:
		return PM_DROP_IP_PROTO;
	}
}

/* An Ethernet/IPv4 ARP frame from @mac to @dst: sender (@mac, @spa),
 * target (@tha, @tpa). Returns its length; the caller checked the room. */
static int
put_arp(uint8_t *buf, const uint8_t *dst, const uint8_t *mac, uint16_t op, const uint8_t *spa,
	const uint8_t *tha, const uint8_t *tpa)
{
	uint8_t *p = buf + PM_ETH_HLEN;

	memcpy(buf, dst, PM_ETH_ALEN);
	memcpy(buf + PM_ETH_ALEN, mac, PM_ETH_ALEN);
	pm_put16(buf + 2 * PM_ETH_ALEN, PM_ETHERTYPE_ARP);
	pm_put16(p, 1);
	pm_put16(p + 2, PM_ETHERTYPE_IPV4);
	p[4] = PM_ETH_ALEN;
	p[5] = 4;
	pm_put16(p + 6, op);
	memcpy(p + 8, mac, PM_ETH_ALEN);
	memcpy(p + 14, spa, 4);
	memcpy(p + 18, tha, PM_ETH_ALEN);
	memcpy(p + 24, tpa, 4);
	return PM_ETH_HLEN + PM_ARP_LEN;
}

int
pm_l3_arp_reply(uint8_t *buf, size_t size, const struct pm_l3_arp *req,
		const uint8_t mac[PM_ETH_ALEN])
{
	if (req->op != PM_ARP_OP_REQUEST || req->spa.family != PM_AF_INET ||
	    req->tpa.family != PM_AF_INET)
		return -EINVAL;
	if (size < PM_ETH_HLEN + PM_ARP_LEN)
		return -ENOSPC;
	return put_arp(buf, req->sha, mac, PM_ARP_OP_REPLY, req->tpa.bytes, req->sha,
		       req->spa.bytes);
}

int
pm_l3_arp_request(uint8_t *buf, size_t size, const uint8_t mac[PM_ETH_ALEN],
		  const struct pm_addr *spa, const struct pm_addr *tpa, const uint8_t *dst)
{
	static const uint8_t broadcast[PM_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[PM_ETH_ALEN];

	if (spa->family != PM_AF_INET || tpa->family != PM_AF_INET)
		return -EINVAL;
	if (size < PM_ETH_HLEN + PM_ARP_LEN)
		return -ENOSPC;
	return put_arp(buf, dst != NULL ? dst : broadcast, mac, PM_ARP_OP_REQUEST, spa->bytes,
		       zero, tpa->bytes);
}

int
pm_l3_icmp_echo_request(uint8_t *buf, size_t size, const struct pm_addr *src,
			const struct pm_addr *dst, uint16_t ip_id, uint16_t id, uint16_t seq,
			const uint8_t *data, size_t dlen)
{
	size_t out = PM_ETH_HLEN + PM_IPV4_HLEN + PM_ICMP_HLEN + dlen;
	uint8_t *iph = buf + PM_ETH_HLEN, *icmp = iph + PM_IPV4_HLEN;

	if (src->family != PM_AF_INET || dst->family != PM_AF_INET)
		return -EINVAL;
	if (size < out || out > 0xffff + PM_ETH_HLEN)
		return -ENOSPC;
	memset(buf, 0, PM_ETH_HLEN);
	pm_put16(buf + 2 * PM_ETH_ALEN, PM_ETHERTYPE_IPV4);
	iph[0] = 0x45;
	iph[1] = 0;
	pm_put16(iph + 2, (uint16_t)(out - PM_ETH_HLEN));
	pm_put16(iph + 4, ip_id);
	pm_put16(iph + 6, 0);
	iph[8] = PM_L3_REPLY_TTL;
	iph[9] = PM_IPPROTO_ICMP;
	pm_put16(iph + 10, 0);
	memcpy(iph + 12, src->bytes, 4);
	memcpy(iph + 16, dst->bytes, 4);
	pm_put16(iph + 10, pm_cksum(iph, PM_IPV4_HLEN));
	icmp[0] = PM_ICMP_ECHO_REQUEST;
	icmp[1] = 0;
	pm_put16(icmp + 2, 0);
	pm_put16(icmp + 4, id);
	pm_put16(icmp + 6, seq);
	if (dlen > 0)
		memcpy(icmp + PM_ICMP_HLEN, data, dlen);
	pm_put16(icmp + 2, pm_cksum(icmp, PM_ICMP_HLEN + dlen));
	return (int)out;
}

int
pm_l3_icmp_echo_reply(uint8_t *buf, size_t size, const uint8_t *frame, size_t len,
		      const struct pm_l3_pkt *pkt)
{
	const struct pm_l3_ipv4 *ip = &pkt->ip;
	size_t out;
	uint8_t *iph, *icmp;

	if (pkt->kind != PM_L3_ICMP || pkt->icmp.type != PM_ICMP_ECHO_REQUEST ||
	    pkt->icmp.code != 0 || ip->off != PM_ETH_HLEN || ip->hlen != PM_IPV4_HLEN)
		return -EINVAL;
	out = PM_ETH_HLEN + PM_IPV4_HLEN + ip->payload_len;
	if (out > len)
		return -EINVAL;	/* pkt does not describe this frame */
	if (size < out)
		return -ENOSPC;
	/* memmove: identity when buf == frame, a copy when disjoint. */
	memmove(buf, frame, out);
	/* Ethernet: back to the sender, from us (the MAC it addressed). */
	memcpy(buf, pkt->eth.src, PM_ETH_ALEN);
	memcpy(buf + PM_ETH_ALEN, pkt->eth.dst, PM_ETH_ALEN);
	/* IPv4: swap the addresses, fresh TTL, checksum over the new header. */
	iph = buf + PM_ETH_HLEN;
	memcpy(iph + 12, ip->dst.bytes, 4);
	memcpy(iph + 16, ip->src.bytes, 4);
	iph[8] = PM_L3_REPLY_TTL;
	pm_put16(iph + 10, 0);
	pm_put16(iph + 10, pm_cksum(iph, PM_IPV4_HLEN));
	/* ICMP: type 0, same code/id/seq/data (RFC 792), checksum recomputed. */
	icmp = iph + PM_IPV4_HLEN;
	icmp[0] = PM_ICMP_ECHO_REPLY;
	pm_put16(icmp + 2, 0);
	pm_put16(icmp + 2, pm_cksum(icmp, ip->payload_len));
	return (int)out;
}
