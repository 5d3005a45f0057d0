/*
 * pop3.c -- the client-facing POP3 pre-authentication machine (proto/pop3.h).
 *
 * One byte at a time through the lexer state in m->st. The command name is
 * read the way Dovecot 2.3's pop3-login reads it (client.c,
 * client_read_cmd_name(): up to a space, LF or NUL, CRs skipped, at most 8
 * raw bytes); the arguments are the rest of the line, kept only for USER and
 * PASS. AUTH is read raw, as Dovecot's cmd_auth() does
 * (client-authenticate.c): the mechanism is the next word, the initial
 * response the rest of the line, then one response line after "+ ".
 *
 * Atomicity: a response is written only at a line's LF (or at the byte that
 * breaks a budget), in one all-or-nothing append before anything that the
 * same byte would not redo changes. A LF that ends the command name or the
 * AUTH mechanism first moves to the state that reads the rest of the line
 * and is handled there, so when out has no room (R_NOSPC) the LF can simply
 * be fed again later and takes the same path.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/pop3.h"
#include "proto/sasl.h"

/* Lexer states (m->st). */
enum {
	ST_NAME,	/* the command name */
	ST_ARGS,	/* the rest of a command line */
	ST_AUTH_MECH,	/* AUTH: the mechanism word */
	ST_AUTH_SKIP,	/* AUTH with an empty mechanism: skip to LF, then list */
	ST_AUTH_IR,	/* AUTH: the rest of the line (initial response) */
	ST_AUTH_RESP,	/* a response line after "+ " */
};

/* Commands (m->cmd). */
enum {
	C_NONE,
	C_UNKNOWN,
	C_CAPA,
	C_USER,
	C_PASS,
	C_AUTH,
	C_APOP,
	C_STLS,
	C_QUIT,
	C_XCLIENT,	/* XCLIENT and XOIP: answered as to an untrusted client */
};

/* Per-line flags (m->flags). */
#define F_CR		0x0001u	/* a CR that may end the line is pending */
#define F_NUL		0x0002u	/* USER/PASS: a NUL ended the kept argument */
#define F_OVER		0x0004u	/* a USER name or PASS password over its bound */
#define F_MECH_ANY	0x0008u	/* AUTH: the mechanism word has a byte */
#define F_MECH_BAD	0x0010u	/* AUTH: the word has a NUL or is too long */
#define F_PLAIN		0x0020u	/* AUTH: the mechanism is PLAIN */
#define F_B64_CHAR	0x0040u	/* SASL: a byte outside the base64 alphabet and '=' */
#define F_FIRST_EQ	0x0100u	/* SASL line starts with '=' */
#define F_FIRST_STAR	0x0200u	/* SASL line starts with '*' */

/* step() results. */
enum { R_CONT, R_LOGIN, R_CLOSE, R_NOSPC };

#define AUTH_FAILED	"-ERR [AUTH] Authentication failed.\r\n"

/* ---- output -------------------------------------------------------------- */

/* ---- state resets ---------------------------------------------------------- */

/* Forget the secrets of the command being read. */
static void
wipe_secrets(struct pm_pop3 *m)
{
	explicit_bzero(m->lg.pass, sizeof(m->lg.pass));
	m->lg.pass_len = 0;
	pm_sasl_b64_wipe(&m->b64);
}

/* Ready for the next line; the login fields and the USER name are left
 * alone. */
static void
lexer_reset(struct pm_pop3 *m)
{
	m->st = ST_NAME;
	m->line_len = 0;
	m->tok_len = 0;
	m->cmd = C_NONE;
	m->flags = 0;
	m->name_len = 0;
	pm_sasl_b64_reset(&m->b64);
	pm_sasl_plain_reset(&m->plain);
}

/* The command was answered: forget it entirely. */
static void
end_command(struct pm_pop3 *m)
{
	wipe_secrets(m);
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	lexer_reset(m);
}

/* Emit @line and close. */
static int
close_with(struct pm_pop3 *m, struct pm_buf *out, const char *line)
{
	if (pm_buf_append_str(out, line) < 0)
		return R_NOSPC;
	end_command(m);
	m->phase = PM_POP3_PHASE_CLOSED;
	return R_CLOSE;
}

/* Answer the line with @line and go on with the next one. The bad command
 * count is the caller's. */
