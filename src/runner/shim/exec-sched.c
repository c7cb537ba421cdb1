/* exec-sched: OOMScoreAdjust=, CPUScheduling*=, Nice=, CPUAffinity=, IOScheduling*= (see
 * exec-sched.h). */
#define _GNU_SOURCE
#include "exec-sched.h"
#include "libc-compat.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Parses a whole decimal number in [min, max] ending at s's end or at stop; 0 or -EINVAL. */
static int parse_long(const char *s, long min, long max, char stop, long *out, const char **end) {
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (e == s || errno || v < min || v > max || (*e && *e != stop)) return -EINVAL;
	*out = v;
	if (end) *end = e;
	return 0;
}

/* ---------------------------------------------------------------- OOMScoreAdjust= */

static int oom_fd = -1, oom_err;
static long oom_value;

void oom_prepare(const char *spec) {
	if (parse_long(spec, -1000, 1000, 0, &oom_value, NULL) < 0) { oom_err = EINVAL; return; }
	oom_fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (oom_fd < 0) oom_err = errno;
}

int oom_apply(void) {
	if (oom_fd < 0) return -(oom_err ? oom_err : EBADF);
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%ld\n", oom_value);
	int r = write(oom_fd, buf, (size_t)n) < 0 ? -errno : 0;
	close(oom_fd);
	oom_fd = -1;
	return r;
}

/* ---------------------------------------------------------- CPUSchedulingPolicy= */

static const struct { const char *name; int policy; } policies[] = {
	{ "other", SCHED_OTHER }, { "batch", SCHED_BATCH }, { "idle", SCHED_IDLE }, { "fifo", SCHED_FIFO }, { "rr", SCHED_RR }, { NULL, 0 },
};

int cpusched_apply(const char *spec) {
	size_t len = strcspn(spec, ":");
	int policy = -1;
	for (int i = 0; policies[i].name; i++)
		if (strlen(policies[i].name) == len && strncmp(spec, policies[i].name, len) == 0) policy = policies[i].policy;
	if (policy < 0) return -EINVAL;
	long prio = 0, reset = 0;
	const char *p = spec + len;
	if (*p == ':') {
		if (parse_long(p + 1, 0, 99, ':', &prio, &p) < 0) return -EINVAL;
		if (*p == ':' && parse_long(p + 1, 0, 1, 0, &reset, NULL) < 0) return -EINVAL;
	}
	/* as systemd's parser does: the priority is clamped to what the policy takes */
	int lo = sched_get_priority_min(policy), hi = sched_get_priority_max(policy);
	if (prio < lo) prio = lo;
	if (prio > hi) prio = hi;
	struct sched_param param = { .sched_priority = (int)prio };
	return sched_setscheduler(0, policy | (reset ? SCHED_RESET_ON_FORK : 0), &param) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------------------ Nice= */

int nice_apply(const char *spec, int *applied) {
	long nice;
	if (parse_long(spec, -20, 19, 0, &nice, NULL) < 0) return -EINVAL;
	*applied = (int)nice;
	if (setpriority(PRIO_PROCESS, 0, (int)nice) == 0) return 0;
	int err = errno;
	if (err != EPERM && err != EACCES) return -err;
	/* refused: the lowest level RLIMIT_NICE allows (20 - rlim_cur), or stay where we are if
	 * that is already nicer than that limit */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NICE, &rl) < 0) return -err;
	int limit = rl.rlim_cur <= 1 ? 19 : rl.rlim_cur >= 40 ? -20 : 20 - (int)rl.rlim_cur;
	errno = 0;
	int current = getpriority(PRIO_PROCESS, 0);
	if (errno) return -err;
	if (current > limit && setpriority(PRIO_PROCESS, 0, limit) < 0) return -errno;
	*applied = current < limit ? current : limit;
	return err;
}

/* ---------------------------------------------------------------- CPUAffinity= */

int affinity_apply(const char *spec) {
	enum { MAX_CPUS = 8192 };
	long highest = -1;
	/* two passes: find the size, then fill the set */
	for (int pass = 0; pass < 2; pass++) {
		cpu_set_t *set = NULL;
		size_t size = 0;
		if (pass == 1) {
			if (highest < 0) return -EINVAL;
			set = CPU_ALLOC((int)highest + 1);
			if (!set) return -ENOMEM;
			size = CPU_ALLOC_SIZE((int)highest + 1);
			CPU_ZERO_S(size, set);
		}
		const char *p = spec;
		for (;;) {
			while (*p == ',' || *p == ' ' || *p == '\t') p++;
			if (!*p) break;
			char *e;
			errno = 0;
			long a = strtol(p, &e, 10), b;
			if (e == p || errno || a < 0 || a >= MAX_CPUS) { CPU_FREE(set); return -EINVAL; }
			p = e;
			b = a;
			if (*p == '-') {
				b = strtol(p + 1, &e, 10);
				if (e == p + 1 || b < a || b >= MAX_CPUS) { CPU_FREE(set); return -EINVAL; }
				p = e;
			}
			if (*p && *p != ',' && *p != ' ' && *p != '\t') { CPU_FREE(set); return -EINVAL; }
			if (pass == 0 && b > highest) highest = b;
			if (pass == 1) for (long c = a; c <= b; c++) CPU_SET_S((size_t)c, size, set);
		}
		if (pass == 1) {
			int r = sched_setaffinity(0, size, set) < 0 ? -errno : 0;
			CPU_FREE(set);
			return r;
		}
	}
	return -EINVAL;
}

/* -------------------------------------------------------------- IOScheduling*= */

enum { IOPRIO_CLASS_NONE_ = 0, IOPRIO_CLASS_RT_ = 1, IOPRIO_CLASS_BE_ = 2, IOPRIO_CLASS_IDLE_ = 3, IOPRIO_CLASS_SHIFT_ = 13, IOPRIO_WHO_PROCESS_ = 1 };

int ioprio_apply(const char *spec) {
	static const struct { const char *name; int class; } classes[] = {
		{ "none", IOPRIO_CLASS_NONE_ }, { "realtime", IOPRIO_CLASS_RT_ }, { "best-effort", IOPRIO_CLASS_BE_ }, { "idle", IOPRIO_CLASS_IDLE_ }, { NULL, 0 },
	};
	size_t len = strcspn(spec, ":");
	int class = -1;
	for (int i = 0; classes[i].name; i++)
		if (strlen(classes[i].name) == len && strncmp(spec, classes[i].name, len) == 0) class = classes[i].class;
	if (class < 0) return -EINVAL;
	long prio = 4;
	if (spec[len] == ':' && parse_long(spec + len + 1, 0, 7, 0, &prio, NULL) < 0) return -EINVAL;
	/* the kernel takes no level with "none" (follow the nice level) nor with "idle" */
	if (class == IOPRIO_CLASS_NONE_ || class == IOPRIO_CLASS_IDLE_) prio = 0;
	long value = ((long)class << IOPRIO_CLASS_SHIFT_) | prio;
	return syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS_, 0, value) < 0 ? -errno : 0;
}
