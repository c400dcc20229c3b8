// What one iteration of each operation does. Every operation has an async form (for concurrency > 1:
// N workers over libuv's thread pool or N child processes at once) and, where it exists, a sync form
// used at concurrency 1, because a sync call times the system call itself rather than the trip through
// the thread pool, which under TCG adds noise of the same size as the filter cost we look for.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { contentBuffer, fileSet, resolveDir, type FileSet } from './file-set.ts';
import type { OperationKind, StepSpec } from './protocol.ts';

export interface Operation {
  /** Untimed setup, before warm-up. */
  prepare?(): void | Promise<void>;
  sync?(i: number, scratch: Buffer): void;
  run(i: number, scratch: Buffer): Promise<void>;
  /** The sequence ends here whatever count or duration say (delete: each file once). */
  maxIterations?: number;
  /** Untimed, after the step: leave the file set as the next step expects it. */
  finish?(): void | Promise<void>;
}

export interface OperationContext {
  /** The agent's work root: relative `dir`s resolve against it. */
  root: string;
  platform: NodeJS.Platform;
}

/** An iteration that failed without a Node errno: a child's exit status, a bad archive entry. */
export class IterationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const openP = promisify(fs.open);
const closeP = promisify(fs.close);
const writeP = promisify(fs.write);
const readP = promisify(fs.read);
const fsyncP = promisify(fs.fsync);
const renameP = promisify(fs.rename);
const unlinkP = promisify(fs.unlink);

function writeAllSync(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, off);
}

async function writeAll(fd: number, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) off += (await writeP(fd, data, off, data.length - off, off)).bytesWritten;
}

