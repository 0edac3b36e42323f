/**
 * What is wrong with a daemon socket that gRPC could not reach, said for a person: gRPC's own text
 * ("No connection established. Last error: … Resolution note: ;") names neither the daemon nor what
 * to do. One plain `connect()` to the socket tells a stale socket (the daemon died and left its file:
 * `ECONNREFUSED`) from one this user may not open (`EACCES`) and from one that is gone.
 *
 * @module
 */
import net from 'node:net';

/** What to do when the daemon is not there, said once for every message below. */
const START_IT = 'start dfdaemon, or give the socket it listens on (download.server.socketPath in dfdaemon.yaml)';

/** A message for a connect error code of the daemon socket, or undefined when the code says nothing useful. */
export function socketProblem(socketPath: string, code: string | undefined): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return `the Dragonfly daemon at ${socketPath} is not running (connection refused): ${START_IT}`;
    case 'ENOENT':
      return `the Dragonfly daemon at ${socketPath} is not running (no socket there): ${START_IT}`;
    case 'EACCES':
    case 'EPERM':
      return (
        `the Dragonfly daemon at ${socketPath} cannot be reached by this user (permission denied): ` +
        `run as a user who may write to the socket, or use the daemon's HTTP proxy`
      );
    default:
      return undefined;
  }
}

/**
 * Connects to `socketPath` once and says what is wrong, or undefined if the connection was made (the
 * trouble is elsewhere) or failed in a way the message would not explain better. Never rejects.
 */
export function probeSocket(socketPath: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (msg: string | undefined): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(msg);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.once('connect', () => done(undefined));
    s.once('error', (e: NodeJS.ErrnoException) => done(socketProblem(socketPath, e.code)));
  });
}
