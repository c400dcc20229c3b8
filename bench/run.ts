// Runs the benchmarks named on the command line (default: the quick ones), each in its own process so
// one's memory and JIT state do not colour another's figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.replace(/\.ts$/, ''));
const QUICK = ['matrix-expand'];
const wanted = process.argv.slice(2);
const names = wanted.length === 0 ? QUICK : wanted[0] === 'all' ? all : wanted;
let failed = 0;
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`bench: no benchmark "${name}"; have: ${all.join(', ')}`);
    failed++;
    continue;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
