// Node 20 has no AsyncDisposableStack. This is the part of it start() needs (as in changesets'
// ponyfill): each resource registers its undo as soon as it exists; if start() fails, everything
// registered so far is undone in reverse; if it succeeds, move() hands the lot to the VM.

type Undo = () => unknown;

export class CleanupStack implements AsyncDisposable {
  private undos: Undo[] = [];
  private disposed = false;

  /** Registers `undo` to run at dispose, before everything registered earlier. */
  defer(undo: Undo): void {
    if (this.disposed) throw new Error('CleanupStack already disposed');
    this.undos.push(undo);
  }

  /** A new stack owning everything this one held; this one is left empty. */
  move(): CleanupStack {
    const next = new CleanupStack();
    next.undos = this.undos;
    this.undos = [];
    this.disposed = true;
    return next;
  }

  /** Runs every undo even when some throw; then throws them together. */
  async disposeAsync(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    for (const undo of this.undos.reverse()) {
      try {
        await undo();
      } catch (err) {
        errors.push(err);
      }
    }
    this.undos = [];
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} clean-up steps failed`);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disposeAsync();
  }
}
