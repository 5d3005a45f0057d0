/*
 * ctlsock.c -- connect to postmux-control, move datagrams, keep time.
 *
 * The loop is a poll(2) on three things: the stop fd, the control socket
 * (POLLIN unless a list answer is still being sent, POLLOUT while the queue
 * is not empty) and a timeout that is the earlier of the director's next
 * deadline and the next reconnect attempt. Everything the protocol means
 * is decided in ctl.c; this file only does I/O.
 */
#include "ctlsock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "log.h"

/* At most this many datagrams are handled per wake-up, so the timer and
 * the stop fd are looked at even under a flood. */
#define RECV_BURST 64
#define WAIT_MAX_MS 1000

struct qent {
	struct qent *next;
	size_t len;
	uint8_t data[];
};

struct pm_ctlsock {
	struct pm_ctl *ctl;
	struct sockaddr_un sun;
	int fd;				/* -1: not connected */
	bool acked;			/* HELLO_ACK sent on this connection */

	uint64_t retry_at_ms;		/* next connect attempt when fd < 0 */
	uint32_t delay_ms;		/* the next backoff, before jitter */
	int last_err;			/* errno of the last failed connect */
	uint64_t rng;

	struct qent *qhead, **qtail;
	size_t qbytes, qmax;

	uint8_t *rxbuf;			/* PM_CTLMSG_MAX + 1 bytes */

	void (*periodic)(void *arg, uint64_t now_ms);
	void *periodic_arg;
	uint32_t periodic_ms;
	uint64_t periodic_at_ms;

