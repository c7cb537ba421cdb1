/* removeipc: see removeipc.h. */
#define _GNU_SOURCE
#include "removeipc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static long want_uid = -1, want_gid = -1;
static int failed;

static int matches(long uid, long gid, long cuid, long cgid) {
	return (want_uid >= 0 && (uid == want_uid || cuid == want_uid)) || (want_gid >= 0 && (gid == want_gid || cgid == want_gid));
}

/* one /proc/sysvipc file: the id is column idcol, uid gid cuid cgid from column uidcol on */
static void sysv(const char *file, int idcol, int uidcol, int kind) {
	FILE *f = fopen(file, "r");
	if (!f) return;
	char line[1024];
	if (!fgets(line, sizeof line, f)) { fclose(f); return; }
	while (fgets(line, sizeof line, f)) {
		long v[16];
		int n = 0;
		for (char *save = NULL, *tok = strtok_r(line, " \t\n", &save); tok && n < 16; tok = strtok_r(NULL, " \t\n", &save)) v[n++] = strtol(tok, NULL, 10);
		if (n < uidcol + 4 || !matches(v[uidcol], v[uidcol + 1], v[uidcol + 2], v[uidcol + 3])) continue;
		int id = (int)v[idcol], r;
		r = kind == 0 ? shmctl(id, IPC_RMID, NULL) : kind == 1 ? semctl(id, 0, IPC_RMID) : msgctl(id, IPC_RMID, NULL);
		if (r < 0 && errno != EIDRM && errno != EINVAL) failed = 1;
		else if (r == 0) printf("%s %d\n", kind == 0 ? "shm" : kind == 1 ? "sem" : "msg", id);
	}
	fclose(f);
}

/* the entries of an open folder owned by the uid or gid, recursively, never following a link */
static void posix_dir(int dfd, const char *shown, int depth) {
	DIR *d = fdopendir(dfd);
	if (!d) { close(dfd); return; }
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
		int mine = matches(st.st_uid, st.st_gid, -1, -1);
		if (S_ISDIR(st.st_mode) && depth < 32) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) posix_dir(sub, shown, depth + 1);
			if (mine) {
				if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) failed = 1;
				else printf("%s %s/\n", shown, e->d_name);
			}
		} else if (mine) {
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT) failed = 1;
			else printf("%s %s\n", shown, e->d_name);
		}
	}
	closedir(d);
}

static void posix(const char *path, const char *shown) {
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) posix_dir(fd, shown, 0);
}

int removeipc_main(int argc, char **argv) {
	if (argc != 4) { fprintf(stderr, "usage: uo-shim --remove-ipc UID GID\n"); return 2; }
	char *end;
	want_uid = strtol(argv[2], &end, 10);
	if (*end || want_uid < 0) return 2;
	want_gid = strtol(argv[3], &end, 10);
	if (*end || want_gid < -1) return 2;
	/* not for root: root's objects belong to the whole system */
	if (want_uid == 0 || want_gid == 0) return 2;
	sysv("/proc/sysvipc/shm", 1, 7, 0);
	sysv("/proc/sysvipc/sem", 1, 4, 1);
	sysv("/proc/sysvipc/msg", 1, 7, 2);
	posix("/dev/shm", "posix-shm");
	posix("/dev/mqueue", "posix-mq");
	fflush(stdout);
	return failed;
}
