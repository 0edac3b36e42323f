/**
 * Debug loggers of the source layer. Enable with `DEBUG=orasfly:*`; every value they print goes
 * through `redact` (`src/http/redact.ts`) first.
 *
 * @module
 */
import createDebug from 'debug';

/** `orasfly:source` — registry requests and responses. */
export const logSource = createDebug('orasfly:source');
/** `orasfly:auth` — challenges, token fetches and cache hits (never token values). */
export const logAuth = createDebug('orasfly:auth');
