// Structured input files (YAML, and JSON, which YAML parses too) read with their source positions, so
// every error about a value can name the file, line and column it came from. Validation uses a schema
// library (ajv); this module turns ajv's JSON pointers back into places in the text.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, YAMLParseError, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
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

/**
 * The most nodes YAML aliases may add to a document once expanded (each alias counts the nodes of what
 * it names, nested aliases expanded). An alias bomb (9 levels of 9 aliases: 387 M nodes from a few
 * hundred bytes) stops here with the place of the alias that passed the bound; a real matrix that
 * reuses a driver or an os entry through anchors adds tens to thousands. The yaml package's own check
 * (`maxAliasCount`) counts uses of one anchor, so it refused 150 ordinary aliases, and it threw a bare
 * ReferenceError with no place (issue #16 row 4).
 */
export const YAML_MAX_ALIAS_NODES = 100_000;

/**
 * The deepest nesting of collections read. yaml composes nodes recursively: about 800 levels overflow
 * the stack, and after such an overflow the next parse in the process could die in V8 (a fatal
 * "RegExpCompiler Allocation failed", seen while fuzzing). Real inputs nest under 10 levels (a matrix
 * 6, a CVRF document 7); the limit is checked on yaml's token tree, which is built without recursion.
 */
export const YAML_MAX_DEPTH = 100;

const COLLECTION_TOKENS = new Set(['block-map', 'block-seq', 'flow-collection']);

/** Refuses a token tree nested deeper than YAML_MAX_DEPTH, at the offset of the first too deep. */
function checkDepth(file: string, tokens: readonly unknown[], lines: LineCounter): void {
  const stack: Array<{ v: unknown; d: number }> = tokens.map((v) => ({ v, d: 0 }));
  while (stack.length > 0) {
    const { v, d } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const type = (v as { type?: unknown }).type;
    const depth = typeof type === 'string' && COLLECTION_TOKENS.has(type) ? d + 1 : d;
    if (depth > YAML_MAX_DEPTH) {
      const pos = lines.linePos((v as { offset?: number }).offset ?? 0);
      throw new InputError({ file, line: pos.line, column: pos.col }, `collections nested more than YAML_MAX_DEPTH (${YAML_MAX_DEPTH}) deep; expected a shallower document`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push({ v: child, d: depth });
  }
}

/** Parses YAML (or JSON) text; a syntax error is an InputError with line and column. */
export function parseSource(file: string, text: string): SourceDoc {
  const lines = new LineCounter();
  // What yaml's parseDocument does, with the token tree checked for depth before it is composed.
  // uniqueKeys off: yaml checks each key against every earlier key of its mapping, quadratic in the
  // mapping (3 s for 20k keys); checkNodes does the same check with a set.
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  checkDepth(file, tokens, lines);
  let doc: Document.Parsed | null = null;
  for (const d of new Composer({ uniqueKeys: false }).compose(tokens, true, text.length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; expected one'));
      break;
    }
  }
  if (!doc) throw new InputError({ file }, 'no YAML document');
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    const detail = first.message.split('\n')[0] ?? first.message;
    throw new InputError({ file, line: pos.line, column: pos.col }, `YAML syntax error: ${detail}`);
  }
  checkNodes(file, doc, lines);
  // Aliases were bounded above, by what they expand to; yaml's per-anchor count is off.
  return { file, text, doc, lines, value: doc.toJS({ maxAliasCount: -1 }) };
}

/**
 * One walk over the parsed nodes in document order (an alias names the closest anchor before it),
 * without recursion (a deeply nested document must not overflow the stack). Sizes every node with
 * its aliases expanded and refuses an alias that makes the aliases' total pass YAML_MAX_ALIAS_NODES,
 * an alias inside the node it names (a cycle), an alias to no anchor; and a key written twice in one
 * mapping (the earliest such key is reported).
 */
function checkNodes(file: string, doc: Document.Parsed, lines: LineCounter): void {
  const root = doc.contents as unknown;
  if (!root) return;
  const placeAt = (n: { range?: readonly number[] | null }): SourcePlace => {
    const pos = lines.linePos(n.range?.[0] ?? 0);
    return { file, line: pos.line, column: pos.col };
  };
  const anchors = new Map<string, unknown>();
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let added = 0;
  let dup: { at: number; key: string } | null = null;
  interface Frame { node: unknown; kids: unknown[]; i: number; size: number }
  const stack: Frame[] = [];
  // Returns the size of a leaf (scalar, alias, empty) or pushes a frame for a collection or pair.
  const visit = (node: unknown): number | null => {
    if (node === null || node === undefined) return 0;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) throw new InputError(placeAt(node), `alias *${node.source} names no anchor before it`);
      if (open.has(target)) throw new InputError(placeAt(node), `alias *${node.source} refers to a node that contains it; expected an alias to a finished node`);
      const n = sizes.get(target) ?? 1;
      added += n;
      if (added > YAML_MAX_ALIAS_NODES) {
        throw new InputError(placeAt(node), `YAML aliases expand to more than YAML_MAX_ALIAS_NODES (${YAML_MAX_ALIAS_NODES.toLocaleString('en-US')}) nodes by this alias (*${node.source}); expected aliases that expand to less (an alias bomb?)`);
      }
      return n;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node);
    if (isScalar(node)) {
      sizes.set(node, 1);
      return 1;
    }
    if (isPair(node)) {
      stack.push({ node, kids: [node.key, node.value], i: 0, size: 0 });
      return null;
    }
    if (isMap(node)) {
      const keys = new Set<string>();
      for (const p of node.items as Pair[]) {
        if (!isScalar(p.key)) continue;
        const v = p.key.value;
        // Keys are equal when their values are (yaml's own rule): 1 and "1" are two keys.
        const k = `${typeof v}:${String(v)}`;
        if (!keys.has(k)) {
          keys.add(k);
          continue;
        }
        const at = p.key.range?.[0] ?? 0;
        if (!dup || at < dup.at) dup = { at, key: String(v) };
        break;
      }
    }
    if (isMap(node) || isSeq(node)) {
      open.add(node);
      stack.push({ node, kids: node.items as unknown[], i: 0, size: 1 });
      return null;
    }
    return 1;
  };
  const top = visit(root);
  while (top === null && stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.i < f.kids.length) {
      const n = visit(f.kids[f.i++]);
      if (n !== null) f.size += n;
      continue;
    }
    stack.pop();
    sizes.set(f.node, f.size);
    open.delete(f.node);
    const parent = stack[stack.length - 1];
    if (parent) parent.size += f.size;
  }
  // (set inside visit, which TypeScript does not follow)
  const found = dup as { at: number; key: string } | null;
  if (found) throw new InputError(placeAt({ range: [found.at] }), `YAML syntax error: Map keys must be unique; "${found.key}" is a key of this mapping already`);
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

