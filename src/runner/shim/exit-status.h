/*
 * exit-status: systemd's exit statuses for a set-up step that failed before execve(), and the
 * step names it prints ("Failed at step CHDIR spawning …"). Values and names as systemd's
 * src/basic/exit-status.h; only the ones uo-shim can produce are listed.
 */
#ifndef UO_SHIM_EXIT_STATUS_H
#define UO_SHIM_EXIT_STATUS_H

enum {
	UO_EXIT_CHDIR = 200,
	UO_EXIT_NICE = 201,
	UO_EXIT_FDS = 202,
	UO_EXIT_EXEC = 203,
	UO_EXIT_MEMORY = 204,
	UO_EXIT_LIMITS = 205,
	UO_EXIT_OOM_ADJUST = 206,
	UO_EXIT_SIGNAL_MASK = 207,
	UO_EXIT_STDIN = 208,
	UO_EXIT_STDOUT = 209,
	UO_EXIT_CHROOT = 210,
	UO_EXIT_IOPRIO = 211,
	UO_EXIT_SETSCHEDULER = 214,
	UO_EXIT_CPUAFFINITY = 215,
	UO_EXIT_GROUP = 216,
	UO_EXIT_USER = 217,
	UO_EXIT_CGROUP = 219,
	UO_EXIT_SETSID = 220,
	UO_EXIT_STDERR = 222,
	UO_EXIT_NAMESPACE = 226,
	/* issue 15: privileges and system call filters (privs.c, seccomp.c) */
	UO_EXIT_SECUREBITS = 213,
	UO_EXIT_CAPABILITIES = 218,
	UO_EXIT_NETWORK = 225,
	UO_EXIT_NO_NEW_PRIVILEGES = 227,
	UO_EXIT_SECCOMP = 228,
	UO_EXIT_ADDRESS_FAMILIES = 232,
	UO_EXIT_KEYRING = 237,
};

/* systemd's name of an exit status ("CHDIR" for 200); "UNKNOWN" for one outside the table. */
const char *exit_status_step(int status);

#endif
