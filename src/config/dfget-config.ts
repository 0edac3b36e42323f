/**
 * A `dfget.yaml`-compatible configuration loader. It reads the file the Dragonfly oras page shows
 * (a `storage:` block and a top-level `oras:` block, strategy spelled with a trailing dot) and the
 * daemon's real layout (`download.resourceClients.oras`), maps each key onto the library's option
 * objects, and validates them with the library's own resolvers: one description per option.
 *
 * @module
 */
import { open } from 'node:fs/promises';
import createDebug from 'debug';
// js-yaml rather than `yaml`: it loads in ~14 ms instead of ~45 ms, a fifth of a reuse pull's
// start-up budget, and a dfget.yaml needs nothing beyond YAML 1.2's core schema.
import { load as parseYaml, YAMLException } from 'js-yaml';
import { ConfigError, InvalidArgumentError } from '../core/errors.js';
import { parseSize, type Duration, type Size } from '../core/units.js';
import { quote } from '../core/describe.js';
import { parsePlatform } from '../source/oras/platform.js';
import { ORAS_CLIENT_OPTION_KEYS, resolveOrasClientOptions, type OrasClientOptions } from '../source/oras/options.js';
import { resolveStorageOptions, STORAGE_OPTION_KEYS, type StorageOptions } from '../storage/options.js';
import { CONDUCTOR_OPTION_KEYS, resolveConductorOptions, type ConductorOptions } from '../conductor/options.js';
import { CLUSTER_OPTION_KEYS, type ClusterOptions } from '../transport/cluster-options.js';
import { resolveDfdaemonOptions, type DfdaemonTransportOptions } from '../transport/dfdaemon/options.js';
import { resolveProxyOptions, type ProxyTransportOptions } from '../transport/proxy/options.js';

/** A loaded configuration: the option objects of the library, as `createDownloader` takes them. */
export interface OrasflyConfig {
  /** The `storage:` block (and top-level `gcInterval`/`keepStorage`): {@link StorageOptions}. */
  storage: Partial<StorageOptions>;
  /** The `oras:` block (also `download.resourceClients.oras`): {@link OrasClientOptions}. */
  oras: OrasClientOptions;
  /** The `download:` block: {@link ConductorOptions} and `totalRateLimit`. */
  download: ConductorOptions & { totalRateLimit?: Size | undefined };
  /** The `transport:` block: {@link ClusterOptions}. */
  cluster?: ClusterOptions | undefined;
  /** Dragonfly's `dataDir`: the default `storage.dataPath`. */
  dataDir?: string | undefined;
  /** Dragonfly's `workHome`. */
  workHome?: string | undefined;
  /** Dragonfly's `logDir`: `core.log` goes to `<logDir>/dfget/core.log`. */
  logDir?: string | undefined;
}

/** What {@link loadConfig} returns. */
export interface LoadedConfig {
  /** The file read (or `<inline>`). */
  file: string;
  config: OrasflyConfig;
  /** Non-fatal findings: unknown keys, the trailing-dot strategy, TLS verification turned off. */
  warnings: string[];
}

/**
 * How a block of dfget.yaml maps onto an option object. The loader is a mapping only: the names
 * come from the options' own key lists, the values are checked by the options' own resolvers
 * (`resolveStorageOptions`, `resolveOrasClientOptions`, `resolveConductorOptions`), so an option
 * added to a library type is a config key at once, with the same rules.
 */
interface BlockMap {
  /** Option names this block accepts under the same name. */
  readonly names: readonly string[];
  /** Options a config file cannot set (functions, injected objects). */
  readonly libraryOnly?: readonly string[];
  /** Upstream keys accepted and ignored (they are in real files; warning would be noise). */
  readonly ignored?: readonly string[];
  /** Keys whose dfget.yaml form differs from the option's: the option name and value they give. */
  readonly convert?: Readonly<Record<string, (value: unknown, key: string) => [string, unknown]>>;
}

const STORAGE_BLOCK: BlockMap = {
  names: STORAGE_OPTION_KEYS,
  libraryOnly: ['now'],
  ignored: ['writeBufferSize', 'reloadGoroutineCount'],
};

