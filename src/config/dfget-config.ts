/**
 * A `dfget.yaml`-compatible configuration loader. It reads the file the Dragonfly oras page shows
 * (a `storage:` block and a top-level `oras:` block, strategy spelled with a trailing dot) and the
 * daemon's real layout (`download.resourceClients.oras`), checks every value's type, and returns
 * option objects that `StorageManager`, `OrasResourceClient` and `PeerTaskManager` take as they are.
 *
 * @module
 */
import { open } from 'node:fs/promises';
// js-yaml rather than `yaml`: it loads in ~14 ms instead of ~45 ms, a fifth of a reuse pull's
// start-up budget, and a dfget.yaml needs nothing beyond YAML 1.2's core schema.
import { load as parseYaml, YAMLException } from 'js-yaml';
import { ConfigError, InvalidArgumentError } from '../errors.js';
import { parseDuration, parseSize, type Duration, type Size } from './units.js';
import { quote } from '../internal/describe.js';
import { parsePlatform } from '../source/oras/platform.js';

/** The `storage:` block, in Dragonfly's names. */
export interface StorageConfig {
  dataPath?: string;
  strategy?: string;
  multiplex?: boolean;
  taskExpireTime?: Duration;
  diskGCThreshold?: Size;
  diskGCThresholdPercent?: number;
  gcInterval?: Duration;
  keepStorage?: boolean;
  pieceDigest?: 'crc32' | 'md5';
  lockStaleTime?: Duration;
  lockTimeout?: Duration;
}

/** The `oras:` block (also read from `download.resourceClients.oras`). */
export interface OrasConfig {
  proxy?: string;
  dialTimeout?: Duration;
  keepAlive?: Duration;
  maxIdleConns?: number;
  idleConnTimeout?: Duration;
  responseHeaderTimeout?: Duration;
  /** Deadline of a whole metadata operation (resolve, range probe), retries included. */
  metadataTimeout?: Duration;
  tlsHandshakeTimeout?: Duration;
  expectContinueTimeout?: Duration;
  insecureSkipVerify?: boolean;
  caFile?: string;
  plainHttp?: boolean;
  /** Trust the system CA bundle too (default true). */
  systemCa?: boolean;
  /** `os/arch[/variant]` to pick from an image index. */
  platform?: { os: string; architecture: string; variant?: string };
  /** The layer to pull when the manifest has no single SIF layer (-1 = the last). */
  layerIndex?: number;
  /** The layer to pull, by media type. */
  layerMediaType?: string;
}

/** Download tuning (`download:` block of ours and Dragonfly's). */
export interface DownloadConfig {
  /** Bytes/s across all pieces (Dragonfly `download.totalRateLimit`, e.g. `1024Mi`). */
  totalRateLimit?: Size;
  /** Parallel pieces per task. */
  concurrency?: number;
  /** Piece size override. */
  pieceSize?: Size;
  /** Low-speed rule: bytes per second a piece must beat over `lowSpeedTime` (e.g. `1Ki`); `0` = off. */
  lowSpeedLimit?: Size;
  /** Low-speed rule's window (e.g. `30s`); `0` = off. */
  lowSpeedTime?: Duration;
}

/** Using a Dragonfly cluster (`transport:` block; orasfly's own, named as Rust dfget's flags). */
export interface TransportConfig {
  /** The dfdaemon unix socket (dfget `--endpoint`); selects the daemon transport. */
  endpoint?: string;
  /** The dfdaemon HTTP proxy, `http://127.0.0.1:4001` (`--proxy-transport`); selects the proxy transport. */
  proxy?: string;
  /** dfget `--disable-back-to-source`: neither the daemon nor orasfly may ask the origin. */
  disableBackToSource?: boolean;
  /** `auto`, `output-path` or `piece-content` (daemon transport). */
  delivery?: string;
  /** Give a daemon stream up after this long without a message. */
  idleTimeout?: Duration;
  /** `common.v2.Priority`, 0–6. */
  priority?: number;
}

