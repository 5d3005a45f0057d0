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

/* A piece of a response: @n bytes at @s (no NUL needed). The machines build
 * a response from pieces and append them together, all or nothing. */
struct pm_buf_piece {
	const char *s;
	size_t n;
};

/* The initializer of a piece holding the string literal @lit. */
#define PM_BUF_PIECE(lit)	{ (lit), sizeof(lit) - 1 }
#define PM_BUF_CRLF		PM_BUF_PIECE("\r\n")

/* A piece holding the NUL-terminated @s (without its NUL). */
static inline struct pm_buf_piece
pm_buf_piece_str(const char *s)
{
	struct pm_buf_piece pc = { s, strlen(s) };

	return pc;
}

/* Append the @cnt pieces at @v, all or nothing: as pm_buf_append() of their
 * bytes in one piece (0, -ENOSPC with nothing appended, or -EINVAL). */
static inline int
pm_buf_append_pieces(struct pm_buf *b, const struct pm_buf_piece *v, size_t cnt)
{
	size_t need = 0, i;

	if (!pm_buf_ok(b))
		return -EINVAL;
	for (i = 0; i < cnt; i++)
		need += v[i].n;
	if (b->cap - b->len < need)
		return -ENOSPC;
	for (i = 0; i < cnt; i++) {
		if (v[i].n > 0)
			memcpy(b->p + b->len, v[i].s, v[i].n);
		b->len += v[i].n;
	}
	return 0;
}

/* Append the NUL-terminated @text and CRLF, all or nothing; as
 * pm_buf_append_pieces(). */
static inline int
pm_buf_append_line(struct pm_buf *b, const char *text)
{
	struct pm_buf_piece v[] = { pm_buf_piece_str(text), PM_BUF_CRLF };

	return pm_buf_append_pieces(b, v, 2);
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
