import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip, listBounded, quote, stripUserinfo } from '../../../src/core/describe.js';

test('quote renders any value in bounded space and never expands shared structures', () => {
  assert.equal(quote('abc'), '"abc"');
  assert.equal(quote('x'.repeat(1000)), `"${'x'.repeat(80)}"… (1000 characters)`);
  assert.equal(quote(42), '42');
  assert.equal(quote(null), 'null');
  assert.equal(quote(undefined), 'nothing');
  const shared = ['a', 'b'];
  const bomb = Array.from({ length: 9 }, () => Array.from({ length: 9 }, () => shared));
  assert.equal(quote(bomb), 'a list of 9 items');
  assert.equal(quote({ a: 1, b: 2 }), 'a mapping of 2 keys');
});

test('listBounded shows a few items and counts the rest; clip cuts and neutralises control characters', () => {
  assert.equal(listBounded(['a', 'b', 'c']), 'a, b, c');
  assert.equal(
    listBounded(
      Array.from({ length: 999 }, (_, i) => `p${i}`),
      2,
    ),
    'p0, p1 and 997 more',
  );
  assert.equal(clip('a\nb'), 'a?b');
  assert.equal(clip('abcdef', 3), 'abc…');
});

test('stripUserinfo removes user:password@ from URL-shaped text only', () => {
  assert.equal(stripUserinfo('oras://u:p@host/repo'), 'oras://host/repo');
  assert.equal(stripUserinfo('oras://host/repo@sha256:ab'), 'oras://host/repo@sha256:ab');
});
