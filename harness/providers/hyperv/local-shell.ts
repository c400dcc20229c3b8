// The local Hyper-V transport: one long-lived PowerShell (powershell.exe on a Windows controller beside
// its Hyper-V; pwsh where that is what there is) driven through node-powershell, a chosen part whose
// repository is archived: this wraps it thinly and adds what it lacks.
//   - Each host script runs in a runspace of its own ([powershell]::Create()), so one script's
//     variables and functions never reach the next and its `exit` ends the script, not the shell.
//   - A per-call limit: a call that outlives it kills the shell (one hung cmdlet must not block
//     every later call, and node-powershell queues calls on its one process); the next call starts a
//     new one. A shell that died by itself is started again the same way.
//   - No command line: the script travels on the shell's stdin as one line of base64, so neither
//     CreateProcess's nor cmd.exe's length limit applies, the stdin bootstrap is never needed, and
//     a script's input (a PowerShell Direct password) is in no argv. Neither node-powershell nor
//     PowerShell keeps the lines afterwards (their command histories are emptied or kept to one).
// Starting PowerShell costs seconds; a call in a warm shell costs milliseconds (measured here with
// pwsh: the first call 3.4 s, the next 51 ms), which is what the provider's polls every few seconds need.
import { PowerShell } from 'node-powershell';
import { InfraFailure } from '../../../lib/errors.ts';
import { POWERSHELL_PREFIX, STDIN_BOOTSTRAP_COMMAND, type PreparedPowerShell } from '../../guest/windows/encode.ts';
import type { PowerShellTransport, TransportResult } from './host.ts';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';

/** What a call of the shell gives back (node-powershell's InvocationResult, the part used). */
export interface ShellInvocation {
  stdout?: Buffer;
  stderr?: Buffer;
}

/** The long-lived shell: node-powershell's PowerShell, or a stand-in in tests of the wrapper. */
export interface LongLivedShell {
  invoke(command: string): Promise<ShellInvocation>;
  dispose(signal?: NodeJS.Signals): Promise<void>;
  /** node-powershell keeps every command it ran, with its output, here: emptied after each call,
   * since a command holds its script's input (a password among it). */
  readonly history?: unknown[];
}

export interface LocalShellOptions {
  /** The PowerShell to keep running. @default 'powershell.exe' (the Hyper-V module is a 5.1 module on every host we know) */
  executable?: string;
  /** Starts a shell (tests). @default node-powershell's PowerShell */
  start?: (executable: string) => LongLivedShell;
}

