// Which CellRunner runs a cell: the registry the scheduler's callers look runners up in. Windows
// releases get theirs with the Windows lifecycle (a Hyper-V or QEMU Windows image); until then their
// cells end as infra errors saying so, never as a verdict about the product.
import { InfraFailure } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { isLabCell, labRunner } from './lab-runner.ts';
import type { CellRunner } from './types.ts';

/** The lab's latency budget: absolute p50 overhead per step (µs) before a regression fails a cell. */
export const LAB_LATENCY_BUDGET_US: Record<string, number> = { '*': 500 };

const lab = labRunner({ runs: 2, latencyBudgetUs: LAB_LATENCY_BUDGET_US });

export function runnerFor(cell: Cell): CellRunner {
  if (isLabCell(cell)) return lab;
  throw new InfraFailure(`no runner for ${cell.os.release} yet: Windows cells need the Windows lifecycle and an image for ${cell.os.release} ${cell.os.patchLevel ?? ''}`.trimEnd());
}
