/**
 * The store's events and the options of its calls: types only, so that readers of the facade's
 * signatures need not open the facade.
 *
 * @module
 */
import type { SignalOptions } from '../core/types.js';
import type { GcReport } from './gc-round.js';

/** Why an entry was dropped without being served. */
export interface DropEvent {
  taskId: string;
  peerId: string;
  reason: string;
}

/** {@link StorageManager} found a task lock held by a live process and waits for it. */
export interface LockWaitEvent {
  taskId: string;
  pid: number;
  hostname: string;
  /** When the holder took the lock (ms since epoch, by its clock). */
  since: number;
  /** After this long without a heartbeat the lock is taken over (ms). */
  staleMs: number;
  /** The longest wait before `LockError` (ms; 0 = no limit). */
  timeoutMs: number;
}

/** Events of {@link StorageManager}. */
export interface StorageEvents {
  /** A non-fatal consistency warning found at run time (option warnings are in {@link StorageManager.warnings}). */
  warning: [message: string];
  /** An invalid entry (changed, truncated or missing data) was removed instead of being served. */
  drop: [event: DropEvent];
  /** A GC round finished. */
  gc: [report: GcReport];
  /** {@link StorageManager.beginTask} waits for a task lock another live process holds. */
  lockWait: [info: LockWaitEvent];
}

/** Options of {@link StorageManager.findCompleted}. */
export interface FindOptions extends SignalOptions {
  /** Look up even when `multiplex` is off (e.g. to join a task another process just finished). */
  ignoreMultiplex?: boolean | undefined;
}

/** Options of {@link StorageManager.open}. */
export interface OpenOptions extends SignalOptions {
  /**
   * Run GC rounds from an unref'd timer every `gcInterval` (for long-lived processes). `false`:
   * rounds only when asked (`gc`, `gcSoon`, `claimGcRound`), with `gcInterval` still spacing them.
   * @defaultValue true
   */
  gcTimer?: boolean | undefined;
}

/** Options of {@link StorageManager.gc}. */
export interface GcOptions extends SignalOptions {
  /** Plan only; delete nothing. */
  dryRun?: boolean | undefined;
}
