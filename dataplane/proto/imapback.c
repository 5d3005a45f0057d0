/*
 * imapback.c -- the backend-side IMAP login machine (proto/imapback.h).
 *
 * One byte loop drives two nested machines: the response lexer (enum lx)
 * frames the backend's responses and pulls out the few fields a decision
 * needs; at the end of each response, on_response() advances the login
 * phase (enum pm_imapback_phase) and writes what the phase sends. Nothing is
 * decided inside a line, so a line split across any number of feed() calls
 * gives the same result as the line in one piece. Every output is preceded
 * by a room check made before any state changes, which is what lets
 * PM_IMAPBACK_ERROR leave the byte unconsumed and the machine resumable.
 *
 * Matched against Dovecot 2.3 src/imap-login/imap-proxy.c:
 * proxy_write_id() (the ID line), proxy_write_login() (C CAPABILITY,
 * LOGINDISABLED, AUTHENTICATE), proxy_input_banner() (banner check, caps),
 * imap_proxy_parse_line() (tagged and untagged dispatch) and
 * client_send_login_reply() (the client's OK line).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/imapback.h"
#include "proto/backparams.h"
#include "proto/sasl.h"
#include "proto/utf8.h"

#define GENERIC_FAILURE	"Account is temporarily unavailable."
#define AUTH_FAILED	"Authentication failed."

/* The response lexer. */
enum lx {
	LX_START = 0,	/* first byte of a response */
	LX_U_SP,	/* after "*": a space */
	LX_U_ATOM,	/* the first word of an untagged response */
	LX_U_CAPS,	/* the rest of "* CAPABILITY": capability list */
	LX_TAG,		/* a tag */
	LX_L_STATUS,	/* "L " seen: the status word */
	LX_RTEXT,	/* resp-text of the banner, L OK or L NO (enum rt) */
	LX_BODY,	/* the rest of any other line */
	LX_CRLF,	/* CR seen: LF must follow */
	LX_LITERAL,	/* inside a literal, lit_left bytes to go */
};

/* What the current response is, known once its first words were read. */
enum kind {
	K_NONE = 0,
	K_BANNER,	/* the greeting "* OK ..." */
	K_UCAPS,	/* "* CAPABILITY ..." */
	K_SWALLOW,	/* "* ID", "* BYE": dropped */
	K_FORWARD,	/* any other untagged response: to the client */
	K_CONT,		/* "+ ..." */
	K_TAG_C,	/* our CAPABILITY's tagged reply */
	K_TAG_IGN,	/* "I ..." and unknown tags: ignored */
	K_L_OK,
	K_L_NO,
};

/* resp-text = ["[" resp-text-code "]" SP] text (RFC 3501 section 9). */
enum rt {
	RT_FIRST = 0,	/* first byte of resp-text */
	RT_CODE_ATOM,	/* inside "[": the code's name */
	RT_CAPS,	/* "[CAPABILITY ": the capability list */
	RT_CODE_REST,	/* the rest of another code, up to "]" */
	RT_AFTER_CODE,	/* "]" seen: a space may follow */
	RT_TEXT,	/* the human-readable text */
};

/* Tracks whether a line ends in "{digits}" (a literal follows). */
enum lit_st { LIT_NONE = 0, LIT_OPEN, LIT_CLOSE };

enum method {
	M_LOGIN = 1,	/* LOGIN, each string quoted or a literal */
	M_PLAIN_IR,	/* AUTHENTICATE PLAIN <initial response> */
	M_PLAIN_CONT,	/* AUTHENTICATE PLAIN, "+", response */
};

/* What step() tells the byte loop. */
enum step_rc { STEP_NEXT, STEP_DONE, STEP_ROOM };

/* ---- small helpers ---- */

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* @s (length @len) equals the NUL-terminated @word, ASCII case-insensitively. */
static bool
ci_eq(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (word[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)word[i]))
			return false;
	}
	return word[len] == '\0';
}

/*
 * tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 section 9): a CHAR
 * (0x01-0x7f) that is not a CTL, SP or one of ( ) { % * " \ +. "]" is allowed.
 */
static bool
tag_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

static bool
quotable(const char *s, size_t len)
{
	return memchr(s, '\r', len) == NULL && memchr(s, '\n', len) == NULL;
}

static size_t
room(const struct pm_imapback_buf *o)
{
	return o->len < o->cap ? o->cap - o->len : 0;
}

/* Callers check room() first; these never overflow. */
static void
put(struct pm_imapback_buf *o, const void *s, size_t len)
{
	memcpy(o->p + o->len, s, len);
	o->len += len;
}

static void
puts_(struct pm_imapback_buf *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_uint(struct pm_imapback_buf *o, unsigned long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lu", v);

	put(o, tmp, (size_t)n);
}

/* An IMAP quoted string: '"' and '\' are escaped (RFC 3501 quoted). */
static void
put_quoted(struct pm_imapback_buf *o, const char *s, size_t len)
{
	size_t i;

	o->p[o->len++] = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			o->p[o->len++] = '\\';
		o->p[o->len++] = (uint8_t)s[i];
	}
	o->p[o->len++] = '"';
}

