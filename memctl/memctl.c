/*
 * memctl.c -- the command line of allocatord: global options, the table of
 * commands (one file each, as in tmux), unique-prefix lookup, option
 * parsing from each command's option table (so that `memctl CMD --help`
 * lists exactly what the parser accepts), connecting, and exit statuses.
 *
 *   memctl [-s PATH] [--json] COMMAND [OPTIONS] [ARGS]
 *
 * Exit status: 0 success, 1 failure (said on stderr), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "memctl/memctl.h"

/* In the order `memctl --help` lists them. */
static const struct cmd_entry *const cmd_table[] = {
    &cmd_status_entry,  &cmd_pools_entry, &cmd_heaps_entry, &cmd_groups_entry,
    &cmd_clients_entry, &cmd_map_entry,   &cmd_watch_entry, &cmd_stats_entry,
};

#define NCMDS (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* Options every command takes besides its own; their getopt values are
 * above any short letter. */
enum { OPT_JSON = 256, OPT_HELP, OPT_TIMEOUT, OPT_OWN };

static const char global_usage[] =
    "usage: memctl [-s PATH] [-t SECONDS] [--json] COMMAND [OPTIONS] [ARGS]\n";

/* The most --timeout takes, in seconds. */
#define TIMEOUT_MAX_S 86400

#define TIMEOUT_WANT "--timeout: want seconds over 0, at most 86400, not '%s'"

static void print_main_help(FILE *f)
{
	fprintf(f, "%s\n", global_usage);
	fputs("Show what allocatord's pools, heaps and groups hold, and who holds it.\n\n"
	      "Commands (any unique prefix will do):\n",
	      f);
	for (size_t i = 0; i < NCMDS; i++) {
		const struct cmd_entry *e = cmd_table[i];
		char name[32];

		snprintf(name, sizeof(name), "%s%s%s%s", e->name, e->alias ? " (" : "",
			 e->alias ? e->alias : "", e->alias ? ")" : "");
		fprintf(f, "  %-18s %s\n", name, e->summary);
	}
	fputs("\nOptions:\n"
	      "  -s, --socket PATH  the daemon's socket (default: $ALLOCATORD_SOCKET, else\n"
	      "                     $XDG_RUNTIME_DIR/allocatord.sock if it exists, else\n"
	      "                     /run/allocatord/allocatord.sock)\n"
	      "  -t, --timeout SECONDS\n"
	      "                     give up on a daemon that does not answer for that long\n"
	      "                     (default 5; fractions allowed; also after COMMAND)\n"
	      "      --json         print listings as JSON (also accepted after COMMAND)\n"
	      "  -h, --help         show this help; `memctl COMMAND --help` describes one\n"
	      "  -V, --version      show the version\n"
	      "\nExit status: 0 success, 1 failure, 2 usage error. See memctl(1).\n",
	      f);
}

static void print_usage_line(FILE *f, const struct cmd_entry *e)
{
	fprintf(f, "usage: memctl %s [OPTIONS]%s%s\n", e->name, e->usage[0] ? " " : "", e->usage);
}

static void print_cmd_help(FILE *f, const struct cmd_entry *e)
{
	static const struct cmd_option common[] = {
	    {"json", 0, OPT_FLAG, NULL, 0, 0, "print JSON instead of text (see memctl(1))"},
	    {"timeout", 0, OPT_SECONDS, "SECONDS", 0, TIMEOUT_MAX_S,
	     "wait at most that long for the daemon (default 5)"},
	    {"help", 'h', OPT_FLAG, NULL, 0, 0, "show this help"},
	};

	print_usage_line(f, e);
	if (e->alias != NULL)
		fprintf(f, "alias: %s\n", e->alias);
	fprintf(f, "\n%s\n\nOptions:\n", e->description);
	for (int pass = 0; pass < 2; pass++) {
		const struct cmd_option *o = pass == 0 ? e->options : common;
		size_t n = pass == 0 ? SIZE_MAX : sizeof(common) / sizeof(common[0]);

		for (size_t i = 0; i < n && o != NULL && o[i].name != NULL; i++) {
			char left[48];

			snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o[i].letter ? '-' : ' ',
				 o[i].letter ? o[i].letter : ' ', o[i].letter ? ',' : ' ',
				 o[i].name, o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
			fprintf(f, "  %-22s %s\n", left, o[i].help);
		}
	}
}

