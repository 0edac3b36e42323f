// DfdaemonTransport against a protocol fake of dfdaemon (test/harness/fake-dfdaemon.ts: conformance
// against fixtures derived from the public protos; no real daemon can run here). The fake fetches the
// blob from the real token registry itself, through the fault proxy that orasfly uses too, so the
// proxy's log tells who fetched what: one blob GET in total, the fake's, means orasfly took nothing
// from the origin.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pushSif, sha256File, startClusterRig, type ClusterRig } from '../../harness/index.js';
import { startFakeDfdaemon, type FakeDfdaemon } from '../../harness/fake-dfdaemon.js';
import { createDownloader } from '../../../src/downloader.js';
import { DfdaemonTransport, type DfdaemonTransportOptions } from '../../../src/transport/dfdaemon-transport.js';
import { DaemonError, TaskFailedError } from '../../../src/core/errors.js';

const KiB = 1024;
const SIZE = 1024 * KiB;
const PIECE = 256 * KiB;
let rig: ClusterRig;
let fake: FakeDfdaemon;
let n = 0;

before(async () => {
  rig = await startClusterRig({ name: 'dfdaemon', repo: 'd/img', size: SIZE, seed: 91 });
});
after(async () => {
  await fake?.close();
  await rig?.close();
});
beforeEach(async () => {
  await fake?.close();
  fake = await startFakeDfdaemon();
  rig.fault.resetLog();
});

/** One pull through a transport on the fake, with a fresh store. */
async function pull(
  options: DfdaemonTransportOptions = {},
  extra: { signal?: AbortSignal; onPiece?: () => void; store?: string } = {},
) {
  const dir = path.join(rig.root, `p${n++}`);
  const transport = new DfdaemonTransport({ socketPath: fake.socketPath, busyRetryDelay: '10ms', ...options });
  const lines: Array<Record<string, unknown>> = [];
  const dl = await createDownloader({
    storage: { dataPath: extra.store ?? path.join(dir, 'store') },
    oras: { credentials: rig.reg.credentials },
    download: { pieceSize: PIECE, concurrency: 2 },
    transport,
    logSink: { write: (r) => void lines.push(r as unknown as Record<string, unknown>) },
  });
  if (extra.onPiece) dl.manager.onConductor((c) => c.on('piece', extra.onPiece!));
  const output = path.join(dir, 'out.sif');
  try {
    const result = await dl.download({ url: rig.reg.ref('d/img:v1', rig.fault.host), output, signal: extra.signal });
    return { result, output, lines, dir };
  } finally {
    await dl.close();
    await transport.close();
  }
}

const msgs = (lines: Array<Record<string, unknown>>): string[] => lines.map((l) => String(l['msg']));