/** A loaded configuration. */
export interface OrasflyConfig {
  storage: StorageConfig;
  oras: OrasConfig;
  download: DownloadConfig;
  /** The `transport:` block, when present. */
  transport?: TransportConfig;
  /** Dragonfly's `dataDir`: the default `storage.dataPath`. */
  dataDir?: string;
  /** Dragonfly's `workHome`. */
  workHome?: string;
  /** Dragonfly's `logDir`: `core.log` goes to `<logDir>/dfget/core.log`. */
  logDir?: string;
}

/** What {@link loadConfig} returns. */
export interface LoadedConfig {
  /** The file read (or `<inline>`). */
  file: string;
  config: OrasflyConfig;
  /** Non-fatal findings: unknown keys, the trailing-dot strategy, TLS verification turned off. */
  warnings: string[];
}

type Kind = 'duration' | 'size' | 'boolean' | 'number' | 'string' | 'strategy' | 'pieceDigest' | 'platform';

const STORAGE_KEYS: Record<string, Kind> = {
  dataPath: 'string',
  strategy: 'strategy',
  multiplex: 'boolean',
  taskExpireTime: 'duration',
  diskGCThreshold: 'size',
  diskGCThresholdPercent: 'number',
  gcInterval: 'duration',
  keepStorage: 'boolean',
  pieceDigest: 'pieceDigest',
  lockStaleTime: 'duration',
  lockTimeout: 'duration',
  // Upstream keys we accept and ignore (no effect here): a warning would only be noise.
  writeBufferSize: 'size',
  reloadGoroutineCount: 'number',
};

const ORAS_KEYS: Record<string, Kind> = {
  proxy: 'string',
  dialTimeout: 'duration',
  keepAlive: 'duration',
  maxIdleConns: 'number',
  maxIdleConnsPerHost: 'number',
  maxConnsPerHost: 'number',
  idleConnTimeout: 'duration',
  responseHeaderTimeout: 'duration',
  metadataTimeout: 'duration',
  tlsHandshakeTimeout: 'duration',
  expectContinueTimeout: 'duration',
  insecureSkipVerify: 'boolean',
  enableTrace: 'boolean',
  caFile: 'string',
  plainHttp: 'boolean',
  systemCa: 'boolean',
  platform: 'platform',
  layerIndex: 'number',
  layerMediaType: 'string',
};

const TRANSPORT_KEYS: Record<string, Kind> = {
  endpoint: 'string',
  proxy: 'string',
  disableBackToSource: 'boolean',
  delivery: 'string',
  idleTimeout: 'duration',
  priority: 'number',
};

const DOWNLOAD_KEYS: Record<string, Kind> = {
  totalRateLimit: 'size',
  perPeerRateLimit: 'size',
  concurrency: 'number',
  pieceSize: 'size',
  lowSpeedLimit: 'size',
  lowSpeedTime: 'duration',
};

const TOP_KEYS: Record<string, Kind> = {
  gcInterval: 'duration',
  keepStorage: 'boolean',
  dataDir: 'string',
  workHome: 'string',
  logDir: 'string',
  cacheDir: 'string',
  aliveTime: 'duration',
};

// Sections of a full dfdaemon config that have no meaning here; present in real files, so no warnings.
const IGNORED_SECTIONS = new Set([
  'scheduler',
  'host',
  'upload',
  'proxy',
  'security',
  'network',
  'console',
  'verbose',
  'pprof-port',
  'jaeger',
  'objectStorage',
  'announcer',
  'health',
  'reload',
  'certSpec',
  'metrics',
  'concurrent',
  'workHomeMode',
  'dataDirMode',
  'cacheDirMode',
  'logDirMode',
  'pluginDir',
  'networkTopology',
]);

