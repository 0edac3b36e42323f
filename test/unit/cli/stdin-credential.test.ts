import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialFromStdin, STDIN_NOTICE_MS } from '../../../src/cli/stdin-credential.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

test("the password is read whole (one trailing newline dropped) and offered to the reference's registry only", async () => {
  const c = await credentialFromStdin(chunks('s3cr', 'et\n'), 'Registry.example.com:5000', 'me');
  assert.equal(typeof c, 'function');
  const f = c as (host: string) => unknown;
  assert.deepEqual(f('registry.example.com:5000'), { username: 'me', password: 's3cret' });
  assert.equal(f('auth.example.com'), undefined, 'a token realm on another host gets nothing');
});

test('without a user name, stdin holds an identity token', async () => {
  const f = (await credentialFromStdin(chunks('tok\r\n'), 'r.io', undefined)) as (h: string) => unknown;
  assert.deepEqual(f('r.io'), { identityToken: 'tok' });
});

test('an empty or oversized stdin is refused, naming the flag', async () => {
  await assert.rejects(
    credentialFromStdin(chunks(''), 'r.io', 'me'),
    (e: unknown) => e instanceof InvalidArgumentError && /password-stdin/.test(e.message),
  );
  await assert.rejects(credentialFromStdin(chunks('x'.repeat(70 * 1024)), 'r.io', 'me'), /more than 65536 bytes/);
});

test('a terminal on stdin is refused at once (it would wait silently and echo the password)', async () => {
  let read = false;
  const tty = Object.assign(
    (async function* () {
      read = true;
      yield Buffer.from('secret\n');
    })(),
    { isTTY: true },
  );
  await assert.rejects(
    credentialFromStdin(tty, 'r.example', 'me'),
    (e: unknown) => e instanceof InvalidArgumentError && /stdin is a terminal; pipe the password in/.test(e.message),
  );
  assert.equal(read, false, 'nothing was read');
});

test('a stdin that never ends: the wait is said after a while, and the signal ends it at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let release!: () => void;
  const never = (async function* () {
    await new Promise<void>((r) => (release = r));
    yield Buffer.from('late');
  })();
  const said: string[] = [];
  const controller = new AbortController();
  const reading = credentialFromStdin(never, 'r.io', 'me', controller.signal, (l) => said.push(l));
  t.mock.timers.tick(STDIN_NOTICE_MS - 1);
  assert.deepEqual(said, []);
  t.mock.timers.tick(1);
  assert.deepEqual(said, ['waiting for the password on stdin (--password-stdin) to end…']);
  controller.abort(new Error('interrupted'));
  await assert.rejects(reading, /interrupted/);
  release();
});
