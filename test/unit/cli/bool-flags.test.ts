import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeBooleanValues } from '../../../src/cli/bool-flags.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

const BOOLS = new Set(['console', 'plain-http', 'insecure']);

test('pflag values on boolean flags are taken out; the last occurrence decides; others are left alone', () => {
  const r = takeBooleanValues(
    ['--console=true', 'oras://h/a:t', '--plain-http=false', '--insecure', '--insecure=F', '-O', 'x', '--tag=true'],
    BOOLS,
  );
  assert.deepEqual(r.argv, ['oras://h/a:t', '--insecure', '-O', 'x', '--tag=true']);
  assert.deepEqual(Object.fromEntries(r.last), { console: true, 'plain-http': false, insecure: false });
  // After `--`, nothing is a flag.
  assert.deepEqual(takeBooleanValues(['--', '--console=false'], BOOLS).argv, ['--', '--console=false']);
});

test('a value that is not a boolean is an error naming the flag', () => {
  assert.throws(
    () => takeBooleanValues(['--console=maybe'], BOOLS),
    (e: unknown) =>
      e instanceof InvalidArgumentError && /"maybe" for --console: a boolean flag takes true or false/.test(e.message),
  );
});
