/* exec: the command's process from fork() to execve(), and what it reports to the shim. */
#ifndef UO_SHIM_EXEC_H
#define UO_SHIM_EXEC_H

#include "cgroup.h"

/* In the child: applies the UO_SHIM_* execution settings in systemd's order and execs path
 * with argv; on a failed step it writes the failure to report_fd (close-on-exec) and exits
 * with systemd's exit status for that step. ns_err: the errno with which the holder failed to
 * enter UO_SHIM_NAMESPACES (0: entered, or none asked), the first step (NAMESPACE); cgroups:
 * the unit's cgroup folders (UO_SHIM_CGROUPS, opened by the holder), born: the index of the one
 * it was born in (cgroup_fork_into(); -1: none). Never returns. */
void exec_child(int report_fd, const char *path, char **argv, int ns_err, const struct cgroup_dirs *cgroups, int born) __attribute__((noreturn));

/* In the shim: reads the child's report until execve() closes report_fd and emits "note",
 * then "exec" or "exec-failed" lines for pid (events.c). */
void exec_collect(int report_fd, int pid);

#endif
