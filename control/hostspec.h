/*
 * hostspec.h -- parse backend lists in director_mail_servers syntax.
 *
 * Owner: the caller owns the array pm_hostspec_parse() returns.
 * Threads: any (no shared state). Used by postmuxctl and the control process.
 *
 * Syntax: backends separated by spaces (or tabs, commas, newlines), each
 *
 *	ip | ip1-ip2   [ "@" tag ]   [ "=" vhosts ]   [ ":down" | ":up" ]
 *
 * as Dovecot's director_mail_servers (IPs, ranges, @tag) plus postmux's
 * "=vhosts" (default 100, at most 1000) and ":down" for what-if work. A range
 * may differ only in the last 8 bits (IPv4) or 16 bits (IPv6), as in Dovecot.
 * Host names are not resolved here.
 */
#ifndef PM_HOSTSPEC_H
#define PM_HOSTSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#define PM_TAG_MAX 256	/* tag bytes including the NUL */

struct pm_hostspec {
	struct pm_addr addr;
	char tag[PM_TAG_MAX];
	uint16_t vhosts;
	bool down;
};

/*
 * Parse @text. On success returns 0, stores a malloc'd array in *@out (free
 * it with free()) and its length in *@n (possibly 0). On failure returns
 * -EINVAL (or -ENOMEM) and writes one line naming the bad token to @err.
 * Duplicate addresses are an error.
 */
int pm_hostspec_parse(const char *text, struct pm_hostspec **out, size_t *n, char *err,
		      size_t errlen);

#endif
