// PowerShell Direct as a guest channel (harness/guest/channel.ts GuestChannel) for Hyper-V VMs
// without a network: the host talks to the guest through the VM bus (windows.md section 5:
// Invoke-Command -VMName, New-PSSession -VMName + Copy-Item -ToSession/-FromSession). Every operation
// is a host script (invoke_in_vm, copy_to_vm, copy_from_vm) run through the same HyperVHost.
// exec runs the command line as `cmd.exe /c` in the guest, like Windows OpenSSH, so WindowsGuest's
// encoded scripts work unchanged over either channel.
// PowerShell Direct needs the guest's credentials (not a key): the password is in each script's input,
// which encode-host.ts always sends on PowerShell's stdin, never on a command line (issue #16 row 10).
// Checked against RecordedHyperVHost and the Hyper-V host double (secrets-argv.double.test.ts), not
// a live Hyper-V host.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { InfraFailure } from '../../../lib/errors.ts';
import {
  ChecksumMismatch,
  GuestConnectionLost,
  type ExecOptions,
  type ExecResult,
  type GuestChannel,
  type GuestChannelEvents,
  type HeartbeatOptions,
  type TransferOptions,
  type TransferResult,
} from '../../guest/channel.ts';
import { Heartbeat } from '../../guest/ssh/heartbeat.ts';
import { HyperVHostError, type HyperVHost } from './host.ts';
import { copyFromVmResult, copyToVmResult, inVmExecResult } from './results.ts';

export interface PowerShellDirectOptions {
  host: HyperVHost;
  /** The VM's name on the host. */
  vmName: string;
  /** A guest administrator (the image's account); the password from a file or environment variable. */
  user: string;
  password: string;
  /** Host folder for staging copies (remote hosts: SFTP to it first). @default C:\fleetgate\staging */
  stagingDir?: string;
  /** The heartbeat probe command (WindowsGuest's heartbeatCommand). @default 'exit 0' */
  heartbeatCommand?: string;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

let staged = 0;

export class PowerShellDirectChannel extends EventEmitter<GuestChannelEvents> implements GuestChannel {
  readonly kind = 'powershell-direct';
  private readonly o: Required<PowerShellDirectOptions>;
  private heartbeat: Heartbeat | undefined;
  private closed = false;

  constructor(options: PowerShellDirectOptions) {
    super();
    this.o = { stagingDir: 'C:\\fleetgate\\staging', heartbeatCommand: 'exit 0', ...options };
  }

  /** The scripts given these are CREDENTIAL_SCRIPTS (encode-host.ts): stdin whatever their size. */
  private creds() {
    return { name: this.o.vmName, user: this.o.user, password: this.o.password };
  }

  /** A fresh staging file on the host; joined the way the staging folder is written (a Windows host
   * has C:\..., a test double may stage in a local POSIX folder). */
  private hostPath(hint: string): string {
    const file = `${process.pid}-${++staged}-${path.win32.basename(hint.replace(/\//g, '\\'))}`;
    return /^([A-Za-z]:|\\\\)/.test(this.o.stagingDir) ? path.win32.join(this.o.stagingDir, file) : path.posix.join(this.o.stagingDir, file);
  }

  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    if (this.closed) throw new GuestConnectionLost(`PowerShell Direct to ${this.o.vmName}: the channel is closed`);
    const started = Date.now();
    let stdin: string | null = null;
    if (typeof options.stdin === 'string') stdin = options.stdin;
    else if (Buffer.isBuffer(options.stdin)) stdin = options.stdin.toString('utf8');
    else if (options.stdin) throw new InfraFailure('PowerShell Direct exec takes stdin as a string or Buffer, not a stream');
    let r;
    try {
      r = inVmExecResult(
        await this.o.host.run('invoke_in_vm', { ...this.creds(), command, stdin, timeoutSeconds: Math.max(1, Math.ceil(options.timeoutMs / 1000)) }, { timeoutMs: options.timeoutMs + 60_000 }),
      );
    } catch (err) {
      // The session could not reach the guest (off, rebooting, crashed): what SSH reports as a lost connection.
      if (err instanceof HyperVHostError && /PSSession|PSRemotingTransport|VirtualMachine/i.test(`${err.errorId} ${err.error.type}`)) {
        throw new GuestConnectionLost(`PowerShell Direct to ${this.o.vmName}: ${err.error.message}`, { cause: err });
      }
      throw err;
    }
    const max = options.maxBufferBytes ?? 1024 * 1024;
    const keep = (s: string) => {
      const b = Buffer.from(s, 'utf8');
      return b.length > max ? { text: b.subarray(b.length - max).toString('utf8'), dropped: b.length - max } : { text: s, dropped: 0 };
    };
    const out = keep(r.stdout);
    const err = keep(r.stderr);
    if (r.stdout) options.onStdout?.(Buffer.from(r.stdout, 'utf8'));
    if (r.stderr) options.onStderr?.(Buffer.from(r.stderr, 'utf8'));
    return {
      exitCode: r.timedOut ? null : r.exitCode,
      stdout: out.text,
      stderr: err.text,
      stdoutDroppedBytes: out.dropped,
      stderrDroppedBytes: err.dropped,
      truncated: out.dropped > 0 || err.dropped > 0,
      timedOut: r.timedOut,
      aborted: false,
      durationMs: Date.now() - started,
    };
  }

