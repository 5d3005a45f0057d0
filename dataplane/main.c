/*
 * main.c -- postmux-dataplane: read the configuration, then run the ctl
 * loop (ctlsock.c) until SIGINT or SIGTERM.
 *
 * The process hosts the director core and serves it to postmux-control over
 * the control channel. The main thread is the ctl thread (the director's
 * writer, a QSBR thread). Without postmux_port lines that is all (no EAL);
 * with them, the main thread is also the EAL main lcore, and worker lcores
 * (port.c, worker.c) answer ARP and ping on the ports beside it.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "config.h"
#include "ctl.h"
#include "ctlsock.h"
#include "log.h"
#include "port.h"

#ifndef POSTMUX_VERSION
#define POSTMUX_VERSION "unknown"
#endif

#define DEFAULT_CONFIG "/etc/postmux/postmux.conf"

static void
usage(FILE *fp)
{
	fprintf(fp,
		"Usage: postmux-dataplane [-c FILE] [-d]\n"
		"\n"
		"The postmux data plane. It serves the director (backends, rings, user\n"
		"pins) to postmux-control over the control channel and, on the ports that\n"
		"postmux_port lines name (DPDK), answers ARP and ping for its addresses and\n"
		"VIPs, and proxies IMAP logins on the postmux_listener addresses to the\n"
		"users' backends, splicing each session once the backend accepts the login.\n"
		"Without postmux_port lines it opens no ports and does not start DPDK.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE  the configuration file (default " DEFAULT_CONFIG ").\n"
		"                     Used: postmux_control_socket (where to connect),\n"
		"                     postmux_expected_users, postmux_port, postmux_dpdk_args,\n"
		"                     postmux_lcores, postmux_vip, postmux_route,\n"
		"                     postmux_listener, postmux_sessions,\n"
		"                     postmux_prelogin_sessions, postmux_syn_backlog, hostname, the\n"
		"                     neighbour settings\n"
		"                     (postmux_neigh_*, postmux_arp_*); the director_*\n"
		"                     settings and auth_master_user_separator until\n"
		"                     postmux-control\n"
		"                     sends its state. director_mail_servers is checked but\n"
		"                     not used: the backends come from postmux-control.\n"
		"  -d, --debug        also log debug records (kicks, failed requests,\n"
		"                     repeated connection failures)\n"
		"  -h, --help         print this text and exit\n"
		"\n"
		"The data plane connects to postmux-control and reconnects whenever the\n"
		"connection is lost, keeping its pins. Logs go to stderr, one line per event.\n"
		"SIGINT or SIGTERM ends it with exit status 0; exit status 2 means a\n"
		"configuration error (the message names the file and line), 1 any other\n"
		"failure to start.\n");
}

struct main_ports {
	struct pm_ports *pp;
	struct pm_ctlsock *s;
};

/* COUNTERS (pm_ctl_counters_fn): the ports' and workers' counters after the
 * director's. Runs on the ctl thread, which is the main thread that owns
 * @arg, main()'s struct pm_ports pointer: the ports start after the ctl
 * loop is made (the workers need its director) and stop after it ran. */
static void
ports_counters(void *arg, pm_ctl_counter_emit_fn emit, void *emit_arg)
{
	struct pm_ports *pp = *(struct pm_ports **)arg;

	if (pp != NULL)
		pm_ports_counters(pp, emit, emit_arg);
}

/* The ctl loop's periodic work: the workers' pin requests (the ports are
 * started after the loop is made, see ports_counters()). */
static void
ports_periodic(void *arg, uint64_t now_ms)
{
	struct main_ports *mp = arg;

	if (mp->pp != NULL)
		pm_ports_pins(mp->pp, pm_ctl_director(pm_ctlsock_ctl(mp->s)), now_ms);
}

/* The director's kicks, for the workers' sessions. */
static void
ports_kick(void *arg, const struct pm_kick *k)
{
	struct main_ports *mp = arg;

	if (mp->pp != NULL)
		pm_ports_kick(mp->pp, pm_ctl_director(pm_ctlsock_ctl(mp->s)), k);
}

