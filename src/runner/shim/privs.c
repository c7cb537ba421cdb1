/* privs: see privs.h. */
#define _GNU_SOURCE
#include "privs.h"
#include "exit-status.h"
#include "nsrt.h"
#include "seccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/keyctl.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#endif
#define KEEP_CAPS_BIT (1 << 4) /* SECURE_KEEP_CAPS: linux/securebits.h */

/* A 64-bit mask of exactly 16 hex digits; -EINVAL for anything else. */
static int parse_mask(const char *s, uint64_t *out) {
	if (!s || strlen(s) != 16) return -EINVAL;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0) return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* The highest capability the kernel knows (cap_last_cap()), found with PR_CAPBSET_READ. */
static int last_cap(void) {
	int i = 0;
	while (i < 63 && prctl(PR_CAPBSET_READ, (unsigned long)(i + 1), 0, 0, 0) >= 0) i++;
	return i;
}

struct caps { struct __user_cap_header_struct h; struct __user_cap_data_struct d[2]; };

static int caps_get(struct caps *c) {
	memset(c, 0, sizeof *c);
	c->h.version = _LINUX_CAPABILITY_VERSION_3;
	return syscall(SYS_capget, &c->h, c->d) < 0 ? -errno : 0;
}
static int caps_set(struct caps *c) {
	c->h.version = _LINUX_CAPABILITY_VERSION_3;
	c->h.pid = 0;
	return syscall(SYS_capset, &c->h, c->d) < 0 ? -errno : 0;
}
#define CAP_HAS(field, i) ((c.d[(i) >> 5].field >> ((i) & 31)) & 1u)
#define CAP_ON(field, i) (c.d[(i) >> 5].field |= 1u << ((i) & 31))
#define CAP_OFF(field, i) (c.d[(i) >> 5].field &= ~(1u << ((i) & 31)))

/* capability_gain_cap_setpcap(): CAP_SETPCAP into the effective set (from the permitted one). */
static int gain_setpcap(void) {
	struct caps c;
	int r = caps_get(&c);
	if (r < 0) return r;
	if (CAP_HAS(effective, CAP_SETPCAP)) return 0;
	CAP_ON(effective, CAP_SETPCAP);
	return caps_set(&c);
}

static int ambient_apply(uint64_t set, int also_inherit) {
	int last = last_cap();
	/* requested but missing from the bounding set: suppressed, as systemd */
	for (int i = 0; i <= last; i++)
		if ((set >> i & 1) && prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) != 1) set &= ~((uint64_t)1 << i);
	if (also_inherit && set) {
		struct caps c;
		int r = caps_get(&c);
		if (r < 0) return r;
		for (int i = 0; i <= last; i++) if (set >> i & 1) CAP_ON(inheritable, i);
		if ((r = caps_set(&c)) < 0) return r;
	}
	for (int i = 0; i <= last; i++) {
		if (set >> i & 1) {
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)i, 0, 0) < 0) return -errno;
		} else if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, (unsigned long)i, 0, 0) > 0 &&
			   prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, (unsigned long)i, 0, 0) < 0) return -errno;
	}
	return 0;
}

static int ambient_mask(uint64_t *set) {
	*set = 0;
	const char *v = getenv("UO_SHIM_AMBIENT");
	return v ? parse_mask(v, set) : 0;
}

int privs_network(void) {
	const char *v = getenv("UO_SHIM_PRIVATE_NETWORK");
	if (!v) return 0;
	if (strcmp(v, "1") != 0) return -EINVAL;
	if (unshare(CLONE_NEWNET) < 0) return -errno;
	return nsrt_loopback_up(); /* nsrt.c */
}

int privs_bounding(void) {
	const char *v = getenv("UO_SHIM_CAPBSET");
	uint64_t amb;
	int r = ambient_mask(&amb);
	if (r < 0) return r;
	if (v) {
		uint64_t keep;
		if ((r = parse_mask(v, &keep)) < 0) return r;
		int last = last_cap();
		int all = 1;
		for (int i = 0; i <= last; i++) if (!(keep >> i & 1)) all = 0;
		if (!all) {
			/* capability_bounding_set_drop(keep, right_now=false): CAP_SETPCAP to drop them,
			 * every capability not kept out of the bounding and the inheritable sets */
			struct caps c;
			if ((r = caps_get(&c)) < 0) return r;
			if (!CAP_HAS(effective, CAP_SETPCAP) && CAP_HAS(permitted, CAP_SETPCAP)) {
				CAP_ON(effective, CAP_SETPCAP);
				if ((r = caps_set(&c)) < 0) return r;
			}
			for (int i = 0; i <= last; i++) {
				if (keep >> i & 1) continue;
				if (prctl(PR_CAPBSET_DROP, (unsigned long)i, 0, 0, 0) < 0) {
					r = -errno;
					if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) != 0) return r; /* still there: a failure */
				}
				CAP_OFF(inheritable, i);
			}
			if ((r = caps_set(&c)) < 0) return r;
		}
	}
	/* systemd applies the ambient set (also when empty: inherited ones are lowered) before the user change */
	return ambient_apply(amb, 1);
}

