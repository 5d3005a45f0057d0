/*
 * test_controller.c -- postmux-control's logic without sockets: every admin
 * command's answer with and without a (simulated) data plane, pipelining
 * and per-connection order, persistence before OK, the control channel's
 * handshake, full state, request matching, list reassembly, timeouts, and
 * refusal of a second data plane.
 *
 * The test plays both peers: it feeds admin bytes and data-plane datagrams
 * into the controller and reads what the controller queues. Time is set by
 * hand; nothing sleeps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adminproto.h"
#include "controller.h"
#include "ctlmsg.h"
#include "director/userhash.h"
#include "testaddr.h"

#define T0 1000000u		/* monotonic ms at the start of every test */
#define UNIX0 1700000000	/* wall clock at the start */
#define USER1_HASH 617210206u	/* %Lu of "user1" (spec section 7.1) */

struct h {
	struct pm_config cfg;
	struct pm_controller *c;
	uint64_t now;
	int64_t unix_s;
	/* save_state */
	int saves;
	int save_fail;			/* errno to fail with, 0: succeed */
	uint64_t saved_gen;
	size_t saved_nhosts;
	uint64_t watch;			/* client whose output a save inspects */
	bool ok_before_save;		/* an OK was pending when a save ran */
	/* log */
	char log[16384];
	size_t loglen;
	/* the last datagram taken from the controller */
	uint8_t dgram[PM_CTLMSG_MAX];
	/* client output */
	char *out;
	size_t outcap;
};

/* ---- harness ------------------------------------------------------------------- */

static int
save_cb(void *arg, const struct pm_state *s, char *err, size_t errlen)
{
	struct h *h = arg;
	const void *d;
	size_t n;

	h->saves++;
	if (h->watch != 0) {
		n = pm_controller_client_output(h->c, h->watch, &d);
		if (n >= 3 && memmem(d, n, "OK\n", 3) != NULL)
			h->ok_before_save = true;
	}
	if (h->save_fail != 0) {
		snprintf(err, errlen, "test: %s", strerror(h->save_fail));
		return -h->save_fail;
	}
	h->saved_gen = s->generation;
	h->saved_nhosts = s->n;
	return 0;
}

static void
log_cb(void *arg, enum pm_controller_level level, const char *msg)
{
	struct h *h = arg;
	int n;

	if (level == PM_CONTROLLER_DEBUG)
		return;
	n = snprintf(h->log + h->loglen, sizeof(h->log) - h->loglen, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(h->log) - h->loglen)
		h->loglen += (size_t)n;
}

static bool
logged(struct h *h, const char *s)
{
	return strstr(h->log, s) != NULL;
}

static void
tick_at(struct h *h, uint64_t ms)
{
	h->now = ms;
	h->unix_s = UNIX0 + (int64_t)((ms - T0) / 1000);
	pm_controller_set_time(h->c, h->now, h->unix_s);
	pm_controller_tick(h->c);
}

static struct h *
harness(const char *servers, const char *extra)
{
	static const struct pm_controller_ops ops = { save_cb, log_cb };
	static const uint8_t bid[PM_CTLMSG_BOOT_ID_LEN] = { 1, 2, 3 };
	struct h *h = calloc(1, sizeof(*h));
	struct pm_state st;
	char text[1024], err[256];

	assert_non_null(h);
	pm_config_defaults(&h->cfg);
	snprintf(text, sizeof(text), "director_mail_servers = %s\n%s", servers,
		 extra ? extra : "");
	if (pm_config_parse(&h->cfg, text, "test.conf", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(pm_state_from_config(&st, &h->cfg), 0);
	if (pm_controller_new(&h->c, &h->cfg, &st, &ops, h, 4242, bid, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	h->now = T0;
	h->unix_s = UNIX0;
	pm_controller_set_time(h->c, h->now, h->unix_s);
	h->outcap = 1 << 20;
	h->out = malloc(h->outcap);
	assert_non_null(h->out);
	return h;
}

static void
harness_free(struct h *h)
{
	pm_controller_free(h->c);
	pm_config_free(&h->cfg);
	free(h->out);
	free(h);
}

/* ---- admin side ---------------------------------------------------------------- */

/* Everything the client has been sent since the last call (also marks it
 * written, which may run held-back commands). */
static const char *
take(struct h *h, uint64_t id)
{
	size_t len = 0, n;
	const void *d;

	while ((n = pm_controller_client_output(h->c, id, &d)) > 0) {
		assert_true(len + n < h->outcap);
		memcpy(h->out + len, d, n);
		len += n;
		pm_controller_client_sent(h->c, id, n);
	}
	h->out[len] = '\0';
	return h->out;
}

static void
send_str(struct h *h, uint64_t id, const char *s)
{
	pm_controller_client_input(h->c, id, s, strlen(s));
}

/* A client past the handshake. */
static uint64_t
client(struct h *h)
{
	uint64_t id;

	assert_int_equal(pm_controller_client_open(h->c, &id), 0);
	assert_string_equal(take(h, id), PM_ADMINPROTO_BANNER);
	send_str(h, id, "VERSION\tdirector-doveadm\t1\t0\n");
	assert_string_equal(take(h, id), "");
	return id;
}

/* One command, its complete answer (no data plane involved). */
static const char *
cmd(struct h *h, uint64_t id, const char *line)
{
	send_str(h, id, line);
	return take(h, id);
}

/* ---- data plane side ----------------------------------------------------------- */

static bool
dp_take(struct h *h, struct pm_ctlmsg *m)
{
	const void *b;
	size_t len;

	if (!pm_controller_dp_output(h->c, &b, &len))
		return false;
	memcpy(h->dgram, b, len);
	pm_controller_dp_sent(h->c);
	assert_int_equal(pm_ctlmsg_decode(m, h->dgram, len), 0);
	return true;
}

static void
dp_expect(struct h *h, struct pm_ctlmsg *m, uint16_t type)
{
	if (!dp_take(h, m))
		fail_msg("no datagram queued, expected %s", pm_ctlmsg_type_name(type));
	if (m->type != type)
		fail_msg("got %s, expected %s", pm_ctlmsg_type_name(m->type),
			 pm_ctlmsg_type_name(type));
}

static void
dp_none(struct h *h)
{
	struct pm_ctlmsg m;

	if (dp_take(h, &m))
		fail_msg("unexpected %s queued", pm_ctlmsg_type_name(m.type));
}

static void
dp_feed(struct h *h, const struct pm_ctlmsg *m)
{
	uint8_t buf[PM_CTLMSG_MAX];
	int n = pm_ctlmsg_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	pm_controller_dp_input(h->c, buf, (size_t)n);
}

static void
dp_reply(struct h *h, const struct pm_ctlmsg *req, int32_t status, const char *reason)
{
	struct pm_ctlmsg r;

	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, req->request_id, 7);
	r.u.reply.req_type = req->type;
	r.u.reply.status = status;
	if (status < 0 && reason != NULL)
		snprintf(r.u.reply.reason, sizeof(r.u.reply.reason), "%s", reason);
	dp_feed(h, &r);
}

static const char *
ipfmt(const struct pm_addr *a)
{
	static char buf[PM_ADDR_STRLEN];

	if (a->family == PM_AF_NONE)
		return "none";
	assert_true(pm_addr_format(a, buf, sizeof(buf)) > 0);
	return buf;
}

/*
 * Connect a data plane that has applied generation @applied: HELLO,
 * HELLO_ACK, the full state (its hosts, "ip/vhosts/U|D/tag" joined by
 * spaces, into @hosts if not NULL), and the commit's REPLY.
 */
static void
dp_connect(struct h *h, uint64_t applied, char *hosts, size_t hlen, uint64_t *gen)
{
	struct pm_ctlmsg m, ack;
	struct pm_ctlmsg_iter it;
	struct pm_ctlmsg_host e;
	size_t refuse_len, total = 0;
	uint8_t refuse[512];
	uint32_t announced;

	assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &refuse_len), 0);
	assert_true(pm_controller_dp_connected(h->c));
	assert_false(pm_controller_dp_ready(h->c));
	dp_expect(h, &m, PM_CTLMSG_HELLO);
	assert_int_equal(m.u.hello.pid, 4242);
	assert_int_equal(m.u.hello.proto_min, 1);
	assert_int_equal(m.u.hello.proto_max, 1);
	assert_int_equal(m.generation, 0);
	dp_none(h);	/* nothing else before HELLO_ACK */

	pm_ctlmsg_init(&ack, PM_CTLMSG_HELLO_ACK, m.request_id, applied);
	ack.u.hello_ack.pid = 99;
	ack.u.hello_ack.version = 1;
	ack.u.hello_ack.has_pins = applied != 0;
	dp_feed(h, &ack);

	dp_expect(h, &m, PM_CTLMSG_STATE_BEGIN);
	assert_int_equal(m.request_id, 0);
	*gen = m.generation;
	assert_true(*gen >= 1);
	announced = m.u.state_begin.nhosts;
	assert_int_equal(m.u.state_begin.user_expire_s, h->cfg.director.user_expire_s);
	assert_int_equal(m.u.state_begin.kick_delay_ms, h->cfg.director.kick_delay_ms);
	assert_string_equal(m.u.state_begin.hash_template, h->cfg.hash_format);
	if (hosts != NULL)
		hosts[0] = '\0';
	for (;;) {
		dp_take(h, &m);
		if (m.type == PM_CTLMSG_STATE_COMMIT)
			break;
		assert_int_equal(m.type, PM_CTLMSG_STATE_HOSTS);
		assert_int_equal(m.generation, *gen);
		pm_ctlmsg_iter_init(&it, &m);
		while (pm_ctlmsg_iter_host(&it, &e)) {
			total++;
			if (hosts != NULL) {
				size_t k = strlen(hosts);

				snprintf(hosts + k, hlen - k, "%s%s/%u/%c/%s", k ? " " : "",
					 ipfmt(&e.addr), e.vhosts, e.down ? 'D' : 'U', e.tag);
			}
		}
	}
	assert_int_equal(total, announced);
	assert_int_equal(m.generation, *gen);
	assert_true(pm_controller_dp_ready(h->c));
	dp_reply(h, &m, 0, NULL);
}

static void
dp_up(struct h *h)
{
	uint64_t g;

	dp_connect(h, 0, NULL, 0, &g);
}

/* ---- tests: admin protocol without a data plane --------------------------------- */

static void
test_controller_banner_and_handshake_are_silent(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id;

	(void)state;
	assert_int_equal(pm_controller_client_open(h->c, &id), 0);
	assert_string_equal(take(h, id), "VERSION\tdirector-doveadm\t1\t0\n");
	send_str(h, id, "VERSION\tdirector-doveadm\t1\t3\n");
	assert_string_equal(take(h, id), "");
	assert_false(pm_controller_client_should_close(h->c, id));
	assert_true(pm_controller_client_wants_input(h->c, id));
	harness_free(h);
}

static void
test_controller_host_list_without_dp_lists_state(void **state)
{
	struct h *h = harness("10.0.0.2 10.0.0.1@tagA", NULL);
	uint64_t id = client(h);

	(void)state;
	assert_string_equal(cmd(h, id, "HOST-LIST\n"),
			    "10.0.0.1\t100\t0\ttagA\tU\t0\n"
			    "10.0.0.2\t100\t0\t\tU\t0\n"
			    "\n");
	assert_string_equal(cmd(h, id, "HOST-LIST-REMOVED\n"), "\n");
	harness_free(h);
}

static void
test_controller_host_set_saves_before_ok(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);

	(void)state;
	h->watch = id;
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.9@blue\t50\n"), "OK\n");
	assert_int_equal(h->saves, 1);
	assert_false(h->ok_before_save);
	assert_int_equal(h->saved_gen, 2);
	assert_int_equal(h->saved_nhosts, 2);
	assert_string_equal(cmd(h, id, "HOST-LIST\n"),
			    "10.0.0.1\t100\t0\t\tU\t0\n"
			    "10.0.0.9\t50\t0\tblue\tU\t0\n\n");
	/* Without a count: a new host gets 100 (spec 7.10). */
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.8\n"), "OK\n");
	assert_int_equal(pm_controller_state(h->c)->hosts[1].vhosts, 100);
	/* Same count again: OK, nothing to save. */
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.9\t50\n"), "OK\n");
	assert_int_equal(h->saves, 2);
	harness_free(h);
}

