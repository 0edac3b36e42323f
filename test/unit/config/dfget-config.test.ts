import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from '../../../src/config/dfget-config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { downloaderOptionsFromConfig } from '../../../src/downloader.js';
import { DEFAULT_STORAGE_OPTIONS } from '../../../src/storage/options.js';
import { DEFAULT_ORAS_CLIENT_OPTIONS } from '../../../src/source/oras/options.js';
import { DEFAULT_CONDUCTOR_OPTIONS } from '../../../src/conductor/options.js';
import { fixturePath, repoRoot } from '../../harness/paths.js';

// The fixture is the seed page's dfget.yaml, verbatim; it lives in the source tree, not in .build.
const seed = fixturePath('seed-dfget.yaml');

test("the seed page's dfget.yaml loads, with a warning for the trailing-dot strategy", async () => {
  const { config, warnings } = await loadConfig(seed);
  // The config keeps what the file says; the store's resolver reads the trailing dot (with the warning below).
  assert.deepEqual(config.storage, {
    taskExpireTime: '6h',
    strategy: 'io.d7y.storage.v2.advance.',
    diskGCThreshold: '50Gi',
    diskGCThresholdPercent: 80,
    multiplex: true,
  });
  assert.equal(config.oras.dialTimeout, '30s');
  assert.equal(config.oras.maxIdleConns, 100);
  assert.equal(config.oras.insecureSkipVerify, true);
  assert.equal('proxy' in config.oras, false, 'an empty proxy is unset');
  assert.ok(warnings.some((w) => w.includes('trailing dot')));
  assert.ok(warnings.some((w) => w.includes('NOT be verified')));
});

test("upstream's real location download.resourceClients.oras is read; the top-level block wins", () => {
  const { config } = parseConfig(
    'download:\n  totalRateLimit: 200Mi\n  resourceClients:\n    oras:\n      dialTimeout: 5s\n      keepAlive: 10s\noras:\n  keepAlive: 20s\n',
  );
  assert.deepEqual(config.oras, { dialTimeout: '5s', keepAlive: '20s' });
  assert.equal(config.download.totalRateLimit, '200Mi');
});

test('top-level gcInterval, keepStorage, dataDir, workHome and logDir are read', () => {
  const { config } = parseConfig('gcInterval: 2m\nkeepStorage: true\ndataDir: /d\nworkHome: /w\nlogDir: /l\n');
  assert.equal(config.storage.gcInterval, '2m');
  assert.equal(config.storage.keepStorage, true);
  assert.deepEqual([config.dataDir, config.workHome, config.logDir], ['/d', '/w', '/l']);
});

test('top-level gcInterval and keepStorage apply in any order; the storage block wins', () => {
  const before = parseConfig('gcInterval: 2m\nkeepStorage: false\nstorage:\n  multiplex: true\n').config.storage;
  assert.deepEqual(before, { gcInterval: '2m', keepStorage: false, multiplex: true });
  const both = parseConfig('storage:\n  gcInterval: 5m\ngcInterval: 2m\n').config.storage;
  assert.equal(both.gcInterval, '5m');
});

test('unknown keys warn; full daemon sections are accepted quietly', () => {
  const { warnings } = parseConfig('storage:\n  multiplx: true\nscheduler:\n  manager: {}\nbogus: 1\n', 'f.yaml');
  assert.deepEqual(warnings, ['f.yaml: unknown key storage.multiplx (ignored)', 'f.yaml: unknown key bogus (ignored)']);
});

