import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { parseCliArgs, parseHeader, defaultOutput } from '../../../src/cli/args.js';
import { defaultPaths } from '../../../src/cli/defaults.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

// Relative -O paths resolve against the working directory given; any directory will do.
const cwd = path.join(os.tmpdir(), 'orasfly-args');

test('dfget flags parse with their dfget meaning', () => {
  const a = parseCliArgs(
    [
      '-u',
      'oras://h:5000/a/b:t',
      '-O',
      'out.sif',
      '--timeout',
      '1m30s',
      '-H',
      'X-A: 1',
      '--header',
      'X-B:two',
      '--ratelimit',
      '200Mi',
      '--tag',
      'x',
      '--filter',
      'a&b',
      '--application',
      'app',
      '-b',
    ],
    cwd,
  );
  assert.equal(a.url, 'oras://h:5000/a/b:t');
  assert.equal(a.output, path.join(cwd, 'out.sif'));
  assert.equal(a.timeout, 90_000);
  assert.deepEqual(a.headers, { 'X-A': '1', 'X-B': 'two' });
  assert.equal(a.rateLimit, 200 * 2 ** 20);
  // 0 is kept (it lifts a config file's limit), not read as "not given".
  assert.equal(parseCliArgs(['oras://h/a:t', '--ratelimit', '0'], cwd).rateLimit, 0);
  // dfget's (pflag's) boolean values: `=false` switches off what a config file set.
  const b = parseCliArgs(['oras://h/a:t', '--plain-http=false', '--insecure=false', '--console=true'], cwd);
  assert.equal(b.plainHttp, false);
  assert.equal(b.insecure, false);
  assert.equal(b.console, true);
  assert.equal(parseCliArgs(['oras://h/a:t'], cwd).insecure, undefined, 'not given: the config decides');
  assert.equal(a.tag, 'x');
  assert.equal(a.filter, 'a&b');
  assert.equal(a.application, 'app');
  assert.equal(a.showProgress, true);
});

test('the URL may be positional; --digest clears --tag; --console turns off the bar', () => {
  const a = parseCliArgs(
    ['oras://h/r:t', '--digest', 'sha256:' + 'a'.repeat(64), '--tag', 'x', '--console', '-b'],
    '/w',
  );
  assert.equal(a.url, 'oras://h/r:t');
  assert.equal(a.tag, undefined);
  assert.equal(a.showProgress, false);
  assert.equal(a.output, '/w/r_t.sif', "default output: Apptainer's NAME_TAG.sif, no colon");
});

test('flag errors use dfget texts', () => {
  assert.throws(() => parseHeader('NoColon'), /header format error: "NoColon" \(write "Name: value"\)/);
  assert.throws(() => parseHeader('K:'), /header format error/);
  assert.throws(
    () => parseCliArgs([]),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'url',
  );
  assert.throws(() => parseCliArgs(['-u', 'not-a-url', '-O', 'x']), /url not-a-url invalid argument/);
  assert.throws(() => parseCliArgs(['-u', 'oras://h/r:t', '--concurrency', '0']), /concurrency/);
  assert.throws(
    () => parseCliArgs(['-u', 'oras://h/r:t', '--bogus']),
    (e: unknown) => e instanceof InvalidArgumentError,
  );
  assert.equal(defaultOutput('oras://h/r/img@sha256:' + 'b'.repeat(64), '/d'), `/d/img_${'b'.repeat(12)}.sif`);
});

