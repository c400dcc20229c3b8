// The lab guest for real, under QEMU: pinned SSH, a clean state per cell, a data disk that survives a
// reboot inside a cell, and the crash and hang knobs seen as crash evidence (panic event, dump, title
// naming the lab module). Skips with the reason when QEMU or the lab image is not to be had.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labImageForTests } from '../../images/lab/for-tests.ts';
import { createProvider } from '../providers/index.ts';
import { connectSsh, fromManifest, HostKeyMismatch } from '../guest/ssh/client.ts';
import { LabGuest } from '../guest/linux/lab-guest.ts';
import { labSmoke } from './smoke.ts';

const image = await labImageForTests();
const noQemu = !existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed';
const skip = noQemu || ('missing' in image ? image.missing : false);
if (skip) t.comment(`SKIP lab integration tests: ${skip}`);

const cellDir = () => mkdtemp(join(tmpdir(), 'fg-lab-it-'));

t.test('SSH with the pinned host key; a wrong pin is refused; /data survives a reboot; the next cell starts clean', { skip }, async (t) => {
  if ('missing' in image) return;
  const provider = createProvider('qemu');
  const dir1 = await cellDir();
  {
    await using vm = await provider.start({ name: `it-clean-a-${process.pid}`, cellDir: dir1, image });
    const wrong = { ...image.manifest, ssh: { ...image.manifest.ssh, hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } };
    await t.rejects(connectSsh({ ...fromManifest(image.dir, wrong, vm.ssh), retry: { deadlineMs: 20_000 } }), HostKeyMismatch, 'a host key other than the pinned one is refused');

    const ch = await connectSsh(fromManifest(image.dir, image.manifest, vm.ssh));
    const guest = new LabGuest(ch);
    const first = await guest.identity();
    t.equal(first.kernel, image.manifest.os.build, 'the guest runs the image kernel');
    await guest.check('echo cell-a > /data/marker && echo cell-a > /tmp/in-ram && sync', 'write markers');
    // Reboot inside the cell: /data is the cell's disk and survives; RAM does not.
    await guest.run('reboot', 5_000).catch(() => undefined);
    await ch.close();
    await vm.events.waitFor('reset', { timeoutMs: 60_000 });
    const ch2 = await connectSsh({ ...fromManifest(image.dir, image.manifest, vm.ssh), retry: { deadlineMs: 180_000 } });
    const g2 = new LabGuest(ch2);
    const second = await g2.identity();
    t.not(second.bootId, first.bootId, 'the guest rebooted');
    t.equal(await g2.check('cat /data/marker', 'read marker'), 'cell-a', '/data survived the reboot');
    t.equal((await g2.run('test -e /tmp/in-ram')).exitCode, 1, 'RAM did not');
    await ch2.close();
  }
  const dir2 = await cellDir();
  await using vm2 = await provider.start({ name: `it-clean-b-${process.pid}`, cellDir: dir2, image });
  const ch3 = await connectSsh(fromManifest(image.dir, image.manifest, vm2.ssh));
  const r = await new LabGuest(ch3).run('test -e /data/marker');
  t.equal(r.exitCode, 1, 'a file written in one cell is absent in the next');
  await ch3.close();
});

t.test('the crash knob: a panic event, a memory dump and a crash title naming the lab module', { skip }, async (t) => {
  const r = await labSmoke({ cellDir: await cellDir(), trigger: 'oops' });
  t.ok(r.ok, `smoke ok: ${r.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.detail}`).join('; ')}`);
  t.match(r.crash, { title: /BUG: kernel NULL pointer dereference in fgfilter_/, module: 'fgfilter', kind: 'OOPS' });
  t.ok((r.dumpBytes ?? 0) > 1_000_000, `dump of ${r.dumpBytes} bytes`);
  t.ok(r.readySeconds !== null && r.readySeconds > 0);
});

t.test('the hang knob on CPU 0: heartbeat lost, NMI injected, the guest panics and is dumped', { skip }, async (t) => {
  // CPU 0 is where sshd answers: spinning there with interrupts off stops the heartbeat.
  const r = await labSmoke({ cellDir: await cellDir(), trigger: 'hang_irqoff', triggerCpu: 0 });
  t.ok(r.ok, `smoke ok: ${r.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.detail}`).join('; ')}`);
  t.equal(r.steps.find((s) => s.name.startsWith('fire'))?.detail, 'hang', 'seen as a hang, not a crash of its own');
  t.match(r.crash, { title: /in fgfilter_fail_hang_irqoff/, module: 'fgfilter', kind: 'HANG' });
  t.ok((r.dumpBytes ?? 0) > 1_000_000, `dump of ${r.dumpBytes} bytes`);
});

t.test('the hang knob on the measurement CPU: the heartbeat goes on, RCU reports the stall, which panics', { skip }, async (t) => {
  // CPU 1, where the agent runs: CPU 0 keeps answering, so only the RCU stall panic (21 s) gets a dump out.
  const r = await labSmoke({ cellDir: await cellDir(), trigger: 'hang_irqoff' });
  t.ok(r.ok, `smoke ok: ${r.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.detail}`).join('; ')}`);
  t.equal(r.steps.find((s) => s.name.startsWith('fire'))?.detail, 'crash', 'a panic of its own (no heartbeat lost)');
  t.match(r.crash, { title: 'INFO: rcu detected stall in fgfilter_fail_hang_irqoff', module: 'fgfilter', kind: 'HANG' });
  t.ok((r.dumpBytes ?? 0) > 1_000_000, `dump of ${r.dumpBytes} bytes`);
});
