/*
 * imapback.h -- the backend side of an IMAP login, sans-IO: after a
 * client's login was read (proto/imap), postmux connects to the user's
 * Dovecot backend and logs in there on the client's behalf, as Dovecot 2.3's
 * imap-login proxy does (src/imap-login/imap-proxy.c, 2.3.19.1;
 * shared/spec/director.md section 5 "IMAP").
 *
 * Owner: one struct pm_imapback per backend connection attempt, in memory
 * the caller provides (it is a plain fixed-size struct, about 11 KiB; see
 * below). The machine copies everything it keeps from the params and from
 * the bytes it is fed; it never keeps a pointer into a caller buffer past a
 * call. Threads: the one lcore that owns the connection. Pure: no DPDK, no
 * socket, no clock, no allocation, no logging. The caller owns connecting,
 * retrying, timeouts and closing; a result tells it what to do.
 *
 * Bytes from the backend go into pm_imapback_feed(); bytes for the backend
 * are appended to @to_backend and untagged responses for the client to
 * @to_client. The dialogue (Dovecot's order; "verified" = observed on the
 * Debian 12 Dovecot 2.3.19.1 with a scripted fake backend):
 *
 *   1. The banner must start "* OK " (case-sensitive, as Dovecot's
 *      str_begins()). "* OK [CAPABILITY <caps>] text" gives the backend's
 *      capabilities. Anything else, "* BYE ..." included, is FAIL: Dovecot
 *      logs "Invalid banner", reconnects 3 times and then answers
 *      "NO [UNAVAILABLE] Account is temporarily unavailable." (verified), so
 *      the caller retries FAIL like a connect failure (see the statuses).
 *   2. A banner without capabilities: "C CAPABILITY" is sent alone and the
 *      login waits for the tagged "C" reply (any status), so that ID and the
 *      login mechanism are chosen from the "* CAPABILITY" answer. Dovecot
 *      instead pipelines "C CAPABILITY" and "L LOGIN" and sends no ID
 *      (verified); Dovecot backends always put capabilities in the banner,
 *      so the extra round trip never happens with them.
 *   3. Then, in one write (Dovecot pipelines unless proxy_nopipelining):
 *      - if the capabilities contain ID, the ID line, byte for byte Dovecot's
 *        (verified): I ID ("x-session-id" "<sid>" "x-originating-ip" "<ip>"
 *        "x-originating-port" "<port>" "x-connected-ip" "<ip>"
 *        "x-connected-port" "<port>" "x-proxy-ttl" "<ttl-1>"); the client's
 *        own ID pairs (imap_id_retain) and x-forward-* are not sent;
 *      - "C CAPABILITY" if the client itself sent CAPABILITY before logging
 *        in (params.client_sent_capability) and the banner had capabilities:
 *        Dovecot does this so that the backend's LOGIN reply does not repeat
 *        them (imap-proxy.c proxy_write_login());
 *      - the login, one of:
 *        a. L LOGIN "<user>" "<password>", IMAP quoted strings with '\' and
 *           '"' escaped, when neither contains CR or LF (8-bit bytes are sent
 *           quoted: Dovecot's server accepts them; Dovecot's own proxy would
 *           use an unsynchronised literal for them);
 *        b. L AUTHENTICATE PLAIN <base64(authzid NUL user NUL password)>, with
 *           an empty authzid, when one of them has CR or LF and the backend
 *           has AUTH=PLAIN and SASL-IR;
 *        c. otherwise L LOGIN with a synchronising literal {n} for each
 *           string that cannot be quoted, waiting for the backend's "+"
 *           before sending its bytes (RFC 3501 7.5);
 *        d. with an authzid (the client logged in as a master user with SASL
 *           PLAIN): AUTHENTICATE PLAIN with that authzid; with SASL-IR in one
 *           line, else "L AUTHENTICATE PLAIN", "+", then the base64 line.
 *           Without AUTH=PLAIN in the capabilities: SERVERBUG;
 *        e. LOGINDISABLED in the capabilities: as d. (empty authzid) if
 *           AUTH=PLAIN is there, else SERVERBUG, before anything is written.
 *           Dovecot answers "NO [SERVERBUG] Account is temporarily
 *           unavailable." without retrying and without writing even the ID
 *           line (verified).
 *   4. Until the tagged "L" result:
 *      - "I ..." and "C ..." (replies to our ID and CAPABILITY) and tagged
 *        lines with any other tag ("LL", "l", ...) are ignored, as Dovecot
 *        ignores "unexpected input" (verified with "l OK");
 *      - "* CAPABILITY ..." replaces the known capabilities; it, "* ID ..."
 *        and "* BYE ..." are swallowed; every other untagged response is
 *        appended to @to_client, whole and unchanged, once its last line has
 *        arrived (Dovecot forwards untagged lines, verified);
 *      - "+ ..." sends the next piece of a literal or AUTHENTICATE when one
 *        is awaited, and is ignored otherwise (Dovecot ignores it too).
 *   5. The tagged L result (tags are case-sensitive: the server echoes ours):
 *      - "L OK " exactly (upper case, then a space; RFC 3501 allows "ok"
 *        but Dovecot does not splice on it either: it answers
 *        AUTHENTICATIONFAILED, verified) after the whole login was sent:
 *        PM_IMAPBACK_OK. "[CAPABILITY <caps>]" after it gives the caps.
 *        *consumed then ends right after that line's CRLF; later bytes
 *        belong to the spliced session. Before the login was sent, or while
 *        a "+" is awaited, an "L OK" is FAIL: it answers no command of ours.
 *      - "L NO [AUTHENTICATIONFAILED] ..." or "L NO <text>" without a code:
 *        AUTHFAILED (Dovecot hides both behind its own text, verified).
 *      - "L NO [UNAVAILABLE] <text>": TEMPFAIL (Dovecot reconnects up to
 *        3 times, 1 s apart, then forwards "NO [UNAVAILABLE] <text>",
 *        verified).
 *      - any other "L NO [<code>] <text>": VERBATIM (forwarded, verified).
 *      - "L BAD ...", an unknown status word, "L OK" without a space:
 *        FAIL. Dovecot hides these behind AUTHENTICATIONFAILED without a
 *        retry (verified); postmux says the truth instead: the backend did
 *        not take the login, try later.
 *      "NO", "BAD" and the response codes are compared case-insensitively
 *      (RFC 3501 section 9, rule 4); Dovecot compares them as sent.
 *
 * Framing (stricter than Dovecot's line reader, never looser): a response
 * ends with CRLF. A NUL, a CR not followed by LF, or a LF not preceded by CR
 * outside a literal is FAIL (Dovecot accepts a bare LF; its backends always
 * send CRLF). An untagged data response (not OK, NO, BAD, BYE, PREAUTH or
 * CAPABILITY, whose text cannot hold literals in RFC 3501's grammar) whose
 * line ends in "{<n>}" is followed by <n> literal bytes and then the rest of
 * the response: those bytes are skipped or forwarded, never parsed, so an
 * "L OK" inside a literal is not a result. Tagged lines and "+" lines never
 * carry literals. Only a line start can begin a result.
 *
 * Bounds (a larger input is FAIL unless said otherwise):
 *   user, authzid        PM_IMAPBACK_USER_MAX (255) bytes    init: -ENAMETOOLONG
 *   password             PM_IMAPBACK_PASS_MAX (1024) bytes   init: -ENAMETOOLONG
 *   session id           PM_IMAPBACK_SID_MAX (64) bytes      init: -ENAMETOOLONG
 *   one response         PM_IMAPBACK_LINE_MAX (64 KiB), its lines and literals
 *   a forwarded response PM_IMAPBACK_FWD_MAX (4 KiB), held until complete;
 *                        Dovecot's own limit (login-proxy.c
 *                        MAX_PROXY_INPUT_SIZE 4096, "Remote input buffer
 *                        full")
 *   capabilities         PM_IMAPBACK_CAPS_MAX (4 KiB)
 *   result text          PM_IMAPBACK_TEXT_MAX (1 KiB): longer OK and NO texts
 *                        are cut at a UTF-8 character boundary, but a NO
 *                        response code must end within it (else FAIL)
 *
 * States (enum pm_imapback_phase) and transitions; every arrow that sends
 * writes to @to_backend in one go:
 *
 *   BANNER --"* OK [CAPABILITY..]"--> sends [ID] [C CAPABILITY] login
 *            --> LOGIN, or CONT (a literal or AUTHENTICATE awaits "+")
 *   BANNER --"* OK" without caps--> sends C CAPABILITY --> CAPA
 *   BANNER --anything else--> DONE (FAIL)
 *   CAPA   --tagged C--> sends [ID] login --> LOGIN or CONT
 *   CONT   --"+"--> sends the next piece --> CONT or LOGIN
 *   CAPA, CONT, LOGIN --tagged L--> DONE (the result above)
 *   BANNER, CAPA --the login cannot be sent (3d, 3e)--> DONE (SERVERBUG)
 *   any    --malformed or over a bound, pm_imapback_closed()--> DONE (FAIL)
 *
 * Secrets: the password (and the whole login) leaves the struct only into
 * @to_backend; the struct's copy is wiped with explicit_bzero() as soon as
 * it was written, and every credential field is wiped when the machine
 * reaches DONE or pm_imapback_wipe() is called. The caller must wipe
 * @to_backend (and its retransmission copy) after use and log nothing of it.
 * A retry needs a new pm_imapback_init() with the credentials, which the
 * caller keeps (Dovecot resends the login on each reconnect, verified).
 */
