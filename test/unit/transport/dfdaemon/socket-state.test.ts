import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { probeSocket, socketProblem } from '../../../../src/transport/dfdaemon/socket-state.js';
import { makeStaleSocket } from './stale-socket.js';

test('a refused, missing or forbidden socket is said in words, with what to do; other codes are left to the caller', () => {
  assert.equal(
    socketProblem('/run/d.sock', 'ECONNREFUSED'),
    'the Dragonfly daemon at /run/d.sock is not running (connection refused): start dfdaemon, or give the socket ' +
      'it listens on (download.server.socketPath in dfdaemon.yaml)',
  );
  assert.match(
    socketProblem('/run/d.sock', 'ENOENT')!,
    /^the Dragonfly daemon at \/run\/d\.sock is not running \(no socket there\): start dfdaemon/,
  );
  assert.match(
    socketProblem('/run/d.sock', 'EACCES')!,
    /at \/run\/d\.sock cannot be reached by this user \(permission denied\)/,
  );
  assert.equal(socketProblem('/run/d.sock', 'EMFILE'), undefined);
  assert.equal(socketProblem('/run/d.sock', undefined), undefined);
});

test("probeSocket: a dead daemon's socket is refused, a missing one is gone, a listening one is fine", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-sock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stale = path.join(dir, 'stale.sock');
  await makeStaleSocket(stale);
  assert.match(
    (await probeSocket(stale))!,
    /^the Dragonfly daemon at .*stale\.sock is not running \(connection refused\)/,
  );
  assert.match((await probeSocket(path.join(dir, 'none.sock')))!, /is not running \(no socket there\)/);
  const live = path.join(dir, 'live.sock');
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(live, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  assert.equal(await probeSocket(live), undefined);
});
