import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  findCredential,
  configKeyToHost,
  defaultCredentialFiles,
  matchingAuthKeys,
  runCredentialHelper,
} from '../../../../src/source/oras/credentials.js';
import { CredentialsError } from '../../../../src/core/errors.js';

let root: string;
let bin: string;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'orasfly-creds-'));
  bin = path.join(root, 'bin');
  mkdirSync(bin);
  // A real credential helper: reads the server URL on stdin, answers docker's JSON.
  writeFileSync(
    path.join(bin, 'docker-credential-test'),
    `#!/bin/sh
read host
case "$host" in
  helper.example) echo '{"ServerURL":"helper.example","Username":"hu","Secret":"hs"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"idtok"}' ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`,
  );
  chmodSync(path.join(bin, 'docker-credential-test'), 0o755);
  writeFileSync(path.join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "{not json secret=xyz"\n');
  chmodSync(path.join(bin, 'docker-credential-broken'), 0o755);
});
after(() => rmSync(root, { recursive: true, force: true }));

function home(name: string, files: Record<string, unknown>): string {
  const h = path.join(root, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(h, rel)), { recursive: true });
    writeFileSync(path.join(h, rel), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return h;
}
const env = (): NodeJS.ProcessEnv => ({ PATH: `${bin}:${process.env['PATH'] ?? ''}` });

test('explicit option wins; functions get the host', async () => {
  const h = home('explicit', { '.docker/config.json': { auths: { 'r.example': { auth: b64('file:pw') } } } });
  assert.deepEqual(
    await findCredential('r.example', { homeDir: h, env: env(), explicit: { username: 'opt', password: 'x' } }),
    { credential: { username: 'opt', password: 'x' }, source: 'option', from: 'the credentials option' },
  );
  const seen: string[] = [];
  const f = await findCredential('r.example', {
    homeDir: h,
    env: env(),
    explicit: (host) => (seen.push(host), undefined),
  });
  assert.deepEqual(seen, ['r.example']);
  assert.deepEqual(f?.credential, { username: 'file', password: 'pw' });
});

test('docker config: auths by exact host, https:// and http:// keys, fields, docker hub legacy key', async () => {
  const h = home('auths', {
    '.docker/config.json': {
      auths: {
        'https://a.example/v2/': { auth: b64('ua:pa') },
        'http://b.example:5000': { username: 'ub', password: 'pb' },
        'c.example': { identitytoken: 'idc' },
        'https://index.docker.io/v1/': { auth: b64('hub:pw:with:colons') },
      },
    },
  });
  const o = { homeDir: h, env: env() };
  assert.deepEqual((await findCredential('a.example', o))?.credential, { username: 'ua', password: 'pa' });
  assert.deepEqual((await findCredential('b.example:5000', o))?.credential, { username: 'ub', password: 'pb' });
  assert.deepEqual((await findCredential('c.example', o))?.credential, { identityToken: 'idc' });
  assert.deepEqual((await findCredential('docker.io', o))?.credential, { username: 'hub', password: 'pw:with:colons' });
  assert.equal(await findCredential('b.example', o), undefined);
  assert.equal(configKeyToHost('https://Index.Docker.io/v1/'), 'index.docker.io');
});

test('DOCKER_CONFIG directory and dockerConfig paths override ~/.docker', async () => {
  const h = home('dockerconfig', {
    '.docker/config.json': { auths: { r: { auth: b64('home:x') } } },
    'alt/config.json': { auths: { r: { auth: b64('alt:x') } } },
  });
  assert.deepEqual(
    (await findCredential('r', { homeDir: h, env: { ...env(), DOCKER_CONFIG: path.join(h, 'alt') } }))?.credential,
    { username: 'alt', password: 'x' },
  );
  assert.deepEqual(
    (await findCredential('r', { homeDir: h, env: env(), dockerConfig: [path.join(h, 'alt/config.json')] }))
      ?.credential,
    { username: 'alt', password: 'x' },
  );
  assert.equal(await findCredential('r', { homeDir: h, env: env(), dockerConfig: [] }), undefined);
});

