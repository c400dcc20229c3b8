// INF parser for a file-system minifilter package (windows.md §3). Pure: text (or bytes) in, a typed
// ParsedInf out, or an InputError naming the file and the 1-based line.
//
// INF syntax handled here (Microsoft "General Syntax Rules for INF Files"):
//   - `[Section Name]` headers; section names are case-insensitive; a repeated header continues the section;
//   - `key = value` lines whose value is comma-separated fields; lines without `=` (file lists) are fields only;
//   - `"quoted strings"` where `""` is a literal quote; a quote does not span lines;
//   - `%strkey%` replaced from [Strings] (then [Strings.*] localized sections); `%%` is a literal percent;
//     numeric tokens such as `%12%` are directory ids (DIRIDs) and are kept as written;
//   - `;` starts a comment outside quotes; `\` as the last character continues the line;
//   - UTF-16LE (BOM FF FE), UTF-16BE (BOM FE FF), UTF-8 (with or without BOM), else Windows-1252.
//
// An INF is a driver package's, ours, but it is still read as untrusted text (issue #16): at most
// INF_MAX_CHARS, fields at most INF_MAX_STRING_CHARS once substituted, sections and keys looked up in maps
// (linear in the lines), and references (AddReg, CopyFiles) expanding to at most INF_MAX_REFERENCED_ENTRIES
// entries. Past a bound the INF is refused with an InputError naming the file (and the line).
import { InputError } from '../../lib/errors.ts';

/** Characters of INF text read (1 MiB; a minifilter INF is a few KB). Past it the INF is refused. */
export const INF_MAX_CHARS = 1024 * 1024;
/** Characters of one key or field after %strkey% substitution: SetupAPI's MAX_INF_STRING_LENGTH (setupapi.h). */
export const INF_MAX_STRING_CHARS = 4096;
/**
 * Entries read through AddReg and CopyFiles references, counted once per reference: every service may
 * name the same long AddReg section, so the work is services x entries whatever the look-ups cost.
 */
export const INF_MAX_REFERENCED_ENTRIES = 100_000;

const fmt = (n: number): string => n.toLocaleString('en-US');

/** `s` without trailing spaces and tabs (a loop: `/[ \t]+$/` backtracks over a long run of them). */
function trimEndSpaceTab(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === ' ' || s[end - 1] === '\t')) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** One `key = fields` (or fields-only) line after string substitution. */
export interface InfEntry {
  /** Key as written (substituted), or null for a fields-only line. */
  key: string | null;
  fields: string[];
  /** 1-based line where the (possibly continued) line starts. */
  line: number;
}

export interface InfSection {
  /** Name as first written. */
  name: string;
  /** Line of the first header of this name. */
  line: number;
  entries: InfEntry[];
}

export interface InfInstance {
  name: string;
  /** As written (a string: legacy-style fractional altitudes such as "389998.99" exist). */
  altitude: string | null;
  flags: number | null;
  /** Line of the Altitude value (or of the first value written for the instance). */
  line: number;
}

export interface InfService {
  name: string;
  /** AddService flags field (e.g. 0x800 = SPSVCINST_ASSOCSERVICE), when present. */
  addServiceFlags: number | null;
  /** Name of the service-install section, e.g. `MiniFilter.Service`. */
  serviceSection: string;
  /** Line of the AddService directive. */
  line: number;
  displayName: string | null;
  serviceType: number | null;
  startType: number | null;
  errorControl: number | null;
  /** e.g. `%12%\fgfilter.sys` (DIRIDs left as written). */
  serviceBinary: string | null;
  /** File name part of ServiceBinary. */
  binaryName: string | null;
  loadOrderGroup: string | null;
  dependencies: string[];
  /** From the AddReg sections of the service section: `Parameters\Instances` (or legacy `Instances`). */
  defaultInstance: string | null;
  instances: InfInstance[];
  /** The registry subkey the instances were written under (`Parameters\Instances` or `Instances`). */
  instancesKey: string | null;
}

export interface InfCopyFiles {
  /** The install section holding the CopyFiles directive. */
  installSection: string;
  /** The file-list section, or null for `@file` direct copies. */
  fileListSection: string | null;
  files: Array<{ name: string; source: string }>;
  /** From [DestinationDirs] (the list's own entry, else DefaultDestDir). */
  destination: { dirid: number; subdir: string | null; path: string | null } | null;
  line: number;
}

