/*
 * test_tcb.c -- the pre-login TCP endpoint (tcp/tcb.h).
 *
 * Two kinds of case:
 * - scripted: one tcb, segments written by hand, time driven explicitly,
 *   every output descriptor checked (handshakes, RST/SYN/ACK hardening, FIN
 *   in every state, RTO and persist timing, RFC 6298 arithmetic, windows);
 * - simulated: two tcbs back to back through a fake network (seeded loss,
 *   duplication, reordering, delay) with the passive one created the way the
 *   SYN-cookie path will create it, random byte streams both ways through
 *   small buffers, consumers that stall (zero windows), and both sides
 *   closing; every byte must arrive exactly once and in order.
 * Random cases print their seed; PM_SEED replays one.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/seq.h"
#include "tcp/tcb.h"
#include "testrand.h"

#define TEST_SEED 0x7cb2e14du

#define ISS 4095u	/* our ISS in scripted cases: data starts at ring slot 0 */
#define IRS 5000u	/* the peer's ISN */

#define F_FIN PM_TCB_F_FIN
#define F_SYN PM_TCB_F_SYN
#define F_RST PM_TCB_F_RST
#define F_PSH PM_TCB_F_PSH
#define F_ACK PM_TCB_F_ACK

#define OMAX 64

static uint8_t g_sbuf[1 << 16];
static uint8_t g_rbuf[1 << 16];
static struct pm_tcb_out O[OMAX];
static const struct pm_tcb_opts no_opts = { 0, -1, false };

/* ---- helpers ---- */

static struct pm_tcb_params
mkparams(uint32_t ssz, uint32_t rsz)
{
	struct pm_tcb_params p;

	pm_tcb_params_defaults(&p);
	p.sbuf = g_sbuf;
	p.sbuf_size = ssz;
	p.rbuf = g_rbuf;
	p.rbuf_size = rsz;
	p.local.wscale = -1;	/* scripted cases scale only where they say so */
	return p;
}

static struct pm_tcb_seg
mkseg(uint32_t seq, uint32_t ack, uint8_t flags, uint32_t wnd)
{
	struct pm_tcb_seg s;

	memset(&s, 0, sizeof(s));
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.wnd = wnd;
	s.wscale = -1;
	return s;
}

/* Feed one segment; returns the events (asserts it was not rejected). */
static int
in(struct pm_tcb *t, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t wnd,
   const void *data, size_t len, uint64_t now)
{
	struct pm_tcb_seg s = mkseg(seq, ack, flags, wnd);
	int rc = pm_tcb_input(t, &s, data, len, now);

	assert_true(rc >= 0);
	return rc;
}

static size_t
out(struct pm_tcb *t, uint64_t now)
{
	size_t n = pm_tcb_output(t, now, O, OMAX);

	assert_true(n < OMAX);
	return n;
}

static void
assert_seg(const struct pm_tcb_out *o, uint32_t seq, uint32_t ack, uint8_t flags, size_t len)
{
	if (o->seq != seq || o->ack != ack || o->flags != flags || o->len != len)
		fail_msg("segment seq %" PRIu32 " ack %" PRIu32 " flags 0x%02x len %zu, "
			 "expected seq %" PRIu32 " ack %" PRIu32 " flags 0x%02x len %zu",
			 o->seq, o->ack, o->flags, o->len, seq, ack, flags, len);
}

/* Passive tcb after the cookie ACK (window @wnd, no options): ESTABLISHED,
 * events cleared. snd_nxt = ISS + 1, rcv_nxt = IRS + 1. */
static void
mk_passive_iss(struct pm_tcb *t, const struct pm_tcb_params *p, uint32_t wnd, uint32_t iss)
{
	assert_int_equal(pm_tcb_init_passive(t, p, iss, IRS, &no_opts, 0), 0);
	assert_int_equal(pm_tcb_events(t), PM_TCB_EV_ESTABLISHED);
	assert_int_equal(in(t, IRS + 1, iss + 1, F_ACK, wnd, NULL, 0, 0), 0);
	assert_int_equal(out(t, 0), 0);
}

static void
mk_passive(struct pm_tcb *t, const struct pm_tcb_params *p, uint32_t wnd)
{
	mk_passive_iss(t, p, wnd, ISS);
}

static struct pm_tcb_info
info(const struct pm_tcb *t)
{
	struct pm_tcb_info i;

	pm_tcb_info(t, &i);
	return i;
}

/* The invariants of tcb.c, read from the private fields. */
static void
check_invariants(const struct pm_tcb *t)
{
	assert_true(t->slen <= t->smask + 1);
	assert_true(t->rlen <= t->rmask + 1);
	assert_true((t->timer == 0) == (t->deadline == UINT64_MAX));
	if (t->state == PM_TCB_CLOSED)
		return;
	assert_true(pm_seq_le(t->snd_una, t->snd_nxt));
	assert_true(pm_seq_le(t->snd_nxt, t->snd_max));
	/* SYN or FIN: at most one flag beyond the data. */
	assert_true(t->snd_max - t->snd_una <= t->slen + 1);
}

static const uint8_t text[] =
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+] ready.\r\n"
	"a001 LOGIN user@example.org secret\r\n"
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/* ---- parameters ---- */

static void
test_tcb_params_invalid_are_rejected(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p;

	(void)state;
	p = mkparams(1024, 1024);
	assert_int_equal(pm_tcb_init_active(&t, &p, 1, 0), 0);
	assert_int_equal(pm_tcb_init_passive(&t, &p, 1, 2, &no_opts, 0), 0);
	assert_int_equal(pm_tcb_init_active(&t, NULL, 1, 0), -EINVAL);
	assert_int_equal(pm_tcb_init_passive(&t, &p, 1, 2, NULL, 0), -EINVAL);
#define BAD(stmt)                                                        \
	do {                                                              \
		p = mkparams(1024, 1024);                                 \
		stmt;                                                     \
		assert_int_equal(pm_tcb_init_active(&t, &p, 1, 0), -EINVAL); \
		assert_int_equal(pm_tcb_init_passive(&t, &p, 1, 2, &no_opts, 0), -EINVAL); \
	} while (0)
	BAD(p.sbuf = NULL);
	BAD(p.rbuf = NULL);
	BAD(p.sbuf_size = 0);
	BAD(p.rbuf_size = 0);
	BAD(p.sbuf_size = 1000);
	BAD(p.rbuf_size = 3);
	BAD(p.sbuf_size = PM_TCB_BUF_MAX * 2);
	BAD(p.local.mss = PM_TCB_MSS_MIN - 1);
	BAD(p.local.mss = PM_TCB_MSS_MAX + 1);
	BAD(p.local.wscale = 15);
	BAD(p.local.wscale = -2);
	BAD(p.rbuf_size = 128; p.local.wscale = 7);	/* one window unit only */
	BAD(p.max_retries = 0);
	BAD(p.max_retries = PM_TCB_RETRIES_MAX + 1);
	BAD(p.syn_retries = PM_TCB_RETRIES_MAX + 1);
	BAD(p.rto_min_ms = 0);
	BAD(p.rto_min_ms = PM_TCB_RTO_MAX_MS + 1);
	BAD(p.time_wait_ms = 65536);
	BAD(p.fin_wait2_ms = 65536);
#undef BAD
	/* The smallest legal buffers. */
	p = mkparams(1, 2);
	p.local.wscale = -1;
	assert_int_equal(pm_tcb_init_active(&t, &p, 1, 0), 0);
	p.rbuf_size = 256;
	p.local.wscale = 7;
	assert_int_equal(pm_tcb_init_active(&t, &p, 1, 0), 0);
	assert_true(sizeof(struct pm_tcb) <= 128);
}

static void
test_tcb_input_invalid_is_einval_and_changes_nothing(void **state)
{
	struct pm_tcb t, copy;
	struct pm_tcb_params p = mkparams(1024, 1024);
	struct pm_tcb_seg s = mkseg(IRS + 1, ISS + 1, F_ACK, 100);

	(void)state;
	mk_passive(&t, &p, 1000);
	copy = t;
	assert_int_equal(pm_tcb_input(&t, &s, NULL, 5, 1), -EINVAL);
	assert_int_equal(pm_tcb_input(&t, &s, text, PM_TCB_SEG_MAX + 1, 1), -EINVAL);
	s.wnd = 65536;
	assert_int_equal(pm_tcb_input(&t, &s, NULL, 0, 1), -EINVAL);
	assert_int_equal(pm_tcb_input(&t, NULL, NULL, 0, 1), -EINVAL);
	assert_memory_equal(&t, &copy, sizeof(t));
}

/* ---- active open ---- */

