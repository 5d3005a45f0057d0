/*
 * imap.h -- the client-facing IMAP dialogue up to the login, sans-IO.
 *
 * Owns: one client connection's pre-authentication IMAP state (RFC 3501 not
 * authenticated state, with SASL-IR RFC 4959, LITERAL+ RFC 7888, ID RFC 2971)
 * in a fixed-size struct pm_imap the caller allocates; the tag, user, authzid
 * and password of the login in progress are copied into fixed fields of it,
 * never pointed to. Threads: the worker lcore that owns the connection; no
 * shared state, no locks. Pure: no sockets, no mbufs, no clock, no
 * allocation, no logging. Bytes go in through pm_imap_feed(); responses are
 * appended to a caller-owned struct pm_buf (proto/buf.h), which the caller
 * sends and drains; the machine never closes anything, it returns a status and
 * the caller acts on it. The params strings are borrowed: they must outlive
 * the machine and not change.
 *
 * It behaves like Dovecot 2.3's imap-login. Every text below was checked
 * against a real Dovecot 2.3.19.1 (Debian 12, `ssl = no`, `auth_mechanisms =
 * plain login`) on 127.0.0.1 with a raw socket, and against the source
 * (dovecot/core: src/imap-login/imap-login-client.c, client-authenticate.c,
 * imap-login-cmd-id.c, src/login-common/client-common-auth.c, sasl-server.c,
 * src/lib-imap/imap-parser.c, src/auth/mech-plain.c):
 *
 *   greeting     * OK [CAPABILITY <caps>] <greeting>
 *   CAPABILITY   * CAPABILITY <caps>
 *                <tag> OK Pre-login capabilities listed, post-login capabilities have more.
 *   NOOP         <tag> OK NOOP completed.
 *   ENABLE       * ENABLED
 *                <tag> OK ENABLE ignored in non-authenticated state.
 *   ID           * ID <id_reply>
 *                <tag> OK ID completed.
 *   LOGOUT       * BYE Logging out
 *                <tag> OK Logout completed.            then PM_IMAP_CLOSE
 *   LOGIN        two astrings: atom (an atom NIL is the name "NIL", as
 *                Dovecot takes it), quoted string or literal
 *   literal      + OK                                  for a synchronising {n}
 *   AUTHENTICATE PLAIN without SASL-IR: "+ " (plus, space, CRLF)
 *   unknown command, invalid tag, empty line, wrong LOGIN arguments, empty
 *   AUTHENTICATE mechanism ("bad commands", counted):
 *                <tag> BAD Error in IMAP command received by server.
 *                ("*" for the tag if it is empty or invalid); the max_bad-th
 *                one is answered instead with
 *                * BYE Too many invalid IMAP commands.  then PM_IMAP_CLOSE
 *                (Dovecot: CLIENT_MAX_BAD_COMMANDS 3, verified).
 *   tag "LOGIN" with an unknown command (not counted):
 *                LOGIN BAD First parameter in line is IMAP's command tag, not
 *                the command name. Add that before the command, like: a login user pass
 *   syntax errors (not counted, like Dovecot's parser errors):
 *                <tag> BAD Missing '"' | Unexpected ')' | Missing ')' |
 *                Invalid characters in atom | 8bit data in atom |
 *                NULs not allowed in strings | Invalid literal size |
 *                Expecting '}' after '+' | Missing LF after literal size
 *   ID with bad parameters (not counted): <tag> BAD Invalid ID parameters
 *   AUTHENTICATE other than PLAIN (not counted):
 *                <tag> NO [ALERT] Unsupported authentication mechanism.
 *   AUTHENTICATE cancelled with "*":
 *                <tag> BAD Authentication aborted by client.
 *   bad base64 in SASL-IR:     <tag> BAD Invalid base64 data in initial response
 *   bad base64 in a response:  <tag> NO [ALERT] Invalid base64 in response
 *   a PLAIN message that cannot authenticate (fewer than two NULs, empty
 *   authentication id, "=" i.e. empty, a field over its bound) and a LOGIN
 *   with an empty user or a user/password over its bound (quoted or atom):
 *                <tag> NO [AUTHENTICATIONFAILED] Authentication failed.
 *                (Dovecot's auth process answers these; we answer locally.)
 *   literal larger than the field it fills or than the line budget:
 *                * BYE Literal size too large          then PM_IMAP_CLOSE
 *   line over PM_IMAP_LINE_MAX (literals and the SASL response included):
 *                * BYE Input buffer full, aborting     then PM_IMAP_CLOSE
 *
 * Deliberate differences from Dovecot, and texts that are ours:
 *   - STARTTLS is not advertised and is answered
 *     "<tag> NO TLS support isn't enabled." (the issue asks for NO; Dovecot
 *     with ssl=no answers BAD with the same text). Not counted as bad.
 *   - Quoted strings accept only the escapes \" and \\; any other backslash
 *     is "<tag> BAD Invalid escape in quoted string" (our text; Dovecot
 *     unescapes any character).
 *   - Base64 is strict RFC 4648 with padding; Dovecot's auth process skips
 *     white space inside a SASL-IR (seen), we do not.
 *   - The line budget is PM_IMAP_LINE_MAX (Dovecot's
 *     IMAP_LOGIN_MAX_LINE_LENGTH 8192). Dovecot's login input buffer in fact
 *     cuts a line without literals at about 1 KiB (seen: 1035 bytes get
 *     "* BYE Input buffer full, aborting"), so every line Dovecot accepts is
 *     accepted here. A SASL response over the budget gets the same BYE;
 *     Dovecot closes silently there ("Authentication response too large").
 *   - A literal over the LOGIN field it fills gets "* BYE Literal size too
 *     large" (Dovecot's text for its own, larger, limit).
 *   - After a syntax error the rest of the line is skipped: a synchronising
 *     literal at its end gets the BAD at once instead of "+ OK" (RFC 3501
 *     7.5: the client then does not send it), a non-synchronising one is
 *     skipped as data, not read as commands. Dovecot sends the BAD and then
 *     skips to the next LF only. An unknown command's (or an invalid tag's)
 *     arguments are read like any others, as Dovecot does, so "+ OK" is
 *     sent for a synchronising literal in them.
 *   - ID pairs are checked (at most 30 pairs, keys <= 30 bytes, values <=
 *     1024 bytes, RFC 2971 3.3) and discarded: nothing is retained for
 *     imap_id_retain. Odd lists ("name") and trailing arguments are accepted
 *     as Dovecot does.
 *   - Auth failure delays (Dovecot's auth_failure_delay) are the caller's.
 *
 * Phases (pm_imap_phase()) and transitions:
 *
 *   COMMANDS --feed: LOGIN or AUTHENTICATE PLAIN complete--> LOGIN
 *                    (status PM_IMAP_LOGIN; consumption stops right after
 *                    the command's final LF)
 *   COMMANDS --feed: LOGOUT, too many bad commands, over a limit--> CLOSED
 *                    (status PM_IMAP_CLOSE)
 *   COMMANDS --feed: no room in out for a response--> COMMANDS, unchanged
 *                    (status PM_IMAP_FULL, or PM_IMAP_ERROR if out was empty)
 *   LOGIN --pm_imap_login_failed()--> COMMANDS (the client may try again)
 *   LOGIN --pm_imap_login_ok()--> DONE
 *   DONE, CLOSED: final; feed() is a misuse (PM_IMAP_ERROR).
 *
 * Within COMMANDS a byte-level lexer (one state enum in imap.c: tag,
 * command name, arguments, atom, quoted, literal size, literal data, skip to
 * end of line, AUTHENTICATE mechanism, SASL-IR, SASL response) keeps every
 * partial token, so feeding at any byte boundary gives the same output and
 * the same statuses at the same offsets.
 *
 * Bounds: tag PM_IMAP_TAG_MAX bytes; a command line, literals and CRLFs
 * included, PM_IMAP_LINE_MAX bytes (a SASL response line likewise); user and
 * authzid PM_IMAP_USER_MAX; password PM_IMAP_PASS_MAX; literal sizes are
 * checked digit by digit against the field's bound before multiplying, so
 * they never overflow; list nesting is bounded by the line; ID as above;
 * bad commands params.max_bad; params strings PM_IMAP_TEXT_MAX.
 */