export interface ParsedInf {
  file: string;
  encoding: 'utf-16le' | 'utf-16be' | 'utf-8' | 'windows-1252';
  /** Keyed by lower-case section name. */
  sections: Map<string, InfSection>;
  /** Lower-case string key → value (quotes removed). */
  strings: Map<string, string>;
  version: {
    signature: string | null;
    class: string | null;
    classGuid: string | null;
    provider: string | null;
    catalogFile: string | null;
    driverVer: { date: string; version: string | null; line: number } | null;
  };
  /** Every DefaultInstall* install section (not `.Services`), as named in the INF. */
  defaultInstallSections: string[];
  /** The section chosen for amd64: `DefaultInstall.NTamd64` when present. */
  installSection: string | null;
  services: InfService[];
  copyFiles: InfCopyFiles[];
  hasManufacturer: boolean;
  /** DefaultUninstall* sections and whether each sets LegacyUninstall=1. */
  defaultUninstall: Array<{ name: string; legacyUninstall: boolean; line: number }>;
}

// ---------------------------------------------------------------- decoding

export function decodeInf(bytes: Uint8Array): { text: string; encoding: ParsedInf['encoding'] } {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le' };
  }
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be' };
  }
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start)), encoding: 'utf-8' };
  } catch {
    // Not UTF-8: INFs without a BOM are read by SetupAPI in the system ANSI code page; 1252 is the
    // usual one for the ASCII-only INFs we expect.
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'windows-1252' };
  }
}

// ---------------------------------------------------------------- lexing

interface Piece {
  text: string;
  quoted: boolean;
}
interface RawLine {
  line: number;
  /** Key pieces (when the line has an `=` outside quotes). */
  key: Piece[] | null;
  fields: Piece[][];
}
interface RawSection {
  name: string;
  line: number;
  lines: RawLine[];
}

const PLACEHOLDER = /%([^%]*)%/g;

/** Splits one logical line into key and comma-separated fields of pieces. */
function lexLine(file: string, text: string, line: number): RawLine {
  let key: Piece[] | null = null;
  const fields: Piece[][] = [];
  let field: Piece[] = [];
  let buf = '';
  let i = 0;
  const flush = (): void => {
    if (buf.length) field.push({ text: buf, quoted: false });
    buf = '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      flush();
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= text.length) throw new InputError({ file, line }, 'unterminated quoted string (a quote does not continue past the end of the line)');
        if (text[j] === '"') {
          if (text[j + 1] === '"') {
            s += '"';
            j += 2;
            continue;
          }
          break;
        }
        s += text[j];
        j++;
      }
      field.push({ text: s, quoted: true });
      i = j + 1;
      continue;
    }
    if (c === ',') {
      flush();
      fields.push(trimPieces(field));
      field = [];
    } else if (c === '=' && key === null && fields.length === 0) {
      flush();
      key = trimPieces(field);
      field = [];
    } else {
      buf += c;
    }
    i++;
  }
  flush();
  fields.push(trimPieces(field));
  return { line, key, fields };
}

/** Trims whitespace at the outer edges of unquoted pieces (quoted text keeps its spaces). */
function trimPieces(pieces: Piece[]): Piece[] {
  const out = pieces.map((p) => ({ ...p }));
  const first = out[0];
  if (first && !first.quoted) first.text = first.text.replace(/^[ \t]+/, '');
  const last = out[out.length - 1];
  if (last && !last.quoted) last.text = trimEndSpaceTab(last.text);
  return out.filter((p) => p.quoted || p.text.length > 0);
}

/** Position of a `;` comment outside quotes, or -1; throws on an unterminated quote. */
function commentStart(file: string, text: string, line: number): number {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuote = !inQuote; // `""` toggles twice: still correct
    else if (c === ';' && !inQuote) return i;
  }
  if (inQuote) throw new InputError({ file, line }, 'unterminated quoted string (a quote does not continue past the end of the line)');
  return -1;
}

