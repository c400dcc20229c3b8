// The heartbeat's counting, with a scripted probe instead of a guest.
import t from 'tap';
import { Heartbeat, type ProbeOutcome } from './heartbeat.ts';

function scripted(outcomes: boolean[]) {
  let i = 0;
  return () => {
    const ok = outcomes[Math.min(i++, outcomes.length - 1)]!;
    const outcome: ProbeOutcome = ok ? { ok } : { ok, reason: 'no answer' };
    return { outcome: Promise.resolve(outcome), released: Promise.resolve() };
  };
}

function run(outcomes: boolean[], missesBeforeLost: number, ticks: number) {
  const events: string[] = [];
  const hb = new Heartbeat(
    scripted(outcomes),
    {
      miss: (e) => events.push(`miss${e.misses}`),
      lost: (e) => events.push(`lost${e.misses}${e.lastOkAt ? '+' : '-'}`),
      restored: () => events.push('restored'),
    },
    { intervalMs: 1, timeoutMs: 50, missesBeforeLost },
  );
  hb.start();
  return new Promise<string[]>((resolve) =>
    setTimeout(() => {
      hb.stop();
      resolve(events.slice(0, ticks));
    }, 300),
  );
}

t.test('lost after K consecutive misses, once; restored on the next success', async (t) => {
  const events = await run([true, false, false, false, true, true], 2, 6);
  t.same(events, ['miss1', 'miss2', 'lost2+', 'miss3', 'restored']);
});

t.test('isolated misses below K do not lose the heartbeat', async (t) => {
  const events = await run([false, true, false, true, true], 2, 10);
  t.same(events, ['miss1', 'miss1']);
});

t.test('a probe the transport still holds is not stacked: it counts as a miss', async (t) => {
  let started = 0;
  const events: string[] = [];
  const hb = new Heartbeat(
    () => {
      started++;
      // Times out but is never released, like a channel open to a stopped guest.
      return { outcome: Promise.resolve({ ok: false, reason: 'timeout' }), released: new Promise<void>(() => {}) };
    },
    { miss: (e) => events.push(e.reason), lost: () => events.push('lost'), restored: () => {} },
    { intervalMs: 1, timeoutMs: 20, missesBeforeLost: 3 },
  );
  hb.start();
  await new Promise((r) => setTimeout(r, 150));
  hb.stop();
  t.equal(started, 1, 'only one probe was started');
  t.match(events, ['timeout', /previous probe still unanswered/, /previous probe still unanswered/, 'lost']);
});

t.test('rejects nonsense settings', async (t) => {
  const sink = { miss() {}, lost() {}, restored() {} };
  t.throws(() => new Heartbeat(scripted([true]), sink, { intervalMs: 0 }), /intervalMs must be/);
});
