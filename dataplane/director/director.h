/*
 * director.h -- the director core: backends, per-tag rings, user pins.
 *
 * Owner: one writer thread (the data plane's ctl thread; a test's main
 * thread) owns a struct pm_director and is the only caller of every function
 * below except pm_director_lookup(). Both the writer and every reader must be
 * registered liburcu QSBR threads (urcu_qsbr_register_thread()) and online
 * while they call in. Readers (worker lcores) call pm_director_lookup() only;
 * it never blocks, never allocates, and what it returns is a copy.
 *
 * Semantics are those of Dovecot 2.3's director running alone
 * (shared/spec/director.md sections 1-2): the ring image is rebuilt and
 * published with rcu_xchg_pointer() after every host change; user pins live
 * in a cds_lfht keyed by (tag, user hash); pins, images and old tables are
 * reclaimed through urcu_qsbr_call_rcu(), never freed in place.
 *
 * Time is an argument everywhere (unix milliseconds): the core never reads a
 * clock, so tests and the seed replay run on simulated time. The caller runs
 * pm_director_tick() no later than the deadline it returns.
 *
 * Kicks (the sessions a move, a flush or an admin kick must close) are
 * delivered synchronously to the kick callback; the core assumes they are
 * done when it returns, like Dovecot's IPC reply, and then waits the kick
 * delay before letting the user log in again.
 */
#ifndef PM_DIRECTOR_H
#define PM_DIRECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "director/ring.h"
#include "director/userhash.h"
#include "net/addr.h"

struct pm_director;

struct pm_director_config {
	struct pm_userhash_fmt hash_fmt;	/* director_username_hash */
	uint32_t user_expire_s;		/* director_user_expire, >= 10 */
	uint32_t kick_delay_ms;		/* director_user_kick_delay */
	uint32_t max_parallel_moves;	/* director_max_parallel_moves, >= 1 */
	uint32_t max_parallel_kicks;	/* director_max_parallel_kicks, >= 1 */
	uint32_t expected_users;	/* initial pin table size hint (buckets) */
};

/* Dovecot's defaults: %Lu, 15 min, 2 s, 100, 100; room for 65536 pins. */
void pm_director_config_defaults(struct pm_director_config *c);

/* 0 if @c is within Dovecot's limits (user_expire_s >= 10, both parallel
 * limits >= 1), else -EINVAL. Pure. */
int pm_director_config_check(const struct pm_director_config *c);

enum pm_kick_kind {
	PM_KICK_HASH,	/* sessions of user_hash, except those on except_host */
	PM_KICK_USER,	/* sessions whose login name is user */
	PM_KICK_ALT,	/* sessions whose passdb field @field equals @value */
};

/* A kick event; valid only during the callback. */
struct pm_kick {
	enum pm_kick_kind kind;
	uint16_t tag;
	uint32_t user_hash;
	bool has_except;
	struct pm_addr except_host;
	const char *user;
	const char *field;
	const char *value;
};

typedef void (*pm_kick_cb)(void *arg, const struct pm_kick *k);

/* Called when a HOST-RESET-USERS job has dispatched all of its users. */
typedef void (*pm_job_done_cb)(void *arg, uint64_t job_id);

/*
 * Create a director with no hosts and only the untagged ring. The callbacks
 * may be NULL. Returns NULL on allocation failure or an invalid config.
 * Writer thread; allocates.
 */
struct pm_director *pm_director_new(const struct pm_director_config *cfg, pm_kick_cb kick,
				    pm_job_done_cb job_done, void *cb_arg);

/*
 * Destroy @d. No reader may use it any more. Waits for a grace period and
 * for pending call_rcu callbacks (urcu_qsbr_barrier()).
 */
void pm_director_free(struct pm_director *d);

/* The running settings. Writer only (pm_director_set_config() replaces
 * them in place); valid until the next pm_director_set_config(). */
const struct pm_director_config *pm_director_config(const struct pm_director *d);

