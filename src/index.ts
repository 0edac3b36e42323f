/**
 * orasfly — pull OCI artifacts (Apptainer/Singularity SIF images and any other blob) into Node.js
 * the way Dragonfly's "oras resource client" does: resolve `oras://host/repo:tag`, download the
 * blob in verified concurrent pieces, keep it in a local task store, and serve every later request
 * for the same content by a hard link.
 *
 * Start with {@link createDownloader}; compose {@link OrasResourceClient}, {@link StorageManager}
 * and {@link PeerTaskManager} yourself when you need more control.
 *
 * @packageDocumentation
 */

// Errors: one base class with stable codes, and the one retryability predicate
export {
  OrasflyError,
  InvalidArgumentError,
  InvalidReferenceError,
  ConfigError,
  CredentialsError,
  RegistryResponseError,
  AuthError,
  ManifestError,
  SizeLimitError,
  TlsError,
  NetworkError,
  TimeoutError,
  StallError,
  RangeNotSupportedError,
  DigestMismatchError,
  SizeMismatchError,
  StorageError,
  StorageQuotaError,
  LockError,
  TaskFailedError,
  UnsupportedError,
  DaemonError,
  ClosedError,
  isRetryable,
  markFinal,
  isFinal,
} from './core/errors.js';
export type { OrasflyErrorCode, RegistryErrorDetail, ResponseErrorInit } from './core/errors.js';

// Quick start
export { createDownloader, downloaderOptionsFromConfig } from './downloader.js';
export type { Downloader, DownloaderOptions, ClusterOptions } from './downloader.js';

// Configuration
export { loadConfig, parseConfig } from './config/dfget-config.js';
export type { LoadedConfig, OrasflyConfig } from './config/dfget-config.js';
export { parseDuration, parseSize } from './core/units.js';
export type { Duration, Size } from './core/units.js';

// Source: the registry client
export type { SignalOptions, ByteRange } from './core/types.js';
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
export { parseOrasReference, formatReference } from './source/oras/reference.js';
export type { OrasReference } from './source/oras/reference.js';
export { SIF_LAYER_MEDIA_TYPE, LEGACY_SIF_LAYER_MEDIA_TYPE } from './source/oras/manifest.js';

// Transport
export type { PieceTransport, PieceSink, TransportTask, TransportLog } from './transport/piece-transport.js';
export { SourceTransport } from './transport/source-transport.js';
export {
  DfdaemonTransport,
  DEFAULT_DFDAEMON_SOCKET,
  DEFAULT_DFDAEMON_OPTIONS,
} from './transport/dfdaemon-transport.js';
export type { DfdaemonTransportOptions, DfdaemonDelivery } from './transport/dfdaemon-transport.js';
export { ProxyTransport, DRAGONFLY_HEADERS } from './transport/proxy-transport.js';
export type { ProxyTransportOptions } from './transport/proxy-transport.js';
export type { Priority } from './transport/dfdaemon/messages.js';

// Conductor
export {
  PeerTaskConductor,
  DEFAULT_CONCURRENCY,
  DEFAULT_CONDUCTOR_OPTIONS,
  DEFAULT_LOW_SPEED_LIMIT,
  DEFAULT_LOW_SPEED_TIME,
} from './conductor/peer-task-conductor.js';
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
export { PeerTaskManager } from './conductor/peer-task-manager.js';
export { RateLimiter } from './conductor/rate-limiter.js';
export type { PeerTaskManagerOptions } from './conductor/peer-task-manager.js';
export type {
  DownloadRequest,
  DownloadResult,
  ArtifactDownloadRequest,
  ArtifactDownloadResult,
  ArtifactProgress,
  SkippedLayer,
} from './conductor/download-types.js';
export { taskId, taskIdV2, peerId } from './core/task-id.js';
export type { TaskIdMeta, TaskIdV2Meta } from './core/task-id.js';
export {
  computePieceSize,
  planPieces,
  pieceAt,
  DEFAULT_MIN_PIECE_SIZE,
  DEFAULT_MAX_PIECE_SIZE,
} from './core/piece-plan.js';
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
export { createPieceHasher } from './storage/piece-digest.js';
export type { PieceHasher } from './storage/piece-digest.js';
export type { PieceRecord, Fingerprint } from './storage/metadata.js';
export type { MaterializeResult } from './storage/materialize.js';
export type { DiskUsage } from './storage/gc.js';
export type {
  StorageStrategy,
  StrategyContext,
  DataLocation,
  StoreLink,
} from './storage/strategies/storage-strategy.js';
export { SimpleStrategy, SIMPLE_STRATEGY } from './storage/strategies/simple.js';
export { AdvanceStrategy, ADVANCE_STRATEGY } from './storage/strategies/advance.js';

// Logs
export { CoreLogger, FileLogSink, StreamLogSink, TeeLogSink } from './log/core-log.js';
export type { CoreLogSink, LogRecord, LogLevel } from './log/core-log.js';

export { VERSION } from './version.js';
// The command itself is embeddable from its own entry point: `import { runCli } from 'orasfly/cli'`.
