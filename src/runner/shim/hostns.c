/*
 * hostns: UO_SHIM_NAMESPACES=PID:TYPE[,TYPE...] makes the holder (and so the command it forks)
 * a member of process PID's namespaces: the agent sets it to 1:cgroup,ipc,uts,net,mnt when it
 * runs in a container with the host's PID namespace (hostPID), so that services run in the
 * host's namespaces and not the agent container's (issue 17). TYPE is one of
 *
 *   cgroup  the host's cgroup namespace: on a cgroup v2 node the kernel refuses to move a process
 *           to a cgroup outside the writer's cgroup namespace root (and, since Linux 5.16, the
 *           one the cgroup.procs file was OPENED in: cgroup.c opens it after this step)
 *   ipc, uts, net
 *   mnt     the host's mount namespace (root and working directory become its root): the
 *           holder no longer pins the container's file system after an upgrade, and the
 *           service's mounts are the host's
 *
 * each at most once, in any order; they are entered in nsenter(1)'s order, mnt last. Every
 * /proc/PID/ns/TYPE is opened before the first setns() (after setns(mnt), /proc is the host's
 * mount), and each setns() names its type, so a file that is not that kind of namespace is
 * refused (EINVAL). What the holder needs from the agent's view is opened before this step
 * (uo-shim.c: the event log, the log's folder, the cgroup folders).
 *
 * A failure is never skipped: the command then fails at step NAMESPACE (exit status 226,
 * systemd's EXIT_NAMESPACE) before any other step (exec.c).
 */
#define _GNU_SOURCE
#include "hostns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct { const char *name; int flag; } kinds[] = {
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "net", CLONE_NEWNET }, { "mnt", CLONE_NEWNS },
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])

static int say(char *what, size_t size, int err, const char *fmt, const char *a, const char *b) {
	if (what && size > 0) snprintf(what, size, fmt, a, b);
	return -err;
}

int hostns_enter(const char *spec, char *what, size_t what_size) {
	if (what && what_size > 0) what[0] = 0;
	/* PID: 1 to 7 digits, no sign, no leading zero */
	const char *colon = strchr(spec, ':');
	size_t plen = colon ? (size_t)(colon - spec) : 0;
	if (plen == 0 || plen > 7 || spec[0] == '0' || strspn(spec, "0123456789") != plen)
		return say(what, what_size, EINVAL, "UO_SHIM_NAMESPACES=%s%s: not PID:TYPE,...", spec, "");
	char pid[8];
	memcpy(pid, spec, plen);
	pid[plen] = 0;
	int wanted[NKINDS] = { 0 };
	int any = 0;
	for (const char *p = colon + 1;;) {
		size_t len = strcspn(p, ",");
		int k = 0;
		while (k < NKINDS && !(strlen(kinds[k].name) == len && strncmp(p, kinds[k].name, len) == 0)) k++;
		if (k == NKINDS || wanted[k]) return say(what, what_size, EINVAL, "UO_SHIM_NAMESPACES=%s%s: an unknown or repeated namespace type", spec, "");
		wanted[k] = 1;
		any = 1;
		p += len;
		if (*p == 0) break;
		p++;
	}
	if (!any) return say(what, what_size, EINVAL, "UO_SHIM_NAMESPACES=%s%s: no namespace", spec, "");
	int fds[NKINDS];
	for (int k = 0; k < NKINDS; k++) fds[k] = -1;
	int r = 0;
	for (int k = 0; k < NKINDS && r == 0; k++) {
		if (!wanted[k]) continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, kinds[k].name);
		fds[k] = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fds[k] < 0) r = say(what, what_size, errno, "%s%s", path, " (open)");
	}
	for (int k = 0; k < NKINDS && r == 0; k++) {
		if (fds[k] < 0) continue;
		if (setns(fds[k], kinds[k].flag) < 0) r = say(what, what_size, errno, "/proc/%s/ns/%s (setns)", pid, kinds[k].name);
	}
	for (int k = 0; k < NKINDS; k++) if (fds[k] >= 0) close(fds[k]);
	return r;
}
