/* notify: receives sd_notify datagrams and writes them to the event log (see notify.h). */
#define _GNU_SOURCE
#include "notify.h"
#include "events.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
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

/* ---- what gets written at all ----------------------------------------------------------------
 * The event log is written as root, so a datagram is judged here before it costs disk: one from a
 * process that is neither root nor a process of this unit (a descendant of one of the unit's
 * holders: uo-shim processes whose event log lies in this unit's folder) is not written, only
 * counted ("notify-dropped … foreign", at most once a second). And all datagrams share a byte
 * budget (BUDGET_BURST, refilled at BUDGET_RATE a second): a unit's own process that floods its
 * socket is cut to that rate ("notify-dropped … rate"). systemd judges in memory and writes
 * nothing; these bounds keep the log from filling the disk. */
#define BUDGET_BURST (1024.0 * 1024.0)
#define BUDGET_RATE (32.0 * 1024.0)

static char unit_dir[PATH_MAX];
static char self_exe[PATH_MAX];

void notify_set_unit(const char *events_path) {
	/* events_path is <unit folder>/run/<seq>-<kind>-<index>/events */
	char tmp[PATH_MAX];
	/* as given, not resolved: every holder of the unit gets its path from the same agent */
	snprintf(tmp, sizeof tmp, "%s", events_path);
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(tmp, '/');
		if (!slash) { tmp[0] = 0; break; }
		*slash = 0;
	}
	snprintf(unit_dir, sizeof unit_dir, "%s", tmp);
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	self_exe[n > 0 ? n : 0] = 0;
}

static long parent_of(long pid) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f) return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *close_paren = strrchr(buf, ')');
	long ppid = 0;
	if (!close_paren || sscanf(close_paren + 1, " %*c %ld", &ppid) != 1) return 0;
	return ppid;
}

/* Is pid a uo-shim (this binary) whose event log lies in this unit's folder? */
static int is_unit_holder(long pid) {
	char path[64], exe[PATH_MAX], cmd[PATH_MAX + 16];
	snprintf(path, sizeof path, "/proc/%ld/exe", pid);
	ssize_t n = readlink(path, exe, sizeof exe - 1);
	if (n <= 0 || !self_exe[0]) return 0;
	exe[n] = 0;
	if (strcmp(exe, self_exe) != 0) return 0;
	snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
	FILE *f = fopen(path, "re");
	if (!f) return 0;
	size_t m = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[m] = 0;
	const char *events = cmd + strlen(cmd) + 1; /* argv[1] */
	if ((size_t)(events - cmd) >= m) return 0;
	size_t len = strlen(unit_dir);
	return len > 0 && strncmp(events, unit_dir, len) == 0 && events[len] == '/';
}

static int from_unit(long pid, long uid) {
	if (uid == 0) return 1;
	if (pid <= 1 || !unit_dir[0]) return 0;
	for (int depth = 0; depth < 64 && pid > 1; depth++) {
		long parent = parent_of(pid);
		if (parent <= 1) return 0;
		if (parent == (long)getpid() || is_unit_holder(parent)) return 1;
		pid = parent;
	}
	return 0;
}

static double budget = BUDGET_BURST;
static struct timespec budget_at;

static int spend(size_t bytes) {
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (budget_at.tv_sec != 0) {
		double dt = (double)(now.tv_sec - budget_at.tv_sec) + (double)(now.tv_nsec - budget_at.tv_nsec) / 1e9;
		budget += dt * BUDGET_RATE;
		if (budget > BUDGET_BURST) budget = BUDGET_BURST;
	}
	budget_at = now;
	if (budget < (double)bytes) return 0;
	budget -= (double)bytes;
	return 1;
}

/* Counts what is not written, per reason, and says so at most once a second. */
static struct { long pid, uid, gid, count, bytes; time_t said; } held[2];

static void hold(int which, const char *reason, long pid, long uid, long gid, ssize_t n) {
	held[which].pid = pid;
	held[which].uid = uid;
	held[which].gid = gid;
	held[which].count++;
	held[which].bytes += n;
	time_t now = time(NULL);
	if (now != held[which].said) {
		emit("notify-dropped %ld %ld %ld %s %ld", pid, uid, gid, reason, held[which].bytes);
		held[which].said = now;
		held[which].count = 0;
		held[which].bytes = 0;
	}
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
		if (!from_unit(pid, uid)) { hold(0, "foreign", pid, uid, gid, n); continue; }
		if (!spend((size_t)(n > NOTIFY_MAX ? 64 : n) + 32)) { hold(1, "rate", pid, uid, gid, n); continue; }
		if (n > NOTIFY_MAX || (mh.msg_flags & MSG_TRUNC)) { emit("notify-dropped %ld %ld %ld oversized %zd", pid, uid, gid, n); continue; }
		if (memchr(buf, 0, (size_t)n)) { emit("notify-dropped %ld %ld %ld nul %zd", pid, uid, gid, n); continue; }
		char out[ESCAPED_MAX + 1];
		if (escape(buf, (size_t)n, out) < 0) { emit("notify-dropped %ld %ld %ld long %zd", pid, uid, gid, n); continue; }
		emit("notify2 %ld %ld %ld %s", pid, uid, gid, out);
	}
}
