// Readers for Driver Verifier text (windows.md §2), tested on shared/samples/verifier:
//   - `verifier /querysettings`, current form: hex values (`Verifier Flags: 0x...`, `[X] 0x... label`), the
//     boot mode and the verified drivers, each block's value either right under its label or after a blank
//     line (real output indents and spaces its blocks; windows.md §2 shows them packed). Labels are
//     translated on non-English Windows, so only the hex values, the `[X]` marks, module file names and
//     the order of blocks are relied on;
//   - `verifier /querysettings`, older form (the documentation's low-resources sample): `Label: Enabled`
//     lines without any hex. Only English labels can be read; anything else is reported as unreadable;
//   - `verifier /query` (parseVerifierQuery): what runs now, not what the next boot gets: the same flag
//     lines, the statistics summary (decimal counters) and the verified modules, each with its load and
//     unload counts (`MODULE: x.sys (load: 1 / unload: 0)`) and, when loaded, its pool counters. Read by
//     shape and order, not by label: a module name followed by two counts, `( n / n )` pairs in order;
//   - `!verifier 3` from the kernel debugger (parseVerifierExtension): flags and the pool allocation and
//     leak summary per module.
//
// The text is the guest's (issue #16): every reader cuts it to VERIFIER_MAX_CHARS and its lines to
// VERIFIER_MAX_LINE_CHARS first, says so (`inputTruncated`, and a warning where the result has
// warnings), and reads it line by line with patterns anchored at the line start: linear in its length.
import { InputError } from '../../lib/errors.ts';
import { boundText, type TextBounds, type Truncation } from '../../lib/text-bounds.ts';
import { BOOT_MODES, bitsOf, flagName, hex8, type BootMode, type VerifierPlan } from './profiles.ts';

/**
 * Characters of verifier output read (4 MiB): /querysettings and /query print a few KB; `!verifier 3`
 * with a leak list prints a line per outstanding allocation, about 50,000 of them in this much.
 */
export const VERIFIER_MAX_CHARS = 4 * 1024 * 1024;
/** Characters read of each line of verifier output (4 KiB): real lines are under 500. */
export const VERIFIER_MAX_LINE_CHARS = 4096;
const VERIFIER_BOUNDS: TextBounds = { maxChars: VERIFIER_MAX_CHARS, maxLineChars: VERIFIER_MAX_LINE_CHARS };

function bounded(what: string, text: string): { text: string; truncated: Truncation | null; lines: string[] } {
  const b = boundText(what, text, VERIFIER_BOUNDS);
  return { ...b, lines: b.text.split(/\r\n|\n|\r/) };
}

const SPACE = /\s/;
const isSpace = (ch: string): boolean => SPACE.test(ch);
const isDigit = (ch: string): boolean => ch >= '0' && ch <= '9';

export interface FlagState {
  bit: number;
  enabled: boolean;
  line: number;
}

export interface LowResourcesSettings {
  /** Out of 10,000. */
  probability: number | null;
  poolTags: string[];
  applications: string[];
  delayMinutes: number | null;
}

export interface QuerySettings {
  format: 'hex' | 'labels';
  /** The `...: 0x........` summary value, when printed. */
  verifierFlags: number | null;
  flags: FlagState[];
  /** Enabled bits: the summary value, else the `[X]` lines, else English labels; null when unreadable. */
  enabledFlags: number | null;
  flagsSource: 'summary' | 'flag-lines' | 'english-labels' | null;
  bootMode: BootMode | null;
  /** The boot mode line as printed (it may be translated). */
  bootModeRaw: string | null;
  drivers: string[];
  lowResources: LowResourcesSettings | null;
  warnings: string[];
  /** Present when the output was over VERIFIER_MAX_CHARS or had lines over VERIFIER_MAX_LINE_CHARS (also in `warnings`). */
  inputTruncated?: Truncation;
}

export type VerifierOutputKind = 'querysettings-hex' | 'querysettings-labels' | 'query' | 'debugger-extension' | 'unknown';

