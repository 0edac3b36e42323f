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

/** What {@link checkWholeFile} found. */
export interface WholeFileCheck {
  /** The inode that was read (the one a rename must then move). */
  ino: number;
  /** Each piece's digest in the store's algorithm, by piece number. */
  pieces: string[];
  /** Pieces whose bytes differ from the digest their sender reported. */
  bad: number[];
  /** `sha256:<hex>` (or the algorithm of `expected`) of the whole file. */
  blob: string;
}

const READ = 4 * 1024 * 1024;
const ALGS: readonly PieceDigestAlgorithm[] = ['crc32', 'md5'];

/**
 * Reads `file` once. `undefined` when it is not a regular file of `plan.contentLength` bytes (or
 * shrinks while read). A reported digest in another algorithm than the store's is computed too, so
 * that it is checked, not skipped.
 */
export async function checkWholeFile(
  file: string,
  plan: PiecePlan,
  pieceDigest: PieceDigestAlgorithm,
  reported: ReadonlyMap<number, string>,
  expected: string,
  signal?: AbortSignal,
): Promise<WholeFileCheck | undefined> {
  const fh = await open(file, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== plan.contentLength) return undefined;
    const blob = createHash(expected.split(':')[0] ?? 'sha256');
    const buf = Buffer.allocUnsafe(Math.min(READ, Math.max(plan.pieceSize, 1)));
    const pieces: string[] = [];
    const bad: number[] = [];
    for (let num = 0; num < plan.totalPieces; num++) {
      signal?.throwIfAborted();
      const { start, length } = pieceAt(plan, num).range;
      const theirs = reported.get(num);
      const other = theirs
        ? ALGS.find((a) => a !== pieceDigest && theirs.toLowerCase().startsWith(`${a}:`))
        : undefined;
      const hashers: PieceHasher[] = [createPieceHasher(pieceDigest)];
      if (other) hashers.push(createPieceHasher(other));
      for (let done = 0; done < length;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - done), start + done);
        if (bytesRead === 0) return undefined;
        const b = buf.subarray(0, bytesRead);
        for (const h of hashers) h.update(b);
        blob.update(b);
        done += bytesRead;
      }
      const digests = hashers.map((h) => h.digest());
      pieces.push(digests[0]!);
      if (theirs && digests.some((d) => pieceDigestDiffers(theirs, d))) bad.push(num);
    }
    return { ino: st.ino, pieces, bad, blob: `${expected.split(':')[0]}:${blob.digest('hex')}` };
  } finally {
    await fh.close().catch(() => {});
  }
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
 */
export async function adoptWholeFile(
  file: string,
  reported: ReadonlyMap<number, string>,
  site: AdoptionSite,
  signal: AbortSignal,
): Promise<boolean> {
  const w = site.writer;
  if (!w.adoptDataFile || site.busy()) return false;
  const t0 = performance.now();
  const c = await checkWholeFile(file, site.plan, site.pieceDigest, reported, site.digest, signal).catch(
    (e: unknown) => {
      if (signal.aborted) throw signal.reason;
      site.log.warn(`cannot read ${file} (${(e as Error).message}); copying it piece by piece`);
      return undefined;
    },
  );
  if (!c) return false;
  if (c.bad.length > 0 || c.blob !== site.digest) {
    const why =
      c.bad.length > 0 ? `pieces ${c.bad.join(', ')} differ from the digests reported` : `its digest is ${c.blob}`;
    site.log.warn(`not taking the file whole: ${why}; copying it piece by piece`);
    return false;
  }
  signal.throwIfAborted();
  if (site.busy() || !(await w.adoptDataFile(file, c.ino))) return false;
  site.adopted(c.blob, c.pieces);
  site.log.info(
    `took the daemon's file whole as the data file (inode ${c.ino}), verified in one read in ${Math.round(performance.now() - t0)} ms`,
  );
  return true;
}
