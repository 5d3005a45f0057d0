/*
 * engine.h -- a worker lcore's TCP engine: SYN cookies, the pre-login
 * proxy (client TCP endpoint, IMAP pre-auth, backend connect and login),
 * and the splice (DESIGN.md "Data plane flow" 2-8).
 *
 * Owner: one worker lcore owns one engine and everything in it (sessions,
 * pre-login buffers, flows, timers); nothing is shared. The caller provides
 * the memory (pm_engine_memsize()). Threads: the owning lcore only. Pure: no
 * DPDK, no sockets, no clock (time is an argument), no allocation after
 * pm_engine_init(), no logging; packets go out and backends are looked up
 * through the callbacks in struct pm_engine_ops, which the worker (or a
 * test) implements.
 *
 * A session is two TCP connections: the client's, to a listener (a VIP and
 * port), and postmux's to the backend. Its life:
 *
 *   (none) --SYN to a listener--> SYN-ACK with a cookie; while the SYN
 *          backlog has room, the SYN-ACK is also remembered (flow, ISNs,
 *          options: 56 bytes, in a flow table of their own) and sent
 *          again after 1, 2, 4, 8 and 16 s
 *          until the handshake completes (Linux's tcp_synack_retries 5),
 *          then forgotten after 32 s more; when it is full (a flood),
 *          nothing is stored and a lost SYN-ACK or final ACK is up to the
 *          client. IMAP servers speak first: with cookies alone, a lost
 *          final ACK leaves the client waiting for a greeting that never
 *          comes. Memory is fixed either way (the backlog is allocated at
 *          init); the cookie alone decides whether a connection is made
 *   (none) --ACK with a valid cookie--> PRELOGIN: the client's connection
 *          is a pm_tcb, the IMAP greeting is sent (proto/imap)
 *   PRELOGIN --LOGIN--> lookup (ops->lookup): a host → CONNECTING (a SYN to
 *          the backend from a local port that steers to this lcore); the
 *          user being moved → wait and ask again; no host → NO [UNAVAILABLE]
 *   CONNECTING --SYN-ACK--> BACKEND_LOGIN (proto/imapback: banner, ID, the
 *          login replayed)
 *   CONNECTING/BACKEND_LOGIN --refused, timeout, TEMPFAIL, FAIL--> retry
 *          (PM_ENGINE_RETRIES times, PM_ENGINE_RETRY_MS apart, as Dovecot),
 *          then "<tag> NO [UNAVAILABLE] ..." and PRELOGIN again
 *   BACKEND_LOGIN --AUTHFAILED, VERBATIM, SERVERBUG--> the client's answer,
 *          the backend connection closed, PRELOGIN again (another user may
 *          log in on the same connection)
 *   BACKEND_LOGIN --L OK--> QUIESCE: "<tag> OK [CAPABILITY ...]" to the
 *          client, the client's pipelined bytes to the backend, both
 *          directions proxied through the two pm_tcbs until every byte
 *          postmux sent on either side is acknowledged and nothing waits to
 *          be read
 *   QUIESCE --quiet--> SPLICED: the pre-login memory is returned; every
 *          packet is forwarded by header rewriting (tcp/splice)
 *   SPLICED --RST, both FINs, idle timeout--> (none)
 *   SPLICED --kick--> KICKED (RSTs sent to both sides; later packets of
 *          either side answered with a RST) --5 s--> (none)
 *
 * A connection is never spliced unless the backend answered the login with
 * its tagged OK (proto/imapback decides that, byte-exact).
 *
 * Retransmissions of bytes (or a FIN) below the splice point, which
 * postmux acknowledged itself before the splice, are never forwarded: they
 * are answered with an ACK of ours (the sequence number the sender expects,
 * the ack and window last passed on to it, at least the splice point).
 *
 * Deliberate limits of this first version: IPv4; IMAP listeners only; TCP
 * timestamps are never offered (the splice cannot translate them).
 */
#ifndef PM_ENGINE_H
#define PM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "net/drop.h"
#include "net/l3.h"
#include "proto/login.h"
#include "tcp/tcpopt.h"

#define PM_ENGINE_LISTENERS_MAX	64
#define PM_ENGINE_RETRIES	3	/* Dovecot's login_proxy_max_reconnects */
#define PM_ENGINE_RETRY_MS	1000	/* between two attempts */
#define PM_ENGINE_SYN_BACKLOG_MAX (1u << 20)

struct pm_engine;

/* A listener: address, TCP port, the backend port to connect to. */
struct pm_engine_listener {
	struct pm_addr addr;		/* PM_AF_INET */
	uint16_t port;
	uint16_t backend_port;
	uint8_t proto;			/* enum pm_login_proto */
};

