// The one place that joins hypervisor events, the guest channel's heartbeat and console parsing into
// a decision: did the guest crash, hang, or go away? Providers only report events; parsers only read
// text; this decides, and collects the evidence (memory dump, console report) while the VM is still
// there.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GuestChannel } from '../guest/channel.ts';
import { hasHostDump, type ProviderEvent, type VmInstance } from '../providers/types.ts';
import type { CrashReport } from '../crash/types.ts';
import type { CrashStrategy } from './personality.ts';

export type PanicEvent = Extract<ProviderEvent, { type: 'panicked' }>;

export type MonitorOutcome =
  /** The guest reported a panic (pvpanic / hv-crash) on its own. */
  | { kind: 'crash'; panic: PanicEvent; evidence: CrashEvidence }
  /** The heartbeat stopped while the VM ran: an NMI was injected and the guest panicked on it. */
  | { kind: 'hang'; panic: PanicEvent; evidence: CrashEvidence; heartbeatLostAt: string }
  /** The heartbeat stopped, the VM ran on, and an NMI did not make it panic. */
  | { kind: 'hang-no-dump'; heartbeatLostAt: string; reason: string }
  /** The VM went away without a panic (reset, shutdown, exit). */
  | { kind: 'vm-gone'; event: ProviderEvent }
  /** Nothing happened before the watch was ended. */
  | { kind: 'quiet' };

export interface CrashEvidence {
  dump?: { path: string; bytes: number; format: string };
  dumpError?: string;
  /** What the serial console says, read after the guest was let to finish printing. */
  report: CrashReport | null;
  consolePath: string;
}

/** The personality's part of evidence collection: its console parser and where a host-side dump goes. */
export type EvidenceStrategy = Pick<CrashStrategy, 'parseConsole' | 'hostDumpFile'>;

export interface WatchOptions {
  cellDir: string;
  /** How this guest's console is read and whether the host dumps its memory (harness/cell/personality.ts). */
  crash: EvidenceStrategy;
  /** Take a host-side memory dump of a panicked guest when the strategy names a file (default true). */
  dump?: boolean;
  /** After heartbeat-lost, how long to wait for the guest's own panic before injecting an NMI. */
  hangGraceMs?: number;
  /** After an NMI, how long the guest has to panic. */
  nmiPanicMs?: number;
  /** Ends the watch with `quiet` (e.g. the workload finished). */
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** Waits until the console file stops growing (or shows the end of a panic), at most `maxMs`. */
async function consoleSettled(path: string, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const size = (await stat(path).catch(() => ({ size: 0 }))).size;
    if (size !== last) {
      last = size;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 1_000) {
      return;
    }
    await sleep(200);
  }
}

/**
 * After a panic: dump guest memory while it is paused, then let the guest run so a panic raised in
 * NMI context finishes printing (its text is deferred until then), and read the console.
 */
export async function collectCrashEvidence(vm: VmInstance, opts: { cellDir: string; crash: EvidenceStrategy; dump?: boolean }): Promise<CrashEvidence> {
  const evidence: CrashEvidence = { report: null, consolePath: vm.consolePath };
  const file = opts.crash.hostDumpFile;
  if (opts.dump !== false && file === undefined) {
    evidence.dumpError = 'this guest writes its own dump: it is fetched after the guest is back';
  } else if (opts.dump !== false && !hasHostDump(vm)) {
    evidence.dumpError = 'this hypervisor writes no host-side dump: the guest writes its own';
  } else if (opts.dump !== false && file !== undefined && hasHostDump(vm)) {
    try {
      evidence.dump = await vm.dumpMemory(join(opts.cellDir, file));
    } catch (err) {
      evidence.dumpError = err instanceof Error ? err.message : String(err);
    }
  }
  if ((await vm.status().catch(() => 'exited')) !== 'exited') {
    await vm.resume().catch(() => undefined);
    await consoleSettled(vm.consolePath, 10_000);
  }
  const text = await readFile(vm.consolePath, 'utf8').catch(() => '');
  evidence.report = opts.crash.parseConsole(text);
  return evidence;
}

/**
 * Watches a running cell until the guest crashes, hangs or goes away, or the signal ends the watch.
 * The channel's heartbeat must be started by the caller.
 */
