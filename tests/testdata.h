/*
 * testdata.h -- find the vector files for cmocka tests.
 *
 * meson test sets PM_TESTDATA to tests/data; a test run by hand needs it too.
 * Test code only: fails the current cmocka test when the file is missing.
 */
#ifndef PM_TESTDATA_H
#define PM_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

/* Write the path of vector file @name into @buf (@size bytes). */
static inline void
pm_testdata_path(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("PM_TESTDATA");

	if (dir == NULL)
		fail_msg("PM_TESTDATA is not set (meson test sets it to tests/data)");
	snprintf(buf, size, "%s/%s", dir, name);
}

/* Open vector file @name for reading; the caller fcloses it. */
static inline FILE *
pm_testdata_open(const char *name)
{
	char path[4096];
	FILE *fp;

	pm_testdata_path(name, path, sizeof(path));
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	return fp;
}

#endif
