// The real facts of a node, in the host's view: its file system through HostFs (under the
// host's root when the agent runs in a container), its kernel through /proc and /sys (shared
// with the host), the manager's (the agent's) environment and identity.

import { existsSync } from 'node:fs';
import { availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import { HostFs, listDir, readBounded } from './hostfs.ts';
import type { Facts, Identity, Virtualization } from './types.ts';

export interface HostFactsOptions {
  /** The host's root as the agent sees it (/host, /proc/1/root); undefined or "/" on the host itself. */
  readonly hostRoot?: string | undefined;
  /** The manager's environment (ConditionEnvironment=); the agent's own by default. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

const KERNEL_MAX = 1024 * 1024;

const CONTAINERS = new Set(['lxc', 'lxc-libvirt', 'systemd-nspawn', 'docker', 'podman', 'rkt', 'wsl', 'proot', 'pouch']);

/** DMI vendor prefixes → systemd's VM ids (virt.c's detect_vm_dmi_vendor()). */
const DMI_VENDORS: ReadonlyArray<readonly [string, string]> = [['KVM', 'kvm'], ['OpenStack', 'kvm'], ['KubeVirt', 'kvm'],
  ['Amazon EC2', 'amazon'], ['QEMU', 'qemu'], ['VMware', 'vmware'], ['VMW', 'vmware'], ['innotek GmbH', 'oracle'],
  ['VirtualBox', 'oracle'], ['Oracle Corporation', 'oracle'], ['Xen', 'xen'], ['Bochs', 'bochs'], ['Parallels', 'parallels'],
  ['BHYVE', 'bhyve'], ['Hyper-V', 'microsoft'], ['Apple Virtualization', 'apple'], ['Google Compute Engine', 'google']];

/** Counts a CPU list ("0-3,8,10-11") as in Cpus_allowed_list. */
export function countCpuList(list: string): number | undefined {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) return undefined;
    n += m[2] !== undefined ? Number(m[2]) - Number(m[1]) + 1 : 1;
  }
  return n;
}

export class HostFacts implements Facts {
  readonly fs: HostFs;
  private readonly env: Readonly<Record<string, string | undefined>>;
  constructor(o: HostFactsOptions = {}) {
    this.fs = new HostFs(o.hostRoot);
    this.env = o.env ?? process.env;
  }

  stat(path: string, follow: boolean) { return this.fs.stat(path, follow); }
  dirHasEntry(path: string, accept: (name: string) => boolean) { return this.fs.dirHasEntry(path, accept); }
  globExists(pattern: string) { return this.fs.globExists(pattern); }
  isMountPoint(path: string) { return this.fs.isMountPoint(path); }
  isReadOnly(path: string) { return this.fs.isReadOnly(path); }
  isEncrypted(path: string) { return this.fs.isEncrypted(path); }
  readHostFile(path: string) { return this.fs.read(path, KERNEL_MAX); }
  readKernelFile(path: string) { return readBounded(path, KERNEL_MAX, { encoding: path.includes('/efivars/') ? 'latin1' : 'utf8' }); }
  listKernelDir(path: string) { return listDir(path); }
  uname() { return { release: release(), machine: machine() }; }

  /** The host's name: its /etc/hostname when the agent runs in a container with the host's root, else the kernel's. */
  hostname(): string {
    if (this.fs.root !== '') {
      const h = (this.readHostFile('/etc/hostname') ?? '').split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
      if (h) return h;
    }
    return hostname();
  }

  environment() { return this.env; }

  identity(): Identity {
    const uid = process.getuid?.() ?? 0, euid = process.geteuid?.() ?? uid;
    return { uid, euid, gid: process.getgid?.() ?? 0, egid: process.getegid?.() ?? 0, groups: process.getgroups?.() ?? [], systemManager: euid === 0 };
  }

