// Files on an NTFS volume read without mounting it: ntfs-3g's ntfsls lists a folder, ntfscat copies a
// file out (both with --force, because a volume Windows crashed on is left marked dirty, and both
// read-only). The volume is a partition copied out of the disk (image-tools.ts). ntfs-3g looks names
// up case-sensitively while Windows does not, so a Windows path is resolved one folder at a time,
// matching each name without regard to case, the way Windows would.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { InfraFailure, InputError } from '../../../../lib/errors.ts';
import { runTool } from './image-tools.ts';

/** Entries of one folder listing believed (System32 holds about 5,000 on Windows 11). */
export const NTFS_MAX_DIR_ENTRIES = 100_000;

export interface NtfsEntry {
  readonly name: string;
  readonly dir: boolean;
  readonly sizeBytes: number;
  /** Last written, UTC, to the minute (what ntfsls prints). */
  readonly modified: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// ntfsls -l: "%8lld %s %s" with the time as strftime "%b %e %H:%M %Y", then the name; -F adds "/" to folders.
const LINE = /^ *(\d{1,20}) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d) (\d{4}) (.+)$/;

/** Reads ntfsls -F -l output. `where` names the volume and folder in errors. */
export function parseNtfsLs(where: string, text: string): NtfsEntry[] {
  const out: NtfsEntry[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '') continue;
    const m = LINE.exec(line);
    if (!m) throw new InputError({ file: where, line: lineNo }, `ntfsls printed ${JSON.stringify(line.slice(0, 120))}; expected "SIZE Mon DD HH:MM YYYY NAME"`);
    const month = MONTHS.indexOf(m[2]!);
    if (month < 0) throw new InputError({ file: where, line: lineNo }, `ntfsls printed month ${JSON.stringify(m[2])}; expected Jan..Dec`);
    let name = m[7]!;
    const dir = name.endsWith('/');
    if (dir) name = name.slice(0, -1);
    if (name === '.' || name === '..') continue;
    const modified = `${m[6]}-${String(month + 1).padStart(2, '0')}-${m[3]!.padStart(2, '0')}T${m[4]}:${m[5]}Z`;
    out.push({ name, dir, sizeBytes: Number(m[1]), modified });
    if (out.length > NTFS_MAX_DIR_ENTRIES) throw new InputError({ file: where }, `more than NTFS_MAX_DIR_ENTRIES (${NTFS_MAX_DIR_ENTRIES}) entries in one folder; a corrupt volume, not a folder Windows makes`);
  }
  return out;
}

/** `C:\Windows\Minidump` → `['Windows', 'Minidump']` (the drive is the volume itself). */
export function windowsPathParts(winPath: string): string[] {
  const m = /^(?:[A-Za-z]:)?[\\/](.*)$/.exec(winPath);
  if (!m) throw new InputError({ file: winPath }, 'expected an absolute Windows path such as C:\\Windows\\MEMORY.DMP');
  const parts = m[1]!.split(/[\\/]+/).filter(Boolean);
  if (parts.some((p) => p === '.' || p === '..')) throw new InputError({ file: winPath }, 'a path with . or .. in it; expected a plain absolute path');
  return parts;
}

export class NtfsVolume {
  private readonly listings = new Map<string, NtfsEntry[] | null>();
  /** `volume`: the partition as a file; `label`: how errors name it (the disk and partition). */
  constructor(
    readonly volume: string,
    readonly label: string,
  ) {}

  /** The folder's entries by its exact NTFS path (`/` or `/Windows`), or null when there is no such folder. */
  async list(ntfsPath: string): Promise<NtfsEntry[] | null> {
    if (this.listings.has(ntfsPath)) return this.listings.get(ntfsPath)!;
    const r = await runTool('ntfsls', ['-f', '-F', '-l', '-p', ntfsPath, this.volume], { timeoutMs: 120_000, pkg: 'ntfs-3g' });
    let entries: NtfsEntry[] | null;
    if (r.code === 0) entries = parseNtfsLs(`${this.label}:${ntfsPath}`, r.stdout);
    else if (/Failed to mount|NTFS signature is missing|not a valid NTFS/i.test(r.stderr)) throw new InputError({ file: this.label }, `not an NTFS volume ntfs-3g can read: ${r.stderr.trim().split('\n')[0]}`);
    else entries = null; // ntfsls exits non-zero, silently, for a path that is not there
    this.listings.set(ntfsPath, entries);
    return entries;
  }

  /** Resolves a Windows path name by name, without regard to case: the exact NTFS path and its entry, or null. */
  async resolve(winPath: string): Promise<{ path: string; entry: NtfsEntry } | null> {
    const parts = windowsPathParts(winPath);
    let dir = '/';
    let entry: NtfsEntry | undefined;
    for (const [i, part] of parts.entries()) {
      const entries = await this.list(dir);
      if (!entries) return null;
      const want = part.toLowerCase();
      entry = entries.find((e) => e.name === part) ?? entries.find((e) => e.name.toLowerCase() === want);
      if (!entry) return null;
      if (i < parts.length - 1 && !entry.dir) return null;
      dir = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
    }
    return entry ? { path: dir, entry } : { path: '/', entry: { name: '', dir: true, sizeBytes: 0, modified: '' } };
  }

  /** Copies a file out to `dest`, at most `maxBytes` of it; the bytes written and their SHA-256. */
  copyOut(ntfsPath: string, dest: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<{ bytes: number; sha256: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ntfscat', ['-f', this.volume, ntfsPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
      const out = createWriteStream(dest);
      const hash = createHash('sha256');
      let bytes = 0;
      let stderr = '';
      let cut = false;
      child.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 4096) stderr += d.toString('utf8');
      });
      child.stdout.on('data', (d: Buffer) => {
        if (cut) return;
        const room = maxBytes - bytes;
        const part = d.length > room ? d.subarray(0, room) : d;
        bytes += part.length;
        hash.update(part);
        if (!out.write(part)) {
          child.stdout.pause();
          out.once('drain', () => child.stdout.resume());
        }
        if (bytes >= maxBytes) {
          cut = true;
          child.kill('SIGTERM');
        }
      });
      child.on('error', (err) => {
        out.destroy();
        reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new InfraFailure('ntfscat is not installed (Debian package ntfs-3g); reading a disk offline needs it') : err);
      });
      child.on('close', (code) => {
        out.end(() => {
          if (code !== 0 && !cut) reject(new InputError({ file: `${this.label}:${ntfsPath}` }, `ntfscat cannot read the file (exit ${code}): ${stderr.trim().split('\n')[0] ?? ''}`));
          else resolve({ bytes, sha256: hash.digest('hex') });
        });
      });
    });
  }
}
