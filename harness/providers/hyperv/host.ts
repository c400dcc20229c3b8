// How the provider reaches a Hyper-V host: one interface, `run(script, input)` → the script's parsed
// JSON result, over two transports that carry the same encoded scripts (encode-host.ts):
//   local  powershell.exe on this (Windows) machine, started with child_process.
//   ssh    a remote Hyper-V host's OpenSSH server (harness/guest/ssh connectSsh), windows.md section 9.
// Over both, a script whose input holds a password (PowerShell Direct's) reaches PowerShell on its
// stdin, never on a command line (issue #16 row 10).
// The local transport is local-shell.ts: one long-lived PowerShell through node-powershell, each
// script in a runspace of its own, a per-call limit that kills and restarts a hung shell.
import { InfraFailure } from '../../../lib/errors.ts';
import type { GuestChannel } from '../../guest/channel.ts';
import {
  MAX_COMMAND_CHARS,
  parseResult,
  POWERSHELL_PREFIX,
  readableStderr,
  WindowsScriptFailed,
  WindowsScriptNoResult,
  type PowerShellErrorInfo,
  type PreparedPowerShell,
} from '../../guest/windows/encode.ts';
import { prepareHostPowerShell, type HyperVScriptName } from './encode-host.ts';
import { LocalShellTransport } from './local-shell.ts';

export interface HostRunOptions {
  /** Wall-clock limit of the one script. */
  readonly timeoutMs?: number;
}

/** What the provider asks of a Hyper-V host. */
export interface HyperVHost {
  /** For messages: `local` or `ssh admin@hv01:22`. */
  readonly where: string;
  /** Runs host script `script` with `input` (as JSON) and returns its result; HyperVHostError when it reports one. */
  run<T = unknown>(script: HyperVScriptName, input: unknown, options?: HostRunOptions): Promise<T>;
  /** Makes a controller file available on the host at `hostPath` (a copy, or SFTP for SSH). */
  putFile(localPath: string, hostPath: string): Promise<void>;
  /** Brings a host file to the controller. */
  getFile(hostPath: string, localPath: string): Promise<void>;
  close(): Promise<void>;
}

/** What a transport hands back for one command. */
export interface TransportResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
}

/** A way to run an encoded PowerShell command on the host. */
export interface PowerShellTransport {
  readonly where: string;
  /** The longest command line it takes; longer scripts go through the stdin bootstrap. */
  readonly maxCommandChars: number;
  exec(prepared: PreparedPowerShell, timeoutMs: number): Promise<TransportResult>;
  putFile(localPath: string, hostPath: string): Promise<void>;
  getFile(hostPath: string, localPath: string): Promise<void>;
  close(): Promise<void>;
}

/** A host script reported an error (a Hyper-V cmdlet failed): infrastructure, not the product. */
export class HyperVHostError extends InfraFailure {
  readonly script: HyperVScriptName;
  readonly host: string;
  /** PowerShell's FullyQualifiedErrorId: not translated, so callers may match it. */
  readonly errorId: string;
  readonly error: PowerShellErrorInfo;
  constructor(script: HyperVScriptName, host: string, error: PowerShellErrorInfo) {
    super(`Hyper-V host ${host}: ${script} failed: ${error.type}: ${error.message}${error.errorId ? ` [${error.errorId}]` : ''}`);
    this.script = script;
    this.host = host;
    this.errorId = error.errorId;
    this.error = error;
  }
}

export const DEFAULT_HOST_TIMEOUT_MS = 120_000;

/** HyperVHost over any PowerShellTransport: compose, encode, run, read the one result line. */
export class PowerShellHyperVHost implements HyperVHost {
  readonly where: string;
  constructor(private readonly transport: PowerShellTransport) {
    this.where = transport.where;
  }

