// A tokenizer-level check of PowerShell scripts, for a machine without PowerShell (no pwsh here).
// It is NOT a PowerShell parse: it scans comments (# and <# #>), single-quoted strings ('' escapes),
// double-quoted strings (` escapes and $( ) subexpressions, which are code again), here-strings
// (@' / @" must end their line, '@ / "@ must start one) and counts { ( [ in code only. It finds
// unbalanced brackets, unterminated strings and misused here-strings; a wrong cmdlet name or
// parameter passes. It also requires `$ErrorActionPreference = 'Stop'` (STYLE.md, AutoHCK).
import { InputError } from '../../../lib/errors.ts';
import { lineCol } from './text.ts';

export interface PowerShellCheckOptions {
  /** Require `$ErrorActionPreference = 'Stop'` at the start of a line. @default true */
  requireStop?: boolean;
  /** Refuse here-strings (host and guest scripts are minified, which would damage them). @default false */
  forbidHereStrings?: boolean;
}

export function checkPowerShellSyntax(file: string, text: string, options: PowerShellCheckOptions = {}): void {
  const fail = (offset: number, detail: string): never => {
    throw new InputError({ file, ...lineCol(text, offset) }, `${detail} (tokenizer check, not a PowerShell parse)`);
  };
  type Frame = { kind: 'code'; base: number } | { kind: 'dq'; at: number };
  const frames: Frame[] = [{ kind: 'code', base: 0 }];
  const brackets: { ch: string; at: number }[] = [];
  const pairs: Record<string, string> = { '}': '{', ')': '(', ']': '[' };
  let i = 0;
  while (i < text.length) {
    const f = frames.at(-1)!;
    const c = text[i]!;
    const n = text[i + 1];
    if (f.kind === 'dq') {
      if (c === '`') i += 2;
      else if (c === '"' && n === '"') i += 2;
      else if (c === '"') {
        frames.pop();
        i++;
      } else if (c === '$' && n === '(') {
        brackets.push({ ch: '(', at: i + 1 });
        frames.push({ kind: 'code', base: brackets.length });
        i += 2;
      } else i++;
      continue;
    }
    const prev = i === 0 ? '\n' : text[i - 1]!;
    if (c === '<' && n === '#') {
      const end = text.indexOf('#>', i + 2);
      if (end < 0) fail(i, 'block comment <# is never closed with #>');
      i = end + 2;
    } else if (c === '#' && /[\s;({]/.test(prev)) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol;
    } else if (c === '@' && (n === "'" || n === '"')) {
      const eol = text.indexOf('\n', i);
      const restOfLine = text.slice(i + 2, eol < 0 ? text.length : eol);
      if (restOfLine.trim() !== '') fail(i, `here-string opener @${n} must end its line`);
      if (options.forbidHereStrings) fail(i, 'here-strings are not allowed in scripts that are minified for -EncodedCommand');
      const closer = new RegExp(`^${n}@`, 'm');
      const body = text.slice(eol + 1);
      const m = closer.exec(body);
      if (!m) fail(i, `here-string @${n} is never closed by ${n}@ at the start of a line`);
      i = eol + 1 + m!.index + 2;
    } else if (c === "'" || c === '\u2018' || c === '\u2019') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) fail(i, 'single-quoted string is never closed');
        if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j++;
      }
      i = j + 1;
    } else if (c === '"') {
      frames.push({ kind: 'dq', at: i });
      i++;
    } else if (c === '`') {
      i += 2;
    } else if (c === '{' || c === '(' || c === '[') {
      brackets.push({ ch: c, at: i });
      i++;
    } else if (c === '}' || c === ')' || c === ']') {
      const open = brackets.pop();
      if (!open) fail(i, `'${c}' closes nothing`);
      if (open!.ch !== pairs[c]) fail(i, `'${c}' closes '${open!.ch}' from line ${lineCol(text, open!.at).line}`);
      if (f.kind === 'code' && f.base > 0 && brackets.length === f.base - 1) frames.pop();
      i++;
    } else i++;
  }
  const last = frames.at(-1)!;
  if (last.kind === 'dq') fail(last.at, 'double-quoted string is never closed');
  if (brackets.length) fail(brackets.at(-1)!.at, `'${brackets.at(-1)!.ch}' is never closed`);
  if ((options.requireStop ?? true) && !/^\$ErrorActionPreference = 'Stop'\s*$/m.test(text)) {
    throw new InputError({ file, line: 1, column: 1 }, "no `$ErrorActionPreference = 'Stop'` line: errors would not stop the script");
  }
}
