/* notify: receives sd_notify datagrams and writes them to the event log (see notify.h). */
#define _GNU_SOURCE
#include "notify.h"
#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int notify_open(const char *path) {
	int fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) < sizeof sa.sun_path) {
		strcpy(sa.sun_path, path);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int one = 1;
		if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0) chmod(path, 0777);
	}
	setenv("NOTIFY_SOCKET", path, 1);
	return fd;
}

void notify_receive(int fd) {
	for (;;) {
		char buf[4096];
		char control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) break;
		buf[n] = 0;
		int sender = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred uc;
				memcpy(&uc, CMSG_DATA(c), sizeof uc);
				sender = uc.pid;
			}
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < nfds; i++) {
					int passed;
					memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
					close(passed);
				}
			}
		}
		for (ssize_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = '\x1e';
		emit("notify %d %s", sender, buf);
	}
}
