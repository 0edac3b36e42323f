/**
 * Hostile scenarios, auth: broken challenges and token services, tokens rejected forever, and
 * registries that echo the client's credentials back (which must never reach any output).
 *
 * @module
 */
import { KiB, MiB } from './content.js';
import { defaultManifest, distError, raw, rawHead, send, sendJson, streamFill } from './responses.js';
import { SHORT_METADATA, code, type Ctx, type Def, type Handler, type Secrets } from './scenario.js';

/** The auth scenarios (area `auth`); the secret-echo ones use this start's `s`. */
export function authScenarios(s: Secrets): Def[] {
  const challenge = (c: Ctx, extra = ''): string =>
    `Bearer realm="${c.origin}/token/${c.name}",service="hostile",scope="repository:hostile/${c.name}:pull"${extra}`;
  const withToken = (c: Ctx, token: string): boolean => c.req.headers.authorization === `Bearer ${token}`;
  /** A bearer-protected manifest: without the scenario's token → 401 challenge; with it → `then`. */
  const bearerGate =
    (then: Handler, token = 'hostile-token'): Handler =>
    (c) =>
      withToken(c, token)
        ? then(c)
        : distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge(c) });
  const tokenJson =
    (token: string): Handler =>
    (c) =>
      sendJson(c, 200, { token, access_token: token, expires_in: 300 });
  const dockerEnv = { DOCKER_CONFIG: s.dockerConfigDir };
  const credSecrets = [s.username, s.password, s.basic];
  return [
    {
      name: 'auth-401-no-challenge',
      area: 'auth',
      description: '401 without WWW-Authenticate',
      expectCode: code('AUTH'),
      manifest: (c) => distError(c, 401, 'UNAUTHORIZED', 'authentication required'),
    },
    {
      name: 'auth-bearer-no-realm',
      area: 'auth',
      description: 'a Bearer challenge without realm',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer service="hostile",scope="repository:x:pull"',
        }),
    },
    {
      name: 'auth-realm-not-url',
      area: 'auth',
      description: 'a Bearer challenge whose realm is not a URL',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer realm="not a url at all",service="hostile"',
        }),
    },
    {
      name: 'auth-realm-file-url',
      area: 'auth',
      description: 'a Bearer challenge whose realm is file:///etc/passwd',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': 'Bearer realm="file:///etc/passwd",service="hostile"',
        }),
    },
    {
      name: 'auth-token-not-json',
      area: 'auth',
      description: 'the token endpoint answers 200 with HTML',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => send(c, 200, '<html><body>login</body></html>', { 'Content-Type': 'application/json' }),
    },
    {
      name: 'auth-token-no-token',
      area: 'auth',
      description: 'the token endpoint answers JSON without token or access_token',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => sendJson(c, 200, { tokne: 'typo', expires_in: 300 }),
    },
    {
      name: 'auth-token-huge',
      area: 'auth',
      description: 'the token endpoint streams an 8 MiB body (chunked)',
      expectCode: code('AUTH', 'SIZE_LIMIT'),
      manifest: bearerGate(defaultManifest),
      token: (c) => {
        c.res.writeHead(200, { 'Content-Type': 'application/json' });
        c.res.write('{"token":"');
        streamFill(c, 8 * MiB, Buffer.alloc(64 * KiB, 'A'));
      },
    },
    {
      name: 'auth-token-500',
      area: 'auth',
      description: 'the token endpoint answers 500, forever',
      expectCode: code('AUTH'),
      manifest: bearerGate(defaultManifest),
      token: (c) => distError(c, 500, 'UNKNOWN', 'token service down'),
    },
    {
      name: 'auth-token-truncated',
      area: 'auth',
      description: 'the token response declares Content-Length 4096, sends 20 bytes and closes the connection',
      expectCode: code('AUTH', 'NETWORK'),
      manifest: bearerGate(defaultManifest),
      token: (c) =>
        raw(c, `${rawHead('200 OK', ['Content-Type: application/json', 'Content-Length: 4096'])}{"token":"hostile-to`),
    },
    {
      name: 'auth-token-rejected-forever',
      area: 'auth',
      description: 'a token is issued, but the registry rejects it (401 error="invalid_token"), forever',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'token rejected', {
          'WWW-Authenticate': challenge(c, c.req.headers.authorization ? ',error="invalid_token"' : ''),
        }),
      token: tokenJson('hostile-token'),
    },
    {
      name: 'auth-token-hangs',
      area: 'auth',
      description: 'the token endpoint accepts requests and never answers',
      expectCode: code('TIMEOUT', 'AUTH'),
      config: SHORT_METADATA,
      maxMs: 12_000,
      manifest: bearerGate(defaultManifest),
      token: () => {},
    },
    {
      name: 'auth-challenge-moves',
      area: 'auth',
      description: 'each 401 names a new realm (/token/<name>?round=N), forever',
      expectCode: code('AUTH'),
      manifest: (c) => {
        const round = (c.state['round'] = (c.state['round'] ?? 0) + 1);
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', {
          'WWW-Authenticate': `Bearer realm="${c.origin}/token/${c.name}?round=${round}",service="hostile"`,
        });
      },
      token: tokenJson('hostile-token'),
    },
    {
      name: 'auth-basic-no-credentials',
      area: 'auth',
      description: 'a Basic challenge, and the client has no credentials',
      expectCode: code('AUTH'),
      manifest: (c) =>
        distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="hostile"' }),
    },
    {
      name: 'auth-secrets-echoed',
      area: 'auth',
      description:
        'bearer flow with docker-config credentials; the token is accepted, then a 403 echoes the Basic credentials and the token in its error message',
      expectCode: code('AUTH'),
      env: dockerEnv,
      secrets: [...credSecrets, s.token],
      manifest: (c) => {
        if (!withToken(c, s.token))
          return distError(c, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': challenge(c) });
        sendJson(c, 403, {
          errors: [
            {
              code: 'DENIED',
              message:
                `user ${s.username} (password ${s.password}, Authorization: Basic ` +
                `${s.basic}) holding ${c.req.headers.authorization ?? ''} may not pull hostile/${c.name}`,
              detail: { authorization: c.req.headers.authorization, basic: s.basic, token: s.token },
            },
          ],
        });
      },
      token: (c) => {
        if (c.req.headers.authorization !== `Basic ${s.basic}`)
          return distError(c, 401, 'UNAUTHORIZED', `bad credentials: ${c.req.headers.authorization ?? 'none'}`, {
            'WWW-Authenticate': 'Basic realm="hostile-token"',
          });
        tokenJson(s.token)(c);
      },
    },
    {
      name: 'auth-basic-rejected-echo',
      area: 'auth',
      description:
        'a Basic challenge; the docker-config credentials are sent and rejected (401) by a body that echoes them, forever',
      expectCode: code('AUTH'),
      env: dockerEnv,
      secrets: credSecrets,
      manifest: (c) => {
        const sent = c.req.headers.authorization ?? '';
        const decoded = sent.startsWith('Basic ') ? Buffer.from(sent.slice(6), 'base64').toString('utf8') : '';
        distError(c, 401, 'UNAUTHORIZED', `credentials ${JSON.stringify(decoded)} (${sent}) rejected`, {
          'WWW-Authenticate': 'Basic realm="hostile"',
        });
      },
    },
  ];
}
