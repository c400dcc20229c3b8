// The release gate: a policy file (YAML, schema-checked with file:line:col errors) applied to a run
// folder, optionally against a previous run. The answer is the exit-code table every command uses:
// 0 pass, 1 a product failure (or a latency limit) broke the policy, 2 inconclusive (too many cells
// without a verdict), 64 a bad policy file. Every failed rule says which cells and why.
//
// Decisions (documented in reports/README.md):
// - Attribution: a crash, hang, verifier violation or boot failure fails the gate when it is
//   attributed to us OR its attribution is unknown/missing. A default-deny driver that sees every
//   file open must prove a crash is not its own; "unknown" is not proof. Crashes attributed to
//   Windows or another vendor are listed as warnings (they still need a human), not failures.
//   Policies can change this with `fail.attribution`.
// - Flaky failures fail like any other (DESIGN.md: a crash that does not repeat still fails).
// - A cell excluded by an allow entry is left out of every rule, the infrastructure count included.
// - Product failure beats inconclusive: infrastructure trouble never hides a found crash.
// - Latency limits judge the overhead's 95% interval, the comparison the cell's own verdict uses
//   (harness/cell/latency.ts): a limit is broken only when the whole interval lies above it, and an
//   interval straddling it is `latency-undecided`, whose effect is `latency.undecided` (default
//   inconclusive: a regression hidden in the noise must not pass by luck, nor fail a good build).
//   Steps recorded without an interval (runs from before it was kept) are judged by their point
//   figures, with a `latency-point-figures` warning.
import { compileSchema, errorAt, readSource, validateOrThrow, parseSource, type SourceDoc } from '../../lib/source-doc.ts';
import { PRODUCT_FAILURES, VERDICT_TABLE, VERDICTS, type OperationLatency, type Verdict } from '../../runfolder/results.ts';
import { cellTitle } from '../base.ts';
import type { ReportCell, RunFolder } from '../run-folder.ts';

export type Percentile = 'p50' | 'p99';
export type Attribution = 'ours' | 'unknown' | 'windows' | 'other-vendor';

export interface AllowEntry {
  cell?: string;
  driver?: string;
  tag?: string;
  bucket?: string;
  release?: string;
  reason: string;
  /** YYYY-MM-DD: the entry stops applying after this day (a known issue must not be allowed forever). */
  until?: string;
}

export interface OverheadLimit {
  /** An operation name, or `*` for every operation. */
  op: string;
  percentile: Percentile;
  /** With-driver minus the cell's own no-driver baseline, in µs. */
  maxOverheadUs?: number;
  /** (with-driver − baseline) / baseline; 0.25 = 25 % slower. */
  maxChange?: number;
}

/** What a latency interval straddling a limit does to the gate: exit 2, or shown only. */
export type UndecidedEffect = 'inconclusive' | 'warn';
export const UNDECIDED_EFFECTS: UndecidedEffect[] = ['inconclusive', 'warn'];

export interface GatePolicy {
  file: string;
  version: 1;
  name: string;
  description?: string;
  fail: { verdicts: Verdict[]; attribution: Attribution[] };
  allow: AllowEntry[];
  latency: {
    limits: OverheadLimit[];
    againstBaseline: { percentiles: Percentile[]; maxChange: number; minDeltaUs: number; ops?: string[] } | null;
    /** The effect of `latency-undecided` (an interval straddling a limit). */
    undecided: UndecidedEffect;
  };
  inconclusive: { maxInfraErrors: number | null; maxInfraFraction: number | null };
  /** Verdicts the table makes fail-unless-waived (latency-inconclusive) that this policy lets pass. */
  waive: Verdict[];
}

/** Verdicts a policy may waive: those whose gate meaning is fail-unless-waived. */
export const WAIVABLE: Verdict[] = VERDICTS.filter((v) => VERDICT_TABLE[v].gate === 'fail-unless-waived');

interface RawPolicy {
  version: 1;
  name?: string;
  description?: string;
  fail?: { verdicts?: Verdict[]; attribution?: Attribution[] };
  allow?: AllowEntry[];
  latency?: { limits?: OverheadLimit[]; undecided?: UndecidedEffect; againstBaseline?: { percentiles?: Percentile[]; maxChange: number; minDeltaUs?: number; ops?: string[] } };
  inconclusive?: { maxInfraErrors?: number; maxInfraFraction?: number };
  waive?: Verdict[];
}