export async function watchCell(vm: VmInstance, channel: GuestChannel, opts: WatchOptions): Promise<MonitorOutcome> {
  const after = vm.events.history().length;
  const local = new AbortController();
  const stop = AbortSignal.any([local.signal, ...(opts.signal ? [opts.signal] : [])]);
  // setTimeout holds at most 2^31-1 ms (about 24 days): "until the signal ends it".
  const far = 2 ** 31 - 1;

  // When the VM's event stream ends without a panic, `gone` below says why; this one just never wins.
  const never = new Promise<never>(() => undefined);
  const panicked = vm.events.waitFor('panicked', { timeoutMs: far, after, signal: stop }).then(
    (e) => ({ e }) as const,
    (err: unknown) => (stop.aborted ? Promise.reject(err) : never),
  );
  const gone = Promise.race([
    vm.events.waitFor('exited', { timeoutMs: far, after, signal: stop }),
    vm.events.waitFor('reset', { timeoutMs: far, after, signal: stop }),
    vm.events.waitFor('shutdown', { timeoutMs: far, after, signal: stop }),
  ]).then((e) => ({ gone: e }) as const);
  const lost = new Promise<{ lostAt: string }>((resolve) => {
    const onLost = () => resolve({ lostAt: new Date().toISOString() });
    channel.once('heartbeat-lost', onLost);
    stop.addEventListener('abort', () => channel.off('heartbeat-lost', onLost), { once: true });
  });
  const ended = new Promise<{ quiet: true }>((resolve) => {
    if (opts.signal?.aborted) resolve({ quiet: true });
    opts.signal?.addEventListener('abort', () => resolve({ quiet: true }), { once: true });
  });

  try {
    const first = await Promise.race([panicked, gone, lost, ended]).catch((err: unknown) => {
      if (stop.aborted) return { quiet: true } as const;
      throw err;
    });
    if ('quiet' in first) return { kind: 'quiet' };
    if ('e' in first) {
      return { kind: 'crash', panic: first.e, evidence: await collectCrashEvidence(vm, opts) };
    }
    if ('gone' in first) {
      // A panic may be on its way (pvpanic raises it before the reset): give it a moment.
      const late = vm.events.history().slice(after).find((e): e is PanicEvent => e.type === 'panicked');
      if (late) return { kind: 'crash', panic: late, evidence: await collectCrashEvidence(vm, opts) };
      return { kind: 'vm-gone', event: first.gone };
    }
    // Heartbeat lost. A guest that is panicking on its own (soft lockup detector) gets a grace period.
    const grace = await Promise.race([panicked, sleep(opts.hangGraceMs ?? 5_000, stop).then(() => null)]);
    if (grace) return { kind: 'crash', panic: grace.e, evidence: await collectCrashEvidence(vm, opts) };
    // The watch ended during the grace (the work finished): a guest that answered after all is not
    // sent an NMI.
    if (stop.aborted) return { kind: 'quiet' };
    const status = await vm.status().catch(() => 'exited');
    if (status === 'exited') {
      const exited = vm.events.history().find((e) => e.type === 'exited');
      return { kind: 'vm-gone', event: exited ?? { type: 'exited', at: new Date().toISOString(), code: null, signal: null } };
    }
    if (status !== 'running') {
      return { kind: 'hang-no-dump', heartbeatLostAt: first.lostAt, reason: `heartbeat lost and the VM is ${status}` };
    }
    const beforeNmi = vm.events.history().length;
    if (stop.aborted) return { kind: 'quiet' };
    await vm.injectNmi();
    try {
      const p = await vm.events.waitFor('panicked', { timeoutMs: opts.nmiPanicMs ?? 30_000, after: beforeNmi });
      return { kind: 'hang', panic: p, heartbeatLostAt: first.lostAt, evidence: await collectCrashEvidence(vm, opts) };
    } catch {
      return { kind: 'hang-no-dump', heartbeatLostAt: first.lostAt, reason: 'an NMI was injected but the guest did not panic' };
    }
  } finally {
    local.abort();
    panicked.catch(() => undefined);
    gone.catch(() => undefined);
  }
}
