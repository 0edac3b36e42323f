/**
 * A terminal progress bar: bytes, rate, ETA. Redrawn at most 10 times a second from a timer, so it
 * never freezes between large pieces and never slows the download.
 *
 * @module
 */
import { formatBytes } from '../core/units.js';
import { SpeedMeter } from './speed-meter.js';

/** Formats seconds as `1h02m03s` / `2m03s` / `3s`. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h
    ? `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s`
    : m
      ? `${m}m${String(sec).padStart(2, '0')}s`
      : `${sec}s`;
}

/** Draws `[=====>    ]  45% 1.2 GiB/2.6 GiB 310.0 MiB/s ETA 5s` on a TTY stream. */
export class ProgressBar {
  #stream: NodeJS.WriteStream;
  #total = 0;
  #done = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #speed = new SpeedMeter();

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
  }

  /** Starts redrawing. */
  start(): void {
    this.#timer = setInterval(() => this.#draw(), 100);
    this.#timer.unref();
  }

  /** Records progress (cheap; drawing happens on the timer). */
  update(transferred: number, total: number): void {
    this.#done = transferred;
    this.#total = total;
  }

  /** Draws the last state and ends the line. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#total > 0 || this.#done > 0) {
      this.#draw();
      this.#stream.write('\n');
    }
  }

  #draw(): void {
    // Rate over the last ~3 s, never the first second: responsive, steady across large pieces,
    // and not a rate limiter's initial burst.
    this.#speed.sample(this.#done);
    const r = this.#speed.rate();
    const pct = this.#total > 0 ? this.#done / this.#total : 0;
    const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - 50));
    const filled = Math.round(pct * width);
    const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
    const eta = r !== undefined && r > 0 ? formatEta((this.#total - this.#done) / r) : '--';
    this.#stream.write(
      `\r[${bar}] ${String(Math.floor(pct * 100)).padStart(3)}% ${formatBytes(this.#done)}/${formatBytes(this.#total)} ` +
        `${r === undefined ? '--' : formatBytes(Math.round(r))}/s ETA ${eta}\x1b[K`,
    );
  }
}
