// The live view for a terminal: a few lines redrawn in place (cells done/total, failures so far,
// every host's slots and what runs in them, an ETA from the median cell time), with failures and
// notices printed above it so they stay in the scrollback.
import { escapeControls } from '../../../lib/printable.ts';
import type { RunOutcome } from '../../../runfolder/summary.ts';
import { PRODUCT_FAILURES } from '../../../runfolder/results.ts';
import {
  cellLabel, formatMs, glyphOf, type AttemptEndInfo, type AttemptInfo, type CellEndInfo, type HostQuarantinedInfo, type Reporter,
  type RunBeginInfo, type StepInfo,
} from './reporter.ts';
import type { Screen } from './screen.ts';
import { formatLine } from './lines.ts';

const ESC = '\u001B[';
const RED = (s: string, on: boolean): string => (on ? `${ESC}31m${s}${ESC}39m` : s);
const DIM = (s: string, on: boolean): string => (on ? `${ESC}2m${s}${ESC}22m` : s);

interface SlotView {
  label: string;
  attempt: number;
  since: number;
  step: string;
}

interface HostViewState {
  slots: Array<SlotView | null>;
  quarantined: string | null;
}

export interface LiveOptions {
  write: (text: string) => void;
  screen: Screen;
  /** Redraws at most this often. @default 100 */
  minRedrawMs?: number;
  /** Redraw this often even without events (elapsed time, ETA). @default 1000; 0 turns the ticker off. */
  tickMs?: number;
  now?: () => number;
}

export class LiveReporter implements Reporter {
  readonly #o: Required<Omit<LiveOptions, 'now'>> & { now: () => number };
  #drawn = 0;
  #lastDraw = 0;
  #timer: NodeJS.Timeout | null = null;
  #ticker: NodeJS.Timeout | null = null;
  #start = 0;
  #total = 0;
  #done = 0;
  #failed = 0;
  #infra = 0;
  #glyphs = '';
  #cellMs: number[] = [];
  #runId = '';
  #hosts = new Map<string, HostViewState>();

  constructor(o: LiveOptions) {
    this.#o = { minRedrawMs: 100, tickMs: 1000, now: () => Date.now(), ...o };
  }

