/*
 * sandbox: the command's private mount namespace (see sandbox.h for the encoding).
 *
 * Steps, as systemd 257's setup_namespace()/apply_mounts():
 *   1. unshare(CLONE_NEWNS); / made recursively slave (nothing mounted here reaches the host)
 *   2. sources opened as the host sees them (bind sources, PrivateTmp= folders, created when
 *      missing), before anything is mounted over them
 *   3. every entry mounted in the plan's order (a path's parents first): an inaccessible node,
 *      a bind, a tmpfs, the private /dev, or the path bound onto itself so that it is a mount
 *      point of its own
 *   4. the flags of each entry: read-only (recursively, except below the paths of the other
 *      entries: systemd's deny list, so a ReadWritePaths= stays writable under a read-only
 *      parent), noexec, exec. Read-only is only ever turned on, never off.
 *   5. the staging folder (inaccessible nodes, the new /dev) detached and removed, the
 *      capability drops, / given its propagation (MountFlags=, default shared)
 * The mounts live in the namespace and vanish with its last process.
 */
#define _GNU_SOURCE
#include "sandbox.h"
#include "libc-compat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_ENTRIES 256
#define MAX_SPEC 65536
#define MAX_PATH 4095
#define MAX_OPTIONS 256
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static int cgroup_namespaced; /* the command is in a cgroup namespace of its own (cgroup_namespace()) */

enum op { OP_INACCESSIBLE, OP_RO, OP_RW, OP_RWI, OP_NOEXEC, OP_EXEC, OP_TMP, OP_BIND, OP_TMPFS, OP_DEV, OP_PROCFS, OP_BINDDEV, OP_BINDSYS, OP_RUN, OP_CGROUP2 };

struct entry {
	enum op op;
	int ignore, recursive, read_only, nosuid, noexec;
	const char *path, *arg;
	int src_fd;  /* bind: the source, opened before anything is mounted */
	int skipped; /* a missing path that may be missing */
};

struct plan {
	struct entry e[MAX_ENTRIES];
	int n;
	unsigned long propagation;
	int caps[64];
	int ncaps;
	const char *root; /* RootDirectory=: the entries' paths are below it, it becomes / at the end */
	int cgroupns;     /* a cgroup2 entry (ProtectControlGroups=private|strict) */
	int private_pids; /* PrivatePIDs=: a PID namespace (sandbox_private_pids()) */
	char buf[MAX_SPEC + 1];
};

static struct plan plan;

/* ---- parsing (the input is the agent's, but checked as if it were anyone's) --------------- */

static int valid_path(const char *p) {
	size_t len = strlen(p);
	if (len == 0 || len > MAX_PATH || p[0] != '/') return 0;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) return 0;
	/* no "." or ".." component: the agent sends normalized paths */
	for (const char *c = p; *c;) {
		while (*c == '/') c++;
		size_t n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return 0;
		c += n;
	}
	return 1;
}

static int valid_options(const char *o) {
	if (strlen(o) > MAX_OPTIONS) return 0;
	for (const char *c = o; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("=,_.%+-:", *c))) return 0;
	return 1;
}

/* ProtectProc=, ProcSubset=: "hidepid=noaccess|invisible|ptraceable" and/or "subset=pid", comma-separated */
static int valid_proc_options(const char *o) {
	static const char *const allowed[] = { "hidepid=noaccess", "hidepid=invisible", "hidepid=ptraceable", "subset=pid" };
	if (!*o || strlen(o) > 64) return 0;
	for (const char *c = o; *c;) {
		size_t n = strcspn(c, ",");
		int ok = 0;
		for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
			if (strlen(allowed[i]) == n && strncmp(c, allowed[i], n) == 0) ok = 1;
		if (!ok) return 0;
		c += n;
		if (*c == ',') { c++; if (!*c) return 0; }
	}
	return 1;
}

static int parse_op(const char *s, enum op *op) {
	static const struct { const char *name; enum op op; } ops[] = {
		{ "inaccessible", OP_INACCESSIBLE }, { "ro", OP_RO }, { "rw", OP_RW }, { "rwi", OP_RWI },
		{ "noexec", OP_NOEXEC }, { "exec", OP_EXEC }, { "tmp", OP_TMP }, { "bind", OP_BIND },
		{ "tmpfs", OP_TMPFS }, { "dev", OP_DEV }, { "procfs", OP_PROCFS },
		{ "binddev", OP_BINDDEV }, { "bindsys", OP_BINDSYS }, { "run", OP_RUN }, { "cgroup2", OP_CGROUP2 },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(s, ops[i].name) == 0) { *op = ops[i].op; return 0; }
	return -EINVAL;
}

