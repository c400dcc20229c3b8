// Every regular expression in the product's source is checked for catastrophic backtracking (ReDoS)
// by recheck, a static-and-fuzzing checker: a reader of guest or tool output that backtracks turns a
// few kilobytes of hostile text into minutes of frozen controller (issue #16, rows 1 and 2).
//
// It reads the TypeScript sources (not the compiled regexps), so a new pattern anywhere is checked
// without being registered. `new RegExp(...)` built from a template is checked with its `${...}` parts
// replaced by the string constants they name in the same file; a part computed at run time (an
// escaped name, a heredoc marker) is checked as the literal "x".
//
// A pattern may stay 2nd-degree polynomial only with a `// redos-ok: <reason>` comment on its line or
// the line above naming the bound that keeps it small (a line cut to a named length); exponential or
// higher-degree patterns are never accepted. The accepted ones are printed.
//
// FLEETGATE_REDOS_FILES=path1,path2 narrows the scan (for a quick look at one file while editing).
import t from 'tap';
import ts from 'typescript';
import { checkSync } from 'recheck';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(): string[] {
  const only = process.env.FLEETGATE_REDOS_FILES;
  if (only) return only.split(',').filter(Boolean);
  return execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.endsWith('.test.ts') && !f.includes('test-doubles/') && !f.startsWith('node_modules/'));
}

interface Found {
  where: string;
  /** The reason given in a `// redos-ok:` comment, if any. */
  ok?: string;
  source: string;
  flags: string;
}

function constStrings(file: ts.SourceFile): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      const i = n.initializer;
      if (ts.isStringLiteral(i) || ts.isNoSubstitutionTemplateLiteral(i)) out.set(n.name.text, i.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return out;
}

function regexesIn(path: string): Found[] {
  const file = ts.createSourceFile(path, readFileSync(`${root}${path}`, 'utf8'), ts.ScriptTarget.Latest, true);
  const consts = constStrings(file);
  const found: Found[] = [];
  const lines = file.text.split('\n');
  const lineOf = (n: ts.Node): number => file.getLineAndCharacterOfPosition(n.getStart()).line;
  const where = (n: ts.Node): string => `${path}:${lineOf(n) + 1}`;
  const okReason = (n: ts.Node): string | undefined => {
    const l = lineOf(n);
    for (const s of [lines[l], lines[l - 1]]) {
      const m = s === undefined ? null : /\/\/ redos-ok: (.+)/.exec(s);
      if (m) return m[1]!.trim();
    }
    return undefined;
  };
  const text = (n: ts.Expression | undefined): string | undefined => {
    if (!n) return undefined;
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) return n.text;
    if (ts.isTemplateExpression(n)) {
      let s = n.head.text;
      for (const span of n.templateSpans) {
        const e = span.expression;
        s += (ts.isIdentifier(e) ? consts.get(e.text) : undefined) ?? 'x';
        s += span.literal.text;
      }
      return s;
    }
    if (ts.isIdentifier(n)) return consts.get(n.text);
    return undefined;
  };
  const visit = (n: ts.Node): void => {
    if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const lit = (n as ts.RegularExpressionLiteral).text;
      const slash = lit.lastIndexOf('/');
      found.push({ where: where(n), ok: okReason(n), source: lit.slice(1, slash), flags: lit.slice(slash + 1) });
    } else if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'RegExp') {
      const source = text(n.arguments?.[0]);
      const flags = n.arguments?.[1] === undefined ? '' : text(n.arguments[1]);
      if (source === undefined || flags === undefined) {
        found.push({ where: where(n), source: '', flags: '<not a constant: build it from string constants>' });
      } else {
        found.push({ where: where(n), ok: okReason(n), source, flags });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  return found;
}

const all = sourceFiles().flatMap(regexesIn);

t.test('every regular expression in the sources is free of catastrophic backtracking', (t) => {
  t.ok(all.length > 0, 'found regular expressions to check');
  const unsafe: string[] = [];
  for (const r of all) {
    if (r.flags.startsWith('<')) {
      unsafe.push(`${r.where}: ${r.flags}`);
      continue;
    }
    // The seed keeps the fuzzing part of the check the same from run to run.
    const d = checkSync(r.source, r.flags, { timeout: 10_000, randomSeed: 1 });
    if (d.status === 'vulnerable' && r.ok && d.complexity.type === 'polynomial' && d.complexity.degree <= 2) {
      t.comment(`accepted ${r.where}: /${r.source}/${r.flags} (${d.complexity.summary}): ${r.ok}`);
      continue;
    }
    if (d.status !== 'safe') {
      const how = d.status === 'vulnerable' ? `${d.complexity.summary}; attack ${d.attack.pattern.slice(0, 120)}` : d.status;
      unsafe.push(`${r.where}: /${r.source}/${r.flags} is ${how}`);
    }
  }
  t.same(unsafe, [], `${all.length} expressions checked; none may backtrack more than linearly`);
  t.end();
});

t.test('the scan sees literals, and templates built from constants', (t) => {
  // A self-check on this file's own scanner: a quadratic pattern is reported, a linear one is not.
  t.equal(checkSync('\\s+$', '', { randomSeed: 1 }).status, 'vulnerable');
  t.equal(checkSync('^[a-z]+$', '', { randomSeed: 1 }).status, 'safe');
  t.end();
});
