/*
 * adminproto.h -- the director admin protocol ("director-doveadm" v1) of
 * Dovecot 2.3, server side: a sans-IO line parser, the command decoder and
 * the reply-line builders, so that `doveadm director ... -a <socket>` works
 * against postmux exactly as against Dovecot 2.3.19.1's director.
 *
 * Owner: the caller owns every struct pm_adminproto (one per admin
 * connection) and every struct pm_adminproto_cmd. Nothing here allocates,
 * blocks, reads a clock or keeps a pointer into the caller's input: the
 * bytes of a partial line are copied into the parser's fixed line buffer.
 * Threads: any; a given struct pm_adminproto is used by one thread at a time.
 * Pure: no sockets, no DPDK, no locale.
 *
 * Wire format (shared/spec/director.md section 3; every rule below was read
 * in Dovecot's src/director/doveadm-connection.c and lib/, and checked
 * against a real 2.3.19.1 director):
 *
 *   - The server greets with PM_ADMINPROTO_BANNER. The client's first line
 *     must be "VERSION\tdirector-doveadm\t<major>\t<minor>" with major 1 and
 *     a decimal minor (version_string_verify_full()); it gets no reply, and
 *     a mismatch closes the connection.
 *   - Then every LF-terminated line is one command. One CR right before the
 *     LF is dropped, as i_stream_next_line() does. A NUL byte ends the line
 *     there (Dovecot handles the line as a C string).
 *   - A line holds at most PM_ADMINPROTO_LINE_MAX bytes before its LF (a CR
 *     counts): Dovecot reads through a 1024-byte input buffer, and a line
 *     that does not fit closes the connection, without a reply.
 *   - Fields are split at every TAB, then tab-unescaped: 0x01 followed by
 *     '0', '1', 't', 'r', 'n' gives NUL, 0x01, TAB, CR, LF; 0x01 followed by
 *     any other byte gives that byte; a 0x01 at the end of a field is
 *     dropped. A field that unescapes to a NUL ends at that NUL.
 *   - Unknown command, empty line, or arguments Dovecot cannot parse: the
 *     connection is closed with no reply (pm_adminproto_feed() returns
 *     PM_ADMINPROTO_CLOSE with a reason to log).
 *   - Pipelined commands are all returned, in order, one per call. (Dovecot
 *     on a director ring drops the line after a command that waits for a
 *     ring sync; postmux does not.)
 *
 * Parser states and transitions (the only ones):
 *
 *   HANDSHAKE --valid VERSION line-------------------------> COMMANDS
 *   HANDSHAKE --bad VERSION line / over-long line-----------> CLOSED
 *   COMMANDS  --command line (RUN or REPLY)-----------------> COMMANDS
 *   COMMANDS  --bad or unknown command / over-long line-----> CLOSED
 *   CLOSED    --anything------------------------------------> CLOSED
 *
 * Within a state the parser only counts and copies the bytes of the current
 * line; a line is decoded when its LF arrives, so feeding may stop and
 * resume at any byte.
 */
#ifndef PM_ADMINPROTO_H
#define PM_ADMINPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

/* The server's greeting, sent as soon as a client connects. */
#define PM_ADMINPROTO_BANNER "VERSION\tdirector-doveadm\t1\t0\n"

/*
 * Longest line, in bytes before the LF (a CR before the LF counts). Dovecot
 * creates the admin connection's istream with a 1024-byte maximum buffer,
 * which must also hold the LF. Lab (2.3.19.1): 1023 bytes + LF and 1022 +
 * CRLF were answered; 1024 + LF and 1023 + CRLF closed the connection.
 */
#define PM_ADMINPROTO_LINE_MAX 1023

/* Every decoded field fits in this, NUL included (a field <= a line). */
#define PM_ADMINPROTO_FIELD_SIZE (PM_ADMINPROTO_LINE_MAX + 1)

/* Bytes of the command word kept in cmd->name for logging, NUL included. */
#define PM_ADMINPROTO_NAME_SIZE 32

/* HOST-SET / HOST-UPDATE: larger counts get PM_ADMINPROTO_R_VHOST_TOO_LARGE. */
#define PM_ADMINPROTO_VHOST_MAX 1000

