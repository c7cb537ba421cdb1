/* notify: receives sd_notify datagrams and writes them to the event log (see notify.h). */
#define _GNU_SOURCE
#include "notify.h"
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* systemd's NOTIFY_BUFFER_MAX (PIPE_BUF): a longer datagram is ignored, not cut */
#define NOTIFY_MAX 4096
/* what of an event line (events.c: 4096 bytes with its newline) the escaped message may use */
#define ESCAPED_MAX 3968

int notify_open(const char *path) {
	int fd = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *root = getenv("UO_SHIM_ROOT");
	char bind_path[sizeof sa.sun_path + 1];
	int n = snprintf(bind_path, sizeof bind_path, "%s%s", root && *root && strcmp(root, "/") != 0 ? root : "", path);
	if (n > 0 && (size_t)n < sizeof sa.sun_path) {
		strcpy(sa.sun_path, bind_path);
		unlink(bind_path);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int one = 1;
		if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)) {
			close(fd);
			fd = -1;
		}
		/* world-reachable on purpose: every datagram is judged by its sender's credentials */
		if (fd >= 0) chmod(bind_path, 0777);
	}
	setenv("NOTIFY_SOCKET", path, 1);
	return fd;
}

/* Escapes msg into out (size ESCAPED_MAX + 1); returns -1 when it does not fit. */
static int escape(const unsigned char *msg, size_t n, char *out) {
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = msg[i];
		if (c < 0x20 || c == 0x7f || c == '\\') {
			if (o + 4 > ESCAPED_MAX) return -1;
			out[o++] = '\\'; out[o++] = 'x'; out[o++] = hex[c >> 4]; out[o++] = hex[c & 15];
		} else {
			if (o + 1 > ESCAPED_MAX) return -1;
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
	return 0;
}

void notify_receive(int fd) {
	for (;;) {
		unsigned char buf[NOTIFY_MAX + 1];
		char control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
		/* MSG_TRUNC: the datagram's real length, so an oversized one is known as such */
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
		if (n < 0) break;
		long pid = 0, uid = -1, gid = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred uc;
				memcpy(&uc, CMSG_DATA(c), sizeof uc);
				pid = uc.pid;
				uid = uc.uid;
				gid = uc.gid;
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
		if (n > NOTIFY_MAX || (mh.msg_flags & MSG_TRUNC)) { emit("notify-dropped %ld %ld %ld oversized %zd", pid, uid, gid, n); continue; }
		if (memchr(buf, 0, (size_t)n)) { emit("notify-dropped %ld %ld %ld nul %zd", pid, uid, gid, n); continue; }
		char out[ESCAPED_MAX + 1];
		if (escape(buf, (size_t)n, out) < 0) { emit("notify-dropped %ld %ld %ld long %zd", pid, uid, gid, n); continue; }
		emit("notify2 %ld %ld %ld %s", pid, uid, gid, out);
	}
}
