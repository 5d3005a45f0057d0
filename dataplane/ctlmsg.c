/*
 * ctlmsg.c -- encode and decode control-channel datagrams.
 *
 * Every body is described once, by an io_<message>() walker that either
 * writes the fields of a struct (encoding) or reads them into it (decoding),
 * with the same bound and consistency checks in both directions. The encoder
 * and the decoder therefore cannot drift apart: whatever one accepts the
 * other accepts too, and a decoded message re-encodes to the same bytes.
 *
 * Errors are sticky inside a walk. While decoding, the first error wins and
 * every later step is skipped (the bytes after a bad field mean nothing).
 * While encoding, the walk goes on after -ENOSPC so that an invalid field
 * still reports -EINVAL, which tells the caller about a bug rather than a
 * small buffer.
 */
#include "ctlmsg.h"

#include <errno.h>
#include <string.h>

/* Header field offsets (docs/control-channel.md, "Header"). */
#define HDR_MAGIC	0
#define HDR_VERSION	4
#define HDR_TYPE	6
#define HDR_FLAGS	8
#define HDR_RESERVED	10
#define HDR_LENGTH	12
#define HDR_REQID	16
#define HDR_GEN		24

/* The largest errno a REPLY status may carry, as Linux's MAX_ERRNO. */
#define STATUS_MIN	(-4095)

/* ---- per-type rules -------------------------------------------------------- */

enum rule {
	R_ANY,		/* any value */
	R_ZERO,		/* must be 0 */
	R_NONZERO,	/* must not be 0 */
};

enum reply_use {
	RP_NONE,	/* never answered by REPLY */
	RP_FAIL,	/* REPLY only with status < 0 (lists) */
	RP_BOTH,	/* REPLY with status 0 or < 0 */
};

struct type_info {
	const char *name;
	uint8_t dir;		/* PM_CTLMSG_TO_* */
	uint8_t reqid;		/* enum rule */
	uint8_t gen;		/* enum rule */
	uint8_t reply;		/* enum reply_use: how REPLY may answer it */
	uint16_t flags;		/* allowed header flags */
};

#define TO_DP	PM_CTLMSG_TO_DP
#define TO_CTL	PM_CTLMSG_TO_CONTROL

/*
 * Request ids: 0 exactly for messages that expect no answer and answer
 * nothing (STATE_BEGIN, STATE_HOSTS); ERROR echoes the offending id or 0.
 * Generations: the control side's state generation (>= 1) on state and
 * host-table changes, 0 on the other requests; the data plane reports its
 * applied generation (0: none) on everything it sends.
 */
