// Reads a driver package folder: the INF (parsed), every file with its size and SHA-256, and the static
// checks. The one place in driver/package that touches the file system.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError } from '../../lib/errors.ts';
import { checkPackage, mainService, type PackageCheck } from './checks.ts';
import { parseInf, type ParsedInf } from './inf.ts';

/**
 * Files that stand in for binaries this repository cannot build (no WDK, no signing) start with this
 * marker. They are reported as placeholders so nobody mistakes them for a real build.
 */
export const PLACEHOLDER_MARKER = 'FLEETGATE-PLACEHOLDER';

export interface PackageFile {
  /** Relative to the package folder, `/`-separated. */
  path: string;
  bytes: number;
  sha256: string;
  placeholder: boolean;
}

export interface DriverPackage {
  folder: string;
  /** Relative path of the INF. */
  infPath: string;
  inf: ParsedInf;
  files: PackageFile[];
  checks: PackageCheck[];
  /** Service name, binary and altitude of the main service, for the lifecycle callers. */
  service: { name: string; binary: string | null; altitude: string | null; loadOrderGroup: string | null } | null;
  /** True when any file is a placeholder: such a package cannot be installed on Windows. */
  placeholder: boolean;
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const ent of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    // A symbolic link counts as what it points to (a package that shares files with another).
    const kind = ent.isSymbolicLink() ? statSync(path.join(root, r), { throwIfNoEntry: false }) : ent;
    if (kind?.isDirectory()) out.push(...listFiles(root, r));
    else if (kind?.isFile()) out.push(r);
  }
  return out;
}

export function isPlaceholder(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, PLACEHOLDER_MARKER.length)).toString('latin1') === PLACEHOLDER_MARKER;
}

export function loadDriverPackage(folder: string): DriverPackage {
  const abs = path.resolve(folder);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new InputError({ file: abs }, 'driver package folder not found');
  }
  if (!isDir) throw new InputError({ file: abs }, 'driver package path is not a folder');

  const files: PackageFile[] = listFiles(abs).map((rel) => {
    const bytes = readFileSync(path.join(abs, rel));
    return { path: rel, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), placeholder: isPlaceholder(bytes) };
  });
  const infs = files.filter((f) => !f.path.includes('/') && f.path.toLowerCase().endsWith('.inf'));
  if (infs.length !== 1) {
    throw new InputError({ file: abs }, infs.length ? `expected one .inf at the top of the package, found ${infs.map((f) => f.path).join(', ')}` : 'no .inf at the top of the package folder');
  }
  const infPath = infs[0]!.path;
  const inf = parseInf(path.join(abs, infPath), readFileSync(path.join(abs, infPath)));
  const checks = checkPackage(inf, files);
  const svc = mainService(inf);
  const defaultInst = svc ? (svc.instances.find((i) => i.name.toLowerCase() === (svc.defaultInstance ?? '').toLowerCase()) ?? svc.instances[0]) : undefined;
  return {
    folder: abs,
    infPath,
    inf,
    files,
    checks,
    service: svc ? { name: svc.name, binary: svc.binaryName, altitude: defaultInst?.altitude ?? null, loadOrderGroup: svc.loadOrderGroup } : null,
    placeholder: files.some((f) => f.placeholder),
  };
}

/** Refuses a package that must not go to a Windows guest: a failed check, or placeholder binaries. */
export function assertInstallable(pkg: DriverPackage): void {
  const failed = pkg.checks.filter((c) => !c.ok);
  if (failed.length) throw new UsageError(`driver package ${pkg.folder} fails ${failed.map((c) => `${c.name} (${c.explanation})`).join('; ')}`);
  const ph = pkg.files.filter((f) => f.placeholder);
  if (ph.length) throw new UsageError(`driver package ${pkg.folder} holds placeholder files (${ph.map((f) => f.path).join(', ')}), not real signed binaries: put the release build in the package before installing`);
}
