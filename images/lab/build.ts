// The Linux lab guest builder: Debian's cloud kernel + a busybox/sshd initramfs + a base disk holding
// an ext4 data partition and a read-only ext4 partition with Node.js (see disk.ts), cached by a hash
// of its inputs under <cacheDir>/lab/<inputsHash>/ with a manifest.json.
//
//   node --import tsx images/lab/build.ts [--force]     (or: fleetgate lab build)
//
// Inputs hashed: resolved Debian package versions, this folder's sources (init script included), the
// node binary and every shared library copied from the host. Same inputs: the cached image is returned
// at once; `force` rebuilds. A build happens in a temp folder renamed into place at the end, so a
// killed build never leaves a folder that looks complete.
//
// Single-flight (lib/cache-lock.ts): concurrent callers in one process share one build; across
// processes the builder holds <cacheDir>/lab/build.lock, so a second `fleetgate run` (or `npm test`
// beside a run) waits and then takes the finished image from the cache; a dead builder's lock is
// taken over. Every caller gets a lease on the image folder for the rest of its life: `force` refuses
// to replace an image another live process uses (its VMs boot from those files and pin its host key).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropLease, leaseDir, liveLeases, singleFlight, sweepDeadTemps, tempName, withCacheLock } from '../../lib/cache-lock.ts';
import { FleetgateError, InfraFailure } from '../../lib/errors.ts';
import { MANIFEST_FILE, MANIFEST_SCHEMA, type ImageFile, type ImageManifest } from '../manifest.ts';
import { LAB_APPEND, LAB_DISK_MIB, LAB_MACHINE } from './boot-args.ts';
import { makeLabDisk } from './disk.ts';
import {
  DATA_DEVICE,
  DATA_MOUNT,
  GUEST_ADDRESS,
  GUEST_NODE,
  GUEST_NODE_LINKS,
  GUEST_SFTP,
  GUEST_SSHD_LOG,
  OPT_DEVICE,
  OPT_MOUNT,
  READY_LINE,
  renderInit,
} from './guest-files.ts';
import { assembleRoot, INITRD_COMPRESSION, libraryClosure, moduleLoadOrder, packInitramfs } from './initramfs.ts';
import { fingerprint, makeEd25519 } from './keys.ts';
import {
  cachedDeb,
  fetchDeb,
  fileExists,
  owningPackages,
  resolveLabPackages,
  unpackDeb,
  type ResolvedLabPackages,
  type ResolvedPackage,
} from './packages.ts';
import { requireTools, sh, tail } from './tools.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

export const LAB_FILES = {
  kernel: 'vmlinuz',
  initrd: 'initrd.img',
  disk: 'disk.qcow2',
  clientKey: 'id_ed25519',
  clientKeyPub: 'id_ed25519.pub',
  hostKeyPub: 'ssh_host_ed25519_key.pub',
  knownHosts: 'known_hosts',
} as const;

/** Host-key alias in known_hosts (`ssh -o HostKeyAlias=fleetgate-lab`), whatever port is forwarded. */
export const LAB_HOST_ALIAS = 'fleetgate-lab';

/** The lab manifest: an ImageManifest plus what the provider and the linux personality rely on. */
export interface LabManifest extends ImageManifest {
  guest: {
    /** Serial console line printed once sshd listens. */
    readyLine: string;
    /** Writable ext4 partition (dataDevice) mounted here; survives a guest reboot within one VM. */
    dataMount: string;
    /** `/dev/vda1`: the data partition of the cell's disk (it was the whole `/dev/vda` before). */
    dataDevice: string;
    /** Read-only ext4 partition of the base disk with the tools (Node.js); clean in every cell. */
    opt: { device: string; mount: string; readOnly: true };
    address: { ip: string; prefix: number; gateway: string };
    sshPort: number;
    sshdLog: string;
    sftpServer: string;
    /**
     * The in-guest agent's Node.js: the build host's binary (+ its ldd libraries) on the `opt`
     * partition; `path` is the binary there, `links` are symlinks to it on sshd's PATH (`node` works).
     */
    node: { path: string; links: string[]; version: string; source: 'host'; hostPath: string; sha256: string };
    /** Modules /init loads, in order, relative to /lib/modules/<release>/. */
    bootModules: string[];
  };
}