#ifndef PM_IMAP_H
#define PM_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/sasl.h"

#define PM_IMAP_TAG_MAX		64u	/* bytes of a tag */
#define PM_IMAP_LINE_MAX	8192u	/* bytes of one command line, literals included */
#define PM_IMAP_USER_MAX	255u	/* bytes of the user (authcid) and of the authzid */
#define PM_IMAP_PASS_MAX	1024u	/* bytes of the password */
#define PM_IMAP_ID_PAIRS_MAX	30u	/* RFC 2971 3.3 */
#define PM_IMAP_ID_KEY_MAX	30u
#define PM_IMAP_ID_VALUE_MAX	1024u
#define PM_IMAP_TEXT_MAX	1024u	/* each params string, each backend text */
#define PM_IMAP_MAX_BAD_MAX	1000u

/* An out buffer at least this large always has room for any one response
 * (the largest: the greeting with both params strings, or login_ok() with
 * caps and text, at PM_IMAP_TEXT_MAX each). Smaller ones work as long as
 * each response fits; see PM_IMAP_FULL and PM_IMAP_ERROR. */
#define PM_IMAP_OUT_MIN		(2u * PM_IMAP_TEXT_MAX + 256u)

#define PM_IMAP_DEFAULT_CAPABILITY \
	"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"
