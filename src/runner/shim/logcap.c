/*
 * logcap: UO_SHIM_LOG=PATH captures the command's stdout and stderr (those set to "journal")
 * through a pipe into PATH as timestamped lines ("2026-11-22T14:30:00.123456Z stdout text"),
 * moving PATH to PATH.1 when it grows past UO_SHIM_LOG_MAX bytes (default 8 MiB). A line
 * longer than 8 KiB is cut into pieces; a last line without a newline is written at the end.
 * PATH is opened as the event log is (events.c open_private_append(): 0600, no symbolic link
 * followed, a regular file of the shim's uid only); a line PATH refuses is dropped. PATH's
 * folder is opened at start, before the shim enters the host's namespaces (hostns.c), and the
 * log is written relative to it: the agent's path, whatever mount namespace the shim is in then.
 */
#define _GNU_SOURCE
#include "logcap.h"
#include "events.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The line buffers are apart from the descriptors, zero-initialized (.bss): a holder whose
 * command writes nothing never touches their pages (hold.c: every page counts per service). */
struct logbuf { int fd; int writer; const char *stream; char *buf; size_t len; };

static char bufs[2][8192];
static struct logbuf streams[2] = { { .fd = -1, .writer = -1, .stream = "stdout", .buf = bufs[0] }, { .fd = -1, .writer = -1, .stream = "stderr", .buf = bufs[1] } };
#define LOGBUF_SIZE sizeof bufs[0]
static const char *log_path;
/* the log's folder (O_PATH) and PATH's last component; AT_FDCWD and PATH when it has no folder */
static int log_dir = AT_FDCWD;
static const char *log_name;
static long long log_max = 8LL << 20;

static struct logbuf *of(int stream) { return &streams[stream == 2 ? 1 : 0]; }

static void read_settings(void) {
	log_path = getenv("UO_SHIM_LOG");
	if (getenv("UO_SHIM_LOG_MAX")) log_max = atoll(getenv("UO_SHIM_LOG_MAX"));
	log_name = log_path;
}

void logcap_adopt(int out, int err, int dir) {
	read_settings();
	streams[0].fd = out;
	streams[1].fd = err;
	const char *slash = log_path ? strrchr(log_path, '/') : NULL;
	if (dir != AT_FDCWD && dir >= 0 && slash && slash[1]) { log_dir = dir; log_name = slash + 1; }
}

int logcap_dir(void) { return log_dir; }

void logcap_init(void) {
	read_settings();
	if (!log_path) return;
	const char *slash = strrchr(log_path, '/');
	if (slash && slash[1] && (size_t)(slash - log_path) < 4096) {
		char dir[4097];
		size_t len = slash == log_path ? 1 : (size_t)(slash - log_path);
		memcpy(dir, log_path, len);
		dir[len] = 0;
		int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) { log_dir = fd; log_name = slash + 1; }
	}
	const char *spec[2] = { getenv("UO_SHIM_STDOUT"), getenv("UO_SHIM_STDERR") };
	for (int i = 0; i < 2; i++) {
		int p[2];
		if (spec[i] && strcmp(spec[i], "journal") == 0 && pipe2(p, O_CLOEXEC) == 0) {
			streams[i].fd = p[0];
			streams[i].writer = p[1];
		}
	}
}

int logcap_writer(int stream) { return of(stream)->writer; }
int logcap_reader(int stream) { return of(stream)->fd; }

void logcap_close_writers(void) {
	for (int i = 0; i < 2; i++) {
		if (streams[i].writer >= 0) close(streams[i].writer);
		streams[i].writer = -1;
	}
}

static void log_line(const char *stream, const char *line, size_t len) {
	if (!log_path) return;
	int fd = open_private_append_at(log_dir, log_name);
	if (fd < 0) return;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > log_max) {
		/* rename() moves the name (never follows a link); the new file is made as the first was */
		char old[4200];
		snprintf(old, sizeof old, "%s.1", log_name);
		close(fd);
		renameat(log_dir, log_name, log_dir, old);
		fd = open_private_append_at(log_dir, log_name);
		if (fd < 0) return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char head[96];
	int h = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, stream);
	/* one writev() per line (O_APPEND keeps it whole), no copy of the line on the stack */
	struct iovec iov[3] = { { head, (size_t)h }, { (void *)line, len }, { "\n", 1 } };
	(void)!writev(fd, iov, 3);
	close(fd);
}

int logcap_pump(int stream, int flush) {
	struct logbuf *b = of(stream);
	ssize_t n = b->fd >= 0 ? read(b->fd, b->buf + b->len, LOGBUF_SIZE - b->len) : 0;
	if (n > 0) b->len += (size_t)n;
	size_t start = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->buf[i] == '\n') { log_line(b->stream, b->buf + start, i - start); start = i + 1; }
	}
	if (start == 0 && b->len == LOGBUF_SIZE) { log_line(b->stream, b->buf, b->len); start = b->len; }
	memmove(b->buf, b->buf + start, b->len - start);
	b->len -= start;
	if ((n == 0 || flush) && b->len > 0) { log_line(b->stream, b->buf, b->len); b->len = 0; }
	if (n == 0 && b->fd >= 0) { close(b->fd); b->fd = -1; }
	return b->fd >= 0;
}

void logcap_drain(void) {
	while (streams[0].fd >= 0 && logcap_pump(1, 1)) {}
	while (streams[1].fd >= 0 && logcap_pump(2, 1)) {}
}