const STRATEGIES = new Set(['', 'io.d7y.storage.v2.simple', 'io.d7y.storage.v2.advance']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(kind: Kind, value: unknown, key: string, file: string, warnings: string[]): unknown {
  const fail = (what: string): never => {
    throw new ConfigError(`expected ${what}, got ${quote(value)}`, { file, key });
  };
  try {
    switch (kind) {
      case 'duration':
        if (typeof value !== 'string' && typeof value !== 'number') fail('a duration like "30s"');
        parseDuration(value as Duration, key);
        return value;
      case 'size':
        if (typeof value !== 'string' && typeof value !== 'number') fail('a size like "50Gi"');
        parseSize(value as Size, key);
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') fail('true or false');
        return value;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) fail('a number');
        return value;
      case 'string':
        if (typeof value !== 'string') fail('a string');
        return value;
      case 'platform':
        // `linux/arm64/v8`, as on the command line.
        if (typeof value !== 'string') fail('a platform like "linux/amd64"');
        return parsePlatform(value as string, key);
      case 'pieceDigest':
        if (value !== 'crc32' && value !== 'md5') fail('"crc32" or "md5"');
        return value;
      case 'strategy': {
        if (typeof value !== 'string') fail('a strategy name');
        const s = value as string;
        if (STRATEGIES.has(s)) return s;
        // The published oras page spells it with a trailing dot; upstream then refuses to start.
        if (s.endsWith('.') && STRATEGIES.has(s.slice(0, -1))) {
          warnings.push(
            `${file}: ${key}: "${s}" has a trailing dot (as on the Dragonfly oras page); using "${s.slice(0, -1)}"`,
          );
          return s.slice(0, -1);
        }
        throw new ConfigError(
          `not support store strategy: ${s} (use io.d7y.storage.v2.simple or io.d7y.storage.v2.advance)`,
          { file, key },
        );
      }
    }
  } catch (e) {
    if (e instanceof InvalidArgumentError)
      throw new ConfigError(e.message.replace(/^invalid [^:]+: /, ''), { file, key }, { cause: e });
    throw e;
  }
}

function readBlock(
  block: unknown,
  keys: Record<string, Kind>,
  prefix: string,
  file: string,
  warnings: string[],
): Record<string, unknown> {
  if (block === null || block === undefined) return {};
  if (!isRecord(block)) throw new ConfigError(`expected a mapping, got ${quote(block)}`, { file, key: prefix });
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(block)) {
    const key = `${prefix}.${k}`;
    const kind = keys[k];
    if (!kind) {
      warnings.push(`${file}: unknown key ${key} (ignored)`);
      continue;
    }
    if (v === null || v === undefined || v === '') continue; // `proxy:` with no value means unset, as in Go
    out[k] = check(kind, v, key, file, warnings);
  }
  return out;
}

/** Largest config file read, in bytes: a real dfget.yaml is a few KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Most values (mapping entries and list items, aliases counted each time they are used) a config may hold. */
export const MAX_CONFIG_NODES = 100_000;

/**
 * Counts the values of a parsed document, following aliases (shared objects) every time they are
 * referenced, and stops as soon as `budget` is spent: the walk costs at most `budget` steps, however
 * many times an alias bomb would expand.
 */
function withinNodeBudget(doc: object, budget: number): boolean {
  let left = budget;
  const stack: unknown[] = [doc];
  while (stack.length > 0) {
    const v = stack.pop();
    if (--left < 0) return false;
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stack.push(x);
    if (stack.length > left) return false;
  }
  return true;
}

/**
 * Parses dfget.yaml text.
 *
 * @param file - name used in errors and warnings.
 * @throws ConfigError (`ERR_ORASFLY_CONFIG`) naming the file and key path for bad YAML, wrong types or an unknown strategy.
 * @example
 * ```ts
 * import { parseConfig } from 'orasfly';
 *
 * const { config, warnings } = parseConfig('storage:\n  multiplex: true\n', 'dfget.yaml');
 * console.log(config.storage.multiplex, warnings);
 * ```
 */
