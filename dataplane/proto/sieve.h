/*
 * sieve.h -- the client-facing ManageSieve dialogue up to the login, sans-IO.
 *
 * Owns: one client connection's pre-authentication ManageSieve state (RFC
 * 5804 non-authenticated state, SASL PLAIN RFC 4616) in a fixed-size struct
 * pm_sieve the caller allocates; the user, authzid and password of the login
 * in progress and the NOOP echo tag are copied into fixed fields of it, never
 * pointed to. Threads: the worker lcore that owns the connection; no shared
 * state, no locks. Pure: no sockets, no mbufs, no clock, no allocation, no
 * logging. Bytes go in through pm_sieve_feed(); responses are appended to a
 * caller-owned struct pm_buf (proto/buf.h), which the caller sends and
 * drains; the machine never closes anything, it returns a status and the
 * caller acts on it. The params strings are borrowed: they must outlive the
 * machine and not change.
 *
 * It behaves like Pigeonhole 0.5's managesieve-login for Dovecot 2.3. Every
 * text below marked "verified" was seen from Debian 12's Dovecot 2.3.19.1
 * with dovecot-managesieved (ssl = no, auth_mechanisms = plain login) on
 * 127.0.0.1 through a raw socket, byte for byte; the structure follows the
 * source (dovecot/pigeonhole: src/managesieve-login/client.c,
 * client-authenticate.c, src/lib-managesieve/managesieve-parser.c,
 * managesieve-quote.c). Responses, each ending in CRLF:
 *
 *   greeting     "IMPLEMENTATION" "<implementation>"
 *                "SIEVE" "<sieve>"
 *                "NOTIFY" "<notify>"            (left out if notify is NULL/"")
 *                "SASL" "PLAIN"
 *                "VERSION" "1.0"
 *                OK "<greeting>"                                     verified
 *   CAPABILITY   the same capability lines, then
 *                OK "Capability completed."                          verified
 *   NOOP         OK "NOOP Completed"                                 verified
 *   NOOP <string> OK (TAG <string>) "Done": the string re-quoted as
 *                Pigeonhole does (\" and \\ escaped; when it has either, a
 *                tab becomes a space; with CR or LF a literal {n}; cut at a
 *                NUL a literal carried)                              verified
 *   NOOP <atom>  NO "Invalid echo tag."          (not counted)       verified
 *   LOGOUT       OK "Logout completed."          then PM_SIEVE_CLOSE verified
 *   STARTTLS     NO "TLS support isn't enabled." (not counted; Dovecot's own
 *                text with ssl = no; STARTTLS is never advertised)   verified
 *   XCLIENT      NO "You are not from trusted IP" (not counted: clients are
 *                never trusted here)                                 verified
 *   bad commands (counted): an unknown or empty command name, arguments to
 *                CAPABILITY, LOGOUT or STARTTLS, NOOP with two or more,
 *                AUTHENTICATE without a mechanism string or with an empty one:
 *                NO "Error in MANAGESIEVE command received by server."
 *                the max_bad-th (default 3, CLIENT_MAX_BAD_COMMANDS) instead:
 *                BYE "Too many invalid MANAGESIEVE commands."  then CLOSE
 *                                                                    verified
 *   syntax errors in a known command's arguments (not counted), answered
 *                NO "<text>" with Pigeonhole's parser texts, all verified:
 *                "CR sent without LF", "Invalid characters in atom", "8bit
 *                data in atom", "String contains invalid character.",
 *                "Escaped quoted-string character is not a QUOTED-SPECIAL.",
 *                "NULs not allowed in strings", "Invalid UTF-8 character in
 *                quoted-string.", "Invalid UTF-8 character in literal
 *                string.", "Invalid literal size", "Expecting '}' after '+'",
 *                "Missing LF after literal size"
 *   AUTHENTICATE <mech> [<initial response>] where both are strings (quoted,
 *                or literals {n+} or {n}: ManageSieve servers send no
 *                continuation for literals, verified), the mechanism
 *                case-insensitive; whatever follows the response on its line
 *                is ignored, as Pigeonhole does (verified):
 *     a mechanism other than PLAIN (only PLAIN is advertised):
 *                NO "Unsupported authentication mechanism."          verified
 *     no initial response: the challenge "" (an empty quoted string), then
 *                one response line                                   verified
 *     an atom where the initial response belongs:
 *                NO "Invalid AUTHENTICATE initial response."         verified
 *     an atom as the response:
 *                NO "Invalid AUTHENTICATE client response."          verified
 *     an empty response line:
 *                NO "Received empty AUTHENTICATE client response line."
 *                                                                    verified
 *     the response "*": NO "Authentication aborted by client."      verified
 *     a bad escape or CR/LF in a quoted SASL string:
 *                NO "Error in AUTHENTICATE response string: Escaped
 *                quoted-string character is not a QUOTED-SPECIAL" or
 *                "...: Quoted string contains an invalid character"  verified
 *     bad base64: NO "Invalid base64 data in initial response" (initial
 *                response) / NO "Invalid base64 in response"         verified
 *     an empty response ("", {0}, "="), a PLAIN message that cannot
 *                authenticate (not exactly two NULs, an empty authentication
 *                id, a field over its bound):
 *                NO "Authentication failed."  (Dovecot's auth process
 *                answers these; we answer locally)                   verified
 *     none of these is counted as a bad command                      verified
 *   a literal over the line budget:
 *                BYE "Literal size too large"          then CLOSE    verified
 *   a line over PM_SIEVE_LINE_MAX, literals included (likewise a SASL
 *                response line), or a NOOP echo string over
 *                PM_SIEVE_ECHO_MAX bytes:
 *                BYE "Input buffer full, aborting"     then CLOSE    verified
 *   login results (pm_sieve_login_failed(), pm_sieve_login_ok()):
 *                NO "Authentication failed."                         verified
 *                NO (TRYLATER) "<text>" (default text "Account is
 *                temporarily unavailable.", Pigeonhole's proxy answer to a
 *                backend it cannot reach, verified; the text is quoted as
 *                managesieve-quote.c does it: \" and \\ escaped, tabs turned
 *                into spaces when there are escapes, each run of invalid
 *                UTF-8 replaced by one U+FFFD, verified)
 *                NO <text>            (VERBATIM: text as given)
 *                <the backend's OK line> or OK "Logged in."          verified
 *                (Pigeonhole's proxy forwards the backend's OK line verbatim,
 *                verified; the caller passes it to pm_sieve_login_ok().)
 *
 * Command names are case-insensitive and end at SP, CR or LF (a tab or a
 * quote makes them unknown); lines may end in LF alone (verified).
 *
 * Deliberate differences from Pigeonhole, and texts that are ours:
 *   - A rejected line (unknown command, bad command, syntax error) is skipped
 *     to its LF, but a literal announced at the end of a skipped line has
 *     its data skipped as data (ManageSieve clients send literal data without
 *     waiting), not read as commands. Pigeonhole skips only to the next LF.
 *   - The line budget is PM_SIEVE_LINE_MAX (8 KiB) for every line. Pigeonhole
 *     closes a known command's line over about 1 KiB with "Input buffer full,
 *     aborting" (verified: 1033 bytes pass, 1034 do not) but skips unknown
 *     lines of any length; a NOOP echo string over 1024 bytes gets that BYE
 *     here too, so the echo stays bounded.
 *   - A literal is checked against the line budget digit by digit, so "Literal
 *     size too large" comes before the '}'; Pigeonhole checks at the '}'.
 *   - Base64 is strict RFC 4648 with padding; Dovecot skips white space in it
 *     (verified), we do not ("Invalid base64 ..." instead).
 *   - A SASL response over the line budget gets BYE "Input buffer full,
 *     aborting"; Dovecot closes silently at 8 KiB ("Authentication response
 *     too large", verified).
 *   - A user (authcid) or authzid over PM_SIEVE_USER_MAX, or a password over
 *     PM_SIEVE_PASS_MAX, is NO "Authentication failed."; Dovecot's auth
 *     process answers a 300-byte user with BYE "Internal error occurred..."
 *     (verified).
 *   - A rejected line is answered at its LF; Pigeonhole answers as soon as
 *     it knows (same bytes, earlier).
 *   - An atom where the SASL string belongs ends the line's parse ("Invalid
 *     AUTHENTICATE initial response."); Pigeonhole parses on, so a syntax
 *     error later on that line would give its parser text instead.
 *   - Auth failure delays (auth_failure_delay, the per-IP auth penalty) are
 *     the caller's.
 *
 * Phases (pm_sieve_phase()) and transitions:
 *
 *   COMMANDS --feed: AUTHENTICATE PLAIN complete--> LOGIN
 *                    (status PM_SIEVE_LOGIN; consumption stops right after
 *                    the command's final LF, or the response line's LF)
 *   COMMANDS --feed: LOGOUT, too many bad commands, over a limit--> CLOSED
 *                    (status PM_SIEVE_CLOSE)
 *   COMMANDS --feed: no room in out for a response--> COMMANDS, unchanged
 *                    (status PM_SIEVE_FULL, or PM_SIEVE_ERROR if out was empty)
 *   LOGIN --pm_sieve_login_failed()--> COMMANDS (the client may try again)
 *   LOGIN --pm_sieve_login_ok()--> DONE
 *   DONE, CLOSED: final; feed() is a misuse (PM_SIEVE_ERROR).
 *
 * Within COMMANDS a byte-level lexer (one state enum in sieve.c: command
 * name, arguments, atom, quoted, literal size, literal data, CR, skip to end
 * of line) keeps every partial token, so feeding at any byte boundary gives
 * the same output and the same statuses at the same offsets.
 *
 * Bounds: a line, literals and line ends included, PM_SIEVE_LINE_MAX bytes
 * (a SASL response line likewise); user and authzid PM_SIEVE_USER_MAX;
 * password PM_SIEVE_PASS_MAX; NOOP echo string PM_SIEVE_ECHO_MAX; literal
 * sizes are checked digit by digit against the line budget before
 * multiplying, so they never overflow; bad commands params.max_bad; params
 * strings PM_SIEVE_TEXT_MAX.
 */