static int parse_caps(const char *s) {
	if (!*s) return -EINVAL;
	for (const char *c = s; *c;) {
		char *end;
		errno = 0;
		long v = strtol(c, &end, 10);
		if (errno || end == c || v < 0 || v > 63 || plan.ncaps >= 64) return -EINVAL;
		plan.caps[plan.ncaps++] = (int)v;
		if (*end == ',') end++;
		else if (*end) return -EINVAL;
		c = end;
	}
	return 0;
}

static int parse(const char *spec) {
	memset(&plan, 0, sizeof plan);
	plan.propagation = MS_SHARED;
	size_t len = strlen(spec);
	if (len > MAX_SPEC) return -EINVAL;
	memcpy(plan.buf, spec, len + 1);
	char *save = NULL;
	for (char *line = strtok_r(plan.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5];
		int nf = 0;
		for (char *c = line; nf < 5;) {
			f[nf++] = c;
			c = strchr(c, '\t');
			if (!c) break;
			*c++ = 0;
		}
		if (nf < 3 || nf > 4) return -EINVAL;
		if (strcmp(f[0], "propagation") == 0) {
			if (nf != 3 || strcmp(f[1], ".") != 0) return -EINVAL;
			if (strcmp(f[2], "shared") == 0) plan.propagation = MS_SHARED;
			else if (strcmp(f[2], "slave") == 0) plan.propagation = MS_SLAVE;
			else if (strcmp(f[2], "private") == 0) plan.propagation = MS_PRIVATE;
			else return -EINVAL;
			continue;
		}
		if (strcmp(f[0], "pids") == 0) {
			if (nf != 3 || strcmp(f[1], ".") != 0 || strcmp(f[2], "private") != 0) return -EINVAL;
			plan.private_pids = 1;
			continue;
		}
		if (strcmp(f[0], "root") == 0) {
			if (nf != 3 || strcmp(f[1], ".") != 0 || plan.root || !valid_path(f[2]) || strcmp(f[2], "/") == 0) return -EINVAL;
			plan.root = f[2];
			continue;
		}
		if (strcmp(f[0], "dropcap") == 0) {
			if (nf != 3 || strcmp(f[1], ".") != 0 || parse_caps(f[2]) < 0) return -EINVAL;
			continue;
		}
		if (plan.n >= MAX_ENTRIES) return -EINVAL;
		struct entry *e = &plan.e[plan.n];
		memset(e, 0, sizeof *e);
		e->src_fd = -1;
		if (parse_op(f[0], &e->op) < 0) return -EINVAL;
		if (strcmp(f[1], ".") != 0) {
			if (strlen(f[1]) > 5) return -EINVAL;
			for (const char *c = f[1]; *c; c++) {
				switch (*c) {
				case 'i': e->ignore = 1; break;
				case 'r': e->recursive = 1; break;
				case 'o': e->read_only = 1; break;
				case 'n': e->nosuid = 1; break;
				case 'x': e->noexec = 1; break;
				default: return -EINVAL;
				}
			}
		}
		if (!valid_path(f[2])) return -EINVAL;
		e->path = f[2];
		/* procfs: the options are optional (MountAPIVFS='s /proc has none) */
		int wants_arg = e->op == OP_TMP || e->op == OP_BIND || e->op == OP_TMPFS || e->op == OP_PROCFS;
		if (wants_arg != (nf == 4) && !(e->op == OP_PROCFS && nf == 3)) return -EINVAL;
		if (nf == 4) {
			if (e->op == OP_PROCFS ? !valid_proc_options(f[3]) : e->op == OP_TMPFS ? !valid_options(f[3]) : !valid_path(f[3])) return -EINVAL;
			e->arg = f[3];
		}
		if (e->op == OP_DEV && strcmp(e->path, "/dev") != 0) return -EINVAL;
		if (e->op == OP_PROCFS && strcmp(e->path, "/proc") != 0) return -EINVAL;
		if (e->op == OP_BINDDEV && strcmp(e->path, "/dev") != 0) return -EINVAL;
		if (e->op == OP_BINDSYS && strcmp(e->path, "/sys") != 0) return -EINVAL;
		if (e->op == OP_RUN && strcmp(e->path, "/run") != 0) return -EINVAL;
		if (e->op == OP_CGROUP2 && (strcmp(e->path, "/sys/fs/cgroup") != 0 || plan.cgroupns)) return -EINVAL;
		if (e->op == OP_CGROUP2) plan.cgroupns = 1;
		plan.n++;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* path is below (or at, when or_equal) prefix, by whole components */
static int under(const char *path, const char *prefix, int or_equal) {
	size_t n = strlen(prefix);
	if (n == 1 && prefix[0] == '/') return or_equal || path[1] != 0;
	if (strncmp(path, prefix, n) != 0) return 0;
	return path[n] == '/' ? 1 : (path[n] == 0 && or_equal);
}

/* mountinfo's escapes (\040 for a space...) undone in place */
static void unescape(char *s) {
	char *o = s;
	for (char *c = s; *c; c++) {
		if (c[0] == '\\' && c[1] >= '0' && c[1] <= '3' && c[2] >= '0' && c[2] <= '7' && c[3] >= '0' && c[3] <= '7') {
			*o++ = (char)(((c[1] - '0') << 6) | ((c[2] - '0') << 3) | (c[3] - '0'));
			c += 3;
		} else *o++ = *c;
	}
	*o = 0;
}

/* Calls fn for the mount point of every mount in this namespace; stops at a negative return. */
static int each_mount(int (*fn)(const char *mp, void *data), void *data) {
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f) return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	while (r >= 0 && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		char *save = NULL, *mp = NULL;
		char *t = strtok_r(line, " ", &save);
		for (int i = 0; t && i < 4; i++) { t = strtok_r(NULL, " ", &save); if (i == 3) mp = t; }
		if (!mp) continue;
		unescape(mp);
		r = fn(mp, data);
	}
	free(line);
	fclose(f);
	return r < 0 ? r : 0;
}

struct remount { const char *prefix; uint64_t set, clr; int recursive; int err; int top; };

static int deny_listed(const char *mp, const char *prefix) {
	for (int i = 0; i < plan.n; i++) {
		const char *d = plan.e[i].path;
		if (strcmp(d, prefix) == 0 || !under(d, prefix, 0)) continue;
		if (under(mp, d, 1)) return 1;
	}
	return 0;
}

static int remount_one(const char *mp, void *data) {
	struct remount *r = data;
	int top = strcmp(mp, r->prefix) == 0;
	if (top) r->top = 1;
	if (!top && (!r->recursive || !under(mp, r->prefix, 0) || deny_listed(mp, r->prefix))) return 0;
	struct mount_attr a = { .attr_set = r->set, .attr_clr = r->clr };
	if (mount_setattr(AT_FDCWD, mp, 0, &a, sizeof a) < 0) {
		/* a mount hidden under another one (its path now leads elsewhere) cannot be reached */
		if (!top && (errno == EINVAL || errno == ENOENT || errno == EACCES)) return 0;
		r->err = errno;
		return -errno;
	}
	return 0;
}

static int remount(const char *prefix, uint64_t set, uint64_t clr, int recursive) {
	struct remount r = { prefix, set, clr, recursive, 0, 0 };
	int k = each_mount(remount_one, &r);
	if (k < 0) return k;
	/* every entry was made a mount point: one that is not listed would go without its flags */
	return r.top ? 0 : -ENOENT;
}

static int is_mount_point(const char *path) {
	struct statx a, b;
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &a) < 0) return -errno;
	if (a.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) return !!(a.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s/..", path);
	if (statx(AT_FDCWD, parent, 0, STATX_MNT_ID, &b) < 0) return -errno;
	return a.stx_mnt_id != b.stx_mnt_id;
}

