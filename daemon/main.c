/*
 * main: the allocatord program -- options, configuration, then the daemon
 * assembled bottom-up (daemon_init, dispatch_init) and served by the server,
 * or only printed with --check-config. Started by a user, it is the keeper
 * (keeper.h) and runs itself again as the serving process; with
 * --no-keeper, under systemd ($NOTIFY_SOCKET) or under a keeper
 * ($ALLOCATORD_KEEPER) it serves. Every message, start-up failures and
 * usage errors included, goes through the logger (log.h): one line
 * "allocatord: error: ..." on stderr, or "<3>..." under systemd, so that the
 * journal records a failed start as an error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/books.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/dispatch.h"
#include "daemon/fdstore.h"
#include "daemon/keeper.h"
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
	printf("Usage: allocatord [-c FILE] [-s SOCKET] [-l LEVEL] [--no-keeper]\n"
	       "                  [--discard-state] [--check-config]\n"
	       "Serve shared-memory block pools and TLSF heaps to local processes.\n"
	       "\n"
	       "  -c, --config FILE     configuration file (libconfig syntax); without it the\n"
	       "                        built-in default configuration serves\n"
	       "  -s, --socket PATH     listen on PATH; default: $ALLOCATORD_SOCKET, else the\n"
	       "                        config's socket.path, else %s as root,\n"
	       "                        else $XDG_RUNTIME_DIR/%s\n"
	       "  -l, --log-level LEVEL error, warn, info or debug (overrides log_level)\n"
	       "      --no-keeper       serve in this process: no keeper process restarts\n"
	       "                        it after a crash or kill (clients then lose their\n"
	       "                        holds), and SIGUSR2 (upgrade) is ignored\n"
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
	       "Without --no-keeper the process started is a keeper: it runs the serving\n"
	       "process, keeps its regions, socket and books, and starts a new one at\n"
	       "once if it dies (clients keep their memory and reconnect). Under systemd\n"
	       "($NOTIFY_SOCKET, Type=notify) systemd's fd store does that instead.\n"
	       "Under systemd socket activation ($LISTEN_PID, $LISTEN_FDS) it serves the\n"
	       "socket it is passed instead of making one.\n"
	       "Stops cleanly on SIGTERM or SIGINT (sent to the keeper or the serving\n"
	       "process): clients are disconnected, the socket file is removed (if it is\n"
	       "its own), the allocators are checked whole, exit status 0. Under\n"
	       "systemd, SIGTERM leaves the books in its fd store for the next start.\n"
	       "SIGUSR2 upgrades: the serving process hands over (exit 75) and the\n"
	       "allocatord binary now on disk takes over.\n"
	       "SIGHUP reloads the configuration file, all or nothing: quotas, limits,\n"
	       "access lists and log_level change, new objects appear and unused ones\n"
	       "can go; what needs a restart is refused and logged, and the running\n"
	       "configuration serves on.\n"
	       "Exit status: 1 bad configuration or start-up failure, 2 usage error,\n"
	       "3 an allocator was not whole at the stop (a bug; see the log).\n"
	       "See allocatord(8), allocatord.conf(5).\n",
	       WIRE_SOCKET_SYSTEM, WIRE_SOCKET_NAME);
}

/* Serving starts: the state records it (and counts a takeover) before the
 * first client is served, then goes to the store (the same memfd again
 * after a takeover: the store replaces it by itself); the takeover's line
 * says what was taken over. */
static int state_serving(struct daemon *d, struct fdstore *fs, uint64_t began_ms, struct errbuf *e)
{
	int rc = state_started(&d->state, fs->keeper, daemon_wall_ms(), e);

	if (rc == 0) {
		rc = fdstore_put(fs, "state", d->state.fd);
		if (rc < 0)
			errbuf_set(e, rc, "state: cannot hand it to the fd store: %s",
				   strerror(-rc));
	}
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
	enum { OPT_CHECK = 256, OPT_NO_KEEPER, OPT_DISCARD };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"no-keeper", no_argument, NULL, OPT_NO_KEEPER},
	    {"discard-state", no_argument, NULL, OPT_DISCARD},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL, *socket = NULL;
	bool check = false, level_set = false, no_keeper = false, discard = false;
	uint64_t began_ms = daemon_now_ms();
	enum log_level level = LOG_INFO;
	struct errbuf e;
	struct config cfg;
	struct dispatch x;
	struct fdstore fs;
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
		case OPT_NO_KEEPER:
			no_keeper = true;
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

	/* The fd store: what a previous serving process left (LISTEN_*), and
	 * where this one leaves what must outlive it (NOTIFY_SOCKET). */
	memset(&fs, 0, sizeof(fs));
	fs.notify_fd = -1;
	if (!check && fdstore_init(&fs, &e) < 0) {
		log_error("%s", e.msg);
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	/* The config was read only to fail early: the keeper serves nobody. */
	if (!check && !no_keeper && !fdstore_active(&fs) && fs.keeper == 0) {
		config_free(&cfg);
		rc = keeper_run(argv, &fs);
		fdstore_fini(&fs);
		return rc;
	}

	rc = daemon_init(&d, &cfg, check, check ? NULL : &fs, discard, &e);
	if (rc < 0) {
		log_error("%s", e.msg);
		config_free(&cfg);
		fdstore_fini(&fs);
		return EXIT_CONFIG;
	}
	d.log_level_pinned = level_set;
	/* What the clients of a previous serving process hold. */
	rc = check ? 0 : books_open(&d, &fs, discard, &e);
	if (rc < 0) {
		log_error("%s", e.msg);
		daemon_fini(&d);
		fdstore_fini(&fs);
		return EXIT_CONFIG;
	}
	rc = dispatch_init(&x, &d, &e);
	if (rc < 0) {
		log_error("%s", e.msg);
		daemon_fini(&d);
		fdstore_fini(&fs);
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
		rc = state_serving(&d, &fs, began_ms, &e);
		if (rc == 0)
			rc = server_run(&x, &e);
		if (rc == 0 && daemon_verify_idle(&d, &e) < 0) {
			log_error("BUG: at stop: %s", e.msg);
			dispatch_fini(&x);
			daemon_fini(&d);
			fdstore_fini(&fs);
			return EXIT_INCONSISTENT;
		}
	}
	if (rc < 0)
		log_error("%s", e.msg);
	dispatch_fini(&x);
	daemon_fini(&d);
	fdstore_fini(&fs);
	return rc < 0 ? EXIT_CONFIG : 0;
}
