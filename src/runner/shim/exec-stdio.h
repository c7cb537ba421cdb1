/* exec-stdio: the command's standard input, output and error (systemd.exec(5) "Logging and
 * standard input/output"). Each returns 0, or -errno. */
#ifndef UO_SHIM_EXEC_STDIO_H
#define UO_SHIM_EXEC_STDIO_H

/*
 * UO_SHIM_STDIN, as StandardInput=:
 *   null              /dev/null (also what an absent UO_SHIM_STDIN gives)
 *   tty:PATH          the terminal PATH, made the controlling terminal; waits while another
 *                     session holds it (systemd's "tty")
 *   tty-force:PATH    the same, taken from another session if needed
 *   tty-fail:PATH     the same, failing when another session holds it
 *   file:PATH         PATH read-only (read-write when stdout or stderr writes the same PATH),
 *                     or, when PATH is an AF_UNIX socket, a connection to it
 *   data:BASE64       the decoded bytes (StandardInputData=/StandardInputText=), from memory
 */
int stdio_input(const char *spec, const char *out_spec, const char *err_spec);

/*
 * UO_SHIM_STDOUT / UO_SHIM_STDERR (target 1 or 2): "null", "inherit", "a:PATH" to append,
 * "w:PATH" to truncate, "o:PATH" to write from the start without truncating, "journal" for
 * the log pipe (logcap.h). When UO_SHIM_STDIN is set, "inherit" follows systemd: stdout
 * shares a terminal or file stdin, stderr shares stdout. Stderr with the same file spec as
 * stdout shares its open file (one offset, as systemd).
 */
int stdio_output(const char *spec, int target, const char *stdin_spec, const char *out_spec);

#endif
