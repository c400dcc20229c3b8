// The seam between the driver's Windows scripts and the harness. The harness's runner is
// WindowsGuest.powerShellRunner() (harness/guest/windows/windows-guest.ts): it composes the .ps1 with
// harness/guest/windows/scripts/common.ps1 (harness/guest/windows/encode.ts: the prelude, the helpers the
// script uses, such as Invoke-FleetgateNative and Write-FleetgateResult, and $FleetgateInput decoded from
// JSON), sends it as -EncodedCommand (windows.md §9; through stdin when too long) and returns the parsed
// `@@FLEETGATE-JSON@@` result. So a script here defines none of common.ps1's functions. Tests plug in fakes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../lib/errors.ts';

export interface PowerShellRunner {
  /** Runs `scriptFile` (absolute path of a .ps1) with `input`; resolves to the parsed JSON result. */
  run(scriptFile: string, input: unknown, opts?: { timeoutMs?: number }): Promise<unknown>;
}

export const SCRIPT_NAMES = [
  'import_certificate',
  'install_driver',
  'start_driver',
  'check_driver',
  'unload_driver',
  'uninstall_driver',
  'upgrade_driver',
  'get_crash_control',
  'set_crash_control',
  'apply_verifier',
  'query_verifier',
  'set_service_values',
  'read_denials',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));

export function scriptPath(name: ScriptName): string {
  return path.join(SCRIPT_DIR, `${name}.ps1`);
}

/** Reads fields of a script result, turning a malformed one into an InputError naming the script. */
export class ResultReader {
  readonly file: string;
  private readonly obj: Record<string, unknown>;
  constructor(script: ScriptName, value: unknown, at = '') {
    this.file = `guest result of ${script}.ps1`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError({ file: this.file }, `${at || 'result'} is not a JSON object`);
    this.obj = value as Record<string, unknown>;
  }
  private bad(key: string, want: string): never {
    throw new InputError({ file: this.file }, `"${key}" should be ${want}, got ${JSON.stringify(this.obj[key])?.slice(0, 80) ?? 'nothing'}`);
  }
  num(key: string): number {
    const v = this.obj[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.bad(key, 'a number');
  }
  /** Strings; PowerShell sends $null for empty captured output. */
  text(key: string): string {
    const v = this.obj[key];
    if (v === null || v === undefined) return '';
    return typeof v === 'string' ? v : this.bad(key, 'a string');
  }
  optText(key: string): string | null {
    const v = this.obj[key];
    if (v === null || v === undefined) return null;
    return typeof v === 'string' ? v : this.bad(key, 'a string or null');
  }
  bool(key: string): boolean {
    const v = this.obj[key];
    return typeof v === 'boolean' ? v : this.bad(key, 'true or false');
  }
  child(script: ScriptName, key: string): ResultReader {
    return new ResultReader(script, this.obj[key], key);
  }
  array(key: string): unknown[] {
    const v = this.obj[key];
    if (v === null || v === undefined) return [];
    // ConvertTo-Json writes a one-element array as the element itself.
    return Array.isArray(v) ? v : [v];
  }
  raw(key: string): unknown {
    return this.obj[key];
  }
}

/** `{ exitCode, stdout, stderr }` of one native program run by Invoke-FleetgateNative. */
export interface NativeRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function nativeRun(r: ResultReader): NativeRun {
  return { exitCode: r.num('exitCode'), stdout: r.text('stdout'), stderr: r.text('stderr') };
}
