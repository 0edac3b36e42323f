import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate, TokenAuthenticator, type TokenTransport } from '../../../../src/source/oras/auth.js';
import { AuthError } from '../../../../src/core/errors.js';

test('challenge parser: bearer params, quoted escapes, several challenges, basic, token68', () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
    ),
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
      },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="a \\"quoted\\" \\\\ realm", error=invalid_token'), [
    { scheme: 'bearer', params: { realm: 'a "quoted" \\ realm', error: 'invalid_token' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t/x",service=s'), [
    { scheme: 'basic', params: { realm: 'r' } },
    { scheme: 'bearer', params: { realm: 'https://t/x', service: 's' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Negotiate abc123==, Basic realm=x'), [
    { scheme: 'negotiate', params: { '': 'abc123==' } },
    { scheme: 'basic', params: { realm: 'x' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('  BEARER   REALM = "r" ,  scope="repository:x:pull,push" '), [
    { scheme: 'bearer', params: { realm: 'r', scope: 'repository:x:pull,push' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate(''), []);
  // Garbage does not throw.
  parseWwwAuthenticate('=,,"""\\');
});

function fakeTransport(
  answer: (url: URL, headers: Record<string, string>) => { status: number; body: unknown },
): TokenTransport & { calls: URL[]; headers: Record<string, string>[] } {
  const calls: URL[] = [];
  const headers: Record<string, string>[] = [];
  const t = (async (req) => {
    const u = new URL(req.url);
    calls.push(u);
    headers.push(req.headers);
    await new Promise((r) => setImmediate(r));
    const a = answer(u, req.headers);
    return {
      status: a.status,
      body: Buffer.from(typeof a.body === 'string' ? a.body : JSON.stringify(a.body)),
      url: req.url,
    };
  }) as TokenTransport & { calls: URL[]; headers: Record<string, string>[] };
  t.calls = calls;
  t.headers = headers;
  return t;
}

const ctx = { method: 'GET', url: 'http://r/v2/x/manifests/t', status: 401 };
const CHALLENGE = 'Bearer realm="http://auth/token",service="reg",scope="repository:x:pull"';

test('token: fetched once for concurrent challenges, cached until expiry minus skew, then refetched', async () => {
  let now = 1_000_000;
  const t = fakeTransport(() => ({ status: 200, body: { token: 'tok-1', expires_in: 60 } }));
  const a = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => ({ username: 'u', password: 'p' }),
    maxTokenBytes: 1000,
    userAgent: 'ua',
    now: () => now,
  });
  const results = await Promise.all(
    Array.from({ length: 20 }, () => a.answerChallenge('r', 'repository:x:pull', CHALLENGE, ctx)),
  );
  assert.deepEqual(new Set(results), new Set(['Bearer tok-1']));
  assert.equal(t.calls.length, 1);
  assert.equal(t.calls[0]!.searchParams.get('service'), 'reg');
  assert.equal(t.calls[0]!.searchParams.get('scope'), 'repository:x:pull');
  assert.equal(t.headers[0]!['authorization'], `Basic ${Buffer.from('u:p').toString('base64')}`);
  // Known scheme: authorization() answers up front from the cache.
  assert.equal(await a.authorization('r', 'repository:x:pull'), 'Bearer tok-1');
  assert.equal(t.calls.length, 1);
  now += 54_000; // 60 s minus 5 s skew is 55 s: still valid
  await a.authorization('r', 'repository:x:pull');
  assert.equal(t.calls.length, 1);
  now += 2_000;
  await a.authorization('r', 'repository:x:pull');
  assert.equal(t.calls.length, 2);
  // Another scope is another token.
  await a.authorization('r', 'repository:y:pull');
  assert.equal(t.calls.length, 3);
});

test('token: access_token accepted, expires_in defaults to 60 s, anonymous sends no Authorization', async () => {
  const t = fakeTransport(() => ({ status: 200, body: { access_token: 'at' } }));
  const a = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => undefined,
    maxTokenBytes: 1000,
    userAgent: 'ua',
  });
  assert.equal(await a.answerChallenge('r', 's', CHALLENGE, ctx), 'Bearer at');
  assert.equal(t.headers[0]!['authorization'], undefined);
});

test('token service failures and odd bodies are AuthErrors without the secret', async () => {
  for (const [status, body] of [
    [401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad' }] }],
    [200, 'not json'],
    [200, { nothing: 1 }],
  ] as const) {
    const t = fakeTransport(() => ({ status, body }));
    const a = new TokenAuthenticator({
      transport: t,
      credentialFor: async () => ({ username: 'u', password: 'hunter2' }),
      maxTokenBytes: 1000,
      userAgent: 'ua',
    });
    await assert.rejects(
      a.answerChallenge('r', 's', CHALLENGE, ctx),
      (e: unknown) => e instanceof AuthError && !e.message.includes('hunter2'),
    );
  }
});

test('basic challenge uses credentials, or fails typed without them; unknown schemes fail', async () => {
  const t = fakeTransport(() => ({ status: 500, body: '' }));
  const withCreds = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => ({ username: 'u', password: 'p' }),
    maxTokenBytes: 1000,
    userAgent: 'ua',
  });
  assert.equal(
    await withCreds.answerChallenge('r', 's', 'Basic realm="x"', ctx),
    `Basic ${Buffer.from('u:p').toString('base64')}`,
  );
  assert.equal(await withCreds.authorization('r', 's'), `Basic ${Buffer.from('u:p').toString('base64')}`);
  const anon = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => undefined,
    maxTokenBytes: 1000,
    userAgent: 'ua',
  });
  await assert.rejects(anon.answerChallenge('r', 's', 'Basic realm="x"', ctx), AuthError);
  await assert.rejects(anon.answerChallenge('r', 's', 'Digest realm="x"', ctx), AuthError);
  await assert.rejects(anon.answerChallenge('r', 's', undefined, ctx), AuthError);
  assert.equal(t.calls.length, 0);
});

