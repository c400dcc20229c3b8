// Which Windows images a matrix needs (one per release and patch level) and which the image store
// has. The store is a folder (default <repo>/.cache/images/windows, or FLEETGATE_IMAGES) with one
// folder per image holding manifest.json and the disk; folders are named imageName(release, build, ubr).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cell } from '../../matrix/index.ts';
import { imageName, readWindowsManifest, type WindowsImageManifest } from './manifest.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function defaultImageStore(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLEETGATE_IMAGES ?? path.join(REPO, '.cache', 'images', 'windows');
}

export interface NeededImage {
  name: string;
  release: string;
  build: number;
  ubr: number;
  kb: number;
  month: string | null;
  patchLevel: string;
  /** How many cells of the matrix boot it. */
  cells: number;
}

/** One image per release and patch level, in the matrix's order; the lab pseudo-release needs none. */
export function imagesForCells(cells: readonly Cell[]): NeededImage[] {
  const out = new Map<string, NeededImage>();
  for (const c of cells) {
    const { release, build, ubr, kb, month } = c.os;
    if (c.os.family === 'lab' || build === null || ubr === null || kb === null) continue;
    const name = imageName(release, build, ubr);
    const seen = out.get(name);
    if (seen) seen.cells++;
    else out.set(name, { name, release, build, ubr, kb, month, patchLevel: `${build}.${ubr}`, cells: 1 });
  }
  return [...out.values()];
}

export interface StoredImage {
  dir: string;
  manifest?: WindowsImageManifest;
  /** Why the folder is not a usable image (unreadable or invalid manifest). */
  error?: string;
}

export function scanImageStore(store: string): StoredImage[] {
  let names: string[];
  try {
    names = readdirSync(store).sort();
  } catch {
    return [];
  }
  const out: StoredImage[] = [];
  for (const n of names) {
    const dir = path.join(store, n);
    if (!statSync(dir).isDirectory()) continue;
    try {
      out.push({ dir, manifest: readWindowsManifest(dir) });
    } catch (err) {
      out.push({ dir, error: (err as Error).message });
    }
  }
  return out;
}

export type ImageStatus = 'present' | 'missing' | 'mismatched';

export interface ImagePlanRow extends NeededImage {
  status: ImageStatus;
  dir?: string;
  /** For mismatched: what disagrees (or why the folder's manifest cannot be read). */
  reasons: string[];
}

/**
 * present: a stored image of the release whose manifest says the cell's build.UBR and KB.
 * mismatched: the folder named for the image exists, but its manifest says another build.UBR or KB
 * (or cannot be read). missing: neither.
 */
export function planImages(needed: readonly NeededImage[], stored: readonly StoredImage[]): ImagePlanRow[] {
  return needed.map((n) => {
    const match = stored.find(
      (s) => s.manifest && s.manifest.os.release === n.release && s.manifest.os.build === String(n.build) && s.manifest.os.ubr === n.ubr && s.manifest.os.kbs.includes(n.kb),
    );
    if (match) return { ...n, status: 'present', dir: match.dir, reasons: [] };
    const named = stored.find((s) => path.basename(s.dir) === n.name);
    if (!named) return { ...n, status: 'missing', reasons: [] };
    if (!named.manifest) return { ...n, status: 'mismatched', dir: named.dir, reasons: [named.error ?? 'unreadable manifest'] };
    const m = named.manifest;
    const reasons: string[] = [];
    if (m.os.release !== n.release) reasons.push(`release ${m.os.release}, the cell wants ${n.release}`);
    if (`${m.os.build}.${m.os.ubr}` !== n.patchLevel) reasons.push(`build.UBR ${m.os.build}.${m.os.ubr}, the cell wants ${n.patchLevel}`);
    if (!m.os.kbs.includes(n.kb)) reasons.push(`KBs ${m.os.kbs.map((k) => `KB${k}`).join(', ') || 'none'}, the cell wants KB${n.kb}`);
    return { ...n, status: 'mismatched', dir: named.dir, reasons };
  });
}
