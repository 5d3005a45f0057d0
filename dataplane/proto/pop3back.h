/*
 * pop3back.h -- the backend side of a POP3 login, sans-IO: after a client's
 * login was read (proto/pop3), postmux connects to the user's Dovecot
 * backend and logs in there on the client's behalf, as Dovecot 2.3's
 * pop3-login proxy does (src/pop3-login/pop3-proxy.c, 2.3.19.1;
 * shared/spec/director.md section 5 "POP3").
 *
 * Owner: one struct pm_pop3back per backend connection attempt, in memory
 * the caller provides (a plain fixed-size struct, about 6 KiB). The machine
 * copies everything it keeps from the params and from the bytes it is fed;
 * it never keeps a pointer into a caller buffer past a call. Threads: the
 * one lcore that owns the connection. Pure: no DPDK, no socket, no clock, no
 * allocation, no logging. The caller owns connecting, retrying, timeouts and
 * closing; a result tells it what to do.
 *
 * Bytes from the backend go into pm_pop3back_feed(); bytes for the backend
 * are appended to @to_backend. Nothing is ever appended to @to_client:
 * Dovecot's proxy shows the client nothing from the backend before the
 * login's result, and the result line is the client machine's to write
 * (pm_pop3_login_ok() / pm_pop3_login_failed() with pm_pop3back_text()).
 *
 * The dialogue, in Dovecot's order ("verified" = the Debian 12 Dovecot
 * 2.3.19.1 pop3-login proxy did exactly this against a scripted fake
 * backend, and a real Dovecot 2.3.19.1 pop3-login answered exactly this):
 *
 *   1. The banner must be "+OK" followed by a space or the line's end.
 *      Anything else is FAIL: Dovecot logs "Invalid banner", reconnects 3
 *      times and then answers "-ERR [SYS/TEMP] Account is temporarily
 *      unavailable." (verified with "-ERR busy"), so the caller retries FAIL
 *      like a connect failure.
 *   2. In one write (Dovecot pipelines them, verified):
 *      - if the banner starts "+OK [XCLIENT]" (a Dovecot backend that trusts
 *        us; verified: "+OK [XCLIENT] Dovecot (Debian) ready."), byte for
 *        byte Dovecot's line (verified):
 *          XCLIENT ADDR=<client ip> PORT=<client port> SESSION=<sid> TTL=<ttl-1>
 *        (no FORWARD=: postmux has no passdb forward_* fields);
 *      - then the login's first command, one of:
 *        a. USER <user>   when there is no authzid and neither the user nor
 *           the password has a CR or LF (they go on the line as they are,
 *           spaces included: a Dovecot server takes the rest of the line);
 *        b. AUTH PLAIN <base64(authzid NUL user NUL password)>   otherwise:
 *           with the authzid a master user's login (verified: Dovecot sends
 *           "AUTH PLAIN" + base64("bob\0mu\0pass") for user bob, master mu),
 *           without it (empty authzid) for a user or password with CR or LF,
 *           which Dovecot's own proxy would send on a USER/PASS line.
 *   3. The XCLIENT reply must be "+OK" (a real Dovecot answers "+OK
 *      Updated", verified); anything else is FAIL (Dovecot: "XCLIENT
 *      failed", 3 reconnects, then the same "-ERR [SYS/TEMP] ..." as 1,
 *      verified with "-ERR no").
 *   4. The USER reply "+OK" sends "PASS <password>" (the password is wiped
 *      from the struct once it is written); any other reply is the result
 *      (see 5).
 *   5. The result, the reply to PASS or AUTH:
 *      - "+OK" or "+OK <text>": PM_POP3BACK_OK (real Dovecot: "+OK Logged
 *        in.", verified). *consumed then ends right after that line's CRLF;
 *        later bytes (the replies to the client's pipelined commands,
 *        verified) belong to the spliced session. Dovecot forwards this line
 *        to the client verbatim (verified, also "+OK" alone and a 3000-byte
 *        text): pm_pop3back_text() is its text for pm_pop3_login_ok().
 *      - "-ERR [SYS/TEMP]...": TEMPFAIL. Dovecot reconnects up to 3 times,
 *        1 s apart, then forwards the last one: "-ERR [SYS/TEMP] try later
 *        please" (verified). pm_pop3back_text() is the text after the code.
 *      - any other "-ERR <text>": VERBATIM, forwarded as "-ERR <text>"
 *        without a retry (verified: "-ERR [AUTH] no such user here" to USER,
 *        "-ERR [AUTH] Authentication failed." to PASS; real Dovecot answers
 *        a wrong password so).
 *      - anything else ("-ERR" without a space, "what?", "* hi"):
 *        AUTHFAILED; Dovecot answers "-ERR Authentication failed." without
 *        [AUTH] and without a retry (verified, to USER and to PASS).
 *      - after AUTH PLAIN, a "+ " continuation is FAIL: the PLAIN message
 *        was all sent (Dovecot's SASL client fails it as a protocol error).
 *   pm_pop3back_closed() before a result (connection closed or reset) is
 *   FAIL; Dovecot reconnects then too (verified with a close after USER).
 *
 * Status words are case-sensitive ("+OK", "-ERR", "[SYS/TEMP]"), as in
 * RFC 1939 section 3 and as Dovecot compares them.
 *
 * Deliberate differences from Dovecot:
 *   - A positive reply is "+OK" then a space or the end of the line; "+OKAY
 *     x" is not one. Dovecot takes any line starting "+OK" (seen: "+OKAY
 *     whatever" as the PASS reply splices and is forwarded); here it is
 *     AUTHFAILED as the PASS or USER reply, FAIL as banner or XCLIENT reply.
 *   - Framing is stricter than Dovecot's line reader, never looser: a line
 *     ends with CRLF; a NUL, a CR not followed by LF, or a LF not preceded
 *     by CR is FAIL (Dovecot accepts a bare LF and keeps inner CRs and
 *     ends the line at a NUL; its backends send neither).
 *   - CR or LF in the user or password: AUTH PLAIN instead of USER/PASS.
 *   - TEMPFAIL text: the text after "[SYS/TEMP]" and one space; the client
 *     machine writes it back as "-ERR [SYS/TEMP] <text>", which is the
 *     backend's line unless it had no space after the code (Dovecot
 *     forwards "-ERR [SYS/TEMP]x" as it is) or no text (then the generic
 *     "Account is temporarily unavailable.").
 *   - The success line "+OK " (a space and no text) comes out as "+OK".
 *
 * Bounds (a larger input is FAIL):
 *   user, authzid        PM_POP3BACK_USER_MAX (255) bytes    init: -ENAMETOOLONG
 *   password             PM_POP3BACK_PASS_MAX (1024) bytes   init: -ENAMETOOLONG
 *   session id           PM_POP3BACK_SID_MAX (64) bytes      init: -ENAMETOOLONG
 *   one backend line     PM_POP3BACK_LINE_MAX (4096) bytes, CRLF included:
 *                        Dovecot's own limit (verified: 4096 is read, 4097
 *                        is "Too long input line", 3 reconnects, then the
 *                        generic -ERR [SYS/TEMP]); so a result text
 *                        (PM_POP3BACK_TEXT_MAX) is never cut.
 *
 * States (enum pm_pop3back_phase) and transitions; every arrow that sends
 * writes to @to_backend in one go:
 *
 *   BANNER  --"+OK [XCLIENT]..."--> sends XCLIENT + USER or AUTH --> XCLIENT
 *   BANNER  --"+OK ..."--> sends USER --> USER, or AUTH PLAIN --> LOGIN
 *   XCLIENT --"+OK"--> USER (USER was sent) or LOGIN (AUTH was sent)
 *   USER    --"+OK"--> sends PASS --> LOGIN
 *   USER, LOGIN --any other reply--> DONE (the result above)
 *   LOGIN   --"+OK"--> DONE (OK)
 *   BANNER, XCLIENT --anything else--> DONE (FAIL)
 *   any     --malformed or over a bound, pm_pop3back_closed()--> DONE (FAIL)
 *
 * Secrets: the password (and the whole login) leaves the struct only into
 * @to_backend; the struct's copy is wiped with explicit_bzero() as soon as
 * it was written, and every credential field is wiped when the machine
 * reaches DONE or pm_pop3back_wipe() is called. The caller must wipe
 * @to_backend (and its retransmission copy) after use and log nothing of it.
 * A retry needs a new pm_pop3back_init() with the credentials, which the
 * caller keeps (Dovecot resends the login on each reconnect, verified).
 */
