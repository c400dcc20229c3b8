// Many reporters behind one: each hook is called on every reporter that has it, and a reporter that
// throws is reported to the others (onReporterError) instead of stopping the run (Playwright's
// multiplexer._wrap).
import type { Reporter, ReporterHook } from './reporter.ts';

export class ReporterMultiplexer implements Reporter {
  readonly #reporters: Reporter[];
  /** Errors reporters threw, in order; the run goes on regardless. */
  readonly errors: Array<{ hook: string; error: unknown }> = [];

  constructor(reporters: Reporter[]) {
    this.#reporters = reporters;
  }

  #call<H extends ReporterHook>(hook: H, arg: Parameters<NonNullable<Reporter[H]>>[0]): void {
    for (const r of this.#reporters) {
      const fn = r[hook] as ((a: typeof arg) => void) | undefined;
      if (!fn) continue;
      try {
        fn.call(r, arg);
      } catch (error) {
        this.errors.push({ hook, error });
        for (const other of this.#reporters) {
          if (other === r) continue;
          try {
            other.onReporterError?.(error, hook);
          } catch {
            // a reporter that cannot even show an error is left alone
          }
        }
      }
    }
  }

  onRunBegin: NonNullable<Reporter['onRunBegin']> = (i) => this.#call('onRunBegin', i);
  onAttemptBegin: NonNullable<Reporter['onAttemptBegin']> = (i) => this.#call('onAttemptBegin', i);
  onStep: NonNullable<Reporter['onStep']> = (i) => this.#call('onStep', i);
  onAttemptEnd: NonNullable<Reporter['onAttemptEnd']> = (i) => this.#call('onAttemptEnd', i);
  onCellEnd: NonNullable<Reporter['onCellEnd']> = (i) => this.#call('onCellEnd', i);
  onHostQuarantined: NonNullable<Reporter['onHostQuarantined']> = (i) => this.#call('onHostQuarantined', i);
  onNotice: NonNullable<Reporter['onNotice']> = (m) => this.#call('onNotice', m);
  onRunEnd: NonNullable<Reporter['onRunEnd']> = (o) => this.#call('onRunEnd', o);
}
