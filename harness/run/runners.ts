// Which CellRunner runs a cell: the registry the scheduler's callers look runners up in. Windows
// releases get theirs with the Windows lifecycle (a Hyper-V or QEMU Windows image); until then their
// cells end as infra errors saying so, never as a verdict about the product.
import { InfraFailure } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { isLabCell, labRunner } from './lab-runner.ts';
import type { CellRunner } from './types.ts';

/**
 * The lab's latency budget: a regressed step fails its cell when its p50 grew by more than 500 µs
 * and by more than half. Under TCG an open costs about 100 µs, so a driver adding 2 ms per open is
 * far over; noise on a 20 ms directory listing is not.
 */
export const LAB_LATENCY_BUDGET = { '*': { absUs: 500, rel: 0.5 } };

const lab = labRunner({ runs: 2, latencyBudget: LAB_LATENCY_BUDGET });

export function runnerFor(cell: Cell): CellRunner {
  if (isLabCell(cell)) return lab;
  throw new InfraFailure(`no runner for ${cell.os.release} yet: Windows cells need the Windows lifecycle and an image for ${cell.os.release} ${cell.os.patchLevel ?? ''}`.trimEnd());
}
