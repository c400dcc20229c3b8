// Synthetic run folders for tests and the bench: the same files a run leaves (run.json,
// summary.json, journal.ndjson with step events, cells/<id>/attempt-1/console.log), written from a
// list of cell specs, so writers and the gate can be tested on any mix of verdicts at any size.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { STEPS, type MeasurementRecord, type OperationLatency, type Verdict } from '../runfolder/results.ts';
import type { SummaryJson } from '../runfolder/summary.ts';

export interface SyntheticCell {
  id?: string;
  release?: string;
  build?: number;
  ubr?: number;
  kb?: number;
  driver?: string;
  driverPath?: string;
  verifier?: string;
  workloads?: string[];
  coexist?: string[];
  repeat?: number;
  tags?: string[];
  /** null: the run ended before the cell had a verdict. */
  verdict?: Verdict | null;
  reason?: string;
  flaky?: boolean;
  crash?: { title: string; bucket: string; kind?: string; attribution?: string; bugcheck?: { code: number; name: string; params: string[] }; module?: string };
  latency?: Record<string, OperationLatency>;
  measurement?: MeasurementRecord;
  console?: string;
  /** Extra evidence files (relative name in the attempt folder → content). */
  files?: Record<string, string>;
}

export interface SyntheticRunOptions {
  runId?: string;
  matrix?: string;
  started?: string;
  gate?: string | null;
  /** Write console.log files (the bench turns them off for speed where it wants). */
  consoleLogs?: boolean;
}

function idOf(c: SyntheticCell, i: number): string {
  return c.id ?? createHash('sha256').update(JSON.stringify([c.release, c.build, c.ubr, c.driver, c.verifier, c.workloads, c.coexist, c.repeat, i])).digest('hex').slice(0, 12);
}

/** Writes a run folder at `dir`; returns the cell ids in order. */
export function writeSyntheticRun(dir: string, specs: readonly SyntheticCell[], opts: SyntheticRunOptions = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const runId = opts.runId ?? '20261201T000000Z-000000';
  const t0 = Date.parse(opts.started ?? '2026-12-01T00:00:00.000Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const ids: string[] = [];
  const coords: Array<Record<string, unknown>> = [];
  const cells: SummaryJson['cells'] = [];
  const journal: string[] = [];
  const counts: Record<string, number> = {};
  specs.forEach((c, i) => {
    const id = idOf(c, i);
    ids.push(id);
    const build = c.build ?? 26100;
    const ubr = c.ubr ?? 1000;
    const co = {
      os: { release: c.release ?? 'win11-24h2', build, ubr, kb: c.kb ?? 5040000 + ubr, month: '2026-11', family: 'client', patchLevel: `${build}.${ubr}` },
      driver: c.driver ?? 'candidate',
      driverPath: c.driverPath ?? '/nonexistent/driver/packages/fgfilter',
      upgradeFrom: null,
      driverParams: {},
      verifier: c.verifier ?? 'standard',
      workloads: c.workloads ?? ['file-storm'],
      coexist: c.coexist ?? [],
      repeat: c.repeat ?? 1,
      tags: c.tags ?? [],
    };
    coords.push({ id, ...co });
    const verdict = c.verdict === undefined ? 'pass' : c.verdict;
    counts[verdict ?? 'unfinished'] = (counts[verdict ?? 'unfinished'] ?? 0) + 1;
    const attemptDir = `cells/${id}/attempt-1`;
    const evidence: string[] = [];
    if (opts.consoleLogs !== false || c.console !== undefined || c.files) mkdirSync(path.join(dir, attemptDir), { recursive: true });
    if (opts.consoleLogs !== false || c.console !== undefined) {
      writeFileSync(path.join(dir, attemptDir, 'console.log'), c.console ?? `boot ok\nfleetgate-lab: ready\nworkload file-storm done (${id})\n`);
      evidence.push(`${attemptDir}/console.log`);
    }
    for (const [name, content] of Object.entries(c.files ?? {})) {
      writeFileSync(path.join(dir, attemptDir, name), content);
      evidence.push(`${attemptDir}/${name}`);
    }
    // Steps: a few per cell, each 1 s apart; a failure fails the workload step.
    const start = t0 + i * 10;
    let t = start;
    const steps = verdict === null ? STEPS.slice(0, 3) : verdict === 'pass' || verdict === 'perf-regression' ? STEPS.slice(0, 7) : STEPS.slice(0, 6);
    journal.push(JSON.stringify({ type: 'attempt-begin', cell: id, attempt: 1, host: 'h1', slot: 1, at: iso(t) }));
    steps.forEach((step, k) => {
      const last = k === steps.length - 1;
      const ok = !(last && verdict !== 'pass' && verdict !== 'perf-regression' && verdict !== null);
      journal.push(JSON.stringify({ type: 'step-begin', cell: id, attempt: 1, step, at: iso(t) }));
      if (!(last && verdict === null)) {
        journal.push(JSON.stringify({ type: 'step-end', cell: id, attempt: 1, step, ms: 1000, ok, ...(ok ? {} : { detail: c.reason ?? 'failed' }), at: iso(t + 1000) }));
      }
      t += 1000;
    });
    if (verdict !== null) journal.push(JSON.stringify({ type: 'cell-end', cell: id, verdict, attempts: 1, decidedBy: 1, at: iso(t) }));
    const cell: SummaryJson['cells'][number] = {
      id,
      coords: co,
      verdict,
      attempts: 1,
      evidence,
      attemptLog: [{ attempt: 1, host: 'h1', slot: 1, verdict: verdict ?? 'running', ms: verdict === null ? null : t - start, ...(c.reason ? { reason: c.reason } : {}) }],
      ...(verdict === null ? { unfinished: 'interrupted' as const } : {}),
    };
    if (c.reason) cell.reason = c.reason;
    if (c.flaky) {
      cell.flaky = true;
      cell.flakyWhy = 'did not reproduce when the runner checked again';
    }
    if (c.crash) cell.crash = { kind: 'BUGCHECK', ...c.crash, ...(c.crash.bugcheck ? { bugcheck: { ...c.crash.bugcheck, codeHex: `0x${c.crash.bugcheck.code.toString(16).toUpperCase()}` } } : {}) };
    if (c.latency) cell.latency = c.latency;
    if (c.measurement) cell.measurement = c.measurement;
    cells.push(cell);
  });
  const matrix = { name: opts.matrix ?? 'synthetic', file: 'matrix/synthetic.yaml', totalCells: specs.length, cellsHash: 'synthetic' };
  const ended = iso(t0 + specs.length * 10 + 20_000);
  const product = cells.some((c) => c.verdict && ['product-crash', 'product-hang', 'verifier-violation', 'boot-failure', 'install-failure', 'perf-regression'].includes(c.verdict));
  const none = cells.some((c) => c.verdict === null || c.verdict === 'infra-error' || c.verdict === 'test-error');
  const outcome = product ? 'failed' : none ? 'inconclusive' : 'passed';
  const exitCode = product ? 1 : none ? 2 : 0;
  const head = JSON.stringify({ type: 'run-begin', runId, matrix, cells: ids, coords, options: { shard: null, hosts: ['h1'], policy: { maxInfraRetries: 2, quarantineAfter: 3, inconclusiveFraction: 0.34 } }, at: iso(t0) });
  writeFileSync(path.join(dir, 'journal.ndjson'), `${[head, ...journal, JSON.stringify({ type: 'run-end', outcome, exitCode, counts, at: ended })].join('\n')}\n`);
  const summary: SummaryJson = {
    run: { id: runId, matrix, started: iso(t0), ended, outcome, exitCode, stopped: null, counts, hosts: [{ name: 'h1', attempts: specs.length, infraErrors: counts['infra-error'] ?? 0 }], tools: { node: 'v20.0.0', fleetgate: '0.1.0', qemu: null }, resumes: 0, cleanup: [] },
    cells,
  };
  writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary));
  const runJson = {
    runId,
    matrix: { ...matrix, description: null, gate: opts.gate ?? null, filters: {} },
    shard: null,
    cells: coords,
    tools: { node: 'v20.0.0', fleetgate: '0.1.0', qemu: null },
    hosts: [{ name: 'h1', provider: 'qemu', reach: 'local', slots: 1 }],
    started: iso(t0),
    ended,
    resumes: [],
  };
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify(runJson));
  return ids;
}

