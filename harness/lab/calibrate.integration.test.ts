// How precise the harness is, for real: the lab module adds D µs to every open; file-storm's open step
// is measured at delay 0 and at D on one booted lab guest. The comparison must call the D side
// regressed and a repeat at delay 0 no-change, and the measured p50 overhead must be within 15% of D.
// Timing-sensitive: run on a machine not busy with other VMs (tap runs test files one at a time here).
import t from 'tap';
import { existsSync } from 'node:fs';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { calibrate } from './calibrate.ts';

const image = await labImageForTests();
const skip = (!existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed') || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP calibration test: ${skip}`);

// D is 1,000 µs: the issue asks for a D "large enough to stand above TCG's noise". On these shared
// 2-core TCG hosts one run's p50 open at delay 0 differs from the next one's by up to 40-90 µs
// (bench/lab-calibrate: 118-204 µs in one bench), more than 15% of 200 µs, so at D = 200 µs the bound
// would test the host's luck, not the harness. Measured on the isolated CPU: a C program timing
// open+close reads 1,000 µs as 1,020-1,040 µs, the agent's Node path as 1,015-1,090 µs (+1.5-9%);
// 200 µs reads as 215-250 µs (+7-25%). bench/lab-calibrate prints both.
t.test('p50 open overhead within 15% of a 1,000 µs delay; D regressed, a repeat of 0 no-change', { skip }, async (t) => {
  const D = 1000;
  const r = await calibrate({ delayUs: D, runs: 5, log: (l) => t.comment(l) });
  t.comment(JSON.stringify({ ...r, comparison: undefined }));
  t.same(r.cpus, { guest: 2, agent: '1' }, 'the agent ran pinned to the isolated CPU of a two-vCPU guest');
  t.equal(r.change, 'regressed', 'the D side is a regression');
  t.equal(r.nullChange, 'no-change', 'a repeat at delay 0 is no change');
  t.ok(Math.abs(r.errorPct) <= 15, `overhead ${r.overheadP50Us} µs for ${D} µs: ${r.errorPct.toFixed(1)}% off (rounds ${r.roundOverheadsUs.join(', ')}; noise ${r.noiseP50Us} µs)`);
});
