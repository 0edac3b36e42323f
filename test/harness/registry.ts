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
import { createHash, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Which kind of registry to start. */
export type RegistryVariant = 'anonymous' | 'basic' | 'token' | 'tls' | 'redirect';

/** Options for {@link startRegistry}. */
export interface StartRegistryOptions {
  /** Default `'anonymous'`. */
  variant?: RegistryVariant;
}

/** The small bearer-token server behind the `token` variant. */
export interface TokenServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The realm advertised by the registry: `${url}/token`. */
  readonly realm: string;
  /** The `service` the registry advertises and expects as `aud`. */
  readonly service: string;
  /** Count of token GETs served (any outcome). Writable so tests can reset it to 0. */
  tokenRequests: number;
  /**
   * One entry per token GET: the requested scope(s) joined by a space (`null` when none), and
   * whether the request carried the right Basic credentials.
   */
  requests: Array<{ scope: string | null; authorized: boolean }>;
  close(): Promise<void>;
}

/** The second, S3-like origin blobs are redirected to by the `redirect` variant. */
export interface BlobOrigin {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Count of requests served (any outcome). Writable so tests can reset it to 0. */
  requests: number;
  /** Request header names seen (lower-case), newest request last. */
  readonly headersSeen: string[][];
  close(): Promise<void>;
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

/** A port that was free a moment ago on 127.0.0.1 (the registry needs a number in its config). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function listenLocal(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes an http server and destroys its open (keep-alive) connections so tests can end. */
async function closeHttpServer(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------
// Token server

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `repository:NAME:pull,push`; NAME is everything between the first and the last `:`. */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((a) => a !== ''),
  };
}

/** Options for {@link startTokenServer}. */
export interface TokenServerOptions {
  dir: string;
  service: string;
  issuer: string;
  credentials: { username: string; password: string };
}

/**
 * Starts a bearer-token server (as Docker Hub's auth.docker.io) that signs RS256 JWS with a fresh
 * self-signed key. Returns the server and the PEM path of its cert, the registry's `rootcertbundle`.
 */
export async function startTokenServer(
  opts: TokenServerOptions,
): Promise<{ server: TokenServer; rootCertFile: string }> {
  const keyFile = path.join(opts.dir, 'token-key.pem');
  const certFile = path.join(opts.dir, 'token-cert.pem');
  // Self-signed with CA:TRUE so the cert is its own root in rootcertbundle, and digitalSignature
  // because distribution checks the x5c leaf's key usage.
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=orasfly-test-token-issuer',
      '-addext',
      'keyUsage=critical,digitalSignature,keyCertSign',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
    ],
    opts.dir,
  );
  const keyPem = await readFile(keyFile, 'utf8');
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  // x5c names the key by its certificate chain; distribution verifies it against rootcertbundle.
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
  const expectedAuth = `Basic ${Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64')}`;

  const state = { tokenRequests: 0, requests: [] as Array<{ scope: string | null; authorized: boolean }> };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'GET') {
      // Clients that try the OAuth2 POST flow first fall back to GET on 404/405.
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    state.tokenRequests++;
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter((s) => s !== '');
    const auth = req.headers.authorization;
    const authorized = auth === expectedAuth;
    state.requests.push({ scope: scopes.length > 0 ? scopes.join(' ') : null, authorized });
    // Anonymous requests may get a token with no access (as Docker Hub does for `/v2/`); anything
    // scoped, and any wrong credentials, needs the harness credentials.
    if ((auth !== undefined && !authorized) || (scopes.length > 0 && !authorized)) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="orasfly-token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const access = scopes.map(parseScope).filter((a): a is Access => a !== undefined);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: opts.issuer,
      sub: authorized ? opts.credentials.username : '',
      aud: opts.service,
      exp: now + 300,
      nbf: now - 1,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${header}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(keyPem);
    const token = `${signingInput}.${b64url(signature)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }),
    );
  });
  const port = await listenLocal(server);
  const url = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  const tokenServer: TokenServer = {
    url,
    realm: `${url}/token`,
    service: opts.service,
    get tokenRequests() {
      return state.tokenRequests;
    },
    set tokenRequests(n: number) {
      state.tokenRequests = n;
    },
    get requests() {
      return state.requests;
    },
    set requests(r) {
      state.requests = r;
    },
    close: () => (closed ??= closeHttpServer(server)),
  };
  return { server: tokenServer, rootCertFile: certFile };
}

// ---------------------------------------------------------------------------------------------
// Blob origin (redirect target)

/** Parses a single `bytes=` range against `size`; `undefined` = no usable range, `null` = unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | null | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // several ranges or garbage: serve the whole body, as S3 does
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

/**
 * A static server over the registry's storage dir, standing in for S3/CloudFront: the redirect
 * middleware sends clients to `baseurl` + the storage-driver path of the blob's `data` file.
 */
async function startBlobOrigin(storageDir: string): Promise<BlobOrigin> {
  const state = { requests: 0 };
  const headersSeen: string[][] = [];
  const server = http.createServer((req, res) => {
    state.requests++;
    headersSeen.push(Object.keys(req.headers));
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      // S3 rejects a request that carries both a presigned URL and an Authorization header; a
      // client must drop the registry's credentials when it follows the redirect.
      if (req.headers.authorization !== undefined) {
        res.writeHead(400, { 'Content-Type': 'application/xml' });
        res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
        return;
      }
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const file = path.join(storageDir, pathname);
      if (
        !/^\/docker\/registry\/v2\/blobs\/[a-z0-9]+\/[0-9a-f]{2}\/[0-9a-f]+\/data$/.test(pathname) ||
        !file.startsWith(storageDir + path.sep)
      ) {
        res.writeHead(404).end();
        return;
      }
      let size: number;
      try {
        size = (await stat(file)).size;
      } catch {
        res.writeHead(404, { 'Content-Type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      const etag = `"${createHash('md5').update(pathname).digest('hex')}"`;
      const base = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: etag };
      const range = req.headers.range === undefined ? undefined : parseRange(req.headers.range, size);
      if (range === null) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      const { start, end } = range ?? { start: 0, end: size - 1 };
      const length = size === 0 ? 0 : end - start + 1;
      const headers: http.OutgoingHttpHeaders = { ...base, 'Content-Length': length };
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return;
      }
      const stream = createReadStream(file, { start, end });
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    })().catch(() => res.destroy());
  });
  const port = await listenLocal(server);
  let closed: Promise<void> | undefined;
  return {
    origin: `http://127.0.0.1:${port}`,
    headersSeen,
    get requests() {
      return state.requests;
    },
    set requests(n: number) {
      state.requests = n;
    },
    close: () => (closed ??= closeHttpServer(server)),
  };
}

// ---------------------------------------------------------------------------------------------
// Registry process

async function makeTlsCerts(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  // EC keys: generated instantly, and Go's TLS stack and Node both speak ECDSA.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      caKey,
      '-out',
      caFile,
      '-days',
      '2',
      '-subj',
      '/CN=orasfly test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  // OpenSSL 3's `req -x509 -CA` issues a cert signed by the CA in one step.
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ],
    dir,
  );
  return { caFile, certFile, keyFile };
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
