/*
 * ctlmsg.h -- the control channel's messages and their codec.
 *
 * Owns: the wire format of every datagram exchanged between postmux-control
 * and postmux-dataplane over the UNIX SEQPACKET control channel (protocol
 * version 1). docs/control-channel.md is the specification: byte layouts,
 * request/reply matching, chunking, the connection lifecycle and versioning.
 * This module is the only code that turns those bytes into structs and back.
 *
 * Threads: any. Pure: no sockets, no DPDK, no allocation, no clock, no global
 * state; every function is reentrant. The data plane's ctl thread and the
 * control process both link it.
 *
 * Ownership: encoders write into a buffer the caller provides and keep no
 * reference to it. pm_ctlmsg_decode() copies every scalar and every string
 * into the caller's struct pm_ctlmsg, with one documented exception: the
 * entries of a chunk message (STATE_HOSTS, USER_LIST_PART, HOST_LIST_PART,
 * COUNTERS_PART) stay in the input buffer, already validated, and are read
 * through a struct pm_ctlmsg_iter. That view is valid only while the caller
 * keeps the input buffer unchanged.
 *
 * Strictness: the decoder accepts exactly the canonical encoding. Reserved
 * bytes, unused header fields and unused address bytes must be zero, booleans
 * 0 or 1, strings free of NUL bytes, and the body must end exactly where the
 * datagram ends. Consequently re-encoding a decoded message reproduces the
 * input byte for byte. The encoders enforce the same rules, so they never
 * produce a datagram the decoder refuses.
 *
 * Semantic limits that belong to the director (vhosts <= 1000, a compilable
 * username-hash template, user_expire >= 10 s, ...) are not checked here: the
 * data plane answers them with a REPLY status instead of closing the channel.
 */
#ifndef PM_CTLMSG_H
#define PM_CTLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

/* "PMXC" on the wire: the bytes 0x50 0x4d 0x58 0x43, read as a LE u32. */
#define PM_CTLMSG_MAGIC		0x43584d50u
#define PM_CTLMSG_VERSION	1
#define PM_CTLMSG_HDR_LEN	32
#define PM_CTLMSG_MAX		65536	/* largest datagram, header included */

/* String bounds in bytes, excluding the NUL of the fixed fields below. */
#define PM_CTLMSG_TAG_MAX	255
#define PM_CTLMSG_USER_MAX	1024
#define PM_CTLMSG_FIELD_MAX	255	/* USER_KICK_ALT field and value */
#define PM_CTLMSG_TEMPLATE_MAX	255	/* director_username_hash */
#define PM_CTLMSG_REASON_MAX	255	/* REPLY and ERROR reason text */
#define PM_CTLMSG_COUNTER_NAME_MAX 63	/* COUNTERS_PART names, at least 1 byte */

#define PM_CTLMSG_BOOT_ID_LEN	16
#define PM_CTLMSG_VHOSTS_KEEP	0xffff	/* HOST_SET: keep the count (100 if new) */

/* Wire sizes of the fixed entry parts, for callers sizing their chunks. */
#define PM_CTLMSG_ADDR_LEN		17	/* family byte + 16 address bytes */
#define PM_CTLMSG_STATE_HOST_MIN	30	/* + tag length */
#define PM_CTLMSG_HOST_INFO_MIN		36	/* + tag length */
#define PM_CTLMSG_USER_ENTRY_LEN	28
#define PM_CTLMSG_COUNTER_MIN		11	/* u16 length, 1-byte name, u64 */

/*
 * Message types. 1-63 travel from control to the data plane, 64-127 from
 * the data plane to control, 128-255 either way. The numbers are part of the
 * wire format and never change meaning.
 */
enum pm_ctlmsg_type {
	PM_CTLMSG_HELLO = 1,
	PM_CTLMSG_STATE_BEGIN = 2,
	PM_CTLMSG_STATE_HOSTS = 3,
	PM_CTLMSG_STATE_COMMIT = 4,
	PM_CTLMSG_HOST_SET = 5,
	PM_CTLMSG_HOST_UPDOWN = 6,
	PM_CTLMSG_HOST_REMOVE = 7,
	PM_CTLMSG_HOST_FLUSH = 8,
	PM_CTLMSG_RESET_USERS = 9,
	PM_CTLMSG_USER_MOVE = 10,
	PM_CTLMSG_USER_KICK = 11,
	PM_CTLMSG_USER_KICK_ALT = 12,
	PM_CTLMSG_USER_ASSIGN = 13,
	PM_CTLMSG_USER_LOOKUP = 14,
	PM_CTLMSG_USER_LIST = 15,
	PM_CTLMSG_HOST_LIST = 16,
	PM_CTLMSG_STATS = 17,
	PM_CTLMSG_PING = 18,
	PM_CTLMSG_COUNTERS = 19,

