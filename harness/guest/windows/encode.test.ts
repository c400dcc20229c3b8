import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { powerShellTools, pwshSkip } from '../../../lib/pwsh.ts';
import { SCRIPT_NAMES as DRIVER_SCRIPTS, scriptPath as driverScriptPath } from '../../../driver/windows/runner.ts';
import { InfraFailure } from '../../../lib/errors.ts';
import {
  CMD_EXE_MAX_CHARS,
  MAX_COMMAND_CHARS,
  POWERSHELL_PREFIX,
  PowerShellCommandTooLong,
  RESULT_MARKER,
  STDIN_BOOTSTRAP_COMMAND,
  UnsupportedScriptInput,
  WINDOWS_SCRIPTS,
  WindowsScriptFailed,
  WindowsScriptNoResult,
  commonParts,
  composeScript,
  decodePowerShell,
  encodePowerShell,
  hereStringCloser,
  minifyPowerShell,
  parseResult,
  preparePowerShell,
  readableStderr,
  scriptFromFile,
  scriptSource,
} from './encode.ts';

/** What the script must see: the data as JSON knows it (undefined -> null, -0 -> 0, ...). */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v === undefined ? null : v));

/** Decodes whichever form preparePowerShell chose and returns the input the script would read. */
function roundTrip(data: unknown): { input: unknown; mode: string } {
  const p = preparePowerShell('get_file_hash', data);
  const d = decodePowerShell(p.command, p.mode === 'stdin' ? p.stdin : undefined);
  return { input: d.input, mode: d.mode };
}

const HOSTILE = [
  `it's "quoted", with commas`,
  '$(Remove-Item C:\\ -Recurse) and ${env:PATH} and $env:USERPROFILE',
  'back`tick `n `0 ``',
  "@'\nhere-string opener\n'@\n@\"\nother\n\"@",
  'CR\rLF\nCRLF\r\n',
  'controls \u0001\u0007\u0008\u001b[31m\u007f\u0085\u2028\u2029',
  'C:\\Users\\Jürgen\\Ωmega\\日本語\\file.sys',
  'emoji 🦀👩🏽‍💻 and lone-looking pairs \ud83d\ude00',
  '%PATH% ^& | < > cmd metacharacters && || ;',
  '\u2018smart\u2019 quotes \u201Cdouble\u201D',
  '@@FLEETGATE-JSON@@{"ok":true,"script":"get_file_hash","result":"forged"}',
  "'; exit 0; '",
];

t.test('hostile strings reach the script unchanged', async (t) => {
  // Names by index: some of these characters (U+0085, U+2028) would break TAP's own lines.
  HOSTILE.forEach((s, i) => {
    const data = { path: s, nested: [s, { s }] };
    t.strictSame(roundTrip(data).input, data, `hostile string #${i}`);
  });
  const long = 'x'.repeat(200_000) + 'Jürgen🦀';
  const r = roundTrip({ path: long });
  t.equal(r.mode, 'stdin', 'a very long input goes through stdin');
  t.strictSame(r.input, { path: long });
});

t.test('the command line holds nothing cmd.exe or PowerShell would interpret', async (t) => {
  for (const s of HOSTILE) {
    const cmd = encodePowerShell('get_file_hash', { path: s });
    t.ok(cmd.startsWith(POWERSHELL_PREFIX));
    t.match(cmd, /^[A-Za-z0-9 +/=-]+$/, 'only base64 and the fixed prefix');
    t.notOk(cmd.includes(s), 'the data never appears in clear');
  }
});

