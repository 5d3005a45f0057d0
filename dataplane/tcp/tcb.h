/*
 * tcb.h -- the pre-login TCP endpoint, sans-IO (DESIGN.md "Data plane flow"
 * 2-8): the client's connection from the SYN-cookie ACK until the splice, and
 * the backend's connection from our SYN until the splice.
 *
 * Owner: one worker lcore owns a tcb and everything it points at; nothing is
 * shared, no atomics, no locks. The caller provides the struct and both
 * buffers (struct pm_tcb_params) and frees them; the tcb never allocates,
 * never frees, never logs, never reads a clock (time is the @now_ms argument:
 * a monotonic millisecond count that never goes back). Threads: the owning
 * lcore only. Segments come in already parsed and checksummed (struct
 * pm_tcb_seg) and go out as descriptors (struct pm_tcb_out) the caller turns
 * into packets; the tcb does not know addresses or ports.
 *
 * Driving it. After any call that may change the tcb (init, input, timeout,
 * send, recv_consume, close, abort), call pm_tcb_output() until it returns
 * fewer than @max descriptors, then read pm_tcb_deadline() and (re)arm the
 * caller's single timer entry for this tcb; when that time comes, call
 * pm_tcb_timeout() and then output again. Events (PM_TCB_EV_*) come back
 * from input/timeout and accumulate for pm_tcb_events().
 *
 * States and transitions (RFC 9293 3.3.2; no LISTEN, no SYN-RECEIVED: the
 * SYN cookie completes the passive handshake statelessly):
 *
 *   init_active -> SYN_SENT       the first output is our SYN
 *   SYN_SENT --SYN-ACK, acceptable ACK--> ESTABLISHED     (EV_ESTABLISHED)
 *   SYN_SENT --RST with acceptable ACK--> CLOSED   (EV_CONNECT_FAILED, refused)
 *   SYN_SENT --SYN retransmitted syn_retries times, last RTO over--> CLOSED
 *                                                  (EV_CONNECT_FAILED, timeout)
 *   SYN_SENT --close/abort--> CLOSED (nothing is sent)
 *   init_passive -> ESTABLISHED   (EV_ESTABLISHED)
 *   ESTABLISHED --close--> FIN_WAIT_1              our FIN after the buffered data
 *   ESTABLISHED --FIN--> CLOSE_WAIT                (EV_PEER_FIN)
 *   FIN_WAIT_1 --ACK of our FIN--> FIN_WAIT_2
 *   FIN_WAIT_1 --FIN, ours not yet acked--> CLOSING  (EV_PEER_FIN)
 *   FIN_WAIT_1 --FIN, ours acked (same segment)--> TIME_WAIT  (EV_PEER_FIN)
 *   FIN_WAIT_2 --FIN--> TIME_WAIT                  (EV_PEER_FIN)
 *   FIN_WAIT_2 --fin_wait2_ms without the peer's FIN--> FIN_WAIT_2 (EV_TIMEOUT)
 *   CLOSE_WAIT --close--> LAST_ACK
 *   CLOSING --ACK of our FIN--> TIME_WAIT
 *   LAST_ACK --ACK of our FIN--> CLOSED            (EV_CLOSED)
 *   TIME_WAIT --time_wait_ms without a segment--> CLOSED   (EV_CLOSED)
 *             (time_wait_ms == 0: CLOSED at once instead of TIME_WAIT)
 *   synchronized --RST with seq == RCV.NXT--> CLOSED       (EV_RESET; in
 *             TIME_WAIT EV_CLOSED, the close had completed already)
 *   synchronized --RTO or persist retries exhausted--> same state, timers
 *             stopped (EV_TIMEOUT): the caller calls pm_tcb_abort()
 *   any --abort--> CLOSED; the next output is one RST (none from SYN_SENT,
 *             TIME_WAIT or CLOSED)
 *
 * The caller frees the tcb once it is CLOSED (events CLOSED, RESET,
 * CONNECT_FAILED, or after abort), after one last output: it may hold the
 * abort's RST or, when time_wait_ms is 0, the final ACK. A CLOSED tcb
 * ignores input; the caller answers segments for connections it has no tcb
 * for (RFC 9293 3.10.7.1: RST with seq = the segment's ACK field).
 *
 * Decisions (what is deliberately simple, and why):
 * - No SACK generation, no out-of-order queue: out-of-order data is dropped
 *   and answered at once with a duplicate ACK; received SACK blocks are
 *   ignored. Pre-login traffic is a few lines each way, so a lost segment
 *   costs one retransmission, not throughput. sack_ok is still negotiated
 *   (and reported) because the splice passes SACK through afterwards.
 * - Every in-order data segment is ACKed at once (no delayed ACK): fewer
 *   timers, and the peer gets clean RTT samples; the cost is a few ACKs per
 *   session.
 * - Congestion control: none beyond a fixed cap on bytes in flight, the
 *   RFC 6928 initial window min(10 * SMSS, max(2 * SMSS, 14600)), also
 *   bounded by the peer's window; after an RTO, one segment in flight until
 *   SND.UNA advances (RFC 5681's loss window). Pre-login bytes are tiny; bulk
 *   data only ever flows through the splice, where the endpoints' own stacks
 *   do congestion control.
 * - Retransmission is go-back-N from SND.UNA on the RTO (RFC 6298 5.4-5.7:
 *   one segment, RTO doubled, timer restarted); no fast retransmit. Since we
 *   drop out-of-order data ourselves, go-back-N is what our peer-side needs.
 * - RTO: RFC 6298 estimator (G = 1 ms), initial 1 s (2.1), 3 s after a
 *   retransmitted SYN (5.7), Karn's rule (only segments sent once are timed,
 *   and a backed-off RTO stays until a new sample), maximum 60 s (the least
 *   2.5 allows). The minimum is params.rto_min_ms, default 200 ms rather than
 *   2.4's 1 s: RFC 6298 makes the 1 s floor a SHOULD, Linux has used 200 ms
 *   for decades, and here a spurious retransmission re-sends a greeting line
 *   while a 1 s floor turns every lost greeting into a visible login delay.
 *   Set it to 1000 for the strict reading.
 * - Zero window: the persist timer (RFC 9293 3.8.6.1) sends one byte past
 *   the window (the byte at SND.UNA) after one RTO, doubling up to 60 s.
 *   Probes the peer answers with an acceptable ACK do not count towards
 *   max_retries (RFC 1122 4.2.2.17: do not give up while the receiver
 *   answers); unanswered ones do. A client that keeps its window shut
 *   forever is bounded by the caller's idle timer, not here.
 * - No Nagle, no sender-side silly-window avoidance: the protocol machine
 *   writes whole lines and wants them out. Receiver side: a window update
 *   is volunteered only when the right edge moved by at least
 *   min(rbuf_size / 2, local.mss) (RFC 9293 3.8.6.2.2); the advertised
 *   window never shrinks (rounded up to the scale unit as Linux does).
 * - Segment acceptability, RST and SYN handling follow RFC 9293 3.10.7.4 and
 *   RFC 5961: an RST is acted on only if its seq is exactly RCV.NXT; in the
 *   window but not exact, or any SYN in a synchronized state, draws a
 *   challenge ACK; an ACK below SND.UNA - MAX.SND.WND or above SND.NXT draws
 *   an ACK and the segment is dropped (RFC 5961 5.2). With a zero receive
 *   window a segment at exactly RCV.NXT is still processed for its ACK and
 *   RST (RFC 9293 3.10.7.4), its data dropped. RCV.WND is the window we
 *   advertised (or the free space, if more); data is cut to the free space.
 * - Departures from the RFC's letter, each what BSD and/or Linux do, each
 *   needed to stop an ACK loop between two ends that the lossy simulation
 *   in test_tcb.c found:
 *   1. a bare segment exactly at the right window edge is acceptable (BSD,
 *      Linux): a sender that filled our window carries that edge as SND.NXT;
 *   2. a segment wholly left of RCV.NXT (an old duplicate) still has its
 *      ACK field processed, range-checked as above, before it is dropped and
 *      ACKed (BSD);
 *   3. the peer's window is also taken from any segment that acks new data,
 *      besides RFC 9293's SND.WL1/WL2 rule (Linux's
 *      tcp_may_update_window()): a go-back-N retransmission has an old seq
 *      but a current window;
 *   4. a segment without data (pure ACK, RST) carries SND.NXT as its seq,
 *      but never more than SND.UNA + SND.WND (Linux's tcp_acceptable_seq()):
 *      after a zero-window probe SND.NXT lies outside the peer's shut window;
 *   5. the ACKs we owe to segments we do not accept are limited to one per
 *      PM_TCB_OOW_ACK_MS when the segment is bare or a SYN (Linux's
 *      tcp_oow_rate_limited(); RFC 5961 7 asks the same of challenge ACKs):
 *      ACK loops and blind probes are made of such ACKs. Data segments always
 *      get their duplicate ACK, their sender needs it.
 * - TIME_WAIT exists but is short (params.time_wait_ms, default 2 s, 0 =
 *   skip): its 2*MSL job of keeping a tuple from being reused is not needed,
 *   because client tuples are admitted only through a fresh SYN cookie and
 *   backend connections use fresh local ports. It lingers only to re-ACK a
 *   retransmitted FIN whose ACK was lost, so the peer sees a clean close
 *   rather than an RST. In TIME_WAIT the tcb no longer touches either buffer
 *   (its own calls; pm_tcb_recv_peek() still reads unread bytes), so the
 *   caller may drain the receive buffer, reclaim both and keep the struct.
 * - Urgent data: URG and the urgent pointer are ignored, the bytes are
 *   ordinary data (IMAP, POP3 and LMTP do not use it). Simultaneous open
 *   (a SYN without ACK in SYN_SENT) is not supported: dropped. Timestamps
 *   (RFC 7323) are not negotiated; the cookie path does not offer them.
 * - Sequence layout: the byte with sequence number s lives at
 *   buf[s & (size - 1)] in either buffer, hence power-of-two sizes; the
 *   rings need no head index and never move bytes.
 *
 * Splice contract (pm_tcb_info(), filled by the tcb, read by the splice):
 * snd_una, snd_nxt (the highest sequence number sent + 1, the RFC's SND.NXT
 * even while a go-back retransmission is in progress), rcv_nxt, the peer's
 * window raw and scaled, both window scales (-1 when scaling is off), the
 * peer's MSS and the MSS we send with, sack_ok (both sides offered it), and
 * "quiescent": every byte and flag we sent is acked, nothing waits to be
 * sent, and the receive buffer is empty. Splicing is safe only from a
 * quiescent ESTABLISHED tcb; from then on the tcb must not be driven again.
 */