	/* Why the send callback refused a datagram, for the one log line of
	 * the disconnect that follows. */
	char close_why[128];
	enum pm_log_level close_level;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*: only for jitter, never for anything secret. */
static uint64_t
rng_next(struct pm_ctlsock *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

/* ---- the send queue -------------------------------------------------------------- */

static void
queue_clear(struct pm_ctlsock *s)
{
	struct qent *q, *next;

	for (q = s->qhead; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	s->qhead = NULL;
	s->qtail = &s->qhead;
	s->qbytes = 0;
}

/* Send what the socket takes. 0, or a negative errno: the connection is
 * broken. */
static int
queue_flush(struct pm_ctlsock *s)
{
	struct qent *q;
	ssize_t n;

	while ((q = s->qhead) != NULL) {
		n = send(s->fd, q->data, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return 0;
			return -errno;
		}
		/* SEQPACKET sends a datagram whole or not at all. */
		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = &s->qhead;
		s->qbytes -= q->len;
		free(q);
	}
	return 0;
}

/* Note why a send failed; returns -@err. A peer that went away is not an
 * error: it is seen as EOF too. */
static int
send_failed(struct pm_ctlsock *s, int err)
{
	snprintf(s->close_why, sizeof(s->close_why), "send: %s", strerror(err));
	s->close_level = err == EPIPE || err == ECONNRESET ? PM_LOG_INFO : PM_LOG_ERR;
	return -err;
}

/* The ctl module's send callback (pm_ctl_send_fn). */
static int
sock_send(void *arg, const void *buf, size_t len)
{
	struct pm_ctlsock *s = arg;
	struct qent *q;
	ssize_t n;

	if (s->fd < 0)
		return -ENOTCONN;
	while (s->qhead == NULL) {
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			return send_failed(s, errno);
		break;
	}
	if (s->qbytes + len > s->qmax) {
		snprintf(s->close_why, sizeof(s->close_why),
			 "%zu bytes queued and postmux-control is not reading", s->qbytes);
		s->close_level = PM_LOG_ERR;
		return -ENOBUFS;
	}
	q = malloc(sizeof(*q) + len);
	if (q == NULL) {
		snprintf(s->close_why, sizeof(s->close_why), "out of memory queueing a datagram");
		s->close_level = PM_LOG_ERR;
		return -ENOMEM;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->data, buf, len);
	*s->qtail = q;
	s->qtail = &q->next;
	s->qbytes += len;
	return s->qbytes > PM_CTLSOCK_LOW_WATER ? PM_CTL_SEND_FULL : 0;
}

/* ---- connection ---------------------------------------------------------------------- */

static void
schedule_retry(struct pm_ctlsock *s, uint64_t now)
{
	/* +-20 %: 0.8 .. 1.2 times the delay. */
	uint64_t wait = s->delay_ms * (80 + rng_next(s) % 41) / 100;

	s->retry_at_ms = now + wait;
	s->delay_ms = s->delay_ms * 2 > PM_CTLSOCK_RETRY_MAX_MS ? PM_CTLSOCK_RETRY_MAX_MS :
								  s->delay_ms * 2;
}

/* Close the connection, logging one line: @why at @level. */
static void
disconnect(struct pm_ctlsock *s, enum pm_log_level level, const char *why)
{
	uint64_t now = now_ms();

	if (s->fd < 0)
		return;
	/* Best effort: an ERROR just queued should reach the peer. */
	queue_flush(s);
	close(s->fd);
	s->fd = -1;
	queue_clear(s);
	/* Answers still owed to that connection (RESET_USERS) go nowhere. */
	pm_ctl_restart(s->ctl);
	schedule_retry(s, now);
	pm_log(level, "control channel: %s; reconnecting in %llu ms", why,
	       (unsigned long long)(s->retry_at_ms - now));
}

static void
try_connect(struct pm_ctlsock *s, uint64_t now)
{
	int fd, err;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		pm_log(PM_LOG_ERR, "control channel: socket: %s", strerror(err));
		schedule_retry(s, now);
		return;
	}
	/* A UNIX socket connects at once or fails at once (EAGAIN when the
	 * listener's backlog is full): there is no connect in progress. */
	if (connect(fd, (struct sockaddr *)&s->sun, sizeof(s->sun)) < 0) {
		err = errno;
		close(fd);
		schedule_retry(s, now);
		/* The first failure of a series is worth a line; the retries
		 * that follow every few seconds are not. */
		pm_log(err == s->last_err ? PM_LOG_DEBUG : PM_LOG_WARN,
		       "control channel: cannot connect to %s: %s; retrying in %llu ms",
		       s->sun.sun_path, strerror(err),
		       (unsigned long long)(s->retry_at_ms - now));
		s->last_err = err;
		return;
	}
	s->fd = fd;
	s->acked = false;
	s->last_err = 0;
	s->close_why[0] = '\0';
	pm_log(PM_LOG_INFO, "control channel: connected to %s", s->sun.sun_path);
}

/* After the ctl module has run: close if it asked to, reset the backoff
 * once the handshake is done, and send what it queued. */
static void
after_ctl(struct pm_ctlsock *s, enum pm_ctl_rc rc)
{
	int err;

	if (s->fd < 0)
		return;
	if (rc == PM_CTL_CLOSE) {
		/* The ctl module logged its own reasons (an ERROR sent or
		 * received); a refused send is explained here. */
		if (s->close_why[0] != '\0')
			disconnect(s, s->close_level, s->close_why);
		else
			disconnect(s, PM_LOG_INFO, "connection closed");
		return;
	}
	if (!s->acked && pm_ctl_state(s->ctl) != PM_CTL_HELLO) {
		s->acked = true;
		s->delay_ms = PM_CTLSOCK_RETRY_MIN_MS;
	}
	err = queue_flush(s);
	if (err < 0) {
		send_failed(s, -err);
		disconnect(s, s->close_level, s->close_why);
	}
}

static void
handle_input(struct pm_ctlsock *s, short revents)
{
	char why[128];
	ssize_t n;
	int i;

	for (i = 0; i < RECV_BURST && s->fd >= 0; i++) {
		/* One request at a time: while a list answer is still being
		 * sent, leave the input in the socket (unless it hung up). */
		if (pm_ctl_busy(s->ctl) && !(revents & (POLLHUP | POLLERR)))
			break;
		n = recv(s->fd, s->rxbuf, PM_CTLMSG_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			snprintf(why, sizeof(why), "recv: %s", strerror(errno));
			disconnect(s, PM_LOG_WARN, why);
			return;
		}
		if (n == 0) {
			disconnect(s, PM_LOG_INFO, "postmux-control closed the connection");
			return;
		}
		/* MSG_TRUNC returns the real length: a datagram longer than the
		 * buffer is passed as PM_CTLMSG_MAX + 1 bytes and refused. */
		after_ctl(s, pm_ctl_input(s->ctl, s->rxbuf,
					  (size_t)n > PM_CTLMSG_MAX ? PM_CTLMSG_MAX + 1 : (size_t)n,
					  now_ms()));
	}
}

/* ---- the loop --------------------------------------------------------------------------- */

int
pm_ctlsock_run(struct pm_ctlsock *s, int stop_fd)
{
	for (;;) {
		struct pollfd pfd[2];
		uint64_t now = now_ms(), next;
		enum pm_ctl_rc rc;
		nfds_t nfds = 1;
		int timeout, r;

		if (s->fd < 0 && now >= s->retry_at_ms)
			try_connect(s, now);
		next = pm_ctl_tick(s->ctl, now, &rc);
		after_ctl(s, rc);
		if (s->fd >= 0 && pm_ctl_busy(s->ctl) && s->qbytes <= PM_CTLSOCK_LOW_WATER)
			after_ctl(s, pm_ctl_pump(s->ctl));
		if (s->fd < 0 && s->retry_at_ms < next)
			next = s->retry_at_ms;
		if (s->periodic != NULL) {
			if (now >= s->periodic_at_ms) {
				s->periodic(s->periodic_arg, now);
				s->periodic_at_ms = now + s->periodic_ms;
			}
			if (s->periodic_at_ms < next)
				next = s->periodic_at_ms;
		}
		now = now_ms();
		if (next <= now)
			timeout = 0;
		else
			timeout = next - now > WAIT_MAX_MS ? WAIT_MAX_MS : (int)(next - now);

		pfd[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		if (s->fd >= 0) {
			pfd[1] = (struct pollfd){ .fd = s->fd };
			if (!pm_ctl_busy(s->ctl))
				pfd[1].events |= POLLIN;
			if (s->qhead != NULL)
				pfd[1].events |= POLLOUT;
			nfds = 2;
		}
		/* Blocking: offline, so grace periods do not wait for us. */
		urcu_qsbr_thread_offline();
		r = poll(pfd, nfds, timeout);
		urcu_qsbr_thread_online();
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			pm_log(PM_LOG_ERR, "poll: %s", strerror(-r));
			return r;
		}
		if (pfd[0].revents != 0)
			return 0;
		if (nfds == 2 && pfd[1].revents != 0) {
			if (pfd[1].revents & POLLOUT)
				after_ctl(s, PM_CTL_OK);
			if (s->fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
				handle_input(s, pfd[1].revents);
		}
	}
}

/* ---- construction ------------------------------------------------------------------------ */

struct pm_ctlsock *
pm_ctlsock_new(const struct pm_ctlsock_params *p)
{
	struct pm_ctlsock *s;
	struct pm_ctl_params cp = p->ctl;

	if (strlen(p->path) >= sizeof(s->sun.sun_path))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->fd = -1;
	s->sun.sun_family = AF_UNIX;
	strcpy(s->sun.sun_path, p->path);
	s->delay_ms = PM_CTLSOCK_RETRY_MIN_MS;
	s->rng = p->seed | 1;	/* xorshift must not start at 0 */
	s->periodic = p->periodic;
	s->periodic_arg = p->periodic_arg;
	s->periodic_ms = p->periodic_ms == 0 ? 10 : p->periodic_ms > 1000 ? 1000 : p->periodic_ms;
	s->qtail = &s->qhead;
	s->qmax = p->queue_max ? p->queue_max : PM_CTLSOCK_QUEUE_MAX;
	s->rxbuf = malloc(PM_CTLMSG_MAX + 1);
	cp.send = sock_send;
	cp.send_arg = s;
	if (s->rxbuf != NULL)
		s->ctl = pm_ctl_new(&cp);
	if (s->ctl == NULL) {
		free(s->rxbuf);
		free(s);
		return NULL;
	}
	return s;
}

void
pm_ctlsock_free(struct pm_ctlsock *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	queue_clear(s);
	pm_ctl_free(s->ctl);
	free(s->rxbuf);
	free(s);
}

struct pm_ctl *
pm_ctlsock_ctl(struct pm_ctlsock *s)
{
	return s->ctl;
}