static void
test_tcb_active_first_output_is_syn_with_options(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 4096);
	uint32_t iss = 0xfffffff0u;

	(void)state;
	p.local.mss = 1400;
	p.local.wscale = 5;
	assert_int_equal(pm_tcb_init_active(&t, &p, iss, 0), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_SYN_SENT);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	/* Data queued before the handshake waits for it. */
	assert_int_equal(pm_tcb_send(&t, "ID\r\n", 4), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_seg(&O[0], iss, 0, F_SYN, 0);
	assert_int_equal(O[0].mss, 1400);
	assert_int_equal(O[0].wscale, 5);
	assert_true(O[0].sack_ok);
	assert_int_equal(O[0].wnd, 4096);	/* a SYN's window is not scaled */
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	assert_int_equal(out(&t, 10), 0);
	/* Without window scaling or SACK wanted, the SYN says so. */
	p.local.wscale = -1;
	p.local.sack_ok = false;
	p.rbuf_size = 1 << 16;
	assert_int_equal(pm_tcb_init_active(&t, &p, iss, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(O[0].wscale, -1);
	assert_false(O[0].sack_ok);
	assert_int_equal(O[0].wnd, 65535);
}

static void
test_tcb_syn_ack_establishes_and_learns_peer_options(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 4096);
	struct pm_tcb_seg s;
	struct pm_tcb_info i;
	uint32_t iss = 0xfffffff0u;

	(void)state;
	p.local.mss = 1400;
	p.local.wscale = 5;
	assert_int_equal(pm_tcb_init_active(&t, &p, iss, 0), 0);
	assert_int_equal(pm_tcb_send(&t, "ID\r\n", 4), 0);
	assert_int_equal(out(&t, 0), 1);
	s = mkseg(7000, iss + 1, F_SYN | F_ACK, 2000);
	s.has_mss = true;
	s.mss = 1000;
	s.wscale = 3;
	s.sack_ok = true;
	assert_int_equal(pm_tcb_input(&t, &s, NULL, 0, 40), PM_TCB_EV_ESTABLISHED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	/* The queued data carries the ACK of the SYN-ACK. */
	assert_int_equal(out(&t, 40), 1);
	assert_seg(&O[0], iss + 1, 7001, F_ACK | F_PSH, 4);
	assert_memory_equal(O[0].payload, "ID\r\n", 4);
	assert_int_equal(O[0].wnd, 4096 >> 5);
	i = info(&t);
	assert_int_equal(i.peer_mss, 1000);
	assert_int_equal(i.smss, 1000);
	assert_int_equal(i.snd_wscale, 3);
	assert_int_equal(i.rcv_wscale, 5);
	assert_true(i.sack_ok);
	assert_int_equal(i.snd_wnd, 2000);	/* the SYN-ACK's window is not scaled */
	assert_int_equal(i.snd_una, iss + 1);
	assert_int_equal(i.snd_nxt, iss + 5);
	assert_int_equal(i.rcv_nxt, 7001);
	/* RTT 40 ms from the SYN: SRTT 40, RTTVAR 20, RTO 120 -> floor 200. */
	assert_int_equal(i.srtt_us, 40000);
	assert_int_equal(i.rttvar_us, 20000);
	assert_int_equal(i.rto_ms, 200);
	/* Later windows are scaled by the peer's shift. */
	assert_int_equal(in(&t, 7001, iss + 5, F_ACK, 100, NULL, 0, 80), PM_TCB_EV_ACKED);
	i = info(&t);
	assert_int_equal(i.snd_wnd, 800);
	assert_int_equal(i.snd_wnd_raw, 100);
	assert_true(i.quiescent);
}

static void
test_tcb_syn_ack_without_options_turns_scaling_and_sack_off(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1 << 16);
	struct pm_tcb_info i;

	(void)state;
	p.local.wscale = 7;
	assert_int_equal(pm_tcb_init_active(&t, &p, 1, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(O[0].wscale, 7);
	assert_true(O[0].sack_ok);
	assert_int_equal(in(&t, 99, 2, F_SYN | F_ACK, 1000, NULL, 0, 5), PM_TCB_EV_ESTABLISHED);
	i = info(&t);
	assert_int_equal(i.snd_wscale, -1);
	assert_int_equal(i.rcv_wscale, -1);
	assert_false(i.sack_ok);
	assert_int_equal(i.peer_mss, PM_TCB_MSS_DEFAULT);
	assert_int_equal(i.smss, PM_TCB_MSS_DEFAULT);
	assert_int_equal(out(&t, 5), 1);
	assert_seg(&O[0], 2, 100, F_ACK, 0);
	assert_int_equal(O[0].wnd, 65535);	/* unscaled, capped */
}

static void
test_tcb_syn_to_nobody_fails_after_backed_off_retries(void **state)
{
	static const uint64_t when[] = { 0, 1000, 3000, 7000, 15000 };
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	uint64_t now = 0;
	size_t k;

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 77, 0), 0);
	for (k = 0; k < sizeof(when) / sizeof(when[0]); k++) {
		assert_int_equal(now, when[k]);
		assert_int_equal(out(&t, now), 1);
		assert_seg(&O[0], 77, 0, F_SYN, 0);
		/* Nothing before the deadline. */
		assert_int_equal(pm_tcb_timeout(&t, pm_tcb_deadline(&t) - 1), 0);
		assert_int_equal(out(&t, now), 0);
		now = pm_tcb_deadline(&t);
		if (k + 1 < sizeof(when) / sizeof(when[0]))
			assert_int_equal(pm_tcb_timeout(&t, now), 0);
	}
	assert_int_equal(now, 31000);
	assert_int_equal(pm_tcb_timeout(&t, now), PM_TCB_EV_CONNECT_FAILED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ETIMEDOUT);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(out(&t, now), 0);
	assert_int_equal(pm_tcb_events(&t), PM_TCB_EV_CONNECT_FAILED);

	/* syn_retries 0: one SYN, failure one RTO later. */
	p.syn_retries = 0;
	assert_int_equal(pm_tcb_init_active(&t, &p, 77, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(pm_tcb_timeout(&t, 1000), PM_TCB_EV_CONNECT_FAILED);
}

static void
test_tcb_rst_in_syn_sent_needs_acceptable_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	/* RST without ACK, and RST with a bad ACK: ignored, no answer. */
	assert_int_equal(in(&t, 0, 0, F_RST, 0, NULL, 0, 1), 0);
	assert_int_equal(in(&t, 0, 500, F_RST | F_ACK, 0, NULL, 0, 1), 0);
	assert_int_equal(in(&t, 0, 502, F_RST | F_ACK, 0, NULL, 0, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_SYN_SENT);
	assert_int_equal(out(&t, 1), 0);
	/* A plain SYN (simultaneous open) is not supported: dropped. */
	assert_int_equal(in(&t, 9, 0, F_SYN, 100, NULL, 0, 1), 0);
	assert_int_equal(out(&t, 1), 0);
	/* The refusal. */
	assert_int_equal(in(&t, 0, 501, F_RST | F_ACK, 0, NULL, 0, 2), PM_TCB_EV_CONNECT_FAILED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ECONNREFUSED);
	assert_int_equal(out(&t, 2), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

static void
test_tcb_syn_ack_with_bad_ack_draws_rst(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, 3000, 12345, F_SYN | F_ACK, 100, NULL, 0, 1), 0);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], 12345, 0, F_RST, 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_SYN_SENT);
	/* A plain ACK with a bad ack too. */
	assert_int_equal(in(&t, 3000, 400, F_ACK, 100, NULL, 0, 1), 0);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], 400, 0, F_RST, 0);
	/* The right SYN-ACK still completes the handshake. */
	assert_int_equal(in(&t, 3000, 501, F_SYN | F_ACK, 100, NULL, 0, 2), PM_TCB_EV_ESTABLISHED);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], 501, 3001, F_ACK, 0);
}

static void
test_tcb_syn_retransmitted_sets_rto_3s_and_no_sample(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	struct pm_tcb_info i;

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(pm_tcb_timeout(&t, 1000), 0);
	assert_int_equal(out(&t, 1000), 1);
	assert_seg(&O[0], 500, 0, F_SYN, 0);
	assert_int_equal(in(&t, 3000, 501, F_SYN | F_ACK, 100, NULL, 0, 1100),
			 PM_TCB_EV_ESTABLISHED);
	i = info(&t);
	assert_int_equal(i.rto_ms, PM_TCB_RTO_SYN_MS);	/* RFC 6298 5.7 */
	assert_int_equal(i.srtt_us, 0);			/* Karn: no sample */
}

static void
test_tcb_syn_ack_with_data_and_fin_is_taken(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	const uint8_t *d;

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, 3000, 501, F_SYN | F_ACK | F_FIN, 100, "+OK\r\n", 5, 1),
			 PM_TCB_EV_ESTABLISHED | PM_TCB_EV_DATA | PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSE_WAIT);
	assert_int_equal(pm_tcb_recv_peek(&t, &d), 5);
	assert_memory_equal(d, "+OK\r\n", 5);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], 501, 3007, F_ACK, 0);
	/* FIN without SYN in SYN_SENT is dropped. */
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, 3001, 501, F_FIN | F_ACK, 100, NULL, 0, 1), 0);
	assert_int_equal(in(&t, 3001, 0, F_FIN, 100, NULL, 0, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_SYN_SENT);
	assert_int_equal(out(&t, 1), 0);
}

static void
test_tcb_close_and_abort_in_syn_sent_send_nothing(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	pm_tcb_close(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), 0);
	assert_int_equal(out(&t, 0), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(pm_tcb_init_active(&t, &p, 500, 0), 0);
	assert_int_equal(out(&t, 0), 1);
	pm_tcb_abort(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ECONNABORTED);
	assert_int_equal(out(&t, 0), 0);
}

/* ---- passive open ---- */

static void
test_tcb_passive_first_input_takes_window_options_and_payload(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 4096);
	struct pm_tcb_opts peer = { 1200, 2, true };
	struct pm_tcb_info i;
	const uint8_t *d;
	const char *login = "a001 LOGIN u p\r\n";

	(void)state;
	p.local.wscale = 4;
	assert_int_equal(pm_tcb_init_passive(&t, &p, ISS, IRS, &peer, 0), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(pm_tcb_events(&t), PM_TCB_EV_ESTABLISHED);
	assert_int_equal(pm_tcb_events(&t), 0);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_PSH, 100, login, strlen(login), 3),
			 PM_TCB_EV_DATA);
	assert_int_equal(pm_tcb_recv_peek(&t, &d), strlen(login));
	assert_memory_equal(d, login, strlen(login));
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1 + strlen(login), F_ACK, 0);
	assert_int_equal(O[0].wnd, (4096 - strlen(login)) >> 4);
	i = info(&t);
	assert_int_equal(i.snd_wnd, 400);
	assert_int_equal(i.snd_wscale, 2);
	assert_int_equal(i.rcv_wscale, 4);
	assert_int_equal(i.peer_mss, 1200);
	assert_int_equal(i.smss, 1200);
	assert_true(i.sack_ok);
	assert_false(i.quiescent);		/* unread bytes */
	pm_tcb_recv_consume(&t, strlen(login));
	assert_true(pm_tcb_quiescent(&t));
	/* A peer without window scaling: neither side scales. */
	peer.wscale = -1;
	peer.sack_ok = false;
	peer.mss = 10;
	assert_int_equal(pm_tcb_init_passive(&t, &p, ISS, IRS, &peer, 0), 0);
	i = info(&t);
	assert_int_equal(i.snd_wscale, -1);
	assert_int_equal(i.rcv_wscale, -1);
	assert_false(i.sack_ok);
	assert_int_equal(i.peer_mss, PM_TCB_MSS_MIN);	/* raised to the floor */
}

/* ---- RST, SYN and ACK hardening (RFC 5961) ---- */

static void
test_tcb_rst_out_of_window_is_ignored(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(in(&t, IRS + 1 + 5000, 0, F_RST, 0, NULL, 0, 1), 0);
	assert_int_equal(in(&t, IRS, 0, F_RST, 0, NULL, 0, 1), 0);
	assert_int_equal(in(&t, IRS + 1 + 1025, ISS + 1, F_RST | F_ACK, 0, NULL, 0, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(out(&t, 1), 0);
	/* Exactly at the right edge a bare segment is in the window (tcb.c,
	 * seq_acceptable()): a challenge ACK. */
	assert_int_equal(in(&t, IRS + 1 + 1024, ISS + 1, F_RST | F_ACK, 0, NULL, 0, 1), 0);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
}

static void
test_tcb_rst_in_window_not_exact_draws_challenge_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(in(&t, IRS + 1 + 10, 0, F_RST, 0, NULL, 0, 1), 0);
	assert_int_equal(in(&t, IRS + 1 + 1023, 0, F_RST, 0, NULL, 0, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	/* One challenge ACK carrying the exact numbers (two RSTs, one ACK:
	 * an owed ACK is a flag, not a queue). */
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	assert_int_equal(out(&t, 1), 0);
}

static void
test_tcb_rst_exact_resets(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 50), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, 0, F_RST, 0, NULL, 0, 1), PM_TCB_EV_RESET);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ECONNRESET);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(out(&t, 1), 0);
	/* A CLOSED tcb ignores everything. */
	assert_int_equal(in(&t, IRS + 1, ISS + 51, F_ACK | F_FIN, 100, "x", 1, 2), 0);
	assert_int_equal(out(&t, 2), 0);
	assert_int_equal(pm_tcb_send(&t, "x", 1), -ENOTCONN);
}

static void
test_tcb_rst_exact_at_zero_window_resets(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, text, 64, 1), PM_TCB_EV_DATA);
	assert_int_equal(in(&t, IRS + 1 + 64 + 1, 0, F_RST, 0, NULL, 0, 2), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(in(&t, IRS + 1 + 64, 0, F_RST, 0, NULL, 0, 2), PM_TCB_EV_RESET);
}

static void
test_tcb_syn_in_established_draws_challenge_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	/* In window, out of window, with data: never taken, always one ACK
	 * (one per PM_TCB_OOW_ACK_MS). */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_SYN | F_ACK, 100, "abc", 3, 1), 0);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	assert_int_equal(in(&t, IRS, 0, F_SYN, 100, NULL, 0, 501), 0);
	assert_int_equal(out(&t, 501), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	assert_int_equal(in(&t, IRS + 100, 0, F_SYN, 100, NULL, 0, 1001), 0);
	assert_int_equal(out(&t, 1001), 1);
	assert_int_equal(in(&t, IRS + 100, 0, F_SYN, 100, NULL, 0, 1002), 0);
	assert_int_equal(out(&t, 1002), 0);	/* rate-limited */
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(info(&t).recv_queued, 0);
	/* The window was not taken from any of them either. */
	assert_int_equal(info(&t).snd_wnd, 1000);
}

