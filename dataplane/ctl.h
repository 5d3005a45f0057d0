/*
 * ctl.h -- the data plane's side of the control channel, sans-IO.
 *
 * Owns: the director core (created here, so that its kick and job-done
 * callbacks come back to this module), the protocol state of one control
 * connection as docs/control-channel.md specifies it (handshake, state
 * transfer, deferred RESET_USERS answers, list answers still being sent)
 * and the applied generation, which outlives connections.
 *
 * Threads: the ctl thread only: it is the director's writer, so it must be
 * a registered liburcu QSBR thread and online whenever it calls in. Worker
 * lcores read the director through pm_ctl_director() and
 * pm_director_lookup() only.
 *
 * I/O: none, and no clock. The caller hands every received datagram to
 * pm_ctl_input() with the time, drives pm_ctl_tick() at the deadlines it
 * returns, and gets every datagram this module sends through its send
 * callback, in order. The module never closes anything: when the
 * connection must end (it sent an ERROR, received one, or a send failed)
 * an entry point returns PM_CTL_CLOSE; the caller closes the socket and
 * calls pm_ctl_restart(), which it also calls whenever a connection ends
 * for another reason (EOF), before the next connection's first datagram.
 *
 * Ownership: the send callback borrows each datagram for the duration of
 * the call (copy it to keep it). pm_ctl_input() borrows its buffer.
 *
 * Connection states and transitions (one enum, enum pm_ctl_state):
 *
 *   HELLO  --HELLO, common version-->   READY   sends HELLO_ACK
 *   HELLO  --HELLO, no common version-> CLOSED  sends ERROR VERSION
 *   HELLO  --anything else-->           CLOSED  sends ERROR UNEXPECTED
 *   READY  --STATE_BEGIN-->             STATE
 *   READY  --a request-->               READY   answers it (RESET_USERS: later)
 *   READY  --HELLO, or a message the data plane sends-->
 *                                       CLOSED  sends ERROR UNEXPECTED
 *   STATE  --STATE_HOSTS, same gen-->   STATE   collects the hosts
 *   STATE  --STATE_COMMIT, same gen-->  READY   applies (or refuses) the
 *                                               state, sends REPLY
 *   STATE  --anything else-->           CLOSED  sends ERROR UNEXPECTED
 *   any    --undecodable datagram-->    CLOSED  sends ERROR MALFORMED (or
 *                                               VERSION for another version)
 *   any    --ERROR-->                   CLOSED  logs it, sends nothing
 *   any    --a send fails-->            CLOSED
 *   any    --pm_ctl_restart()-->        HELLO
 *
 * In CLOSED every entry point returns PM_CTL_CLOSE and sends nothing. Each
 * reason for a close is logged once, here.
 */
#ifndef PM_CTL_H
#define PM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctlmsg.h"
#include "director/director.h"

struct pm_ctl;

/*
 * Accept one datagram for sending, after every datagram accepted before
 * it. Returns:
 *   0                 accepted;
 *   PM_CTL_SEND_FULL  accepted, but the caller's queue is past its
 *                     low-water mark: the module holds back further list
 *                     parts until pm_ctl_pump() (answers to requests are
 *                     always sent: they are few and small);
 *   < 0               (a negative errno) the connection is unusable, e.g.
 *                     the queue bound was exceeded: the module stops and
 *                     returns PM_CTL_CLOSE.
 * @buf is borrowed for the duration of the call.
 */
typedef int (*pm_ctl_send_fn)(void *arg, const void *buf, size_t len);
#define PM_CTL_SEND_FULL 1

/*
 * COUNTERS: the counters the owner of the network side adds to the
 * director's and the control channel's own. A pm_ctl_counters_fn reports
 * each of its counters by calling @emit(@emit_arg, name, value), in the
 * order they should be listed, and returns; @emit and @emit_arg are valid
 * only during the call. A name is borrowed for the duration of the @emit
 * call and must be 1 to PM_CTLMSG_COUNTER_NAME_MAX bytes of
 * [A-Za-z0-9_.-] (pm_ctlmsg_counter_name_ok()); others are left out (and
 * logged). Called on the ctl thread, from pm_ctl_input(); it must not block
 * and must not call back into this module.
 */
typedef void (*pm_ctl_counter_emit_fn)(void *emit_arg, const char *name, uint64_t value);
typedef void (*pm_ctl_counters_fn)(void *arg, pm_ctl_counter_emit_fn emit, void *emit_arg);

