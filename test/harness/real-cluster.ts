/**
 * A real Dragonfly cluster for the interop tests: the Go scheduler and N Rust dfdaemons on
 * 127.0.0.1, started by the shared `up.sh` of `../shared/dragonfly/` (beside the repository, or the
 * directory named by `ORASFLY_DRAGONFLY_DIR`) on free ports, with a short temp `DF_HOME` of its own
 * (unix socket paths stay under 100 bytes), the binaries unpacked into it from
 * `dragonfly-bin.tar.xz`. {@link RealCluster.stop} stops exactly what was started (`down.sh`, which
 * signals only the PIDs `up.sh` wrote) and removes the temp dir.
 *
 * Without the tarball, {@link locateDragonfly} says why, and the tests say that they did not run.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths.js';
import { freePort } from './loopback-server.js';

/** The environment variable naming a directory laid out as `../shared/dragonfly/`. */
export const DRAGONFLY_DIR_ENV = 'ORASFLY_DRAGONFLY_DIR';

/** Where the binaries and scripts are, or why the real-cluster tests cannot run. */
export type DragonflyLocation = { dir: string } | { absent: string };

/**
 * The directory with `up.sh`, `down.sh` and `dragonfly-bin.tar.xz`: `$ORASFLY_DRAGONFLY_DIR` if set,
 * else `../shared/dragonfly` relative to the repository root.
 */
export function locateDragonfly(env: NodeJS.ProcessEnv = process.env): DragonflyLocation {
  const named = env[DRAGONFLY_DIR_ENV];
  const dir = named ? path.resolve(named) : path.resolve(repoRoot, '..', 'shared', 'dragonfly');
  const from = named ? `${DRAGONFLY_DIR_ENV}=${named}` : '../shared/dragonfly beside the repository';
  if (process.platform !== 'linux') return { absent: `the prebuilt Dragonfly binaries are for Linux only` };
  for (const f of ['dragonfly-bin.tar.xz', 'up.sh', 'down.sh'])
    if (!existsSync(path.join(dir, f))) return { absent: `no ${f} in ${from}` };
  return { dir };
}

