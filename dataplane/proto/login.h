/*
 * login.h -- one interface over the login dialogues of every spliceable
 * protocol, so that the TCP engine drives them all the same way: the client
 * side up to a complete login (proto/imap, ...) and the backend side that
 * replays the login on the backend (proto/imapback, ...).
 *
 * Owns: nothing beyond the machines. A struct pm_login (client side) and a
 * struct pm_loginback (backend side) each hold the machine of one protocol
 * in a union, tagged by enum pm_login_proto; the functions below dispatch
 * on the tag and translate statuses, kinds of failure and buffers between
 * the engine's generic view and each protocol's own. Threads: the lcore
 * that owns the connection. Pure: no DPDK, no sockets, no clock, no
 * allocation, no logging, like the machines it wraps. Params strings are
 * borrowed, as each machine borrows them.
 *
 * What is generic and what is not:
 *   - Client side statuses (AGAIN, LOGIN, CLOSE, FULL, ERROR) mean what
 *     enum pm_imap_status says for every protocol: LOGIN stops consumption
 *     right after the login's last byte, later bytes are the client's
 *     pipelined commands for the backend.
 *   - pm_login_cred() gives the credentials and what the backend side needs
 *     to know about the client's dialogue (IMAP: did it ask CAPABILITY).
 *   - A failure is answered in the protocol's words (IMAP: "<tag> NO
 *     [AUTHENTICATIONFAILED] Authentication failed.", ...), the success by
 *     pm_login_ok(), which takes what the backend said from the pm_loginback.
 *   - Backend side statuses are enum pm_imapback_status's for every
 *     protocol.
 */
#ifndef PM_LOGIN_H
#define PM_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"
#include "proto/imap.h"
#include "proto/imapback.h"
#include "proto/pop3.h"
#include "proto/pop3back.h"
#include "proto/sieve.h"
#include "proto/sieveback.h"
#include "proto/submission.h"
#include "proto/submissionback.h"

enum pm_login_proto {
	PM_LOGIN_IMAP = 0,
	PM_LOGIN_SUBMISSION,
	PM_LOGIN_POP3,
	PM_LOGIN_SIEVE,
	PM_LOGIN__COUNT,
};

/* "imap", ... ("?" for a value out of range). Static strings. */
const char *pm_login_proto_name(enum pm_login_proto proto);

/* Every protocol's client-side settings. */
struct pm_login_params {
	struct pm_imap_params imap;
	struct pm_pop3_params pop3;
	struct pm_sieve_params sieve;
	struct pm_submission_params submission;	/* hostname: also our EHLO name
						 * towards the backend */
};

void pm_login_params_defaults(struct pm_login_params *p);
int pm_login_params_check(const struct pm_login_params *p);

/* An out buffer this large always has room for any one client-side
 * response of any protocol, pm_login_ok() and pm_login_failed() included. */
#define PM_LOGIN_MAX_(a, b)	((a) > (b) ? (a) : (b))
#define PM_LOGIN_OUT_MIN \
	PM_LOGIN_MAX_(PM_LOGIN_MAX_(PM_IMAP_OUT_MIN, PM_SIEVE_OUT_MIN), \
		      PM_LOGIN_MAX_(PM_POP3_OUT_MIN, PM_SUBMISSION_OUT_MIN))
/* The longest text pm_loginback_text() gives. */
#define PM_LOGIN_TEXT_MAX \
	PM_LOGIN_MAX_(PM_LOGIN_MAX_(PM_IMAP_TEXT_MAX, PM_SIEVEBACK_TEXT_MAX), \
		      PM_LOGIN_MAX_(PM_POP3BACK_TEXT_MAX, PM_SUBMISSIONBACK_TEXT_MAX))

enum pm_login_status {
	PM_LOGIN_AGAIN,
	PM_LOGIN_LOGIN,
	PM_LOGIN_CLOSE,
	PM_LOGIN_FULL,
	PM_LOGIN_ERROR,
};

enum pm_login_fail {
	PM_LOGIN_FAIL_AUTHFAILED = 1,	/* the backend refused the credentials */
	PM_LOGIN_FAIL_UNAVAILABLE,	/* after the retries; text NULL: generic */
	PM_LOGIN_FAIL_VERBATIM,		/* the backend's own answer, @text */
	PM_LOGIN_FAIL_SERVERBUG,	/* cannot log in to this backend */
};

/* The login of the last PM_LOGIN_LOGIN; pointers into the machine, valid
 * until it moves on (pm_login_failed(), pm_login_ok(), pm_login_wipe()). */
struct pm_login_cred {
	const char *user;		/* NUL-terminated, user_len bytes */
	size_t user_len;
	const char *authzid;		/* "" if none */
	size_t authzid_len;
	const char *pass;		/* NUL-terminated; never log it */
	bool client_sent_capability;	/* IMAP: the client asked CAPABILITY */
	const char *helo;		/* Submission: the client's HELO/EHLO
					 * domain, NULL if none usable */
	bool helo_smtp;			/* Submission: it said HELO, not EHLO */
};

