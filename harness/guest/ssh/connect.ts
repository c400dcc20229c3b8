// Getting an authenticated ssh2 connection to a guest that may still be booting: retry what a
// booting guest produces (refused, reset, closed before the banner, handshake timeout), stop at
// once on what waiting cannot fix (wrong host key, key not accepted).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { Client as Ssh2Client } from 'ssh2';
import { FleetgateError } from '../../../lib/errors.ts';
import { backoffDelayMs, type BackoffOptions } from './backoff.ts';
import { HostKeyMismatch, SshAuthFailed, SshConnectFailed } from './errors.ts';
import { isSha256Fingerprint, sha256Fingerprint } from './fingerprint.ts';

export interface RetryOptions extends BackoffOptions {
  /** Give up this long after the first attempt started. @default 300000 (5 min) */
  deadlineMs?: number;
  /** Give up after this many attempts, even before the deadline. @default unlimited */
  maxAttempts?: number;
}

export interface SshEndpointOptions {
  host: string;
  port: number;
  username: string;
  /** File holding the client's private key (OpenSSH or PEM). Read at connect; never logged. */
  privateKeyPath: string;
  /** For an encrypted key; better from an environment variable than from a file in the repo. */
  passphrase?: string;
  /** The pinned host key, `SHA256:<base64 without padding>` as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Where the pin came from, named in HostKeyMismatch (e.g. the manifest path). */
  hostKeySource?: string;
  /** Host key algorithms to ask for, most preferred first. The guest may hold several host keys
   * and the pin matches only one; set this to that key's type if the guest has more than one. */
  hostKeyAlgorithms?: string[];
  /** Limit for one attempt's TCP connect + SSH handshake + auth. @default 20000 */
  handshakeTimeoutMs?: number;
  retry?: RetryOptions;
  /** Told about every failed attempt that will be retried (for the journal / progress). */
  onRetry?: (info: { attempt: number; error: Error; retryInMs: number }) => void;
  signal?: AbortSignal;
}

export interface Connected {
  client: Ssh2Client;
  attempts: number;
}

/** Why one attempt failed, and whether another can succeed. */
interface AttemptFailure {
  error: Error;
  retryable: boolean;
}

// Socket errors a booting guest (or its NAT'd port forward) produces before sshd listens.
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

function endpointName(o: SshEndpointOptions): string {
  return `${o.username}@${o.host}:${o.port}`;
}

