/*
 * forksrv: `uo-shim --fork-server DIR LOCKFILE AGENT_PID TOKEN`, the agent's fork server (issue 19).
 *
 * Forking the agent (a Node process of tens of MB) for every shim costs a restart most of its
 * time; this small process forks and executes shims for the agent instead, on request over a
 * unix socket. It is root (the agent's uid) and runs what it is asked, so (issue 9's rules):
 *
 *   - the socket is DIR/sock, mode 0600, in DIR, a folder of the agent's uid with no access for
 *     group and others (made 0700 here; a folder of another owner, or open to others, is refused);
 *   - a peer is served only when SO_PEERCRED says it runs as this uid and is the agent: AGENT_PID
 *     (the agent that started the server) or the PID that LOCKFILE (the state folder's agent.lock,
 *     a regular file of this uid, src/agent/lock.ts) names while it is locked — a later agent on
 *     the same state folder, which re-uses a server that outlived its predecessor;
 *   - a request is read whole (bounded: FORKSRV_MAX_REQUEST bytes) and checked before anything
 *     runs; a malformed one is answered with an error line and the connection closed: nothing is
 *     half-executed.
 *
 * Protocol (lines end with \n):
 *   server: uo-fork-server VERSION TOKEN PID   on a peer's connection, once it is accepted
 *   agent:  spawn ID NARGS NENV BYTES          then BYTES bytes: NARGS arguments and NENV
 *                                              "NAME=value" strings, each ended by a NUL
 *   server: ok ID PID | error ID TEXT          the shim's PID once it has exec()ed (or why not)
 *                                              (in the order the execs end: requests are
 *                                              served while earlier shims are still exec()ing)
 *   server: exit PID                           a shim this server started was reaped
 *   agent:  quit                               the server answers "bye" and exits (a newer
 *                                              agent replacing it: TOKEN or VERSION differ)
 *   server: error - TEXT                       a malformed request: the connection is closed
 *
 * The shim is this server's own executable (opened at start, so what TOKEN names), started as
 * the agent's spawn() started it: its own session, stdin/stdout/stderr on /dev/null, default
 * signal dispositions and an empty mask, exactly the environment and argv given. The server
 * joins the holders' cgroup (UO_SHIM_HOLDER_CGROUPS) like a shim, so a pod's deletion does not
 * end it, and it exits once DIR/sock is no longer its socket (removed, or re-bound by another).
 */
#define _GNU_SOURCE
#include "forksrv.h"
#include "fds.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKSRV_VERSION 1
#define FORKSRV_MAX_REQUEST (8u << 20) /* 8 MiB: above the kernel's argument limit (ARG_MAX) */
#define FORKSRV_MAX_STRINGS 65536
#define HEADER_MAX 128

static int self_fd = -1, client = -1;
static const char *token, *lock_file;
static long agent_pid;
static char header[HEADER_MAX];
static size_t header_len;
static char *payload;
static size_t payload_len, payload_have;
static unsigned long req_id, req_args, req_env;

/*
 * What is said to the client: sent at once where the socket takes it, else queued and sent as
 * the socket drains (POLLOUT in the main loop), so a busy agent that reads late (a crash storm
 * of 1,000 units: hundreds of "ok" and "exit" lines a second) is never waited for, nor dropped:
 * forks go on meanwhile. Only an agent that lets OUTQ_MAX bytes pile up is dropped (it reads
 * nothing at all). Issue 19: the one-second wait this replaced dropped a busy agent, whose
 * unanswered requests then went down its slow path (spawn(), a /proc scan per request).
 */
