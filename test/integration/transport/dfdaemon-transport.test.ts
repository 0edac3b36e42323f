// DfdaemonTransport against a protocol fake of dfdaemon (test/harness/fake-dfdaemon.ts: conformance
// against fixtures derived from the public protos; no real daemon can run here). The fake fetches the
// blob from the real token registry itself, through the fault proxy that orasfly uses too, so the
// proxy's log tells who fetched what: one blob GET in total, the fake's, means orasfly took nothing
// from the origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pushSif, sha256File } from '../../harness/index.js';
import { fakeDfdaemonPulls, msgs, PIECE, SIZE } from './fake-dfdaemon-pulls.js';
import { createDownloader } from '../../../src/downloader.js';
import { DfdaemonTransport } from '../../../src/transport/dfdaemon-transport.js';
import { DaemonError, TaskFailedError } from '../../../src/core/errors.js';

const env = fakeDfdaemonPulls({ name: 'dfdaemon', seed: 91 });
const pull = env.pull;

test('output-path (hard link): a verified output, the registry serves the blob once, to the daemon, with a scoped Authorization', async () => {
  const { result, output, lines } = await pull({ delivery: 'output-path' });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(env.fake.registryFetches.length, 1);
  assert.equal(env.fake.registryFetches[0]!.status, 200, 'the token orasfly handed over was accepted by the registry');
  assert.equal(env.rig.fault.blobRequests().length, 1, "one blob GET in total: the fake's; orasfly fetched none");
  const d = env.fake.downloads[0]!;
  assert.equal(d.url, `http://${env.rig.fault.host}/v2/d/img/blobs/${env.rig.pushed.layer.digest}`);
  assert.equal(d.digest, undefined, 'orasfly verifies the blob itself: the daemon is not asked to hash it again');
  assert.equal(d.piece_length, PIECE);
  assert.equal(d.need_piece_content ?? false, false);
  assert.match(d.output_path!, /\/\.orasfly-tmp-dfdaemon-[0-9a-f-]+$/, 'a temp name every store cleanup removes');
  assert.match(d.request_header['authorization'] ?? '', /^Bearer /);
  await assert.rejects(stat(d.output_path!), { code: 'ENOENT' }, 'the temp file is gone');
  assert.ok(
    msgs(lines).some((m) =>
      /dfdaemon task [0-9a-f]{64} peer 127\.0\.0\.1-fake-1 host 127\.0\.0\.1-fake for orasfly task [0-9a-f]{64}/.test(
        m,
      ),
    ),
    msgs(lines).join('\n'),
  );
  assert.ok(msgs(lines).some((m) => /as daemon task [0-9a-f]{64}/.test(m)));
});

test('output-path (copy) works the same', async () => {
  env.fake.script.outputPath = 'copy';
  const { result, output } = await pull({ delivery: 'output-path' });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
});

test('piece-content: pieces out of order are verified and stored; nothing from the origin', async () => {
  env.fake.script.order = 'reverse';
  const { result, output } = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(env.fake.downloads[0]!.need_piece_content, true);
  assert.equal(env.fake.downloads[0]!.output_path, undefined);
  assert.equal(env.rig.fault.blobRequests().length, 1);
});

test('a task the daemon has cached (is_finished) is served without a registry fetch', async () => {
  await pull({ delivery: 'piece-content' });
  env.rig.fault.resetLog();
  const { result, output } = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.equal(result.reused, false, 'a new store: our own reuse did not apply');
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(env.fake.registryFetches.length, 1);
  assert.equal(env.rig.fault.blobRequests().length, 0);
});

test('a registry 404 relayed by the daemon (errordetails Backend) is a not-found error, not a reason to ask the origin', async () => {
  env.fake.script.failFirst = [
    { code: grpc.status.INTERNAL, message: 'backend error', backend: { status_code: 404, message: 'blob unknown' } },
  ];
  await assert.rejects(
    pull(),
    (e: unknown) =>
      e instanceof TaskFailedError &&
      (e.cause as { status?: number }).status === 404 &&
      /registry answered 404 to the daemon/.test(e.message),
  );
  assert.equal(env.rig.fault.blobRequests().length, 0);
});

