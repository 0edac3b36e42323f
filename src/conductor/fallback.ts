/**
 * Falling back from a cluster to the origin, decided in one place: whether the origin serves the
 * pieces a transport left undone (a push transport that stopped, a pull transport that gave up), and
 * whether a task whose blob came back wrong starts over from the origin. Transports only describe
 * their failures: `OrasflyError.final` (the origin's own answer, relayed) and
 * `PieceTransport.backToSource` (dfget's `--disable-back-to-source`).
 *
 * @module
 */
import { DaemonError, DigestMismatchError, OrasflyError, TaskFailedError } from '../core/errors.js';
import type { PieceSink, PieceTransport, TransportTask } from '../transport/piece-transport.js';

/** What {@link deliverPieces} needs of the task it fills. */
export interface DeliverySite {
  readonly taskId: string;
  readonly totalPieces: number;
  /** Pieces still missing. */
  missing(): number;
  /** Fetches every missing piece through a pull transport (the conductor's scheduler). */
  pull(transport: PieceTransport): Promise<void>;
  /** Says why the origin now serves what `transport` did not. */
  onFallback(transport: string, error: unknown): void;
}

/** Whether `transport` lets the origin serve after it failed with `error`. */
function originMayServe(transport: PieceTransport, error: unknown): boolean {
  return transport.backToSource !== false && !(error instanceof OrasflyError && error.final);
}

/**
 * Fills a task: a push transport drives first; whatever is still missing comes from a pull
 * transport (the transport itself, or the origin), and from the origin when that pull gives up.
 *
 * @throws the transport's error when the origin may not serve (a final error, back-to-source
 * disabled), a final `DaemonError` when a transport without back-to-source left pieces, the
 * signal's reason on abort.
 */
export async function deliverPieces(
  transport: PieceTransport,
  origin: PieceTransport | undefined,
  task: TransportTask,
  sink: PieceSink,
  site: DeliverySite,
  signal: AbortSignal,
): Promise<void> {
  if (transport.drive) {
    try {
      await transport.drive(task, sink, { signal });
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      if (!originMayServe(transport, e)) throw e;
      site.onFallback(transport.name, e);
    }
  }
  const missing = site.missing();
  if (missing === 0) return;
  const backToSource = transport.backToSource !== false;
  const pull = transport.readPiece ? transport : backToSource ? origin : undefined;
  if (!pull) {
    if (!backToSource)
      throw new DaemonError(
        `transport ${transport.name} left ${missing} of ${site.totalPieces} pieces, and back-to-source is disabled`,
        undefined,
        { final: true },
      );
    throw new TaskFailedError(
      site.taskId,
      4000,
      `transport ${transport.name} left ${missing} pieces and no fallback is set`,
    );
  }
  try {
    await site.pull(pull);
  } catch (e) {
    // A pull transport other than the origin (a daemon's proxy) that gives up hands over to the origin.
    if (signal.aborted || !origin || pull === origin || !originMayServe(transport, e)) throw e;
    site.onFallback(pull.name, e);
    await site.pull(origin);
  }
  // A pull that returned with pieces still missing is a failure said now: the blob hash would wait
  // for them for ever.
  const left = site.missing();
  if (left > 0)
    throw new TaskFailedError(site.taskId, 4000, `${left} of ${site.totalPieces} pieces still missing after the pull`);
}

/**
 * Whether a task whose blob did not match its digest starts over from the origin: bytes from a
 * cluster never reach an output, and the origin is asked once, unless the transport forbids it.
 */
export function restartsFromOrigin(
  transport: PieceTransport,
  origin: PieceTransport,
  error: unknown,
  signal: AbortSignal,
): boolean {
  return (
    !signal.aborted && transport !== origin && transport.backToSource !== false && error instanceof DigestMismatchError
  );
}
