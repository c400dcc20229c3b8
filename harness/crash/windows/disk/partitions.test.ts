// The partition table reader against tables written by a real tool (util-linux sfdisk, GPT and MBR),
// and against tables whose counts and offsets do not check out.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { InputError } from '../../../../lib/errors.ts';
import { GPT_MAX_ENTRIES, GPT_TYPE, parsePartitionTable, windowsCandidates } from './partitions.ts';

const MIB = 1024 * 1024;
const sfdiskMissing = spawnSync('sh', ['-c', 'command -v sfdisk']).status === 0 ? false : 'sfdisk is not installed (Debian package fdisk)';

function table(label: 'gpt' | 'dos', script: string, mib = 64): { head: Uint8Array; size: number } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fg-pt-')), 'disk.raw');
  writeFileSync(file, '');
  spawnSync('truncate', ['-s', `${mib}M`, file]);
  const r = spawnSync('sfdisk', ['--quiet', '--label', label, file], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return { head: new Uint8Array(readFileSync(file).subarray(0, MIB + 4096)), size: mib * MIB };
}

t.test('GPT from sfdisk: EFI, MSR and basic data, with their names; the Windows candidate is the basic-data one', { skip: sfdiskMissing }, async (t) => {
  const { head, size } = table('gpt', `start=2048, size=32768, type=${GPT_TYPE.efiSystem}, name="EFI system partition"\nsize=32768, type=${GPT_TYPE.msReserved}\nsize=40960, type=${GPT_TYPE.basicData}, name="Basic data partition"\n`);
  const pt = parsePartitionTable('d.raw', head, size);
  t.equal(pt.scheme, 'gpt');
  t.equal(pt.sectorBytes, 512);
  t.same(pt.partitions.map((p) => [p.index, p.type, p.name, p.offsetBytes, p.sizeBytes]), [
    [1, GPT_TYPE.efiSystem, 'EFI system partition', 2048 * 512, 32768 * 512],
    [2, GPT_TYPE.msReserved, '', 34816 * 512, 32768 * 512],
    [3, GPT_TYPE.basicData, 'Basic data partition', 67584 * 512, 40960 * 512],
  ]);
  t.same(windowsCandidates(pt).map((p) => p.index), [3]);
});

t.test('MBR from sfdisk: an NTFS (0x07) partition after a small one; largest candidate first', { skip: sfdiskMissing }, async (t) => {
  const { head, size } = table('dos', 'start=2048, size=20480, type=7\nsize=61440, type=7\nsize=8192, type=83\n');
  const pt = parsePartitionTable('d.raw', head, size);
  t.equal(pt.scheme, 'mbr');
  t.same(pt.partitions.map((p) => [p.index, p.type]), [[1, 'mbr:0x07'], [2, 'mbr:0x07'], [3, 'mbr:0x83']]);
  t.same(windowsCandidates(pt).map((p) => p.index), [2, 1]);
});

t.test('tables that do not check out: InputError naming the disk, the offset and what was expected', { skip: sfdiskMissing }, async (t) => {
  const base = table('gpt', `start=2048, size=40960, type=${GPT_TYPE.basicData}\n`);
  const set32 = (at: number, v: number) => {
    const h = new Uint8Array(base.head);
    new DataView(h.buffer).setUint32(at, v, true);
    return h;
  };
  t.throws(() => parsePartitionTable('d.raw', new Uint8Array(4096), base.size), /d\.raw at offset 0x0: no partition table/);
  t.throws(() => parsePartitionTable('d.raw', set32(512 + 80, GPT_MAX_ENTRIES + 1), base.size), /offset 0x250: GPT NumberOfPartitionEntries is 1025; expected 1 to 1024/);
  t.throws(() => parsePartitionTable('d.raw', set32(512 + 84, 100), base.size), /SizeOfPartitionEntry is 100/);
  t.throws(() => parsePartitionTable('d.raw', set32(512 + 72, 4000), base.size), /PartitionEntryLBA 4000 .*within the first/);
  t.throws(() => parsePartitionTable('d.raw', base.head, 8 * MIB), /partition 1 lies at bytes 1048576\.\.22020096; expected a non-empty range inside the disk's 8388608 bytes/);
  const swapped = new Uint8Array(base.head);
  const dv = new DataView(swapped.buffer);
  dv.setBigUint64(1024 + 40, 100n, true); // last LBA before first
  t.throws(() => parsePartitionTable('d.raw', swapped, base.size), /GPT entry 1 ends \(LBA 100\) before it starts \(LBA 2048\)/);
});

t.test('any bytes: a table or an InputError, never anything else', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), fc.boolean(), (bytes, gpt) => {
      const head = new Uint8Array(Math.max(bytes.length, 1100));
      head.set(bytes);
      if (gpt) head.set(Buffer.from('EFI PART'), 512);
      try {
        const pt = parsePartitionTable('f', head, 1 << 30);
        for (const p of pt.partitions) if (p.offsetBytes + p.sizeBytes > 1 << 30 || p.sizeBytes <= 0) throw new Error('out of the disk');
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
      }
    }),
    { seed: 18, numRuns: 2000 },
  );
});
