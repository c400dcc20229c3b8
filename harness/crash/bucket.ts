// Crash buckets: one stable signature per bug, whichever evidence found it. The same bugcheck is seen
// through three windows of different width:
//   hypervisor event (QEMU GUEST_PANICKED, Hyper-V 18590, event 1001): code + parameters only;
//   dump header (triage dump):                                        code + parameters + blamed driver;
//   kernel-debugger analysis:                                         code + module + symbol + stack.
// The primary signature (`id`) uses what they share where possible: code (without the _M flag),
// subcode (0xC4's parameter 1...) and module. `alternatives` lists every signature the evidence
// supports, widest last, so a later matcher joins "0xC4/0x62 from an event" with "0xC4/0x62 in
// mydrv from the dump" and "0xC4/0x62 in mydrv!Unload from kd". `instance` (code + exact parameters)
// recognises one crash reported twice (the host event and the dump of the same bugcheck).
import { escapeControls } from '../../lib/printable.ts';
import { baseBugcheckCode, bugcheckName, bugcheckSubcode, formatBugcheckCode } from './bugchecks.ts';
import type { CrashReport } from './types.ts';
import type { KernelDump } from './windows/dump.ts';
import type { BugcheckEventRecord } from './windows/events.ts';
import type { KdAnalysis } from './windows/kd.ts';

export type Attribution = 'ours' | 'other-vendor' | 'windows' | 'unknown';
export type EvidenceKind = 'hypervisor' | 'dump' | 'kd' | 'linux-console';

/**
 * Modules Windows ships (lowercase, no extension). A crash blamed on one of these is `windows` unless
 * one of our frames is on the stack. Extend per fleet through AttributionConfig.microsoft.
 */
export const MICROSOFT_MODULES: readonly string[] = [
  'nt', 'hal', 'kd', 'ci', 'clfs', 'tm', 'cng', 'ksecdd', 'ksecpkg', 'pshed', 'bootvid', 'werkernel', 'mcupdate',
  'verifierext', 'msrpc', 'wmilib', 'acpi', 'pci', 'pdc', 'intelppm', 'amdppm', 'processr', 'vdrvroot', 'partmgr',
  'volmgr', 'volmgrx', 'volsnap', 'volume', 'mountmgr', 'disk', 'classpnp', 'storport', 'stornvme', 'storahci',
  'storvsc', 'vmbus', 'vmbkmcl', 'netvsc', 'hvservice', 'winhv', 'fltmgr', 'ntfs', 'refs', 'fastfat', 'exfat',
  'udfs', 'cdfs', 'npfs', 'msfs', 'mup', 'rdbss', 'mrxsmb', 'mrxsmb20', 'csc', 'dfsc', 'fileinfo', 'wof', 'wcifs',
  'bindflt', 'luafv', 'filecrypt', 'storqosflt', 'cldflt', 'iorate', 'wdfilter', 'wdboot', 'wdnisdrv', 'npsvctrig',
  'wdf01000', 'wdfldr', 'ndis', 'netio', 'tcpip', 'afd', 'afunix', 'http', 'srv2', 'srvnet', 'fwpkclnt', 'wfplwfs',
  'win32k', 'win32kbase', 'win32kfull', 'dxgkrnl', 'dxgmms2', 'basicdisplay', 'basicrender', 'watchdog', 'cimfs',
  'usbxhci', 'ucx01000', 'usbhub3', 'hidclass', 'kbdclass', 'mouclass', 'i8042prt', 'spaceport', 'fvevol', 'rdyboost',
  'ahcache', 'cmimcext', 'ntosext', 'msisadrv', 'ksthunk', 'ks', 'portcls', 'condrv', 'beep', 'null', 'dam',
];

// Names the kernel image goes by in different tools: the dump's driver list says ntoskrnl.exe, a
// debugger says nt, a symbol server ntkrnlmp. One spelling, so all three join.
const KERNEL_ALIASES = new Set(['nt', 'ntoskrnl', 'ntkrnlmp', 'ntkrnlpa', 'ntkrpamp', 'ntkrla57']);

export interface AttributionConfig {
  /** Our module names (`myfilter`, `myfilter.sys`: case and extension do not matter). */
  ours: readonly string[];
  /** Microsoft module names; default MICROSOFT_MODULES. */
  microsoft?: readonly string[];
}

