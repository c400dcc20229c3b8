// How a PowerShell script of ours reaches a Windows guest and how its answer comes back.
//
// windows.md section 9: Windows OpenSSH runs every command through cmd.exe, and quoting through cmd
// and PowerShell mangles arguments. So no command we send ever contains data: it is
//   powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 UTF-16LE>
// whose alphabet ([A-Za-z0-9+/=] and spaces) means nothing to cmd.exe, and the data travels inside
// the script as base64 of its UTF-8 JSON, decoded by the script (STYLE.md: data in as JSON).
//
// The script that runs is composed here (scripts are .ps1 files, never strings in TypeScript): one of
// ./scripts by name (WindowsScriptName), or any other .ps1 read with scriptFromFile() (the driver's
// driver/windows/*.ps1, run through WindowsGuest.powerShellRunner()):
//   prelude    $ErrorActionPreference = 'Stop', no progress records, UTF-8 console, $FleetgateScript
//   common.ps1 inlined: under -EncodedCommand there is no $PSScriptRoot to dot-source it from
//   try { $FleetgateInput = Read-FleetgateInput '<base64 JSON>'; <name>.ps1 } catch { error result; exit 1 }
// Every script ends with one line `@@FLEETGATE-JSON@@{"ok":true,"script":...,"result":...}` (or
// ok:false with the error), which parseResult() reads.
//
// cmd.exe accepts at most 8191 characters. The script travels as base64 of UTF-16LE, 2.67 characters
// per script character, so comment lines and indentation are dropped first (minifyPowerShell). When
// that is still too long, preparePowerShell() switches to a fixed bootstrap command that reads the
// composed script from stdin as base64 (ASCII, so the OEM code page PowerShell decodes stdin with
// cannot damage it). encodePowerShell() alone never switches: it throws PowerShellCommandTooLong.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FleetgateError, EXIT, InfraFailure } from '../../../lib/errors.ts';

/** Start of the one result line every script writes. */
export const RESULT_MARKER = '@@FLEETGATE-JSON@@';

/** The scripts in ./scripts (besides common.ps1), named verb_object (STYLE.md). */
export const WINDOWS_SCRIPTS = ['get_identity', 'get_file_hash', 'list_dumps', 'test_alive', 'run_kd_analysis', 'restart', 'new_folder', 'run_workload', 'capture_filter_delays', 'test_harness_starts'] as const;
export type WindowsScriptName = (typeof WINDOWS_SCRIPTS)[number];

/** Everything in front of the base64 script. -ExecutionPolicy Bypass: policy does not apply to
 * -EncodedCommand text, but it does to the bootstrap's [scriptblock] on some configurations
 * (unverified which), and costs nothing. */
export const POWERSHELL_PREFIX = 'powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ';

/** cmd.exe's command-line limit (characters), which Windows OpenSSH's default shell imposes. */
export const CMD_EXE_MAX_CHARS = 8191;
/** Room left for what sshd wraps around our command (`cmd.exe /c ...`); how much exactly is
 * unverified, so keep a margin. */
const SSHD_WRAPPER_RESERVE = 91;
/** The longest command encodePowerShell() produces. */
export const MAX_COMMAND_CHARS = CMD_EXE_MAX_CHARS - SSHD_WRAPPER_RESERVE;

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);
const scriptCache = new Map<string, string>();

/** A script file's text, read once. Throws for a name that is not one of ours. */
export function scriptSource(name: WindowsScriptName | 'common'): string {
  if (name !== 'common' && !(WINDOWS_SCRIPTS as readonly string[]).includes(name)) {
    throw new TypeError(`unknown Windows guest script ${JSON.stringify(name)}; known: ${WINDOWS_SCRIPTS.join(', ')}`);
  }
  let text = scriptCache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`${name}.ps1`, SCRIPTS_DIR), 'utf8').replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
    scriptCache.set(name, text);
  }
  return text;
}

/** A .ps1 from outside ./scripts, composed with common.ps1 like ours. `name` is what $FleetgateScript
 * holds and what the result line must name (parseResult). */
