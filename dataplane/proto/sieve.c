/*
 * sieve.c -- the client-facing ManageSieve pre-authentication machine
 * (proto/sieve.h).
 *
 * One byte at a time: step() checks the line budget, then lex() runs the
 * byte through the lexer state in m->st. A line is a command name (read up to
 * SP, CR or LF, as managesieve_parser_read_word() does) and, for a known
 * command, arguments: atoms, quoted strings and literals (no lists in
 * ManageSieve). The lexer feeds a small per-command consumer
 * (arg_begin/arg_byte/arg_end) that keeps what the command needs: the NOOP
 * echo string, the AUTHENTICATE mechanism and the SASL string, which is
 * base64-decoded into the PLAIN fields on the fly. An unknown command's line
 * is skipped unparsed, as Pigeonhole does (client.c, client_handle_input()).
 *
 * The SASL string (the initial response, or the response line after the ""
 * challenge) follows Pigeonhole's string-stream rules
 * (managesieve-parser.c, quoted_string_istream_read()): no UTF-8 check, other
 * error texts, and the rest of its line is ignored.
 *
 * Atomicity: every response is appended in one all-or-nothing write before
 * anything else changes, and the states a byte passes through on the way are
 * ones the same byte would be handled in again. So when out has no room
 * (R_NOSPC), step() only undoes its line_len count and the caller can feed
 * the same byte again later.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/sasl.h"
#include "proto/sieve.h"
#include "proto/utf8.h"

/* Lexer states (m->st). */
enum {
	ST_NAME,	/* reading the command name */
	ST_ARGS,	/* between arguments */
	ST_ATOM,
	ST_QUOTED,
	ST_QESC,	/* after a backslash in a quoted string */
	ST_LITLEN,	/* after '{': digits, '+' or '}' */
	ST_LITPLUS,	/* after '+': expecting '}' */
	ST_LITCR,	/* after '}': expecting CR or LF */
	ST_LITLF,	/* after "}\r": expecting LF */
	ST_LITDATA,	/* literal bytes, m->lit left */
	ST_CR,		/* a CR between arguments: LF must follow */
	ST_SKIP,	/* a rejected line: skip to LF, minding literal markers */
	ST_SKIP_LIT,	/* a literal's data in a rejected line */
	ST_REST,	/* after the SASL string: ignore up to LF */
};

/* Commands (m->cmd). C_RESP is the SASL response line after "". */
enum {
	C_UNKNOWN,
	C_AUTHENTICATE,
	C_CAPABILITY,
	C_STARTTLS,
	C_NOOP,
	C_LOGOUT,
	C_XCLIENT,
	C_RESP,
};

/* The verdict on a line (m->err); everything but E_NONE and E_BAD is a NO
 * with that text, not counted as a bad command. */
enum {
	E_NONE,
	E_BAD,		/* a bad command: counted */
	E_CR_LF,
	E_ATOM_CHARS,
	E_ATOM_8BIT,
	E_STR_CHAR,
	E_STR_ESCAPE,
	E_STR_NUL,
	E_STR_UTF8,
	E_LIT_UTF8,
	E_LIT_SIZE,
	E_LIT_PLUS,
	E_LIT_LF,
	E_SASL_ESCAPE,
	E_SASL_CHAR,
	E_IR_INVALID,
	E_RESP_INVALID,
	E_RESP_EMPTY,
	E__COUNT,
};

/* Pigeonhole 0.5.19's texts, each seen from the real server. */
static const char *const err_text[E__COUNT] = {
	[E_NONE] = "",
	[E_BAD] = "NO \"Error in MANAGESIEVE command received by server.\"",
	[E_CR_LF] = "NO \"CR sent without LF\"",
	[E_ATOM_CHARS] = "NO \"Invalid characters in atom\"",
	[E_ATOM_8BIT] = "NO \"8bit data in atom\"",
	[E_STR_CHAR] = "NO \"String contains invalid character.\"",
	[E_STR_ESCAPE] = "NO \"Escaped quoted-string character is not a QUOTED-SPECIAL.\"",
	[E_STR_NUL] = "NO \"NULs not allowed in strings\"",
	[E_STR_UTF8] = "NO \"Invalid UTF-8 character in quoted-string.\"",
	[E_LIT_UTF8] = "NO \"Invalid UTF-8 character in literal string.\"",
	[E_LIT_SIZE] = "NO \"Invalid literal size\"",
	[E_LIT_PLUS] = "NO \"Expecting '}' after '+'\"",
	[E_LIT_LF] = "NO \"Missing LF after literal size\"",
	[E_SASL_ESCAPE] = "NO \"Error in AUTHENTICATE response string: Escaped quoted-string "
			  "character is not a QUOTED-SPECIAL\"",
	[E_SASL_CHAR] = "NO \"Error in AUTHENTICATE response string: Quoted string contains "
			"an invalid character\"",
	[E_IR_INVALID] = "NO \"Invalid AUTHENTICATE initial response.\"",
	[E_RESP_INVALID] = "NO \"Invalid AUTHENTICATE client response.\"",
	[E_RESP_EMPTY] = "NO \"Received empty AUTHENTICATE client response line.\"",
};

