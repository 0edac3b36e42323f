#!/usr/bin/env node
// The `orasfly` executable. Kept tiny: everything a reuse does not need is loaded lazily.
import { fileURLToPath } from 'node:url';
import { runCli } from './main.js';

const controller = new AbortController();
// First Ctrl-C cancels the download cleanly (temp data removed); a second one exits at once.
process.once('SIGINT', () => {
  controller.abort(new DOMException('interrupted', 'AbortError'));
  process.once('SIGINT', () => process.exit(130));
});
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), self: fileURLToPath(import.meta.url) }, controller.signal);
