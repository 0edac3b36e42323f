import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { taskId, parentTaskId, filterUrl, goEncodeQuery, hostIp, peerId, taskIdV2 } from '../../../src/core/task-id.js';

// Vectors from Dragonfly's pkg/idgen tests (Go client, v1 task ids).
test('task ids reproduce the Dragonfly test vectors', () => {
  assert.equal(taskId('https://example.com'), '100680ad546ce6a577f42f52df33b4cfdca756859e664b8d7de329b150d09ce9');
  assert.equal(
    taskId('https://example.com', { digest: 'bar', range: 'foo' }),
    'aeee0e0a2a0c75130582641353c539aaf9011a0088b31347f7588e70e449a3e0',
  );
  assert.equal(
    taskId('https://example.com', { digest: 'bar' }),
    '63dee2822037636b0109876b58e95692233840753a882afa69b9b5ee82a6c57d',
  );
  assert.equal(
    taskId('https://example.com', { tag: 'foo' }),
    '2773851c628744fb7933003195db436ce397c1722920696c4274ff804d86920b',
  );
  assert.equal(
    taskId('https://example.com?foo=foo&bar=bar', { filter: 'foo&bar', tag: 'foo' }),
    '2773851c628744fb7933003195db436ce397c1722920696c4274ff804d86920b',
  );
  const hex = 'a'.repeat(64);
  assert.equal(
    taskId(`oras://registry.example.com/library/lolcow:latest?digest=sha256%3A${hex}`, { digest: `sha256:${hex}` }),
    '6453b3bacd756ab51c22888eb390f07446ba3bee19ca5f8e08a3d4cf21f00cd9',
  );
});

test('tag and application partition tasks; the parent id drops the range', () => {
  const u = 'oras://h/r:t';
  assert.notEqual(taskId(u, { tag: 'x' }), taskId(u));
  assert.notEqual(taskId(u, { application: 'a' }), taskId(u));
  assert.equal(parentTaskId(u, { digest: 'd', range: '0-9' }), taskId(u, { digest: 'd' }));
});

test('filter re-encodes the remaining query like Go url.Values.Encode', () => {
  assert.equal(filterUrl('https://h/p?b=2&a=1&x=y z', 'x'), 'https://h/p?a=1&b=2');
  assert.equal(filterUrl('https://h/p?a=1', 'a'), 'https://h/p');
  assert.equal(
    goEncodeQuery([
      ['digest', 'sha256:ab'],
      ['a', '~ *'],
    ]),
    'a=~+%2A&digest=sha256%3Aab',
  );
});

test("hostIp is this host's first non-internal IPv4 address (as dfget's), else 127.0.0.1; peer ids start with it", () => {
  const first = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal);
  assert.equal(hostIp(), first?.address ?? '127.0.0.1');
  assert.ok(peerId().startsWith(`${hostIp()}-${process.pid}-`));
});

test('peer ids are ip-pid-uuid and unique', () => {
  const a = peerId();
  assert.match(a, new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+-${process.pid}-[0-9a-f-]{36}$`));
  assert.notEqual(a, peerId());
});

// The Rust dfdaemon's task ids, reproduced from upstream's own test vectors
// (dragonflyoss/client, dragonfly-client-util/src/id_generator/mod.rs and src/url/mod.rs tests).

test('v2 task ids match upstream vectors (URL-based, no revision)', () => {
  const vectors: Array<[string, Parameters<typeof taskIdV2>[1], string]> = [
    [
      'https://example.com',
      { tag: 'foo', application: 'bar' },
      '06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca',
    ],
    ['https://example.com', { tag: 'foo' }, '3c3f230ef9f191dd2821510346a7bc138e4894bee9aee184ba250a3040701d2a'],
    ['https://example.com', { application: 'bar' }, 'c9f9261b7305c24371244f9f149f5d4589ed601348fdf22d7f6f4b10658fdba2'],
    ['https://example.com', { pieceLength: 1024 }, '9f7c9aafbc6f30f8f41a96ca77eeae80c5b60964b3034b0ee43ccf7b2f9e52b8'],
    [
      'https://example.com?foo=foo&bar=bar',
      { filteredQueryParams: ['foo', 'bar'] },
      '457b4328cde278e422c9e243f7bfd1e97f511fec43a80f535cf6b0ef6b086776',
    ],
    [
      'https://example.com/file.txt?z=9&b=2&a=1',
      { tag: 'foo', application: 'bar', filteredQueryParams: ['z'] },
      '8b3f6e9b9b8fe20903bced565cfd1d0aaef354a4c17573f0c2c1979210443f9d',
    ],
    [
      'https://example.com/file.txt?b=2&a=1&b=1',
      { filteredQueryParams: ['c'] },
      '7c8801d0596be5e8f9449d5c4af23866c72fe5205119c0e5912981f3b16a37aa',
    ],
    [
      'https://example.com/file.txt?k=a b&m=x*y&n=c~d',
      { pieceLength: 1024, filteredQueryParams: ['none'] },
      '6196a6846023f6d3c1e4d30f6c86f3d4186e4c664a33e5692b0e04e49b26a9af',
    ],
    [
      'https://example.com/file.txt?a=1&b=2',
      { tag: 'foo', filteredQueryParams: ['a', 'b'] },
      'c8f4b41117329d54af920010394f6f607bac707e933ab2f18d372e3dd4c7fcb3',
    ],
    ['https://example.com/file.txt?b=2&a=1', {}, '980ee327518ccc5a7c30703e1a2232e8ba9047b39431f940636c85b6146f8b9a'],
  ];
  for (const [url, meta, want] of vectors) assert.equal(taskIdV2(url, meta), want, `${url} ${JSON.stringify(meta)}`);
});

test('query order does not matter once a key is filtered (the daemon sorts), and does when none is', () => {
  assert.equal(
    taskIdV2('https://r/x?b=2&a=1', { filteredQueryParams: ['z'] }),
    taskIdV2('https://r/x?a=1&b=2', { filteredQueryParams: ['z'] }),
  );
  assert.notEqual(taskIdV2('https://r/x?b=2&a=1'), taskIdV2('https://r/x?a=1&b=2'));
});
