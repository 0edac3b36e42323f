import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { optionsFromFlags } from '../../../src/cli/config.js';
import { defaultPaths } from '../../../src/cli/defaults.js';

test('defaults, then the config, then the flags, in that order of strength', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cli-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'cfg'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_STATE_HOME: path.join(dir, 'state'),
  };
  const io = { env, cwd: dir };
  const warnings: string[] = [];
  const bare = await optionsFromFlags({}, io, (l) => warnings.push(l));
  // The defaults are the user's (root gets Dragonfly's system paths).
  const d = defaultPaths(env);
  assert.equal(bare.storage.dataPath, d.dataDir);
  assert.equal(bare.logFile, path.join(d.logDir!, 'dfget', 'core.log'));
  mkdirSync(path.join(dir, 'cfg'), { recursive: true });
  const cfg = path.join(dir, 'cfg', 'dfget.yaml');
  writeFileSync(cfg, 'storage:\n  dataPath: /from/config\n  multiplex: false\nnonsense: 1\n');
  const fromConfig = await optionsFromFlags({ config: cfg }, io, (l) => warnings.push(l));
  assert.equal(fromConfig.storage.dataPath, '/from/config');
  assert.equal(fromConfig.storage.multiplex, false);
  assert.ok(warnings.some((w) => /warning: .*unknown key nonsense/.test(w)));
  const flagged = await optionsFromFlags({ config: cfg, dataDir: 'rel/store', logDir: '/logs' }, io, () => {});
  assert.equal(flagged.storage.dataPath, path.join(dir, 'rel', 'store'));
  assert.equal(flagged.logFile, path.join('/logs', 'dfget', 'core.log'));
});
