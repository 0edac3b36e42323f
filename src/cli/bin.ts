#!/usr/bin/env node
// The `orasfly` executable. Kept tiny: everything a reuse does not need is loaded lazily.
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with a WebAssembly build of llhttp. V8 optimises hot WebAssembly functions
// on a background thread, and Node waits for those jobs before the process can end: ~150 ms after
// the last byte, on every run. This process is short-lived; the baseline compiler is plenty.
// Set before undici loads (the modules below import it lazily); this flag is process-wide, which
// is why only the command sets it, never the library.
setFlagsFromString('--liftoff-only');

const { runCli } = await import('./main.js');
const controller = new AbortController();
// First Ctrl-C cancels the download cleanly (temp data removed); a second one exits at once.
process.once('SIGINT', () => {
  controller.abort(new DOMException('interrupted', 'AbortError'));
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await runCli(process.argv.slice(2), undefined, controller.signal);