static void
test_controller_host_set_errors_are_dovecots(void **state)
{
	struct h *h = harness("10.0.0.1 10.0.0.2", NULL);
	uint64_t id = client(h);

	(void)state;
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.1\t5000\n"), "vhost count too large\n");
	assert_string_equal(cmd(h, id, "HOST-UPDATE\t10.0.0.77\t5000\n"),
			    "vhost count too large\n");
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.2@foo\t50\n"),
			    "host tag can't be changed\n");
	assert_string_equal(cmd(h, id, "HOST-UPDATE\t10.0.0.77\t5\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "HOST-UPDATE\t10.0.0.1\t7\n"), "OK\n");
	assert_int_equal(pm_controller_state(h->c)->hosts[0].vhosts, 7);
	assert_int_equal(h->saves, 1);
	assert_int_equal(pm_controller_state(h->c)->generation, 2);
	harness_free(h);
}

static void
test_controller_host_updown_remove(void **state)
{
	struct h *h = harness("10.0.0.1 10.0.0.2", NULL);
	uint64_t id = client(h);

	(void)state;
	tick_at(h, T0 + 5000);
	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.2\n"), "OK\n");
	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.2\n"), "OK\n");	/* no change */
	assert_string_equal(cmd(h, id, "HOST-UP\t10.0.0.77\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.77\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "HOST-REMOVE\t10.0.0.77\n"), "NOTFOUND\n");
	assert_int_equal(h->saves, 1);
	assert_string_equal(cmd(h, id, "HOST-LIST\n"),
			    "10.0.0.1\t100\t0\t\tU\t0\n"
			    "10.0.0.2\t100\t0\t\tD\t1700000005\n\n");
	assert_string_equal(cmd(h, id, "HOST-REMOVE\t10.0.0.1\n"), "OK\n");
	assert_int_equal(h->saves, 2);
	assert_string_equal(cmd(h, id, "HOST-LIST-REMOVED\n"), "10.0.0.1\n\n");
	assert_string_equal(cmd(h, id, "HOST-UP\t10.0.0.2\n"), "OK\n");
	assert_int_equal(h->saved_gen, 4);
	harness_free(h);
}

static void
test_controller_failed_save_undoes_the_change(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	const struct pm_state *st = pm_controller_state(h->c);

	(void)state;
	h->save_fail = ENOSPC;
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.9\t50\n"),
			    "failed to save state: No space left on device\n");
	assert_int_equal(st->n, 1);
	assert_int_equal(st->generation, 1);
	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.1\n"),
			    "failed to save state: No space left on device\n");
	assert_false(pm_controller_state(h->c)->hosts[0].down);
	assert_true(logged(h, "change undone"));
	h->save_fail = 0;
	assert_string_equal(cmd(h, id, "HOST-REMOVE\t10.0.0.1\n"), "OK\n");
	assert_int_equal(pm_controller_state(h->c)->n, 0);
	assert_int_equal(pm_controller_state(h->c)->generation, 2);
	harness_free(h);
}

static void
test_controller_director_commands_answer_as_standalone(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);

	(void)state;
	assert_string_equal(cmd(h, id, "DIRECTOR-LIST\n"),
			    "127.0.0.1\t0\tself\t0\tring synced\t0\n\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-ADD\t127.0.0.1\n"), "OK\n");
	/* Another director is accepted and listed as unreachable, as a
	 * standalone Dovecot director does (spec 7.23). */
	assert_string_equal(cmd(h, id, "DIRECTOR-ADD\t10.1.1.1\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-ADD\t127.0.0.1\t9092\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-ADD\t10.1.1.1\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-LIST\n"),
			    "127.0.0.1\t0\tself\t0\tring synced\t0\n"
			    "10.1.1.1\t0\t\t0\t\n"
			    "127.0.0.1\t9092\t\t0\t\n\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-REMOVE\t10.1.1.1\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-REMOVE\t10.1.1.1\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-REMOVE\t127.0.0.1\t9090\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-REMOVE\t127.0.0.1\t9092\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-REMOVE\t127.0.0.1\n"), "OK\n");
	assert_string_equal(cmd(h, id, "DIRECTOR-LIST\n"),
			    "127.0.0.1\t0\tself\t0\tring synced\t0\n\n");
	harness_free(h);
}

