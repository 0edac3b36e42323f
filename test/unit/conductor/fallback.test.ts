import { test } from 'node:test';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { deliverPieces, restartsFromOrigin, type DeliverySite } from '../../../src/conductor/fallback.js';
import { DaemonError, DigestMismatchError, TaskFailedError } from '../../../src/core/errors.js';
import type { PieceSink, PieceTransport, TransportTask } from '../../../src/transport/piece-transport.js';

const task = {} as TransportTask;
const sink = {} as PieceSink;
const origin: PieceTransport = { name: 'source', readPiece: async () => Readable.from([]) };

/** A site with `missing` pieces left; records which transports pulled and which fell back. */
function site(missing: number, failPull: Record<string, Error> = {}) {
  const log: string[] = [];
  const s: DeliverySite = {
    taskId: 't',
    totalPieces: 4,
    missing: () => missing,
    pull: async (t) => {
      log.push(`pull ${t.name}`);
      if (failPull[t.name]) throw failPull[t.name];
      missing = 0; // a pull that returns has fetched every missing piece
    },
    onFallback: (name) => log.push(`fallback from ${name}`),
  };
  return { s, log };
}

const push = (error?: Error, extra: Partial<PieceTransport> = {}): PieceTransport => ({
  name: 'dfdaemon',
  drive: async () => {
    if (error) throw error;
  },
  ...extra,
});

test('a push transport that fails leaves its missing pieces to the origin, with a warning', async () => {
  const { s, log } = site(2);
  await deliverPieces(push(new Error('daemon down')), origin, task, sink, s, new AbortController().signal);
  assert.deepEqual(log, ['fallback from dfdaemon', 'pull source']);
});

test('nothing is pulled when the push transport delivered every piece', async () => {
  const { s, log } = site(0);
  await deliverPieces(push(), origin, task, sink, s, new AbortController().signal);
  assert.deepEqual(log, []);
});

test('a final error (the origin answered through the daemon) is the task’s error; the origin is not asked', async () => {
  const { s, log } = site(2);
  const final = new DaemonError('404 from origin', 5, { final: true });
  await assert.rejects(
    deliverPieces(push(final), origin, task, sink, s, new AbortController().signal),
    (e) => e === final,
  );
  assert.deepEqual(log, []);
});

test('back-to-source disabled: a failure is the task’s, and pieces left undone are a final DaemonError', async () => {
  const a = site(2);
  const err = new Error('daemon down');
  await assert.rejects(
    deliverPieces(push(err, { backToSource: false }), origin, task, sink, a.s, new AbortController().signal),
    (e) => e === err,
  );
  const b = site(1);
  await assert.rejects(
    deliverPieces(push(undefined, { backToSource: false }), origin, task, sink, b.s, new AbortController().signal),
    (e) => e instanceof DaemonError && e.final && /left 1 of 4 pieces, and back-to-source is disabled/.test(e.message),
  );
  assert.deepEqual([a.log, b.log], [[], []]);
});

test('a pull transport that gives up hands over to the origin; the origin giving up is final', async () => {
  const proxy: PieceTransport = { name: 'proxy', readPiece: async () => Readable.from([]) };
  const a = site(3, { proxy: new Error('proxy 502') });
  await deliverPieces(proxy, origin, task, sink, a.s, new AbortController().signal);
  assert.deepEqual(a.log, ['pull proxy', 'fallback from proxy', 'pull source']);
  const b = site(3, { source: new Error('registry down') });
  await assert.rejects(deliverPieces(origin, origin, task, sink, b.s, new AbortController().signal), /registry down/);
  assert.deepEqual(b.log, ['pull source']);
});

test('no origin and no pull transport: the task fails naming the pieces left', async () => {
  const { s } = site(2);
  await assert.rejects(
    deliverPieces(push(), undefined, task, sink, s, new AbortController().signal),
    (e) => e instanceof TaskFailedError && /left 2 pieces and no fallback is set/.test(e.message),
  );
});

test('a wrong blob from a cluster starts over from the origin; from the origin, or when forbidden or aborted, it does not', () => {
  const mismatch = new DigestMismatchError(`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`, 'blob');
  const live = new AbortController().signal;
  const aborted = AbortSignal.abort();
  assert.equal(restartsFromOrigin(push(), origin, mismatch, live), true);
  assert.equal(restartsFromOrigin(origin, origin, mismatch, live), false);
  assert.equal(restartsFromOrigin(push(undefined, { backToSource: false }), origin, mismatch, live), false);
  assert.equal(restartsFromOrigin(push(), origin, mismatch, aborted), false);
  assert.equal(restartsFromOrigin(push(), origin, new Error('other'), live), false);
});

test('a pull that returns with pieces still missing fails the task at once (the blob hash would wait for ever)', async () => {
  const s: DeliverySite = {
    taskId: 't',
    totalPieces: 4,
    missing: () => 1,
    pull: async () => {},
    onFallback: () => {},
  };
  await assert.rejects(
    deliverPieces(origin, undefined, task, sink, s, new AbortController().signal),
    (e: unknown) => e instanceof TaskFailedError && /1 of 4 pieces still missing after the pull/.test(e.message),
  );
});
