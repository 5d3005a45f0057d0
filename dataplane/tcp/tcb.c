/*
 * tcb.c -- the pre-login TCP endpoint of tcb.h: RFC 9293 segment processing
 * for one connection, RFC 6298 retransmission timing, RFC 5961 RST/SYN/ACK
 * hardening, zero-window probing, in two caller-provided rings.
 *
 * Sequence space on the send side: [snd_una, snd_una + slen) are the bytes
 * in the send buffer (acked ones are dropped at once), followed by our FIN
 * once close() was called; snd_nxt is where the next segment starts (pulled
 * back to snd_una by an RTO or by the persist timer: go-back-N), snd_max the
 * highest sequence number sent + 1 (the RFC's SND.NXT). In SYN_SENT the SYN
 * sits at snd_una (= ISS) and the data starts at snd_una + 1.
 *
 * Invariants (the fuzz target checks them):
 *   snd_una <= snd_nxt <= snd_max <= snd_una + slen + FIN_SENT (+1 in SYN_SENT)
 *   slen <= sbuf size, rlen <= rbuf size
 *   exactly one timer kind runs, and deadline == UINT64_MAX iff none does.
 */
#include "tcp/tcb.h"

#include <errno.h>
#include <string.h>

#include "tcp/seq.h"

_Static_assert(sizeof(struct pm_tcb) <= 128, "struct pm_tcb must stay within 128 bytes");

/* t->flags */
#define F_OWE_ACK	0x0001	/* an ACK must go out (pure, if no data carries it) */
#define F_FIN_QUEUED	0x0002	/* close() called: our FIN follows the data */
#define F_FIN_SENT	0x0004	/* our FIN has been sent (snd_max covers it) */
#define F_FIN_ACKED	0x0008
#define F_PEER_FIN	0x0010	/* the peer's FIN was taken: rcv_nxt covers it */
#define F_RST_PENDING	0x0020	/* abort(): one RST|ACK to send */
#define F_RST_REPLY	0x0040	/* SYN_SENT: RST with seq rst_seq owed to a bad ACK */
#define F_REXMT_ONE	0x0080	/* after an RTO: one segment in flight until una moves */
#define F_PROBE_DUE	0x0100	/* the persist timer fired: send one probe byte */
#define F_SYN_REXMT	0x0200	/* our SYN was retransmitted */
#define F_RTT_ON	0x0400	/* timing the segment at rtt_seq */
#define F_HAVE_RTT	0x0800	/* srtt/rttvar hold a sample */
#define F_WS		0x1000	/* window scaling requested (SYN_SENT) / in effect */
#define F_SACK		0x2000	/* SACK-permitted requested (SYN_SENT) / agreed */
#define F_TIMED_OUT	0x4000	/* EV_TIMEOUT raised: timers stopped for good */
#define F_OOW_SENT	0x8000	/* oow_ts holds the time of a rate-limited ACK */

/* t->timer: the one timer that runs. */
enum {
	T_NONE = 0,
	T_RTO,		/* SYN, data or FIN unacked */
	T_PERSIST,	/* zero window, data waiting */
	T_FW2,		/* FIN_WAIT_2 limit */
	T_TW,		/* TIME_WAIT linger */
};

/* t->err */
enum {
	E_NONE = 0,
	E_REFUSED,
	E_TIMEDOUT,
	E_RESET,
	E_ABORTED,
};

#define RTT_G_US	1000u	/* clock granularity G of RFC 6298: 1 ms */
#define BACKOFF_MAX	16u

void
pm_tcb_params_defaults(struct pm_tcb_params *p)
{
	memset(p, 0, sizeof(*p));
	p->local.mss = 1460;
	p->local.wscale = 7;
	p->local.sack_ok = true;
	p->max_retries = 8;
	p->syn_retries = 4;
	p->rto_min_ms = 200;
	p->time_wait_ms = 2000;
	p->fin_wait2_ms = 30000;
}

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static bool
pow2_in_range(uint32_t n)
{
	return n >= 1 && n <= PM_TCB_BUF_MAX && (n & (n - 1)) == 0;
}

static int
params_check(const struct pm_tcb_params *p)
{
	int ws;

	if (p == NULL || p->sbuf == NULL || p->rbuf == NULL)
		return -EINVAL;
	if (!pow2_in_range(p->sbuf_size) || !pow2_in_range(p->rbuf_size))
		return -EINVAL;
	if (p->local.mss < PM_TCB_MSS_MIN || p->local.mss > PM_TCB_MSS_MAX)
		return -EINVAL;
	if (p->local.wscale < -1 || p->local.wscale > PM_TCB_WSCALE_MAX)
		return -EINVAL;
	/* The window must be able to open: at least two units of the scale. */
	ws = p->local.wscale > 0 ? p->local.wscale : 0;
	if ((p->rbuf_size >> ws) < 2)
		return -EINVAL;
	if (p->max_retries < 1 || p->max_retries > PM_TCB_RETRIES_MAX ||
	    p->syn_retries > PM_TCB_RETRIES_MAX)
		return -EINVAL;
	if (p->rto_min_ms < 1 || p->rto_min_ms > PM_TCB_RTO_MAX_MS)
		return -EINVAL;
	if (p->time_wait_ms > UINT16_MAX || p->fin_wait2_ms > UINT16_MAX)
		return -EINVAL;
	return 0;
}

static void
init_common(struct pm_tcb *t, const struct pm_tcb_params *p)
{
	memset(t, 0, sizeof(*t));
	t->sbuf = p->sbuf;
	t->rbuf = p->rbuf;
	t->smask = p->sbuf_size - 1;
	t->rmask = p->rbuf_size - 1;
	t->deadline = UINT64_MAX;
	t->timer = T_NONE;
	t->our_mss = p->local.mss;
	t->peer_mss = PM_TCB_MSS_DEFAULT;
	t->rto_min_ms = (uint16_t)p->rto_min_ms;
	t->rto_ms = p->rto_min_ms > PM_TCB_RTO_INIT_MS ? p->rto_min_ms : PM_TCB_RTO_INIT_MS;
	t->time_wait_ms = (uint16_t)p->time_wait_ms;
	t->fin_wait2_ms = (uint16_t)p->fin_wait2_ms;
	t->max_retries = (uint8_t)p->max_retries;
	t->syn_retries = (uint8_t)p->syn_retries;
}

