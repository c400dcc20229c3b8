// A small strict XML parser for tests (no XML library is installed): well-formedness (one root,
// matched tags, quoted unique attributes, only the five predefined entities and character
// references, no illegal characters) into a tree that tests check against a schema.
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9._:]*/;
const ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

function decode(s: string, where: string): string {
  if (ILLEGAL.test(s)) throw new Error(`illegal XML character in ${where}`);
  return s.replace(/&([^;]*);?/g, (m, ent: string) => {
    if (!m.endsWith(';')) throw new Error(`bare & in ${where}`);
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (ent in named) return named[ent]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(ent);
    if (!num) throw new Error(`unknown entity &${ent}; in ${where}`);
    const code = num[1]!.startsWith('x') ? parseInt(num[1]!.slice(1), 16) : parseInt(num[1]!, 10);
    return String.fromCodePoint(code);
  });
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  if (xml.startsWith('<?xml')) i = xml.indexOf('?>') + 2;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (text.includes('>')) throw new Error(`stray > at ${i}`);
    if (stack.length) stack[stack.length - 1]!.text += decode(text, `text at ${i}`);
    else if (text.trim()) throw new Error(`text outside the root at ${i}`);
    if (lt === -1) break;
    i = lt;
    if (xml.startsWith('</', i)) {
      const end = xml.indexOf('>', i);
      const name = xml.slice(i + 2, end).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}> at ${i}`);
      i = end + 1;
      continue;
    }
    if (xml.startsWith('<!--', i) || xml.startsWith('<![CDATA[', i) || xml.startsWith('<!', i) || xml.startsWith('<?', i)) throw new Error(`unexpected markup at ${i}`);
    i++;
    const m = NAME.exec(xml.slice(i));
    if (!m) throw new Error(`bad tag name at ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
    i += m[0].length;
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(i))![0].length;
      i += ws;
      if (xml.startsWith('/>', i) || xml.startsWith('>', i)) break;
      if (!ws) throw new Error(`attributes need white space between them at ${i}`);
      const a = /^([A-Za-z_:][-A-Za-z0-9._:]*)="([^"<]*)"/.exec(xml.slice(i));
      if (!a) throw new Error(`bad attribute at ${i}: ${xml.slice(i, i + 30)}`);
      if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]} at ${i}`);
      el.attrs[a[1]!] = decode(a[2]!, `attribute ${a[1]}`);
      i += a[0].length;
    }
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new Error('two root elements');
    else root = el;
    if (xml.startsWith('/>', i)) i += 2;
    else {
      i += 1;
      stack.push(el);
    }
  }
  if (stack.length || !root) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  return root;
}

/** An element's allowed attributes (required ones marked) and children in order, with counts. */
export interface ElementRule {
  attrs: Record<string, 'required' | 'optional' | RegExp>;
  /** Child element names in the order the schema's sequence allows, each with min/max occurrences. */
  children: Array<{ name: string; min: number; max: number }>;
  /** Children that may appear in any order (xs:choice maxOccurs=unbounded). */
  anyOrder?: boolean;
}

/** Checks a tree against rules: unknown elements/attributes, missing required ones, order, counts. */
export function checkAgainst(el: XmlElement, rules: Record<string, ElementRule>, path = ''): string[] {
  const here = `${path}/${el.name}`;
  const rule = rules[el.name];
  if (!rule) return [`${here}: element not in the schema`];
  const problems: string[] = [];
  for (const [k, v] of Object.entries(rule.attrs)) {
    if (v === 'required' && !(k in el.attrs)) problems.push(`${here}: missing @${k}`);
    if (v instanceof RegExp && k in el.attrs && !v.test(el.attrs[k]!)) problems.push(`${here}: @${k}="${el.attrs[k]}" does not match ${v}`);
  }
  for (const k of Object.keys(el.attrs)) if (!(k in rule.attrs)) problems.push(`${here}: attribute @${k} not in the schema`);
  let pos = 0;
  const seen = new Map<string, number>();
  for (const child of el.children) {
    const idx = rule.children.findIndex((c) => c.name === child.name);
    if (idx === -1) {
      problems.push(`${here}: child <${child.name}> not allowed`);
      continue;
    }
    if (!rule.anyOrder && idx < pos) problems.push(`${here}: <${child.name}> out of order`);
    pos = Math.max(pos, idx);
    seen.set(child.name, (seen.get(child.name) ?? 0) + 1);
    problems.push(...checkAgainst(child, rules, here));
  }
  for (const c of rule.children) {
    const n = seen.get(c.name) ?? 0;
    if (n < c.min || n > c.max) problems.push(`${here}: <${c.name}> occurs ${n} times, expected ${c.min}..${c.max === Infinity ? 'n' : c.max}`);
  }
  return problems;
}
