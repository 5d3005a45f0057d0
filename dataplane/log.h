/*
 * log.h -- one-line log records for the data plane's control side.
 *
 * Owns: the process's log level and log sink. By default a record goes to
 * stderr as one line, "2027-01-15T08:00:00.123Z postmux-dataplane[pid]:
 * info: text", written with a single write(2) so that lines from several
 * threads never interleave.
 *
 * Threads: pm_log() may be called from any thread except worker lcores'
 * fast path (it formats, reads the clock and makes a system call).
 * pm_log_set_level() and pm_log_set_sink() are for start-up (and tests),
 * before other threads log.
 *
 * Never log a password or an AUTH payload; log a decision once, where it
 * is made, with its context.
 */
#ifndef PM_LOG_H
#define PM_LOG_H

#include <stdarg.h>

enum pm_log_level {
	PM_LOG_ERR,
	PM_LOG_WARN,
	PM_LOG_INFO,
	PM_LOG_DEBUG,
};

/* Receives a finished record without its timestamp or newline; @text is
 * valid during the call only. */
typedef void (*pm_log_sink)(void *arg, enum pm_log_level level, const char *text);

/* Records above @max are dropped. The default is PM_LOG_INFO. */
void pm_log_set_level(enum pm_log_level max);

/* True if a record of @level would be written (to skip costly arguments). */
int pm_log_enabled(enum pm_log_level level);

/* Send records to @fn instead of stderr; NULL restores stderr. */
void pm_log_set_sink(pm_log_sink fn, void *arg);

/* The program name in stderr records ("postmux-dataplane" by default);
 * @name must outlive every later record. */
void pm_log_set_ident(const char *name);

/* Format and emit one record; a text longer than 1 KiB is cut, and control
 * characters (a newline in a peer's string) become '?'. Cannot fail
 * (a failed write is ignored: there is nowhere else to report it). */
void pm_log(enum pm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The name of @level as it appears in records ("info"). */
const char *pm_log_level_name(enum pm_log_level level);

#endif
