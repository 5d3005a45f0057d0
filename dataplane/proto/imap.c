/*
 * imap.c -- the client-facing IMAP pre-authentication machine (proto/imap.h).
 *
 * One byte at a time: step() checks the line budget, then lex() runs the
 * byte through the lexer state in m->st. The lexer feeds a small per-command
 * "consumer" (arg_begin/arg_byte/arg_end/list_open/list_close) that checks the
 * arguments of LOGIN and ID and discards everything else, the way Dovecot's
 * imap-login parses a whole line with lib-imap's parser and then looks at the
 * arguments (imap-login-client.c, client_parse_command()). AUTHENTICATE is
 * read raw, as Dovecot's cmd_authenticate() does (client-authenticate.c): the
 * mechanism is the next word, the SASL-IR is the rest of the line.
 *
 * Atomicity: a byte's handling may pass through several lexer states (an atom
 * ends at the LF, then the LF ends the line), but every response is appended
 * in one all-or-nothing append before anything else changes, and the states
 * passed through on the way are ones the same byte would be handled in again.
 * So when out has no room (R_NOSPC), step() only undoes its line_len count
 * and the caller can feed the same byte again later.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "proto/imap.h"
#include "proto/sasl.h"

/* Lexer states (m->st). */
enum {
	ST_TAG,		/* reading the tag */
	ST_CMD,		/* reading the command name */
	ST_ARGS,	/* between arguments */
	ST_ATOM,
	ST_QUOTED,
	ST_QESC,	/* after a backslash in a quoted string */
	ST_LITLEN,	/* after '{': digits */
	ST_LITPLUS,	/* after '+': expecting '}' */
	ST_LITCR,	/* after '}': expecting CR or LF */
	ST_LITLF,	/* after "}\r": expecting LF */
	ST_LITDATA,	/* literal bytes, m->lit left */
	ST_EOL,		/* after a CR that ended the arguments: ignore up to LF */
	ST_SKIP,	/* a rejected line: skip to LF, minding literal markers */
	ST_SKIP_LIT,	/* a non-synchronising literal in a rejected line */
	ST_AUTH_MECH,	/* AUTHENTICATE: the mechanism word */
	ST_AUTH_IR,	/* AUTHENTICATE: the rest of the line (SASL-IR) */
	ST_AUTH_RESP,	/* a response line after "+ " */
};

/* Commands (m->cmd). */
enum {
	C_NONE,
	C_UNKNOWN,
	C_CAPABILITY,
	C_NOOP,
	C_LOGOUT,
	C_STARTTLS,
	C_ENABLE,
	C_ID,
	C_LOGIN,
	C_AUTHENTICATE,
};

/* Syntax errors (m->err): the line is skipped and answered with Dovecot's
 * parser text (lib-imap/imap-parser.c); not counted as bad commands. */
enum {
	E_NONE,
	E_QUOTE,
	E_RPAREN_UNEXPECTED,
	E_RPAREN_MISSING,
	E_ATOM_CHARS,
	E_ATOM_8BIT,
	E_NUL,
	E_LIT_SIZE,
	E_LIT_PLUS,
	E_LIT_LF,
	E_ESCAPE,
	E__COUNT,
};

static const char *const err_text[E__COUNT] = {
	[E_NONE] = "BAD Error in IMAP command received by server.",
	[E_QUOTE] = "BAD Missing '\"'",
	[E_RPAREN_UNEXPECTED] = "BAD Unexpected ')'",
	[E_RPAREN_MISSING] = "BAD Missing ')'",
	[E_ATOM_CHARS] = "BAD Invalid characters in atom",
	[E_ATOM_8BIT] = "BAD 8bit data in atom",
	[E_NUL] = "BAD NULs not allowed in strings",
	[E_LIT_SIZE] = "BAD Invalid literal size",
	[E_LIT_PLUS] = "BAD Expecting '}' after '+'",
	[E_LIT_LF] = "BAD Missing LF after literal size",
	/* Ours: Dovecot unescapes any character. */
	[E_ESCAPE] = "BAD Invalid escape in quoted string",
};

/* Per-line flags (m->flags). */
#define F_TAG_BAD	0x0001u	/* tag has a bad byte or is too long */
#define F_ARGS_BAD	0x0002u	/* a list among LOGIN's arguments (a bad command) */
#define F_OVER		0x0004u	/* a LOGIN user or password over its bound */
#define F_NIL		0x0008u	/* the atom so far is a prefix of "NIL" */
#define F_NONSYNC	0x0010u	/* the literal is {n+} */
#define F_DIGIT		0x0020u	/* the literal size has a digit */
#define F_ID_BAD	0x0040u	/* ID parameters invalid */
#define F_PLAIN		0x0080u	/* AUTHENTICATE mechanism is PLAIN */
#define F_CR		0x0200u	/* SASL line: a CR that may end the line */
#define F_FIRST_EQ	0x0400u	/* SASL line starts with '=' */
#define F_FIRST_STAR	0x0800u	/* SASL line starts with '*' */

/* Token kinds for the consumer. */
enum { K_ATOM, K_QUOTED, K_LITERAL };

