/*
 * adminclient.h -- the client side of the director admin protocol
 * ("director-doveadm" v1, shared/spec/director.md section 3): connect,
 * handshake, send one command, read its reply, one command at a time; plus
 * the pure helpers that parse reply lines and render them the way
 * `doveadm director` (Dovecot 2.3.19.1) does.
 *
 * Owner: the caller owns every struct pm_adminclient (one per connection)
 * and every struct pm_adminclient_table; the strings a reply callback gets
 * are borrowed until the callback returns. The I/O functions block (with a
 * bounded wait for the handshake only) and never raise SIGPIPE.
 * Threads: any; one thread per struct at a time. Only the table buffers
 * allocate (documented per function).
 *
 * Why one command at a time: a Dovecot director on a ring drops the line
 * buffered after a command that waits for a ring sync (spec 3.1), so every
 * function here sends one command and reads its whole reply before the
 * caller may send the next. Nothing here pipelines.
 *
 * Bounds: a command line is at most PM_ADMINPROTO_LINE_MAX bytes before its
 * LF (the server closes on longer ones, so they are refused here); a reply
 * line at most PM_ADMINCLIENT_REPLY_MAX bytes; list replies are streamed to
 * a callback, never buffered whole.
 */
#ifndef PM_ADMINCLIENT_H
#define PM_ADMINCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "adminproto.h"
#include "net/addr.h"

/* Where postmuxctl connects unless told otherwise (-a, POSTMUX_ADMIN_SOCKET). */
#define PM_ADMINCLIENT_DEFAULT_SOCKET "/run/postmux/director-admin"

/* Longest reply line accepted, LF excluded; longer ones are -EPROTO. */
#define PM_ADMINCLIENT_REPLY_MAX 65536

/* How long the banner may take (doveadm's alarm(5) in director_connect()). */
#define PM_ADMINCLIENT_HANDSHAKE_MS 5000

/* The banner must start with this (version_string_verify(): name, major 1). */
#define PM_ADMINCLIENT_BANNER_PREFIX "VERSION\tdirector-doveadm\t1\t"

/* Our handshake line: doveadm's DIRECTOR_HANDSHAKE. */
#define PM_ADMINCLIENT_HANDSHAKE "VERSION\tdirector-doveadm\t1\t0\n"

/*
 * One admin connection. Public: timeout_ms (how long one read may wait for
 * reply bytes: -1 forever, the default after connect, because a flush may
 * legitimately take minutes). Everything else is private.
 */
struct pm_adminclient {
	int fd;
	int timeout_ms;
	const char *target;		/* the caller's string, for messages */
	size_t start, end;		/* unread bytes are buf[start..end) */
	char buf[PM_ADMINCLIENT_REPLY_MAX + 1];
};

/*
 * Connect to @target and handshake. @target is a UNIX socket path if it
 * contains a '/', else "host:port" for TCP (doveadm's rule; "[v6]:port" is
 * accepted; a host name connects to its first address). Reads the banner
 * (within PM_ADMINCLIENT_HANDSHAKE_MS), checks it, then sends the VERSION
 * line. @target must outlive @c. Returns 0, or a negative errno with a
 * message in @err:
 *   -EPROTONOSUPPORT   the peer is not a director-doveadm v1 server
 *   -ETIMEDOUT         no banner in time
 *   -ECONNRESET        the peer closed before its banner
 *   -EINVAL            @target is not a usable address
 *   other              connect() / getaddrinfo errors (-EAI is -EHOSTUNREACH)
 * Blocks. Allocates nothing (getaddrinfo aside). On failure @c is closed.
 */
int pm_adminclient_connect(struct pm_adminclient *c, const char *target, char *err,
			   size_t errlen);

/* Close the connection (idempotent; fd -1 afterwards). Cannot fail. */
void pm_adminclient_close(struct pm_adminclient *c);

/*
 * Send one command: @n fields, each tab-escaped (pm_adminproto_escape()),
 * joined by TAB, ended by LF. Returns 0, -EMSGSIZE (the line would exceed
 * PM_ADMINPROTO_LINE_MAX; nothing is sent) or a write error (-EPIPE when
 * the peer has gone). Blocks until written.
 */
int pm_adminclient_send(struct pm_adminclient *c, const char *const *fields, size_t n,
			char *err, size_t errlen);

/*
 * Read the next reply line. Sets *@line to it (NUL-terminated, without the
 * LF and without one CR before it, as Dovecot's i_stream_next_line()) and
 * *@len to its length; both stay valid until the next call on @c. Returns
 * 0, -ECONNRESET (the peer closed: "unexpectedly disconnected"), -ETIMEDOUT,
 * -EPROTO (a line longer than PM_ADMINCLIENT_REPLY_MAX) or a read error.
 */
int pm_adminclient_read_line(struct pm_adminclient *c, const char **line, size_t *len,
			     char *err, size_t errlen);

