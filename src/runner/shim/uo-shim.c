/*
 * uo-shim: holds one process of a unit-operator service (the containerd-shim / conmon pattern).
 *
 *   uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]
 *
 * It becomes a child subreaper, forks the command into its own process group with the
 * execution settings given in UO_SHIM_* environment variables, and appends one line per
 * happening to EVENTS_FILE, so that the agent can die and come back without losing anything:
 *
 *   shim PID                 the shim itself
 *   spawn PID                the command was forked
 *   exec PID                 execve() succeeded
 *   exec-failed PID ERRNO STATUS
 *   exit PID CODE STATUS     a process it reaped (the command or an orphaned descendant);
 *                            CODE is exited, killed or dumped
 *   notify PID MESSAGE       an sd_notify datagram (UO_SHIM_NOTIFY_SOCKET), newlines as \x1e
 *   empty                    nothing is left; the shim exits
 *
 * Settings: UO_SHIM_UID, UO_SHIM_GID, UO_SHIM_GROUPS (comma-separated GIDs), UO_SHIM_UMASK
 * (octal), UO_SHIM_CWD (a leading '-' ignores a missing directory), UO_SHIM_RLIMIT_<NAME>
 * ("soft:hard", "infinity"), UO_SHIM_STDOUT / UO_SHIM_STDERR ("null", "inherit", "a:PATH" to
 * append, "w:PATH" to truncate, "o:PATH" to write from the start without truncating,
 * "journal" for the log pipe below), UO_SHIM_NOTIFY_SOCKET (a datagram socket path to bind).
 * UO_SHIM_LOG=PATH captures the command's stdout and stderr (those set to "journal") through a
 * pipe into PATH as timestamped lines ("2026-11-22T14:30:00.123456Z stdout text"), moving PATH
 * to PATH.1 when it grows past UO_SHIM_LOG_MAX bytes (default 8 MiB).
 * UO_SHIM_ROOT=DIR runs the command chroot()ed into DIR (the host's root, mounted into the
 * agent's container). Paths in UO_SHIM_CWD, UO_SHIM_STDOUT and friends are then inside DIR.
 * UO_SHIM_FAIL=STATUS makes the command fail at set-up with that exit status.
 * Exit statuses on set-up failures follow systemd.exec(5): 200 CHDIR, 205 LIMITS, 209 STDOUT,
 * 216 GROUP, 217 USER, 203 EXEC.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static int events_fd = -1;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	/* one write() per line: O_APPEND keeps lines whole */
	while (write(events_fd, buf, n) < 0 && errno == EINTR) {}
}

