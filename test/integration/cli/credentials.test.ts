// Where the command finds credentials, against real registries: the containers auth files that
// podman/skopeo/buildah login write, --registry-config, --username with --password-stdin, and a
// broken docker credsStore that must not stop an anonymous pull.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, type RunningRegistry } from '../../harness/index.js';
import { lastJson, runCli } from './run-cli.js';

let anon: RunningRegistry;
let token: RunningRegistry;
let basic: RunningRegistry;
let root: string;
let n = 0;
before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cli-creds-'));
  [anon, token, basic] = await Promise.all([
    startRegistry({ variant: 'anonymous' }),
    startRegistry({ variant: 'token' }),
    startRegistry({ variant: 'basic' }),
  ]);
  await Promise.all([
    pushSif(anon, 'c/img', 'v1', { size: 8192, seed: 1 }),
    pushSif(token, 'c/img', 'v1', { size: 8192, seed: 2 }),
    pushSif(basic, 'c/img', 'v1', { size: 8192, seed: 3 }),
  ]);
});
after(async () => {
  await Promise.all([anon?.stop(), token?.stop(), basic?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

/** A fresh HOME with its own store and logs. */
function home(): { dir: string; args: string[] } {
  const dir = path.join(root, `h${n++}`);
  mkdirSync(dir, { recursive: true });
  return { dir, args: ['--datadir', path.join(dir, 'store'), '--logdir', path.join(dir, 'logs'), '--json'] };
}

function authFile(file: string, auths: Record<string, { username: string; password: string }>): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const body = {
    auths: Object.fromEntries(
      Object.entries(auths).map(([k, c]) => [
        k,
        { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') },
      ]),
    ),
  };
  writeFileSync(file, JSON.stringify(body));
  return file;
}

/** Every file the command wrote under `dir`, concatenated (core.log included). */
function writtenText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.sif') && !/^[0-9a-f]{64}$/.test(e.name))
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

test('a docker config with "credsStore": "nosuchhelper" does not stop an anonymous pull', async () => {
  const h = home();
  mkdirSync(path.join(h.dir, '.docker'));
  writeFileSync(path.join(h.dir, '.docker', 'config.json'), JSON.stringify({ credsStore: 'nosuchhelper' }));
  const r = await runCli(h.dir, [anon.ref('c/img:v1'), '-O', path.join(h.dir, 'a.sif'), ...h.args]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r).success, true);
});

test('REGISTRY_AUTH_FILE (podman/skopeo login) is read for a token registry; without it the pull is unauthorized', async () => {
  const h = home();
  const file = authFile(path.join(h.dir, 'podman-auth.json'), { [token.host]: token.credentials! });
  const ok = await runCli(h.dir, [token.ref('c/img:v1'), '-O', path.join(h.dir, 'a.sif'), ...h.args], {
    env: { REGISTRY_AUTH_FILE: file },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(
    token.tokenServer!.requests.some((q) => q.authorized),
    'the token server saw the credential',
  );
  const none = await runCli(h.dir, [token.ref('c/img:v1'), '-O', path.join(h.dir, 'b.sif'), ...h.args]);
  assert.equal(none.code, 1);
  assert.equal((lastJson(none).error as { kind: string }).kind, 'unauthorized');
});

test('$XDG_RUNTIME_DIR/containers/auth.json: a namespaced key applies inside its namespace only', async () => {
  const h = home();
  authFile(path.join(h.dir, 'run', 'containers', 'auth.json'), { [`${basic.host}/c`]: basic.credentials! });
  const ok = await runCli(h.dir, [basic.ref('c/img:v1'), '-O', path.join(h.dir, 'a.sif'), ...h.args]);
  assert.equal(ok.code, 0, ok.stderr);
  const h2 = home();
  authFile(path.join(h2.dir, 'run', 'containers', 'auth.json'), { [`${basic.host}/other`]: basic.credentials! });
  const wrongNs = await runCli(h2.dir, [basic.ref('c/img:v1'), '-O', path.join(h2.dir, 'a.sif'), ...h2.args]);
  assert.equal(wrongNs.code, 1, 'a credential for another namespace is not offered');
});

test('--registry-config FILE is the only file read', async () => {
  const h = home();
  authFile(path.join(h.dir, 'xdg', 'containers', 'auth.json'), { [basic.host]: basic.credentials! });
  const only = authFile(path.join(h.dir, 'only.json'), {});
  const ignoredDefault = await runCli(h.dir, [
    basic.ref('c/img:v1'),
    '-O',
    path.join(h.dir, 'a.sif'),
    '--registry-config',
    only,
    ...h.args,
  ]);
  assert.equal(ignoredDefault.code, 1, 'the default containers file is not read');
  const given = authFile(path.join(h.dir, 'given.json'), { [basic.host]: basic.credentials! });
  const ok = await runCli(h.dir, [
    basic.ref('c/img:v1'),
    '-O',
    path.join(h.dir, 'a.sif'),
    '--registry-config',
    given,
    ...h.args,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('--username with --password-stdin authenticates; the password is in no output or file', async () => {
  const h = home();
  const { username, password } = basic.credentials!;
  const r = await runCli(
    h.dir,
    [
      basic.ref('c/img:v1'),
      '-O',
      path.join(h.dir, 'a.sif'),
      '--username',
      username,
      '--password-stdin',
      '--console',
      ...h.args,
    ],
    { stdin: `${password}\n` },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password));
  assert.ok(!writtenText(h.dir).includes(password), 'no file we wrote holds the password');
  const wrong = await runCli(
    h.dir,
    [basic.ref('c/img:v1'), '-O', path.join(h.dir, 'b.sif'), '--username', username, '--password-stdin', ...h.args],
    { stdin: 'not-the-password' },
  );
  assert.equal(wrong.code, 1);
  assert.equal((lastJson(wrong).error as { kind: string }).kind, 'unauthorized');
});

test('a password on the command line is refused before any request; --username alone is refused', async () => {
  const h = home();
  const before = basic.credentials!;
  const r = await runCli(h.dir, [
    basic.ref('c/img:v1'),
    '-O',
    path.join(h.dir, 'a.sif'),
    '--username',
    before.username,
    `--password=${before.password}`,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--password-stdin/);
  assert.ok(!r.stderr.includes(before.password) && !r.stdout.includes(before.password));
  const alone = await runCli(h.dir, [
    basic.ref('c/img:v1'),
    '-O',
    path.join(h.dir, 'a.sif'),
    '--username',
    before.username,
  ]);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /--username needs --password-stdin/);
});