#ifndef PM_IMAPBACK_H
#define PM_IMAPBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_IMAPBACK_USER_MAX	255u	/* user and authzid, bytes */
#define PM_IMAPBACK_PASS_MAX	1024u	/* password, bytes */
#define PM_IMAPBACK_SID_MAX	64u	/* session id, bytes */
#define PM_IMAPBACK_IP_MAX	45u	/* an IPv4 or IPv6 address as text */
#define PM_IMAPBACK_CAPS_MAX	4096u	/* capability list, bytes */
#define PM_IMAPBACK_TEXT_MAX	1024u	/* OK / NO text kept, bytes */
#define PM_IMAPBACK_LINE_MAX	65536u	/* one backend response, bytes */
#define PM_IMAPBACK_FWD_MAX	4096u	/* one forwarded untagged response */
#define PM_IMAPBACK_TAG_MAX	64u	/* the client's tag in client_reply() */
#define PM_IMAPBACK_TTL_DEFAULT	5u	/* Dovecot's LOGIN_PROXY_TTL (2.3) */

/*
 * pm_imapback_feed() appends at most this many bytes to @to_backend per
 * call; with less room free it may return PM_IMAPBACK_ERROR.
 */
#define PM_IMAPBACK_BACKEND_ROOM	4096u
/* Likewise for @to_client: one whole forwarded response per call at most. */
#define PM_IMAPBACK_CLIENT_ROOM		PM_IMAPBACK_FWD_MAX
/* The longest pm_imapback_client_reply() (OK with caps twice and a text). */
#define PM_IMAPBACK_REPLY_MAX \
	(13u + PM_IMAPBACK_CAPS_MAX + 2u + PM_IMAPBACK_TAG_MAX + 17u + \
	 PM_IMAPBACK_CAPS_MAX + 2u + PM_IMAPBACK_TEXT_MAX + 2u)

