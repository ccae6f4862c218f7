/*
 * memctl-watch.c -- `memctl watch [CMD [OPTIONS]]`: run a listing again and
 * again, every --interval seconds, until Ctrl-C, SIGTERM or --count
 * refreshes; on a terminal, each refresh replaces the last.
 *
 * Each refresh is rendered in memory first and then written at once, so
 * the screen is cleared and redrawn without a half-drawn frame, and a
 * refresh that fails (the daemon went away) prints nothing but the error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memctl/memctl.h"

#define ANSI_HOME_CLEAR  "\033[H\033[2J"
#define ANSI_HIDE_CURSOR "\033[?25l"
#define ANSI_RESTORE     "\033[0m\033[?25h"

/* Set by SIGINT / SIGTERM: the one piece of global mutable state, since a
 * signal handler takes no argument. */
static volatile sig_atomic_t watch_stop;

static void on_signal(int sig)
{
	/* A second signal while a call to a hung daemon blocks: end now. */
	if (watch_stop) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	watch_stop = 1;
}

static const struct cmd_option watch_options[] = {
    {"interval", 'i', OPT_SECONDS, "SECONDS", 0, 86400,
     "time between refreshes (default 1; fractions allowed)"},
    {"count", 'c', OPT_COUNT, "N", 1, UINT32_MAX, "stop after N refreshes"},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

struct watch {
	const struct cmd_entry *cmd;
	struct cmd_args args;
	char line[256]; /* the command, for the header */
	double interval;
	bool tty;
};

/* The command to watch, from what follows watch's own options. */
static int watch_parse(struct memctl *m, const struct cmd_args *a, struct watch *w)
{
	static char *dflt[] = {"status", NULL};
	char **argv = a->argc > 0 ? a->argv : dflt;
	int argc = a->argc > 0 ? a->argc : 1;
	size_t at = 0;

	w->cmd = cmd_find(argv[0]);
	if (w->cmd == NULL) {
		m->usage_error = true;
		return -EINVAL;
	}
	if (!(w->cmd->flags & CMD_LISTING))
		return memctl_usage(m, a->entry, "cannot watch '%s': not a listing", w->cmd->name);
	for (int i = 0; i < argc && at < sizeof(w->line); i++) {
		int n = snprintf(w->line + at, sizeof(w->line) - at, "%s%s", i ? " " : "memctl ",
				 i ? argv[i] : w->cmd->name);

		at += n > 0 ? (size_t) n : 0;
	}
	return cmd_parse(m, w->cmd, argc, argv, &w->args);
}

/* Run the command into memory and show the result. */
static int refresh(struct memctl *m, struct watch *w)
{
	FILE *out = stdout;
	char *buf = NULL, when[32] = "";
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	m->out = open_memstream(&buf, &len);
	if (m->out == NULL) {
		m->out = out;
		return memctl_fail(m, -errno, "watch", NULL);
	}
	rc = w->cmd->exec(m, &w->args);
	fclose(m->out);
	m->out = out;
	if (rc == 0) {
		if (w->tty)
			fputs(ANSI_HOME_CLEAR, out);
		if (localtime_r(&now, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		/* A header would break a stream of JSON documents. */
		if (!m->json)
			fprintf(out, "Every %gs: %s    %s\n\n", w->interval, w->line, when);
		fwrite(buf, 1, len, out);
		if (!w->tty && !m->json)
			fputc('\n', out);
		fflush(out);
	}
	free(buf);
	return rc;
}

/* Sleep for the interval or until a signal, without the race between
 * testing the flag and sleeping: the signals are blocked until ppoll. */
static void pause_interval(double seconds, const sigset_t *block)
{
	struct timespec ts = {.tv_sec = (time_t) seconds};
	sigset_t old;

	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
	sigprocmask(SIG_BLOCK, block, &old);
	if (!watch_stop)
		ppoll(NULL, 0, &ts, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static int watch_exec(struct memctl *m, const struct cmd_args *a)
{
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	uint64_t count = args_count(a, "count", 0);
	struct watch w = {.interval = args_seconds(a, "interval", 1.0)};
	sigset_t block;
	int rc = watch_parse(m, a, &w);

	if (rc != 0)
		return rc > 0 ? 0 : rc;
	rc = memctl_connect(m);
	if (rc < 0)
		return rc;
	/* With --json: JSON Lines, one document per line and nothing else,
	 * for line tools (jq, grep, tail); never terminal codes. */
	m->json_lines = m->json;
	w.tty = !m->json && isatty(STDOUT_FILENO);
	/* SA_RESTART: a signal during a request must not fail the request. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (w.tty)
		fputs(ANSI_HIDE_CURSOR, stdout);
	for (uint64_t i = 0; !watch_stop && (count == 0 || i < count); i++) {
		if (i > 0)
			pause_interval(w.interval, &block);
		if (!watch_stop)
			rc = refresh(m, &w);
		if (rc < 0)
			break;
	}
	if (w.tty)
		fputs(ANSI_RESTORE, stdout);
	fflush(stdout);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

const struct cmd_entry cmd_watch_entry = {
    .name = "watch",
    .alias = NULL,
    .usage = "[COMMAND [OPTIONS] [ARGS]]",
    .args_min = 0,
    .args_max = -1,
    .flags = CMD_STOP_AT_ARG | CMD_NO_CONNECT,
    .summary = "run a listing again and again (default: status)",
    .description = "Run COMMAND (status, pools, heaps, groups, clients, map or stats, with its\n"
		   "options; default status) every --interval seconds until Ctrl-C or SIGTERM,\n"
		   "then restore the terminal and exit 0. On a terminal each refresh clears\n"
		   "the screen; otherwise refreshes follow each other, each under a header line.\n"
		   "With --json: JSON Lines, each refresh one document on one line, nothing\n"
		   "else (no header, no screen clearing). If the daemon goes away, say so and\n"
		   "exit 1. A second Ctrl-C ends at once.",
    .options = watch_options,
    .exec = watch_exec,
};