/** Terminal control sequences a console PowerShell writes around its prompt, not output. */
const CONTROL_SEQUENCES = /\u001b\[[0-9;?]*[A-Za-z]/g;

/**
 * The one line the shell runs for a prepared command: the script in a runspace of its own; a script
 * that cannot even start says why on stderr. An -EncodedCommand script is UTF-16LE base64, a stdin
 * one (a script whose input holds a password, encode-host.ts) UTF-8 base64: either way the line
 * goes on the shell's stdin, never on a command line.
 */
export function shellLine(prepared: PreparedPowerShell): string {
  let b64: string;
  let encoding: 'Unicode' | 'UTF8';
  if (prepared.mode === 'encoded') {
    if (!prepared.command.startsWith(POWERSHELL_PREFIX)) throw new TypeError('the local shell runs a fleetgate -EncodedCommand script or a stdin one only');
    b64 = prepared.command.slice(POWERSHELL_PREFIX.length);
    encoding = 'Unicode';
  } else {
    if (prepared.command !== STDIN_BOOTSTRAP_COMMAND) throw new TypeError('the local shell runs a fleetgate -EncodedCommand script or a stdin one only');
    b64 = prepared.stdin.replace(/\s/g, '');
    encoding = 'UTF8';
  }
  if (!/^[A-Za-z0-9+/=]+$/.test(b64)) throw new TypeError('not base64: the encoded script');
  return (
    `$fgPs = [powershell]::Create(); try { $null = $fgPs.AddScript([Text.Encoding]::${encoding}.GetString([Convert]::FromBase64String('` +
    b64 +
    "'))); $null = $fgPs.Invoke() } catch { [Console]::Error.WriteLine('fleetgate local shell: ' + $_.Exception.Message) } finally { $fgPs.Dispose(); Remove-Variable -Name fgPs }"
  );
}

/** The shell the transport keeps by default: node-powershell's, started with options only (the
 * commands go on its stdin: node-powershell adds `-NoExit -Command -`). */
export function startNodePowerShell(executable: string): PowerShell {
  const shell = new PowerShell({
    executable,
    executableOptions: { '-NoLogo': true, '-NoProfile': true, '-NonInteractive': true, '-ExecutionPolicy': 'Bypass' },
    throwOnInvocationError: false,
  });
  // child-shell logs each command through `debug` when DEBUG names its namespace (or `*`): a command
  // holds its script's input, a password among it, so that one logger stays off whatever DEBUG says.
  const loggers = (shell as unknown as { debuggers?: { command?: { enabled: boolean } } }).debuggers;
  if (loggers?.command) loggers.command.enabled = false;
  return shell;
}

/** Empties node-powershell's record of the commands it ran (their text holds the scripts' input). */
function forget(shell: LongLivedShell): void {
  if (Array.isArray(shell.history)) shell.history.length = 0;
}

export class LocalShellTransport implements PowerShellTransport {
  readonly where = 'local';
  /** The script goes on stdin: there is no command line to be too long. */
  readonly maxCommandChars = Number.MAX_SAFE_INTEGER;
  private shell: LongLivedShell | undefined;
  private readonly executable: string;
  private readonly start: (executable: string) => LongLivedShell;
  /** Shells started so far (the first, and one after each kill or death). */
  started = 0;

  constructor(o: LocalShellOptions = {}) {
    this.executable = o.executable ?? 'powershell.exe';
    this.start = o.start ?? startNodePowerShell;
  }

  private async current(): Promise<LongLivedShell> {
    if (!this.shell) {
      let shell: LongLivedShell;
      try {
        shell = this.start(this.executable);
      } catch (err) {
        throw new InfraFailure(`starting ${this.executable}: ${(err as Error).message} (the local Hyper-V transport needs PowerShell with the Hyper-V module)`, { cause: err });
      }
      this.started++;
      this.shell = shell;
      // PowerShell's own process id: where PowerShell is a launcher's child (a .NET tool's shim), killing
      // the process node-powershell started would leave the hung PowerShell running.
      // PowerShell keeps each line it read as a command in its history (Get-History): 1, the least it
      // takes, leaves only the last line node-powershell writes after each command, its end marker.
      const r = await shell.invoke('$MaximumHistoryCount = 1; [Console]::Out.WriteLine($PID)').catch(() => undefined);
      forget(shell);
      const pid = Number(/\d+/.exec(r?.stdout?.toString('utf8').replace(CONTROL_SEQUENCES, '') ?? '')?.[0]);
      if (Number.isInteger(pid) && pid > 0) this.pids.set(shell, pid);
    }
    return this.shell;
  }

  private readonly pids = new WeakMap<LongLivedShell, number>();

  /** Ends the shell now; the next call starts another. */
  private async kill(shell: LongLivedShell): Promise<void> {
    if (this.shell === shell) this.shell = undefined;
    const pid = this.pids.get(shell);
    if (pid !== undefined && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await shell.dispose('SIGKILL').catch(() => undefined);
  }

  async exec(prepared: PreparedPowerShell, timeoutMs: number): Promise<TransportResult> {
    const line = shellLine(prepared);
    const shell = await this.current();
    try {
      return await this.run(shell, line, timeoutMs);
    } finally {
      forget(shell);
    }
  }

  private async run(shell: LongLivedShell, line: string, timeoutMs: number): Promise<TransportResult> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    try {
      const r = await Promise.race([shell.invoke(line), late]);
      if (r === 'late') {
        await this.kill(shell);
        return { stdout: '', stderr: '', exitCode: null, timedOut: true };
      }
      const text = (b: Buffer | undefined): string => (b ? b.toString('utf8').replace(CONTROL_SEQUENCES, '') : '');
      // The script's verdict is its result line; a runspace has no exit code of its own to give.
      return { stdout: text(r.stdout), stderr: text(r.stderr), exitCode: 0, timedOut: false };
    } catch (err) {
      // The shell died under the call (or was gone before it): the next call starts a new one.
      await this.kill(shell);
      throw new InfraFailure(`the local ${this.executable} ended during a call: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async putFile(localPath: string, hostPath: string): Promise<void> {
    if (path.resolve(localPath) !== path.resolve(hostPath)) await copyFile(localPath, hostPath);
  }

  async getFile(hostPath: string, localPath: string): Promise<void> {
    if (path.resolve(localPath) !== path.resolve(hostPath)) await copyFile(hostPath, localPath);
  }

  async close(): Promise<void> {
    const shell = this.shell;
    if (shell) await this.kill(shell);
  }
}