// `[X] 0x00000001 Special pool`, `[X] (0x00000001) Special pool`: one optional parenthesis, so that no
// two parts take the same spaces.
const FLAG_LINE = /^\s*\[([ xX*])\]\s*(?:\(\s*)?(0x[0-9a-fA-F]+)/;
const SUMMARY = /^[^[\]]*?:\s*(0x[0-9a-fA-F]{1,8})\s*$/;
const MODULE_LINE = /^\s*([A-Za-z0-9_.$-]+\.(?:sys|exe|dll))\s*$/i;
// `kd> !verifier 3 ...` (`0: kd>` on a multiprocessor target), or the extension's first line.
const EXTENSION_PROMPT = /^\s*(?:\d+:\s*)?kd>\s*!verifier\b/i;
const EXTENSION_LEVEL = /^Verify Flags Level 0x/i;
// The older /querysettings form: `Special pool: Enabled` (on a line cut of its trailing spaces).
const LABEL_STATE = /^[^:]+:\s*(Enabled|Disabled)$/i;
// `verifier /query`: `MODULE: x.sys (load: 1 / unload: 0)`, words translated, the two counts in this order.
// No two adjacent parts can take the same characters (no \s* beside a class holding spaces): a long
// line costs linear time, not quadratic.
const QUERY_MODULE = /^(?:[^:()]*:)?\s*([A-Za-z0-9_.$-]+\.(?:sys|exe|dll))\s*\([^()\d]*(\d+)\s*\/[^()\d]*(\d+)\s*\)\s*$/i;
// `verifier /query` counters: `Label:   123` (decimal; never printed by /querysettings).
const COUNTER = /^\s*([^\s:\d][^:]*):\s+(\d+)\s*$/;
// `( 3 / 1 )` NonPaged / Paged pairs of /query (decimal) and !verifier (hex).
const POOL_PAIR = /:\s*\(\s*(0x[0-9a-f]+|\d+)\s*\/\s*(0x[0-9a-f]+|\d+)\s*\)\s*$/i;

/** English labels of the older /querysettings form and their flag bits (windows.md §2 flag list). */
const ENGLISH_LABELS: Readonly<Record<string, number>> = {
  'special pool': 0x1,
  'force irql checking': 0x2,
  'low resources simulation': 0x4,
  'randomized low resources simulation': 0x4,
  'pool tracking': 0x8,
  'i/o verification': 0x10,
  'deadlock detection': 0x20,
  'enhanced i/o verification': 0x40,
  'dma checking': 0x80,
  'security checks': 0x100,
  'force pending i/o requests': 0x200,
  'irp logging': 0x400,
  'miscellaneous checks': 0x800,
  'ddi compliance checking': 0x20000,
};

/** Which verifier output this is, from the part a reader reads (VERIFIER_MAX_CHARS, lines cut). */
export function recogniseVerifierOutput(text: string): VerifierOutputKind {
  return recognise(bounded('verifier output', text).lines);
}

function recognise(lines: readonly string[]): VerifierOutputKind {
  if (lines.some((l) => EXTENSION_PROMPT.test(l) || EXTENSION_LEVEL.test(l))) return 'debugger-extension';
  // /query prints its module list with load counts, and a statistics summary of decimal counters;
  // /querysettings prints neither.
  if (lines.some((l) => QUERY_MODULE.test(l)) || lines.filter((l) => COUNTER.test(l)).length >= 3) return 'query';
  if (lines.some((l) => FLAG_LINE.test(l) || SUMMARY.test(l))) return 'querysettings-hex';
  if (lines.some((l) => LABEL_STATE.test(l.trimEnd()))) return 'querysettings-labels';
  return 'unknown';
}

/** `1/10000`, `600 / 10000`: the number before the first `/ 10000`; null when there is none. */
function outOf10000(s: string): number | null {
  for (let slash = s.indexOf('/'); slash >= 0; slash = s.indexOf('/', slash + 1)) {
    let q = slash + 1;
    while (q < s.length && isSpace(s[q]!)) q++;
    if (!s.startsWith('10000', q)) continue;
    let end = slash;
    while (end > 0 && isSpace(s[end - 1]!)) end--;
    let start = end;
    while (start > 0 && isDigit(s[start - 1]!)) start--;
    if (start < end) return Number(s.slice(start, end));
  }
  return null;
}

/** The last number in `s` (`Boot time delay: 2 minutes.` → 2); null when there is none. */
function lastNumber(s: string): number | null {
  let end = s.length;
  while (end > 0 && !isDigit(s[end - 1]!)) end--;
  let start = end;
  while (start > 0 && isDigit(s[start - 1]!)) start--;
  return start < end ? Number(s.slice(start, end)) : null;
}

/** A flag line's `0x...` value as a bit mask; null, said in `warnings`, when it is wider than 32 bits. */
function flagBit(hex: string, line: number, warnings: string[]): number | null {
  const v = Number.parseInt(hex.slice(2), 16);
  if (v <= 0xffffffff) return v;
  warnings.push(`line ${line}: flag value ${hex.length > 20 ? `${hex.slice(0, 20)}...` : hex} is wider than 32 bits: not a verifier flag, ignored`);
  return null;
}

/** `warnings` gets the truncation note, and `inputTruncated` the details, when the input was cut. */
function sayTruncated(out: { warnings: string[]; inputTruncated?: Truncation }, truncated: Truncation | null): void {
  if (!truncated) return;
  out.inputTruncated = truncated;
  out.warnings.push(truncated.note);
}

function bootModeOf(s: string): BootMode | null {
  const k = s.trim().toLowerCase().replace(/[\s_-]+/g, '');
  return (BOOT_MODES as readonly string[]).includes(k) ? (k as BootMode) : null;
}

export function parseQuerySettings(input: string, file = 'verifier /querysettings'): QuerySettings {
  const { lines, truncated } = bounded(`${file} output`, input);
  const kind = recognise(lines);
  if (kind === 'debugger-extension') {
    throw new InputError({ file, line: 1 }, 'this is kd "!verifier" debugger extension output, not verifier /querysettings: read it with parseVerifierExtension');
  }
  if (kind === 'query') {
    throw new InputError({ file, line: 1 }, 'this is verifier /query output (what runs now, with load counts and counters), not verifier /querysettings: read it with parseVerifierQuery');
  }
  if (kind === 'unknown') throw new InputError({ file, line: 1 }, `no Driver Verifier settings found: expected "[X] 0x..." flag lines or a "...: 0x..." flags value${truncated ? ` (in the part read: ${truncated.note})` : ''}`);
  const warnings: string[] = [];
  const flags: FlagState[] = [];
  let verifierFlags: number | null = null;
  let bootMode: BootMode | null = null;
  let bootModeRaw: string | null = null;
  const drivers: string[] = [];
  let labelFlags = 0;
  let labelsRead = 0;
  const unknownLabels: string[] = [];
  let lowResources: LowResourcesSettings | null = null;
  const lrLines: Array<{ text: string; line: number }> = [];
  let lastLabel = -1; // index of the last `Something:` line with nothing after the colon
  let prevNonBlank = -1;
  // Lines that are a block's only value (right under a label, blank lines between allowed).
  const values: Array<{ text: string; line: number }> = [];

  lines.forEach((raw, i) => {
    const l = raw.trimEnd();
    const afterLabel = lastLabel >= 0 && lastLabel === prevNonBlank;
    if (l.trim().length) prevNonBlank = i;
    const f = FLAG_LINE.exec(l);
    if (f) {
      const bit = flagBit(f[2]!, i + 1, warnings);
      if (bit !== null) flags.push({ bit, enabled: f[1] !== ' ', line: i + 1 });
      return;
    }
    const s = SUMMARY.exec(l);
    if (s && verifierFlags === null && !/^\s*-/.test(l)) {
      verifierFlags = Number.parseInt(s[1]!.slice(2), 16);
      return;
    }
    if (/^\s*-\s/.test(l)) {
      lrLines.push({ text: l.replace(/^\s*-\s*/, ''), line: i + 1 });
      return;
    }
    const mod = MODULE_LINE.exec(l);
    if (mod) {
      drivers.push(mod[1]!);
      return;
    }
    if (/:\s*$/.test(l)) {
      lastLabel = i;
      return;
    }
    const lab = /^([^:]+):\s*(\S.*)$/.exec(l);
    if (lab && kind === 'querysettings-labels') {
      const v = lab[2]!.trim().toLowerCase();
      const bit = ENGLISH_LABELS[lab[1]!.trim().toLowerCase()];
      if ((v === 'enabled' || v === 'disabled') && bit !== undefined) {
        labelsRead++;
        if (v === 'enabled') labelFlags |= bit;
      } else if (v === 'enabled' || v === 'disabled') unknownLabels.push(lab[1]!.trim());
      return;
    }
    if (l.trim().length && afterLabel && (flags.length || verifierFlags !== null)) values.push({ text: l.trim(), line: i + 1 });
  });

  // The boot mode: the block whose value is a boot mode; when none reads as one (translated output), the
  // first single-value block after the flags, which is where /querysettings prints it.
  const bm = values.find((v) => bootModeOf(v.text)) ?? values[0];
  if (bm) {
    bootModeRaw = bm.text;
    bootMode = bootModeOf(bm.text);
    if (!bootMode) warnings.push(`boot mode "${bm.text}" (line ${bm.line}) is not one of ${BOOT_MODES.join(', ')} in English: left unread (translated output?)`);
  }

  if (lrLines.length) {
    // Order, not words: probability, pool tags, applications, delay (the documentation sample's order).
    const valueOf = (t: string): string => t.slice(t.lastIndexOf(':') + 1).trim().replace(/\.$/, '').trim();
    lowResources = {
      probability: outOf10000(lrLines[0]?.text ?? ''),
      poolTags: lrLines[1] ? valueOf(lrLines[1].text).split(/\s+/).filter(Boolean) : [],
      applications: lrLines[2] ? valueOf(lrLines[2].text).split(/\s+/).filter(Boolean) : [],
      delayMinutes: lastNumber(lrLines[3]?.text ?? ''),
    };
    if (lrLines.length !== 4) warnings.push(`low resources options: expected 4 "- " lines (probability, pool tags, applications, delay), found ${lrLines.length}`);
  }

  const fromHex = enabledFrom(verifierFlags, flags, warnings);
  let enabledFlags: number | null = fromHex.enabledFlags;
  let flagsSource: QuerySettings['flagsSource'] = fromHex.flagsSource;
  if (flagsSource === null && labelsRead > 0) {
    enabledFlags = labelFlags;
    flagsSource = 'english-labels';
    warnings.push('older /querysettings form without hex values: flags read from English labels, which only works on English Windows');
  } else if (flagsSource === null) {
    warnings.push('no hex flag values and no English labels: flags cannot be read (translated older output?)');
  }
  if (unknownLabels.length) warnings.push(`labels not understood: ${unknownLabels.join(', ')}`);
  const out: QuerySettings = {
    format: kind === 'querysettings-hex' ? 'hex' : 'labels',
    verifierFlags,
    flags,
    enabledFlags,
    flagsSource,
    bootMode,
    bootModeRaw,
    drivers,
    lowResources,
    warnings,
  };
  sayTruncated(out, truncated);
  return out;
}

/**
 * The enabled set from the summary value, else the `[X]` lines. The summary value is the whole set; the
 * [X] lines may list only some flags (windows.md §2's own example lists three). Disagreements are
 * reported in `warnings`, the summary wins.
 */
function enabledFrom(summary: number | null, flags: FlagState[], warnings: string[]): { enabledFlags: number | null; flagsSource: 'summary' | 'flag-lines' | null } {
  if (summary !== null) {
    for (const f of flags) {
      if (f.enabled !== ((summary & f.bit) !== 0)) warnings.push(`line ${f.line}: flag ${hex8(f.bit)} is marked ${f.enabled ? '[X]' : '[ ]'} but the flags value ${hex8(summary)} says the opposite`);
    }
    return { enabledFlags: summary, flagsSource: 'summary' };
  }
  if (flags.length) return { enabledFlags: flags.filter((f) => f.enabled).reduce((a, f) => (a | f.bit) >>> 0, 0), flagsSource: 'flag-lines' };
  return { enabledFlags: null, flagsSource: null };
}

export interface SettingsCheck {
  ok: boolean;
  /** Each a sentence: what is missing and what it means. */
  problems: string[];
  notes: string[];
}

/** Do the settings read back match what `plan` asked for, for `driver`? */
export function checkSettings(parsed: QuerySettings, plan: VerifierPlan, driver: string = plan.drivers[0] ?? ''): SettingsCheck {
  const problems: string[] = [];
  const notes: string[] = [...parsed.warnings];
  const listed = parsed.drivers.some((d) => d.toLowerCase() === driver.toLowerCase());
  if (plan.profile === 'none') {
    if (parsed.enabledFlags !== null && parsed.enabledFlags !== 0) problems.push(`profile "none" expects Driver Verifier off, but flags ${hex8(parsed.enabledFlags)} are enabled (${bitsOf(parsed.enabledFlags).map(flagName).join(', ')})`);
    if (driver && listed) problems.push(`profile "none" expects no verified drivers, but ${driver} is listed`);
    return { ok: problems.length === 0, problems, notes };
  }
  if (parsed.enabledFlags === null) {
    problems.push(`cannot confirm profile "${plan.profile}": the flags could not be read from this output`);
  } else {
    for (const bit of bitsOf(plan.expectedFlags)) {
      if ((parsed.enabledFlags & bit) === 0) {
        problems.push(`flag ${hex8(bit)} (${flagName(bit)}) is expected by profile "${plan.profile}" on ${plan.releaseName} but is not enabled (enabled: ${hex8(parsed.enabledFlags)})`);
      }
    }
    const extra = parsed.enabledFlags & ~plan.expectedFlags;
    if (extra) notes.push(`also enabled beyond the profile: ${bitsOf(extra >>> 0).map((b) => `${hex8(b)} ${flagName(b)}`).join(', ')}`);
    if (parsed.flagsSource === 'english-labels') notes.push('flags were read from English labels (older output form), not hex values');
  }
  if (!driver) problems.push('no driver named to check');
  else if (!listed) {
    problems.push(
      `${driver} is not among the verified drivers (${parsed.drivers.length ? parsed.drivers.join(', ') : 'none listed'}): the settings were not applied to it, or a reboot is still pending`,
    );
  }
  for (const other of plan.drivers.slice(1)) {
    if (!parsed.drivers.some((d) => d.toLowerCase() === other.toLowerCase())) problems.push(`${other} was asked to be verified too, but is not listed`);
  }
  if (plan.bootMode && parsed.bootMode !== plan.bootMode) {
    problems.push(parsed.bootMode ? `boot mode is ${parsed.bootMode}, expected ${plan.bootMode}` : `boot mode ${plan.bootMode} expected, but it could not be read (${parsed.bootModeRaw ?? 'not printed'})`);
  }
  if (plan.lowResources) {
    const lr = parsed.lowResources;
    if (!lr) problems.push('profile "lowres" expects low resources simulation options, none were printed');
    else {
      if (lr.probability !== plan.lowResources.probability) problems.push(`fault probability is ${lr.probability ?? 'unreadable'}/10000, expected ${plan.lowResources.probability}/10000`);
      if (lr.delayMinutes !== plan.lowResources.delayMinutes) problems.push(`boot delay is ${lr.delayMinutes ?? 'unreadable'} minutes, expected ${plan.lowResources.delayMinutes}`);
      const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]!.toLowerCase());
      if (!same(lr.poolTags, plan.lowResources.poolTags)) problems.push(`pool tags are [${lr.poolTags.join(' ')}], expected [${plan.lowResources.poolTags.join(' ')}]`);
      if (!same(lr.applications, plan.lowResources.applications)) problems.push(`applications are [${lr.applications.join(' ')}], expected [${plan.lowResources.applications.join(' ')}]`);
    }
  }
  if (plan.expectedRuleClasses.length) notes.push(`rule classes ${plan.expectedRuleClasses.join(' ')} cannot be confirmed from /querysettings (its rule class lines are unverified)`);
  return { ok: problems.length === 0, problems, notes };
}

