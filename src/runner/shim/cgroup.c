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
 */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_pid(const char *dir, size_t len, pid_t pid) {
	char path[4200], buf[32];
	if (len == 0 || len > 4096) return -ENAMETOOLONG;
	int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
	snprintf(path, sizeof path, "%.*s/cgroup.procs", (int)len, dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		snprintf(path, sizeof path, "%.*s/tasks", (int)len, dir);
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0) return -errno;
	ssize_t w = write(fd, buf, (size_t)n);
	int err = w < 0 ? errno : w != n ? EIO : 0;
	close(fd);
	return -err;
}

int cgroup_attach(const char *list, pid_t pid, char *failed, size_t failed_size) {
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, "\n");
		if (len > 0) {
			int r = write_pid(p, len, pid);
			if (r < 0) {
				if (failed && failed_size > 0) snprintf(failed, failed_size, "%.*s", (int)len, p);
				return r;
			}
		}
		p += len;
		if (*p == '\n') p++;
	}
	return 0;
}
