/**
 * A push transport through a Dragonfly daemon on this machine: `dfdaemon.v2.DfdaemonDownload/
 * DownloadTask` over its unix socket. orasfly resolves the reference itself and hands the daemon the
 * blob URL with a fresh `Authorization`; the daemon gets the pieces from its peers (or, once per
 * cluster, from the registry) and either links its cache file to a path we name (`output-path`) or
 * streams the piece bytes back (`piece-content`). Every byte is then verified by the conductor like
 * any other; whatever the daemon cannot serve, the origin serves (unless back-to-source is off).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { daemonPieceSize } from '../core/piece-plan.js';
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import createDebug from 'debug';
import { DaemonError, DigestMismatchError, OrasflyError } from '../core/errors.js';
import { daemonFailure, relayedStatusError } from './cluster-errors.js';
import { withRetry, type BackoffPolicy } from '../internal/retry.js';
import { taskIdV2 } from '../core/task-id.js';
import { redact } from '../http/redact.js';
import { TMP_MARK } from '../storage/fs-util.js';
import type { OriginRequest } from '../source/resource-client.js';
import type { SignalOptions } from '../core/types.js';
import { pieceAt } from '../core/piece-plan.js';
import type { PieceSink, PieceTransport, TransportTask } from './piece-transport.js';
import {
  decodeDownloadTaskResponse,
  decodeHealthCheckStatus,
  DOWNLOAD_TASK_PATH,
  encodeDownloadTaskRequest,
  encodeHealthCheckRequest,
  HEALTH_CHECK_PATH,
  parseBackendDetails,
  type DownloadMessage,
} from './dfdaemon/messages.js';
import { ExchangeRecorder } from './dfdaemon/recorder.js';
import { probeSocket } from './dfdaemon/socket-state.js';
import { GRPC, GrpcCallError, GrpcChannel } from './dfdaemon/grpc-channel.js';
import {
  resolveDfdaemonOptions,
  type DfdaemonDelivery,
  type DfdaemonTransportOptions,
  type ResolvedDfdaemonOptions,
} from './dfdaemon/options.js';

export { DEFAULT_DFDAEMON_OPTIONS } from './dfdaemon/options.js';
export type { DfdaemonDelivery, DfdaemonTransportOptions } from './dfdaemon/options.js';

const debug = createDebug('orasfly:dfdaemon');

const GRPC_NAMES: Record<number, string> = Object.fromEntries(Object.entries(GRPC).map(([k, v]) => [v, k]));

/**
 * Answers after which `auto` asks again in `piece-content` mode: the daemon answered, but not
 * that it is down or busy, so it may just not see our path (another mount namespace, no write
 * permission; the Rust daemon reports those as INTERNAL or INVALID_ARGUMENT). Not after a stall.
 */
const NOT_A_PATH_PROBLEM = new Set<number>([
  GRPC.CANCELLED,
  GRPC.DEADLINE_EXCEEDED,
  GRPC.RESOURCE_EXHAUSTED,
  GRPC.UNAVAILABLE,
]);

/** The mode of one request: `auto` is resolved to one of these per request. */
type Delivery = Exclude<DfdaemonDelivery, 'auto'>;

/** A busy daemon: worth asking again after a while (any other answer is decided by `drive`). */
const isBusy = (e: unknown): boolean => e instanceof DaemonError && e.grpcCode === GRPC.RESOURCE_EXHAUSTED;

/**
 * The backoff of a busy daemon as a policy of the one retry loop: `busyRetryDelay`·2ⁿ exactly, as
 * `busyRetries` documents it, so no jitter and no cap; gRPC has no `Retry-After` to honour.
 */
function busyBackoff(busyRetryDelay: number): BackoffPolicy {
  return { minDelay: busyRetryDelay, factor: 2, jitter: 0, maxDelay: Number.POSITIVE_INFINITY, maxRetryAfter: 0 };
}

