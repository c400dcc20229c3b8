import t from 'tap';
import { getCrashControl, startDriver } from '../../../driver/windows/lifecycle.ts';
import { scriptPath } from '../../../driver/windows/runner.ts';
import { InfraFailure } from '../../../lib/errors.ts';
import type { ExecOptions, ExecResult, GuestChannel } from '../channel.ts';
import { RESULT_MARKER, WindowsScriptFailed, decodePowerShell } from './encode.ts';
import { WindowsGuest, heartbeatCommand, identityFromResult, windowsPathFromSftp, windowsRemoteSha256 } from './windows-guest.ts';

/**
 * Test double for the GuestChannel seam: records each exec and answers with a canned stdout.
 * It runs nothing; the answers below are written from the documented formats.
 */
class FakeWindowsChannel implements Pick<GuestChannel, 'exec'> {
  readonly calls: { command: string; options: ExecOptions }[] = [];
  constructor(private readonly reply: (script: string | null, input: unknown) => Partial<ExecResult>) {}
  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    this.calls.push({ command, options });
    const stdin = typeof options.stdin === 'string' ? options.stdin : undefined;
    const d = decodePowerShell(command, stdin);
    return {
      exitCode: 0, stdout: '', stderr: '', stdoutDroppedBytes: 0, stderrDroppedBytes: 0,
      truncated: false, timedOut: false, aborted: false, durationMs: 5,
      ...this.reply(d.scriptName, d.input),
    };
  }
}

const line = (script: string, result: unknown) => `${RESULT_MARKER}${JSON.stringify({ ok: true, script, result })}\r\n`;

/** get_identity's result as ConvertTo-Json -Compress would write it for a Windows 11 24H2 Pro
 * guest at the 2025-06 update (windows.md section 7: 26100.4349), BIOS-booted, test signing on. */
const IDENTITY_RESULT = {
  currentBuild: '26100',
  ubr: 4349,
  majorVersion: 10,
  minorVersion: 0,
  editionId: 'Professional',
  productName: 'Windows 10 Pro',
  displayVersion: '24H2',
  releaseId: '2009',
  installationType: 'Client',
  computerName: 'FG-W11-01',
  architecture: 'AMD64',
  firmwareType: 'Legacy',
  lastBootUpTime: '2025-06-20T08:01:02.345Z',
  secureBoot: null,
  testSigning: true,
  testSigningConfigured: true,
  systemStartOptions: ['NOEXECUTE=OPTIN', 'TESTSIGNING'],
  hvci: false,
  vbsStatus: 0,
  securityServicesRunning: [0],
  securityServicesConfigured: [0],
  crashControl: {
    CrashDumpEnabled: 7,
    AutoReboot: 1,
    Overwrite: 1,
    FilterPages: null,
    AlwaysKeepMemoryDump: 0,
    DumpFile: 'C:\\Windows\\MEMORY.DMP',
    DumpFileRaw: '%SystemRoot%\\MEMORY.DMP',
    MinidumpDir: 'C:\\Windows\\Minidump',
    MinidumpDirRaw: '%SystemRoot%\\Minidump',
  },
  reasons: {
    secureBoot: 'not-uefi: PlatformNotSupportedException: Cmdlet not supported on this platform: 0xC0000002',
  },
};

t.test('identity() sends get_identity.ps1 with an empty input and types its answer', async (t) => {
  const channel = new FakeWindowsChannel((script) => ({ stdout: `Active code page: 437\r\n${line(script!, IDENTITY_RESULT)}` }));
  const id = await new WindowsGuest(channel).identity();
  t.equal(channel.calls.length, 1);
  const call = channel.calls[0]!;
  const sent = decodePowerShell(call.command, typeof call.options.stdin === 'string' ? call.options.stdin : undefined);
  t.equal(sent.scriptName, 'get_identity');
  t.strictSame(sent.input, {});
  t.match(sent.script, /Confirm-SecureBootUEFI/, 'the script sent is get_identity.ps1');
  t.match(sent.script, /function Write-FleetgateResult/, 'with common.ps1 inlined');
  t.ok(call.options.timeoutMs >= 60_000);
  t.match(id, {
    build: 26100,
    ubr: 4349,
    patchLevel: '26100.4349',
    version: '10.0',
    edition: 'Professional',
    productName: 'Windows 10 Pro',
    displayVersion: '24H2',
    secureBoot: null,
    testSigning: true,
    testSigningConfigured: true,
    hvci: false,
    vbsStatus: 0,
    firmwareType: 'Legacy',
    crashDump: {
      kind: 'automatic',
      crashDumpEnabled: 7,
      autoReboot: true,
      overwrite: true,
      alwaysKeepMemoryDump: false,
      dumpFile: 'C:\\Windows\\MEMORY.DMP',
      dumpFileRaw: '%SystemRoot%\\MEMORY.DMP',
      minidumpDir: 'C:\\Windows\\Minidump',
    },
  });
  t.match(id.reasons.secureBoot, /^not-uefi:/);
});