/*
 * Replace the running settings with @cfg (expected_users is ignored: the
 * pin table sizes itself). Effects on what is already running:
 *   - a changed username-hash template (its text) or master separator
 *     changes what every pin's hash means, so every pin is forgotten, as a
 *     restart of Dovecot's director with the new setting would do; nobody
 *     is kicked;
 *   - user_expire_s applies to every pin at once, counted from its last
 *     refresh (the next tick sweeps pins that are now dead);
 *   - a shorter kick delay also ends moves in progress no later than the
 *     new delay from @now_ms; a longer one applies to new moves only;
 *   - max_parallel_moves applies to reset jobs started afterwards.
 * Returns the number of pins forgotten (0 unless the template or the
 * separator changed), or -EINVAL (pm_director_config_check()) or -ENOMEM
 * (a new template could not be published) with nothing changed. Readers
 * that hash a name meanwhile (pm_director_hash()) use the old or the new
 * template, never a mix: it is published through its own RCU pointer. Writer only; may wait for readers when short of memory.
 */
long pm_director_set_config(struct pm_director *d, const struct pm_director_config *cfg,
			    uint64_t now_ms);

/* ---- readers (worker lcores) and writer ---------------------------------- */

enum pm_dir_status {
	PM_DIR_PINNED,	/* the user has a live pin: go to its host */
	PM_DIR_HASHED,	/* no pin: the ring chose; pin it (pm_director_login) */
	PM_DIR_WAIT,	/* the user is being moved: hold the login */
	PM_DIR_NOHOST,	/* no pin and the tag's ring is empty */
};

struct pm_dir_answer {
	struct pm_addr host;
	uint32_t host_id;
	uint32_t expire_s;	/* PM_DIR_PINNED: unix time the pin expires */
	uint64_t generation;	/* ring image generation the answer came from */
};

/*
 * Where does @user_hash of tag @tag go, now (@now_s, unix seconds)? An
 * expired pin counts as absent, and a pin whose host was removed too. A pin
 * on a host that is down is still followed (Dovecot's behaviour).
 * Any registered, online QSBR thread; lock-free; no allocation. The answer
 * is a copy and stays valid after the next quiescent state.
 *
 * Workers should hash a whole RX burst's logins first and then look them up:
 * the lookups' cache misses then overlap, where one hash-then-lookup at a
 * time waits out each miss behind an MD5 (docs/PERFORMANCE.md: about 1.7x).
 */
enum pm_dir_status pm_director_lookup(struct pm_director *d, uint16_t tag, uint32_t user_hash,
				      uint32_t now_s, struct pm_dir_answer *ans);

/*
 * The current ring image. Valid until the caller's next quiescent state;
 * never store it. Any registered, online QSBR thread.
 */
const struct pm_ring *pm_director_ring(struct pm_director *d);

/* The user hash of @user with the configured template. Any thread: a reader
 * (an online QSBR thread, e.g. a worker hashing a login) or the writer. */
uint32_t pm_director_hash(const struct pm_director *d, const char *user, size_t len);

/* ---- writer only ---------------------------------------------------------- */

/* Tag index of @name ("" is 0); with @create, add it. -ENOENT / -ENOSPC. */
int pm_director_tag(struct pm_director *d, const char *name, bool create);


/*
 * What a login does (spec 2.2): a live pin is refreshed and followed; a
 * moving user waits; otherwise the user is pinned to @hint_host_id when that
 * host still exists in the tag (the host a worker already chose from the
 * ring), else to the ring's choice. Returns the status; fills @ans unless
 * PM_DIR_WAIT or PM_DIR_NOHOST.
 */
enum pm_dir_status pm_director_login(struct pm_director *d, uint16_t tag, uint32_t user_hash,
				     uint32_t hint_host_id, uint64_t now_ms,
				     struct pm_dir_answer *ans);

/*
 * Refresh a live session's pin (Dovecot's proxy-notify): only an existing,
 * live pin in any tag is refreshed; none is created. Returns 0 or -ENOENT.
 */