// Key -> pair of each mapping, built on the first look-up: a place per error by scanning the mapping
// made 20k errors in one mapping quadratic (issue #16 row 12). The first pair of a key wins, as the
// scan did (checkNodes refuses duplicates anyway).
const pairIndexes = new WeakMap<object, Map<string, Pair>>();
function pairIndex(map: YAMLMap): Map<string, Pair> {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items as Pair[]) {
      if (!isScalar(p.key)) continue;
      const k = String(p.key.value);
      if (!index.has(k)) index.set(k, p);
    }
    pairIndexes.set(map, index);
  }
  return index;
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
      const pair = pairIndex(node).get(String(seg));
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
  // Paths that are an ancestor of another error's path, found by walking each path's own ancestors
  // (comparing every path with every other was quadratic: issue #16 row 12).
  const ancestors = new Set<string>();
  for (const q of byPath.keys()) {
    for (let cut = q.lastIndexOf('/'); cut >= 0; cut = q.lastIndexOf('/', cut - 1)) {
      const up = q.slice(0, cut);
      if (ancestors.has(up)) break; // its own ancestors are in already
      ancestors.add(up);
      if (cut === 0) break;
    }
  }
  const depth = (p: string): number => {
    let n = 0;
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
    return n;
  };
  const paths = [...byPath.keys()].filter((p) => !ancestors.has(p)).map((p) => ({ p, d: depth(p) }));
  // Deepest first, stable otherwise (ajv's order within one depth).
  paths.sort((a, b) => b.d - a.d);
  const out: InputError[] = [];
  const seen = new Set<string>();
  for (const { p } of paths) {
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

/**
 * Errors a SchemaError's message lists; the rest are counted on one more line ("and 19,950 more
 * schema errors") and all are kept in `errors`. A document with 20k mistakes needs its first few
 * fixed, not a 20k-line message.
 */
export const SCHEMA_ERRORS_LISTED = 50;

/** Several input errors at once; its message lists them (first line is the most specific). */
export class SchemaError extends InputError {
  readonly errors: InputError[];
  constructor(errors: InputError[]) {
    const first = errors[0]!;
    const rest = errors.slice(1, SCHEMA_ERRORS_LISTED).map((e) => `  ${e.message}`);
    const more = errors.length - SCHEMA_ERRORS_LISTED;
    if (more > 0) rest.push(`  and ${more.toLocaleString('en-US')} more schema errors (SCHEMA_ERRORS_LISTED is ${SCHEMA_ERRORS_LISTED})`);
    super(first.place, rest.length === 0 ? first.detail : `${first.detail}\n${rest.join('\n')}`);
    this.errors = errors;
  }
}
