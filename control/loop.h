/*
 * loop.h -- postmux-control's I/O: the listening sockets, the epoll event
 * loop, signals, the timer, and the log.
 *
 * Owner: postmux-control's main thread, the only thread of the process.
 * The loop owns every file descriptor it opens; the controller
 * (controller.h) owns all protocol state and never sees a descriptor. The
 * loop moves bytes and datagrams between the sockets and the controller,
 * gives it the time, and closes what it asks to close.
 *
 * Sockets: the admin socket (SOCK_STREAM, postmux_admin_socket, chmod to
 * postmux_admin_socket_mode after bind) and the control socket
 * (SOCK_SEQPACKET, postmux_control_socket, mode 0600). Missing parent
 * directories are created with mode 0755. An existing socket file is
 * removed only when nothing answers on it; if a live process answers,
 * opening fails (another postmux-control is running). Every socket is
 * non-blocking and close-on-exec.
 */
#ifndef PM_LOOP_H
#define PM_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "controller.h"

struct pm_loop;

/*
 * Block SIGINT and SIGTERM (they arrive through a signalfd), ignore
 * SIGPIPE, create the epoll set, the timer and both listening sockets.
 * Returns 0, or a negative errno with the reason in @err (then nothing is
 * left open or bound). Allocates.
 */
int pm_loop_open(struct pm_loop **out, const struct pm_config *cfg, char *err, size_t errlen);

/*
 * Serve admin clients and the data plane through @c until SIGINT or
 * SIGTERM. Returns 0 on such a signal, or a negative errno after a fatal
 * error of the loop itself (logged).
 */
int pm_loop_run(struct pm_loop *l, struct pm_controller *c);

/* Close every connection and descriptor and unlink the sockets this loop
 * bound. */
void pm_loop_close(struct pm_loop *l);

/* ---- the log: stderr, one line per event, timestamp and level ---------------- */

/* Also log PM_CONTROLLER_DEBUG lines (off by default). */
void pm_loop_log_verbose(bool on);

void pm_loop_log(enum pm_controller_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The controller's log callback (struct pm_controller_ops); @arg unused. */
void pm_loop_log_line(void *arg, enum pm_controller_level level, const char *msg);

/* Make @path's missing parent directories with mode 0755. 0 or -errno with
 * the reason in @err. */
int pm_loop_make_parents(const char *path, char *err, size_t errlen);

#endif