#ifndef PM_POP3BACK_H
#define PM_POP3BACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

#define PM_POP3BACK_USER_MAX	255u	/* user and authzid, bytes */
#define PM_POP3BACK_PASS_MAX	1024u	/* password, bytes */
#define PM_POP3BACK_SID_MAX	64u	/* session id, bytes (Dovecot's LOGIN_MAX_SESSION_ID_LEN) */
#define PM_POP3BACK_IP_MAX	45u	/* an IPv4 or IPv6 address as text */
#define PM_POP3BACK_LINE_MAX	4096u	/* one backend line, CRLF included */
#define PM_POP3BACK_TEXT_MAX	(PM_POP3BACK_LINE_MAX - 6u)	/* after "+OK " / "-ERR" */
#define PM_POP3BACK_TTL_DEFAULT	5u	/* Dovecot's LOGIN_PROXY_TTL (2.3) */

/*
 * pm_pop3back_feed() appends at most this many bytes to @to_backend per
 * call; with less room free at a line that sends, it returns
 * PM_POP3BACK_ERROR.
 */
#define PM_POP3BACK_BACKEND_ROOM	4096u

/*
 * What the caller knows about the client and its login. Strings are
 * NUL-terminated and only read during pm_pop3back_init().
 */
struct pm_pop3back_params {
	const char *session_id;	/* XCLIENT SESSION=: 1..64 of 0x21-0x7e */
	const char *client_ip;	/* XCLIENT ADDR=: the client's address */
	const char *local_ip;	/* ours toward the client (VIP); NULL allowed:
				 * Dovecot's POP3 XCLIENT does not carry it */
	uint16_t client_port;	/* XCLIENT PORT= */
	uint16_t local_port;	/* the VIP's port; not sent, as local_ip */
	unsigned int ttl;	/* the proxy TTL; 0 = 5; XCLIENT TTL= is ttl - 1 */
	const char *user;	/* 1..255 bytes: USER name, or SASL authcid */
	const char *authzid;	/* NULL or "" = none; else SASL PLAIN authzid */
	const char *password;	/* 0..1024 bytes */
};

