/*
 * login.c -- one interface over the protocols' login machines (login.h).
 */
#include "proto/login.h"

#include <errno.h>
#include <string.h>

static const char *const proto_names[PM_LOGIN__COUNT] = {
	[PM_LOGIN_IMAP] = "imap",
	[PM_LOGIN_SUBMISSION] = "submission",
	[PM_LOGIN_POP3] = "pop3",
	[PM_LOGIN_SIEVE] = "sieve",
};

const char *
pm_login_proto_name(enum pm_login_proto proto)
{
	return (unsigned int)proto < PM_LOGIN__COUNT ? proto_names[proto] : "?";
}

void
pm_login_params_defaults(struct pm_login_params *p)
{
	memset(p, 0, sizeof(*p));
	pm_imap_params_defaults(&p->imap);
	pm_pop3_params_defaults(&p->pop3);
	pm_sieve_params_defaults(&p->sieve);
	pm_submission_params_defaults(&p->submission);
}

int
pm_login_params_check(const struct pm_login_params *p)
{
	if (pm_imap_params_check(&p->imap) != 0 || pm_pop3_params_check(&p->pop3) != 0 ||
	    pm_sieve_params_check(&p->sieve) != 0 ||
	    pm_submission_params_check(&p->submission) != 0)
		return -EINVAL;
	return 0;
}

/* ---- client side ------------------------------------------------------------ */

int
pm_login_init(struct pm_login *m, enum pm_login_proto proto, const struct pm_login_params *p)
{
	m->proto = (uint8_t)proto;
	m->p = p;
	switch (proto) {
	case PM_LOGIN_IMAP:
		return pm_imap_init(&m->u.imap, &p->imap);
	case PM_LOGIN_SUBMISSION:
		return pm_submission_init(&m->u.submission, &p->submission);
	case PM_LOGIN_POP3:
		return pm_pop3_init(&m->u.pop3, &p->pop3);
	case PM_LOGIN_SIEVE:
		return pm_sieve_init(&m->u.sieve, &p->sieve);
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

int
pm_login_greet(struct pm_login *m, struct pm_buf *out)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		return pm_imap_greet(&m->u.imap, out);
	case PM_LOGIN_SUBMISSION:
		return pm_submission_greet(&m->u.submission, out);
	case PM_LOGIN_POP3:
		return pm_pop3_greet(&m->u.pop3, out);
	case PM_LOGIN_SIEVE:
		return pm_sieve_greet(&m->u.sieve, out);
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

static enum pm_login_status
from_sieve(enum pm_sieve_status st)
{
	switch (st) {
	case PM_SIEVE_AGAIN:
		return PM_LOGIN_AGAIN;
	case PM_SIEVE_LOGIN:
		return PM_LOGIN_LOGIN;
	case PM_SIEVE_CLOSE:
		return PM_LOGIN_CLOSE;
	case PM_SIEVE_FULL:
		return PM_LOGIN_FULL;
	case PM_SIEVE_ERROR:
		break;
	}
	return PM_LOGIN_ERROR;
}

static enum pm_login_status
from_pop3(enum pm_pop3_status st)
{
	switch (st) {
	case PM_POP3_AGAIN:
		return PM_LOGIN_AGAIN;
	case PM_POP3_LOGIN:
		return PM_LOGIN_LOGIN;
	case PM_POP3_CLOSE:
		return PM_LOGIN_CLOSE;
	case PM_POP3_FULL:
		return PM_LOGIN_FULL;
	case PM_POP3_ERROR:
		break;
	}
	return PM_LOGIN_ERROR;
}

static enum pm_login_status
from_submission(enum pm_submission_status st)
{
	switch (st) {
	case PM_SUBMISSION_AGAIN:
		return PM_LOGIN_AGAIN;
	case PM_SUBMISSION_LOGIN:
		return PM_LOGIN_LOGIN;
	case PM_SUBMISSION_CLOSE:
		return PM_LOGIN_CLOSE;
	case PM_SUBMISSION_FULL:
		return PM_LOGIN_FULL;
	case PM_SUBMISSION_ERROR:
		break;
	}
	return PM_LOGIN_ERROR;
}

static enum pm_login_status
from_imap(enum pm_imap_status st)
{
	switch (st) {
	case PM_IMAP_AGAIN:
		return PM_LOGIN_AGAIN;
	case PM_IMAP_LOGIN:
		return PM_LOGIN_LOGIN;
	case PM_IMAP_CLOSE:
		return PM_LOGIN_CLOSE;
	case PM_IMAP_FULL:
		return PM_LOGIN_FULL;
	case PM_IMAP_ERROR:
		break;
	}
	return PM_LOGIN_ERROR;
}

enum pm_login_status
pm_login_feed(struct pm_login *m, const uint8_t *p, size_t n, size_t *consumed,
	      struct pm_buf *out)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		return from_imap(pm_imap_feed(&m->u.imap, p, n, consumed, out));
	case PM_LOGIN_SUBMISSION:
		return from_submission(pm_submission_feed(&m->u.submission, p, n, consumed, out));
	case PM_LOGIN_POP3:
		return from_pop3(pm_pop3_feed(&m->u.pop3, p, n, consumed, out));
	case PM_LOGIN_SIEVE:
		return from_sieve(pm_sieve_feed(&m->u.sieve, p, n, consumed, out));
	case PM_LOGIN__COUNT:
		break;
	}
	*consumed = 0;
	return PM_LOGIN_ERROR;
}