/** `n` cells over releases × patch levels × drivers × verifiers with a mix of verdicts (deterministic). */
export function gridCells(n: number): SyntheticCell[] {
  const releases = ['win10-22h2', 'win11-23h2', 'win11-24h2', 'win11-25h2', 'server-2019', 'server-2022', 'server-2025'];
  const drivers = ['candidate', 'previous', 'candidate-debug'];
  const verifiers = ['standard', 'lowres', 'filter', 'none'];
  const workloads = [['file-storm'], ['build-like', 'process-churn'], ['av-scan']];
  const out: SyntheticCell[] = [];
  for (let i = 0; i < n; i++) {
    const r = i % releases.length;
    const ubr = 1000 + (Math.floor(i / releases.length) % 12) * 50;
    const pick = (i * 7919) % 1000;
    const verdict: Verdict = pick < 880 ? 'pass' : pick < 910 ? 'perf-regression' : pick < 935 ? 'infra-error' : pick < 955 ? 'product-crash' : pick < 965 ? 'product-hang' : pick < 975 ? 'verifier-violation' : pick < 980 ? 'boot-failure' : pick < 990 ? 'test-error' : 'skipped';
    const ops = ['create', 'open', 'read', 'write', 'enumerate', 'delete'];
    const latency: Record<string, OperationLatency> = {};
    for (const [k, op] of ops.entries()) {
      const base = 100 + k * 50;
      const slow = verdict === 'perf-regression' ? 3 : 1.1;
      latency[op] = { p50Us: base * slow, p99Us: base * 10 * slow, baselineP50Us: base, baselineP99Us: base * 10, change: verdict === 'perf-regression' ? 'regressed' : 'no-change', overheadP50Us: base * (slow - 1), overheadP99Us: base * 10 * (slow - 1) };
    }
    const crashy = verdict === 'product-crash' || verdict === 'product-hang' || verdict === 'verifier-violation';
    out.push({
      release: releases[r]!,
      build: 19045 + r * 1000,
      ubr,
      driver: drivers[Math.floor(i / 84) % drivers.length]!,
      verifier: verifiers[Math.floor(i / 7) % verifiers.length]!,
      workloads: workloads[Math.floor(i / 28) % workloads.length]!,
      repeat: 1 + Math.floor(i / 252),
      tags: ['synthetic'],
      verdict,
      ...(verdict !== 'pass' ? { reason: `${verdict} in cell ${i}` } : {}),
      ...(crashy
        ? { crash: { title: `0x50 PAGE_FAULT_IN_NONPAGED_AREA fgfilter!Op${i % 17}`, bucket: `win:0x50:fgfilter!Op${i % 17}`, attribution: i % 5 === 0 ? 'unknown' : 'ours', bugcheck: { code: 0x50, name: 'PAGE_FAULT_IN_NONPAGED_AREA', params: ['0x0', '0x0', '0x0', '0x0'] }, module: 'fgfilter' } }
        : {}),
      latency,
    });
  }
  return out;
}
