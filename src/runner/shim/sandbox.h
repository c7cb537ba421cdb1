/*
 * sandbox: the command's private mount namespace (issue 14: ProtectSystem=, ProtectHome=,
 * PrivateTmp=, PrivateDevices=, ReadWritePaths=, ReadOnlyPaths=, InaccessiblePaths=,
 * ExecPaths=, NoExecPaths=, TemporaryFileSystem=, BindPaths=, BindReadOnlyPaths=,
 * ProtectKernelTunables=, ProtectKernelModules=, ProtectKernelLogs=,
 * ProtectControlGroups= (and its cgroup namespace), PrivatePIDs=, ProtectProc=, ProcSubset=, PrivateMounts=, MountAPIVFS=, BindLogSockets=,
 * RootDirectory=), set up as systemd 257's setup_namespace()
 * (src/core/namespace.c) does, from the plan the agent encodes in UO_SHIM_SANDBOX
 * (src/runner/sandbox.ts builds it: the mount entries already sorted, deduplicated and
 * pruned as systemd does; this module validates and applies them).
 *
 * UO_SHIM_SANDBOX: one entry a line ('\n'), fields separated by '\t':
 *   OP FLAGS ARG [ARG2]
 *   FLAGS: '.' (none) or letters: i ignore a missing path, r recursive bind, o read-only,
 *          n nosuid, x noexec
 *   inaccessible F PATH          an empty node of the path's type, mode 0000, read-only
 *   ro|rw|rwi|noexec|exec F PATH the path made a mount point (bound onto itself), then
 *                                read-only / left as is / noexec / exec (rwi: systemd's
 *                                READ_WRITE_IMPLICIT, kept out of a read-only parent)
 *   tmp F PATH BASE              PrivateTmp=: BASE (0700, root's) and BASE/tmp (01777)
 *                                created when missing, BASE/tmp bound on PATH
 *   bind F PATH SOURCE           BindPaths=, BindReadOnlyPaths= (the source as the host
 *                                sees it, before any entry is mounted)
 *   tmpfs F PATH OPTIONS         TemporaryFileSystem=, ProtectHome=tmpfs (nodev,strictatime)
 *   dev F /dev                   PrivateDevices=: a new /dev with the pseudo devices only
 *   procfs F /proc OPTIONS       ProtectProc=, ProcSubset=: a new /proc mounted with
 *                                hidepid=noaccess|invisible|ptraceable and/or subset=pid
 *   procfs F /proc               MountAPIVFS=: a new /proc (no options)
 *   binddev|bindsys F /dev|/sys  MountAPIVFS=: the host's /dev, /sys bound (recursively) where
 *                                nothing is mounted yet; /sys made noexec
 *   run F /run                   MountAPIVFS=: a tmpfs (0755, nosuid, nodev) where nothing is
 *                                mounted yet
 *   cgroup2 F /sys/fs/cgroup     ProtectControlGroups=private (F '.') | strict (F 'o'): on a cgroup
 *                                v2 host a cgroup namespace (unshared before the mount namespace,
 *                                rooted at the cgroup the command joined) and a new cgroup2 mount
 *                                (nosuid, nodev, noexec; read-only with 'o'); elsewhere, as
 *                                systemd 257, private is nothing and strict the path read-only
 *   pids . private               PrivatePIDs=: the command runs as PID 1 of a PID namespace of
 *                                its own (sandbox_private_pids(); the plan mounts a /proc for it)
 *   root . ROOT                  RootDirectory=: every entry's PATH is taken below ROOT (the
 *                                sources stay the host's); ROOT gets systemd's base folders
 *                                (root usr var etc proc sys dev run, when missing), is made a
 *                                mount point, and is moved onto / at the end (the command's /)
 *   dropcap . N,N,...            capabilities dropped from the bounding set
 *   propagation . shared|slave|private   MountFlags= (applied to / last; default shared)
 * Paths: absolute, at most 4095 bytes, no "." or ".." component, no control character.
 */
#ifndef UO_SHIM_SANDBOX_H
#define UO_SHIM_SANDBOX_H

/* In the child, after the host's namespaces were entered and before the user change: parses
 * spec (nothing is done when it is malformed: -EINVAL) and sets the mount namespace up.
 * Returns 0 or -errno (the step fails with systemd's NAMESPACE, 226). */
int sandbox_apply(const char *spec);

/* PrivatePIDs= (a "pids . private" line; the caller is the command's process, after its cgroup,
 * before the mount namespace, as systemd 257's setup_private_pids()): the caller unshares a PID
 * namespace and forks its PID 1, and returns that process's PID (> 0, in the caller's namespace):
 * the caller reports it and exits. The new process gets 0 (also without the line) and goes on,
 * once the caller has exited. -errno: nothing was forked (NAMESPACE, 226). */
int sandbox_private_pids(const char *spec);

/* Whether the applied plan had a root (RootDirectory=): the command's / is already that root,
 * no chroot() is to follow. */
int sandbox_rooted(void);

#endif
