// The cache's single-flight: one promise per key in a process, one lock holder across processes, a
// dead holder's lock taken over (a pid reused by another process included), leases and temp names.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import {
  acquireLock,
  isDeadTemp,
  leaseDir,
  liveLeases,
  processAlive,
  processIdOf,
  readLock,
  singleFlight,
  sweepDeadTemps,
  tempName,
  thisProcess,
  withCacheLock,
} from './cache-lock.ts';

const CHILD = fileURLToPath(new URL('./testdata/lock-child.ts', import.meta.url));

function tmp(t: Test, name: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `fg-lock-${name}-`));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function child(args: string[]): { done: Promise<number | null>; pid: number; kill: () => void } {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { pid: p.pid!, done: new Promise((r) => p.on('exit', (code) => r(code))), kill: () => p.kill('SIGKILL') };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lines = (f: string): string[][] => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')) : []);

t.test('singleFlight: concurrent callers share one run; the next call after it settles runs again', async (t) => {
  let runs = 0;
  const work = () => singleFlight('k', async () => {
    runs++;
    await new Promise((r) => setTimeout(r, 50));
    return runs;
  });
  const [a, b, c] = await Promise.all([work(), work(), work()]);
  t.same([a, b, c], [1, 1, 1]);
  t.equal(runs, 1);
  t.equal(await work(), 2, 'a later call is a new flight');
  await t.rejects(singleFlight('bad', async () => Promise.reject(new Error('boom'))), /boom/);
  t.equal(await singleFlight('bad', async () => 'fine'), 'fine', 'a failed flight is not remembered');
});

t.test('two processes: one holds the lock at a time, the other waits and says for whom', async (t) => {
  const dir = tmp(t, 'two');
  const lock = path.join(dir, 'build.lock');
  const log = path.join(dir, 'log');
  const a = child([lock, log, '800']);
  const b = child([lock, log, '800']);
  t.same(await Promise.all([a.done, b.done]), [0, 0]);
  const ev = lines(log).filter((l) => l[0] === 'begin' || l[0] === 'end');
  t.equal(ev.length, 4);
  t.equal(ev[0]![0], 'begin');
  t.equal(ev[1]![0], 'end');
  t.equal(ev[0]![1], ev[1]![1], 'the first holder ends before anyone else begins');
  t.ok(Number(ev[2]![2]) >= Number(ev[1]![2]), 'the second begins after the first ended');
  t.ok(lines(log).some((l) => l[0] === 'log' && l.join(' ').includes('waiting for pid')), 'the waiter says whom it waits for');
  t.notOk(existsSync(lock), 'released');
  t.same(readdirSync(dir).sort(), ['log'], 'no temp file left');
});

t.test('a holder killed with SIGKILL: its lock is taken over, not waited on', async (t) => {
  const dir = tmp(t, 'kill');
  const lock = path.join(dir, 'build.lock');
  const log = path.join(dir, 'log');
  const a = child([lock, log, '60000']);
  await until('the child holds the lock', () => lines(log).some((l) => l[0] === 'begin'));
  a.kill();
  await a.done;
  const held = await readLock(lock);
  t.match(held, { pid: a.pid }, 'the dead process left its lock behind');
  const seen: string[] = [];
  const t0 = Date.now();
  await withCacheLock(lock, 'after the kill', async () => {
    t.match(await readLock(lock), { pid: process.pid, what: 'after the kill' });
  }, { log: (l) => seen.push(l) });
  t.ok(Date.now() - t0 < 5_000, 'taken over at once');
  t.match(seen.join('\n'), new RegExp(`taking over build.lock from pid ${a.pid} .*that process is gone`));
});

t.test('a pid reused by another process is not the holder; a live holder is waited for', async (t) => {
  const dir = tmp(t, 'reuse');
  const lock = path.join(dir, 'x.lock');
  const pid1 = processIdOf(1)!;
  t.ok(processAlive(pid1));
  t.notOk(processAlive({ ...pid1, start: `${Number(pid1.start) + 1}` }), 'pid 1 with another start time is another process');
  t.notOk(processAlive({ ...pid1, boot: 'another-boot' }), 'a record from before a reboot is stale');
  t.ok(processAlive({ ...pid1, host: 'elsewhere', pid: 999999999 }), 'a holder on another host is never judged dead from here');
  writeFileSync(lock, JSON.stringify({ ...pid1, start: '1', what: 'old', at: 'then', nonce: 'n' }));
  const release = await acquireLock(lock, 'me');
  await release();
  t.notOk(existsSync(lock));

  writeFileSync(lock, JSON.stringify({ ...pid1, what: 'init is building', at: 'then', nonce: 'n2' }));
  const seen: string[] = [];
  await t.rejects(acquireLock(lock, 'me', { waitMs: 400, log: (l) => seen.push(l) }), /still held by pid 1 \(init is building/);
  t.match(seen, [/waiting for pid 1 \(init is building/]);
  t.match(await readLock(lock), { nonce: 'n2' }, 'a live holder keeps its lock');
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('stop')), 200);
  await t.rejects(acquireLock(lock, 'me', { signal: ac.signal }), /stop/, 'waiting ends on abort');
});

t.test('in one process the same lock file is taken in turn', async (t) => {
  const dir = tmp(t, 'self');
  const lock = path.join(dir, 'y.lock');
  const order: string[] = [];
  await Promise.all(
    ['a', 'b'].map((n) =>
      withCacheLock(lock, n, async () => {
        order.push(`${n}+`);
        await new Promise((r) => setTimeout(r, 100));
        order.push(`${n}-`);
      }),
    ),
  );
  t.same(order.join(' ').replace(/[ab]/g, 'x'), 'x+ x- x+ x-', 'never both at once');
});

t.test('temp names carry pid and start time; only dead processes\u2019 are swept', async (t) => {
  const dir = tmp(t, 'temps');
  const mine = tempName('tmp');
  t.match(mine, new RegExp(`^\\.tmp-${process.pid}-${thisProcess().start}-[0-9a-f]{8}$`));
  t.not(tempName('tmp'), mine, 'unique per call');
  t.notOk(isDeadTemp(mine, 'tmp'));
  const pid1 = processIdOf(1)!;
  const live = `.tmp-1-${pid1.start}-00000000`;
  const reused = `.tmp-1-${Number(pid1.start) + 7}-00000000`;
  const dead = '.tmp-999999999-5-00000000-x';
  for (const e of [mine, live, reused, dead, 'not-a-temp']) mkdirSync(path.join(dir, e));
  t.same((await sweepDeadTemps(dir, ['tmp'])).sort(), [reused, dead].sort());
  t.same(readdirSync(dir).sort(), [mine, live, 'not-a-temp'].sort());
});

t.test('leases: a live process using a folder is seen; a dead one is forgotten', async (t) => {
  const dir = tmp(t, 'lease');
  const img = path.join(dir, 'image');
  mkdirSync(img);
  await leaseDir(img);
  t.same(await liveLeases(img), [], 'our own lease is not another user');
  const log = path.join(dir, 'log');
  const c = child([path.join(dir, 'l.lock'), log, '60000', img]);
  await until('the child holds its lease', () => lines(log).some((l) => l[0] === 'begin'));
  t.match(await liveLeases(img), [{ pid: c.pid }]);
  c.kill();
  await c.done;
  t.same(await liveLeases(img), [], 'a killed user holds nothing');
});
