/**
 * Starts a real OCI registry (Debian's `docker-registry`, CNCF distribution 2.8) for integration
 * tests, in one of several flavours: anonymous, htpasswd Basic auth, bearer-token auth with our own
 * token server, TLS with a generated CA, and blob redirects to a second, S3-like origin.
 *
 * Everything a registry needs lives in its own temp dir, so registries never share state and
 * `stop()` leaves nothing behind. Only node built-ins and the system `docker-registry`, `htpasswd`
 * and `openssl` binaries are used.
 *
 * @module
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTlsCerts } from './certs.js';
import { startBlobOrigin, type BlobOrigin } from './blob-origin.js';
import { startTokenServer, type TokenServer } from './token-server.js';
import { freePort } from './loopback-server.js';

export type { BlobOrigin } from './blob-origin.js';
export type { TokenServer, TokenServerOptions } from './token-server.js';
export { startTokenServer } from './token-server.js';
export { freePort } from './loopback-server.js';

const execFileAsync = promisify(execFile);

/** Which kind of registry to start. */
export type RegistryVariant = 'anonymous' | 'basic' | 'token' | 'tls' | 'redirect';

/** Options for {@link startRegistry}. */
export interface StartRegistryOptions {
  /** Default `'anonymous'`. */
  variant?: RegistryVariant;
}

/** A registry process started by {@link startRegistry}. */
export interface RunningRegistry {
  readonly variant: RegistryVariant;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` for the `tls` variant. */
  readonly origin: string;
  /** The registry's temp dir (storage under `storage/`, config, certs, htpasswd). */
  readonly rootDir: string;
  /** The registry process id (to check that `stop()` really ended it). */
  readonly pid: number;
  /** Credentials accepted by the `basic` and `token` variants (random password per run). */
  readonly credentials?: { username: string; password: string };
  /** `tls` variant: PEM file of the CA that signed the server cert (SAN IP:127.0.0.1, DNS:localhost). */
  readonly caFile?: string;
  /** `token` variant: the token server. */
  readonly tokenServer?: TokenServer;
  /** `redirect` variant: where blob GET/HEAD are redirected (307) to. */
  readonly blobOrigin?: BlobOrigin;
  /**
   * `oras://HOST/<repoAndTag>`; `host` defaults to this registry's host (pass a fault proxy's host
   * to route a client through it).
   */
  ref(repoAndTag: string, host?: string): string;
  /** Kills the process by pid (SIGTERM, then SIGKILL), closes helper servers, removes `rootDir`. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const STDERR_TAIL_BYTES = 16 * 1024;

// Registries still running when the test process exits are killed here, so a failing test that
// never reaches its `after` hook does not leak a registry process.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/** Any HTTP answer to `GET /v2/` means the registry is serving. */
function probe(origin: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = origin.startsWith('https:') ? https : http;
    const req = mod.get(`${origin}/v2/`, { ca, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      // Only the registry itself counts: between freePort() and the registry's bind, another
      // server (another test's blob origin or token server) may have taken the port.
      resolve(res.headers['docker-distribution-api-version'] === 'registry/2.0');
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface Spawned {
  child: ChildProcess;
  stderrTail: () => string;
  exited: Promise<void>;
}

function spawnRegistry(configFile: string): Spawned {
  const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  let tail = '';
  // Always drain stderr: a full pipe would block the registry.
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    tail = (tail + s).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
    child.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      resolve();
    });
  });
  return { child, stderrTail: () => tail, exited };
}

async function killChild(s: Spawned): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    s.exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await s.exited;
  }
}

