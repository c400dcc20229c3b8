// Where LabGuest runs the agent: pinned to the guest's isolated CPUs when it has any. The VM tests
// (harness/lab/calibrate.integration.test.ts) check it in a real guest; this one checks the command
// and the handling of what /sys says, through a test double of the channel.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraFailure } from '../../../lib/errors.ts';
import type { ExecOptions, ExecResult, GuestChannel, TransferResult } from '../channel.ts';
import { LabGuest } from './lab-guest.ts';
import { RESULT_SCHEMA } from '../../../workloads/agent/protocol.ts';
import { loadWorkload } from '../../../workloads/spec.ts';

/** Test double for the GuestChannel seam: answers `cat .../isolated` with a canned value and the
 * agent's command with a result line; records every command. It runs nothing. */
class FakeLabChannel implements Pick<GuestChannel, 'exec' | 'upload'> {
  readonly commands: string[] = [];
  constructor(private readonly isolated: string) {}
  async exec(command: string, _options: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    const base = { exitCode: 0, stderr: '', stdoutDroppedBytes: 0, stderrDroppedBytes: 0, truncated: false, timedOut: false, aborted: false, durationMs: 1 };
    if (command.includes('/sys/devices/system/cpu/isolated')) return { ...base, stdout: `${this.isolated}\n` };
    if (command.includes('agent.js')) return { ...base, stdout: `${JSON.stringify(AGENT_RESULT)}\n` };
    return { ...base, stdout: '' };
  }
  async upload(_local: string, _remote: string): Promise<TransferResult> {
    return { bytes: 1, sha256: '0'.repeat(64), durationMs: 1 };
  }
}

const AGENT_RESULT = {
  schema: RESULT_SCHEMA,
  workload: 'file-storm',
  host: { node: 'v20.0.0', platform: 'linux', arch: 'x64', release: '6.1.0', hostname: 'lab', cpus: { count: 2, model: 'QEMU', allowed: '1' }, totalMemBytes: 1 },
  workdir: '/data',
  startedAt: '2026-11-27T00:00:00.000Z',
  finishedAt: '2026-11-27T00:00:01.000Z',
  durationMs: 1000,
  priority: { requested: 'normal', applied: 0, note: null },
  ok: true,
  steps: [],
};

const spec = loadWorkload('file-storm');
let agentFile: string;
t.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fg-labguest-'));
  agentFile = join(dir, 'agent.js');
  await writeFile(agentFile, '// agent');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
});

const agentCommand = (ch: FakeLabChannel) => ch.commands.find((c) => c.includes('agent.js') && c.includes('--spec'))!;

t.test('a guest with an isolated CPU: the agent is pinned there and runs single-threaded', async (t) => {
  const ch = new FakeLabChannel('1');
  const g = new LabGuest(ch as unknown as GuestChannel);
  t.equal(await g.measurementCpus(), '1');
  const r = await g.runWorkload(agentFile, spec, { timeoutMs: 60_000 });
  t.equal(r.host.cpus.allowed, '1', 'the result says where the agent ran');
  t.match(agentCommand(ch), / taskset -c 1 node --single-threaded \S*agent\.js /);
  await g.runWorkload(agentFile, spec, { timeoutMs: 60_000 });
  t.equal(ch.commands.filter((c) => c.includes('/isolated')).length, 1, 'the isolated CPUs are read once per guest');
});

t.test('a range of isolated CPUs is passed as the kernel printed it', async (t) => {
  const ch = new FakeLabChannel('2-3,5');
  await new LabGuest(ch as unknown as GuestChannel).runWorkload(agentFile, spec, { timeoutMs: 60_000 });
  t.match(agentCommand(ch), / taskset -c 2-3,5 node --single-threaded /);
});

t.test('no isolated CPU (a one-vCPU guest): the agent runs unpinned, with its usual threads', async (t) => {
  const ch = new FakeLabChannel('');
  const g = new LabGuest(ch as unknown as GuestChannel);
  t.equal(await g.measurementCpus(), null);
  await g.runWorkload(agentFile, spec, { timeoutMs: 60_000 });
  const cmd = agentCommand(ch);
  t.notMatch(cmd, /taskset|single-threaded/);
  t.match(cmd, / node \S*agent\.js --spec /);
});

t.test('what /sys says is not trusted: anything but a CPU list is refused, naming the file', async (t) => {
  for (const bad of ['1; reboot', 'x', '1-', '$(id)']) {
    const fake = new FakeLabChannel(bad);
    const g = new LabGuest(fake as unknown as GuestChannel);
    const e = await g.runWorkload(agentFile, spec, { timeoutMs: 60_000 }).then(() => null, (err: unknown) => err);
    t.ok(e instanceof InfraFailure, `${JSON.stringify(bad)}: an infra failure`);
    t.match((e as Error).message, /\/sys\/devices\/system\/cpu\/isolated is .*expected a CPU list/);
    t.notOk(agentCommand(fake), 'the agent was not started');
  }
});