// ---------------------------------------------------------------- verifier /query (the running system)

export interface QueryModule {
  name: string;
  /** The two counts after the name, in the order printed: times loaded and unloaded since boot. */
  loads: number;
  unloads: number;
  /** Loaded more often than unloaded: the driver is in memory now. */
  loaded: boolean;
  /** `( NonPaged / Paged )` pool counters, printed only for a loaded module. */
  current: { nonPaged: PoolCount; paged: PoolCount } | null;
  peak: { nonPaged: PoolCount; paged: PoolCount } | null;
  contiguousBytes: number | null;
  peakContiguousBytes: number | null;
  line: number;
}

export interface VerifierQuery {
  /** The `...: 0x........` flags value the running system uses, when printed. */
  verifierFlags: number | null;
  flags: FlagState[];
  enabledFlags: number | null;
  flagsSource: 'summary' | 'flag-lines' | null;
  /** Statistics summary counters by their label as printed (translated on non-English Windows). */
  statistics: Record<string, number>;
  modules: QueryModule[];
  warnings: string[];
  /** Present when the output was over VERIFIER_MAX_CHARS or had lines over VERIFIER_MAX_LINE_CHARS (also in `warnings`). */
  inputTruncated?: Truncation;
}

/**
 * Reads `verifier /query`: the flags the running system verifies with, the statistics summary and the
 * verified modules with their load counts and pool counters. Labels are not relied on: counters are
 * `label: number` lines, a module is a file name followed by two counts in parentheses, and a module's
 * pool pairs come in the order /query prints them (current allocations, current bytes, peak
 * allocations, peak bytes), then its two contiguous memory figures.
 */
