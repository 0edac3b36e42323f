/**
 * How a blob is cut into pieces (Dragonfly's `ComputePieceSize`): 4 MiB up to 200 MiB, then one
 * more MiB per 100 MiB, capped at 15 MiB. Large pieces keep request and metadata overhead low;
 * the cap keeps a retried piece cheap.
 *
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type { ByteRange } from './types.js';

const MiB = 1024 * 1024;
/** Smallest piece: 4 MiB. */
export const DEFAULT_MIN_PIECE_SIZE = 4 * MiB;
/** Largest piece: 15 MiB. */
export const DEFAULT_MAX_PIECE_SIZE = 15 * MiB;

/** One piece: its number (0-based) and byte range. */
export interface PieceInfo {
  readonly num: number;
  readonly range: ByteRange;
}

/** A blob's piece layout. */
export interface PiecePlan {
  readonly contentLength: number;
  readonly pieceSize: number;
  readonly totalPieces: number;
}

/**
 * Piece size for a content length, by Dragonfly's table.
 *
 * @example computePieceSize(1_100_000_000) // 12 MiB
 */
export function computePieceSize(
  contentLength: number,
  min = DEFAULT_MIN_PIECE_SIZE,
  max = DEFAULT_MAX_PIECE_SIZE,
): number {
  if (contentLength <= 200 * MiB) return min;
  const size = min + (Math.floor(contentLength / (100 * MiB)) - 2) * MiB;
  return Math.min(Math.max(size, min), max);
}

/** The Rust dfdaemon's piece length, at most: 64 MiB. */
export const DFDAEMON_MAX_PIECE_SIZE = 64 * MiB;

/**
 * The piece length a Dragonfly (Rust) daemon picks for a blob when the request names none
 * (`calculate_piece_length`, `OptimizeByFileLength`): the next power of two of 1/500 of the length,
 * between 4 and 64 MiB. A task a cluster serves uses this plan, so its pieces are the daemon's and
 * its task id is the one every other client of the cluster makes for the URL.
 *
 * @example daemonPieceSize(512 * 1024 * 1024) // 4 MiB
 */
export function daemonPieceSize(contentLength: number): number {
  const share = Math.floor(contentLength / 500);
  let p = 1;
  while (p < share) p *= 2;
  return p >= DFDAEMON_MAX_PIECE_SIZE
    ? DFDAEMON_MAX_PIECE_SIZE
    : p > DEFAULT_MIN_PIECE_SIZE
      ? p
      : DEFAULT_MIN_PIECE_SIZE;
}

/**
 * The plan for a blob; `pieceSize` overrides the table.
 *
 * @throws InvalidArgumentError when the length or piece size is not a non-negative safe integer.
 */
export function planPieces(contentLength: number, pieceSize?: number): PiecePlan {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0)
    throw new InvalidArgumentError('contentLength', `expected a non-negative integer, got ${contentLength}`);
  const size = pieceSize ?? computePieceSize(contentLength);
  if (!Number.isSafeInteger(size) || size <= 0)
    throw new InvalidArgumentError('pieceSize', `expected a positive integer, got ${size}`);
  return { contentLength, pieceSize: size, totalPieces: Math.ceil(contentLength / size) };
}

/** The range of piece `num` in a plan. */
export function pieceAt(plan: PiecePlan, num: number): PieceInfo {
  const start = num * plan.pieceSize;
  return { num, range: { start, length: Math.min(plan.pieceSize, plan.contentLength - start) } };
}
