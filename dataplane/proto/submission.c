/*
 * submission.c -- the client-facing Submission pre-authentication machine
 * (proto/submission.h).
 *
 * One byte at a time: step() checks the line budget, then lex() runs the
 * byte through the lexer state in m->st. Parameter bytes go to arg_byte(),
 * which keeps what the command of the line needs (the HELO/EHLO domain, the
 * NOOP string's syntax state, the AUTH mechanism and the decoded initial
 * response); SASL response bytes go to resp_byte(). Both update m->a, and
 * after every byte that is not SP or HT the machine copies m->a to m->snap.
 * At the end of the line m->a is set back to m->snap: that drops exactly
 * what the trailing blanks did, which is how lib-smtp's parser trims them
 * before anything looks at the parameters.
 *
 * Atomicity: every reply is appended in one all-or-nothing append before
 * the state it answers is left, and what a byte did before its reply is
 * either idempotent (the snapshot restore, the checks) or undone (the line
 * count in step()). So when out has no room (R_NOSPC) the caller can feed
 * the same byte again later.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/sasl.h"
#include "proto/submission.h"
#include "proto/utf8.h"

/* Lexer states (m->st). */
enum {
	ST_NAME,	/* the command name */
	ST_PARAMS,	/* parameters */
	ST_UTF8,	/* inside a UTF-8 sequence in the parameters */
	ST_CR,		/* CR at the end of a command line: LF must follow */
	ST_SKIP,	/* an answered error: skip to LF */
	ST_RESP,	/* a SASL response line */
	ST_RESP_CR,	/* CR at the end of a response line */
};

/* Commands (m->cmd). */
enum {
	C_UNKNOWN,
	C_EHLO,
	C_HELO,
	C_NOOP,
	C_RSET,
	C_QUIT,
	C_AUTH,
	C_NEEDAUTH,	/* MAIL, RCPT, DATA, BDAT, VRFY */
	C_STARTTLS,
	C_XCLIENT,
};

/* AUTH exchange (m->step). */
enum { S_NONE, S_PLAIN, S_LOGIN_USER, S_LOGIN_PASS };

/* AUTH mechanism (from m->mech). */
enum { MECH_OTHER, MECH_PLAIN, MECH_LOGIN };

/* NOOP string parameter (m->a.sub), as smtp_parser_parse_string(). */
enum {
	NS_START,
	NS_ATOM,
	NS_QUOTED,
	NS_QPAIR,
	NS_END,		/* after the closing quote */
	NS_ERR_CHAR,	/* errors are final */
	NS_ERR_QCHAR,
	NS_ERR_QPAIR,
};

/* Per-line flags (m->a.flags). */
#define A_FIRST_SP	0x0001u	/* the first parameter byte was SP */
#define A_NONBLANK	0x0002u	/* a parameter byte other than SP and HT */
#define A_DOM_OVER	0x0004u	/* HELO/EHLO parameter longer than m->dom */
#define A_B64_CHAR	0x0008u	/* a byte outside the base64 alphabet and '=' */
#define A_OVER		0x0020u	/* a decoded LOGIN field over its bound */
#define A_NUL		0x0040u	/* LOGIN: a NUL in the decoded field */
#define A_FIRST_STAR	0x0080u	/* the response (token) starts with '*' */
#define A_FIRST_EQ	0x0100u	/* the initial response (token) starts with '=' */
#define A_TOKENS	0x0200u	/* AUTH: a third parameter */

/* step() results. */
enum { R_CONT, R_LOGIN, R_CLOSE, R_NOSPC };

#define DOM_CAP		(PM_SUBMISSION_DOMAIN_MAX + 1u)	/* bytes kept of a HELO parameter */

/* Texts (see proto/submission.h for where each one was seen). */
#define T_UNKNOWN	"500 5.5.1 Unknown command"
#define T_SYNTAX	"500 5.5.2 Invalid command syntax"
#define T_TOO_LONG	"500 5.5.2 Line too long"
#define T_RESP_SYNTAX	"500 5.5.2 Invalid AUTH response syntax"
#define T_NO_HOST	"501 Missing hostname"
#define T_BAD_PARAMS	"501 5.5.4 Invalid parameters"
#define T_NO_MECH	"501 5.5.4 Missing SASL mechanism parameter"
#define T_ABORTED	"501 5.5.2 Authentication aborted by client."
#define T_B64_IR	"501 5.5.2 Invalid base64 data in initial response"
#define T_B64_CONT	"501 5.5.2 Invalid base64 data in continued response"
#define T_B64_CHARS	"535 5.7.8 Invalid base64 in response"
#define T_AUTHFAILED	"535 5.7.8 Authentication failed."
#define T_MECH		"504 5.5.4 Unsupported authentication mechanism."
#define T_OK		"250 2.0.0 OK"
#define T_BYE		"221 2.0.0 Bye"
#define T_NEED_AUTH	"530 5.7.0 Authentication required."
#define T_NO_TLS	"502 5.5.1 TLS support is not enabled."
#define T_XCLIENT	"550 5.7.14 You are not from trusted IP"
#define T_LOGGED_IN	"235 2.7.0 Logged in."
#define T_NOOP_PREFIX	"501 5.5.4 Invalid string parameter: "

static const char *const default_ehlo[] = {
	"8BITMIME", "AUTH PLAIN LOGIN", "BURL imap", "CHUNKING", "ENHANCEDSTATUSCODES", "SIZE",
	"PIPELINING", NULL,
};

