/**
 * How a task's missing pieces are pulled from a transport: concurrent ranged reads (jobs created as
 * slots free up, never one per piece up front), each attempt under the low-speed rule and the one
 * retry policy; an origin that stops honouring `Range` is finished with one sequential stream, cut
 * into pieces, skipping those already stored.
 *
 * @module
 */
import pLimit from 'p-limit';
import createDebug from 'debug';
import { isRetryable, RangeNotSupportedError, SizeMismatchError } from '../core/errors.js';
import { raceSignal } from '../internal/abort.js';
import { retriesExhausted, withRetry } from '../internal/retry.js';
import type { PieceInfo } from '../core/piece-plan.js';
import { pieceAt } from '../core/piece-plan.js';
import type { PieceTransport, TransportTask } from '../transport/piece-transport.js';
import { underWatch } from './stall-watch.js';
import { pullSegments } from './segments.js';
import { PieceCutter } from './piece-cutter.js';
import type { ConnectionCount } from './connection-tuner.js';
import { DEFAULT_CONCURRENCY } from './options.js';
import type { PieceSite } from './piece-site.js';

export type { PieceSite } from './piece-site.js';

const debug = createDebug('orasfly:conductor');

/** Pulls every missing piece from `transport`. Rejects with the first failure (or the signal's reason). */
export async function pullPieces(
  site: PieceSite,
  transport: PieceTransport,
  task: TransportTask,
  signal: AbortSignal,
): Promise<void> {
  // Segments, one stream per connection: as many as pay, or the fixed count from the start.
  if (transport.streamPiece) {
    const streaming = transport as PieceTransport & Required<Pick<PieceTransport, 'streamPiece'>>;
    const fixed = site.concurrency;
    try {
      return await pullSegments(site, streaming, task, signal, {
        max: fixed ?? site.maxConcurrency,
        tuner: fixed === undefined ? undefined : fixedCount(fixed),
        presplit: fixed,
        onChoice: fixed === undefined ? (c) => site.onConnections?.(c.count, c.reason) : undefined,
      });
    } catch (e) {
      if (!(e instanceof RangeNotSupportedError) || signal.aborted) throw e;
      debug('task %s: ranges refused after a split, one sequential stream for the rest', site.taskId);
      site.onConnections?.(1, 'the origin refused a ranged request: one stream');
      return pullSequential(site, transport, task, signal);
    }
  }
  const concurrency = site.concurrency ?? DEFAULT_CONCURRENCY;
  // One connection and nothing stored yet: one stream of the whole blob beats a request per piece
  // (no round trip between pieces). A resume still fetches only the missing pieces, by range.
  if (
    concurrency === 1 &&
    site.storedCount() === 0 &&
    transport.wholeStreamPreferred === true &&
    transport.readSequential !== undefined
  ) {
    debug('task %s: one connection, one sequential stream', site.taskId);
    return pullSequential(site, transport, task, signal);
  }
  const ranged =
    site.plan.totalPieces > 0 &&
    transport.readPiece !== undefined &&
    (transport.supportsRange ? await transport.supportsRange(task, { signal }) : true);
  if (!ranged) {
    debug('task %s: ranges not supported, one sequential stream', site.taskId);
    return pullSequential(site, transport, task, signal);
  }
  const limit = pLimit(concurrency);
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  let rangeLost = false;
  let firstError: unknown;
  // A hostile manifest may declare a petabyte (72 M pieces): memory must not grow with what was
  // declared before bytes arrive, so jobs are created only as slots free up.
  const running = new Set<Promise<void>>();
  for (const num of missing(site)) {
    while (running.size >= concurrency) await Promise.race(running);
    if (both.aborted || rangeLost) break;
    const job: Promise<void> = limit(async () => {
      if (both.aborted || rangeLost) return;
      try {
        await fetchPiece(site, transport, task, pieceAt(site.plan, num), both);
      } catch (e) {
        if (e instanceof RangeNotSupportedError) {
          // The origin stopped honouring Range mid-task (or lied in its probe): finish sequentially.
          rangeLost = true;
          return;
        }
        if (firstError === undefined) firstError = e;
        if (!both.aborted) stop.abort(e);
      }
    }).finally(() => running.delete(job));
    running.add(job);
  }
  await Promise.all(running);
  if (signal.aborted) throw signal.reason;
  if (firstError !== undefined && !rangeLost) throw stop.signal.reason ?? firstError;
  if (rangeLost && site.storedCount() < site.plan.totalPieces) await pullSequential(site, transport, task, signal);
}

