import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { InputError } from './errors.ts';
import { compileSchema, parseSource, schemaErrors, SchemaError, SCHEMA_ERRORS_LISTED, validateOrThrow, YAML_MAX_ALIAS_NODES, YAML_MAX_DEPTH } from './source-doc.ts';
import { runFleetgate } from '../harness/cli/run-cli.test-helper.ts';
import { aliasBomb } from './testdata/yaml-bomb.ts';

// ---- issue #16 row 4: aliases are bounded by what they expand to, with the tool's own error

t.test('row 4 (#16): a YAML alias bomb is an InputError naming file, line and column', async (t) => {
  const err = t.throws(() => parseSource('bomb.yaml', aliasBomb())) as Error;
  t.ok(err instanceof InputError, `an InputError, not ${err.constructor.name}`);
  // the aliases up to line 5 add 74,718 nodes; the first *e on line 6 passes 100,000.
  t.match(err.message, /^bomb\.yaml:6:\d+: YAML aliases expand to more than YAML_MAX_ALIAS_NODES \(100,000\) nodes by this alias \(\*e\)/);
  const dir = mkdtempSync(join(tmpdir(), 'fg-srcdoc-'));
  const file = join(dir, 'bomb.yaml');
  writeFileSync(file, aliasBomb());
  const r = runFleetgate(['plan', file]);
  t.equal(r.code, 64, 'exit 64 (bad input), not 70 (internal error)');
  t.match(r.stderr, `${file}:6:`);
  t.notOk(r.stderr.split('\n').some((l) => l.trimStart().startsWith('at ')), 'no stack trace');
});

t.test('row 4 (#16): 150 ordinary aliases load (a real matrix reuses anchors freely)', async (t) => {
  const text = `driver: &d { name: cand, path: pkg, params: { delay_us: 0, mode: audit } }\nlist:\n${'  - *d\n'.repeat(150)}`;
  const v = parseSource('ok.yaml', text).value as { list: unknown[] };
  t.equal(v.list.length, 150);
  t.same(v.list[149], { name: 'cand', path: 'pkg', params: { delay_us: 0, mode: 'audit' } });
  // Right under the bound still loads: 2 x 50,000 nodes.
  const wide = `x: &x [${Array(49_999).fill('1').join(',')}]\ny: [*x, *x]\n`;
  t.equal((parseSource('wide.yaml', wide).value as { y: unknown[][] }).y[1]!.length, 49_999);
  t.ok(YAML_MAX_ALIAS_NODES >= 100_000);
});

t.test('row 4 (#16): an alias inside its own anchor, and an unknown alias, are InputErrors with a place', async (t) => {
  const self = t.throws(() => parseSource('self.yaml', 'a: &a\n  - 1\n  - *a\n')) as Error;
  t.ok(self instanceof InputError);
  t.match(self.message, /^self\.yaml:3:5: alias \*a refers to a node that contains it/);
  const unknown = t.throws(() => parseSource('unknown.yaml', 'a: 1\nb: *nope\n')) as Error;
  t.ok(unknown instanceof InputError);
  t.match(unknown.message, /^unknown\.yaml:2:\d+: /);
});

// ---- issue #16 row 12: schema errors by the thousand in linear work

/**
 * Work done while `fn` runs, counted deterministically: every callback of Array find/some/filter/
 * findIndex and every String startsWith (the look-ups that made 20k errors quadratic). A timing
 * comparison would flake on a shared machine; a count does not.
 */
function countWork(fn: () => void): number {
  let n = 0;
  const A = Array.prototype as unknown as Record<string, (this: unknown[], cb: (...a: unknown[]) => unknown, thisArg?: unknown) => unknown>;
  const saved = { find: A.find!, some: A.some!, filter: A.filter!, findIndex: A.findIndex! };
  const startsWith = String.prototype.startsWith;
  for (const [k, orig] of Object.entries(saved)) {
    A[k] = function (this: unknown[], cb, thisArg) {
      return orig.call(this, (...a: unknown[]) => {
        n++;
        return cb.apply(thisArg, a);
      });
    };
  }
  String.prototype.startsWith = function (this: string, ...a: [string, number?]) {
    n++;
    return startsWith.apply(this, a);
  };
  try {
    fn();
  } finally {
    Object.assign(A, saved);
    String.prototype.startsWith = startsWith;
  }
  return n;
}

const unknownKeysSchema = compileSchema<unknown>({ type: 'object', additionalProperties: false, properties: { a: { type: 'integer' } } });
const listSchema = compileSchema<unknown>({
  type: 'array',
  items: { type: 'object', additionalProperties: false, properties: { name: { type: 'string' } } },
});
const keysDoc = (n: number) => parseSource('keys.yaml', Array.from({ length: n }, (_, i) => `k${i}: 1\n`).join(''));
const listDoc = (n: number) => parseSource('list.yaml', '- { name: x, bogus: 1 }\n'.repeat(n));

