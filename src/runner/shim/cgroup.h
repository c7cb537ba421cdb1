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

/* Writes pid into cgroup.procs (tasks where a v1 hierarchy has no cgroup.procs) of each
 * directory, opened now (so in the cgroup namespace the caller is in now). Returns 0, or -errno
 * of the first directory that refused it, whose path is copied into failed (when given). */
int cgroup_attach_dirs(const struct cgroup_dirs *dirs, pid_t pid, char *failed, size_t failed_size);

/* cgroup_attach_dirs(), telling which directory refused (its index in the list) through at. */
int cgroup_attach_index(const struct cgroup_dirs *dirs, pid_t pid, int *at);

/* The index-th non-empty line of list (cgroup_open_dirs()'s order): its length, *line its start; -1 when there is none. */
int cgroup_list_line(const char *list, int index, const char **line);

void cgroup_close_dirs(struct cgroup_dirs *dirs);

#endif
