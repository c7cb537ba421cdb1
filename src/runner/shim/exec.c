/*
 * exec: the command's set-up between fork() and execve(), in the order of systemd's
 * exec_invoke() (src/core/exec-invoke.c), each step failing with systemd's exit status
 * (exit-status.h):
 *
 *   UO_SHIM_NAMESPACES: the holder could not enter them (hostns.c): nothing else is tried
 *     (the holder entered them before fork(); the command inherits them)  NAMESPACE 226
 *   UO_SHIM_CGROUPS: the unit's cgroup, or the base slice, in every hierarchy (cgroup.c; born in the cgroup2 one
 *     by clone3() where the kernel does it)                    CGROUP 219
 *   signal mask and dispositions reset                      SIGNAL_MASK 207
 *   UO_SHIM_IGNORE_SIGPIPE: SIGPIPE ignored unless "0" (IgnoreSIGPIPE=, default yes)
 *   setsid(): own session and process group                 SETSID 220
 *   UO_SHIM_FAIL=STATUS: the agent could not resolve User=/Group= (USER 217, GROUP 216)
 *   UO_SHIM_ROOT: chroot into the host's root (agent in a container; --host-root, the older
 *     way: UO_SHIM_NAMESPACES replaces it)                    CHDIR 200
 *   UO_SHIM_UMASK (here, not after stdio as in systemd: it also sets the mode of the files
 *     StandardOutput= creates, 0644 & ~umask, as before)
 *   UO_SHIM_STDIN, UO_SHIM_STDOUT, UO_SHIM_STDERR           STDIN 208, STDOUT 209, STDERR 222
 *   UO_SHIM_OOM_SCORE_ADJUST (EPERM/EACCES: noted, skipped) OOM_ADJUST 206
 *   UO_SHIM_CPUSCHED                                        SETSCHEDULER 214
 *   UO_SHIM_NICE (after the policy, which resets it)        NICE 201
 *   UO_SHIM_CPU_AFFINITY                                    CPUAFFINITY 215
 *   UO_SHIM_IOSCHED                                         IOPRIO 211
 *   UO_SHIM_KEYRING: KeyringMode= (privs.c), "+" commands too  KEYRING 237
 *   UO_SHIM_RLIMIT_*                                        LIMITS 205
 *   UO_SHIM_JOIN_NS, UO_SHIM_NETNS_PATH, UO_SHIM_IPCNS_PATH: the exec runtime's network and IPC
 *     namespaces, or the ones at a path (nsrt.c)            NETWORK 225, NAMESPACE 226
 *   UO_SHIM_SANDBOX: PrivatePIDs= first (the process forks PID 1 of a PID namespace, which
 *     goes on, reports its PID: the holder says "spawn PID" a second time, and ends), then a
 *     private mount namespace, ProtectSystem= & co (sandbox.c; after the host's namespaces,
 *     before the groups as systemd: its nodes are the host root's)  NAMESPACE 226
 *   UO_SHIM_PROTECT_HOSTNAME: a UTS namespace and its seccomp programs (privs.c)
 *                                                           NAMESPACE 226, SECCOMP 228
 *   UO_SHIM_GROUPS, UO_SHIM_GID                             GROUP 216
 *   UO_SHIM_PRIVATE_USERS: a user namespace (nsrt.c)       USER 217
 *   UO_SHIM_RTPRIO_ZERO (RestrictRealtime=)                 LIMITS 205
 *   UO_SHIM_ROOT_DIRECTORY: chroot (RootDirectory=)         CHROOT 210
 *   UO_SHIM_CAPBSET, UO_SHIM_AMBIENT (privs.c; UO_SHIM_PRIVATE_NETWORK before the mount
 *     namespace: NETWORK 225)                                 CAPABILITIES 218
 *   UO_SHIM_UID (keep-caps around it for ambient capabilities) USER 217
 *   UO_SHIM_CWD inside the new root, "/" when absent; a leading '-' ignores a failure
 *     (and leaves the command in "/")                       CHDIR 200
 *   UO_SHIM_SECUREBITS (0 without), UO_SHIM_NNP                          SECUREBITS 213, NO_NEW_PRIVILEGES 227
 *   UO_SHIM_* removed from the environment (the service's own UO_SHIM_* variables, passed as
 *   UO_SHIM_SERVICE_ENV_<n>=NAME=VALUE, put back), WATCHDOG_PID set
 *   UO_SHIM_NOT_BEFORE=NS: the process waits until CLOCK_MONOTONIC reaches NS (at most
 *     NOT_BEFORE_MAX_NS ahead): an automatic restart the agent prepared ahead of its RestartSec=
 *     deadline execs at the deadline, not after the agent's and this set-up's latency (issue 19)
 *   UO_SHIM_SECCOMP_AF, UO_SHIM_SECCOMP (seccomp.c)          ADDRESS_FAMILIES 232, SECCOMP 228
 *   execve(), PATH searched in a fixed list for a bare name EXEC 203
 *
 * Report protocol on the close-on-exec pipe to the shim: fixed-size records (one write()
 * each, below PIPE_BUF), a failure last; end of file with no failure means execve() worked.
 *
 * The process may come from a raw clone3() (cgroup.c cgroup_fork_into()): libc's thread
 * descriptor still holds the holder's TID (musl caches it), so nothing before execve() may use
 * raise(), abort(), pthread_kill() or other calls that signal "the calling thread" by that TID
 * (they would signal the holder). fork() (PrivatePIDs=, sandbox.c) resets it.
 */