const percentile = { type: 'string', enum: ['p50', 'p99'] };
const nonNeg = { type: 'number', minimum: 0 };
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { type: 'integer', enum: [1] },
    name: { type: 'string' },
    description: { type: 'string' },
    fail: {
      type: 'object',
      additionalProperties: false,
      properties: {
        verdicts: { type: 'array', items: { type: 'string', enum: [...PRODUCT_FAILURES] } },
        attribution: { type: 'array', items: { type: 'string', enum: ['ours', 'unknown', 'windows', 'other-vendor'] } },
      },
    },
    allow: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['reason'],
        properties: {
          cell: { type: 'string', minLength: 1 },
          driver: { type: 'string', minLength: 1 },
          tag: { type: 'string', minLength: 1 },
          bucket: { type: 'string', minLength: 1 },
          release: { type: 'string', minLength: 1 },
          reason: { type: 'string', minLength: 1 },
          until: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a day as YYYY-MM-DD' },
        },
      },
    },
    latency: {
      type: 'object',
      additionalProperties: false,
      properties: {
        limits: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'percentile'],
            properties: { op: { type: 'string', minLength: 1 }, percentile, maxOverheadUs: nonNeg, maxChange: nonNeg },
          },
        },
        undecided: { type: 'string', enum: [...UNDECIDED_EFFECTS] },
        againstBaseline: {
          type: 'object',
          additionalProperties: false,
          required: ['maxChange'],
          properties: { percentiles: { type: 'array', items: percentile, minItems: 1 }, maxChange: nonNeg, minDeltaUs: nonNeg, ops: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
    waive: { type: 'array', items: { type: 'string', enum: [...WAIVABLE] } },
    inconclusive: {
      type: 'object',
      additionalProperties: false,
      properties: { maxInfraErrors: { type: 'integer', minimum: 0 }, maxInfraFraction: { type: 'number', minimum: 0, maximum: 1 } },
    },
  },
};
const validate = compileSchema<RawPolicy>(schema);

export const DEFAULT_FAIL_VERDICTS: Verdict[] = [...PRODUCT_FAILURES];
export const DEFAULT_FAIL_ATTRIBUTION: Attribution[] = ['ours', 'unknown'];

export function parsePolicy(src: SourceDoc): GatePolicy {
  const raw = validateOrThrow(src, validate);
  (raw.allow ?? []).forEach((a, i) => {
    if (!a.cell && !a.driver && !a.tag && !a.bucket && !a.release) throw errorAt(src, ['allow', i], 'an allow entry needs at least one of cell, driver, tag, bucket, release (it would exclude every cell)');
    if (a.until && Number.isNaN(Date.parse(`${a.until}T00:00:00Z`))) throw errorAt(src, ['allow', i, 'until'], `allow[${i}].until is "${a.until}"; expected a real day as YYYY-MM-DD`);
  });
  (raw.latency?.limits ?? []).forEach((l, i) => {
    if (l.maxOverheadUs === undefined && l.maxChange === undefined) throw errorAt(src, ['latency', 'limits', i], `latency.limits[${i}] needs maxOverheadUs or maxChange`);
  });
  const ab = raw.latency?.againstBaseline;
  return {
    file: src.file,
    version: 1,
    name: raw.name ?? src.file,
    ...(raw.description ? { description: raw.description } : {}),
    fail: { verdicts: raw.fail?.verdicts ?? DEFAULT_FAIL_VERDICTS, attribution: raw.fail?.attribution ?? DEFAULT_FAIL_ATTRIBUTION },
    allow: raw.allow ?? [],
    latency: {
      limits: raw.latency?.limits ?? [],
      againstBaseline: ab ? { percentiles: ab.percentiles ?? ['p50', 'p99'], maxChange: ab.maxChange, minDeltaUs: ab.minDeltaUs ?? 0, ...(ab.ops ? { ops: ab.ops } : {}) } : null,
      undecided: raw.latency?.undecided ?? 'inconclusive',
    },
    inconclusive: { maxInfraErrors: raw.inconclusive?.maxInfraErrors ?? null, maxInfraFraction: raw.inconclusive?.maxInfraFraction ?? null },
    waive: raw.waive ?? [],
  };
}

export function loadPolicy(file: string): GatePolicy {
  return parsePolicy(readSource(file));
}

export function policyFromText(file: string, text: string): GatePolicy {
  return parsePolicy(parseSource(file, text));
}

// ---- evaluation ---------------------------------------------------------------------------------

export type GateOutcome = 'passed' | 'failed' | 'inconclusive';

