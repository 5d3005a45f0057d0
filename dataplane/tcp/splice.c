/*
 * splice.c -- header rewrite, classification and trimming for spliced TCP
 * sessions.
 *
 * Every function first validates the whole packet layout (and, for the
 * rewrite, the whole option list) and only then writes, so a refused frame
 * is left as it was. Fields are read and written bytewise in network order:
 * no alignment is assumed.
 *
 * Checksum updates: the changed 16-bit words are summed, old and new, into
 * two accumulators, and each checksum receives one RFC 1624 eqn. 3 update
 * HC' = ~(~HC + ~M + M') with M, M' the folded sums. That is congruent
 * (mod 0xFFFF) to chaining one update per word. One unchanged non-zero word
 * (the protocol byte, 6) is put in both sums: it cancels out, but it makes
 * M' non-zero, so ~HC + ~M + M' never folds to 0 and HC' is never 0xFFFF:
 * the result is the canonical value a full recomputation gives, whatever
 * form of zero the input used (see net/cksum.h).
 */
#include "tcp/splice.h"
#include "net/bytes.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "net/cksum.h"
#include "net/l3.h"

#define TCP_HLEN	20	/* without options */
#define TCP_HLEN_MAX	60

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_ACK		0x10
#define TCP_URG		0x20

#define OPT_EOL		0
#define OPT_NOP		1
#define OPT_SACK	5
#define OPT_TS		8
#define OPT_SACK_MAX	4	/* 40 option bytes / 10, the shortest SACK */

/* Offsets inside the IPv4 and TCP headers. */
#define IP_TOT		2
#define IP_FRAG		6
#define IP_TTL		8
#define IP_PROTO	9
#define IP_CSUM		10
#define IP_SRC		12
#define IP_DST		16
#define TH_SPORT	0
#define TH_DPORT	2
#define TH_SEQ		4
#define TH_ACK		8
#define TH_DOFF		12
#define TH_FLAGS	13
#define TH_WIN		14
#define TH_CSUM		16
#define TH_URP		18

static inline uint16_t
swap16(uint16_t v)
{
	return (uint16_t)(v >> 8 | v << 8);
}

