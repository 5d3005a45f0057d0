/*
 * log.c -- format a record and hand it to the sink (stderr by default).
 */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_TEXT_MAX 1024

/* Relaxed: the level and the sink are set at start-up, before other
 * threads log; the atomics only keep a later change free of data races. */
static _Atomic int log_max = PM_LOG_INFO;
static pm_log_sink log_sink;
static void *log_sink_arg;
static const char *log_ident = "postmux-dataplane";

void
pm_log_set_level(enum pm_log_level max)
{
	atomic_store_explicit(&log_max, (int)max, memory_order_relaxed);
}

int
pm_log_enabled(enum pm_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

void
pm_log_set_sink(pm_log_sink fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

void
pm_log_set_ident(const char *name)
{
	log_ident = name;
}

const char *
pm_log_level_name(enum pm_log_level level)
{
	switch (level) {
	case PM_LOG_ERR:
		return "error";
	case PM_LOG_WARN:
		return "warning";
	case PM_LOG_INFO:
		return "info";
	case PM_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

static void
write_stderr(enum pm_log_level level, const char *text)
{
	char line[LOG_TEXT_MAX + 128];
	struct timespec ts;
	struct tm tm;
	size_t n = 0;
	int len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	len = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%ld]: %s: %s\n",
		       ts.tv_nsec / 1000000, log_ident, (long)getpid(), pm_log_level_name(level),
		       text);
	if (len < 0)
		return;
	n += (size_t)len < sizeof(line) - n ? (size_t)len : sizeof(line) - n - 1;
	if (line[n - 1] != '\n')
		line[n - 1] = '\n';
	/* One write per record: lines from threads do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void
pm_log(enum pm_log_level level, const char *fmt, ...)
{
	char text[LOG_TEXT_MAX], *p;
	va_list ap;

	if (!pm_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* One record, one line: a peer's text (a tag, an ERROR reason) cannot
	 * forge another record. */
	for (p = text; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	if (log_sink != NULL)
		log_sink(log_sink_arg, level, text);
	else
		write_stderr(level, text);
}