static void
test_tcb_ack_of_unsent_data_draws_ack_and_drops_segment(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 1 + 11, F_ACK, 1000, "abc", 3, 1), 0);
	assert_int_equal(info(&t).recv_queued, 0);
	assert_int_equal(info(&t).snd_una, ISS + 1);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 11, IRS + 1, F_ACK, 0);
	/* ACK bit off: dropped silently. */
	assert_int_equal(in(&t, IRS + 1, 0, 0, 1000, "abc", 3, 1), 0);
	assert_int_equal(info(&t).recv_queued, 0);
	assert_int_equal(out(&t, 1), 0);
}

static void
test_tcb_ack_older_than_max_window_is_dropped(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint32_t una;

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 100), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 101, F_ACK, 1000, NULL, 0, 5), PM_TCB_EV_ACKED);
	una = ISS + 101;
	/* una - 1000 is still acceptable (MAX.SND.WND is 1000): data taken. */
	assert_int_equal(in(&t, IRS + 1, una - 1000, F_ACK, 1000, "abc", 3, 6), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 6), 1);
	/* una - 1001 is not: ACK, segment dropped. */
	assert_int_equal(in(&t, IRS + 4, una - 1001, F_ACK, 1000, "def", 3, 7), 0);
	assert_int_equal(info(&t).recv_queued, 3);
	assert_int_equal(out(&t, 7), 1);
	assert_seg(&O[0], una, IRS + 4, F_ACK, 0);
}

static void
test_tcb_acks_to_bare_segments_not_taken_are_rate_limited(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	/* Bare ACKs beyond the window: one answer per 500 ms. */
	assert_int_equal(in(&t, IRS + 5000, ISS + 1, F_ACK, 1000, NULL, 0, 10), 0);
	assert_int_equal(out(&t, 10), 1);
	assert_int_equal(in(&t, IRS + 5000, ISS + 1, F_ACK, 1000, NULL, 0, 20), 0);
	assert_int_equal(in(&t, IRS - 5, ISS + 1, F_ACK, 1000, NULL, 0, 300), 0);
	assert_int_equal(in(&t, IRS + 30, 0, F_RST, 0, NULL, 0, 400), 0);
	assert_int_equal(out(&t, 400), 0);
	assert_int_equal(in(&t, IRS + 5000, ISS + 1, F_ACK, 1000, NULL, 0, 510), 0);
	assert_int_equal(out(&t, 510), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	/* Data we already have is always answered: its sender needs to know. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, "abc", 3, 520), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 520), 1);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, "abc", 3, 521 + k), 0);
		assert_int_equal(out(&t, 521 + k), 1);
		assert_seg(&O[0], ISS + 1, IRS + 4, F_ACK, 0);
	}
}

static void
test_tcb_old_duplicate_still_delivers_its_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 20), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, text, 10, 5), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 5), 1);
	/* The peer's ACK of our data rides on a segment left of RCV.NXT (it
	 * went back after a loss of its own): the data is old, its ACK news. */
	assert_int_equal(in(&t, IRS + 1, ISS + 21, F_ACK, 900, text, 10, 10), PM_TCB_EV_ACKED);
	assert_int_equal(info(&t).snd_una, ISS + 21);
	assert_int_equal(info(&t).recv_queued, 10);
	/* ...and the window it carries is taken although its seq is older
	 * than the one that set the window last (it acked new data). */
	assert_int_equal(info(&t).snd_wnd, 900);
	assert_int_equal(out(&t, 10), 1);
	assert_seg(&O[0], ISS + 21, IRS + 11, F_ACK, 0);
	/* An older segment that acks nothing new does not touch the window. */
	assert_int_equal(in(&t, IRS, ISS + 21, F_ACK, 5, NULL, 0, 600), 0);
	assert_int_equal(info(&t).snd_wnd, 900);
}

static void
test_tcb_bare_segment_at_right_edge_is_accepted(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 20), 0);
	assert_int_equal(out(&t, 0), 1);
	/* We advertised 64: a pure ACK at RCV.NXT + 64 (a sender that filled
	 * our window and lost its first segment) is accepted, its ACK taken,
	 * and nothing is owed. */
	assert_int_equal(in(&t, IRS + 65, ISS + 21, F_ACK, 1000, NULL, 0, 5), PM_TCB_EV_ACKED);
	assert_int_equal(out(&t, 5), 0);
	/* One further is outside. */
	assert_int_equal(in(&t, IRS + 66, ISS + 21, F_ACK, 1000, NULL, 0, 6), 0);
	assert_int_equal(out(&t, 6), 1);
}

static void
test_tcb_bare_ack_seq_never_passes_a_shut_window(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	uint64_t now;

	(void)state;
	mk_passive(&t, &p, 0);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 0), 0);
	now = pm_tcb_deadline(&t);
	assert_int_equal(pm_tcb_timeout(&t, now), 0);
	assert_int_equal(out(&t, now), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 1);	/* the probe */
	/* Data arrives: the ACK we owe carries seq SND.UNA, not the SND.NXT
	 * one past the probe byte, which would lie outside the peer's shut
	 * window (and draw an ACK, which would draw ours...). */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 0, "abc", 3, now + 1), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, now + 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 4, F_ACK, 0);
	/* Aborting: the RST's seq is bounded the same way. */
	pm_tcb_abort(&t);
	assert_int_equal(out(&t, now + 2), 1);
	assert_seg(&O[0], ISS + 1, IRS + 4, F_RST | F_ACK, 0);
}

/* ---- data ---- */

static void
test_tcb_out_of_order_data_is_dropped_with_duplicate_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	const uint8_t *d;

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(in(&t, IRS + 11, ISS + 1, F_ACK, 1000, text + 10, 10, 1), 0);
	assert_int_equal(info(&t).recv_queued, 0);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	/* In order: taken. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, text, 10, 2), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 1, IRS + 11, F_ACK, 0);
	/* A full duplicate: ACKed, not delivered again. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, text, 10, 3), 0);
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 1, IRS + 11, F_ACK, 0);
	/* Overlapping: only the new part. */
	assert_int_equal(in(&t, IRS + 6, ISS + 1, F_ACK, 1000, text + 5, 15, 4), PM_TCB_EV_DATA);
	assert_int_equal(pm_tcb_recv_peek(&t, &d), 20);
	assert_memory_equal(d, text, 20);
	assert_int_equal(out(&t, 4), 1);
	assert_seg(&O[0], ISS + 1, IRS + 21, F_ACK, 0);
	/* A pure ACK, in order: nothing owed. */
	assert_int_equal(in(&t, IRS + 21, ISS + 1, F_ACK, 1000, NULL, 0, 5), 0);
	assert_int_equal(out(&t, 5), 0);
}

static void
test_tcb_receive_ring_wraps_and_peeks_in_two_parts(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);
	uint8_t src[200], got[200];
	size_t have = 0, n;
	const uint8_t *d;
	uint32_t seq = IRS + 1;

	(void)state;
	for (n = 0; n < sizeof(src); n++)
		src[n] = (uint8_t)(n * 7 + 3);
	mk_passive(&t, &p, 1000);
	for (int k = 0; k < 5; k++) {
		assert_int_equal(in(&t, seq, ISS + 1, F_ACK, 1000, src + have, 40, 1),
				 PM_TCB_EV_DATA);
		seq += 40;
		while ((n = pm_tcb_recv_peek(&t, &d)) > 0) {
			memcpy(got + have, d, n);
			have += n;
			pm_tcb_recv_consume(&t, n);
		}
	}
	assert_int_equal(have, 200);
	assert_memory_equal(got, src, 200);
	pm_tcb_recv_consume(&t, 5);	/* more than unread: clamped */
	assert_int_equal(pm_tcb_recv_peek(&t, &d), 0);
	assert_null(d);
}

static void
test_tcb_recv_buffer_full_advertises_zero_then_window_update(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, "hello", 5), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(O[0].wnd, 64);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, text, 64, 1), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 6, IRS + 65, F_ACK, 0);
	assert_int_equal(O[0].wnd, 0);
	/* The peer's probe: not taken, but its ACK is (zero-window allowance). */
	assert_int_equal(in(&t, IRS + 65, ISS + 6, F_ACK, 1000, text + 64, 1, 2), PM_TCB_EV_ACKED);
	assert_int_equal(info(&t).recv_queued, 64);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 6, IRS + 65, F_ACK, 0);
	assert_int_equal(O[0].wnd, 0);
	/* Data beyond the zero window: not acceptable, ACK. */
	assert_int_equal(in(&t, IRS + 70, ISS + 6, F_ACK, 1000, text, 3, 2), 0);
	assert_int_equal(out(&t, 2), 1);
	assert_int_equal(O[0].wnd, 0);
	/* 31 bytes freed: below min(64 / 2, MSS) = 32, no update volunteered. */
	pm_tcb_recv_consume(&t, 31);
	assert_int_equal(out(&t, 3), 0);
	pm_tcb_recv_consume(&t, 1);
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 6, IRS + 65, F_ACK, 0);
	assert_int_equal(O[0].wnd, 32);
	assert_int_equal(info(&t).rcv_wnd, 32);
	/* A segment larger than the window: the excess is dropped and the
	 * ACK says what was taken. */
	assert_int_equal(in(&t, IRS + 65, ISS + 6, F_ACK, 1000, text, 40, 4), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 4), 1);
	assert_seg(&O[0], ISS + 6, IRS + 65 + 32, F_ACK, 0);
	assert_int_equal(O[0].wnd, 0);
}

static void
test_tcb_scaled_window_never_shrinks(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);
	struct pm_tcb_opts peer = { 0, 0, false };

	(void)state;
	p.local.wscale = 2;
	assert_int_equal(pm_tcb_init_passive(&t, &p, ISS, IRS, &peer, 0), 0);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, NULL, 0, 0), 0);
	assert_int_equal(pm_tcb_send(&t, "x", 1), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(O[0].wnd, 16);		/* 64 >> 2: right edge rcv_nxt + 64 */
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 1000, text, 3, 1),
			 PM_TCB_EV_DATA | PM_TCB_EV_ACKED);
	/* 61 free: 61 >> 2 = 15 would pull the edge back by one byte; the
	 * old edge is kept, rounded up. */
	assert_int_equal(out(&t, 1), 1);
	assert_int_equal(O[0].wnd, 16);
}

static void
test_tcb_output_respects_peer_mss_and_initial_window(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1 << 16, 1024);
	struct pm_tcb_opts peer = { 1000, -1, false };
	static uint8_t big[20000];
	size_t n, k, total = 0;

	(void)state;
	for (k = 0; k < sizeof(big); k++)
		big[k] = (uint8_t)(k * 7);
	assert_int_equal(pm_tcb_init_passive(&t, &p, ISS, IRS, &peer, 0), 0);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 65535, NULL, 0, 0), 0);
	assert_int_equal(pm_tcb_send(&t, big, sizeof(big)), 0);
	n = out(&t, 0);
	/* IW = min(10 * 1000, max(2 * 1000, 14600)) = 10000. */
	assert_int_equal(n, 10);
	for (k = 0; k < n; k++) {
		assert_seg(&O[k], ISS + 1 + total, IRS + 1, F_ACK, 1000);
		assert_memory_equal(O[k].payload, big + total, 1000);
		total += O[k].len;
	}
	/* Output stops at max and resumes. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1 + 5000, F_ACK, 65535, NULL, 0, 10),
			 PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_output(&t, 10, O, 2), 2);
	assert_int_equal(pm_tcb_output(&t, 10, O + 2, OMAX - 2), 3);
	for (k = 0; k < 5; k++) {
		assert_seg(&O[k], ISS + 1 + total, IRS + 1, F_ACK, 1000);
		total += 1000;
	}
	/* Our own MSS caps too. */
	p.local.mss = 500;
	assert_int_equal(pm_tcb_init_passive(&t, &p, ISS, IRS, &peer, 0), 0);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 65535, NULL, 0, 0), 0);
	assert_int_equal(pm_tcb_send(&t, big, 1200), 0);
	assert_int_equal(out(&t, 0), 3);
	assert_int_equal(O[0].len, 500);
	assert_int_equal(O[2].len, 200);
	assert_int_equal(O[2].flags, F_ACK | F_PSH);
}