function lex(file: string, text: string): RawSection[] {
  const physical = text.split(/\r\n|\n|\r/);
  const sections: RawSection[] = [];
  const byName = new Map<string, RawSection>();
  let current: RawSection | null = null;
  let pending = '';
  let pendingLine = 0;
  for (let n = 0; n < physical.length; n++) {
    const lineNo = n + 1;
    let raw = physical[n]!;
    if (n === 0) raw = raw.replace(/^\uFEFF/, '');
    const cut = commentStart(file, raw, lineNo);
    let content = cut >= 0 ? raw.slice(0, cut) : raw;
    const trimmedEnd = trimEndSpaceTab(content);
    if (trimmedEnd.endsWith('\\')) {
      if (!pending.length) pendingLine = lineNo;
      pending += trimmedEnd.slice(0, -1);
      continue;
    }
    if (pending.length) {
      content = pending + content;
      pending = '';
    } else {
      pendingLine = lineNo;
    }
    const logical = content.trim();
    if (!logical.length) continue;
    if (logical.startsWith('[')) {
      const close = logical.indexOf(']');
      if (close < 0) throw new InputError({ file, line: pendingLine }, `section header without "]": ${logical.slice(0, 60)}`);
      const name = logical.slice(1, close).trim();
      if (!name.length) throw new InputError({ file, line: pendingLine }, 'empty section name "[]"');
      const rest = logical.slice(close + 1).trim();
      if (rest.length) throw new InputError({ file, line: pendingLine }, `unexpected text after section header [${name}]: ${rest.slice(0, 40)}`);
      const lower = name.toLowerCase();
      const existing = byName.get(lower);
      // A repeated section header continues the same section (SetupAPI merges them).
      current = existing ?? { name, line: pendingLine, lines: [] };
      if (!existing) {
        sections.push(current);
        byName.set(lower, current);
      }
      continue;
    }
    if (!current) throw new InputError({ file, line: pendingLine }, `line outside any section (expected a [Section] header first): ${logical.slice(0, 60)}`);
    current.lines.push(lexLine(file, logical, pendingLine));
  }
  if (pending.length) throw new InputError({ file, line: pendingLine }, 'line continuation ("\\") at the end of the file');
  return sections;
}

// ---------------------------------------------------------------- substitution

function substitution(file: string, line: number, whole: string, name: string, strings: Map<string, string>): string {
  if (name === '') return '%';
  if (/^\d+$/.test(name)) return whole; // DIRID, resolved by SetupAPI at install time
  const v = strings.get(name.toLowerCase());
  if (v === undefined) throw new InputError({ file, line }, `%${name}% is not defined in [Strings]`);
  return v;
}

/**
 * The pieces of a key or field joined, with %strkey% substituted, refused past INF_MAX_STRING_CHARS as
 * soon as it gets there (three characters `%a%` may stand for a long string: a line of them would
 * otherwise build a string of line x value characters).
 */
function joinPieces(file: string, line: number, pieces: Piece[], strings: Map<string, string>): string {
  let out = '';
  const check = (): void => {
    if (out.length > INF_MAX_STRING_CHARS) {
      throw new InputError({ file, line }, `a key or field longer than INF_MAX_STRING_CHARS (${fmt(INF_MAX_STRING_CHARS)}) characters once %strkey% are substituted (SetupAPI's MAX_INF_STRING_LENGTH); it begins ${JSON.stringify(out.slice(0, 60))}`);
    }
  };
  for (const p of pieces) {
    let last = 0;
    PLACEHOLDER.lastIndex = 0;
    for (let m = PLACEHOLDER.exec(p.text); m; m = PLACEHOLDER.exec(p.text)) {
      out += p.text.slice(last, m.index) + substitution(file, line, m[0], m[1]!, strings);
      last = m.index + m[0].length;
      check();
    }
    out += p.text.slice(last);
    check();
  }
  return out;
}

// ---------------------------------------------------------------- semantics

function parseNumber(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t.slice(2), 16);
  if (/^\d+$/.test(t)) return Number.parseInt(t, 10);
  return null;
}

/** DIRIDs a minifilter INF uses; others are reported as null paths. */
const DIRIDS: Record<number, string> = {
  10: '%SystemRoot%',
  11: '%SystemRoot%\\System32',
  12: '%SystemRoot%\\System32\\drivers',
};