/* ID list position (m->id_st). */
enum { ID_START, ID_KEY, ID_VAL, ID_AFTER };

/* Skip-mode literal marker tracker (m->tail): "{" digits ["+"] "}" [CR] LF. */
enum { T_NONE, T_OPEN, T_PLUS, T_CLOSED, T_CLOSED_CR };

/* step() results. */
enum { R_CONT, R_LOGIN, R_CLOSE, R_NOSPC };

/* ---- output -------------------------------------------------------------- */

/* The tag to answer with: "*" when it is empty or invalid (Dovecot replaces
 * an invalid tag by "" and then by "*", imap-login-client.c). */
static struct pm_buf_piece
tag_piece(const struct pm_imap *m)
{
	struct pm_buf_piece pc = PM_BUF_PIECE("*");

	if (!(m->flags & F_TAG_BAD) && m->lg.tag_len > 0) {
		pc.s = m->lg.tag;
		pc.n = m->lg.tag_len;
	}
	return pc;
}

/* "<tag> <text>\r\n" */
static int
tagged(const struct pm_imap *m, struct pm_buf *out, const char *text)
{
	struct pm_buf_piece v[] = { tag_piece(m), PM_BUF_PIECE(" "), pm_buf_piece_str(text),
				    PM_BUF_CRLF };

	return pm_buf_append_pieces(out, v, 4);
}

/* "<untagged>\r\n<tag> <text>\r\n" */
static int
untagged_tagged(const struct pm_imap *m, struct pm_buf *out, const char *u1, const char *u2,
		const char *text)
{
	struct pm_buf_piece v[] = { pm_buf_piece_str(u1), pm_buf_piece_str(u2), PM_BUF_CRLF,
				    tag_piece(m), PM_BUF_PIECE(" "), pm_buf_piece_str(text),
				    PM_BUF_CRLF };

	return pm_buf_append_pieces(out, v, 7);
}

/* ---- state resets ---------------------------------------------------------- */

/* Forget the secrets of the command being read. */
static void
wipe_secrets(struct pm_imap *m)
{
	explicit_bzero(m->lg.pass, sizeof(m->lg.pass));
	m->lg.pass_len = 0;
	pm_sasl_b64_wipe(&m->b64);
}

/* Ready for the next line; the login fields are left alone. */
static void
lexer_reset(struct pm_imap *m)
{
	m->st = ST_TAG;
	m->line_len = 0;
	m->depth = 0;
	m->lit = 0;
	m->tok_len = 0;
	m->cmd = C_NONE;
	m->err = E_NONE;
	m->flags = 0;
	m->nargs = 0;
	m->id_st = ID_START;
	m->id_pairs = 0;
	m->tail = T_NONE;
	m->name_len = 0;
	pm_sasl_b64_reset(&m->b64);
	pm_sasl_plain_reset(&m->plain);
}

/* The command was answered: forget it entirely. */
static void
end_command(struct pm_imap *m)
{
	wipe_secrets(m);
	m->lg.tag_len = 0;
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	lexer_reset(m);
}

/* Emit @line (a full untagged line with CRLF) and close. */
static int
close_with(struct pm_imap *m, struct pm_buf *out, const char *line)
{
	if (pm_buf_append_str(out, line) < 0)
		return R_NOSPC;
	end_command(m);
	m->phase = PM_IMAP_PHASE_CLOSED;
	return R_CLOSE;
}

/* Answer the line with @text (tagged) and go on with the next one. */
static int
answer(struct pm_imap *m, struct pm_buf *out, const char *text)
{
	if (tagged(m, out, text) < 0)
		return R_NOSPC;
	end_command(m);
	return R_CONT;
}

/* Answer with an untagged line (@u1 @u2) and a tagged one, and go on. */
static int
answer2(struct pm_imap *m, struct pm_buf *out, const char *u1, const char *u2, const char *text)
{
	if (untagged_tagged(m, out, u1, u2, text) < 0)
		return R_NOSPC;
	end_command(m);
	return R_CONT;
}

/* A bad command (Dovecot: client_invalid_command(), bad_counter against
 * CLIENT_MAX_BAD_COMMANDS). */
static int
bad_command(struct pm_imap *m, struct pm_buf *out)
{
	int r;

	if (m->bad + 1 >= m->p.max_bad) {
		r = close_with(m, out, "* BYE Too many invalid IMAP commands.\r\n");
		if (r == R_CLOSE)
			m->bad++;
		return r;
	}
	if (tagged(m, out, err_text[E_NONE]) < 0)
		return R_NOSPC;
	m->bad++;
	end_command(m);
	return R_CONT;
}

static int
authfailed(struct pm_imap *m, struct pm_buf *out)
{
	return answer(m, out, "NO [AUTHENTICATIONFAILED] Authentication failed.");
}

/* ---- small helpers --------------------------------------------------------- */

static uint8_t
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Dovecot 2.3.19 refuses these in a tag (imap_is_valid_tag(); ']' seen
 * refused on 2.3.19.1), as well as CTLs, DEL and 8-bit bytes. */
static bool
tag_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("+(){/%*\"\\]", c) == NULL;
}

