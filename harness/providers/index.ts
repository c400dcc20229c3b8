// The provider registry: backends as data (syzkaller's vmimpl.Register), looked up by name. Adding
// a kind to ProviderKind (say 'hyperv') fails to compile until its entry is here.
import { UsageError } from '../../lib/errors.ts';
import { HyperVProvider, HYPERV_TIMEOUTS, type HyperVProviderOptions } from './hyperv/hyperv.ts';
import { QemuProvider, QEMU_TIMEOUTS, type QemuProviderOptions } from './qemu/qemu.ts';
import type { Provider, ProviderFactory, ProviderKind, ProviderOptions } from './types.ts';

export const providers = {
  qemu: {
    traits: { overcommit: true, local: true, hostDumps: true, timeouts: QEMU_TIMEOUTS },
    create: (options?: ProviderOptions): Provider => new QemuProvider(options as QemuProviderOptions | undefined),
  },
  // Host-side polling of a local or remote (SSH) Hyper-V host; the guest writes its own dumps.
  hyperv: {
    traits: { overcommit: true, local: false, hostDumps: false, timeouts: HYPERV_TIMEOUTS },
    create: (options?: ProviderOptions): Provider => new HyperVProvider(options as HyperVProviderOptions | undefined),
  },
} satisfies Record<ProviderKind, ProviderFactory>;

export function isProviderKind(name: string): name is ProviderKind {
  return Object.hasOwn(providers, name);
}

export function createProvider(kind: string, options?: ProviderOptions): Provider {
  if (!isProviderKind(kind)) {
    throw new UsageError(`unknown provider '${kind}' (known: ${Object.keys(providers).join(', ')})`);
  }
  return providers[kind].create(options);
}

export type * from './types.ts';
export { hasHostDump, hasMonitor, PROVIDER_KINDS } from './types.ts';
