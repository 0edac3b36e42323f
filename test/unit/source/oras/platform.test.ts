import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentPlatform, ociArchitecture, ociOs, parsePlatform } from '../../../../src/source/oras/platform.js';
import { InvalidArgumentError } from '../../../../src/core/errors.js';

test('os/arch and os/arch/variant, as docker and oras write them', () => {
  assert.deepEqual(parsePlatform('linux/amd64', 'platform'), {
    os: 'linux',
    architecture: 'amd64',
  });
  assert.deepEqual(parsePlatform('linux/arm64/v8', 'platform'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
});

test('anything else is an InvalidArgumentError naming the field', () => {
  for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', '', 'linux/amd 64']) {
    assert.throws(
      () => parsePlatform(bad, 'oras.platform'),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'oras.platform',
      JSON.stringify(bad),
    );
  }
});

test('the running platform in OCI names', () => {
  assert.equal(ociArchitecture('x64'), 'amd64');
  assert.equal(ociArchitecture('ia32'), '386');
  assert.equal(ociOs('win32'), 'windows');
  assert.equal(ociOs('linux'), 'linux');
  assert.deepEqual(currentPlatform(), { os: ociOs(process.platform), architecture: ociArchitecture(process.arch) });
});
