// The install routes the README gives, from a fresh clone (git clone of this commit: no dist/, no
// node_modules), each into a new project in a temp dir: the tarball of `npm pack`, `npm i <checkout
// path>` and `npm i -g <checkout>` (under a temp prefix). After each, `import('orasfly')` works and
// the `orasfly` bin prints its version. npm's own cache is used (--prefer-offline), its logs go to
// the temp dir. A `git+file://` URL install takes the same `prepare` path as a git dependency and
// about 20 s more, so it is left to the README.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, rm, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../harness/paths.js';

const run = promisify(execFile);
const pkgVersion = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

let dir: string;
let env: NodeJS.ProcessEnv;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-install-'));
  env = {
    ...process.env,
    npm_config_logs_dir: path.join(dir, 'npm-logs'),
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
});
after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));

/** A clone of the commit under test, as a user gets it: sources only. */
async function freshClone(name: string): Promise<string> {
  const head = (await run('git', ['-C', repoRoot, 'rev-parse', 'HEAD'])).stdout.trim();
  const clone = path.join(dir, name);
  await run('git', ['clone', '--quiet', '--no-checkout', repoRoot, clone]);
  await run('git', ['-C', clone, 'checkout', '--quiet', head]);
  await assert.rejects(access(path.join(clone, 'dist')), 'a clone holds no dist/');
  await assert.rejects(access(path.join(clone, 'node_modules')));
  return clone;
}

/** A new ESM project with nothing installed. */
async function newProject(name: string): Promise<string> {
  const p = path.join(dir, name);
  await mkdir(p);
  await writeFile(
    path.join(p, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', type: 'module', private: true }),
  );
  return p;
}

const npm = (cwd: string, ...args: string[]) => run('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });

/** The library imports in `project` and `bin` prints the package's version. */
async function assertWorks(project: string, bin: string): Promise<void> {
  const lib = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const m = await import('orasfly'); console.log(typeof m.createDownloader, typeof m.StorageManager);",
    ],
    { cwd: project },
  );
  assert.equal(lib.stdout.trim(), 'function function');
  assert.equal((await run(bin, ['--version'], { cwd: project })).stdout.trim(), `orasfly version: ${pkgVersion}`);
}

test('npm pack of a fresh clone builds dist/ (prepare) and the tarball installs the library and the bin', async () => {
  const clone = await freshClone('clone-pack');
  const packed = JSON.parse((await npm(clone, 'pack', '--json', '--pack-destination', dir)).stdout) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const files = new Set(packed[0]!.files.map((f) => f.path));
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/orasfly.cjs', 'docs/quick-start.md', 'README.md'])
    assert.ok(files.has(f), `${f} is in the tarball`);
  const project = await newProject('uses-tarball');
  await npm(project, 'install', path.join(dir, packed[0]!.filename));
  await assertWorks(project, path.join(project, 'node_modules', '.bin', 'orasfly'));
  // The guides ship: the README's links into docs/ work from node_modules/orasfly.
  assert.ok((await readdir(path.join(project, 'node_modules', 'orasfly', 'docs'))).includes('configuration.md'));
});

test('npm i <path of a fresh clone> and npm i -g <that clone> build dist/ in it and give a working library and bin', async () => {
  const clone = await freshClone('clone-path');
  const project = await newProject('uses-path');
  await npm(project, 'install', clone);
  await assertWorks(project, path.join(project, 'node_modules', '.bin', 'orasfly'));
  const prefix = path.join(dir, 'global');
  await npm(dir, 'install', '--global', '--prefix', prefix, clone);
  await assertWorks(project, path.join(prefix, 'bin', 'orasfly'));
});
