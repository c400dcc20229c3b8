// Parsers for recorded identity outputs that are not our JSON: systeminfo, Get-ComputerInfo and the
// registry's CurrentVersion key as PowerShell or reg.exe print it (samples/os). They exist for
// outputs collected by hand or by older tooling; get_identity.ps1 is how the harness asks.
//
// What each can say (windows.md section 7: a patch level is CurrentBuild.UBR):
// - systeminfo: "OS Version: 10.0.14393 N/A Build 14393": the build, never the UBR. English labels.
// - Get-ComputerInfo: WindowsUBR, OsBuildNumber (when the listing has it), WindowsEditionId, ...
// - registry listings: `UBR : 2006` (Get-ItemProperty), a bare value after `-ExpandProperty UBR`,
//   `UBR    REG_DWORD    0x7d6` (reg query), or a table with a UBR or Revision column.
// A `Revision` of 0 is what [Environment]::OSVersion shows, which never carries the UBR
// (samples/os/osversion_vs_UBR...), so a table's Revision counts as the UBR only when it is not 0.
import { InputError } from '../../../lib/errors.ts';

export type IdentitySource = 'systeminfo' | 'get-computerinfo' | 'registry';

export interface TextIdentity {
  /** Which kinds of listing the text held. */
  sources: IdentitySource[];
  build: number | null;
  ubr: number | null;
  /** `build.ubr` when both are known. */
  patchLevel: string | null;
  /** Why ubr (or patchLevel) is null. */
  ubrReason?: string;
  /** Full version as printed (`10.0.14393`, `6.3.9600`). */
  version: string | null;
  edition: string | null;
  productName: string | null;
  /** DisplayVersion (22H2), when the listing has it. */
  displayVersion: string | null;
  /** ReleaseId or Get-ComputerInfo's WindowsVersion (1607; 2009 on 20H2 and later). */
  releaseId: string | null;
  installationType: string | null;
}

interface Found<T> {
  value: T;
  line: number;
  source: IdentitySource;
}

class Collector {
  readonly sources = new Set<IdentitySource>();
  private readonly fields = new Map<string, Found<string | number>>();
  constructor(private readonly file: string) {}

  set(key: string, value: string | number, line: number, source: IdentitySource): void {
    this.sources.add(source);
    const prior = this.fields.get(key);
    // Numbers must agree; names may be spelled differently by different tools (systeminfo's OS Name
    // has "Microsoft " in front of the registry's ProductName): the first one found is kept.
    if (prior !== undefined && prior.value !== value && (typeof value === 'number' || key === 'version')) {
      throw new InputError(
        { file: this.file, line },
        `${key} is ${JSON.stringify(value)} here but ${JSON.stringify(prior.value)} on line ${prior.line}: the listings disagree`,
      );
    }
    if (prior === undefined) this.fields.set(key, { value, line, source });
  }

  get(key: string): Found<string | number> | undefined {
    return this.fields.get(key);
  }

  str(key: string): string | null {
    const v = this.fields.get(key)?.value;
    return v === undefined ? null : String(v);
  }

  num(key: string): number | null {
    const v = this.fields.get(key)?.value;
    return typeof v === 'number' ? v : null;
  }
}

function integer(text: string, file: string, line: number, what: string): number {
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n)) throw new InputError({ file, line }, `${what}: expected a whole number, got ${JSON.stringify(t)}`);
  return n;
}

/** `Name : Value` lines as Get-ComputerInfo and Get-ItemProperty (Format-List) print them. */
const LIST_LINE = /^([A-Za-z][A-Za-z0-9_]*)\s*:\s?(.*)$/;

const COMPUTERINFO_KEYS: Record<string, string> = {
  WindowsUBR: 'ubr',
  OsBuildNumber: 'build',
  WindowsEditionId: 'edition',
  WindowsProductName: 'productName',
  WindowsVersion: 'releaseId',
  WindowsInstallationType: 'installationType',
  OsVersion: 'version',
};

const REGISTRY_KEYS: Record<string, string> = {
  UBR: 'ubr',
  CurrentBuild: 'build',
  CurrentBuildNumber: 'build',
  EditionID: 'edition',
  ProductName: 'productName',
  DisplayVersion: 'displayVersion',
  ReleaseId: 'releaseId',
  InstallationType: 'installationType',
};

const INTEGER_FIELDS = new Set(['ubr', 'build']);

// The line readers below split on whitespace instead of matching one pattern with `\s+(.*?)\s*$`,
// which backtracks quadratically on long runs of spaces (issue #16).