#ifndef PM_SIEVE_H
#define PM_SIEVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/sasl.h"
#include "proto/utf8.h"

#define PM_SIEVE_LINE_MAX	8192u	/* bytes of one line, literals included */
#define PM_SIEVE_USER_MAX	255u	/* bytes of the user (authcid) and of the authzid */
#define PM_SIEVE_PASS_MAX	1024u	/* bytes of the password */
#define PM_SIEVE_ECHO_MAX	1024u	/* bytes of a NOOP echo string */
#define PM_SIEVE_TEXT_MAX	1024u	/* each params string, each login result text */
#define PM_SIEVE_MAX_BAD_MAX	1000u

/* An out buffer at least this large always has room for any one response
 * (the largest: CAPABILITY or the greeting with every params string at
 * PM_SIEVE_TEXT_MAX). Smaller ones work as long as each response fits; see
 * PM_SIEVE_FULL and PM_SIEVE_ERROR. */
#define PM_SIEVE_OUT_MIN	(4u * PM_SIEVE_TEXT_MAX + 256u)

/* Pigeonhole's default managesieve_implementation_string (Debian patches it
 * to "Dovecot (Debian) Pigeonhole", verified). */
#define PM_SIEVE_DEFAULT_IMPLEMENTATION	"Dovecot Pigeonhole"
/* What Debian 12's Pigeonhole 0.5.19 advertises by default (verified). */
#define PM_SIEVE_DEFAULT_SIEVE \
	"fileinto reject envelope encoded-character vacation subaddress " \
	"comparator-i;ascii-numeric relational regex imap4flags copy include " \
	"variables body enotify environment mailbox date index ihave duplicate " \
	"mime foreverypart extracttext"
