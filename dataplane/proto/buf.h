/*
 * buf.h -- a caller-owned, bounded output buffer for the protocol machines.
 *
 * Owns nothing: a struct pm_buf describes memory the caller provides (@p,
 * @cap bytes) of which the first @len bytes are in use. The protocol machines
 * (proto/imap.h, ...) append their responses; the caller sends the bytes and
 * drains them. Appends are all-or-nothing: an append that does not fit
 * changes nothing and answers -ENOSPC, so a machine can give up a response
 * without leaving half of it behind. Threads: any, but one buffer belongs to
 * one thread at a time (no locking). Header-only: static inline functions, no
 * allocation, no I/O.
 */
#ifndef PM_BUF_H
#define PM_BUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pm_buf {
	uint8_t *p;	/* the caller's memory */
	size_t len;	/* bytes in use, from p[0]; len <= cap */
	size_t cap;	/* size of p */
};

/* Describe @cap bytes at @mem as an empty buffer. */
static inline void
pm_buf_init(struct pm_buf *b, void *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
}

/* True if @b can be used: memory present (unless cap is 0) and len <= cap. */
static inline int
pm_buf_ok(const struct pm_buf *b)
{
	return b != NULL && b->len <= b->cap && (b->p != NULL || b->cap == 0);
}

/* Free bytes at the end (0 for a buffer that is not pm_buf_ok()). */
static inline size_t
pm_buf_room(const struct pm_buf *b)
{
	return pm_buf_ok(b) ? b->cap - b->len : 0;
}

/* Append @n bytes from @d. Returns 0, or -ENOSPC (nothing appended) if they
 * do not fit, or -EINVAL for a buffer that is not pm_buf_ok(). */
static inline int
pm_buf_append(struct pm_buf *b, const void *d, size_t n)
{
	if (!pm_buf_ok(b))
		return -EINVAL;
	if (b->cap - b->len < n)
		return -ENOSPC;
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

/* Append the NUL-terminated string @s (without its NUL); as pm_buf_append(). */
static inline int
pm_buf_append_str(struct pm_buf *b, const char *s)
{
	return pm_buf_append(b, s, strlen(s));
}

/* Drop the first @n bytes (all if @n >= len), moving the rest to the front:
 * the caller sent them. */
static inline void
pm_buf_consume(struct pm_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

#endif