int pm_director_refresh(struct pm_director *d, uint32_t user_hash, uint64_t now_ms);

/*
 * HOST-SET (@create) and HOST-UPDATE: set @vhosts (< 0: leave as is, or 100
 * for a new host) on @host in tag @tag ("" or NULL: untagged; a tag is only
 * checked against an existing host's). Never moves a pin.
 * Returns 0, -ENOENT (update of an unknown host), -E2BIG (vhosts > 1000),
 * -EEXIST (tag differs: "host tag can't be changed"), -ENOSPC.
 */
int pm_director_host_set(struct pm_director *d, const struct pm_addr *host, const char *tag,
			 int vhosts, bool create, uint64_t now_ms);

/* HOST-UP / HOST-DOWN. Pins stay. 0 or -ENOENT. */
int pm_director_host_updown(struct pm_director *d, const struct pm_addr *host, bool down,
			    uint64_t now_ms);

/* HOST-REMOVE: drop the host and forget its pins (no kick). 0 or -ENOENT. */
int pm_director_host_remove(struct pm_director *d, const struct pm_addr *host,
			    uint64_t now_ms);

/* HOST-FLUSH: forget the pins of @host, or of every host when NULL; no kick.
 * Returns the number of pins forgotten, or -ENOENT. */
long pm_director_host_flush(struct pm_director *d, const struct pm_addr *host,
			    uint64_t now_ms);

/*
 * HOST-RESET-USERS: move every pin of @host (NULL: of every host) to its
 * current ring target, at most @max_parallel moves at a time (0: the
 * configured default), or kick and forget when the tag's ring is empty.
 * Returns a job id > 0; the job-done callback fires once every user has
 * been dispatched (possibly before this returns). -ENOENT if @host is
 * unknown.
 */
int64_t pm_director_reset_users(struct pm_director *d, const struct pm_addr *host,
				uint32_t max_parallel, uint64_t now_ms);

/*
 * USER-MOVE: pin @user_hash in @host's tag to @host and kick its sessions
 * elsewhere; the user's logins wait until the kick delay has passed.
 * Returns 0, -ENOENT (unknown host) or -EAGAIN (already being moved).
 */
int pm_director_user_move(struct pm_director *d, uint32_t user_hash,
			  const struct pm_addr *host, uint64_t now_ms);

/* USER-KICK / USER-KICK-ALT: pins unchanged; the kick goes to the callback. */
void pm_director_user_kick(struct pm_director *d, const char *user);
void pm_director_user_kick_alt(struct pm_director *d, const char *field, const char *value);

/* Mark a pin weak (the ring protocol's USER-WEAK) or strong. 0 or -ENOENT. */
int pm_director_user_set_weak(struct pm_director *d, uint16_t tag, uint32_t user_hash,
			      bool weak, uint64_t now_ms);

/*
 * Advance time: finish moves whose kick delay has passed, resume flush
 * jobs, expire pins. Returns the next deadline (unix ms) or UINT64_MAX.
 */
uint64_t pm_director_tick(struct pm_director *d, uint64_t now_ms);

/* ---- writer-side queries ----------------------------------------------------- */

struct pm_host_info {
	struct pm_addr addr;
	const char *tag;	/* valid during the callback */
	uint16_t tag_index;	/* pm_director_tag(tag); the pins' tag number */
	uint16_t vhosts;
	bool down;
	int64_t last_updown_s;	/* 0 if never changed */
	uint32_t user_count;
};

/*
 * One host of a complete desired state (pm_director_set_hosts()). Borrowed
 * for the duration of the call.
 */
struct pm_director_host_state {
	struct pm_addr addr;		/* IPv4 or IPv6 */
	const char *tag;		/* "" or NULL: untagged */
	uint16_t vhosts;		/* 0..PM_RING_MAX_VHOSTS */
	bool down;
	int64_t last_updown_s;		/* kept as given; 0: never changed */
};

