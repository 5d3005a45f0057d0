/*
 * ctlsock.h -- the data plane's control-channel socket and event loop.
 *
 * Owns: the UNIX SEQPACKET connection to postmux-control
 * (docs/control-channel.md, "Transport" and "Connection lifecycle"), the
 * queue of datagrams the socket could not take yet, the reconnect schedule
 * (100 ms doubling to 5 s, +-20 % jitter, reset after HELLO_ACK), the
 * receive buffer, and the struct pm_ctl (and so the director) it feeds.
 *
 * Threads: the ctl thread only. It must be a registered liburcu QSBR
 * thread, online when it calls in. pm_ctlsock_run() blocks in poll(2) and
 * goes offline around that wait only, so it never holds up a grace period;
 * later, DPDK worker lcores run beside it and read the director.
 *
 * Sending never drops a datagram: what the socket does not take is queued
 * (copied) and sent on POLLOUT. A queue beyond its bound means
 * postmux-control is not reading: the connection is closed and made again,
 * and the full state that follows repairs everything.
 */
#ifndef PM_CTLSOCK_H
#define PM_CTLSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

#define PM_CTLSOCK_QUEUE_MAX	(64u << 20)	/* bytes queued before a reconnect */
#define PM_CTLSOCK_LOW_WATER	(1u << 20)	/* list parts wait above this */
#define PM_CTLSOCK_RETRY_MIN_MS	100
#define PM_CTLSOCK_RETRY_MAX_MS	5000

struct pm_ctlsock;

struct pm_ctlsock_params {
	const char *path;		/* postmux_control_socket; copied */
	struct pm_ctl_params ctl;	/* .send and .send_arg are set here */
	size_t queue_max;		/* 0: PM_CTLSOCK_QUEUE_MAX */
	uint64_t seed;			/* for the reconnect jitter */
	/* Called from the loop at least every periodic_ms (unix time ms),
	 * online as a QSBR thread and the director's writer: for work the
	 * workers hand to the ctl thread (pin requests). May be NULL. */
	void (*periodic)(void *arg, uint64_t now_ms);
	void *periodic_arg;
	uint32_t periodic_ms;		/* 1..1000; 0 = 10 */
};

/*
 * Create the loop and its struct pm_ctl (and director). Does not connect
 * yet. Returns NULL on allocation failure, invalid settings or a path too
 * long for sun_path. Allocates.
 */
struct pm_ctlsock *pm_ctlsock_new(const struct pm_ctlsock_params *p);

/* Close the connection and free everything (pm_ctl_free()). */
void pm_ctlsock_free(struct pm_ctlsock *s);

struct pm_ctl *pm_ctlsock_ctl(struct pm_ctlsock *s);

/*
 * Run until @stop_fd becomes readable (a signalfd, an eventfd; it is not
 * read): connect and reconnect, feed datagrams to the ctl module, send its
 * answers, and tick the director at its deadlines (unix time from
 * CLOCK_REALTIME; a wait is never longer than 1 s, so a clock step delays
 * a deadline by at most that). Returns 0 when stopped, or a negative errno
 * if poll(2) itself fails.
 */
int pm_ctlsock_run(struct pm_ctlsock *s, int stop_fd);

#endif
