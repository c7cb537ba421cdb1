// The checks of the node itself (condition.c): host, kernel, firmware, security, identity,
// environment, os-release, CPU features.

import { fnmatch } from './fnmatch.ts';
import type { Facts } from './types.ts';
import type { Outcome } from './paths.ts';
import { parseOrder, versionOrFnmatch } from './version.ts';
import { parseBool, parseEnvFile, unquoteWords } from './words.ts';

const EINVAL = { errno: 'EINVAL' } as const;

/** An sd_id128 in its plain (32 hex) or UUID form, lowercased without dashes; undefined otherwise. */
function id128(s: string): string | undefined {
  if (/^[0-9a-fA-F]{32}$/.test(s)) return s.toLowerCase();
  if (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) return s.replaceAll('-', '').toLowerCase();
  return undefined;
}

/** ConditionHost=: the machine ID (/etc/machine-id) when the parameter is one, else a case-insensitive glob on the host name. */
export function host(f: Facts, p: string): Outcome {
  const id = id128(p);
  if (id !== undefined) {
    const mine = id128((f.readHostFile('/etc/machine-id') ?? '').trim());
    return mine === undefined ? { errno: 'ENOMEDIUM' } : mine === id;
  }
  return fnmatch(p, f.hostname(), { casefold: true });
}

/** ConditionKernelCommandLine=: "word" matches word or word=…; "word=value" matches exactly. */
export function kernelCommandLine(f: Facts, p: string): Outcome {
  const line = f.readKernelFile('/proc/cmdline');
  if (line === undefined) return { errno: 'ENOENT' };
  const words = unquoteWords(line) ?? line.split(/\s+/);
  const equal = p.includes('=');
  return words.some((w) => (equal ? w === p : w === p || w.startsWith(`${p}=`)));
}

/**
 * ConditionKernelVersion=: blank-separated expressions, all must hold; each an operator
 * (<, <=, =, !=, >=, >, $=, !$=) and a version, or a bare glob. The first expression may have
 * blanks between its operator and its version.
 */
export function kernelVersion(f: Facts, p: string): Outcome {
  const release = f.uname().release;
  const words = unquoteWords(p);
  if (words === undefined) return EINVAL;
  for (let i = 0; i < words.length; i++) {
    const s = words[i]!.trim();
    const o = parseOrder(s, true);
    if (!o) { if (!fnmatch(s, release)) return false; continue; }
    let value = o.rest.replace(/^[ \t\n\r]+/, '');
    if (value === '') {
      if (i !== 0 || i + 1 >= words.length) return EINVAL;
      value = words[++i]!;
    }
    if (!versionOrFnmatch(o.order, release, value)) return false;
  }
  return true;
}

/** uname -m → systemd's architecture name (architecture.c). */
export function architectureOf(machine: string): string | undefined {
  const m = machine;
  const table: Record<string, string> = {
    x86_64: 'x86-64', i386: 'x86', i486: 'x86', i586: 'x86', i686: 'x86', aarch64: 'arm64', aarch64_be: 'arm64-be',
    ppc64: 'ppc64', ppc64le: 'ppc64-le', ppc: 'ppc', ppcle: 'ppc-le', s390x: 's390x', s390: 's390', ia64: 'ia64',
    parisc64: 'parisc64', parisc: 'parisc', sparc64: 'sparc64', sparc: 'sparc', mips64: 'mips64', mips: 'mips',
    alpha: 'alpha', sh5: 'sh64', sh: 'sh', m68k: 'm68k', tilegx: 'tilegx', crisv32: 'cris', nios2: 'nios2',
    riscv32: 'riscv32', riscv64: 'riscv64', arc: 'arc', arceb: 'arc-be', loongarch64: 'loongarch64',
  };
  if (table[m]) return table[m];
  if (/^armv[0-9]+.*b$/.test(m) || m === 'armeb') return 'arm-be';
  if (/^arm/.test(m)) return 'arm';
  if (/^sh[0-9]/.test(m)) return 'sh';
  return undefined;
}