struct pm_engine_params {
	uint32_t sessions;		/* capacity (pre-login and spliced) */
	uint32_t prelogin;		/* of them at once in pre-login */
	uint32_t syn_backlog;		/* SYN-ACKs remembered for sending
					 * again (0 .. PM_ENGINE_SYN_BACKLOG_MAX;
					 * 0: cookies alone) */
	const struct pm_engine_listener *listeners;	/* copied */
	size_t nlisteners;
	uint8_t cookie_key[16];		/* random, the same on every lcore */
	uint8_t flow_key[16];		/* random */
	uint8_t name_key[16];		/* random, the same on every lcore and for
					 * pm_engine_name_check() */
	uint16_t mss;			/* we announce (both sides) */
	int8_t wscale;			/* we announce to the backend */
	uint32_t login_timeout_ms;	/* client connect to backend OK */
	uint32_t connect_timeout_ms;	/* one backend attempt: SYN to L OK */
	uint32_t idle_timeout_ms;	/* spliced, no packet either way */
	uint32_t closing_timeout_ms;	/* spliced, after a FIN or RST */
	uint32_t refresh_ms;		/* spliced: ops->refresh this often
					 * (director_user_expire / 2) */
	unsigned int proxy_ttl;		/* x-proxy-ttl is this - 1 */
	struct pm_login_params login;	/* strings borrowed, must outlive */
};

/* Defaults: 65536 sessions, 1024 pre-login, a SYN backlog of 4096, MSS 1460, wscale 7, login 60 s
 * (Dovecot's login_timeout is 1 min), connect 30 s (login_proxy_timeout),
 * idle 1 h, closing 60 s, refresh 450 s (Dovecot's 15 min / 2), TTL 5, the imap defaults; no listeners; zero
 * keys (the caller must fill them). */
void pm_engine_params_defaults(struct pm_engine_params *p);

/* What a backend lookup says. */
enum pm_engine_lookup {
	PM_ENGINE_LOOKUP_HOST,		/* *host is the backend */
	PM_ENGINE_LOOKUP_WAIT,		/* the user is being moved: ask again later */
	PM_ENGINE_LOOKUP_NONE,		/* no backend for this user */
};

struct pm_engine_ops {
	void *arg;
	/* A buffer for one frame to send: returns an opaque handle and points
	 * *@buf at @*room writable bytes (the frame starts there: the engine
	 * writes the Ethernet type and leaves its addresses to the caller), or
	 * NULL when out of buffers (the engine counts NO_MBUF; TCP retransmits). */
	void *(*tx_alloc)(void *arg, uint8_t **buf, size_t *room);
	/* Send the @len-byte frame of @h towards IPv4 @dst (the caller routes
	 * and resolves the next hop); consumes @h. */
	void (*tx_send)(void *arg, void *h, size_t len, const struct pm_addr *dst);
	/* Give back a buffer the engine did not use. */
	void (*tx_free)(void *arg, void *h);
	/* The backend of @user (@len bytes, the login name as the client sent
	 * it). HOST fills @host (PM_AF_INET) and @user_hash (the director's
	 * hash: kicks name users by it); the caller pins the user. */
	enum pm_engine_lookup (*lookup)(void *arg, const char *user, size_t len,
					struct pm_addr *host, uint32_t *user_hash,
					uint64_t now_ms);
	/* Our source address towards @dst (the address of the port its route
	 * picks); 0 or -ENETUNREACH. */
	int (*source)(void *arg, const struct pm_addr *dst, struct pm_addr *src);
	/* A spliced session of @user_hash is still alive (called every
	 * refresh_ms): keep the user's pin fresh, as Dovecot's proxies do
	 * through proxy-notify. May be NULL. */
	void (*refresh)(void *arg, uint32_t user_hash);
	/* Whether packets of the flow (@raddr:@rport -> @laddr:@lport, as they
	 * will arrive from the backend) reach this lcore (steering). */
	bool (*owns)(void *arg, const struct pm_addr *raddr, const struct pm_addr *laddr,
		     uint16_t rport, uint16_t lport);
};

/* A protocol's share of the login and session counters below. */
struct pm_engine_proto_stats {
	uint64_t logins;
	uint64_t login_ok;
	uint64_t login_failed;
	uint64_t login_unavailable;
	uint64_t splices;
	uint64_t kicked;
};

