// The guest-channel seam: how the harness runs commands in a guest and moves files to and from it.
// SSH (harness/guest/ssh) implements it today; PowerShell Direct (Hyper-V) will implement it later.
// The cell lifecycle and the OS personalities only see this interface, never ssh2.
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { InfraFailure } from '../../lib/errors.ts';

// ---------------------------------------------------------------------------------------------------
// exec

export interface ExecOptions {
  /** Wall-clock limit for the command. On expiry the channel is closed (and signalled where the
   * transport supports it) and the result says `timedOut: true`; it is not an exception. */
  timeoutMs: number;
  /** Every chunk of output, as it arrives, even the parts not kept in memory. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Sent to the command's stdin, then EOF. Without it stdin is closed at once, so a command that
   * reads stdin sees EOF instead of hanging until the timeout. */
  stdin?: string | Buffer | Readable;
  /** Aborting ends the command like a timeout does, with `aborted: true` in the result. */
  signal?: AbortSignal;
  /** Bytes of stdout and of stderr kept in memory (each); the tail is kept, because the end of an
   * output is where result lines and error messages are. @default 1 MiB */
  maxBufferBytes?: number;
}

export interface ExecResult {
  /** The command's exit status; null when it had none (killed by a signal, timed out, aborted). */
  exitCode: number | null;
  /** Name of the signal that ended the command (`SIGKILL`, `SIGTERM`...), when the guest reported one. */
  signal?: string;
  /** The kept tail of stdout / stderr (see `maxBufferBytes`). */
  stdout: string;
  stderr: string;
  /** Bytes dropped from the head of stdout / stderr because of `maxBufferBytes`; 0 when complete. */
  stdoutDroppedBytes: number;
  stderrDroppedBytes: number;
  /** True when either stream was cut: stdout/stderr are then only the end of the output. */
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------------
// file transfer

export interface TransferProgress {
  bytesDone: number;
  /** Size of the source file when the transfer began. */
  bytesTotal: number;
}

export interface TransferOptions {
  onProgress?: (progress: TransferProgress) => void;
  /** Fail with TransferStalled when no byte moves for this long (a hung guest must not hang the
   * cell). @default 60000 */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface TransferResult {
  bytes: number;
  /** Hex SHA-256 of the bytes sent (upload) or received (download); equal to the other side's. */
  sha256: string;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------------
// heartbeat

export interface HeartbeatOptions {
  /** Time between the end of one probe and the start of the next. @default 5000 */
  intervalMs?: number;
  /** A probe that takes longer than this is a miss. @default 5000 */
  timeoutMs?: number;
  /** Consecutive misses before `heartbeat-lost`. @default 3 */
  missesBeforeLost?: number;
}

export interface HeartbeatMiss {
  /** Consecutive misses so far. */
  misses: number;
  reason: string;
}

export interface HeartbeatLost {
  misses: number;
  /** When the last probe succeeded (epoch ms); undefined if none ever did. */
  lastOkAt?: number;
  reason: string;
}

export interface HeartbeatRestored {
  /** How long `heartbeat-lost` lasted. */
  lostForMs: number;
}

/** Events every guest channel emits. `heartbeat-lost` is what the cell monitor treats as a
 * possible hang (it then injects an NMI to force a dump); the channel itself decides nothing. */
export interface GuestChannelEvents {
  'heartbeat-miss': [HeartbeatMiss];
  'heartbeat-lost': [HeartbeatLost];
  'heartbeat-restored': [HeartbeatRestored];
  /** The transport went away without close() being called (guest crashed, rebooted, network). */
  disconnected: [{ reason: string }];
}

// ---------------------------------------------------------------------------------------------------
// the seam

export interface GuestChannel
  extends Pick<EventEmitter<GuestChannelEvents>, 'on' | 'once' | 'off'> {
  /** Transport name, for journals and error messages (`ssh`, `powershell-direct`). */
  readonly kind: string;
  /** Runs one command. Resolves on exit, timeout or abort; rejects (GuestConnectionLost) only
   * when the transport itself fails. */
  exec(command: string, options: ExecOptions): Promise<ExecResult>;
  /** Copies a local file to the guest and checks the guest's SHA-256 of what was written. */
  upload(localPath: string, remotePath: string, options?: TransferOptions): Promise<TransferResult>;
  /** Copies a guest file here and checks it against the guest's SHA-256; a bad copy is removed. */
  download(remotePath: string, localPath: string, options?: TransferOptions): Promise<TransferResult>;
  /** Starts probing the guest periodically; events above. Restarting replaces the old settings. */
  startHeartbeat(options?: HeartbeatOptions): void;
  stopHeartbeat(): void;
  /** Stops the heartbeat and ends the transport. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// errors every channel can raise (transport-specific ones live beside each transport)

/** What arrived is not what was sent. The bad copy has been removed. Infra, not product: a
 * transfer is retried, a cell is not failed for it. */
export class ChecksumMismatch extends InfraFailure {
  readonly direction: 'upload' | 'download';
  readonly path: string;
  readonly expectedSha256: string;
  readonly actualSha256: string;
  constructor(init: {
    direction: 'upload' | 'download';
    /** The file that was checked and removed (remote for upload, local for download). */
    path: string;
    source: string;
    expectedSha256: string;
    actualSha256: string;
  }) {
    const what =
      init.direction === 'upload'
        ? `upload ${init.source} -> guest:${init.path}: the guest's SHA-256 of the written file`
        : `download guest:${init.source} -> ${init.path}: the SHA-256 of the received file`;
    super(
      `${what} is ${init.actualSha256}, expected ${init.expectedSha256} ` +
        `(corrupted in transit; the bad copy was removed)`,
    );
    this.direction = init.direction;
    this.path = init.path;
    this.expectedSha256 = init.expectedSha256;
    this.actualSha256 = init.actualSha256;
  }
}

/** No byte moved for `idleTimeoutMs` during an upload or download. */
export class TransferStalled extends InfraFailure {}

/** The transport dropped while a command or transfer was running. The monitor decides whether
 * that was a guest crash (product) or the host (infra); this error only reports it. */
export class GuestConnectionLost extends InfraFailure {
  /** Output gathered before the connection went, when an exec was running. */
  readonly partial?: Pick<ExecResult, 'stdout' | 'stderr' | 'durationMs'>;
  constructor(
    message: string,
    options?: { cause?: unknown; partial?: Pick<ExecResult, 'stdout' | 'stderr' | 'durationMs'> },
  ) {
    super(message, options);
    if (options?.partial) this.partial = options.partial;
  }
}
