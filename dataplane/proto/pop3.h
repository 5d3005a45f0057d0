/*
 * pop3.h -- the client-facing POP3 dialogue up to the login, sans-IO.
 *
 * Owns: one client connection's POP3 AUTHORIZATION state (RFC 1939, CAPA
 * RFC 2449, AUTH RFC 5034 with SASL PLAIN RFC 4616) in a fixed-size struct
 * pm_pop3 the caller allocates; the USER name, the authzid, user and
 * password of the login in progress are copied into fixed fields of it,
 * never pointed to. Threads: the worker lcore that owns the connection; no
 * shared state, no locks. Pure: no sockets, no mbufs, no clock, no
 * allocation, no logging. Bytes go in through pm_pop3_feed(); responses are
 * appended to a caller-owned struct pm_buf (proto/buf.h), which the caller
 * sends and drains; the machine never closes anything, it returns a status
 * and the caller acts on it. The params strings are borrowed: they must
 * outlive the machine and not change.
 *
 * It behaves like Dovecot 2.3's pop3-login. Every text below is "verified":
 * it was captured from the Debian 12 Dovecot 2.3.19.1 (`ssl = no`,
 * `disable_plaintext_auth = no`, `auth_mechanisms = plain login`, static
 * passdb) on 127.0.0.1 with a raw socket, and read against the source
 * (dovecot/core: src/pop3-login/client.c, client-authenticate.c,
 * src/login-common/client-common.c, client-common-auth.c):
 *
 *   greeting     +OK <greeting>
 *   CAPA         +OK, then one line per word of params.capability, then
 *                USER, SASL PLAIN and "." (Dovecot 2.3.19.1 with these
 *                settings: +OK CAPA TOP UIDL RESP-CODES PIPELINING
 *                AUTH-RESP-CODE USER "SASL PLAIN LOGIN" ".", one per line)
 *   USER <name>  +OK                    (always; the name is kept for PASS)
 *   PASS <pass>  -ERR No username given.   without an earlier USER;
 *                otherwise the login (PM_POP3_LOGIN); the USER name is used
 *                up either way, as Dovecot forgets it at PASS
 *   AUTH         +OK PLAIN .            (an empty mechanism: the list, one
 *                per line; the rest of the line is ignored)
 *   AUTH PLAIN   "+ " (plus, space, CRLF) without an initial response, then
 *                one response line
 *   AUTH PLAIN <initial response>: the login
 *   AUTH <other> -ERR [AUTH] Unsupported authentication mechanism.
 *   AUTH cancelled with "*":    -ERR Authentication aborted by client.
 *   initial response not base64 (any way):
 *                -ERR [AUTH] Invalid base64 data in initial response
 *   response with a byte outside A-Z a-z 0-9 + / = (the login process's
 *   check):      -ERR [AUTH] Invalid base64 in response
 *   response with only those bytes but not valid base64 ("=", "AAA",
 *   "A===", "AA=A", "AA==AA==", the auth process's check):
 *                -ERR [AUTH] Invalid base64 data in continued response
 *   a login that cannot authenticate: PASS with an empty USER name, an
 *   initial response "=" (empty), an empty response line, a PLAIN message
 *   with fewer or more than two NULs ("invalid input") or an empty
 *   authentication id (Dovecot's auth process answers these), and, ours, a
 *   USER name, PLAIN field or password over its bound:
 *                -ERR [AUTH] Authentication failed.
 *   APOP         -ERR APOP not enabled.    (no challenge in the greeting)
 *   STLS         -ERR TLS support isn't enabled.   (not advertised)
 *   XCLIENT, XOIP: +OK You are not from trusted IP - ignoring
 *   QUIT         +OK Logging out          then PM_POP3_CLOSE
 *   anything else, NOOP and the empty line included:
 *                -ERR Unknown command.     (a bad command)
 *   the max_bad-th bad command in a row gets that line and then
 *                -ERR Too many invalid bad commands.   then PM_POP3_CLOSE
 *                (Dovecot: CLIENT_MAX_BAD_COMMANDS 3; every command but
 *                AUTH resets the count, AUTH neither counts nor resets it)
 *   arguments over PM_POP3_LINE_MAX bytes:
 *                -ERR Input buffer full, aborting     then PM_POP3_CLOSE
 *   an AUTH initial response or response line over PM_POP3_SASL_MAX bytes:
 *                nothing; PM_POP3_CLOSE (Dovecot closes without a word,
 *                "Authentication response too large")
 *
 * Lines, as Dovecot 2.3.19.1 reads them (verified byte by byte): the command
 * name is upper-cased and ends at a space (which is consumed), at LF, at
 * NUL, or after 8 raw bytes; a CR inside the name is skipped ("US\rER" is
 * USER) but counts toward the 8. The arguments are the rest of the line up
 * to LF; one CR right before the LF is dropped, any other CR is data; a bare
 * LF ends a line; a NUL ends a USER name or password (the rest of the line
 * is ignored). The arguments of USER and PASS are everything after the
 * name's space, leading and inner spaces included. AUTH: the mechanism is
 * the next word (up to SP, CR or LF; compared case-insensitively); one space
 * after it is consumed; the initial response is the rest of the line.
 *
 * Pipelining (RFC 2449 PIPELINING, which Dovecot advertises): commands may
 * follow each other in one segment; each is answered in order. A login
 * stops consumption right after its last LF (PASS's, the AUTH line's, or
 * the response line's): the bytes after it are commands for the backend.
 *
 * Deliberate differences from Dovecot, and texts that are ours:
 *   - Only SASL PLAIN is offered and accepted; AUTH LOGIN (which Dovecot
 *     offers with these settings) gets "-ERR [AUTH] Unsupported
 *     authentication mechanism.", as any other mechanism.
 *   - Base64 is strict RFC 4648 with padding; Dovecot's auth process skips
 *     white space inside an initial response (seen: "AUTH PLAIN  <b64>" and
 *     "<b64 with a space>" log in); here they are invalid base64.
 *   - The USER name and the PLAIN fields are bounded (PM_POP3_USER_MAX) and
 *     the password too (PM_POP3_PASS_MAX); over a bound, the login fails
 *     locally with the AUTH failure text. Dovecot passes a 300-byte USER
 *     name on (seen).
 *   - The budgets are exact counts of bytes: Dovecot's cut depends on how
 *     its input buffer is filled. Verified with each line in one segment:
 *     "CAPA " + 1025 bytes + LF and "PASS " + 1024 bytes + CRLF are read,
 *     one byte more is "Input buffer full" (AUTH's mechanism word: 1025 bytes
 *     read, 1026 not, as here). A run of CRs in the name, which Dovecot
 *     holds in its buffer, is held to the same budget.
 *   - NUL in the AUTH mechanism word makes it unsupported (Dovecot cuts the
 *     word at the NUL).
 *   - Auth failure delays (Dovecot's auth_failure_delay and the per-IP auth
 *     penalty) are the caller's.
 *   - login_failed(PM_POP3_FAIL_AUTHFAILED) writes "-ERR Authentication
 *     failed." without [AUTH]: that is what Dovecot's proxy sends when the
 *     backend's reply is neither +OK nor -ERR (verified); a backend's own
 *     "-ERR [AUTH] ..." is forwarded with PM_POP3_FAIL_VERBATIM.
 *
 * Phases (pm_pop3_phase()) and transitions:
 *
 *   COMMANDS --feed: PASS after USER, or AUTH PLAIN complete--> LOGIN
 *                    (status PM_POP3_LOGIN; consumption stops right after
 *                    the login's final LF)
 *   COMMANDS --feed: QUIT, too many bad commands, over a budget--> CLOSED
 *                    (status PM_POP3_CLOSE)
 *   COMMANDS --feed: no room in out for a response--> COMMANDS, unchanged
 *                    (status PM_POP3_FULL, or PM_POP3_ERROR if out was empty)
 *   LOGIN --pm_pop3_login_failed()--> COMMANDS (the client may try again,
 *                    as another user too)
 *   LOGIN --pm_pop3_login_ok()--> DONE
 *   DONE, CLOSED: final; feed() is a misuse (PM_POP3_ERROR).
 *
 * Within COMMANDS a byte-level lexer (one state enum in pop3.c: command
 * name, arguments, AUTH mechanism, skipped rest, initial response, response
 * line) keeps every partial token, so feeding at any byte boundary gives the
 * same output and the same statuses at the same offsets.
 *
 * The backend's success line: Dovecot's proxy forwards the backend's "+OK
 * ..." line to the client verbatim (verified with a scripted backend:
 * "+OK Logged in.", "+OK", "+OK <3000 bytes>"). Here proto/pop3back hands
 * the line's text to the caller and pm_pop3_login_ok() writes "+OK <text>",
 * which is the backend's line byte for byte (but "+OK " with nothing after
 * the space comes out as "+OK").
 *
 * Bounds: a command name 8 raw bytes (CRs skipped, up to PM_POP3_LINE_MAX);
 * arguments (and an AUTH mechanism word) PM_POP3_LINE_MAX bytes before the
 * LF; an initial response or response line PM_POP3_SASL_MAX bytes before
 * the LF; USER name and PLAIN user and authzid PM_POP3_USER_MAX; password
 * PM_POP3_PASS_MAX; bad commands in a row params.max_bad; params strings
 * PM_POP3_TEXT_MAX; login result texts PM_POP3_REPLY_MAX.
 */
