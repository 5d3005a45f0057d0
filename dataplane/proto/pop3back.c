/*
 * pop3back.c -- the backend-side POP3 login machine (proto/pop3back.h).
 *
 * A byte loop frames the backend's lines (CRLF, bounded, no NUL) into
 * b->line; at each line's LF, on_line() advances the login phase (enum
 * pm_pop3back_phase) and writes what the phase sends. Nothing is decided
 * inside a line, so a line split across any number of feed() calls gives
 * the same result as the line in one piece. A line that sends checks its
 * room before any state changes, which is what lets PM_POP3BACK_ERROR leave
 * the LF unconsumed and the machine resumable.
 *
 * Matched against Dovecot 2.3 src/pop3-login/pop3-proxy.c:
 * proxy_send_login() (XCLIENT, USER or AUTH, pipelined) and
 * pop3_proxy_parse_line() (the per-state checks and the failure mapping).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/pop3back.h"
#include "proto/backparams.h"
#include "proto/sasl.h"

#define GENERIC_FAILURE	"Account is temporarily unavailable."

/* What step() tells the byte loop. */
enum step_rc { STEP_NEXT, STEP_DONE, STEP_ROOM };

/* ---- what we send ---- */

#define XCLIENT_MAX_LEN	(sizeof("XCLIENT ADDR= PORT= SESSION= TTL=\r\n") - 1 + \
			 PM_POP3BACK_IP_MAX + 5 + PM_POP3BACK_SID_MAX + 10)
#define USER_MAX_LEN	(sizeof("USER \r\n") - 1 + PM_POP3BACK_USER_MAX)
#define PLAIN_MAX_LEN	(sizeof("AUTH PLAIN \r\n") - 1 + \
			 PM_SASL_B64_LEN(2 * PM_POP3BACK_USER_MAX + 2 + PM_POP3BACK_PASS_MAX))
#define PASS_MAX_LEN	(sizeof("PASS \r\n") - 1 + PM_POP3BACK_PASS_MAX)
_Static_assert(XCLIENT_MAX_LEN + USER_MAX_LEN <= PM_POP3BACK_BACKEND_ROOM,
	       "the first write fits PM_POP3BACK_BACKEND_ROOM");
_Static_assert(XCLIENT_MAX_LEN + PLAIN_MAX_LEN <= PM_POP3BACK_BACKEND_ROOM,
	       "the first write fits PM_POP3BACK_BACKEND_ROOM");
_Static_assert(PASS_MAX_LEN <= PM_POP3BACK_BACKEND_ROOM, "PASS fits PM_POP3BACK_BACKEND_ROOM");

/* Callers check the room first (PM_POP3BACK_BACKEND_ROOM, more than any
 * one write needs: the asserts above); these never overflow. */
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

/* The base64 of the SASL PLAIN message authzid NUL user NUL password
 * (proto/sasl.h: read in place, no copy of it in between). */
static void
put_plain_b64(struct pm_buf *o, const struct pm_pop3back *b)
{
	const struct pm_sasl_plain_msg m = { b->authzid, b->authzid_len, b->user,
					     b->user_len, b->password, b->pass_len };

	o->len += pm_sasl_plain_encode(o->p + o->len, &m);
}

static void
wipe_password(struct pm_pop3back *b)
{
	explicit_bzero(b->password, sizeof(b->password));
	b->pass_len = 0;
}

void
pm_pop3back_wipe(struct pm_pop3back *b)
{
	wipe_password(b);
	explicit_bzero(b->user, sizeof(b->user));
	explicit_bzero(b->authzid, sizeof(b->authzid));
	b->user_len = 0;
	b->authzid_len = 0;
}

/* The result; the text is line[text_off..text_off + text_len), already
 * set by the caller (empty for FAIL and AUTHFAILED). */
static enum step_rc
finish(struct pm_pop3back *b, enum pm_pop3back_status st, const char *reason)
{
	b->status = (uint8_t)st;
	b->phase = PM_POP3BACK_PH_DONE;
	b->reason = reason;
	b->line[b->text_off + b->text_len] = '\0';
	pm_pop3back_wipe(b);
	return STEP_DONE;
}

static enum step_rc
fail(struct pm_pop3back *b, const char *reason)
{
	b->text_off = 0;
	b->text_len = 0;
	return finish(b, PM_POP3BACK_FAIL, reason);
}

/* ---- replies ---- */

/* @len bytes of the line start with the NUL-terminated @s. */
static bool
begins(const char *line, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && memcmp(line, s, n) == 0;
}

/* A positive reply: "+OK" and a space or the line's end (RFC 1939 3). */
static bool
is_ok(const struct pm_pop3back *b)
{
	return begins(b->line, b->line_len, "+OK") && (b->line_len == 3 || b->line[3] == ' ');
}

