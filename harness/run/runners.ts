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
 * 100 µs, so a driver adding 2 ms per open is far over. Bulk steps (a listing of thousands of files,
 * parallel opens contending for one vCPU through Node's thread pool) swing by half or more between
 * runs on a busy 2-core host: they are measured and reported, not judged.
 */
export const LAB_LATENCY_BUDGET = {
  create: { absUs: 500, rel: 0.5 },
  open: { absUs: 500, rel: 0.5 },
  read: { absUs: 500, rel: 0.5 },
  write: { absUs: 500, rel: 0.5 },
  rename: { absUs: 500, rel: 0.5 },
  delete: { absUs: 500, rel: 0.5 },
};

const lab = labRunner({ runs: 2, latencyBudget: LAB_LATENCY_BUDGET });

export function runnerFor(cell: Cell): CellRunner {
  if (isLabCell(cell)) return lab;
  throw new InfraFailure(`no runner for ${cell.os.release} yet: Windows cells need the Windows lifecycle and an image for ${cell.os.release} ${cell.os.patchLevel ?? ''}`.trimEnd());
}