t.test('identityFromResult checks what the guest sent', async (t) => {
  t.equal(identityFromResult({ ...IDENTITY_RESULT, crashControl: { CrashDumpEnabled: 1, FilterPages: 1 } }).crashDump.kind, 'active');
  t.equal(identityFromResult({ ...IDENTITY_RESULT, crashControl: { CrashDumpEnabled: 2 } }).crashDump.kind, 'kernel');
  t.equal(identityFromResult({ ...IDENTITY_RESULT, crashControl: {} }).crashDump.kind, 'unknown');
  t.equal(identityFromResult({ ...IDENTITY_RESULT, majorVersion: null }).version, null);
  t.throws(() => identityFromResult({ ...IDENTITY_RESULT, ubr: null }), { name: 'InfraFailure', message: /no UBR.*build 26100.*patch level/ });
  t.throws(() => identityFromResult({ ...IDENTITY_RESULT, currentBuild: null }), { message: /no CurrentBuild/ });
  t.throws(() => identityFromResult({ ...IDENTITY_RESULT, currentBuild: '26100a' }), { message: /currentBuild should be a non-negative integer/ });
  t.throws(() => identityFromResult({ ...IDENTITY_RESULT, secureBoot: 'yes' }), { message: /secureBoot should be true, false or null/ });
  t.throws(() => identityFromResult([1]), { message: /expected a JSON object/ });
});

t.test('identity(): a script error and a missing result line are infra failures naming the script', async (t) => {
  const failing = new FakeWindowsChannel((script) => ({
    exitCode: 1,
    stdout: `${RESULT_MARKER}${JSON.stringify({ ok: false, script, error: { message: 'Access is denied', type: 'System.UnauthorizedAccessException', errorId: 'x', category: 'PermissionDenied', position: '' } })}\r\n`,
  }));
  await t.rejects(new WindowsGuest(failing).identity(), WindowsScriptFailed);
  const silent = new FakeWindowsChannel(() => ({ exitCode: 1, stdout: '', stderr: "'powershell' is not recognized as an internal or external command" }));
  await t.rejects(new WindowsGuest(silent).identity(), { name: 'WindowsScriptNoResult', message: /get_identity.*not recognized/ });
  const slow = new FakeWindowsChannel(() => ({ exitCode: null, timedOut: true }));
  await t.rejects(new WindowsGuest(slow).identity(), { message: /get_identity did not finish within/ });
});

const H = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

t.test('fileSha256 and windowsRemoteSha256: the path goes as JSON, SFTP form turned into a Windows path', async (t) => {
  const channel = new FakeWindowsChannel((script, input) => ({
    stdout: line(script!, { path: (input as { path: string }).path, sha256: H, sizeBytes: 0 }),
  }));
  t.equal(await windowsRemoteSha256('/C:/Users/Jürgen/drop it\'s "here"/f.sys', channel), H);
  const sent = decodePowerShell(channel.calls[0]!.command);
  t.equal(sent.scriptName, 'get_file_hash');
  t.strictSame(sent.input, { path: 'C:\\Users\\Jürgen\\drop it\'s "here"\\f.sys' });
  t.ok(channel.calls[0]!.options.timeoutMs >= 300_000, 'a dump can take minutes to hash');
  t.equal(await new WindowsGuest(channel).fileSha256('C:\\Windows\\MEMORY.DMP'), H);

  const bad = new FakeWindowsChannel((script) => ({ stdout: line(script!, { path: 'x', sha256: 'E3B0', sizeBytes: 0 }) }));
  await t.rejects(new WindowsGuest(bad).fileSha256('x'), { message: /64 lowercase hex/ });
});

