/*
 * userhash.h -- Dovecot's user hash: director_username_hash + MD5.
 *
 * Owner: nobody. A compiled struct pm_userhash_fmt is an immutable value made
 * at configuration time; any thread may then hash with it concurrently.
 * Pure: no allocation, no locale (lowercasing folds ASCII A-Z only, exactly
 * as Dovecot's str_lcase()).
 *
 * The template language is the subset of Dovecot's var_expand that
 * director_username_hash needs: %u (whole name), %n (part before the first
 * '@'), %d (part after the first '@', "" without one), the long forms
 * %{user}, %{username}, %{domain}, the modifiers L (ASCII lowercase) and U
 * (ASCII uppercase), %% for a literal '%', and literal text. Anything else is
 * rejected when the template is compiled, instead of failing every login as
 * Dovecot does at run time. Limits: 159 bytes of template, 16 parts (a run
 * of literal text is one part), 128 bytes of literal text.
 */
#ifndef PM_USERHASH_H
#define PM_USERHASH_H

#include <stddef.h>
#include <stdint.h>

#define PM_USERHASH_DEFAULT "%Lu"
#define PM_USERHASH_MAX_PARTS 16
#define PM_USERHASH_MAX_LITERAL 128

enum pm_userhash_var {
	PM_UH_LITERAL,
	PM_UH_USER,	/* %u */
	PM_UH_NAME,	/* %n */
	PM_UH_DOMAIN,	/* %d */
};

enum pm_userhash_case {
	PM_UH_ASIS,
	PM_UH_LOWER,	/* %L */
	PM_UH_UPPER,	/* %U */
};

struct pm_userhash_part {
	uint8_t var;		/* enum pm_userhash_var */
	uint8_t fold;		/* enum pm_userhash_case */
	uint8_t lit_off;	/* PM_UH_LITERAL: offset into lit[] */
	uint8_t lit_len;
};

struct pm_userhash_fmt {
	uint8_t nparts;
	char master_sep;	/* '\0': none; else cut the name at its first one */
	struct pm_userhash_part parts[PM_USERHASH_MAX_PARTS];
	char lit[PM_USERHASH_MAX_LITERAL];
	char text[PM_USERHASH_MAX_LITERAL + 32];	/* the template, for messages */
};

/*
 * Compile @tmpl (NUL-terminated). @master_sep is the master-user separator
 * character or '\0'. Returns 0, or -EINVAL with a message in @err (which
 * may be NULL). Does not allocate.
 */
int pm_userhash_compile(struct pm_userhash_fmt *f, const char *tmpl, char master_sep,
			char *err, size_t errlen);

/*
 * Hash the user name @user (@len bytes, not NUL-terminated) with @f: build
 * the template string, MD5 it, take the first four digest bytes big-endian,
 * and turn 0 into 1. Cannot fail. Any thread; no allocation.
 */
uint32_t pm_userhash(const struct pm_userhash_fmt *f, const char *user, size_t len);

/*
 * Parse @s as a decimal user hash, the way Dovecot's admin commands accept a
 * hash instead of a name (str_to_uint: digits only, no sign, fits 32 bits).
 * Returns 0 and sets @hash, or -EINVAL.
 */
int pm_userhash_parse_number(const char *s, size_t len, uint32_t *hash);

#endif