/*
 * Send one command and read its one-line reply into @reply (@size bytes,
 * NUL-terminated). Returns 0 or an error of _send/_read_line; -EPROTO if
 * the reply does not fit @reply.
 */
int pm_adminclient_request(struct pm_adminclient *c, const char *const *fields, size_t n,
			   char *reply, size_t size, char *err, size_t errlen);

/*
 * Called for every line of a list reply (HOST-LIST, USER-LIST, ...), still
 * escaped, without its LF. Returns 0 to go on, or a negative errno to stop
 * (the connection is then out of step and must be closed).
 */
typedef int (*pm_adminclient_row_fn)(const char *line, size_t len, void *arg);

/*
 * Send one command whose reply is lines ended by an empty line, and hand
 * each line to @fn. Returns 0 once the empty line arrived, or an error of
 * _send/_read_line, or what @fn returned.
 */
int pm_adminclient_request_list(struct pm_adminclient *c, const char *const *fields, size_t n,
				pm_adminclient_row_fn fn, void *arg, char *err, size_t errlen);

/* ---- pure helpers: reply parsing --------------------------------------- */

/*
 * Split one reply line (@len bytes, no LF) at every TAB and tab-unescape
 * each field, as Dovecot's t_strsplit_tabescaped(): the fields are written
 * NUL-terminated into @out (@size bytes; @len + 1 always suffices) and
 * fields[i] points at field i. A field that unescapes to a NUL ends there,
 * as Dovecot sees C strings. Returns the number of fields, -E2BIG (more
 * than @max fields) or -ENOSPC. No allocation.
 */
int pm_adminclient_split(const char *line, size_t len, char *out, size_t size,
			 const char **fields, size_t max);

/* Dovecot's str_to_time() on a C string: an optional '-', then decimal
 * digits, fitting int64_t. Returns 0 or -EINVAL. */
int pm_adminclient_parse_time(const char *s, int64_t *t);

/* A HOST-LIST line (spec 3.2), unescaped. All fields public. */
struct pm_adminclient_host {
	char ip[PM_ADDR_STRLEN];	/* as the server sent it */
	struct pm_addr addr;
	uint32_t vhosts;
	uint32_t users;
	bool down;			/* the state field starts with 'D' */
	int64_t updown_ts;		/* last up/down change; <= 0: never */
	char tag[PM_ADMINPROTO_FIELD_SIZE];	/* "" for the untagged ring */
};

/*
 * Parse "ip\tvhosts\tusers\ttag\tU|D\tts" (fields after the sixth are
 * ignored, as doveadm does). The address must parse (net_addr2ip rules),
 * the numbers must be decimal and fit. Returns 0 or -EINVAL. No allocation.
 */
int pm_adminclient_parse_host(const char *line, size_t len, struct pm_adminclient_host *h);

/* A USER-LOOKUP reply. Address fields are "" when the server has none. */
struct pm_adminclient_lookup {
	char current[PM_ADDR_STRLEN];
	int64_t expires;
	char hashed[PM_ADDR_STRLEN];
	char initial[PM_ADDR_STRLEN];
};

/*
 * Parse "cur\texpires\thashed\tinitial": exactly four fields and a numeric
 * expiry, doveadm's own test ("Invalid reply from director" otherwise);
 * the addresses are taken as text. Returns 0 or -EINVAL.
 */
int pm_adminclient_parse_lookup(const char *line, size_t len, struct pm_adminclient_lookup *l);

/* A USER-LIST line. The texts are what doveadm prints. */
struct pm_adminclient_user {
	uint32_t hash;
	int64_t expires;
	struct pm_addr addr;
	char hash_text[12];
	char ip[PM_ADDR_STRLEN];
};

/*
 * Parse "hash\texpire\tip" as doveadm's map does: at least three fields, a
 * 32-bit decimal hash, a time, an address net_addr2ip() accepts. Returns 0
 * or -EINVAL.
 */
int pm_adminclient_parse_user(const char *line, size_t len, struct pm_adminclient_user *u);

/* A POSTMUX-COUNTERS line. All fields public. */
struct pm_adminclient_counter {
	char name[PM_ADMINPROTO_PREFIX_MAX + 1];
	uint64_t value;
};

/*
 * Parse "name\tvalue": exactly two fields, a valid counter name
 * (pm_ctlmsg_counter_name_ok(): 1..63 bytes of [A-Za-z0-9_.-], never
 * escaped) and 1 to 20 decimal digits that fit 64 bits. Returns 0 or
 * -EINVAL; any other line of a POSTMUX-COUNTERS reply is the server's
 * error message. No allocation.
 */
int pm_adminclient_parse_counter(const char *line, size_t len, struct pm_adminclient_counter *k);

/* ---- pure helpers: output ------------------------------------------------- */

/*
 * doveadm's unixdate2str(): @t as local time "YYYY-MM-DD HH:MM:SS" in @buf
 * (at least 20 bytes for four-digit years). Returns the length or -ENOSPC /
 * -EINVAL. Reads the TZ setting (localtime_r); no allocation.
 */