static uint16_t
peer_mss_of(uint16_t mss)
{
	if (mss == 0)
		return PM_TCB_MSS_DEFAULT;
	return mss < PM_TCB_MSS_MIN ? PM_TCB_MSS_MIN : mss;
}

static uint8_t
wscale_of(int8_t ws)
{
	return ws > PM_TCB_WSCALE_MAX ? PM_TCB_WSCALE_MAX : (uint8_t)ws;
}

int
pm_tcb_init_passive(struct pm_tcb *t, const struct pm_tcb_params *params, uint32_t iss,
		    uint32_t irs, const struct pm_tcb_opts *peer, uint64_t now_ms)
{
	int rc;

	(void)now_ms;
	if (t == NULL || peer == NULL)
		return -EINVAL;
	if ((rc = params_check(params)) != 0)
		return rc;
	init_common(t, params);
	t->state = PM_TCB_ESTABLISHED;
	/* The cookie ACK acked our SYN-ACK: SYN-RECEIVED -> ESTABLISHED. */
	t->snd_una = t->snd_nxt = t->snd_max = iss + 1;
	t->rcv_nxt = t->rcv_adv = irs + 1;
	/* SND.WL1 one below the ACK's seq, so the first input takes its
	 * window (RFC 9293 3.10.7.4, SYN-RECEIVED: SND.WND <- SEG.WND). */
	t->snd_wl1 = irs;
	t->snd_wl2 = iss;
	t->peer_mss = peer_mss_of(peer->mss);
	if (peer->wscale >= 0 && params->local.wscale >= 0) {
		t->flags |= F_WS;
		t->snd_ws = wscale_of(peer->wscale);
		t->rcv_ws = (uint8_t)params->local.wscale;
	}
	if (peer->sack_ok && params->local.sack_ok)
		t->flags |= F_SACK;
	t->events = PM_TCB_EV_ESTABLISHED;
	return 0;
}

int
pm_tcb_init_active(struct pm_tcb *t, const struct pm_tcb_params *params, uint32_t iss,
		   uint64_t now_ms)
{
	int rc;

	(void)now_ms;
	if (t == NULL)
		return -EINVAL;
	if ((rc = params_check(params)) != 0)
		return rc;
	init_common(t, params);
	t->state = PM_TCB_SYN_SENT;
	t->snd_una = t->snd_nxt = t->snd_max = iss;
	if (params->local.wscale >= 0) {
		t->flags |= F_WS;
		t->rcv_ws = (uint8_t)params->local.wscale;
	}
	if (params->local.sack_ok)
		t->flags |= F_SACK;
	return 0;
}

/* ---- small helpers ---- */

static uint32_t
rbuf_free(const struct pm_tcb *t)
{
	return t->rmask + 1 - t->rlen;
}

/*
 * RCV.WND for the acceptability test: what we advertised (the right edge
 * never retreats), or the free space if that is more. Advertising rounds up
 * to the scale unit (wnd_field()), so the advertised edge can lie a few
 * bytes past the free space; a segment the peer sends there is acceptable
 * (its ACK counts) even though only the free space is taken from it.
 */
static uint32_t
rcv_wnd(const struct pm_tcb *t)
{
	uint32_t free = rbuf_free(t), adv;

	if (!pm_seq_gt(t->rcv_adv, t->rcv_nxt))
		return free;
	adv = t->rcv_adv - t->rcv_nxt;
	return adv > free ? adv : free;
}

/* The largest segment we send (RFC 9293 3.7.1: Eff.snd.MSS). */
static uint32_t
smss(const struct pm_tcb *t)
{
	return min_u32(t->peer_mss, t->our_mss);
}

/* RFC 6928: min(10 * SMSS, max(2 * SMSS, 14600)). */
static uint32_t
initial_window(const struct pm_tcb *t)
{
	uint32_t m = smss(t), w = 2 * m > 14600 ? 2 * m : 14600;

	return min_u32(10 * m, w);
}

/*
 * The seq of a segment that carries no data (pure ACK, RST): SND.NXT, but
 * never past the right edge of the peer's window. After a zero-window probe
 * SND.NXT lies one byte beyond a shut window; an ACK with that seq is not
 * acceptable to the peer, which answers it with an ACK of its own, and two
 * such endpoints ACK each other forever (Linux: tcp_acceptable_seq()).
 */
static uint32_t
bare_seq(const struct pm_tcb *t, uint32_t nxt)
{
	uint32_t end = t->snd_una + t->snd_wnd;

	return pm_seq_le(nxt, end) ? nxt : end;
}

static void
ring_put(uint8_t *buf, uint32_t mask, uint32_t seq, const uint8_t *p, uint32_t n)
{
	uint32_t idx = seq & mask, first = min_u32(n, mask + 1 - idx);

	memcpy(buf + idx, p, first);
	memcpy(buf, p + first, n - first);
}

/*
 * The window field for a non-SYN segment; records the right edge it
 * advertises. Never shrinks the window: if the free space rounded down to
 * the scale unit would put the right edge left of the last one, the old
 * edge is kept, rounded up (RFC 9293 3.8.6.2.2 "SHOULD NOT shrink";
 * Linux's tcp_select_window() does the same).
 */
