// A lab image manifest for unit tests of the QEMU provider (command line, warm-state keys): the shape
// images/lab/build.ts writes, with placeholder files. Not a test file itself (tap runs *.test.ts).
import type { ImageManifest } from '../../../images/manifest.ts';

export const LAB_MANIFEST: ImageManifest = {
  schema: 1,
  name: 'lab',
  os: { family: 'linux', release: 'lab', build: '6.1.0-56-cloud-amd64' },
  boot: { kind: 'kernel', kernel: 'vmlinuz', initrd: 'initrd.img', append: 'console=ttyS0,115200 panic=-1 unknown_nmi_panic' },
  disk: { path: 'disk.qcow2', format: 'qcow2', virtualBytes: 268435456 },
  machine: { type: 'pc', memoryMiB: 512, cpus: 1, crash: 'pvpanic' },
  ssh: { user: 'root', hostKeyFingerprint: 'SHA256:x' },
  files: [],
  inputsHash: 'h',
  builtAt: '2025-01-01T00:00:00Z',
};
