/**
 * Options of the daemon transport: the type, its documented defaults and the resolver that checks
 * them (described once: `ClusterOptions` picks some of them, and the fields shared with the proxy
 * transport are in `cluster-common.ts`).
 *
 * @module
 */
import path from 'node:path';
import { parseDuration, type Duration } from '../../core/units.js';
import { InvalidArgumentError } from '../../core/errors.js';
import type { Priority } from './messages.js';
import { assertPriority, DEFAULT_CLUSTER_COMMON_OPTIONS, type ClusterCommonOptions } from '../cluster-common.js';

/** Where dfdaemon listens by default (Rust dfdaemon's `download.server.socketPath`). */
export const DEFAULT_DFDAEMON_SOCKET = '/var/run/dragonfly/dfdaemon.sock';

/** How the daemon hands the bytes over. */
export type DfdaemonDelivery = 'auto' | 'output-path' | 'piece-content';

/** Options of a `DfdaemonTransport`. */
export interface DfdaemonTransportOptions extends ClusterCommonOptions {
  /** The daemon's unix socket (dfget's `--endpoint`). @defaultValue `/var/run/dragonfly/dfdaemon.sock` (the Rust dfdaemon's) */
  socketPath?: string | undefined;
  /**
   * `output-path`: the daemon links (or copies) its cache file to a temp file in the store's
   * directory, which orasfly reads once into its store, verifying it: no piece bytes cross the
   * socket. `piece-content`: the pieces come back inline over gRPC (for a daemon that cannot see
   * our filesystem). `auto`: `output-path`, and `piece-content` if the daemon cannot write there.
   * @defaultValue 'auto'
   */
  delivery?: DfdaemonDelivery | undefined;
  /** Deadline of the health check made before first use. @defaultValue '1s' */
  healthTimeout?: Duration | undefined;
  /** A stream that delivers no message for this long is given up (the origin serves the rest). @defaultValue '30s' */
  idleTimeout?: Duration | undefined;
  /** The daemon's own download timeout (`Download.timeout`); 0 = the daemon's default. @defaultValue 0 */
  downloadTimeout?: Duration | undefined;
  /**
   * How many times a busy daemon (`RESOURCE_EXHAUSTED`) is asked again, in each delivery mode,
   * waiting `busyRetryDelay`·2ⁿ before retry n (0.5 s, 1 s, 2 s by default; no jitter), 0–100.
   * @defaultValue 3
   */
  busyRetries?: number | undefined;
  /** The wait before the first retry of a busy daemon; each next one doubles. @defaultValue '500ms' */
  busyRetryDelay?: Duration | undefined;
  /** Largest gRPC message accepted: inline pieces reach 64 MiB. @defaultValue 80 MiB */
  maxMessageBytes?: number | undefined;
  /**
   * Append every exchange with the daemon (request, responses, status; no header values, no piece
   * bytes) to this JSON file: a trace of a real daemon, to replay with the test harness's fake.
   * @defaultValue undefined (no recording)
   */
  recordTo?: string | undefined;
}

/** The defaults of {@link DfdaemonTransportOptions}. */
export const DEFAULT_DFDAEMON_OPTIONS = Object.freeze({
  socketPath: DEFAULT_DFDAEMON_SOCKET,
  delivery: 'auto' as DfdaemonDelivery,
  ...DEFAULT_CLUSTER_COMMON_OPTIONS,
  // LEVEL0, the daemon's own default: proto3 sends no field for 0.
  priority: 0 as Priority,
  healthTimeout: '1s',
  idleTimeout: '30s',
  downloadTimeout: 0,
  busyRetries: 3,
  busyRetryDelay: '500ms',
  maxMessageBytes: 80 * 2 ** 20,
});

/** {@link DfdaemonTransportOptions} after validation: durations in ms, paths absolute. */
export interface ResolvedDfdaemonOptions {
  socketPath: string;
  delivery: DfdaemonDelivery;
  backToSource: boolean;
  priority: Priority;
  healthTimeout: number;
  idleTimeout: number;
  downloadTimeout: number;
  busyRetries: number;
  busyRetryDelay: number;
  maxMessageBytes: number;
  recordTo: string | undefined;
}

/**
 * Validates and completes the options.
 * @throws InvalidArgumentError naming the first invalid option.
 */
export function resolveDfdaemonOptions(o: DfdaemonTransportOptions): ResolvedDfdaemonOptions {
  const D = DEFAULT_DFDAEMON_OPTIONS;
  const socketPath = o.socketPath ?? D.socketPath;
  if (typeof socketPath !== 'string' || socketPath === '')
    throw new InvalidArgumentError('socketPath', 'expected the path of the daemon socket');
  const delivery = o.delivery ?? D.delivery;
  if (!['auto', 'output-path', 'piece-content'].includes(delivery))
    throw new InvalidArgumentError(
      'delivery',
      `expected auto, output-path or piece-content, got ${JSON.stringify(delivery)}`,
    );
  const priority = o.priority ?? D.priority;
  assertPriority(priority);
  const busyRetries = o.busyRetries ?? D.busyRetries;
  if (!Number.isInteger(busyRetries) || busyRetries < 0 || busyRetries > 100)
    throw new InvalidArgumentError('busyRetries', 'expected an integer 0..100');
  const maxMessageBytes = o.maxMessageBytes ?? D.maxMessageBytes;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024 * 1024)
    throw new InvalidArgumentError('maxMessageBytes', 'expected an integer of at least 1 MiB');
  return {
    socketPath: path.resolve(socketPath),
    delivery,
    backToSource: o.backToSource ?? D.backToSource,
    priority,
    healthTimeout: parseDuration(o.healthTimeout ?? D.healthTimeout, 'healthTimeout'),
    idleTimeout: parseDuration(o.idleTimeout ?? D.idleTimeout, 'idleTimeout'),
    downloadTimeout: parseDuration(o.downloadTimeout ?? D.downloadTimeout, 'downloadTimeout'),
    busyRetries,
    busyRetryDelay: parseDuration(o.busyRetryDelay ?? D.busyRetryDelay, 'busyRetryDelay'),
    maxMessageBytes,
    recordTo: o.recordTo === undefined ? undefined : path.resolve(o.recordTo),
  };
}