/** Lowercase, no directory, no .sys/.exe/.dll, kernel aliases folded into `nt`. */
export function normalizeModule(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('\\'), name.lastIndexOf('/')) + 1).toLowerCase().replace(/\.(sys|exe|dll)$/, '');
  return KERNEL_ALIASES.has(base) ? 'nt' : base;
}

export interface EvidenceFrame {
  module?: string;
  function?: string;
}

/** What a bucket is computed from: the common shape of every source of crash evidence. */
export interface CrashEvidence {
  kind: EvidenceKind;
  code?: number;
  params?: readonly string[];
  /** The blamed module, any spelling. */
  module?: string;
  function?: string;
  frames?: readonly EvidenceFrame[];
  /** Linux: the report title (already stable: no addresses). */
  title?: string;
  /** No module: why, when the source knows better than "no driver list or stack" (a dump's list was read). */
  unblamed?: string;
}

export interface CrashBucket {
  /** Primary signature: code/subcode:module where the module is known. */
  id: string;
  /** Every signature this evidence supports, most specific first; `id` is among them. */
  alternatives: string[];
  /** Code and exact parameters: the same crash reported by two sources. Absent without parameters. */
  instance?: string;
  evidence: EvidenceKind;
  code?: number;
  codeName?: string;
  subcode?: string;
  module?: string;
  function?: string;
  /** Our topmost frame, `module!function`, when one of our modules is on the stack. */
  ourFrame?: string;
  attribution: Attribution;
  attributionReason: string;
}

/**
 * A module name as bucket ids hold it: normalized, and from printable characters only (issue #16 row
 * 8: a dump's driver list or a debugger's output is guest data; lib/printable.ts escapes the rest as
 * \x1b...). Our and Microsoft's names go through the same, so they still match.
 */
function bucketModule(name: string): string {
  return escapeControls(normalizeModule(name));
}

function attribute(module: string | undefined, ourFrame: string | undefined, cfg: AttributionConfig, linux: boolean, unblamed?: string): { attribution: Attribution; reason: string } {
  const ours = new Set(cfg.ours.map(bucketModule));
  const microsoft = new Set((cfg.microsoft ?? MICROSOFT_MODULES).map(bucketModule));
  if (module && ours.has(module)) return { attribution: 'ours', reason: `blamed module ${module} is ours` };
  const isOs = module === undefined || (!linux && microsoft.has(module));
  if (ourFrame && isOs) {
    return { attribution: 'ours', reason: `${module ? `blamed module ${module} is part of the OS` : 'no module blamed'}, and our frame ${ourFrame} is on the stack` };
  }
  if (module === undefined) return { attribution: 'unknown', reason: linux ? 'the kernel proper, no module blamed' : (unblamed ?? 'no module blamed (the evidence has no driver list or stack)') };
  if (!linux && microsoft.has(module)) return { attribution: 'windows', reason: `blamed module ${module} ships with Windows` };
  return { attribution: 'other-vendor', reason: `blamed module ${module} is neither ours${linux ? '' : ' nor Microsoft’s'}` };
}

function firstOurFrame(frames: readonly EvidenceFrame[] | undefined, cfg: AttributionConfig): string | undefined {
  const ours = new Set(cfg.ours.map(bucketModule));
  const f = frames?.find((x) => x.module && ours.has(bucketModule(x.module)));
  return f?.module ? `${bucketModule(f.module)}${f.function ? `!${escapeControls(f.function)}` : ''}` : undefined;
}

/**
 * Computes the bucket of one piece of crash evidence. Every part of an id that came from the guest
 * (module, function, title, parameters) is made printable here, where ids are made.
 */
