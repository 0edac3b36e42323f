import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { destroyBody, errorChain, firstCode, firstMessage, readLimited } from '../../../../src/source/oras/body.js';
import { NetworkError, SizeLimitError } from '../../../../src/core/errors.js';

test('readLimited reads a body whole within the limit', async () => {
  const b = await readLimited(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 10, 'manifest');
  assert.equal(b.toString(), 'abcd');
});

test('readLimited refuses a declared or an actual size over the limit, destroying the body', async () => {
  const declared = Readable.from([Buffer.from('x')]);
  await assert.rejects(readLimited(declared, 4, 'manifest', '5'), SizeLimitError);
  assert.equal(declared.destroyed, true);
  const streamed = Readable.from([Buffer.alloc(3), Buffer.alloc(3)]);
  await assert.rejects(readLimited(streamed, 4, 'manifest'), SizeLimitError);
  assert.equal(streamed.destroyed, true);
});

test('a body that breaks is a NetworkError naming what broke and after how many bytes', async () => {
  const broken = new Readable({
    read() {
      this.push(Buffer.from('abc'));
      this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    },
  });
  await assert.rejects(readLimited(broken, 100, 'manifest'), (e) => {
    assert.ok(e instanceof NetworkError);
    assert.match(e.message, /reading the manifest failed after \d+ bytes: ECONNRESET \(socket hang up\)/);
    return true;
  });
});

test('an abort rejects with its reason', async () => {
  const ac = new AbortController();
  const never = new Readable({ read() {} });
  const p = readLimited(never, 100, 'manifest', undefined, ac.signal);
  const reason = new Error('stop');
  ac.abort(reason);
  await assert.rejects(p, (e) => e === reason);
});

test('destroyBody destroys without an unhandled error; the cause chain helpers find codes and reasons', () => {
  const r = new Readable({ read() {} });
  destroyBody(r);
  r.emit('error', new Error('late')); // handled: no throw
  assert.equal(r.destroyed, true);
  destroyBody(undefined);
  const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const outer = new Error('fetch failed', { cause: inner });
  assert.equal(errorChain(outer).length, 2);
  assert.equal(firstCode(outer), 'ECONNREFUSED');
  assert.equal(firstMessage(outer), 'connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(firstCode(new TypeError('x')), 'unknown');
});