struct pm_ctl_params {
	/* Settings until the first state arrives (and the pin table size):
	 * the configuration file's director_* settings. */
	struct pm_director_config director;
	uint32_t pid;					/* for HELLO_ACK */
	uint8_t boot_id[PM_CTLMSG_BOOT_ID_LEN];		/* random per start */
	pm_ctl_send_fn send;
	void *send_arg;
	pm_ctl_counters_fn counters;	/* may be NULL: no network counters */
	void *counters_arg;
	/* The director's kicks, for the sessions (called on the ctl thread,
	 * during the director call that kicks). May be NULL: counted only. */
	pm_kick_cb kick;
	void *kick_arg;
};

enum pm_ctl_rc {
	PM_CTL_OK,	/* go on */
	PM_CTL_CLOSE,	/* close the connection, then pm_ctl_restart() */
};

enum pm_ctl_state {
	PM_CTL_HELLO,	/* connected, waiting for HELLO */
	PM_CTL_READY,	/* HELLO_ACK sent: requests and states */
	PM_CTL_STATE,	/* between STATE_BEGIN and STATE_COMMIT */
	PM_CTL_CLOSED,	/* the connection must be closed */
};

/* Counters; all public, read with pm_ctl_stats(). COUNTERS lists each as
 * "ctl.<field>", in this order. */
struct pm_ctl_stats {
	uint64_t received;		/* datagrams passed to pm_ctl_input() */
	uint64_t sent;			/* datagrams accepted by the send callback */
	uint64_t restarts;		/* pm_ctl_restart() calls */
	uint64_t states_applied;
	uint64_t states_refused;
	uint64_t requests_failed;	/* REPLY with a status < 0 */
	uint64_t errors_sent;		/* ERROR datagrams */
	uint64_t kicks;			/* kick events (no sessions yet: counted only) */
};

/*
 * Create the module and its director (empty host table, @p->director's
 * settings), in state HELLO. Returns NULL on allocation failure or invalid
 * settings. Allocates; ctl thread, online.
 */
struct pm_ctl *pm_ctl_new(const struct pm_ctl_params *p);

/* Free @c and its director (waits for readers and pending call_rcu
 * callbacks, see pm_director_free()). No reader may use the director. */
void pm_ctl_free(struct pm_ctl *c);

/*
 * The connection has ended (or a new one begins): forget its state
 * (a state transfer in progress, pending RESET_USERS answers, a list answer
 * not yet sent) and wait for HELLO. The director, its pins and the applied
 * generation are kept. Cannot fail.
 */
void pm_ctl_restart(struct pm_ctl *c);

/*
 * Handle one received datagram, @buf of @len bytes, at unix time @now_ms.
 * A datagram longer than PM_CTLMSG_MAX is refused as too large, so a caller
 * that receives into a buffer of PM_CTLMSG_MAX + 1 bytes with MSG_TRUNC
 * passes what it got (@len = PM_CTLMSG_MAX + 1) when it sees a longer one.
 * Answers go out through the send callback before this returns, except
 * RESET_USERS's (when its job has dispatched every user: from
 * pm_ctl_tick(), or at once) and list parts held back by PM_CTL_SEND_FULL
 * (from pm_ctl_pump()). COUNTERS calls the counters callback (see
 * pm_ctl_counters_fn) and answers with "director.*", "ctl.*", then the
 * callback's counters, as list parts; like every list it is a snapshot
 * taken here. Should not be called while pm_ctl_busy(): the held
 * parts are then sent first, ignoring the caller's low-water mark.
 */
enum pm_ctl_rc pm_ctl_input(struct pm_ctl *c, const void *buf, size_t len, uint64_t now_ms);

/*
 * Advance the director to @now_ms (pm_director_tick()); RESET_USERS answers
 * whose job completed are sent. Returns the next deadline (unix ms, or
 * UINT64_MAX) and sets *@rc. Call it whether or not a connection is up:
 * moves and expiry go on while disconnected.
 */
uint64_t pm_ctl_tick(struct pm_ctl *c, uint64_t now_ms, enum pm_ctl_rc *rc);

/* Send list parts held back by PM_CTL_SEND_FULL, until the callback says
 * FULL again or the list is done. */
enum pm_ctl_rc pm_ctl_pump(struct pm_ctl *c);

/* True while a list answer has parts left to send (the caller should stop
 * reading input until pm_ctl_pump() has sent them: requests are handled
 * one at a time). */
bool pm_ctl_busy(const struct pm_ctl *c);

enum pm_ctl_state pm_ctl_state(const struct pm_ctl *c);

/* The generation of the last state or host change applied (0: none). */
uint64_t pm_ctl_applied_generation(const struct pm_ctl *c);

/* The director. Writer calls only from the ctl thread; readers may call
 * pm_director_lookup() from any registered QSBR thread. */
struct pm_director *pm_ctl_director(struct pm_ctl *c);

void pm_ctl_stats(const struct pm_ctl *c, struct pm_ctl_stats *s);

#endif
