/**
 * The `orasfly` CLI against a hostile registry: every scenario of `startHostileRegistry()` must
 * fail cleanly — exit code 1 in bounded time, one JSON result with a stable `ERR_ORASFLY_*` code
 * and a short message, the pre-existing output untouched, no task left in the store, no secret in
 * any output or log — and the store must still serve a normal pull afterwards.
 *
 * Each scenario gets its own store, so a failure is the scenario's own; scenarios run a few at a
 * time (most of the time is spent waiting on timeouts and back-offs, not on the CPU).
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile, lstat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startHostileRegistry, type HostileScenario } from '../../harness/index.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import {
  clip,
  dockerConfigSecrets,
  filesUnder,
  killLiveChildren,
  lastJsonLine,
  namesIn,
  runCli,
  sha256File,
} from './helpers.js';

/** The safety net: a run still going after this is killed, and the scenario fails. */
const KILL_AFTER_MS = 30_000;
/** Scenarios run at the same time. */
const CONCURRENCY = 4;
const MAX_MESSAGE = 2000;
const CODE_RE = /^ERR_ORASFLY_[A-Z_]+$/;
/** What the output path holds before every hostile pull; it must survive byte for byte. */
const PRE_EXISTING = Buffer.concat([
  Buffer.from('pre-existing output: a failed pull must leave these bytes alone\n'),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
]);

const reg = await startHostileRegistry();
const root = await mkdtemp(path.join(os.tmpdir(), 'orasfly-hostile-'));
after(async () => {
  killLiveChildren();
  await reg.close();
  await rm(root, { recursive: true, force: true, maxRetries: 10 });
});

/** The child's whole environment: nothing of the developer's (home, docker config, proxies, DEBUG). */
function childEnv(dir: string, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(?:https?_proxy|all_proxy|no_proxy|debug|docker_config|xdg_.*|node_debug)$/i.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(dir, 'xdg', 'data'),
    XDG_STATE_HOME: path.join(dir, 'xdg', 'state'),
    XDG_CACHE_HOME: path.join(dir, 'xdg', 'cache'),
    DOCKER_CONFIG: path.join(dir, 'no-docker'),
    ...extra,
  };
}

/**
 * Problems with the store after a failed pull: a task entry that is not a resumable partial one
 * (verified pieces are kept; nothing is ever completed from a hostile answer), or files in `.index`.
 */
async function storeProblems(store: string): Promise<string[]> {
  const problems: string[] = [];
  const tasks = (await namesIn(store)).filter((n) => !n.startsWith('.'));
  if (tasks.length > 0) {
    const s = await StorageManager.open({ dataPath: store }, { gcTimer: false });
    const notPartial = (await s.list()).filter((e) => e.state !== 'partial');
    await s.close();
    if (notPartial.length > 0)
      problems.push(
        `store has entries other than resumable partial ones after the failure: ${notPartial.map((e) => `${e.taskId} (${e.state})`).join(', ')}`,
      );
  }
  const indexed = await filesUnder(path.join(store, '.index'));
  if (indexed.length > 0)
    problems.push(
      `store .index holds files after the failure: ${indexed.map((f) => path.relative(store, f)).join(', ')}`,
    );
  return problems;
}

interface Outcome {
  problems: string[];
  summary: string;
}

