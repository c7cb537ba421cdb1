/*
 * nsrt: the namespaces of systemd's exec runtime (issues 14, 15): the network and IPC namespaces
 * a unit's processes share (PrivateNetwork=, PrivateIPC=, and with JoinsNamespaceOf= the units'
 * that list each other), the ones joined by path (NetworkNamespacePath=, IPCNamespacePath=) and
 * the user namespace of PrivateUsers=. Planned by src/runner/nsruntime.ts.
 *
 *   uo-shim --ns-hold TYPES AGENT_PID [FROM_PID FROM_START]
 *       a holder of new namespaces (TYPES: net, ipc or net,ipc): forks a process that unshares
 *       them (or, with FROM, joins those of that live process: a runtime the agent takes over
 *       after a restart) (lo up in a new network namespace, as systemd's loopback_setup()), then prints
 *       "held PID" (or "failed ERRNO") and exits; the holder lives, in its own session, until it
 *       is sent SIGTERM or the agent AGENT_PID ends (pidfd), so that no holder outlives its agent.
 *       Processes join its namespaces through /proc/PID/ns/TYPE (below).
 *
 * In the command, in exec_invoke()'s order (exec.c):
 *   UO_SHIM_JOIN_NS=PID:START:TYPES   join the holder PID's namespaces, after checking that PID
 *                                     still started at START (/proc/PID/stat field 22) once the
 *                                     files are open (a reused PID is refused): net NETWORK 225,
 *                                     ipc NAMESPACE 226; before the mount namespace
 *   UO_SHIM_NETNS_PATH=PATH           setns() into that network namespace (NETWORK 225)
 *   UO_SHIM_IPCNS_PATH=PATH           setns() into that IPC namespace (NAMESPACE 226)
 *   UO_SHIM_PRIVATE_USERS=self|identity
 *                                     a user namespace, after the groups and before the
 *                                     capabilities and the user change (systemd 257 sets it up
 *                                     last when privileged); a forked helper in the original
 *                                     namespace writes setgroups ("deny") and the maps: self maps
 *                                     the shim's uid/gid and User=/Group= to themselves,
 *                                     identity 0..65535 (USER 217); systemd 257 knows no "full"
 * Each returns 0 or -errno and sets *status to the exit status of the failed step.
 */
#ifndef UO_SHIM_NSRT_H
#define UO_SHIM_NSRT_H

int nsrt_hold_main(int argc, char **argv);
/* lo up in the current network namespace (also privs.c's PrivateNetwork=) */
int nsrt_loopback_up(void);
/* the shared namespaces and the ones joined by path (before the mount namespace) */
int nsrt_join(int *status);
/* PrivateUsers= (after the groups; ouid/ogid: the ids the command started with, before the group change, as systemd's saved_uid/saved_gid) */
int nsrt_private_users(const char *uid, const char *gid, unsigned ouid, unsigned ogid, int *status);

#endif
