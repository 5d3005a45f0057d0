/*
 * submissionback.c -- the backend-side Submission login machine
 * (proto/submissionback.h).
 *
 * One byte loop drives two nested machines: the reply lexer (enum lx)
 * frames the backend's SMTP replies (code, '-' or SP, text, CRLF) and checks
 * each line as Dovecot's submission_proxy_parse_line() does; at the end of
 * a reply, on_reply() advances the login phase (enum
 * pm_submissionback_phase) and writes what the phase sends. Decisions are
 * made at a reply's final LF (or earlier only to fail), so a reply split
 * across any number of feed() calls gives the same result as the reply in
 * one piece. Every write is preceded by a room check made before any state
 * changes, which is what lets PM_SUBMISSIONBACK_ERROR leave the LF
 * unconsumed and the machine resumable.
 *
 * Matched against Dovecot 2.3 src/submission-login/submission-proxy.c:
 * submission_proxy_parse_line() (banner, EHLO capabilities, XCLIENT and AUTH
 * replies), proxy_send_xclient() and proxy_send_xclient_more_data() (the
 * attribute order and the 512-byte split), proxy_send_login() (PLAIN and the
 * 510-byte initial response limit) and submission_proxy_continue_sasl_auth()
 * (the deferred initial response).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/backparams.h"
#include "proto/sasl.h"
#include "proto/submissionback.h"
#include "proto/utf8.h"

/* The reply lexer. */
enum lx {
	LX_CODE = 0,	/* the three digits */
	LX_SEP,		/* SP, '-' or CR after them */
	LX_TEXT,	/* the line's text */
	LX_LF,		/* CR seen: LF must follow */
};

/* The EHLO line keyword matcher (b->kw). */
enum kw {
	KW_WORD = 0,	/* the first word of the line */
	KW_AUTH,	/* "AUTH " seen: one more byte makes the capability */
	KW_XATTR,	/* "XCLIENT ": attribute names */
	KW_IGNORE,	/* the rest of the line does not matter */
};

/* XCLIENT attributes (b->xattrs). LOGIN and FORWARD are recognised but
 * never sent (see the header). */
#define X_HELO		0x01u
#define X_PROTO		0x02u
#define X_LOGIN		0x04u
#define X_TTL		0x08u
#define X_PORT		0x10u
#define X_ADDR		0x20u
#define X_SESSION	0x40u
#define X_FORWARD	0x80u

/* What step() tells the byte loop. */
enum step_rc { STEP_NEXT, STEP_DONE, STEP_ROOM };

#define XCLIENT_LINE_MAX	512u	/* proxy_send_xclient_more_data() */
#define AUTH_LINE_MAX		510u	/* SMTP_BASE_LINE_LENGTH_LIMIT (512 - 2) */

/* The longest single write: the XCLIENT lines (HELO alone over 512 bytes,
 * then the rest) with the second EHLO, or the deferred initial response. */
#define XATTR_MAX	(sizeof(" SESSION=") - 1 + 3u * PM_SUBMISSIONBACK_DOMAIN_MAX)
_Static_assert(2u * (sizeof("XCLIENT") - 1 + XATTR_MAX + 2u) +
		       sizeof(" PROTO=ESMTP TTL=4294967295 PORT=65535 ADDR=") +
		       3u * PM_SUBMISSIONBACK_IP_MAX + sizeof(" SESSION=") +
		       3u * PM_SUBMISSIONBACK_SID_MAX + 2u + sizeof("EHLO ") +
		       PM_SUBMISSIONBACK_DOMAIN_MAX + 2u <= PM_SUBMISSIONBACK_BACKEND_ROOM,
	       "the XCLIENT write fits PM_SUBMISSIONBACK_BACKEND_ROOM");
