// What an install of the packed tarball gets: the licence, the notices of every package the command inlines, and
// package metadata whose links work from the registry's package page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown> & {
  dependencies: Record<string, string>;
};

test('the package ships LICENSE, the CLI with its third-party notices, and the docs', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  for (const f of [
    'LICENSE',
    'README.md',
    'dist/index.js',
    'dist/cli/orasfly.cjs',
    'dist/cli/orasfly-main.cjs',
    'dist/cli/THIRD-PARTY-NOTICES.txt',
    'docs/security.md',
    'docs/bundling.md',
  ])
    assert.ok(files.has(f), `${f} is packed`);
  assert.ok(
    ![...files].some((f) => f.startsWith('docs/api/') || f.endsWith('.map')),
    'no generated API site, no source maps',
  );
  assert.match(readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
});

test('the notices name every runtime dependency the command inlines, with its licence text', () => {
  const notices = readFileSync(path.join(repoRoot, 'dist', 'cli', 'THIRD-PARTY-NOTICES.txt'), 'utf8');
  for (const dep of Object.keys(pkg.dependencies))
    assert.match(
      notices,
      new RegExp(`^${dep.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\S+ \\((?:MIT|ISC|Apache-2\\.0|BSD[^)]*)\\)$`, 'm'),
      dep,
    );
  assert.match(notices, /Permission is hereby granted/);
  assert.match(
    readFileSync(path.join(repoRoot, 'dist', 'cli', 'orasfly-main.cjs'), 'utf8').slice(0, 300),
    /THIRD-PARTY-NOTICES\.txt/,
  );
});

test('package.json links work from the package page: repository, homepage, bugs', () => {
  assert.match((pkg.repository as { url: string }).url, /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
  assert.match(pkg.homepage as string, /^https:\/\//);
  assert.match((pkg.bugs as { url: string }).url, /^https:\/\/.*\/issues$/);
  assert.equal(pkg.license, 'Apache-2.0');
});