#define T_AUTHFAILED	"NO \"Authentication failed.\""

/* Per-line flags (m->flags). */
#define F_SASL		0x0001u	/* the current token is the SASL string */
#define F_SASL_DONE	0x0002u	/* the SASL string was read */
#define F_PLAIN		0x0004u	/* the mechanism is PLAIN */
#define F_NONSYNC	0x0008u	/* the literal size had '+' */
#define F_U8_BAD	0x0010u	/* the string is not valid UTF-8 */
#define F_B64_CHARS	0x0040u	/* the SASL string has a byte outside the base64
				 * alphabet and '=' */
#define F_FIRST_EQ	0x0080u	/* the SASL string starts with '=' */
#define F_FIRST_STAR	0x0100u	/* the SASL string starts with '*' */
#define F_ECHO_CUT	0x0400u	/* the echo string met a NUL: the rest is dropped */
#define F_ECHO_ESC	0x0800u	/* the echo string has '"' or '\' */
#define F_ECHO_LIT	0x1000u	/* the echo string has CR or LF */

/* Token kinds (m->kind0 for the first argument). */
enum { K_NONE, K_ATOM, K_QUOTED, K_LITERAL };

/* Skip-mode literal marker tracker (m->tail): "{" digits ["+"] "}" [CR] LF. */
enum { T_NONE, T_OPEN, T_PLUS, T_CLOSED, T_CLOSED_CR };

/* step() results. */
enum { R_CONT, R_LOGIN, R_CLOSE, R_NOSPC };

/* ---- output -------------------------------------------------------------- */

/* The capability lines (client.c, client_send_capabilities()), then @ok. */
static int
caps_and(const struct pm_sieve *m, struct pm_buf *out, const char *ok1, const char *ok2,
	 const char *ok3)
{
	bool notify = m->p.notify != NULL && m->p.notify[0] != '\0';
	struct pm_buf_piece v[] = {
		PM_BUF_PIECE("\"IMPLEMENTATION\" \""), pm_buf_piece_str(m->p.implementation),
		PM_BUF_PIECE("\"\r\n"),
		PM_BUF_PIECE("\"SIEVE\" \""), pm_buf_piece_str(m->p.sieve), PM_BUF_PIECE("\"\r\n"),
		PM_BUF_PIECE("\"NOTIFY\" \""), pm_buf_piece_str(notify ? m->p.notify : ""),
		PM_BUF_PIECE("\"\r\n"),
		PM_BUF_PIECE("\"SASL\" \"PLAIN\"\r\n\"VERSION\" \"1.0\"\r\n"),
		pm_buf_piece_str(ok1), pm_buf_piece_str(ok2), pm_buf_piece_str(ok3), PM_BUF_CRLF,
	};

	if (!notify)
		v[6].n = v[7].n = v[8].n = 0;
	return pm_buf_append_pieces(out, v, sizeof(v) / sizeof(v[0]));
}

/* The greeting (the largest answer): 85 fixed bytes and four params strings;
 * NO (TRYLATER) with a text of 3-byte replacements and a NOOP echo with
 * every byte escaped are smaller. */
_Static_assert(4 * PM_SIEVE_TEXT_MAX + 85 <= PM_SIEVE_OUT_MIN, "the greeting fits OUT_MIN");
_Static_assert(3 * PM_SIEVE_TEXT_MAX + 18 <= PM_SIEVE_OUT_MIN, "NO (TRYLATER) fits OUT_MIN");
_Static_assert(2 * PM_SIEVE_ECHO_MAX + 24 <= PM_SIEVE_OUT_MIN, "the echo fits OUT_MIN");

/* ---- UTF-8 (strict, proto/utf8.h) ---- */

static void
u8_reset(struct pm_sieve *m)
{
	pm_utf8_reset(&m->u8);
	m->flags &= ~F_U8_BAD;
}

static void
u8_byte(struct pm_sieve *m, uint8_t c)
{
	if (!pm_utf8_byte(&m->u8, c))
		m->flags |= F_U8_BAD;
}

static bool
u8_ok(const struct pm_sieve *m)
{
	return !(m->flags & F_U8_BAD) && m->u8.need == 0;
}



/* ---- state resets ---------------------------------------------------------- */

/* Forget the secrets of the command being read. */
static void
wipe_secrets(struct pm_sieve *m)
{
	explicit_bzero(m->lg.pass, sizeof(m->lg.pass));
	m->lg.pass_len = 0;
	pm_sasl_b64_wipe(&m->b64);
}

/* Ready for the next line of the same kind (command or SASL response). */
static void
line_reset(struct pm_sieve *m)
{
	m->line_len = 0;
	m->lit = 0;
	m->tok_len = 0;
	m->err = E_NONE;
	m->nargs = 0;
	m->kind0 = K_NONE;
	m->tail = T_NONE;
	m->echo_len = 0;
	pm_sasl_b64_reset(&m->b64);
	pm_sasl_plain_reset(&m->plain);
	m->flags &= F_PLAIN;	/* the mechanism outlives the challenge */
	u8_reset(m);
}

/* The command was answered: forget it entirely. */
static void
end_command(struct pm_sieve *m)
{
	wipe_secrets(m);
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	m->cmd = C_UNKNOWN;
	m->name_len = 0;
	line_reset(m);
	m->flags = 0;
	m->st = ST_NAME;
}