static uint16_t
wnd_field(struct pm_tcb *t)
{
	uint32_t f = rbuf_free(t) >> t->rcv_ws, cur, edge;

	if (f > UINT16_MAX)
		f = UINT16_MAX;
	if (pm_seq_gt(t->rcv_adv, t->rcv_nxt)) {
		cur = t->rcv_adv - t->rcv_nxt;
		if ((f << t->rcv_ws) < cur) {
			f = (cur + (1u << t->rcv_ws) - 1) >> t->rcv_ws;
			if (f > UINT16_MAX)
				f = UINT16_MAX;
		}
	}
	edge = t->rcv_nxt + (f << t->rcv_ws);
	if (pm_seq_gt(edge, t->rcv_adv))
		t->rcv_adv = edge;
	return (uint16_t)f;
}

/* Zero-window probe interval: the RTO, doubled per probe, at most 60 s. */
static uint32_t
persist_ivl(const struct pm_tcb *t)
{
	uint64_t v = (uint64_t)t->rto_ms << t->backoff;

	return v > PM_TCB_RTO_MAX_MS ? PM_TCB_RTO_MAX_MS : (uint32_t)v;
}

/*
 * Pick the one timer the state calls for. A timer that keeps running keeps
 * its deadline (RFC 6298 5.1: start the RTO timer only if it is not running);
 * the places that restart one (RTO on new ACK, 5.3; each expiry, 5.6; a
 * retransmitted FIN in TIME_WAIT) set the deadline themselves.
 */
static void
timer_sync(struct pm_tcb *t, uint64_t now)
{
	uint8_t want;

	if (t->state == PM_TCB_CLOSED)
		want = T_NONE;
	else if (t->state == PM_TCB_TIME_WAIT)
		want = T_TW;	/* even after EV_TIMEOUT: it only ends things */
	else if (t->flags & F_TIMED_OUT)
		want = T_NONE;
	else if (t->state != PM_TCB_SYN_SENT && t->snd_wnd == 0 && t->slen > 0)
		want = T_PERSIST;
	else if (t->snd_max != t->snd_una)
		want = T_RTO;
	else if (t->state == PM_TCB_FIN_WAIT_2 && t->fin_wait2_ms > 0)
		want = T_FW2;
	else
		want = T_NONE;
	if (want == t->timer)
		return;
	if (t->timer == T_PERSIST) {
		/* The window opened: resend from SND.UNA whatever went past it
		 * (the probe byte, or bytes in flight when it closed). */
		t->backoff = 0;
		t->snd_nxt = t->snd_una;
	}
	switch (want) {
	case T_RTO:
		t->deadline = now + t->rto_ms;
		break;
	case T_PERSIST:
		/* Bytes in flight past a window that closed are resent once it
		 * opens again; until then only probes go out, and they are not
		 * timed (their ACK can come a backoff later). */
		t->snd_nxt = t->snd_una;
		t->flags &= ~F_RTT_ON;
		t->deadline = now + persist_ivl(t);
		break;
	case T_FW2:
		t->deadline = now + t->fin_wait2_ms;
		break;
	case T_TW:
		t->deadline = now + t->time_wait_ms;
		break;
	default:
		t->deadline = UINT64_MAX;
		break;
	}
	t->timer = want;
}

static void
enter_closed(struct pm_tcb *t, uint8_t err, uint8_t ev)
{
	t->state = PM_TCB_CLOSED;
	if (t->err == E_NONE)
		t->err = err;
	t->events |= ev;
	t->timer = T_NONE;
	t->deadline = UINT64_MAX;
	/* Only a final ACK (graceful close without TIME_WAIT) may still go. */
	t->flags &= ~(F_RST_REPLY | F_PROBE_DUE | F_REXMT_ONE | F_RTT_ON);
	if (err != E_NONE)
		t->flags &= ~F_OWE_ACK;
}

/* A retransmitted FIN in TIME_WAIT: "restart the 2 MSL timeout". */
static void
time_wait_restart(struct pm_tcb *t, uint64_t now)
{
	if (t->state == PM_TCB_TIME_WAIT && t->timer == T_TW)
		t->deadline = now + t->time_wait_ms;
}

static void
enter_time_wait(struct pm_tcb *t, uint64_t now)
{
	if (t->time_wait_ms == 0) {
		enter_closed(t, E_NONE, PM_TCB_EV_CLOSED);
		return;
	}
	t->state = PM_TCB_TIME_WAIT;
	t->timer = T_TW;
	t->deadline = now + t->time_wait_ms;
}

/*
 * An ACK owed to a segment we did not take: one beyond the window, an old
 * duplicate, a challenge (RST not exactly at RCV.NXT, a SYN, an ACK outside
 * SND.UNA - MAX.SND.WND .. SND.NXT). When that segment carries no data it
 * may be half of an ACK loop (two ends answering each other's bare ACKs) or
 * a blind attacker's probe, so such answers are limited to one per
 * PM_TCB_OOW_ACK_MS (Linux's tcp_oow_rate_limited(), tcp_invalid_ratelimit;
 * RFC 5961 7). A data segment is always answered: its sender needs the
 * duplicate ACK to stop retransmitting what we have.
 */
static void
owe_oow_ack(struct pm_tcb *t, uint32_t len, uint8_t flags, uint64_t now)
{
	if (len > 0 && !(flags & PM_TCB_F_SYN)) {
		t->flags |= F_OWE_ACK;
		return;
	}
	if ((t->flags & F_OOW_SENT) && (uint32_t)now - t->oow_ts < PM_TCB_OOW_ACK_MS)
		return;
	t->flags |= F_OWE_ACK | F_OOW_SENT;
	t->oow_ts = (uint32_t)now;
}

