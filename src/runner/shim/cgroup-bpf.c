/*
 * cgroup-bpf: `uo-shim --cgroup-bpf DIR`, which loads the agent's BPF programs and attaches them
 * to the cgroup DIR (a directory of the cgroup2 hierarchy). Node cannot call bpf(2); the agent
 * (src/runner/cgroup/cgroupbpf.ts) runs this helper, as root, before the first process of an
 * invocation starts and again when the unit's lists change (set-property). The programs are
 * compiled by the agent (src/runner/cgroup/ipaccess.ts, socketbind.ts, devices-bpf.ts); the kernel's verifier checks them here.
 *
 * Commands on stdin, one a line, all read and checked before the first is carried out:
 *   attach ATTACH NAME HEX   load HEX (eBPF, 16 hex digits an instruction) as a program named
 *                            NAME of the type ATTACH needs; attach it to DIR for ATTACH with
 *                            BPF_F_ALLOW_MULTI, atomically in place of the program named NAME
 *                            attached there before (BPF_F_REPLACE), any other of that name
 *                            detached after it: never a moment without a filter, never two
 *   detach ATTACH NAME       detach every program named NAME attached to DIR for ATTACH
 *   list ATTACH              print "ATTACH ID NAME" for each program attached to DIR for ATTACH
 *   check                    load a trivial program of each type and query DIR: whether this
 *                            kernel and this process can do the above (root, CONFIG_CGROUP_BPF)
 * ATTACH: inet-ingress, inet-egress (BPF_PROG_TYPE_CGROUP_SKB: IPAddressAllow=/IPAddressDeny=),
 * inet4-bind, inet6-bind (BPF_PROG_TYPE_CGROUP_SOCK_ADDR: SocketBindAllow=/SocketBindDeny=),
 * device (BPF_PROG_TYPE_CGROUP_DEVICE: DevicePolicy=/DeviceAllow= on cgroup2, devices-bpf.ts).
 *
 * Programs of other names (a delegated payload's own) are left alone. The attachment lives as
 * long as the cgroup (not this process): a new agent finds it, replaces it by name, and so never
 * attaches a second copy. Exit 0; 1 with "uo-shim --cgroup-bpf: ..." on stderr (the verifier's
 * log with it when a program is refused); 2 for a malformed command.
 */
#define _GNU_SOURCE
#include "cgroup-bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_COMMANDS 16
#define MAX_LINE (1 << 22)
#define MAX_PROGS 64 /* BPF_CGROUP_MAX_PROGS: a cgroup holds at most this many per attach type */

static const char *dir_path;

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof *attr); }

static int fail(const char *what, int err) {
	fprintf(stderr, "uo-shim --cgroup-bpf: %s%s%s: %s\n", what, dir_path ? " on " : "", dir_path ? dir_path : "", strerror(err));
	return 1;
}

static const struct { const char *name; int attach, type; } ATTACH[] = {
	{ "inet-ingress", BPF_CGROUP_INET_INGRESS, BPF_PROG_TYPE_CGROUP_SKB },
	{ "inet-egress", BPF_CGROUP_INET_EGRESS, BPF_PROG_TYPE_CGROUP_SKB },
	{ "inet4-bind", BPF_CGROUP_INET4_BIND, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "inet6-bind", BPF_CGROUP_INET6_BIND, BPF_PROG_TYPE_CGROUP_SOCK_ADDR },
	{ "device", BPF_CGROUP_DEVICE, BPF_PROG_TYPE_CGROUP_DEVICE },
};
#define N_ATTACH (int)(sizeof ATTACH / sizeof ATTACH[0])

struct command { char verb; int at; char name[BPF_OBJ_NAME_LEN]; struct bpf_insn *insns; size_t n; };

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static int attach_index(const char *s) {
	for (int i = 0; i < N_ATTACH; i++) if (strcmp(s, ATTACH[i].name) == 0) return i;
	return -1;
}

/* A program's name: 1-15 characters of [A-Za-z0-9_.], as the kernel takes them. */
static int good_name(const char *s) {
	size_t n = strlen(s);
	if (n == 0 || n >= BPF_OBJ_NAME_LEN) return 0;
	for (size_t i = 0; i < n; i++) if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.')) return 0;
	return 1;
}