test('credHelpers[host] and credsStore run docker-credential-<name> get', async () => {
  const h = home('helpers', {
    '.docker/config.json': {
      credHelpers: { 'helper.example': 'test' },
      credsStore: 'test',
      auths: { 'other.example': { auth: b64('o:p') } },
    },
  });
  const o = { homeDir: h, env: env() };
  assert.deepEqual(await findCredential('helper.example', o), {
    credential: { username: 'hu', password: 'hs' },
    source: 'docker-credential-test',
    from: `the credential helper docker-credential-test (credHelpers of the docker config ${path.join(h, '.docker/config.json')} (docker login))`,
  });
  assert.deepEqual((await findCredential('token.example', o))?.credential, { identityToken: 'idtok' });
  // Helper says "not found" → auths are consulted.
  assert.deepEqual((await findCredential('other.example', o))?.credential, { username: 'o', password: 'p' });
});

test('a failing helper is a warning naming the helper, never its output; the lookup goes on', async () => {
  const warnings: string[] = [];
  const h = home('badhelpers', { '.docker/config.json': { credsStore: 'broken', auths: { x: { auth: b64('u:p') } } } });
  assert.deepEqual(
    (await findCredential('x', { homeDir: h, env: env(), onWarning: (m) => warnings.push(m) }))?.credential,
    { username: 'u', password: 'p' },
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /docker-credential-broken/);
  assert.ok(!warnings[0]!.includes('xyz'));
  const h2 = home('missinghelper', { '.docker/config.json': { credsStore: 'nope' } });
  const w2: string[] = [];
  assert.equal(
    await findCredential('x', { homeDir: h2, env: env(), onWarning: (m) => w2.push(m) }),
    undefined,
    'anonymous',
  );
  assert.match(w2[0]!, /not found on PATH/);
});

test('apptainer then singularity docker-config.json (upstream file) are read after docker config', async () => {
  const h = home('apptainer', {
    '.apptainer/docker-config.json': { auths: { 'a.example': { auth: b64('app:x') } } },
    '.singularity/docker-config.json': {
      auths: { 'a.example': { auth: b64('sing:x') }, 's.example': { auth: b64('sing:y') } },
    },
  });
  assert.deepEqual((await findCredential('a.example', { homeDir: h, env: env() }))?.credential, {
    username: 'app',
    password: 'x',
  });
  assert.deepEqual((await findCredential('s.example', { homeDir: h, env: env() }))?.credential, {
    username: 'sing',
    password: 'y',
  });
});

test('malformed files are CredentialsErrors naming the file, never crashing or leaking', async () => {
  const cases: Record<string, unknown> = {
    'not-json': '{"auths": {"r": {"auth": "c2VjcmV0OnB3"',
    array: '[]',
    'auths-string': { auths: 'x' },
    'entry-number': { auths: { r: 5 } },
    'auth-number': { auths: { r: { auth: 5 } } },
    'auth-not-base64': { auths: { r: { auth: 'sec ret!' } } },
    'auth-no-colon': { auths: { r: { auth: b64('secretonly') } } },
    'helpers-array': { credHelpers: ['x'] },
    'store-number': { credsStore: 1 },
  };
  for (const [name, content] of Object.entries(cases)) {
    // Helper keys are docker-config only; the rest is checked in the upstream (singularity) file.
    const rel =
      name.startsWith('helpers') || name.startsWith('store')
        ? '.docker/config.json'
        : '.singularity/docker-config.json';
    const h = home(`bad-${name}`, { [rel]: content });
    const file = path.join(h, rel);
    await assert.rejects(
      findCredential('r', { homeDir: h, env: env() }),
      (e: unknown) =>
        e instanceof CredentialsError &&
        e.source === file &&
        e.message.startsWith(file) &&
        !/secret/i.test(e.message.replace(file, '')),
      name,
    );
  }
  // Missing files are simply anonymous.
  assert.equal(await findCredential('r', { homeDir: path.join(root, 'nothing-here'), env: env() }), undefined);
});

