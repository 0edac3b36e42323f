import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createPieceHasher, pieceDigestDiffers, pieceSign } from '../../../src/storage/piece-digest.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

test("crc32 is the IEEE CRC-32 as 8 lowercase hex digits; md5 is Dragonfly's md5:<hex>", () => {
  const crc = createPieceHasher('crc32');
  crc.update(Buffer.from('123456789'));
  assert.equal(crc.digest(), 'crc32:cbf43926'); // the standard check value
  const md5 = createPieceHasher('md5');
  md5.update(Buffer.from('ab'));
  md5.update(Buffer.from('c'));
  assert.equal(md5.digest(), `md5:${createHash('md5').update('abc').digest('hex')}`);
});

test('pieceSign is the sha256 of the concatenated digests, "" for none; an unknown algorithm is refused', () => {
  assert.equal(pieceSign([]), '');
  assert.equal(
    pieceSign(['crc32:00000001', 'crc32:00000002']),
    createHash('sha256').update('0000000100000002').digest('hex'),
  );
  assert.throws(() => createPieceHasher('sha1' as never), InvalidArgumentError);
});

test("pieceDigestDiffers reads a daemon's decimal crc32 and hex alike, and never condemns what it cannot compare", () => {
  const ours = 'crc32:deadbeef'; // 3735928559
  assert.equal(pieceDigestDiffers('crc32:3735928559', ours), false);
  assert.equal(pieceDigestDiffers('crc32:DEADBEEF', ours), false);
  assert.equal(pieceDigestDiffers('crc32:3735928558', ours), true);
  assert.equal(pieceDigestDiffers('crc32:00000001', ours), true);
  assert.equal(pieceDigestDiffers('md5:0123', ours), false, 'another algorithm');
  assert.equal(pieceDigestDiffers('crc32:not-a-number', ours), false);
  assert.equal(pieceDigestDiffers('garbage', ours), false);
  // Eight decimal digits also read as hex: either reading may match.
  assert.equal(pieceDigestDiffers('crc32:12345678', 'crc32:12345678'), false);
  assert.equal(pieceDigestDiffers('crc32:12345678', 'crc32:00bc614e'), false);
  assert.equal(pieceDigestDiffers(`md5:${'a'.repeat(32)}`, `md5:${'b'.repeat(32)}`), true);
});