/* The largest reply: the EHLO one with every keyword line at its bound. */
_Static_assert(4u + PM_SUBMISSION_DOMAIN_MAX + 2u +
		       PM_SUBMISSION_EHLO_MAX * (4u + PM_SUBMISSION_KEYWORD_MAX + 2u) <=
	       PM_SUBMISSION_OUT_MIN, "the EHLO reply fits PM_SUBMISSION_OUT_MIN");
_Static_assert(4u + PM_SUBMISSION_DOMAIN_MAX + 1u + PM_SUBMISSION_TEXT_MAX + 2u <=
	       PM_SUBMISSION_OUT_MIN, "the greeting fits PM_SUBMISSION_OUT_MIN");
_Static_assert(PM_SUBMISSION_TEXT_MAX + 2u + sizeof("421 4.7.0 ") + PM_SUBMISSION_DOMAIN_MAX +
		       sizeof(" Too many invalid commands.\r\n") <= PM_SUBMISSION_OUT_MIN,
	       "a login reply fits PM_SUBMISSION_OUT_MIN");
_Static_assert(PM_SUBMISSION_AUTH_LINE_MAX < UINT16_MAX && PM_SUBMISSION_LINE_MAX < UINT16_MAX,
	       "line counters are 16 bits");

/* ---- output -------------------------------------------------------------- */

/* ---- state resets --------------------------------------------------------- */

/* Forget the secrets of the exchange in progress. */
static void
wipe_secrets(struct pm_submission *m)
{
	explicit_bzero(m->lg.pass, sizeof(m->lg.pass));
	m->lg.pass_len = 0;
	/* the accumulators only: unlike the other machines, the position in
	 * the quad stays (pm_sasl_b64_wipe() would reset it) */
	explicit_bzero(&m->a.b64.acc, sizeof(m->a.b64.acc));
	explicit_bzero(&m->snap.b64.acc, sizeof(m->snap.b64.acc));
	m->a.pass_len = 0;
	m->snap.pass_len = 0;
}

static void
arg_reset(struct pm_submission *m)
{
	memset(&m->a, 0, sizeof(m->a));
	m->snap = m->a;
}

/* Ready for the next command line. */
static void
lexer_reset(struct pm_submission *m)
{
	m->st = ST_NAME;
	m->line_len = 0;
	m->cmd = C_UNKNOWN;
	m->name_len = 0;
	pm_utf8_reset(&m->u8);
	arg_reset(m);
}

/* The AUTH exchange is over without a login: forget it. */
static void
auth_end(struct pm_submission *m)
{
	wipe_secrets(m);
	m->step = S_NONE;
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	m->lg.user[0] = '\0';
	m->lg.authzid[0] = '\0';
	m->mech[0] = '\0';
}

/* ---- final replies and the bad command count --------------------------------- */

/* Append the 421 line and close (replaces the reply that was one too many). */
static int
too_many(struct pm_submission *m, struct pm_buf *out)
{
	struct pm_buf_piece v[] = { PM_BUF_PIECE("421 4.7.0 "), pm_buf_piece_str(m->p.hostname),
			     PM_BUF_PIECE(" Too many invalid commands."), PM_BUF_CRLF };

	if (pm_buf_append_pieces(out, v, 4) < 0)
		return R_NOSPC;
	if (m->bad < UINT32_MAX)
		m->bad++;
	auth_end(m);
	m->phase = PM_SUBMISSION_PHASE_CLOSED;
	return R_CLOSE;
}

/* The status code of a reply line ("500 ..."): 500, 501 and 503 are bad
 * (smtp_server_command_submit_reply()). */
static bool
code_is_bad(const char *text)
{
	return text[0] == '5' && text[1] == '0' && (text[2] == '0' || text[2] == '1' ||
						     text[2] == '3');
}

/* Append the final reply @text for the current command and account for it:
 * a bad reply counts (and the one too many closes instead), any other
 * resets the count. Does not touch the lexer. */
static int
final(struct pm_submission *m, struct pm_buf *out, const char *text)
{
	if (code_is_bad(text)) {
		if (m->bad >= m->p.max_bad)
			return too_many(m, out);
		if (pm_buf_append_line(out, text) < 0)
			return R_NOSPC;
		m->bad++;
		return R_CONT;
	}
	if (pm_buf_append_line(out, text) < 0)
		return R_NOSPC;
	m->bad = 0;
	return R_CONT;
}

/* Answer the line with @text and go on with the next one. An AUTH line or
 * exchange answered so ends: its partly decoded secrets go. */
static int
answer(struct pm_submission *m, struct pm_buf *out, const char *text)
{
	int r = final(m, out, text);

	if (r != R_CONT)
		return r;
	if (m->step != S_NONE || m->cmd == C_AUTH)
		auth_end(m);
	lexer_reset(m);
	return R_CONT;
}

/* An error seen at byte @c: answer now, then skip the rest of the line
 * (nothing to skip if @c, an LF, ended it). */
static int
error_at(struct pm_submission *m, uint8_t c, struct pm_buf *out, const char *text)
{
	int r = final(m, out, text);

	if (r != R_CONT)
		return r;
	if (m->step != S_NONE || m->cmd == C_AUTH)
		auth_end(m);	/* the AUTH command is answered */
	if (c == '\n') {
		lexer_reset(m);
	} else {
		m->st = ST_SKIP;
		arg_reset(m);
	}
	return R_CONT;
}

/* ---- small helpers --------------------------------------------------------- */

static uint8_t
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

static bool
is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(uint8_t c)
{
	return is_alpha(c) || is_digit(c);
}

