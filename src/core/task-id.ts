/**
 * Dragonfly-compatible task and peer identities (`pkg/idgen`), so logs, store directories and tools
 * line up with a Dragonfly cluster pulling the same URL.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';

/** The URL meta that takes part in a task id (Dragonfly's `UrlMeta`). */
export interface TaskIdMeta {
  /** Expected content digest, e.g. `sha256:<hex>`. */
  digest?: string | undefined;
  /** Byte range `start-end` (no `bytes=`). */
  range?: string | undefined;
  /** Partitions otherwise identical tasks. */
  tag?: string | undefined;
  /** Caller's application name. */
  application?: string | undefined;
  /** Query keys to drop before hashing, joined by `&` (dfget's `--filter`). */
  filter?: string | undefined;
}

// Go's url.QueryEscape: unreserved = ALPHA / DIGIT / "-" / "_" / "." / "~", space → "+".
function goQueryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Encodes query pairs as Go's `url.Values.Encode` does: keys sorted, values in order.
 * Dragonfly re-encodes queries this way, and task ids hash the result.
 */
export function goEncodeQuery(pairs: Iterable<[string, string]>): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of pairs) {
    const list = byKey.get(k);
    if (list) list.push(v);
    else byKey.set(k, [v]);
  }
  return [...byKey.keys()]
    .sort()
    .flatMap((k) => byKey.get(k)!.map((v) => `${goQueryEscape(k)}=${goQueryEscape(v)}`))
    .join('&');
}

/** Applies dfget's `--filter`: removes the listed query keys and re-encodes what is left. */
export function filterUrl(url: string, filter: string | undefined): string {
  if (!filter) return url;
  const drop = new Set(filter.split('&').filter(Boolean));
  if (drop.size === 0) return url;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hashAt = url.indexOf('#', q);
  const query = url.slice(q + 1, hashAt < 0 ? undefined : hashAt);
  const kept = [...new URLSearchParams(query)].filter(([k]) => !drop.has(k));
  const base = url.slice(0, q);
  const encoded = goEncodeQuery(kept);
  return encoded ? `${base}?${encoded}` : base;
}

/**
 * Dragonfly's task id (v1): lowercase hex SHA-256 over the filtered URL followed, without
 * separators, by the meta digest, range, tag and application when present.
 *
 * @example
 * ```ts
 * import { taskId } from 'orasfly/dragonfly';
 *
 * taskId('https://example.com'); // '100680ad546ce6a577f42f52df33b4cfdca756859e664b8d7de329b150d09ce9'
 * ```
 */
export function taskId(url: string, meta: TaskIdMeta = {}): string {
  const h = createHash('sha256');
  h.update(filterUrl(url, meta.filter));
  for (const part of [meta.digest, meta.range, meta.tag, meta.application]) if (part) h.update(part);
  return h.digest('hex');
}

/** The parent task id: the same without the range (what ranged reuse looks for). */
export function parentTaskId(url: string, meta: TaskIdMeta = {}): string {
  return taskId(url, { ...meta, range: undefined });
}

let cachedIp: string | undefined;

/** The first non-internal IPv4 address of this host, or `127.0.0.1`. */
export function hostIp(): string {
  if (cachedIp) return cachedIp;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) return (cachedIp = a.address);
    }
  }
  return (cachedIp = '127.0.0.1');
}

/** A fresh Dragonfly peer id: `<ip>-<pid>-<uuid v4>`. Every download attempt gets a new one. */
export function peerId(): string {
  return `${hostIp()}-${process.pid}-${randomUUID()}`;
}

/** The request fields that take part in a Dragonfly v2 (Rust dfdaemon) task id. */
export interface TaskIdV2Meta {
  /** `piece_length` of the request, when it sets one. */
  pieceLength?: number | undefined;
  tag?: string | undefined;
  application?: string | undefined;
  /** `filtered_query_params`: query keys dropped (the rest sorted by key) before hashing. */
  filteredQueryParams?: readonly string[] | undefined;
}

/**
 * The task id a Rust dfdaemon (Dragonfly v2) gives a URL-based `STANDARD` task: SHA-256 hex over
 * the canonical URL, then tag, application, the piece length in decimal, and `STANDARD`
 * (dragonflyoss/client `dragonfly-client-util/src/id_generator`). The URL is hashed as given when
 * no query key is filtered; otherwise the filtered keys are dropped, the others sorted by key and
 * re-escaped as Go's `url.QueryEscape`, and segments holding `;` are dropped (`url/mod.rs`). Digest,
 * range and headers are not part of it; orasfly logs it next to its own (v1) id.
 */
export function taskIdV2(url: string, meta: TaskIdV2Meta = {}): string {
  const h = createHash('sha256');
  h.update(canonicalV2Url(url, meta.filteredQueryParams ?? []));
  if (meta.tag !== undefined) h.update(meta.tag);
  if (meta.application !== undefined) h.update(meta.application);
  if (meta.pieceLength !== undefined) h.update(String(meta.pieceLength));
  h.update('STANDARD');
  return h.digest('hex');
}

function canonicalV2Url(url: string, filtered: readonly string[]): string {
  if (filtered.length === 0) return url;
  const u = new URL(url);
  const drop = new Set(filtered);
  const pairs = u.search
    .slice(1)
    .split('&')
    .filter((s) => !s.includes(';'))
    .flatMap((s) => [...new URLSearchParams(s)])
    .filter(([k]) => !drop.has(k));
  // Stable by key only: values of one key keep their order (as Rust's sort_by).
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  u.search = pairs.length ? pairs.map(([k, v]) => `${goQueryEscape(k)}=${goQueryEscape(v)}`).join('&') : '';
  const s = u.toString();
  return u.pathname === '/' && s.endsWith('/') ? s.replace(/\/+$/, '') : s;
}