	PM_CTLMSG_HELLO_ACK = 65,
	PM_CTLMSG_REPLY = 66,
	PM_CTLMSG_USER_LIST_PART = 67,
	PM_CTLMSG_HOST_LIST_PART = 68,
	PM_CTLMSG_STATS_REPLY = 69,
	PM_CTLMSG_PONG = 70,
	PM_CTLMSG_COUNTERS_PART = 71,

	PM_CTLMSG_ERROR = 128,
};

/* Header flags. Every bit not allowed for a message's type must be zero. */
#define PM_CTLMSG_F_LAST	0x0001	/* USER_LIST_PART, HOST_LIST_PART, COUNTERS_PART:
					 * final part */

/* Who may send a type (pm_ctlmsg_direction()). */
#define PM_CTLMSG_TO_DP		0x1	/* control -> data plane */
#define PM_CTLMSG_TO_CONTROL	0x2	/* data plane -> control */

/* ERROR codes. The decoder accepts any value (ERROR is frozen, see below). */
enum pm_ctlmsg_err {
	PM_CTLMSG_ERR_BUSY = 1,		/* another data plane is connected */
	PM_CTLMSG_ERR_VERSION = 2,	/* no common protocol version */
	PM_CTLMSG_ERR_MALFORMED = 3,	/* a datagram failed to decode */
	PM_CTLMSG_ERR_UNEXPECTED = 4,	/* valid, but not allowed here/now */
	PM_CTLMSG_ERR_INTERNAL = 5,	/* the sender cannot go on */
};

/* USER_ASSIGN results (REPLY body), mirroring enum pm_dir_status. */
enum pm_ctlmsg_assign {
	PM_CTLMSG_ASSIGN_PINNED = 0,	/* a live pin was refreshed */
	PM_CTLMSG_ASSIGN_HASHED = 1,	/* no pin: created from the ring */
	PM_CTLMSG_ASSIGN_WAIT = 2,	/* the user is being moved: retry */
	PM_CTLMSG_ASSIGN_NOHOST = 3,	/* no pin and the tag's ring is empty */
};

/* Pin flags in USER_LIST_PART entries and the USER_LOOKUP reply. */
#define PM_CTLMSG_PIN_WEAK	0x01
#define PM_CTLMSG_PIN_MOVING	0x02

/* ---- message bodies (all fields public) ---------------------------------- */

struct pm_ctlmsg_hello {		/* HELLO */
	uint32_t pid;			/* postmux-control's pid */
	uint16_t proto_min;		/* versions the sender speaks, */
	uint16_t proto_max;		/* 1 <= min <= max */
	uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN];	/* random per control start */
};

struct pm_ctlmsg_hello_ack {		/* HELLO_ACK; header generation = applied */
	uint32_t pid;			/* postmux-dataplane's pid */
	uint16_t version;		/* the version chosen, >= 1 */
	bool has_pins;			/* the data plane still holds user pins */
	uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN];	/* random per data-plane start */
};

struct pm_ctlmsg_state_begin {		/* STATE_BEGIN */
	uint32_t user_expire_s;
	uint32_t kick_delay_ms;
	uint32_t max_parallel_moves;
	uint32_t max_parallel_kicks;
	uint32_t nhosts;		/* hosts the STATE_HOSTS chunks will carry */
	char master_sep;		/* '\0': none */
	char hash_template[PM_CTLMSG_TEMPLATE_MAX + 1];
};

/* A chunk message's entries: iterate them with struct pm_ctlmsg_iter. */
struct pm_ctlmsg_chunk {
	uint32_t count;
	/* private: the validated entries, inside the decoded input buffer */
	const uint8_t *entries;
	size_t entries_len;
};

struct pm_ctlmsg_host_set {		/* HOST_SET */
	struct pm_addr addr;		/* IPv4 or IPv6 */
	uint16_t vhosts;		/* or PM_CTLMSG_VHOSTS_KEEP */
	bool create;			/* HOST-SET (true) or HOST-UPDATE */
	char tag[PM_CTLMSG_TAG_MAX + 1];	/* "" untagged */
};

