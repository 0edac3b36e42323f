/**
 * The user's home directory, or `undefined` when there is none: no `HOME` and no passwd entry, as
 * for an arbitrary uid in a container (`docker run -u 12345`). `os.homedir()` throws there
 * (`uv_os_homedir returned ENOENT`), and a pull given every directory it needs must not fail on a
 * default it never uses.
 *
 * @module
 */
import os from 'node:os';

/** `env.HOME`, else the passwd entry's directory, else `undefined`. */
export function homeDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env['HOME'];
  if (set) return set;
  try {
    return os.homedir() || undefined;
  } catch {
    return undefined;
  }
}