#define PM_IMAP_DEFAULT_GREETING	"postmux ready."
#define PM_IMAP_DEFAULT_ID_REPLY	"(\"name\" \"postmux\")"
#define PM_IMAP_DEFAULT_MAX_BAD		3u
#define PM_IMAP_DEFAULT_UNAVAILABLE	"Account is temporarily unavailable."

struct pm_imap_params {
	/* Pre-login capabilities, shown in the greeting and for CAPABILITY.
	 * Dovecot 2.3's default list minus STARTTLS, with only AUTH=PLAIN. */
	const char *capability;
	/* Greeting text after the capability code (Dovecot: "Dovecot ready."). */
	const char *greeting;
	/* What follows "* ID " in the ID answer: a parenthesised list or NIL. */
	const char *id_reply;
	/* The max_bad-th bad command closes the connection (1..1000). */
	uint32_t max_bad;
};

/* Fill @p with the PM_IMAP_DEFAULT_* values. */
void pm_imap_params_defaults(struct pm_imap_params *p);

/* 0 if @p is usable: every string non-NULL, at most PM_IMAP_TEXT_MAX bytes,
 * without CR, LF or NUL (capability and id_reply also non-empty); max_bad
 * 1..PM_IMAP_MAX_BAD_MAX. -EINVAL otherwise. */
int pm_imap_params_check(const struct pm_imap_params *p);

enum pm_imap_status {
	PM_IMAP_AGAIN,	/* all n bytes consumed (a line or literal may be
			 * unfinished); send out */
	PM_IMAP_LOGIN,	/* a complete login: see pm_imap_login(); *consumed
			 * stops right after the login command's final LF (for
			 * AUTHENTICATE without SASL-IR: the response line's LF);
			 * the bytes after it are the client's pipelined
			 * commands, which the caller keeps for the backend, or
			 * feeds again after pm_imap_login_failed() */
	PM_IMAP_CLOSE,	/* send out, then close (LOGOUT, too many bad commands,
			 * a line or literal over its limit) */
	PM_IMAP_FULL,	/* out has no room for the response due at
			 * p[*consumed]; that byte was not consumed and the
			 * machine is unchanged by it: send (drain) out and feed
			 * again from p + *consumed */
	PM_IMAP_ERROR,	/* misuse: feed() outside PM_IMAP_PHASE_COMMANDS, an
			 * invalid out, or an out too small for one response
			 * even when empty (keep cap >= PM_IMAP_OUT_MIN); nothing
			 * of p[*consumed] was used */
};