static void
test_tcb_send_is_all_or_nothing(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(16, 1024);
	const uint32_t ISS1 = 1000;

	(void)state;
	mk_passive_iss(&t, &p, 1000, ISS1);
	assert_int_equal(pm_tcb_send(&t, text, 17), -ENOBUFS);
	assert_int_equal(pm_tcb_send_space(&t), 16);
	assert_int_equal(pm_tcb_send(&t, text, 0), 0);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(pm_tcb_send(&t, text, 7), -ENOBUFS);
	assert_int_equal(pm_tcb_send(&t, text + 10, 6), 0);
	assert_int_equal(pm_tcb_send_space(&t), 0);
	/* Sequence number s lives at s & 15: ISS1 + 1 = 1001 is slot 9, so
	 * the 16 bytes wrap and leave as two segments (7 + 9). */
	assert_int_equal(out(&t, 0), 2);
	assert_seg(&O[0], ISS1 + 1, IRS + 1, F_ACK, 7);
	assert_seg(&O[1], ISS1 + 8, IRS + 1, F_ACK | F_PSH, 9);
	assert_memory_equal(O[0].payload, text, 7);
	assert_memory_equal(O[1].payload, text + 7, 9);
	/* Acked bytes free space at once. */
	assert_int_equal(in(&t, IRS + 1, ISS1 + 1 + 12, F_ACK, 1000, NULL, 0, 1), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_send_space(&t), 12);
	assert_int_equal(pm_tcb_send(&t, text + 16, 12), 0);
	assert_int_equal(out(&t, 1), 2);	/* 1017 is slot 9 again: 7 + 5 */
	assert_seg(&O[0], ISS1 + 17, IRS + 1, F_ACK, 7);
	assert_seg(&O[1], ISS1 + 24, IRS + 1, F_ACK | F_PSH, 5);
	assert_memory_equal(O[0].payload, text + 16, 7);
	assert_memory_equal(O[1].payload, text + 23, 5);
}

static void
test_tcb_send_after_close_is_epipe(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(16, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(pm_tcb_send(&t, "x", 1), -EPIPE);
	pm_tcb_abort(&t);
	assert_int_equal(pm_tcb_send(&t, "x", 1), -ENOTCONN);
}

/* ---- retransmission ---- */

static void
test_tcb_rto_resends_one_segment_from_una_then_times_out(void **state)
{
	static const uint64_t when[] = { 1000, 3000, 7000, 15000, 31000, 63000, 123000, 183000 };
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	static uint8_t data[3000];
	uint64_t now;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(data); k++)
		data[k] = (uint8_t)k;
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, data, sizeof(data)), 0);
	assert_int_equal(out(&t, 0), 6);		/* 5 x 536 + 320 */
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	for (k = 0; k < sizeof(when) / sizeof(when[0]); k++) {
		now = pm_tcb_deadline(&t);
		assert_int_equal(now, when[k]);
		assert_int_equal(pm_tcb_timeout(&t, now), 0);
		assert_int_equal(out(&t, now), 1);
		assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 536);
		assert_memory_equal(O[0].payload, data, 536);
		check_invariants(&t);
	}
	now = pm_tcb_deadline(&t);
	assert_int_equal(now, 243000);
	assert_int_equal(pm_tcb_timeout(&t, now), PM_TCB_EV_TIMEOUT);
	assert_int_equal(out(&t, now), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(pm_tcb_error(&t), -ETIMEDOUT);
	assert_int_equal(pm_tcb_send(&t, "x", 1), -EPIPE);
	/* The caller aborts: one RST|ACK at SND.NXT, then nothing. */
	pm_tcb_abort(&t);
	assert_int_equal(out(&t, now), 1);
	assert_seg(&O[0], ISS + 1 + 3000, IRS + 1, F_RST | F_ACK, 0);
	assert_int_equal(out(&t, now), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ETIMEDOUT);	/* the first cause stays */
}

static void
test_tcb_ack_after_rto_resumes_go_back_n(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint64_t now;
	size_t k, n;

	(void)state;
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, g_rbuf, 3000), 0);
	assert_int_equal(out(&t, 0), 6);
	now = pm_tcb_deadline(&t);
	assert_int_equal(pm_tcb_timeout(&t, now), 0);
	assert_int_equal(out(&t, now), 1);
	/* Only the first segment was lost: its ACK re-opens the flight, and
	 * everything after it is sent again (we cannot know what arrived). */
	assert_int_equal(in(&t, IRS + 1, ISS + 1 + 536, F_ACK, 10000, NULL, 0, now + 10),
			 PM_TCB_EV_ACKED);
	n = out(&t, now + 10);
	assert_int_equal(n, 5);
	for (k = 0; k < n; k++)
		assert_int_equal(O[k].seq, ISS + 1 + 536 * (k + 1));
	/* An ACK beyond snd_nxt (the peer had it all) moves snd_nxt along. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1 + 3000, F_ACK, 10000, NULL, 0, now + 20),
			 PM_TCB_EV_ACKED);
	assert_int_equal(out(&t, now + 20), 0);
	assert_true(pm_tcb_quiescent(&t));
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	/* The backed-off RTO stays (Karn): no sample came. */
	assert_int_equal(info(&t).rto_ms, 2000);
}

/* fabs() and ceil() without libm (an -O0 build would need -lm). */
static double
dabs(double x)
{
	return x < 0 ? -x : x;
}

static double
dceil(double x)
{
	double i = (double)(uint64_t)x;

	return i < x ? i + 1 : i;
}

/* RFC 6298 2.2-2.5 in floating point, G = 1 ms. */
struct rto_ref {
	bool have;
	double srtt, var;
};

static uint32_t
rto_ref_sample(struct rto_ref *r, double rtt, uint32_t min_ms)
{
	double rto;

	if (!r->have) {
		r->srtt = rtt;
		r->var = rtt / 2;
		r->have = true;
	} else {
		r->var = 0.75 * r->var + 0.25 * dabs(r->srtt - rtt);
		r->srtt = 0.875 * r->srtt + 0.125 * rtt;
	}
	rto = r->srtt + (4 * r->var > 1.0 ? 4 * r->var : 1.0);
	rto = dceil(rto - 1e-9);
	if (rto < min_ms)
		rto = min_ms;
	if (rto > PM_TCB_RTO_MAX_MS)
		rto = PM_TCB_RTO_MAX_MS;
	return (uint32_t)rto;
}

static void
test_tcb_rtt_and_rto_follow_rfc6298_on_scripted_trace(void **state)
{
	static const uint32_t rtt[] = { 100, 120, 80, 300, 90, 95, 1000, 50, 60, 70,
					0, 0, 5, 20000, 70000, 10, 10, 10, 10, 10 };
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	struct rto_ref ref = { false, 0, 0 };
	struct pm_tcb_info i;
	uint64_t now = 0;
	uint32_t una = ISS + 1, want;
	size_t k;

	(void)state;
	p.rto_min_ms = 1;
	mk_passive(&t, &p, 10000);
	assert_int_equal(info(&t).rto_ms, PM_TCB_RTO_INIT_MS);
	for (k = 0; k < sizeof(rtt) / sizeof(rtt[0]); k++) {
		assert_int_equal(pm_tcb_send(&t, text, 10), 0);
		assert_int_equal(out(&t, now), 1);
		/* The ACK arrives before the RTO (the 70 s one is clamped to
		 * 60 s by both; its timer is not run here). */
		now += rtt[k];
		una += 10;
		assert_int_equal(in(&t, IRS + 1, una, F_ACK, 10000, NULL, 0, now), PM_TCB_EV_ACKED);
		want = rto_ref_sample(&ref, rtt[k] > 60000 ? 60000 : rtt[k], 1);
		i = info(&t);
		if (i.rto_ms + 1 < want || i.rto_ms > want + 1)
			fail_msg("sample %zu (R %" PRIu32 "): RTO %" PRIu32 " expected %" PRIu32,
				 k, rtt[k], i.rto_ms, want);
		assert_true(dabs(i.srtt_us / 1000.0 - ref.srtt) < 0.01);
		assert_true(dabs(i.rttvar_us / 1000.0 - ref.var) < 0.01);
	}
	/* Exact values for a short trace: R = 100 then 200.
	 * 2.2: SRTT 100, RTTVAR 50, RTO 300.
	 * 2.3: RTTVAR 3/4 * 50 + 1/4 * 100 = 62.5, SRTT 7/8 * 100 + 1/8 * 200
	 * = 112.5, RTO 112.5 + 250 = 362.5 -> 363. */
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 0), 1);
	in(&t, IRS + 1, ISS + 11, F_ACK, 10000, NULL, 0, 100);
	i = info(&t);
	assert_int_equal(i.srtt_us, 100000);
	assert_int_equal(i.rttvar_us, 50000);
	assert_int_equal(i.rto_ms, 300);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 100), 1);
	in(&t, IRS + 1, ISS + 21, F_ACK, 10000, NULL, 0, 300);
	i = info(&t);
	assert_int_equal(i.srtt_us, 112500);
	assert_int_equal(i.rttvar_us, 62500);
	assert_int_equal(i.rto_ms, 363);
	/* The floor: with the default 200 ms, a 10 ms path gets 200. */
	p.rto_min_ms = 200;
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 0), 1);
	in(&t, IRS + 1, ISS + 11, F_ACK, 10000, NULL, 0, 10);
	assert_int_equal(info(&t).rto_ms, 200);
}

static void
test_tcb_karn_no_sample_from_retransmitted_segment(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	struct pm_tcb_info i;

	(void)state;
	p.rto_min_ms = 1;
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 0), 1);
	in(&t, IRS + 1, ISS + 11, F_ACK, 10000, NULL, 0, 100);
	assert_int_equal(info(&t).rto_ms, 300);
	/* Send, lose, retransmit at 400, the ACK comes at 450: ambiguous. */
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 100), 1);
	assert_int_equal(pm_tcb_deadline(&t), 400);
	assert_int_equal(pm_tcb_timeout(&t, 400), 0);
	assert_int_equal(out(&t, 400), 1);
	assert_int_equal(pm_tcb_deadline(&t), 1000);	/* 400 + 600 */
	in(&t, IRS + 1, ISS + 21, F_ACK, 10000, NULL, 0, 450);
	i = info(&t);
	assert_int_equal(i.srtt_us, 100000);
	assert_int_equal(i.rto_ms, 600);		/* kept backed off */
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	/* New data gives a new sample, and the RTO is computed again. */
	assert_int_equal(pm_tcb_send(&t, text, 10), 0);
	assert_int_equal(out(&t, 500), 1);
	in(&t, IRS + 1, ISS + 31, F_ACK, 10000, NULL, 0, 600);
	i = info(&t);
	assert_int_equal(i.srtt_us, 100000);
	assert_int_equal(i.rto_ms, 250);	/* RTTVAR 37.5, SRTT 100 */
}

