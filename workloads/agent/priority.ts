// The measuring process's scheduling priority. A filter's cost is paid in the thread that opens the
// file (a minifilter's pre-create callback, the lab module's kprobe), so raising that thread's priority
// does not hide it; what it can keep out of the figures is unrelated guest housekeeping preempting the
// measurement between its two clock reads. On the lab guest under TCG that preemption is real (the RCU
// grace-period thread and softirqs: hundreds of involuntary switches per 2,000 opens at normal
// priority, a few dozen at nice -20), but measuring at nice -20 did not make the calibration reliably
// closer (bench/lab-calibrate: 29% vs 37% over a 200 µs delay in one interleaved run, -2% vs 43% in
// another, and one run whose delay-0 side doubled while starved writeback competed). What did work is
// moving the housekeeping off the measuring CPU instead (images/lab/boot-args.ts, measurement VMs), so:
//   normal the default: leave it as started
//   high   Linux: nice -20 (PRIORITY_HIGHEST); Windows: HIGH_PRIORITY_CLASS (PRIORITY_HIGH, not
//          REALTIME, which could starve the guest's own I/O threads)
// Raising priority needs root on Linux (the agent runs as root in the lab guest) and is allowed for
// HIGH on Windows; when refused, the step still runs and the result says what was applied and why.
import * as os from 'node:os';
import type { PriorityOutcome, PriorityRequest } from './protocol.ts';

export function applyPriority(requested: PriorityRequest, platform: NodeJS.Platform = process.platform): PriorityOutcome {
  const before = readPriority();
  if (requested === 'normal') return { requested, applied: before, note: null };
  const target = platform === 'win32' ? os.constants.priority.PRIORITY_HIGH : os.constants.priority.PRIORITY_HIGHEST;
  try {
    os.setPriority(target);
  } catch (err) {
    // Node raises a SystemError (code ERR_SYSTEM_ERROR) whose errno name is in info.code.
    const e = err as { code?: string; info?: { code?: string } };
    const code = e.info?.code ?? e.code ?? (err as Error).name;
    return { requested, applied: before, note: `setPriority(${target}) refused (${code}); measured at priority ${before}` };
  }
  return { requested, applied: readPriority(), note: null };
}

function readPriority(): number | null {
  try {
    return os.getPriority();
  } catch {
    return null;
  }
}
