/*
 * test_state.c -- the desired backend state: director-identical host
 * operations, the state file round trip, and the merge with a changed
 * configuration after a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"
#include "testaddr.h"

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/pm-test-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char tmp[160];

	unlink(f->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
config(struct pm_config *c, const char *servers)
{
	char text[512], err[256];

	pm_config_defaults(c);
	snprintf(text, sizeof(text), "director_mail_servers = %s\n", servers);
	if (pm_config_parse(c, text, "test.conf", err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static const char *
describe(struct pm_state *s)
{
	static char buf[1024];
	char ip4[PM_ADDR_STRLEN];
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < s->n; i++) {
		pm_addr_format(&s->hosts[i].addr, ip4, sizeof(ip4));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s%s%s=%u%s", i ? " " : "", ip4,
				      s->hosts[i].tag[0] ? "@" : "", s->hosts[i].tag,
				      s->hosts[i].vhosts, s->hosts[i].down ? ":down" : "");
	}
	return buf;
}

static void
test_state_host_ops_match_director(void **state)
{
	struct pm_config c;
	struct pm_state s;
	struct pm_addr a1 = ip("10.0.0.1"), a9 = ip("10.0.0.9");
	uint64_t g;

	(void)state;
	config(&c, "10.0.0.2 10.0.0.1 10.0.1.1@tagA");
	assert_int_equal(pm_state_from_config(&s, &c), 0);
	assert_string_equal(describe(&s), "10.0.0.1=100 10.0.0.2=100 10.0.1.1@tagA=100");
	assert_int_equal(s.generation, 1);
	g = s.generation;
	assert_int_equal(pm_state_host_set(&s, &a9, "", 50, false), -ENOENT);
	assert_int_equal(pm_state_host_set(&s, &a1, "", 1001, true), -E2BIG);
	assert_int_equal(pm_state_host_set(&s, &a1, "tagB", 5, true), -EEXIST);
	assert_int_equal(pm_state_host_set(&s, &a1, "", -1, true), 0);
	assert_int_equal(s.generation, g);	/* nothing changed */
	assert_int_equal(pm_state_host_set(&s, &a1, "", 0, false), 0);
	assert_int_equal(pm_state_host_set(&s, &a9, "", -1, true), 0);
	assert_int_equal(s.generation, g + 2);
	assert_int_equal(pm_state_host_updown(&s, &a1, true, 1700000000), 0);
	assert_int_equal(pm_state_host_updown(&s, &a1, true, 1700000099), 0);
	assert_int_equal(pm_state_find(&s, &a1)->last_updown_s, 1700000000);
	assert_int_equal(pm_state_host_updown(&s, &(struct pm_addr){ 0 }, true, 1), -ENOENT);
	assert_int_equal(pm_state_host_remove(&s, &a9), 0);
	assert_int_equal(pm_state_host_remove(&s, &a9), -ENOENT);
	assert_string_equal(describe(&s), "10.0.0.1=0:down 10.0.0.2=100 10.0.1.1@tagA=100");
	assert_int_equal(s.generation, g + 4);
	pm_state_free(&s);
	pm_config_free(&c);
}