static const struct type_info types[] = {
	[PM_CTLMSG_HELLO] = { "HELLO", TO_DP, R_NONZERO, R_ZERO, RP_NONE, 0 },
	[PM_CTLMSG_STATE_BEGIN] = { "STATE_BEGIN", TO_DP, R_ZERO, R_NONZERO, RP_NONE, 0 },
	[PM_CTLMSG_STATE_HOSTS] = { "STATE_HOSTS", TO_DP, R_ZERO, R_NONZERO, RP_NONE, 0 },
	[PM_CTLMSG_STATE_COMMIT] = { "STATE_COMMIT", TO_DP, R_NONZERO, R_NONZERO, RP_BOTH, 0 },
	[PM_CTLMSG_HOST_SET] = { "HOST_SET", TO_DP, R_NONZERO, R_NONZERO, RP_BOTH, 0 },
	[PM_CTLMSG_HOST_UPDOWN] = { "HOST_UPDOWN", TO_DP, R_NONZERO, R_NONZERO, RP_BOTH, 0 },
	[PM_CTLMSG_HOST_REMOVE] = { "HOST_REMOVE", TO_DP, R_NONZERO, R_NONZERO, RP_BOTH, 0 },
	[PM_CTLMSG_HOST_FLUSH] = { "HOST_FLUSH", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_RESET_USERS] = { "RESET_USERS", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_MOVE] = { "USER_MOVE", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_KICK] = { "USER_KICK", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_KICK_ALT] = { "USER_KICK_ALT", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_ASSIGN] = { "USER_ASSIGN", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_LOOKUP] = { "USER_LOOKUP", TO_DP, R_NONZERO, R_ZERO, RP_BOTH, 0 },
	[PM_CTLMSG_USER_LIST] = { "USER_LIST", TO_DP, R_NONZERO, R_ZERO, RP_FAIL, 0 },
	[PM_CTLMSG_HOST_LIST] = { "HOST_LIST", TO_DP, R_NONZERO, R_ZERO, RP_FAIL, 0 },
	[PM_CTLMSG_STATS] = { "STATS", TO_DP, R_NONZERO, R_ZERO, RP_NONE, 0 },
	[PM_CTLMSG_PING] = { "PING", TO_DP, R_NONZERO, R_ZERO, RP_NONE, 0 },
	[PM_CTLMSG_COUNTERS] = { "COUNTERS", TO_DP, R_NONZERO, R_ZERO, RP_FAIL, 0 },

	[PM_CTLMSG_HELLO_ACK] = { "HELLO_ACK", TO_CTL, R_NONZERO, R_ANY, RP_NONE, 0 },
	[PM_CTLMSG_REPLY] = { "REPLY", TO_CTL, R_NONZERO, R_ANY, RP_NONE, 0 },
	[PM_CTLMSG_USER_LIST_PART] = { "USER_LIST_PART", TO_CTL, R_NONZERO, R_ANY, RP_NONE,
				       PM_CTLMSG_F_LAST },
	[PM_CTLMSG_HOST_LIST_PART] = { "HOST_LIST_PART", TO_CTL, R_NONZERO, R_ANY, RP_NONE,
				       PM_CTLMSG_F_LAST },
	[PM_CTLMSG_STATS_REPLY] = { "STATS_REPLY", TO_CTL, R_NONZERO, R_ANY, RP_NONE, 0 },
	[PM_CTLMSG_PONG] = { "PONG", TO_CTL, R_NONZERO, R_ANY, RP_NONE, 0 },
	[PM_CTLMSG_COUNTERS_PART] = { "COUNTERS_PART", TO_CTL, R_NONZERO, R_ANY, RP_NONE,
				      PM_CTLMSG_F_LAST },

	[PM_CTLMSG_ERROR] = { "ERROR", TO_DP | TO_CTL, R_ANY, R_ANY, RP_NONE, 0 },
};

static const struct type_info *
type_info(uint16_t type)
{
	if (type >= sizeof(types) / sizeof(types[0]) || types[type].name == NULL)
		return NULL;
	return &types[type];
}

static bool
is_chunk(uint16_t type)
{
	return type == PM_CTLMSG_STATE_HOSTS || type == PM_CTLMSG_USER_LIST_PART ||
	       type == PM_CTLMSG_HOST_LIST_PART || type == PM_CTLMSG_COUNTERS_PART;
}

static bool
rule_ok(uint8_t rule, uint64_t v)
{
	return rule == R_ANY || (rule == R_ZERO) == (v == 0);
}

/* The header rules of a known type: flags, request id, generation. */
static bool
header_ok(const struct type_info *ti, uint16_t flags, uint64_t reqid, uint64_t gen)
{
	return (flags & ~ti->flags) == 0 && rule_ok(ti->reqid, reqid) && rule_ok(ti->gen, gen);
}

const char *
pm_ctlmsg_type_name(uint16_t type)
{
	const struct type_info *ti = type_info(type);

	return ti != NULL ? ti->name : NULL;
}

unsigned int
pm_ctlmsg_direction(uint16_t type)
{
	const struct type_info *ti = type_info(type);

	return ti != NULL ? ti->dir : 0;
}

const char *
pm_ctlmsg_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EPROTO:
		return "bad magic";
	case -EPROTONOSUPPORT:
		return "unsupported protocol version";
	case -EBADMSG:
		return "truncated or length mismatch";
	case -EMSGSIZE:
		return "datagram too large";
	case -ENOTSUP:
		return "unknown message type";
	case -EINVAL:
		return "field out of range";
	case -ENOSPC:
		return "buffer too small";
	default:
		return "unknown error";
	}
}

/* The counter-name charset: it needs no escaping in the admin protocol's
 * tab-separated lines, in a shell or in a log. */
static bool
counter_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

