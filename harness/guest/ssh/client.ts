// The SSH guest channel: GuestChannel over ssh2, with the guest's host key pinned from its image
// manifest. connectSsh() waits (with backoff) for a booting guest; the channel then runs commands,
// moves files with SHA-256 checks and, once started, probes the guest with a heartbeat.
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import type { Client as Ssh2Client, SFTPWrapper } from 'ssh2';
import { InputError } from '../../../lib/errors.ts';
import { MANIFEST_FILE, type ImageManifest } from '../../../images/manifest.ts';
import type {
  ExecOptions,
  ExecResult,
  GuestChannel,
  GuestChannelEvents,
  HeartbeatOptions,
  TransferOptions,
  TransferResult,
} from '../channel.ts';
import { connectWithRetry, type SshEndpointOptions } from './connect.ts';
import { startExec } from './exec.ts';
import { isSha256Fingerprint } from './fingerprint.ts';
import { Heartbeat } from './heartbeat.ts';
import { posixRemoteSha256, type RemoteSha256 } from './remote-sha256.ts';
import { downloadFile, uploadFile } from './transfer.ts';

export { quotePosix, posixCommand } from './quote.ts';
export { sha256Fingerprint } from './fingerprint.ts';
export { HostKeyMismatch, SshAuthFailed, SshConnectFailed, RemoteCommandFailed, SftpFailed } from './errors.ts';
export { ChecksumMismatch, GuestConnectionLost, TransferStalled } from '../channel.ts';
export { posixRemoteSha256, parseSha256sumOutput, type RemoteSha256 } from './remote-sha256.ts';
export type { SshEndpointOptions, RetryOptions } from './connect.ts';

export interface SshConnectOptions extends SshEndpointOptions {
  /** How the guest hashes its files for upload/download checks. @default posixRemoteSha256 */
  remoteSha256?: RemoteSha256;
  /** The heartbeat probe command; must be cheap and exit 0. Windows guests (cmd as the default
   * shell) want e.g. `exit 0`. @default 'true' */
  heartbeatCommand?: string;
}

export class SshGuestChannel extends EventEmitter<GuestChannelEvents> implements GuestChannel {
  readonly kind = 'ssh';
  /** Connect attempts it took (1 when the guest was already up). */
  readonly attempts: number;
  private readonly client: Ssh2Client;
  private readonly remoteSha256: RemoteSha256;
  private readonly heartbeatCommand: string;
  private readonly endpoint: string;
  private heartbeat: Heartbeat | undefined;
  private connected = true;
  private closing = false;

  /** Use connectSsh(); this takes an already authenticated ssh2 client. */
  constructor(client: Ssh2Client, attempts: number, options: SshConnectOptions) {
    super();
    this.client = client;
    this.attempts = attempts;
    this.remoteSha256 = options.remoteSha256 ?? posixRemoteSha256;
    this.heartbeatCommand = options.heartbeatCommand ?? 'true';
    this.endpoint = `${options.username}@${options.host}:${options.port}`;
    // Every running exec listens for the connection's close; many may run at once.
    client.setMaxListeners(0);
    client.on('error', () => {
      // Errors after ready end in 'close', which is where we report; without a listener ssh2's
      // error would crash the process.
    });
    client.on('close', () => {
      this.connected = false;
      if (!this.closing) this.emit('disconnected', { reason: `SSH connection to ${this.endpoint} closed` });
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  exec(command: string, options: ExecOptions): Promise<ExecResult> {
    return startExec(this.client, command, options, () => this.connected).result;
  }

  upload(localPath: string, remotePath: string, options?: TransferOptions): Promise<TransferResult> {
    return uploadFile(this.transferDeps(), localPath, remotePath, options);
  }

  download(remotePath: string, localPath: string, options?: TransferOptions): Promise<TransferResult> {
    return downloadFile(this.transferDeps(), remotePath, localPath, options);
  }

  startHeartbeat(options?: HeartbeatOptions): void {
    this.stopHeartbeat();
    const heartbeat = new Heartbeat(
      (timeoutMs) => {
        const run = startExec(this.client, this.heartbeatCommand, { timeoutMs, maxBufferBytes: 4096 }, () => this.connected);
        const outcome = run.result.then(
          (r) =>
            r.timedOut
              ? { ok: false, reason: `no answer within ${timeoutMs}ms` }
              : r.exitCode === null
                ? { ok: false, reason: `probe ended without an exit status (${r.signal ?? 'no signal'})` }
                : { ok: true },
          (err: Error) => ({ ok: false, reason: err.message }),
        );
        return { outcome, released: run.released };
      },
      {
        miss: (e) => this.emit('heartbeat-miss', e),
        lost: (e) => this.emit('heartbeat-lost', e),
        restored: (e) => this.emit('heartbeat-restored', e),
      },
      options,
    );
    this.heartbeat = heartbeat;
    heartbeat.start();
  }

  stopHeartbeat(): void {
    this.heartbeat?.stop();
    this.heartbeat = undefined;
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    if (!this.connected) return;
    this.closing = true;
    const closed = new Promise<void>((r) => this.client.once('close', () => r()));
    this.client.end();
    // A stopped or crashed guest never answers the disconnect; don't wait for it forever.
    const timer = setTimeout(() => this.client.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }

  private transferDeps() {
    return {
      openSftp: () =>
        new Promise<SFTPWrapper>((resolve, reject) => {
          try {
            this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
          } catch (err) {
            reject(err);
          }
        }),
      remoteSha256: (path: string) => this.remoteSha256(path, this),
    };
  }
}

/** Waits for the guest's sshd (see SshEndpointOptions.retry) and returns a ready channel. */
export async function connectSsh(options: SshConnectOptions): Promise<SshGuestChannel> {
  const { client, attempts } = await connectWithRetry(options);
  return new SshGuestChannel(client, attempts, options);
}

/**
 * Connect options for a guest booted from the image in `imageDir`: user, pinned host key and
 * client key from its manifest. The key path can be overridden (e.g. from an environment
 * variable) when the manifest does not carry one.
 */
export function fromManifest(
  imageDir: string,
  manifest: ImageManifest,
  endpoint: { host: string; port: number },
  overrides: Partial<Omit<SshConnectOptions, 'host' | 'port'>> = {},
): SshConnectOptions {
  const manifestPath = join(imageDir, MANIFEST_FILE);
  const fingerprint = manifest.ssh.hostKeyFingerprint;
  if (!isSha256Fingerprint(fingerprint)) {
    throw new InputError(
      { file: manifestPath },
      `ssh.hostKeyFingerprint: expected SHA256:<43 base64 characters> as ssh-keygen -lf prints it, ` +
        `got ${JSON.stringify(fingerprint)}`,
    );
  }
  const keyPath =
    overrides.privateKeyPath ??
    (manifest.ssh.clientKey !== undefined ? resolve(imageDir, manifest.ssh.clientKey) : undefined);
  if (keyPath === undefined) {
    throw new InputError(
      { file: manifestPath },
      'ssh.clientKey: missing, and no privateKeyPath was given to use instead',
    );
  }
  return {
    username: manifest.ssh.user,
    hostKeyFingerprint: fingerprint,
    hostKeySource: `${manifestPath} (ssh.hostKeyFingerprint)`,
    ...overrides,
    host: endpoint.host,
    port: endpoint.port,
    privateKeyPath: keyPath,
  };
}