#define OUTQ_MAX (16u << 20)
static char *outq;
static size_t outq_len, outq_off, outq_cap;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Shims forked whose exec() has not been reported yet (issue 19): the server serves the next
 * request meanwhile, and answers each once its report pipe says how the exec went. Waiting for
 * each exec in turn made the shims of a burst wait for each other: under load a fork and exec
 * take ~5-20 ms, and the 16th shim of a batch got its PID 100-300 ms after its request. Each is
 * answered only to the connection that asked (a dropped agent's answers are not said to the next).
 */
#define INFLIGHT_MAX 64
static struct { unsigned long id; pid_t pid; int fd; unsigned long gen; } inflight[INFLIGHT_MAX];
static int n_inflight;
/* The connection's generation: bumped when a client is dropped. */
static unsigned long client_gen;

static void drop_client(void) {
	client_gen++;
	if (client >= 0) close(client);
	client = -1;
	free(payload);
	payload = NULL;
	header_len = payload_len = payload_have = 0;
	outq_len = outq_off = 0;
}

/* Sends what is queued, as much as the socket takes now; drops a client whose socket failed. */
static void flush_out(void) {
	while (client >= 0 && outq_off < outq_len) {
		ssize_t w = send(client, outq + outq_off, outq_len - outq_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR) continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
		if (w <= 0) { drop_client(); return; }
		outq_off += (size_t)w;
	}
	outq_len = outq_off = 0;
}

/* Before the server exits or closes: what is queued, waiting at most a second for the client. */
static void flush_out_now(void) {
	for (int i = 0; client >= 0 && outq_off < outq_len && i < 10; i++) {
		flush_out();
		struct pollfd pf = { .fd = client, .events = POLLOUT };
		if (client >= 0 && outq_off < outq_len && poll(&pf, 1, 100) < 0 && errno != EINTR) return;
	}
}

#include <stdarg.h>
static void say(const char *fmt, ...) {
	if (client < 0) return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if ((size_t)n >= sizeof line) { n = sizeof line - 1; line[n - 1] = '\n'; }
	if (outq_len - outq_off + (size_t)n > OUTQ_MAX) { drop_client(); return; }
	if (outq_off > 0 && outq_off == outq_len) outq_len = outq_off = 0;
	if (outq_len + (size_t)n > outq_cap) {
		/* the unsent part moves to the front first; the buffer grows only when that is not enough */
		memmove(outq, outq + outq_off, outq_len - outq_off);
		outq_len -= outq_off;
		outq_off = 0;
		if (outq_len + (size_t)n > outq_cap) {
			size_t cap = outq_cap ? outq_cap : 4096;
			while (cap < outq_len + (size_t)n) cap *= 2;
			char *q = realloc(outq, cap);
			if (!q) { drop_client(); return; }
			outq = q;
			outq_cap = cap;
		}
	}
	memcpy(outq + outq_len, line, (size_t)n);
	outq_len += (size_t)n;
	flush_out();
}

/* The PID LOCKFILE names while it is locked (a regular file of this uid), else 0. */
static long lock_holder(void) {
	int fd = open(lock_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) return 0;
	struct stat st;
	long pid = 0;
	char buf[32];
	ssize_t n;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (n = pread(fd, buf, sizeof buf - 1, 0)) > 0) {
		buf[n] = 0;
		pid = strtol(buf, NULL, 10);
		/* a shared lock we could take means no agent holds it: the PID in it is stale */
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) { flock(fd, LOCK_UN); pid = 0; }
	}
	close(fd);
	return pid > 1 ? pid : 0;
}

/* Why a peer may not talk to this server, or NULL. */
static const char *refused(int fd) {
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) return "no peer credentials";
	if (cr.uid != geteuid()) return "the peer does not run as the agent's uid";
	if (cr.pid != agent_pid && cr.pid != lock_holder()) return "the peer is not the agent (its PID is neither the server's agent nor the one holding the state folder's lock)";
	return NULL;
}

static void accept_peer(int listener) {
	int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) return;
	const char *why = refused(fd);
	if (why) {
		char line[256];
		int n = snprintf(line, sizeof line, "error - refused: %s\n", why);
		if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* gone already */ }
		close(fd);
		return;
	}
	drop_client(); /* one agent at a time: the one holding the lock now */
	client = fd;
	say("uo-fork-server %d %s %ld\n", FORKSRV_VERSION, token, (long)getpid());
}

