// SSH keys made fresh for each built image: an ed25519 host key baked into the initramfs (the harness
// pins its fingerprint from the manifest) and an ed25519 client key the harness logs in with.
import { readFile } from 'node:fs/promises';
import { InfraFailure } from '../../lib/errors.ts';
import { sh } from './tools.ts';

export interface KeyPair {
  privatePath: string;
  publicKey: string;
  privateKey: string;
}

export async function makeEd25519(privatePath: string, comment: string): Promise<KeyPair> {
  await sh`ssh-keygen -q -t ed25519 -N ${''} -C ${comment} -f ${privatePath}`;
  return {
    privatePath,
    privateKey: await readFile(privatePath, 'utf8'),
    publicKey: await readFile(`${privatePath}.pub`, 'utf8'),
  };
}

/** `SHA256:<base64>` exactly as `ssh-keygen -lf` prints it. */
export async function fingerprint(publicKeyPath: string): Promise<string> {
  const out = await sh`ssh-keygen -lf ${publicKeyPath}`;
  return parseFingerprint(out.stdout);
}

export function parseFingerprint(text: string): string {
  const m = /^\d+\s+(SHA256:[A-Za-z0-9+/]{43})\s/.exec(text);
  if (!m?.[1]) throw new InfraFailure(`ssh-keygen -lf printed no SHA256 fingerprint: ${text.trim()}`);
  return m[1];
}