/* The reply to USER, PASS or AUTH that is not "+OK" (Dovecot's "Login
 * failed" path in pop3_proxy_parse_line()). */
static enum step_rc
login_failed(struct pm_pop3back *b)
{
	static const char code[] = "-ERR [SYS/TEMP]";
	size_t off;

	if (!begins(b->line, b->line_len, "-ERR ")) {
		b->text_off = 0;
		b->text_len = 0;
		return finish(b, PM_POP3BACK_AUTHFAILED, "");
	}
	if (!begins(b->line, b->line_len, code)) {
		b->text_off = 5;
		b->text_len = (uint16_t)(b->line_len - 5);
		return finish(b, PM_POP3BACK_VERBATIM, "");
	}
	off = sizeof(code) - 1;
	if (off < b->line_len && b->line[off] == ' ')
		off++;
	if (off == b->line_len) {
		memcpy(b->line, GENERIC_FAILURE, sizeof(GENERIC_FAILURE));
		b->text_off = 0;
		b->text_len = (uint16_t)(sizeof(GENERIC_FAILURE) - 1);
	} else {
		b->text_off = (uint16_t)off;
		b->text_len = (uint16_t)(b->line_len - off);
	}
	return finish(b, PM_POP3BACK_TEMPFAIL, "");
}