enum pm_imap_phase {
	PM_IMAP_PHASE_COMMANDS,	/* reading commands */
	PM_IMAP_PHASE_LOGIN,	/* a login was reported; waiting for the backend */
	PM_IMAP_PHASE_DONE,	/* login_ok() was called; the session is the backend's */
	PM_IMAP_PHASE_CLOSED,	/* PM_IMAP_CLOSE was returned */
};

enum pm_imap_mech {
	PM_IMAP_MECH_LOGIN = 1,	/* the LOGIN command */
	PM_IMAP_MECH_PLAIN,	/* AUTHENTICATE PLAIN (RFC 4616) */
};

/*
 * The login the last PM_IMAP_LOGIN reported. Strings are NUL-terminated and
 * also carry their length; none contains a NUL (quoted strings cannot, NUL in
 * a literal is a syntax error, PLAIN splits on NUL and, as Dovecot's
 * mech-plain.c, fails a message with a third NUL). Literals and PLAIN can
 * carry any other byte, CR, LF and 8-bit included: escape before logging.
 * The password is wiped by pm_imap_login_failed(), pm_imap_login_ok() and
 * pm_imap_wipe(). Never log or echo it.
 */
struct pm_imap_login {
	enum pm_imap_mech mech;
	bool sasl_ir;		/* PLAIN: the response came on the command line */
	uint8_t tag_len;
	uint16_t user_len;
	uint16_t authzid_len;
	uint16_t pass_len;
	char tag[PM_IMAP_TAG_MAX + 1];
	char user[PM_IMAP_USER_MAX + 1];	/* LOGIN user / PLAIN authcid */
	char authzid[PM_IMAP_USER_MAX + 1];	/* empty unless PLAIN carried a
						 * different one (as mech-plain.c,
						 * an authzid equal to the authcid
						 * is dropped) */
	char pass[PM_IMAP_PASS_MAX + 1];
};

/*
 * The machine. All fields are private to imap.c; the caller only allocates
 * it (about 1.7 KiB) and passes it to the functions below.
 */
struct pm_imap {
	struct pm_imap_params p;	/* borrowed strings */
	struct pm_imap_login lg;	/* the command being read / the login */
	uint32_t bad;			/* bad commands so far */
	uint16_t line_len;		/* bytes of the current line so far */
	uint16_t depth;			/* list nesting in the current line */
	uint16_t lit;			/* literal size being read / bytes left */
	uint16_t tok_len;		/* bytes of the current token */
	uint16_t flags;			/* per-line flags (imap.c) */
	uint8_t phase;			/* enum pm_imap_phase */
	uint8_t st;			/* lexer state (imap.c) */
	uint8_t cmd;			/* command of the current line (imap.c) */
	uint8_t err;			/* verdict on the current line (imap.c) */
	uint8_t nargs;			/* LOGIN: top-level arguments seen */
	uint8_t id_st;			/* ID: where in the list (imap.c) */
	uint8_t id_pairs;		/* ID: keys seen */
	uint8_t tail;			/* skip mode: literal marker tracker */
	uint8_t name_len;		/* command name / mechanism bytes kept */
	char name[13];			/* upper-cased command name or mechanism */
	struct pm_sasl_plain plain;	/* PLAIN: which field the bytes go to */
	struct pm_sasl_b64 b64;		/* base64 of the SASL line */
};