export interface LabBuildOptions {
  cacheDir?: string;
  force?: boolean;
  log?: (line: string) => void;
}

export interface LabBuildResult {
  dir: string;
  manifest: LabManifest;
  /** True when the image came from the cache without building. */
  cached: boolean;
  seconds: number;
}

/** Everything that decides the image's content; its hash names the cache folder. */
export interface LabInputs {
  packages: Record<string, string>;
  kernelRelease: string;
  sources: Record<string, string>;
  node: { path: string; version: string; sha256: string };
  libs: Record<string, string>;
  modules: string[] | null;
  init: string | null;
  append: string;
  machine: typeof LAB_MACHINE;
  diskMiB: number;
  /** Where things go (which partition holds node, how the initramfs is packed): a new layout, a new hash. */
  layout: typeof LAB_LAYOUT;
}

/** The image's layout, hashed into the inputs. */
export const LAB_LAYOUT = {
  initrdCompression: INITRD_COMPRESSION,
  disk: { data: DATA_DEVICE, opt: OPT_DEVICE },
  optMount: OPT_MOUNT,
  node: GUEST_NODE,
} as const;

export function defaultCacheDir(): string {
  return process.env.FLEETGATE_CACHE ?? path.join(REPO, '.cache');
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function hashInputs(inputs: LabInputs): string {
  return createHash('sha256').update(stableJson(inputs)).digest('hex');
}

/** JSON with sorted keys, so the hash does not depend on property order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The builder's own sources (tests excluded): editing the builder or the init script gives a new hash. */
async function sourceHashes(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(HERE)).sort()) {
    if (f.endsWith('.ts') && !f.endsWith('.test.ts')) out[f] = await sha256File(path.join(HERE, f));
  }
  return out;
}

interface Prepared {
  resolved: ResolvedLabPackages;
  inputs: LabInputs;
  hash: string;
  scratch: string;
  trees: { busybox: string; sshd: string; sftp: string };
  debs: Map<string, string>;
  /** Libraries only node needs (they go to the opt partition); inputs.libs holds every library. */
  nodeLibs: string[];
}

function pkgList(r: ResolvedLabPackages): ResolvedPackage[] {
  return [r.kernel, ...r.userland];
}

/**
 * Resolves versions and computes the inputs hash. With `download`, missing .debs are fetched;
 * without, returns undefined when one is missing (the status check never downloads). The small
 * userland .debs are unpacked into `scratch` because ldd needs sshd to list its libraries.
 */
async function prepare(cacheDir: string, scratch: string, download: boolean, log: (l: string) => void): Promise<Prepared | undefined> {
  // Hash the node binary (~100 MB) while apt-cache works.
  const nodePath = process.execPath;
  const nodeHash = sha256File(nodePath);
  nodeHash.catch(() => {});
  const resolved = await resolveLabPackages(cacheDir);
  const debDir = path.join(cacheDir, 'debs');
  const debs = new Map<string, string>();
  for (const p of pkgList(resolved)) {
    const deb = download ? await fetchDeb(debDir, p, log) : await cachedDeb(debDir, p);
    if (!deb) return undefined;
    debs.set(p.name, deb);
  }
  const trees = {
    busybox: path.join(scratch, 'busybox'),
    sshd: path.join(scratch, 'sshd'),
    sftp: path.join(scratch, 'sftp'),
  };
  // busybox-static is unpacked at build time only: it is static, ldd has nothing to say about it.
  await unpackDeb(debs.get('openssh-server') as string, trees.sshd);
  await unpackDeb(debs.get('openssh-sftp-server') as string, trees.sftp);

  const bootLibs = await libraryClosure([path.join(trees.sshd, 'usr/sbin/sshd'), path.join(trees.sftp, GUEST_SFTP)]);
  const nodeLibs = (await libraryClosure([nodePath])).filter((l) => !bootLibs.includes(l));
  const libs = [...bootLibs, ...nodeLibs].sort();
  const libHashes: Record<string, string> = {};
  for (const lib of libs) libHashes[lib] = await sha256File(lib);
  const packages: Record<string, string> = {};
  for (const p of pkgList(resolved)) packages[p.name] = p.version;
  const inputs: LabInputs = {
    packages,
    kernelRelease: resolved.kernelRelease,
    sources: await sourceHashes(),
    node: { path: nodePath, version: process.version, sha256: await nodeHash },
    libs: libHashes,
    // Module order and the rendered /init follow from the kernel package and the sources above;
    // they are recorded in the manifest, not hashed twice.
    modules: null,
    init: null,
    append: LAB_APPEND,
    machine: LAB_MACHINE,
    diskMiB: LAB_DISK_MIB,
    layout: LAB_LAYOUT,
  };
  return { resolved, inputs, hash: hashInputs(inputs), scratch, trees, debs, nodeLibs };
}