test('defaultCredentialFiles: containers files first (REGISTRY_AUTH_FILE over XDG_RUNTIME_DIR), then docker, then apptainer', () => {
  const home = '/h';
  const withAuthFile = defaultCredentialFiles({
    homeDir: home,
    env: { REGISTRY_AUTH_FILE: '/x/auth.json', XDG_RUNTIME_DIR: '/run/user/7' },
  }).map((f) => `${f.format}:${f.path}`);
  assert.deepEqual(withAuthFile, [
    'containers:/x/auth.json',
    'containers:/h/.config/containers/auth.json',
    'docker:/h/.docker/config.json',
    'docker:/h/.apptainer/docker-config.json',
    'docker:/h/.singularity/docker-config.json',
  ]);
  const runtime = defaultCredentialFiles({
    homeDir: home,
    env: { XDG_RUNTIME_DIR: '/run/user/7', XDG_CONFIG_HOME: '/cfg', DOCKER_CONFIG: '/d' },
  }).map((f) => f.path);
  assert.deepEqual(runtime.slice(0, 3), [
    '/run/user/7/containers/auth.json',
    '/cfg/containers/auth.json',
    '/d/config.json',
  ]);
  const noRuntime = defaultCredentialFiles({ homeDir: home, env: {} }).map((f) => f.path);
  assert.equal(noRuntime[0], `/run/containers/${process.getuid!()}/auth.json`);
});

test('matchingAuthKeys: the longest containers namespace that prefixes the repository wins; docker keys ignore paths', () => {
  const keys = ['r.io', 'r.io/org', 'r.io/org/team', 'r.io/other', 'https://r.io/v1/', 'q.io/org'];
  assert.deepEqual(matchingAuthKeys(keys, 'r.io', 'containers', 'org/team/img'), [
    'r.io/org/team',
    'r.io/org',
    'r.io',
    'https://r.io/v1/',
  ]);
  assert.deepEqual(
    matchingAuthKeys(keys, 'r.io', 'containers', 'organic/img'),
    ['r.io', 'https://r.io/v1/'],
    'a namespace matches whole path segments only',
  );
  assert.deepEqual(
    matchingAuthKeys(['r.io/org'], 'r.io', 'docker', 'x/img'),
    ['r.io/org'],
    'docker format: the path of a key is ignored',
  );
});

test('a found credential says where it came from, for a person: what wrote the file, and its path', async () => {
  const h = home('from', {
    '.apptainer/docker-config.json': { auths: { 'app.example': { auth: b64('a:b') } } },
    'xdg/containers/auth.json': { auths: { 'pod.example': { auth: b64('c:d') } } },
  });
  const o = {
    homeDir: h,
    env: { ...env(), XDG_CONFIG_HOME: path.join(h, 'xdg'), XDG_RUNTIME_DIR: path.join(h, 'run') },
  };
  assert.equal(
    (await findCredential('app.example', o))?.from,
    `the Apptainer login file ${path.join(h, '.apptainer/docker-config.json')} (apptainer registry login)`,
  );
  assert.equal(
    (await findCredential('pod.example', o))?.from,
    `the containers auth file ${path.join(h, 'xdg/containers/auth.json')} (podman/skopeo login)`,
  );
  assert.equal(
    (
      await findCredential('r', {
        ...o,
        explicit: { username: 'u', password: 'p' },
        explicitSource: '--password-stdin',
      })
    )?.from,
    '--password-stdin',
  );
});

test('a registryConfig file that does not exist is an error naming it, not an anonymous lookup', async () => {
  const missing = path.join(root, 'no-such-auth.json');
  await assert.rejects(
    findCredential('r.example', { registryConfig: [missing], env: env() }),
    (e: unknown) =>
      e instanceof CredentialsError &&
      e.code === 'ERR_ORASFLY_CREDENTIALS' &&
      e.message.includes(missing) &&
      /no such file/.test(e.message),
  );
  // A default location that does not exist is simply not read.
  assert.equal(await findCredential('r.example', { homeDir: path.join(root, 'empty-home'), env: env() }), undefined);
});

test('a credential helper is run from an absolute PATH directory only, never from a relative or empty entry (the working directory)', async () => {
  const rel = path.relative(process.cwd(), bin);
  await assert.rejects(
    runCredentialHelper('test', 'helper.example', {}, { PATH: `:${rel}` }),
    (e: unknown) => e instanceof CredentialsError && /not found on PATH/.test(e.message),
  );
  assert.deepEqual(await runCredentialHelper('test', 'helper.example', {}, { PATH: `${rel}:${bin}` }), {
    username: 'hu',
    password: 'hs',
  });
});
