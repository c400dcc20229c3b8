// Issue #16 row 10: the PowerShell Direct password never goes on a command line, over either transport
// to the Hyper-V host. Over SSH the command line is the one handed to ssh2's exec (it runs on the host
// as cmd.exe's and powershell.exe's argv); locally it is the argv node-powershell spawns PowerShell
// with. The password must travel on stdin instead, and it must really get there (the tests check both).
// The same path against the Hyper-V host double, with every process's argv sampled, is
// secrets-argv.double.test.ts.
import cp from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { powerShellTools, pwshSkip } from '../../../lib/pwsh.ts';
import type { ExecOptions, ExecResult } from '../../guest/channel.ts';
import { decodePowerShell, STDIN_BOOTSTRAP_COMMAND, type PreparedPowerShell } from '../../guest/windows/encode.ts';
import { prepareHostPowerShell } from './encode-host.ts';
import { PowerShellHyperVHost, SshPowerShellTransport } from './host.ts';
import { LocalShellTransport, startNodePowerShell, type LongLivedShell } from './local-shell.ts';
import { PowerShellDirectChannel } from './powershell-direct.ts';
import { descendantsOf, revealsSecret } from './testdata/argv-watch.ts';
import { RecordedHyperVHost } from './testdata/recorded-host.ts';

/** A password no other test or process uses, so that finding it anywhere means it leaked from here. */
const SECRET = `Fg-${randomBytes(12).toString('hex')}-pw`;

t.test('row 10 (#16): revealsSecret finds a password through the -EncodedCommand layers, and only then', async (t) => {
  const prepared = prepareHostPowerShell('get_vm_state', { name: 'vm', note: SECRET }, Number.MAX_SAFE_INTEGER);
  t.equal(prepared.mode, 'encoded');
  t.notOk(prepared.command.includes(SECRET), 'not in plain text: the check must see through base64');
  t.ok(revealsSecret(prepared.command, SECRET), 'found inside base64(UTF-16LE script(base64(UTF-8 JSON)))');
  t.ok(revealsSecret(`x ${Buffer.from(`ab${SECRET}`).toString('base64')} y`, SECRET));
  t.notOk(revealsSecret(prepareHostPowerShell('get_vm_state', { name: 'vm' }, Number.MAX_SAFE_INTEGER).command, SECRET));
});

t.test('row 10 (#16): over SSH: no command handed to exec holds the PowerShell Direct password; their stdin does', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fg-secret-ssh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const recorded = new RecordedHyperVHost({ guestPassword: SECRET });
  const vm = recorded.addVm({ name: 'fleetgate-cell-s', state: 'Running' });
  // What ssh2's exec would get: the command line run on the host, and what goes on the channel's stdin.
  const sent: { command: string; stdin: string | null }[] = [];
  const channel = {
    async exec(command: string, o: ExecOptions): Promise<ExecResult> {
      const stdin = o.stdin === undefined ? null : String(o.stdin);
      sent.push({ command, stdin });
      const prepared: PreparedPowerShell = stdin === null ? { mode: 'encoded', command } : { mode: 'stdin', command, stdin };
      const r = await recorded.exec(prepared, o.timeoutMs);
      return { ...r, stdoutDroppedBytes: 0, stderrDroppedBytes: 0, truncated: false, aborted: false, durationMs: 1 };
    },
    upload: async (l: string, h: string) => {
      await recorded.putFile(l, h);
      return { bytes: 0, sha256: '', durationMs: 0 };
    },
    download: async (h: string, l: string) => {
      await recorded.getFile(h, l);
      return { bytes: 0, sha256: '', durationMs: 0 };
    },
    close: async () => undefined,
  };
  const host = new PowerShellHyperVHost(new SshPowerShellTransport(channel, 'ssh fleetgate@hv-test:22'));
  const direct = new PowerShellDirectChannel({ host, vmName: vm.name, user: 'fleetgate', password: SECRET, stagingDir: dir });

  t.equal((await direct.exec('exit 0', { timeoutMs: 5_000 })).exitCode, 0, 'exec in the guest');
  const local = path.join(dir, 'payload.bin');
  writeFileSync(local, 'payload');
  await direct.upload(local, 'C:\\fleetgate\\payload.bin');
  await direct.download('C:\\fleetgate\\payload.bin', path.join(dir, 'back.bin'));
  // Not only PowerShell Direct: any host script given a password keeps it off the command line.
  await host.run('get_vm_state', { name: vm.name, password: SECRET });

  t.same(recorded.calls.map((c) => c.script), ['invoke_in_vm', 'copy_to_vm', 'copy_from_vm', 'get_vm_state']);
  t.same(recorded.calls.slice(0, 3).map((c) => c.input.password), [SECRET, SECRET, SECRET], 'the host script got the password (the recorded host checks it)');
  for (const [i, s] of sent.entries()) {
    t.notOk(revealsSecret(s.command, SECRET), `exec #${i + 1}: the command line has no password in any encoding`);
    t.ok(s.stdin !== null && revealsSecret(s.stdin, SECRET), `exec #${i + 1}: it travelled on stdin`);
    t.equal(decodePowerShell(s.command, s.stdin ?? undefined).mode, 'stdin');
  }
  t.equal(sent.length, 4);
  t.ok(sent.every((s) => s.command === STDIN_BOOTSTRAP_COMMAND), 'the command is the fixed stdin bootstrap: the same text for every call, no data');
});

