/*
 * impair.c -- a packet impairment relay for the netns lab (DESIGN.md "Test
 * lab"): this kernel has no netem, so reordering, duplication and delay come
 * from this program, run in a relay namespace between two veths
 * (scripts/netns-lab up --impair).
 *
 * usage: impair --a IFACE --b IFACE [--drop PCT] [--dup PCT] [--reorder PCT]
 *               [--delay-ms N] [--hold-ms N] [--seed N] [--queue-bytes N]
 *               [--stats-file F]
 *
 * Every frame read on A is sent on B and every frame read on B is sent on A,
 * through one AF_PACKET socket per interface. Per frame and per direction,
 * three independent draws decide, in this order:
 * - drop (probability --drop %): the frame is not sent;
 * - duplicate (--dup %): the frame is sent twice, back to back;
 * - reorder (--reorder %): the frame is held back and sent right after the
 *   next frame of the same direction that is sent, or when --hold-ms (default
 *   --delay-ms, or 10 ms when that is 0) has passed without one. Only one
 *   frame per direction is held: a reorder decision for a frame that arrives
 *   while another is held is void (that frame overtakes the held one). A
 *   dropped frame does not release the held one.
 * --delay-ms delays every frame by a fixed time first (the order of the
 * direction is kept; the reorder stage works on the delayed stream).
 *
 * The draws come from one splitmix64 stream per direction, seeded from
 * --seed (printed at start; drawn from getrandom() when not given), and all
 * three are made for every frame read, so the same seed and the same frames
 * in the same order give the same decisions in that direction, whatever the
 * other direction does.
 *
 * Frames this relay sends are never read back: the sockets set
 * PACKET_IGNORE_OUTGOING and, in case the kernel lacks it, frames of type
 * PACKET_OUTGOING are skipped. Frames up to 65535 bytes are relayed; longer
 * ones are counted as truncated and not sent. VLAN tags that the interface
 * strips into packet metadata are not put back (the lab uses none).
 *
 * Memory: one queue of --queue-bytes (default 16 MiB) per direction, a hold
 * slot of 64 KiB per direction and one receive buffer, all allocated at
 * start; a frame that does not fit in the queue is counted as overflow and
 * not sent. Nothing is allocated per frame.
 *
 * Counters per direction (a_to_b, b_to_a): in (frames read), out (frames
 * sent, both copies of a duplicate count), dropped, duplicated, reordered
 * (held frames that a later frame overtook), reorder_timeouts (held frames
 * sent because the hold time passed), overflow, truncated, send_errors,
 * kernel_drops (the socket's PACKET_STATISTICS drops: frames the kernel
 * could not queue for us), pending (queued or held at the time of the
 * report). Without kernel drops, overflow, truncation and send errors:
 *   out = in - dropped + duplicated - pending.
 * SIGTERM or SIGINT writes them as JSON to stderr and to --stats-file
 * (written to F.tmp, then renamed) and exits 0; SIGUSR1 writes them and goes
 * on.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 a runtime error (no such interface,
 * no permission, the interface vanished), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define IMP_FRAME_MAX 65535u
#define IMP_BUF_SIZE (IMP_FRAME_MAX + 1)	/* one more: a longer frame shows */
#define IMP_BATCH 64			/* frames read per socket per round */
#define IMP_QUEUE_DEFAULT (16u << 20)
#define IMP_HOLD_DEFAULT_MS 10u
#define IMP_RCVBUF (8 << 20)
#define IMP_WRAP UINT32_MAX		/* record length: continue at offset 0 */

/* A frame in a direction's queue: this header, then the frame, padded to 8. */
struct imp_rec {
	uint64_t due_ns;	/* CLOCK_MONOTONIC time to leave the delay stage */
	uint32_t len;		/* frame bytes, or IMP_WRAP */
	uint8_t dup;		/* send twice */
	uint8_t reorder;	/* hold back behind the next frame */
	uint8_t pad[2];
};

#define IMP_STATS(X)		\
	X(in)			\
	X(out)			\
	X(dropped)		\
	X(duplicated)		\
	X(reordered)		\
	X(reorder_timeouts)	\
	X(overflow)		\
	X(truncated)		\
	X(send_errors)		\
	X(kernel_drops)

struct imp_stats {
#define X(name) uint64_t name;
	IMP_STATS(X)
#undef X
};

