// RecordedHyperVHost: a scripted fake of a Hyper-V host for tests, NOT a Hyper-V host. It sits where
// the real transports sit (PowerShellTransport), so every call goes through the real path: the
// provider composes and encodes the host script (encode-host.ts), this fake decodes the command
// (decodePowerShell: the script must exist and the input must survive the base64 JSON), keeps the
// state a tiny Hyper-V would (VMs by name with State names, notes, disks, checkpoints, the
// Hyper-V-Worker-Admin log), and answers with the one `@@FLEETGATE-JSON@@` line the script would
// write. Outputs are built from the documented formats (windows.md section 5): State names compared
// as text, event 18590's message text, Get-WinEvent's "No events were found" error; everything that
// is not documented there is marked (unverified) where it is made up.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodePowerShell, MAX_COMMAND_CHARS, POWERSHELL_PREFIX, RESULT_MARKER, type PowerShellErrorInfo, type PreparedPowerShell } from '../../../guest/windows/encode.ts';
import { hostScriptSource, isHyperVScriptName, type HyperVScriptName } from '../encode-host.ts';
import { PowerShellHyperVHost, type HyperVHost, type PowerShellTransport, type TransportResult } from '../host.ts';

export interface RecordedCall {
  script: HyperVScriptName;
  input: Record<string, unknown>;
  mode: 'encoded' | 'stdin';
}

export interface RecordedVm {
  name: string;
  id: string;
  /** Hyper-V's State names: Off, Running, Paused, Saved, Starting... */
  state: string;
  notes: string;
  generation: 2;
  memoryMiB: number;
  cpus: number;
  switchName: string | null;
  secureBoot: boolean;
  tpm: boolean;
  /** Host paths of the VM's disks (the differencing VHDX). */
  disks: string[];
  vmDir: string | null;
  checkpoints: string[];
  creationTime: Date;
  /** When the guest last (re)booted, for Uptime. */
  bootedAt: Date | null;
  /** get_vm_address answers empty this many more times after a start (integration services coming up). */
  addressPollsLeft: number;
  address: string;
  /** The guest's files, for PowerShell Direct copies. */
  guestFiles: Map<string, Buffer>;
}

export interface RecordedEvent {
  recordId: number;
  time: Date;
  vmName: string;
  vmId: string;
  message: string;
}

/** Event 18590's text: the documented part (windows.md section 5), then a tail that is (unverified). */
export function message18590(vmName: string, vmId: string, code: number, params: readonly bigint[]): string {
  const hex = (v: bigint | number) => `0x${v.toString(16).toUpperCase()}`;
  const codes = [hex(code), ...params.map(hex)].map((h, i) => `ErrorCode${i}: ${h}`).join(', ');
  return (
    `'${vmName}' has encountered a fatal error.  The guest operating system reported that it failed with the following error codes: ${codes}.  ` +
    `If the problem persists, contact Product Support for the guest operating system. (Virtual machine ID ${vmId.toUpperCase()})`
  );
}

/** Get-WinEvent's error when nothing matches (windows.md section 5), as Write-FleetgateError reports it. */
export const NO_EVENTS_ERROR: PowerShellErrorInfo = {
  message: 'No events were found that match the specified selection criteria.',
  type: 'System.Exception',
  errorId: 'NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand',
  category: 'ObjectNotFound',
  position: "At line:12 char:16\r\n+     $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop)",
};

/** What `throw "text"` in one of our scripts reports (the errorId of a thrown string is the text). */
function thrown(message: string): PowerShellErrorInfo {
  return { message, type: 'System.Management.Automation.RuntimeException', errorId: message, category: 'OperationStopped', position: '' };
}

/** A Hyper-V cmdlet's "not found" error (wording unverified; the id is the documented form Id,Cmdlet). */
function vmNotFound(name: string, cmdlet: string): PowerShellErrorInfo {
  return {
    message: `Hyper-V was unable to find a virtual machine with name "${name}".`,
    type: 'Microsoft.HyperV.PowerShell.VirtualizationException',
    errorId: `InvalidParameter,Microsoft.HyperV.PowerShell.Commands.${cmdlet}`,
    category: 'InvalidArgument',
    position: '',
  };
}

class ScriptError extends Error {
  constructor(readonly info: PowerShellErrorInfo) {
    super(info.message);
  }
}

