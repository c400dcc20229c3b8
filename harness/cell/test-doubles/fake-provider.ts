// TEST DOUBLE. A provider that starts no hypervisor: its VMs are an event log and a console file, so
// the real cell lifecycle and the real monitor can be driven through every verdict in milliseconds.
// The test (or the fake personality) makes the VM panic, hang or go away; the monitor decides.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraFailure } from '../../../lib/errors.ts';
import { EventLog } from '../../providers/event-stream.ts';
import type { DumpFormat, HostDumpCapable, OfflineDiskCapable, PanicInfo, Provider, VmInstance, VmSpec, VmStartInfo, VmStatus } from '../../providers/types.ts';

export interface FakeProviderScript {
  /** The first this many starts fail as infrastructure (a host that cannot boot VMs). @default 0 */
  failStarts?: number;
  /** An NMI makes the guest panic (a hang then has a dump), or is ignored. @default true */
  nmiPanics?: boolean;
  /** The VM's disk, readable offline once it is stopped (OfflineDiskCapable): a real disk file the test made. */
  disk?: { path: string; format: 'qcow2' | 'vhdx' | 'raw' };
}

const now = (): string => new Date().toISOString();

export class FakeVm implements VmInstance, HostDumpCapable, OfflineDiskCapable {
  readonly accel = 'tcg' as const;
  readonly accelReason = 'test double: no hypervisor';
  readonly ssh = { host: '127.0.0.1', port: 0 };
  readonly events = new EventLog();
  readonly consolePath: string;
  readonly start: VmStartInfo = { kind: 'cold', ms: 1 };
  private state: VmStatus = 'running';
  disposed = false;
  nmis = 0;

  constructor(
    readonly name: string,
    cellDir: string,
    private readonly script: FakeProviderScript,
  ) {
    mkdirSync(cellDir, { recursive: true });
    this.consolePath = join(cellDir, 'console.log');
    writeFileSync(this.consolePath, 'fake guest booted\n');
  }

  /** The guest panics: its console says why, then the hypervisor reports it (and pauses the guest). */
  panic(consoleText: string, info: PanicInfo = { kind: 'pvpanic' }): void {
    appendFileSync(this.consolePath, consoleText);
    this.state = 'paused';
    this.events.push({ type: 'panicked', at: now(), action: 'pause', info });
  }

  /** The VM's process dies without a panic (host trouble). */
  kill(): void {
    if (this.state === 'exited') return;
    this.state = 'exited';
    this.events.push({ type: 'exited', at: now(), code: null, signal: 'SIGKILL' });
  }

  async status(): Promise<VmStatus> {
    return this.state;
  }

  async injectNmi(): Promise<void> {
    this.nmis++;
    if (this.script.nmiPanics !== false) this.panic('FAKE PANIC: NMI watchdog: hard LOCKUP in fakefilter\n');
  }

  async resume(): Promise<void> {
    if (this.state === 'paused') this.state = 'running';
  }

  async stop(): Promise<void> {
    this.kill();
  }

  offlineDisk(): { path: string; format: 'qcow2' | 'vhdx' | 'raw' } | undefined {
    return this.state === 'exited' ? this.script.disk : undefined;
  }

  async dumpMemory(path: string, format: DumpFormat = 'kdump-zlib'): Promise<{ path: string; bytes: number; format: DumpFormat }> {
    writeFileSync(path, 'FAKE DUMP\n');
    return { path, bytes: 10, format };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill();
    this.disposed = true;
  }
}

export class FakeProvider implements Provider {
  // Stands in for the local provider: the lifecycle only ever sees the Provider seam.
  readonly kind = 'qemu' as const;
  readonly vms: FakeVm[] = [];
  starts = 0;
  constructor(private readonly script: FakeProviderScript = {}) {}

  async start(spec: VmSpec): Promise<FakeVm> {
    this.starts++;
    if (this.starts <= (this.script.failStarts ?? 0)) throw new InfraFailure(`fake provider: start ${this.starts} refused on purpose`);
    const vm = new FakeVm(spec.name, spec.cellDir, this.script);
    this.vms.push(vm);
    return vm;
  }

  async cleanupLeftovers(): Promise<string[]> {
    return [];
  }
}
