/**
 * Defaults of the conductor that other layers need without loading the conductor itself (the task
 * manager imports the conductor lazily, so a reuse pull never loads it).
 *
 * @module
 */

/**
 * Default parallel piece downloads per task. Measured with `npm run bench` (1 GiB, 2 cores, local
 * registry, four runs): one stream is clearly slowest (÷ curl+openssl 1.28–1.98); 2, 4 and 8 are
 * within noise of each other (1.10–1.46), 4 being best in two runs. 4 also hides the latency of a
 * remote registry better than 2, and stays well under registries' per-client connection limits.
 */
export const DEFAULT_CONCURRENCY = 4;

/**
 * Low-speed rule, bytes per second: 1 KiB/s over {@link DEFAULT_LOW_SPEED_TIME} (curl's
 * `--speed-limit`/`--speed-time` style) is far below any working link, and a stall is noticed within
 * half a minute instead of never (undici's body timeout restarts with every byte).
 */
export const DEFAULT_LOW_SPEED_LIMIT = 1024;
/** Window of the low-speed rule, ms. */
export const DEFAULT_LOW_SPEED_TIME = 30_000;