enum pm_pop3back_status {
	PM_POP3BACK_AGAIN = 0,	/* all input consumed, feed more */
	PM_POP3BACK_OK,		/* logged in: splice after *consumed; answer
				 * with pm_pop3_login_ok(pm_pop3back_text()) */
	PM_POP3BACK_AUTHFAILED,	/* a reply neither +OK nor -ERR: answer
				 * PM_POP3_FAIL_AUTHFAILED; no retry */
	PM_POP3BACK_TEMPFAIL,	/* -ERR [SYS/TEMP]: reconnect (3 times, 1 s
				 * apart), then PM_POP3_FAIL_UNAVAILABLE with
				 * pm_pop3back_text() */
	PM_POP3BACK_VERBATIM,	/* -ERR <text>: PM_POP3_FAIL_VERBATIM with
				 * pm_pop3back_text(); no retry */
	PM_POP3BACK_SERVERBUG,	/* never returned: every login can be sent to
				 * a POP3 backend (kept so a caller's switch
				 * matches pm_imapback's) */
	PM_POP3BACK_FAIL,	/* protocol failure or closed: retry like a
				 * connect failure, then
				 * PM_POP3_FAIL_UNAVAILABLE with NULL */
	PM_POP3BACK_ERROR,	/* @to_backend lacks room: nothing lost, drain
				 * it and feed the rest again */
};

/* The machine's phase (see the transitions above). */
enum pm_pop3back_phase {
	PM_POP3BACK_PH_BANNER = 0,	/* waiting for the banner */
	PM_POP3BACK_PH_XCLIENT,		/* waiting for the XCLIENT reply */
	PM_POP3BACK_PH_USER,		/* waiting for the USER reply */
	PM_POP3BACK_PH_LOGIN,		/* waiting for the PASS or AUTH reply */
	PM_POP3BACK_PH_DONE,
};

