// WindowsGuest against the Windows guest double (test-doubles/guest-double.ts): the real composed
// scripts go over real SSH as -EncodedCommand (and through the stdin bootstrap when too long) to real
// PowerShell 7, where only Windows's own cmdlets and programs are doubles replaying recorded outputs.
import t from 'tap';
import { pwshSkip } from '../../../lib/pwsh.ts';
import { sshdMissingReason } from '../ssh/sshd-fixture.ts';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analyzeOnHost } from './analysis-host.ts';
import path from 'node:path';
import { heartbeatCommand, WindowsGuest } from './windows-guest.ts';
import { rebootAndWait } from './reboot.ts';
import { BootFailure } from '../../cell/failures.ts';
import { encodePowerShell, MAX_COMMAND_CHARS, preparePowerShell } from './encode.ts';
import { SAMPLES, startWindowsDouble, windows11State } from './test-doubles/guest-double.ts';

const skip = sshdMissingReason() || pwshSkip() || (existsSync(SAMPLES) ? false : `${SAMPLES} is not beside the repository`);

t.test('identity: build, UBR, test signing from the registry and a recorded bcdedit, last boot from CIM', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble(windows11State({ build: 26100, ubr: 4349, lastBoot: '2026-12-01T08:30:00Z' }));
  t.teardown(() => g.stop());
  g.replay('bcdedit-enum-current', 'bcdedit/windbg_feedback_issue392_bcdedit_enum_current_partial.txt');
  const id = await new WindowsGuest(g.channel).identity();
  t.equal(id.build, 26100);
  t.equal(id.ubr, 4349);
  t.equal(id.patchLevel, '26100.4349');
  t.equal(id.displayVersion, '24H2');
  t.equal(id.testSigning, true, 'TESTSIGNING in SystemStartOptions');
  t.equal(id.testSigningConfigured, false, 'the recorded bcdedit {current} has no testsigning line: not configured');
  t.equal(id.secureBoot, false);
  t.equal(id.lastBootUpTime, '2026-12-01T08:30:00.000Z');
  t.equal(id.crashDump.kind, 'active', 'CrashDumpEnabled=1 with FilterPages=1');
  t.equal(id.crashDump.dumpFile, 'C:\\Windows\\MEMORY.DMP', 'REG_EXPAND_SZ expanded');
  t.equal(id.crashDump.dumpFileRaw, '%SystemRoot%\\MEMORY.DMP', 'and kept raw');
  t.equal(id.computerName, 'FG-CELL');
});

t.test('a changed state is what the next script sees (a reboot changes LastBootUpTime)', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const guest = new WindowsGuest(g.channel);
  const before = await guest.identity();
  g.setState(windows11State({ lastBoot: '2026-12-02T09:00:00Z', ubr: 4652 }));
  const after = await guest.identity();
  t.not(after.lastBootUpTime, before.lastBootUpTime);
  t.equal(after.patchLevel, '26100.4652');
  t.match(before.reasons.testSigningConfigured ?? '', /bcdedit exited with 1/, 'without a recorded bcdedit the double refuses, and the script says why');
});

t.test('Secure Boot refused the way Windows refuses it is a reason, not a failure', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble({ ...windows11State(), secureBoot: 'not-uefi' });
  t.teardown(() => g.stop());
  const id = await new WindowsGuest(g.channel).identity();
  t.equal(id.secureBoot, null);
  t.match(id.reasons.secureBoot ?? '', /^not-uefi: PlatformNotSupportedException/);
});

t.test('a script too long for the command line goes through the stdin bootstrap and still answers', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const data = { pad: 'x'.repeat(12_000) };
  t.equal(preparePowerShell('test_alive', data).mode, 'stdin', 'too long for -EncodedCommand');
  const r = await new WindowsGuest(g.channel).runScript<{ alive: boolean }>('test_alive', data);
  t.ok(r, 'the result line came back through the bootstrap');
});

