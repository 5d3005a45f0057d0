/*
 * controller.h -- postmux-control's logic, sans-IO: the admin commands
 * (Dovecot's director-doveadm v1 protocol), the desired state and its
 * persistence, and the server side of the control channel
 * (docs/control-channel.md).
 *
 * Owner: postmux-control's main thread owns one struct pm_controller and is
 * its only caller; nothing here is thread-safe and nothing blocks except the
 * save_state callback (pm_state_save(): write + fsync + rename). The
 * controller never touches a socket, a timer or a clock: the I/O layer
 * (loop.c) feeds it bytes, datagrams and the time, and takes from it the
 * bytes to write, the datagrams to send and the connections to close. The
 * tests (tests/unit/test_controller.c) drive it the same way.
 *
 * Ownership: pm_controller_new() takes over the caller's struct pm_state (the
 * caller's copy is zeroed) and borrows the configuration, which must outlive
 * the controller. Buffers returned by the output functions belong to the
 * controller and stay valid until the next call into it.
 *
 * Admin connections are named by ids the controller hands out. Per
 * connection, commands run strictly in order: while one waits for the data
 * plane, the rest of the client's input stays buffered (unparsed), and every
 * pipelined command runs once the previous one is answered. The controller
 * never frees a connection by itself: it asks for the close
 * (pm_controller_client_should_close()) and forgets the connection when the
 * I/O layer reports it gone, so no caller holds a dangling id.
 *
 * Behaviour of each command, with and without a data plane: see the table
 * at the top of controller.c.
 */
#ifndef PM_CONTROLLER_H
#define PM_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ctlmsg.h"
#include "state.h"

/* How long a command waits for a data plane before "Ring sync timed out"
 * (Dovecot's DOVEADM_CONNECTION_RING_SYNC_TIMEOUT_MSECS), and how long a
 * USER-ASSIGN keeps retrying a user that is being moved. */
#define PM_CONTROLLER_WAIT_MS 30000u
/* Control channel liveness (control-channel.md, "Connection lifecycle"). */
#define PM_CONTROLLER_HELLO_TIMEOUT_MS 5000u
#define PM_CONTROLLER_PING_IDLE_MS 10000u
#define PM_CONTROLLER_PING_TIMEOUT_MS 30000u
/* Admin output: above SOFT the client's further commands are not run until
 * it reads, and a client that makes no progress for STALL_MS is closed;
 * above HARD it is closed at once. */
#define PM_CONTROLLER_OUT_SOFT (16u << 20)
#define PM_CONTROLLER_OUT_HARD (256u << 20)
#define PM_CONTROLLER_OUT_STALL_MS 10000u
/* Unparsed admin input held while a command waits; above it the I/O layer
 * stops reading that client (pm_controller_client_wants_input()). */
#define PM_CONTROLLER_IN_MAX 65536u
/* Datagrams queued for the data plane, in bytes; above it the data plane
 * is considered stuck and the connection is closed. */
#define PM_CONTROLLER_DP_QUEUE_MAX (64u << 20)

/* Log levels, most severe first. */
enum pm_controller_level {
	PM_CONTROLLER_ERROR,
	PM_CONTROLLER_WARNING,
	PM_CONTROLLER_INFO,
	PM_CONTROLLER_DEBUG,
};

struct pm_controller_ops {
	/*
	 * Persist @s. Called after every change of the desired state and
	 * before the admin command that made it is answered. Returns 0, or a
	 * negative errno with the reason in @err. Blocks (fsync).
	 */
	int (*save_state)(void *arg, const struct pm_state *s, char *err, size_t errlen);
	/* One log line, without a newline; @msg is only valid during the call.
	 * Never receives passwords (the admin protocol carries none). */
	void (*log)(void *arg, enum pm_controller_level level, const char *msg);
};

struct pm_controller;

/*
 * Create a controller for the configuration @cfg (borrowed) and the desired
 * state @state (taken over; *@state is zeroed). @pid and @boot_id go into
 * HELLO. Builds the "initial config" ring of USER-LOOKUP from @cfg's servers.
 * Returns 0, -ENOMEM or -EINVAL (the reason in @err). Allocates.
 */
int pm_controller_new(struct pm_controller **out, const struct pm_config *cfg,
		      struct pm_state *state, const struct pm_controller_ops *ops, void *arg,
		      uint32_t pid, const uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN], char *err,
		      size_t errlen);

/* Free everything. Connections are simply forgotten. */
void pm_controller_free(struct pm_controller *c);

