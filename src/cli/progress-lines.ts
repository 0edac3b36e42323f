/**
 * Progress for logs (stderr not a terminal: Slurm, CI): one line every 10 % or every 10 s, with
 * bytes, rate and ETA, instead of a bar nobody sees or nothing at all.
 *
 * @module
 */
import { formatBytes } from '../core/units.js';
import { formatEta } from './progress-bar.js';
import { SpeedMeter } from './speed-meter.js';
import { monotonicMs } from '../internal/clock.js';

/** Percent steps between lines. */
const STEP_PERCENT = 10;
/** Longest silence between lines, ms. */
const MAX_SILENCE_MS = 10_000;

/** Writes `progress: 40% 204.8 MiB/512.0 MiB 118.2 MiB/s ETA 2s` lines. */
export class ProgressLines {
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  #started: number | undefined;
  readonly #speed: SpeedMeter;
  #lastAt = 0;
  #nextPercent = STEP_PERCENT;
  #ended = false;

  constructor(write: (line: string) => void, now: () => number = monotonicMs) {
    this.#write = write;
    this.#now = now;
    this.#speed = new SpeedMeter(now);
  }

  /** Records progress; writes a line when a 10 % step is crossed or 10 s passed. */
  update(transferred: number, total: number): void {
    if (this.#ended) return;
    const now = this.#now();
    if (this.#started === undefined) {
      // A reuse reports 100 % at once: that is no download, and the command says so itself.
      if (transferred >= total) {
        this.#ended = true;
        return;
      }
      this.#started = now;
      this.#lastAt = now;
    }
    this.#speed.sample(transferred);
    const percent = total === 0 ? 100 : (transferred / total) * 100;
    if (percent < this.#nextPercent && now - this.#lastAt < MAX_SILENCE_MS) return;
    while (this.#nextPercent <= percent) this.#nextPercent += STEP_PERCENT;
    this.#lastAt = now;
    // Not bytes ÷ time since the start: that shows a rate limiter's initial burst as the speed.
    const rate = this.#speed.rate();
    const eta = rate !== undefined && rate > 0 ? (total - transferred) / rate : Number.NaN;
    this.#write(
      `progress: ${Math.floor(percent)}% ${formatBytes(transferred)}/${formatBytes(total)} ` +
        `${rate === undefined ? '--' : formatBytes(Math.round(rate))}/s ETA ${transferred >= total ? '0s' : formatEta(eta)}`,
    );
    if (transferred >= total) this.#ended = true;
  }
}
