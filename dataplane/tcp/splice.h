/*
 * splice.h -- the per-packet header rewrite of a spliced TCP session
 * (DESIGN.md "Data plane flow" 7).
 *
 * Owner: nothing. pm_splice_init() fills two caller-provided direction
 * records; the rewrite and trim functions edit a frame the caller owns, in
 * place, and keep no pointer into it. No state survives a call.
 * Threads: any. Pure: no DPDK, no allocation, no logging, never blocks.
 *
 * The model. postmux terminates the client's connection (client C:c <->
 * VIP V:v) and opens its own to the backend (local L:l <-> backend B:b).
 * After the backend login the two are spliced: every later segment is
 * forwarded with its IPv4 and TCP headers rewritten by one constant record
 * per direction (struct pm_splice_dir): addresses and ports swapped to the
 * other connection's, the sender's sequence number and the acknowledgement
 * (and SACK blocks, which live in the same space as the ack) moved by a
 * constant delta, modulo 2^32, and the window rescaled. The payload is
 * never touched and never read (except by the rare pm_splice_trim()).
 *
 * Decisions, and the contract they put on the rest of postmux:
 * - Checksums are updated incrementally (RFC 1624 eqn. 3, via net/cksum.h),
 *   never recomputed from the data on the fast path. The update preserves a
 *   checksum error: a corrupted segment stays corrupted and the receiver
 *   drops it, so the splice never launders bad data. When the input
 *   checksums verify, the output checksums are exactly those a full
 *   recomputation gives (never 0xFFFF for the TCP checksum), even if the
 *   sender wrote 0xFFFF for 0x0000.
 * - The TCP checksum must be complete. A segment whose checksum was left
 *   partial by a sender using offload (the veth/af_packet quirk in DESIGN.md,
 *   "Test lab") holds the pseudo-header sum, which this arithmetic would
 *   corrupt: the glue completes or verifies such checksums (mbuf offload
 *   flags) before calling here.
 * - TTL: every rewritten packet leaves with TTL d->ttl, which
 *   pm_splice_init() sets to PM_L3_REPLY_TTL (64), the TTL of every packet
 *   postmux originates. postmux is the TCP endpoint of both connections,
 *   not a router (RFC 1122, not RFC 1812 5.3.1): each peer must see one
 *   constant TTL for the whole connection, before and after the splice (TTL
 *   checks such as RFC 5082 and normalising middleboxes flag a change
 *   mid-flow), the other leg's hop count is not the peer's business, and
 *   there is no forwarding loop for a decrement to break, since each leg ends
 *   at a TCP endpoint. Dovecot's director proxies, being endpoints, do the
 *   same. The IPv4 checksum is updated for it.
 * - Window: the value is rescaled as pm_splice_wnd() documents. With every
 *   scale equal (the usual case: postmux offers the backend the client's
 *   own scale) the field passes unchanged.
 * - Timestamps (RFC 7323): the two connections have independent timestamp
 *   clocks, and a splice cannot translate TSval/TSecr without per-packet
 *   state. Contract: postmux never negotiates timestamps, neither in the
 *   SYN cookie's SYN-ACK nor in the backend SYN, so no spliced segment
 *   carries one. If one appears anyway it is left untouched and
 *   pm_splice_rewrite() returns PM_SPLICE_F_TSOPT so the glue can count it.
 * - Options other than SACK and timestamps pass unchanged. MSS, window
 *   scale and SACK-permitted appear only in SYNs, and a SYN never crosses a
 *   splice: the rewrite refuses one (its options describe the wrong
 *   connection). A SACK block in a segment to a peer that did not permit
 *   SACK is translated all the same; RFC 2018 receivers ignore it.
 * - Passed unchanged: IPv4 TOS/ECN, ID and DF; TCP flags; the urgent
 *   pointer (it is relative to the sequence number, which moves with the
 *   segment). postmux negotiates no ECN.
 * - Malformed TCP options (a length below 2 or past the header, a SACK
 *   length that is not 2 + 8n) make the segment uninterpretable, so it is
 *   refused rather than forwarded with untranslated sequence numbers.
 * - Sequence arithmetic is modulo 2^32; a distance of exactly 2^31 is
 *   undefined in sequence space (RFC 1982) and pm_splice_classify() resolves
 *   it as "before" (never forwarded).
 *
 * Order of use in the glue, per segment of a spliced session: verify the
 * checksum if the NIC did not; pm_splice_classify() with the segment's
 * *original* sequence number against the sender's splice point (STALE:
 * answer with an ACK unless it is a RST, drop; TRIM: pm_splice_trim()
 * then rte_pktmbuf_adj()); then pm_splice_rewrite() with the sender's
 * direction; then the link header and TX. Trim and rewrite commute.
 */
