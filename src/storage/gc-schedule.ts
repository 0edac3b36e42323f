/**
 * When GC rounds run (`GcScheduler`): at most one per `gcInterval` across every process sharing the store. A stamp
 * file (`.gc/stamp`, its mtime the start of the last round) says whether one is due; the round lock
 * (`.gc/round.lock`) makes exactly one process start it.
 *
 * @module
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './fs-util.js';
import type { ResolvedStorageOptions } from './options.js';
import type { StoreLayout } from './store-layout.js';
import { acquireTaskLock } from './task-lock.js';
import type { GcReport, GcRoundOptions } from './gc-round.js';

/** Whether a round is due by the stamp. */
export async function gcDue(layout: StoreLayout, o: ResolvedStorageOptions): Promise<boolean> {
  const st = await fsp.stat(layout.gcStampPath).catch(() => undefined);
  if (!st) return true;
  const age = o.now() - st.mtimeMs;
  // A stamp from the future (clock set back) does not stop GC forever.
  return age >= o.gcInterval || age < -o.gcInterval;
}

/** Records that a round starts now. */
export async function stampRound(layout: StoreLayout, o: ResolvedStorageOptions): Promise<void> {
  const now = o.now();
  await fsp.mkdir(path.dirname(layout.gcStampPath), { recursive: true });
  await writeFileAtomic(layout.gcStampPath, `${new Date(now).toISOString()}\n`, { fsync: false, mtimeMs: now });
}

/**
 * When a round is due and no process is collecting: takes the round lock and writes the stamp, so
 * no other process starts a round for `gcInterval`. The caller runs the round, then releases.
 */
export async function claimDueRound(
  layout: StoreLayout,
  o: ResolvedStorageOptions,
): Promise<{ release(): Promise<void> } | undefined> {
  if (!(await gcDue(layout, o))) return undefined;
  await fsp.mkdir(path.dirname(layout.gcLockPath), { recursive: true });
  const lock = await acquireTaskLock(layout.gcLockPath, { tryOnly: true, staleMs: o.lockStaleTime }).catch(
    () => undefined,
  );
  if (!lock) return undefined; // another process is collecting
  try {
    if (!(await gcDue(layout, o))) {
      await lock.release();
      return undefined;
    }
    await stampRound(layout, o);
    return lock;
  } catch (e) {
    await lock.release();
    throw e;
  }
}

/** What a {@link GcScheduler} runs and tells. */
export interface GcSchedulerInit {
  readonly layout: StoreLayout;
  readonly options: ResolvedStorageOptions;
  /** Runs one round now. */
  round(opts?: GcRoundOptions): Promise<GcReport>;
  /** Every report of a round this scheduler ran. */
  onReport(report: GcReport): void;
  /** A background round failed (a background round never rejects). */
  onError(e: unknown): void;
}

/**
 * When this process runs GC: a round on demand ({@link GcScheduler.run}), a due round in the
 * background after pulls and on the timer ({@link GcScheduler.soon}), a due round claimed for
 * another process ({@link GcScheduler.claim}); at most one round at a time in this process.
 */
export class GcScheduler {
  readonly #init: GcSchedulerInit;
  #running: Promise<GcReport | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(init: GcSchedulerInit) {
    this.#init = init;
  }

  /** A round now; a round already running (not a dry run) is joined instead of started twice. */
  async run(opts: GcRoundOptions = {}): Promise<GcReport> {
    const running = this.#running;
    if (running && !opts.dryRun) {
      const r = await running;
      if (r) return r;
    }
    const p = this.#init.round(opts).then((report) => {
      this.#init.onReport(report);
      return report;
    });
    // The stored promise never rejects unobserved (an aborted round must not crash the process).
    if (!opts.dryRun)
      this.#running = p
        .then(
          (r) => r,
          () => undefined,
        )
        .finally(() => (this.#running = undefined));
    return p;
  }

  /** A due round in the background; resolves with its report, or `undefined` when none was due. Never rejects. */
  soon(): Promise<GcReport | undefined> {
    if (this.#init.options.gcInterval <= 0) return Promise.resolve(undefined);
    if (this.#running) return this.#running;
    const p = this.#ifDue()
      .catch((e: unknown) => {
        this.#init.onError(e);
        return undefined;
      })
      .finally(() => {
        if (this.#running === p) this.#running = undefined;
      });
    this.#running = p;
    return p;
  }

  /** Records the due round as taken (for another process to run); `true` when one was due. */
  async claim(): Promise<boolean> {
    if (this.#init.options.gcInterval <= 0) return false;
    const lock = await claimDueRound(this.#init.layout, this.#init.options).catch(() => undefined);
    await lock?.release();
    return lock !== undefined;
  }

  /** Checks for a due round every `gcInterval` (unref'd: it never keeps the process alive). */
  startTimer(): void {
    if (this.#init.options.gcInterval <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.soon(), this.#init.options.gcInterval);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a running round. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
  }

  async #ifDue(): Promise<GcReport | undefined> {
    const lock = await claimDueRound(this.#init.layout, this.#init.options);
    if (!lock) return undefined;
    try {
      const report = await this.#init.round();
      this.#init.onReport(report);
      return report;
    } finally {
      await lock.release();
    }
  }
}
