// Callers of apply_verifier.ps1 and query_verifier.ps1 (driver/windows) through the injected runner.
import { EXIT, FleetgateError, UsageError } from '../../lib/errors.ts';
import { nativeRun, ResultReader, scriptPath, type PowerShellRunner } from '../windows/runner.ts';
import { bitsOf, flagName, hex8, interpretVerifierExit, quoteArg, type VerifierPlan } from './profiles.ts';
import { checkSettings, parseQuerySettings, parseVerifierQuery, type QuerySettings, type SettingsCheck, type VerifierQuery } from './querysettings.ts';

/** verifier.exe answered 1 (error) or something unexpected. */
export class VerifierCommandError extends FleetgateError {
  readonly exitCode_: number;
  readonly output: string;
  constructor(commandLine: string, code: number, output: string) {
    super(`${commandLine} failed: ${interpretVerifierExit(code).meaning} (exit ${code})${output.trim() ? `: ${output.trim().slice(0, 400)}` : ''}`, EXIT.inconclusive);
    this.exitCode_ = code;
    this.output = output;
  }
}

// Arguments profiles.ts produces: switches, numbers, module names, pool tags, application names, and
// space-separated lists of those. Anything else is refused rather than sent to the guest.
const SAFE_ARG = /^[A-Za-z0-9_./ -]*$/;

export interface ApplyResult {
  /** Exit code 2 from any command: the settings take effect after a reboot (normal, not a failure). */
  rebootRequired: boolean;
  results: Array<{ commandLine: string; exitCode: number; output: string }>;
}

export async function applyVerifier(runner: PowerShellRunner, plan: VerifierPlan, opts: { timeoutMs?: number } = {}): Promise<ApplyResult> {
  for (const c of plan.commands) for (const a of c) if (!SAFE_ARG.test(a)) throw new UsageError(`verifier argument "${a}" has characters the harness does not send`);
  if (!plan.commands.length) return { rebootRequired: false, results: [] };
  const r = new ResultReader('apply_verifier', await runner.run(scriptPath('apply_verifier'), { commands: plan.commands }, { timeoutMs: opts.timeoutMs ?? 600_000 }));
  const results = r.array('results').map((x, i) => {
    const run = nativeRun(new ResultReader('apply_verifier', x, `results[${i}]`));
    return { commandLine: ['verifier', ...(plan.commands[i] ?? []).map(quoteArg)].join(' '), exitCode: run.exitCode, output: [run.stdout, run.stderr].filter((s) => s.trim()).join('\n') };
  });
  for (const res of results) {
    const m = interpretVerifierExit(res.exitCode);
    if (!m.ok) throw new VerifierCommandError(res.commandLine, res.exitCode, res.output);
  }
  if (results.length !== plan.commands.length) throw new VerifierCommandError(plan.commandLines[results.length] ?? 'verifier', -1, 'the script stopped before running every command');
  return { rebootRequired: results.some((x) => interpretVerifierExit(x.exitCode).rebootRequired), results };
}

export async function queryVerifier(runner: PowerShellRunner, opts: { timeoutMs?: number } = {}): Promise<{ settings: QuerySettings; text: string }> {
  const r = new ResultReader('query_verifier', await runner.run(scriptPath('query_verifier'), {}, { timeoutMs: opts.timeoutMs ?? 180_000 }));
  const run = nativeRun(r);
  if (run.exitCode !== 0) throw new VerifierCommandError('verifier /querysettings', run.exitCode, run.stdout + run.stderr);
  return { settings: parseQuerySettings(run.stdout, 'guest verifier /querysettings'), text: run.stdout };
}

export interface RunningCheck {
  ok: boolean;
  problems: string[];
  query: VerifierQuery;
  text: string;
}

/**
 * Proves a profile is in effect on the running system (`verifier /query`), which /querysettings cannot:
 * that shows the next boot's settings. Each module of the plan must be listed and loaded, and the
 * running flags must hold every flag the profile asks for. Profile `none`: nothing may be verified.
 */
export async function verifyVerifierRunning(runner: PowerShellRunner, plan: VerifierPlan, opts: { timeoutMs?: number } = {}): Promise<RunningCheck> {
  const r = new ResultReader('query_verifier', await runner.run(scriptPath('query_verifier'), { mode: 'query' }, { timeoutMs: opts.timeoutMs ?? 180_000 }));
  const run = nativeRun(r);
  if (run.exitCode !== 0) throw new VerifierCommandError('verifier /query', run.exitCode, run.stdout + run.stderr);
  const query = parseVerifierQuery(run.stdout, 'guest verifier /query');
  return { ...checkRunning(query, plan), query, text: run.stdout };
}

/** The comparison of verifyVerifierRunning, for a /query already read. */
export function checkRunning(query: VerifierQuery, plan: VerifierPlan): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  const flags = query.enabledFlags ?? 0;
  if (plan.profile === 'none') {
    if (query.modules.length || flags !== 0) problems.push(`profile "none" expects nothing verified, but the running system verifies ${query.modules.map((m) => m.name).join(', ') || 'with flags'} ${hex8(flags)}`);
    return { ok: problems.length === 0, problems };
  }
  const missing = plan.expectedFlags & ~flags;
  if (missing) problems.push(`the running system lacks ${bitsOf(missing).map(flagName).join(', ')} (${hex8(missing)}): running flags ${hex8(flags)}`);
  for (const d of plan.drivers) {
    const m = query.modules.find((x) => x.name.toLowerCase() === d.toLowerCase());
    if (!m) problems.push(`${d} is not in the running system's verified modules (${query.modules.map((x) => x.name).join(', ') || 'none'})`);
    else if (!m.loaded && d.toLowerCase() !== 'ntoskrnl.exe') problems.push(`${d} is verified but not loaded (load: ${m.loads} / unload: ${m.unloads})`);
  }
  return { ok: problems.length === 0, problems };
}

/** Query and compare with the plan: what the cell's "settings are active" step needs. */
export async function verifyVerifierActive(runner: PowerShellRunner, plan: VerifierPlan, driver?: string): Promise<SettingsCheck & { settings: QuerySettings }> {
  const { settings } = await queryVerifier(runner);
  return { ...checkSettings(settings, plan, driver), settings };
}