export interface GuestScript {
  readonly name: string;
  readonly source: string;
}

/** What composeScript and its callers run: one of ./scripts by name, or a GuestScript. */
export type GuestScriptRef = WindowsScriptName | GuestScript;

const fileScriptCache = new Map<string, GuestScript>();

/**
 * The script in the .ps1 file at `absPath` (read once; BOM dropped, CRLF made LF), named after the
 * file without .ps1. Throws TypeError for a relative path or another extension.
 */
export function scriptFromFile(absPath: string): GuestScript {
  if (!path.isAbsolute(absPath)) throw new TypeError(`PowerShell script path ${JSON.stringify(absPath)} is not absolute`);
  if (!/\.ps1$/i.test(absPath)) throw new TypeError(`PowerShell script path ${JSON.stringify(absPath)} does not end with .ps1`);
  let script = fileScriptCache.get(absPath);
  if (script === undefined) {
    const source = readFileSync(absPath, 'utf8').replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
    script = { name: path.basename(absPath).replace(/\.ps1$/i, ''), source };
    fileScriptCache.set(absPath, script);
  }
  return script;
}

/** The name and text of a script reference. The name goes into the composed script (a comment and
 * a quoted string): letters, digits, `_`, `-` and `.` only. */
export function resolveScript(script: GuestScriptRef): GuestScript {
  if (typeof script === 'string') return { name: script, source: scriptSource(script) };
  if (!/^[A-Za-z0-9_.-]+$/.test(script.name)) {
    throw new TypeError(`PowerShell script name ${JSON.stringify(script.name)}: letters, digits, _, - and . only`);
  }
  return script;
}

/** The data cannot be given to Windows PowerShell 5.1 as JSON input. */
export class UnsupportedScriptInput extends FleetgateError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The composed script does not fit on cmd.exe's command line (see preparePowerShell). */
export class PowerShellCommandTooLong extends InfraFailure {
  readonly length: number;
  constructor(scriptName: string, length: number) {
    super(
      `PowerShell script ${scriptName}: the encoded command is ${length} characters, more than the ` +
        `${MAX_COMMAND_CHARS} that fit on cmd.exe's ${CMD_EXE_MAX_CHARS}-character command line ` +
        `(Windows OpenSSH's default shell); use preparePowerShell(), which sends it through stdin`,
    );
    this.length = length;
  }
}

/**
 * Refuses JSON that Windows PowerShell 5.1's ConvertFrom-Json turns into an error or into something
 * else: object keys that differ only in case (its objects are case-insensitive: it fails on them)
 * and empty keys (refused conservatively: unverified what 5.1 does with them).
 */
function checkInputForPowerShell(value: unknown, where: string): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkInputForPowerShell(v, `${where}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const seen = new Map<string, string>();
  for (const [key, v] of Object.entries(value)) {
    if (key === '') throw new UnsupportedScriptInput(`script input ${where} has an empty key, which ConvertFrom-Json may refuse`);
    const folded = key.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      throw new UnsupportedScriptInput(
        `script input ${where} has keys ${JSON.stringify(other)} and ${JSON.stringify(key)}, which differ only in case: ` +
          `Windows PowerShell's ConvertFrom-Json cannot read that`,
      );
    }
    seen.set(folded, key);
    checkInputForPowerShell(v, `${where}.${key}`);
  }
}

/** The JSON text that goes to the script: `undefined` becomes null. */
function inputJson(data: unknown): string {
  const json = JSON.stringify(data === undefined ? null : data);
  if (json === undefined) throw new UnsupportedScriptInput(`script input of type ${typeof data} has no JSON form`);
  checkInputForPowerShell(JSON.parse(json), 'input');
  return json;
}

/**
 * Drops what PowerShell ignores: comment lines (`# ...`, `<# ... #>` starting a line), blank lines
 * and indentation. Here-string bodies (`@'`/`@"` ... `'@`/`"@`) are kept exactly. Our scripts keep
 * comments on their own lines and have no multi-line ordinary string literals (a line in one that
 * began with # would be lost); `#` after code is left alone, since it may be inside a string.
 */