/* The base64 of the SASL PLAIN message authzid NUL user NUL password
 * (proto/sasl.h: read in place, no copy of it in between). */
static void
put_plain_b64(struct pm_imapback_buf *o, const struct pm_imapback *b)
{
	const struct pm_sasl_plain_msg m = { b->authzid, b->authzid_len, b->user,
					     b->user_len, b->password, b->pass_len };

	o->len += pm_sasl_plain_encode(o->p + o->len, &m);
}

static void
wipe_password(struct pm_imapback *b)
{
	explicit_bzero(b->password, sizeof(b->password));
	b->pass_len = 0;
}

void
pm_imapback_wipe(struct pm_imapback *b)
{
	wipe_password(b);
	explicit_bzero(b->user, sizeof(b->user));
	explicit_bzero(b->authzid, sizeof(b->authzid));
	b->user_len = 0;
	b->authzid_len = 0;
}

static enum step_rc
finish(struct pm_imapback *b, enum pm_imapback_status st, const char *reason)
{
	b->status = (uint8_t)st;
	b->phase = PM_IMAPBACK_PH_DONE;
	b->reason = reason;
	pm_imapback_wipe(b);
	return STEP_DONE;
}

static enum step_rc
fail(struct pm_imapback *b, const char *reason)
{
	return finish(b, PM_IMAPBACK_FAIL, reason);
}

/* ---- capabilities ---- */

/* Learn the flags that steer the login from the list in b->caps. */
static void
caps_parse(struct pm_imapback *b)
{
	const char *s = b->caps, *end = b->caps + b->caps_len;

	b->caps_known = true;
	b->cap_id = b->cap_sasl_ir = b->cap_auth_plain = b->cap_logindisabled = false;
	while (s < end) {
		const char *e = memchr(s, ' ', (size_t)(end - s));
		size_t len;

		if (e == NULL)
			e = end;
		len = (size_t)(e - s);
		if (ci_eq(s, len, "ID"))
			b->cap_id = true;
		else if (ci_eq(s, len, "SASL-IR"))
			b->cap_sasl_ir = true;
		else if (ci_eq(s, len, "AUTH=PLAIN"))
			b->cap_auth_plain = true;
		else if (ci_eq(s, len, "LOGINDISABLED"))
			b->cap_logindisabled = true;
		s = e + 1;
	}
}

static bool
caps_put(struct pm_imapback *b, uint8_t c)
{
	if (b->caps_len == PM_IMAPBACK_CAPS_MAX)
		return false;
	b->caps[b->caps_len++] = (char)c;
	b->caps[b->caps_len] = '\0';
	return true;
}

/* ---- what we send ---- */

/*
 * The most one feed() call writes: the ID line, C CAPABILITY and the longest
 * first piece of a login (both strings quoted with every byte escaped, or
 * the base64 of the largest PLAIN message). A later piece is smaller.
 */
#define ID_FIXED_LEN	(sizeof("I ID (\"x-session-id\" \"\" \"x-originating-ip\" \"\" " \
				"\"x-originating-port\" \"\" \"x-connected-ip\" \"\" " \
				"\"x-connected-port\" \"\" \"x-proxy-ttl\" \"\")\r\n") - 1)
#define ID_MAX_LEN	(ID_FIXED_LEN + PM_IMAPBACK_SID_MAX + 2 * PM_IMAPBACK_IP_MAX + 2 * 5 + 10)
#define LOGIN_MAX_LEN	(sizeof("L LOGIN ") - 1 + 2 * PM_IMAPBACK_USER_MAX + 2 + 1 + \
			 2 * PM_IMAPBACK_PASS_MAX + 2 + 2)
#define PLAIN_MAX_LEN	(sizeof("L AUTHENTICATE PLAIN ") - 1 + \
			 PM_SASL_B64_LEN(2 * PM_IMAPBACK_USER_MAX + 2 + PM_IMAPBACK_PASS_MAX) + 2)
_Static_assert(ID_MAX_LEN + sizeof("C CAPABILITY\r\n") - 1 + LOGIN_MAX_LEN <=
	       PM_IMAPBACK_BACKEND_ROOM, "the login write fits PM_IMAPBACK_BACKEND_ROOM");
_Static_assert(ID_MAX_LEN + sizeof("C CAPABILITY\r\n") - 1 + PLAIN_MAX_LEN <=
	       PM_IMAPBACK_BACKEND_ROOM, "the login write fits PM_IMAPBACK_BACKEND_ROOM");