struct below { const char *path; char found[PATH_MAX]; };

static int deepest_below(const char *mp, void *data) {
	struct below *b = data;
	if (under(mp, b->path, 1) && strlen(mp) >= strlen(b->found) && strlen(mp) < sizeof b->found) strcpy(b->found, mp);
	return 0;
}

/* Unmounts what is mounted at or below path, the deepest first (systemd: umount_recursive()). */
static void umount_below(const char *path) {
	for (int guard = 0; guard < 256; guard++) {
		struct below b = { path, "" };
		if (each_mount(deepest_below, &b) < 0 || !b.found[0]) return;
		if (umount2(b.found, MNT_DETACH) < 0) return;
	}
}

/* Creates the missing folders of path (mode 0755), as systemd creates mount points. */
static int mkdir_p(const char *path, int self) {
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	for (char *c = p + 1; *c; c++) {
		if (*c != '/') continue;
		*c = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) return -errno;
		*c = '/';
	}
	if (self && mkdir(p, 0755) < 0 && errno != EEXIST) return -errno;
	return 0;
}

/* ---- staging: the inaccessible nodes and the new /dev are made on a tmpfs of our own ------ */

static char staging[64];

static int staging_make(void) {
	if (staging[0]) return 0;
	snprintf(staging, sizeof staging, "/run/uo-sandbox-XXXXXX");
	if (!mkdtemp(staging)) { staging[0] = 0; return -errno; }
	if (mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0) {
		int e = errno;
		rmdir(staging);
		staging[0] = 0;
		return -e;
	}
	mode_t old = umask(0);
	char p[128];
	static const struct { const char *name; mode_t mode; } nodes[] = {
		{ "reg", S_IFREG }, { "fifo", S_IFIFO }, { "sock", S_IFSOCK }, { "chr", S_IFCHR }, { "blk", S_IFBLK },
	};
	int r = 0;
	snprintf(p, sizeof p, "%s/dir", staging);
	if (mkdir(p, 0) < 0) r = -errno;
	for (size_t i = 0; r == 0 && i < sizeof nodes / sizeof nodes[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", staging, nodes[i].name);
		if (mknod(p, nodes[i].mode, makedev(0, 0)) < 0) r = -errno;
	}
	umask(old);
	return r;
}

static void staging_remove(void) {
	if (!staging[0]) return;
	umount2(staging, MNT_DETACH);
	rmdir(staging);
	staging[0] = 0;
}

static const char *inaccessible_node(mode_t m) {
	if (S_ISDIR(m)) return "dir";
	if (S_ISCHR(m)) return "chr";
	if (S_ISBLK(m)) return "blk";
	if (S_ISFIFO(m)) return "fifo";
	if (S_ISSOCK(m)) return "sock";
	return "reg";
}

/* ---- PrivateDevices=: a /dev with the pseudo devices, pts, shm, mqueue, hugepages --------- */

static int make_dev(const char *target) {
	int r = staging_make();
	if (r < 0) return r;
	char dev[128], p[192];
	snprintf(dev, sizeof dev, "%s/devfs", staging);
	if (mkdir(dev, 0755) < 0) return -errno;
	if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_STRICTATIME, "mode=0755") < 0) return -errno;
	mode_t old = umask(0);
	r = 0;
	snprintf(p, sizeof p, "%s/pts", dev);
	if (mkdir(p, 0755) < 0 || mount("/dev/pts", p, NULL, MS_BIND, NULL) < 0) r = -errno;
	struct stat st;
	snprintf(p, sizeof p, "%s/ptmx", dev);
	if (r == 0 && lstat("/dev/ptmx", &st) == 0) {
		if (S_ISLNK(st.st_mode)) { if (symlink("pts/ptmx", p) < 0) r = -errno; }
		else if (mknod(p, st.st_mode, st.st_rdev) < 0) r = -errno;
	}
	snprintf(p, sizeof p, "%s/shm", dev);
	if (r == 0 && (mkdir(p, 01777) < 0 || mount("/dev/shm", p, NULL, MS_BIND, NULL) < 0)) r = -errno;
	static const char *const optional[] = { "mqueue", "hugepages" };
	for (size_t i = 0; r == 0 && i < 2; i++) {
		char src[64];
		snprintf(src, sizeof src, "/dev/%s", optional[i]);
		snprintf(p, sizeof p, "%s/%s", dev, optional[i]);
		if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) continue;
		if (mkdir(p, 0755) < 0) { r = -errno; break; }
		if (mount(src, p, NULL, MS_BIND, NULL) < 0) rmdir(p);
	}
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	for (size_t i = 0; r == 0 && i < sizeof nodes / sizeof nodes[0]; i++) {
		char src[64];
		snprintf(src, sizeof src, "/dev/%s", nodes[i]);
		if (stat(src, &st) < 0) { if (errno == ENOENT) continue; r = -errno; break; }
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) { r = -EINVAL; break; }
		if (st.st_rdev == 0) continue;
		snprintf(p, sizeof p, "%s/%s", dev, nodes[i]);
		if (mknod(p, st.st_mode, st.st_rdev) < 0) { r = -errno; break; }
	}
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" }, { "log", "/run/systemd/journal/dev-log" },
	};
	for (size_t i = 0; r == 0 && i < sizeof links / sizeof links[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], p) < 0) r = -errno;
	}
	if (r == 0 && access("/proc/kcore", F_OK) == 0) {
		snprintf(p, sizeof p, "%s/core", dev);
		if (symlink("/proc/kcore", p) < 0) r = -errno;
	}
	umask(old);
	if (r == 0) r = mkdir_p(target, 1); /* RootDirectory= may lack it */
	if (r == 0 && mount(dev, target, NULL, MS_MOVE, NULL) < 0) r = -errno;
	return r;
}