t.test('windowsPathFromSftp', async (t) => {
  t.equal(windowsPathFromSftp('/C:/Windows/Temp/a.sys'), 'C:\\Windows\\Temp\\a.sys');
  t.equal(windowsPathFromSftp('C:/Windows/x'), 'C:\\Windows\\x');
  t.equal(windowsPathFromSftp('/c:'), 'c:');
  t.equal(windowsPathFromSftp('C:\\already\\windows'), 'C:\\already\\windows');
  t.equal(windowsPathFromSftp('relative/name.txt'), 'relative/name.txt', 'relative paths are the SFTP home, left alone');
});

t.test('listDumps types the dump list', async (t) => {
  const channel = new FakeWindowsChannel((script) => ({
    stdout: line(script!, {
      dumps: [
        { path: 'C:\\Windows\\MEMORY.DMP', kind: 'memory', sizeBytes: 1_234_567_890, lastWriteTimeUtc: '2025-06-20T08:00:00.000Z' },
        { path: 'C:\\Windows\\Minidump\\062025-12345-01.dmp', kind: 'minidump', sizeBytes: 2_097_152, lastWriteTimeUtc: '2025-06-20T08:00:01.000Z' },
      ],
      memoryFiles: ['C:\\Windows\\MEMORY.DMP'],
      minidumpDirs: ['C:\\Windows\\Minidump'],
    }),
  }));
  const dumps = await new WindowsGuest(channel).listDumps();
  t.equal(decodePowerShell(channel.calls[0]!.command, channel.calls[0]!.options.stdin as string | undefined).scriptName, 'list_dumps');
  t.strictSame(dumps.map((d) => [d.kind, d.sizeBytes]), [['memory', 1_234_567_890], ['minidump', 2_097_152]]);
  const none = new FakeWindowsChannel((script) => ({ stdout: line(script!, { dumps: [] }) }));
  t.strictSame(await new WindowsGuest(none).listDumps(), []);
  const odd = new FakeWindowsChannel((script) => ({ stdout: line(script!, { dumps: [{ path: 'x', kind: 'user' }] }) }));
  await t.rejects(new WindowsGuest(odd).listDumps(), InfraFailure);
});

t.test('large scripts travel on stdin, small ones on the command line', async (t) => {
  const channel = new FakeWindowsChannel((script) => ({ stdout: line(script!, IDENTITY_RESULT) }));
  await new WindowsGuest(channel).identity();
  t.type(channel.calls[0]!.options.stdin, 'string', 'get_identity does not fit 8191 characters');
  const hash = new FakeWindowsChannel((script) => ({ stdout: line(script!, { path: 'x', sha256: H, sizeBytes: 0 }) }));
  await new WindowsGuest(hash).fileSha256('C:\\x');
  t.equal(hash.calls[0]!.options.stdin, undefined, 'get_file_hash fits');
});

t.test('the heartbeat is one cmd.exe opening a file every Windows has, not a PowerShell start', async (t) => {
  t.equal(heartbeatCommand, 'type "%SystemRoot%\\win.ini" >NUL');
  t.notMatch(heartbeatCommand, /powershell/i);
});

// ---------------------------------------------------------------------------------------------------
// the PowerShellRunner the driver's scripts run through

/** A script's error result, as Write-FleetgateError in common.ps1 writes it. */
const errorLine = (script: string, message: string) =>
  `${RESULT_MARKER}${JSON.stringify({ ok: false, script, error: { message, type: 'System.Management.Automation.RuntimeException', errorId: message, category: 'OperationStopped', position: 'At line:1 char:1' } })}\r\n`;

