/*
 * choice: open a group's choice function, built in (choice_builtin.c) or from
 * a plug-in shared object (daemon/choice_plugin.h), and close it again.
 *
 * Every refusal happens here, at start, with a message that names the plug-in
 * file and the reason; once open, a choice function cannot fail to load.
 * Nothing here is on the allocation path: the daemon calls desc->choose()
 * through the group.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/choice.h"

static const struct allocatord_choice *choice__builtin(const char *name)
{
	for (size_t i = 0; choice_builtins[i] != NULL; i++)
		if (strcmp(choice_builtins[i]->name, name) == 0)
			return choice_builtins[i];
	return NULL;
}

/* "unknown choice function 'xyz' (built in: by_size, round_robin, ...)" */
static int choice__err_unknown(struct errbuf *e, const char *name)
{
	char list[256] = "";
	size_t len = 0;

	/* snprintf returns what it would have written: a full list ends the loop. */
	for (size_t i = 0; choice_builtins[i] != NULL && len < sizeof(list); i++)
		len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? "" : ", ",
					 choice_builtins[i]->name);
	return errbuf_set(e, -ENOENT, "unknown choice function '%s' (built in: %s)", name, list);
}

/*
 * dlopen failed: why, as an errno. dlerror() gives only text, so ask the file
 * system: a path that does not exist (or cannot be reached) is that errno,
 * typically -ENOENT; a file that exists but does not load (not ELF, wrong
 * machine, unresolved symbol under RTLD_NOW) is -ELIBBAD. A bare name is
 * searched by dlopen in the library path, not here, so its failure is
 * "not found".
 */
static int choice__dlopen_errno(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	return -ELIBBAD;
}

/* Check the descriptor a plug-in exports: 0 or -ELIBBAD with a message. */
static int choice__check_desc(const struct allocatord_choice *d, const char *path, struct errbuf *e)
{
	if (d->abi_version != ALLOCATORD_CHOICE_ABI_VERSION)
		return errbuf_set(e, -ELIBBAD,
				  "%s: ABI version %" PRIu32 ", this allocatord speaks %u", path,
				  d->abi_version, ALLOCATORD_CHOICE_ABI_VERSION);
	if (d->choose == NULL)
		return errbuf_set(e, -ELIBBAD, "%s: '%s' has no choose function", path,
				  ALLOCATORD_CHOICE_SYMBOL);
	if (d->name == NULL || d->name[0] == '\0')
		return errbuf_set(e, -ELIBBAD, "%s: '%s' has no name", path,
				  ALLOCATORD_CHOICE_SYMBOL);
	return 0;
}

/* Load the plug-in at path into c->dl and c->desc. On error c->dl may be set
 * (the caller closes it). */
/* A plug-in named without a slash ("by_uid.so") is an installed one: it is
 * looked for in $ALLOCATORD_PLUGIN_DIR when that is set (the build tree's
 * examples/plugins/.libs, say), else in PKGLIBDIR, where `make install`
 * puts plug-ins -- never in dlopen's library path, which could pick up any
 * library of that name. A path with a slash is taken as it is. */
static const char *choice__resolve(const char *plugin, char *buf, size_t len)
{
	const char *dir = getenv("ALLOCATORD_PLUGIN_DIR");

	if (strchr(plugin, '/') != NULL)
		return plugin;
	snprintf(buf, len, "%s/%s", dir != NULL && dir[0] != '\0' ? dir : PKGLIBDIR, plugin);
	return buf;
}

static int choice__load(struct choice *c, const char *plugin, struct errbuf *e)
{
	char buf[4096];
	const char *why, *path = choice__resolve(plugin, buf, sizeof(buf));

	dlerror(); /* clear a stale message */
	c->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (c->dl == NULL) {
		why = dlerror();
		if (why == NULL)
			why = "cannot load";
		/* glibc's message starts with the path; do not repeat it. */
		if (strncmp(why, path, strlen(path)) == 0)
			return errbuf_set(e, choice__dlopen_errno(path), "%s", why);
		return errbuf_set(e, choice__dlopen_errno(path), "%s: %s", path, why);
	}
	/* The object's address is never NULL, so NULL means "not there". */
	c->desc = dlsym(c->dl, ALLOCATORD_CHOICE_SYMBOL);
	if (c->desc == NULL)
		return errbuf_set(e, -ELIBBAD, "%s: no symbol '%s'", path,
				  ALLOCATORD_CHOICE_SYMBOL);
	return choice__check_desc(c->desc, path, e);
}

/*
 * On success the group chooses with the descriptor's choose() (group->choice_fn
 * is set), so that sys_multi_mem_blocks_alloc(group, &cfg, ...) with
 * cfg.state = c->state is all the daemon does per request. On error the
 * group is left as it was. Cost: dlopen for a plug-in, else O(built-ins).
 */
static int choice__open(struct choice *c, sys_multi_mem_blocks_t *group, const char *name,
			const char *plugin, const char *arg, struct errbuf *e)
{
	const char *what; /* names the choice function in messages */
	int rc;

	if (c == NULL || group == NULL)
		return errbuf_set(e, -EINVAL, "no choice or no group");
	memset(c, 0, sizeof(*c));
	if ((name == NULL) == (plugin == NULL))
		return errbuf_set(e, -EINVAL, "give either choice or plugin");

	if (name != NULL) {
		c->desc = choice__builtin(name);
		if (c->desc == NULL)
			return choice__err_unknown(e, name);
		what = name;
	} else {
		rc = choice__load(c, plugin, e);
		if (rc < 0)
			goto fail;
		what = plugin;
	}

	if (c->desc->init != NULL) {
		rc = c->desc->init(group, arg, &c->state);
		if (rc > 0) {
			/* Outside the ABI: say so rather than guess an errno. */
			rc =
			    errbuf_set(e, -ELIBBAD,
				       "%s: init returned %d, not 0 or a negative errno", what, rc);
			goto fail;
		}
		if (rc < 0) {
			errbuf_set(e, rc, "%s: init failed: %s", what, strerror(-rc));
			goto fail;
		}
	}
	group->choice_fn = c->desc->choose;
	return 0;

fail:
	/* init failed or never ran: it owns (and released) whatever it made, so
	 * no fini here. */
	if (c->dl != NULL)
		dlclose(c->dl);
	memset(c, 0, sizeof(*c));
	return rc;
}

int choice_open(struct choice *c, sys_multi_mem_blocks_t *group, const char *name,
		const char *plugin, const char *arg, char *err, size_t errlen)
{
	struct errbuf e = {""};
	int rc = choice__open(c, group, name, plugin, arg, &e);

	errbuf_copy(&e, err, errlen);
	return rc;
}

void choice_close(struct choice *c)
{
	if (c == NULL)
		return;
	if (c->desc != NULL && c->desc->fini != NULL)
		c->desc->fini(c->state);
	/* After fini: fini's code lives in the object. */
	if (c->dl != NULL)
		dlclose(c->dl);
	memset(c, 0, sizeof(*c));
}
