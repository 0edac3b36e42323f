import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { SourceTransport } from '../../../src/transport/source-transport.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import type { BlobRead, ResourceClient } from '../../../src/source/resource-client.js';
import type { ByteRange } from '../../../src/core/types.js';

const data = Buffer.from('0123456789abcdef');
const seen: Array<{ range?: ByteRange; headers?: Record<string, string> }> = [];
const client: ResourceClient = {
  resolve: async () => {
    throw new Error('not used');
  },
  supportsRange: async () => true,
  read: async (_t, range, o): Promise<BlobRead> => {
    seen.push({ range, headers: o?.headers });
    const r = range ?? { start: 0, length: data.length };
    return { body: Readable.from([data.subarray(r.start, r.start + r.length)]), range: r };
  },
};
const task = {
  taskId: 't',
  peerId: 'p',
  target: { url: 'oras://r/x:v1', digest: 'sha256:x', size: data.length, mediaType: 'x' },
  plan: planPieces(data.length, 4),
  headers: { 'x-extra': '1' },
};

async function text(it: AsyncIterable<Uint8Array>): Promise<string> {
  let s = '';
  for await (const c of it) s += Buffer.from(c).toString();
  return s;
}

test("a piece is read as its range, with the request's headers; the whole blob as one stream", async () => {
  const t = new SourceTransport(client);
  assert.equal(t.wholeStreamPreferred, true);
  assert.equal(await t.supportsRange(task, {}), true);
  assert.equal(await text(await t.readPiece(task, { num: 2, range: { start: 8, length: 4 } }, {})), '89ab');
  assert.deepEqual(seen.at(-1), { range: { start: 8, length: 4 }, headers: { 'x-extra': '1' } });
  assert.equal(await text(await t.readSequential(task, {})), data.toString());
  assert.equal(seen.at(-1)!.range, undefined);
});
