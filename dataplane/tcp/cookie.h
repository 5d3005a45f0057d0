/*
 * cookie.h -- TCP SYN cookies: the ISN of our SYN-ACK carries the client's
 * MSS, window scale and SACK-permitted, authenticated, so that a SYN
 * allocates nothing and the connection is created only when the final ACK
 * of the handshake proves that its sender received our SYN-ACK (DESIGN.md
 * "Data plane flow" 2).
 *
 * Owner: nothing. The secret is a value the caller fills once from random
 * bytes (rte_rand() or getrandom() in the worker) and keeps; it may be shared
 * read-only between lcores. Threads: any. Pure: no DPDK, no clock (time is
 * the @now_s argument), no allocation, no logging, never blocks.
 *
 * Use:
 *   SYN (no connection, listener): enc = pm_cookie_make(...) with the SYN's
 *     addresses, ports and seq; the SYN-ACK has seq = cookie, ack = SYN.seq
 *     + 1, and announces options consistent with @enc (SACK-permitted only
 *     if enc.sack, window scale only if enc.wscale >= 0).
 *   ACK (no connection, ACK set, SYN and RST clear): pm_cookie_check() with
 *     tuple.isn = ACK.seq - 1 and cookie = ACK.ack - 1 (mod 2^32). 0 means
 *     create the connection with the returned options.
 *
 * Cookie layout (32 bits, the ISN):
 *
 *   31      24 23                     0
 *   +--------+------------------------+
 *   | D ^ M  |  T = (A * (D + 1) + B) mod P      P = 2^24 - 3 (prime)
 *   +--------+------------------------+
 *
 *   D, the options byte: bits 7..5 the index of the MSS in
 *   pm_cookie_mss_table, bit 4 SACK-permitted, bits 3..0 the client's window
 *   shift 0..14, or 15 for "no Window Scale option".
 *   h = SipHash-2-4(secret; saddr, daddr, sport << 16 | dport, client ISN,
 *   period counter), as five 32-bit words (tcp/siphash.h,
 *   pm_siphash_u32x5(); addresses as big-endian words); then M = h bits
 *   63..56, A = 1 + (h bits 27..0 mod (P - 1)), B = h bits 55..28 mod P.
 *
 *   The check recomputes h for the current period and, failing that, the
 *   previous one, reads D = top byte ^ M, and accepts if the low 24 bits
 *   equal (A * (D + 1) + B) mod P.
 *
 * Security argument (assuming SipHash-2-4 is a PRF, so h is uniform and
 * independent for every distinct (tuple, ISN, period) to anyone without the
 * secret):
 * - Blind forgery. An attacker who did not see our SYN-ACK, e.g. one
 *   spoofing source addresses, must guess T: for any D it reads, T is
 *   (A * (D + 1) + B) mod P with B uniform, so one guess matches with
 *   probability about 1/P = 2^-24 per period, and two periods are accepted:
 *   about 2^-23 per ACK sent (the mod-P reduction of 28-bit values skews
 *   this by at most a factor 17/16). Varying the tuple does not help: each
 *   ACK is an independent try. At 10 million spoofed ACKs per second that is
 *   about one bogus connection per second, each living until its login
 *   timeout. The other 8 bits carry the options, not authentication; Linux's
 *   cookies keep fewer option bits in the ISN and resist somewhat better
 *   (about 2^-29, by our reading of net/ipv4/syncookies.c) but need
 *   timestamps to carry window scale and SACK.
 * - Tampering. Someone who saw a cookie (on the path, or the client itself)
 *   and wants other options for the same tuple and period must produce
 *   A * (D' + 1) + B from A * (D + 1) + B without knowing A: probability
 *   1/(P - 1) per try, because A != 0 and D + 1 != D' + 1 mod P (a
 *   strongly universal one-time MAC keyed by h). Such an attacker could in
 *   any case send a fresh SYN with the options it wants; the MAC mainly
 *   guarantees that a corrupted ACK never yields options the client did not
 *   send. A cookie is bound to its tuple and client ISN, so it is useless
 *   for any other connection.
 * - Unpredictability. To anyone without the secret every bit of the ISN is
 *   uniform (the top byte masked by M, the rest by B), as RFC 6528 wants
 *   for initial sequence numbers; the options are not readable from it.
 * - Replay. A captured final ACK can be replayed while its cookie is valid;
 *   it then reopens the same tuple only once the first connection is gone
 *   (the connection table is checked first). Inherent to SYN cookies.
 *
 * Periods: counter = now_s / PM_COOKIE_PERIOD_S (64 s), taken modulo 2^26
 * (now_s is a uint32_t, so the counter wraps exactly when now_s does, and
 * the period before counter 0 is 2^26 - 1). A cookie made in period c is
 * accepted in c and c + 1, i.e. for 64 to 128 seconds, and rejected in c + 2
 * and later and in any period before c (a cookie "from the future"). now_s
 * must be a monotonic count of seconds (a TSC-derived uptime, not wall-clock
 * time) that is the same on every lcore that may see the ACK. Rotation is
 * the counter: each period has its own unrelated h, so nothing needs to be
 * re-keyed while running; replacing the secret invalidates every
 * outstanding cookie.
 *
 * Not encoded: TCP timestamps. We do not need them to carry options, and
 * whether they were negotiated is visible in the final ACK, which carries a
 * Timestamps option exactly when both SYNs did (RFC 7323 3.2); TS.Recent is
 * that ACK's TSval. Also not encoded: anything IPv6 (the tuple is IPv4;
 * an IPv6 cookie would hash the 16-byte addresses instead).
 */
