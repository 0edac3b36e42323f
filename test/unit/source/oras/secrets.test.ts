import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretSet, MAX_SERVER_TEXT_CHARS } from '../../../../src/source/oras/secrets.js';

test('every part of a credential we sent is scrubbed from server text', () => {
  const s = new SecretSet();
  s.addCredential({ username: 'robot$ci', password: 'p@ss:word/1' });
  const b64 = Buffer.from('robot$ci:p@ss:word/1').toString('base64');
  const out = s.scrub(
    `user robot$ci pass p@ss:word/1 pair robot$ci:p@ss:word/1 b64 ${b64} url-encoded ${encodeURIComponent('p@ss:word/1')}`,
  );
  for (const secret of ['robot$ci', 'p@ss:word/1', b64, encodeURIComponent('p@ss:word/1')])
    assert.ok(!out.includes(secret), `${secret} in ${out}`);
  assert.match(out, /^user <redacted> pass <redacted> pair <redacted> b64 <redacted>/);
});

test('tokens, JWT segments and Authorization header values are scrubbed; the usual shapes are redacted too', () => {
  const s = new SecretSet();
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eXoiLCJhY2Nlc3MiOltdfQ.c2lnbmF0dXJlLXNlZ21lbnQ';
  s.addHeaderValue(`Bearer ${jwt}`);
  const [, payload] = jwt.split('.');
  assert.ok(!s.scrub(`only the payload ${payload}`).includes(payload!));
  s.addHeaderValue(`Basic ${Buffer.from('bobby:hunter22').toString('base64')}`);
  assert.equal(s.scrub('hunter22 and bobby'), '<redacted> and <redacted>');
  // Never-registered secrets in well-known shapes.
  assert.equal(new SecretSet().scrub('Authorization: Bearer abc.def.ghi'), 'Authorization: Bearer <redacted>');
  assert.equal(new SecretSet().scrub('{"token":"zzz"}'), '{"token":"<redacted>"}');
});

test('server text is cut to a bounded length, and errors[] is bounded and scrubbed field by field', () => {
  const s = new SecretSet();
  s.add('topsecret');
  const long = s.scrub('x'.repeat(100_000));
  assert.ok(long.length <= MAX_SERVER_TEXT_CHARS + 10);
  const errs = s.scrubErrors(
    Array.from({ length: 50 }, () => ({ code: 'DENIED', message: 'topsecret', detail: { nested: ['topsecret'] } })),
  );
  assert.equal(errs?.length, 8);
  assert.equal(errs?.[0]?.message, '<redacted>');
  assert.deepEqual(errs?.[0]?.detail, { nested: ['<redacted>'] });
  // Short values are not treated as secrets on their own (they would blank out ordinary words).
  s.add('ab');
  assert.equal(s.scrub('ab cd'), 'ab cd');
});
