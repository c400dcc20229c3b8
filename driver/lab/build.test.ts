// The lab filter builds for the lab image's kernel under our name and a partner's, with the knobs
// the harness drives, and is cached. Needs the installed linux-headers for the kernel apt resolves
// linux-image-cloud-amd64 to (.ci/run installs them).
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveKernelRelease } from '../../images/lab/packages.ts';
import { buildLabDriver, headersDir, labDriverKey, sourceRejected } from './build.ts';

const kernelRelease = await resolveKernelRelease();
const cacheDir = mkdtempSync(path.join(tmpdir(), 'fg-driver-'));
t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));

function modinfo(ko: string, field: string): string[] {
  return execFileSync('/sbin/modinfo', ['-F', field, ko], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

for (const name of ['fgfilter', 'partnerflt']) {
  t.test(`${name}.ko builds for ${kernelRelease} with the filter's knobs`, async (t) => {
    const r = await buildLabDriver({ name, kernelRelease, cacheDir });
    t.equal(r.name, name);
    t.equal(path.basename(r.path), `${name}.ko`);
    t.equal(r.sha256, createHash('sha256').update(readFileSync(r.path)).digest('hex'));
    t.same(modinfo(r.path, 'name'), [name], 'module name follows the build name');
    t.match(modinfo(r.path, 'vermagic')[0], new RegExp(`^${kernelRelease.replace(/[.+]/g, '\\$&')} `));
    const parms = modinfo(r.path, 'parm').map((p) => p.split(':')[0]);
    for (const p of ['delay_us', 'opens', 'trigger', 'leak_kb', 'leaked_kb']) t.ok(parms.includes(p), p);

    const log: string[] = [];
    const again = await buildLabDriver({ name, kernelRelease, cacheDir, log: (l) => log.push(l) });
    t.equal(again.path, r.path);
    t.equal(again.sha256, r.sha256);
    t.ok(log.some((l) => l.includes('cached')), 'second build is a cache hit');
  });
}

t.test('cache key depends on the name and the kernel release', async (t) => {
  const a = await labDriverKey('fgfilter', kernelRelease, '1');
  t.not(await labDriverKey('partnerflt', kernelRelease, '1'), a);
  t.not(await labDriverKey('fgfilter', '6.1.0-1-cloud-amd64', '1'), a);
  t.equal(await labDriverKey('fgfilter', kernelRelease, '1'), a);
});

t.test('bad names and releases are usage errors; missing headers an infra failure', async (t) => {
  await t.rejects(buildLabDriver({ name: 'Bad-Name', kernelRelease, cacheDir }), { name: 'UsageError' });
  await t.rejects(buildLabDriver({ name: 'fgfilter', kernelRelease: '../../etc', cacheDir }), { name: 'UsageError' });
  await t.rejects(
    buildLabDriver({ name: 'fgfilter', kernelRelease: '6.1.0-9999-cloud-amd64', cacheDir }),
    { name: 'InfraFailure', message: /apt-get install -y --no-install-recommends linux-headers-6\.1\.0-9999-cloud-amd64/ },
  );
});

t.test('single-flight: two callers in one process, and two processes, make one build of a .ko', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-driver-sf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log: string[] = [];
  const [a, b] = await Promise.all([0, 1].map(() => buildLabDriver({ name: 'fgfilter', kernelRelease, cacheDir: dir, log: (l) => log.push(l) })));
  t.equal(a!.path, b!.path);
  t.equal(log.filter((l) => l.startsWith('building ')).length, 1, 'one make in one process');

  const cli = fileURLToPath(new URL('../../harness/cli/fleetgate.js', import.meta.url));
  const run = () => {
    const p = spawn(process.execPath, [cli, 'lab', 'driver', '--name', 'partnerflt', '--kernel', kernelRelease, '--cache-dir', dir], { env: { ...process.env, CI: '1' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise<{ code: number | null; out: string; err: string }>((r) => p.on('exit', (code) => r({ code, out, err })));
  };
  const [p1, p2] = await Promise.all([run(), run()]);
  t.same([p1.code, p2.code], [0, 0], p1.err + p2.err);
  t.equal(p1.out, p2.out, 'the same .ko and sha256');
  const both = `${p1.err}\n${p2.err}`;
  t.equal(both.split('\n').filter((l) => /building partnerflt\.ko from /.test(l)).length, 1, 'one make across both processes');
  t.match(both, /waiting for pid \d+ \(building partnerflt\.ko for |partnerflt\.ko for .*: cached/, 'the other waited for it or found it built');
  t.same(readdirSync(path.join(dir, 'driver')).filter((e) => e.startsWith('.') || e.endsWith('.lock')), [], 'no temp folder or lock left');
});

t.test("the compiler rejecting the source is told apart from the build machinery failing (real make output)", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-driver-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(fileURLToPath(new URL('./Kbuild', import.meta.url)), path.join(dir, 'Kbuild'));
  writeFileSync(path.join(dir, 'labfilter.c'), '#include <linux/module.h>\nstatic int broken(void) { return no_such_symbol_in_this_kernel; }\nMODULE_LICENSE("GPL");\n');
  const bad = spawnSync('make', ['-C', headersDir(kernelRelease), `M=${dir}`, 'LABMOD=badmod', 'modules'], { encoding: 'utf8' });
  t.not(bad.status, 0);
  t.ok(sourceRejected(bad.stdout + bad.stderr), `a compile error is the source's: ${(bad.stdout + bad.stderr).slice(-300)}`);
  const noHeaders = spawnSync('make', ['-C', path.join(dir, 'no-such-headers'), `M=${dir}`, 'modules'], { encoding: 'utf8' });
  t.not(noHeaders.status, 0);
  t.notOk(sourceRejected(noHeaders.stdout + noHeaders.stderr), 'a missing headers tree is not');
});