static int non_root(const char *uid) {
	return uid && *uid && strcmp(uid, "0") != 0;
}

/* SecureBits= (UO_SHIM_SECUREBITS, two hex digits); 0 when absent */
static int secure_bits(int *out) {
	*out = 0;
	const char *v = getenv("UO_SHIM_SECUREBITS");
	if (!v) return 0;
	char *end;
	unsigned long b = strtoul(v, &end, 16);
	if (!*v || *end || b > 0x3f) return -EINVAL;
	*out = (int)b;
	return 0;
}

int privs_keyring(void) {
	const char *v = getenv("UO_SHIM_KEYRING");
	if (!v) return 0;
	char mode[16] = "";
	long uid = -1, gid = -1;
	char inv[33] = "";
	/* MODE:UID:GID:INVOCATION, UID and GID possibly empty */
	const char *p = v, *c = strchr(p, ':');
	if (!c || c - p >= (long)sizeof mode) return -EINVAL;
	memcpy(mode, p, (size_t)(c - p));
	p = c + 1;
	if (*p != ':') { char *e; uid = strtol(p, &e, 10); if (*e != ':' || uid < 0) return -EINVAL; p = e; }
	p++;
	if (*p != ':') { char *e; gid = strtol(p, &e, 10); if (*e != ':' || gid < 0) return -EINVAL; p = e; }
	p++;
	if (strlen(p) != 0 && strlen(p) != 32) return -EINVAL;
	strcpy(inv, p);
	int shared = strcmp(mode, "shared") == 0;
	if (!shared && strcmp(mode, "private") != 0) return -EINVAL;
	/* as systemd's setup_keyring(): the keyring is made (and the user keyring reached) as the
	 * unit's user, by changing the real ids for a moment */
	uid_t saved_uid = getuid();
	gid_t saved_gid = getgid();
	int r = 0;
	if (gid >= 0 && (gid_t)gid != saved_gid && setregid((gid_t)gid, (gid_t)-1) < 0) return -errno;
	if (uid >= 0 && (uid_t)uid != saved_uid && setreuid((uid_t)uid, (uid_t)-1) < 0) { r = -errno; goto out; }
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0L, 0L, 0L, 0L) < 0) {
		/* not supported, not permitted, out of keyrings: systemd goes on without */
		if (errno != ENOSYS && errno != EPERM && errno != EACCES && errno != EDQUOT) r = -errno;
		goto out;
	}
	if (shared && syscall(SYS_keyctl, KEYCTL_LINK, (long)KEY_SPEC_USER_KEYRING, (long)KEY_SPEC_SESSION_KEYRING, 0L, 0L) < 0) { r = -errno; goto out; }
	if (uid >= 0 && (uid_t)uid != saved_uid && setreuid(saved_uid, (uid_t)-1) < 0) { r = -errno; goto out; }
	if (gid >= 0 && (gid_t)gid != saved_gid && setregid(saved_gid, (gid_t)-1) < 0) return -errno;
	if (*inv) {
		unsigned char id[16];
		for (int i = 0; i < 32; i++) {
			char ch = inv[i];
			int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
			if (d < 0) return -EINVAL;
			id[i / 2] = (unsigned char)(i % 2 ? id[i / 2] << 4 | d : d);
		}
		long key = syscall(SYS_add_key, "user", "invocation_id", id, sizeof id, (long)KEY_SPEC_SESSION_KEYRING);
		/* possessor and user: view, read, search (systemd's KEYCTL_SETPERM) */
		if (key >= 0 && syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x0b0b0000L, 0L, 0L) < 0) r = -errno;
	}
out:
	if (getuid() != saved_uid) (void)!setreuid(saved_uid, (uid_t)-1);
	if (getgid() != saved_gid) (void)!setregid(saved_gid, (gid_t)-1);
	return r;
}

/* A seccomp program is to be installed (seccomp.c). */
static int wants_seccomp(void) {
	return getenv("UO_SHIM_SECCOMP") || getenv("UO_SHIM_SECCOMP_AF") || getenv("UO_SHIM_SECCOMP_MDWE") ||
	       getenv("UO_SHIM_PROTECT_HOSTNAME");
}

