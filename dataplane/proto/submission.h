/*
 * submission.h -- the client-facing Submission (RFC 6409, SMTP RFC 5321 with
 * AUTH RFC 4954 and PIPELINING RFC 2920) dialogue up to the login, sans-IO.
 *
 * Owns: one client connection's pre-authentication SMTP state in a
 * fixed-size struct pm_submission the caller allocates (about 2.2 KiB): the
 * domain of the client's last HELO/EHLO and the user, authzid and password
 * of the login in progress are copied into fixed fields of it, never pointed
 * to. Threads: the worker lcore that owns the connection; no shared state,
 * no locks. Pure: no sockets, no mbufs, no clock, no allocation, no logging
 * (inet_pton(3) checks IPv6 address literals; it makes no system call).
 * Bytes go in through pm_submission_feed(); replies are appended to a
 * caller-owned struct pm_buf (proto/buf.h), which the caller sends and
 * drains; the machine never closes anything, it returns a status and the
 * caller acts on it. The params strings are borrowed: they must outlive the
 * machine and not change.
 *
 * It behaves like Dovecot 2.3's submission-login (lib-smtp's smtp-server
 * under src/submission-login). "verified" below means the text was seen,
 * byte for byte, from the Debian 12 Dovecot 2.3.19.1 (ssl = no,
 * auth_mechanisms = plain login, hostname lab-a.example) on 127.0.0.1 with a
 * raw socket; the rest is from the source (dovecot/core
 * src/lib-smtp/smtp-command-parser.c, smtp-server-cmd-*.c, smtp-parser.c,
 * smtp-syntax.c, smtp-server-command.c, src/submission-login/client.c,
 * client-authenticate.c). <host> is params.hostname.
 *
 *   greeting          220 <host> <greeting>                          verified
 *   EHLO <domain>     250-<host>, then one "250-" line per params.ehlo
 *                     keyword, the last one "250 " (defaults: Dovecot's
 *                     pre-login list with ssl = no, which has no STARTTLS):
 *                     250-8BITMIME 250-AUTH PLAIN LOGIN 250-BURL imap
 *                     250-CHUNKING 250-ENHANCEDSTATUSCODES 250-SIZE
 *                     250 PIPELINING                                 verified
 *   HELO <domain>     250 <host>                                     verified
 *   EHLO, HELO without a domain: 501 Missing hostname               verified
 *                     (no enhanced code: Dovecot's own reply)
 *   NOOP [string]     250 2.0.0 OK                                   verified
 *   NOOP with a bad string: 501 5.5.4 Invalid string parameter: <why>, why
 *                     one of "Invalid character in string",
 *                     "Premature end of quoted string",
 *                     "Invalid character in quoted string",
 *                     "Invalid character after '\' in quoted string"
 *                     (an atom or an SMTP quoted string, RFC 5321 4.1.2) verified
 *   RSET              250 2.0.0 OK                                   verified
 *   QUIT              221 2.0.0 Bye                then PM_SUBMISSION_CLOSE verified
 *   RSET, QUIT with parameters: 501 5.5.4 Invalid parameters        verified
 *   MAIL, RCPT, DATA, BDAT, VRFY (any parameters):
 *                     530 5.7.0 Authentication required.             verified
 *   STARTTLS          502 5.5.1 TLS support is not enabled.          verified
 *                     (Dovecot's answer with ssl = no; never advertised)
 *   XCLIENT           550 5.7.14 You are not from trusted IP         verified
 *                     (postmux trusts no client)
 *   anything else, HELP, EXPN, an empty line: 500 5.5.1 Unknown command verified
 *   syntax errors (a command name over 32 letters or ending in a byte that
 *   is not SP, CR or LF; a parameter byte that is not HT, SP, printable
 *   ASCII or well-formed UTF-8; a CR not followed by LF; two spaces after
 *   the command name before a parameter):
 *                     500 5.5.2 Invalid command syntax               verified
 *   a command line over PM_SUBMISSION_LINE_MAX bytes:
 *                     500 5.5.2 Line too long                        verified
 *   AUTH              501 5.5.4 Missing SASL mechanism parameter     verified
 *   AUTH with more than "mechanism SP initial-response":
 *                     501 5.5.4 Invalid parameters                   verified
 *   AUTH other than PLAIN or LOGIN (case-insensitive):
 *                     504 5.5.4 Unsupported authentication mechanism. verified
 *   AUTH PLAIN        334 (334, space, CRLF), then one response line verified
 *   AUTH LOGIN        334 VXNlcm5hbWU6, then 334 UGFzc3dvcmQ6          verified
 *                     (an initial response is the user name; "=" is none)
 *   AUTH cancelled with "*": 501 5.5.2 Authentication aborted by client. verified
 *   bad base64 in an initial response:
 *                     501 5.5.2 Invalid base64 data in initial response verified
 *   a response line holding a byte that is neither a base64 letter nor "="
 *   (SP and HT inside it included):
 *                     535 5.7.8 Invalid base64 in response           verified
 *   a response line of alphabet bytes that is not valid padded base64
 *   ("=" alone included):
 *                     501 5.5.2 Invalid base64 data in continued response verified
 *   a response line with a byte that is not HT or printable ASCII, or a CR
 *   not followed by LF: 500 5.5.2 Invalid AUTH response syntax       verified
 *   a response line over PM_SUBMISSION_AUTH_LINE_MAX bytes:
 *                     500 5.5.2 Line too long                        verified
 *   a login that cannot succeed (PLAIN with fewer than two NULs or an empty
 *   user, "AUTH PLAIN =", LOGIN with an empty user or a NUL in it, a field
 *   over its bound):  535 5.7.8 Authentication failed.               verified
 *                     (Dovecot's auth process answers these; we answer locally)
 *   bad commands: every reply 500, 501 or 503 counts one, any other final
 *   reply resets the count (smtp-server-command.c); the reply that would
 *   make it exceed params.max_bad is replaced by
 *                     421 4.7.0 <host> Too many invalid commands. then
 *                     PM_SUBMISSION_CLOSE (Dovecot: CLIENT_MAX_BAD_COMMANDS
 *                     10, so the 11th consecutive one closes)       verified
 *
 * Parsing as lib-smtp's command parser does: the command name is the
 * letters up to SP, CR or LF (case-insensitive); a bare LF ends a line
 * (verified); trailing SP and HT are dropped from the parameters (verified);
 * a syntax error or an over-long line is answered at the byte that shows it
 * and the rest of the line is skipped (verified), everything else is
 * answered at the line's LF. Replies are in command order, so pipelined
 * commands (RFC 2920) are answered one by one.
 *
 * The HELO/EHLO domain (pm_submission_helo()) is what Dovecot's proxy sends
 * as XCLIENT HELO=: the last HELO or EHLO answered with 250 sets it, to its
 * domain if smtp_helo_domain_parse() accepts it, else to none ("[UNAVAILABLE]"
 * on the wire); a 501 leaves it alone. Accepted: a Domain of sub-domains of
 * letters, digits, '-' and '_' (Dovecot's lenient form) or, for EHLO only,
 * an address literal [a.b.c.d] (each 0..255), [IPv6:<inet_pton-valid>] or
 * [<tag>:<dcontent>], followed by the end or by SP and anything. So
 * "EHLO a b" gives "a", "EHLO a..b", "EHLO x.", "EHLO [1.2.3]", "EHLO x\xc3\xa4",
 * "EHLO a+b", "HELO [1.2.3.4]" give none (all verified through Dovecot's
 * proxy against a fake backend).
 *
 * Deliberate differences from Dovecot, and texts that are ours:
 *   - Line bounds. A command line may have PM_SUBMISSION_LINE_MAX bytes with
 *     its CRLF; Dovecot 2.3.19.1's login process answers "Line too long" once
 *     a line's parameters pass about 1 KiB (seen: 1025 accepted, 1026 not),
 *     so every command line Dovecot accepts is accepted here, and the longest
 *     AUTH PLAIN with an initial response this machine can use (2061 bytes)
 *     fits. An AUTH response line has Dovecot's bound, 8192 bytes before the
 *     CRLF (verified).
 *   - Base64 is strict RFC 4648 with padding everywhere. Dovecot's auth
 *     process skips white space (an HT) inside an initial response (seen);
 *     we answer it as bad base64.
 *   - A LOGIN password with a NUL, and any user, authzid or password over
 *     PM_SUBMISSION_USER_MAX / PM_SUBMISSION_PASS_MAX, get
 *     535 5.7.8 Authentication failed. at once.
 *   - A HELO/EHLO domain over PM_SUBMISSION_DOMAIN_MAX (255, RFC 5321
 *     4.5.3.1.2) bytes counts as none; Dovecot has no bound but its line's.
 *   - A PLAIN authzid equal to the authcid is dropped (as mech-plain.c does).
 *   - Auth failure delays and auth penalties are the caller's (Dovecot's
 *     anvil delays repeated failures from one address).
 *
 * Phases (pm_submission_phase()) and transitions:
 *
 *   COMMANDS --feed: AUTH PLAIN/LOGIN complete--> LOGIN (status
 *                    PM_SUBMISSION_LOGIN; consumption stops right after the
 *                    LF of the login's last line: the AUTH line with a PLAIN
 *                    initial response, else the last response line)
 *   COMMANDS --feed: QUIT, too many bad commands--> CLOSED
 *                    (status PM_SUBMISSION_CLOSE)
 *   COMMANDS --feed: no room in out for a reply--> COMMANDS, unchanged
 *                    (status PM_SUBMISSION_FULL, or PM_SUBMISSION_ERROR if out
 *                    was empty)
 *   LOGIN --pm_submission_login_failed()--> COMMANDS (the client may try
 *                    again), or CLOSED after a 421 reply
 *   LOGIN --pm_submission_login_ok()--> DONE
 *   DONE, CLOSED: final; feed() is a misuse (PM_SUBMISSION_ERROR).
 *
 * Within COMMANDS a byte-level lexer (one state enum in submission.c: command
 * name, parameters, a UTF-8 sequence, CR, skip to LF, SASL response) keeps
 * every partial token, so feeding at any byte boundary gives the same output
 * and the same statuses at the same offsets.
 *
 * Bounds: command line PM_SUBMISSION_LINE_MAX; SASL response line
 * PM_SUBMISSION_AUTH_LINE_MAX; HELO/EHLO domain PM_SUBMISSION_DOMAIN_MAX;
 * user and authzid PM_SUBMISSION_USER_MAX; password PM_SUBMISSION_PASS_MAX;
 * bad commands params.max_bad; params strings PM_SUBMISSION_TEXT_MAX (host
 * PM_SUBMISSION_DOMAIN_MAX, EHLO keywords PM_SUBMISSION_KEYWORD_MAX, at most
 * PM_SUBMISSION_EHLO_MAX of them).
 *
 * Use with proto/submissionback.h (the backend login): the caller passes
 * pm_submission_helo() and pm_submission_greeting() to
 * pm_submissionback_init(), and answers the client for each backend result:
 *   OK                          pm_submission_login_ok(m, text)
 *   AUTHFAILED, VERBATIM, and
 *   TEMPFAIL after the retries  pm_submission_login_failed(m, VERBATIM, text)
 *   SERVERBUG, FAIL after them  pm_submission_login_failed(m, UNAVAILABLE, NULL)
 * with text = pm_submissionback_text(): Dovecot forwards the backend's AUTH
 * reply line to the client as it came, success or failure (verified), and
 * answers everything else with "454 4.7.0 Account is temporarily
 * unavailable." (verified).
 */
