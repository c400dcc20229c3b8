// What a cell's attempts give: the verdicts, the lifecycle's steps and an attempt's result, as the
// journal and summary.json record them. The contract between the harness (which writes them) and the
// reports (which read them): both import this room, neither imports the other.

/** What a verdict means everywhere it is used: the run's exit code, the gate, JUnit, Allure, progress. */
export interface VerdictMeaning {
  /** passed; failed (a product failure); broken (no verdict about the product); skipped. */
  readonly class: 'passed' | 'failed' | 'broken' | 'skipped';
  /** The scheduler tries the cell again on another slot (only ever infrastructure). */
  readonly retried: boolean;
  /** What the cell makes of the run: exit 1 (a product failure), 2 (inconclusive) or nothing. */
  readonly run: 'product-failure' | 'inconclusive' | 'ok';
  /**
   * The gate: fails on it (unless a policy allow entry excludes the cell); fails unless the policy
   * waives the verdict; makes the gate inconclusive past the policy's limit on cells without a
   * verdict; or passes it.
   */
  readonly gate: 'fail' | 'fail-unless-waived' | 'inconclusive-past-limit' | 'pass';
  readonly junit: 'passed' | 'failure' | 'error' | 'skipped';
  readonly allure: 'passed' | 'failed' | 'broken' | 'skipped';
  /** One character for progress lines (Playwright's dot reporter). */
  readonly glyph: string;
  /** What it says, in a sentence. */
  readonly means: string;
}

/**
 * The verdicts of ../shared/DESIGN.md, worst first (the order reports sort by), each with its
 * meaning. The one table: later verdicts are added here, not beside it.
 */
export const VERDICT_TABLE = {
  'product-crash': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'C', means: 'the guest crashed (bugcheck, panic) with our driver in' },
  'product-hang': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'H', means: 'the guest stopped answering with our driver in (an NMI forced a dump)' },
  'boot-failure': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'B', means: 'the guest did not come back after our install or the verifier reboot' },
  'install-failure': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'X', means: 'our package did not build, install, load or attach' },
  'verifier-violation': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'V', means: 'the verifier reported a violation by our driver' },
  'perf-regression': { class: 'failed', retried: false, run: 'product-failure', gate: 'fail', junit: 'failure', allure: 'failed', glyph: 'P', means: 'our driver made a judged step slower than the latency budget allows' },
  'latency-inconclusive': { class: 'broken', retried: false, run: 'inconclusive', gate: 'fail-unless-waived', junit: 'error', allure: 'broken', glyph: 'L', means: "the cell's runs were too noisy to judge its latency budget" },
  'test-error': { class: 'broken', retried: false, run: 'inconclusive', gate: 'inconclusive-past-limit', junit: 'error', allure: 'broken', glyph: 'T', means: 'the workload itself is broken: no verdict about the product' },
  'infra-error': { class: 'broken', retried: true, run: 'inconclusive', gate: 'inconclusive-past-limit', junit: 'error', allure: 'broken', glyph: 'I', means: 'the harness or a host failed before a verdict: retried elsewhere' },
  skipped: { class: 'skipped', retried: false, run: 'ok', gate: 'pass', junit: 'skipped', allure: 'skipped', glyph: '°', means: 'the cell cannot run here (no runner, no image) and was not attempted' },
  pass: { class: 'passed', retried: false, run: 'ok', gate: 'pass', junit: 'passed', allure: 'passed', glyph: '·', means: 'every step passed and latency is within the budget' },
} as const satisfies Record<string, VerdictMeaning>;

export type Verdict = keyof typeof VERDICT_TABLE;

/** Every verdict, worst first. */
export const VERDICTS = Object.keys(VERDICT_TABLE) as Verdict[];

export function verdictMeaning(v: Verdict): VerdictMeaning {
  return VERDICT_TABLE[v];
}

/** Verdicts that are findings about the product: never retried into a pass. */
export const PRODUCT_FAILURES: readonly Verdict[] = VERDICTS.filter((v) => VERDICT_TABLE[v].class === 'failed');

/** The lifecycle's steps, in order (DESIGN.md "A cell's lifecycle"; harness/cell/lifecycle.ts runs them). */
export const STEPS = [
  'acquire', // clean VM from the image, boot, guest channel up
  'identity', // the guest's build (Windows build.UBR, the lab's kernel release) is the cell's
  'baseline', // workloads without the driver (when the cell compares)
  'install', // coexisting filters, then our package: installed, loaded and attached
  'verifier', // verifier profile on (reboot when it needs one), settings proven active
  'workload', // workloads with the driver, watched for crashes and hangs
  'unload', // unload and uninstall (leaks are reported here)
  'collect', // dumps, console log, kernel log, event records, verifier counters
  'triage', // a crash's or hang's report: title, bucket, attribution (only after one)
  'verdict', // latency against the baseline, judged by the policy's budget; the cell's verdict
  'release', // the VM stopped and its throw-away files removed (always, whatever came before)
] as const;
export type Step = (typeof STEPS)[number];

export interface StepRecord {
  step: Step;
  startedAt: string;
  ms: number;
  ok: boolean;
  detail?: string;
}

export interface CrashSummary {
  title: string;
  bucket: string;
  kind: string;
  module?: string;
  attribution?: 'ours' | 'other-vendor' | 'windows' | 'unknown';
  bugcheck?: { code: number; name: string; params: string[] };
  /** Path of the dump, relative to the run folder. */
  dump?: string;
  dumpBytes?: number;
}

