// `fleetgate images plan MATRIX`: the Windows golden images a matrix needs (one per release and patch
// level, with the KB and build.UBR the catalog gives) and which of them the image store lacks or has
// wrong. `fleetgate images verify IMAGE_DIR`: boots the image with the provider its disk implies and
// compares the guest's identity with the manifest. `fleetgate images manifest`: writes manifest.json
// from the facts the guest recorded at the end of a Packer build (images/windows/README.md).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { EXIT, FleetgateError, UsageError } from '../../../lib/errors.ts';
import { parseMaxCells, planMatrix } from '../../../matrix/index.ts';
import { MANIFEST_FILE } from '../../../images/manifest.ts';
import { manifestFromFacts, parseFacts } from '../../../images/windows/facts.ts';
import { readWindowsManifest, type WindowsImageManifest } from '../../../images/windows/manifest.ts';
import { defaultImageStore, imagesForCells, planImages, scanImageStore, type ImagePlanRow } from '../../../images/windows/store.ts';
import { compareIdentity, type GuestIdentityFacts, type IdentityMismatch } from '../../../images/windows/verify.ts';

/** The image is not what its manifest says. */
export class ImageMismatch extends FleetgateError {
  readonly mismatches: IdentityMismatch[];
  constructor(dir: string, mismatches: IdentityMismatch[]) {
    super(`image ${dir} does not match its manifest: ${mismatches.map((m) => `${m.field} is ${m.guest} in the guest, ${m.manifest} in the manifest`).join('; ')}`, EXIT.usage);
    this.mismatches = mismatches;
  }
}

export interface VerifyDeps {
  /** Boots the image, reads the guest's identity, tears the VM down. */
  identityOf(dir: string, manifest: WindowsImageManifest, provider: 'hyperv' | 'qemu'): Promise<GuestIdentityFacts>;
}

/** The provider an image's disk implies: VHDX → Hyper-V, qcow2 → QEMU. */
export function providerFor(manifest: WindowsImageManifest): 'hyperv' | 'qemu' {
  return manifest.disk.format === 'vhdx' ? 'hyperv' : 'qemu';
}

/** Boots through the real provider and SSH channel (imported here, so plan never loads them). */
export const realVerifyDeps: VerifyDeps = {
  async identityOf(dir, manifest, kind) {
    const [{ createProvider }, { connectSsh, fromManifest }, { WindowsGuest, windowsRemoteSha256, heartbeatCommand }] = await Promise.all([
      import('../../providers/index.ts'),
      import('../../guest/ssh/client.ts'),
      import('../../guest/windows/windows-guest.ts'),
    ]);
    const cellDir = mkdtempSync(path.join(os.tmpdir(), 'fg-verify-'));
    try {
      await using vm = await createProvider(kind).start({ name: `verify-${process.pid}`, cellDir, image: { dir, manifest } });
      const channel = await connectSsh(fromManifest(dir, manifest, vm.ssh, { remoteSha256: windowsRemoteSha256, heartbeatCommand }));
      try {
        return await new WindowsGuest(channel).identity();
      } finally {
        await channel.close();
      }
    } finally {
      rmSync(cellDir, { recursive: true, force: true });
    }
  },
};

export async function verifyImage(dir: string, deps: VerifyDeps = realVerifyDeps): Promise<{ manifest: WindowsImageManifest; provider: string; mismatches: IdentityMismatch[] }> {
  const manifest = readWindowsManifest(dir, { requireDisk: true });
  const provider = providerFor(manifest);
  const identity = await deps.identityOf(dir, manifest, provider);
  return { manifest, provider, mismatches: compareIdentity(manifest, identity) };
}

function rowText(r: ImagePlanRow): string {
  const head = `${r.status.padEnd(10)} ${r.name.padEnd(28)} KB${r.kb}  ${r.patchLevel.padEnd(12)} ${(r.month ?? '-').padEnd(7)} ${String(r.cells).padStart(3)} cells`;
  return r.status === 'present' ? `${head}  ${r.dir}` : r.status === 'mismatched' ? `${head}  ${r.dir}: ${r.reasons.join('; ')}` : head;
}