/* Emit @text (a full line without CRLF) and close. */
static int
close_with(struct pm_sieve *m, struct pm_buf *out, const char *text)
{
	if (pm_buf_append_line(out, text) < 0)
		return R_NOSPC;
	end_command(m);
	m->phase = PM_SIEVE_PHASE_CLOSED;
	return R_CLOSE;
}

/* Answer the line with @text and go on with the next one. */
static int
answer(struct pm_sieve *m, struct pm_buf *out, const char *text)
{
	if (pm_buf_append_line(out, text) < 0)
		return R_NOSPC;
	end_command(m);
	return R_CONT;
}

/* A bad command (client.c: bad_counter against CLIENT_MAX_BAD_COMMANDS). */
static int
bad_command(struct pm_sieve *m, struct pm_buf *out)
{
	int r;

	if (m->bad + 1 >= m->p.max_bad) {
		r = close_with(m, out, "BYE \"Too many invalid MANAGESIEVE commands.\"");
		if (r == R_CLOSE)
			m->bad++;
		return r;
	}
	if (pm_buf_append_line(out, err_text[E_BAD]) < 0)
		return R_NOSPC;
	m->bad++;
	end_command(m);
	return R_CONT;
}

static int
input_full(struct pm_sieve *m, struct pm_buf *out)
{
	return close_with(m, out, "BYE \"Input buffer full, aborting\"");
}

static int
literal_too_large(struct pm_sieve *m, struct pm_buf *out)
{
	return close_with(m, out, "BYE \"Literal size too large\"");
}

/* ---- small helpers --------------------------------------------------------- */

static uint8_t
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* ATOM-SPECIALS = "(" / ")" / "{" / SP / CTL / QUOTED-SPECIALS (RFC 5804
 * section 4); 8-bit bytes are tested separately, as Pigeonhole does. */
static bool
atom_special(uint8_t c)
{
	return c <= 0x20 || c == 0x7f || c == '(' || c == ')' || c == '{' || c == '"' ||
	       c == '\\';
}

static int
command_lookup(const char *name, size_t n)
{
	static const struct {
		const char *name;
		int cmd;
	} tab[] = {
		{ "AUTHENTICATE", C_AUTHENTICATE }, { "CAPABILITY", C_CAPABILITY },
		{ "STARTTLS", C_STARTTLS },	    { "NOOP", C_NOOP },
		{ "LOGOUT", C_LOGOUT },		    { "XCLIENT", C_XCLIENT },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && memcmp(tab[i].name, name, n) == 0)
			return tab[i].cmd;
	return C_UNKNOWN;
}

/* ---- SASL: base64 and PLAIN (proto/sasl.h) --------------------------------- */

/* The login fields a PLAIN message is split into. */
static struct pm_sasl_plain_fields
plain_fields(struct pm_sieve *m)
{
	struct pm_sasl_plain_fields f = {
		{ m->lg.authzid, &m->lg.authzid_len, PM_SIEVE_USER_MAX },
		{ m->lg.user, &m->lg.user_len, PM_SIEVE_USER_MAX },
		{ m->lg.pass, &m->lg.pass_len, PM_SIEVE_PASS_MAX },
	};

	return f;
}

/* One character of a PLAIN string. A byte outside the alphabet and '=' is
 * told apart (F_B64_CHARS): Dovecot's login process rejects those in a
 * response with its own text before the auth process decodes it
 * (verified). The decoder takes it too, which makes the rest invalid. */
static void
b64_byte(struct pm_sieve *m, uint8_t c)
{
	struct pm_sasl_plain_fields f = plain_fields(m);

	if (!pm_sasl_b64_char(c))
		m->flags |= F_B64_CHARS;
	pm_sasl_plain_feed(&m->b64, &m->plain, &f, c);
}

/* One content byte of the SASL string. */
static void
sasl_byte(struct pm_sieve *m, uint8_t c)
{
	if (m->tok_len == 0) {
		if (c == '=')
			m->flags |= F_FIRST_EQ;
		else if (c == '*')
			m->flags |= F_FIRST_STAR;
	}
	if (m->tok_len < UINT16_MAX)
		m->tok_len++;
	if (m->flags & F_PLAIN)
		b64_byte(m, c);
}

/* The decoded PLAIN message is complete and valid base64. */
static int
plain_finish(struct pm_sieve *m, struct pm_buf *out, bool ir)
{
	struct pm_sasl_plain_fields f = plain_fields(m);

	/* mech-plain.c (pm_sasl_plain_finish(); verified: "user1 NUL user1
	 * NUL pass" logs in): anything but a valid message fails as a bad
	 * password would */
	if (pm_sasl_plain_finish(&m->plain, &f) < 0)
		return answer(m, out, T_AUTHFAILED);
	m->lg.mech = PM_SIEVE_MECH_PLAIN;
	m->lg.sasl_ir = ir;
	m->cmd = C_UNKNOWN;
	m->name_len = 0;
	line_reset(m);	/* wipes the decoder */
	m->flags = 0;
	m->st = ST_NAME;
	m->phase = PM_SIEVE_PHASE_LOGIN;
	return R_LOGIN;
}

