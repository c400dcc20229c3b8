// What runs where is decided before the first VM: which cells can run on these hosts at all (a
// runner for their OS, a host with their image), and the host-side builds the runners need (the lab
// image and modules), each done once. A host that cannot build them is reported once with its
// cause and nothing starts: a broken toolchain is not three retried cells and a quarantined host.
import { buildLabImage } from '../../images/lab/build.ts';
import { buildLabDriver, LabDriverRejected } from '../../driver/lab/build.ts';
import { defaultImageStore, imagesForCells, planImages, scanImageStore } from '../../images/windows/store.ts';
import { FleetgateError, EXIT, UsageError } from '../../lib/errors.ts';
import type { Cell } from '../../matrix/index.ts';
import { hostHasImage, type HostSpec } from './hosts.ts';
import { isLabCell, labBuildsOf } from '../guest/linux/personality.ts';
import { hasRunner } from './runners.ts';

export interface UnavailableCell {
  cell: Cell;
  reason: string;
}

/** The host could not do the host-side work the cells need: exit 2, before anything started. */
export class HostNotReady extends FleetgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.inconclusive, options);
  }
}

function cellLabel(c: Cell): string {
  const os = c.os.patchLevel ? `${c.os.release} ${c.os.patchLevel}` : c.os.release;
  return `${c.id.slice(0, 12)} ${os} · ${c.driver} · verifier=${c.verifier}`;
}

/** Cells that no host here can run, each with why. Pure but for reading the Windows image store. */
export function unavailableCells(cells: readonly Cell[], hosts: readonly HostSpec[], o: { imageStore?: string } = {}): UnavailableCell[] {
  const out: UnavailableCell[] = [];
  const store = o.imageStore ?? defaultImageStore();
  let stored: ReturnType<typeof scanImageStore> | undefined;
  for (const cell of cells) {
    const release = cell.os.release;
    const reasons: string[] = [];
    if (isLabCell(cell)) {
      if (!hosts.some((h) => h.provider === 'qemu' && hostHasImage(h, release))) {
        reasons.push('no host here runs lab cells (they need a qemu host whose images list lab or *)');
      }
    } else {
      if (!hasRunner(cell)) reasons.push(`no runner for ${release} cells`);
      stored ??= scanImageStore(store);
      for (const row of planImages(imagesForCells([cell]), stored)) {
        if (row.status === 'missing') reasons.push(`image ${row.name} is not in ${store}`);
        if (row.status === 'mismatched') reasons.push(`image ${row.name} in ${store} is not that patch level: ${row.reasons.join('; ')}`);
      }
      if (!hosts.some((h) => hostHasImage(h, release))) reasons.push(`no host in the inventory lists ${release} in its images`);
    }
    if (reasons.length) out.push({ cell, reason: reasons.join('; ') });
  }
  return out;
}

/** The exit-64 error for a run asked of cells that cannot run here, naming them and the way out. */
export function unavailableError(list: readonly UnavailableCell[], total: number, matrixFile: string): UsageError {
  const shown = list.slice(0, 10).map((u) => `  ${cellLabel(u.cell)}: ${u.reason}`);
  if (list.length > shown.length) shown.push(`  … and ${list.length - shown.length} more`);
  return new UsageError(
    `${list.length} of ${total} cells cannot run on these hosts; nothing was started:\n${shown.join('\n')}\n` +
      `\`fleetgate images plan ${matrixFile}\` lists the images the matrix needs and which are missing; ` +
      '--skip-unavailable marks these cells skipped and runs the rest',
  );
}

/**
 * The host-side builds of the cells that will run, once each: the lab image and every lab module
 * they load. The compiler refusing a module is not the host's problem (those cells end
 * install-failure); anything else that fails here is, and stops the run before its first VM.
 */
export async function prepareHost(cells: readonly Cell[], log: (line: string) => void): Promise<void> {
  const lab = cells.filter(isLabCell);
  if (lab.length === 0) return;
  // The driver packages first: a bad one is bad input (exit 64), not the host's problem.
  const wanted = lab.flatMap((c) => labBuildsOf(c));
  try {
    const image = await buildLabImage({ log: (l) => log(`lab image: ${l}`) });
    log(`lab image ready: ${image.dir}${image.cached ? ' (cached)' : ` (built in ${image.seconds.toFixed(0)} s)`}`);
    const kernelRelease = image.manifest.os.build;
    const builds = new Map(wanted.map((b) => [`${b.name}\0${b.source ?? ''}`, b]));
    for (const { name, source } of builds.values()) {
      try {
        const ko = await buildLabDriver({ name, kernelRelease, ...(source ? { source } : {}) });
        log(`lab module ready: ${name}.ko for ${kernelRelease} (${ko.sha256.slice(0, 12)})`);
      } catch (err) {
        if (!(err instanceof LabDriverRejected)) throw err;
        log(`lab module ${name}.ko does not build for ${kernelRelease}: the cells that load it end install-failure`);
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new HostNotReady(`this host cannot prepare the lab cells, so none was started: ${why}`, { cause: err });
  }
}
