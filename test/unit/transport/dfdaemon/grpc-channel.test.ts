// The daemon transport's gRPC over Node's HTTP/2 (src/transport/dfdaemon/grpc-channel.ts), against a
// real gRPC server (grpc-js's) on a unix socket: answers in order, statuses with their messages and
// details, deadlines, cancellation seen by the server, a dead socket, an oversized message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { GRPC, GrpcCallError, GrpcChannel } from '../../../../src/transport/dfdaemon/grpc-channel.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-grpc-'));
const socketPath = path.join(dir, 'g.sock');
let server: grpc.Server;
let cancelled = 0;
let cancelledSeen: () => void = () => {};

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (name: string, responseStream: boolean) => ({
  path: `/t.T/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});

before(async () => {
  server = new grpc.Server();
  server.addService(
    {
      Echo: method('Echo', false),
      Count: method('Count', true),
      Fail: method('Fail', false),
      Hang: method('Hang', true),
      Big: method('Big', true),
    },
    {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
      // As many messages as the request's first byte, each its number, then OK.
      Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 0; i < call.request[0]!; i++) call.write(Buffer.from([i]));
        call.end();
      },
      Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const metadata = new grpc.Metadata();
        metadata.set('grpc-status-details-bin', Buffer.from('{"status_code":404}'));
        cb({ code: grpc.status.INTERNAL, details: 'backend said 404 — not found', metadata });
      },
      // Three messages of 1 MiB + 1, 7 and 300 KiB bytes: each arrives in many HTTP/2 frames.
      Big: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (const n of [2 ** 20 + 1, 7, 300 * 1024]) call.write(pattern(n));
        call.end();
      },
      // One message, then nothing until the client goes away.
      Hang: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        call.write(Buffer.alloc(call.request[0] === 1 ? 2048 : 1, 7));
        call.on('cancelled', () => {
          cancelled++;
          cancelledSeen();
        });
      },
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
});
after(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + n) & 0xff;
  return b;
}

async function all(stream: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

test('a unary call answers; a server stream yields its messages in order, then ends', async () => {
  const ch = new GrpcChannel(socketPath, 1024);
  try {
    assert.equal((await ch.unary('/t.T/Echo', Buffer.from('hi'), { timeoutMs: 5000 })).toString(), 'echo:hi');
    const got = await all(ch.serverStream('/t.T/Count', Buffer.from([5])));
    assert.deepEqual(
      got.map((b) => b[0]),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(await all(ch.serverStream('/t.T/Count', Buffer.from([0]))), [], 'no message, status OK');
  } finally {
    ch.close();
  }
});

test('messages larger than a frame are put together whole, in order, whatever the chunks', async () => {
  const ch = new GrpcChannel(socketPath, 4 * 2 ** 20);
  try {
    const got = await all(ch.serverStream('/t.T/Big', Buffer.alloc(0)));
    assert.deepEqual(
      got.map((b) => b.length),
      [2 ** 20 + 1, 7, 300 * 1024],
    );
    for (const b of got) assert.ok(b.equals(pattern(b.length)));
  } finally {
    ch.close();
  }
});

test('a status is a GrpcCallError with its code, its message decoded and its binary details', async () => {
  const ch = new GrpcChannel(socketPath, 1024);
  try {
    await assert.rejects(ch.unary('/t.T/Fail', Buffer.alloc(0), { timeoutMs: 5000 }), (e: unknown) => {
      assert.ok(e instanceof GrpcCallError);
      assert.equal(e.code, GRPC.INTERNAL);
      assert.equal(e.details, 'backend said 404 — not found');
      assert.equal(e.statusDetails?.toString(), '{"status_code":404}');
      return true;
    });
    await assert.rejects(
      ch.unary('/t.T/Nope', Buffer.alloc(0), { timeoutMs: 5000 }),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.UNIMPLEMENTED,
    );
  } finally {
    ch.close();
  }
});

test('a deadline ends a unary call with DEADLINE_EXCEEDED; the server sees it go', async () => {
  const ch = new GrpcChannel(socketPath, 1024);
  const seen = new Promise<void>((resolve) => (cancelledSeen = resolve));
  try {
    await assert.rejects(
      ch.unary('/t.T/Hang', Buffer.from([0]), { timeoutMs: 100 }),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.DEADLINE_EXCEEDED,
    );
    await seen;
  } finally {
    ch.close();
  }
});

test('cancel() and a reader that stops early both end the call, and the server sees it cancelled', async () => {
  const ch = new GrpcChannel(socketPath, 1024);
  try {
    const before = cancelled;
    let seen = new Promise<void>((resolve) => (cancelledSeen = resolve));
    const call = ch.serverStream('/t.T/Hang', Buffer.from([0]));
    const it = call[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.length, 1);
    call.cancel();
    await assert.rejects(it.next(), (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.CANCELLED);
    await seen;
    seen = new Promise<void>((resolve) => (cancelledSeen = resolve));
    for await (const m of ch.serverStream('/t.T/Hang', Buffer.from([0]))) {
      assert.equal(m.length, 1);
      break;
    }
    await seen;
    assert.equal(cancelled, before + 2);
  } finally {
    ch.close();
  }
});

test('a message larger than the limit ends the call with INTERNAL (not RESOURCE_EXHAUSTED, which means busy)', async () => {
  const ch = new GrpcChannel(socketPath, 1024);
  try {
    await assert.rejects(
      all(ch.serverStream('/t.T/Hang', Buffer.from([1]))),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.INTERNAL && /2048 bytes/.test(e.details),
    );
  } finally {
    ch.close();
  }
});

test('nobody listening on the socket is UNAVAILABLE, for a unary call and a stream', async () => {
  const ch = new GrpcChannel(path.join(dir, 'nobody.sock'), 1024);
  try {
    await assert.rejects(
      ch.unary('/t.T/Echo', Buffer.alloc(0), { timeoutMs: 5000 }),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.UNAVAILABLE,
    );
    await assert.rejects(
      all(ch.serverStream('/t.T/Count', Buffer.from([1]))),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.UNAVAILABLE,
    );
  } finally {
    ch.close();
  }
});

test('a stream that ends without a gRPC status is an error, not a success', async (t) => {
  const http2 = await import('node:http2');
  const sock = path.join(dir, 'no-status.sock');
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    // One whole message (5-byte prefix, then 1 byte), then the end of the stream, with no trailers.
    stream.end(Buffer.from([0, 0, 0, 0, 1, 42]));
  });
  server.listen(sock);
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  const ch = new GrpcChannel(sock, 1024);
  try {
    await assert.rejects(
      all(ch.serverStream('/t.T/Count', Buffer.from([1]))),
      (e: unknown) => e instanceof GrpcCallError && e.code === GRPC.INTERNAL && /without a gRPC status/.test(e.details),
    );
  } finally {
    ch.close();
  }
});
