/**
 * Pulling a task as segments of consecutive pieces, one stream per connection, with a count that
 * finds itself ({@link ConnectionTuner}): the first connection streams the whole blob (or the first
 * run of missing pieces); when the tuner asks for more, the largest remaining segment is split in
 * two (as aria2 does) and a new connection takes the second half with one ranged request, while the
 * first stops at the split point. No request per piece, no round trip between pieces.
 *
 * @module
 */
import createDebug from 'debug';
import { isRetryable, RangeNotSupportedError, SizeMismatchError } from '../core/errors.js';
import { pieceAt } from '../core/piece-plan.js';
import type { ByteRange } from '../core/types.js';
import { retriesExhausted, withRetry } from '../internal/retry.js';
import type { PieceTransport, TransportTask } from '../transport/piece-transport.js';
import { ConnectionTuner, type ConnectionCount } from './connection-tuner.js';
import type { PieceSite } from './piece-site.js';
import { underWatch } from './stall-watch.js';
import { CUT_DONE, PieceCutter } from './piece-cutter.js';
import { monotonicMs } from '../internal/clock.js';

const debug = createDebug('orasfly:conductor');

/** Pieces `[next, end)` of the plan; `end` shrinks when the segment is split. */
interface Segment {
  next: number;
  end: number;
  running: boolean;
  /** Where the request now streaming this segment would end by itself (a piece index). */
  reach?: number;
}

/** The least a running segment must have left for a connection out of work to take half of it. */
const STEAL_MIN_PIECES = 4;

/** What {@link pullSegments} reports of the connection count. */
export interface ConnectionChoice {
  count: number;
  reason: string;
}

/**
 * Pulls every missing piece through `transport.streamPiece`, with at most `max` connections.
 * Rejects with the first failure that retries did not cure (or the signal's reason).
 */