struct pm_director_apply_result {
	uint32_t created;	/* hosts that did not exist */
	uint32_t updated;	/* existing hosts whose vhosts, up/down or time changed */
	uint32_t removed;	/* hosts absent from the state */
	uint32_t retagged;	/* hosts removed and created again with another tag */
	uint64_t pins_forgotten;	/* pins of removed and retagged hosts */
	size_t bad;		/* on -E2BIG, -EEXIST, -EINVAL: the offending index */
};

/*
 * Make the host table exactly @hosts (@n entries, any order), with ONE new
 * ring image published at the end (none if nothing in the table changed):
 *   - a host in @hosts is created, or updated in place: vhosts, down and
 *     last_updown_s are taken from @hosts as given (no clock is read);
 *   - a host absent from @hosts is removed and its pins forgotten, as
 *     HOST-REMOVE does; a host whose tag differs is removed and created
 *     again (a tag cannot change in place), which forgets its pins too;
 *   - no other pin is touched: pinned users stay where they are and only
 *     new users follow the new ring. Nobody is kicked.
 * Everything is checked and allocated before anything changes. Returns 0,
 * or, with the host table and the pins unchanged: -EINVAL (bad address
 * family; res->bad), -E2BIG (vhosts > PM_RING_MAX_VHOSTS; res->bad), -EEXIST
 * (an address given twice; res->bad is the later one), -ENOSPC (more than
 * PM_RING_MAX_HOSTS hosts; or too many tags, res->bad naming the host whose
 * tag did not fit), -ENOMEM. A failure after the duplicate check may leave
 * new tag names behind, which nothing sees (a tag without hosts has an
 * empty ring). If building the image runs out of memory, the next
 * pm_director_tick() retries it, as after any host change. @res may be
 * NULL. Writer only; allocates; does not block.
 */
int pm_director_set_hosts(struct pm_director *d, const struct pm_director_host_state *hosts,
			  size_t n, uint64_t now_ms, struct pm_director_apply_result *res);

/* HOST-LIST: every host in IP order, after expiring dead pins. */
void pm_director_host_list(struct pm_director *d, uint64_t now_ms,
			   void (*fn)(void *arg, const struct pm_host_info *h), void *arg);

/* One host, or -ENOENT. */
int pm_director_host_get(struct pm_director *d, const struct pm_addr *host, uint64_t now_ms,
			 struct pm_host_info *out);

struct pm_user_info {
	uint32_t user_hash;
	uint16_t tag;
	struct pm_addr host;	/* PM_AF_NONE if no pin */
	uint32_t expire_s;	/* 0 if no pin */
	bool weak;
	bool moving;
};

/*
 * USER-LOOKUP: the live pin of @user_hash in @tag (host family PM_AF_NONE
 * and expire 0 if none) plus the ring's choice in @hashed (PM_AF_NONE if
 * the ring is empty). Returns 0, or -ENOENT for an unknown tag.
 */
int pm_director_user_lookup(struct pm_director *d, uint16_t tag, uint32_t user_hash,
			    uint64_t now_ms, struct pm_user_info *pin, struct pm_addr *hashed);

/*
 * USER-LIST: live pins (of @host only, unless NULL) ordered by tag creation,
 * then age (oldest refresh first), then hash. Returns how many were listed,
 * or -ENOMEM.
 */
long pm_director_user_list(struct pm_director *d, const struct pm_addr *host, uint64_t now_ms,
			   void (*fn)(void *arg, const struct pm_user_info *u), void *arg);

struct pm_director_stats {
	uint64_t pins;		/* live pins, all tags */
	uint64_t moving;	/* users whose move or kill is in progress */
	uint64_t jobs;		/* HOST-RESET-USERS jobs not yet dispatched */
	uint64_t rings_published;
	uint64_t pins_expired;
	uint64_t moves_started;
	uint64_t kicks;
	uint64_t pin_buckets;	/* size of the pin table */
};

void pm_director_stats(const struct pm_director *d, struct pm_director_stats *s);

#endif
