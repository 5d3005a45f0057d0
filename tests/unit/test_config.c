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
		{ "postmux_port = client 03:00.8 192.0.2.1/24\n", "or a PCI address such as" },
		{ "postmux_port = client 0000:3:00.0 192.0.2.1/24\n", "or a PCI address such as" },
		{ "postmux_port = a 03:00.0 10.0.0.1/24\npostmux_port = b 0000:03:00.0,x=1 10.0.1.1/24\n",
		  "test.conf:2: postmux_port: device 0000:03:00.0 is used by port 'a' too" },
		{ "postmux_port = a net_af_packet0 192.0.2.1/24\npostmux_port = a net_af_packet1 192.0.2.2/24\n",
		  "test.conf:2: postmux_port: port 'a' is defined twice" },
		{ "postmux_port = a net_af_packet0,iface=x 192.0.2.1/24\npostmux_port = b net_af_packet0,iface=y 192.0.2.2/24\n",
		  "test.conf:2: postmux_port: device net_af_packet0 is used by port 'a' too" },
		{ "postmux_lcores = 0\n", "test.conf:1: postmux_lcores: '0' is not a number from 1 to 64" },
		{ "postmux_lcores = 1\npostmux_lcores = 1\n", "test.conf:2: postmux_lcores is set twice" },
		{ "postmux_port = a net_af_packet0 10.0.0.1/24\n"
		  "postmux_port = b net_af_packet1 10.0.0.2/24\n",
		  "test.conf:2: postmux_port: port 'b' is on the subnet of port 'a'" },
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
	/* NICs by PCI address; the domain is filled in as DPDK names ports. */
	assert_int_equal(parse(&c, "postmux_port = a 0000:03:00.0 10.0.0.1/24\n"
			       "postmux_port = b 3b:00.1,rxq_cqe_comp_en=0 10.0.1.1/24\n",
			       err, sizeof(err)), 0);
	assert_string_equal(c.ports[0].devargs, "0000:03:00.0");
	assert_string_equal(c.ports[1].devargs, "0000:3b:00.1,rxq_cqe_comp_en=0");
	pm_config_free(&c);
}

/* Two ports for the route and vip tests: lines 1 and 2. */
#define TWO_PORTS							\
	"postmux_port = client net_af_packet0 192.0.2.1/24\n"		\
	"postmux_port = backend net_af_packet1 10.0.0.1/24\n"

/* Routes, VIPs and the neighbour table: values, defaults, and a vip line
 * before its port. */
