// What runs where is decided before the first VM (issue #13): cells no host can run exit 64 naming
// them and `fleetgate images plan`, or end skipped with --skip-unavailable; a host that cannot do the
// host-side builds is one message and exit 2, with nothing started and no run folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { planMatrix } from '../../matrix/index.ts';
import { REPO, runFleetgate } from '../cli/run-cli.test-helper.ts';
import type { HostSpec } from './hosts.ts';
import { unavailableCells, unavailableError } from './prepare.ts';
import type { SummaryJson } from '../../runfolder/summary.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'fg-prepare-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const driver = path.join(REPO, 'driver', 'lab');
const mixed = path.join(dir, 'mixed.yaml');
writeFileSync(mixed, `name: mixed\naxes:\n  os: [win11-24h2, lab]\n  driver:\n    - { name: candidate, path: ${driver} }\n`);
const windows = path.join(dir, 'windows.yaml');
writeFileSync(windows, `name: windows\naxes:\n  os: [win11-24h2, { release: server-2022, patch: latest-1 }]\n  driver:\n    - { name: candidate, path: ${driver} }\n`);
const store = path.join(dir, 'images');
mkdirSync(store);
const env = { FLEETGATE_IMAGES: store };

const local: HostSpec = { name: 'here', provider: 'qemu', reach: 'local', slots: 2, memoryMiB: 8192, images: ['*'] };

t.test('unavailableCells: Windows cells have, here, no image; lab cells need a qemu host', async (t) => {
  const cells = planMatrix(mixed).cells;
  const win = cells.find((c) => c.os.release === 'win11-24h2')!;
  const lab = cells.find((c) => c.os.release === 'lab')!;
  const u = unavailableCells(cells, [local], { imageStore: store });
  t.same(u.map((x) => x.cell.id), [win.id]);
  t.notMatch(u[0]!.reason, /no runner/, 'Windows cells have a runner (the Windows personality)');
  t.match(u[0]!.reason, new RegExp(`image win11-24h2-${win.os.build}\\.${win.os.ubr} is not in ${store}`));

  const hyperv: HostSpec = { ...local, name: 'hv', provider: 'hyperv', images: ['win11-24h2'] };
  const onlyHv = unavailableCells(cells, [hyperv], { imageStore: store });
  t.match(onlyHv.find((x) => x.cell.id === lab.id)?.reason, /no host here runs lab cells/);
  t.notMatch(onlyHv.find((x) => x.cell.id === win.id)?.reason, /no host in the inventory lists/, 'the hyperv host lists the release');

  const err = unavailableError(u, cells.length, 'mixed.yaml');
  t.equal(err.exitCode, 64);
  t.match(err.message, /1 of 2 cells cannot run on these hosts; nothing was started/);
  t.match(err.message, /`fleetgate images plan mixed\.yaml`/);
  t.match(err.message, /--skip-unavailable/);
});

t.test('fleetgate run: a matrix with Windows cells and no Windows image exits 64 before anything starts', async (t) => {
  const out = path.join(dir, 'run-64');
  const r = runFleetgate(['run', mixed, '--out', out], { env });
  t.equal(r.code, 64, r.stderr);
  t.match(r.stderr, /1 of 2 cells cannot run on these hosts; nothing was started/);
  t.match(r.stderr, /win11-24h2 26100\.\d+ · candidate · verifier=none: image win11-24h2-26100\.\d+ is not in /);
  t.match(r.stderr, /fleetgate images plan/);
  t.notMatch(r.stderr, /prepare:/, 'nothing was built');
  t.notOk(existsSync(out), 'no run folder');
});

t.test('fleetgate run --skip-unavailable: such cells end skipped with the reason; a run of only those passes', async (t) => {
  const out = path.join(dir, 'run-skip');
  const r = runFleetgate(['run', windows, '--out', out, '--skip-unavailable', '--no-report'], { env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /skipped [0-9a-f]{12} win11-24h2.*: image win11-24h2-\S+ is not in /, 'progress says why');
  const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SummaryJson;
  t.equal(s.cells.length, 3);
  for (const c of s.cells) {
    t.equal(c.verdict, 'skipped');
    t.equal(c.attempts, 0);
    t.match(c.reason, /^image (win11-24h2|server-2022)-\S+ is not in /);
  }
  t.notMatch(readFileSync(path.join(out, 'journal.ndjson'), 'utf8'), /attempt-begin/, 'nothing was attempted');
});

t.test('a host that cannot build the lab image: one message, exit 2, nothing started', async (t) => {
  // A PATH with a shell and nothing else: the lab builder's tools are missing.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['bash', 'sh']) symlinkSync(`/bin/${tool}`, path.join(bin, tool));
  const out = path.join(dir, 'run-host');
  const r = runFleetgate(['run', path.join(REPO, 'matrix', 'lab.yaml'), '--out', out], {
    env: { PATH: bin, FLEETGATE_CACHE: path.join(dir, 'empty-cache') },
  });
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /this host cannot prepare the lab cells, so none was started: the lab image builder needs .*apt-get install -y/);
  t.equal((r.stderr.match(/cannot prepare/g) ?? []).length, 1, 'said once');
  t.notMatch(r.stderr, /quarantined|attempt/);
  t.notOk(existsSync(out), 'no run folder: there is nothing to resume');
});
