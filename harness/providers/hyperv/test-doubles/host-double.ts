// TEST DOUBLE. A "Hyper-V host" for tests, NOT Hyper-V: a loopback OpenSSH server
// (harness/guest/ssh/sshd-fixture.ts) whose sessions find bin/powershell first on PATH: real pwsh 7
// running the real composed host scripts (../scripts) with the Hyper-V cmdlets shadowed by
// hyperv-doubles.ps1. The host's state (VMs, checkpoints, its event 18590 log) is
// <stateDir>/hyperv.json; its C: drive is <stateDir>/C (PSDrive C for the scripts, `C:` beside it for
// SFTP, as in the Windows guest double). A Windows guest double (harness/guest/windows/test-doubles/
// guest-double.ts) can stand behind its VMs: Start-VM boots it from the VM's disk (the golden disk's
// contents are the guest's state JSON), Stop-VM powers it off, its bugchecks become event 18590.
// The pwsh port of testdata/recorded-host.ts: same behaviour and error texts, run for real.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { powerShellTools } from '../../../../lib/pwsh.ts';
import { SshdFixture } from '../../../guest/ssh/sshd-fixture.ts';
import { hostFromReach, type HyperVHost } from '../host.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SAMPLES = path.resolve(HERE, '../../../../../shared/samples');

/** What Write-FleetgateError reports (PowerShellErrorInfo without the position). */
export interface HostErrorInfo {
  message: string;
  type: string;
  errorId: string;
  category: string;
}

/** A VM as hyperv.json holds it. */
export interface HyperVDoubleVm {
  name: string;
  id: string;
  /** Hyper-V's State names: Off, Running, Paused, Saved... */
  state: string;
  notes: string;
  generation: number;
  memoryStartupBytes: number;
  dynamicMemory: boolean;
  cpus: number;
  switchName: string | null;
  secureBoot: boolean;
  keyProtector: boolean;
  tpm: boolean;
  automaticCheckpoints: boolean;
  automaticStartAction: string;
  automaticStopAction: string;
  /** Windows paths of its disks. */
  disks: string[];
  /** New-VM -Path. */
  path: string;
  configFile: string | null;
  checkpoints: Array<{ name: string; id: string; creationTime: string }>;
  creationTime: string;
  /** ISO time of the last Start-VM (Uptime counts from it); null while off. */
  startedAt: string | null;
  addressPollsLeft: number;
  /** Its IPv4 on a host without a guest double (one with reports the guest's). */
  address: string;
}

export interface HyperVDoubleEvent {
  recordId: number;
  time: string;
  vmName: string;
  vmId: string;
  codes: string[];
  message: string;
}

export interface HyperVDoubleState {
  config: {
    guest: { dir: string; address: string } | null;
    refuseStart: HostErrorInfo | null;
    addressDelayPolls: number;
    guestUser: string;
    guestPassword: string;
    switches: string[];
  };
  vms: HyperVDoubleVm[];
  /** The host's own Hyper-V-Worker-Admin 18590 events (the bound guest's bugchecks join at each read). */
  events: HyperVDoubleEvent[];
  nextRecordId: number;
  /** Which VM the guest double is now, and how many of its bugchecks.jsonl lines are events already. */
  bound: { vm: string | null; seen: number };
}

export interface HyperVHostDoubleOptions {
  /** A Windows guest double's state folder (startWindowsDouble().stateDir) and the IPv4 it "has". */
  guest?: { dir: string; address: string };
  /** Files put on the host's C: drive: Windows path → contents (a golden disk: a guest state JSON). */
  goldenDisks?: Record<string, string>;
  /** Start-VM fails with this (a host that refuses cells). */
  refuseStart?: HostErrorInfo;
  /** get_vm_address answers empty this many times after each start. @default 1 */
  addressDelayPolls?: number;
  /** The PowerShell Direct account. @default fleetgate / fleetgate-test-only */
  guestUser?: string;
  guestPassword?: string;
  /** Virtual switches the host has. @default ['Default Switch'] */
  switches?: string[];
}