/* ---- the entries -------------------------------------------------------------------------- */

/* PrivateTmp=: BASE (0700) and BASE/tmp (01777), made when missing, checked when present */
static int private_tmp_source(const char *base, char *out, size_t outlen) {
	struct stat st;
	mode_t old = umask(0);
	int r = mkdir(base, 0700) < 0 && errno != EEXIST ? -errno : 0;
	snprintf(out, outlen, "%s/tmp", base);
	/* an existing folder must be the one made here: ours, 0700, not a link */
	if (r == 0 && lstat(base, &st) < 0) r = -errno;
	if (r == 0 && (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)) r = -EEXIST;
	if (r == 0 && mkdir(out, 01777) < 0 && errno != EEXIST) r = -errno;
	if (r == 0 && lstat(out, &st) < 0) r = -errno;
	if (r == 0 && (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())) r = -EEXIST;
	umask(old);
	return r;
}

static int open_sources(void) {
	for (int i = 0; i < plan.n; i++) {
		struct entry *e = &plan.e[i];
		if (e->op == OP_TMP) {
			char src[PATH_MAX];
			int r = private_tmp_source(e->arg, src, sizeof src);
			if (r < 0) return r;
			e->src_fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (e->src_fd < 0) return -errno;
		} else if (e->op == OP_BIND) {
			e->src_fd = open(e->arg, O_PATH | O_CLOEXEC);
			if (e->src_fd < 0) {
				if (errno == ENOENT && e->ignore) { e->skipped = 1; continue; }
				return -errno;
			}
		}
	}
	return 0;
}

