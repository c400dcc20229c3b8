// A guest is ready for the SSH channel once its sshd sends the protocol banner. An accepted TCP
// connection alone means nothing: QEMU's user-mode network accepts on the forwarded port before the
// guest listens, then drops the connection.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from './timeouts.ts';

export interface BannerWaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Pause between attempts. */
  readonly intervalMs?: number;
}

/** Resolves with the banner line (`SSH-2.0-OpenSSH_9.2p1 ...`) once one arrives. */
export async function waitForSshBanner(
  endpoint: { host: string; port: number },
  options: BannerWaitOptions,
): Promise<string> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`SSH banner on ${endpoint.host}:${endpoint.port}`, options.timeoutMs);
    const banner = await readBanner(endpoint, Math.min(left, 5_000), options.signal);
    if (banner) return banner;
    await sleep(options.intervalMs ?? 200, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
}

function readBanner(endpoint: { host: string; port: number }, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.createConnection(endpoint);
    let data = '';
    const finish = (value: string | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(value);
    };
    const onAbort = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl >= 0 || data.length > 255) {
        const line = data.slice(0, nl >= 0 ? nl : 255).replace(/\r$/, '');
        finish(line.startsWith('SSH-') ? line : undefined);
      }
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
  });
}