/** The value after `label` when the label starts the line and whitespace follows it; else null. */
function labelled(line: string, label: string): string | null {
  if (!line.startsWith(label) || !/^\s/.test(line.slice(label.length, label.length + 1))) return null;
  const value = line.slice(label.length).trim();
  return value === '' ? null : value;
}

/**
 * systeminfo's "OS Version:   10.0.14393 N/A Build 14393" as [line, major, minor, build, "Build" build]:
 * the version is the first word, "Build <n>" the last two; null when the line is not of that shape.
 */
function systeminfoVersion(line: string): [string, string, string, string, string] | null {
  const rest = labelled(line, 'OS Version:');
  if (rest === null) return null;
  const words = rest.split(/\s+/);
  const v = /^(\d+)\.(\d+)\.(\d+)$/.exec(words[0]!);
  const n = words.length;
  if (!v || n < 3 || words[n - 2] !== 'Build' || !/^\d+$/.test(words[n - 1]!)) return null;
  return [line, v[1]!, v[2]!, v[3]!, words[n - 1]!];
}

/** reg query's "    UBR    REG_DWORD    0x7d6" as [line, name, value] (value may hold spaces); else null. */
function regQueryValue(line: string): [string, string, string] | null {
  if (!/^\s/.test(line)) return null;
  const text = line.trim();
  const m = /^([A-Za-z]+)\s+REG_(?:DWORD|SZ|EXPAND_SZ)(?:\s|$)/.exec(text);
  return m ? [line, m[1]!, text.slice(m[0].length).trim()] : null;
}

/**
 * Everything the text says about the OS identity, from any mix of the listings above (a first
 * `# Source:` provenance line is skipped). Throws InputError, naming file and line, when no listing
 * is recognised, a value is malformed, or two listings disagree.
 */
