// Host key fingerprints in the form OpenSSH prints them (`ssh-keygen -lf`, `ssh -v`):
// `SHA256:` + base64 of the SHA-256 of the key blob as sent on the wire, padding removed.
import { createHash } from 'node:crypto';
import { stripEnd } from '../../../lib/linear-text.ts';

/** `SHA256:` + 43 base64 characters (32 bytes without the trailing `=`). */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function isSha256Fingerprint(value: string): boolean {
  return FINGERPRINT.test(value);
}

/** Fingerprint of a public key blob (the SSH wire encoding, as ssh2's hostVerifier receives it). */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${stripEnd(createHash('sha256').update(keyBlob).digest('base64'), '=')}`;
}
