/*
 * test_config.c -- the configuration file: Dovecot's setting names and
 * units, and an error naming file and line for every kind of mistake.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int
parse(struct pm_config *c, const char *text, char *err, size_t errlen)
{
	pm_config_defaults(c);
	err[0] = '\0';
	return pm_config_parse(c, text, "test.conf", err, errlen);
}

static void
test_config_defaults_are_dovecots(void **state)
{
	struct pm_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.director.user_expire_s, 900);
	assert_int_equal(c.director.kick_delay_ms, 2000);
	assert_int_equal(c.director.max_parallel_moves, 100);
	assert_int_equal(c.director.max_parallel_kicks, 100);
	assert_string_equal(c.hash_format, "%Lu");
	assert_int_equal(c.admin_socket_mode, 0600);
	assert_int_equal(c.nservers, 0);
	/* The compiled default hashes like Dovecot: user1 -> 617210206. */
	assert_int_equal(pm_userhash(&c.director.hash_fmt, "User1", 5), 617210206);
	pm_config_free(&c);
}

static void
test_config_director_settings_are_read(void **state)
{
	static const char text[] =
		"# a Dovecot director's settings, pasted\n"
		"director_mail_servers = 10.0.0.1-10.0.0.3 10.0.1.1@tagA 2001:db8::1\n"
		"director_user_expire = 20 min\n"
		"director_user_kick_delay = 500 ms   # quick\n"
		"  director_max_parallel_moves=50\n"
		"director_max_parallel_kicks = 7\n"
		"director_username_hash = \"%Ln\"\n"
		"auth_master_user_separator = *\n"
		"\n"
		"postmux_admin_socket = /tmp/pm/director-admin\n"
		"postmux_admin_socket_mode = 0660\n"
		"postmux_control_socket = /tmp/pm/control\n"
		"postmux_state_file = /tmp/pm/state\n"
		"postmux_expected_users = 4000000\n";
	struct pm_config c;
	char err[256], ip[PM_ADDR_STRLEN];

	(void)state;
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nservers, 5);
	pm_addr_format(&c.servers[3].addr, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.1.1");
	assert_string_equal(c.servers[3].tag, "tagA");
	pm_addr_format(&c.servers[4].addr, ip, sizeof(ip));
	assert_string_equal(ip, "2001:db8::1");
	assert_int_equal(c.servers[0].vhosts, 100);
	assert_int_equal(c.director.user_expire_s, 1200);
	assert_int_equal(c.director.kick_delay_ms, 500);
	assert_int_equal(c.director.max_parallel_moves, 50);
	assert_int_equal(c.director.max_parallel_kicks, 7);
	assert_int_equal(c.director.expected_users, 4000000);
	assert_string_equal(c.hash_format, "%Ln");
	assert_int_equal(c.master_sep, '*');
	assert_string_equal(c.admin_socket, "/tmp/pm/director-admin");
	assert_int_equal(c.admin_socket_mode, 0660);
	assert_string_equal(c.control_socket, "/tmp/pm/control");
	assert_string_equal(c.state_file, "/tmp/pm/state");
	/* %Ln with '*': "Foo@x*master" hashes as "foo". */
	assert_int_equal(pm_userhash(&c.director.hash_fmt, "Foo@x*master", 12),
			 pm_userhash(&c.director.hash_fmt, "foo", 3));
	pm_config_free(&c);
}

static void
test_config_time_units_follow_dovecot(void **state)
{
	static const struct {
		const char *in;
		uint64_t ms;
	} ok[] = {
		{ "15 min", 900000 }, { "15 mins", 900000 }, { "15m", 900000 }, { "2 s", 2000 },
		{ "2 secs", 2000 }, { "900", 900000 }, { "500 ms", 500 }, { "1 h", 3600000 },
		{ "1 hours", 3600000 }, { "1 d", 86400000 }, { "1 week", 604800000 },
		{ "0", 0 },
	};
	static const char *const bad[] = { "", "min", "1.5 min", "15 fortnights", "-1 s",
					   "10 s x", "99999999999 s" };
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(pm_config_parse_time_ms(ok[i].in, &ms), 0);
		assert_int_equal(ms, ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pm_config_parse_time_ms(bad[i], &ms), -EINVAL);
}