/**
 * Downloads through a Dragonfly daemon. Pass it as `createDownloader({ transport })`; the origin
 * stays the fallback. Close it when done ({@link DfdaemonTransport.close}).
 *
 * @example
 * ```ts
 * import os from 'node:os';
 * import path from 'node:path';
 * import { createDownloader, DfdaemonTransport } from 'orasfly';
 *
 * const transport = new DfdaemonTransport({ socketPath: '/var/run/dragonfly/dfdaemon.sock' });
 * const dl = await createDownloader({ storage: { dataPath: path.join(os.tmpdir(), 'orasfly-store') }, transport });
 * const r = await dl.download({ url: 'oras://registry.example.com/lab/img:v1', output: path.join(os.tmpdir(), 'img.sif') });
 * console.log(r.transferredBy); // { dfdaemon: 268435456 } when the daemon served it all
 * await dl.close();
 * await transport.close();
 * ```
 */
export class DfdaemonTransport implements PieceTransport {
  readonly name = 'dfdaemon';

  /** The daemon's own piece length for a blob (the plan follows it unless the user fixed one). */
  pieceSizeFor(contentLength: number): number {
    return daemonPieceSize(contentLength);
  }
  readonly #o: ResolvedDfdaemonOptions;
  readonly #busyBackoff: BackoffPolicy;
  #channel: GrpcChannel | undefined;

  /** @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for a bad option. */
  constructor(options: DfdaemonTransportOptions = {}) {
    this.#o = resolveDfdaemonOptions(options);
    this.#busyBackoff = busyBackoff(this.#o.busyRetryDelay);
  }

  /** {@inheritDoc PieceTransport.backToSource} */
  get backToSource(): boolean {
    return this.#o.backToSource;
  }

  /** The socket in use. */
  get socketPath(): string {
    return this.#o.socketPath;
  }

  /** Closes the gRPC channel. Idempotent. */
  async close(): Promise<void> {
    this.#channel?.close();
    this.#channel = undefined;
  }