static void
put_id(struct pm_imapback_buf *o, const struct pm_imapback *b)
{
	/* Dovecot's proxy_write_id(), pair order and spacing as verified. */
	puts_(o, "I ID (\"x-session-id\" \"");
	puts_(o, b->session_id);
	puts_(o, "\" \"x-originating-ip\" \"");
	puts_(o, b->client_ip);
	puts_(o, "\" \"x-originating-port\" \"");
	put_uint(o, b->client_port);
	puts_(o, "\" \"x-connected-ip\" \"");
	puts_(o, b->local_ip);
	puts_(o, "\" \"x-connected-port\" \"");
	put_uint(o, b->local_port);
	puts_(o, "\" \"x-proxy-ttl\" \"");
	put_uint(o, b->ttl - 1);
	puts_(o, "\")\r\n");
}

/*
 * The next piece of the login. Sets the phase: CONT when a "+" must come
 * first, LOGIN once the whole command is out. The password is wiped as soon
 * as it was written.
 */
static void
login_step(struct pm_imapback *b, struct pm_imapback_buf *o)
{
	if (b->method == M_PLAIN_IR) {
		puts_(o, "L AUTHENTICATE PLAIN ");
		put_plain_b64(o, b);
		puts_(o, "\r\n");
		wipe_password(b);
		b->phase = PM_IMAPBACK_PH_LOGIN;
		return;
	}
	if (b->method == M_PLAIN_CONT) {
		if (b->step == 0) {
			puts_(o, "L AUTHENTICATE PLAIN\r\n");
			b->step = 1;
			b->phase = PM_IMAPBACK_PH_CONT;
			return;
		}
		put_plain_b64(o, b);
		puts_(o, "\r\n");
		wipe_password(b);
		b->phase = PM_IMAPBACK_PH_LOGIN;
		return;
	}
	/* M_LOGIN: each string quoted if it can be, else a synchronising
	 * literal whose bytes follow the backend's "+" (RFC 3501 7.5). */
	if (b->step == 0) {
		puts_(o, "L LOGIN ");
		b->step = 1;
	}
	while (b->tok < 2) {
		const char *s = b->tok == 0 ? b->user : b->password;
		size_t len = b->tok == 0 ? b->user_len : b->pass_len;

		if (b->raw_pending) {
			put(o, s, len);
			b->raw_pending = false;
		} else if (quotable(s, len)) {
			put_quoted(o, s, len);
		} else {
			o->p[o->len++] = '{';
			put_uint(o, len);
			puts_(o, "}\r\n");
			b->raw_pending = true;
			b->phase = PM_IMAPBACK_PH_CONT;
			return;
		}
		if (b->tok == 1)
			wipe_password(b);
		puts_(o, b->tok == 0 ? " " : "\r\n");
		b->tok++;
	}
	b->phase = PM_IMAPBACK_PH_LOGIN;
}

/* How to log in with the capabilities known now; 0 if we cannot. */
static int
choose_method(const struct pm_imapback *b, const char **why)
{
	if (b->authzid_len > 0) {
		if (!b->cap_auth_plain) {
			*why = "a login with an authzid needs AUTH=PLAIN, the backend lacks it";
			return 0;
		}
		return b->cap_sasl_ir ? M_PLAIN_IR : M_PLAIN_CONT;
	}
	if (!b->cap_logindisabled) {
		if (quotable(b->user, b->user_len) && quotable(b->password, b->pass_len))
			return M_LOGIN;
		if (b->cap_auth_plain && b->cap_sasl_ir)
			return M_PLAIN_IR;
		return M_LOGIN;		/* with literals */
	}
	if (b->cap_auth_plain)
		return b->cap_sasl_ir ? M_PLAIN_IR : M_PLAIN_CONT;
	*why = "the backend advertises LOGINDISABLED and no AUTH=PLAIN";
	return 0;
}

/* Send [ID] [C CAPABILITY] and the login's first piece in one write. */
static enum step_rc
start_login(struct pm_imapback *b, struct pm_imapback_buf *o, bool send_capa)
{
	const char *why = "";
	int m = choose_method(b, &why);

	/* Decided before anything is written: Dovecot fails LOGINDISABLED
	 * before even the ID line leaves (verified). */
	if (m == 0)
		return finish(b, PM_IMAPBACK_SERVERBUG, why);
	b->method = (uint8_t)m;
	if (b->cap_id)
		put_id(o, b);
	if (send_capa)
		puts_(o, "C CAPABILITY\r\n");
	login_step(b, o);
	return STEP_NEXT;
}

/* ---- results ---- */

/* Cut b->text (already cut at PM_IMAPBACK_TEXT_MAX bytes) back to a UTF-8
 * character boundary, so that the client never gets half a character. */
static void
text_trim_utf8(struct pm_imapback *b)
{
	b->text_len = (uint16_t)pm_utf8_cut(b->text, b->text_len);
	b->text[b->text_len] = '\0';
}