static int
answer(struct pm_pop3 *m, struct pm_buf *out, const char *line)
{
	if (pm_buf_append_str(out, line) < 0)
		return R_NOSPC;
	end_command(m);
	return R_CONT;
}

/* Answer a command that is not AUTH: Dovecot resets its bad counter. */
static int
answer_known(struct pm_pop3 *m, struct pm_buf *out, const char *line)
{
	int r = answer(m, out, line);

	if (r == R_CONT)
		m->bad = 0;
	return r;
}

/* An unknown command (Dovecot: client_command_execute() answers "Unknown
 * command." and returns FALSE; bad_counter reaching CLIENT_MAX_BAD_COMMANDS
 * adds the second line and disconnects). */
static int
bad_command(struct pm_pop3 *m, struct pm_buf *out)
{
	int r;

	if (m->bad + 1 >= m->p.max_bad) {
		r = close_with(m, out,
			       "-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n");
		if (r == R_CLOSE)
			m->bad++;
		return r;
	}
	r = answer(m, out, "-ERR Unknown command.\r\n");
	if (r == R_CONT)
		m->bad++;
	return r;
}

/* A command line over its budget (Dovecot's client_read(): -2, "Input
 * buffer full"). */
static int
overflow(struct pm_pop3 *m, struct pm_buf *out)
{
	return close_with(m, out, "-ERR Input buffer full, aborting\r\n");
}

/* A SASL line over PM_POP3_SASL_MAX: Dovecot closes without a word. */
static int
sasl_overflow(struct pm_pop3 *m)
{
	end_command(m);
	m->phase = PM_POP3_PHASE_CLOSED;
	return R_CLOSE;
}

/* ---- small helpers --------------------------------------------------------- */

static uint8_t
upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* A byte of USER's or PASS's argument; over the field's bound, the login
 * fails. */
static void
field_put(struct pm_pop3 *m, char *f, uint16_t *len, size_t max, uint8_t c)
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
		{ "CAPA", C_CAPA },	  { "USER", C_USER },	      { "PASS", C_PASS },
		{ "AUTH", C_AUTH },	  { "APOP", C_APOP },	      { "STLS", C_STLS },
		{ "QUIT", C_QUIT },	  { "XCLIENT", C_XCLIENT },   { "XOIP", C_XCLIENT },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == n && memcmp(tab[i].name, name, n) == 0)
			return tab[i].cmd;
	return C_UNKNOWN;
}

/* ---- responses --------------------------------------------------------------- */

/* "+OK", one line per capability word, USER, SASL PLAIN, ".". */
static int
capa_answer(struct pm_pop3 *m, struct pm_buf *out)
{
	static const char head[] = "+OK\r\n";
	static const char tail[] = "USER\r\nSASL PLAIN\r\n.\r\n";
	const char *c = m->p.capability;
	size_t clen = strlen(c), words = 0, need, i;

	for (i = 0; i < clen; i++)
		if (c[i] == ' ')
			words++;
	if (clen > 0)
		words++;
	/* each space becomes CRLF, and the last word gets one */
	need = sizeof(head) - 1 + clen + words + (clen > 0 ? 1 : 0) + sizeof(tail) - 1;
	if (pm_buf_room(out) < need)
		return R_NOSPC;
	memcpy(out->p + out->len, head, sizeof(head) - 1);
	out->len += sizeof(head) - 1;
	for (i = 0; i < clen; i++) {
		if (c[i] == ' ') {
			out->p[out->len++] = '\r';
			out->p[out->len++] = '\n';
		} else {
			out->p[out->len++] = (uint8_t)c[i];
		}
	}
	if (clen > 0) {
		out->p[out->len++] = '\r';
		out->p[out->len++] = '\n';
	}
	memcpy(out->p + out->len, tail, sizeof(tail) - 1);
	out->len += sizeof(tail) - 1;
	end_command(m);
	m->bad = 0;
	return R_CONT;
}

/* ---- the login -------------------------------------------------------------- */

static int
login_ready(struct pm_pop3 *m, enum pm_pop3_mech mech, bool ir)
{
	m->lg.user[m->lg.user_len] = '\0';
	m->lg.authzid[m->lg.authzid_len] = '\0';
	m->lg.pass[m->lg.pass_len] = '\0';
	m->lg.mech = mech;
	m->lg.sasl_ir = ir;
	lexer_reset(m);	/* wipes the decoder */
	m->phase = PM_POP3_PHASE_LOGIN;
	return R_LOGIN;
}