test('a wrong type fails naming the key path and the file', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'dfget.yaml');
  const cases: Array<[string, string]> = [
    ['storage:\n  multiplex: "yes"\n', 'storage.multiplex'],
    ['storage:\n  taskExpireTime: soon\n', 'storage.taskExpireTime'],
    ['storage:\n  diskGCThreshold: [1]\n', 'storage.diskGCThreshold'],
    ['oras:\n  maxIdleConns: many\n', 'oras.maxIdleConns'],
    [
      'download:\n  resourceClients:\n    oras:\n      dialTimeout: true\n',
      'download.resourceClients.oras.dialTimeout',
    ],
    ['storage:\n  strategy: io.d7y.storage.v3\n', 'storage.strategy'],
    ['storage: 5\n', 'storage'],
    // The transport block is checked at load too, named as the file names it.
    ['transport:\n  endpoint: 5\n', 'transport.endpoint'],
    ['transport:\n  proxy: http://127.0.0.1:4001\n  priority: 9\n', 'transport.priority'],
    ['transport:\n  proxy: socks5://127.0.0.1:1080\n', 'transport.proxy'],
  ];
  for (const [text, key] of cases) {
    await writeFile(file, text);
    await assert.rejects(
      loadConfig(file),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === key &&
        e.file === file &&
        e.message.includes(key) &&
        e.message.includes(file),
      key,
    );
  }
});

test('bad YAML and a missing file are ConfigErrors naming the file', async () => {
  assert.throws(
    () => parseConfig('storage: [\n', 'x.yaml'),
    (e: unknown) => e instanceof ConfigError && /x\.yaml: not valid YAML/.test(e.message),
  );
  assert.throws(
    () => parseConfig('storage:\n  multiplex: true\n  multiplex: false\n', 'dup.yaml'),
    (e: unknown) => e instanceof ConfigError && /dup\.yaml: not valid YAML \(line 3\)/.test(e.message),
  );
  await assert.rejects(
    loadConfig('/nonexistent/dfget.yaml'),
    (e: unknown) => e instanceof ConfigError && e.file === '/nonexistent/dfget.yaml',
  );
});

test('a YAML alias bomb is refused at once, and messages never expand shared values', async () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [prev, cur] of [
    ['a', 'b'],
    ['b', 'c'],
    ['c', 'd'],
    ['d', 'e'],
    ['e', 'f'],
    ['f', 'g'],
    ['g', 'h'],
  ])
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  const bomb = `${levels.join('\n')}\nstorage:\n  dataPath: [${Array(9).fill('*h').join(',')}]\n`;
  assert.ok(bomb.length < 600);
  assert.throws(
    () => parseConfig(bomb, 'bomb.yaml'),
    (e: unknown) => e instanceof ConfigError && /alias bomb/.test(e.message) && e.message.length < 300,
  );
  // Below the node budget, a wrong type names the value by its size only.
  assert.throws(
    () => parseConfig('x: &x [1,2,3,4,5,6,7,8,9,10]\nstorage:\n  dataPath: [*x, *x, *x]\n', 'small.yaml'),
    (e: unknown) => e instanceof ConfigError && /expected a string, got a list of 3 items/.test(e.message),
  );
  assert.throws(
    () => parseConfig(`storage:\n  multiplex: "${'y'.repeat(100_000)}"\n`, 'long.yaml'),
    (e: unknown) => e instanceof ConfigError && e.message.length < 400,
  );
});

