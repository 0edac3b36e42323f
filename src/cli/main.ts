/**
 * The `orasfly` command: dfget's flags and output lines, on top of `createDownloader`. Embeddable as
 * `import { runCli } from 'orasfly/cli'`.
 *
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { lstat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseCliArgs, USAGE, type CliArgs } from './args.js';
import { optionsFromFlags } from './config.js';
import { ProgressBar } from './progress-bar.js';
import { ProgressLines } from './progress-lines.js';
import { VERSION } from '../version.js';
import { formatLogTime, StreamLogSink } from '../log/core-log.js';
import { hostIp } from '../core/task-id.js';
import { errorKind, OrasflyError, RegistryResponseError, TaskFailedError } from '../core/errors.js';
import { stripUserinfo } from '../core/describe.js';
import { redact } from '../http/redact.js';
import { requireBuiltin } from '../internal/node-require.js';
import { REUSE_CHANNEL } from './compile-cache.js';
import type { DownloadResult } from '../conductor/download-types.js';
import type { ArtifactDownloadResult } from '../conductor/download-types.js';
import { monotonicMs } from '../internal/clock.js';

/** What both progress displays need. */
interface Progress {
  transferred: number;
  total: number;
  /** A reuse from the store: nothing to draw (the result line says "reused"). */
  reused?: boolean | undefined;
}

/** Streams the command writes to (injectable for tests and embedding). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream | (NodeJS.WritableStream & { isTTY?: boolean });
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where `--password-stdin` reads from. @defaultValue `process.stdin` */
  stdin?: AsyncIterable<Buffer | string> | undefined;
  /**
   * The `orasfly` executable, when this is the command itself: a due GC round is then handed to a
   * detached `orasfly cache gc` so the command exits at once. Unset (embedded): the round runs
   * in-process before `runCli` returns.
   */
  self?: string | undefined;
  /**
   * `false` when the executable kept Node from loading `NODE_EXTRA_CA_CERTS` at start-up
   * (`deferred-extra-ca.ts`): the library then trusts its certificates itself. @defaultValue true
   */
  nodeExtraCaLoaded?: boolean | undefined;
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as { code?: unknown }).code === 'ABORT_ERR');
}

/** The message shown for a failure: never a credential, never unbounded. */
function errorText(e: unknown): string {
  let text: string;
  if (e instanceof OrasflyError) text = e.message;
  else if (isAbort(e)) text = 'download cancelled';
  else text = e instanceof Error ? e.message : String(e);
  // Library messages are scrubbed where server text enters; this catches the usual shapes again.
  text = redact(text);
  return text.length > 2000 ? `${text.slice(0, 2000)}… (cut)` : text;
}

/** The stable code of a failure: the library's `ERR_ORASFLY_*`, or one the CLI assigns (a DOMException's numeric `code` is not one). */
function errorCode(e: unknown): string {
  if (e instanceof OrasflyError) return e.code;
  if (isAbort(e)) return 'ERR_ORASFLY_ABORTED';
  return 'ERR_ORASFLY_INTERNAL';
}

/**
 * The `--json` error object: the message and code, and for a registry's answer its HTTP status,
 * distribution error code and a coarse `kind` scripts can branch on (a 404 and a 500 share a code).
 */
function errorJson(e: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { message: errorText(e), code: errorCode(e), kind: errorKind(e) };
  // A task failure carries the registry's answer as its cause.
  const source = e instanceof TaskFailedError && e.cause instanceof RegistryResponseError ? e.cause : e;
  if (source instanceof RegistryResponseError) {
    out.status = source.status;
    if (source.registryCode) out.registryCode = source.registryCode;
  }
  return out;
}

/**
 * Runs the command with `argv` (without `node` and the script) and returns the exit code:
 * 0 on success, 1 on failure (dfget's codes).
 */