export async function readLabManifest(dir: string): Promise<LabManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as LabManifest;
    if (m.schema !== MANIFEST_SCHEMA || m.name !== 'lab') return undefined;
    // Complete only if every file is there at its recorded size (a cheap check; hashes are for tests).
    for (const f of m.files) {
      const s = await stat(path.join(dir, f.path)).catch(() => undefined);
      if (!s || s.size !== f.bytes) return undefined;
    }
    return m;
  } catch {
    return undefined;
  }
}

/** Temp folders of the build (`.tmp-…`), of status checks (`.status-…`) and of the swap (`.old-…`). */
const TEMP_PREFIXES = ['tmp', 'status', 'old'] as const;

async function describeFile(dir: string, rel: string): Promise<ImageFile> {
  const p = path.join(dir, rel);
  return { path: rel, bytes: (await stat(p)).size, sha256: await sha256File(p) };
}

async function buildInto(work: string, prep: Prepared, log: (l: string) => void): Promise<LabManifest> {
  const { resolved, scratch } = prep;
  const rel = resolved.kernelRelease;

  log(`unpacking ${resolved.kernel.name} ${resolved.kernel.version}`);
  await unpackDeb(prep.debs.get('busybox-static') as string, prep.trees.busybox);
  const kernelTree = path.join(scratch, 'kernel');
  await unpackDeb(prep.debs.get(resolved.kernel.name) as string, kernelTree);
  const modules = await moduleLoadOrder(kernelTree, rel);
  log(`boot modules: ${modules.map((m) => path.basename(m, '.ko')).join(' ')}`);
  const initScript = renderInit({ kernelRelease: rel, modules });

  log('generating ssh keys');
  const host = await makeEd25519(path.join(scratch, 'ssh_host_ed25519_key'), 'fleetgate-lab-host');
  const client = await makeEd25519(path.join(work, LAB_FILES.clientKey), 'fleetgate-lab-client');
  await chmod(client.privatePath, 0o600);
  await writeFile(path.join(work, LAB_FILES.hostKeyPub), host.publicKey);
  const hostFingerprint = await fingerprint(path.join(work, LAB_FILES.hostKeyPub));
  const [keyType, keyB64] = host.publicKey.trim().split(/\s+/);
  await writeFile(path.join(work, LAB_FILES.knownHosts), `${LAB_HOST_ALIAS} ${keyType} ${keyB64}\n`);

  log('assembling initramfs and tools tree');
  const root = path.join(scratch, 'root');
  const optRoot = path.join(scratch, 'opt');
  await assembleRoot({
    root,
    optRoot,
    kernelTree,
    kernelRelease: rel,
    modules,
    busyboxTree: prep.trees.busybox,
    sshdTree: prep.trees.sshd,
    sftpTree: prep.trees.sftp,
    nodeBinary: prep.inputs.node.path,
    libs: Object.keys(prep.inputs.libs).filter((l) => !prep.nodeLibs.includes(l)),
    nodeLibs: prep.nodeLibs,
    initScript,
    hostKey: host.privateKey,
    hostKeyPub: host.publicKey,
    clientKeyPub: client.publicKey,
  });
  await packInitramfs(root, path.join(work, LAB_FILES.initrd));
  await rename(path.join(kernelTree, 'boot', `vmlinuz-${rel}`), path.join(work, LAB_FILES.kernel));

  log(`making the base disk: ${LAB_DISK_MIB} MiB ext4 data partition, read-only tools partition`);
  const layout = await makeLabDisk(scratch, path.join(work, LAB_FILES.disk), LAB_DISK_MIB, optRoot);
  const virtualBytes = layout.totalBytes;

  const packages: Record<string, string> = {
    ...(await owningPackages([...Object.keys(prep.inputs.libs), prep.inputs.node.path])),
    ...prep.inputs.packages,
  };
  const files: ImageFile[] = [];
  for (const f of Object.values(LAB_FILES)) files.push(await describeFile(work, f));

  return {
    schema: MANIFEST_SCHEMA,
    name: 'lab',
    os: { family: 'linux', release: 'lab', build: rel, packages },
    boot: { kind: 'kernel', kernel: LAB_FILES.kernel, initrd: LAB_FILES.initrd, append: LAB_APPEND },
    disk: { path: LAB_FILES.disk, format: 'qcow2', virtualBytes },
    machine: { ...LAB_MACHINE },
    ssh: { user: 'root', hostKeyFingerprint: hostFingerprint, clientKey: LAB_FILES.clientKey },
    files,
    inputsHash: prep.hash,
    builtAt: new Date().toISOString(),
    guest: {
      readyLine: READY_LINE,
      dataMount: DATA_MOUNT,
      dataDevice: DATA_DEVICE,
      opt: { device: OPT_DEVICE, mount: OPT_MOUNT, readOnly: true },
      address: { ...GUEST_ADDRESS },
      sshPort: 22,
      sshdLog: GUEST_SSHD_LOG,
      sftpServer: GUEST_SFTP,
      node: {
        path: GUEST_NODE,
        links: [...GUEST_NODE_LINKS],
        version: prep.inputs.node.version,
        source: 'host',
        hostPath: prep.inputs.node.path,
        sha256: prep.inputs.node.sha256,
      },
      bootModules: modules,
    },
  };
}

