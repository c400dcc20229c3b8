// A minimal HCL2 structural check for the Packer templates (no Packer here): comments, strings with
// ${...} / %{...} templates and heredocs are scanned so that brackets are counted in code only; then
// the top-level blocks are read: every `var.X` needs a `variable "X"`, every `local.X` an attribute
// of a `locals` block, every `sources = [...]` entry of a build a declared source; a .pkrvars.hcl file
// may only set declared variables. Not an HCL parser: expressions are not evaluated or type-checked.
import { InputError } from '../../../lib/errors.ts';
import { lineCol } from './text.ts';

export interface HclBlock {
  type: string;
  labels: string[];
  /** Offsets of the body between the braces. */
  bodyStart: number;
  bodyEnd: number;
  line: number;
}

export interface HclScan {
  /** The text with comments and literal string parts blanked (newlines kept): code only. */
  code: string;
  blocks: HclBlock[];
  /** name → line of top-level `name = ...`. */
  attributes: Map<string, number>;
}

export function scanHcl(file: string, text: string): HclScan {
  const fail = (offset: number, detail: string): never => {
    throw new InputError({ file, ...lineCol(text, offset) }, detail);
  };
  const code = text.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < code.length; k++) if (code[k] !== '\n') code[k] = ' ';
  };
  type Frame = { kind: 'code' } | { kind: 'string'; at: number } | { kind: 'interp'; base: number };
  const frames: Frame[] = [{ kind: 'code' }];
  const brackets: { ch: string; at: number }[] = [];
  const pairs: Record<string, string> = { '}': '{', ']': '[', ')': '(' };
  let i = 0;
  while (i < text.length) {
    const f = frames.at(-1)!;
    const c = text[i]!;
    const n = text[i + 1];
    if (f.kind === 'string') {
      if (c === '\\') {
        blank(i, i + 2);
        i += 2;
      } else if (c === '"') {
        frames.pop();
        i++;
      } else if (c === '\n') {
        fail(f.at, 'string is not closed on its line');
      } else if ((c === '$' || c === '%') && n === '{') {
        if (text[i - 1] === c) {
          blank(i, i + 2); // $${ and %%{ are literal
          i += 2;
        } else {
          frames.push({ kind: 'interp', base: brackets.length });
          i += 2;
        }
      } else {
        blank(i, i + 1);
        i++;
      }
      continue;
    }
    if (c === '#' || (c === '/' && n === '/')) {
      const eol = text.indexOf('\n', i);
      blank(i, eol < 0 ? text.length : eol);
      i = eol < 0 ? text.length : eol;
    } else if (c === '/' && n === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail(i, 'comment is not closed with */');
      blank(i, end + 2);
      i = end + 2;
    } else if (c === '"') {
      frames.push({ kind: 'string', at: i });
      i++;
    } else if (c === '<' && n === '<' && /^<<-?[A-Za-z_]\w*[ \t]*\r?\n/.test(text.slice(i, i + 80))) {
      const m = /^<<-?([A-Za-z_]\w*)[ \t]*\r?\n/.exec(text.slice(i))!;
      const bodyStart = i + m[0].length;
      const close = new RegExp(`^[ \\t]*${m[1]}[ \\t]*$`, 'm');
      const rest = text.slice(bodyStart);
      const cm = close.exec(rest);
      if (!cm) fail(i, `heredoc ${m[1]} is never closed`);
      blank(bodyStart, bodyStart + cm!.index);
      i = bodyStart + cm!.index + cm![0].length;
    } else if (c === '{' || c === '[' || c === '(') {
      brackets.push({ ch: c, at: i });
      i++;
    } else if (c === '}' || c === ']' || c === ')') {
      if (f.kind === 'interp' && c === '}' && brackets.length === f.base) {
        frames.pop();
        i++;
        continue;
      }
      const open = brackets.pop();
      if (!open) fail(i, `'${c}' closes nothing`);
      if (open!.ch !== pairs[c]) fail(i, `'${c}' closes '${open!.ch}' from line ${lineCol(text, open!.at).line}`);
      i++;
    } else {
      i++;
    }
  }
  const last = frames.at(-1)!;
  if (last.kind === 'string') fail(last.at, 'string is not closed');
  if (last.kind === 'interp') fail(text.length - 1, 'template interpolation ${ is not closed');
  if (brackets.length) fail(brackets.at(-1)!.at, `'${brackets.at(-1)!.ch}' is never closed`);

  const codeText = code.join('');
  // Top-level statements: a line that starts at bracket depth 0.
  const blocks: HclBlock[] = [];
  const attributes = new Map<string, number>();
  let depth = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const codeLine = codeText.slice(offset, offset + line.length);
    if (depth === 0) {
      const b = /^\s*([A-Za-z_][\w-]*)((?:\s+"[^"]*")*)\s*\{/.exec(line);
      const a = /^\s*([A-Za-z_][\w-]*)\s*=/.exec(line);
      if (b && codeLine.includes('{')) {
        const open = offset + codeLine.indexOf('{');
        blocks.push({ type: b[1]!, labels: [...b[2]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!), bodyStart: open + 1, bodyEnd: matching(codeText, open), line: lineCol(text, offset).line });
      } else if (a) {
        attributes.set(a[1]!, lineCol(text, offset).line);
      }
    }
    for (const ch of codeLine) depth += '{[('.includes(ch) ? 1 : ')]}'.includes(ch) ? -1 : 0;
    offset += line.length + 1;
  }
  return { code: codeText, blocks, attributes };
}