test('output-path (hard link): a verified output, the registry serves the blob once, to the daemon, with a scoped Authorization', async () => {
  const { result, output, lines } = await pull({ delivery: 'output-path' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(fake.registryFetches.length, 1);
  assert.equal(fake.registryFetches[0]!.status, 200, 'the token orasfly handed over was accepted by the registry');
  assert.equal(rig.fault.blobRequests().length, 1, "one blob GET in total: the fake's; orasfly fetched none");
  const d = fake.downloads[0]!;
  assert.equal(d.url, `http://${rig.fault.host}/v2/d/img/blobs/${rig.pushed.layer.digest}`);
  assert.equal(d.digest, undefined, 'orasfly verifies the blob itself: the daemon is not asked to hash it again');
  assert.equal(d.piece_length, PIECE);
  assert.equal(d.need_piece_content ?? false, false);
  assert.match(d.output_path!, /\.dfdaemon-[0-9a-f-]+\.tmp$/);
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
  fake.script.outputPath = 'copy';
  const { result, output } = await pull({ delivery: 'output-path' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
});

test('piece-content: pieces out of order are verified and stored; nothing from the origin', async () => {
  fake.script.order = 'reverse';
  const { result, output } = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(fake.downloads[0]!.need_piece_content, true);
  assert.equal(fake.downloads[0]!.output_path, undefined);
  assert.equal(rig.fault.blobRequests().length, 1);
});

test('a task the daemon has cached (is_finished) is served without a registry fetch', async () => {
  await pull({ delivery: 'piece-content' });
  rig.fault.resetLog();
  const { result, output } = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.equal(result.reused, false, 'a new store: our own reuse did not apply');
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(fake.registryFetches.length, 1);
  assert.equal(rig.fault.blobRequests().length, 0);
});

test('a registry 404 relayed by the daemon (errordetails Backend) is a not-found error, not a reason to ask the origin', async () => {
  fake.script.failFirst = [
    { code: grpc.status.INTERNAL, message: 'backend error', backend: { status_code: 404, message: 'blob unknown' } },
  ];
  await assert.rejects(
    pull(),
    (e: unknown) =>
      e instanceof TaskFailedError &&
      (e.cause as { status?: number }).status === 404 &&
      /registry answered 404 to the daemon/.test(e.message),
  );
  assert.equal(rig.fault.blobRequests().length, 0);
});

test('RESOURCE_EXHAUSTED, then success: the daemon is asked again', async () => {
  fake.script.failFirst = [{ code: grpc.status.RESOURCE_EXHAUSTED }, { code: grpc.status.RESOURCE_EXHAUSTED }];
  const { result, lines } = await pull();
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(fake.downloads.length, 3);
  assert.equal(msgs(lines).filter((m) => /busy \(RESOURCE_EXHAUSTED\)/.test(m)).length, 2);
});

test('busy: waits busyRetryDelay·2ⁿ without jitter, and asking for the piece bytes instead starts a fresh count', async () => {
  // Busy once with output-path, then a path problem (the switch), then busy twice with piece-content:
  // with busyRetries 2, each mode may be asked again twice.
  fake.script.failFirst = [
    { code: grpc.status.RESOURCE_EXHAUSTED },
    { code: grpc.status.INTERNAL },
    { code: grpc.status.RESOURCE_EXHAUSTED },
    { code: grpc.status.RESOURCE_EXHAUSTED },
  ];
  const { result, lines } = await pull({ busyRetries: 2 });
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.equal(fake.downloads.length, 5);
  assert.deepEqual(
    msgs(lines)
      .map((m) => /busy \(RESOURCE_EXHAUSTED\); trying again in (\d+) ms/.exec(m)?.[1])
      .filter((d) => d !== undefined),
    ['10', '10', '20'],
  );
  assert.equal(fake.downloads[4]!.need_piece_content, true);
});

test('a stream that stalls mid-way: the origin serves only the missing pieces, and the blob is verified', async () => {
  fake.script.stallAfterPieces = 1;
  const { result, output, lines } = await pull({ delivery: 'piece-content', idleTimeout: '1s' });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: PIECE, source: SIZE - PIECE });
  // Exactly the three pieces the daemon did not deliver: the ranged requests cover those bytes, once.
  const ranges = rig.fault
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
  const { result, output, lines } = await pull({ socketPath: path.join(rig.root, 'no-such.sock') });
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { source: SIZE });
  assert.ok(msgs(lines).some((m) => /no dfdaemon socket at .*no-such\.sock \(ENOENT\)/.test(m)));
});

test('a daemon that is not serving (health check) is not used', async () => {
  fake.script.health = 'not-serving';
  const { result } = await pull();
  assert.deepEqual(result.transferredBy, { source: SIZE });
  assert.equal(fake.downloads.length, 0);
});

test('disable_back_to_source: a daemon that cannot serve fails the pull with ERR_ORASFLY_DAEMON, and orasfly fetches nothing', async () => {
  await assert.rejects(
    pull({ backToSource: false }),
    (e: unknown) => e instanceof DaemonError && /back-to-source is disabled/.test(e.message),
  );
  assert.equal(fake.downloads[0]!.disable_back_to_source, true);
  assert.equal(rig.fault.blobRequests().length, 0);
  await assert.rejects(
    pull({ backToSource: false, socketPath: path.join(rig.root, 'none.sock') }),
    (e: unknown) => e instanceof DaemonError && e.code === 'ERR_ORASFLY_DAEMON',
  );
});

for (const delivery of ['piece-content', 'output-path'] as const)
  test(`${delivery}: a damaged piece costs that piece: refused against the daemon's digest, the origin serves it alone`, async () => {
    fake.script.corrupt = true; // byte 0 flipped: piece 0 no longer matches the crc32 the daemon reports
    const { result, output, lines } = await pull({ delivery });
    assert.equal(await sha256File(output), rig.pushed.layer.digest);
    assert.deepEqual(result.transferredBy, { dfdaemon: SIZE - PIECE, source: PIECE });
    assert.ok(msgs(lines).some((m) => /dfdaemon piece 0 does not match the digest the daemon reports/.test(m)));
    // The origin sent the blob once to the daemon, then that one piece to orasfly (and at most the
    // range probe's byte); a whole-blob retry would have been another SIZE.
    const originBytes = rig.fault.blobRequests().reduce((n, r) => n + r.bytesSent, 0);
    assert.ok(originBytes >= SIZE + PIECE && originBytes <= SIZE + PIECE + 1, `the origin sent ${originBytes} bytes`);
  });

test('auto delivery: a daemon that cannot write our path is asked for the piece bytes instead', async () => {
  fake.script.outputPath = { refuse: grpc.status.INTERNAL };
  const { result, output } = await pull();
  assert.equal(await sha256File(output), rig.pushed.layer.digest);
  assert.deepEqual(result.transferredBy, { dfdaemon: SIZE });
  assert.ok(fake.downloads[0]!.output_path);
  assert.equal(fake.downloads[1]!.need_piece_content, true);
});

test('cancel mid-stream: the pull rejects with the abort reason and the daemon sees the stream cancelled', async () => {
  fake.script.stallAfterPieces = 1;
  const ac = new AbortController();
  const cancelled = fake.waitCancelled();
  await assert.rejects(
    pull({ delivery: 'piece-content' }, { signal: ac.signal, onPiece: () => ac.abort(new Error('user stop')) }),
    /user stop/,
  );
  await cancelled;
  assert.ok(fake.cancelled >= 1);
});

test('recordTo writes the exchange (no header values, no piece bytes); the fake replays the trace', async () => {
  const trace = path.join(rig.root, 'trace.json');
  fake.script.order = 'reverse';
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
  await fake.close();
  fake = await startFakeDfdaemon({ replay: x });
  const again = await pull({ delivery: 'piece-content' });
  assert.equal(await sha256File(again.output), rig.pushed.layer.digest);
  assert.deepEqual(again.result.transferredBy, { dfdaemon: SIZE });
});

test('inline pieces larger than the usual 4 MiB gRPC receive limit arrive (the limit is raised)', async () => {
  const big = await pushSif(rig.reg, 'd/big', 'v1', { size: 9 * 2 ** 20, seed: 94 });
  const dir = path.join(rig.root, `big${n++}`);
  const transport = new DfdaemonTransport({ socketPath: fake.socketPath, delivery: 'piece-content' });
  const dl = await createDownloader({
    storage: { dataPath: path.join(dir, 'store') },
    oras: { credentials: rig.reg.credentials },
    download: { pieceSize: 8 * 2 ** 20 },
    transport,
  });
  try {
    const r = await dl.download({ url: rig.reg.ref('d/big:v1', rig.fault.host), output: path.join(dir, 'big.sif') });
    assert.equal(await sha256File(path.join(dir, 'big.sif')), big.layer.digest);
    assert.deepEqual(r.transferredBy, { dfdaemon: 9 * 2 ** 20 });
  } finally {
    await dl.close();
    await transport.close();
  }
});