#ifndef PM_TCB_H
#define PM_TCB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TCP header flag bits, as on the wire (RFC 9293 3.1). */
#define PM_TCB_F_FIN	0x01
#define PM_TCB_F_SYN	0x02
#define PM_TCB_F_RST	0x04
#define PM_TCB_F_PSH	0x08
#define PM_TCB_F_ACK	0x10
#define PM_TCB_F_URG	0x20

/* Events: a bitmask; each bit is raised at the moment it happens. */
#define PM_TCB_EV_ESTABLISHED	 0x01	/* handshake complete (init_passive, SYN-ACK) */
#define PM_TCB_EV_DATA		 0x02	/* new in-order bytes in the receive buffer */
#define PM_TCB_EV_PEER_FIN	 0x04	/* the peer's FIN arrived in order (no more data) */
#define PM_TCB_EV_RESET		 0x08	/* acceptable RST: CLOSED,
					 * pm_tcb_error() -ECONNRESET */
#define PM_TCB_EV_CONNECT_FAILED 0x10	/* SYN_SENT gave up: CLOSED, pm_tcb_error()
					 * -ECONNREFUSED or -ETIMEDOUT */
#define PM_TCB_EV_TIMEOUT	 0x20	/* retries exhausted (or FIN_WAIT_2 too long):
					 * timers stopped, the caller should abort */
