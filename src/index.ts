/**
 * orasfly — pull OCI artifacts (Apptainer/Singularity SIF images and any other blob) into Node.js
 * the way Dragonfly's "oras resource client" does: resolve `oras://host/repo:tag`, download the
 * blob in verified concurrent pieces, keep it in a local task store, and serve every later request
 * for the same content by a hard link.
 *
 * Start with {@link createDownloader}; compose {@link OrasResourceClient}, {@link StorageManager}
 * and {@link PeerTaskManager} yourself when you need more control. Errors are one namespace,
 * {@link errors} (match on `code`); Dragonfly's primitives (task ids, the piece plan, piece
 * digests, proxy headers) are on the `orasfly/dragonfly` subpath, and the command on `orasfly/cli`.
 *
 * @packageDocumentation
 */

// Errors: one base class with stable codes, the one retryability predicate, and every class by name
export { OrasflyError, isRetryable, errorKind } from './core/errors.js';
export * as errors from './core/errors.js';
export type { OrasflyErrorCode, OrasflyErrorKind } from './core/errors.js';

// Quick start
export { createDownloader } from './downloader.js';
export type { Downloader, DownloaderOptions, ClusterOptions } from './downloader.js';

// Configuration (dfget.yaml)
export { loadConfig } from './config/dfget-config.js';
export type { LoadedConfig, OrasflyConfig } from './config/dfget-config.js';
export type { Duration, Size } from './core/units.js';

// Shared values
export type { SignalOptions, ByteRange } from './core/types.js';

// Source: the registry client
export type {
  BlobTarget,
  ResolvedResource,
  BlobRead,
  ResourceRequestOptions,
  ResourceClient,
  OriginRequest,
} from './source/resource-client.js';
export { OrasResourceClient } from './source/oras/oras-resource-client.js';
export type { ResolvedOrasResource, FetchedManifest } from './source/oras/oras-resource-client.js';
export { DEFAULT_ORAS_CLIENT_OPTIONS } from './source/oras/options.js';
export type {
  OrasClientOptions,
  ResolvedOrasClientOptions,
  ResolvedRetryPolicy,
  RegistryCredential,
  CredentialsOption,
  Platform,
  RetryOptions,
} from './source/oras/options.js';
export type { Descriptor, ImageManifest, ImageIndex } from './source/oras/manifest.js';
export { parseOrasReference } from './source/oras/reference.js';
export type { OrasReference } from './source/oras/reference.js';
export { SIF_LAYER_MEDIA_TYPE } from './source/oras/manifest.js';

// Transport
export type {
  BodyMemory,
  ChunkSink,
  PieceTransport,
  PieceSink,
  StreamOptions,
  TransportTask,
  TransportLog,
} from './transport/piece-transport.js';
export { SourceTransport } from './transport/source-transport.js';
export { DfdaemonTransport, DEFAULT_DFDAEMON_OPTIONS } from './transport/dfdaemon-transport.js';
export type { DfdaemonTransportOptions, DfdaemonDelivery } from './transport/dfdaemon-transport.js';
export { ProxyTransport, DEFAULT_PROXY_OPTIONS } from './transport/proxy-transport.js';
export type { ProxyTransportOptions } from './transport/proxy-transport.js';
export type { ClusterCommonOptions } from './transport/cluster-common.js';
export type { Priority } from './transport/dfdaemon/messages.js';

// Conductor
export { PeerTaskConductor } from './conductor/peer-task-conductor.js';
export { DEFAULT_CONDUCTOR_OPTIONS } from './conductor/options.js';
export type {
  ConductorOptions,
  ResolvedConductorOptions,
  ConductorState,
  ConductorEvents,
  ConductorInit,
  ProgressEvent,
  PieceEvent,
  RetryEvent,
} from './conductor/peer-task-conductor.js';
export type { RateLimiter } from './conductor/rate-limiter.js';
export { PeerTaskManager } from './conductor/peer-task-manager.js';
export type { PeerTaskManagerOptions } from './conductor/peer-task-manager.js';
export type {
  DownloadRequest,
  DownloadResult,
  ArtifactDownloadRequest,
  ArtifactDownloadResult,
  ArtifactProgress,
  SkippedLayer,
} from './conductor/download-types.js';
export type { PieceInfo, PiecePlan } from './core/piece-plan.js';

// Storage
export { StorageManager } from './storage/storage-manager.js';
export type {
  TaskEntry,
  TaskWriter,
  BeginTaskRequest,
  GcReport,
  GcOptions,
  OpenOptions,
  StorageUsage,
  StorageEvents,
  DropEvent,
  FindOptions,
  LockWaitEvent,
  CacheEntryInfo,
  VerifyReport,
  CleanReport,
} from './storage/storage-manager.js';
export { DEFAULT_STORAGE_OPTIONS } from './storage/options.js';
export type {
  StorageOptions,
  ResolvedStorageOptions,
  StorageStrategyName,
  PieceDigestAlgorithm,
} from './storage/options.js';
export type { PieceRecord, Fingerprint } from './storage/metadata.js';
export type { MaterializeResult } from './storage/materialize.js';
export type { DiskUsage } from './storage/gc.js';
export type {
  StorageStrategy,
  StrategyContext,
  DataLocation,
  StoreLink,
} from './storage/strategies/storage-strategy.js';
export { SimpleStrategy } from './storage/strategies/simple.js';
export { AdvanceStrategy } from './storage/strategies/advance.js';

// Logs
export { FileLogSink, StreamLogSink } from './log/core-log.js';
export type { CoreLogSink, LogRecord, LogLevel, CoreLogger } from './log/core-log.js';

export { VERSION } from './version.js';
// The command itself is embeddable from its own entry point: `import { runCli } from 'orasfly/cli'`.
