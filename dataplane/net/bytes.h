/*
 * bytes.h -- network-order (big-endian) loads and stores at any alignment.
 *
 * Owner: nothing. Threads: any. Pure: no DPDK, no allocation.
 * The packet modules (net/l3, tcp/tcpopt, tcp/splice) read and write
 * header fields with these, never through casts to wider types.
 */
#ifndef PM_BYTES_H
#define PM_BYTES_H

#include <stdint.h>

static inline uint16_t
pm_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
pm_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
pm_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
pm_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
