// The Hyper-V provider against RecordedHyperVHost (testdata/recorded-host.ts): a scripted fake of a
// Hyper-V host built from the documented formats (windows.md section 5). Not a live Hyper-V host:
// these tests prove the provider's logic and the encoding path, not the cmdlets' behaviour.
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import t, { type Test } from 'tap';
import { InfraFailure, UsageError } from '../../../lib/errors.ts';
import { decodePowerShell, minifyPowerShell, POWERSHELL_PREFIX } from '../../guest/windows/encode.ts';
import { providerContract } from '../contract.test-helper.ts';
import type { VmInstance, VmSpec } from '../types.ts';
import { createProvider, hasHostDump, providers } from '../index.ts';
import { formatTag, thisControllerId, type VmTag } from './controller.ts';
import { composeHostScript, HYPERV_SCRIPTS, hostScriptSource, prepareHostPowerShell } from './encode-host.ts';
import { HyperVHostError, PowerShellHyperVHost } from './host.ts';
import { LocalShellTransport, shellLine } from './local-shell.ts';
import { HyperVProvider, HyperVStartError, panicFrom18590, statusFromState, type HyperVProviderOptions } from './hyperv.ts';
import { NO_EVENTS_ERROR, RecordedHyperVHost } from './testdata/recorded-host.ts';
import { windowsImageForTests } from './testdata/windows-image.ts';

const IMAGE_ROOT = 'D:\\fleetgate\\images';
const VM_ROOT = 'D:\\fleetgate\\vms';
const manifest = windowsImageForTests();
const GOLDEN = `${IMAGE_ROOT}\\${manifest.name}\\disk.vhdx`;

function setup(t: Test, hostOptions: ConstructorParameters<typeof RecordedHyperVHost>[0] = {}, providerOptions: Partial<HyperVProviderOptions> = {}) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-hyperv-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const recorded = new RecordedHyperVHost(hostOptions);
  recorded.files.add(GOLDEN);
  const banners: { host: string; port: number }[] = [];
  const provider = new HyperVProvider({
    host: recorded.host,
    imageRoot: IMAGE_ROOT,
    vmRoot: VM_ROOT,
    pollIntervalMs: 5,
    waitForBanner: async (endpoint) => {
      banners.push(endpoint);
      return 'SSH-2.0-OpenSSH_for_Windows_9.5';
    },
    ...providerOptions,
  });
  const spec = (name: string, over: Partial<VmSpec> = {}): VmSpec => ({ name, cellDir: path.join(root, name), image: { dir: path.join(root, 'image'), manifest }, ...over });
  return { root, recorded, provider, spec, banners };
}

const hostNameOf = (vm: VmInstance): string => (vm as VmInstance & { hostName: string }).hostName;

// ---------------------------------------------------------------------------------------------------
// the contract

t.test('provider contract: Hyper-V against the recorded host', async (t) => {
  await providerContract(t, async () => {
    const { recorded, provider, spec } = setup(t);
    return {
      provider,
      spec: (name) => spec(name),
      panicKind: 'hyper-v',
      eventTimeoutMs: 5_000,
      // The guest bugchecks 0xD1 with the parameters of windows.md section 5's example event.
      provokePanic: async (vm) => void recorded.guestBugcheck(hostNameOf(vm), 0xd1, [0xffffe609207fd050n, 2n, 0n, 0xfffff80156f612d0n]),
      remainsOf: async (vm) => {
        const name = hostNameOf(vm);
        return [...(recorded.vms.has(name) ? [`VM ${name}`] : []), ...[...recorded.files].filter((f) => f.startsWith(`${VM_ROOT}\\${name}`))];
      },
      leaveOrphan: async () => {
        // A controller on this machine that died: this pid with another start time is not us.
        const me = thisControllerId();
        const tag: VmTag = { controller: { ...me, startTime: `${me.startTime}0` }, startedAt: new Date().toISOString(), mode: 'differencing', cell: 'orphan', vmDir: `${VM_ROOT}\\fleetgate-orphan` };
        recorded.addVm({ name: 'fleetgate-orphan', state: 'Running', notes: formatTag(tag), vmDir: tag.vmDir!, disks: [`${tag.vmDir}\\disk.vhdx`] });
        return { name: 'fleetgate-orphan', exists: async () => recorded.vms.has('fleetgate-orphan') || recorded.files.has(`${tag.vmDir}\\disk.vhdx`) };
      },
    };
  });
});

