/**
 * orasfly — pull OCI artifacts into Node.js, the Dragonfly "oras resource client" way.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export { parseDuration, parseSize, formatBytes } from './config/units.js';
export type { Duration, Size } from './config/units.js';
export type * from './source/resource-client.js';