#define PM_TCB_EV_CLOSED	 0x40	/* graceful close complete: both FINs exchanged
					 * and acked, TIME_WAIT over; state CLOSED */
#define PM_TCB_EV_ACKED		 0x80	/* SND.UNA advanced: send buffer space freed */

#define PM_TCB_MSS_MIN		64u	/* peer MSS below this is raised to it */
#define PM_TCB_MSS_MAX		65495u	/* largest MSS we announce */
#define PM_TCB_MSS_DEFAULT	536u	/* peer MSS when it sent none (RFC 9293 3.7.1) */
#define PM_TCB_WSCALE_MAX	14	/* RFC 7323 2.3 */
#define PM_TCB_BUF_MAX		(1u << 24)	/* largest buffer, bytes */
#define PM_TCB_RETRIES_MAX	30u
#define PM_TCB_RTO_INIT_MS	1000u	/* RFC 6298 2.1 */
#define PM_TCB_RTO_SYN_MS	3000u	/* RFC 6298 5.7 */
#define PM_TCB_RTO_MAX_MS	60000u	/* RFC 6298 2.5 */
#define PM_TCB_SEG_MAX		65535u	/* largest payload pm_tcb_input() accepts */
#define PM_TCB_OOW_ACK_MS	500u	/* at most one ACK per this to bare segments we
					 * do not accept (Linux tcp_invalid_ratelimit) */