static void
test_controller_notfound_is_checked_before_waiting(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);

	(void)state;
	/* No data plane, yet an unknown host is answered at once. */
	assert_string_equal(cmd(h, id, "HOST-FLUSH\t10.0.0.77\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "HOST-RESET-USERS\t10.0.0.77\n"), "NOTFOUND\n");
	assert_string_equal(cmd(h, id, "USER-MOVE\tuser1\t10.0.0.77\n"), "NOTFOUND\n");
	harness_free(h);
}

/* Every data-plane command waits 30 s for a data plane, then gets
 * Dovecot's ring-sync timeout line (a list also gets its end line). */
static void
test_controller_without_dp_commands_time_out(void **state)
{
	static const struct {
		const char *line;
		const char *answer;
	} cases[] = {
		{ "HOST-FLUSH\t10.0.0.1\n", "Ring sync timed out\n" },
		{ "HOST-FLUSH\n", "Ring sync timed out\n" },
		{ "HOST-RESET-USERS\t10.0.0.1\n", "Ring sync timed out\n" },
		{ "HOST-RESET-USERS\n", "Ring sync timed out\n" },
		{ "USER-LOOKUP\tuser1\t\n", "Ring sync timed out\n" },
		{ "USER-LIST\n", "Ring sync timed out\n\n" },
		{ "USER-MOVE\tuser1\t10.0.0.1\n", "Ring sync timed out\n" },
		{ "USER-KICK\tuser1\n", "Ring sync timed out\n" },
		{ "USER-KICK-ALT\tuser_group\tx\n", "Ring sync timed out\n" },
		{ "USER-ASSIGN\tuser1\n", "Ring sync timed out\n" },
	};
	char want[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h *h = harness("10.0.0.1", NULL);
		uint64_t id = client(h);

		assert_string_equal(cmd(h, id, cases[i].line), "");
		/* Held: the next command does not run meanwhile. */
		assert_string_equal(cmd(h, id, "DIRECTOR-LIST\n"), "");
		tick_at(h, T0 + PM_CONTROLLER_WAIT_MS - 1);
		assert_string_equal(take(h, id), "");
		tick_at(h, T0 + PM_CONTROLLER_WAIT_MS);
		/* Then the held DIRECTOR-LIST runs. */
		snprintf(want, sizeof(want), "%s127.0.0.1\t0\tself\t0\tring synced\t0\n\n",
			 cases[i].answer);
		assert_string_equal(take(h, id), want);
		harness_free(h);
	}
}

static void
test_controller_without_dp_held_command_runs_next(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	const void *d;
	size_t n;

	(void)state;
	send_str(h, id, "USER-KICK\tbob\nDIRECTOR-LIST\n");
	assert_string_equal(take(h, id), "");
	tick_at(h, T0 + PM_CONTROLLER_WAIT_MS);
	n = pm_controller_client_output(h->c, id, &d);
	assert_true(n > 0);
	assert_memory_equal(d, "Ring sync timed out\n127.0.0.1\t0\tself", 36);
	harness_free(h);
}

/* ---- tests: with a data plane -------------------------------------------------- */

static void
test_controller_dp_handshake_sends_full_state(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.3 10.0.1.1@tagA=20:down", NULL);
	char hosts[512];
	uint64_t g;

	(void)state;
	dp_connect(h, 0, hosts, sizeof(hosts), &g);
	assert_int_equal(g, 1);
	assert_string_equal(hosts, "10.0.0.1/100/U/ 10.0.0.2/100/U/ 10.0.0.3/100/U/ "
				   "10.0.1.1/20/D/tagA");
	assert_true(logged(h, "data plane applied the state, generation 7"));
	harness_free(h);
}

static void
test_controller_dp_state_is_chunked(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h), g;
	char line[64];
	int i;

	(void)state;
	/* 1200 hosts with long tags need several STATE_HOSTS datagrams. */
	for (i = 0; i < 1200; i++) {
		char tag[200];

		memset(tag, 'a' + i % 26, sizeof(tag) - 1);
		tag[sizeof(tag) - 1] = '\0';
		snprintf(line, sizeof(line), "HOST-SET\t10.1.%d.%d@", i / 250, i % 250 + 1);
		send_str(h, id, line);
		send_str(h, id, tag);
		assert_string_equal(cmd(h, id, "\n"), "OK\n");
	}
	dp_connect(h, 0, NULL, 0, &g);	/* checks the chunk counts add up */
	assert_int_equal(g, 1201);
	harness_free(h);
}

static void
test_controller_dp_newer_generation_is_continued(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t g;

	(void)state;
	dp_connect(h, 500, NULL, 0, &g);
	assert_int_equal(g, 501);
	assert_int_equal(h->saved_gen, 501);
	harness_free(h);
}

static void
test_controller_host_changes_go_to_dp_after_save(void **state)
{
	struct h *h = harness("10.0.0.1 10.0.0.2@tagA", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	h->watch = id;
	send_str(h, id, "HOST-UPDATE\t10.0.0.2\t30\n");
	assert_false(h->ok_before_save);
	assert_string_equal(take(h, id), "OK\n");	/* never waits for the dp */
	dp_expect(h, &m, PM_CTLMSG_HOST_SET);
	assert_int_equal(m.generation, 2);
	assert_int_equal(m.u.host_set.vhosts, 30);
	assert_true(m.u.host_set.create);
	assert_string_equal(m.u.host_set.tag, "tagA");
	assert_string_equal(ipfmt(&m.u.host_set.addr), "10.0.0.2");
	dp_reply(h, &m, 0, NULL);

	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.1\n"), "OK\n");
	dp_expect(h, &m, PM_CTLMSG_HOST_UPDOWN);
	assert_int_equal(m.generation, 3);
	assert_true(m.u.host_updown.down);
	/* A refusal by the data plane is logged; the admin already has OK. */
	dp_reply(h, &m, -EINVAL, "nope");
	assert_true(logged(h, "data plane refused HOST_UPDOWN"));

	assert_string_equal(cmd(h, id, "HOST-REMOVE\t10.0.0.1\n"), "OK\n");
	dp_expect(h, &m, PM_CTLMSG_HOST_REMOVE);
	assert_int_equal(m.generation, 4);
	dp_reply(h, &m, 0, NULL);

	/* Unchanged: nothing to send. */
	assert_string_equal(cmd(h, id, "HOST-UPDATE\t10.0.0.2\t30\n"), "OK\n");
	dp_none(h);
	assert_true(pm_controller_dp_ready(h->c));
	harness_free(h);
}

static void
test_controller_host_change_without_dp_reaches_it_in_full_state(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h), g;
	char hosts[256];

	(void)state;
	assert_string_equal(cmd(h, id, "HOST-SET\t10.0.0.5\t5\n"), "OK\n");
	assert_string_equal(cmd(h, id, "HOST-DOWN\t10.0.0.1\n"), "OK\n");
	dp_connect(h, 0, hosts, sizeof(hosts), &g);
	assert_int_equal(g, 3);
	assert_string_equal(hosts, "10.0.0.1/100/D/ 10.0.0.5/5/U/");
	harness_free(h);
}