export function minifyPowerShell(text: string): string {
  const out: string[] = [];
  let hereEnd: string | null = null;
  let inBlockComment = false;
  for (const raw of text.split(/\r?\n/)) {
    if (hereEnd !== null) {
      out.push(raw);
      if (raw.startsWith(hereEnd)) hereEnd = null;
      continue;
    }
    const line = raw.trim();
    if (inBlockComment) {
      if (line.includes('#>')) inBlockComment = false;
      continue;
    }
    if (line.startsWith('<#')) {
      if (!line.includes('#>')) inBlockComment = true;
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    out.push(line);
    hereEnd = hereStringCloser(line);
  }
  return out.join('\n');
}

/**
 * The closer (`'@` or `"@`) when `line` ends by opening a here-string outside any string literal or
 * comment; null otherwise. `'@@FLEETGATE-JSON@@'` ends with @' too, inside a string: not an opener.
 */
export function hereStringCloser(line: string): string | null {
  let state: 'code' | 'single' | 'double' = 'code';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (state === 'code') {
      if (c === '#') return null;
      if (c === '@' && i === line.length - 2 && (line[i + 1] === "'" || line[i + 1] === '"')) return `${line[i + 1]}@`;
      if (c === "'") state = 'single';
      else if (c === '"') state = 'double';
    } else if (state === 'single') {
      if (c === "'") {
        if (line[i + 1] === "'") i++;
        else state = 'code';
      }
    } else if (c === '`') {
      i++;
    } else if (c === '"') {
      if (line[i + 1] === '"') i++;
      else state = 'code';
    }
  }
  return null;
}

/** Single-quoted PowerShell literal of text we control (the script name): ' is doubled. */
function psSingleQuoted(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`;
}

/** Base64 of the UTF-8 JSON of `data`: all the script ever learns of the data. */
export function encodeInput(data: unknown): string {
  return Buffer.from(inputJson(data), 'utf8').toString('base64');
}

/** One top-level piece of common.ps1: a function (name set) or other statements (name null). */
interface CommonPart {
  name: string | null;
  text: string;
}

/**
 * common.ps1 cut into its functions: each starts with `function Name {` at column 0 and ends at the
 * next line that is `}` at column 0 (the file is written that way; this throws if it is not).
 */
export function commonParts(source: string = scriptSource('common')): CommonPart[] {
  const parts: CommonPart[] = [];
  const lines = source.split('\n');
  let loose: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = /^function ([A-Za-z][\w-]*) \{\s*$/.exec(lines[i]!);
    if (!start) {
      loose.push(lines[i]!);
      continue;
    }
    const end = lines.findIndex((l, j) => j > i && /^\}\s*$/.test(l));
    if (end < 0) throw new TypeError(`common.ps1 line ${i + 1}: function ${start[1]} has no closing '}' at column 0`);
    parts.push({ name: null, text: loose.join('\n') });
    loose = [];
    parts.push({ name: start[1]!, text: lines.slice(i, end + 1).join('\n') });
    i = end;
  }
  parts.push({ name: null, text: loose.join('\n') });
  return parts.filter((p) => p.name !== null || minifyPowerShell(p.text) !== '');
}

function mentions(text: string, name: string): boolean {
  return new RegExp(`(?<![\\w-])${name.replace(/-/g, '\\-')}(?![\\w-])`, 'i').test(text);
}

/**
 * common.ps1 as inlined for one script: its statements plus only the functions that the script and
 * the wrapper use, directly or through each other. Same effect as dot-sourcing all of it, at a
 * fraction of the command line (every character costs 2.67 of cmd.exe's 8191).
 */
export function commonFor(scriptBody: string): string {
  const parts = commonParts();
  const needed = new Set<string>();
  let reach = `${scriptBody}\nRead-FleetgateInput\nWrite-FleetgateError`;
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of parts) {
      if (p.name !== null && !needed.has(p.name) && mentions(reach, p.name)) {
        needed.add(p.name);
        reach += `\n${p.text}`;
        grew = true;
      }
    }
  }
  return parts
    .filter((p) => p.name === null || needed.has(p.name))
    .map((p) => minifyPowerShell(p.text))
    .filter((t) => t !== '')
    .join('\n');
}

/** The whole script that runs in the guest: prelude + common.ps1 + the script, minified. */
export function composeScript(script: GuestScriptRef, data: unknown): string {
  const { name: scriptName, source } = resolveScript(script);
  const body = minifyPowerShell(source);
  const common = commonFor(body);
  return [
    `# fleetgate ${scriptName}: composed by harness/guest/windows/encode.ts`,
    "$ErrorActionPreference = 'Stop'",
    // Progress records would reach stderr as CLIXML (#< CLIXML) when output is redirected.
    "$ProgressPreference = 'SilentlyContinue'",
    // windows.md section 9: output may be in the OEM code page. UTF-8 without a BOM, so that no
    // U+FEFF lands in front of the first line (parseResult strips one anyway).
    '$FleetgateConsoleEncoding = [Console]::OutputEncoding',
    '[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false',
    `$FleetgateScript = ${psSingleQuoted(scriptName)}`,
    common,
    'try {',
    `$FleetgateInput = Read-FleetgateInput '${encodeInput(data)}'`,
    body,
    '} catch {',
    'Write-FleetgateError $_',
    'exit 1',
    '}',
    'exit 0',
    '',
  ].join('\n');
}

