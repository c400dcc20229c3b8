// The workload file's schema (JSON Schema, checked by ajv through lib/source-doc.ts) and the raw types
// it admits. Rules that span fields (count or durationMs, exec needs a command, delete cannot delete
// more files than the set holds) are checked after the schema in spec.ts, each at its own place.
import { OPERATIONS, PRIORITIES, type FileSize, type OperationKind, type PriorityRequest } from './agent/protocol.ts';

/** Every field a step may set; `defaults` may set all of them but op, name and command. */
export interface RawStepFields {
  count?: number;
  durationMs?: number;
  warmup?: number;
  concurrency?: number;
  dir?: string;
  files?: number;
  subdirs?: number;
  fileSize?: FileSize;
  fsync?: boolean;
  timeoutMs?: number;
  errorLimit?: number;
}

export interface RawStep extends RawStepFields {
  op: OperationKind;
  name?: string;
  command?: string[];
}

export interface RawWorkload {
  name?: string;
  description?: string;
  priority?: PriorityRequest;
  defaults?: RawStepFields;
  operations: RawStep[];
}

const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._#-]*$', description: 'a name of letters, digits, ".", "_", "#" or "-"' };
const MiB64 = 64 * 1024 * 1024;
const bytes = { type: 'integer', minimum: 0, maximum: MiB64 };

const stepFields = {
  count: { type: 'integer', minimum: 1, maximum: 100_000_000 },
  durationMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
  warmup: { type: 'integer', minimum: 0, maximum: 100_000_000 },
  concurrency: { type: 'integer', minimum: 1, maximum: 256 },
  dir: { type: 'string', minLength: 1 },
  files: { type: 'integer', minimum: 1, maximum: 10_000_000 },
  subdirs: { type: 'integer', minimum: 0, maximum: 100_000 },
  fileSize: {
    description: 'a size in bytes (0 to 64 MiB), or { min, max }',
    anyOf: [bytes, { type: 'object', required: ['min', 'max'], additionalProperties: false, properties: { min: bytes, max: bytes } }],
  },
  fsync: { type: 'boolean' },
  timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
  errorLimit: { type: 'integer', minimum: 1 },
} as const;

export const workloadSchema = {
  type: 'object',
  required: ['operations'],
  additionalProperties: false,
  properties: {
    name,
    description: { type: 'string' },
    priority: { type: 'string', enum: [...PRIORITIES], description: 'the measuring process\'s priority: normal (default) or high' },
    defaults: { type: 'object', additionalProperties: false, properties: stepFields },
    operations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['op'],
        additionalProperties: false,
        properties: {
          op: { type: 'string', enum: [...OPERATIONS] },
          name,
          command: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'an argv list, e.g. [node, -e, "0"]' },
          ...stepFields,
        },
      },
    },
  },
} as const;