/* atext (RFC 5321 4.1.2, smtp-parser.c) */
static bool
is_atext(uint8_t c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
static bool
is_qtext(uint8_t c)
{
	return (c >= 0x20 && c <= 0x7e) && c != '"' && c != '\\';
}

static int
command_lookup(const struct pm_submission *m)
{
	static const struct {
		const char *name;
		int cmd;
	} tab[] = {
		{ "EHLO", C_EHLO },	{ "HELO", C_HELO },	    { "NOOP", C_NOOP },
		{ "RSET", C_RSET },	{ "QUIT", C_QUIT },	    { "AUTH", C_AUTH },
		{ "MAIL", C_NEEDAUTH }, { "RCPT", C_NEEDAUTH },	    { "DATA", C_NEEDAUTH },
		{ "BDAT", C_NEEDAUTH }, { "VRFY", C_NEEDAUTH },	    { "STARTTLS", C_STARTTLS },
		{ "XCLIENT", C_XCLIENT },
	};
	size_t i;

	if (m->name_len > 8)
		return C_UNKNOWN;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == m->name_len &&
		    memcmp(tab[i].name, m->name, m->name_len) == 0)
			return tab[i].cmd;
	return C_UNKNOWN;
}

static int
mech_id(const struct pm_submission *m)
{
	if (m->a.mech_len == 5 && memcmp(m->mech, "PLAIN", 5) == 0)
		return MECH_PLAIN;
	if (m->a.mech_len == 5 && memcmp(m->mech, "LOGIN", 5) == 0)
		return MECH_LOGIN;
	return MECH_OTHER;
}

/* ---- SASL: base64 and the mechanisms (proto/sasl.h) -------------------------- */

/* The login fields a PLAIN message is split into (their lengths are the
 * line's, in m->a, until the login commits them). */
static struct pm_sasl_plain_fields
plain_fields(struct pm_submission *m)
{
	struct pm_sasl_plain_fields f = {
		{ m->lg.authzid, &m->a.authzid_len, PM_SUBMISSION_USER_MAX },
		{ m->lg.user, &m->a.user_len, PM_SUBMISSION_USER_MAX },
		{ m->lg.pass, &m->a.pass_len, PM_SUBMISSION_PASS_MAX },
	};

	return f;
}

/* One decoded byte, into the field the exchange fills. */
static void
sasl_byte(struct pm_submission *m, int target, uint8_t b)
{
	struct pm_submission_arg *a = &m->a;
	struct pm_sasl_plain_fields f;
	int rc;

	if (target == S_LOGIN_USER || target == S_LOGIN_PASS) {
		if (b == 0) {
			a->flags |= A_NUL;
			return;
		}
		if (target == S_LOGIN_USER)
			rc = pm_sasl_field_put(m->lg.user, &a->user_len, PM_SUBMISSION_USER_MAX, b);
		else
			rc = pm_sasl_field_put(m->lg.pass, &a->pass_len, PM_SUBMISSION_PASS_MAX, b);
		if (rc < 0)
			a->flags |= A_OVER;
		return;
	}
	f = plain_fields(m);
	pm_sasl_plain_put(&a->plain, &f, b);
}

/* One base64 character for @target. A byte outside the alphabet and '=' is
 * A_B64_CHAR (Dovecot's "Invalid base64 in response") and stops the
 * decoding, as the decoder's own verdict does. */
static void
b64_feed(struct pm_submission *m, int target, uint8_t c)
{
	struct pm_submission_arg *a = &m->a;
	unsigned int i, n;
	uint8_t dec[3];

	if (!pm_sasl_b64_char(c)) {
		a->flags |= A_B64_CHAR;
		return;
	}
	if (a->flags & A_B64_CHAR)
		return;
	n = pm_sasl_b64_feed(&a->b64, c, dec);
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		sasl_byte(m, target, dec[i]);
	explicit_bzero(dec, sizeof(dec));
}

static bool
b64_ok(const struct pm_submission_arg *a)
{
	return !(a->flags & A_B64_CHAR) && pm_sasl_b64_complete(&a->b64);
}

/* The decoded fields become the login's. */
static void
commit_fields(struct pm_submission *m)
{
	m->lg.user_len = m->a.user_len;
	m->lg.authzid_len = m->a.authzid_len;
	m->lg.pass_len = m->a.pass_len;
	m->lg.user[m->lg.user_len] = '\0';
	m->lg.authzid[m->lg.authzid_len] = '\0';
	m->lg.pass[m->lg.pass_len] = '\0';
}

/* A complete login. */
static int
login(struct pm_submission *m, int mech, bool ir)
{
	commit_fields(m);
	m->lg.mech = mech == MECH_PLAIN ? PM_SUBMISSION_MECH_PLAIN : PM_SUBMISSION_MECH_LOGIN;
	if (mech == MECH_PLAIN)
		m->lg.sasl_ir = ir;	/* LOGIN: set when the user arrived */
	explicit_bzero(&m->a.b64.acc, sizeof(m->a.b64.acc));
	explicit_bzero(&m->snap.b64.acc, sizeof(m->snap.b64.acc));
	m->step = S_NONE;
	lexer_reset(m);
	m->phase = PM_SUBMISSION_PHASE_LOGIN;
	return R_LOGIN;
}

/* The decoded PLAIN message is complete and valid base64. */
static int
plain_finish(struct pm_submission *m, struct pm_buf *out, bool ir)
{
	struct pm_sasl_plain_fields f = plain_fields(m);

	/* mech-plain.c (pm_sasl_plain_finish()): anything but a valid
	 * message fails as a bad password would */
	if (pm_sasl_plain_finish(&m->a.plain, &f) < 0)
		return answer(m, out, T_AUTHFAILED);
	return login(m, MECH_PLAIN, ir);
}