/* RFC 6298 2.2-2.5 on one sample of @r_ms, in microseconds. */
static void
rtt_sample(struct pm_tcb *t, uint32_t r_ms)
{
	uint64_t r, srtt, var, d, rto;

	if (r_ms > PM_TCB_RTO_MAX_MS)
		r_ms = PM_TCB_RTO_MAX_MS;
	r = (uint64_t)r_ms * 1000;
	if (!(t->flags & F_HAVE_RTT)) {
		srtt = r;		/* 2.2 */
		var = r / 2;
		t->flags |= F_HAVE_RTT;
	} else {
		srtt = t->srtt_us;	/* 2.3: RTTVAR first, with the old SRTT */
		var = t->rttvar_us;
		d = srtt > r ? srtt - r : r - srtt;
		var = (3 * var + d) / 4;
		srtt = (7 * srtt + r) / 8;
	}
	t->srtt_us = (uint32_t)srtt;
	t->rttvar_us = (uint32_t)var;
	rto = srtt + (4 * var > RTT_G_US ? 4 * var : RTT_G_US);
	rto = (rto + 999) / 1000;
	if (rto < t->rto_min_ms)
		rto = t->rto_min_ms;	/* 2.4 (our floor, see tcb.h) */
	if (rto > PM_TCB_RTO_MAX_MS)
		rto = PM_TCB_RTO_MAX_MS;	/* 2.5 */
	t->rto_ms = (uint32_t)rto;
}

/* ---- input ---- */

/*
 * RFC 9293 3.10.7.4, first check: the four acceptability cases, with one
 * deliberate difference that BSD (tcp_input: todrop = 0) and Linux
 * (tcp_sequence(): !after(seq, rcv_nxt + wnd)) share: a zero-length segment
 * exactly at the right edge is acceptable. A sender that filled our window
 * carries that edge as SND.NXT in its pure ACKs; if the first of its
 * segments was lost, the strict test rejects every ACK it sends, and two
 * such ends ACK each other's rejected ACKs without end.
 */
static bool
seq_acceptable(uint32_t rcv_nxt, uint32_t wnd, uint32_t seq, uint32_t seglen)
{
	if (seglen == 0)
		return pm_seq_in(seq, rcv_nxt, rcv_nxt + wnd + 1);
	if (wnd == 0)
		return false;
	return pm_seq_in(seq, rcv_nxt, rcv_nxt + wnd) ||
	       pm_seq_in(seq + seglen - 1, rcv_nxt, rcv_nxt + wnd);
}

/* SND.UNA < @ack <= snd_max: bytes (and maybe our FIN) acked. */
static void
ack_advance(struct pm_tcb *t, uint32_t ack, uint64_t now)
{
	uint32_t acked = ack - t->snd_una;
	bool fin_now = false;

	if (acked > t->slen) {
		/* Only our FIN lies past the data (snd_max <= una + slen + 1). */
		acked = t->slen;
		if (!(t->flags & F_FIN_ACKED))
			fin_now = true;
		t->flags |= F_FIN_ACKED;
	}
	t->slen -= acked;
	t->snd_una = ack;
	if (pm_seq_lt(t->snd_nxt, ack))
		t->snd_nxt = ack;
	/* Karn: F_RTT_ON is cleared by every retransmission. */
	if ((t->flags & F_RTT_ON) && pm_seq_gt(ack, t->rtt_seq)) {
		t->flags &= ~F_RTT_ON;
		rtt_sample(t, (uint32_t)now - t->rtt_ts);
	}
	t->retries = 0;
	t->flags &= ~F_REXMT_ONE;
	if (t->timer == T_RTO)
		t->deadline = now + t->rto_ms;	/* RFC 6298 5.3 (timer_sync stops it
						 * if nothing is left in flight) */
	t->events |= PM_TCB_EV_ACKED;
	if (!fin_now)
		return;
	switch (t->state) {
	case PM_TCB_FIN_WAIT_1:
		t->state = PM_TCB_FIN_WAIT_2;
		break;
	case PM_TCB_CLOSING:
		enter_time_wait(t, now);
		break;
	case PM_TCB_LAST_ACK:
		enter_closed(t, E_NONE, PM_TCB_EV_CLOSED);
		break;
	default:
		break;
	}
}

/*
 * RFC 9293 3.10.7.4, seventh and eighth: in-order text into the receive
 * buffer up to its free space, then the FIN if everything before it was
 * taken. Out-of-order text is dropped (no reassembly queue) and answered
 * with a duplicate ACK.
 */
static void
take_text(struct pm_tcb *t, uint32_t seq, const uint8_t *p, uint32_t len, bool fin,
	  uint64_t now)
{
	uint32_t take, dup;

	if (len == 0 && !fin)
		return;
	t->flags |= F_OWE_ACK;
	if (pm_seq_lt(seq, t->rcv_nxt)) {
		dup = t->rcv_nxt - seq;
		if (dup > len)
			return;		/* only an old FIN: cannot be in these states */
		p += dup;
		len -= dup;
		seq = t->rcv_nxt;
	}
	if (seq != t->rcv_nxt)
		return;			/* out of order: dropped, duplicate ACK */
	take = min_u32(len, rbuf_free(t));
	if (take > 0) {
		ring_put(t->rbuf, t->rmask, t->rcv_nxt, p, take);
		t->rcv_nxt += take;
		t->rlen += take;
		t->events |= PM_TCB_EV_DATA;
	}
	if (!fin || take != len)
		return;			/* a FIN behind dropped bytes waits for them */
	t->rcv_nxt++;
	t->flags |= F_PEER_FIN;
	t->events |= PM_TCB_EV_PEER_FIN;
	switch (t->state) {
	case PM_TCB_ESTABLISHED:
		t->state = PM_TCB_CLOSE_WAIT;
		break;
	case PM_TCB_FIN_WAIT_1:
		/* Our FIN is not acked (ack_advance() would have made this
		 * FIN_WAIT_2 already). */
		t->state = PM_TCB_CLOSING;
		break;
	case PM_TCB_FIN_WAIT_2:
		enter_time_wait(t, now);
		break;
	default:
		break;
	}
}

