/*
 * tcpopt.c -- TCP header parsing and building, and the TCP checksum.
 *
 * The parser checks that every byte it reads lies inside the header before
 * reading it, and reads fields bytewise in network order, so no alignment is
 * assumed. The option loop is bounded by the header length (at most 40
 * iterations of at least one byte each).
 */
#include "tcp/tcpopt.h"
#include "net/bytes.h"

#include <errno.h>
#include <string.h>

#include "net/cksum.h"
#include "net/l3.h"

#define OPTLEN_MSS		4
#define OPTLEN_WS		3
#define OPTLEN_SACK_PERM	2
#define OPTLEN_TS		10
#define OPTLEN_SACK_BLOCK	8

/* One option of kind @kind and total length @olen at @o (olen >= 2, inside
 * the header). Known kinds with a wrong length are ignored (tcpopt.h). */
static void
option(struct pm_tcp_hdr *h, uint8_t kind, const uint8_t *o, size_t olen)
{
	size_t i, n;

	switch (kind) {
	case PM_TCPOPT_MSS:
		if (olen == OPTLEN_MSS) {
			h->has_mss = true;
			h->mss = pm_get16(o + 2);
		}
		break;
	case PM_TCPOPT_WS:
		if (olen == OPTLEN_WS) {
			h->has_ws = true;
			h->ws = o[2];
		}
		break;
	case PM_TCPOPT_SACK_PERM:
		if (olen == OPTLEN_SACK_PERM)
			h->sack_ok = true;
		break;
	case PM_TCPOPT_SACK:
		/* RFC 2018 3: 2 + 8n bytes; n <= 4 follows from olen <= 40. */
		if (olen < 2 + OPTLEN_SACK_BLOCK || (olen - 2) % OPTLEN_SACK_BLOCK != 0)
			break;
		n = (olen - 2) / OPTLEN_SACK_BLOCK;
		for (i = 0; i < n; i++) {
			h->sack[i][0] = pm_get32(o + 2 + 8 * i);
			h->sack[i][1] = pm_get32(o + 6 + 8 * i);
		}
		h->nsack = (uint8_t)n;
		break;
	case PM_TCPOPT_TS:
		if (olen == OPTLEN_TS) {
			h->has_ts = true;
			h->tsval = pm_get32(o + 2);
			h->tsecr = pm_get32(o + 6);
		}
		break;
	default:
		break;	/* RFC 9293 3.1: ignore options we do not implement */
	}
}

enum pm_tcpopt_status
pm_tcpopt_parse(const uint8_t *frame, size_t len, size_t off, size_t seg_len,
		struct pm_tcp_hdr *h)
{
	const uint8_t *p;
	size_t doff, i;

	if (off > len || len - off < seg_len || seg_len < PM_TCP_HLEN)
		return PM_TCPOPT_SHORT;
	p = frame + off;
	/* RFC 9293 3.1: Data Offset counts 32-bit words, at least 5, and the
	 * header cannot extend past the segment. */
	doff = (size_t)(p[12] >> 4) * 4;
	if (doff < PM_TCP_HLEN || doff > seg_len)
		return PM_TCPOPT_HDR_LEN;
	h->sport = pm_get16(p);
	h->dport = pm_get16(p + 2);
	h->seq = pm_get32(p + 4);
	h->ack = pm_get32(p + 8);
	h->doff = (uint8_t)doff;
	h->flags = p[13];
	h->wnd = pm_get16(p + 14);
	h->csum = pm_get16(p + 16);
	h->urp = pm_get16(p + 18);
	h->has_mss = false;
	h->mss = 0;
	h->has_ws = false;
	h->ws = 0;
	h->sack_ok = false;
	h->nsack = 0;
	memset(h->sack, 0, sizeof(h->sack));
	h->has_ts = false;
	h->tsval = 0;
	h->tsecr = 0;
	h->payload_off = off + doff;
	h->payload_len = seg_len - doff;

	i = PM_TCP_HLEN;
	while (i < doff) {
		uint8_t kind = p[i];
		size_t olen;

		if (kind == PM_TCPOPT_EOL)
			break;
		if (kind == PM_TCPOPT_NOP) {
			i++;
			continue;
		}
		/* Every other kind has a length byte, counting kind and length. */
		if (doff - i < 2)
			return PM_TCPOPT_OPTION;
		olen = p[i + 1];
		if (olen < 2 || olen > doff - i)
			return PM_TCPOPT_OPTION;
		option(h, kind, p + i, olen);
		i += olen;
	}
	return PM_TCPOPT_OK;
}