/* LF of an AUTHENTICATE line whose mechanism was read. */
static int
auth_line_end(struct pm_sieve *m, struct pm_buf *out)
{
	/* client_auth_begin(): the mechanism is looked up after the initial
	 * response was read, before it is decoded */
	if (!(m->flags & F_PLAIN))
		return answer(m, out, "NO \"Unsupported authentication mechanism.\"");
	if (!(m->flags & F_SASL_DONE)) {
		/* No initial response: an empty challenge, then one response
		 * line (verified: "" CRLF). */
		if (pm_buf_append_line(out, "\"\"") < 0)
			return R_NOSPC;
		wipe_secrets(m);
		m->lg.user_len = 0;
		m->lg.authzid_len = 0;
		line_reset(m);
		m->cmd = C_RESP;
		m->st = ST_ARGS;
		return R_CONT;
	}
	if (m->tok_len == 0 || (m->tok_len == 1 && (m->flags & F_FIRST_EQ)))
		return answer(m, out, T_AUTHFAILED);	/* "" or "=": empty */
	if (!pm_sasl_b64_complete(&m->b64))
		return answer(m, out, "NO \"Invalid base64 data in initial response\"");
	return plain_finish(m, out, true);
}

/* LF of the response line after "". */
static int
resp_line_end(struct pm_sieve *m, struct pm_buf *out)
{
	if (!(m->flags & F_SASL_DONE))
		return answer(m, out, err_text[E_RESP_EMPTY]);
	if (m->tok_len == 1 && (m->flags & F_FIRST_STAR))
		return answer(m, out, "NO \"Authentication aborted by client.\"");
	if (m->tok_len == 0)
		return answer(m, out, T_AUTHFAILED);
	if (m->flags & F_B64_CHARS)
		return answer(m, out, "NO \"Invalid base64 in response\"");
	if (!pm_sasl_b64_complete(&m->b64))
		return answer(m, out, "NO \"Invalid base64 data in continued response\"");
	return plain_finish(m, out, false);
}

/* ---- NOOP's echo ------------------------------------------------------------ */

/* OK (TAG <string>) "Done", the string re-quoted as managesieve-quote.c
 * does without collapsing white space: with CR or LF a literal; otherwise
 * quoted, '"' and '\' escaped and, only then, tabs turned into spaces. */
static int
echo_answer(struct pm_sieve *m, struct pm_buf *out)
{
	char head[24];
	size_t need, i;
	int k;

	if (m->flags & F_ECHO_LIT) {
		k = snprintf(head, sizeof(head), "OK (TAG {%u}\r\n", (unsigned)m->echo_len);
		need = (size_t)k + m->echo_len + sizeof(") \"Done\"\r\n") - 1;
	} else {
		k = snprintf(head, sizeof(head), "OK (TAG \"");
		need = (size_t)k + m->echo_len + sizeof("\") \"Done\"\r\n") - 1;
		if (m->flags & F_ECHO_ESC) {
			for (i = 0; i < m->echo_len; i++)
				need += m->echo[i] == '"' || m->echo[i] == '\\';
		}
	}
	if (pm_buf_room(out) < need)
		return R_NOSPC;
	memcpy(out->p + out->len, head, (size_t)k);
	out->len += (size_t)k;
	if (!(m->flags & F_ECHO_ESC) || (m->flags & F_ECHO_LIT)) {
		memcpy(out->p + out->len, m->echo, m->echo_len);
		out->len += m->echo_len;
	} else {
		for (i = 0; i < m->echo_len; i++) {
			char c = m->echo[i];

			if (c == '"' || c == '\\')
				out->p[out->len++] = '\\';
			out->p[out->len++] = (uint8_t)(c == '\t' ? ' ' : c);
		}
	}
	if (m->flags & F_ECHO_LIT)
		pm_buf_append_str(out, ") \"Done\"\r\n");
	else
		pm_buf_append_str(out, "\") \"Done\"\r\n");
	end_command(m);
	return R_CONT;
}

/* ---- end of a line ----------------------------------------------------------- */

/* The LF of a command line (also of a skipped one). The order follows
 * client.c: a parse error first, then the command's own checks. */
static int
finish_line(struct pm_sieve *m, struct pm_buf *out)
{
	if (m->err == E_BAD)
		return bad_command(m, out);
	if (m->err != E_NONE)
		return answer(m, out, err_text[m->err]);

	switch (m->cmd) {
	case C_CAPABILITY:
		if (m->nargs > 0)
			return bad_command(m, out);
		if (caps_and(m, out, "OK \"Capability completed.\"", "", "") < 0)
			return R_NOSPC;
		end_command(m);
		return R_CONT;
	case C_STARTTLS:
		if (m->nargs > 0)
			return bad_command(m, out);
		return answer(m, out, "NO \"TLS support isn't enabled.\"");
	case C_LOGOUT:
		if (m->nargs > 0)
			return bad_command(m, out);
		return close_with(m, out, "OK \"Logout completed.\"");
	case C_NOOP:
		if (m->nargs == 0)
			return answer(m, out, "OK \"NOOP Completed\"");
		if (m->nargs > 1)
			return bad_command(m, out);
		if (m->kind0 == K_ATOM)
			return answer(m, out, "NO \"Invalid echo tag.\"");
		return echo_answer(m, out);
	case C_XCLIENT:
		return answer(m, out, "NO \"You are not from trusted IP\"");
	case C_AUTHENTICATE:
		if (m->nargs == 0)
			return bad_command(m, out);
		return auth_line_end(m, out);
	case C_RESP:
		return resp_line_end(m, out);
	default:
		return bad_command(m, out);
	}
}

