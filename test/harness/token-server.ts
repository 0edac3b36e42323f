/**
 * The bearer-token server behind the harness's `token` registry variant: Basic-authenticated token
 * requests, scopes checked, ES256-signed JWTs the registry verifies with a generated certificate.
 *
 * @module
 */
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { openssl } from './certs.js';
import { closeHttpServer, listenLocal } from './loopback-server.js';

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
