#!/usr/bin/env node
// No file under src/ is over MAX_LINES lines: a file that grows past that holds more than one job
// (issue #17 split the ones that had). Run by `npm run lint`; `node scripts/check-file-size.mjs [dir]`
// checks another tree.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The most lines a source file may have. */
export const MAX_LINES = 500;

/** Problems of the tree under `dir`, one line each. */
export function checkFileSizes(dir, max = MAX_LINES) {
  const problems = [];
  for (const rel of readdirSync(dir, { recursive: true }).map(String).sort()) {
    if (!rel.endsWith('.ts')) continue;
    const lines = readFileSync(path.join(dir, rel), 'utf8').split('\n').length - 1;
    if (lines > max) problems.push(`${rel}: ${lines} lines, over ${max}: split it by job`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, 'src');
  const problems = checkFileSizes(dir);
  for (const p of problems) console.error(p);
  if (!problems.length) console.log(`file size: every source file has at most ${MAX_LINES} lines`);
  process.exit(problems.length ? 1 : 0);
}
