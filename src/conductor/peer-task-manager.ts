/**
 * The top-level `download()`: resolve → task id → reuse → join a running task → new conductor,
 * in Dragonfly's order. N concurrent identical requests make one download; each gets its own output.
 * Its parts: `output.ts` (naming and checking outputs), `task-registry.ts` (joining running tasks),
 * `task-run.ts` (running one task, or starting it over from the origin).
 *
 * @module
 */
import path from 'node:path';
import createDebug from 'debug';
import { DigestMismatchError, InvalidArgumentError, TimeoutError } from '../core/errors.js';
import { EntryGoneError } from '../storage/lookup.js';
import type { ResolvedResource, ResourceClient } from '../source/resource-client.js';
import type { PieceTransport } from '../transport/piece-transport.js';
import { taskId as computeTaskId, peerId as newPeerId } from '../core/task-id.js';
import { planPieces } from '../core/piece-plan.js';
import type { ConductorOptions, PeerTaskConductor, ProgressEvent } from './peer-task-conductor.js';
import { resolveConductorOptions, type ResolvedConductorOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import { CoreLogger, type CoreLogSink } from '../log/core-log.js';
import { anySignal, throwIfAborted } from '../internal/abort.js';
import type { StorageManager } from '../storage/storage-manager.js';
import { gcRoundLine } from '../storage/gc-round.js';
import { logTaskFailure } from '../log/task-failure.js';
import type { DownloadRequest, DownloadResult } from './download-types.js';
import { checkOutput, titledOutput } from './output.js';
import { TaskRegistry } from './task-registry.js';
import { defaultSlots, DownloadSlots } from './download-slots.js';
import { runTask, type TaskOutcome, type TaskRunContext } from './task-run.js';
import { monotonicMs } from '../internal/clock.js';

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
  /**
   * Downloads run at once; more wait their turn (their `signal` and `timeout` still apply). Each
   * holds file descriptors, so the default follows the process's open-file limit: (soft
   * `RLIMIT_NOFILE` − 48) ÷ 8, between 1 and 64 (64 where the limit cannot be read).
   */
  maxConcurrentDownloads?: number | undefined;
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
  readonly #tasks = new TaskRegistry<TaskOutcome>();
  readonly #slots: DownloadSlots;

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
    this.#slots = new DownloadSlots(options.maxConcurrentDownloads ?? defaultSlots());
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
    return this.#tasks.size;
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
    const started = monotonicMs();
    // A trailing separator names a directory: the file inside it is named after the layer's title.
    const intoDir = /[\\/]$/.test(request.output);
    const output = path.resolve(request.output);
    const timeoutSignal = request.timeout ? AbortSignal.timeout(request.timeout) : undefined;
    const signal = anySignal(request.signal, timeoutSignal);
    try {
      return await this.#slots.run(() => this.#download(request, output, intoDir, started, signal), signal);
    } catch (e) {
      if (timeoutSignal?.aborted && e === timeoutSignal.reason) {
        const timeout = new TimeoutError(
          request.timeout!,
          'download',
          'its verified pieces stay in the store, and the next pull resumes from them (nothing is left beside the output)',
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
      resolved = await this.#resolveWhileChecking(request, intoDir ? undefined : output, signal);
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
      // The entry to reuse went away between the lookup and the output (another process's GC or
      // clean took it before our claim): look again, which finds another entry or downloads. Each
      // start-over needs another process to remove a fresh entry in a window of a few system calls.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#obtain(request, resolved, taskId, peerId, output, started, signal, log);
        } catch (e) {
          if (!(e instanceof EntryGoneError) || signal?.aborted) throw e;
          if (attempt >= MAX_START_OVERS) {
            this.#logFailure(e, { peer: peerId, task: taskId, component: 'PeerTask' });
            throw e;
          }
          debug('entry of %s went away (%s); starting over (%d)', taskId, e.message, attempt);
        }
      }
    } finally {
      // Off the critical path: a round runs only when one is due (once per gcInterval across processes).
      if (this.#gcAfterPull) void this.storage.gcSoon();
    }
  }

  /**
   * The request's resource, resolved while the output path is checked (both wait on the disk or the
   * network, not on each other). A bad output abandons the resolve at once.
   */
  async #resolveWhileChecking(
    request: DownloadRequest,
    output: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ResolvedResource> {
    if (output === undefined)
      return request.resolved ?? this.client.resolve(request.url, { signal, headers: request.headers });
    const abandon = new AbortController();
    const checking = checkOutput(output, this.storage.options.dataPath).catch((e: unknown) => {
      abandon.abort(e);
      throw e;
    });
    const resolving =
      request.resolved ??
      this.client.resolve(request.url, { signal: anySignal(signal, abandon.signal), headers: request.headers });
    // The output's error comes first, as when the two ran one after the other.
    const [r, c] = await Promise.allSettled([resolving, checking]);
    if (c.status === 'rejected') throw c.reason;
    if (r.status === 'rejected') throw r.reason;
    return r.value;
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
    const { task, joined } = this.#tasks.join(taskId, (t) =>
      runTask(this.#runContext, {
        taskId,
        peerId,
        resolved,
        // The user's piece size, else the cluster's own (so the cluster makes one task of the URL
        // for every client), else Dragonfly's table.
        plan: planPieces(resolved.size, this.#tuning.pieceSize ?? this.#transport?.pieceSizeFor?.(resolved.size)),
        pieceLength: this.#tuning.pieceSize,
        output,
        // Fixed by the user, or found by the task from what the link does (never from the host).
        concurrency: this.#conductorOptions.concurrency,
        headers: request.headers,
        tag: request.tag,
        application: request.application,
        progress: t.progress,
        signal: t.controller.signal,
      }),
    );
    // The 100 % event is sent once per request: by the conductor, or below when this request did not see it.
    let ended = false;
    const onProgress = request.onProgress
      ? (p: ProgressEvent) => {
          if (p.percent === 100) ended = true;
          request.onProgress!(p);
        }
      : undefined;
    const { entry, reusedFromStore, transferredBy, connections } = await this.#tasks.wait(task, { signal, onProgress });
    throwIfAborted(signal);
    let m: Awaited<ReturnType<StorageManager['materialize']>>;
    try {
      m = await this.storage.materialize(entry, output, { signal });
    } catch (e) {
      if (!signal?.aborted && !(e instanceof EntryGoneError))
        this.#logFailure(e, { peer: peerId, task: taskId, component: 'PeerTask' });
      throw e;
    }
    const costMs = Math.round(monotonicMs() - started);
    if (reusedFromStore) log.info(`reuse file peer task done, cost: ${costMs}ms`);
    if (!ended)
      onProgress?.({
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
      ...(connections && !joined ? { connections } : {}),
      costMs,
    };
  }

  /** What a task run needs of this manager. */
  get #runContext(): TaskRunContext {
    return {
      client: this.client,
      storage: this.storage,
      transport: this.#transport,
      conductorOptions: this.#conductorOptions,
      lowSpeedLimit: (c) => this.#lowSpeedLimit(c),
      rateLimiter: this.#rateLimiter,
      log: this.#log,
      onConductor: this.#onConductor,
    };
  }

  /**
   * The low-speed rule must not fire because of our own rate limit: with `totalRateLimit` shared by
   * `concurrency` pieces (of every running task), each piece is allowed at least a quarter of its share.
   */
  #lowSpeedLimit(fixed: number | undefined): number {
    const concurrency = fixed ?? this.#tuning.maxConcurrency;
    const wanted = this.#tuning.lowSpeedLimit;
    if (!this.#totalRateLimit) return wanted;
    const share = this.#totalRateLimit / (concurrency * Math.max(1, this.#tasks.size));
    return Math.min(wanted, Math.floor(share / 4));
  }

  #onConductor: ((c: PeerTaskConductor) => void) | undefined;

  /** Called with every conductor this manager starts (for events: `piece`, `progress`, `retry`, …). */
  onConductor(listener: (c: PeerTaskConductor) => void): void {
    this.#onConductor = listener;
  }

  /** Aborts running tasks and waits for them to clean up. Does not close the store or client. */
  async close(): Promise<void> {
    await this.#tasks.closeAll(new DOMException('manager closed', 'AbortError'));
  }
}

/** Attempts of one request when the entry it would use keeps going away under it. */
const MAX_START_OVERS = 5;