/* ATOM-CHAR as lib-imap reads input: not a special, CTL, SP or DEL
 * (IS_ATOM_SPECIAL_INPUT); 8-bit is tested separately. ')' ends an atom. */
static bool
atom_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* A byte of a LOGIN argument; over the field's bound, the login fails. */
static void
field_put(struct pm_imap *m, char *f, uint16_t *len, size_t max, uint8_t c)
{
	if (pm_sasl_field_put(f, len, max, c) < 0)
		m->flags |= F_OVER;
}

static int
command_lookup(const char *name, size_t n)
{
	static const struct {
		const char *name;
		int cmd;
	} tab[] = {
		{ "CAPABILITY", C_CAPABILITY }, { "NOOP", C_NOOP },
		{ "LOGOUT", C_LOGOUT },		{ "STARTTLS", C_STARTTLS },
		{ "ENABLE", C_ENABLE },		{ "ID", C_ID },
		{ "LOGIN", C_LOGIN },		{ "AUTHENTICATE", C_AUTHENTICATE },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && memcmp(tab[i].name, name, n) == 0)
			return tab[i].cmd;
	return C_UNKNOWN;
}

/* ---- the argument consumer (LOGIN and ID; everything else is discarded) --- */

/* The most a literal starting now may hold: the LOGIN field it fills, or the
 * line budget. */
static uint16_t
lit_cap(const struct pm_imap *m)
{
	if (m->cmd == C_LOGIN && m->depth == 0) {
		if (m->nargs == 0)
			return PM_IMAP_USER_MAX;
		if (m->nargs == 1)
			return PM_IMAP_PASS_MAX;
	}
	return PM_IMAP_LINE_MAX;
}

static void
arg_begin(struct pm_imap *m, int kind)
{
	m->tok_len = 0;
	if (kind == K_ATOM)
		m->flags |= F_NIL;
	switch (m->cmd) {
	case C_LOGIN:
		if (m->depth == 0 && m->nargs < UINT8_MAX)
			m->nargs++;
		break;
	case C_ID:
		if (m->id_st == ID_START && kind != K_ATOM) {
			m->flags |= F_ID_BAD;	/* a string where NIL or a list belongs */
			m->id_st = ID_AFTER;
		} else if (m->id_st == ID_KEY && kind == K_ATOM) {
			m->flags |= F_ID_BAD;	/* keys are strings (imap_arg_get_string) */
			m->id_st = ID_AFTER;
		}
		break;
	default:
		break;
	}
}

static void
arg_byte(struct pm_imap *m, uint8_t c)
{
	if (m->tok_len < UINT16_MAX)
		m->tok_len++;
	if (m->flags & F_NIL) {
		/* NIL is case-insensitive (RFC 3501 9; "a ID nil" seen
		 * accepted by Dovecot 2.3.19.1) */
		if (m->tok_len > 3 || upper(c) != (uint8_t)"NIL"[m->tok_len - 1])
			m->flags &= ~F_NIL;
	}
	if (m->cmd == C_LOGIN && m->depth == 0) {
		if (m->nargs == 1)
			field_put(m, m->lg.user, &m->lg.user_len, PM_IMAP_USER_MAX, c);
		else if (m->nargs == 2)
			field_put(m, m->lg.pass, &m->lg.pass_len, PM_IMAP_PASS_MAX, c);
	}
}

static void
arg_end(struct pm_imap *m, int kind)
{
	bool nil = kind == K_ATOM && (m->flags & F_NIL) && m->tok_len == 3;

	/* LOGIN takes an atom NIL as the user or password "NIL" (Dovecot
	 * 2.3.19.1 logs in user "NIL" so), so only ID looks at it. */
	m->flags &= ~F_NIL;
	switch (m->cmd) {
	case C_ID:
		switch (m->id_st) {
		case ID_START:
			if (!nil)
				m->flags |= F_ID_BAD;
			m->id_st = ID_AFTER;
			break;
		case ID_KEY:
			if (m->tok_len > PM_IMAP_ID_KEY_MAX ||
			    ++m->id_pairs > PM_IMAP_ID_PAIRS_MAX) {
				m->flags |= F_ID_BAD;
				m->id_st = ID_AFTER;
			} else {
				m->id_st = ID_VAL;
			}
			break;
		case ID_VAL:
			if ((kind == K_ATOM && !nil) || m->tok_len > PM_IMAP_ID_VALUE_MAX) {
				m->flags |= F_ID_BAD;
				m->id_st = ID_AFTER;
			} else {
				m->id_st = ID_KEY;
			}
			break;
		default:
			break;
		}
		break;
	default:
		break;
	}
}

/* '(' at depth m->depth (before it is incremented). */
static void
list_open(struct pm_imap *m)
{
	switch (m->cmd) {
	case C_LOGIN:
		if (m->depth == 0) {
			if (m->nargs < UINT8_MAX)
				m->nargs++;
			m->flags |= F_ARGS_BAD;	/* a list is not an astring */
		}
		break;
	case C_ID:
		if (m->id_st == ID_START) {
			m->id_st = ID_KEY;
		} else if (m->id_st == ID_KEY || m->id_st == ID_VAL) {
			m->flags |= F_ID_BAD;	/* nested list */
			m->id_st = ID_AFTER;
		}
		break;
	default:
		break;
	}
}

