/*
 * submissionback.h -- the backend side of a Submission login, sans-IO:
 * after a client's AUTH was read (proto/submission), postmux connects to the
 * user's Dovecot backend and logs in there on the client's behalf, as Dovecot
 * 2.3's submission-login proxy does (src/submission-login/submission-proxy.c,
 * 2.3.19.1; shared/spec/director.md section 5 "Submission").
 *
 * Owner: one struct pm_submissionback per backend connection attempt, in
 * memory the caller provides (a plain fixed-size struct, about 3.2 KiB). The
 * machine copies everything it keeps from the params and from the bytes it
 * is fed; it never keeps a pointer into a caller buffer past a call.
 * Threads: the one lcore that owns the connection. Pure: no DPDK, no socket,
 * no clock, no allocation, no logging. The caller owns connecting, retrying,
 * timeouts and closing; a result tells it what to do.
 *
 * Bytes from the backend go into pm_submissionback_feed(); bytes for the
 * backend are appended to @to_backend. Nothing the backend says before the
 * result reaches the client (Dovecot forwards nothing either), so @to_client
 * is never written; it is there so that the caller drives this machine
 * exactly like proto/imapback.h. The dialogue, in Dovecot's order ("verified"
 * = Debian 12 Dovecot 2.3.19.1's submission-login with a passdb answering
 * proxy=y, observed through a scripted fake backend, and end to end against
 * a real Dovecot submission backend):
 *
 *   1. The banner must be a 220 reply (one or more lines, all 220). Anything
 *      else is FAIL: Dovecot logs "Invalid banner", reconnects and answers
 *      "454 4.7.0 Account is temporarily unavailable." (verified: 554 and
 *      "* OK" banners, 4 attempts).
 *   2. EHLO <params.ehlo_name> (Dovecot: EHLO <hostname>)          verified
 *      A reply that is not 2xx is FAIL (verified, retried). Its lines give
 *      the capabilities: "XCLIENT <attrs>" (the attribute names, split on
 *      SP, compared case-insensitively; the last such line counts) and
 *      "AUTH <anything>" (a line "AUTH" alone does not count), as Dovecot's
 *      str_begins_icase() tests.
 *   3. If XCLIENT was listed, in one write (pipelined, verified):
 *        XCLIENT HELO=<h> PROTO=<p> TTL=<ttl-1> PORT=<port> ADDR=<ip> SESSION=<sid>
 *        EHLO <params.ehlo_name>
 *      with only the attributes the backend listed, always in this order
 *      (verified with "XCLIENT addr port": "XCLIENT PORT=51193
 *      ADDR=127.39.169.7"; with "XCLIENT SESSION FORWARD LOGIN": "XCLIENT
 *      SESSION=Fa2JV2FhA59/uPVO"). Values are xtext (RFC 3461 4: '+', '='
 *      and bytes outside 0x21-0x7e as "+XX"; verified "SESSION=...+2B..."):
 *        HELO   the client's HELO/EHLO domain, or [UNAVAILABLE] when it
 *               gave none or an invalid one (verified)
 *        PROTO  SMTP after HELO, ESMTP after EHLO or nothing (verified)
 *        TTL    params.ttl - 1 (verified TTL=4 with Dovecot's default 5)
 *        PORT, ADDR  the client's; an IPv6 address as is, "ADDR=::1" (verified)
 *        SESSION  params.session_id
 *      LOGIN (Dovecot: only with proxy_noauth) and FORWARD (only with
 *      passdb forward_* fields) are never sent; neither are DESTADDR,
 *      DESTPORT or TIMEOUT (Dovecot 2.3.19.1 does not either, verified).
 *      A line that would pass 512 bytes is split into several XCLIENT
 *      commands as Dovecot does (the attribute that does not fit starts the
 *      next one; one that does not fit alone is sent alone), each answered
 *      on its own (verified: a 487-byte HELO gives "XCLIENT HELO=... PROTO=
 *      ESMTP" then "XCLIENT TTL=... SESSION=..."). Every XCLIENT reply must
 *      be 2xx (Dovecot answers 220, verified) and then the second EHLO's, else
 *      FAIL (verified, retried). The second EHLO's reply replaces the
 *      capabilities.
 *   4. Without AUTH in the (last) EHLO reply: SERVERBUG before any
 *      credential is written; Dovecot answers "454 4.7.0 Account is
 *      temporarily unavailable." without a retry (verified; it has sent the
 *      XCLIENT by then, as we do).
 *   5. AUTH PLAIN <base64(authzid NUL user NUL password)>, the authzid being
 *      params.authzid or, without one, the user itself (Dovecot's dsasl
 *      PLAIN; verified: "AUTH PLAIN dXNlcjEAdXNlcjEAcGFzcw==" for user1/pass).
 *      If the line would pass 510 bytes (RFC 4954 4; Dovecot's
 *      SMTP_BASE_LINE_LENGTH_LIMIT, verified: the initial response goes
 *      with a 507-byte line, not with a 511-byte one), "AUTH PLAIN" goes
 *      alone, the backend's "334 " (empty challenge) is awaited and the
 *      base64 follows on its own line (verified). A 334 with a challenge
 *      there, a multi-line 334, or any 334 once the response was sent, is
 *      FAIL (Dovecot: protocol failure, retried, verified). A 235 while the
 *      base64 is still ours is FAIL too: it answers no credentials (Dovecot
 *      would take it as success).
 *   6. The AUTH reply (the result; all its lines must carry one code,
 *      "Inconsistent SMTP reply" else, FAIL):
 *        235          OK; *consumed ends right after its CRLF, later bytes
 *                     belong to the spliced session. The client gets the
 *                     line as it came (verified "235 2.7.0 Welcome aboard,
 *                     friend" and "235 Authentication successful").
 *        535          AUTHFAILED; Dovecot forwards the line as it came and
 *                     does not retry (verified "535 5.7.8 Authentication
 *                     credentials invalid"; a Dovecot backend says
 *                     "535 5.7.8 Authentication failed.", verified).
 *        421          VERBATIM: Dovecot forwards it, does not retry, and
 *                     closes the client (verified).
 *        other 4xx    TEMPFAIL: Dovecot reconnects (3 times, 1 s apart) and
 *                     then forwards the last reply as it came (verified 450,
 *                     451 and 454).
 *        other 5xx    VERBATIM: forwarded, no retry (verified 554).
 *        other 2xx, any 1xx or 3xx but the 334 of step 5, a code outside
 *        200..559, a malformed line: FAIL. Dovecot's proxy crashes on
 *        these (verified: an assertion in submission-proxy.c or
 *        smtp-server-cmd-auth.c for "250", "hello there", "600 weird", and
 *        for any multi-line AUTH reply); postmux answers them as a protocol
 *        failure. A multi-line 235/4xx/5xx reply is taken whole and its last
 *        line is the text.
 *
 * Framing (stricter than Dovecot's line reader, never looser): a reply line
 * is three digits, then SP, '-' (more lines follow) or CRLF, then text, and
 * ends with CRLF. A NUL, a CR not followed by LF, or an LF without CR is
 * FAIL (Dovecot accepts a bare LF; its backends always send CRLF). A line
 * without SP or '-' after the code is accepted as RFC 5321 4.2 allows
 * (Dovecot calls it invalid).
 *
 * Bounds (a larger input is FAIL unless said otherwise):
 *   user, authzid        PM_SUBMISSIONBACK_USER_MAX (255)    init: -ENAMETOOLONG
 *   password             PM_SUBMISSIONBACK_PASS_MAX (1024)   init: -ENAMETOOLONG
 *   session id           PM_SUBMISSIONBACK_SID_MAX (64)      init: -ENAMETOOLONG
 *   HELO domain, ehlo_name  PM_SUBMISSIONBACK_DOMAIN_MAX (255) init: -ENAMETOOLONG
 *   one reply line       PM_SUBMISSIONBACK_LINE_MAX (4 KiB, CRLF included)
 *   one reply            PM_SUBMISSIONBACK_REPLY_MAX (64 KiB, all its lines)
 *   result text          PM_SUBMISSIONBACK_TEXT_MAX (1 KiB): a longer last
 *                        line is cut at a UTF-8 character boundary
 *
 * States (enum pm_submissionback_phase) and transitions; every arrow that
 * sends writes to @to_backend in one go:
 *
 *   BANNER  --220--> sends EHLO --> EHLO
 *   EHLO    --2xx, XCLIENT listed--> sends XCLIENT.. EHLO --> XCLIENT
 *   EHLO    --2xx, no XCLIENT, AUTH--> sends AUTH --> AUTH or AUTH_CONT
 *   XCLIENT --2xx (the last one)--> XCLIENT_EHLO
 *   XCLIENT_EHLO --2xx, AUTH--> sends AUTH --> AUTH or AUTH_CONT
 *   EHLO, XCLIENT_EHLO --2xx without AUTH--> DONE (SERVERBUG)
 *   AUTH_CONT --"334 "--> sends the base64 --> AUTH
 *   AUTH_CONT, AUTH --the result--> DONE
 *   any     --malformed, unexpected or over a bound, pm_submissionback_closed()
 *              --> DONE (FAIL)
 *
 * Secrets: the password (and the whole PLAIN message) leaves the struct only
 * into @to_backend, base64-encoded; the struct's copy is wiped with
 * explicit_bzero() as soon as it was written, and every credential field is
 * wiped when the machine reaches DONE or pm_submissionback_wipe() is called.
 * The caller must wipe @to_backend (and its retransmission copy) after use
 * and log nothing of it. A retry needs a new pm_submissionback_init() with
 * the credentials, which the caller keeps (Dovecot resends the login on each
 * reconnect, verified).
 *
 * What the client gets for each result (proto/submission.h): OK
 * pm_submission_login_ok(text); AUTHFAILED and VERBATIM, and TEMPFAIL once
 * the retries are spent, pm_submission_login_failed(VERBATIM, text);
 * SERVERBUG, and FAIL once the retries are spent,
 * pm_submission_login_failed(UNAVAILABLE, NULL), i.e. "454 4.7.0 Account is
 * temporarily unavailable." (verified for a refused connect, a bad banner, a
 * refused EHLO or XCLIENT, a 334 challenge and a missing AUTH); text =
 * pm_submissionback_text().
 */