static void
test_tcb_rto_restarts_on_new_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);

	(void)state;
	mk_passive(&t, &p, 10000);
	assert_int_equal(pm_tcb_send(&t, g_rbuf, 1000), 0);
	assert_int_equal(out(&t, 0), 2);
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	/* More data while the timer runs: not restarted (RFC 6298 5.1). */
	assert_int_equal(pm_tcb_send(&t, g_rbuf, 10), 0);
	assert_int_equal(out(&t, 500), 1);
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	/* Part acked at 800: restarted with the current RTO (5.3). */
	in(&t, IRS + 1, ISS + 1 + 536, F_ACK, 10000, NULL, 0, 800);
	assert_int_equal(pm_tcb_deadline(&t), 800 + info(&t).rto_ms);
	/* All acked: stopped (5.2). */
	in(&t, IRS + 1, ISS + 1 + 1010, F_ACK, 10000, NULL, 0, 900);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

/* ---- zero window ---- */

static void
test_tcb_zero_window_probes_back_off_and_resume(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint64_t now = 0, prev;
	uint32_t ivl = 1000;
	size_t k;

	(void)state;
	mk_passive(&t, &p, 0);
	assert_int_equal(pm_tcb_send(&t, text, 100), 0);
	assert_int_equal(out(&t, 0), 0);
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	/* Twelve probes, each answered "still zero": more than max_retries
	 * (8), and no TIMEOUT because the peer answers. */
	for (k = 0; k < 12; k++) {
		prev = now;
		now = pm_tcb_deadline(&t);
		assert_int_equal(now - prev, ivl);
		ivl = ivl * 2 > 60000 ? 60000 : ivl * 2;
		assert_int_equal(pm_tcb_timeout(&t, now), 0);
		assert_int_equal(out(&t, now), 1);
		/* One byte past the window: the window's right edge is SND.UNA. */
		assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 1);
		assert_int_equal(O[0].payload[0], text[0]);
		check_invariants(&t);
		assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 0, NULL, 0, now + 5), 0);
		assert_int_equal(out(&t, now + 5), 0);
	}
	assert_int_equal(pm_tcb_deadline(&t) - now, 60000);
	/* The window opens: data flows from SND.UNA, timer is the RTO. */
	now += 10;
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 60, NULL, 0, now), 0);
	assert_int_equal(out(&t, now), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 60);
	assert_int_equal(pm_tcb_deadline(&t), now + 1000);
	assert_int_equal(in(&t, IRS + 1, ISS + 61, F_ACK, 1000, NULL, 0, now + 1),
			 PM_TCB_EV_ACKED);
	assert_int_equal(out(&t, now + 1), 1);
	assert_seg(&O[0], ISS + 61, IRS + 1, F_ACK | F_PSH, 40);
	assert_int_equal(pm_tcb_error(&t), 0);
}

static void
test_tcb_zero_window_probe_byte_accepted_keeps_probing(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint64_t now;

	(void)state;
	mk_passive(&t, &p, 0);
	assert_int_equal(pm_tcb_send(&t, text, 3), 0);
	assert_int_equal(out(&t, 0), 0);
	now = pm_tcb_deadline(&t);
	assert_int_equal(pm_tcb_timeout(&t, now), 0);
	assert_int_equal(out(&t, now), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 1);
	/* The peer took the byte but its window is shut again. */
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 0, NULL, 0, now + 1), PM_TCB_EV_ACKED);
	assert_int_equal(out(&t, now + 1), 0);
	now = pm_tcb_deadline(&t);
	assert_int_equal(pm_tcb_timeout(&t, now), 0);
	assert_int_equal(out(&t, now), 1);
	assert_seg(&O[0], ISS + 2, IRS + 1, F_ACK, 1);
	assert_int_equal(O[0].payload[0], text[1]);
	check_invariants(&t);
}

static void
test_tcb_zero_window_unanswered_probes_time_out(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint64_t now = 0;
	uint32_t k;

	(void)state;
	p.max_retries = 3;
	mk_passive(&t, &p, 0);
	assert_int_equal(pm_tcb_send(&t, text, 100), 0);
	assert_int_equal(out(&t, 0), 0);
	for (k = 0; k < 3; k++) {
		now = pm_tcb_deadline(&t);
		assert_int_equal(pm_tcb_timeout(&t, now), 0);
		assert_int_equal(out(&t, now), 1);
	}
	now = pm_tcb_deadline(&t);
	assert_int_equal(pm_tcb_timeout(&t, now), PM_TCB_EV_TIMEOUT);
	assert_int_equal(out(&t, now), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

static void
test_tcb_window_closing_with_data_in_flight_switches_to_persist(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(4096, 1024);
	uint64_t dl;

	(void)state;
	mk_passive(&t, &p, 100);
	assert_int_equal(pm_tcb_send(&t, text, 150), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 100);
	/* 60 acked, the window shut: 40 bytes in flight past a zero window. */
	assert_int_equal(in(&t, IRS + 1, ISS + 61, F_ACK, 0, NULL, 0, 10), PM_TCB_EV_ACKED);
	assert_int_equal(out(&t, 10), 0);
	dl = 10 + info(&t).rto_ms;		/* the persist timer, one RTO */
	assert_int_equal(pm_tcb_deadline(&t), dl);
	assert_int_equal(pm_tcb_timeout(&t, dl), 0);
	assert_int_equal(out(&t, dl), 1);
	assert_seg(&O[0], ISS + 61, IRS + 1, F_ACK, 1);
	/* Open again: everything from SND.UNA goes again. */
	assert_int_equal(in(&t, IRS + 1, ISS + 61, F_ACK, 500, NULL, 0, dl + 10), 0);
	assert_int_equal(out(&t, dl + 10), 1);
	assert_seg(&O[0], ISS + 61, IRS + 1, F_ACK | F_PSH, 90);
}

/* ---- FIN in every state ---- */

static void
test_tcb_fin_in_established_then_last_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, "bye", 3, 1),
			 PM_TCB_EV_DATA | PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSE_WAIT);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 5, F_ACK, 0);
	/* A retransmitted FIN in CLOSE_WAIT: ACK again. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, "bye", 3, 2), 0);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 1, IRS + 5, F_ACK, 0);
	/* We may still send in CLOSE_WAIT; the FIN follows our data. */
	assert_int_equal(pm_tcb_send(&t, "* BYE\r\n", 7), 0);
	pm_tcb_close(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_LAST_ACK);
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 1, IRS + 5, F_ACK | F_PSH | F_FIN, 7);
	/* Dup FIN in LAST_ACK: ACK. */
	assert_int_equal(in(&t, IRS + 4, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 4), 0);
	assert_int_equal(out(&t, 4), 1);
	assert_seg(&O[0], ISS + 9, IRS + 5, F_ACK, 0);
	/* Data acked but not the FIN: still LAST_ACK. */
	assert_int_equal(in(&t, IRS + 5, ISS + 8, F_ACK, 1000, NULL, 0, 5), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_LAST_ACK);
	assert_int_equal(in(&t, IRS + 5, ISS + 9, F_ACK, 1000, NULL, 0, 6),
			 PM_TCB_EV_ACKED | PM_TCB_EV_CLOSED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), 0);
	assert_int_equal(out(&t, 6), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

static void
test_tcb_fin_in_fin_wait_1_goes_closing_then_time_wait(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_FIN_WAIT_1);
	assert_int_equal(out(&t, 0), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK | F_FIN, 0);
	/* Simultaneous close: their FIN does not ack ours. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 1),
			 PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSING);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 2, IRS + 2, F_ACK, 0);
	/* Dup FIN in CLOSING: ACK. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 2), 0);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 2, IRS + 2, F_ACK, 0);
	/* Our FIN lost: retransmitted by the RTO in CLOSING. */
	assert_int_equal(pm_tcb_deadline(&t), 1000);
	assert_int_equal(pm_tcb_timeout(&t, 1000), 0);
	assert_int_equal(out(&t, 1000), 1);
	assert_seg(&O[0], ISS + 1, IRS + 2, F_ACK | F_FIN, 0);
	assert_int_equal(in(&t, IRS + 2, ISS + 2, F_ACK, 1000, NULL, 0, 1100), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_TIME_WAIT);
	assert_int_equal(pm_tcb_deadline(&t), 1100 + 2000);
	/* A retransmitted FIN in TIME_WAIT: ACK, linger restarted. */
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK | F_FIN, 1000, NULL, 0, 2000), 0);
	assert_int_equal(out(&t, 2000), 1);
	assert_seg(&O[0], ISS + 2, IRS + 2, F_ACK, 0);
	assert_int_equal(pm_tcb_deadline(&t), 4000);
	assert_int_equal(pm_tcb_timeout(&t, 3999), 0);
	assert_int_equal(pm_tcb_timeout(&t, 4000), PM_TCB_EV_CLOSED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(out(&t, 4000), 0);
	assert_int_equal(pm_tcb_error(&t), 0);
}

static void
test_tcb_fin_acking_our_fin_in_fin_wait_1_goes_time_wait(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, "* BYE\r\n", 7), 0);
	pm_tcb_close(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK | F_PSH | F_FIN, 7);
	assert_int_equal(in(&t, IRS + 1, ISS + 9, F_ACK | F_FIN, 1000, NULL, 0, 1),
			 PM_TCB_EV_ACKED | PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_TIME_WAIT);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 9, IRS + 2, F_ACK, 0);
	/* An RST in TIME_WAIT only ends the linger. */
	assert_int_equal(in(&t, IRS + 2, 0, F_RST, 0, NULL, 0, 2), PM_TCB_EV_CLOSED);
	assert_int_equal(pm_tcb_error(&t), 0);
}

static void
test_tcb_fin_in_fin_wait_2_goes_time_wait(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 1000, NULL, 0, 1), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_FIN_WAIT_2);
	assert_int_equal(pm_tcb_deadline(&t), 1 + 30000);
	/* Data still arrives in FIN_WAIT_2. */
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 1000, "ok", 2, 2), PM_TCB_EV_DATA);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 2, IRS + 3, F_ACK, 0);
	assert_int_equal(in(&t, IRS + 3, ISS + 2, F_ACK | F_FIN, 1000, NULL, 0, 3),
			 PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_TIME_WAIT);
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 2, IRS + 4, F_ACK, 0);
	/* Abort in TIME_WAIT: no RST, just gone. */
	pm_tcb_abort(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(out(&t, 4), 0);
	assert_int_equal(pm_tcb_error(&t), 0);
}

static void
test_tcb_fin_wait_2_limit_times_out(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	p.fin_wait2_ms = 5000;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 1000, NULL, 0, 10), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_deadline(&t), 5010);
	assert_int_equal(pm_tcb_timeout(&t, 5010), PM_TCB_EV_TIMEOUT);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_FIN_WAIT_2);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(pm_tcb_error(&t), -ETIMEDOUT);
	/* fin_wait2_ms 0: no limit. */
	p.fin_wait2_ms = 0;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK, 1000, NULL, 0, 10), PM_TCB_EV_ACKED);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

static void
test_tcb_no_time_wait_closes_at_once_with_final_ack(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	p.time_wait_ms = 0;
	mk_passive(&t, &p, 1000);
	pm_tcb_close(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 2, F_ACK | F_FIN, 1000, NULL, 0, 1),
			 PM_TCB_EV_ACKED | PM_TCB_EV_PEER_FIN | PM_TCB_EV_CLOSED);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 2, IRS + 2, F_ACK, 0);
	assert_int_equal(out(&t, 1), 0);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
}

