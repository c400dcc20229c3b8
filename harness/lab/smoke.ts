// `fleetgate lab smoke`: the self-check a new user runs first. Builds the lab guest if needed, boots
// it, logs in over SSH with the pinned host key, loads the lab module, checks it intercepts opens,
// fires its crash knob, and checks the harness sees the crash: a panic event, a memory dump, and a
// crash title that names the module. Every step is recorded; `ok` only when all of them worked.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildLabImage } from '../../images/lab/build.ts';
import { buildLabDriver } from '../../driver/lab/build.ts';
import { createProvider } from '../providers/index.ts';
import { connectSsh, fromManifest } from '../guest/ssh/client.ts';
import { LabGuest, type LabTrigger } from '../guest/linux/lab-guest.ts';
import { watchCell } from '../cell/monitor.ts';
import { LINUX_CRASH } from '../guest/linux/personality.ts';

export interface SmokeStep {
  name: string;
  ok: boolean;
  seconds: number;
  detail?: string;
}

export interface SmokeResult {
  ok: boolean;
  accel: string | null;
  accelReason: string | null;
  /** From QEMU's start until the guest's sshd sent its banner. */
  readySeconds: number | null;
  crash: { title: string; module: string | null; kind: string; function: string | null } | null;
  dumpBytes: number | null;
  dumpPath: string | null;
  consolePath: string | null;
  cellDir: string;
  image: { dir: string; kernel: string } | null;
  steps: SmokeStep[];
}

export interface SmokeOptions {
  cellDir?: string;
  /** Which knob to fire (default oops). */
  trigger?: LabTrigger;
  /** The CPU the knob's open runs on (default: the guest's measurement CPU, where workloads run). */
  triggerCpu?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export async function labSmoke(opts: SmokeOptions = {}): Promise<SmokeResult> {
  const log = opts.log ?? (() => undefined);
  const cellDir = opts.cellDir ?? (await mkdtemp(join(tmpdir(), 'fleetgate-smoke-')));
  await mkdir(cellDir, { recursive: true });
  const result: SmokeResult = {
    ok: false, accel: null, accelReason: null, readySeconds: null, crash: null, dumpBytes: null, dumpPath: null,
    consolePath: null, cellDir, image: null, steps: [],
  };
  const step = async <T>(name: string, fn: () => Promise<T>, detail?: (v: T) => string): Promise<T> => {
    const t0 = performance.now();
    log(`${name} ...`);
    try {
      const v = await fn();
      const s: SmokeStep = { name, ok: true, seconds: (performance.now() - t0) / 1000 };
      const d = detail?.(v);
      if (d) s.detail = d;
      result.steps.push(s);
      log(`${name}: ok (${s.seconds.toFixed(1)} s)${d ? `: ${d}` : ''}`);
      return v;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      result.steps.push({ name, ok: false, seconds: (performance.now() - t0) / 1000, detail: msg });
      log(`${name}: FAILED: ${msg}`);
      throw err;
    }
  };

  const provider = createProvider('qemu');
  try {
    const image = await step('build lab image', () => buildLabImage({ log: (l) => log(`  ${l}`) }), (r) => `${r.dir}${r.cached ? ' (cached)' : ''}`);
    result.image = { dir: image.dir, kernel: image.manifest.os.build };
    const driver = await step('build lab module', () => buildLabDriver({ name: 'fgfilter', kernelRelease: image.manifest.os.build, log: (l) => log(`  ${l}`) }), (d) => d.path);
    await step('clean leftovers', () => provider.cleanupLeftovers(), (gone) => (gone.length ? gone.join('; ') : 'none'));

    const t0 = performance.now();
    await using vm = await step('boot', () => provider.start({ name: `smoke-${process.pid}`, cellDir, image, ...(opts.signal ? { signal: opts.signal } : {}) }), (v) => `${v.accel}, ssh on 127.0.0.1:${v.ssh.port}`);
    result.readySeconds = (performance.now() - t0) / 1000;
    result.accel = vm.accel;
    result.accelReason = vm.accelReason;
    result.consolePath = vm.consolePath;

    const channel = await step('ssh with the pinned host key', () => connectSsh(fromManifest(image.dir, image.manifest, vm.ssh)));
    try {
      const guest = new LabGuest(channel);
      await step('identity', async () => {
        const id = await guest.identity();
        if (id.kernel !== image.manifest.os.build) throw new Error(`guest runs ${id.kernel}, the image manifest says ${image.manifest.os.build}`);
        return id;
      }, (id) => `${id.kernel}, up ${id.uptimeSeconds}s`);
      await step('load lab module', () => guest.installDriver(driver.path), (d) => d.name);
      await step('module intercepts opens', async () => {
        const before = Number(await guest.readParam('fgfilter', 'opens'));
        await guest.run('cat /etc/hostname /etc/passwd > /dev/null');
        const after = Number(await guest.readParam('fgfilter', 'opens'));
        if (!(after > before)) throw new Error(`opens did not grow (${before} → ${after})`);
        return { before, after };
      }, (o) => `opens ${o.before} → ${o.after}`);

      const trigger = opts.trigger ?? 'oops';
      channel.startHeartbeat({ intervalMs: 2_000, timeoutMs: 3_000, missesBeforeLost: 2 });
      const outcome = await step(`fire ${trigger} and watch`, async () => {
        const watching = watchCell(vm, channel, { cellDir, crash: LINUX_CRASH, ...(opts.signal ? { signal: opts.signal } : {}) });
        await guest.trigger('fgfilter', trigger, opts.triggerCpu !== undefined ? { cpu: opts.triggerCpu } : {});
        const o = await Promise.race([
          watching,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no crash or hang seen within 180 s')), 180_000).unref()),
        ]);
        if (o.kind !== 'crash' && o.kind !== 'hang') throw new Error(`expected a crash or hang, saw ${o.kind}${'reason' in o ? `: ${o.reason}` : ''}`);
        return o;
      }, (o) => o.kind);
      channel.stopHeartbeat();

      if (outcome.kind === 'crash' || outcome.kind === 'hang') {
        const ev = outcome.evidence;
        result.dumpBytes = ev.dump?.bytes ?? null;
        result.dumpPath = ev.dump?.path ?? null;
        const r = ev.report;
        result.crash = r ? { title: r.title, module: r.module ?? null, kind: r.kind, function: r.function ?? null } : null;
        await step('memory dump', async () => {
          if (!ev.dump || ev.dump.bytes === 0) throw new Error(ev.dumpError ?? 'no dump');
          return ev.dump;
        }, (d) => `${d.bytes} bytes`);
        await step('crash title names the lab module', async () => {
          if (!r) throw new Error(`no crash found in ${vm.consolePath}`);
          if (r.module !== 'fgfilter') throw new Error(`crash "${r.title}" blames ${r.module ?? 'no module'}, not fgfilter`);
          return r;
        }, (rep) => rep.title);
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
    result.ok = result.steps.every((s) => s.ok);
  } catch {
    result.ok = false;
  }
  return result;
}