static enum step_rc
on_l_no(struct pm_imapback *b)
{
	if (b->text_len == 0 || b->text[0] != '[')
		return finish(b, PM_IMAPBACK_AUTHFAILED, "");
	if (ci_eq(b->atom, b->atom_len, "AUTHENTICATIONFAILED"))
		return finish(b, PM_IMAPBACK_AUTHFAILED, "");
	if (ci_eq(b->atom, b->atom_len, "UNAVAILABLE")) {
		/* Keep only the text after the code. */
		size_t n = (size_t)(b->text_len - b->code_end);

		memmove(b->text, b->text + b->code_end, n);
		b->text_len = (uint16_t)n;
		b->text[n] = '\0';
		if (n == 0) {
			memcpy(b->text, GENERIC_FAILURE, sizeof(GENERIC_FAILURE));
			b->text_len = (uint16_t)strlen(GENERIC_FAILURE);
		}
		return finish(b, PM_IMAPBACK_TEMPFAIL, "");
	}
	return finish(b, PM_IMAPBACK_VERBATIM, "");
}

/*
 * A whole response was read (its final LF is the current byte). Check the
 * room its action needs before changing anything: on STEP_ROOM the LF stays
 * unconsumed and the same call can be made again.
 */
static enum step_rc
on_response(struct pm_imapback *b, struct pm_imapback_buf *tb, struct pm_imapback_buf *tc)
{
	bool sends = b->kind == K_BANNER ||
		     (b->kind == K_TAG_C && b->phase == PM_IMAPBACK_PH_CAPA) ||
		     (b->kind == K_CONT && b->phase == PM_IMAPBACK_PH_CONT);

	if (sends && room(tb) < PM_IMAPBACK_BACKEND_ROOM)
		return STEP_ROOM;
	if (b->kind == K_FORWARD && room(tc) < (size_t)b->fwd_len + 1)
		return STEP_ROOM;

	b->lx = LX_START;
	b->resp_len = 0;
	switch (b->kind) {
	case K_BANNER:
		if (!b->caps_known) {
			/* No capabilities: ask, and decide after the reply. */
			puts_(tb, "C CAPABILITY\r\n");
			b->phase = PM_IMAPBACK_PH_CAPA;
			return STEP_NEXT;
		}
		caps_parse(b);
		return start_login(b, tb, b->client_sent_capability);
	case K_UCAPS:
		caps_parse(b);
		return STEP_NEXT;
	case K_FORWARD:
		put(tc, b->fwd, b->fwd_len);
		tc->p[tc->len++] = '\n';
		b->fwd_len = 0;
		return STEP_NEXT;
	case K_TAG_C:
		if (b->phase == PM_IMAPBACK_PH_CAPA)
			return start_login(b, tb, false);
		return STEP_NEXT;
	case K_CONT:
		if (b->phase == PM_IMAPBACK_PH_CONT)
			login_step(b, tb);
		return STEP_NEXT;
	case K_L_OK:
		if (b->text_cut)
			text_trim_utf8(b);
		return finish(b, PM_IMAPBACK_OK, "");
	case K_L_NO:
		if (b->text_cut)
			text_trim_utf8(b);
		return on_l_no(b);
	default:
		return STEP_NEXT;	/* swallowed or ignored */
	}
}

/* ---- the lexer ---- */

static void
lit_reset(struct pm_imapback *b)
{
	b->lit_st = LIT_NONE;
	b->lit_val = 0;
	b->lit_ndig = 0;
	b->lit_over = false;
}

/* Follow "{digits}" at the end of a line; the value is checked against the
 * response bound before it is multiplied, so it never wraps. */
static void
lit_track(struct pm_imapback *b, uint8_t c)
{
	if (c == '{') {
		lit_reset(b);
		b->lit_st = LIT_OPEN;
	} else if (b->lit_st == LIT_OPEN && c >= '0' && c <= '9') {
		uint32_t d = (uint32_t)(c - '0');

		if (b->lit_val > (PM_IMAPBACK_LINE_MAX - d) / 10)
			b->lit_over = true;
		else
			b->lit_val = b->lit_val * 10 + d;
		if (b->lit_ndig < 255)
			b->lit_ndig++;
	} else if (b->lit_st == LIT_OPEN && c == '}' && b->lit_ndig > 0) {
		b->lit_st = LIT_CLOSE;
	} else {
		b->lit_st = LIT_NONE;
	}
}

static bool
fwd_put(struct pm_imapback *b, uint8_t c)
{
	/* Keep one byte for the final LF. */
	if ((size_t)b->fwd_len + 1 >= PM_IMAPBACK_FWD_MAX)
		return false;
	b->fwd[b->fwd_len++] = c;
	return true;
}

static void
text_put(struct pm_imapback *b, uint8_t c)
{
	if (b->kind != K_L_OK && b->kind != K_L_NO)
		return;		/* the banner's text is not kept */
	if (b->text_len == PM_IMAPBACK_TEXT_MAX) {
		b->text_cut = true;
		return;
	}
	b->text[b->text_len++] = (char)c;
	b->text[b->text_len] = '\0';
}

