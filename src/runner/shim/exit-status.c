/* exit-status: the step names of systemd's exit statuses 200..226 (see exit-status.h). */
#include "exit-status.h"

#include <stddef.h>

static const char *const steps[] = {
	[UO_EXIT_CHDIR - 200] = "CHDIR",
	[UO_EXIT_NICE - 200] = "NICE",
	[UO_EXIT_FDS - 200] = "FDS",
	[UO_EXIT_EXEC - 200] = "EXEC",
	[UO_EXIT_MEMORY - 200] = "MEMORY",
	[UO_EXIT_LIMITS - 200] = "LIMITS",
	[UO_EXIT_OOM_ADJUST - 200] = "OOM_ADJUST",
	[UO_EXIT_SIGNAL_MASK - 200] = "SIGNAL_MASK",
	[UO_EXIT_STDIN - 200] = "STDIN",
	[UO_EXIT_STDOUT - 200] = "STDOUT",
	[UO_EXIT_CHROOT - 200] = "CHROOT",
	[UO_EXIT_IOPRIO - 200] = "IOPRIO",
	[212 - 200] = "TIMERSLACK",
	[213 - 200] = "SECUREBITS",
	[UO_EXIT_SETSCHEDULER - 200] = "SETSCHEDULER",
	[UO_EXIT_CPUAFFINITY - 200] = "CPUAFFINITY",
	[UO_EXIT_GROUP - 200] = "GROUP",
	[UO_EXIT_USER - 200] = "USER",
	[218 - 200] = "CAPABILITIES",
	[UO_EXIT_CGROUP - 200] = "CGROUP",
	[UO_EXIT_SETSID - 200] = "SETSID",
	[221 - 200] = "CONFIRM",
	[UO_EXIT_STDERR - 200] = "STDERR",
	[224 - 200] = "PAM",
	[225 - 200] = "NETWORK",
	[UO_EXIT_NAMESPACE - 200] = "NAMESPACE",
	[UO_EXIT_NO_NEW_PRIVILEGES - 200] = "NO_NEW_PRIVILEGES",
	[UO_EXIT_SECCOMP - 200] = "SECCOMP",
	[UO_EXIT_ADDRESS_FAMILIES - 200] = "ADDRESS_FAMILIES",
	[UO_EXIT_KEYRING - 200] = "KEYRING",
};

const char *exit_status_step(int status) {
	if (status < 200 || status >= 200 + (int)(sizeof steps / sizeof steps[0]) || !steps[status - 200]) return "UNKNOWN";
	return steps[status - 200];
}
