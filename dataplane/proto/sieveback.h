/*
 * sieveback.h -- the backend side of a ManageSieve login, sans-IO: after a
 * client's login was read (proto/sieve), postmux connects to the user's
 * Dovecot backend and logs in there on the client's behalf, as Pigeonhole
 * 0.5's managesieve-login proxy does for Dovecot 2.3
 * (src/managesieve-login/managesieve-proxy.c; shared/spec/director.md
 * section 5 for what all of Dovecot's login proxies share).
 *
 * Owner: one struct pm_sieveback per backend connection attempt, in memory
 * the caller provides (a plain fixed-size struct, about 2.7 KiB). The machine
 * copies everything it keeps from the params and from the bytes it is fed;
 * it never keeps a pointer into a caller buffer past a call. Threads: the
 * one lcore that owns the connection. Pure: no DPDK, no socket, no clock, no
 * allocation, no logging. The caller owns connecting, retrying, timeouts and
 * closing; a result tells it what to do.
 *
 * Bytes from the backend go into pm_sieveback_feed(); bytes for the backend
 * are appended to @to_backend. ManageSieve has no untagged responses and
 * Pigeonhole shows the client nothing of the backend before the result, so
 * nothing is ever appended to @to_client (the parameter keeps the call shaped
 * like pm_imapback_feed()). The dialogue, "verified" = seen between Debian
 * 12's Dovecot 2.3.19.1 managesieve-login (passdb proxy=y) and a scripted
 * fake backend on 127.0.0.1; the machine itself was also run against a real
 * Dovecot 2.3.19.1 ManageSieve backend (login_trusted_networks covering the
 * proxy): it took our XCLIENT (its log shows the client's address and our
 * session id), plain and master-user (authzid) logins, and refused a wrong
 * password with NO, which is AUTHFAILED here:
 *
 *   1. The greeting: capability lines, then OK. Each line is read as
 *      Pigeonhole reads it (proxy_input_capability(): the first two
 *      arguments parsed, the rest of the line ignored):
 *      - "SASL" "<mechanisms>": a non-empty list allows the login (any list:
 *        Pigeonhole then sends PLAIN even to "SASL" "LOGIN", verified);
 *        "SASL" without a second argument, or an atom there, is FAIL
 *        (verified);
 *      - "XCLIENT": XCLIENT is sent before the login (verified);
 *      - any other string first (IMPLEMENTATION, SIEVE, STARTTLS, ...):
 *        ignored, names compared case-insensitively (verified "sasl");
 *      - OK (any case) ends the greeting (verified "ok");
 *      - NO, BYE, another atom first, an empty line, a parse error in the
 *        first two arguments (e.g. OK (CODE) "text") or a literal among them
 *        (Pigeonhole's login process even panics on that one, verified):
 *        FAIL (Pigeonhole retries those, verified);
 *      - a greeting that ends without a non-empty SASL line: SERVERBUG
 *        (Pigeonhole: "Server has disabled authentication", no retry, the
 *        client gets NO "Account is temporarily unavailable.", verified).
 *   2. If XCLIENT was advertised, alone (Pigeonhole waits for its answer,
 *      verified):
 *        XCLIENT ADDR=<client ip> PORT=<client port> SESSION=<sid> TTL=<ttl-1>
 *      byte for byte Pigeonhole 0.5.19's (verified; FORWARD= is left out:
 *      postmux has no passdb forward_* fields). An answer starting "OK" (any
 *      case) followed by a space or the line's end goes on (verified "ok");
 *      anything else is FAIL (Pigeonhole: "Remote XCLIENT failed", retried,
 *      verified).
 *   3. AUTHENTICATE "PLAIN" "<base64(authzid NUL user NUL password)>", with
 *      the user as authzid when there is none, as Dovecot's PLAIN client does
 *      (verified: "user1" logs in as dXNlcjEAdXNlcjEAcGFzcw==). Always with
 *      the initial response: ManageSieve has no SASL-IR capability.
 *   4. The answer, one line:
 *      - "OK" (any case) then a space or the line's end: PM_SIEVEBACK_OK.
 *        *consumed ends right after that line's LF; later bytes (a literal
 *        the line announced included) belong to the spliced session.
 *        pm_sieveback_text() is the line as it came, without its CRLF, for
 *        pm_sieve_login_ok(): Pigeonhole forwards it verbatim (verified
 *        'OK (SASL "abc") "Logged in, welcome."' and 'ok "lower ok"').
 *      - a line starting "NO (TRYLATER) " (any case): TEMPFAIL; Pigeonhole
 *        reconnects 3 times, 1 s apart (4 attempts, verified), then answers
 *        NO (TRYLATER) "<reason>", where the reason is the rest of the line
 *        when it is exactly one valid quoted string (and spaces), unescaped,
 *        else everything after "NO " as it came (verified: 'NO (TRYLATER)
 *        atomtext' gives NO (TRYLATER) "(TRYLATER) atomtext");
 *        pm_sieveback_text() is that reason, for
 *        pm_sieve_login_failed(PM_SIEVE_FAIL_UNAVAILABLE).
 *      - any other line starting "NO" then a space or the line's end
 *        ("NO (TRYLATER/NORETRY) ...", "NO (TRYLATER)" without text,
 *        "NO (AUTH-TOO-WEAK) ...", "NO  (TRYLATER) ..."): AUTHFAILED; no
 *        retry; the client gets NO "Authentication failed." (verified).
 *      - a challenge (a line starting '"'): FAIL (PLAIN takes none;
 *        Pigeonhole retries and then answers the generic text, verified).
 *      - anything else (BYE, OKAY, junk): FAIL. Pigeonhole answers these with
 *        NO "Authentication failed." without a retry (verified); postmux says
 *        the truth instead, as pm_imapback does: the backend did not take
 *        the login, try again.
 *   Connect failures and FAIL, after the retries: the client gets
 *   NO (TRYLATER) "Account is temporarily unavailable." (verified), i.e.
 *   pm_sieve_login_failed(PM_SIEVE_FAIL_UNAVAILABLE, NULL).
 *   VERBATIM is never returned: Pigeonhole 0.5.19 forwards no backend NO but
 *   TRYLATER's (verified); it stays in the enum so the statuses are
 *   pm_imapback's.
 *
 * Framing: a line ends at LF, with or without a CR before it (Dovecot's line
 * reader accepts a bare LF, verified). A CR not followed by LF, or a NUL, is
 * FAIL (stricter than Dovecot, which keeps such bytes in the line; its
 * backends never send them). Lines are never joined through literals: a
 * literal announced at a line's end is read as the next lines, as Pigeonhole
 * reads it.
 *
 * Bounds (a larger input is FAIL unless said otherwise):
 *   user, authzid        PM_SIEVEBACK_USER_MAX (255) bytes   init: -ENAMETOOLONG
 *   password             PM_SIEVEBACK_PASS_MAX (1024) bytes  init: -ENAMETOOLONG
 *   session id           PM_SIEVEBACK_SID_MAX (64) bytes     init: -ENAMETOOLONG
 *   one line             PM_SIEVEBACK_LINE_MAX (4 KiB), its line end included
 *                        (Dovecot's login proxy: MAX_PROXY_INPUT_SIZE 4096)
 *   the greeting         PM_SIEVEBACK_GREETING_MAX (64 KiB) in all
 *   the OK line          PM_SIEVEBACK_TEXT_MAX (1 KiB): it is forwarded
 *                        verbatim, so a longer one cannot be: FAIL
 *   the TRYLATER reason  PM_SIEVEBACK_TEXT_MAX: cut at a UTF-8 boundary
 *
 * Phases (enum pm_sieveback_phase) and transitions; every arrow that sends
 * writes to @to_backend in one go:
 *
 *   GREETING --OK, XCLIENT advertised--> sends XCLIENT --> XCLIENT
 *   GREETING --OK--> sends AUTHENTICATE --> AUTH
 *   GREETING --OK without SASL--> DONE (SERVERBUG)
 *   XCLIENT  --OK--> sends AUTHENTICATE --> AUTH
 *   AUTH     --a line--> DONE (the result above)
 *   any      --anything else, over a bound, pm_sieveback_closed()--> DONE (FAIL)
 *
 * Secrets: the password (and the whole login) leaves the struct only into
 * @to_backend; the struct's copy is wiped with explicit_bzero() as soon as it
 * was written, and every credential field is wiped when the machine reaches
 * DONE or pm_sieveback_wipe() is called. The caller must wipe @to_backend
 * (and its retransmission copy) after use and log nothing of it. A retry
 * needs a new pm_sieveback_init() with the credentials, which the caller
 * keeps (Pigeonhole resends the login on each reconnect, verified).
 */