export const ARCHITECTURES = new Set(['x86', 'x86-64', 'ppc', 'ppc-le', 'ppc64', 'ppc64-le', 'ia64', 'parisc', 'parisc64',
  's390', 's390x', 'sparc', 'sparc64', 'mips', 'mips-le', 'mips64', 'mips64-le', 'alpha', 'arm', 'arm-be', 'arm64',
  'arm64-be', 'sh', 'sh64', 'm68k', 'tilegx', 'cris', 'nios2', 'riscv32', 'riscv64', 'arc', 'arc-be', 'loongarch64']);

/** ConditionArchitecture=: an unknown name is not ours; "native" is the agent's own. */
export function architecture(f: Facts, p: string): Outcome {
  const mine = architectureOf(f.uname().machine);
  if (mine === undefined) return { errno: 'EOPNOTSUPP' };
  if (p === 'native') return true;
  return ARCHITECTURES.has(p) && p === mine;
}

/** ConditionVirtualization=: a boolean, "vm", "container", "private-users", or an id (kvm, docker…). */
export function virtualization(f: Facts, p: string): Outcome {
  if (p === 'private-users') {
    const map = f.readKernelFile('/proc/self/uid_map');
    return map !== undefined && !/^\s*0\s+0\s+4294967295\s*$/.test(map);
  }
  const v = f.virtualization();
  const b = parseBool(p);
  if (v.kind !== 'none' && b === true) return true;
  if (v.kind === 'none' && b === false) return true;
  if (v.kind === 'vm' && p === 'vm') return true;
  if (v.kind === 'container' && p === 'container') return true;
  return v.kind !== 'none' && p === v.id;
}

const EFI_GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const LOADER = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

/** ConditionFirmware=: device-tree, device-tree-compatible(x), uefi, smbios-field(name op value). */
export function firmware(f: Facts, p: string): Outcome {
  if (p === 'device-tree') return f.listKernelDir('/sys/firmware/devicetree') !== undefined;
  if (p === 'uefi') return f.listKernelDir('/sys/firmware/efi') !== undefined;
  const dtc = /^device-tree-compatible\((.*)\)$/s.exec(p);
  if (dtc) return (f.readKernelFile('/proc/device-tree/compatible') ?? '').split('\0').includes(dtc[1]!);
  if (p.startsWith('device-tree-compatible(')) return false; // malformed: systemd says so at debug level
  const smb = /^smbios-field\((.*)\)$/s.exec(p);
  if (smb) {
    const m = /^([^!<=>$]*)(.*)$/s.exec(smb[1]!)!;
    const field = m[1]!.replace(/[ \t\n\r]+$/, '').replace(/^[ \t\n\r]+/, '');
    const o = parseOrder(m[2]!, true);
    if (field === '' || !o) return EINVAL;
    const value = unquoteWords(o.rest);
    if (!value || value.length !== 1) return EINVAL;
    if (field === '.' || field === '..' || field.includes('/')) return EINVAL;
    const actual = f.readKernelFile(`/sys/class/dmi/id/${field}`);
    if (actual === undefined) return false;
    return versionOrFnmatch(o.order, actual.replace(/[ \t\n\r]+$/, ''), value[0]!);
  }
  if (p.startsWith('smbios-field(')) return EINVAL;
  return false;
}

