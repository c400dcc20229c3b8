// Where PowerShell 7 and Pester are on this machine (.ci/install-deps installs both from NuGet):
// `pwsh` on PATH or FLEETGATE_PWSH, else the .NET global tool folder; Pester in the NuGet package
// folder (or FLEETGATE_PESTER, a Pester.psd1). Tests that need them skip with `why` when they are
// absent, except on CI, where a missing pwsh fails: CI installs it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PESTER_VERSION = '5.7.1';

export interface PowerShellTools {
  /** The pwsh executable, or null with why. */
  pwsh: string | null;
  pester: string | null;
  why: string;
}

function works(cmd: string): boolean {
  const r = spawnSync(cmd, ['-NoProfile', '-NonInteractive', '-Command', 'exit 0'], { encoding: 'utf8', timeout: 60_000 });
  return !r.error && r.status === 0;
}

let found: PowerShellTools | undefined;

export function powerShellTools(env: NodeJS.ProcessEnv = process.env): PowerShellTools {
  if (found && env === process.env) return found;
  const home = os.homedir();
  const candidates = [env.FLEETGATE_PWSH, 'pwsh', path.join(home, '.dotnet', 'tools', 'pwsh')].filter((c): c is string => !!c);
  const pwsh = candidates.find(works) ?? null;
  const nugetRoot = env.NUGET_PACKAGES ?? path.join(home, '.nuget', 'packages');
  const pesterCandidates = [env.FLEETGATE_PESTER, path.join(nugetRoot, 'pester', PESTER_VERSION, 'tools', 'Pester.psd1')].filter((c): c is string => !!c);
  const pester = pesterCandidates.find((p) => existsSync(p)) ?? null;
  const why = !pwsh
    ? 'pwsh is not installed (bash .ci/install-deps installs PowerShell 7 from NuGet with dotnet)'
    : !pester
      ? `Pester ${PESTER_VERSION} is not in ${nugetRoot} (bash .ci/install-deps restores it)`
      : '';
  const tools = { pwsh, pester, why };
  if (env === process.env) found = tools;
  return tools;
}

/**
 * The skip reason for a test that needs pwsh (and Pester when asked), or false to run it. On CI a
 * missing tool is not a skip: it throws, so the run fails loudly.
 */
export function pwshSkip(o: { pester?: boolean } = {}): string | false {
  const t = powerShellTools();
  const missing = !t.pwsh || (o.pester === true && !t.pester);
  if (!missing) return false;
  if (process.env.CI) throw new Error(`CI must have PowerShell: ${t.why}`);
  return t.why;
}