bool
pm_ctlmsg_counter_name_ok(const char *name)
{
	size_t n = strnlen(name, PM_CTLMSG_COUNTER_NAME_MAX + 1), i;

	if (n == 0 || n > PM_CTLMSG_COUNTER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!counter_char_ok(name[i]))
			return false;
	}
	return true;
}

/* ---- little-endian integers ------------------------------------------------ */

static uint64_t
get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

static void
put_le(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* ---- the symmetric walker -------------------------------------------------- */

struct io {
	bool enc;
	uint8_t *wp;		/* encoding: the output */
	const uint8_t *rp;	/* decoding: the input */
	size_t size;		/* encoding: capacity; decoding: datagram length */
	size_t off;
	int err;
};

static void
io_fail(struct io *io, int err)
{
	/* Decoding: the first error is the cause. Encoding: -EINVAL (a bad
	 * message) beats -ENOSPC (a small buffer). */
	if (io->err == 0 || (io->enc && err == -EINVAL))
		io->err = err;
}

/* Fail with -EINVAL unless @cond. Skipped once decoding has failed: the
 * values it would look at were never read. */
static void
io_check(struct io *io, bool cond)
{
	if (!io->enc && io->err != 0)
		return;
	if (!cond)
		io_fail(io, -EINVAL);
}

static void
io_bytes(struct io *io, void *p, size_t n)
{
	if (io->err != 0)
		return;
	if (n > io->size - io->off) {
		io_fail(io, io->enc ? -ENOSPC : -EBADMSG);
		return;
	}
	if (io->enc)
		memcpy(io->wp + io->off, p, n);
	else
		memcpy(p, io->rp + io->off, n);
	io->off += n;
}

static uint64_t
io_int(struct io *io, uint64_t v, size_t n)
{
	uint8_t b[8];

	if (io->enc)
		put_le(b, v, n);
	else
		memset(b, 0, sizeof(b));
	io_bytes(io, b, n);
	return io->enc ? v : get_le(b, n);
}

static void
io_u8(struct io *io, uint8_t *v)
{
	*v = (uint8_t)io_int(io, *v, 1);
}

static void
io_u16(struct io *io, uint16_t *v)
{
	*v = (uint16_t)io_int(io, *v, 2);
}

static void
io_u32(struct io *io, uint32_t *v)
{
	*v = (uint32_t)io_int(io, *v, 4);
}

static void
io_u64(struct io *io, uint64_t *v)
{
	*v = io_int(io, *v, 8);
}

/* Two's complement on the wire; the conversions are exact on every
 * platform postmux builds on (gcc and clang define them so). */
static void
io_i32(struct io *io, int32_t *v)
{
	*v = (int32_t)(uint32_t)io_int(io, (uint32_t)*v, 4);
}

static void
io_i64(struct io *io, int64_t *v)
{
	*v = (int64_t)io_int(io, (uint64_t)*v, 8);
}

static void
io_char(struct io *io, char *c)
{
	uint8_t v = (uint8_t)*c;

	io_u8(io, &v);
	*c = (char)v;
}

static void
io_bool(struct io *io, bool *b)
{
	uint8_t v = *b ? 1 : 0;

	io_u8(io, &v);
	io_check(io, v <= 1);
	*b = v == 1;
}

/*
 * A string: u16 length, then the bytes, no NUL. @s is a NUL-terminated
 * field of @max + 1 bytes. A NUL inside the bytes is refused, because the
 * director takes C strings and would silently see a shorter name.
 */
static void
io_str(struct io *io, char *s, size_t max)
{
	uint16_t n = 0;

	if (io->enc) {
		size_t len = strnlen(s, max + 1);

		io_check(io, len <= max);
		if (len > max)
			return;
		n = (uint16_t)len;
	}
	io_u16(io, &n);
	if (io->err != 0 && !io->enc)
		return;
	io_check(io, n <= max);
	if (n > max)
		return;
	io_bytes(io, s, n);
	if (io->enc || io->err != 0)
		return;
	s[n] = '\0';
	io_check(io, memchr(s, '\0', n) == NULL);
}

/* Valid families are 4 and 6 (and 0 where "no address" or "all" is meant);
 * the bytes the family does not use must be zero. */
static bool
addr_ok(const struct pm_addr *a, bool allow_none)
{
	size_t used, i;

	switch (a->family) {
	case PM_AF_NONE:
		if (!allow_none)
			return false;
		used = 0;
		break;
	case PM_AF_INET:
		used = 4;
		break;
	case PM_AF_INET6:
		used = 16;
		break;
	default:
		return false;
	}
	for (i = used; i < sizeof(a->bytes); i++) {
		if (a->bytes[i] != 0)
			return false;
	}
	return true;
}

static void
io_addr(struct io *io, struct pm_addr *a, bool allow_none)
{
	io_u8(io, &a->family);
	io_bytes(io, a->bytes, sizeof(a->bytes));
	io_check(io, addr_ok(a, allow_none));
}

/* ---- entries ----------------------------------------------------------------- */

/* STATE_HOSTS (@info false) and HOST_LIST_PART (@info true) entries. */
static void
io_host_entry(struct io *io, struct pm_ctlmsg_host *h, bool info)
{
	io_addr(io, &h->addr, false);
	io_u16(io, &h->vhosts);
	io_bool(io, &h->down);
	io_i64(io, &h->last_updown_s);
	io_check(io, h->last_updown_s >= 0);
	if (info) {
		io_u32(io, &h->user_count);
		io_u16(io, &h->tag_index);
	} else {
		io_check(io, h->user_count == 0 && h->tag_index == 0);
	}
	io_str(io, h->tag, PM_CTLMSG_TAG_MAX);
}

static void
io_user_entry(struct io *io, struct pm_ctlmsg_user *u)
{
	io_u32(io, &u->user_hash);
	io_u32(io, &u->expire_s);
	io_addr(io, &u->addr, false);
	io_u16(io, &u->tag_index);
	io_u8(io, &u->pin_flags);
	io_check(io, (u->pin_flags & ~(PM_CTLMSG_PIN_WEAK | PM_CTLMSG_PIN_MOVING)) == 0);
}

/* A name of the counter charset, then the value. The name's bound is
 * io_str()'s; an empty name or a byte outside the charset is refused here. */
static void
io_counter_entry(struct io *io, struct pm_ctlmsg_counter *k)
{
	io_str(io, k->name, PM_CTLMSG_COUNTER_NAME_MAX);
	io_check(io, pm_ctlmsg_counter_name_ok(k->name));
	io_u64(io, &k->value);
}

/* Scratch space for one entry of any chunk type. */
union entry {
	struct pm_ctlmsg_host h;
	struct pm_ctlmsg_user u;
	struct pm_ctlmsg_counter k;
};

static size_t
entry_min(uint16_t type)
{
	switch (type) {
	case PM_CTLMSG_STATE_HOSTS:
		return PM_CTLMSG_STATE_HOST_MIN;
	case PM_CTLMSG_HOST_LIST_PART:
		return PM_CTLMSG_HOST_INFO_MIN;
	case PM_CTLMSG_COUNTERS_PART:
		return PM_CTLMSG_COUNTER_MIN;
	default:
		return PM_CTLMSG_USER_ENTRY_LEN;
	}
}

/* Walk one entry of a chunk of @type in @e, validating it (decoding: @e is
 * zeroed first). */
static void
io_entry(struct io *io, uint16_t type, union entry *e)
{
	if (!io->enc)
		memset(e, 0, sizeof(*e));
	switch (type) {
	case PM_CTLMSG_USER_LIST_PART:
		io_user_entry(io, &e->u);
		break;
	case PM_CTLMSG_COUNTERS_PART:
		io_counter_entry(io, &e->k);
		break;
	default:
		io_host_entry(io, &e->h, type == PM_CTLMSG_HOST_LIST_PART);
		break;
	}
}

/* Decoding only: the count, then every entry validated; the view is kept. */
static void
io_chunk(struct io *io, uint16_t type, struct pm_ctlmsg_chunk *c)
{
	union entry e;
	uint32_t count = 0, i;
	size_t start;

	io_u32(io, &count);
	if (io->err != 0)
		return;
	/* Refuse an impossible count before walking it. */
	if (count > (io->size - io->off) / entry_min(type)) {
		io_fail(io, -EBADMSG);
		return;
	}
	start = io->off;
	for (i = 0; i < count && io->err == 0; i++)
		io_entry(io, type, &e);
	if (io->err != 0)
		return;
	c->count = count;
	c->entries = io->rp + start;
	c->entries_len = io->off - start;
}

/* ---- bodies ------------------------------------------------------------------ */

static void
io_reply(struct io *io, struct pm_ctlmsg_reply *r)
{
	const struct type_info *rt;

	io_u16(io, &r->req_type);
	io_i32(io, &r->status);
	io_check(io, r->status <= 0 && r->status >= STATUS_MIN);
	rt = type_info(r->req_type);
	io_check(io, rt != NULL && rt->reply != RP_NONE &&
			     (r->status < 0 || rt->reply == RP_BOTH));
	if (io->err == -EINVAL || (!io->enc && io->err != 0))
		return;	/* the layout of the rest depends on what failed */
	if (r->status < 0) {
		io_str(io, r->reason, PM_CTLMSG_REASON_MAX);
		return;
	}
	switch (r->req_type) {
	case PM_CTLMSG_USER_ASSIGN: {
		uint8_t res;
		bool placed;

		io_u8(io, &r->body.user_assign.result);
		io_addr(io, &r->body.user_assign.addr, true);
		io_u32(io, &r->body.user_assign.expire_s);
		res = r->body.user_assign.result;
		placed = res == PM_CTLMSG_ASSIGN_PINNED || res == PM_CTLMSG_ASSIGN_HASHED;
		io_check(io, res <= PM_CTLMSG_ASSIGN_NOHOST);
		/* A placed user has a host; a waiting or unplaceable one has
		 * neither host nor expiry. */
		io_check(io, placed == (r->body.user_assign.addr.family != PM_AF_NONE));
		io_check(io, placed || r->body.user_assign.expire_s == 0);
		break;
	}
	case PM_CTLMSG_USER_LOOKUP:
		io_addr(io, &r->body.user_lookup.cur, true);
		io_u32(io, &r->body.user_lookup.expire_s);
		io_u8(io, &r->body.user_lookup.pin_flags);
		io_addr(io, &r->body.user_lookup.hashed, true);
		io_check(io, (r->body.user_lookup.pin_flags &
			      ~(PM_CTLMSG_PIN_WEAK | PM_CTLMSG_PIN_MOVING)) == 0);
		io_check(io, r->body.user_lookup.cur.family != PM_AF_NONE ||
				     (r->body.user_lookup.expire_s == 0 &&
				      r->body.user_lookup.pin_flags == 0));
		break;
	case PM_CTLMSG_HOST_FLUSH:
		io_u64(io, &r->body.host_flush.forgotten);
		break;
	default:
		break;	/* no success body */
	}
}

static void
io_body(struct io *io, struct pm_ctlmsg *m)
{
	switch (m->type) {
	case PM_CTLMSG_HELLO: {
		struct pm_ctlmsg_hello *h = &m->u.hello;

		io_u32(io, &h->pid);
		io_u16(io, &h->proto_min);
		io_u16(io, &h->proto_max);
		io_bytes(io, h->boot_id, sizeof(h->boot_id));
		io_check(io, h->proto_min >= 1 && h->proto_min <= h->proto_max);
		break;
	}
	case PM_CTLMSG_HELLO_ACK: {
		struct pm_ctlmsg_hello_ack *h = &m->u.hello_ack;

		io_u32(io, &h->pid);
		io_u16(io, &h->version);
		io_bool(io, &h->has_pins);
		io_bytes(io, h->boot_id, sizeof(h->boot_id));
		io_check(io, h->version >= 1);
		break;
	}
	case PM_CTLMSG_STATE_BEGIN: {
		struct pm_ctlmsg_state_begin *s = &m->u.state_begin;

		io_u32(io, &s->user_expire_s);
		io_u32(io, &s->kick_delay_ms);
		io_u32(io, &s->max_parallel_moves);
		io_u32(io, &s->max_parallel_kicks);
		io_u32(io, &s->nhosts);
		io_char(io, &s->master_sep);
		io_str(io, s->hash_template, PM_CTLMSG_TEMPLATE_MAX);
		break;
	}
	case PM_CTLMSG_STATE_HOSTS:
	case PM_CTLMSG_USER_LIST_PART:
	case PM_CTLMSG_HOST_LIST_PART:
	case PM_CTLMSG_COUNTERS_PART:
		io_chunk(io, m->type, &m->u.chunk);
		break;
	case PM_CTLMSG_HOST_SET:
		io_addr(io, &m->u.host_set.addr, false);
		io_u16(io, &m->u.host_set.vhosts);
		io_bool(io, &m->u.host_set.create);
		io_str(io, m->u.host_set.tag, PM_CTLMSG_TAG_MAX);
		break;
	case PM_CTLMSG_HOST_UPDOWN:
		io_addr(io, &m->u.host_updown.addr, false);
		io_bool(io, &m->u.host_updown.down);
		break;
	case PM_CTLMSG_HOST_REMOVE:
		io_addr(io, &m->u.host_remove.addr, false);
		break;
	case PM_CTLMSG_HOST_FLUSH:
		io_addr(io, &m->u.host_flush.addr, true);
		break;
	case PM_CTLMSG_RESET_USERS:
		io_addr(io, &m->u.reset_users.addr, true);
		io_u32(io, &m->u.reset_users.max_parallel);
		break;
	case PM_CTLMSG_USER_MOVE:
		io_u32(io, &m->u.user_move.user_hash);
		io_addr(io, &m->u.user_move.addr, false);
		break;
	case PM_CTLMSG_USER_KICK:
		io_str(io, m->u.user_kick.user, PM_CTLMSG_USER_MAX);
		break;
	case PM_CTLMSG_USER_KICK_ALT:
		io_str(io, m->u.user_kick_alt.field, PM_CTLMSG_FIELD_MAX);
		io_str(io, m->u.user_kick_alt.value, PM_CTLMSG_FIELD_MAX);
		break;
	case PM_CTLMSG_USER_ASSIGN:
		io_str(io, m->u.user_assign.user, PM_CTLMSG_USER_MAX);
		io_str(io, m->u.user_assign.tag, PM_CTLMSG_TAG_MAX);
		break;
	case PM_CTLMSG_USER_LOOKUP:
		io_u32(io, &m->u.user_lookup.user_hash);
		io_str(io, m->u.user_lookup.tag, PM_CTLMSG_TAG_MAX);
		break;
	case PM_CTLMSG_USER_LIST:
		io_addr(io, &m->u.user_list.addr, true);
		break;
	case PM_CTLMSG_REPLY:
		io_reply(io, &m->u.reply);
		break;
	case PM_CTLMSG_STATS_REPLY: {
		struct pm_ctlmsg_stats *s = &m->u.stats;

		io_u64(io, &s->pins);
		io_u64(io, &s->moving);
		io_u64(io, &s->jobs);
		io_u64(io, &s->rings_published);
		io_u64(io, &s->pins_expired);
		io_u64(io, &s->moves_started);
		io_u64(io, &s->kicks);
		io_u64(io, &s->pin_buckets);
		break;
	}
	case PM_CTLMSG_ERROR:
		io_u16(io, &m->u.error.code);
		io_str(io, m->u.error.reason, PM_CTLMSG_REASON_MAX);
		break;
	default:
		/* STATE_COMMIT, HOST_LIST, STATS, PING, PONG, COUNTERS: header only. */
		break;
	}
}

/* ---- decoding ---------------------------------------------------------------- */

int
pm_ctlmsg_peek(const void *buf, size_t len, struct pm_ctlmsg_hdr *h)
{
	const uint8_t *p = buf;

	memset(h, 0, sizeof(*h));
	if (len < PM_CTLMSG_HDR_LEN)
		return -EBADMSG;
	if (get_le(p + HDR_MAGIC, 4) != PM_CTLMSG_MAGIC)
		return -EPROTO;
	h->version = (uint16_t)get_le(p + HDR_VERSION, 2);
	h->type = (uint16_t)get_le(p + HDR_TYPE, 2);
	h->flags = (uint16_t)get_le(p + HDR_FLAGS, 2);
	h->length = (uint32_t)get_le(p + HDR_LENGTH, 4);
	h->request_id = get_le(p + HDR_REQID, 8);
	h->generation = get_le(p + HDR_GEN, 8);
	return 0;
}

static int
decode(struct pm_ctlmsg *m, const uint8_t *p, size_t len)
{
	const struct type_info *ti;
	struct io io = { .enc = false, .rp = p, .size = len, .off = PM_CTLMSG_HDR_LEN };

	/* Magic and version sit at fixed offsets in every protocol version, so
	 * they are judged on whatever prefix arrived. */
	if (len < HDR_VERSION)
		return -EBADMSG;
	if (get_le(p + HDR_MAGIC, 4) != PM_CTLMSG_MAGIC)
		return -EPROTO;
	if (len < HDR_VERSION + 2)
		return -EBADMSG;
	if (get_le(p + HDR_VERSION, 2) != PM_CTLMSG_VERSION)
		return -EPROTONOSUPPORT;
	if (len < PM_CTLMSG_HDR_LEN)
		return -EBADMSG;
	if (len > PM_CTLMSG_MAX)
		return -EMSGSIZE;
	if (get_le(p + HDR_LENGTH, 4) != len)
		return -EBADMSG;
	m->type = (uint16_t)get_le(p + HDR_TYPE, 2);
	ti = type_info(m->type);
	if (ti == NULL)
		return -ENOTSUP;
	m->flags = (uint16_t)get_le(p + HDR_FLAGS, 2);
	m->request_id = get_le(p + HDR_REQID, 8);
	m->generation = get_le(p + HDR_GEN, 8);
	if (get_le(p + HDR_RESERVED, 2) != 0 ||
	    !header_ok(ti, m->flags, m->request_id, m->generation))
		return -EINVAL;
	io_body(&io, m);
	if (io.err != 0)
		return io.err;
	if (io.off != len)
		return -EBADMSG;	/* trailing bytes */
	return 0;
}

int
pm_ctlmsg_decode(struct pm_ctlmsg *m, const void *buf, size_t len)
{
	int rc;

	memset(m, 0, sizeof(*m));
	rc = decode(m, buf, len);
	if (rc != 0)
		memset(m, 0, sizeof(*m));
	return rc;
}

void
pm_ctlmsg_iter_init(struct pm_ctlmsg_iter *it, const struct pm_ctlmsg *m)
{
	memset(it, 0, sizeof(*it));
	if (!is_chunk(m->type))
		return;
	it->type = m->type;
	it->left = m->u.chunk.count;
	it->p = m->u.chunk.entries;
	it->len = m->u.chunk.entries_len;
}

/* The entries were validated by the decoder; the same walker reads them
 * again, so a damaged view ends the iteration instead of overrunning. */
static bool
iter_next(struct pm_ctlmsg_iter *it, union entry *e)
{
	struct io io = { .enc = false, .rp = it->p, .size = it->len, .off = 0 };

	if (it->left == 0)
		return false;
	io_entry(&io, it->type, e);
	if (io.err != 0) {
		it->left = 0;
		return false;
	}
	it->p += io.off;
	it->len -= io.off;
	it->left--;
	return true;
}

bool
pm_ctlmsg_iter_host(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_host *h)
{
	union entry e;

	if (it->type != PM_CTLMSG_STATE_HOSTS && it->type != PM_CTLMSG_HOST_LIST_PART)
		return false;
	if (!iter_next(it, &e))
		return false;
	*h = e.h;
	return true;
}

bool
pm_ctlmsg_iter_user(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_user *u)
{
	union entry e;

	if (it->type != PM_CTLMSG_USER_LIST_PART)
		return false;
	if (!iter_next(it, &e))
		return false;
	*u = e.u;
	return true;
}

bool
pm_ctlmsg_iter_counter(struct pm_ctlmsg_iter *it, struct pm_ctlmsg_counter *k)
{
	union entry e;

	if (it->type != PM_CTLMSG_COUNTERS_PART)
		return false;
	if (!iter_next(it, &e))
		return false;
	*k = e.k;
	return true;
}

/* ---- encoding ---------------------------------------------------------------- */

void
pm_ctlmsg_init(struct pm_ctlmsg *m, uint16_t type, uint64_t request_id, uint64_t generation)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->request_id = request_id;
	m->generation = generation;
}

