/* nsrt: see nsrt.h. */
#define _GNU_SOURCE
#include "nsrt.h"
#include "fds.h"
#include "exit-status.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* lo up in a new network namespace (the kernel gives it 127.0.0.1 and ::1 then), as systemd's loopback_setup() */
int nsrt_loopback_up(void) {
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	int r = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) r = -errno;
	else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
	}
	close(fd);
	return r;
}

/* "net", "ipc", "net,ipc" (or "ipc,net"): the CLONE_* flags; 0 for anything else */
static int parse_types(const char *s) {
	int flags = 0;
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		int f = n == 3 && strncmp(p, "net", 3) == 0 ? CLONE_NEWNET : n == 3 && strncmp(p, "ipc", 3) == 0 ? CLONE_NEWIPC : 0;
		if (!f || (flags & f)) return 0;
		flags |= f;
		p += n;
		if (!*p) return flags;
		p++;
	}
}

/* a decimal number of at most max_digits digits, no sign, no leading zero; -1 otherwise */
static long long parse_number(const char *s, size_t max_digits) {
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n != strlen(s) || n > max_digits || (s[0] == '0' && n > 1)) return -1;
	return strtoll(s, NULL, 10);
}

/* field 22 of /proc/PID/stat (the start time in clock ticks); -1 when unreadable */
static long long start_time(const char *pid) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p) return -1;
	p++;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ') p++;
		if (field == 22) return strtoll(p, NULL, 10);
		p = strchr(p, ' ');
		if (!p) return -1;
	}
	return -1;
}

/* Joins the namespaces (flags) of process pid, which must have started at start (checked once
 * the files are open: a reused PID is refused); *status: NETWORK or NAMESPACE for the failed one. */
static int join_process(const char *pid, long long start, int flags, int *status) {
	int net = -1, ipc = -1, r = 0;
	char path[64];
	*status = UO_EXIT_NETWORK;
	if (flags & CLONE_NEWNET) {
		snprintf(path, sizeof path, "/proc/%s/ns/net", pid);
		if ((net = open(path, O_RDONLY | O_CLOEXEC)) < 0) r = -errno;
	}
	if (!r && (flags & CLONE_NEWIPC)) {
		snprintf(path, sizeof path, "/proc/%s/ns/ipc", pid);
		if ((ipc = open(path, O_RDONLY | O_CLOEXEC)) < 0) { r = -errno; *status = UO_EXIT_NAMESPACE; }
	}
	if (!r && start_time(pid) != start) r = -ESRCH;
	if (!r && net >= 0 && setns(net, CLONE_NEWNET) < 0) r = -errno;
	if (!r && ipc >= 0 && setns(ipc, CLONE_NEWIPC) < 0) { r = -errno; *status = UO_EXIT_NAMESPACE; }
	if (net >= 0) close(net);
	if (ipc >= 0) close(ipc);
	return r;
}

int nsrt_hold_main(int argc, char **argv) {
	/* argv: uo-shim --ns-hold TYPES AGENT_PID [FROM_PID FROM_START] */
	int flags = argc == 4 || argc == 6 ? parse_types(argv[2]) : 0;
	long long agent = flags ? parse_number(argv[3], 7) : -1;
	long long from = argc == 6 ? parse_number(argv[4], 7) : 0, from_start = argc == 6 ? parse_number(argv[5], 20) : 0;
	if (!flags || agent <= 0 || from < 0 || from_start < 0) {
		fprintf(stderr, "usage: uo-shim --ns-hold net|ipc|net,ipc AGENT_PID [FROM_PID FROM_START]\n");
		return 2;
	}
	/* the holder it forks lives long: nothing the agent inherited goes with it (fds.c) */
	if (close_inherited_fds() < 0) { printf("failed %d\n", errno); return 1; }
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) { printf("failed %d\n", errno); return 1; }
	pid_t pid = fork();
	if (pid < 0) { printf("failed %d\n", errno); return 1; }
	if (pid == 0) {
		close(p[0]);
		setsid();
		(void)!chdir("/"); /* pins no folder of the agent's */
		int err = 0, st;
		/* FROM: a live process's namespaces (a runtime the agent takes over after a restart) */
		if (from > 0) err = -join_process(argv[4], from_start, flags, &st);
		else if (unshare(flags) < 0) err = errno;
		else if (flags & CLONE_NEWNET) err = -nsrt_loopback_up();
		/* nothing of the agent's pipes stays open here: its spawnSync() ends with the launcher */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd < 3; fd++) if (null >= 0) dup2(null, fd);
		(void)!write(p[1], &err, sizeof err);
		close(p[1]);
		if (err) _exit(1);
		signal(SIGTERM, SIG_DFL);
		/* until SIGTERM, or the agent's end */
		int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)agent, 0);
		if (pidfd >= 0) {
			struct pollfd w = { .fd = pidfd, .events = POLLIN };
			while (poll(&w, 1, -1) < 0 && errno == EINTR) {}
		} else
			while (kill((pid_t)agent, 0) == 0 || errno == EPERM) sleep(5);
		_exit(0);
	}
	close(p[1]);
	int err = 0;
	ssize_t n;
	while ((n = read(p[0], &err, sizeof err)) < 0 && errno == EINTR) {}
	if (n != (ssize_t)sizeof err) err = EIO;
	if (err) {
		waitpid(pid, NULL, 0);
		printf("failed %d\n", err);
		return 1;
	}
	printf("held %d\n", (int)pid);
	return 0;
}

