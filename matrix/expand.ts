// Expansion of a matrix file into cells: the cross product of its axes, less `exclude` rules, plus
// `include` entries, each cell with a stable id. Pure: reads nothing but the catalog it is given and,
// to check them, the paths the matrix names.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import type { SourcePlace } from '../lib/errors.ts';
import { errorAt, placeOf, type PathSegment, type SourceDoc } from '../lib/source-doc.ts';
import { VERIFIER_PROFILE_NAMES } from '../driver/verifier/profiles.ts';
import { BUILTIN_WORKLOAD_NAMES } from '../workloads/builtin.ts';
import { loadWorkload } from '../workloads/spec.ts';
import { LAB_RELEASE, servicingWarning, type Catalog, type PatchLevel } from './catalog/catalog.ts';
import { cellId } from './cell-id.ts';
import { parseLatest, PatchSelectionError, selectPatchLevels, type PatchSelector } from './patch.ts';
import type { RawInclude, RawMatrix, RawOs, RawPatch, RawRule, RawSet } from './schema.ts';

export interface CellOs {
  release: string;
  family: 'client' | 'server' | 'lab';
  build: number | null;
  ubr: number | null;
  kb: number | null;
  month: string | null;
  /** `build.UBR`, or null for the lab (its level is whatever its image has). */
  patchLevel: string | null;
}

export interface DriverBuild {
  name: string;
  /** Absolute path to the driver package folder. */
  path: string;
  upgradeFrom: { name: string; path: string } | null;
  /** Settings at install (lab: module parameters; Windows: service parameters). */
  params: Record<string, string | number>;
}

export interface InjectedFault {
  kind: 'kill-vm';
  at: 'acquire' | 'identity' | 'baseline' | 'install' | 'workload';
  attempts: number[];
}

export interface Cell {
  id: string;
  os: CellOs;
  driver: string;
  driverBuild: DriverBuild;
  verifier: string;
  /** Workload names as the matrix wrote them (part of the id). */
  workloads: string[];
  /** The same, loadable from anywhere: built-in names stay, file paths become absolute. */
  workloadRefs: string[];
  coexist: string[];
  /** 1-based repeat index. */
  repeat: number;
  tags: string[];
  /** Faults the matrix injects into this cell's attempts (never part of its id). */
  faults: InjectedFault[];
  /** The matrix's `filterDelays`, on Windows cells (never part of the id: it adds a run, it changes no measured one). */
  filterDelays?: FilterDelaysCapture;
}

/** Record the filter stack's callback times in one more driver run (Windows: WPR, then wpaexporter). */
export interface FilterDelaysCapture {
  /** The .wpaProfile on this machine (absolute); sent to the guest. */
  wpaProfile: string;
  /** wpaexporter.exe on the guest (a Windows path); absent: the Windows Performance Toolkit's folder. */
  exporter?: string;
}

export interface PlanWarning {
  place: SourcePlace;
  message: string;
}

export interface Plan {
  file: string;
  name: string;
  description?: string;
  /** Absolute path of the gate policy the matrix refers to, if any. */
  gate?: string;
  filters: Record<string, { path: string; vendor?: string; altitude?: string }>;
  cells: Cell[];
  warnings: PlanWarning[];
}

export interface ExpandOptions {
  catalog: Catalog;
  /** YYYY-MM-DD, for end-of-servicing warnings. */
  today: string;
  /** Refuse a matrix whose cells could number more than this (default MATRIX_MAX_CELLS; `--max-cells`). */
  maxCells?: number;
}

/**
 * The most cells a matrix may expand to unless `--max-cells` raises it. Each cell is a VM booted with
 * a driver installed and a workload run: minutes each, so 10,000 cells is already weeks of one host's
 * time, far beyond any matrix we run (the release gate is under 100), while 10,000 cells in memory
 * are a few MB. Past it a matrix is much more likely a mistake (or hostile) than a plan; without the
 * bound a 8.5 KB file asked for 76.8M cells and the process died at 4.7 GB (issue #16 row 3).
 */
export const MATRIX_MAX_CELLS = 10_000;