enum pm_tcb_state {
	PM_TCB_CLOSED = 0,
	PM_TCB_SYN_SENT,
	PM_TCB_ESTABLISHED,
	PM_TCB_FIN_WAIT_1,
	PM_TCB_FIN_WAIT_2,
	PM_TCB_CLOSE_WAIT,
	PM_TCB_CLOSING,
	PM_TCB_LAST_ACK,
	PM_TCB_TIME_WAIT,
};

/* SYN options, ours or the peer's. */
struct pm_tcb_opts {
	uint16_t mss;		/* 0 = no MSS option */
	int8_t wscale;		/* -1 = no window scale option */
	bool sack_ok;		/* SACK-permitted option */
};

struct pm_tcb_params {
	void *sbuf;		/* send buffer: bytes we send and keep until acked */
	uint32_t sbuf_size;	/* a power of two, 1..PM_TCB_BUF_MAX */
	void *rbuf;		/* receive buffer: in-order bytes not yet consumed */
	uint32_t rbuf_size;	/* a power of two, 1..PM_TCB_BUF_MAX */
	/* Our SYN options: announced in our SYN (active), or the ones the cookie
	 * path announced in its SYN-ACK (passive; must be the same values).
	 * mss 64..PM_TCB_MSS_MAX (also the most we send in one segment),
	 * wscale -1 or 0..14, sack_ok. */
	struct pm_tcb_opts local;
	uint32_t max_retries;	/* RTOs (and unanswered zero-window probes) in a
				 * row before EV_TIMEOUT, 1..PM_TCB_RETRIES_MAX */
	uint32_t syn_retries;	/* SYN retransmissions before EV_CONNECT_FAILED,
				 * 0..PM_TCB_RETRIES_MAX */
	uint32_t rto_min_ms;	/* RTO floor, 1..PM_TCB_RTO_MAX_MS */
	uint32_t time_wait_ms;	/* TIME_WAIT linger, 0..65535; 0 = no TIME_WAIT */
	uint32_t fin_wait2_ms;	/* FIN_WAIT_2 limit, 0..65535; 0 = none */
};

/*
 * Buffers NULL/0; local = { 1460, 7, true }; max_retries 8; syn_retries 4
 * (SYNs at 0, 1, 3, 7, 15 s, failure at 31 s: close to Dovecot's 30 s proxy
 * connect timeout); rto_min_ms 200; time_wait_ms 2000; fin_wait2_ms 30000.
 */
void pm_tcb_params_defaults(struct pm_tcb_params *p);

/* A received segment, parsed and checksummed by the caller. */
struct pm_tcb_seg {
	uint32_t seq, ack;
	uint8_t flags;		/* PM_TCB_F_* */
	uint32_t wnd;		/* the raw 16-bit window field, 0..65535 */
	bool has_mss;		/* SYN options (read on a SYN-ACK only) */
	uint16_t mss;
	int8_t wscale;		/* -1 = absent */
	bool sack_ok;
	uint8_t nsack;		/* SACK blocks: accepted, ignored (see above) */
	uint32_t sack[4][2];
};

/* A segment to send now. */
struct pm_tcb_out {
	uint32_t seq, ack;	/* ack is 0 when PM_TCB_F_ACK is clear */
	uint8_t flags;		/* PM_TCB_F_* */
	uint16_t wnd;		/* the window field, already scaled down */
	/* SYN options (only when PM_TCB_F_SYN is set). */
	uint16_t mss;		/* 0 = none */
	int8_t wscale;		/* -1 = none */
	bool sack_ok;
	/* Payload: points into the send buffer, valid until the next call that
	 * changes the tcb (input, timeout, send, close, abort). */
	const uint8_t *payload;
	size_t len;
};

/*
 * The tcb. Every field is private to tcb.c; read it with the functions
 * below. 128 bytes on LP64 (checked at compile time).
 */