function encodedCommand(script: string): string {
  return POWERSHELL_PREFIX + Buffer.from(script, 'utf16le').toString('base64');
}

/**
 * The full command line that runs `script` (`scripts/<name>.ps1`, or a GuestScript) with `data` as
 * its input. Throws PowerShellCommandTooLong when it would not fit cmd.exe's limit;
 * preparePowerShell() never does.
 */
export function encodePowerShell(script: GuestScriptRef, data: unknown): string {
  const command = encodedCommand(composeScript(script, data));
  if (command.length > MAX_COMMAND_CHARS) throw new PowerShellCommandTooLong(resolveScript(script).name, command.length);
  return command;
}

/** Where the bootstrap finds the script: the base64 lines on its stdin. */
const STDIN_BOOTSTRAP = [
  '# fleetgate stdin bootstrap: composed by harness/guest/windows/encode.ts',
  "$ErrorActionPreference = 'Stop'",
  // With -Command/-EncodedCommand, powershell.exe hands redirected stdin to the command as $input
  // (lines, decoded with the OEM code page: base64 is ASCII, so nothing can be lost).
  "$FleetgateStdin = (@($input) -join '') -replace '\\s', ''",
  '. ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($FleetgateStdin))))',
  '',
].join('\n');

/** The bootstrap command (the same for every script) and the constant size it has. */
export const STDIN_BOOTSTRAP_COMMAND = encodedCommand(STDIN_BOOTSTRAP);

export type PreparedPowerShell =
  | { mode: 'encoded'; command: string }
  | {
      mode: 'stdin';
      command: string;
      /** Base64 of the UTF-8 composed script, in 76-character lines; give it as ExecOptions.stdin. */
      stdin: string;
    };

export interface PrepareOptions {
  /** Send the script on stdin whatever its size: its input holds a secret, and a command line is
   * readable by every local user and kept by process-creation audit logs (issue #16 row 10). */
  readonly viaStdin?: boolean;
}

/** The stdin form of a composed script: the fixed bootstrap command, the script as base64 lines. */
function stdinPrepared(composed: string): PreparedPowerShell {
  const base64 = Buffer.from(composed, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 76) lines.push(base64.slice(i, i + 76));
  return { mode: 'stdin', command: STDIN_BOOTSTRAP_COMMAND, stdin: lines.join('\r\n') + '\r\n' };
}

/**
 * The command (and, for large scripts or `viaStdin`, the stdin) that runs `script` with `data`: the
 * -EncodedCommand form when it fits cmd.exe's line, else the stdin bootstrap, whose command holds no
 * data. The stdin path relies on powershell.exe exposing redirected stdin as $input through Windows
 * OpenSSH (unverified on a real guest; the encoded path is what windows.md section 9 documents).
 */
