/*
 * privs: PrivateNetwork=, CapabilityBoundingSet=, AmbientCapabilities=, the secure bits and
 * NoNewPrivileges= (issue 15), in the order of systemd's exec_invoke(); planned by
 * src/runner/privs.ts. Without libcap: prctl() and the capget/capset system calls.
 *
 *   UO_SHIM_PRIVATE_NETWORK=1    a network namespace of its own with lo up (NETWORK 225)
 *   UO_SHIM_CAPBSET=HEX16        the capabilities to keep in the bounding set (CAPABILITIES 218)
 *   UO_SHIM_AMBIENT=HEX16        ambient capabilities (CAPABILITIES 218)
 *   UO_SHIM_NNP=1|implied        PR_SET_NO_NEW_PRIVS; "implied": unless CAP_SYS_ADMIN is
 *                                effective at that point (NO_NEW_PRIVILEGES 227). A non-root
 *                                User= with seccomp programs keeps its capabilities through
 *                                setresuid() and raises CAP_SYS_ADMIN to load them, as systemd
 *                                257 does (its NoNewPrivs stays 0); execve() drops them.
 *   UO_SHIM_SECUREBITS=HEX2      SecureBits=: the secure bits set late (SECUREBITS 213); a
 *                                non-root user keeps its capabilities through setresuid() to
 *                                be allowed to set them (systemd's enforce_user())
 *   UO_SHIM_KEYRING=MODE:UID:GID:INVOCATION
 *                                KeyringMode= private|shared: a fresh anonymous session keyring
 *                                made as UID/GID (empty: the shim's own), shared: with the user's
 *                                keyring linked in, and the user key "invocation_id" (16 bytes)
 *                                in it (KEYRING 237); absent: inherit
 * Each function returns 0 or -errno; a malformed value is -EINVAL (the agent wrote it: the
 * command does not run half-configured).
 */
#ifndef UO_SHIM_PRIVS_H
#define UO_SHIM_PRIVS_H

/* KeyringMode= (systemd's setup_keyring()), before the namespaces, for "+" commands too */
int privs_keyring(void);
/* before the mount namespace */
int privs_network(void);
/* after the mount namespace: ProtectHostname= (UO_SHIM_PROTECT_HOSTNAME=HEX[,HEX...]): a UTS
 * namespace (NAMESPACE 226; not supported or not permitted: skipped, as systemd), then its
 * sethostname()/setdomainname() programs at once (SECCOMP 228) */
int privs_uts(int *status);
/* RestrictRealtime= (UO_SHIM_RTPRIO_ZERO=1): RLIMIT_RTPRIO 0 (LIMITS 205), before the bounding set */
int privs_rtprio(void);
/* after the groups, before RootDirectory= and the user change: the bounding set, then the
 * ambient set (and the inheritable set) */
int privs_bounding(void);
/* just before setresuid(): keep the capabilities through it when ambient ones are asked for */
int privs_before_user(const char *uid);
/* just after setresuid(): raise the ambient capabilities again */
int privs_after_user(const char *uid);
/* after the working directory: the secure bits of SecureBits= (0 without it; *status SECUREBITS or CAPABILITIES on
 * failure), then NoNewPrivileges= (*status NO_NEW_PRIVILEGES) */
int privs_late(int *status);

#endif