export type GuestCommandHandler = (vm: RecordedVm, command: string, stdin: string | null) => { stdout: string; stderr: string; exitCode: number | null };

export interface RecordedHostOptions {
  /** The longest command line the transport takes (default: cmd.exe's, as over SSH). */
  maxCommandChars?: number;
  /** How "No events were found" comes back: caught by get_crash_events.ps1 (its real behaviour) or
   * as the error of a script that did not catch it (older scripts, or another script version). */
  noEvents?: 'empty-list' | 'error';
  /** get_vm_address answers empty this many times after each start. @default 1 */
  addressDelayPolls?: number;
  /** Whether a graceful Stop-VM reaches Off (the guest honours the shutdown service). @default true */
  gracefulShutdownWorks?: boolean;
  /** The PowerShell Direct account. */
  guestUser?: string;
  guestPassword?: string;
}

export class RecordedHyperVHost implements PowerShellTransport {
  readonly where = 'recorded (a test double, not Hyper-V)';
  readonly maxCommandChars: number;
  readonly calls: RecordedCall[] = [];
  readonly vms = new Map<string, RecordedVm>();
  /** Files on the "host": golden disks and what new_cell_vm makes. */
  readonly files = new Set<string>();
  readonly events: RecordedEvent[] = [];
  noEvents: 'empty-list' | 'error';
  gracefulShutdownWorks: boolean;
  /** Runs a guest command for invoke_in_vm; the default answers test_alive and echoes the rest. */
  guestCommand: GuestCommandHandler;
  /** Corrupts what copy_to_vm writes (to exercise the checksum check). */
  corruptCopies = false;
  private readonly addressDelayPolls: number;
  private readonly failures = new Map<HyperVScriptName, PowerShellErrorInfo[]>();
  private nextRecordId = 4711;
  private nextAddress = 10;
  private readonly guestUser: string;
  private readonly guestPassword: string;

  constructor(options: RecordedHostOptions = {}) {
    this.maxCommandChars = options.maxCommandChars ?? MAX_COMMAND_CHARS;
    this.noEvents = options.noEvents ?? 'empty-list';
    this.addressDelayPolls = options.addressDelayPolls ?? 1;
    this.gracefulShutdownWorks = options.gracefulShutdownWorks ?? true;
    this.guestUser = options.guestUser ?? 'fleetgate';
    this.guestPassword = options.guestPassword ?? 'fleetgate-test-only';
    this.guestCommand = (_vm, command, stdin) => {
      // A plain cmd.exe line (the heartbeat's `exit 0`): `exit N` exits N, anything else is echoed.
      if (!command.startsWith(POWERSHELL_PREFIX)) {
        const code = /^exit (\d{1,3})$/.exec(command.trim());
        return code ? { stdout: '', stderr: '', exitCode: Number(code[1]) } : { stdout: `ran ${command}\r\n`, stderr: '', exitCode: 0 };
      }
      const decoded = decodePowerShell(command, stdin ?? undefined);
      if (decoded.scriptName === 'test_alive') return ok('test_alive', { alive: true, pid: 4242 });
      return { stdout: `ran ${decoded.scriptName ?? 'an unknown command'}\r\n`, stderr: '', exitCode: 0 };
    };
  }

  /** HyperVHost over this fake, through the real PowerShellHyperVHost. */
  get host(): HyperVHost {
    return new PowerShellHyperVHost(this);
  }

  /** The next call of `script` reports `error` instead of running. */
  failNext(script: HyperVScriptName, error: PowerShellErrorInfo): void {
    const q = this.failures.get(script) ?? [];
    q.push(error);
    this.failures.set(script, q);
  }

  callsOf(script: HyperVScriptName): RecordedCall[] {
    return this.calls.filter((c) => c.script === script);
  }

  /** Puts a VM on the host as if an earlier controller had made it. */
  addVm(init: Partial<RecordedVm> & { name: string }): RecordedVm {
    const vm: RecordedVm = {
      id: randomUUID(),
      state: 'Off',
      notes: '',
      generation: 2,
      memoryMiB: 2048,
      cpus: 2,
      switchName: 'Default Switch',
      secureBoot: false,
      tpm: false,
      disks: [],
      vmDir: null,
      checkpoints: [],
      creationTime: new Date(),
      bootedAt: null,
      addressPollsLeft: 0,
      address: `192.0.2.${this.nextAddress++}`,
      guestFiles: new Map(),
      ...init,
    };
    if (vm.state === 'Running' && !vm.bootedAt) vm.bootedAt = new Date();
    for (const d of vm.disks) this.files.add(d);
    if (vm.vmDir) this.files.add(vm.vmDir);
    this.vms.set(vm.name, vm);
    return vm;
  }

