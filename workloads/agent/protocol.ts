// What passes between the controller and the in-guest agent: the resolved workload spec the agent is
// given (spec.json) and the one JSON result document it prints. The controller's loader
// (workloads/spec.ts) fills every default, so the agent runs exactly what the spec says and the result
// records it. Types only, plus constants: this file is bundled into the agent and must import nothing.

export const OPERATIONS = ['create', 'open', 'read', 'write', 'rename', 'delete', 'enumerate', 'extract', 'spawn', 'exec'] as const;
export type OperationKind = (typeof OPERATIONS)[number];

/** Operations that work on the step's file set (dir, files, subdirs). */
export const FILE_OPERATIONS: readonly OperationKind[] = ['create', 'open', 'read', 'write', 'rename', 'delete', 'enumerate', 'extract'];

export const RESULT_SCHEMA = 'fleetgate-agent-result/1';

/** A size in bytes, fixed or drawn per file (deterministically, from the file's index) in [min, max]. */
export type FileSize = number | { min: number; max: number };

/** One step of a workload, every default filled in. */
export interface StepSpec {
  /** Unique within the workload: the key a comparison matches runs on. */
  name: string;
  op: OperationKind;
  /** Recorded iterations; null when the step runs for `durationMs` instead. */
  count: number | null;
  /** Wall-clock length of the recorded phase; null when the step runs `count` iterations. */
  durationMs: number | null;
  /** Iterations run first and not recorded: the start of the same sequence (see the agent's runner). */
  warmup: number;
  /** Async workers (file ops) or child processes at once (spawn, exec). */
  concurrency: number;
  /** Directory, relative to the agent's work root (or absolute). */
  dir: string;
  /** Size of the file set the step cycles over: iteration i touches file i mod files. */
  files: number;
  /** Files are spread over this many subdirectories (0: all in `dir`), like a source tree. */
  subdirs: number;
  fileSize: FileSize;
  /** write/create/extract: fsync each file before closing it (FlushFileBuffers on Windows). */
  fsync: boolean;
  /** exec: argv, run without a shell. argv[0] "node" means the agent's own Node binary. */
  command: string[] | null;
  /** spawn/exec: a child running longer than this is killed and counted as an error. */
  timeoutMs: number;
  /** Errors tolerated before the step stops with an error entry. */
  errorLimit: number;
}

/** The measuring process's priority (workloads/agent/priority.ts): `high` keeps guest housekeeping
 * out of the measured intervals; `normal` leaves it as started. */
export const PRIORITIES = ['high', 'normal'] as const;
export type PriorityRequest = (typeof PRIORITIES)[number];

/** What the agent asked for and got: `applied` is os.getPriority() afterwards (Linux nice value;
 * on Windows Node's mapping of the priority class), `note` says why a request was not met. */
export interface PriorityOutcome {
  requested: PriorityRequest;
  applied: number | null;
  note: string | null;
}

export interface WorkloadSpec {
  name: string;
  description: string;
  priority: PriorityRequest;
  /** The file it was read from (for messages); the agent ignores it. */
  source: string;
  operations: StepSpec[];
}

export interface HostFacts {
  node: string;
  platform: string;
  arch: string;
  /** os.release(): the kernel release (Linux) or the Windows build as "10.0.26100". */
  release: string;
  hostname: string;
  /** `allowed` (Linux): the CPUs the agent could run on, e.g. "1" when pinned to the measurement CPU. */
  cpus: { count: number; model: string; allowed?: string };
  totalMemBytes: number;
}

export interface LatencySummary {
  /** Microseconds. Percentiles come from the histogram (3 significant digits); min, max and mean
   * from the exact nanosecond measurements. */
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  stddev: number;
}

export interface ErrorSample {
  /** errno code (ENOENT...), "EXIT_<n>" for a child's exit status, or the error's name. */
  code: string;
  message: string;
  count: number;
}

export type StepStatus =
  /** Ran every iteration (or its whole duration). */
  | 'ok'
  /** Stopped early: errors passed `errorLimit`. */
  | 'error-limit';

export interface StepResult {
  name: string;
  op: OperationKind;
  status: StepStatus;
  /** Why it stopped early, in words, when status is not ok. */
  stopReason?: string;
  /** Recorded successful iterations (the histogram's total count). */
  count: number;
  /** Failed recorded iterations (not in the histogram). */
  errors: number;
  /** Failed warm-up iterations (they count toward no limit but their own). */
  warmupErrors: number;
  errorLimit: number;
  errorSamples: ErrorSample[];
  warmup: number;
  concurrency: number;
  /** Wall time of the recorded phase. */
  elapsedMs: number;
  /** Successful iterations per second of wall time in the recorded phase. */
  opsPerSec: number;
  latencyUs: LatencySummary;
  /** HdrHistogram V2 compressed base64 (encodeIntoCompressedBase64), values in microseconds. */
  histogram: string;
}

export interface AgentResult {
  schema: typeof RESULT_SCHEMA;
  workload: string;
  host: HostFacts;
  workdir: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  priority: PriorityOutcome;
  /** True when every step's status is ok and no step had errors. */
  ok: boolean;
  steps: StepResult[];
}

/** What the agent prints instead of a result when it cannot run at all (bad spec, no work root). */
export interface AgentFatal {
  schema: typeof RESULT_SCHEMA;
  fatal: string;
  host?: HostFacts;
}