#define PM_SIEVE_DEFAULT_NOTIFY		"mailto"
#define PM_SIEVE_DEFAULT_GREETING	"postmux ready."
#define PM_SIEVE_DEFAULT_MAX_BAD	3u
#define PM_SIEVE_DEFAULT_UNAVAILABLE	"Account is temporarily unavailable."

struct pm_sieve_params {
	/* The "IMPLEMENTATION" capability value. */
	const char *implementation;
	/* The "SIEVE" capability value: the backends' extension list. */
	const char *sieve;
	/* The "NOTIFY" capability value (notification methods); NULL or ""
	 * leaves the line out, as Pigeonhole does without enotify. */
	const char *notify;
	/* The greeting's OK text (Dovecot: login_greeting). */
	const char *greeting;
	/* The max_bad-th bad command closes the connection (1..1000). */
	uint32_t max_bad;
};

/* Fill @p with the PM_SIEVE_DEFAULT_* values. */
void pm_sieve_params_defaults(struct pm_sieve_params *p);

/* 0 if @p is usable: implementation, sieve and greeting non-NULL, every
 * string at most PM_SIEVE_TEXT_MAX bytes of valid UTF-8 without control
 * characters, '"' or '\' (they go between quotes as they are);
 * implementation and sieve non-empty; the greeting without leading or
 * doubled spaces (Dovecot would collapse them); max_bad 1..1000. -EINVAL
 * otherwise. */