/* The holders' cgroup list this server joined in every hierarchy (NULL: none, or not all): a
 * shim asked to join the same list is born there, and its copy of the variable is emptied, so it
 * does not move itself where it is (a cgroup.procs write on cgroup2 waits for an RCU grace
 * period after a quiet spell: cgroup.c) */
static const char *born_in_holders;

/* In the child: UO_SHIM_HOLDER_CGROUPS=<born_in_holders> becomes UO_SHIM_HOLDER_CGROUPS= */
static void drop_joined_holders(char **envp) {
	static const char name[] = "UO_SHIM_HOLDER_CGROUPS=";
	if (!born_in_holders) return;
	for (char **e = envp; *e; e++) {
		if (strncmp(*e, name, sizeof name - 1) == 0 && strcmp(*e + sizeof name - 1, born_in_holders) == 0) (*e)[sizeof name - 1] = 0;
	}
}

/* How the exec of in-flight shim i went (its pipe: end of file, it exec()ed; an errno, it did not),
 * said to the client that asked; waits for it (at once when the pipe is readable or the shim is gone). */
static void finish(int i) {
	int err = 0;
	ssize_t r;
	while ((r = read(inflight[i].fd, &err, sizeof err)) < 0 && errno == EINTR) {}
	close(inflight[i].fd);
	unsigned long id = inflight[i].id, gen = inflight[i].gen;
	pid_t pid = inflight[i].pid;
	inflight[i] = inflight[--n_inflight];
	if (gen != client_gen) return;
	if (r == sizeof err) say("error %lu exec: %s\n", id, strerror(err));
	else say("ok %lu %ld\n", id, (long)pid);
}

/* A reaped shim's exec is reported before its exit ("ok" before "exit PID"). */
static void finish_pid(pid_t pid) {
	for (int i = 0; i < n_inflight; i++) if (inflight[i].pid == pid) { finish(i); return; }
}

/* Starts the shim of the request in payload; it is answered once it has exec()ed (finish()). */
static void spawn_shim(void) {
	if (n_inflight == INFLIGHT_MAX) finish(0); /* bounded: the oldest is waited for */
	char **argv = calloc(req_args + 1, sizeof *argv), **envp = calloc(req_env + 1, sizeof *envp);
	if (!argv || !envp) { say("error %lu out of memory\n", req_id); free(argv); free(envp); return; }
	char *p = payload;
	for (unsigned long i = 0; i < req_args + req_env; i++) {
		if (i < req_args) argv[i] = p; else envp[i - req_args] = p;
		p += strlen(p) + 1;
	}
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0) { say("error %lu pipe: %s\n", req_id, strerror(errno)); free(argv); free(envp); return; }
	pid_t pid = fork();
	if (pid == 0) {
		close(report[0]);
		setsid();
		for (int s = 1; s < NSIG; s++) if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); }
		drop_joined_holders(envp);
		fexecve(self_fd, argv, envp);
		int e = errno;
		if (write(report[1], &e, sizeof e) < 0) { /* the server is gone */ }
		_exit(127);
	}
	int e = errno;
	close(report[1]);
	free(argv);
	free(envp);
	if (pid < 0) { close(report[0]); say("error %lu fork: %s\n", req_id, strerror(e)); return; }
	/* end of file: it exec()ed; an errno: it did not (reaped by the SIGCHLD loop): finish() says which */
	inflight[n_inflight].id = req_id;
	inflight[n_inflight].pid = pid;
	inflight[n_inflight].fd = report[0];
	inflight[n_inflight].gen = client_gen;
	n_inflight++;
}

/* Unsigned decimal without sign or leading zeros, at most max; -1 when not one. */
static long number(const char *s, unsigned long max) {
	if (!*s || (s[0] == '0' && s[1]) || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10) return -1;
	unsigned long v = strtoul(s, NULL, 10);
	return v <= max ? (long)v : -1;
}

