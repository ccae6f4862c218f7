/*
 * An LD_PRELOAD shim for the socket-file test: right after the daemon binds
 * its Unix socket, it does what a user who can write the socket's directory
 * would race to do -- replace the new socket file with a symbolic link to
 * $ALLOCATORD_SWAP_TARGET -- so that every later step on the path meets the
 * link. Only when that variable is set.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
	    (int (*)(int, const struct sockaddr *, socklen_t)) dlsym(RTLD_NEXT, "bind");
	const char *target = getenv("ALLOCATORD_SWAP_TARGET");
	const struct sockaddr_un *sun = (const struct sockaddr_un *) addr;
	int rc = real(fd, addr, len);

	if (rc == 0 && target != NULL && addr->sa_family == AF_UNIX && sun->sun_path[0] != '\0') {
		unlink(sun->sun_path);
		symlink(target, sun->sun_path);
	}
	return rc;
}
