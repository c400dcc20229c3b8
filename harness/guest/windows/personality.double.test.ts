// The Windows personality's session, step by step as the lifecycle calls it, against the Windows guest
// double (real SSH, real PowerShell 7, the real guest and driver scripts; Windows's own programs and
// cmdlets are test doubles replaying recorded outputs). Each refusal is checked for whose it is.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Cell } from '../../../matrix/index.ts';
import { pwshSkip } from '../../../lib/pwsh.ts';
import { parseWorkload } from '../../../workloads/spec.ts';
import { InfraFailure, PackageRefused, RecordingFailed } from '../../cell/failures.ts';
import type { GuestSession, PreparedCell } from '../../cell/personality.ts';
import type { VmInstance } from '../../providers/types.ts';
import { sshdMissingReason } from '../ssh/sshd-fixture.ts';
import { windowsImageFor, windowsPersonality } from './personality.ts';
import { SAMPLES, startWindowsDouble, windows11State, type WindowsDoubleGuest, type WindowsDoubleState } from './test-doubles/guest-double.ts';

const skip = sshdMissingReason() || pwshSkip() || (existsSync(SAMPLES) ? false : `${SAMPLES} is not beside the repository`);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE = path.resolve(HERE, '../../../driver/packages/fgfilter');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

async function session(t: { teardown(fn: () => unknown): void }, state: WindowsDoubleState = windows11State(), ubr = 4349): Promise<{ g: WindowsDoubleGuest; s: GuestSession }> {
  const g = await startWindowsDouble(state);
  t.teardown(() => g.stop());
  const personality = windowsPersonality({ rebootPollMs: 200, rebootDelaySeconds: 1, connectOptions: { privateKeyPath: g.sshd.clientKeyPath } });
  // What prepare() gives for a win11-24h2 cell at 26100.<ubr> (the image is the manifest's facts alone).
  const prepared = {
    image: { dir: g.stateDir, manifest: { os: { family: 'windows', release: 'win11-24h2', build: '26100', ubr }, machine: { bootSeconds: 5 }, ssh: { user: g.sshd.user, hostKeyFingerprint: g.sshd.hostFingerprint } } },
    packages: [{ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }],
    params: {},
    ours: ['fgfilter'],
  } as unknown as PreparedCell;
  const s = await personality.connect({ ssh: { host: '127.0.0.1', port: g.sshd.port } } as VmInstance, prepared, AbortSignal.timeout(60_000));
  t.teardown(() => s.close());
  return { g, s };
}

const signal = (): AbortSignal => AbortSignal.timeout(240_000);

t.test('a cell on the double: identity, stage, install, verifier with its reboot, workload, unload, collect', { skip, timeout: 600_000 }, async (t) => {
  const { g, s } = await session(t);
  t.same(await s.identity(signal()), { build: '26100.4349' }, 'the patch level the cell asked for');

  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  t.equal(staged.remote, 'C:\\fleetgate\\packages\\fgfilter\\fgfilter.inf');
  t.equal(staged.sha256, sha256(path.join(PACKAGE, 'fgfilter.sys')), 'the .sys that arrived, checked on the guest');

  await s.install(staged, {}, signal());
  t.match(g.state().fltmc?.loaded, [{ name: 'fgfilter', altitude: '371100', volumes: ['C:'] }], 'loaded and attached');
  const params = g.state().registry['HKLM:\\SYSTEM\\CurrentControlSet\\Services\\fgfilter\\Parameters']!;
  t.same(params.EnforcementMode, { type: 'REG_DWORD', value: 1 }, "the manifest's enforce mode, written before the load");
  t.match(params.AllowedImages, { type: 'REG_MULTI_SZ', value: ['%SystemRoot%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', '%SystemRoot%\\System32\\OpenSSH\\sshd.exe', '%ProgramFiles%\\nodejs\\node.exe', '%SystemRoot%\\System32\\cmd.exe'] }, "the harness's executables allowed");

  const firstChannel = s.channel;
  const v = await s.applyVerifier('standard', signal());
  t.equal(v.applied, true);
  t.match(v.note, /verifier \/standard \/driver fgfilter\.sys; rebooted in \d+ s .*verifier \/query: flags 0x209bb, fgfilter\.sys \(load: 1\)/);
  t.not(s.channel, firstChannel, 'the channel after the reboot is a new one');
  t.equal(g.state().boots, 1);

  const spec = parseWorkload('tiny.yaml', 'name: tiny\ndefaults: { dir: tiny, files: 20, fileSize: 512 }\noperations:\n  - op: create\n  - op: open\n    count: 40\n');
  const result = await s.runWorkload(spec, { timeoutMs: 120_000, signal: signal() });
  t.equal(result.workload, 'tiny');
  t.ok(result.steps.some((x) => x.op === 'open' && x.count === 40), 'the agent ran under the image Node.js, on the guest C: drive');

  await s.unload(staged, signal());
  t.same(g.state().fltmc?.loaded, [], 'unloaded');
  t.same(g.state().driverStore, [], 'and uninstalled');

  copyFileSync(path.join(SAMPLES, 'dumps/triage_x64.dmp'), g.hostPath('C:\\Windows\\Minidump\\120226-8171-01.dmp'));
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-collect-'));
  const files = await s.collect(dir, signal());
  t.same(files.map((f) => path.basename(f)), ['minidump-120226-8171-01.dmp']);
  t.equal(sha256(files[0]!), sha256(path.join(SAMPLES, 'dumps/triage_x64.dmp')), 'the dump whole');
});

