// A Windows driver package's `fleetgate.driver.yaml`, beside its INF: what the cell lifecycle needs to know
// about our product that no INF says. An allowlisting filter denies what it does not know, and the
// harness's own programs (powershell.exe for every step, sshd.exe for the channel, node.exe for the
// workload) must be allowed, or the harness's channel dies and the cell reads as a product hang.
//
//   kind: windows-minifilter
//   service: fgfilter                 # the service name the INF's AddService creates (checked)
//   mode: enforce                     # the mode cells run in: audit or enforce (default enforce)
//   modes:                            # the registry value under the service key that selects each mode
//     audit:   { key: Parameters, name: EnforcementMode, type: dword, value: 0 }
//     enforce: { key: Parameters, name: EnforcementMode, type: dword, value: 1 }
//   allow:                            # how the harness's own executables are declared allowed
//     key: Parameters
//     name: AllowedImages
//     executables: ['%SystemRoot%\System32\WindowsPowerShell\v1.0\powershell.exe', ...]
//   denials:                          # where the product logs what it denied
//     eventLog: Application
//     provider: fgfilter
//
// Values are written under HKLM\SYSTEM\CurrentControlSet\Services\<service>\<key> before the filter
// loads (driver/windows/set_service_values.ps1). Errors name the file, the line and what was expected.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { compileSchema, errorAt, readSource, validateOrThrow } from '../../lib/source-doc.ts';

export const DRIVER_MANIFEST = 'fleetgate.driver.yaml';

export type ProductMode = 'audit' | 'enforce';

export interface ServiceValue {
  /** Subkey of the service key, e.g. `Parameters`. */
  key: string;
  name: string;
  type: 'dword' | 'string' | 'multi-string';
  value: number | string | string[];
}

export interface WindowsDriverManifest {
  file: string;
  service: string;
  mode: ProductMode;
  modes: Record<ProductMode, ServiceValue>;
  allow: { key: string; name: string; executables: string[] };
  denials: { eventLog: string; provider: string } | null;
}

/** What the harness runs on a Windows guest: what an allowlisting product must let through. */
export const HARNESS_EXECUTABLES: readonly string[] = [
  '%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
  '%SystemRoot%\\System32\\OpenSSH\\sshd.exe',
  '%ProgramFiles%\\nodejs\\node.exe',
  // OpenSSH's shell: sshd starts every command, the heartbeat's included, as cmd.exe /c.
  '%SystemRoot%\\System32\\cmd.exe',
];

const KEY = { type: 'string', pattern: '^[A-Za-z0-9_. -]+(\\\\[A-Za-z0-9_. -]+)*$', description: 'a subkey of the service key, e.g. Parameters' };
const NAME = { type: 'string', pattern: '^[A-Za-z0-9_. -]{1,255}$', description: 'a registry value name' };
const VALUE = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'name', 'type', 'value'],
  properties: {
    key: KEY,
    name: NAME,
    type: { type: 'string', enum: ['dword', 'string', 'multi-string'] },
    value: { anyOf: [{ type: 'integer', minimum: 0, maximum: 4294967295 }, { type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'a DWORD (0-4294967295), a string, or a list of strings' },
  },
};

interface Raw {
  kind: 'windows-minifilter';
  service: string;
  mode?: ProductMode;
  modes: Record<ProductMode, ServiceValue>;
  allow: { key: string; name: string; executables: string[] };
  denials?: { eventLog: string; provider: string };
}

const validate = compileSchema<Raw>({
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'service', 'modes', 'allow'],
  properties: {
    kind: { type: 'string', enum: ['windows-minifilter'] },
    service: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'the service name the INF installs' },
    mode: { type: 'string', enum: ['audit', 'enforce'] },
    modes: { type: 'object', additionalProperties: false, required: ['audit', 'enforce'], properties: { audit: VALUE, enforce: VALUE } },
    allow: {
      type: 'object',
      additionalProperties: false,
      required: ['key', 'name', 'executables'],
      properties: {
        key: KEY,
        name: NAME,
        executables: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(%[A-Za-z]+%|[A-Za-z]:)\\\\[^"<>|*?\\r\\n]+\\.exe$', description: 'an .exe path, absolute or from %SystemRoot% / %ProgramFiles%' } },
      },
    },
    denials: { type: 'object', additionalProperties: false, required: ['eventLog', 'provider'], properties: { eventLog: { type: 'string', minLength: 1 }, provider: { type: 'string', minLength: 1 } } },
  },
});

function valueFits(v: ServiceValue): boolean {
  if (v.type === 'dword') return typeof v.value === 'number';
  if (v.type === 'string') return typeof v.value === 'string';
  return Array.isArray(v.value);
}

/**
 * Reads a Windows package's manifest; null when the folder has none. `infService` is the service the
 * INF installs: the manifest must name the same one. Every harness executable must be allowed.
 */
export function readWindowsDriverManifest(dir: string, infService?: string): WindowsDriverManifest | null {
  const file = path.join(path.resolve(dir), DRIVER_MANIFEST);
  if (!existsSync(file)) return null;
  const src = readSource(file);
  const raw = validateOrThrow(src, validate);
  if (infService !== undefined && raw.service.toLowerCase() !== infService.toLowerCase()) {
    throw errorAt(src, ['service'], `service ${raw.service} is not the one the INF installs (${infService})`);
  }
  for (const m of ['audit', 'enforce'] as const) {
    if (!valueFits(raw.modes[m])) throw errorAt(src, ['modes', m, 'value'], `a ${raw.modes[m].type} value was expected`);
  }
  const declared = new Set(raw.allow.executables.map((e) => e.toLowerCase()));
  const missing = HARNESS_EXECUTABLES.filter((e) => !declared.has(e.toLowerCase()));
  if (missing.length) {
    throw errorAt(src, ['allow', 'executables'], `the harness runs ${missing.join(', ')}: an allowlisting product that denies them cuts the harness's own channel (declare them allowed)`);
  }
  return {
    file,
    service: raw.service,
    mode: raw.mode ?? 'enforce',
    modes: raw.modes,
    allow: raw.allow,
    denials: raw.denials ?? null,
  };
}

/** The values written before the filter loads: the mode's, then the allow list. */
export function serviceValuesOf(m: WindowsDriverManifest): ServiceValue[] {
  return [m.modes[m.mode], { key: m.allow.key, name: m.allow.name, type: 'multi-string', value: m.allow.executables }];
}

