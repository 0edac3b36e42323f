/**
 * A hostile registry: a scripted `node:http` server whose repositories `hostile/<scenario>` (tag
 * `t`) each misbehave in one way — malformed or lying manifests, bad blobs, broken auth, malformed
 * HTTP — so tests can check that a client fails cleanly on every one of them. Every scenario is an
 * expected failure; `hostile/good:t` (a 3 MiB blob served correctly) is the control.
 *
 * Malformed HTTP (bare-LF headers, bad `Content-Length`, a non-HTTP reply, …) is written straight
 * to the request's socket, bypassing Node's response writer, then the socket is ended or reset.
 *
 * Only node built-ins are used. Everything is generated in {@link startHostileRegistry}: importing
 * this module costs nothing.
 *
 * @module
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { listenOnLoopback } from './loopback-server.js';
import { currentPlatform } from '../../src/source/oras/platform.js';

/** Which part of a pull a scenario attacks. `config` scenarios attack the `dfget.yaml` loader. */
export type HostileArea = 'manifest' | 'blob' | 'auth' | 'headers' | 'config';

/** One hostile scenario: the repository `hostile/<name>`, tag `t`. Pulling it must fail cleanly. */
export interface HostileScenario {
  /** Repository `hostile/<name>`. */
  readonly name: string;
  readonly area: HostileArea;
  /** What the registry does wrong. */
  readonly description: string;
  /** The `ERR_ORASFLY_*` code(s) a correct client reports; unset: any `ERR_ORASFLY_*` code. */
  readonly expectCode?: RegExp;
  /** What the error message must say, when that matters. */
  readonly expectMessage?: RegExp;
  /** Extra CLI arguments. */
  readonly args?: readonly string[];
  /**
   * `dfget.yaml` text for the pull (short timeouts, small pieces). For `config` scenarios it is
   * the whole hostile file; their repository serves a good artifact, so accepting the file makes
   * the pull succeed.
   */
  readonly config?: string;
  /** Values that must never appear in any output or log. */
  readonly secrets?: readonly string[];
  /** Extra environment for the client (e.g. `DOCKER_CONFIG` with credentials for this registry). */
  readonly env?: Readonly<Record<string, string>>;
  /** The failure must be reported within this many ms (a client that waits on the server fails). */
  readonly maxMs?: number;
}

/** One request seen by the hostile registry, logged when it arrives. Never holds credentials. */
export interface HostileRequestLog {
  /** The scenario named by the path, if any. */
  readonly scenario: string | undefined;
  readonly kind: 'ping' | 'manifest' | 'blob' | 'token' | 'unknown';
  readonly method: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly range: string | undefined;
  /** Whether an `Authorization` header was sent (its value is never logged). */
  readonly authorized: boolean;
}

