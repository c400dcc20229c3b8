// Workload files: the built-ins load, defaults are filled, and each kind of bad input is an InputError
// naming file:line:col and what was expected, raised on the controller before any VM starts.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../lib/errors.ts';
import { BUILTIN_WORKLOAD_NAMES } from './builtin.ts';
import { loadWorkload, parseWorkload } from './spec.ts';

t.test('every built-in loads, under its own name, with unique step names', async (t) => {
  for (const name of BUILTIN_WORKLOAD_NAMES) {
    const spec = loadWorkload(name);
    t.equal(spec.name, name);
    t.ok(spec.description.length > 0);
    t.ok(spec.operations.length > 0);
    t.equal(new Set(spec.operations.map((s) => s.name)).size, spec.operations.length, `${name}: unique names`);
  }
  const ops = new Set(BUILTIN_WORKLOAD_NAMES.flatMap((n) => loadWorkload(n).operations.map((s) => s.op)));
  for (const op of ['create', 'open', 'read', 'write', 'rename', 'delete', 'enumerate', 'extract', 'spawn', 'exec']) t.ok(ops.has(op as never), `some built-in uses ${op}`);
});

t.test('defaults: from the file, then per operation', async (t) => {
  const spec = parseWorkload('w.yaml', `
defaults: { dir: d, files: 10, fileSize: { min: 1, max: 9 } }
operations:
  - op: create
  - op: open
    durationMs: 50
  - op: open
    warmup: 2
  - op: delete
    warmup: 3
  - op: exec
    command: [node, -e, "0"]
`);
  t.equal(spec.name, 'w');
  t.equal(spec.priority, 'normal', 'the measuring process keeps its priority unless the file says otherwise');
  t.equal(parseWorkload('n.yaml', 'priority: high\noperations:\n  - op: spawn\n').priority, 'high');
  const [create, open1, open2, del, exec] = spec.operations;
  t.match(create, { name: 'create', op: 'create', count: 10, durationMs: null, dir: 'd', files: 10, fileSize: { min: 1, max: 9 }, concurrency: 1, warmup: 0, errorLimit: 100, fsync: false, command: null });
  t.match(open1, { name: 'open', count: null, durationMs: 50 });
  t.match(open2, { name: 'open#2', count: 10, warmup: 2 });
  t.match(del, { count: 7, warmup: 3 });
  t.match(exec, { count: 10, command: ['node', '-e', '0'] });
});

t.test('a step count replaces a default durationMs', async (t) => {
  const spec = parseWorkload('w.yaml', 'defaults: { durationMs: 100 }\noperations:\n  - op: open\n  - op: open\n    name: counted\n    count: 5\n');
  t.match(spec.operations, [{ count: null, durationMs: 100 }, { count: 5, durationMs: null }]);
});

const bad: Array<{ name: string; text: string; line: number; column: number; message: RegExp }> = [
  { name: 'yaml syntax', text: 'operations:\n  - op: [create\n  - op: open\n', line: 3, column: 3, message: /YAML syntax error/ },
  { name: 'unknown operation', text: 'operations:\n  - op: create\n  - op: opne\n', line: 3, column: 9, message: /operations\[1\]\.op is "opne"; expected one of: create, open, read, write, rename, delete, enumerate, extract, spawn, exec/ },
  { name: 'negative count', text: 'operations:\n  - op: open\n    count: -5\n', line: 3, column: 12, message: /operations\[0\]\.count must be >= 1/ },
  { name: 'count not a number', text: 'operations:\n  - op: open\n    count: many\n', line: 3, column: 12, message: /operations\[0\]\.count is "many"; expected integer/ },
  { name: 'unknown key', text: 'operations:\n  - op: open\n    cuont: 5\n', line: 3, column: 5, message: /unknown key "cuont" in operations\[0\]; expected one of: op, name, command, count/ },
  { name: 'no operations', text: 'name: x\n', line: 1, column: 1, message: /the document is missing "operations"/ },
  { name: 'empty operations', text: 'operations: []\n', line: 1, column: 13, message: /operations must NOT have fewer than 1 items/ },
  { name: 'bad fileSize', text: 'operations:\n  - op: create\n    fileSize: { min: 5 }\n', line: 3, column: 15, message: /fileSize is a mapping; expected a size in bytes \(0 to 64 MiB\), or \{ min, max \}/ },
  { name: 'fileSize min above max', text: 'operations:\n  - op: create\n    fileSize: { min: 9, max: 5 }\n', line: 3, column: 15, message: /fileSize min 9 is above max 5/ },
  { name: 'count and durationMs', text: 'operations:\n  - op: open\n    count: 5\n    durationMs: 10\n', line: 4, column: 5, message: /sets both count and durationMs; expected one of them/ },
  { name: 'exec without command', text: 'operations:\n  - op: create\n  - op: exec\n    count: 2\n', line: 3, column: 5, message: /op exec needs "command"/ },
  { name: 'command on another op', text: 'operations:\n  - op: spawn\n    command: [ls]\n', line: 3, column: 5, message: /"command" is only for op exec \(op is spawn\)/ },
  { name: 'command not argv', text: 'operations:\n  - op: exec\n    command: "node -e 0"\n', line: 3, column: 14, message: /command is "node -e 0"; expected array/ },
  { name: 'delete more than the set', text: 'operations:\n  - op: delete\n    files: 10\n    count: 11\n', line: 4, column: 12, message: /delete of warmup 0 \+ count 11 files is more than the 10 files in the set/ },
  { name: 'duplicate name', text: 'operations:\n  - op: open\n    name: a\n  - op: read\n    name: a\n', line: 5, column: 11, message: /step name "a" is used twice/ },
  { name: 'unknown priority', text: 'priority: realtime\noperations:\n  - op: open\n', line: 1, column: 11, message: /priority is "realtime"; expected one of: high, normal/ },
  { name: 'zero concurrency', text: 'defaults:\n  concurrency: 0\noperations:\n  - op: open\n', line: 2, column: 16, message: /defaults\.concurrency must be >= 1/ },
];

for (const c of bad) {
  t.test(`bad input: ${c.name}`, async (t) => {
    const err = t.throws(() => parseWorkload('bad.yaml', c.text)) as unknown;
    t.type(err, InputError);
    const e = err as InputError;
    t.match(e.message, c.message);
    t.same({ line: e.place.line, column: e.place.column }, { line: c.line, column: c.column }, e.message);
    t.match(e.message, new RegExp(`^bad\\.yaml:${c.line}:${c.column}: `));
  });
}

t.test('loadWorkload: paths resolve against baseDir; unknown names suggest a built-in', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-workload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'mine.yaml'), 'name: mine\noperations:\n  - op: spawn\n    count: 3\n');
  t.equal(loadWorkload('mine.yaml', { baseDir: dir }).name, 'mine');
  t.throws(() => loadWorkload('file-strom'), { name: 'InputError', message: /unknown workload "file-strom".*did you mean "file-storm"\?/ });
  t.throws(() => loadWorkload('missing.yaml', { baseDir: dir }), { name: 'InputError', message: /missing\.yaml: file not found/ });
  writeFileSync(join(dir, 'broken.yaml'), 'operations:\n  - op: open\n    count: -1\n');
  t.throws(() => loadWorkload(join(dir, 'broken.yaml')), { message: new RegExp(`broken\\.yaml:3:12: operations\\[0\\]\\.count must be >= 1`) });
});