#ifndef PM_SUBMISSION_H
#define PM_SUBMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/sasl.h"
#include "proto/utf8.h"

#define PM_SUBMISSION_LINE_MAX		4096u	/* bytes of a command line, CRLF included */
#define PM_SUBMISSION_AUTH_LINE_MAX	8192u	/* bytes of a SASL response line before CRLF */
#define PM_SUBMISSION_USER_MAX		255u	/* bytes of the user (authcid) and of the authzid */
#define PM_SUBMISSION_PASS_MAX		1024u	/* bytes of the password */
#define PM_SUBMISSION_DOMAIN_MAX	255u	/* a HELO/EHLO domain, params.hostname */
#define PM_SUBMISSION_TEXT_MAX		1024u	/* params.greeting, each reply text */
#define PM_SUBMISSION_KEYWORD_MAX	128u	/* bytes of one EHLO keyword line */
#define PM_SUBMISSION_EHLO_MAX		16u	/* EHLO keyword lines */
#define PM_SUBMISSION_MAX_BAD_MAX	1000u

/* An out buffer at least this large always has room for any one reply (the
 * largest: the EHLO reply with every keyword at its bound, 2405 bytes).
 * Smaller ones work as long as each reply fits; see PM_SUBMISSION_FULL. */
#define PM_SUBMISSION_OUT_MIN		4096u