function writeFileSyncWith(path: string, flags: string, data: Buffer, fsync: boolean): void {
  const fd = fs.openSync(path, flags);
  try {
    writeAllSync(fd, data);
    if (fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function writeFileWith(path: string, flags: string, data: Buffer, fsync: boolean): Promise<void> {
  const fd = await openP(path, flags);
  try {
    await writeAll(fd, data);
    if (fsync) await fsyncP(fd);
  } finally {
    await closeP(fd);
  }
}

function mkdirs(set: FileSet): void {
  fs.mkdirSync(set.dir, { recursive: true });
  for (const d of set.subdirPaths) fs.mkdirSync(d, { recursive: true });
}

function fileOps(step: StepSpec, set: FileSet): Operation {
  const content = contentBuffer(set.maxSize);
  const data = (i: number): Buffer => content.subarray(0, set.size(i));
  switch (step.op) {
    case 'create':
      return {
        prepare: () => mkdirs(set),
        sync: (i) => writeFileSyncWith(set.path(i), 'w', data(i), step.fsync),
        run: (i) => writeFileWith(set.path(i), 'w', data(i), step.fsync),
      };
    case 'write':
      // 'r+': the file must exist (a write to a missing file is an error, not a create), and it is
      // overwritten in place, as an editor's save or a log rotation does.
      return {
        sync: (i) => writeFileSyncWith(set.path(i), 'r+', data(i), step.fsync),
        run: (i) => writeFileWith(set.path(i), 'r+', data(i), step.fsync),
      };
    case 'open':
      return {
        sync: (i) => fs.closeSync(fs.openSync(set.path(i), 'r')),
        run: async (i) => closeP(await openP(set.path(i), 'r')),
      };
    case 'read':
      return {
        sync: (i, scratch) => {
          const fd = fs.openSync(set.path(i), 'r');
          try {
            while (fs.readSync(fd, scratch, 0, scratch.length, null) > 0);
          } finally {
            fs.closeSync(fd);
          }
        },
        run: async (i, scratch) => {
          const fd = await openP(set.path(i), 'r');
          try {
            while ((await readP(fd, scratch, 0, scratch.length, null)).bytesRead > 0);
          } finally {
            await closeP(fd);
          }
        },
      };
    case 'rename': {
      // Back and forth: even rounds over the set rename f → f.renamed, odd rounds rename it back, so any
      // count works; finish() puts every file back under its own name for the steps that follow.
      const pair = (i: number): [string, string] => {
        const p = set.path(i);
        return Math.floor(i / set.files) % 2 === 0 ? [p, `${p}.renamed`] : [`${p}.renamed`, p];
      };
      return {
        sync: (i) => fs.renameSync(...pair(i)),
        run: (i) => renameP(...pair(i)),
        finish: () => {
          for (let f = 0; f < set.files; f++) {
            const p = set.path(f);
            if (!fs.existsSync(p) && fs.existsSync(`${p}.renamed`)) fs.renameSync(`${p}.renamed`, p);
          }
        },
      };
    }
    case 'delete':
      return {
        sync: (i) => fs.unlinkSync(set.path(i)),
        run: (i) => unlinkP(set.path(i)),
        maxIterations: set.files,
      };
    case 'enumerate': {
      const dirs = set.subdirs === 0 ? [set.dir] : set.subdirPaths;
      return {
        sync: (i) => void fs.readdirSync(dirs[i % dirs.length]!),
        run: async (i) => void (await fs.promises.readdir(dirs[i % dirs.length]!)),
      };
    }
    case 'extract':
      return extractOp(step, set, content);
    default:
      throw new Error(`not a file operation: ${step.op}`);
  }
}

// --- extract: unpack an in-memory, tar-like bundle -------------------------------------------------

const HEADER = 512;

/** Builds the bundle (512-byte header with name, octal size and octal mtime; data padded to 512), as a
 * tar file would hold it, so each iteration parses a header and writes an entry as an extractor does. */
export function buildBundle(set: FileSet, content: Buffer): { bundle: Buffer; offsets: number[] } {
  const offsets: number[] = [];
  let total = 0;
  for (let f = 0; f < set.files; f++) {
    offsets.push(total);
    total += HEADER + Math.ceil(set.size(f) / HEADER) * HEADER;
  }
  const bundle = Buffer.alloc(total);
  const mtime = 1_700_000_000;
  for (let f = 0; f < set.files; f++) {
    const at = offsets[f]!;
    const rel = set.path(f).slice(set.dir.length + 1).split(/[\\/]/).join('/');
    bundle.write(rel, at, 100, 'utf8');
    bundle.write(set.size(f).toString(8).padStart(11, '0'), at + 124, 12, 'ascii');
    bundle.write(mtime.toString(8).padStart(11, '0'), at + 136, 12, 'ascii');
    content.copy(bundle, at + HEADER, 0, set.size(f));
  }
  return { bundle, offsets };
}

function extractOp(step: StepSpec, set: FileSet, content: Buffer): Operation {
  let bundle: Buffer = Buffer.alloc(0);
  let offsets: number[] = [];
  const madeDirs = new Set<string>();
  const entry = (i: number) => {
    const at = offsets[i % set.files]!;
    const nameEnd = bundle.indexOf(0, at);
    const name = bundle.toString('utf8', at, Math.min(nameEnd, at + 100));
    const size = parseInt(bundle.toString('ascii', at + 124, at + 135), 8);
    const mtime = parseInt(bundle.toString('ascii', at + 136, at + 147), 8);
    if (!name || Number.isNaN(size) || Number.isNaN(mtime)) throw new IterationError('EBADENTRY', `bad archive entry at offset ${at}`);
    return { target: join(set.dir, name), data: bundle.subarray(at + HEADER, at + HEADER + size), mtime };
  };
  return {
    prepare: () => {
      ({ bundle, offsets } = buildBundle(set, content));
      fs.mkdirSync(set.dir, { recursive: true });
    },
    sync: (i) => {
      const e = entry(i);
      const parent = dirname(e.target);
      if (!madeDirs.has(parent)) {
        fs.mkdirSync(parent, { recursive: true });
        madeDirs.add(parent);
      }
      writeFileSyncWith(e.target, 'w', e.data, step.fsync);
      fs.utimesSync(e.target, e.mtime, e.mtime);
    },
    run: async (i) => {
      const e = entry(i);
      const parent = dirname(e.target);
      if (!madeDirs.has(parent)) {
        await fs.promises.mkdir(parent, { recursive: true });
        madeDirs.add(parent);
      }
      await writeFileWith(e.target, 'w', e.data, step.fsync);
      await fs.promises.utimes(e.target, e.mtime, e.mtime);
    },
  };
}

// --- spawn / exec ------------------------------------------------------------------------------------

/** The cheapest process start the platform has: what a filter sees on every process creation. */
export function trivialCommand(platform: NodeJS.Platform): string[] {
  if (platform === 'win32') return [process.env.ComSpec ?? 'cmd.exe', '/c', 'exit'];
  return [fs.existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true'];
}

const tail = (s: string): string => s.trim().split('\n').slice(-3).join(' | ').slice(-300);

function childFailure(status: number | null, signal: string | null, stderr: string, timeoutMs: number, timedOut: boolean): IterationError | null {
  if (timedOut) return new IterationError('ETIMEDOUT', `killed after ${timeoutMs} ms`);
  if (signal) return new IterationError(`SIGNAL_${signal}`, `ended by ${signal}${stderr ? `: ${tail(stderr)}` : ''}`);
  if (status !== 0) return new IterationError(`EXIT_${status}`, `exit status ${status}${stderr ? `: ${tail(stderr)}` : ''}`);
  return null;
}

function childOps(argv: string[], cwd: string, timeoutMs: number): Operation {
  const [cmd, ...args] = argv as [string, ...string[]];
  // stdout is ignored: the agent's own stdout carries its JSON result and nothing else.
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
  return {
    prepare: () => void fs.mkdirSync(cwd, { recursive: true }),
    sync: () => {
      const r = spawnSync(cmd, args, { cwd, stdio, timeout: timeoutMs, windowsHide: true, encoding: 'utf8' });
      const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
      if (r.error && !timedOut) throw r.error;
      const failure = childFailure(r.status, r.signal, r.stderr ?? '', timeoutMs, timedOut);
      if (failure) throw failure;
    },
    run: () =>
      new Promise<void>((resolvePromise, reject) => {
        const child = spawn(cmd, args, { cwd, stdio, windowsHide: true });
        let stderr = '';
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          if (stderr.length < 4096) stderr += d;
        });
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('close', (status, signal) => {
          clearTimeout(timer);
          const failure = childFailure(status, signal, stderr, timeoutMs, timedOut);
          if (failure) reject(failure);
          else resolvePromise();
        });
      }),
  };
}

export function makeOperation(step: StepSpec, ctx: OperationContext): Operation {
  const kind: OperationKind = step.op;
  if (kind === 'spawn') return childOps(trivialCommand(ctx.platform), resolveDir(ctx.root, step.dir), step.timeoutMs);
  if (kind === 'exec') {
    if (!step.command || step.command.length === 0) throw new Error(`step ${step.name}: exec needs a command`);
    const argv = step.command[0] === 'node' ? [process.execPath, ...step.command.slice(1)] : step.command;
    return childOps(argv, resolve(resolveDir(ctx.root, step.dir)), step.timeoutMs);
  }
  return fileOps(step, fileSet(step, ctx.root));
}
