import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DfdaemonTransport } from '../../../src/transport/dfdaemon-transport.js';
import { DEFAULT_DFDAEMON_SOCKET } from '../../../src/transport/dfdaemon/options.js';
import { DaemonError, InvalidArgumentError } from '../../../src/core/errors.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import type { PieceSink, TransportTask } from '../../../src/transport/piece-transport.js';
import { makeStaleSocket } from './dfdaemon/stale-socket.js';

const task: TransportTask = {
  taskId: 'a'.repeat(64),
  peerId: '127.0.0.1-1-x',
  target: { url: 'oras://r/x:v1', digest: `sha256:${'b'.repeat(64)}`, size: 10, mediaType: 'x' },
  plan: planPieces(10),
  origin: { request: async () => ({ url: 'http://r/v2/x/blobs/sha256:b', headers: {} }) },
};
const sink: PieceSink = { missing: () => [0], writePiece: async () => {} };

test("options are checked at construction; the default socket is the Rust dfdaemon's", () => {
  assert.equal(new DfdaemonTransport().socketPath, DEFAULT_DFDAEMON_SOCKET);
  assert.throws(() => new DfdaemonTransport({ delivery: 'carrier-pigeon' as never }), InvalidArgumentError);
  assert.throws(() => new DfdaemonTransport({ priority: 9 as never }), InvalidArgumentError);
  assert.throws(() => new DfdaemonTransport({ idleTimeout: 'soon' }), InvalidArgumentError);
  assert.throws(() => new DfdaemonTransport({ maxMessageBytes: 10 }), InvalidArgumentError);
});

test('a missing socket is a DaemonError: the origin may serve, unless back-to-source is disabled', async () => {
  const open = new DfdaemonTransport({ socketPath: '/nonexistent/dfdaemon.sock' });
  await assert.rejects(
    open.drive(task, sink),
    (e: unknown) => e instanceof DaemonError && !e.final && /no dfdaemon socket/.test(e.message),
  );
  const closed = new DfdaemonTransport({ socketPath: '/nonexistent/dfdaemon.sock', backToSource: false });
  await assert.rejects(
    closed.drive(task, sink),
    (e: unknown) => e instanceof DaemonError && e.final && /back-to-source is disabled/.test(e.message),
  );
});

test("a dead daemon's socket (connection refused) is said in words that name it, not in gRPC's", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-sock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'dfdaemon.sock');
  await makeStaleSocket(sock);
  const closed = new DfdaemonTransport({ socketPath: sock, backToSource: false });
  t.after(() => closed.close());
  await assert.rejects(closed.drive(task, sink), (e: unknown) => {
    assert.ok(e instanceof DaemonError && e.final);
    assert.equal(
      e.message,
      `the Dragonfly daemon at ${sock} is not running (connection refused): start dfdaemon, or give the socket it ` +
        'listens on (download.server.socketPath in dfdaemon.yaml); back-to-source is disabled',
    );
    return true;
  });
  const open = new DfdaemonTransport({ socketPath: sock });
  t.after(() => open.close());
  await assert.rejects(open.drive(task, sink), (e: unknown) => e instanceof DaemonError && !e.final);
});

test('a task whose client cannot describe the blob request is not sent to the daemon', async () => {
  const t = new DfdaemonTransport({ socketPath: '/nonexistent/dfdaemon.sock' });
  await assert.rejects(t.drive({ ...task, origin: undefined }, sink), /cannot describe the blob request/);
});
