import t from 'tap';
import { backoffDelayMs } from './backoff.ts';

t.test('grows exponentially up to the cap', async (t) => {
  const noJitter = { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, jitter: 0 };
  t.same(
    [1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, noJitter)),
    [100, 200, 400, 800, 1000, 1000],
  );
});

t.test('jitter only shortens, by at most its fraction', async (t) => {
  const o = { initialDelayMs: 1000, jitter: 0.2 };
  t.equal(backoffDelayMs(1, o, () => 0), 1000);
  t.equal(backoffDelayMs(1, o, () => 0.999999), 800);
});