/* Write a header with length 0 at the start of @p (PM_CTLMSG_HDR_LEN bytes). */
static void
put_header(uint8_t *p, uint16_t type, uint16_t flags, uint64_t reqid, uint64_t gen)
{
	put_le(p + HDR_MAGIC, PM_CTLMSG_MAGIC, 4);
	put_le(p + HDR_VERSION, PM_CTLMSG_VERSION, 2);
	put_le(p + HDR_TYPE, type, 2);
	put_le(p + HDR_FLAGS, flags, 2);
	put_le(p + HDR_RESERVED, 0, 2);
	put_le(p + HDR_LENGTH, 0, 4);
	put_le(p + HDR_REQID, reqid, 8);
	put_le(p + HDR_GEN, gen, 8);
}

static size_t
cap(size_t size)
{
	return size < PM_CTLMSG_MAX ? size : PM_CTLMSG_MAX;
}

int
pm_ctlmsg_encode(const struct pm_ctlmsg *m, void *buf, size_t size)
{
	const struct type_info *ti = type_info(m->type);
	struct io io = { .enc = true, .wp = buf, .size = cap(size), .off = PM_CTLMSG_HDR_LEN };
	struct pm_ctlmsg copy;

	if (ti == NULL || is_chunk(m->type) ||
	    !header_ok(ti, m->flags, m->request_id, m->generation))
		return -EINVAL;
	/* The walker takes non-const pointers because it also decodes; give
	 * it a copy rather than casting the caller's const away. */
	copy = *m;
	if (io.size < PM_CTLMSG_HDR_LEN)
		io_fail(&io, -ENOSPC);
	io_body(&io, &copy);
	if (io.err != 0)
		return io.err;
	put_header(buf, m->type, m->flags, m->request_id, m->generation);
	put_le((uint8_t *)buf + HDR_LENGTH, io.off, 4);
	return (int)io.off;
}

