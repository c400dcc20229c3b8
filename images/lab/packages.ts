// Debian packages that go into the lab guest: resolved to exact versions with apt-cache, fetched with
// `apt-get download` into a download cache, unpacked with `dpkg-deb -x` (nothing is installed).
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { sweepDeadTemps, tempName } from '../../lib/cache-lock.ts';
import { InfraFailure } from '../../lib/errors.ts';
import { sh, tail } from './tools.ts';

/** The metapackage that names the current cloud kernel; resolved to its versioned image package. */
export const KERNEL_META = 'linux-image-cloud-amd64';
/** Userland fetched as .debs (shared libraries come from the host, see initramfs.ts). */
export const USERLAND_PACKAGES = ['busybox-static', 'openssh-server', 'openssh-sftp-server'] as const;

export interface ResolvedPackage {
  name: string;
  version: string;
}

export interface ResolvedLabPackages {
  /** e.g. 6.1.0-56-cloud-amd64 */
  kernelRelease: string;
  kernel: ResolvedPackage;
  userland: ResolvedPackage[];
}

const APT_HINT = 'run `apt-get update` (and check the Debian mirror is reachable)';

/**
 * apt-cache options pointing its binary package cache into our cache folder. Docker-style Debian
 * images turn that cache off (Dir::Cache::pkgcache ""), which makes every apt-cache call re-parse
 * all package lists (~1.5 s); apt checks the cache against the lists, so a stale one is rebuilt.
 */
function aptCacheOpts(cacheDir: string | undefined): string[] {
  if (!cacheDir) return [];
  const dir = path.join(cacheDir, 'apt');
  return ['-o', `Dir::Cache::pkgcache=${dir}/pkgcache.bin`, '-o', `Dir::Cache::srcpkgcache=${dir}/srcpkgcache.bin`];
}

async function aptCache(cacheDir: string | undefined, args: string[]) {
  if (cacheDir) await mkdir(path.join(cacheDir, 'apt'), { recursive: true });
  return sh({ nothrow: true })`apt-cache ${aptCacheOpts(cacheDir)} ${args}`;
}

/**
 * The candidate `linux-image-cloud-amd64`'s linux-image-<release> dependency, from `apt-cache show`
 * (a third faster than `apt-cache depends`). The headers metapackage resolves the same way.
 */
export async function resolveKernelRelease(meta = KERNEL_META, cacheDir?: string): Promise<string> {
  const out = await aptCache(cacheDir, ['show', '--no-all-versions', meta]);
  if (out.exitCode !== 0) {
    throw new InfraFailure(`apt-cache show ${meta} failed: ${tail(out.stderr)}; ${APT_HINT}`);
  }
  return parseKernelDepends(out.stdout, meta);
}

/** `Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)` → `6.1.0-56-cloud-amd64`. */
export function parseKernelDepends(text: string, meta = KERNEL_META): string {
  const kind = meta.startsWith('linux-headers-') ? 'headers' : 'image';
  const m = new RegExp(`^Depends:.*?\\blinux-${kind}-(\\d[^\\s,(]*)`, 'm').exec(text);
  if (!m?.[1]) throw new InfraFailure(`apt-cache show ${meta}: no linux-${kind}-<release> dependency; ${APT_HINT}`);
  return m[1];
}

/** Candidate versions from one `apt-cache policy` call; throws naming the packages apt does not know. */
export async function candidateVersions(names: string[], cacheDir?: string): Promise<Map<string, string>> {
  const out = await aptCache(cacheDir, ['policy', ...names]);
  if (out.exitCode !== 0) throw new InfraFailure(`apt-cache policy failed: ${tail(out.stderr)}; ${APT_HINT}`);
  const found = parsePolicy(out.stdout);
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) throw new InfraFailure(`apt has no candidate for ${missing.join(', ')}; ${APT_HINT}`);
  return found;
}

export function parsePolicy(text: string): Map<string, string> {
  const versions = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+?)(?::\w+)?:\s*$/.exec(line);
    if (head?.[1]) {
      current = head[1];
      continue;
    }
    const cand = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (cand?.[1] && current && cand[1] !== '(none)') versions.set(current, cand[1]);
  }
  return versions;
}

