/* libc-compat: where musl (1.2.3 in Debian 12; the static build of src/runner/shim.ts) differs from
 * glibc, the system calls themselves: mount_setattr() and statx(), which it does not declare yet
 * (with the kernel's own headers), and sched_setscheduler(), which it fails with ENOSYS on purpose
 * (the Linux call is per thread, not per process; the shim's child has one thread). */
#ifndef UO_SHIM_LIBC_COMPAT_H
#define UO_SHIM_LIBC_COMPAT_H
#if !defined(__GLIBC__)
#include <linux/mount.h>
#include <linux/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
static inline int mount_setattr(int dirfd, const char *path, unsigned int flags, struct mount_attr *attr, size_t size) {
	return (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, size);
}
static inline int uo_sched_setscheduler(pid_t pid, int policy, const struct sched_param *param) {
	return (int)syscall(SYS_sched_setscheduler, pid, policy, param);
}
#define sched_setscheduler uo_sched_setscheduler
static inline int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
	return (int)syscall(SYS_statx, dirfd, path, flags, mask, buf);
}
#endif
#endif
