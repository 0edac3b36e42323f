import { test } from 'node:test';
import assert from 'node:assert/strict';
import { taskId, parentTaskId, filterUrl, goEncodeQuery, peerId } from '../../../src/conductor/task-id.js';

// Vectors from Dragonfly's pkg/idgen tests (dragonfly-reference.md §3.1).
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

test('peer ids are ip-pid-uuid and unique', () => {
  const a = peerId();
  assert.match(a, new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+-${process.pid}-[0-9a-f-]{36}$`));
  assert.notEqual(a, peerId());
});
