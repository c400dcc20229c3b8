// Positioned, bounds-checked reads from a dump file. A MEMORY.DMP can be tens of gigabytes and triage
// needs a few kilobytes of it, so the dump readers never load a file whole: they ask for the ranges
// they need (fs.promises.FileHandle.read at an offset) and count the bytes, so a caller can prove it.
// Every range is checked against the file size first, so a bad offset or count in a dump is an
// InputError naming the file and the byte offset, never a RangeError from Buffer.
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../../../lib/errors.ts';

/** Where the bytes come from: a file handle, or a buffer (tests, and dumps already in memory). */
export interface ByteSource {
  readonly file: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; the range has already been checked. */
  readAt(offset: number, length: number): Promise<Buffer>;
}

export function bufferSource(file: string, data: Uint8Array): ByteSource {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    file,
    size: buf.length,
    readAt: async (offset, length) => buf.subarray(offset, offset + length),
  };
}

export function handleSource(file: string, handle: FileHandle, size: number): ByteSource {
  return {
    file,
    size,
    async readAt(offset, length) {
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new InputError({ file, offset: offset + done }, `file ended early: expected ${length - done} more bytes (it changed while being read?)`);
        done += bytesRead;
      }
      return out;
    },
  };
}

/** A file's first `bytes` (fewer when it is shorter), read without reading the rest: a signature, a boot sector. */
export async function fileHead(file: string, bytes: number): Promise<Buffer> {
  const h = await open(file, 'r');
  try {
    const b = Buffer.alloc(bytes);
    const { bytesRead } = await h.read(b, 0, bytes, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await h.close();
  }
}

/** Opens a file for positioned reads; a missing or unreadable file is an InputError. */
export async function openSource(file: string): Promise<{ source: ByteSource; close: () => Promise<void> }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError({ file }, code === 'ENOENT' ? 'file not found' : `cannot open file (${code ?? String(err)})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new InputError({ file }, 'not a regular file');
    return { source: handleSource(file, handle, st.size), close: () => handle.close() };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** A little-endian view of one range read from the source, with offsets reported as file offsets. */
export class Block {
  constructor(
    readonly file: string,
    /** File offset of buf[0]. */
    readonly base: number,
    readonly buf: Buffer,
  ) {}

  private at(offset: number, width: number, what: string): number {
    const i = offset - this.base;
    if (i < 0 || i + width > this.buf.length) {
      throw new InputError({ file: this.file, offset }, `${what}: ${width} bytes at 0x${offset.toString(16)} are outside the ${this.buf.length}-byte range read at 0x${this.base.toString(16)}`);
    }
    return i;
  }

  u16(offset: number, what: string): number {
    return this.buf.readUInt16LE(this.at(offset, 2, what));
  }

  u32(offset: number, what: string): number {
    return this.buf.readUInt32LE(this.at(offset, 4, what));
  }

  u64(offset: number, what: string): bigint {
    return this.buf.readBigUInt64LE(this.at(offset, 8, what));
  }

  ascii(offset: number, length: number, what: string): string {
    const i = this.at(offset, length, what);
    return this.buf.toString('latin1', i, i + length);
  }

  bytes(offset: number, length: number, what: string): Buffer {
    const i = this.at(offset, length, what);
    return this.buf.subarray(i, i + length);
  }

  contains(offset: number, length: number): boolean {
    return offset >= this.base && offset + length <= this.base + this.buf.length;
  }
}

/** Counts what was read, and checks every range against the file before reading it. */
export class DumpReader {
  bytesRead = 0;
  constructor(readonly source: ByteSource) {}

  get file(): string {
    return this.source.file;
  }

  get size(): number {
    return this.source.size;
  }

  /** Throws an InputError at `offset` unless [offset, offset+length) lies inside the file. */
  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InputError({ file: this.file, offset: 0 }, `${what}: offset ${offset} is not a file offset`);
    }
    if (!Number.isSafeInteger(length) || length < 0 || offset + length > this.size) {
      throw new InputError(
        { file: this.file, offset },
        `${what}: expected ${length} bytes at 0x${offset.toString(16)}, but the file is ${this.size} bytes (0x${this.size.toString(16)})`,
      );
    }
  }

  async block(offset: number, length: number, what: string): Promise<Block> {
    this.check(offset, length, what);
    const buf = await this.source.readAt(offset, length);
    this.bytesRead += length;
    return new Block(this.file, offset, buf);
  }

  error(offset: number, detail: string): InputError {
    return new InputError({ file: this.file, offset }, detail);
  }
}

/** `0x` + lowercase hex without leading zeros: the one spelling of a 64-bit value everywhere. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
