// The provider contract: what every provider must do, as one suite that runs against each of them
// (STYLE.md "a fake backend plugged in through the real seam"; syzkaller runs one vm test table over
// every backend). Hyper-V runs it against a recorded host (hyperv/hyperv.test.ts); QEMU against the
// real lab guest (qemu/contract.integration.test.ts). How a panic is provoked, what "a resource the
// VM created" is and how a dead controller's VM is made are the caller's: they differ per provider.
import type { Test } from 'tap';
import { existsSync } from 'node:fs';
import type { PanicInfo, Provider, ProviderEvent, VmInstance, VmSpec } from './types.ts';

export interface ProviderUnderTest {
  readonly provider: Provider;
  /** A spec for a new VM named `name`, with its own cell folder. */
  spec(name: string): VmSpec;
  /** Makes the guest of `vm` panic (lab: sysrq over SSH; recorded Hyper-V: the host logs a bugcheck). */
  provokePanic(vm: VmInstance): Promise<void>;
  /** The panic info kind this provider reports for a provoked panic. */
  readonly panicKind: PanicInfo['kind'];
  /** What of `vm` still exists besides its evidence (processes, disks, host VMs, records): [] once disposed. */
  remainsOf(vm: VmInstance): Promise<string[]>;
  /**
   * Leaves a VM behind the way a controller that died would, and returns how to tell it still exists.
   * The provider under test must not know about it except through cleanupLeftovers().
   */
  leaveOrphan(): Promise<{ name: string; exists(): Promise<boolean> }>;
  /** Limits for event waits (a booting lab guest under TCG is slow; a recorded host is instant). */
  readonly eventTimeoutMs: number;
  /** Runs after the suite (remove temporary folders, check nothing leaked). */
  teardown?(): Promise<void>;
}

const HEX = /^0x[0-9a-f]+$/;

/**
 * The suite, as subtests of `t`, in order (each needs what the one before left): three VMs at most,
 * one after the other.
 */
export async function providerContract(t: Test, makeProviderUnderTest: () => Promise<ProviderUnderTest>): Promise<void> {
  const put = await makeProviderUnderTest();
  if (put.teardown) t.teardown(() => put.teardown!());
  const timeoutMs = put.eventTimeoutMs;

  let first: VmInstance | undefined;
  t.teardown(async () => {
    await first?.[Symbol.asyncDispose]().catch(() => undefined);
  });

  await t.test('start → status running; the event stream replays history to every reader', async (t) => {
    first = await put.provider.start(put.spec('contract-a'));
    t.equal(first.name, 'contract-a');
    t.equal(await first.status(), 'running');
    t.type(first.ssh.host, 'string');
    t.ok(Number.isInteger(first.ssh.port) && first.ssh.port > 0, 'an SSH endpoint');
    t.ok(existsSync(first.consolePath), 'console.log exists');
    t.ok(Array.isArray(first.events.history()), 'history() is a list');
  });

  await t.test('a provoked panic → a panicked event with the info', async (t) => {
    const vm = first!;
    const before = vm.events.history().length;
    await put.provokePanic(vm);
    const e = await vm.events.waitFor('panicked', { timeoutMs, after: before });
    t.equal(e.type, 'panicked');
    t.type(e.action, 'string');
    t.ok(!Number.isNaN(Date.parse(e.at)), 'at is an ISO time');
    t.equal(e.info?.kind, put.panicKind, `panic info kind ${put.panicKind}`);
    if (e.info?.kind === 'hyper-v') {
      t.match(e.info.code, HEX, 'code as 0x hex');
      t.ok(e.info.params.every((p) => HEX.test(p)), 'params as 0x hex');
    }
  });

  await t.test('stop → exited is the last event; status exited; a second stop is a no-op', async (t) => {
    const vm = first!;
    await vm.stop({ graceful: false });
    const last = vm.events.history().at(-1);
    t.equal(last?.type, 'exited', 'exited is the last event');
    t.equal(await vm.status(), 'exited');
    await vm.stop({ graceful: false });
    // A reader that arrives now still gets the whole history and then the end.
    const seen: ProviderEvent['type'][] = [];
    for await (const e of vm.events) seen.push(e.type);
    t.ok(seen.includes('panicked') && seen.at(-1) === 'exited', `replayed: ${seen.join(', ')}`);
  });

  await t.test('dispose removes every resource the VM made and keeps console.log', async (t) => {
    const vm = first!;
    await vm[Symbol.asyncDispose]();
    t.same(await put.remainsOf(vm), [], 'nothing left');
    t.ok(existsSync(vm.consolePath), 'console.log kept (evidence)');
    await vm[Symbol.asyncDispose]();
    t.pass('dispose twice is fine');
  });

  await t.test('injectNmi is accepted by a running VM', async (t) => {
    await using vm = await put.provider.start(put.spec('contract-b'));
    const before = vm.events.history().length;
    await vm.injectNmi();
    // Windows bugchecks 0x80 on an NMI; the lab guest panics (unknown_nmi_panic): both show it.
    const e = await vm.events.waitFor('panicked', { timeoutMs, after: before });
    t.ok(e, 'the NMI reached the guest');
    if (e.info?.kind === 'hyper-v') t.equal(e.info.code, '0x80', 'NMI_HARDWARE_FAILURE');
  });

  await t.test("cleanupLeftovers removes a dead controller's VM and leaves this (live) controller's", async (t) => {
    await using live = await put.provider.start(put.spec('contract-live'));
    const orphan = await put.leaveOrphan();
    t.ok(await orphan.exists(), 'the orphan exists before the clean-up');
    const cleaned = await put.provider.cleanupLeftovers();
    t.comment(cleaned.join('\n'));
    t.ok(cleaned.length > 0, 'reports what it removed');
    t.notOk(await orphan.exists(), 'the orphan is gone');
    t.not(await live.status(), 'exited', 'the live VM still runs');
    t.same(await put.remainsOf(live).then((r) => r.length > 0), true, 'the live VM keeps its resources');
    t.same(await put.provider.cleanupLeftovers(), [], 'a second clean-up finds nothing');
  });
}