/* One direction: frames read on in_fd are sent on out_fd. */
struct imp_dir {
	const char *name;
	int in_fd;
	int out_fd;
	uint64_t rng;		/* splitmix64 state */
	struct imp_stats st;
	int last_send_errno;

	/* The delay queue: a ring of variable-size records in ring[0, cap). */
	uint8_t *ring;
	size_t cap;
	size_t head;		/* the oldest record (or a wrap marker) */
	size_t tail;		/* where the next record goes */
	size_t nrec;

	/* The hold slot of the reorder stage. */
	uint8_t *held;
	uint32_t held_len;
	bool held_valid;
	bool held_dup;
	uint64_t held_deadline_ns;
};

struct imp_opts {
	const char *a;
	const char *b;
	double drop, dup, reorder;
	uint64_t drop_thr, dup_thr, reorder_thr;	/* out of 2^53 */
	unsigned int delay_ms;
	unsigned int hold_ms;
	bool hold_set;
	uint64_t seed;
	bool seed_set;
	size_t queue_bytes;
	const char *stats_file;
};

static volatile sig_atomic_t quit_sig;
static volatile sig_atomic_t dump_req;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_req = 1;
	else
		quit_sig = sig;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit output per call. */
static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* True with probability thr / 2^53. */
static bool
draw(struct imp_dir *d, uint64_t thr)
{
	return (splitmix64(&d->rng) >> 11) < thr;
}

static size_t
rec_size(uint32_t len)
{
	return (sizeof(struct imp_rec) + len + 7) & ~(size_t)7;
}

/* The oldest record, or NULL if the queue is empty. Skips a wrap marker. */
static struct imp_rec *
queue_peek(struct imp_dir *d)
{
	struct imp_rec *r;

	if (d->nrec == 0)
		return NULL;
	if (d->cap - d->head < sizeof(*r) ||
	    ((struct imp_rec *)(d->ring + d->head))->len == IMP_WRAP)
		d->head = 0;
	r = (struct imp_rec *)(d->ring + d->head);
	return r;
}

static void
queue_pop(struct imp_dir *d)
{
	struct imp_rec *r = queue_peek(d);

	d->head += rec_size(r->len);
	if (--d->nrec == 0)
		d->head = d->tail = 0;
}

/*
 * Append a frame; returns false if the queue has no room. The free space is
 * [tail, cap) plus [0, head) while the records do not wrap, [tail, head)
 * once they do (then tail == head means full).
 */
static bool
queue_push(struct imp_dir *d, const uint8_t *frame, uint32_t len, uint64_t due, bool dup,
	   bool reorder)
{
	size_t need = rec_size(len), pos;
	struct imp_rec *r;

	if (d->nrec == 0) {
		pos = 0;
		if (need > d->cap)
			return false;
	} else if (d->tail > d->head) {
		if (d->cap - d->tail >= need) {
			pos = d->tail;
		} else if (d->head >= need) {
			if (d->cap - d->tail >= sizeof(*r))
				((struct imp_rec *)(d->ring + d->tail))->len = IMP_WRAP;
			pos = 0;
		} else {
			return false;
		}
	} else {
		if (d->head - d->tail < need)
			return false;
		pos = d->tail;
	}
	r = (struct imp_rec *)(d->ring + pos);
	r->due_ns = due;
	r->len = len;
	r->dup = dup;
	r->reorder = reorder;
	memcpy(r + 1, frame, len);
	d->tail = pos + need;
	d->nrec++;
	return true;
}

/* Send one frame, twice if @dup; counts what went out. */
static void
send_frame(struct imp_dir *d, const uint8_t *frame, uint32_t len, bool dup)
{
	int copies = dup ? 2 : 1, i;

	for (i = 0; i < copies; i++) {
		if (send(d->out_fd, frame, len, 0) == (ssize_t)len) {
			d->st.out++;
			if (i == 1)
				d->st.duplicated++;
		} else {
			d->st.send_errors++;
			d->last_send_errno = errno;
		}
	}
}

static void
release_held(struct imp_dir *d)
{
	send_frame(d, d->held, d->held_len, d->held_dup);
	d->held_valid = false;
}

/* The reorder stage for a frame leaving the delay stage at @now. */
static void
emit(struct imp_dir *d, const struct imp_rec *r, uint64_t now, uint64_t hold_ns)
{
	const uint8_t *frame = (const uint8_t *)(r + 1);

	if (r->reorder && !d->held_valid) {
		memcpy(d->held, frame, r->len);
		d->held_len = r->len;
		d->held_dup = r->dup;
		d->held_valid = true;
		d->held_deadline_ns = now + hold_ns;
		return;
	}
	send_frame(d, frame, r->len, r->dup);
	if (d->held_valid) {
		release_held(d);
		d->st.reordered++;
	}
}