test('a config file over 1 MiB is refused without being read whole', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cfg-'));
  try {
    const f = path.join(dir, 'big.yaml');
    await writeFile(f, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    await assert.rejects(
      loadConfig(f),
      (e: unknown) => e instanceof ConfigError && /larger than 1048576 bytes/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('oras.platform reads os/arch[/variant]; a malformed one names the key', () => {
  assert.deepEqual(parseConfig('oras:\n  platform: linux/arm64/v8\n', 'p.yaml').config.oras.platform, {
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
  });
  assert.throws(
    () => parseConfig('oras:\n  platform: linux\n', 'p.yaml'),
    (e: unknown) => e instanceof ConfigError && /oras\.platform/.test(e.message),
  );
});

test('oras.tagCacheTtl is read from dfget.yaml; oras.cache (an object) is a library option, ignored with a warning', () => {
  const c = parseConfig('oras:\n  tagCacheTtl: 60s\n  cache: /tmp/x\n', 't.yaml');
  assert.equal(c.config.oras.tagCacheTtl, '60s');
  assert.equal((c.config.oras as Record<string, unknown>)['cache'], undefined);
  assert.ok(c.warnings.some((w) => /oras\.cache/.test(w)));
});

// ---------------------------------------------------------------------------------------------
// Every key docs/configuration.md documents for a block reaches the library option it names.

/** The backticked keys of the first column of every table in the section that starts at `heading`. */
function documentedKeys(heading: string): string[] {
  const doc = readFileSync(path.join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  const start = doc.indexOf(heading);
  assert.ok(start >= 0, `docs/configuration.md has ${heading}`);
  const end = doc.indexOf('\n## ', start + heading.length);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const keys: string[] = [];
  for (const line of section.split('\n')) {
    const first = /^\| ([^|]+) \|/.exec(line)?.[1];
    if (!first || /^-+$/.test(first.trim()) || first.trim() === 'key' || first.trim() === 'option') continue;
    for (const m of first.matchAll(/`([A-Za-z.]+)`/g)) keys.push(m[1]!);
  }
  return keys;
}

// caFile is read when the options are validated: a real PEM file.
const caDir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cfg-ca-'));
const caPem = path.join(caDir, 'ca.pem');
writeFileSync(caPem, rootCertificates[0]!);
after(() => rmSync(caDir, { recursive: true, force: true }));

/** A value a config may give each option, and what the option then holds. */
const SAMPLES: Record<string, [yaml: string, option: unknown]> = {
  caFile: [caPem, caPem],
  plainHttp: ['true', true],
  idleTimeout: ['7s', '7s'],
  dataPath: ['/srv/orasfly', '/srv/orasfly'],
  strategy: ['io.d7y.storage.v2.advance', 'io.d7y.storage.v2.advance'],
  pieceDigest: ['md5', 'md5'],
  diskGCThreshold: ['3Gi', '3Gi'],
  diskGCThresholdPercent: ['70', 70],
  proxy: ['http://127.0.0.1:3128', 'http://127.0.0.1:3128'],
  maxIdleConns: ['7', 7],
  maxManifestBytes: ['7000', 7000],
  maxTokenBytes: ['7000', 7000],
  platform: ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
  layerMediaType: ['text/plain', 'text/plain'],
  layerIndex: ['-1', -1],
  tagCacheTtl: ['60s', '60s'],
  userAgent: ['tester/1', 'tester/1'],
  registryConfig: [`[${caPem}]`, [caPem]],
  dockerConfig: ['[/etc/docker.json]', ['/etc/docker.json']],
  homeDir: ['/home/u', '/home/u'],
  retry: ['{ maxRetries: 2 }', { maxRetries: 2 }],
  totalRateLimit: ['200Mi', '200Mi'],
  concurrency: ['3', 3],
  pieceSize: ['8Mi', '8Mi'],
  lowSpeedLimit: ['2Ki', '2Ki'],
  pieceRetries: ['2', 2],
  endpoint: ['/run/d.sock', '/run/d.sock'],
  delivery: ['piece-content', 'piece-content'],
  priority: ['3', 3],
};

/** The sample for a key: explicit, else by the kind of its default (a duration, a boolean). */
function sample(key: string, defaults: Record<string, unknown>): [string, unknown] {
  if (SAMPLES[key]) return SAMPLES[key];
  const d = defaults[key];
  if (typeof d === 'boolean') return [String(!d), !d];
  if (typeof d === 'string' && /^\d+(ms|s|m|h)$/.test(d)) return ['7s', '7s'];
  if (typeof d === 'number') return /Time|Delay|Interval|Timeout/.test(key) ? ['7s', '7s'] : ['7', 7];
  throw new Error(`no sample value for ${key}: add one to SAMPLES`);
}

const IGNORED_UPSTREAM = new Set([
  'writeBufferSize',
  'reloadGoroutineCount',
  'maxIdleConnsPerHost',
  'maxConnsPerHost',
  'enableTrace',
  'perPeerRateLimit',
  'calculateDigest',
  'pieceDownloadTimeout',
  'prefetch',
  'getPiecesMaxRetry',
  'splitRunningTasks',
  'syncPieceViaHttps',
  'traffic_shaper_type',
  'cacheRecursiveMetadata',
  'transportOption',
  'concurrent',
  'downloadGRPC',
  'peerGRPC',
  'recursiveConcurrent',
  'watchdogTimeout',
  'resourceClients.oras',
  'aliveTime',
]);
const LIBRARY_ONLY = new Set(['credentials', 'dispatcher', 'cache', 'now']);

for (const [heading, block, target, defaults] of [
  ['## `storage:` block', 'storage', 'storage', DEFAULT_STORAGE_OPTIONS],
  ['## `oras:` block', 'oras', 'oras', DEFAULT_ORAS_CLIENT_OPTIONS],
  ['## `download:` block', 'download', 'download', DEFAULT_CONDUCTOR_OPTIONS],
  ['## `transport:` block', 'transport', 'cluster', {}],
] as const) {
  test(`every documented key of ${block}: reaches the option it names`, () => {
    const keys = documentedKeys(heading);
    assert.ok(keys.length >= 5, `${heading}: ${keys.join(', ')}`);
    for (const key of new Set(keys)) {
      if (key.includes('.') && !IGNORED_UPSTREAM.has(key)) continue; // a cross-reference such as `storage.dataPath`
      const yamlKey = key;
      if (IGNORED_UPSTREAM.has(key)) {
        if (key.includes('.')) continue;
        const { warnings } = parseConfig(`${block}:\n  ${yamlKey}: 1\n`, 'd.yaml');
        assert.deepEqual(warnings, [], `${block}.${key} is accepted without a warning`);
        continue;
      }
      if (LIBRARY_ONLY.has(key)) {
        const { warnings } = parseConfig(`${block}:\n  ${yamlKey}: x\n`, 'd.yaml');
        assert.ok(
          warnings.some((w) => w.includes(`unknown key ${block}.${key}`)),
          `${key} is library-only`,
        );
        continue;
      }
      const option = key === 'disableBackToSource' ? 'backToSource' : key;
      const [value, expected] =
        key === 'disableBackToSource' ? ['true', false] : sample(key, defaults as Record<string, unknown>);
      const { config, warnings } = parseConfig(`${block}:\n  ${yamlKey}: ${value}\n`, 'd.yaml');
      assert.deepEqual(
        warnings.filter((w) => w.includes('unknown key')),
        [],
        `${block}.${key} is known`,
      );
      const opts = downloaderOptionsFromConfig(config, { dataPath: '/fallback' }) as unknown as Record<
        string,
        Record<string, unknown>
      >;
      assert.deepEqual(opts[target]?.[option], expected, `${block}.${key} → ${target}.${option}`);
    }
  });
}

test("a real dfdaemon dfget.yaml's download: block loads without a warning: upstream keys orasfly does not use are quiet", () => {
  const real = [
    'download:',
    '  calculateDigest: true',
    '  totalRateLimit: 1024Mi',
    '  perPeerRateLimit: 512Mi',
    '  pieceDownloadTimeout: 30s',
    '  prefetch: false',
    '  getPiecesMaxRetry: 100',
    '  splitRunningTasks: false',
    '  syncPieceViaHttps: false',
    '  traffic_shaper_type: plain',
    '  cacheRecursiveMetadata: 5m',
    '  transportOption:',
    '    dialTimeout: 2s',
    '  concurrent:',
    '    thresholdSize: 10M',
    '    goroutineCount: 4',
    '  downloadGRPC:',
    '    security:',
    '      insecure: true',
    '    unixListen:',
    '      socket: /var/run/dragonfly/dfdaemon.sock',
    '  peerGRPC:',
    '    tcpListen:',
    '      port: 65000',
    '  recursiveConcurrent:',
    '    goroutineCount: 32',
    '',
  ].join('\n');
  const { config, warnings } = parseConfig(real, 'dfget.yaml');
  assert.deepEqual(warnings, []);
  assert.equal(config.download.totalRateLimit, '1024Mi');
  // A typo is still said.
  assert.deepEqual(parseConfig('download:\n  totalRateLimt: 1Mi\n', 'd.yaml').warnings, [
    'd.yaml: unknown key download.totalRateLimt (ignored)',
  ]);
});