/* The LF of PASS (Dovecot's cmd_pass(): the last USER name, used up). */
static int
pass_end(struct pm_pop3 *m, struct pm_buf *out)
{
	bool over = m->user_over || (m->flags & F_OVER);

	if (!m->have_user)
		return answer_known(m, out, "-ERR No username given.\r\n");
	if (over || m->last_user_len == 0) {
		if (answer_known(m, out, AUTH_FAILED) == R_NOSPC)
			return R_NOSPC;
		m->have_user = false;
		return R_CONT;
	}
	memcpy(m->lg.user, m->last_user, m->last_user_len);
	m->lg.user_len = m->last_user_len;
	m->lg.authzid_len = 0;
	m->have_user = false;
	m->bad = 0;
	return login_ready(m, PM_POP3_MECH_USER, false);
}

/* The LF of a command line (not AUTH's). */
static int
finish_line(struct pm_pop3 *m, struct pm_buf *out)
{
	bool over;

	switch (m->cmd) {
	case C_CAPA:
		return capa_answer(m, out);
	case C_USER:
		over = (m->flags & F_OVER) != 0;
		if (answer_known(m, out, "+OK\r\n") == R_NOSPC)
			return R_NOSPC;
		m->last_user[m->last_user_len] = '\0';
		m->have_user = true;
		m->user_over = over;
		return R_CONT;
	case C_PASS:
		return pass_end(m, out);
	case C_APOP:
		return answer_known(m, out, "-ERR APOP not enabled.\r\n");
	case C_STLS:
		return answer_known(m, out, "-ERR TLS support isn't enabled.\r\n");
	case C_XCLIENT:
		return answer_known(m, out, "+OK You are not from trusted IP - ignoring\r\n");
	case C_QUIT:
		if (answer_known(m, out, "+OK Logging out\r\n") == R_NOSPC)
			return R_NOSPC;
		m->phase = PM_POP3_PHASE_CLOSED;
		return R_CLOSE;
	default:
		return bad_command(m, out);
	}
}

/* Keep a byte of USER's or PASS's argument. */
static void
arg_keep(struct pm_pop3 *m, uint8_t c)
{
	if (m->flags & F_NUL)
		return;
	if (c == 0) {
		m->flags |= F_NUL;	/* Dovecot's argument is a C string */
		return;
	}
	if (m->cmd == C_USER)
		field_put(m, m->last_user, &m->last_user_len, PM_POP3_USER_MAX, c);
	else if (m->cmd == C_PASS)
		field_put(m, m->lg.pass, &m->lg.pass_len, PM_POP3_PASS_MAX, c);
}

/* A byte of the arguments other than the LF: a CR right before the LF is
 * dropped (i_stream_next_line()), any other CR is data. */
static void
arg_byte(struct pm_pop3 *m, uint8_t c)
{
	if (m->cmd != C_USER && m->cmd != C_PASS)
		return;
	if (m->flags & F_CR) {
		m->flags &= ~F_CR;
		arg_keep(m, '\r');
	}
	if (c == '\r')
		m->flags |= F_CR;
	else
		arg_keep(m, c);
}

/* ---- SASL: base64 and PLAIN (proto/sasl.h) --------------------------------- */

/* The login fields a PLAIN message is split into. */
static struct pm_sasl_plain_fields
plain_fields(struct pm_pop3 *m)
{
	struct pm_sasl_plain_fields f = {
		{ m->lg.authzid, &m->lg.authzid_len, PM_POP3_USER_MAX },
		{ m->lg.user, &m->lg.user_len, PM_POP3_USER_MAX },
		{ m->lg.pass, &m->lg.pass_len, PM_POP3_PASS_MAX },
	};

	return f;
}

/* One character of a PLAIN response. A byte that is neither in the base64
 * alphabet nor '=' is told apart (F_B64_CHAR): Dovecot's login process
 * refuses those before the auth process decodes anything. It is not fed to
 * the decoder, which goes on with the rest (unlike sieve.c and
 * submission.c, where it stops the decoding); either way F_B64_CHAR decides
 * the answer first. */