/** ConditionSecurity=: a security technology the node uses; an unknown word is not used. */
export function security(f: Facts, p: string): Outcome {
  const dir = (d: string): boolean => f.listKernelDir(d) !== undefined;
  switch (p) {
    case 'selinux': return f.readKernelFile('/sys/fs/selinux/enforce') !== undefined;
    case 'apparmor': return (f.readKernelFile('/sys/module/apparmor/parameters/enabled') ?? '').startsWith('Y');
    case 'smack': return dir('/sys/fs/smackfs');
    // use_audit() opens an audit netlink socket; the kernel has audit when it keeps login UIDs
    case 'audit': return f.readKernelFile('/proc/self/loginuid') !== undefined;
    case 'ima': return dir('/sys/kernel/security/ima');
    case 'tomoyo': return dir('/sys/kernel/security/tomoyo');
    case 'uefi-secureboot': {
      const v = f.readKernelFile(`/sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL}`);
      return v !== undefined && v.length >= 5 && v.charCodeAt(4) === 1;
    }
    case 'tpm2': return (f.listKernelDir('/sys/class/tpmrm') ?? []).length > 0;
    case 'measured-uki': return f.readKernelFile(`/sys/firmware/efi/efivars/StubPcrKernelImage-${LOADER}`) !== undefined;
    // confidential VMs are told by CPUID leaves the agent cannot read: not detected
    case 'cvm': return false;
    default: return false;
  }
}

export const CAPABILITIES = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module',
  'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time',
  'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog',
  'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf', 'checkpoint_restore'];

/** capability_from_name(): "CAP_SYS_ADMIN" (any case) or a number below 63. */
export function capabilityNumber(name: string): number | undefined {
  if (/^[0-9]+$/.test(name)) { const n = Number(name); return n < 63 ? n : undefined; }
  const i = CAPABILITIES.indexOf(name.toLowerCase().replace(/^cap_/, ''));
  return i >= 0 && name.toLowerCase().startsWith('cap_') ? i : undefined;
}

/** ConditionCapability=: in the manager's bounding set (CapBnd: of /proc/self/status); all of them when it cannot tell. */
export function capability(f: Facts, p: string): Outcome {
  const n = capabilityNumber(p);
  if (n === undefined) return EINVAL;
  const m = /^CapBnd:\s*([0-9a-fA-F]+)/m.exec(f.readKernelFile('/proc/self/status') ?? '');
  if (!m) return true;
  return ((BigInt(`0x${m[1]}`) >> BigInt(n)) & 1n) === 1n;
}

/**
 * on_ac_power(): an online non-battery power supply means AC; else a discharging battery
 * (present, not a device's own) means battery; else AC (a server without supplies).
 */
export function onAcPower(f: Facts): boolean {
  const base = '/sys/class/power_supply';
  let online = false, discharging = false;
  for (const d of f.listKernelDir(base) ?? []) {
    const attr = (a: string): string | undefined => f.readKernelFile(`${base}/${d}/${a}`)?.trim();
    const type = attr('type');
    if (type === undefined) continue;
    if (type === 'Battery') {
      if (attr('scope') === 'Device' || attr('present') === '0') continue;
      if (attr('status') === 'Discharging') discharging = true;
      continue;
    }
    const v = attr('online');
    if (v !== undefined && /^[0-9]+$/.test(v) && Number(v) > 0) online = true;
  }
  return online || !discharging;
}

export function acPower(f: Facts, p: string): Outcome {
  const b = parseBool(p);
  if (b === undefined) return EINVAL;
  return onAcPower(f) === b;
}

/** ConditionEnvironment=: "NAME" is set in the manager's environment, or "NAME=value" is exactly there. */
export function environment(f: Facts, p: string): Outcome {
  const env = f.environment();
  const eq = p.indexOf('=');
  if (eq < 0) return env[p] !== undefined;
  return env[p.slice(0, eq)] === p.slice(eq + 1);
}

const SYSTEM_UID_MAX = 999;
const validId = (s: string): number | undefined => (/^[0-9]+$/.test(s) && Number(s) < 4294967295 && Number(s) !== 65535 ? Number(s) : undefined);

/** ConditionUser=: a UID, a user name or @system, compared with the manager's (the agent's) user. */
export function user(f: Facts, p: string): Outcome {
  const me = f.identity();
  const id = validId(p);
  if (id !== undefined) return id === me.uid || id === me.euid;
  if (p === '@system') return me.uid <= SYSTEM_UID_MAX || me.euid <= SYSTEM_UID_MAX;
  if (p === 'root' && (me.uid === 0 || me.euid === 0)) return true;
  if (me.systemManager) return p === 'root';
  const uid = f.lookupUser(p);
  return uid !== undefined && (uid === me.uid || uid === me.euid);
}

