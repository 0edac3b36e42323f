/**
 * One read of a whole blob file that a push transport hands over (a Dragonfly daemon's task file
 * linked into the store): every piece's digest in the store's algorithm, each checked against what
 * the sender reported for it, and the blob's digest. What a copy piece by piece would check, without
 * writing a byte.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { pieceAt, type PiecePlan } from '../core/piece-plan.js';
import type { PieceDigestAlgorithm } from '../storage/options.js';
import { createPieceHasher, pieceDigestDiffers, type PieceHasher } from '../storage/piece-digest.js';
import type { TaskWriter } from '../storage/task-writer.js';
import type { ReportedDigests } from '../transport/piece-transport.js';
import { monotonicMs } from '../internal/clock.js';

/** What {@link checkWholeFile} found. */
export interface WholeFileCheck {
  /** The inode that was read (the one a rename must then move). */
  ino: number;
  /** Each piece's digest in the store's algorithm, by piece number. */
  pieces: string[];
  /** Each piece's crc32 too (what a Dragonfly daemon reports), when the store's algorithm is another. */
  crc32?: string[];
  /** `sha256:<hex>` (or the algorithm of `expected`) of the whole file. */
  blob: string;
}

const READ = 4 * 1024 * 1024;

/**
 * Reads `file` once, in order, the next read in flight while the last one is hashed. `undefined`
 * when it is not a regular file of `plan.contentLength` bytes (or shrinks while read).
 */
export async function checkWholeFile(
  file: string,
  plan: PiecePlan,
  pieceDigest: PieceDigestAlgorithm,
  expected: string,
  signal?: AbortSignal,
): Promise<WholeFileCheck | undefined> {
  const fh = await open(file, 'r');
  let inflight: Promise<unknown> | undefined;
  try {
    const st = await fh.stat();
    const size = plan.contentLength;
    if (!st.isFile() || st.size !== size) return undefined;
    const alg = expected.split(':')[0] ?? 'sha256';
    const blob = createHash(alg);
    const pieces: string[] = [];
    const crcs: string[] | undefined = pieceDigest === 'crc32' ? undefined : [];
    const start = (): PieceHasher[] =>
      crcs ? [createPieceHasher(pieceDigest), createPieceHasher('crc32')] : [createPieceHasher(pieceDigest)];
    let hashers = start();
    let num = 0;
    let pieceEnd = plan.totalPieces > 0 ? pieceAt(plan, 0).range.start + pieceAt(plan, 0).range.length : 0;
    // Two: one being read into while the other is hashed.
    const bufs = [0, 1].map(() => Buffer.allocUnsafe(Math.min(READ, Math.max(size, 1))));
    const readAt = (i: number, pos: number) => fh.read(bufs[i % 2]!, 0, Math.min(READ, size - pos), pos);
    let next = size > 0 ? readAt(0, 0) : undefined;
    for (let pos = 0, i = 0; pos < size; i++) {
      inflight = next;
      const { bytesRead } = await next!;
      inflight = undefined;
      signal?.throwIfAborted();
      if (bytesRead === 0) return undefined;
      const buf = bufs[i % 2]!.subarray(0, bytesRead);
      const after = pos + bytesRead;
      // The next read goes to the thread pool while this one is hashed.
      next = after < size ? readAt(i + 1, after) : undefined;
      blob.update(buf);
      for (let off = 0; off < buf.length;) {
        const take = Math.min(buf.length - off, pieceEnd - (pos + off));
        const part = buf.subarray(off, off + take);
        for (const h of hashers) h.update(part);
        off += take;
        if (pos + off === pieceEnd) {
          const [own, crc] = hashers.map((h) => h.digest());
          pieces.push(own!);
          if (crcs) crcs.push(crc!);
          if (++num < plan.totalPieces) {
            hashers = start();
            const r = pieceAt(plan, num).range;
            pieceEnd = r.start + r.length;
          }
        }
      }
      pos = after;
    }
    return { ino: st.ino, pieces, ...(crcs && { crc32: crcs }), blob: `${alg}:${blob.digest('hex')}` };
  } finally {
    // A read still in flight (an abort) finishes before the handle closes.
    await inflight?.catch(() => {});
    await fh.close().catch(() => {});
  }
}

/**
 * The pieces of a {@link checkWholeFile} whose bytes differ from what their sender reported
 * (piece number → digest). A reported digest in an algorithm that was not computed is not
 * compared: the blob's digest still covers every byte.
 */
export function badPieces(check: WholeFileCheck, reported: ReadonlyMap<number, string>): number[] {
  const bad: number[] = [];
  for (const [num, theirs] of reported) {
    const ours = theirs.toLowerCase().startsWith('crc32:') && check.crc32 ? check.crc32[num] : check.pieces[num];
    if (ours !== undefined && pieceDigestDiffers(theirs, ours)) bad.push(num);
  }
  return bad.sort((a, b) => a - b);
}

/** What {@link adoptWholeFile} needs of a conductor. */
export interface AdoptionSite {
  readonly plan: PiecePlan;
  readonly writer: TaskWriter;
  /** The blob's digest (`sha256:<hex>`). */
  readonly digest: string;
  readonly pieceDigest: PieceDigestAlgorithm;
  /** Whether any piece is stored or being written (the file is then copied piece by piece). */
  busy(): boolean;
  readonly log: { info(m: string): void; warn(m: string): void };
  /** The file is the data file now: `blob` is its digest, `pieces` each piece's (all verified). */
  adopted(blob: string, pieces: readonly string[]): void;
}

/**
 * `PieceSink.adoptFile` for a conductor: checks `file` in one read and, only if every piece
 * and the blob match, renames it over the data file and records every piece. `false` (nothing
 * recorded, the store as it was) when the entry has pieces already, a piece or the blob differs, or
 * the rename cannot be made: the caller then copies piece by piece, which refuses just the bad pieces.
 * `reported` may still be arriving (a promise of the final map): the file is read meanwhile, and
 * nothing is taken before it settles; if it rejects, nothing is taken and the read stops.
 */
export async function adoptWholeFile(
  file: string,
  reported: ReportedDigests,
  site: AdoptionSite,
  signal: AbortSignal,
): Promise<boolean> {
  const w = site.writer;
  if (!w.adoptDataFile || site.busy()) return false;
  const t0 = monotonicMs();
  // The sender's stream failing stops the read as an abort would.
  const failed = new AbortController();
  const theirs = Promise.resolve(reported).catch((e: unknown) => {
    failed.abort(e);
    throw e;
  });
  theirs.catch(() => {});
  const reading = AbortSignal.any([signal, failed.signal]);
  const c = await checkWholeFile(file, site.plan, site.pieceDigest, site.digest, reading).catch((e: unknown) => {
    if (reading.aborted) throw reading.reason;
    site.log.warn(`cannot read ${file} (${(e as Error).message}); copying it piece by piece`);
    return undefined;
  });
  const final = await theirs;
  if (!c) return false;
  const bad = badPieces(c, final);
  if (bad.length > 0 || c.blob !== site.digest) {
    const why =
      bad.length > 0 ? `pieces ${bad.join(', ')} differ from the digests reported` : `its digest is ${c.blob}`;
    site.log.warn(`not taking the file whole: ${why}; copying it piece by piece`);
    return false;
  }
  signal.throwIfAborted();
  if (site.busy() || !(await w.adoptDataFile(file, c.ino))) return false;
  site.adopted(c.blob, c.pieces);
  site.log.info(
    `took the daemon's file whole as the data file (inode ${c.ino}), verified in one read in ${Math.round(monotonicMs() - t0)} ms`,
  );
  return true;
}
