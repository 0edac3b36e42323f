/** Running the built `orasfly` CLI as a child process and inspecting what a run left behind. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

/** The published entry point, as `npm i -g` would run it. */
export const bin = path.join(repoRoot, 'dist', 'cli', 'orasfly.cjs');

/** What one CLI run did. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time, ms. */
  ms: number;
  /** The safety net fired: the child was SIGKILLed after `killAfterMs`. */
  killed: boolean;
}

/** Most output kept per stream: a runaway child must not exhaust the test's memory. */
const MAX_CAPTURE = 4 * 1024 * 1024;

const live = new Set<ChildProcess>();

/** SIGKILLs children still running (for `after` hooks of an interrupted run). */
export function killLiveChildren(): void {
  for (const p of live) p.kill('SIGKILL');
}

/**
 * Runs the CLI with `args` in `env` (the whole environment: nothing is inherited). The child is
 * SIGKILLed after `killAfterMs` — a safety net, reported as `killed`, never a synchronisation.
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, killAfterMs: number): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const p = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(p);
    let stdout = '';
    let stderr = '';
    let killed = false;
    p.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += d.toString('utf8');
    });
    p.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      killed = true;
      p.kill('SIGKILL');
    }, killAfterMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      live.delete(p);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(p);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started), killed });
    });
  });
}

/** Every regular file (and symlink) under `dir`, recursively; `[]` when `dir` does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => {
      const where = e as unknown as { parentPath?: string; path?: string };
      return path.join(where.parentPath ?? where.path ?? dir, e.name);
    });
}

/** Names in `dir`; `[]` when it does not exist. */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export { sha256File } from '../../harness/push.js';

/**
 * The secret strings of a docker config dir: each `auths[*].auth` value, its decoded
 * `user:password`, the user and the password. `[]` when there is no config.
 */
export async function dockerConfigSecrets(dir: string | undefined): Promise<string[]> {
  if (!dir) return [];
  let text: string;
  try {
    text = await readFile(path.join(dir, 'config.json'), 'utf8');
  } catch {
    return [];
  }
  const auths = (JSON.parse(text) as { auths?: Record<string, { auth?: string }> }).auths ?? {};
  const out: string[] = [];
  for (const { auth } of Object.values(auths)) {
    if (!auth) continue;
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    out.push(auth, decoded, decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  return out.filter((s) => s.length >= 4);
}

/** The last non-empty line of `text`, parsed as JSON; `undefined` when it is not JSON. */
export function lastJsonLine(text: string): unknown {
  const line = text.trimEnd().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/** `s` cut to `n` characters for a readable failure message. */
export function clip(s: string, n = 600): string {
  return s.length <= n ? s : `${s.slice(0, n)}… (${s.length} chars)`;
}
