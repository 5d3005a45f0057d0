/*
 * cookie.c -- SYN cookie encoding and validation; the layout and the
 * security argument are in cookie.h.
 *
 * The MSS table. Linux's syncookies.c keeps 536, 1300, 1440 and 1460, chosen
 * from Alcock and Nelson's survey of the MSS values clients announce. We have
 * three bits and use them to lose less where Linux rounds down far:
 *   536   the IPv4 default (RFC 9293 3.7.1); anything smaller maps here too
 *   1220  1280 (the IPv6 minimum MTU) - 60; fills the wide 536..1300 gap
 *   1300  Linux's entry for the common 1300..1349 clamps
 *   1360  and 1400: clamps of VPNs, tunnels and mobile networks, which
 *   1400    Linux rounds down to 1300 (up to 140 bytes lost per segment)
 *   1440  IPv6-in-IPv4 and similar tunnels (1480 - 40)
 *   1452  PPPoE (1492 - 40), exact instead of 1440
 *   1460  Ethernet, the most common value
 * Nothing above 1460: postmux runs with a 1500-byte MTU and no RX scatter,
 * so it never sends a segment larger than 1460 whatever the client allows.
 */
#include "tcp/cookie.h"

#include <errno.h>
#include <stddef.h>

const uint16_t pm_cookie_mss_table[PM_COOKIE_NMSS] = {
	536, 1220, 1300, 1360, 1400, 1440, 1452, 1460,
};

#define COOKIE_P		16777213u	/* 2^24 - 3, prime */
#define COOKIE_MAC_MASK		0xffffffu
#define COOKIE_COUNTER_MASK	((1u << 26) - 1)	/* UINT32_MAX / 64 */
#define COOKIE_WS_NONE		15u

/* The options byte D: mss index << 5 | sack << 4 | window shift (15 none). */
static uint8_t
opts_encode(const struct pm_cookie_opts *req, struct pm_cookie_opts *enc)
{
	unsigned int i = PM_COOKIE_NMSS - 1, ws;

	while (i > 0 && req->mss < pm_cookie_mss_table[i])
		i--;
	if (req->wscale < 0)
		ws = COOKIE_WS_NONE;
	else if (req->wscale > PM_COOKIE_WSCALE_MAX)
		ws = PM_COOKIE_WSCALE_MAX;
	else
		ws = (unsigned int)req->wscale;
	if (enc != NULL) {
		enc->mss = pm_cookie_mss_table[i];
		enc->wscale = ws == COOKIE_WS_NONE ? -1 : (int8_t)ws;
		enc->sack = req->sack;
	}
	return (uint8_t)(i << 5 | (req->sack ? 1u : 0u) << 4 | ws);
}

static void
opts_decode(uint8_t d, struct pm_cookie_opts *out)
{
	unsigned int ws = d & 0x0fu;

	out->mss = pm_cookie_mss_table[d >> 5];
	out->sack = (d & 0x10u) != 0;
	out->wscale = ws == COOKIE_WS_NONE ? -1 : (int8_t)ws;
}

static inline uint32_t
be32(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The per-(tuple, ISN, period) values: mask M and MAC key (A, B). */
struct cookie_keys {
	uint8_t m;
	uint32_t a;	/* 1 .. P - 1 */
	uint32_t b;	/* 0 .. P - 1 */
};

static void
cookie_keys(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
	    uint32_t counter, struct cookie_keys *ck)
{
	uint64_t h = pm_siphash_u32x5(&s->key, be32(t->saddr), be32(t->daddr),
				      (uint32_t)t->sport << 16 | t->dport, t->isn, counter);

	ck->m = (uint8_t)(h >> 56);
	ck->a = 1 + (uint32_t)(h & 0x0fffffffu) % (COOKIE_P - 1);
	ck->b = (uint32_t)((h >> 28) & 0x0fffffffu) % COOKIE_P;
}

/* (A * (D + 1) + B) mod P: A < 2^24 and D + 1 <= 256, so the sum is below
 * 2^33 and 64-bit arithmetic cannot overflow. */
static inline uint32_t
cookie_mac(const struct cookie_keys *ck, uint8_t d)
{
	return (uint32_t)(((uint64_t)ck->a * (d + 1u) + ck->b) % COOKIE_P);
}

static inline uint32_t
period(uint32_t now_s)
{
	return (now_s / PM_COOKIE_PERIOD_S) & COOKIE_COUNTER_MASK;
}

void
pm_cookie_secret_init(struct pm_cookie_secret *s, const uint8_t key[PM_SIPHASH_KEY_LEN])
{
	pm_siphash_key_load(&s->key, key);
}

uint32_t
pm_cookie_make(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
	       uint32_t now_s, const struct pm_cookie_opts *req, struct pm_cookie_opts *enc)
{
	struct cookie_keys ck;
	uint8_t d = opts_encode(req, enc);

	cookie_keys(s, t, period(now_s), &ck);
	return (uint32_t)(d ^ ck.m) << 24 | cookie_mac(&ck, d);
}

/* Does @cookie verify under @counter? Sets *d to its options byte if so. */
static bool
cookie_verify(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
	      uint32_t cookie, uint32_t counter, uint8_t *d)
{
	struct cookie_keys ck;
	uint8_t dd;

	cookie_keys(s, t, counter, &ck);
	dd = (uint8_t)(cookie >> 24) ^ ck.m;
	if (cookie_mac(&ck, dd) != (cookie & COOKIE_MAC_MASK))
		return false;
	*d = dd;
	return true;
}

int
pm_cookie_check(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
		uint32_t cookie, uint32_t now_s, struct pm_cookie_opts *out)
{
	uint32_t c = period(now_s);
	uint8_t d;

	/* A MAC of P .. 2^24 - 1 is never made: no hash needed. */
	if ((cookie & COOKIE_MAC_MASK) >= COOKIE_P)
		return -EINVAL;
	/* The current period first: a handshake completes within one RTT,
	 * so most genuine ACKs cost one hash. Then the previous one, modulo
	 * the counter's 26 bits. */
	if (!cookie_verify(s, t, cookie, c, &d) &&
	    !cookie_verify(s, t, cookie, (c - 1) & COOKIE_COUNTER_MASK, &d))
		return -EINVAL;
	opts_decode(d, out);
	return 0;
}
