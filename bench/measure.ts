/**
 * How the benchmarks measure a command: `/usr/bin/time` around it, giving CPU (user + sys) and
 * peak RSS, and medians over runs. Wall time is this process's clock around the run (sub-millisecond):
 * `/usr/bin/time`'s own is in steps of 10 ms, too coarse for a 0.05-0.15 s command such as a reuse.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `orasfly` command as users run it: the built launcher in `dist/cli/`. */
export const ORASFLY_BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dist',
  'cli',
  'orasfly.cjs',
);

/** Where one `orasfly` pull writes: its output, its store and, unless left to the default, its logs. */
export interface PullPlaces {
  out: string;
  store: string;
  log?: string | undefined;
}

/**
 * The argv of one `orasfly` pull, in dfget's form: `<bin> -u <ref> -O <out> --datadir <store> [--logdir <log>] …extra`.
 * The bin runs as an executable, its shell line first, as an installed `orasfly` does (with the
 * node running the bench first on PATH, see {@link measure}).
 */
export function orasflyPull(ref: string, at: PullPlaces, extra: readonly string[] = []): string[] {
  const log = at.log === undefined ? [] : ['--logdir', at.log];
  return [ORASFLY_BIN, '-u', ref, '-O', at.out, '--datadir', at.store, ...log, ...extra];
}

/** One measured run. */
export interface Sample {
  wallMs: number;
  cpuMs: number;
  rssKiB: number;
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const TIME_FORMAT = ['-f', 'TIME %e %U %S %M'];
// The node running the bench is the one an executable's `node` finds.
const ENV = (): NodeJS.ProcessEnv => ({
  ...process.env,
  HOME: os.tmpdir(),
  PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`,
});

function parse(cmd: readonly string[], status: number | null, stdout: string, stderr: string, wallMs: number): Sample {
  if (status !== 0) throw new Error(`${cmd.join(' ')} failed: ${stdout}${stderr}`);
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(stderr);
  if (!m) throw new Error(`no /usr/bin/time line: ${stderr}`);
  return { wallMs, cpuMs: (Number(m[2]) + Number(m[3])) * 1000, rssKiB: Number(m[4]) };
}

/** Runs `argv` under /usr/bin/time (through `sh -c` when a string is given). */
export function measure(argv: string[] | string): Sample {
  const cmd = typeof argv === 'string' ? ['sh', '-c', argv] : argv;
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', [...TIME_FORMAT, ...cmd], { encoding: 'utf8', env: ENV() });
  return parse(cmd, r.status, r.stdout, r.stderr, performance.now() - started);
}

/**
 * {@link measure} without blocking this process: a server running here (the throttling proxy) must
 * keep serving the very command being measured. `unsetEnv` names variables the command runs without.
 */
export function measureAsync(argv: string[] | string, options: { unsetEnv?: readonly string[] } = {}): Promise<Sample> {
  const cmd = typeof argv === 'string' ? ['sh', '-c', argv] : argv;
  const env: NodeJS.ProcessEnv = ENV();
  for (const k of options.unsetEnv ?? []) delete env[k];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const p = spawn('/usr/bin/time', [...TIME_FORMAT, ...cmd], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      try {
        resolve(parse(cmd, code, out, err, performance.now() - started));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Medians of a tool's samples: wall and CPU in ms, peak RSS in MiB. */
export interface Medians {
  wall: number;
  cpu: number;
  rss: number;
}

/** The {@link Medians} of `xs`. */
export function medians(xs: readonly Sample[]): Medians {
  return {
    wall: median(xs.map((x) => x.wallMs)),
    cpu: median(xs.map((x) => x.cpuMs)),
    rss: median(xs.map((x) => x.rssKiB)) / 1024,
  };
}

/**
 * `items` in the order of round `round`: rotated by one place each round, so that over the rounds each
 * item runs in every position and machine noise hits all alike.
 */
export function rotated<T>(items: readonly T[], round: number): T[] {
  return items.map((_, k) => items[(k + round) % items.length]!);
}
