// The QMP client against a fake QMP peer on a real unix socket (integration tests use real QEMU).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { InfraFailure } from '../../../lib/errors.ts';
import { toProviderEvent } from './events.ts';
import { QmpClient, QmpError, type QmpEvent } from './qmp.ts';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n';

type Handler = (cmd: { execute: string; arguments?: unknown; id?: unknown }, reply: (s: string) => void) => void;

/** A QMP peer: sends the greeting, answers commands through `handler`. */
async function fakeQmp(t: Test, handler: Handler, opts: { delayListenMs?: number } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-qmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'qmp.sock');
  const clients: net.Socket[] = [];
  const server = net.createServer((c) => {
    clients.push(c);
    c.write(GREETING);
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') c.write(`{"return": {}, "id": ${JSON.stringify(cmd.id)}}\r\n`);
        else handler(cmd, (s) => c.write(`${s}\r\n`));
      }
    });
  });
  const listen = async () => new Promise<void>((r) => server.listen(sock, () => r()));
  if (opts.delayListenMs) setTimeout(() => void listen(), opts.delayListenMs);
  else await listen();
  t.teardown(() => {
    for (const c of clients) c.destroy();
    server.close();
  });
  return { sock, send: (s: string) => clients.forEach((c) => c.write(`${s}\r\n`)), clients };
}


t.test('greeting, capabilities, a command with an id, its return value', async (t) => {
  const peer = await fakeQmp(t, (cmd, reply) => {
    if (cmd.execute === 'query-status') reply(`{"return": {"status": "running", "running": true}, "id": ${JSON.stringify(cmd.id)}}`);
  });
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  t.equal(qmp.greeting.version.qemu.major, 7);
  t.same(await qmp.execute('query-status'), { status: 'running', running: true });
});

t.test('answers out of order are matched by id', async (t) => {
  const held: (() => void)[] = [];
  const peer = await fakeQmp(t, (cmd, reply) => {
    held.push(() => reply(`{"return": ${JSON.stringify(cmd.execute)}, "id": ${JSON.stringify(cmd.id)}}`));
    if (held.length === 2) held.reverse().forEach((f) => f());
  });
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  const [a, b] = await Promise.all([qmp.execute('first'), qmp.execute('second')]);
  t.same([a, b], ['first', 'second']);
});

t.test('an error answer is a QmpError (an InfraFailure) with the class and description', async (t) => {
  const peer = await fakeQmp(t, (cmd, reply) =>
    reply(`{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": ${JSON.stringify(cmd.id)}}`),
  );
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  const err = await qmp.execute('nope').catch((e: unknown) => e);
  t.type(err, QmpError);
  t.type(err, InfraFailure);
  t.match((err as Error).message, /QMP nope: CommandNotFound: The command nope has not been found/);
});

t.test('a command with no answer times out; a late answer is ignored', async (t) => {
  let late: (() => void) | undefined;
  const peer = await fakeQmp(t, (cmd, reply) => {
    late = () => reply(`{"return": {}, "id": ${JSON.stringify(cmd.id)}}`);
  });
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  await t.rejects(qmp.execute('slow', undefined, { timeoutMs: 100 }), /QMP slow: answer: no answer within 100 ms/);
  late?.();
  await sleep(50);
  t.equal(qmp.closed, false);
});

t.test('connect waits for a socket that appears late', async (t) => {
  const peer = await fakeQmp(t, () => undefined, { delayListenMs: 300 });
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 3000 });
  t.teardown(() => qmp.close());
  t.ok(qmp.greeting);
});

t.test('connect gives up at its deadline and stops at once on abort', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-qmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(QmpClient.connect(path.join(dir, 'none.sock'), { timeoutMs: 200 }), QmpError);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('QEMU exited')), 50);
  const started = Date.now();
  await t.rejects(QmpClient.connect(path.join(dir, 'none.sock'), { timeoutMs: 5000, signal: ac.signal }), /QEMU exited/);
  t.ok(Date.now() - started < 1000);
});

