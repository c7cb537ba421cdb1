/*
 * lock: `uo-shim --lock FILE AGENT_PID [--wait]`, the lock that keeps one agent per state folder.
 *
 * Node has no flock(2), so the agent starts this helper (src/agent/lock.ts) as its child and
 * the helper holds the lock for it. The lock dies with the agent, even on kill -9, and no shim
 * holds it:
 *   - PR_SET_PDEATHSIG(SIGKILL), then getppid() is checked against AGENT_PID (the agent may
 *     have died between fork and prctl);
 *   - stdin is a pipe from the agent: end of file (the agent exited or closed it) releases;
 *   - the lock's fd is O_CLOEXEC and lives only in this helper, a sibling of the shims, never
 *     their ancestor: a shim (which outlives the agent) cannot keep the folder locked;
 *   - SIGINT/SIGTERM/SIGHUP are ignored: a Ctrl-C on the agent's terminal must not release the
 *     lock while the agent still stops its units.
 *
 * FILE is opened O_NOFOLLOW and must be a regular file owned by this uid (a file another user
 * planted, to hold the lock or point it elsewhere, is refused); it is made 0600.
 *
 * Lines on stdout, the protocol with the agent:
 *   held by PID N   another process holds the lock; N is the PID written in FILE (0 when none)
 *                   then, without --wait, exit 1; with --wait, blocks until it is free
 *   locked          the lock is ours; AGENT_PID was written to FILE
 * Errors go to stderr with exit 2 (usage) or 3 (FILE refused or unusable, parent gone).
 */
#define _GNU_SOURCE
#include "lock.h"
#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(const char *line) {
	size_t n = strlen(line);
	while (n > 0) {
		ssize_t w = write(1, line, n);
		if (w < 0) { if (errno == EINTR) continue; return; }
		line += w; n -= (size_t)w;
	}
}

static long holder(int fd) {
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0) return 0;
	buf[n] = 0;
	long pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : 0;
}

int lock_main(int argc, char **argv) {
	/* argv: uo-shim --lock FILE AGENT_PID [--wait] */
	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--wait") != 0)) {
		fprintf(stderr, "usage: uo-shim --lock FILE AGENT_PID [--wait]\n");
		return 2;
	}
	const char *file = argv[2];
	char *end;
	long agent = strtol(argv[3], &end, 10);
	if (*end || agent <= 1) { fprintf(stderr, "uo-shim --lock: bad AGENT_PID %s\n", argv[3]); return 2; }
	int wait = argc == 5;

	/* what the agent inherited stays with it (fds.c): this helper lives as long as the agent */
	if (close_inherited_fds() < 0) { perror("uo-shim --lock: closing inherited descriptors"); return 3; }
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) { perror("uo-shim --lock: PR_SET_PDEATHSIG"); return 3; }
	if ((long)getppid() != agent) { fprintf(stderr, "uo-shim --lock: the agent (PID %ld) is gone\n", agent); return 3; }
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	int fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0) { fprintf(stderr, "uo-shim --lock: %s: %s\n", file, strerror(errno)); return 3; }
	struct stat st;
	if (fstat(fd, &st) < 0) { fprintf(stderr, "uo-shim --lock: %s: %s\n", file, strerror(errno)); return 3; }
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		fprintf(stderr, "uo-shim --lock: %s is not a regular file owned by uid %u (owner %u, mode %o): refused; remove it\n",
			file, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return 3;
	}
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) { fprintf(stderr, "uo-shim --lock: chmod %s: %s\n", file, strerror(errno)); return 3; }

	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR) continue;
		if (errno != EWOULDBLOCK) { fprintf(stderr, "uo-shim --lock: flock %s: %s\n", file, strerror(errno)); return 3; }
		char line[64];
		snprintf(line, sizeof line, "held by PID %ld\n", holder(fd));
		say(line);
		if (!wait) return 1;
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR) { fprintf(stderr, "uo-shim --lock: flock %s: %s\n", file, strerror(errno)); return 3; }
		}
		break;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", agent);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) { fprintf(stderr, "uo-shim --lock: writing %s: %s\n", file, strerror(errno)); return 3; }
	say("locked\n");

	/* hold it until the agent closes our stdin (or dies: end of file, or SIGKILL by PDEATHSIG) */
	int fl = fcntl(0, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(0, F_SETFL, fl & ~O_NONBLOCK);
	char buf[256];
	for (;;) {
		ssize_t r = read(0, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno != EINTR)) break;
	}
	return 0;
}