export interface RuleFinding {
  cell: string;
  title: string;
  why: string;
}

export interface RuleResult {
  /** `product-failure`, `latency-overhead`, `latency-undecided`, `latency-point-figures`, `latency-baseline`, `infra-errors`, `not-ours`, `allow-expired`. */
  rule: string;
  /** What breaking it means: fail → exit 1, inconclusive → exit 2, warn → shown only. */
  effect: 'fail' | 'inconclusive' | 'warn';
  summary: string;
  findings: RuleFinding[];
}

export interface GateResult {
  policy: string;
  run: string;
  baseline: string | null;
  outcome: GateOutcome;
  exitCode: 0 | 1 | 2;
  cells: number;
  excluded: Array<{ cell: string; by: string }>;
  rules: RuleResult[];
}

export interface GateOptions {
  baseline?: RunFolder | null;
  /** "Today" for allow entries' `until` (tests pin it). */
  today?: Date;
}

function allowMatches(a: AllowEntry, c: ReportCell): boolean {
  if (a.cell !== undefined && a.cell !== c.id) return false;
  if (a.driver !== undefined && a.driver !== c.coords.driver) return false;
  if (a.tag !== undefined && !c.coords.tags.includes(a.tag)) return false;
  if (a.release !== undefined && a.release !== c.coords.release) return false;
  if (a.bucket !== undefined && a.bucket !== c.crash?.bucket) return false;
  return true;
}

function describeAllow(a: AllowEntry): string {
  const sel = (['cell', 'driver', 'tag', 'bucket', 'release'] as const).filter((k) => a[k] !== undefined).map((k) => `${k}=${a[k]}`);
  return `${sel.join(',')} (${a.reason})`;
}

const NO_VERDICT: ReadonlySet<string> = new Set(['infra-error', 'test-error', 'unfinished']);

function attributionOf(c: ReportCell): Attribution {
  const a = c.crash?.attribution;
  return a === 'ours' || a === 'windows' || a === 'other-vendor' ? a : 'unknown';
}

function pct(l: { p50Us: number; p99Us: number; baselineP50Us?: number; baselineP99Us?: number }, p: Percentile): { now: number; base: number | undefined } {
  return p === 'p50' ? { now: l.p50Us, base: l.baselineP50Us } : { now: l.p99Us, base: l.baselineP99Us };
}

/** The 95% interval of a step's overhead at a percentile, when the cell recorded it (the run-folder reader
 * has dropped malformed ones). */
function ciOf(l: OperationLatency, p: Percentile): [number, number] | undefined {
  return p === 'p50' ? l.overheadP50CiUs : l.overheadP99CiUs;
}

const us = (n: number): string => `${Math.round(n)} µs`;
const percent = (n: number): string => `${(n * 100).toFixed(1)} %`;
const signed = (n: number, unit: string): string => `${n >= 0 ? '+' : ''}${unit === ' %' ? (n * 100).toFixed(1) : Math.round(n)}${unit}`;
const bounds = (lo: number, hi: number, unit: string): string => (unit === ' %' ? `${(lo * 100).toFixed(1)}..${(hi * 100).toFixed(1)} %` : `${Math.round(lo)}..${Math.round(hi)} µs`);

type Outcome = 'within' | 'over' | 'undecided';
/** An interval against a limit: over only when its low end is above it, within when its high end is not. */
const against = (lo: number, hi: number, limit: number): Outcome => (lo > limit ? 'over' : hi <= limit ? 'within' : 'undecided');

/** One limit on one step by its interval: the parts (absolute, relative) that are over or undecided, in words. */
function judgeByInterval(lim: OverheadLimit, over: number, base: number, [lo, hi]: [number, number]): Array<{ outcome: Outcome; text: string }> {
  const parts: Array<{ outcome: Outcome; text: string }> = [];
  if (lim.maxOverheadUs !== undefined) {
    const outcome = against(lo, hi, lim.maxOverheadUs);
    parts.push({ outcome, text: `overhead ${signed(over, ' µs')} (95% ${bounds(lo, hi, ' µs')}) ${outcome === 'undecided' ? 'undecided at' : outcome} ${us(lim.maxOverheadUs)}` });
  }
  if (lim.maxChange !== undefined && base > 0) {
    // The relative part: the interval's ends relative to the cell's baseline figure.
    const outcome = against(lo / base, hi / base, lim.maxChange);
    parts.push({ outcome, text: `change ${signed(over / base, ' %')} (95% ${bounds(lo / base, hi / base, ' %')} of baseline ${us(base)}) ${outcome === 'undecided' ? 'undecided at' : outcome} ${percent(lim.maxChange)}` });
  }
  return parts;
}