function workOfErrors(src: ReturnType<typeof parseSource>, validate: typeof listSchema): { work: number; count: number } {
  if (validate(src.value)) throw new Error('the generated document was meant to be invalid');
  const errors = validate.errors!;
  let count = 0;
  const work = countWork(() => {
    count = schemaErrors(src, errors).length;
  });
  return { work, count };
}

t.test('row 12 (#16): 20k schema errors: the work grows linearly (unknown keys of one mapping, errors in 20k list items)', async (t) => {
  for (const [what, make, validate] of [['20k unknown keys', keysDoc, unknownKeysSchema], ['20k bad list items', listDoc, listSchema]] as const) {
    const small = workOfErrors(make(2_000), validate);
    const big = workOfErrors(make(20_000), validate);
    t.equal(small.count, 2_000, `${what}: every error is reported`);
    t.equal(big.count, 20_000, `${what}: every error is reported`);
    t.ok(big.work <= 15 * Math.max(small.work, 2_000), `${what}: 10x the errors, ${(big.work / Math.max(small.work, 1)).toFixed(1)}x the work (${small.work} -> ${big.work})`);
    t.ok(big.work < 20 * 20_000, `${what}: ${big.work} look-up steps for 20,000 errors`);
  }
});

t.test('row 12 (#16): a SchemaError lists SCHEMA_ERRORS_LISTED errors and says how many more there were', async (t) => {
  const src = keysDoc(20_000);
  const err = t.throws(() => validateOrThrow(src, unknownKeysSchema)) as SchemaError;
  t.ok(err instanceof SchemaError);
  t.equal(err.errors.length, 20_000, 'every error is kept on the error object');
  const lines = err.message.split('\n');
  t.equal(lines.length, SCHEMA_ERRORS_LISTED + 1, 'the message lists the first ones and a count of the rest');
  t.match(lines[0], /^keys\.yaml:1:1: unknown key "k0"/);
  t.match(lines.at(-1), `and ${(20_000 - SCHEMA_ERRORS_LISTED).toLocaleString('en-US')} more schema errors (SCHEMA_ERRORS_LISTED is ${SCHEMA_ERRORS_LISTED})`);
  const few = t.throws(() => validateOrThrow(keysDoc(3), unknownKeysSchema)) as SchemaError;
  t.equal(few.message.split('\n').length, 3, 'a few errors are all listed, with no count line');
});

t.test('row 12 (#16): a key written twice is refused at its place, in time linear in the mapping', async (t) => {
  t.throws(() => parseSource('dup.yaml', 'a: 1\nb: 2\na: 3\n'), /^dup\.yaml:3:1: YAML syntax error: Map keys must be unique; "a" is a key/);
  t.throws(() => parseSource('dup.yaml', 'x: { a: 1, b: 2, a: 3 }\n'), /^dup\.yaml:1:18: YAML syntax error: Map keys must be unique/);
  t.throws(() => parseSource('dup.yaml', 'x:\n  y: { c: 1, c: 2 }\n  y: 1\n'), /^dup\.yaml:2:14: YAML syntax error: Map keys must be unique; "c"/, 'the earliest duplicate, though its mapping is inside the other');
  t.same(parseSource('ok.yaml', '1: a\n"1": b\n').value, { 1: 'b' }, 'a number key and a string key are two keys (as yaml has them); the JavaScript value keeps the last');
  // yaml's own check compared each key with every earlier one: 20k keys cost 3 s. Counted as the
  // Array.some callbacks it made (200M), against at most a few per key now.
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}: 1\n`).join('');
  const small = countWork(() => parseSource('keys.yaml', keys(2_000)));
  const big = countWork(() => parseSource('keys.yaml', keys(20_000)));
  t.ok(big <= 15 * small, `10x the keys, ${(big / small).toFixed(1)}x the work (${small} -> ${big})`);
  t.ok(big < 50 * 20_000, `${big} look-up steps to parse 20,000 keys`);
});

t.test('fuzz finding (#16): deep nesting is refused past YAML_MAX_DEPTH, before yaml recurses into it', async (t) => {
  // Each of these overflowed yaml's recursive composer, and a second one in the same process killed
  // it (V8: "RegExpCompiler Allocation failed").
  const flow = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  const block = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}- `).join('\n');
  for (let round = 0; round < 3; round++) {
    t.throws(() => parseSource('flow.yaml', flow(5_000)), /^flow\.yaml:1:101: collections nested more than YAML_MAX_DEPTH \(100\) deep/);
    t.throws(() => parseSource('block.yaml', block(1_200)), /^block\.yaml:101:101: collections nested more than YAML_MAX_DEPTH/);
  }
  t.equal(YAML_MAX_DEPTH, 100);
  let v = parseSource('ok.yaml', flow(YAML_MAX_DEPTH)).value;
  let depth = 0;
  while (Array.isArray(v)) {
    depth++;
    v = v[0];
  }
  t.equal(depth, YAML_MAX_DEPTH, 'at the limit it loads');
});