static inline uint16_t
fold(uint32_t s)
{
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* a before b in sequence space (tcp/seq.h's pm_seq_lt, which this module
 * may not depend on yet): true at a distance of exactly 2^31 both ways. */
static inline bool
seq_before(uint32_t a, uint32_t b)
{
	return a - b > 0x7fffffffu;
}

/*
 * Old and new sums of the words a rewrite changes. At most ~30 words of at
 * most 0xffff each are added, far below 2^32.
 */
struct csum_delta {
	uint32_t old;
	uint32_t new;
};

static inline void
delta16(struct csum_delta *c, uint16_t old, uint16_t new)
{
	c->old += old;
	c->new += new;
}

/* A 32-bit field at byte offset @off of the checksummed data. At an odd
 * offset its bytes sit in the other halves of their words, so its
 * contribution is the byte-swapped sum (RFC 1071 2(B)). */
static inline void
delta32(struct csum_delta *c, size_t off, uint32_t old, uint32_t new)
{
	uint16_t o = fold((old >> 16) + (old & 0xffffu));
	uint16_t n = fold((new >> 16) + (new & 0xffffu));

	if (off % 2 != 0) {
		o = swap16(o);
		n = swap16(n);
	}
	delta16(c, o, n);
}

static inline uint16_t
delta_apply(uint16_t hc, const struct csum_delta *c)
{
	return pm_cksum_update16(hc, fold(c->old), fold(c->new));
}

/* The validated layout of an IPv4+TCP packet. */
struct layout {
	uint8_t *ip;
	uint8_t *th;
	size_t hlen;		/* TCP header length */
	size_t seg_len;		/* TCP header + payload */
	uint8_t flags;
};

static int
layout_check(uint8_t *frame, size_t len, size_t ip_off, size_t tcp_off, struct layout *l)
{
	uint8_t *ip, *th;
	uint16_t tot;
	size_t hlen;

	if (ip_off > len || len - ip_off < PM_IPV4_HLEN)
		return -EINVAL;
	ip = frame + ip_off;
	/* Version 4, IHL 5: the RX parser drops options (net/l3.h). */
	if (ip[0] != 0x45 || tcp_off != ip_off + PM_IPV4_HLEN)
		return -EINVAL;
	tot = pm_get16(ip + IP_TOT);
	if (tot > len - ip_off || tot < PM_IPV4_HLEN + TCP_HLEN)
		return -EINVAL;
	/* MF or a fragment offset: the TCP header may be absent or partial. */
	if ((pm_get16(ip + IP_FRAG) & 0x3fff) != 0 || ip[IP_PROTO] != PM_IPPROTO_TCP)
		return -EINVAL;
	th = ip + PM_IPV4_HLEN;
	hlen = (size_t)(th[TH_DOFF] >> 4) * 4;
	if (hlen < TCP_HLEN || hlen > (size_t)tot - PM_IPV4_HLEN)
		return -EINVAL;
	l->ip = ip;
	l->th = th;
	l->hlen = hlen;
	l->seg_len = (size_t)tot - PM_IPV4_HLEN;
	l->flags = th[TH_FLAGS];
	return 0;
}

/*
 * Walk the options of TCP header @th (@hlen bytes): record the offsets of
 * the SACK options (from the start of the TCP header) and flag a timestamp.
 * RFC 9293 3.1: EOL ends the list (the rest is padding), NOP is one byte,
 * every other option has a length byte counting kind and length.
 */
static int
options_scan(const uint8_t *th, size_t hlen, size_t sack[OPT_SACK_MAX], size_t *nsack,
	     int *flags)
{
	size_t i = TCP_HLEN, olen;

	*nsack = 0;
	while (i < hlen) {
		uint8_t kind = th[i];

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (hlen - i < 2)
			return -EINVAL;
		olen = th[i + 1];
		if (olen < 2 || olen > hlen - i)
			return -EINVAL;
		if (kind == OPT_SACK) {
			/* RFC 2018 3: 2 + 8n bytes, n >= 1. 40 option bytes
			 * bound n to 4 and the option count to 4. */
			if (olen < 10 || (olen - 2) % 8 != 0 || *nsack == OPT_SACK_MAX)
				return -EINVAL;
			sack[(*nsack)++] = i;
		} else if (kind == OPT_TS) {
			*flags |= PM_SPLICE_F_TSOPT;
		}
		i += olen;
	}
	return 0;
}

uint16_t
pm_splice_wnd(uint16_t wnd, unsigned in, unsigned out)
{
	/* in <= 14: the shifted value stays below 2^30. */
	uint32_t w = ((uint32_t)wnd << in) >> out;

	if (w > 0xffffu)
		return 0xffff;
	if (w == 0 && wnd != 0)
		return 1;
	return (uint16_t)w;
}

int
pm_splice_init(const struct pm_splice_params *p, struct pm_splice_dir *to_backend,
	       struct pm_splice_dir *to_client)
{
	if (p->client_wscale > PM_SPLICE_WSCALE_MAX ||
	    p->to_client_wscale > PM_SPLICE_WSCALE_MAX ||
	    p->backend_wscale > PM_SPLICE_WSCALE_MAX ||
	    p->to_backend_wscale > PM_SPLICE_WSCALE_MAX)
		return -EINVAL;

	memcpy(to_backend->saddr, p->local_addr, 4);
	memcpy(to_backend->daddr, p->backend_addr, 4);
	to_backend->sport = p->local_port;
	to_backend->dport = p->backend_port;
	/* The client's byte client_nxt is postmux's byte to_backend_nxt. */
	to_backend->seq_delta = p->to_backend_nxt - p->client_nxt;
	/* The client acknowledges postmux's client-side stream, whose byte
	 * to_client_nxt is the backend's byte backend_nxt. */
	to_backend->ack_delta = p->backend_nxt - p->to_client_nxt;
	to_backend->wnd_shift_in = p->client_wscale;
	to_backend->wnd_shift_out = p->to_backend_wscale;
	to_backend->ttl = PM_L3_REPLY_TTL;

	memcpy(to_client->saddr, p->vip_addr, 4);
	memcpy(to_client->daddr, p->client_addr, 4);
	to_client->sport = p->vip_port;
	to_client->dport = p->client_port;
	to_client->seq_delta = p->to_client_nxt - p->backend_nxt;
	to_client->ack_delta = p->client_nxt - p->to_backend_nxt;
	to_client->wnd_shift_in = p->backend_wscale;
	to_client->wnd_shift_out = p->to_client_wscale;
	to_client->ttl = PM_L3_REPLY_TTL;
	return 0;
}

int
pm_splice_rewrite(uint8_t *frame, size_t len, size_t ip_off, size_t tcp_off,
		  const struct pm_splice_dir *d)
{
	struct csum_delta ipc = { PM_IPPROTO_TCP, PM_IPPROTO_TCP };
	struct csum_delta tcpc = { PM_IPPROTO_TCP, PM_IPPROTO_TCP };
	size_t sack[OPT_SACK_MAX], nsack, i, o;
	struct layout l;
	uint8_t *ip, *th;
	int flags = 0, rc;
	uint32_t a;
	uint16_t w, nw;

	if (d->wnd_shift_in > PM_SPLICE_WSCALE_MAX || d->wnd_shift_out > PM_SPLICE_WSCALE_MAX)
		return -EINVAL;
	rc = layout_check(frame, len, ip_off, tcp_off, &l);
	if (rc != 0)
		return rc;
	/* A SYN's MSS and window scale describe the wrong connection. */
	if ((l.flags & TCP_SYN) != 0)
		return -EINVAL;
	rc = options_scan(l.th, l.hlen, sack, &nsack, &flags);
	if (rc != 0)
		return rc;
	ip = l.ip;
	th = l.th;

	/* Nothing is written above this line. */

	/* Addresses: in the IPv4 header and in the TCP pseudo-header, whose
	 * words are even-aligned (offset 0 and 4). */
	a = pm_get32(d->saddr);
	delta32(&ipc, IP_SRC, pm_get32(ip + IP_SRC), a);
	delta32(&tcpc, 0, pm_get32(ip + IP_SRC), a);
	memcpy(ip + IP_SRC, d->saddr, 4);
	a = pm_get32(d->daddr);
	delta32(&ipc, IP_DST, pm_get32(ip + IP_DST), a);
	delta32(&tcpc, 4, pm_get32(ip + IP_DST), a);
	memcpy(ip + IP_DST, d->daddr, 4);
	/* TTL shares its word with the protocol. */
	delta16(&ipc, pm_get16(ip + IP_TTL), (uint16_t)(d->ttl << 8 | ip[IP_PROTO]));
	ip[IP_TTL] = d->ttl;
	pm_put16(ip + IP_CSUM, delta_apply(pm_get16(ip + IP_CSUM), &ipc));

	delta16(&tcpc, pm_get16(th + TH_SPORT), d->sport);
	pm_put16(th + TH_SPORT, d->sport);
	delta16(&tcpc, pm_get16(th + TH_DPORT), d->dport);
	pm_put16(th + TH_DPORT, d->dport);

	a = pm_get32(th + TH_SEQ);
	delta32(&tcpc, TH_SEQ, a, a + d->seq_delta);
	pm_put32(th + TH_SEQ, a + d->seq_delta);

	/* Without ACK the field is meaningless (often 0, e.g. in a RST):
	 * leave it alone rather than invent a value. */
	if ((l.flags & TCP_ACK) != 0) {
		a = pm_get32(th + TH_ACK);
		delta32(&tcpc, TH_ACK, a, a + d->ack_delta);
		pm_put32(th + TH_ACK, a + d->ack_delta);
	}

	if (d->wnd_shift_in != d->wnd_shift_out) {
		w = pm_get16(th + TH_WIN);
		nw = pm_splice_wnd(w, d->wnd_shift_in, d->wnd_shift_out);
		delta16(&tcpc, w, nw);
		pm_put16(th + TH_WIN, nw);
	}

	/* SACK edges acknowledge the same stream as the ack field. An option
	 * may start at any offset: NOP padding to 4 is customary, not
	 * required, hence the odd-offset case in delta32(). */
	for (i = 0; i < nsack; i++) {
		size_t end = sack[i] + th[sack[i] + 1];

		for (o = sack[i] + 2; o < end; o += 4) {
			a = pm_get32(th + o);
			delta32(&tcpc, o, a, a + d->ack_delta);
			pm_put32(th + o, a + d->ack_delta);
		}
	}

	pm_put16(th + TH_CSUM, delta_apply(pm_get16(th + TH_CSUM), &tcpc));
	return flags;
}

enum pm_splice_class
pm_splice_classify(uint32_t seq, uint32_t len, uint32_t p, uint32_t *trim)
{
	uint32_t before_p;

	*trim = 0;
	if (!seq_before(seq, p))
		return PM_SPLICE_FORWARD;
	/* seq lies 1..2^31 bytes before p. Comparing that distance with len
	 * (not end with p in sequence space) keeps the 2^31 case one-sided:
	 * there, p - seq and seq - p are both "before". */
	before_p = p - seq;
	if (len <= before_p)
		return PM_SPLICE_STALE;
	*trim = before_p;
	return PM_SPLICE_TRIM;
}

/* The TCP pseudo-header sum (RFC 9293 3.1) of the IPv4 header @ip for a
 * segment of @seg_len bytes. */
static uint16_t
pseudo_sum(const uint8_t *ip, size_t seg_len)
{
	uint8_t ph[12];

	memcpy(ph, ip + IP_SRC, 8);
	ph[8] = 0;
	ph[9] = ip[IP_PROTO];
	pm_put16(ph + 10, (uint16_t)seg_len);
	return pm_cksum_partial(0, ph, sizeof(ph));
}

int
pm_splice_trim(uint8_t *frame, size_t len, size_t ip_off, size_t tcp_off, uint32_t trim)
{
	struct layout l;
	size_t hdr_end;
	uint16_t s, kept, tot, urp;
	uint8_t *ip, *th;
	int rc;

	rc = layout_check(frame, len, ip_off, tcp_off, &l);
	if (rc != 0)
		return rc;
	if ((l.flags & TCP_SYN) != 0 || trim > l.seg_len - l.hlen)
		return -EINVAL;
	if (trim == 0)
		return 0;

	/* Old pseudo-header + header (checksum field included) + dropped
	 * bytes; the dropped bytes start on an even offset (hlen is a multiple
	 * of 4), and an odd last one is the high byte of its word, as
	 * pm_cksum_partial() pads it. For a correct segment the whole sum is
	 * 0 (mod 0xffff), so its complement is the sum of the kept bytes in
	 * their old positions. */
	s = pseudo_sum(l.ip, l.seg_len);
	s = pm_cksum_partial(s, l.th, l.hlen);
	s = pm_cksum_partial(s, l.th + l.hlen, trim);
	kept = (uint16_t)~s;
	if (trim % 2 != 0)
		kept = swap16(kept);

	hdr_end = tcp_off + l.hlen;
	memmove(frame + trim, frame, hdr_end);
	ip = l.ip + trim;
	th = l.th + trim;

	tot = pm_get16(ip + IP_TOT);
	pm_put16(ip + IP_CSUM, pm_cksum_update16(pm_get16(ip + IP_CSUM), tot, (uint16_t)(tot - trim)));
	pm_put16(ip + IP_TOT, (uint16_t)(tot - trim));

	pm_put32(th + TH_SEQ, pm_get32(th + TH_SEQ) + trim);
	/* RFC 9293 3.8.5: the urgent pointer is an offset from the sequence
	 * number. Urgent data wholly in the dropped bytes was delivered
	 * before the splice point. */
	if ((l.flags & TCP_URG) != 0) {
		urp = pm_get16(th + TH_URP);
		if (urp <= trim) {
			th[TH_FLAGS] = (uint8_t)(l.flags & ~TCP_URG);
			pm_put16(th + TH_URP, 0);
		} else {
			pm_put16(th + TH_URP, (uint16_t)(urp - trim));
		}
	}

	/* The new pseudo-header has a non-zero word (the protocol), so the
	 * folded sum is never 0 and the checksum never 0xFFFF. */
	pm_put16(th + TH_CSUM, 0);
	s = pseudo_sum(ip, l.seg_len - trim);
	s = pm_cksum_partial((uint32_t)s + kept, th, l.hlen);
	pm_put16(th + TH_CSUM, pm_cksum_finish(s));
	return 0;
}
