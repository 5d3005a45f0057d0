/*
 * drop.c -- the name and description tables generated from PM_DROP_REASONS.
 */
#include "net/drop.h"

#include <stddef.h>

static const char *const drop_names[PM_DROP__COUNT] = {
	[PM_DROP_NONE] = "NONE",
#define X(name, text) [PM_DROP_##name] = #name,
	PM_DROP_REASONS(X)
#undef X
};

static const char *const drop_texts[PM_DROP__COUNT] = {
	[PM_DROP_NONE] = "not dropped",
#define X(name, text) [PM_DROP_##name] = text,
	PM_DROP_REASONS(X)
#undef X
};

const char *
pm_drop_name(enum pm_drop reason)
{
	if ((unsigned int)reason >= PM_DROP__COUNT)
		return "?";
	return drop_names[reason];
}

const char *
pm_drop_text(enum pm_drop reason)
{
	if ((unsigned int)reason >= PM_DROP__COUNT)
		return "?";
	return drop_texts[reason];
}