test('defaults: upstream system paths for root, XDG for everyone else', () => {
  assert.equal(defaultPaths({}, 0).dataDir, '/var/lib/dragonfly');
  assert.equal(defaultPaths({}, 0).logDir, '/var/log/dragonfly');
  const u = defaultPaths(
    { XDG_DATA_HOME: '/x/data', XDG_STATE_HOME: '/x/state', XDG_CONFIG_HOME: '/x/cfg' },
    1000,
    '/home/u',
  );
  assert.deepEqual(
    [u.dataDir, u.logDir, u.configCandidates[0]],
    ['/x/data/orasfly', '/x/state/orasfly/logs', '/x/cfg/orasfly/dfget.yaml'],
  );
  assert.equal(defaultPaths({}, 1000, '/home/u').dataDir, '/home/u/.local/share/orasfly');
  // No home (an arbitrary uid in a container): no default, except where an XDG variable says.
  assert.deepEqual(defaultPaths({}, 1000, null), {
    dataDir: undefined,
    logDir: undefined,
    workHome: undefined,
    configCandidates: [],
  });
  assert.equal(defaultPaths({ XDG_STATE_HOME: '/x/state' }, 1000, null).logDir, '/x/state/orasfly/logs');
});

test('an unknown flag is said shortly, with the closest flag; a missing value names the flag', () => {
  assert.throws(
    () => parseCliArgs(['-u', 'oras://h/r:t', '--datdir', 'x']),
    /invalid arguments: unknown flag --datdir \(did you mean --datadir\?\)$/,
  );
  assert.throws(
    () => parseCliArgs(['-u', 'oras://h/r:t', '--zzzzzzzz']),
    /invalid arguments: unknown flag --zzzzzzzz$/,
  );
  assert.throws(() => parseCliArgs(['-u', 'oras://h/r:t', '--timeout']), /invalid arguments: --timeout needs a value/);
});

test('the default output is safe: NAME_TAG.sif as Apptainer names it, never a colon', () => {
  assert.equal(defaultOutput('oras://registry.example.com/lab/lolcow:latest', '/d'), '/d/lolcow_latest.sif');
  assert.equal(defaultOutput('oras://127.0.0.1:5000/lab/lolcow', '/d'), '/d/lolcow_latest.sif');
  assert.equal(defaultOutput('oras://h:5000/lolcow:v1.2@sha256:' + 'c'.repeat(64), '/d'), '/d/lolcow_v1.2.sif');
  assert.equal(parseCliArgs(['oras://h/lab/lolcow:latest'], '/w').output, '/w/lolcow_latest.sif');
});

test('--layer-index -1 (a negative number as the value) is accepted, as the help suggests', () => {
  assert.equal(parseCliArgs(['oras://h/r:t', '--layer-index', '-1'], '/w').layerIndex, -1);
  assert.equal(parseCliArgs(['oras://h/r:t', '--layer-index=-2'], '/w').layerIndex, -2);
  assert.throws(() => parseCliArgs(['oras://h/r:t', '--layer-index', '-x']), /invalid arguments/);
});

test('oras and Apptainer habits: `version`, `pull [OUTPUT] URL`, -o, a reference without oras://', () => {
  assert.equal(parseCliArgs(['version']).version, true);
  const p = parseCliArgs(['pull', 'oras://h/lab/img:v1'], '/w');
  assert.equal(p.url, 'oras://h/lab/img:v1');
  assert.equal(p.output, '/w/img_v1.sif');
  // `apptainer pull lolcow.sif oras://…`: the output comes first.
  const a = parseCliArgs(['pull', 'mine.sif', 'oras://h/lab/img:v1'], '/w');
  assert.equal(a.url, 'oras://h/lab/img:v1');
  assert.equal(a.output, '/w/mine.sif');
  assert.equal(parseCliArgs(['pull', 'oras://h/lab/img:v1', '-O', 'x.sif'], '/w').output, '/w/x.sif');
  assert.throws(() => parseCliArgs(['pull', 'a.sif', 'oras://h/r:t', '-O', 'b.sif']), /give the output once/);
  assert.throws(
    () => parseCliArgs(['oras://h/r:t', '-o', 'x.sif']),
    /unknown flag -o \(did you mean -O, --output\?\)$/,
  );
  assert.throws(
    () => parseCliArgs(['registry.example.com/lab/lolcow:latest']),
    /invalid argument; did you mean oras:\/\/registry\.example\.com\/lab\/lolcow:latest\?/,
  );
  assert.throws(() => parseCliArgs(['lolcow']), /invalid argument; write oras:\/\/host\/repo:tag/);
});

