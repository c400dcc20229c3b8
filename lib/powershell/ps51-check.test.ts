// Every .ps1 of the project parses with PowerShell's own parser and uses nothing Windows PowerShell
// 5.1 lacks (the guests and Hyper-V hosts run 5.1; pwsh 7 runs here). The checker is shown to catch
// each construct it knows, in a script written for the purpose.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { powerShellTools, pwshSkip } from '../pwsh.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CHECK = fileURLToPath(new URL('./ps51-check.ps1', import.meta.url));
const skip = pwshSkip();

interface Finding {
  file: string;
  line: number;
  column: number;
  what: string;
}

function check(files: string[]): Finding[] {
  const r = spawnSync(powerShellTools().pwsh!, ['-NoProfile', '-NonInteractive', '-File', CHECK], { input: files.join('\n'), encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`ps51-check failed (${r.status}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Finding);
}

t.test('every .ps1 in the repository parses and is PowerShell 5.1', { skip }, async (t) => {
  const files = execFileSync('git', ['ls-files', '*.ps1'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => path.join(REPO, f));
  t.ok(files.length >= 30, `${files.length} scripts`);
  t.same(check(files).map((f) => `${path.relative(REPO, f.file)}:${f.line}:${f.column}: ${f.what}`), []);
});

t.test('the checker finds each construct 5.1 lacks, where it is', { skip }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-ps51-'));
  const bad = path.join(dir, 'bad.ps1');
  const lines = [
    "$ErrorActionPreference = 'Stop'",
    '$a = $true ? 1 : 2',
    'Get-Item . && Get-Item .',
    '$b = $null ?? 3',
    '$c ??= 4',
    '$d = ${a}?.Length',
    "$e = '{}' | ConvertFrom-Json -AsHashtable",
    "Set-Content -Path x -Value y -Encoding utf8NoBOM",
    '1..2 | ForEach-Object -Parallel { $_ }',
    'function f { begin {} clean {} }',
    '$broken = (',
  ];
  writeFileSync(bad, lines.join('\n'));
  const found = check([bad]);
  const at = (line: number, what: RegExp) => t.ok(found.some((f) => f.line === line && what.test(f.what)), `line ${line}: ${what}`);
  at(2, /ternary/);
  at(3, /pipeline chains/);
  at(4, /\?\?/);
  at(5, /\?\?=/);
  at(6, /null-conditional/);
  at(7, /ConvertFrom-Json -AsHashtable/);
  at(8, /utf8NoBOM/);
  at(9, /ForEach-Object -Parallel/);
  at(10, /clean blocks/);
  t.ok(found.some((f) => /parse error/.test(f.what)), 'a parse error is a finding');
  const good = path.join(dir, 'good.ps1');
  writeFileSync(good, "$ErrorActionPreference = 'Stop'\nif ($true) { 1 } else { 2 }\n$x = $null; if ($null -eq $x) { $x = 3 }\nGet-Content -Path x -Encoding UTF8\n");
  t.same(check([good]), [], '5.1 forms pass');
});
