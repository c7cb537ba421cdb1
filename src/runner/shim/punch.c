/*
 * punch: uo-shim --punch FILE END (a helper of the agent).
 *
 * A holder's event log grows for as long as its command runs: every sd_notify datagram is a line
 * (STATUS= updates, WATCHDOG=1 pings: months of a long-lived service, or a flood cut to the
 * notify budget, ~2.7 GB a day). The agent reads the log from an offset it saves in its state;
 * once a stretch of it has been read and that offset saved, the stretch is never read again by
 * the agent's tail. This helper deallocates it (fallocate(2) FALLOC_FL_PUNCH_HOLE, the size
 * kept): offsets stay valid, the holder's O_APPEND writes go on at the end, and the disk holds
 * only what was not read yet. The first PUNCH_KEEP bytes are kept: the "shim", "spawn" and
 * "exec" lines that a recovery from a damaged state reads (store.ts), which the holder writes
 * before any notify line. A punched stretch reads as NUL bytes, a line no reader takes.
 *
 * FILE must be a regular file owned by the helper's uid with no other name (opened O_NOFOLLOW,
 * O_NONBLOCK: a link, hard link or FIFO planted at its name is refused); only whole pages below END are deallocated.
 * Exit status: 0 done (or nothing to do), 2 usage, 1 refused or failed, 3 the file system
 * cannot punch holes (EOPNOTSUPP: the agent stops asking).
 */
#define _GNU_SOURCE
#include "punch.h"
#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUNCH_KEEP (64 * 1024)
#define PUNCH_PAGE 4096

int punch_main(int argc, char **argv) {
	if (argc != 4) { fprintf(stderr, "usage: uo-shim --punch FILE END\n"); return 2; }
	if (close_inherited_fds() < 0) { perror("uo-shim --punch: closing inherited descriptors"); return 1; }
	char *tail;
	errno = 0;
	unsigned long long end = strtoull(argv[3], &tail, 10);
	if (errno || tail == argv[3] || *tail || argv[3][0] == '-') { fprintf(stderr, "uo-shim --punch: END %s is not a byte offset\n", argv[3]); return 2; }
	int fd = open(argv[2], O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) { fprintf(stderr, "uo-shim --punch: %s: %s\n", argv[2], strerror(errno)); return 1; }
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		fprintf(stderr, "uo-shim --punch: %s: not a regular file of uid %u with one name\n", argv[2], (unsigned)geteuid());
		return 1;
	}
	/* never past what the file holds: END comes from the agent's saved offset */
	if (end > (unsigned long long)st.st_size) end = (unsigned long long)st.st_size;
	end -= end % PUNCH_PAGE;
	if (end <= PUNCH_KEEP) return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PUNCH_KEEP, (off_t)(end - PUNCH_KEEP)) < 0) {
		int e = errno;
		fprintf(stderr, "uo-shim --punch: %s: %s\n", argv[2], strerror(e));
		return e == EOPNOTSUPP ? 3 : 1;
	}
	return 0;
}