/* RFC 9293 3.10.7.3, SYN-SENT. */
static void
input_syn_sent(struct pm_tcb *t, const struct pm_tcb_seg *s, const uint8_t *p, uint32_t len,
	       uint64_t now)
{
	bool ack_ok = false;

	if (s->flags & PM_TCB_F_ACK) {
		/* Acceptable iff ISS < SEG.ACK =< SND.NXT, i.e. it acks our SYN. */
		if (!pm_seq_gt(s->ack, t->snd_una) || !pm_seq_le(s->ack, t->snd_max)) {
			if (!(s->flags & PM_TCB_F_RST)) {
				t->rst_seq = s->ack;
				t->flags |= F_RST_REPLY;
			}
			return;
		}
		ack_ok = true;
	}
	if (s->flags & PM_TCB_F_RST) {
		/* Without an acceptable ACK an RST is not ours to believe. */
		if (ack_ok)
			enter_closed(t, E_REFUSED, PM_TCB_EV_CONNECT_FAILED);
		return;
	}
	if (!(s->flags & PM_TCB_F_SYN) || !ack_ok)
		return;		/* a plain ACK, or a simultaneous open: dropped */

	t->rcv_nxt = t->rcv_adv = s->seq + 1;
	t->snd_una = t->snd_nxt = s->ack;
	t->peer_mss = peer_mss_of(s->has_mss ? s->mss : 0);
	if ((t->flags & F_WS) && s->wscale >= 0) {
		t->snd_ws = wscale_of(s->wscale);
	} else {
		t->flags &= ~F_WS;
		t->snd_ws = t->rcv_ws = 0;
	}
	if (!s->sack_ok)
		t->flags &= ~F_SACK;
	/* The window of a SYN is never scaled (RFC 7323 2.2). */
	t->snd_wnd = t->max_snd_wnd = s->wnd;
	t->snd_wnd_raw = (uint16_t)s->wnd;
	t->snd_wl1 = s->seq;
	t->snd_wl2 = s->ack;
	if (t->flags & F_RTT_ON) {
		t->flags &= ~F_RTT_ON;
		rtt_sample(t, (uint32_t)now - t->rtt_ts);
	} else if (t->flags & F_SYN_REXMT) {
		t->rto_ms = PM_TCB_RTO_SYN_MS;	/* RFC 6298 5.7 */
	}
	t->retries = 0;
	t->state = PM_TCB_ESTABLISHED;
	t->events |= PM_TCB_EV_ESTABLISHED;
	t->flags |= F_OWE_ACK;
	take_text(t, s->seq + 1, p, len, (s->flags & PM_TCB_F_FIN) != 0, now);
}

/* RFC 9293 3.10.7.4, the synchronized states. */
static void
input_sync(struct pm_tcb *t, const struct pm_tcb_seg *s, const uint8_t *p, uint32_t len,
	   uint64_t now)
{
	uint32_t seq = s->seq, wnd = rcv_wnd(t);
	bool fin = (s->flags & PM_TCB_F_FIN) != 0, advanced;
	uint32_t seglen = len + ((s->flags & PM_TCB_F_SYN) != 0) + fin;

	/* First: sequence number. */
	if (!seq_acceptable(t->rcv_nxt, wnd, seq, seglen)) {
		if (pm_seq_gt(seq, t->rcv_nxt) ||
		    ((s->flags & PM_TCB_F_RST) && seq != t->rcv_nxt)) {
			/* Beyond the window, or an RST not exactly at RCV.NXT:
			 * ACK (never an RST) and drop. */
			if (!(s->flags & PM_TCB_F_RST)) {
				owe_oow_ack(t, len, s->flags, now);
				if (fin)
					time_wait_restart(t, now);
			}
			return;
		}
		/*
		 * At or left of RCV.NXT: an old duplicate, or a segment at a
		 * shut window. RFC 9293 drops it after the ACK; like BSD we
		 * still take its ACK field (range-checked below, RFC 5961
		 * 5.2), and at a zero window its RST (3.10.7.4: "special
		 * allowance should be made to accept valid ACKs, URGs, and
		 * RSTs"). Otherwise two ends whose pure ACKs each sit one
		 * byte behind the other's RCV.NXT (both accepted the other's
		 * zero-window probe) never learn it and ACK each other
		 * forever. The text goes; a bare FIN exactly at RCV.NXT needs
		 * no buffer and is taken (as Linux does).
		 */
		if (fin)
			time_wait_restart(t, now);
		if (len > 0 || seq != t->rcv_nxt) {
			owe_oow_ack(t, len, s->flags, now);
			fin = false;
		}
		/* else a bare FIN (taken and ACKed below) or SYN (challenged
		 * below) exactly at RCV.NXT of a shut window */
		len = 0;
	}
	/* Second: RST (RFC 5961 3.2). */
	if (s->flags & PM_TCB_F_RST) {
		if (seq != t->rcv_nxt)
			owe_oow_ack(t, 0, s->flags, now);	/* challenge ACK */
		else if (t->state == PM_TCB_TIME_WAIT)
			enter_closed(t, E_NONE, PM_TCB_EV_CLOSED);
		else
			enter_closed(t, E_RESET, PM_TCB_EV_RESET);
		return;
	}
	/* Fourth: SYN in a synchronized state (RFC 5961 4.2). */
	if (s->flags & PM_TCB_F_SYN) {
		owe_oow_ack(t, len, s->flags, now);	/* challenge ACK */
		return;
	}
	/* Fifth: ACK. */
	if (!(s->flags & PM_TCB_F_ACK))
		return;
	if (pm_seq_gt(s->ack, t->snd_max) ||
	    pm_seq_lt(s->ack, t->snd_una - t->max_snd_wnd)) {
		owe_oow_ack(t, len, s->flags, now);	/* RFC 5961 5.2 */
		return;
	}
	advanced = pm_seq_gt(s->ack, t->snd_una);
	if (advanced) {
		ack_advance(t, s->ack, now);
		if (t->state == PM_TCB_CLOSED)
			return;			/* LAST_ACK is over */
	}
	if (s->ack == t->snd_una) {
		/*
		 * SND.UNA =< SEG.ACK =< SND.NXT: window update if this segment
		 * is newer than the one that set it: RFC 9293's SND.WL1/WL2
		 * rule, or (as Linux's tcp_may_update_window()) it acked new
		 * data. A go-back-N retransmission has an old seq but a current
		 * ACK and window; the RFC rule alone would keep a stale window
		 * whose right edge the peer has long left behind.
		 */
		if (advanced || pm_seq_lt(t->snd_wl1, seq) ||
		    (t->snd_wl1 == seq && pm_seq_le(t->snd_wl2, s->ack))) {
			t->snd_wnd = s->wnd << t->snd_ws;
			t->snd_wnd_raw = (uint16_t)s->wnd;
			t->snd_wl1 = seq;
			t->snd_wl2 = s->ack;
			if (t->snd_wnd > t->max_snd_wnd)
				t->max_snd_wnd = t->snd_wnd;
		}
		/* The peer answers our probes (RFC 1122 4.2.2.17). */
		if (t->timer == T_PERSIST)
			t->retries = 0;
	}
	/* Seventh and eighth: text and FIN. */
	switch (t->state) {
	case PM_TCB_ESTABLISHED:
	case PM_TCB_FIN_WAIT_1:
	case PM_TCB_FIN_WAIT_2:
		take_text(t, seq, p, len, fin, now);
		break;
	default:
		/* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer's FIN came
		 * already; text is ignored, a FIN is a retransmission. */
		if (len > 0 || fin)
			t->flags |= F_OWE_ACK;
		if (fin)
			time_wait_restart(t, now);
		break;
	}
}

