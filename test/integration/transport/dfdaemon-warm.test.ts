// A warm daemon (it holds the blob already) in output-path delivery, against the protocol fake: its
// file is taken whole into a fresh store (renamed to be the data file, verified in one read), not
// copied piece by piece; a damaged file, or an entry that has pieces already, is copied as before.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256File, startClusterRig, type ClusterRig } from '../../harness/index.js';
import { startFakeDfdaemon, type FakeDfdaemon } from '../../harness/fake-dfdaemon.js';
import { createDownloader } from '../../../src/downloader.js';
import { DfdaemonTransport, type DfdaemonTransportOptions } from '../../../src/transport/dfdaemon-transport.js';

const KiB = 1024;
const SIZE = 1024 * KiB;
const PIECE = 256 * KiB;
let rig: ClusterRig;
let fake: FakeDfdaemon;
let n = 0;

before(async () => {
  rig = await startClusterRig({ name: 'dfdaemon-warm', repo: 'd/img', size: SIZE, seed: 93 });
});
after(async () => {
  await fake?.close();
  await rig?.close();
});
beforeEach(async () => {
  await fake?.close();
  fake = await startFakeDfdaemon();
});

/** One pull through the fake into `store` (a fresh one unless given). */
async function pull(options: DfdaemonTransportOptions = {}, store?: string) {
  const dir = path.join(rig.root, `w${n++}`);
  const transport = new DfdaemonTransport({ socketPath: fake.socketPath, delivery: 'output-path', ...options });
  const lines: string[] = [];
  const dl = await createDownloader({
    storage: { dataPath: store ?? path.join(dir, 'store') },
    oras: { credentials: rig.reg.credentials },
    download: { pieceSize: PIECE, concurrency: 2 },
    transport,
    logSink: { write: (r) => void lines.push(String((r as unknown as Record<string, unknown>)['msg'])) },
  });
  const output = path.join(dir, 'out.sif');
  try {
    const result = await dl.download({ url: rig.reg.ref('d/img:v1', rig.fault.host), output });
    return { result, output, lines };
  } finally {
    await dl.close();
    await transport.close();
  }
}

const TOOK_WHOLE = /took the daemon's file whole as the data file/;

for (const how of ['hardlink', 'copy'] as const)
  test(`warm daemon (${how}): its file becomes the data file, verified in one read, every piece recorded`, async () => {
    fake.script.outputPath = how;
    await pull(); // the daemon fetches the blob
    rig.fault.resetLog();
    const { result, output, lines } = await pull();
    assert.equal(await sha256File(output), rig.pushed.layer.digest);
    assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
    assert.equal(result.method, 'link', 'the output is a link to the data file');
    assert.ok(
      lines.some((m) => TOOK_WHOLE.test(m)),
      lines.join('\n'),
    );
    assert.equal(rig.fault.blobRequests().length, 0, 'nothing from the origin');
    const daemon = await stat(fake.taskFile(rig.pushed.layer.digest)!);
    const out = await stat(output);
    // A hard link stays one: the store shares the daemon's inode. A copy the daemon made is ours alone.
    if (how === 'hardlink') assert.equal(out.ino, daemon.ino);
    else assert.notEqual(out.ino, daemon.ino);
  });

test('warm daemon, a damaged file: not taken whole; the bad piece is refused and the origin serves it alone', async () => {
  await pull();
  fake.script.corrupt = true; // byte 0 flipped in what the daemon hands over
  rig.fault.resetLog();
  const { result, output, lines } = await pull();
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - PIECE, source: PIECE });
  assert.ok(!lines.some((m) => TOOK_WHOLE.test(m)));
  assert.ok(
    lines.some((m) => /not taking the file whole: pieces 0 differ/.test(m)),
    lines.join('\n'),
  );
  assert.ok(lines.some((m) => /dfdaemon piece 0 does not match the digest the daemon reports/.test(m)));
  const originBytes = rig.fault.blobRequests().reduce((s, r) => s + r.bytesSent, 0);
  assert.ok(originBytes >= PIECE && originBytes <= PIECE + 1, `the origin sent ${originBytes} bytes`);
  const daemon = await stat(fake.taskFile(rig.pushed.layer.digest)!);
  assert.notEqual((await stat(output)).ino, daemon.ino);
});

test('warm daemon, an entry with pieces already: copied piece by piece, not taken whole', async () => {
  const store = path.join(rig.root, 'resumed-store');
  await pull(); // the daemon fetches the blob
  // A pull that stops after 2 pieces with the origin off: its verified pieces stay for resume.
  fake.script.stallAfterPieces = 2;
  await assert.rejects(pull({ delivery: 'piece-content', backToSource: false, idleTimeout: '1s' }, store));
  fake.script.stallAfterPieces = undefined;
  rig.fault.resetLog();
  const { result, output, lines } = await pull({}, store);
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - 2 * PIECE });
  assert.ok(!lines.some((m) => TOOK_WHOLE.test(m)), lines.join('\n'));
  const daemon = await stat(fake.taskFile(rig.pushed.layer.digest)!);
  assert.notEqual((await stat(output)).ino, daemon.ino);
  assert.equal(rig.fault.blobRequests().length, 0);
});
