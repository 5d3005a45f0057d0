/*
 * fuzz_splice.c -- libFuzzer target for the spliced-session rewrite and
 * trim (dataplane/tcp/splice.h).
 *
 * Input layout:
 *   0..22  a struct pm_splice_dir: saddr[4] daddr[4] sport[2] dport[2]
 *          seq_delta[4] ack_delta[4] shift_in shift_out ttl (big-endian)
 *   23     mode: bit 0 = fix the frame up first (version/IHL 0x45, total
 *          length = the frame, protocol TCP, no fragment bits, both checksums
 *          correct), bits 1..5 = the IPv4 header offset (0..31)
 *   24..25 the trim for pm_splice_trim()
 *   26..   the frame, copied into a heap buffer of exactly its length so
 *          ASan reports any access outside it
 * The shifts are used as given (values above 14 must be refused).
 *
 * Promises checked (a violation aborts):
 *   rewrite: refuses with -EINVAL and leaves the frame untouched, or
 *     returns 0 / PM_SPLICE_F_TSOPT having changed only the two headers:
 *     addresses, ports, TTL, seq, ack (only with ACK), window and SACK
 *     edges as specified, every other byte as it was; the one's complement
 *     residue of the IPv4 header and of the TCP segment is preserved, so a
 *     frame whose checksums verified (always, in fix-up mode) still
 *     verifies, and then its checksum fields equal a full recomputation.
 *   trim: refuses and leaves the frame untouched, or produces a packet at
 *     frame + trim whose link header, payload tail, seq and total length are
 *     as specified and whose checksums verify exactly when they did before.
 *
 * Seed corpus: tests/fuzz/corpus/splice/ (the unit test's golden frames in
 * both modes, a pure ACK, four SACK options, a TS option, truncations).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/cksum.h"
#include "tcp/splice.h"

#define HDR	26

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_splice: %s\n", what);
	abort();
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Residue mod 0xffff of a one's complement sum: 0 means "verifies". */
static uint16_t
residue(uint16_t s)
{
	return s == 0xffff ? 0 : s;
}

/* Folded sum of the pseudo-header and the TCP segment of @ip (whose total
 * length has been checked by the caller). */
static uint16_t
tcp_sum(const uint8_t *ip)
{
	uint8_t ph[12];
	size_t seg = (size_t)get16(ip + 2) - 20;

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = ip[9];
	put16(ph + 10, (uint16_t)seg);
	return pm_cksum_partial(pm_cksum_partial(0, ph, 12), ip + 20, seg);
}

static uint16_t
exp_wnd(uint16_t w, unsigned in, unsigned out)
{
	uint64_t v = ((uint64_t)w << in) >> out;

	if (v == 0 && w != 0)
		v = 1;
	return v > 0xffff ? 0xffff : (uint16_t)v;
}

static void
fixup(uint8_t *f, size_t len, size_t ip_off)
{
	uint8_t *ip = f + ip_off;
	size_t tot = len - ip_off;

	if (len < ip_off || tot < 40 || tot > 0xffff)
		return;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)tot);
	ip[6] &= 0x40;
	ip[7] = 0;
	ip[9] = 6;
	put16(ip + 10, 0);
	put16(ip + 10, pm_cksum(ip, 20));
	put16(ip + 36, 0);
	put16(ip + 36, pm_cksum_finish(tcp_sum(ip)));
}

/* Check a successful rewrite of @orig into @f (both @len bytes). */
static void
check_rewrite(const uint8_t *orig, const uint8_t *f, size_t len, size_t ip_off,
	      const struct pm_splice_dir *d, bool verified)
{
	const uint8_t *oi = orig + ip_off, *ni = f + ip_off;
	const uint8_t *ot = oi + 20, *nt = ni + 20;
	size_t hl = (size_t)(ot[12] >> 4) * 4, end = ip_off + 20 + hl, i;
	uint8_t flags = ot[13];
	bool edge[60] = { false };

	if (memcmp(orig, f, ip_off) != 0 || memcmp(orig + end, f + end, len - end) != 0)
		die("bytes outside the headers changed");
	if (memcmp(oi, ni, 8) != 0 || oi[9] != ni[9])
		die("IPv4 header bytes 0-7 or protocol changed");
	if (ni[8] != d->ttl || memcmp(ni + 12, d->saddr, 4) != 0 ||
	    memcmp(ni + 16, d->daddr, 4) != 0)
		die("TTL or addresses not as specified");
	if (get16(nt) != d->sport || get16(nt + 2) != d->dport)
		die("ports not as specified");
	if (get32(nt + 4) != get32(ot + 4) + d->seq_delta)
		die("seq not translated");
	if (get32(nt + 8) != ((flags & 0x10) != 0 ? get32(ot + 8) + d->ack_delta : get32(ot + 8)))
		die("ack not as specified");
	if (memcmp(ot + 12, nt + 12, 2) != 0 || memcmp(ot + 18, nt + 18, 2) != 0)
		die("data offset, flags or urgent pointer changed");
	if (get16(nt + 14) != exp_wnd(get16(ot + 14), d->wnd_shift_in, d->wnd_shift_out))
		die("window not as specified");
	/* An independent walk of the options: SACK edges move, the rest not. */
	for (i = 20; i < hl;) {
		size_t olen, j;

		if (ot[i] == 0)
			break;
		if (ot[i] == 1) {
			i++;
			continue;
		}
		olen = ot[i + 1];
		if (ot[i] == 5)
			for (j = i + 2; j < i + olen; j += 4)
				edge[j] = true;
		i += olen;
	}
	for (i = 20; i < hl; i++) {
		if (edge[i]) {
			if (get32(nt + i) != get32(ot + i) + d->ack_delta)
				die("SACK edge not translated");
			i += 3;
		} else if (nt[i] != ot[i]) {
			die("option byte changed");
		}
	}
	if (residue(pm_cksum_partial(0, oi, 20)) != residue(pm_cksum_partial(0, ni, 20)))
		die("IPv4 checksum residue changed");
	if (residue(tcp_sum(oi)) != residue(tcp_sum(ni)))
		die("TCP checksum residue changed");
	if (verified) {
		uint8_t h[20];

		memcpy(h, ni, 20);
		put16(h + 10, 0);
		if (get16(ni + 10) != pm_cksum(h, 20))
			die("IPv4 checksum differs from a full recomputation");
		if (get16(nt + 16) != pm_cksum_finish(tcp_sum(ni) + (uint16_t)~get16(nt + 16)))
			die("TCP checksum differs from a full recomputation");
	}
}

