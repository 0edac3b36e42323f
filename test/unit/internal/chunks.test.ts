import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { chunksOf, pumpChunks } from '../../../src/internal/chunks.js';

test('chunksOf hands on each chunk as pushed (no concatenation) and ends with the stream', async () => {
  const parts = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')];
  const r = new Readable({ read() {} });
  for (const p of parts) r.push(p);
  r.push(null);
  const got: Buffer[] = [];
  for await (const c of chunksOf(r)) got.push(Buffer.from(c));
  assert.deepEqual(got.map(String), ['a', 'bb', 'ccc']);
});

test('chunksOf applies backpressure, reports errors, and destroys the stream when the consumer stops', async () => {
  let reads = 0;
  const r = new Readable({
    read() {
      reads++;
      this.push(Buffer.alloc(1024));
    },
  });
  let taken = 0;
  for await (const _ of chunksOf(r)) if (++taken === 20) break;
  assert.equal(r.destroyed, true);
  assert.ok(reads < 200, `the source was read ${reads} times for 20 chunks`);
  const failing = new Readable({ read() {} });
  const it = chunksOf(failing)[Symbol.asyncIterator]();
  const next = it.next();
  failing.destroy(new Error('boom'));
  await assert.rejects(next, /boom/);
});

test('pumpChunks hands every chunk on as it came, pausing the body while the sink waits', async () => {
  const parts = [Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')];
  const body = Readable.from(parts, { objectMode: false });
  const seen: Uint8Array[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = pumpChunks(body, (c) => {
    seen.push(c);
    if (seen.length === 1) return gate; // the first chunk makes the body wait
    return undefined;
  });
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(seen.length, 1, 'paused while the sink waits');
  release();
  await done;
  assert.deepEqual(seen, parts, 'the same buffers, not copies');
});

test('pumpChunks rejects with the sink’s error, a premature close, or the signal’s reason, destroying the body', async () => {
  const failing = Readable.from([Buffer.from('x'), Buffer.from('y')]);
  await assert.rejects(
    pumpChunks(failing, () => {
      throw new Error('sink failed');
    }),
    /sink failed/,
  );
  assert.ok(failing.destroyed);
  const cut = new Readable({ read() {} });
  const p = pumpChunks(cut, () => undefined);
  cut.push(Buffer.from('z'));
  cut.destroy();
  await assert.rejects(p, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  const never = new Readable({ read() {} });
  const ac = new AbortController();
  const q = pumpChunks(never, () => undefined, ac.signal);
  ac.abort(new Error('stopped'));
  await assert.rejects(q, /stopped/);
  assert.ok(never.destroyed);
});

test('pumpChunks survives a body that emits its own error when destroyed (undici does)', async () => {
  const body = new Readable({
    read() {},
    destroy(_err, cb) {
      cb(new Error('Request aborted'));
    },
  });
  const p = pumpChunks(body, () => {
    throw new Error('too long');
  });
  body.push(Buffer.from('x'));
  await assert.rejects(p, /too long/);
  await new Promise<void>((r) => setImmediate(r));
  assert.ok(body.destroyed);
});

test('pumpChunks aborted while the sink waits rejects only once that wait is over', async () => {
  const body = new PassThrough();
  const ac = new AbortController();
  const reason = new Error('stop');
  let commitDone!: () => void;
  const order: string[] = [];
  const p = pumpChunks(
    body,
    () => {
      // The abort comes from elsewhere (Ctrl-C, the stall watch) while the commit runs.
      setImmediate(() => ac.abort(reason));
      return new Promise<void>((r) => (commitDone = r)).then(() => void order.push('commit'));
    },
    ac.signal,
  ).then(
    () => order.push('resolved'),
    (e: unknown) => order.push(e === reason ? 'rejected' : 'other'),
  );
  body.write(Buffer.from('piece bytes'));
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(order, []);
  commitDone();
  await p;
  assert.deepEqual(order, ['commit', 'rejected']);
  assert.equal(body.destroyed, true);
});
