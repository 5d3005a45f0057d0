/*
 * md5.h -- MD5 (RFC 1321), the digest under Dovecot's user and vhost hashes.
 *
 * Owner: nobody (pure functions). Threads: any; no allocation, no locks.
 * MD5 is used here only for placement compatibility, never for security.
 */
#ifndef PM_MD5_H
#define PM_MD5_H

#include <stddef.h>
#include <stdint.h>

#define PM_MD5_LEN 16

/*
 * Incremental interface for inputs built from several pieces. The context is
 * caller memory; pm_md5_init() must come first, pm_md5_final() last.
 */
struct pm_md5_ctx {
	uint32_t st[4];
	uint64_t len;		/* bytes fed so far */
	uint8_t buf[64];	/* partial block */
};

void pm_md5_init(struct pm_md5_ctx *c);
void pm_md5_update(struct pm_md5_ctx *c, const void *data, size_t len);
void pm_md5_final(struct pm_md5_ctx *c, uint8_t out[PM_MD5_LEN]);

/* The big-endian prefix of a finished digest (see pm_md5_prefix32()). */
static inline uint32_t
pm_md5_digest32(const uint8_t d[PM_MD5_LEN])
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* One-shot digest of @len bytes at @data into @out. Cannot fail. */
void pm_md5(const void *data, size_t len, uint8_t out[PM_MD5_LEN]);

/*
 * The first four digest bytes as a big-endian uint32: the value Dovecot's
 * director calls a hash (before the user hash's "0 becomes 1" rule).
 */
uint32_t pm_md5_prefix32(const void *data, size_t len);

#endif
