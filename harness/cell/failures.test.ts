// The failure table, row by row: each typed failure's verdict, the step defaults for what nobody
// typed, interruption and time-outs, and that every row's verdict is one the verdict table knows.
import t from 'tap';
import { GuestConnectionLost } from '../guest/channel.ts';
import { STEPS, VERDICT_TABLE } from '../../runfolder/results.ts';
import { BootFailure, decideFailure, FAILURE_VERDICTS, GuestCrashed, InfraFailure, PackageRefused, STEP_FAILURE, TestError, VerifierViolation, VmGone } from './failures.ts';

const consoleOnly = (kind: string) => ({ report: { kind, title: 't', frames: [], startLine: 1, endLine: 1, corrupted: false }, consolePath: '/x' }) as never;
const panic = { type: 'panicked', at: '', action: 'pause' } as const;

t.test('every typed failure has its verdict', async (t) => {
  const rows: Array<[unknown, string]> = [
    [new GuestCrashed({ kind: 'crash', panic, evidence: consoleOnly('OOPS') }), 'product-crash'],
    [new GuestCrashed({ kind: 'crash', panic, evidence: consoleOnly('HANG') }), 'product-hang'],
    [new GuestCrashed({ kind: 'hang', panic, evidence: consoleOnly('PANIC'), heartbeatLostAt: '' }), 'product-hang'],
    [new GuestCrashed({ kind: 'hang-no-dump', heartbeatLostAt: '', reason: 'r' }), 'product-hang'],
    [new TestError('broken spec'), 'test-error'],
    [new PackageRefused('ours', 'fg', 'refused', undefined), 'install-failure'],
    [new PackageRefused('coexist', 'partner', 'refused', undefined), 'infra-error'],
    [new BootFailure('did not come back'), 'boot-failure'],
    [new VerifierViolation('0xC4'), 'verifier-violation'],
    [new InfraFailure('host'), 'infra-error'],
    [new VmGone('killed'), 'infra-error'],
    [new GuestConnectionLost('ssh: connection reset'), 'infra-error'],
  ];
  for (const [err, verdict] of rows) {
    for (const step of ['install', 'workload'] as const) t.equal(decideFailure(step, err).verdict, verdict, `${(err as Error).constructor.name} in ${step}`);
  }
  t.same(FAILURE_VERDICTS.map((r) => r.type), ['GuestCrashed', 'TestError', 'PackageRefused', 'BootFailure', 'VerifierViolation', 'InfraFailure'], 'the rows, product findings before infrastructure');
});

t.test("what nobody typed is the harness's, except while our package loads: then the guest lost is a boot failure", async (t) => {
  for (const step of STEPS) {
    t.equal(decideFailure(step, new Error('boom')).verdict, 'infra-error', step);
    t.ok(STEP_FAILURE[step] in VERDICT_TABLE);
  }
  t.equal(decideFailure('install', new Error('channel closed'), { oursLoading: true }).verdict, 'boot-failure');
  t.equal(decideFailure('install', new Error('x'), { timedOutMs: 120_000, oursLoading: true }).verdict, 'boot-failure', 'ours never finished loading');
  t.equal(decideFailure('install', new Error('x'), { timedOutMs: 120_000 }).verdict, 'infra-error', "a partner's filter never finished loading: not ours");
  t.equal(decideFailure('install', new Error('x'), { timedOutMs: 120_000 }).reason, 'install: timed out after 120 s');
  t.equal(decideFailure('install', new InfraFailure('the cell monitor failed'), { oursLoading: true }).verdict, 'infra-error', 'a typed harness failure stays the harness\'s');
});

t.test('a finding about the product stands even when the step was interrupted or ran out of time', async (t) => {
  const crash = new GuestCrashed({ kind: 'crash', panic, evidence: consoleOnly('OOPS') });
  t.equal(decideFailure('workload', crash, { interrupted: true }).verdict, 'product-crash');
  t.equal(decideFailure('workload', crash, { timedOutMs: 900_000 }).verdict, 'product-crash');
  t.equal(decideFailure('install', new PackageRefused('ours', 'fg', 'refused', undefined), { interrupted: true }).verdict, 'install-failure');
  t.equal(decideFailure('workload', new TestError('x'), { interrupted: true }).verdict, 'infra-error', 'not a product finding: interrupted');
});

t.test('an interrupted attempt is never a product verdict', async (t) => {
  t.same(decideFailure('workload', new Error('channel closed'), { interrupted: true, oursLoading: true }), { verdict: 'infra-error', reason: 'workload: interrupted' });
});

t.test('the reason names the step', async (t) => {
  t.equal(decideFailure('unload', new InfraFailure('rmmod: in use')).reason, 'unload: rmmod: in use');
});
