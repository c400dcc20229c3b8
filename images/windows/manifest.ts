// The manifest of a Windows golden image (images/manifest.ts ImageManifest with os.family windows),
// checked with a schema: every error names manifest.json's line and column (lib/source-doc.ts).
// Written by `fleetgate images manifest` from the facts the last provisioning step records inside the
// guest (provision/write_image_facts.ps1), read by `images plan` / `images verify` and the providers.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../lib/errors.ts';
import { compileSchema, errorAt, parseSource, readSource, SchemaError, validateOrThrow, type SourceDoc } from '../../lib/source-doc.ts';
import { MANIFEST_FILE, MANIFEST_SCHEMA, type ImageManifest } from '../manifest.ts';

/**
 * The dedicated dump file every Windows image sets (provision/set_crash_dump.ps1, CrashControl
 * DedicatedDumpFile): where a bugcheck writes its dump, read off the cell's disk when the guest never
 * boots again to copy it to MEMORY.DMP.
 */
export const WINDOWS_DEDICATED_DUMP_FILE = 'C:\\fleetgate-dump.sys';

export type WindowsImageManifest = ImageManifest & {
  os: ImageManifest['os'] & { family: 'windows'; ubr: number; kbs: number[] };
  boot: Extract<ImageManifest['boot'], { kind: 'disk' }>;
};

const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$', description: '64 lowercase hex digits (SHA-256)' };

export const windowsManifestSchema = {
  type: 'object',
  required: ['schema', 'name', 'os', 'boot', 'disk', 'machine', 'ssh', 'files', 'inputsHash', 'builtAt'],
  additionalProperties: false,
  properties: {
    schema: { const: MANIFEST_SCHEMA },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]*$', description: 'a lowercase image name such as win11-24h2-26100.8457' },
    os: {
      type: 'object',
      required: ['family', 'release', 'build', 'ubr', 'kbs'],
      additionalProperties: false,
      properties: {
        family: { const: 'windows' },
        release: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', description: 'a catalog release name such as win11-24h2' },
        build: { type: 'string', pattern: '^\\d{5}$', description: 'CurrentBuild as five digits, e.g. "26100"' },
        ubr: { type: 'integer', minimum: 0 },
        kbs: { type: 'array', items: { type: 'integer', minimum: 1 } },
        features: {
          type: 'object',
          additionalProperties: false,
          properties: { secureBoot: { type: 'boolean' }, testSigning: { type: 'boolean' }, hvci: { type: 'boolean' }, tpm: { type: 'boolean' } },
        },
      },
    },
    boot: {
      type: 'object',
      required: ['kind', 'firmware', 'secureBoot', 'tpm'],
      additionalProperties: false,
      properties: {
        kind: { const: 'disk' },
        // Hyper-V Generation 2 is UEFI: 'ovmf' stands for UEFI firmware on either hypervisor.
        firmware: { enum: ['ovmf', 'bios'] },
        secureBoot: { type: 'boolean' },
        tpm: { type: 'boolean' },
      },
    },
    disk: {
      type: 'object',
      required: ['path', 'format', 'virtualBytes'],
      additionalProperties: false,
      properties: { path: { type: 'string', minLength: 1 }, format: { enum: ['vhdx', 'qcow2'] }, virtualBytes: { type: 'integer', minimum: 1 } },
    },
    machine: {
      type: 'object',
      required: ['type', 'memoryMiB', 'cpus', 'crash'],
      additionalProperties: false,
      properties: {
        type: { enum: ['pc', 'q35'] },
        memoryMiB: { type: 'integer', minimum: 512 },
        cpus: { type: 'integer', minimum: 1 },
        crash: { const: 'hv-crash' },
        bootSeconds: { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds a reboot took when the image was built' },
      },
    },
    ssh: {
      type: 'object',
      required: ['user', 'hostKeyFingerprint'],
      additionalProperties: false,
      properties: {
        user: { type: 'string', minLength: 1 },
        hostKeyFingerprint: { type: 'string', pattern: '^SHA256:[A-Za-z0-9+/]{43}$', description: 'SHA256:<43 base64 characters> as ssh-keygen -lf prints it' },
        clientKey: { type: 'string' },
      },
    },
    files: {
      type: 'array',
      items: { type: 'object', required: ['path', 'bytes', 'sha256'], additionalProperties: false, properties: { path: { type: 'string' }, bytes: { type: 'integer', minimum: 0 }, sha256 } },
    },
    inputsHash: { type: 'string', minLength: 1 },
    builtAt: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T', description: 'an ISO 8601 time' },
  },
} as const;

const validate = compileSchema<WindowsImageManifest>(windowsManifestSchema);

/** Checks a parsed manifest document: the schema, then rules across fields. */
export function checkWindowsManifest(src: SourceDoc): WindowsImageManifest {
  const m = validateOrThrow(src, validate);
  const errors: InputError[] = [];
  const features = m.os.features ?? {};
  // windows.md section 3: test signing is blocked while Secure Boot is on.
  if (features.testSigning === true && m.boot.secureBoot) {
    errors.push(errorAt(src, ['os', 'features', 'testSigning'], 'test signing needs Secure Boot off (windows.md section 3), but boot.secureBoot is true'));
  }
  if (features.secureBoot !== undefined && features.secureBoot !== m.boot.secureBoot) {
    errors.push(errorAt(src, ['os', 'features', 'secureBoot'], `os.features.secureBoot (${features.secureBoot}) disagrees with boot.secureBoot (${m.boot.secureBoot})`));
  }
  if (m.disk.format === 'vhdx' && m.boot.firmware !== 'ovmf') {
    errors.push(errorAt(src, ['boot', 'firmware'], 'a VHDX image boots as a Hyper-V Generation 2 VM: firmware must be "ovmf" (UEFI)'));
  }
  if (!m.name.includes(`${m.os.build}.${m.os.ubr}`)) {
    errors.push(errorAt(src, ['name'], `the name "${m.name}" does not carry the patch level ${m.os.build}.${m.os.ubr}`));
  }
  if (errors.length) throw new SchemaError(errors);
  return m;
}

export function parseWindowsManifest(file: string, text: string): WindowsImageManifest {
  return checkWindowsManifest(parseSource(file, text));
}

/** manifest.json of the image folder `dir`, checked; the disk it names must exist beside it. */
export function readWindowsManifest(dir: string, opts: { requireDisk?: boolean } = {}): WindowsImageManifest {
  const file = path.join(dir, MANIFEST_FILE);
  const src = readSource(file);
  const m = checkWindowsManifest(src);
  if (opts.requireDisk && !existsSync(path.resolve(dir, m.disk.path))) {
    throw errorAt(src, ['disk', 'path'], `the disk ${m.disk.path} is not in ${dir}`);
  }
  return m;
}

/** The name an image of `release` at `build.ubr` has in the store (and its folder's name). */
export function imageName(release: string, build: number | string, ubr: number): string {
  return `${release}-${build}.${ubr}`;
}