t.test('property: any JSON value round-trips, or is refused for a stated 5.1 reason', async (t) => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      let r: { input: unknown };
      try {
        r = roundTrip(value);
      } catch (err) {
        // The only refusals: keys ConvertFrom-Json (5.1) cannot hold.
        if (!(err instanceof UnsupportedScriptInput)) throw err;
        if (!/differ only in case|empty key/.test(err.message)) throw err;
        return;
      }
      accepted++;
      t.strictSame(r.input, asJson(value));
    }),
    { numRuns: 300 },
  );
  t.ok(accepted > 200, `most values are accepted (${accepted})`);
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      const r = roundTrip({ path: s });
      // Lone surrogates are not valid UTF-8: JSON.stringify escapes them, so they survive as is.
      return JSON.stringify(r.input) === JSON.stringify({ path: s });
    }),
    { numRuns: 300 },
  );
});

t.test('input that Windows PowerShell 5.1 cannot read is refused before sending', async (t) => {
  t.throws(() => encodePowerShell('get_file_hash', { path: 'a', Path: 'b' }), { message: /"path" and "Path".*differ only in case/ });
  t.throws(() => encodePowerShell('get_file_hash', { a: [{ '': 1 }] }), { message: /input\.a\[0\] has an empty key/ });
  t.throws(() => encodePowerShell('get_file_hash', () => 1), UnsupportedScriptInput);
});

t.test("cmd.exe's limit: encodePowerShell throws, preparePowerShell switches to stdin", async (t) => {
  t.ok(MAX_COMMAND_CHARS < CMD_EXE_MAX_CHARS);
  const big = { path: 'y'.repeat(4000) };
  t.throws(() => encodePowerShell('get_file_hash', big), PowerShellCommandTooLong);
  try {
    encodePowerShell('get_file_hash', big);
  } catch (err) {
    t.ok(err instanceof InfraFailure);
    t.match((err as Error).message, /get_file_hash.*8191.*preparePowerShell/);
  }
  const p = preparePowerShell('get_file_hash', big);
  t.equal(p.mode, 'stdin');
  t.equal(p.command, STDIN_BOOTSTRAP_COMMAND);
  t.ok(p.command.length <= MAX_COMMAND_CHARS);
  if (p.mode === 'stdin') {
    t.match(p.stdin, /^[A-Za-z0-9+/=\r\n]+$/, 'stdin is ASCII base64, immune to the OEM code page');
    t.ok(p.stdin.split('\r\n').every((l) => l.length <= 76));
    const d = decodePowerShell(p.command, p.stdin);
    t.equal(d.scriptName, 'get_file_hash');
    t.equal(d.script, composeScript('get_file_hash', big));
  }
  t.throws(() => decodePowerShell(p.command), { message: /needs the stdin/ });
  // The small, frequent operations stay on the documented -EncodedCommand path.
  t.equal(preparePowerShell('test_alive', {}).mode, 'encoded');
  t.equal(preparePowerShell('get_file_hash', { path: 'C:\\Windows\\MEMORY.DMP' }).mode, 'encoded');
  t.equal(preparePowerShell('get_file_hash', { path: `C:\\${'d\\'.repeat(120)}file.sys` }).mode, 'encoded');
});

t.test('decodePowerShell refuses other commands', async (t) => {
  t.throws(() => decodePowerShell('cmd /c dir'), TypeError);
  t.throws(() => decodePowerShell(`${POWERSHELL_PREFIX}not base64!`), TypeError);
});

t.test('composition: prelude, the used part of common.ps1, then the script in a try', async (t) => {
  for (const name of WINDOWS_SCRIPTS) {
    const script = composeScript(name, { path: 'p' });
    const at = (s: string) => script.indexOf(s);
    t.ok(at("$ErrorActionPreference = 'Stop'") >= 0, `${name}: Stop`);
    t.ok(at('[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false') >= 0);
    t.ok(at('[Console]::OutputEncoding') < at('function Write-FleetgateResult'), 'UTF-8 before anything is written');
    t.ok(at('function Write-FleetgateError') < at('try {'), 'helpers defined before use');
    t.ok(at('$FleetgateInput = Read-FleetgateInput') > at('try {'), 'input decoding fails into the error result');
    t.match(script, /\} catch \{\nWrite-FleetgateError \$_\nexit 1\n\}\nexit 0\n$/);
  }
  // Only what is used: test_alive needs no registry or native-command helper.
  const alive = composeScript('test_alive', {});
  t.notOk(alive.includes('function Invoke-FleetgateNative'));
  t.notOk(alive.includes('function Get-FleetgateRegistryValue'));
  t.ok(alive.includes('function Write-FleetgateLine'), 'reached through Write-FleetgateResult');
  t.ok(composeScript('get_identity', {}).includes('function Invoke-FleetgateNative'));
});

