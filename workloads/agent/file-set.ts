// The files a step works on: names, sizes and contents are functions of the file's index, so steps of
// one workload (create, then open, then delete) agree on the set without sharing state, and two runs
// of a workload touch the same names and bytes.
import { isAbsolute, join, resolve } from 'node:path';
import type { FileSize, StepSpec } from './protocol.ts';

export interface FileSet {
  dir: string;
  files: number;
  subdirs: number;
  /** Subdirectory paths (empty when the set is flat). */
  subdirPaths: string[];
  path(i: number): string;
  size(i: number): number;
  maxSize: number;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** A 32-bit integer hash (from Chris Wellons' "prospecting for hash functions"): cheap and well mixed. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export function sizeOf(fileSize: FileSize, i: number): number {
  if (typeof fileSize === 'number') return fileSize;
  const span = fileSize.max - fileSize.min + 1;
  return fileSize.min + (mix32(i) % span);
}

export function resolveDir(root: string, dir: string): string {
  return isAbsolute(dir) ? dir : resolve(root, dir);
}

export function fileSet(step: StepSpec, root: string): FileSet {
  const dir = resolveDir(root, step.dir);
  const subdirPaths = Array.from({ length: step.subdirs }, (_, j) => join(dir, `d${pad(j, 3)}`));
  const flat = step.subdirs === 0;
  return {
    dir,
    files: step.files,
    subdirs: step.subdirs,
    subdirPaths,
    path: (i) => {
      const f = i % step.files;
      return join(flat ? dir : subdirPaths[f % step.subdirs]!, `f${pad(f, 6)}.dat`);
    },
    size: (i) => sizeOf(step.fileSize, i % step.files),
    maxSize: typeof step.fileSize === 'number' ? step.fileSize : step.fileSize.max,
  };
}

/** Bytes to write: a repeating, non-zero pattern (a sparse or all-zero file could be special-cased by a
 * file system or filter). */
export function contentBuffer(size: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(1, size));
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}
