// The agent's own check of the spec it is handed. The controller has already validated the workload
// file against its schema (workloads/spec.ts) and filled every default; this catches a hand-written or
// truncated spec.json in the guest with a message naming the field, instead of a TypeError mid-run.
import { OPERATIONS, PRIORITIES, type StepSpec, type WorkloadSpec } from './protocol.ts';

export class SpecError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function int(v: unknown, at: string, min: number, nullable = false): void {
  if (nullable && v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new SpecError(`${at} is ${JSON.stringify(v)}; expected an integer >= ${min}${nullable ? ' or null' : ''}`);
}

export function checkSpec(value: unknown): WorkloadSpec {
  if (!isObj(value)) throw new SpecError('spec: expected a JSON object');
  if (typeof value.name !== 'string') throw new SpecError('spec.name: expected a string');
  if (!(PRIORITIES as readonly unknown[]).includes(value.priority)) throw new SpecError(`spec.priority is ${JSON.stringify(value.priority)}; expected one of: ${PRIORITIES.join(', ')}`);
  if (!Array.isArray(value.operations) || value.operations.length === 0) throw new SpecError('spec.operations: expected a non-empty list');
  const names = new Set<string>();
  value.operations.forEach((s: unknown, i: number) => {
    const at = `spec.operations[${i}]`;
    if (!isObj(s)) throw new SpecError(`${at}: expected an object`);
    if (!(OPERATIONS as readonly unknown[]).includes(s.op)) throw new SpecError(`${at}.op is ${JSON.stringify(s.op)}; expected one of: ${OPERATIONS.join(', ')}`);
    if (typeof s.name !== 'string' || names.has(s.name)) throw new SpecError(`${at}.name: expected a unique string`);
    names.add(s.name);
    int(s.count, `${at}.count`, 0, true);
    int(s.durationMs, `${at}.durationMs`, 1, true);
    if ((s.count === null) === (s.durationMs === null)) throw new SpecError(`${at}: expected exactly one of count and durationMs`);
    int(s.warmup, `${at}.warmup`, 0);
    int(s.concurrency, `${at}.concurrency`, 1);
    int(s.files, `${at}.files`, 1);
    int(s.subdirs, `${at}.subdirs`, 0);
    int(s.timeoutMs, `${at}.timeoutMs`, 1);
    int(s.errorLimit, `${at}.errorLimit`, 1);
    if (typeof s.dir !== 'string') throw new SpecError(`${at}.dir: expected a string`);
    if (typeof s.fsync !== 'boolean') throw new SpecError(`${at}.fsync: expected a boolean`);
    const fsz = s.fileSize;
    if (isObj(fsz)) {
      int(fsz.min, `${at}.fileSize.min`, 0);
      int(fsz.max, `${at}.fileSize.max`, fsz.min as number);
    } else int(fsz, `${at}.fileSize`, 0);
    if (s.op === 'exec' && !(Array.isArray(s.command) && s.command.length > 0 && s.command.every((a) => typeof a === 'string'))) {
      throw new SpecError(`${at}.command: expected a non-empty list of strings (argv)`);
    }
  });
  return value as unknown as WorkloadSpec & { operations: StepSpec[] };
}