static void
make_boot_id(uint8_t *id, size_t len)
{
	struct timespec ts;
	size_t i;

	if (getrandom(id, len, 0) == (ssize_t)len)
		return;
	/* No entropy source: a boot id only has to differ between starts. */
	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < len; i++)
		id[i] = (uint8_t)((uint64_t)ts.tv_nsec >> (i % 4 * 8) ^ (uint64_t)ts.tv_sec >> i ^
				  (uint64_t)getpid() >> (i % 3 * 8));
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG;
	struct pm_ctlsock_params sp;
	struct signalfd_siginfo si;
	struct pm_ctlsock *s;
	struct pm_ports *pp = NULL;
	struct main_ports mp = { NULL, NULL };
	struct call_rcu_data *crd = NULL;
	struct pm_config cfg;
	char err[1024];
	sigset_t sigs;
	int opt, sfd, rc;
	uint64_t seed;

	while ((opt = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			pm_log_set_level(PM_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	pm_config_defaults(&cfg);
	if (pm_config_load(&cfg, config_path, err, sizeof(err)) < 0) {
		pm_log(PM_LOG_ERR, "%s", err);
		pm_config_free(&cfg);
		return 2;
	}

	/* Signals arrive through a signalfd that the loop polls; blocked
	 * here, before liburcu starts its threads, so no thread takes them.
	 * A shell's background job inherits SIGINT ignored; POSIX lets an
	 * ignored signal be discarded even while blocked (Linux keeps it
	 * pending), so restore the default before blocking. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		pm_log(PM_LOG_ERR, "signalfd: %s", strerror(errno));
		pm_config_free(&cfg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	memset(&sp, 0, sizeof(sp));
	sp.path = cfg.control_socket;
	sp.ctl.director = cfg.director;
	sp.ctl.pid = (uint32_t)getpid();
	make_boot_id(sp.ctl.boot_id, sizeof(sp.ctl.boot_id));
	if (cfg.nports > 0) {
		sp.ctl.counters = ports_counters;
		sp.ctl.counters_arg = &pp;
		sp.periodic = ports_periodic;
		sp.periodic_arg = &mp;
		sp.ctl.kick = ports_kick;
		sp.ctl.kick_arg = &mp;
	}
	memcpy(&seed, sp.ctl.boot_id, sizeof(seed));
	sp.seed = seed;

	urcu_qsbr_register_thread();
	s = pm_ctlsock_new(&sp);
	mp.s = s;
	if (s == NULL) {
		pm_log(PM_LOG_ERR, "cannot start: out of memory");
		urcu_qsbr_unregister_thread();
		close(sfd);
		pm_config_free(&cfg);
		return 1;
	}

	/* EAL after the signal mask: its threads and the worker lcores
	 * inherit it, so the signals still reach only the signalfd. The
	 * workers read the director that the ctl loop owns. */
	if (cfg.nports > 0) {
		pp = pm_ports_start(&cfg, argv[0], pm_ctl_director(pm_ctlsock_ctl(s)), err,
				    sizeof(err));
		if (pp == NULL) {
			pm_log(PM_LOG_ERR, "cannot start the ports: %s", err);
			pm_ctlsock_free(s);
			urcu_qsbr_barrier();
			urcu_qsbr_unregister_thread();
			close(sfd);
			pm_config_free(&cfg);
			return 1;
		}
		mp.pp = pp;
		/* EAL pinned this thread to the main lcore's CPU: the
		 * director's call_rcu callbacks run on a thread made here, so
		 * on that CPU too, off the workers' (STYLE.md 7). */
		crd = urcu_qsbr_create_call_rcu_data(0, sched_getcpu());
		if (crd != NULL)
			urcu_qsbr_set_thread_call_rcu_data(crd);
	}
	if (pp == NULL)
		pm_log(PM_LOG_INFO, "postmux-dataplane %s started (no network ports: director only); "
		       "control socket %s, configuration %s", POSTMUX_VERSION, cfg.control_socket,
		       config_path);
	else
		pm_log(PM_LOG_INFO, "postmux-dataplane %s started (%zu port(s), %u worker lcore(s)); "
		       "control socket %s, configuration %s", POSTMUX_VERSION, cfg.nports,
		       cfg.lcores, cfg.control_socket, config_path);

	rc = pm_ctlsock_run(s, sfd);
	if (rc == 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		pm_log(PM_LOG_INFO, "%s received; exiting", strsignal((int)si.ssi_signo));

	/* The workers first: they are QSBR readers and will read the
	 * director. */
	if (pp != NULL)
		pm_ports_stop(pp);
	/* Frees the director: waits for a grace period and for every
	 * pending call_rcu callback (urcu_qsbr_barrier()). */
	pm_ctlsock_free(s);
	urcu_qsbr_barrier();
	if (crd != NULL) {
		urcu_qsbr_set_thread_call_rcu_data(NULL);
		urcu_qsbr_call_rcu_data_free(crd);
	}
	urcu_qsbr_unregister_thread();
	close(sfd);
	pm_config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