/* Edit distance, for "did you mean": command names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[32];

	if (lb >= sizeof(row) / sizeof(row[0]) || la >= 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const struct cmd_entry *cmd_find(const char *name)
{
	const struct cmd_entry *found = NULL, *near = NULL;
	size_t matches = 0, len = strlen(name), best = 3; /* suggest within 2 edits */

	for (size_t i = 0; i < NCMDS; i++) {
		const struct cmd_entry *e = cmd_table[i];

		if (strcmp(e->name, name) == 0 || (e->alias && strcmp(e->alias, name) == 0))
			return e;
		if (len > 0 && strncmp(e->name, name, len) == 0) {
			found = e;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	if (matches > 1) {
		fprintf(stderr, "memctl: ambiguous command: %s, could be: ", name);
		for (size_t i = 0, k = 0; i < NCMDS; i++)
			if (strncmp(cmd_table[i]->name, name, len) == 0)
				fprintf(stderr, "%s%s", k++ ? ", " : "", cmd_table[i]->name);
		fputc('\n', stderr);
		return NULL;
	}
	for (size_t i = 0; i < NCMDS; i++) {
		size_t d = distance(name, cmd_table[i]->name);

		if (d < best) {
			best = d;
			near = cmd_table[i];
		}
	}
	fprintf(stderr, "memctl: unknown command: '%s'\n", name);
	if (near != NULL)
		fprintf(stderr, "  did you mean '%s'?\n", near->name);
	fputs("  run 'memctl --help' for the list of commands\n", stderr);
	return NULL;
}

static int parse_value(struct memctl *m, const struct cmd_entry *e, const struct cmd_option *o,
		       const char *arg, struct cmd_args *a, size_t i)
{
	char *end;

	a->opt[i].set = true;
	a->opt[i].str = arg;
	if (o->type == OPT_COUNT) {
		unsigned long long v;

		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < o->min ||
		    v > o->max)
			return memctl_usage(
			    m, e, "--%s: want a whole number from %llu to %llu, not '%s'", o->name,
			    (unsigned long long) o->min, (unsigned long long) o->max, arg);
		a->opt[i].count = v;
	} else if (o->type == OPT_SECONDS) {
		double v;

		errno = 0;
		v = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !(v > 0) || v > (double) o->max)
			return memctl_usage(m, e,
					    "--%s: want seconds over 0, at most %llu, not '%s'",
					    o->name, (unsigned long long) o->max, arg);
		a->opt[i].seconds = v;
	}
	return 0;
}

int cmd_parse(struct memctl *m, const struct cmd_entry *e, int argc, char **argv,
	      struct cmd_args *a)
{
	struct option longopts[CMD_MAX_OPTIONS + 4];
	char shortopts[3 + 2 * CMD_MAX_OPTIONS + 2];
	size_t nopts = 0, s = 0;
	int c, rc;

	memset(a, 0, sizeof(*a));
	a->entry = e;
	/* '+': stop at the first argument (watch's command keeps its options);
	 * ':': report missing arguments as ':' so that we word the message. */
	if (e->flags & CMD_STOP_AT_ARG)
		shortopts[s++] = '+';
	shortopts[s++] = ':';
	shortopts[s++] = 'h';
	/* Bounded: an entry with more options than fit would lose the rest,
	 * and the help test would show it. */
	for (; e->options != NULL && e->options[nopts].name != NULL && nopts < CMD_MAX_OPTIONS;
	     nopts++) {
		const struct cmd_option *o = &e->options[nopts];
		bool has_arg = o->type != OPT_FLAG;

		longopts[nopts] =
		    (struct option){o->name, has_arg ? required_argument : no_argument, NULL,
				    OPT_OWN + (int) nopts};
		if (o->letter) {
			shortopts[s++] = (char) o->letter;
			if (has_arg)
				shortopts[s++] = ':';
		}
	}
	shortopts[s] = '\0';
	longopts[nopts] = (struct option){"json", no_argument, NULL, OPT_JSON};
	longopts[nopts + 1] = (struct option){"help", no_argument, NULL, OPT_HELP};
	longopts[nopts + 2] = (struct option){"timeout", required_argument, NULL, OPT_TIMEOUT};
	longopts[nopts + 3] = (struct option){NULL, 0, NULL, 0};

	optind = 0; /* glibc: start afresh (watch parses a second command) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		size_t i = nopts;

		if (c == 'h' || c == OPT_HELP) {
			print_cmd_help(m->out, e);
			return 1;
		}
		if (c == OPT_JSON) {
			m->json = true;
			continue;
		}
		if (c == OPT_TIMEOUT) {
			if (!memctl_parse_timeout(optarg, &m->timeout_ms))
				return memctl_usage(m, e, TIMEOUT_WANT, optarg);
			continue;
		}
		if (c == '?' && optopt != 0)
			return memctl_usage(m, e, "unknown option -%c", optopt);
		if (c == '?')
			return memctl_usage(m, e, "unknown option %s", argv[optind - 1]);
		if (c == ':')
			return memctl_usage(m, e, "option %s needs an argument", argv[optind - 1]);
		if (c >= OPT_OWN)
			i = (size_t) (c - OPT_OWN);
		for (size_t j = 0; i == nopts && j < nopts; j++)
			if (e->options[j].letter == c)
				i = j;
		rc = parse_value(m, e, &e->options[i], optarg, a, i);
		if (rc < 0)
			return rc;
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	if (a->argc < e->args_min)
		return memctl_usage(m, e, "missing %s", e->usage);
	if (e->args_max >= 0 && a->argc > e->args_max)
		return memctl_usage(m, e, "unexpected argument '%s'", a->argv[e->args_max]);
	return 0;
}

bool memctl_parse_timeout(const char *arg, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v > 0) || v > TIMEOUT_MAX_S)
		return false;
	/* Round up: 0.0001 s must not become 0 ms, the library's default. */
	*ms = (int) (v * 1000.0);
	if (*ms < v * 1000.0)
		(*ms)++;
	return true;
}