/** A running hostile registry; see {@link startHostileRegistry}. */
export interface HostileRegistry {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `oras://127.0.0.1:PORT/hostile/<scenario>:t` (also for `'good'`). */
  ref(scenario: string): string;
  readonly scenarios: readonly HostileScenario[];
  /** The control artifact `hostile/good:t`: a 3 MiB SIF layer served correctly. */
  readonly good: { readonly name: 'good'; readonly ref: string; readonly digest: string; readonly size: number };
  /** Appended as requests arrive. */
  readonly requests: HostileRequestLog[];
  /** Destroys open connections, stops timers, removes the temp dir (docker config). Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Content

const KiB = 1024;
const MiB = 1024 * KiB;
const TAG = 't';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const SIF_LAYER = 'application/vnd.sylabs.sif.layer.v1.sif';
const SIF_CONFIG = 'application/vnd.sylabs.sif.config.v1+json';
const EMPTY_CONFIG = Buffer.from('{}');
const PIB = 1125899906842624;
/** What the 1 PiB scenario serves at most before it resets connections. */
const PIB_SERVE_CAP = 64 * MiB;

const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const CONFIG_DIGEST = sha256(EMPTY_CONFIG);

/** Deterministic pseudo-random bytes for `seed` (AES-256-CTR over zeros). */
function prng(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`orasfly-hostile:${seed}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

const layerDescriptor = (digest: unknown, size: unknown, mediaType = SIF_LAYER): Record<string, unknown> => ({
  mediaType,
  digest,
  size,
  annotations: { 'org.opencontainers.image.title': 'image.sif' },
});

function ociManifest(layers: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: SIF_CONFIG, digest: CONFIG_DIGEST, size: EMPTY_CONFIG.length },
    layers,
    ...extra,
  };
}

/** A scenario's own artifact: a blob and the manifest that names it. */
interface Artifact {
  readonly blob: Buffer;
  readonly digest: string;
  readonly size: number;
  readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
}

function artifact(seed: string, size: number): Artifact {
  const blob = prng(seed, size);
  const digest = sha256(blob);
  const manifestBytes = Buffer.from(JSON.stringify(ociManifest([layerDescriptor(digest, size)])));
  return { blob, digest, size, manifestBytes, manifestDigest: sha256(manifestBytes) };
}

// ---------------------------------------------------------------------------------------------
// Responses

/** One request to a scenario, with what the handlers need. */
interface Ctx {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly name: string;
  /** Manifest reference, blob digest, or the token path's rest. */
  readonly ref: string;
  readonly url: URL;
  readonly origin: string;
  readonly a: Artifact;
  /** Per-scenario counters (requests served, bytes sent, …). */
  readonly state: Record<string, number>;
  /** Registers a timer cleared on close. */
  every(ms: number, fn: () => void): NodeJS.Timeout;
}

type Handler = (c: Ctx) => void;

interface Def extends HostileScenario {
  /** Size of the scenario's own blob. @defaultValue 64 KiB */
  readonly blobSize?: number;
  readonly manifest?: Handler;
  readonly blob?: Handler;
  readonly token?: Handler;
}

function send(c: Ctx, status: number, body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): void {
  const b = Buffer.from(body);
  c.res.writeHead(status, { 'Content-Length': b.length, ...headers });
  c.res.end(c.req.method === 'HEAD' ? undefined : b);
}

function sendJson(c: Ctx, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  send(c, status, typeof body === 'string' ? body : JSON.stringify(body), {
    'Content-Type': 'application/json',
    ...headers,
  });
}

function distError(
  c: Ctx,
  status: number,
  code: string,
  message: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  sendJson(c, status, { errors: [{ code, message }] }, headers);
}

function sendManifest(
  c: Ctx,
  bytes: Buffer | string,
  contentType = OCI_MANIFEST,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const b = Buffer.from(bytes);
  send(c, 200, b, { 'Content-Type': contentType, 'Docker-Content-Digest': sha256(b), ...headers });
}

/** Writes raw bytes to the connection (no HTTP framing by Node), then ends, resets or keeps it. */
function raw(c: Ctx, data: Buffer | string, after: 'end' | 'reset' | 'keep' = 'end'): void {
  const s = c.req.socket;
  s.write(data, () => {
    if (after === 'end') s.end();
    else if (after === 'reset') s.resetAndDestroy();
  });
}

function rawHead(status: string, headers: string[], eol = '\r\n'): string {
  return `HTTP/1.1 ${status}${eol}${headers.map((h) => `${h}${eol}`).join('')}${eol}`;
}

/** `Range: bytes=a-b` (or `a-`) of a `size`-byte blob; `undefined` without a Range header; `null` when unsatisfiable. */
function rangeOf(req: http.IncomingMessage, size: number): { start: number; end: number } | null | undefined {
  const h = req.headers.range;
  if (h === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start > end || start >= size) return null;
  return { start, end };
}

/** Serves `data` as a blob, honouring a single `Range` (206 + `Content-Range`, 416 when unsatisfiable). */
function serveBytes(c: Ctx, data: Buffer, headers: http.OutgoingHttpHeaders = {}): void {
  const r = rangeOf(c.req, data.length);
  const base = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Docker-Content-Digest': sha256(data),
    ...headers,
  };
  if (r === null) return send(c, 416, '', { 'Content-Range': `bytes */${data.length}` });
  if (r === undefined) return send(c, 200, data, base);
  send(c, 206, data.subarray(r.start, r.end + 1), {
    ...base,
    'Content-Range': `bytes ${r.start}-${r.end}/${data.length}`,
  });
}

/** Streams `total` bytes of `fill` (repeated) with backpressure; stops when the client goes away. */
function streamFill(c: Ctx, total: number, fill: Buffer, onChunk?: (n: number) => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !c.res.destroyed) {
      const n = Math.min(fill.length, total - sent);
      sent += n;
      onChunk?.(n);
      if (!c.res.write(n === fill.length ? fill : fill.subarray(0, n))) {
        c.res.once('drain', pump);
        return;
      }
    }
    if (!c.res.destroyed) c.res.end();
  };
  pump();
}

function defaultManifest(c: Ctx): void {
  if (c.ref === TAG || c.ref === c.a.manifestDigest) return sendManifest(c, c.a.manifestBytes);
  distError(c, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
}

function defaultBlob(c: Ctx): void {
  if (c.ref === c.a.digest) return serveBytes(c, c.a.blob);
  if (c.ref === CONFIG_DIGEST) return serveBytes(c, EMPTY_CONFIG);
  distError(c, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
}

/** The tag answers `body` (a manifest document, JSON-encoded unless a string); digests as usual. */
function manifestDoc(body: unknown, contentType = OCI_MANIFEST): Handler {
  return (c) =>
    c.ref === TAG
      ? sendManifest(c, typeof body === 'string' ? body : JSON.stringify(body), contentType)
      : defaultManifest(c);
}

/** The tag answers a manifest whose only layer is `layer` (built from the scenario's artifact). */
function withLayer(layer: (a: Artifact) => Record<string, unknown>): Handler {
  return (c) => (c.ref === TAG ? sendManifest(c, JSON.stringify(ociManifest([layer(c.a)]))) : defaultManifest(c));
}

/** A raw HTTP reply to the manifest request. */
function rawManifest(make: (c: Ctx) => string | Buffer, after: 'end' | 'reset' = 'end'): Handler {
  return (c) => raw(c, make(c), after);
}

const isRangeProbe = (req: http.IncomingMessage): boolean => req.headers.range?.trim() === 'bytes=0-0';

/** Blob requests other than the `bytes=0-0` probe get `piece`; the probe is answered correctly. */
function pieces(piece: Handler): Handler {
  return (c) => (c.ref === c.a.digest && !isRangeProbe(c.req) ? piece(c) : defaultBlob(c));
}

/** Every request for the scenario's blob (the probe included) gets `h`. */
function everyBlob(h: Handler): Handler {
  return (c) => (c.ref === c.a.digest ? h(c) : defaultBlob(c));
}

const SHORT_METADATA = 'oras:\n  responseHeaderTimeout: 1s\n  metadataTimeout: 3s\n';
const code = (...names: string[]): RegExp => new RegExp(`^ERR_ORASFLY_(?:${names.join('|')})$`);

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Secrets {
  username: string;
  password: string;
  basic: string;
  token: string;
  dockerConfigDir: string;
}

function scenarioDefs(s: Secrets): Def[] {
  // The platform the client picks from an index: the client's own rule, not a copy of it.
  const platform = currentPlatform();
  const challenge = (c: Ctx, extra = ''): string =>
    `Bearer realm="${c.origin}/token/${c.name}",service="hostile",scope="repository:hostile/${c.name}:pull"${extra}`;
  const withToken = (c: Ctx, token: string): boolean => c.req.headers.authorization === `Bearer ${token}`;
  /** A bearer-protected manifest: without the scenario's token → 401 challenge; with it → `then`. */
  const bearerGate =
    (then: Handler, token = 'hostile-token'): Handler =>
    (c) =>
      withToken(c, token)
        ? then(c)
        : distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge(c) });
  const tokenJson =
    (token: string): Handler =>
    (c) =>
      sendJson(c, 200, { token, access_token: token, expires_in: 300 });
  const dockerEnv = { DOCKER_CONFIG: s.dockerConfigDir };
  const credSecrets = [s.username, s.password, s.basic];

  return [
    // ---- manifests ------------------------------------------------------------------------------
    {
      name: 'manifest-not-json',
      area: 'manifest',
      description: 'the manifest body is not JSON',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc('this is not JSON {"schemaVersion":2'),
    },
    {
      name: 'manifest-json-array',
      area: 'manifest',
      description: 'the manifest is a JSON array',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc('[{"schemaVersion":2,"layers":[]}]'),
    },
    {
      name: 'manifest-huge-chunked',
      area: 'manifest',
      description: 'a 6 MiB manifest streamed chunked (no Content-Length), over the 4 MiB limit',
      expectCode: code('SIZE_LIMIT'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        c.res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
        c.res.write(`{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","annotations":{"pad":"`);
        streamFill(c, 6 * MiB, Buffer.alloc(64 * KiB, 'a'));
      },
    },
    {
      name: 'manifest-huge-declared',
      area: 'manifest',
      description: 'a manifest whose Content-Length declares 6 MiB (body streamed), over the 4 MiB limit',
      expectCode: code('SIZE_LIMIT'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        c.res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Content-Length': 6 * MiB });
        streamFill(c, 6 * MiB, Buffer.alloc(64 * KiB, ' '));
      },
    },
    {
      name: 'manifest-digest-mismatch',
      area: 'manifest',
      description: 'an index names a manifest by digest; fetching that digest returns a different manifest',
      expectCode: code('DIGEST_MISMATCH'),
      manifest: (c) => {
        const other = Buffer.from(
          JSON.stringify(ociManifest([layerDescriptor(c.a.digest, c.a.size)], { annotations: { swapped: 'yes' } })),
        );
        if (c.ref === TAG)
          return sendManifest(
            c,
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              manifests: [
                { mediaType: OCI_MANIFEST, digest: c.a.manifestDigest, size: c.a.manifestBytes.length, platform },
              ],
            }),
            OCI_INDEX,
          );
        if (c.ref === c.a.manifestDigest)
          return sendManifest(c, other, OCI_MANIFEST, { 'Docker-Content-Digest': c.a.manifestDigest });
        defaultManifest(c);
      },
    },
    {
      name: 'manifest-docker-content-digest-lies',
      area: 'manifest',
      description: 'a valid manifest whose Docker-Content-Digest header names other bytes',
      expectCode: code('DIGEST_MISMATCH'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(c, c.a.manifestBytes, OCI_MANIFEST, { 'Docker-Content-Digest': sha256('something else') })
          : defaultManifest(c),
    },
    {
      name: 'manifest-unknown-media-type',
      area: 'manifest',
      description: 'the manifest declares mediaType application/vnd.evil.manifest+json',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify(
                ociManifest([layerDescriptor(c.a.digest, c.a.size)], {
                  mediaType: 'application/vnd.evil.manifest+json',
                }),
              ),
              'application/vnd.evil.manifest+json',
            )
          : defaultManifest(c),
    },
    {
      name: 'manifest-schema-v1',
      area: 'manifest',
      description: 'a Docker schemaVersion 1 (signed) manifest',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: manifestDoc(
        {
          schemaVersion: 1,
          name: 'hostile/manifest-schema-v1',
          tag: TAG,
          architecture: 'amd64',
          fsLayers: [{ blobSum: sha256('x') }],
          history: [],
          signatures: [],
        },
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ),
    },
    {
      name: 'manifest-no-layers',
      area: 'manifest',
      description: 'an image manifest with layers: []',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc(ociManifest([])),
    },
    {
      name: 'layer-size-negative',
      area: 'manifest',
      description: 'the layer declares size -1',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor(a.digest, -1)),
    },
    {
      name: 'layer-size-string',
      area: 'manifest',
      description: 'the layer declares size "65536" (a string)',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor(a.digest, String(a.size))),
    },
    {
      name: 'layer-size-beyond-2p53',
      area: 'manifest',
      description: 'the layer declares size 9007199254740993 (2^53+1, not a safe integer)',
      expectCode: code('MANIFEST'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify(ociManifest([layerDescriptor(c.a.digest, 0)])).replace(
                '"size":0',
                '"size":9007199254740993',
              ),
            )
          : defaultManifest(c),
    },
    {
      name: 'layer-size-1pib',
      area: 'manifest',
      description:
        'the layer declares 1 PiB with a real-looking sha256; the range probe agrees ' +
        '(bytes 0-0/1125899906842624), pieces are zeros (64 MiB at most, then resets)',
      // Refused up front (no room, or over a size limit); a storage error is acceptable too.
      expectCode: code('STORAGE_QUOTA', 'SIZE_LIMIT', 'STORAGE', 'MANIFEST'),
      manifest: withLayer(() => layerDescriptor(sha256('one pebibyte'), PIB)),
      blob: (c) => {
        if (c.ref !== sha256('one pebibyte')) return defaultBlob(c);
        const r = rangeOf(c.req, PIB);
        if (r === null) return send(c, 416, '', { 'Content-Range': `bytes */${PIB}` });
        const start = r?.start ?? 0;
        const end = r?.end ?? PIB - 1;
        const length = end - start + 1;
        const served = c.state['served'] ?? 0;
        if (served >= PIB_SERVE_CAP) return void c.req.socket.resetAndDestroy();
        c.res.writeHead(r ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': length,
          ...(r ? { 'Content-Range': `bytes ${start}-${end}/${PIB}` } : {}),
        });
        const budget = Math.min(length, PIB_SERVE_CAP - served);
        streamFill(c, budget, Buffer.alloc(64 * KiB), (n) => (c.state['served'] = (c.state['served'] ?? 0) + n));
        if (budget < length) c.res.once('finish', () => c.req.socket.resetAndDestroy());
      },
    },
    {
      name: 'layer-digest-malformed',
      area: 'manifest',
      description: 'the layer digest is sha256:xyz',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor('sha256:xyz', a.size)),
    },
    {
      name: 'layer-digest-md5',
      area: 'manifest',
      description: 'the layer digest is md5:d41d8cd98f00b204e9800998ecf8427e',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: withLayer((a) => layerDescriptor('md5:d41d8cd98f00b204e9800998ecf8427e', a.size)),
    },
    {
      name: 'layer-digest-traversal',
      area: 'manifest',
      description: 'the layer digest is sha256:../../../../etc/passwd',
      expectCode: code('MANIFEST'),
      manifest: withLayer((a) => layerDescriptor('sha256:../../../../etc/passwd', a.size)),
    },
    {
      name: 'index-999-platforms',
      area: 'manifest',
      description: 'an index of 999 platforms, none of them the running one (the error must stay short)',
      expectCode: code('MANIFEST'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        const manifests = Array.from({ length: 999 }, (_, i) => ({
          mediaType: OCI_MANIFEST,
          digest: sha256(`p${i}`),
          size: 100,
          platform: { os: `plan9-${i}`, architecture: `arch-with-a-long-name-${i}`, variant: `v${i}` },
        }));
        sendManifest(c, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), OCI_INDEX);
      },
    },
    {
      name: 'index-nested',
      area: 'manifest',
      description: 'an index whose entry for the running platform is another index',
      expectCode: code('MANIFEST', 'UNSUPPORTED'),
      manifest: (c) => {
        const inner = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_INDEX,
            manifests: [
              { mediaType: OCI_MANIFEST, digest: c.a.manifestDigest, size: c.a.manifestBytes.length, platform },
            ],
          }),
        );
        if (c.ref === TAG)
          return sendManifest(
            c,
            JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_INDEX,
              manifests: [{ mediaType: OCI_INDEX, digest: sha256(inner), size: inner.length, platform }],
            }),
            OCI_INDEX,
          );
        if (c.ref === sha256(inner)) return sendManifest(c, inner, OCI_INDEX);
        defaultManifest(c);
      },
    },
    {
      name: 'index-missing-child',
      area: 'manifest',
      description: 'an index whose entry for the running platform is not in the registry (404 MANIFEST_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE', 'MANIFEST'),
      manifest: (c) =>
        c.ref === TAG
          ? sendManifest(
              c,
              JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_INDEX,
                manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('missing'), size: 500, platform }],
              }),
              OCI_INDEX,
            )
          : defaultManifest(c),
    },
    {
      name: 'manifest-404',
      area: 'manifest',
      description: 'the tag is unknown (404 MANIFEST_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE'),
      manifest: (c) => distError(c, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'),
    },
    {
      name: 'manifest-500-forever',
      area: 'manifest',
      description: 'every manifest request answers 500',
      expectCode: code('REGISTRY_RESPONSE'),
      manifest: (c) => distError(c, 500, 'UNKNOWN', 'internal server error'),
    },
    {
      name: 'manifest-truncated-close',
      area: 'manifest',
      description: 'the manifest declares Content-Length 4096, sends 100 bytes and closes the connection',
      expectCode: code('NETWORK', 'SIZE_MISMATCH', 'MANIFEST'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Content-Length: 4096'])),
          c.a.manifestBytes.subarray(0, 100),
        ]),
      ),
    },
    {
      name: 'manifest-deep-nesting',
      area: 'manifest',
      description: 'the manifest is 100000 nested JSON arrays',
      expectCode: code('MANIFEST'),
      manifest: manifestDoc(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    },
    {
      name: 'manifest-headers-never',
      area: 'manifest',
      description: 'manifest requests are accepted but never answered',
      expectCode: code('TIMEOUT'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: () => {},
    },

    // ---- blobs ------------------------------------------------------------------------------------
    {
      name: 'blob-wrong-bytes',
      area: 'blob',
      description: 'the blob is served with the right length, ranges honoured, but other bytes',
      expectCode: code('DIGEST_MISMATCH'),
      blob: everyBlob((c) => serveBytes(c, prng('not the blob', c.a.size))),
    },
    {
      name: 'blob-short-body',
      area: 'blob',
      description: 'every piece declares its full Content-Length, sends half of it, then closes (FIN)',
      expectCode: code('TASK_FAILED', 'NETWORK', 'SIZE_MISMATCH'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        const len = r.end - r.start + 1;
        const head = rawHead(c.req.headers.range ? '206 Partial Content' : '200 OK', [
          'Content-Type: application/octet-stream',
          `Content-Length: ${len}`,
          ...(c.req.headers.range ? [`Content-Range: bytes ${r.start}-${r.end}/${c.a.size}`] : []),
        ]);
        raw(c, Buffer.concat([Buffer.from(head), c.a.blob.subarray(r.start, r.start + Math.floor(len / 2))]), 'end');
      }),
    },
    {
      name: 'blob-long-body-chunked',
      area: 'blob',
      description: 'every piece is sent chunked (no Content-Length) with 4 KiB more than asked for',
      expectCode: code('SIZE_MISMATCH', 'TASK_FAILED', 'DIGEST_MISMATCH'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        c.res.writeHead(c.req.headers.range ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
        c.res.end(Buffer.concat([c.a.blob.subarray(r.start, r.end + 1), prng('extra', 4 * KiB)]));
      }),
    },
    {
      name: 'blob-long-body-declared',
      area: 'blob',
      description: 'every piece declares (and sends) 4 KiB more than its Content-Range span',
      expectCode: code('SIZE_MISMATCH', 'TASK_FAILED', 'RANGE_NOT_SUPPORTED'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        const body = Buffer.concat([c.a.blob.subarray(r.start, r.end + 1), prng('extra', 4 * KiB)]);
        send(c, c.req.headers.range ? 206 : 200, body, {
          'Content-Type': 'application/octet-stream',
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
      }),
    },
    {
      name: 'blob-ignores-range-wrong-bytes',
      area: 'blob',
      description: 'every blob request gets 200 with the whole blob (Range ignored), one byte flipped',
      expectCode: code('DIGEST_MISMATCH'),
      blob: everyBlob((c) => {
        const b = Buffer.from(c.a.blob);
        b[b.length >> 1]! ^= 0xff;
        send(c, 200, b, { 'Content-Type': 'application/octet-stream' });
      }),
    },
    {
      name: 'blob-content-range-lies',
      area: 'blob',
      description:
        '16 KiB pieces of a 64 KiB blob: each 206 names the requested span but carries the bytes of offset 0',
      expectCode: code('DIGEST_MISMATCH'),
      config: 'download:\n  pieceSize: 16Ki\n',
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size);
        if (!r) return send(c, 200, prng('not the blob', c.a.size), { 'Content-Type': 'application/octet-stream' });
        send(c, 206, c.a.blob.subarray(0, r.end - r.start + 1), {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}`,
        });
      }),
    },
    {
      name: 'blob-size-disagrees',
      area: 'blob',
      description:
        'every blob response says the blob has 1000 bytes more than the manifest (Content-Range total, Content-Length)',
      expectCode: code('SIZE_MISMATCH', 'RANGE_NOT_SUPPORTED', 'TASK_FAILED'),
      blob: everyBlob((c) => {
        const bigger = Buffer.concat([c.a.blob, Buffer.alloc(1000)]);
        const r = rangeOf(c.req, bigger.length);
        if (!r) return send(c, 200, bigger, { 'Content-Type': 'application/octet-stream' });
        send(c, 206, bigger.subarray(r.start, r.end + 1), {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `bytes ${r.start}-${r.end}/${bigger.length}`,
        });
      }),
    },
    {
      name: 'blob-404',
      area: 'blob',
      description: 'the blob is unknown (404 BLOB_UNKNOWN)',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) => distError(c, 404, 'BLOB_UNKNOWN', 'blob unknown to registry')),
    },
    {
      name: 'blob-trickle',
      area: 'blob',
      description: 'pieces trickle at 1 byte per second (the low-speed rule must retry, then fail)',
      expectCode: code('TIMEOUT', 'TASK_FAILED', 'NETWORK'),
      config: 'download:\n  lowSpeedLimit: 1Ki\n  lowSpeedTime: 1s\n  pieceSize: 32Ki\n',
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        c.res.writeHead(c.req.headers.range ? 206 : 200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': r.end - r.start + 1,
          ...(c.req.headers.range ? { 'Content-Range': `bytes ${r.start}-${r.end}/${c.a.size}` } : {}),
        });
        let at = r.start;
        const timer = c.every(1000, () => {
          if (c.res.destroyed || at > r.end) return clearInterval(timer);
          c.res.write(c.a.blob.subarray(at, at + 1));
          at++;
        });
        c.res.once('close', () => clearInterval(timer));
        c.res.write(c.a.blob.subarray(at, at + 1));
        at++;
      }),
    },
    {
      name: 'blob-headers-never',
      area: 'blob',
      description: 'blob requests (the range probe included) are accepted but never answered',
      expectCode: code('TIMEOUT', 'TASK_FAILED', 'NETWORK'),
      config: 'oras:\n  responseHeaderTimeout: 1s\n',
      blob: everyBlob(() => {}),
    },
    {
      name: 'blob-redirect-file',
      area: 'blob',
      description: 'blob requests are redirected (307) to file:///etc/passwd',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED', 'NETWORK'),
      expectMessage: /redirect to a non-HTTP URL refused/,
      blob: everyBlob((c) => send(c, 307, '', { Location: 'file:///etc/passwd' })),
    },
    {
      name: 'blob-redirect-ftp',
      area: 'blob',
      description: 'blob requests are redirected (302) to ftp://127.0.0.1/blob',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED', 'NETWORK'),
      expectMessage: /redirect to a non-HTTP URL refused/,
      blob: everyBlob((c) => send(c, 302, '', { Location: 'ftp://127.0.0.1/blob' })),
    },
    {
      name: 'blob-redirect-loop',
      area: 'blob',
      description: 'blob requests redirect (307) to themselves, forever',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) =>
        send(c, 307, '', { Location: `${c.url.pathname}?hop=${(c.state['hops'] = (c.state['hops'] ?? 0) + 1)}` }),
      ),
    },
    {
      name: 'blob-reset-mid-body',
      area: 'blob',
      description: 'every piece sends its headers and half its body, then resets the connection (RST)',
      expectCode: code('TASK_FAILED', 'NETWORK'),
      blob: pieces((c) => {
        const r = rangeOf(c.req, c.a.size) ?? { start: 0, end: c.a.size - 1 };
        const len = r.end - r.start + 1;
        const head = rawHead(c.req.headers.range ? '206 Partial Content' : '200 OK', [
          'Content-Type: application/octet-stream',
          `Content-Length: ${len}`,
          ...(c.req.headers.range ? [`Content-Range: bytes ${r.start}-${r.end}/${c.a.size}`] : []),
        ]);
        raw(c, Buffer.concat([Buffer.from(head), c.a.blob.subarray(r.start, r.start + Math.floor(len / 2))]), 'reset');
      }),
    },
    {
      name: 'blob-503-retry-after-huge',
      area: 'blob',
      description: 'blob requests answer 503 with Retry-After: 99999999 (the client must give up, not wait)',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      maxMs: 10_000,
      blob: everyBlob((c) =>
        distError(c, 503, 'UNAVAILABLE', 'come back in three years', { 'Retry-After': '99999999' }),
      ),
    },
    {
      name: 'blob-429-forever',
      area: 'blob',
      description: 'blob requests answer 429 with Retry-After: 1, forever',
      expectCode: code('REGISTRY_RESPONSE', 'TASK_FAILED'),
      blob: everyBlob((c) => distError(c, 429, 'TOOMANYREQUESTS', 'rate limit exceeded', { 'Retry-After': '1' })),
    },
    {
      name: 'layer-size-zero-wrong-digest',
      area: 'blob',
      description: 'the layer declares size 0 but a digest of non-empty content (the blob is served in full)',
      expectCode: code('DIGEST_MISMATCH', 'SIZE_MISMATCH', 'TASK_FAILED'),
      manifest: withLayer((a) => layerDescriptor(a.digest, 0)),
    },

    // ---- auth -------------------------------------------------------------------------------------
    {
      name: 'auth-401-no-challenge',
      area: 'auth',
      description: '401 without WWW-Authenticate',
      expectCode: code('AUTH'),
      manifest: (c) => distError(c, 401, 'UNAUTHORIZED', 'authentication required'),
    },
    {
      name: 'auth-bearer-no-realm',
      area: 'auth',
      description: 'a Bearer challenge without realm',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer service="hostile",scope="repository:x:pull"',
        }),
    },
    {
      name: 'auth-realm-not-url',
      area: 'auth',
      description: 'a Bearer challenge whose realm is not a URL',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer realm="not a url at all",service="hostile"',
        }),
    },
    {
      name: 'auth-realm-file-url',
      area: 'auth',
      description: 'a Bearer challenge whose realm is file:///etc/passwd',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer realm="file:///etc/passwd",service="hostile"',
        }),
    },
    {
      name: 'auth-token-not-json',
      area: 'auth',
      description: 'the token endpoint answers 200 with HTML',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => send(c, 200, '<html><body>login</body></html>', { 'Content-Type': 'application/json' }),
    },
    {
      name: 'auth-token-no-token',
      area: 'auth',
      description: 'the token endpoint answers JSON without token or access_token',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => sendJson(c, 200, { tokne: 'typo', expires_in: 300 }),
    },
    {
      name: 'auth-token-huge',
      area: 'auth',
      description: 'the token endpoint streams an 8 MiB body (chunked)',
      expectCode: code('AUTH', 'SIZE_LIMIT'),
      manifest: bearerGate(defaultManifest),
      token: (c) => {
        c.res.writeHead(200, { 'Content-Type': 'application/json' });
        c.res.write('{"token":"');
        streamFill(c, 8 * MiB, Buffer.alloc(64 * KiB, 'A'));
      },
    },
    {
      name: 'auth-token-500',
      area: 'auth',
      description: 'the token endpoint answers 500, forever',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => distError(c, 500, 'UNKNOWN', 'token service down'),
    },
    {
      name: 'auth-token-truncated',
      area: 'auth',
      description: 'the token response declares Content-Length 4096, sends 20 bytes and closes the connection',
      expectCode: code('AUTH', 'NETWORK'),
      manifest: bearerGate(defaultManifest),
      token: (c) =>
        raw(c, `${rawHead('200 OK', ['Content-Type: application/json', 'Content-Length: 4096'])}{"token":"hostile-to`),
    },
    {
      name: 'auth-token-rejected-forever',
      area: 'auth',
      description: 'a token is issued, but the registry rejects it (401 error="invalid_token"), forever',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'token rejected', {
          'WWW-Authenticate': challenge(c, c.req.headers.authorization ? ',error="invalid_token"' : ''),
        }),
      token: tokenJson('hostile-token'),
    },
    {
      name: 'auth-token-hangs',
      area: 'auth',
      description: 'the token endpoint accepts requests and never answers',
      expectCode: code('TIMEOUT', 'AUTH'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: bearerGate(defaultManifest),
      token: () => {},
    },
    {
      name: 'auth-challenge-moves',
      area: 'auth',
      description: 'each 401 names a new realm (/token/<name>?round=N), forever',
      expectCode: code('AUTH'),
      manifest: (c) => {
        const round = (c.state['round'] = (c.state['round'] ?? 0) + 1);
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': `Bearer realm="${c.origin}/token/${c.name}?round=${round}",service="hostile"`,
        });
      },
      token: tokenJson('hostile-token'),
    },
    {
      name: 'auth-basic-no-credentials',
      area: 'auth',
      description: 'a Basic challenge, and the client has no credentials',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="hostile"' }),
    },
    {
      name: 'auth-secrets-echoed',
      area: 'auth',
      description:
        'bearer flow with docker-config credentials; the token is accepted, then a 403 echoes the Basic credentials and the token in its error message',
      expectCode: code('AUTH'),
      env: dockerEnv,
      secrets: [...credSecrets, s.token],
      manifest: (c) => {
        if (!withToken(c, s.token))
          return distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge(c) });
        sendJson(c, 403, {
          errors: [
            {
              code: 'DENIED',
              message:
                `user ${s.username} (password ${s.password}, Authorization: Basic ` +
                `${s.basic}) holding ${c.req.headers.authorization ?? ''} may not pull hostile/${c.name}`,
              detail: { authorization: c.req.headers.authorization, basic: s.basic, token: s.token },
            },
          ],
        });
      },
      token: (c) => {
        if (c.req.headers.authorization !== `Basic ${s.basic}`)
          return distError(c, 401, 'UNAUTHORIZED', `bad credentials: ${c.req.headers.authorization ?? 'none'}`, {
            'WWW-Authenticate': 'Basic realm="hostile-token"',
          });
        tokenJson(s.token)(c);
      },
    },
    {
      name: 'auth-basic-rejected-echo',
      area: 'auth',
      description:
        'a Basic challenge; the docker-config credentials are sent and rejected (401) by a body that echoes them, forever',
      expectCode: code('AUTH'),
      env: dockerEnv,
      secrets: credSecrets,
      manifest: (c) => {
        const sent = c.req.headers.authorization ?? '';
        const decoded = sent.startsWith('Basic ') ? Buffer.from(sent.slice(6), 'base64').toString('utf8') : '';
        distError(c, 401, 'UNAUTHORIZED', `credentials ${JSON.stringify(decoded)} (${sent}) rejected`, {
          'WWW-Authenticate': 'Basic realm="hostile"',
        });
      },
    },

    // ---- malformed HTTP -------------------------------------------------------------------------
    {
      name: 'headers-bare-lf',
      area: 'headers',
      description: 'the manifest response uses bare LF line endings',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, `Content-Length: ${c.a.manifestBytes.length}`], '\n'),
          ),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-content-length-abc',
      area: 'headers',
      description: 'the manifest response has Content-Length: abc',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Content-Length: abc'])),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-content-length-negative',
      area: 'headers',
      description: 'the manifest response has Content-Length: -1',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Content-Length: -1'])),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-content-length-conflict',
      area: 'headers',
      description: 'the manifest response has two conflicting Content-Length headers',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [
              `Content-Type: ${OCI_MANIFEST}`,
              `Content-Length: ${c.a.manifestBytes.length}`,
              `Content-Length: ${c.a.manifestBytes.length + 7}`,
            ]),
          ),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-chunked-and-length',
      area: 'headers',
      description: 'the manifest response has both Transfer-Encoding: chunked and Content-Length',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) => {
        const m = c.a.manifestBytes;
        return Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [
              `Content-Type: ${OCI_MANIFEST}`,
              `Content-Length: ${m.length}`,
              'Transfer-Encoding: chunked',
            ]),
          ),
          Buffer.from(`${m.length.toString(16)}\r\n`),
          m,
          Buffer.from('\r\n0\r\n\r\n'),
        ]);
      }),
    },
    {
      name: 'headers-chunk-size-garbage',
      area: 'headers',
      description: 'the chunked manifest body has chunk size "zz"',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(rawHead('200 OK', [`Content-Type: ${OCI_MANIFEST}`, 'Transfer-Encoding: chunked'])),
          Buffer.from('zz\r\n'),
          c.a.manifestBytes,
          Buffer.from('\r\n0\r\n\r\n'),
        ]),
      ),
    },
    {
      name: 'headers-non-http',
      area: 'headers',
      description: 'the server answers SSH-2.0-OpenSSH_9.6 and closes',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest(() => 'SSH-2.0-OpenSSH_9.6\r\n'),
    },
    {
      name: 'headers-status-garbage',
      area: 'headers',
      description: 'the status line is "HTTP/1.1 abc OK"',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(
            rawHead('abc OK', [`Content-Type: ${OCI_MANIFEST}`, `Content-Length: ${c.a.manifestBytes.length}`]),
          ),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-over-64k',
      area: 'headers',
      description: 'the manifest response has a 70 KiB header',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [
              `Content-Type: ${OCI_MANIFEST}`,
              `X-Padding: ${'p'.repeat(70 * KiB)}`,
              `Content-Length: ${c.a.manifestBytes.length}`,
            ]),
          ),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-nul-byte',
      area: 'headers',
      description: 'a manifest response header value contains a NUL byte',
      expectCode: code('NETWORK', 'REGISTRY_RESPONSE'),
      manifest: rawManifest((c) =>
        Buffer.concat([
          Buffer.from(
            rawHead('200 OK', [
              `Content-Type: ${OCI_MANIFEST}`,
              'X-Evil: a\0b',
              `Content-Length: ${c.a.manifestBytes.length}`,
            ]),
          ),
          c.a.manifestBytes,
        ]),
      ),
    },
    {
      name: 'headers-content-type-lies',
      area: 'headers',
      description: 'an image manifest without mediaType, served as Content-Type: OCI index',
      expectCode: code('MANIFEST'),
      manifest: (c) => {
        if (c.ref !== TAG) return defaultManifest(c);
        const { mediaType: _drop, ...noType } = ociManifest([layerDescriptor(c.a.digest, c.a.size)]);
        sendManifest(c, JSON.stringify(noType), OCI_INDEX);
      },
    },
    {
      name: 'headers-location-garbage',
      area: 'headers',
      description: 'the manifest request is redirected (307) to "http://[::1" (not a URL)',
      expectCode: code('REGISTRY_RESPONSE', 'NETWORK'),
      manifest: (c) => send(c, 307, '', { Location: 'http://[::1' }),
    },
    {
      name: 'headers-100-continue-flood',
      area: 'headers',
      description: 'the server sends "100 Continue" interim responses every 100 ms and never a final one',
      expectCode: code('TIMEOUT', 'NETWORK'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: (c) => {
        const s = c.req.socket;
        const timer = c.every(100, () => {
          if (s.destroyed) return clearInterval(timer);
          s.write('HTTP/1.1 100 Continue\r\n\r\n');
        });
        s.once('close', () => clearInterval(timer));
      },
    },

    // ---- dfget.yaml ---------------------------------------------------------------------------------
    {
      name: 'config-alias-bomb',
      area: 'config',
      description:
        'a ~500-byte dfget.yaml with a 9-level alias bomb (9^9 elements) under an unknown key and under storage.dataPath',
      expectCode: code('CONFIG'),
      config: aliasBomb(),
    },
    {
      name: 'config-20mib',
      area: 'config',
      description: 'a 20 MiB dfget.yaml (valid YAML: a small storage block and 20 MiB of comments)',
      expectCode: code('CONFIG'),
      config: `storage:\n  multiplex: true\n${`# ${'x'.repeat(1021)}\n`.repeat(20 * 1024)}`,
    },
  ];
}

/** `a: &a [x × 9]`, `b: &b [*a × 9]`, … 9 levels, referenced by an unknown key and by `storage.dataPath`. */
function aliasBomb(): string {
  const names = 'abcdefghi';
  const lines = [`a: &a [${Array(9).fill('x').join(',')}]`];
  for (let i = 1; i < names.length; i++)
    lines.push(
      `${names[i]}: &${names[i]} [${Array(9)
        .fill(`*${names[i - 1]}`)
        .join(',')}]`,
    );
  lines.push('unknownBomb: *i', 'storage:', '  dataPath: *i', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Server

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
