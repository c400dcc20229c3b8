// The lab guest image for the provider's integration tests (see images/lab/for-tests.ts).
import type { ImageManifest } from '../../../../images/manifest.ts';
import { labImageForTests } from '../../../../images/lab/for-tests.ts';

export type LabImage = { dir: string; manifest: ImageManifest };

export async function findLabImage(): Promise<LabImage | { missing: string }> {
  return labImageForTests();
}
