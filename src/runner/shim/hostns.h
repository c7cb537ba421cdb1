/* hostns: the holder enters another process's namespaces (UO_SHIM_NAMESPACES). */
#ifndef UO_SHIM_HOSTNS_H
#define UO_SHIM_HOSTNS_H

#include <stddef.h>

/* Enters the namespaces spec names ("PID:TYPE[,TYPE...]", TYPE one of cgroup, ipc, uts, net,
 * mnt): opens every /proc/PID/ns/TYPE first, then setns() each, in the fixed order cgroup, ipc,
 * uts, net, mnt. Returns 0, or -errno (EINVAL for a spec that is not well formed) with the
 * namespace file or the reason copied into what (when given). Not atomic: namespaces before
 * the one that failed have been entered. */
int hostns_enter(const char *spec, char *what, size_t what_size);

#endif
