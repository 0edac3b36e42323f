/**
 * Holds on entries a pull has just completed for an output: from the commit (still under the task
 * lock) until that output exists, the entry is pinned and claimed, so no GC or clean of any process
 * sharing the store takes the bytes the pull is about to link. A hold ends with the first
 * materialisation of the entry, or after a bound when nobody makes one (a host driving the writer by
 * hand).
 *
 * @module
 */
import type { TaskEntry } from './entry.js';
import type { EntryPin } from './lookup.js';

/** Longest hold of a just-completed entry that nobody materialises (ms). */
export const COMPLETION_HOLD_MS = 60_000;

const keyOf = (e: Pick<TaskEntry, 'taskId' | 'peerId'>): string => `${e?.taskId}/${e?.peerId}`;

/** The holds of one store. */
export class CompletionHolds {
  readonly #pin: (entry: TaskEntry) => Promise<EntryPin>;
  readonly #holdMs: number;
  /** Entries begun for an output: they are held once completed. */
  readonly #expected = new Set<string>();
  readonly #held = new Map<string, { release(): Promise<void>; timer: NodeJS.Timeout }>();

  constructor(pin: (entry: TaskEntry) => Promise<EntryPin>, holdMs = COMPLETION_HOLD_MS) {
    this.#pin = pin;
    this.#holdMs = holdMs;
  }

  /** The entry `taskId/peerId` was begun for an output. */
  expect(entry: Pick<TaskEntry, 'taskId' | 'peerId'>): void {
    this.#expected.add(keyOf(entry));
  }

  /** The entry's writer let go without completing it: nothing to hold. */
  forget(entry: Pick<TaskEntry, 'taskId' | 'peerId'>): void {
    this.#expected.delete(keyOf(entry));
  }

  /** Holds a just-completed entry, if it was begun for an output. */
  async completed(entry: TaskEntry): Promise<void> {
    const key = keyOf(entry);
    if (!this.#expected.delete(key) || this.#held.has(key)) return;
    const pin = await this.#pin(entry);
    const timer = setTimeout(() => void this.release(entry), this.#holdMs);
    timer.unref();
    this.#held.set(key, { release: () => pin.release(), timer });
  }

  /** Ends the hold on `entry`, if any. */
  async release(entry: Pick<TaskEntry, 'taskId' | 'peerId'>): Promise<void> {
    const key = keyOf(entry);
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    clearTimeout(held.timer);
    await held.release();
  }

  /** Ends every hold (the store is closing). */
  async releaseAll(): Promise<void> {
    for (const [key, held] of [...this.#held]) {
      this.#held.delete(key);
      clearTimeout(held.timer);
      await held.release().catch(() => {});
    }
    this.#expected.clear();
  }
}
