// The lab image is single-flight (issue #13: two cell slots once built it at once and deleted each
// other's downloads). Each case starts from an empty cache folder, downloads included: two callers in
// one process, two processes at once, and a builder killed midway followed by a build that succeeds.
// A forced rebuild refuses to replace an image another live process uses. Needs apt lists and the
// tools .ci/install-deps installs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { buildLabImage, readLabManifest } from './build.ts';

const CLI = fileURLToPath(new URL('../../harness/cli/fleetgate.js', import.meta.url));
const LOCK_CHILD = fileURLToPath(new URL('../../lib/testdata/lock-child.ts', import.meta.url));

function emptyCache(t: Test, name: string): string {
  const d = mkdtempSync(path.join(tmpdir(), `fg-lab-${name}-`));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Child {
  pid: number;
  stdout: string;
  stderr: string;
  done: Promise<number | null>;
  kill(): void;
}

function start(cmd: string[], env: Record<string, string> = {}): Child {
  const p = spawn(process.execPath, cmd, { env: { ...process.env, ...env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = {
    pid: p.pid!,
    stdout: '',
    stderr: '',
    done: new Promise((r) => p.on('exit', (code) => r(code))),
    kill: () => p.kill('SIGKILL'),
  };
  p.stdout.on('data', (b: Buffer) => (c.stdout += b.toString()));
  p.stderr.on('data', (b: Buffer) => (c.stderr += b.toString()));
  return c;
}

async function until(what: string, ok: () => boolean, ms = 300_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a finished cache folder must not hold: temp folders, swap folders, locks, partial downloads. */
function leftovers(cacheDir: string): string[] {
  const out: string[] = [];
  for (const sub of ['lab', 'debs']) {
    for (const e of readdirSync(path.join(cacheDir, sub))) if (e.startsWith('.') || e.endsWith('.lock')) out.push(`${sub}/${e}`);
  }
  return out;
}

const count = (lines: string[], re: RegExp): number => lines.filter((l) => re.test(l)).length;

t.test('two callers in one process: one build, one download of each package, the same image', async (t) => {
  const cacheDir = emptyCache(t, 'inproc');
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const [a, b] = await Promise.all([buildLabImage({ cacheDir, log }), buildLabImage({ cacheDir, log })]);
  t.equal(a.dir, b.dir);
  t.equal(a.manifest.ssh.hostKeyFingerprint, b.manifest.ssh.hostKeyFingerprint, 'the same build, not two');
  t.equal(count(lines, /^built /), 1, 'built once');
  t.equal(count(lines, /^downloading linux-image-/), 1, 'the kernel downloaded once');
  t.equal(count(lines, /^downloading busybox-static /), 1);
  t.same(await readLabManifest(a.dir), a.manifest, 'complete on disk');
  t.same(leftovers(cacheDir), []);
  const again = await buildLabImage({ cacheDir });
  t.equal(again.cached, true, 'a later call is a cache hit');
});

t.test('two processes at once: one builds, the other waits for it and takes its image', async (t) => {
  const cacheDir = emptyCache(t, 'procs');
  const cmd = [CLI, 'lab', 'build', '--json', '--cache-dir', cacheDir];
  const a = start(cmd);
  const b = start(cmd);
  t.same(await Promise.all([a.done, b.done]), [0, 0], `exit codes (stderr: ${a.stderr.slice(-300)} | ${b.stderr.slice(-300)})`);
  const ra = JSON.parse(a.stdout) as { manifestPath: string; cached: boolean; manifest: { ssh: { hostKeyFingerprint: string } } };
  const rb = JSON.parse(b.stdout) as typeof ra;
  t.equal(ra.manifestPath, rb.manifestPath, 'both get the same image');
  t.equal(ra.manifest.ssh.hostKeyFingerprint, rb.manifest.ssh.hostKeyFingerprint, 'the same build');
  t.same([ra.cached, rb.cached].sort(), [false, true], 'one built, the other found it built');
  const waiter = ra.cached ? a : b;
  const builder = ra.cached ? b : a;
  t.match(waiter.stderr, new RegExp(`waiting for pid ${builder.pid} \\(building the lab image`), 'the waiter says whom it waits for');
  t.equal(count(`${a.stderr}\n${b.stderr}`.split('\n'), /downloading linux-image-/), 1, 'one download of the kernel');
  t.same(leftovers(cacheDir), []);
});

t.test('a builder killed midway: the next build takes over its lock and succeeds', async (t) => {
  const cacheDir = emptyCache(t, 'killed');
  const a = start([CLI, 'lab', 'build', '--cache-dir', cacheDir]);
  // Past the downloads, in the middle of assembling the image.
  await until('the builder to be midway', () => /assembling initramfs|making the base disk/.test(a.stderr));
  a.kill();
  await a.done;
  t.ok(existsSync(path.join(cacheDir, 'lab', 'build.lock')), 'the killed builder left its lock');
  t.ok(readdirSync(path.join(cacheDir, 'lab')).some((e) => e.startsWith('.tmp-')), 'and its half-made image');
  t.notOk(readdirSync(path.join(cacheDir, 'lab')).some((e) => /^[0-9a-f]{64}$/.test(e)), 'nothing that looks like a finished image');

  const lines: string[] = [];
  const t0 = Date.now();
  const r = await buildLabImage({ cacheDir, log: (l) => lines.push(l) });
  t.equal(r.cached, false);
  t.match(lines.join('\n'), new RegExp(`taking over build\\.lock from pid ${a.pid} .*that process is gone`));
  t.ok(Date.now() - t0 < 200_000, 'no wait for the dead builder');
  t.same(await readLabManifest(r.dir), r.manifest);
  t.same(leftovers(cacheDir), [], "the dead builder's folders are swept");

  // A live process using the image (a run booting VMs from it): --force refuses to replace it.
  const user = start(['--import', 'tsx', LOCK_CHILD, path.join(cacheDir, 'user.lock'), path.join(cacheDir, 'user.log'), '120000', r.dir]);
  t.teardown(() => user.kill());
  await until('the user to hold its lease', () => existsSync(path.join(cacheDir, 'user.log')), 60_000);
  await t.rejects(buildLabImage({ cacheDir, force: true }), new RegExp(`in use by pid ${user.pid}`));
  t.same(await readLabManifest(r.dir), r.manifest, 'the image in use is untouched');
  user.kill();
  await user.done;
  const forced = await buildLabImage({ cacheDir, force: true });
  t.equal(forced.cached, false, 'with the user gone, --force rebuilds');
});