#ifndef PM_SUBMISSIONBACK_H
#define PM_SUBMISSIONBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

#define PM_SUBMISSIONBACK_USER_MAX	255u	/* user and authzid, bytes */
#define PM_SUBMISSIONBACK_PASS_MAX	1024u	/* password, bytes */
#define PM_SUBMISSIONBACK_SID_MAX	64u	/* session id, bytes */
#define PM_SUBMISSIONBACK_IP_MAX	45u	/* an IPv4 or IPv6 address as text */
#define PM_SUBMISSIONBACK_DOMAIN_MAX	255u	/* the client's HELO domain, ehlo_name */
#define PM_SUBMISSIONBACK_TEXT_MAX	1024u	/* the result line kept, bytes */
#define PM_SUBMISSIONBACK_LINE_MAX	4096u	/* one reply line, CRLF included */
#define PM_SUBMISSIONBACK_REPLY_MAX	65536u	/* one reply, all its lines */
#define PM_SUBMISSIONBACK_TTL_DEFAULT	5u	/* Dovecot's LOGIN_PROXY_TTL (2.3) */

/*
 * pm_submissionback_feed() appends at most this many bytes to @to_backend
 * per call; with less room free it may return PM_SUBMISSIONBACK_ERROR.
 */
#define PM_SUBMISSIONBACK_BACKEND_ROOM	4096u