export interface HyperVHostDouble {
  stateDir: string;
  sshd: SshdFixture;
  user: string;
  port: number;
  clientKeyPath: string;
  hostFingerprint: string;
  /** `ssh://user@127.0.0.1:port`. */
  reach: string;
  /** `ssh user@127.0.0.1:port`, as HyperVHost.where says it. */
  where: string;
  /** The product's PowerShellHyperVHost over SshPowerShellTransport, connected on first use. */
  host(): HyperVHost;
  /** Where a path of the host's C: drive (`C:\\fleetgate\\x`) is on this machine. */
  hostPath(windowsPath: string): string;
  state(): HyperVDoubleState;
  /** One VM by name, or undefined. */
  vm(name: string): HyperVDoubleVm | undefined;
  /** Puts a VM on the host as if an earlier controller had made it (its folder and disk files too). */
  addVm(init: Partial<HyperVDoubleVm> & { name: string; vmDir?: string }): HyperVDoubleVm;
  stop(): Promise<void>;
}

/** Hyper-V's refusal to start a VM when the host is out of memory (unverified wording). */
/** Hyper-V's refusal of Start-VM on a host without the memory for one more VM; {name} and {id} become the VM's. */
export function notEnoughMemory(): HostErrorInfo {
  return {
    message: "'{name}' failed to start. (Virtual machine ID {id})\n\nNot enough memory in the system to start the virtual machine {name}. (unverified wording)",
    type: 'Microsoft.HyperV.PowerShell.VirtualizationException',
    errorId: 'OutOfMemory,Microsoft.HyperV.PowerShell.Commands.StartVM',
    category: 'ResourceUnavailable',
  };
}

/** `pwsh` found on this PATH, made absolute: the double's sessions and spawns get a PATH of their own. */
function absolute(exe: string | null): string | null {
  if (exe === null || path.isAbsolute(exe)) return exe;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && existsSync(path.join(dir, exe))) return path.resolve(dir, exe);
  }
  return exe;
}