/* Every mistake is an error naming the file and the line. */
static void
test_config_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *want;	/* substring of the message */
	} cases[] = {
		{ "\n\nbogus_setting = 1\n", "test.conf:3: unknown setting 'bogus_setting'" },
		{ "director_user_expire = 5 s\n", "test.conf:1: director_user_expire: must be at least 10 s" },
		{ "director_user_expire = soon\n", "test.conf:1: director_user_expire: 'soon' is not a time" },
		{ "director_mail_servers = 10.0.0.1\ndirector_mail_servers = 10.0.0.2\n",
		  "test.conf:2: director_mail_servers is set twice" },
		{ "director_mail_servers = 10.0.0.300\n", "test.conf:1: director_mail_servers: backend '10.0.0.300'" },
		{ "director_mail_servers = 10.0.0.1=5000\n", "maximum of 1000" },
		{ "service director {\n", "test.conf:1: expected \"key = value\" (sections are not supported)" },
		{ "director_username_hash = \"%Lu\n", "test.conf:1: director_username_hash: unbalanced double quote" },
		{ "# x\ndirector_username_hash = %x\n", "test.conf:2: director_username_hash '%x'" },
		{ "postmux_admin_socket_mode = 0999\n", "test.conf:1: postmux_admin_socket_mode: '0999' is not an octal mode" },
		{ "postmux_admin_socket = relative/path\n", "is not an absolute path" },
		{ "director_max_parallel_moves = 0\n", "test.conf:1: director_max_parallel_moves: '0' is not a number" },
		{ "master_user_separator = ab\n", "must be a single character" },
		{ "postmux_port = client\n", "test.conf:1: postmux_port: expected \"<name> <devargs>" },
		{ "postmux_port = client net_af_packet0,iface=x\n", "postmux_port: expected" },
		{ "postmux_port = client net_af_packet0 192.0.2.1\n", "'192.0.2.1' has no /prefix length" },
		{ "postmux_port = client net_af_packet0 192.0.2.x/24\n", "'192.0.2.x' is not an IPv4 address" },
		{ "postmux_port = client net_af_packet0 2001:db8::1/64\n", "is not an IPv4 address" },
		{ "postmux_port = client net_af_packet0 192.0.2.1/33\n", "'33' is not a prefix length" },
		{ "postmux_port = client net_af_packet0 192.0.2.1/24 x\n", "(trailing text)" },
		{ "postmux_port = cli.ent net_af_packet0 192.0.2.1/24\n", "only [A-Za-z0-9_-]" },
		{ "postmux_port = client af_packet0 192.0.2.1/24\n", "must start with a virtual device" },
		{ "postmux_port = a net_af_packet0 192.0.2.1/24\npostmux_port = a net_af_packet1 192.0.2.2/24\n",
		  "test.conf:2: postmux_port: port 'a' is defined twice" },
		{ "postmux_port = a net_af_packet0,iface=x 192.0.2.1/24\npostmux_port = b net_af_packet0,iface=y 192.0.2.2/24\n",
		  "test.conf:2: postmux_port: device net_af_packet0 is used by port 'a' too" },
		{ "postmux_lcores = 0\n", "test.conf:1: postmux_lcores: '0' is not a number from 1 to 64" },
		{ "postmux_lcores = 1\npostmux_lcores = 1\n", "test.conf:2: postmux_lcores is set twice" },
	};
	struct pm_config c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&c, cases[i].text, err, sizeof(err)), -EINVAL);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].want);
		pm_config_free(&c);
	}
}

/* The data plane's ports: none by default; postmux_port may repeat. */
static void
test_config_dataplane_ports_are_read(void **state)
{
	static const char text[] =
		"postmux_dpdk_args = --no-huge -m 256 --no-pci\n"
		"postmux_port = client net_af_packet0,iface=pmc0-dp 192.0.2.1/24\n"
		"postmux_lcores = 2\n"
		"postmux_port = backend\tnet_af_packet1,iface=pmb0-dp,qpairs=2  198.51.100.254/24 # x\n";
	struct pm_config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.nports, 0);
	assert_int_equal(c.lcores, 1);
	assert_string_equal(c.dpdk_args, "--in-memory");
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.dpdk_args, "--no-huge -m 256 --no-pci");
	assert_int_equal(c.lcores, 2);
	assert_int_equal(c.nports, 2);
	assert_string_equal(c.ports[0].name, "client");
	assert_string_equal(c.ports[0].devargs, "net_af_packet0,iface=pmc0-dp");
	assert_int_equal(c.ports[0].addr.family, PM_AF_INET);
	assert_memory_equal(c.ports[0].addr.bytes, "\xc0\x00\x02\x01", 4);
	assert_int_equal(c.ports[0].prefixlen, 24);
	assert_string_equal(c.ports[1].name, "backend");
	assert_string_equal(c.ports[1].devargs, "net_af_packet1,iface=pmb0-dp,qpairs=2");
	assert_memory_equal(c.ports[1].addr.bytes, "\xc6\x33\x64\xfe", 4);
	pm_config_free(&c);
}

static void
test_config_load_reads_file_and_reports_missing(void **state)
{
	char path[] = "/tmp/pm-test-config-XXXXXX";
	struct pm_config c;
	char err[512];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "director_user_expire = 1 min\n", 29), 29);
	close(fd);
	pm_config_defaults(&c);
	assert_int_equal(pm_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.director.user_expire_s, 60);
	pm_config_free(&c);
	/* A NUL byte is reported with its line. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "# ok\nx\0y = 1\n", 13), 13);
	close(fd);
	pm_config_defaults(&c);
	assert_int_equal(pm_config_load(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: NUL byte"));
	unlink(path);
	pm_config_defaults(&c);
	assert_int_equal(pm_config_load(&c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults_are_dovecots),
		cmocka_unit_test(test_config_director_settings_are_read),
		cmocka_unit_test(test_config_time_units_follow_dovecot),
		cmocka_unit_test(test_config_errors_name_file_and_line),
		cmocka_unit_test(test_config_dataplane_ports_are_read),
		cmocka_unit_test(test_config_load_reads_file_and_reports_missing),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
