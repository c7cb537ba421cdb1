/*
 * hold: what stays of the shim while its command runs, for the command's whole life (issue 19:
 * a holder per service, so every page it keeps counts a thousand times on a node).
 *
 * Once the command has exec()ed (or failed to), the shim re-executes itself (hold_exec): the
 * same executable, through the descriptor it opened at start (whatever mount namespace it has
 * entered since), with the same argv (the agent knows a live holder by argv[1] and argv[2]:
 * store.ts isShimOf()), the same PID, start time, cgroup, namespaces, children and child-subreaper
 * flag (kept across execve()), signals ignored or blocked as before (a SIGCHLD pending stays
 * pending). Its environment is only what the loop needs:
 *
 *   UO_SHIM_HOLD=EVENTS,NOTIFY,OUT,ERR,LOGDIR,NEXT
 *                                              the descriptors handed over (-1: none; LOGDIR
 *                                              -100: AT_FDCWD; NEXT: the hand-over folder of
 *                                              the next run's standby, standby.c), each left
 *                                              open across exec
 *   UO_SHIM_LOG, UO_SHIM_LOG_MAX                 the log (logcap.c)
 *   UO_SHIM_NOTIFY_SOCKET                        the notify socket's path, removed at the end
 *   UO_SHIM_NEXT_SEQ                             this spawn's number: the standby it may start (standby.c)
 *
 * So the holder drops the set-up's pages (stack, heap, the sandbox and seccomp settings in its
 * environment) and keeps a fresh image's few. A shim started by anyone else with UO_SHIM_HOLD
 * set is not in hold mode: the variable counts only in a child subreaper, which a freshly
 * started process never is (the flag is not inherited through fork()). When the re-exec fails,
 * the shim holds in the image it has: larger, nothing lost.
 *
 * The loop reaps everything (the shim is the child subreaper of the command's descendants),
 * writes an "exit" line per process, pumps the log pipes and the notify socket, and ends with
 * "empty" when no child is left.
 */
#define _GNU_SOURCE
#include "hold.h"
#include "events.h"
#include "logcap.h"
#include "notify.h"
#include "standby.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The "NAME=value" entry of the environment, or NULL. */
static char *env_entry(const char *name) {
	size_t len = strlen(name);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e;
	return NULL;
}

static void keep_open(int fd, int across_exec) {
	if (fd >= 0) fcntl(fd, F_SETFD, across_exec ? 0 : FD_CLOEXEC);
}

void hold_exec(int self_fd, char **argv, const struct hold *h) {
	/* the new image knows hold mode by the subreaper flag: without it, it would start over */
	int reaper = 0;
	if (self_fd < 0 || prctl(PR_GET_CHILD_SUBREAPER, &reaper) < 0 || !reaper) return;
	char hold[96];
	snprintf(hold, sizeof hold, "UO_SHIM_HOLD=%d,%d,%d,%d,%d,%d", h->events, h->notify, h->out, h->err, h->log_dir, h->next);
	char *env[6] = { hold };
	int n = 1;
	const char *names[] = { "UO_SHIM_LOG", "UO_SHIM_LOG_MAX", "UO_SHIM_NOTIFY_SOCKET", "UO_SHIM_NEXT_SEQ" };
	for (int i = 0; i < 4; i++) if ((env[n] = env_entry(names[i]))) n++;
	env[n] = NULL;
	const int fds[] = { h->events, h->notify, h->out, h->err, h->log_dir, h->next };
	for (int i = 0; i < 6; i++) keep_open(fds[i], 1);
	fexecve(self_fd, argv, env);
	for (int i = 0; i < 6; i++) keep_open(fds[i], 0);
}

/* "N," → N; *p moves past the comma. */
static int next_fd(const char **p) {
	char *end;
	long v = strtol(*p, &end, 10);
	if (end == *p || (*end != ',' && *end != 0) || v < -100 || v > 1 << 20) { *p = NULL; return -1; }
	*p = *end ? end + 1 : end;
	return (int)v;
}

int hold_adopt(struct hold *h) {
	const char *v = getenv("UO_SHIM_HOLD");
	int reaper = 0;
	if (!v || prctl(PR_GET_CHILD_SUBREAPER, &reaper) < 0 || !reaper) return 0;
	int *fields[] = { &h->events, &h->notify, &h->out, &h->err, &h->log_dir, &h->next };
	for (int i = 0; i < 6; i++) {
		*fields[i] = next_fd(&v);
		if (!v) return -1; /* never our own; starting over would run the command a second time */
	}
	h->notify_path = getenv("UO_SHIM_NOTIFY_SOCKET");
	for (int i = 0; i < 6; i++) keep_open(*fields[i], 0);
	prctl(PR_SET_NAME, "uo-shim"); /* not the descriptor's number, which exec() named it */
	events_use(h->events);
	logcap_adopt(h->out, h->err, h->log_dir);
	return 1;
}

int hold_loop(const struct hold *h) {
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	for (;;) {
		/* reap everything that is ready */
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);
			if (w == 0) break;
			if (w < 0) {
				if (errno == EINTR) continue;
				logcap_drain();
				/* the notify socket's name is let go, and the next run's standby, if the agent
				 * armed one, may start (standby.c) — before "empty": an agent that has read it
				 * knows this holder takes no standby any more */
				if (h->notify_path && h->notify >= 0) unlink(h->notify_path);
				next_hand_over(h->next, getenv("UO_SHIM_NEXT_SEQ"));
				emit("empty %llu", monotonic_us());
				return 0;
			}
			if (WIFEXITED(st)) emit("exit %d exited %d %llu", (int)w, WEXITSTATUS(st), monotonic_us());
			else if (WIFSIGNALED(st)) emit("exit %d %s %d %llu", (int)w, WCOREDUMP(st) ? "dumped" : "killed", WTERMSIG(st), monotonic_us());
		}
		struct pollfd fds[4] = {
			{ .fd = sfd, .events = POLLIN }, { .fd = h->notify, .events = POLLIN },
			{ .fd = logcap_reader(1), .events = POLLIN }, { .fd = logcap_reader(2), .events = POLLIN },
		};
		if (poll(fds, 4, -1) < 0 && errno != EINTR) return 1;
		if (fds[2].revents & (POLLIN | POLLHUP)) logcap_pump(1, 0);
		if (fds[3].revents & (POLLIN | POLLHUP)) logcap_pump(2, 0);
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {}
		}
		if (h->notify >= 0 && (fds[1].revents & POLLIN)) notify_receive(h->notify);
	}
}