export async function runCli(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
  signal?: AbortSignal,
): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  if (argv[0] === 'cache') {
    const { runCacheCommand } = await import('./cache.js');
    return runCacheCommand(argv.slice(1), io, signal);
  }
  let args: CliArgs;
  try {
    args = parseCliArgs(argv, io.cwd);
  } catch (e) {
    // A script that asked for --json reads stdout: it gets the usage error there too.
    if (argv.includes('--json')) out(JSON.stringify({ success: false, error: errorJson(e) }));
    io.stderr.write(`Error: ${errorText(e)}\n`);
    io.stderr.write(`Run 'orasfly --help' for usage.\n`);
    return 1;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    out(`orasfly version: ${VERSION}`);
    return 0;
  }

  const started = monotonicMs();
  const cost = () => Math.round(monotonicMs() - started);
  // The URL as shown anywhere (stdout, stderr, --json): never with user:password@.
  // No user:password@, no ?token= value: the line is printed and may be logged.
  const shownUrl = redact(stripUserinfo(args.url));
  if (!args.json) {
    out(`--${formatLogTime().slice(0, 19)}--  ${shownUrl}`);
    out(`dfget version: orasfly ${VERSION}`);
    out(`current user: ${currentUser()}, default peer ip: ${hostIp()}`);
    out(`output path: ${args.output}`);
  }

  let result: DownloadResult | ArtifactDownloadResult | undefined;
  let failure: unknown;
  let close: (() => Promise<void>) | undefined;
  let afterPull: (() => Promise<void>) | undefined;
  let bar: ProgressBar | undefined;
  let clustered = false;
  try {
    const options = await optionsFromFlags(args, io, (line) => io.stderr.write(`${line}\n`), signal);
    const { createDownloader } = await import('../downloader.js');
    if (args.insecure !== undefined) options.oras = { ...options.oras, insecureSkipVerify: args.insecure };
    if (args.caFile) options.oras = { ...options.oras, caFile: path.resolve(io.cwd, args.caFile) };
    if (io.nodeExtraCaLoaded === false) options.oras = { ...options.oras, nodeExtraCaLoaded: false };
    if (args.plainHttp !== undefined) options.oras = { ...options.oras, plainHttp: args.plainHttp };
    if (args.tagCacheTtl !== undefined) options.oras = { ...options.oras, tagCacheTtl: args.tagCacheTtl };
    if (args.registryConfig) options.oras = { ...options.oras, registryConfig: args.registryConfig };
    if (args.passwordStdin) {
      const { credentialFromStdin } = await import('./stdin-credential.js');
      const { parseOrasReference } = await import('../source/oras/reference.js');
      const registry = parseOrasReference(args.url).registry;
      options.oras = {
        ...options.oras,
        credentials: await credentialFromStdin(io.stdin ?? process.stdin, registry, args.username, signal, (line) =>
          io.stderr.write(`${line}\n`),
        ),
        credentialsSource: args.username !== undefined ? '--username with --password-stdin' : '--password-stdin',
      };
    }
    if (args.endpoint || args.proxyTransport || args.disableBackToSource) {
      const fromConfig = options.cluster ?? {};
      // A flag naming one transport replaces the other one the config may name.
      options.cluster = {
        ...fromConfig,
        ...(args.endpoint ? { endpoint: args.endpoint, proxy: undefined } : {}),
        ...(args.proxyTransport ? { proxy: args.proxyTransport, endpoint: undefined } : {}),
        ...(args.disableBackToSource ? { backToSource: false } : {}),
      };
    }
    clustered = options.cluster?.endpoint !== undefined || options.cluster?.proxy !== undefined;
    if (args.platform) options.oras = { ...options.oras, platform: args.platform };
    if (args.layerIndex !== undefined)
      options.oras = { ...options.oras, layerIndex: args.layerIndex, layerMediaType: undefined };
    if (args.layerMediaType !== undefined)
      options.oras = { ...options.oras, layerMediaType: args.layerMediaType, layerIndex: undefined };
    if (args.concurrency) options.download = { ...options.download, concurrency: args.concurrency };
    if (args.rateLimit !== undefined) options.download = { ...options.download, totalRateLimit: args.rateLimit };
    if (args.console) options.logSink = new StreamLogSink(io.stderr);
    const dl = await createDownloader({ ...options, gcAfterPull: io.self === undefined });
    close = async () => {
      await dl.close();
      // core.log is where dfget users look (grep "peer task done"): a log that could not be written is said.
      const p = dl.logFileProblem();
      if (p)
        io.stderr.write(
          `warning: ${p.droppedLines} log line${p.droppedLines === 1 ? '' : 's'} not written to ${p.file}: ${redact(p.reason)} (see --logdir)\n`,
        );
    };
    // Waiting for another process's task lock is said at once, not after minutes of silence.
    dl.storage.on('lockWait', (w) => {
      const limit = w.timeoutMs ? `, up to ${Math.round(w.timeoutMs / 1000)} s` : '';
      io.stderr.write(
        `waiting for task ${w.taskId.slice(0, 12)}…: its lock is held by pid ${w.pid} on ` +
          `${w.hostname} since ${new Date(w.since).toISOString()} (taken over if its heartbeat stops for ${Math.round(w.staleMs / 1000)} s${limit})\n`,
      );
    });
    if (!args.json) out('init success and start to download');
    let lines: ProgressLines | undefined;
    // A bar by default on a terminal, as oras and Apptainer draw one; --json (a script reading
    // stdout) and --console (JSON lines on stderr) draw one only with -b.
    const barWanted = args.showProgress || (!args.json && !args.console);
    if (args.noProgress) {
      // Nothing: --no-progress turns off the bar and the lines.
    } else if (barWanted && io.stderr.isTTY) {
      bar = new ProgressBar(io.stderr as NodeJS.WriteStream);
      bar.start();
    } else if (!io.stderr.isTTY && !args.console) {
      // Batch jobs and CI logs get a line every 10 % or 10 s instead of nothing (not among
      // --console's JSON lines on stderr, which a log collector parses).
      lines = new ProgressLines((l) => io.stderr.write(`${l}\n`));
    }
    afterPull = () => handOffGc(dl.storage, io, args, options.logFile);
    // dfget's policy, kept: an existing output is replaced. Said, so that it is not a surprise.
    const before = args.allLayers || /[\\/]$/.test(args.output) ? undefined : await inodeOf(args.output);
    const common = {
      url: args.url,
      tag: args.tag,
      filter: args.filter,
      application: args.application,
      headers: Object.keys(args.headers).length ? args.headers : undefined,
      timeout: args.timeout,
      signal,
      onProgress: bar
        ? (p: Progress) => p.reused || bar!.update(p.transferred, p.total)
        : lines
          ? (p: Progress) => p.reused || lines!.update(p.transferred, p.total)
          : undefined,
    };
    result = args.allLayers
      ? await dl.downloadAll({ ...common, outputDir: args.output })
      : await dl.download({ ...common, output: args.output, digest: args.digest });
    if ('layers' in result ? result.layers.every((l) => l.reused) : result.reused)
      channel(REUSE_CHANNEL).publish({ url: args.url });
    if (before !== undefined && 'output' in result && (await inodeOf(result.output)) !== before)
      io.stderr.write(
        `note: replaced the existing file ${result.output} (an existing output is replaced, as dfget does)\n`,
      );
  } catch (e) {
    failure = e;
  } finally {
    bar?.stop();
  }
  // The result is printed first; closing then waits for a GC round if this pull started one.
  const costMs = cost();
  const code = printResult(out, io, args.json, shownUrl, args.output, result, failure, costMs, clustered);
  await afterPull?.().catch(() => {});
  await close?.().catch(() => {});
  return code;
}