// ---------------------------------------------------------------------------------------------------
// what the provider asks of the host

t.test('start: differencing VHDX over the golden disk, Generation 2, Secure Boot per image, tagged, started, reached at its own address', async (t) => {
  const { recorded, provider, spec, banners } = setup(t);
  await using vm = await provider.start(spec('cell-a'));
  const made = recorded.callsOf('new_cell_vm')[0]!;
  t.match(made.input, {
    name: 'fleetgate-cell-a',
    mode: 'differencing',
    parentVhdx: GOLDEN,
    vmDir: `${VM_ROOT}\\fleetgate-cell-a`,
    memoryMiB: 4096,
    cpus: 2,
    switchName: 'Default Switch',
    secureBoot: false,
    tpm: false,
  });
  t.match(String(made.input.notes), /^fleetgate:\{"controller":/, 'notes carry the controller tag');
  t.same(recorded.vms.get('fleetgate-cell-a')!.disks, [`${VM_ROOT}\\fleetgate-cell-a\\disk.vhdx`]);
  t.equal(recorded.vms.get('fleetgate-cell-a')!.state, 'Running');
  t.same(vm.ssh, { host: recorded.vms.get('fleetgate-cell-a')!.address, port: 22 }, 'the VM\'s own IPv4, port 22');
  t.same(banners, [vm.ssh], 'waited for sshd there');
  t.ok(recorded.callsOf('get_vm_address').length >= 2, 'polled the address until the guest reported one');
  // cmd.exe's 8191 characters (windows.md section 9) hold the small scripts; the rest go through the
  // stdin bootstrap, as large guest scripts do.
  t.equal(recorded.callsOf('start_vm')[0]!.mode, 'encoded', 'a small script fits the -EncodedCommand line');
  t.equal(recorded.callsOf('new_cell_vm')[0]!.mode, 'stdin', 'a large one is read from stdin');
  const order = recorded.calls.map((c) => c.script).filter((s) => ['list_cell_vms', 'new_cell_vm', 'start_vm'].includes(s));
  t.same(order, ['list_cell_vms', 'new_cell_vm', 'start_vm']);
  t.match(readFileSync(vm.consolePath, 'utf8'), /differencing disk over D:\\fleetgate\\images/);
});

t.test('event 18590 from windows.md section 5 becomes panicked {action run, hyper-v, code, params as 0x hex}', async (t) => {
  const text = readFileSync(new URL('./testdata/event-18590.txt', import.meta.url), 'utf8').trim();
  t.same(panicFrom18590(text), { kind: 'hyper-v', code: '0xd1', params: ['0xffffe609207fd050', '0x2', '0x0', '0xfffff80156f612d0'] });
  t.same(panicFrom18590('something else'), { kind: 'other', raw: 'something else' }, 'unreadable text is kept raw, still a panic');

  const { recorded, provider, spec } = setup(t);
  await using vm = await provider.start(spec('cell-b'));
  recorded.events.push({ recordId: 99, time: new Date(), vmName: 'fleetgate-cell-b', vmId: recorded.vms.get('fleetgate-cell-b')!.id, message: text.replace('fleetgate-cell-a', 'fleetgate-cell-b') });
  const e = await vm.events.waitFor('panicked', { timeoutMs: 5_000 });
  t.match(e, { type: 'panicked', action: 'run', info: { kind: 'hyper-v', code: '0xd1', params: ['0xffffe609207fd050', '0x2', '0x0', '0xfffff80156f612d0'] } });
  // Only once, however many polls see it.
  await new Promise((r) => setTimeout(r, 50));
  t.equal(vm.events.history().filter((x) => x.type === 'panicked').length, 1, 'each record once');
  t.match(readFileSync(vm.consolePath, 'utf8'), /event 18590 \(record 99\)/, 'the text is in console.log');
});

t.test('events of other VMs and from before the VM was made are not this VM\'s', async (t) => {
  const { recorded, provider, spec } = setup(t);
  recorded.events.push({ recordId: 1, time: new Date(Date.now() - 60_000), vmName: 'fleetgate-cell-c', vmId: 'x', message: "'fleetgate-cell-c' has encountered a fatal error. ErrorCode0: 0x50" });
  recorded.addVm({ name: 'other', state: 'Running' });
  await using vm = await provider.start(spec('cell-c'));
  recorded.guestBugcheck('other', 0x3b);
  await new Promise((r) => setTimeout(r, 60));
  t.same(vm.events.history().filter((e) => e.type === 'panicked'), []);
});

t.test('"No events were found" as an error result is an empty list, not a failure', async (t) => {
  const { recorded, provider, spec } = setup(t, { noEvents: 'error' });
  await using vm = await provider.start(spec('cell-d'));
  await new Promise((r) => setTimeout(r, 40));
  t.ok(recorded.callsOf('get_crash_events').length >= 2);
  t.notMatch(readFileSync(vm.consolePath, 'utf8'), /poll failed/, 'no poll failure logged');
  recorded.guestBugcheck('fleetgate-cell-d', 0xc4, [0x62n, 0xffffc001n, 0n, 0n]);
  t.match(await vm.events.waitFor('panicked', { timeoutMs: 5_000 }), { info: { code: '0xc4', params: ['0x62', '0xffffc001', '0x0', '0x0'] } });
  t.ok(hostScriptSource('get_crash_events').includes("-notlike 'NoMatchingEventsFound*'"), 'the script itself catches it by error id');
});

t.test('the guest powering off → shutdown (guest) then exited; a reboot (uptime restarts) → reset', async (t) => {
  const { recorded, provider, spec } = setup(t);
  await using vm = await provider.start(spec('cell-e'));
  const v = recorded.vms.get('fleetgate-cell-e')!;
  v.bootedAt = new Date(Date.now() - 120_000);
  await new Promise((r) => setTimeout(r, 30));
  v.bootedAt = new Date();
  t.match(await vm.events.waitFor('reset', { timeoutMs: 5_000 }), { guest: true, reason: 'uptime-restarted' });
  recorded.guestPowerOff('fleetgate-cell-e');
  t.match(await vm.events.waitFor('shutdown', { timeoutMs: 5_000 }), { guest: true, reason: 'guest-poweroff' });
  t.equal(vm.events.history().at(-1)?.type, 'exited');
  t.equal(await vm.status(), 'exited');
});

t.test('stop: graceful through the shutdown service, forced with -TurnOff; status by state name', async (t) => {
  const { recorded, provider, spec } = setup(t);
  const a = await provider.start(spec('cell-f'));
  t.teardown(() => a[Symbol.asyncDispose]());
  await a.stop({ graceful: true, timeoutMs: 5_000 });
  t.match(recorded.callsOf('stop_vm')[0]!.input, { graceful: true, timeoutSeconds: 5 });
  t.match(a.events.history().at(-2), { type: 'shutdown', guest: false, reason: 'host-shutdown' });
  recorded.gracefulShutdownWorks = false;
  const b = await provider.start(spec('cell-g'));
  t.teardown(() => b[Symbol.asyncDispose]());
  await b.stop({ graceful: true, timeoutMs: 1_000 });
  t.match(b.events.history().at(-2), { reason: 'host-turnoff' });
  t.equal(statusFromState('Running'), 'running');
  t.equal(statusFromState('Paused'), 'paused');
  t.equal(statusFromState('Saved'), 'hyperv:Saved');
});

t.test('no host-side dump on Hyper-V (the capability is absent, not a method that throws); injectNmi on an Off VM is refused', async (t) => {
  const { provider, spec } = setup(t);
  const vm = await provider.start(spec('cell-h'));
  t.notOk(hasHostDump(vm), 'the guest writes its own dump');
  t.equal(vm.accel, 'hyper-v', 'and the VM says what accelerates it, not kvm');
  await vm[Symbol.asyncDispose]();
  await t.rejects(vm.injectNmi(), InfraFailure);
  t.equal(providers.hyperv.traits.hostDumps, false);
});

t.test('a paused VM: stop/resume events; resume() calls Resume-VM through start_vm', async (t) => {
  const { recorded, provider, spec } = setup(t);
  await using vm = await provider.start(spec('cell-i'));
  await new Promise((r) => setTimeout(r, 20));
  recorded.vms.get('fleetgate-cell-i')!.state = 'Paused';
  await vm.events.waitFor('stop', { timeoutMs: 5_000 });
  t.equal(await vm.status(), 'paused');
  await vm.resume();
  t.match(recorded.callsOf('start_vm').at(-1), { input: { name: 'fleetgate-cell-i' } });
  await vm.events.waitFor('resume', { timeoutMs: 5_000 });
  t.equal(await vm.status(), 'running');
});

t.test('a start that fails half-way removes what it made; a boot that bugchecks fails start()', async (t) => {
  const { recorded, provider, spec } = setup(t);
  recorded.failNext('start_vm', { message: "'fleetgate-cell-j' failed to start. (Virtual machine ID X)", type: 'Microsoft.HyperV.PowerShell.VirtualizationException', errorId: 'OperationFailed,Microsoft.HyperV.PowerShell.Commands.StartVM', category: 'NotSpecified', position: '' });
  const err = await provider.start(spec('cell-j')).catch((e: unknown) => e);
  t.type(err, HyperVHostError);
  t.match((err as HyperVHostError).errorId, /^OperationFailed,/);
  t.notOk(recorded.vms.has('fleetgate-cell-j'), 'VM removed');
  t.same([...recorded.files].filter((f) => f.includes('cell-j')), [], 'disk and folder removed');

  // Golden disk missing: new_cell_vm throws; the clean-up still runs (and finds nothing).
  const { recorded: r2, provider: p2, spec: s2 } = setup(t);
  r2.files.clear();
  await t.rejects(p2.start(s2('cell-k')), /the golden disk .* does not exist on this host/);
  t.equal(r2.callsOf('remove_cell_vm').length, 1);

  // Bugcheck while booting (before an address): HyperVStartError('panicked'), VM gone.
  const { recorded: r3, provider: p3, spec: s3 } = setup(t, { addressDelayPolls: 1_000_000 });
  const pending = p3.start(s3('cell-l'));
  for (let i = 0; i < 100 && !r3.vms.get('fleetgate-cell-l')?.bootedAt; i++) await new Promise((r) => setTimeout(r, 5));
  r3.guestBugcheck('fleetgate-cell-l', 0x7e);
  const e3 = await pending.catch((e: unknown) => e);
  t.type(e3, HyperVStartError);
  t.equal((e3 as HyperVStartError).reason, 'panicked');
  t.notOk(r3.vms.has('fleetgate-cell-l'));

  // No address within the boot limit.
  const { recorded: r4, provider: p4, spec: s4 } = setup(t, { addressDelayPolls: 1_000_000 });
  const e4 = await p4.start(s4('cell-m', { timeouts: { boot: 50 } })).catch((e: unknown) => e);
  t.match(e4, { reason: 'timeout', message: /no IPv4 address reported within 50 ms/ });
  t.notOk(r4.vms.has('fleetgate-cell-m'));
});

t.test('names: a live owner is a clash; a dead one is evicted; images must be VHDX', async (t) => {
  const { recorded, provider, spec } = setup(t);
  const a = await provider.start(spec('cell-n'));
  t.teardown(() => a[Symbol.asyncDispose]());
  await t.rejects(provider.start(spec('cell-n')), UsageError);
  await t.rejects(provider.start(spec('cell-n')), /already in use .*owned by this controller/);
  const me = thisControllerId();
  recorded.addVm({ name: 'fleetgate-cell-o', notes: formatTag({ controller: { ...me, startTime: 'dead' }, startedAt: '', mode: 'differencing', cell: 'cell-o', vmDir: `${VM_ROOT}\\fleetgate-cell-o` }) });
  await using b = await provider.start(spec('cell-o'));
  t.equal(await b.status(), 'running', 'the dead controller\'s VM of that name was replaced');
  await t.rejects(provider.start({ ...spec('cell-p'), image: { dir: '/x', manifest: windowsImageForTests({ disk: { path: 'd.qcow2', format: 'qcow2', virtualBytes: 1 } }) } }), /Hyper-V boots VHDX images/);
  await t.rejects(provider.start(spec('bad name')), /VM name must match/);
});

t.test('cleanupLeftovers: another machine\'s controller is left alone; an old untagged VM of ours goes, a young one stays', async (t) => {
  const { recorded, provider } = setup(t);
  recorded.addVm({ name: 'fleetgate-elsewhere', state: 'Running', notes: formatTag({ controller: { hostname: 'other-machine', pid: 1, startTime: '1' }, startedAt: '', mode: 'differencing', cell: 'x', vmDir: `${VM_ROOT}\\fleetgate-elsewhere` }) });
  recorded.addVm({ name: 'fleetgate-halfmade', creationTime: new Date(Date.now() - 3_600_000), vmDir: `${VM_ROOT}\\fleetgate-halfmade`, disks: [`${VM_ROOT}\\fleetgate-halfmade\\disk.vhdx`] });
  recorded.addVm({ name: 'fleetgate-young' });
  recorded.addVm({ name: 'not-ours', state: 'Running' });
  const cleaned = await provider.cleanupLeftovers();
  t.match(cleaned, [/removed VM fleetgate-halfmade \(untagged/, /removed disk .*fleetgate-halfmade\\disk.vhdx/, /removed folder/]);
  t.same([...recorded.vms.keys()].sort(), ['fleetgate-elsewhere', 'fleetgate-young', 'not-ours']);
});

t.test('checkpoint mode: the kept VM is restored per cell and restored again at dispose, never removed', async (t) => {
  const { recorded, provider, spec } = setup(t, {}, { reuse: 'checkpoint' });
  recorded.addVm({ name: manifest.name, checkpoints: ['fleetgate-clean'] });
  const vm = await provider.start(spec('cell-q'));
  t.match(recorded.callsOf('new_cell_vm')[0]!.input, { name: manifest.name, mode: 'checkpoint', checkpointName: 'fleetgate-clean', parentVhdx: null });
  t.match(recorded.vms.get(manifest.name)!.notes, /^fleetgate:.*"mode":"checkpoint"/);
  await vm[Symbol.asyncDispose]();
  t.ok(recorded.vms.has(manifest.name), 'kept');
  t.equal(recorded.vms.get(manifest.name)!.notes, '', 'untagged again');
  t.match(recorded.callsOf('remove_cell_vm')[0]!.input, { mode: 'checkpoint', checkpointName: 'fleetgate-clean' });
});

t.test('the registry: hyperv is a provider kind with its traits', async (t) => {
  t.equal(createProvider('hyperv').kind, 'hyperv');
  t.same(providers.hyperv.traits.local, false);
});

// ---------------------------------------------------------------------------------------------------
// scripts and encoding

t.test('every host script: a file, Stop, no here-strings, one Write-FleetgateResult at the end', async (t) => {
  for (const name of HYPERV_SCRIPTS) {
    const text = hostScriptSource(name);
    t.match(text, /^\$ErrorActionPreference = 'Stop'$/m, `${name}: Stop`);
    t.notMatch(text, /@['"]\s*$/m, `${name}: no here-string (minify would damage it)`);
    t.equal((text.match(/Write-FleetgateResult/g) ?? []).length, 1, `${name}: one result line`);
    const min = minifyPowerShell(text);
    t.ok(min.slice(min.lastIndexOf('\nWrite-FleetgateResult ') + 1).startsWith('Write-FleetgateResult'), `${name}: the result is the last statement`);
    t.notMatch(text, /\.State\s*-(eq|ne)\s*\d/, `${name}: state compared by name, not number (windows.md section 5)`);
  }
  t.match(hostScriptSource('new_cell_vm'), /New-VHD -Path \$diskPath -ParentPath \$parent -Differencing/);
  t.match(hostScriptSource('new_cell_vm'), /New-VM -Name \$name -Generation 2/);
  t.match(hostScriptSource('new_cell_vm'), /Set-VMFirmware -VM \$vm -EnableSecureBoot Off/);
  t.match(hostScriptSource('new_cell_vm'), /Restore-VMSnapshot/);
  t.match(hostScriptSource('stop_vm'), /Stop-VM -Name \$name -TurnOff -Force/);
  t.match(hostScriptSource('inject_nmi'), /Debug-VM -Name \$name -InjectNonMaskableInterrupt -Force/);
  t.match(hostScriptSource('get_crash_events'), /LogName = 'Microsoft-Windows-Hyper-V-Worker-Admin'; Id = 18590; StartTime/);
});

t.test('composed host scripts decode back to their name and input; long input goes through stdin', async (t) => {
  const input = { name: "fleetgate-it's", notes: 'fleetgate:{"a":"ü"}' };
  const p = prepareHostPowerShell('inject_nmi', input);
  t.equal(p.mode, 'encoded');
  const d = decodePowerShell(p.command);
  t.equal(d.scriptName, 'inject_nmi');
  t.same(d.input, input);
  t.match(composeHostScript('get_vm_state', input), /function Write-FleetgateResult/, 'common.ps1 helpers inlined');
  const big = prepareHostPowerShell('get_vm_state', { name: 'x', pad: 'y'.repeat(9000) });
  t.equal(big.mode, 'stdin');
  t.same((decodePowerShell(big.command, big.mode === 'stdin' ? big.stdin : undefined).input as { pad: string }).pad.length, 9000);
  t.equal(prepareHostPowerShell('get_vm_state', { pad: 'y'.repeat(4000) }, 32_000).mode, 'encoded', 'locally the CreateProcess limit applies');
});

t.test("local transport: the script on the long-lived shell's stdin, in a runspace of its own; results and errors parsed", async (t) => {
  const lines: string[] = [];
  const shellAnswering = (stdout: string): LocalShellTransport =>
    new LocalShellTransport({
      start: () => ({
        invoke: async (line) => {
          lines.push(line);
          return { stdout: Buffer.from(`\u001b[?1h\u001b[?1l${stdout}`), stderr: Buffer.alloc(0) };
        },
        dispose: async () => undefined,
      }),
    });
  const ok = new PowerShellHyperVHost(shellAnswering('@@FLEETGATE-JSON@@{"ok":true,"script":"get_vm_state","result":{"exists":false,"name":"x"}}\r\n'));
  t.same(await ok.run('get_vm_state', { name: 'x', pad: 'y'.repeat(40_000) }), { exists: false, name: 'x' }, 'a script over any command-line limit still goes encoded');
  t.equal(lines[0], '$MaximumHistoryCount = 1; [Console]::Out.WriteLine($PID)', "first the shell's own pid, to kill a hung one by (and a history of one line: no script stays there, #16 row 10)");
  const run = lines.find((l) => l.startsWith('$fgPs'))!;
  const b64 = /FromBase64String\('([A-Za-z0-9+/=]+)'\)/.exec(run)![1]!;
  t.same((decodePowerShell(POWERSHELL_PREFIX + b64).input as { name: string }).name, 'x');
  t.match(run, /^\$fgPs = \[powershell\]::Create\(\)/, 'a runspace of its own: its exit ends the script, not the shell');
  t.throws(() => shellLine({ mode: 'stdin', command: 'x', stdin: 'y' }), TypeError);
  const failing = new PowerShellHyperVHost(shellAnswering(`@@FLEETGATE-JSON@@${JSON.stringify({ ok: false, script: 'get_crash_events', error: NO_EVENTS_ERROR })}\r\n`));
  const e = await failing.run('get_crash_events', {}).catch((x: unknown) => x);
  t.type(e, HyperVHostError);
  t.match((e as Error).message, /^Hyper-V host local: get_crash_events failed: System.Exception: No events were found/);
  const silent = new PowerShellHyperVHost(shellAnswering('Windows PowerShell\r\n'));
  await t.rejects(silent.run('get_vm_state', {}), /Hyper-V host local: script get_vm_state: no @@FLEETGATE-JSON@@ result line/);
});
