// Runs the published `orasfly` entry point (dist/cli/orasfly.cjs) as a child process, with HOME and
// XDG_CONFIG_HOME in a test's own directory, and collects its output.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

/** The bundled command, as `npm i -g` would run it. */
export const CLI_BIN = path.join(repoRoot, 'dist', 'cli', 'orasfly.cjs');

/** What a run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `orasfly args…` with `home` as HOME (and `--logdir home/log` unless `--logdir` or `--config`
 * is given). `onStderr` sees stderr so far after each chunk and may
 * send the process one signal (to interrupt it once the download has started).
 */
export function runCli(
  home: string,
  args: string[],
  opts: {
    onStderr?: (text: string, kill: (sig: NodeJS.Signals) => void) => void;
    env?: NodeJS.ProcessEnv;
    stdin?: string;
    /** Run the file as an executable (its shell line first, then the node on PATH), not by `node FILE`. */
    asExecutable?: boolean;
    /** Close the read end of stdout at once, as a reader that stops early (`| head`) does. */
    closeStdout?: boolean;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // The machine's own credential files never leak in: the containers auth paths point into `home` too.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'xdg'),
      XDG_RUNTIME_DIR: path.join(home, 'run'),
      REGISTRY_AUTH_FILE: undefined,
      DOCKER_CONFIG: undefined,
      ...opts.env,
    };
    // A test writes nothing outside its own directories: as root, a run without --logdir would log
    // to /var/log/dragonfly/dfget/core.log. A run whose --config names the log dir keeps it.
    const argv =
      args.includes('--logdir') || args.includes('--config') ? args : [...args, '--logdir', path.join(home, 'log')];
    // As an executable, the node running the tests comes first on PATH.
    if (opts.asExecutable) env['PATH'] = `${path.dirname(process.execPath)}${path.delimiter}${env['PATH'] ?? ''}`;
    const [file, fileArgs] = opts.asExecutable ? [CLI_BIN, argv] : [process.execPath, [CLI_BIN, ...argv]];
    const p = spawn(file, fileArgs, {
      env,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.stdin !== undefined) p.stdin!.end(opts.stdin);
    let stdout = '';
    let stderr = '';
    let killed = false;
    if (opts.closeStdout) p.stdout!.destroy();
    else p.stdout!.on('data', (d: Buffer) => (stdout += d));
    p.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      opts.onStderr?.(stderr, (sig) => {
        if (!killed) p.kill(sig);
        killed = true;
      });
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last stdout line, parsed (`--json` output). */
export function lastJson<T = Record<string, unknown>>(r: CliRun): T {
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}