#ifndef PM_SIEVEBACK_H
#define PM_SIEVEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/utf8.h"

#define PM_SIEVEBACK_USER_MAX		255u	/* user and authzid, bytes */
#define PM_SIEVEBACK_PASS_MAX		1024u	/* password, bytes */
#define PM_SIEVEBACK_SID_MAX		64u	/* session id, bytes */
#define PM_SIEVEBACK_IP_MAX		45u	/* an IPv4 or IPv6 address as text */
#define PM_SIEVEBACK_TEXT_MAX		1024u	/* the OK line / TRYLATER reason kept */
#define PM_SIEVEBACK_LINE_MAX		4096u	/* one backend line */
#define PM_SIEVEBACK_GREETING_MAX	65536u	/* the whole greeting */
#define PM_SIEVEBACK_TTL_DEFAULT	5u	/* Dovecot's LOGIN_PROXY_TTL (2.3) */

/*
 * pm_sieveback_feed() appends at most this many bytes to @to_backend per
 * call; with less room free it may return PM_SIEVEBACK_ERROR.
 */
#define PM_SIEVEBACK_BACKEND_ROOM	4096u

/*
 * What the caller knows about the client and its login. Strings are
 * NUL-terminated and only read during pm_sieveback_init().
 */
struct pm_sieveback_params {
	const char *session_id;	/* XCLIENT SESSION=: 1..64 atom characters
				 * (0x21-0x7e but ( ) { " \) */
	const char *client_ip;	/* XCLIENT ADDR=: the client's address */
	const char *local_ip;	/* ours toward the client: checked, not sent
				 * (0.5.19's XCLIENT has no DESTADDR) */
	uint16_t client_port;	/* XCLIENT PORT= */
	uint16_t local_port;	/* not sent, as local_ip */
	unsigned int ttl;	/* the proxy TTL; 0 = 5; XCLIENT TTL= is ttl - 1 */
	const char *user;	/* 1..255 bytes: the SASL authcid */
	const char *authzid;	/* NULL or "" = none (the user is sent); else
				 * the PLAIN authzid (a master-user login) */
	const char *password;	/* 0..1024 bytes */
};