static int parse_line(char *line, struct command *c) {
	char *verb = strtok(line, " "), *at = strtok(NULL, " "), *name = strtok(NULL, " "), *hex = strtok(NULL, " "), *rest = strtok(NULL, " ");
	memset(c, 0, sizeof *c);
	if (!verb || rest) return -1;
	if (strcmp(verb, "check") == 0) { c->verb = 'c'; return at ? -1 : 0; }
	if (!at || (c->at = attach_index(at)) < 0) return -1;
	if (strcmp(verb, "list") == 0) { c->verb = 'l'; return name ? -1 : 0; }
	if (!name || !good_name(name)) return -1;
	snprintf(c->name, sizeof c->name, "%s", name);
	if (strcmp(verb, "detach") == 0) { c->verb = 'd'; return hex ? -1 : 0; }
	if (strcmp(verb, "attach") != 0 || !hex) return -1;
	size_t len = strlen(hex);
	if (len == 0 || len % 16 != 0) return -1;
	c->verb = 'a';
	c->n = len / 16;
	c->insns = calloc(c->n, sizeof *c->insns);
	if (!c->insns) return -1;
	uint8_t *b = (uint8_t *)c->insns;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) return -1;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Loads a program for the attach type at; its fd, or -errno (the verifier's log on stderr). */
static int load(int at, const char *name, const struct bpf_insn *insns, size_t n) {
	int type = ATTACH[at].type;
	static char log[65536];
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.prog_type = type;
	if (type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR) a.expected_attach_type = ATTACH[at].attach; /* required for these */
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t) "Apache-2.0"; /* the helpers used (skb_load_bytes) are not GPL-only */
	snprintf(a.prog_name, sizeof a.prog_name, "%s", name);
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0) return fd;
	int e = errno;
	if (e == EACCES || e == EINVAL) { /* again with the verifier's log, for the message */
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof log;
		a.log_level = 1;
		log[0] = 0;
		int again = (int)sys_bpf(BPF_PROG_LOAD, &a);
		if (again >= 0) return again;
		if (log[0]) fprintf(stderr, "uo-shim --cgroup-bpf: the verifier's log:\n%s\n", log);
	}
	return -e;
}

/* The ids of the programs attached to cg for at (at most MAX_PROGS); their count, or -errno. */
static int query(int cg, int at, uint32_t *ids) {
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.query.target_fd = cg;
	a.query.attach_type = ATTACH[at].attach;
	a.query.prog_ids = (uintptr_t)ids;
	a.query.prog_cnt = MAX_PROGS;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0) return -errno;
	return (int)a.query.prog_cnt;
}

/* The fd of program id, its name copied into name; -errno. */
static int open_id(uint32_t id, char name[BPF_OBJ_NAME_LEN]) {
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.prog_id = id;
	int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
	if (fd < 0) return -errno;
	struct bpf_prog_info info;
	memset(&info, 0, sizeof info);
	memset(&a, 0, sizeof a);
	a.info.bpf_fd = fd;
	a.info.info_len = sizeof info;
	a.info.info = (uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) { int e = errno; close(fd); return -e; }
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = 0;
	return fd;
}

/* The fds of the programs named name attached to cg for at (into fds); their count, or -errno. */
static int ours(int cg, int at, const char *name, int *fds) {
	uint32_t ids[MAX_PROGS];
	int n = query(cg, at, ids), k = 0;
	if (n < 0) return n;
	for (int i = 0; i < n; i++) {
		char have[BPF_OBJ_NAME_LEN];
		int fd = open_id(ids[i], have);
		if (fd == -ENOENT) continue; /* detached meanwhile */
		if (fd < 0) { for (int j = 0; j < k; j++) close(fds[j]); return fd; }
		if (strcmp(have, name) == 0) fds[k++] = fd; else close(fd);
	}
	return k;
}

static int prog_attach(int cg, int at, int prog, int replace) {
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.target_fd = cg;
	a.attach_bpf_fd = prog;
	a.attach_type = ATTACH[at].attach;
	a.attach_flags = BPF_F_ALLOW_MULTI | (replace >= 0 ? BPF_F_REPLACE : 0);
	a.replace_bpf_fd = replace >= 0 ? replace : 0;
	return sys_bpf(BPF_PROG_ATTACH, &a) < 0 ? -errno : 0;
}

