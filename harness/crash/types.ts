// What crash parsers return. Parsers are pure (text in, report out) and import nothing from
// providers/ or guest/; the cell monitor joins them with hypervisor events.
import type { Truncation } from '../../lib/text-bounds.ts';

/**
 * The closed set of crash kinds, used as-is in golden files, journals and report labels so history and
 * deduplication stay stable. Keep sorted.
 */
export const CRASH_KINDS = [
  'BOOT_FAILURE', // the guest did not come back after a driver install or a verifier reboot
  'BUGCHECK', // Windows stop error
  'HANG', // a CPU or task stuck (lockup detectors, or no heartbeat and an NMI)
  'LOST_CONNECTION', // the guest channel went away without any crash evidence
  'NO_OUTPUT', // nothing from the guest for too long
  'OOPS', // Linux oops (the lab's bugcheck)
  'PANIC', // Linux panic without an oops before it
  'WARNING', // Linux WARN(): not fatal, reported
] as const;
export type CrashKind = (typeof CRASH_KINDS)[number];

export interface StackFrame {
  function: string;
  /** Offset within the function, e.g. `0x1a`. */
  offset?: string;
  /** Module that holds the function; absent means the kernel image itself. */
  module?: string;
}

export interface CrashReport {
  kind: CrashKind;
  /** One line, stable across runs of the same bug (no addresses, pids or timestamps). */
  title: string;
  /** The module blamed (without extension), when known. */
  module?: string;
  /** The function blamed (the first frame that is not generic kernel plumbing). */
  function?: string;
  frames: StackFrame[];
  /** The report's lines, from the first line of the crash (1-based line numbers into the input). */
  startLine: number;
  endLine: number;
  /** True when the text was cut short (no end marker): the title may be less precise. */
  corrupted: boolean;
  /** Present when the reader cut its input to its bounds (issue #16): what it did not read. */
  truncated?: Truncation;
}