t.test('any .ps1 composes like ours: scriptFromFile and GuestScript', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fleetgate-encode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'probe_thing.ps1');
  writeFileSync(file, "\uFEFF# probe: a comment\r\n$ErrorActionPreference = 'Stop'\r\n$r = Invoke-FleetgateNative 'x.exe' @('a b')\r\nWrite-FleetgateResult $r\r\n");
  const script = scriptFromFile(file);
  t.equal(script.name, 'probe_thing', 'named after the file, without .ps1');
  t.equal(script.source, "# probe: a comment\n$ErrorActionPreference = 'Stop'\n$r = Invoke-FleetgateNative 'x.exe' @('a b')\nWrite-FleetgateResult $r\n", 'BOM gone, LF only');
  t.equal(scriptFromFile(file), script, 'read once');
  const composed = composeScript(script, { a: 1 });
  t.match(composed, /^\$FleetgateScript = 'probe_thing'$/m);
  t.equal(composed.match(/^function Invoke-FleetgateNative \{$/gm)?.length, 1, 'the helper it uses comes from common.ps1');
  t.notOk(composed.includes('function Get-FleetgateRegistryValue'), 'and nothing it does not use');
  t.ok(composed.indexOf('function Invoke-FleetgateNative') < composed.indexOf('try {'));
  const p = preparePowerShell(script, { a: 1 });
  const d = decodePowerShell(p.command, p.mode === 'stdin' ? p.stdin : undefined);
  t.strictSame([d.scriptName, d.input, d.script], ['probe_thing', { a: 1 }, composed]);
  // A name given in place of a file works the same; WINDOWS_SCRIPTS names still read ./scripts.
  t.equal(composeScript({ name: 'get_file_hash', source: scriptSource('get_file_hash') }, { path: 'p' }), composeScript('get_file_hash', { path: 'p' }));
  t.throws(() => composeScript({ name: "x'\nexit 0", source: '' }, {}), TypeError, 'a name that would break the prelude');
  t.throws(() => scriptFromFile('relative.ps1'), { message: /not absolute/ });
  t.throws(() => scriptFromFile(path.join(dir, 'x.txt')), { message: /\.ps1/ });
  t.throws(() => encodePowerShell({ name: 'big', source: `$x = '${'y'.repeat(4000)}'\nWrite-FleetgateResult $x` }, {}), { name: 'PowerShellCommandTooLong', message: /script big:/ });
});

t.test('the driver scripts (driver/windows/*.ps1), composed the same way, are well-formed as far as can be checked here', async (t) => {
  for (const name of DRIVER_SCRIPTS) {
    const text = scriptFromFile(driverScriptPath(name)).source;
    const code = minifyPowerShell(text);
    t.equal(checkBalance(text), null, `${name}: balanced`);
    t.equal(checkBalance(code), null, `${name}: balanced after minifying`);
    t.notMatch(code, /\?\?|\?\.|&&|\|\||-AsHashtable|\bclean\s*\{/, `${name}: 5.1 syntax only`);
    t.ok(code.split('\n').every((l) => hereStringCloser(l) === null), `${name}: no here-strings`);
  }
});

t.test('common.ps1 is cut into whole functions', async (t) => {
  const parts = commonParts();
  const names = parts.flatMap((p) => (p.name ? [p.name] : []));
  t.ok(names.includes('Write-FleetgateResult') && names.includes('Write-FleetgateError') && names.includes('Read-FleetgateInput'));
  for (const p of parts) if (p.name) t.match(p.text, /\n\}$/, `${p.name} ends with its brace`);
  t.throws(() => commonParts('function Broken {\n  if ($x) {\n  }\n'), { message: /Broken has no closing/ });
});

