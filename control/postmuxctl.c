/*
 * postmuxctl.c -- the operator's command-line tool.
 *
 * For now it carries the offline tools; the admin-socket verbs (status, add,
 * flush, move, ...) arrive with the control process.
 */
#include <stdio.h>
#include <string.h>

#include "ringtool.h"

static const char usage[] =
	"usage: postmuxctl <command> [options]\n"
	"\n"
	"commands:\n"
	"  ring     place user names on a what-if set of backends, offline\n"
	"           (postmuxctl ring --help)\n";

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "ring") == 0)
		return pm_ringtool_main(argc - 1, argv + 1);
	fprintf(stderr, "postmuxctl: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