static int join_path(const char *path, int flag) {
	if (path[0] != '/') return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) return -errno;
	int r = setns(fd, flag) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int nsrt_join(int *status) {
	*status = UO_EXIT_NETWORK;
	const char *v = getenv("UO_SHIM_JOIN_NS");
	if (v) {
		/* PID:START:TYPES */
		char pid[16], start[32];
		const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || (size_t)(c1 - v) >= sizeof pid || (size_t)(c2 - c1 - 1) >= sizeof start) return -EINVAL;
		memcpy(pid, v, (size_t)(c1 - v));
		pid[c1 - v] = 0;
		memcpy(start, c1 + 1, (size_t)(c2 - c1 - 1));
		start[c2 - c1 - 1] = 0;
		int flags = parse_types(c2 + 1);
		long long want = parse_number(start, 20);
		if (!flags || parse_number(pid, 7) <= 0 || want < 0) return -EINVAL;
		int r = join_process(pid, want, flags, status);
		if (r < 0) return r;
	}
	if ((v = getenv("UO_SHIM_NETNS_PATH"))) {
		int r = join_path(v, CLONE_NEWNET);
		if (r < 0) return r;
	}
	*status = UO_EXIT_NAMESPACE;
	if ((v = getenv("UO_SHIM_IPCNS_PATH"))) {
		int r = join_path(v, CLONE_NEWIPC);
		if (r < 0) return r;
	}
	return 0;
}

static int has_effective(int cap) {
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0) return 0;
	return (d[cap >> 5].effective >> (cap & 31)) & 1u;
}

static int write_file(const char *path, const char *s) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : n != (ssize_t)strlen(s) ? -EIO : 0;
	close(fd);
	return r;
}

int nsrt_private_users(const char *uid, const char *gid, unsigned ouid, unsigned ogid, int *status) {
	*status = UO_EXIT_USER;
	const char *mode = getenv("UO_SHIM_PRIVATE_USERS");
	if (!mode) return 0;
	/* (systemd 257 knows no "full": "Failed to parse PrivateUsers=full, ignoring") */
	int identity = strcmp(mode, "identity") == 0, self = strcmp(mode, "self") == 0;
	if (!identity && !self) return -EINVAL;
	char uid_map[128], gid_map[128];
	long long u = uid && *uid ? parse_number(uid, 10) : -1, g = gid && *gid ? parse_number(gid, 10) : -1;
	if (identity) {
		strcpy(uid_map, "0 0 65536\n");
		strcpy(gid_map, "0 0 65536\n");
	} else {
		/* self: the original ids to themselves, and User=/Group= to themselves when CAP_SETUID/CAP_SETGID allow two lines */
		if (has_effective(CAP_SETUID) && u >= 0 && u != ouid && u < 4294967295LL) snprintf(uid_map, sizeof uid_map, "%u %u 1\n%lld %lld 1\n", ouid, ouid, u, u);
		else snprintf(uid_map, sizeof uid_map, "%u %u 1\n", ouid, ouid);
		if (has_effective(CAP_SETGID) && g >= 0 && g != ogid && g < 4294967295LL) snprintf(gid_map, sizeof gid_map, "%u %u 1\n%lld %lld 1\n", ogid, ogid, g, g);
		else snprintf(gid_map, sizeof gid_map, "%u %u 1\n", ogid, ogid);
	}
	/* a helper in the original namespace writes the maps once this process has unshared (it then lacks CAP_SETUID there) */
	int ready[2], result[2];
	if (pipe2(ready, O_CLOEXEC) < 0) return -errno;
	if (pipe2(result, O_CLOEXEC) < 0) { int e = errno; close(ready[0]); close(ready[1]); return -e; }
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) { int e = errno; close(ready[0]); close(ready[1]); close(result[0]); close(result[1]); return -e; }
	if (pid == 0) {
		close(ready[1]);
		close(result[0]);
		char c, path[64];
		int r = read(ready[0], &c, 1) == 1 ? 0 : -EIO;
		if (!r) {
			snprintf(path, sizeof path, "/proc/%d/setgroups", (int)parent);
			r = write_file(path, "deny\n");
			if (r == -ENOENT) r = 0; /* a kernel without it */
		}
		if (!r) { snprintf(path, sizeof path, "/proc/%d/gid_map", (int)parent); r = write_file(path, gid_map); }
		if (!r) { snprintf(path, sizeof path, "/proc/%d/uid_map", (int)parent); r = write_file(path, uid_map); }
		if (r) (void)!write(result[1], &r, sizeof r);
		_exit(r ? 1 : 0);
	}
	close(ready[0]);
	close(result[1]);
	int r = unshare(CLONE_NEWUSER) < 0 ? -errno : 0;
	if (!r && write(ready[1], "x", 1) != 1) r = -errno;
	close(ready[1]);
	if (!r) {
		int child = 0;
		ssize_t n;
		while ((n = read(result[0], &child, sizeof child)) < 0 && errno == EINTR) {}
		if (n == (ssize_t)sizeof child) r = child < 0 ? child : -EIO;
		else if (n != 0) r = -EIO;
	}
	close(result[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	if (!r && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) r = -EIO;
	return r;
}