uint16_t
pm_tcpopt_pseudo_sum(const struct pm_addr *src, const struct pm_addr *dst, size_t seg_len)
{
	size_t alen = pm_addr_len(src);
	uint32_t sum;

	/* IPv4: src, dst, zero, protocol, TCP length (16 bits). IPv6: src,
	 * dst, upper-layer length (32 bits), zero, next header. The sums are
	 * the same expression: the length's two 16-bit halves, plus the
	 * protocol in the low byte of a word. */
	sum = pm_cksum_partial(0, src->bytes, alen);
	sum = pm_cksum_partial(sum, dst->bytes, alen);
	sum += PM_IPPROTO_TCP;
	sum += (uint32_t)(seg_len >> 16) & 0xffffu;
	sum += (uint32_t)seg_len & 0xffffu;
	/* Fold to 16 bits without complementing. */
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)sum;
}

bool
pm_tcpopt_csum_ok(const uint8_t *seg, size_t seg_len, const struct pm_addr *src,
		  const struct pm_addr *dst)
{
	uint16_t sum = pm_cksum_partial(pm_tcpopt_pseudo_sum(src, dst, seg_len), seg, seg_len);

	return pm_cksum_finish(sum) == 0;
}

uint16_t
pm_tcpopt_csum(const uint8_t *seg, size_t seg_len, const struct pm_addr *src,
	       const struct pm_addr *dst)
{
	uint16_t sum = pm_tcpopt_pseudo_sum(src, dst, seg_len);

	/* Skip the checksum field (bytes 16-17): the first chunk is 16 bytes,
	 * even, so the rest keeps its word alignment (net/cksum.h). A segment
	 * too short to hold the field (a caller bug) is summed as it is. */
	if (seg_len < 18)
		return pm_cksum_finish(pm_cksum_partial(sum, seg, seg_len));
	sum = pm_cksum_partial(sum, seg, 16);
	sum = pm_cksum_partial(sum, seg + 18, seg_len - 18);
	return pm_cksum_finish(sum);
}

/* Lengths of the two layouts (tcpopt.h), from the selected options. */
static size_t
conventional_len(const struct pm_tcp_hdr *h)
{
	size_t n = 0;

	if (h->has_mss)
		n += 4;
	if (h->has_ts)
		n += 12;	/* SACK-permitted rides in the TS word's padding */
	else if (h->sack_ok)
		n += 4;
	if (h->has_ws)
		n += 4;
	if (h->nsack > 0)
		n += 4 + OPTLEN_SACK_BLOCK * (size_t)h->nsack;
	return n;
}

static size_t
packed_len(const struct pm_tcp_hdr *h)
{
	size_t n = 0;

	if (h->has_mss)
		n += OPTLEN_MSS;
	if (h->has_ws)
		n += OPTLEN_WS;
	if (h->sack_ok)
		n += OPTLEN_SACK_PERM;
	if (h->has_ts)
		n += OPTLEN_TS;
	if (h->nsack > 0)
		n += 2 + OPTLEN_SACK_BLOCK * (size_t)h->nsack;
	return (n + 3) & ~(size_t)3;
}

int
pm_tcpopt_hdr_len(const struct pm_tcp_hdr *h)
{
	size_t n;

	if (h->nsack > PM_TCP_SACK_MAX)
		return -EINVAL;
	n = conventional_len(h);
	if (n > PM_TCP_OPT_MAX)
		n = packed_len(h);
	if (n > PM_TCP_OPT_MAX)
		return -EINVAL;
	return (int)(PM_TCP_HLEN + n);
}

static uint8_t *
put_ts(uint8_t *o, const struct pm_tcp_hdr *h)
{
	o[0] = PM_TCPOPT_TS;
	o[1] = OPTLEN_TS;
	pm_put32(o + 2, h->tsval);
	pm_put32(o + 6, h->tsecr);
	return o + OPTLEN_TS;
}

static uint8_t *
put_sack(uint8_t *o, const struct pm_tcp_hdr *h)
{
	size_t i;

	o[0] = PM_TCPOPT_SACK;
	o[1] = (uint8_t)(2 + OPTLEN_SACK_BLOCK * h->nsack);
	for (i = 0; i < h->nsack; i++) {
		pm_put32(o + 2 + 8 * i, h->sack[i][0]);
		pm_put32(o + 6 + 8 * i, h->sack[i][1]);
	}
	return o + 2 + OPTLEN_SACK_BLOCK * h->nsack;
}

static uint8_t *
put_mss(uint8_t *o, const struct pm_tcp_hdr *h)
{
	o[0] = PM_TCPOPT_MSS;
	o[1] = OPTLEN_MSS;
	pm_put16(o + 2, h->mss);
	return o + OPTLEN_MSS;
}

/* Linux's tcp_options_write() order: every option padded to a 32-bit
 * boundary with leading NOPs, SACK-permitted sharing TS's padding. */