struct pm_ctlmsg_host_updown {		/* HOST_UPDOWN */
	struct pm_addr addr;
	bool down;
};

/* HOST_REMOVE (IPv4/IPv6); HOST_FLUSH and USER_LIST (PM_AF_NONE: all). */
struct pm_ctlmsg_hostref {
	struct pm_addr addr;
};

struct pm_ctlmsg_reset_users {		/* RESET_USERS */
	struct pm_addr addr;		/* PM_AF_NONE: every host */
	uint32_t max_parallel;		/* 0: the configured default */
};

struct pm_ctlmsg_user_move {		/* USER_MOVE */
	uint32_t user_hash;
	struct pm_addr addr;		/* IPv4 or IPv6 */
};

struct pm_ctlmsg_user_kick {		/* USER_KICK */
	char user[PM_CTLMSG_USER_MAX + 1];
};

struct pm_ctlmsg_user_kick_alt {	/* USER_KICK_ALT */
	char field[PM_CTLMSG_FIELD_MAX + 1];
	char value[PM_CTLMSG_FIELD_MAX + 1];
};

struct pm_ctlmsg_user_assign {		/* USER_ASSIGN */
	char user[PM_CTLMSG_USER_MAX + 1];
	char tag[PM_CTLMSG_TAG_MAX + 1];
};

struct pm_ctlmsg_user_lookup {		/* USER_LOOKUP */
	uint32_t user_hash;
	char tag[PM_CTLMSG_TAG_MAX + 1];
};

struct pm_ctlmsg_reply {		/* REPLY */
	uint16_t req_type;		/* the type of the request answered */
	int32_t status;			/* 0, or a negative errno (>= -4095) */
	char reason[PM_CTLMSG_REASON_MAX + 1];	/* status < 0 only */
	union {				/* status == 0 only, by req_type */
		struct {		/* USER_ASSIGN */
			uint8_t result;		/* enum pm_ctlmsg_assign */
			struct pm_addr addr;	/* PM_AF_NONE iff WAIT/NOHOST */
			uint32_t expire_s;	/* 0 iff WAIT/NOHOST */
		} user_assign;
		struct {		/* USER_LOOKUP */
			struct pm_addr cur;	/* PM_AF_NONE: no pin */
			uint32_t expire_s;	/* 0 without a pin */
			uint8_t pin_flags;	/* PM_CTLMSG_PIN_*, 0 without a pin */
			struct pm_addr hashed;	/* PM_AF_NONE: empty ring */
		} user_lookup;
		struct {		/* HOST_FLUSH */
			uint64_t forgotten;	/* pins forgotten */
		} host_flush;
	} body;
};

struct pm_ctlmsg_stats {		/* STATS_REPLY: struct pm_director_stats */
	uint64_t pins;
	uint64_t moving;
	uint64_t jobs;
	uint64_t rings_published;
	uint64_t pins_expired;
	uint64_t moves_started;
	uint64_t kicks;
	uint64_t pin_buckets;
};

struct pm_ctlmsg_error {		/* ERROR */
	uint16_t code;			/* enum pm_ctlmsg_err, or a future code */
	char reason[PM_CTLMSG_REASON_MAX + 1];
};

/*
 * One decoded (or to-be-encoded) datagram. The header's magic, version,
 * reserved field and length are implied; @u holds the member named after
 * @type (STATE_HOSTS, USER_LIST_PART, HOST_LIST_PART and COUNTERS_PART use
 * @u.chunk; HOST_LIST, STATS, PING, PONG, COUNTERS and STATE_COMMIT have no
 * body).
 */
struct pm_ctlmsg {
	uint16_t type;			/* enum pm_ctlmsg_type */
	uint16_t flags;			/* PM_CTLMSG_F_* */
	uint64_t request_id;
	uint64_t generation;
	union {
		struct pm_ctlmsg_hello hello;
		struct pm_ctlmsg_hello_ack hello_ack;
		struct pm_ctlmsg_state_begin state_begin;
		struct pm_ctlmsg_chunk chunk;
		struct pm_ctlmsg_host_set host_set;
		struct pm_ctlmsg_host_updown host_updown;
		struct pm_ctlmsg_hostref host_remove;
		struct pm_ctlmsg_hostref host_flush;
		struct pm_ctlmsg_reset_users reset_users;
		struct pm_ctlmsg_user_move user_move;
		struct pm_ctlmsg_user_kick user_kick;
		struct pm_ctlmsg_user_kick_alt user_kick_alt;
		struct pm_ctlmsg_user_assign user_assign;
		struct pm_ctlmsg_user_lookup user_lookup;
		struct pm_ctlmsg_hostref user_list;
		struct pm_ctlmsg_reply reply;
		struct pm_ctlmsg_stats stats;
		struct pm_ctlmsg_error error;
	} u;
};

