// The host inventory: which machines run cells, how many at once (slots), and which images they have.
// From hosts.yaml (errors name file:line:col) or, without a file, this machine alone.
import os from 'node:os';
import path from 'node:path';
import { errorAt, compileSchema, readSource, validateOrThrow, parseSource, type SourceDoc } from '../../lib/source-doc.ts';
import { UsageError } from '../../lib/errors.ts';
import type { HostRecord } from '../../runfolder/run-json.ts';
import { PROVIDER_KINDS, type ProviderKind } from '../providers/types.ts';

export type HostProvider = ProviderKind;

/** An inventory entry: the run.json host record with the provider kinds this harness has. */
export interface HostSpec extends HostRecord {
  provider: HostProvider;
  /** How the provider reaches a Hyper-V host's parts (provider hyperv only). */
  hyperv?: HyperVHostSettings;
}

/** hosts.yaml `hyperv:` of a Hyper-V host. */
export interface HyperVHostSettings {
  /** The pinned host key of an ssh:// reach, `SHA256:...` as ssh-keygen -lf prints it. */
  hostKey?: string;
  /** The client key file for the SSH login (relative to hosts.yaml). */
  identity?: string;
  /** Host folder holding the image folders (`<imageRoot>\<image name>\<disk>`). */
  imageRoot?: string;
  /** Host folder for per-cell VM folders. */
  vmRoot?: string;
  /** The virtual switch cell VMs are connected to. */
  switch?: string;
  /** Where the controller reaches a VM's sshd at its address (a forwarded port). @default 22 */
  guestSshPort?: number;
}

interface RawHosts {
  hosts: HostSpec[];
}

const hostsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['hosts'],
  properties: {
    hosts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'provider', 'reach', 'slots', 'memoryMiB', 'images'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'a host name (letters, digits, ".", "_", "-")' },
          provider: { type: 'string', enum: [...PROVIDER_KINDS] },
          reach: {
            type: 'string',
            pattern: '^(local|ssh://[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?)$',
            description: 'local or ssh://user@host[:port]',
          },
          slots: { type: 'integer', minimum: 1, maximum: 256 },
          cores: { type: 'integer', minimum: 1, maximum: 4096, description: 'CPU cores the VMs share (default: one per slot)' },
          memoryMiB: { type: 'integer', minimum: 512 },
          images: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          hyperv: {
            type: 'object',
            additionalProperties: false,
            properties: {
              hostKey: { type: 'string', pattern: '^SHA256:[A-Za-z0-9+/]{43}$', description: 'SHA256:<43 base64 characters> as ssh-keygen -lf prints it' },
              identity: { type: 'string', minLength: 1 },
              imageRoot: { type: 'string', pattern: '^[A-Za-z]:\\\\', description: 'a Windows path on the host, such as C:\\fleetgate\\images' },
              vmRoot: { type: 'string', pattern: '^[A-Za-z]:\\\\', description: 'a Windows path on the host, such as C:\\fleetgate\\vms' },
              switch: { type: 'string', minLength: 1 },
              guestSshPort: { type: 'integer', minimum: 1, maximum: 65535 },
            },
          },
        },
      },
    },
  },
} as const;

const validateHosts = compileSchema<RawHosts>(hostsSchema);

function checkHosts(src: SourceDoc): HostSpec[] {
  const raw = validateOrThrow(src, validateHosts);
  const seen = new Map<string, number>();
  raw.hosts.forEach((h, i) => {
    const first = seen.get(h.name);
    if (first !== undefined) throw errorAt(src, ['hosts', i, 'name'], `host "${h.name}" is listed twice (first as hosts[${first}])`);
    seen.set(h.name, i);
    if (h.hyperv && h.provider !== 'hyperv') throw errorAt(src, ['hosts', i, 'hyperv'], `host "${h.name}" has hyperv settings but its provider is ${h.provider}`);
  });
  const base = path.dirname(path.resolve(src.file));
  return raw.hosts.map((h) => ({
    ...h,
    images: [...h.images],
    ...(h.hyperv ? { hyperv: { ...h.hyperv, ...(h.hyperv.identity ? { identity: path.resolve(base, h.hyperv.identity) } : {}) } } : {}),
  }));
}

/** Reads hosts.yaml; an error names the file, line and column. */
export function loadHosts(file: string): HostSpec[] {
  return checkHosts(readSource(file));
}

export function parseHosts(file: string, text: string): HostSpec[] {
  return checkHosts(parseSource(file, text));
}

/** What one VM costs the host beyond its guest memory (QEMU process, page tables, caches). */
export const QEMU_OVERHEAD_MIB = 600;
/** Kept free for the controller and the host itself. */
export const HOST_RESERVE_MIB = 2048;
export const DEFAULT_VM_MEMORY_MIB = 2048;

/** Slots a machine can hold: one per core, and no more VMs than fit in memory; at least one. */
export function slotsFor(cores: number, memoryMiB: number, vmMemoryMiB: number = DEFAULT_VM_MEMORY_MIB): number {
  const byMemory = Math.floor((memoryMiB - HOST_RESERVE_MIB) / (vmMemoryMiB + QEMU_OVERHEAD_MIB));
  return Math.max(1, Math.min(Math.floor(cores), byMemory));
}

/** This machine alone, provider qemu, slots from its cores and memory. */
export function defaultHosts(o: { vmMemoryMiB?: number } = {}): HostSpec[] {
  const memoryMiB = Math.floor(os.totalmem() / (1024 * 1024));
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  return [{ name: os.hostname() || 'localhost', provider: 'qemu', reach: 'local', slots: slotsFor(cores, memoryMiB, o.vmMemoryMiB), cores, memoryMiB, images: ['*'] }];
}

/** `--slots N`: the same number of slots on every host. */
export function parseSlots(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 256) throw new UsageError(`--slots ${text}: expected a whole number from 1 to 256`);
  return n;
}

export function withSlots(hosts: readonly HostSpec[], slots: number | undefined): HostSpec[] {
  return hosts.map((h) => (slots === undefined ? { ...h } : { ...h, slots }));
}

export function hostHasImage(h: HostSpec, release: string): boolean {
  return h.images.includes('*') || h.images.includes(release);
}
