/**
 * `orasfly cache list | verify | gc | clean`: the task store from the command line, as
 * `apptainer cache list/clean` users expect, with `--json` for scripts.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes } from '../core/units.js';
import { errorKind, InvalidArgumentError, OrasflyError } from '../core/errors.js';
import type { CacheEntryInfo } from '../storage/storage-manager.js';
import { optionsFromFlags } from './config.js';
import { friendlyParseError, refuseEmptyPaths } from './args.js';

/** `--help` of `orasfly cache`. */
export const CACHE_USAGE = `Usage: orasfly cache <command> [flags] [REF|DIGEST|TASKID ...]

Inspect and clean the task store.

commands:
  list                  every entry: task id, reference, digest, size, last access, links, state
  verify [--dry-run]    re-hash complete entries; remove corrupt or changed ones, and
                        those whose metadata cannot be read (--dry-run: only report them)
  gc [--dry-run]        run a GC round now (taskExpireTime, diskGCThreshold, diskGCThresholdPercent)
  clean [--dry-run] (--all | REF|DIGEST|TASKID ...)
                        remove the named entries (the short task ids and digests 'list'
                        prints name them too), or every entry with --all; never one in
                        use. A name that matches nothing is an error (exit 1)

flags:
      --config FILE     dfget.yaml (default as for downloads)
      --datadir DIR     task store (--cachedir is the same flag)
      --logdir DIR      logs
      --json            print one JSON object
  -h, --help            this help
`;

const COMMANDS = new Set(['list', 'verify', 'gc', 'clean']);