#ifndef PM_SPLICE_H
#define PM_SPLICE_H

#include <stddef.h>
#include <stdint.h>

/* The largest window shift, RFC 7323 2.3. */
#define PM_SPLICE_WSCALE_MAX	14

/* pm_splice_rewrite() flag: the segment carries a timestamp option, which
 * was forwarded untouched (see the header comment). */
#define PM_SPLICE_F_TSOPT	0x1

/*
 * The rewrite for one direction of a spliced session. All fields are public;
 * pm_splice_init() computes them, tests and the fuzz target may set them.
 */
struct pm_splice_dir {
	uint8_t saddr[4];	/* new IPv4 source, network order */
	uint8_t daddr[4];	/* new IPv4 destination, network order */
	uint16_t sport;		/* new TCP source port, host order */
	uint16_t dport;		/* new TCP destination port, host order */
	uint32_t seq_delta;	/* seq' = seq + seq_delta (mod 2^32) */
	uint32_t ack_delta;	/* ack' = ack + ack_delta; SACK edges likewise */
	uint8_t wnd_shift_in;	/* scale of the window as received, 0..14 */
	uint8_t wnd_shift_out;	/* scale of the window as sent, 0..14 */
	uint8_t ttl;		/* TTL of the rewritten packet */
};

/*
 * What postmux knows about both connections at the splice point, the moment
 * it stops being an endpoint for data. Addresses in network order, ports in
 * host order, sequence numbers as on the wire. A *_wscale is the shift
 * that the named side announced and that is in effect on that connection
 * (RFC 7323 2.2: 0 unless both SYNs carried the option).
 */
struct pm_splice_params {
	/* The client connection. */
	uint8_t client_addr[4];
	uint8_t vip_addr[4];
	uint16_t client_port;
	uint16_t vip_port;
	/* RCV.NXT from the client: the first client sequence number of the
	 * spliced stream (its splice point). Every client byte before it was
	 * consumed by postmux (the login) or already sent to the backend by
	 * postmux (bytes pipelined after the login command). */
	uint32_t client_nxt;
	/* SND.NXT toward the client: the sequence number, in postmux's client
	 * side space, that the backend's first spliced byte will carry. */
	uint32_t to_client_nxt;
	uint8_t client_wscale;		/* announced by the client */
	uint8_t to_client_wscale;	/* announced by postmux to the client */
	/* The backend connection. */
	uint8_t local_addr[4];
	uint8_t backend_addr[4];
	uint16_t local_port;
	uint16_t backend_port;
	uint32_t backend_nxt;		/* RCV.NXT from the backend (its splice point) */
	uint32_t to_backend_nxt;	/* SND.NXT toward the backend */
	uint8_t backend_wscale;		/* announced by the backend */
	uint8_t to_backend_wscale;	/* announced by postmux to the backend */
};

/* pm_splice_classify() verdicts. */
enum pm_splice_class {
	/* Starts at or after the splice point: rewrite and forward. */
	PM_SPLICE_FORWARD,
	/* Ends at or before the splice point (or is a zero-length segment
	 * before it): postmux already owns every byte of it. Answer with an
	 * ACK of the sender's splice point or later, exactly as a TCP endpoint
	 * answers an unacceptable segment, unless it carries RST (RFC 9293
	 * 3.10.7.4: drop silently); never forward. */
	PM_SPLICE_STALE,
	/* Starts before the splice point and ends after it: drop the first
	 * *trim bytes (pm_splice_trim()), then forward the rest. */
	PM_SPLICE_TRIM,
};

/*
 * Compute both directions of a splice from @p: @to_backend rewrites the
 * client's segments, @to_client the backend's.
 *   to_backend: src -> local:lport, dst -> backend:bport,
 *               seq_delta = to_backend_nxt - client_nxt,
 *               ack_delta = backend_nxt - to_client_nxt,
 *               window client_wscale -> to_backend_wscale;
 *   to_client:  src -> vip:vport, dst -> client:cport,
 *               seq_delta = to_client_nxt - backend_nxt,
 *               ack_delta = client_nxt - to_backend_nxt,
 *               window backend_wscale -> to_client_wscale;
 * TTL PM_L3_REPLY_TTL in both. Each ack delta is the opposite of the other
 * direction's seq delta: an ack acknowledges the other sender's stream.
 * Returns 0, or -EINVAL if a shift exceeds PM_SPLICE_WSCALE_MAX (nothing
 * written then). No allocation; thread-safe.
 */
