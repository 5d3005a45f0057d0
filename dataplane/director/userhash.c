/*
 * userhash.c -- compile director_username_hash templates and hash names.
 *
 * "%u" and "%Lu" take a fast path, as in Dovecot's mail_user_hash(); every
 * other template is expanded piece by piece straight into an incremental MD5,
 * so a long name never needs a buffer of its own.
 */
#include "director/userhash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "director/md5.h"

static int
fmt_error(char *err, size_t errlen, const char *tmpl, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "director_username_hash '%s': %s", tmpl, why);
	return -EINVAL;
}

static int
parse_long_name(const char *p, const char **end, uint8_t *var)
{
	static const struct {
		const char *name;
		uint8_t var;
	} names[] = {
		{ "user", PM_UH_USER },
		{ "username", PM_UH_NAME },
		{ "domain", PM_UH_DOMAIN },
	};
	const char *close = strchr(p, '}');
	size_t i, n;

	if (close == NULL)
		return -EINVAL;
	n = (size_t)(close - p);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == n && memcmp(names[i].name, p, n) == 0) {
			*var = names[i].var;
			*end = close + 1;
			return 0;
		}
	}
	return -EINVAL;
}

int
pm_userhash_compile(struct pm_userhash_fmt *f, const char *tmpl, char master_sep,
		    char *err, size_t errlen)
{
	const char *p = tmpl;
	size_t litn = 0;

	memset(f, 0, sizeof(*f));
	f->master_sep = master_sep;
	if (strlen(tmpl) >= sizeof(f->text)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "director_username_hash '%.40s...': longer than %zu bytes",
				 tmpl, sizeof(f->text) - 1);
		return -EINVAL;
	}
	strcpy(f->text, tmpl);

	while (*p != '\0') {
		struct pm_userhash_part *part;

		if (*p != '%' || p[1] == '%') {
			/* Literal text runs to the next '%' that is not "%%". */
			char c = *p;

			p += c == '%' ? 2 : 1;
			if (f->nparts > 0 && f->parts[f->nparts - 1].var == PM_UH_LITERAL) {
				part = &f->parts[f->nparts - 1];
			} else {
				if (f->nparts == PM_USERHASH_MAX_PARTS)
					return fmt_error(err, errlen, tmpl, "too many parts");
				part = &f->parts[f->nparts];
				part->var = PM_UH_LITERAL;
				part->lit_off = (uint8_t)litn;
				f->nparts++;
			}
			if (litn == sizeof(f->lit))
				return fmt_error(err, errlen, tmpl, "literal text too long");
			f->lit[litn++] = c;
			part->lit_len++;
			continue;
		}
		if (f->nparts == PM_USERHASH_MAX_PARTS)
			return fmt_error(err, errlen, tmpl, "too many parts");
		part = &f->parts[f->nparts];
		p++;
		part->fold = PM_UH_ASIS;
		while (*p == 'L' || *p == 'U') {
			part->fold = *p == 'L' ? PM_UH_LOWER : PM_UH_UPPER;
			p++;
		}
		switch (*p) {
		case 'u':
			part->var = PM_UH_USER;
			p++;
			break;
		case 'n':
			part->var = PM_UH_NAME;
			p++;
			break;
		case 'd':
			part->var = PM_UH_DOMAIN;
			p++;
			break;
		case '{':
			if (parse_long_name(p + 1, &p, &part->var) < 0)
				return fmt_error(err, errlen, tmpl,
						 "unknown variable (use %u, %n, %d, "
						 "%{user}, %{username} or %{domain})");
			break;
		case '\0':
			return fmt_error(err, errlen, tmpl, "ends inside a % sequence");
		default:
			return fmt_error(err, errlen, tmpl,
					 "unsupported variable or modifier (supported: "
					 "%u %n %d with L or U, and %%)");
		}
		f->nparts++;
	}
	return 0;
}

static inline char
fold_char(char c, uint8_t fold)
{
	if (fold == PM_UH_LOWER && c >= 'A' && c <= 'Z')
		return (char)(c + ('a' - 'A'));
	if (fold == PM_UH_UPPER && c >= 'a' && c <= 'z')
		return (char)(c - ('a' - 'A'));
	return c;
}

/* Feed @len bytes at @s, case-folded, into @ctx in stack-sized chunks. */
static void
md5_fold_update(struct pm_md5_ctx *ctx, const char *s, size_t len, uint8_t fold)
{
	char chunk[256];
	size_t i, n;

	if (fold == PM_UH_ASIS) {
		pm_md5_update(ctx, s, len);
		return;
	}
	while (len > 0) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = fold_char(s[i], fold);
		pm_md5_update(ctx, chunk, n);
		s += n;
		len -= n;
	}
}

static inline uint32_t
nonzero(uint32_t h)
{
	/* Dovecot treats hash 0 as "no hash" in several places. */
	return h == 0 ? 1 : h;
}

uint32_t
pm_userhash(const struct pm_userhash_fmt *f, const char *user, size_t len)
{
	struct pm_md5_ctx ctx;
	uint8_t digest[PM_MD5_LEN];
	const char *at;
	size_t namelen, i;

	if (f->master_sep != '\0') {
		const char *cut = memchr(user, f->master_sep, len);

		if (cut != NULL)
			len = (size_t)(cut - user);
	}

	/* Fast paths for "%u" and "%Lu", the latter being Dovecot's default. */
	if (f->nparts == 1 && f->parts[0].var == PM_UH_USER && f->parts[0].fold != PM_UH_UPPER) {
		if (f->parts[0].fold == PM_UH_ASIS)
			return nonzero(pm_md5_prefix32(user, len));
		if (len <= 256) {
			char low[256];

			for (i = 0; i < len; i++)
				low[i] = fold_char(user[i], PM_UH_LOWER);
			return nonzero(pm_md5_prefix32(low, len));
		}
	}

	at = memchr(user, '@', len);
	namelen = at != NULL ? (size_t)(at - user) : len;
	pm_md5_init(&ctx);
	for (i = 0; i < f->nparts; i++) {
		const struct pm_userhash_part *part = &f->parts[i];

		switch (part->var) {
		case PM_UH_LITERAL:
			pm_md5_update(&ctx, f->lit + part->lit_off, part->lit_len);
			break;
		case PM_UH_USER:
			md5_fold_update(&ctx, user, len, part->fold);
			break;
		case PM_UH_NAME:
			md5_fold_update(&ctx, user, namelen, part->fold);
			break;
		case PM_UH_DOMAIN:
			if (at != NULL)
				md5_fold_update(&ctx, at + 1, len - namelen - 1, part->fold);
			break;
		}
	}
	pm_md5_final(&ctx, digest);
	return nonzero(pm_md5_digest32(digest));
}

int
pm_userhash_parse_number(const char *s, size_t len, uint32_t *hash)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*hash = (uint32_t)v;
	return 0;
}
