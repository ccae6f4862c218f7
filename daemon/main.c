/*
 * main: the allocatord program -- options, configuration, then the daemon
 * assembled bottom-up (daemon_init, dispatch_init) and served by the server,
 * or only printed with --check-config. Every message, start-up failures and
 * usage errors included, goes through the logger (log.h): one line
 * "allocatord: error: ..." on stderr, or "<3>..." under systemd, so that the
 * journal records a failed start as an error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/memcheck.h"
#include "daemon/server.h"
#include "daemon/sockfile.h"
#include "proto/wire.h"

/* Exit codes: 0 clean stop, 1 bad configuration or start-up failure, 2 usage,
 * 3 the allocators were not whole at the stop (a bug: see the log). */
enum { EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_INCONSISTENT = 3 };

static void usage(void)
{
	printf("Usage: allocatord [-c FILE] [-s SOCKET] [-l LEVEL] [--discard-state]\n"
	       "                  [--check-config]\n"
	       "Serve shared-memory block pools and TLSF heaps to local processes.\n"
	       "\n"
	       "  -c, --config FILE     configuration file (libconfig syntax); without it the\n"
	       "                        built-in default configuration serves\n"
	       "  -s, --socket PATH     listen on PATH; default: $ALLOCATORD_SOCKET, else the\n"
	       "                        config's socket.path, else %s as root,\n"
	       "                        else $XDG_RUNTIME_DIR/%s\n"
	       "  -l, --log-level LEVEL error, warn, info or debug (overrides log_level)\n"
	       "      --check-config    validate the configuration, plug-ins included, check\n"
	       "                        that its memory fits here (MemAvailable, cgroup,\n"
	       "                        huge pages, rlimits), print the layout and the sizes\n"
	       "                        and exit (0 if valid, 1 if not)\n"
	       "      --discard-state   a state left by the serving process before this one\n"
	       "                        that does not fit (damaged, of a newer format, or of\n"
	       "                        another layout of regions and objects) is dropped\n"
	       "                        with a warning and the daemon starts afresh: every\n"
	       "                        hold of it is lost; without this option such a state\n"
	       "                        stops the start (exit status 1)\n"
	       "  -h, --help            show this help and exit\n"
	       "  -V, --version         show the version and exit\n"
	       "\n"
	       "Under systemd socket activation ($LISTEN_PID, $LISTEN_FDS) it serves the\n"
	       "socket it is passed instead of making one.\n"
	       "Stops cleanly on SIGTERM or SIGINT: clients are disconnected, the socket\n"
	       "file is removed (if it is its own), the allocators are checked whole,\n"
	       "exit status 0.\n"
	       "SIGHUP reloads the configuration file, all or nothing: quotas, limits,\n"
	       "access lists and log_level change, new objects appear and unused ones\n"
	       "can go; what needs a restart is refused and logged, and the running\n"
	       "configuration serves on.\n"
	       "Exit status: 1 bad configuration or start-up failure, 2 usage error,\n"
	       "3 an allocator was not whole at the stop (a bug; see the log).\n"
	       "See allocatord(8), allocatord.conf(5).\n",
	       WIRE_SOCKET_SYSTEM, WIRE_SOCKET_NAME);
}

/* The keeper process that runs this one ($ALLOCATORD_KEEPER), or 0. */
static pid_t keeper_pid(void)
{
	const char *s = getenv("ALLOCATORD_KEEPER");
	char *end;
	long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && v > 0 && v <= INT32_MAX ? (pid_t) v : 0;
}

/* Serving starts: the state records it (and counts a takeover) before the
 * first client is served; the takeover's line says what was taken over. */
static int state_serving(struct daemon *d, uint64_t began_ms, struct errbuf *e)
{
	int rc = state_started(&d->state, keeper_pid(), daemon_wall_ms(), e);

	if (rc == 0 && d->state.taken_over)
		log_info("takeover %llu: %u session%s, %u hold%s, rebuilt in %llu ms",
			 (unsigned long long) d->state.takeovers, d->nsessions, log_s(d->nsessions),
			 holds_count(&d->holds), log_s(holds_count(&d->holds)),
			 (unsigned long long) (daemon_now_ms() - began_ms));
	return rc;
}

/* --check-config's report: the layout, then what it needs of memory
 * against what this process may use here. */
static void print_check(const struct config *c)
{
	struct memcheck_budget b;
	struct memcheck_need n;

	config_print(c, stdout);
	memcheck_read(&b);
	memcheck_need(c, &n);
	memcheck_print(&n, &b, stdout);
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_DISCARD };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"discard-state", no_argument, NULL, OPT_DISCARD},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL, *socket = NULL;
	bool check = false, level_set = false, discard = false;
	uint64_t began_ms = daemon_now_ms();
	/* A cold start: no state is passed to this process (state.h). */
	int state_fd = -1;
	enum log_level level = LOG_INFO;
	struct errbuf e;
	struct config cfg;
	struct dispatch x;
	struct daemon d;
	int opt, rc;

	/* Usage errors are one line and a pointer to --help: the whole help
	 * would bury the line that says what was wrong. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:s:l:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 's':
			socket = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				log_error("unknown log level '%s' (error, warn, info, debug)",
					  optarg);
				return EXIT_USAGE;
			}
			level_set = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_DISCARD:
			discard = true;
			break;
		case 'h':
			usage();
			return 0;
		case 'V':
			printf("allocatord %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			log_error("option '%s' needs an argument (see allocatord --help)",
				  argv[optind - 1]);
			return EXIT_USAGE;
		default:
			if (optopt != 0) /* a short one, maybe among others: -Vx */
				log_error("unknown option '-%c' (see allocatord --help)", optopt);
			else
				log_error("unknown option '%s' (see allocatord --help)",
					  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see allocatord --help)", argv[optind]);
		return EXIT_USAGE;
	}

	rc = file ? config_load_file(file, &cfg, e.msg, sizeof(e.msg))
		  : config_load_string(config_default_text, CONFIG_DEFAULT_FILE, &cfg, e.msg,
				       sizeof(e.msg));
	if (rc < 0) {
		log_error("%s", e.msg);
		return EXIT_CONFIG;
	}
	log_set_level(level_set ? level : cfg.log_level);

	rc = daemon_init(&d, &cfg, check, state_fd, discard, &e);
	if (rc < 0) {
		log_error("%s", e.msg);
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	d.log_level_pinned = level_set;
	rc = dispatch_init(&x, &d, &e);
	if (rc < 0) {
		log_error("%s", e.msg);
		daemon_fini(&d);
		return EXIT_CONFIG;
	}
	rc = sockfile_resolve(socket, &d.cfg, d.socket_path, sizeof(d.socket_path), &e);
	if (check && rc == -ENOENT) {
		/* No default socket in this environment: the config is fine. */
		print_check(&d.cfg);
		printf("would listen on: no default here (%s)\n", e.msg);
		rc = 0;
	} else if (check && rc == 0) {
		print_check(&d.cfg);
		printf("would listen on %s\n", d.socket_path);
	} else if (rc == 0) {
		rc = state_serving(&d, began_ms, &e);
		if (rc == 0)
			rc = server_run(&x, &e);
		if (rc == 0 && daemon_verify_idle(&d, &e) < 0) {
			log_error("BUG: at stop: %s", e.msg);
			dispatch_fini(&x);
			daemon_fini(&d);
			return EXIT_INCONSISTENT;
		}
	}
	if (rc < 0)
		log_error("%s", e.msg);
	dispatch_fini(&x);
	daemon_fini(&d);
	return rc < 0 ? EXIT_CONFIG : 0;
}
