// Errors only the SSH transport raises. All are infra failures (the product is never to blame for
// an SSH problem before the cell has started), but they differ in whether a connect retry can help.
import { InfraFailure } from '../../../lib/errors.ts';

/**
 * The guest offered a host key other than the pinned one: a different VM answered, the image was
 * rebuilt without updating its manifest, or something sits in between. Never retried.
 */
export class HostKeyMismatch extends InfraFailure {
  readonly endpoint: string;
  readonly expected: string;
  readonly offered: string;
  readonly pinnedFrom: string;
  constructor(init: { endpoint: string; expected: string; offered: string; pinnedFrom: string }) {
    super(
      `SSH host key mismatch at ${init.endpoint}: the guest offered ${init.offered}, ` +
        `but ${init.expected} is pinned (from ${init.pinnedFrom}). Refusing to connect; ` +
        `if the image was rebuilt, update its manifest.`,
    );
    this.endpoint = init.endpoint;
    this.expected = init.expected;
    this.offered = init.offered;
    this.pinnedFrom = init.pinnedFrom;
  }
}

/** The guest refused our key (wrong user, key not authorized). Never retried: waiting won't fix it. */
export class SshAuthFailed extends InfraFailure {}

/** Could not get an SSH session within the deadline; `lastError` says why the last attempt failed. */
export class SshConnectFailed extends InfraFailure {
  readonly attempts: number;
  readonly lastError: Error;
  constructor(message: string, attempts: number, lastError: Error) {
    super(message, { cause: lastError });
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

/** A helper command in the guest (e.g. sha256sum) failed or printed something we cannot parse. */
export class RemoteCommandFailed extends InfraFailure {}

/** An SFTP operation failed (no such file, permission denied, channel closed mid-transfer). */
export class SftpFailed extends InfraFailure {}
