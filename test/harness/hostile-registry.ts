/**
 * A hostile registry: a scripted `node:http` server whose repositories `hostile/<scenario>` (tag
 * `t`) each misbehave in one way — malformed or lying manifests, bad blobs, broken auth, malformed
 * HTTP — so tests can check that a client fails cleanly on every one of them. Every scenario is an
 * expected failure; `hostile/good:t` (a 3 MiB blob served correctly) is the control.
 *
 * Malformed HTTP (bare-LF headers, bad `Content-Length`, a non-HTTP reply, …) is written straight
 * to the request's socket, bypassing Node's response writer, then the socket is ended or reset.
 *
 * Only node built-ins are used. Everything is generated in {@link startHostileRegistry}: importing
 * this module costs nothing.
 *
 * The parts live in `hostile/`: the shapes (`scenario.ts`), the content (`content.ts`), the replies
 * (`responses.ts`), one file per group of scenarios (`*-scenarios.ts`) and the server (`server.ts`).
 *
 * @module
 */
export type { HostileArea, HostileRegistry, HostileRequestLog, HostileScenario } from './hostile/scenario.js';
export { startHostileRegistry } from './hostile/server.js';
