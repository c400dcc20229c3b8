// One command over an ssh2 connection: output streamed and kept (tail-capped), exit status or
// signal, and a timeout/abort that closes the channel instead of leaving it to the guest.
import { Readable } from 'node:stream';
import type { Client as Ssh2Client, ClientChannel } from 'ssh2';
import { GuestConnectionLost, type ExecOptions, type ExecResult } from '../channel.ts';
import { RemoteCommandFailed } from './errors.ts';
import { TailBuffer } from './tail-buffer.ts';

export const DEFAULT_MAX_BUFFER_BYTES = 1024 * 1024;

/** ssh2's channel internals reached by sendKill (not in its typings). */
interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(channelId: number, signal: string): void } };
}

/**
 * Asks the guest to SIGKILL the command's process group. OpenSSH (>= 8.1, privilege separation
 * on) delivers `signal` requests with killpg; Windows OpenSSH and older servers ignore them, and
 * closing the channel is then all we can do. ssh2's own ClientChannel.signal() silently sends
 * nothing once stdin has been closed (it checks `writable` and state 'open'), and we close stdin early so that
 * commands reading it see EOF, so the request goes through the protocol object directly.
 */
function sendKill(channel: ClientChannel): void {
  const internals = channel as unknown as ChannelInternals;
  try {
    // 'eof' is the state after we closed stdin; the channel is still open for requests.
    const state = internals.outgoing?.state;
    if ((state === 'open' || state === 'eof') && internals.outgoing && internals._client?._protocol) {
      internals._client._protocol.signal(internals.outgoing.id, 'KILL');
    } else {
      channel.signal('KILL');
    }
  } catch {
    // The channel or connection is already going away; close() below is what matters.
  }
}

export interface StartedExec {
  /** Settles on exit, timeout, abort, or connection loss. */
  result: Promise<ExecResult>;
  /** Resolves when the SSH channel is really gone (after a timeout it may still be pending while
   * the guest is stopped). The heartbeat uses it to avoid piling up unanswered channels. */
  released: Promise<void>;
}

export function startExec(
  client: Ssh2Client,
  command: string,
  options: ExecOptions,
  isConnected: () => boolean,
): StartedExec {
  const started = performance.now();
  const limit = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  const out = new TailBuffer(limit);
  const err = new TailBuffer(limit);
  let channel: ClientChannel | undefined;
  let exitCode: number | null = null;
  let signalName: string | undefined;
  let ending: 'timeout' | 'abort' | undefined;
  let settled = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let onConnectionLost = () => {};
  const onConnectionClose = () => {
    onConnectionLost();
    release();
  };
  client.once('close', onConnectionClose);
  released.then(() => client.off('close', onConnectionClose));

  const result = new Promise<ExecResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const snapshot = (): ExecResult => {
      const stdoutDroppedBytes = out.droppedBytes;
      const stderrDroppedBytes = err.droppedBytes;
      return {
        exitCode,
        ...(signalName !== undefined ? { signal: signalName } : {}),
        stdout: out.bytes().toString('utf8'),
        stderr: err.bytes().toString('utf8'),
        stdoutDroppedBytes,
        stderrDroppedBytes,
        truncated: stdoutDroppedBytes > 0 || stderrDroppedBytes > 0,
        timedOut: ending === 'timeout',
        aborted: ending === 'abort',
        durationMs: Math.round(performance.now() - started),
      };
    };
    const cleanup = () => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.stdin instanceof Readable && channel) options.stdin.unpipe(channel);
    };
    const finish = () => {
      if (settled) return;
      cleanup();
      resolve(snapshot());
    };
    const failWith = (error: Error) => {
      if (settled) return;
      cleanup();
      reject(error);
    };
    const end = (why: 'timeout' | 'abort') => {
      if (settled) return;
      ending = why;
      if (channel) {
        sendKill(channel);
        try {
          channel.close();
        } catch {}
      }
      finish();
    };
    function onAbort() {
      end('abort');
    }
    const lost = () => {
      const partial = snapshot();
      failWith(
        new GuestConnectionLost('SSH connection lost while the command was running', {
          partial: { stdout: partial.stdout, stderr: partial.stderr, durationMs: partial.durationMs },
        }),
      );
    };
    // ssh2 does not always close open channels when the socket goes; the connection's own close
    // event is the reliable signal.
    onConnectionLost = () => {
      if (exitCode === null && signalName === undefined) lost();
      else finish();
    };

    if (options.signal?.aborted) {
      ending = 'abort';
      release();
      finish();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => end('timeout'), options.timeoutMs);

    const onOpen = (error: Error | undefined, stream: ClientChannel) => {
      if (error) {
        release();
        failWith(
          isConnected()
            ? new RemoteCommandFailed(`the guest refused to start a command: ${error.message}`, {
                cause: error,
              })
            : new GuestConnectionLost(`SSH connection lost before the command started: ${error.message}`, {
                cause: error,
              }),
        );
        return;
      }
      stream.once('close', () => release());
      if (settled) {
        // Opened only after the timeout or abort (a slow or stopped guest): the command has
        // started by now, and nobody wants it any more.
        sendKill(stream);
        // ssh2 emits 'close' only after the readable side has ended, so drain it.
        stream.resume();
        stream.stderr.resume();
        try {
          stream.close();
        } catch {}
        return;
      }
      channel = stream;
      stream.on('data', (chunk: Buffer) => {
        if (settled) return;
        out.push(chunk);
        options.onStdout?.(chunk);
      });
      stream.stderr.on('data', (chunk: Buffer) => {
        if (settled) return;
        err.push(chunk);
        options.onStderr?.(chunk);
      });
      stream.on('exit', (code: number | null, signal?: string) => {
        if (typeof code === 'number') exitCode = code;
        else if (signal) signalName = signal;
      });
      stream.on('close', () => {
        if (settled) return;
        if (exitCode === null && signalName === undefined && !isConnected()) lost();
        else finish();
      });
      const stdin = options.stdin;
      if (stdin === undefined) stream.end();
      else if (stdin instanceof Readable) stdin.pipe(stream);
      else stream.end(stdin);
    };

    try {
      client.exec(command, onOpen);
    } catch (error) {
      // ssh2 throws 'Not connected' synchronously once the socket is gone.
      release();
      failWith(new GuestConnectionLost(`SSH connection is gone: ${(error as Error).message}`, { cause: error }));
    }
  });
  return { result, released };
}
