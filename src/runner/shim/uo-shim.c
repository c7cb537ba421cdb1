/*
 * uo-shim: holds one process of a unit-operator service (the containerd-shim / conmon pattern).
 *
 *   uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]
 *   uo-shim --lock FILE AGENT_PID [--wait]     (a helper of the agent: lock.c)
 *   uo-shim --ns-hold TYPES AGENT_PID          (a helper: the exec runtime's namespaces, nsrt.c)
 *   uo-shim --cgroup-bpf DIR < COMMANDS        (a helper of the agent: cgroup-bpf.c, the
 *                                              IPAddressAllow=/Deny=, SocketBindAllow=/Deny= programs)
 *   uo-shim --fork-server DIR LOCKFILE AGENT_PID TOKEN
 *                                              (the agent's fork server: forksrv.c)
 *   uo-shim --punch FILE END                   (a helper: frees an event log's read part, punch.c)
 *   uo-shim --features                         prints what this shim can do, one word a line
 *                                              ("namespaces": UO_SHIM_NAMESPACES), so that
 *                                              the agent never relies on a setting an older
 *                                              shim would ignore
 *
 * It becomes a child subreaper, forks the command into its own session with the execution
 * settings given in UO_SHIM_* environment variables, and appends one line per happening to
 * EVENTS_FILE, so that the agent can die and come back without losing anything.
 *
 * Modules, one concern each:
 *   uo-shim.c      this: arguments, the holder's set-up, fork
 *   hold.c         the holder once the command runs: a re-exec into a fresh image, the reaping loop
 *   events.c       the event log and its line format
 *   exec.c         the child's set-up in systemd's order, execve(), the report to the shim
 *   cgroup.c       the command into its unit's cgroup, the shim into the holders' (UO_SHIM_*CGROUPS)
 *   hostns.c       the shim into another process's (the host's) namespaces (UO_SHIM_NAMESPACES)
 *   exec-stdio.c   StandardInput=/Output=/Error= (UO_SHIM_STDIN, _STDOUT, _STDERR)
 *   exec-sched.c   OOMScoreAdjust=, CPUScheduling*=, Nice=, CPUAffinity=, IOScheduling*=
 *   exec-creds.c   UMask=, Limit*=, Group=, User=
 *   sandbox.c      the private mount namespace: ProtectSystem=, PrivateTmp=... (UO_SHIM_SANDBOX)
 *   nsrt.c         the exec runtime's namespaces (JoinsNamespaceOf=, PrivateIPC=...), PrivateUsers=
 *   privs.c        PrivateNetwork=, CapabilityBoundingSet=, AmbientCapabilities=, NoNewPrivileges=
 *   seccomp.c      the seccomp programs of src/runner/seccomp.ts (SystemCallFilter=, RestrictAddressFamilies=...)
 *   exit-status.c  systemd's exit statuses and step names
 *   notify.c       the sd_notify socket (UO_SHIM_NOTIFY_SOCKET)
 *   logcap.c       stdout/stderr capture into a rotated log (UO_SHIM_LOG, UO_SHIM_LOG_MAX)
 *   lock.c         --lock: the agent's one-agent-per-state-folder lock (flock, held for it)
 *   cgroup-bpf.c   --cgroup-bpf: loads and attaches the agent's cgroup BPF programs (bpf(2))
 *   forksrv.c      --fork-server: forks and executes shims for the agent on request (issue 19)
 *   punch.c        --punch: deallocates the part of an event log the agent has read and saved
 *
 * Built from every .c file in this folder (src/runner/shim.ts).
 */
#define _GNU_SOURCE
#include "cgroup.h"
#include "cgroup-bpf.h"
#include "events.h"
#include "exec.h"
#include "exit-status.h"
#include "fds.h"
#include "forksrv.h"
#include "hold.h"
#include "hostns.h"
#include "lock.h"
#include "removeipc.h"
#include "logcap.h"
#include "notify.h"
#include "nsrt.h"
#include "punch.h"
#include "standby.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int start(char **argv) __attribute__((noinline));

int main(int argc, char **argv) {
	/* a helper mode, not a shim: the agent's state-folder lock (lock.c) */
	if (argc >= 2 && strcmp(argv[1], "--lock") == 0) return lock_main(argc, argv);
	/* other helper modes: a holder of the exec runtime's namespaces (nsrt.c), RemoveIPC= (removeipc.c), the cgroup BPF loader (cgroup-bpf.c) */
	if (argc >= 2 && strcmp(argv[1], "--ns-hold") == 0) return nsrt_hold_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--remove-ipc") == 0) return removeipc_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--cgroup-bpf") == 0) return cgroup_bpf_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--fork-server") == 0) return forksrv_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--punch") == 0) return punch_main(argc, argv);
	if (argc == 2 && strcmp(argv[1], "--features") == 0) { printf("namespaces\nsandbox\nprivs\nprivs2\nprivs3\nremove-ipc\nhold\nnsrt\ncgroup-bpf\ncgroup-bpf-device\nfork-server\nnot-before\nstandby\npunch\n"); return 0; }
	if (argc < 5 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]\n");
		return 2;
	}
	/* the same shim re-executed once its command runs (hold.c): only the reaping loop */
	struct hold h = { .events = -1, .notify = -1, .out = -1, .err = -1, .log_dir = AT_FDCWD, .next = -1 };
	int held = hold_adopt(&h);
	if (held < 0) return 1;
	if (held) {
		if (h.notify >= 0) notify_set_unit(argv[1]);
		return hold_loop(&h);
	}
	return start(argv);
}