  /** The guest bugchecks: Hyper-V logs event 18590; the guest writes its dump and reboots. */
  guestBugcheck(name: string, code: number, params: readonly bigint[] = [0n, 0n, 0n, 0n], options: { reboot?: boolean } = {}): RecordedEvent {
    const vm = this.mustVm(name, 'Get-VM');
    const ev = { recordId: this.nextRecordId++, time: new Date(), vmName: vm.name, vmId: vm.id, message: message18590(vm.name, vm.id, code, params) };
    this.events.push(ev);
    if (options.reboot ?? true) vm.bootedAt = new Date(Date.now() + 0);
    return ev;
  }

  /** The guest shuts itself down. */
  guestPowerOff(name: string): void {
    const vm = this.mustVm(name, 'Get-VM');
    vm.state = 'Off';
    vm.bootedAt = null;
  }

  // the transport ----------------------------------------------------------------------------------

  async exec(prepared: PreparedPowerShell, _timeoutMs: number): Promise<TransportResult> {
    if (prepared.command.length > this.maxCommandChars) {
      return { stdout: '', stderr: 'The command line is too long.\r\n', exitCode: 1, timedOut: false };
    }
    const decoded = decodePowerShell(prepared.command, prepared.mode === 'stdin' ? prepared.stdin : undefined);
    const name = decoded.scriptName;
    if (name === null || !isHyperVScriptName(name)) throw new Error(`recorded host: not a Hyper-V host script: ${String(name)}`);
    hostScriptSource(name); // the .ps1 must exist
    const input = (decoded.input ?? {}) as Record<string, unknown>;
    // Issue #16 row 10: the guest's password on a command line is a leak, not a call to answer.
    if (decoded.mode === 'encoded' && this.guestPassword !== '' && JSON.stringify(decoded.input ?? null).includes(JSON.stringify(this.guestPassword).slice(1, -1))) {
      throw new Error(`recorded host: ${name} was sent with the PowerShell Direct password on its command line (-EncodedCommand); it must travel on stdin`);
    }
    this.calls.push({ script: name, input, mode: decoded.mode });
    await Promise.resolve();
    const queued = this.failures.get(name)?.shift();
    if (queued) return fail(name, queued);
    try {
      return ok(name, this.dispatch(name, input));
    } catch (err) {
      if (err instanceof ScriptError) return fail(name, err.info);
      throw err;
    }
  }

  async putFile(localPath: string, hostPath: string): Promise<void> {
    writeFileSync(hostPath, readFileSync(localPath));
  }

  async getFile(hostPath: string, localPath: string): Promise<void> {
    writeFileSync(localPath, readFileSync(hostPath));
  }

  async close(): Promise<void> {}

  // the scripts -------------------------------------------------------------------------------------

  private mustVm(name: string, cmdlet: string): RecordedVm {
    const vm = this.vms.get(name);
    if (!vm) throw new ScriptError(vmNotFound(name, cmdlet));
    return vm;
  }

