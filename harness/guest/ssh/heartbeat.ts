// Periodic liveness probe of a guest. It only reports (miss / lost / restored); deciding that a
// lost heartbeat is a product hang, and injecting the NMI, belongs to the cell monitor.
// Transport-neutral: the probe is a function, so PowerShell Direct can reuse this as is.
import type {
  HeartbeatLost,
  HeartbeatMiss,
  HeartbeatOptions,
  HeartbeatRestored,
} from '../channel.ts';

export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed, for the miss/lost events. */
  reason?: string;
}

/**
 * One probe. It must settle within `timeoutMs` (a timed-out probe is a miss). `released` resolves
 * once the transport has let go of the probe: until then no new probe is started, so a stopped
 * guest does not collect an unbounded pile of pending channels.
 */
export type Probe = (timeoutMs: number) => { outcome: Promise<ProbeOutcome>; released: Promise<void> };

export interface HeartbeatSink {
  miss(event: HeartbeatMiss): void;
  lost(event: HeartbeatLost): void;
  restored(event: HeartbeatRestored): void;
}

export const HEARTBEAT_DEFAULTS = { intervalMs: 5000, timeoutMs: 5000, missesBeforeLost: 3 } as const;

export class Heartbeat {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly missesBeforeLost: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy = false;
  private pending: Promise<void> | undefined;
  private misses = 0;
  private lastOkAt: number | undefined;
  private lostAt: number | undefined;

  constructor(
    private readonly probe: Probe,
    private readonly sink: HeartbeatSink,
    options: HeartbeatOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? HEARTBEAT_DEFAULTS.intervalMs;
    this.timeoutMs = options.timeoutMs ?? HEARTBEAT_DEFAULTS.timeoutMs;
    this.missesBeforeLost = options.missesBeforeLost ?? HEARTBEAT_DEFAULTS.missesBeforeLost;
    for (const [name, value] of Object.entries({
      intervalMs: this.intervalMs,
      timeoutMs: this.timeoutMs,
      missesBeforeLost: this.missesBeforeLost,
    })) {
      if (!Number.isFinite(value) || value < 1) {
        throw new TypeError(`heartbeat ${name} must be a finite number >= 1, got ${value}`);
      }
    }
  }

  get isLost(): boolean {
    return this.lostAt !== undefined;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    // A heartbeat alone must not keep the controller process alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    let outcome: ProbeOutcome;
    try {
      outcome = await this.runProbe();
    } catch (err) {
      outcome = { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
    this.busy = false;
    if (this.stopped) return;
    this.record(outcome);
    this.schedule(this.intervalMs);
  }

  private async runProbe(): Promise<ProbeOutcome> {
    if (this.pending) {
      // The previous probe is still held by the transport: the guest has not answered it yet.
      const freed = await Promise.race([
        this.pending.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), this.timeoutMs).unref()),
      ]);
      if (!freed) return { ok: false, reason: `previous probe still unanswered after another ${this.timeoutMs}ms` };
    }
    const { outcome, released } = this.probe(this.timeoutMs);
    const mine = released.then(() => {
      if (this.pending === mine) this.pending = undefined;
    });
    this.pending = mine;
    return outcome;
  }

  private record(outcome: ProbeOutcome): void {
    if (outcome.ok) {
      this.misses = 0;
      this.lastOkAt = Date.now();
      if (this.lostAt !== undefined) {
        const lostForMs = Date.now() - this.lostAt;
        this.lostAt = undefined;
        this.sink.restored({ lostForMs });
      }
      return;
    }
    this.misses++;
    const reason = outcome.reason ?? 'probe failed';
    this.sink.miss({ misses: this.misses, reason });
    if (this.misses === this.missesBeforeLost) {
      this.lostAt = Date.now();
      this.sink.lost({
        misses: this.misses,
        ...(this.lastOkAt !== undefined ? { lastOkAt: this.lastOkAt } : {}),
        reason,
      });
    }
  }
}