static void
test_controller_host_list_merges_dp_user_counts(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.3", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_host e;
	uint8_t buf[PM_CTLMSG_MAX];
	int n;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "HOST-LIST\n"), "");
	dp_expect(h, &m, PM_CTLMSG_HOST_LIST);
	/* Two parts: .1 has 5 users, then (last) .3 has 7. */
	memset(&e, 0, sizeof(e));
	e.addr = ip("10.0.0.1");
	e.vhosts = 100;
	e.user_count = 5;
	pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_HOST_LIST_PART, m.request_id, 7);
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &e), 0);
	n = pm_ctlmsg_chunk_finish(&w, false);
	pm_controller_dp_input(h->c, buf, (size_t)n);
	assert_string_equal(take(h, id), "");
	e.addr = ip("10.0.0.3");
	e.user_count = 7;
	pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_HOST_LIST_PART, m.request_id, 7);
	assert_int_equal(pm_ctlmsg_chunk_add_host(&w, &e), 0);
	n = pm_ctlmsg_chunk_finish(&w, true);
	pm_controller_dp_input(h->c, buf, (size_t)n);
	assert_string_equal(take(h, id),
			    "10.0.0.1\t100\t5\t\tU\t0\n"
			    "10.0.0.2\t100\t0\t\tU\t0\n"
			    "10.0.0.3\t100\t7\t\tU\t0\n\n");
	/* A failed HOST_LIST: the state without counts. */
	assert_string_equal(cmd(h, id, "HOST-LIST\n"), "");
	dp_expect(h, &m, PM_CTLMSG_HOST_LIST);
	dp_reply(h, &m, -EIO, "busy");
	assert_string_equal(take(h, id),
			    "10.0.0.1\t100\t0\t\tU\t0\n"
			    "10.0.0.2\t100\t0\t\tU\t0\n"
			    "10.0.0.3\t100\t0\t\tU\t0\n\n");
	harness_free(h);
}

static void
test_controller_flush_and_reset_users(void **state)
{
	struct h *h = harness("10.0.0.1 10.0.0.2", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m, r;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "HOST-FLUSH\t10.0.0.2\n"), "");
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	assert_string_equal(ipfmt(&m.u.host_flush.addr), "10.0.0.2");
	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, m.request_id, 1);
	r.u.reply.req_type = PM_CTLMSG_HOST_FLUSH;
	r.u.reply.body.host_flush.forgotten = 12;
	dp_feed(h, &r);
	assert_string_equal(take(h, id), "OK\n");
	assert_true(logged(h, "HOST-FLUSH 10.0.0.2: 12 users forgotten"));

	assert_string_equal(cmd(h, id, "HOST-FLUSH\n"), "");
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	assert_int_equal(m.u.host_flush.addr.family, PM_AF_NONE);
	r.request_id = m.request_id;
	r.u.reply.body.host_flush.forgotten = 3;
	dp_feed(h, &r);
	assert_string_equal(take(h, id), "OK\n");
	assert_true(logged(h, "Flushed all backend hosts with 3 users"));

	assert_string_equal(cmd(h, id, "HOST-RESET-USERS\t\t50\n"), "");
	dp_expect(h, &m, PM_CTLMSG_RESET_USERS);
	assert_int_equal(m.u.reset_users.addr.family, PM_AF_NONE);
	assert_int_equal(m.u.reset_users.max_parallel, 50);
	dp_reply(h, &m, 0, NULL);
	assert_string_equal(take(h, id), "OK\n");

	/* The data plane forgot the host meanwhile: its NOTFOUND passes. */
	assert_string_equal(cmd(h, id, "HOST-RESET-USERS\t10.0.0.1\n"), "");
	dp_expect(h, &m, PM_CTLMSG_RESET_USERS);
	assert_int_equal(m.u.reset_users.max_parallel, 0);
	dp_reply(h, &m, -ENOENT, "no such host");
	assert_string_equal(take(h, id), "NOTFOUND\n");
	harness_free(h);
}

/* HOST-RESET-USERS' OK is deferred; other clients are answered meanwhile,
 * and the same client's next command waits for it. */
static void
test_controller_reset_users_deferred_reply(void **state)
{
	struct h *h = harness("10.0.0.1 10.0.0.2", NULL);
	uint64_t a = client(h), b = client(h);
	struct pm_ctlmsg reset, move;

	(void)state;
	dp_up(h);
	send_str(h, a, "HOST-RESET-USERS\t10.0.0.1\nUSER-KICK\tbob\n");
	dp_expect(h, &reset, PM_CTLMSG_RESET_USERS);
	dp_none(h);	/* the kick waits behind the reset */
	assert_string_equal(cmd(h, b, "USER-MOVE\t617210206\t10.0.0.2\n"), "");
	dp_expect(h, &move, PM_CTLMSG_USER_MOVE);
	assert_int_equal(move.u.user_move.user_hash, USER1_HASH);
	dp_reply(h, &move, 0, NULL);
	assert_string_equal(take(h, b), "OK\n");
	assert_string_equal(take(h, a), "");
	dp_reply(h, &reset, 0, NULL);
	assert_string_equal(take(h, a), "OK\n");
	dp_expect(h, &move, PM_CTLMSG_USER_KICK);
	assert_string_equal(move.u.user_kick.user, "bob");
	dp_reply(h, &move, 0, NULL);
	assert_string_equal(take(h, a), "OK\n");
	harness_free(h);
}