static void
b64_byte(struct pm_pop3 *m, uint8_t c)
{
	struct pm_sasl_plain_fields f;

	if (!pm_sasl_b64_char(c)) {
		m->flags |= F_B64_CHAR;
		return;
	}
	f = plain_fields(m);
	pm_sasl_plain_feed(&m->b64, &m->plain, &f, c);
}

static bool
b64_complete(const struct pm_pop3 *m)
{
	return !(m->flags & F_B64_CHAR) && pm_sasl_b64_complete(&m->b64);
}

/* A new SASL line (initial response or response). */
static void
sasl_reset(struct pm_pop3 *m)
{
	wipe_secrets(m);
	m->lg.user_len = 0;
	m->lg.authzid_len = 0;
	pm_sasl_b64_reset(&m->b64);
	pm_sasl_plain_reset(&m->plain);
	m->tok_len = 0;
	m->flags &= ~(F_B64_CHAR | F_CR | F_FIRST_EQ | F_FIRST_STAR);
}

static void
sasl_data(struct pm_pop3 *m, uint8_t c)
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

/* A byte of a SASL line other than its LF: one CR right before the LF is
 * dropped (client_auth_read_line()), any other CR is data. */
static void
sasl_byte(struct pm_pop3 *m, uint8_t c)
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
plain_finish(struct pm_pop3 *m, struct pm_buf *out, bool ir)
{
	struct pm_sasl_plain_fields f = plain_fields(m);

	/* mech-plain.c (pm_sasl_plain_finish()): anything but a valid
	 * message fails as a bad password would */
	if (pm_sasl_plain_finish(&m->plain, &f) < 0)
		return answer(m, out, AUTH_FAILED);
	return login_ready(m, PM_POP3_MECH_PLAIN, ir);
}

/* LF of "AUTH <mech>[ <ir>]". AUTH leaves the bad count alone. */
static int
auth_ir_end(struct pm_pop3 *m, struct pm_buf *out)
{
	if (!(m->flags & F_PLAIN))
		return answer(m, out, "-ERR [AUTH] Unsupported authentication mechanism.\r\n");
	if (m->tok_len == 0) {
		/* No initial response: an empty challenge, then one line. */
		if (pm_buf_append_str(out, "+ \r\n") < 0)
			return R_NOSPC;
		sasl_reset(m);
		m->line_len = 0;
		m->st = ST_AUTH_RESP;
		return R_CONT;
	}
	if (m->tok_len == 1 && (m->flags & F_FIRST_EQ))
		return answer(m, out, AUTH_FAILED);	/* "=": an empty response */
	if (!b64_complete(m))
		return answer(m, out, "-ERR [AUTH] Invalid base64 data in initial response\r\n");
	return plain_finish(m, out, true);
}

/* LF of the response line after "+ ". */
static int
auth_resp_end(struct pm_pop3 *m, struct pm_buf *out)
{
	if (m->tok_len == 1 && (m->flags & F_FIRST_STAR))
		return answer(m, out, "-ERR Authentication aborted by client.\r\n");
	if (m->flags & F_B64_CHAR)
		return answer(m, out, "-ERR [AUTH] Invalid base64 in response\r\n");
	if (!b64_complete(m))
		return answer(m, out, "-ERR [AUTH] Invalid base64 data in continued response\r\n");
	return plain_finish(m, out, false);
}

/* ---- the lexer ------------------------------------------------------------- */

static int lex(struct pm_pop3 *m, uint8_t c, struct pm_buf *out);

/* The command name is complete; the rest of the line follows. */
static void
end_of_name(struct pm_pop3 *m)
{
	m->cmd = (uint8_t)command_lookup(m->name, m->name_len);
	m->name_len = 0;
	m->line_len = 0;
	m->flags = 0;
	switch (m->cmd) {
	case C_USER:
		m->last_user_len = 0;
		m->user_over = false;
		break;
	case C_PASS:
		wipe_secrets(m);
		break;
	default:
		break;
	}
	m->st = m->cmd == C_AUTH ? ST_AUTH_MECH : ST_ARGS;
}

