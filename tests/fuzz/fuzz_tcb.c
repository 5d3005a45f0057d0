/*
 * fuzz_tcb.c -- libFuzzer target for the pre-login TCP endpoint (tcp/tcb.h).
 *
 * The input is a program: one byte of configuration (buffer sizes, window
 * scale, passive or active open), then operations, each an opcode byte and
 * its arguments: a segment (seq and ack as offsets from RCV.NXT and SND.UNA
 * most of the time, or raw 32-bit numbers), output, time passing plus the
 * timer, send, consume, close, abort. Segment payload bytes are a function
 * of their sequence number and our sent bytes a function of their stream
 * offset, so besides crashes and sanitizer reports the target checks:
 *   - the invariants of tcb.c (una <= nxt <= max, buffer accounting, one
 *     timer iff a deadline);
 *   - every byte in the receive buffer is the peer's byte for its sequence
 *     number (nothing misplaced, nothing from outside the stream);
 *   - every payload byte we emit is ours for its sequence number, inside
 *     the send buffer, and a segment is never larger than the MSS;
 *   - after the timer ran, the next deadline lies in the future.
 * Any violation aborts.
 *
 * Build (tests/fuzz/meson.build, or by hand):
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -Idataplane tests/fuzz/fuzz_tcb.c dataplane/tcp/tcb.c
 * Seed corpus: tests/fuzz/corpus/tcb/.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp/tcb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISS 0xfffffe00u
#define IRS 0x7ffffff0u
#define OMAX 16

static uint8_t sbuf[1 << 12], rbuf[1 << 12];
static uint8_t payload[PM_TCB_SEG_MAX];

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint32_t
get(struct rd *r, unsigned bytes)
{
	uint32_t v = 0;

	while (bytes-- > 0) {
		v <<= 8;
		if (r->n > 0) {
			v |= *r->p++;
			r->n--;
		}
	}
	return v;
}

static uint8_t
peer_byte(uint32_t seq)
{
	return (uint8_t)(seq * 13u + 5u);
}

static uint8_t
our_byte(uint32_t off)
{
	return (uint8_t)(off * 31u + 7u);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_tcb: %s\n", what);
	abort();
}

static void
check(const struct pm_tcb *t)
{
	const uint8_t *d;
	uint32_t start, k;
	size_t n;

	if (t->slen > t->smask + 1 || t->rlen > t->rmask + 1)
		die("buffer accounting");
	if ((t->timer == 0) != (t->deadline == UINT64_MAX))
		die("timer and deadline disagree");
	if (t->state != PM_TCB_CLOSED) {
		if (!pm_seq_le(t->snd_una, t->snd_nxt) || !pm_seq_le(t->snd_nxt, t->snd_max))
			die("una <= nxt <= max");
		if (t->snd_max - t->snd_una > t->slen + 1)
			die("more in flight than buffered");
	}
	/* Unread bytes, in order, are the peer's bytes for their seq. */
	n = pm_tcb_recv_peek(t, &d);
	if (t->rlen > 0) {
		struct pm_tcb_info i;

		pm_tcb_info(t, &i);
		start = t->rcv_nxt - t->rlen - i.peer_fin;
		for (k = 0; k < n; k++) {
			if (d[k] != peer_byte(start + k))
				die("receive buffer holds a wrong byte");
		}
	} else if (n != 0) {
		die("peek on an empty buffer");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r = { data, size };
	struct pm_tcb t;
	struct pm_tcb_params p;
	struct pm_tcb_opts peer;
	struct pm_tcb_out o[OMAX];
	struct pm_tcb_seg s;
	uint32_t cfg, queued = 0, seq0, op, k, len, iss;
	uint64_t now = 0;
	size_t n, j;
	int rc;

	cfg = get(&r, 1);
	pm_tcb_params_defaults(&p);
	p.sbuf = sbuf;
	p.sbuf_size = 1u << (cfg & 7) << 5;		/* 32 .. 4096 */
	p.rbuf = rbuf;
	p.rbuf_size = 1u << ((cfg >> 3) & 7) << 5;
	p.local.wscale = (cfg & 0x40) ? 2 : -1;
	p.local.mss = 64 + (uint16_t)get(&r, 1) * 4;
	p.max_retries = 3;
	p.syn_retries = 2;
	peer.mss = (uint16_t)get(&r, 2);
	peer.wscale = (int8_t)(get(&r, 1) % 17) - 1;
	peer.sack_ok = true;
	if (cfg & 0x80) {
		iss = ISS;
		rc = pm_tcb_init_active(&t, &p, iss, now);
		seq0 = iss + 1;
	} else {
		iss = ISS;
		rc = pm_tcb_init_passive(&t, &p, iss, IRS, &peer, now);
		seq0 = iss + 1;
	}
	if (rc != 0)
		die("init failed on valid params");
	check(&t);

	while (r.n > 0) {
		op = get(&r, 1);
		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			/* A segment near the real numbers. */
			memset(&s, 0, sizeof(s));
			s.seq = t.rcv_nxt + (uint32_t)(int16_t)get(&r, 2);
			if (t.state == PM_TCB_SYN_SENT && (op & 0x80))
				s.seq = IRS;
			s.ack = t.snd_una + (uint32_t)(int16_t)get(&r, 2);
			s.flags = (uint8_t)get(&r, 1);
			s.wnd = get(&r, 2);
			s.has_mss = (op & 0x10) != 0;
			s.mss = (uint16_t)get(&r, 2);
			s.wscale = (int8_t)((op >> 5) & 3) * 5 - 1;
			s.sack_ok = (op & 0x08) != 0;
			len = get(&r, 1) * ((op & 0x40) ? 16 : 1);
			for (k = 0; k < len; k++)
				payload[k] = peer_byte(s.seq + ((s.flags & PM_TCB_F_SYN) != 0) + k);
			if (pm_tcb_input(&t, &s, payload, len, now) < 0)
				die("input rejected a valid segment");
			break;
		case 3:
			/* A segment with arbitrary numbers. */
			memset(&s, 0, sizeof(s));
			s.seq = get(&r, 4);
			s.ack = get(&r, 4);
			s.flags = (uint8_t)get(&r, 1);
			s.wnd = get(&r, 2);
			s.wscale = -1;
			len = get(&r, 1);
			for (k = 0; k < len; k++)
				payload[k] = peer_byte(s.seq + ((s.flags & PM_TCB_F_SYN) != 0) + k);
			if (pm_tcb_input(&t, &s, payload, len, now) < 0)
				die("input rejected a valid segment");
			break;
		case 4:
			now += get(&r, 2) * ((op & 0x80) ? 64 : 1);
			if (pm_tcb_timeout(&t, now) < 0)
				die("timeout failed");
			if (pm_tcb_deadline(&t) <= now)
				die("deadline not in the future after the timer");
			break;
		case 5:
			len = get(&r, 1);
			{
				uint8_t b[256];

				for (k = 0; k < len; k++)
					b[k] = our_byte(queued + k);
				rc = pm_tcb_send(&t, b, len);
				if (rc == 0)
					queued += len;
				else if (len <= pm_tcb_send_space(&t) && rc == -ENOBUFS)
					die("ENOBUFS with space");
			}
			break;
		case 6:
			{
				const uint8_t *d;

				n = pm_tcb_recv_peek(&t, &d);
				pm_tcb_recv_consume(&t, n ? get(&r, 1) % (n + 1) : 0);
			}
			break;
		default:
			if ((op & 0xf8) == 0x08)
				pm_tcb_close(&t);
			else if ((op & 0xf8) == 0x10)
				pm_tcb_abort(&t);
			break;
		}
		check(&t);
		/* Output after every step, as the worker will. */
		do {
			n = pm_tcb_output(&t, now, o, OMAX);
			for (j = 0; j < n; j++) {
				struct pm_tcb_info i;

				pm_tcb_info(&t, &i);
				if (o[j].len > i.smss)
					die("segment over the MSS");
				if (o[j].len > 0 && (o[j].payload < sbuf ||
						     o[j].payload + o[j].len > sbuf + p.sbuf_size))
					die("payload outside the send buffer");
				for (k = 0; k < o[j].len; k++) {
					if (o[j].payload[k] != our_byte(o[j].seq + k - seq0))
						die("sent byte does not match its sequence number");
				}
				if ((o[j].flags & PM_TCB_F_SYN) && o[j].len > 0)
					die("data on our SYN");
			}
			check(&t);
		} while (n == OMAX);
	}
	return 0;
}