export async function startHyperVHostDouble(o: HyperVHostDoubleOptions = {}): Promise<HyperVHostDouble> {
  const pwsh = absolute(powerShellTools().pwsh);
  if (!pwsh) throw new Error('the Hyper-V host double needs pwsh');
  const stateDir = mkdtempSync(path.join(tmpdir(), 'fg-hvdouble-'));
  mkdirSync(path.join(stateDir, 'C', 'fleetgate'), { recursive: true });
  symlinkSync('C', path.join(stateDir, 'C:'));
  const statePath = path.join(stateDir, 'hyperv.json');
  const hostPath = (windowsPath: string): string => {
    if (!/^[Cc]:\\/.test(windowsPath)) throw new Error(`the Hyper-V host double has only a C: drive, not ${windowsPath}`);
    return path.join(stateDir, 'C', ...windowsPath.slice(3).split('\\'));
  };
  for (const [win, contents] of Object.entries(o.goldenDisks ?? {})) {
    mkdirSync(path.dirname(hostPath(win)), { recursive: true });
    writeFileSync(hostPath(win), contents);
  }
  const initial: HyperVDoubleState = {
    config: {
      guest: o.guest ?? null,
      refuseStart: o.refuseStart ?? null,
      addressDelayPolls: o.addressDelayPolls ?? 1,
      guestUser: o.guestUser ?? 'fleetgate',
      guestPassword: o.guestPassword ?? 'fleetgate-test-only',
      switches: o.switches ?? ['Default Switch'],
    },
    vms: [],
    events: [],
    nextRecordId: 4711,
    bound: { vm: null, seen: 0 },
  };
  const read = (): HyperVDoubleState => JSON.parse(readFileSync(statePath, 'utf8').replace(/^\uFEFF/, '')) as HyperVDoubleState;
  writeFileSync(statePath, JSON.stringify(initial, null, 1));
  const env: Record<string, string> = {
    PATH: `${path.join(HERE, 'bin')}:${path.dirname(pwsh)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    FLEETGATE_HYPERV_DOUBLE: stateDir,
    FLEETGATE_SAMPLES: SAMPLES,
    FLEETGATE_PWSH: pwsh,
    ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    POWERSHELL_TELEMETRY_OPTOUT: '1',
  };
  // The Hyper-V module's types, compiled once now (each session then loads the assembly).
  const compiled = spawnSync(pwsh, ['-NoProfile', '-NonInteractive', '-Command', `. '${path.join(HERE, 'hyperv-doubles.ps1')}'`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (compiled.status !== 0) throw new Error(`Hyper-V host double: loading hyperv-doubles.ps1 failed: ${compiled.stderr}${compiled.stdout}`);
  const sshd = await SshdFixture.create({ env, sftpStartDir: stateDir });
  await sshd.start();
  const where = `ssh ${sshd.user}@127.0.0.1:${sshd.port}`;
  // The product's own way to a host in the inventory (host.ts hostFromReach), its pinned key this sshd's.
  const hosts: HyperVHost[] = [];
  const host = (): HyperVHost => {
    const h = hostFromReach(`ssh://${sshd.user}@127.0.0.1:${sshd.port}`, { hostKey: sshd.hostFingerprint, identity: sshd.clientKeyPath, hostName: 'the Hyper-V host double' });
    hosts.push(h);
    return h;
  };
  let nextAddress = 100;
  return {
    stateDir,
    sshd,
    user: sshd.user,
    port: sshd.port,
    clientKeyPath: sshd.clientKeyPath,
    hostFingerprint: sshd.hostFingerprint,
    reach: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    where,
    host,
    hostPath,
    state: read,
    vm: (name) => read().vms.find((v) => v.name === name),
    addVm: (init) => {
      const { vmDir, ...rest } = init;
      const id = randomUUID();
      const vm: HyperVDoubleVm = {
        id,
        state: 'Off',
        notes: '',
        generation: 2,
        memoryStartupBytes: 2048 * 2 ** 20,
        dynamicMemory: false,
        cpus: 2,
        switchName: 'Default Switch',
        secureBoot: false,
        keyProtector: false,
        tpm: false,
        automaticCheckpoints: false,
        automaticStartAction: 'Nothing',
        automaticStopAction: 'TurnOff',
        disks: vmDir ? [`${vmDir}\\disk.vhdx`] : [],
        path: vmDir ?? 'C:\\ProgramData\\Microsoft\\Windows\\Hyper-V',
        configFile: null,
        checkpoints: [],
        creationTime: new Date().toISOString(),
        startedAt: null,
        addressPollsLeft: 0,
        address: `192.0.2.${nextAddress++}`,
        ...rest,
      };
      if (vm.state === 'Running' && !vm.startedAt) vm.startedAt = new Date().toISOString();
      for (const d of vm.disks) {
        mkdirSync(path.dirname(hostPath(d)), { recursive: true });
        writeFileSync(hostPath(d), JSON.stringify({ fleetgateDoubleVhd: 'differencing', parentPath: 'C:\\fleetgate\\images\\(an earlier image)\\disk.vhdx' }));
      }
      // Through the doubles' own state lock: the provider may be polling this host right now.
      const r = spawnSync(pwsh, ['-NoProfile', '-NonInteractive', '-Command', `. '${path.join(HERE, 'hyperv-doubles.ps1')}'; Invoke-HvState { param($s) $s.vms = @(@($s.vms) + ($env:FLEETGATE_HV_ADD | ConvertFrom-Json)) }`], {
        env: { ...process.env, ...env, FLEETGATE_HV_ADD: JSON.stringify(vm) },
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (r.status !== 0) throw new Error(`Hyper-V host double: adding VM ${vm.name} failed: ${r.stderr}${r.stdout}`);
      return vm;
    },
    stop: async () => {
      for (const h of hosts) await h.close().catch(() => undefined);
      await sshd.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
