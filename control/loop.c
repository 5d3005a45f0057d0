/*
 * loop.c -- postmux-control's event loop: epoll over the listening
 * sockets, the admin connections, the data plane connection, a signalfd
 * and a timerfd. All protocol decisions belong to the controller; this file
 * only moves bytes and applies the controller's verdicts (close this, wait
 * for that), so that it stays thin enough to be obviously right.
 *
 * Epoll is level-triggered. After every batch of events the loop runs the
 * controller's timers and then "syncs" every connection: it writes what the
 * controller has queued, closes what the controller wants closed, and sets
 * each descriptor's interest (EPOLLIN only while the controller wants input,
 * EPOLLOUT only while output waits). Connections closed while a batch is
 * being handled are freed after the batch, so a later event of the same
 * batch never touches freed memory.
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum src_kind {
	SRC_SIGNAL,
	SRC_TIMER,
	SRC_ADMIN_LISTEN,
	SRC_CTL_LISTEN,
	SRC_ADMIN,
	SRC_DP,
};

/* What an epoll event points at. */
struct src {
	enum src_kind kind;
	int fd;
	uint32_t events;	/* the interest registered now */
	uint64_t id;		/* SRC_ADMIN: the controller's client id */
	bool eof;		/* SRC_ADMIN: the client sent EOF */
	bool hup;		/* SRC_ADMIN: gone for good; not in epoll */
	bool dead;		/* closed during this batch; freed after it */
	struct src *next;	/* SRC_ADMIN: list of connections */
};

struct pm_loop {
	int epfd;
	struct src sig, timer, admin_l, ctl_l, dp;
	struct src *admins;
	struct src *graveyard;	/* closed admin connections of this batch */
	struct pm_controller *ctl;
	char admin_path[PM_CONFIG_PATH_MAX];
	char ctl_path[PM_CONFIG_PATH_MAX];
	bool admin_bound, ctl_bound;
	uint64_t armed;		/* the timer's deadline (ms), 0: disarmed */
	uint8_t rbuf[PM_CTLMSG_MAX + 1];
};

/* ---- the log ------------------------------------------------------------------- */

static bool log_debug;

void
pm_loop_log_verbose(bool on)
{
	log_debug = on;
}

static void
log_write(enum pm_controller_level level, const char *msg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1400], stamp[64], zone[8];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	if (level == PM_CONTROLLER_DEBUG && !log_debug)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	k = snprintf(line, sizeof(line), "%s.%03ld%s postmux-control[%d]: %s: %s\n", stamp,
		     ts.tv_nsec / 1000000, zone, (int)getpid(),
		     names[(unsigned)level < 4 ? level : 0], msg);
	if (k < 0)
		return;
	n = (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1;
	if (n > 0 && line[n - 1] != '\n')
		line[n - 1] = '\n';
	/* One write per line, so lines never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void
pm_loop_log(enum pm_controller_level level, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, msg);
}

void
pm_loop_log_line(void *arg, enum pm_controller_level level, const char *msg)
{
	(void)arg;
	log_write(level, msg);
}

/* ---- time ---------------------------------------------------------------------- */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
set_time(struct pm_loop *l)
{
	pm_controller_set_time(l->ctl, mono_ms(), (int64_t)time(NULL));
}

static void
arm_timer(struct pm_loop *l, uint64_t at)
{
	struct itimerspec its;

	if (at == UINT64_MAX)
		at = 0;
	if (at == l->armed)
		return;
	memset(&its, 0, sizeof(its));
	/* at == 0 disarms; a deadline in the past fires at once. */
	its.it_value.tv_sec = (time_t)(at / 1000);
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (timerfd_settime(l->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		l->armed = at;
}

/* ---- sockets ------------------------------------------------------------------- */

int
pm_loop_make_parents(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i < n; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) == 0) {
			/* mkdir() applies the umask; the mode is part of the contract. */
			if (chmod(buf, 0755) != 0) {
				snprintf(err, errlen, "chmod %s: %s", buf, strerror(errno));
				return -errno;
			}
			pm_loop_log(PM_CONTROLLER_INFO, "created directory %s", buf);
		} else if (errno != EEXIST) {
			int e = errno;

			snprintf(err, errlen, "mkdir %s: %s", buf, strerror(e));
			return -e;
		}
		buf[i] = '/';
	}
	return 0;
}

static int
unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/*
 * An existing file at @path: a socket nobody answers on is stale (left by
 * a killed postmux-control) and is removed. Anything that answers, or is
 * not a socket, is left alone and fails the start.
 */