// ---------------------------------------------------------------------------------------------------
// the script files, as far as they can be checked without PowerShell

/** Braces, parentheses and brackets balance outside strings and comments; strings are closed. */
function checkBalance(text: string): string | null {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  let state: 'code' | 'single' | 'double' | 'comment' = 'code';
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      if (state === 'comment') state = 'code';
      if (state === 'single' || state === 'double') return `line ${line - 1}: string not closed on its line`;
      continue;
    }
    if (state === 'comment') continue;
    if (state === 'single') {
      if (c === "'") {
        if (text[i + 1] === "'") i++;
        else state = 'code';
      }
      continue;
    }
    if (state === 'double') {
      if (c === '`') i++;
      else if (c === '"') state = 'code';
      else if (c === '$' && text[i + 1] === '(') {
        // $( ... ) inside a string: our scripts keep these free of quotes, so skip to the match.
        let depth = 0;
        for (; i < text.length; i++) {
          if (text[i] === '(') depth++;
          else if (text[i] === ')' && --depth === 0) break;
        }
      }
      continue;
    }
    if (c === '#') state = 'comment';
    else if (c === "'") state = 'single';
    else if (c === '"') state = 'double';
    else if (c === '`') i++;
    else if ('({['.includes(c)) stack.push(c);
    else if (')}]'.includes(c)) {
      if (stack.pop() !== pairs[c]) return `line ${line}: unbalanced '${c}'`;
    }
  }
  return stack.length === 0 ? null : `unclosed '${stack.join('')}' at end of file`;
}

/** Where the statement starting at `from` ends: the first newline outside brackets and strings. */
function statementEnd(text: string, from: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (c === '\n' && depth === 0) return i;
  }
  return text.length;
}