struct pm_login {
	uint8_t proto;			/* enum pm_login_proto */
	const struct pm_login_params *p;	/* borrowed */
	union {
		struct pm_imap imap;
		struct pm_pop3 pop3;
		struct pm_sieve sieve;
		struct pm_submission submission;
	} u;
};

/* Set up @m for a new connection of @proto with @p. 0 or -EINVAL. */
int pm_login_init(struct pm_login *m, enum pm_login_proto proto, const struct pm_login_params *p);

/* Append the greeting. 0, -ENOSPC or -EINVAL. */
int pm_login_greet(struct pm_login *m, struct pm_buf *out);

/* Feed client bytes (see the machines' feed()). */
enum pm_login_status pm_login_feed(struct pm_login *m, const uint8_t *p, size_t n,
				   size_t *consumed, struct pm_buf *out);

/* The credentials of the last PM_LOGIN_LOGIN. */
void pm_login_cred(const struct pm_login *m, struct pm_login_cred *c);

/* Answer the login with @kind; @text is what the backend said
 * (pm_loginback_text(): for AUTHFAILED, VERBATIM and UNAVAILABLE after a
 * TEMPFAIL; NULL for our own failures), which each protocol uses as its
 * proxy does (IMAP hides an AUTHFAILED text, Submission forwards the
 * backend's reply line). The client may try again unless
 * pm_login_closed() says otherwise (Submission, after a 421). 0, -ENOSPC
 * or -EINVAL. */
int pm_login_failed(struct pm_login *m, enum pm_login_fail kind, const char *text,
		    struct pm_buf *out);

struct pm_loginback;

/* The backend accepted the login that @b replayed: answer the client (with
 * what the backend said, as the protocol's proxy does). 0, -ENOSPC or
 * -EINVAL. */
int pm_login_ok(struct pm_login *m, const struct pm_loginback *b, struct pm_buf *out);

/* Append the protocol's farewell for a login that took too long (IMAP:
 * "* BYE Disconnected for inactivity."); the caller then closes. 0,
 * -ENOSPC or -EINVAL. */
int pm_login_timeout(struct pm_login *m, struct pm_buf *out);

/* Wipe the password and partial SASL data. */
void pm_login_wipe(struct pm_login *m);

/* True if the machine's last answer ends the connection: send it, then
 * close. */
bool pm_login_closed(const struct pm_login *m);

/* ---- backend side -------------------------------------------------------- */

/* What the backend side knows; strings only read during init. */
struct pm_loginback_params {
	const char *session_id;
	const char *client_ip;		/* the client's address, as text */
	const char *local_ip;		/* the VIP, as text */
	uint16_t client_port;
	uint16_t local_port;		/* the listener's port */
	unsigned int ttl;		/* the proxy TTL; the backend gets ttl - 1 */
	const struct pm_login_cred *cred;
	const struct pm_login_params *login;	/* Submission: our EHLO name */
};

enum pm_loginback_status {
	PM_LOGINBACK_AGAIN = 0,
	PM_LOGINBACK_OK,
	PM_LOGINBACK_AUTHFAILED,
	PM_LOGINBACK_TEMPFAIL,
	PM_LOGINBACK_VERBATIM,
	PM_LOGINBACK_SERVERBUG,
	PM_LOGINBACK_FAIL,
	PM_LOGINBACK_ERROR,
};

/* pm_loginback_feed() needs this much room in @to_backend and in
 * @to_client, whatever the protocol. */
#define PM_LOGINBACK_BACKEND_ROOM \
	PM_LOGIN_MAX_(PM_LOGIN_MAX_(PM_IMAPBACK_BACKEND_ROOM, PM_SIEVEBACK_BACKEND_ROOM), \
		      PM_LOGIN_MAX_(PM_POP3BACK_BACKEND_ROOM, PM_SUBMISSIONBACK_BACKEND_ROOM))
#define PM_LOGINBACK_CLIENT_ROOM	PM_IMAPBACK_CLIENT_ROOM

struct pm_loginback {
	uint8_t proto;			/* enum pm_login_proto */
	union {
		struct pm_imapback imap;
		struct pm_pop3back pop3;
		struct pm_sieveback sieve;
		struct pm_submissionback submission;
	} u;
};

/* Set up @b for one attempt of @proto. 0 or the machine's negative errno. */
int pm_loginback_init(struct pm_loginback *b, enum pm_login_proto proto,
		      const struct pm_loginback_params *p);

/* Feed backend bytes (see pm_imapback_feed()). */
enum pm_loginback_status pm_loginback_feed(struct pm_loginback *b, const uint8_t *p, size_t n,
					   size_t *consumed, struct pm_buf *to_backend,
					   struct pm_buf *to_client);

/* The backend closed: FAIL unless a result was reached. Wipes credentials. */
enum pm_loginback_status pm_loginback_closed(struct pm_loginback *b);

/* The result's text (VERBATIM: the backend's answer; TEMPFAIL: its text),
 * "" if none; never CR, LF or NUL. */
const char *pm_loginback_text(const struct pm_loginback *b);

void pm_loginback_wipe(struct pm_loginback *b);

#endif
