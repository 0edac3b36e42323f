#!/usr/bin/env node
// The `orasfly` executable. Kept tiny: everything a reuse does not need is loaded lazily.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { UNDICI_LOAD_CHANNEL } from '../http/lazy-undici.js';
import { restoreDeferredExtraCa, unreadableExtraCaWarning } from './deferred-extra-ca.js';
import { runCli } from './main.js';

// First, before the command reads the environment: the executable's shell line may have kept
// NODE_EXTRA_CA_CERTS from Node's start-up (deferred-extra-ca.ts); it is the user's again from here.
const extraCaDeferred = restoreDeferredExtraCa(process.env);
// Node would have warned at start-up about a file it cannot read; so does the command.
const extraCaWarning = extraCaDeferred ? unreadableExtraCaWarning(process.env) : undefined;
if (extraCaWarning) process.stderr.write(`${extraCaWarning}\n`);

// The process is ours, so its one start-up trick lives here, never in the library: undici parses
// HTTP with a WebAssembly build of llhttp, V8 re-optimises hot WebAssembly on a background thread,
// and Node waits for those jobs before the process can end — ~150 ms after the last byte of a
// short command. A high tiering budget keeps the parser on the baseline tier, which is plenty for a
// command. It is set when the library says undici is about to load (a reuse answered by the store
// or by a direct request never loads it, nor `node:v8`). A budget set on the command line wins.
if (!process.execArgv.some((a) => a.replaceAll('_', '-').includes('wasm-tiering-budget'))) {
  const tune = (): void => {
    unsubscribe(UNDICI_LOAD_CHANNEL, tune);
    const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
    v8.setFlagsFromString('--wasm-tiering-budget=2000000000');
  };
  subscribe(UNDICI_LOAD_CHANNEL, tune);
}

// A reader that stops early (`orasfly … | head -3`) closes the pipe: the pull goes on and ends
// cleanly with its lines unwritten, instead of dying on the unhandled EPIPE with its lock held.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });

const controller = new AbortController();
// The first SIGINT/SIGTERM/SIGHUP (an ssh session gone) cancels the pull cleanly (temp data removed,
// the store consistent); the command then exits with the shell's code for that signal, 130, 143 or
// 129, as curl and dfget users expect. A second one exits at once.
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
let signalled: keyof typeof SIGNAL_EXIT | undefined;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    signalled ??= sig;
    controller.abort(new DOMException(`interrupted by ${sig}`, 'AbortError'));
    process.once(sig, () => process.exit(SIGNAL_EXIT[sig]));
  });
}
// No top-level await: the command also ships as one CommonJS file (see scripts/bundle-cli.mjs).
void runCli(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    self: fileURLToPath(import.meta.url),
    nodeExtraCaLoaded: !extraCaDeferred,
  },
  controller.signal,
).then((code) => {
  process.exitCode = signalled ? SIGNAL_EXIT[signalled] : code;
});
