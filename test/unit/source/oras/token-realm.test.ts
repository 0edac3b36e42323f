import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError } from '../../../../src/core/errors.js';
import { SecretSet } from '../../../../src/source/oras/secrets.js';
import { tokenRealm } from '../../../../src/source/oras/token-realm.js';

const secrets = new SecretSet();
const refused = (code: string, why: RegExp) => (e: unknown) =>
  e instanceof AuthError && e.registryCode === code && why.test(e.message);

test('a realm must be an HTTP(S) URL', () => {
  assert.throws(() => tokenRealm({ realm: 'not a url' }, 'r.io', false, secrets), refused('UNAUTHORIZED', /not a URL/));
  assert.throws(
    () => tokenRealm({ realm: 'ftp://auth.r.io/t' }, 'r.io', false, secrets),
    refused('UNAUTHORIZED', /ftp: is not HTTP\(S\)/),
  );
  assert.equal(tokenRealm({ realm: 'https://auth.r.io/t' }, 'r.io', true, secrets).host, 'auth.r.io');
});

test('credentials never go unencrypted where they were not before; without credentials any HTTP(S) realm is fine', () => {
  // A downgrade from a registry reached over TLS.
  assert.throws(
    () => tokenRealm({ realm: 'http://auth.r.io/t', challengedOverTls: true }, 'r.io', true, secrets),
    refused('INSECURE_TOKEN_REALM', /reached over HTTPS/),
  );
  // A loopback registry in plain HTTP sending them off this machine.
  assert.throws(
    () => tokenRealm({ realm: 'http://auth.corp/t', challengedOverTls: false }, 'localhost:5000', true, secrets),
    refused('INSECURE_TOKEN_REALM', /on this machine, the realm is not/),
  );
  // Plain HTTP on this machine, or a registry the user set to plain HTTP: as agreed.
  assert.equal(
    tokenRealm({ realm: 'http://127.0.0.1:5001/t', challengedOverTls: false }, 'localhost:5000', true, secrets).port,
    '5001',
  );
  assert.equal(
    tokenRealm({ realm: 'http://auth.corp/t', challengedOverTls: false }, 'reg.corp:5000', true, secrets).host,
    'auth.corp',
  );
  // Anonymous: no secret to leak.
  assert.equal(
    tokenRealm({ realm: 'http://auth.corp/t', challengedOverTls: true }, 'r.io', false, secrets).host,
    'auth.corp',
  );
});