export function evaluateGate(run: RunFolder, policy: GatePolicy, opts: GateOptions = {}): GateResult {
  const today = (opts.today ?? new Date()).toISOString().slice(0, 10);
  const rules: RuleResult[] = [];
  const excluded: GateResult['excluded'] = [];
  const active = policy.allow.filter((a) => !a.until || a.until >= today);
  const expired = policy.allow.filter((a) => a.until && a.until < today);

  const considered: ReportCell[] = [];
  for (const c of run.cells) {
    const by = active.find((a) => allowMatches(a, c));
    if (by) excluded.push({ cell: c.id, by: describeAllow(by) });
    else considered.push(c);
  }
  if (expired.length) {
    const hit = run.cells.filter((c) => expired.some((a) => allowMatches(a, c)));
    rules.push({
      rule: 'allow-expired',
      effect: 'warn',
      summary: `${expired.length} allow entr${expired.length === 1 ? 'y has' : 'ies have'} expired and no longer exclude cells: ${expired.map(describeAllow).join('; ')}`,
      findings: hit.map((c) => ({ cell: c.id, title: cellTitle(c.coords), why: 'would have been excluded by an expired allow entry' })),
    });
  }

  // Product failures attributed to us (or not attributable).
  const failing: RuleFinding[] = [];
  const notOurs: RuleFinding[] = [];
  for (const c of considered) {
    if (c.verdict === 'unfinished' || !policy.fail.verdicts.includes(c.verdict)) continue;
    const attr = attributionOf(c);
    const what = c.crash ? `${c.crash.title} [bucket ${c.crash.bucket}${c.crash.bugcheck ? `, bugcheck ${c.crash.bugcheck}` : ''}]` : (c.reason ?? '');
    const why = `${c.verdict}${c.flaky ? ' (flaky: still fails)' : ''}, attribution ${attr}${what ? `: ${what}` : ''}`;
    // Latency verdicts carry no attribution: the driver under test is what added the time.
    if (c.verdict === 'perf-regression' || policy.fail.attribution.includes(attr)) failing.push({ cell: c.id, title: cellTitle(c.coords), why });
    else notOurs.push({ cell: c.id, title: cellTitle(c.coords), why });
  }
  rules.push({
    rule: 'product-failure',
    effect: 'fail',
    summary: failing.length
      ? `${failing.length} cell(s) with a failing verdict (${policy.fail.verdicts.join(', ')}) attributed to ${policy.fail.attribution.join(' or ')}`
      : 'no product failure attributed to us',
    findings: failing,
  });
  // Verdicts that are no finding but must not pass silently (latency-inconclusive): fail unless waived.
  for (const v of WAIVABLE) {
    const cells = considered.filter((c) => c.verdict === v);
    if (!cells.length) continue;
    const waived = policy.waive.includes(v);
    rules.push({
      rule: v,
      effect: waived ? 'warn' : 'fail',
      summary: `${cells.length} cell(s) ${v}: ${VERDICT_TABLE[v].means}${waived ? ' (waived by the policy)' : '; the policy does not waive it (waive: [' + v + '])'}`,
      findings: cells.map((c) => ({ cell: c.id, title: cellTitle(c.coords), why: c.reason ?? v })),
    });
  }
  if (notOurs.length) rules.push({ rule: 'not-ours', effect: 'warn', summary: `${notOurs.length} failure(s) attributed to another party (not failing the gate; look at them)`, findings: notOurs });

  // Both latency rules below put a straddled limit in `undecided`, and what they judged by point
  // figures in `pointOnly`.
  const undecided: RuleFinding[] = [];
  const pointOnly = new Map<string, { title: string; labels: string[] }>();
  const byPoint = (c: ReportCell, label: string) => {
    const e = pointOnly.get(c.id) ?? { title: cellTitle(c.coords), labels: [] };
    if (!e.labels.includes(label)) e.labels.push(label);
    pointOnly.set(c.id, e);
  };
  // Latency: absolute overhead and relative change against each cell's own no-driver baseline, by the
  // overhead's interval where the cell recorded one, else by the point figures (with a warning).
  if (policy.latency.limits.length) {
    const found: RuleFinding[] = [];
    for (const c of considered) {
      for (const [op, l] of Object.entries(c.latency ?? {})) {
        for (const lim of policy.latency.limits) {
          if (lim.op !== '*' && lim.op !== op) continue;
          const { now, base } = pct(l, lim.percentile);
          if (base === undefined) continue;
          const over = now - base;
          const ci = ciOf(l, lim.percentile);
          if (ci) {
            const parts = judgeByInterval(lim, over, base, ci);
            const broken = parts.filter((x) => x.outcome === 'over');
            const open = parts.filter((x) => x.outcome === 'undecided');
            // A part over the limit breaks it whatever the other part says; only then does a straddle count.
            if (broken.length) found.push({ cell: c.id, title: cellTitle(c.coords), why: `${op} ${lim.percentile} ${broken.map((x) => x.text).join(', ')} (limit op=${lim.op})` });
            else if (open.length) undecided.push({ cell: c.id, title: cellTitle(c.coords), why: `${op} ${lim.percentile} ${open.map((x) => x.text).join(', ')} (limit op=${lim.op})` });
            continue;
          }
          byPoint(c, `${op} ${lim.percentile}`);
          const problems: string[] = [];
          if (lim.maxOverheadUs !== undefined && over > lim.maxOverheadUs) problems.push(`overhead ${us(over)} > ${us(lim.maxOverheadUs)}`);
          if (lim.maxChange !== undefined && base > 0 && over / base > lim.maxChange) problems.push(`change +${percent(over / base)} > ${percent(lim.maxChange)}`);
          if (problems.length) found.push({ cell: c.id, title: cellTitle(c.coords), why: `${op} ${lim.percentile} ${us(now)} vs baseline ${us(base)}: ${problems.join(', ')} (limit op=${lim.op})` });
        }
      }
    }
    rules.push({ rule: 'latency-overhead', effect: 'fail', summary: found.length ? `${found.length} latency limit(s) broken against the cells' own baselines (the overhead's 95% interval above the limit)` : 'latency within limits', findings: found });
  }

  // Latency against a previous run (same cell ids).
  const ab = policy.latency.againstBaseline;
  if (opts.baseline && ab) {
    const prev = new Map(opts.baseline.cells.map((c) => [c.id, c]));
    const found: RuleFinding[] = [];
    let compared = 0;
    for (const c of considered) {
      const p = prev.get(c.id);
      if (!p?.latency || !c.latency) continue;
      compared++;
      for (const [op, l] of Object.entries(c.latency)) {
        if (ab.ops && !ab.ops.includes(op)) continue;
        const pl = p.latency[op];
        if (!pl) continue;
        for (const q of ab.percentiles) {
          const now = pct(l, q).now;
          const was = pct(pl, q).now;
          const ci = ciOf(l, q);
          const pci = ciOf(pl, q);
          const base = pct(l, q).base;
          const pbase = pct(pl, q).base;
          if (ci && pci && base !== undefined && pbase !== undefined && was > 0) {
            // Both runs have intervals: compare the overheads, each over its own run's baseline, so a host
            // slower on one day cancels out. The change's low end takes this run's lower half and the
            // previous run's upper half (the high end the other two), added in quadrature: the runs are independent.
            const o = now - base;
            const po = was - pbase;
            const delta = o - po;
            const lo = delta - Math.hypot(o - ci[0], pci[1] - po);
            const hi = delta + Math.hypot(ci[1] - o, po - pci[0]);
            // Today's two conditions (over minDeltaUs and over maxChange of the previous figure) as one limit.
            const limit = Math.max(ab.minDeltaUs, ab.maxChange * was);
            const outcome = against(lo, hi, limit);
            if (outcome === 'within') continue;
            const why = `${op} ${q} overhead ${signed(o, ' µs')} vs ${signed(po, ' µs')} in ${opts.baseline.runId}: change ${signed(delta, ' µs')} (95% ${bounds(lo, hi, ' µs')}) ${outcome === 'over' ? 'over' : 'undecided at'} ${us(limit)} (${percent(ab.maxChange)} of ${us(was)}, at least ${us(ab.minDeltaUs)})`;
            (outcome === 'over' ? found : undecided).push({ cell: c.id, title: cellTitle(c.coords), why });
            continue;
          }
          byPoint(c, `${op} ${q} against ${opts.baseline.runId}`);
          const delta = now - was;
          if (was > 0 && delta > ab.minDeltaUs && delta / was > ab.maxChange) {
            found.push({ cell: c.id, title: cellTitle(c.coords), why: `${op} ${q} ${us(now)} vs ${us(was)} in ${opts.baseline.runId}: +${percent(delta / was)} (+${us(delta)}) > ${percent(ab.maxChange)}` });
          }
        }
      }
    }
    rules.push({
      rule: 'latency-baseline',
      effect: 'fail',
      summary: found.length ? `${found.length} regression(s) against run ${opts.baseline.runId}` : `no regression against run ${opts.baseline.runId} (${compared} cell(s) compared)`,
      findings: found,
    });
  } else if (opts.baseline && !ab) {
    rules.push({ rule: 'latency-baseline', effect: 'warn', summary: 'a baseline run was given but the policy has no latency.againstBaseline section: not compared', findings: [] });
  }
  if (undecided.length) {
    rules.push({
      rule: 'latency-undecided',
      effect: policy.latency.undecided,
      summary: `${undecided.length} latency limit(s) neither kept nor broken: the overhead's 95% interval straddles the limit (latency.undecided: ${policy.latency.undecided})`,
      findings: undecided,
    });
  }
  if (pointOnly.size) {
    rules.push({
      rule: 'latency-point-figures',
      effect: 'warn',
      summary: `${pointOnly.size} cell(s) judged by single figures: no overhead interval for the percentile a limit names`,
      findings: [...pointOnly].map(([cell, e]) => ({ cell, title: e.title, why: `no 95% interval recorded for ${e.labels.join(', ')}: judged by single figures (recorded before the gate judged intervals, or unreadable); re-run for intervals` })),
    });
  }

  // Cells without a verdict (infrastructure, a broken test, or the run ended first).
  const noVerdict = considered.filter((c) => NO_VERDICT.has(c.verdict));
  const fraction = considered.length ? noVerdict.length / considered.length : 0;
  const { maxInfraErrors, maxInfraFraction } = policy.inconclusive;
  const tooMany = (maxInfraErrors !== null && noVerdict.length > maxInfraErrors) || (maxInfraFraction !== null && fraction > maxInfraFraction) || (maxInfraErrors === null && maxInfraFraction === null && noVerdict.length > 0);
  const limits = [maxInfraErrors !== null ? `at most ${maxInfraErrors}` : null, maxInfraFraction !== null ? `at most ${percent(maxInfraFraction)}` : null].filter(Boolean).join(' and ') || 'none allowed';
  if (noVerdict.length) {
    rules.push({
      rule: 'infra-errors',
      effect: tooMany ? 'inconclusive' : 'warn',
      summary: `${noVerdict.length} of ${considered.length} cell(s) (${percent(fraction)}) without a verdict; policy: ${limits}`,
      findings: noVerdict.map((c) => ({ cell: c.id, title: cellTitle(c.coords), why: `${c.verdict}${c.reason ? `: ${c.reason}` : ''}` })),
    });
  }

  const broken = (e: RuleResult['effect']) => rules.some((r) => r.effect === e && r.findings.length > 0);
  const outcome: GateOutcome = broken('fail') ? 'failed' : broken('inconclusive') ? 'inconclusive' : 'passed';
  return {
    policy: policy.file,
    run: run.dir,
    baseline: opts.baseline?.dir ?? null,
    outcome,
    exitCode: outcome === 'failed' ? 1 : outcome === 'inconclusive' ? 2 : 0,
    cells: run.cells.length,
    excluded,
    rules,
  };
}

/** The gate's answer for people: the outcome, then every broken rule with its cells and why. */
export function formatGate(r: GateResult, opts: { maxFindings?: number } = {}): string {
  const max = opts.maxFindings ?? 50;
  const lines: string[] = [`gate ${r.outcome.toUpperCase()} (exit ${r.exitCode}): policy ${r.policy}, run ${r.run}${r.baseline ? `, baseline ${r.baseline}` : ''}`];
  lines.push(`${r.cells} cell(s), ${r.excluded.length} excluded by policy`);
  for (const e of r.excluded.slice(0, max)) lines.push(`  excluded ${e.cell}: ${e.by}`);
  for (const rule of r.rules) {
    const mark = rule.findings.length === 0 ? 'ok  ' : rule.effect === 'fail' ? 'FAIL' : rule.effect === 'inconclusive' ? 'INCONCLUSIVE' : 'warn';
    lines.push(`${mark} ${rule.rule}: ${rule.summary}`);
    for (const f of rule.findings.slice(0, max)) lines.push(`    ${f.cell} ${f.title}: ${f.why}`);
    if (rule.findings.length > max) lines.push(`    …and ${rule.findings.length - max} more`);
  }
  return lines.join('\n');
}
