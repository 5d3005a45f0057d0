/*
 * sieveback.c -- the backend-side ManageSieve login machine
 * (proto/sieveback.h).
 *
 * One byte loop frames the backend's lines (LF, with an optional CR before
 * it) and runs each content byte through the reader of the current phase:
 * during the greeting a tokenizer that checks the first two arguments of
 * each capability line, as proxy_input_capability() parses them; afterwards
 * the line is kept (its first PM_SIEVEBACK_TEXT_MAX bytes) and a small
 * recognizer follows the reason of a "NO (TRYLATER) " line. At each line's
 * end, on_line() decides and writes what the phase sends. Nothing is decided
 * inside a line, so a line split across any number of feed() calls gives the
 * same result as the line in one piece. Every output is preceded by a room
 * check made before any state changes, which is what lets
 * PM_SIEVEBACK_ERROR leave the LF unconsumed and the machine resumable.
 *
 * Matched against Pigeonhole's src/managesieve-login/managesieve-proxy.c:
 * proxy_input_capability() (the greeting), proxy_write_xclient(),
 * proxy_write_auth() and managesieve_proxy_parse_line() (XCLIENT and
 * AUTHENTICATE answers), and against what 0.5.19 did on this machine (see
 * the header).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/backparams.h"
#include "proto/sasl.h"
#include "proto/sieveback.h"
#include "proto/utf8.h"

/* The greeting line tokenizer (b->g_st). */
enum {
	G_SP = 0,	/* between arguments */
	G_ATOM,
	G_QUOTED,
	G_QESC,		/* after a backslash in a quoted string */
	G_IGNORE,	/* two arguments read: the rest is not looked at */
};

/* Argument kinds (b->kind[]). */
enum { K_ATOM = 1, K_QUOTED };

/* The TRYLATER reason recognizer (b->q_st): one quoted string and spaces. */
enum {
	Q_START = 0,	/* spaces, then '"' */
	Q_IN,
	Q_ESC,
	Q_END,		/* the closing quote was seen: only spaces may follow */
	Q_BAD,		/* not exactly one string */
};

/* Where the reason starts: after "NO (TRYLATER) ". */
#define TRYLATER_PREFIX		"NO (TRYLATER) "
#define TRYLATER_LEN		(sizeof(TRYLATER_PREFIX) - 1)

/* What step() tells the byte loop. */
enum step_rc { STEP_NEXT, STEP_DONE, STEP_ROOM };

/* ---- small helpers ---- */

static int
upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

/* @s (length @len) begins with the NUL-terminated @word, ASCII
 * case-insensitively. */
static bool
ci_prefix(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; word[i] != '\0'; i++) {
		if (i >= len || upper((unsigned char)s[i]) != upper((unsigned char)word[i]))
			return false;
	}
	return true;
}

/* @s (length @len) is "@word", alone or followed by a space: how Pigeonhole
 * tests a line for OK (strncasecmp and line[2] == ' '). */
static bool
status_is(const char *s, size_t len, bool cut, const char *word)
{
	size_t n = strlen(word);

	if (!ci_prefix(s, len, word))
		return false;
	return (len == n && !cut) || (len > n && s[n] == ' ');
}