/* A CR ends the line's bytes; a literal may follow it. */
static enum step_rc
on_cr(struct pm_imapback *b)
{
	if (b->kind == K_FORWARD && !fwd_put(b, '\r'))
		return fail(b, "a forwarded untagged response is over 4 KiB");
	b->lit_pending = b->lit_allowed && b->lit_st == LIT_CLOSE;
	if (b->lit_pending && b->lit_over)
		return fail(b, "a literal over the response bound");
	b->lx = LX_CRLF;
	return STEP_NEXT;
}

static void
start_response(struct pm_imapback *b)
{
	b->kind = K_NONE;
	b->fwd_len = 0;
	b->atom_len = 0;
	b->tag_len = 0;
	b->st_len = 0;
	b->lit_allowed = false;
	b->lit_pending = false;
	lit_reset(b);
}

/* The untagged response's first word is complete (@c is SP or CR). */
static enum step_rc
on_untagged_word(struct pm_imapback *b, uint8_t c)
{
	const char *a = b->atom;
	size_t n = b->atom_len;

	if (b->phase == PM_IMAPBACK_PH_BANNER) {
		/* Dovecot: str_begins(line, "* OK "), case-sensitive. */
		if (c != ' ' || n != 2 || a[0] != 'O' || a[1] != 'K')
			return fail(b, "invalid banner");
		b->kind = K_BANNER;
		b->rt = RT_FIRST;
		b->lx = LX_RTEXT;
		return STEP_NEXT;
	}
	if (ci_eq(a, n, "CAPABILITY")) {
		b->kind = K_UCAPS;
		b->caps_len = 0;
		b->caps[0] = '\0';
		b->caps_known = false;
		if (c == '\r')
			return on_cr(b);
		b->lx = LX_U_CAPS;
		return STEP_NEXT;
	}
	if (ci_eq(a, n, "ID")) {
		b->kind = K_SWALLOW;
		b->lit_allowed = true;
	} else if (ci_eq(a, n, "BYE")) {
		b->kind = K_SWALLOW;
	} else {
		b->kind = K_FORWARD;
		/* Status responses carry resp-text, which has no literals. */
		b->lit_allowed = !(ci_eq(a, n, "OK") || ci_eq(a, n, "NO") ||
				   ci_eq(a, n, "BAD") || ci_eq(a, n, "PREAUTH"));
	}
	if (c == '\r')
		return on_cr(b);
	if (b->kind == K_FORWARD && !fwd_put(b, c))
		return fail(b, "a forwarded untagged response is over 4 KiB");
	lit_track(b, c);
	b->lx = LX_BODY;
	return STEP_NEXT;
}

/* The tagged L line's status word is complete (@c is SP or CR). */
static enum step_rc
on_l_status(struct pm_imapback *b, uint8_t c)
{
	if (c != ' ')
		return fail(b, "a tagged L reply without text");
	/* Only "OK" exactly is success: never a case variant. */
	if (b->st_len == 2 && b->st[0] == 'O' && b->st[1] == 'K') {
		if (b->phase != PM_IMAPBACK_PH_LOGIN)
			return fail(b, "L OK before the whole login was sent");
		b->kind = K_L_OK;
	} else if (ci_eq(b->st, b->st_len, "NO")) {
		if (b->phase == PM_IMAPBACK_PH_CAPA)
			return fail(b, "L NO before the login was sent");
		b->kind = K_L_NO;
	} else if (ci_eq(b->st, b->st_len, "BAD")) {
		return fail(b, "the backend answered BAD to the login");
	} else {
		return fail(b, "an unknown status in the L reply");
	}
	b->text_len = 0;
	b->text[0] = '\0';
	b->text_cut = false;
	b->code_end = 0;
	b->ok_caps = false;
	b->rt = RT_FIRST;
	b->lx = LX_RTEXT;
	return STEP_NEXT;
}

