// ntfsls's listing format (ntfs-3g 2022.10: "%8lld %s %s", the time as "%b %e %H:%M %Y", -F adding "/"
// to folders), as it printed a real volume made by mkntfs, and the Windows path splitter.
import t from 'tap';
import { InputError } from '../../../../lib/errors.ts';
import { NTFS_MAX_DIR_ENTRIES, parseNtfsLs, windowsPathParts } from './ntfs-tools.ts';

t.test('ntfsls -F -l: files with sizes and times, folders marked, . and .. left out, names with spaces kept', async (t) => {
  const text = ['       0 Dec  4 20:15 2026 ./', '       0 Dec  4 20:15 2026 ../', '       0 Dec  4 20:15 2026 Minidump/', ' 1444532 Dec  4 20:15 2026 odd name ü.dmp', '12345678901 Jan 14 03:07 2025 MEMORY.DMP', ''].join('\n');
  t.same(parseNtfsLs('v:/Windows', text), [
    { name: 'Minidump', dir: true, sizeBytes: 0, modified: '2026-12-04T20:15Z' },
    { name: 'odd name ü.dmp', dir: false, sizeBytes: 1444532, modified: '2026-12-04T20:15Z' },
    { name: 'MEMORY.DMP', dir: false, sizeBytes: 12345678901, modified: '2025-01-14T03:07Z' },
  ]);
  t.same(parseNtfsLs('v:/', ''), []);
});

t.test('ntfsls output not in that shape: InputError naming the volume, folder and line', async (t) => {
  t.throws(() => parseNtfsLs('disk partition 3:/Windows', '       0 Dec  4 20:15 2026 ./\nsomething else\n'), /disk partition 3:\/Windows:2: ntfsls printed "something else"; expected "SIZE Mon DD HH:MM YYYY NAME"/);
  t.throws(() => parseNtfsLs('v:/', '       0 Xyz  4 20:15 2026 a\n'), /month "Xyz"/);
  const many = Array.from({ length: NTFS_MAX_DIR_ENTRIES + 1 }, (_, i) => `       1 Dec  4 20:15 2026 f${i}`).join('\n');
  t.throws(() => parseNtfsLs('v:/', many), InputError);
});

t.test('Windows paths: drive dropped, either slash, . and .. refused', async (t) => {
  t.same(windowsPathParts('C:\\Windows\\Minidump'), ['Windows', 'Minidump']);
  t.same(windowsPathParts('c:/pagefile.sys'), ['pagefile.sys']);
  t.same(windowsPathParts('\\DedicatedDump.sys'), ['DedicatedDump.sys']);
  t.same(windowsPathParts('C:\\'), []);
  t.throws(() => windowsPathParts('Windows\\MEMORY.DMP'), /expected an absolute Windows path/);
  t.throws(() => windowsPathParts('C:\\Windows\\..\\x'), /\. or \.\./);
});
