#!/usr/bin/env node
// Every file under src/ opens with a comment that says what the file does (its one job), so that a
// reader knows from the top of a file what it holds and what it may touch. The comment comes first
// (after a shebang), is a `/** … */` block or `//` lines, and has at least MIN_WORDS words of prose.
// Run by `npm run lint`; `node scripts/check-opening-comments.mjs [dir]` checks another tree.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Fewer words than this name no job ("Utils." or "Helpers." do not). */
const MIN_WORDS = 6;

/** The opening comment's prose, or undefined when the file does not open with a comment. */
export function openingComment(text) {
  const body = text.replace(/^#!.*\n/, '').replace(/^\uFEFF/, '');
  const block = /^\/\*\*?([\s\S]*?)\*\//.exec(body);
  if (block) return block[1].replace(/^\s*\*\s?/gm, '').replace(/@\w+/g, '');
  const lines = /^(?:\/\/.*\n)+/.exec(body);
  return lines ? lines[0].replace(/^\/\/\s?/gm, '') : undefined;
}

/** Problems of the tree under `dir`, one line each. */
export function checkOpeningComments(dir) {
  const problems = [];
  for (const rel of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (!rel.endsWith('.ts')) continue;
    const text = readFileSync(path.join(dir, rel), 'utf8');
    const comment = openingComment(text);
    if (comment === undefined) problems.push(`${rel}: does not open with a comment saying what the file does`);
    else if (comment.split(/\s+/).filter((w) => /\w/.test(w)).length < MIN_WORDS)
      problems.push(`${rel}: the opening comment is too short to name the file's job (${MIN_WORDS}+ words)`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'src');
  const problems = checkOpeningComments(dir);
  for (const p of problems) console.error(p);
  if (!problems.length) console.log('opening comments: every source file names its job');
  process.exit(problems.length ? 1 : 0);
}