static void
test_controller_user_lookup(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.5", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m, r;

	(void)state;
	dp_up(h);
	/* user1: no pin; hashed and initial are 10.0.0.3 (spec 7.2, 7.8). */
	assert_string_equal(cmd(h, id, "USER-LOOKUP\tuser1\t\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	assert_int_equal(m.u.user_lookup.user_hash, USER1_HASH);
	assert_string_equal(m.u.user_lookup.tag, "");
	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, m.request_id, 1);
	r.u.reply.req_type = PM_CTLMSG_USER_LOOKUP;
	r.u.reply.body.user_lookup.hashed = ip("10.0.0.3");
	dp_feed(h, &r);
	assert_string_equal(take(h, id), "\t0\t10.0.0.3\t10.0.0.3\n");

	/* A numeric argument is the hash; a pinned user has cur and expiry. */
	assert_string_equal(cmd(h, id, "USER-LOOKUP\t617210206\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	assert_int_equal(m.u.user_lookup.user_hash, USER1_HASH);
	r.request_id = m.request_id;
	r.u.reply.body.user_lookup.cur = ip("10.0.0.5");
	r.u.reply.body.user_lookup.expire_s = 1700000900;
	r.u.reply.body.user_lookup.hashed = ip("10.0.0.4");
	dp_feed(h, &r);
	assert_string_equal(take(h, id), "10.0.0.5\t1700000900\t10.0.0.4\t10.0.0.3\n");

	/* An unknown tag: nothing anywhere. */
	assert_string_equal(cmd(h, id, "USER-LOOKUP\tuser1\tnosuchtag\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	assert_string_equal(m.u.user_lookup.tag, "nosuchtag");
	dp_reply(h, &m, -ENOENT, "no such tag");
	assert_string_equal(take(h, id), "\t0\t\t\n");
	harness_free(h);
}

static void
test_controller_user_hash_ignores_master_separator(void **state)
{
	struct h *h = harness("10.0.0.1", "auth_master_user_separator = *\n");
	uint64_t id = client(h);
	struct pm_ctlmsg m;
	struct pm_userhash_fmt f;

	(void)state;
	dp_up(h);
	/* Dovecot's admin commands hash the whole argument (no cut). */
	assert_int_equal(pm_userhash_compile(&f, "%Lu", '\0', NULL, 0), 0);
	assert_string_equal(cmd(h, id, "USER-LOOKUP\tuser1*master\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	assert_int_equal(m.u.user_lookup.user_hash, pm_userhash(&f, "user1*master", 12));
	assert_int_not_equal(m.u.user_lookup.user_hash, USER1_HASH);
	harness_free(h);
}

static void
test_controller_user_list_parts_stream(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.2", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_user u;
	uint8_t buf[PM_CTLMSG_MAX];
	int n;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "USER-LIST\t10.0.0.2\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LIST);
	assert_string_equal(ipfmt(&m.u.user_list.addr), "10.0.0.2");
	memset(&u, 0, sizeof(u));
	u.user_hash = 11;
	u.expire_s = 1700000100;
	u.addr = ip("10.0.0.2");
	pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART, m.request_id, 1);
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), 0);
	u.user_hash = 22;
	assert_int_equal(pm_ctlmsg_chunk_add_user(&w, &u), 0);
	n = pm_ctlmsg_chunk_finish(&w, false);
	pm_controller_dp_input(h->c, buf, (size_t)n);
	assert_string_equal(take(h, id),
			    "11\t1700000100\t10.0.0.2\n22\t1700000100\t10.0.0.2\n");
	pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART, m.request_id, 1);
	n = pm_ctlmsg_chunk_finish(&w, true);
	pm_controller_dp_input(h->c, buf, (size_t)n);
	assert_string_equal(take(h, id), "\n");

	/* Every host; an empty list. */
	assert_string_equal(cmd(h, id, "USER-LIST\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LIST);
	assert_int_equal(m.u.user_list.addr.family, PM_AF_NONE);
	pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART, m.request_id, 1);
	n = pm_ctlmsg_chunk_finish(&w, true);
	pm_controller_dp_input(h->c, buf, (size_t)n);
	assert_string_equal(take(h, id), "\n");
	harness_free(h);
}

static void
test_controller_user_move_and_kicks(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.2", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "USER-MOVE\tuser1\t10.0.0.2\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_MOVE);
	assert_int_equal(m.u.user_move.user_hash, USER1_HASH);
	assert_string_equal(ipfmt(&m.u.user_move.addr), "10.0.0.2");
	dp_reply(h, &m, 0, NULL);
	assert_string_equal(take(h, id), "OK\n");
	assert_string_equal(cmd(h, id, "USER-MOVE\tuser1\t10.0.0.1\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_MOVE);
	dp_reply(h, &m, -EAGAIN, "being moved");
	assert_string_equal(take(h, id), "TRYAGAIN\n");

	assert_string_equal(cmd(h, id, "USER-KICK\t\n"), "");	/* "" is kicked (lab) */
	dp_expect(h, &m, PM_CTLMSG_USER_KICK);
	assert_string_equal(m.u.user_kick.user, "");
	dp_reply(h, &m, 0, NULL);
	assert_string_equal(take(h, id), "OK\n");
	assert_string_equal(cmd(h, id, "USER-KICK-ALT\tuser_group\tstaff\tnowait\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_KICK_ALT);
	assert_string_equal(m.u.user_kick_alt.field, "user_group");
	assert_string_equal(m.u.user_kick_alt.value, "staff");
	dp_reply(h, &m, -EAGAIN, "too many kicks");
	assert_string_equal(take(h, id), "TRYAGAIN\n");
	/* Any other failure: its reason as the error line. */
	assert_string_equal(cmd(h, id, "USER-KICK\tbob\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_KICK);
	dp_reply(h, &m, -EIO, "kick\tfailed");
	assert_string_equal(take(h, id), "kick?failed\n");
	harness_free(h);
}

static void
assign_answer(struct h *h, const struct pm_ctlmsg *req, uint8_t result, const char *addr)
{
	struct pm_ctlmsg r;

	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, req->request_id, 1);
	r.u.reply.req_type = PM_CTLMSG_USER_ASSIGN;
	r.u.reply.body.user_assign.result = result;
	if (addr != NULL) {
		r.u.reply.body.user_assign.addr = ip(addr);
		r.u.reply.body.user_assign.expire_s = 1700000900;
	}
	dp_feed(h, &r);
}

static void
test_controller_user_assign(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.2 10.0.1.1@tagA", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;
	uint64_t t;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "USER-ASSIGN\tuser1\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_ASSIGN);
	assert_string_equal(m.u.user_assign.user, "user1");
	assert_string_equal(m.u.user_assign.tag, "");
	assign_answer(h, &m, PM_CTLMSG_ASSIGN_HASHED, "10.0.0.2");
	assert_string_equal(take(h, id), "10.0.0.2\n");

	assert_string_equal(cmd(h, id, "USER-ASSIGN\tUser1\ttagA\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_ASSIGN);
	assert_string_equal(m.u.user_assign.tag, "tagA");
	assign_answer(h, &m, PM_CTLMSG_ASSIGN_NOHOST, NULL);
	assert_string_equal(take(h, id), "NOTFOUND\n");

	/* Being moved: held and retried every kick delay (2 s), as a login. */
	assert_string_equal(cmd(h, id, "USER-ASSIGN\tuser1\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_ASSIGN);
	assign_answer(h, &m, PM_CTLMSG_ASSIGN_WAIT, NULL);
	dp_none(h);
	tick_at(h, T0 + 1999);
	dp_none(h);
	tick_at(h, T0 + 2000);
	dp_expect(h, &m, PM_CTLMSG_USER_ASSIGN);
	assign_answer(h, &m, PM_CTLMSG_ASSIGN_PINNED, "10.0.0.1");
	assert_string_equal(take(h, id), "10.0.0.1\n");

	/* Still moving after 30 s: TRYAGAIN. */
	t = h->now;
	assert_string_equal(cmd(h, id, "USER-ASSIGN\tuser1\n"), "");
	for (;;) {
		dp_expect(h, &m, PM_CTLMSG_USER_ASSIGN);
		assign_answer(h, &m, PM_CTLMSG_ASSIGN_WAIT, NULL);
		if (strcmp(take(h, id), "") != 0)
			break;
		tick_at(h, h->now + 2000);
		assert_true(h->now <= t + PM_CONTROLLER_WAIT_MS + 2000);
	}
	assert_string_equal(h->out, "TRYAGAIN\n");
	assert_true(h->now >= t + PM_CONTROLLER_WAIT_MS);
	harness_free(h);
}

/* ---- pipelining and order ------------------------------------------------------ */

/* poolmon's DOWN+FLUSH in one write: both run (Dovecot on a ring loses the
 * FLUSH), in order, at every split of the input. */
static void
test_controller_pipelined_commands_all_run_in_order(void **state)
{
	static const char in[] = "HOST-DOWN\t10.0.0.1\nHOST-FLUSH\t10.0.0.1\nHOST-LIST\n";
	size_t step;

	(void)state;
	for (step = 1; step <= sizeof(in) - 1; step++) {
		struct h *h = harness("10.0.0.1 10.0.0.2", NULL);
		uint64_t id = client(h);
		struct pm_ctlmsg m;
		size_t off;

		dp_up(h);
		for (off = 0; off < sizeof(in) - 1; off += step) {
			size_t n = sizeof(in) - 1 - off < step ? sizeof(in) - 1 - off : step;

			pm_controller_client_input(h->c, id, in + off, n);
		}
		assert_string_equal(take(h, id), "OK\n");
		dp_expect(h, &m, PM_CTLMSG_HOST_UPDOWN);
		dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
		dp_none(h);	/* HOST-LIST waits for the flush's answer */
		dp_reply(h, &m, 0, NULL);
		assert_string_equal(take(h, id), "OK\n");
		dp_expect(h, &m, PM_CTLMSG_HOST_LIST);
		dp_reply(h, &m, -EIO, "x");
		assert_string_equal(take(h, id),
				    "10.0.0.1\t100\t0\t\tD\t1700000000\n"
				    "10.0.0.2\t100\t0\t\tU\t0\n\n");
		harness_free(h);
	}
}

/* Commands waiting for a data plane run when one arrives, in order. */
static void
test_controller_waiting_commands_run_when_dp_arrives(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;

	(void)state;
	send_str(h, id, "HOST-FLUSH\t10.0.0.1\nUSER-KICK\tbob\n");
	tick_at(h, T0 + 29000);
	assert_string_equal(take(h, id), "");
	dp_up(h);
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	dp_none(h);
	dp_reply(h, &m, 0, NULL);
	dp_expect(h, &m, PM_CTLMSG_USER_KICK);
	dp_reply(h, &m, 0, NULL);
	assert_string_equal(take(h, id), "OK\nOK\n");
	tick_at(h, T0 + 60000);
	assert_string_equal(take(h, id), "");
	harness_free(h);
}

/* ---- closing clients ----------------------------------------------------------- */

static void
test_controller_bad_input_closes_only_that_client(void **state)
{
	static const char *const bad[] = {
		"HOST-FOO\n", "\n", "HOST-UPDATE\t10.0.0.1\n", "host-list\n",
		"VERSION\tdirector-doveadm\t2\t0\n", "POSTMUX-COUNTERS\tbad prefix\n",
		"POSTMUX-COUNTERS\tdirector.\tx\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		struct h *h = harness("10.0.0.1", NULL);
		uint64_t good = client(h), evil;
		char longline[1100];

		if (i == sizeof(bad) / sizeof(bad[0])) {
			/* 1024 bytes before the LF: over Dovecot's buffer. */
			evil = client(h);
			memset(longline, 'A', 1024);
			strcpy(longline + 1024, "\n");
			send_str(h, evil, "HOST-LIST\n");
			send_str(h, evil, longline);
		} else if (strncmp(bad[i], "VERSION", 7) == 0) {
			assert_int_equal(pm_controller_client_open(h->c, &evil), 0);
			take(h, evil);
			send_str(h, evil, bad[i]);
		} else {
			evil = client(h);
			send_str(h, evil, "HOST-LIST\n");
			send_str(h, evil, bad[i]);
		}
		/* Answers before the bad line are still written, then close. */
		assert_false(pm_controller_client_wants_input(h->c, evil));
		take(h, evil);
		assert_true(pm_controller_client_should_close(h->c, evil));
		assert_true(logged(h, "doveadm "));
		pm_controller_client_gone(h->c, evil);
		assert_string_equal(cmd(h, good, "HOST-LIST\n"), "10.0.0.1\t100\t0\t\tU\t0\n\n");
		assert_int_equal(pm_controller_client_count(h->c), 1);
		harness_free(h);
	}
}

static void
test_controller_eof_runs_pipelined_commands_then_closes(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	send_str(h, id, "HOST-DOWN\t10.0.0.1\nHOST-FLUSH\t10.0.0.1\n");
	pm_controller_client_eof(h->c, id);
	assert_false(pm_controller_client_should_close(h->c, id));
	dp_expect(h, &m, PM_CTLMSG_HOST_UPDOWN);
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	dp_reply(h, &m, 0, NULL);
	assert_string_equal(take(h, id), "OK\nOK\n");
	assert_true(pm_controller_client_should_close(h->c, id));
	harness_free(h);
}

static void
test_controller_hangup_still_runs_sent_commands(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;
	const void *d;

	(void)state;
	dp_up(h);
	send_str(h, id, "HOST-DOWN\t10.0.0.1\nHOST-FLUSH\t10.0.0.1\n");
	pm_controller_client_hangup(h->c, id);
	assert_int_equal(pm_controller_client_output(h->c, id, &d), 0);
	assert_false(pm_controller_client_should_close(h->c, id));
	dp_expect(h, &m, PM_CTLMSG_HOST_UPDOWN);
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	dp_reply(h, &m, 0, NULL);
	assert_true(pm_controller_client_should_close(h->c, id));
	assert_true(pm_controller_state(h->c)->hosts[0].down);
	harness_free(h);
}

/* A client gone while its request is in flight: the answer is dropped. */
static void
test_controller_answer_for_gone_client_is_dropped(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h), other = client(h);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	send_str(h, id, "HOST-RESET-USERS\t10.0.0.1\n");
	dp_expect(h, &m, PM_CTLMSG_RESET_USERS);
	pm_controller_client_gone(h->c, id);
	dp_reply(h, &m, 0, NULL);
	assert_true(pm_controller_dp_ready(h->c));
	assert_true(logged(h, "client gone"));
	assert_string_equal(cmd(h, other, "DIRECTOR-ADD\t127.0.0.1\n"), "OK\n");
	harness_free(h);
}

/* A client that does not read: its further commands wait, and after 10 s
 * without progress over 16 MiB it is closed. */
static void
test_controller_client_not_reading_is_closed(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.9", NULL);
	uint64_t id = client(h), other = client(h);
	const size_t per = strlen("HOST-LIST\n");
	size_t i, count = PM_CONTROLLER_OUT_SOFT / 150;	/* 181 bytes each */
	char *in = malloc(count * per);
	const void *d;

	(void)state;
	assert_non_null(in);
	for (i = 0; i < count; i++)
		memcpy(in + i * per, "HOST-LIST\n", per);
	pm_controller_client_input(h->c, id, in, count * per);
	free(in);
	assert_true(pm_controller_client_output(h->c, id, &d) > PM_CONTROLLER_OUT_SOFT);
	assert_true(pm_controller_client_output(h->c, id, &d) < PM_CONTROLLER_OUT_SOFT + 4096);
	assert_false(pm_controller_client_wants_input(h->c, id));
	tick_at(h, T0 + PM_CONTROLLER_OUT_STALL_MS - 1);
	assert_false(pm_controller_client_should_close(h->c, id));
	tick_at(h, T0 + PM_CONTROLLER_OUT_STALL_MS);
	assert_true(pm_controller_client_should_close(h->c, id));
	assert_true(logged(h, "does not read"));
	assert_string_equal(cmd(h, other, "DIRECTOR-ADD\t127.0.0.1\n"), "OK\n");
	harness_free(h);
}

/* ---- the control channel ------------------------------------------------------- */

static void
test_controller_second_dp_is_refused_busy(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	uint8_t refuse[512];
	size_t len;
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &len), -EBUSY);
	assert_true(len > 0);
	assert_int_equal(pm_ctlmsg_decode(&m, refuse, len), 0);
	assert_int_equal(m.type, PM_CTLMSG_ERROR);
	assert_int_equal(m.u.error.code, PM_CTLMSG_ERR_BUSY);
	assert_string_equal(m.u.error.reason, "another data plane is connected");
	/* The first one is untouched. */
	dp_none(h);
	assert_true(pm_controller_dp_ready(h->c));
	assert_false(pm_controller_dp_should_close(h->c));
	assert_string_equal(cmd(h, id, "USER-KICK\tx\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_KICK);
	harness_free(h);
}

static void
test_controller_malformed_datagram_closes_dp(void **state)
{
	static const uint8_t junk[40] = "not a datagram at all";
	struct h *h = harness("10.0.0.1", NULL);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	pm_controller_dp_input(h->c, junk, sizeof(junk));
	dp_expect(h, &m, PM_CTLMSG_ERROR);
	assert_int_equal(m.u.error.code, PM_CTLMSG_ERR_MALFORMED);
	assert_string_equal(m.u.error.reason, "bad magic");
	assert_true(pm_controller_dp_should_close(h->c));
	assert_false(pm_controller_dp_ready(h->c));
	pm_controller_dp_closed(h->c, "closed");
	assert_false(pm_controller_dp_connected(h->c));
	/* A new data plane may connect. */
	dp_up(h);
	harness_free(h);
}

static void
test_controller_unexpected_answers_close_dp(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	struct pm_ctlmsg m, r;

	(void)state;
	/* An answer nobody waits for. */
	dp_up(h);
	pm_ctlmsg_init(&r, PM_CTLMSG_PONG, 12345, 1);
	dp_feed(h, &r);
	dp_expect(h, &m, PM_CTLMSG_ERROR);
	assert_int_equal(m.u.error.code, PM_CTLMSG_ERR_UNEXPECTED);
	assert_int_equal(m.request_id, 12345);
	assert_true(pm_controller_dp_should_close(h->c));
	pm_controller_dp_closed(h->c, "x");

	/* Anything but HELLO_ACK before HELLO_ACK. */
	{
		uint8_t refuse[512];
		size_t len;

		assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &len), 0);
		dp_expect(h, &m, PM_CTLMSG_HELLO);
		pm_ctlmsg_init(&r, PM_CTLMSG_PONG, m.request_id, 0);
		dp_feed(h, &r);
		dp_expect(h, &m, PM_CTLMSG_ERROR);
		assert_int_equal(m.u.error.code, PM_CTLMSG_ERR_UNEXPECTED);
		pm_controller_dp_closed(h->c, "x");
	}

	/* A REPLY whose req_type does not match the request. */
	dp_up(h);
	{
		uint64_t id = client(h);

		assert_string_equal(cmd(h, id, "USER-KICK\tbob\n"), "");
		dp_expect(h, &m, PM_CTLMSG_USER_KICK);
		m.type = PM_CTLMSG_USER_MOVE;
		dp_reply(h, &m, 0, NULL);
		dp_expect(h, &m, PM_CTLMSG_ERROR);
		assert_true(pm_controller_dp_should_close(h->c));
		/* The kick's outcome is unknown now. */
		pm_controller_dp_closed(h->c, "x");
		assert_string_equal(take(h, id), "data plane disconnected - result unknown\n");
	}
	harness_free(h);
}

static void
test_controller_dp_version_mismatch_is_refused(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	struct pm_ctlmsg m, ack;
	uint8_t refuse[512];
	size_t len;

	(void)state;
	assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &len), 0);
	dp_expect(h, &m, PM_CTLMSG_HELLO);
	pm_ctlmsg_init(&ack, PM_CTLMSG_HELLO_ACK, m.request_id, 0);
	ack.u.hello_ack.version = 2;
	dp_feed(h, &ack);
	dp_expect(h, &m, PM_CTLMSG_ERROR);
	assert_int_equal(m.u.error.code, PM_CTLMSG_ERR_VERSION);
	assert_true(pm_controller_dp_should_close(h->c));
	harness_free(h);
}

static void
test_controller_dp_error_message_closes(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	struct pm_ctlmsg r;

	(void)state;
	dp_up(h);
	pm_ctlmsg_init(&r, PM_CTLMSG_ERROR, 0, 1);
	r.u.error.code = PM_CTLMSG_ERR_INTERNAL;
	strcpy(r.u.error.reason, "ctl thread died");
	dp_feed(h, &r);
	dp_none(h);	/* no ERROR back to an ERROR */
	assert_true(pm_controller_dp_should_close(h->c));
	assert_true(logged(h, "ctl thread died"));
	harness_free(h);
}

static void
test_controller_ping_after_idle_and_close_on_silence(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	struct pm_ctlmsg m, r;

	(void)state;
	dp_up(h);
	tick_at(h, T0 + PM_CONTROLLER_PING_IDLE_MS - 1);
	dp_none(h);
	tick_at(h, T0 + PM_CONTROLLER_PING_IDLE_MS);
	dp_expect(h, &m, PM_CTLMSG_PING);
	pm_ctlmsg_init(&r, PM_CTLMSG_PONG, m.request_id, 1);
	dp_feed(h, &r);
	assert_false(pm_controller_dp_should_close(h->c));
	/* Next PING 10 s after the PONG; no answer for 30 s closes. */
	tick_at(h, T0 + 2 * PM_CONTROLLER_PING_IDLE_MS);
	dp_expect(h, &m, PM_CTLMSG_PING);
	tick_at(h, T0 + 2 * PM_CONTROLLER_PING_IDLE_MS + PM_CONTROLLER_PING_TIMEOUT_MS - 1);
	assert_false(pm_controller_dp_should_close(h->c));
	tick_at(h, T0 + 2 * PM_CONTROLLER_PING_IDLE_MS + PM_CONTROLLER_PING_TIMEOUT_MS);
	assert_true(pm_controller_dp_should_close(h->c));
	assert_true(logged(h, "stuck"));
	harness_free(h);
}

static void
test_controller_hello_ack_timeout_closes(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint8_t refuse[512];
	size_t len;

	(void)state;
	assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &len), 0);
	tick_at(h, T0 + PM_CONTROLLER_HELLO_TIMEOUT_MS - 1);
	assert_false(pm_controller_dp_should_close(h->c));
	tick_at(h, T0 + PM_CONTROLLER_HELLO_TIMEOUT_MS);
	assert_true(pm_controller_dp_should_close(h->c));
	harness_free(h);
}

/* In-flight reads are asked again of the next data plane; flushes, moves
 * and kicks are not repeated (control-channel.md, "Restarts"). */
static void
test_controller_dp_loss_requeues_reads_fails_writes(void **state)
{
	struct h *h = harness("10.0.0.1-10.0.0.5", NULL);
	uint64_t a = client(h), b = client(h), c2 = client(h);
	struct pm_ctlmsg m, r;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, a, "USER-LOOKUP\tuser1\n"), "");
	assert_string_equal(cmd(h, b, "HOST-FLUSH\t10.0.0.1\n"), "");
	assert_string_equal(cmd(h, c2, "HOST-LIST\n"), "");
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	dp_expect(h, &m, PM_CTLMSG_HOST_LIST);
	pm_controller_dp_closed(h->c, "EOF");
	assert_string_equal(take(h, a), "");
	assert_string_equal(take(h, b), "data plane disconnected - result unknown\n");
	assert_string_equal(take(h, c2), "10.0.0.1\t100\t0\t\tU\t0\n10.0.0.2\t100\t0\t\tU\t0\n"
					 "10.0.0.3\t100\t0\t\tU\t0\n10.0.0.4\t100\t0\t\tU\t0\n"
					 "10.0.0.5\t100\t0\t\tU\t0\n\n");
	tick_at(h, T0 + 1000);
	dp_up(h);
	dp_expect(h, &m, PM_CTLMSG_USER_LOOKUP);
	/* Ids restart per connection: HELLO 1, STATE_COMMIT 2, then this. */
	assert_int_equal(m.request_id, 3);
	pm_ctlmsg_init(&r, PM_CTLMSG_REPLY, m.request_id, 1);
	r.u.reply.req_type = PM_CTLMSG_USER_LOOKUP;
	r.u.reply.body.user_lookup.hashed = ip("10.0.0.3");
	dp_feed(h, &r);
	assert_string_equal(take(h, a), "\t0\t10.0.0.3\t10.0.0.3\n");
	harness_free(h);
}

static void
test_controller_request_ids_match_out_of_order(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t a = client(h), b = client(h);
	struct pm_ctlmsg ma, mb;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, a, "USER-KICK\talice\n"), "");
	assert_string_equal(cmd(h, b, "USER-KICK\tbob\n"), "");
	dp_expect(h, &ma, PM_CTLMSG_USER_KICK);
	dp_expect(h, &mb, PM_CTLMSG_USER_KICK);
	assert_true(mb.request_id > ma.request_id);
	dp_reply(h, &mb, -EAGAIN, NULL);
	assert_string_equal(take(h, b), "TRYAGAIN\n");
	assert_string_equal(take(h, a), "");
	dp_reply(h, &ma, 0, NULL);
	assert_string_equal(take(h, a), "OK\n");
	harness_free(h);
}

/* ---- tests: POSTMUX-COUNTERS ------------------------------------------------------ */

/* A COUNTERS_PART answering @req with @n counters from @names/@values. */
static void
dp_counters_part(struct h *h, const struct pm_ctlmsg *req, const char *const *names,
		 const uint64_t *values, size_t n, bool last)
{
	struct pm_ctlmsg_writer w;
	struct pm_ctlmsg_counter k;
	uint8_t buf[PM_CTLMSG_MAX];
	size_t i;
	int len;

	assert_int_equal(pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_COUNTERS_PART,
					       req->request_id, 1), 0);
	for (i = 0; i < n; i++) {
		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "%s", names[i]);
		k.value = values[i];
		assert_int_equal(pm_ctlmsg_chunk_add_counter(&w, &k), 0);
	}
	len = pm_ctlmsg_chunk_finish(&w, last);
	assert_true(len > 0);
	pm_controller_dp_input(h->c, buf, (size_t)len);
}