/* Reply lines (each with its LF), exactly as Dovecot 2.3 sends them. */
#define PM_ADMINPROTO_R_OK "OK\n"
#define PM_ADMINPROTO_R_NOTFOUND "NOTFOUND\n"
#define PM_ADMINPROTO_R_TRYAGAIN "TRYAGAIN\n"
#define PM_ADMINPROTO_R_VHOST_TOO_LARGE "vhost count too large\n"
#define PM_ADMINPROTO_R_TAG_CHANGE "host tag can't be changed\n"
#define PM_ADMINPROTO_R_BEING_UPDATED "host is already being updated - try again later\n"
#define PM_ADMINPROTO_R_RING_SYNC_TIMEOUT "Ring sync timed out\n"
#define PM_ADMINPROTO_R_END "\n"	/* ends HOST-LIST, USER-LIST, ... */

/* POSTMUX-COUNTERS: longest name prefix (a counter name's bound). */
#define PM_ADMINPROTO_PREFIX_MAX 63

/* What pm_adminproto_feed() and pm_adminproto_decode_line() report. */
enum pm_adminproto_status {
	PM_ADMINPROTO_AGAIN,	/* all input consumed; no complete line yet */
	PM_ADMINPROTO_RUN,	/* run cmd, send its reply, then feed the rest */
	PM_ADMINPROTO_REPLY,	/* send cmd->reply (decided by parsing), go on */
	PM_ADMINPROTO_CLOSE,	/* close without a reply; log cmd->reason */
};

/* The commands; pm_adminproto_kind_name() gives the wire name. */
enum pm_adminproto_kind {
	PM_ADMINPROTO_NONE = 0,		/* no command (handshake, unknown) */
	PM_ADMINPROTO_HOST_LIST,
	PM_ADMINPROTO_HOST_LIST_REMOVED,
	PM_ADMINPROTO_HOST_SET,
	PM_ADMINPROTO_HOST_UPDATE,
	PM_ADMINPROTO_HOST_UP,
	PM_ADMINPROTO_HOST_DOWN,
	PM_ADMINPROTO_HOST_REMOVE,
	PM_ADMINPROTO_HOST_FLUSH,
	PM_ADMINPROTO_HOST_RESET_USERS,
	PM_ADMINPROTO_USER_LOOKUP,
	PM_ADMINPROTO_USER_LIST,
	PM_ADMINPROTO_USER_MOVE,
	PM_ADMINPROTO_USER_KICK,
	PM_ADMINPROTO_USER_KICK_ALT,
	PM_ADMINPROTO_DIRECTOR_LIST,
	PM_ADMINPROTO_DIRECTOR_ADD,
	PM_ADMINPROTO_DIRECTOR_REMOVE,
	PM_ADMINPROTO_USER_ASSIGN,	/* postmux only */
	PM_ADMINPROTO_POSTMUX_COUNTERS,	/* postmux only */
	PM_ADMINPROTO_KIND__COUNT
};

/*
 * A decoded command. All fields are public and read-only for the caller;
 * strings are NUL-terminated, contain no NUL, and never need truncating.
 * Which fields a command sets (the others keep their defaults: false, 0,
 * -1 for vhosts, "" for strings):
 *
 *   HOST-LIST, HOST-LIST-REMOVED, DIRECTOR-LIST    none (extra args ignored)
 *   HOST-SET      ip (has_ip), tag ("" = untagged), vhosts (-1: not given,
 *                 so 100 for a new host, unchanged for an existing one)
 *   HOST-UPDATE   ip, tag, vhosts (-1: given as 4294967295, Dovecot's
 *                 "not given" value: change nothing)
 *   HOST-UP, HOST-DOWN, HOST-REMOVE                ip
 *   HOST-FLUSH    ip, or has_ip false: every host
 *   HOST-RESET-USERS  ip or has_ip false (every host); max_parallel, 0 for
 *                 director_max_parallel_moves
 *   USER-LOOKUP   user (maybe ""), user_is_hash/user_hash, tag
 *   USER-LIST     ip, or has_ip false: every user
 *   USER-MOVE     user, user_is_hash/user_hash, ip
 *   USER-KICK     user (the login name, never a hash), nowait
 *   USER-KICK-ALT field, value, nowait
 *   DIRECTOR-ADD  ip, port (has_port false: the director's own ring port)
 *   DIRECTOR-REMOVE ip, port (has_port false: the first director on ip)
 *   USER-ASSIGN   user (non-empty, always a name: it does what a login
 *                 does), tag. Suggested answers: "<ip>\n" (see
 *                 pm_adminproto_fmt_addr()), PM_ADMINPROTO_R_TRYAGAIN while
 *                 the user is being moved, PM_ADMINPROTO_R_NOTFOUND when the
 *                 tag's ring is empty.
 *   POSTMUX-COUNTERS  field: the counter-name prefix, "" (no argument, or an
 *                 empty one) for every counter; else 1 to
 *                 PM_ADMINPROTO_PREFIX_MAX bytes of [A-Za-z0-9_.-]. A second
 *                 argument, or a prefix of other bytes, closes. The answer
 *                 is a list: one pm_adminproto_fmt_counter() line per
 *                 counter whose name starts with the prefix, then
 *                 PM_ADMINPROTO_R_END; an error is one line without a TAB
 *                 before PM_ADMINPROTO_R_END (counter lines always have
 *                 exactly one). doveadm never sends it.
 *
 * user_is_hash: the user field is a decimal number that fits 32 bits
 * (Dovecot's str_to_uint()), so Dovecot takes it as the user hash itself;
 * "0" gives hash 0, which no name hashes to.
 */
