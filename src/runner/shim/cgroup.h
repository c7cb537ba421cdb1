/* cgroup: a process placed in its cgroups (UO_SHIM_CGROUPS for the command, UO_SHIM_HOLDER_CGROUPS
 * for the shim itself). */
#ifndef UO_SHIM_CGROUP_H
#define UO_SHIM_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* Writes pid into cgroup.procs (tasks where a v1 hierarchy has no cgroup.procs) of each
 * directory in list (absolute paths, one a line). Returns 0, or -errno of the first directory
 * that refused it, whose path is copied into failed (when given). */
int cgroup_attach(const char *list, pid_t pid, char *failed, size_t failed_size);

#endif