int
pm_ctlmsg_chunk_begin(struct pm_ctlmsg_writer *w, void *buf, size_t size, uint16_t type,
		      uint64_t request_id, uint64_t generation)
{
	const struct type_info *ti = type_info(type);

	memset(w, 0, sizeof(*w));
	if (ti == NULL || !is_chunk(type) || !header_ok(ti, 0, request_id, generation))
		return -EINVAL;
	if (cap(size) < PM_CTLMSG_HDR_LEN + 4)
		return -ENOSPC;
	w->buf = buf;
	w->size = cap(size);
	w->type = type;
	put_header(w->buf, type, 0, request_id, generation);
	put_le(w->buf + PM_CTLMSG_HDR_LEN, 0, 4);
	w->len = PM_CTLMSG_HDR_LEN + 4;
	return 0;
}

/* Append one entry, or nothing: w->len advances only on success. */
static int
writer_add(struct pm_ctlmsg_writer *w, union entry *e)
{
	struct io io = { .enc = true, .wp = w->buf, .size = w->size, .off = w->len };

	io_entry(&io, w->type, e);
	if (io.err != 0)
		return io.err;
	w->len = io.off;
	w->count++;
	return 0;
}

/* The walker takes non-const pointers because it also decodes: each adder
 * gives it a copy rather than casting the caller's const away. */