/* The raw header, as pm_ctlmsg_peek() reads it (nothing validated). */
struct pm_ctlmsg_hdr {
	uint16_t version;
	uint16_t type;
	uint16_t flags;
	uint32_t length;
	uint64_t request_id;
	uint64_t generation;
};

/* Entries of STATE_HOSTS and HOST_LIST_PART. */
struct pm_ctlmsg_host {
	struct pm_addr addr;		/* IPv4 or IPv6 */
	uint16_t vhosts;
	bool down;
	int64_t last_updown_s;		/* unix seconds, >= 0; 0: never changed */
	uint32_t user_count;		/* HOST_LIST_PART only; 0 in STATE_HOSTS */
	uint16_t tag_index;		/* HOST_LIST_PART only; 0 in STATE_HOSTS */
	char tag[PM_CTLMSG_TAG_MAX + 1];
};

/* Entries of USER_LIST_PART. */
struct pm_ctlmsg_user {
	uint32_t user_hash;
	uint32_t expire_s;
	struct pm_addr addr;		/* IPv4 or IPv6 */
	uint16_t tag_index;		/* the data plane's tag number */
	uint8_t pin_flags;		/* PM_CTLMSG_PIN_* */
};

/*
 * Entries of COUNTERS_PART: one data-plane counter. The name is 1 to
 * PM_CTLMSG_COUNTER_NAME_MAX bytes of [A-Za-z0-9_.-]
 * (pm_ctlmsg_counter_name_ok()), so it needs no escaping on the admin socket
 * or in a shell; the value is whatever the counter holds (most are
 * monotonic, a few are levels such as director.pins).
 */
struct pm_ctlmsg_counter {
	char name[PM_CTLMSG_COUNTER_NAME_MAX + 1];
	uint64_t value;
};

/* ---- metadata -------------------------------------------------------------- */

/* The name of @type ("HOST_SET"), or NULL if it is not a version-1 type. */
const char *pm_ctlmsg_type_name(uint16_t type);

/* PM_CTLMSG_TO_DP, PM_CTLMSG_TO_CONTROL, both ORed (ERROR), or 0 (unknown). */
unsigned int pm_ctlmsg_direction(uint16_t type);

/*
 * A short, fixed reason for a pm_ctlmsg_decode() error ("bad magic",
 * "truncated or length mismatch", ...), for logs and ERROR messages. Never
 * NULL.
 */
const char *pm_ctlmsg_strerror(int err);

/*
 * True if @name (NUL-terminated; at most PM_CTLMSG_COUNTER_NAME_MAX + 1
 * bytes are read) is a valid counter name: 1 to PM_CTLMSG_COUNTER_NAME_MAX
 * bytes, each of A-Z, a-z, 0-9, '_', '.', '-'. The decoder refuses any
 * other name as malformed (-EINVAL), and the chunk writer refuses to add
 * one. Any thread; no allocation.
 */
bool pm_ctlmsg_counter_name_ok(const char *name);

/* ---- decoding ------------------------------------------------------------- */

/*
 * Validate the whole datagram @buf (@len bytes, as received) and fill @m.
 * Returns 0, or:
 *   -EPROTO           bad magic: not a postmux control datagram;
 *   -EPROTONOSUPPORT  a header version other than PM_CTLMSG_VERSION;
 *   -EBADMSG          truncated: shorter than the header or than a field,
 *                     length field != @len, trailing bytes, or an entry
 *                     count the remaining bytes cannot hold;
 *   -EMSGSIZE         longer than PM_CTLMSG_MAX;
 *   -ENOTSUP          an unknown message type;
 *   -EINVAL           a field out of bounds: string longer than its bound or
 *                     containing NUL, bad address family or padding, bool not
 *                     0/1, flag, reserved, request-id or generation rule
 *                     broken, unknown enum value.
 * The header is judged first (magic, version, size, length field, type,
 * then its flag, request-id and generation rules), then the body field by
 * field, and the first failure is returned; so every proper prefix of a
 * valid datagram gives -EBADMSG, whether or not its length field was
 * patched to match. On failure @m is zeroed. On success, a chunk message's
 * @m->u.chunk points into @buf (see the top of this file); nothing else
 * does. Does not allocate.
 */