export function parseVerifierQuery(input: string, file = 'verifier /query'): VerifierQuery {
  const { lines, truncated } = bounded(`${file} output`, input);
  // With nothing verified, /query prints one sentence and nothing else: "No drivers are currently
  // verified." Only the English one is known; a translated one stays unreadable (an error, not a
  // guess that nothing runs).
  const said = lines.map((l) => l.trim()).filter(Boolean);
  if (said.length === 1 && !truncated && /^no drivers are currently verified\.?$/i.test(said[0]!)) {
    return { verifierFlags: null, flags: [], enabledFlags: 0, flagsSource: null, statistics: {}, modules: [], warnings: [`read "${said[0]}" as nothing verified`] };
  }
  const kind = recognise(lines);
  if (kind === 'debugger-extension') throw new InputError({ file, line: 1 }, 'this is kd "!verifier" debugger extension output, not verifier /query: read it with parseVerifierExtension');
  if (kind !== 'query') {
    throw new InputError({ file, line: 1 }, `not verifier /query output: expected a module line with load counts ("MODULE: x.sys (load: 1 / unload: 0)") or a statistics summary of "label: number" lines${kind === 'querysettings-hex' || kind === 'querysettings-labels' ? ' (this looks like verifier /querysettings: read it with parseQuerySettings)' : ''}${truncated ? ` (in the part read: ${truncated.note})` : ''}`);
  }
  const out: VerifierQuery = { verifierFlags: null, flags: [], enabledFlags: null, flagsSource: null, statistics: {}, modules: [], warnings: [] };
  let mod: QueryModule | null = null;
  let pairs: Array<[number, number]> = [];
  let singles: number[] = [];
  const num = (s: string): number => (/^0x/i.test(s) ? Number.parseInt(s, 16) : Number(s));
  const finish = (): void => {
    if (!mod) return;
    const [ca, cb, pa, pb] = pairs;
    if (ca && cb) mod.current = { nonPaged: { allocations: ca[0], bytes: cb[0] }, paged: { allocations: ca[1], bytes: cb[1] } };
    if (pa && pb) mod.peak = { nonPaged: { allocations: pa[0], bytes: pb[0] }, paged: { allocations: pa[1], bytes: pb[1] } };
    mod.contiguousBytes = singles[0] ?? null;
    mod.peakContiguousBytes = singles[1] ?? null;
    if (pairs.length && pairs.length !== 4) out.warnings.push(`${mod.name} (line ${mod.line}): expected 4 pool counter pairs (current allocations, current bytes, peak allocations, peak bytes), found ${pairs.length}`);
    if (mod.loaded && !pairs.length) out.warnings.push(`${mod.name} (line ${mod.line}) is loaded but no pool counters were printed (cut output?)`);
    out.modules.push(mod);
    mod = null;
    pairs = [];
    singles = [];
  };
  lines.forEach((raw, i) => {
    const l = raw.trimEnd();
    const f = FLAG_LINE.exec(l);
    if (f) {
      const bit = flagBit(f[2]!, i + 1, out.warnings);
      if (bit !== null) out.flags.push({ bit, enabled: f[1] !== ' ', line: i + 1 });
      return;
    }
    const s = SUMMARY.exec(l);
    if (s && out.verifierFlags === null) {
      out.verifierFlags = Number.parseInt(s[1]!.slice(2), 16);
      return;
    }
    const m = QUERY_MODULE.exec(l);
    if (m) {
      finish();
      const loads = Number(m[2]);
      const unloads = Number(m[3]);
      mod = { name: m[1]!, loads, unloads, loaded: loads > unloads, current: null, peak: null, contiguousBytes: null, peakContiguousBytes: null, line: i + 1 };
      return;
    }
    if (mod) {
      const p = POOL_PAIR.exec(l);
      if (p) pairs.push([num(p[1]!), num(p[2]!)]);
      else {
        const c = COUNTER.exec(l);
        if (c) singles.push(Number(c[2]));
      }
      return;
    }
    const c = COUNTER.exec(l);
    if (c) out.statistics[c[1]!.replace(/\s+/g, ' ').trim()] = Number(c[2]);
  });
  finish();
  Object.assign(out, enabledFrom(out.verifierFlags, out.flags, out.warnings));
  sayTruncated(out, truncated);
  return out;
}

