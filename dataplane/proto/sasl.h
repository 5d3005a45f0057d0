/*
 * sasl.h -- SASL PLAIN (RFC 4616) in strict base64 (RFC 4648), for the login
 * machines of both sides.
 *
 * Owns: no state of its own. The client-side machines (proto/imap.h,
 * pop3.h, sieve.h, submission.h) embed a struct pm_sasl_b64 (the decoder)
 * and a struct pm_sasl_plain (the PLAIN splitter) and describe, call by
 * call, the fixed fields of their own login struct the message is split
 * into (struct pm_sasl_plain_fields: pointers to the caller's bytes and
 * lengths, borrowed for the call, never kept). The backend-side machines
 * (proto/imapback.h, ...) encode the PLAIN message they send straight from
 * their credential fields (struct pm_sasl_plain_msg, borrowed for the call)
 * into their output buffer. Threads: any; nothing is shared, nothing is
 * locked. Pure: no allocation, no I/O, no logging; every function is O(1)
 * per byte and bounded by the caller's fields.
 *
 * What the machines answer is theirs: this module only says whether the
 * base64 was valid, whether the message split into the fields, and what
 * the fields hold. The decoded fields and the decoder's accumulator are
 * secrets (a password): the callers wipe them (pm_sasl_b64_wipe(),
 * pm_sasl_b64_reset()) and never log them.
 *
 * The decoder is RFC 4648 section 4 base64 with its padding, nothing else:
 * characters A-Z a-z 0-9 + / only, fed one at a time; '=' only as the third
 * and fourth character of the last quad ("xx==" or "xxx="); after a padded
 * quad nothing may follow; white space is invalid. The message is complete
 * only at a quad's end (pm_sasl_b64_complete()). The first invalid
 * character makes the rest of the input invalid and ignored.
 *
 * The splitter follows Dovecot 2.3's mech-plain.c: the message is authzid
 * NUL authcid NUL password; every NUL is counted, and only a message with
 * exactly two is valid (a third makes it invalid, as a missing one does);
 * the authcid must not be empty; an authzid equal to the authcid is the same
 * login and is dropped. Ours: each field has the caller's bound, and a byte
 * over it makes the message invalid (the callers answer it as a failed
 * login).
 */
#ifndef PM_SASL_H
#define PM_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Base64 characters for @n bytes, padded (RFC 4648 section 4): a constant
 * expression when @n is. */
#define PM_SASL_B64_LEN(n)	(4u * (((n) + 2u) / 3u))

/*
 * The decoder's state. Public so that a machine can embed it and keep it
 * at a fixed place (acc must stay the first member: a machine may alias
 * it); only this module reads or writes the members.
 */
struct pm_sasl_b64 {
	uint32_t acc;	/* sextets of the current quad: secret */
	uint8_t q;	/* characters of the current quad, 0..3 */
	uint8_t pad;	/* '=' in the current quad; 3 once a padded quad ended */
	bool bad;	/* the input is not valid base64; the rest is ignored */
};

/* Start a new input: all zero, the verdict too; the accumulator is cleared
 * with explicit_bzero(). */
void pm_sasl_b64_reset(struct pm_sasl_b64 *d);

/* Forget the partial quad (explicit_bzero() of the accumulator, no
 * characters, no '=') but keep the verdict: what a machine's wipe does in
 * the middle of an input. */
void pm_sasl_b64_wipe(struct pm_sasl_b64 *d);

/* True if @c may appear in base64 text: A-Z a-z 0-9 + / and '='. (Dovecot's
 * login processes refuse any other byte with a text of their own before the
 * auth process decodes anything; the machines that copy that ask here.) */
bool pm_sasl_b64_char(uint8_t c);

/*
 * Feed one character @c. Returns how many bytes it completed (0..3: at
 * the end of a quad, 3 less its '='), written to @out[0..]; 0 also when @c
 * made the input invalid or it already was. The bytes are secrets: the
 * caller wipes @out once used. Does not allocate.
 */
