// Making inputs for the hostile-input benchmark's reader groups (bench/hostile/*.ts): real samples
// read from a folder, grown by whole lines to the size asked, and a fuzz corpus of mutated samples
// (the fuzz tests' mutations, fixed seed). No readers here: bench/hostile-input.ts skips this file.
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HostileCase } from './types.ts';
import { mutatedText } from '../../lib/testdata/mutate.ts';

export const KB = 1024;

export const asText = (input: string | Uint8Array): string => (typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));

/** The files of `dir` ending in `ext`, sorted, with their text; none when the folder is missing. */
export function folder(dir: string, ext: string): Array<{ name: string; text: string }> {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((name) => ({ name, text: readFileSync(`${dir}${name}`, 'utf8') })) : [];
}

/** `text` repeated (whole lines) to about `kb` KB. */
export function grow(text: string, kb: number): string {
  const unit = text.endsWith('\n') ? text : `${text}\n`;
  return unit.repeat(Math.max(1, Math.ceil((kb * KB) / unit.length))).slice(0, kb * KB);
}

/** `prefix`, then `unit` repeated to about `kb` KB. */
export const repeatTo = (unit: string, kb: number, prefix = ''): string => prefix + unit.repeat(Math.max(1, Math.ceil((kb * KB - prefix.length) / unit.length)));

/** One case per sample, grown to the size asked. */
export const samples = (list: Array<{ name: string; text: string }>): HostileCase[] => list.map((s) => ({ label: `sample ${s.name}`, make: (kb) => grow(s.text, kb) }));

/** Fuzz corpus: `n` mutated seeds (fixed seed), each grown to the size asked. */
export function fuzz(seeds: string[], n = 6): HostileCase[] {
  if (seeds.length === 0) return [];
  return fc.sample(mutatedText(seeds), { seed: 1616, numRuns: n }).map((text, i) => ({ label: `fuzz corpus #${i}`, make: (kb) => grow(text, kb) }));
}

/** Median of 5 runs of `f`, in ms; a reader's own refusal counts as an answer. */
export function medianMs(f: () => unknown): number {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    try {
      f();
    } catch {
      // the reader's own refusal: handled
    }
    runs.push(performance.now() - t0);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

/** A line of a group's direct-run output: what, its size, its time. */
export const printRow = (what: string, text: string, ms: number): void =>
  console.log(`  ${what.padEnd(58)} ${(Buffer.byteLength(text) / KB).toFixed(0).padStart(6)} KB  ${ms.toFixed(2).padStart(8)} ms`);