/* ')' closing to depth m->depth (after it was decremented). */
static void
list_close(struct pm_imap *m)
{
	if (m->cmd == C_ID && m->depth == 0 && (m->id_st == ID_KEY || m->id_st == ID_VAL))
		m->id_st = ID_AFTER;
}

/* ---- end of a line --------------------------------------------------------- */

static int
finish_login(struct pm_imap *m, struct pm_buf *out)
{
	/* cmd_login(): two astrings and nothing else, else a bad command. */
	if ((m->flags & F_ARGS_BAD) || m->nargs != 2)
		return bad_command(m, out);
	if ((m->flags & F_OVER) || m->lg.user_len == 0)
		return authfailed(m, out);
	m->lg.user[m->lg.user_len] = '\0';
	m->lg.pass[m->lg.pass_len] = '\0';
	m->lg.authzid_len = 0;
	m->lg.authzid[0] = '\0';
	m->lg.mech = PM_IMAP_MECH_LOGIN;
	m->lg.sasl_ir = false;
	m->lg.tag[m->lg.tag_len] = '\0';
	lexer_reset(m);
	m->phase = PM_IMAP_PHASE_LOGIN;
	return R_LOGIN;
}

/* The LF of a command line read by the generic lexer (also of a skipped
 * line). The order follows imap-login-client.c: a parser error first, then
 * an invalid tag, then the command. */
static int
finish_line(struct pm_imap *m, struct pm_buf *out)
{
	if (m->err == E_NONE && m->depth > 0)
		m->err = E_RPAREN_MISSING;
	if (m->err != E_NONE)
		return answer(m, out, err_text[m->err]);
	if ((m->flags & F_TAG_BAD) || m->lg.tag_len == 0)
		return bad_command(m, out);

	switch (m->cmd) {
	case C_CAPABILITY:
		return answer2(m, out, "* CAPABILITY ", m->p.capability,
			       "OK Pre-login capabilities listed, "
			       "post-login capabilities have more.");
	case C_NOOP:
		return answer(m, out, "OK NOOP completed.");
	case C_ENABLE:
		return answer2(m, out, "* ENABLED", "",
			       "OK ENABLE ignored in non-authenticated state.");
	case C_STARTTLS:
		return answer(m, out, "NO TLS support isn't enabled.");
	case C_ID:
		if (m->flags & F_ID_BAD)
			return answer(m, out, "BAD Invalid ID parameters");
		return answer2(m, out, "* ID ", m->p.id_reply, "OK ID completed.");
	case C_LOGOUT:
		if (answer2(m, out, "* BYE Logging out", "", "OK Logout completed.") == R_NOSPC)
			return R_NOSPC;
		m->phase = PM_IMAP_PHASE_CLOSED;
		return R_CLOSE;
	case C_LOGIN:
		return finish_login(m, out);
	case C_UNKNOWN:
		/* not counted (imap-login-client.c) */
		if (m->lg.tag_len == 5 && strncasecmp(m->lg.tag, "LOGIN", 5) == 0)
			return answer(m, out, "BAD First parameter in line is IMAP's command tag, "
					      "not the command name. Add that before the command, "
					      "like: a login user pass");
		return bad_command(m, out);
	default:
		/* C_AUTHENTICATE without a mechanism, C_NONE cannot happen */
		return bad_command(m, out);
	}
}

/* ---- SASL: base64 and PLAIN (proto/sasl.h) --------------------------------- */

/* The login fields a PLAIN message is split into. */
static struct pm_sasl_plain_fields
plain_fields(struct pm_imap *m)
{
	struct pm_sasl_plain_fields f = {
		{ m->lg.authzid, &m->lg.authzid_len, PM_IMAP_USER_MAX },
		{ m->lg.user, &m->lg.user_len, PM_IMAP_USER_MAX },
		{ m->lg.pass, &m->lg.pass_len, PM_IMAP_PASS_MAX },
	};

	return f;
}

/* A new SASL line (SASL-IR or response). */
static void
sasl_reset(struct pm_imap *m)
{
	wipe_secrets(m);
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	pm_sasl_b64_reset(&m->b64);
	pm_sasl_plain_reset(&m->plain);
	m->tok_len = 0;
	m->flags &= ~(F_CR | F_FIRST_EQ | F_FIRST_STAR);
}

static void
sasl_data(struct pm_imap *m, uint8_t c)
{
	if (m->tok_len == 0) {
		if (c == '=')
			m->flags |= F_FIRST_EQ;
		else if (c == '*')
			m->flags |= F_FIRST_STAR;
	}
	if (m->tok_len < UINT16_MAX)
		m->tok_len++;
	if (m->flags & F_PLAIN) {
		struct pm_sasl_plain_fields f = plain_fields(m);

		pm_sasl_plain_feed(&m->b64, &m->plain, &f, c);
	}
}

/* A byte of a SASL line other than its LF: one CR right before the LF is
 * dropped (client_auth_read_line()), any other CR is data. */
static void
sasl_byte(struct pm_imap *m, uint8_t c)
{
	if (m->flags & F_CR) {
		m->flags &= ~F_CR;
		sasl_data(m, '\r');
	}
	if (c == '\r')
		m->flags |= F_CR;
	else
		sasl_data(m, c);
}