int memctl_connect(struct memctl *m)
{
	char path[128], why[256];
	struct mc_connect_options o = {.size = sizeof(o),
				       .timeout_ms = m->timeout_ms,
				       .reason = why,
				       .reason_len = sizeof(why)};
	int rc;

	if (m->client != NULL)
		return 0;
	/* memctl only looks: it must lease no block (which it would then show
	 * as held and cached by itself), whatever the config's client_cache or
	 * the environment would turn on at connect. */
	if (setenv("ALLOCATORD_CLIENT_CACHE", "0", 1) < 0)
		return memctl_fail(m, -errno, "turning off the client caches", NULL);
	rc = mc_connect_with(m->socket, &o, &m->client);
	if (rc == 0)
		return 0;
	if (m->socket != NULL)
		snprintf(path, sizeof(path), "%s", m->socket);
	else if (mc_default_socket(path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "the default socket");
	/* The daemon's own words say more than an errno (which limit, which
	 * number). */
	if (why[0] != '\0') {
		fprintf(stderr, "memctl: allocatord at %s refused the connection: %s\n", path, why);
		return rc;
	}
	if (rc == -ETIMEDOUT) {
		fprintf(stderr,
			"memctl: cannot connect to %s: no answer within %g s\n"
			"  is allocatord stopped or hung? --timeout SECONDS waits longer\n",
			path, m->timeout_ms / 1000.0);
		return rc;
	}
	fprintf(stderr, "memctl: cannot connect to %s: %s\n", path, strerror(-rc));
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		fputs("  is allocatord running? use -s PATH or set ALLOCATORD_SOCKET\n", stderr);
	else if (rc == -EACCES)
		fputs("  the socket's mode or group does not let this user in\n", stderr);
	else if (rc == -EPROTO)
		fputs("  the daemon there speaks another protocol version\n", stderr);
	return rc;
}

static int run(struct memctl *m, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'}, {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, OPT_JSON},    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const struct cmd_entry *e;
	struct cmd_args a;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			m->socket = optarg;
			break;
		case 't':
			if (memctl_parse_timeout(optarg, &m->timeout_ms))
				break;
			m->usage_error = true;
			fputs("memctl: ", stderr);
			fprintf(stderr, TIMEOUT_WANT, optarg);
			fprintf(stderr, "\n%srun 'memctl --help' for more\n", global_usage);
			return -EINVAL;
		case OPT_JSON:
			m->json = true;
			break;
		case 'h':
			print_main_help(m->out);
			return 0;
		case 'V':
			fprintf(m->out, "memctl (allocatord) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			m->usage_error = true;
			if (c == ':')
				fprintf(stderr, "memctl: option %s needs an argument\n",
					argv[optind - 1]);
			else if (optopt != 0)
				fprintf(stderr, "memctl: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "memctl: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "%srun 'memctl --help' for more\n", global_usage);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		m->usage_error = true;
		fprintf(stderr, "memctl: no command given\n%s", global_usage);
		fputs("run 'memctl --help' for the commands\n", stderr);
		return -EINVAL;
	}
	e = cmd_find(argv[optind]);
	if (e == NULL) {
		m->usage_error = true;
		return -EINVAL;
	}
	rc = cmd_parse(m, e, argc - optind, argv + optind, &a);
	if (rc != 0)
		return rc > 0 ? 0 : rc;
	if (!(e->flags & CMD_NO_CONNECT)) {
		rc = memctl_connect(m);
		if (rc < 0)
			return rc;
	}
	return e->exec(m, &a);
}

int main(int argc, char **argv)
{
	struct memctl m = {.out = stdout, .timeout_ms = MEMCTL_TIMEOUT_MS};
	int rc = run(&m, argc, argv);

	mc_close(m.client);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "memctl: cannot write the output: %s\n", strerror(errno));
		rc = -EIO;
	}
	if (rc == 0)
		return 0;
	return m.usage_error ? 2 : 1;
}
