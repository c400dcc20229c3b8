// From the facts the guest records about itself at the end of provisioning
// (provision/write_image_facts.ps1 → image-facts.json, downloaded by Packer) to the image's manifest.
// The guest is the authority on build, UBR, KBs, Secure Boot/HVCI/test signing and its SSH host key;
// the template is the authority on the disk, firmware and machine size.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { parseSource } from '../../lib/source-doc.ts';
import { MANIFEST_SCHEMA } from '../manifest.ts';
import { checkWindowsManifest, imageName, type WindowsImageManifest } from './manifest.ts';

export interface ImageFacts {
  currentBuild: string;
  ubr: number;
  /** Get-HotFix HotFixID values (KB5089549). */
  hotFixIds: string[];
  secureBoot: boolean | null;
  hvci: boolean | null;
  testSigning: boolean | null;
  hostKeyFingerprint: string;
}

export interface BuildSettings {
  release: string;
  /** The image folder (manifest.json goes there). */
  dir: string;
  disk: string;
  format: 'vhdx' | 'qcow2';
  firmware: 'ovmf' | 'bios';
  secureBoot: boolean;
  tpm: boolean;
  memoryMiB: number;
  cpus: number;
  sshUser: string;
  clientKey?: string;
  inputsHash: string;
  builtAt?: string;
}

export function parseFacts(file: string, text: string): ImageFacts {
  const src = parseSource(file, text);
  const v = src.value as Record<string, unknown> | null;
  const need = (k: string, ok: (x: unknown) => boolean, what: string) => {
    if (!v || !ok(v[k])) throw new InputError({ file, line: 1, column: 1 }, `${k} should be ${what}, got ${JSON.stringify(v?.[k])}`);
  };
  need('currentBuild', (x) => typeof x === 'string' && /^\d{5}$/.test(x), 'five digits as text');
  need('ubr', (x) => Number.isInteger(x), 'an integer');
  need('hotFixIds', Array.isArray, 'a list');
  need('hostKeyFingerprint', (x) => typeof x === 'string' && x.startsWith('SHA256:'), 'SHA256:...');
  const b = (k: string) => (typeof v![k] === 'boolean' ? (v![k] as boolean) : null);
  return {
    currentBuild: v!.currentBuild as string,
    ubr: v!.ubr as number,
    hotFixIds: (v!.hotFixIds as unknown[]).map(String),
    secureBoot: b('secureBoot'),
    hvci: b('hvci'),
    testSigning: b('testSigning'),
    hostKeyFingerprint: v!.hostKeyFingerprint as string,
  };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The manifest for an image built with `settings` whose guest reported `facts`; checked before it is returned. */
export async function manifestFromFacts(facts: ImageFacts, s: BuildSettings): Promise<WindowsImageManifest> {
  const kbs = [...new Set(facts.hotFixIds.map((id) => /^KB(\d+)$/i.exec(id.trim())?.[1]).filter((x): x is string => !!x).map(Number))].sort((a, b) => a - b);
  const diskFile = path.resolve(s.dir, s.disk);
  const size = statSync(diskFile).size;
  const manifest = {
    schema: MANIFEST_SCHEMA,
    name: imageName(s.release, facts.currentBuild, facts.ubr),
    os: {
      family: 'windows' as const,
      release: s.release,
      build: facts.currentBuild,
      ubr: facts.ubr,
      kbs,
      features: {
        secureBoot: facts.secureBoot ?? s.secureBoot,
        ...(facts.testSigning !== null ? { testSigning: facts.testSigning } : {}),
        ...(facts.hvci !== null ? { hvci: facts.hvci } : {}),
        tpm: s.tpm,
      },
    },
    boot: { kind: 'disk' as const, firmware: s.firmware, secureBoot: s.secureBoot, tpm: s.tpm },
    // virtualBytes: the file size is a lower bound for a dynamic disk; the template's disk_size is
    // the real figure (unverified that every caller passes it; the providers do not read it).
    disk: { path: s.disk, format: s.format, virtualBytes: size },
    machine: { type: 'q35' as const, memoryMiB: s.memoryMiB, cpus: s.cpus, crash: 'hv-crash' as const },
    ssh: { user: s.sshUser, hostKeyFingerprint: facts.hostKeyFingerprint, ...(s.clientKey ? { clientKey: s.clientKey } : {}) },
    files: [{ path: s.disk, bytes: size, sha256: await sha256File(diskFile) }],
    inputsHash: s.inputsHash,
    builtAt: s.builtAt ?? new Date().toISOString(),
  };
  return checkWindowsManifest(parseSource(path.join(s.dir, 'manifest.json'), JSON.stringify(manifest, null, 2)));
}
