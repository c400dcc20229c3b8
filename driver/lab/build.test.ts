// The lab filter builds for the lab image's kernel under our name and a partner's, with the knobs
// the harness drives, and is cached. Needs the installed linux-headers for the kernel apt resolves
// linux-image-cloud-amd64 to (.ci/run installs them).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveKernelRelease } from '../../images/lab/packages.ts';
import { buildLabDriver, labDriverKey } from './build.ts';

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