t.test('powerShellRunner(): a driver .ps1 composed with common.ps1, sent, and its result parsed', async (t) => {
  const channel = new FakeWindowsChannel((script, input) =>
    script === 'start_driver' && JSON.stringify(input) === '{"service":"fgfilter"}'
      ? { stdout: `Active code page: 437\r\n${line('start_driver', { exitCode: 0, stdout: '', stderr: null })}` }
      : { exitCode: 1, stdout: errorLine(script ?? '?', `unexpected script ${script} with ${JSON.stringify(input)}`) },
  );
  const runner = new WindowsGuest(channel).powerShellRunner();
  t.strictSame(await runner.run(scriptPath('start_driver'), { service: 'fgfilter' }, { timeoutMs: 7_000 }), { exitCode: 0, stdout: '', stderr: null });
  const call = channel.calls[0]!;
  t.equal(call.options.timeoutMs, 7_000, 'the caller\'s timeout reaches the channel');
  const sent = decodePowerShell(call.command, typeof call.options.stdin === 'string' ? call.options.stdin : undefined);
  t.equal(sent.scriptName, 'start_driver', 'named after the file');
  t.strictSame(sent.input, { service: 'fgfilter' });
  t.match(sent.script, /fltmc\.exe/, 'the body of start_driver.ps1');
  t.equal(sent.script.match(/^function Invoke-FleetgateNative \{$/gm)?.length, 1, 'Invoke-FleetgateNative from common.ps1, once');
  t.match(sent.script, /^function Write-FleetgateResult \{$/m);

  // Through the driver's own caller: lifecycle.ts -> runner -> channel -> typed result.
  t.strictSame(await startDriver(runner, { service: 'fgfilter' }), { loaded: true, alreadyLoaded: false, output: '' });
  t.equal(channel.calls[1]!.options.timeoutMs, 180_000, "startDriver's default timeout");
  const cc = { CrashDumpEnabled: 7, AutoReboot: 1, DumpFile: '%SystemRoot%\\MEMORY.DMP', MinidumpDir: '%SystemRoot%\\Minidump', Overwrite: 1 };
  const small = new FakeWindowsChannel((script) => ({ stdout: line(script!, cc) }));
  t.strictSame(await getCrashControl(new WindowsGuest(small).powerShellRunner()), cc);
  t.equal(small.calls[0]!.options.stdin, undefined, 'get_crash_control fits the command line');
  t.notOk(decodePowerShell(small.calls[0]!.command).script.includes('function Invoke-FleetgateNative'), 'a script that runs no program gets no Invoke-FleetgateNative');
});

t.test('powerShellRunner(): an error result is WindowsScriptFailed, a missing one WindowsScriptNoResult', async (t) => {
  const failing = new FakeWindowsChannel((script) => ({ exitCode: 1, stdout: errorLine(script!, 'INF not found on the guest: C:\\p\\x.inf') }));
  const runner = new WindowsGuest(failing).powerShellRunner();
  await t.rejects(runner.run(scriptPath('install_driver'), { infPath: 'C:\\p\\x.inf' }), {
    name: 'WindowsScriptFailed',
    script: 'install_driver',
    message: /install_driver failed: .*INF not found on the guest/,
  });
  await t.rejects(runner.run(scriptPath('install_driver'), {}), WindowsScriptFailed);
  const silent = new FakeWindowsChannel(() => ({ exitCode: 1, stdout: '', stderr: 'powershell died' }));
  await t.rejects(new WindowsGuest(silent).powerShellRunner().run(scriptPath('query_verifier'), {}), { name: 'WindowsScriptNoResult', message: /query_verifier.*powershell died/ });
  const other = new FakeWindowsChannel(() => ({ stdout: line('start_driver', {}) }));
  await t.rejects(new WindowsGuest(other).powerShellRunner().run(scriptPath('unload_driver'), {}), { message: /from script "start_driver", not unload_driver/ });
  const slow = new FakeWindowsChannel(() => ({ exitCode: null, timedOut: true }));
  await t.rejects(new WindowsGuest(slow).powerShellRunner().run(scriptPath('check_driver'), {}, { timeoutMs: 2_000 }), { message: /check_driver did not finish within 2s/ });
  await t.rejects(new WindowsGuest(silent).powerShellRunner().run('relative/check_driver.ps1', {}), TypeError);
});