/* Counters; plain uint64_t, written by the owning lcore only. */
struct pm_engine_stats {
	uint64_t syn_cookies;		/* SYN-ACKs sent (first ones) */
	uint64_t syn_ack_retrans;	/* SYN-ACKs sent again from the backlog */
	uint64_t syn_backlog_full;	/* SYNs answered with no backlog entry */
	uint64_t accepted;		/* sessions made from a valid cookie */
	uint64_t refused_full;		/* cookie valid, no session/pre-login left: RST */
	uint64_t rst_sent;		/* to segments of no session */
	uint64_t logins;		/* client logins read */
	uint64_t backend_connects;	/* SYNs to backends (first and retries) */
	uint64_t login_ok;		/* backend said OK */
	uint64_t login_failed;		/* AUTHFAILED, VERBATIM, SERVERBUG */
	uint64_t login_unavailable;	/* after the retries, or no host */
	uint64_t splices;
	uint64_t forwarded;		/* spliced packets rewritten */
	uint64_t stale;			/* spliced, below the splice point: not
					 * forwarded */
	uint64_t stale_acked;		/* of them answered with our own ACK */
	uint64_t timeouts;		/* login, connect, idle, closing */
	uint64_t closed;		/* sessions ended */
	uint64_t tx_nobuf;		/* ops->tx_alloc failed */
	uint64_t kicked;		/* sessions closed by a kick */
	uint64_t refreshes;		/* ops->refresh calls */
	/* By protocol (enum pm_login_proto), each counted in the totals too. */
	struct pm_engine_proto_stats proto[PM_LOGIN__COUNT];
};

/* Bytes for an engine with @p (0 if @p is invalid). */
size_t pm_engine_memsize(const struct pm_engine_params *p);

/*
 * Set up an engine in @mem (@size bytes, 64-byte aligned) with @p and
 * @ops (copied). Returns it, or NULL (bad params, too small). Does not
 * allocate.
 */
struct pm_engine *pm_engine_init(void *mem, size_t size, const struct pm_engine_params *p,
				 const struct pm_engine_ops *ops, uint64_t now_ms);

/* What to do with a received segment. */
enum pm_engine_verdict {
	PM_ENGINE_CONSUMED,	/* the engine is done with the frame: free it */
	PM_ENGINE_FORWARD,	/* rewritten in place: send it to *dst, after
				 * removing *adj bytes at the front (trim) */
	PM_ENGINE_DROP,		/* free it and count *reason */
};

/*
 * Handle the TCP segment in @frame (@len bytes, writable; IPv4 as @ip
 * describes it, TCP as @th, both parsed and checksummed by the caller) at
 * @now_ms. See enum pm_engine_verdict; *@dst, *@adj and *@reason are set
 * as it says. May call every callback. Does not keep @frame.
 */
enum pm_engine_verdict pm_engine_input(struct pm_engine *e, uint8_t *frame, size_t len,
				       const struct pm_l3_ipv4 *ip, const struct pm_tcp_hdr *th,
				       uint64_t now_ms, struct pm_addr *dst, size_t *adj,
				       enum pm_drop *reason);

/* True if @addr:@port is a listener. */
bool pm_engine_is_listener(const struct pm_engine *e, const struct pm_addr *addr,
			   uint16_t port);

/*
 * A kick (director flush, move or kick; Dovecot's KICK-DIRECTOR-HASH): close
 * every session of @user_hash that has a backend (spliced, or with its
 * login under way at the backend or accepted and not yet spliced) whose
 * backend is not @except (NULL:
 * any backend) and, unless @name_check is NULL, whose user name has that
 * pm_engine_name_check() (Dovecot's USER-KICK), at once on both sides: a RST
 * to the client and one to the backend, with the sequence numbers each
 * expects; packets that were already in flight are answered with RSTs for a
 * few seconds more (a session not yet spliced aborts both of its TCP
 * endpoints and is gone at once). A half-closed session is kicked; one whose both sides
 * sent FIN is over (it only lingers for the last ACKs) and is left alone.
 * Returns the number of sessions kicked. O(sessions of that hash bucket).
 */
size_t pm_engine_kick(struct pm_engine *e, uint32_t user_hash, const uint32_t *name_check,
		      const struct pm_addr *except, uint64_t now_ms);

/* The check of the user name @user (@len bytes, as the lookup got it: the
 * authzid of a master-user login, else the login name) under @key (the
 * params' name_key): a kick by name (Dovecot's USER-KICK) passes it to
 * pm_engine_kick() so that only that name's sessions close, not those of
 * other names with the same director hash (a false match needs both 32-bit
 * values to collide: SipHash-2-4 keyed with a secret, about 2^-32). */
uint32_t pm_engine_name_check(const uint8_t key[16], const char *user, size_t len);

/* Run the timers due at @now_ms (every few ms from the poll loop). */
void pm_engine_tick(struct pm_engine *e, uint64_t now_ms);

/* Sessions in use, and of them in pre-login. */
uint32_t pm_engine_sessions(const struct pm_engine *e);
uint32_t pm_engine_prelogin(const struct pm_engine *e);

/* SYN-ACKs remembered in the backlog now. */
uint32_t pm_engine_syn_backlog(const struct pm_engine *e);

const struct pm_engine_stats *pm_engine_stats(const struct pm_engine *e);

#endif
