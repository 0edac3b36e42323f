// Type-checks every code example a reader can copy: the ```ts blocks of README.md and docs/*.md,
// and the ```ts blocks of TSDoc `@example` tags in src/. Each block is a module of its own that
// imports from 'orasfly' (mapped to src/index.ts), so an example that names a removed export, a
// renamed option or an undeclared variable fails CI. Run by `npm test` and `npm run lint`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.build', 'doc-examples');

/** `{ source, line, code }` for each fenced ts block of a Markdown text. */
function markdownBlocks(file, text) {
  const blocks = [];
  const re = /^```(?:ts|typescript)\s*\n([\s\S]*?)^```/gm;
  for (let m; (m = re.exec(text));)
    blocks.push({ source: file, line: text.slice(0, m.index).split('\n').length, code: m[1] });
  return blocks;
}

/** The fenced ts blocks inside TSDoc comments, with the ` * ` prefixes removed. */
function tsdocBlocks(file, text) {
  const blocks = [];
  const re = /\/\*\*[\s\S]*?\*\//g;
  for (let m; (m = re.exec(text));) {
    if (!m[0].includes('@example')) continue;
    const body = m[0]
      .split('\n')
      .map((l) => l.replace(/^\s*\/?\*+\/?\s?/, ''))
      .join('\n');
    const start = text.slice(0, m.index).split('\n').length;
    for (const b of markdownBlocks(file, body)) blocks.push({ ...b, line: start + b.line - 1 });
  }
  return blocks;
}

const blocks = [];
for (const f of [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]) {
  blocks.push(...markdownBlocks(f, readFileSync(path.join(root, f), 'utf8')));
}
for (const f of readdirSync(path.join(root, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  blocks.push(...tsdocBlocks(`src/${f}`, readFileSync(path.join(root, 'src', f), 'utf8')));
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const where = new Map();
blocks.forEach((b) => {
  const name = `${b.source.replace(/[^A-Za-z0-9]+/g, '-')}-${b.line}.ts`;
  where.set(name, b);
  // A block without imports is still a module (top-level await, no global clashes between blocks).
  writeFileSync(path.join(out, name), `${b.code}\nexport {};\n`);
});
writeFileSync(
  path.join(out, 'tsconfig.json'),
  JSON.stringify({
    extends: '../../tsconfig.base.json',
    compilerOptions: {
      noEmit: true,
      rootDir: '../..',
      paths: { orasfly: ['../../src/index.ts'], 'orasfly/dragonfly': ['../../src/dragonfly.ts'] },
      noUnusedLocals: false,
    },
    include: ['*.ts', '../../src/types/*.d.ts'],
  }),
);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(out, 'tsconfig.json'), '--pretty', 'false'], {
  cwd: root,
  encoding: 'utf8',
});
if (r.status !== 0) {
  // Point at the document and line, not at the generated file.
  const text = `${r.stdout}${r.stderr}`.replace(
    /(?:^|\n)\.build\/doc-examples\/([^(]+)\((\d+),(\d+)\)/g,
    (all, name, line) => {
      const b = where.get(name);
      return b ? `\n${b.source}:${b.line + Number(line)} (example line ${line})` : all;
    },
  );
  console.error(`doc examples: type errors\n${text.trim()}`);
  process.exit(1);
}
console.log(`doc examples: ${blocks.length} blocks type-check`);
