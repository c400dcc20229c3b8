// Parsers of tool output the builder relies on, on captured samples (no tools needed).
import t from 'tap';
import { parseKernelDepends, parsePolicy, debPrefix } from './packages.ts';
import { parseLdd } from './initramfs.ts';
import { parseFingerprint } from './keys.ts';
import { pathWithSbin } from './tools.ts';
import { diskLayout, mbr, optSizeMiB } from './disk.ts';

t.test('apt-cache show: versioned kernel and headers packages', async (t) => {
  const show = 'Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\n';
  t.equal(parseKernelDepends(show), '6.1.0-56-cloud-amd64');
  const headers = 'Package: linux-headers-cloud-amd64\nDepends: linux-headers-6.1.0-57-cloud-amd64 (= 6.1.200-1)\n';
  t.equal(parseKernelDepends(headers, 'linux-headers-cloud-amd64'), '6.1.0-57-cloud-amd64');
  t.throws(() => parseKernelDepends('Package: x\n'), { name: 'InfraFailure' });
});

t.test('apt-cache policy: candidates per package, (none) left out', async (t) => {
  const text = [
    'busybox-static:',
    '  Installed: 1:1.35.0-4+b3',
    '  Candidate: 1:1.35.0-4+deb12u1+b1',
    '  Version table:',
    '     1:1.35.0-4+deb12u1+b1 500',
    'openssh-server:',
    '  Installed: (none)',
    '  Candidate: 1:9.2p1-2+deb12u10',
    'ghost:',
    '  Installed: (none)',
    '  Candidate: (none)',
  ].join('\n');
  const m = parsePolicy(text);
  t.equal(m.get('busybox-static'), '1:1.35.0-4+deb12u1+b1');
  t.equal(m.get('openssh-server'), '1:9.2p1-2+deb12u10');
  t.notOk(m.has('ghost'));
  t.equal(debPrefix({ name: 'openssh-server', version: '1:9.2p1-2' }), 'openssh-server_1%3a9.2p1-2_');
});

t.test('ldd: arrow and bare loader lines; a missing library throws', async (t) => {
  const text = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f)',
  ].join('\n');
  t.same(parseLdd(text), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  t.throws(() => parseLdd('\tlibfoo.so.1 => not found\n'), { name: 'InfraFailure' });
});

t.test('ssh-keygen -lf output', async (t) => {
  const fp = 'SHA256:X/E3Pe0lzkRpuoEM7CDrFG5YxIrsuA1gmhkrWBZ1YQA';
  t.equal(parseFingerprint(`256 ${fp} fleetgate-lab-host (ED25519)\n`), fp);
  t.throws(() => parseFingerprint('256 MD5:aa:bb host (ED25519)\n'), { name: 'InfraFailure' });
});

t.test('PATH gains the sbin folders once', async (t) => {
  t.equal(pathWithSbin('/usr/bin:/bin'), '/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin');
  t.equal(pathWithSbin('/usr/sbin:/usr/bin'), '/usr/sbin:/usr/bin:/usr/local/sbin:/sbin');
});

t.test('MBR: Linux partitions by LBA, boot signature, unaligned refused', async (t) => {
  const l = diskLayout(256, 100);
  t.same([l.dataOffset, l.optOffset, l.totalBytes], [1 << 20, 257 << 20, 357 << 20]);
  const b = mbr([[l.dataOffset, 256 << 20], [l.optOffset, 100 << 20]]);
  t.equal(b.length, 512);
  t.same([b[446 + 4], b.readUInt32LE(446 + 8), b.readUInt32LE(446 + 12)], [0x83, 2048, 256 * 2048], 'partition 1');
  t.same([b[462 + 4], b.readUInt32LE(462 + 8), b.readUInt32LE(462 + 12)], [0x83, 257 * 2048, 100 * 2048], 'partition 2');
  t.equal(b[478 + 4], 0, 'no partition 3');
  t.same([b[510], b[511]], [0x55, 0xaa]);
  t.throws(() => mbr([[1000, 512]]), /sector-aligned/);
  t.ok(optSizeMiB(86 * 2 ** 20) >= 86 + 8, 'tools partition leaves room');
});
