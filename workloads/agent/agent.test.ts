// The bundled agent, run as the guest runs it (`node agent.js --spec`), doing real file operations in a
// temp directory on this host: the result has every field, histograms decode to the recorded counts,
// and errors are counted then stop the step at its limit.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { parseWorkload } from '../spec.ts';
import { parseAgentOutput } from '../result.ts';
import { agentSourceFiles, bundleAgent } from './bundle.ts';
import type { AgentResult } from './protocol.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fg-agent-test-'));
const cacheDir = join(tmp, 'cache');
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function runAgent(agent: string, specYaml: string, extra: string[] = [], stdin?: string) {
  const spec = parseWorkload('tiny.yaml', specYaml);
  const specFile = join(tmp, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const args = stdin === undefined ? [agent, '--spec', specFile, '--workdir', tmp, ...extra] : [agent, '--workdir', tmp, ...extra];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', input: stdin ?? '', timeout: 60_000 });
  return { ...r, spec, specFile };
}

t.test('bundle: one file, cached by the sources hash, no WASM, no harness code', async (t) => {
  const first = await bundleAgent({ cacheDir });
  t.notOk(first.cached);
  t.match(first.sha256, /^[0-9a-f]{64}$/);
  t.ok(first.path.startsWith(cacheDir));
  const again = await bundleAgent({ cacheDir });
  t.ok(again.cached);
  t.equal(again.path, first.path);
  t.equal(again.sha256, first.sha256);
  const code = readFileSync(first.path, 'utf8');
  t.notOk(code.includes('generated-wasm'), 'the WASM blob is left out');
  t.ok(code.includes('fleetgate-stub:wasm-stub'), 'the WASM module is the stub');
  t.notOk(/harness\//.test(code), 'nothing from harness/');
  t.ok(agentSourceFiles().every((f) => !f.endsWith('.test.ts') && !f.endsWith('bundle.ts')));
  t.same(readdirSync(join(cacheDir, first.key)).sort(), ['agent.js', 'package.json']);
});

t.test('runs a tiny workload on this host and reports every field', async (t) => {
  const { path: agent } = await bundleAgent({ cacheDir });
  const r = runAgent(agent, `
name: tiny
priority: high
defaults: { dir: files, files: 40, subdirs: 4, fileSize: { min: 100, max: 3000 } }
operations:
  - op: create
  - op: open
    count: 200
    warmup: 20
  - op: open
    name: open-parallel
    count: 100
    concurrency: 3
  - op: read
  - op: write
    count: 20
    fsync: true
  - op: rename
    count: 60
  - op: enumerate
    count: 10
  - op: open
    name: timed
    durationMs: 100
  - op: extract
    dir: x
    files: 30
  - op: delete
  - op: spawn
    count: 4
  - op: exec
    command: [node, -e, "process.exit(0)"]
    count: 2
`);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /step open \(open\): ok, 200 ok/, 'progress goes to stderr');
  const out = parseAgentOutput(r.stdout, 'agent stdout');
  t.equal(out.kind, 'result');
  const res = (out as { result: AgentResult }).result;
  t.match(res, { schema: 'fleetgate-agent-result/1', workload: 'tiny', ok: true, host: { node: process.version, platform: process.platform, arch: String, release: String, hostname: String, cpus: { count: Number, model: String } } });
  t.equal(res.steps.length, r.spec.operations.length);
  // Raised to nice -20 where that is allowed (root on Linux, as in the lab guest); otherwise said why not.
  if (process.platform === 'linux' && process.getuid?.() === 0) t.same(res.priority, { requested: 'high', applied: -20, note: null });
  else t.match(res.priority, { requested: 'high' });
  const expected: Record<string, number> = { create: 40, open: 200, 'open-parallel': 100, read: 40, write: 20, rename: 60, enumerate: 10, extract: 30, delete: 40, spawn: 4, exec: 2 };
  for (const s of res.steps) {
    t.equal(s.status, 'ok', `${s.name}: ${s.stopReason ?? ''} ${JSON.stringify(s.errorSamples)}`);
    t.equal(s.errors, 0, s.name);
    if (s.name in expected) t.equal(s.count, expected[s.name], `${s.name} count`);
    else t.ok(s.count > 0, `${s.name} ran for its duration`);
    const l = s.latencyUs;
    t.ok(l.min <= l.p50 + 1 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= Math.ceil(l.max), `${s.name} percentiles ordered ${JSON.stringify(l)}`);
    t.ok(l.mean > 0 && s.opsPerSec > 0 && s.elapsedMs > 0, `${s.name} mean, ops/s, elapsed`);
    const h = decodeFromCompressedBase64(s.histogram);
    t.equal(h.totalCount, s.count, `${s.name} histogram decodes to its count`);
    t.equal(Math.min(h.getValueAtPercentile(50), Math.ceil(l.max)), l.p50, `${s.name} histogram p50`);
  }
  const timed = res.steps.find((s) => s.name === 'timed')!;
  t.ok(timed.elapsedMs >= 100 && timed.elapsedMs < 1000, `durationMs bounds the step (${timed.elapsedMs} ms)`);
  t.notOk(existsSync(res.workdir), 'the work directory is removed');
});

t.test('priority: normal (the default) leaves the process as started; a refused raise is reported, not fatal', async (t) => {
  const { path: agent } = await bundleAgent({ cacheDir });
  const normal = runAgent(agent, 'operations:\n  - op: spawn\n    count: 1\n');
  t.equal(normal.status, 0, normal.stderr);
  t.same((JSON.parse(normal.stdout) as AgentResult).priority, { requested: 'normal', applied: 0, note: null });
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return t.comment('SKIP refused-raise check: needs root on Linux to run the agent as another user');
  // As an unprivileged user, nice -20 is refused (EACCES): the workload still runs and the result says so.
  const open = mkdtempSync(join(tmpdir(), 'fg-agent-nobody-'));
  t.teardown(() => rmSync(open, { recursive: true, force: true }));
  chmodSync(open, 0o777);
  const agentCopy = join(open, 'agent.js');
  copyFileSync(agent, agentCopy);
  const spec = parseWorkload('p.yaml', 'priority: high\noperations:\n  - op: spawn\n    count: 1\n');
  const r = spawnSync(process.execPath, [agentCopy, '--workdir', open], { encoding: 'utf8', input: JSON.stringify(spec), timeout: 60_000, uid: 65534, gid: 65534, cwd: open, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  t.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as AgentResult;
  t.equal(res.ok, true);
  t.match(res.priority, { requested: 'high', applied: 0, note: /setPriority\(-20\) refused \(EACCES\); measured at priority 0/ });
  t.match(r.stderr, /priority: setPriority\(-20\) refused/);
});

t.test('errors are counted, then stop the step at its limit; later steps still run', async (t) => {
  const { path: agent } = await bundleAgent({ cacheDir });
  const r = runAgent(agent, `
operations:
  - op: open
    dir: does-not-exist
    count: 1000
    errorLimit: 7
  - op: exec
    command: [node, -e, "process.exit(3)"]
    count: 10
    errorLimit: 2
  - op: create
    count: 5
`);
  t.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as AgentResult;
  t.equal(res.ok, false);
  const [open, exec, create] = res.steps;
  t.match(open, { status: 'error-limit', errors: 7, count: 0, errorLimit: 7, stopReason: /stopped after 7 errors \(errorLimit 7\); first: ENOENT/ });
  t.match(open!.errorSamples, [{ code: 'ENOENT', count: 7, message: /does-not-exist/ }]);
  t.equal(decodeFromCompressedBase64(open!.histogram).totalCount, 0);
  t.match(exec, { status: 'error-limit', errors: 2, errorSamples: [{ code: 'EXIT_3', count: 2 }] });
  t.match(create, { status: 'ok', count: 5, errors: 0 });
});

t.test('spec on stdin; a bad spec is one fatal JSON document and exit 1', async (t) => {
  const { path: agent } = await bundleAgent({ cacheDir });
  const good = parseWorkload('s.yaml', 'operations:\n  - op: spawn\n    count: 2\n');
  const r = runAgent(agent, 'operations:\n  - op: spawn\n    count: 1\n', ['--quiet'], JSON.stringify(good));
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '', '--quiet: no progress');
  t.equal((JSON.parse(r.stdout) as AgentResult).steps[0]!.count, 2);
  const bad = runAgent(agent, 'operations:\n  - op: spawn\n', [], JSON.stringify({ ...good, operations: [{ ...good.operations[0], op: 'fly' }] }));
  t.equal(bad.status, 1);
  const out = parseAgentOutput(bad.stdout, 'stdout');
  t.equal(out.kind, 'fatal');
  t.match(out.kind === 'fatal' && out.fatal.fatal, /spec\.operations\[0\]\.op is "fly"; expected one of/);
});
