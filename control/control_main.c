/*
 * control_main.c -- postmux-control: start-up and shutdown.
 *
 * Reads the configuration, binds the sockets (so that a second instance
 * stops before it touches the state file), loads the persisted desired
 * state (or starts from the configuration) and writes it back at once, so
 * that an unwritable state file stops the start instead of the first admin
 * command; then hands the controller (controller.h) to the event loop
 * (loop.h) until SIGINT or SIGTERM.
 *
 * Exit status: 0 after SIGINT/SIGTERM; 1 when the daemon cannot run (state
 * file not writable, a socket in use, ...); 2 for a bad command line, a bad
 * configuration file ("file:line: reason" on stderr) or a damaged state file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "loop.h"
#include "state.h"

#define DEFAULT_CONFIG "/etc/postmux/postmux.conf"

static const char usage[] =
	"Usage: postmux-control [-v] [-c <config file>]\n"
	"\n"
	"The postmux control daemon: keeps the desired backend state (persisted in\n"
	"postmux_state_file), serves Dovecot's director admin protocol on\n"
	"postmux_admin_socket (doveadm director ... -a <socket>, postmuxctl) and the\n"
	"control channel to postmux-dataplane on postmux_control_socket. Logs go to\n"
	"stderr. Stops cleanly on SIGINT or SIGTERM.\n"
	"\n"
	"Options:\n"
	"  -c, --config <file>  configuration file (default " DEFAULT_CONFIG ")\n"
	"  -v, --verbose        also log debug events (every admin connection and command)\n"
	"  -h, --help           show this help and exit\n"
	"\n"
	"Exit status: 0 after SIGINT/SIGTERM; 1 if the daemon cannot run (sockets,\n"
	"state file not writable, another postmux-control running); 2 for a bad\n"
	"command line, configuration file or state file.\n";

/* The controller's save_state callback: write + fsync + rename. */
static int
save_state(void *arg, const struct pm_state *s, char *err, size_t errlen)
{
	const struct pm_config *cfg = arg;

	return pm_state_save(s, cfg, cfg->state_file, err, errlen);
}

static void
boot_id(uint8_t id[PM_CTLMSG_BOOT_ID_LEN])
{
	ssize_t n = getrandom(id, PM_CTLMSG_BOOT_ID_LEN, 0);

	/* Only a start marker for logs; a weaker value is harmless. */
	if (n != PM_CTLMSG_BOOT_ID_LEN) {
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

		memset(id, 0, PM_CTLMSG_BOOT_ID_LEN);
		memcpy(id, &t, sizeof(t));
	}
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	struct pm_controller_ops ops = { .save_state = save_state, .log = pm_loop_log_line };
	struct pm_controller *ctl = NULL;
	struct pm_loop *loop = NULL;
	struct pm_config cfg;
	struct pm_state st;
	uint8_t bid[PM_CTLMSG_BOOT_ID_LEN];
	char err[1024];
	bool from_file = true;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			pm_loop_log_verbose(true);
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			path = a + 9;
		} else {
			fprintf(stderr, "postmux-control: %s: %s\n\n%s", a,
				strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0
					? "needs a file name" : "unknown argument", usage);
			return 2;
		}
	}

	pm_config_defaults(&cfg);
	err[0] = '\0';
	if (pm_config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		pm_config_free(&cfg);
		return 2;
	}

	/* The sockets first: a second postmux-control stops here, before it
	 * touches the state file the running one owns. */
	rc = pm_loop_open(&loop, &cfg, err, sizeof(err));
	if (rc < 0) {
		pm_loop_log(PM_CONTROLLER_ERROR, "%s", err);
		pm_config_free(&cfg);
		return 1;
	}

	/* The desired state: the file merged with the configuration, or the
	 * configuration alone on a first start. Written back at once. */
	if (pm_loop_make_parents(cfg.state_file, err, sizeof(err)) < 0) {
		pm_loop_log(PM_CONTROLLER_ERROR, "%s", err);
		pm_loop_close(loop);
		pm_config_free(&cfg);
		return 1;
	}
	rc = pm_state_load(&st, cfg.state_file, &cfg, err, sizeof(err));
	if (rc == -ENOENT) {
		from_file = false;
		rc = pm_state_from_config(&st, &cfg);
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", strerror(-rc));
	}
	if (rc < 0) {
		pm_loop_log(PM_CONTROLLER_ERROR, "state: %s", err);
		pm_loop_close(loop);
		pm_config_free(&cfg);
		return 2;
	}
	if (pm_state_save(&st, &cfg, cfg.state_file, err, sizeof(err)) < 0) {
		pm_loop_log(PM_CONTROLLER_ERROR, "state file not writable: %s", err);
		pm_loop_close(loop);
		pm_state_free(&st);
		pm_config_free(&cfg);
		return 1;
	}
	pm_loop_log(PM_CONTROLLER_INFO, "%s: %zu backends, generation %llu (%s)", cfg.state_file,
		    st.n, (unsigned long long)st.generation,
		    from_file ? "state file merged with the configuration"
			      : "from the configuration");

	boot_id(bid);
	rc = pm_controller_new(&ctl, &cfg, &st, &ops, &cfg, (uint32_t)getpid(), bid, err,
			       sizeof(err));
	if (rc < 0) {
		pm_loop_log(PM_CONTROLLER_ERROR, "%s", err);
		pm_loop_close(loop);
		pm_state_free(&st);
		pm_config_free(&cfg);
		return 1;
	}
	rc = pm_loop_run(loop, ctl);
	pm_loop_close(loop);
	pm_controller_free(ctl);
	pm_config_free(&cfg);
	pm_loop_log(PM_CONTROLLER_INFO, "stopped");
	return rc < 0 ? 1 : 0;
}