int pm_ctlmsg_decode(struct pm_ctlmsg *m, const void *buf, size_t len);

/*
 * Read the raw header fields of @buf without validating them, for logging
 * a datagram that failed to decode (its type, request id). Returns 0, or
 * -EBADMSG if @len < PM_CTLMSG_HDR_LEN, or -EPROTO on bad magic.
 */
int pm_ctlmsg_peek(const void *buf, size_t len, struct pm_ctlmsg_hdr *h);

/*
 * Iterate the entries of a decoded chunk message. The iterator borrows the
 * buffer @m was decoded from; it must stay unchanged meanwhile.
 * pm_ctlmsg_iter_host() serves STATE_HOSTS and HOST_LIST_PART,
 * pm_ctlmsg_iter_user() USER_LIST_PART, pm_ctlmsg_iter_counter()
 * COUNTERS_PART. Each returns true and fills the entry, or false at the end
 * (or for the wrong message type). No allocation.
 */
struct pm_ctlmsg_iter {
	/* private */
	uint16_t type;
	uint32_t left;
	const uint8_t *p;
	size_t len;
};

void pm_ctlmsg_iter_init(struct pm_ctlmsg_iter *it, const struct pm_ctlmsg *m);
bool pm_ctlmsg_iter_host(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_host *h);
bool pm_ctlmsg_iter_user(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_user *u);
bool pm_ctlmsg_iter_counter(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_counter *k);

/* ---- encoding ------------------------------------------------------------- */

/* Zero @m and set its header fields. Cannot fail. */
void pm_ctlmsg_init(struct pm_ctlmsg *m, uint16_t type, uint64_t request_id,
		    uint64_t generation);

/*
 * Encode @m (any type except the four chunk types) into @buf (@size
 * bytes). Returns the datagram length (<= PM_CTLMSG_MAX), -EINVAL if @m
 * breaks a rule the decoder enforces or is a chunk type, or -ENOSPC if
 * @size is too small. -EINVAL wins over -ENOSPC. On error the contents of
 * @buf are unspecified. Does not allocate.
 */
int pm_ctlmsg_encode(const struct pm_ctlmsg *m, void *buf, size_t size);

/*
 * Build one chunk datagram (STATE_HOSTS, USER_LIST_PART, HOST_LIST_PART or
 * COUNTERS_PART) entry by entry. The writer borrows @buf until
 * pm_ctlmsg_chunk_finish().
 *
 * pm_ctlmsg_chunk_begin(): start a datagram of @type in @buf (@size bytes;
 * at most PM_CTLMSG_MAX of it is used). Returns 0, -EINVAL (not a chunk
 * type, or a request-id / generation rule broken) or -ENOSPC (@size cannot
 * hold the header and the count).
 *
 * pm_ctlmsg_chunk_add_host() (STATE_HOSTS, HOST_LIST_PART),
 * pm_ctlmsg_chunk_add_user() (USER_LIST_PART) and
 * pm_ctlmsg_chunk_add_counter() (COUNTERS_PART): append one entry. Returns 0,
 * -EINVAL (bad entry or wrong writer type; nothing appended) or -ENOSPC
 * (the entry does not fit: finish this datagram, send it, and add the entry
 * to a new one; an empty chunk always has room for any valid entry when
 * @size >= PM_CTLMSG_MAX).
 *
 * pm_ctlmsg_chunk_finish(): write the count and the length; @last sets
 * PM_CTLMSG_F_LAST (list parts only; -EINVAL for STATE_HOSTS). Returns the
 * datagram length.
 */
struct pm_ctlmsg_writer {
	/* private */
	uint8_t *buf;
	size_t size;
	size_t len;
	uint32_t count;
	uint16_t type;
};

int pm_ctlmsg_chunk_begin(struct pm_ctlmsg_writer *w, void *buf, size_t size, uint16_t type,
			  uint64_t request_id, uint64_t generation);
int pm_ctlmsg_chunk_add_host(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_host *h);
int pm_ctlmsg_chunk_add_user(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_user *u);
int pm_ctlmsg_chunk_add_counter(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_counter *k);
int pm_ctlmsg_chunk_finish(struct pm_ctlmsg_writer *w, bool last);

#endif
