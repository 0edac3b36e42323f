// orasfly's hand-written dfdaemon codec against protobufjs (through @grpc/proto-loader's
// dependency) loading the upstream-numbered .proto subsets in test/fixtures/proto: two independent
// encoders must agree, field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import protobuf from 'protobufjs';
import {
  decodeDownloadTaskResponse,
  decodeHealthCheckStatus,
  encodeDownloadTaskRequest,
  encodeHealthCheckRequest,
  parseBackendDetails,
} from '../../../../src/transport/dfdaemon/messages.js';
import { ProtoDecodeError, readFields } from '../../../../src/transport/dfdaemon/protobuf.js';
import { fixturePath } from '../../../harness/paths.js';

const dir = fixturePath('proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/') ? target : path.join(dir, target));
root.loadSync(['dfdaemon.proto', 'health.proto'], { keepCase: true });
const Req = root.lookupType('dfdaemon.v2.DownloadTaskRequest');
const Res = root.lookupType('dfdaemon.v2.DownloadTaskResponse');
const HealthRes = root.lookupType('grpc.health.v1.HealthCheckResponse');
const HealthReq = root.lookupType('grpc.health.v1.HealthCheckRequest');

test('DownloadTaskRequest: every field orasfly sets decodes under upstream numbers', () => {
  const bytes = encodeDownloadTaskRequest({
    url: 'https://r.example/v2/a/b/blobs/sha256:00',
    digest: 'sha256:00',
    tag: 't',
    application: 'app',
    priority: 3,
    filteredQueryParams: ['X-Amz-Signature', 'Expires'],
    requestHeader: { authorization: 'Bearer abc', 'x-extra': 'v' },
    pieceLength: 4 * 2 ** 20,
    outputPath: '/data/.dfdaemon-1.tmp',
    timeoutMs: 90_500,
    disableBackToSource: true,
    needPieceContent: true,
  });
  const d = Req.toObject(Req.decode(bytes), { longs: Number, enums: Number, defaults: false }).download as Record<
    string,
    unknown
  >;
  assert.deepEqual(d, {
    url: 'https://r.example/v2/a/b/blobs/sha256:00',
    digest: 'sha256:00',
    tag: 't',
    application: 'app',
    priority: 3,
    filtered_query_params: ['X-Amz-Signature', 'Expires'],
    request_header: { authorization: 'Bearer abc', 'x-extra': 'v' },
    piece_length: 4 * 2 ** 20,
    output_path: '/data/.dfdaemon-1.tmp',
    timeout: { seconds: 90, nanos: 500_000_000 },
    disable_back_to_source: true,
    need_piece_content: true,
  });
});

test('DownloadTaskRequest: unset fields stay off the wire (proto3 defaults)', () => {
  const d = Req.toObject(Req.decode(encodeDownloadTaskRequest({ url: 'http://r/v2/x/blobs/sha256:1' })), {
    defaults: false,
  }) as { download: Record<string, unknown> };
  assert.deepEqual(d.download, { url: 'http://r/v2/x/blobs/sha256:1' });
});

test('DownloadTaskResponse: started and piece messages encoded by protobufjs decode the same', () => {
  const content = Buffer.from('piece bytes');
  const started = Res.encode(
    Res.fromObject({
      host_id: 'h',
      task_id: 't',
      peer_id: 'p',
      download_task_started_response: {
        content_length: 5 * 2 ** 32,
        is_finished: true,
        response_header: { etag: 'x' },
        pieces: [{ number: 1, offset: 2, length: 3, digest: 'crc32:1' }],
      },
    }),
  ).finish();
  const s = decodeDownloadTaskResponse(Buffer.from(started));
  assert.equal(s.taskId, 't');
  assert.deepEqual(s.started, {
    contentLength: 5 * 2 ** 32,
    isFinished: true,
    responseHeader: { etag: 'x' },
  });
  const piece = Res.encode(
    Res.fromObject({
      task_id: 't',
      download_piece_finished_response: {
        piece: {
          number: 7,
          parent_id: 'peer',
          offset: 7 * 2 ** 22,
          length: 2 ** 22,
          digest: 'crc32:2',
          content,
          traffic_type: 1,
        },
      },
    }),
  ).finish();
  const p = decodeDownloadTaskResponse(Buffer.from(piece)).piece!;
  assert.equal(p.number, 7);
  assert.equal(p.parentId, 'peer');
  assert.equal(p.offset, 7 * 2 ** 22);
  assert.equal(p.length, 2 ** 22);
  assert.equal(p.trafficType, 1);
  assert.ok(p.content!.equals(content));
});

test('health check messages, both ways', () => {
  assert.deepEqual(HealthReq.toObject(HealthReq.decode(encodeHealthCheckRequest('dfdaemon'))), { service: 'dfdaemon' });
  assert.equal(decodeHealthCheckStatus(Buffer.from(HealthRes.encode(HealthRes.fromObject({ status: 1 })).finish())), 1);
  assert.equal(decodeHealthCheckStatus(Buffer.alloc(0)), 0, 'an empty message is UNKNOWN (0)');
});

test('malformed bytes are a ProtoDecodeError, not a crash or a hang', () => {
  assert.throws(() => [...readFields(Buffer.from([0x0a, 0x05, 0x01]))], ProtoDecodeError, 'a length past the end');
  assert.throws(
    () => [...readFields(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))],
    ProtoDecodeError,
    'an 11-byte varint',
  );
  assert.throws(() => [...readFields(Buffer.from([0x0b]))], ProtoDecodeError, 'a group (wire type 3)');
  // A started response claiming 2^64-1 bytes: refused, not rounded.
  const inner = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.throws(() => decodeDownloadTaskResponse(Buffer.from([0x22, inner.length, ...inner])), /larger than 2\^53/);
});

test('Backend details: JSON with a status code is read; anything else is ignored', () => {
  assert.deepEqual(
    parseBackendDetails(
      Buffer.from(JSON.stringify({ message: 'not found', header: { a: 'b', n: 1 }, status_code: 404 })),
    ),
    { message: 'not found', header: { a: 'b' }, statusCode: 404 },
  );
  assert.equal(
    parseBackendDetails(Buffer.from('\x08\x0d')),
    undefined,
    'a protobuf google.rpc.Status is not Backend JSON',
  );
  assert.equal(parseBackendDetails(Buffer.from(JSON.stringify({ status_code: 99999 }))), undefined);
  assert.equal(parseBackendDetails(undefined), undefined);
});
