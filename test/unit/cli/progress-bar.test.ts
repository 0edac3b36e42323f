import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ProgressBar, formatEta } from '../../../src/cli/progress-bar.js';

test('the progress bar shows bytes, percent, rate and ETA and ends its line', () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = '';
  (stream as unknown as PassThrough).on('data', (d: Buffer) => (text += d));
  const bar = new ProgressBar(stream);
  bar.update(512 * 1024 * 1024, 1024 * 1024 * 1024);
  bar.stop();
  assert.match(text, /\r\[=+> +\] {2}50% 512\.0 MiB\/1\.0 GiB .+\/s ETA \S+/);
  assert.ok(text.endsWith('\n'));
  assert.equal(formatEta(3723), '1h02m03s');
  assert.equal(formatEta(65), '1m05s');
  assert.equal(formatEta(Number.NaN), '--');
});

test('a bar that never saw progress draws nothing when stopped', () => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  let text = '';
  (stream as unknown as PassThrough).on('data', (d: Buffer) => (text += d));
  const bar = new ProgressBar(stream);
  bar.start();
  bar.stop();
  assert.equal(text, '');
});