static int bind_fd(int fd, const char *target, int recursive) {
	char src[64];
	snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
	return mount(src, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0 ? -errno : 0;
}

static int apply_one(struct entry *e) {
	struct stat st;
	switch (e->op) {
	case OP_INACCESSIBLE: {
		if (stat(e->path, &st) < 0) {
			if (errno == ENOENT && e->ignore) { e->skipped = 1; return 0; }
			return -errno;
		}
		int r = staging_make();
		if (r < 0) return r;
		umount_below(e->path);
		if (stat(e->path, &st) < 0) return -errno;
		char src[128];
		snprintf(src, sizeof src, "%s/%s", staging, inaccessible_node(st.st_mode));
		return mount(src, e->path, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
	}
	case OP_RO: case OP_RW: case OP_RWI: case OP_NOEXEC: case OP_EXEC: {
		int m = is_mount_point(e->path);
		if (m == -ENOENT && e->ignore) { e->skipped = 1; return 0; }
		if (m < 0) return m;
		if (m > 0) return 0; /* already a mount: only its flags change (below) */
		return mount(e->path, e->path, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
	}
	case OP_TMP:
		if (mkdir_p(e->path, 1) < 0 && e->ignore) { e->skipped = 1; return 0; }
		return bind_fd(e->src_fd, e->path, 1);
	case OP_BIND: {
		if (e->skipped) return 0;
		struct stat src;
		if (fstat(e->src_fd, &src) < 0) return -errno;
		if (lstat(e->path, &st) < 0) {
			if (errno != ENOENT) return -errno;
			/* the destination is made when missing, as systemd makes it */
			int r = mkdir_p(e->path, S_ISDIR(src.st_mode));
			if (r < 0) return r;
			if (!S_ISDIR(src.st_mode)) {
				int fd = open(e->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
				if (fd < 0) return -errno;
				close(fd);
			}
		}
		return bind_fd(e->src_fd, e->path, e->recursive);
	}
	case OP_TMPFS: {
		/* ProtectHome=tmpfs skips a missing /home; TemporaryFileSystem= makes its mount point */
		if (e->ignore && lstat(e->path, &st) < 0 && errno == ENOENT) { e->skipped = 1; return 0; }
		int r = mkdir_p(e->path, 1);
		if (r < 0) return r;
		unsigned long flags = MS_NODEV | MS_STRICTATIME | (e->nosuid ? MS_NOSUID : 0) | (e->noexec ? MS_NOEXEC : 0);
		return mount("tmpfs", e->path, "tmpfs", flags, e->arg) < 0 ? -errno : 0;
	}
	case OP_DEV:
		return make_dev(e->path);
	case OP_PROCFS: {
		/* a /proc of its own (with hidepid=, subset=; what is below the old one goes with it) */
		int r = mkdir_p(e->path, 1);
		if (r < 0) return r;
		return mount("proc", e->path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, e->arg) < 0 ? -errno : 0;
	}
	case OP_CGROUP2:
		/* ProtectControlGroups=private|strict: a cgroup2 of the command's cgroup namespace; where
		 * none could be made (a v1 or hybrid host, as systemd 257), strict is /sys/fs/cgroup made
		 * read-only (its 'o' flag) and private nothing */
		if (!cgroup_namespaced) {
			if (!e->read_only) { e->skipped = 1; return 0; }
			int m = is_mount_point(e->path);
			if (m < 0) return m;
			return m > 0 ? 0 : (mount(e->path, e->path, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0);
		}
		/* what is mounted there goes first, with all below it (a cgroup2 mounted on itself is EBUSY) */
		for (int guard = 0; guard < 16 && is_mount_point(e->path) > 0; guard++)
			if (umount2(e->path, MNT_DETACH) < 0) return -errno;
		return mount("cgroup2", e->path, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? -errno : 0;
	case OP_BINDDEV: case OP_BINDSYS: case OP_RUN: {
		/* MountAPIVFS=: the host's /dev and /sys (with what is below them), a tmpfs /run; each only
		 * where nothing is mounted yet (systemd: mount_bind_dev(), mount_bind_sysfs(), mount_run()) */
		int r = mkdir_p(e->path, 1);
		if (r < 0) return r;
		int m = is_mount_point(e->path);
		if (m < 0) return m;
		if (m > 0) { e->skipped = 1; return 0; }
		if (e->op == OP_RUN) return mount("tmpfs", e->path, "tmpfs", MS_NOSUID | MS_NODEV | MS_STRICTATIME, "mode=0755") < 0 ? -errno : 0;
		return mount(e->op == OP_BINDDEV ? "/dev" : "/sys", e->path, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
	}
	}
	return -EINVAL;
}

/* The flags of an entry once everything is mounted (systemd: make_read_only(), make_noexec()). */
static int flags_one(const struct entry *e) {
	if (e->skipped) return 0;
	int ro = e->read_only || e->op == OP_RO || e->op == OP_INACCESSIBLE || e->op == OP_DEV;
	/* recursively, except for what has nothing below it that is not ours (/dev's pts, shm stay writable) */
	int rec = !(e->op == OP_TMPFS || e->op == OP_DEV);
	int r = 0;
	if (ro) r = remount(e->path, MOUNT_ATTR_RDONLY, 0, rec);
	if (r == 0 && (e->op == OP_NOEXEC || e->op == OP_BINDSYS || e->noexec)) r = remount(e->path, MOUNT_ATTR_NOEXEC, 0, rec);
	if (r == 0 && e->op == OP_EXEC) r = remount(e->path, 0, MOUNT_ATTR_NOEXEC, rec);
	return r;
}

/* RootDirectory=: every entry's path below the root (its sources stay the host's) */
static int prefix_paths(void) {
	size_t n = strlen(plan.root);
	for (int i = 0; i < plan.n; i++) {
		const char *p = plan.e[i].path;
		size_t len = n + (strcmp(p, "/") == 0 ? 0 : strlen(p));
		if (len > MAX_PATH) return -ENAMETOOLONG;
		char *full = malloc(len + 1);
		if (!full) return -ENOMEM;
		snprintf(full, len + 1, "%s%s", plan.root, strcmp(p, "/") == 0 ? "" : p);
		plan.e[i].path = full;
	}
	return 0;
}

/* RootDirectory=: the folders systemd 257's base_filesystem_create() makes in a root that lacks
 * them (mount points of the API file systems among them); the root is made a mount point. */
static int root_prepare(void) {
	static const struct { const char *name; mode_t mode; } dirs[] = {
		{ "root", 0750 }, { "usr", 0755 }, { "var", 0755 }, { "etc", 0755 },
		{ "proc", 0555 }, { "sys", 0555 }, { "dev", 0555 }, { "run", 0555 },
	};
	int fd = open(plan.root, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) return -errno;
	mode_t old = umask(0);
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if (faccessat(fd, dirs[i].name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) (void)mkdirat(fd, dirs[i].name, dirs[i].mode);
	umask(old);
	close(fd);
	int m = is_mount_point(plan.root);
	if (m < 0) return m;
	if (m == 0 && mount(plan.root, plan.root, NULL, MS_BIND | MS_REC, NULL) < 0) return -errno;
	return 0;
}

/* RootDirectory=: the root, with everything mounted below it, becomes / (systemd: mount_switch_root()) */
static int root_switch(void) {
	if (chdir(plan.root) < 0) return -errno;
	if (mount(plan.root, "/", NULL, MS_MOVE, NULL) < 0) return -errno;
	if (chroot(".") < 0 || chdir("/") < 0) return -errno;
	return 0;
}

/* ProtectControlGroups=private|strict: a cgroup namespace rooted at the command's cgroup (it
 * joined it already: exec.c), only on a cgroup v2 host (/sys/fs/cgroup a cgroup2 mount) with
 * cgroup namespaces, as systemd 257 (elsewhere the setting falls back: see OP_CGROUP2). */
static int cgroup_namespace(void) {
	struct statfs fs;
	if (statfs("/sys/fs/cgroup", &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC || access("/proc/self/ns/cgroup", F_OK) < 0) return 0;
	if (unshare(CLONE_NEWCGROUP) < 0) return -errno;
	cgroup_namespaced = 1;
	return 0;
}

int sandbox_private_pids(const char *spec) {
	int r = parse(spec);
	if (r < 0) return r;
	if (!plan.private_pids) return 0;
	/* the new process waits for this one to end (the end of the pipe it holds): whatever it
	 * reports comes after the report of its PID */
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0) return -errno;
	if (unshare(CLONE_NEWPID) < 0 || (r = fork()) < 0) {
		int e = errno;
		close(gate[0]);
		close(gate[1]);
		return -e;
	}
	if (r > 0) {
		close(gate[0]);
		return r; /* gate[1] closes when the caller exits */
	}
	close(gate[1]);
	char c;
	while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
	close(gate[0]);
	return 0;
}

int sandbox_rooted(void) {
	return plan.root != NULL;
}

int sandbox_apply(const char *spec) {
	int r = parse(spec);
	if (r < 0) return r;
	if (plan.root && (r = prefix_paths()) < 0) return r;
	if (plan.cgroupns && (r = cgroup_namespace()) < 0) return r;
	if (unshare(CLONE_NEWNS) < 0) return -errno;
	/* nothing mounted from here on shows up in the host's namespace */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) return -errno;
	if (plan.root && (r = root_prepare()) < 0) return r;
	r = open_sources();
	for (int i = 0; r == 0 && i < plan.n; i++) {
		struct entry *e = &plan.e[i];
		r = apply_one(e);
		/* the flags go to the mount as /proc/self/mountinfo names it: through any symbolic link */
		char *real = r == 0 && !e->skipped ? realpath(e->path, NULL) : NULL;
		if (real) e->path = real;
	}
	for (int i = 0; i < plan.n; i++)
		if (plan.e[i].src_fd >= 0) { close(plan.e[i].src_fd); plan.e[i].src_fd = -1; }
	/* what was bound from the staging folder stays; the folder goes before / may turn read-only */
	staging_remove();
	for (int i = 0; r == 0 && i < plan.n; i++) r = flags_one(&plan.e[i]);
	if (r < 0) return r;
	for (int i = 0; i < plan.ncaps; i++)
		if (prctl(PR_CAPBSET_DROP, plan.caps[i], 0, 0, 0) < 0 && errno != EINVAL) return -errno;
	if (plan.root && (r = root_switch()) < 0) return r;
	if (mount(NULL, "/", NULL, plan.propagation | MS_REC, NULL) < 0) return -errno;
	return 0;
}
