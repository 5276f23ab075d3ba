import type { SchedulerLike } from 'rxjs';

/** What waits in a slot: called at the slot's instant unless it has moved on (`at` is no longer that instant). */
export interface SlotEntry {
  at: number;
  fire(): void;
}

/**
 * One timer per instant for everything due at that instant. The grid ticks on a quantum
 * (tick-grid.ts) of a thousand tenants fall on about ten instants a second; with a timer each
 * they made a timer object per tick that lived a whole interval, long enough to be promoted and
 * left to a full collection. Here an entry is the caller's own object, put back in a slot at each
 * tick, and only each instant's list is new.
 */
export class TickSlots {
  private readonly due = new Map<number, SlotEntry[]>();

  constructor(private readonly scheduler: SchedulerLike) {}

  /** Calls `entry.fire()` at `entry.at` on the scheduler's clock (at once if that has passed). */
  add(entry: SlotEntry): void {
    const at = entry.at;
    const waiting = this.due.get(at);
    if (waiting) {
      waiting.push(entry);
      return;
    }
    this.due.set(at, [entry]);
    this.scheduler.schedule(() => this.fire(at), Math.max(0, at - this.scheduler.now()));
  }

  private fire(at: number): void {
    const entries = this.due.get(at);
    this.due.delete(at);
    // An entry cancelled or moved since it was added has another `at` (NaN once cancelled).
    if (entries) for (const entry of entries) if (entry.at === at) entry.fire();
  }
}

const slotsByScheduler = new WeakMap<SchedulerLike, TickSlots>();

/** The slots of a scheduler's clock, shared by every grid on it. */
export function tickSlotsOf(scheduler: SchedulerLike): TickSlots {
  let slots = slotsByScheduler.get(scheduler);
  if (!slots) slotsByScheduler.set(scheduler, (slots = new TickSlots(scheduler)));
  return slots;
}