const CACHE_OPTIONS = {
  config: { type: 'string' },
  datadir: { type: 'string' },
  // dfget's name for it, as the download command accepts.
  cachedir: { type: 'string' },
  logdir: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `orasfly cache …` (argv after `cache`); returns the exit code. */
export async function runCacheCommand(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv; cwd: string },
  signal?: AbortSignal,
): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  // A usage error is text on stderr, and with --json also the JSON object a script reads on stdout.
  const usageError = (message: string): number => {
    if (argv.includes('--json'))
      out(JSON.stringify({ success: false, error: { message, code: 'ERR_ORASFLY_INVALID_ARGUMENT', kind: 'usage' } }));
    io.stderr.write(`Error: ${message}\nRun 'orasfly cache --help' for usage.\n`);
    return 1;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: CACHE_OPTIONS });
  } catch (e) {
    return usageError(friendlyParseError(e as Error, CACHE_OPTIONS));
  }
  try {
    refuseEmptyPaths(parsed.values, ['config', 'datadir', 'cachedir', 'logdir']);
  } catch (e) {
    return usageError((e as Error).message);
  }
  const [command, ...selectors] = parsed.positionals;
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(CACHE_USAGE);
    return 0;
  }
  if (command === undefined) {
    if (v.json) return usageError('a command is needed: list, verify, gc or clean');
    io.stdout.write(CACHE_USAGE);
    return 1;
  }
  const json = v.json ?? false;
  const dryRun = v['dry-run'] ?? false;
  try {
    if (!COMMANDS.has(command))
      throw new InvalidArgumentError(
        'command',
        `unknown cache command ${JSON.stringify(command.slice(0, 40))} (use list, verify, gc or clean)`,
      );
    if (selectors.length > 0 && command !== 'clean')
      throw new InvalidArgumentError('arguments', `${command} takes no references`);
    if (v.all && command !== 'clean') throw new InvalidArgumentError('all', `${command} takes no --all`);
    // Everything only when asked by name: `cache clean $REF` with the variable unset reaches us
    // with no selector at all, and must not empty the store.
    if (command === 'clean' && selectors.length === 0 && !v.all)
      throw new InvalidArgumentError(
        'arguments',
        'clean needs the entries to remove (a reference, digest or task id), or --all to remove every entry',
      );
    if (command === 'clean' && selectors.length > 0 && v.all)
      throw new InvalidArgumentError('all', '--all removes every entry: give it no references');
    const options = await optionsFromFlags(
      { config: v.config, dataDir: v.datadir ?? v.cachedir, logDir: v.logdir },
      io,
      (line) => io.stderr.write(`${line}\n`),
      signal,
    );
    const { StorageManager } = await import('../storage/storage-manager.js');
    const dataPath = path.resolve(options.storage.dataPath);
    if (!existsSync(dataPath)) {
      // Nothing to inspect, and a typo in --datadir must not create (and mark) a new store.
      // Named entries cannot be in a store that does not exist: each is unmatched, as in one that does.
      const unmatched = command === 'clean' ? selectors : [];
      if (json)
        out(JSON.stringify(command === 'list' ? { dataPath, entries: [] } : { dataPath, missing: true, unmatched }));
      else out(`no task store at ${dataPath}`);
      return unmatched.length > 0 ? 1 : 0;
    }
    // No timer: a cache command is one action. The configured gcInterval still protects entries an
    // interrupted pull touched recently.
    const store = await StorageManager.open(options.storage, { gcTimer: false });
    let failed = false;
    try {
      switch (command) {
        case 'list': {
          const entries = await store.list({ signal });
          if (json) out(JSON.stringify({ dataPath: store.options.dataPath, entries }));
          else printList(out, store.options.dataPath, entries);
          break;
        }
        case 'verify': {
          const r = await store.verify({ signal, dryRun });
          if (json) out(JSON.stringify(r));
          else {
            for (const x of r.removed) out(`${dryRun ? 'would remove' : 'removed'} ${x.key}: ${x.reason}`);
            for (const x of r.unreadable)
              out(`${dryRun ? 'would remove' : 'removed'} ${x.key}: unreadable metadata (${x.reason})`);
            for (const k of r.skipped) out(`skipped ${k}: in use`);
            out(
              `verified ${r.checked} entr${r.checked === 1 ? 'y' : 'ies'}: ${r.checked - r.removed.length} ` +
                `ok, ${r.removed.length} ${dryRun ? 'corrupt' : 'removed'}` +
                (r.unreadable.length > 0 ? `, ${r.unreadable.length} unreadable${dryRun ? '' : ' removed'}` : ''),
            );
          }
          break;
        }
        case 'gc': {
          const r = await store.gc({ signal, dryRun });
          if (!dryRun && options.logFile) {
            // The record of a round, also when a pull handed it to this process in the background.
            const { CoreLogger, FileLogSink } = await import('../log/core-log.js');
            const sink = new FileLogSink(options.logFile);
            const { gcRoundLine } = await import('../storage/gc-round.js');
            new CoreLogger(sink, { component: 'GC' }, 'cli/cache.ts').info(gcRoundLine(r));
            await sink.flush();
          }
          if (json) out(JSON.stringify(r));
          else {
            const keys = [...r.invalid, ...r.expired, ...r.evicted];
            for (const k of keys)
              out(`${dryRun ? 'would reclaim' : r.reclaimed.includes(k) ? 'reclaimed' : 'in use, kept'} ${k}`);
            out(
              `gc: scanned ${r.scanned} entries in ${r.costMs} ms; ` +
                (dryRun
                  ? `would reclaim ${keys.length}`
                  : `reclaimed ${r.reclaimed.length}, freed ${formatBytes(r.freedBytes)}`) +
                (r.remaining > 0
                  ? `; ${formatBytes(r.remaining)} still over the limit (entries in use or linked by outputs)`
                  : ''),
            );
          }
          break;
        }
        case 'clean': {
          const r = await store.clean(selectors, { signal, dryRun });
          // A selector that names nothing is a typo (or an id from another store): fail, and say which.
          if (r.unmatched.length > 0) failed = true;
          if (json) out(JSON.stringify(r));
          else {
            for (const k of r.unmatched)
              io.stderr.write(
                `Error: no entry matches ${JSON.stringify(k.slice(0, 100))} in ${store.options.dataPath} ` +
                  `(a task id, a digest, their first 12 hex as 'orasfly cache list' prints them, or a reference)\n`,
              );
            for (const k of r.removed) out(`${dryRun ? 'would remove' : 'removed'} ${k}`);
            for (const k of r.skipped) out(`skipped ${k}: in use`);
            out(
              `${dryRun ? 'would remove' : 'removed'} ${r.removed.length} entr${r.removed.length === 1 ? 'y' : 'ies'}, ` +
                `${formatBytes(r.freedBytes)} ${dryRun ? 'to free' : 'freed'}${r.skipped.length ? `; ${r.skipped.length} in use, kept` : ''}`,
            );
          }
          break;
        }
      }
    } finally {
      await store.close();
    }
    return failed ? 1 : 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof OrasflyError ? e.code : 'ERR_ORASFLY_INTERNAL';
    if (json) out(JSON.stringify({ success: false, error: { message, code, kind: errorKind(e) } }));
    else io.stderr.write(`Error: ${message}\n`);
    return 1;
  }
}

function printList(out: (line: string) => void, dataPath: string, entries: readonly CacheEntryInfo[]): void {
  const total = entries.reduce((a, e) => a + e.size, 0);
  const reclaimable = entries.filter((e) => e.nlink <= 1 || e.state !== 'complete').reduce((a, e) => a + e.size, 0);
  out(
    `There ${entries.length === 1 ? 'is 1 entry' : `are ${entries.length} entries`} using ` +
      `${formatBytes(total)} in ${dataPath} (${formatBytes(reclaimable)} held by the store alone)`,
  );
  if (entries.length === 0) return;
  const rows = entries.map((e) => [
    e.taskId.slice(0, 12),
    (e.digest ?? '-').slice(0, 19),
    formatBytes(e.size),
    new Date(e.lastAccess).toISOString().slice(0, 19).replace('T', ' '),
    String(e.nlink),
    e.inUse ? `${e.state}*` : e.state,
    e.url ?? '-',
  ]);
  const head = ['TASK ID', 'DIGEST', 'SIZE', 'LAST ACCESS', 'LINKS', 'STATE', 'REFERENCE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  if (entries.some((e) => e.inUse)) out('* in use by a running pull');
}