  async upload(localPath: string, remotePath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const started = Date.now();
    const expected = await sha256File(localPath);
    const bytes = (await stat(localPath)).size;
    const hostPath = this.hostPath(localPath);
    await this.o.host.putFile(localPath, hostPath);
    const r = copyToVmResult(await this.o.host.run('copy_to_vm', { ...this.creds(), hostPath, guestPath: remotePath }));
    options.onProgress?.({ bytesDone: r.bytes, bytesTotal: bytes });
    if (r.sha256 !== expected) {
      // The bad copy is removed (the seam's promise); best effort, the mismatch is the error.
      await this.exec(`del /f /q "${remotePath.replace(/"/g, '')}"`, { timeoutMs: 30_000 }).catch(() => undefined);
      throw new ChecksumMismatch({ direction: 'upload', path: remotePath, source: localPath, expectedSha256: expected, actualSha256: r.sha256 });
    }
    return { bytes: r.bytes, sha256: r.sha256, durationMs: Date.now() - started };
  }

  async download(remotePath: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const started = Date.now();
    const hostPath = this.hostPath(remotePath);
    const r = copyFromVmResult(await this.o.host.run('copy_from_vm', { ...this.creds(), guestPath: remotePath, hostPath }));
    await this.o.host.getFile(hostPath, localPath);
    const actual = await sha256File(localPath);
    options.onProgress?.({ bytesDone: r.bytes, bytesTotal: r.bytes });
    if (actual !== r.guestSha256) {
      await rm(localPath, { force: true });
      throw new ChecksumMismatch({ direction: 'download', path: localPath, source: remotePath, expectedSha256: r.guestSha256, actualSha256: actual });
    }
    return { bytes: r.bytes, sha256: actual, durationMs: Date.now() - started };
  }

  startHeartbeat(options?: HeartbeatOptions): void {
    this.stopHeartbeat();
    this.heartbeat = new Heartbeat(
      (timeoutMs) => {
        const outcome = this.exec(this.o.heartbeatCommand, { timeoutMs }).then(
          (r) => (r.timedOut ? { ok: false, reason: `no answer within ${timeoutMs}ms` } : r.exitCode === 0 ? { ok: true } : { ok: false, reason: `probe exited ${r.exitCode}` }),
          (err: Error) => ({ ok: false, reason: err.message }),
        );
        return { outcome, released: outcome.then(() => undefined) };
      },
      { miss: (e) => this.emit('heartbeat-miss', e), lost: (e) => this.emit('heartbeat-lost', e), restored: (e) => this.emit('heartbeat-restored', e) },
      options,
    );
    this.heartbeat.start();
  }

  stopHeartbeat(): void {
    this.heartbeat?.stop();
    this.heartbeat = undefined;
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    this.closed = true;
  }
}
