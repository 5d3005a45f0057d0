/*
 * ringtool.h -- "postmuxctl ring": offline placement what-ifs.
 *
 * Owner: the postmuxctl process. Threads: main only. Reads stdin, writes
 * stdout/stderr; needs no daemon.
 */
#ifndef PM_RINGTOOL_H
#define PM_RINGTOOL_H

/* Run the subcommand; argv[0] is "ring". Returns the exit status: 0, or 2
 * for bad usage or input (one message on stderr). */
int pm_ringtool_main(int argc, char **argv);

#endif