/*
 * What the caller knows about the client and its login. Strings are
 * NUL-terminated and only read during pm_submissionback_init().
 */
struct pm_submissionback_params {
	const char *session_id;	/* SESSION=: 1..64 of 0x21-0x7e but '"' '\' */
	const char *client_ip;	/* ADDR=: the client's address */
	const char *local_ip;	/* ours toward the client: NULL or checked like
				 * client_ip; not sent (see above) */
	uint16_t client_port;	/* PORT= */
	uint16_t local_port;	/* not sent */
	unsigned int ttl;	/* the proxy TTL; 0 = 5; TTL= is ttl - 1 */
	const char *user;	/* 1..255 bytes: the PLAIN authcid */
	const char *authzid;	/* NULL or "" = none (the user is sent) */
	const char *password;	/* 0..1024 bytes */
	const char *helo;	/* the client's HELO/EHLO domain
				 * (pm_submission_helo()): NULL or "" =
				 * [UNAVAILABLE]; else 1..255 of 0x21-0x7e */
	bool helo_smtp;		/* the client greeted with HELO (PROTO=SMTP);
				 * false after EHLO or none (PROTO=ESMTP) */
	const char *ehlo_name;	/* the name we give in our EHLO (Dovecot: the
				 * hostname setting): 1..255 of 0x21-0x7e */
};