/* ATOM-SPECIALS (RFC 5804 section 4); 8-bit bytes are refused too. */
static bool
atom_bad(int c)
{
	return c <= 0x20 || c >= 0x7f || strchr("(){\"\\", c) != NULL;
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

static void
put_uint(struct pm_buf *o, unsigned long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lu", v);

	put(o, tmp, (size_t)n);
}

/* ---- UTF-8 (strict, as Dovecot's uni_utf8_data_is_valid()) ---- */

static void
u8_reset(struct pm_sieveback *b)
{
	pm_utf8_reset(&b->u8);
	b->u8_bad = false;
}

static void
u8_byte(struct pm_sieveback *b, uint8_t c)
{
	if (!pm_utf8_byte(&b->u8, c))
		b->u8_bad = true;
}

static bool
u8_ok(const struct pm_sieveback *b)
{
	return !b->u8_bad && b->u8.need == 0;
}

/* ---- secrets and results ---- */

static void
wipe_password(struct pm_sieveback *b)
{
	explicit_bzero(b->password, sizeof(b->password));
	b->pass_len = 0;
}

void
pm_sieveback_wipe(struct pm_sieveback *b)
{
	wipe_password(b);
	explicit_bzero(b->user, sizeof(b->user));
	explicit_bzero(b->authzid, sizeof(b->authzid));
	b->user_len = 0;
	b->authzid_len = 0;
}

static enum step_rc
finish(struct pm_sieveback *b, enum pm_sieveback_status st, const char *reason)
{
	b->status = (uint8_t)st;
	b->phase = PM_SIEVEBACK_PH_DONE;
	b->reason = reason;
	if (st != PM_SIEVEBACK_OK && st != PM_SIEVEBACK_TEMPFAIL) {
		b->text_len = 0;
		b->text[0] = '\0';
	}
	pm_sieveback_wipe(b);
	return STEP_DONE;
}

static enum step_rc
fail(struct pm_sieveback *b, const char *reason)
{
	return finish(b, PM_SIEVEBACK_FAIL, reason);
}

/* ---- what we send ---- */

#define XCLIENT_MAX_LEN	(sizeof("XCLIENT ADDR= PORT= SESSION= TTL=\r\n") - 1 + \
			 PM_SIEVEBACK_IP_MAX + 5 + PM_SIEVEBACK_SID_MAX + 10)
#define AUTH_MAX_LEN	(sizeof("AUTHENTICATE \"PLAIN\" \"\"\r\n") - 1 + \
			 PM_SASL_B64_LEN(2 * PM_SIEVEBACK_USER_MAX + 2 + PM_SIEVEBACK_PASS_MAX))
_Static_assert(XCLIENT_MAX_LEN <= PM_SIEVEBACK_BACKEND_ROOM, "XCLIENT fits the room");
_Static_assert(AUTH_MAX_LEN <= PM_SIEVEBACK_BACKEND_ROOM, "AUTHENTICATE fits the room");

/* proxy_write_xclient() of Pigeonhole 0.5.19, without FORWARD (verified). */
static void
put_xclient(struct pm_buf *o, const struct pm_sieveback *b)
{
	puts_(o, "XCLIENT ADDR=");
	puts_(o, b->client_ip);
	puts_(o, " PORT=");
	put_uint(o, b->client_port);
	puts_(o, " SESSION=");
	puts_(o, b->session_id);
	puts_(o, " TTL=");
	put_uint(o, b->ttl - 1);
	puts_(o, "\r\n");
}

/* AUTHENTICATE "PLAIN" "<base64>" (proxy_write_auth()); base64 needs no
 * escaping between quotes. The message is authzid NUL user NUL password,
 * the authzid the user when there is none, as Dovecot's dsasl PLAIN client
 * sends it; proto/sasl.h encodes it in place. The password is wiped once
 * written. */
static void
put_auth(struct pm_buf *o, struct pm_sieveback *b)
{
	const struct pm_sasl_plain_msg m = {
		b->authzid_len > 0 ? b->authzid : b->user,
		b->authzid_len > 0 ? b->authzid_len : b->user_len,
		b->user, b->user_len, b->password, b->pass_len,
	};

	puts_(o, "AUTHENTICATE \"PLAIN\" \"");
	o->len += pm_sasl_plain_encode(o->p + o->len, &m);
	puts_(o, "\"\r\n");
	wipe_password(b);
}

/* ---- the greeting ---- */

