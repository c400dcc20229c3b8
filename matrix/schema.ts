// The matrix file's schema (JSON Schema, checked by ajv) and the raw types it admits. Names (releases,
// profiles, workloads, filters) are checked after the schema, against the catalog and the known lists,
// so their errors can suggest the nearest known name.

export const AXES = ['os', 'driver', 'verifier', 'workloads', 'coexist', 'repeat'] as const;
export type AxisName = (typeof AXES)[number];

export type RawPatch =
  | string
  | { since: string }
  | { month: string | string[] }
  | { kb: number | number[] }
  | { ubr: string | number | Array<string | number> };

export type RawOs = string | { release: string; patch?: RawPatch };
export type RawDriver = {
  name: string;
  path: string;
  'upgrade-from'?: string | { name: string; path: string };
  params?: Record<string, string | number>;
};

/** A fault the harness injects on purpose, to prove infrastructure trouble is retried, never a verdict. */
export interface RawFault {
  match: RawRule;
  kind: 'kill-vm';
  /** The step of the attempt it strikes in (see runfolder/results.ts STEPS). */
  at: 'acquire' | 'identity' | 'baseline' | 'install' | 'workload';
  /** Which attempts of the matching cells (default [1]: only the first, so the retry passes). */
  attempts?: number[];
}
export type RawSet = string | string[];

export interface RawRule {
  os?: string | string[];
  month?: string | string[];
  kb?: number | number[];
  ubr?: string | number | Array<string | number>;
  driver?: string | string[];
  verifier?: string | string[];
  workloads?: RawSet;
  coexist?: RawSet;
  repeat?: number | number[];
}

export interface RawInclude {
  os?: RawOs | RawOs[];
  driver?: string | string[];
  verifier?: string | string[];
  workloads?: RawSet;
  coexist?: RawSet;
  tags?: string[];
}

export interface RawMatrix {
  name?: string;
  description?: string;
  tags?: string[];
  gate?: string;
  filterDelays?: { wpaProfile: string; exporter?: string };
  filters?: Record<string, { path: string; vendor?: string; altitude?: string }>;
  axes: {
    os: RawOs[];
    driver: RawDriver[];
    verifier?: string[];
    workloads?: RawSet[];
    coexist?: RawSet[];
    repeat?: number;
  };
  include?: RawInclude[];
  exclude?: RawRule[];
  faults?: RawFault[];
}

const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'a name of letters, digits, ".", "_" or "-"' };
const month = { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'a month as YYYY-MM (quote it if YAML reads it otherwise)' };
const oneOrMany = (item: object) => ({ anyOf: [item, { type: 'array', items: item, minItems: 1 }] });
const ubr = {
  anyOf: [
    { type: 'string', pattern: '^\\d+\\.\\d+$' },
    { type: 'number' },
  ],
  description: 'a patch level as build.UBR, e.g. 26100.8457',
};
const workloadName = { type: 'string', minLength: 1 };
const set = { anyOf: [workloadName, { type: 'array', items: workloadName }], description: 'a name or a list of names' };

const patch = {
  description: 'a patch selector: latest, latest-N, { since: YYYY-MM }, { month: YYYY-MM }, { kb: N } or { ubr: build.UBR }',
  anyOf: [
    { type: 'string', pattern: '^latest(-[0-9]+)?$', description: 'latest or latest-N' },
    { type: 'object', required: ['since'], additionalProperties: false, properties: { since: month } },
    { type: 'object', required: ['month'], additionalProperties: false, properties: { month: oneOrMany(month) } },
    { type: 'object', required: ['kb'], additionalProperties: false, properties: { kb: oneOrMany({ type: 'integer', minimum: 1 }) } },
    { type: 'object', required: ['ubr'], additionalProperties: false, properties: { ubr: oneOrMany(ubr) } },
  ],
};

const os = {
  description: 'a release name, or { release, patch }',
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'object', required: ['release'], additionalProperties: false, properties: { release: { type: 'string', minLength: 1 }, patch } },
  ],
};

const ruleProps = {
  os: oneOrMany({ type: 'string', minLength: 1 }),
  month: oneOrMany(month),
  kb: oneOrMany({ type: 'integer', minimum: 1 }),
  ubr: oneOrMany(ubr),
  driver: oneOrMany(name),
  verifier: oneOrMany(name),
  workloads: set,
  coexist: set,
  repeat: oneOrMany({ type: 'integer', minimum: 1 }),
};

export const matrixSchema = {
  type: 'object',
  required: ['axes'],
  additionalProperties: false,
  properties: {
    name,
    description: { type: 'string' },
    tags: { type: 'array', items: name },
    gate: { type: 'string', minLength: 1, description: 'a path to a gate policy file' },
    filterDelays: {
      type: 'object',
      required: ['wpaProfile'],
      additionalProperties: false,
      description: "Windows cells: one more driver run recorded by WPR's Minifilter profile and exported with this WPA profile",
      properties: {
        wpaProfile: { type: 'string', minLength: 1, description: 'a path to the .wpaProfile that exports the Mini-Filter Delays table' },
        exporter: { type: 'string', pattern: '^[A-Za-z]:\\\\', description: "wpaexporter.exe on the guest, a Windows path (default the Windows Performance Toolkit's folder)" },
      },
    },
    filters: {
      type: 'object',
      propertyNames: name,
      additionalProperties: {
        type: 'object',
        required: ['path'],
        additionalProperties: false,
        properties: { path: { type: 'string', minLength: 1 }, vendor: { type: 'string' }, altitude: { type: 'string' } },
      },
    },
    axes: {
      type: 'object',
      required: ['os', 'driver'],
      additionalProperties: false,
      properties: {
        os: { type: 'array', minItems: 1, items: os },
        driver: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['name', 'path'],
            additionalProperties: false,
            properties: {
              name,
              path: { type: 'string', minLength: 1 },
              params: {
                type: 'object',
                description: 'driver settings at install: module parameters in the lab, service parameters on Windows',
                propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
                additionalProperties: { type: ['string', 'number'] },
              },
              'upgrade-from': {
                description: 'the name of another driver build, or { name, path }',
                anyOf: [
                  name,
                  {
                    type: 'object',
                    required: ['name', 'path'],
                    additionalProperties: false,
                    properties: { name, path: { type: 'string', minLength: 1 } },
                  },
                ],
              },
            },
          },
        },
        verifier: { type: 'array', minItems: 1, items: name },
        workloads: { type: 'array', minItems: 1, items: set },
        coexist: { type: 'array', minItems: 1, items: set },
        repeat: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    include: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          os: { anyOf: [os, { type: 'array', items: os, minItems: 1 }], description: 'a release, { release, patch }, or a list of them' },
          driver: oneOrMany(name),
          verifier: oneOrMany(name),
          workloads: set,
          coexist: set,
          tags: { type: 'array', items: name },
        },
      },
    },
    exclude: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, minProperties: 1, properties: ruleProps },
    },
    faults: {
      type: 'array',
      items: {
        type: 'object',
        required: ['match', 'kind', 'at'],
        additionalProperties: false,
        properties: {
          match: { type: 'object', additionalProperties: false, properties: ruleProps },
          kind: { enum: ['kill-vm'] },
          at: { enum: ['acquire', 'identity', 'baseline', 'install', 'workload'] },
          attempts: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1 },
        },
      },
    },
  },
} as const;