/* The decoded PLAIN message is complete and valid base64. */
static int
plain_finish(struct pm_imap *m, struct pm_buf *out, bool ir)
{
	struct pm_sasl_plain_fields f = plain_fields(m);

	/* mech-plain.c (pm_sasl_plain_finish()): anything but a valid
	 * message fails as a bad password would */
	if (pm_sasl_plain_finish(&m->plain, &f) < 0)
		return authfailed(m, out);
	m->lg.mech = PM_IMAP_MECH_PLAIN;
	m->lg.sasl_ir = ir;
	m->lg.tag[m->lg.tag_len] = '\0';
	lexer_reset(m);	/* wipes the decoder */
	m->phase = PM_IMAP_PHASE_LOGIN;
	return R_LOGIN;
}

/* LF of "AUTHENTICATE <mech>[ <ir>]". */
static int
auth_ir_end(struct pm_imap *m, struct pm_buf *out)
{
	if (!(m->flags & F_PLAIN)) {
		/* sasl-server.c: MECH_INVALID, shown with [ALERT]
		 * (client-authenticate.c, imap_client_auth_result()) */
		return answer(m, out, "NO [ALERT] Unsupported authentication mechanism.");
	}
	if (m->tok_len == 0) {
		/* No SASL-IR: an empty challenge, then one response line. */
		if (pm_buf_append_str(out, "+ \r\n") < 0)
			return R_NOSPC;
		sasl_reset(m);
		m->line_len = 0;
		m->st = ST_AUTH_RESP;
		return R_CONT;
	}
	if (m->tok_len == 1 && (m->flags & F_FIRST_EQ))
		return authfailed(m, out);	/* "=": an empty response (RFC 4959) */
	if (!pm_sasl_b64_complete(&m->b64))
		return answer(m, out, "BAD Invalid base64 data in initial response");
	return plain_finish(m, out, true);
}

/* LF of the response line after "+ ". */
static int
auth_resp_end(struct pm_imap *m, struct pm_buf *out)
{
	if (m->tok_len == 1 && (m->flags & F_FIRST_STAR))
		return answer(m, out, "BAD Authentication aborted by client.");
	if (!pm_sasl_b64_complete(&m->b64))
		return answer(m, out, "NO [ALERT] Invalid base64 in response");
	return plain_finish(m, out, false);
}

/* ---- the lexer ------------------------------------------------------------- */

static int lex(struct pm_imap *m, uint8_t c, struct pm_buf *out);
static int args_byte(struct pm_imap *m, uint8_t c, struct pm_buf *out);

/* A syntax error at byte @c: skip the rest of the line, then answer. */
static int
syntax(struct pm_imap *m, int err, uint8_t c, struct pm_buf *out)
{
	m->err = (uint8_t)err;
	m->st = ST_SKIP;
	m->tail = T_NONE;
	return lex(m, c, out);
}

static int
literal_too_large(struct pm_imap *m, struct pm_buf *out)
{
	return close_with(m, out, "* BYE Literal size too large\r\n");
}

/* The LF after "{n}" or "{n+}". */
static int
literal_start(struct pm_imap *m, struct pm_buf *out)
{
	/* lib-imap: literal_size > max_line_size - line_size is fatal */
	if (m->lit > PM_IMAP_LINE_MAX - m->line_len)
		return literal_too_large(m, out);
	if (!(m->flags & F_NONSYNC) && pm_buf_append_str(out, "+ OK\r\n") < 0)
		return R_NOSPC;
	arg_begin(m, K_LITERAL);
	if (m->lit == 0) {
		arg_end(m, K_LITERAL);
		m->st = ST_ARGS;
	} else {
		m->st = ST_LITDATA;
	}
	return R_CONT;
}

static int
end_of_name(struct pm_imap *m, uint8_t c, struct pm_buf *out)
{
	m->cmd = (uint8_t)command_lookup(m->name, m->name_len);
	m->name_len = 0;
	if (m->cmd == C_AUTHENTICATE && !(m->flags & F_TAG_BAD) && m->lg.tag_len > 0) {
		if (c == ' ') {
			m->st = ST_AUTH_MECH;
			return R_CONT;
		}
		/* no mechanism: a bad command once the line ends */
	}
	/* The name is gone from m->name now: continue in ST_ARGS, so that if
	 * the answer at an LF does not fit, the LF is fed again there. */
	m->st = ST_ARGS;
	return args_byte(m, c, out);
}