export function parseInf(file: string, input: string | Uint8Array): ParsedInf {
  const tooBig = (chars: string): InputError =>
    new InputError({ file }, `the INF is ${chars}, more than INF_MAX_CHARS (${fmt(INF_MAX_CHARS)}); a driver package's INF is a few KB`);
  // No encoding takes more than 4 bytes a character: past that, it is too big before it is decoded.
  if (typeof input !== 'string' && input.length > 4 * INF_MAX_CHARS) throw tooBig(`${fmt(input.length)} bytes`);
  const { text, encoding } = typeof input === 'string' ? { text: input, encoding: 'utf-8' as const } : decodeInf(input);
  if (text.length > INF_MAX_CHARS) throw tooBig(`${fmt(text.length)} characters`);
  const raw = lex(file, text);

  // [Strings] first (unlocalized), then localized [Strings.xxxx] for keys not yet defined.
  const strings = new Map<string, string>();
  const stringSections = raw.filter((s) => /^strings(\..+)?$/i.test(s.name)).sort((a, b) => a.name.length - b.name.length);
  for (const s of stringSections) {
    for (const l of s.lines) {
      if (!l.key) throw new InputError({ file, line: l.line }, `[${s.name}] line without "=": expected strkey = "value"`);
      const k = l.key.map((p) => p.text).join('').toLowerCase();
      // A value is one field; commas inside an unquoted value are kept.
      const v = l.fields.map((f) => f.map((p) => p.text).join('')).join(',');
      if (!strings.has(k)) strings.set(k, v);
    }
  }

  const sections = new Map<string, InfSection>();
  for (const s of raw) {
    const isStrings = /^strings(\..+)?$/i.test(s.name);
    const entries: InfEntry[] = s.lines.map((l) =>
      isStrings
        ? { key: l.key ? l.key.map((p) => p.text).join('') : null, fields: l.fields.map((f) => f.map((p) => p.text).join('')), line: l.line }
        : {
            key: l.key ? joinPieces(file, l.line, l.key, strings) : null,
            fields: l.fields.map((f) => joinPieces(file, l.line, f, strings)),
            line: l.line,
          },
    );
    sections.set(s.name.toLowerCase(), { name: s.name, line: s.line, entries });
  }

  const get = (name: string): InfSection | undefined => sections.get(name.toLowerCase());
  // Entries of each section by lower-case key, made when a section is first asked (a scan per question
  // would be entries x questions: [DestinationDirs] is asked once per CopyFiles target).
  const byKey = new Map<InfSection, Map<string, InfEntry[]>>();
  const keysOf = (sec: InfSection): Map<string, InfEntry[]> => {
    let m = byKey.get(sec);
    if (!m) {
      m = new Map();
      for (const e of sec.entries) {
        if (e.key === null) continue;
        const k = e.key.toLowerCase();
        const list = m.get(k);
        if (list) list.push(e);
        else m.set(k, [e]);
      }
      byKey.set(sec, m);
    }
    return m;
  };
  const values = (sec: InfSection | undefined, key: string): InfEntry[] => (sec ? (keysOf(sec).get(key.toLowerCase()) ?? []) : []);
  const first = (sec: InfSection | undefined, key: string): InfEntry | undefined => values(sec, key)[0];
  // Entries read through references (AddReg, CopyFiles), against INF_MAX_REFERENCED_ENTRIES.
  let referenced = 0;
  const reference = (list: InfSection, line: number): void => {
    referenced += Math.max(1, list.entries.length);
    if (referenced > INF_MAX_REFERENCED_ENTRIES) {
      throw new InputError(
        { file, line },
        `the AddReg and CopyFiles references read more than INF_MAX_REFERENCED_ENTRIES (${fmt(INF_MAX_REFERENCED_ENTRIES)}) entries by here ([${list.name}] has ${fmt(list.entries.length)}); a driver package needs a few dozen`,
      );
    }
  };

  // [Version]
  const ver = get('Version');
  const one = (key: string): string | null => first(ver, key)?.fields[0] ?? null;
  // CatalogFile may be decorated (CatalogFile.NTamd64); the undecorated one wins when both exist.
  const catalogFile = one('CatalogFile') ?? one('CatalogFile.NTamd64') ?? one('CatalogFile.NT');
  let driverVer: ParsedInf['version']['driverVer'] = null;
  const dv = first(ver, 'DriverVer');
  if (dv && (dv.fields[0] ?? '').length) {
    const date = dv.fields[0] ?? '';
    if (!/^\d{1,2}\/\d{1,2}\/\d{4}$/.test(date)) throw new InputError({ file, line: dv.line }, `DriverVer date "${date}" is not mm/dd/yyyy`);
    const version = dv.fields[1]?.length ? dv.fields[1] : null;
    if (version !== null && !/^\d+(\.\d+){0,3}$/.test(version)) throw new InputError({ file, line: dv.line }, `DriverVer version "${version}" is not w.x.y.z`);
    driverVer = { date, version, line: dv.line };
  }

  // DefaultInstall sections: DefaultInstall[.decoration...] except the `.Services` companions.
  const defaultInstallSections = [...sections.values()]
    .map((s) => s.name)
    .filter((n) => /^defaultinstall(\.|$)/i.test(n) && !/\.services$/i.test(n));
  const installSection =
    defaultInstallSections.find((n) => n.toLowerCase() === 'defaultinstall.ntamd64') ??
    defaultInstallSections.find((n) => /^defaultinstall\.ntamd64\./i.test(n)) ??
    null;

  // Services from every DefaultInstall*.Services section.
  const services: InfService[] = [];
  const serviceKeys = new Set<string>();
  for (const sec of sections.values()) {
    if (!/^defaultinstall(\..+)?\.services$/i.test(sec.name)) continue;
    for (const e of values(sec, 'AddService')) {
      const name = e.fields[0] ?? '';
      if (!name.length) throw new InputError({ file, line: e.line }, 'AddService without a service name');
      const svcSectionName = e.fields[2] ?? '';
      if (!svcSectionName.length) throw new InputError({ file, line: e.line }, `AddService=${name} names no service-install section (expected AddService=${name},flags,${name}.Service)`);
      const svcSec = get(svcSectionName);
      if (!svcSec) throw new InputError({ file, line: e.line }, `AddService=${name} names service section [${svcSectionName}], which is not in the INF`);
      // Keyed by the section's name as first written, as the services list shows it.
      const serviceKey = `${name.toLowerCase()}\u0000${svcSec.name.toLowerCase()}`;
      if (serviceKeys.has(serviceKey)) continue;
      serviceKeys.add(serviceKey);
      services.push(readService(file, name, parseNumber(e.fields[1]), svcSec, e.line, get, values, first, reference));
    }
  }

  // CopyFiles targets of every DefaultInstall section.
  const destDirs = get('DestinationDirs');
  const destinationOf = (list: string | null): InfCopyFiles['destination'] => {
    const e = (list ? first(destDirs, list) : undefined) ?? first(destDirs, 'DefaultDestDir');
    if (!e) return null;
    const dirid = parseNumber(e.fields[0]);
    if (dirid === null) throw new InputError({ file, line: e.line }, `[DestinationDirs] ${e.key} = "${e.fields[0] ?? ''}": expected a DIRID number`);
    const subdir = e.fields[1]?.length ? e.fields[1] : null;
    const base = DIRIDS[dirid] ?? null;
    return { dirid, subdir, path: base === null ? null : subdir ? `${base}\\${subdir}` : base };
  };
  const copyFiles: InfCopyFiles[] = [];
  for (const inst of defaultInstallSections) {
    const sec = get(inst)!;
    for (const e of values(sec, 'CopyFiles')) {
      for (const target of e.fields.filter((f) => f.length)) {
        if (target.startsWith('@')) {
          const n = target.slice(1);
          copyFiles.push({ installSection: sec.name, fileListSection: null, files: [{ name: n, source: n }], destination: destinationOf(null), line: e.line });
          continue;
        }
        const list = get(target);
        if (!list) throw new InputError({ file, line: e.line }, `CopyFiles names section [${target}], which is not in the INF`);
        reference(list, e.line);
        const files = list.entries.map((fe) => {
          // File-list lines: destination-file-name[,source-file-name[,temporary-file-name[,flag]]]
          const name = fe.key ?? fe.fields[0] ?? '';
          const src = fe.key === null && fe.fields[1]?.length ? fe.fields[1] : name;
          return { name, source: src };
        });
        copyFiles.push({ installSection: sec.name, fileListSection: list.name, files, destination: destinationOf(list.name), line: e.line });
      }
    }
  }

  const defaultUninstall = [...sections.values()]
    .filter((s) => /^defaultuninstall(\.|$)/i.test(s.name) && !/\.services$/i.test(s.name))
    .map((s) => ({ name: s.name, legacyUninstall: first(s, 'LegacyUninstall')?.fields[0] === '1', line: s.line }));

  return {
    file,
    encoding,
    sections,
    strings,
    version: {
      signature: one('Signature'),
      class: one('Class'),
      classGuid: one('ClassGuid'),
      provider: one('Provider'),
      catalogFile,
      driverVer,
    },
    defaultInstallSections,
    installSection,
    services,
    copyFiles,
    hasManufacturer: sections.has('manufacturer'),
    defaultUninstall,
  };
}

