/*
 * steer.c -- software Toeplitz hash and RETA (steer.h).
 */
#include "net/steer.h"

#include <errno.h>
#include <string.h>

const uint8_t pm_steer_symmetric_key[PM_STEER_KEY_LEN] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int
pm_steer_init(struct pm_steer *s, const uint8_t *key, unsigned int reta_size,
	      unsigned int nqueues)
{
	unsigned int i;

	if (nqueues == 0 || reta_size == 0 || reta_size > PM_STEER_RETA_MAX ||
	    (reta_size & (reta_size - 1)) != 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	memcpy(s->key, key, PM_STEER_KEY_LEN);
	s->reta_size = (uint16_t)reta_size;
	for (i = 0; i < reta_size; i++)
		s->reta[i] = (uint16_t)(i % nqueues);
	return 0;
}

/*
 * For every set bit of the input, XOR in the 32 key bits that start at that
 * bit position (Microsoft RSS specification, "RSS hashing function"). The
 * window is kept in a 64-bit register and refilled one key byte at a time.
 */
uint32_t
pm_steer_toeplitz(const uint8_t *key, const uint8_t *in, size_t len)
{
	uint64_t window;
	uint32_t hash = 0;
	size_t i;
	int b;

	window = (uint64_t)key[0] << 56 | (uint64_t)key[1] << 48 | (uint64_t)key[2] << 40 |
		 (uint64_t)key[3] << 32 | (uint64_t)key[4] << 24;
	for (i = 0; i < len; i++) {
		for (b = 7; b >= 0; b--) {
			if (in[i] >> b & 1)
				hash ^= (uint32_t)(window >> 32);
			window <<= 1;
		}
		/* Bits 24..31 of the window are now empty: the next key byte. */
		if (i + 5 < PM_STEER_KEY_LEN)
			window |= (uint64_t)key[i + 5] << 24;
	}
	return hash;
}

uint32_t
pm_steer_hash_v4(const struct pm_steer *s, const uint8_t src[4], const uint8_t dst[4])
{
	uint8_t in[8];

	memcpy(in, src, 4);
	memcpy(in + 4, dst, 4);
	return pm_steer_toeplitz(s->key, in, sizeof(in));
}

uint32_t
pm_steer_hash_v4_l4(const struct pm_steer *s, const uint8_t src[4], const uint8_t dst[4],
		    uint16_t sport, uint16_t dport)
{
	uint8_t in[12];

	memcpy(in, src, 4);
	memcpy(in + 4, dst, 4);
	in[8] = (uint8_t)(sport >> 8);
	in[9] = (uint8_t)sport;
	in[10] = (uint8_t)(dport >> 8);
	in[11] = (uint8_t)dport;
	return pm_steer_toeplitz(s->key, in, sizeof(in));
}
