// Warm starts against real QEMU and the real lab guest. The image is linked into a private folder so
// the states these tests make, damage and remove are their own (the shared cache's state is not
// touched). At most two VMs run at once: the machines this runs on have two shared cores.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { open, readFile, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { connectSsh, fromManifest, type SshGuestChannel } from '../../guest/ssh/client.ts';
import { guestClockOffset, setGuestClock, CLOCK_TOLERANCE_MS } from '../../guest/linux/clock.ts';
import { readWarmState, WARM_FILES } from '../../../images/warm/store.ts';
import type { VmInstance, VmSpec } from '../types.ts';
import { QemuProvider } from './qemu.ts';
import { findLabImage, type LabImage } from './testdata/lab-image.ts';

const run = promisify(execFile);
const qemuMissing = await run('qemu-system-x86_64', ['--version']).then(() => undefined, () => 'qemu-system-x86_64 is not installed');
const found = qemuMissing ? { missing: qemuMissing } : await findLabImage();
const skip = 'missing' in found ? `warm-start tests skipped: ${found.missing}` : false;

const root = mkdtempSync(path.join(os.tmpdir(), 'fg-warm-it-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const provider = new QemuProvider({ stateDir: path.join(root, 'state') });

/** The lab image's files linked (big ones) or copied (small ones) into a folder of our own. */
function privateImage(): LabImage {
  const src = found as LabImage;
  const dir = path.join(root, 'image');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const e of readdirSync(src.dir)) {
    if (e === 'warm' || e.startsWith('.')) continue;
    const from = path.join(src.dir, e);
    if (statSync(from).size > 1 << 20) symlinkSync(from, path.join(dir, e));
    else copyFileSync(from, path.join(dir, e));
  }
  return { dir, manifest: src.manifest };
}

const image: LabImage | undefined = skip ? undefined : privateImage();
let n = 0;
function spec(over: Partial<VmSpec> = {}): VmSpec {
  const name = `warm-it-${++n}`;
  return { name, cellDir: path.join(root, name), image: image!, start: 'auto', ...over };
}

async function started(t: Test, s: VmSpec): Promise<{ vm: VmInstance; ch: SshGuestChannel }> {
  const vm = await provider.start(s);
  t.teardown(() => vm[Symbol.asyncDispose]());
  // fromManifest pins the guest's host key: a restored guest must still present the image's key.
  const ch = await connectSsh(fromManifest(image!.dir, image!.manifest, vm.ssh));
  t.teardown(() => ch.close());
  return { vm, ch };
}

async function sh(ch: SshGuestChannel, command: string): Promise<string> {
  const r = await ch.exec(command, { timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`${command}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout.trim();
}

t.test('the warm state is made once and reused', { skip }, async (t) => {
  const first = await provider.ensureWarmState({ image: image! });
  t.ok(first.made, `made: ${first.state.dir}`);
  t.comment(`boot to ready ${first.state.record.bootMs} ms, save ${first.state.record.saveMs} ms, state ${(first.state.record.files.state / 2 ** 20).toFixed(1)} MiB`);
  const savedAt = first.state.record.savedAt;
  const mtime = statSync(first.state.statePath).mtimeMs;
  const second = await provider.ensureWarmState({ image: image! });
  t.notOk(second.made, 'second call does not save again');
  t.equal(second.state.record.savedAt, savedAt);
  const { vm } = await started(t, spec());
  t.equal(vm.start?.kind, 'warm', `started warm in ${vm.start?.ms} ms`);
  t.equal(statSync(first.state.statePath).mtimeMs, mtime, 'the state file was not rewritten by a start');
  t.equal(readdirSync(path.join(image!.dir, 'warm')).filter((e) => !e.startsWith('.')).length, 1, 'one state for one machine');
});

t.test('a warm-started VM is clean, its clock is set, SSH answers with the pinned key', { skip }, async (t) => {
  const a = await started(t, spec());
  t.equal(a.vm.start?.kind, 'warm');
  t.notOk(a.vm.start?.fallbackReason);
  const stale = await guestClockOffset(a.ch);
  t.comment(`restored clock was ${(stale.offsetMs / 1000).toFixed(1)} s off`);
  const clock = await setGuestClock(a.ch);
  const after = await guestClockOffset(a.ch);
  t.ok(Math.abs(after.offsetMs) <= CLOCK_TOLERANCE_MS, `clock within ${CLOCK_TOLERANCE_MS} ms of the host: ${Math.round(after.offsetMs)} ms (±${Math.round(after.uncertaintyMs)}); set said ${Math.round(clock.offsetMs)}`);
  t.equal(await sh(a.ch, 'node -e "process.stdout.write(String(1+1))"'), '2', "the agent's node runs");
  // /data is the overlay-backed ext4 the saved RAM had mounted: write, sync, drop caches, read back.
  t.equal(await sh(a.ch, 'echo cell-a > /data/cell-a && echo cell-a > /tmp/cell-a && sync && echo 3 > /proc/sys/vm/drop_caches && cat /data/cell-a'), 'cell-a');
  t.equal(await sh(a.ch, 'dmesg | grep -ci "ext4.*error\\|I/O error" || true'), '0', 'no ext4 or I/O errors in the guest');
  await a.ch.close();
  await a.vm[Symbol.asyncDispose]();

  const b = await started(t, spec());
  t.equal(b.vm.start?.kind, 'warm');
  t.not(b.vm.ssh.port, a.vm.ssh.port, 'another forwarded port than cell A (and than the saved VM)');
  t.equal(await sh(b.ch, 'ls /data/cell-a /tmp/cell-a 2>/dev/null | wc -l'), '0', 'cell B sees neither of cell A\'s files');
  t.equal(await sh(b.ch, 'echo cell-b > /data/cell-b && sync && cat /data/cell-b && grep " /data " /proc/mounts | cut -d" " -f4 | cut -d, -f1'), 'cell-b\nrw');
});

t.test('a machine-options mismatch falls back to a cold boot with the reason', { skip }, async (t) => {
  const { vm, ch } = await started(t, spec({ memoryMiB: image!.manifest.machine.memoryMiB - 128 }));
  t.equal(vm.start?.kind, 'cold');
  t.match(vm.start?.fallbackReason, /no warm state for these machine options/);
  t.comment(vm.start?.fallbackReason ?? '');
  t.match(await readFile(vm.consolePath, 'utf8'), 'fleetgate-lab: ready', 'a real boot');
  t.equal(await sh(ch, 'true'), '');
});

t.test('a truncated state falls back to a cold boot with the reason, and is removed', { skip }, async (t) => {
  const { state } = await provider.ensureWarmState({ image: image! });
  await truncate(state.statePath, Math.floor(state.record.files.state / 2));
  const { vm, ch } = await started(t, spec());
  t.equal(vm.start?.kind, 'cold');
  t.match(vm.start?.fallbackReason, /truncated/);
  t.comment(vm.start?.fallbackReason ?? '');
  t.equal(await sh(ch, 'true'), '');
  t.ok('missing' in (await readWarmState(image!.dir, state.record.key)), 'the damaged state is gone');
});

t.test('a corrupt state (same size) that QEMU refuses falls back to a cold boot with the reason', { skip }, async (t) => {
  const { state, made } = await provider.ensureWarmState({ image: image! });
  t.ok(made, 'made anew after the previous test removed the damaged one');
  // Garbage in the middle of the gzip stream: the sizes still match, the content does not.
  const fh = await open(state.statePath, 'r+');
  await fh.write(Buffer.alloc(64 * 1024, 0xa5), 0, 64 * 1024, Math.floor(state.record.files.state / 3));
  await fh.close();
  const { vm, ch } = await started(t, spec());
  t.equal(vm.start?.kind, 'cold');
  t.match(vm.start?.fallbackReason, /restoring warm state .* failed/);
  t.comment(vm.start?.fallbackReason ?? '');
  t.equal(await sh(ch, 'true'), '');
  t.ok('missing' in (await readWarmState(image!.dir, state.record.key)), 'the refused state is gone');
});

t.test('start: warm fails instead of falling back', { skip }, async (t) => {
  await t.rejects(provider.start(spec({ start: 'warm', waitFor: 'hypervisor' })), /no warm start possible: the caller watches the console/);
  t.same(readdirSync(root).filter((e) => e.startsWith('warm-it-')).flatMap((d) => readdirSync(path.join(root, d)).filter((f) => f === WARM_FILES.disk || f === 'overlay.qcow2')), [], 'no overlay left in any cell');
});