/* Move every frame whose delay has passed through the reorder stage. */
static void
pump(struct imp_dir *d, uint64_t now, uint64_t hold_ns)
{
	struct imp_rec *r;

	while ((r = queue_peek(d)) != NULL && r->due_ns <= now) {
		emit(d, r, now, hold_ns);
		queue_pop(d);
	}
	if (d->held_valid && now >= d->held_deadline_ns) {
		release_held(d);
		d->st.reorder_timeouts++;
	}
}

/* The earliest time pump() has work for @d, or UINT64_MAX. */
static uint64_t
next_event(struct imp_dir *d)
{
	uint64_t t = UINT64_MAX;
	struct imp_rec *r = queue_peek(d);

	if (r != NULL)
		t = r->due_ns;
	if (d->held_valid && d->held_deadline_ns < t)
		t = d->held_deadline_ns;
	return t;
}

/*
 * Read up to IMP_BATCH frames from @d's input socket into the delay queue.
 * Returns 0, or -1 after printing why the relay cannot go on.
 */
static int
read_batch(struct imp_dir *d, const struct imp_opts *o, uint8_t *buf, const char *ifname)
{
	struct sockaddr_ll sll;
	socklen_t slen;
	ssize_t n;
	int i;

	for (i = 0; i < IMP_BATCH; i++) {
		bool drop, dup, reorder;

		slen = sizeof(sll);
		n = recvfrom(d->in_fd, buf, IMP_BUF_SIZE, MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&sll, &slen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ENETDOWN) {
				/* The link went down; the socket stays bound and
				 * reads again once it is up, unless it is gone. */
				if (if_nametoindex(ifname) == 0) {
					fprintf(stderr, "impair: interface %s is gone\n", ifname);
					return -1;
				}
				return 0;
			}
			fprintf(stderr, "impair: reading %s: %s\n", ifname, strerror(errno));
			return -1;
		}
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		d->st.in++;
		/* All three draws for every frame: decisions depend only on
		 * the seed and on the frame's position in this direction. */
		drop = draw(d, o->drop_thr);
		dup = draw(d, o->dup_thr);
		reorder = draw(d, o->reorder_thr);
		if ((size_t)n > IMP_FRAME_MAX) {
			d->st.truncated++;
			continue;
		}
		if (drop) {
			d->st.dropped++;
			continue;
		}
		if (!queue_push(d, buf, (uint32_t)n, now_ns() + (uint64_t)o->delay_ms * 1000000u,
				dup, reorder))
			d->st.overflow++;
	}
	return 0;
}

/* Add the kernel's drop count for @fd (PACKET_STATISTICS resets it). */
static void
collect_kernel_drops(struct imp_dir *d)
{
	struct tpacket_stats ts;
	socklen_t len = sizeof(ts);

	if (getsockopt(d->in_fd, SOL_PACKET, PACKET_STATISTICS, &ts, &len) == 0)
		d->st.kernel_drops += ts.tp_drops;
}