export function parseIdentityText(text: string, file: string): TextIdentity {
  const lines = text.split(/\r\n|\n|\r/);
  const c = new Collector(file);
  const put = (field: string, raw: string, lineNo: number, source: IdentitySource, what: string) => {
    const value = raw.trim();
    if (value === '') return;
    c.set(field, INTEGER_FIELDS.has(field) ? integer(value, file, lineNo, what) : value, lineNo, source);
  };
  let systeminfoBuildOnly = false;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    if (i === 0 && line.startsWith('# Source:')) continue;

    // systeminfo: "OS Version:                10.0.14393 N/A Build 14393"
    const sys = systeminfoVersion(line);
    if (sys) {
      if (sys[3] !== sys[4]) {
        throw new InputError({ file, line: lineNo }, `systeminfo OS Version: the version says build ${sys[3]} but "Build ${sys[4]}" follows`);
      }
      put('version', `${sys[1]}.${sys[2]}.${sys[3]}`, lineNo, 'systeminfo', 'OS Version');
      put('build', sys[4]!, lineNo, 'systeminfo', 'OS Version build');
      systeminfoBuildOnly = true;
      continue;
    }
    if (/^OS Version:/.test(line)) {
      throw new InputError({ file, line: lineNo }, `systeminfo OS Version: expected "<major>.<minor>.<build> ... Build <build>", got ${JSON.stringify(line.trim())}`);
    }
    const osName = labelled(line, 'OS Name:');
    if (osName) {
      put('productName', osName, lineNo, 'systeminfo', 'OS Name');
      continue;
    }

    // Get-ItemProperty ... | Select -ExpandProperty "UBR": the value alone on the next line.
    const expand = /-ExpandProperty\s+["']?(UBR|CurrentBuild|CurrentBuildNumber)["']?\s*$/i.exec(line);
    if (expand && /CurrentVersion/i.test(line)) {
      const next = lines[i + 1];
      if (next !== undefined && /^\s*\d+\s*$/.test(next)) {
        const key = Object.keys(REGISTRY_KEYS).find((k) => k.toLowerCase() === expand[1]!.toLowerCase())!;
        put(REGISTRY_KEYS[key]!, next, lineNo + 1, 'registry', key);
        i++;
      }
      continue;
    }

    // reg query "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion": "    UBR    REG_DWORD    0x7d6"
    const reg = regQueryValue(line);
    if (reg && REGISTRY_KEYS[reg[1]!] !== undefined) {
      put(REGISTRY_KEYS[reg[1]!]!, reg[2]!, lineNo, 'registry', reg[1]!);
      continue;
    }

    // A table: header, dashes, then one row of values (Format-Table of a registry script or of a
    // [Version]). Columns are split on whitespace; only the ones named below are read.
    const header = line.trim().split(/\s+/);
    if (header.includes('Build') && (header.includes('UBR') || header.includes('Revision')) && /^[\s-]+$/.test(lines[i + 1] ?? '')) {
      const row = (lines[i + 2] ?? '').trim().split(/\s+/);
      if (row.length !== header.length) {
        throw new InputError({ file, line: lineNo + 2 }, `table row: expected ${header.length} values under ${JSON.stringify(header.join(' '))}, got ${JSON.stringify(row.join(' '))}`);
      }
      const cell = (name: string) => row[header.indexOf(name)]!;
      put('build', cell('Build'), lineNo + 2, 'registry', 'Build column');
      if (header.includes('UBR')) put('ubr', cell('UBR'), lineNo + 2, 'registry', 'UBR column');
      else if (integer(cell('Revision'), file, lineNo + 2, 'Revision column') !== 0) put('ubr', cell('Revision'), lineNo + 2, 'registry', 'Revision column');
      if (header.includes('Major') && header.includes('Minor')) {
        put('version', `${cell('Major')}.${cell('Minor')}.${cell('Build')}`, lineNo + 2, 'registry', 'Major/Minor/Build columns');
      }
      i += 2;
      continue;
    }

    const kv = LIST_LINE.exec(line);
    if (kv) {
      const [, key, value] = kv as unknown as [string, string, string];
      if (COMPUTERINFO_KEYS[key] !== undefined) put(COMPUTERINFO_KEYS[key], value, lineNo, 'get-computerinfo', key);
      else if (REGISTRY_KEYS[key] !== undefined) put(REGISTRY_KEYS[key], value, lineNo, 'registry', key);
    }
  }

  if (c.sources.size === 0) {
    throw new InputError(
      { file },
      'no OS identity found: expected a systeminfo "OS Version:" line, Get-ComputerInfo lines such as ' +
        '"WindowsUBR : 577", or a registry CurrentVersion listing ("UBR : 2006", reg query, or a Build/UBR table)',
    );
  }

  // Get-ComputerInfo's OsVersion (10.0.14393) also names the build when OsBuildNumber is absent.
  const version = c.str('version');
  let build = c.num('build');
  if (build === null && version !== null) {
    const m = /^\d+\.\d+\.(\d+)$/.exec(version);
    if (m) build = Number(m[1]);
  }
  const ubr = c.num('ubr');
  const identity: TextIdentity = {
    sources: [...c.sources],
    build,
    ubr,
    patchLevel: build !== null && ubr !== null ? `${build}.${ubr}` : null,
    version,
    edition: c.str('edition'),
    productName: c.str('productName'),
    displayVersion: c.str('displayVersion'),
    releaseId: c.str('releaseId'),
    installationType: c.str('installationType'),
  };
  if (ubr === null) {
    identity.ubrReason = systeminfoBuildOnly
      ? 'systeminfo never shows the UBR (windows.md section 7), and no registry or Get-ComputerInfo listing gives it'
      : 'the listing has no UBR (registry UBR or Get-ComputerInfo WindowsUBR)';
  } else if (build === null) {
    identity.ubrReason = 'the UBR is known but the listing has no build (CurrentBuild, OsBuildNumber or systeminfo), so no patch level';
  }
  return identity;
}

/** systeminfo only: the build (never the UBR). Throws InputError when there is no OS Version line. */
export function parseSysteminfo(text: string, file: string): TextIdentity {
  if (!/^OS Version:/m.test(text)) throw new InputError({ file }, 'systeminfo: no "OS Version:" line (English systeminfo output expected)');
  return parseIdentityText(text, file);
}

/** Get-ComputerInfo listing. Throws InputError when it has none of WindowsUBR/OsBuildNumber. */
export function parseComputerInfo(text: string, file: string): TextIdentity {
  if (!/^(WindowsUBR|OsBuildNumber)\s*:/m.test(text)) throw new InputError({ file }, 'Get-ComputerInfo: no "WindowsUBR :" or "OsBuildNumber :" line');
  return parseIdentityText(text, file);
}

/** A registry CurrentVersion listing. Throws InputError when it gives neither UBR nor build. */
export function parseCurrentVersionListing(text: string, file: string): TextIdentity {
  const id = parseIdentityText(text, file);
  if (!id.sources.includes('registry')) throw new InputError({ file }, 'registry listing: no UBR or CurrentBuild value found');
  return id;
}