/** Runs one hostile scenario in `dir` and lists everything that is wrong with how it failed. */
async function runScenario(s: HostileScenario, dir: string, store: string, logs: string): Promise<Outcome> {
  const outDir = path.join(dir, 'out');
  const out = path.join(outDir, 'out.sif');
  const cfg = path.join(dir, 'dfget.yaml');
  await mkdir(outDir, { recursive: true });
  await mkdir(path.join(dir, 'home'), { recursive: true });
  await writeFile(out, PRE_EXISTING);
  await writeFile(cfg, s.config ?? '');
  const env = childEnv(dir, s.env);
  const args = [
    '-u',
    reg.ref(s.name),
    '-O',
    out,
    '--datadir',
    store,
    '--logdir',
    logs,
    '--plain-http',
    '--json',
    '--config',
    cfg,
    ...(s.args ?? []),
  ];
  const r = await runCli(args, env, KILL_AFTER_MS);
  const problems: string[] = [];

  // 1. exit code 1, in bounded time
  if (r.killed) problems.push(`still running after ${KILL_AFTER_MS} ms: killed`);
  else if (r.code !== 1) problems.push(`exit code ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}, expected 1`);
  if (!r.killed && s.maxMs !== undefined && r.ms > s.maxMs)
    problems.push(`took ${r.ms} ms, more than the ${s.maxMs} ms this failure may take`);

  // 2. one JSON result line: success false, a stable code, a short message
  const result = lastJsonLine(r.stdout) as
    { success?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  let codeSeen = '-';
  let messageSeen = '';
  if (typeof result !== 'object' || result === null) {
    problems.push(
      `stdout's last line is not JSON: ${JSON.stringify(clip(r.stdout.trimEnd().split('\n').at(-1) ?? '', 300))}`,
    );
  } else {
    if (result.success !== false) problems.push(`success is ${JSON.stringify(result.success)}, expected false`);
    const c = result.error?.code;
    const m = result.error?.message;
    codeSeen = typeof c === 'string' ? c : JSON.stringify(c);
    if (typeof c !== 'string' || !CODE_RE.test(c))
      problems.push(`error.code ${JSON.stringify(c)} is not an ERR_ORASFLY_* code`);
    else if (s.expectCode && !s.expectCode.test(c)) problems.push(`error.code ${c} does not match ${s.expectCode}`);
    if (typeof m !== 'string' || m.trim() === '')
      problems.push(`error.message is empty or not a string: ${JSON.stringify(m)}`);
    else {
      messageSeen = m;
      if (m.length >= MAX_MESSAGE)
        problems.push(`error.message has ${m.length} chars (limit ${MAX_MESSAGE}): ${clip(m, 200)}`);
      if (s.expectMessage && !s.expectMessage.test(m))
        problems.push(`error.message does not match ${s.expectMessage}: ${clip(m, 300)}`);
    }
  }

  // 3. the pre-existing output is untouched, and nothing else is in its directory
  try {
    const st = await lstat(out);
    if (!st.isFile()) problems.push('the output path is no longer a regular file');
    else if (!(await readFile(out)).equals(PRE_EXISTING)) problems.push('the pre-existing output was modified');
  } catch (e) {
    problems.push(`the pre-existing output is gone: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const others = (await namesIn(outDir)).filter((n) => n !== 'out.sif');
  if (others.length > 0) problems.push(`the output directory holds other files: ${others.join(', ')}`);

  // 4. no task left in the store
  problems.push(...(await storeProblems(store)));

  // 5. no secret anywhere
  const secrets = [...new Set([...(s.secrets ?? []), ...(await dockerConfigSecrets(env['DOCKER_CONFIG']))])];
  if (secrets.length > 0) {
    const places: Array<[string, string]> = [
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ];
    for (const f of await filesUnder(logs)) places.push([path.relative(dir, f), await readFile(f, 'utf8')]);
    for (const [where, text] of places) {
      const leaked = secrets.filter((x) => text.includes(x));
      // Never print the secret itself: its position in the list is enough to find it.
      if (leaked.length > 0)
        problems.push(
          `${where} contains ${leaked.length} secret value(s) (#${leaked.map((x) => secrets.indexOf(x)).join(', #')})`,
        );
    }
  }

  // The fixture's side: no blob request for a malformed digest of this scenario.
  const badBlobPaths = reg.requests
    .filter((q) => q.scenario === s.name && q.kind === 'blob' && !/\/blobs\/sha256:[a-f0-9]{64}(?:\?|$)/.test(q.path))
    .map((q) => q.path);
  if (badBlobPaths.length > 0) problems.push(`the client requested malformed blob paths: ${badBlobPaths.join(', ')}`);

  if (problems.length > 0)
    problems.push(`(stdout: ${clip(r.stdout.trimEnd(), 800)} | stderr: ${clip(r.stderr.trimEnd(), 800)})`);
  return {
    problems,
    summary: `${r.killed ? 'killed' : `exit ${r.code}`} in ${r.ms} ms, ${codeSeen}: ${clip(messageSeen.replace(/\s+/g, ' '), 240)}`,
  };
}

/** A normal pull of `hostile/good:t` into `store` and a fresh output path; lists what went wrong. */
async function goodPull(dir: string, store: string, logs: string): Promise<string[]> {
  const outDir = path.join(dir, 'good-out');
  const out = path.join(outDir, 'good.sif');
  const cfg = path.join(dir, 'good-dfget.yaml');
  await writeFile(cfg, '');
  const r = await runCli(
    ['-u', reg.good.ref, '-O', out, '--datadir', store, '--logdir', logs, '--plain-http', '--json', '--config', cfg],
    childEnv(dir),
    KILL_AFTER_MS,
  );
  const problems: string[] = [];
  if (r.killed) problems.push(`good pull: still running after ${KILL_AFTER_MS} ms: killed`);
  else if (r.code !== 0)
    problems.push(
      `good pull: exit code ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}, expected 0: ${clip(r.stdout.trimEnd(), 600)} ${clip(r.stderr.trimEnd(), 600)}`,
    );
  const result = lastJsonLine(r.stdout) as { success?: unknown; digest?: unknown } | undefined;
  if (result?.success !== true) problems.push(`good pull: result is not success: ${clip(r.stdout.trimEnd(), 400)}`);
  else if (result.digest !== reg.good.digest)
    problems.push(`good pull: result digest ${JSON.stringify(result.digest)}, expected ${reg.good.digest}`);
  try {
    const digest = await sha256File(out);
    if (digest !== reg.good.digest)
      problems.push(`good pull: the file hashes to ${digest}, expected ${reg.good.digest}`);
  } catch (e) {
    problems.push(`good pull: no output file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return problems;
}

const areas = [...new Set(reg.scenarios.map((s) => s.area))];

test('the hostile registry has at least 40 scenarios in every area, with unique names', () => {
  assert.ok(reg.scenarios.length >= 40, `${reg.scenarios.length} scenarios`);
  assert.equal(new Set(reg.scenarios.map((s) => s.name)).size, reg.scenarios.length);
  for (const area of ['manifest', 'blob', 'auth', 'headers', 'config'] as const)
    assert.ok(areas.includes(area), `no ${area} scenario`);
});

describe(
  'hostile registry: every scenario fails cleanly, and the store still works',
  { concurrency: CONCURRENCY },
  () => {
    for (const s of reg.scenarios) {
      test(`${s.area} / ${s.name}: ${s.description}`, { timeout: 3 * KILL_AFTER_MS }, async (t) => {
        const dir = await mkdtemp(path.join(root, `${s.name}-`));
        t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
        const store = path.join(dir, 'store');
        const logs = path.join(dir, 'logs');
        const { problems, summary } = await runScenario(s, dir, store, logs);
        t.diagnostic(summary);
        // 6. the same store serves a normal pull afterwards (after every scenario: cheap, and it
        // pins any damage on the scenario that did it).
        problems.push(...(await goodPull(dir, store, logs)));
        if (problems.length > 0) assert.fail(`${s.name}:\n  - ${problems.join('\n  - ')}`);
      });
    }
  },
);

test('the client never requested a path outside the registry API (e.g. a normalised traversal)', () => {
  const unknown = reg.requests.filter((q) => q.kind === 'unknown').map((q) => `${q.method} ${q.path}`);
  assert.deepEqual(unknown, []);
});