void
pm_login_cred(const struct pm_login *m, struct pm_login_cred *c)
{
	memset(c, 0, sizeof(*c));
	c->user = c->authzid = c->pass = "";
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP: {
		const struct pm_imap_login *lg = pm_imap_login(&m->u.imap);

		c->user = lg->user;
		c->user_len = lg->user_len;
		c->authzid = lg->authzid;
		c->authzid_len = lg->authzid_len;
		c->pass = lg->pass;
		return;
	}
	case PM_LOGIN_POP3: {
		const struct pm_pop3_login *lg = pm_pop3_login(&m->u.pop3);

		c->user = lg->user;
		c->user_len = lg->user_len;
		c->authzid = lg->authzid;
		c->authzid_len = lg->authzid_len;
		c->pass = lg->pass;
		return;
	}
	case PM_LOGIN_SIEVE: {
		const struct pm_sieve_login *lg = pm_sieve_login(&m->u.sieve);

		c->user = lg->user;
		c->user_len = lg->user_len;
		c->authzid = lg->authzid;
		c->authzid_len = lg->authzid_len;
		c->pass = lg->pass;
		return;
	}
	case PM_LOGIN_SUBMISSION: {
		const struct pm_submission_login *lg = pm_submission_login(&m->u.submission);

		c->user = lg->user;
		c->user_len = lg->user_len;
		c->authzid = lg->authzid;
		c->authzid_len = lg->authzid_len;
		c->pass = lg->pass;
		c->helo = pm_submission_helo(&m->u.submission);
		c->helo_smtp = pm_submission_greeting(&m->u.submission) ==
			       PM_SUBMISSION_GREETING_HELO;
		return;
	}
	case PM_LOGIN__COUNT:
		break;
	}
}