  async run<T = unknown>(script: HyperVScriptName, input: unknown, options: HostRunOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_HOST_TIMEOUT_MS;
    const prepared = prepareHostPowerShell(script, input, this.transport.maxCommandChars);
    let r: TransportResult;
    try {
      r = await this.transport.exec(prepared, timeoutMs);
    } catch (err) {
      throw new InfraFailure(`Hyper-V host ${this.where}: running ${script}: ${(err as Error).message}`, { cause: err });
    }
    if (r.timedOut) {
      throw new InfraFailure(
        `Hyper-V host ${this.where}: ${script} did not finish within ${timeoutMs / 1000}s` +
          (r.stderr ? `; stderr ends: ${JSON.stringify(readableStderr(r.stderr).trimEnd().slice(-300))}` : ''),
      );
    }
    try {
      return parseResult<T>(r.stdout, script, { stderr: r.stderr, exitCode: r.exitCode });
    } catch (err) {
      if (err instanceof WindowsScriptFailed) throw new HyperVHostError(script, this.where, err.error);
      if (err instanceof WindowsScriptNoResult) throw new InfraFailure(`Hyper-V host ${this.where}: ${err.message.replace(/^Windows guest script /, 'script ')}`, { cause: err });
      throw err;
    }
  }

  putFile(localPath: string, hostPath: string): Promise<void> {
    return this.transport.putFile(localPath, hostPath);
  }

