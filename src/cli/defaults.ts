/**
 * Where the CLI keeps things when no flag or config says: upstream's system paths for root, XDG
 * base directories for everyone else (so a normal user never needs sudo).
 *
 * @module
 */
import path from 'node:path';
import { homeDirectory, xdgDirectory } from '../internal/home-dir.js';

/**
 * Default directories and config file. A directory is `undefined` when it cannot be derived: no home
 * directory (an arbitrary uid in a container) and no XDG variable for it.
 */
export interface CliPaths {
  dataDir: string | undefined;
  logDir: string | undefined;
  workHome: string | undefined;
  /** Config files tried in order when `--config` is not given. */
  configCandidates: string[];
}

/** Defaults for the current user (`env`, `uid` and `home` injectable for tests; `null`: no home). */
export function defaultPaths(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  home: string | null = homeDirectory(env) ?? null,
): CliPaths {
  if (uid === 0) {
    return {
      dataDir: '/var/lib/dragonfly',
      logDir: '/var/log/dragonfly',
      workHome: '/usr/local/dragonfly',
      configCandidates: ['/etc/dragonfly/dfget.yaml'],
    };
  }
  const under = (xdg: string | undefined, ...fallback: string[]): string | undefined =>
    xdg || (home ? path.join(home, ...fallback) : undefined);
  const dataHome = under(xdgDirectory(env, 'XDG_DATA_HOME'), '.local', 'share');
  const stateHome = under(xdgDirectory(env, 'XDG_STATE_HOME'), '.local', 'state');
  const configHome = under(xdgDirectory(env, 'XDG_CONFIG_HOME'), '.config');
  return {
    dataDir: dataHome && path.join(dataHome, 'orasfly'),
    logDir: stateHome && path.join(stateHome, 'orasfly', 'logs'),
    workHome: dataHome && path.join(dataHome, 'orasfly'),
    configCandidates: configHome ? [path.join(configHome, 'orasfly', 'dfget.yaml')] : [],
  };
}