#define PLAIN_MAX	(2u * PM_SUBMISSIONBACK_USER_MAX + 2u + PM_SUBMISSIONBACK_PASS_MAX)
_Static_assert(PM_SASL_B64_LEN(PLAIN_MAX) + 2u <= PM_SUBMISSIONBACK_BACKEND_ROOM,
	       "the initial response fits PM_SUBMISSIONBACK_BACKEND_ROOM");
_Static_assert(PM_SUBMISSIONBACK_LINE_MAX < UINT16_MAX, "line_len is 16 bits");

/* ---- small helpers ---- */

static int
upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

static size_t
room(const struct pm_buf *o)
{
	return pm_buf_room(o);
}

/* Callers check room() first; these never overflow. */
static void
put(struct pm_buf *o, const void *s, size_t len)
{
	memcpy(o->p + o->len, s, len);
	o->len += len;
}

static void
puts_(struct pm_buf *o, const char *s)
{
	put(o, s, strlen(s));
}

/* xtext (RFC 3461 section 4): '+', '=' and bytes outside 0x21-0x7e as
 * "+XX" (smtp_xtext_encode()). Returns the bytes written to @dst. */
static size_t
xtext(char *dst, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, k = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
			dst[k++] = (char)c;
		} else {
			dst[k++] = '+';
			dst[k++] = hex[c >> 4];
			dst[k++] = hex[c & 15];
		}
	}
	return k;
}

/* The SASL PLAIN message authzid NUL user NUL password: the authzid is the
 * user itself when none was given (Dovecot's dsasl PLAIN with authzid =
 * proxy user, verified). */
static struct pm_sasl_plain_msg
plain_msg(const struct pm_submissionback *b)
{
	struct pm_sasl_plain_msg m = {
		b->authzid_len > 0 ? b->authzid : b->user,
		b->authzid_len > 0 ? b->authzid_len : b->user_len,
		b->user, b->user_len, b->password, b->pass_len,
	};

	return m;
}

/* Its base64 (proto/sasl.h: read in place, no copy of it in between). */
static void
put_plain_b64(struct pm_buf *o, const struct pm_submissionback *b)
{
	const struct pm_sasl_plain_msg m = plain_msg(b);

	o->len += pm_sasl_plain_encode(o->p + o->len, &m);
}

static void
wipe_password(struct pm_submissionback *b)
{
	explicit_bzero(b->password, sizeof(b->password));
	b->pass_len = 0;
}

void
pm_submissionback_wipe(struct pm_submissionback *b)
{
	wipe_password(b);
	explicit_bzero(b->user, sizeof(b->user));
	explicit_bzero(b->authzid, sizeof(b->authzid));
	b->user_len = 0;
	b->authzid_len = 0;
}

static enum step_rc
finish(struct pm_submissionback *b, enum pm_submissionback_status st, const char *reason)
{
	b->status = (uint8_t)st;
	b->phase = PM_SUBMISSIONBACK_PH_DONE;
	b->reason = reason;
	pm_submissionback_wipe(b);
	return STEP_DONE;
}

static enum step_rc
fail(struct pm_submissionback *b, const char *reason)
{
	return finish(b, PM_SUBMISSIONBACK_FAIL, reason);
}

/* ---- what we send ---- */

static void
send_ehlo(struct pm_submissionback *b, struct pm_buf *o)
{
	puts_(o, "EHLO ");
	puts_(o, b->ehlo_name);
	puts_(o, "\r\n");
}

/*
 * One " NAME=value" attribute of the XCLIENT command being written; @cur is
 * the length of the current XCLIENT line so far. A line that would pass 512
 * bytes is ended first, unless it holds no attribute yet, in which case it
 * takes this one and is ended after it (proxy_send_xclient_more_data()).
 */