static void
test_tcb_fin_out_of_order_or_behind_dropped_data_waits(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 64);

	(void)state;
	mk_passive(&t, &p, 1000);
	/* A FIN beyond a hole: dropped, duplicate ACK. */
	assert_int_equal(in(&t, IRS + 6, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 1, IRS + 1, F_ACK, 0);
	/* A FIN behind bytes that do not fit: the bytes are cut, the FIN is
	 * not taken. */
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, text, 100, 2),
			 PM_TCB_EV_DATA);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_ESTABLISHED);
	assert_int_equal(out(&t, 2), 1);
	assert_seg(&O[0], ISS + 1, IRS + 65, F_ACK, 0);
	assert_int_equal(O[0].wnd, 0);
	/* A bare FIN at the zero window needs no room: taken. */
	assert_int_equal(in(&t, IRS + 65, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 3),
			 PM_TCB_EV_PEER_FIN);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSE_WAIT);
	assert_int_equal(out(&t, 3), 1);
	assert_seg(&O[0], ISS + 1, IRS + 66, F_ACK, 0);
	/* The peer finished sending: consuming offers no window update. */
	pm_tcb_recv_consume(&t, 64);
	assert_int_equal(out(&t, 4), 0);
}

static void
test_tcb_fin_in_closed_is_ignored(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	pm_tcb_abort(&t);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK | F_FIN, 1000, NULL, 0, 1), 0);
	assert_int_equal(out(&t, 1), 0);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
}

/* ---- abort, queries ---- */

static void
test_tcb_abort_sends_one_rst_then_nothing(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_int_equal(pm_tcb_send(&t, text, 30), 0);
	assert_int_equal(out(&t, 0), 1);
	assert_int_equal(in(&t, IRS + 1, ISS + 1, F_ACK, 1000, "x", 1, 1), PM_TCB_EV_DATA);
	pm_tcb_abort(&t);
	assert_int_equal(pm_tcb_state(&t), PM_TCB_CLOSED);
	assert_int_equal(pm_tcb_error(&t), -ECONNABORTED);
	assert_int_equal(pm_tcb_deadline(&t), UINT64_MAX);
	assert_int_equal(out(&t, 1), 1);
	assert_seg(&O[0], ISS + 31, IRS + 2, F_RST | F_ACK, 0);
	assert_int_equal(out(&t, 1), 0);
	pm_tcb_abort(&t);
	assert_int_equal(out(&t, 1), 0);
	assert_int_equal(pm_tcb_timeout(&t, 100000), 0);
}

static void
test_tcb_quiescent_and_info_for_splice(void **state)
{
	struct pm_tcb t;
	struct pm_tcb_params p = mkparams(1024, 1024);
	struct pm_tcb_info i;

	(void)state;
	mk_passive(&t, &p, 1000);
	assert_true(pm_tcb_quiescent(&t));
	assert_int_equal(pm_tcb_send(&t, text, 20), 0);
	assert_false(pm_tcb_quiescent(&t));		/* unsent */
	assert_int_equal(out(&t, 0), 1);
	assert_false(pm_tcb_quiescent(&t));		/* unacked */
	i = info(&t);
	assert_int_equal(i.snd_una, ISS + 1);
	assert_int_equal(i.snd_nxt, ISS + 21);
	assert_int_equal(i.send_queued, 20);
	assert_int_equal(in(&t, IRS + 1, ISS + 21, F_ACK, 1000, "abc", 3, 1),
			 PM_TCB_EV_DATA | PM_TCB_EV_ACKED);
	assert_false(pm_tcb_quiescent(&t));		/* unread, ACK owed */
	pm_tcb_recv_consume(&t, 3);
	assert_false(pm_tcb_quiescent(&t));		/* ACK owed */
	assert_int_equal(out(&t, 1), 1);
	assert_true(pm_tcb_quiescent(&t));
	i = info(&t);
	assert_true(i.quiescent);
	assert_int_equal(i.state, PM_TCB_ESTABLISHED);
	assert_int_equal(i.snd_una, ISS + 21);
	assert_int_equal(i.snd_nxt, ISS + 21);
	assert_int_equal(i.rcv_nxt, IRS + 4);
	assert_int_equal(i.rcv_wnd, 1024);
	assert_int_equal(i.snd_wnd, 1000);
	assert_int_equal(i.snd_wnd_raw, 1000);
	assert_int_equal(i.send_queued, 0);
	assert_int_equal(i.recv_queued, 0);
	assert_string_equal(pm_tcb_state_name(PM_TCB_TIME_WAIT), "time-wait");
	assert_string_equal(pm_tcb_state_name(PM_TCB_SYN_SENT), "syn-sent");
	assert_string_equal(pm_tcb_state_name((enum pm_tcb_state)99), "?");
}

/* ---- the simulated network ---- */

#define SIM_QMAX	4096
#define SIM_DATA	1460
#define SIM_TRACE	400
#define SIM_TMAX	(1000ull * 3600 * 24 * 7)

struct pkt {
	uint64_t at;
	uint32_t order;
	int dst;
	struct pm_tcb_seg s;
	uint16_t len;
	uint8_t data[SIM_DATA];
};

struct scen {
	const char *name;
	uint32_t iss[2];
	uint32_t sbuf[2], rbuf[2];
	uint16_t mss[2];
	int8_t ws[2];
	bool sack[2];
	uint32_t bytes[2];	/* to send, A and B */
	unsigned loss, dup, jitter;	/* percent, percent, ms of reordering delay */
	uint32_t delay;		/* one-way base delay, ms */
	unsigned stall;		/* percent chance a consumer stalls at each step */
	uint32_t max_retries;
	uint32_t time_wait;
	uint32_t rto_min;
};

struct side {
	struct pm_tcb t;
	struct pm_tcb_params p;
	bool live;
	uint8_t sbuf[4096], rbuf[4096];
	uint32_t tx_queued, rx_got;
	bool close_called, closed_ok;
	unsigned ev_all;
	uint64_t stall_until;
	uint32_t probes, zero_wnds;
	bool got_pure_ack;	/* the last delivered segment was a bare ACK */
	uint32_t ack_chain;	/* bare ACKs answered with bare ACKs in a row */
};

struct sim {
	const struct scen *c;
	uint32_t rs, seed;
	uint64_t now;
	struct pkt q[SIM_QMAX];
	size_t nq;
	uint32_t order;
	struct side s[2];
	bool syn_seen;
	uint32_t syn_seq;
	struct pm_tcb_opts syn_opts;
	uint64_t steps, sent, lost;
	char trace[SIM_TRACE][96];
	unsigned ntrace;
};

static struct sim g_sim;

static uint8_t
stream_byte(int dir, uint32_t seed, uint32_t i)
{
	uint32_t x = (seed + (uint32_t)dir * 0x51ed27u) ^ (i * 0x9e3779b9u);

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return (uint8_t)x;
}

static void
sim_trace(struct sim *S, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(S->trace[S->ntrace++ % SIM_TRACE], sizeof(S->trace[0]), fmt, ap);
	va_end(ap);
}

static void
sim_fail(struct sim *S, const char *why)
{
	unsigned k, first = S->ntrace > SIM_TRACE ? S->ntrace - SIM_TRACE : 0;

	print_message("# sim %s seed 0x%08x failed at t=%" PRIu64 " ms: %s\n", S->c->name,
		      S->seed, S->now, why);
	for (int i = 0; i < 2; i++) {
		struct side *x = &S->s[i];
		struct pm_tcb_info in;

		pm_tcb_info(&x->t, &in);
		print_message("#  %c live %d state %s una %u nxt %u(%u) max %u rcv %u slen %u "
			      "rlen %u wnd %u timer %u dl %" PRIu64 " tx %u/%u rx %u ev 0x%x\n",
			      "AB"[i], x->live, pm_tcb_state_name(in.state), x->t.snd_una,
			      x->t.snd_nxt, in.snd_nxt, x->t.snd_max, x->t.rcv_nxt, x->t.slen,
			      x->t.rlen, x->t.snd_wnd, x->t.timer, x->t.deadline, x->tx_queued,
			      S->c->bytes[i], x->rx_got, x->ev_all);
	}
	for (k = first; k < S->ntrace; k++)
		print_message("#  %s\n", S->trace[k % SIM_TRACE]);
	fail_msg("sim %s seed 0x%08x: %s", S->c->name, S->seed, why);
}

static uint32_t
sim_rand(struct sim *S, uint32_t n)
{
	return n == 0 ? 0 : xorshift32(&S->rs) % n;
}

static void
net_send(struct sim *S, int dst, const struct pm_tcb_out *o)
{
	unsigned copies = 1 + (sim_rand(S, 100) < S->c->dup), k;

	S->sent++;
	for (k = 0; k < copies; k++) {
		struct pkt *p;

		if (sim_rand(S, 100) < S->c->loss) {
			S->lost++;
			sim_trace(S, "t=%" PRIu64 " %c>%c seq %u ack %u f%02x len %zu LOST", S->now,
				  "AB"[1 - dst], "AB"[dst], o->seq, o->ack, o->flags, o->len);
			continue;
		}
		if (S->nq == SIM_QMAX)
			sim_fail(S, "network queue full");
		if (o->len > SIM_DATA)
			sim_fail(S, "segment larger than the test's MSS");
		p = &S->q[S->nq++];
		p->at = S->now + S->c->delay + sim_rand(S, S->c->jitter + 1);
		p->order = S->order++;
		p->dst = dst;
		memset(&p->s, 0, sizeof(p->s));
		p->s.seq = o->seq;
		p->s.ack = o->ack;
		p->s.flags = o->flags;
		p->s.wnd = o->wnd;
		p->s.wscale = -1;
		if (o->flags & F_SYN) {
			p->s.has_mss = o->mss != 0;
			p->s.mss = o->mss;
			p->s.wscale = o->wscale;
			p->s.sack_ok = o->sack_ok;
		}
		p->len = (uint16_t)o->len;
		if (o->len > 0)
			memcpy(p->data, o->payload, o->len);
		sim_trace(S, "t=%" PRIu64 " %c>%c seq %u ack %u f%02x len %zu wnd %u at %" PRIu64,
			  S->now, "AB"[1 - dst], "AB"[dst], o->seq, o->ack, o->flags, o->len,
			  o->wnd, p->at);
	}
}

static void
sim_flush(struct sim *S, int i)
{
	struct side *x = &S->s[i];
	struct pm_tcb_out o[8];
	size_t n, k;

	if (!x->live)
		return;
	do {
		n = pm_tcb_output(&x->t, S->now, o, 8);
		for (k = 0; k < n; k++) {
			/* An ACK loop: bare ACKs answering bare ACKs without end
			 * (a stale duplicate draws one answer, not fifty). */
			if (o[k].flags == F_ACK && o[k].len == 0 && x->got_pure_ack) {
				if (++x->ack_chain > 50)
					sim_fail(S, "ACK loop");
			} else {
				x->ack_chain = 0;
			}
			if (o[k].len > 0 && o[k].len > info(&x->t).smss)
				sim_fail(S, "segment over the MSS");
			if (o[k].len == 1 && x->t.snd_wnd == 0)
				x->probes++;
			if ((o[k].flags & (F_ACK | F_SYN | F_RST)) == F_ACK && o[k].wnd == 0)
				x->zero_wnds++;
			net_send(S, 1 - i, &o[k]);
		}
	} while (n == 8);
	x->got_pure_ack = false;
	check_invariants(&x->t);
}

