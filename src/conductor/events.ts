/**
 * What a conductor reports: its states and events.
 *
 * @module
 */
import type { TaskEntry } from '../storage/entry.js';

/** States of a conductor; `succeeded` and `failed` are terminal. */
export type ConductorState = 'created' | 'running' | 'completing' | 'succeeded' | 'failed';

/** A `progress` event: bytes verified and stored so far. Monotonic; the last one has `percent: 100`. */
export interface ProgressEvent {
  taskId: string;
  transferred: number;
  total: number;
  percent: number;
  /**
   * `true` on the one event of a request served from the store (nothing was transferred): a
   * progress display should say "reused", not draw a bar filled at an absurd rate.
   */
  reused?: boolean | undefined;
}

/** A `piece` event. */
export interface PieceEvent {
  taskId: string;
  num: number;
  start: number;
  length: number;
  digest: string;
  costMs: number;
}

/** A `retry` event: a piece attempt failed and will be tried again. */
export interface RetryEvent {
  taskId: string;
  num: number | 'sequential';
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** Events of a {@link PeerTaskConductor}. */
export interface ConductorEvents {
  state: [state: ConductorState];
  piece: [event: PieceEvent];
  progress: [event: ProgressEvent];
  retry: [event: RetryEvent];
  done: [event: { taskId: string; entry: TaskEntry; costMs: number }];
  failed: [event: { taskId: string; error: unknown; costMs: number }];
}