/* Start reading a SASL response line for @step after the 334 was sent. */
static void
resp_start(struct pm_submission *m, uint8_t step)
{
	uint16_t user_len = m->a.user_len;

	arg_reset(m);
	if (step == S_LOGIN_PASS)
		m->a.user_len = user_len;	/* the user stays */
	m->snap = m->a;
	m->step = step;
	m->st = ST_RESP;
	m->line_len = 0;
}

/* Send a 334 challenge and read the response to it. */
static int
challenge(struct pm_submission *m, struct pm_buf *out, const char *text, uint8_t step)
{
	if (pm_buf_append_line(out, text) < 0)
		return R_NOSPC;
	resp_start(m, step);
	return R_CONT;
}

/* The LOGIN user name is decoded (from the initial response if @ir). */
static int
login_user_done(struct pm_submission *m, struct pm_buf *out, bool ir)
{
	struct pm_submission_arg *a = &m->a;

	/* mech-login.c refuses an empty user or one with a NUL at once
	 * (verified: no password prompt follows) */
	if ((a->flags & (A_NUL | A_OVER)) || a->user_len == 0)
		return answer(m, out, T_AUTHFAILED);
	if (challenge(m, out, "334 UGFzc3dvcmQ6", S_LOGIN_PASS) == R_NOSPC)
		return R_NOSPC;
	m->lg.sasl_ir = ir;
	return R_CONT;
}

/* ---- the HELO/EHLO domain (smtp_helo_domain_parse()) ----------------------- */

