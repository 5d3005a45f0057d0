/*
 * drop.h -- why the data plane drops a packet: one X-macro list that yields
 * the enum, the counter index and the names (Linux dropreason-core.h, STYLE.md
 * 5 and A5).
 *
 * Owner: nothing; the list and the name tables are constants.
 * Threads: any. Pure: no DPDK, no allocation.
 *
 * Parsers return an enum pm_drop: PM_DROP_NONE (0, not part of the list, as
 * Linux's SKB_NOT_DROPPED_YET) means "accepted", anything else names the check
 * that failed. The worker passes that value to pm_drop(), which frees the mbuf
 * and bumps stats.drop[reason]; drop[PM_DROP_NONE] is therefore never written.
 * Add a reason by adding one X() line here; names and counters follow.
 */
#ifndef PM_DROP_H
#define PM_DROP_H

/* X(NAME, one-line description); PM_DROP_<NAME> is the enum constant. */
#define PM_DROP_REASONS(X)							\
	X(ETH_SHORT, "frame shorter than an Ethernet header")			\
	X(ETH_TYPE, "unsupported ethertype (VLAN-tagged frames included)")	\
	X(ARP_SHORT, "frame too short for an Ethernet/IPv4 ARP packet")		\
	X(ARP_BAD, "ARP not Ethernet/IPv4, or an unknown opcode")		\
	X(ARP_NOT_US, "ARP target address is not one of ours")			\
	X(IP_SHORT, "frame too short for the IPv4 header")			\
	X(IP_VERSION, "IP version is not 4")					\
	X(IP_HDR_LEN, "IPv4 header length (IHL) below 5 words")			\
	X(IP_TOTAL_LEN, "IPv4 total length below the header or past the frame")	\
	X(IP_CSUM, "bad IPv4 header checksum")					\
	X(IP_TTL, "IPv4 TTL expired (unused: a host delivers TTL 0)")		\
	X(IP_FRAG, "IPv4 fragment (MF set or non-zero offset)")			\
	X(IP_OPTIONS, "IPv4 header carries options")				\
	X(IP_NOT_US, "IPv4 destination is not one of ours")			\
	X(IP_PROTO, "IPv4 protocol neither ICMP nor TCP")			\
	X(ICMP_SHORT, "ICMP message shorter than its 8-byte header")		\
	X(ICMP_CSUM, "bad ICMP checksum")					\
	X(TCP_SHORT, "TCP segment shorter than its 20-byte header")		\
	X(TCP_HDR_LEN, "TCP data offset below 5 words or past the segment")	\
	X(TCP_OPTION, "malformed TCP option (length 0, 1 or past the header)")	\
	X(TCP_CSUM, "bad TCP checksum")					\
	X(TCP_COOKIE, "ACK matches no connection and carries no valid cookie")	\
	X(NO_MBUF, "no mbuf for a reply")					\
	X(MBUF_CHAIN, "frame in several mbuf segments (RX has no scatter)")	\
	X(NO_ROUTE, "no route to the destination")				\
	X(ARP_QUEUE_FULL, "queue of packets awaiting ARP resolution full")	\
	X(NEIGH_TABLE_FULL, "neighbour table full: no entry to hold the packet")	\
	X(NEIGH_UNRESOLVED, "next hop did not answer ARP (or shutdown)")	\
	X(WRONG_LCORE_RING_FULL, "ring to the owning lcore full")

enum pm_drop {
	PM_DROP_NONE = 0,	/* not dropped; never counted */
#define PM_DROP_X_(name, text) PM_DROP_##name,
	PM_DROP_REASONS(PM_DROP_X_)
#undef PM_DROP_X_
	PM_DROP__COUNT		/* size of a per-reason counter array */
};

/*
 * The reason's name without the prefix ("IP_CSUM"), or "NONE" for
 * PM_DROP_NONE, or "?" for a value outside the enum. Never NULL; the string
 * is static. Does not allocate; thread-safe.
 */
const char *pm_drop_name(enum pm_drop reason);

/* The reason's one-line description; same rules as pm_drop_name(). */
const char *pm_drop_text(enum pm_drop reason);

#endif
