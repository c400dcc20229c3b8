// Loads a workload (a built-in name or a path to a workload file) into the resolved spec the agent
// runs. Runs on the controller, before any VM starts, so a bad workload file fails the run at once with
// the file, line and column and what was expected.
import { existsSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closest } from 'fastest-levenshtein';
import { InputError } from '../lib/errors.ts';
import { compileSchema, errorAt, parseSource, readSource, validateOrThrow, type SourceDoc } from '../lib/source-doc.ts';
import { FILE_OPERATIONS, type OperationKind, type StepSpec, type WorkloadSpec } from './agent/protocol.ts';
import { BUILTIN_WORKLOAD_NAMES, type BuiltinWorkload } from './builtin.ts';
import { workloadSchema, type RawStep, type RawStepFields, type RawWorkload } from './schema.ts';

export type { StepSpec, WorkloadSpec } from './agent/protocol.ts';

const WORKLOADS_DIR = dirname(fileURLToPath(import.meta.url));
const validate = compileSchema<RawWorkload>(workloadSchema);

/** Defaults for every step field a file leaves out (count depends on the operation: see defaultCount). */
export const STEP_DEFAULTS = {
  warmup: 0,
  concurrency: 1,
  dir: '.',
  files: 100,
  subdirs: 0,
  fileSize: 4096,
  fsync: false,
  timeoutMs: 30_000,
  errorLimit: 100,
} as const satisfies Required<Omit<RawStepFields, 'count' | 'durationMs'>>;

/** File operations go once over the set; process operations are slow, so fewer. */
function defaultCount(op: OperationKind, files: number, warmup: number): number {
  switch (op) {
    case 'delete':
      return Math.max(1, files - warmup);
    case 'enumerate':
    case 'spawn':
      return 100;
    case 'exec':
      return 10;
    default:
      return files;
  }
}

export function builtinWorkloadPath(name: BuiltinWorkload): string {
  return join(WORKLOADS_DIR, `${name}.yaml`);
}

export interface LoadOptions {
  /** Where a relative path resolves (a matrix file's folder). @default process.cwd() */
  baseDir?: string;
}

/** A built-in name (file-storm, process-churn, build-like, archive) or a path to a workload file. */
export function loadWorkload(nameOrPath: string, opts: LoadOptions = {}): WorkloadSpec {
  if ((BUILTIN_WORKLOAD_NAMES as readonly string[]).includes(nameOrPath)) {
    return workloadFromSource(readSource(builtinWorkloadPath(nameOrPath as BuiltinWorkload)));
  }
  const looksLikePath = /[\\/]/.test(nameOrPath) || /\.ya?ml$/i.test(nameOrPath) || /\.json$/i.test(nameOrPath);
  const file = isAbsolute(nameOrPath) ? nameOrPath : resolve(opts.baseDir ?? process.cwd(), nameOrPath);
  if (!looksLikePath && !existsSync(file)) {
    const near = closest(nameOrPath, BUILTIN_WORKLOAD_NAMES);
    throw new InputError({ file: nameOrPath }, `unknown workload "${nameOrPath}"; expected a built-in workload (${BUILTIN_WORKLOAD_NAMES.join(', ')}) or a path to a .yaml workload file; did you mean "${near}"?`);
  }
  return workloadFromSource(readSource(file));
}

/** Parses workload text (for callers that hold it already, and tests). */
export function parseWorkload(file: string, text: string): WorkloadSpec {
  return workloadFromSource(parseSource(file, text));
}

function workloadFromSource(src: SourceDoc): WorkloadSpec {
  const raw = validateOrThrow(src, validate);
  const defaults = raw.defaults ?? {};
  if (defaults.count !== undefined && defaults.durationMs !== undefined) {
    throw errorAt(src, ['defaults', 'durationMs'], 'defaults sets both count and durationMs; expected at most one of them', { key: true });
  }
  const seen = new Map<string, number>();
  const operations = raw.operations.map((step, i) => resolveStep(src, step, defaults, i, seen));
  return {
    name: raw.name ?? basename(src.file, extname(src.file)),
    description: raw.description ?? '',
    priority: raw.priority ?? 'normal',
    source: src.file,
    operations,
  };
}

function resolveStep(src: SourceDoc, step: RawStep, defaults: RawStepFields, i: number, seen: Map<string, number>): StepSpec {
  const at = ['operations', i];
  const label = `operations[${i}]`;
  // A step's own count or durationMs replaces either one from defaults.
  const ownBound = step.count !== undefined || step.durationMs !== undefined;
  if (step.count !== undefined && step.durationMs !== undefined) {
    throw errorAt(src, [...at, 'durationMs'], `${label} sets both count and durationMs; expected one of them`, { key: true });
  }
  const f = { ...STEP_DEFAULTS, ...(ownBound ? { ...defaults, count: undefined, durationMs: undefined } : defaults), ...step };
  if (step.op === 'exec' && !step.command) throw errorAt(src, at, `${label}: op exec needs "command", an argv list such as [node, -e, "0"]`);
  if (step.op !== 'exec' && step.command) throw errorAt(src, [...at, 'command'], `${label}: "command" is only for op exec (op is ${step.op})`, { key: true });
  if (typeof f.fileSize === 'object' && f.fileSize.min > f.fileSize.max) {
    const where = step.fileSize !== undefined ? [...at, 'fileSize'] : ['defaults', 'fileSize'];
    throw errorAt(src, where, `fileSize min ${f.fileSize.min} is above max ${f.fileSize.max}`);
  }
  if (f.subdirs > f.files && FILE_OPERATIONS.includes(step.op)) {
    throw errorAt(src, step.subdirs !== undefined ? [...at, 'subdirs'] : at, `${label}: subdirs ${f.subdirs} is more than files ${f.files}; expected subdirs <= files`);
  }
  const count = f.durationMs !== undefined ? null : (f.count ?? defaultCount(step.op, f.files, f.warmup));
  if (step.op === 'delete') {
    // Each file can be deleted once; more would only count ENOENT errors.
    if (f.durationMs !== undefined) throw errorAt(src, [...at, 'durationMs'], `${label}: op delete runs once over the file set; expected count, not durationMs`, { key: true });
    if (f.warmup + (count ?? 0) > f.files) {
      throw errorAt(src, step.count !== undefined ? [...at, 'count'] : at, `${label}: delete of warmup ${f.warmup} + count ${count} files is more than the ${f.files} files in the set; expected warmup + count <= files`);
    }
  }
  let name = step.name ?? step.op;
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  if (n > 1) {
    if (step.name !== undefined) throw errorAt(src, [...at, 'name'], `${label}: step name "${name}" is used twice; expected unique names`);
    name = `${name}#${n}`;
  }
  return {
    name,
    op: step.op,
    count,
    durationMs: f.durationMs ?? null,
    warmup: f.warmup,
    concurrency: f.concurrency,
    dir: f.dir,
    files: f.files,
    subdirs: f.subdirs,
    fileSize: f.fileSize,
    fsync: f.fsync,
    command: step.command ?? null,
    timeoutMs: f.timeoutMs,
    errorLimit: f.errorLimit,
  };
}