export function bucketCrash(evidence: CrashEvidence, cfg: AttributionConfig): CrashBucket {
  const e: CrashEvidence = {
    ...evidence,
    ...(evidence.function !== undefined ? { function: escapeControls(evidence.function) } : {}),
    ...(evidence.title !== undefined ? { title: escapeControls(evidence.title) } : {}),
    ...(evidence.params !== undefined ? { params: evidence.params.map(escapeControls) } : {}),
  };
  const module = e.module ? bucketModule(e.module) : undefined;
  const ourFrame = firstOurFrame(e.frames, cfg);

  if (e.kind === 'linux-console') {
    const title = e.title ?? 'unknown crash';
    // The module is part of the primary signature: the partner's build of the lab module has the same
    // function names, and its crash is not ours.
    const id = module ? `linux:${module}:${title}` : `linux:${title}`;
    const alternatives = [id, ...(module ? [`linux:${title}`, `linux:${module}`] : [])];
    const { attribution, reason } = attribute(module, ourFrame, cfg, true);
    return { id, alternatives, evidence: e.kind, ...(module ? { module } : {}), ...(e.function ? { function: e.function } : {}), ...(ourFrame ? { ourFrame } : {}), attribution, attributionReason: reason };
  }

  const params = e.params ?? [];
  const code = e.code === undefined ? undefined : baseBugcheckCode(e.code);
  const subcode = e.code === undefined ? undefined : bugcheckSubcode(e.code, params);
  const base = code === undefined ? 'win:unknown' : `win:${formatBugcheckCode(code)}${subcode ? `/${subcode}` : ''}`;
  const alternatives: string[] = [];
  if (module && e.function) alternatives.push(`${base}:${module}!${e.function}`);
  // Our topmost frame, when it says more than the blamed module does (a Windows module blamed, or
  // our function when the symbol had none).
  if (ourFrame && ourFrame !== module && ourFrame !== `${module}!${e.function}`) alternatives.push(`${base}:ours=${ourFrame}`);
  if (module) alternatives.push(`${base}:${module}`);
  alternatives.push(base);
  const id = module ? `${base}:${module}` : base;
  const { attribution, reason } = attribute(module, ourFrame, cfg, false, e.unblamed);
  const bucket: CrashBucket = { id, alternatives, evidence: e.kind, attribution, attributionReason: reason };
  if (e.code !== undefined && params.length === 4) bucket.instance = `win:${formatBugcheckCode(e.code >>> 0)}(${params.join(',')})`;
  if (code !== undefined) {
    bucket.code = code;
    bucket.codeName = bugcheckName(code);
  }
  if (subcode) bucket.subcode = subcode;
  if (module) bucket.module = module;
  if (e.function) bucket.function = e.function;
  if (ourFrame) bucket.ourFrame = ourFrame;
  return bucket;
}

/** Two buckets hold the same bug: one's primary signature is among the other's alternatives. */
export function bucketsMatch(a: CrashBucket, b: CrashBucket): boolean {
  return b.alternatives.includes(a.id) || a.alternatives.includes(b.id);
}

/** Two buckets come from the same crash (same code and parameters), whatever they blame. */
export function sameCrash(a: CrashBucket, b: CrashBucket): boolean {
  return a.instance !== undefined && a.instance === b.instance;
}

// ---- evidence from each reader ----

export function evidenceFromDump(d: KernelDump): CrashEvidence {
  return { kind: 'dump', code: d.bugcheck.code, params: d.bugcheck.params, ...(d.blamed ? { module: d.blamed.name } : {}), ...(d.unblamed ? { unblamed: d.unblamed } : {}) };
}

export function evidenceFromKd(a: KdAnalysis): CrashEvidence {
  return {
    kind: 'kd',
    code: a.bugcheck.code,
    params: a.bugcheck.params,
    ...(a.module ? { module: a.module } : {}),
    ...(a.function ? { function: a.function } : {}),
    frames: a.frames,
  };
}

export function evidenceFromEvent(e: BugcheckEventRecord | { code: number; params: readonly string[] }): CrashEvidence {
  return { kind: 'hypervisor', code: e.code, params: e.params };
}

/** The lab's Linux CrashReport (harness/crash/linux.ts) in the same bucket model: `linux:<module>:<title>`. */
export function evidenceFromLinux(r: CrashReport): CrashEvidence {
  return {
    kind: 'linux-console',
    title: r.title,
    ...(r.module ? { module: r.module } : {}),
    ...(r.function ? { function: r.function } : {}),
    frames: r.frames,
  };
}

export function bucketLinuxReport(r: CrashReport, cfg: AttributionConfig): CrashBucket {
  return bucketCrash(evidenceFromLinux(r), cfg);
}
