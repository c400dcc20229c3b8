// How the guest tells us the SHA-256 of one of its files. Pluggable because it is OS-specific:
// POSIX guests (the lab's busybox included) have sha256sum; the Windows personality will plug in
// Get-FileHash.
import type { GuestChannel } from '../channel.ts';
import { RemoteCommandFailed } from './errors.ts';
import { posixCommand } from './quote.ts';

/** Hex SHA-256 (lowercase) of `remotePath` on the guest, computed by the guest. */
export type RemoteSha256 = (remotePath: string, channel: Pick<GuestChannel, 'exec'>) => Promise<string>;

/** Time allowed for hashing one file in the guest; a crash dump can be several GB. */
export const REMOTE_SHA256_TIMEOUT_MS = 300_000;

/**
 * Reads sha256sum's output. GNU coreutils prefixes the line with `\` when the name holds a
 * backslash or newline; busybox prints `<hash>  <name>`. Only the hash is trusted, never the name.
 */
export function parseSha256sumOutput(stdout: string, remotePath: string): string {
  const match = /^\\?([0-9a-fA-F]{64})(?:\s|$)/.exec(stdout);
  if (!match) {
    throw new RemoteCommandFailed(
      `sha256sum of guest:${remotePath}: expected '<64 hex digits>  <name>' at the start of ` +
        `its output, got ${JSON.stringify(stdout.slice(0, 120))}`,
    );
  }
  return match[1]!.toLowerCase();
}

/** Default for POSIX guests: `sha256sum -- '<path>'`. */
export const posixRemoteSha256: RemoteSha256 = async (remotePath, channel) => {
  const r = await channel.exec(posixCommand(['sha256sum', '--', remotePath]), {
    timeoutMs: REMOTE_SHA256_TIMEOUT_MS,
    maxBufferBytes: 64 * 1024,
  });
  if (r.timedOut) {
    throw new RemoteCommandFailed(
      `sha256sum of guest:${remotePath} did not finish within ${REMOTE_SHA256_TIMEOUT_MS / 1000}s`,
    );
  }
  if (r.exitCode !== 0) {
    throw new RemoteCommandFailed(
      `sha256sum of guest:${remotePath} exited with ${r.exitCode ?? `signal ${r.signal ?? '?'}`}: ` +
        JSON.stringify(r.stderr.trim().slice(0, 300)),
    );
  }
  return parseSha256sumOutput(r.stdout, remotePath);
};