/* ---- the argument consumer ----------------------------------------------------- */

/* Is the token starting now the SASL string? */
static bool
sasl_position(const struct pm_sieve *m)
{
	return (m->cmd == C_AUTHENTICATE && m->nargs == 1) || (m->cmd == C_RESP && m->nargs == 0);
}

/* A token of kind @kind starts. Returns an error to report, or E_NONE. */
static int
arg_begin(struct pm_sieve *m, int kind)
{
	bool sasl = sasl_position(m);

	if (m->nargs == 0)
		m->kind0 = (uint8_t)kind;
	if (m->nargs < UINT8_MAX)
		m->nargs++;
	m->tok_len = 0;
	m->flags &= ~F_SASL;
	u8_reset(m);
	if (sasl) {
		if (kind == K_ATOM)
			return m->cmd == C_RESP ? E_RESP_INVALID : E_IR_INVALID;
		m->flags |= F_SASL;
		wipe_secrets(m);
		m->lg.user_len = 0;
		m->lg.authzid_len = 0;
		pm_sasl_plain_reset(&m->plain);
		return E_NONE;
	}
	/* AUTHENTICATE's mechanism must be a string (client-authenticate.c) */
	if (m->cmd == C_AUTHENTICATE && m->nargs == 1 && kind == K_ATOM)
		return E_BAD;
	return E_NONE;
}

/* One content byte of the current token. Returns R_CONT, or what closing
 * for an over-long echo string returned (checked before anything changes,
 * so that on R_NOSPC the byte can be fed again). */
static int
arg_byte(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	bool echo = m->cmd == C_NOOP && m->nargs == 1 && !(m->flags & F_ECHO_CUT);

	if (m->flags & F_SASL) {
		sasl_byte(m, c);
		return R_CONT;
	}
	if (echo && c != 0 && m->echo_len >= PM_SIEVE_ECHO_MAX)
		return input_full(m, out);
	if (m->tok_len < UINT16_MAX)
		m->tok_len++;
	u8_byte(m, c);
	if (m->cmd == C_AUTHENTICATE && m->nargs == 1) {
		/* the mechanism: kept upper-cased, too long = unsupported */
		if (m->name_len < sizeof(m->name) - 1)
			m->name[m->name_len++] = (char)upper(c);
		else
			m->name_len = sizeof(m->name);
	} else if (echo) {
		if (c == 0) {
			/* the echo is a C string in Pigeonhole: a NUL (only a
			 * literal can carry one) ends it (verified) */
			m->flags |= F_ECHO_CUT;
			return R_CONT;
		}
		if (c == '"' || c == '\\')
			m->flags |= F_ECHO_ESC;
		else if (c == '\r' || c == '\n')
			m->flags |= F_ECHO_LIT;
		m->echo[m->echo_len++] = (char)c;
	}
	return R_CONT;
}

/* The current token ended. Returns an error to report, or E_NONE. */
static int
arg_end(struct pm_sieve *m, int kind)
{
	if (m->flags & F_SASL) {
		m->flags &= ~F_SASL;
		m->flags |= F_SASL_DONE;
		return E_NONE;
	}
	if (kind != K_ATOM && !u8_ok(m))
		return kind == K_QUOTED ? E_STR_UTF8 : E_LIT_UTF8;
	if (m->cmd == C_AUTHENTICATE && m->nargs == 1) {
		if (m->tok_len == 0)
			return E_BAD;	/* an empty mechanism name */
		if (m->name_len == 5 && memcmp(m->name, "PLAIN", 5) == 0)
			m->flags |= F_PLAIN;
	}
	return E_NONE;
}

/* ---- the lexer ------------------------------------------------------------- */

static int lex(struct pm_sieve *m, uint8_t c, struct pm_buf *out);
static int args_byte(struct pm_sieve *m, uint8_t c, struct pm_buf *out);

/* A syntax error (or a bad command) at byte @c: skip the rest of the line,
 * then answer. */
static int
reject(struct pm_sieve *m, int err, uint8_t c, struct pm_buf *out)
{
	m->err = (uint8_t)err;
	m->flags &= ~(F_SASL | F_SASL_DONE);
	m->st = ST_SKIP;
	m->tail = T_NONE;
	return lex(m, c, out);
}

/* A syntax error found at the byte that was just used up: skip the rest of
 * the line from the next byte on. */
static int
reject_after(struct pm_sieve *m, int err)
{
	m->err = (uint8_t)err;
	m->flags &= ~(F_SASL | F_SASL_DONE);
	m->st = ST_SKIP;
	m->tail = T_NONE;
	return R_CONT;
}