test('RESOURCE_EXHAUSTED, then success: the daemon is asked again', async () => {
  env.fake.script.failFirst = [{ code: grpc.status.RESOURCE_EXHAUSTED }, { code: grpc.status.RESOURCE_EXHAUSTED }];
  const { result, lines } = await pull();
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(env.fake.downloads.length, 3);
  assert.equal(msgs(lines).filter((m) => /busy \(RESOURCE_EXHAUSTED\)/.test(m)).length, 2);
});

test('busy: waits busyRetryDelay·2ⁿ without jitter, and asking for the piece bytes instead starts a fresh count', async () => {
  // Busy once with output-path, then a path problem (the switch), then busy twice with piece-content:
  // with busyRetries 2, each mode may be asked again twice.
  env.fake.script.failFirst = [
    { code: grpc.status.RESOURCE_EXHAUSTED },
    { code: grpc.status.INTERNAL },
    { code: grpc.status.RESOURCE_EXHAUSTED },
    { code: grpc.status.RESOURCE_EXHAUSTED },
  ];
  const { result, lines } = await pull({ busyRetries: 2 });
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(env.fake.downloads.length, 5);
  assert.deepEqual(
    msgs(lines)
      .map((m) => /busy \(RESOURCE_EXHAUSTED\); trying again in (\d+) ms/.exec(m)?.[1])
      .filter((d) => d !== undefined),
    ['10', '10', '20'],
  );
  assert.equal(env.fake.downloads[4]!.need_piece_content, true);
});

test('storing pieces slower than the idle timeout is not a stalled daemon: the clock runs only while orasfly waits', async () => {
  // 256 KiB pieces stored at 256 KiB/s take about a second each; the daemon answers at once, and is
  // never silent for the 500 ms of the idle timeout while orasfly is waiting for it.
  const { result, output, lines } = await pull(
    { delivery: 'piece-content', idleTimeout: '500ms' },
    { totalRateLimit: '256Ki' },
  );
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE }, msgs(lines).join('\n'));
  assert.ok(!msgs(lines).some((m) => /no message from dfdaemon|back to source/.test(m)), msgs(lines).join('\n'));
});

test('a stream that stalls mid-way: the origin serves only the missing pieces, and the blob is verified', async () => {
  env.fake.script.stallAfterPieces = 1;
  const { result, output, lines } = await pull({ delivery: 'piece-content', idleTimeout: '1s' });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: PIECE, source: SIZE - PIECE });
  // Exactly the three pieces the daemon did not deliver: the ranged requests cover those bytes, once.
  const ranges = env.rig.fault
    .blobRequests()
    .map((r) => r.range)
    .filter((r) => r !== undefined && r !== 'bytes=0-0');
  const spans = ranges.map((r) => r!.slice('bytes='.length).split('-').map(Number) as [number, number]);
  spans.sort((a, b) => a[0] - b[0]);
  assert.equal(spans[0]![0], 262144);
  assert.equal(spans.at(-1)![1], 1048575);
  for (let i = 1; i < spans.length; i++)
    assert.equal(spans[i]![0], spans[i - 1]![1] + 1, `contiguous: ${ranges.join(', ')}`);
  assert.ok(
    msgs(lines).some((m) => /back to source for 3 of 4 pieces: no message from dfdaemon for 1 s/.test(m)),
    msgs(lines).join('\n'),
  );
});

test('no socket: the origin serves, and the log says why', async () => {
  const { result, output, lines } = await pull({ socketPath: path.join(env.rig.root, 'no-such.sock') });
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { source: SIZE });
  assert.ok(msgs(lines).some((m) => /no dfdaemon socket at .*no-such\.sock \(ENOENT\)/.test(m)));
});

test('a daemon that is not serving (health check) is not used', async () => {
  env.fake.script.health = 'not-serving';
  const { result } = await pull();
  assert.deepEqual(result.transferredBy, { source: SIZE });
  assert.equal(env.fake.downloads.length, 0);
});

test('disable_back_to_source: a daemon that cannot serve fails the pull with ERR_ORASFLY_DAEMON, and orasfly fetches nothing', async () => {
  await assert.rejects(
    pull({ backToSource: false }),
    (e: unknown) => e instanceof DaemonError && /back-to-source is disabled/.test(e.message),
  );
  assert.equal(env.fake.downloads[0]!.disable_back_to_source, true);
  assert.equal(env.rig.fault.blobRequests().length, 0);
  await assert.rejects(
    pull({ backToSource: false, socketPath: path.join(env.rig.root, 'none.sock') }),
    (e: unknown) => e instanceof DaemonError && e.code === 'ERR_ORASFLY_DAEMON',
  );
});