/* Without a ready data plane the answer is immediate: counters are for
 * diagnosing, and a 30 s ring-sync wait would hide the cause. */
static void
test_controller_postmux_counters_without_dp_fails_at_once(void **state)
{
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	uint8_t refuse[512];
	struct pm_ctlmsg m;
	size_t len;

	(void)state;
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\nDIRECTOR-LIST\n"),
			    "data plane not connected\n\n"
			    "127.0.0.1\t0\tself\t0\tring synced\t0\n\n");
	assert_true(logged(h, "POSTMUX-COUNTERS: data plane not connected"));
	/* Connected, but HELLO_ACK has not come yet: the same. */
	assert_int_equal(pm_controller_dp_open(h->c, refuse, sizeof(refuse), &len), 0);
	dp_expect(h, &m, PM_CTLMSG_HELLO);
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\tctl.\n"),
			    "data plane not connected\n\n");
	dp_none(h);
	/* Nothing was left waiting for a data plane. */
	tick_at(h, T0 + PM_CONTROLLER_WAIT_MS);
	assert_string_equal(take(h, id), "");
	harness_free(h);
}

static void
test_controller_postmux_counters_streams_parts_with_prefix(void **state)
{
	static const char *const n1[] = { "director.pins", "ctl.received", "director.kicks" };
	static const uint64_t v1[] = { 1, 5, 0 };
	static const char *const n2[] = { "director.z", "lcore.0.rx" };
	static const uint64_t v2[] = { UINT64_MAX, 7 };
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m;

	(void)state;
	dp_up(h);
	/* Every counter, in the data plane's order, over two parts; the
	 * pipelined command waits for the end of the list. */
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\nDIRECTOR-LIST\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	assert_int_equal(m.generation, 0);
	dp_counters_part(h, &m, n1, v1, 3, false);
	assert_string_equal(take(h, id), "director.pins\t1\nctl.received\t5\ndirector.kicks\t0\n");
	dp_counters_part(h, &m, n2, v2, 2, true);
	assert_string_equal(take(h, id), "director.z\t18446744073709551615\nlcore.0.rx\t7\n\n"
					 "127.0.0.1\t0\tself\t0\tring synced\t0\n\n");
	/* A prefix keeps only the names that start with it. */
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\tdirector.\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	dp_counters_part(h, &m, n1, v1, 3, false);
	dp_counters_part(h, &m, n2, v2, 2, true);
	assert_string_equal(take(h, id), "director.pins\t1\ndirector.kicks\t0\n"
					 "director.z\t18446744073709551615\n\n");
	/* No match: just the end line. */
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\tnone\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	dp_counters_part(h, &m, n1, v1, 3, true);
	assert_string_equal(take(h, id), "\n");
	/* The data plane cannot list them: the error line, then the end. */
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	dp_reply(h, &m, -ENOMEM, "out of memory listing counters");
	assert_string_equal(take(h, id), "out of memory\n\n");
	dp_none(h);
	harness_free(h);
}