/* resp-text of the banner, L OK or L NO, one byte (not CR, LF or NUL). */
static enum step_rc
rtext(struct pm_imapback *b, uint8_t c)
{
	bool caps_code;

	switch (b->rt) {
	case RT_FIRST:
		if (c == '[') {
			b->atom_len = 0;
			b->rt = RT_CODE_ATOM;
		} else {
			b->rt = RT_TEXT;
		}
		text_put(b, c);
		return STEP_NEXT;
	case RT_CODE_ATOM:
		if (c != ' ' && c != ']') {
			if (b->atom_len < sizeof(b->atom))
				b->atom[b->atom_len++] = (char)c;
			else
				b->atom_len = sizeof(b->atom);	/* too long: no match */
			text_put(b, c);
			return STEP_NEXT;
		}
		caps_code = b->kind != K_L_NO && b->atom_len < sizeof(b->atom) &&
			    ci_eq(b->atom, b->atom_len, "CAPABILITY");
		if (caps_code) {
			/* Dovecot: strncmp "[CAPABILITY " then t_strcut(']'). */
			b->caps_len = 0;
			b->caps[0] = '\0';
			b->ok_caps = b->kind == K_L_OK;
			if (b->kind == K_BANNER)
				b->caps_known = true;	/* parsed at the line's end */
			b->text_len = 0;	/* the code is not text */
			b->text[0] = '\0';
			b->rt = c == ']' ? RT_AFTER_CODE : RT_CAPS;
			return STEP_NEXT;
		}
		if (b->atom_len == sizeof(b->atom))
			b->atom_len = 0;	/* matches no name we know */
		text_put(b, c);
		if (c == ']')
			goto code_closed;
		b->rt = RT_CODE_REST;
		return STEP_NEXT;
	case RT_CAPS:
		if (c == ']') {
			b->rt = RT_AFTER_CODE;
			return STEP_NEXT;
		}
		if (!caps_put(b, c))
			return fail(b, "capabilities over 4 KiB");
		return STEP_NEXT;
	case RT_CODE_REST:
		text_put(b, c);
		if (c == ']')
			goto code_closed;
		return STEP_NEXT;
	case RT_AFTER_CODE:
		b->rt = RT_TEXT;
		if (c == ' ') {
			if (!b->ok_caps)
				text_put(b, c);
			b->code_end = b->text_len;	/* TEMPFAIL text starts here */
			return STEP_NEXT;
		}
		text_put(b, c);
		return STEP_NEXT;
	default:		/* RT_TEXT */
		text_put(b, c);
		return STEP_NEXT;
	}
code_closed:
	if (b->text_cut)
		return fail(b, "a response code over 1 KiB");
	b->code_end = b->text_len;
	b->rt = RT_AFTER_CODE;
	return STEP_NEXT;
}

/* One byte of a line (not a literal): the bytes no line may hold. */
static bool
bad_line_byte(uint8_t c)
{
	return c == '\0' || c == '\n';
}

static enum step_rc
step(struct pm_imapback *b, uint8_t c, struct pm_imapback_buf *tb, struct pm_imapback_buf *tc)
{
	if (b->resp_len >= PM_IMAPBACK_LINE_MAX)
		return fail(b, "a response over 64 KiB");
	if (b->lx == LX_CRLF) {
		if (c != '\n')
			return fail(b, "a CR without LF");
		/* The response's last LF is not counted: on_response() may have
		 * to leave it unconsumed, and then nothing may have changed. */
		if (!b->lit_pending)
			return on_response(b, tb, tc);
		b->resp_len++;
		if (b->kind == K_FORWARD && !fwd_put(b, c))
			return fail(b, "a forwarded untagged response is over 4 KiB");
		/* A literal that cannot fit fails now, not after its bytes. */
		if ((uint64_t)b->resp_len + b->lit_val + 2 > PM_IMAPBACK_LINE_MAX)
			return fail(b, "a literal over the response bound");
		if (b->kind == K_FORWARD && (size_t)b->fwd_len + b->lit_val + 2 > PM_IMAPBACK_FWD_MAX)
			return fail(b, "a forwarded untagged response is over 4 KiB");
		b->lit_pending = false;
		b->lit_left = b->lit_val;
		lit_reset(b);
		b->lx = b->lit_left > 0 ? LX_LITERAL : LX_BODY;
		return STEP_NEXT;
	}
	b->resp_len++;

	if (b->lx == LX_LITERAL) {
		/* Any byte: a literal is data, never parsed. */
		if (b->kind == K_FORWARD && !fwd_put(b, c))
			return fail(b, "a forwarded untagged response is over 4 KiB");
		if (--b->lit_left == 0)
			b->lx = LX_BODY;
		return STEP_NEXT;
	}
	if (bad_line_byte(c))
		return fail(b, "a NUL or bare LF in a response");

	switch (b->lx) {
	case LX_START:
		start_response(b);
		if (c == '*') {
			b->fwd[b->fwd_len++] = c;
			b->lx = LX_U_SP;
			return STEP_NEXT;
		}
		if (b->phase == PM_IMAPBACK_PH_BANNER)
			return fail(b, "invalid banner");
		if (c == '+') {
			b->kind = K_CONT;
			b->lx = LX_BODY;
			return STEP_NEXT;
		}
		if (!tag_char(c))
			return fail(b, "a response starting with a byte no tag has");
		b->tag0 = c;
		b->tag_len = 1;
		b->lx = LX_TAG;
		return STEP_NEXT;
	case LX_U_SP:
		if (c != ' ')
			return fail(b, b->phase == PM_IMAPBACK_PH_BANNER ? "invalid banner"
									 : "'*' without a space");
		b->fwd[b->fwd_len++] = c;
		b->lx = LX_U_ATOM;
		return STEP_NEXT;
	case LX_U_ATOM:
		if (c == ' ' || c == '\r') {
			if (b->atom_len == 0)
				return fail(b, "an empty untagged response");
			return on_untagged_word(b, c);
		}
		if (b->atom_len < sizeof(b->atom))
			b->atom[b->atom_len++] = (char)c;
		else
			b->atom_len = sizeof(b->atom);	/* too long: no match */
		if (!fwd_put(b, c))
			return fail(b, "a forwarded untagged response is over 4 KiB");
		lit_track(b, c);
		return STEP_NEXT;
	case LX_U_CAPS:
		if (c == '\r')
			return on_cr(b);
		if (!caps_put(b, c))
			return fail(b, "capabilities over 4 KiB");
		return STEP_NEXT;
	case LX_TAG:
		if (tag_char(c)) {
			if (b->tag_len < 255)
				b->tag_len++;
			return STEP_NEXT;
		}
		if (c != ' ' && c != '\r')
			return fail(b, "a byte no tag has");
		if (b->tag_len == 1 && b->tag0 == 'L') {
			if (c == '\r')
				return fail(b, "a tagged L reply without a status");
			b->lx = LX_L_STATUS;
			return STEP_NEXT;
		}
		b->kind = b->tag_len == 1 && b->tag0 == 'C' ? K_TAG_C : K_TAG_IGN;
		if (c == '\r')
			return on_cr(b);
		b->lx = LX_BODY;
		return STEP_NEXT;
	case LX_L_STATUS:
		if (c == ' ' || c == '\r')
			return on_l_status(b, c);
		if (b->st_len == 3)
			return fail(b, "an unknown status in the L reply");
		b->st[b->st_len++] = (char)c;
		return STEP_NEXT;
	case LX_RTEXT:
		if (c == '\r') {
			if (b->rt == RT_CODE_ATOM || b->rt == RT_CAPS || b->rt == RT_CODE_REST)
				return fail(b, "an unterminated response code");
			return on_cr(b);
		}
		return rtext(b, c);
	default:		/* LX_BODY */
		if (c == '\r')
			return on_cr(b);
		if (b->kind == K_FORWARD && !fwd_put(b, c))
			return fail(b, "a forwarded untagged response is over 4 KiB");
		if (b->lit_allowed)
			lit_track(b, c);
		return STEP_NEXT;
	}
}

