/**
 * One call to get a ready-to-use downloader: a store, a registry client and a task manager wired
 * together from one options object (the same names as dfget.yaml).
 *
 * @module
 */
import path from 'node:path';
import { OrasResourceClient } from './source/oras/oras-resource-client.js';
import type { OrasClientOptions } from './source/oras/options.js';
import { StorageManager } from './storage/storage-manager.js';
import type { StorageOptions } from './storage/options.js';
import { PeerTaskManager } from './conductor/peer-task-manager.js';
import type { DownloadRequest, DownloadResult } from './conductor/download-types.js';
import type { ArtifactDownloadRequest, ArtifactDownloadResult } from './conductor/download-types.js';
import type { ConductorOptions } from './conductor/peer-task-conductor.js';
import { FileLogSink, TeeLogSink, type CoreLogSink } from './log/core-log.js';
import type { OrasflyConfig } from './config/dfget-config.js';
import { parseSize } from './core/units.js';
import { InvalidArgumentError } from './core/errors.js';
import { announceUndiciLoad } from './http/lazy-undici.js';
import type { PieceTransport } from './transport/piece-transport.js';
import type { ClusterOptions } from './transport/cluster-options.js';
import type { DfdaemonTransport } from './transport/dfdaemon-transport.js';
import type { ProxyTransport } from './transport/proxy-transport.js';

/** Options of {@link createDownloader}: dfget.yaml's blocks as typed objects. */
export interface DownloaderOptions {
  /** The task store (`storage:` block). `dataPath` is required, here or in `config`. */
  storage?: StorageOptions | undefined;
  /** Registry access (`oras:` block, plus credentials and TLS options). */
  oras?: OrasClientOptions | undefined;
  /** Piece download tuning. */
  download?: (ConductorOptions & { totalRateLimit?: number | string | undefined }) | undefined;
  /** Append JSON log lines to this file (Dragonfly's `<logDir>/dfget/core.log`). */
  logFile?: string | undefined;
  /** Extra log sink (e.g. the console). */
  logSink?: CoreLogSink | undefined;
  /** A custom piece transport (e.g. a Dragonfly daemon); the origin stays the fallback. */
  transport?: PieceTransport | undefined;
  /**
   * Use an existing Dragonfly cluster (the `transport:` block): `endpoint` selects the daemon
   * transport, `proxy` the proxy transport. The downloader creates the transport and closes it.
   * Not with `transport`.
   */
  cluster?: ClusterOptions | undefined;
  /** See `PeerTaskManagerOptions.gcAfterPull`. @defaultValue true */
  gcAfterPull?: boolean | undefined;
  /** See `PeerTaskManagerOptions.maxConcurrentDownloads`. @defaultValue from the open-file limit, 1–64 */
  maxConcurrentDownloads?: number | undefined;
  /**
   * A loaded `dfget.yaml` (`(await loadConfig(file)).config`). Its blocks are the base: each field
   * set above overrides the file's, key by key (`storage.dataPath` falls back to the file's
   * `dataDir`; its `logDir` gives `logFile`). @defaultValue undefined
   */
  config?: OrasflyConfig | undefined;
}

export type { ClusterOptions } from './transport/cluster-options.js';

/** Downloader options whose store is named. @internal */
export type StoreDownloaderOptions = DownloaderOptions & { storage: StorageOptions };

/** A wired downloader; close it when done. */
export interface Downloader {
  readonly manager: PeerTaskManager;
  readonly storage: StorageManager;
  readonly client: OrasResourceClient;
  /** See {@link PeerTaskManager.download}. */
  download(request: DownloadRequest): Promise<DownloadResult>;
  /**
   * Pulls every titled layer of `request.url`'s manifest into `request.outputDir`, each under its
   * `org.opencontainers.image.title`, each a task of its own (reused by hard link, verified, resumed
   * like any other): what `oras pull` does, with dedupe. Titles are checked before anything is
   * written (no `..`, no absolute paths, no dot-names, no duplicates); untitled layers are skipped
   * and reported.
   */
  downloadAll(request: ArtifactDownloadRequest): Promise<ArtifactDownloadResult>;
  /** Aborts running tasks, stops GC, closes connections, flushes the log. */
  close(): Promise<void>;
  /**
   * Lines of `logFile` that could not be written (a log directory this user cannot write): how many,
   * and the last reason. Logging never fails a download, so this is how a caller finds out.
   * `undefined` when every line was written, or there is no log file.
   */
  logFileProblem(): { file: string; droppedLines: number; reason: string } | undefined;
}

/**
 * Opens a store and returns a downloader.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for invalid options, naming the field.
 * @example
 * ```ts
 * import { createDownloader } from 'orasfly';
 * import os from 'node:os';
 * const dl = await createDownloader({ storage: { dataPath: `${os.tmpdir()}/orasfly-store`, multiplex: true } });
 * const r = await dl.download({ url: 'oras://127.0.0.1:5000/lab/img:v1', output: './img.sif' });
 * console.log(r.reused ? 'reused' : 'downloaded', r.costMs, 'ms');
 * await dl.close();
 * ```
 */