static void
xattr(struct pm_submissionback *b, struct pm_buf *o, size_t *cur, const char *name,
      const char *value, size_t vlen)
{
	char a[XATTR_MAX + 1];
	size_t n = 0, cmd = sizeof("XCLIENT") - 1;

	a[n++] = ' ';
	memcpy(a + n, name, strlen(name));
	n += strlen(name);
	a[n++] = '=';
	n += xtext(a + n, value, vlen);
	if (*cur + n <= XCLIENT_LINE_MAX) {
		put(o, a, n);
		*cur += n;
		return;
	}
	if (*cur > cmd) {
		/* send what we have; this attribute starts the next line */
		puts_(o, "\r\nXCLIENT");
		put(o, a, n);
		*cur = cmd + n;
	} else {
		/* alone and still too long: it goes on its own */
		put(o, a, n);
		puts_(o, "\r\nXCLIENT");
		*cur = cmd;
	}
	b->xclient_left++;
}

/* XCLIENT with the attributes the backend listed, in Dovecot's order, then
 * EHLO again, pipelined (proxy_send_xclient(), proxy_handle_ehlo_reply()). */
static void
send_xclient(struct pm_submissionback *b, struct pm_buf *o)
{
	char num[16];
	size_t cur = sizeof("XCLIENT") - 1;
	const char *proto = b->helo_smtp ? "SMTP" : "ESMTP";
	int k;

	b->xclient_left = 0;
	puts_(o, "XCLIENT");
	if (b->xattrs & X_HELO) {
		if (b->helo[0] != '\0')
			xattr(b, o, &cur, "HELO", b->helo, strlen(b->helo));
		else
			xattr(b, o, &cur, "HELO", "[UNAVAILABLE]", 13);
	}
	if (b->xattrs & X_PROTO)
		xattr(b, o, &cur, "PROTO", proto, strlen(proto));
	if (b->xattrs & X_TTL) {
		k = snprintf(num, sizeof(num), "%u", b->ttl - 1);
		xattr(b, o, &cur, "TTL", num, (size_t)k);
	}
	if (b->xattrs & X_PORT) {
		k = snprintf(num, sizeof(num), "%u", (unsigned int)b->client_port);
		xattr(b, o, &cur, "PORT", num, (size_t)k);
	}
	if (b->xattrs & X_ADDR)
		xattr(b, o, &cur, "ADDR", b->client_ip, strlen(b->client_ip));
	if (b->xattrs & X_SESSION)
		xattr(b, o, &cur, "SESSION", b->session_id, strlen(b->session_id));
	puts_(o, "\r\n");
	b->xclient_left++;
	send_ehlo(b, o);
	/* the second EHLO's reply says what the backend offers now */
	b->cap_xclient = false;
	b->cap_auth = false;
	b->xattrs = 0;
	b->phase = PM_SUBMISSIONBACK_PH_XCLIENT;
}

/* AUTH PLAIN, with the initial response if the line stays within 510
 * bytes (proxy_send_login()). */
static enum step_rc
send_auth(struct pm_submissionback *b, struct pm_buf *o)
{
	const struct pm_sasl_plain_msg m = plain_msg(b);
	size_t b64 = pm_sasl_plain_encode_len(&m);

	if (!b->cap_auth)
		return finish(b, PM_SUBMISSIONBACK_SERVERBUG,
			      "the backend does not advertise AUTH (TLS required?)");
	if (sizeof("AUTH PLAIN ") - 1 + b64 > AUTH_LINE_MAX) {
		puts_(o, "AUTH PLAIN\r\n");
		b->ir_pending = true;
		b->phase = PM_SUBMISSIONBACK_PH_AUTH_CONT;
		return STEP_NEXT;
	}
	puts_(o, "AUTH PLAIN ");
	put_plain_b64(o, b);
	puts_(o, "\r\n");
	wipe_password(b);
	b->phase = PM_SUBMISSIONBACK_PH_AUTH;
	return STEP_NEXT;
}

/* ---- the result text ---- */

/* Cut b->text (already cut at PM_SUBMISSIONBACK_TEXT_MAX bytes) back to a
 * UTF-8 character boundary, so that the client never gets half a
 * character. */