/* A greeting argument begins with @c (not SP, CR, LF or NUL). */
static enum step_rc
g_begin(struct pm_sieveback *b, uint8_t c)
{
	if (c == '{')
		return fail(b, "a literal in the backend greeting");
	u8_reset(b);
	if (c == '"') {
		b->kind[b->ntok] = K_QUOTED;
		b->g_st = G_QUOTED;
		return STEP_NEXT;
	}
	if (atom_bad(c))
		return fail(b, "a parse error in the backend greeting");
	b->kind[b->ntok] = K_ATOM;
	b->g_st = G_ATOM;
	return STEP_NEXT;
}

/* A content byte of the current argument. */
static void
g_keep(struct pm_sieveback *b, uint8_t c)
{
	if (b->ntok == 0) {
		if (b->word_len < sizeof(b->word))
			b->word[b->word_len++] = (char)upper(c);
		else
			b->word_len = sizeof(b->word) + 1;	/* too long: no match */
	} else if (b->tok2_len < UINT16_MAX) {
		b->tok2_len++;
	}
}

static enum step_rc
g_end(struct pm_sieveback *b)
{
	if (b->kind[b->ntok] == K_QUOTED && !u8_ok(b))
		return fail(b, "invalid UTF-8 in the backend greeting");
	b->ntok++;
	b->g_st = b->ntok == 2 ? G_IGNORE : G_SP;
	return STEP_NEXT;
}

/* One content byte (not CR, LF or NUL) of a greeting line. */
static enum step_rc
g_byte(struct pm_sieveback *b, uint8_t c)
{
	switch (b->g_st) {
	case G_SP:
		if (c == ' ')
			return STEP_NEXT;
		if (g_begin(b, c) != STEP_NEXT)
			return STEP_DONE;
		if (b->g_st == G_ATOM)
			g_keep(b, c);
		return STEP_NEXT;
	case G_ATOM:
		if (c == ' ' || c == ')') {
			if (g_end(b) != STEP_NEXT)
				return STEP_DONE;
			/* ')' ends an atom, then cannot begin the next one */
			return c == ')' ? g_byte(b, c) : STEP_NEXT;
		}
		if (atom_bad(c))
			return fail(b, "a parse error in the backend greeting");
		g_keep(b, c);
		return STEP_NEXT;
	case G_QUOTED:
		if (c == '"')
			return g_end(b);
		if (c == '\\') {
			b->g_st = G_QESC;
			return STEP_NEXT;
		}
		u8_byte(b, c);
		g_keep(b, c);
		return STEP_NEXT;
	case G_QESC:
		if (c != '"' && c != '\\')
			return fail(b, "a parse error in the backend greeting");
		g_keep(b, c);
		b->g_st = G_QUOTED;
		return STEP_NEXT;
	default:		/* G_IGNORE */
		return STEP_NEXT;
	}
}

static bool
word_is(const struct pm_sieveback *b, const char *w)
{
	size_t n = strlen(w);

	return b->word_len == n && memcmp(b->word, w, n) == 0;
}

/* Send what follows the greeting or XCLIENT's OK. */
static enum step_rc
send_next(struct pm_sieveback *b, struct pm_buf *tb, bool xclient)
{
	if (xclient) {
		put_xclient(tb, b);
		b->phase = PM_SIEVEBACK_PH_XCLIENT;
	} else {
		put_auth(tb, b);
		b->phase = PM_SIEVEBACK_PH_AUTH;
	}
	return STEP_NEXT;
}