static void malformed(const char *why) {
	say("error - malformed request: %s\n", why);
	flush_out_now();
	drop_client();
}

/* One header line (without its \n): 1 to go on reading, 0 when the connection ended. */
static int parse_header(void) {
	header[header_len] = 0;
	if (strcmp(header, "quit") == 0) { while (n_inflight > 0) finish(n_inflight - 1); say("bye\n"); flush_out_now(); exit(0); }
	char *f[6];
	int n = 0;
	for (char *s = header, *save = NULL, *t; n < 6 && (t = strtok_r(s, " ", &save)); s = NULL) f[n++] = t;
	if (n != 5 || strcmp(f[0], "spawn") != 0) { malformed("not \"spawn ID NARGS NENV BYTES\" nor \"quit\""); return 0; }
	long id = number(f[1], 0x7fffffff), args = number(f[2], FORKSRV_MAX_STRINGS), env = number(f[3], FORKSRV_MAX_STRINGS), bytes = number(f[4], ULONG_MAX);
	if (id < 0 || args < 1 || env < 0 || bytes < 0) { malformed("a field is not a number in its range"); return 0; }
	if ((unsigned long)bytes > FORKSRV_MAX_REQUEST) {
		char why[96];
		snprintf(why, sizeof why, "%ld bytes, more than %u", bytes, FORKSRV_MAX_REQUEST);
		malformed(why);
		return 0;
	}
	req_id = (unsigned long)id; req_args = (unsigned long)args; req_env = (unsigned long)env;
	payload_len = (size_t)bytes;
	payload_have = 0;
	payload = malloc(payload_len + 1);
	if (!payload) { malformed("out of memory"); return 0; }
	return 1;
}

/* The payload is whole: exactly NARGS + NENV NUL-ended strings, each "NAME=value" in the environment. */
static const char *check_payload(void) {
	size_t at = 0;
	for (unsigned long i = 0; i < req_args + req_env; i++) {
		char *end = memchr(payload + at, 0, payload_len - at);
		if (!end) return "fewer strings than NARGS + NENV";
		if (i >= req_args && (end == payload + at || payload[at] == '=' || !memchr(payload + at, '=', (size_t)(end - (payload + at)))))
			return "an environment string is not NAME=value";
		at = (size_t)(end - payload) + 1;
	}
	return at == payload_len ? NULL : "bytes after the last string";
}