/* AUTH: the mechanism word ended (with @c, SP, CR or LF, not consumed). */
static int
end_of_mech(struct pm_pop3 *m, uint8_t c, struct pm_buf *out)
{
	if (!(m->flags & F_MECH_ANY)) {
		/* Empty: the old-style mechanism list; the rest of the line
		 * is skipped (seen: "AUTH  PLAIN" lists). */
		m->st = ST_AUTH_SKIP;
		return lex(m, c, out);
	}
	if (!(m->flags & F_MECH_BAD) && m->name_len == 5 && memcmp(m->name, "PLAIN", 5) == 0)
		m->flags |= F_PLAIN;
	m->name_len = 0;
	sasl_reset(m);
	m->line_len = 0;
	m->st = ST_AUTH_IR;
	if (c == ' ')
		return R_CONT;	/* the one space after the mechanism */
	return lex(m, c, out);	/* CR or LF: part of the (empty) response */
}

static int
lex(struct pm_pop3 *m, uint8_t c, struct pm_buf *out)
{
	switch (m->st) {
	case ST_NAME:
		if (c == '\r') {
			/* skipped, but it counts toward the 8 raw bytes */
			if (m->line_len >= PM_POP3_LINE_MAX)
				return overflow(m, out);
			m->line_len++;
			return R_CONT;
		}
		if (c == ' ') {
			end_of_name(m);
			return R_CONT;
		}
		if (c == '\n' || c == 0 || m->line_len >= PM_POP3_NAME_MAX) {
			/* LF: the arguments are empty; NUL or the 8th byte:
			 * they start with this byte */
			end_of_name(m);
			return lex(m, c, out);
		}
		m->name[m->name_len++] = (char)upper(c);
		m->line_len++;
		return R_CONT;

	case ST_ARGS:
		if (c == '\n')
			return finish_line(m, out);
		if (m->line_len >= PM_POP3_LINE_MAX)
			return overflow(m, out);
		m->line_len++;
		arg_byte(m, c);
		return R_CONT;

	case ST_AUTH_MECH:
		if (c == ' ' || c == '\r' || c == '\n')
			return end_of_mech(m, c, out);
		if (m->line_len >= PM_POP3_LINE_MAX)
			return overflow(m, out);
		m->line_len++;
		m->flags |= F_MECH_ANY;
		if (c == 0 || m->name_len == sizeof(m->name))
			m->flags |= F_MECH_BAD;	/* no mechanism we know */
		else
			m->name[m->name_len++] = (char)upper(c);
		return R_CONT;

	case ST_AUTH_SKIP:
		if (c == '\n')
			return answer(m, out, "+OK\r\nPLAIN\r\n.\r\n");
		if (m->line_len >= PM_POP3_LINE_MAX)
			return overflow(m, out);
		m->line_len++;
		return R_CONT;

	case ST_AUTH_IR:
	case ST_AUTH_RESP:
		if (c == '\n')
			return m->st == ST_AUTH_IR ? auth_ir_end(m, out) : auth_resp_end(m, out);
		if (m->line_len >= PM_POP3_SASL_MAX)
			return sasl_overflow(m);
		m->line_len++;
		sasl_byte(m, c);
		return R_CONT;

	default:
		return R_CLOSE;	/* unreachable */
	}
}

/* ---- API ------------------------------------------------------------------- */

void
pm_pop3_params_defaults(struct pm_pop3_params *p)
{
	p->capability = PM_POP3_DEFAULT_CAPABILITY;
	p->greeting = PM_POP3_DEFAULT_GREETING;
	p->max_bad = PM_POP3_DEFAULT_MAX_BAD;
}

/* A text we may put on a response line: bounded, no CR or LF. */
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

int
pm_pop3_params_check(const struct pm_pop3_params *p)
{
	size_t n;

	if (p == NULL || !text_ok(p->capability, PM_POP3_TEXT_MAX, true) ||
	    !text_ok(p->greeting, PM_POP3_TEXT_MAX, true) || p->max_bad < 1 ||
	    p->max_bad > PM_POP3_MAX_BAD_MAX)
		return -EINVAL;
	/* every word on its own line: no empty word */
	n = strlen(p->capability);
	if (n > 0 && (p->capability[0] == ' ' || p->capability[n - 1] == ' ' ||
		      strstr(p->capability, "  ") != NULL))
		return -EINVAL;
	return 0;
}

int
pm_pop3_init(struct pm_pop3 *m, const struct pm_pop3_params *params)
{
	if (m == NULL || pm_pop3_params_check(params) < 0)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->p = *params;
	m->phase = PM_POP3_PHASE_COMMANDS;
	lexer_reset(m);
	return 0;
}

