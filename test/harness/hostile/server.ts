/**
 * The hostile registry's server: routes `/v2/hostile/<scenario>/…` and `/token/<scenario>` to the
 * scenario's handlers (the defaults serve its artifact correctly), logs every request, and owns the
 * per-start secrets, the docker config and the timers.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { listenOnLoopback } from '../loopback-server.js';
import { authScenarios } from './auth-scenarios.js';
import { blobScenarios } from './blob-scenarios.js';
import { configScenarios } from './config-scenarios.js';
import { KiB, MiB, TAG, artifact, type Artifact } from './content.js';
import { headerScenarios } from './header-scenarios.js';
import { manifestScenarios } from './manifest-scenarios.js';
import { defaultBlob, defaultManifest, distError } from './responses.js';
import type { Ctx, Def, HostileRegistry, HostileRequestLog, HostileScenario, Secrets } from './scenario.js';

/** Every scenario, group by group, in the order the tests list them. */
function scenarioDefs(s: Secrets): Def[] {
  return [...manifestScenarios(), ...blobScenarios(), ...authScenarios(s), ...headerScenarios(), ...configScenarios()];
}

const ROUTE = /^\/v2\/hostile\/([a-z0-9][a-z0-9._-]*)\/(manifests|blobs)\/(.+)$/;
const TOKEN_ROUTE = /^\/token\/([a-z0-9][a-z0-9._-]*)$/;

/**
 * Starts the hostile registry on 127.0.0.1 (a free port). Credentials and the token of the
 * secret-echo scenarios are random per start; their docker config lives in a temp dir removed by
 * `close()`.
 */
export async function startHostileRegistry(): Promise<HostileRegistry> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'orasfly-hostile-registry-'));
  const timers = new Set<NodeJS.Timeout>();
  const requests: HostileRequestLog[] = [];
  const username = `hostile-user-${randomBytes(6).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const secrets: Secrets = {
    username,
    password,
    basic: Buffer.from(`${username}:${password}`).toString('base64'),
    token: `tok-${randomBytes(16).toString('hex')}`,
    dockerConfigDir: path.join(tmp, 'docker'),
  };
  const defs = scenarioDefs(secrets);
  const byName = new Map<string, { def: Def | undefined; a: Artifact; state: Record<string, number> }>();
  for (const def of defs) {
    if (byName.has(def.name)) throw new Error(`duplicate hostile scenario ${def.name}`);
    byName.set(def.name, { def, a: artifact(def.name, def.blobSize ?? 64 * KiB), state: {} });
  }
  const goodArtifact = artifact('good', 3 * MiB);
  byName.set('good', { def: undefined, a: goodArtifact, state: {} });

  let origin = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hostile.invalid');
    const route = ROUTE.exec(url.pathname);
    const tokenRoute = route ? null : TOKEN_ROUTE.exec(url.pathname);
    const name = route?.[1] ?? tokenRoute?.[1];
    const kind: HostileRequestLog['kind'] =
      url.pathname === '/v2/' || url.pathname === '/v2'
        ? 'ping'
        : route
          ? route[2] === 'manifests'
            ? 'manifest'
            : 'blob'
          : tokenRoute
            ? 'token'
            : 'unknown';
    requests.push({
      scenario: name,
      kind,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      range: req.headers.range,
      authorized: req.headers.authorization !== undefined,
    });
    res.on('error', () => {});

    if (kind === 'ping') {
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': 2,
        'Docker-Distribution-API-Version': 'registry/2.0',
      });
      res.end('{}');
      return;
    }
    const entry = name !== undefined ? byName.get(name) : undefined;
    const ctx: Ctx | undefined = entry && {
      req,
      res,
      name: name!,
      ref: route?.[3] ?? '',
      url,
      origin,
      a: entry.a,
      state: entry.state,
      every(ms, fn) {
        const t = setInterval(fn, ms);
        timers.add(t);
        return t;
      },
    };
    if (!ctx || !entry || kind === 'unknown') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
      return;
    }
    const handler =
      kind === 'manifest'
        ? (entry.def?.manifest ?? defaultManifest)
        : kind === 'blob'
          ? (entry.def?.blob ?? defaultBlob)
          : entry.def?.token;
    if (!handler) return distError(ctx, 404, 'NOT_FOUND', 'no token service here');
    handler(ctx);
  });
  const { host, sockets } = await listenOnLoopback(server);
  origin = `http://${host}`;

  await mkdir(secrets.dockerConfigDir, { recursive: true });
  await writeFile(
    path.join(secrets.dockerConfigDir, 'config.json'),
    JSON.stringify({ auths: { [host]: { auth: secrets.basic } } }),
    { mode: 0o600 },
  );

  const ref = (scenario: string): string => `oras://${host}/hostile/${scenario}:${TAG}`;
  const scenarios: HostileScenario[] = defs.map(({ manifest: _m, blob: _b, token: _t, blobSize: _s, ...scenario }) =>
    Object.freeze(scenario),
  );
  let closed: Promise<void> | undefined;
  return {
    origin,
    host,
    ref,
    scenarios: Object.freeze(scenarios),
    good: Object.freeze({
      name: 'good' as const,
      ref: ref('good'),
      digest: goodArtifact.digest,
      size: goodArtifact.size,
    }),
    requests,
    close: () =>
      (closed ??= (async () => {
        for (const t of timers) clearInterval(t);
        timers.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const s of sockets) s.destroy();
        });
        await rm(tmp, { recursive: true, force: true });
      })()),
  };
}