/** The inode of an existing regular file (to tell a replaced file from a re-pull linked to the same entry). */
async function inodeOf(file: string): Promise<number | undefined> {
  const st = await lstat(file).catch(() => undefined);
  return st?.isFile() ? st.ino : undefined;
}

/**
 * A due GC round of this store goes to a detached `orasfly cache gc` with the same config and
 * directories: this process exits now, and only one process per `gcInterval` collects.
 */
async function handOffGc(
  storage: import('../storage/storage-manager.js').StorageManager,
  io: CliIo,
  args: CliArgs,
  logFile: string | undefined,
): Promise<void> {
  if (io.self === undefined || !(await storage.claimGcRound())) return;
  const { spawn } = requireBuiltin<typeof import('node:child_process')>('node:child_process');
  const argv = [io.self, 'cache', 'gc', '--datadir', storage.options.dataPath];
  // core.log is `<logDir>/dfget/core.log`: the round's record goes next to the pull's.
  if (logFile) argv.push('--logdir', path.dirname(path.dirname(logFile)));
  if (args.config) argv.push('--config', path.resolve(io.cwd, args.config));
  const child = spawn(process.execPath, argv, { detached: true, stdio: 'ignore', cwd: io.cwd, env: io.env });
  child.on('error', () => {});
  child.unref();
}

/** dfget's closing lines (or the `--json` object); returns the exit code. */
function printResult(
  out: (line: string) => void,
  io: CliIo,
  json: boolean,
  shownUrl: string,
  output: string,
  result: DownloadResult | ArtifactDownloadResult | undefined,
  failure: unknown,
  costMs: number,
  clustered: boolean,
): number {
  if (json) {
    out(
      JSON.stringify(
        result
          ? { success: true, url: shownUrl, ...result, costMs }
          : { success: false, url: shownUrl, output, costMs, error: errorJson(failure) },
      ),
    );
    return result ? 0 : 1;
  }
  if (result && 'layers' in result) {
    for (const l of result.layers) {
      const how = l.reused ? `, ${l.method === 'link' ? 'hard link' : 'copy'} from the task store, no download` : '';
      out(
        `${l.reused ? 'reused' : 'downloaded'} ${l.digest} to ${path.relative(result.outputDir, l.output)} (${l.contentLength} bytes${how})`,
      );
    }
    for (const s of result.skipped)
      io.stderr.write(`warning: skipped layer ${s.digest} (${s.mediaType}, ${s.size} bytes): ${s.reason}\n`);
    out(`finish total length ${result.contentLength} bytes`);
    out(`download success: true, cost: ${costMs} ms`);
    return 0;
  }
  if (result) {
    // A reuse looks like a download otherwise (and is a thousand times faster): say so.
    if (result.reused)
      out(
        `reused ${result.digest} from the task store (${result.method === 'link' ? 'hard link' : 'copy'}, no download)`,
      );
    const by = Object.entries(result.transferredBy).filter(([, n]) => n > 0);
    // Which part of the cluster served it, when something other than the origin took part.
    if (clustered && !result.reused && !result.joined) {
      const fellBack = !by.some(([k]) => k !== 'source');
      out(
        `served by ${by.map(([k, n]) => `${k === 'source' ? 'origin' : k}: ${n} bytes`).join(', ')}` +
          (fellBack ? ' (the cluster could not serve it; core.log says why)' : ''),
      );
    }
    out(`finish total length ${result.contentLength} bytes`);
    out(`download success: true, cost: ${costMs} ms`);
    return 0;
  }
  out(`download success: false, cost: ${costMs} ms error: ${errorText(failure)}`);
  io.stderr.write(`Error: download url ${shownUrl}: ${errorText(failure)}\n`);
  return 1;
}