#ifndef PM_COOKIE_H
#define PM_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp/siphash.h"

#define PM_COOKIE_PERIOD_S	64u	/* seconds per period; a power of two */
#define PM_COOKIE_NMSS		8	/* entries of pm_cookie_mss_table */
#define PM_COOKIE_WSCALE_MAX	14	/* RFC 7323 2.3 */

/*
 * The MSS values a cookie can carry, ascending. The client's MSS is rounded
 * down to one of them; see cookie.c for the choice.
 */
extern const uint16_t pm_cookie_mss_table[PM_COOKIE_NMSS];

/* The secret. Set with pm_cookie_secret_init(); the fields are private. */
struct pm_cookie_secret {
	struct pm_siphash_key key;
};

/*
 * The connection the cookie belongs to, seen from the client: saddr/sport
 * are the client's (the SYN's source), daddr/dport ours. Ports and ISN in
 * host order, addresses as the 4 network-order bytes of the IPv4 header.
 */
struct pm_cookie_tuple {
	uint8_t saddr[4];
	uint8_t daddr[4];
	uint16_t sport;
	uint16_t dport;
	uint32_t isn;		/* the client's ISN: SYN.seq, or ACK.seq - 1 */
};

/* The options a cookie carries. */
struct pm_cookie_opts {
	uint16_t mss;		/* the client's MSS (a table value once encoded) */
	int8_t wscale;		/* the client's window shift 0..14, or -1 for none */
	bool sack;		/* the client sent SACK-permitted */
};

/* Load the 16 random bytes @key into @s. Cannot fail. */
void pm_cookie_secret_init(struct pm_cookie_secret *s, const uint8_t key[PM_SIPHASH_KEY_LEN]);

/*
 * The cookie (our ISN) for a SYN on @t at @now_s, carrying the options of
 * @req: req->mss is the client's MSS option (pass 536 if the SYN had none,
 * RFC 9293 3.7.1); it is rounded down to the largest table value not above
 * it, and values below 536 become 536, as Linux does (every IPv4 host must
 * accept 576-byte datagrams, RFC 1122 3.3.2). req->wscale < 0 means the SYN
 * had no Window Scale option; above 14 it is taken as 14 (RFC 7323 2.3). If
 * @enc is not NULL it receives exactly what pm_cookie_check() will return
 * for this cookie, so that the SYN-ACK can agree with it. One SipHash; no
 * allocation; thread-safe.
 */
uint32_t pm_cookie_make(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
			uint32_t now_s, const struct pm_cookie_opts *req,
			struct pm_cookie_opts *enc);

/*
 * Validate @cookie (ACK.ack - 1) for @t (t->isn = ACK.seq - 1) at @now_s.
 * Returns 0 and fills @out with the options made into it if the cookie was
 * made for exactly this tuple and client ISN in the current or the previous
 * period; -EINVAL otherwise (forged, corrupted, expired or from a later
 * period), leaving @out untouched. One SipHash for a cookie of the current
 * period, two otherwise; no allocation; thread-safe.
 */
int pm_cookie_check(const struct pm_cookie_secret *s, const struct pm_cookie_tuple *t,
		    uint32_t cookie, uint32_t now_s, struct pm_cookie_opts *out);

#endif