t.test("the heartbeat answers through cmd.exe; it fails when the file is gone, stops answering while the kernel hangs, and the product's allow list applies to cmd.exe", { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const r = await g.channel.exec(heartbeatCommand, { timeoutMs: 60_000 });
  t.equal(r.exitCode, 0, r.stderr);
  // No PowerShell in it: a guest whose powershell.exe is gone still answers the heartbeat.
  mkdirSync(path.join(g.stateDir, 'filter-policy'), { recursive: true });
  writeFileSync(path.join(g.stateDir, 'filter-policy', 'probe.allowed'), 'C:\\Windows\\System32\\cmd.exe\n');
  t.equal((await g.channel.exec(heartbeatCommand, { timeoutMs: 60_000 })).exitCode, 0, 'answers with only cmd.exe allowed to start');
  t.equal((await g.channel.exec(encodePowerShell('test_alive', {}), { timeoutMs: 60_000 })).exitCode, 1, 'where a PowerShell start is denied');
  rmSync(path.join(g.stateDir, 'filter-policy'), { recursive: true });

  rmSync(g.hostPath('C:\\Windows\\win.ini'));
  const gone = await g.channel.exec(heartbeatCommand, { timeoutMs: 60_000 });
  t.equal(gone.exitCode, 1);
  t.match(gone.stderr, /The system cannot find the file specified/);
  writeFileSync(g.hostPath('C:\\Windows\\win.ini'), '[fonts]\r\n');

  writeFileSync(path.join(g.stateDir, 'kernel-hung'), 'hung');
  const hung = await g.channel.exec(heartbeatCommand, { timeoutMs: 2_000 });
  t.ok(hung.timedOut, 'a hung kernel starts no cmd.exe: the probe times out');
  rmSync(path.join(g.stateDir, 'kernel-hung'));

  mkdirSync(path.join(g.stateDir, 'filter-policy'), { recursive: true });
  writeFileSync(path.join(g.stateDir, 'filter-policy', 'fgfilter.allowed'), 'C:\\Program Files\\nodejs\\node.exe\n');
  const denied = await g.channel.exec(heartbeatCommand, { timeoutMs: 60_000 });
  t.equal(denied.exitCode, 1);
  t.match(denied.stderr, /Access is denied/);
});

t.test("cmd.exe's line: a command over 8,191 characters with sshd's prefix is refused; the stdin bootstrap gets the long script through", { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const long = `powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ${'A'.repeat(8_200)}`;
  const r = await g.channel.exec(long, { timeoutMs: 60_000 });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /The command line is too long/);
  t.ok(MAX_COMMAND_CHARS + '"C:\\Windows\\System32\\cmd.exe" /c '.length <= 8191, "encode.ts's limit leaves room for sshd's prefix");
  const script = preparePowerShell('test_alive', { pad: 'x'.repeat(12_000) });
  t.equal(script.mode, 'stdin');
  t.ok(script.command.length <= MAX_COMMAND_CHARS);
  const ok = await g.channel.exec(script.command, { timeoutMs: 60_000, stdin: script.mode === 'stdin' ? script.stdin : '' });
  t.equal(ok.exitCode, 0, ok.stderr);
  t.match(ok.stdout, /@@FLEETGATE-JSON@@\{"ok":true,"script":"test_alive"/);
  const unknown = await g.channel.exec('dir C:\\', { timeoutMs: 60_000 });
  t.match(unknown.stderr, /'dir' is not recognized as an internal or external command/);
});

t.test('the powershell.exe double refuses arguments fleetgate never sends', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const r = await g.channel.exec('powershell -NoProfile -Command "Get-Date"', { timeoutMs: 60_000 });
  t.equal(r.exitCode, 64);
  t.match(r.stderr, /argument '-Command' is not one fleetgate sends/);
  t.ok(path.isAbsolute(g.stateDir));
});

t.test('reboot and wait: the guest comes back with a changed LastBootUpTime, and what was pending is in effect', { skip, timeout: 180_000 }, async (t) => {
  const base = windows11State({ lastBoot: '2026-12-01T08:30:00Z', ubr: 4349 });
  const g = await startWindowsDouble({ ...base, onReboot: { registry: { ...base.registry, ['HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion']: { ...base.registry['HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion']!, UBR: { type: 'REG_DWORD', value: 4652 } } } } });
  t.teardown(() => g.stop());
  const r = await rebootAndWait(g.channel, { reconnect: (s) => g.connect(s), timeoutMs: 60_000, pollMs: 200, delaySeconds: 1 });
  t.equal(r.previousBoot, '2026-12-01T08:30:00.000Z');
  t.not(r.identity.lastBootUpTime, r.previousBoot, 'a new boot');
  t.equal(r.identity.patchLevel, '26100.4652', 'the update pending on reboot is in effect');
  t.equal(g.state().boots, 1);
});

