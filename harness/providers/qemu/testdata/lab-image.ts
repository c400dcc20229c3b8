// Finds the lab guest image for integration tests: $FLEETGATE_LAB_IMAGE, else the newest complete
// build under .cache/lab/, else (FLEETGATE_BUILD_LAB=1) builds one. Otherwise says why not.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageManifest } from '../../../../images/manifest.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export type LabImage = { dir: string; manifest: ImageManifest };

async function read(dir: string): Promise<LabImage | undefined> {
  try {
    return { dir, manifest: JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as ImageManifest };
  } catch {
    return undefined;
  }
}

export async function findLabImage(): Promise<LabImage | { missing: string }> {
  const explicit = process.env.FLEETGATE_LAB_IMAGE;
  if (explicit) return (await read(explicit)) ?? { missing: `FLEETGATE_LAB_IMAGE=${explicit} has no readable manifest.json` };
  const labDir = path.join(REPO, '.cache', 'lab');
  let best: LabImage | undefined;
  for (const e of await readdir(labDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(e)) continue;
    const img = await read(path.join(labDir, e));
    if (img && (!best || img.manifest.builtAt > best.manifest.builtAt)) best = img;
  }
  if (best) return best;
  if (process.env.FLEETGATE_BUILD_LAB === '1') {
    const { buildLabImage } = await import('../../../../images/lab/build.ts');
    const built = await buildLabImage();
    return { dir: built.dir, manifest: built.manifest };
  }
  return { missing: `no lab image under ${labDir} (build one with: node --import tsx images/lab/build.ts, or set FLEETGATE_BUILD_LAB=1)` };
}