/* The banner was "+OK": [XCLIENT] and the login's first command. */
static void
send_login(struct pm_pop3back *b, struct pm_buf *o)
{
	bool xclient = begins(b->line, b->line_len, "+OK [XCLIENT]");

	if (xclient) {
		/* Dovecot's proxy_send_login(), field order as verified. */
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
	if (b->plain) {
		puts_(o, "AUTH PLAIN ");
		put_plain_b64(o, b);
		puts_(o, "\r\n");
		wipe_password(b);
		b->phase = xclient ? PM_POP3BACK_PH_XCLIENT : PM_POP3BACK_PH_LOGIN;
	} else {
		puts_(o, "USER ");
		put(o, b->user, b->user_len);
		puts_(o, "\r\n");
		b->phase = xclient ? PM_POP3BACK_PH_XCLIENT : PM_POP3BACK_PH_USER;
	}
}

static size_t
room(const struct pm_buf *o)
{
	return pm_buf_room(o);
}

/*
 * A whole line was read (its LF is the current byte). Check the room its
 * action needs before changing anything: on STEP_ROOM the LF stays
 * unconsumed and the same call can be made again.
 */
static enum step_rc
on_line(struct pm_pop3back *b, struct pm_buf *tb)
{
	bool ok = is_ok(b);
	bool sends = ok && (b->phase == PM_POP3BACK_PH_BANNER || b->phase == PM_POP3BACK_PH_USER);

	if (sends && room(tb) < PM_POP3BACK_BACKEND_ROOM)
		return STEP_ROOM;
	b->cr = false;
	switch (b->phase) {
	case PM_POP3BACK_PH_BANNER:
		if (!ok)
			return fail(b, "invalid banner");
		send_login(b, tb);
		break;
	case PM_POP3BACK_PH_XCLIENT:
		if (!ok)
			return fail(b, "XCLIENT failed");
		b->phase = b->plain ? PM_POP3BACK_PH_LOGIN : PM_POP3BACK_PH_USER;
		break;
	case PM_POP3BACK_PH_USER:
		if (!ok)
			return login_failed(b);
		puts_(tb, "PASS ");
		put(tb, b->password, b->pass_len);
		puts_(tb, "\r\n");
		wipe_password(b);
		b->phase = PM_POP3BACK_PH_LOGIN;
		break;
	default:		/* PM_POP3BACK_PH_LOGIN */
		if (ok) {
			b->text_off = b->line_len > 3 ? 4 : 3;
			b->text_len = (uint16_t)(b->line_len - b->text_off);
			return finish(b, PM_POP3BACK_OK, "");
		}
		if (b->plain && begins(b->line, b->line_len, "+ "))
			return fail(b, "a SASL challenge after the whole PLAIN message");
		return login_failed(b);
	}
	b->line_len = 0;
	return STEP_NEXT;
}

static enum step_rc
step(struct pm_pop3back *b, uint8_t c, struct pm_buf *tb)
{
	if (b->cr) {
		if (c != '\n')
			return fail(b, "a CR without LF");
		return on_line(b, tb);
	}
	if (c == '\r') {
		b->cr = true;
		return STEP_NEXT;
	}
	if (c == '\n')
		return fail(b, "a LF without CR");
	if (c == '\0')
		return fail(b, "a NUL in a line");
	/* the line, CRLF included, must fit PM_POP3BACK_LINE_MAX */
	if (b->line_len >= PM_POP3BACK_LINE_MAX - 2)
		return fail(b, "a line over 4 KiB");
	b->line[b->line_len++] = (char)c;
	return STEP_NEXT;
}

/* ---- API ---- */

/* XCLIENT splits its arguments on spaces. */
static bool
sid_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static bool
has_crlf(const char *s, size_t len)
{
	return memchr(s, '\r', len) != NULL || memchr(s, '\n', len) != NULL;
}

int
pm_pop3back_init(struct pm_pop3back *b, const struct pm_pop3back_params *p)
{
	struct pm_backparams_creds c;
	int n;

	if (b == NULL || p == NULL)
		return -EINVAL;
	/* Only the small head needs zeroing; the line is written before it
	 * is read. The credentials are cleared below so that a failed init
	 * leaves none of them behind. */
	memset(b, 0, offsetof(struct pm_pop3back, session_id));
	b->phase = PM_POP3BACK_PH_DONE;		/* until init succeeds */
	b->status = PM_POP3BACK_FAIL;
	b->reason = "not initialised";
	b->line[0] = '\0';
	pm_pop3back_wipe(b);
	if (p->ttl == 1)
		return -ELOOP;
	if ((n = pm_backparams_copy(b->session_id, p->session_id, PM_POP3BACK_SID_MAX,
				    true, sid_char)) < 0 ||
	    (n = pm_backparams_copy(b->client_ip, p->client_ip, PM_POP3BACK_IP_MAX,
				    true, pm_backparams_ip_char)) < 0 ||
	    (n = pm_backparams_copy(NULL, p->local_ip, PM_POP3BACK_IP_MAX,
				    false, pm_backparams_ip_char)) < 0)
		return n;
	c = (struct pm_backparams_creds){ b->user, b->authzid, b->password,
					  PM_POP3BACK_USER_MAX, PM_POP3BACK_PASS_MAX, 0, 0, 0 };
	if ((n = pm_backparams_creds(&c, p->user, p->authzid, p->password)) < 0)
		goto bad;
	b->user_len = c.user_len;
	b->authzid_len = c.authzid_len;
	b->pass_len = c.pass_len;
	b->plain = b->authzid_len > 0 || has_crlf(b->user, b->user_len) ||
		   has_crlf(b->password, b->pass_len);
	b->client_port = p->client_port;
	b->ttl = p->ttl == 0 ? PM_POP3BACK_TTL_DEFAULT : p->ttl;
	b->phase = PM_POP3BACK_PH_BANNER;
	b->status = PM_POP3BACK_AGAIN;
	b->reason = "";
	return 0;
bad:
	pm_pop3back_wipe(b);
	return n;
}

enum pm_pop3back_status
pm_pop3back_feed(struct pm_pop3back *b, const uint8_t *p, size_t n, size_t *consumed,
		 struct pm_buf *to_backend, struct pm_buf *to_client)
{
	size_t i;

	(void)to_client;	/* nothing goes to the client before the result */
	*consumed = 0;
	if (b->status != PM_POP3BACK_AGAIN)
		return (enum pm_pop3back_status)b->status;
	if (!pm_buf_ok(to_backend) || (p == NULL && n > 0))
		return PM_POP3BACK_ERROR;
	for (i = 0; i < n; i++) {
		switch (step(b, p[i], to_backend)) {
		case STEP_NEXT:
			break;
		case STEP_ROOM:
			*consumed = i;
			return PM_POP3BACK_ERROR;
		case STEP_DONE:
			*consumed = i + 1;
			return (enum pm_pop3back_status)b->status;
		}
	}
	*consumed = n;
	return PM_POP3BACK_AGAIN;
}

enum pm_pop3back_status
pm_pop3back_closed(struct pm_pop3back *b)
{
	if (b->status == PM_POP3BACK_AGAIN)
		(void)fail(b, "the backend closed the connection");
	pm_pop3back_wipe(b);
	return (enum pm_pop3back_status)b->status;
}

enum pm_pop3back_phase
pm_pop3back_phase(const struct pm_pop3back *b)
{
	return (enum pm_pop3back_phase)b->phase;
}

const char *
pm_pop3back_text(const struct pm_pop3back *b)
{
	switch (b->status) {
	case PM_POP3BACK_OK:
	case PM_POP3BACK_TEMPFAIL:
	case PM_POP3BACK_VERBATIM:
		return b->line + b->text_off;
	default:
		return "";
	}
}

const char *
pm_pop3back_reason(const struct pm_pop3back *b)
{
	if (b->status == PM_POP3BACK_FAIL)
		return b->reason;
	return "";
}