/** Reads and checks the client key; the error names the file, never its content. */
export async function loadPrivateKey(path: string, passphrase?: string): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (err) {
    throw new FleetgateError(
      `cannot read the SSH client key ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const parsed = ssh2.utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    // ssh2's parse messages describe the format ("Unsupported key format"), not the key.
    throw new FleetgateError(`cannot use the SSH client key ${path}: ${parsed.message}`);
  }
  return key;
}

function oneAttempt(
  o: SshEndpointOptions,
  privateKey: Buffer,
  timeoutMs: number,
): Promise<Ssh2Client> {
  return new Promise<Ssh2Client>((resolve, reject) => {
    const client = new ssh2.Client();
    const pinned = o.hostKeyFingerprint;
    let offered: string | undefined;
    let settled = false;
    const fail = (failure: AttemptFailure) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('ready');
      // Keep an error listener: ssh2 may still emit while the socket goes down.
      client.on('error', () => {});
      client.destroy();
      reject(failure);
    };
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('error');
      client.removeAllListeners('close');
      // Until the channel attaches its own listeners, an ssh2 error must not crash the process.
      client.on('error', () => {});
      resolve(client);
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (offered !== undefined && offered !== pinned) {
        fail({
          retryable: false,
          error: new HostKeyMismatch({
            endpoint: endpointName(o),
            expected: pinned,
            offered,
            pinnedFrom: o.hostKeySource ?? 'the connect options',
          }),
        });
      } else if (err.level === 'client-authentication') {
        fail({
          retryable: false,
          error: new SshAuthFailed(
            `SSH authentication as ${o.username} at ${o.host}:${o.port} failed with the key ` +
              `${o.privateKeyPath}: ${err.message}`,
            { cause: err },
          ),
        });
      } else {
        const retryable =
          err.level === 'client-timeout' ||
          (err.code !== undefined && RETRYABLE_CODES.has(err.code)) ||
          /Connection lost before handshake/.test(err.message);
        fail({ retryable, error: err });
      }
    });
    // The guest's sshd may accept and then drop us while it is still starting (or a port forward
    // accepts before anything listens behind it): closed before the banner, without an error.
    client.on('close', () => {
      fail({
        retryable: true,
        error: new Error('connection closed before the SSH banner and handshake completed'),
      });
    });
    try {
      client.connect({
        host: o.host,
        port: o.port,
        username: o.username,
        privateKey,
        ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
        readyTimeout: Math.max(1, Math.round(timeoutMs)),
        // No ssh2 keepalive: it ends the connection by itself; the heartbeat reports instead and
        // the cell monitor decides.
        keepaliveInterval: 0,
        ...(o.hostKeyAlgorithms
          ? { algorithms: { serverHostKey: o.hostKeyAlgorithms as ssh2.ServerHostKeyAlgorithm[] } }
          : {}),
        hostVerifier: (key: Buffer) => {
          offered = sha256Fingerprint(key);
          return offered === pinned;
        },
      });
    } catch (err) {
      fail({ retryable: false, error: err as Error });
    }
  });
}

/**
 * Connects, retrying with capped exponential backoff until `retry.deadlineMs`. Throws
 * HostKeyMismatch or SshAuthFailed at once, SshConnectFailed (an InfraFailure, with the attempt
 * count and the last error) when the deadline or attempt limit is reached.
 */
export async function connectWithRetry(o: SshEndpointOptions): Promise<Connected> {
  if (!isSha256Fingerprint(o.hostKeyFingerprint)) {
    throw new FleetgateError(
      `pinned SSH host key fingerprint from ${o.hostKeySource ?? 'the connect options'} must look ` +
        `like SHA256:<43 base64 characters> (as ssh-keygen -lf prints it), got '${o.hostKeyFingerprint}'`,
    );
  }
  const privateKey = await loadPrivateKey(o.privateKeyPath, o.passphrase);
  const deadlineMs = o.retry?.deadlineMs ?? 300_000;
  const maxAttempts = o.retry?.maxAttempts ?? Number.POSITIVE_INFINITY;
  const handshakeTimeoutMs = o.handshakeTimeoutMs ?? 20_000;
  const started = Date.now();
  const deadline = started + deadlineMs;
  let attempts = 0;
  let lastError: Error = new Error('no attempt made');

  while (attempts < maxAttempts) {
    o.signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    attempts++;
    try {
      const client = await oneAttempt(o, privateKey, Math.min(handshakeTimeoutMs, remaining));
      return { client, attempts };
    } catch (thrown) {
      const failure = thrown as AttemptFailure;
      lastError = failure.error;
      if (!failure.retryable) {
        if (failure.error instanceof FleetgateError) throw failure.error;
        throw new SshConnectFailed(
          `SSH to ${endpointName(o)} failed with an error that retrying cannot fix ` +
            `(attempt ${attempts}): ${failure.error.message}`,
          attempts,
          failure.error,
        );
      }
    }
    if (attempts >= maxAttempts) break;
    const delay = backoffDelayMs(attempts, o.retry);
    // Sleeping past the deadline only to fail afterwards wastes a slot; fail now instead.
    if (Date.now() + delay >= deadline) break;
    o.onRetry?.({ attempt: attempts, error: lastError, retryInMs: delay });
    await sleep(delay, undefined, o.signal ? { signal: o.signal } : undefined);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  throw new SshConnectFailed(
    `no SSH session to ${endpointName(o)} after ${attempts} attempt(s) in ${seconds}s ` +
      `(deadline ${deadlineMs / 1000}s); last error: ${lastError.message}`,
    attempts,
    lastError,
  );
}