export function registerImages(program: Command): void {
  const images = program.command('images').description('Windows golden images: which a matrix needs, verifying one, writing a manifest');

  images
    .command('plan')
    .description('the images a matrix needs (one per release and patch level) and which the image store lacks')
    .argument('<matrix>', 'matrix file')
    .option('--store <dir>', 'image store (default: $FLEETGATE_IMAGES or <repo>/.cache/images/windows)')
    .option('--json', 'machine-readable output')
    .option('--max-cells <n>', 'refuse a matrix that could expand to more than N cells (default MATRIX_MAX_CELLS, 10,000)')
    .action((file: string, opts: { store?: string; json?: boolean; maxCells?: string }) => {
      const plan = planMatrix(file, opts.maxCells !== undefined ? { maxCells: parseMaxCells(opts.maxCells) } : {});
      const store = path.resolve(opts.store ?? defaultImageStore());
      const rows = planImages(imagesForCells(plan.cells), scanImageStore(store));
      const count = (s: string) => rows.filter((r) => r.status === s).length;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ matrix: plan.file, store, images: rows, missing: count('missing'), mismatched: count('mismatched') }, null, 2)}\n`);
        return;
      }
      const out = [`matrix ${plan.name}: ${rows.length} Windows images (one per release and patch level); store ${store}`];
      for (const r of rows) out.push(`  ${rowText(r)}`);
      out.push(`${count('present')} present, ${count('missing')} missing, ${count('mismatched')} mismatched`);
      process.stdout.write(`${out.join('\n')}\n`);
    });

  images
    .command('verify')
    .description("boot an image (Hyper-V for VHDX, QEMU for qcow2) and check the guest's identity against its manifest")
    .argument('<image-dir>', 'folder with manifest.json and the disk')
    .option('--json', 'machine-readable output')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const r = await verifyImage(path.resolve(dir));
      if (opts.json) process.stdout.write(`${JSON.stringify({ image: r.manifest.name, provider: r.provider, ok: r.mismatches.length === 0, mismatches: r.mismatches }, null, 2)}\n`);
      else process.stdout.write(`${r.manifest.name} (${r.provider}): ${r.mismatches.length === 0 ? 'matches its manifest' : `${r.mismatches.length} mismatches`}\n`);
      if (r.mismatches.length) throw new ImageMismatch(dir, r.mismatches);
    });

  images
    .command('manifest')
    .description('write manifest.json for a built image from the facts its guest recorded (image-facts.json)')
    .requiredOption('--facts <file>', 'image-facts.json from provision/write_image_facts.ps1')
    .requiredOption('--release <name>', 'catalog release, e.g. win11-24h2')
    .requiredOption('--dir <dir>', 'the image folder (the disk is in it; manifest.json goes there)')
    .requiredOption('--disk <file>', 'disk file name inside the folder')
    .option('--firmware <kind>', 'ovmf (UEFI, also Hyper-V Generation 2) or bios', 'ovmf')
    .option('--secure-boot', 'the VM boots with Secure Boot on', false)
    .option('--tpm', 'the VM has a TPM', false)
    .option('--memory-mib <n>', 'memory', '4096')
    .option('--cpus <n>', 'vCPUs', '2')
    .option('--ssh-user <name>', 'the account the harness logs in with', 'fleetgate')
    .option('--client-key <file>', 'client key path relative to the image folder')
    .option('--inputs-hash <hash>', 'hash of the build inputs (template, answer file, scripts, ISO, MSU)', 'unknown')
    .action(async (o: { facts: string; release: string; dir: string; disk: string; firmware: string; secureBoot: boolean; tpm: boolean; memoryMib: string; cpus: string; sshUser: string; clientKey?: string; inputsHash: string }) => {
      if (o.firmware !== 'ovmf' && o.firmware !== 'bios') throw new UsageError(`--firmware must be ovmf or bios, got ${o.firmware}`);
      const format = o.disk.toLowerCase().endsWith('.vhdx') ? 'vhdx' : o.disk.toLowerCase().endsWith('.qcow2') ? 'qcow2' : undefined;
      if (!format) throw new UsageError(`--disk must be a .vhdx or .qcow2 file, got ${o.disk}`);
      const facts = parseFacts(o.facts, readFileSync(o.facts, 'utf8'));
      const m = await manifestFromFacts(facts, {
        release: o.release,
        dir: o.dir,
        disk: o.disk,
        format,
        firmware: o.firmware,
        secureBoot: o.secureBoot,
        tpm: o.tpm,
        memoryMiB: Number(o.memoryMib),
        cpus: Number(o.cpus),
        sshUser: o.sshUser,
        inputsHash: o.inputsHash,
        ...(o.clientKey ? { clientKey: o.clientKey } : {}),
      });
      const file = path.join(o.dir, MANIFEST_FILE);
      writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`);
      process.stdout.write(`${file}: ${m.name}\n`);
    });
}
