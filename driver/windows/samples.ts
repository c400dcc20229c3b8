// Where the real Windows outputs live for tests (shared/samples, beside the repository). Tests skip with
// this reason when the folder is missing; the `# Source:` (or `# source:`) provenance line is blanked, not
// removed, so line numbers still match the file.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLES_DIR = path.resolve(repo, '../shared/samples');

/** A tap `skip` value: false when the samples exist, else the reason. */
export function samplesSkip(folder: string): false | string {
  return existsSync(path.join(SAMPLES_DIR, folder)) ? false : `real Windows samples not found at ${path.join(SAMPLES_DIR, folder)} (shared/samples is not checked out beside the repository)`;
}

export function listSamples(folder: string): string[] {
  const dir = path.join(SAMPLES_DIR, folder);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort() : [];
}

export function readSample(folder: string, name: string): string {
  return readFileSync(path.join(SAMPLES_DIR, folder, name), 'utf8').replace(/^# source:[^\n]*/i, '');
}