  /** {@inheritDoc PieceTransport.drive} */
  async drive(task: TransportTask, sink: PieceSink, options: SignalOptions = {}): Promise<void> {
    const signal = options.signal;
    const o = this.#o;
    if (!task.origin)
      throw this.#fail('the resource client cannot describe the blob request for a daemon (no blobRequest)');
    const st = await stat(o.socketPath).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error) throw this.#fail(`no dfdaemon socket at ${o.socketPath} (${st.code ?? st.message})`);
    if (!st.isSocket()) throw this.#fail(`${o.socketPath} is not a socket`);
    const channel = this.#connect();
    await this.#checkHealth(channel, signal);
    const origin = await task.origin.request({ signal });
    const v2 = taskIdV2(origin.url, { pieceLength: task.pieceLength, tag: task.tag, application: task.application });
    const delivery: Delivery = o.delivery === 'piece-content' || !task.scratchDir ? 'piece-content' : 'output-path';
    task.log?.info(
      `dfdaemon ${o.socketPath}: downloading ${task.target.digest} as daemon task ${v2} (delivery ` +
        `${delivery}, back-to-source ${o.backToSource ? 'allowed' : 'disabled'})`,
    );
    try {
      await this.#downloadWhileBusy(channel, task, sink, origin, delivery, signal);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      // Not a retry of the same request but another question: the daemon may not see our path.
      const code = e instanceof DaemonError ? e.grpcCode : undefined;
      if (
        delivery === 'output-path' &&
        o.delivery === 'auto' &&
        code !== undefined &&
        !NOT_A_PATH_PROBLEM.has(code) &&
        !(e instanceof OrasflyError && e.final)
      ) {
        task.log?.warn(
          `dfdaemon could not write to ${task.scratchDir} (${GRPC_NAMES[code]}); asking for the piece bytes instead`,
        );
        await this.#downloadWhileBusy(channel, task, sink, origin, 'piece-content', signal);
        return;
      }
      throw e;
    }
  }

  /**
   * One download in one delivery mode, asked again while the daemon answers `RESOURCE_EXHAUSTED`
   * (busy): the one retry policy of `internal/retry.ts`, waiting `busyRetryDelay`·2ⁿ.
   */
  #downloadWhileBusy(
    channel: GrpcChannel,
    task: TransportTask,
    sink: PieceSink,
    origin: OriginRequest,
    delivery: Delivery,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    return withRetry(() => this.#download(channel, task, sink, origin, delivery, signal), {
      attempts: this.#o.busyRetries + 1,
      policy: this.#busyBackoff,
      retryable: isBusy,
      onRetry: ({ delayMs }) => task.log?.warn(`dfdaemon is busy (RESOURCE_EXHAUSTED); trying again in ${delayMs} ms`),
      signal,
    });
  }

  /** A failure of the daemon: the origin serves instead, unless back-to-source is disabled. */
  #fail(message: string, grpcCode?: number, cause?: unknown): DaemonError {
    return daemonFailure(message, this.#o.backToSource, { grpcCode, cause });
  }

  #connect(): GrpcChannel {
    // HTTP/2 is loaded at the first call: embedding orasfly without a daemon never pays for it.
    return (this.#channel ??= new GrpcChannel(this.#o.socketPath, this.#o.maxMessageBytes));
  }

  async #checkHealth(channel: GrpcChannel, signal: AbortSignal | undefined): Promise<void> {
    let answer: Buffer;
    try {
      answer = await channel.unary(HEALTH_CHECK_PATH, encodeHealthCheckRequest(), {
        timeoutMs: this.#o.healthTimeout,
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const err = e as GrpcCallError;
      // A daemon without the health service still serves downloads.
      if (err.code === GRPC.UNIMPLEMENTED) return;
      const raw = `dfdaemon health check failed: ${GRPC_NAMES[err.code] ?? err.code} ${clip(err.details)}`;
      if (err.code !== GRPC.UNAVAILABLE) throw this.#fail(raw, err.code, err);
      // No connection: say why in words (a dead daemon's socket, no permission), not in gRPC's.
      throw this.#fail((await probeSocket(this.#o.socketPath)) ?? raw, err.code, err);
    }
    const status = decodeHealthCheckStatus(answer);
    if (status !== 1) throw this.#fail(`dfdaemon is not serving (health status ${status})`);
  }

  async #download(
    channel: GrpcChannel,
    task: TransportTask,
    sink: PieceSink,
    origin: OriginRequest,
    delivery: Delivery,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const o = this.#o;
    const plan = task.plan;
    // The daemon links its file here before the download ends: a temp name in the store's directory,
    // read into the store (and verified) only once the stream has ended well.
    // Named with the store's temp mark: an entry's cleanup removes it if this process dies first.
    const tmp =
      delivery === 'output-path' ? path.join(task.scratchDir!, `${TMP_MARK}dfdaemon-${randomUUID()}`) : undefined;
    const message: DownloadMessage = {
      url: origin.url,
      // No `digest`: orasfly checks every piece and the blob itself. Given one, the Rust daemon
      // hashes the whole output file again before it ends the stream (verify_file_digest), which on
      // a warm daemon doubled the time to a verified file. The task id does not depend on it.
      tag: task.tag,
      application: task.application,
      priority: o.priority,
      requestHeader: origin.headers,
      // Only a length the user fixed: the daemon's own makes the task id every other client makes.
      pieceLength: task.pieceLength,
      outputPath: tmp,
      timeoutMs: o.downloadTimeout || undefined,
      disableBackToSource: !o.backToSource,
      needPieceContent: delivery === 'piece-content',
    };
    const request = encodeDownloadTaskRequest(message);
    const recorder = o.recordTo ? new ExchangeRecorder(o.recordTo, message) : undefined;
    let status: { code: number; details?: string; backendStatusCode?: number | undefined } | undefined = { code: 0 };
    const secrets = Object.values(origin.headers).filter((v) => v.length >= 8);
    const scrub = (s: string): string => clip(secrets.reduce((t, v) => t.split(v).join('<redacted>'), redact(s)));
    const call = channel.serverStream(DOWNLOAD_TASK_PATH, request);
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      if (o.idleTimeout > 0)
        idle = setTimeout(() => {
          stalled = true;
          call.cancel();
        }, o.idleTimeout);
    };
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    arm();
    let first = true;
    let whole = false;
    /** What the daemon reports for each piece: its bytes are held to it. */
    const reported = new Map<number, string>();
    // A warm daemon links its finished file before it streams the piece list: the file is read and
    // hashed from the first message on, and taken once the list has come in full.
    let early: Promise<boolean> | undefined;
    let listed!: { resolve: (m: ReadonlyMap<number, string>) => void; reject: (e: unknown) => void };
    const fullList = new Promise<ReadonlyMap<number, string>>((resolve, reject) => (listed = { resolve, reject }));
    fullList.catch(() => {});
    try {
      try {
        for await (const raw of call) {
          // The idle clock runs only while we wait for the daemon: storing a piece (rate limits, the
          // disk) holds the stream back, and that silence is ours, not the daemon's.
          clearTimeout(idle);
          try {
            const msg = decodeDownloadTaskResponse(raw);
            recorder?.response(msg);
            if (first) {
              first = false;
              task.log?.info(
                `dfdaemon task ${msg.taskId || '?'} peer ${msg.peerId || '?'} host ${msg.hostId || '?'} for orasfly task ${task.taskId}`,
              );
            }
            if (msg.started) {
              if (msg.started.contentLength !== plan.contentLength)
                throw this.#fail(
                  `dfdaemon reports ${msg.started.contentLength} bytes, the manifest ${plan.contentLength}`,
                );
              if (msg.started.isFinished) debug('task %s: the daemon has it cached already', task.taskId);
              // A warm daemon: its whole file is taken into the store after the stream, not copied piece by piece.
              whole = msg.started.isFinished && !!sink.adoptFile && sink.missing().length === plan.totalPieces;
              // Only a hard link (the daemon's own finished file) is final already; a copy may still be written.
              const st = whole && tmp && !early ? await stat(tmp).catch(() => undefined) : undefined;
              if (st && st.size === plan.contentLength && st.nlink > 1) {
                debug("task %s: reading the daemon's file while it lists the pieces", task.taskId);
                early = sink.adoptFile!(tmp!, fullList, { signal });
                early.catch(() => {});
              }
            }
            const piece = msg.piece;
            if (!piece) continue;
            if (piece.number >= plan.totalPieces)
              throw this.#fail(`dfdaemon sent piece ${piece.number} of a task of ${plan.totalPieces}`);
            const want = pieceAt(plan, piece.number).range;
            // Pieces are numbered by the piece length we sent; a daemon that chose its own would put bytes at the wrong offsets.
            if (piece.offset !== want.start || piece.length !== want.length)
              throw this.#fail(
                `dfdaemon piece ${piece.number} spans ${piece.offset}+${piece.length}, not ${want.start}+${want.length}`,
              );
            if (piece.digest) reported.set(piece.number, piece.digest);
            if (delivery === 'output-path' && whole) continue;
            if (delivery === 'output-path') {
              // The daemon links its file to our path before it finishes, so a finished piece can be
              // stored (and shown as progress) now. A daemon that copies at the end has no file yet:
              // such pieces are left to the pass after the stream.
              await this.#storePiece(sink, task, piece.number, pieceOf(tmp!, want), piece.digest, signal).catch(
                (e: unknown) => {
                  if (signal?.aborted) throw signal.reason;
                  debug('task %s: piece %d not in %s yet (%s)', task.taskId, piece.number, tmp, (e as Error).message);
                },
              );
              continue;
            }
            if (!piece.content || piece.content.length !== want.length)
              throw this.#fail(
                `dfdaemon piece ${piece.number} came with ${piece.content?.length ?? 0} of ${want.length} bytes`,
              );
            await this.#storePiece(sink, task, piece.number, once(piece.content), piece.digest, signal);
          } finally {
            arm();
          }
        }
      } catch (e) {
        listed.reject(e);
        const se = e instanceof GrpcCallError ? e : undefined;
        const backend = se && parseBackendDetails(se.statusDetails);
        status = se
          ? { code: se.code, details: scrub(se.details), backendStatusCode: backend?.statusCode }
          : { code: -1, details: stalled ? 'idle timeout' : scrub(String((e as Error)?.message ?? e)) };
        if (signal?.aborted) throw signal.reason;
        if (stalled) throw this.#fail(`no message from dfdaemon for ${o.idleTimeout / 1000} s`);
        throw this.#mapError(e, backend, origin, scrub);
      }
      listed.resolve(reported);
      if (tmp) await this.#readOutput(tmp, task, sink, reported, early, signal);
    } finally {
      // Nothing is taken into the store after this transport has returned.
      await early?.catch(() => {});
      clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      if (tmp) await unlink(tmp).catch(() => {});
      await recorder
        ?.end(status)
        .catch((e: Error) => task.log?.warn(`could not write the dfdaemon trace ${o.recordTo}: ${e.message}`));
    }
  }

  /** `output-path`: the daemon's file, fed to the store piece by piece (each verified there). */
  async #readOutput(
    tmp: string,
    task: TransportTask,
    sink: PieceSink,
    reported: ReadonlyMap<number, string>,
    early: Promise<boolean> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (early && (await early)) return;
    const st = await stat(tmp).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error)
      throw this.#fail(`dfdaemon finished but left no file at ${tmp} (${st.code ?? st.message})`);
    if (st.size !== task.plan.contentLength)
      throw this.#fail(`dfdaemon's file has ${st.size} bytes, the manifest says ${task.plan.contentLength}`);
    if (!early && sink.adoptFile && (await sink.adoptFile(tmp, reported, { signal }))) return;
    for (const num of sink.missing())
      await this.#storePiece(sink, task, num, pieceOf(tmp, pieceAt(task.plan, num).range), reported.get(num), signal);
  }

  /**
   * Stores piece `num` from `body`, held to the digest the daemon reports for it. A piece whose
   * bytes disagree (the daemon's copy was damaged) is refused with a warning: it stays missing and
   * the origin serves that piece alone, by range. Any other failure is the caller's.
   */
  async #storePiece(
    sink: PieceSink,
    task: TransportTask,
    num: number,
    body: AsyncIterable<Uint8Array>,
    reported: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      await sink.writePiece(num, body, { signal, digest: reported || undefined });
    } catch (e) {
      if (!(e instanceof DigestMismatchError) || signal?.aborted) throw e;
      task.log?.warn(
        `dfdaemon piece ${num} does not match the digest the daemon reports (${e.message}); the origin serves it`,
      );
    }
  }

  /**
   * gRPC failures as orasfly errors. A backend status relayed by the daemon (`errordetails.v2.Backend`)
   * is the origin's answer: a 404 is a not-found error for the user, not a reason to ask the origin.
   * `backend`: that status, as the caller already read it from the error's details.
   */
  #mapError(
    e: unknown,
    backend: ReturnType<typeof parseBackendDetails>,
    origin: OriginRequest,
    scrub: (s: string) => string,
  ): unknown {
    if (e instanceof DaemonError) return e;
    if (!(e instanceof GrpcCallError))
      return this.#fail(`dfdaemon stream failed: ${scrub(String((e as Error)?.message ?? e))}`, undefined, e);
    if (backend?.statusCode !== undefined) {
      const status = backend.statusCode;
      const message = `the registry answered ${status} to the daemon${backend.message ? `: ${scrub(backend.message)}` : ''}`;
      return relayedStatusError(
        { method: 'GET', url: redact(origin.url), status, errors: [{ code: 'DFDAEMON_BACKEND', message }] },
        true,
        this.#o.backToSource,
      );
    }
    return this.#fail(`dfdaemon answered ${GRPC_NAMES[e.code] ?? `code ${e.code}`}: ${scrub(e.details)}`, e.code, e);
  }
}

/** Bytes `range` of the daemon's file, for one piece. */
function pieceOf(file: string, range: { start: number; length: number }): AsyncIterable<Uint8Array> {
  return createReadStream(file, { start: range.start, end: range.start + range.length - 1, highWaterMark: 1 << 20 });
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

function clip(s: string | undefined, n = 300): string {
  const t = s ?? '';
  return t.length > n ? `${t.slice(0, n)}…` : t;
}
