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

// D is 200 µs. Before the measurement shape of issue #17 (one vCPU, every baseline run before every
// driver run) one run's p50 open at delay 0 differed from the next one's by 40-90 µs, so this test used
// 1,000 µs. On two vCPUs with the agent on the isolated one, in interleaved rounds, 200 µs reads as
// 212.5 µs (rounds 210-222.5, noise 2 µs), while 1,000 µs reads 13% high (1,131.5 µs, rounds
// 1,036-1,143, on the CI run of 2026-12-03): the lab module spins in its kprobe handler with
// interrupts off, and a spin of a whole millisecond holds off the guest's timer work past each open,
// which a TCG guest pays dearly for; at 200 µs that cost is small beside the bound.
t.test('p50 open overhead within 15% of a 200 µs delay; D regressed, a repeat of 0 no-change', { skip }, async (t) => {
  const D = 200;
  const r = await calibrate({ delayUs: D, runs: 5, log: (l) => t.comment(l) });
  t.comment(JSON.stringify({ ...r, comparison: undefined }));
  t.same(r.cpus, { guest: 2, agent: '1' }, 'the agent ran pinned to the isolated CPU of a two-vCPU guest');
  t.equal(r.change, 'regressed', 'the D side is a regression');
  t.equal(r.nullChange, 'no-change', 'a repeat at delay 0 is no change');
  t.ok(Math.abs(r.errorPct) <= 15, `overhead ${r.overheadP50Us} µs for ${D} µs: ${r.errorPct.toFixed(1)}% off (rounds ${r.roundOverheadsUs.join(', ')}; noise ${r.noiseP50Us} µs)`);
});
