/**
 * The top-level `download()`: resolve → task id → reuse → join a running task → new conductor,
 * in Dragonfly's order. N concurrent identical requests make one download; each gets its own output.
 *
 * @module
 */
import path from 'node:path';
import createDebug from 'debug';
import { DigestMismatchError, InvalidArgumentError, StorageError, TimeoutError } from '../core/errors.js';
import type { ResolvedResource, ResourceClient } from '../source/resource-client.js';
import type { PieceTransport } from '../transport/piece-transport.js';
import { taskId as computeTaskId, peerId as newPeerId } from '../core/task-id.js';
import { planPieces } from '../core/piece-plan.js';
import type { ConductorOptions, PeerTaskConductor, ProgressEvent } from './peer-task-conductor.js';
import { DEFAULT_CONCURRENCY, resolveConductorOptions, type ResolvedConductorOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import { CoreLogger, type CoreLogSink } from '../log/core-log.js';
import { anySignal, raceSignal, throwIfAborted } from '../internal/abort.js';
import type { StorageManager, TaskEntry } from '../storage/storage-manager.js';
import { stripUserinfo } from '../core/describe.js';
import { gcRoundLine } from '../storage/gc-round.js';
import { logTaskFailure } from '../log/task-failure.js';
import type { DownloadRequest, DownloadResult } from './download-types.js';
import { checkOutput, titledOutput } from './output.js';

const debug = createDebug('orasfly:manager');

/** Options of a {@link PeerTaskManager}. */
export interface PeerTaskManagerOptions {
  /** Registry access (an `OrasResourceClient` or any {@link ResourceClient}). */
  client: ResourceClient;
  /** The task store. */
  storage: StorageManager;
  /** Where pieces come from. @defaultValue a `SourceTransport` over `client` */
  transport?: PieceTransport | undefined;
  /** Conductor tuning (concurrency, retries, …). */
  conductor?: ConductorOptions | undefined;
  /** Bytes/s across all pieces of all tasks (dfget `--ratelimit`); undefined = unlimited. */
  totalRateLimit?: number | undefined;
  /** Where JSON `core.log` records go (`peer task done, cost: …ms`). */
  logSink?: CoreLogSink | undefined;
  /**
   * After each pull, start the store's GC round in the background when one is due
   * (`StorageManager.gcSoon`). `false` leaves GC to the caller (the CLI hands it to a detached
   * process). @defaultValue true
   */
  gcAfterPull?: boolean | undefined;
}

interface RunningTask {
  conductor: PeerTaskConductor | undefined;
  outcome: Promise<{ entry: TaskEntry; reusedFromStore: boolean; transferredBy: Record<string, number> }>;
  /** Requests waiting for this task; at 0 after a cancellation the task is aborted. */
  attached: number;
  controller: AbortController;
  /** `onProgress` callbacks of the attached requests. */
  progressListeners: Set<(p: ProgressEvent) => void>;
}

/**
 * Runs downloads against one store. Share one manager per process so identical concurrent
 * requests are joined; across processes the store's task lock makes one download and the
 * others reuse it.
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { OrasResourceClient, PeerTaskManager, StorageManager } from 'orasfly';
 *
 * const storage = await StorageManager.open({ dataPath: path.join(os.tmpdir(), 'orasfly-store'), multiplex: true });
 * const client = new OrasResourceClient();
 * const manager = new PeerTaskManager({ client, storage });
 * const r = await manager.download({ url: 'oras://127.0.0.1:5000/a/img:v1', output: path.join(os.tmpdir(), 'img.sif') });
 * console.log(r.reused, r.costMs);
 * await manager.close();
 * await storage.close();
 * await client.close();
 * ```
 */
export class PeerTaskManager {
  readonly client: ResourceClient;
  readonly storage: StorageManager;
  #transport: PieceTransport | undefined;
  #conductorOptions: ConductorOptions;
  /** The same, resolved (bytes, ms). */
  readonly #tuning: ResolvedConductorOptions;
  #rateLimiter: RateLimiter | undefined;
  #totalRateLimit: number | undefined;
  readonly #gcAfterPull: boolean;
  #log: CoreLogger;
  #running = new Map<string, RunningTask>();

  constructor(options: PeerTaskManagerOptions) {
    if (!options?.client) throw new InvalidArgumentError('client', 'a ResourceClient is required');
    if (!options.storage) throw new InvalidArgumentError('storage', 'a StorageManager is required');
    this.client = options.client;
    this.storage = options.storage;
    this.#transport = options.transport;
    // Validated now, not at the first download: a wrong key fails the constructor, naming it.
    this.#tuning = resolveConductorOptions(options.conductor);
    this.#conductorOptions = { ...options.conductor };
    this.#rateLimiter = options.totalRateLimit ? new RateLimiter(options.totalRateLimit) : undefined;
    this.#totalRateLimit = options.totalRateLimit || undefined;
    this.#gcAfterPull = options.gcAfterPull ?? true;
    this.#log = new CoreLogger(options.logSink, {}, 'conductor/peer-task-manager.ts');
    // Every round this process runs is on record, as Dragonfly logs its GC.
    options.storage.on('gc', (r) => this.#log.with({ component: 'GC' }).info(gcRoundLine(r)));
    // Nobody waits silently: a lock held by another process is said in core.log at once.
    options.storage.on('lockWait', (w) =>
      this.#log
        .with({ task: w.taskId, component: 'PeerTask' })
        .warn(
          `task lock held by pid ${w.pid} on ${w.hostname} since ${new Date(w.since).toISOString()}; ` +
            `waiting (a dead holder is taken over after ${Math.round(w.staleMs / 1000)} s` +
            (w.timeoutMs ? `, giving up after ${Math.round(w.timeoutMs / 1000)} s)` : ')'),
        ),
    );
  }

  /** Number of tasks downloading now. */
  get runningTasks(): number {
    return this.#running.size;
  }

  /**
   * Downloads `request.url` to `request.output`.
   *
   * @throws InvalidReferenceError (`ERR_ORASFLY_INVALID_REFERENCE`) for a malformed URL, before any request.
   * @throws DigestMismatchError (`ERR_ORASFLY_DIGEST_MISMATCH`) when `digest` differs from the resolved one, or the bytes do not match.
   * @throws TimeoutError (`ERR_ORASFLY_TIMEOUT`) after `timeout` ms.
   * @throws RegistryResponseError, AuthError, TlsError, NetworkError from the registry.
   */
  async download(request: DownloadRequest): Promise<DownloadResult> {
    if (!request || typeof request.url !== 'string' || !request.url)
      throw new InvalidArgumentError('url', 'a URL is required');
    if (typeof request.output !== 'string' || !request.output)
      throw new InvalidArgumentError('output', 'an output path is required');
    const started = performance.now();
    // A trailing separator names a directory: the file inside it is named after the layer's title.
    const intoDir = /[\\/]$/.test(request.output);
    const output = path.resolve(request.output);
    const timeoutSignal = request.timeout ? AbortSignal.timeout(request.timeout) : undefined;
    const signal = anySignal(request.signal, timeoutSignal);
    try {
      return await this.#download(request, output, intoDir, started, signal);
    } catch (e) {
      if (timeoutSignal?.aborted && e === timeoutSignal.reason) {
        const timeout = new TimeoutError(
          request.timeout!,
          'download',
          'the partial download was removed (nothing is left beside the output or in the store)',
        );
        this.#logFailure(timeout, { component: 'PeerTask' });
        throw timeout;
      }
      throw e;
    }
  }

  /** Dragonfly's failure line, for failures no conductor logged (resolve, auth, digest, lock). */
  #logFailure(error: unknown, fields: Record<string, unknown> = {}): void {
    logTaskFailure(this.#log.with(fields), error);
  }

  async #download(
    request: DownloadRequest,
    requested: string,
    intoDir: boolean,
    started: number,
    signal: AbortSignal | undefined,
  ): Promise<DownloadResult> {
    let resolved: ResolvedResource;
    let output = requested;
    try {
      if (!intoDir) await checkOutput(output, this.storage.options.dataPath);
      resolved = request.resolved ?? (await this.client.resolve(request.url, { signal, headers: request.headers }));
      if (intoDir) output = await titledOutput(requested, resolved, this.storage.options.dataPath);
      if (request.digest) {
        const wanted = request.digest.trim().toLowerCase();
        const [alg] = wanted.split(':');
        const [resolvedAlg] = resolved.digest.split(':');
        // dfget accepts md5/sha1/… too; the registry names blobs by sha256, so only that can be compared up front.
        if (alg !== resolvedAlg)
          throw new InvalidArgumentError(
            'digest',
            `${alg}: digests cannot be checked for this reference; its blob is addressed as ${resolved.digest} (pass a ${resolvedAlg}: digest)`,
          );
        if (wanted !== resolved.digest) throw new DigestMismatchError(wanted, resolved.digest, 'requested');
      }
    } catch (e) {
      if (!signal?.aborted) this.#logFailure(e, { component: 'PeerTask' });
      throw e;
    }
    // dfget: the director sets the meta digest to the layer's, so --digest never changes the task id.
    const taskId = computeTaskId(resolved.resolvedUrl, {
      digest: resolved.digest,
      tag: request.tag,
      application: request.application,
      filter: request.filter,
    });
    const peerId = newPeerId();
    const log = this.#log.with({ peer: peerId, task: taskId, component: 'PeerTask' });
    debug('download %s → %s task %s', resolved.url, output, taskId);

    try {
      return await this.#obtain(request, resolved, taskId, peerId, output, started, signal, log);
    } catch (e) {
      // The entry reused went away between the lookup and the link (another process's GC): once more,
      // which now downloads. Anything else is final.
      if (!(e instanceof EntryGoneError)) throw e;
      debug('reused entry of %s vanished (%s); starting over', taskId, e.message);
      return this.#obtain(request, resolved, taskId, peerId, output, started, signal, log);
    } finally {
      // Off the critical path: a round runs only when one is due (once per gcInterval across processes).
      if (this.#gcAfterPull) void this.storage.gcSoon();
    }
  }

  async #obtain(
    request: DownloadRequest,
    resolved: ResolvedResource,
    taskId: string,
    peerId: string,
    output: string,
    started: number,
    signal: AbortSignal | undefined,
    log: CoreLogger,
  ): Promise<DownloadResult> {
    // Join a running task (not one that is being cancelled), or start one. No await between the
    // lookup and the registration, so concurrent identical requests always end up on one task.
    let found = this.#running.get(taskId);
    if (found?.controller.signal.aborted) found = undefined;
    const joined = found !== undefined;
    const task = found ?? this.#start(taskId, peerId, resolved, output, request);
    task.attached++;
    let attached = true;
    // A wrapper per request: two requests passing the same callback are still two subscribers.
    const listener = request.onProgress ? (p: ProgressEvent) => request.onProgress!(p) : undefined;
    if (listener) task.progressListeners.add(listener);
    const detach = (cancel: boolean) => {
      if (!attached) return;
      attached = false;
      task.attached--;
      if (listener) task.progressListeners.delete(listener);
      // The conductor only stops when no request wants it any more; a stopping task takes no new requests.
      if (cancel && task.attached === 0) {
        task.controller.abort(signal?.reason);
        if (this.#running.get(taskId) === task) this.#running.delete(taskId);
        stopped = true;
      }
    };
    let stopped = false;
    try {
      let won: Awaited<RunningTask['outcome']>;
      try {
        won = await raceSignal(task.outcome, signal, () => detach(true));
      } catch (e) {
        // A cancelled or timed-out request that stopped the task returns only once the task has
        // removed its partial data: a caller (or the CLI, about to close the store) must not race it.
        // Bounded: cleanup is a few filesystem calls; a transport that never lets go must not hold us.
        if (stopped)
          await Promise.race([
            task.outcome.catch(() => {}),
            new Promise((r) => setTimeout(r, CLEANUP_WAIT_MS).unref()),
          ]);
        throw e;
      }
      const { entry, reusedFromStore, transferredBy } = won;
      detach(false);
      throwIfAborted(signal);
      let m: Awaited<ReturnType<StorageManager['materialize']>>;
      try {
        m = await this.storage.materialize(entry, output, { signal });
      } catch (e) {
        // The entry went away before its output was made (another process's GC): start over once.
        if (
          !signal?.aborted &&
          e instanceof StorageError &&
          !(await this.storage
            .findCompleted({ taskId: entry.taskId }, { ignoreMultiplex: true })
            .catch(() => undefined))
        ) {
          throw new EntryGoneError(e.message, e.path, { cause: e });
        }
        if (!signal?.aborted) this.#logFailure(e, { peer: peerId, task: taskId, component: 'PeerTask' });
        throw e;
      }
      const costMs = Math.round(performance.now() - started);
      if (reusedFromStore) log.info(`reuse file peer task done, cost: ${costMs}ms`);
      request.onProgress?.({
        taskId,
        transferred: entry.contentLength,
        total: entry.contentLength,
        percent: 100,
        ...(reusedFromStore ? { reused: true } : {}),
      });
      return {
        taskId,
        peerId: entry.peerId,
        output,
        digest: resolved.digest,
        mediaType: resolved.mediaType,
        manifestDigest: resolved.manifestDigest,
        manifestMediaType: resolved.manifestMediaType,
        artifactType: resolved.artifactType,
        contentLength: entry.contentLength,
        reused: reusedFromStore,
        joined,
        method: m.method,
        transferredBy: joined ? {} : transferredBy,
        costMs,
      };
    } finally {
      detach(false);
    }
  }

  #start(
    taskId: string,
    peerId: string,
    resolved: ResolvedResource,
    output: string,
    request: DownloadRequest,
  ): RunningTask {
    const controller = new AbortController();
    const running: RunningTask = {
      conductor: undefined,
      outcome: undefined as never,
      attached: 0,
      controller,
      progressListeners: new Set(),
    };
    running.outcome = (async () => {
      const plan = planPieces(resolved.size, this.#tuning.pieceSize);
      // One request begins the task, and begins it again when a cluster's bytes must be discarded.
      const begin = () =>
        this.storage.beginTask(
          {
            taskId,
            peerId,
            digest: resolved.digest,
            contentLength: resolved.size,
            pieceSize: plan.pieceSize,
            output,
            taskMeta: {},
            url: stripUserinfo(resolved.url),
          },
          { signal: controller.signal },
        );
      let begun: Awaited<ReturnType<StorageManager['beginTask']>>;
      try {
        begun = await begin();
      } catch (e) {
        if (!controller.signal.aborted) this.#logFailure(e, { peer: peerId, task: taskId, component: 'PeerTask' });
        throw e;
      }
      if ('reuse' in begun) return { entry: begun.reuse, reusedFromStore: true, transferredBy: {} };
      const { PeerTaskConductor } = await import('./peer-task-conductor.js');
      const { SourceTransport } = await import('../transport/source-transport.js');
      const source = new SourceTransport(this.client);
      // The task's real concurrency (1 for a local origin by default): the low-speed share depends on it.
      const concurrency = this.#conductorOptions.concurrency ?? defaultConcurrency(resolved);
      const client = this.client;
      const makeConductor = (writer: typeof begun.writer, transport: PieceTransport) =>
        new PeerTaskConductor({
          taskId,
          peerId,
          target: resolved,
          plan,
          writer,
          transport,
          fallbackTransport: source,
          headers: request.headers,
          tag: request.tag,
          application: request.application,
          origin: client.blobRequest
            ? (o) => client.blobRequest!(resolved, { ...o, headers: request.headers })
            : undefined,
          logger: this.#log,
          pieceDigest: this.storage.options.pieceDigest,
          rateLimiter: this.#rateLimiter,
          options: {
            ...this.#conductorOptions,
            concurrency,
            lowSpeedLimit: this.#lowSpeedLimit(concurrency),
          },
        });
      const transport: PieceTransport = this.#transport ?? source;
      const conductor = makeConductor(begun.writer, transport);
      running.conductor = conductor;
      this.#log
        .with({ peer: peerId, task: taskId, component: 'PeerTask' })
        .info(
          `start to download, content length: ${resolved.size}, pieces: ${plan.totalPieces}` +
            (begun.writer.resumed ? `, resuming with ${begun.writer.pieces.size} verified` : ''),
        );
      // One subscription, fanned out to every attached request's callback (joiners included).
      const watch = (c: PeerTaskConductor) => {
        c.on('progress', (p) => {
          for (const cb of running.progressListeners) {
            try {
              cb(p);
            } catch (e) {
              debug('onProgress threw: %s', (e as Error).message);
            }
          }
        });
        this.#onConductor?.(c);
      };
      watch(conductor);
      try {
        const entry = await conductor.run({ signal: controller.signal });
        const by = { ...conductor.bytesByTransport };
        if (transport !== source)
          this.#log.with({ peer: peerId, task: taskId, component: 'PeerTask' }).info(
            `bytes by transport: ${
              Object.entries(by)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') || 'none'
            }`,
          );
        return { entry, reusedFromStore: false, transferredBy: by };
      } catch (e) {
        // Bytes from a cluster that do not match the digest never reach an output: the task starts
        // over from the origin, once, unless the transport forbids the origin.
        if (
          controller.signal.aborted ||
          transport === source ||
          transport.backToSource === false ||
          !(e instanceof DigestMismatchError)
        )
          throw e;
        const log = this.#log.with({ peer: peerId, task: taskId, component: 'PeerTask' });
        log.warn(
          `bytes from transport ${transport.name} do not match ${resolved.digest} (${e.message}); downloading again from the origin`,
        );
        const again = await begin();
        if ('reuse' in again) return { entry: again.reuse, reusedFromStore: true, transferredBy: {} };
        const retry = makeConductor(again.writer, source);
        running.conductor = retry;
        watch(retry);
        const entry = await retry.run({ signal: controller.signal });
        const by = { ...retry.bytesByTransport };
        for (const [k, v] of Object.entries(conductor.bytesByTransport)) by[`${k} (discarded)`] = v;
        return { entry, reusedFromStore: false, transferredBy: by };
      }
    })().finally(() => {
      if (this.#running.get(taskId) === running) this.#running.delete(taskId);
    });
    running.outcome.catch(() => {});
    this.#running.set(taskId, running);
    return running;
  }

  /**
   * The low-speed rule must not fire because of our own rate limit: with `totalRateLimit` shared by
   * `concurrency` pieces (of every running task), each piece is allowed at least a quarter of its share.
   */
  #lowSpeedLimit(concurrency: number): number {
    const wanted = this.#tuning.lowSpeedLimit;
    if (!this.#totalRateLimit) return wanted;
    const share = this.#totalRateLimit / (concurrency * Math.max(1, this.#running.size));
    return Math.min(wanted, Math.floor(share / 4));
  }

  #onConductor: ((c: PeerTaskConductor) => void) | undefined;

  /** Called with every conductor this manager starts (for events: `piece`, `progress`, `retry`, …). */
  onConductor(listener: (c: PeerTaskConductor) => void): void {
    this.#onConductor = listener;
  }

  /** Aborts running tasks and waits for them to clean up. Does not close the store or client. */
  async close(): Promise<void> {
    const all = [...this.#running.values()];
    for (const r of all) r.controller.abort(new DOMException('manager closed', 'AbortError'));
    await Promise.allSettled(all.map((r) => r.outcome));
  }
}

/**
 * Concurrency when none is set: one connection to an origin on this machine (there, parallel pieces
 * only cost CPU: `bench/pull-bench.ts`, 512 MiB on loopback, 1 connection 1.8–1.9 s vs 4 connections
 * 2.3–2.5 s), {@link DEFAULT_CONCURRENCY} otherwise (behind per-connection limits, as CDNs and blob
 * stores have, 4 connections deliver about 4× one: the benchmark's throttled table).
 */
function defaultConcurrency(resolved: ResolvedResource): number {
  return resolved.local ? 1 : DEFAULT_CONCURRENCY;
}

/** Longest wait for a stopped task to remove its partial data before a cancelled request returns. */
const CLEANUP_WAIT_MS = 10_000;

/** A reused entry disappeared before its output was made (collected by another process). Internal. */
class EntryGoneError extends StorageError {}
