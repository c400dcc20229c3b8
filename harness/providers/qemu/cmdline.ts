// QEMU's argv from an image manifest plus per-VM choices: a pure function, so the whole machine
// definition can be read and tested without starting anything.
import path from 'node:path';
import type { ImageManifest } from '../../../images/manifest.ts';
import type { Accel } from '../types.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Debian's `ovmf` package (4 MiB flash layout, the one Windows 11 needs). */
export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  secureCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  /** Microsoft's keys enrolled: what a Secure Boot Windows image expects. */
  secureVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
} as const;

/** Present on every Windows guest; hv-crash is what turns a bugcheck into GUEST_PANICKED with its code. */
export const HYPERV_BASE = ['hv-relaxed', 'hv-vapic', 'hv-spinlocks=0x1fff', 'hv-time', 'hv-crash'] as const;
/** These need KVM's Hyper-V emulation (TCG and nested KVM refuse hv-vpindex). */
export const HYPERV_KVM_ONLY = ['hv-vpindex', 'hv-synic', 'hv-stimer', 'hv-reset', 'hv-runtime', 'hv-frequencies'] as const;

export interface QemuLaunch {
  readonly name: string;
  readonly manifest: ImageManifest;
  /** Folder of manifest.json: the manifest's relative paths resolve against it. */
  readonly imageDir: string;
  readonly accel: Accel;
  readonly memoryMiB: number;
  readonly cpus: number;
  /** The VM's writable disk: its own overlay over the image's base disk. */
  readonly disk: { readonly path: string; readonly format: string };
  readonly consolePath: string;
  /** null: no monitor (the acceleration probe). */
  readonly qmpSocket: string | null;
  /** Host loopback port forwarded to the guest's port 22; null: no network at all. */
  readonly sshPort: number | null;
  /** Required when the manifest boots through OVMF: the per-VM copy of the variable store. */
  readonly ovmfVars?: string;
  /** Required when the manifest asks for a TPM: swtpm's control socket. */
  readonly tpmSocket?: string;
}

/** QEMU option values use `,` as separator; a literal comma is written twice. */
export function qemuEscape(value: string): string {
  return value.replace(/,/g, ',,');
}

export function buildQemuArgs(l: QemuLaunch): string[] {
  const m = l.manifest;
  const windows = m.os.family === 'windows';
  const boot = m.boot;
  const ovmf = boot.kind === 'disk' && boot.firmware === 'ovmf';
  const secureBoot = boot.kind === 'disk' && boot.secureBoot;
  const abs = (p: string): string => qemuEscape(path.resolve(l.imageDir, p));
  const args: string[] = [];
  const add = (...a: string[]): void => {
    args.push(...a);
  };

  // Nothing from the host's QEMU config or default devices: the machine is exactly what follows.
  add('-name', qemuEscape(l.name), '-nodefaults', '-no-user-config', '-display', 'none');
  add('-machine', secureBoot ? `${m.machine.type},smm=on` : m.machine.type);
  add('-accel', l.accel);
  add('-cpu', cpuModel(l.accel, m.machine.crash === 'hv-crash'));
  add('-m', String(l.memoryMiB), '-smp', String(l.cpus));

  if (ovmf) {
    if (!l.ovmfVars) throw new TypeError(`image ${m.name} boots through OVMF: a per-VM copy of the vars file is required`);
    if (secureBoot) add('-global', 'driver=cfi.pflash01,property=secure,value=on');
    add('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${qemuEscape(secureBoot ? OVMF.secureCode : OVMF.code)}`);
    add('-drive', `if=pflash,format=raw,unit=1,file=${qemuEscape(l.ovmfVars)}`);
  }
  if (boot.kind === 'kernel') {
    add('-kernel', abs(boot.kernel), '-initrd', abs(boot.initrd), '-append', boot.append);
  }
  if (windows) add('-rtc', 'base=localtime');

  // Overlays are thrown away with the VM, so host-side write caching cannot lose anything we keep.
  add('-drive', `if=none,id=disk0,file=${qemuEscape(l.disk.path)},format=${l.disk.format},cache=unsafe,discard=unmap`);
  // Stock Windows has AHCI and e1000e drivers but no virtio ones; the lab kernel loads virtio.
  add('-device', windows ? 'ide-hd,drive=disk0,bus=ide.0' : 'virtio-blk-pci,drive=disk0');

  if (l.sshPort !== null) {
    // User-mode networking lives inside the QEMU process: forward SSH on loopback only, and
    // restrict=on keeps the guest from reaching the host or anything beyond it.
    add('-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${l.sshPort}-:22`);
    add('-device', windows ? 'e1000e,netdev=net0' : 'virtio-net-pci,netdev=net0');
  }

  if (boot.kind === 'disk' && boot.tpm) {
    if (!l.tpmSocket) throw new TypeError(`image ${m.name} needs a TPM: the swtpm socket path is required`);
    add('-chardev', `socket,id=tpm0chr,path=${qemuEscape(l.tpmSocket)}`);
    add('-tpmdev', 'emulator,id=tpm0,chardev=tpm0chr', '-device', 'tpm-crb,tpmdev=tpm0');
  }

  if (m.machine.crash === 'pvpanic') {
    add('-device', 'pvpanic');
    // Keep the panicked guest frozen so the host can dump its memory.
    add('-action', 'panic=pause');
  } else {
    // Windows writes its own MEMORY.DMP and reboots; any other action would stop it doing so.
    add('-action', 'panic=none');
  }

  // append=on: a VM restarted in the same cell folder must not erase the previous console.
  add('-chardev', `file,id=console0,path=${qemuEscape(l.consolePath)},append=on`, '-serial', 'chardev:console0');
  if (l.qmpSocket !== null) {
    add('-chardev', `socket,id=qmp0,path=${qemuEscape(l.qmpSocket)},server=on,wait=off`, '-mon', 'chardev=qmp0,mode=control');
  }
  return args;
}

/** TCG: `max` (everything TCG can emulate). KVM: the host's CPU. */
export function cpuModel(accel: Accel, hyperv: boolean): string {
  const base = accel === 'tcg' ? 'max' : 'host';
  if (!hyperv) return base;
  return [base, ...HYPERV_BASE, ...(accel === 'kvm' ? HYPERV_KVM_ONLY : [])].join(',');
}