export async function pullSegments(
  site: PieceSite,
  transport: PieceTransport & Required<Pick<PieceTransport, 'streamPiece'>>,
  task: TransportTask,
  signal: AbortSignal,
  o: {
    max: number;
    onChoice?: ((c: ConnectionChoice) => void) | undefined;
    /** The count's policy; a {@link ConnectionTuner} over this process's CPU time by default. */
    tuner?: ConnectionCount | undefined;
    /**
     * Split the missing pieces into this many segments before the first request (a fixed count):
     * closed ranges from the start, so no stream runs past a split with bytes nobody uses.
     */
    presplit?: number | undefined;
  },
): Promise<void> {
  const plan = site.plan;
  const segments = missingRuns(site);
  if (segments.length === 0) return;
  while (o.presplit !== undefined && segments.length < o.presplit) {
    let best: Segment | undefined;
    for (const s of segments) if (s.end - s.next >= 2 && (!best || s.end - s.next > best.end - best.next)) best = s;
    if (!best) break;
    const mid = best.next + Math.ceil((best.end - best.next) / 2);
    segments.push({ next: mid, end: best.end, running: false });
    best.end = mid;
  }
  const tuner =
    o.tuner ??
    new ConnectionTuner({
      max: o.max,
      minWindowBytes: plan.pieceSize,
      cpuMs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
    });
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  // Splitting needs ranged requests; the first one that is refused ends all splitting.
  let canSplit = plan.totalPieces > 1;
  let active = 0;
  let failure: unknown;
  const running = new Set<Promise<void>>();

  /**
   * An idle segment, or half of the largest running one. `minPieces`: the least a running segment
   * must have left to be split — a split costs the bytes its stream already has in flight past the
   * split point, so a connection that merely ran out of work takes only large halves.
   */
  const claim = (minPieces: number): Segment | undefined => {
    const idle = segments.find((s) => !s.running && s.next < s.end);
    if (idle) return idle;
    if (!canSplit) return undefined;
    // The largest remaining segment, split so that its connection keeps the first half.
    let best: Segment | undefined;
    for (const s of segments)
      if (s.running && s.end - s.next >= minPieces && (!best || s.end - s.next > best.end - best.next)) best = s;
    if (!best) return undefined;
    const mid = best.next + 1 + Math.floor((best.end - best.next - 1) / 2);
    const half: Segment = { next: mid, end: best.end, running: false };
    best.end = mid;
    segments.push(half);
    return half;
  };

  const spawn = (): void => {
    while (active < tuner.target && !both.aborted) {
      const seg = claim(2);
      if (!seg) {
        // Nothing left to split: the count is what runs (reported, not left "probing" for ever).
        if (active > 0 && tuner.capped) {
          tuner.capped(active);
          report();
        }
        break;
      }
      seg.running = true;
      active++;
      tuner.running(active, monotonicMs());
      const job = connection(seg).finally(() => running.delete(job));
      running.add(job);
    }
  };

  let said = tuner.reason;
  /** Says the count and why, when the reason changed. */
  function report(): void {
    if (tuner.reason === said) return;
    said = tuner.reason;
    debug('task %s: %d connection(s): %s', site.taskId, tuner.target, tuner.reason);
    o.onChoice?.({ count: tuner.target, reason: tuner.reason });
  }
  const record = (n: number): void => {
    const changed = tuner.record(n, monotonicMs());
    report();
    if (changed) spawn();
  };

  const connection = async (first: Segment): Promise<void> => {
    let seg: Segment | undefined = first;
    try {
      while (seg && !both.aborted) {
        await fetchSegment(seg);
        seg.running = false;
        // More connections than wanted: this one ends with its segment.
        if (active > tuner.target) break;
        seg = claim(STEAL_MIN_PIECES);
        if (seg) seg.running = true;
      }
    } catch (e) {
      if (e instanceof SegmentRefused) {
        if (seg) {
          seg.running = false;
          // Cut from a stream that still reaches over it (the first, whole-blob one): that stream
          // simply carries on, instead of the origin sending those bytes again later.
          const from = segments.find((s) => s.running && s.end === seg!.next && (s.reach ?? 0) >= seg!.end);
          if (from) {
            from.end = seg.end;
            seg.next = seg.end;
          }
        }
        return;
      }
      if (failure === undefined) failure = e;
      if (!both.aborted) stop.abort(e);
    } finally {
      active--;
      tuner.running(active, monotonicMs());
    }
  };

  const fetchSegment = (seg: Segment): Promise<void> => {
    // A body longer than what was asked is the server's error, not the connection's: never retried.
    let overran = false;
    /** Where the last attempt started: one that stored pieces before it broke made progress. */
    let attemptFrom = seg.next;
    return withRetry(
      () =>
        underWatch(
          site.lowSpeedLimit,
          site.lowSpeedTime,
          `pieces ${seg.next}–${seg.end - 1}`,
          both,
          async (attempt, watch) => {
            while (seg.next < seg.end && site.has(seg.next)) seg.next++;
            attemptFrom = seg.next;
            if (seg.next >= seg.end) return;
            // The whole blob with no Range header while nothing was split: works where ranges do not.
            const whole = seg.next === 0 && seg.end === plan.totalPieces && site.storedCount() === 0;
            const from = pieceAt(plan, seg.next).range.start;
            const last = pieceAt(plan, seg.end - 1).range;
            const range: ByteRange | undefined = whole
              ? undefined
              : { start: from, length: last.start + last.length - from };
            seg.reach = seg.end;
            const cutter = new PieceCutter(site, seg, attempt);
            try {
              await transport.streamPiece(
                task,
                range,
                (c) => {
                  watch.add(c.length);
                  record(c.length);
                  return cutter.push(c);
                },
                { signal: attempt, memory: site.memory },
              );
            } catch (e) {
              if (e === CUT_DONE) return;
              if (e instanceof RangeNotSupportedError && !whole) {
                // No splits from now on; what is left is fetched without ranges afterwards.
                canSplit = false;
                throw new SegmentRefused(e);
              }
              throw e;
            } finally {
              overran ||= cutter.overran;
              cutter.release();
            }
            if (seg.next < seg.end)
              throw new SizeMismatchError(
                last.start + last.length - from,
                cutter.received,
                `pieces ${seg.next}–${seg.end - 1} (the stream ended early)`,
              );
          },
        ),
      {
        attempts: site.attempts,
        policy: site.backoff,
        retryable: (e) => !overran && !(e instanceof SegmentRefused) && isRetryable(e) && !retriesExhausted(e),
        // A long stream that breaks now and then, storing pieces between breaks, is not failing:
        // only breaks in a row without a stored piece use up the attempts.
        progressed: () => seg.next > attemptFrom,
        onRetry: ({ attempt, delayMs, error }) =>
          site.onRetry({ taskId: site.taskId, num: seg.next, attempt, delayMs, error }),
        signal: both,
      },
    );
  };

  o.onChoice?.({ count: tuner.target, reason: tuner.reason });
  spawn();
  while (running.size > 0) await Promise.race(running);
  if (signal.aborted) throw signal.reason;
  if (failure !== undefined) throw failure;
  // A range refused after a split: the rest comes over connections that need no split.
  if (segments.some((s) => s.next < s.end))
    throw new RangeNotSupportedError(`the origin refused a ranged request for task ${site.taskId}`);
}

/** A split segment's ranged request was refused: the segment goes back, and splitting stops. */
class SegmentRefused extends Error {
  constructor(cause: RangeNotSupportedError) {
    super(cause.message, { cause });
  }
}

/** Runs of consecutive missing pieces, as segments. */
function missingRuns(site: PieceSite): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < site.plan.totalPieces; i++) {
    if (site.has(i)) continue;
    const last = out.at(-1);
    if (last && last.end === i) last.end = i + 1;
    else out.push({ next: i, end: i + 1, running: false });
  }
  return out;
}