test('progress: a bar by default (on a terminal), -b kept, --no-progress turns it off', () => {
  assert.equal(parseCliArgs(['oras://h/r:t']).noProgress, false);
  assert.equal(parseCliArgs(['oras://h/r:t', '--no-progress']).noProgress, true);
  assert.equal(parseCliArgs(['oras://h/r:t', '-b']).showProgress, true);
});

test('--tag-cache-ttl takes a duration (ms); unset when not given; a malformed one names the flag', () => {
  assert.equal(parseCliArgs(['oras://h/r:t']).tagCacheTtl, undefined);
  assert.equal(parseCliArgs(['oras://h/r:t', '--tag-cache-ttl', '60s']).tagCacheTtl, 60_000);
  assert.equal(parseCliArgs(['oras://h/r:t', '--tag-cache-ttl', '0']).tagCacheTtl, 0);
  assert.throws(
    () => parseCliArgs(['oras://h/r:t', '--tag-cache-ttl', 'soon']),
    (e: unknown) => e instanceof InvalidArgumentError && /tag-cache-ttl/.test(e.message),
  );
});

test('an argument error never echoes a credential: a reference with user:password@, a header without its colon', () => {
  const said = (argv: string[]): string => {
    try {
      parseCliArgs(argv, '/w');
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail(`no error for ${argv.join(' ')}`);
  };
  const url = said(['user:s3cret@h/r:t']);
  assert.doesNotMatch(url, /s3cret|user:/);
  assert.match(url, /url <credentials>@h\/r:t invalid argument/);
  assert.doesNotMatch(said(['oras://h/r:t', 'oras://user:s3cret@h/r:t']), /s3cret/);
  const header = said(['oras://h/r:t', '-H', 'PRIVATE-TOKEN glpat-abcdef123456']);
  assert.doesNotMatch(header, /glpat/);
  assert.match(header, /header format error: "PRIVATE-TOKEN …"/);
  // A digest reference's @ comes after a slash: it is not a credential, and stays as written.
  assert.match(said(['h/r@sha256:' + 'a'.repeat(64)]), /url h\/r@sha256:a+ invalid argument/);
});

test('an empty path flag (an unset variable) is refused by name, not taken as unset', () => {
  for (const argv of [
    ['--datadir', ''],
    ['--cachedir', ''],
    ['--config='],
    ['--logdir', ''],
    ['-O', ''],
    ['--ca-file', ''],
    ['--registry-config', 'a.json', '--registry-config', ''],
    ['--endpoint', ''],
  ]) {
    const flag = argv.find((a) => a.startsWith('-'))!.replace(/=$/, '');
    const name = flag === '-O' ? 'output' : flag.slice(2);
    assert.throws(
      () => parseCliArgs(['oras://h/r:t', ...argv], '/w'),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === name && /is empty/.test(e.message),
      argv.join(' '),
    );
  }
});

test('numbers are digits only; a duration flag needs a unit (0 excepted); -O -1 is a file named -1', () => {
  for (const bad of ['', ' 3 ', '0x4', '2.0', '1e1'])
    assert.throws(
      () => parseCliArgs(['oras://h/r:t', '--concurrency', bad]),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'concurrency',
      JSON.stringify(bad),
    );
  assert.throws(
    () => parseCliArgs(['oras://h/r:t', '--layer-index', '']),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'layer-index',
  );
  assert.throws(
    () => parseCliArgs(['oras://h/r:t', '--tag-cache-ttl', '60']),
    (e: unknown) => e instanceof InvalidArgumentError && /"60" has no unit/.test(e.message),
  );
  assert.throws(
    () => parseCliArgs(['oras://h/r:t', '--timeout', '30x']),
    (e: unknown) => e instanceof InvalidArgumentError && /is not a duration; write e\.g\. 30s/.test(e.message),
  );
  assert.equal(parseCliArgs(['oras://h/r:t', '--timeout', '0']).timeout, undefined);
  assert.equal(parseCliArgs(['oras://h/r:t', '-O', '-1'], '/w').output, path.resolve('/w', '-1'));
});