int
pm_tcb_input(struct pm_tcb *t, const struct pm_tcb_seg *s, const uint8_t *payload, size_t len,
	     uint64_t now_ms)
{
	uint8_t before, ev;

	if (t == NULL || s == NULL || (len > 0 && payload == NULL) || len > PM_TCB_SEG_MAX ||
	    s->wnd > UINT16_MAX)
		return -EINVAL;
	if (t->state == PM_TCB_CLOSED)
		return 0;
	before = t->events;
	t->events = 0;
	if (t->state == PM_TCB_SYN_SENT)
		input_syn_sent(t, s, payload, (uint32_t)len, now_ms);
	else
		input_sync(t, s, payload, (uint32_t)len, now_ms);
	timer_sync(t, now_ms);
	ev = t->events;
	t->events = before | ev;
	return ev;
}

/* ---- output ---- */

static void
out_init(struct pm_tcb_out *o, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd)
{
	memset(o, 0, sizeof(*o));
	o->seq = seq;
	o->ack = ack;
	o->flags = flags;
	o->wnd = wnd;
	o->wscale = -1;
}

static size_t
output_sync(struct pm_tcb *t, uint64_t now, struct pm_tcb_out *out, size_t max)
{
	uint32_t data_end, avail, flight, lim, usable, len, m = smss(t);
	struct pm_tcb_out *o;
	size_t n = 0;
	bool fin;

	if ((t->flags & F_PROBE_DUE) && n < max) {
		t->flags &= ~F_PROBE_DUE;
		if (t->snd_wnd == 0 && t->slen > 0) {
			/* One byte past the zero window: the byte at SND.UNA. */
			o = &out[n++];
			out_init(o, t->snd_una, t->rcv_nxt, PM_TCB_F_ACK, wnd_field(t));
			o->payload = t->sbuf + (t->snd_una & t->smask);
			o->len = 1;
			if (pm_seq_lt(t->snd_nxt, t->snd_una + 1))
				t->snd_nxt = t->snd_una + 1;
			t->snd_max = pm_seq_max(t->snd_max, t->snd_nxt);
			t->flags &= ~F_OWE_ACK;
		}
	}
	while (n < max) {
		data_end = t->snd_una + t->slen;
		avail = pm_seq_lt(t->snd_nxt, data_end) ? data_end - t->snd_nxt : 0;
		flight = t->snd_nxt - t->snd_una;
		lim = min_u32(t->snd_wnd, (t->flags & F_REXMT_ONE) ? m : initial_window(t));
		usable = lim > flight ? lim - flight : 0;
		len = min_u32(min_u32(avail, usable), m);
		len = min_u32(len, t->smask + 1 - (t->snd_nxt & t->smask));
		/* The FIN needs no window; it goes with (or after) the last byte. */
		fin = (t->flags & (F_FIN_QUEUED | F_FIN_ACKED)) == F_FIN_QUEUED &&
		      t->snd_nxt + len == data_end;
		if (len == 0 && !fin)
			break;
		o = &out[n++];
		out_init(o, t->snd_nxt, t->rcv_nxt, PM_TCB_F_ACK, wnd_field(t));
		if (fin)
			o->flags |= PM_TCB_F_FIN;
		if (len > 0) {
			o->payload = t->sbuf + (t->snd_nxt & t->smask);
			o->len = len;
			if (t->snd_nxt + len == data_end)
				o->flags |= PM_TCB_F_PSH;
		}
		/* Time only segments sent for the first time (Karn). */
		if (t->snd_nxt == t->snd_max && !(t->flags & F_RTT_ON) && t->snd_wnd > 0) {
			t->rtt_seq = t->snd_nxt;
			t->rtt_ts = (uint32_t)now;
			t->flags |= F_RTT_ON;
		}
		t->snd_nxt += len + fin;
		t->snd_max = pm_seq_max(t->snd_max, t->snd_nxt);
		if (fin)
			t->flags |= F_FIN_SENT;
		t->flags &= ~F_OWE_ACK;
	}
	if ((t->flags & F_OWE_ACK) && n < max) {
		t->flags &= ~F_OWE_ACK;
		out_init(&out[n++], bare_seq(t, t->snd_nxt), t->rcv_nxt, PM_TCB_F_ACK,
			 wnd_field(t));
	}
	return n;
}