/** ConditionGroup=: a GID or group name the manager is in (primary, effective or supplementary). */
export function group(f: Facts, p: string): Outcome {
  const me = f.identity();
  const has = (g: number): boolean => g === me.gid || g === me.egid || me.groups.includes(g);
  const id = validId(p);
  if (id !== undefined) return has(id);
  if (me.systemManager) return p === 'root';
  const gid = f.lookupGroup(p);
  return gid !== undefined && has(gid);
}

/** systemd's CPU feature names (x86 CPUID bits) → the kernel's /proc/cpuinfo flag names. */
const CPU_FLAGS: Record<string, string> = {
  fpu: 'fpu', vme: 'vme', de: 'de', pse: 'pse', tsc: 'tsc', msr: 'msr', pae: 'pae', mce: 'mce', cx8: 'cx8', apic: 'apic',
  sep: 'sep', mtrr: 'mtrr', pge: 'pge', mca: 'mca', cmov: 'cmov', pat: 'pat', pse36: 'pse36', clflush: 'clflush', mmx: 'mmx',
  fxsr: 'fxsr', sse: 'sse', sse2: 'sse2', ht: 'ht', pni: 'pni', pclmul: 'pclmulqdq', monitor: 'monitor', ssse3: 'ssse3',
  fma3: 'fma', cx16: 'cx16', sse4_1: 'sse4_1', sse4_2: 'sse4_2', movbe: 'movbe', popcnt: 'popcnt', aes: 'aes', xsave: 'xsave',
  osxsave: 'osxsave', avx: 'avx', f16c: 'f16c', rdrand: 'rdrand', bmi1: 'bmi1', avx2: 'avx2', bmi2: 'bmi2', rdseed: 'rdseed',
  adx: 'adx', sha_ni: 'sha_ni', syscall: 'syscall', rdtscp: 'rdtscp', lm: 'lm', lahf_lm: 'lahf_lm', abm: 'abm', constant_tsc: 'constant_tsc',
};

/** ConditionCPUFeature=: an x86 CPU feature of systemd's list (read from /proc/cpuinfo's flags); none elsewhere. */
export function cpuFeature(f: Facts, p: string): Outcome {
  const arch = architectureOf(f.uname().machine);
  if (arch !== 'x86' && arch !== 'x86-64') return false;
  const flag = CPU_FLAGS[p];
  if (flag === undefined) return false;
  const m = /^flags\s*:(.*)$/m.exec(f.readKernelFile('/proc/cpuinfo') ?? '');
  if (!m) return false;
  const flags = new Set(m[1]!.trim().split(/\s+/));
  // the kernel hides OSXSAVE (a bit the OS sets): XSAVE enabled by the kernel shows it
  return flags.has(flag) || (p === 'osxsave' && flags.has('xsave'));
}

/** ConditionOSRelease=: blank-separated KEY<op>VALUE expressions on the host's os-release, all must hold. */
export function osRelease(f: Facts, p: string): Outcome {
  const words = unquoteWords(p);
  if (words === undefined) return EINVAL;
  let fields: Map<string, string> | undefined;
  for (const w of words) {
    const m = /^([^!<=>$]*)(.*)$/s.exec(w)!;
    const key = m[1]!;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || m[2] === '') return EINVAL;
    const o = parseOrder(m[2]!, true);
    if (!o || o.rest === '' || /^[ \t\n\r]/.test(o.rest)) return EINVAL;
    if (fields === undefined) {
      const text = f.readHostFile('/etc/os-release') ?? f.readHostFile('/usr/lib/os-release');
      if (text === undefined) return { errno: 'ENOENT' };
      fields = parseEnvFile(text);
    }
    if (!versionOrFnmatch(o.order, fields.get(key) ?? '', o.rest)) return false;
  }
  return true;
}
