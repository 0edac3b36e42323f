import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeExtraCaCertificates, systemCaCertificates, tlsFailureHint } from '../../../src/http/tls-trust.js';

// Real PEM shapes; the trust module only splits them, the TLS stack parses them.
const cert = (n: number): string => `-----BEGIN CERTIFICATE-----\nMIIB${'A'.repeat(40)}${n}\n-----END CERTIFICATE-----`;
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-ca-'));
  writeFileSync(path.join(dir, 'bundle.pem'), `# comment\n${cert(1)}\n${cert(2)}\n`);
  mkdirSync(path.join(dir, 'certs'));
  writeFileSync(path.join(dir, 'certs', 'a.pem'), cert(3));
  writeFileSync(path.join(dir, 'certs', 'not-a-cert.txt'), 'hello');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('SSL_CERT_FILE replaces the distribution bundle; every certificate in it is read', () => {
  const r = systemCaCertificates({ SSL_CERT_FILE: path.join(dir, 'bundle.pem') });
  assert.deepEqual(r.certificates, [cert(1), cert(2)]);
  assert.deepEqual(r.sources, [path.join(dir, 'bundle.pem')]);
});

test('SSL_CERT_DIR directories are read in addition (colon-separated); files without a certificate are skipped', () => {
  const r = systemCaCertificates({
    SSL_CERT_FILE: path.join(dir, 'bundle.pem'),
    SSL_CERT_DIR: `${path.join(dir, 'certs')}:${path.join(dir, 'missing')}`,
  });
  assert.deepEqual(r.certificates, [cert(1), cert(2), cert(3)]);
});

test('a missing SSL_CERT_FILE yields nothing, not an error', () => {
  const r = systemCaCertificates({
    SSL_CERT_FILE: path.join(dir, 'nope.pem'),
    SSL_CERT_DIR: path.join(dir, 'missing'),
  });
  assert.deepEqual(r.certificates, []);
});

test('NODE_EXTRA_CA_CERTS is read back (Node drops it once a ca list is given)', () => {
  assert.deepEqual(nodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: path.join(dir, 'bundle.pem') }), [cert(1), cert(2)]);
  assert.deepEqual(nodeExtraCaCertificates({}), []);
});

test('TLS hints name the fix for each kind of failure', () => {
  assert.match(tlsFailureHint('SELF_SIGNED_CERT_IN_CHAIN'), /--ca-file FILE.*NODE_EXTRA_CA_CERTS.*--insecure/);
  assert.match(tlsFailureHint('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), /--ca-file/);
  assert.match(tlsFailureHint('CERT_HAS_EXPIRED'), /clock/);
  assert.match(tlsFailureHint('ERR_TLS_CERT_ALTNAME_INVALID'), /does not name this host/);
  assert.match(tlsFailureHint('ERR_SSL_WRONG_VERSION_NUMBER'), /--plain-http/);
});
