/*
 * The fake allocatord of libmemclient's tests: see fake_daemon.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/common/client_fixture.h"
#include "tests/common/fake_daemon.h"

#define FAKE_FRAME_MAX 65536u
#define FAKE_FDS_MAX   8u

void fake_start(struct fake_daemon *f, fake_script script)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int up[2], down[2];

	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-fake.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(f->lfd, 4), 0);
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		int conn, rc;

		close(up[0]);
		close(down[1]);
		f->to_test = up[1];
		f->to_fake = down[0];
		conn = fake_accept(f);
		rc = conn < 0 ? 99 : script(f, conn);
		if (rc == 0)
			for (;;)
				pause();
		_exit(rc);
	}
	close(f->lfd);
	f->lfd = -1;
	close(up[1]);
	close(down[0]);
	f->to_test = up[0];
	f->to_fake = down[1];
}

void fake_stop(struct fake_daemon *f)
{
	kill(f->pid, SIGKILL);
	ck_assert_int_eq(client_wait_child(f->pid), 128 + SIGKILL);
	close(f->to_test);
	close(f->to_fake);
	unlink(f->path);
	rmdir(f->dir);
}

int fake_accept(struct fake_daemon *f)
{
	int fd;

	do
		fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd;
}

bool fake_step(struct fake_daemon *f)
{
	return client_write_full(f->to_test, "s", 1);
}

bool fake_heard(struct fake_daemon *f)
{
	char b;

	return client_read_full(f->to_fake, &b, 1);
}

void fake_wait_step(struct fake_daemon *f)
{
	char b;

	/* EOF: the fake exited with a complaint (fake_stop says which). */
	if (!client_read_full(f->to_test, &b, 1))
		fake_stop(f);
	ck_assert_int_eq(b, 's');
}

void fake_tell(struct fake_daemon *f)
{
	ck_assert(client_write_full(f->to_fake, "t", 1));
}

Allocd__Request *fake_recv(int conn)
{
	static uint8_t buf[FAKE_FRAME_MAX];
	uint8_t head[4];
	uint32_t len;

	if (!client_read_full(conn, head, 4))
		return NULL;
	len = (uint32_t) head[0] | (uint32_t) head[1] << 8 | (uint32_t) head[2] << 16 |
	      (uint32_t) head[3] << 24;
	if (len > sizeof(buf) || !client_read_full(conn, buf, len))
		return NULL;
	return allocd__request__unpack(NULL, len, buf);
}

/* The frame of r into buf: its length, or 0 when it does not fit. */
static size_t frame(const Allocd__Reply *r, uint8_t *buf, size_t cap)
{
	size_t len = allocd__reply__get_packed_size(r);

	if (len + 4 > cap)
		return 0;
	buf[0] = (uint8_t) len;
	buf[1] = (uint8_t) (len >> 8);
	buf[2] = (uint8_t) (len >> 16);
	buf[3] = (uint8_t) (len >> 24);
	allocd__reply__pack(r, buf + 4);
	return len + 4;
}

int fake_send(int conn, const Allocd__Reply *r, const int *fds, size_t nfds)
{
	static uint8_t buf[FAKE_FRAME_MAX];
	size_t len = frame(r, buf, sizeof(buf));
	union {
		char buf[CMSG_SPACE(FAKE_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (len == 0 || nfds > FAKE_FDS_MAX)
		return -1;
	if (nfds == 0)
		return client_write_full(conn, buf, len) ? 0 : -1;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	if (sendmsg(conn, &msg, 0) != 1)
		return -1;
	return client_write_full(conn, buf + 1, len - 1) ? 0 : -1;
}

int fake_send_cut(int conn, const Allocd__Reply *r, size_t keep)
{
	static uint8_t buf[FAKE_FRAME_MAX];
	size_t len = frame(r, buf, sizeof(buf));

	if (len == 0)
		return -1;
	return client_write_full(conn, buf, keep < len ? keep : len) ? 0 : -1;
}

int fake_memfd(size_t size)
{
	int fd = memfd_create("fake-region", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t) size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}