static void
test_state_file_round_trip_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct pm_config c;
	struct pm_state s, t;
	struct pm_addr a = ip("2001:db8::a"), b = ip("10.0.0.7");
	struct stat st;
	char err[256], tmp[160];

	config(&c, "10.0.0.1-10.0.0.3");
	assert_int_equal(pm_state_from_config(&s, &c), 0);
	/* A tag with every byte the escaping must carry. */
	assert_int_equal(pm_state_host_set(&s, &a, "t\tag\x01x\ny\rz", 1000, true), 0);
	assert_int_equal(pm_state_host_set(&s, &b, "", 0, true), 0);
	assert_int_equal(pm_state_host_updown(&s, &b, true, 1800000000), 0);
	assert_int_equal(pm_state_save(&s, &c, f->path, err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(access(tmp, F_OK), -1);

	assert_int_equal(pm_state_load(&t, f->path, &c, err, sizeof(err)), 0);
	assert_int_equal(t.generation, s.generation);
	assert_int_equal(t.n, s.n);
	assert_string_equal(describe(&t), describe(&s));
	assert_string_equal(pm_state_find(&t, &a)->tag, "t\tag\x01x\ny\rz");
	assert_int_equal(pm_state_find(&t, &b)->last_updown_s, 1800000000);
	assert_true(pm_state_find(&t, &b)->down);
	pm_state_free(&s);
	pm_state_free(&t);
	pm_config_free(&c);
}

/* Runtime changes survive a restart; configuration changes made while
 * postmux was down are applied on top. */
static void
test_state_load_merges_changed_config(void **state)
{
	struct fx *f = *state;
	struct pm_config c, c2;
	struct pm_state s, t;
	struct pm_addr a1 = ip("10.0.0.1"), a2 = ip("10.0.0.2"), a4 = ip("10.0.0.4");
	char err[256];

	config(&c, "10.0.0.1 10.0.0.2 10.0.0.3");
	assert_int_equal(pm_state_from_config(&s, &c), 0);
	assert_int_equal(pm_state_host_set(&s, &a1, "", 50, false), 0);	/* update */
	assert_int_equal(pm_state_host_remove(&s, &a2), 0);		/* remove */
	assert_int_equal(pm_state_host_set(&s, &a4, "", 30, true), 0);	/* add */
	assert_int_equal(pm_state_save(&s, &c, f->path, err, sizeof(err)), 0);

	/* Same configuration: exactly the runtime state. */
	assert_int_equal(pm_state_load(&t, f->path, &c, err, sizeof(err)), 0);
	assert_string_equal(describe(&t), "10.0.0.1=50 10.0.0.3=100 10.0.0.4=30");
	pm_state_free(&t);

	/* The operator dropped .3 and added .5 to the file meanwhile. */
	config(&c2, "10.0.0.1 10.0.0.2 10.0.0.5");
	assert_int_equal(pm_state_load(&t, f->path, &c2, err, sizeof(err)), 0);
	assert_string_equal(describe(&t), "10.0.0.1=50 10.0.0.4=30 10.0.0.5=100");
	assert_true(t.generation > s.generation);
	pm_state_free(&t);
	pm_state_free(&s);
	pm_config_free(&c);
	pm_config_free(&c2);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_state_bad_files_are_refused_with_line(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "", ":0: empty state file" },
		{ "something else\n", ":1: not a postmux state file" },
		{ "postmux-state\t2\n", ":1: unsupported state file version" },
		{ "postmux-state\t1\ngeneration\tx\n", ":2: bad generation" },
		{ "postmux-state\t1\nhost\t10.0.0.1\t\t1001\tU\t0\n", ":2: bad vhost count" },
		{ "postmux-state\t1\nhost\t10.0.0.1\t\t100\tX\t0\n", ":2: bad up/down flag" },
		{ "postmux-state\t1\nhost\t10.0.0.1\t\t100\tU\t0\nhost\t10.0.0.1\t\t5\tU\t0\n",
		  ":3: host listed twice" },
		{ "postmux-state\t1\nhost\tnot-an-ip\t\t100\tU\t0\n", ":2: bad address" },
		{ "postmux-state\t1\nhost\t10.0.0.1\t\x01q\t100\tU\t0\n", ":2: bad tag" },
		{ "postmux-state\t1\nbackend\t10.0.0.1\n", ":2: unknown record" },
		{ "postmux-state\t1\nhost\t10.0.0.1\t100\tU\t0\n", ":2: unknown record" },
	};
	struct fx *f = *state;
	struct pm_config c;
	struct pm_state s;
	char err[512];
	size_t i;

	config(&c, "10.0.0.1");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(f->path, cases[i].text);
		assert_int_equal(pm_state_load(&s, f->path, &c, err, sizeof(err)), -EINVAL);
		if (strstr(err, f->path) == NULL || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].want);
	}
	unlink(f->path);
	assert_int_equal(pm_state_load(&s, f->path, &c, err, sizeof(err)), -ENOENT);
	pm_config_free(&c);
}

static void
test_state_save_failure_leaves_old_file(void **state)
{
	struct fx *f = *state;
	struct pm_config c;
	struct pm_state s;
	char err[256], bad[192];

	config(&c, "10.0.0.1");
	assert_int_equal(pm_state_from_config(&s, &c), 0);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/state", f->dir);
	assert_int_equal(pm_state_save(&s, &c, bad, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no/such/dir"));
	pm_state_free(&s);
	pm_config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_host_ops_match_director),
		cmocka_unit_test_setup_teardown(test_state_file_round_trip_keeps_everything, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_load_merges_changed_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_bad_files_are_refused_with_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_save_failure_leaves_old_file, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