t.test('row 10 (#16): which host scripts go through stdin: those of PowerShell Direct, and any given a password', async (t) => {
  // With no length limit (the local transport's), so that only the secret can choose stdin: at
  // cmd.exe's limit the PowerShell Direct scripts are long enough to go through stdin anyway.
  const unlimited = Number.MAX_SAFE_INTEGER;
  t.equal(prepareHostPowerShell('get_vm_state', { name: 'vm' }).mode, 'encoded', 'no secret: -EncodedCommand when it fits');
  t.equal(prepareHostPowerShell('get_vm_state', { name: 'vm' }, unlimited).mode, 'encoded', 'no secret, no limit: -EncodedCommand');
  for (const script of ['invoke_in_vm', 'copy_to_vm', 'copy_from_vm'] as const) {
    t.equal(prepareHostPowerShell(script, { name: 'vm', user: 'u', password: '' }, unlimited).mode, 'stdin', `${script}: always stdin, even with an empty password`);
  }
  t.equal(prepareHostPowerShell('get_vm_state', { name: 'vm', nested: [{ Password: 'x' }] }, unlimited).mode, 'stdin', 'a password field anywhere in the input');
  t.equal(prepareHostPowerShell('get_vm_state', { name: 'vm', password: null }, unlimited).mode, 'encoded', 'a null password is no secret');
  const cyclic: Record<string, unknown> = { name: 'vm' };
  cyclic.self = cyclic;
  t.throws(() => prepareHostPowerShell('get_vm_state', cyclic, unlimited), /circular/i, 'a cycle ends in JSON.stringify, not a loop');
  const stdin = prepareHostPowerShell('get_vm_state', { name: 'vm', password: SECRET }, unlimited);
  t.same(decodePowerShell(stdin.command, stdin.mode === 'stdin' ? stdin.stdin : undefined).input, { name: 'vm', password: SECRET }, 'the input decodes whole from stdin');
  t.throws(() => decodePowerShell(stdin.command, '!!not base64!!'), /not base64/, 'a damaged stdin is refused, not decoded in part');
});