/* Skip mode: look for "{n}" / "{n+}" right before the LF. */
static int
skip_byte(struct pm_imap *m, uint8_t c, struct pm_buf *out)
{
	if (c == '\n') {
		if ((m->tail == T_CLOSED || m->tail == T_CLOSED_CR) && (m->flags & F_NONSYNC)) {
			/* non-synchronising: the literal's bytes follow and are
			 * data, not commands (cf. nginx ngx_mail_parse.c) */
			if (m->lit > PM_IMAP_LINE_MAX - m->line_len)
				return literal_too_large(m, out);
			m->tail = T_NONE;
			if (m->lit > 0)
				m->st = ST_SKIP_LIT;
			return R_CONT;
		}
		/* a synchronising literal is never sent: we answer instead */
		return finish_line(m, out);
	}
	switch (m->tail) {
	case T_OPEN:
		if (c >= '0' && c <= '9') {
			/* saturate above the line budget (checked at the LF);
			 * compared before multiplying, so it never wraps */
			if (m->lit > (PM_IMAP_LINE_MAX - (c - '0')) / 10)
				m->lit = PM_IMAP_LINE_MAX + 1;
			else
				m->lit = (uint16_t)(m->lit * 10 + (c - '0'));
			m->flags |= F_DIGIT;
			return R_CONT;
		}
		if (c == '+' && (m->flags & F_DIGIT)) {
			m->flags |= F_NONSYNC;
			m->tail = T_PLUS;
			return R_CONT;
		}
		if (c == '}' && (m->flags & F_DIGIT)) {
			m->tail = T_CLOSED;
			return R_CONT;
		}
		break;
	case T_PLUS:
		if (c == '}') {
			m->tail = T_CLOSED;
			return R_CONT;
		}
		break;
	case T_CLOSED:
		if (c == '\r') {
			m->tail = T_CLOSED_CR;
			return R_CONT;
		}
		break;
	default:
		break;
	}
	m->tail = T_NONE;
	if (c == '{') {
		m->tail = T_OPEN;
		m->lit = 0;
		m->flags &= ~(F_DIGIT | F_NONSYNC);
	}
	return R_CONT;
}

static int
args_byte(struct pm_imap *m, uint8_t c, struct pm_buf *out)
{
	switch (c) {
	case ' ':
		return R_CONT;
	case '\r':
		m->st = ST_EOL;
		return R_CONT;
	case '\n':
		return finish_line(m, out);
	case '"':
		arg_begin(m, K_QUOTED);
		m->st = ST_QUOTED;
		return R_CONT;
	case '{':
		m->lit = 0;
		m->flags &= ~(F_DIGIT | F_NONSYNC);
		m->st = ST_LITLEN;
		return R_CONT;
	case '(':
		list_open(m);
		m->depth++;	/* at most one per byte: bounded by the line */
		return R_CONT;
	case ')':
		if (m->depth == 0)
			return syntax(m, E_RPAREN_UNEXPECTED, c, out);
		m->depth--;
		list_close(m);
		return R_CONT;
	default:
		if (c & 0x80)
			return syntax(m, E_ATOM_8BIT, c, out);
		if (!atom_char(c))
			return syntax(m, E_ATOM_CHARS, c, out);
		arg_begin(m, K_ATOM);
		arg_byte(m, c);
		m->st = ST_ATOM;
		return R_CONT;
	}
}

