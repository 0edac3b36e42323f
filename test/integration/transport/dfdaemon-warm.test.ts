// A warm daemon (it holds the blob already) in output-path delivery, against the protocol fake: its
// file is taken whole into a fresh store (renamed to be the data file, verified in one read), not
// copied piece by piece; a damaged file, or an entry that has pieces already, is copied as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../../harness/index.js';
import type { DfdaemonTransportOptions } from '../../../src/transport/dfdaemon-transport.js';
import { fakeDfdaemonPulls, msgs, PIECE, SIZE } from './fake-dfdaemon-pulls.js';

const env = fakeDfdaemonPulls({ name: 'dfdaemon-warm', seed: 93 });

/** One pull in output-path delivery into `store` (a fresh one unless given); `lines`: core.log's messages. */
async function pull(options: DfdaemonTransportOptions = {}, store?: string) {
  const r = await env.pull({ delivery: 'output-path', ...options }, { store });
  return { ...r, lines: msgs(r.lines) };
}

const TOOK_WHOLE = /took the daemon's file whole as the data file/;

for (const how of ['hardlink', 'copy'] as const)
  test(`warm daemon (${how}): its file becomes the data file, verified in one read, every piece recorded`, async () => {
    env.fake.script.outputPath = how;
    await pull(); // the daemon fetches the blob
    env.rig.fault.resetLog();
    const { result, output, lines } = await pull();
    assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
    assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
    assert.equal(result.method, 'link', 'the output is a link to the data file');
    assert.ok(
      lines.some((m) => TOOK_WHOLE.test(m)),
      lines.join('\n'),
    );
    assert.equal(env.rig.fault.blobRequests().length, 0, 'nothing from the origin');
    const daemon = await stat(env.fake.taskFile(env.rig.pushed.layer.digest)!);
    const out = await stat(output);
    // A hard link stays one: the store shares the daemon's inode. A copy the daemon made is ours alone.
    if (how === 'hardlink') assert.equal(out.ino, daemon.ino);
    else assert.notEqual(out.ino, daemon.ino);
  });

test('warm daemon, a damaged file: not taken whole; the bad piece is refused and the origin serves it alone', async () => {
  await pull();
  env.fake.script.corrupt = true; // byte 0 flipped in what the daemon hands over
  env.rig.fault.resetLog();
  const { result, output, lines } = await pull();
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - PIECE, source: PIECE });
  assert.ok(!lines.some((m) => TOOK_WHOLE.test(m)));
  assert.ok(
    lines.some((m) => /not taking the file whole: pieces 0 differ/.test(m)),
    lines.join('\n'),
  );
  assert.ok(lines.some((m) => /dfdaemon piece 0 does not match the digest the daemon reports/.test(m)));
  const originBytes = env.rig.fault.blobRequests().reduce((s, r) => s + r.bytesSent, 0);
  assert.ok(originBytes >= PIECE && originBytes <= PIECE + 1, `the origin sent ${originBytes} bytes`);
  const daemon = await stat(env.fake.taskFile(env.rig.pushed.layer.digest)!);
  assert.notEqual((await stat(output)).ino, daemon.ino);
});

test('warm daemon, an entry with pieces already: copied piece by piece, not taken whole', async () => {
  const store = path.join(env.rig.root, 'resumed-store');
  await pull(); // the daemon fetches the blob
  // A pull that stops after 2 pieces with the origin off: its verified pieces stay for resume.
  env.fake.script.stallAfterPieces = 2;
  await assert.rejects(pull({ delivery: 'piece-content', backToSource: false, idleTimeout: '1s' }, store));
  env.fake.script.stallAfterPieces = undefined;
  env.rig.fault.resetLog();
  const { result, output, lines } = await pull({}, store);
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - 2 * PIECE });
  assert.ok(!lines.some((m) => TOOK_WHOLE.test(m)), lines.join('\n'));
  const daemon = await stat(env.fake.taskFile(env.rig.pushed.layer.digest)!);
  assert.notEqual((await stat(output)).ino, daemon.ino);
  assert.equal(env.rig.fault.blobRequests().length, 0);
});