struct pm_tcb {
	uint8_t *sbuf;
	uint8_t *rbuf;
	uint64_t deadline;	/* of the running timer, UINT64_MAX if none */
	uint32_t smask, slen;	/* send ring: size - 1, bytes from SND.UNA on */
	uint32_t rmask, rlen;	/* receive ring: size - 1, unread bytes */
	uint32_t snd_una, snd_nxt, snd_max;	/* snd_max: highest sent + 1 */
	uint32_t snd_wnd;	/* peer's window, scaled */
	uint32_t snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t rcv_nxt, rcv_adv;	/* rcv_adv: right edge last advertised */
	uint32_t rtt_seq, rtt_ts;	/* the timed segment, its send time (ms, mod 2^32) */
	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t rst_seq;	/* SYN_SENT: seq of the RST owed to a bad ACK */
	uint32_t oow_ts;	/* when the last rate-limited ACK was owed (ms, mod 2^32) */
	uint16_t flags;
	uint16_t snd_wnd_raw;	/* the window field that set snd_wnd */
	uint16_t peer_mss, our_mss;
	uint16_t rto_min_ms, time_wait_ms, fin_wait2_ms;
	uint8_t state, events, err, timer, retries, backoff;
	uint8_t snd_ws, rcv_ws, max_retries, syn_retries;
};

/*
 * Passive open, after the client's ACK validated as a SYN cookie: our ISS
 * @iss (the cookie; the ACK acked iss + 1), the client's ISN @irs (the ACK's
 * seq - 1), the options of the client's SYN @peer (as decoded from the
 * cookie). The tcb starts ESTABLISHED with EV_ESTABLISHED pending. Then feed
 * that same ACK segment to pm_tcb_input() (always: it carries the peer's
 * window, and its payload if any). Window scaling is on only if both
 * peer->wscale and params->local.wscale are >= 0, SACK only if both offered
 * it. Returns 0, or -EINVAL for bad params (see struct pm_tcb_params). Does
 * not allocate; @now_ms is the creation time.
 */
int pm_tcb_init_passive(struct pm_tcb *t, const struct pm_tcb_params *params, uint32_t iss,
			uint32_t irs, const struct pm_tcb_opts *peer, uint64_t now_ms);

/*
 * Active open: SYN_SENT; the first output is the SYN with params->local's
 * options (MSS, window scale if >= 0, SACK-permitted if set). Data may be
 * queued with pm_tcb_send() already; it leaves after the handshake. Returns
 * 0 or -EINVAL. Does not allocate.
 */
int pm_tcb_init_active(struct pm_tcb *t, const struct pm_tcb_params *params, uint32_t iss,
		       uint64_t now_ms);

/*
 * One received segment for this connection: @s parsed, @payload/@len its
 * data (NULL/0 for none). Returns the events raised by this call (>= 0; also
 * accumulated for pm_tcb_events()), or -EINVAL for a NULL @t/@s, payload
 * NULL with len > 0, len > PM_TCB_SEG_MAX or wnd > 65535 (nothing changed).
 * Copies in-order data into the receive buffer; never keeps @payload.
 */
int pm_tcb_input(struct pm_tcb *t, const struct pm_tcb_seg *s, const uint8_t *payload,
		 size_t len, uint64_t now_ms);

/*
 * Fill up to @max descriptors with the segments to send now, in order: a
 * pending RST, our SYN, a zero-window probe, data (and FIN), then a pure ACK
 * if one is still owed. Returns how many; call again while it returns @max.
 * Starts the retransmission timer and RTT timing for what it sends (so the
 * caller must transmit what it is given). Does not allocate.
 */
size_t pm_tcb_output(struct pm_tcb *t, uint64_t now_ms, struct pm_tcb_out *out, size_t max);

/*
 * Append @n bytes from @p to the send buffer; they leave in the next outputs.
 * Returns 0, -ENOBUFS if they do not all fit (nothing is appended: never
 * partial), -EPIPE after close() (our FIN is queued) or after the tcb timed
 * out, -ENOTCONN in CLOSED. Allowed in SYN_SENT, ESTABLISHED, CLOSE_WAIT.
 */
int pm_tcb_send(struct pm_tcb *t, const void *p, size_t n);

/* Free space in the send buffer, bytes. */
size_t pm_tcb_send_space(const struct pm_tcb *t);