int
pm_pop3_greet(struct pm_pop3 *m, struct pm_buf *out)
{
	struct pm_buf_piece v[] = { PM_BUF_PIECE("+OK "), pm_buf_piece_str(m->p.greeting),
				    PM_BUF_CRLF };

	if (!pm_buf_ok(out) || m->phase != PM_POP3_PHASE_COMMANDS)
		return -EINVAL;
	if (v[1].n == 0)
		v[0].n = 3;	/* "+OK" alone */
	return pm_buf_append_pieces(out, v, 3);
}

enum pm_pop3_status
pm_pop3_feed(struct pm_pop3 *m, const uint8_t *p, size_t n, size_t *consumed, struct pm_buf *out)
{
	size_t i;
	int r;

	*consumed = 0;
	if (m->phase != PM_POP3_PHASE_COMMANDS || !pm_buf_ok(out) || (p == NULL && n > 0))
		return PM_POP3_ERROR;
	for (i = 0; i < n; i++) {
		r = lex(m, p[i], out);
		if (r == R_CONT)
			continue;
		if (r == R_NOSPC) {
			*consumed = i;
			/* an empty buffer that cannot take one response never will */
			return out->len == 0 ? PM_POP3_ERROR : PM_POP3_FULL;
		}
		*consumed = i + 1;
		return r == R_LOGIN ? PM_POP3_LOGIN : PM_POP3_CLOSE;
	}
	*consumed = n;
	return PM_POP3_AGAIN;
}

const struct pm_pop3_login *
pm_pop3_login(const struct pm_pop3 *m)
{
	return &m->lg;
}

int
pm_pop3_login_failed(struct pm_pop3 *m, enum pm_pop3_fail kind, const char *text,
		     struct pm_buf *out)
{
	struct pm_buf_piece v[3];
	int rc;

	if (m->phase != PM_POP3_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	switch (kind) {
	case PM_POP3_FAIL_AUTHFAILED:
		v[0] = pm_buf_piece_str("-ERR Authentication failed.");
		v[1] = pm_buf_piece_str("");
		break;
	case PM_POP3_FAIL_UNAVAILABLE:
		if (text == NULL)
			text = PM_POP3_DEFAULT_UNAVAILABLE;
		if (!text_ok(text, PM_POP3_REPLY_MAX, false))
			return -EINVAL;
		v[0] = pm_buf_piece_str("-ERR [SYS/TEMP] ");
		v[1] = pm_buf_piece_str(text);
		break;
	case PM_POP3_FAIL_VERBATIM:
		if (!text_ok(text, PM_POP3_REPLY_MAX, true))
			return -EINVAL;
		v[0] = pm_buf_piece_str("-ERR ");
		v[1] = pm_buf_piece_str(text);
		break;
	default:
		return -EINVAL;
	}
	v[2] = pm_buf_piece_str("\r\n");
	rc = pm_buf_append_pieces(out, v, 3);
	if (rc < 0)
		return rc;
	end_command(m);
	m->phase = PM_POP3_PHASE_COMMANDS;
	return 0;
}

int
pm_pop3_login_ok(struct pm_pop3 *m, const char *text, struct pm_buf *out)
{
	struct pm_buf_piece v[3] = { PM_BUF_PIECE("+OK "), PM_BUF_PIECE("Logged in."),
				     PM_BUF_CRLF };
	int rc;

	if (m->phase != PM_POP3_PHASE_LOGIN || !pm_buf_ok(out))
		return -EINVAL;
	if (text != NULL) {
		if (!text_ok(text, PM_POP3_REPLY_MAX, true))
			return -EINVAL;
		v[1] = pm_buf_piece_str(text);
		if (v[1].n == 0)
			v[0].n = 3;	/* "+OK" alone */
	}
	rc = pm_buf_append_pieces(out, v, 3);
	if (rc < 0)
		return rc;
	wipe_secrets(m);
	m->phase = PM_POP3_PHASE_DONE;
	return 0;
}

enum pm_pop3_phase
pm_pop3_phase(const struct pm_pop3 *m)
{
	return (enum pm_pop3_phase)m->phase;
}

uint32_t
pm_pop3_bad_count(const struct pm_pop3 *m)
{
	return m->bad;
}

void
pm_pop3_wipe(struct pm_pop3 *m)
{
	wipe_secrets(m);
}
