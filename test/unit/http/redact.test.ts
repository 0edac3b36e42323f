import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact, REDACTED } from '../../../src/http/redact.js';

test('redact removes secrets from strings, header objects and raw header arrays', () => {
  assert.equal(redact('http://alice:pw@host/v2/'), `http://${REDACTED}@host/v2/`);
  assert.equal(
    redact('https://s3/b?X-Amz-Signature=abc&part=1&token=zzz'),
    `https://s3/b?X-Amz-Signature=${REDACTED}&part=1&token=${REDACTED}`,
  );
  // A URL quoted in a message: the value ends at the quote, which stays.
  assert.equal(
    redact('the reference "oras://r/a:t?token=zzz": only a digest'),
    `the reference "oras://r/a:t?token=${REDACTED}": only a digest`,
  );
  assert.equal(redact('Authorization: Bearer eyJhbGciOi.x.y'), `Authorization: Bearer ${REDACTED}`);
  assert.equal(redact('authorization: bearer eyJhbGciOi.x.y'), `authorization: bearer ${REDACTED}`);
  // Signed URLs of CDNs and object stores (Docker Hub's CDN, Aliyun OSS, Akamai).
  assert.equal(
    redact('https://cdn/x?verify=1700000000-abc&x-oss-signature=s&x-oss-credential=c&hdnts=h&__token__=t&part=2'),
    `https://cdn/x?verify=${REDACTED}&x-oss-signature=${REDACTED}&x-oss-credential=${REDACTED}&hdnts=${REDACTED}&__token__=${REDACTED}&part=2`,
  );
  assert.equal(redact('Basic dTpw'), `Basic ${REDACTED}`);
  // Secrets, not words: the prose around a scheme name stays readable.
  assert.equal(
    redact('registry asks for Basic credentials and none were found'),
    'registry asks for Basic credentials and none were found',
  );
  assert.equal(redact('a Bearer token from the realm'), 'a Bearer token from the realm');
  assert.equal(redact('WWW-Authenticate: Basic realm="r"'), 'WWW-Authenticate: Basic realm="r"');
  assert.equal(redact('Bearer abc123'), `Bearer ${REDACTED}`);
  assert.equal(redact('Authorization: Bearer lowercaseonly'), `Authorization: Bearer ${REDACTED}`);
  assert.equal(redact('Basic dXNlcjpwYXNzd29yZA=='), `Basic ${REDACTED}`);
  assert.equal(redact('{"token":"abc","expires_in":60}'), `{"token":"${REDACTED}","expires_in":60}`);
  assert.deepEqual(redact({ Authorization: 'Basic x', accept: 'a', 'X-Dragonfly-Oras-Token': 't', Cookie: 'c' }), {
    Authorization: REDACTED,
    accept: 'a',
    'X-Dragonfly-Oras-Token': REDACTED,
    Cookie: REDACTED,
  });
  assert.deepEqual(redact(['authorization', 'Bearer t', 'range', 'bytes=0-0']), [
    'authorization',
    REDACTED,
    'range',
    'bytes=0-0',
  ]);
  assert.equal(redact(42), 42);
});

test('custom secret headers (-H) are redacted whatever their name; ordinary ones are kept', () => {
  const out = redact({
    'X-Auth-Token': 'tok123',
    'Private-Token': 'p',
    'X-Api-Key': 'k',
    'X-Session-Id': 's',
    Accept: 'application/json',
    'User-Agent': 'ua',
  });
  assert.deepEqual(out, {
    'X-Auth-Token': '<redacted>',
    'Private-Token': '<redacted>',
    'X-Api-Key': '<redacted>',
    'X-Session-Id': '<redacted>',
    Accept: 'application/json',
    'User-Agent': 'ua',
  });
});
