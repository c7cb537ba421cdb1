/*
 * standby: the next run of a unit that restarts at once, started ahead (issue 19).
 *
 * A unit that the agent knows will restart at once whenever its main process ends (Restart=always,
 * RestartSec=0, nothing run between two runs: unit.ts standbyReason()) gets its next holder
 * started while the current command runs. That holder (UO_SHIM_STANDBY=DIR) does all of a shim's
 * set-up except the fork and then waits, before its notify socket and its fork, for a word in the
 * unit's hand-over folder DIR:
 *
 *   DIR/armed   made by the agent, holding the standby's number (UO_SHIM_STANDBY_SEQ): that
 *               standby may be started by whoever takes it first
 *   DIR/go      `armed` renamed by who takes it: the current holder (UO_SHIM_NEXT=DIR) once its
 *               last process is gone (before its "empty" line: an agent that has read that line
 *               knows the holder can take nothing more), or the agent at its restart decision —
 *               rename(2) is atomic: one of them takes it, never both. The number goes with it:
 *               a standby runs on its own number only, so a `go` left by a standby that died
 *               before it took it starts no other, and the agent may arm the next standby while
 *               the one it adopted has not taken its `go` yet
 *   DIR/wake    a FIFO; the taker writes a byte to it, so that the standby wakes at once
 *
 * The agent takes the standby back by unlinking `armed`: if that fails (ENOENT), the standby was
 * taken and runs (the agent then reads the exit lines and adopts it as the restart's spawn).
 * A standby whose agent has died unlinks `armed` itself and ends; when that fails, it was taken,
 * and it runs (the next agent adopts it: unit.ts). Nothing here decides a restart: the agent
 * arms a standby only when its engine would restart on any exit (unit.ts), and the holder's part
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
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int next_open(const char *dir) {
	if (!dir || !*dir) return -1;
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static void wake(int dir) {
	int w = openat(dir, "wake", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (w < 0) return; /* no reader yet (ENXIO): the standby finds `go` when it looks */
	(void)!write(w, "g", 1);
	close(w);
}

void next_hand_over(int dir) {
	if (dir < 0) return;
	if (renameat(dir, "armed", dir, "go") == 0) wake(dir);
}

static int standby_dir = -1, standby_wake = -1, standby_agent = -1;
static char standby_seq[24];

int standby_open(const char *dir, const char *agent, const char *seq) {
	if (!dir) return 0;
	if (!seq || !*seq || strlen(seq) >= sizeof standby_seq) return -1;
	strcpy(standby_seq, seq);
	standby_dir = next_open(dir);
	if (standby_dir < 0) return -1;
	/* read-write: the FIFO never reads as ended, whoever opens and closes its other end */
	standby_wake = openat(standby_dir, "wake", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (standby_wake < 0) return -1;
	long pid = agent ? strtol(agent, NULL, 10) : 0;
	if (pid > 1) standby_agent = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	return 1;
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

static int armed(void) { return mine("armed"); }

int standby_wait(void) {
	if (standby_dir < 0) return 0;
	for (;;) {
		if (taken()) break;
		/* neither armed nor taken: the agent took it back (a `go` renamed meanwhile is looked for again) */
		if (!armed()) {
			if (taken()) break;
			return -1;
		}
		struct pollfd fds[2] = { { .fd = standby_wake, .events = POLLIN }, { .fd = standby_agent, .events = POLLIN } };
		if (poll(fds, standby_agent >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) return -1;
		char buf[64];
		while (read(standby_wake, buf, sizeof buf) > 0) {}
		/* the agent is gone: take ourselves back, unless the holder took us first */
		if (standby_agent >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
			if (mine("armed") && unlinkat(standby_dir, "armed", 0) == 0) return -1;
			close(standby_agent);
			standby_agent = -1;
		}
	}
	close(standby_wake);
	if (standby_agent >= 0) close(standby_agent);
	close(standby_dir);
	standby_wake = standby_agent = standby_dir = -1;
	emit("standby-go %llu", monotonic_us());
	return 0;
}
