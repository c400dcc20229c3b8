// Which waiting cell a free slot takes next. Cells wait in one queue per release (an image), in plan
// order; a host pulls only from the releases it has images for. Pulling (instead of dealing cells to
// hosts up front) lets a fast host take more, lets a quarantined host simply stop pulling, and lets a
// retried cell go to whichever other slot frees first.
import type { Cell } from '../../matrix/index.ts';
import { hostHasImage, type HostSpec } from './hosts.ts';

export interface PendingEntry {
  cell: Cell;
  /** Plan order; retries keep their cell's place. */
  seq: number;
  /** The slot whose attempt ended in an infra error: retry elsewhere (another host, if any). */
  avoid?: { host: string; slot: number };
}

/** What the placement needs to know about a host while the run goes on. */
export interface HostView {
  spec: HostSpec;
  quarantined: boolean;
}

class Fifo<T> {
  #items: T[] = [];
  #head = 0;
  get size(): number {
    return this.#items.length - this.#head;
  }
  push(x: T): void {
    this.#items.push(x);
  }
  peek(): T | undefined {
    return this.#items[this.#head];
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const x = this.#items[this.#head++];
    // Drop the consumed prefix now and then, so a long run does not keep every cell alive.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return x;
  }
  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

export class PendingCells {
  readonly #byRelease = new Map<string, Fifo<PendingEntry>>();
  /** Retries are few; kept apart because their slot preference needs a look at each. */
  #retries: PendingEntry[] = [];
  readonly #hosts: readonly HostView[];

  constructor(hosts: readonly HostView[]) {
    this.#hosts = hosts;
  }

  get size(): number {
    let n = this.#retries.length;
    for (const q of this.#byRelease.values()) n += q.size;
    return n;
  }

  add(e: PendingEntry): void {
    if (e.avoid) {
      this.#retries.push(e);
      return;
    }
    const r = e.cell.os.release;
    let q = this.#byRelease.get(r);
    if (!q) {
      q = new Fifo();
      this.#byRelease.set(r, q);
    }
    q.push(e);
  }

  /** Hosts not quarantined that have the release's image. */
  usableHosts(release: string): HostView[] {
    return this.#hosts.filter((h) => !h.quarantined && hostHasImage(h.spec, release));
  }

  #mayTake(e: PendingEntry, host: HostView, slot: number): boolean {
    const avoid = e.avoid;
    if (!avoid || avoid.host !== host.spec.name) return true;
    const usable = this.usableHosts(e.cell.os.release);
    // Prefer another host; failing that another slot of this one; the same slot only if it is all there is.
    if (usable.some((h) => h.spec.name !== host.spec.name)) return false;
    if (slot !== avoid.slot) return true;
    return host.spec.slots <= 1;
  }

  /**
   * The next cell for `slot` of `host`, or null when none it may run is waiting. `fits` says whether
   * the host can start that cell now (the cores it holds): when the next cell does not fit, nothing is
   * taken, so it is not overtaken by smaller ones and starved.
   */
  take(host: HostView, slot: number, fits: (e: PendingEntry) => boolean = () => true): PendingEntry | null {
    if (host.quarantined) return null;
    for (let i = 0; i < this.#retries.length; i++) {
      const e = this.#retries[i]!;
      if (hostHasImage(host.spec, e.cell.os.release) && this.#mayTake(e, host, slot)) {
        if (!fits(e)) return null;
        this.#retries.splice(i, 1);
        return e;
      }
    }
    let best: Fifo<PendingEntry> | null = null;
    let bestSeq = Infinity;
    const all = host.spec.images.includes('*');
    const releases = all ? this.#byRelease.keys() : host.spec.images;
    for (const r of releases) {
      const q = this.#byRelease.get(r);
      const head = q?.peek();
      if (head && head.seq < bestSeq) {
        best = q!;
        bestSeq = head.seq;
      }
    }
    if (!best || !fits(best.peek()!)) return null;
    return best.shift()!;
  }

  /** Removes and returns the entries no usable host can run any more (after a quarantine). */
  takeStranded(): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const [r, q] of this.#byRelease) {
      if (q.size > 0 && this.usableHosts(r).length === 0) out.push(...q.drain());
    }
    this.#retries = this.#retries.filter((e) => {
      if (this.usableHosts(e.cell.os.release).length > 0) return true;
      out.push(e);
      return false;
    });
    return out;
  }

  /** Everything still waiting (the run stopped). */
  drain(): PendingEntry[] {
    const out = [...this.#retries];
    this.#retries = [];
    for (const q of this.#byRelease.values()) out.push(...q.drain());
    return out.sort((a, b) => a.seq - b.seq);
  }
}

/**
 * Puts cells in their release queues. Cells no host has an image for are returned apart: they can
 * never run here (the scheduler ends them as infra errors).
 */
export function placeCells(
  cells: readonly Cell[],
  hosts: readonly HostView[],
  pending: PendingCells = new PendingCells(hosts),
): { pending: PendingCells; unplaceable: Cell[] } {
  const unplaceable: Cell[] = [];
  const known = new Map<string, boolean>();
  cells.forEach((cell, seq) => {
    const r = cell.os.release;
    let ok = known.get(r);
    if (ok === undefined) {
      ok = pending.usableHosts(r).length > 0;
      known.set(r, ok);
    }
    if (ok) pending.add({ cell, seq });
    else unplaceable.push(cell);
  });
  return { pending, unplaceable };
}