export async function createDownloader(given: DownloaderOptions): Promise<Downloader> {
  const options = withConfig(given);
  if (!options.storage?.dataPath) throw new InvalidArgumentError('storage.dataPath', 'a data path is required');
  const owned = await clusterTransport(options);
  // Whoever takes GC off the task manager (the CLI hands rounds to a detached process) wants no timer either.
  const storage = await StorageManager.open(options.storage, { gcTimer: options.gcAfterPull !== false });
  // The store remembers manifests, tags and loopback schemes for every process that shares it.
  const client = new OrasResourceClient({ cache: storage.registryCache, ...options.oras });
  const fileSink = options.logFile ? new FileLogSink(options.logFile) : undefined;
  const sinks = [fileSink, options.logSink].filter((s): s is CoreLogSink => s !== undefined);
  const { totalRateLimit, ...conductor } = options.download ?? {};
  const manager = new PeerTaskManager({
    client,
    storage,
    transport: options.transport ?? owned,
    conductor,
    totalRateLimit:
      totalRateLimit === undefined ? undefined : parseSize(totalRateLimit, 'download.totalRateLimit') || undefined,
    logSink: sinks.length > 1 ? new TeeLogSink(sinks) : sinks[0],
    gcAfterPull: options.gcAfterPull,
    maxConcurrentDownloads: options.maxConcurrentDownloads,
  });
  return {
    manager,
    storage,
    client,
    download: (request) => manager.download(request),
    downloadAll: async (request) => {
      // Loaded on demand: a single pull never evaluates the artifact verb.
      const { downloadArtifact } = await import('./pull-artifact.js');
      return downloadArtifact(manager, request);
    },
    logFileProblem: () =>
      fileSink && fileSink.droppedLines > 0
        ? { file: fileSink.file, droppedLines: fileSink.droppedLines, reason: fileSink.lastError ?? 'unknown' }
        : undefined,
    async close() {
      await manager.close();
      await storage.close();
      await client.close();
      await owned?.close();
      await fileSink?.flush();
    },
  };
}

/** The transport `cluster` asks for (loaded only then: a pull without a cluster loads none of it). */
async function clusterTransport(options: DownloaderOptions): Promise<DfdaemonTransport | ProxyTransport | undefined> {
  const c = options.cluster;
  if (c === undefined) return undefined;
  if (typeof c !== 'object' || c === null) throw new InvalidArgumentError('cluster', 'expected an object');
  if (options.transport) throw new InvalidArgumentError('cluster', 'give a transport or cluster options, not both');
  if (c.endpoint !== undefined && c.proxy !== undefined)
    throw new InvalidArgumentError('cluster', 'give endpoint (the daemon socket) or proxy, not both');
  if (c.endpoint !== undefined) {
    const { DfdaemonTransport } = await import('./transport/dfdaemon-transport.js');
    return new DfdaemonTransport({
      socketPath: c.endpoint,
      backToSource: c.backToSource,
      delivery: c.delivery,
      idleTimeout: c.idleTimeout,
      priority: c.priority,
    });
  }
  if (c.proxy !== undefined) {
    announceUndiciLoad(); // the proxy transport loads undici with its module
    const { ProxyTransport } = await import('./transport/proxy-transport.js');
    return new ProxyTransport({
      proxy: c.proxy,
      backToSource: c.backToSource,
      priority: c.priority,
      nodeExtraCaLoaded: options.oras?.nodeExtraCaLoaded,
    });
  }
  if (c.backToSource === false)
    throw new InvalidArgumentError(
      'cluster.backToSource',
      'disabling back-to-source (the command: --disable-back-to-source, or transport.disableBackToSource in ' +
        'dfget.yaml) needs a daemon: an endpoint or its proxy (--endpoint, --proxy-transport; transport.endpoint, ' +
        'transport.proxy). orasfly itself is the way to the source',
    );
  return undefined;
}

/**
 * Turns a loaded dfget.yaml into {@link DownloaderOptions}. `dataPath` falls back to `dataDir`,
 * then to `fallbackDataPath`; the log file is `<logDir>/dfget/core.log` when a log dir is known.
 */
/** The options with a `config` laid under them, block by block; the options win. */
function withConfig(o: DownloaderOptions): DownloaderOptions {
  if (!o?.config) return o;
  const base = downloaderOptionsFromConfig(o.config, { dataPath: '' });
  return {
    ...base,
    ...o,
    storage: { ...base.storage, ...o.storage, dataPath: o.storage?.dataPath || base.storage!.dataPath },
    oras: { ...base.oras, ...o.oras },
    download: { ...base.download, ...o.download },
    logFile: o.logFile ?? base.logFile,
    cluster: o.cluster ?? base.cluster,
  };
}

/**
 * The task store a loaded `dfget.yaml` names: `storage.dataPath`, else the top-level `dataDir`.
 * @internal
 */
export function configDataPath(config: OrasflyConfig): string | undefined {
  return config.storage.dataPath ?? config.dataDir;
}

/**
 * A loaded `dfget.yaml` as downloader options, with the command's defaults for what the file does
 * not set. The command's glue; library users pass `config` to {@link createDownloader} instead.
 * @internal
 */
export function downloaderOptionsFromConfig(
  config: OrasflyConfig,
  fallback: { dataPath: string; logDir?: string | undefined },
): StoreDownloaderOptions {
  const logDir = config.logDir ?? fallback.logDir;
  // The loader produced the library's own option objects: only the defaults of the CLI are added.
  return {
    storage: { ...config.storage, dataPath: configDataPath(config) ?? fallback.dataPath },
    oras: { ...config.oras },
    download: { ...config.download },
    logFile: logDir ? path.join(logDir, 'dfget', 'core.log') : undefined,
    cluster: config.cluster && Object.keys(config.cluster).length ? { ...config.cluster } : undefined,
  };
}