static void
print_dir(FILE *f, struct imp_dir *d)
{
	const char *sep = "";

	fprintf(f, "\"%s\": {", d->name);
#define X(name)							\
	do {							\
		fprintf(f, "%s\"" #name "\": %" PRIu64, sep, d->st.name);	\
		sep = ", ";					\
	} while (0);
	IMP_STATS(X)
#undef X
	fprintf(f, ", \"pending\": %zu", d->nrec + (d->held_valid ? 1u : 0u));
	if (d->st.send_errors > 0)
		fprintf(f, ", \"last_send_error\": \"%s\"", strerror(d->last_send_errno));
	fprintf(f, "}");
}

static void
print_stats(FILE *f, const struct imp_opts *o, struct imp_dir dirs[2])
{
	fprintf(f, "{\"seed\": %" PRIu64 ", \"a\": \"%s\", \"b\": \"%s\", \"drop\": %g, "
		"\"dup\": %g, \"reorder\": %g, \"delay_ms\": %u, \"hold_ms\": %u, ",
		o->seed, o->a, o->b, o->drop, o->dup, o->reorder, o->delay_ms, o->hold_ms);
	print_dir(f, &dirs[0]);
	fprintf(f, ", ");
	print_dir(f, &dirs[1]);
	fprintf(f, "}\n");
}

/* Write the counters to stderr and to the stats file; returns 0 or -1. */
static int
write_stats(const struct imp_opts *o, struct imp_dir dirs[2])
{
	char tmp[PATH_MAX];
	FILE *f;
	int ok;

	collect_kernel_drops(&dirs[0]);
	collect_kernel_drops(&dirs[1]);
	fprintf(stderr, "impair: stats ");
	print_stats(stderr, o, dirs);
	if (o->stats_file == NULL)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", o->stats_file) >= (int)sizeof(tmp)) {
		fprintf(stderr, "impair: stats file name too long\n");
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "impair: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	print_stats(f, o, dirs);
	ok = fflush(f) == 0 && ferror(f) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, o->stats_file) < 0) {
		fprintf(stderr, "impair: writing %s: %s\n", o->stats_file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* An AF_PACKET socket that reads every frame of @ifname and sends there. */
static int
open_iface(const char *ifname)
{
	struct sockaddr_ll sll;
	unsigned int idx;
	int fd, one = 1, rcvbuf = IMP_RCVBUF;

	idx = if_nametoindex(ifname);
	if (idx == 0) {
		fprintf(stderr, "impair: no interface '%s' in this network namespace\n", ifname);
		return -1;
	}
	/* Protocol 0 until bind(): the socket sees no frame of any other
	 * interface in between. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == EPERM || errno == EACCES)
			fprintf(stderr, "impair: cannot open an AF_PACKET socket: %s "
				"(needs root or CAP_NET_RAW)\n", strerror(errno));
		else
			fprintf(stderr, "impair: cannot open an AF_PACKET socket: %s\n",
				strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 &&
	    errno != ENOPROTOOPT && errno != EINVAL)
		fprintf(stderr, "impair: PACKET_IGNORE_OUTGOING on %s: %s\n", ifname,
			strerror(errno));
	/* A large receive buffer: bursts wait in the kernel, not on the
	 * floor (what is lost anyway shows as kernel_drops). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "impair: binding to %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: impair --a IFACE --b IFACE [--drop PCT] [--dup PCT] [--reorder PCT]\n"
		"              [--delay-ms N] [--hold-ms N] [--seed N] [--queue-bytes N]\n"
		"              [--stats-file F]\n");
}

/* A percentage 0..100 (a decimal fraction is fine); false if malformed. */
static bool
parse_pct(const char *s, double *pct, uint64_t *thr)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 100.0))
		return false;
	*pct = v;
	*thr = (uint64_t)(v / 100.0 * 9007199254740992.0);	/* 2^53 */
	return true;
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* Fill @o from the command line; returns 0, or 2 after printing why. */
static int
parse_args(int argc, char **argv, struct imp_opts *o)
{
	static const struct option longopts[] = {
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ "drop", required_argument, NULL, 'd' },
		{ "dup", required_argument, NULL, 'u' },
		{ "reorder", required_argument, NULL, 'r' },
		{ "delay-ms", required_argument, NULL, 'D' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "seed", required_argument, NULL, 's' },
		{ "queue-bytes", required_argument, NULL, 'q' },
		{ "stats-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	bool ok;
	int c;

	memset(o, 0, sizeof(*o));
	o->queue_bytes = IMP_QUEUE_DEFAULT;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ok = true;
		switch (c) {
		case 'a':
			o->a = optarg;
			break;
		case 'b':
			o->b = optarg;
			break;
		case 'd':
			ok = parse_pct(optarg, &o->drop, &o->drop_thr);
			break;
		case 'u':
			ok = parse_pct(optarg, &o->dup, &o->dup_thr);
			break;
		case 'r':
			ok = parse_pct(optarg, &o->reorder, &o->reorder_thr);
			break;
		case 'D':
		case 'H':
			if (!parse_u64(optarg, 60000, &v)) {
				fprintf(stderr, "impair: %s: milliseconds 0..60000 are expected\n",
					optarg);
				return 2;
			}
			if (c == 'D') {
				o->delay_ms = (unsigned int)v;
			} else {
				o->hold_ms = (unsigned int)v;
				o->hold_set = true;
			}
			break;
		case 's':
			if (!parse_u64(optarg, UINT64_MAX, &o->seed)) {
				fprintf(stderr, "impair: %s: the seed is a decimal number\n",
					optarg);
				return 2;
			}
			o->seed_set = true;
			break;
		case 'q':
			if (!parse_u64(optarg, (uint64_t)1 << 32, &v) ||
			    v < 2 * rec_size(IMP_FRAME_MAX)) {
				fprintf(stderr, "impair: --queue-bytes must be %zu..%" PRIu64 "\n",
					2 * rec_size(IMP_FRAME_MAX), (uint64_t)1 << 32);
				return 2;
			}
			o->queue_bytes = (size_t)v;
			break;
		case 'f':
			o->stats_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "impair: %s: a percentage 0..100 is expected\n", optarg);
			return 2;
		}
	}
	if (optind != argc || o->a == NULL || o->b == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(o->a, o->b) == 0) {
		fprintf(stderr, "impair: --a and --b name the same interface\n");
		return 2;
	}
	if (!o->hold_set)
		o->hold_ms = o->delay_ms > 0 ? o->delay_ms : IMP_HOLD_DEFAULT_MS;
	if (!o->seed_set && getrandom(&o->seed, sizeof(o->seed), 0) != sizeof(o->seed))
		o->seed = now_ns();
	return 0;
}

