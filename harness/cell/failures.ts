// What went wrong in a step, as types, and the one place that turns them into verdicts. The way
// syzkaller separates BootError from InfraError: a guest personality or a provider throws the type
// that says whose fault it is, and decideFailure() (called at every step boundary of
// harness/cell/lifecycle.ts, nowhere else) maps it to a verdict. What nobody typed is judged by the
// step it happened in (STEP_FAILURE): before our driver is in, infrastructure; while it loads, the
// guest lost is a boot failure.
import { FleetgateError, EXIT, InfraFailure } from '../../lib/errors.ts';
import { PRODUCT_FAILURES, type Step, type Verdict } from '../../runfolder/results.ts';
import type { MonitorOutcome } from './monitor.ts';
import { isVerifierStopCode } from '../crash/bugchecks.ts';

export { InfraFailure };

/** The guest does not come back after our install or after the verifier's reboot. */
export class BootFailure extends FleetgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.productFailure, options);
  }
}

/** The workload itself is broken (bad spec, the agent cannot run it): no verdict about the product. */
export class TestError extends FleetgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.inconclusive, options);
  }
}

/**
 * A package did not build, install, load or attach. `role` says whose: ours is the product's install
 * failure; a coexisting filter's is not ours to answer for (infrastructure). `evidence` is the OS's
 * own words (insmod and dmesg, pnputil and fltmc), written beside the attempt.
 */
export class PackageRefused extends FleetgateError {
  constructor(
    readonly role: 'ours' | 'coexist',
    readonly packageName: string,
    message: string,
    readonly evidence: { file: string; text: string } | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, role === 'ours' ? EXIT.productFailure : EXIT.inconclusive, options);
  }
}

/** The hypervisor saw the VM go away without a panic (killed, reset, host trouble): the host's, never ours. */
export class VmGone extends InfraFailure {}

/**
 * The guest answered that an optional recording could not be made (Windows: WPR or wpaexporter failed,
 * or the image has no Toolkit): the lifecycle says so and goes on. Escaping anywhere else, it is the
 * infrastructure's like any InfraFailure; a channel lost during the recording is not this.
 */
export class RecordingFailed extends InfraFailure {}

/** The verifier reported a violation by our driver without a stop (a Filter Verifier break-in); a verifier stop code is a GuestCrashed judged verifier-violation. */
export class VerifierViolation extends FleetgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.productFailure, options);
  }
}

/** What the monitor found while our driver ran: a crash, or a hang (with or without a forced dump). */
export type GuestFinding = Extract<MonitorOutcome, { kind: 'crash' | 'hang' | 'hang-no-dump' }>;

/** The workload step ended because the monitor found the guest crashed or hung. */
export class GuestCrashed extends FleetgateError {
  constructor(readonly finding: GuestFinding, during = 'the workload') {
    super(`the guest ${finding.kind === 'crash' ? 'crashed' : 'hung'} during ${during}`, EXIT.productFailure);
  }
}

/**
 * A crash whose report is a lockup detector's is a hang, however the monitor first saw it. A guest
 * that stopped on a Driver Verifier stop code (the hypervisor's bugcheck code: 0xC4 and the rest of
 * harness/crash/bugchecks.ts VERIFIER_STOP_CODES) is a verifier violation, not a plain crash.
 */
function findingVerdict(f: GuestFinding): Verdict {
  if (f.kind !== 'crash' && f.kind !== 'hang') return 'product-hang';
  const info = f.panic.info;
  if (f.kind === 'crash' && info?.kind === 'hyper-v') {
    const code = Number.parseInt(info.code, 16);
    if (Number.isFinite(code) && isVerifierStopCode(code)) return 'verifier-violation';
  }
  return f.kind !== 'crash' || f.evidence.report?.kind === 'HANG' ? 'product-hang' : 'product-crash';
}