/* Reads what the client sent; runs each request once it is whole. */
static void read_client(void) {
	char buf[65536];
	ssize_t r = recv(client, buf, sizeof buf, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { drop_client(); return; }
	for (ssize_t i = 0; i < r && client >= 0;) {
		if (!payload) {
			char c = buf[i++];
			if (c == '\n') { if (!parse_header()) return; if (payload_len > 0) continue; }
			else if (header_len + 1 >= HEADER_MAX) { malformed("a header line longer than 127 bytes"); return; }
			else if (c == 0) { malformed("a NUL in a header line"); return; }
			else { header[header_len++] = c; continue; }
		} else {
			size_t take = (size_t)(r - i) < payload_len - payload_have ? (size_t)(r - i) : payload_len - payload_have;
			memcpy(payload + payload_have, buf + i, take);
			payload_have += take;
			i += (ssize_t)take;
		}
		if (payload && payload_have == payload_len) {
			const char *why = check_payload();
			if (why) { malformed(why); return; }
			spawn_shim();
			free(payload);
			payload = NULL;
			header_len = payload_len = payload_have = 0;
		}
	}
}

/* Whether path is still the socket bound at start (dev, ino). */
static int still_ours(const char *path, const struct stat *bound) {
	struct stat st;
	return lstat(path, &st) == 0 && st.st_dev == bound->st_dev && st.st_ino == bound->st_ino;
}

int forksrv_main(int argc, char **argv) {
	if (argc != 6) { fprintf(stderr, "usage: uo-shim --fork-server DIR LOCKFILE AGENT_PID TOKEN\n"); return 2; }
	const char *dir = argv[2];
	lock_file = argv[3];
	agent_pid = number(argv[4], 0x7fffffff);
	token = argv[5];
	if (agent_pid < 2 || !*token || strlen(token) > 64 || strspn(token, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-_") != strlen(token)) {
		fprintf(stderr, "uo-shim --fork-server: bad AGENT_PID or TOKEN\n");
		return 2;
	}
	/* what the agent inherited stays with it: not in the server, nor in the shims it forks (fds.c) */
	if (close_inherited_fds() < 0) { perror("uo-shim --fork-server: closing inherited descriptors"); return 3; }
	self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (self_fd < 0) { perror("uo-shim --fork-server: /proc/self/exe"); return 3; }
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);

	/* out of the agent's cgroup into the holders' (a pod's deletion must not end it) */
	static struct cgroup_dirs holders;
	cgroup_open_dirs(getenv("UO_SHIM_HOLDER_CGROUPS"), &holders);
	if (holders.n > 0) {
		char failed[4096];
		int r = cgroup_join_dirs(&holders, failed, sizeof failed);
		if (r < 0) fprintf(stderr, "note: cannot join the holders' cgroup %s: %s\n", failed, strerror(-r));
		else born_in_holders = getenv("UO_SHIM_HOLDER_CGROUPS");
	}
	cgroup_close_dirs(&holders);

	/* DIR: this uid's, no access for anyone else */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) { fprintf(stderr, "uo-shim --fork-server: mkdir %s: %s\n", dir, strerror(errno)); return 3; }
	struct stat st;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		fprintf(stderr, "uo-shim --fork-server: %s is not a folder of uid %u closed to group and others (mode 0700): refused\n", dir, (unsigned)geteuid());
		return 3;
	}
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/sock", dir) >= sizeof addr.sun_path) {
		fprintf(stderr, "uo-shim --fork-server: %s/sock is longer than a socket address\n", dir);
		return 3;
	}
	int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(addr.sun_path); /* a dead server's, or one replaced (told to quit) */
	mode_t old = umask(0177);
	int b = listener < 0 ? -1 : bind(listener, (struct sockaddr *)&addr, sizeof addr);
	umask(old);
	struct stat bound;
	if (b < 0 || chmod(addr.sun_path, 0600) < 0 || listen(listener, 16) < 0 || lstat(addr.sun_path, &bound) < 0) {
		fprintf(stderr, "uo-shim --fork-server: %s: %s\n", addr.sun_path, strerror(errno));
		return 3;
	}

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

	/* ready: the agent connects; nothing more is said on stdout/stderr */
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); close(null); }

	for (;;) {
		struct pollfd fds[3 + INFLIGHT_MAX] = { { .fd = listener, .events = POLLIN }, { .fd = sfd, .events = POLLIN }, { .fd = client, .events = POLLIN | (outq_off < outq_len ? POLLOUT : 0) } };
		int polled = n_inflight;
		for (int i = 0; i < polled; i++) fds[3 + i] = (struct pollfd){ .fd = inflight[i].fd, .events = POLLIN };
		int n = poll(fds, 3 + (nfds_t)polled, 2000);
		if (n < 0 && errno != EINTR) return 1;
		if (!still_ours(addr.sun_path, &bound)) return 0;
		if (n <= 0) continue;
		/* from the last: finish(i) moves the last entry (already looked at) into i */
		for (int i = polled - 1; i >= 0; i--) if (fds[3 + i].revents & (POLLIN | POLLHUP | POLLERR)) finish(i);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {}
			int status;
			pid_t w;
			while ((w = waitpid(-1, &status, WNOHANG)) > 0) { finish_pid(w); say("exit %ld\n", (long)w); }
		}
		if (client >= 0 && (fds[2].revents & POLLOUT)) flush_out();
		if (client >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) read_client();
		if (fds[0].revents & POLLIN) accept_peer(listener);
	}
}