enum pm_submissionback_status {
	PM_SUBMISSIONBACK_AGAIN = 0,	/* all input consumed, feed more */
	PM_SUBMISSIONBACK_OK,		/* logged in: splice after *consumed */
	PM_SUBMISSIONBACK_AUTHFAILED,	/* 535: pass the text on; no retry */
	PM_SUBMISSIONBACK_TEMPFAIL,	/* 4xx but 421: reconnect (3 times, 1 s
					 * apart), then pass the text on */
	PM_SUBMISSIONBACK_VERBATIM,	/* other 5xx, and 421: pass the text
					 * on; no retry */
	PM_SUBMISSIONBACK_SERVERBUG,	/* cannot log in to this backend (no
					 * AUTH): 454 4.7.0; no retry */
	PM_SUBMISSIONBACK_FAIL,		/* protocol failure or closed: retry
					 * like a connect failure, then 454 4.7.0 */
	PM_SUBMISSIONBACK_ERROR,	/* @to_backend lacks room: nothing lost,
					 * drain it and feed the rest again */
};

/* The machine's phase (see the transitions above). */
enum pm_submissionback_phase {
	PM_SUBMISSIONBACK_PH_BANNER = 0,
	PM_SUBMISSIONBACK_PH_EHLO,
	PM_SUBMISSIONBACK_PH_XCLIENT,
	PM_SUBMISSIONBACK_PH_XCLIENT_EHLO,
	PM_SUBMISSIONBACK_PH_AUTH_CONT,
	PM_SUBMISSIONBACK_PH_AUTH,
	PM_SUBMISSIONBACK_PH_DONE,
};

/*
 * The machine. Every field is private: use the functions below. Its size is
 * fixed (sizeof, about 3.2 KiB); the caller allocates it and may drop it at
 * any time after pm_submissionback_wipe() (or once a result was returned).
 */
struct pm_submissionback {
	/* where we are */
	uint8_t phase;		/* enum pm_submissionback_phase */
	uint8_t status;		/* enum pm_submissionback_status; AGAIN until DONE */
	uint8_t lx;		/* the reply lexer's state (submissionback.c) */
	uint8_t kw;		/* EHLO line keyword matcher state */
	uint8_t xclient_left;	/* XCLIENT replies still due */
	bool ir_pending;	/* AUTH went without its initial response */
	/* capabilities (of the EHLO reply being read / last read) */
	bool cap_xclient, cap_auth;
	uint8_t xattrs;		/* XCLIENT attributes listed (bit mask) */
	/* the current reply */
	bool first_line;	/* the line being read is the reply's first */
	bool last_line;		/* it is the reply's last (SP or CRLF after the code) */
	bool text_cut;		/* the kept line was cut at PM_SUBMISSIONBACK_TEXT_MAX */
	uint8_t ndig;		/* code digits read */
	uint16_t code, first_code;
	uint8_t word_len;
	char word[8];		/* an EHLO keyword or XCLIENT attribute, upper-cased */
	uint16_t line_len;	/* bytes of the current line */
	uint32_t reply_len;	/* bytes of the current reply */
	uint16_t text_len;	/* bytes of the current line kept in text */
	const char *reason;	/* static text: why FAIL or SERVERBUG */
	/* copied params */
	uint16_t client_port;
	unsigned int ttl;
	bool helo_smtp;
	uint16_t user_len, authzid_len, pass_len;
	char session_id[PM_SUBMISSIONBACK_SID_MAX + 1];
	char client_ip[PM_SUBMISSIONBACK_IP_MAX + 1];
	char helo[PM_SUBMISSIONBACK_DOMAIN_MAX + 1];	/* "" = [UNAVAILABLE] */
	char ehlo_name[PM_SUBMISSIONBACK_DOMAIN_MAX + 1];
	char user[PM_SUBMISSIONBACK_USER_MAX + 1];
	char authzid[PM_SUBMISSIONBACK_USER_MAX + 1];
	char password[PM_SUBMISSIONBACK_PASS_MAX + 1];
	/* the result */
	char text[PM_SUBMISSIONBACK_TEXT_MAX + 1];
};

