/**
 * What the schedulers (`schedule.ts`, `segments.ts`) need from their conductor: the plan, the
 * retry and low-speed settings, which pieces are stored, and how a piece is assembled and recorded.
 * Types only.
 *
 * @module
 */
import type { BackoffPolicy } from '../internal/retry.js';
import type { PieceInfo, PiecePlan } from '../core/piece-plan.js';
import type { RetryEvent } from './events.js';
import type { PieceAssembler } from './piece-assembler.js';
import type { BodyMemory } from '../internal/chunks.js';

/** What a scheduler needs from its conductor. */
export interface PieceSite {
  readonly taskId: string;
  readonly plan: PiecePlan;
  /** Connections; `undefined`: found by the link's throughput, up to {@link maxConcurrency}. */
  readonly concurrency: number | undefined;
  /** The most connections when the count is found, not fixed. */
  readonly maxConcurrency: number;
  /** The found count changed (for core.log and the result). */
  onConnections?(count: number, reason: string): void;
  readonly attempts: number;
  readonly backoff: BackoffPolicy;
  readonly lowSpeedLimit: number;
  readonly lowSpeedTime: number;
  /** Whether piece `num` is stored. */
  has(num: number): boolean;
  /** Number of pieces stored. */
  storedCount(): number;
  /** Writes one piece from a body (the conductor's `PieceSink.writePiece`). */
  writePiece(num: number, body: AsyncIterable<Uint8Array>, options: { signal: AbortSignal }): Promise<void>;
  /** Memory bodies are read into (handed to `streamPiece`; the assemblers release it). */
  readonly memory?: BodyMemory | undefined;
  /** An assembler for one attempt of a piece (the sequential path feeds it directly). */
  assembler(piece: PieceInfo, signal: AbortSignal): PieceAssembler;
  /** Records an assembled piece. */
  commit(a: PieceAssembler): Promise<void>;
  onRetry(e: RetryEvent): void;
}