/*
 * Point *@p at the oldest unread received bytes and return how many are
 * contiguous there (0 if none). The ring may wrap: after consuming them,
 * peek again. The bytes stay valid until pm_tcb_recv_consume() or input.
 */
size_t pm_tcb_recv_peek(const struct pm_tcb *t, const uint8_t **p);

/*
 * Mark @n unread bytes as consumed (more than are unread is clamped). This
 * opens the receive window; if its right edge moved far enough (see the top
 * of this file), a window update ACK is owed to the next output.
 */
void pm_tcb_recv_consume(struct pm_tcb *t, size_t n);

/*
 * Close our side: a FIN follows the buffered data (ESTABLISHED ->
 * FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK); in SYN_SENT the tcb goes CLOSED at
 * once (no event). A no-op in the other states.
 */
void pm_tcb_close(struct pm_tcb *t);

/*
 * Abort: the tcb goes CLOSED now (pm_tcb_error() -ECONNABORTED unless an
 * error was already set) and the next output is one RST|ACK with seq =
 * SND.NXT (snd_max, but not past the peer's window) and ack = RCV.NXT; no
 * RST from SYN_SENT, TIME_WAIT or CLOSED. Buffered data is discarded.
 */
void pm_tcb_abort(struct pm_tcb *t);

/* When pm_tcb_timeout() must run next (ms), UINT64_MAX if no timer runs. */
uint64_t pm_tcb_deadline(const struct pm_tcb *t);

/*
 * Run the timer if @now_ms has reached the deadline (otherwise nothing
 * happens): SYN or data retransmission, zero-window probe, TIME_WAIT end,
 * FIN_WAIT_2 limit. Returns the events raised (>= 0). Call output after.
 */
int pm_tcb_timeout(struct pm_tcb *t, uint64_t now_ms);

/* Events raised since the previous call of pm_tcb_events() (or init); clears
 * them. */
unsigned pm_tcb_events(struct pm_tcb *t);

enum pm_tcb_state pm_tcb_state(const struct pm_tcb *t);

/*
 * Why the tcb closed: 0 (graceful, or not closed), -ECONNREFUSED (RST in
 * SYN_SENT), -ETIMEDOUT (SYN retries exhausted, or EV_TIMEOUT raised),
 * -ECONNRESET (RST), -ECONNABORTED (pm_tcb_abort()).
 */
int pm_tcb_error(const struct pm_tcb *t);

/* Every byte and flag sent is acked, none waits, the receive buffer is
 * empty (see the splice contract above). */
bool pm_tcb_quiescent(const struct pm_tcb *t);

struct pm_tcb_info {
	enum pm_tcb_state state;
	uint32_t snd_una;
	uint32_t snd_nxt;	/* highest sequence number sent + 1 */
	uint32_t rcv_nxt;
	uint32_t rcv_wnd;	/* right edge we last advertised - rcv_nxt (0 if behind) */
	uint32_t snd_wnd;	/* the peer's window, scaled (bytes) */
	uint16_t snd_wnd_raw;	/* the window field that set snd_wnd (unscaled
				 * in a SYN-ACK, scaled by snd_wscale after) */
	int8_t snd_wscale;	/* the peer's shift, -1 when scaling is off */
	int8_t rcv_wscale;	/* ours, -1 when scaling is off */
	uint16_t peer_mss;	/* as the peer announced it (PM_TCB_MSS_DEFAULT if not) */
	uint16_t smss;		/* the largest segment we send: min(peer_mss, local.mss) */
	bool sack_ok;		/* both sides sent SACK-permitted */
	bool quiescent;		/* pm_tcb_quiescent() */
	bool peer_fin;		/* the peer's FIN arrived (rcv_nxt counts it) */
	uint32_t send_queued;	/* bytes in the send buffer (unacked + unsent) */
	uint32_t recv_queued;	/* unread bytes in the receive buffer */
	uint32_t rto_ms;	/* current RTO (backed off, if it is) */
	uint32_t srtt_us;	/* smoothed RTT, 0 before the first sample */
	uint32_t rttvar_us;
};

/* Fill @out with the tcb's current numbers. */
void pm_tcb_info(const struct pm_tcb *t, struct pm_tcb_info *out);

/* "closed", "syn-sent", "established", ... or "?" . Static strings. */
const char *pm_tcb_state_name(enum pm_tcb_state s);

#endif