  getFile(hostPath: string, localPath: string): Promise<void> {
    return this.transport.getFile(hostPath, localPath);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// ssh: a remote Hyper-V host

/**
 * Over SSH the host's default shell is cmd.exe (windows.md section 9): its line limit applies. The
 * command line is seen by every process on the host (and its process-creation audit log), so a
 * script with a secret in its input comes prepared for stdin (encode-host.ts): the fixed bootstrap
 * as the command, the script on the exec channel's stdin.
 */
export class SshPowerShellTransport implements PowerShellTransport {
  readonly maxCommandChars = MAX_COMMAND_CHARS;
  constructor(
    private readonly channel: Pick<GuestChannel, 'exec' | 'upload' | 'download' | 'close'>,
    readonly where: string,
  ) {}

  async exec(prepared: PreparedPowerShell, timeoutMs: number): Promise<TransportResult> {
    const r = await this.channel.exec(prepared.command, {
      timeoutMs,
      maxBufferBytes: 4 * 1024 * 1024,
      ...(prepared.mode === 'stdin' ? { stdin: prepared.stdin } : {}),
    });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, timedOut: r.timedOut || r.aborted };
  }

  async putFile(localPath: string, hostPath: string): Promise<void> {
    await this.channel.upload(localPath, hostSftpPath(hostPath));
  }

  async getFile(hostPath: string, localPath: string): Promise<void> {
    await this.channel.download(hostSftpPath(hostPath), localPath);
  }

  close(): Promise<void> {
    return this.channel.close();
  }
}

/**
 * A host path as SFTP takes it: `C:\a\b` → `C:/a/b`, the form Windows OpenSSH's SFTP server and a
 * test double's both serve (windows-guest.ts sftpPath, not imported: that module loads lazily here);
 * any other path as it is.
 */
export function hostSftpPath(hostPath: string): string {
  return /^[A-Za-z]:\\/.test(hostPath) ? hostPath.replace(/\\/g, '/') : hostPath;
}

/** Where FLEETGATE_HYPERV_HOST etc. point: a remote host over SSH, or this machine. */
export interface HyperVHostEnv {
  /** `user@host[:port]`; unset means this machine. */
  readonly FLEETGATE_HYPERV_HOST?: string | undefined;
  /** Private key file for the SSH login. */
  readonly FLEETGATE_HYPERV_KEY?: string | undefined;
  /** The host's pinned key, `SHA256:...`. */
  readonly FLEETGATE_HYPERV_HOST_KEY?: string | undefined;
}

/**
 * A host from the environment, connected on first use (the provider registry's create() is
 * synchronous; SSH connecting is not).
 */
export function hostFromEnv(env: HyperVHostEnv = process.env): HyperVHost {
  const target = env.FLEETGATE_HYPERV_HOST;
  if (!target) return new PowerShellHyperVHost(new LocalShellTransport());
  const m = /^([^@\s]+)@([^:\s]+)(?::(\d+))?$/.exec(target);
  if (!m) throw new InfraFailure(`FLEETGATE_HYPERV_HOST must be user@host[:port], got ${JSON.stringify(target)}`);
  const [, username, host, port] = m as unknown as [string, string, string, string | undefined];
  return sshHost({ username, host, port: Number(port ?? 22), key: env.FLEETGATE_HYPERV_KEY, fingerprint: env.FLEETGATE_HYPERV_HOST_KEY, keySource: 'FLEETGATE_HYPERV_HOST_KEY' });
}

/**
 * The host of an inventory entry (hosts.yaml): `reach: local` is this machine, `ssh://user@host[:port]`
 * a remote host over SSH with the entry's pinned `hyperv.hostKey` (or FLEETGATE_HYPERV_HOST_KEY) and
 * the client key `hyperv.identity` (or FLEETGATE_HYPERV_KEY).
 */
export function hostFromReach(reach: string, o: { hostKey?: string | undefined; identity?: string | undefined; hostName?: string } = {}, env: HyperVHostEnv = process.env): HyperVHost {
  if (reach === 'local') return new PowerShellHyperVHost(new LocalShellTransport());
  const m = /^ssh:\/\/([^@\s]+)@([^:\s/]+)(?::(\d+))?$/.exec(reach);
  if (!m) throw new InfraFailure(`host ${o.hostName ?? ''}: reach must be local or ssh://user@host[:port], got ${JSON.stringify(reach)}`);
  const [, username, host, port] = m as unknown as [string, string, string, string | undefined];
  return sshHost({
    username,
    host,
    port: Number(port ?? 22),
    key: o.identity ?? env.FLEETGATE_HYPERV_KEY,
    fingerprint: o.hostKey ?? env.FLEETGATE_HYPERV_HOST_KEY,
    keySource: o.hostKey ? `hosts.yaml hyperv.hostKey of ${o.hostName ?? host}` : 'FLEETGATE_HYPERV_HOST_KEY',
  });
}

function sshHost(o: { username: string; host: string; port: number; key: string | undefined; fingerprint: string | undefined; keySource: string }): HyperVHost {
  const { username, host, key, fingerprint } = o;
  const port = String(o.port);
  if (!key || !fingerprint) {
    throw new InfraFailure(`the remote Hyper-V host ${host} needs a client key file (hosts.yaml hyperv.identity or FLEETGATE_HYPERV_KEY) and its pinned host key (hyperv.hostKey or FLEETGATE_HYPERV_HOST_KEY, SHA256:...)`);
  }
  const where = `ssh ${username}@${host}:${port ?? 22}`;
  let connecting: Promise<HyperVHost> | undefined;
  const connect = (): Promise<HyperVHost> =>
    (connecting ??= (async () => {
      const [{ connectSsh }, { windowsRemoteSha256, heartbeatCommand }] = await Promise.all([
        import('../../guest/ssh/client.ts'),
        import('../../guest/windows/windows-guest.ts'),
      ]);
      const channel = await connectSsh({
        host,
        port: Number(port ?? 22),
        username,
        privateKeyPath: key,
        hostKeyFingerprint: fingerprint,
        hostKeySource: o.keySource,
        remoteSha256: windowsRemoteSha256,
        heartbeatCommand,
        retry: { deadlineMs: 30_000 },
      });
      return new PowerShellHyperVHost(new SshPowerShellTransport(channel, where));
    })());
  return {
    where,
    run: async (script, input, options) => (await connect()).run(script, input, options),
    putFile: async (l, h) => (await connect()).putFile(l, h),
    getFile: async (h, l) => (await connect()).getFile(h, l),
    close: async () => {
      if (connecting) await (await connecting).close();
    },
  };
}
