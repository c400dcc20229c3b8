import t from 'tap';
import { CleanupStack } from './cleanup-stack.ts';
import { EventLog } from './event-stream.ts';
import { resolveTimeouts, SLOWDOWN, TimeoutError } from './timeouts.ts';
import { createProvider, providers } from './index.ts';
import type { ProviderEvent } from './types.ts';

const at = '2025-01-01T00:00:00.000Z';

t.test('event log: late readers replay history, follow live events and end after exited', async (t) => {
  const log = new EventLog();
  log.push({ type: 'stop', at });
  const seen: ProviderEvent['type'][] = [];
  const reader = (async () => {
    for await (const e of log) seen.push(e.type);
  })();
  log.push({ type: 'panicked', at, action: 'pause', info: { kind: 'pvpanic' } });
  log.push({ type: 'exited', at, code: 0, signal: null });
  log.push({ type: 'resume', at });
  await reader;
  t.same(seen, ['stop', 'panicked', 'exited'], 'nothing after exited');
});

t.test('event log: waitFor sees past events, honours `after`, times out, fails when the stream ends', async (t) => {
  const log = new EventLog();
  log.push({ type: 'panicked', at, action: 'pause' });
  t.match(await log.waitFor('panicked', { timeoutMs: 100 }), { type: 'panicked' });
  await t.rejects(log.waitFor('panicked', { timeoutMs: 50, after: 1 }), TimeoutError);
  const later = log.waitFor('reset', { timeoutMs: 1000, after: 1 });
  setTimeout(() => log.push({ type: 'reset', at, guest: true, reason: 'guest-reset' }), 20);
  t.match(await later, { type: 'reset', reason: 'guest-reset' });
  const never = log.waitFor('shutdown', { timeoutMs: 1000 });
  log.push({ type: 'exited', at, code: null, signal: 'SIGKILL' });
  await t.rejects(never, /never came/);
});

t.test('cleanup stack: reverse order, every step runs, errors together, move() transfers', async (t) => {
  const order: string[] = [];
  const s = new CleanupStack();
  s.defer(() => order.push('a'));
  s.defer(() => {
    throw new Error('b failed');
  });
  s.defer(async () => order.push('c'));
  await t.rejects(s.disposeAsync(), /b failed/);
  t.same(order, ['c', 'a']);

  const first = new CleanupStack();
  first.defer(() => order.push('moved'));
  const second = first.move();
  await first.disposeAsync();
  t.same(order, ['c', 'a'], 'the old stack owns nothing');
  await second[Symbol.asyncDispose]();
  t.same(order, ['c', 'a', 'moved']);
});

t.test('timeouts: named, overridable, scaled by the TCG slowdown, validated', async (t) => {
  const d = { boot: 1000, command: 100, stop: 200, dump: 300 };
  t.same(resolveTimeouts(d, { boot: 50 }, SLOWDOWN.tcg), { boot: 150, command: 300, stop: 600, dump: 900 });
  t.same(resolveTimeouts(d, undefined, SLOWDOWN.kvm), d);
  t.throws(() => resolveTimeouts(d, { command: -1 }, 1), /timeouts\.command .* got -1/);
});

t.test('registry: providers by name with traits; unknown names are usage errors', async (t) => {
  t.equal(providers.qemu.traits.hostDumps, true);
  t.equal(createProvider('qemu', { stateDir: '/tmp/fg-unused' }).kind, 'qemu');
  t.throws(() => createProvider('vbox'), /unknown provider 'vbox' \(known: qemu, hyperv\)/);
});