/*
 * What the caller knows about the client and its login. Strings are
 * NUL-terminated and only read during pm_imapback_init().
 */
struct pm_imapback_params {
	const char *session_id;	/* x-session-id: 1..64 of 0x21-0x7e but '"' '\' */
	const char *client_ip;	/* x-originating-ip: the client's address */
	const char *local_ip;	/* x-connected-ip: ours toward the client (VIP) */
	uint16_t client_port;	/* x-originating-port */
	uint16_t local_port;	/* x-connected-port: the VIP's port */
	unsigned int ttl;	/* the proxy TTL; 0 = 5; "x-proxy-ttl" is ttl - 1 */
	const char *user;	/* 1..255 bytes: LOGIN user, or SASL authcid */
	const char *authzid;	/* NULL or "" = none; else SASL PLAIN authzid */
	const char *password;	/* 0..1024 bytes */
	bool client_sent_capability;	/* the client issued CAPABILITY itself */
};

/* A caller-owned output buffer: the machine appends at p[len..cap). */
struct pm_imapback_buf {
	uint8_t *p;
	size_t len, cap;
};

enum pm_imapback_status {
	PM_IMAPBACK_AGAIN = 0,	/* all input consumed, feed more */
	PM_IMAPBACK_OK,		/* logged in: splice after *consumed */
	PM_IMAPBACK_AUTHFAILED,	/* answer AUTHENTICATIONFAILED; no retry */
	PM_IMAPBACK_TEMPFAIL,	/* NO [UNAVAILABLE]: reconnect (3 times, 1 s
				 * apart), then answer with pm_imapback_text() */
	PM_IMAPBACK_VERBATIM,	/* NO [code]: answer "NO <text>"; no retry */
	PM_IMAPBACK_SERVERBUG,	/* cannot log in to this backend: answer
				 * NO [SERVERBUG]; no retry */
	PM_IMAPBACK_FAIL,	/* protocol failure or closed: retry like a
				 * connect failure, then NO [UNAVAILABLE] */
	PM_IMAPBACK_ERROR,	/* an output buffer lacks room: nothing lost,
				 * drain it and feed the rest again */
};