  private lookup(file: string, name: string): number | undefined {
    for (const line of (this.readHostFile(file) ?? '').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && /^[0-9]+$/.test(f[2])) return Number(f[2]);
    }
    return undefined;
  }
  lookupUser(name: string) { return this.lookup('/etc/passwd', name); }
  lookupGroup(name: string) { return this.lookup('/etc/group', name); }

  cpus(): number {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(this.readKernelFile('/proc/self/status') ?? '');
    return (m ? countCpuList(m[1]!) : undefined) ?? availableParallelism();
  }

  memoryBytes(): number { return totalmem(); }

  /** systemd-detect-virt, from what the agent can read: a container first, then a VM (DMI, Xen, device tree, the CPU's hypervisor flag). */
  virtualization(): Virtualization {
    const c = this.container();
    if (c) return { kind: 'container', id: c };
    const vm = this.vm();
    return vm ? { kind: 'vm', id: vm } : { kind: 'none', id: 'none' };
  }

  private container(): string | undefined {
    if (existsSync('/proc/vz') && !existsSync('/proc/bc')) return 'openvz';
    const osrel = this.readKernelFile('/proc/sys/kernel/osrelease') ?? '';
    if (/Microsoft|WSL/.test(osrel)) return 'wsl';
    const name = (s: string | undefined): string | undefined => {
      const v = s?.split('\n')[0]?.trim();
      if (!v) return undefined;
      if (v === 'oci') return this.containerFiles() ?? 'container-other';
      return CONTAINERS.has(v) ? v : 'container-other';
    };
    const m = name(this.readHostFile('/run/host/container-manager')) ?? name(this.readHostFile('/run/systemd/container'));
    if (m) return m;
    // the host's PID 1: through /proc/<pid>/root's process, or our own PID 1 when the agent runs on the host
    const pid1 = /^\/proc\/([0-9]+)\/root$/.exec(this.fs.root)?.[1] ?? (this.fs.root === '' ? '1' : undefined);
    if (pid1) {
      const env = readBounded(`/proc/${pid1}/environ`, KERNEL_MAX)?.split('\0').find((e) => e.startsWith('container='));
      if (env) return name(env.slice('container='.length));
    }
    return this.containerFiles();
  }

  private containerFiles(): string | undefined {
    if (!('errno' in this.fs.stat('/run/.containerenv', false))) return 'podman';
    if (!('errno' in this.fs.stat('/.dockerenv', false))) return 'docker';
    return undefined;
  }

  private vm(): string | undefined {
    for (const f of ['product_name', 'sys_vendor', 'board_vendor', 'bios_vendor', 'product_version']) {
      const v = this.readKernelFile(`/sys/class/dmi/id/${f}`)?.trim();
      if (!v) continue;
      const hit = DMI_VENDORS.find(([p]) => v.startsWith(p));
      if (hit) return hit[1];
    }
    if ((this.readKernelFile('/sys/class/dmi/id/sys_vendor') ?? '').startsWith('Microsoft Corporation') && (this.readKernelFile('/sys/class/dmi/id/product_name') ?? '').startsWith('Virtual Machine')) return 'microsoft';
    if ((this.readKernelFile('/sys/hypervisor/type') ?? '').trim() === 'xen' || existsSync('/proc/xen')) return 'xen';
    const dt = this.readKernelFile('/proc/device-tree/hypervisor/compatible') ?? '';
    if (dt.includes('linux,kvm')) return 'kvm';
    if (dt.includes('xen')) return 'xen';
    if (dt.includes('vmware')) return 'vmware';
    const sysinfo = this.readKernelFile('/proc/sysinfo') ?? '';
    if (/VM00 Control Program:\s*z\/VM/.test(sysinfo)) return 'zvm';
    if (/VM00 Control Program:\s*KVM\/Linux/.test(sysinfo)) return 'kvm';
    const cpuinfo = this.readKernelFile('/proc/cpuinfo') ?? '';
    if (/^vendor_id\s*:\s*User Mode Linux/m.test(cpuinfo)) return 'uml';
    if (/^flags\s*:.*\bhypervisor\b/m.test(cpuinfo)) return 'vm-other';
    return undefined;
  }

  cgroupControllers() {
    const v2 = this.readKernelFile('/sys/fs/cgroup/cgroup.controllers');
    if (v2 !== undefined) return { unified: true, controllers: new Set(v2.trim().split(/\s+/).filter(Boolean)) };
    const v1 = this.readKernelFile('/proc/cgroups');
    if (v1 === undefined) return undefined;
    const on = new Set<string>();
    for (const line of v1.split('\n')) { const f = line.split(/\s+/); if (f.length >= 4 && !line.startsWith('#') && f[3] === '1') on.add(f[0]!); }
    return { unified: false, controllers: on };
  }
}
