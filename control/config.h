/*
 * config.h -- the postmux configuration file.
 *
 * Owner: the caller owns a struct pm_config and releases it with
 * pm_config_free(). Threads: any (no shared state); used by postmux-control
 * at start-up and by the tests.
 *
 * The format is dovecot.conf's flat "key = value" lines with '#' comments,
 * and the director settings keep Dovecot's names and units, so a director's
 * settings can be pasted in. docs/configuration.md is the reference.
 */
#ifndef PM_CONFIG_H
#define PM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "director/director.h"
#include "hostspec.h"
#include "net/neigh.h"
#include "net/route.h"

#define PM_CONFIG_PATH_MAX 108	/* sun_path of a UNIX socket */
#define PM_CONFIG_PORTS_MAX 16	/* postmux_port lines */
#define PM_CONFIG_PORT_NAME_MAX 32
#define PM_CONFIG_DEVARGS_MAX 256
#define PM_CONFIG_DPDK_ARGS_MAX 1024
#define PM_CONFIG_LCORES_MAX 64
#define PM_CONFIG_VIPS_MAX 64		/* postmux_vip lines in all */
#define PM_CONFIG_VIPS_PER_PORT 16

/* Port index = connected-route index (net/route.h). */
_Static_assert(PM_CONFIG_PORTS_MAX <= PM_ROUTE_IFS_MAX, "more ports than connected routes");

/* One postmux_port line: "<name> <devargs> <ipv4 addr>/<len>". */
struct pm_config_port {
	char name[PM_CONFIG_PORT_NAME_MAX];	/* [A-Za-z0-9_-]+, unique */
	char devargs[PM_CONFIG_DEVARGS_MAX];	/* "net_<driver><n>[,key=value...]" or
						 * "DDDD:BB:DD.F[,key=value...]" */
	struct pm_addr addr;			/* PM_AF_INET */
	uint8_t prefixlen;			/* 0..32 */
};

/*
 * One postmux_vip line: "<port name> <ipv4 address>", an extra address the
 * data plane answers ARP and ICMP echo for on that port. Kept in one flat
 * list in file order (not per port) because a vip line may come before its
 * port's line; @port is filled in when the whole file has been read.
 */
struct pm_config_vip {
	char port_name[PM_CONFIG_PORT_NAME_MAX];
	uint16_t port;				/* index into ports[] */
	struct pm_addr addr;			/* PM_AF_INET, unicast */
};

#define PM_CONFIG_LISTENERS_MAX 64

/* The login protocols a listener can speak. */
enum pm_config_proto {
	PM_PROTO_IMAP = 1,
	PM_PROTO_POP3,
	PM_PROTO_SUBMISSION,
	PM_PROTO_SIEVE,		/* ManageSieve */
};

/*
 * One postmux_listener line: "<address> <port> <protocol>
 * [backend_port=<n>]". The address is a port's own or a VIP (@port is the
 * index of the port it belongs to, filled in at the end of the file);
 * backend_port defaults to the protocol's standard port (143, 110, 587,
 * 4190).
 */
struct pm_config_listener {
	struct pm_addr addr;
	uint16_t port;				/* TCP port */
	uint16_t backend_port;
	uint16_t port_idx;			/* index into ports[] */
	enum pm_config_proto proto;
};

/* "imap", "pop3", "submission", "sieve"; "?" for anything else. */
const char *pm_config_proto_name(enum pm_config_proto p);

struct pm_config {
	/* director_* settings; director.hash_fmt is compiled from
	 * hash_format and master_sep. */
	struct pm_director_config director;
	char hash_format[PM_USERHASH_MAX_LITERAL + 32];
	char master_sep;

	/* director_mail_servers, sorted by address. */
	struct pm_hostspec *servers;
	size_t nservers;

	char admin_socket[PM_CONFIG_PATH_MAX];
	mode_t admin_socket_mode;
	char control_socket[PM_CONFIG_PATH_MAX];
	char state_file[4096];

	/* The data plane's network side. No ports: no DPDK at all. */
	char dpdk_args[PM_CONFIG_DPDK_ARGS_MAX];	/* EAL arguments, blank-separated */
	char hostname[256];			/* Dovecot's hostname: Submission's
						 * greeting and EHLO; default the
						 * system's host name */
	struct pm_config_port ports[PM_CONFIG_PORTS_MAX];
	size_t nports;
	uint32_t lcores;			/* worker lcores, default 1 */
	uint32_t sessions;			/* per worker lcore, default 2^20 */
	uint32_t prelogin;			/* of them in pre-login, default 1024 */
	uint32_t syn_backlog;			/* SYN-ACKs remembered, default 4096 */

	/* postmux_route lines in file order; validated against the ports
	 * (pm_config_routes() builds the table). */
	struct pm_route_spec routes[PM_ROUTE_MAX];
	size_t nroutes;
	struct pm_config_vip vips[PM_CONFIG_VIPS_MAX];
	size_t nvips;
	/* postmux_neigh_* and postmux_arp_* settings; failed_ms, gc_ms and
	 * seed keep pm_neigh_params_defaults(); the worker must set a random
	 * seed before pm_neigh_init(). */
	struct pm_neigh_params neigh;

	/* postmux_listener lines in file order. */
	struct pm_config_listener listeners[PM_CONFIG_LISTENERS_MAX];
	size_t nlisteners;
};

/* Defaults: Dovecot's director defaults and paths under /run/postmux and
 * /var/lib/postmux. No backends. */
void pm_config_defaults(struct pm_config *c);

/*
 * Parse @text (NUL-terminated), naming it @name in messages, on top of the
 * defaults. Returns 0, or -EINVAL with "name:line: message" in @err.
 * Allocates the server list.
 */
int pm_config_parse(struct pm_config *c, const char *text, const char *name, char *err,
		    size_t errlen);

/* Read and parse the file @path. As pm_config_parse(), or -errno when the
 * file cannot be read ("path: reason" in @err). */
int pm_config_load(struct pm_config *c, const char *path, char *err, size_t errlen);

void pm_config_free(struct pm_config *c);

/*
 * Build @t from @c's ports (port i = ports[i], its connected subnet) and
 * routes. Succeeds for any configuration pm_config_parse() accepted.
 * Returns 0 or -EINVAL with the reason in @err. Does not allocate.
 */
int pm_config_routes(const struct pm_config *c, struct pm_route_table *t, char *err,
		     size_t errlen);

/*
 * Parse a Dovecot time value ("15 min", "2 s", "900", "500 ms") into
 * milliseconds. Returns 0 or -EINVAL.
 */
int pm_config_parse_time_ms(const char *s, uint64_t *ms);

#endif