static int
clear_stale(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int s, rc, e;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -EEXIST;
	}
	unix_addr(&sa, path);
	s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (s < 0) {
		e = errno;
		snprintf(err, errlen, "socket: %s", strerror(e));
		return -e;
	}
	rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(s);
	if (rc == 0) {
		snprintf(err, errlen,
			 "%s: another postmux-control is running (it answers on this socket)",
			 path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", path,
			 strerror(e));
		return -e;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		e = errno;
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(e));
		return -e;
	}
	pm_loop_log(PM_CONTROLLER_WARNING, "removed stale socket %s", path);
	return 0;
}

static int
listen_unix(const char *path, int type, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int s, rc, e;

	if (unix_addr(&sa, path) < 0) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	rc = pm_loop_make_parents(path, err, errlen);
	if (rc < 0)
		return rc;
	rc = clear_stale(path, type, err, errlen);
	if (rc < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	s = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		e = errno;
		snprintf(err, errlen, "socket: %s", strerror(e));
		return -e;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		e = errno;
		snprintf(err, errlen, "bind %s: %s", path, strerror(e));
		close(s);
		return -e;
	}
	/* After bind: the socket's mode is the listener's contract (Dovecot's
	 * unix_listener mode), whatever the umask. */
	if (chmod(path, mode) != 0 || listen(s, 128) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		close(s);
		unlink(path);
		return -e;
	}
	return s;
}

static int
ep_add(struct pm_loop *l, struct src *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0)
		return -errno;
	s->events = events;
	return 0;
}

static void
ep_set(struct pm_loop *l, struct src *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	if (s->fd < 0 || s->events == events)
		return;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
		s->events = events;
}

int
pm_loop_open(struct pm_loop **out, const struct pm_config *cfg, char *err, size_t errlen)
{
	struct pm_loop *l = calloc(1, sizeof(*l));
	sigset_t set;
	int rc;

	*out = NULL;
	err[0] = '\0';
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->epfd = l->sig.fd = l->timer.fd = l->admin_l.fd = l->ctl_l.fd = l->dp.fd = -1;
	l->sig.kind = SRC_SIGNAL;
	l->timer.kind = SRC_TIMER;
	l->admin_l.kind = SRC_ADMIN_LISTEN;
	l->ctl_l.kind = SRC_CTL_LISTEN;
	l->dp.kind = SRC_DP;
	snprintf(l->admin_path, sizeof(l->admin_path), "%s", cfg->admin_socket);
	snprintf(l->ctl_path, sizeof(l->ctl_path), "%s", cfg->control_socket);

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (l->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (l->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    (l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "event loop set-up: %s", strerror(errno));
		goto fail;
	}
	rc = listen_unix(l->admin_path, SOCK_STREAM, cfg->admin_socket_mode, err, errlen);
	if (rc < 0)
		goto fail;
	l->admin_l.fd = rc;
	l->admin_bound = true;
	rc = listen_unix(l->ctl_path, SOCK_SEQPACKET, 0600, err, errlen);
	if (rc < 0)
		goto fail;
	l->ctl_l.fd = rc;
	l->ctl_bound = true;
	if ((rc = ep_add(l, &l->sig, EPOLLIN)) < 0 || (rc = ep_add(l, &l->timer, EPOLLIN)) < 0 ||
	    (rc = ep_add(l, &l->admin_l, EPOLLIN)) < 0 ||
	    (rc = ep_add(l, &l->ctl_l, EPOLLIN)) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(-rc));
		goto fail;
	}
	*out = l;
	return 0;
fail:
	pm_loop_close(l);
	return rc;
}

/* ---- connections --------------------------------------------------------------- */