  private dispatch(script: HyperVScriptName, i: Record<string, unknown>): unknown {
    const s = (k: string) => (i[k] === null || i[k] === undefined ? null : String(i[k]));
    const name = s('name') ?? '';
    const now = new Date();
    switch (script) {
      case 'new_cell_vm': {
        let vm: RecordedVm;
        let diskPath: string | null = null;
        if (s('mode') === 'checkpoint') {
          vm = this.mustVm(name, 'GetVM');
          const cp = s('checkpointName')!;
          if (!vm.checkpoints.includes(cp)) throw new ScriptError({ ...vmNotFound(name, 'RestoreVMSnapshot'), message: `Hyper-V was unable to find a checkpoint with name "${cp}".` });
          vm.state = 'Off';
          vm.bootedAt = null;
        } else {
          if (this.vms.has(name)) throw new ScriptError(thrown(`fleetgate new_cell_vm: a VM named '${name}' exists already`));
          const parent = s('parentVhdx')!;
          if (!this.files.has(parent)) throw new ScriptError(thrown(`fleetgate new_cell_vm: the golden disk '${parent}' does not exist on this host`));
          const vmDir = s('vmDir')!;
          diskPath = path.win32.join(vmDir, 'disk.vhdx');
          this.files.add(vmDir);
          this.files.add(diskPath);
          vm = this.addVm({
            name,
            memoryMiB: Number(i.memoryMiB),
            cpus: Number(i.cpus),
            switchName: s('switchName'),
            secureBoot: i.secureBoot === true,
            tpm: i.tpm === true,
            disks: [diskPath],
            vmDir,
          });
        }
        vm.notes = s('notes') ?? '';
        return { name: vm.name, id: vm.id, state: vm.state, generation: 2, diskPath, created: diskPath !== null, hostTime: iso(now) };
      }
      case 'start_vm': {
        const vm = this.mustVm(name, 'GetVM');
        const before = vm.state;
        if (before === 'Off' || before === 'Saved') {
          vm.state = 'Running';
          vm.bootedAt = now;
          vm.addressPollsLeft = this.addressDelayPolls;
        } else if (before === 'Paused') {
          vm.state = 'Running';
        }
        return { name, before, state: vm.state };
      }
      case 'get_vm_state': {
        const vm = this.vms.get(name);
        if (!vm) return { exists: false, name };
        const uptime = vm.state === 'Running' || vm.state === 'Paused' ? Math.floor((now.getTime() - (vm.bootedAt ?? now).getTime()) / 1000) : 0;
        return { exists: true, name, id: vm.id, state: vm.state, uptimeSeconds: uptime, heartbeat: vm.state === 'Running' ? 'OkApplicationsUnknown' : null, notes: vm.notes };
      }
      case 'get_vm_address': {
        const vm = this.mustVm(name, 'GetVMNetworkAdapter');
        if (vm.state !== 'Running' || vm.addressPollsLeft-- > 0) return { name, ipv4: null, addresses: [] };
        return { name, ipv4: vm.address, addresses: [vm.address, '2001:db8::1'] };
      }
      case 'get_crash_events': {
        const since = Date.parse(s('since')!);
        const id = s('id');
        const mine = this.events.filter((e) => e.time.getTime() >= since && (e.message.startsWith(`'${name}'`) || (id !== null && e.vmId === id)));
        if (mine.length === 0 && this.noEvents === 'error') throw new ScriptError(NO_EVENTS_ERROR);
        return { name, events: mine.map((e) => ({ recordId: e.recordId, timeCreated: iso(e.time), message: e.message })) };
      }
      case 'inject_nmi': {
        const vm = this.mustVm(name, 'DebugVM');
        if (vm.state !== 'Running') {
          // (unverified wording) Debug-VM refuses a VM that is not running.
          throw new ScriptError({ message: `The virtual machine '${name}' is not in a valid state to perform the operation.`, type: 'Microsoft.HyperV.PowerShell.VirtualizationException', errorId: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.DebugVM', category: 'InvalidOperation', position: '' });
        }
        // windows.md section 4: an NMI always bugchecks 0x80 NMI_HARDWARE_FAILURE.
        this.guestBugcheck(name, 0x80);
        return { name, injected: true };
      }
      case 'stop_vm': {
        const vm = this.vms.get(name);
        if (!vm) return { name, how: 'absent' };
        if (vm.state === 'Off') return { name, how: 'already-off' };
        const how = i.graceful === true && this.gracefulShutdownWorks ? 'shutdown' : 'turnoff';
        vm.state = 'Off';
        vm.bootedAt = null;
        return { name, how };
      }
      case 'remove_cell_vm': {
        const vm = this.vms.get(name);
        const removed: string[] = [];
        const vmDir = s('vmDir');
        if (vm && vm.state !== 'Off') {
          vm.state = 'Off';
          vm.bootedAt = null;
          removed.push(`turned off VM ${name}`);
        }
        if (s('mode') === 'checkpoint') {
          if (vm) {
            vm.notes = '';
            removed.push(`restored VM ${name} to its checkpoint`);
          }
        } else {
          if (vmDir !== null && !trimTrailingBackslashes(vmDir).endsWith(`\\${name}`)) {
            throw new ScriptError(thrown(`fleetgate remove_cell_vm: refusing to delete '${vmDir}', which is not a folder named '${name}'`));
          }
          if (vm) {
            if (vm.checkpoints.length) removed.push(`removed ${vm.checkpoints.length} checkpoints of VM ${name}`);
            this.vms.delete(name);
            removed.push(`removed VM ${name}`);
            for (const d of vm.disks) {
              if (vmDir !== null && d.startsWith(`${trimTrailingBackslashes(vmDir)}\\`) && this.files.delete(d)) removed.push(`removed disk ${d}`);
            }
          }
          if (vmDir !== null) {
            const inside = [...this.files].filter((f) => f === vmDir || f.startsWith(`${vmDir}\\`));
            if (inside.length) {
              for (const f of inside) this.files.delete(f);
              removed.push(`removed folder ${vmDir}`);
            }
          }
        }
        return { name, removed };
      }
      case 'list_cell_vms': {
        const prefix = s('prefix') ?? '';
        const vms = [...this.vms.values()].filter((v) => v.name.startsWith(prefix) || v.notes.startsWith('fleetgate:'));
        return { prefix, vms: vms.map((v) => ({ name: v.name, id: v.id, state: v.state, notes: v.notes, creationTime: iso(v.creationTime) })), hostTime: iso(now) };
      }
      case 'invoke_in_vm': {
        const vm = this.psDirect(name, i);
        const started = Date.now();
        const r = this.guestCommand(vm, s('command')!, s('stdin'));
        return { ...r, timedOut: false, durationMs: Date.now() - started };
      }
      case 'copy_to_vm': {
        const vm = this.psDirect(name, i);
        let bytes = readFileSync(s('hostPath')!);
        if (this.corruptCopies) bytes = Buffer.concat([bytes, Buffer.from('!')]);
        vm.guestFiles.set(s('guestPath')!.toLowerCase(), bytes);
        return { guestPath: s('guestPath'), sha256: sha256(bytes), bytes: bytes.length };
      }
      case 'copy_from_vm': {
        const vm = this.psDirect(name, i);
        const bytes = vm.guestFiles.get(s('guestPath')!.toLowerCase());
        if (!bytes) {
          throw new ScriptError({ message: `Cannot find path '${s('guestPath')}' because it does not exist.`, type: 'System.Management.Automation.ItemNotFoundException', errorId: 'PathNotFound,Microsoft.PowerShell.Commands.GetFileHashCommand', category: 'ObjectNotFound', position: '' });
        }
        writeFileSync(s('hostPath')!, bytes);
        return { hostPath: s('hostPath'), guestSha256: sha256(bytes), hostSha256: sha256(bytes), bytes: bytes.length };
      }
    }
  }

  /** PowerShell Direct needs a running VM and the guest's credentials (wording of errors unverified). */
  private psDirect(name: string, i: Record<string, unknown>): RecordedVm {
    const vm = this.mustVm(name, 'NewPSSession');
    if (vm.state !== 'Running') {
      throw new ScriptError({ message: `The virtual machine ${name} is not in running state.`, type: 'System.Management.Automation.Remoting.PSRemotingTransportException', errorId: 'PSSessionOpenFailed', category: 'OpenError', position: '' });
    }
    if (i.user !== this.guestUser || i.password !== this.guestPassword) {
      throw new ScriptError({ message: 'The credential is invalid.', type: 'System.Management.Automation.Remoting.PSRemotingTransportException', errorId: 'PSSessionOpenFailed', category: 'OpenError', position: '' });
    }
    return vm;
  }
}

/** `text` without its trailing backslashes: a walk from the end (a `/\\+$/` scan is quadratic on many backslashes). */
function trimTrailingBackslashes(text: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === '\\') end--;
  return text.slice(0, end);
}

function iso(d: Date): string {
  return d.toISOString();
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** stdout of a script that succeeded, as Write-FleetgateResult writes it. */
export function ok(script: string, result: unknown): TransportResult {
  return { stdout: `${RESULT_MARKER}${JSON.stringify({ ok: true, script, result })}\r\n`, stderr: '', exitCode: 0, timedOut: false };
}

/** stdout of a script that failed, as Write-FleetgateError writes it (then `exit 1`). */
export function fail(script: string, error: PowerShellErrorInfo): TransportResult {
  return { stdout: `${RESULT_MARKER}${JSON.stringify({ ok: false, script, error })}\r\n`, stderr: '', exitCode: 1, timedOut: false };
}
