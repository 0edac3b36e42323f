/**
 * Running one task: begin it in the store (which may answer with a completed entry to reuse), run a
 * conductor over the writer, and when a cluster's bytes do not match the digest, begin again and
 * download from the origin (the rule is `fallback.ts`'s). The outcome is the completed entry and who
 * delivered its bytes.
 *
 * @module
 */
import { DigestMismatchError } from '../core/errors.js';
import type { PiecePlan } from '../core/piece-plan.js';
import { stripUserinfo } from '../core/describe.js';
import type { CoreLogger } from '../log/core-log.js';
import { logTaskFailure } from '../log/task-failure.js';
import type { ResolvedResource, ResourceClient } from '../source/resource-client.js';
import type { StorageManager, TaskEntry, TaskWriter } from '../storage/storage-manager.js';
import type { PieceTransport } from '../transport/piece-transport.js';
import type { ProgressEvent } from './events.js';
import { restartsFromOrigin } from './fallback.js';
import type { ConductorOptions } from './options.js';
import type { PeerTaskConductor } from './peer-task-conductor.js';
import type { RateLimiter } from './rate-limiter.js';

/** A task's outcome: the entry, whether the store had it already, and the bytes per transport. */
export interface TaskOutcome {
  entry: TaskEntry;
  reusedFromStore: boolean;
  transferredBy: Record<string, number>;
  /** The connection count the download settled on, when it found itself. */
  connections?: { readonly count: number; readonly reason: string } | undefined;
}

/** What a task run needs of its manager. */
export interface TaskRunContext {
  client: ResourceClient;
  storage: StorageManager;
  /** The configured transport; the origin (a `SourceTransport` over `client`) when unset. */
  transport: PieceTransport | undefined;
  conductorOptions: ConductorOptions;
  /** The low-speed limit for a task of this fixed concurrency, or of a found one (undefined). */
  lowSpeedLimit(concurrency: number | undefined): number;
  rateLimiter: RateLimiter | undefined;
  log: CoreLogger;
  /** Told of every conductor started (the manager's `onConductor`). */
  onConductor?: ((c: PeerTaskConductor) => void) | undefined;
}

/** One task to run. */
export interface TaskRunRequest {
  taskId: string;
  peerId: string;
  resolved: ResolvedResource;
  plan: PiecePlan;
  output: string;
  /** Fixed connections, or undefined: the task finds its count. */
  concurrency: number | undefined;
  headers?: Record<string, string> | undefined;
  tag?: string | undefined;
  application?: string | undefined;
  /** The piece length the user fixed (sent to a cluster), if any. */
  pieceLength?: number | undefined;
  /** Every progress event of the task's conductors. */
  progress(p: ProgressEvent): void;
  signal: AbortSignal;
}

/** Begins the task and downloads it, or reuses what the store holds. */
export async function runTask(ctx: TaskRunContext, req: TaskRunRequest): Promise<TaskOutcome> {
  const { taskId, peerId, resolved, plan, signal } = req;
  const log = ctx.log.with({ peer: peerId, task: taskId, component: 'PeerTask' });
  // One request begins the task, and begins it again when a cluster's bytes must be discarded.
  const begin = () =>
    ctx.storage.beginTask(
      {
        taskId,
        peerId,
        digest: resolved.digest,
        contentLength: resolved.size,
        pieceSize: plan.pieceSize,
        output: req.output,
        taskMeta: {},
        url: stripUserinfo(resolved.url),
      },
      { signal },
    );
  let begun: Awaited<ReturnType<typeof begin>>;
  try {
    begun = await begin();
  } catch (e) {
    if (!signal.aborted) logTaskFailure(log, e);
    throw e;
  }
  if ('reuse' in begun) return { entry: begun.reuse, reusedFromStore: true, transferredBy: {} };
  const { PeerTaskConductor } = await import('./peer-task-conductor.js');
  const { SourceTransport } = await import('../transport/source-transport.js');
  const source = new SourceTransport(ctx.client);
  const client = ctx.client;
  const conductor = (writer: TaskWriter, transport: PieceTransport) => {
    const c = new PeerTaskConductor({
      taskId,
      peerId,
      target: resolved,
      plan,
      writer,
      transport,
      fallbackTransport: source,
      headers: req.headers,
      tag: req.tag,
      application: req.application,
      pieceLength: req.pieceLength,
      origin: client.blobRequest ? (o) => client.blobRequest!(resolved, { ...o, headers: req.headers }) : undefined,
      logger: ctx.log,
      pieceDigest: ctx.storage.options.pieceDigest,
      rateLimiter: ctx.rateLimiter,
      options: {
        ...ctx.conductorOptions,
        concurrency: req.concurrency,
        lowSpeedLimit: ctx.lowSpeedLimit(req.concurrency),
      },
    });
    // One subscription, fanned out to every attached request's callback (joiners included).
    c.on('progress', req.progress);
    ctx.onConductor?.(c);
    return c;
  };
  const transport = ctx.transport ?? source;
  log.info(
    `start to download, content length: ${resolved.size}, pieces: ${plan.totalPieces}` +
      (begun.writer.resumed ? `, resuming with ${begun.writer.pieces.size} verified` : ''),
  );
  const first = conductor(begun.writer, transport);
  let entry: TaskEntry;
  try {
    entry = await first.run({ signal });
  } catch (e) {
    if (!restartsFromOrigin(transport, source, e, signal)) throw e;
    log.warn(
      `bytes from transport ${transport.name} do not match ${resolved.digest} (${(e as DigestMismatchError).message}); downloading again from the origin`,
    );
    const again = await begin();
    if ('reuse' in again) return { entry: again.reuse, reusedFromStore: true, transferredBy: {} };
    const retry = conductor(again.writer, source);
    const retried = await retry.run({ signal });
    const by = { ...retry.bytesByTransport };
    for (const [k, v] of Object.entries(first.bytesByTransport)) by[`${k} (discarded)`] = v;
    return { entry: retried, reusedFromStore: false, transferredBy: by, connections: retry.connections };
  }
  const by = { ...first.bytesByTransport };
  if (transport !== source)
    log.info(
      `bytes by transport: ${
        Object.entries(by)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }`,
    );
  return { entry, reusedFromStore: false, transferredBy: by, connections: first.connections };
}
