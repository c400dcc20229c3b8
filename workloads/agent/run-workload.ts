// Runs a whole workload in a work root and assembles the result document. Library code: the CLI in
// main.ts decides where the spec comes from and where the result goes.
import { hostFacts } from './host.ts';
import { applyPriority } from './priority.ts';
import { RESULT_SCHEMA, type AgentResult, type StepResult, type WorkloadSpec } from './protocol.ts';
import { runStep } from './runner.ts';

export interface RunOptions {
  /** Relative step directories resolve here. */
  root: string;
  progress?: (line: string) => void;
}

export async function runWorkload(spec: WorkloadSpec, opts: RunOptions): Promise<AgentResult> {
  const started = new Date();
  const t0 = process.hrtime.bigint();
  const priority = applyPriority(spec.priority);
  if (priority.note) opts.progress?.(`priority: ${priority.note}`);
  const steps: StepResult[] = [];
  for (const step of spec.operations) {
    opts.progress?.(`step ${step.name} (${step.op}): start`);
    const r = await runStep(step, { root: opts.root, platform: process.platform }, opts.progress ? { progress: opts.progress } : {});
    opts.progress?.(`step ${step.name} (${step.op}): ${r.status}, ${r.count} ok, ${r.errors} errors, p50 ${r.latencyUs.p50} µs, p99 ${r.latencyUs.p99} µs`);
    steps.push(r);
  }
  return {
    schema: RESULT_SCHEMA,
    workload: spec.name,
    host: hostFacts(),
    workdir: opts.root,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round(Number(process.hrtime.bigint() - t0) / 1e6),
    priority,
    ok: steps.every((s) => s.status === 'ok' && s.errors === 0 && s.warmupErrors === 0),
    steps,
  };
}