/* The end of a greeting line. Room was checked by the caller. */
static enum step_rc
g_line(struct pm_sieveback *b, struct pm_buf *tb)
{
	if (b->g_st == G_QUOTED || b->g_st == G_QESC)
		return fail(b, "a parse error in the backend greeting");
	if (b->g_st == G_ATOM && g_end(b) != STEP_NEXT)
		return STEP_DONE;
	if (b->ntok == 0)
		return fail(b, "an empty line in the backend greeting");
	if (b->kind[0] == K_ATOM) {
		if (!word_is(b, "OK"))
			return fail(b, word_is(b, "NO") || word_is(b, "BYE")
					       ? "the backend greeting ends in NO or BYE"
					       : "an invalid line in the backend greeting");
		if (!b->sasl)
			return finish(b, PM_SIEVEBACK_SERVERBUG,
				      "the backend advertises no SASL mechanism");
		return send_next(b, tb, b->xclient);
	}
	if (word_is(b, "SASL")) {
		if (b->ntok != 2 || b->kind[1] != K_QUOTED)
			return fail(b, "an invalid SASL capability from the backend");
		if (b->tok2_len > 0)
			b->sasl = true;
	} else if (word_is(b, "XCLIENT")) {
		b->xclient = true;
	}
	return STEP_NEXT;
}

/* ---- XCLIENT's answer and the login's result ---- */

/* One content byte of a result line: kept, and followed by the reason
 * recognizer from where a TRYLATER reason would begin. */
static void
r_byte(struct pm_sieveback *b, uint8_t c)
{
	uint32_t i = b->line_len - 1;	/* this byte's index in the line */

	if (b->text_len < PM_SIEVEBACK_TEXT_MAX)
		b->text[b->text_len++] = (char)c;
	else
		b->text_cut = true;
	if (i < TRYLATER_LEN)
		return;
	switch (b->q_st) {
	case Q_START:
		if (c == '"') {
			u8_reset(b);
			b->q_st = Q_IN;
		} else if (c != ' ') {
			b->q_st = Q_BAD;
		}
		break;
	case Q_IN:
		if (c == '"') {
			b->q_end = (uint16_t)(i < UINT16_MAX ? i : UINT16_MAX);
			b->q_st = Q_END;
		} else if (c == '\\') {
			b->q_st = Q_ESC;
		} else {
			u8_byte(b, c);
		}
		break;
	case Q_ESC:
		b->q_st = c == '"' || c == '\\' ? Q_IN : Q_BAD;
		break;
	case Q_END:
		if (c != ' ')
			b->q_st = Q_BAD;
		break;
	default:
		break;
	}
}

/* Cut b->text (already cut at PM_SIEVEBACK_TEXT_MAX bytes) back to a UTF-8
 * character boundary, so that the client never gets half a character. */
static void
text_trim_utf8(struct pm_sieveback *b)
{
	b->text_len = (uint16_t)pm_utf8_cut(b->text, b->text_len);
}

/*
 * The TRYLATER reason (managesieve_proxy_parse_auth_reply() as 0.5.19
 * behaves, verified): the unescaped string when the rest of the line is one
 * valid quoted string and spaces, else the line after "NO " as it came.
 */
static void
trylater_reason(struct pm_sieveback *b)
{
	size_t r, w = 0, end;

	if (b->q_st == Q_END && u8_ok(b)) {
		/* the content starts after the opening quote, which follows
		 * the prefix and any spaces: find it in what was kept */
		r = TRYLATER_LEN;
		while (r < b->text_len && b->text[r] == ' ')
			r++;
		r++;
		end = b->q_end < b->text_len ? b->q_end : b->text_len;
		for (; r < end; r++) {
			if (b->text[r] == '\\') {
				if (++r >= end)
					break;	/* an escape cut in half */
			}
			b->text[w++] = b->text[r];
		}
		b->text_len = (uint16_t)w;
	} else {
		memmove(b->text, b->text + 3, (size_t)b->text_len - 3);
		b->text_len = (uint16_t)(b->text_len - 3);
	}
	if (b->text_cut)
		text_trim_utf8(b);
}