const fmtCount = (n: number): string => n.toLocaleString('en-US');

interface OsChoice {
  os: CellOs;
  path: PathSegment[];
}

const setKey = (s: readonly string[]): string => [...s].sort().join('\u0000');
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const asSet = (v: RawSet): string[] => (Array.isArray(v) ? v : [v]);

function suggest(name: string, known: readonly string[]): string {
  if (known.length === 0) return '';
  const near = closest(name, [...known]);
  return `; did you mean "${near}"? Known: ${known.join(', ')}`;
}

/** Reads the exact text of a YAML scalar (so `26100.8450` is not read back as the float 26100.845). */
function scalarText(src: SourceDoc, path: PathSegment[], value: string | number): string {
  if (typeof value === 'string') return value;
  const node = src.doc.getIn(path, true) as { source?: string } | undefined;
  return node?.source ?? String(value);
}

export function expandMatrix(src: SourceDoc, raw: RawMatrix, opts: ExpandOptions): Plan {
  const warnings: PlanWarning[] = [];
  const warn = (path: PathSegment[], message: string): void => {
    warnings.push({ place: placeOf(src, path), message });
  };
  const baseDir = dirname(resolve(src.file));
  const releaseNames = [LAB_RELEASE, ...opts.catalog.releases.map((r) => r.name)];
  const warnedEos = new Set<string>();

  // ---- os: each entry and its patch selector become patch levels
  const selectorOf = (p: RawPatch | undefined, path: PathSegment[]): PatchSelector => {
    if (p === undefined) return { kind: 'latest', previous: 0 };
    if (typeof p === 'string') return parseLatest(p);
    if ('since' in p) return { kind: 'since', month: p.since };
    if ('month' in p) return { kind: 'month', months: asList(p.month) };
    if ('kb' in p) return { kind: 'kb', kbs: asList(p.kb) };
    const list = asList(p.ubr);
    return {
      kind: 'ubr',
      levels: list.map((v, i) => scalarText(src, Array.isArray(p.ubr) ? [...path, 'ubr', i] : [...path, 'ubr'], v)),
    };
  };

  const resolveOs = (entry: RawOs, path: PathSegment[]): OsChoice[] => {
    const release = typeof entry === 'string' ? entry : entry.release;
    const patch = typeof entry === 'string' ? undefined : entry.patch;
    const relPath = typeof entry === 'string' ? path : [...path, 'release'];
    if (release === LAB_RELEASE) {
      if (patch !== undefined && patch !== 'latest') {
        throw errorAt(src, [...path, 'patch'], 'the lab guest has no patch levels; expected no patch selector (or latest)');
      }
      return [{ os: { release, family: 'lab', build: null, ubr: null, kb: null, month: null, patchLevel: null }, path }];
    }
    const rel = opts.catalog.byName.get(release);
    if (!rel) throw errorAt(src, relPath, `unknown release "${release}"${suggest(release, releaseNames)}`);
    const eos = servicingWarning(rel, opts.today);
    if (eos && !warnedEos.has(rel.name)) {
      warnedEos.add(rel.name);
      warn(relPath, eos);
    }
    const selPath = [...path, 'patch'];
    let levels: PatchLevel[];
    try {
      const sel = selectPatchLevels(rel, selectorOf(patch, selPath));
      for (const w of sel.warnings) warn(selPath, w);
      levels = sel.levels;
    } catch (err) {
      if (err instanceof PatchSelectionError) throw errorAt(src, selPath, err.message);
      throw err;
    }
    return levels.map((l) => ({
      os: { release: rel.name, family: rel.family, build: l.build, ubr: l.ubr, kb: l.kb, month: l.month, patchLevel: `${l.build}.${l.ubr}` },
      path,
    }));
  };

  const osChoices: OsChoice[] = [];
  const seenLevels = new Set<string>();
  raw.axes.os.forEach((entry, i) => {
    for (const c of resolveOs(entry, ['axes', 'os', i])) {
      const key = `${c.os.release}@${c.os.patchLevel}`;
      if (seenLevels.has(key)) {
        warn(['axes', 'os', i], `${c.os.release} ${c.os.patchLevel ?? ''} is selected twice; counted once`.replace('  ', ' '));
        continue;
      }
      seenLevels.add(key);
      osChoices.push(c);
    }
  });

  // ---- drivers
  const drivers = new Map<string, DriverBuild>();
  raw.axes.driver.forEach((d, i) => {
    if (drivers.has(d.name)) throw errorAt(src, ['axes', 'driver', i, 'name'], `driver build "${d.name}" is listed twice`);
    const path = resolve(baseDir, d.path);
    if (!existsSync(path)) warn(['axes', 'driver', i, 'path'], `driver package folder ${d.path} does not exist (resolved to ${path})`);
    drivers.set(d.name, { name: d.name, path, upgradeFrom: null, params: d.params ?? {} });
  });
  raw.axes.driver.forEach((d, i) => {
    const up = d['upgrade-from'];
    if (up === undefined) return;
    const at: PathSegment[] = ['axes', 'driver', i, 'upgrade-from'];
    if (typeof up === 'string') {
      const from = drivers.get(up);
      if (!from || up === d.name) {
        throw errorAt(src, at, `upgrade-from "${up}" must name another driver build of this matrix${suggest(up, [...drivers.keys()].filter((n) => n !== d.name))}`);
      }
      drivers.get(d.name)!.upgradeFrom = { name: from.name, path: from.path };
    } else {
      drivers.get(d.name)!.upgradeFrom = { name: up.name, path: resolve(baseDir, up.path) };
    }
  });

  // ---- names checked against what exists
  const filters = raw.filters ?? {};
  const filterNames = Object.keys(filters);
  const checkVerifier = (v: string, path: PathSegment[]): string => {
    if (!(VERIFIER_PROFILE_NAMES as readonly string[]).includes(v)) {
      throw errorAt(src, path, `unknown verifier profile "${v}"${suggest(v, VERIFIER_PROFILE_NAMES)}`);
    }
    return v;
  };
  const checkedWorkloads = new Set<string>();
  const checkWorkload = (w: string, path: PathSegment[]): string => {
    if ((BUILTIN_WORKLOAD_NAMES as readonly string[]).includes(w)) return w;
    if (/\.ya?ml$/.test(w)) {
      if (!existsSync(resolve(baseDir, w))) throw errorAt(src, path, `workload file ${w} does not exist (resolved to ${resolve(baseDir, w)})`);
      // Read and checked now, so a bad workload stops the plan before any VM is started; its own
      // error names the workload file's line and column.
      if (!checkedWorkloads.has(w)) {
        loadWorkload(w, { baseDir });
        checkedWorkloads.add(w);
      }
      return w;
    }
    throw errorAt(src, path, `unknown workload "${w}"; expected a built-in workload or a path to a .yaml workload file${suggest(w, BUILTIN_WORKLOAD_NAMES)}`);
  };
  const checkFilter = (f: string, path: PathSegment[]): string => {
    if (!filterNames.includes(f)) {
      throw errorAt(src, path, `unknown filter "${f}": coexisting filters must be declared under filters:${filterNames.length ? suggest(f, filterNames) : ' (none are)'}`);
    }
    return f;
  };
  const setAt = (v: RawSet, path: PathSegment[], check: (n: string, p: PathSegment[]) => string): string[] =>
    Array.isArray(v) ? v.map((n, i) => check(n, [...path, i])) : [check(v, path)];

  const verifiers = (raw.axes.verifier ?? ['none']).map((v, i) => checkVerifier(v, ['axes', 'verifier', i]));
  const workloadSets = (raw.axes.workloads ?? [['file-storm']]).map((w, i) => setAt(w, ['axes', 'workloads', i], checkWorkload));
  const coexistSets = (raw.axes.coexist ?? [[]]).map((c, i) => setAt(c, ['axes', 'coexist', i], checkFilter));
  const repeat = raw.axes.repeat ?? 1;
  for (const [name, f] of Object.entries(filters)) {
    if (!existsSync(resolve(baseDir, f.path))) warn(['filters', name, 'path'], `filter package folder ${f.path} does not exist`);
  }

  // ---- exclude rules, checked against the axis values so a typo is an error, not a silent no-op
  const rules = (raw.exclude ?? []).map((r, i) => compileRule(src, r, ['exclude', i], {
    releases: releaseNames,
    drivers: [...drivers.keys()],
    verifiers: VERIFIER_PROFILE_NAMES,
    checkWorkload,
    checkFilter,
  }));
  const removedBy = rules.map(() => 0);

  // ---- include entries resolved before any cell is made, so the count below covers them: axes an
  // entry does not name take every value of that axis
  const includes = (raw.include ?? []).map((inc: RawInclude, i) => {
    const at: PathSegment[] = ['include', i];
    const incOs = inc.os === undefined ? osChoices : asList(inc.os).flatMap((e, j) => resolveOs(e, Array.isArray(inc.os) ? [...at, 'os', j] : [...at, 'os']));
    const incDrivers = inc.driver === undefined ? [...drivers.values()] : asList(inc.driver).map((n, j) => {
      const d = drivers.get(n);
      if (!d) throw errorAt(src, Array.isArray(inc.driver) ? [...at, 'driver', j] : [...at, 'driver'], `unknown driver build "${n}"${suggest(n, [...drivers.keys()])}`);
      return d;
    });
    const incVerifiers = inc.verifier === undefined ? verifiers : asList(inc.verifier).map((v, j) => checkVerifier(v, Array.isArray(inc.verifier) ? [...at, 'verifier', j] : [...at, 'verifier']));
    const incWorkloads = inc.workloads === undefined ? workloadSets : [setAt(inc.workloads, [...at, 'workloads'], checkWorkload)];
    const incCoexist = inc.coexist === undefined ? coexistSets : [setAt(inc.coexist, [...at, 'coexist'], checkFilter)];
    return { inc, at, i, incOs, incDrivers, incVerifiers, incWorkloads, incCoexist };
  });

  // ---- the count, before any cell is made (issue #16 row 3): the cross product plus every include's
  // own product. An upper bound: exclude rules and cells named twice only make it smaller.
  const product = (sizes: Array<[string, number]>): { n: number; text: string } => {
    const n = sizes.reduce((a, [, k]) => a * k, 1);
    return { n, text: `${sizes.map(([axis, k]) => `${axis} ${fmtCount(k)}`).join(' x ')} = ${fmtCount(n)}` };
  };
  const mainCount = product([['os', osChoices.length], ['driver', drivers.size], ['verifier', verifiers.length], ['workloads', workloadSets.length], ['coexist', coexistSets.length], ['repeat', repeat]]);
  const incCounts = includes.map((x) => ({ i: x.i, ...product([['os', x.incOs.length], ['driver', x.incDrivers.length], ['verifier', x.incVerifiers.length], ['workloads', x.incWorkloads.length], ['coexist', x.incCoexist.length], ['repeat', repeat]]) }));
  const bound = mainCount.n + incCounts.reduce((a, c) => a + c.n, 0);
  const maxCells = opts.maxCells ?? MATRIX_MAX_CELLS;
  if (bound > maxCells) {
    // Name the includes that count most (a matrix may have thousands of them).
    const shown = [...incCounts].sort((a, b) => b.n - a.n).slice(0, 5);
    const incText = incCounts.length === 0 ? '' : ` + ${shown.map((c) => `include[${c.i}] ${c.text}`).join(' + ')}${incCounts.length > shown.length ? ` + ${incCounts.length - shown.length} more include entries` : ''}`;
    const total = incCounts.length === 0 ? `${mainCount.text} ${mainCount.n === 1 ? 'cell' : 'cells'}` : `${mainCount.text} ${mainCount.n === 1 ? 'cell' : 'cells'}${incText}: ${fmtCount(bound)} cells at most (before exclude rules and duplicates)`;
    const limit = opts.maxCells === undefined ? `MATRIX_MAX_CELLS (${fmtCount(maxCells)})` : `the --max-cells limit (${fmtCount(maxCells)})`;
    throw errorAt(src, ['axes'], `the matrix expands to ${total}; more than ${limit}; pass --max-cells N to raise it`);
  }

  const baseTags = raw.tags ?? [];
  const cells: Cell[] = [];
  const byId = new Map<string, Cell>();
  const makeCell = (os: CellOs, driver: DriverBuild, verifier: string, workloads: string[], coexist: string[], rep: number, tags: string[]): Cell => {
    const id = cellId({ os, driver: driver.name, upgradeFrom: driver.upgradeFrom?.name ?? null, verifier, workloads, coexist, repeat: rep });
    const workloadRefs = workloads.map((w) => (/\.ya?ml$/.test(w) ? resolve(baseDir, w) : w));
    return { id, os, driver: driver.name, driverBuild: driver, verifier, workloads, workloadRefs, coexist, repeat: rep, tags, faults: [] };
  };

  let total = 0;
  for (const o of osChoices) {
    for (const driver of drivers.values()) {
      for (const verifier of verifiers) {
        for (const workloads of workloadSets) {
          for (const coexist of coexistSets) {
            for (let rep = 1; rep <= repeat; rep++) {
              total++;
              const cell = makeCell(o.os, driver, verifier, workloads, coexist, rep, baseTags);
              const hit = rules.findIndex((rule) => rule(cell));
              if (hit >= 0) {
                removedBy[hit]!++;
                continue;
              }
              cells.push(cell);
              byId.set(cell.id, cell);
            }
          }
        }
      }
    }
  }
  removedBy.forEach((n, i) => {
    if (n === 0) warn(['exclude', i], `exclude[${i}] matches no cell`);
  });

  // ---- include entries: axes they do not name take every value of that axis
  // Tags an include adds to a cell already there, as a set per cell: re-spreading the cell's list for
  // every include made 20k includes quadratic (issue #16 row 12).
  const tagSets = new Map<Cell, Set<string>>();
  for (const { inc, at, i, incOs, incDrivers, incVerifiers, incWorkloads, incCoexist } of includes) {
    const tags = [...new Set([...baseTags, ...(inc.tags ?? [])])];
    let added = 0;
    for (const o of incOs) for (const d of incDrivers) for (const v of incVerifiers) for (const w of incWorkloads) for (const c of incCoexist) {
      for (let rep = 1; rep <= repeat; rep++) {
        const cell = makeCell(o.os, d, v, w, c, rep, tags);
        const existing = byId.get(cell.id);
        if (existing) {
          let set = tagSets.get(existing);
          if (!set) tagSets.set(existing, (set = new Set(existing.tags)));
          for (const tag of tags) set.add(tag);
          continue;
        }
        cells.push(cell);
        byId.set(cell.id, cell);
        added++;
      }
    }
    if (added === 0 && !inc.tags?.length) warn(at, `include[${i}] adds no cell: every cell it names is already in the matrix`);
  }
  for (const [cell, set] of tagSets) cell.tags = [...set];

  // ---- faults: matched like exclude rules, applied to the final cells
  (raw.faults ?? []).forEach((f, i) => {
    const match = compileRule(src, f.match, ['faults', i, 'match'], {
      releases: releaseNames,
      drivers: [...drivers.keys()],
      verifiers: VERIFIER_PROFILE_NAMES,
      checkWorkload,
      checkFilter,
    });
    let hits = 0;
    for (const c of cells) {
      if (!match(c)) continue;
      c.faults.push({ kind: f.kind, at: f.at, attempts: f.attempts ?? [1] });
      hits++;
    }
    if (hits === 0) warn(['faults', i], `faults[${i}] matches no cell`);
  });

  if (raw.filterDelays !== undefined) {
    const wpaProfile = resolve(baseDir, raw.filterDelays.wpaProfile);
    if (!existsSync(wpaProfile)) throw errorAt(src, ['filterDelays', 'wpaProfile'], `no WPA profile at ${raw.filterDelays.wpaProfile} (resolved to ${wpaProfile}); expected the .wpaProfile that exports WPA's Mini-Filter Delays table`);
    const capture: FilterDelaysCapture = { wpaProfile, ...(raw.filterDelays.exporter !== undefined ? { exporter: raw.filterDelays.exporter } : {}) };
    const windows = cells.filter((c) => c.os.family !== 'lab');
    for (const c of windows) c.filterDelays = capture;
    if (windows.length === 0) warn(['filterDelays'], 'filterDelays applies to Windows cells and the matrix has none: the lab records no filter delays');
  }

  if (cells.length === 0) {
    const worst = removedBy.indexOf(Math.max(...removedBy));
    throw errorAt(src, worst >= 0 ? ['exclude', worst] : ['axes'], `the exclude rules remove every cell of the matrix (${total} of ${total}); exclude[${worst}] alone removed ${removedBy[worst] ?? 0}`);
  }

  const name = raw.name ?? src.file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  const plan: Plan = { file: src.file, name, filters, cells, warnings };
  if (raw.description !== undefined) plan.description = raw.description;
  if (raw.gate !== undefined) {
    plan.gate = resolve(baseDir, raw.gate);
    if (!existsSync(plan.gate)) warn(['gate'], `gate policy ${raw.gate} does not exist yet (resolved to ${plan.gate})`);
  }
  return plan;
}