#define PM_SUBMISSION_DEFAULT_HOSTNAME	"postmux"
#define PM_SUBMISSION_DEFAULT_GREETING	"postmux ready."
#define PM_SUBMISSION_DEFAULT_MAX_BAD	10u
#define PM_SUBMISSION_DEFAULT_UNAVAILABLE "Account is temporarily unavailable."

struct pm_submission_params {
	/* Our host name: in the greeting, the EHLO and HELO replies and the
	 * 421 line (Dovecot: the hostname setting). A domain: 1..255 bytes of
	 * printable ASCII without SP. */
	const char *hostname;
	/* Greeting text after the host name (Dovecot: login_greeting,
	 * "Dovecot ready."; Debian's "Dovecot (Debian) ready."). */
	const char *greeting;
	/* The EHLO keyword lines after the host name, a NULL-terminated array
	 * of at most PM_SUBMISSION_EHLO_MAX strings, each 1..128 bytes of
	 * printable ASCII starting with a letter or digit. NULL: the default
	 * (see above). An empty array: EHLO answers "250 <host>" alone. */
	const char *const *ehlo;
	/* More than max_bad consecutive bad commands close (1..1000). */
	uint32_t max_bad;
};

/* Fill @p with the PM_SUBMISSION_DEFAULT_* values and the default keywords. */
void pm_submission_params_defaults(struct pm_submission_params *p);