static void
text_trim_utf8(struct pm_submissionback *b)
{
	b->text_len = (uint16_t)pm_utf8_cut(b->text, b->text_len);
	b->text[b->text_len] = '\0';
}

static void
text_put(struct pm_submissionback *b, uint8_t c)
{
	if (b->text_len == PM_SUBMISSIONBACK_TEXT_MAX) {
		b->text_cut = true;
		return;
	}
	b->text[b->text_len++] = (char)c;
	b->text[b->text_len] = '\0';
}

/* ---- replies ---- */

/* Would the reply now ending make us write? (Checked before anything
 * changes, so that a lack of room leaves its LF unconsumed.) */
static bool
reply_sends(const struct pm_submissionback *b)
{
	switch (b->phase) {
	case PM_SUBMISSIONBACK_PH_BANNER:
	case PM_SUBMISSIONBACK_PH_EHLO:
	case PM_SUBMISSIONBACK_PH_XCLIENT_EHLO:
		return true;
	case PM_SUBMISSIONBACK_PH_AUTH_CONT:
		return b->code == 334;
	default:
		return false;
	}
}

/* The AUTH reply (the result) has ended. */
static enum step_rc
auth_result(struct pm_submissionback *b, struct pm_buf *o)
{
	unsigned int code = b->code;

	if (code == 334) {
		if (b->phase != PM_SUBMISSIONBACK_PH_AUTH_CONT)
			return fail(b, "a 334 challenge after the PLAIN response was sent");
		if (b->text_len != 4 && b->text_len != 3)
			return fail(b, "a server-first challenge to AUTH PLAIN");
		put_plain_b64(o, b);
		puts_(o, "\r\n");
		wipe_password(b);
		b->ir_pending = false;
		b->phase = PM_SUBMISSIONBACK_PH_AUTH;
		return STEP_NEXT;
	}
	if (b->text_cut)
		text_trim_utf8(b);
	if (code == 235) {
		if (b->phase != PM_SUBMISSIONBACK_PH_AUTH)
			return fail(b, "235 before the PLAIN response was sent");
		return finish(b, PM_SUBMISSIONBACK_OK, "");
	}
	if (code == 535)
		return finish(b, PM_SUBMISSIONBACK_AUTHFAILED, "");
	if (code == 421)
		return finish(b, PM_SUBMISSIONBACK_VERBATIM, "");
	if (code / 100 == 4)
		return finish(b, PM_SUBMISSIONBACK_TEMPFAIL, "");
	if (code / 100 == 5)
		return finish(b, PM_SUBMISSIONBACK_VERBATIM, "");
	return fail(b, "an AUTH reply that is neither 235, 334, 4xx nor 5xx");
}

/* A whole reply was read; its final LF is the current byte. */
static enum step_rc
on_reply(struct pm_submissionback *b, struct pm_buf *o)
{
	switch (b->phase) {
	case PM_SUBMISSIONBACK_PH_BANNER:
		send_ehlo(b, o);
		b->phase = PM_SUBMISSIONBACK_PH_EHLO;
		return STEP_NEXT;
	case PM_SUBMISSIONBACK_PH_EHLO:
		if (b->cap_xclient) {
			send_xclient(b, o);
			return STEP_NEXT;
		}
		return send_auth(b, o);
	case PM_SUBMISSIONBACK_PH_XCLIENT:
		if (--b->xclient_left == 0)
			b->phase = PM_SUBMISSIONBACK_PH_XCLIENT_EHLO;
		return STEP_NEXT;
	case PM_SUBMISSIONBACK_PH_XCLIENT_EHLO:
		return send_auth(b, o);
	default:		/* AUTH_CONT, AUTH */
		return auth_result(b, o);
	}
}

/* The code of a line is complete (@sep: SP, '-' or CR after it). Each line
 * is checked as submission_proxy_parse_line() does. */