/* The cookie path of the listener, for B before its tcb exists. */
static void
sim_listener(struct sim *S, const struct pkt *p)
{
	const struct scen *c = S->c;
	struct side *b = &S->s[1];
	struct pm_tcb_out o;
	int rc;

	if ((p->s.flags & (F_SYN | F_ACK | F_RST)) == F_SYN) {
		/* SYN-ACK with the cookie as ISS; nothing is kept but what the
		 * cookie would encode (and the client's ISN, which a real
		 * cookie hashes in). */
		S->syn_seen = true;
		S->syn_seq = p->s.seq;
		S->syn_opts.mss = p->s.has_mss ? p->s.mss : 0;
		S->syn_opts.wscale = p->s.wscale;
		S->syn_opts.sack_ok = p->s.sack_ok;
		memset(&o, 0, sizeof(o));
		o.seq = c->iss[1];
		o.ack = p->s.seq + 1;
		o.flags = F_SYN | F_ACK;
		o.wnd = (uint16_t)(c->rbuf[1] > 65535 ? 65535 : c->rbuf[1]);
		o.mss = c->mss[1];
		o.wscale = p->s.wscale >= 0 && c->ws[1] >= 0 ? c->ws[1] : -1;
		o.sack_ok = p->s.sack_ok && c->sack[1];
		net_send(S, 0, &o);
		return;
	}
	if ((p->s.flags & (F_SYN | F_ACK | F_RST)) != F_ACK || !S->syn_seen ||
	    p->s.ack != c->iss[1] + 1 || p->s.seq != S->syn_seq + 1)
		return;		/* not a valid cookie: dropped */
	rc = pm_tcb_init_passive(&b->t, &b->p, c->iss[1], p->s.seq - 1, &S->syn_opts, S->now);
	if (rc != 0)
		sim_fail(S, "init_passive failed");
	b->live = true;
	sim_trace(S, "t=%" PRIu64 " B created", S->now);
	rc = pm_tcb_input(&b->t, &p->s, p->len ? p->data : NULL, p->len, S->now);
	if (rc < 0)
		sim_fail(S, "input rejected");
}

static void
sim_deliver(struct sim *S, size_t idx)
{
	struct pkt p = S->q[idx];
	struct side *d = &S->s[p.dst];
	int rc;

	S->q[idx] = S->q[--S->nq];
	d->got_pure_ack = p.s.flags == F_ACK && p.len == 0;
	if (!d->got_pure_ack)
		d->ack_chain = 0;
	if (p.dst == 1 && !d->live) {
		sim_listener(S, &p);
		return;
	}
	rc = pm_tcb_input(&d->t, &p.s, p.len ? p.data : NULL, p.len, S->now);
	if (rc < 0)
		sim_fail(S, "input rejected");
	check_invariants(&d->t);
}

static void
sim_app(struct sim *S, int i)
{
	struct side *x = &S->s[i];
	const struct scen *c = S->c;
	uint8_t chunk[256];
	const uint8_t *d;
	unsigned ev;
	size_t n, take, k;
	enum pm_tcb_state st;

	if (!x->live)
		return;
	ev = pm_tcb_events(&x->t);
	x->ev_all |= ev;
	if (ev & (PM_TCB_EV_RESET | PM_TCB_EV_CONNECT_FAILED | PM_TCB_EV_TIMEOUT))
		sim_fail(S, "connection failed");
	if (ev & PM_TCB_EV_CLOSED)
		x->closed_ok = true;
	st = pm_tcb_state(&x->t);
	/* Producer. */
	if (st == PM_TCB_SYN_SENT || st == PM_TCB_ESTABLISHED || st == PM_TCB_CLOSE_WAIT) {
		while (x->tx_queued < c->bytes[i] && !x->close_called) {
			size_t space = pm_tcb_send_space(&x->t);

			n = c->bytes[i] - x->tx_queued;
			if (n > sizeof(chunk))
				n = sizeof(chunk);
			n = 1 + sim_rand(S, (uint32_t)n);
			if (n > space) {
				if (pm_tcb_send(&x->t, chunk, n) != -ENOBUFS)
					sim_fail(S, "send over space not ENOBUFS");
				if (space == 0)
					break;
				n = space;
			}
			for (k = 0; k < n; k++)
				chunk[k] = stream_byte(i, S->seed, x->tx_queued + (uint32_t)k);
			if (pm_tcb_send(&x->t, chunk, n) != 0)
				sim_fail(S, "send failed");
			x->tx_queued += (uint32_t)n;
		}
		if (x->tx_queued == c->bytes[i] && !x->close_called && st != PM_TCB_SYN_SENT) {
			pm_tcb_close(&x->t);
			x->close_called = true;
		}
	}
	/* Consumer: random bites, and now and then a stall. */
	if (S->now < x->stall_until)
		return;
	while ((n = pm_tcb_recv_peek(&x->t, &d)) > 0) {
		take = 1 + sim_rand(S, (uint32_t)n);
		for (k = 0; k < take; k++) {
			if (d[k] != stream_byte(1 - i, S->seed, x->rx_got + (uint32_t)k))
				sim_fail(S, "byte mismatch");
		}
		x->rx_got += (uint32_t)take;
		pm_tcb_recv_consume(&x->t, take);
		if (sim_rand(S, 4) == 0) {
			x->stall_until = S->now + 1 + sim_rand(S, 20);	/* a slow reader */
			break;
		}
	}
	if (sim_rand(S, 100) < c->stall)
		x->stall_until = S->now + 1 + sim_rand(S, 3000);
	if (x->rx_got > c->bytes[1 - i])
		sim_fail(S, "more bytes than were sent");
}

/*
 * TIME_WAIT lingers params.time_wait_ms (at most 65.5 s) while the peer's
 * FIN retransmissions back off to 60 s: under heavy loss the linger can end
 * before the peer's last retransmission, the documented trade-off of a
 * short TIME_WAIT (the scripted FIN cases test the linger itself). The
 * network runs test delivery and the FIN handshake, so they hold a side's
 * linger while its peer still waits for the ACK of its FIN.
 */
static bool
sim_linger_held(const struct sim *S, int i)
{
	const struct side *o = &S->s[1 - i];

	return pm_tcb_state(&S->s[i].t) == PM_TCB_TIME_WAIT && o->live &&
	       (pm_tcb_state(&o->t) == PM_TCB_LAST_ACK || pm_tcb_state(&o->t) == PM_TCB_CLOSING ||
		pm_tcb_state(&o->t) == PM_TCB_FIN_WAIT_1);
}

static bool
sim_done(const struct sim *S)
{
	for (int i = 0; i < 2; i++) {
		if (!S->s[i].closed_ok || S->s[i].rx_got != S->c->bytes[1 - i])
			return false;
	}
	return true;
}

static void
sim_setup_side(struct sim *S, int i)
{
	const struct scen *c = S->c;
	struct side *x = &S->s[i];

	pm_tcb_params_defaults(&x->p);
	x->p.sbuf = x->sbuf;
	x->p.sbuf_size = c->sbuf[i];
	x->p.rbuf = x->rbuf;
	x->p.rbuf_size = c->rbuf[i];
	x->p.local.mss = c->mss[i];
	x->p.local.wscale = c->ws[i];
	x->p.local.sack_ok = c->sack[i];
	x->p.max_retries = c->max_retries ? c->max_retries : 8;
	x->p.syn_retries = x->p.max_retries;
	x->p.time_wait_ms = c->time_wait;
	x->p.fin_wait2_ms = 0;	/* a half-close can last as long as loss makes it */
	if (c->rto_min)
		x->p.rto_min_ms = c->rto_min;
}

