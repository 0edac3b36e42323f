// An in-process CliIo for unit tests of the command: captured stdout and stderr, a private env and cwd.
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../../src/cli/main.js';

export function captureIo(home: string): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const io: CliIo = {
    stdout,
    stderr,
    env: { HOME: home, XDG_CONFIG_HOME: `${home}/xdg`, XDG_DATA_HOME: `${home}/data`, XDG_STATE_HOME: `${home}/state` },
    cwd: home,
  };
  return { io, out: () => out, err: () => err };
}
