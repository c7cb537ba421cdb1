/* exec: the command's process from fork() to execve(), and what it reports to the shim. */
#ifndef UO_SHIM_EXEC_H
#define UO_SHIM_EXEC_H

/* In the child: applies the UO_SHIM_* execution settings in systemd's order and execs path
 * with argv; on a failed step it writes the failure to report_fd (close-on-exec) and exits
 * with systemd's exit status for that step. Never returns. */
void exec_child(int report_fd, const char *path, char **argv) __attribute__((noreturn));

/* In the shim: reads the child's report until execve() closes report_fd and emits "note",
 * then "exec" or "exec-failed" lines for pid (events.c). */
void exec_collect(int report_fd, int pid);

#endif