export async function buildLabImage(opts: LabBuildOptions = {}): Promise<LabBuildResult> {
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  // Callers in this process share one build; a forced build is its own flight (it waits for the
  // lock the plain one holds, then replaces the image).
  const key = `lab-image\0${cacheDir}\0${opts.force ? 'force' : ''}`;
  const r = await singleFlight(key, () => buildLocked(cacheDir, opts));
  await leaseDir(r.dir);
  return r;
}

async function buildLocked(cacheDir: string, opts: LabBuildOptions): Promise<LabBuildResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const labDir = path.join(cacheDir, 'lab');
  await requireTools();
  await mkdir(labDir, { recursive: true });
  return withCacheLock(path.join(labDir, 'build.lock'), 'building the lab image', async () => {
    // Holding the lock, every build folder not ours is a dead builder's.
    await sweepDeadTemps(labDir, TEMP_PREFIXES);
    return buildHoldingLock(cacheDir, labDir, opts, started, log);
  }, { log });
}

async function buildHoldingLock(cacheDir: string, labDir: string, opts: LabBuildOptions, started: number, log: (l: string) => void): Promise<LabBuildResult> {
  const scratch = path.join(labDir, tempName('tmp'));
  await mkdir(scratch);
  try {
    const prep = await prepare(cacheDir, path.join(scratch, 'in'), true, log);
    if (!prep) throw new InfraFailure('lab build: package download left no .deb'); // download=true never returns undefined
    const dir = path.join(labDir, prep.hash);
    log(`inputs hash ${prep.hash.slice(0, 16)} (kernel ${prep.resolved.kernelRelease}, node ${process.version})`);
    const existing = await readLabManifest(dir);
    if (existing && !opts.force) {
      log(`cache hit: ${dir}`);
      return { dir, manifest: existing, cached: true, seconds: (Date.now() - started) / 1000 };
    }
    if (existing) {
      const users = await liveLeases(dir);
      if (users.length) {
        throw new InfraFailure(
          `lab build --force: ${dir} is in use by ${users.map((u) => `pid ${u.pid}`).join(', ')} ` +
            '(their VMs boot from its files and pin its SSH host key); stop them or wait, then build again',
        );
      }
    }
    const work = path.join(scratch, 'image');
    await mkdir(work);
    const manifest = await buildInto(work, prep, log);
    await writeFile(path.join(work, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    // Swap into place: move any old folder aside first (force, or an incomplete one), then rename.
    const old = path.join(labDir, tempName('old'));
    if (await fileExists(dir)) {
      dropLease(dir);
      await rename(dir, old);
    }
    await rename(work, dir);
    await rm(old, { recursive: true, force: true });
    const seconds = (Date.now() - started) / 1000;
    log(`built ${dir} in ${seconds.toFixed(1)} s`);
    return { dir, manifest, cached: false, seconds };
  } catch (err) {
    if (err instanceof FleetgateError) throw err;
    // A tool that ran and failed (zx ProcessOutput) is the host's problem, not the product's.
    const msg = err instanceof Error ? err.message : String(err);
    throw new InfraFailure(`lab image build failed: ${tail(msg, 8)}`, { cause: err });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface LabImageStatus {
  /** 'current': built for today's inputs; 'stale': an older build exists; 'not-built': none. */
  state: 'current' | 'stale' | 'not-built';
  /** Today's inputs hash, when it could be computed without downloading. */
  inputsHash?: string;
  /** The current image, or the newest older one when stale. */
  dir?: string;
  manifest?: LabManifest;
  reason?: string;
}

/** Newest complete lab image in the cache, whatever its inputs. */
export async function latestLabImage(cacheDir = defaultCacheDir()): Promise<{ dir: string; manifest: LabManifest } | undefined> {
  const labDir = path.join(cacheDir, 'lab');
  let best: { dir: string; manifest: LabManifest } | undefined;
  for (const e of await readdir(labDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(e)) continue;
    const dir = path.join(labDir, e);
    const manifest = await readLabManifest(dir);
    if (manifest && (!best || manifest.builtAt > best.manifest.builtAt)) best = { dir, manifest };
  }
  return best;
}

/** Is a lab image built for the current inputs? Never downloads or builds (apt-cache is consulted). */
export async function labImageStatus(opts: { cacheDir?: string } = {}): Promise<LabImageStatus> {
  const cacheDir = path.resolve(opts.cacheDir ?? defaultCacheDir());
  const labDir = path.join(cacheDir, 'lab');
  const latest = await latestLabImage(cacheDir);
  await mkdir(labDir, { recursive: true });
  const scratch = path.join(labDir, tempName('status'));
  try {
    const prep = await prepare(cacheDir, scratch, false, () => {});
    if (!prep) {
      return latest
        ? { state: 'stale', ...latest, reason: 'the current packages are not downloaded yet' }
        : { state: 'not-built', reason: 'no lab image built yet' };
    }
    const dir = path.join(labDir, prep.hash);
    const manifest = await readLabManifest(dir);
    if (manifest) return { state: 'current', inputsHash: prep.hash, dir, manifest };
    return latest
      ? { state: 'stale', inputsHash: prep.hash, ...latest, reason: 'inputs changed since the last build' }
      : { state: 'not-built', inputsHash: prep.hash, reason: 'no lab image built yet' };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// `node --import tsx images/lab/build.ts [--force]`: build and print the image folder.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildLabImage({ force: process.argv.includes('--force'), log: (l) => process.stderr.write(`lab: ${l}\n`) }).then(
    (r) => process.stdout.write(`${r.dir}\n`),
    (err: unknown) => {
      process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = err instanceof FleetgateError ? err.exitCode : 70;
    },
  );
}