static int
lex(struct pm_imap *m, uint8_t c, struct pm_buf *out)
{
	uint16_t cap;

	switch (m->st) {
	case ST_TAG:
		if (c == ' ' || c == '\r' || c == '\n') {
			if (m->lg.tag_len == 0)
				m->flags |= F_TAG_BAD;
			m->lg.tag[m->lg.tag_len] = '\0';
			if (c != ' ')	/* no command name: an empty (unknown) one */
				return end_of_name(m, c, out);
			m->st = ST_CMD;
			return R_CONT;
		}
		if (!tag_char(c) || m->lg.tag_len >= PM_IMAP_TAG_MAX)
			m->flags |= F_TAG_BAD;
		else
			m->lg.tag[m->lg.tag_len++] = (char)c;
		return R_CONT;

	case ST_CMD:
		if (c == ' ' || c == '\r' || c == '\n')
			return end_of_name(m, c, out);
		if (m->name_len < sizeof(m->name) - 1)
			m->name[m->name_len++] = (char)upper(c);
		else
			m->name_len = sizeof(m->name);	/* too long: unknown */
		return R_CONT;

	case ST_ARGS:
		return args_byte(m, c, out);

	case ST_ATOM:
		if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
			arg_end(m, K_ATOM);
			m->st = ST_ARGS;
			return args_byte(m, c, out);
		}
		if (c & 0x80)
			return syntax(m, E_ATOM_8BIT, c, out);
		if (!atom_char(c))
			return syntax(m, E_ATOM_CHARS, c, out);
		arg_byte(m, c);
		return R_CONT;

	case ST_QUOTED:
		if (c == '"') {
			arg_end(m, K_QUOTED);
			m->st = ST_ARGS;
			return R_CONT;
		}
		if (c == '\\') {
			m->st = ST_QESC;
			return R_CONT;
		}
		if (c == '\r' || c == '\n')
			return syntax(m, E_QUOTE, c, out);
		if (c == 0)
			return syntax(m, E_NUL, c, out);
		arg_byte(m, c);		/* 8-bit allowed: UTF-8 user names */
		return R_CONT;

	case ST_QESC:
		if (c == '"' || c == '\\') {
			arg_byte(m, c);
			m->st = ST_QUOTED;
			return R_CONT;
		}
		if (c == '\r' || c == '\n')
			return syntax(m, E_QUOTE, c, out);
		return syntax(m, E_ESCAPE, c, out);

	case ST_LITLEN:
		if (c >= '0' && c <= '9') {
			/* Bound check before multiplying: lit * 10 + d <= cap,
			 * and cap <= PM_IMAP_LINE_MAX fits uint16_t. */
			cap = lit_cap(m);
			if (m->lit > (cap - (c - '0')) / 10)
				return literal_too_large(m, out);
			m->lit = (uint16_t)(m->lit * 10 + (c - '0'));
			m->flags |= F_DIGIT;
			return R_CONT;
		}
		if (!(m->flags & F_DIGIT))
			return syntax(m, E_LIT_SIZE, c, out);
		if (c == '+') {
			m->flags |= F_NONSYNC;
			m->st = ST_LITPLUS;
			return R_CONT;
		}
		if (c == '}') {
			m->st = ST_LITCR;
			return R_CONT;
		}
		return syntax(m, E_LIT_SIZE, c, out);

	case ST_LITPLUS:
		if (c != '}')
			return syntax(m, E_LIT_PLUS, c, out);
		m->st = ST_LITCR;
		return R_CONT;

	case ST_LITCR:
		if (c == '\r') {
			m->st = ST_LITLF;
			return R_CONT;
		}
		/* fall through */
	case ST_LITLF:
		if (c != '\n')
			return syntax(m, E_LIT_LF, c, out);
		return literal_start(m, out);

	case ST_LITDATA:
		if (c == 0) {
			/* the rest of the literal is still data to skip */
			m->lit--;
			m->err = E_NUL;
			m->tail = T_NONE;
			m->st = m->lit > 0 ? ST_SKIP_LIT : ST_SKIP;
			return R_CONT;
		}
		arg_byte(m, c);
		if (--m->lit == 0) {
			arg_end(m, K_LITERAL);
			m->st = ST_ARGS;
		}
		return R_CONT;

	case ST_EOL:
		/* Dovecot's client_skip_line(): whatever follows the CR up to
		 * the LF is ignored */
		if (c == '\n')
			return finish_line(m, out);
		return R_CONT;

	case ST_SKIP:
		return skip_byte(m, c, out);

	case ST_SKIP_LIT:
		if (--m->lit == 0)
			m->st = ST_SKIP;
		return R_CONT;

	case ST_AUTH_MECH:
		if (c == ' ' || c == '\r' || c == '\n') {
			if (m->name_len == 0) {
				/* empty mechanism name: a bad command */
				if (c == '\n')
					return finish_line(m, out);
				m->st = ST_SKIP;
				m->tail = T_NONE;
				return R_CONT;
			}
			if (m->name_len == 5 && memcmp(m->name, "PLAIN", 5) == 0)
				m->flags |= F_PLAIN;
			m->name_len = 0;
			sasl_reset(m);
			m->st = ST_AUTH_IR;
			if (c == ' ')
				return R_CONT;
			/* CR or LF: the (empty) SASL-IR ends here */
			return lex(m, c, out);
		}
		if (m->name_len < sizeof(m->name) - 1)
			m->name[m->name_len++] = (char)upper(c);
		else
			m->name_len = sizeof(m->name);	/* too long: unsupported */
		return R_CONT;

	case ST_AUTH_IR:
		if (c == '\n')
			return auth_ir_end(m, out);
		sasl_byte(m, c);
		return R_CONT;

	case ST_AUTH_RESP:
		if (c == '\n')
			return auth_resp_end(m, out);
		sasl_byte(m, c);
		return R_CONT;

	default:
		return R_CLOSE;	/* unreachable */
	}
}

/* One byte; the line budget first (Dovecot: "Input buffer full"). */
static int
step(struct pm_imap *m, uint8_t c, struct pm_buf *out)
{
	int r;

	if (m->line_len >= PM_IMAP_LINE_MAX)
		return close_with(m, out, "* BYE Input buffer full, aborting\r\n");
	m->line_len++;
	r = lex(m, c, out);
	if (r == R_NOSPC)
		m->line_len--;	/* everything else this byte did is redone */
	return r;
}

/* ---- API ------------------------------------------------------------------- */

void
pm_imap_params_defaults(struct pm_imap_params *p)
{
	p->capability = PM_IMAP_DEFAULT_CAPABILITY;
	p->greeting = PM_IMAP_DEFAULT_GREETING;
	p->id_reply = PM_IMAP_DEFAULT_ID_REPLY;
	p->max_bad = PM_IMAP_DEFAULT_MAX_BAD;
}

/* A text we may put on a response line: bounded, no CR or LF. */
static bool
text_ok(const char *s, bool empty_ok)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, PM_IMAP_TEXT_MAX + 1);
	if (n > PM_IMAP_TEXT_MAX || (n == 0 && !empty_ok))
		return false;
	return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL;
}

int
pm_imap_params_check(const struct pm_imap_params *p)
{
	if (p == NULL || !text_ok(p->capability, false) || !text_ok(p->greeting, true) ||
	    !text_ok(p->id_reply, false) || p->max_bad < 1 || p->max_bad > PM_IMAP_MAX_BAD_MAX)
		return -EINVAL;
	return 0;
}

