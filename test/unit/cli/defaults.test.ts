import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPaths } from '../../../src/cli/defaults.js';

test("root gets Dragonfly's system paths", () => {
  const p = defaultPaths({}, 0, '/root');
  assert.equal(p.dataDir, '/var/lib/dragonfly');
  assert.equal(p.logDir, '/var/log/dragonfly');
  assert.deepEqual(p.configCandidates, ['/etc/dragonfly/dfget.yaml']);
});

test('everyone else gets XDG paths, honouring the XDG variables', () => {
  const plain = defaultPaths({}, 1000, '/home/u');
  assert.equal(plain.dataDir, '/home/u/.local/share/orasfly');
  assert.equal(plain.logDir, '/home/u/.local/state/orasfly/logs');
  assert.deepEqual(plain.configCandidates, ['/home/u/.config/orasfly/dfget.yaml']);
  const xdg = defaultPaths({ XDG_DATA_HOME: '/d', XDG_STATE_HOME: '/s', XDG_CONFIG_HOME: '/c' }, 1000, '/home/u');
  assert.equal(xdg.dataDir, '/d/orasfly');
  assert.equal(xdg.logDir, '/s/orasfly/logs');
  assert.deepEqual(xdg.configCandidates, ['/c/orasfly/dfget.yaml']);
});