static bool
dom_char(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

/* dcontent: %d33-90 / %d94-126 */
static bool
dcontent(uint8_t c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/* Domain = sub-domain *("." sub-domain), sub-domains of letters, digits,
 * '-' and '_' (smtp_parser_parse_domain(), lenient). 0 if @s does not start
 * like one, -1 if it is malformed, 1 with *end set. */
static int
parse_domain(const char *s, size_t n, size_t *end)
{
	size_t i = 0;

	if (n == 0 || !dom_char((uint8_t)s[0]))
		return 0;
	for (;;) {
		if (i >= n || s[i] == '.' || !dom_char((uint8_t)s[i]))
			return -1;	/* an empty sub-domain or a bad byte */
		while (i < n && dom_char((uint8_t)s[i]))
			i++;
		if (i >= n || s[i] != '.')
			break;
		i++;
	}
	*end = i;
	return 1;
}

/* Snum: digits for 0..255 (smtp_parser_parse_snum()). */
static int
parse_snum(const char *s, size_t n, size_t *i)
{
	unsigned int v = 0;

	if (*i >= n || !is_digit((uint8_t)s[*i]))
		return 0;
	while (*i < n && is_digit((uint8_t)s[*i])) {
		v = v * 10 + (unsigned int)(s[*i] - '0');
		if (v > 255)
			return -1;
		(*i)++;
	}
	return 1;
}

/* address-literal (smtp_parser_parse_address_literal()): [IPv4],
 * [IPv6:addr] or [tag:dcontent]. -1 if malformed, 1 with *end set. */
static int
parse_literal(const char *s, size_t n, size_t *end)
{
	size_t i = 1, j, tag_end, start;
	char tmp[DOM_CAP + 1];
	struct in6_addr a6;
	int k;

	if (i < n && is_digit((uint8_t)s[i])) {
		if (parse_snum(s, n, &i) <= 0)
			return -1;
		for (k = 0; k < 3 && i < n; k++) {
			if (s[i] != '.')
				return -1;
			i++;
			if (parse_snum(s, n, &i) <= 0)
				return -1;
		}
	} else {
		/* Standardized-tag = Ldh-str, ending in a letter or digit */
		tag_end = 0;
		for (j = i; j < n && (is_alnum((uint8_t)s[j]) || s[j] == '-'); j++)
			if (is_alnum((uint8_t)s[j]))
				tag_end = j + 1;
		if (tag_end == 0)
			return -1;
		i = tag_end;
		if (i >= n || s[i] != ':')
			return -1;
		i++;
		start = i;
		while (i < n && dcontent((uint8_t)s[i]))
			i++;
		if (i == start)
			return -1;
		if (tag_end - 1 == 4 && (s[1] == 'I' || s[1] == 'i') &&
		    (s[2] == 'P' || s[2] == 'p') && (s[3] == 'V' || s[3] == 'v') && s[4] == '6') {
			memcpy(tmp, s + start, i - start);
			tmp[i - start] = '\0';
			if (inet_pton(AF_INET6, tmp, &a6) != 1)
				return -1;
		}
	}
	if (i >= n || s[i] != ']')
		return -1;
	*end = i + 1;
	return 1;
}

/*
 * Is the (trimmed) parameter @s of @n bytes a valid HELO (@ehlo false) or
 * EHLO domain? @over: more non-blank bytes followed that were not kept.
 * Sets *dlen to the domain's length (a prefix of @s).
 */
static bool
helo_domain(const char *s, size_t n, bool over, bool ehlo, size_t *dlen)
{
	size_t end = 0;
	int r = parse_domain(s, n, &end);

	if (r == 0 && ehlo && n > 0 && s[0] == '[')
		r = parse_literal(s, n, &end);
	if (r <= 0)
		return false;
	/* then the end, or SP and anything (smtp_helo_domain_parse()); what
	 * reaches the end of the kept bytes is over our bound */
	if (end < n ? s[end] != ' ' : over)
		return false;
	if (end > PM_SUBMISSION_DOMAIN_MAX)
		return false;
	*dlen = end;
	return true;
}

/* ---- the argument consumer -------------------------------------------------- */

/* The NOOP string parameter: Atom / Quoted-string (smtp_string_parse()). */
static void
noop_byte(struct pm_submission_arg *a, uint8_t c)
{
	switch (a->sub) {
	case NS_START:
		if (c == '"')
			a->sub = NS_QUOTED;
		else
			a->sub = is_atext(c) ? NS_ATOM : NS_ERR_CHAR;
		break;
	case NS_ATOM:
		if (!is_atext(c))
			a->sub = NS_ERR_CHAR;
		break;
	case NS_QUOTED:
		if (c == '\\')
			a->sub = NS_QPAIR;
		else if (c == '"')
			a->sub = NS_END;
		else if (!is_qtext(c))
			a->sub = NS_ERR_QCHAR;
		break;
	case NS_QPAIR:
		a->sub = c >= 0x20 && c <= 0x7e ? NS_QUOTED : NS_ERR_QPAIR;
		break;
	case NS_END:
		a->sub = NS_ERR_CHAR;
		break;
	default:
		break;		/* an error is final */
	}
}

/* The AUTH parameters: mechanism [SP initial-response] (t_strsplit(" ")). */
static void
auth_byte(struct pm_submission *m, uint8_t c)
{
	struct pm_submission_arg *a = &m->a;
	int mech;

	if (c == ' ') {
		if (a->tok == 0) {
			a->tok = 1;
		} else {
			a->tok = 2;
			a->flags |= A_TOKENS;
		}
		return;
	}
	if (a->tok == 0) {
		if (a->mech_len < sizeof(m->mech))
			m->mech[a->mech_len] = (char)upper(c);
		if (a->mech_len < UINT8_MAX)
			a->mech_len++;
		return;
	}
	if (a->tok != 1)
		return;
	mech = mech_id(m);
	if (a->sub == 0) {
		/* the first byte of the initial response */
		a->sub = 1;
		if (c == '=')
			a->flags |= A_FIRST_EQ;
	} else {
		a->flags &= ~A_FIRST_EQ;	/* "=" must be alone */
	}
	if (mech == MECH_PLAIN)
		b64_feed(m, S_PLAIN, c);
	else if (mech == MECH_LOGIN)
		b64_feed(m, S_LOGIN_USER, c);
}

/* A parameter byte (HT, SP, printable ASCII or part of a UTF-8 sequence). */
static void
arg_byte(struct pm_submission *m, uint8_t c)
{
	struct pm_submission_arg *a = &m->a;

	if (a->n == 0 && c == ' ')
		a->flags |= A_FIRST_SP;
	switch (m->cmd) {
	case C_EHLO:
	case C_HELO:
		if (a->dom_len < DOM_CAP)
			m->dom[a->dom_len++] = (char)c;
		else
			a->flags |= A_DOM_OVER;
		break;
	case C_NOOP:
		noop_byte(a, c);
		break;
	case C_AUTH:
		auth_byte(m, c);
		break;
	default:
		break;		/* checked for being empty only, or ignored */
	}
	if (a->n < UINT16_MAX)
		a->n++;
	if (c != ' ' && c != '\t') {
		a->flags |= A_NONBLANK;
		m->snap = *a;
	}
}

/* A SASL response byte (HT or printable ASCII). */
static void
resp_byte(struct pm_submission *m, uint8_t c)
{
	struct pm_submission_arg *a = &m->a;

	if (a->n == 0 && c == '*')
		a->flags |= A_FIRST_STAR;
	if (a->n < UINT16_MAX)
		a->n++;
	b64_feed(m, m->step, c);
	if (c != ' ' && c != '\t')
		m->snap = *a;
}

/* ---- end of a line ---------------------------------------------------------- */

static int
ehlo_reply(struct pm_submission *m, struct pm_buf *out)
{
	const char *const *k = m->p.ehlo;
	size_t need, i, cnt = 0;

	while (k[cnt] != NULL)
		cnt++;
	need = 4 + strlen(m->p.hostname) + 2;
	for (i = 0; i < cnt; i++)
		need += 4 + strlen(k[i]) + 2;
	if (pm_buf_room(out) < need)
		return -ENOSPC;
	pm_buf_append_str(out, cnt > 0 ? "250-" : "250 ");
	pm_buf_append_str(out, m->p.hostname);
	pm_buf_append_str(out, "\r\n");
	for (i = 0; i < cnt; i++) {
		pm_buf_append_str(out, i + 1 < cnt ? "250-" : "250 ");
		pm_buf_append_str(out, k[i]);
		pm_buf_append_str(out, "\r\n");
	}
	return 0;
}

/* HELO or EHLO with a parameter: 250, and the domain is remembered. */
static int
helo_line_end(struct pm_submission *m, struct pm_buf *out)
{
	bool ehlo = m->cmd == C_EHLO, valid;
	size_t dlen = 0;
	int rc;

	valid = helo_domain(m->dom, m->a.dom_len, (m->a.flags & A_DOM_OVER) != 0, ehlo, &dlen);
	if (ehlo) {
		rc = ehlo_reply(m, out);
	} else {
		struct pm_buf_piece v[] = { PM_BUF_PIECE("250 "), pm_buf_piece_str(m->p.hostname),
					    PM_BUF_CRLF };

		rc = pm_buf_append_pieces(out, v, 3);
	}
	if (rc < 0)
		return R_NOSPC;
	m->bad = 0;
	m->helo_valid = valid;
	m->helo_len = (uint16_t)(valid ? dlen : 0);
	if (valid)
		memcpy(m->helo, m->dom, dlen);
	m->helo[m->helo_len] = '\0';
	m->greeting = ehlo ? PM_SUBMISSION_GREETING_EHLO : PM_SUBMISSION_GREETING_HELO;
	lexer_reset(m);
	return R_CONT;
}

static int
noop_line_end(struct pm_submission *m, struct pm_buf *out)
{
	const char *why;
	struct pm_buf_piece v[3];
	int r;

	switch (m->a.sub) {
	case NS_START:
	case NS_ATOM:
	case NS_END:
		return answer(m, out, T_OK);
	case NS_QUOTED:
		why = "Premature end of quoted string";
		break;
	case NS_QPAIR:
	case NS_ERR_QPAIR:
		why = "Invalid character after '\\' in quoted string";
		break;
	case NS_ERR_QCHAR:
		why = "Invalid character in quoted string";
		break;
	default:
		why = "Invalid character in string";
		break;
	}
	if (m->bad >= m->p.max_bad)
		return too_many(m, out);
	v[0] = pm_buf_piece_str(T_NOOP_PREFIX);
	v[1] = pm_buf_piece_str(why);
	v[2] = pm_buf_piece_str("\r\n");
	r = pm_buf_append_pieces(out, v, 3);
	if (r < 0)
		return R_NOSPC;
	m->bad++;
	lexer_reset(m);
	return R_CONT;
}

/* The LF of "AUTH <params>". */
static int
auth_line_end(struct pm_submission *m, struct pm_buf *out)
{
	struct pm_submission_arg *a = &m->a;
	int mech;

	if (!(a->flags & A_NONBLANK))
		return answer(m, out, T_NO_MECH);
	if (a->flags & A_TOKENS)
		return answer(m, out, T_BAD_PARAMS);
	mech = mech_id(m);
	if (mech == MECH_OTHER)
		return answer(m, out, T_MECH);
	if (a->tok == 0) {
		/* no initial response: an empty challenge for PLAIN,
		 * "Username:" for LOGIN */
		if (mech == MECH_PLAIN)
			return challenge(m, out, "334 ", S_PLAIN);
		return challenge(m, out, "334 VXNlcm5hbWU6", S_LOGIN_USER);
	}
	if (a->flags & A_FIRST_EQ) {
		/* "=": an empty initial response (RFC 4954 4) */
		if (mech == MECH_PLAIN)
			return answer(m, out, T_AUTHFAILED);
		return challenge(m, out, "334 VXNlcm5hbWU6", S_LOGIN_USER);
	}
	if (!b64_ok(a))
		return answer(m, out, T_B64_IR);
	if (mech == MECH_PLAIN)
		return plain_finish(m, out, true);
	return login_user_done(m, out, true);
}

/* The LF of a command line (CR and trailing blanks already dropped). */
static int
finish_line(struct pm_submission *m, struct pm_buf *out)
{
	m->a = m->snap;		/* trailing SP and HT never happened */
	if ((m->a.flags & A_FIRST_SP) && (m->a.flags & A_NONBLANK))
		return answer(m, out, T_SYNTAX);	/* "Duplicate space after command name" */
	switch (m->cmd) {
	case C_EHLO:
	case C_HELO:
		if (!(m->a.flags & A_NONBLANK))
			return answer(m, out, T_NO_HOST);
		return helo_line_end(m, out);
	case C_NOOP:
		return noop_line_end(m, out);
	case C_RSET:
		return answer(m, out, (m->a.flags & A_NONBLANK) ? T_BAD_PARAMS : T_OK);
	case C_QUIT:
		if (m->a.flags & A_NONBLANK)
			return answer(m, out, T_BAD_PARAMS);
		if (pm_buf_append_line(out, T_BYE) < 0)
			return R_NOSPC;
		lexer_reset(m);
		m->phase = PM_SUBMISSION_PHASE_CLOSED;
		return R_CLOSE;
	case C_AUTH:
		return auth_line_end(m, out);
	case C_NEEDAUTH:
		return answer(m, out, T_NEED_AUTH);
	case C_STARTTLS:
		return answer(m, out, T_NO_TLS);
	case C_XCLIENT:
		return answer(m, out, T_XCLIENT);
	default:
		return answer(m, out, T_UNKNOWN);
	}
}

/* The LF of a SASL response line. */
static int
resp_line_end(struct pm_submission *m, struct pm_buf *out)
{
	struct pm_submission_arg *a;

	m->a = m->snap;
	a = &m->a;
	if (a->n == 1 && (a->flags & A_FIRST_STAR))
		return answer(m, out, T_ABORTED);
	if (a->flags & A_B64_CHAR)
		return answer(m, out, T_B64_CHARS);
	if (!b64_ok(a))
		return answer(m, out, T_B64_CONT);
	switch (m->step) {
	case S_PLAIN:
		return plain_finish(m, out, false);
	case S_LOGIN_USER:
		return login_user_done(m, out, false);
	default:		/* S_LOGIN_PASS */
		if (a->flags & (A_NUL | A_OVER))
			return answer(m, out, T_AUTHFAILED);
		return login(m, MECH_LOGIN, m->lg.sasl_ir);
	}
}

/* ---- the lexer ---------------------------------------------------------------- */

/* The command name is complete at @c (SP, CR or LF). */
static int
name_end(struct pm_submission *m, uint8_t c, struct pm_buf *out)
{
	m->cmd = (uint8_t)command_lookup(m);
	if (m->cmd == C_AUTH)
		m->mech[0] = '\0';
	if (c == ' ') {
		m->st = ST_PARAMS;
		return R_CONT;
	}
	if (c == '\r') {
		m->st = ST_CR;
		return R_CONT;
	}
	return finish_line(m, out);
}


static int
lex(struct pm_submission *m, uint8_t c, struct pm_buf *out)
{
	switch (m->st) {
	case ST_NAME:
		if (is_alpha(c)) {
			/* smtp_command_parse_identifier(): at most 32 letters */
			if (m->name_len >= 32)
				return error_at(m, c, out, T_SYNTAX);
			if (m->name_len < 8)
				m->name[m->name_len] = (char)upper(c);
			m->name_len++;
			return R_CONT;
		}
		if (c == ' ' || c == '\r' || c == '\n')
			return name_end(m, c, out);
		return error_at(m, c, out, T_SYNTAX);	/* "Unexpected character" */

	case ST_PARAMS:
		if (c == '\n')
			return finish_line(m, out);
		if (c == '\r') {
			m->st = ST_CR;
			return R_CONT;
		}
		if (c == '\t' || (c >= 0x20 && c <= 0x7e)) {
			arg_byte(m, c);
			return R_CONT;
		}
		if (pm_utf8_lead(&m->u8, c) == 0)
			return error_at(m, c, out, T_SYNTAX);
		arg_byte(m, c);
		m->st = ST_UTF8;
		return R_CONT;

	case ST_UTF8:
		if (!pm_utf8_cont_ok(&m->u8, c))
			return error_at(m, c, out, T_SYNTAX);	/* invalid UTF-8 */
		arg_byte(m, c);
		pm_utf8_byte(&m->u8, c);
		if (m->u8.need == 0)
			m->st = ST_PARAMS;
		return R_CONT;

	case ST_CR:
		if (c != '\n')
			return error_at(m, c, out, T_SYNTAX);	/* "Expected LF after CR" */
		return finish_line(m, out);

	case ST_SKIP:
		if (c == '\n')
			lexer_reset(m);
		return R_CONT;

	case ST_RESP:
		if (c == '\n')
			return resp_line_end(m, out);
		if (c == '\r') {
			m->st = ST_RESP_CR;
			return R_CONT;
		}
		if (c == '\t' || (c >= 0x20 && c <= 0x7e)) {
			resp_byte(m, c);
			return R_CONT;
		}
		return error_at(m, c, out, T_RESP_SYNTAX);

	case ST_RESP_CR:
		if (c != '\n')
			return error_at(m, c, out, T_RESP_SYNTAX);
		return resp_line_end(m, out);

	default:
		return R_CLOSE;	/* unreachable */
	}
}

/* One byte; the line budget first (Dovecot: "Line too long", answered at
 * once, then the rest of the line is skipped). */
static int
step(struct pm_submission *m, uint8_t c, struct pm_buf *out)
{
	bool counted = false;
	int r;

	switch (m->st) {
	case ST_SKIP:
		break;
	case ST_RESP:
	case ST_RESP_CR:
		/* the response's own bytes, CR and LF not included */
		if (c == '\r' || c == '\n')
			break;
		if (m->line_len >= PM_SUBMISSION_AUTH_LINE_MAX)
			return error_at(m, c, out, T_TOO_LONG);
		m->line_len++;
		counted = true;
		break;
	default:
		/* the whole line, CRLF included */
		if (c == '\n')
			break;
		if (m->line_len >= PM_SUBMISSION_LINE_MAX - 1)
			return error_at(m, c, out, T_TOO_LONG);
		m->line_len++;
		counted = true;
		break;
	}
	r = lex(m, c, out);
	if (r == R_NOSPC && counted)
		m->line_len--;	/* everything else this byte did is redone */
	return r;
}

/* ---- API ---------------------------------------------------------------------- */

void
pm_submission_params_defaults(struct pm_submission_params *p)
{
	p->hostname = PM_SUBMISSION_DEFAULT_HOSTNAME;
	p->greeting = PM_SUBMISSION_DEFAULT_GREETING;
	p->ehlo = default_ehlo;
	p->max_bad = PM_SUBMISSION_DEFAULT_MAX_BAD;
}

/* A text we may put on a reply line: bounded, no CR, LF (or NUL). */
static bool
text_ok(const char *s, size_t max, bool empty_ok)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	if (n > max || (n == 0 && !empty_ok))
		return false;
	return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL;
}

/* 1..@max bytes of printable ASCII (SP allowed if @sp). */
static bool
printable(const char *s, size_t max, bool sp)
{
	size_t n, i;

	if (s == NULL)
		return false;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c > 0x7e || c < (sp ? 0x20 : 0x21))
			return false;
	}
	return true;
}

