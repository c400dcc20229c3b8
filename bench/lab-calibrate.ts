// Benchmark: the harness's precision on this host. Runs `fleetgate lab calibrate` (the lab module adds
// D µs per open; file-storm's open step at delay 0 and at D, interleaved) and prints the figures.
// BENCH_DELAY_US (default "200,1000": the example and the test's D) and BENCH_RUNS (default 5)
// choose the delays and the rounds;
// BENCH_PRIORITY (default normal, the workload's; "both" runs normal then high) the agent's priority,
// to show what measuring at high priority buys (workloads/agent/priority.ts).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { calibrate } from '../harness/lab/calibrate.ts';
import type { PriorityRequest } from '../workloads/agent/protocol.ts';

const delays = (process.env.BENCH_DELAY_US ?? '200,1000').split(',').map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const which = process.env.BENCH_PRIORITY ?? 'normal';
const priorities: PriorityRequest[] = which === 'both' ? ['normal', 'high'] : [which === 'high' ? 'high' : 'normal'];
const f = (n: number) => n.toFixed(1);
// The host's own noise over the run: CPU time stolen by the hypervisor under this machine, and load.
const cpuTimes = () => readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
for (const delayUs of delays) for (const priority of priorities) {
  const before = cpuTimes();
  const r = await calibrate({ delayUs, runs, priority, log: (l) => process.stderr.write(`${l}\n`) });
  console.log(
  `lab-calibrate: ${r.accel}, agent on CPU ${r.cpus.agent ?? 'any'} of ${r.cpus.guest}, priority ${priority} (nice ${r.priority?.applied ?? '?'}), ${runs} rounds; p50 open ${f(r.baselineP50Us)} µs at delay 0 (${r.noModuleP50Us ?? '-'} µs without the module), ` +
    `${f(r.driverP50Us)} µs at delay ${delayUs}; overhead ${f(r.overheadP50Us)} µs (rounds ${r.roundOverheadsUs.map((x) => x.toFixed(0)).join(' ')}; comparison's 95% CI ${f(r.ci95.low)}..${f(r.ci95.high)}), ` +
    `error ${f(r.errorPct)}%; noise ${f(r.noiseP50Us)} µs from round to round; change ${r.change}; repeat at delay 0: ${r.nullChange}`,
  );
  const d = cpuTimes().map((v, i) => v - before[i]!);
  const total = d.reduce((a, b) => a + b, 0);
  console.log(`  host: steal ${((100 * (d[7] ?? 0)) / total).toFixed(1)}%, busy ${((100 * (total - d[3]! - d[4]!)) / total).toFixed(0)}%, load average ${loadavg()[0]!.toFixed(2)}`);
}