for (const delivery of ['piece-content', 'output-path'] as const)
  test(`${delivery}: a damaged piece costs that piece: refused against the daemon's digest, the origin serves it alone`, async () => {
    env.fake.script.corrupt = true; // byte 0 flipped: piece 0 no longer matches the crc32 the daemon reports
    const { result, output, lines } = await pull({ delivery });
    assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
    assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - PIECE, source: PIECE });
    assert.ok(msgs(lines).some((m) => /dfdaemon piece 0 does not match the digest the daemon reports/.test(m)));
    // The origin sent the blob once to the daemon, then that one piece to orasfly (and at most the
    // range probe's byte); a whole-blob retry would have been another SIZE.
    const originBytes = env.rig.fault.blobRequests().reduce((n, r) => n + r.bytesSent, 0);
    assert.ok(originBytes >= SIZE + PIECE && originBytes <= SIZE + PIECE + 1, `the origin sent ${originBytes} bytes`);
  });

test('auto delivery: a daemon that cannot write our path is asked for the piece bytes instead', async () => {
  env.fake.script.outputPath = { refuse: grpc.status.INTERNAL };
  const { result, output } = await pull();
  assert.equal(await sha256File(output), env.rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.ok(env.fake.downloads[0]!.output_path);
  assert.equal(env.fake.downloads[1]!.need_piece_content, true);
});

test('cancel mid-stream: the pull rejects with the abort reason and the daemon sees the stream cancelled', async () => {
  env.fake.script.stallAfterPieces = 1;
  const ac = new AbortController();
  const cancelled = env.fake.waitCancelled();
  await assert.rejects(
    pull({ delivery: 'piece-content' }, { signal: ac.signal, onPiece: () => ac.abort(new Error('user stop')) }),
    /user stop/,
  );
  await cancelled;
  assert.ok(env.fake.cancelled >= 1);
});

test('recordTo writes the exchange (no header values, no piece bytes); the fake replays the trace', async () => {
  const trace = path.join(env.rig.root, 'trace.json');
  env.fake.script.order = 'reverse';
  const first = await pull({ delivery: 'piece-content', recordTo: trace });
  const text = await readFile(trace, 'utf8');
  const recorded = JSON.parse(text) as Array<import('../../../src/transport/dfdaemon/recorder.js').DfdaemonExchange>;
  assert.equal(recorded.length, 1);
  const x = recorded[0]!;
  assert.deepEqual(x.request.requestHeaderNames, ['authorization']);
  assert.ok(!/Bearer /.test(text), 'no token in the trace');
  assert.equal(x.status?.code, 0);
  assert.deepEqual(
    x.responses.filter((r) => r.piece).map((r) => r.piece!.number),
    [3, 2, 1, 0],
  );
  assert.equal(x.responses.find((r) => r.piece)!.piece!.contentBytes, PIECE);
  assert.deepEqual(first.result.transferredBy, { dfdaemon: SIZE });

  // The trace as a fixture: the same sequence again, from a fresh fake.
  await env.restartFake({ replay: x });
  const again = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(again.output), env.rig.pushed.layer.digest);
  assert.deepEqual(again.result.transferredBy, { dfdaemon: SIZE });
});

test('inline pieces larger than the usual 4 MiB gRPC receive limit arrive (the limit is raised)', async () => {
  const big = await pushSif(env.rig.reg, 'd/big', 'v1', { size: 9 * 2 ** 20, seed: 94 });
  const dir = env.freshDir('big');
  const transport = new DfdaemonTransport({ socketPath: env.fake.socketPath, delivery: 'piece-content' });
  const dl = await createDownloader({
    storage: { dataPath: path.join(dir, 'store') },
    oras: { credentials: env.rig.reg.credentials },
    download: { pieceSize: 8 * 2 ** 20 },
    transport,
  });
  try {
    const r = await dl.download({
      url: env.rig.reg.ref('d/big:v1', env.rig.fault.host),
      output: path.join(dir, 'big.sif'),
    });
    assert.equal(await sha256File(path.join(dir, 'big.sif')), big.layer.digest);
    assert.deepEqual(r.transferredBy, { dfdaemon: 9 * 2 ** 20 });
  } finally {
    await dl.close();
    await transport.close();
  }
});
