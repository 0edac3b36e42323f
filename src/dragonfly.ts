/**
 * `orasfly/dragonfly` — Dragonfly's primitives, for hosts that drive the task store by hand or
 * speak to a Dragonfly cluster themselves: task and peer ids as Dragonfly computes them (v1 for
 * the store's layout, v2 for a daemon's tasks), the piece plan, piece digests, and the headers of
 * a daemon's HTTP proxy. `createDownloader` and `PeerTaskManager` use them for you.
 *
 * @example
 * ```ts
 * import { planPieces, taskId } from 'orasfly/dragonfly';
 *
 * const plan = planPieces(64 * 1024 * 1024);
 * console.log(plan.totalPieces, taskId('oras://127.0.0.1:5000/a/img:v1?digest=sha256%3A00', {}));
 * ```
 *
 * @packageDocumentation
 */
export { taskId, taskIdV2, peerId } from './core/task-id.js';
export type { TaskIdMeta, TaskIdV2Meta } from './core/task-id.js';
export {
  computePieceSize,
  planPieces,
  pieceAt,
  DEFAULT_MIN_PIECE_SIZE,
  DEFAULT_MAX_PIECE_SIZE,
} from './core/piece-plan.js';
export type { PieceInfo, PiecePlan } from './core/piece-plan.js';
export { createPieceHasher } from './storage/piece-digest.js';
export type { PieceHasher } from './storage/piece-digest.js';
export { DRAGONFLY_HEADERS } from './transport/proxy-transport.js';