static void
write_conventional(uint8_t *o, const struct pm_tcp_hdr *h)
{
	if (h->has_mss)
		o = put_mss(o, h);
	if (h->has_ts) {
		if (h->sack_ok) {
			o[0] = PM_TCPOPT_SACK_PERM;
			o[1] = OPTLEN_SACK_PERM;
		} else {
			o[0] = PM_TCPOPT_NOP;
			o[1] = PM_TCPOPT_NOP;
		}
		o = put_ts(o + 2, h);
	} else if (h->sack_ok) {
		o[0] = PM_TCPOPT_NOP;
		o[1] = PM_TCPOPT_NOP;
		o[2] = PM_TCPOPT_SACK_PERM;
		o[3] = OPTLEN_SACK_PERM;
		o += 4;
	}
	if (h->has_ws) {
		o[0] = PM_TCPOPT_NOP;
		o[1] = PM_TCPOPT_WS;
		o[2] = OPTLEN_WS;
		o[3] = h->ws;
		o += 4;
	}
	if (h->nsack > 0) {
		o[0] = PM_TCPOPT_NOP;
		o[1] = PM_TCPOPT_NOP;
		put_sack(o + 2, h);
	}
}

/* Back to back in the same order, then zeros (EOL) to the 4-byte boundary. */
static void
write_packed(uint8_t *o, uint8_t *end, const struct pm_tcp_hdr *h)
{
	if (h->has_mss)
		o = put_mss(o, h);
	if (h->has_ws) {
		o[0] = PM_TCPOPT_WS;
		o[1] = OPTLEN_WS;
		o[2] = h->ws;
		o += OPTLEN_WS;
	}
	if (h->sack_ok) {
		o[0] = PM_TCPOPT_SACK_PERM;
		o[1] = OPTLEN_SACK_PERM;
		o += OPTLEN_SACK_PERM;
	}
	if (h->has_ts)
		o = put_ts(o, h);
	if (h->nsack > 0)
		o = put_sack(o, h);
	memset(o, PM_TCPOPT_EOL, (size_t)(end - o));
}

int
pm_tcpopt_build(uint8_t *buf, size_t size, const struct pm_tcp_hdr *h)
{
	int hlen = pm_tcpopt_hdr_len(h);

	if (hlen < 0)
		return hlen;
	if (size < (size_t)hlen)
		return -ENOSPC;
	pm_put16(buf, h->sport);
	pm_put16(buf + 2, h->dport);
	pm_put32(buf + 4, h->seq);
	pm_put32(buf + 8, h->ack);
	buf[12] = (uint8_t)((hlen / 4) << 4);	/* reserved bits zero */
	buf[13] = h->flags;
	pm_put16(buf + 14, h->wnd);
	pm_put16(buf + 16, 0);
	pm_put16(buf + 18, h->urp);
	if (conventional_len(h) <= PM_TCP_OPT_MAX)
		write_conventional(buf + PM_TCP_HLEN, h);
	else
		write_packed(buf + PM_TCP_HLEN, buf + hlen, h);
	return hlen;
}

int
pm_tcpopt_segment(uint8_t *buf, size_t size, const struct pm_addr *src,
		  const struct pm_addr *dst, uint16_t ip_id, const struct pm_tcp_hdr *h,
		  const uint8_t *payload, size_t plen)
{
	uint8_t *iph = buf + PM_ETH_HLEN, *tcp = iph + PM_IPV4_HLEN;
	int hlen = pm_tcpopt_hdr_len(h);
	size_t seg_len, out;

	if (src->family != PM_AF_INET || dst->family != PM_AF_INET || hlen < 0)
		return -EINVAL;
	if (plen > 0xffff)
		return -ENOSPC;	/* checked first so the sums below cannot wrap */
	seg_len = (size_t)hlen + plen;
	out = PM_ETH_HLEN + PM_IPV4_HLEN + seg_len;
	if (size < out || PM_IPV4_HLEN + seg_len > 0xffff)
		return -ENOSPC;
	memset(buf, 0, PM_ETH_HLEN);
	pm_put16(buf + 2 * PM_ETH_ALEN, PM_ETHERTYPE_IPV4);
	iph[0] = 0x45;
	iph[1] = 0;
	pm_put16(iph + 2, (uint16_t)(PM_IPV4_HLEN + seg_len));
	pm_put16(iph + 4, ip_id);
	pm_put16(iph + 6, 0x4000);	/* DF, for path MTU discovery (RFC 1191) */
	iph[8] = PM_L3_REPLY_TTL;
	iph[9] = PM_IPPROTO_TCP;
	pm_put16(iph + 10, 0);
	memcpy(iph + 12, src->bytes, 4);
	memcpy(iph + 16, dst->bytes, 4);
	pm_put16(iph + 10, pm_cksum(iph, PM_IPV4_HLEN));
	(void)pm_tcpopt_build(tcp, (size_t)hlen, h);
	if (plen > 0)
		memcpy(tcp + hlen, payload, plen);
	pm_put16(tcp + 16, pm_tcpopt_csum(tcp, seg_len, src, dst));
	return (int)out;
}