/* The end of a line after the greeting. Room was checked by the caller. */
static enum step_rc
r_line(struct pm_sieveback *b, struct pm_buf *tb)
{
	const char *s = b->text;
	size_t n = b->text_len;

	if (b->phase == PM_SIEVEBACK_PH_XCLIENT) {
		if (!status_is(s, n, b->text_cut, "OK"))
			return fail(b, "the backend refused XCLIENT");
		return send_next(b, tb, false);
	}
	if (n > 0 && s[0] == '"')
		return fail(b, "a SASL challenge after AUTHENTICATE PLAIN");
	if (status_is(s, n, b->text_cut, "OK")) {
		if (b->text_cut)
			return fail(b, "an OK line over 1 KiB");
		b->text[n] = '\0';
		return finish(b, PM_SIEVEBACK_OK, "");
	}
	if (status_is(s, n, b->text_cut, "NO")) {
		if (n >= TRYLATER_LEN && ci_prefix(s, n, TRYLATER_PREFIX)) {
			trylater_reason(b);
			b->text[b->text_len] = '\0';
			return finish(b, PM_SIEVEBACK_TEMPFAIL, "");
		}
		return finish(b, PM_SIEVEBACK_AUTHFAILED, "");
	}
	return fail(b, "the backend answered AUTHENTICATE with neither OK nor NO");
}

/* ---- the byte loop ---- */

static void
line_reset(struct pm_sieveback *b)
{
	b->cr = false;
	b->line_len = 0;
	b->g_st = G_SP;
	b->ntok = 0;
	b->kind[0] = b->kind[1] = 0;
	b->word_len = 0;
	b->tok2_len = 0;
	b->q_st = Q_START;
	b->q_end = 0;
	b->text_len = 0;
	b->text_cut = false;
	u8_reset(b);
}

/*
 * The LF of a line. The room a sending line needs is checked before anything
 * changes, so that on STEP_ROOM the LF stays unconsumed and the same call can
 * be made again.
 */
static enum step_rc
on_line(struct pm_sieveback *b, struct pm_buf *tb)
{
	/* only XCLIENT's answer and the greeting's OK send; a line whose
	 * first argument is an atom may be that OK */
	bool sends = b->phase == PM_SIEVEBACK_PH_XCLIENT ||
		     (b->phase == PM_SIEVEBACK_PH_GREETING && b->kind[0] == K_ATOM && b->sasl);
	enum step_rc rc;

	if (sends && room(tb) < PM_SIEVEBACK_BACKEND_ROOM)
		return STEP_ROOM;
	if (b->phase == PM_SIEVEBACK_PH_GREETING)
		rc = g_line(b, tb);
	else
		rc = r_line(b, tb);
	if (rc == STEP_NEXT)
		line_reset(b);
	return rc;
}

static enum step_rc
step(struct pm_sieveback *b, uint8_t c, struct pm_buf *tb)
{
	if (b->line_len >= PM_SIEVEBACK_LINE_MAX)
		return fail(b, "a backend line over 4 KiB");
	if (b->phase == PM_SIEVEBACK_PH_GREETING && b->total >= PM_SIEVEBACK_GREETING_MAX)
		return fail(b, "a backend greeting over 64 KiB");
	if (c == '\n') {
		/* counted only once the line is handled: on STEP_ROOM
		 * nothing may have changed */
		enum step_rc rc = on_line(b, tb);

		if (rc == STEP_NEXT && b->phase == PM_SIEVEBACK_PH_GREETING)
			b->total++;
		return rc;
	}
	if (b->cr)
		return fail(b, "a CR without LF from the backend");
	if (c == '\0')
		return fail(b, "a NUL from the backend");
	b->line_len++;
	if (b->phase == PM_SIEVEBACK_PH_GREETING)
		b->total++;
	if (c == '\r') {
		b->cr = true;
		return STEP_NEXT;
	}
	if (b->phase == PM_SIEVEBACK_PH_GREETING)
		return g_byte(b, c);
	r_byte(b, c);
	return STEP_NEXT;
}

/* ---- API ---- */

/* XCLIENT's arguments are atoms (client.c, cmd_xclient()). */
static bool
sid_char(int c)
{
	return !atom_bad(c);
}