t.test('row 10 (#16): local: the spawned PowerShell has no password in its argv; the password goes on its stdin', { skip: pwshSkip(), timeout: 180_000 }, async (t) => {
  // Every spawn in this process (node-powershell's included: child-shell calls child_process.spawn
  // when it starts the shell): its argv, and what is written to the child's stdin.
  const spawned: { file: string; args: string[]; stdin: string[] }[] = [];
  const realSpawn = cp.spawn;
  const spy = ((file: string, args: readonly string[], options: cp.SpawnOptions) => {
    const child = realSpawn(file, args, options);
    const record = { file, args: [...args], stdin: [] as string[] };
    spawned.push(record);
    const write = child.stdin!.write.bind(child.stdin!) as (chunk: unknown, ...rest: unknown[]) => boolean;
    child.stdin!.write = ((chunk: unknown, ...rest: unknown[]) => {
      record.stdin.push(String(chunk));
      return write(chunk, ...rest);
    }) as NonNullable<typeof child.stdin>['write'];
    return child;
  }) as typeof cp.spawn;
  cp.spawn = spy;
  syncBuiltinESMExports();
  t.teardown(() => {
    cp.spawn = realSpawn;
    syncBuiltinESMExports();
  });

  let shell: LongLivedShell | undefined;
  const transport = new LocalShellTransport({ executable: powerShellTools().pwsh!, start: (exe) => (shell = startNodePowerShell(exe)) });
  t.teardown(() => transport.close());
  const host = new PowerShellHyperVHost(transport);
  const direct = new PowerShellDirectChannel({ host, vmName: 'fleetgate-cell-l', user: 'fleetgate', password: SECRET });
  // pwsh here has no Hyper-V: invoke_in_vm fails at Invoke-Command -VMName, after the password was read.
  const failed = await direct.exec('exit 0', { timeoutMs: 60_000 }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(failed instanceof Error, 'the script ran (and failed without Hyper-V)');

  const shells = spawned.filter((s) => s.file === powerShellTools().pwsh);
  t.equal(shells.length, 1, 'one long-lived PowerShell');
  t.same(shells[0]!.args, ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-NoExit', '-Command', '-'], 'its argv: options only, the commands come on stdin');
  for (const s of spawned) t.notOk(revealsSecret([s.file, ...s.args].join(' '), SECRET), `spawn ${s.file}: no password in its argv`);
  t.ok(revealsSecret(shells[0]!.stdin.join(''), SECRET), 'the script with the password went on its stdin');
  // What the live processes say of themselves (a launcher's child included: ~/.dotnet/tools/pwsh starts the real pwsh).
  const children = descendantsOf(process.pid);
  t.ok(children.length >= 1, 'the warm shell is still running');
  for (const c of children) t.notOk(revealsSecret(c.argv, SECRET), `process ${c.pid} (${c.argv.slice(0, 60)}): no password in /proc/${c.pid}/cmdline`);
  // node-powershell records every command it ran (its history): the password must not stay there.
  t.equal((shell as unknown as { history: unknown[] }).history.length, 0, "node-powershell's history of commands is emptied after each call");
  // Nor in PowerShell's own history of the lines it read (Get-History), which a later line could print.
  const own = await shell!.invoke("(Get-History | ForEach-Object CommandLine) -join \"`n\"");
  const lines = own.stdout?.toString('utf8') ?? '';
  t.match(lines, /\S/, 'Get-History answered (it keeps one line: the end marker before this one)');
  t.notOk(revealsSecret(lines, SECRET), "PowerShell's own history has no password");
});

t.test("row 10 (#16): the local transport empties the shell's history after every call, failed ones too", async (t) => {
  const history: unknown[] = [];
  let calls = 0;
  const fake: LongLivedShell & { history: unknown[] } = {
    history,
    async invoke(command: string) {
      history.unshift({ command });
      calls++;
      if (command.includes('FromBase64String') && calls === 3) throw new Error('the shell died');
      // The first call asks for the shell's pid: this process's own, which kill() never signals.
      return { stdout: Buffer.from(calls === 1 ? `${process.pid}\n` : '') };
    },
    async dispose() {},
  };
  const transport = new LocalShellTransport({ start: () => fake });
  const prepared = prepareHostPowerShell('get_vm_state', { name: 'vm' }, Number.MAX_SAFE_INTEGER);
  await transport.exec(prepared, 5_000);
  t.equal(history.length, 0, 'emptied after a call');
  await t.rejects(transport.exec(prepared, 5_000), /ended during a call/);
  t.equal(history.length, 0, 'and after a call the shell died under');
});
