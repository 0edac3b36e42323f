// A unix socket file nobody listens on, as a daemon killed -9 leaves it: a child process listens on
// `socketPath` and is killed with SIGKILL, so nothing unlinks the file. Connecting to it is refused.
import { spawn } from 'node:child_process';

export async function makeStaleSocket(socketPath: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the listener exited (${code}) before it listened`)));
  });
  child.kill('SIGKILL');
  await exited;
}
