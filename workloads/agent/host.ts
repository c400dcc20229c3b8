// Facts about the machine the agent ran on, kept with every result so a figure can be traced to the
// guest (and its kernel or Windows build) that produced it.
import * as os from 'node:os';
import type { HostFacts } from './protocol.ts';

export function hostFacts(): HostFacts {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    release: os.release(),
    hostname: os.hostname(),
    cpus: { count: cpus.length, model: cpus[0]?.model.trim() ?? 'unknown' },
    totalMemBytes: os.totalmem(),
  };
}