#define _GNU_SOURCE
#include "exec.h"
#include "cgroup.h"
#include "events.h"
#include "exec-creds.h"
#include "exec-sched.h"
#include "exec-stdio.h"
#include "exit-status.h"
#include "nsrt.h"
#include "privs.h"
#include "seccomp.h"
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { REPORT_FAIL = 1, REPORT_NOTE = 2, REPORT_NOTE_VALUE = 3, REPORT_PID = 4, REPORT_CGROUP = 5, REPORT_HELD = 6 };
/* REPORT_CGROUP's value: the refusing folder's index, this bit set when the file written was tasks (v1) */
#define REPORT_CGROUP_TASKS 0x10000
struct report { int kind, err, status, value; };

static int report_fd = -1;

static void fail(int err, int status) __attribute__((noreturn));
static void fail(int err, int status) {
	struct report r = { REPORT_FAIL, err, status, 0 };
	(void)!write(report_fd, &r, sizeof r);
	_exit(status);
}

static void note(int status, int err, int kind, int value) {
	struct report r = { kind, err, status, value };
	(void)!write(report_fd, &r, sizeof r);
}

/* Runs a step returning 0 or -errno; fails with status on an error. */
static void step(int r, int status) {
	if (r < 0) fail(-r, status);
}

/* the prefix under which the agent passes the service's own UO_SHIM_* variables (shimproto.ts) */
#define UO_SHIM_SERVICE_ENV "UO_SHIM_SERVICE_ENV_"

static const char *search_path[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };

static void clean_environment(void) {
	/* drop our own settings from the environment the command sees; the service's own UO_SHIM_*
	 * variables (Environment=, EnvironmentFile=...) never reached us under their names, which are
	 * our settings: they came as UO_SHIM_SERVICE_ENV_<n>=NAME=VALUE and are put back as
	 * NAME=VALUE (in place: unsetenv() would remove a put-back variable of the same name) */
	const size_t service_len = strlen(UO_SHIM_SERVICE_ENV);
	char **out = environ;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, UO_SHIM_SERVICE_ENV, service_len) == 0) {
			char *assignment = strchr(*e, '=');
			const char *eq = assignment ? strchr(assignment + 1, '=') : NULL;
			if (eq && eq > assignment + 1) *out++ = assignment + 1;
		} else if (strncmp(*e, "UO_SHIM_", 8) != 0) *out++ = *e;
	}
	*out = NULL;
	/* sd_watchdog_enabled() checks that WATCHDOG_PID is the caller's own PID */
	if (getenv("WATCHDOG_USEC")) {
		char me[32];
		snprintf(me, sizeof me, "%d", (int)getpid());
		setenv("WATCHDOG_PID", me, 1);
	}
}