  onRunBegin(i: RunBeginInfo): void {
    this.#start = this.#o.now();
    this.#total = i.total;
    this.#done = i.alreadyDone;
    this.#failed = i.alreadyFailed;
    this.#runId = i.runId;
    for (const h of i.hosts) this.#hosts.set(h.name, { slots: Array.from({ length: h.slots }, () => null), quarantined: null });
    this.#above(formatLine({ kind: 'run-begin', info: i })!);
    if (this.#o.tickMs > 0) this.#ticker = setInterval(() => this.#draw(), this.#o.tickMs).unref();
  }

  onAttemptBegin(i: AttemptInfo): void {
    const h = this.#hosts.get(i.host);
    if (h) h.slots[i.slot - 1] = { label: cellLabel(i.cell), attempt: i.attempt, since: this.#o.now(), step: 'starting' };
    this.#schedule();
  }

  onStep(i: StepInfo): void {
    const s = this.#hosts.get(i.host)?.slots[i.slot - 1];
    if (s && i.event.type !== 'note') s.step = i.event.type === 'step-begin' ? i.event.step : `${i.event.step} ${i.event.ok ? 'done' : 'failed'}`;
    this.#schedule();
  }

  onAttemptEnd(i: AttemptEndInfo): void {
    const h = this.#hosts.get(i.host);
    if (h) h.slots[i.slot - 1] = null;
    if (i.result.verdict === 'infra-error') this.#above(formatLine({ kind: 'attempt-end', info: i })!);
    this.#schedule();
  }

  onCellEnd(i: CellEndInfo): void {
    this.#done++;
    this.#cellMs.push(i.ms);
    const product = PRODUCT_FAILURES.includes(i.verdict);
    if (product) this.#failed++;
    if (i.verdict === 'infra-error') this.#infra++;
    const g = glyphOf(i.verdict, i.flaky);
    this.#glyphs += g;
    if (product || i.verdict === 'infra-error' || i.verdict === 'test-error') {
      this.#above(RED(formatLine({ kind: 'cell-end', info: i, done: this.#done, total: this.#total })!, this.#o.screen.color));
    }
    this.#schedule();
  }

  onHostQuarantined(i: HostQuarantinedInfo): void {
    const h = this.#hosts.get(i.host);
    if (h) h.quarantined = i.reason;
    this.#above(RED(formatLine({ kind: 'host-quarantined', info: i })!, this.#o.screen.color));
  }

  onNotice(message: string): void {
    this.#above(formatLine({ kind: 'notice', message })!);
  }

  onReporterError(error: unknown, hook: string): void {
    this.#above(formatLine({ kind: 'reporter-error', hook, error })!);
  }

  onRunEnd(o: RunOutcome): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ticker) clearInterval(this.#ticker);
    this.#timer = this.#ticker = null;
    for (const h of this.#hosts.values()) h.slots.fill(null);
    this.#draw();
    this.#drawn = 0; // the last frame stays on screen
    this.#o.write(`${formatLine({ kind: 'run-end', outcome: o })}\n`);
  }

  /** ETA: the median cell time times the cells left, spread over the slots still usable. */
  eta(): number | null {
    if (this.#cellMs.length === 0) return null;
    const sorted = [...this.#cellMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    let slots = 0;
    for (const h of this.#hosts.values()) if (!h.quarantined) slots += h.slots.length;
    if (slots === 0) return null;
    return (median * Math.max(0, this.#total - this.#done)) / slots;
  }

  frame(): string[] {
    const color = this.#o.screen.color;
    const width = this.#o.screen.columns;
    const cut = (s: string): string => (s.length > width - 1 ? `${s.slice(0, width - 2)}…` : s);
    const sorted = [...this.#cellMs].sort((a, b) => a - b);
    const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : null;
    const eta = this.eta();
    const head = `[${this.#done}/${this.#total}] ${this.#runId}`;
    const glyphRoom = Math.max(10, width - head.length - 3);
    const glyphs = this.#glyphs.length > glyphRoom ? `…${this.#glyphs.slice(-(glyphRoom - 1))}` : this.#glyphs;
    const lines = [cut(`${head}  ${glyphs}`)];
    const failures = this.#failed ? RED(`${this.#failed} failed`, color) : '0 failed';
    lines.push(
      `${failures} · ${this.#infra} infra · elapsed ${formatMs(this.#o.now() - this.#start)}` +
        ` · ETA ${eta === null ? '?' : formatMs(eta)}${median !== null ? DIM(` (median cell ${formatMs(median)})`, color) : ''}`,
    );
    const now = this.#o.now();
    const nameWidth = Math.max(...[...this.#hosts.keys()].map((n) => n.length), 4);
    for (const [name, h] of this.#hosts) {
      if (h.quarantined) {
        lines.push(cut(`  ${name.padEnd(nameWidth)}  quarantined (${escapeControls(h.quarantined)})`));
        continue;
      }
      h.slots.forEach((s, i) => {
        const who = i === 0 ? name.padEnd(nameWidth) : ' '.repeat(nameWidth);
        const what = s ? `${s.label}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''} · ${s.step} · ${formatMs(now - s.since)}` : DIM('idle', color);
        lines.push(cut(`  ${who}  ${i + 1}: ${what}`));
      });
    }
    return lines;
  }

  #erase(): string {
    // Up to the first line of the last frame, then clear to the end of the screen.
    return this.#drawn > 0 ? `${ESC}${this.#drawn}F${ESC}0J` : '';
  }

  #draw(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#lastDraw = this.#o.now();
    const lines = this.frame();
    this.#o.write(`${this.#erase()}${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = this.#lastDraw + this.#o.minRedrawMs - this.#o.now();
    if (wait <= 0) this.#draw();
    else this.#timer = setTimeout(() => this.#draw(), wait).unref();
  }

  /** A line that stays: printed above the live frame, which is then drawn again below it. */
  #above(line: string): void {
    this.#o.write(`${this.#erase()}${line}\n`);
    this.#drawn = 0;
    this.#draw();
  }
}