t.test('pending commands fail when the peer goes away', async (t) => {
  const peer = await fakeQmp(t, () => peer.clients.forEach((c) => c.destroy()));
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  await t.rejects(qmp.execute('quit'), /connection closed before the answer/);
  t.equal(qmp.closed, true);
  await t.rejects(qmp.execute('query-status'), /connection is closed/);
});

t.test('events arrive typed, Hyper-V bugcheck arguments exact, as provider events', async (t) => {
  const peer = await fakeQmp(t, () => undefined);
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  t.teardown(() => qmp.close());
  const got: QmpEvent[] = [];
  qmp.onEvent((e) => got.push(e));
  const panicked = qmp.nextEvent('GUEST_PANICKED', { timeoutMs: 2000 });
  // Split across writes, as a socket may deliver it.
  const msg =
    '{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "GUEST_PANICKED", "data": {"action": "run", ' +
    '"info": {"type": "hyper-v", "arg1": 209, "arg2": 18446715525607182416, "arg3": 2, "arg4": 0, "arg5": 18446735283370463952}}}';
  for (const c of peer.clients) {
    c.write(msg.slice(0, 70));
    await sleep(20);
    c.write(`${msg.slice(70)}\r\n{"timestamp": {"seconds": 1700000001, "microseconds": 0}, "event": "STOP"}\r\n`);
  }
  const e = await panicked;
  t.equal(e.at.toISOString(), '2023-11-14T22:13:20.250Z');
  t.same(toProviderEvent(e, 'hv-crash'), {
    type: 'panicked',
    at: '2023-11-14T22:13:20.250Z',
    action: 'run',
    info: { kind: 'hyper-v', code: '0xd1', params: ['0xffffe609207fd050', '0x2', '0x0', '0xfffff80156f612d0'] },
  });
  await sleep(30);
  t.same(got.map((x) => x.event), ['GUEST_PANICKED', 'STOP']);
});

t.test('pvpanic and other QMP events map to provider events; noise is dropped', async (t) => {
  const at = new Date(0);
  t.same(toProviderEvent({ event: 'GUEST_PANICKED', data: { action: 'pause' }, at }, 'pvpanic'), {
    type: 'panicked', at: at.toISOString(), action: 'pause', info: { kind: 'pvpanic' },
  });
  t.same(toProviderEvent({ event: 'GUEST_CRASHLOADED', data: { action: 'run' }, at }, 'pvpanic'), {
    type: 'crashloaded', at: at.toISOString(), action: 'run', info: { kind: 'pvpanic' },
  });
  t.same(toProviderEvent({ event: 'GUEST_PANICKED', data: { action: 'run' }, at }, 'hv-crash'), {
    type: 'panicked', at: at.toISOString(), action: 'run',
  }, 'a Windows panic without crash MSR data carries no info');
  t.same(toProviderEvent({ event: 'SHUTDOWN', data: { guest: true, reason: 'guest-reset' }, at }, 'pvpanic'), {
    type: 'shutdown', at: at.toISOString(), guest: true, reason: 'guest-reset',
  });
  t.same(toProviderEvent({ event: 'RESET', data: { guest: true, reason: 'guest-reset' }, at }, 'pvpanic'), {
    type: 'reset', at: at.toISOString(), guest: true, reason: 'guest-reset',
  });
  t.equal(toProviderEvent({ event: 'RTC_CHANGE', data: { offset: 1 }, at }, 'pvpanic'), null);
});

t.test('a garbage line from the peer closes the client instead of being guessed at', async (t) => {
  const peer = await fakeQmp(t, () => undefined);
  const qmp = await QmpClient.connect(peer.sock, { timeoutMs: 2000 });
  const closed = new Promise<Error | undefined>((r) => qmp.onClose(r));
  peer.send('{"event": "STOP", oops}');
  t.match((await closed)?.message, /unparsable message/);
});
