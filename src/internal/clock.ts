/**
 * The monotonic clock every duration is measured with (costs, speeds, timeouts, persist cadence).
 *
 * Why not `performance.now()`: the `performance` global is lazy in Node, and its first use loads
 * `perf_hooks` and five more internal modules, about 1 ms of every start-up. A reuse pull is start-up
 * bound, and it needs only differences of a monotonic clock, which `process.hrtime` gives for free.
 *
 * @module
 * @internal
 */

/** Milliseconds on a monotonic clock (fractional); only differences mean anything. */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