#ifndef PM_POP3_H
#define PM_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/sasl.h"

#define PM_POP3_NAME_MAX	8u	/* raw bytes of a command name (Dovecot's) */
#define PM_POP3_LINE_MAX	1025u	/* bytes of a command's arguments before the LF */
#define PM_POP3_SASL_MAX	8192u	/* bytes of an AUTH response line before the LF */
#define PM_POP3_USER_MAX	255u	/* bytes of the user (authcid) and of the authzid */
#define PM_POP3_PASS_MAX	1024u	/* bytes of the password */
#define PM_POP3_TEXT_MAX	1024u	/* each params string */
#define PM_POP3_REPLY_MAX	4090u	/* a login result text: a 4096-byte backend line */
#define PM_POP3_MAX_BAD_MAX	1000u

/* An out buffer at least this large always has room for any one response
 * (the largest: login_failed() or login_ok() with a PM_POP3_REPLY_MAX text;
 * CAPA with a PM_POP3_TEXT_MAX capability is under 1600 bytes). Smaller ones
 * work as long as each response fits; see PM_POP3_FULL and PM_POP3_ERROR. */
#define PM_POP3_OUT_MIN		(PM_POP3_REPLY_MAX + 64u)

#define PM_POP3_DEFAULT_CAPABILITY	"CAPA TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE"
#define PM_POP3_DEFAULT_GREETING	"postmux ready."
#define PM_POP3_DEFAULT_MAX_BAD		3u
#define PM_POP3_DEFAULT_UNAVAILABLE	"Account is temporarily unavailable."