// ---------------------------------------------------------------- !verifier 3 (kernel debugger)

export interface PoolCount {
  allocations: number;
  bytes: number;
}

export interface VerifierModule {
  name: string;
  address: string;
  state: string | null;
  current: { nonPaged: PoolCount; paged: PoolCount } | null;
  peak: { nonPaged: PoolCount; paged: PoolCount } | null;
  /** Outstanding allocations listed under the module (the leak list at unload). */
  allocations: Array<{ address: string; length: number; tag: string; caller: string; symbol: string | null }>;
}

export interface VerifierExtension {
  command: string | null;
  flagsLevel: number | null;
  flags: FlagState[];
  enabledFlags: number | null;
  /** `Name  0x...` statistics lines, by their (English) name. */
  statistics: Record<string, number>;
  modules: VerifierModule[];
  /** Modules with outstanding pool at the time of the dump: a leak when the driver was unloading. */
  outstanding: Array<{ module: string; allocations: number; bytes: number }>;
  /** The text stops before the module list (cut excerpts): what is missing is not zero, it is unknown. */
  truncated: boolean;
  /**
   * Present when this reader cut the output to VERIFIER_MAX_CHARS or its lines to VERIFIER_MAX_LINE_CHARS:
   * modules and allocations after the cut are not read.
   */
  inputTruncated?: Truncation;
}

