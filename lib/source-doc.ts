// Structured input files (YAML, and JSON, which YAML parses too) read with their source positions, so
// every error about a value can name the file, line and column it came from. Validation uses a schema
// library (ajv); this module turns ajv's JSON pointers back into places in the text.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { InputError, type SourcePlace } from './errors.ts';

export type PathSegment = string | number;

export interface SourceDoc {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain JavaScript value of the document. */
  value: unknown;
}

/** Parses YAML (or JSON) text; a syntax error is an InputError with line and column. */
export function parseSource(file: string, text: string): SourceDoc {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    const detail = first.message.split('\n')[0] ?? first.message;
    throw new InputError({ file, line: pos.line, column: pos.col }, `YAML syntax error: ${detail}`);
  }
  return { file, text, doc, lines, value: doc.toJS({ maxAliasCount: 100 }) };
}

export function readSource(file: string): SourceDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file }, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`);
  }
  return parseSource(file, text);
}

/**
 * The place of the value at `path` (or of its key when `key` is true: the right place for "unknown
 * key" errors). Falls back to the nearest ancestor that exists, then to the file itself.
 */
export function placeOf(src: SourceDoc, path: readonly PathSegment[], opts: { key?: boolean } = {}): SourcePlace {
  let node: unknown = src.doc.contents;
  let best: Node | null = (node as Node | null) ?? null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      if (last && opts.key && pair.key) {
        best = pair.key as Node;
        break;
      }
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      break;
    }
    if (node && (isScalar(node) || isMap(node) || isSeq(node))) best = node;
    else if (isPair(node)) best = null;
    else break;
  }
  const offset = best?.range?.[0];
  if (offset === undefined) return { file: src.file, line: 1, column: 1 };
  const pos = src.lines.linePos(offset);
  return { file: src.file, line: pos.line, column: pos.col };
}

export function errorAt(src: SourceDoc, path: readonly PathSegment[], detail: string, opts: { key?: boolean } = {}): InputError {
  return new InputError(placeOf(src, path, opts), detail);
}

// verbose: errors carry their parentSchema, whose description words the message.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });

export function compileSchema<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

function pointerToPath(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return `${typeof v} ${String(v)}`;
}

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Names the field the way a user reads it: `axes.os[0].patch`. */
export function pathLabel(path: readonly PathSegment[]): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || 'the document';
}

/**
 * Hooks a caller can give to word schema errors in its own terms (e.g. "unknown axis" instead of
 * "must NOT have additional properties").
 */
export interface SchemaWording {
  unknownKey?: (parent: readonly PathSegment[], key: string) => string | undefined;
}

/**
 * One InputError per schema violation. With anyOf/oneOf, ajv reports every branch's complaint plus a
 * summary: errors at a path that is an ancestor of another error's path are consequences and are
 * dropped, and at one path a described anyOf ("a patch selector: latest, latest-N, ...") is worded
 * better than any single branch's complaint.
 */
export function schemaErrors(src: SourceDoc, errors: readonly ErrorObject[], wording: SchemaWording = {}): InputError[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const group = byPath.get(e.instancePath) ?? [];
    group.push(e);
    byPath.set(e.instancePath, group);
  }
  const paths = [...byPath.keys()].filter((p) => ![...byPath.keys()].some((q) => q !== p && q.startsWith(`${p}/`)));
  paths.sort((a, b) => b.split('/').length - a.split('/').length);
  const out: InputError[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const group = byPath.get(p)!;
    const described = group.find((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && (e.parentSchema as { description?: string } | undefined)?.description);
    const chosen = described ? [described] : group.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
    for (const e of chosen.length ? chosen : group) {
      const err = describeError(src, e, wording);
      if (seen.has(err.message)) continue;
      seen.add(err.message);
      out.push(err);
    }
  }
  return out;
}

function describeError(src: SourceDoc, e: ErrorObject, wording: SchemaWording): InputError {
  const path = pointerToPath(e.instancePath);
  const schemaDesc = (e.parentSchema as { description?: string } | undefined)?.description;
  const shown = describeValue(valueAt(src.value, path));
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const detail = wording.unknownKey?.(path, key) ?? `unknown key "${key}" in ${pathLabel(path)}; expected one of: ${allowed.join(', ')}`;
      return errorAt(src, [...path, key], detail, { key: true });
    }
    case 'required':
      return errorAt(src, path, `${pathLabel(path)} is missing "${(e.params as { missingProperty: string }).missingProperty}"`);
    case 'enum':
      return errorAt(src, path, `${pathLabel(path)} is ${shown}; expected one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
    case 'type':
      return errorAt(src, path, `${pathLabel(path)} is ${shown}; expected ${(e.params as { type: string }).type}`);
    case 'pattern':
      return errorAt(src, path, `${pathLabel(path)} is ${shown}; expected ${schemaDesc ?? `to match ${(e.params as { pattern: string }).pattern}`}`);
    case 'anyOf':
    case 'oneOf':
      return errorAt(src, path, `${pathLabel(path)} is ${shown}; expected ${schemaDesc ?? 'one of the allowed forms'}`);
    default:
      return errorAt(src, path, `${pathLabel(path)} ${e.message ?? 'is invalid'}`);
  }
}

/** Validates `src.value` against a compiled schema; throws the first error, with every error attached. */
export function validateOrThrow<T>(src: SourceDoc, validate: ValidateFunction<T>, wording?: SchemaWording): T {
  if (validate(src.value)) return src.value as T;
  const errs = schemaErrors(src, validate.errors ?? [], wording);
  throw new SchemaError(errs);
}

/** Several input errors at once; its message lists them all (first line is the most specific). */
export class SchemaError extends InputError {
  readonly errors: InputError[];
  constructor(errors: InputError[]) {
    const first = errors[0]!;
    super(first.place, errors.length === 1 ? first.detail : `${first.detail}\n${errors.slice(1).map((e) => `  ${e.message}`).join('\n')}`);
    this.errors = errors;
  }
}