/* The current token ended. An atom ends at the byte @c, which is then read
 * as the next thing between arguments; a quoted string or a literal ends
 * with @c used up. The SASL string ends its line's parse. */
static int
token_done(struct pm_sieve *m, int kind, uint8_t c, struct pm_buf *out)
{
	bool again = kind == K_ATOM;
	int err = arg_end(m, kind);

	if (err != E_NONE)
		return again ? reject(m, err, c, out) : reject_after(m, err);
	if (m->flags & F_SASL_DONE) {
		m->st = ST_REST;
		return again ? lex(m, c, out) : R_CONT;
	}
	m->st = ST_ARGS;
	return again ? args_byte(m, c, out) : R_CONT;
}

/* The LF after "{n}" or "{n+}": the data follows at once (no continuation
 * in ManageSieve, verified). */
static int
literal_start(struct pm_sieve *m, struct pm_buf *out)
{
	int err;

	/* managesieve-parser.c: literal_size > max_line_size - line_size is
	 * fatal */
	if (m->lit > PM_SIEVE_LINE_MAX - m->line_len)
		return literal_too_large(m, out);
	err = arg_begin(m, K_LITERAL);
	if (err != E_NONE) {
		/* not reached: only atoms are refused when they begin */
		reject_after(m, err);
		if (m->lit > 0)
			m->st = ST_SKIP_LIT;
		return R_CONT;
	}
	if (m->lit == 0)
		return token_done(m, K_LITERAL, 0, out);
	m->st = ST_LITDATA;
	return R_CONT;
}

/* Skip mode: look for "{n}" / "{n+}" right before the LF; its data follows. */
static int
skip_byte(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	if (c == '\n') {
		if (m->tail == T_CLOSED || m->tail == T_CLOSED_CR) {
			if (m->lit > PM_SIEVE_LINE_MAX - m->line_len)
				return literal_too_large(m, out);
			m->tail = T_NONE;
			if (m->lit > 0)
				m->st = ST_SKIP_LIT;
			return R_CONT;
		}
		return finish_line(m, out);
	}
	switch (m->tail) {
	case T_OPEN:
		if (c >= '0' && c <= '9') {
			/* saturate above the line budget (checked at the LF);
			 * compared before multiplying, so it never wraps */
			if (m->lit > (PM_SIEVE_LINE_MAX - (c - '0')) / 10)
				m->lit = PM_SIEVE_LINE_MAX + 1;
			else
				m->lit = (uint16_t)(m->lit * 10 + (c - '0'));
			return R_CONT;
		}
		if (c == '+') {
			m->tail = T_PLUS;
			return R_CONT;
		}
		if (c == '}') {
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
	}
	return R_CONT;
}

static int
args_byte(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	int err;

	switch (c) {
	case ' ':
		return R_CONT;
	case '\r':
		m->st = ST_CR;
		return R_CONT;
	case '\n':
		return finish_line(m, out);
	case '"':
		err = arg_begin(m, K_QUOTED);
		if (err != E_NONE)
			return reject(m, err, c, out);
		m->st = ST_QUOTED;
		return R_CONT;
	case '{':
		m->lit = 0;
		m->flags &= ~F_NONSYNC;
		m->st = ST_LITLEN;
		return R_CONT;
	default:
		if (c & 0x80)
			return reject(m, E_ATOM_8BIT, c, out);
		if (atom_special(c))
			return reject(m, E_ATOM_CHARS, c, out);
		err = arg_begin(m, K_ATOM);
		if (err != E_NONE)
			return reject(m, err, c, out);
		m->st = ST_ATOM;
		return R_CONT;
	}
}

static int
end_of_name(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	m->cmd = (uint8_t)(m->name_len <= sizeof(m->name) - 1
				   ? command_lookup(m->name, m->name_len) : C_UNKNOWN);
	m->name_len = 0;
	if (m->cmd == C_UNKNOWN) {
		/* not parsed: skipped to its LF (client_skip_line()) */
		m->err = E_BAD;
		m->st = ST_SKIP;
		m->tail = T_NONE;
		return c == '\n' ? finish_line(m, out) : R_CONT;
	}
	m->st = ST_ARGS;
	return c == ' ' ? R_CONT : args_byte(m, c, out);
}

static int
lex(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	uint8_t d;

	switch (m->st) {
	case ST_NAME:
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
		if (c == ' ' || c == ')' || c == '\r' || c == '\n')
			return token_done(m, K_ATOM, c, out);
		if (c & 0x80)
			return reject(m, E_ATOM_8BIT, c, out);
		if (atom_special(c))
			return reject(m, E_ATOM_CHARS, c, out);
		return arg_byte(m, c, out);

	case ST_QUOTED:
		if (c == '"')
			return token_done(m, K_QUOTED, c, out);
		if (c == '\\') {
			m->st = ST_QESC;
			return R_CONT;
		}
		if (m->flags & F_SASL) {
			if (c == '\r' || c == '\n')
				return reject(m, E_SASL_CHAR, c, out);
			return arg_byte(m, c, out);
		}
		if (c == '\r' || c == '\n')
			return reject(m, E_STR_CHAR, c, out);
		if (c == 0)
			return reject(m, E_STR_NUL, c, out);
		return arg_byte(m, c, out);

	case ST_QESC:
		if (c == '"' || c == '\\') {
			int r = arg_byte(m, c, out);

			if (r == R_CONT)
				m->st = ST_QUOTED;
			return r;
		}
		return reject(m, (m->flags & F_SASL) ? E_SASL_ESCAPE : E_STR_ESCAPE, c, out);

	case ST_LITLEN:
		if (c >= '0' && c <= '9') {
			/* Bound check before multiplying: lit * 10 + d fits
			 * the line budget, which fits uint16_t. */
			d = (uint8_t)(c - '0');
			if (m->lit > (PM_SIEVE_LINE_MAX - d) / 10)
				return literal_too_large(m, out);
			m->lit = (uint16_t)(m->lit * 10 + d);
			return R_CONT;
		}
		if (c == '+') {
			m->flags |= F_NONSYNC;
			m->st = ST_LITPLUS;
			return R_CONT;
		}
		/* "{}" is a literal of size 0 to Pigeonhole's parser */
		if (c == '}') {
			m->st = ST_LITCR;
			return R_CONT;
		}
		return reject(m, E_LIT_SIZE, c, out);

	case ST_LITPLUS:
		if (c != '}')
			return reject(m, E_LIT_PLUS, c, out);
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
			return reject(m, E_LIT_LF, c, out);
		return literal_start(m, out);

	case ST_LITDATA: {
		int r = arg_byte(m, c, out);

		if (r != R_CONT)
			return r;
		if (--m->lit == 0)
			return token_done(m, K_LITERAL, c, out);
		return R_CONT;
	}

	case ST_CR:
		if (c == '\n')
			return finish_line(m, out);
		return reject(m, E_CR_LF, c, out);

	case ST_SKIP:
		return skip_byte(m, c, out);

	case ST_SKIP_LIT:
		if (--m->lit == 0)
			m->st = ST_SKIP;
		return R_CONT;

	case ST_REST:
		/* client_skip_line(): up to the LF, nothing parsed */
		if (c == '\n')
			return finish_line(m, out);
		return R_CONT;

	default:
		return R_CLOSE;	/* unreachable */
	}
}

/* One byte; the line budget first (Dovecot: "Input buffer full"). */
static int
step(struct pm_sieve *m, uint8_t c, struct pm_buf *out)
{
	int r;

	if (m->line_len >= PM_SIEVE_LINE_MAX)
		return input_full(m, out);
	m->line_len++;
	r = lex(m, c, out);
	if (r == R_NOSPC)
		m->line_len--;	/* everything else this byte did is redone */
	return r;
}

/* ---- API ------------------------------------------------------------------- */

void
pm_sieve_params_defaults(struct pm_sieve_params *p)
{
	p->implementation = PM_SIEVE_DEFAULT_IMPLEMENTATION;
	p->sieve = PM_SIEVE_DEFAULT_SIEVE;
	p->notify = PM_SIEVE_DEFAULT_NOTIFY;
	p->greeting = PM_SIEVE_DEFAULT_GREETING;
	p->max_bad = PM_SIEVE_DEFAULT_MAX_BAD;
}

/* A params string we put between quotes as it is. */
static bool
param_ok(const char *s, bool empty_ok)
{
	size_t n, i;

	if (s == NULL)
		return false;
	n = strnlen(s, PM_SIEVE_TEXT_MAX + 1);
	if (n > PM_SIEVE_TEXT_MAX || (n == 0 && !empty_ok))
		return false;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			return false;
	}
	return pm_utf8_valid(s, n);
}