/* 0 if @p is usable (see the fields), -EINVAL otherwise. */
int pm_submission_params_check(const struct pm_submission_params *p);

enum pm_submission_status {
	PM_SUBMISSION_AGAIN,	/* all n bytes consumed (a line may be unfinished);
				 * send out */
	PM_SUBMISSION_LOGIN,	/* a complete login: see pm_submission_login();
				 * *consumed stops right after the login's last
				 * LF; the bytes after it are the client's
				 * pipelined commands, which the caller keeps for
				 * the backend, or feeds again after
				 * pm_submission_login_failed() */
	PM_SUBMISSION_CLOSE,	/* send out, then close (QUIT, too many bad
				 * commands) */
	PM_SUBMISSION_FULL,	/* out has no room for the reply due at
				 * p[*consumed]; that byte was not consumed and
				 * the machine is unchanged by it: send (drain)
				 * out and feed again from p + *consumed */
	PM_SUBMISSION_ERROR,	/* misuse: feed() outside COMMANDS, an invalid
				 * out, or an out too small for one reply even
				 * when empty (keep cap >= PM_SUBMISSION_OUT_MIN);
				 * nothing of p[*consumed] was used */
};

enum pm_submission_phase {
	PM_SUBMISSION_PHASE_COMMANDS,	/* reading commands */
	PM_SUBMISSION_PHASE_LOGIN,	/* a login was reported; waiting for the backend */
	PM_SUBMISSION_PHASE_DONE,	/* login_ok() was called; the session is the backend's */
	PM_SUBMISSION_PHASE_CLOSED,	/* PM_SUBMISSION_CLOSE was returned, or a 421 sent */
};

enum pm_submission_mech {
	PM_SUBMISSION_MECH_PLAIN = 1,	/* AUTH PLAIN (RFC 4616) */
	PM_SUBMISSION_MECH_LOGIN,	/* AUTH LOGIN (draft-murchison-sasl-login) */
};

/* How the client last greeted (pm_submission_greeting()). */
enum pm_submission_greeting {
	PM_SUBMISSION_GREETING_NONE,	/* no HELO or EHLO answered 250 yet */
	PM_SUBMISSION_GREETING_HELO,	/* XCLIENT PROTO=SMTP */
	PM_SUBMISSION_GREETING_EHLO,	/* XCLIENT PROTO=ESMTP (also for NONE, verified) */
};