/**
 * The verdict of an error nobody typed (or a step out of time), by the step it happened in. While our
 * package loads (`oursLoading`), the guest lost or a load that does not finish is a boot failure
 * (BOOT_WHILE_OURS_LOADS); anywhere else in install, as in every step, it is the harness's.
 */
export const STEP_FAILURE: Readonly<Record<Step, Verdict>> = {
  acquire: 'infra-error',
  identity: 'infra-error',
  baseline: 'infra-error',
  install: 'infra-error',
  // A profile that reboots: a guest that does not come back throws BootFailure; anything else untyped
  // is the harness's.
  verifier: 'infra-error',
  // A crash or hang is the monitor's finding (GuestCrashed); the channel failing without one is not.
  workload: 'infra-error',
  unload: 'infra-error',
  collect: 'infra-error',
  triage: 'infra-error',
  verdict: 'infra-error',
  release: 'infra-error',
};

/** An untyped error or a time-out while our package loads. */
export const BOOT_WHILE_OURS_LOADS: Verdict = 'boot-failure';

/**
 * Typed failures and their verdicts, first match wins: the one table (failures.test.ts covers every
 * row). InfraFailure is last: a typed product failure that extends it would still be the product's.
 */
export const FAILURE_VERDICTS: ReadonlyArray<{ type: string; matches: (err: unknown) => Verdict | undefined; means: string }> = [
  { type: 'GuestCrashed', matches: (e) => (e instanceof GuestCrashed ? findingVerdict(e.finding) : undefined), means: 'crash: product-crash; on a Driver Verifier stop code: verifier-violation; hang or a lockup report: product-hang' },
  { type: 'TestError', matches: (e) => (e instanceof TestError ? 'test-error' : undefined), means: 'the workload is broken: no verdict, not retried' },
  { type: 'PackageRefused', matches: (e) => (e instanceof PackageRefused ? (e.role === 'ours' ? 'install-failure' : 'infra-error') : undefined), means: "ours refused: install-failure; a partner's: infrastructure" },
  { type: 'BootFailure', matches: (e) => (e instanceof BootFailure ? 'boot-failure' : undefined), means: 'the guest did not come back after our install or the verifier reboot' },
  { type: 'VerifierViolation', matches: (e) => (e instanceof VerifierViolation ? 'verifier-violation' : undefined), means: 'the verifier named our driver' },
  { type: 'InfraFailure', matches: (e) => (e instanceof InfraFailure ? 'infra-error' : undefined), means: 'host, hypervisor or channel: retried elsewhere' },
];

export interface FailureDecision {
  verdict: Verdict;
  reason: string;
}

/**
 * The one decision: the verdict of an error thrown in `step`. Findings about the product (a crash or
 * hang the monitor saw, ours refused, a guest that did not come back, a verifier violation) stand
 * whatever else happened: an interrupted or timed-out step does not undo them. Otherwise an
 * interrupted attempt is never a product verdict (the scheduler keeps only product failures found
 * before the stop), and a step out of time is judged like an untyped error of that step.
 */
export function decideFailure(step: Step, err: unknown, o: { interrupted?: boolean; timedOutMs?: number; oursLoading?: boolean } = {}): FailureDecision {
  const reason = `${step}: ${err instanceof Error ? err.message : String(err)}`;
  const typed = FAILURE_VERDICTS.map((row) => row.matches(err)).find((v) => v !== undefined);
  if (typed !== undefined && PRODUCT_VERDICTS.has(typed)) return { verdict: typed, reason };
  if (o.interrupted) return { verdict: 'infra-error', reason: `${step}: interrupted` };
  const untyped = o.oursLoading ? BOOT_WHILE_OURS_LOADS : STEP_FAILURE[step];
  if (o.timedOutMs !== undefined) return { verdict: untyped, reason: `${step}: timed out after ${Math.round(o.timedOutMs / 1000)} s` };
  return { verdict: typed ?? untyped, reason };
}

const PRODUCT_VERDICTS: ReadonlySet<Verdict> = new Set(PRODUCT_FAILURES);