int
pm_sieveback_init(struct pm_sieveback *b, const struct pm_sieveback_params *p)
{
	struct pm_backparams_creds c;
	int n;

	if (b == NULL || p == NULL)
		return -EINVAL;
	/* Only the small head needs zeroing; the buffers are written before
	 * they are read. The credentials are cleared field by field below so
	 * that a failed init leaves none of them behind. */
	memset(b, 0, offsetof(struct pm_sieveback, session_id));
	b->phase = PM_SIEVEBACK_PH_DONE;	/* until init succeeds */
	b->status = PM_SIEVEBACK_FAIL;
	b->reason = "not initialised";
	b->text[0] = '\0';
	pm_sieveback_wipe(b);
	if (p->ttl == 1)
		return -ELOOP;
	if ((n = pm_backparams_copy(b->session_id, p->session_id, PM_SIEVEBACK_SID_MAX,
				    true, sid_char)) < 0 ||
	    (n = pm_backparams_copy(b->client_ip, p->client_ip, PM_SIEVEBACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0 ||
	    (n = pm_backparams_copy(NULL, p->local_ip, PM_SIEVEBACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0)
		return n;
	c = (struct pm_backparams_creds){ b->user, b->authzid, b->password,
					  PM_SIEVEBACK_USER_MAX, PM_SIEVEBACK_PASS_MAX, 0, 0, 0 };
	if ((n = pm_backparams_creds(&c, p->user, p->authzid, p->password)) < 0)
		goto bad;
	b->user_len = c.user_len;
	b->authzid_len = c.authzid_len;
	b->pass_len = c.pass_len;
	b->client_port = p->client_port;
	b->ttl = p->ttl == 0 ? PM_SIEVEBACK_TTL_DEFAULT : p->ttl;
	line_reset(b);
	b->phase = PM_SIEVEBACK_PH_GREETING;
	b->status = PM_SIEVEBACK_AGAIN;
	b->reason = "";
	return 0;
bad:
	pm_sieveback_wipe(b);
	return n;
}

enum pm_sieveback_status
pm_sieveback_feed(struct pm_sieveback *b, const uint8_t *p, size_t n, size_t *consumed,
		  struct pm_buf *to_backend, struct pm_buf *to_client)
{
	size_t i;

	(void)to_client;
	*consumed = 0;
	if (b->status != PM_SIEVEBACK_AGAIN)
		return (enum pm_sieveback_status)b->status;
	if (!pm_buf_ok(to_backend) || (p == NULL && n > 0))
		return PM_SIEVEBACK_ERROR;
	for (i = 0; i < n; i++) {
		switch (step(b, p[i], to_backend)) {
		case STEP_NEXT:
			break;
		case STEP_ROOM:
			*consumed = i;
			return PM_SIEVEBACK_ERROR;
		case STEP_DONE:
			*consumed = i + 1;
			return (enum pm_sieveback_status)b->status;
		}
	}
	*consumed = n;
	return PM_SIEVEBACK_AGAIN;
}

enum pm_sieveback_status
pm_sieveback_closed(struct pm_sieveback *b)
{
	if (b->status == PM_SIEVEBACK_AGAIN)
		(void)fail(b, "the backend closed the connection");
	pm_sieveback_wipe(b);
	return (enum pm_sieveback_status)b->status;
}

enum pm_sieveback_phase
pm_sieveback_phase(const struct pm_sieveback *b)
{
	return (enum pm_sieveback_phase)b->phase;
}

const char *
pm_sieveback_text(const struct pm_sieveback *b)
{
	if (b->status == PM_SIEVEBACK_OK || b->status == PM_SIEVEBACK_TEMPFAIL)
		return b->text;
	return "";
}

const char *
pm_sieveback_reason(const struct pm_sieveback *b)
{
	if (b->status == PM_SIEVEBACK_FAIL || b->status == PM_SIEVEBACK_SERVERBUG)
		return b->reason;
	return "";
}
