/*
 * backparams.h -- the checks and copies every backend login machine
 * (proto/imapback.h, pop3back.h, sieveback.h, submissionback.h) applies to
 * the identity and credential fields of its params in its init().
 *
 * Owns: no state of its own. The callers pass their own fixed fields as
 * destinations and their params' NUL-terminated strings as sources; both are
 * borrowed for the call and never kept. Threads: any; nothing is shared,
 * nothing is locked. Pure: no allocation, no I/O, no logging.
 *
 * What a field may hold (which bytes, its bound, whether it is required)
 * stays the machine's: it passes its bound and its byte predicate (only the
 * address predicate, pm_backparams_ip_char(), is the same everywhere). The
 * errors are the machines' documented ones: -EINVAL for a missing, empty
 * required or badly formed field, -ENAMETOOLONG for one over its bound.
 */
#ifndef PM_BACKPARAMS_H
#define PM_BACKPARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Check NUL-terminated @s and copy it, NUL-terminated, into @dst, which
 * holds @max + 1 bytes. @dst may be NULL: the field is then only checked.
 * A non-NULL @dst is cleared first, so that it holds "" whenever the field
 * is absent or rejected. @s may be NULL: that is -EINVAL if @required, else
 * an empty field. An empty @s is -EINVAL if @required. Every byte must pass
 * @ok (NULL: every byte passes) or it is -EINVAL; over @max bytes is
 * -ENAMETOOLONG (@s is read up to @max + 1 bytes, never further). Returns
 * the length copied. Does not allocate.
 */
int pm_backparams_copy(char *dst, const char *s, size_t max, bool required,
		       bool (*ok)(int c));

/* A byte of an IPv4 or IPv6 address as text: hex digits, '.' and ':'. */
bool pm_backparams_ip_char(int c);

/*
 * The login credentials, as every backend machine keeps them: public
 * fields, filled by the caller before pm_backparams_creds() (the
 * destinations, borrowed) and by it (the lengths).
 */
struct pm_backparams_creds {
	char *user;		/* user_max + 1 bytes */
	char *authzid;		/* user_max + 1 bytes */
	char *password;		/* pass_max + 1 bytes */
	size_t user_max, pass_max;
	uint16_t user_len, authzid_len, pass_len;	/* out */
};

/*
 * Copy the credentials into @c's destinations: @user is required (not NULL,
 * not empty), @authzid is optional (NULL or "" is none), @password must not
 * be NULL but may be empty; none is checked byte by byte (the machines
 * encode or refuse what their wire cannot carry themselves). Returns 0, or
 * -EINVAL / -ENAMETOOLONG at the first field that fails; the caller wipes
 * what was copied then. @user_max and @pass_max must fit a uint16_t. Does not
 * allocate.
 */
int pm_backparams_creds(struct pm_backparams_creds *c, const char *user, const char *authzid,
			const char *password);

#endif
