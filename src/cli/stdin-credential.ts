/**
 * `--username` with `--password-stdin`: the password is read from stdin (never argv, where every
 * user of the machine can read it) and offered to the reference's registry only.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import { raceSignal } from '../internal/abort.js';
import type { CredentialsOption } from '../source/oras/options.js';

/** More than any password or token; a larger stdin is a mistake (a file piped by accident). */
const MAX_SECRET_BYTES = 64 * 1024;

/** How long stdin may stay open without an end before the command says what it waits for. */
export const STDIN_NOTICE_MS = 3000;

/**
 * Reads the secret from `stdin` (one trailing newline dropped, as `docker login --password-stdin`)
 * and returns a credential for `registry` alone: another registry or a redirect target never receives
 * it (the token realm that registry names does, over HTTPS, as bearer auth requires).
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for an empty or oversized stdin, or a terminal.
 */
export async function credentialFromStdin(
  stdin: AsyncIterable<Buffer | string>,
  registry: string,
  username: string | undefined,
  signal?: AbortSignal,
  notice?: (line: string) => void,
): Promise<CredentialsOption> {
  // A terminal would wait, silently, for an end of input, and echo the password as it is typed.
  if ((stdin as { isTTY?: boolean }).isTTY === true)
    throw new InvalidArgumentError(
      'password-stdin',
      'stdin is a terminal; pipe the password in, e.g. printf %s "$PASSWORD" | orasfly … --password-stdin',
    );
  // A pipe that never ends (an ssh session, a CI runner's open stdin) would be a silent wait: the
  // command says what it waits for, and Ctrl-C (the signal) ends the wait at once.
  const waiting = notice
    ? setTimeout(() => notice('waiting for the password on stdin (--password-stdin) to end…'), STDIN_NOTICE_MS)
    : undefined;
  waiting?.unref();
  let chunks: Buffer[];
  try {
    chunks = await raceSignal(readSecret(stdin), signal);
  } finally {
    clearTimeout(waiting);
  }
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '')
    throw new InvalidArgumentError(
      'password-stdin',
      'stdin is empty; pipe the password, e.g. printf %s "$PASSWORD" | orasfly … --password-stdin',
    );
  const credential = username !== undefined ? { username, password: secret } : { identityToken: secret };
  const wanted = registry.toLowerCase();
  return (host) => (host.toLowerCase() === wanted ? credential : undefined);
}

/** Every chunk of `stdin`, up to {@link MAX_SECRET_BYTES}. */
async function readSecret(stdin: AsyncIterable<Buffer | string>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > MAX_SECRET_BYTES)
      throw new InvalidArgumentError(
        'password-stdin',
        `stdin holds more than ${MAX_SECRET_BYTES} bytes; pipe only the password`,
      );
    chunks.push(b);
  }
  return chunks;
}
