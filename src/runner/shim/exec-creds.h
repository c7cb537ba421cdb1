/* exec-creds: the child's umask, resource limits, groups and user. Each returns 0 or -errno. */
#ifndef UO_SHIM_EXEC_CREDS_H
#define UO_SHIM_EXEC_CREDS_H

/* UO_SHIM_UMASK (octal; 022 when absent). */
void creds_umask(const char *spec);

/* UO_SHIM_RLIMIT_<NAME>="SOFT[:HARD]" for NAME in CPU FSIZE DATA STACK CORE RSS NOFILE AS
 * NPROC MEMLOCK LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME; "infinity" for no limit. */
int creds_limits(void);

/* UO_SHIM_GROUPS (comma-separated GIDs) and UO_SHIM_GID: setgroups() when any of groups,
 * gid or uid is set (an empty list when groups is not), then setresgid(). */
int creds_groups(const char *groups, const char *gid, const char *uid);

/* UO_SHIM_UID: setresuid(). */
int creds_user(const char *uid);

#endif