/*
 * The login the last PM_SUBMISSION_LOGIN reported. Strings are
 * NUL-terminated and also carry their length; none contains a NUL (PLAIN
 * splits on NUL and, as Dovecot's mech-plain.c, fails a message with a
 * third NUL; LOGIN refuses NUL). They can carry any other byte, CR, LF and
 * 8-bit included: escape before logging. The password is wiped by
 * pm_submission_login_failed(), pm_submission_login_ok() and
 * pm_submission_wipe(). Never log or echo it.
 */
struct pm_submission_login {
	enum pm_submission_mech mech;
	bool sasl_ir;		/* PLAIN: the message came on the AUTH line;
				 * LOGIN: the user name did */
	uint16_t user_len;
	uint16_t authzid_len;
	uint16_t pass_len;
	char user[PM_SUBMISSION_USER_MAX + 1];		/* PLAIN authcid / LOGIN user */
	char authzid[PM_SUBMISSION_USER_MAX + 1];	/* empty unless PLAIN carried a
							 * different one */
	char pass[PM_SUBMISSION_PASS_MAX + 1];
};

/* Per-line argument state (private to submission.c). */
struct pm_submission_arg {
	uint16_t n;		/* parameter (or response) bytes so far */
	uint16_t dom_len;	/* HELO/EHLO: bytes kept in dom */
	uint16_t user_len, authzid_len, pass_len;
	uint16_t flags;		/* per-line flags (submission.c) */
	uint8_t tok;		/* AUTH: 0 mechanism, 1 initial response, 2 more */
	uint8_t mech_len;	/* AUTH: mechanism bytes kept */
	uint8_t sub;		/* NOOP string / LOGIN step sub-state */
	struct pm_sasl_plain plain;	/* PLAIN: which field the bytes go to */
	union {
		struct pm_sasl_b64 b64;	/* base64 of the SASL data */
		uint32_t b64_acc;	/* b64.acc, its first member, by the name
					 * the unit tests read */
	};
};

/*
 * The machine. All fields are private to submission.c; the caller only
 * allocates it and passes it to the functions below.
 */
struct pm_submission {
	struct pm_submission_params p;	/* borrowed strings */
	struct pm_submission_login lg;	/* the login being read / reported */
	struct pm_submission_arg a;	/* the current line's arguments */
	struct pm_submission_arg snap;	/* a after the last non-blank byte */
	uint32_t bad;			/* consecutive bad commands */
	uint16_t line_len;		/* bytes of the current line so far */
	uint16_t helo_len;
	uint8_t phase;			/* enum pm_submission_phase */
	uint8_t st;			/* lexer state (submission.c) */
	uint8_t cmd;			/* command of the current line */
	uint8_t step;			/* AUTH exchange step (submission.c) */
	uint8_t name_len;		/* command name letters seen (saturates) */
	struct pm_utf8 u8;		/* UTF-8 in the parameters */
	uint8_t greeting;		/* enum pm_submission_greeting */
	bool helo_valid;		/* helo holds a domain */
	char name[9];			/* upper-cased command name (first 8 letters) */
	char mech[6];			/* upper-cased AUTH mechanism (first 6 bytes) */
	char dom[PM_SUBMISSION_DOMAIN_MAX + 1];	 /* HELO/EHLO parameter prefix */
	char helo[PM_SUBMISSION_DOMAIN_MAX + 1]; /* the accepted domain */
};

/* Set up @m for a new connection with @params (see
 * pm_submission_params_check(); the pointers are kept, not the strings).
 * Returns 0 or -EINVAL. Does not allocate. */
int pm_submission_init(struct pm_submission *m, const struct pm_submission_params *params);

/* Append the greeting to @out. Returns 0, -ENOSPC (nothing appended) or
 * -EINVAL (bad out, or not in PM_SUBMISSION_PHASE_COMMANDS). */
int pm_submission_greet(struct pm_submission *m, struct pm_buf *out);

/*
 * Feed @n client bytes at @p. Consumes them one by one, appending replies to
 * @out, until all are used (PM_SUBMISSION_AGAIN) or a status needs the
 * caller (LOGIN, CLOSE, FULL, ERROR: see enum pm_submission_status);
 * *@consumed says how many were used. Output and statuses depend only on the
 * byte stream, not on how it is split. O(n); does not allocate.
 */