test('a waiter that aborts leaves the shared token fetch to the others', async () => {
  const t = fakeTransport(() => ({ status: 200, body: { token: 'shared' } }));
  const a = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => undefined,
    maxTokenBytes: 1000,
    userAgent: 'ua',
  });
  const ac = new AbortController();
  const first = a.answerChallenge('r', 's', CHALLENGE, ctx, ac.signal);
  const second = a.answerChallenge('r', 's', CHALLENGE, ctx);
  ac.abort(new Error('stop'));
  await assert.rejects(first, /stop/);
  assert.equal(await second, 'Bearer shared');
  assert.equal(t.calls.length, 1);
});

test('credentials are never sent to a plain-HTTP token realm named over HTTPS; anonymous tokens and other HTTPS hosts still work', async () => {
  const transport = fakeTransport(() => ({ status: 200, body: { token: 'tok-123456' } }));
  const auth = new TokenAuthenticator({
    transport,
    credentialFor: async () => ({ username: 'alice', password: 's3cret-pw' }),
    maxTokenBytes: 4096,
    userAgent: 'ua',
  });
  const ctx = { method: 'GET', url: 'https://reg.example/v2/a/b/manifests/t', status: 401 };
  await assert.rejects(
    auth.answerChallenge(
      'reg.example',
      'repository:a/b:pull',
      'Bearer realm="http://auth.example/token",service="reg"',
      ctx,
    ),
    (e: unknown) =>
      e instanceof AuthError &&
      /refusing to send credentials/.test(e.message) &&
      e.registryCode === 'INSECURE_TOKEN_REALM' &&
      !e.message.includes('s3cret-pw'),
  );
  assert.equal(transport.calls.length, 0, 'nothing was sent to the plain-HTTP realm');
  // Another host over HTTPS is what the token protocol needs: allowed.
  assert.equal(
    await auth.answerChallenge(
      'reg.example',
      'repository:a/b:pull',
      'Bearer realm="https://auth.example:8443/token",service="reg"',
      ctx,
    ),
    'Bearer tok-123456',
  );
  // A plain-HTTP registry naming a plain-HTTP realm is not a downgrade.
  const plain = new TokenAuthenticator({
    transport,
    credentialFor: async () => ({ username: 'alice', password: 's3cret-pw' }),
    maxTokenBytes: 4096,
    userAgent: 'ua',
  });
  assert.equal(
    await plain.answerChallenge('127.0.0.1:5000', 'repository:a/b:pull', 'Bearer realm="http://127.0.0.1:5001/token"', {
      ...ctx,
      url: 'http://127.0.0.1:5000/v2/',
    }),
    'Bearer tok-123456',
  );
  // A loopback registry in plain HTTP naming a plain-HTTP realm off this machine: refused, nothing sent.
  const before = transport.calls.length;
  await assert.rejects(
    plain.answerChallenge('localhost:5000', 'repository:a/b:pull', 'Bearer realm="http://auth.example/token"', {
      ...ctx,
      url: 'http://localhost:5000/v2/',
    }),
    (e: unknown) =>
      e instanceof AuthError &&
      e.registryCode === 'INSECURE_TOKEN_REALM' &&
      /the registry is on this machine, the realm is not/.test(e.message),
  );
  assert.equal(transport.calls.length, before, 'nothing was sent off this machine in clear');
  // Anonymous pulls may fetch a token from a plain-HTTP realm: there is no secret to leak.
  const anon = new TokenAuthenticator({
    transport,
    credentialFor: async () => undefined,
    maxTokenBytes: 4096,
    userAgent: 'ua',
  });
  assert.equal(
    await anon.answerChallenge('reg.example', 'repository:a/b:pull', 'Bearer realm="http://auth.example/token"', ctx),
    'Bearer tok-123456',
  );
});