/* The machine's phase (see the transitions above). */
enum pm_imapback_phase {
	PM_IMAPBACK_PH_BANNER = 0,
	PM_IMAPBACK_PH_CAPA,
	PM_IMAPBACK_PH_CONT,
	PM_IMAPBACK_PH_LOGIN,
	PM_IMAPBACK_PH_DONE,
};

/*
 * The machine. Every field is private: use the functions below. Its size is
 * fixed (sizeof, about 11 KiB); the caller allocates it and may drop it at
 * any time after pm_imapback_wipe() (or once a result was returned).
 */
struct pm_imapback {
	/* where we are */
	uint8_t phase;		/* enum pm_imapback_phase */
	uint8_t status;		/* enum pm_imapback_status; AGAIN until DONE */
	uint8_t lx;		/* the response lexer's state (imapback.c) */
	uint8_t kind;		/* what the current response is */
	uint8_t rt;		/* resp-text sub-state */
	uint8_t method;		/* how the login is sent */
	uint8_t step;		/* login: 0 nothing sent yet */
	uint8_t tok;		/* LOGIN: next string, 0 user 1 password 2 done */
	bool raw_pending;	/* LOGIN: a literal's bytes wait for "+" */
	/* capabilities */
	bool caps_known, cap_id, cap_sasl_ir, cap_auth_plain, cap_logindisabled;
	bool ok_caps;		/* the L OK line carried [CAPABILITY ...] */
	bool client_sent_capability;
	/* the current response */
	bool lit_allowed, lit_pending, lit_over;
	bool text_cut;		/* text was longer than PM_IMAPBACK_TEXT_MAX */
	uint8_t lit_st, lit_ndig;
	uint8_t tag_len, tag0;
	uint8_t st_len;
	char st[4];		/* the L status word */
	uint8_t atom_len;
	char atom[24];		/* first word of an untagged line / a code */
	uint32_t lit_val, lit_left;
	uint32_t resp_len;	/* bytes of the current response so far */
	uint16_t fwd_len, caps_len, text_len, code_end;
	const char *reason;	/* static text: why FAIL or SERVERBUG */
	/* copied params */
	uint16_t client_port, local_port;
	unsigned int ttl;
	uint16_t user_len, authzid_len, pass_len;
	char session_id[PM_IMAPBACK_SID_MAX + 1];
	char client_ip[PM_IMAPBACK_IP_MAX + 1];
	char local_ip[PM_IMAPBACK_IP_MAX + 1];
	char user[PM_IMAPBACK_USER_MAX + 1];
	char authzid[PM_IMAPBACK_USER_MAX + 1];
	char password[PM_IMAPBACK_PASS_MAX + 1];
	/* results */
	char caps[PM_IMAPBACK_CAPS_MAX + 1];
	char text[PM_IMAPBACK_TEXT_MAX + 1];
	uint8_t fwd[PM_IMAPBACK_FWD_MAX];	/* the untagged response held */
};

/*
 * Set up @b for one connection attempt from @p (copied). Returns 0;
 * -EINVAL if a required string is NULL or empty or has a byte it may not
 * have (addresses: hex digits, '.' and ':'; session id: see the params);
 * -ENAMETOOLONG if a string is over its bound; -ELOOP if @p->ttl is 1
 * (Dovecot refuses to proxy at TTL 1: a loop). No allocation, any thread.
 */