function readService(
  file: string,
  name: string,
  addServiceFlags: number | null,
  sec: InfSection,
  line: number,
  get: (n: string) => InfSection | undefined,
  values: (s: InfSection | undefined, k: string) => InfEntry[],
  first: (s: InfSection | undefined, k: string) => InfEntry | undefined,
  reference: (list: InfSection, line: number) => void,
): InfService {
  const str = (k: string): string | null => {
    const v = first(sec, k)?.fields[0];
    return v === undefined || v === '' ? null : v;
  };
  const num = (k: string): number | null => {
    const e = first(sec, k);
    if (!e) return null;
    const n = parseNumber(e.fields[0]);
    if (n === null) throw new InputError({ file, line: e.line }, `${k} = "${e.fields[0] ?? ''}" in [${sec.name}]: expected a number`);
    return n;
  };
  const serviceBinary = str('ServiceBinary');
  const binaryName = serviceBinary ? (serviceBinary.split(/[\\/]/).pop() ?? null) : null;
  const dependencies = values(sec, 'Dependencies').flatMap((e) => e.fields.filter((f) => f.length));

  const instances = new Map<string, InfInstance>();
  let defaultInstance: string | null = null;
  let instancesKey: string | null = null;
  for (const ar of values(sec, 'AddReg')) {
    for (const listName of ar.fields.filter((f) => f.length)) {
      const list = get(listName);
      if (!list) throw new InputError({ file, line: ar.line }, `AddReg names section [${listName}], which is not in the INF`);
      reference(list, ar.line);
      for (const e of list.entries) {
        // reg-root, [subkey], [value-entry-name], [flags], [value]
        const parts = e.key === null ? e.fields : [e.key, ...e.fields];
        if ((parts[0] ?? '').toUpperCase() !== 'HKR') continue;
        const subkey = (parts[1] ?? '').replace(/\//g, '\\');
        const valueName = (parts[2] ?? '').toLowerCase();
        const value = parts[4] ?? '';
        // windows.md §3 writes `Parameters\Instances`; older minifilter INFs wrote `Instances` directly
        // under the service key. Both are read here; which one FltMgr reads on each build is unverified.
        const m = /^((?:Parameters\\)?Instances)(?:\\(.+))?$/i.exec(subkey);
        if (!m) continue;
        instancesKey ??= m[1]!;
        if (!m[2]) {
          if (valueName === 'defaultinstance') defaultInstance = value;
          continue;
        }
        const instName = m[2];
        const inst = instances.get(instName.toLowerCase()) ?? { name: instName, altitude: null, flags: null, line: e.line };
        if (valueName === 'altitude') {
          if (!/^\d+(\.\d+)?$/.test(value)) throw new InputError({ file, line: e.line }, `Altitude "${value}" for instance ${instName} is not a decimal number`);
          inst.altitude = value;
          inst.line = e.line;
        } else if (valueName === 'flags') {
          const f = parseNumber(value);
          if (f === null) throw new InputError({ file, line: e.line }, `Flags "${value}" for instance ${instName} is not a number`);
          inst.flags = f;
        }
        instances.set(instName.toLowerCase(), inst);
      }
    }
  }
  return {
    name,
    addServiceFlags,
    serviceSection: sec.name,
    line,
    displayName: str('DisplayName'),
    serviceType: num('ServiceType'),
    startType: num('StartType'),
    errorControl: num('ErrorControl'),
    serviceBinary,
    binaryName,
    loadOrderGroup: str('LoadOrderGroup'),
    dependencies,
    defaultInstance,
    instances: [...instances.values()],
    instancesKey,
  };
}