const ORAS_BLOCK: BlockMap = {
  names: ORAS_CLIENT_OPTION_KEYS,
  // Secrets do not belong in dfget.yaml (credential files do); the dispatcher is an object.
  libraryOnly: ['credentials', 'credentialsSource', 'dispatcher', 'cache'],
  ignored: ['maxIdleConnsPerHost', 'maxConnsPerHost', 'enableTrace'],
  convert: {
    // `linux/arm64/v8`, as on the command line.
    platform: (v, key) => {
      if (typeof v !== 'string')
        throw new InvalidArgumentError(key, `expected a platform like "linux/amd64", got ${quote(v)}`);
      return ['platform', parsePlatform(v, key)];
    },
  },
};

const DOWNLOAD_BLOCK: BlockMap = {
  names: [...CONDUCTOR_OPTION_KEYS, 'totalRateLimit'],
  // dfdaemon's own `download:` keys (its daemon, peer and recursive machinery), in every real
  // dfget.yaml: a warning per key on every pull would be noise. `DEBUG=orasfly:config` lists them.
  ignored: [
    'perPeerRateLimit',
    'resourceClients',
    'calculateDigest',
    'pieceDownloadTimeout',
    'prefetch',
    'getPiecesMaxRetry',
    'splitRunningTasks',
    'syncPieceViaHttps',
    'traffic_shaper_type',
    'trafficShaperType',
    'cacheRecursiveMetadata',
    'transportOption',
    'concurrent',
    'downloadGRPC',
    'peerGRPC',
    'recursiveConcurrent',
    'watchdogTimeout',
  ],
};

const TRANSPORT_BLOCK: BlockMap = {
  names: CLUSTER_OPTION_KEYS.filter((k) => k !== 'backToSource'),
  convert: {
    // Named as dfget's flag; the option says what is allowed.
    disableBackToSource: (v, key) => {
      if (typeof v !== 'boolean') throw new InvalidArgumentError(key, `expected true or false, got ${quote(v)}`);
      return ['backToSource', !v];
    },
  },
};

/** Top-level keys of Dragonfly's config and where they go. */
const TOP_KEYS = new Set(['gcInterval', 'keepStorage', 'dataDir', 'workHome', 'logDir', 'cacheDir', 'aliveTime']);

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

/** `orasfly:config` — what a config file held that orasfly reads past. */
const logConfig = createDebug('orasfly:config');

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Maps one block's keys to option names; unknown keys become warnings, known upstream ones go to `quiet`. */
function readBlock(
  block: unknown,
  map: BlockMap,
  prefix: string,
  file: string,
  warnings: string[],
  quiet: string[] = [],
): Record<string, unknown> {
  if (block === null || block === undefined) return {};
  if (!isRecord(block)) throw new ConfigError(`expected a mapping, got ${quote(block)}`, { file, key: prefix });
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(block)) {
    const key = `${prefix}.${k}`;
    if (map.ignored?.includes(k)) {
      quiet.push(key);
      continue;
    }
    if (v === null || v === undefined || v === '') continue; // `proxy:` with no value means unset, as in Go
    const convert = map.convert?.[k];
    if (convert) {
      try {
        const [option, value] = convert(v, key);
        out[option] = value;
      } catch (e) {
        throw asConfigError(e, file, key);
      }
    } else if (map.names.includes(k) && !map.libraryOnly?.includes(k)) out[k] = v;
    else warnings.push(`${file}: unknown key ${key} (ignored)`);
  }
  return out;
}

/** An option resolver's error, told in the config's terms: the file and the key. */
function asConfigError(e: unknown, file: string, key: string): unknown {
  if (!(e instanceof InvalidArgumentError)) return e;
  return new ConfigError(e.message.replace(/^invalid [^:]+: /, ''), { file, key }, { cause: e });
}

/**
 * Validates the mapped options with the library's own resolvers, so that a bad value fails at load
 * time, naming the file and the key, exactly as the library would refuse it.
 */