struct pm_adminproto_cmd {
	enum pm_adminproto_kind kind;
	bool has_ip;
	struct pm_addr ip;
	int vhosts;			/* 0..PM_ADMINPROTO_VHOST_MAX, or -1 */
	uint32_t max_parallel;		/* 0: the configured default */
	bool has_port;
	uint16_t port;			/* 1..65535 when has_port */
	bool nowait;
	bool user_is_hash;
	uint32_t user_hash;
	const char *reply;		/* PM_ADMINPROTO_REPLY: line to send */
	const char *reason;		/* PM_ADMINPROTO_CLOSE: static, for the log */
	size_t user_len;
	size_t tag_len;
	size_t field_len;
	size_t value_len;
	char name[PM_ADMINPROTO_NAME_SIZE];	/* command word, maybe cut */
	char user[PM_ADMINPROTO_FIELD_SIZE];
	char tag[PM_ADMINPROTO_FIELD_SIZE];
	char field[PM_ADMINPROTO_FIELD_SIZE];
	char value[PM_ADMINPROTO_FIELD_SIZE];
};

enum pm_adminproto_state {
	PM_ADMINPROTO_ST_HANDSHAKE = 0,
	PM_ADMINPROTO_ST_COMMANDS,
	PM_ADMINPROTO_ST_CLOSED,
};

/* One admin connection's parser. All fields are private. */
struct pm_adminproto {
	uint8_t state;			/* enum pm_adminproto_state */
	uint16_t len;			/* bytes of the current line in line[] */
	uint32_t minor;			/* the client's minor version */
	const char *reason;		/* why it closed (static) */
	char line[PM_ADMINPROTO_LINE_MAX];
};

/* Start a connection's parser in the handshake state. Cannot fail. */
void pm_adminproto_init(struct pm_adminproto *p);

/*
 * Feed @len bytes of the client's input. Stops at the first event and sets
 * *@consumed to the bytes used, up to and including the LF of the line that
 * made it; the caller handles the event and feeds the rest again.
 *
 *   PM_ADMINPROTO_AGAIN   every byte consumed, no complete command
 *   PM_ADMINPROTO_RUN     @cmd holds a command to run and answer
 *   PM_ADMINPROTO_REPLY   send @cmd->reply, nothing to run (kind, ip and
 *                         tag are set for the log)
 *   PM_ADMINPROTO_CLOSE   close the connection without a reply; @cmd->reason
 *                         says why. Sticky: later calls return it again,
 *                         consuming nothing.
 *
 * The handshake line produces no event. @cmd is written only for RUN,
 * REPLY and CLOSE. No allocation; O(@len) plus O(line) per complete line.
 */
enum pm_adminproto_status pm_adminproto_feed(struct pm_adminproto *p, const void *data,
					     size_t len, size_t *consumed,
					     struct pm_adminproto_cmd *cmd);

/* True once the client's VERSION line was accepted; its minor in *@minor. */
bool pm_adminproto_handshaked(const struct pm_adminproto *p, uint32_t *minor);

/*
 * Decode one command line: the @len bytes received before its LF (a final
 * CR and anything after a NUL are ignored here, as in the feed; more than
 * PM_ADMINPROTO_LINE_MAX bytes close). Returns PM_ADMINPROTO_RUN, _REPLY or
 * _CLOSE and fills @cmd. What the feed calls for every line after the
 * handshake. No allocation.
 */
enum pm_adminproto_status pm_adminproto_decode_line(const char *line, size_t len,
						    struct pm_adminproto_cmd *cmd);

/* The wire name of @kind ("HOST-SET"), or "" for NONE / out of range. */
const char *pm_adminproto_kind_name(enum pm_adminproto_kind kind);

