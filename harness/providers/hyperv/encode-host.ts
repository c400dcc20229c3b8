// The Hyper-V host's PowerShell scripts (./scripts), composed and encoded the way the guest's are.
//
// A sibling of harness/guest/windows/encode.ts rather than an extension of it: that file belongs to
// the guest room and its script list (WINDOWS_SCRIPTS) names guest scripts only. This hands each
// host script to its composeScript/preparePowerShell (as a GuestScript: name and text), so a host
// script is composed exactly like a guest script:
//   prelude + the parts of common.ps1 it uses + try { $FleetgateInput = ...; <script> } catch { ... }
// and answers with the same one `@@FLEETGATE-JSON@@` line. decodePowerShell() reads both.
import { readFileSync } from 'node:fs';
import { composeScript, MAX_COMMAND_CHARS, preparePowerShell, type PreparedPowerShell } from '../../guest/windows/encode.ts';

/** The scripts in ./scripts, named verb_object (STYLE.md). */
export const HYPERV_SCRIPTS = [
  'new_cell_vm',
  'start_vm',
  'get_vm_state',
  'get_vm_address',
  'get_crash_events',
  'inject_nmi',
  'stop_vm',
  'remove_cell_vm',
  'list_cell_vms',
  // PowerShell Direct (the guest channel for VMs without network)
  'invoke_in_vm',
  'copy_to_vm',
  'copy_from_vm',
] as const;
export type HyperVScriptName = (typeof HYPERV_SCRIPTS)[number];

export const HYPERV_SCRIPTS_DIR = new URL('./scripts/', import.meta.url);
const cache = new Map<string, string>();

export function isHyperVScriptName(name: string): name is HyperVScriptName {
  return (HYPERV_SCRIPTS as readonly string[]).includes(name);
}

/** A host script's text, read once. Throws for a name that is not one of ours. */
export function hostScriptSource(name: HyperVScriptName): string {
  if (!isHyperVScriptName(name)) {
    throw new TypeError(`unknown Hyper-V host script ${JSON.stringify(name)}; known: ${HYPERV_SCRIPTS.join(', ')}`);
  }
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`${name}.ps1`, HYPERV_SCRIPTS_DIR), 'utf8').replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
    cache.set(name, text);
  }
  return text;
}

/** The whole script the host runs: composed exactly as a guest script is (encode.ts composeScript). */
export function composeHostScript(name: HyperVScriptName, data: unknown): string {
  return composeScript({ name, source: hostScriptSource(name) }, data);
}

/**
 * Windows' CreateProcess limit (32767 characters) less a margin: the local transport starts
 * powershell.exe directly, with no cmd.exe in between.
 */
export const LOCAL_MAX_COMMAND_CHARS = 32_000;

/**
 * Host scripts that log in to a guest with PowerShell Direct: their input always holds the guest
 * account's password (an empty one too), so they always go through stdin.
 */
export const CREDENTIAL_SCRIPTS: readonly HyperVScriptName[] = ['invoke_in_vm', 'copy_to_vm', 'copy_from_vm'];

/** Input keys (compared case-insensitively, as ConvertFrom-Json's objects do) whose value is a secret. */
export const SECRET_KEYS: readonly string[] = ['password', 'passphrase', 'secret'];

/**
 * Whether `data` holds a secret: a SECRET_KEYS key with a value other than null/undefined, at any
 * depth. An explicit stack rather than recursion: the depth is whatever the caller built.
 */
export function inputHoldsSecret(data: unknown): boolean {
  const stack: unknown[] = [data];
  // A cycle would loop here forever (JSON.stringify refuses it later, with its own error).
  const seen = new Set<object>();
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
      continue;
    }
    for (const [key, value] of Object.entries(v)) {
      if (value !== null && value !== undefined && SECRET_KEYS.includes(key.toLowerCase())) return true;
      stack.push(value);
    }
  }
  return false;
}

/**
 * The command (and, when it does not fit `maxChars` or its input holds a secret, the stdin) that
 * runs host script `name`. Over SSH the host's cmd.exe limit applies (MAX_COMMAND_CHARS, the
 * default); locally CreateProcess's. A secret never goes on a command line (issue #16 row 10): any
 * local user can read a process's argv, and process-creation auditing (event 4688) keeps it.
 */
export function prepareHostPowerShell(name: HyperVScriptName, data: unknown, maxChars: number = MAX_COMMAND_CHARS): PreparedPowerShell {
  const viaStdin = CREDENTIAL_SCRIPTS.includes(name) || inputHoldsSecret(data);
  return preparePowerShell({ name, source: hostScriptSource(name) }, data, maxChars, { viaStdin });
}
