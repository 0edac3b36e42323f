import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExchangeRecorder, type DfdaemonExchange } from '../../../../src/transport/dfdaemon/recorder.js';

test('exchanges are appended to one JSON array, without header values or piece bytes, in a 0600 file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-recorder-'));
  try {
    const file = path.join(dir, 'trace.json');
    for (const n of [1, 2]) {
      const r = new ExchangeRecorder(file, {
        url: `https://r/v2/x/blobs/sha256:${n}`,
        requestHeader: { authorization: 'Bearer SECRET' },
        pieceLength: 4,
      });
      r.response({
        hostId: 'h',
        taskId: 't',
        peerId: 'p',
        started: { contentLength: 4, isFinished: false, responseHeader: { 'set-cookie': 'session=COOKIE' } },
      });
      r.response({
        hostId: 'h',
        taskId: 't',
        peerId: 'p',
        piece: { number: 0, offset: 0, length: 4, digest: 'crc32:0', content: Buffer.from('abcd') },
      });
      await r.end({ code: 0 });
    }
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes('SECRET') && !text.includes('abcd') && !text.includes('COOKIE'));
    const all = JSON.parse(text) as DfdaemonExchange[];
    assert.equal(all.length, 2);
    assert.deepEqual(all[0]!.request.requestHeaderNames, ['authorization']);
    assert.deepEqual(all[1]!.responses[0]!.started, {
      contentLength: 4,
      isFinished: false,
      responseHeaderNames: ['set-cookie'],
    });
    assert.equal(all[1]!.responses[1]!.piece!.contentBytes, 4);
    assert.equal(
      all[1]!.responses[1]!.piece!.contentSha256,
      '88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589',
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