int
pm_sieve_params_check(const struct pm_sieve_params *p)
{
	if (p == NULL || !param_ok(p->implementation, false) || !param_ok(p->sieve, false) ||
	    (p->notify != NULL && !param_ok(p->notify, true)) ||
	    !param_ok(p->greeting, true) || p->greeting[0] == ' ' ||
	    strstr(p->greeting, "  ") != NULL || p->max_bad < 1 ||
	    p->max_bad > PM_SIEVE_MAX_BAD_MAX)
		return -EINVAL;
	return 0;
}

int
pm_sieve_init(struct pm_sieve *m, const struct pm_sieve_params *params)
{
	if (m == NULL || pm_sieve_params_check(params) < 0)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->p = *params;
	m->phase = PM_SIEVE_PHASE_COMMANDS;
	end_command(m);
	return 0;
}

int
pm_sieve_greet(struct pm_sieve *m, struct pm_buf *out)
{
	if (!pm_buf_ok(out) || m->phase != PM_SIEVE_PHASE_COMMANDS)
		return -EINVAL;
	return caps_and(m, out, "OK \"", m->p.greeting, "\"");
}

enum pm_sieve_status
pm_sieve_feed(struct pm_sieve *m, const uint8_t *p, size_t n, size_t *consumed,
	      struct pm_buf *out)
{
	size_t i;
	int r;