/** Piece numbers not yet stored, lazily (a plan may have millions of pieces). */
function* missing(site: PieceSite): Generator<number> {
  for (let i = 0; i < site.plan.totalPieces; i++) if (!site.has(i)) yield i;
}

async function fetchPiece(
  site: PieceSite,
  transport: PieceTransport,
  task: TransportTask,
  piece: PieceInfo,
  signal: AbortSignal,
): Promise<void> {
  await withRetry(
    async () => {
      if (site.has(piece.num)) return;
      await underWatch(site.lowSpeedLimit, site.lowSpeedTime, `piece ${piece.num}`, signal, async (attempt, watch) => {
        if (transport.streamPiece) {
          // The fast path: chunks pushed straight into the piece, no iterator layers.
          const asm = site.assembler(piece, attempt);
          try {
            await transport.streamPiece(
              task,
              piece.range,
              (c) => {
                watch.add(c.length);
                return asm.push(c);
              },
              { signal: attempt, memory: site.memory },
            );
            await site.commit(asm);
          } finally {
            asm.release();
          }
          return;
        }
        const body = await raceSignal(transport.readPiece!(task, piece, { signal: attempt }), attempt);
        await site.writePiece(piece.num, watch.count(body, attempt), { signal: attempt });
      });
    },
    {
      attempts: site.attempts,
      policy: site.backoff,
      // The HTTP layer has retried a request that failed before its body: do not multiply its attempts.
      retryable: (e) => !(e instanceof RangeNotSupportedError) && isRetryable(e) && !retriesExhausted(e),
      onRetry: ({ attempt, delayMs, error }) => {
        debug(
          'task %s piece %d attempt %d failed (%s), retry in %d ms',
          site.taskId,
          piece.num,
          attempt,
          (error as Error).message,
          delayMs,
        );
        site.onRetry({ taskId: site.taskId, num: piece.num, attempt, delayMs, error });
      },
      signal,
    },
  );
}

/** One stream of the whole blob, cut into pieces; stored pieces are skipped, not rewritten. */
export async function pullSequential(
  site: PieceSite,
  transport: PieceTransport,
  task: TransportTask,
  signal: AbortSignal,
): Promise<void> {
  if (!transport.readSequential && !transport.streamPiece)
    throw new RangeNotSupportedError(`transport ${transport.name} supports neither ranges nor sequential reads`);
  await withRetry(
    () =>
      underWatch(site.lowSpeedLimit, site.lowSpeedTime, 'the blob stream', signal, async (attempt, watch) => {
        const cutter = wholeBlobCutter(site, attempt);
        try {
          if (transport.streamPiece) {
            await transport.streamPiece(
              task,
              undefined,
              (c) => {
                watch.add(c.length);
                return cutter.push(c);
              },
              { signal: attempt },
            );
          } else {
            const body = await raceSignal(transport.readSequential!(task, { signal: attempt }), attempt);
            for await (const c of watch.count(body, attempt)) {
              const wait = cutter.push(c);
              if (wait) await wait;
            }
          }
          cutter.end();
        } finally {
          cutter.release();
        }
      }),
    {
      attempts: site.attempts,
      policy: site.backoff,
      retryable: (e) => isRetryable(e) && !retriesExhausted(e),
      onRetry: ({ attempt, delayMs, error }) =>
        site.onRetry({ taskId: site.taskId, num: 'sequential', attempt, delayMs, error }),
      signal,
    },
  );
}

/**
 * One stream of the whole blob cut into pieces: stored pieces are skipped, not rewritten, and the
 * stream must carry exactly the blob's bytes.
 */
function wholeBlobCutter(site: PieceSite, signal: AbortSignal) {
  const plan = site.plan;
  const cutter = new PieceCutter(site, { next: 0, end: plan.totalPieces }, signal, { skipStored: true });
  let total = 0;
  return {
    push(chunk: Uint8Array): Promise<void> | undefined {
      if (chunk.length === 0) return undefined;
      total += chunk.length;
      if (total > plan.contentLength) throw new SizeMismatchError(plan.contentLength, total, 'blob');
      return cutter.push(chunk);
    },
    /** The stream ended: every byte of the blob must have come. */
    end(): void {
      if (total !== plan.contentLength) throw new SizeMismatchError(plan.contentLength, total, 'blob');
    },
    release: () => cutter.release(),
  };
}

/** A count fixed by the user (`--concurrency N`): N connections from the start, never changed. */
function fixedCount(n: number): ConnectionCount {
  return { target: n, reason: `fixed at ${n}`, running: () => {}, record: () => false };
}
