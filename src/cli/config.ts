/**
 * From the command line to downloader options: the default paths, the `dfget.yaml` found or
 * named, then the flags that override it. Shared by the download and the `cache` commands.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultPaths } from './defaults.js';
import { ConfigError } from '../core/errors.js';
import type { StoreDownloaderOptions } from '../downloader.js';
import type { OrasflyConfig } from '../config/dfget-config.js';

/** The flags that decide where things are. */
export interface LocationFlags {
  config?: string | undefined;
  dataDir?: string | undefined;
  logDir?: string | undefined;
}

/**
 * Loads the config (if any) and applies `--datadir`/`--logdir`. Config warnings go to `warn`.
 * The YAML parser is only loaded when there is a config file: a reuse pull should start fast.
 *
 * @throws ConfigError for a bad config file, or when no data directory is given and none can be derived.
 */
export async function optionsFromFlags(
  flags: LocationFlags,
  io: { env: NodeJS.ProcessEnv; cwd: string },
  warn: (line: string) => void,
  signal?: AbortSignal,
): Promise<StoreDownloaderOptions> {
  const defaults = defaultPaths(io.env);
  const configFile = flags.config ?? defaults.configCandidates.find((f) => existsSync(f));
  const { configDataPath, downloaderOptionsFromConfig } = await import('../downloader.js');
  let config: OrasflyConfig = { storage: {}, oras: {}, download: {} };
  if (configFile) {
    const { loadConfig } = await import('../config/dfget-config.js');
    const loaded = await loadConfig(configFile, { signal });
    for (const w of loaded.warnings) warn(`warning: ${w}`);
    config = loaded.config;
  }
  if (flags.dataDir) config.storage.dataPath = path.resolve(io.cwd, flags.dataDir);
  if (flags.logDir) config.logDir = path.resolve(io.cwd, flags.logDir);
  const dataPath = configDataPath(config) ?? defaults.dataDir;
  if (dataPath === undefined) {
    throw new ConfigError(
      'no data directory: there is no home directory; give --datadir (or set HOME or XDG_DATA_HOME)',
    );
  }
  // Without a home the log has no default place: the pull still runs, and says where it writes nothing.
  if (config.logDir === undefined && defaults.logDir === undefined) {
    warn('warning: no home directory: core.log is not written; give --logdir (or set HOME or XDG_STATE_HOME)');
  }
  return downloaderOptionsFromConfig(config, { dataPath, logDir: defaults.logDir });
}
