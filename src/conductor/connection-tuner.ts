/**
 * How many connections a task uses when nobody fixed the count: it finds itself from what the link
 * does, not from a host rule. One stream to start; over windows of at least `windowMs` and
 * `minWindowBytes`, the count doubles while the aggregate throughput rises by at least `gain`; on the
 * first window that does not, the last count that paid is kept. More connections only help when the
 * link is what limits: a window in which this process kept a whole core busy (`cpuMs`, at least
 * `maxCpuShare`) ends the probe — on loopback, a second connection raises the arrival rate but not
 * the end of the download, and costs CPU. After a sustained drop (two windows under 80 % of the kept
 * rate) it probes again. Pure: the caller reports bytes, the time and its CPU time.
 *
 * @module
 */
import { formatBytes } from '../core/units.js';

/** Options of a {@link ConnectionTuner}. */
export interface ConnectionTunerOptions {
  /** The most connections. */
  max: number;
  /** Shortest probe window, ms. @defaultValue 200 */
  windowMs?: number;
  /** Fewest bytes in a probe window (a piece: less says more about latency than about the link). */
  minWindowBytes: number;
  /** Throughput ratio a doubling must reach to be kept. @defaultValue 1.2 */
  gain?: number;
  /** This process's CPU time so far, ms (user + system); read once per window. */
  cpuMs?: (() => number) | undefined;
  /** CPU time per wall time in a window at which this process, not the link, is the limit. @defaultValue 0.9 */
  maxCpuShare?: number;
}

/** Throughput below this share of the kept rate, twice in a row, starts a new probe. */
const DROP = 0.8;

/** What a scheduler asks of a connection count (a {@link ConnectionTuner}, or a fixed stand-in). */
export interface ConnectionCount {
  /** Connections wanted now. */
  readonly target: number;
  /** Why. */
  readonly reason: string;
  /** The number of connections running changed. */
  running(count: number, now: number): void;
  /** `bytes` arrived at `now`; `true` when {@link target} changed. */
  record(bytes: number, now: number): boolean;
  /**
   * The scheduler cannot run more than `count` connections (nothing left to split): the count
   * settles there, instead of waiting for ever on a window with the target running.
   */
  capped?(count: number): void;
}

/** Decides the connection count of one task. */
export class ConnectionTuner implements ConnectionCount {
  /** Connections wanted now. */
  target = 1;
  /** Why {@link target} is what it is (for core.log and `--json`). */
  reason = 'one stream to start';
  readonly #max: number;
  readonly #windowMs: number;
  readonly #minBytes: number;
  readonly #gain: number;
  readonly #cpuMs: (() => number) | undefined;
  readonly #maxCpuShare: number;
  #running = 1;
  #winStart: number | undefined;
  #winCpu = 0;
  #winBytes = 0;
  /** The last count that paid, and its rate (bytes/ms). */
  #paid: { count: number; rate: number } | undefined;
  #settled = false;
  #drops = 0;

  constructor(o: ConnectionTunerOptions) {
    this.#max = Math.max(1, o.max);
    this.#windowMs = o.windowMs ?? 200;
    this.#minBytes = o.minWindowBytes;
    this.#gain = o.gain ?? 1.2;
    this.#cpuMs = o.cpuMs;
    this.#maxCpuShare = o.maxCpuShare ?? 0.9;
    if (this.#max === 1) {
      this.#settled = true;
      this.reason = 'one connection (the most allowed)';
    }
  }

  /** The number of connections running changed: a new window starts. */
  running(count: number, now: number): void {
    this.#running = count;
    this.#startWindow(now);
  }

  #startWindow(now: number): void {
    this.#winStart = now;
    this.#winBytes = 0;
    this.#winCpu = this.#cpuMs?.() ?? 0;
  }

  /**
   * `bytes` arrived at `now` (ms). Returns `true` when {@link target} changed: start or stop
   * connections.
   */
  record(bytes: number, now: number): boolean {
    if (this.#winStart === undefined) this.#startWindow(now);
    this.#winBytes += bytes;
    const elapsed = now - this.#winStart!;
    if (elapsed < this.#windowMs || this.#winBytes < this.#minBytes) return false;
    const rate = this.#winBytes / elapsed;
    const cpuShare = this.#cpuMs ? (this.#cpuMs() - this.#winCpu) / elapsed : 0;
    this.#startWindow(now);
    // Still ramping up or down: a window means something only with the target count running.
    if (this.#running !== this.target) return false;
    return this.#settled ? this.#watch(rate, cpuShare) : this.#probe(rate, cpuShare);
  }

  /** {@inheritDoc ConnectionCount.capped} */
  capped(count: number): void {
    if (count >= this.target) return;
    this.#settle(count, this.#paid?.rate ?? 0);
    this.reason += `; ${count === 1 ? 'one stream' : `${count} connections`} kept: nothing left to split`;
  }

  #probe(rate: number, cpuShare: number): boolean {
    const count = this.target;
    const paid = this.#paid;
    if (cpuShare >= this.#maxCpuShare && (!paid || rate >= paid.rate * this.#gain)) {
      // This process is the limit, not the link: more connections would only cost CPU.
      this.#settle(count, rate);
      this.reason = `${count === 1 ? 'one stream' : `${count} connections`} gave ${speed(rate)} with this process at ${Math.round(cpuShare * 100)} % of a core: the link is not the limit, keeping ${count}`;
      return false;
    }
    if (paid && rate < paid.rate * this.#gain) {
      this.#settle(paid.count, paid.rate);
      this.reason = `${count} connections gave ${ratio(rate, paid.rate)} the throughput of ${paid.count} (${speed(rate)} vs ${speed(paid.rate)}): keeping ${paid.count}`;
      return true;
    }
    this.reason = paid
      ? `${count} connections gave ${ratio(rate, paid.rate)} the throughput of ${paid.count} (${speed(rate)})`
      : `one stream gave ${speed(rate)}`;
    this.#paid = { count, rate };
    if (count >= this.#max) {
      this.#settle(count, rate);
      this.reason += `; ${count} is the most allowed`;
      return false;
    }
    this.target = Math.min(this.#max, count * 2);
    this.reason += `; probing ${this.target}`;
    return true;
  }

  #settle(count: number, rate: number): void {
    this.target = count;
    this.#settled = true;
    this.#paid = { count, rate };
    this.#drops = 0;
  }

  #watch(rate: number, cpuShare: number): boolean {
    const kept = this.#paid;
    if (!kept) {
      // Settled from the start (max 1): the first window sets the rate to watch.
      this.#paid = { count: this.target, rate };
      return false;
    }
    // A slower window while this process is busy is this machine, not the link.
    if (rate >= kept.rate * DROP || cpuShare >= this.#maxCpuShare) {
      this.#drops = 0;
      return false;
    }
    if (++this.#drops < 2 || this.target >= this.#max) return false;
    // The link changed (or a peer went away): find the count again from here.
    this.#settled = false;
    this.#paid = { count: this.target, rate };
    this.target = Math.min(this.#max, this.target * 2);
    this.reason = `throughput fell to ${speed(rate)} (${ratio(rate, kept.rate)} of before); probing ${this.target}`;
    return true;
  }
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** bytes/ms as a human rate. */
function speed(bytesPerMs: number): string {
  return `${formatBytes(Math.round(bytesPerMs * 1000))}/s`;
}