function matching(code: string, open: number): number {
  let d = 0;
  for (let k = open; k < code.length; k++) {
    const c = code[k];
    if (c === '{' || c === '[' || c === '(') d++;
    else if (c === '}' || c === ']' || c === ')') {
      d--;
      if (d === 0) return k;
    }
  }
  return code.length;
}

export interface PackerTemplateSummary {
  variables: string[];
  sources: string[];
  builds: number;
}

/** A Packer HCL2 template: structure, `var.`/`local.` references, build sources. */
export function checkPackerTemplate(file: string, text: string, required: { sources: string[] } = { sources: [] }): PackerTemplateSummary {
  const scan = scanHcl(file, text);
  const at = (offset: number, detail: string) => new InputError({ file, ...lineCol(text, offset) }, detail);
  const variables = new Map<string, number>();
  for (const b of scan.blocks.filter((x) => x.type === 'variable')) {
    if (b.labels.length !== 1) throw new InputError({ file, line: b.line }, 'a variable block takes one label: variable "name" {');
    if (variables.has(b.labels[0]!)) throw new InputError({ file, line: b.line }, `variable "${b.labels[0]}" is declared twice`);
    variables.set(b.labels[0]!, b.line);
  }
  const locals = new Set<string>();
  for (const b of scan.blocks.filter((x) => x.type === 'locals')) {
    const body = scan.code.slice(b.bodyStart, b.bodyEnd);
    let d = 0;
    for (const line of body.split('\n')) {
      if (d === 0) {
        const m = /^\s*([A-Za-z_][\w-]*)\s*=/.exec(line);
        if (m) locals.add(m[1]!);
      }
      for (const ch of line) d += '{[('.includes(ch) ? 1 : ')]}'.includes(ch) ? -1 : 0;
    }
  }
  for (const m of scan.code.matchAll(/\bvar\.([A-Za-z_][\w-]*)/g)) {
    if (!variables.has(m[1]!)) throw at(m.index!, `var.${m[1]} is used but no variable "${m[1]}" is declared`);
  }
  for (const m of scan.code.matchAll(/\blocal\.([A-Za-z_][\w-]*)/g)) {
    if (!locals.has(m[1]!)) throw at(m.index!, `local.${m[1]} is used but no locals block sets ${m[1]}`);
  }
  const sources = scan.blocks.filter((b) => b.type === 'source').map((b) => {
    if (b.labels.length !== 2) throw new InputError({ file, line: b.line }, 'a source block takes two labels: source "builder" "name" {');
    return `${b.labels[0]}.${b.labels[1]}`;
  });
  for (const want of required.sources) {
    if (!sources.some((s) => s.startsWith(`${want}.`))) throw new InputError({ file, line: 1 }, `no source "${want}" "..." block`);
  }
  const builds = scan.blocks.filter((b) => b.type === 'build');
  if (builds.length === 0) throw new InputError({ file, line: 1 }, 'no build {} block');
  for (const b of builds) {
    const body = text.slice(b.bodyStart, b.bodyEnd);
    for (const m of body.matchAll(/"source\.([\w-]+)\.([\w-]+)"/g)) {
      if (!sources.includes(`${m[1]}.${m[2]}`)) throw at(b.bodyStart + m.index!, `build uses source.${m[1]}.${m[2]}, which no source block declares`);
    }
  }
  return { variables: [...variables.keys()], sources, builds: builds.length };
}

/** A .pkrvars.hcl file: only top-level assignments, each of a declared variable. */
export function checkPackerVarFile(file: string, text: string, declared: readonly string[]): Map<string, number> {
  const scan = scanHcl(file, text);
  if (scan.blocks.length) throw new InputError({ file, line: scan.blocks[0]!.line }, `a variables file holds assignments only, not a ${scan.blocks[0]!.type} block`);
  for (const [name, line] of scan.attributes) {
    if (!declared.includes(name)) throw new InputError({ file, line }, `${name} is not a variable of the template (declared: ${declared.join(', ')})`);
  }
  return scan.attributes;
}
