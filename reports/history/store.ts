// Run history in SQLite (better-sqlite3): which runs happened, every cell's verdict and latency, and
// when each crash bucket was first seen, so a report can say whether a crash is new, and the
// nightly view can say at which patch level a cell's result changed. Importing a run is idempotent:
// the run's rows are replaced as a whole in one transaction, keyed by run id.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { ReportCell, RunFolder } from '../run-folder.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** FLEETGATE_HISTORY, else <repo>/.cache/history.sqlite. */
export function defaultHistoryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLEETGATE_HISTORY || path.join(REPO, '.cache', 'history.sqlite');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  matrix TEXT NOT NULL,
  started TEXT,
  ended TEXT,
  outcome TEXT NOT NULL,
  exit_code INTEGER,
  cells INTEGER NOT NULL,
  counts TEXT NOT NULL,
  dir TEXT NOT NULL,
  imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  cell_id TEXT NOT NULL,
  release TEXT NOT NULL,
  patch_level TEXT,
  build INTEGER,
  ubr INTEGER,
  kb INTEGER,
  driver TEXT NOT NULL,
  verifier TEXT NOT NULL,
  workloads TEXT NOT NULL,
  coexist TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  tags TEXT NOT NULL,
  verdict TEXT NOT NULL,
  flaky INTEGER NOT NULL,
  bucket TEXT,
  crash_title TEXT,
  attribution TEXT,
  reason TEXT,
  PRIMARY KEY (run_id, cell_id)
);
CREATE INDEX IF NOT EXISTS cells_by_cell ON cells(cell_id);
CREATE INDEX IF NOT EXISTS cells_by_bucket ON cells(bucket);
CREATE TABLE IF NOT EXISTS latency (
  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
  cell_id TEXT NOT NULL,
  op TEXT NOT NULL,
  p50_us REAL NOT NULL,
  p99_us REAL NOT NULL,
  baseline_p50_us REAL,
  baseline_p99_us REAL,
  PRIMARY KEY (run_id, cell_id, op)
);
CREATE TABLE IF NOT EXISTS buckets (
  bucket TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  first_run_id TEXT NOT NULL,
  first_seen TEXT NOT NULL
);
`;

export interface HistoryRun {
  runId: string;
  matrix: string;
  started: string | null;
  outcome: string;
  exitCode: number | null;
  cells: number;
  counts: Record<string, number>;
  dir: string;
}

export interface BucketStatus {
  bucket: string;
  title: string;
  status: 'new' | 'known';
  firstRunId: string;
  firstSeen: string;
  cells: number;
}

export interface NightlyChange {
  release: string;
  /** driver / verifier / workloads / coexist / repeat: every coordinate but the patch level. */
  key: { driver: string; verifier: string; workloads: string; coexist: string; repeat: number };
  previousPatch: string;
  patch: string;
  previousVerdict: string;
  verdict: string;
  runId: string;
}

export interface ImportResult {
  runId: string;
  /** False when the run was already in the history (its rows were replaced, nothing added). */
  added: boolean;
  cells: number;
  buckets: BucketStatus[];
}

const startedOf = (f: RunFolder): string => f.started ?? new Date(0).toISOString();

/** Patch levels sort by build then UBR as numbers (`26100.10` after `26100.9`). */
export function comparePatch(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return a.localeCompare(b);
}

export class HistoryStore {
  readonly file: string;
  readonly db: Database.Database;

  constructor(file: string = defaultHistoryPath()) {
    this.file = file;
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Imports a run; the same run again replaces its rows (no duplicates). */
  importRun(f: RunFolder): ImportResult {
    const db = this.db;
    const existed = db.prepare('SELECT 1 FROM runs WHERE run_id = ?').get(f.runId) !== undefined;
    const counts: Record<string, number> = {};
    for (const c of f.cells) counts[c.verdict] = (counts[c.verdict] ?? 0) + 1;
    const insCell = db.prepare(
      `INSERT INTO cells (run_id, cell_id, release, patch_level, build, ubr, kb, driver, verifier, workloads, coexist, repeat, tags, verdict, flaky, bucket, crash_title, attribution, reason)
       VALUES (@run_id, @cell_id, @release, @patch_level, @build, @ubr, @kb, @driver, @verifier, @workloads, @coexist, @repeat, @tags, @verdict, @flaky, @bucket, @crash_title, @attribution, @reason)`,
    );
    const insLat = db.prepare('INSERT INTO latency (run_id, cell_id, op, p50_us, p99_us, baseline_p50_us, baseline_p99_us) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const upBucket = db.prepare(
      `INSERT INTO buckets (bucket, title, first_run_id, first_seen) VALUES (@bucket, @title, @run, @seen)
       ON CONFLICT(bucket) DO UPDATE SET first_run_id = excluded.first_run_id, first_seen = excluded.first_seen, title = excluded.title
       WHERE excluded.first_seen < buckets.first_seen`,
    );
    const tx = db.transaction(() => {
      // ON DELETE CASCADE drops the run's cells and latency rows.
      db.prepare('DELETE FROM runs WHERE run_id = ?').run(f.runId);
      db.prepare('INSERT INTO runs (run_id, matrix, started, ended, outcome, exit_code, cells, counts, dir, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        f.runId,
        f.matrixName,
        f.started,
        f.ended,
        f.outcome,
        f.exitCode,
        f.cells.length,
        JSON.stringify(counts),
        f.dir,
        new Date().toISOString(),
      );
      for (const c of f.cells) {
        insCell.run(cellRow(f.runId, c));
        for (const [op, l] of Object.entries(c.latency ?? {})) insLat.run(f.runId, c.id, op, l.p50Us, l.p99Us, l.baselineP50Us ?? null, l.baselineP99Us ?? null);
        if (c.crash) upBucket.run({ bucket: c.crash.bucket, title: c.crash.title, run: f.runId, seen: startedOf(f) });
      }
    });
    tx();
    return { runId: f.runId, added: !existed, cells: f.cells.length, buckets: this.bucketsOfRun(f.runId) };
  }

  runs(opts: { limit?: number; matrix?: string } = {}): HistoryRun[] {
    const rows = this.db
      .prepare(`SELECT * FROM runs ${opts.matrix ? 'WHERE matrix = @matrix' : ''} ORDER BY started DESC, run_id DESC LIMIT @limit`)
      .all({ limit: opts.limit ?? 50, ...(opts.matrix ? { matrix: opts.matrix } : {}) }) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      runId: String(r.run_id),
      matrix: String(r.matrix),
      started: (r.started as string | null) ?? null,
      outcome: String(r.outcome),
      exitCode: (r.exit_code as number | null) ?? null,
      cells: Number(r.cells),
      counts: JSON.parse(String(r.counts)) as Record<string, number>,
      dir: String(r.dir),
    }));
  }

  /**
   * The crash buckets a run hit, each `new` (no run that started earlier hit it) or `known`. Judged
   * by start time, not import order, so importing old runs late does not turn known crashes new.
   */
  bucketsOfRun(runId: string): BucketStatus[] {
    const rows = this.db
      .prepare(
        `SELECT c.bucket AS bucket, b.title AS title, b.first_run_id AS first_run, b.first_seen AS first_seen, COUNT(*) AS n,
                EXISTS (SELECT 1 FROM cells c2 JOIN runs r2 ON r2.run_id = c2.run_id
                        WHERE c2.bucket = c.bucket AND c2.run_id <> c.run_id
                          AND (r2.started < r.started OR (r2.started = r.started AND r2.run_id < r.run_id))) AS seen_before
         FROM cells c JOIN runs r ON r.run_id = c.run_id JOIN buckets b ON b.bucket = c.bucket
         WHERE c.run_id = ? AND c.bucket IS NOT NULL GROUP BY c.bucket ORDER BY n DESC, c.bucket`,
      )
      .all(runId) as Array<{ bucket: string; title: string; first_run: string; first_seen: string; n: number; seen_before: number }>;
    return rows.map((r) => ({ bucket: r.bucket, title: r.title, status: r.seen_before ? 'known' : 'new', firstRunId: r.first_run, firstSeen: r.first_seen, cells: r.n }));
  }

  /** A cell's verdict and p50 per operation over its last runs, newest first. */
  cellTrend(cellId: string, limit = 20): Array<{ runId: string; started: string | null; verdict: string; p50: Record<string, number> }> {
    const rows = this.db
      .prepare('SELECT c.run_id, r.started, c.verdict FROM cells c JOIN runs r ON r.run_id = c.run_id WHERE c.cell_id = ? ORDER BY r.started DESC LIMIT ?')
      .all(cellId, limit) as Array<{ run_id: string; started: string | null; verdict: string }>;
    const lat = this.db.prepare('SELECT op, p50_us FROM latency WHERE run_id = ? AND cell_id = ?');
    return rows.map((r) => ({
      runId: r.run_id,
      started: r.started,
      verdict: r.verdict,
      p50: Object.fromEntries((lat.all(r.run_id, cellId) as Array<{ op: string; p50_us: number }>).map((l) => [l.op, l.p50_us])),
    }));
  }

  /**
   * The nightly view: for each release and each cell key (every coordinate but the patch level),
   * the first patch level whose verdict differs from the level before it (patch N against N−1).
   * Each (release, patch, key) takes its newest result in the history (or in `matrix`'s runs).
   */
  nightly(opts: { matrix?: string } = {}): NightlyChange[] {
    const rows = this.db
      .prepare(
        `SELECT c.release, c.patch_level, c.driver, c.verifier, c.workloads, c.coexist, c.repeat, c.verdict, c.run_id, r.started
         FROM cells c JOIN runs r ON r.run_id = c.run_id
         WHERE c.patch_level IS NOT NULL ${opts.matrix ? 'AND r.matrix = @matrix' : ''}
         ORDER BY r.started ASC, r.run_id ASC`,
      )
      .all(opts.matrix ? { matrix: opts.matrix } : {}) as Array<{
      release: string;
      patch_level: string;
      driver: string;
      verifier: string;
      workloads: string;
      coexist: string;
      repeat: number;
      verdict: string;
      run_id: string;
    }>;
    // Newest result wins: rows come oldest first, later rows overwrite.
    const latest = new Map<string, Map<string, { verdict: string; runId: string }>>();
    const keys = new Map<string, { release: string; key: NightlyChange['key'] }>();
    for (const r of rows) {
      const key = { driver: r.driver, verifier: r.verifier, workloads: r.workloads, coexist: r.coexist, repeat: r.repeat };
      const k = JSON.stringify([r.release, key]);
      keys.set(k, { release: r.release, key });
      let byPatch = latest.get(k);
      if (!byPatch) latest.set(k, (byPatch = new Map()));
      byPatch.set(r.patch_level, { verdict: r.verdict, runId: r.run_id });
    }
    const out: NightlyChange[] = [];
    for (const [k, byPatch] of latest) {
      const patches = [...byPatch.keys()].sort(comparePatch);
      for (let i = 1; i < patches.length; i++) {
        const prev = byPatch.get(patches[i - 1]!)!;
        const cur = byPatch.get(patches[i]!)!;
        if (prev.verdict !== cur.verdict) {
          const { release, key } = keys.get(k)!;
          out.push({ release, key, previousPatch: patches[i - 1]!, patch: patches[i]!, previousVerdict: prev.verdict, verdict: cur.verdict, runId: cur.runId });
          break;
        }
      }
    }
    return out.sort((a, b) => a.release.localeCompare(b.release) || comparePatch(a.patch, b.patch));
  }
}

function cellRow(runId: string, c: ReportCell): Record<string, unknown> {
  const k = c.coords;
  return {
    run_id: runId,
    cell_id: c.id,
    release: k.release,
    patch_level: k.patchLevel,
    build: k.build,
    ubr: k.ubr,
    kb: k.kb,
    driver: k.driver,
    verifier: k.verifier,
    workloads: k.workloads.join('+'),
    coexist: k.coexist.join('+'),
    repeat: k.repeat,
    tags: k.tags.join(','),
    verdict: c.verdict,
    flaky: c.flaky ? 1 : 0,
    bucket: c.crash?.bucket ?? null,
    crash_title: c.crash?.title ?? null,
    attribution: c.crash?.attribution ?? null,
    reason: c.reason ?? null,
  };
}
