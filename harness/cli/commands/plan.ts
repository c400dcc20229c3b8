// `fleetgate plan MATRIX [--shard i/n] [--json]`: the cells a matrix expands to, counts per axis, and
// warnings. Nothing is booted.
import type { Command } from 'commander';
import { formatPlace } from '../../../lib/errors.ts';
import { cellJson } from '../../../matrix/cell-json.ts';
import { parseMaxCells, parseShard, planMatrix, selectShard, type Cell, type Plan } from '../../../matrix/index.ts';

/** How many cells take each value of each axis (os counted per release and per patch level). */
export function axisCounts(cells: readonly Cell[]): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = { release: {}, patchLevel: {}, driver: {}, verifier: {}, workloads: {}, coexist: {}, repeat: {} };
  const bump = (axis: string, key: string): void => {
    const m = counts[axis]!;
    m[key] = (m[key] ?? 0) + 1;
  };
  for (const c of cells) {
    bump('release', c.os.release);
    bump('patchLevel', c.os.patchLevel ? `${c.os.release} ${c.os.patchLevel}` : c.os.release);
    bump('driver', c.driver);
    bump('verifier', c.verifier);
    bump('workloads', c.workloads.join('+') || '(none)');
    bump('coexist', c.coexist.join('+') || '(alone)');
    bump('repeat', String(c.repeat));
  }
  return counts;
}

function printHuman(plan: Plan, cells: Cell[], shardLabel: string | undefined): void {
  const out: string[] = [];
  out.push(`matrix ${plan.name} (${plan.file}): ${cells.length} cells${shardLabel ? ` in shard ${shardLabel} of ${plan.cells.length}` : ''}`);
  const counts = axisCounts(cells);
  for (const [axis, m] of Object.entries(counts)) {
    out.push(`  ${axis.padEnd(10)} ${Object.entries(m).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  }
  out.push('');
  const rows = cells.map((c) => [
    c.id,
    c.os.release,
    c.os.patchLevel ?? '-',
    c.os.kb ? `KB${c.os.kb}` : '-',
    c.os.month ?? '-',
    c.driver + (c.driverBuild.upgradeFrom ? ` (from ${c.driverBuild.upgradeFrom.name})` : ''),
    c.verifier,
    c.workloads.join('+'),
    c.coexist.join('+') || '-',
    String(c.repeat),
    c.tags.join(',') || '-',
  ]);
  const head = ['id', 'release', 'patch', 'kb', 'month', 'driver', 'verifier', 'workloads', 'coexist', 'rep', 'tags'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  out.push(line(head));
  for (const r of rows) out.push(line(r));
  process.stdout.write(`${out.join('\n')}\n`);
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('expand a matrix into cells and show them, with counts per axis and warnings')
    .argument('<matrix>', 'matrix YAML file')
    .option('--shard <i/n>', 'only the cells of shard i of n (deterministic; every cell in exactly one shard)')
    .option('--json', 'machine-readable output')
    .option('--max-cells <n>', 'refuse a matrix that could expand to more than N cells (default MATRIX_MAX_CELLS, 10,000)')
    .action((file: string, opts: { shard?: string; json?: boolean; maxCells?: string }) => {
      const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
      const plan = planMatrix(file, opts.maxCells !== undefined ? { maxCells: parseMaxCells(opts.maxCells) } : {});
      const cells = shard ? selectShard(plan.cells, shard) : plan.cells;
      for (const w of plan.warnings) process.stderr.write(`warning: ${formatPlace(w.place)}: ${w.message}\n`);
      if (opts.json) {
        const doc = {
          matrix: { name: plan.name, file: plan.file, description: plan.description ?? null, gate: plan.gate ?? null },
          shard: shard ? `${shard.index}/${shard.total}` : null,
          total: plan.cells.length,
          count: cells.length,
          counts: axisCounts(cells),
          warnings: plan.warnings.map((w) => ({ place: formatPlace(w.place), message: w.message })),
          cells: cells.map(cellJson),
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        printHuman(plan, cells, shard ? `${shard.index}/${shard.total}` : undefined);
      }
    });
}