struct pm_pop3_params {
	/* CAPA lines before USER and SASL PLAIN, as words separated by
	 * single spaces, each sent on a line of its own (may be empty).
	 * The default is Dovecot 2.3's pre-login list without STLS. */
	const char *capability;
	/* Greeting text after "+OK " (Dovecot: "Dovecot ready."); empty:
	 * "+OK" alone. */
	const char *greeting;
	/* The max_bad-th bad command in a row closes the connection (1..1000). */
	uint32_t max_bad;
};

/* Fill @p with the PM_POP3_DEFAULT_* values. */
void pm_pop3_params_defaults(struct pm_pop3_params *p);

/* 0 if @p is usable: both strings non-NULL, at most PM_POP3_TEXT_MAX bytes,
 * without CR or LF; capability without a leading, trailing or doubled
 * space; max_bad 1..PM_POP3_MAX_BAD_MAX. -EINVAL otherwise. */
int pm_pop3_params_check(const struct pm_pop3_params *p);

enum pm_pop3_status {
	PM_POP3_AGAIN,	/* all n bytes consumed (a line may be unfinished);
			 * send out */
	PM_POP3_LOGIN,	/* a complete login: see pm_pop3_login(); *consumed
			 * stops right after the login's final LF; the bytes
			 * after it are the client's pipelined commands, which
			 * the caller keeps for the backend, or feeds again
			 * after pm_pop3_login_failed() */
	PM_POP3_CLOSE,	/* send out (it may be empty), then close (QUIT, too
			 * many bad commands, a line over its budget) */
	PM_POP3_FULL,	/* out has no room for the response due at
			 * p[*consumed]; that byte was not consumed and the
			 * machine is unchanged by it: send (drain) out and feed
			 * again from p + *consumed */
	PM_POP3_ERROR,	/* misuse: feed() outside PM_POP3_PHASE_COMMANDS, an
			 * invalid out, or an out too small for one response
			 * even when empty (keep cap >= PM_POP3_OUT_MIN);
			 * nothing of p[*consumed] was used */
};

