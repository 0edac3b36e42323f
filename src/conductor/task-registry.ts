/**
 * Joining running tasks: one download per task id in this process, however many requests want it.
 * Each request attaches to the task, gets its progress, and detaches when it is served or cancelled;
 * the task is stopped only when its last request is cancelled, and a stopping task takes no new
 * requests.
 *
 * @module
 */
import createDebug from 'debug';
import { raceSignal } from '../internal/abort.js';
import type { ProgressEvent } from './events.js';

const debug = createDebug('orasfly:manager');

/** Longest wait for a stopped task to remove its partial data before a cancelled request returns. */
const CLEANUP_WAIT_MS = 10_000;

/** One task running in this process. */
export interface RunningTask<T> {
  readonly taskId: string;
  /** Settles when the task is done; never an unhandled rejection. */
  readonly outcome: Promise<T>;
  /** Stops the task (aborted when the last attached request is cancelled). */
  readonly controller: AbortController;
  /** Sends a progress event to every attached request. */
  progress(event: ProgressEvent): void;
}

interface Slot<T> extends RunningTask<T> {
  attached: number;
  listeners: Set<(p: ProgressEvent) => void>;
}

/** What one request waits with. */
export interface Attachment {
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ProgressEvent) => void) | undefined;
}

/** The tasks running in this process, by task id. */
export class TaskRegistry<T> {
  readonly #running = new Map<string, Slot<T>>();

  /** Tasks running now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * The running task of `taskId` (not one being stopped), or a new one started by `start`.
   * Synchronous between the lookup and the registration, so concurrent identical requests always
   * end up on one task.
   */
  join(taskId: string, start: (task: RunningTask<T>) => Promise<T>): { task: RunningTask<T>; joined: boolean } {
    const found = this.#running.get(taskId);
    if (found && !found.controller.signal.aborted) return { task: found, joined: true };
    const slot: Slot<T> = {
      taskId,
      outcome: undefined as never,
      controller: new AbortController(),
      attached: 0,
      listeners: new Set(),
      progress: (p) => {
        for (const cb of slot.listeners) {
          try {
            cb(p);
          } catch (e) {
            debug('onProgress threw: %s', (e as Error).message);
          }
        }
      },
    };
    (slot as { outcome: Promise<T> }).outcome = start(slot).finally(() => {
      if (this.#running.get(taskId) === slot) this.#running.delete(taskId);
    });
    slot.outcome.catch(() => {});
    this.#running.set(taskId, slot);
    return { task: slot, joined: false };
  }

  /**
   * Waits for `task` on behalf of one request. A cancelled request detaches; when it was the last
   * one, the task is stopped and the request returns only once the task removed its partial data
   * (bounded: a transport that never lets go must not hold the caller).
   */
  async wait(task: RunningTask<T>, request: Attachment): Promise<T> {
    const slot = task as Slot<T>;
    slot.attached++;
    // A wrapper per request: two requests passing the same callback are still two subscribers.
    const listener = request.onProgress ? (p: ProgressEvent) => request.onProgress!(p) : undefined;
    if (listener) slot.listeners.add(listener);
    let attached = true;
    let stopped = false;
    const detach = (cancel: boolean) => {
      if (!attached) return;
      attached = false;
      slot.attached--;
      if (listener) slot.listeners.delete(listener);
      if (cancel && slot.attached === 0) {
        slot.controller.abort(request.signal?.reason);
        if (this.#running.get(slot.taskId) === slot) this.#running.delete(slot.taskId);
        stopped = true;
      }
    };
    try {
      return await raceSignal(slot.outcome, request.signal, () => detach(true));
    } catch (e) {
      if (stopped)
        await Promise.race([slot.outcome.catch(() => {}), new Promise((r) => setTimeout(r, CLEANUP_WAIT_MS).unref())]);
      throw e;
    } finally {
      detach(false);
    }
  }

  /** Stops every running task with `reason` and waits for them to settle. */
  async closeAll(reason: unknown): Promise<void> {
    const all = [...this.#running.values()];
    for (const r of all) r.controller.abort(reason);
    await Promise.allSettled(all.map((r) => r.outcome));
  }
}
