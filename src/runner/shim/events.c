/*
 * events: the event log the agent tails (EVENTS_FILE, opened O_APPEND; one write() per line,
 * so lines stay whole). Fields are separated by one space; a reader splits on spaces and must
 * ignore fields it does not know at the end of a line, and lines whose first word it does not
 * know.
 *
 *   shim PID                      the shim itself
 *   spawn PID                     the command was forked
 *   note PID STEP ERRNO [VALUE]   a set-up step the kernel refused and that was skipped or
 *                                 weakened, as systemd does, before the command ran (between
 *                                 "spawn" and "exec"); STEP is systemd's step name:
 *                                   note PID OOM_ADJUST ERRNO   OOMScoreAdjust= refused
 *                                                               (EPERM/EACCES): not applied
 *                                   note PID NICE ERRNO VALUE   Nice= refused (EPERM/EACCES):
 *                                                               VALUE, the closest allowed
 *                                                               by RLIMIT_NICE, was applied
 *   exec PID [SLACK]              execve() succeeded (or the child ended without a word);
 *                                 SLACK (issue 19): a command held for UO_SHIM_NOT_BEFORE
 *                                 reached its hold SLACK µs before that time (negative: after
 *                                 it), what the agent's restart lead is sized by
 *   exec-failed PID ERRNO STATUS STEP
 *                                 set-up or execve() failed; the child exited with STATUS,
 *                                 systemd's exit status for the step, and STEP is its name
 *                                 (CHDIR, USER, EXEC…: exit-status.h). PID 0: fork() failed.
 *                                 (Before STEP was added the line ended at STATUS.)
 *   exit PID CODE STATUS [AT]     a process it reaped (the command or an orphaned
 *                                 descendant); CODE is exited, killed or dumped; AT (issue
 *                                 19): CLOCK_MONOTONIC µs when it was reaped, from which the
 *                                 agent counts RestartSec= (not from when it read the line)
 *   notify2 PID UID GID MESSAGE   an sd_notify datagram (UO_SHIM_NOTIFY_SOCKET) with its
 *                                 sender's credentials (SCM_CREDENTIALS; -1: none given);
 *                                 MESSAGE is the rest of the line, '\\' and bytes < 0x20 or
 *                                 0x7f escaped as \xHH (a newline is \x0a)
 *   notify-dropped PID UID GID REASON BYTES
 *                                 a datagram not passed on: oversized (> 4096 bytes), nul
 *                                 (embedded NUL), long (does not fit in a line escaped)
 *   notify PID MESSAGE            (shims before issue 12) a datagram, newlines as \x1e, no
 *                                 uid; MESSAGE is the rest of the line. Still read by the agent.
 *   empty [AT]                    nothing is left; the shim exits (AT as for exit)
 *
 * ERRNO is a number (Linux errno), PID a decimal process ID.
 *
 * The file is root's when the agent runs as root: it is opened O_NOFOLLOW (a link planted at
 * its name is not followed) and refused unless it is a regular file owned by the shim's uid;
 * it is made 0600 whatever the umask (fchmod).
 */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

static int events_fd = -1;

int open_private_append(const char *path) {
	return open_private_append_at(AT_FDCWD, path);
}

int open_private_append_at(int dirfd, const char *path) {
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) { int e = errno; close(fd); errno = e; return -1; }
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) { close(fd); errno = EPERM; return -1; }
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) { int e = errno; close(fd); errno = e; return -1; }
	/* O_NONBLOCK was for the open only (a FIFO planted there must not block it) */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

void events_use(int fd) {
	events_fd = fd;
}

int events_fd_get(void) {
	return events_fd;
}

int events_open(const char *path) {
	events_fd = open_private_append(path);
	return events_fd < 0 ? -1 : 0;
}

unsigned long long monotonic_us(void) {
	struct timespec t;
	if (clock_gettime(CLOCK_MONOTONIC, &t) < 0) return 0;
	return (unsigned long long)t.tv_sec * 1000000ULL + (unsigned long long)t.tv_nsec / 1000ULL;
}

void emit(const char *fmt, ...) {
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	/* one write() per line: O_APPEND keeps lines whole */
	while (write(events_fd, buf, (size_t)n) < 0 && errno == EINTR) {}
}