t.test('between latency rounds: fltmc unload takes ours out (still installed), fltmc load puts it back attached; a filter that refuses to unload is said, not thrown', { skip, timeout: 300_000 }, async (t) => {
  const { g, s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  await s.install(staged, {}, signal());
  t.same(await s.takeOut!(staged, signal()), { out: true });
  t.same(g.state().fltmc?.loaded, [], 'not loaded for the baseline run');
  t.not(g.state().driverStore?.length ?? 0, 0, 'still installed');
  await s.putBack!(staged, {}, signal());
  t.match(g.state().fltmc?.loaded, [{ name: 'fgfilter', altitude: '371100', volumes: ['C:'] }], 'loaded and attached again');
  const st = g.state();
  g.setState({ ...st, fltmc: { ...st.fltmc!, refuseUnload: ['fgfilter'] } });
  const refused = await s.takeOut!(staged, signal());
  t.match(refused, { out: false, why: /fltmc unload fgfilter was refused/ });
  t.match(g.state().fltmc?.loaded, [{ name: 'fgfilter' }], 'still loaded: the lifecycle measures sequentially');
});

t.test('filter delays (UNVERIFIED on Windows): a workload recorded by wpr with the Minifilter profile, exported by wpaexporter with the cell profile, brought back and read; no Toolkit in the image is infrastructure, said', { skip, timeout: 300_000 }, async (t) => {
  const st = windows11State();
  const { g, s } = await session(t, { ...st, wpr: { delaysUs: { fgfilter: 42.5 }, callbacks: 4 } });
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  await s.install(staged, {}, signal());
  const profile = path.join(mkdtempSync(path.join(tmpdir(), 'fg-wpa-')), 'minifilter delays.wpaProfile');
  writeFileSync(profile, '<?xml version="1.0" encoding="utf-8"?>\n<WpaProfileContainer/>\n');
  const spec = parseWorkload('tiny.yaml', 'name: tiny\ndefaults: { dir: tiny, files: 5, fileSize: 64 }\noperations:\n  - op: create\n  - op: open\n    count: 10\n');
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-capture-'));
  const c = await s.captureFilterDelays!(spec, { wpaProfile: profile, dir, timeoutMs: 120_000, signal: signal() });
  t.equal(c.result.workload, 'tiny', "the recorded run is the agent's run, its result read");
  t.same(c.files.map((f) => path.basename(f)), ['filter-delays-tiny-Mini-Filter_Delays.csv'], 'the export brought back');
  t.same(c.delays.delays.map((r) => [r.filter, r.operation, r.count, r.meanUs, r.p99Us]).sort(), [['fgfilter', 'IRP_MJ_CLEANUP', 4, 42.5, 42.5], ['fgfilter', 'IRP_MJ_CREATE', 4, 42.5, 42.5]], 'the loaded filter, the time the double was told');
  t.match(c.tool, /wpr \+ wpaexporter \(minifilter delays\.wpaProfile; recording \d+ bytes, deleted once exported\)/);
  t.equal(g.state().wpr?.recording ?? null, null, 'the recording stopped');
  t.notOk(existsSync(g.hostPath('C:\\fleetgate\\capture\\tiny\\filter-delays.etl')), 'the recording is gone from the guest once exported (it can be gigabytes)');

  // A recording left running (an interrupted attempt) is cancelled before the new one starts.
  g.setState({ ...g.state(), wpr: { ...g.state().wpr, recording: { profiles: ['GeneralProfile'], filters: [] } } });
  const again = await s.captureFilterDelays!(spec, { wpaProfile: profile, dir, timeoutMs: 120_000, signal: signal() });
  t.equal(again.delays.rows, 8);

  const err = await s.captureFilterDelays!(spec, { wpaProfile: profile, exporter: 'C:\\WPT\\wpaexporter.exe', dir, timeoutMs: 120_000, signal: signal() }).catch((e: unknown) => e);
  t.type(err, RecordingFailed, 'the guest answered: not recorded, said, no verdict');
  t.match((err as Error).message, /the filter-delay recording failed: .*no wpaexporter\.exe at C:\\WPT\\wpaexporter\.exe: the image needs the Windows Performance Toolkit/);
  t.equal(g.state().wpr?.recording ?? null, null, 'nothing left recording');

  // wpr -stop failing: the recording is cancelled, not left running into unload and collect.
  g.setState({ ...g.state(), wpr: { ...g.state().wpr, failStop: true } });
  const stopFails = await s.captureFilterDelays!(spec, { wpaProfile: profile, dir, timeoutMs: 120_000, signal: signal() }).catch((e: unknown) => e);
  t.match(String(stopFails), /wpr -stop failed/);
  t.equal(g.state().wpr?.recording ?? null, null, 'cancelled after a failed stop');
  g.setState({ ...g.state(), wpr: { ...g.state().wpr, failStop: false } });

  // The profile gone from this machine (a run resumed elsewhere): not recorded, said.
  const gone = await s.captureFilterDelays!(spec, { wpaProfile: `${profile}.gone`, dir, timeoutMs: 120_000, signal: signal() }).catch((e: unknown) => e);
  t.type(gone, RecordingFailed);
  t.match(String(gone), /no WPA profile at .*\.gone on this machine/);
});

t.test('a guest at another patch level than its image is infrastructure, not a verdict', { skip, timeout: 240_000 }, async (t) => {
  const { s } = await session(t, windows11State({ ubr: 4652 }));
  const err = await s.identity(signal()).catch((e: unknown) => e);
  t.ok(err instanceof InfraFailure && !(err instanceof PackageRefused), String(err));
  t.match(String(err), /runs 26100\.4652, but its image is 26100\.4349/);
});

t.test('code integrity refusing ours at load is our install failure, with fltmc words as evidence', { skip, timeout: 240_000 }, async (t) => {
  const { s } = await session(t, { ...windows11State(), fltmc: { loadErrors: { fgfilter: '0x80070241' } } });
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  const err = await s.install(staged, {}, signal()).catch((e: unknown) => e);
  t.ok(err instanceof PackageRefused, String(err));
  t.equal((err as PackageRefused).role, 'ours');
  t.match((err as PackageRefused).evidence, { file: 'install.txt', text: /Load failed with error: 0x80070241/ });
});

t.test('pnputil refusing our catalog is our install failure', { skip, timeout: 240_000 }, async (t) => {
  const { s } = await session(t, { ...windows11State(), pnputil: { refuseAdd: 'pnputil/pscam4windows_issue1_add_driver_hash_not_in_catalog.txt' } });
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  const err = await s.install(staged, {}, signal()).catch((e: unknown) => e);
  t.ok(err instanceof PackageRefused, String(err));
  t.match((err as PackageRefused).evidence?.text, /The hash for the file is not present in the specified catalog file/);
});

t.test('another filter loaded at our altitude is a finding that names it', { skip, timeout: 240_000 }, async (t) => {
  const { s } = await session(t, { ...windows11State(), fltmc: { loaded: [{ name: 'partnerav', altitude: '371100', instance: 'partnerav Instance', volumes: ['C:'] }] } });
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  const err = await s.install(staged, {}, signal()).catch((e: unknown) => e);
  t.ok(err instanceof PackageRefused, String(err));
  t.match(String(err), /altitude 371100 collides with partnerav, already loaded/);
});

t.test('a cell whose golden image is not there fails as infrastructure, naming where it looked', async (t) => {
  const cell = { id: 'c1', os: { release: 'win11-24h2', family: 'client', build: 26100, ubr: 4349, kb: null, month: null, patchLevel: '26100.4349' } } as unknown as Cell;
  const err = (() => {
    try {
      windowsImageFor(cell, '/nonexistent/images');
      return null;
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof InfraFailure, String(err));
  t.match(String(err), /\/nonexistent\/images\/win11-24h2-26100\.4349 does not exist/);
});

t.test("driver parameters are the service's Parameters values; a debug build that bugchecks as the workload starts leaves the recorded stop and its dump, which afterCrash brings back once the guest restarted", { skip, timeout: 600_000 }, async (t) => {
  const { g, s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  await s.identity(signal());
  await s.install(staged, { DebugFault: 'bugcheck', PollMs: 250 }, signal());
  const params = g.state().registry['HKLM:\\SYSTEM\\CurrentControlSet\\Services\\fgfilter\\Parameters']!;
  t.same(params.DebugFault, { type: 'REG_SZ', value: 'bugcheck' }, 'a string as REG_SZ');
  t.same(params.PollMs, { type: 'REG_DWORD', value: 250 }, 'a number as REG_DWORD');
  t.same(params.EnforcementMode, { type: 'REG_DWORD', value: 1 }, "beside the manifest's values");

  const spec = parseWorkload('tiny.yaml', 'name: tiny\ndefaults: { dir: tiny, files: 5, fileSize: 64 }\noperations:\n  - op: open\n    count: 5\n');
  const err = await s.runWorkload(spec, { timeoutMs: 5_000, signal: signal() }).catch((e: unknown) => e);
  t.ok(err instanceof Error, `the workload never finished: ${String(err)}`);
  const record = readFileSync(path.join(g.stateDir, 'bugchecks.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { code: string; params: string[] });
  t.match(record, [{ code: '0x1000007E', params: ['0xFFFFFFFFC0000005', /^0x/, /^0x/, /^0x/] }], "the stop the recorded dump's header holds");

  const dir = mkdtempSync(path.join(tmpdir(), 'fg-aftercrash-'));
  const files = await s.afterCrash!(dir, signal());
  t.equal(files.length, 1, 'the Minidump the guest wrote');
  t.equal(sha256(files[0]!), sha256(path.join(SAMPLES, 'dumps/triage_x64.dmp')), 'whole');
  t.equal(g.state().boots, 1, 'after one restart');
  t.same(g.state().fltmc?.loaded, [], 'a demand-start filter is not loaded after it');
});

t.test("a build that denies programs its allow list names is our install failure, found before any workload: the heartbeat's cmd.exe first", { skip, timeout: 300_000 }, async (t) => {
  const { s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  // The manifest's list starts with powershell.exe: this build lets only that one through.
  const err = await s.install(staged, { DebugFault: 'first-allowed-only' }, signal()).catch((e: unknown) => e);
  t.ok(err instanceof PackageRefused, String(err));
  t.match(String(err), /fgfilter stops the harness's heartbeat, a cmd\.exe opening a file, once loaded: Access is denied/);
});

t.test('with its allow list honoured, every program the harness runs starts after the load', { skip, timeout: 300_000 }, async (t) => {
  const { g, s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  await s.install(staged, {}, signal());
  t.match(readFileSync(path.join(g.stateDir, 'filter-policy', 'fgfilter.allowed'), 'utf8'), /C:\\Program Files\\nodejs\\node\.exe/, 'the filter model enforces the list written from the manifest');
});

t.test("a test-signed package's certificate is trusted in Root and TrustedPublisher before it installs; a .cer that is none is ours to answer for", { skip, timeout: 300_000 }, async (t) => {
  const pkg = mkdtempSync(path.join(tmpdir(), 'fg-testsigned-'));
  for (const f of ['fgfilter.inf', 'fgfilter.sys', 'fgfilter.cat', 'fleetgate.driver.yaml']) copyFileSync(path.join(PACKAGE, f), path.join(pkg, f));
  copyFileSync(path.join(HERE, 'testdata', 'fleetgate-test.cer'), path.join(pkg, 'fgfilter.cer'));
  const { g, s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: pkg, path: pkg }, signal());
  await s.install(staged, {}, signal());
  const certs = (g.state() as unknown as { certificates: Record<string, Array<{ thumbprint: string; subject: string }>> }).certificates;
  const want = { thumbprint: '114C58C840FE6326BA2A1249E4FEFAD535F97979', subject: 'CN=fleetgate test signing (test only)' };
  t.same(certs['Cert:\\LocalMachine\\Root'], [want]);
  t.same(certs['Cert:\\LocalMachine\\TrustedPublisher'], [want]);
  t.match(g.state().fltmc?.loaded, [{ name: 'fgfilter' }], 'then installed and loaded');

  const bad = mkdtempSync(path.join(tmpdir(), 'fg-badcer-'));
  for (const f of ['fgfilter.inf', 'fgfilter.sys', 'fgfilter.cat', 'fleetgate.driver.yaml']) copyFileSync(path.join(PACKAGE, f), path.join(bad, f));
  writeFileSync(path.join(bad, 'fgfilter.cer'), 'not a certificate\n');
  const { s: s2 } = await session(t);
  const staged2 = await s2.stage({ role: 'ours', name: 'fgfilter', package: bad, path: bad }, signal());
  const err = await s2.install(staged2, {}, signal()).catch((e: unknown) => e);
  t.ok(err instanceof PackageRefused, String(err));
  t.match(String(err), /fgfilter\.cer, the certificate fgfilter ships, could not be imported/);
});

t.test("what ours denied comes back with collect, read from where its manifest says it logs (Application, provider fgfilter)", { skip, timeout: 300_000 }, async (t) => {
  const { g, s } = await session(t);
  const staged = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  await s.install(staged, {}, signal());
  const dir = mkdtempSync(path.join(tmpdir(), 'fg-denials-'));
  t.same(await s.collect(dir, signal()), [], 'nothing denied: no denials.txt');
  // As a build that stopped honouring node.exe on its list would: the model's list without it.
  writeFileSync(path.join(g.stateDir, 'filter-policy', 'fgfilter.allowed'), 'C:\\Windows\\System32\\cmd.exe\nC:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\n');
  const spec = parseWorkload('tiny.yaml', 'name: tiny\ndefaults: { dir: tiny, files: 5, fileSize: 64 }\noperations:\n  - op: open\n    count: 5\n');
  const err = await s.runWorkload(spec, { timeoutMs: 60_000, signal: signal() }).catch((e: unknown) => e);
  t.ok(err instanceof Error, 'the agent could not start');
  const files = await s.collect(dir, signal());
  t.same(files.map((f) => path.basename(f)), ['denials.txt']);
  t.match(readFileSync(files[0]!, 'utf8'), /Application\/fgfilter 1001 Warning: fgfilter denied the start of C:\\Program Files\\nodejs\\node\.exe: not on its allow list/);
});

t.test('upgrade-from: the previous build installed, then upgraded in place to ours, each staged in a folder of its own; the installed image is the new one', { skip, timeout: 300_000 }, async (t) => {
  const next = mkdtempSync(path.join(tmpdir(), 'fg-next-'));
  for (const f of ['fgfilter.inf', 'fgfilter.cat', 'fleetgate.driver.yaml']) copyFileSync(path.join(PACKAGE, f), path.join(next, f));
  writeFileSync(path.join(next, 'fgfilter.sys'), `${readFileSync(path.join(PACKAGE, 'fgfilter.sys'), 'utf8')}(the next build)\n`);
  const { g, s } = await session(t);
  const from = await s.stage({ role: 'ours', name: 'fgfilter', package: PACKAGE, path: PACKAGE }, signal());
  const to = await s.stage({ role: 'ours', name: 'fgfilter', package: next, path: next }, signal());
  t.not(to.remote, from.remote, 'two folders on the guest');
  await s.install(from, {}, signal());
  await s.upgrade!(from, to, { DebugFault: 'none' }, signal());
  t.equal(sha256(g.hostPath('C:\\Windows\\System32\\drivers\\fgfilter.sys')), to.sha256, "the new build's image is what is installed");
  t.match(g.state().fltmc?.loaded, [{ name: 'fgfilter', altitude: '371100', volumes: ['C:'] }], 'loaded and attached again');
  t.same(g.state().registry['HKLM:\\SYSTEM\\CurrentControlSet\\Services\\fgfilter\\Parameters']!.DebugFault, { type: 'REG_SZ', value: 'none' }, 'its parameters written again');
  await s.unload(to, signal());
  t.same(g.state().driverStore, [], 'and the upgraded package uninstalls');
});
