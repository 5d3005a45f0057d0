/*
 * login.c -- one interface over the protocols' login machines (login.h).
 */
#include "proto/login.h"

#include <errno.h>
#include <string.h>

static const char *const proto_names[PM_LOGIN__COUNT] = {
	[PM_LOGIN_IMAP] = "imap",
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
}

int
pm_login_params_check(const struct pm_login_params *p)
{
	return pm_imap_params_check(&p->imap);
}

/* ---- client side ------------------------------------------------------------ */

int
pm_login_init(struct pm_login *m, enum pm_login_proto proto, const struct pm_login_params *p)
{
	m->proto = (uint8_t)proto;
	switch (proto) {
	case PM_LOGIN_IMAP:
		return pm_imap_init(&m->u.imap, &p->imap);
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
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
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
	case PM_LOGIN__COUNT:
		break;
	}
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
	case PM_LOGIN__COUNT:
		break;
	}
	return -EINVAL;
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
	case PM_LOGIN__COUNT:
		break;
	}
}
