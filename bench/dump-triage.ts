// Dump triage on a multi-gigabyte MEMORY.DMP: a sparse file (default 4 GiB) whose first pages are a
// 64-bit bitmap kernel dump header (DumpType 6, RequiredDumpSpace = the file size, an SDMP bitmap
// header at 0x2000), triaged several times; prints the median time and the bytes read. The file is
// sparse, so it takes almost no disk, and it is deleted afterwards.
//   node --import tsx bench/dump-triage.ts [--gib 4] [--runs 7]
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readKernelDump } from '../harness/crash/windows/dump.ts';
import { bitmapHeader, header64 } from '../harness/crash/windows/testdata/build-dump.ts';

const { values } = parseArgs({ options: { gib: { type: 'string', default: '4' }, runs: { type: 'string', default: '7' } } });
const size = Number(values.gib) * 1024 ** 3;
const runs = Number(values.runs);
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const dir = await mkdtemp(path.join(os.tmpdir(), 'fg-bench-dump-'));
const file = path.join(dir, 'MEMORY.DMP');
try {
  // A 16 GiB guest: 4M pages in the bitmap, a quarter of them present (a kernel dump's usual share).
  const bits = 4n * 1024n * 1024n;
  const fh = await open(file, 'w');
  await fh.write(header64({ dumpType: 6, code: 0xc4, build: 26100, processors: 4, requiredDumpSpace: BigInt(size) }), 0, undefined, 0);
  await fh.write(bitmapHeader({ signature: 'SDMP', bits, present: bits / 4n }), 0, undefined, 0x2000);
  await fh.truncate(size);
  await fh.close();

  const times: number[] = [];
  let bytesRead = 0;
  let summary = '';
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const d = await readKernelDump(file);
    times.push(performance.now() - t0);
    bytesRead = d.bytesRead;
    summary = `${d.dumpType.name} dump, build ${d.build}, ${d.bugcheck.name}, truncated ${d.truncated}, bitmap ${d.bitmap?.bitmapBits} pages`;
  }
  out(`dump-triage: ${(size / 1024 ** 3).toFixed(0)} GiB sparse file: ${summary}`);
  out(`dump-triage: median ${median(times).toFixed(2)} ms of ${runs} (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)}), bytesRead ${bytesRead} (${((bytesRead / size) * 100).toExponential(1)} % of the file)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
