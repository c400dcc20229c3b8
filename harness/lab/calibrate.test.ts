// The arithmetic of the calibration's rounds (the VM side is in calibrate.integration.test.ts).
import t from 'tap';
import { roundFigures, roundInterval } from './calibrate.ts';
import type { AgentResult } from '../../workloads/agent/protocol.ts';
import { seededRng } from '../../workloads/random.ts';
import { syntheticHistogram, syntheticResult } from '../../workloads/test-helpers/synthetic-runs.ts';

t.test('each round: the D run against the mean of the delay-0 runs around it; the median over rounds', async (t) => {
  // Figures from a real D = 1,000 µs calibration on this host (p50s of the open step, µs).
  const zero = [107, 206, 105, 183, 181];
  const delayed = [1285, 1253, 1200, 1272, 1268];
  const repeat = [137, 179, 164, 154, 189];
  const f = roundFigures(zero, delayed, repeat);
  t.same(f.roundOverheadsUs, [1163, 1060.5, 1065.5, 1103.5, 1083]);
  t.equal(f.overheadUs, 1083);
  // deviations from 1083: 80, 22.5, 17.5, 20.5, 0: median 20.5
  t.equal(f.noiseUs, 20.5);
});

t.test('a slow phase spanning one round moves the overhead little; an even number of rounds takes the middle two', async (t) => {
  const calm = roundFigures([100, 100, 100], [300, 300, 300], [100, 100, 100]);
  const oneSlow = roundFigures([100, 400, 100], [300, 900, 300], [100, 400, 100]);
  t.equal(calm.overheadUs, 200);
  t.equal(oneSlow.overheadUs, 200, 'the disturbed round is outvoted');
  t.equal(oneSlow.noiseUs, 0, 'and the spread of the other rounds is what the noise says');
  const two = roundFigures([100, 100], [300, 320], [100, 100]);
  t.equal(two.overheadUs, 210);
  t.equal(two.noiseUs, 10);
});

t.test('rounds that do not line up are refused', async (t) => {
  t.throws(() => roundFigures([], [], []), /expected the same number, at least 1/);
  t.throws(() => roundFigures([1, 2], [3], [4, 5]), /2 delay-0, 1 delay-D and 2 repeat runs/);
});

t.test('the paired interval of the rounds holds the delay; one round has none', async (t) => {
  // Each round: a delay-0 run, a delay-1,000 run and a repeat at delay 0, the host drifting 40 µs a run.
  const rng = seededRng(3);
  const run = (t0: number, delay: number) => syntheticResult('file-storm', { open: syntheticHistogram(rng, { samples: 1000, baseUs: 150, levelUs: 40 * t0 + delay + 10 * rng.normal(), spreadUs: 30 }) });
  const zero: AgentResult[] = [];
  const delayed: AgentResult[] = [];
  const repeat: AgentResult[] = [];
  for (let i = 0; i < 4; i++) {
    zero.push(run(3 * i, 0));
    delayed.push(run(3 * i + 1, 1000));
    repeat.push(run(3 * i + 2, 0));
  }
  const ci = roundInterval(zero, delayed, repeat, 'open');
  t.ok(ci && ci.low <= 1000 && 1000 <= ci.high && ci.high - ci.low < 200, `1000 in ${ci?.low}..${ci?.high}`);
  t.equal(roundInterval(zero.slice(0, 1), delayed.slice(0, 1), repeat.slice(0, 1), 'open'), null);
  t.throws(() => roundInterval(zero, delayed, repeat, 'read'), /no read step/);
});