export function parseConfig(text: string, file = '<inline>'): LoadedConfig {
  if (text.length > MAX_CONFIG_BYTES)
    throw new ConfigError(
      `is larger than ${MAX_CONFIG_BYTES} bytes; a dfget.yaml is a few KiB (is this the right file?)`,
      { file },
    );
  let doc: unknown;
  try {
    // Duplicate keys are an error (js-yaml's default), as they are for the Go YAML decoder.
    doc = parseYaml(text, { filename: file });
  } catch (e) {
    const where = e instanceof YAMLException && e.mark ? ` (line ${e.mark.line + 1})` : '';
    const reason = e instanceof YAMLException ? e.reason : (e as Error).message.split('\n')[0];
    throw new ConfigError(`not valid YAML${where}: ${reason}`, { file }, { cause: e });
  }
  if (doc !== null && typeof doc === 'object' && !withinNodeBudget(doc, MAX_CONFIG_NODES)) {
    throw new ConfigError(
      `has more than ${MAX_CONFIG_NODES} values once YAML aliases are expanded (an alias bomb?); a dfget.yaml needs a few hundred`,
      { file },
    );
  }
  const warnings: string[] = [];
  const config: OrasflyConfig = { storage: {}, oras: {}, download: {} };
  const topLevel: Pick<StorageConfig, 'gcInterval' | 'keepStorage'> = {};
  if (doc === null || doc === undefined) return { file, config, warnings };
  if (!isRecord(doc)) throw new ConfigError('expected a mapping at the top level', { file });

  for (const [k, v] of Object.entries(doc)) {
    // Merge, never replace: top-level gcInterval/keepStorage may come before the storage block.
    if (k === 'storage')
      config.storage = {
        ...config.storage,
        ...(readBlock(v, STORAGE_KEYS, 'storage', file, warnings) as StorageConfig),
      };
    else if (k === 'oras') Object.assign(config.oras, readBlock(v, ORAS_KEYS, 'oras', file, warnings));
    else if (k === 'transport')
      config.transport = readBlock(v, TRANSPORT_KEYS, 'transport', file, warnings) as TransportConfig;
    else if (k === 'download') {
      if (v === null || v === undefined) continue;
      if (!isRecord(v)) throw new ConfigError(`expected a mapping, got ${quote(v)}`, { file, key: 'download' });
      const { resourceClients, ...rest } = v;
      if (resourceClients !== undefined && resourceClients !== null) {
        if (!isRecord(resourceClients))
          throw new ConfigError('expected a mapping', { file, key: 'download.resourceClients' });
        for (const [scheme, block] of Object.entries(resourceClients)) {
          if (scheme === 'oras') {
            // The top-level `oras:` block wins over the daemon's location when both are present.
            config.oras = {
              ...readBlock(block, ORAS_KEYS, 'download.resourceClients.oras', file, warnings),
              ...config.oras,
            };
          } else warnings.push(`${file}: resource client "${scheme}" is not supported here (ignored)`);
        }
      }
      const known = Object.fromEntries(Object.entries(rest).filter(([key]) => key in DOWNLOAD_KEYS));
      for (const key of Object.keys(rest))
        if (!(key in DOWNLOAD_KEYS)) warnings.push(`${file}: unknown key download.${key} (ignored)`);
      config.download = readBlock(known, DOWNLOAD_KEYS, 'download', file, warnings) as DownloadConfig;
    } else if (k in TOP_KEYS) {
      if (v === null || v === undefined) continue;
      const value = check(TOP_KEYS[k]!, v, k, file, warnings);
      // A value inside the storage block wins over the top-level one, whatever the order.
      if (k === 'gcInterval') topLevel.gcInterval = value as Duration;
      else if (k === 'keepStorage') topLevel.keepStorage = value as boolean;
      else if (k === 'dataDir' || k === 'workHome' || k === 'logDir') config[k] = value as string;
      else if (k === 'cacheDir') config.dataDir ??= value as string;
    } else if (!IGNORED_SECTIONS.has(k)) warnings.push(`${file}: unknown key ${k} (ignored)`);
  }
  config.storage = { ...topLevel, ...config.storage };
  if (config.oras.insecureSkipVerify === true)
    warnings.push(`${file}: oras.insecureSkipVerify is true: TLS certificates will NOT be verified`);
  return { file, config, warnings };
}

/**
 * Reads and parses a dfget.yaml file.
 *
 * @throws ConfigError (`ERR_ORASFLY_CONFIG`) naming the file when it cannot be read or is invalid.
 */
export async function loadConfig(
  file: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<LoadedConfig> {
  let text: string;
  try {
    // Read through a size cap (one byte more than allowed tells "too large" from "exactly at the cap").
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
      let n = 0;
      while (n < buf.length) {
        if (options.signal?.aborted) throw options.signal.reason;
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n > MAX_CONFIG_BYTES)
        throw new ConfigError(
          `is larger than ${MAX_CONFIG_BYTES} bytes; a dfget.yaml is a few KiB (is this the right file?)`,
          { file },
        );
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { file },
      { cause: e },
    );
  }
  return parseConfig(text, file);
}
