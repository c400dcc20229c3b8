// What the install step installs and what it can fail with, for real (QEMU, the lab guest, insmod):
// - the matrix's driver build is what gets installed: a package at another path, with another module
//   name, is the module the cell loads, and the cell records its hash;
// - a driver the guest's kernel refuses to load is the cell's install-failure, with the kernel's words
//   as evidence (the lab module with a parameter value the kernel rejects, delay_us=many). Host-side
//   work (building, sending the module) is not in the install step, so it can never be this verdict.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { CLI, REPO } from '../cli/run-cli.test-helper.ts';

const image = await labImageForTests();
const skip = (!existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed') || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP: ${skip}`);

// Enough files that a step's p50 is a median of a hundred, not of twenty (CI saw create undecided at 20).
const TINY = 'name: tiny\ndefaults: { dir: tiny, files: 100, fileSize: 512 }\noperations:\n  - op: create\n  - op: open\n    count: 200\n';

function runMatrix(dir: string, driverLine: string) {
  writeFileSync(join(dir, 'tiny.yaml'), TINY);
  writeFileSync(join(dir, 'm.yaml'), `name: m\naxes:\n  os: [lab]\n  driver:\n    - ${driverLine}\n  workloads: [./tiny.yaml]\n`);
  const out = join(dir, 'run');
  const r = spawnSync(process.execPath, [CLI, 'run', join(dir, 'm.yaml'), '--out', out, '--no-report'], {
    cwd: REPO,
    env: { ...process.env, CI: '1', FLEETGATE_STATE: join(dir, 'state') },
    encoding: 'utf8',
    timeout: 1_700_000,
  });
  const summary = existsSync(join(out, 'summary.json')) ? (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { cells: Array<{ id: string; verdict: string; attempts: number; reason?: string; installed?: Array<{ role: string; name: string; package: string; sha256: string }> }> }) : null;
  return { r, out, cell: summary?.cells[0] };
}

t.test('a driver build at another path, with another module name, is the module the cell installs', { skip, timeout: 1_800_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-altpkg-'));
  const pkg = join(dir, 'altpkg');
  mkdirSync(pkg);
  copyFileSync(join(REPO, 'driver', 'lab', 'fgfilter.c'), join(pkg, 'alt.c'));
  writeFileSync(join(pkg, 'fleetgate.driver.yaml'), 'kind: lab-module\nmodule: altfilter\nsource: alt.c\n');
  const { r, out, cell } = runMatrix(dir, `{ name: alt-build, path: ${pkg} }`);
  // This test is about what gets installed; latency verdicts have their own tests. On a noisy host the
  // rounds may honestly end undecided (exit 2, latency-inconclusive): that is still an installed,
  // measured cell. Anything else (a product failure, infrastructure trouble) fails here.
  t.ok(r.status === 0 || r.status === 2, `the cell ran to a latency verdict: exit ${r.status}: ${r.stderr.slice(-600)}`);
  t.match(cell?.verdict, /^(pass|latency-inconclusive)$/);
  t.match(r.stderr, /prepare: lab module ready: altfilter\.ko/, 'the package was built under its own module name');
  const ours = cell?.installed?.find((d) => d.role === 'ours');
  t.match(ours, { name: 'altfilter', package: pkg });
  t.match(ours?.sha256, /^[0-9a-f]{64}$/);
  const dmesg = readFileSync(join(out, 'cells', cell!.id, 'attempt-1', 'dmesg.txt'), 'utf8');
  t.match(dmesg, /altfilter: loaded: hooking/, 'the guest loaded altfilter');
  t.notMatch(dmesg, /fgfilter: loaded/, 'and not the lab filter under its own name');
  const built = readdirSync(join(REPO, '.cache', 'driver')).filter((d) => d.startsWith('altfilter-')).map((d) => join(REPO, '.cache', 'driver', d, 'altfilter.ko')).filter(existsSync);
  t.ok(built.some((ko) => createHash('sha256').update(readFileSync(ko)).digest('hex') === ours?.sha256), 'the recorded hash is the built .ko\'s');
});

t.test('a package folder without its manifest is bad input at plan time: exit 64, nothing started', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-nopkg-'));
  mkdirSync(join(dir, 'empty'));
  const { r } = runMatrix(dir, `{ name: nothing, path: ${join(dir, 'empty')} }`);
  t.equal(r.status, 64, r.stderr);
  t.match(r.stderr, /empty\/fleetgate\.driver\.yaml: file not found: a lab driver package needs fleetgate\.driver\.yaml/);
});

t.test('the kernel refusing our module: install-failure, insmod and dmesg in install.txt', { skip, timeout: 1_800_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-install-'));
  const { r, out, cell } = runMatrix(dir, `{ name: fgfilter-badparam, path: ${join(REPO, 'driver', 'lab')}, params: { delay_us: many } }`);
  t.equal(r.status, 1, `a product failure: ${r.stderr.slice(-600)}`);
  t.equal(cell?.verdict, 'install-failure');
  t.equal(cell?.attempts, 1, 'never retried');
  t.match(cell?.reason, /^install: .*insmod fgfilter refused/);
  const evidence = readFileSync(join(out, 'cells', cell!.id, 'attempt-1', 'install.txt'), 'utf8');
  t.match(evidence, /insmod: .*(Invalid|invalid)/, 'insmod says why');
  t.match(evidence, /fgfilter: .*many.*delay_us|delay_us.*many/, "and so does the kernel's log");
});