static void
test_config_routes_vips_and_neigh_are_read(void **state)
{
	static const char text[] =
		"postmux_vip = client 192.0.2.10\n"
		TWO_PORTS
		"postmux_route = 198.51.100.0/24 via 10.0.0.254\n"
		"postmux_route = default via 192.0.2.254   # upstream\n"
		"postmux_vip = client 203.0.113.80\n"
		"postmux_vip = backend\t10.0.0.2\n"
		"postmux_neigh_entries = 4096\n"
		"postmux_neigh_queue = 64\n"
		"postmux_arp_reachable_time = 1 min\n"
		"postmux_arp_retrans_time = 250 ms\n"
		"postmux_arp_probes = 5\n";
	struct pm_neigh_params d;
	struct pm_route_table t;
	struct pm_addr dst, nh;
	struct pm_config c;
	char err[256], ip[PM_ADDR_STRLEN];
	uint16_t port;

	(void)state;
	pm_neigh_params_defaults(&d);
	assert_int_equal(parse(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.nroutes, 0);
	assert_int_equal(c.nvips, 0);
	assert_memory_equal(&c.neigh, &d, sizeof(d));

	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nroutes, 2);
	pm_addr_format(&c.routes[0].prefix, ip, sizeof(ip));
	assert_string_equal(ip, "198.51.100.0");
	assert_int_equal(c.routes[0].len, 24);
	pm_addr_format(&c.routes[0].gw, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.254");
	pm_addr_format(&c.routes[1].prefix, ip, sizeof(ip));
	assert_string_equal(ip, "0.0.0.0");
	assert_int_equal(c.routes[1].len, 0);
	/* VIPs in file order, their port resolved by name. */
	assert_int_equal(c.nvips, 3);
	assert_string_equal(c.vips[0].port_name, "client");
	assert_int_equal(c.vips[0].port, 0);
	pm_addr_format(&c.vips[0].addr, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.10");
	assert_int_equal(c.vips[1].port, 0);
	assert_int_equal(c.vips[2].port, 1);
	pm_addr_format(&c.vips[2].addr, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.2");
	/* The neighbour table; failed_ms and gc_ms keep their defaults. */
	assert_int_equal(c.neigh.capacity, 4096);
	assert_int_equal(c.neigh.qlen, 64);
	assert_int_equal(c.neigh.reachable_ms, 60000);
	assert_int_equal(c.neigh.retrans_ms, 250);
	assert_int_equal(c.neigh.probes, 5);
	assert_int_equal(c.neigh.failed_ms, d.failed_ms);
	assert_int_equal(c.neigh.gc_ms, d.gc_ms);
	assert_true(pm_neigh_memsize(&c.neigh) > 0);
	/* The route table the data plane will build. */
	assert_int_equal(pm_config_routes(&c, &t, err, sizeof(err)), 0);
	assert_int_equal(pm_route_count(&t), 4);
	pm_addr_parse(&dst, "198.51.100.25", 13);
	assert_int_equal(pm_route_lookup(&t, &dst, &port, &nh), 0);
	assert_int_equal(port, 1);
	pm_addr_format(&nh, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.254");
	pm_addr_parse(&dst, "8.8.8.8", 7);
	assert_int_equal(pm_route_lookup(&t, &dst, &port, &nh), 0);
	assert_int_equal(port, 0);
	pm_config_free(&c);
}

/* The documented example (docs/configuration.md) parses. */
static void
test_config_documented_route_example_is_valid(void **state)
{
	static const char text[] =
		"postmux_port = client net_af_packet0,iface=pmc0-dp 192.0.2.1/24\n"
		"postmux_port = backend net_af_packet1,iface=pmb0-dp 10.0.0.1/24\n"
		"postmux_vip = client 192.0.2.143\n"
		"postmux_route = 198.51.100.0/24 via 10.0.0.254\n"
		"postmux_route = default via 192.0.2.254\n"
		"director_mail_servers = 198.51.100.10-198.51.100.19\n";
	struct pm_route_table t;
	struct pm_addr dst, nh;
	struct pm_config c;
	char err[256], ip[PM_ADDR_STRLEN];
	uint16_t port;

	(void)state;
	if (parse(&c, text, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* What the text after the example says. */
	assert_int_equal(pm_config_routes(&c, &t, err, sizeof(err)), 0);
	pm_addr_parse(&dst, "198.51.100.12", 13);
	assert_int_equal(pm_route_lookup(&t, &dst, &port, &nh), 0);
	assert_string_equal(c.ports[port].name, "backend");
	pm_addr_format(&nh, ip, sizeof(ip));
	assert_string_equal(ip, "10.0.0.254");
	pm_addr_parse(&dst, "10.0.0.77", 9);
	assert_int_equal(pm_route_lookup(&t, &dst, &port, &nh), 0);
	assert_string_equal(c.ports[port].name, "backend");
	assert_true(pm_addr_eq(&nh, &dst));
	pm_addr_parse(&dst, "203.0.113.9", 11);
	assert_int_equal(pm_route_lookup(&t, &dst, &port, &nh), 0);
	assert_string_equal(c.ports[port].name, "client");
	pm_addr_format(&nh, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.254");
	pm_config_free(&c);
}

/* Every route, vip and neighbour-table mistake, with file and line. */
static void
test_config_route_vip_neigh_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		/* postmux_route syntax, at its line */
		{ TWO_PORTS "postmux_route = 198.51.100.0/24 10.0.0.254\n",
		  "test.conf:3: postmux_route: expected \"<prefix>/<length> via <gateway>\" or "
		  "\"default via <gateway>\"" },
		{ TWO_PORTS "postmux_route = default\n", "test.conf:3: postmux_route: expected" },
		{ TWO_PORTS "postmux_route = default via 10.0.0.254 x\n", "(trailing text)" },
		{ TWO_PORTS "postmux_route = 198.51.100.0 via 10.0.0.254\n",
		  "test.conf:3: postmux_route: '198.51.100.0' has no /prefix length" },
		{ TWO_PORTS "postmux_route = 198.51.100.x/24 via 10.0.0.254\n",
		  "postmux_route: '198.51.100.x' is not an IPv4 address" },
		{ TWO_PORTS "postmux_route = 2001:db8::/32 via 10.0.0.254\n",
		  "postmux_route: '2001:db8::' is not an IPv4 address" },
		{ TWO_PORTS "postmux_route = 198.51.100.0/33 via 10.0.0.254\n",
		  "postmux_route: '33' is not a prefix length from 0 to 32" },
		{ TWO_PORTS "postmux_route = default via gw1\n",
		  "postmux_route: gateway 'gw1' is not an IPv4 address" },
		/* postmux_route against the ports, at the route's line */
		{ "postmux_route = default via 10.0.0.254\n",
		  "test.conf:1: postmux_route needs a postmux_port" },
		{ TWO_PORTS "postmux_route = default via 10.0.0.254\n"
		  "postmux_route = 203.0.113.0/24 via 10.0.1.1\n",
		  "test.conf:4: postmux_route: route 203.0.113.0/24: gateway 10.0.1.1 is on no "
		  "port's subnet" },
		{ "postmux_route = 203.0.113.0/24 via 10.9.9.9\n" TWO_PORTS,
		  "test.conf:1: postmux_route: route 203.0.113.0/24: gateway 10.9.9.9" },
		{ TWO_PORTS "postmux_route = 203.0.113.1/24 via 10.0.0.254\n",
		  "test.conf:3: postmux_route: route 203.0.113.1/24: host bits set" },
		{ TWO_PORTS "postmux_route = default via 10.0.0.254\n\n"
		  "postmux_route = 0.0.0.0/0 via 192.0.2.254\n",
		  "test.conf:5: postmux_route: route default is given twice" },
		{ TWO_PORTS "postmux_route = 10.0.0.0/24 via 192.0.2.254\n",
		  "test.conf:3: postmux_route: route 10.0.0.0/24: the same prefix as port 1's "
		  "subnet" },
		{ TWO_PORTS "postmux_route = default via 10.0.0.1\n",
		  "gateway 10.0.0.1 is port 1's own address" },
		{ TWO_PORTS "postmux_vip = backend 10.0.0.9\n"
		  "postmux_route = default via 10.0.0.9\n",
		  "test.conf:4: postmux_route: gateway 10.0.0.9 is a VIP of port 'backend'" },
		/* postmux_vip */
		{ TWO_PORTS "postmux_vip = client\n",
		  "test.conf:3: postmux_vip: expected \"<port name> <ipv4 address>\"" },
		{ TWO_PORTS "postmux_vip = client 192.0.2.9 x\n", "(trailing text)" },
		{ TWO_PORTS "postmux_vip = client 192.0.2\n",
		  "postmux_vip: '192.0.2' is not an IPv4 address" },
		{ TWO_PORTS "postmux_vip = client 2001:db8::1\n", "is not an IPv4 address" },
		{ TWO_PORTS "postmux_vip = client 224.0.0.1\n",
		  "postmux_vip: '224.0.0.1' is not a unicast address" },
		{ TWO_PORTS "postmux_vip = client 255.255.255.255\n", "is not a unicast address" },
		{ TWO_PORTS "postmux_vip = client 0.1.2.3\n", "is not a unicast address" },
		{ TWO_PORTS "postmux_vip = client 127.0.0.1\n", "is not a unicast address" },
		{ TWO_PORTS "postmux_vip = a234567890123456789012345678901234 192.0.2.9\n",
		  "postmux_vip: port name longer than 31 bytes" },
		{ "postmux_vip = backend 10.0.0.9\n", "test.conf:1: postmux_vip: no postmux_port "
		  "named 'backend'" },
		{ TWO_PORTS "\npostmux_vip = server 10.0.0.9\n",
		  "test.conf:4: postmux_vip: no postmux_port named 'server'" },
		{ TWO_PORTS "postmux_vip = backend 192.0.2.1\n",
		  "test.conf:3: postmux_vip: 192.0.2.1 is the address of port 'client'" },
		{ "postmux_vip = client 192.0.2.9\n" TWO_PORTS "postmux_vip = backend 192.0.2.9\n",
		  "test.conf:4: postmux_vip: 192.0.2.9 is a VIP of port 'client' already "
		  "(line 1)" },
		/* the neighbour table */
		{ "postmux_neigh_entries = 1000\n",
		  "test.conf:1: postmux_neigh_entries: '1000' is not a power of two from 8 to "
		  "1048576" },
		{ "postmux_neigh_entries = 4\n", "'4' is not a power of two" },
		{ "postmux_neigh_entries = 2097152\n", "is not a power of two" },
		{ "postmux_neigh_queue = 0\n",
		  "test.conf:1: postmux_neigh_queue: '0' is not a number from 1 to 64" },
		{ "postmux_neigh_queue = 65\n", "'65' is not a number from 1 to 64" },
		{ "postmux_arp_probes = 0\n",
		  "test.conf:1: postmux_arp_probes: '0' is not a number from 1 to 16" },
		{ "postmux_arp_probes = 17\n", "'17' is not a number from 1 to 16" },
		{ "postmux_arp_reachable_time = soon\n",
		  "test.conf:1: postmux_arp_reachable_time: 'soon' is not a time" },
		{ "postmux_arp_reachable_time = 500 ms\n",
		  "postmux_arp_reachable_time: '500 ms' is not from 1 s to 1 hour" },
		{ "postmux_arp_reachable_time = 2 h\n", "'2 h' is not from 1 s to 1 hour" },
		{ "postmux_arp_retrans_time = 50 ms\n",
		  "test.conf:1: postmux_arp_retrans_time: '50 ms' is not from 100 ms to 1 min" },
		{ "postmux_arp_retrans_time = 2 min\n", "is not from 100 ms to 1 min" },
		{ "postmux_arp_probes = 3\npostmux_arp_probes = 3\n",
		  "test.conf:2: postmux_arp_probes is set twice" },
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

static void
test_config_listeners_are_read_and_checked(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143\n",
		  "test.conf:3: postmux_listener: expected \"<address> <port> "
		  "imap|pop3|submission|sieve [backend_port=<port>]\"" },
		{ TWO_PORTS "postmux_listener = 192.0.2.x 143 imap\n",
		  "postmux_listener: '192.0.2.x' is not an IPv4 address" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 0 imap\n",
		  "postmux_listener: '0' is not a port from 1 to 65535" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143 smtp\n",
		  "postmux_listener: unknown protocol 'smtp' (imap, pop3, submission, sieve)" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143 imap port=1\n",
		  "postmux_listener: 'port=1' is not backend_port=<1..65535>" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143 imap backend_port=70000\n",
		  "is not backend_port=<1..65535>" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143 imap backend_port=143 x\n",
		  "(trailing text)" },
		{ TWO_PORTS "postmux_listener = 192.0.2.77 143 imap\n",
		  "test.conf:3: postmux_listener: 192.0.2.77 is neither a postmux_port address "
		  "nor a postmux_vip" },
		{ TWO_PORTS "postmux_listener = 192.0.2.1 143 imap\n\n"
		  "postmux_listener = 192.0.2.1 143 pop3\n",
		  "test.conf:5: postmux_listener: 192.0.2.1 port 143 is taken already (line 3)" },
		{ "postmux_sessions = 8\n",
		  "test.conf:1: postmux_sessions: '8' is not a number from 16 to 33554432" },
		{ "postmux_prelogin_sessions = 0\n",
		  "test.conf:1: postmux_prelogin_sessions: '0' is not a number from 1 to" },
		{ "hostname = mx_1\n", "test.conf:1: hostname: 'mx_1' is not a host name" },
		{ "postmux_syn_backlog = 1048577\n",
		  "test.conf:1: postmux_syn_backlog: '1048577' is not a number from 0 to 1048576" },
		{ "postmux_sessions = 100\n",
		  "test.conf: postmux_prelogin_sessions (1024) is more than postmux_sessions (100)" },
	};
	struct pm_config c;
	char err[512];
	size_t i;

	(void)state;
	assert_int_equal(parse(&c, "postmux_listener = 192.0.2.9 993 imap backend_port=10143\n"
			       TWO_PORTS "postmux_vip = client 192.0.2.9\n"
			       "postmux_listener = 192.0.2.9 110 pop3\n"
			       "postmux_listener = 10.0.0.1 587 submission\n"
			       "postmux_listener = 192.0.2.9 4190 sieve\n", err, sizeof(err)), 0);
	assert_int_equal(c.nlisteners, 4);
	assert_int_equal(c.listeners[0].proto, PM_PROTO_IMAP);
	assert_int_equal(c.listeners[0].port, 993);
	assert_int_equal(c.listeners[0].backend_port, 10143);
	assert_int_equal(c.listeners[0].port_idx, 0);	/* the VIP's port */
	assert_int_equal(c.listeners[1].backend_port, 110);
	assert_int_equal(c.listeners[2].port_idx, 1);
	assert_int_equal(c.listeners[2].backend_port, 587);
	assert_int_equal(c.listeners[3].backend_port, 4190);
	assert_string_equal(pm_config_proto_name(c.listeners[3].proto), "sieve");
	assert_string_equal(pm_config_proto_name((enum pm_config_proto)0), "?");
	assert_int_equal(c.sessions, 1u << 20);
	assert_int_equal(c.prelogin, 1024);
	assert_int_equal(c.syn_backlog, 4096);
	assert_true(c.hostname[0] != '\0');
	pm_config_free(&c);
	assert_int_equal(parse(&c, "postmux_sessions = 4096\npostmux_prelogin_sessions = 64\n"
			       "postmux_syn_backlog = 0\nhostname = mx1.example.org\n", err,
			       sizeof(err)), 0);
	assert_string_equal(c.hostname, "mx1.example.org");
	assert_int_equal(c.sessions, 4096);
	assert_int_equal(c.prelogin, 64);
	assert_int_equal(c.syn_backlog, 0);
	pm_config_free(&c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, bad[i].text, err, sizeof(err)), -EINVAL);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, bad[i].want);
		pm_config_free(&c);
	}
}

/* The limits: 64 routes, 16 VIPs a port, 64 VIPs in all. */
static void
test_config_route_and_vip_limits(void **state)
{
	size_t size = 64 * 1024, len, i;
	char *text = malloc(size), err[512];
	struct pm_config c;

	(void)state;
	assert_non_null(text);
	/* 64 routes are fine, the 65th (line 2 + 65) is not. */
	len = (size_t)snprintf(text, size, TWO_PORTS);
	for (i = 0; i < 64; i++)
		len += (size_t)snprintf(text + len, size - len,
					"postmux_route = 172.16.%zu.0/24 via 10.0.0.254\n", i);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nroutes, 64);
	snprintf(text + len, size - len, "postmux_route = 172.17.0.0/24 via 10.0.0.254\n");
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.conf:67: postmux_route: more than 64 routes");

	/* 16 VIPs on a port, then a 17th. */
	len = (size_t)snprintf(text, size, TWO_PORTS);
	for (i = 0; i < 16; i++)
		len += (size_t)snprintf(text + len, size - len,
					"postmux_vip = client 192.0.2.%zu\n", 100 + i);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nvips, 16);
	snprintf(text + len, size - len, "postmux_vip = client 192.0.2.200\n");
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.conf:19: postmux_vip: port 'client' has more than 16 VIPs");

	/* 64 VIPs over four ports, then a 65th. */
	len = 0;
	for (i = 0; i < 5; i++)
		len += (size_t)snprintf(text + len, size - len,
					"postmux_port = p%zu net_af_packet%zu 10.%zu.0.1/24\n",
					i, i, i);
	for (i = 0; i < 64; i++)
		len += (size_t)snprintf(text + len, size - len,
					"postmux_vip = p%zu 10.%zu.1.%zu\n", i / 16, i / 16, i);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.nvips, 64);
	assert_int_equal(c.vips[63].port, 3);
	snprintf(text + len, size - len, "postmux_vip = p4 10.4.1.1\n");
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "test.conf:70: postmux_vip: more than 64 VIPs");
	free(text);
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
		cmocka_unit_test(test_config_routes_vips_and_neigh_are_read),
		cmocka_unit_test(test_config_documented_route_example_is_valid),
		cmocka_unit_test(test_config_route_vip_neigh_errors_name_file_and_line),
		cmocka_unit_test(test_config_route_and_vip_limits),
		cmocka_unit_test(test_config_listeners_are_read_and_checked),
		cmocka_unit_test(test_config_load_reads_file_and_reports_missing),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
