/**
 * The command's V8 code cache: where it lives, whether a file there may be trusted, and how it is
 * written. Used only by the launcher (`launcher.ts`), never by the library.
 *
 * Why: a reuse pull is start-up bound, and compiling the command's JavaScript was a quarter of it.
 * V8 can skip that work with the bytecode of an earlier run (`vm.Script` `cachedData`), the same
 * trick as Node 22's `module.enableCompileCache()`, which Node 20 lacks. The cache is bytecode the
 * process will run, so it is read only from a regular file owned by this user that no one else may
 * write, and named by the digest of the exact source it was made from.
 *
 * @module
 * @internal
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homeDirectory, xdgDirectory } from '../internal/home-dir.js';
import path from 'node:path';

/** Environment variable: `off` (or `0`, `false`, `no`) disables the cache; an absolute path is its directory. */
export const COMPILE_CACHE_ENV = 'ORASFLY_COMPILE_CACHE';

/**
 * Published (node:diagnostics_channel) by the command when a pull was answered from the task store.
 * That is the run whose start-up matters, so the launcher saves the cache after it: a first pull
 * compiles the whole download path too, and deserialising that bigger cache costs more than it saves.
 */
export const REUSE_CHANNEL = 'orasfly:cli-reused';

/**
 * The cache directory, or `undefined` when disabled (or there is no home): `$ORASFLY_COMPILE_CACHE`
 * if it is an absolute path, else `$XDG_CACHE_HOME/orasfly`, else `~/.cache/orasfly`.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const set = env[COMPILE_CACHE_ENV] ?? '';
  if (/^(off|0|false|no)$/i.test(set)) return undefined;
  // Only an absolute directory: a relative one would put a cache wherever the command runs.
  if (path.isAbsolute(set)) return set;
  const xdg = xdgDirectory(env, 'XDG_CACHE_HOME');
  if (xdg) return path.join(xdg, 'orasfly');
  const home = homeDirectory(env);
  return home ? path.join(home, '.cache', 'orasfly') : undefined;
}

/**
 * The cache file for `source` (its text or its file's bytes) on this Node and architecture. V8 checks its own version and flags
 * when it reads a cache, but only the length of the source: the name carries the source's digest so
 * that a changed command never runs the bytecode of another one.
 */
export function compileCacheFile(dir: string, source: string | Uint8Array): string {
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 32);
  return path.join(dir, `v8-${process.version}-${process.arch}-${digest}.bin`);
}

/**
 * The cache's bytes, or `undefined` when there is none or it may not be trusted: not a regular
 * file (a symbolic link is not followed), owned by another user, or writable by group or others.
 */
export function readCompileCache(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` as the cache file (private to this user; a temporary file renamed into place, so
 * that concurrent commands never read half a cache), and removes all but the newest two caches of
 * other builds of the command (or other Nodes). Best effort: a cache that cannot be written is only
 * a slower start.
 */
export function writeCompileCache(file: string, data: Buffer): boolean {
  const dir = path.dirname(file);
  // Random: processes in other PID namespaces may share the directory.
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  let created = false;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    created = true;
    renameSync(tmp, file);
  } catch {
    if (created)
      try {
        unlinkSync(tmp);
      } catch {
        // renamed after all, or removed
      }
    return false;
  }
  try {
    // Caches of other builds (or other Nodes): the newest few stay (two installs used in turn must
    // not evict each other at every run), the rest go.
    const others = readdirSync(dir)
      .filter((n) => n.startsWith('v8-') && n.endsWith('.bin') && n !== path.basename(file))
      .map((n) => ({ n, t: statSync(path.join(dir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { n } of others.slice(KEEP_OTHER_BUILDS)) unlinkSync(path.join(dir, n));
  } catch {
    // another command pruned it first
  }
  return true;
}

/** How many caches of other builds of the command (or of other Nodes) a save keeps. */
const KEEP_OTHER_BUILDS = 2;