/** One running dfdaemon. */
export interface RealDaemon {
  readonly index: number;
  /** The download gRPC API (`dfdaemon.v2.DfdaemonDownload`). */
  readonly socketPath: string;
  /** `http://127.0.0.1:PORT`: the daemon's HTTP proxy (rule `blobs/sha256.*`). */
  readonly proxyUrl: string;
  readonly logPath: string;
  readonly storageDir: string;
  /** The daemon's file of a task: `storage/content/tasks/<id:0:3>/<id>`. */
  taskFile(taskId: string): string;
  /** The task ids of the daemon's task files. */
  taskIds(): Promise<string[]>;
  /** The process id (as written by `up.sh`), or undefined once it was killed here. */
  pid(): number | undefined;
  /** Sends `signal` to the daemon (SIGKILL leaves its socket file behind: a dead socket). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A running cluster; see {@link startRealCluster}. */
export interface RealCluster {
  /** The temp `DF_HOME`. */
  readonly home: string;
  /** `127.0.0.1:PORT` */
  readonly scheduler: string;
  readonly schedulerLog: string;
  readonly daemons: readonly RealDaemon[];
  /** The Rust `dfget` binary. */
  readonly dfget: string;
  /** Sends `signal` to the scheduler. */
  killScheduler(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once `file` has a line matching `re` (checked every 50 ms until `timeoutMs`). */
  waitForLog(file: string, re: RegExp, timeoutMs?: number): Promise<string>;
  /** `down.sh`, then the temp dir removed. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startRealCluster}. */
export interface RealClusterOptions {
  /** @defaultValue 2 */
  daemons?: number;
  /** Daemon 0 is a seed peer (`up.sh --seed`). */
  seed?: boolean;
  /** The dfdaemons' log level. @defaultValue 'info' */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

const PORT_STEP = 10; // up.sh: daemon i uses base + 10 i … base + 10 i + 6
const live = new Set<number>();
let exitHook = false;

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port whose daemon ports (TCP +0…+5, UDP +6 for each daemon) were all free a moment ago. */
async function freeBase(daemons: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + PORT_STEP * Math.floor(Math.random() * 3_000);
    let ok = true;
    for (let i = 0; ok && i < daemons; i++) {
      for (let off = 0; ok && off < 6; off++) ok = await tcpFree(base + PORT_STEP * i + off);
      ok &&= await udpFree(base + PORT_STEP * i + 6);
    }
    if (ok) return base;
  }
  throw new Error('no free range of ports for the dfdaemons');
}

function readEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (bounded). */
async function gone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts a scheduler and `daemons` dfdaemons with `up.sh` from `dir` (see {@link locateDragonfly}).
 * Tries other ports if one was taken between the check and the bind. Always `stop()` it.
 */
export async function startRealCluster(dir: string, options: RealClusterOptions = {}): Promise<RealCluster> {
  const n = options.daemons ?? 2;
  // Short: `<home>/run/dfdaemon-N/dfdaemon.sock` must stay under 100 bytes.
  const base = os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp';
  const home = await mkdtemp(path.join(base, 'ofdf-'));
  const env = { ...process.env, DF_HOME: home, DF_BIN: path.join(home, 'bin') };
  const runDir = path.join(home, 'run');
  const pidFiles = [
    path.join(runDir, 'scheduler.pid'),
    ...Array.from({ length: n }, (_, i) => path.join(runDir, `dfdaemon-${i}.pid`)),
  ];
  const track = (): void => {
    for (const f of pidFiles) {
      const pid = readPid(f);
      if (pid) live.add(pid);
    }
    if (!exitHook) {
      exitHook = true;
      // A test process that dies before its `after` hook leaves no daemon behind.
      process.once('exit', () => {
        for (const pid of live) if (alive(pid)) process.kill(pid, 'SIGKILL');
      });
    }
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const r = await run(path.join(dir, 'down.sh'), ['--timeout', '10'], env);
    for (const f of pidFiles) {
      const pid = readPid(f);
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
    live.clear();
    await rm(home, { recursive: true, force: true });
    if (r.code !== 0) throw new Error(`down.sh failed (${r.code}):\n${r.out}`);
  };

  for (let attempt = 0; attempt < 3; attempt++) {
    const schedulerPort = await freePort();
    const basePort = await freeBase(n);
    const args = ['-n', String(n), '--scheduler-port', String(schedulerPort), '--base-port', String(basePort)];
    if (options.seed) args.push('--seed');
    args.push('--log-level', options.logLevel ?? 'info', '--timeout', '60');
    const r = await run(path.join(dir, 'up.sh'), args, env);
    track();
    if (r.code === 0) break;
    // up.sh stops what it started when a later step fails; only a taken port is worth another try.
    if (!/already in use|Address already in use|os error 98/i.test(r.out) || attempt === 2) {
      await stop();
      throw new Error(`up.sh failed (${r.code}):\n${r.out.slice(-4000)}`);
    }
  }
  const e = readEnv(path.join(runDir, 'env'));
  const waitForLog = async (file: string, re: RegExp, timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await readFile(file, 'utf8').catch(() => '');
      const line = text.split('\n').find((l) => re.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`no line matching ${re} in ${file} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const killPid = async (pidFile: string, signal: NodeJS.Signals): Promise<void> => {
    const pid = readPid(pidFile);
    if (!pid || !alive(pid)) throw new Error(`nothing running for ${pidFile}`);
    process.kill(pid, signal);
    if (signal === 'SIGKILL') await gone(pid);
  };
  const daemons: RealDaemon[] = Array.from({ length: n }, (_, i) => {
    const storageDir = e[`DFDAEMON_STORAGE_DIR_${i}`] ?? path.join(runDir, `dfdaemon-${i}`, 'storage');
    const tasks = path.join(storageDir, 'content', 'tasks');
    const pidFile = path.join(runDir, `dfdaemon-${i}.pid`);
    return {
      index: i,
      socketPath: e[`DFDAEMON_SOCK_${i}`]!,
      proxyUrl: e[`DFDAEMON_PROXY_${i}`]!,
      logPath: e[`DFDAEMON_LOG_${i}`] ?? path.join(runDir, `dfdaemon-${i}.log`),
      storageDir,
      taskFile: (id: string) => path.join(tasks, id.slice(0, 3), id),
      taskIds: async () => {
        const shards = await readdir(tasks).catch(() => [] as string[]);
        const ids = await Promise.all(shards.map((s) => readdir(path.join(tasks, s)).catch(() => [] as string[])));
        return ids.flat();
      },
      pid: () => {
        const pid = readPid(pidFile);
        return pid && alive(pid) ? pid : undefined;
      },
      kill: (signal: NodeJS.Signals = 'SIGKILL') => killPid(pidFile, signal),
    };
  });
  return {
    home,
    scheduler: e.SCHEDULER!,
    schedulerLog: e.SCHEDULER_LOG ?? path.join(runDir, 'scheduler.log'),
    daemons,
    dfget: e.DFGET ?? path.join(home, 'bin', 'dfget'),
    killScheduler: (signal: NodeJS.Signals = 'SIGKILL') => killPid(path.join(runDir, 'scheduler.pid'), signal),
    waitForLog,
    stop,
  };
}
