// Which accelerator to boot with. /dev/kvm existing proves little here: under nested
// virtualization KVM may start and then make no progress (the lab kernel printed nothing for 40 s),
// or abort on an MSR. So `auto` boots the image once with KVM under a short deadline and keeps KVM
// only if the guest writes to its serial console; otherwise TCG. The answer is cached for the
// process and, per host boot, in the state folder, so cells do not re-probe.
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../../lib/errors.ts';
import type { Accel, AccelRequest } from '../types.ts';
import { buildQemuArgs, type QemuLaunch } from './cmdline.ts';
import { createOverlay, type OverlayRequest } from './overlay.ts';
import { bootId, killGroup, spawnDetached, tail, waitGone } from './process.ts';

export const ACCEL_ENV = 'FLEETGATE_ACCEL';
/** How long a KVM guest gets to write its first console bytes. KVM prints within a second or two. */
export const PROBE_DEADLINE_MS = 6_000;

export interface AccelDecision {
  readonly accel: Accel;
  readonly reason: string;
  readonly source: 'env' | 'spec' | 'no-kvm' | 'probe' | 'cache';
}

export interface ProbeOutcome {
  readonly ok: boolean;
  readonly reason: string;
}

/** Boots `launch` (accel forced to kvm) and reports whether the guest made visible progress. */
export type KvmProbe = () => Promise<ProbeOutcome>;

interface CacheFile {
  bootId: string;
  qemu: string;
  accel: Accel;
  reason: string;
  probedAt: string;
}

const inProcess = new Map<string, Promise<AccelDecision>>();

export function parseAccelEnv(value: string | undefined): Accel | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'kvm' || value === 'tcg') return value;
  throw new UsageError(`${ACCEL_ENV} must be 'kvm' or 'tcg', got '${value}'`);
}

export async function kvmUsable(): Promise<string | undefined> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    return `/dev/kvm is not usable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

export interface ResolveAccelOptions {
  readonly requested: AccelRequest;
  /** Folder for accel.json; undefined: cache in this process only. */
  readonly stateDir?: string;
  /** Identifies the QEMU build in the cache key (binary path). */
  readonly qemu: string;
  readonly probe: KvmProbe;
  readonly env?: NodeJS.ProcessEnv;
}

export async function resolveAccel(o: ResolveAccelOptions): Promise<AccelDecision> {
  const forced = parseAccelEnv((o.env ?? process.env)[ACCEL_ENV]);
  if (forced) return { accel: forced, reason: `${ACCEL_ENV}=${forced}`, source: 'env' };
  if (o.requested !== 'auto') return { accel: o.requested, reason: `the VM spec asks for ${o.requested}`, source: 'spec' };
  const noKvm = await kvmUsable();
  if (noKvm) return { accel: 'tcg', reason: noKvm, source: 'no-kvm' };

  // A host property: one answer per QEMU binary for the whole process, whatever the state folder.
  const key = o.qemu;
  let decision = inProcess.get(key);
  if (!decision) {
    decision = decideByProbe(o);
    inProcess.set(key, decision);
    // A probe that threw (QEMU missing, say) must not poison later attempts.
    decision.catch(() => inProcess.delete(key));
  }
  return decision;
}

/** Forgets the in-process answer (tests). */
export function forgetAccelDecisions(): void {
  inProcess.clear();
}

async function decideByProbe(o: ResolveAccelOptions): Promise<AccelDecision> {
  const cacheFile = o.stateDir ? path.join(o.stateDir, 'accel.json') : undefined;
  if (cacheFile) {
    try {
      const c = JSON.parse(await readFile(cacheFile, 'utf8')) as CacheFile;
      if (c.bootId === bootId() && c.qemu === o.qemu && (c.accel === 'kvm' || c.accel === 'tcg')) {
        return { accel: c.accel, reason: `${c.reason} (probed ${c.probedAt})`, source: 'cache' };
      }
    } catch {
      // No cache or an unreadable one: probe again.
    }
  }
  const outcome = await o.probe();
  const decision: AccelDecision = outcome.ok
    ? { accel: 'kvm', reason: `KVM probe: ${outcome.reason}`, source: 'probe' }
    : { accel: 'tcg', reason: `KVM probe failed: ${outcome.reason}`, source: 'probe' };
  if (cacheFile) {
    const c: CacheFile = { bootId: bootId(), qemu: o.qemu, accel: decision.accel, reason: decision.reason, probedAt: new Date().toISOString() };
    await mkdir(path.dirname(cacheFile), { recursive: true });
    // Written aside and renamed: a process reading it meanwhile sees the old answer or the new one.
    const tmp = `${cacheFile}.${process.pid}-${Math.random().toString(16).slice(2)}.tmp`;
    await writeFile(tmp, `${JSON.stringify(c, null, 2)}\n`);
    await rename(tmp, cacheFile);
  }
  return decision;
}

/**
 * The real probe: boots the image on a throw-away overlay (no network, no monitor) with KVM and
 * waits up to `deadlineMs` for console bytes. Everything it starts and writes is gone afterwards.
 */
export function qemuKvmProbe(
  qemu: string,
  launch: Omit<QemuLaunch, 'accel' | 'consolePath' | 'qmpSocket' | 'sshPort' | 'disk' | 'ovmfVars' | 'tpmSocket'> & {
    readonly baseDisk: { path: string; format: OverlayRequest['baseFormat'] };
    readonly ovmfVarsTemplate?: string;
  },
  deadlineMs = PROBE_DEADLINE_MS,
): KvmProbe {
  return async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fleetgate-kvm-probe-'));
    try {
      const consolePath = path.join(dir, 'console.log');
      const overlay = await createOverlay({ base: launch.baseDisk.path, baseFormat: launch.baseDisk.format, overlay: path.join(dir, 'overlay.qcow2') });
      let ovmfVars: string | undefined;
      if (launch.ovmfVarsTemplate) {
        ovmfVars = path.join(dir, 'OVMF_VARS.fd');
        await writeFile(ovmfVars, await readFile(launch.ovmfVarsTemplate));
      }
      const { baseDisk, ovmfVarsTemplate: _ignored, ...rest } = launch;
      // A TPM is not needed to see firmware or kernel output; leave it out of the probe.
      const manifest =
        rest.manifest.boot.kind === 'disk' && rest.manifest.boot.tpm
          ? { ...rest.manifest, boot: { ...rest.manifest.boot, tpm: false } }
          : rest.manifest;
      const args = buildQemuArgs({
        ...rest,
        manifest,
        accel: 'kvm',
        consolePath,
        qmpSocket: null,
        sshPort: null,
        disk: { path: overlay, format: 'qcow2' },
        ...(ovmfVars ? { ovmfVars } : {}),
      });
      const logPath = path.join(dir, 'qemu.log');
      const started = Date.now();
      const vm = await spawnDetached(qemu, args, { logPath, watchdog: true });
      let exited: { code: number | null; signal: string | null } | undefined;
      void vm.exited.then((e) => (exited = e));
      try {
        while (Date.now() - started < deadlineMs) {
          if (exited) {
            const why = (await tail(logPath, 400)) || `exit code ${exited.code ?? exited.signal}`;
            return { ok: false, reason: `QEMU exited under KVM: ${why}` };
          }
          const bytes = await stat(consolePath).then((s) => s.size, () => 0);
          if (bytes > 0) return { ok: true, reason: `console output after ${Date.now() - started} ms` };
          await sleep(100);
        }
        return { ok: false, reason: `no console output within ${deadlineMs} ms` };
      } finally {
        killGroup(vm.identity);
        await waitGone(vm.identity, 5_000);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
