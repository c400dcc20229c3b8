// The agent's entry point, run in the guest as `node agent.js --spec spec.json [--workdir DIR] [--keep]`
// (or with the spec on stdin). It prints ONE JSON document to stdout: the result, or { fatal } when it
// could not run; progress goes to stderr as plain lines. Exit status: 0 result printed (read `ok` for
// whether every step was clean), 1 fatal, 2 usage. This file is the only place in the agent that
// writes to stdout or sets the exit status.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkSpec } from './check-spec.ts';
import { hostFacts } from './host.ts';
import { RESULT_SCHEMA, type AgentFatal } from './protocol.ts';
import { runWorkload } from './run-workload.ts';

const USAGE = 'usage: node agent.js [--spec FILE|-] [--workdir DIR] [--keep] [--quiet]';

function emit(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

function fatal(message: string, code: number): void {
  const doc: AgentFatal = { schema: RESULT_SCHEMA, fatal: message, host: hostFacts() };
  emit(doc);
  process.exitCode = code;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        spec: { type: 'string' },
        workdir: { type: 'string' },
        keep: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    return fatal(`${(err as Error).message}; ${USAGE}`, 2);
  }
  let spec;
  try {
    const text = args.spec === undefined || args.spec === '-' ? readFileSync(0, 'utf8') : readFileSync(args.spec, 'utf8');
    spec = checkSpec(JSON.parse(text));
  } catch (err) {
    return fatal(`bad spec: ${(err as Error).message}`, 1);
  }
  // A fresh directory under the given one, removed afterwards: the agent never deletes what it did
  // not create.
  let root: string;
  try {
    root = mkdtempSync(join(args.workdir ?? tmpdir(), 'fleetgate-agent-'));
  } catch (err) {
    return fatal(`cannot create a work directory: ${(err as Error).message}`, 1);
  }
  const progress = args.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  try {
    emit(await runWorkload(spec, { root, ...(progress ? { progress } : {}) }));
  } catch (err) {
    fatal(`agent failed: ${(err as Error).stack ?? String(err)}`, 1);
  } finally {
    if (!args.keep) rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  }
}

void main();
