/*
 * state.h -- the desired backend state and its state file.
 *
 * Owner: postmux-control's main thread owns one struct pm_state; nothing
 * else touches it. The data plane's director follows it (control-channel.md).
 *
 * The desired state is the list of backends with their tag, vhost count and
 * up/down state, plus a generation that grows with every change. Runtime
 * changes (add, update, up, down, remove) are written to the state file with
 * write + fsync + rename, so they survive a restart; Dovecot's director loses
 * them. At start-up the state file is merged with the configuration's
 * director_mail_servers (pm_state_load()).
 *
 * The host operations have exactly the director's semantics and error
 * codes (director.h), so postmux-control can answer an admin command without
 * asking the data plane.
 */
#ifndef PM_STATE_H
#define PM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hostspec.h"

struct pm_state_host {
	struct pm_addr addr;
	char tag[PM_TAG_MAX];
	uint16_t vhosts;
	bool down;
	int64_t last_updown_s;	/* 0 if never changed */
};

struct pm_state {
	uint64_t generation;
	struct pm_state_host *hosts;	/* sorted by address */
	size_t n, cap;
};

/* The state a fresh start gets from the configuration: its servers, up,
 * with their vhosts, generation 1. Returns 0 or -ENOMEM. */
int pm_state_from_config(struct pm_state *s, const struct pm_config *c);

/*
 * Load @path and merge it with the configuration @c:
 *  - a server in the configuration that the file's configuration did not
 *    have (the operator added it) is added, unless the state has it already;
 *  - a server the file's configuration had and @c no longer has (the
 *    operator removed it) is removed;
 *  - everything else is as the file says, including runtime additions and
 *    removals.
 * Returns 0, -ENOENT when there is no state file (use pm_state_from_config),
 * or another negative errno with "path:line: reason" in @err.
 */
int pm_state_load(struct pm_state *s, const char *path, const struct pm_config *c, char *err,
		  size_t errlen);

/*
 * Write @s and the configuration's server list to @path: a temporary file
 * in the same directory, fsync, rename over @path, fsync the directory.
 * Returns 0 or a negative errno with the reason in @err; @path is then
 * unchanged.
 */
int pm_state_save(const struct pm_state *s, const struct pm_config *c, const char *path,
		  char *err, size_t errlen);

void pm_state_free(struct pm_state *s);

/* The host with address @a, or NULL. */
struct pm_state_host *pm_state_find(struct pm_state *s, const struct pm_addr *a);

/* HOST-SET (@create) / HOST-UPDATE; as pm_director_host_set(). Bumps the
 * generation when something changed. */
int pm_state_host_set(struct pm_state *s, const struct pm_addr *a, const char *tag, int vhosts,
		      bool create);

/* HOST-UP / HOST-DOWN: 0 or -ENOENT; records @now_s when the state flips. */
int pm_state_host_updown(struct pm_state *s, const struct pm_addr *a, bool down, int64_t now_s);

/* HOST-REMOVE: 0 or -ENOENT. */
int pm_state_host_remove(struct pm_state *s, const struct pm_addr *a);

#endif