static const char *search_path[] = { "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };

static void fail(int pipe_fd, int err, int status) {
	int msg[2] = { err, status };
	(void)!write(pipe_fd, msg, sizeof msg);
	_exit(status);
}

static int log_out[2] = { -1, -1 }, log_err[2] = { -1, -1 };

static int open_output(const char *spec, int target) {
	if (!spec || strcmp(spec, "inherit") == 0) return 0;
	if (strcmp(spec, "journal") == 0) {
		int *pp = target == 1 ? log_out : log_err;
		if (pp[1] < 0) return -1;
		return dup2(pp[1], target) < 0 ? -1 : 0;
	}
	int fd;
	if (strcmp(spec, "null") == 0) fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	else if (strncmp(spec, "a:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	else if (strncmp(spec, "w:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	else if (strncmp(spec, "o:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	else return -1;
	if (fd < 0) return -1;
	if (dup2(fd, target) < 0) return -1;
	if (fd != target) close(fd);
	return 0;
}

static const struct { const char *name; int resource; } limits[] = {
	{ "CPU", RLIMIT_CPU }, { "FSIZE", RLIMIT_FSIZE }, { "DATA", RLIMIT_DATA }, { "STACK", RLIMIT_STACK },
	{ "CORE", RLIMIT_CORE }, { "RSS", RLIMIT_RSS }, { "NOFILE", RLIMIT_NOFILE }, { "AS", RLIMIT_AS },
	{ "NPROC", RLIMIT_NPROC }, { "MEMLOCK", RLIMIT_MEMLOCK }, { "LOCKS", RLIMIT_LOCKS },
	{ "SIGPENDING", RLIMIT_SIGPENDING }, { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
	{ "RTPRIO", RLIMIT_RTPRIO }, { "RTTIME", RLIMIT_RTTIME }, { NULL, 0 },
};

static rlim_t parse_rlim(const char *s) {
	if (strcmp(s, "infinity") == 0) return RLIM_INFINITY;
	return (rlim_t)strtoull(s, NULL, 10);
}

static void child(int pipe_fd, char *path, char **argv) {
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
	setpgid(0, 0);
	/* the agent could not resolve the credentials (unknown User=/Group=): fail as systemd does */
	const char *failure = getenv("UO_SHIM_FAIL");
	if (failure) fail(pipe_fd, ESRCH, atoi(failure));
	/* the agent runs in a container with the host's root at UO_SHIM_ROOT: run the command there */
	const char *root = getenv("UO_SHIM_ROOT");
	if (root && *root && (chroot(root) < 0 || chdir("/") < 0)) fail(pipe_fd, errno, 200);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
	const char *um = getenv("UO_SHIM_UMASK");
	umask(um ? (mode_t)strtol(um, NULL, 8) : 022);
	for (int i = 0; limits[i].name; i++) {
		char key[64];
		snprintf(key, sizeof key, "UO_SHIM_RLIMIT_%s", limits[i].name);
		const char *v = getenv(key);
		if (!v) continue;
		struct rlimit rl;
		const char *colon = strchr(v, ':');
		rl.rlim_cur = parse_rlim(v);
		rl.rlim_max = colon ? parse_rlim(colon + 1) : rl.rlim_cur;
		if (setrlimit(limits[i].resource, &rl) < 0) fail(pipe_fd, errno, 205);
	}
	if (open_output(getenv("UO_SHIM_STDOUT"), 1) < 0) fail(pipe_fd, errno, 209);
	if (open_output(getenv("UO_SHIM_STDERR"), 2) < 0) fail(pipe_fd, errno, 209);
	const char *cwd = getenv("UO_SHIM_CWD");
	if (cwd) {
		int optional = cwd[0] == '-';
		if (chdir(cwd + optional) < 0 && !optional) fail(pipe_fd, errno, 200);
	}
	const char *groups = getenv("UO_SHIM_GROUPS");
	const char *gid = getenv("UO_SHIM_GID");
	const char *uid = getenv("UO_SHIM_UID");
	if (groups || gid || uid) {
		gid_t list[64];
		int n = 0;
		if (groups) {
			char *copy = strdup(groups), *save = NULL;
			for (char *tok = strtok_r(copy, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) list[n++] = (gid_t)strtoul(tok, NULL, 10);
			free(copy);
		}
		if (setgroups(n, list) < 0) fail(pipe_fd, errno, 216);
	}
	if (gid && setresgid((gid_t)atoi(gid), (gid_t)atoi(gid), (gid_t)atoi(gid)) < 0) fail(pipe_fd, errno, 216);
	if (uid && setresuid((uid_t)atoi(uid), (uid_t)atoi(uid), (uid_t)atoi(uid)) < 0) fail(pipe_fd, errno, 217);
	/* drop our own settings from the environment the command sees */
	for (char **e = environ; *e;) {
		if (strncmp(*e, "UO_SHIM_", 8) == 0) {
			char name[256];
			size_t len = strcspn(*e, "=");
			if (len >= sizeof name) len = sizeof name - 1;
			memcpy(name, *e, len);
			name[len] = 0;
			unsetenv(name);
		} else e++;
	}
	/* sd_watchdog_enabled() checks that WATCHDOG_PID is the caller's own PID */
	if (getenv("WATCHDOG_USEC")) {
		char me[32];
		snprintf(me, sizeof me, "%d", (int)getpid());
		setenv("WATCHDOG_PID", me, 1);
	}
	if (strchr(path, '/')) {
		execve(path, argv, environ);
		fail(pipe_fd, errno, 203);
	}
	int err = ENOENT;
	for (int i = 0; search_path[i]; i++) {
		char full[4096];
		snprintf(full, sizeof full, "%s/%s", search_path[i], path);
		execve(full, argv, environ);
		if (errno != ENOENT) err = errno;
	}
	fail(pipe_fd, err, 203);
}

struct logbuf { int fd; const char *stream; char buf[8192]; size_t len; };
static const char *log_path;
static long long log_max = 8LL << 20;

static void log_line(const char *stream, const char *line, size_t len) {
	if (!log_path) return;
	struct stat st;
	if (stat(log_path, &st) == 0 && st.st_size > log_max) {
		char old[4200];
		snprintf(old, sizeof old, "%s.1", log_path);
		rename(log_path, old);
	}
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char head[96];
	int h = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, stream);
	char out[8400];
	if (len > sizeof out - (size_t)h - 2) len = sizeof out - (size_t)h - 2;
	memcpy(out, head, (size_t)h);
	memcpy(out + h, line, len);
	out[h + len] = '\n';
	(void)!write(fd, out, (size_t)h + len + 1);
	close(fd);
}

/* Reads what is available; writes complete lines; returns 0 at EOF. */
static int pump(struct logbuf *b, int flush) {
	ssize_t n = b->fd >= 0 ? read(b->fd, b->buf + b->len, sizeof b->buf - b->len) : 0;
	if (n > 0) b->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->buf[i] == '\n') { log_line(b->stream, b->buf + start, i - start); start = i + 1; }
	}
	if (start == 0 && b->len == sizeof b->buf) { log_line(b->stream, b->buf, b->len); start = b->len; }
	memmove(b->buf, b->buf + start, b->len - start);
	b->len -= start;
	if ((n == 0 || flush) && b->len > 0) { log_line(b->stream, b->buf, b->len); b->len = 0; }
	if (n == 0 && b->fd >= 0) { close(b->fd); b->fd = -1; }
	return b->fd >= 0;
}

int main(int argc, char **argv) {
	if (argc < 5 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]\n");
		return 2;
	}
	events_fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (events_fd < 0) { perror("uo-shim: events file"); return 1; }
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* the shim must survive the signals sent to the unit's processes */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	emit("shim %d", (int)getpid());

	int notify_fd = -1;
	const char *notify_path = getenv("UO_SHIM_NOTIFY_SOCKET");
	if (notify_path && *notify_path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(notify_path) < sizeof sa.sun_path) {
			strcpy(sa.sun_path, notify_path);
			unlink(notify_path);
			notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			int one = 1;
			if (notify_fd >= 0 && (setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 || bind(notify_fd, (struct sockaddr *)&sa, sizeof sa) < 0)) {
				close(notify_fd);
				notify_fd = -1;
			}
			if (notify_fd >= 0) chmod(notify_path, 0777);
		}
		setenv("NOTIFY_SOCKET", notify_path, 1);
	}

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

	static struct logbuf lo = { .fd = -1, .stream = "stdout" }, le = { .fd = -1, .stream = "stderr" };
	log_path = getenv("UO_SHIM_LOG");
	if (getenv("UO_SHIM_LOG_MAX")) log_max = atoll(getenv("UO_SHIM_LOG_MAX"));
	if (log_path) {
		const char *so = getenv("UO_SHIM_STDOUT"), *se = getenv("UO_SHIM_STDERR");
		if (so && strcmp(so, "journal") == 0 && pipe2(log_out, O_CLOEXEC) == 0) lo.fd = log_out[0];
		if (se && strcmp(se, "journal") == 0 && pipe2(log_err, O_CLOEXEC) == 0) le.fd = log_err[0];
	}

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) { perror("uo-shim: pipe"); return 1; }
	pid_t pid = fork();
	if (pid < 0) { emit("exec-failed 0 %d 203", errno); emit("empty"); return 1; }
	if (pid == 0) { close(p[0]); child(p[1], argv[3], argv + 4); }
	close(p[1]);
	if (log_out[1] >= 0) close(log_out[1]);
	if (log_err[1] >= 0) close(log_err[1]);
	emit("spawn %d", (int)pid);
	int msg[2];
	ssize_t r;
	do r = read(p[0], msg, sizeof msg); while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == (ssize_t)sizeof msg) emit("exec-failed %d %d %d", (int)pid, msg[0], msg[1]);
	else emit("exec %d", (int)pid);

	for (;;) {
		/* reap everything that is ready */
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);
			if (w == 0) break;
			if (w < 0) {
				if (errno == EINTR) continue;
				while (lo.fd >= 0 && pump(&lo, 1)) {}
				while (le.fd >= 0 && pump(&le, 1)) {}
				emit("empty");
				if (notify_path && notify_fd >= 0) unlink(notify_path);
				return 0;
			}
			if (WIFEXITED(st)) emit("exit %d exited %d", (int)w, WEXITSTATUS(st));
			else if (WIFSIGNALED(st)) emit("exit %d %s %d", (int)w, WCOREDUMP(st) ? "dumped" : "killed", WTERMSIG(st));
		}
		struct pollfd fds[4] = { { .fd = sfd, .events = POLLIN }, { .fd = notify_fd, .events = POLLIN }, { .fd = lo.fd, .events = POLLIN }, { .fd = le.fd, .events = POLLIN } };
		if (poll(fds, 4, -1) < 0 && errno != EINTR) return 1;
		if (fds[2].revents & (POLLIN | POLLHUP)) pump(&lo, 0);
		if (fds[3].revents & (POLLIN | POLLHUP)) pump(&le, 0);
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0) {}
		}
		if (notify_fd >= 0 && (fds[1].revents & POLLIN)) {
			for (;;) {
				char buf[4096];
				char control[CMSG_SPACE(sizeof(struct ucred))];
				struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
				struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
				ssize_t n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
				if (n < 0) break;
				buf[n] = 0;
				int sender = 0;
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
					if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
						struct ucred uc;
						memcpy(&uc, CMSG_DATA(c), sizeof uc);
						sender = uc.pid;
					}
					if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
						int *fdp = (int *)CMSG_DATA(c);
						size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
						for (size_t i = 0; i < nfds; i++) close(fdp[i]);
					}
				}
				for (ssize_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = '\x1e';
				emit("notify %d %s", sender, buf);
			}
		}
	}
}