int
pm_ctlmsg_chunk_add_host(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_host *h)
{
	union entry e;

	if (w->type != PM_CTLMSG_STATE_HOSTS && w->type != PM_CTLMSG_HOST_LIST_PART)
		return -EINVAL;
	e.h = *h;
	return writer_add(w, &e);
}

int
pm_ctlmsg_chunk_add_user(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_user *u)
{
	union entry e;

	if (w->type != PM_CTLMSG_USER_LIST_PART)
		return -EINVAL;
	e.u = *u;
	return writer_add(w, &e);
}

int
pm_ctlmsg_chunk_add_counter(struct pm_ctlmsg_writer *w, const struct pm_ctlmsg_counter *k)
{
	union entry e;

	if (w->type != PM_CTLMSG_COUNTERS_PART)
		return -EINVAL;
	e.k = *k;
	return writer_add(w, &e);
}

int
pm_ctlmsg_chunk_finish(struct pm_ctlmsg_writer *w, bool last)
{
	if (w->buf == NULL || (last && w->type == PM_CTLMSG_STATE_HOSTS))
		return -EINVAL;
	put_le(w->buf + HDR_FLAGS, last ? PM_CTLMSG_F_LAST : 0, 2);
	put_le(w->buf + HDR_LENGTH, w->len, 4);
	put_le(w->buf + PM_CTLMSG_HDR_LEN, w->count, 4);
	return (int)w->len;
}
