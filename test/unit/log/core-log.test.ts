import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  CoreLogger,
  FileLogSink,
  formatLogTime,
  StreamLogSink,
  TeeLogSink,
  type LogRecord,
} from '../../../src/log/core-log.js';

test("formatLogTime is Dragonfly's zap layout in local time, with milliseconds", () => {
  const d = new Date(2026, 0, 2, 3, 4, 5, 6);
  assert.equal(formatLogTime(d), '2026-01-02 03:04:05.006');
});

test('a logger writes level, time, caller, message and its fields; with() adds fields without changing the parent', () => {
  const records: LogRecord[] = [];
  const log = new CoreLogger({ write: (r) => void records.push(r) }, { peer: 'p1' }, 'here.ts');
  const child = log.with({ task: 't1' });
  child.info('peer task done, cost: 12ms');
  log.warn('lock held');
  assert.equal(records.length, 2);
  const [a, b] = records as unknown as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(a['level'], 'info');
  assert.equal(a['msg'], 'peer task done, cost: 12ms');
  assert.equal(a['peer'], 'p1');
  assert.equal(a['task'], 't1');
  assert.equal(a['caller'], 'here.ts');
  assert.match(String(a['ts']), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  assert.equal(b['task'], undefined, "the parent did not get the child's field");
});

test('FileLogSink appends JSON lines to a 0600 file in a directory it creates; flush waits for the writes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-corelog-'));
  try {
    const file = path.join(dir, 'dfget', 'core.log');
    const sink = new FileLogSink(file);
    new CoreLogger(sink).info('one');
    new CoreLogger(sink).error('two');
    await sink.flush();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; level: string });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['info', 'one'],
        ['error', 'two'],
      ],
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('StreamLogSink writes one line per record; TeeLogSink writes to every sink', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d));
  const seen: LogRecord[] = [];
  const tee = new TeeLogSink([new StreamLogSink(out), { write: (r) => void seen.push(r) }]);
  new CoreLogger(tee).info('hello');
  assert.equal(seen.length, 1);
  assert.equal((JSON.parse(text.trim()) as { msg: string }).msg, 'hello');
  assert.ok(text.endsWith('\n'));
});
