/*
 * siphash.c -- SipHash-2-4 as specified in the paper: four 64-bit state
 * words initialised from the key and the constants "somepseudorandomly
 * generatedbytes", two SipRounds per 8-byte message word (c = 2), the last
 * word carrying the message length modulo 256 in its top byte, then 0xff
 * xored into v2 and four finalisation SipRounds (d = 4).
 *
 * Words are assembled bytewise, so the code is endian-neutral and never reads
 * through a misaligned pointer.
 */
#include "tcp/siphash.h"

static inline uint64_t
rotl(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void
sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void
sip_init(struct sip *s, const struct pm_siphash_key *k)
{
	s->v0 = k->k0 ^ 0x736f6d6570736575ull;	/* "somepseu" */
	s->v1 = k->k1 ^ 0x646f72616e646f6dull;	/* "dorandom" */
	s->v2 = k->k0 ^ 0x6c7967656e657261ull;	/* "lygenera" */
	s->v3 = k->k1 ^ 0x7465646279746573ull;	/* "tedbytes" */
}

/* Compression: c = 2 SipRounds per message word. */
static inline void
sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* Finalisation: d = 4 SipRounds. */
static inline uint64_t
sip_final(struct sip *s)
{
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

void
pm_siphash_key_load(struct pm_siphash_key *k, const uint8_t bytes[PM_SIPHASH_KEY_LEN])
{
	k->k0 = le64(bytes);
	k->k1 = le64(bytes + 8);
}

uint64_t
pm_siphash_k(const struct pm_siphash_key *k, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t left = len;
	struct sip s;
	uint64_t last;
	unsigned int i;

	sip_init(&s, k);
	for (; left >= 8; left -= 8, p += 8)
		sip_word(&s, le64(p));
	/* The final word: the 0..7 remaining bytes, little-endian, and the
	 * length modulo 256 in the most significant byte. */
	last = (uint64_t)(len & 0xff) << 56;
	for (i = 0; i < left; i++)
		last |= (uint64_t)p[i] << (8 * i);
	sip_word(&s, last);
	return sip_final(&s);
}

uint64_t
pm_siphash(const uint8_t key[PM_SIPHASH_KEY_LEN], const void *data, size_t len)
{
	struct pm_siphash_key k;

	pm_siphash_key_load(&k, key);
	return pm_siphash_k(&k, data, len);
}

uint64_t
pm_siphash_u32x4(const struct pm_siphash_key *k, uint32_t a, uint32_t b, uint32_t c,
		 uint32_t d)
{
	struct sip s;

	/* 16 bytes: two full words, then a final word holding only the
	 * length (16) in its top byte. */
	sip_init(&s, k);
	sip_word(&s, (uint64_t)a | (uint64_t)b << 32);
	sip_word(&s, (uint64_t)c | (uint64_t)d << 32);
	sip_word(&s, (uint64_t)16 << 56);
	return sip_final(&s);
}

uint64_t
pm_siphash_u32x5(const struct pm_siphash_key *k, uint32_t a, uint32_t b, uint32_t c,
		 uint32_t d, uint32_t e)
{
	struct sip s;

	/* 20 bytes: two full words, then e in the low half of the final word
	 * and the length (20) in its top byte. */
	sip_init(&s, k);
	sip_word(&s, (uint64_t)a | (uint64_t)b << 32);
	sip_word(&s, (uint64_t)c | (uint64_t)d << 32);
	sip_word(&s, (uint64_t)e | (uint64_t)20 << 56);
	return sip_final(&s);
}
