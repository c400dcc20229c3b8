// The real HyperVProvider and the real host scripts (./scripts) over real SSH, in real PowerShell 7,
// against the Hyper-V host double (test-doubles/host-double.ts: the Hyper-V cmdlets are TEST DOUBLES,
// a Windows guest double stands behind the VM). Not a live Hyper-V host: this proves the scripts run
// and fit together with the provider, not that the cmdlets behave as modelled.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { InfraFailure } from '../../../lib/errors.ts';
import { powerShellTools, pwshSkip } from '../../../lib/pwsh.ts';
import { sshdMissingReason } from '../../guest/ssh/sshd-fixture.ts';
import { encodePowerShell, parseResult } from '../../guest/windows/encode.ts';
import { startWindowsDouble, windows11State } from '../../guest/windows/test-doubles/guest-double.ts';
import type { VmSpec } from '../types.ts';
import { formatTag, thisControllerId, type VmTag } from './controller.ts';
import { HyperVHostError } from './host.ts';
import { HyperVProvider } from './hyperv.ts';
import { notEnoughMemory, startHyperVHostDouble } from './test-doubles/host-double.ts';
import { windowsImageForTests } from './testdata/windows-image.ts';

const skip = sshdMissingReason() || pwshSkip();
const HERE = path.dirname(fileURLToPath(import.meta.url));
const DOUBLE_STATE = path.resolve(HERE, '../../guest/windows/test-doubles/double-state.ps1');
const IMAGE_ROOT = 'C:\\fleetgate\\images';
const VM_ROOT = 'C:\\fleetgate\\vms';
const manifest = windowsImageForTests();
const GOLDEN = `${IMAGE_ROOT}\\${manifest.name}\\disk.vhdx`;
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function specFor(root: string, name: string): VmSpec {
  return { name, cellDir: path.join(root, name), image: { dir: path.join(root, 'image'), manifest } };
}

