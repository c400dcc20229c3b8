// Reads what the agent printed. Guest output is untrusted: the document is parsed and checked against
// a schema before anything uses it, and a malformed one is an InputError naming where it came from.
import { InputError } from '../lib/errors.ts';
import { compileSchema } from '../lib/source-doc.ts';
import { OPERATIONS, RESULT_SCHEMA, type AgentFatal, type AgentResult } from './agent/protocol.ts';

const num = { type: 'number' };
const int0 = { type: 'integer', minimum: 0 };
const str = { type: 'string' };
const latency = { type: 'object', required: ['min', 'p50', 'p90', 'p99', 'p999', 'max', 'mean', 'stddev'], properties: { min: num, p50: num, p90: num, p99: num, p999: num, max: num, mean: num, stddev: num } };
const host = { type: 'object', required: ['node', 'platform', 'release', 'hostname'], properties: { node: str, platform: str, release: str, hostname: str } };

const resultSchema = {
  type: 'object',
  required: ['schema', 'workload', 'host', 'steps', 'ok'],
  properties: {
    schema: { const: RESULT_SCHEMA },
    workload: str,
    host,
    ok: { type: 'boolean' },
    // Absent from results written before the agent set its priority.
    priority: {
      type: 'object',
      required: ['requested', 'applied', 'note'],
      properties: { requested: { enum: ['high', 'normal'] }, applied: { type: ['integer', 'null'] }, note: { type: ['string', 'null'] } },
    },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'op', 'status', 'count', 'errors', 'latencyUs', 'histogram', 'opsPerSec'],
        properties: {
          name: str,
          op: { enum: [...OPERATIONS] },
          status: { enum: ['ok', 'error-limit'] },
          count: int0,
          errors: int0,
          opsPerSec: num,
          latencyUs: latency,
          histogram: { type: 'string', pattern: '^[A-Za-z0-9+/=]*$' },
        },
      },
    },
  },
};
const fatalSchema = { type: 'object', required: ['schema', 'fatal'], properties: { schema: { const: RESULT_SCHEMA }, fatal: str } };
const validResult = compileSchema<AgentResult>(resultSchema);
const validFatal = compileSchema<AgentFatal>(fatalSchema);

export type AgentOutput = { kind: 'result'; result: AgentResult } | { kind: 'fatal'; fatal: AgentFatal };

/**
 * Bytes of the agent's stdout the controller keeps (16 MiB). A result is a few KB per step (its
 * histograms compressed); more is not a result, and the channel drops the head past this.
 */
export const AGENT_OUTPUT_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Parses the agent's stdout; `source` names it in errors (e.g. "cell 3f2a…/file-storm stdout").
 * `droppedBytes` is what the channel dropped from its head (past AGENT_OUTPUT_MAX_BYTES): a document
 * cut so is refused as cut, not as malformed (issue #16: a truncated input is said to be truncated).
 */
export function parseAgentOutput(stdout: string, source: string, droppedBytes = 0): AgentOutput {
  if (droppedBytes > 0) {
    throw new InputError(
      { file: source },
      `the agent printed ${(droppedBytes + Buffer.byteLength(stdout)).toLocaleString('en-US')} bytes, more than AGENT_OUTPUT_MAX_BYTES (${AGENT_OUTPUT_MAX_BYTES.toLocaleString('en-US')}); the first ${droppedBytes.toLocaleString('en-US')} were dropped, so its result cannot be read`,
    );
  }
  const text = stdout.trim();
  if (!text) throw new InputError({ file: source }, 'the agent printed nothing; expected one JSON result document');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError({ file: source }, `the agent's output is not JSON (${(err as Error).message}); it begins: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (validFatal(value)) return { kind: 'fatal', fatal: value };
  if (validResult(value)) return { kind: 'result', result: value };
  const e = validResult.errors?.[0];
  throw new InputError({ file: source }, `the agent's result is malformed at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}; expected a ${RESULT_SCHEMA} document`);
}
