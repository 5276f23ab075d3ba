/**
 * Every timer the simulator sets (kill completion, launch delay, driver processes, slow answers),
 * so that `stop()` and `reset()` can cancel them all at once; once stopped, none fires.
 */
export class SimTimers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stoppedValue = false;

  /** `stop()` was called (the simulator is stopped for good). */
  get stopped(): boolean {
    return this.stoppedValue;
  }

  /** Runs `fn` after `ms`, unless the simulator has stopped meanwhile. */
  set(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.pending.delete(t);
      if (!this.stoppedValue) fn();
    }, ms);
    this.pending.add(t);
    return t;
  }

  /** Resolves after `ms` (never, if `clearAll` cancels it first). */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(t);
        resolve();
      }, ms);
      this.pending.add(t);
    });
  }

  clear(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.pending.delete(t);
  }

  clearAll(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }

  /** From now on no timer fires; cancels the pending ones. */
  stop(): void {
    this.stoppedValue = true;
    this.clearAll();
  }
}
