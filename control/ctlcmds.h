/*
 * ctlcmds.h -- postmuxctl's operator verbs (status, add, update, up, down,
 * remove, flush, move, kick, map, dump, stats): argument handling, host name
 * resolution and output, behaving as `doveadm director <verb> -a <socket>`
 * of Dovecot 2.3.19.1 does (shared/spec/director.md section 3.3), over an
 * admin-socket connection (adminclient.h). `stats` is postmux's own: the
 * data plane's counters through POSTMUX-COUNTERS.
 *
 * Owner: the postmuxctl process. Threads: main only. Writes stdout and
 * stderr, reads the -f users file, resolves host names (getaddrinfo) and
 * blocks on the admin socket. Exit statuses are doveadm's:
 *
 *   0   done
 *   64  EX_USAGE: bad arguments (the verb's usage line on stderr)
 *   68  EX_NOHOST: the server answered NOTFOUND (a host that does not
 *       exist), except for add/update, where doveadm says 75
 *   75  EX_TEMPFAIL: any other error reply (TRYAGAIN, "vhost count too
 *       large", stats' "data plane not connected", ...), the socket
 *       unreachable or closed, a name that does not resolve
 *   76  EX_PROTOCOL: not a director-doveadm v1 socket, or a reply that
 *       does not parse
 *   2   a bad --hash-format template (a postmuxctl-only option)
 */
#ifndef PM_CTLCMDS_H
#define PM_CTLCMDS_H

#include <stdbool.h>

/* True if @name is one of the verbs pm_ctlcmds_main() runs. */
bool pm_ctlcmds_is_verb(const char *name);

/*
 * Run verb argv[0] with its arguments. @socket is the admin socket chosen
 * before the verb (-a, POSTMUX_ADMIN_SOCKET or the default); a -a after the
 * verb overrides it. Returns the exit status (above). Resets getopt.
 */
int pm_ctlcmds_main(int argc, char **argv, const char *socket);

#endif