enum pm_sieveback_status {
	PM_SIEVEBACK_AGAIN = 0,	/* all input consumed, feed more */
	PM_SIEVEBACK_OK,	/* logged in: pm_sieve_login_ok() with
				 * pm_sieveback_text(), splice after *consumed */
	PM_SIEVEBACK_AUTHFAILED,/* answer NO "Authentication failed."; no retry */
	PM_SIEVEBACK_TEMPFAIL,	/* NO (TRYLATER) ...: reconnect (3 times, 1 s
				 * apart), then answer NO (TRYLATER) with
				 * pm_sieveback_text() */
	PM_SIEVEBACK_VERBATIM,	/* never returned (see above) */
	PM_SIEVEBACK_SERVERBUG,	/* cannot log in to this backend: answer
				 * NO "Account is temporarily unavailable."
				 * (PM_SIEVE_FAIL_VERBATIM); no retry */
	PM_SIEVEBACK_FAIL,	/* protocol failure or closed: retry like a
				 * connect failure, then NO (TRYLATER)
				 * "Account is temporarily unavailable." */
	PM_SIEVEBACK_ERROR,	/* @to_backend lacks room: nothing lost, drain
				 * it and feed the rest again */
};

/* The machine's phase (see the transitions above). */
enum pm_sieveback_phase {
	PM_SIEVEBACK_PH_GREETING = 0,
	PM_SIEVEBACK_PH_XCLIENT,
	PM_SIEVEBACK_PH_AUTH,
	PM_SIEVEBACK_PH_DONE,
};

/*
 * The machine. Every field is private: use the functions below. Its size is
 * fixed (sizeof, about 2.7 KiB); the caller allocates it and may drop it at any
 * time after pm_sieveback_wipe() (or once a result was returned).
 */