static enum step_rc
on_code(struct pm_submissionback *b, uint8_t sep)
{
	unsigned int code = b->code;

	if (code < 200 || code >= 560)
		return fail(b, "a reply code outside 200..559");
	if (!b->first_line && code != b->first_code)
		return fail(b, "an inconsistent multi-line reply");
	b->first_code = (uint16_t)code;
	b->last_line = sep != '-';
	switch (b->phase) {
	case PM_SUBMISSIONBACK_PH_BANNER:
		if (code != 220)
			return fail(b, "invalid banner");
		break;
	case PM_SUBMISSIONBACK_PH_EHLO:
	case PM_SUBMISSIONBACK_PH_XCLIENT_EHLO:
		if (code / 100 != 2)
			return fail(b, "the backend refused EHLO");
		break;
	case PM_SUBMISSIONBACK_PH_XCLIENT:
		if (code / 100 != 2)
			return fail(b, "the backend refused XCLIENT");
		break;
	default:		/* AUTH_CONT, AUTH */
		if (code == 334 && !b->last_line)
			return fail(b, "a multi-line 334 challenge");
		break;
	}
	return STEP_NEXT;
}

/* Why a line that is no reply line fails (Dovecot: "Invalid banner"). */
static const char *
malformed(const struct pm_submissionback *b)
{
	if (b->phase == PM_SUBMISSIONBACK_PH_BANNER)
		return "invalid banner";
	return "a malformed reply line";
}

static bool
is_ehlo_phase(const struct pm_submissionback *b)
{
	return b->phase == PM_SUBMISSIONBACK_PH_EHLO ||
	       b->phase == PM_SUBMISSIONBACK_PH_XCLIENT_EHLO;
}

/* The word collected in b->word is an XCLIENT attribute name: note it. */
static void
xattr_word(struct pm_submissionback *b)
{
	static const struct {
		const char *name;
		uint8_t bit;
	} tab[] = {
		{ "HELO", X_HELO },	{ "PROTO", X_PROTO }, { "LOGIN", X_LOGIN },
		{ "TTL", X_TTL },	{ "PORT", X_PORT },   { "ADDR", X_ADDR },
		{ "SESSION", X_SESSION }, { "FORWARD", X_FORWARD },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strlen(tab[i].name) == b->word_len &&
		    memcmp(tab[i].name, b->word, b->word_len) == 0)
			b->xattrs |= tab[i].bit;
	}
	b->word_len = 0;
}

static void
word_put(struct pm_submissionback *b, uint8_t c)
{
	if (b->word_len < sizeof(b->word))
		b->word[b->word_len] = (char)upper(c);
	if (b->word_len < UINT8_MAX)
		b->word_len++;
}

/* A text byte of an EHLO reply line. */
static void
kw_byte(struct pm_submissionback *b, uint8_t c)
{
	switch (b->kw) {
	case KW_WORD:
		if (c != ' ') {
			word_put(b, c);
			return;
		}
		if (b->word_len == 7 && memcmp(b->word, "XCLIENT", 7) == 0) {
			/* the last XCLIENT line's list counts */
			b->cap_xclient = true;
			b->xattrs = 0;
			b->word_len = 0;
			b->kw = KW_XATTR;
		} else if (b->word_len == 4 && memcmp(b->word, "AUTH", 4) == 0) {
			b->kw = KW_AUTH;
		} else {
			b->kw = KW_IGNORE;
		}
		return;
	case KW_AUTH:
		b->cap_auth = true;	/* "AUTH " and at least one byte */
		b->kw = KW_IGNORE;
		return;
	case KW_XATTR:
		if (c == ' ')
			xattr_word(b);
		else
			word_put(b, c);
		return;
	default:
		return;
	}
}

