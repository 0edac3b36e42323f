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

/** The `--json` error of a failed run. */
function jsonError(r: { stdout: string }): { message: string; code: string; kind: string } {
  return lastJson<{ error: { message: string; code: string; kind: string } }>(r as never).error;
}

test('no credential found (basic and bearer registries): the message says so, where orasfly looked and how to log in', async () => {
  for (const reg of [basic, token]) {
    const h = home();
    const r = await runCli(h.dir, [reg.ref('c/img:v1'), '-O', path.join(h.dir, 'a.sif'), ...h.args]);
    assert.equal(r.code, 1);
    const e = jsonError(r);
    assert.equal(e.kind, 'unauthorized');
    // Redaction keeps the words: "Basic credentials" is prose, not a secret.
    if (reg === basic) assert.match(e.message, /asks for Basic credentials/);
    assert.match(e.message, new RegExp(`no credential for ${reg.host.replace(/\./g, '\\.')} was found`));
    assert.match(e.message, /containers auth files, the docker config and the Apptainer login file/);
    assert.match(e.message, /DEBUG=orasfly:auth lists the files/);
    for (const how of ['docker login', 'podman login', 'apptainer registry login', '--username USER --password-stdin'])
      assert.ok(e.message.includes(how), `${how} in: ${e.message}`);
  }
});

test('a rejected credential says it was rejected and which source it came from (basic and bearer registries)', async () => {
  const wrong = { username: basic.credentials!.username, password: 'wrong-password-1234' };
  // containers auth file (podman login) against the basic registry
  const h1 = home();
  const podman = authFile(path.join(h1.dir, 'podman.json'), { [basic.host]: wrong });
  const r1 = await runCli(h1.dir, [basic.ref('c/img:v1'), '-O', path.join(h1.dir, 'a.sif'), ...h1.args], {
    env: { REGISTRY_AUTH_FILE: podman },
  });
  assert.equal(r1.code, 1);
  assert.match(
    jsonError(r1).message,
    new RegExp(`credential for \\S+ from the containers auth file ${podman} \\(podman/skopeo login\\) was rejected`),
  );
  // docker config against the bearer-token registry (the token service refuses it)
  const h2 = home();
  const docker = authFile(path.join(h2.dir, '.docker', 'config.json'), { [token.host]: wrong });
  const r2 = await runCli(h2.dir, [token.ref('c/img:v1'), '-O', path.join(h2.dir, 'a.sif'), ...h2.args]);
  assert.equal(r2.code, 1);
  assert.match(jsonError(r2).message, new RegExp(`from the docker config ${docker} \\(docker login\\) was rejected`));
  // Apptainer's login file against the basic registry
  const h3 = home();
  const app = authFile(path.join(h3.dir, '.apptainer', 'docker-config.json'), { [basic.host]: wrong });
  const r3 = await runCli(h3.dir, [basic.ref('c/img:v1'), '-O', path.join(h3.dir, 'a.sif'), ...h3.args]);
  assert.match(jsonError(r3).message, new RegExp(`from the Apptainer login file ${app} .*was rejected`));
  // --username with --password-stdin against the token registry
  const h4 = home();
  const r4 = await runCli(
    h4.dir,
    [
      token.ref('c/img:v1'),
      '-O',
      path.join(h4.dir, 'a.sif'),
      '--username',
      wrong.username,
      '--password-stdin',
      ...h4.args,
    ],
    { stdin: wrong.password },
  );
  assert.equal(r4.code, 1);
  assert.match(jsonError(r4).message, /from --username with --password-stdin was rejected/);
  for (const r of [r1, r2, r3, r4]) {
    assert.equal(jsonError(r).kind, 'unauthorized');
    assert.ok(!r.stdout.includes(wrong.password) && !r.stderr.includes(wrong.password), 'no password in the output');
  }
  for (const h of [h1, h2, h3, h4])
    assert.ok(!writtenText(path.join(h.dir, 'logs')).includes(wrong.password), 'no password in the logs');
});

test('--registry-config naming a missing file is a usage error naming the file, before any request', async () => {
  const h = home();
  const missing = path.join(h.dir, 'typo-auth.json');
  const r = await runCli(h.dir, [
    anon.ref('c/img:v1'),
    '-O',
    path.join(h.dir, 'a.sif'),
    '--registry-config',
    missing,
    ...h.args,
  ]);
  assert.equal(r.code, 1, 'even an anonymous registry: the named file is a typo');
  const e = jsonError(r);
  assert.equal(e.kind, 'usage');
  assert.ok(e.message.includes(missing), e.message);
  assert.match(e.message, /does not exist/);
});
