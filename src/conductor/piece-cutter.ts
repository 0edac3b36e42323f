/**
 * Cutting a stream of consecutive pieces into pieces as its chunks come: each part goes to the
 * piece's assembler, and a piece is committed when its last byte arrived. One cutter serves the
 * whole-blob stream (`schedule.ts`, stored pieces skipped) and a segment's stream (`segments.ts`,
 * whose end may move closer while it runs).
 *
 * @module
 */
import { SizeMismatchError } from '../core/errors.js';
import { pieceAt } from '../core/piece-plan.js';
import type { PieceAssembler } from './piece-assembler.js';
import type { PieceSite } from './piece-site.js';

/** Thrown into a stream to stop it where its (moved) end is: not a failure. */
export const CUT_DONE = Symbol('cut done');

/** Where a cut stream stands: the next piece to fill, and the piece it ends before (it may shrink). */
export interface CutCursor {
  next: number;
  end: number;
}

/** Cuts one stream into the pieces `[cursor.next, cursor.end)`, advancing `cursor.next`. */
export class PieceCutter {
  readonly #site: PieceSite;
  readonly #cursor: CutCursor;
  readonly #signal: AbortSignal;
  readonly #skipStored: boolean;
  /** Where the request ends: a stream that reaches it ends by itself (its connection is kept). */
  readonly #requestedEnd: number;
  #offset = 0;
  #asm: PieceAssembler | undefined;
  #skip: boolean;
  /** The attempt is over: a continuation still waiting on a write must not move the cursor. */
  #released = false;
  /** Bytes taken. */
  received = 0;
  /** The body went on past what was asked for. */
  overran = false;

  /** @param o.skipStored - pieces stored meanwhile (by another source) are passed over, not rewritten. */
  constructor(site: PieceSite, cursor: CutCursor, signal: AbortSignal, o: { skipStored?: boolean } = {}) {
    this.#site = site;
    this.#cursor = cursor;
    this.#signal = signal;
    this.#skipStored = o.skipStored ?? false;
    this.#requestedEnd = cursor.end;
    this.#asm = cursor.next < cursor.end ? site.assembler(pieceAt(site.plan, cursor.next), signal) : undefined;
    this.#skip = this.#skipStored && site.has(cursor.next);
  }

  /** Takes the next chunk; returns a promise only when the stream must wait (a write, a commit). */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#cursor.next >= this.#cursor.end) this.#beyondEnd();
    this.received += chunk.length;
    return this.#feed(chunk);
  }

  #feed(bytes: Uint8Array): Promise<void> | undefined {
    let chunk = bytes;
    while (chunk.length > 0) {
      const piece = pieceAt(this.#site.plan, this.#cursor.next);
      const part = chunk.subarray(0, piece.range.length - this.#offset);
      chunk = chunk.subarray(part.length);
      const wait = this.#skip ? undefined : this.#asm!.push(part);
      this.#offset += part.length;
      if (this.#offset === piece.range.length) return this.#pieceEnd(wait, chunk);
      if (wait) return chunk.length > 0 ? wait.then(() => this.#feed(chunk)) : wait;
    }
    return undefined;
  }

  /** The current piece is complete: commit it (after its last write), then go on with `rest`. */
  async #pieceEnd(wait: Promise<void> | undefined, rest: Uint8Array): Promise<void> {
    if (wait) await wait;
    // Released while waiting (the stream failed, a retry is under way from the same cursor): the
    // piece is not committed here and the cursor stays where the retry starts, or the retry's
    // pieces would land one place off. The retry fetches this piece again.
    if (this.#released) return;
    if (!this.#skip) await this.#site.commit(this.#asm!);
    this.#asm!.release();
    if (this.#released) return;
    this.#cursor.next++;
    this.#offset = 0;
    if (this.#cursor.next >= this.#cursor.end) {
      this.#asm = undefined;
      if (rest.length > 0 || this.#cursor.end < this.#requestedEnd) this.#beyondEnd();
      return;
    }
    this.#skip = this.#skipStored && this.#site.has(this.#cursor.next);
    this.#asm = this.#site.assembler(pieceAt(this.#site.plan, this.#cursor.next), this.#signal);
    if (rest.length > 0) await this.#feed(rest);
  }

  /** Bytes past the end: a moved end (stop here), or more than was asked for. */
  #beyondEnd(): never {
    if (this.#cursor.end < this.#requestedEnd) throw CUT_DONE;
    this.overran = true;
    throw new SizeMismatchError(
      this.received,
      this.received + 1,
      `pieces up to ${this.#cursor.end - 1} (more bytes than asked for)`,
    );
  }

  /** The attempt is over: the unfinished piece's assembler lets go. */
  release(): void {
    this.#released = true;
    this.#asm?.release();
  }
}
