/*
 * sasl.c -- SASL PLAIN in strict base64 (proto/sasl.h): the decoder fed one
 * character at a time, the splitter of a decoded message into bounded
 * fields, and the encoder of a message read in place from three fields.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/sasl.h"

/* b64->pad once a padded quad ended: only the end of the input may follow. */
#define PAD_DONE	3u

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- the decoder ------------------------------------------------------------ */

/* The sextet of an alphabet character, -1 for any other byte. */
static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void
pm_sasl_b64_reset(struct pm_sasl_b64 *d)
{
	explicit_bzero(d, sizeof(*d));
}

void
pm_sasl_b64_wipe(struct pm_sasl_b64 *d)
{
	explicit_bzero(&d->acc, sizeof(d->acc));
	d->q = 0;
	d->pad = 0;
}

bool
pm_sasl_b64_char(uint8_t c)
{
	return c == '=' || b64_value(c) >= 0;
}

unsigned int
pm_sasl_b64_feed(struct pm_sasl_b64 *d, uint8_t c, uint8_t out[3])
{
	unsigned int i, n;
	int v;

	if (d->bad)
		return 0;
	if (d->pad == PAD_DONE) {	/* the padded quad was complete */
		d->bad = true;
		return 0;
	}
	if (c == '=') {
		/* "x=" or "=" cannot end a quad: two characters carry the
		 * first byte */
		if (d->q < 2) {
			d->bad = true;
			return 0;
		}
		d->pad++;
		d->acc <<= 6;
	} else {
		v = b64_value(c);
		if (v < 0 || d->pad > 0) {	/* not base64, or data after '=' */
			d->bad = true;
			return 0;
		}
		d->acc = (d->acc << 6) | (uint32_t)v;
	}
	if (++d->q < 4)
		return 0;
	n = 3u - d->pad;
	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(d->acc >> (16 - 8 * i));
	d->acc = 0;
	d->q = 0;
	if (d->pad > 0)
		d->pad = PAD_DONE;
	return n;
}

bool
pm_sasl_b64_complete(const struct pm_sasl_b64 *d)
{
	return !d->bad && d->q == 0;
}

/* ---- the PLAIN splitter ------------------------------------------------------ */

int
pm_sasl_field_put(char *f, uint16_t *len, size_t max, uint8_t c)
{
	if (*len >= max)
		return -ENOSPC;
	f[(*len)++] = (char)c;
	return 0;
}

void
pm_sasl_plain_reset(struct pm_sasl_plain *sp)
{
	sp->nul = 0;
	sp->over = false;
}

void
pm_sasl_plain_put(struct pm_sasl_plain *sp, const struct pm_sasl_plain_fields *f, uint8_t b)
{
	const struct pm_sasl_field *t;

	if (b == 0) {
		/* mech-plain.c counts every NUL: a third one makes the
		 * message invalid, so the count stops there */
		if (sp->nul < 3)
			sp->nul++;
		return;
	}
	switch (sp->nul) {
	case 0:
		t = &f->authzid;
		break;
	case 1:
		t = &f->authcid;
		break;
	case 2:
		t = &f->pass;
		break;
	default:
		return;		/* after a third NUL: invalid anyway */
	}
	if (pm_sasl_field_put(t->p, t->len, t->max, b) < 0)
		sp->over = true;
}

void
pm_sasl_plain_feed(struct pm_sasl_b64 *d, struct pm_sasl_plain *sp,
		   const struct pm_sasl_plain_fields *f, uint8_t c)
{
	uint8_t dec[3];
	unsigned int i, n;

	n = pm_sasl_b64_feed(d, c, dec);
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		pm_sasl_plain_put(sp, f, dec[i]);
	explicit_bzero(dec, sizeof(dec));
}

int
pm_sasl_plain_finish(const struct pm_sasl_plain *sp, const struct pm_sasl_plain_fields *f)
{
	uint16_t *zlen = f->authzid.len, ulen = *f->authcid.len;

	/* mech-plain.c: exactly two NULs, then a non-empty username
	 * (auth_request_set_username()); an authzid equal to the authcid is
	 * the same login */
	if (sp->nul != 2 || sp->over || ulen == 0)
		return -EINVAL;
	f->authcid.p[ulen] = '\0';
	f->pass.p[*f->pass.len] = '\0';
	if (*zlen == ulen && memcmp(f->authzid.p, f->authcid.p, ulen) == 0)
		*zlen = 0;
	f->authzid.p[*zlen] = '\0';
	return 0;
}

/* ---- the PLAIN encoder ----------------------------------------------------- */

static size_t
msg_len(const struct pm_sasl_plain_msg *m)
{
	return m->authzid_len + 1 + m->user_len + 1 + m->pass_len;
}

/* Byte @k of the message authzid NUL user NUL password. */
static uint8_t
msg_byte(const struct pm_sasl_plain_msg *m, size_t k)
{
	if (k < m->authzid_len)
		return (uint8_t)m->authzid[k];
	k -= m->authzid_len;
	if (k == 0)
		return 0;
	k--;
	if (k < m->user_len)
		return (uint8_t)m->user[k];
	k -= m->user_len;
	if (k == 0)
		return 0;
	return (uint8_t)m->pass[k - 1];
}

size_t
pm_sasl_plain_encode_len(const struct pm_sasl_plain_msg *m)
{
	return PM_SASL_B64_LEN(msg_len(m));
}

size_t
pm_sasl_plain_encode(uint8_t *dst, const struct pm_sasl_plain_msg *m)
{
	size_t len = msg_len(m), k, w = 0;

	for (k = 0; k < len; k += 3) {
		uint32_t v = (uint32_t)msg_byte(m, k) << 16;
		size_t left = len - k;

		if (left > 1)
			v |= (uint32_t)msg_byte(m, k + 1) << 8;
		if (left > 2)
			v |= msg_byte(m, k + 2);
		dst[w++] = (uint8_t)alphabet[(v >> 18) & 63];
		dst[w++] = (uint8_t)alphabet[(v >> 12) & 63];
		dst[w++] = left > 1 ? (uint8_t)alphabet[(v >> 6) & 63] : '=';
		dst[w++] = left > 2 ? (uint8_t)alphabet[v & 63] : '=';
	}
	return w;
}