int pm_sieve_params_check(const struct pm_sieve_params *p);

enum pm_sieve_status {
	PM_SIEVE_AGAIN,	/* all n bytes consumed (a line or literal may be
			 * unfinished); send out */
	PM_SIEVE_LOGIN,	/* a complete login: see pm_sieve_login(); *consumed
			 * stops right after the AUTHENTICATE line's final LF
			 * (without an initial response: the response line's
			 * LF); the bytes after it are the client's pipelined
			 * commands, which the caller keeps for the backend, or
			 * feeds again after pm_sieve_login_failed() */
	PM_SIEVE_CLOSE,	/* send out, then close (LOGOUT, too many bad commands,
			 * a line or literal over its limit) */
	PM_SIEVE_FULL,	/* out has no room for the response due at
			 * p[*consumed]; that byte was not consumed and the
			 * machine is unchanged by it: send (drain) out and feed
			 * again from p + *consumed */
	PM_SIEVE_ERROR,	/* misuse: feed() outside PM_SIEVE_PHASE_COMMANDS, an
			 * invalid out, or an out too small for one response
			 * even when empty (keep cap >= PM_SIEVE_OUT_MIN);
			 * nothing of p[*consumed] was used */
};

enum pm_sieve_phase {
	PM_SIEVE_PHASE_COMMANDS,	/* reading commands */
	PM_SIEVE_PHASE_LOGIN,		/* a login was reported; waiting for the backend */
	PM_SIEVE_PHASE_DONE,		/* login_ok() was called; the session is the backend's */
	PM_SIEVE_PHASE_CLOSED,		/* PM_SIEVE_CLOSE was returned */
};

enum pm_sieve_mech {
	PM_SIEVE_MECH_PLAIN = 1,	/* AUTHENTICATE "PLAIN" (RFC 4616) */
};

/*
 * The login the last PM_SIEVE_LOGIN reported. Strings are NUL-terminated and
 * also carry their length; none contains a NUL (PLAIN splits on NUL and a
 * third NUL fails the login, as Dovecot 2.3.19.1 does, verified). They can
 * carry any other byte, CR, LF and 8-bit included: escape before logging.
 * The password is wiped by pm_sieve_login_failed(), pm_sieve_login_ok() and
 * pm_sieve_wipe(). Never log or echo it.
 */
struct pm_sieve_login {
	enum pm_sieve_mech mech;
	bool sasl_ir;		/* the response came on the AUTHENTICATE line */
	uint16_t user_len;
	uint16_t authzid_len;
	uint16_t pass_len;
	char user[PM_SIEVE_USER_MAX + 1];	/* PLAIN authcid */
	char authzid[PM_SIEVE_USER_MAX + 1];	/* empty unless PLAIN carried a
						 * different one (an authzid
						 * equal to the authcid is the
						 * same login and is dropped) */
	char pass[PM_SIEVE_PASS_MAX + 1];
};

/*
 * The machine. All fields are private to sieve.c; the caller only allocates
 * it (about 2.7 KiB) and passes it to the functions below.
 */
struct pm_sieve {
	struct pm_sieve_params p;	/* borrowed strings */
	struct pm_sieve_login lg;	/* the login being read / reported */
	uint32_t bad;			/* bad commands so far */
	uint16_t line_len;		/* bytes of the current line so far */
	uint16_t lit;			/* literal size being read / bytes left */
	uint16_t tok_len;		/* bytes of the current token (saturating) */
	uint16_t echo_len;		/* bytes of the NOOP echo string */
	uint16_t flags;			/* per-line flags (sieve.c) */
	uint8_t phase;			/* enum pm_sieve_phase */
	uint8_t st;			/* lexer state (sieve.c) */
	uint8_t cmd;			/* command of the current line (sieve.c) */
	uint8_t err;			/* verdict on the current line (sieve.c) */
	uint8_t nargs;			/* arguments seen on the line */
	uint8_t kind0;			/* kind of the first argument */
	uint8_t tail;			/* skip mode: literal marker tracker */
	uint8_t name_len;		/* command name / mechanism bytes kept */
	char name[13];			/* upper-cased command name or mechanism */
	struct pm_utf8 u8;		/* the current string's UTF-8 check */
	struct pm_sasl_plain plain;	/* PLAIN: which field the bytes go to */
	union {
		struct pm_sasl_b64 b64;	/* base64 of the SASL string */
		uint32_t b64_acc;	/* b64.acc, its first member, by the name
					 * the unit tests read */
	};
	char echo[PM_SIEVE_ECHO_MAX];	/* the NOOP echo string */
};