static void
check_trim(const uint8_t *orig, const uint8_t *f, size_t len, size_t ip_off, uint32_t trim)
{
	const uint8_t *oi = orig + ip_off, *ni = f + trim + ip_off;
	size_t hl = (size_t)(oi[32] >> 4) * 4, pay = ip_off + 20 + hl;
	size_t tot = get16(oi + 2);

	if (memcmp(orig, f + trim, ip_off) != 0)
		die("trim: link header not moved intact");
	if (memcmp(orig + pay + trim, f + pay + trim, len - pay - trim) != 0)
		die("trim: payload tail or padding changed");
	if (get16(ni + 2) != tot - trim || get32(ni + 24) != get32(oi + 24) + trim)
		die("trim: total length or seq wrong");
	if ((residue(pm_cksum_partial(0, oi, 20)) == 0) !=
	    (residue(pm_cksum_partial(0, ni, 20)) == 0))
		die("trim: IPv4 checksum validity changed");
	if ((residue(tcp_sum(oi)) == 0) != (residue(tcp_sum(ni)) == 0))
		die("trim: TCP checksum validity changed");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_splice_dir d;
	size_t len, ip_off;
	uint8_t *orig, *f;
	uint32_t trim;
	bool fix;
	int rc;

	if (size < HDR)
		return 0;
	memcpy(d.saddr, data, 4);
	memcpy(d.daddr, data + 4, 4);
	d.sport = get16(data + 8);
	d.dport = get16(data + 10);
	d.seq_delta = get32(data + 12);
	d.ack_delta = get32(data + 16);
	d.wnd_shift_in = data[20];
	d.wnd_shift_out = data[21];
	d.ttl = data[22];
	fix = (data[23] & 1) != 0;
	ip_off = (data[23] >> 1) % 32;
	trim = get16(data + 24);
	len = size - HDR;

	orig = malloc(len > 0 ? len : 1);
	f = malloc(len > 0 ? len : 1);
	if (orig == NULL || f == NULL)
		die("out of memory");
	memcpy(orig, data + HDR, len);
	if (fix)
		fixup(orig, len, ip_off);

	memcpy(f, orig, len);
	rc = pm_splice_rewrite(f, len, ip_off, ip_off + 20, &d);
	if (rc < 0) {
		if (rc != -EINVAL || memcmp(f, orig, len) != 0)
			die("refused rewrite changed the frame or returned an odd error");
	} else {
		bool verified = residue(pm_cksum_partial(0, orig + ip_off, 20)) == 0 &&
				residue(tcp_sum(orig + ip_off)) == 0;

		if (rc != 0 && rc != PM_SPLICE_F_TSOPT)
			die("unknown flags");
		if (d.wnd_shift_in > 14 || d.wnd_shift_out > 14)
			die("shift over 14 accepted");
		if (fix && !verified)
			die("fix-up did not produce a valid frame");
		check_rewrite(orig, f, len, ip_off, &d, verified);
	}

	memcpy(f, orig, len);
	rc = pm_splice_trim(f, len, ip_off, ip_off + 20, trim);
	if (rc < 0) {
		if (rc != -EINVAL || memcmp(f, orig, len) != 0)
			die("refused trim changed the frame or returned an odd error");
	} else if (rc != 0) {
		die("trim returned a positive value");
	} else if (trim > 0) {
		check_trim(orig, f, len, ip_off, trim);
	}

	free(orig);
	free(f);
	return 0;
}