t.test('reboot and wait: a guest that never comes back is a BootFailure after the limit', { skip, timeout: 180_000 }, async (t) => {
  const g = await startWindowsDouble({ ...windows11State(), bootHangs: true });
  t.teardown(() => g.stop());
  const err = await rebootAndWait(g.channel, { reconnect: (s) => g.connect(s), timeoutMs: 6_000, pollMs: 200, delaySeconds: 1 }).catch((e: unknown) => e);
  t.ok(err instanceof BootFailure, String(err));
  t.match((err as Error).message, /did not come back within 6 s of its restart \(booted last at 2026-12-01T08:30:00\.000Z/);
});

t.test('restart refuses a delay shutdown.exe would not take, before anything restarts', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  const err = await new WindowsGuest(g.channel).runScript('restart', { delaySeconds: 0 }).catch((e: unknown) => e as Error);
  t.match(String(err), /delaySeconds must be 1 to 600/);
  t.equal(g.state().boots, undefined, 'no restart happened');
});

t.test('list_dumps finds the real triage dump in the Minidump folder CrashControl names and a live dump, by their Windows paths', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  copyFileSync(path.join(SAMPLES, 'dumps/triage_x64.dmp'), g.hostPath('C:\\Windows\\Minidump\\120226-8171-01.dmp'));
  mkdirSync(g.hostPath('C:\\Windows\\LiveKernelReports\\Verifier'), { recursive: true });
  copyFileSync(path.join(SAMPLES, 'dumps/triage_x64.dmp'), g.hostPath('C:\\Windows\\LiveKernelReports\\Verifier\\Verifier-20261202-1300.dmp'));
  const dumps = await new WindowsGuest(g.channel).listDumps();
  t.match(dumps, [
    { path: 'C:\\Windows\\Minidump\\120226-8171-01.dmp', kind: 'minidump', sizeBytes: statSync(path.join(SAMPLES, 'dumps/triage_x64.dmp')).size },
    { path: 'C:\\Windows\\LiveKernelReports\\Verifier\\Verifier-20261202-1300.dmp', kind: 'live' },
  ]);
  const local = path.join(g.stateDir, 'downloaded.dmp');
  const r = await g.channel.download('C:/Windows/Minidump/120226-8171-01.dmp', local);
  t.ok(r.sha256, 'downloaded and checked against the guest-side SHA-256');
});

t.test('run_kd_analysis on an analysis host: kd (a double replaying a recorded 0xC4 session) analyzes the uploaded real triage dump', { skip, timeout: 120_000 }, async (t) => {
  const g = await startWindowsDouble({ ...windows11State(), kd: { analysis: 'kd/analyze_c4_62_windows-driver-samples205.txt' } });
  t.teardown(() => g.stop());
  mkdirSync(g.hostPath('C:\\Debuggers'), { recursive: true });
  symlinkSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-doubles', 'bin', 'kd.exe'), g.hostPath('C:\\Debuggers\\kd.exe'));
  await new WindowsGuest(g.channel).newFolder('C:\\fg\\triage');
  const host = { file: 'kd-host.yaml', host: 'double', port: g.sshd.port, username: 'root', privateKeyPath: g.sshd.clientKeyPath, hostKeyFingerprint: g.sshd.hostFingerprint, kdPath: 'C:\\Debuggers\\kd.exe', symbolPath: 'srv*C:\\sym', workDir: 'C:\\fg\\triage\\', timeoutSec: 60 };
  const r = await analyzeOnHost(g.channel, path.join(SAMPLES, 'dumps/triage_x64.dmp'), host);
  t.equal(r.exitCode, 0);
  t.equal(r.analysis.bugcheck?.code, 0xc4, 'the recorded analysis, parsed');
  t.match(r.output, /^Loading Dump File \[C:\\fg\\triage\\[0-9a-f]{16}\.dmp\]/, 'kd was given the uploaded dump by its Windows path');
});