/* ---- API ---- */

static bool
sid_char(int c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

int
pm_imapback_init(struct pm_imapback *b, const struct pm_imapback_params *p)
{
	struct pm_backparams_creds c;
	int n;

	if (b == NULL || p == NULL)
		return -EINVAL;
	/* Only the small head needs zeroing; the big buffers are written
	 * before they are read. The credentials are cleared field by field
	 * below so that a failed init leaves none of them behind. */
	memset(b, 0, offsetof(struct pm_imapback, session_id));
	b->phase = PM_IMAPBACK_PH_DONE;		/* until init succeeds */
	b->status = PM_IMAPBACK_FAIL;
	b->reason = "not initialised";
	b->caps[0] = '\0';
	b->text[0] = '\0';
	pm_imapback_wipe(b);
	if (p->ttl == 1)
		return -ELOOP;
	if ((n = pm_backparams_copy(b->session_id, p->session_id, PM_IMAPBACK_SID_MAX,
				    true, sid_char)) < 0 ||
	    (n = pm_backparams_copy(b->client_ip, p->client_ip, PM_IMAPBACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0 ||
	    (n = pm_backparams_copy(b->local_ip, p->local_ip, PM_IMAPBACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0)
		return n;
	c = (struct pm_backparams_creds){ b->user, b->authzid, b->password,
					  PM_IMAPBACK_USER_MAX, PM_IMAPBACK_PASS_MAX, 0, 0, 0 };
	if ((n = pm_backparams_creds(&c, p->user, p->authzid, p->password)) < 0)
		goto bad;
	b->user_len = c.user_len;
	b->authzid_len = c.authzid_len;
	b->pass_len = c.pass_len;
	b->client_port = p->client_port;
	b->local_port = p->local_port;
	b->ttl = p->ttl == 0 ? PM_IMAPBACK_TTL_DEFAULT : p->ttl;
	b->client_sent_capability = p->client_sent_capability;
	b->phase = PM_IMAPBACK_PH_BANNER;
	b->status = PM_IMAPBACK_AGAIN;
	b->reason = "";
	return 0;
bad:
	pm_imapback_wipe(b);
	return n;
}

enum pm_imapback_status
pm_imapback_feed(struct pm_imapback *b, const uint8_t *p, size_t n, size_t *consumed,
		 struct pm_imapback_buf *to_backend, struct pm_imapback_buf *to_client)
{
	size_t i;

	*consumed = 0;
	if (b->status != PM_IMAPBACK_AGAIN)
		return (enum pm_imapback_status)b->status;
	for (i = 0; i < n; i++) {
		switch (step(b, p[i], to_backend, to_client)) {
		case STEP_NEXT:
			break;
		case STEP_ROOM:
			*consumed = i;
			return PM_IMAPBACK_ERROR;
		case STEP_DONE:
			*consumed = i + 1;
			return (enum pm_imapback_status)b->status;
		}
	}
	*consumed = n;
	return PM_IMAPBACK_AGAIN;
}

enum pm_imapback_status
pm_imapback_closed(struct pm_imapback *b)
{
	if (b->status == PM_IMAPBACK_AGAIN)
		(void)fail(b, "the backend closed the connection");
	pm_imapback_wipe(b);
	return (enum pm_imapback_status)b->status;
}

enum pm_imapback_phase
pm_imapback_phase(const struct pm_imapback *b)
{
	return (enum pm_imapback_phase)b->phase;
}

const char *
pm_imapback_caps(const struct pm_imapback *b)
{
	return b->ok_caps || b->caps_known ? b->caps : NULL;
}

const char *
pm_imapback_text(const struct pm_imapback *b)
{
	switch (b->status) {
	case PM_IMAPBACK_OK:
	case PM_IMAPBACK_TEMPFAIL:
	case PM_IMAPBACK_VERBATIM:
		return b->text;
	default:
		return "";
	}
}

const char *
pm_imapback_reason(const struct pm_imapback *b)
{
	if (b->status == PM_IMAPBACK_FAIL || b->status == PM_IMAPBACK_SERVERBUG)
		return b->reason;
	return "";
}

/* The OK line's text for the client when we add a CAPABILITY code: a code
 * the backend put there is dropped (Dovecot client_send_login_reply()). */
static const char *
ok_text_without_code(const struct pm_imapback *b)
{
	const char *t = b->text;

	if (*t != '[')
		return t;
	while (*t != ']' && *t != '\0')
		t++;
	if (*t == ']')
		t++;
	if (*t == ' ')
		t++;
	return t;
}

/* A reply writer: appends while it fits, remembers if something did not. */
struct rw {
	struct pm_imapback_buf *out;
	bool over;
};

static void
rw_puts(struct rw *w, const char *s)
{
	size_t len = strlen(s);

	if (w->over || room(w->out) < len) {
		w->over = true;
		return;
	}
	put(w->out, s, len);
}

static void
reply_ok(const struct pm_imapback *b, const char *tag, struct rw *w)
{
	const char *caps = pm_imapback_caps(b);

	if (b->client_sent_capability && caps != NULL) {
		/* The client ignores the resp-code: an untagged CAPABILITY
		 * first, then the backend's line as it was. */
		rw_puts(w, "* CAPABILITY ");
		rw_puts(w, caps);
		rw_puts(w, "\r\n");
		rw_puts(w, tag);
		rw_puts(w, " OK ");
		if (b->ok_caps) {
			rw_puts(w, "[CAPABILITY ");
			rw_puts(w, caps);
			rw_puts(w, "] ");
		}
		rw_puts(w, b->text);
	} else if (caps != NULL) {
		rw_puts(w, tag);
		rw_puts(w, " OK [CAPABILITY ");
		rw_puts(w, caps);
		rw_puts(w, "] ");
		rw_puts(w, b->ok_caps ? b->text : ok_text_without_code(b));
	} else {
		rw_puts(w, tag);
		rw_puts(w, " OK ");
		rw_puts(w, b->text);
	}
	rw_puts(w, "\r\n");
}

int
pm_imapback_client_reply(const struct pm_imapback *b, enum pm_imapback_status st,
			 const char *tag, struct pm_imapback_buf *out)
{
	struct rw w = { .out = out, .over = false };
	size_t saved = out->len, taglen, i;
	const char *mid = NULL, *text = NULL;

	if (tag == NULL)
		return -EINVAL;
	taglen = strnlen(tag, PM_IMAPBACK_TAG_MAX + 1);
	if (taglen == 0 || taglen > PM_IMAPBACK_TAG_MAX)
		return -EINVAL;
	for (i = 0; i < taglen; i++) {
		if (!tag_char((unsigned char)tag[i]))
			return -EINVAL;
	}
	switch (st) {
	case PM_IMAPBACK_OK:
		break;
	case PM_IMAPBACK_AUTHFAILED:
		mid = " NO [AUTHENTICATIONFAILED] ";
		text = AUTH_FAILED;
		break;
	case PM_IMAPBACK_TEMPFAIL:
		mid = " NO [UNAVAILABLE] ";
		text = b->text[0] != '\0' ? b->text : GENERIC_FAILURE;
		break;
	case PM_IMAPBACK_VERBATIM:
		mid = " NO ";
		text = b->text;
		break;
	case PM_IMAPBACK_SERVERBUG:
		mid = " NO [SERVERBUG] ";
		text = GENERIC_FAILURE;
		break;
	case PM_IMAPBACK_FAIL:
		mid = " NO [UNAVAILABLE] ";
		text = GENERIC_FAILURE;
		break;
	default:
		return -EINVAL;
	}
	if (st == PM_IMAPBACK_OK) {
		reply_ok(b, tag, &w);
	} else {
		rw_puts(&w, tag);
		rw_puts(&w, mid);
		rw_puts(&w, text);
		rw_puts(&w, "\r\n");
	}
	if (w.over) {
		out->len = saved;
		return -ENOSPC;
	}
	return 0;
}