struct pm_sieveback {
	/* where we are */
	uint8_t phase;		/* enum pm_sieveback_phase */
	uint8_t status;		/* enum pm_sieveback_status; AGAIN until DONE */
	bool cr;		/* the last byte was a CR */
	bool sasl, xclient;	/* learned from the greeting */
	/* the current greeting line: its first two arguments */
	uint8_t g_st;		/* tokenizer state (sieveback.c) */
	uint8_t ntok;		/* arguments seen */
	uint8_t kind[2];	/* their kinds */
	uint8_t word_len;	/* bytes of the first argument kept */
	char word[16];		/* the first argument, upper-cased */
	uint16_t tok2_len;	/* bytes of the second argument (saturating) */
	/* UTF-8 of the quoted string being read */
	struct pm_utf8 u8;
	bool u8_bad;
	/* the current result line */
	uint8_t q_st;		/* TRYLATER reason recognizer (sieveback.c) */
	uint16_t q_end;		/* index of the reason's closing quote */
	uint16_t text_len;	/* bytes kept in text */
	bool text_cut;		/* the line was longer than text */
	uint32_t line_len;	/* bytes of the current line so far */
	uint32_t total;		/* bytes of the greeting so far */
	const char *reason;	/* static text: why FAIL or SERVERBUG */
	/* copied params */
	uint16_t client_port;
	unsigned int ttl;
	uint16_t user_len, authzid_len, pass_len;
	char session_id[PM_SIEVEBACK_SID_MAX + 1];
	char client_ip[PM_SIEVEBACK_IP_MAX + 1];
	char user[PM_SIEVEBACK_USER_MAX + 1];
	char authzid[PM_SIEVEBACK_USER_MAX + 1];
	char password[PM_SIEVEBACK_PASS_MAX + 1];
	/* the result line, then the result text */
	char text[PM_SIEVEBACK_TEXT_MAX + 1];
};

/*
 * Set up @b for one connection attempt from @p (copied). Returns 0;
 * -EINVAL if a required string is NULL or empty or has a byte it may not
 * have (addresses: hex digits, '.' and ':'; session id: see the params);
 * -ENAMETOOLONG if a string is over its bound; -ELOOP if @p->ttl is 1
 * (Dovecot refuses to proxy at TTL 1: a loop). No allocation, any thread.
 */
int pm_sieveback_init(struct pm_sieveback *b, const struct pm_sieveback_params *p);

/*
 * Feed @n bytes the backend sent. Consumes a prefix of them (*consumed) and
 * appends what to send to @to_backend (@to_client is never written and may be
 * NULL). Returns:
 *   AGAIN  all @n bytes consumed, no result yet;
 *   ERROR  @to_backend had less room than PM_SIEVEBACK_BACKEND_ROOM (or is
 *          not a usable struct pm_buf) at a line that sends: *consumed bytes
 *          were processed, the rest was not looked at; make room and feed the
 *          rest again;
 *   OK     *consumed ends right after the OK line's LF; p[*consumed..n) and
 *          everything later is the logged-in session's;
 *   any other: the result; the remaining bytes are not the machine's.
 * Once a result other than AGAIN or ERROR was returned, later calls consume
 * nothing and return it again. Never allocates; owning lcore only.
 */
enum pm_sieveback_status pm_sieveback_feed(struct pm_sieveback *b, const uint8_t *p, size_t n,
					   size_t *consumed, struct pm_buf *to_backend,
					   struct pm_buf *to_client);

/*
 * The backend closed the connection (or the caller gives up on it): FAIL if
 * no result was reached yet, else the result unchanged. Wipes the
 * credentials.
 */
enum pm_sieveback_status pm_sieveback_closed(struct pm_sieveback *b);

/* Wipe every credential @b holds (explicit_bzero); @b stays usable only for
 * the getters below. */
void pm_sieveback_wipe(struct pm_sieveback *b);

/* The machine's phase, for logs and tests. */
enum pm_sieveback_phase pm_sieveback_phase(const struct pm_sieveback *b);

/*
 * The result's text: after OK the backend's OK line as it came, without its
 * line end; after TEMPFAIL the reason (see above); "" otherwise. Never
 * contains CR, LF or NUL; at most PM_SIEVEBACK_TEXT_MAX bytes. Valid until
 * @b is reused.
 */
const char *pm_sieveback_text(const struct pm_sieveback *b);

/* Why FAIL or SERVERBUG was returned, a static string for the log (no
 * credentials, no backend bytes); "" otherwise. */
const char *pm_sieveback_reason(const struct pm_sieveback *b);

#endif