enum pm_pop3_phase {
	PM_POP3_PHASE_COMMANDS,	/* reading commands */
	PM_POP3_PHASE_LOGIN,	/* a login was reported; waiting for the backend */
	PM_POP3_PHASE_DONE,	/* login_ok() was called; the session is the backend's */
	PM_POP3_PHASE_CLOSED,	/* PM_POP3_CLOSE was returned */
};

enum pm_pop3_mech {
	PM_POP3_MECH_USER = 1,	/* USER and PASS */
	PM_POP3_MECH_PLAIN,	/* AUTH PLAIN (RFC 4616) */
};

/*
 * The login the last PM_POP3_LOGIN reported. Strings are NUL-terminated and
 * also carry their length; none contains a NUL (USER and PASS end at one,
 * PLAIN splits on the two NULs it must have) or, for USER and PASS, a LF.
 * A CR may be in any of them (USER and PASS keep a CR that is not right
 * before the LF), PLAIN fields may also hold a LF, and 8-bit bytes are
 * kept: escape before logging. The
 * password is wiped by pm_pop3_login_failed(), pm_pop3_login_ok() and
 * pm_pop3_wipe(). Never log or echo it.
 */
struct pm_pop3_login {
	enum pm_pop3_mech mech;
	bool sasl_ir;		/* PLAIN: the response came on the AUTH line */
	uint16_t user_len;
	uint16_t authzid_len;
	uint16_t pass_len;
	char user[PM_POP3_USER_MAX + 1];	/* USER name / PLAIN authcid; not empty */
	char authzid[PM_POP3_USER_MAX + 1];	/* empty unless PLAIN carried a
						 * different one (as mech-plain.c,
						 * an authzid equal to the authcid
						 * is dropped) */
	char pass[PM_POP3_PASS_MAX + 1];
};

/*
 * The machine. All fields are private to pop3.c; the caller only allocates
 * it (about 1.9 KiB) and passes it to the functions below.
 */
struct pm_pop3 {
	struct pm_pop3_params p;	/* borrowed strings */
	struct pm_pop3_login lg;	/* the command being read / the login */
	char last_user[PM_POP3_USER_MAX + 1];	/* USER's name, until PASS */
	uint16_t last_user_len;
	bool have_user;			/* USER was given since the last PASS */
	bool user_over;			/* that name was over its bound */
	uint32_t bad;			/* bad commands in a row */
	uint16_t line_len;		/* bytes counted against the current budget
					 * (in the name: its raw bytes) */
	uint16_t tok_len;		/* bytes of the current SASL line */
	uint16_t flags;			/* per-line flags (pop3.c) */
	uint8_t phase;			/* enum pm_pop3_phase */
	uint8_t st;			/* lexer state (pop3.c) */
	uint8_t cmd;			/* command of the current line (pop3.c) */
	uint8_t name_len;		/* command name / mechanism bytes kept */
	char name[PM_POP3_NAME_MAX];	/* upper-cased command name or mechanism */
	struct pm_sasl_plain plain;	/* PLAIN: which field the bytes go to */
	union {
		struct pm_sasl_b64 b64;	/* base64 of the SASL line */
		uint32_t b64_acc;	/* b64.acc, its first member, by the name
					 * the unit tests read */
	};
};

