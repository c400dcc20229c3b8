// Which CellRunner runs a cell: the registry the scheduler's callers look runners up in. Windows
// releases get theirs with the Windows lifecycle (a Hyper-V or QEMU Windows image); until then their
// cells end as infra errors saying so, never as a verdict about the product.
import { InfraFailure } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { isLabCell, labRunner } from './lab-runner.ts';
import type { CellRunner } from './types.ts';

/**
 * The lab's latency budget: what a filter's open path costs, per file. A regressed step fails its
 * cell when its p50 grew by more than 500 µs and by more than half; under TCG an open costs about
 * 100 µs, so a driver adding 2 ms per open is far over. Judged: the steps whose cost is the open path
 * (open, and read, which opens each file). Reported, not judged: steps that also wait on the page
 * cache and the ext4 journal (create, write, rename, delete), whose p50 moves by half or more
 * between runs under TCG even on a quiet host (the good build beside the partner filter once
 * measured create +643 µs, +60%, with nothing else running); and bulk steps (a listing of thousands
 * of files, parallel opens contending for one vCPU through Node's thread pool).
 */
export const LAB_LATENCY_BUDGET = {
  open: { absUs: 500, rel: 0.5 },
  read: { absUs: 500, rel: 0.5 },
};

const lab = labRunner({ runs: 2, latencyBudget: LAB_LATENCY_BUDGET });

/** Is there a runner for this cell's OS? (Checked at plan time: harness/run/prepare.ts.) */
export function hasRunner(cell: Cell): boolean {
  return isLabCell(cell);
}

export function runnerFor(cell: Cell): CellRunner {
  if (isLabCell(cell)) return lab;
  throw new InfraFailure(`no runner for ${cell.os.release} yet: Windows cells need the Windows lifecycle and an image for ${cell.os.release} ${cell.os.patchLevel ?? ''}`.trimEnd());
}