int privs_uts(int *status) {
	*status = UO_EXIT_NAMESPACE;
	const char *v = getenv("UO_SHIM_PROTECT_HOSTNAME");
	if (!v) return 0;
	/* apply_protect_hostname(): a UTS namespace; refused as not supported or not permitted, the
	 * command runs in the host's (systemd warns), any other error fails it */
	if (unshare(CLONE_NEWUTS) < 0 && errno != EPERM && errno != EACCES && errno != EINVAL && errno != ENOSYS &&
	    errno != EOPNOTSUPP)
		return -errno;
	*status = UO_EXIT_SECCOMP;
	return seccomp_install_now(v);
}

int privs_rtprio(void) {
	const char *v = getenv("UO_SHIM_RTPRIO_ZERO");
	if (!v) return 0;
	if (strcmp(v, "1") != 0) return -EINVAL;
	struct rlimit rl = { 0, 0 };
	return setrlimit(RLIMIT_RTPRIO, &rl) < 0 ? -errno : 0;
}

int privs_before_user(const char *uid) {
	uint64_t amb;
	int r = ambient_mask(&amb);
	if (r < 0) return r;
	/* ambient capabilities, or seccomp programs to install with CAP_SYS_ADMIN after the user
	 * change (systemd 257 keeps it for that: a non-root User= with SystemCallFilter= runs with
	 * NoNewPrivs 0); execve() clears what is kept (no ambient, no file capabilities) */
	int bits;
	if ((r = secure_bits(&bits)) < 0) return r;
	/* (SecureBits= too: setting them later needs CAP_SETPCAP, enforce_user()) */
	if ((amb == 0 && bits == 0 && !wants_seccomp()) || !non_root(uid)) return 0;
	int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (sb < 0) return -errno;
	if (!(sb & KEEP_CAPS_BIT) && prctl(PR_SET_SECUREBITS, (unsigned long)(sb | KEEP_CAPS_BIT), 0, 0, 0) < 0) return -errno;
	return 0;
}

int privs_after_user(const char *uid) {
	uint64_t amb;
	int r = ambient_mask(&amb);
	if (r < 0) return r;
	if (amb == 0 || !non_root(uid)) return 0;
	return ambient_apply(amb, 0);
}

int privs_late(int *status) {
	*status = UO_EXIT_SECUREBITS;
	int want;
	int r0 = secure_bits(&want);
	if (r0 < 0) return r0;
	*status = UO_EXIT_CAPABILITIES;
	int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (sb < 0) return -errno;
	/* SecureBits= (0 without it: the keep-caps of the user change cleared again) */
	if (sb != want) {
		int r = gain_setpcap();
		if (r < 0) return r;
		*status = UO_EXIT_SECUREBITS;
		if (prctl(PR_SET_SECUREBITS, (unsigned long)want, 0, 0, 0) < 0) return -errno;
	}
	/* CAP_SYS_ADMIN into the effective set when it is permitted (kept through the user change),
	 * so the seccomp programs load without NoNewPrivileges=, as systemd 257 loads them */
	if (wants_seccomp()) {
		struct caps c;
		int r = caps_get(&c);
		if (r < 0) return r;
		if (!CAP_HAS(effective, CAP_SYS_ADMIN) && CAP_HAS(permitted, CAP_SYS_ADMIN)) {
			CAP_ON(effective, CAP_SYS_ADMIN);
			/* systemd 257 leaves CAP_SYS_ADMIN and CAP_SETPCAP in the inheritable set of such a
			 * command (the oracle's CapInh): the same, so a program with inheritable file
			 * capabilities gets what it gets under systemd */
			CAP_ON(inheritable, CAP_SYS_ADMIN);
			CAP_ON(inheritable, CAP_SETPCAP);
			if ((r = caps_set(&c)) < 0) return r;
		}
	}
	*status = UO_EXIT_NO_NEW_PRIVILEGES;
	const char *v = getenv("UO_SHIM_NNP");
	if (!v) return 0;
	int set;
	if (strcmp(v, "1") == 0) set = 1;
	else if (strcmp(v, "implied") == 0) {
		/* context_has_no_new_privileges(): a seccomp filter needs it unless CAP_SYS_ADMIN is effective */
		struct caps c;
		int r = caps_get(&c);
		if (r < 0) return r;
		set = !CAP_HAS(effective, CAP_SYS_ADMIN);
	} else return -EINVAL;
	if (set && prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0, 0, 0) < 0) return -errno;
	return 0;
}