t.test('every script file is well-formed as far as can be checked here', async (t) => {
  // Pester tests (*.Tests.ps1) live beside the scripts they test; they are not guest scripts.
  const files = readdirSync(new URL('./scripts/', import.meta.url)).filter((f) => f.endsWith('.ps1') && !f.endsWith('.Tests.ps1'));
  t.strictSame(files.sort(), [...WINDOWS_SCRIPTS, 'common'].map((n) => `${n}.ps1`).sort(), 'every file is a known script');
  const common = scriptSource('common');
  const defined = new Set([...common.matchAll(/^function ([\w-]+)/gm)].map((m) => m[1]!.toLowerCase()));
  for (const name of [...WINDOWS_SCRIPTS, 'common' as const]) {
    const text = scriptSource(name);
    t.equal(checkBalance(text), null, `${name}: balanced`);
    t.equal(checkBalance(minifyPowerShell(text)), null, `${name}: balanced after minifying`);
    const code = minifyPowerShell(text); // without comment lines
    t.notMatch(code, /\$PSScriptRoot/i, `${name}: no $PSScriptRoot (absent under -EncodedCommand)`);
    // Windows PowerShell 5.1: none of 7's syntax.
    t.notMatch(code, /\?\?|\?\.|&&|\|\||-AsHashtable|\bclean\s*\{/, `${name}: 5.1 syntax only`);
    t.ok(code.split('\n').every((l) => hereStringCloser(l) === null), `${name}: no here-strings`);
    t.notMatch(code, /Write-Host|Write-Output/, `${name}: output only through the result helper`);
    // Every Verb-Fleetgate* command used is defined in common.ps1.
    for (const m of text.matchAll(/\b([A-Z][a-z]+-Fleetgate[A-Za-z]*)\b/g)) {
      t.ok(defined.has(m[1]!.toLowerCase()), `${name}: ${m[1]} is defined in common.ps1`);
    }
    if (name === 'common') continue;
    t.match(text, /^\$ErrorActionPreference = 'Stop'$/m, `${name}: Stop`);
    // The last statement writes the one result line: from the last line that starts with
    // Write-FleetgateResult, the statement (its parentheses) ends exactly at the end of the file.
    const min = minifyPowerShell(text);
    const start = min.lastIndexOf('\nWrite-FleetgateResult ') + 1;
    t.ok(start > 0 || min.startsWith('Write-FleetgateResult '), `${name}: has a Write-FleetgateResult statement`);
    t.equal(statementEnd(min, start), min.length, `${name}: ends with Write-FleetgateResult, nothing after it`);
    t.equal((text.match(/Write-FleetgateResult/g) ?? []).length, 1, `${name}: exactly one result line`);
  }
});

const pwsh = powerShellTools().pwsh;
const pwshMissing = pwshSkip();

t.test('PowerShell parses every composed script', { skip: pwshMissing }, async (t) => {
  const scripts = [...WINDOWS_SCRIPTS, ...DRIVER_SCRIPTS.map((n) => scriptFromFile(driverScriptPath(n)))];
  for (const s of scripts) {
    const name = typeof s === 'string' ? s : s.name;
    const script = composeScript(s, { path: 'C:\\x' });
    const check =
      '$errs = $null; $null = [System.Management.Automation.Language.Parser]::ParseInput([Console]::In.ReadToEnd(), [ref]$null, [ref]$errs); ' +
      '$errs | ForEach-Object { $_.ToString() }; exit $errs.Count';
    const r = spawnSync(pwsh!, ['-NoProfile', '-NonInteractive', '-Command', check], { input: script, encoding: 'utf8' });
    t.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
  }
});

// ---------------------------------------------------------------------------------------------------
// minify

t.test('minify drops comments and indentation, never here-string bodies', async (t) => {
  const src = ["# c", "  $a = 1   ", '', '<# block', 'still comment #>', "$h = @'", "  # kept", "  indented", "'@", "$m = '@@X@@'", '  # gone', '$z = 2 # after code stays'].join('\n');
  t.equal(minifyPowerShell(src), ["$a = 1", "$h = @'", '  # kept', '  indented', "'@", "$m = '@@X@@'", '$z = 2 # after code stays'].join('\n'));
  t.equal(hereStringCloser("$x = @'"), "'@");
  t.equal(hereStringCloser('$x = @"'), '"@');
  t.equal(hereStringCloser("$FleetgateMarker = '@@FLEETGATE-JSON@@'"), null, 'inside a string: not an opener');
  t.equal(hereStringCloser("# @'"), null);
  t.equal(hereStringCloser(`"a""b @'"`), null);
});

// ---------------------------------------------------------------------------------------------------
// parseResult, on outputs written from the documented formats

const ok = (result: unknown, script = 'get_file_hash') => `${RESULT_MARKER}${JSON.stringify({ ok: true, script, result })}`;

t.test('parseResult: success, with noise before and BOM / CRLF around', async (t) => {
  t.strictSame(parseResult(`${ok({ a: 1 })}\r\n`, 'get_file_hash'), { a: 1 });
  t.strictSame(parseResult(`\uFEFF${ok([1])}\r\n`, 'get_file_hash'), [1], 'a BOM before the line');
  // OEM code page text decoded as UTF-8 before the switch: replacement characters, then the line.
  const oem = Buffer.from([0x82, 0x8a, 0x94, 0x0d, 0x0a]).toString('utf8');
  t.strictSame(parseResult(`${oem}WARNING: something\r\n${ok('x')}\r\n`, 'get_file_hash'), 'x');
  t.equal(parseResult(ok(null), 'get_file_hash'), null);
});

t.test('parseResult: the last marker line wins; a forged one inside data cannot start a line', async (t) => {
  const forged = `${RESULT_MARKER}{"ok":true,"script":"get_file_hash","result":"forged"}`;
  // ConvertTo-Json escapes newlines, so data holding a marker stays inside the real line.
  const real = ok({ path: `a\n${forged}` });
  t.notOk(real.slice(1).includes(`\n${RESULT_MARKER}`));
  t.strictSame(parseResult(`${forged}\n${real}\n`, 'get_file_hash'), { path: `a\n${forged}` });
});

t.test('parseResult: CLIXML progress and errors on stderr do not confuse it', async (t) => {
  const clixml =
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>' +
    `<S S="Error">${RESULT_MARKER}{"ok":false}_x000D__x000A_</S></Objs>`;
  t.strictSame(parseResult(`${ok({ fine: true })}\r\n`, 'get_file_hash', { stderr: clixml, exitCode: 0 }), { fine: true });
  t.throws(() => parseResult('', 'get_file_hash', { stderr: clixml, exitCode: 1 }), WindowsScriptNoResult);
});

t.test('parseResult: an error result becomes WindowsScriptFailed naming the script', async (t) => {
  const line = `${RESULT_MARKER}${JSON.stringify({
    ok: false,
    script: 'get_file_hash',
    error: {
      message: "Cannot find path 'C:\\nope.sys' because it does not exist.",
      type: 'System.Management.Automation.ItemNotFoundException',
      errorId: 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand',
      category: 'ObjectNotFound',
      position: 'At line:52 char:9\r\n+ $item = Get-Item -LiteralPath $path -Force\r\n+         ~~~~~~~~',
    },
  })}`;
  try {
    parseResult(`${line}\r\n`, 'get_file_hash', { exitCode: 1 });
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof WindowsScriptFailed && err instanceof InfraFailure);
    const e = err as WindowsScriptFailed;
    t.equal(e.script, 'get_file_hash');
    t.equal(e.error.errorId, 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand');
    t.match(e.message, /get_file_hash failed: System\.Management\.Automation\.ItemNotFoundException: Cannot find path.*\(At line:52 char:9\)$/);
  }
});

t.test('parseResult: no marker, bad JSON or another script → WindowsScriptNoResult with the tails', async (t) => {
  const stderr = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\"><S S=\"Error\">powershell : The term 'x' is not recognized_x000D__x000A_</S></Objs>";
  t.throws(() => parseResult('Windows PowerShell\r\nCopyright\r\n', 'get_identity', { stderr, exitCode: 1 }), {
    name: 'WindowsScriptNoResult',
    message: /get_identity: no @@FLEETGATE-JSON@@ result line.*exit code 1.*Copyright.*The term 'x' is not recognized/,
  });
  t.throws(() => parseResult(`${RESULT_MARKER}{"ok":tru`, 'get_identity'), { message: /not JSON/ });
  t.throws(() => parseResult(ok(1, 'test_alive'), 'get_identity'), { message: /from script "test_alive", not get_identity/ });
  t.throws(() => parseResult(`${RESULT_MARKER}[1]`, 'get_identity'), { message: /not a JSON object/ });
  t.throws(() => parseResult(`${RESULT_MARKER}{"script":"get_identity"}`, 'get_identity'), { message: /neither ok:true/ });
  t.match(readableStderr(stderr), /^powershell : The term 'x' is not recognized\r\n$/);
  t.equal(readableStderr('plain'), 'plain');
});

t.test('readableStderr (#16): CLIXML with thousands of unclosed or foreign <S> tags reads in one pass, as before', async (t) => {
  const unclosed = `#< CLIXML\r\n<Objs>${'<S S="Error">x'.repeat(50_000)}`;
  t.equal(readableStderr(unclosed), unclosed.replace('#< CLIXML\r\n', ''), 'no closed Error string: the text without the marker');
  const mixed = `#< CLIXML\r\n<Objs><S S="<S S="Verbose">v</S><S S="Warning">w_x000D__x000A_</S>${'<S S="'.repeat(50_000)}<S S="Error">e &amp; f</S></Objs>`;
  t.equal(readableStderr(mixed), 'w\r\ne & f', 'only Error and Warning strings, in order');
});
