/*
 * siphash.h -- SipHash-2-4, a keyed pseudorandom function with a 128-bit key
 * and a 64-bit output (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", INDOCRYPT 2012).
 *
 * Owner: nothing; every function is pure over caller memory. A key is a
 * plain value the caller fills from random bytes and keeps secret.
 * Threads: any. Pure: no DPDK, no allocation, no logging, never blocks.
 *
 * Byte order follows the paper: the key's 16 bytes are read as two
 * little-endian 64-bit words k0 = key[0..7], k1 = key[8..15], the message as
 * little-endian 64-bit words, and the result is the 64-bit value whose
 * little-endian bytes are the reference implementation's 8 output bytes
 * (key 00..0f, message 00..0e gives 0xa129ca6149be45e5, the paper's
 * Appendix A example). Results are the same on every host.
 *
 * Use it where an attacker chooses the input and must not predict or steer
 * the output: SYN cookies (tcp/cookie.h), hash tables keyed by addresses an
 * attacker picks. It is not a collision-resistant hash for digests.
 */
#ifndef PM_SIPHASH_H
#define PM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define PM_SIPHASH_KEY_LEN 16

/* A key loaded into the two words the algorithm uses. Public fields, but
 * treat them as opaque: fill with pm_siphash_key_load(). */
struct pm_siphash_key {
	uint64_t k0;
	uint64_t k1;
};

/* Load the 16 key bytes @bytes into @k. Cannot fail. */
void pm_siphash_key_load(struct pm_siphash_key *k, const uint8_t bytes[PM_SIPHASH_KEY_LEN]);

/*
 * SipHash-2-4 of the @len bytes at @data (any alignment; @data may be NULL
 * when @len is 0) under the 16-byte key @key. Does not allocate; thread-safe.
 */
uint64_t pm_siphash(const uint8_t key[PM_SIPHASH_KEY_LEN], const void *data, size_t len);

/* The same with a key already loaded by pm_siphash_key_load(). */
uint64_t pm_siphash_k(const struct pm_siphash_key *k, const void *data, size_t len);

/*
 * SipHash-2-4 of four or five 32-bit words, without a byte buffer: equal to
 * pm_siphash_k() over the words' little-endian encodings, concatenated in
 * order (16 or 20 bytes). Meant for fixed-size keys such as a TCP 4-tuple.
 */
uint64_t pm_siphash_u32x4(const struct pm_siphash_key *k, uint32_t a, uint32_t b, uint32_t c,
			  uint32_t d);
uint64_t pm_siphash_u32x5(const struct pm_siphash_key *k, uint32_t a, uint32_t b, uint32_t c,
			  uint32_t d, uint32_t e);

#endif