int
pm_login_failed(struct pm_login *m, enum pm_login_fail kind, const char *text,
		struct pm_buf *out)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		switch (kind) {
		case PM_LOGIN_FAIL_AUTHFAILED:
			return pm_imap_login_failed(&m->u.imap, PM_IMAP_FAIL_AUTHFAILED, NULL, out);
		case PM_LOGIN_FAIL_UNAVAILABLE:
			return pm_imap_login_failed(&m->u.imap, PM_IMAP_FAIL_UNAVAILABLE, text, out);
		case PM_LOGIN_FAIL_VERBATIM:
			return pm_imap_login_failed(&m->u.imap, PM_IMAP_FAIL_VERBATIM, text, out);
		case PM_LOGIN_FAIL_SERVERBUG:
			/* Dovecot's imap-login words it so. */
			return pm_imap_login_failed(&m->u.imap, PM_IMAP_FAIL_VERBATIM,
						    "[SERVERBUG] Account is temporarily unavailable.",
						    out);
		}
		return -EINVAL;
	case PM_LOGIN_POP3:
		/* pop3-proxy.c: a -ERR is forwarded as it came, an answer
		 * that is neither +OK nor -ERR becomes "-ERR Authentication
		 * failed.", [SYS/TEMP] after the retries keeps its text. */
		switch (kind) {
		case PM_LOGIN_FAIL_AUTHFAILED:
			return pm_pop3_login_failed(&m->u.pop3, PM_POP3_FAIL_AUTHFAILED, NULL, out);
		case PM_LOGIN_FAIL_UNAVAILABLE:
			return pm_pop3_login_failed(&m->u.pop3, PM_POP3_FAIL_UNAVAILABLE,
						    text != NULL && text[0] != '\0' ? text : NULL,
						    out);
		case PM_LOGIN_FAIL_VERBATIM:
			return pm_pop3_login_failed(&m->u.pop3, PM_POP3_FAIL_VERBATIM, text, out);
		case PM_LOGIN_FAIL_SERVERBUG:
			return pm_pop3_login_failed(&m->u.pop3, PM_POP3_FAIL_UNAVAILABLE, NULL, out);
		}
		return -EINVAL;
	case PM_LOGIN_SIEVE:
		/* managesieve-proxy: NO "Authentication failed." for a refusal,
		 * NO (TRYLATER) after the retries. */
		switch (kind) {
		case PM_LOGIN_FAIL_AUTHFAILED:
			return pm_sieve_login_failed(&m->u.sieve, PM_SIEVE_FAIL_AUTHFAILED, NULL, out);
		case PM_LOGIN_FAIL_UNAVAILABLE:
			return pm_sieve_login_failed(&m->u.sieve, PM_SIEVE_FAIL_UNAVAILABLE,
						    text != NULL && text[0] != '\0' ? text : NULL,
						    out);
		case PM_LOGIN_FAIL_VERBATIM:
		case PM_LOGIN_FAIL_SERVERBUG:
			return pm_sieve_login_failed(&m->u.sieve, PM_SIEVE_FAIL_VERBATIM,
						    "\"Account is temporarily unavailable.\"", out);
		}
		return -EINVAL;
	case PM_LOGIN_SUBMISSION: {
		/* Dovecot's submission proxy forwards the backend's reply line
		 * as it came (a 535, the last 4xx after the retries); its own
		 * failures are 454 4.7.0. */
		bool said = text != NULL && text[0] != '\0';

		switch (kind) {
		case PM_LOGIN_FAIL_AUTHFAILED:
			return pm_submission_login_failed(&m->u.submission,
							  said ? PM_SUBMISSION_FAIL_VERBATIM :
							  PM_SUBMISSION_FAIL_AUTHFAILED, text, out);
		case PM_LOGIN_FAIL_UNAVAILABLE:
		case PM_LOGIN_FAIL_VERBATIM:
			return pm_submission_login_failed(&m->u.submission,
							  said ? PM_SUBMISSION_FAIL_VERBATIM :
							  PM_SUBMISSION_FAIL_UNAVAILABLE,
							  said ? text : NULL, out);
		case PM_LOGIN_FAIL_SERVERBUG:
			return pm_submission_login_failed(&m->u.submission,
							  PM_SUBMISSION_FAIL_UNAVAILABLE, NULL, out);
		}
		return -EINVAL;
	}
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

