// Builds the lab filter (fgfilter.c) as a kernel module for the lab guest's kernel, under any module
// name: `fgfilter` is ours, another name (e.g. `partnerflt`) stands for a partner vendor's filter in
// coexistence cells. The .ko is cached by source hash + kernel release + name + headers version.
//
// Headers: Debian's linux-headers-<release> must be INSTALLED, not just unpacked (its Makefile includes
// the -common tree by absolute path). This module does not install packages on its own; pass
// `installHeaders: true` (the CLI's `lab driver --install-headers`) to let it run apt-get as root.
//
// Which failure is whose: a missing toolchain or missing headers is the host's (InfraFailure); the
// compiler or modpost rejecting our source for a release's headers is the driver's own
// (LabDriverRejected: the cell's install-failure, with the compiler's words as evidence).
//
// Single-flight (lib/cache-lock.ts): callers in one process share one build of a given .ko; across
// processes the builder holds <cacheDir>/driver/<name>-<release>-<key>.lock. The .ko is renamed
// into its folder whole, so a reader never sees half of one, and a cached .ko is never removed.
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { singleFlight, sweepDeadTemps, tempName, withCacheLock } from '../../lib/cache-lock.ts';
import { EXIT, FleetgateError, InfraFailure, UsageError } from '../../lib/errors.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
/** The lab filter's own source: what a build without another package's source compiles. */
const DEFAULT_SOURCE = path.join(HERE, 'fgfilter.c');
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
  /** The C source to build (a lab driver package's source, driver/lab/package.ts); default driver/lab/fgfilter.c. */
  source?: string;
}

/**
 * The compiler (or modpost) rejected the module's source for this kernel's headers: the driver's own
 * failure on that release, not the host's. `output` is the build's own words (its last lines).
 */
export class LabDriverRejected extends FleetgateError {
  constructor(
    readonly module: string,
    readonly kernelRelease: string,
    readonly output: string,
  ) {
    super(`${module}.ko does not build for ${kernelRelease}:\n${output}`, EXIT.productFailure);
  }
}

/** Lines by which make's output shows that our source, not the build machinery, was refused. */
const REJECTED_RE = /^(?:[^\s:]*labfilter\.c:\d+(?::\d+)?: (?:fatal )?error:|ERROR: modpost: )/m;

/** Is this failed make's output the compiler rejecting our source (rather than the host failing)? */
export function sourceRejected(output: string): boolean {
  return REJECTED_RE.test(output);
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
export async function labDriverKey(name: string, kernelRelease: string, headersVersion: string, source: string = DEFAULT_SOURCE): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ name, kernelRelease, headersVersion }));
  // The source's bytes (wherever it lives) and the Kbuild it is built with: a change to either, a new key.
  for (const [label, file] of [['source', source], ['Kbuild', path.join(HERE, 'Kbuild')]] as const) {
    h.update(`\0${label}\0`);
    h.update(await readFile(file));
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
  const cacheRoot = path.resolve(opts.cacheDir ?? defaultCacheDir(), 'driver');
  const source = path.resolve(opts.source ?? DEFAULT_SOURCE);
  return singleFlight(`lab-driver\0${cacheRoot}\0${name}\0${rel}\0${source}\0${opts.force ? 'force' : ''}`, async () => {
    await requireTools();
    const headersVersion = await ensureHeaders(rel, opts.installHeaders ?? false, log);
    const key = await labDriverKey(name, rel, headersVersion, source);
    const outName = `${name}-${rel}-${key.slice(0, 16)}`;
    const outDir = path.join(cacheRoot, outName);
    const ko = path.join(outDir, `${name}.ko`);
    const cached = async (): Promise<LabDriver | undefined> => {
      if (opts.force || !(await exists(ko))) return undefined;
      log(`${name}.ko for ${rel}: cached (${outDir})`);
      return { path: ko, name, sha256: sha256(await readFile(ko)) };
    };
    const hit = await cached();
    if (hit) return hit;
    await mkdir(cacheRoot, { recursive: true });
    return withCacheLock(path.join(cacheRoot, `${outName}.lock`), `building ${name}.ko for ${rel}`, async () => {
      // Another process may have built it while we waited for the lock.
      const built = await cached();
      if (built) return built;
      await sweepDeadTemps(cacheRoot, ['build']);
      return compile(opts, { key, outDir, ko, log, source });
    }, { log });
  });
}

async function compile(opts: LabDriverOptions, o: { key: string; outDir: string; ko: string; log: (l: string) => void; source: string }): Promise<LabDriver> {
  const { name, kernelRelease: rel } = opts;
  const { key, outDir, ko, log, source } = o;
  // Build in a private folder; the .ko is renamed into place whole, so a killed build never leaves a
  // .ko that looks done, and a .ko another VM is being sent is replaced, never truncated.
  const work = path.join(path.dirname(outDir), tempName('build', `-${name}`));
  try {
    await mkdir(work);
    await copyFile(path.join(HERE, 'Kbuild'), path.join(work, 'Kbuild'));
    await copyFile(source, path.join(work, 'labfilter.c'));
    log(`building ${name}.ko from ${source} against ${headersDir(rel)}`);
    const out = await $({ quiet: true, nothrow: true })`make -C ${headersDir(rel)} M=${work} LABMOD=${name} modules`;
    if (out.exitCode !== 0) {
      const text = (out.stdout + out.stderr).trim();
      const lastLines = text.split('\n').slice(-15).join('\n');
      if (sourceRejected(text)) throw new LabDriverRejected(name, rel, lastLines);
      throw new InfraFailure(`building ${name}.ko for ${rel} failed (make exit ${out.exitCode}):\n${lastLines}`);
    }
    const built = path.join(work, `${name}.ko`);
    if (!(await exists(built))) throw new InfraFailure(`make succeeded but produced no ${name}.ko in ${work}`);
    await mkdir(outDir, { recursive: true });
    const keyTmp = path.join(outDir, tempName('key'));
    await writeFile(keyTmp, `${key}\n`);
    await rename(keyTmp, path.join(outDir, 'key'));
    await rename(built, ko);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const sha = sha256(await readFile(ko));
  log(`${name}.ko built: ${ko} sha256 ${sha}`);
  return { path: ko, name, sha256: sha };
}
