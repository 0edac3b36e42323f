/**
 * Where the repository and the test fixtures are, for test code compiled to `.build/test/…`: one
 * place for the `'..'` chains that otherwise depend on each file's depth. Imports nothing but node
 * built-ins, so unit tests may use it too.
 *
 * @module
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (this file runs from `.build/test/harness/`). */
export const repoRoot = path.resolve(here, '..', '..', '..');

/** A data fixture of `test/fixtures/` in the source tree (not copied to `.build`): `fixturePath('proto')`. */
export function fixturePath(...names: string[]): string {
  return path.join(repoRoot, 'test', 'fixtures', ...names);
}

/** A fixture script compiled to `.build/test/fixtures/`: `builtFixturePath('pull-child.js')`. */
export function builtFixturePath(name: string): string {
  return path.resolve(here, '..', 'fixtures', name);
}
