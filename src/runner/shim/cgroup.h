/* cgroup: a process placed in its cgroups (UO_SHIM_CGROUPS for the command, UO_SHIM_HOLDER_CGROUPS
 * for the shim itself). */
#ifndef UO_SHIM_CGROUP_H
#define UO_SHIM_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#define CGROUP_DIRS_MAX 16

/* The folders of a list (one absolute directory a line), opened O_PATH in the view of the
 * mount namespace the shim started in: fd >= 0, or -errno when it could not be opened. */
struct cgroup_dirs {
	int n;
	struct { const char *path; int len; int fd; } d[CGROUP_DIRS_MAX + 1];
};

/* Opens the directories of list (NULL or "" : none) into dirs; more than CGROUP_DIRS_MAX lines
 * make the attach fail with E2BIG (after the first CGROUP_DIRS_MAX). */
void cgroup_open_dirs(const char *list, struct cgroup_dirs *dirs);

/* Places the calling process (of one thread) in each directory, opened now (so in the cgroup
 * namespace the caller is in now), but the one at index born (-1: none), where it was born
 * (cgroup_fork_into()): cgroup.c says how. Returns 0, or -errno of the first directory that
 * refused it, whose index goes to at. */
int cgroup_join_index(const struct cgroup_dirs *dirs, int born, int *at);

/* The file cgroup_join_index() writes for the index-th directory: "tasks" (v1) or "cgroup.procs". */
const char *cgroup_join_file(const struct cgroup_dirs *dirs, int i);

/* cgroup_join_index() with nothing born, the refusing directory's path copied into failed (when given). */
int cgroup_join_dirs(const struct cgroup_dirs *dirs, char *failed, size_t failed_size);

/* fork(), the child born in the list's cgroup2 directory when there is one and the kernel does
 * it (clone3() CLONE_INTO_CGROUP): *born is then its index in the child, else -1. */
pid_t cgroup_fork_into(const struct cgroup_dirs *dirs, int *born);

/* The index-th non-empty line of list (cgroup_open_dirs()'s order): its length, *line its start; -1 when there is none. */
int cgroup_list_line(const char *list, int index, const char **line);

void cgroup_close_dirs(struct cgroup_dirs *dirs);

#endif