/* The end of an EHLO reply line's text. */
static void
kw_line_end(struct pm_submissionback *b)
{
	if (b->kw == KW_XATTR)
		xattr_word(b);
	b->kw = KW_WORD;
	b->word_len = 0;
}

static void
line_start(struct pm_submissionback *b)
{
	b->lx = LX_CODE;
	b->ndig = 0;
	b->code = 0;
	b->line_len = 0;
	b->text_len = 0;
	b->text[0] = '\0';
	b->text_cut = false;
	b->kw = KW_WORD;
	b->word_len = 0;
}

static enum step_rc
step(struct pm_submissionback *b, uint8_t c, struct pm_buf *tb)
{
	enum step_rc rc;

	if (b->lx == LX_LF) {
		if (c != '\n')
			return fail(b, "a CR without LF");
		if (b->last_line) {
			/* The reply's last LF is not counted: on_reply() may
			 * have to leave it unconsumed, and then nothing may
			 * have changed. */
			if (reply_sends(b) && room(tb) < PM_SUBMISSIONBACK_BACKEND_ROOM)
				return STEP_ROOM;
			if (is_ehlo_phase(b))
				kw_line_end(b);
			b->reply_len = 0;
			b->first_line = true;
			rc = on_reply(b, tb);
			if (rc == STEP_NEXT)
				line_start(b);
			return rc;
		}
		if (is_ehlo_phase(b))
			kw_line_end(b);
		b->reply_len++;
		b->first_line = false;
		line_start(b);
		return STEP_NEXT;
	}
	if (b->line_len >= PM_SUBMISSIONBACK_LINE_MAX - 1)
		return fail(b, "a reply line over 4 KiB");
	if (b->reply_len >= PM_SUBMISSIONBACK_REPLY_MAX - 1)
		return fail(b, "a reply over 64 KiB");
	if (c == '\0' || c == '\n')
		return fail(b, "a NUL or bare LF in a reply");
	b->line_len++;
	b->reply_len++;

	switch (b->lx) {
	case LX_CODE:
		if (c < '0' || c > '9')
			return fail(b, malformed(b));
		b->code = (uint16_t)(b->code * 10 + (c - '0'));
		text_put(b, c);
		if (++b->ndig == 3)
			b->lx = LX_SEP;
		return STEP_NEXT;
	case LX_SEP:
		if (c != ' ' && c != '-' && c != '\r')
			return fail(b, malformed(b));
		if (on_code(b, c) == STEP_DONE)
			return STEP_DONE;
		if (c == '\r') {
			b->lx = LX_LF;
			return STEP_NEXT;
		}
		text_put(b, ' ');	/* the kept line is the last one: SP */
		b->lx = LX_TEXT;
		return STEP_NEXT;
	default:		/* LX_TEXT */
		if (c == '\r') {
			b->lx = LX_LF;
			return STEP_NEXT;
		}
		text_put(b, c);
		if (is_ehlo_phase(b))
			kw_byte(b, c);
		return STEP_NEXT;
	}
}

/* ---- API ---- */

