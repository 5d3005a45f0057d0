/*
 * cksum.c -- RFC 1071 sum in native-order words, swapped once at the end.
 *
 * The one's-complement sum is byte-order independent (RFC 1071 2(B)): summing
 * native 16-bit words and swapping the folded result gives the same value as
 * summing big-endian words. Words are loaded with memcpy, which the compiler
 * turns into plain loads, so unaligned starts are safe.
 */
#include "net/cksum.h"

#include <string.h>

static inline uint32_t
fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

static inline uint16_t
fold32(uint32_t s)
{
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

uint16_t
pm_cksum_partial(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = 0;
	uint16_t s;

	/* 2^32 = 1 mod 0xffff, so adding 32-bit halves and folding later is
	 * the sum of native 16-bit words. acc cannot overflow: each step adds
	 * less than 2^33 and len / 8 steps stay far below 2^31. */
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		acc += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		acc += w;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		/* The odd byte is the high byte of a word whose low byte is 0. */
		uint8_t last[2] = { p[0], 0 };
		uint16_t w;

		memcpy(&w, last, 2);
		acc += w;
	}
	s = fold32(fold64(acc));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = (uint16_t)((s >> 8) | (s << 8));
#elif !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_BIG_ENDIAN__
#error "unknown byte order"
#endif
	return fold32((uint32_t)fold32(sum) + s);
}

uint16_t
pm_cksum_finish(uint32_t sum)
{
	return (uint16_t)~fold32(sum);
}

uint16_t
pm_cksum(const void *buf, size_t len)
{
	return pm_cksum_finish(pm_cksum_partial(0, buf, len));
}

uint16_t
pm_cksum_update16(uint16_t hc, uint16_t old, uint16_t new)
{
	uint32_t s = (uint32_t)(uint16_t)~hc + (uint16_t)~old + new;

	return (uint16_t)~fold32(s);
}

uint16_t
pm_cksum_update32(uint16_t hc, uint32_t old, uint32_t new)
{
	uint32_t s = (uint32_t)(uint16_t)~hc;

	s += (uint16_t)~(old >> 16);
	s += (uint16_t)~(old & 0xffffu);
	s += new >> 16;
	s += new & 0xffffu;
	return (uint16_t)~fold32(s);
}