static int
setup_dir(struct imp_dir *d, const char *name, int in_fd, int out_fd, uint64_t seed,
	  unsigned int index, size_t cap)
{
	uint64_t s = seed ^ (0x6a09e667f3bcc909u * (index + 1));

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->in_fd = in_fd;
	d->out_fd = out_fd;
	d->rng = splitmix64(&s);
	d->cap = cap;
	d->ring = malloc(cap);
	d->held = malloc(IMP_BUF_SIZE);
	if (d->ring == NULL || d->held == NULL) {
		fprintf(stderr, "impair: out of memory for the %zu-byte queues\n", cap);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct imp_opts o;
	struct imp_dir dirs[2];
	struct sigaction sa;
	struct pollfd pfd[2];
	sigset_t block, during;
	uint8_t *buf;
	uint64_t hold_ns;
	int fa, fb, rc, i;

	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc;
	fa = open_iface(o.a);
	if (fa < 0)
		return 1;
	fb = open_iface(o.b);
	if (fb < 0)
		return 1;
	buf = malloc(IMP_BUF_SIZE);
	if (buf == NULL ||
	    setup_dir(&dirs[0], "a_to_b", fa, fb, o.seed, 0, o.queue_bytes) < 0 ||
	    setup_dir(&dirs[1], "b_to_a", fb, fa, o.seed, 1, o.queue_bytes) < 0)
		return 1;
	hold_ns = (uint64_t)o.hold_ms * 1000000u;

	/* The signals are blocked except inside ppoll(): one that comes while
	 * a batch is handled is seen at the next ppoll(), never lost. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGTERM);
	sigdelset(&during, SIGINT);
	sigdelset(&during, SIGUSR1);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	fprintf(stderr, "impair: seed %" PRIu64 "\n", o.seed);
	fprintf(stderr, "impair: relaying %s <-> %s: drop %g%% dup %g%% reorder %g%% delay %u ms "
		"hold %u ms\n", o.a, o.b, o.drop, o.dup, o.reorder, o.delay_ms, o.hold_ms);

	pfd[0].fd = fa;
	pfd[1].fd = fb;
	pfd[0].events = pfd[1].events = POLLIN;
	rc = 0;
	while (!quit_sig) {
		uint64_t now = now_ns(), next = UINT64_MAX, t;
		struct timespec ts, *tsp = NULL;
		int n;

		for (i = 0; i < 2; i++) {
			t = next_event(&dirs[i]);
			if (t < next)
				next = t;
		}
		if (next != UINT64_MAX) {
			t = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(t / 1000000000u);
			ts.tv_nsec = (long)(t % 1000000000u);
			tsp = &ts;
		}
		n = ppoll(pfd, 2, tsp, &during);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "impair: ppoll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (i = 0; n > 0 && i < 2; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (read_batch(&dirs[i], &o, buf, i == 0 ? o.a : o.b) < 0) {
				rc = 1;
				quit_sig = -1;
				break;
			}
		}
		now = now_ns();
		for (i = 0; i < 2; i++)
			pump(&dirs[i], now, hold_ns);
		if (dump_req) {
			dump_req = 0;
			(void)write_stats(&o, dirs);
		}
	}
	if (write_stats(&o, dirs) < 0)
		rc = 1;
	for (i = 0; i < 2; i++) {
		free(dirs[i].ring);
		free(dirs[i].held);
	}
	free(buf);
	close(fa);
	close(fb);
	return rc;
}