	*consumed = 0;
	if (m->phase != PM_SIEVE_PHASE_COMMANDS || !pm_buf_ok(out) || (p == NULL && n > 0))
		return PM_SIEVE_ERROR;
	for (i = 0; i < n; i++) {
		r = step(m, p[i], out);
		if (r == R_CONT)
			continue;
		if (r == R_NOSPC) {
			*consumed = i;
			/* an empty buffer that cannot take one response never will */
			return out->len == 0 ? PM_SIEVE_ERROR : PM_SIEVE_FULL;
		}
		*consumed = i + 1;
		return r == R_LOGIN ? PM_SIEVE_LOGIN : PM_SIEVE_CLOSE;
	}
	*consumed = n;
	return PM_SIEVE_AGAIN;
}

const struct pm_sieve_login *
pm_sieve_login(const struct pm_sieve *m)
{
	return &m->lg;
}

/* A login result text: bounded, no CR, LF or NUL. */
static bool
text_ok(const char *s, bool empty_ok)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strnlen(s, PM_SIEVE_TEXT_MAX + 1);
	if (n > PM_SIEVE_TEXT_MAX || (n == 0 && !empty_ok))
		return false;
	return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL;
}

/*
 * NO (TRYLATER) "<text>", quoted as managesieve_quote_append() does for
 * Pigeonhole's proxy (verified): '"' and '\' escaped, tabs turned into spaces
 * when there is something to escape, and each run of bytes that are not valid
 * UTF-8 replaced by one U+FFFD (uni_utf8_get_valid_data()). At most
 * 3 * PM_SIEVE_TEXT_MAX + 20 bytes.
 */
static int
trylater(struct pm_buf *out, const char *text)
{
	static const char head[] = "NO (TRYLATER) \"", tail[] = "\"\r\n", repl[] = "\xef\xbf\xbd";
	const uint8_t *s = (const uint8_t *)text;
	size_t n = strlen(text), need = sizeof(head) - 1 + sizeof(tail) - 1, i, k;
	bool esc = strpbrk(text, "\"\\") != NULL, last_repl = false;

	for (i = 0; i < n; i += k) {
		k = pm_utf8_seq(s + i, n - i);
		if (k == 0) {
			need += last_repl ? 0 : 3;
			last_repl = true;
			k = 1;
			continue;
		}
		last_repl = k == 3 && memcmp(s + i, repl, 3) == 0;
		need += k + (k == 1 && (s[i] == '"' || s[i] == '\\'));
	}
	if (pm_buf_room(out) < need)
		return -ENOSPC;
	pm_buf_append(out, head, sizeof(head) - 1);
	last_repl = false;
	for (i = 0; i < n; i += k) {
		k = pm_utf8_seq(s + i, n - i);
		if (k == 0) {
			if (!last_repl)
				pm_buf_append(out, repl, 3);
			last_repl = true;
			k = 1;
			continue;
		}
		last_repl = k == 3 && memcmp(s + i, repl, 3) == 0;
		if (k == 1 && (s[i] == '"' || s[i] == '\\'))
			out->p[out->len++] = '\\';
		if (k == 1 && s[i] == '\t' && esc)
			out->p[out->len++] = ' ';
		else
			pm_buf_append(out, s + i, k);
	}
	pm_buf_append(out, tail, sizeof(tail) - 1);
	return 0;
}

int
pm_sieve_login_failed(struct pm_sieve *m, enum pm_sieve_fail kind, const char *text,
		      struct pm_buf *out)
{
	struct pm_buf_piece v[3];
	int rc;

	if (m->phase != PM_SIEVE_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	switch (kind) {
	case PM_SIEVE_FAIL_AUTHFAILED:
		rc = pm_buf_append_line(out, T_AUTHFAILED);
		break;
	case PM_SIEVE_FAIL_UNAVAILABLE:
		if (text == NULL)
			text = PM_SIEVE_DEFAULT_UNAVAILABLE;
		if (!text_ok(text, true))
			return -EINVAL;
		rc = trylater(out, text);
		break;
	case PM_SIEVE_FAIL_VERBATIM:
		if (!text_ok(text, false))
			return -EINVAL;
		v[0] = pm_buf_piece_str("NO ");
		v[1] = pm_buf_piece_str(text);
		v[2] = pm_buf_piece_str("\r\n");
		rc = pm_buf_append_pieces(out, v, 3);
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	end_command(m);
	m->phase = PM_SIEVE_PHASE_COMMANDS;
	return 0;
}

int
pm_sieve_login_ok(struct pm_sieve *m, const char *ok_line, struct pm_buf *out)
{
	int rc;

	if (m->phase != PM_SIEVE_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	if (ok_line == NULL)
		ok_line = "OK \"Logged in.\"";
	if (!text_ok(ok_line, false) || upper((uint8_t)ok_line[0]) != 'O' ||
	    upper((uint8_t)ok_line[1]) != 'K' || (ok_line[2] != '\0' && ok_line[2] != ' '))
		return -EINVAL;
	rc = pm_buf_append_line(out, ok_line);
	if (rc < 0)
		return rc;
	wipe_secrets(m);
	m->phase = PM_SIEVE_PHASE_DONE;
	return 0;
}

enum pm_sieve_phase
pm_sieve_phase(const struct pm_sieve *m)
{
	return (enum pm_sieve_phase)m->phase;
}

uint32_t
pm_sieve_bad_count(const struct pm_sieve *m)
{
	return m->bad;
}

void
pm_sieve_wipe(struct pm_sieve *m)
{
	wipe_secrets(m);
}