int
pm_login_ok(struct pm_login *m, const struct pm_loginback *b, struct pm_buf *out)
{
	if (b->proto != m->proto)
		return -EINVAL;
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP: {
		const char *caps = pm_imapback_caps(&b->u.imap);

		/* A list too long for our reply: the client asks itself. */
		if (caps != NULL && strlen(caps) > PM_IMAP_TEXT_MAX)
			caps = NULL;
		return pm_imap_login_ok(&m->u.imap, caps, pm_imapback_text(&b->u.imap), out);
	}
	case PM_LOGIN_POP3:
		/* The backend's +OK line as it came, as Dovecot forwards it. */
		return pm_pop3_login_ok(&m->u.pop3, pm_pop3back_text(&b->u.pop3), out);
	case PM_LOGIN_SIEVE:
		/* The backend's OK line as it came, as Pigeonhole forwards it. */
		return pm_sieve_login_ok(&m->u.sieve, pm_sieveback_text(&b->u.sieve), out);
	case PM_LOGIN_SUBMISSION:
		/* The backend's 235 line as it came, as Dovecot forwards it. */
		return pm_submission_login_ok(&m->u.submission,
					      pm_submissionback_text(&b->u.submission), out);
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

int
pm_login_timeout(struct pm_login *m, struct pm_buf *out)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		return pm_buf_append_str(out, "* BYE Disconnected for inactivity.\r\n");
	case PM_LOGIN_POP3:
		return pm_buf_append_str(out, "-ERR Disconnected for inactivity.\r\n");
	case PM_LOGIN_SIEVE:
		return pm_buf_append_str(out, "BYE \"Disconnected for inactivity.\"\r\n");
	case PM_LOGIN_SUBMISSION: {
		/* lib-smtp's idle timeout. */
		const char *host = m->p->submission.hostname;
		size_t n = strlen(host);

		if (pm_buf_room(out) < n + 40)
			return -ENOSPC;
		(void)pm_buf_append_str(out, "421 4.4.2 ");
		(void)pm_buf_append_str(out, host);
		return pm_buf_append_str(out, " Disconnected for inactivity\r\n");
	}
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

void
pm_login_wipe(struct pm_login *m)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		pm_imap_wipe(&m->u.imap);
		return;
	case PM_LOGIN_SUBMISSION:
		pm_submission_wipe(&m->u.submission);
		return;
	case PM_LOGIN_POP3:
		pm_pop3_wipe(&m->u.pop3);
		return;
	case PM_LOGIN_SIEVE:
		pm_sieve_wipe(&m->u.sieve);
		return;
	case PM_LOGIN__COUNT:
		break;
	}
}

bool
pm_login_closed(const struct pm_login *m)
{
	switch ((enum pm_login_proto)m->proto) {
	case PM_LOGIN_IMAP:
		return pm_imap_phase(&m->u.imap) == PM_IMAP_PHASE_CLOSED;
	case PM_LOGIN_SUBMISSION:
		return pm_submission_phase(&m->u.submission) == PM_SUBMISSION_PHASE_CLOSED;
	case PM_LOGIN_POP3:
		return pm_pop3_phase(&m->u.pop3) == PM_POP3_PHASE_CLOSED;
	case PM_LOGIN_SIEVE:
		return pm_sieve_phase(&m->u.sieve) == PM_SIEVE_PHASE_CLOSED;
	case PM_LOGIN__COUNT:
		break;
	}
	return true;
}

/* ---- backend side ----------------------------------------------------------- */

