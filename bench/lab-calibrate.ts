// Benchmark: the harness's precision on this host. Runs `fleetgate lab calibrate` (the lab module adds
// D µs per open; file-storm's open step at delay 0 and at D, interleaved) and prints the figures.
// BENCH_DELAY_US (default 200) and BENCH_RUNS (default 3) choose the delay and the runs per side;
// BENCH_PRIORITY (default high; "both" runs normal then high) the agent's priority, to show what
// measuring at high priority buys (workloads/agent/priority.ts).
import { calibrate } from '../harness/lab/calibrate.ts';
import type { PriorityRequest } from '../workloads/agent/protocol.ts';

const delayUs = Number(process.env.BENCH_DELAY_US ?? 200);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const which = process.env.BENCH_PRIORITY ?? 'high';
const priorities: PriorityRequest[] = which === 'both' ? ['normal', 'high'] : [which === 'normal' ? 'normal' : 'high'];
const f = (n: number) => n.toFixed(1);
for (const priority of priorities) {
  const r = await calibrate({ delayUs, runs, priority, log: (l) => process.stderr.write(`${l}\n`) });
  console.log(
  `lab-calibrate: ${r.accel}, priority ${priority} (nice ${r.priority?.applied ?? '?'}), ${runs} runs per side; p50 open ${f(r.baselineP50Us)} µs at delay 0 (${r.noModuleP50Us ?? '-'} µs without the module), ` +
    `${f(r.driverP50Us)} µs at delay ${delayUs}; overhead ${f(r.overheadP50Us)} µs (95% CI ${f(r.ci95.low)}..${f(r.ci95.high)}), ` +
    `error ${f(r.errorPct)}%; change ${r.change}; repeat at delay 0: ${r.nullChange}`,
  );
}