/*
 * The current time: @mono_ms (a monotonic clock, for timers) and @unix_s
 * (the wall clock, for HOST-UP/DOWN's last_updown_change). Call before
 * every event; the controller never reads a clock itself.
 */
void pm_controller_set_time(struct pm_controller *c, uint64_t mono_ms, int64_t unix_s);

/* The desired state (read-only view, valid until the next call). */
const struct pm_state *pm_controller_state(const struct pm_controller *c);

/*
 * Run what is due at the current time: ring-sync waits that expire, the
 * USER-ASSIGN retries, PING / HELLO_ACK / PONG timeouts, stalled admin
 * clients. Returns the monotonic time of the next deadline, or UINT64_MAX.
 */
uint64_t pm_controller_tick(struct pm_controller *c);

/* ---- admin connections -------------------------------------------------------- */

/* A client connected: queue the banner. 0 and the new id in *@id, or
 * -ENOMEM. */
int pm_controller_client_open(struct pm_controller *c, uint64_t *id);

/* Bytes the client sent. They are copied; commands run as far as they can. */
void pm_controller_client_input(struct pm_controller *c, uint64_t id, const void *data,
				size_t len);

/* The client shut down its sending side: its buffered commands still run
 * and are answered, then the connection is to be closed. */
void pm_controller_client_eof(struct pm_controller *c, uint64_t id);

/* The peer is gone for good (hang-up, reset, a failed write): its output
 * is dropped, the commands it already sent still run (as Dovecot runs the
 * lines it read before EOF), then the connection is to be closed. */
void pm_controller_client_hangup(struct pm_controller *c, uint64_t id);

/* The connection is closed (by the I/O layer, for any reason): forget it.
 * An answer the data plane still owes it is discarded on arrival. */
void pm_controller_client_gone(struct pm_controller *c, uint64_t id);

/* Bytes waiting to be written to the client: their count, and *@data. */
size_t pm_controller_client_output(struct pm_controller *c, uint64_t id, const void **data);

/* @n bytes of that output were written. May run further commands. */
void pm_controller_client_sent(struct pm_controller *c, uint64_t id, size_t n);

/* False while the client's unparsed input is over PM_CONTROLLER_IN_MAX or
 * the connection is closing: the I/O layer should stop reading it. */
bool pm_controller_client_wants_input(struct pm_controller *c, uint64_t id);

/* True when the connection should now be closed: a close was decided and
 * the output is written (or is to be dropped). The I/O layer closes the
 * socket and calls pm_controller_client_gone(). */
bool pm_controller_client_should_close(struct pm_controller *c, uint64_t id);

/* Connected admin clients (for tests and logs). */
size_t pm_controller_client_count(const struct pm_controller *c);

/* ---- the control channel ------------------------------------------------------ */

/*
 * A data plane connected (its peer credentials already checked). Returns 0:
 * accepted, HELLO is queued. Or -EBUSY: another data plane is connected;
 * the ERROR BUSY datagram to send to the newcomer before closing it is in
 * @refuse (*@refuse_len bytes; @size >= PM_CTLMSG_HDR_LEN + 2 + 2 + 255).
 */
int pm_controller_dp_open(struct pm_controller *c, void *refuse, size_t size,
			  size_t *refuse_len);

/*
 * One datagram from the data plane. @len is its real size, which may exceed
 * PM_CTLMSG_MAX when the I/O layer read it with MSG_TRUNC; @buf holds at
 * least min(@len, PM_CTLMSG_MAX) bytes (an oversized datagram is judged from
 * its header alone). A bad or unexpected datagram queues ERROR and asks for
 * the close (pm_controller_dp_should_close()). Does not keep @buf.
 */
void pm_controller_dp_input(struct pm_controller *c, const void *buf, size_t len);

/* The data plane connection is closed (EOF, error, or after
 * pm_controller_dp_should_close()): fail or requeue what was in flight. */
void pm_controller_dp_closed(struct pm_controller *c, const char *why);

/* The first datagram queued for the data plane: true and *@buf / *@len, or
 * false when the queue is empty. */
bool pm_controller_dp_output(struct pm_controller *c, const void **buf, size_t *len);

/* The first queued datagram was sent: drop it. */
void pm_controller_dp_sent(struct pm_controller *c);

/* True when the data plane connection should be closed now (after a
 * protocol error, once any ERROR datagram is sent, or on a timeout). */
bool pm_controller_dp_should_close(const struct pm_controller *c);

/* True while a data plane connection exists (in any phase). */
bool pm_controller_dp_connected(const struct pm_controller *c);

/* True once HELLO_ACK arrived and the full state was queued: requests flow. */
bool pm_controller_dp_ready(const struct pm_controller *c);

#endif
