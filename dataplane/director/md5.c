/*
 * md5.c -- a compact MD5 written from RFC 1321.
 *
 * The director hashes short strings (user names, "ip-i" vhost labels), so
 * the one-shot interface copies the tail into a stack block and never keeps
 * state between calls. Words are read little-endian explicitly, so the code
 * does not depend on the host byte order or on alignment.
 */
#include "director/md5.h"

#include <string.h>

/* K[i] = floor(|sin(i + 1)| * 2^32), RFC 1321 section 3.4. */
static const uint32_t md5_k[64] = {
	0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu,
	0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
	0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu,
	0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
	0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau,
	0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
	0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu,
	0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
	0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu,
	0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
	0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u,
	0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
	0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u,
	0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
	0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u,
	0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

static inline uint32_t
rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

static inline uint32_t
load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void
store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * One MD5 step (RFC 1321 section 3.4): a = b + ((a + f(b, c, d) + X[k] + T[i]) <<< s).
 *
 * MD5 is one long dependency chain through b, so a step costs the latency
 * of the operations that wait for the previous step's result. Each step
 * below first adds the inputs that are ready early (a, X[k], T[i] and any
 * part of f that does not involve b) and only then the part that needs b.
 * The round functions are the RFC's, rewritten to that end:
 *   F = (b & c) | (~b & d)  as  d ^ (b & (c ^ d))
 *   G = (b & d) | (c & ~d)  as  (c & ~d) + (b & d): the two terms share no
 *                           bit, so OR and + agree, and c & ~d is ready early
 *   H = b ^ c ^ d           as  b ^ (c ^ d)
 *   I = c ^ (b | ~d)
 * Unsigned additions wrap, so the order of the sum does not change it.
 */
#define MD5_R1(a, b, c, d, x, t, s)				\
	do {							\
		(a) += (x) + (t);				\
		(a) += (d) ^ ((b) & ((c) ^ (d)));		\
		(a) = rol32((a), (s)) + (b);			\
	} while (0)
#define MD5_R2(a, b, c, d, x, t, s)				\
	do {							\
		(a) += (x) + (t) + ((c) & ~(d));		\
		(a) += (b) & (d);				\
		(a) = rol32((a), (s)) + (b);			\
	} while (0)
#define MD5_R3(a, b, c, d, x, t, s)				\
	do {							\
		(a) += (x) + (t);				\
		(a) += (b) ^ ((c) ^ (d));			\
		(a) = rol32((a), (s)) + (b);			\
	} while (0)
#define MD5_R4(a, b, c, d, x, t, s)				\
	do {							\
		(a) += (x) + (t);				\
		(a) += (c) ^ ((b) | ~(d));			\
		(a) = rol32((a), (s)) + (b);			\
	} while (0)

/* Four steps of a round starting at step @i, with the round's word order
 * (step j uses word (m * j + o) mod 16) and shifts. Everything but a, b,
 * c, d is a compile-time constant, so the 64 steps unroll completely. */
#define MD5_QUAD(R, i, m, o, s0, s1, s2, s3)					\
	do {									\
		R(a, b, c, d, w[((m) * ((i) + 0) + (o)) & 15], md5_k[(i) + 0], s0);	\
		R(d, a, b, c, w[((m) * ((i) + 1) + (o)) & 15], md5_k[(i) + 1], s1);	\
		R(c, d, a, b, w[((m) * ((i) + 2) + (o)) & 15], md5_k[(i) + 2], s2);	\
		R(b, c, d, a, w[((m) * ((i) + 3) + (o)) & 15], md5_k[(i) + 3], s3);	\
	} while (0)

static void
md5_block(uint32_t st[4], const uint8_t *blk)
{
	uint32_t w[16];
	uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_le32(blk + 4 * i);

	/* Round 1: word i, shifts 7 12 17 22. */
	MD5_QUAD(MD5_R1, 0, 1, 0, 7, 12, 17, 22);
	MD5_QUAD(MD5_R1, 4, 1, 0, 7, 12, 17, 22);
	MD5_QUAD(MD5_R1, 8, 1, 0, 7, 12, 17, 22);
	MD5_QUAD(MD5_R1, 12, 1, 0, 7, 12, 17, 22);
	/* Round 2: word (5i + 1) mod 16, shifts 5 9 14 20. */
	MD5_QUAD(MD5_R2, 16, 5, 1, 5, 9, 14, 20);
	MD5_QUAD(MD5_R2, 20, 5, 1, 5, 9, 14, 20);
	MD5_QUAD(MD5_R2, 24, 5, 1, 5, 9, 14, 20);
	MD5_QUAD(MD5_R2, 28, 5, 1, 5, 9, 14, 20);
	/* Round 3: word (3i + 5) mod 16, shifts 4 11 16 23. */
	MD5_QUAD(MD5_R3, 32, 3, 5, 4, 11, 16, 23);
	MD5_QUAD(MD5_R3, 36, 3, 5, 4, 11, 16, 23);
	MD5_QUAD(MD5_R3, 40, 3, 5, 4, 11, 16, 23);
	MD5_QUAD(MD5_R3, 44, 3, 5, 4, 11, 16, 23);
	/* Round 4: word 7i mod 16, shifts 6 10 15 21. */
	MD5_QUAD(MD5_R4, 48, 7, 0, 6, 10, 15, 21);
	MD5_QUAD(MD5_R4, 52, 7, 0, 6, 10, 15, 21);
	MD5_QUAD(MD5_R4, 56, 7, 0, 6, 10, 15, 21);
	MD5_QUAD(MD5_R4, 60, 7, 0, 6, 10, 15, 21);

	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

static void
md5_iv(uint32_t st[4])
{
	st[0] = 0x67452301u;
	st[1] = 0xefcdab89u;
	st[2] = 0x98badcfeu;
	st[3] = 0x10325476u;
}

/* Padding (RFC 1321 3.1-3.2): 0x80, zeros to 56 mod 64, then the message
 * length in bits as a little-endian 64-bit word. @rest < 64 bytes at @p are
 * the unprocessed tail. */
static void
md5_pad(uint32_t st[4], const uint8_t *p, size_t rest, uint64_t total)
{
	uint8_t tail[128];
	uint64_t bits = total << 3;
	size_t padded = rest < 56 ? 64 : 128;

	memcpy(tail, p, rest);
	tail[rest] = 0x80;
	memset(tail + rest + 1, 0, padded - rest - 1 - 8);
	store_le32(tail + padded - 8, (uint32_t)bits);
	store_le32(tail + padded - 4, (uint32_t)(bits >> 32));
	md5_block(st, tail);
	if (padded == 128)
		md5_block(st, tail + 64);
}

static void
md5_state(const void *data, size_t len, uint32_t st[4])
{
	const uint8_t *p = data;
	uint64_t total = len;

	md5_iv(st);
	for (; len >= 64; p += 64, len -= 64)
		md5_block(st, p);
	md5_pad(st, p, len, total);
}

void
pm_md5_init(struct pm_md5_ctx *c)
{
	md5_iv(c->st);
	c->len = 0;
}

void
pm_md5_update(struct pm_md5_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t have = c->len & 63, take;

	c->len += len;
	if (have != 0) {
		take = 64 - have < len ? 64 - have : len;
		memcpy(c->buf + have, p, take);
		p += take;
		len -= take;
		if (have + take < 64)
			return;
		md5_block(c->st, c->buf);
	}
	for (; len >= 64; p += 64, len -= 64)
		md5_block(c->st, p);
	memcpy(c->buf, p, len);
}

void
pm_md5_final(struct pm_md5_ctx *c, uint8_t out[PM_MD5_LEN])
{
	int i;

	md5_pad(c->st, c->buf, c->len & 63, c->len);
	for (i = 0; i < 4; i++)
		store_le32(out + 4 * i, c->st[i]);
}

void
pm_md5(const void *data, size_t len, uint8_t out[PM_MD5_LEN])
{
	uint32_t st[4];
	int i;

	md5_state(data, len, st);
	for (i = 0; i < 4; i++)
		store_le32(out + 4 * i, st[i]);
}

uint32_t
pm_md5_prefix32(const void *data, size_t len)
{
	uint32_t st[4], a;

	md5_state(data, len, st);
	/* Digest bytes 0..3 are st[0] in little-endian order; read them back
	 * as a big-endian number. */
	a = st[0];
	return (a & 0xffu) << 24 | (a & 0xff00u) << 8 | (a >> 8 & 0xff00u) | a >> 24;
}
