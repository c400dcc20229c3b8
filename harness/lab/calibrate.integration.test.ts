// How precise the harness is, for real: the lab module adds D µs to every open; file-storm's open step
// is measured at delay 0 and at D on one booted lab guest. The measured p50 overhead must be within
// 15% of D, the comparison must call the D side regressed and a repeat at delay 0 no-change.
// Timing-sensitive: run on a machine not busy with other VMs (tap runs test files one at a time here).
import t from 'tap';
import { existsSync } from 'node:fs';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { calibrate } from './calibrate.ts';

const image = await labImageForTests();
const skip = (!existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed') || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP calibration test: ${skip}`);

t.test('p50 open overhead within 15% of a 200 µs delay; D regressed, a repeat of 0 no-change', { skip }, async (t) => {
  const D = 200;
  const r = await calibrate({ delayUs: D, runs: 3, log: (l) => t.comment(l) });
  t.comment(JSON.stringify({ ...r, comparison: undefined }));
  t.ok(Math.abs(r.errorPct) <= 15, `overhead ${r.overheadP50Us} µs for ${D} µs: ${r.errorPct.toFixed(1)}% off`);
  t.equal(r.change, 'regressed');
  t.equal(r.nullChange, 'no-change');
  t.ok(r.ci95.low <= D && D <= r.ci95.high + 0.15 * D, `95% interval ${r.ci95.low}..${r.ci95.high} holds ${D} (within 15%)`);
});
