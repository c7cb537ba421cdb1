/* seccomp: see seccomp.h. */
#define _GNU_SOURCE
#include "seccomp.h"
#include "exit-status.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define MAX_PROGRAMS 64
#define MAX_INSNS 4096

struct set { int n; struct sock_fprog progs[MAX_PROGRAMS]; };
static struct set af_set, mdwe_set, filter_set;
static int mdwe_wanted;

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1UL
#endif

static int hexval(char c) {
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One program: exactly 16 hex digits an instruction. */
static int parse_program(const char *s, size_t len, struct sock_fprog *out) {
	if (len == 0 || len % 16 != 0 || len / 16 > MAX_INSNS) return -EINVAL;
	size_t n = len / 16;
	uint8_t *buf = malloc(n * 8);
	if (!buf) return -ENOMEM;
	for (size_t i = 0; i < n * 8; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) { free(buf); return -EINVAL; }
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	struct sock_filter *f = calloc(n, sizeof *f);
	if (!f) { free(buf); return -ENOMEM; }
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = buf + 8 * i;
		f[i].code = (uint16_t)(b[0] | b[1] << 8);
		f[i].jt = b[2];
		f[i].jf = b[3];
		f[i].k = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	}
	free(buf);
	out->len = (unsigned short)n;
	out->filter = f;
	return 0;
}

static int parse_set(const char *v, struct set *s) {
	s->n = 0;
	if (!v) return 0;
	for (const char *p = v;;) {
		size_t len = strcspn(p, ",");
		if (s->n >= MAX_PROGRAMS) return -EINVAL;
		int r = parse_program(p, len, &s->progs[s->n]);
		if (r < 0) return r;
		s->n++;
		if (p[len] == 0) return 0;
		p += len + 1;
	}
}

int seccomp_prepare(int *status) {
	*status = UO_EXIT_ADDRESS_FAMILIES;
	int r = parse_set(getenv("UO_SHIM_SECCOMP_AF"), &af_set);
	if (r < 0) return r;
	*status = UO_EXIT_SECCOMP;
	const char *m = getenv("UO_SHIM_SECCOMP_MDWE");
	mdwe_wanted = m != NULL;
	if ((r = parse_set(m, &mdwe_set)) < 0) return r;
	return parse_set(getenv("UO_SHIM_SECCOMP"), &filter_set);
}

static int install(struct set *s) {
	for (int i = 0; i < s->n; i++)
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &s->progs[i], 0, 0) < 0) return -errno;
	return 0;
}

int seccomp_install(int *status) {
	*status = UO_EXIT_ADDRESS_FAMILIES;
	int r = install(&af_set);
	if (r < 0) return r;
	*status = UO_EXIT_SECCOMP;
	/* MemoryDenyWriteExecute=: PR_SET_MDWE when the kernel has it (6.3), its programs otherwise
	 * (apply_memory_deny_write_execute(): any other error than EINVAL fails) */
	if (mdwe_wanted && prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0UL, 0UL, 0UL) < 0) {
		if (errno != EINVAL) return -errno;
		if ((r = install(&mdwe_set)) < 0) return r;
	}
	return install(&filter_set);
}

int seccomp_install_now(const char *programs) {
	struct set s;
	int r = parse_set(programs, &s);
	if (r < 0) return r;
	r = install(&s);
	for (int i = 0; i < s.n; i++) free(s.progs[i].filter);
	return r;
}