/* Set up @m for a new connection with @params (see pm_imap_params_check();
 * the pointers are kept, not the strings). Returns 0 or -EINVAL. Does not
 * allocate. */
int pm_imap_init(struct pm_imap *m, const struct pm_imap_params *params);

/* Append the greeting to @out. Returns 0, -ENOSPC (nothing appended) or
 * -EINVAL (bad out, or not in PM_IMAP_PHASE_COMMANDS). */
int pm_imap_greet(struct pm_imap *m, struct pm_buf *out);

/*
 * Feed @n client bytes at @p. Consumes them one by one, appending responses to
 * @out, until all are used (PM_IMAP_AGAIN) or a status needs the caller
 * (LOGIN, CLOSE, FULL, ERROR: see enum pm_imap_status); *@consumed says how
 * many were used. Output and statuses depend only on the byte stream, not on
 * how it is split. O(n); does not allocate.
 */
enum pm_imap_status pm_imap_feed(struct pm_imap *m, const uint8_t *p, size_t n, size_t *consumed,
				 struct pm_buf *out);

/* The login the last PM_IMAP_LOGIN reported (valid in PM_IMAP_PHASE_LOGIN
 * and, password wiped, in PM_IMAP_PHASE_DONE); the pointer stays valid as
 * long as @m. */
const struct pm_imap_login *pm_imap_login(const struct pm_imap *m);

enum pm_imap_fail {
	PM_IMAP_FAIL_AUTHFAILED = 1,	/* NO [AUTHENTICATIONFAILED] Authentication failed. */
	PM_IMAP_FAIL_UNAVAILABLE,	/* NO [UNAVAILABLE] <text>; text NULL:
					 * PM_IMAP_DEFAULT_UNAVAILABLE */
	PM_IMAP_FAIL_VERBATIM,		/* NO <text>: the backend's "[CODE] ..." rest */
};

/*
 * The backend refused or failed the login (director.md section 5, "Results
 * passed to the client"). Appends "<tag> NO ..." as listed above, wipes the
 * password and returns to PM_IMAP_PHASE_COMMANDS, so the client may try again
 * on the same connection (possibly as another user). Does not count as a bad
 * command. @text must be at most PM_IMAP_TEXT_MAX bytes without CR, LF or NUL
 * (non-NULL for VERBATIM; ignored for AUTHFAILED). Returns 0, -ENOSPC
 * (nothing appended, nothing changed) or -EINVAL (wrong phase, bad kind, bad
 * text, bad out).
 */
int pm_imap_login_failed(struct pm_imap *m, enum pm_imap_fail kind, const char *text,
			 struct pm_buf *out);

/*
 * The backend accepted the login. Appends "<tag> OK [CAPABILITY <caps>]
 * <text>" (or "<tag> OK <text>" when @caps is NULL; @text NULL means "Logged
 * in", Dovecot's backend text), wipes the password and moves to
 * PM_IMAP_PHASE_DONE: any further feed() is a misuse. Same limits and
 * returns as pm_imap_login_failed() (an empty @caps is -EINVAL). Dovecot
 * 2.3's post-login list is about 420 bytes; for a backend whose list is over
 * PM_IMAP_TEXT_MAX pass NULL: the client then asks CAPABILITY itself.
 */
int pm_imap_login_ok(struct pm_imap *m, const char *caps, const char *text, struct pm_buf *out);

/* The current phase. */
enum pm_imap_phase pm_imap_phase(const struct pm_imap *m);

/* Bad commands counted so far (for counters). */
uint32_t pm_imap_bad_count(const struct pm_imap *m);

/* Wipe the password and any partial SASL data (explicit_bzero). Call it
 * when the connection goes away in PM_IMAP_PHASE_LOGIN or in the middle of a
 * command. The machine stays in its phase. */
void pm_imap_wipe(struct pm_imap *m);

#endif
