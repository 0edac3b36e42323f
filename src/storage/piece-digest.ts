/**
 * Per-piece checksums (`crc32:xxxxxxxx` or `md5:<hex>`) and Dragonfly's `pieceMd5Sign`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { requireBuiltin } from '../internal/node-require.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { PieceDigestAlgorithm } from './options.js';

/** An incremental piece hasher. */
export interface PieceHasher {
  update(b: Uint8Array): void;
  /** `'crc32:xxxxxxxx'` (8 lowercase hex, big-endian) or `'md5:<32 hex>'`. Call once. */
  digest(): string;
}

/**
 * Creates a hasher for piece checksums.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for an unknown algorithm.
 * @example
 * ```ts
 * import { createPieceHasher } from 'orasfly/dragonfly';
 *
 * const h = createPieceHasher('crc32');
 * h.update(Buffer.from('piece bytes'));
 * console.log(h.digest()); // 'crc32:' and 8 hex digits
 * ```
 */
export function createPieceHasher(alg: PieceDigestAlgorithm): PieceHasher {
  if (alg === 'md5') {
    const h = createHash('md5');
    return { update: (b) => void h.update(b), digest: () => `md5:${h.digest('hex')}` };
  }
  if (alg === 'crc32') {
    const zlib = requireBuiltin<typeof import('node:zlib')>('node:zlib');
    let v = 0;
    return {
      update: (b) => {
        v = zlib.crc32(b, v);
      },
      digest: () => `crc32:${(v >>> 0).toString(16).padStart(8, '0')}`,
    };
  }
  throw new InvalidArgumentError('pieceDigest', `unknown piece digest algorithm ${JSON.stringify(alg)}`);
}

const PIECE_DIGEST_RE = /^(crc32:[0-9a-f]{8}|md5:[0-9a-f]{32})$/;

/** Whether `s` is a well-formed piece digest string. */
export function isPieceDigest(s: unknown): s is string {
  return typeof s === 'string' && PIECE_DIGEST_RE.test(s);
}

/**
 * Whether a digest another peer reports for a piece (a Dragonfly daemon's `crc32:<decimal>`, or
 * `crc32:<8 hex>`, `md5:<hex>`) disagrees with ours. `false` when they cannot be compared (another
 * algorithm, an unreadable value): only a readable, different value condemns a piece.
 */
export function pieceDigestDiffers(reported: string, ours: string): boolean {
  const i = reported.indexOf(':');
  const j = ours.indexOf(':');
  if (i < 0 || j < 0 || reported.slice(0, i).toLowerCase() !== ours.slice(0, j)) return false;
  const theirs = reported.slice(i + 1).toLowerCase();
  const mine = ours.slice(j + 1);
  if (ours.startsWith('md5:')) return /^[0-9a-f]{32}$/.test(theirs) && theirs !== mine;
  const value = parseInt(mine, 16);
  const asHex = /^[0-9a-f]{1,8}$/.test(theirs) ? parseInt(theirs, 16) : undefined;
  const asDec = /^\d{1,10}$/.test(theirs) ? Number(theirs) : undefined;
  if (asHex === undefined && asDec === undefined) return false;
  // A decimal value of up to 8 digits also reads as hex: it matches if either reading does.
  return asHex !== value && asDec !== value;
}

/** Splits `'md5:<hex>'` into its algorithm and hex. */
export function splitPieceDigest(s: string): { alg: PieceDigestAlgorithm; hex: string } {
  const i = s.indexOf(':');
  return { alg: s.slice(0, i) as PieceDigestAlgorithm, hex: s.slice(i + 1) };
}

/**
 * Dragonfly's `pieceMd5Sign`: sha256 hex of the concatenated piece digest hex strings in piece
 * order (for `crc32` pieces, of their crc32 hex strings). Empty task → `''` (upstream).
 */
export function pieceSign(digestsInOrder: readonly string[]): string {
  if (digestsInOrder.length === 0) return '';
  const h = createHash('sha256');
  for (const d of digestsInOrder) h.update(splitPieceDigest(d).hex);
  return h.digest('hex');
}

/** Hashes `length` bytes of an open file at `start`; returns `undefined` on a short read. */
export async function hashFileRange(
  fh: fsp.FileHandle,
  start: number,
  length: number,
  alg: PieceDigestAlgorithm,
  buf?: Buffer,
): Promise<string | undefined> {
  const h = createPieceHasher(alg);
  const b = buf && buf.length > 0 ? buf : Buffer.allocUnsafe(Math.min(Math.max(length, 1), 1 << 20));
  let done = 0;
  while (done < length) {
    const want = Math.min(b.length, length - done);
    const { bytesRead } = await fh.read(b, 0, want, start + done);
    if (bytesRead === 0) return undefined;
    h.update(b.subarray(0, bytesRead));
    done += bytesRead;
  }
  return h.digest();
}
