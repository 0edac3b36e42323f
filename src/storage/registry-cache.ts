/**
 * What the store remembers of registries, so a reuse asks them as little as possible: manifests by
 * digest (content-addressed, checked against their digest on every read), the manifest digest a tag
 * pointed at when last seen (with the time), and the scheme a loopback registry answered on. Shared by
 * every process of the store: files written whole (temp file + rename), so a reader sees an old
 * record or a new one, never half of one. Anything unreadable or wrong is a miss, never an error.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errno, writeFileAtomic } from './fs-util.js';

/** A manifest kept by digest. */
export interface CachedManifest {
  readonly bytes: Uint8Array;
  /** The `Content-Type` it was served with (may be empty). */
  readonly mediaType: string;
}

/** Where a tag pointed, and when that was seen (ms since the epoch). */
export interface CachedTag {
  readonly digest: string;
  readonly seenAt: number;
}

const DIGEST_RE = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/** The store's registry records, under `<store>/.registry/`. */
export class RegistryCache {
  readonly #dir: string;
  readonly #now: () => number;

  constructor(storeRoot: string, options: { now?: () => number } = {}) {
    this.#dir = path.join(storeRoot, '.registry');
    this.#now = options.now ?? Date.now;
  }

  /** The manifest with `digest`, if kept and still matching its digest. */
  async manifest(digest: string): Promise<CachedManifest | undefined> {
    if (!DIGEST_RE.test(digest)) return undefined;
    const record = await this.#read(this.#manifestPath(digest));
    if (!record || typeof record['mediaType'] !== 'string' || typeof record['bytes'] !== 'string') return undefined;
    const bytes = Buffer.from(record['bytes'], 'base64');
    const [alg, hex] = digest.split(':') as [string, string];
    // A damaged or tampered file is a miss: the registry is asked again.
    if (createHash(alg).update(bytes).digest('hex') !== hex) return undefined;
    return { bytes, mediaType: record['mediaType'] };
  }

  /** Keeps a manifest that was checked against `digest`. */
  async putManifest(digest: string, m: CachedManifest): Promise<void> {
    if (!DIGEST_RE.test(digest)) return;
    await this.#write(this.#manifestPath(digest), {
      mediaType: m.mediaType,
      bytes: Buffer.from(m.bytes).toString('base64'),
    });
  }

  /** Where `reference` (`registry/repository:tag`) pointed when last seen. */
  async tag(reference: string): Promise<CachedTag | undefined> {
    const r = await this.#read(this.#tagPath(reference));
    if (!r || r['reference'] !== reference || typeof r['digest'] !== 'string' || !DIGEST_RE.test(r['digest']))
      return undefined;
    const seenAt = r['seenAt'];
    if (typeof seenAt !== 'number' || !Number.isFinite(seenAt)) return undefined;
    return { digest: r['digest'], seenAt };
  }

  /** Records that `reference` points at `digest` now. */
  async putTag(reference: string, digest: string): Promise<void> {
    if (!DIGEST_RE.test(digest)) return;
    await this.#write(this.#tagPath(reference), { reference, digest, seenAt: this.#now() });
  }

  /** The scheme a loopback registry at `host` answered on last time, and when. */
  async scheme(host: string): Promise<{ scheme: 'http' | 'https'; seenAt: number } | undefined> {
    const r = await this.#read(this.#hostPath(host));
    const s = r?.['scheme'];
    const seenAt = r?.['seenAt'];
    if (r?.['host'] !== host || (s !== 'http' && s !== 'https') || typeof seenAt !== 'number') return undefined;
    return { scheme: s, seenAt };
  }

  /** Records the scheme `host` answered on now. */
  async putScheme(host: string, scheme: 'http' | 'https'): Promise<void> {
    await this.#write(this.#hostPath(host), { host, scheme, seenAt: this.#now() });
  }

  /**
   * Removes records (and temp files of killed writers) last written before `before` (ms since the
   * epoch): GC calls it with `taskExpireTime`, so the records do not outgrow the entries they serve.
   * A removed record costs the next reuse one request. Returns how many files were removed.
   */
  async sweep(before: number): Promise<number> {
    let removed = 0;
    for (const sub of ['manifests/sha256', 'manifests/sha512', 'tags', 'hosts']) {
      const dir = path.join(this.#dir, sub);
      for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
        const file = path.join(dir, name);
        const st = await fsp.lstat(file).catch(() => undefined);
        if (!st?.isFile() || st.mtimeMs >= before) continue;
        await fsp.unlink(file).then(
          () => removed++,
          () => {},
        );
      }
    }
    return removed;
  }

  #manifestPath(digest: string): string {
    const [alg, hex] = digest.split(':') as [string, string];
    return path.join(this.#dir, 'manifests', alg, hex);
  }

  #tagPath(reference: string): string {
    return path.join(this.#dir, 'tags', createHash('sha256').update(reference).digest('hex'));
  }

  #hostPath(host: string): string {
    return path.join(this.#dir, 'hosts', createHash('sha256').update(host).digest('hex'));
  }

  async #read(p: string): Promise<Record<string, unknown> | undefined> {
    try {
      const v: unknown = JSON.parse(await fsp.readFile(p, 'utf8'));
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  async #write(p: string, record: Record<string, unknown>): Promise<void> {
    // A record is a hint: losing one to a crash costs one request, so no fsync on the reuse path.
    const text = JSON.stringify(record);
    try {
      try {
        // The directory exists but for the first record of its kind: no mkdir on every reuse.
        await writeFileAtomic(p, text, { fsync: false });
      } catch (e) {
        if (errno((e as Error).cause) !== 'ENOENT') throw e;
        await fsp.mkdir(path.dirname(p), { recursive: true, mode: 0o700 });
        await writeFileAtomic(p, text, { fsync: false });
      }
    } catch {
      // A read-only or full store still pulls; it only asks the registry again next time.
    }
  }
}