/*
 * The machine. Every field is private: use the functions below. Its size is
 * fixed (sizeof, about 6 KiB); the caller allocates it and may drop it at
 * any time after pm_pop3back_wipe() (or once a result was returned).
 */
struct pm_pop3back {
	uint8_t phase;		/* enum pm_pop3back_phase */
	uint8_t status;		/* enum pm_pop3back_status; AGAIN until DONE */
	bool cr;		/* the line's last byte was a CR */
	bool plain;		/* the login goes as AUTH PLAIN */
	uint16_t line_len;	/* bytes of the current line, CRLF excluded */
	uint16_t text_off;	/* the result text: line + text_off ... */
	uint16_t text_len;	/* ... text_len bytes, NUL-terminated */
	const char *reason;	/* static text: why FAIL */
	/* copied params */
	uint16_t client_port;
	unsigned int ttl;
	uint16_t user_len, authzid_len, pass_len;
	char session_id[PM_POP3BACK_SID_MAX + 1];
	char client_ip[PM_POP3BACK_IP_MAX + 1];
	char user[PM_POP3BACK_USER_MAX + 1];
	char authzid[PM_POP3BACK_USER_MAX + 1];
	char password[PM_POP3BACK_PASS_MAX + 1];
	/* the current line; after a result, its text */
	char line[PM_POP3BACK_LINE_MAX];
};

/*
 * Set up @b for one connection attempt from @p (copied). Returns 0;
 * -EINVAL if a required string is NULL or empty or has a byte it may not
 * have (addresses: hex digits, '.' and ':'; session id: see the params);
 * -ENAMETOOLONG if a string is over its bound; -ELOOP if @p->ttl is 1
 * (Dovecot refuses to proxy at TTL 1: a loop). No allocation, any thread.
 */
int pm_pop3back_init(struct pm_pop3back *b, const struct pm_pop3back_params *p);

/*
 * Feed @n bytes the backend sent. Consumes a prefix of them (*consumed) and
 * appends what to send to @to_backend (@to_client is never written and may
 * be NULL). Returns:
 *   AGAIN  all @n bytes consumed, no result yet;
 *   ERROR  @to_backend had less room than PM_POP3BACK_BACKEND_ROOM at a line
 *          that sends: *consumed bytes were processed (the line's LF is not
 *          among them), the rest was not looked at; make room and feed the
 *          rest again;
 *   OK     *consumed ends right after the success line; p[*consumed..n) and
 *          everything later is the logged-in session's;
 *   any other: the result; the remaining bytes are not the machine's.
 * Once a result other than AGAIN or ERROR was returned, later calls consume
 * nothing and return it again. Never allocates; owning lcore only.
 */
enum pm_pop3back_status pm_pop3back_feed(struct pm_pop3back *b, const uint8_t *p, size_t n,
					 size_t *consumed, struct pm_buf *to_backend,
					 struct pm_buf *to_client);

/*
 * The backend closed the connection (or the caller gives up on it): FAIL if
 * no result was reached yet, else the result unchanged. Wipes the
 * credentials.
 */
enum pm_pop3back_status pm_pop3back_closed(struct pm_pop3back *b);

/* Wipe every credential @b holds (explicit_bzero); @b stays usable only for
 * the getters below. */
void pm_pop3back_wipe(struct pm_pop3back *b);

/* The machine's phase, for logs and tests. */
enum pm_pop3back_phase pm_pop3back_phase(const struct pm_pop3back *b);

/*
 * The result's text, at most PM_POP3BACK_TEXT_MAX bytes, never with CR, LF
 * or NUL: after OK the text after "+OK " ("" for "+OK" alone); after
 * VERBATIM the text after "-ERR " (may be empty); after TEMPFAIL the text
 * after "[SYS/TEMP]" and one space (Dovecot's generic text if none); ""
 * otherwise. Valid until @b is reused.
 */
const char *pm_pop3back_text(const struct pm_pop3back *b);

/* Why FAIL was returned, a static string for the log (no credentials, no
 * backend bytes); "" otherwise. */
const char *pm_pop3back_reason(const struct pm_pop3back *b);

#endif
