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
 *   exec PID                      execve() succeeded (or the child ended without a word)
 *   exec-failed PID ERRNO STATUS STEP
 *                                 set-up or execve() failed; the child exited with STATUS,
 *                                 systemd's exit status for the step, and STEP is its name
 *                                 (CHDIR, USER, EXEC…: exit-status.h). PID 0: fork() failed.
 *                                 (Before STEP was added the line ended at STATUS.)
 *   exit PID CODE STATUS          a process it reaped (the command or an orphaned
 *                                 descendant); CODE is exited, killed or dumped
 *   notify PID MESSAGE            an sd_notify datagram (UO_SHIM_NOTIFY_SOCKET), newlines as
 *                                 \x1e; MESSAGE is the rest of the line
 *   empty                         nothing is left; the shim exits
 *
 * ERRNO is a number (Linux errno), PID a decimal process ID.
 */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int events_fd = -1;

int events_open(const char *path) {
	events_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return events_fd < 0 ? -1 : 0;
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