/** Resolves the kernel and userland to exact versions; `cacheDir` holds apt-cache's binary cache. */
export async function resolveLabPackages(cacheDir?: string): Promise<ResolvedLabPackages> {
  const kernelRelease = await resolveKernelRelease(KERNEL_META, cacheDir);
  const kernelPkg = `linux-image-${kernelRelease}`;
  const versions = await candidateVersions([kernelPkg, ...USERLAND_PACKAGES], cacheDir);
  const pick = (name: string): ResolvedPackage => ({ name, version: versions.get(name) as string });
  return { kernelRelease, kernel: pick(kernelPkg), userland: USERLAND_PACKAGES.map(pick) };
}

/** apt-get download's file name prefix: the epoch colon is written %3a. */
export function debPrefix(p: ResolvedPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_`;
}

/** The cached .deb for this exact version, if present. */
export async function cachedDeb(debDir: string, p: ResolvedPackage): Promise<string | undefined> {
  let entries: string[];
  try {
    entries = await readdir(debDir);
  } catch {
    return undefined;
  }
  const prefix = debPrefix(p);
  const hit = entries.find((e) => e.startsWith(prefix) && e.endsWith('.deb'));
  return hit ? path.join(debDir, hit) : undefined;
}

/** Returns the cached .deb, downloading it first when missing (into a temp folder, then renamed). */
export async function fetchDeb(debDir: string, p: ResolvedPackage, log: (l: string) => void): Promise<string> {
  const have = await cachedDeb(debDir, p);
  if (have) return have;
  await mkdir(debDir, { recursive: true });
  await sweepDeadTemps(debDir, ['dl']);
  // Unique per download, not per process: two downloads in one process never share a folder.
  const tmp = path.join(debDir, tempName('dl', `-${p.name}`));
  await mkdir(tmp);
  try {
    log(`downloading ${p.name} ${p.version}`);
    // Sandbox user root: the _apt user cannot write into a cache folder owned by root.
    const out = await sh({ cwd: tmp, nothrow: true })`apt-get download -q -o APT::Sandbox::User=root ${`${p.name}=${p.version}`}`;
    if (out.exitCode !== 0) {
      throw new InfraFailure(`apt-get download ${p.name}=${p.version} failed: ${tail(out.stderr)}; ${APT_HINT}`);
    }
    const files = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
    if (files.length !== 1 || !files[0]) throw new InfraFailure(`apt-get download ${p.name} left ${files.length} .deb files`);
    // apt-get download writes the whole file before it exits; the rename puts it in place at once.
    const dest = path.join(debDir, files[0]);
    await rename(path.join(tmp, files[0]), dest);
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export async function unpackDeb(deb: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const out = await sh({ nothrow: true })`dpkg-deb -x ${deb} ${dir}`;
  if (out.exitCode !== 0) throw new InfraFailure(`dpkg-deb -x ${path.basename(deb)} failed: ${tail(out.stderr)}`);
}

export async function fileExists(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian package versions owning the given files (for the manifest), best effort. */
export async function owningPackages(files: string[]): Promise<Record<string, string>> {
  if (files.length === 0) return {};
  // With merged /usr, ldd's /lib/... path may be known to dpkg as /usr/lib/... or the other way round.
  const variants = files.flatMap((f) => [f, f.startsWith('/usr/') ? f.slice(4) : `/usr${f}`]);
  const out = await sh({ nothrow: true })`dpkg -S ${variants}`;
  const names = new Set<string>();
  for (const line of out.stdout.split('\n')) {
    const m = /^([^\s:,]+)(?::[\w-]+)?(?:,[^:]*)?:\s/.exec(line);
    if (m?.[1] && !line.startsWith('diversion')) names.add(m[1]);
  }
  if (names.size === 0) return {};
  const q = await sh({ nothrow: true })`dpkg-query -W -f=${'${Package}\t${Version}\n'} ${[...names]}`;
  const result: Record<string, string> = {};
  for (const line of q.stdout.split('\n')) {
    const [name, version] = line.split('\t');
    if (name && version) result[name] = version;
  }
  return result;
}
