/* exec-creds: UMask=, Limit*=, Group=/SupplementaryGroups=, User= (see exec-creds.h). */
#define _GNU_SOURCE
#include "exec-creds.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

void creds_umask(const char *spec) {
	umask(spec ? (mode_t)strtol(spec, NULL, 8) : 022);
}

static const struct { const char *name; int resource; } limits[] = {
	{ "CPU", RLIMIT_CPU }, { "FSIZE", RLIMIT_FSIZE }, { "DATA", RLIMIT_DATA }, { "STACK", RLIMIT_STACK },
	{ "CORE", RLIMIT_CORE }, { "RSS", RLIMIT_RSS }, { "NOFILE", RLIMIT_NOFILE }, { "AS", RLIMIT_AS },
	{ "NPROC", RLIMIT_NPROC }, { "MEMLOCK", RLIMIT_MEMLOCK }, { "LOCKS", RLIMIT_LOCKS },
	{ "SIGPENDING", RLIMIT_SIGPENDING }, { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
	{ "RTPRIO", RLIMIT_RTPRIO }, { "RTTIME", RLIMIT_RTTIME }, { NULL, 0 },
};

static rlim_t parse_rlim(const char *s) {
	/* "infinity" alone or before ":HARD" (strcmp() here made "infinity:N" a soft limit of 0) */
	if (strncmp(s, "infinity", 8) == 0 && (s[8] == 0 || s[8] == ':')) return RLIM_INFINITY;
	return (rlim_t)strtoull(s, NULL, 10);
}

/* setrlimit(), or as close as the hard limit we have allows when raising it is refused (EPERM
 * without CAP_SYS_RESOURCE), as systemd's setrlimit_closest(): LimitMEMLOCK=1T under a hard
 * limit of 8M gives 8M, not a failed start. */
static int set_closest(int resource, const struct rlimit *want) {
	if (setrlimit(resource, want) == 0) return 0;
	if (errno != EPERM) return -errno;
	struct rlimit have;
	if (getrlimit(resource, &have) < 0) return -errno;
	if (have.rlim_max == RLIM_INFINITY) return -EPERM;
	struct rlimit closest = {
		.rlim_cur = want->rlim_cur < have.rlim_max ? want->rlim_cur : have.rlim_max,
		.rlim_max = want->rlim_max < have.rlim_max ? want->rlim_max : have.rlim_max,
	};
	if (closest.rlim_cur == have.rlim_cur && closest.rlim_max == have.rlim_max) return 0;
	return setrlimit(resource, &closest) < 0 ? -errno : 0;
}

int creds_limits(void) {
	for (int i = 0; limits[i].name; i++) {
		char key[64];
		snprintf(key, sizeof key, "UO_SHIM_RLIMIT_%s", limits[i].name);
		const char *v = getenv(key);
		if (!v) continue;
		struct rlimit rl;
		const char *colon = strchr(v, ':');
		rl.rlim_cur = parse_rlim(v);
		rl.rlim_max = colon ? parse_rlim(colon + 1) : rl.rlim_cur;
		int r = set_closest(limits[i].resource, &rl);
		if (r < 0) return r;
	}
	return 0;
}

int creds_groups(const char *groups, const char *gid, const char *uid) {
	if (groups || gid || uid) {
		gid_t list[64] = { 0 };
		int n = 0;
		if (groups) {
			char *copy = strdup(groups), *save = NULL;
			if (!copy) return -ENOMEM;
			for (char *tok = strtok_r(copy, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) list[n++] = (gid_t)strtoul(tok, NULL, 10);
			free(copy);
		}
		if (setgroups((size_t)n, list) < 0) return -errno;
	}
	if (gid && setresgid((gid_t)atoi(gid), (gid_t)atoi(gid), (gid_t)atoi(gid)) < 0) return -errno;
	return 0;
}

int creds_user(const char *uid) {
	if (uid && setresuid((uid_t)atoi(uid), (uid_t)atoi(uid), (uid_t)atoi(uid)) < 0) return -errno;
	return 0;
}
