// PowerShell Direct against RecordedHyperVHost (a scripted fake of the host, not Hyper-V): exec with
// WindowsGuest's encoded scripts, upload and download with checksums, errors as the seam defines them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ChecksumMismatch, GuestConnectionLost } from '../../guest/channel.ts';
import { decodePowerShell, RESULT_MARKER } from '../../guest/windows/encode.ts';
import { WindowsGuest } from '../../guest/windows/windows-guest.ts';
import { PowerShellDirectChannel } from './powershell-direct.ts';
import { RecordedHyperVHost } from './testdata/recorded-host.ts';

function setup(t: Test) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-psdirect-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const recorded = new RecordedHyperVHost();
  const vm = recorded.addVm({ name: 'fleetgate-cell-a', state: 'Running' });
  // Host paths are local temp files here (the recorded host is this machine).
  const channel = new PowerShellDirectChannel({ host: recorded.host, vmName: vm.name, user: 'fleetgate', password: 'fleetgate-test-only', stagingDir: dir });
  return { dir, recorded, vm, channel };
}

t.test('exec: the command reaches the guest as cmd.exe would get it; WindowsGuest works over it', async (t) => {
  const { recorded, channel } = setup(t);
  const seen: { command: string; stdin: string | null }[] = [];
  recorded.guestCommand = (_vm, command, stdin) => {
    seen.push({ command, stdin });
    const d = decodePowerShell(command, stdin ?? undefined);
    const result = { currentBuild: '26100', ubr: 8875, majorVersion: 10, minorVersion: 0, crashControl: { CrashDumpEnabled: 2, AutoReboot: 1, Overwrite: 1 }, reasons: {}, secureBoot: false, testSigning: true, hvci: false };
    return { stdout: `${RESULT_MARKER}${JSON.stringify({ ok: true, script: d.scriptName, result })}\r\n`, stderr: '', exitCode: 0 };
  };
  const id = await new WindowsGuest(channel).identity();
  t.equal(id.patchLevel, '26100.8875');
  t.equal(id.crashDump.kind, 'kernel');
  const call = recorded.callsOf('invoke_in_vm')[0]!;
  t.match(call.input, { name: 'fleetgate-cell-a', user: 'fleetgate', timeoutSeconds: 120 });
  t.equal(decodePowerShell(seen[0]!.command, seen[0]!.stdin ?? undefined).scriptName, 'get_identity');

  recorded.guestCommand = () => ({ stdout: 'out', stderr: 'err', exitCode: 3 });
  const r = await channel.exec('exit 3', { timeoutMs: 5_000 });
  t.match(r, { exitCode: 3, stdout: 'out', stderr: 'err', timedOut: false, truncated: false });
  recorded.guestCommand = () => ({ stdout: 'x'.repeat(100), stderr: '', exitCode: 0 });
  t.match(await channel.exec('x', { timeoutMs: 5_000, maxBufferBytes: 10 }), { stdout: 'x'.repeat(10), stdoutDroppedBytes: 90, truncated: true });
});

t.test('exec on a stopped VM or with the wrong password: GuestConnectionLost, not a result', async (t) => {
  const { recorded, vm, channel } = setup(t);
  recorded.guestPowerOff(vm.name);
  await t.rejects(channel.exec('exit 0', { timeoutMs: 1_000 }), GuestConnectionLost);
  const wrong = new PowerShellDirectChannel({ host: recorded.host, vmName: vm.name, user: 'fleetgate', password: 'nope' });
  vm.state = 'Running';
  await t.rejects(wrong.exec('exit 0', { timeoutMs: 1_000 }), /The credential is invalid/);
  await channel.close();
  await t.rejects(channel.exec('exit 0', { timeoutMs: 1_000 }), /closed/);
});

t.test('upload and download: Copy-Item through a session, SHA-256 checked both ways', async (t) => {
  const { dir, recorded, vm, channel } = setup(t);
  const local = path.join(dir, 'fgfilter.sys');
  writeFileSync(local, Buffer.from('MZ driver bytes'));
  const up = await channel.upload(local, 'C:\\fleetgate\\driver\\fgfilter.sys');
  t.equal(up.bytes, 15);
  t.equal(vm.guestFiles.get('c:\\fleetgate\\driver\\fgfilter.sys')!.toString(), 'MZ driver bytes');
  t.match(recorded.callsOf('copy_to_vm')[0]!.input, { guestPath: 'C:\\fleetgate\\driver\\fgfilter.sys' });

  vm.guestFiles.set('c:\\windows\\memory.dmp', Buffer.from('PAGEDU64'));
  const back = path.join(dir, 'MEMORY.DMP');
  const down = await channel.download('C:\\Windows\\MEMORY.DMP', back);
  t.equal(readFileSync(back, 'utf8'), 'PAGEDU64');
  t.equal(down.sha256.length, 64);

  recorded.corruptCopies = true;
  await t.rejects(channel.upload(local, 'C:\\x.sys'), ChecksumMismatch);
  await t.rejects(channel.download('C:\\nope.dmp', path.join(dir, 'nope')), /Cannot find path/);
  t.notOk(existsSync(path.join(dir, 'nope')));
});