function validate(config: OrasflyConfig, file: string, warnings: string[], orasFrom: Record<string, string>): void {
  const keyOf = (block: string, field: string): string => (field.startsWith(`${block}.`) ? field : `${block}.${field}`);
  try {
    const { warnings: w } = resolveStorageOptions({ ...config.storage, dataPath: config.storage.dataPath ?? '.' });
    for (const x of w) warnings.push(`${file}: ${x}`);
  } catch (e) {
    throw asConfigError(e, file, keyOf('storage', (e as InvalidArgumentError).field ?? ''));
  }
  try {
    resolveOrasClientOptions(config.oras);
  } catch (e) {
    const field = (e as InvalidArgumentError).field ?? '';
    throw asConfigError(e, file, keyOf(orasFrom[field.split('.')[0] ?? ''] ?? 'oras', field));
  }
  const { totalRateLimit, ...conductor } = config.download;
  try {
    resolveConductorOptions(conductor);
    if (totalRateLimit !== undefined) parseSize(totalRateLimit, 'totalRateLimit');
  } catch (e) {
    throw asConfigError(e, file, keyOf('download', (e as InvalidArgumentError).field ?? ''));
  }
  if (config.cluster) {
    // Checked here, not at the first pull, so that the error names the file and the key.
    const { endpoint, proxy, ...rest } = config.cluster;
    try {
      if (endpoint !== undefined) resolveDfdaemonOptions({ ...rest, socketPath: endpoint } as DfdaemonTransportOptions);
      if (proxy !== undefined) resolveProxyOptions({ ...rest, proxy } as ProxyTransportOptions);
    } catch (e) {
      const field = (e as InvalidArgumentError).field ?? '';
      throw asConfigError(e, file, `transport.${field === 'socketPath' ? 'endpoint' : field}`);
    }
  }
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
 * @internal
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
  const quiet: string[] = [];
  const config: OrasflyConfig = { storage: {}, oras: {}, download: {} };
  const topLevel: Pick<StorageOptions, 'gcInterval' | 'keepStorage'> = {};
  /** Which block each oras key came from (the top-level one wins), for error messages. */
  const orasFrom: Record<string, string> = {};
  if (doc === null || doc === undefined) return { file, config, warnings };
  if (!isRecord(doc)) throw new ConfigError('expected a mapping at the top level', { file });

  for (const [k, v] of Object.entries(doc)) {
    // Merge, never replace: top-level gcInterval/keepStorage may come before the storage block.
    if (k === 'storage')
      config.storage = { ...config.storage, ...readBlock(v, STORAGE_BLOCK, 'storage', file, warnings, quiet) };
    else if (k === 'oras') {
      for (const key of Object.keys(isRecord(v) ? v : {})) orasFrom[key] = 'oras';
      Object.assign(config.oras, readBlock(v, ORAS_BLOCK, 'oras', file, warnings, quiet));
    } else if (k === 'transport')
      config.cluster = readBlock(v, TRANSPORT_BLOCK, 'transport', file, warnings, quiet) as ClusterOptions;
    else if (k === 'download') {
      if (v === null || v === undefined) continue;
      if (!isRecord(v)) throw new ConfigError(`expected a mapping, got ${quote(v)}`, { file, key: 'download' });
      const resourceClients = v['resourceClients'];
      if (resourceClients !== undefined && resourceClients !== null) {
        if (!isRecord(resourceClients))
          throw new ConfigError('expected a mapping', { file, key: 'download.resourceClients' });
        for (const [scheme, block] of Object.entries(resourceClients)) {
          // The top-level `oras:` block wins over the daemon's location when both are present.
          if (scheme === 'oras') {
            for (const key of Object.keys(isRecord(block) ? block : {}))
              orasFrom[key] ??= 'download.resourceClients.oras';
            config.oras = {
              ...readBlock(block, ORAS_BLOCK, 'download.resourceClients.oras', file, warnings, quiet),
              ...config.oras,
            };
          } else warnings.push(`${file}: resource client "${scheme}" is not supported here (ignored)`);
        }
      }
      config.download = readBlock(v, DOWNLOAD_BLOCK, 'download', file, warnings, quiet);
    } else if (TOP_KEYS.has(k)) {
      if (v === null || v === undefined) continue;
      if (k === 'aliveTime') continue; // the daemon's idle exit: no daemon here
      if (k === 'gcInterval') topLevel.gcInterval = v as Duration;
      else if (k === 'keepStorage') topLevel.keepStorage = v as boolean;
      else if (typeof v !== 'string') throw new ConfigError(`expected a path, got ${quote(v)}`, { file, key: k });
      else if (k === 'cacheDir') config.dataDir ??= v;
      else config[k as 'dataDir' | 'workHome' | 'logDir'] = v;
    } else if (!IGNORED_SECTIONS.has(k)) warnings.push(`${file}: unknown key ${k} (ignored)`);
  }
  // A value inside the storage block wins over the top-level one, whatever the order.
  config.storage = { ...topLevel, ...config.storage };
  if (quiet.length) logConfig('%s: upstream keys orasfly does not use, ignored: %s', file, quiet.join(', '));
  validate(config, file, warnings, orasFrom);
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