t.test('a cell VM on the Hyper-V host double: start, events, PowerShell Direct, stop, remove, cleanup', { skip }, async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-hvscripts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const g = await startWindowsDouble();
  t.teardown(() => g.stop());
  // The golden image is a guest whose name tells it apart from the guest double's state now; the
  // guest also has a file in C:\fleetgate that a fresh disk does not have.
  const golden = windows11State();
  golden.env.COMPUTERNAME = 'FG-GOLDEN';
  mkdirSync(g.hostPath('C:\\fleetgate\\old'), { recursive: true });
  writeFileSync(g.hostPath('C:\\fleetgate\\old\\left.txt'), 'from before');
  const hv = await startHyperVHostDouble({ guest: { dir: g.stateDir, address: '127.0.0.1' }, goldenDisks: { [GOLDEN]: JSON.stringify(golden) } });
  t.teardown(() => hv.stop());
  const host = hv.host();
  t.teardown(() => host.close());
  const banners: { host: string; port: number }[] = [];
  const provider = new HyperVProvider({
    host,
    imageRoot: IMAGE_ROOT,
    vmRoot: VM_ROOT,
    pollIntervalMs: 100,
    waitForBanner: async (endpoint) => {
      banners.push(endpoint);
      return 'SSH-2.0-OpenSSH_for_Windows_9.5';
    },
  });

  const vm = await provider.start(specFor(root, 'cell-a'));
  const name = 'fleetgate-cell-a';
  const made = hv.vm(name)!;
  t.equal(made.state, 'Running');
  t.equal(made.generation, 2);
  t.equal(made.cpus, 2);
  t.equal(made.memoryStartupBytes, 4096 * 2 ** 20);
  t.equal(made.dynamicMemory, false);
  t.equal(made.secureBoot, false, 'Secure Boot off, as the image says');
  t.equal(made.automaticCheckpoints, false);
  t.same(made.disks, [`${VM_ROOT}\\${name}\\disk.vhdx`], 'one differencing disk in the VM folder');
  t.match(JSON.parse(readFileSync(hv.hostPath(made.disks[0]!), 'utf8')), { fleetgateDoubleVhd: 'differencing', parentPath: GOLDEN });
  t.match(made.notes, /^fleetgate:\{"controller":/, 'tagged');
  t.same(vm.ssh, { host: '127.0.0.1', port: 22 }, "the guest's IPv4 (IPv6 and link-local filtered)");
  t.same(banners, [vm.ssh]);
  t.equal(await vm.status(), 'running');
  // The guest booted the golden disk: its state is the disk's, what it had in C:\fleetgate is gone.
  t.equal(g.state().env.COMPUTERNAME, 'FG-GOLDEN', "the guest's state came from the VM's disk");
  t.notOk(existsSync(g.hostPath('C:\\fleetgate\\old\\left.txt')), 'the old C:\\fleetgate is gone');
  t.notOk(existsSync(path.join(g.stateDir, 'powered-off')), 'powered on');
  t.equal(hv.state().bound.vm, name);
  const state = (await host.run('get_vm_state', { name })) as Record<string, unknown>;
  t.match(state, { exists: true, name, id: made.id, state: 'Running', heartbeat: 'OkApplicationsUnknown' });
  t.ok(Number(state.uptimeSeconds) >= 0);
  t.same(await host.run('get_vm_state', { name: 'fleetgate-nope' }), { exists: false, name: 'fleetgate-nope' });

  // PowerShell Direct (before the bugchecks below: the guest double is down for a while after one): a command in the guest, a copy in, a copy out; refused without the right password.
  const creds = { name, user: 'fleetgate', password: 'fleetgate-test-only' };
  const inVm = (await host.run('invoke_in_vm', { ...creds, command: encodePowerShell('test_alive', {}), stdin: null, timeoutSeconds: 60 })) as { stdout: string; exitCode: number; timedOut: boolean };
  t.equal(inVm.exitCode, 0, inVm.stdout);
  t.equal(inVm.timedOut, false);
  t.match(parseResult(inVm.stdout, 'test_alive'), { alive: true }, "the guest double's test_alive ran inside the VM");
  const payload = 'fleetgate payload\n';
  mkdirSync(hv.hostPath('C:\\fleetgate\\staging'), { recursive: true });
  writeFileSync(hv.hostPath('C:\\fleetgate\\staging\\in.txt'), payload);
  const copied = await host.run('copy_to_vm', { ...creds, hostPath: 'C:\\fleetgate\\staging\\in.txt', guestPath: 'C:\\fleetgate\\drop\\in.txt' });
  t.same(copied, { guestPath: 'C:\\fleetgate\\drop\\in.txt', sha256: sha256(payload), bytes: payload.length });
  t.equal(readFileSync(g.hostPath('C:\\fleetgate\\drop\\in.txt'), 'utf8'), payload, "on the guest's C: drive");
  writeFileSync(g.hostPath('C:\\fleetgate\\drop\\out.txt'), 'from the guest');
  const back = await host.run('copy_from_vm', { ...creds, guestPath: 'C:\\fleetgate\\drop\\out.txt', hostPath: 'C:\\fleetgate\\staging\\back\\out.txt' });
  t.same(back, { hostPath: 'C:\\fleetgate\\staging\\back\\out.txt', guestSha256: sha256('from the guest'), hostSha256: sha256('from the guest'), bytes: 14 });
  t.equal(readFileSync(hv.hostPath('C:\\fleetgate\\staging\\back\\out.txt'), 'utf8'), 'from the guest');
  const refused = await host.run('invoke_in_vm', { ...creds, password: 'wrong', command: 'exit 0', stdin: null, timeoutSeconds: 10 }).catch((e: unknown) => e);
  t.ok(refused instanceof HyperVHostError, 'a wrong password is the host script failing');
  t.match((refused as HyperVHostError).error, { message: 'The credential is invalid.', errorId: 'PSSessionOpenFailed', type: 'System.Management.Automation.Remoting.PSRemotingTransportException' });

  // A bugcheck the guest records (the guest double's own function) arrives as event 18590 → panicked.
  let after = vm.events.history().length;
  const params = ['0xFFFFFFFFC0000005', '0xFFFFF80312345678', '0xFFFF8001DEADBEEF', '0x0'];
  const r = spawnSync(powerShellTools().pwsh!, ['-NoProfile', '-NonInteractive', '-Command', `. '${DOUBLE_STATE}'; Invoke-DoubleGuestBugcheck -GuestDir '${g.stateDir}' -Code 0x7E -Parameters ${params.map((p) => `'${p}'`).join(',')}`], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const p1 = await vm.events.waitFor('panicked', { timeoutMs: 30_000, after });
  t.same(p1.info, { kind: 'hyper-v', code: '0x7e', params: params.map((p) => `0x${BigInt(p).toString(16)}`) });
  t.equal(p1.action, 'run');
  const events = (await host.run('get_crash_events', { name, id: made.id, since: '2000-01-01T00:00:00.000Z' })) as { events: Array<{ recordId: number; message: string }> };
  t.equal(events.events.length, 1);
  t.equal(
    events.events[0]!.message,
    `'${name}' has encountered a fatal error.  The guest operating system reported that it failed with the following error codes: ErrorCode0: 0x7E, ErrorCode1: 0xFFFFFFFFC0000005, ErrorCode2: 0xFFFFF80312345678, ErrorCode3: 0xFFFF8001DEADBEEF, ErrorCode4: 0x0.  If the problem persists, contact Product Support for the guest operating system. (Virtual machine ID ${made.id.toUpperCase()})`,
  );
  t.same(await host.run('get_crash_events', { name, id: made.id, since: new Date(Date.now() + 3_600_000).toISOString() }), { name, events: [] }, 'no events since: an empty list (NoMatchingEventsFound caught)');

  // An NMI: Windows answers with 0x80.
  after = vm.events.history().length;
  await vm.injectNmi();
  const p2 = await vm.events.waitFor('panicked', { timeoutMs: 30_000, after });
  t.match(p2.info, { kind: 'hyper-v', code: '0x80' });
  t.equal(g.state().boots ?? 0, 0, 'the reboot after the bugchecks is pending until the next guest session');

  // A leftover of a controller that died, and one of a live controller: cleanupLeftovers takes the first.
  const me = thisControllerId();
  const deadTag: VmTag = { controller: { ...me, startTime: `${me.startTime}0` }, startedAt: new Date().toISOString(), mode: 'differencing', cell: 'orphan', vmDir: `${VM_ROOT}\\fleetgate-orphan` };
  hv.addVm({ name: 'fleetgate-orphan', state: 'Running', notes: formatTag(deadTag), vmDir: deadTag.vmDir! });
  const cleaned = await provider.cleanupLeftovers();
  t.match(cleaned, [/turned off VM fleetgate-orphan/, /removed VM fleetgate-orphan/, /removed disk C:\\fleetgate\\vms\\fleetgate-orphan\\disk\.vhdx/, /removed folder C:\\fleetgate\\vms\\fleetgate-orphan/]);
  t.equal(hv.vm('fleetgate-orphan'), undefined);
  t.notOk(existsSync(hv.hostPath(`${VM_ROOT}\\fleetgate-orphan`)));
  t.ok(hv.vm(name), 'our own VM is left alone');
  const listed = (await host.run('list_cell_vms', { prefix: 'fleetgate-' })) as { vms: Array<{ name: string; state: string }> };
  t.same(listed.vms.map((v) => [v.name, v.state]), [[name, 'Running']]);

  // stop (graceful: the guest's shutdown service), then dispose removes everything but the golden disk.
  await vm.stop({ graceful: true });
  t.equal(hv.vm(name)!.state, 'Off');
  t.ok(existsSync(path.join(g.stateDir, 'powered-off')), 'the guest is powered off');
  t.match(vm.events.history().filter((e) => e.type === 'shutdown'), [{ reason: 'host-shutdown' }]);
  t.equal(await vm.status(), 'exited');
  await vm[Symbol.asyncDispose]();
  t.equal(hv.vm(name), undefined, 'the VM is gone');
  t.notOk(existsSync(hv.hostPath(`${VM_ROOT}\\${name}`)), 'its folder is gone');
  t.ok(existsSync(hv.hostPath(GOLDEN)), 'the golden disk stays');
  t.match(readFileSync(vm.consolePath, 'utf8'), /removed VM fleetgate-cell-a; removed disk C:\\fleetgate\\vms\\fleetgate-cell-a\\disk\.vhdx; removed folder/);
  const nmiOff = await host.run('inject_nmi', { name: 'fleetgate-nope' }).catch((e: unknown) => e);
  t.match((nmiOff as HyperVHostError).error, { errorId: 'InvalidParameter,Microsoft.HyperV.PowerShell.Commands.DebugVM', message: 'Hyper-V was unable to find a virtual machine with name "fleetgate-nope".' });
});

t.test('a host that refuses to start cells: start() fails as an InfraFailure naming the host, nothing left', { skip }, async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fg-hvscripts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const refusal = notEnoughMemory();
  const hv = await startHyperVHostDouble({ goldenDisks: { [GOLDEN]: JSON.stringify(windows11State()) }, refuseStart: refusal });
  t.teardown(() => hv.stop());
  const host = hv.host();
  t.teardown(() => host.close());
  const provider = new HyperVProvider({ host, imageRoot: IMAGE_ROOT, vmRoot: VM_ROOT, pollIntervalMs: 100, waitForBanner: async () => 'SSH-2.0-OpenSSH_for_Windows_9.5' });
  const err = await provider.start(specFor(root, 'cell-r')).catch((e: unknown) => e);
  t.ok(err instanceof InfraFailure, String(err));
  t.ok(err instanceof HyperVHostError);
  t.match((err as Error).message, `Hyper-V host ${hv.where}: start_vm failed: Microsoft.HyperV.PowerShell.VirtualizationException: 'fleetgate-cell-r' failed to start.`);
  t.match((err as HyperVHostError).error, { errorId: refusal.errorId, category: refusal.category, message: /Not enough memory in the system to start the virtual machine fleetgate-cell-r\./ });
  t.notMatch((err as HyperVHostError).error.message, /\{name\}|\{id\}/, "the VM's name and id filled in");
  t.equal(hv.vm('fleetgate-cell-r'), undefined, 'the VM made for it was removed');
  t.notOk(existsSync(hv.hostPath(`${VM_ROOT}\\fleetgate-cell-r`)));
});
