/**
 * `require` for Node built-ins that only some code paths need (a credential helper, a worker
 * thread). A static import would load them at start-up, and start-up is a reuse pull's main cost.
 *
 * @module
 * @internal
 */
import { createRequire } from 'node:module';

/** Synchronous, cached `require` of a Node built-in. */
export const requireBuiltin: <T>(id: `node:${string}`) => T = createRequire(import.meta.url) as <T>(id: string) => T;
