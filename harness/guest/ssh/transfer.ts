// SFTP upload and download, hashed as the bytes stream through, then checked against the guest's
// own SHA-256 of the file. A copy that does not match is removed, so nothing downstream (driver
// install, dump triage) ever reads a corrupt file. A watchdog turns a silent stall into an error.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper } from 'ssh2';
import { FleetgateError } from '../../../lib/errors.ts';
import {
  ChecksumMismatch,
  TransferStalled,
  type TransferOptions,
  type TransferResult,
} from '../channel.ts';
import { SftpFailed } from './errors.ts';

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export interface TransferDeps {
  /** Opens a fresh SFTP session; the transfer ends it. */
  openSftp(): Promise<SFTPWrapper>;
  /** The guest's hex SHA-256 of a guest file. */
  remoteSha256(remotePath: string): Promise<string>;
}

/** Aborts when no byte has moved for `idleMs`, or when the caller's signal aborts. */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal;
  stalled = false;
  constructor(
    private readonly idleMs: number,
    private readonly what: string,
    userSignal?: AbortSignal,
  ) {
    this.signal = userSignal ? AbortSignal.any([this.controller.signal, userSignal]) : this.controller.signal;
    this.kick();
  }
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort(this.stallError());
    }, this.idleMs);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
  stallError(): TransferStalled {
    return new TransferStalled(`${this.what}: no progress for ${this.idleMs / 1000}s, gave up`);
  }
  /** Rejects as soon as the watchdog or the caller aborts, whatever `promise` is doing. */
  guard<T>(promise: Promise<T>): Promise<T> {
    promise.catch(() => {}); // it may reject after we stopped listening
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.stalled ? this.stallError() : this.signal.reason);
      if (this.signal.aborted) return onAbort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (v) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
  /** The error to throw for a failed pipeline: the stall, rather than a generic AbortError. */
  translate(err: unknown): unknown {
    return this.stalled ? this.stallError() : err;
  }
}

/** Passes bytes through unchanged while hashing them and reporting progress. */
function meter(hash: Hash, bytesTotal: number, options: TransferOptions, dog: Watchdog) {
  let bytesDone = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytesDone += chunk.length;
      dog.kick();
      options.onProgress?.({ bytesDone, bytesTotal });
      callback(null, chunk);
    },
  });
  return { stream, done: () => bytesDone };
}

function sftpStatSize(sftp: SFTPWrapper, path: string): Promise<number> {
  return new Promise((resolve, reject) =>
    sftp.stat(path, (err, stats) => (err ? reject(err) : resolve(stats.size))),
  );
}

function sftpUnlink(sftp: SFTPWrapper, path: string): Promise<void> {
  return new Promise((resolve, reject) => sftp.unlink(path, (err) => (err ? reject(err) : resolve())));
}

/** Our own errors already say what failed; raw SFTP/fs errors get the transfer named. An abort
 * by the caller passes through unchanged. */
function describeError(err: unknown, what: string): unknown {
  if (err instanceof FleetgateError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  return new SftpFailed(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export async function uploadFile(
  deps: TransferDeps,
  localPath: string,
  remotePath: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const what = `upload ${localPath} -> guest:${remotePath}`;
  const bytesTotal = (await stat(localPath)).size;
  const dog = new Watchdog(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, what, options.signal);
  const hash = createHash('sha256');
  let sftp: SFTPWrapper | undefined;
  try {
    sftp = await dog.guard(deps.openSftp());
    const m = meter(hash, bytesTotal, options, dog);
    const remote = sftp.createWriteStream(remotePath);
    // ssh2's write stream reports 'finish' before the remote handle is closed (and the file
    // complete); 'close' comes after, so that is what we wait for before hashing remotely.
    const closed = new Promise<void>((resolve, reject) => {
      remote.once('close', () => resolve());
      remote.once('error', reject);
    });
    closed.catch(() => {});
    await pipeline(createReadStream(localPath), m.stream, remote, { signal: dog.signal }).catch((e) => {
      throw dog.translate(e);
    });
    await dog.guard(closed);
    if (m.done() === 0) options.onProgress?.({ bytesDone: 0, bytesTotal });
    const local = hash.digest('hex');
    dog.stop(); // hashing a big file in the guest is slow but not a stall; it has its own timeout
    const guest = await deps.remoteSha256(remotePath);
    if (guest !== local) {
      await sftpUnlink(sftp, remotePath).catch(() => {});
      throw new ChecksumMismatch({
        direction: 'upload',
        source: localPath,
        path: remotePath,
        expectedSha256: local,
        actualSha256: guest,
      });
    }
    return { bytes: m.done(), sha256: local, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    throw describeError(err, what);
  } finally {
    dog.stop();
    sftp?.end();
  }
}

export async function downloadFile(
  deps: TransferDeps,
  remotePath: string,
  localPath: string,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const started = performance.now();
  const what = `download guest:${remotePath} -> ${localPath}`;
  // Written beside the target and renamed only once verified: a crash mid-transfer never leaves
  // a truncated file under the real name.
  const partial = `${localPath}.partial`;
  const dog = new Watchdog(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, what, options.signal);
  const hash = createHash('sha256');
  let sftp: SFTPWrapper | undefined;
  let renamed = false;
  try {
    sftp = await dog.guard(deps.openSftp());
    const bytesTotal = await dog.guard(sftpStatSize(sftp, remotePath));
    const m = meter(hash, bytesTotal, options, dog);
    await pipeline(sftp.createReadStream(remotePath), m.stream, createWriteStream(partial), {
      signal: dog.signal,
    }).catch((e) => {
      throw dog.translate(e);
    });
    if (m.done() === 0) options.onProgress?.({ bytesDone: 0, bytesTotal });
    const local = hash.digest('hex');
    dog.stop();
    const guest = await deps.remoteSha256(remotePath);
    if (guest !== local) {
      throw new ChecksumMismatch({
        direction: 'download',
        source: remotePath,
        path: localPath,
        expectedSha256: guest,
        actualSha256: local,
      });
    }
    await rename(partial, localPath);
    renamed = true;
    return { bytes: m.done(), sha256: local, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    throw describeError(err, what);
  } finally {
    dog.stop();
    sftp?.end();
    if (!renamed) await rm(partial, { force: true });
  }
}
