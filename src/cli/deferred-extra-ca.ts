/**
 * `NODE_EXTRA_CA_CERTS` kept out of Node's start-up by the `orasfly` executable, and put back.
 *
 * Why: Node 20 reads the variable's file before any JavaScript runs and builds its whole root store
 * then (its ~140 bundled roots and the file; 40 ms of every start on the project's test machine,
 * where the variable names the system bundle). A reuse pull is start-up bound, and most pulls need
 * neither: plain HTTP needs no store at all, and a `--ca-file` connection trusts that file first.
 * So the executable (`dist/cli/orasfly.cjs`) starts as a POSIX shell script whose one line moves the
 * variable to {@link DEFERRED_EXTRA_CA_ENV} and execs Node on the same file, which Node then reads as
 * JavaScript; the command's entry point puts the variable back ({@link restoreDeferredExtraCa}), so
 * that orasfly and every process it starts see it as the user set it, and tells the library that
 * Node's default store lacks those certificates (`oras.nodeExtraCaLoaded: false`): orasfly trusts
 * them itself wherever it would otherwise rely on that store. Run by `node` directly, the file's
 * first two lines are a comment and a string: nothing moves.
 *
 * The command's own start-up trick, never the library's.
 *
 * @module
 * @internal
 */

import { accessSync, constants } from 'node:fs';

/** Where the executable's shell line puts `NODE_EXTRA_CA_CERTS` for the command to take back. */
export const DEFERRED_EXTRA_CA_ENV = 'ORASFLY_NODE_EXTRA_CA_CERTS';

/**
 * The executable's first two lines: a shell script to `/bin/sh`, a comment and a string to Node.
 * The shell moves `NODE_EXTRA_CA_CERTS` (when set and not empty) and execs the `node` on `PATH`, as
 * `#!/usr/bin/env node` would, on this same file; `--` keeps a path that starts with `-` a path.
 */
export const LAUNCHER_PROLOGUE =
  '#!/bin/sh\n' +
  `":" //; [ -n "\${NODE_EXTRA_CA_CERTS:-}" ] && { ${DEFERRED_EXTRA_CA_ENV}=$NODE_EXTRA_CA_CERTS; ` +
  `export ${DEFERRED_EXTRA_CA_ENV}; unset NODE_EXTRA_CA_CERTS; }; exec node -- "$0" "$@"\n`;

/**
 * Puts back a `NODE_EXTRA_CA_CERTS` the executable kept from Node's start-up, and removes the
 * carrier variable. Returns whether Node's default trust store lacks the variable's certificates:
 * `true` only when it was moved. When `NODE_EXTRA_CA_CERTS` is set too, Node has loaded that one
 * (the file was run by `node` itself), and it stays.
 */
export function restoreDeferredExtraCa(env: NodeJS.ProcessEnv): boolean {
  const moved = env[DEFERRED_EXTRA_CA_ENV];
  if (moved === undefined) return false;
  delete env[DEFERRED_EXTRA_CA_ENV];
  if (!moved || env['NODE_EXTRA_CA_CERTS'] !== undefined) return false;
  env['NODE_EXTRA_CA_CERTS'] = moved;
  return true;
}

/**
 * Node's start-up warning for a `NODE_EXTRA_CA_CERTS` file it cannot read, which a deferred
 * variable would otherwise never get: the same words, from a cheap check (the file is read only
 * when a connection needs it). `undefined` when the file can be read.
 */
export function unreadableExtraCaWarning(env: NodeJS.ProcessEnv): string | undefined {
  const file = env['NODE_EXTRA_CA_CERTS'];
  if (!file) return undefined;
  try {
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (e) {
    return `Warning: Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`;
  }
}
