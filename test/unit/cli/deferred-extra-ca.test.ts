// The executable's shell line (LAUNCHER_PROLOGUE) keeps NODE_EXTRA_CA_CERTS from Node's start-up and
// runs Node on the same file; restoreDeferredExtraCa puts the variable back for the command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFERRED_EXTRA_CA_ENV,
  LAUNCHER_PROLOGUE,
  restoreDeferredExtraCa,
  unreadableExtraCaWarning,
} from '../../../src/cli/deferred-extra-ca.js';

test('restoreDeferredExtraCa: the moved variable goes back, the carrier goes, and only a move says "not loaded"', () => {
  const moved: NodeJS.ProcessEnv = { [DEFERRED_EXTRA_CA_ENV]: '/etc/company-ca.pem' };
  assert.equal(restoreDeferredExtraCa(moved), true);
  assert.deepEqual(moved, { NODE_EXTRA_CA_CERTS: '/etc/company-ca.pem' });
  // Nothing moved (run by node itself, or no variable): nothing changes.
  const plain: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/etc/company-ca.pem' };
  assert.equal(restoreDeferredExtraCa(plain), false);
  assert.deepEqual(plain, { NODE_EXTRA_CA_CERTS: '/etc/company-ca.pem' });
  // Both set: Node loaded its own variable at start-up, which stays; the carrier goes.
  const both: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/a.pem', [DEFERRED_EXTRA_CA_ENV]: '/b.pem' };
  assert.equal(restoreDeferredExtraCa(both), false);
  assert.deepEqual(both, { NODE_EXTRA_CA_CERTS: '/a.pem' });
  const empty: NodeJS.ProcessEnv = { [DEFERRED_EXTRA_CA_ENV]: '' };
  assert.equal(restoreDeferredExtraCa(empty), false);
  assert.deepEqual(empty, {});
});

test('the prologue runs the file under node without NODE_EXTRA_CA_CERTS at start-up, arguments intact; node alone reads it as JavaScript', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-prologue-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A leading dash: `--` keeps the path a path.
  const file = path.join(dir, '-launcher.cjs');
  writeFileSync(
    file,
    `${LAUNCHER_PROLOGUE}'use strict';\nprocess.stdout.write(JSON.stringify({ strict: this === undefined || (function () { return this === undefined; })(), args: process.argv.slice(2), extra: process.env.NODE_EXTRA_CA_CERTS ?? null, carried: process.env.${DEFERRED_EXTRA_CA_ENV} ?? null }));\n`,
  );
  chmodSync(file, 0o755);
  // The node running these tests first on PATH, as `#!/usr/bin/env node` would find it.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`,
  };
  // A CA file that does not exist: Node warns at start-up when it loads the variable, never otherwise.
  const missing = path.join(dir, 'no-such-ca.pem');
  const args = ['a b', '--flag', '$HOME', ''];
  const asExecutable = spawnSync(file, args, { encoding: 'utf8', env: { ...env, NODE_EXTRA_CA_CERTS: missing } });
  assert.equal(asExecutable.status, 0, asExecutable.stderr);
  assert.doesNotMatch(asExecutable.stderr, /extra certs/i);
  assert.deepEqual(JSON.parse(asExecutable.stdout), { strict: true, args, extra: null, carried: missing });
  // Without the variable, nothing is carried.
  const withoutVar = { ...env };
  delete withoutVar['NODE_EXTRA_CA_CERTS'];
  const unset = spawnSync(file, ['x'], { encoding: 'utf8', env: withoutVar });
  assert.deepEqual(JSON.parse(unset.stdout), { strict: true, args: ['x'], extra: null, carried: null });
  // Run by node directly, the shell line is a comment and a string: Node loads the variable as usual.
  const byNode = spawnSync(process.execPath, [file, 'x'], {
    encoding: 'utf8',
    env: { ...env, NODE_EXTRA_CA_CERTS: missing },
  });
  assert.equal(byNode.status, 0, byNode.stderr);
  assert.match(byNode.stderr, /Ignoring extra certs/);
  assert.deepEqual(JSON.parse(byNode.stdout), { strict: true, args: ['x'], extra: missing, carried: null });
});

test('a deferred file that cannot be read gets Node’s start-up warning; a readable one, or none, gets nothing', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-extra-warn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = path.join(dir, 'missing.pem');
  assert.match(
    unreadableExtraCaWarning({ NODE_EXTRA_CA_CERTS: missing }) ?? '',
    new RegExp(
      `^Warning: Ignoring extra certs from \`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`, load failed: ENOENT`,
    ),
  );
  const present = path.join(dir, 'ca.pem');
  writeFileSync(present, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  assert.equal(unreadableExtraCaWarning({ NODE_EXTRA_CA_CERTS: present }), undefined);
  assert.equal(unreadableExtraCaWarning({}), undefined);
});
