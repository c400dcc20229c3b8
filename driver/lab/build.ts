// Builds the lab filter (fgfilter.c) as a kernel module for the lab guest's kernel, under any module
// name: `fgfilter` is ours, another name (e.g. `partnerflt`) stands for a partner vendor's filter in
// coexistence cells. The .ko is cached by source hash + kernel release + name + headers version.
//
// Headers: Debian's linux-headers-<release> must be INSTALLED, not just unpacked (its Makefile includes
// the -common tree by absolute path). This module does not install packages on its own; pass
// `installHeaders: true` (the CLI's `lab driver --install-headers`) to let it run apt-get as root.
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { InfraFailure, UsageError } from '../../lib/errors.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
/** Files whose content defines the module; a change to any of them gives a new cache key. */
const SOURCES = ['fgfilter.c', 'Kbuild'] as const;
/** Module names become C identifiers and sysfs folder names. */
const NAME_RE = /^[a-z][a-z0-9_]{0,30}$/;
/** A Debian kernel release such as 6.1.0-56-cloud-amd64 (also keeps it safe inside paths). */
const RELEASE_RE = /^[0-9]+\.[0-9]+\.[0-9]+-[0-9A-Za-z.+_-]+$/;

export interface LabDriverOptions {
  /** Module name: 'fgfilter' for ours, another lowercase identifier for a partner's stand-in. */
  name: 'fgfilter' | string;
  /** Kernel release of the lab image (its manifest's os.build), e.g. 6.1.0-56-cloud-amd64. */
  kernelRelease: string;
  cacheDir?: string;
  log?: (line: string) => void;
  /** Rebuild even when a cached .ko exists. */
  force?: boolean;
  /** Run `apt-get install -y linux-headers-<release>` when the headers are missing (root only). */
  installHeaders?: boolean;
}

export interface LabDriver {
  /** Absolute path of the cached .ko. */
  path: string;
  name: string;
  sha256: string;
}

export function defaultCacheDir(): string {
  return process.env.FLEETGATE_CACHE ?? path.join(REPO, '.cache');
}

export function headersDir(kernelRelease: string): string {
  return `/usr/src/linux-headers-${kernelRelease}`;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function installedVersion(pkg: string): Promise<string | undefined> {
  const out = await $({ quiet: true, nothrow: true })`dpkg-query -W -f=${'${Status}\t${Version}'} ${pkg}`;
  if (out.exitCode !== 0) return undefined;
  const [status, version] = out.stdout.trim().split('\t');
  return status === 'install ok installed' && version ? version : undefined;
}

async function requireTools(): Promise<void> {
  for (const [tool, pkg] of [
    ['make', 'make'],
    ['gcc', 'gcc'],
    ['dpkg-query', 'dpkg'],
  ] as const) {
    const found = await $({ quiet: true, nothrow: true })`command -v ${tool}`;
    if (found.exitCode !== 0) {
      throw new InfraFailure(`lab driver build needs \`${tool}\`: apt-get install -y ${pkg}`);
    }
  }
}

/** Makes sure linux-headers-<release> is installed; returns its package version. */
async function ensureHeaders(rel: string, install: boolean, log: (l: string) => void): Promise<string> {
  const pkg = `linux-headers-${rel}`;
  let version = await installedVersion(pkg);
  if (version && (await exists(path.join(headersDir(rel), 'Makefile')))) return version;
  const command = `apt-get install -y --no-install-recommends ${pkg}`;
  if (!install) {
    throw new InfraFailure(
      `kernel headers for ${rel} are not installed (unpacking is not enough: their Makefile includes ` +
        `the -common tree by absolute path): run \`${command}\` as root`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new InfraFailure(`kernel headers for ${rel} are missing and installing needs root: run \`${command}\``);
  }
  log(`installing ${pkg}`);
  const out = await $({ quiet: true, nothrow: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -q --no-install-recommends ${pkg}`;
  if (out.exitCode !== 0) {
    throw new InfraFailure(`\`${command}\` failed (exit ${out.exitCode}): ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  version = await installedVersion(pkg);
  if (!version) throw new InfraFailure(`\`${command}\` ran but ${pkg} is still not installed`);
  return version;
}

/** The cache key: everything that decides the bytes of the .ko. */
export async function labDriverKey(name: string, kernelRelease: string, headersVersion: string): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ name, kernelRelease, headersVersion }));
  for (const f of SOURCES) {
    h.update(`\0${f}\0`);
    h.update(await readFile(path.join(HERE, f)));
  }
  return h.digest('hex');
}

export async function buildLabDriver(opts: LabDriverOptions): Promise<LabDriver> {
  const { name, kernelRelease: rel } = opts;
  const log = opts.log ?? (() => {});
  if (!NAME_RE.test(name)) {
    throw new UsageError(`lab driver name ${JSON.stringify(name)}: expected a lowercase identifier ([a-z][a-z0-9_]*, at most 31 characters)`);
  }
  if (!RELEASE_RE.test(rel)) {
    throw new UsageError(`kernel release ${JSON.stringify(rel)}: expected a Debian kernel release such as 6.1.0-56-cloud-amd64`);
  }
  await requireTools();
  const headersVersion = await ensureHeaders(rel, opts.installHeaders ?? false, log);
  const key = await labDriverKey(name, rel, headersVersion);
  const cacheRoot = path.join(opts.cacheDir ?? defaultCacheDir(), 'driver');
  const outDir = path.join(cacheRoot, `${name}-${rel}-${key.slice(0, 16)}`);
  const ko = path.join(outDir, `${name}.ko`);

  if (!opts.force && (await exists(ko))) {
    log(`${name}.ko for ${rel}: cached (${outDir})`);
    return { path: ko, name, sha256: sha256(await readFile(ko)) };
  }

  // Build in a private folder and rename into place: a killed build never leaves a .ko that looks done.
  await mkdir(cacheRoot, { recursive: true });
  const work = path.join(cacheRoot, `.build-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(work);
    await copyFile(path.join(HERE, 'Kbuild'), path.join(work, 'Kbuild'));
    await copyFile(path.join(HERE, 'fgfilter.c'), path.join(work, 'labfilter.c'));
    log(`building ${name}.ko against ${headersDir(rel)}`);
    const out = await $({ quiet: true, nothrow: true })`make -C ${headersDir(rel)} M=${work} LABMOD=${name} modules`;
    if (out.exitCode !== 0) {
      // A compile error in our own source is ours to fix, but from the harness's side the build
      // machinery failed: report it as infrastructure with the compiler's last lines.
      throw new InfraFailure(
        `building ${name}.ko for ${rel} failed (make exit ${out.exitCode}):\n${(out.stdout + out.stderr).trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    const built = path.join(work, `${name}.ko`);
    if (!(await exists(built))) throw new InfraFailure(`make succeeded but produced no ${name}.ko in ${work}`);
    await writeFile(path.join(work, 'key'), `${key}\n`);
    // Keep only what callers need: the .ko and its key.
    const staged = `${work}.out`;
    await mkdir(staged);
    await rename(built, path.join(staged, `${name}.ko`));
    await rename(path.join(work, 'key'), path.join(staged, 'key'));
    await rm(outDir, { recursive: true, force: true });
    await rename(staged, outDir);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(`${work}.out`, { recursive: true, force: true });
  }
  const sha = sha256(await readFile(ko));
  log(`${name}.ko built: ${ko} sha256 ${sha}`);
  return { path: ko, name, sha256: sha };
}