int
pm_submission_params_check(const struct pm_submission_params *p)
{
	const char *const *k;
	size_t i;

	if (p == NULL || !printable(p->hostname, PM_SUBMISSION_DOMAIN_MAX, false) ||
	    !text_ok(p->greeting, PM_SUBMISSION_TEXT_MAX, true) || p->max_bad < 1 ||
	    p->max_bad > PM_SUBMISSION_MAX_BAD_MAX)
		return -EINVAL;
	k = p->ehlo != NULL ? p->ehlo : default_ehlo;
	for (i = 0; k[i] != NULL; i++) {
		if (i >= PM_SUBMISSION_EHLO_MAX ||
		    !printable(k[i], PM_SUBMISSION_KEYWORD_MAX, true) ||
		    !is_alnum((uint8_t)k[i][0]))
			return -EINVAL;
	}
	return 0;
}

int
pm_submission_init(struct pm_submission *m, const struct pm_submission_params *params)
{
	if (m == NULL || pm_submission_params_check(params) < 0)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->p = *params;
	if (m->p.ehlo == NULL)
		m->p.ehlo = default_ehlo;
	m->phase = PM_SUBMISSION_PHASE_COMMANDS;
	m->greeting = PM_SUBMISSION_GREETING_NONE;
	lexer_reset(m);
	return 0;
}

