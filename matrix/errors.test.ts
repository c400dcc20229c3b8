// Bad matrices: each exits non-zero (64) before anything is booted, with a message that names the
// file, line and column and what was expected.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runFleetgate } from '../harness/cli/run-cli.test-helper.ts';

const dir = mkdtempSync(join(tmpdir(), 'fg-matrix-bad-'));
const good = `axes:
  os: [win11-24h2]
  driver: [{ name: d, path: . }]
`;

function plan(name: string, text: string, extra: string[] = []) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  return { file, ...runFleetgate(['plan', file, ...extra]) };
}

const cases: Array<{ name: string; text: string; line: number; column: number; message: RegExp }> = [
  {
    name: 'yaml-syntax',
    text: 'axes:\n  os: [win11-24h2\n  driver: []\n',
    line: 3, column: 3,
    message: /YAML syntax error/,
  },
  {
    name: 'unknown-axis',
    text: good + '  verifer: [standard]\n',
    line: 4, column: 3,
    message: /unknown axis "verifer"; did you mean "verifier"\?/,
  },
  {
    name: 'unknown-release',
    text: 'axes:\n  os:\n    - server-2022\n    - { release: win11-24h3, patch: latest }\n  driver: [{ name: d, path: . }]\n',
    line: 4, column: 18,
    message: /unknown release "win11-24h3"; did you mean "win11-24h2"\?/,
  },
  {
    name: 'unknown-release-short',
    text: 'axes:\n  os: [serve-2019]\n  driver: [{ name: d, path: . }]\n',
    line: 2, column: 8,
    message: /unknown release "serve-2019"; did you mean "server-2019"\?/,
  },
  {
    name: 'kb-not-in-catalog',
    text: 'axes:\n  os:\n    - release: win10-22h2\n      patch: { kb: 5089549 }\n  driver: [{ name: d, path: . }]\n',
    line: 4, column: 14,
    message: /KB5089549 is not in the catalog for win10-22h2/,
  },
  {
    name: 'exclude-everything',
    text: good + 'exclude:\n  - { driver: d, os: win11-24h2 }\n',
    line: 5, column: 5,
    message: /the exclude rules remove every cell of the matrix \(1 of 1\)/,
  },
  {
    name: 'bad-patch-selector',
    text: 'axes:\n  os: [{ release: win11-24h2, patch: newest }]\n  driver: [{ name: d, path: . }]\n',
    line: 2, column: 38,
    message: /expected a patch selector: latest, latest-N/,
  },
  {
    name: 'unknown-verifier',
    text: good + '  verifier: [standard, lowress]\n',
    line: 4, column: 24,
    message: /unknown verifier profile "lowress"; did you mean "lowres"\?/,
  },
  {
    name: 'missing-driver-axis',
    text: 'axes:\n  os: [win11-24h2]\n',
    line: 2, column: 3,
    message: /axes is missing "driver"/,
  },
  {
    name: 'upgrade-from-unknown',
    text: 'axes:\n  os: [win11-24h2]\n  driver: [{ name: d, path: ., upgrade-from: prev }]\n',
    line: 3, column: 46,
    message: /upgrade-from "prev" must name another driver build/,
  },
  {
    name: 'exclude-typo',
    text: good + 'exclude:\n  - { os: win11-24h2, verifier: standrd }\n',
    line: 5, column: 33,
    message: /unknown verifier profile "standrd" in exclude; did you mean "standard"\?/,
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = plan(c.name, c.text);
    t.equal(r.code, 64, 'usage exit code');
    t.equal(r.stdout, '', 'no plan printed');
    const first = r.stderr.split('\n')[0]!;
    t.match(first, `${r.file}:${c.line}:${c.column}: `, `names file, line and column: ${first}`);
    t.match(r.stderr, c.message);
  });
}

t.test('shard 3/2 and other bad shards', async (t) => {
  const file = join(dir, 'good.yaml');
  writeFileSync(file, good);
  for (const [arg, msg] of [['3/2', /--shard 3\/2: i must be between 1 and 2/], ['0/2', /i must be between 1 and 2/], ['1/0', /n must be at least 1/], ['x', /expected i\/n/]] as const) {
    const r = runFleetgate(['plan', file, '--shard', arg]);
    t.equal(r.code, 64, arg);
    t.match(r.stderr, msg);
  }
});

t.test('a bad workload file stops the plan (and so the run) before any VM starts', async (t) => {
  const wl = join(dir, 'bad-workload.yaml');
  writeFileSync(wl, 'name: bad\noperations:\n  - op: opne\n    count: 10\n');
  const neg = join(dir, 'neg-workload.yaml');
  writeFileSync(neg, 'name: neg\noperations:\n  - op: open\n    count: -5\n');
  const syntax = join(dir, 'syntax-workload.yaml');
  writeFileSync(syntax, 'name: s\noperations: [\n');
  for (const [file, msg] of [[wl, /bad-workload\.yaml:3:\d+: .*opne/], [neg, /neg-workload\.yaml:4:\d+: .*count/], [syntax, /syntax-workload\.yaml:\d+:\d+: YAML syntax error/]] as const) {
    const m = join(dir, `uses-${file.replace(/.*\//, '')}`);
    writeFileSync(m, `axes:\n  os: [lab]\n  driver: [{ name: d, path: . }]\n  workloads: [${file}]\n`);
    for (const cmd of ['plan', 'run']) {
      const r = runFleetgate([cmd, m, ...(cmd === 'run' ? ['--out', join(dir, `run-${Math.random().toString(16).slice(2)}`)] : [])]);
      t.equal(r.code, 64, `${cmd} exits 64`);
      t.match(r.stderr, msg, `${cmd}: ${r.stderr.split('\n')[0]}`);
    }
  }
});

t.test('a missing matrix file', async (t) => {
  const r = runFleetgate(['plan', join(dir, 'nope.yaml')]);
  t.equal(r.code, 64);
  t.match(r.stderr, /nope\.yaml: file not found/);
});
