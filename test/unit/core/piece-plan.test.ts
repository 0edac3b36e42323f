import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePieceSize, daemonPieceSize, planPieces, pieceAt } from '../../../src/core/piece-plan.js';

const MiB = 1024 * 1024;

test('piece sizes follow the Dragonfly table', () => {
  const table: Array<[number, number, number]> = [
    [200 * MiB, 4, 50],
    [205 * MiB, 4, 52],
    [299 * MiB, 4, 75],
    [300 * MiB, 5, 60],
    [310 * MiB, 5, 62],
    [552_562_021, 7, 76],
    [1_100_000_000, 12, 88],
    [1200 * MiB, 14, 86],
    [1300 * MiB, 15, 87],
    [3100 * MiB, 15, 207],
  ];
  for (const [len, mib, count] of table) {
    assert.equal(computePieceSize(len), mib * MiB, `size for ${len}`);
    assert.equal(planPieces(len).totalPieces, count, `count for ${len}`);
  }
});

test('exact multiples make no empty piece; an empty blob has none', () => {
  assert.equal(planPieces(8 * MiB).totalPieces, 2);
  assert.equal(planPieces(0).totalPieces, 0);
  const plan = planPieces(10 * MiB + 3);
  assert.equal(plan.totalPieces, 3);
  assert.deepEqual(pieceAt(plan, 2).range, { start: 8 * MiB, length: 2 * MiB + 3 });
});

test('invalid lengths and piece sizes are rejected', () => {
  assert.throws(() => planPieces(-1), /contentLength/);
  assert.throws(() => planPieces(10, 0), /pieceSize/);
});

test("daemonPieceSize is the Rust dfdaemon's rule: next power of two of 1/500 of the length, 4 to 64 MiB", () => {
  assert.equal(daemonPieceSize(0), 4 * MiB);
  assert.equal(daemonPieceSize(128 * MiB), 4 * MiB);
  assert.equal(daemonPieceSize(2048 * MiB), 8 * MiB); // 4.1 MiB → 8 MiB
  assert.equal(daemonPieceSize(4000 * MiB), 8 * MiB); // exactly 8 MiB
  assert.equal(daemonPieceSize(4001 * MiB), 16 * MiB);
  assert.equal(daemonPieceSize(100 * 1024 * MiB), 64 * MiB);
});
