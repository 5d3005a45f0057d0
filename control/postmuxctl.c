/*
 * postmuxctl.c -- the operator's command-line tool: the admin-socket verbs
 * of `doveadm director` plus `stats` (ctlcmds.c) and the offline `ring`
 * what-ifs (ringtool.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "adminclient.h"
#include "ctlcmds.h"
#include "ringtool.h"

static const char usage[] =
	"usage: postmuxctl [-a <socket>] <command> [<args>]\n"
	"\n"
	"Commands over the admin socket (the Dovecot 2.3 director-doveadm protocol, so\n"
	"a Dovecot director answers too). Each behaves as `doveadm director <command>\n"
	"-a <socket>`: same wire commands, messages and exit statuses. stats is\n"
	"postmux's own (POSTMUX-COUNTERS; a Dovecot director does not know it).\n"
	"\n"
	"  status [<user> [<tag>]]            the backends; or where a user is and goes\n"
	"  add [-t <tag>] <host>[@<tag>] [<vhosts>]\n"
	"                                     add a backend (100 vhosts) or set vhosts\n"
	"  update <host>[@<tag>] <vhosts>     set the vhosts of an existing backend\n"
	"  up <host>, down <host>             mark a backend up / down\n"
	"  remove <host>                      forget a backend and its users' pins\n"
	"  flush [-F] [--max-parallel <n>] <host>|all\n"
	"                                     move the backend's users to where their\n"
	"                                     hash goes now, at most <n> at a time\n"
	"                                     (HOST-RESET-USERS); -F: forget their pins,\n"
	"                                     kick nobody (HOST-FLUSH)\n"
	"  move [--hash-format <fmt>] <user> <host>\n"
	"                                     pin a user to a backend (USER-MOVE)\n"
	"  kick [-f <passdb field>] <user>    close a user's sessions (USER-KICK[-ALT])\n"
	"  map [-f <users file>] [--hash-format <fmt>] [-h | -u] [<host>]\n"
	"                                     the pinned users (of <host>); -u <user>:\n"
	"                                     its hash; -h <hash>: its names in the file\n"
	"  dump                               commands that recreate the backends\n"
	"  stats [<prefix>]                   the data plane's counters, or those whose\n"
	"                                     name starts with <prefix>\n"
	"  ring ...                           offline what-ifs, no socket\n"
	"                                     (postmuxctl ring --help)\n"
	"\n"
	"  -a <socket>  the admin socket: a path (it must contain a '/'), or host:port\n"
	"               for TCP. Default: $POSTMUX_ADMIN_SOCKET, else\n"
	"               " PM_ADMINCLIENT_DEFAULT_SOCKET ". Also accepted after the command.\n"
	"  --hash-format <fmt>  director_username_hash of the director (default %Lu):\n"
	"               move and map hash user names here, as doveadm does.\n"
	"\n"
	"<host> is an IP address or a host name. A name is resolved here and the command\n"
	"is sent once for each of its addresses (move: its first address). Commands are\n"
	"sent one at a time, each after the previous reply.\n"
	"\n"
	"Output (times are local, YYYY-MM-DD HH:MM:SS):\n"
	"  status       a title line, then one line per backend in address order:\n"
	"                 backend   vhosts  users  state  tag  state changed\n"
	"                 10.0.0.1     100     80  up     -    -\n"
	"                 10.0.0.4       0     10  down   -    2025-06-01 12:00:00\n"
	"               Columns are separated by two spaces and as wide as their widest\n"
	"               cell or title; vhosts and users are right-aligned, the others\n"
	"               left-aligned; the last column is not padded. tag is \"-\" for\n"
	"               the untagged ring (control characters in a tag print as '?');\n"
	"               state changed is \"-\" if the state never changed.\n"
	"  status <user> [<tag>]  doveadm's three lines:\n"
	"                 Current: <ip> (expires <time>)   or   Current: n/a (expires -1)\n"
	"                 Hashed: <ip>\n"
	"                 Initial config: <ip>\n"
	"               (a numeric <user> is taken as the user hash by the server)\n"
	"  map          doveadm's table, byte for byte: user, hash, mail server ip,\n"
	"               expire time; names come from -f (one a line) and are\n"
	"               \"<unknown>\" for other hashes\n"
	"  dump         postmuxctl -a <socket> add <ip>[@<tag>] <vhosts>   every backend\n"
	"               postmuxctl -a <socket> down <ip>    each backend that is down\n"
	"               postmuxctl -a <socket> remove <ip>  each configured, removed one\n"
	"               (shell-quoted where needed)\n"
	"  stats        one line per counter, in the data plane's order: its name,\n"
	"               padded to the longest, two spaces, its value right-aligned:\n"
	"                 director.pins              1\n"
	"                 director.rings_published  12\n"
	"               Names: director.*, ctl.* (the control channel), and with\n"
	"               network ports port.<port>.*, lcore.<n>.*, drop.<REASON>.\n"
	"               A prefix that matches nothing prints nothing (exit 0). Without\n"
	"               a data plane: \"Error: data plane not connected\" and 75, at\n"
	"               once (it does not wait for one).\n"
	"  add, update, up, down, remove, flush, move, kick print nothing on success.\n"
	"\n"
	"Exit status: 0 done; 64 bad usage; 68 no such backend (NOTFOUND; add and\n"
	"update say 75, as doveadm); 75 any other failure (an error reply, TRYAGAIN,\n"
	"the socket unreachable, a name that does not resolve); 76 not a director admin\n"
	"socket or an unexpected reply; 2 a bad --hash-format.\n";

int
main(int argc, char **argv)
{
	const char *sock = getenv("POSTMUX_ADMIN_SOCKET");
	int i = 1;

	if (sock == NULL || sock[0] == '\0')
		sock = PM_ADMINCLIENT_DEFAULT_SOCKET;
	/* Options before the command; getopt is left to the commands. */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "-a") == 0) {
			if (i + 1 == argc) {
				fputs("postmuxctl: option requires an argument -- 'a'\n", stderr);
				fputs(usage, stderr);
				return EX_USAGE;
			}
			sock = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(argv[i], "-a", 2) == 0) {
			sock = argv[i] + 2;
			i++;
			continue;
		}
		fprintf(stderr, "postmuxctl: unknown option '%s'\n\n%s", argv[i], usage);
		return EX_USAGE;
	}
	if (i == argc) {
		fputs(usage, stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[i], "ring") == 0)
		return pm_ringtool_main(argc - i, argv + i);
	if (pm_ctlcmds_is_verb(argv[i]))
		return pm_ctlcmds_main(argc - i, argv + i, sock);
	fprintf(stderr, "postmuxctl: unknown command '%s'\n\n%s", argv[i], usage);
	return EX_USAGE;
}