static bool
sid_char(int c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static bool
graph_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

int
pm_submissionback_init(struct pm_submissionback *b, const struct pm_submissionback_params *p)
{
	struct pm_backparams_creds c;
	int n;

	if (b == NULL || p == NULL)
		return -EINVAL;
	/* Only the small head needs zeroing; the buffers are written before
	 * they are read. The credentials are cleared field by field below so
	 * that a failed init leaves none of them behind. */
	memset(b, 0, offsetof(struct pm_submissionback, session_id));
	b->phase = PM_SUBMISSIONBACK_PH_DONE;	/* until init succeeds */
	b->status = PM_SUBMISSIONBACK_FAIL;
	b->reason = "not initialised";
	b->text[0] = '\0';
	pm_submissionback_wipe(b);
	if (p->ttl == 1)
		return -ELOOP;
	if ((n = pm_backparams_copy(b->session_id, p->session_id, PM_SUBMISSIONBACK_SID_MAX,
				    true, sid_char)) < 0 ||
	    (n = pm_backparams_copy(b->client_ip, p->client_ip, PM_SUBMISSIONBACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0 ||
	    (n = pm_backparams_copy(NULL, p->local_ip, PM_SUBMISSIONBACK_IP_MAX,
				    false, pm_backparams_ip_char)) < 0 ||
	    (n = pm_backparams_copy(b->helo, p->helo, PM_SUBMISSIONBACK_DOMAIN_MAX,
				    false, graph_char)) < 0 ||
	    (n = pm_backparams_copy(b->ehlo_name, p->ehlo_name, PM_SUBMISSIONBACK_DOMAIN_MAX,
				    true, graph_char)) < 0)
		return n;
	c = (struct pm_backparams_creds){ b->user, b->authzid, b->password,
					  PM_SUBMISSIONBACK_USER_MAX, PM_SUBMISSIONBACK_PASS_MAX,
					  0, 0, 0 };
	if ((n = pm_backparams_creds(&c, p->user, p->authzid, p->password)) < 0)
		goto bad;
	b->user_len = c.user_len;
	b->authzid_len = c.authzid_len;
	b->pass_len = c.pass_len;
	b->client_port = p->client_port;
	b->ttl = p->ttl == 0 ? PM_SUBMISSIONBACK_TTL_DEFAULT : p->ttl;
	b->helo_smtp = p->helo_smtp;
	b->phase = PM_SUBMISSIONBACK_PH_BANNER;
	b->status = PM_SUBMISSIONBACK_AGAIN;
	b->reason = "";
	b->first_line = true;
	line_start(b);
	return 0;
bad:
	pm_submissionback_wipe(b);
	return n;
}

enum pm_submissionback_status
pm_submissionback_feed(struct pm_submissionback *b, const uint8_t *p, size_t n,
		       size_t *consumed, struct pm_buf *to_backend, struct pm_buf *to_client)
{
	size_t i;

	(void)to_client;	/* nothing reaches the client before the result */
	*consumed = 0;
	if (b->status != PM_SUBMISSIONBACK_AGAIN)
		return (enum pm_submissionback_status)b->status;
	if (!pm_buf_ok(to_backend))
		return PM_SUBMISSIONBACK_ERROR;
	for (i = 0; i < n; i++) {
		switch (step(b, p[i], to_backend)) {
		case STEP_NEXT:
			break;
		case STEP_ROOM:
			*consumed = i;
			return PM_SUBMISSIONBACK_ERROR;
		case STEP_DONE:
			*consumed = i + 1;
			return (enum pm_submissionback_status)b->status;
		}
	}
	*consumed = n;
	return PM_SUBMISSIONBACK_AGAIN;
}

enum pm_submissionback_status
pm_submissionback_closed(struct pm_submissionback *b)
{
	if (b->status == PM_SUBMISSIONBACK_AGAIN)
		(void)fail(b, "the backend closed the connection");
	pm_submissionback_wipe(b);
	return (enum pm_submissionback_status)b->status;
}

enum pm_submissionback_phase
pm_submissionback_phase(const struct pm_submissionback *b)
{
	return (enum pm_submissionback_phase)b->phase;
}

const char *
pm_submissionback_text(const struct pm_submissionback *b)
{
	switch (b->status) {
	case PM_SUBMISSIONBACK_OK:
	case PM_SUBMISSIONBACK_AUTHFAILED:
	case PM_SUBMISSIONBACK_TEMPFAIL:
	case PM_SUBMISSIONBACK_VERBATIM:
		return b->text;
	default:
		return "";
	}
}

const char *
pm_submissionback_reason(const struct pm_submissionback *b)
{
	if (b->status == PM_SUBMISSIONBACK_FAIL || b->status == PM_SUBMISSIONBACK_SERVERBUG)
		return b->reason;
	return "";
}
