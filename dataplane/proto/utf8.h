/*
 * utf8.h -- strict UTF-8 (RFC 3629) for the login machines: an incremental
 * validator fed one byte at a time, a whole-sequence reader, and the cut of
 * a text back to a character boundary.
 *
 * Owns: nothing but the three bytes of a struct pm_utf8, embedded in the
 * caller's machine. Threads: any; nothing is shared, nothing is locked.
 * Pure: no allocation, no I/O, no logging; every function is O(1) per byte.
 *
 * Strict is Dovecot's uni_utf8_data_is_valid(): no overlong forms (C0, C1,
 * E0 80-9F, F0 80-8F), no surrogates (ED A0-BF), nothing over U+10FFFF
 * (F4 90-BF, F5-FF), no stray continuation byte. What an invalid byte means
 * (a syntax error, a bad flag, a replacement character) is the caller's.
 */
#ifndef PM_UTF8_H
#define PM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The validator's state: private to utf8.c, embedded by the callers. */
struct pm_utf8 {
	uint8_t need;		/* continuation bytes still due */
	uint8_t lo, hi;		/* the range of the next one */
};

/* Forget any sequence in progress. Cannot fail. */
void pm_utf8_reset(struct pm_utf8 *u);

/*
 * Start a sequence at lead byte @c: sets the continuation bytes it needs and
 * the range of the first one, and returns that count (1..3); 0 if @c cannot
 * start a multi-byte sequence (ASCII, a continuation byte, C0, C1, F5-FF),
 * and then nothing is due.
 */
unsigned pm_utf8_lead(struct pm_utf8 *u, uint8_t c);

/*
 * Whether @c is in the range of the continuation byte due (u->need > 0).
 * Changes nothing, so that a caller may answer an invalid byte first and
 * feed it again later.
 */
bool pm_utf8_cont_ok(const struct pm_utf8 *u, uint8_t c);

/*
 * Feed one byte. Returns false if @c makes the text invalid: a continuation
 * byte out of its range (the sequence is then dropped: nothing is due) or a
 * byte that can neither continue nor start one. ASCII outside a sequence is
 * valid. The text so far is complete when u->need is 0.
 */
bool pm_utf8_byte(struct pm_utf8 *u, uint8_t c);

/*
 * The length of the valid character at @s (@n > 0 bytes readable): 1 for
 * ASCII, 2..4 for a complete valid sequence, 0 if @s does not start one
 * (invalid, or cut short by @n).
 */
size_t pm_utf8_seq(const uint8_t *s, size_t n);

/* Whether @s (@n bytes) is all valid UTF-8, with no sequence cut short. */
bool pm_utf8_valid(const char *s, size_t n);

/*
 * The length to keep of @s (@len bytes, a text cut at a byte bound) so
 * that it does not end in half a character: @len less a trailing lead byte
 * and its continuation bytes when they are fewer than the lead announces.
 * A lead is any byte from C0 up, read by its high bits alone (C0-DF two
 * bytes, E0-EF three, F0-FF four), valid or not; anything else (ASCII, stray
 * continuation bytes, more than three of them) is kept. Reads @s only;
 * NUL-terminating the result is the caller's.
 */
size_t pm_utf8_cut(const char *s, size_t len);

#endif