int pm_adminclient_fmt_time(int64_t t, char *buf, size_t size);

/*
 * `status <user>`: doveadm's three lines,
 *   "Current: <ip> (expires <time>)" or "Current: n/a (expires -1)",
 *   "Hashed: <ip>", "Initial config: <ip>".
 * Returns 0 or -EIO (a write error on @out).
 */
int pm_adminclient_print_lookup(FILE *out, const struct pm_adminclient_lookup *l);

/*
 * `status`: postmuxctl's backend table (the layout of Dovecot's
 * "Rebalancing Backends" guide, plus state, tag and state changed):
 *
 *   backend   vhosts  users  state  tag  state changed
 *   10.0.0.1     100     80  up     -    -
 *   10.0.0.4       0     10  down   -    2025-06-01 12:00:00
 *
 * A title line, then one line per host in the given order. Columns are
 * separated by two spaces; backend, state and tag are left-aligned, vhosts
 * and users right-aligned, each padded to its widest cell (title included,
 * width counted in UTF-8 characters); the last column is not padded, so no
 * line has trailing blanks. tag is "-" for the untagged ring; control bytes
 * in a tag print as '?'. state changed is "-" when updown_ts <= 0, else
 * pm_adminclient_fmt_time(). Returns 0, -ENOMEM or -EIO. Allocates a
 * temporary copy of the display tags.
 */
int pm_adminclient_print_status(FILE *out, const struct pm_adminclient_host *hosts, size_t n);

/*
 * `stats`: one line per counter, in the given order, "name  value": the
 * names left-aligned and padded to the longest, two spaces, the values in
 * decimal right-aligned to the widest, so that they line up in one column:
 *
 *   director.pins              1
 *   director.rings_published  12
 *
 * Nothing at all for @n == 0. Returns 0 or -EIO (a write error).
 */
int pm_adminclient_print_counters(FILE *out, const struct pm_adminclient_counter *k, size_t n);

/*
 * Write @s quoted for a POSIX shell into @buf (@size bytes, NUL added): as
 * is if it only has [A-Za-z0-9_@%+=:,./-] and is not empty, else inside
 * single quotes with each ' written as '\''. Returns the length or -ENOSPC.
 */
int pm_adminclient_shell_quote(char *buf, size_t size, const char *s);

/*
 * doveadm's "table" formatter (doveadm-print-table.c, 2.3.19.1), byte for
 * byte: the first PM_ADMINCLIENT_TABLE_BUFFER rows are buffered to size the
 * columns (width counted in UTF-8 characters as uni_utf8_strlen() does;
 * columns shrink when the line would exceed @columns, and the first
 * EXPAND column, else the last one, takes half of the unused width); then
 * the titles (unless every column hides its title) and the rows are
 * written, each cell left-aligned and followed by a space, the last one by
 * a newline. Later rows reuse the widths. Used by `map`, whose output must
 * equal doveadm's.
 *
 * Fields are private. Lifetime: _init, _header for every column, _print for
 * every cell (row-major), _flush, _free.
 */
#define PM_ADMINCLIENT_TABLE_COLS 8
#define PM_ADMINCLIENT_TABLE_BUFFER 100
#define PM_ADMINCLIENT_TABLE_EXPAND 0x1		/* DOVEADM_PRINT_HEADER_FLAG_EXPAND */
#define PM_ADMINCLIENT_TABLE_HIDE_TITLE 0x2	/* ..._HIDE_TITLE */

struct pm_adminclient_table {
	FILE *out;
	size_t columns;			/* terminal width: doveadm's 80 when not a tty */
	size_t ncols;
	size_t next;			/* column of the next cell */
	bool lengths_set;
	bool failed;			/* a write error happened */
	struct {
		const char *title;	/* borrowed; must outlive the table */
		unsigned int flags;
		size_t min_len, max_len, len;
	} col[PM_ADMINCLIENT_TABLE_COLS];
	char **cells;			/* buffered, malloc'd copies */
	size_t ncells, cap;
};

/* Start a table writing to @out for a terminal @columns wide. Cannot fail. */
void pm_adminclient_table_init(struct pm_adminclient_table *t, FILE *out, size_t columns);

/* Add a column. Returns 0 or -E2BIG (more than PM_ADMINCLIENT_TABLE_COLS). */
int pm_adminclient_table_header(struct pm_adminclient_table *t, const char *title,
				unsigned int flags);

/* Add the next cell. Copies @value while buffering (-ENOMEM possible);
 * returns 0, -ENOMEM, -EIO, or -EINVAL before any _header. */
int pm_adminclient_table_print(struct pm_adminclient_table *t, const char *value);

/* Write what is buffered (the titles too, even with no rows). Returns 0 or
 * -EIO if any write failed. */
int pm_adminclient_table_flush(struct pm_adminclient_table *t);

/* Free the buffered cells. Cannot fail. */
void pm_adminclient_table_free(struct pm_adminclient_table *t);

#endif