size_t
pm_tcb_output(struct pm_tcb *t, uint64_t now_ms, struct pm_tcb_out *out, size_t max)
{
	struct pm_tcb_out *o;
	size_t n = 0;

	if (t == NULL || out == NULL || max == 0)
		return 0;
	if (t->flags & F_RST_PENDING) {
		/* abort(): the tcb is CLOSED already; this is all that goes. */
		t->flags &= ~F_RST_PENDING;
		out_init(&out[n++], bare_seq(t, t->snd_max), t->rcv_nxt,
			 PM_TCB_F_RST | PM_TCB_F_ACK, 0);
		return n;
	}
	if (t->flags & F_RST_REPLY) {
		/* RFC 9293 3.10.7.3: <SEQ=SEG.ACK><CTL=RST>. */
		t->flags &= ~F_RST_REPLY;
		out_init(&out[n++], t->rst_seq, 0, PM_TCB_F_RST, 0);
	}
	switch (t->state) {
	case PM_TCB_CLOSED:
		/* A graceful close without TIME_WAIT owes the last ACK. */
		if ((t->flags & F_OWE_ACK) && n < max) {
			t->flags &= ~F_OWE_ACK;
			out_init(&out[n++], bare_seq(t, t->snd_nxt), t->rcv_nxt, PM_TCB_F_ACK,
				 wnd_field(t));
		}
		return n;
	case PM_TCB_SYN_SENT:
		if (t->snd_nxt == t->snd_una && n < max) {
			o = &out[n++];
			out_init(o, t->snd_una, 0, PM_TCB_F_SYN,
				 (uint16_t)min_u32(rbuf_free(t), UINT16_MAX));
			o->mss = t->our_mss;
			o->wscale = (t->flags & F_WS) ? (int8_t)t->rcv_ws : -1;
			o->sack_ok = (t->flags & F_SACK) != 0;
			t->snd_nxt = t->snd_una + 1;
			t->snd_max = t->snd_nxt;
			if (!(t->flags & F_SYN_REXMT)) {
				t->rtt_seq = t->snd_una;
				t->rtt_ts = (uint32_t)now_ms;
				t->flags |= F_RTT_ON;
			}
		}
		break;
	default:
		n += output_sync(t, now_ms, out + n, max - n);
		break;
	}
	timer_sync(t, now_ms);
	return n;
}

/* ---- timers ---- */

uint64_t
pm_tcb_deadline(const struct pm_tcb *t)
{
	return t->deadline;
}

static void
timed_out(struct pm_tcb *t)
{
	t->flags |= F_TIMED_OUT;
	if (t->err == E_NONE)
		t->err = E_TIMEDOUT;
	t->events |= PM_TCB_EV_TIMEOUT;
}

int
pm_tcb_timeout(struct pm_tcb *t, uint64_t now_ms)
{
	uint8_t before, ev;

	if (t == NULL || t->timer == T_NONE || now_ms < t->deadline)
		return 0;
	before = t->events;
	t->events = 0;
	switch (t->timer) {
	case T_RTO:
		t->flags &= ~F_RTT_ON;		/* Karn: nothing resent is timed */
		t->retries++;
		if (t->state == PM_TCB_SYN_SENT) {
			if (t->retries > t->syn_retries) {
				enter_closed(t, E_TIMEDOUT, PM_TCB_EV_CONNECT_FAILED);
				break;
			}
			t->flags |= F_SYN_REXMT;
		} else {
			if (t->retries > t->max_retries) {
				timed_out(t);
				break;
			}
			t->flags |= F_REXMT_ONE;
		}
		/* RFC 6298 5.4-5.6: resend from SND.UNA, back off, restart. */
		t->snd_nxt = t->snd_una;
		t->rto_ms = min_u32(2 * t->rto_ms, PM_TCB_RTO_MAX_MS);
		t->deadline = now_ms + t->rto_ms;
		break;
	case T_PERSIST:
		if (++t->retries > t->max_retries) {
			timed_out(t);
			break;
		}
		t->flags |= F_PROBE_DUE;
		if (t->backoff < BACKOFF_MAX)
			t->backoff++;
		t->deadline = now_ms + persist_ivl(t);
		break;
	case T_FW2:
		timed_out(t);
		break;
	case T_TW:
		enter_closed(t, E_NONE, PM_TCB_EV_CLOSED);
		break;
	default:
		break;
	}
	timer_sync(t, now_ms);
	ev = t->events;
	t->events = before | ev;
	return ev;
}

unsigned
pm_tcb_events(struct pm_tcb *t)
{
	unsigned ev = t->events;

	t->events = 0;
	return ev;
}

/* ---- the application side ---- */

