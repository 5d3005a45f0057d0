/*
 * backparams.c -- the field checks and copies of the backend machines'
 * init(). See backparams.h.
 */
#include "proto/backparams.h"

#include <errno.h>
#include <string.h>

int
pm_backparams_copy(char *dst, const char *s, size_t max, bool required, bool (*ok)(int c))
{
	size_t len, i;

	if (dst != NULL)
		dst[0] = '\0';
	if (s == NULL)
		return required ? -EINVAL : 0;
	len = strnlen(s, max + 1);
	if (len > max)
		return -ENAMETOOLONG;
	if (len == 0 && required)
		return -EINVAL;
	for (i = 0; ok != NULL && i < len; i++) {
		if (!ok((unsigned char)s[i]))
			return -EINVAL;
	}
	if (dst != NULL) {
		memcpy(dst, s, len);
		dst[len] = '\0';
	}
	return (int)len;
}

bool
pm_backparams_ip_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == '.' || c == ':';
}

int
pm_backparams_creds(struct pm_backparams_creds *c, const char *user, const char *authzid,
		    const char *password)
{
	int n;

	if ((n = pm_backparams_copy(c->user, user, c->user_max, true, NULL)) < 0)
		return n;
	c->user_len = (uint16_t)n;
	if ((n = pm_backparams_copy(c->authzid, authzid, c->user_max, false, NULL)) < 0)
		return n;
	c->authzid_len = (uint16_t)n;
	if (password == NULL)
		return -EINVAL;
	if ((n = pm_backparams_copy(c->password, password, c->pass_max, false, NULL)) < 0)
		return n;
	c->pass_len = (uint16_t)n;
	return 0;
}