/*
 * Parse an address as Dovecot 2.3's net_addr2ip() does: a decimal fast path
 * (one number below 2^32 is the whole IPv4 address; or exactly four decimal
 * parts below 256, so "010.0.0.1" is 10.0.0.1), else, with a ':', an IPv6
 * address (inet_pton, optionally inside "[...]"), else glibc's inet_aton()
 * (1 to 4 parts in decimal, octal or 0x hex, and anything after an ASCII
 * white-space byte ignored: "010.0.0.1 x" is 8.0.0.1). A NUL ends @s.
 * Returns 0 and fills @a, or -EINVAL. No allocation; any thread.
 */
int pm_adminproto_parse_ip(struct pm_addr *a, const char *s, size_t len);

/*
 * Tab-escape @len bytes of @s into @buf (@size bytes) as Dovecot's
 * str_append_tabescaped_n(): NUL, 0x01, TAB, CR, LF become 0x01 followed by
 * '0', '1', 't', 'r', 'n'. Writes a NUL after the result. Returns its length
 * (without the NUL) or -ENOSPC if it does not fit (@buf is then a
 * NUL-terminated prefix when @size > 0). No allocation.
 */
int pm_adminproto_escape(char *buf, size_t size, const void *s, size_t len);

/*
 * The inverse, as Dovecot's str_tabunescape() but on bytes: 0x01 followed by
 * '0', '1', 't', 'r', 'n' gives NUL, 0x01, TAB, CR, LF; followed by another
 * byte gives that byte; a final lone 0x01 is dropped. NULs are kept (the
 * command decoder, not this, applies Dovecot's C-string cut). Writes a NUL
 * after the result. Returns its length or -ENOSPC.
 */
int pm_adminproto_unescape(char *buf, size_t size, const void *s, size_t len);

/*
 * Reply-line builders. Each writes one complete line, LF included, plus a
 * NUL, into @buf (@size bytes) and returns the line's length, or -ENOSPC
 * (too small) or -EINVAL (an address of family PM_AF_NONE where one is
 * required). Addresses print as inet_ntop (Dovecot's net_ip2addr). Numbers
 * print as Dovecot's printf formats do. No allocation.
 */

/* HOST-LIST: "ip\tvhosts\tusers\ttag\tU|D\tlast_updown\n"; tag escaped,
 * NULL for none. */
int pm_adminproto_fmt_host(char *buf, size_t size, const struct pm_addr *ip,
			   uint32_t vhosts, uint32_t users, const char *tag, bool down,
			   int64_t last_updown_s);

/* "ip\n": a HOST-LIST-REMOVED line, and USER-ASSIGN's answer. */
int pm_adminproto_fmt_addr(char *buf, size_t size, const struct pm_addr *ip);

/* USER-LIST: "hash\texpire\tip\n", expire = last refresh + user_expire. */
int pm_adminproto_fmt_user(char *buf, size_t size, uint32_t user_hash, uint32_t expire_s,
			   const struct pm_addr *ip);

/*
 * USER-LOOKUP: "cur_ip\texpire\thashed_ip\tinitial_ip\n". Any address may be
 * NULL or of family PM_AF_NONE, which prints as an empty field; without a
 * current host the expire field is "0" whatever @expire_s says, as Dovecot
 * sends "\t0" for a user it has no entry for.
 */
int pm_adminproto_fmt_lookup(char *buf, size_t size, const struct pm_addr *cur,
			     uint32_t expire_s, const struct pm_addr *hashed,
			     const struct pm_addr *initial);

/*
 * DIRECTOR-LIST, a standalone director's only line:
 * "ip\tport\tself\tlast_failed\tring synced\tlast_sync_ms\n". A real
 * standalone 2.3.19.1 director answers "127.0.0.1\t<port>\tself\t0\tring
 * synced\t0" (its ring never syncs with a peer, so last_sync_ms stays 0).
 */
int pm_adminproto_fmt_director_self(char *buf, size_t size, const struct pm_addr *ip,
				    uint16_t port, int64_t last_failed_s,
				    uint32_t last_sync_ms);

/*
 * POSTMUX-COUNTERS: "name\tvalue\n", the value in decimal. @name must be a
 * valid counter name (pm_ctlmsg_counter_name_ok(): 1..63 bytes of
 * [A-Za-z0-9_.-], so it is never escaped); -EINVAL otherwise.
 */
int pm_adminproto_fmt_counter(char *buf, size_t size, const char *name, uint64_t value);

#endif