export function preparePowerShell(script: GuestScriptRef, data: unknown, maxChars: number = MAX_COMMAND_CHARS, options: PrepareOptions = {}): PreparedPowerShell {
  const composed = composeScript(script, data);
  if (options.viaStdin) return stdinPrepared(composed);
  const command = encodedCommand(composed);
  if (command.length <= maxChars) return { mode: 'encoded', command };
  return stdinPrepared(composed);
}

// ---------------------------------------------------------------------------------------------------
// decoding, for tests and diagnostics

export interface DecodedPowerShell {
  /** The script text PowerShell runs (for the stdin mode: the script read from stdin). */
  script: string;
  /** From the prelude's $FleetgateScript; null when the text is not one of our composed scripts. */
  scriptName: string | null;
  /** The data, parsed from the embedded base64 JSON; undefined when there is none. */
  input: unknown;
  mode: 'encoded' | 'stdin';
}

/** Undoes encodePowerShell / preparePowerShell. Throws TypeError for a command of another shape. */
export function decodePowerShell(command: string, stdin?: string): DecodedPowerShell {
  if (!command.startsWith(POWERSHELL_PREFIX)) {
    throw new TypeError(`not a fleetgate PowerShell command (expected it to start with ${JSON.stringify(POWERSHELL_PREFIX)})`);
  }
  const b64 = command.slice(POWERSHELL_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new TypeError('the -EncodedCommand argument is not base64');
  let script = Buffer.from(b64, 'base64').toString('utf16le');
  let mode: DecodedPowerShell['mode'] = 'encoded';
  if (script === STDIN_BOOTSTRAP) {
    if (stdin === undefined) throw new TypeError('a stdin-bootstrap command needs the stdin it was sent with');
    const text = stdin.replace(/\s/g, '');
    // Buffer.from skips what is not base64: a damaged stdin must not decode to a shorter script.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new TypeError('the stdin of a stdin-bootstrap command is not base64');
    script = Buffer.from(text, 'base64').toString('utf8');
    mode = 'stdin';
  }
  const name = /^\$FleetgateScript = '((?:[^']|'')*)'$/m.exec(script);
  const data = /^\$FleetgateInput = Read-FleetgateInput '([A-Za-z0-9+/]*={0,2})'$/m.exec(script);
  return {
    script,
    scriptName: name ? name[1]!.replace(/''/g, "'") : null,
    input: data ? JSON.parse(Buffer.from(data[1]!, 'base64').toString('utf8')) : undefined,
    mode,
  };
}

// ---------------------------------------------------------------------------------------------------
// results

/** What a script reported about its own failure (Write-FleetgateError in common.ps1). */
export interface PowerShellErrorInfo {
  message: string;
  /** .NET exception type, e.g. System.Management.Automation.ItemNotFoundException. Not translated. */
  type: string;
  /** FullyQualifiedErrorId, e.g. PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand. */
  errorId: string;
  category: string;
  position: string;
}

/** A guest script ran and reported an error. Infra: our tooling failed, not the product. */
export class WindowsScriptFailed extends InfraFailure {
  readonly script: string;
  readonly error: PowerShellErrorInfo;
  constructor(script: string, error: PowerShellErrorInfo) {
    super(`Windows guest script ${script} failed: ${error.type}: ${error.message}${error.position ? ` (${error.position.trim().split(/\r?\n/)[0]})` : ''}`);
    this.script = script;
    this.error = error;
  }
}

/** A guest script gave no readable result line (it was killed, PowerShell did not start, ...). */
export class WindowsScriptNoResult extends InfraFailure {
  readonly script: string;
  constructor(script: string, message: string) {
    super(`Windows guest script ${script}: ${message}`);
    this.script = script;
  }
}

/**
 * Human-readable text of a stderr that may hold CLIXML (`#< CLIXML` then `<Objs>` with `<S S="Error">`
 * strings in which `_x000D__x000A_` stands for CR LF): the error strings, else the text as is.
 */
