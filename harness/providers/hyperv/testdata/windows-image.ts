// A Windows image manifest for tests of the Hyper-V provider (nothing is read from disk).
import type { ImageManifest } from '../../../../images/manifest.ts';

export function windowsImageForTests(over: Partial<ImageManifest> = {}): ImageManifest {
  return {
    schema: 1,
    name: 'win11-24h2-26100.8457',
    os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr: 8457, kbs: [5089549], features: { secureBoot: false, testSigning: true, hvci: false } },
    boot: { kind: 'disk', firmware: 'ovmf', secureBoot: false, tpm: false },
    disk: { path: 'disk.vhdx', format: 'vhdx', virtualBytes: 64 * 2 ** 30 },
    machine: { type: 'q35', memoryMiB: 4096, cpus: 2, crash: 'hv-crash' },
    ssh: { user: 'fleetgate', hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', clientKey: 'id_ed25519' },
    files: [],
    inputsHash: 'test',
    builtAt: '2026-05-13T00:00:00Z',
    ...over,
  };
}