int
pm_tcb_send(struct pm_tcb *t, const void *p, size_t n)
{
	uint32_t start;

	switch (t->state) {
	case PM_TCB_SYN_SENT:
	case PM_TCB_ESTABLISHED:
	case PM_TCB_CLOSE_WAIT:
		break;
	case PM_TCB_CLOSED:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (t->flags & (F_FIN_QUEUED | F_TIMED_OUT))
		return -EPIPE;
	if (n == 0)
		return 0;
	if (p == NULL)
		return -EINVAL;
	if (n > pm_tcb_send_space(t))
		return -ENOBUFS;
	/* In SYN_SENT the SYN holds snd_una; data starts one later. */
	start = t->snd_una + (t->state == PM_TCB_SYN_SENT) + t->slen;
	ring_put(t->sbuf, t->smask, start, p, (uint32_t)n);
	t->slen += (uint32_t)n;
	return 0;
}

size_t
pm_tcb_send_space(const struct pm_tcb *t)
{
	return t->smask + 1 - t->slen;
}

size_t
pm_tcb_recv_peek(const struct pm_tcb *t, const uint8_t **p)
{
	uint32_t start, idx;

	if (t->rlen == 0) {
		*p = NULL;
		return 0;
	}
	start = t->rcv_nxt - t->rlen - ((t->flags & F_PEER_FIN) != 0);
	idx = start & t->rmask;
	*p = t->rbuf + idx;
	return min_u32(t->rlen, t->rmask + 1 - idx);
}

void
pm_tcb_recv_consume(struct pm_tcb *t, size_t n)
{
	uint32_t f, edge, thresh;

	if (n > t->rlen)
		n = t->rlen;
	if (n == 0)
		return;
	t->rlen -= (uint32_t)n;
	if (t->state != PM_TCB_ESTABLISHED && t->state != PM_TCB_FIN_WAIT_1 &&
	    t->state != PM_TCB_FIN_WAIT_2)
		return;		/* the peer sends no more: no window to offer */
	/* Receiver SWS avoidance (RFC 9293 3.8.6.2.2): volunteer an update
	 * only when the right edge moves by min(RCV.BUFF / 2, MSS). */
	f = rbuf_free(t) >> t->rcv_ws;
	if (f > UINT16_MAX)
		f = UINT16_MAX;
	edge = t->rcv_nxt + (f << t->rcv_ws);
	thresh = min_u32((t->rmask + 1) / 2, t->our_mss);
	if (pm_seq_gt(edge, t->rcv_adv) && edge - t->rcv_adv >= thresh)
		t->flags |= F_OWE_ACK;
}

void
pm_tcb_close(struct pm_tcb *t)
{
	switch (t->state) {
	case PM_TCB_SYN_SENT:
		t->slen = 0;
		enter_closed(t, E_NONE, 0);
		break;
	case PM_TCB_ESTABLISHED:
		t->state = PM_TCB_FIN_WAIT_1;
		t->flags |= F_FIN_QUEUED;
		break;
	case PM_TCB_CLOSE_WAIT:
		t->state = PM_TCB_LAST_ACK;
		t->flags |= F_FIN_QUEUED;
		break;
	default:
		break;
	}
}

void
pm_tcb_abort(struct pm_tcb *t)
{
	switch (t->state) {
	case PM_TCB_CLOSED:
		return;
	case PM_TCB_SYN_SENT:
		enter_closed(t, E_ABORTED, 0);
		break;
	case PM_TCB_TIME_WAIT:
		enter_closed(t, E_NONE, 0);
		break;
	default:
		enter_closed(t, E_ABORTED, 0);
		t->flags |= F_RST_PENDING;
		break;
	}
	t->flags &= ~F_OWE_ACK;
	t->slen = 0;
}

/* ---- queries ---- */

enum pm_tcb_state
pm_tcb_state(const struct pm_tcb *t)
{
	return (enum pm_tcb_state)t->state;
}

int
pm_tcb_error(const struct pm_tcb *t)
{
	switch (t->err) {
	case E_REFUSED:
		return -ECONNREFUSED;
	case E_TIMEDOUT:
		return -ETIMEDOUT;
	case E_RESET:
		return -ECONNRESET;
	case E_ABORTED:
		return -ECONNABORTED;
	default:
		return 0;
	}
}

bool
pm_tcb_quiescent(const struct pm_tcb *t)
{
	return t->slen == 0 && t->snd_una == t->snd_max && t->rlen == 0 &&
	       !(t->flags & (F_FIN_QUEUED | F_OWE_ACK | F_RST_PENDING | F_RST_REPLY));
}

void
pm_tcb_info(const struct pm_tcb *t, struct pm_tcb_info *o)
{
	bool ws = (t->flags & F_WS) && t->state != PM_TCB_SYN_SENT;
	uint32_t rw = t->rcv_adv - t->rcv_nxt;

	memset(o, 0, sizeof(*o));
	o->state = (enum pm_tcb_state)t->state;
	o->snd_una = t->snd_una;
	o->snd_nxt = t->snd_max;
	o->rcv_nxt = t->rcv_nxt;
	o->rcv_wnd = pm_seq_gt(t->rcv_adv, t->rcv_nxt) ? rw : 0;
	o->snd_wnd = t->snd_wnd;
	o->snd_wnd_raw = t->snd_wnd_raw;
	o->snd_wscale = ws ? (int8_t)t->snd_ws : -1;
	o->rcv_wscale = ws ? (int8_t)t->rcv_ws : -1;
	o->peer_mss = t->peer_mss;
	o->smss = (uint16_t)smss(t);
	o->sack_ok = (t->flags & F_SACK) && t->state != PM_TCB_SYN_SENT;
	o->quiescent = pm_tcb_quiescent(t);
	o->peer_fin = (t->flags & F_PEER_FIN) != 0;
	o->send_queued = t->slen;
	o->recv_queued = t->rlen;
	o->rto_ms = t->rto_ms;
	o->srtt_us = t->srtt_us;
	o->rttvar_us = t->rttvar_us;
}

const char *
pm_tcb_state_name(enum pm_tcb_state s)
{
	switch (s) {
	case PM_TCB_CLOSED:
		return "closed";
	case PM_TCB_SYN_SENT:
		return "syn-sent";
	case PM_TCB_ESTABLISHED:
		return "established";
	case PM_TCB_FIN_WAIT_1:
		return "fin-wait-1";
	case PM_TCB_FIN_WAIT_2:
		return "fin-wait-2";
	case PM_TCB_CLOSE_WAIT:
		return "close-wait";
	case PM_TCB_CLOSING:
		return "closing";
	case PM_TCB_LAST_ACK:
		return "last-ack";
	case PM_TCB_TIME_WAIT:
		return "time-wait";
	}
	return "?";
}
