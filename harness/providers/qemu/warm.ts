// QEMU's side of warm starts (the cache layout is images/warm/store.ts): the key's machine options,
// saving a running VM's state with a migration to `exec:gzip`, and restoring it with `-incoming`.
//
// Disk consistency: the saved RAM holds the guest's page cache and ext4 mount state of /data, so a
// restored guest must find exactly the disk it had when it was saved. The saving VM's own overlay is
// therefore kept with the state (read-only from then on), and each restored cell writes to a fresh
// overlay on top of it: base <- saved overlay <- cell overlay. Nothing a cell writes survives it.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { InfraFailure } from '../../../lib/errors.ts';
import type { ImageManifest } from '../../../images/manifest.ts';
import { connectSsh, fromManifest } from '../../guest/ssh/client.ts';
import { TimeoutError } from '../timeouts.ts';
import { buildQemuArgs, type QemuLaunch } from './cmdline.ts';
import type { LosslessJson } from './json-lossless.ts';
import { isObject } from './qmp.ts';

const run = promisify(execFile);

type Monitor = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

const versions = new Map<string, Promise<string>>();

/** `QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)`: part of the key. */
export function qemuVersion(qemu: string): Promise<string> {
  let v = versions.get(qemu);
  if (!v) {
    v = run(qemu, ['--version'], { timeout: 10_000 }).then(
      (r) => r.stdout.split('\n')[0]?.trim() || 'unknown',
      (err: Error) => {
        versions.delete(qemu);
        throw new InfraFailure(`${qemu} --version: ${err.message}`, { cause: err });
      },
    );
    versions.set(qemu, v);
  }
  return v;
}

/**
 * The machine options of a launch: the argv with everything per VM (name, disk, console, sockets,
 * forwarded port, image folder) replaced by placeholders. Two VMs with the same machine options can
 * load each other's state.
 */
export function machineOptions(l: Omit<QemuLaunch, 'name' | 'disk' | 'consolePath' | 'qmpSocket' | 'sshPort' | 'imageDir' | 'ovmfVars' | 'tpmSocket'>): string[] {
  return buildQemuArgs({
    ...l,
    name: '<name>',
    imageDir: '/<image>',
    disk: { path: '<disk>', format: 'qcow2' },
    consolePath: '<console>',
    qmpSocket: '<qmp>',
    sshPort: 0,
    ovmfVars: '<vars>',
    tpmSocket: '<tpm>',
  });
}

/** Why this image cannot be warm-started by the QEMU provider (undefined: it can). */
export function warmUnsupported(manifest: ImageManifest): string | undefined {
  const boot = manifest.boot;
  if (boot.kind !== 'kernel') return `warm starts need a direct-kernel image; ${manifest.name} boots from its disk (firmware/TPM state is not saved)`;
  return undefined;
}

/** The `-incoming` source for a state file (QEMU runs it with /bin/sh -c). */
export function incomingUri(statePath: string): string {
  return `exec:gzip -dc ${shellQuote(statePath)}`;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The guest is ready to be saved: sshd lets us in with the pinned key, the agent's Node.js runs, and
 * the file systems are flushed. The SSH connection is closed before the save so no half-open TCP
 * connection is in the saved network state.
 */
export async function prepareGuestForSave(
  image: { dir: string; manifest: ImageManifest },
  ssh: { host: string; port: number },
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const channel = await connectSsh({ ...fromManifest(image.dir, image.manifest, ssh), ...(options.signal ? { signal: options.signal } : {}) });
  try {
    const r = await channel.exec('node -e 0 && sync', { timeoutMs: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    if (r.exitCode !== 0) {
      throw new InfraFailure(`preparing the guest for a warm save: 'node -e 0 && sync' failed (exit ${r.exitCode ?? r.signal ?? (r.timedOut ? 'timeout' : '?')}): ${r.stderr.trim().slice(-300)}`);
    }
  } finally {
    await channel.close();
  }
  // Let the guest's sshd see the disconnect and the session's processes end.
  await sleep(500);
}

/** Stops the VM and writes its state to `statePath` (gzip -1); resolves once the migration completed. */
export async function saveState(monitor: Monitor, statePath: string, options: { timeoutMs: number }): Promise<void> {
  await monitor('stop');
  await monitor('migrate', { uri: `exec:gzip -1 > ${shellQuote(statePath)}` });
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const r = (await monitor('query-migrate')) as LosslessJson;
    const status = isObject(r) && typeof r.status === 'string' ? r.status : 'unknown';
    if (status === 'completed') return;
    if (status === 'failed' || status === 'cancelled') {
      const why = isObject(r) && typeof r['error-desc'] === 'string' ? r['error-desc'] : status;
      throw new InfraFailure(`saving the VM state to ${statePath}: migration ${status}: ${why}`);
    }
    if (Date.now() > deadline) {
      await monitor('migrate_cancel').catch(() => undefined);
      throw new InfraFailure(`saving the VM state to ${statePath}: ${new TimeoutError('migration', options.timeoutMs).message} (status ${status})`);
    }
    await sleep(100);
  }
}

/**
 * Waits until an `-incoming` VM has loaded its state: QEMU reports `paused` (the source was stopped
 * when saved). A state that does not load makes QEMU exit: the caller sees that through `signal`.
 */
export async function waitIncoming(monitor: Monitor, options: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let status = 'unknown';
  for (;;) {
    options.signal?.throwIfAborted();
    const r = (await monitor('query-status')) as LosslessJson;
    status = isObject(r) && typeof r.status === 'string' ? r.status : 'unknown';
    if (status === 'paused' || status === 'running') return;
    if (status !== 'inmigrate' && status !== 'prelaunch' && status !== 'restore-vm') {
      throw new InfraFailure(`restoring the VM state: QEMU reports ${status}`);
    }
    if (Date.now() > deadline) throw new TimeoutError(`the VM state to load (status ${status})`, options.timeoutMs);
    await sleep(50, undefined, options.signal ? { signal: options.signal } : {});
  }
}