int
pm_submission_greet(struct pm_submission *m, struct pm_buf *out)
{
	struct pm_buf_piece v[] = { PM_BUF_PIECE("220 "), pm_buf_piece_str(m->p.hostname),
				    PM_BUF_PIECE(" "), pm_buf_piece_str(m->p.greeting),
				    PM_BUF_CRLF };

	if (!pm_buf_ok(out) || m->phase != PM_SUBMISSION_PHASE_COMMANDS)
		return -EINVAL;
	if (v[3].n == 0)
		v[2].n = 0;	/* no greeting text: no trailing space */
	return pm_buf_append_pieces(out, v, 5);
}

enum pm_submission_status
pm_submission_feed(struct pm_submission *m, const uint8_t *p, size_t n, size_t *consumed,
		   struct pm_buf *out)
{
	size_t i;
	int r;

	*consumed = 0;
	if (m->phase != PM_SUBMISSION_PHASE_COMMANDS || !pm_buf_ok(out) || (p == NULL && n > 0))
		return PM_SUBMISSION_ERROR;
	for (i = 0; i < n; i++) {
		r = step(m, p[i], out);
		if (r == R_CONT)
			continue;
		if (r == R_NOSPC) {
			*consumed = i;
			/* an empty buffer that cannot take one reply never will */
			return out->len == 0 ? PM_SUBMISSION_ERROR : PM_SUBMISSION_FULL;
		}
		*consumed = i + 1;
		return r == R_LOGIN ? PM_SUBMISSION_LOGIN : PM_SUBMISSION_CLOSE;
	}
	*consumed = n;
	return PM_SUBMISSION_AGAIN;
}