int
pm_imap_init(struct pm_imap *m, const struct pm_imap_params *params)
{
	if (m == NULL || pm_imap_params_check(params) < 0)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->p = *params;
	m->phase = PM_IMAP_PHASE_COMMANDS;
	lexer_reset(m);
	return 0;
}

int
pm_imap_greet(struct pm_imap *m, struct pm_buf *out)
{
	struct pm_buf_piece v[] = { PM_BUF_PIECE("* OK [CAPABILITY "),
				    pm_buf_piece_str(m->p.capability), PM_BUF_PIECE("] "),
				    pm_buf_piece_str(m->p.greeting), PM_BUF_CRLF };

	if (!pm_buf_ok(out) || m->phase != PM_IMAP_PHASE_COMMANDS)
		return -EINVAL;
	return pm_buf_append_pieces(out, v, 5);
}

enum pm_imap_status
pm_imap_feed(struct pm_imap *m, const uint8_t *p, size_t n, size_t *consumed, struct pm_buf *out)
{
	size_t i;
	int r;

	*consumed = 0;
	if (m->phase != PM_IMAP_PHASE_COMMANDS || !pm_buf_ok(out) || (p == NULL && n > 0))
		return PM_IMAP_ERROR;
	for (i = 0; i < n; i++) {
		r = step(m, p[i], out);
		if (r == R_CONT)
			continue;
		if (r == R_NOSPC) {
			*consumed = i;
			/* an empty buffer that cannot take one response never will */
			return out->len == 0 ? PM_IMAP_ERROR : PM_IMAP_FULL;
		}
		*consumed = i + 1;
		return r == R_LOGIN ? PM_IMAP_LOGIN : PM_IMAP_CLOSE;
	}
	*consumed = n;
	return PM_IMAP_AGAIN;
}

const struct pm_imap_login *
pm_imap_login(const struct pm_imap *m)
{
	return &m->lg;
}

/* "<tag> " + pieces + CRLF for the login result, then the phase change. */
static int
login_answer(struct pm_imap *m, struct pm_buf *out, const struct pm_buf_piece *v, size_t cnt)
{
	struct pm_buf_piece all[8];
	size_t i;

	all[0].s = m->lg.tag;
	all[0].n = m->lg.tag_len;
	all[1] = pm_buf_piece_str(" ");
	for (i = 0; i < cnt; i++)
		all[2 + i] = v[i];
	all[2 + cnt] = pm_buf_piece_str("\r\n");
	return pm_buf_append_pieces(out, all, cnt + 3);
}

int
pm_imap_login_failed(struct pm_imap *m, enum pm_imap_fail kind, const char *text,
		     struct pm_buf *out)
{
	struct pm_buf_piece v[2];
	size_t cnt;
	int rc;

	if (m->phase != PM_IMAP_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	switch (kind) {
	case PM_IMAP_FAIL_AUTHFAILED:
		v[0] = pm_buf_piece_str("NO [AUTHENTICATIONFAILED] Authentication failed.");
		cnt = 1;
		break;
	case PM_IMAP_FAIL_UNAVAILABLE:
		if (text == NULL)
			text = PM_IMAP_DEFAULT_UNAVAILABLE;
		if (!text_ok(text, false))
			return -EINVAL;
		v[0] = pm_buf_piece_str("NO [UNAVAILABLE] ");
		v[1] = pm_buf_piece_str(text);
		cnt = 2;
		break;
	case PM_IMAP_FAIL_VERBATIM:
		if (!text_ok(text, false))
			return -EINVAL;
		v[0] = pm_buf_piece_str("NO ");
		v[1] = pm_buf_piece_str(text);
		cnt = 2;
		break;
	default:
		return -EINVAL;
	}
	rc = login_answer(m, out, v, cnt);
	if (rc < 0)
		return rc;
	end_command(m);
	m->phase = PM_IMAP_PHASE_COMMANDS;
	return 0;
}

int
pm_imap_login_ok(struct pm_imap *m, const char *caps, const char *text, struct pm_buf *out)
{
	struct pm_buf_piece v[4];
	size_t cnt = 0;
	int rc;

	if (m->phase != PM_IMAP_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	if (text == NULL)
		text = "Logged in";
	if (!text_ok(text, false) || (caps != NULL && !text_ok(caps, false)))
		return -EINVAL;
	if (caps != NULL) {
		v[cnt++] = pm_buf_piece_str("OK [CAPABILITY ");
		v[cnt++] = pm_buf_piece_str(caps);
		v[cnt++] = pm_buf_piece_str("] ");
	} else {
		v[cnt++] = pm_buf_piece_str("OK ");
	}
	v[cnt++] = pm_buf_piece_str(text);
	rc = login_answer(m, out, v, cnt);
	if (rc < 0)
		return rc;
	wipe_secrets(m);
	m->phase = PM_IMAP_PHASE_DONE;
	return 0;
}

enum pm_imap_phase
pm_imap_phase(const struct pm_imap *m)
{
	return (enum pm_imap_phase)m->phase;
}

uint32_t
pm_imap_bad_count(const struct pm_imap *m)
{
	return m->bad;
}

void
pm_imap_wipe(struct pm_imap *m)
{
	wipe_secrets(m);
}
