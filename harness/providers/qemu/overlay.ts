// Each VM writes to its own qcow2 overlay over the image's base disk, so the base stays pristine
// and a clean VM for the next cell costs one small file.
import { execFile } from 'node:child_process';
import { access, constants, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { InfraFailure } from '../../../lib/errors.ts';

const run = promisify(execFile);

export const QEMU_IMG = 'qemu-img';

export interface OverlayRequest {
  /** The image's base disk (made absolute here: a relative backing path would resolve against the overlay). */
  readonly base: string;
  readonly baseFormat: 'qcow2' | 'vhdx' | 'raw';
  readonly overlay: string;
}

export function overlayArgs(r: OverlayRequest): string[] {
  return ['create', '-q', '-f', 'qcow2', '-F', r.baseFormat, '-b', path.resolve(r.base), r.overlay];
}

export async function createOverlay(r: OverlayRequest, qemuImg = QEMU_IMG): Promise<string> {
  try {
    await access(r.base, constants.R_OK);
  } catch (err) {
    throw new InfraFailure(`base disk ${r.base} is not readable: ${(err as Error).message}`, { cause: err });
  }
  await rm(r.overlay, { force: true });
  try {
    await run(qemuImg, overlayArgs(r), { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `${qemuImg} is not installed (Debian: qemu-utils)` : (e.stderr ?? e.message).trim();
    throw new InfraFailure(`creating overlay ${r.overlay} over ${r.base}: ${why}`, { cause: err });
  }
  return r.overlay;
}