unsigned int pm_sasl_b64_feed(struct pm_sasl_b64 *d, uint8_t c, uint8_t out[3]);

/* True if the input so far is valid base64 and ends at a quad's end (an
 * empty input is complete). */
bool pm_sasl_b64_complete(const struct pm_sasl_b64 *d);

/*
 * One field a PLAIN message is split into, in the caller's memory: @p holds
 * @max bytes and one more for the NUL pm_sasl_plain_finish() puts after
 * them; *@len bytes are in use. Borrowed for the call.
 */
struct pm_sasl_field {
	char *p;
	uint16_t *len;
	size_t max;
};

/* The three fields of a PLAIN message. */
struct pm_sasl_plain_fields {
	struct pm_sasl_field authzid;
	struct pm_sasl_field authcid;	/* the user */
	struct pm_sasl_field pass;
};

/* The splitter's state (embedded by the machines; members private). */
struct pm_sasl_plain {
	uint8_t nul;	/* NULs so far, counted up to 3 */
	bool over;	/* a byte did not fit its field */
};

/* Append @c to the field (@f, *@len bytes in use, at most @max). Returns 0,
 * or -ENOSPC, with nothing stored, if it is full. Also for the fields of
 * logins that are not PLAIN (IMAP LOGIN, POP3 USER/PASS, SASL LOGIN). */
int pm_sasl_field_put(char *f, uint16_t *len, size_t max, uint8_t c);

/* Start a new message: no NUL, nothing over. The caller empties its fields
 * (*len = 0) itself. */
void pm_sasl_plain_reset(struct pm_sasl_plain *sp);

/* One decoded byte @b of the message: a NUL moves to the next field (a
 * third one to none), any other byte goes to the current field, or marks
 * the message over if it does not fit. */
void pm_sasl_plain_put(struct pm_sasl_plain *sp, const struct pm_sasl_plain_fields *f,
		       uint8_t b);

/* pm_sasl_b64_feed() of @c, then pm_sasl_plain_put() of each byte it
 * completed; the decoded bytes are wiped from the stack. */
void pm_sasl_plain_feed(struct pm_sasl_b64 *d, struct pm_sasl_plain *sp,
			const struct pm_sasl_plain_fields *f, uint8_t c);

/*
 * The message ended (the caller checked pm_sasl_b64_complete()). Returns 0
 * if it had exactly two NULs, no byte over a bound and a non-empty authcid:
 * then an authzid equal to the authcid is dropped (its length set to 0) and
 * each field gets its NUL. Returns -EINVAL otherwise, changing nothing.
 */
int pm_sasl_plain_finish(const struct pm_sasl_plain *sp, const struct pm_sasl_plain_fields *f);

/*
 * A PLAIN message to send: authzid NUL user NUL password, each @*_len bytes
 * (no NULs in them). Borrowed for the call. A caller that must send the
 * user as the authzid when there is none (Dovecot's dsasl client does)
 * passes it so.
 */
struct pm_sasl_plain_msg {
	const char *authzid;
	size_t authzid_len;
	const char *user;
	size_t user_len;
	const char *pass;
	size_t pass_len;
};

/* Bytes pm_sasl_plain_encode() writes for @m:
 * PM_SASL_B64_LEN(authzid_len + 1 + user_len + 1 + pass_len). */
size_t pm_sasl_plain_encode_len(const struct pm_sasl_plain_msg *m);

/*
 * Write the base64 (RFC 4648 section 4, padded) of @m to @dst, which has
 * room for pm_sasl_plain_encode_len(@m) bytes, without a copy of the
 * message in between (the password is read in place). No NUL is added.
 * Returns the bytes written. Does not allocate.
 */
size_t pm_sasl_plain_encode(uint8_t *dst, const struct pm_sasl_plain_msg *m);

#endif