int pm_imapback_init(struct pm_imapback *b, const struct pm_imapback_params *p);

/*
 * Feed @n bytes the backend sent. Consumes a prefix of them (*consumed) and
 * appends what to send to @to_backend and what the client must see to
 * @to_client. Returns:
 *   AGAIN  all @n bytes consumed, no result yet;
 *   ERROR  an output buffer had less room than PM_IMAPBACK_BACKEND_ROOM /
 *          the forwarded response needs: *consumed bytes were processed, the
 *          rest was not looked at; make room and feed the rest again;
 *   OK     *consumed ends right after the "L OK" line; p[*consumed..n) and
 *          everything later is the logged-in session's;
 *   any other: the result; the remaining bytes are not the machine's.
 * Once a result other than AGAIN or ERROR was returned, later calls consume
 * nothing and return it again. Never allocates; owning lcore only.
 */
enum pm_imapback_status pm_imapback_feed(struct pm_imapback *b, const uint8_t *p, size_t n,
					 size_t *consumed, struct pm_imapback_buf *to_backend,
					 struct pm_imapback_buf *to_client);

/*
 * The backend closed the connection (or the caller gives up on it): FAIL if
 * no result was reached yet, else the result unchanged. Wipes the
 * credentials. A "* BYE" followed by the close lands here: Dovecot reconnects
 * after it too (verified).
 */
enum pm_imapback_status pm_imapback_closed(struct pm_imapback *b);

/* Wipe every credential @b holds (explicit_bzero); @b stays usable only for
 * the getters below. */
void pm_imapback_wipe(struct pm_imapback *b);

/* The machine's phase, for logs and tests. */
enum pm_imapback_phase pm_imapback_phase(const struct pm_imapback *b);

/*
 * The capabilities to show the client after OK: those of the "L OK
 * [CAPABILITY ...]" line, else the last ones learned (banner or
 * "* CAPABILITY"), which is what Dovecot puts in its reply; NULL if none was
 * seen. Valid until @b is reused.
 */
const char *pm_imapback_caps(const struct pm_imapback *b);

/*
 * The result's text: after OK the text after the response code (or all of it
 * if the code was not CAPABILITY); after VERBATIM "[CODE ...] text"; after
 * TEMPFAIL the text after "[UNAVAILABLE]" (Dovecot's generic text if empty);
 * "" otherwise. Never contains CR, LF or NUL.
 */
const char *pm_imapback_text(const struct pm_imapback *b);

/* Why FAIL or SERVERBUG was returned, a static string for the log (no
 * credentials, no backend bytes); "" otherwise. */
const char *pm_imapback_reason(const struct pm_imapback *b);

/*
 * Append the answer to the client's login command tagged @tag for status @st
 * (which the caller may have turned from TEMPFAIL into FAIL after a failed
 * reconnect), each line ending in CRLF:
 *   OK         "<tag> OK [CAPABILITY <caps>] <text>" (no code if no caps are
 *              known; a code other than CAPABILITY on the backend's line is
 *              dropped when caps are added, as Dovecot does). If the client
 *              had sent CAPABILITY itself, "* CAPABILITY <caps>" comes first
 *              and the backend's line is passed as it was (Dovecot's
 *              client_send_login_reply()).
 *   AUTHFAILED "<tag> NO [AUTHENTICATIONFAILED] Authentication failed."
 *   TEMPFAIL   "<tag> NO [UNAVAILABLE] <text>"
 *   VERBATIM   "<tag> NO <text>"
 *   SERVERBUG  "<tag> NO [SERVERBUG] Account is temporarily unavailable."
 *   FAIL       "<tag> NO [UNAVAILABLE] Account is temporarily unavailable."
 * Returns 0; -EINVAL for AGAIN, ERROR, an unknown status, or a @tag that is
 * empty, longer than PM_IMAPBACK_TAG_MAX or not an IMAP tag; -ENOSPC if @out
 * lacks room (at most PM_IMAPBACK_REPLY_MAX is needed). Nothing is appended
 * on error.
 */
int pm_imapback_client_reply(const struct pm_imapback *b, enum pm_imapback_status st,
			     const char *tag, struct pm_imapback_buf *out);

#endif
