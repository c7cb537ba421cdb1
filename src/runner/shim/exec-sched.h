/* exec-sched: the child's OOM score, CPU scheduling, nice level, CPU affinity and I/O
 * priority (systemd.exec(5) "Scheduling"). Each takes the UO_SHIM_* value, applies it to the
 * calling process, and returns 0 or -errno (-EINVAL for a value it cannot parse). */
#ifndef UO_SHIM_EXEC_SCHED_H
#define UO_SHIM_EXEC_SCHED_H

/* UO_SHIM_OOM_SCORE_ADJUST=-1000..1000: oom_prepare() opens /proc/self/oom_score_adj (before
 * a chroot can hide /proc); oom_apply() writes it, or returns the error of either step.
 * -EPERM/-EACCES mean the kernel refused (going below the current value's floor needs
 * CAP_SYS_RESOURCE): systemd goes on without it. */
void oom_prepare(const char *spec);
int oom_apply(void);

/* UO_SHIM_CPUSCHED=POLICY[:PRIORITY[:RESETONFORK]], POLICY other|batch|idle|fifo|rr,
 * PRIORITY clamped to the policy's range, RESETONFORK 0|1 (sched_setscheduler). */
int cpusched_apply(const char *spec);

/* UO_SHIM_NICE=-20..19 (setpriority). Where the kernel refuses (EPERM/EACCES), the closest
 * level RLIMIT_NICE allows is set instead, as systemd's setpriority_closest(): the return is
 * then the errno (> 0) and *applied the level set. */
int nice_apply(const char *spec, int *applied);

/* UO_SHIM_CPU_AFFINITY=LIST, CPUs and ranges separated by commas or spaces ("0-1,3"). */
int affinity_apply(const char *spec);

/* UO_SHIM_IOSCHED=CLASS[:PRIORITY], CLASS realtime|best-effort|idle|none, PRIORITY 0..7
 * (default 4; idle and none take none) (ioprio_set). */
int ioprio_apply(const char *spec);

#endif
