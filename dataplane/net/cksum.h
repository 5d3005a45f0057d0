/*
 * cksum.h -- the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624).
 *
 * Owner: nothing; all functions are pure over caller memory.
 * Threads: any. Pure: no DPDK, no allocation, never blocks.
 *
 * Byte order: every 16-bit value that crosses this API (a sum, a checksum, a
 * field passed to an update) is the *numeric value of the big-endian 16-bit
 * word* as it appears on the wire, i.e. (p[0] << 8) | p[1]. The results are
 * therefore the same on every host; to store a checksum, write its high byte
 * first (p[0] = c >> 8, p[1] = c & 0xff). A 32-bit field is likewise the value
 * of the big-endian word (an IPv4 address 10.0.0.1 is 0x0a000001).
 *
 * A buffer of odd length is summed as if one zero byte followed it (RFC 1071
 * 4.1). Buffers may start at any address; nothing is read through a
 * misaligned pointer.
 */
#ifndef PM_CKSUM_H
#define PM_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Add the one's-complement sum of @len bytes at @buf to @sum (any 32-bit
 * value; it is folded first) and return the result folded to 16 bits, not
 * complemented. Chain calls to sum discontiguous data (a pseudo-header, then
 * the segment): every chunk but the last must have an even length, or the
 * following bytes land in the wrong half of their words.
 */
uint16_t pm_cksum_partial(uint32_t sum, const void *buf, size_t len);

/* Fold @sum to 16 bits and complement it: the value to put in a header. */
uint16_t pm_cksum_finish(uint32_t sum);

/*
 * The checksum of @len bytes at @buf: pm_cksum_finish(pm_cksum_partial(0, ...)).
 * To verify, run it over the data *including* its checksum field: a correct
 * packet gives 0.
 */
uint16_t pm_cksum(const void *buf, size_t len);

/*
 * RFC 1624 eqn. 3: the checksum after one 16-bit word of the covered data
 * changes from @old to @new, given the checksum @hc before the change:
 * HC' = ~(~HC + ~m + m'). Eqn. 3 (not eqn. 2) gives the 0x0000 that a full
 * recomputation gives when the sum becomes 0xFFFF. The result equals a full
 * recomputation whenever the covered data is not all zero, which an IPv4
 * header (version nibble) or a TCP/UDP pseudo-header never is.
 */
uint16_t pm_cksum_update16(uint16_t hc, uint16_t old, uint16_t new);

/* The same for a 32-bit field that starts on a 16-bit boundary of the data
 * (an IPv4 address, a TCP sequence number): two 16-bit updates in one. */
uint16_t pm_cksum_update32(uint16_t hc, uint32_t old, uint32_t new);

#endif