/* Set up @m for a new connection with @params (see pm_pop3_params_check();
 * the pointers are kept, not the strings). Returns 0 or -EINVAL. Does not
 * allocate. */
int pm_pop3_init(struct pm_pop3 *m, const struct pm_pop3_params *params);

/* Append the greeting to @out. Returns 0, -ENOSPC (nothing appended) or
 * -EINVAL (bad out, or not in PM_POP3_PHASE_COMMANDS). */
int pm_pop3_greet(struct pm_pop3 *m, struct pm_buf *out);

/*
 * Feed @n client bytes at @p. Consumes them one by one, appending responses to
 * @out, until all are used (PM_POP3_AGAIN) or a status needs the caller
 * (LOGIN, CLOSE, FULL, ERROR: see enum pm_pop3_status); *@consumed says how
 * many were used. Output and statuses depend only on the byte stream, not on
 * how it is split. O(n); does not allocate.
 */
enum pm_pop3_status pm_pop3_feed(struct pm_pop3 *m, const uint8_t *p, size_t n, size_t *consumed,
				 struct pm_buf *out);

/* The login the last PM_POP3_LOGIN reported (valid in PM_POP3_PHASE_LOGIN
 * and, password wiped, in PM_POP3_PHASE_DONE); the pointer stays valid as
 * long as @m. */
const struct pm_pop3_login *pm_pop3_login(const struct pm_pop3 *m);

enum pm_pop3_fail {
	PM_POP3_FAIL_AUTHFAILED = 1,	/* -ERR Authentication failed. */
	PM_POP3_FAIL_UNAVAILABLE,	/* -ERR [SYS/TEMP] <text>; text NULL:
					 * PM_POP3_DEFAULT_UNAVAILABLE */
	PM_POP3_FAIL_VERBATIM,		/* -ERR <text>: the backend's text after
					 * "-ERR " (may be empty) */
};

/*
 * The backend refused or failed the login (director.md section 5, POP3
 * "Failures"). Appends the "-ERR ..." line listed above, wipes the password
 * and returns to PM_POP3_PHASE_COMMANDS, so the client may try again on the
 * same connection (possibly as another user); the bad command count is
 * untouched. @text must be at most PM_POP3_REPLY_MAX bytes without CR, LF or
 * NUL (non-NULL for VERBATIM; ignored for AUTHFAILED; non-empty for
 * UNAVAILABLE). Returns 0, -ENOSPC (nothing appended, nothing changed) or
 * -EINVAL (wrong phase, bad kind, bad text, bad out).
 */
int pm_pop3_login_failed(struct pm_pop3 *m, enum pm_pop3_fail kind, const char *text,
			 struct pm_buf *out);

/*
 * The backend accepted the login. Appends "+OK <text>" (@text NULL:
 * "+OK Logged in.", Dovecot's backend text; @text "": "+OK"), wipes the
 * password and moves to PM_POP3_PHASE_DONE: any further feed() is a misuse.
 * Pass the backend's own text (pm_pop3back_text()) to forward its line as
 * Dovecot does. Same limits and returns as pm_pop3_login_failed().
 */
int pm_pop3_login_ok(struct pm_pop3 *m, const char *text, struct pm_buf *out);

/* The current phase. */
enum pm_pop3_phase pm_pop3_phase(const struct pm_pop3 *m);

/* Bad commands in a row so far (Dovecot's bad_counter: every command but
 * AUTH sets it back to 0). */
uint32_t pm_pop3_bad_count(const struct pm_pop3 *m);

/* Wipe the password and any partial SASL data (explicit_bzero). Call it
 * when the connection goes away in PM_POP3_PHASE_LOGIN or in the middle of a
 * command. The machine stays in its phase. */
void pm_pop3_wipe(struct pm_pop3 *m);

#endif
