/* cgroup-bpf: uo-shim --cgroup-bpf DIR, the loader of the agent's cgroup BPF programs (issue 15:
 * IPAddressAllow=/IPAddressDeny=, SocketBindAllow=/SocketBindDeny=, compiled by
 * src/runner/cgroup/ipaccess.ts and socketbind.ts). */
#ifndef UO_SHIM_CGROUP_BPF_H
#define UO_SHIM_CGROUP_BPF_H

/* uo-shim --cgroup-bpf DIR: see cgroup-bpf.c. Returns the exit status. */
int cgroup_bpf_main(int argc, char **argv);

#endif
