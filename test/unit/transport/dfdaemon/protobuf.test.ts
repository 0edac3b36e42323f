import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asMapEntry,
  asNumber,
  asString,
  ProtoWriter,
  readFields,
  WIRE_LEN,
  WIRE_VARINT,
} from '../../../../src/transport/dfdaemon/protobuf.js';

test('varints, strings, bytes, maps and nested messages round-trip', () => {
  const inner = new ProtoWriter().uint(1, 300).string(2, 'x');
  const buf = new ProtoWriter()
    .uint(1, 2 ** 40)
    .string(2, 'héllo')
    .bytes(3, Buffer.from([0, 1, 2]))
    .stringMap(4, { a: '1' })
    .message(5, inner)
    .bool(6, true)
    .finish();
  const f = [...readFields(buf)];
  assert.deepEqual(
    f.map((x) => [x.field, x.wire]),
    [
      [1, WIRE_VARINT],
      [2, WIRE_LEN],
      [3, WIRE_LEN],
      [4, WIRE_LEN],
      [5, WIRE_LEN],
      [6, WIRE_VARINT],
    ],
  );
  assert.equal(asNumber(f[0]!), 2 ** 40);
  assert.equal(asString(f[1]!), 'héllo');
  assert.deepEqual([...f[2]!.bytes!], [0, 1, 2]);
  assert.deepEqual(asMapEntry(f[3]!), ['a', '1']);
  const nested = [...readFields(f[4]!.bytes!)];
  assert.equal(asNumber(nested[0]!), 300);
  assert.equal(asNumber(f[5]!), 1);
});

test('proto3 defaults are not written: zero, false, empty string (unless the field is optional)', () => {
  assert.equal(new ProtoWriter().uint(1, 0).bool(2, false).string(3, '').finish().length, 0);
  assert.equal([...readFields(new ProtoWriter().uint(1, 0, true).string(2, '', true).finish())].length, 2);
});

test('fixed-width fields of unknown numbers are skipped by size', () => {
  // field 9, wire 1 (8 bytes), then field 1 varint 5
  const buf = Buffer.from([0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 0x05]);
  const f = [...readFields(buf)];
  assert.equal(f.length, 1, 'the fixed64 field is skipped, not yielded');
  assert.equal(f[0]!.field, 1);
  assert.equal(asNumber(f[0]!), 5);
});