static void
admin_close(struct pm_loop *l, struct src *s)
{
	struct src **pp;

	if (s->dead)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->dead = true;
	pm_controller_client_gone(l->ctl, s->id);
	for (pp = &l->admins; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->next = l->graveyard;
	l->graveyard = s;
}

/*
 * The peer hung up or reset (or a write failed): nothing can be written any
 * more. The commands it sent still run (the controller drops their output)
 * and the socket is closed when they are done. It leaves epoll now, because
 * a hung-up socket would report EPOLLHUP on every wait.
 */
static void
admin_hangup(struct pm_loop *l, struct src *s)
{
	if (s->dead || s->hup)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->events = 0;
	s->hup = true;
	pm_controller_client_hangup(l->ctl, s->id);
}

static void
dp_close_fd(struct pm_loop *l, const char *why)
{
	if (l->dp.fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->dp.fd, NULL);
	close(l->dp.fd);
	l->dp.fd = -1;
	l->dp.events = 0;
	pm_controller_dp_closed(l->ctl, why);
}

static void
accept_admin(struct pm_loop *l)
{
	for (;;) {
		int fd = accept4(l->admin_l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct src *s;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pm_loop_log(PM_CONTROLLER_ERROR, "accept on %s: %s", l->admin_path,
					    strerror(errno));
			return;
		}
		s = calloc(1, sizeof(*s));
		if (s == NULL || pm_controller_client_open(l->ctl, &s->id) < 0) {
			pm_loop_log(PM_CONTROLLER_ERROR, "admin connection refused: out of memory");
			free(s);
			close(fd);
			continue;
		}
		s->kind = SRC_ADMIN;
		s->fd = fd;
		if (ep_add(l, s, EPOLLIN | EPOLLOUT) < 0) {
			pm_loop_log(PM_CONTROLLER_ERROR, "epoll_ctl: %s", strerror(errno));
			pm_controller_client_gone(l->ctl, s->id);
			close(fd);
			free(s);
			continue;
		}
		s->next = l->admins;
		l->admins = s;
	}
}

static void
accept_dp(struct pm_loop *l)
{
	uint8_t refuse[PM_CTLMSG_HDR_LEN + 4 + PM_CTLMSG_REASON_MAX];
	struct ucred cred;
	socklen_t clen;
	size_t rlen;

	for (;;) {
		int fd = accept4(l->ctl_l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pm_loop_log(PM_CONTROLLER_ERROR, "accept on %s: %s", l->ctl_path,
					    strerror(errno));
			return;
		}
		/* Same user (or root) only, checked before anything is sent. */
		memset(&cred, 0, sizeof(cred));
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			pm_loop_log(PM_CONTROLLER_ERROR,
				    "control socket: refused a peer with uid %d (pid %d)",
				    (int)cred.uid, (int)cred.pid);
			close(fd);
			continue;
		}
		if (pm_controller_dp_open(l->ctl, refuse, sizeof(refuse), &rlen) < 0) {
			/* ERROR BUSY fits any socket buffer; best effort. */
			if (rlen > 0 && send(fd, refuse, rlen, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				pm_loop_log(PM_CONTROLLER_WARNING, "cannot send ERROR BUSY: %s",
					    strerror(errno));
			close(fd);
			continue;
		}
		pm_loop_log(PM_CONTROLLER_INFO, "data plane pid %d connected", (int)cred.pid);
		l->dp.fd = fd;
		if (ep_add(l, &l->dp, EPOLLIN | EPOLLOUT) < 0) {
			pm_loop_log(PM_CONTROLLER_ERROR, "epoll_ctl: %s", strerror(errno));
			close(fd);
			l->dp.fd = -1;
			pm_controller_dp_closed(l->ctl, "epoll_ctl failed");
		}
	}
}

/* At most this many reads per connection and wake-up, so that one busy
 * peer cannot starve the others (epoll is level-triggered: the rest comes
 * on the next round). */
#define READS_PER_EVENT 64

static void
admin_read(struct pm_loop *l, struct src *s)
{
	uint8_t buf[16384];
	int k;

	for (k = 0; k < READS_PER_EVENT && !s->eof &&
		    pm_controller_client_wants_input(l->ctl, s->id); k++) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			pm_controller_client_input(l->ctl, s->id, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			s->eof = true;
			pm_controller_client_eof(l->ctl, s->id);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			s->eof = true;
			admin_hangup(l, s);
		}
		return;
	}
}

static void
dp_read(struct pm_loop *l)
{
	int k;

	for (k = 0; k < READS_PER_EVENT && l->dp.fd >= 0 &&
		    !pm_controller_dp_should_close(l->ctl); k++) {
		/* MSG_TRUNC: the real size, so an oversized datagram is judged
		 * -EMSGSIZE instead of being read cut. */
		ssize_t n = recv(l->dp.fd, l->rbuf, sizeof(l->rbuf) - 1, MSG_DONTWAIT | MSG_TRUNC);

		if (n > 0) {
			pm_controller_dp_input(l->ctl, l->rbuf, (size_t)n);
			continue;
		}
		if (n == 0) {
			dp_close_fd(l, "EOF");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			dp_close_fd(l, strerror(errno));
		return;
	}
}

/* ---- sync: write what is queued, close what should close ------------------------- */

/* True if a connection was closed (the controller may have new work). */
static bool
sync_dp(struct pm_loop *l)
{
	const void *buf;
	size_t len;

	if (l->dp.fd < 0)
		return false;
	while (pm_controller_dp_output(l->ctl, &buf, &len)) {
		ssize_t n = send(l->dp.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			pm_controller_dp_sent(l->ctl);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		dp_close_fd(l, strerror(errno));
		return true;
	}
	if (pm_controller_dp_should_close(l->ctl)) {
		dp_close_fd(l, "closed by postmux-control");
		return true;
	}
	ep_set(l, &l->dp, EPOLLIN | (pm_controller_dp_output(l->ctl, &buf, &len) ? EPOLLOUT : 0));
	return false;
}

static bool
sync_admin(struct pm_loop *l, struct src *s)
{
	const void *data;
	size_t len;
	uint32_t ev = 0;

	if (s->hup) {
		/* Out of epoll: read what is left by hand, then close when idle. */
		admin_read(l, s);
		if (pm_controller_client_should_close(l->ctl, s->id)) {
			admin_close(l, s);
			return true;
		}
		return false;
	}
	while ((len = pm_controller_client_output(l->ctl, s->id, &data)) > 0) {
		ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			pm_controller_client_sent(l->ctl, s->id, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		admin_hangup(l, s);	/* EPIPE, ECONNRESET: the client is gone */
		return true;
	}
	if (pm_controller_client_should_close(l->ctl, s->id)) {
		admin_close(l, s);
		return true;
	}
	if (!s->eof && pm_controller_client_wants_input(l->ctl, s->id))
		ev |= EPOLLIN;
	if (pm_controller_client_output(l->ctl, s->id, &data) > 0)
		ev |= EPOLLOUT;
	ep_set(l, s, ev);
	return false;
}

static bool
sync_all(struct pm_loop *l)
{
	struct src *s, *next;
	bool changed = sync_dp(l);

	for (s = l->admins; s != NULL; s = next) {
		next = s->next;
		changed |= sync_admin(l, s);
	}
	/* Admin output may have queued datagrams (commands that ran). */
	changed |= sync_dp(l);
	return changed;
}

static void
bury(struct pm_loop *l)
{
	while (l->graveyard != NULL) {
		struct src *s = l->graveyard;

		l->graveyard = s->next;
		free(s);
	}
}

int
pm_loop_run(struct pm_loop *l, struct pm_controller *c)
{
	struct epoll_event evs[64];
	uint64_t next;
	bool stop = false;
	int n, i, k;

	l->ctl = c;
	set_time(l);
	pm_loop_log(PM_CONTROLLER_INFO, "listening on %s (admin) and %s (control channel)",
		    l->admin_path, l->ctl_path);
	while (!stop) {
		set_time(l);
		for (k = 0; k < 8; k++) {
			next = pm_controller_tick(c);
			if (!sync_all(l))
				break;
		}
		bury(l);
		arm_timer(l, next);
		n = epoll_wait(l->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pm_loop_log(PM_CONTROLLER_ERROR, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		set_time(l);
		for (i = 0; i < n; i++) {
			struct src *s = evs[i].data.ptr;
			uint32_t e = evs[i].events;

			switch (s->kind) {
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;

				while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
					pm_loop_log(PM_CONTROLLER_INFO,
						    "%s received, shutting down",
						    si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					stop = true;
				}
				break;
			}
			case SRC_TIMER: {
				uint64_t expirations;

				if (read(s->fd, &expirations, sizeof(expirations)) < 0 &&
				    errno != EAGAIN)
					pm_loop_log(PM_CONTROLLER_ERROR, "timerfd: %s",
						    strerror(errno));
				l->armed = 0;
				break;
			}
			case SRC_ADMIN_LISTEN:
				accept_admin(l);
				break;
			case SRC_CTL_LISTEN:
				accept_dp(l);
				break;
			case SRC_ADMIN:
				if (s->dead || s->hup)
					break;
				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
					admin_read(l, s);
				if (e & (EPOLLHUP | EPOLLERR))
					admin_hangup(l, s);
				break;
			case SRC_DP:
				if (l->dp.fd < 0)
					break;
				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
					dp_read(l);
				if (l->dp.fd >= 0 && (e & EPOLLERR))
					dp_close_fd(l, "socket error");
				break;
			}
		}
	}
	bury(l);
	return 0;
}

void
pm_loop_close(struct pm_loop *l)
{
	struct src *s;

	if (l == NULL)
		return;
	while ((s = l->admins) != NULL) {
		l->admins = s->next;
		close(s->fd);
		if (l->ctl != NULL)
			pm_controller_client_gone(l->ctl, s->id);
		free(s);
	}
	bury(l);
	if (l->dp.fd >= 0) {
		close(l->dp.fd);
		l->dp.fd = -1;
		if (l->ctl != NULL)
			pm_controller_dp_closed(l->ctl, "postmux-control is stopping");
	}
	if (l->admin_l.fd >= 0)
		close(l->admin_l.fd);
	if (l->ctl_l.fd >= 0)
		close(l->ctl_l.fd);
	if (l->admin_bound)
		unlink(l->admin_path);
	if (l->ctl_bound)
		unlink(l->ctl_path);
	if (l->sig.fd >= 0)
		close(l->sig.fd);
	if (l->timer.fd >= 0)
		close(l->timer.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}
