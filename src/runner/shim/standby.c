/*
 * standby: the next run of a unit that restarts at once, started ahead (issue 19).
 *
 * A unit that the agent knows will restart at once whenever its main process ends (Restart=always,
 * RestartSec=0, nothing run between two runs: standby.ts standbyConfigReason()) gets its next holder
 * started while the current command runs. That holder (UO_SHIM_STANDBY=DIR) does all of a shim's
 * set-up except the fork and then waits, before its notify socket and its fork, for a word in the
 * unit's hand-over folder DIR:
 *
 *   DIR/armed.H made by the agent, holding the standby's number (UO_SHIM_STANDBY_SEQ): that
 *               standby may be started by the holder of spawn H (UO_SHIM_NEXT_SEQ=H; the
 *               standby's UO_SHIM_STANDBY_AFTER=H) or by the agent, whoever takes it first. A
 *               holder takes only its own: one that ends late (a process stuck in the kernel,
 *               a holder taken for gone) never starts a standby meant for a later run
 *   DIR/go      `armed.H` renamed by who takes it: the current holder (UO_SHIM_NEXT=DIR) once its
 *               last process is gone (before its "empty" line: an agent that has read that line
 *               knows the holder can take nothing more), or the agent at its restart decision —
 *               rename(2) is atomic: one of them takes it, never both. The number goes with it:
 *               a standby runs on its own number only, so a `go` left by a standby that died
 *               before it took it starts no other, and the agent may arm the next standby while
 *               the one it adopted has not taken its `go` yet
 *   DIR/wake    a FIFO (made by the first standby); the taker writes a byte to it, so that the
 *               standby wakes at once; each standby reads one byte a wake-up, passes one on
 *               when it ends, and looks every second anyway
 *
 * The agent takes the standby back by unlinking `armed.H`: if that fails (ENOENT), the standby was
 * taken and runs (the agent then reads the exit lines and adopts it as the restart's spawn).
 * A standby whose agent has died unlinks `armed.H` itself and ends; when that fails, it was taken,
 * and it runs (the next agent adopts it: unit.ts). Nothing here decides a restart: the agent
 * arms a standby only when its engine would restart on any exit (standby.ts), and the holder's part
 * is only "my processes are all gone".
 */
#define _GNU_SOURCE
#include "standby.h"
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int next_open(const char *dir) {
	if (!dir || !*dir) return -1;
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* "armed.SEQ": the token of the standby that the holder of spawn SEQ may start; 0 when SEQ is not a number */
static int armed_name(char *out, size_t size, const char *seq) {
	if (!seq || !*seq || strspn(seq, "0123456789") != strlen(seq) || strlen(seq) > 18) return 0;
	snprintf(out, size, "armed.%s", seq);
	return 1;
}

static void wake(int dir) {
	int w = openat(dir, "wake", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (w < 0) return; /* no reader yet (ENXIO): the standby finds `go` when it looks */
	(void)!write(w, "g", 1);
	close(w);
}

void next_hand_over(int dir, const char *seq) {
	char name[32];
	if (dir < 0 || !armed_name(name, sizeof name, seq)) return;
	if (renameat(dir, name, dir, "go") == 0) wake(dir);
}

static int standby_dir = -1, standby_wake = -1, standby_agent = -1;
static char standby_seq[24], standby_armed[32];

int standby_open(const char *dir, const char *agent, const char *seq, const char *after) {
	if (!dir) return 0;
	if (!seq || !*seq || strlen(seq) >= sizeof standby_seq || !armed_name(standby_armed, sizeof standby_armed, after)) return -1;
	strcpy(standby_seq, seq);
	standby_dir = next_open(dir);
	if (standby_dir < 0) return -1;
	/* the FIFO is the standbys' (made here, 0600 in the agent's 0700 folder); read-write: it never
	 * reads as ended, whoever opens and closes its other end */
	if (mkfifoat(standby_dir, "wake", 0600) < 0 && errno != EEXIST) return -1;
	standby_wake = openat(standby_dir, "wake", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (standby_wake < 0 || fstat(standby_wake, &st) < 0 || !S_ISFIFO(st.st_mode)) return -1;
	/* the agent's death is seen through a pidfd; without one, no standby (it would wait unsupervised) */
	long pid = agent ? strtol(agent, NULL, 10) : 0;
	if (pid <= 1) return -1;
	standby_agent = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	return standby_agent < 0 ? -1 : 1;
}

/* whether DIR/name holds this standby's number */
static int mine(const char *name) {
	int fd = openat(standby_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) return 0;
	char buf[sizeof standby_seq];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return 0;
	buf[n] = 0;
	return strcmp(buf, standby_seq) == 0;
}

static int taken(void) { return mine("go") && unlinkat(standby_dir, "go", 0) == 0; }

/* taken back: ends; a wake-up it may have read that was another standby's is passed on */
static int cancelled(void) {
	wake(standby_dir);
	return -1;
}

int standby_wait(void) {
	if (standby_dir < 0) return 0;
	for (;;) {
		if (taken()) break;
		/* neither armed nor taken: the agent took it back (a `go` renamed meanwhile is looked for again) */
		if (!mine(standby_armed)) {
			if (taken()) break;
			return cancelled();
		}
		struct pollfd fds[2] = { { .fd = standby_wake, .events = POLLIN }, { .fd = standby_agent, .events = POLLIN } };
		/* a wake-up lost to another standby is made up for by a look every second */
		if (poll(fds, 2, 1000) < 0 && errno != EINTR) return cancelled();
		char c;
		(void)!read(standby_wake, &c, 1);
		/* the agent is gone: take ourselves back, unless the holder took us first */
		if (fds[1].revents & (POLLIN | POLLHUP)) {
			if (mine(standby_armed) && unlinkat(standby_dir, standby_armed, 0) == 0) return cancelled();
			if (!taken()) return cancelled(); /* the agent unlinked it before it died */
			break;
		}
	}
	close(standby_wake);
	if (standby_agent >= 0) close(standby_agent);
	close(standby_dir);
	standby_wake = standby_agent = standby_dir = -1;
	emit("standby-go %llu", monotonic_us());
	return 0;
}