test('a token service that echoes the credentials it got does not get them into the error', async () => {
  const basic = Buffer.from('alice:s3cret-pw').toString('base64');
  const transport = fakeTransport(() => ({
    status: 403,
    body: {
      errors: [
        {
          code: 'DENIED',
          message: `bad credentials alice:s3cret-pw (Authorization: Basic ${basic}), password s3cret-pw`,
        },
      ],
    },
  }));
  const auth = new TokenAuthenticator({
    transport,
    credentialFor: async () => ({ username: 'alice', password: 's3cret-pw' }),
    maxTokenBytes: 4096,
    userAgent: 'ua',
  });
  await assert.rejects(
    auth.answerChallenge('reg.example', 'repository:a/b:pull', 'Bearer realm="https://auth.example/token"', {
      method: 'GET',
      url: 'https://reg.example/v2/',
      status: 401,
    }),
    (e: unknown) => {
      assert.ok(e instanceof AuthError);
      for (const s of ['s3cret-pw', basic, 'alice:s3cret-pw'])
        assert.ok(!e.message.includes(s), `${s} leaked: ${e.message}`);
      assert.match(e.message, /DENIED: bad credentials/);
      return true;
    },
  );
});

/** An authenticator with credentials whose token service answers tok-1, tok-2, … (5 minutes each). */
function countingTokens() {
  let n = 0;
  const t = fakeTransport(() => ({ status: 200, body: { token: `tok-${++n}`, expires_in: 300 } }));
  const a = new TokenAuthenticator({
    transport: t,
    credentialFor: async () => ({ username: 'u', password: 'p' }),
    maxTokenBytes: 1000,
    userAgent: 'ua',
  });
  return { t, a };
}

test('a 401 to a Bearer token we sent drops that token even without error="invalid_token": the retry gets a fresh one', async () => {
  const { t, a } = countingTokens();
  assert.equal(await a.answerChallenge('r', 'repository:x:pull', CHALLENGE, ctx), 'Bearer tok-1');
  assert.equal(await a.authorization('r', 'repository:x:pull'), 'Bearer tok-1', 'cached');
  // tok-1 is revoked: the registry answers 401 with a plain challenge (no error parameter).
  const retry = await a.answerChallenge('r', 'repository:x:pull', CHALLENGE, ctx, undefined, 'Bearer tok-1');
  assert.equal(retry, 'Bearer tok-2');
  assert.equal(t.calls.length, 2);
});

test('after a 401, the rejected token goes from under the request’s scope too, and a token refreshed meanwhile stays', async () => {
  const { a } = countingTokens();
  assert.equal(await a.answerChallenge('r', 'repository:x:pull', CHALLENGE, ctx), 'Bearer tok-1');
  // The registry's challenge names a wider scope than the request's: the token sent up front
  // (cached under the request's scope) is the one to forget.
  const wider = 'Bearer realm="http://auth/token",service="reg",scope="repository:x:pull,push"';
  assert.equal(
    await a.answerChallenge('r', 'repository:x:pull', wider, ctx, undefined, 'Bearer tok-1'),
    'Bearer tok-2',
  );
  assert.equal(await a.authorization('r', 'repository:x:pull'), 'Bearer tok-3', 'the rejected tok-1 is not sent again');
  // A late 401 to an old token does not discard the fresh one.
  assert.equal(
    await a.answerChallenge('r', 'repository:x:pull', CHALLENGE, ctx, undefined, 'Bearer tok-1'),
    'Bearer tok-3',
  );
  assert.equal(await a.authorization('r', 'repository:x:pull'), 'Bearer tok-3');
});