/** Starts the process and waits until `/v2/` answers; rejects with the stderr tail if it dies. */
async function runUntilReady(configFile: string, origin: string, ca: Buffer | undefined): Promise<Spawned> {
  const s = spawnRegistry(configFile);
  let exited = false;
  void s.exited.then(() => (exited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new RegistryExitedError(s.stderrTail());
    if (await probe(origin, ca)) {
      if (exited) throw new RegistryExitedError(s.stderrTail());
      return s;
    }
    // Poll interval, cut short if the process dies meanwhile.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([s.exited, new Promise((r) => (timer = setTimeout(r, 50)))]);
    clearTimeout(timer);
  }
  await killChild(s);
  throw new Error(
    `docker-registry did not answer on ${origin}/v2/ within ${READY_TIMEOUT_MS} ms; stderr:\n${s.stderrTail()}`,
  );
}

class RegistryExitedError extends Error {
  constructor(readonly stderr: string) {
    super(`docker-registry exited before it was ready; stderr:\n${stderr.slice(-4000)}`);
  }
}

/**
 * Starts a registry of the given variant on a free 127.0.0.1 port and waits until it serves.
 * Always `stop()` it (in an `after` hook).
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const variant = options.variant ?? 'anonymous';
  const rootDir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-reg-'));
  const storageDir = path.join(rootDir, 'storage');
  await mkdir(storageDir);
  const helpers: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(helpers.map((h) => h()));
    await rm(rootDir, { recursive: true, force: true });
  };
  try {
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'warn', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
      health: { storagedriver: { enabled: false } },
    };
    const httpConfig: Record<string, unknown> = { secret: randomBytes(16).toString('hex') };
    let credentials: { username: string; password: string } | undefined;
    let caFile: string | undefined;
    let ca: Buffer | undefined;
    let tokenServer: TokenServer | undefined;
    let blobOrigin: BlobOrigin | undefined;

    if (variant === 'basic' || variant === 'token') {
      credentials = { username: 'orasfly', password: randomBytes(12).toString('base64url') };
    }
    if (variant === 'basic' && credentials) {
      const { stdout } = await execFileAsync('htpasswd', ['-Bbn', credentials.username, credentials.password]);
      const file = path.join(rootDir, 'htpasswd');
      await writeFile(file, stdout.trim() + '\n');
      config.auth = { htpasswd: { realm: 'orasfly-test', path: file } };
    } else if (variant === 'token' && credentials) {
      const service = 'orasfly-registry';
      const issuer = 'orasfly-token-issuer';
      const started = await startTokenServer({ dir: rootDir, service, issuer, credentials });
      tokenServer = started.server;
      helpers.push(() => started.server.close());
      config.auth = { token: { realm: tokenServer.realm, service, issuer, rootcertbundle: started.rootCertFile } };
    } else if (variant === 'tls') {
      const certs = await makeTlsCerts(rootDir);
      caFile = certs.caFile;
      ca = await readFile(caFile);
      httpConfig.tls = { certificate: certs.certFile, key: certs.keyFile };
    } else if (variant === 'redirect') {
      blobOrigin = await startBlobOrigin(storageDir);
      helpers.push(() => blobOrigin!.close());
      config.middleware = { storage: [{ name: 'redirect', options: { baseurl: blobOrigin.origin } }] };
    }

    const scheme = variant === 'tls' ? 'https' : 'http';
    const configFile = path.join(rootDir, 'config.yml');
    let spawned: Spawned | undefined;
    let port = 0;
    // The port can be taken between freePort() and the registry's bind: retry with another one.
    for (let attempt = 1; !spawned; attempt++) {
      port = await freePort();
      config.http = { ...httpConfig, addr: `127.0.0.1:${port}` };
      // JSON is YAML, so no YAML writer is needed.
      await writeFile(configFile, JSON.stringify(config, null, 2));
      try {
        spawned = await runUntilReady(configFile, `${scheme}://127.0.0.1:${port}`, ca);
      } catch (err) {
        if (err instanceof RegistryExitedError && /address already in use/i.test(err.stderr) && attempt < 5) continue;
        throw err;
      }
    }
    const s = spawned;
    const host = `127.0.0.1:${port}`;
    let stopped: Promise<void> | undefined;
    const reg: RunningRegistry = {
      variant,
      host,
      origin: `${scheme}://${host}`,
      rootDir,
      pid: s.child.pid ?? -1,
      ...(credentials ? { credentials } : {}),
      ...(caFile !== undefined ? { caFile } : {}),
      ...(tokenServer ? { tokenServer } : {}),
      ...(blobOrigin ? { blobOrigin } : {}),
      ref: (repoAndTag: string, viaHost?: string) => `oras://${viaHost ?? host}/${repoAndTag}`,
      stop: () =>
        (stopped ??= (async () => {
          await killChild(s);
          await cleanup();
        })()),
    };
    return reg;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** True while a process with this pid exists (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