int pm_splice_init(const struct pm_splice_params *p, struct pm_splice_dir *to_backend,
		   struct pm_splice_dir *to_client);

/*
 * Rewrite in place the IPv4+TCP packet whose IPv4 header is at
 * @frame[@ip_off] and TCP header at @frame[@tcp_off], in a frame of @len
 * bytes (trailing link padding allowed), for direction @d: addresses,
 * ports, sequence number, acknowledgement number (only when ACK is set: the
 * field means nothing otherwise), every SACK block edge, the window when
 * the shifts differ, the TTL, and both checksums, incrementally.
 *
 * Requires: IPv4 without options (IHL 5) and not a fragment, @tcp_off ==
 * @ip_off + 20, protocol TCP, total length within the frame and covering a
 * TCP header whose data offset lies within the packet, well-formed options
 * (see the header comment), SYN clear, both shifts <= 14. Otherwise returns
 * -EINVAL and the frame is unchanged (the caller drops). Checksums are not
 * verified (see the header comment). Writes only inside the two headers.
 *
 * Returns a non-negative set of PM_SPLICE_F_* flags on success (0 usually).
 * No allocation; thread-safe on distinct frames.
 */
int pm_splice_rewrite(uint8_t *frame, size_t len, size_t ip_off, size_t tcp_off,
		      const struct pm_splice_dir *d);

/*
 * Classify a segment of one sender against that sender's splice point @p
 * (pm_splice_params.client_nxt or .backend_nxt): @seq is the segment's
 * original sequence number and @len its length in sequence space (payload,
 * plus one for SYN, plus one for FIN). Let end = seq + len:
 *   seq at or after p            -> FORWARD (a pure ACK at p is forwarded);
 *   seq before p, end at or before p -> STALE (a FIN at p - 1 too);
 *   seq before p, end after p    -> TRIM, *trim = p - seq (0 < *trim < len).
 * *trim is set to 0 for FORWARD and STALE. A seq exactly 2^31 from @p
 * counts as before it. @len must be below 2^31. Pure.
 */
enum pm_splice_class pm_splice_classify(uint32_t seq, uint32_t len, uint32_t p,
					uint32_t *trim);

/*
 * Drop the first @trim payload bytes of the IPv4+TCP packet laid out as for
 * pm_splice_rewrite() (same requirements, except that options are not
 * looked at and the shifts do not apply). Bytes [0, @tcp_off + TCP header
 * length) of @frame -- the link header, the IPv4 and the TCP header --
 * move forward by @trim over the dropped bytes (memmove); on return the
 * packet starts at @frame + @trim and is @len - @trim bytes long, with its
 * headers at the same @ip_off and @tcp_off from that new start (for an mbuf:
 * rte_pktmbuf_adj(m, trim)). Fixed up: IPv4 total length and checksum, the
 * TCP sequence number (+ @trim), the urgent pointer (- @trim, or URG cleared
 * when the urgent data lay wholly in the dropped bytes) and the checksum.
 *
 * The TCP checksum is not recomputed over the kept payload: the sum of the
 * old pseudo-header, the old header and the dropped bytes is subtracted
 * from the old checksum, which leaves the sum of the kept bytes; when @trim
 * is odd those bytes change position within their 16-bit words, and their
 * sum is byte-swapped (RFC 1071 2(B)); then the new pseudo-header and
 * header are added. This costs O(@trim + header), and it preserves a
 * checksum error, as the rewrite does.
 *
 * Returns 0 (@trim 0 is a no-op), or -EINVAL if the packet is inconsistent,
 * carries SYN, or @trim exceeds its payload (the frame is unchanged then).
 * No allocation; thread-safe on distinct frames.
 */
int pm_splice_trim(uint8_t *frame, size_t len, size_t ip_off, size_t tcp_off, uint32_t trim);

/*
 * The window field @wnd, received at scale @in, announced at scale @out:
 * (wnd << in) >> out, saturated at 65535. A non-zero window that would
 * round down to 0 becomes 1 (2^out bytes): announcing 0 would put the peer
 * in persist mode against a receiver that has room and sends no update
 * since from its side the window never closed. The 1 over-announces by less
 * than 2^out bytes, which the receiver trims as out of window. Rounding down
 * can shrink the right edge by less than 2^out bytes, the precision loss
 * RFC 7323 2.4 accepts. @in and @out must be <= 14. Pure.
 */
uint16_t pm_splice_wnd(uint16_t wnd, unsigned in, unsigned out);

#endif
