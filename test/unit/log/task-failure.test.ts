import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dragonflyCode, logTaskFailure } from '../../../src/log/task-failure.js';
import { CoreLogger, type LogRecord } from '../../../src/log/core-log.js';
import { InvalidArgumentError, RegistryResponseError, TaskFailedError } from '../../../src/core/errors.js';

test("Dragonfly's code: the task's own, 4008 for a registry answer, 4000 for anything else", () => {
  assert.equal(dragonflyCode(new TaskFailedError('t', 4004, 'gone')), 4004);
  assert.equal(dragonflyCode(new RegistryResponseError({ method: 'GET', url: 'u', status: 404 })), 4008);
  assert.equal(dragonflyCode(new InvalidArgumentError('x', 'y')), 4000);
  assert.equal(dragonflyCode('a string'), 4000);
});

test('one failure line, with the fields of the logger it is given', () => {
  const lines: LogRecord[] = [];
  const log = new CoreLogger({ write: (r) => lines.push(r) }).with({ task: 'abc' });
  logTaskFailure(log, new RegistryResponseError({ method: 'GET', url: 'u', status: 500 }));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'error');
  assert.equal(lines[0]!.task, 'abc');
  assert.match(lines[0]!.msg, /^peer task failed, code: 4008, reason: GET u → 500/);
});
