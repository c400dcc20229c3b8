// Facts about the machine the agent ran on, kept with every result so a figure can be traced to the
// guest (and its kernel or Windows build) that produced it.
import { readFileSync } from 'node:fs';
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
    cpus: { count: cpus.length, model: cpus[0]?.model.trim() ?? 'unknown', ...allowedCpus() },
    totalMemBytes: os.totalmem(),
  };
}

/**
 * Linux: the CPUs this process may run on (Cpus_allowed_list), so a result shows whether it was
 * pinned to the guest's measurement CPU. Absent elsewhere, or when /proc can't be read.
 */
function allowedCpus(): { allowed?: string } {
  if (process.platform !== 'linux') return {};
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] ? { allowed: m[1] } : {};
  } catch {
    return {};
  }
}