enum pm_submission_status pm_submission_feed(struct pm_submission *m, const uint8_t *p, size_t n,
					     size_t *consumed, struct pm_buf *out);

/* The login the last PM_SUBMISSION_LOGIN reported (valid in
 * PM_SUBMISSION_PHASE_LOGIN and, password wiped, in PM_SUBMISSION_PHASE_DONE);
 * the pointer stays valid as long as @m. */
const struct pm_submission_login *pm_submission_login(const struct pm_submission *m);

/* The domain of the client's last accepted HELO/EHLO (NUL-terminated, at
 * most PM_SUBMISSION_DOMAIN_MAX bytes of printable ASCII without SP), or
 * NULL if there was none or it was not a valid domain. Valid as long as @m
 * and until the next feed(). */
const char *pm_submission_helo(const struct pm_submission *m);

/* Whether that was HELO or EHLO (or none yet). */
enum pm_submission_greeting pm_submission_greeting(const struct pm_submission *m);

enum pm_submission_fail {
	PM_SUBMISSION_FAIL_AUTHFAILED = 1,	/* 535 5.7.8 Authentication failed. */
	PM_SUBMISSION_FAIL_UNAVAILABLE,		/* 454 4.7.0 <text>; text NULL:
						 * PM_SUBMISSION_DEFAULT_UNAVAILABLE */
	PM_SUBMISSION_FAIL_VERBATIM,		/* <text>: a whole reply line,
						 * "4yz ..." or "5yz ..." */
};

/*
 * The backend refused or failed the login. Appends the reply (see enum
 * pm_submission_fail), wipes the password and returns to
 * PM_SUBMISSION_PHASE_COMMANDS, so the client may try again on the same
 * connection (verified: Dovecot's proxy keeps the client after a 535 or a
 * 454). A VERBATIM line with code 421 moves to PM_SUBMISSION_PHASE_CLOSED
 * instead: close after sending (Dovecot's lib-smtp closes after any 421,
 * verified with a backend answering 421). A VERBATIM 500, 501 or 503 counts
 * as a bad command like any other reply with that code (and may be replaced
 * by the 421 "Too many invalid commands." line, which closes); any other
 * reply resets the count. @text must be at most PM_SUBMISSION_TEXT_MAX bytes
 * without CR, LF or NUL; for VERBATIM, non-NULL, three digits 400..599 and
 * then nothing or SP; ignored for AUTHFAILED. Returns 0, -ENOSPC (nothing
 * appended, nothing changed) or -EINVAL (wrong phase, bad kind, bad text,
 * bad out).
 */
int pm_submission_login_failed(struct pm_submission *m, enum pm_submission_fail kind,
			       const char *text, struct pm_buf *out);

/*
 * The backend accepted the login. Appends @text and CRLF (@text NULL:
 * "235 2.7.0 Logged in.", lib-smtp's and Dovecot's backend's line, verified),
 * wipes the password and moves to PM_SUBMISSION_PHASE_DONE: any further
 * feed() is a misuse. @text is the backend's success line
 * (pm_submissionback_text(): Dovecot passes it on as it came, verified with
 * "235 2.7.0 Welcome aboard, friend"): "235" alone or followed by SP, at
 * most PM_SUBMISSION_TEXT_MAX bytes without CR, LF or NUL. Returns 0,
 * -ENOSPC (nothing appended, nothing changed) or -EINVAL.
 */
int pm_submission_login_ok(struct pm_submission *m, const char *text, struct pm_buf *out);

/* The current phase. */
enum pm_submission_phase pm_submission_phase(const struct pm_submission *m);

/* Consecutive bad commands so far (for counters). */
uint32_t pm_submission_bad_count(const struct pm_submission *m);

/* Wipe the password and any partial SASL data (explicit_bzero). Call it
 * when the connection goes away in PM_SUBMISSION_PHASE_LOGIN or in the
 * middle of an AUTH exchange. The machine stays in its phase. */
void pm_submission_wipe(struct pm_submission *m);

#endif