export function readableStderr(stderr: string): string {
  if (!stderr.includes('#< CLIXML')) return stderr;
  const strings = clixmlErrorStrings(stderr).map((s) =>
    s
      .replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&'),
  );
  return strings.length > 0 ? strings.join('') : stderr.replace(/#< CLIXML\r?\n?/, '');
}

/**
 * The bodies of `<S S="Error">` and `<S S="Warning">` elements, in order. A walk with indexOf: the lazy
 * pattern this replaces rescanned to the end of the text from every opening tag without a closing one
 * (quadratic on a stderr of many unclosed tags).
 */
function clixmlErrorStrings(stderr: string): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const open = stderr.indexOf('<S S="', at);
    if (open < 0) break;
    const tag = stderr.startsWith('Error">', open + 6) ? 'Error">' : stderr.startsWith('Warning">', open + 6) ? 'Warning">' : null;
    if (tag === null) {
      at = open + 6;
      continue;
    }
    const body = open + 6 + tag.length;
    const close = stderr.indexOf('</S>', body);
    if (close < 0) break; // no closing tag after this one: none after any later opening either
    out.push(stderr.slice(body, close));
    at = close + 4;
  }
  return out;
}

function tail(text: string, chars: number): string {
  const t = text.trimEnd();
  return t.length > chars ? `...${t.slice(-chars)}` : t;
}

export interface ResultContext {
  stderr?: string;
  exitCode?: number | null;
}

/**
 * The result of `scriptName` from its stdout: the last `@@FLEETGATE-JSON@@` line (anything before it,
 * such as OEM-encoded noise written before the UTF-8 switch, is ignored; stderr, where PowerShell
 * puts CLIXML, is only quoted in errors). Throws WindowsScriptFailed for an error result and
 * WindowsScriptNoResult, with the output tails, when there is no readable result line.
 */
export function parseResult<T = unknown>(stdout: string, scriptName: string, context: ResultContext = {}): T {
  const lines = stdout.split(/\r\n|\n|\r/);
  let found: { json: string; index: number } | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.replace(/^[\uFEFF\s]+/, '');
    if (line.startsWith(RESULT_MARKER)) {
      found = { json: line.slice(RESULT_MARKER.length).trim(), index: i };
      break;
    }
  }
  const outputs = () => {
    const parts = [`exit code ${context.exitCode ?? 'none'}`, `stdout ends: ${JSON.stringify(tail(stdout, 600))}`];
    if (context.stderr) parts.push(`stderr ends: ${JSON.stringify(tail(readableStderr(context.stderr), 600))}`);
    return parts.join('; ');
  };
  if (!found) throw new WindowsScriptNoResult(scriptName, `no ${RESULT_MARKER} result line in its output (${outputs()})`);
  let envelope: unknown;
  try {
    envelope = JSON.parse(found.json);
  } catch (err) {
    throw new WindowsScriptNoResult(scriptName, `the result line (stdout line ${found.index + 1}) is not JSON: ${(err as Error).message} (${outputs()})`);
  }
  if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) {
    throw new WindowsScriptNoResult(scriptName, `the result line is not a JSON object (${outputs()})`);
  }
  const e = envelope as Record<string, unknown>;
  if (e.script !== scriptName) {
    throw new WindowsScriptNoResult(scriptName, `the result line is from script ${JSON.stringify(e.script)}, not ${scriptName} (${outputs()})`);
  }
  if (e.ok === true) return e.result as T;
  if (e.ok === false && e.error !== null && typeof e.error === 'object') {
    const err = e.error as Record<string, unknown>;
    const s = (k: string) => (typeof err[k] === 'string' ? (err[k] as string) : '');
    throw new WindowsScriptFailed(scriptName, {
      message: s('message') || '(no message)',
      type: s('type') || '(unknown type)',
      errorId: s('errorId'),
      category: s('category'),
      position: s('position'),
    });
  }
  throw new WindowsScriptNoResult(scriptName, `the result line has neither ok:true nor ok:false with an error (${outputs()})`);
}
