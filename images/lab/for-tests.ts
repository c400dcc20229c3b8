// The lab guest for integration tests: the current image (built now if its inputs changed or none is
// cached; a cache hit costs about a second). Where it cannot be built (no apt tools, no Debian
// mirror), the newest cached image is used, and failing that the caller skips with the reason.
import { buildLabImage, latestLabImage, type LabManifest } from './build.ts';

export type LabImageForTests = { dir: string; manifest: LabManifest } | { missing: string };

let memo: Promise<LabImageForTests> | undefined;

export function labImageForTests(): Promise<LabImageForTests> {
  memo ??= (async () => {
    const explicit = process.env.FLEETGATE_LAB_IMAGE;
    if (explicit) {
      const { readLabManifest } = await import('./build.ts');
      const m = await readLabManifest(explicit);
      return m ? { dir: explicit, manifest: m } : { missing: `FLEETGATE_LAB_IMAGE=${explicit} has no readable manifest.json` };
    }
    try {
      const built = await buildLabImage();
      return { dir: built.dir, manifest: built.manifest };
    } catch (err) {
      const cached = await latestLabImage();
      if (cached) return cached;
      return { missing: `the lab image cannot be built here: ${err instanceof Error ? err.message : String(err)}` };
    }
  })();
  return memo;
}