/* the most UO_SHIM_NOT_BEFORE may lie ahead: the agent's lead is 30-100 ms (restartlead.ts); a later time is cut to this */
#define NOT_BEFORE_MAX_NS 1000000000ULL

/* waits until CLOCK_MONOTONIC reaches `v` (decimal nanoseconds); nothing when absent or malformed.
 * Reports how early it got here (REPORT_HELD, µs; negative: late), the measure by which the agent
 * sizes its restart lead (unit.ts, restartlead.ts) */
static void hold_until(const char *v) {
	if (!v || !*v) return;
	char *end;
	errno = 0;
	unsigned long long at = strtoull(v, &end, 10);
	if (errno || *end) return;
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0) return;
	unsigned long long n = (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec;
	long long slack = at >= n ? (long long)((at - n) / 1000ULL) : -(long long)((n - at) / 1000ULL);
	if (slack > 1000000000LL) slack = 1000000000LL;
	if (slack < -1000000000LL) slack = -1000000000LL;
	note(0, 0, REPORT_HELD, (int)slack);
	if (at <= n) return;
	if (at - n > NOT_BEFORE_MAX_NS) at = n + NOT_BEFORE_MAX_NS;
	struct timespec t = { .tv_sec = (time_t)(at / 1000000000ULL), .tv_nsec = (long)(at % 1000000000ULL) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

static void exec_command(const char *path, char **argv) __attribute__((noreturn));
static void exec_command(const char *path, char **argv) {
	if (strchr(path, '/')) {
		execve(path, argv, environ);
		fail(errno, UO_EXIT_EXEC);
	}
	int err = ENOENT;
	for (int i = 0; search_path[i]; i++) {
		char full[4096];
		snprintf(full, sizeof full, "%s/%s", search_path[i], path);
		execve(full, argv, environ);
		if (errno != ENOENT) err = errno;
	}
	fail(err, UO_EXIT_EXEC);
}

void exec_child(int fd, const char *path, char **argv, int ns_err, const struct cgroup_dirs *cgroups, int born) {
	report_fd = fd;
	const char *not_before = getenv("UO_SHIM_NOT_BEFORE"); /* read before clean_environment() drops it */
	const unsigned saved_uid = (unsigned)getuid(), saved_gid = (unsigned)getgid(); /* PrivateUsers= maps them (nsrt.c) */
	/* the host's namespaces, which the holder failed to enter: nothing runs half inside the agent's */
	if (ns_err) fail(ns_err, UO_EXIT_NAMESPACE);
	/* the process joins its unit's cgroup before anything else (systemd: cg_attach_everywhere());
	 * which folder refused it goes first (the holder names it: "note PID CGROUP ERRNO DIR") */
	if (cgroups->n > 0) {
		int at = -1, r = cgroup_join_index(cgroups, born, &at);
		if (r < 0) { note(UO_EXIT_CGROUP, -r, REPORT_CGROUP, at | (strcmp(cgroup_join_file(cgroups, at), "tasks") == 0 ? REPORT_CGROUP_TASKS : 0)); fail(-r, UO_EXIT_CGROUP); }
	}
	/* defaults first, then the mask cleared: a SIGTERM the agent sent since fork() is pending
	 * (the holder blocked it around fork()) and now ends the process instead of being ignored */
	for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) fail(errno, UO_EXIT_SIGNAL_MASK);
	/* IgnoreSIGPIPE= (default yes): an ignored disposition survives execve() */
	const char *sigpipe = getenv("UO_SHIM_IGNORE_SIGPIPE");
	if ((!sigpipe || strcmp(sigpipe, "0") != 0) && signal(SIGPIPE, SIG_IGN) == SIG_ERR) fail(errno, UO_EXIT_SIGNAL_MASK);
	if (setsid() < 0) fail(errno, UO_EXIT_SETSID);

	/* the agent could not resolve the credentials (unknown User=/Group=): fail as systemd does */
	const char *failure = getenv("UO_SHIM_FAIL");
	if (failure) fail(ESRCH, atoi(failure));

	const char *oom = getenv("UO_SHIM_OOM_SCORE_ADJUST");
	if (oom) oom_prepare(oom);
	/* the agent runs in a container with the host's root at UO_SHIM_ROOT: run the command there */
	const char *root = getenv("UO_SHIM_ROOT");
	if (root && *root && (chroot(root) < 0 || chdir("/") < 0)) fail(errno, UO_EXIT_CHDIR);
	creds_umask(getenv("UO_SHIM_UMASK"));

	const char *in = getenv("UO_SHIM_STDIN"), *out = getenv("UO_SHIM_STDOUT"), *err = getenv("UO_SHIM_STDERR");
	step(stdio_input(in, out, err), UO_EXIT_STDIN);
	step(stdio_output(out, 1, in, NULL), UO_EXIT_STDOUT);
	step(stdio_output(err, 2, in, out), UO_EXIT_STDERR);

	if (oom) {
		int r = oom_apply();
		if (r == -EPERM || r == -EACCES) note(UO_EXIT_OOM_ADJUST, -r, REPORT_NOTE, 0);
		else step(r, UO_EXIT_OOM_ADJUST);
	}
	const char *v;
	if ((v = getenv("UO_SHIM_CPUSCHED"))) step(cpusched_apply(v), UO_EXIT_SETSCHEDULER);
	if ((v = getenv("UO_SHIM_NICE"))) {
		int applied, r = nice_apply(v, &applied);
		if (r > 0) note(UO_EXIT_NICE, r, REPORT_NOTE_VALUE, applied);
		else step(r, UO_EXIT_NICE);
	}
	if ((v = getenv("UO_SHIM_CPU_AFFINITY")) && *v) step(affinity_apply(v), UO_EXIT_CPUAFFINITY);
	if ((v = getenv("UO_SHIM_IOSCHED"))) step(ioprio_apply(v), UO_EXIT_IOPRIO);

	step(privs_keyring(), UO_EXIT_KEYRING); /* KeyringMode= (privs.c): before the sandbox, as systemd's setup_keyring() */
	step(creds_limits(), UO_EXIT_LIMITS);
	step(privs_network(), UO_EXIT_NETWORK); /* PrivateNetwork= (privs.c, issue 15): before the mount namespace, as systemd */
	int nstatus, nr = nsrt_join(&nstatus); /* the runtime's network and IPC namespaces, or the ones at a path (nsrt.c) */
	if (nr < 0) fail(-nr, nstatus);
	if ((v = getenv("UO_SHIM_SANDBOX"))) {
		/* PrivatePIDs= (sandbox.c): the command goes on as PID 1 of a PID namespace, forked here;
		 * this process reports its PID (as the host sees it) and ends */
		int pid1 = sandbox_private_pids(v);
		if (pid1 < 0) fail(-pid1, UO_EXIT_NAMESPACE);
		if (pid1 > 0) {
			struct report r = { REPORT_PID, 0, 0, pid1 };
			(void)!write(report_fd, &r, sizeof r);
			_exit(0);
		}
		step(sandbox_apply(v), UO_EXIT_NAMESPACE);
	}
	int ustatus, ur = privs_uts(&ustatus); /* ProtectHostname= (privs.c): after the mount namespace, as systemd */
	if (ur < 0) fail(-ur, ustatus);
	const char *uid = getenv("UO_SHIM_UID");
	step(creds_groups(getenv("UO_SHIM_GROUPS"), getenv("UO_SHIM_GID"), uid), UO_EXIT_GROUP);
	/* PrivateUsers= (nsrt.c): after the groups, before the capabilities and the user change, as systemd 257 privileged */
	if ((nr = nsrt_private_users(uid, getenv("UO_SHIM_GID"), saved_uid, saved_gid, &nstatus)) < 0) fail(-nr, nstatus);
	step(privs_rtprio(), UO_EXIT_LIMITS); /* RestrictRealtime=: RLIMIT_RTPRIO 0 (privs.c) */
	step(privs_bounding(), UO_EXIT_CAPABILITIES); /* CapabilityBoundingSet=, AmbientCapabilities= (privs.c) */
	/* RootDirectory=: chroot while we still may; the working directory is found inside it */
	/* (with a mount namespace the root is already the command's /: sandbox.c moved it there, as systemd) */
	if (!sandbox_rooted() && (v = getenv("UO_SHIM_ROOT_DIRECTORY")) && *v && (chroot(v) < 0 || chdir("/") < 0)) fail(errno, UO_EXIT_CHROOT);
	step(privs_before_user(uid), UO_EXIT_USER); /* keep-caps through setresuid() for AmbientCapabilities= */
	step(creds_user(uid), UO_EXIT_USER);
	step(privs_after_user(uid), UO_EXIT_CAPABILITIES);
	/* after the user change, as systemd: the directory may be reachable by that user only */
	const char *cwd = getenv("UO_SHIM_CWD");
	if (!cwd) cwd = "/";
	int optional = cwd[0] == '-';
	if (chdir(cwd + optional) < 0) {
		if (!optional) fail(errno, UO_EXIT_CHDIR);
		(void)!chdir("/");
	}

	/* secure bits, NoNewPrivileges=, then the seccomp programs last (privs.c, seccomp.c; issue 15) */
	int pstatus;
	int pr = privs_late(&pstatus);
	if (pr < 0) fail(-pr, pstatus);
	if ((pr = seccomp_prepare(&pstatus)) < 0) fail(-pr, pstatus);
	clean_environment();
	/* the set-up is done: a prepared restart waits for its deadline here (a stop meanwhile ends it:
	 * the signal dispositions are the defaults by now) */
	hold_until(not_before);
	if ((pr = seccomp_install(&pstatus)) < 0) fail(-pr, pstatus);
	exec_command(path, argv);
}

void exec_collect(int fd, int pid) {
	struct report r;
	int failed = 0, held = 0, slack = 0;
	for (;;) {
		ssize_t n = read(fd, &r, sizeof r);
		if (n < 0 && errno == EINTR) continue;
		if (n != (ssize_t)sizeof r) break;
		if (r.kind == REPORT_FAIL) {
			emit("exec-failed %d %d %d %s", pid, r.err, r.status, exit_status_step(r.status));
			failed = 1;
		} else if (r.kind == REPORT_PID && r.value > 0) {
			/* PrivatePIDs=: the command goes on in this process (the forked one ends): a second "spawn" */
			pid = r.value;
			emit("spawn %d", pid);
		} else if (r.kind == REPORT_HELD) { held = 1; slack = r.value; }
		else if (r.kind == REPORT_NOTE) emit("note %d %s %d", pid, exit_status_step(r.status), r.err);
		else if (r.kind == REPORT_NOTE_VALUE) emit("note %d %s %d %d", pid, exit_status_step(r.status), r.err, r.value);
		else if (r.kind == REPORT_CGROUP) {
			/* the unit's cgroup folder that refused the command (UO_SHIM_CGROUPS, line r.value), and the file */
			const char *dir = NULL;
			int len = cgroup_list_line(getenv("UO_SHIM_CGROUPS"), r.value & 0xffff, &dir);
			if (len > 0) emit("note %d CGROUP %d %.*s/%s", pid, r.err, len, dir, (r.value & REPORT_CGROUP_TASKS) ? "tasks" : "cgroup.procs");
		}
	}
	close(fd);
	if (failed) return;
	if (held) emit("exec %d %d", pid, slack);
	else emit("exec %d", pid);
}