/** `kd> !verifier 3 x.sys` (any prompt before `kd>`): the command; null when the line is not one. */
function commandOf(line: string): string | null {
  for (let at = line.indexOf('kd>'); at >= 0; at = line.indexOf('kd>', at + 1)) {
    let p = at + 3;
    while (p < line.length && isSpace(line[p]!)) p++;
    if (line.startsWith('!verifier', p)) return line.slice(p).trim();
  }
  return null;
}

/**
 * Reads `!verifier 3 <module>` output. Debugger extensions print English whatever the OS language
 * (kd's own text, not Windows resources), so the statistic names are used as keys; this is our
 * understanding, not verified on a localized debugger.
 */
export function parseVerifierExtension(input: string, file = '!verifier output'): VerifierExtension {
  const { lines, truncated } = bounded(`${file}`, input);
  if (recognise(lines) !== 'debugger-extension') throw new InputError({ file, line: 1 }, `not kd "!verifier" output (expected "kd> !verifier" or "Verify Flags Level 0x...")${truncated ? ` (in the part read: ${truncated.note})` : ''}`);
  const out: VerifierExtension = { command: null, flagsLevel: null, flags: [], enabledFlags: null, statistics: {}, modules: [], outstanding: [], truncated: true };
  let mod: VerifierModule | null = null;
  const pair = (s: string): [number, number] | null => {
    const m = /\(\s*(0x[0-9a-f]+)\s*\/\s*(0x[0-9a-f]+)\s*\)/i.exec(s);
    return m ? [Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16)] : null;
  };
  let pending: { curAlloc?: [number, number]; curBytes?: [number, number]; peakAlloc?: [number, number]; peakBytes?: [number, number] } = {};
  const finish = (): void => {
    if (!mod) return;
    if (pending.curAlloc && pending.curBytes) mod.current = { nonPaged: { allocations: pending.curAlloc[0], bytes: pending.curBytes[0] }, paged: { allocations: pending.curAlloc[1], bytes: pending.curBytes[1] } };
    if (pending.peakAlloc && pending.peakBytes) mod.peak = { nonPaged: { allocations: pending.peakAlloc[0], bytes: pending.peakBytes[0] }, paged: { allocations: pending.peakAlloc[1], bytes: pending.peakBytes[1] } };
    out.modules.push(mod);
    mod = null;
    pending = {};
  };
  lines.forEach((raw, i) => {
    const l = raw.trimEnd();
    const cmd = commandOf(l);
    if (cmd !== null) {
      out.command = cmd;
      return;
    }
    const lvl = /^Verify Flags Level (0x[0-9a-f]+)/i.exec(l);
    if (lvl) {
      out.flagsLevel = Number.parseInt(lvl[1]!, 16);
      return;
    }
    const f = FLAG_LINE.exec(l);
    if (f) {
      // `(0x00000000) Automatic Checks` is always on and has no bit; a value wider than 32 bits is no flag.
      const bit = flagBit(f[2]!, i + 1, []);
      if (bit !== null && bit !== 0) out.flags.push({ bit, enabled: f[1] !== ' ', line: i + 1 });
      return;
    }
    const m = /^\s*MODULE:\s*(0x[0-9a-f`]+)\s+(\S+)(?:\s+\(([^)]*)\))?/i.exec(l);
    if (m) {
      finish();
      out.truncated = false;
      mod = { name: m[2]!, address: m[1]!, state: m[3] ?? null, current: null, peak: null, allocations: [] };
      return;
    }
    if (mod) {
      const p = pair(l);
      if (p && /^\s*Current Pool Allocations/i.test(l)) pending.curAlloc = p;
      else if (p && /^\s*Current Pool Bytes/i.test(l)) pending.curBytes = p;
      else if (p && /^\s*Peak Pool Allocations/i.test(l)) pending.peakAlloc = p;
      else if (p && /^\s*Peak Pool Bytes/i.test(l)) pending.peakBytes = p;
      const a = /^\s*(0x[0-9a-f`]+)\s+(0x[0-9a-f]+)\s+(\S{1,4})\s+(0x[0-9a-f`]+)(?:\s+(\S.*))?$/i.exec(l);
      if (a) mod.allocations.push({ address: a[1]!, length: Number.parseInt(a[2]!, 16), tag: a[3]!, caller: a[4]!, symbol: a[5]?.trim() ?? null });
      return;
    }
    const st = /^\s{2,}([A-Za-z][A-Za-z ]*?[A-Za-z])\s+(0x[0-9a-f]+)\s*$/i.exec(l);
    if (st) out.statistics[st[1]!.replace(/\s+/g, ' ')] = Number.parseInt(st[2]!, 16);
  });
  finish();
  if (out.flags.length) out.enabledFlags = out.flags.filter((f) => f.enabled).reduce((a, f) => (a | f.bit) >>> 0, 0);
  for (const m of out.modules) {
    const c = m.current;
    if (c && (c.nonPaged.allocations || c.paged.allocations)) out.outstanding.push({ module: m.name, allocations: c.nonPaged.allocations + c.paged.allocations, bytes: c.nonPaged.bytes + c.paged.bytes });
  }
  if (truncated) out.inputTruncated = truncated;
  return out;
}