static void
test_controller_postmux_counters_dp_loss_is_not_retried(void **state)
{
	static const char *const n1[] = { "director.pins" };
	static const uint64_t v1[] = { 3 };
	struct h *h = harness("10.0.0.1", NULL);
	uint64_t id = client(h);
	struct pm_ctlmsg m, r;

	(void)state;
	dp_up(h);
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	dp_counters_part(h, &m, n1, v1, 1, false);
	pm_controller_dp_closed(h->c, "EOF");
	assert_string_equal(take(h, id), "director.pins\t3\ndata plane disconnected\n\n");
	dp_up(h);
	dp_none(h);
	/* Before any part, too. */
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	pm_controller_dp_closed(h->c, "EOF");
	assert_string_equal(take(h, id), "data plane disconnected\n\n");

	/* A COUNTERS_PART for another request, or another list for COUNTERS,
	 * is a protocol error. */
	dp_up(h);
	assert_string_equal(cmd(h, id, "HOST-FLUSH\n"), "");
	dp_expect(h, &m, PM_CTLMSG_HOST_FLUSH);
	dp_counters_part(h, &m, n1, v1, 1, true);
	dp_expect(h, &r, PM_CTLMSG_ERROR);
	assert_int_equal(r.u.error.code, PM_CTLMSG_ERR_UNEXPECTED);
	assert_non_null(strstr(r.u.error.reason, "not a COUNTERS request"));
	pm_controller_dp_closed(h->c, "x");
	assert_string_equal(take(h, id), "data plane disconnected - result unknown\n");
	dp_up(h);
	assert_string_equal(cmd(h, id, "POSTMUX-COUNTERS\n"), "");
	dp_expect(h, &m, PM_CTLMSG_COUNTERS);
	{
		struct pm_ctlmsg_writer w;
		uint8_t buf[128];
		int len;

		pm_ctlmsg_chunk_begin(&w, buf, sizeof(buf), PM_CTLMSG_USER_LIST_PART,
				      m.request_id, 1);
		len = pm_ctlmsg_chunk_finish(&w, true);
		pm_controller_dp_input(h->c, buf, (size_t)len);
	}
	dp_expect(h, &r, PM_CTLMSG_ERROR);
	assert_non_null(strstr(r.u.error.reason, "not a USER_LIST request"));
	pm_controller_dp_closed(h->c, "x");
	assert_string_equal(take(h, id), "data plane disconnected\n\n");
	harness_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controller_banner_and_handshake_are_silent),
		cmocka_unit_test(test_controller_host_list_without_dp_lists_state),
		cmocka_unit_test(test_controller_host_set_saves_before_ok),
		cmocka_unit_test(test_controller_host_set_errors_are_dovecots),
		cmocka_unit_test(test_controller_host_updown_remove),
		cmocka_unit_test(test_controller_failed_save_undoes_the_change),
		cmocka_unit_test(test_controller_director_commands_answer_as_standalone),
		cmocka_unit_test(test_controller_notfound_is_checked_before_waiting),
		cmocka_unit_test(test_controller_without_dp_commands_time_out),
		cmocka_unit_test(test_controller_without_dp_held_command_runs_next),
		cmocka_unit_test(test_controller_dp_handshake_sends_full_state),
		cmocka_unit_test(test_controller_dp_state_is_chunked),
		cmocka_unit_test(test_controller_dp_newer_generation_is_continued),
		cmocka_unit_test(test_controller_host_changes_go_to_dp_after_save),
		cmocka_unit_test(test_controller_host_change_without_dp_reaches_it_in_full_state),
		cmocka_unit_test(test_controller_host_list_merges_dp_user_counts),
		cmocka_unit_test(test_controller_flush_and_reset_users),
		cmocka_unit_test(test_controller_reset_users_deferred_reply),
		cmocka_unit_test(test_controller_user_lookup),
		cmocka_unit_test(test_controller_user_hash_ignores_master_separator),
		cmocka_unit_test(test_controller_user_list_parts_stream),
		cmocka_unit_test(test_controller_user_move_and_kicks),
		cmocka_unit_test(test_controller_user_assign),
		cmocka_unit_test(test_controller_pipelined_commands_all_run_in_order),
		cmocka_unit_test(test_controller_waiting_commands_run_when_dp_arrives),
		cmocka_unit_test(test_controller_bad_input_closes_only_that_client),
		cmocka_unit_test(test_controller_eof_runs_pipelined_commands_then_closes),
		cmocka_unit_test(test_controller_hangup_still_runs_sent_commands),
		cmocka_unit_test(test_controller_answer_for_gone_client_is_dropped),
		cmocka_unit_test(test_controller_client_not_reading_is_closed),
		cmocka_unit_test(test_controller_second_dp_is_refused_busy),
		cmocka_unit_test(test_controller_malformed_datagram_closes_dp),
		cmocka_unit_test(test_controller_unexpected_answers_close_dp),
		cmocka_unit_test(test_controller_dp_version_mismatch_is_refused),
		cmocka_unit_test(test_controller_dp_error_message_closes),
		cmocka_unit_test(test_controller_ping_after_idle_and_close_on_silence),
		cmocka_unit_test(test_controller_hello_ack_timeout_closes),
		cmocka_unit_test(test_controller_dp_loss_requeues_reads_fails_writes),
		cmocka_unit_test(test_controller_request_ids_match_out_of_order),
		cmocka_unit_test(test_controller_postmux_counters_without_dp_fails_at_once),
		cmocka_unit_test(test_controller_postmux_counters_streams_parts_with_prefix),
		cmocka_unit_test(test_controller_postmux_counters_dp_loss_is_not_retried),
	};

	return cmocka_run_group_tests_name("controller", tests, NULL, NULL);
}