int
pm_loginback_init(struct pm_loginback *b, enum pm_login_proto proto,
		  const struct pm_loginback_params *p)
{
	const struct pm_login_cred *c = p->cred;

	b->proto = (uint8_t)proto;
	switch (proto) {
	case PM_LOGIN_IMAP: {
		struct pm_imapback_params ip;

		memset(&ip, 0, sizeof(ip));
		ip.session_id = p->session_id;
		ip.client_ip = p->client_ip;
		ip.local_ip = p->local_ip;
		ip.client_port = p->client_port;
		ip.local_port = p->local_port;
		ip.ttl = p->ttl;
		ip.user = c->user;
		ip.authzid = c->authzid_len > 0 ? c->authzid : NULL;
		ip.password = c->pass;
		ip.client_sent_capability = c->client_sent_capability;
		return pm_imapback_init(&b->u.imap, &ip);
	}
	case PM_LOGIN_POP3: {
		struct pm_pop3back_params pp;

		memset(&pp, 0, sizeof(pp));
		pp.session_id = p->session_id;
		pp.client_ip = p->client_ip;
		pp.local_ip = p->local_ip;
		pp.client_port = p->client_port;
		pp.local_port = p->local_port;
		pp.ttl = p->ttl;
		pp.user = c->user;
		pp.authzid = c->authzid_len > 0 ? c->authzid : NULL;
		pp.password = c->pass;
		return pm_pop3back_init(&b->u.pop3, &pp);
	}
	case PM_LOGIN_SIEVE: {
		struct pm_sieveback_params vp;

		memset(&vp, 0, sizeof(vp));
		vp.session_id = p->session_id;
		vp.client_ip = p->client_ip;
		vp.local_ip = p->local_ip;
		vp.client_port = p->client_port;
		vp.local_port = p->local_port;
		vp.ttl = p->ttl;
		vp.user = c->user;
		vp.authzid = c->authzid_len > 0 ? c->authzid : NULL;
		vp.password = c->pass;
		return pm_sieveback_init(&b->u.sieve, &vp);
	}
	case PM_LOGIN_SUBMISSION: {
		struct pm_submissionback_params sp;

		memset(&sp, 0, sizeof(sp));
		sp.session_id = p->session_id;
		sp.client_ip = p->client_ip;
		sp.local_ip = p->local_ip;
		sp.client_port = p->client_port;
		sp.local_port = p->local_port;
		sp.ttl = p->ttl;
		sp.user = c->user;
		sp.authzid = c->authzid_len > 0 ? c->authzid : NULL;
		sp.password = c->pass;
		sp.helo = c->helo;
		sp.helo_smtp = c->helo_smtp;
		sp.ehlo_name = p->login->submission.hostname;
		return pm_submissionback_init(&b->u.submission, &sp);
	}
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
}

static enum pm_loginback_status
from_sieveback(enum pm_sieveback_status st)
{
	switch (st) {
	case PM_SIEVEBACK_AGAIN:
		return PM_LOGINBACK_AGAIN;
	case PM_SIEVEBACK_OK:
		return PM_LOGINBACK_OK;
	case PM_SIEVEBACK_AUTHFAILED:
		return PM_LOGINBACK_AUTHFAILED;
	case PM_SIEVEBACK_TEMPFAIL:
		return PM_LOGINBACK_TEMPFAIL;
	case PM_SIEVEBACK_VERBATIM:
		return PM_LOGINBACK_VERBATIM;
	case PM_SIEVEBACK_SERVERBUG:
		return PM_LOGINBACK_SERVERBUG;
	case PM_SIEVEBACK_FAIL:
		return PM_LOGINBACK_FAIL;
	case PM_SIEVEBACK_ERROR:
		break;
	}
	return PM_LOGINBACK_ERROR;
}

static enum pm_loginback_status
from_pop3back(enum pm_pop3back_status st)
{
	switch (st) {
	case PM_POP3BACK_AGAIN:
		return PM_LOGINBACK_AGAIN;
	case PM_POP3BACK_OK:
		return PM_LOGINBACK_OK;
	case PM_POP3BACK_AUTHFAILED:
		return PM_LOGINBACK_AUTHFAILED;
	case PM_POP3BACK_TEMPFAIL:
		return PM_LOGINBACK_TEMPFAIL;
	case PM_POP3BACK_VERBATIM:
		return PM_LOGINBACK_VERBATIM;
	case PM_POP3BACK_SERVERBUG:
		return PM_LOGINBACK_SERVERBUG;
	case PM_POP3BACK_FAIL:
		return PM_LOGINBACK_FAIL;
	case PM_POP3BACK_ERROR:
		break;
	}
	return PM_LOGINBACK_ERROR;
}

static enum pm_loginback_status
from_submissionback(enum pm_submissionback_status st)
{
	switch (st) {
	case PM_SUBMISSIONBACK_AGAIN:
		return PM_LOGINBACK_AGAIN;
	case PM_SUBMISSIONBACK_OK:
		return PM_LOGINBACK_OK;
	case PM_SUBMISSIONBACK_AUTHFAILED:
		return PM_LOGINBACK_AUTHFAILED;
	case PM_SUBMISSIONBACK_TEMPFAIL:
		return PM_LOGINBACK_TEMPFAIL;
	case PM_SUBMISSIONBACK_VERBATIM:
		return PM_LOGINBACK_VERBATIM;
	case PM_SUBMISSIONBACK_SERVERBUG:
		return PM_LOGINBACK_SERVERBUG;
	case PM_SUBMISSIONBACK_FAIL:
		return PM_LOGINBACK_FAIL;
	case PM_SUBMISSIONBACK_ERROR:
		break;
	}
	return PM_LOGINBACK_ERROR;
}

static enum pm_loginback_status
from_imapback(enum pm_imapback_status st)
{
	switch (st) {
	case PM_IMAPBACK_AGAIN:
		return PM_LOGINBACK_AGAIN;
	case PM_IMAPBACK_OK:
		return PM_LOGINBACK_OK;
	case PM_IMAPBACK_AUTHFAILED:
		return PM_LOGINBACK_AUTHFAILED;
	case PM_IMAPBACK_TEMPFAIL:
		return PM_LOGINBACK_TEMPFAIL;
	case PM_IMAPBACK_VERBATIM:
		return PM_LOGINBACK_VERBATIM;
	case PM_IMAPBACK_SERVERBUG:
		return PM_LOGINBACK_SERVERBUG;
	case PM_IMAPBACK_FAIL:
		return PM_LOGINBACK_FAIL;
	case PM_IMAPBACK_ERROR:
		break;
	}
	return PM_LOGINBACK_ERROR;
}

enum pm_loginback_status
pm_loginback_feed(struct pm_loginback *b, const uint8_t *p, size_t n, size_t *consumed,
		  struct pm_buf *to_backend, struct pm_buf *to_client)
{
	switch ((enum pm_login_proto)b->proto) {
	case PM_LOGIN_IMAP: {
		struct pm_imapback_buf tb = { to_backend->p, to_backend->len, to_backend->cap };
		struct pm_imapback_buf tc = { to_client->p, to_client->len, to_client->cap };
		enum pm_imapback_status st = pm_imapback_feed(&b->u.imap, p, n, consumed, &tb, &tc);

		to_backend->len = tb.len;
		to_client->len = tc.len;
		return from_imapback(st);
	}
	case PM_LOGIN_SUBMISSION:
		return from_submissionback(pm_submissionback_feed(&b->u.submission, p, n, consumed,
								  to_backend, to_client));
	case PM_LOGIN_POP3:
		return from_pop3back(pm_pop3back_feed(&b->u.pop3, p, n, consumed, to_backend,
						      to_client));
	case PM_LOGIN_SIEVE:
		return from_sieveback(pm_sieveback_feed(&b->u.sieve, p, n, consumed, to_backend,
							to_client));
	case PM_LOGIN__COUNT:
		break;
	}
	*consumed = 0;
	return PM_LOGINBACK_FAIL;
}

enum pm_loginback_status
pm_loginback_closed(struct pm_loginback *b)
{
	switch ((enum pm_login_proto)b->proto) {
	case PM_LOGIN_IMAP:
		return from_imapback(pm_imapback_closed(&b->u.imap));
	case PM_LOGIN_SUBMISSION:
		return from_submissionback(pm_submissionback_closed(&b->u.submission));
	case PM_LOGIN_POP3:
		return from_pop3back(pm_pop3back_closed(&b->u.pop3));
	case PM_LOGIN_SIEVE:
		return from_sieveback(pm_sieveback_closed(&b->u.sieve));
	case PM_LOGIN__COUNT:
		break;
	}
	return PM_LOGINBACK_FAIL;
}

const char *
pm_loginback_text(const struct pm_loginback *b)
{
	switch ((enum pm_login_proto)b->proto) {
	case PM_LOGIN_IMAP:
		return pm_imapback_text(&b->u.imap);
	case PM_LOGIN_SUBMISSION:
		return pm_submissionback_text(&b->u.submission);
	case PM_LOGIN_POP3:
		return pm_pop3back_text(&b->u.pop3);
	case PM_LOGIN_SIEVE:
		return pm_sieveback_text(&b->u.sieve);
	case PM_LOGIN__COUNT:
		break;
	}
	return "";
}

void
pm_loginback_wipe(struct pm_loginback *b)
{
	switch ((enum pm_login_proto)b->proto) {
	case PM_LOGIN_IMAP:
		pm_imapback_wipe(&b->u.imap);
		return;
	case PM_LOGIN_SUBMISSION:
		pm_submissionback_wipe(&b->u.submission);
		return;
	case PM_LOGIN_POP3:
		pm_pop3back_wipe(&b->u.pop3);
		return;
	case PM_LOGIN_SIEVE:
		pm_sieveback_wipe(&b->u.sieve);
		return;
	case PM_LOGIN__COUNT:
		break;
	}
}
