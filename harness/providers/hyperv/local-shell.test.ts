// The local Hyper-V transport over a real long-lived PowerShell (pwsh here; powershell.exe on a
// Windows controller) through node-powershell: scripts of ours run warm, in runspaces of their own,
// and a call past its limit kills the shell so the next call gets a new one.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { pwshSkip, powerShellTools } from '../../../lib/pwsh.ts';
import { parseResult, preparePowerShell } from '../../guest/windows/encode.ts';
import { LocalShellTransport } from './local-shell.ts';

const skip = pwshSkip();

/** No such process, or only its exit status left (state Z: its parent died first and nobody reaped it). */
function gone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
const prepared = (name: string, source: string, data: unknown = {}) => preparePowerShell({ name, source }, data, Number.MAX_SAFE_INTEGER);
const PID = "Write-FleetgateResult ([ordered]@{ pid = $PID; leaked = [bool](Get-Variable -Name fgLeak -Scope Global -ErrorAction SilentlyContinue) }); $global:fgLeak = 1";

t.test('calls run warm in one shell; each script in a runspace of its own, whose exit ends only it', { skip, timeout: 120_000 }, async (t) => {
  const shell = new LocalShellTransport({ executable: powerShellTools().pwsh! });
  t.teardown(() => shell.close());
  const first = parseResult<{ pid: number; leaked: boolean }>((await shell.exec(prepared('pid', PID), 60_000)).stdout, 'pid');
  const second = parseResult<{ pid: number; leaked: boolean }>((await shell.exec(prepared('pid', PID), 60_000)).stdout, 'pid');
  t.equal(second.pid, first.pid, 'the same PowerShell process');
  t.equal(second.leaked, false, "the first script's variables did not reach the second");
  const exited = await shell.exec(prepared('bye', "Write-FleetgateResult 'before'; exit 3; Write-FleetgateResult 'after'"), 60_000);
  t.equal(parseResult<string>(exited.stdout, 'bye'), 'before', 'the script stopped at its exit');
  const third = parseResult<{ pid: number }>((await shell.exec(prepared('pid', PID), 60_000)).stdout, 'pid');
  t.equal(third.pid, first.pid, 'and the shell lives on');
  t.equal(shell.started, 1);
  const failing = await shell.exec(prepared('boom', "throw 'it broke'"), 60_000);
  t.match(failing.stdout, /"ok":false.*it broke/, "a script's error is its error result, the shell untouched");
});

t.test('a call past its limit kills the shell; the next call starts another', { skip, timeout: 120_000 }, async (t) => {
  const shell = new LocalShellTransport({ executable: powerShellTools().pwsh! });
  t.teardown(() => shell.close());
  const before = parseResult<{ pid: number }>((await shell.exec(prepared('pid', PID), 60_000)).stdout, 'pid');
  const t0 = performance.now();
  const hung = await shell.exec(prepared('hang', 'Start-Sleep -Seconds 600'), 1_500);
  t.equal(hung.timedOut, true);
  t.ok(performance.now() - t0 < 10_000, 'given up at its limit, not when the cmdlet would have ended');
  t.ok(gone(before.pid), 'the hung PowerShell is gone (or a zombie no one reaped yet)');
  const after = parseResult<{ pid: number }>((await shell.exec(prepared('pid', PID), 60_000)).stdout, 'pid');
  t.not(after.pid, before.pid, 'a new shell');
  t.equal(shell.started, 2);
});