static int prog_detach(int cg, int at, int prog) {
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.target_fd = cg;
	a.attach_bpf_fd = prog;
	a.attach_type = ATTACH[at].attach;
	return sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT ? -errno : 0;
}

static int run(int cg, const struct command *c) {
	char what[160];
	if (c->verb == 'c') {
		struct bpf_insn pass[2] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 }, { .code = BPF_JMP | BPF_EXIT } };
		uint32_t ids[MAX_PROGS];
		for (int i = 0; i < N_ATTACH; i++) {
			int fd = load(i, "uo_check", pass, 2);
			if (fd < 0) { snprintf(what, sizeof what, "loading a BPF program for %s", ATTACH[i].name); return fail(what, -fd); }
			close(fd);
			int n = query(cg, i, ids);
			if (n < 0) { snprintf(what, sizeof what, "querying the %s programs", ATTACH[i].name); return fail(what, -n); }
		}
		return 0;
	}
	if (c->verb == 'l') {
		uint32_t ids[MAX_PROGS];
		int n = query(cg, c->at, ids);
		if (n < 0) return fail("querying the attached programs", -n);
		for (int i = 0; i < n; i++) {
			char name[BPF_OBJ_NAME_LEN] = "";
			int fd = open_id(ids[i], name);
			if (fd >= 0) close(fd);
			printf("%s %u %s\n", ATTACH[c->at].name, ids[i], fd >= 0 ? name : "?");
		}
		return 0;
	}
	int old[MAX_PROGS];
	int n = ours(cg, c->at, c->name, old);
	if (n < 0) { snprintf(what, sizeof what, "finding the %s programs named %s", ATTACH[c->at].name, c->name); return fail(what, -n); }
	int r = 0, first = 0;
	if (c->verb == 'a') {
		int prog = load(c->at, c->name, c->insns, c->n);
		if (prog < 0) { snprintf(what, sizeof what, "loading the %s program %s", ATTACH[c->at].name, c->name); r = fail(what, -prog); goto out; }
		int e = prog_attach(cg, c->at, prog, n > 0 ? old[0] : -1);
		close(prog);
		if (e < 0) { snprintf(what, sizeof what, "attaching the %s program %s", ATTACH[c->at].name, c->name); r = fail(what, -e); goto out; }
		first = n > 0; /* old[0] was replaced */
	}
	for (int i = first; i < n; i++) {
		int e = prog_detach(cg, c->at, old[i]);
		if (e < 0 && r == 0) { snprintf(what, sizeof what, "detaching the %s program %s", ATTACH[c->at].name, c->name); r = fail(what, -e); }
	}
out:
	for (int i = 0; i < n; i++) close(old[i]);
	return r;
}

int cgroup_bpf_main(int argc, char **argv) {
	if (argc != 3) { fprintf(stderr, "usage: uo-shim --cgroup-bpf DIR < COMMANDS\n"); return 2; }
	dir_path = argv[2];
	struct command cmds[MAX_COMMANDS];
	int n = 0;
	char *line = malloc(MAX_LINE + 2);
	if (!line) return fail("reading the commands", ENOMEM);
	while (fgets(line, MAX_LINE + 2, stdin)) {
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\n') line[--len] = 0;
		else if (!feof(stdin)) { fprintf(stderr, "uo-shim --cgroup-bpf: a command is longer than %d bytes\n", MAX_LINE); return 2; }
		if (len == 0) continue;
		if (n == MAX_COMMANDS) { fprintf(stderr, "uo-shim --cgroup-bpf: more than %d commands\n", MAX_COMMANDS); return 2; }
		if (parse_line(line, &cmds[n]) < 0) { fprintf(stderr, "uo-shim --cgroup-bpf: malformed command %d (attach|detach|list|check ...)\n", n + 1); return 2; }
		n++;
	}
	free(line);
	int cg = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) return fail("opening the cgroup", errno);
	int r = 0;
	for (int i = 0; i < n && r == 0; i++) r = run(cg, &cmds[i]);
	close(cg);
	return r;
}