const struct pm_submission_login *
pm_submission_login(const struct pm_submission *m)
{
	return &m->lg;
}

const char *
pm_submission_helo(const struct pm_submission *m)
{
	return m->helo_valid ? m->helo : NULL;
}

enum pm_submission_greeting
pm_submission_greeting(const struct pm_submission *m)
{
	return (enum pm_submission_greeting)m->greeting;
}

/* A reply line we may pass on: three digits @lo..@hi, then the end or SP,
 * bounded, no CR, LF. */
static bool
reply_line_ok(const char *s, int lo, int hi)
{
	int code;

	if (!text_ok(s, PM_SUBMISSION_TEXT_MAX, false) || strlen(s) < 3 ||
	    !is_digit((uint8_t)s[0]) || !is_digit((uint8_t)s[1]) || !is_digit((uint8_t)s[2]) ||
	    (s[3] != '\0' && s[3] != ' '))
		return false;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	return code >= lo && code <= hi;
}

/* The login's end: the exchange's secrets go, the lexer starts afresh. */
static void
login_end(struct pm_submission *m)
{
	auth_end(m);
	lexer_reset(m);
}

int
pm_submission_login_failed(struct pm_submission *m, enum pm_submission_fail kind,
			   const char *text, struct pm_buf *out)
{
	struct pm_buf_piece v[3];
	int rc;

	if (m->phase != PM_SUBMISSION_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	switch (kind) {
	case PM_SUBMISSION_FAIL_AUTHFAILED:
		v[0] = pm_buf_piece_str(T_AUTHFAILED);
		v[1] = pm_buf_piece_str("\r\n");
		rc = pm_buf_append_pieces(out, v, 2);
		break;
	case PM_SUBMISSION_FAIL_UNAVAILABLE:
		if (text == NULL)
			text = PM_SUBMISSION_DEFAULT_UNAVAILABLE;
		if (!text_ok(text, PM_SUBMISSION_TEXT_MAX, false))
			return -EINVAL;
		v[0] = pm_buf_piece_str("454 4.7.0 ");
		v[1] = pm_buf_piece_str(text);
		v[2] = pm_buf_piece_str("\r\n");
		rc = pm_buf_append_pieces(out, v, 3);
		break;
	case PM_SUBMISSION_FAIL_VERBATIM:
		if (text == NULL || !reply_line_ok(text, 400, 599))
			return -EINVAL;
		if (code_is_bad(text)) {
			rc = final(m, out, text);
			if (rc == R_NOSPC)
				return -ENOSPC;
			login_end(m);
			if (rc != R_CLOSE)
				m->phase = PM_SUBMISSION_PHASE_COMMANDS;
			return 0;
		}
		rc = pm_buf_append_line(out, text);
		if (rc == 0 && memcmp(text, "421", 3) == 0) {
			/* lib-smtp closes the connection after a 421 */
			m->bad = 0;
			login_end(m);
			m->phase = PM_SUBMISSION_PHASE_CLOSED;
			return 0;
		}
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	m->bad = 0;
	login_end(m);
	m->phase = PM_SUBMISSION_PHASE_COMMANDS;
	return 0;
}

int
pm_submission_login_ok(struct pm_submission *m, const char *text, struct pm_buf *out)
{
	int rc;

	if (m->phase != PM_SUBMISSION_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	if (text == NULL)
		text = T_LOGGED_IN;
	if (!reply_line_ok(text, 235, 235))
		return -EINVAL;
	rc = pm_buf_append_line(out, text);
	if (rc < 0)
		return rc;
	m->bad = 0;
	wipe_secrets(m);
	m->phase = PM_SUBMISSION_PHASE_DONE;
	return 0;
}

enum pm_submission_phase
pm_submission_phase(const struct pm_submission *m)
{
	return (enum pm_submission_phase)m->phase;
}

uint32_t
pm_submission_bad_count(const struct pm_submission *m)
{
	return m->bad;
}

void
pm_submission_wipe(struct pm_submission *m)
{
	wipe_secrets(m);
}
