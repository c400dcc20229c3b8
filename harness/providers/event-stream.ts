// One VM's events, kept in order: readers replay the history and then follow live events, so a
// reader that subscribes late (the cell monitor after start() returned) misses nothing.
import { TimeoutError } from './timeouts.ts';
import type { ProviderEvent, ProviderEventStream, ProviderEventType, WaitForEventOptions } from './types.ts';

export class EventLog implements ProviderEventStream {
  private readonly events: ProviderEvent[] = [];
  private readonly wakers = new Set<() => void>();
  private ended = false;

  push(event: ProviderEvent): void {
    if (this.ended) return;
    this.events.push(event);
    if (event.type === 'exited') this.ended = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** No more events will come (the VM is gone); readers finish. */
  end(): void {
    this.ended = true;
    for (const wake of [...this.wakers]) wake();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  history(): readonly ProviderEvent[] {
    return this.events;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ProviderEvent> {
    let index = 0;
    for (;;) {
      while (index < this.events.length) yield this.events[index++] as ProviderEvent;
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.wakers.delete(wake);
          resolve();
        };
        this.wakers.add(wake);
      });
    }
  }

  waitFor<T extends ProviderEventType>(
    type: T,
    options: WaitForEventOptions,
  ): Promise<Extract<ProviderEvent, { type: T }>> {
    const { timeoutMs, signal, after = 0 } = options;
    return new Promise((resolve, reject) => {
      let index = after;
      const cleanup = (): void => {
        clearTimeout(timer);
        this.wakers.delete(check);
        signal?.removeEventListener('abort', onAbort);
      };
      const check = (): void => {
        while (index < this.events.length) {
          const e = this.events[index++] as ProviderEvent;
          if (e.type === type) {
            cleanup();
            resolve(e as Extract<ProviderEvent, { type: T }>);
            return;
          }
        }
        if (this.ended) {
          cleanup();
          reject(new Error(`event ${type} never came: the VM's event stream ended`));
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`event ${type}`, timeoutMs));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wakers.add(check);
      check();
    });
  }
}