/*
 * Set up @b for one connection attempt from @p (copied). Returns 0;
 * -EINVAL if a required string is NULL or empty or has a byte it may not
 * have (addresses: hex digits, '.' and ':'; session id, helo, ehlo_name: see
 * the params); -ENAMETOOLONG if a string is over its bound; -ELOOP if
 * @p->ttl is 1 (Dovecot refuses to proxy at TTL 1: a loop). No allocation,
 * any thread.
 */
int pm_submissionback_init(struct pm_submissionback *b, const struct pm_submissionback_params *p);

/*
 * Feed @n bytes the backend sent. Consumes a prefix of them (*consumed) and
 * appends what to send to @to_backend (@to_client is never written and may
 * be NULL). Returns:
 *   AGAIN  all @n bytes consumed, no result yet;
 *   ERROR  @to_backend had less room than PM_SUBMISSIONBACK_BACKEND_ROOM:
 *          *consumed bytes were processed, the rest was not looked at; make
 *          room and feed the rest again;
 *   OK     *consumed ends right after the 235 reply; p[*consumed..n) and
 *          everything later is the logged-in session's;
 *   any other: the result; the remaining bytes are not the machine's.
 * Once a result other than AGAIN or ERROR was returned, later calls consume
 * nothing and return it again. Never allocates; owning lcore only.
 */
enum pm_submissionback_status pm_submissionback_feed(struct pm_submissionback *b,
						     const uint8_t *p, size_t n, size_t *consumed,
						     struct pm_buf *to_backend,
						     struct pm_buf *to_client);

/*
 * The backend closed the connection (or the caller gives up on it): FAIL if
 * no result was reached yet, else the result unchanged. Wipes the
 * credentials.
 */
enum pm_submissionback_status pm_submissionback_closed(struct pm_submissionback *b);

/* Wipe every credential @b holds (explicit_bzero); @b stays usable only for
 * the getters below. */
void pm_submissionback_wipe(struct pm_submissionback *b);

/* The machine's phase, for logs and tests. */
enum pm_submissionback_phase pm_submissionback_phase(const struct pm_submissionback *b);

/*
 * The result's reply line, without CRLF, as the backend sent it (the last
 * line of a multi-line reply): after OK, AUTHFAILED, TEMPFAIL and VERBATIM,
 * e.g. "235 2.7.0 Logged in." or "535 5.7.8 Authentication failed."; ""
 * otherwise. Never contains CR, LF or NUL; at most PM_SUBMISSIONBACK_TEXT_MAX
 * bytes. Made to be passed to pm_submission_login_ok() /
 * pm_submission_login_failed(VERBATIM).
 */
const char *pm_submissionback_text(const struct pm_submissionback *b);

/* Why FAIL or SERVERBUG was returned, a static string for the log (no
 * credentials, no backend bytes); "" otherwise. */
const char *pm_submissionback_reason(const struct pm_submissionback *b);

#endif