static void
sim_run(const struct scen *c, uint32_t seed)
{
	struct sim *S = &g_sim;
	uint64_t next, dl;
	size_t k, best;
	int who;

	memset(S, 0, sizeof(*S));
	S->c = c;
	S->seed = S->rs = seed ? seed : 1;
	sim_setup_side(S, 0);
	sim_setup_side(S, 1);
	if (pm_tcb_init_active(&S->s[0].t, &S->s[0].p, c->iss[0], 0) != 0)
		sim_fail(S, "init_active failed");
	S->s[0].live = true;
	for (;;) {
		sim_app(S, 0);
		sim_app(S, 1);
		sim_flush(S, 0);
		sim_flush(S, 1);
		if (sim_done(S))
			break;
		if (++S->steps > 5000000)
			sim_fail(S, "too many steps");
		/* The next event: a packet, a timer, or a stalled consumer. */
		next = UINT64_MAX;
		best = SIZE_MAX;
		who = -1;
		for (k = 0; k < S->nq; k++) {
			if (best == SIZE_MAX || S->q[k].at < next ||
			    (S->q[k].at == next && S->q[k].order < S->q[best].order)) {
				next = S->q[k].at;
				best = k;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (!S->s[i].live || sim_linger_held(S, i))
				continue;
			dl = pm_tcb_deadline(&S->s[i].t);
			if (dl < next) {
				next = dl;
				who = i;
				best = SIZE_MAX;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (S->s[i].live && S->s[i].t.rlen > 0 && S->s[i].stall_until > S->now &&
			    S->s[i].stall_until < next) {
				next = S->s[i].stall_until;
				who = -1;
				best = SIZE_MAX;
			}
		}
		if (next == UINT64_MAX)
			sim_fail(S, "stuck: no packet, no timer");
		if (next > SIM_TMAX)
			sim_fail(S, "out of simulated time");
		if (next > S->now)
			S->now = next;
		if (best != SIZE_MAX) {
			sim_deliver(S, best);
		} else if (who >= 0) {
			int rc = pm_tcb_timeout(&S->s[who].t, S->now);

			if (rc < 0)
				sim_fail(S, "timeout failed");
			sim_trace(S, "t=%" PRIu64 " %c timer ev 0x%x", S->now, "AB"[who], rc);
			check_invariants(&S->s[who].t);
		}
	}
	/* Both closed cleanly, every byte once, in order. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pm_tcb_state(&S->s[i].t), PM_TCB_CLOSED);
		assert_int_equal(pm_tcb_error(&S->s[i].t), 0);
		assert_true(S->s[i].ev_all & PM_TCB_EV_PEER_FIN);
	}
}

static const struct scen scen_clean = {
	.name = "clean", .iss = { 100, 90000 }, .sbuf = { 1024, 1024 }, .rbuf = { 1024, 1024 },
	.mss = { 1460, 1460 }, .ws = { 7, 7 }, .sack = { true, true },
	.bytes = { 3000, 5000 }, .delay = 10, .time_wait = 2000,
};

static void
test_tcb_sim_clean_network_transfers_and_closes(void **state)
{
	uint32_t seed = pm_test_seed("tcb_sim_clean", TEST_SEED);

	(void)state;
	sim_run(&scen_clean, seed);
	assert_int_equal(g_sim.lost, 0);
	/* One RTT handshake, no retransmission on a clean network. */
	assert_true(g_sim.s[0].ev_all & PM_TCB_EV_ESTABLISHED);
	assert_true(g_sim.s[1].ev_all & PM_TCB_EV_ESTABLISHED);
}

static void
test_tcb_sim_server_speaks_first(void **state)
{
	struct scen c = scen_clean;
	uint32_t seed = pm_test_seed("tcb_sim_server_first", TEST_SEED + 1);

	(void)state;
	/* IMAP-like: the passive side says nearly everything. */
	c.name = "server-first";
	c.bytes[0] = 1;
	c.bytes[1] = 4000;
	sim_run(&c, seed);
}

static void
test_tcb_sim_lossy_tiny_windows_deliver_exactly_once(void **state)
{
	uint32_t rs = pm_test_seed("tcb_sim_lossy", TEST_SEED + 2);
	static const uint32_t bufs[] = { 16, 32, 64, 256, 1024, 4096 };
	static const uint16_t msss[] = { 64, 100, 536, 1460 };
	unsigned runs = 0, probes = 0, zeros = 0;

	(void)state;
	for (int r = 0; r < 60; r++) {
		struct scen c;
		uint32_t seed = xorshift32(&rs);

		memset(&c, 0, sizeof(c));
		c.name = "lossy";
		for (int i = 0; i < 2; i++) {
			c.iss[i] = xorshift32(&rs);
			c.sbuf[i] = bufs[xorshift32(&rs) % 6];
			c.rbuf[i] = bufs[xorshift32(&rs) % 6];
			c.mss[i] = msss[xorshift32(&rs) % 4];
			c.ws[i] = (int8_t)((int)(xorshift32(&rs) % 4) - 1);	/* -1..2 */
			c.sack[i] = xorshift32(&rs) & 1;
			c.bytes[i] = 1 + xorshift32(&rs) % 4000;
		}
		c.loss = xorshift32(&rs) % 31;			/* up to 30 % */
		c.dup = xorshift32(&rs) % 10;
		c.jitter = xorshift32(&rs) % 50;
		c.delay = 1 + xorshift32(&rs) % 40;
		c.stall = xorshift32(&rs) % 8;
		c.max_retries = 30;
		c.time_wait = 65535;
		c.rto_min = 1 + xorshift32(&rs) % 300;
		sim_run(&c, seed);
		runs++;
		probes += g_sim.s[0].probes + g_sim.s[1].probes;
		zeros += g_sim.s[0].zero_wnds + g_sim.s[1].zero_wnds;
	}
	print_message("# %u lossy runs, %u zero-window probes, %u zero windows advertised\n",
		      runs, probes, zeros);
	assert_true(probes > 0);
	assert_true(zeros > 0);
}

static void
test_tcb_sim_sequence_numbers_wrap(void **state)
{
	struct scen c = scen_clean;
	uint32_t rs = pm_test_seed("tcb_sim_wrap", TEST_SEED + 3);

	(void)state;
	c.name = "wrap";
	c.iss[0] = 0xffffff00u;
	c.iss[1] = 0xfffffff0u;
	c.sbuf[0] = c.sbuf[1] = 64;
	c.rbuf[0] = c.rbuf[1] = 32;
	c.ws[0] = c.ws[1] = -1;
	c.bytes[0] = 3000;
	c.bytes[1] = 2000;
	sim_run(&c, xorshift32(&rs));
	/* Both directions crossed 2^32. */
	assert_true(pm_seq_gt(g_sim.s[0].t.snd_una, 0xffffff00u));
	assert_true(g_sim.s[0].t.snd_una < 0x1000u);
	assert_true(g_sim.s[1].t.snd_una < 0x1000u);
	/* Lossy, with the wrap. */
	c.loss = 20;
	c.dup = 5;
	c.jitter = 30;
	c.stall = 5;
	c.max_retries = 30;
	c.time_wait = 65535;
	for (int r = 0; r < 10; r++)
		sim_run(&c, xorshift32(&rs));
}

static void
test_tcb_sim_stalled_readers_force_zero_window_probes(void **state)
{
	struct scen c = scen_clean;
	uint32_t rs = pm_test_seed("tcb_sim_stall", TEST_SEED + 4);
	uint32_t probes = 0, zeros = 0;

	(void)state;
	c.name = "stall";
	c.rbuf[0] = c.rbuf[1] = 16;
	c.sbuf[0] = c.sbuf[1] = 256;
	c.ws[0] = c.ws[1] = -1;
	c.bytes[0] = c.bytes[1] = 1500;
	c.stall = 30;
	for (int r = 0; r < 10; r++) {
		sim_run(&c, xorshift32(&rs));
		probes += g_sim.s[0].probes + g_sim.s[1].probes;
		zeros += g_sim.s[0].zero_wnds + g_sim.s[1].zero_wnds;
	}
	print_message("# stall: %u probes, %u zero windows\n", probes, zeros);
	assert_true(probes > 0);
	assert_true(zeros > 0);
}

/* ---- random segments into an established tcb ---- */

static void
test_tcb_random_segments_keep_invariants(void **state)
{
	uint32_t rs = pm_test_seed("tcb_random_segments", TEST_SEED + 5);
	struct pm_tcb t;
	struct pm_tcb_params p;
	struct pm_tcb_seg s;
	uint64_t now = 0;

	(void)state;
	for (int r = 0; r < 200; r++) {
		p = mkparams(1u << (xorshift32(&rs) % 8), 2u << (xorshift32(&rs) % 8));
		p.local.wscale = -1;
		mk_passive(&t, &p, xorshift32(&rs) % 3 == 0 ? 0 : xorshift32(&rs) & 0xffff);
		for (int k = 0; k < 500; k++) {
			uint32_t op = xorshift32(&rs) % 10, base;
			size_t len, n;
			const uint8_t *d;

			now += xorshift32(&rs) % 300;
			switch (op) {
			case 0:
				(void)pm_tcb_send(&t, text, xorshift32(&rs) % 40);
				break;
			case 1:
				assert_true(pm_tcb_timeout(&t, now) >= 0);
				/* Run, the timer lies in the future (or none runs). */
				assert_true(pm_tcb_deadline(&t) > now);
				break;
			case 2:
				n = pm_tcb_recv_peek(&t, &d);
				pm_tcb_recv_consume(&t, n ? xorshift32(&rs) % (n + 1) : 0);
				break;
			case 3:
				if (xorshift32(&rs) % 50 == 0)
					pm_tcb_close(&t);
				break;
			default:
				/* Near the real numbers most of the time. */
				base = xorshift32(&rs) & 1 ? t.rcv_nxt : t.rcv_nxt - 100;
				s = mkseg(base + xorshift32(&rs) % 200,
					  t.snd_una - 20 + xorshift32(&rs) % 80,
					  (uint8_t)(xorshift32(&rs) & 0x3f),
					  xorshift32(&rs) & 0xffff);
				if (xorshift32(&rs) % 4 != 0)
					s.flags &= (uint8_t)~(F_SYN | F_RST);
				if (xorshift32(&rs) % 8 == 0)
					s = mkseg(xorshift32(&rs), xorshift32(&rs),
						  (uint8_t)xorshift32(&rs),
						  xorshift32(&rs) & 0xffff);
				len = xorshift32(&rs) % sizeof(text);
				assert_true(pm_tcb_input(&t, &s, text, len, now) >= 0);
				break;
			}
			check_invariants(&t);
			do {
				n = pm_tcb_output(&t, now, O, OMAX);
				for (size_t j = 0; j < n; j++)
					assert_true(O[j].len <= 536);
				check_invariants(&t);
			} while (n == OMAX);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcb_params_invalid_are_rejected),
		cmocka_unit_test(test_tcb_input_invalid_is_einval_and_changes_nothing),
		cmocka_unit_test(test_tcb_active_first_output_is_syn_with_options),
		cmocka_unit_test(test_tcb_syn_ack_establishes_and_learns_peer_options),
		cmocka_unit_test(test_tcb_syn_ack_without_options_turns_scaling_and_sack_off),
		cmocka_unit_test(test_tcb_syn_to_nobody_fails_after_backed_off_retries),
		cmocka_unit_test(test_tcb_rst_in_syn_sent_needs_acceptable_ack),
		cmocka_unit_test(test_tcb_syn_ack_with_bad_ack_draws_rst),
		cmocka_unit_test(test_tcb_syn_retransmitted_sets_rto_3s_and_no_sample),
		cmocka_unit_test(test_tcb_syn_ack_with_data_and_fin_is_taken),
		cmocka_unit_test(test_tcb_close_and_abort_in_syn_sent_send_nothing),
		cmocka_unit_test(test_tcb_passive_first_input_takes_window_options_and_payload),
		cmocka_unit_test(test_tcb_rst_out_of_window_is_ignored),
		cmocka_unit_test(test_tcb_rst_in_window_not_exact_draws_challenge_ack),
		cmocka_unit_test(test_tcb_rst_exact_resets),
		cmocka_unit_test(test_tcb_rst_exact_at_zero_window_resets),
		cmocka_unit_test(test_tcb_syn_in_established_draws_challenge_ack),
		cmocka_unit_test(test_tcb_ack_of_unsent_data_draws_ack_and_drops_segment),
		cmocka_unit_test(test_tcb_ack_older_than_max_window_is_dropped),
		cmocka_unit_test(test_tcb_acks_to_bare_segments_not_taken_are_rate_limited),
		cmocka_unit_test(test_tcb_old_duplicate_still_delivers_its_ack),
		cmocka_unit_test(test_tcb_bare_segment_at_right_edge_is_accepted),
		cmocka_unit_test(test_tcb_bare_ack_seq_never_passes_a_shut_window),
		cmocka_unit_test(test_tcb_out_of_order_data_is_dropped_with_duplicate_ack),
		cmocka_unit_test(test_tcb_receive_ring_wraps_and_peeks_in_two_parts),
		cmocka_unit_test(test_tcb_recv_buffer_full_advertises_zero_then_window_update),
		cmocka_unit_test(test_tcb_scaled_window_never_shrinks),
		cmocka_unit_test(test_tcb_output_respects_peer_mss_and_initial_window),
		cmocka_unit_test(test_tcb_send_is_all_or_nothing),
		cmocka_unit_test(test_tcb_send_after_close_is_epipe),
		cmocka_unit_test(test_tcb_rto_resends_one_segment_from_una_then_times_out),
		cmocka_unit_test(test_tcb_ack_after_rto_resumes_go_back_n),
		cmocka_unit_test(test_tcb_rtt_and_rto_follow_rfc6298_on_scripted_trace),
		cmocka_unit_test(test_tcb_karn_no_sample_from_retransmitted_segment),
		cmocka_unit_test(test_tcb_rto_restarts_on_new_ack),
		cmocka_unit_test(test_tcb_zero_window_probes_back_off_and_resume),
		cmocka_unit_test(test_tcb_zero_window_probe_byte_accepted_keeps_probing),
		cmocka_unit_test(test_tcb_zero_window_unanswered_probes_time_out),
		cmocka_unit_test(test_tcb_window_closing_with_data_in_flight_switches_to_persist),
		cmocka_unit_test(test_tcb_fin_in_established_then_last_ack),
		cmocka_unit_test(test_tcb_fin_in_fin_wait_1_goes_closing_then_time_wait),
		cmocka_unit_test(test_tcb_fin_acking_our_fin_in_fin_wait_1_goes_time_wait),
		cmocka_unit_test(test_tcb_fin_in_fin_wait_2_goes_time_wait),
		cmocka_unit_test(test_tcb_fin_wait_2_limit_times_out),
		cmocka_unit_test(test_tcb_no_time_wait_closes_at_once_with_final_ack),
		cmocka_unit_test(test_tcb_fin_out_of_order_or_behind_dropped_data_waits),
		cmocka_unit_test(test_tcb_fin_in_closed_is_ignored),
		cmocka_unit_test(test_tcb_abort_sends_one_rst_then_nothing),
		cmocka_unit_test(test_tcb_quiescent_and_info_for_splice),
		cmocka_unit_test(test_tcb_sim_clean_network_transfers_and_closes),
		cmocka_unit_test(test_tcb_sim_server_speaks_first),
		cmocka_unit_test(test_tcb_sim_lossy_tiny_windows_deliver_exactly_once),
		cmocka_unit_test(test_tcb_sim_sequence_numbers_wrap),
		cmocka_unit_test(test_tcb_sim_stalled_readers_force_zero_window_probes),
		cmocka_unit_test(test_tcb_random_segments_keep_invariants),
	};

	return cmocka_run_group_tests_name("tcb", tests, NULL, NULL);
}