export interface OperationLatency {
  p50Us: number;
  p99Us: number;
  baselineP50Us?: number;
  baselineP99Us?: number;
  change?: 'regressed' | 'improved' | 'no-change';
  overheadP50Us?: number;
  overheadP99Us?: number;
  /** The 95% bootstrap interval of the p50 overhead, µs (low, high). */
  overheadP50CiUs?: [number, number];
  /** The same for the p99 overhead (absent in runs recorded before it was kept). */
  overheadP99CiUs?: [number, number];
  /**
   * The interleaved rounds' figures (issue #17; absent in sequential runs and runs before it). With
   * them the point figures above come from the rounds: p50Us = median(driverUs), baselineP50Us =
   * median(baselineUs), overheadP50Us = rounds.p50.overheadUs, overheadP50CiUs = rounds.p50.ciUs.
   */
  rounds?: { count: number; p50: RoundStat; p99: RoundStat };
  /** The cell's own budget's view of this step (absent: the budget does not name it, or a sequential run). */
  judged?: { percentile: 'p50' | 'p99'; limitUs: number; outcome: 'within' | 'over' | 'undecided' };
}

/** One percentile's figures from interleaved rounds B1 D1 … Dk B(k+1) (workloads/rounds.ts computes them). */
export interface RoundStat {
  /** Per round i: driver run i − mean of the baseline runs before and after it, µs. */
  overheadsUs: number[];
  /** median of overheadsUs */
  overheadUs: number;
  /** The interval of the overhead at `level`, µs (low, high). */
  ciUs: [number, number];
  /** 0.95 */
  level: number;
  /** MAD of overheadsUs */
  noiseUs: number;
  /** The smallest overhead these rounds tell from zero with 80% power, µs. */
  detectableUs: number;
  /** q_p of B1..B(k+1), in time order (for the pictures). */
  baselineUs: number[];
  /** q_p of D1..Dk, in time order. */
  driverUs: number[];
}

/** How the attempt measured latency (absent: recorded before #17, which means sequential). */
export interface MeasurementRecord {
  method: 'rounds' | 'sequential';
  /** Driver rounds done. */
  rounds: number;
  /** The guest's vCPUs. */
  vcpus: number;
  /** The agent's allowed CPUs as its first run reported them (null when it did not say). */
  agentCpus: string | null;
  singleThreaded: boolean;
  /** How ours was taken out between rounds. */
  between: 'unload' | 'detach' | 'none';
  /** Why it fell back (unload refused, detach refused), in words. */
  fallback?: string;
  /** Smallest overhead the cell could detect on its judged steps, µs (the worst of them). */
  detectableUs?: number;
  ms: { warmup: number; rounds: number };
  /** The OS's own recording of the filter stack's callback times in one more driver run (the matrix's `filterDelays`). */
  filterDelays?: FilterDelaysRecord[];
}

/** One filter's callbacks for one major function, from the OS's recording (Windows: WPA's Mini-Filter Delays). */
export interface FilterDelayRow {
  filter: string;
  operation: string;
  /** Callbacks counted. */
  count: number;
  totalUs: number;
  meanUs: number;
  /** Only when each row of the export was one callback. */
  p50Us?: number;
  p99Us?: number;
  maxUs?: number;
}

/** The Filter Manager's per-callback times as read from one export (harness/guest/windows/filter-delays.ts). */
export interface FilterDelays {
  schema: 'fleetgate-filter-delays/1';
  /** The export file read. */
  source: string;
  /** The header's names of the columns used. */
  columns: { filter: string; operation: string | null; delay: string; count: string | null };
  /** Data rows read. */
  rows: number;
  /** Each row one callback (percentiles known), or rows that are groups with a count. */
  perEvent: boolean;
  /** Largest total first. */
  delays: FilterDelayRow[];
}

/** Ours among a recording's filters, every operation summed. */
export interface OursFilterDelays {
  filter: string;
  count: number;
  totalUs: number;
  meanUs: number;
  /** The largest p99 among its operations (per-callback exports only). */
  worstP99Us?: number;
}

/**
 * A workload's filter-stack recording in a cell (issue #17): captured (the read table in `file`, ours
 * and the largest rows here) or why not. Never a verdict: the rounds judge latency; this says where
 * the time went.
 */
export type FilterDelaysRecord =
  | { workload: string; captured: true; tool: string; file: string; rows: number; perEvent: boolean; ours: OursFilterDelays | null; top: FilterDelayRow[] }
  | { workload: string; captured: false; why: string };

/** A driver the attempt installed: what was really loaded, by its hash (the sign-off names these). */
export interface InstalledDriver {
  /** Ours (the matrix's driver build) or a coexisting filter. */
  role: 'ours' | 'coexist';
  /** Module or service name. */
  name: string;
  /** Ours: the package folder it came from; a coexisting filter: the matrix's name for it. */
  package: string;
  /** sha256 of what was sent to the guest (the .ko; on Windows the package's .sys). */
  sha256: string;
}

export interface AttemptResult {
  verdict: Verdict;
  /** One line saying why, for infra errors and failures. */
  reason?: string;
  crash?: CrashSummary;
  latency?: Record<string, OperationLatency>;
  /** How latency was measured (absent in runs before #17: sequential). */
  measurement?: MeasurementRecord;
  steps: StepRecord[];
  /** Files of evidence, relative to the run folder. */
  evidence: string[];
  /** The drivers this attempt installed, in load order (absent when it installed none). */
  installed?: InstalledDriver[];
  /** How the VM was started and how long it took (cold boot; warm restore later). */
  start?: { kind: 'cold' | 'warm'; ms: number; accel?: string };
  /**
   * Product failures only: the runner checked again (e.g. re-ran the workload on a fresh VM) and the
   * failure did not reproduce. The verdict stays the failure; the summary marks the cell flaky.
   */
  flaky?: boolean;
}
