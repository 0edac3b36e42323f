import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/cli/main.js';
import { VERSION } from '../../../src/version.js';
import { captureIo } from './io.js';

function home(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--help prints the usage with examples and the environment; --version the version; both exit 0', async (t) => {
  const c = captureIo(home(t));
  assert.equal(await runCli(['--help'], c.io), 0);
  assert.match(c.out(), /^Usage: orasfly/);
  assert.match(c.out(), /Examples:[\s\S]*Environment:[\s\S]*REGISTRY_AUTH_FILE/);
  // Every cache command that takes --dry-run says so (verify's was missing).
  assert.match(c.out(), /cache list \| verify \[--dry-run\] \| gc \[--dry-run\] \| clean \[--dry-run\]/);
  const cache = captureIo(home(t));
  assert.equal(await runCli(['cache', '--help'], cache.io), 0);
  assert.match(cache.out(), /^ {2}verify \[--dry-run\] /m);
  const v = captureIo(home(t));
  assert.equal(await runCli(['-v'], v.io), 0);
  assert.equal(v.out(), `orasfly version: ${VERSION}\n`);
});

test('a flag error exits 1 with one short line and a pointer to --help, before any output line', async (t) => {
  const c = captureIo(home(t));
  assert.equal(await runCli(['oras://r/x:v1', '--concurency', '2'], c.io), 1);
  assert.equal(c.out(), '');
  assert.match(
    c.err(),
    /^Error: invalid arguments: unknown flag --concurency \(did you mean --concurrency\?\)\nRun 'orasfly --help' for usage\.\n$/,
  );
});

test('with --json, a flag error is also one JSON object on stdout, of kind usage', async (t) => {
  const c = captureIo(home(t));
  assert.equal(await runCli(['oras://r/x:v1', '--json', '--timeout', '5'], c.io), 1);
  const j = JSON.parse(c.out()) as { success: boolean; error: { kind: string; code: string; message: string } };
  assert.equal(j.success, false);
  assert.equal(j.error.kind, 'usage');
  assert.equal(j.error.code, 'ERR_ORASFLY_INVALID_ARGUMENT');
  assert.match(j.error.message, /"5" has no unit/);
  assert.match(c.err(), /^Error: /);
});

test("a malformed reference fails with dfget's lines and exit 1, naming the problem", async (t) => {
  const c = captureIo(home(t));
  assert.equal(
    await runCli(
      [
        'oras://r/UPPER:v1',
        '-O',
        path.join(c.io.cwd, 'x'),
        '--datadir',
        path.join(c.io.cwd, 'store'),
        // As root the default is /var/log/dragonfly: a test writes nothing outside its temp dir.
        '--logdir',
        path.join(c.io.cwd, 'log'),
      ],
      c.io,
    ),
    1,
  );
  assert.match(c.out(), /download success: false, cost: \d+ ms error: invalid reference/);
  // The start line names this host's address as dfget does: its first non-internal IPv4 (on a
  // machine whose eth0 is 192.0.2.2, that documentation-range address is the right answer).
  const ipv4 = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal);
  assert.match(
    c.out(),
    new RegExp(`^current user: .+, default peer ip: ${(ipv4?.address ?? '127.0.0.1').replace(/\./g, '\\.')}$`, 'm'),
  );
});