interface RuleContext {
  releases: readonly string[];
  drivers: readonly string[];
  verifiers: readonly string[];
  checkWorkload: (w: string, p: PathSegment[]) => string;
  checkFilter: (f: string, p: PathSegment[]) => string;
}

/** Turns an exclude rule into a predicate; every value it names must exist. */
function compileRule(src: SourceDoc, rule: RawRule, at: PathSegment[], ctx: RuleContext): (c: Cell) => boolean {
  const listAt = <T>(key: keyof RawRule, v: T | T[] | undefined): Array<{ v: T; path: PathSegment[] }> =>
    asList(v).map((x, j) => ({ v: x, path: Array.isArray(v) ? [...at, key, j] : [...at, key] }));
  const known = (key: keyof RawRule, values: readonly string[], what: string) => {
    const out = new Set<string>();
    for (const { v, path } of listAt(key, rule[key] as string | string[] | undefined)) {
      if (!values.includes(v)) throw errorAt(src, path, `unknown ${what} "${v}" in exclude${suggest(v, values)}`);
      out.add(v);
    }
    return out.size ? out : null;
  };
  const os = known('os', ctx.releases, 'release');
  const driver = known('driver', ctx.drivers, 'driver build');
  const verifier = known('verifier', ctx.verifiers, 'verifier profile');
  const months = rule.month === undefined ? null : new Set(asList(rule.month));
  const kbs = rule.kb === undefined ? null : new Set(asList(rule.kb));
  const ubrs = rule.ubr === undefined ? null : new Set(listAt('ubr', rule.ubr).map(({ v, path }) => scalarText(src, path, v)));
  const repeats = rule.repeat === undefined ? null : new Set(asList(rule.repeat));
  const workloads = rule.workloads === undefined ? null : setKey(asSet(rule.workloads).map((w, j) => ctx.checkWorkload(w, Array.isArray(rule.workloads) ? [...at, 'workloads', j] : [...at, 'workloads'])));
  const coexist = rule.coexist === undefined ? null : setKey(asSet(rule.coexist).map((f, j) => ctx.checkFilter(f, Array.isArray(rule.coexist) ? [...at, 'coexist', j] : [...at, 'coexist'])));
  return (c) =>
    (!os || os.has(c.os.release)) &&
    (!driver || driver.has(c.driver)) &&
    (!verifier || verifier.has(c.verifier)) &&
    (!months || (c.os.month !== null && months.has(c.os.month))) &&
    (!kbs || (c.os.kb !== null && kbs.has(c.os.kb))) &&
    (!ubrs || (c.os.patchLevel !== null && ubrs.has(c.os.patchLevel))) &&
    (!repeats || repeats.has(c.repeat)) &&
    (workloads === null || setKey(c.workloads) === workloads) &&
    (coexist === null || setKey(c.coexist) === coexist);
}
