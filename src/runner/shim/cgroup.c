/*
 * cgroup: the placement of processes into cgroups, the agent's directories in the UO_SHIM_*
 * variables (one absolute directory a line: every hierarchy of the node, cgroup2 first):
 *
 *   UO_SHIM_CGROUPS          the unit's cgroup (the agent's base slice in a hierarchy the unit's
 *                            cgroup is not made in: realize.ts): the command joins it first thing after fork(),
 *                            before any other set-up step (as systemd's exec_invoke() does);
 *                            failing with status 219 (CGROUP) when a hierarchy refuses it
 *   UO_SHIM_HOLDER_CGROUPS   the holders' cgroup the shim moves itself into at start, out of
 *                            the agent's own cgroup (so that a pod's deletion does not kill it);
 *                            not fatal: a "note SHIMPID CGROUP ERRNO DIR" line says so
 *
 * The directories are the agent's paths: they are opened (O_PATH) when the shim starts, in the
 * agent's mount namespace, before the shim enters the host's namespaces (hostns.c), so that a
 * path means what the agent meant. cgroup.procs itself is opened only when the process is
 * placed: on cgroup2 the kernel judges a move against the cgroup namespace of the writer, and
 * since Linux 5.16 against the one the file was opened in, which must be the host's.
 *
 * How a process is placed (issue 19: a restart's latency). Every process placed here places
 * itself and has one thread (the shim, the fork server, the command before its execve()).
 * Writing a PID to cgroup.procs takes the kernel's global cgroup_threadgroup_rwsem for writing,
 * which after a quiet spell waits for an RCU grace period (6-15 ms measured here without
 * cgroup favordynmods). Two moves take no such lock (cgroup_procs_write_start(): pid 0 and not
 * a thread group; clone3()'s CLONE_INTO_CGROUP, placed by the fork itself):
 *   - on a v1 hierarchy, "0" written to tasks: the calling thread alone, which for a process of
 *     one thread is the whole process (0.2-0.5 ms measured for 9 hierarchies on Linux 6.18; a
 *     kernel without that shortcut takes the lock: the same move, slower);
 *   - on cgroup2, the command is born in its cgroup (cgroup_fork_into(): clone3() with
 *     CLONE_INTO_CGROUP, as systemd's posix_spawn() with a cgroup does; fork() and cgroup.procs
 *     when the kernel refuses it: older than 5.7, or a seccomp filter that says ENOSYS; and
 *     when the agent says UO_SHIM_CGROUP_FORK: a cgroup once killed through cgroup.kill kills
 *     a child cloned into it at birth — Linux 6.18 compares the kill sequence of the target
 *     cgroup with the parent's — until it is made anew; fork() and cgroup.procs are spared).
 * A cgroup2 directory the process was not born in is joined through cgroup.procs ("0").
 */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the kernel's ABI (linux/sched.h, linux/magic.h), spelled here: musl's headers and the kernel's
 * disagree on struct names that both define */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define UO_CLONE_INTO_CGROUP 0x200000000ULL
#define UO_CGROUP2_SUPER_MAGIC 0x63677270
struct uo_clone_args { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; };

void cgroup_open_dirs(const char *list, struct cgroup_dirs *dirs) {
	dirs->n = 0;
	for (const char *p = list ? list : ""; *p;) {
		size_t len = strcspn(p, "\n");
		if (len > 0) {
			if (dirs->n == CGROUP_DIRS_MAX) {
				/* too many: one more entry that fails (attach reports it, after the others) */
				dirs->d[dirs->n].path = p;
				dirs->d[dirs->n].len = (int)(len > 4096 ? 4096 : len);
				dirs->d[dirs->n].fd = -E2BIG;
				dirs->n++;
				break;
			}
			int fd;
			if (len > 4096 || p[0] != '/') fd = len > 4096 ? -ENAMETOOLONG : -EINVAL;
			else {
				char path[4097];
				memcpy(path, p, len);
				path[len] = 0;
				fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0) fd = -errno;
			}
			dirs->d[dirs->n].path = p;
			dirs->d[dirs->n].len = (int)(len > 4096 ? 4096 : len);
			dirs->d[dirs->n].fd = fd;
			dirs->n++;
		}
		p += len;
		if (*p == '\n') p++;
	}
}

static int is_cgroup2(int dirfd) {
	struct statfs fs;
	return fstatfs(dirfd, &fs) == 0 && fs.f_type == UO_CGROUP2_SUPER_MAGIC;
}

const char *cgroup_join_file(const struct cgroup_dirs *dirs, int i) {
	return i >= 0 && i < dirs->n && dirs->d[i].fd >= 0 && !is_cgroup2(dirs->d[i].fd) ? "tasks" : "cgroup.procs";
}

/* The calling process (of one thread) into the cgroup at dirfd: "0" to tasks on v1, to cgroup.procs
 * on cgroup2 (chosen by the file system, not by which file is there: cgroup2 does not reserve the
 * name tasks, and a delegated subtree may hold a folder of that name) */
static int join(int dirfd) {
	int fd = openat(dirfd, is_cgroup2(dirfd) ? "cgroup.procs" : "tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) return -errno;
	ssize_t w = write(fd, "0", 1);
	int err = w < 0 ? errno : w != 1 ? EIO : 0;
	close(fd);
	return -err;
}

int cgroup_join_index(const struct cgroup_dirs *dirs, int born, int *at) {
	for (int i = 0; i < dirs->n; i++) {
		if (i == born) continue;
		int r = dirs->d[i].fd < 0 ? dirs->d[i].fd : join(dirs->d[i].fd);
		if (r < 0) {
			if (at) *at = i;
			return r;
		}
	}
	return 0;
}

int cgroup_join_dirs(const struct cgroup_dirs *dirs, char *failed, size_t failed_size) {
	int at = -1, r = cgroup_join_index(dirs, -1, &at);
	if (r < 0 && at >= 0 && failed && failed_size > 0) snprintf(failed, failed_size, "%.*s", dirs->d[at].len, dirs->d[at].path);
	return r;
}

pid_t cgroup_fork_into(const struct cgroup_dirs *dirs, int *born) {
	*born = -1;
	for (int i = 0; i < dirs->n; i++) {
		if (dirs->d[i].fd < 0 || !is_cgroup2(dirs->d[i].fd)) continue;
		int fd = openat(dirs->d[i].fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) break;
		struct uo_clone_args a = { .flags = UO_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd };
		/* a raw clone3(): the child has the parent's TID in libc's thread descriptor (musl
		 * caches it): it must not use raise(), abort() or pthread_kill() before its execve() */
		long pid = syscall(SYS_clone3, &a, sizeof a);
		int e = errno;
		close(fd);
		if (pid == 0) *born = i;
		if (pid >= 0) return (pid_t)pid;
		errno = e;
		break; /* refused (ENOSYS, EINVAL, a permission): fork() and cgroup.procs say what is wrong, as before */
	}
	return fork();
}

int cgroup_list_line(const char *list, int index, const char **line) {
	int i = 0;
	for (const char *p = list ? list : ""; *p;) {
		int len = (int)strcspn(p, "\n");
		if (len > 0 && i++ == index) { *line = p; return len > 4096 ? 4096 : len; }
		p += len;
		if (*p == '\n') p++;
	}
	return -1;
}

void cgroup_close_dirs(struct cgroup_dirs *dirs) {
	for (int i = 0; i < dirs->n; i++) {
		if (dirs->d[i].fd >= 0) close(dirs->d[i].fd);
		dirs->d[i].fd = -EBADF;
	}
	dirs->n = 0;
}
