/**
 * The user's home directory, or `undefined` when there is none: no usable `HOME` and no passwd
 * entry, as for an arbitrary uid in a container (`docker run -u 12345`). `os.homedir()` throws there
 * (`uv_os_homedir returned ENOENT`), and a pull given every directory it needs must not fail on a
 * default it never uses.
 *
 * @module
 */
import os from 'node:os';
import path from 'node:path';

/**
 * `env.HOME` when it is an absolute path, else the passwd entry's directory, else `undefined`. An
 * empty or relative `HOME` is not used (it would put the store wherever the command runs).
 */
export function homeDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env['HOME'];
  if (set && path.isAbsolute(set)) return set;
  try {
    const entry = os.userInfo().homedir;
    return entry && path.isAbsolute(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** An XDG base directory variable, used only when absolute (as the XDG spec asks). */
export function xdgDirectory(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const set = env[name];
  return set && path.isAbsolute(set) ? set : undefined;
}