/* The holder's set-up, the fork, the command's report; then hold mode (hold.c). Not inlined:
 * its buffers stay out of the stack frame that a holder keeps (main's). */
static int start(char **argv) {
	struct hold h = { .events = -1, .notify = -1, .out = -1, .err = -1, .log_dir = AT_FDCWD, .next = -1 };
	/* nothing inherited reaches the command (fds.c): before the shim opens anything of its own */
	if (close_inherited_fds() < 0) { perror("uo-shim: closing inherited descriptors"); return 1; }
	if (events_open(argv[1]) < 0) { perror("uo-shim: events file"); return 1; }
	prctl(PR_SET_NAME, "uo-shim"); /* started by the fork server through its descriptor, exec() named it by the number */
	/* our own executable, for the re-exec into hold mode, opened before any namespace is entered */
	int self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the shim must survive the signals sent to the unit's processes */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	emit("shim %d", (int)getpid());

	/* What is the agent's is opened in the agent's view first: the event log (above), the
	 * cgroup folders, the log's folder; then the host's namespaces are entered (hostns.c). */
	static struct cgroup_dirs holder_dirs, unit_dirs;
	/* a standby (standby.c): its hand-over folder; and the hand-over folder of the next run's standby */
	if (standby_open(getenv("UO_SHIM_STANDBY"), getenv("UO_SHIM_STANDBY_AGENT"), getenv("UO_SHIM_STANDBY_SEQ"), getenv("UO_SHIM_STANDBY_AFTER")) < 0) { perror("uo-shim: standby folder"); return 1; }
	h.next = next_open(getenv("UO_SHIM_NEXT"));
	cgroup_open_dirs(getenv("UO_SHIM_HOLDER_CGROUPS"), &holder_dirs);
	cgroup_open_dirs(getenv("UO_SHIM_CGROUPS"), &unit_dirs);
	logcap_init();
	int ns_err = 0;
	const char *ns = getenv("UO_SHIM_NAMESPACES");
	if (ns) {
		int r = hostns_enter(ns, NULL, 0);
		/* the command fails at step NAMESPACE (exec.c); nothing more is set up for it here */
		if (r < 0) ns_err = -r;
	}

	/* out of the agent's cgroup into the holders' (a pod's deletion must not kill the holder) */
	if (holder_dirs.n > 0 && !ns_err) {
		char dir[4096];
		int r = cgroup_join_dirs(&holder_dirs, dir, sizeof dir);
		if (r < 0) emit("note %d CGROUP %d %s", (int)getpid(), -r, dir);
	}
	cgroup_close_dirs(&holder_dirs);

	/* a standby waits here until the current run's holder or the agent takes it (standby.c):
	 * set up but for the notify socket (the current holder's until it ends) and the fork */
	if (standby_wait() < 0) return 0;

	/* bound in the namespaces the command runs in (the host's, with UO_SHIM_NAMESPACES) */
	const char *notify_path = getenv("UO_SHIM_NOTIFY_SOCKET");
	if (notify_path && *notify_path && !ns_err) h.notify = notify_open(notify_path);
	h.notify_path = notify_path;

	/* SIGCHLD stays blocked in the holder (hold.c reads it from a signalfd); the child unblocks it */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* Around fork(), the signals the holder ignores are blocked too: the child inherits the
	 * holder's SIG_IGN, and a SIGTERM sent to it before exec_child() restores SIG_DFL would be
	 * lost (the command then ran until TimeoutStopSec=). Blocked, it stays pending in the child
	 * and is delivered once exec_child() has restored the defaults and cleared the mask. */
	sigset_t around_fork = chld;
	sigaddset(&around_fork, SIGHUP);
	sigaddset(&around_fork, SIGINT);
	sigaddset(&around_fork, SIGTERM);
	sigprocmask(SIG_BLOCK, &around_fork, NULL);

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) { perror("uo-shim: pipe"); return 1; }
	int born = -1; /* with ns_err the command fails first, placed nowhere, as before */
	/* UO_SHIM_CGROUP_FORK: the unit's cgroup2 was killed through cgroup.kill and not made anew;
	 * Linux kills a child clone3()d into such a cgroup at birth (cgroup.c): fork(), then join */
	pid_t pid = ns_err || getenv("UO_SHIM_CGROUP_FORK") ? fork() : cgroup_fork_into(&unit_dirs, &born);
	if (pid == 0) { close(p[0]); exec_child(p[1], argv[3], argv + 4, ns_err, &unit_dirs, born); }
	/* the holder: back to SIGCHLD alone blocked (what was sent to it meanwhile is ignored) */
	sigprocmask(SIG_SETMASK, &chld, NULL);
	if (pid < 0) { emit("exec-failed 0 %d %d %s", errno, UO_EXIT_EXEC, exit_status_step(UO_EXIT_EXEC)); emit("empty"); return 1; }
	close(p[1]);
	cgroup_close_dirs(&unit_dirs);
	logcap_close_writers();
	emit("spawn %d", (int)pid);
	exec_collect(p[0], (int)pid);

	h.events = events_fd_get();
	h.out = logcap_reader(1);
	h.err = logcap_reader(2);
	h.log_dir = logcap_dir();
	hold_exec(self_fd, argv, &h);
	/* the re-exec failed: hold here */
	if (self_fd >= 0) close(self_fd);
	if (h.notify >= 0) notify_set_unit(argv[1]);
	return hold_loop(&h);
}
