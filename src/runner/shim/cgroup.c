/*
 * cgroup: the placement of processes into cgroups, the agent's directories in the UO_SHIM_*
 * variables (one absolute directory a line: every hierarchy of the node, cgroup2 first):
 *
 *   UO_SHIM_CGROUPS          the unit's cgroup: the command joins it first thing after fork(),
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
 */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static int write_pid(int dirfd, pid_t pid) {
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
	int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) fd = openat(dirfd, "tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) return -errno;
	ssize_t w = write(fd, buf, (size_t)n);
	int err = w < 0 ? errno : w != n ? EIO : 0;
	close(fd);
	return -err;
}

int cgroup_attach_index(const struct cgroup_dirs *dirs, pid_t pid, int *at) {
	for (int i = 0; i < dirs->n; i++) {
		int r = dirs->d[i].fd < 0 ? dirs->d[i].fd : write_pid(dirs->d[i].fd, pid);
		if (r < 0) {
			if (at) *at = i;
			return r;
		}
	}
	return 0;
}

int cgroup_attach_dirs(const struct cgroup_dirs *dirs, pid_t pid, char *failed, size_t failed_size) {
	int at = -1, r = cgroup_attach_index(dirs, pid, &at);
	if (r < 0 && at >= 0 && failed && failed_size > 0) snprintf(failed, failed_size, "%.*s", dirs->d[at].len, dirs->d[at].path);
	return r;
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
