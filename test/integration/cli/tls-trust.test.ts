// TLS trust as Go tools have it, against the harness's TLS registry (its own CA): the system bundle
// named by SSL_CERT_FILE is trusted, NODE_EXTRA_CA_CERTS and --ca-file too, and a failure says
// which of them is the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, type RunningRegistry } from '../../harness/index.js';
import { lastJson, runCli } from './run-cli.js';

let reg: RunningRegistry;
let home: string;
let n = 0;
before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cli-tls-'));
  reg = await startRegistry({ variant: 'tls' });
  await pushSif(reg, 't/img', 'v1', { size: 8192, seed: 4 });
});
after(async () => {
  await reg?.stop();
  rmSync(home, { recursive: true, force: true });
});

const args = (): string[] => [
  reg.ref('t/img:v1'),
  '-O',
  path.join(home, `o${n++}.sif`),
  '--datadir',
  path.join(home, 'store'),
  '--logdir',
  path.join(home, 'logs'),
  '--json',
];

test('an untrusted registry fails with a TLS kind and a message naming --ca-file, NODE_EXTRA_CA_CERTS and --insecure', async () => {
  const r = await runCli(home, args(), { env: { NODE_EXTRA_CA_CERTS: undefined, SSL_CERT_FILE: undefined } });
  assert.equal(r.code, 1);
  const error = lastJson(r).error as { kind: string; code: string; message: string };
  assert.equal(error.kind, 'tls');
  assert.equal(error.code, 'ERR_ORASFLY_TLS');
  assert.match(error.message, /--ca-file FILE.*NODE_EXTRA_CA_CERTS.*--insecure/);
});

test('SSL_CERT_FILE naming the CA is trusted, as Go tools trust it', async () => {
  const r = await runCli(home, args(), { env: { SSL_CERT_FILE: reg.caFile } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('run as an executable, NODE_EXTRA_CA_CERTS is kept from Node’s start-up and still trusted: with the system bundle, and with systemCa off', async () => {
  const env = { NODE_EXTRA_CA_CERTS: reg.caFile, SSL_CERT_FILE: undefined };
  const r = await runCli(home, args(), { env, asExecutable: true });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(lastJson(r).success, true);
  const config = path.join(home, 'no-system-ca.yaml');
  writeFileSync(config, 'oras:\n  systemCa: false\n');
  const only = await runCli(home, [...args(), '--config', config], { env, asExecutable: true });
  assert.equal(only.code, 0, only.stdout + only.stderr);
  // Node never read the file at start-up (it would have warned in OpenSSL's words, "system
  // library"); the command warns in its place, as Node would, from its own check.
  const missing = await runCli(home, ['--version'], {
    env: { NODE_EXTRA_CA_CERTS: path.join(home, 'no-such.pem') },
    asExecutable: true,
  });
  assert.equal(missing.code, 0);
  assert.doesNotMatch(missing.stderr, /system library/);
  assert.match(missing.stderr, /^Warning: Ignoring extra certs from `.*no-such\.pem`, load failed: ENOENT/m);
});

test('--insecure=false (pflag form) switches verification back on over a config file that turned it off', async () => {
  const config = path.join(home, 'insecure.yaml');
  writeFileSync(config, 'oras:\n  insecureSkipVerify: true\n');
  const env = { NODE_EXTRA_CA_CERTS: undefined, SSL_CERT_FILE: undefined };
  const off = await runCli(home, [...args(), '--config', config], { env });
  assert.equal(off.code, 0, off.stdout + off.stderr);
  const on = await runCli(home, [...args(), '--config', config, '--insecure=false'], { env });
  assert.equal(on.code, 1);
  assert.equal((lastJson(on).error as { kind: string }).kind, 'tls');
});

test('NODE_EXTRA_CA_CERTS and --ca-file are trusted too', async () => {
  const extra = await runCli(home, args(), { env: { NODE_EXTRA_CA_CERTS: reg.caFile } });
  assert.equal(extra.code, 0, extra.stdout + extra.stderr);
  const flag = await runCli(home, [...args(), '--ca-file', reg.caFile!]);
  assert.equal(flag.code, 0, flag.stdout + flag.stderr);
});
