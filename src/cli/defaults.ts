/**
 * Where the CLI keeps things when no flag or config says: upstream's system paths for root, XDG
 * base directories for everyone else (so a normal user never needs sudo).
 *
 * @module
 */
import os from 'node:os';
import path from 'node:path';

/** Default directories and config file. */
export interface CliPaths {
  dataDir: string;
  logDir: string;
  workHome: string;
  /** Config files tried in order when `--config` is not given. */
  configCandidates: string[];
}

/** Defaults for the current user (`env` and `uid` injectable for tests). */
export function defaultPaths(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  home = os.homedir(),
): CliPaths {
  if (uid === 0) {
    return {
      dataDir: '/var/lib/dragonfly',
      logDir: '/var/log/dragonfly',
      workHome: '/usr/local/dragonfly',
      configCandidates: ['/etc/dragonfly/dfget.yaml'],
    };
  }
  const dataHome = env.XDG_DATA_HOME || path.join(home, '.local', 'share');
  const stateHome = env.XDG_STATE_HOME || path.join(home, '.local', 'state');
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return {
    dataDir: path.join(dataHome, 'orasfly'),
    logDir: path.join(stateHome, 'orasfly', 'logs'),
    workHome: path.join(dataHome, 'orasfly'),
    configCandidates: [path.join(configHome, 'orasfly', 'dfget.yaml')],
  };
}
