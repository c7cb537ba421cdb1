/*
 * seccomp: installs the classic-BPF programs src/runner/seccomp.ts compiled (no libseccomp),
 * as the last step before execve() (systemd's exec_invoke(): after NoNewPrivileges=).
 *
 *   UO_SHIM_SECCOMP_AF=HEX[,HEX...]   RestrictAddressFamilies= (ADDRESS_FAMILIES 232)
 *   UO_SHIM_SECCOMP_MDWE=HEX[,HEX...] MemoryDenyWriteExecute=: PR_SET_MDWE, these programs when
 *                                     the kernel refuses it with EINVAL (SECCOMP 228)
 *   UO_SHIM_SECCOMP=HEX[,HEX...]      the others in systemd's order: RestrictRealtime=,
 *                                     RestrictSUIDSGID=, RestrictNamespaces=, ProtectKernelTunables=,
 *                                     ProtectKernelModules=, ProtectKernelLogs=, ProtectClock=,
 *                                     PrivateDevices=, SystemCallArchitectures=, LockPersonality=,
 *                                     SystemCallLog=, SystemCallFilter= (SECCOMP 228)
 * HEX: a struct sock_filter array, 8 bytes an instruction, little-endian, lowercase hex; at most
 * 64 programs of at most 4096 instructions each; anything else is -EINVAL.
 */
#ifndef UO_SHIM_SECCOMP_H
#define UO_SHIM_SECCOMP_H

/* Reads the programs into memory (before the UO_SHIM_* variables are removed); *status is the
 * exit status of a failure. */
int seccomp_prepare(int *status);
/* Installs them, address families first, then MemoryDenyWriteExecute=; *status as above. */
int seccomp_install(int *status);
/* Parses and installs programs (same format) at once: ProtectHostname='s, with the UTS namespace. */
int seccomp_install_now(const char *programs);

#endif
