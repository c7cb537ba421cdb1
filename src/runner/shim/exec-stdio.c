/* exec-stdio: StandardInput=, StandardOutput=, StandardError= in the child (see exec-stdio.h). */
#define _GNU_SOURCE
#include "exec-stdio.h"
#include "logcap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Puts fd at target (closing fd); 0 or -errno. */
static int move_to(int fd, int target) {
	if (fd < 0) return -errno;
	if (fd == target) return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0;
	int r = dup2(fd, target) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static const char *file_of(const char *spec) {
	if (spec && (strncmp(spec, "a:", 2) == 0 || strncmp(spec, "w:", 2) == 0 || strncmp(spec, "o:", 2) == 0)) return spec + 2;
	return NULL;
}

/* ------------------------------------------------------------------------- input */

static int open_tty(const char *path, int mode /* 0 wait, 1 force, 2 fail */) {
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
	/* taking a terminal over can hang up its previous session: do not die of it */
	sigaction(SIGHUP, &ignore, &old);
	int r;
	for (;;) {
		int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) { r = -errno; break; }
		if (ioctl(fd, TIOCSCTTY, mode == 1 ? 1 : 0) == 0) { r = move_to(fd, 0); break; }
		r = -errno;
		close(fd);
		if (r != -EPERM || mode != 0) break;
		/* another session has it as its controlling terminal: wait until it lets go */
		struct timespec tick = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
		nanosleep(&tick, NULL);
	}
	sigaction(SIGHUP, &old, NULL);
	return r;
}

static int open_file_input(const char *path, const char *out_spec, const char *err_spec) {
	const char *o = file_of(out_spec), *e = file_of(err_spec);
	int rw = (o && strcmp(o, path) == 0) || (e && strcmp(e, path) == 0);
	int fd = rw ? open(path, O_RDWR | O_CREAT | O_NOCTTY | O_CLOEXEC, 0666) : open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 || errno != ENXIO) return move_to(fd, 0);
	/* ENXIO: an AF_UNIX socket in the file system; connect to it */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) return -ENXIO;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno == ENOTSOCK || errno == EINVAL ? ENXIO : errno;
		close(fd);
		return -err;
	}
	if (!rw) shutdown(fd, SHUT_WR);
	return move_to(fd, 0);
}

static int b64_value(char c) {
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Decodes base64 (whitespace ignored, '=' padding optional) in place; returns the length or -1. */
static long b64_decode(char *s) {
	unsigned acc = 0;
	int bits = 0, pad = 0;
	long out = 0;
	for (char *p = s; *p; p++) {
		if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') continue;
		if (*p == '=') { pad++; continue; }
		int v = b64_value(*p);
		if (v < 0 || pad) return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) { bits -= 8; s[out++] = (char)((acc >> bits) & 0xff); }
	}
	if (bits >= 6 || pad > 2) return -1;
	return out;
}

static int open_data_input(const char *b64) {
	char *data = strdup(b64);
	if (!data) return -ENOMEM;
	long len = b64_decode(data);
	if (len < 0) { free(data); return -EINVAL; }
	if (len == 0) { free(data); return move_to(open("/dev/null", O_RDONLY | O_NOCTTY | O_CLOEXEC), 0); }
	int fd = memfd_create("uo-shim-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) { free(data); return -errno; }
	for (long done = 0; done < len;) {
		ssize_t n = write(fd, data + done, (size_t)(len - done));
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) { int err = n < 0 ? errno : EIO; free(data); close(fd); return -err; }
		done += n;
	}
	free(data);
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	/* read-only, at offset 0: reopen through /proc; else rewind the memfd itself */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int ro = open(self, O_RDONLY | O_CLOEXEC);
	if (ro >= 0) { close(fd); return move_to(ro, 0); }
	if (lseek(fd, 0, SEEK_SET) < 0) { int err = errno; close(fd); return -err; }
	return move_to(fd, 0);
}

int stdio_input(const char *spec, const char *out_spec, const char *err_spec) {
	if (!spec) {
		/* no StandardInput= from the agent: /dev/null as always (failure ignored, as before) */
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
		return 0;
	}
	if (strcmp(spec, "null") == 0) return move_to(open("/dev/null", O_RDONLY | O_NOCTTY | O_CLOEXEC), 0);
	if (strncmp(spec, "tty:", 4) == 0) return open_tty(spec + 4, 0);
	if (strncmp(spec, "tty-force:", 10) == 0) return open_tty(spec + 10, 1);
	if (strncmp(spec, "tty-fail:", 9) == 0) return open_tty(spec + 9, 2);
	if (strncmp(spec, "file:", 5) == 0) return open_file_input(spec + 5, out_spec, err_spec);
	if (strncmp(spec, "data:", 5) == 0) return open_data_input(spec + 5);
	return -EINVAL;
}

/* ------------------------------------------------------------------------ output */

int stdio_output(const char *spec, int target, const char *stdin_spec, const char *out_spec) {
	if (!spec || strcmp(spec, "inherit") == 0) {
		if (!stdin_spec) return 0; /* the agent's own stdio, as before StandardInput= */
		if (target == 2) return dup2(1, 2) < 0 ? -errno : 0;
		if (strncmp(stdin_spec, "tty", 3) == 0 || strncmp(stdin_spec, "file:", 5) == 0) return dup2(0, 1) < 0 ? -errno : 0;
		return 0;
	}
	if (strcmp(spec, "journal") == 0) {
		int w = logcap_writer(target);
		if (w < 0) return -EBADF;
		return dup2(w, target) < 0 ? -errno : 0;
	}
	if (target == 2 && out_spec && strcmp(spec, out_spec) == 0 && (file_of(spec) || strcmp(spec, "null") == 0))
		return dup2(1, 2) < 0 ? -errno : 0;
	int fd;
	if (strcmp(spec, "null") == 0) fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	else if (strncmp(spec, "a:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	else if (strncmp(spec, "w:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	else if (strncmp(spec, "o:", 2) == 0) fd = open(spec + 2, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	else return -EINVAL;
	return move_to(fd, target);
}