/* Set up @m for a new connection with @params (see pm_sieve_params_check();
 * the pointers are kept, not the strings). Returns 0 or -EINVAL. Does not
 * allocate. */
int pm_sieve_init(struct pm_sieve *m, const struct pm_sieve_params *params);

/* Append the greeting to @out. Returns 0, -ENOSPC (nothing appended) or
 * -EINVAL (bad out, or not in PM_SIEVE_PHASE_COMMANDS). */
int pm_sieve_greet(struct pm_sieve *m, struct pm_buf *out);

/*
 * Feed @n client bytes at @p. Consumes them one by one, appending responses to
 * @out, until all are used (PM_SIEVE_AGAIN) or a status needs the caller
 * (LOGIN, CLOSE, FULL, ERROR: see enum pm_sieve_status); *@consumed says how
 * many were used. Output and statuses depend only on the byte stream, not on
 * how it is split. O(n); does not allocate.
 */
enum pm_sieve_status pm_sieve_feed(struct pm_sieve *m, const uint8_t *p, size_t n,
				   size_t *consumed, struct pm_buf *out);

/* The login the last PM_SIEVE_LOGIN reported (valid in PM_SIEVE_PHASE_LOGIN
 * and, password wiped, in PM_SIEVE_PHASE_DONE); the pointer stays valid as
 * long as @m. */
const struct pm_sieve_login *pm_sieve_login(const struct pm_sieve *m);

enum pm_sieve_fail {
	PM_SIEVE_FAIL_AUTHFAILED = 1,	/* NO "Authentication failed." */
	PM_SIEVE_FAIL_UNAVAILABLE,	/* NO (TRYLATER) "<text>"; text NULL:
					 * PM_SIEVE_DEFAULT_UNAVAILABLE */
	PM_SIEVE_FAIL_VERBATIM,		/* NO <text>: text as given, e.g.
					 * "\"Account is temporarily
					 * unavailable.\"", Pigeonhole's answer
					 * to a backend without SASL (verified) */
};

/*
 * The backend refused or failed the login. Appends the NO line listed above,
 * wipes the password and returns to PM_SIEVE_PHASE_COMMANDS, so the client
 * may try again on the same connection (possibly as another user). Does not
 * count as a bad command. @text must be at most PM_SIEVE_TEXT_MAX bytes
 * without CR, LF or NUL (non-empty for VERBATIM; ignored for AUTHFAILED).
 * Returns 0, -ENOSPC (nothing appended, nothing changed) or -EINVAL (wrong
 * phase, bad kind, bad text, bad out).
 */
int pm_sieve_login_failed(struct pm_sieve *m, enum pm_sieve_fail kind, const char *text,
			  struct pm_buf *out);

/*
 * The backend accepted the login. Appends @line and CRLF, where @line is the
 * backend's OK line as it came (pm_sieveback_text(), proto/sieveback.h:
 * Pigeonhole forwards it verbatim, verified), or OK "Logged in." when @line
 * is NULL (what Dovecot says for a login it serves itself, verified); wipes
 * the password and moves to PM_SIEVE_PHASE_DONE: any further feed() is a
 * misuse. @line must start with "OK" (any case) followed by its end or a
 * space, and be at most PM_SIEVE_TEXT_MAX bytes without CR, LF or NUL.
 * Returns 0, -ENOSPC (nothing appended, nothing changed) or -EINVAL (wrong
 * phase, bad line, bad out).
 */
int pm_sieve_login_ok(struct pm_sieve *m, const char *line, struct pm_buf *out);

/* The current phase. */
enum pm_sieve_phase pm_sieve_phase(const struct pm_sieve *m);

/* Bad commands counted so far (for counters). */
uint32_t pm_sieve_bad_count(const struct pm_sieve *m);

/* Wipe the password and any partial SASL data (explicit_bzero). Call it
 * when the connection goes away in PM_SIEVE_PHASE_LOGIN or in the middle of a
 * command. The machine stays in its phase. */
void pm_sieve_wipe(struct pm_sieve *m);

#endif
