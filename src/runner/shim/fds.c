/*
 * fds: a fresh shim, and the fork server, start with nothing but stdin, stdout and stderr.
 *
 * Whatever the agent inherited without close-on-exec (a launcher's pipe, a file its parent had
 * open: `unitctl agent ... 200</root/secret`) went on through Node's spawn() to the fork server,
 * from it to every shim, and from the shim to the command — a User=nobody service could read a
 * root-only file through it (a hostile probe, issue 19's session 32). systemd passes a service
 * only the descriptors it means to (stdio, LISTEN_FDS=, the fd store); so does the shim: it
 * closes everything from 3 up before it opens its own, and what it opens later is close-on-exec
 * or handed over on purpose (hold.c).
 */
#define _GNU_SOURCE
#include "fds.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture (Linux 5.9) */
#endif

int close_inherited_fds(void) {
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return 0;
	/* an older kernel: the descriptors /proc lists (the listing's own is skipped, closed at the end) */
	DIR *d = opendir("/proc/self/fd");
	if (!d) return -1;
	int own = dirfd(d), failed = 0;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < 3 || fd == own) continue;
		if (close((int)fd) < 0 && errno != EBADF) failed = 1;
	}
	closedir(d);
	return failed ? -1 : 0;
}
